//! Deterministic synthetic metric history, written as OpenMetrics text for
//! `promtool tsdb create-blocks-from openmetrics` (see [`super::prometheus::backfill`]).
//!
//! A [`History`] has a start time, a duration and a scrape interval; it holds [`Counter`]s,
//! classic [`Histogram`]s and [`Gauge`]s, each driven by functions of time (Unix seconds):
//!
//! ```ignore
//! let h = History::new(unix(2026, 11, 1, 0, 0, 0), 4 * DAY)
//!     .counter(
//!         Counter::new("http_requests_total")
//!             .label("job", "api")
//!             .label("code", "500")
//!             .rate(|t| if (1000..2200).contains(&t) { 2.0 } else { 0.01 })
//!             .reset_at(5000)
//!             .gap(7000, 7600),
//!     )
//!     .histogram(
//!         Histogram::new("http_request_duration_seconds")
//!             .label("job", "api")
//!             .bounds(&["0.1", "0.25", "0.5", "1"])
//!             .rate(|_| 40.0)
//!             .latency(|_| LogLogistic::from_median_p99(0.04, 0.12)),
//!     );
//! let stats = h.write_openmetrics(&path);
//! ```
//!
//! Semantics:
//! - Samples are taken at `start + k * interval` for every `k` with the time before
//!   `start + duration`; all series are interleaved by time in the output.
//! - The sample at time `t` adds the events of the scrape interval `(t - interval, t]`: the rate
//!   function is evaluated at the interval's midpoint, multiplied by the interval and by a
//!   seeded random factor in `[1 - jitter, 1 + jitter]`; counters only ever grow by whole
//!   events (the fractional rest carries over to the next interval), so a rate of 0 leaves a
//!   counter flat and a rate of 1/60 adds one event about every other scrape.
//! - `reset_at(x)`: at the first sample at or after `x` the counter restarts from 0 (it then
//!   holds only that interval's events), like a process restart.
//! - `gap(a, b)`: no samples for `a <= t < b` (failed scrapes); counting goes on underneath.
//! - `starts_at(x)`: no samples, and no counting, before `x`.
//! - `absent_until_first_increment()`: the series appears only once its value is above 0
//!   (client libraries that create a labelled counter at its first increment).
//! - Gauges: the sample at time `t` is the value function at `t` (`gap` and `starts_at` as
//!   for counters; no jitter, no resets).
//! - Histograms: `_bucket` series for the given `le` bounds, spelled exactly as given, plus
//!   `le="+Inf"`, `_count` and `_sum`. Cumulative bucket counts are whole numbers, monotone in
//!   `le` and over time (except at resets), and the `+Inf` bucket equals `_count`.
//!
//! Everything is deterministic: the random factors come from a small xorshift generator
//! seeded from the history's seed and the series' position.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;

/// Unix seconds of a UTC date and time.
pub fn unix(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(hour, minute, second))
        .unwrap_or_else(|| panic!("bad date {year}-{month}-{day} {hour}:{minute}:{second}"))
        .and_utc()
        .timestamp()
}

/// RFC 3339 (UTC, `Z`) spelling of Unix seconds.
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .expect("time in range")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The inverse of [`rfc3339`]: `2026-12-01T10:00:17Z` as Unix seconds. Replays of whole-
/// second instants print whole seconds; anything else is a mistake of the test.
pub fn unix_of(text: &str) -> i64 {
    let t = chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"));
    assert_eq!(t.timestamp_subsec_nanos(), 0, "{text}");
    t.timestamp()
}

/// A tiny seeded PRNG (xorshift64*, seeded through splitmix64). Not for cryptography.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so that nearby seeds give unrelated streams; never 0.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Log-logistic latency distribution: closed-form CDF `1 / (1 + (x/median)^-shape)`,
/// heavy right tail, handy to place a median and a tail quantile exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogLogistic {
    pub median: f64,
    pub shape: f64,
}

impl LogLogistic {
    /// The distribution with this median whose quantile `q` is `value` (`value > median`).
    pub fn from_median_quantile(median: f64, q: f64, value: f64) -> LogLogistic {
        assert!(median > 0.0 && value > median && q > 0.5 && q < 1.0);
        LogLogistic {
            median,
            shape: (q / (1.0 - q)).ln() / (value / median).ln(),
        }
    }

    /// The distribution with this median and this 99th percentile.
    pub fn from_median_p99(median: f64, p99: f64) -> LogLogistic {
        Self::from_median_quantile(median, 0.99, p99)
    }

    /// Share of observations `<= x`.
    pub fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else if x.is_infinite() {
            1.0
        } else {
            1.0 / (1.0 + (x / self.median).powf(-self.shape))
        }
    }

    pub fn quantile(&self, q: f64) -> f64 {
        self.median * (q / (1.0 - q)).powf(1.0 / self.shape)
    }

    /// Mean (finite for shape > 1).
    pub fn mean(&self) -> f64 {
        let b = std::f64::consts::PI / self.shape;
        if self.shape > 1.0 {
            self.median * b / b.sin()
        } else {
            self.median * 10.0
        }
    }
}

type TimeFn<T> = Box<dyn Fn(i64) -> T>;

/// Options shared by counters and histograms.
struct Life {
    starts_at: Option<i64>,
    resets: Vec<i64>,
    gaps: Vec<(i64, i64)>,
    absent_until_first_increment: bool,
    jitter: f64,
}

impl Default for Life {
    fn default() -> Life {
        Life {
            starts_at: None,
            resets: Vec::new(),
            gaps: Vec::new(),
            absent_until_first_increment: false,
            jitter: 0.2,
        }
    }
}

macro_rules! life_builders {
    () => {
        /// Add a label (in the order given; `le` is added by the histogram itself).
        pub fn label(mut self, name: &str, value: &str) -> Self {
            self.labels.push((name.to_string(), value.to_string()));
            self
        }

        /// Events per second as a function of Unix time (default: 0).
        pub fn rate(mut self, f: impl Fn(i64) -> f64 + 'static) -> Self {
            self.rate = Box::new(f);
            self
        }

        /// Relative random noise on each interval's events, in `[0, 1)` (default 0.2).
        pub fn jitter(mut self, j: f64) -> Self {
            assert!((0.0..1.0).contains(&j));
            self.life.jitter = j;
            self
        }

        /// Restart from 0 at the first sample at or after `t` (process restart).
        pub fn reset_at(mut self, t: i64) -> Self {
            self.life.resets.push(t);
            self
        }

        /// No samples for `from <= t < to`; counting continues underneath.
        pub fn gap(mut self, from: i64, to: i64) -> Self {
            assert!(from < to);
            self.life.gaps.push((from, to));
            self
        }

        /// The series does not exist (no samples, no counting) before `t`.
        pub fn starts_at(mut self, t: i64) -> Self {
            self.life.starts_at = Some(t);
            self
        }

        /// The series appears only once its value is above 0.
        pub fn absent_until_first_increment(mut self) -> Self {
            self.life.absent_until_first_increment = true;
            self
        }
    };
}

/// A monotonic counter.
pub struct Counter {
    name: String,
    labels: Vec<(String, String)>,
    rate: TimeFn<f64>,
    initial: u64,
    life: Life,
}

impl Counter {
    pub fn new(name: &str) -> Counter {
        Counter {
            name: name.to_string(),
            labels: Vec::new(),
            rate: Box::new(|_| 0.0),
            initial: 0,
            life: Life::default(),
        }
    }

    life_builders!();

    /// Value of the first sample's counter before that interval's events (default 0):
    /// a process that has been up for a while before the history starts.
    pub fn initial(mut self, value: u64) -> Self {
        self.initial = value;
        self
    }
}

/// A classic (bucketed) histogram.
pub struct Histogram {
    name: String,
    labels: Vec<(String, String)>,
    bounds: Vec<String>,
    rate: TimeFn<f64>,
    latency: TimeFn<LogLogistic>,
    life: Life,
}

impl Histogram {
    pub fn new(name: &str) -> Histogram {
        Histogram {
            name: name.to_string(),
            labels: Vec::new(),
            bounds: Vec::new(),
            rate: Box::new(|_| 0.0),
            latency: Box::new(|_| LogLogistic::from_median_p99(0.05, 0.2)),
            life: Life::default(),
        }
    }

    life_builders!();

    /// Finite bucket bounds, ascending, spelled as they must appear in `le` (`"1"` and `"1.0"`
    /// are different series to Prometheus). `le="+Inf"` is always added.
    pub fn bounds(mut self, bounds: &[&str]) -> Self {
        let values: Vec<f64> = bounds
            .iter()
            .map(|b| {
                b.parse::<f64>()
                    .unwrap_or_else(|_| panic!("bad bucket bound {b:?}"))
            })
            .collect();
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "bounds must ascend: {bounds:?}"
        );
        self.bounds = bounds.iter().map(|b| b.to_string()).collect();
        self
    }

    /// The latency distribution of observations as a function of Unix time.
    pub fn latency(mut self, f: impl Fn(i64) -> LogLogistic + 'static) -> Self {
        self.latency = Box::new(f);
        self
    }
}

/// A gauge: its value at each scrape (a probe's `probe_success`, 1 or 0).
pub struct Gauge {
    name: String,
    labels: Vec<(String, String)>,
    value: TimeFn<f64>,
    life: Life,
}

impl Gauge {
    pub fn new(name: &str) -> Gauge {
        Gauge {
            name: name.to_string(),
            labels: Vec::new(),
            value: Box::new(|_| 0.0),
            life: Life::default(),
        }
    }

    /// Add a label (in the order given).
    pub fn label(mut self, name: &str, value: &str) -> Self {
        self.labels.push((name.to_string(), value.to_string()));
        self
    }

    /// The value of the sample at each Unix time.
    pub fn value(mut self, f: impl Fn(i64) -> f64 + 'static) -> Self {
        self.value = Box::new(f);
        self
    }

    /// No samples for `from <= t < to`.
    pub fn gap(mut self, from: i64, to: i64) -> Self {
        assert!(from < to);
        self.life.gaps.push((from, to));
        self
    }
}

enum Series {
    Counter(Counter),
    Histogram(Histogram),
    Gauge(Gauge),
}

impl Series {
    fn life(&self) -> &Life {
        match self {
            Series::Counter(c) => &c.life,
            Series::Histogram(h) => &h.life,
            Series::Gauge(g) => &g.life,
        }
    }
}

/// Mutable generation state of one series.
struct State {
    rng: Rng,
    started: bool,
    next_reset: usize,
    /// Fractional events not yet emitted.
    carry: f64,
    /// Whole events (`_count`, or the counter's value).
    count: u64,
    /// Expected cumulative count per finite bucket bound (floats; emitted floored).
    expected_le: Vec<f64>,
    sum: f64,
    visible: bool,
}

/// Sizes of a written history.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteStats {
    pub series: usize,
    pub samples: usize,
    pub bytes: u64,
}

/// A synthetic history: a time range, a scrape interval and the series in it.
pub struct History {
    start: i64,
    duration: i64,
    interval: i64,
    seed: u64,
    series: Vec<Series>,
}

impl History {
    /// `duration` seconds from `start` (Unix seconds), scraped every 30 s.
    pub fn new(start: i64, duration: i64) -> History {
        assert!(duration > 0);
        History {
            start,
            duration,
            interval: 30,
            seed: 1,
            series: Vec::new(),
        }
    }

    pub fn interval(mut self, seconds: i64) -> Self {
        assert!(seconds > 0);
        self.interval = seconds;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn counter(mut self, c: Counter) -> Self {
        self.series.push(Series::Counter(c));
        self
    }

    pub fn histogram(mut self, h: Histogram) -> Self {
        self.series.push(Series::Histogram(h));
        self
    }

    pub fn gauge(mut self, g: Gauge) -> Self {
        self.series.push(Series::Gauge(g));
        self
    }

    pub fn start(&self) -> i64 {
        self.start
    }

    /// The first time after the history (exclusive end).
    pub fn end(&self) -> i64 {
        self.start + self.duration
    }

    pub fn scrape_interval(&self) -> i64 {
        self.interval
    }

    /// Write the whole history as OpenMetrics text (interleaved by time, ending in `# EOF`).
    pub fn write_openmetrics(&self, path: &Path) -> WriteStats {
        let file =
            File::create(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut states: Vec<State> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| State {
                rng: Rng::new(self.seed.wrapping_mul(1_000_003).wrapping_add(i as u64)),
                started: false,
                next_reset: 0,
                carry: 0.0,
                count: match s {
                    Series::Counter(c) => c.initial,
                    Series::Histogram(_) | Series::Gauge(_) => 0,
                },
                expected_le: match s {
                    Series::Counter(_) | Series::Gauge(_) => Vec::new(),
                    Series::Histogram(h) => vec![0.0; h.bounds.len()],
                },
                sum: 0.0,
                visible: false,
            })
            .collect();
        // Sorted reset times per series.
        let resets: Vec<Vec<i64>> = self
            .series
            .iter()
            .map(|s| {
                let mut r = s.life().resets.clone();
                r.sort();
                r
            })
            .collect();
        // Label prefixes, formatted once.
        let prefixes: Vec<String> = self
            .series
            .iter()
            .map(|s| match s {
                Series::Counter(c) => format!("{}{}", c.name, braced(&fmt_labels(&c.labels))),
                Series::Gauge(g) => format!("{}{}", g.name, braced(&fmt_labels(&g.labels))),
                Series::Histogram(h) => fmt_labels(&h.labels),
            })
            .collect();

        let bound_values: Vec<Vec<f64>> = self
            .series
            .iter()
            .map(|s| match s {
                Series::Counter(_) | Series::Gauge(_) => Vec::new(),
                Series::Histogram(h) => {
                    h.bounds.iter().map(|b| b.parse::<f64>().unwrap()).collect()
                }
            })
            .collect();

        let mut stats = WriteStats {
            series: 0,
            samples: 0,
            bytes: 0,
        };
        let mut line = String::with_capacity(256);
        let mut t = self.start;
        while t < self.end() {
            let mid = t - self.interval / 2;
            for (i, series) in self.series.iter().enumerate() {
                let life = series.life();
                let st = &mut states[i];
                if let Some(s) = life.starts_at
                    && t < s
                {
                    continue;
                }
                if let Series::Gauge(g) = series {
                    if life.gaps.iter().any(|&(a, b)| a <= t && t < b) {
                        continue;
                    }
                    line.clear();
                    writeln!(line, "{} {} {}", prefixes[i], (g.value)(t), t).unwrap();
                    stats.samples += 1;
                    out.write_all(line.as_bytes()).unwrap();
                    stats.bytes += line.len() as u64;
                    continue;
                }
                let first = !st.started;
                st.started = true;
                // Resets due at or before t.
                while st.next_reset < resets[i].len() && resets[i][st.next_reset] <= t {
                    st.next_reset += 1;
                    if !first {
                        st.count = 0;
                        st.carry = 0.0;
                        st.sum = 0.0;
                        st.expected_le.iter_mut().for_each(|e| *e = 0.0);
                    }
                }
                // Events in (t - interval, t].
                let rate = match series {
                    Series::Counter(c) => (c.rate)(mid),
                    Series::Histogram(h) => (h.rate)(mid),
                    Series::Gauge(_) => unreachable!("gauges are written above"),
                };
                assert!(
                    rate >= 0.0 && rate.is_finite(),
                    "rate must be finite and >= 0, got {rate} at {t}"
                );
                let noise = 1.0 + life.jitter * (2.0 * st.rng.next_f64() - 1.0);
                st.carry += rate * self.interval as f64 * noise;
                let n = st.carry.floor();
                st.carry -= n;
                let n = n as u64;
                st.count += n;
                if let Series::Histogram(h) = series {
                    let dist = (h.latency)(mid);
                    for (j, b) in bound_values[i].iter().enumerate() {
                        st.expected_le[j] += n as f64 * dist.cdf(*b);
                    }
                    st.sum += n as f64 * dist.mean();
                }
                if life.absent_until_first_increment && !st.visible && st.count == 0 {
                    continue;
                }
                st.visible = true;
                if life.gaps.iter().any(|&(a, b)| a <= t && t < b) {
                    continue;
                }
                line.clear();
                match series {
                    Series::Gauge(_) => unreachable!("gauges are written above"),
                    Series::Counter(_) => {
                        writeln!(line, "{} {} {}", prefixes[i], st.count, t).unwrap();
                        stats.samples += 1;
                    }
                    Series::Histogram(h) => {
                        let sep = if prefixes[i].is_empty() { "" } else { "," };
                        let mut below = 0;
                        for (j, b) in h.bounds.iter().enumerate() {
                            let c = (st.expected_le[j].floor() as u64).min(st.count);
                            assert!(
                                c >= below,
                                "{}: bucket counts must not decrease with le",
                                h.name
                            );
                            below = c;
                            writeln!(
                                line,
                                "{}_bucket{{{}{sep}le=\"{b}\"}} {c} {t}",
                                h.name, prefixes[i]
                            )
                            .unwrap();
                        }
                        writeln!(
                            line,
                            "{}_bucket{{{}{sep}le=\"+Inf\"}} {} {t}",
                            h.name, prefixes[i], st.count
                        )
                        .unwrap();
                        writeln!(
                            line,
                            "{}_count{} {} {t}",
                            h.name,
                            braced(&prefixes[i]),
                            st.count
                        )
                        .unwrap();
                        writeln!(
                            line,
                            "{}_sum{} {:.6} {t}",
                            h.name,
                            braced(&prefixes[i]),
                            st.sum
                        )
                        .unwrap();
                        stats.samples += h.bounds.len() + 3;
                    }
                }
                out.write_all(line.as_bytes()).unwrap();
                stats.bytes += line.len() as u64;
            }
            t += self.interval;
        }
        out.write_all(b"# EOF\n").unwrap();
        stats.bytes += 6;
        out.flush().unwrap();
        stats.series = self
            .series
            .iter()
            .map(|s| match s {
                Series::Counter(_) | Series::Gauge(_) => 1,
                Series::Histogram(h) => h.bounds.len() + 3,
            })
            .sum();
        stats
    }
}

fn fmt_labels(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}=\"{}\"",
                v.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn braced(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}
