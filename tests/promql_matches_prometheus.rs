// burnrate's own PromQL evaluator (src/promql/) answers what a real Prometheus 2.42 answers.
//
// Differential test over backfilled history. One OpenMetrics file holds
//   - the demo history (demo/map-update-history.om.gz: 3 days of Go map updates, 30 s
//     scrapes: go_map_update_total, go_map_update_failure_total, go_map_update_duration_seconds_*),
//   - curated synthetic `pq_*` series over its last 8 hours (15 s and 30 s scrapes, on the grid,
//     off it and jittered at millisecond resolution; counter resets, a 10-minute scrape gap,
//     a series that stops (stale), one that starts late, a NaN sample, a histogram whose
//     `le="0.1"` is spelled `le="0.10"` after a restart, a changing info metric), and
//   - series for every metric name the shipped and fixture specs' SLI queries read (derived
//     from their selectors, so each selector matches something and its negative matchers have
//     something to exclude), with the same kind of timing edge cases.
// promtool backfills it, a private Prometheus serves it on loopback (tests/common/prometheus.rs),
// and the evaluator's `MemStorage` holds exactly the samples Prometheus stored (read back
// through the API, so millisecond truncation of fractional OpenMetrics timestamps cannot
// make the two sides see different data).
//
// Compared, instant queries (`/api/v1/query` vs `eval_instant`, Flavor::Prometheus2):
//   1. the SLI queries of every shipped (slo-specs/) and fixture (tests/fixtures/**) spec,
//      Sloth and OpenSLO imports included (plus the upstream examples in ../shared when that
//      directory exists), loaded with `spec::load_paths` as `validate`/`check` load them:
//      for each SLO dimension exactly the or-joined, label_replace-tagged query `check`
//      sends (`measure::query::dimension_query`), the batched form joining up to 5 of them
//      (`tagged_dimension_query`), and each raw `bad_query` / `total_query` with
//      `{{.window}}` replaced by each measured window;
//   2. ANCHORS: hand-written expressions, at least one per construct of the subset;
//   3. GENERATED_EXPRESSIONS expressions from a grammar over the subset (PRODUCT.md, "Raw
//      PromQL SLIs"): a deterministic generator driven by proptest's TestRunner/TestRng
//      (ChaCha, fixed SEED), over the metric, label and value names of the history, with
//      matching modifiers that are valid most of the time;
// 1 and 2 at every instant of `instants()` (on the scrape grid, 1-29 s and a few ms off it,
// before the first sample, in the first window, around a reset, in the gap, at the lookback
// edge of the stale series, just after the NaN sample, after the end), 3 at
// INSTANTS_PER_GENERATED of them; and range queries (`/api/v1/query_range` vs `eval_range`)
// for a part of all three over three step grids (97 s steps off the grid, 15 s on it across
// a reset, 7.5 s over the demo's first minutes). Range queries with `topk`/`bottomk` are
// left out: Prometheus 2.42 breaks their ties at random there (see `range_comparable`).
//
// Agreement: the same result type; the same set of label sets (order ignored: nothing in the
// subset is sort-sensitive); every value equal within TOLERANCE (1e-9 relative plus
// 1e-12 absolute, see `same_value`); NaN equals NaN, infinities must be equal;
// matrix timestamps exactly equal. When Prometheus answers with an error status (400 bad
// data, 422 execution error) the local side must fail too (parse or evaluation error), and
// vice versa. A query the evaluator rejects as `unsupported` is a failure when it is inside
// the subset (`in_subset`), unless it is listed in KNOWN_GAPS (a temporary list, printed);
// outside the subset (subqueries in upstream examples, `absent_over_time`) the rejection is
// right and only counted. Each mismatch of a generated expression is shrunk to its smallest
// sub-expression that also disagrees at that instant. The test also fails when a construct of
// the subset never had an agreeing non-empty comparison (`constructs`), and checks first that
// the harness sees a difference where there is one (`harness_self_check`).
//
// Run: cargo test --test promql_matches_prometheus -- --nocapture   (about a minute)
// Knobs, for exploring and debugging (CI sets none):
//   PROMQL_DIFF_SEED=N             another generator seed;
//   PROMQL_DIFF_CASES=N            generated expressions (default GENERATED_EXPRESSIONS);
//   PROMQL_DIFF_RANGE_CASES=N      of them also as range queries (GENERATED_RANGE_EXPRESSIONS);
//   PROMQL_DIFF_FINDINGS=PATH      append the disagreements, as markdown, to PATH;
//   PROMQL_DIFF_PROM_ONLY=1        query Prometheus only (prints each generated expression
//                                  with its non-empty/error/total answer counts);
//   PROMQL_DIFF_SHOW=EXPR          print both answers to EXPR at every instant, compare nothing;
//     with PROMQL_DIFF_SHOW_RANGE=START,END,STEP (Unix ms): the range query, step by step;
//   PROMQL_DIFF_WRONG_FLAVOR=1     evaluate locally with Prometheus 3 semantics: must fail.

mod common;

use burnrate::measure::query::{dimension_query, tagged_dimension_query};
use burnrate::promql::{
    self, Flavor, Labels, MemStorage, Query, QueryError, SeriesSamples, Steps, Value,
};
use burnrate::spec::{ErrorEvents, ServiceSpec, WINDOW_PLACEHOLDER, load_paths};
use common::history::{LogLogistic, Rng};
use common::prometheus::{self as promfix, Prometheus, parse_prom_float};
use common::{REL_1E9_ABS_1E12, Tol, close};
use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;
use proptest::prelude::RngCore;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Tolerance, sizes, seed
// ---------------------------------------------------------------------------------------

/// The tolerance between a local value and Prometheus's: relative 1e-9, plus an absolute
/// 1e-12: around zero a relative bound means
/// nothing (a rate that cancels to 1e-17 on one side and to 0 on the other). Far below any
/// SLI value (ratios, events per second, seconds) that matters.
const TOLERANCE: Tol = REL_1E9_ABS_1E12;

/// Generated expressions (distinct texts), each compared at INSTANTS_PER_GENERATED instants.
const GENERATED_EXPRESSIONS: usize = 500;
const INSTANTS_PER_GENERATED: usize = 10;
/// Generated expressions that are also compared as range queries.
const GENERATED_RANGE_EXPRESSIONS: usize = 40;
/// Spec queries that are also compared as range queries.
const SPEC_RANGE_QUERIES: usize = 8;
/// The generator's fixed seed (proptest's ChaCha TestRng): CI runs are reproducible.
const SEED: [u8; 32] = *b"burnrate-promql-differential-001";
/// Prometheus queries run on this many threads while the local side waits.
const PROMETHEUS_THREADS: usize = 3;
/// Mismatches shown in the failure message.
const SHOWN_MISMATCHES: usize = 25;

/// Expression kinds inside the subset that the evaluator does not implement yet: substrings
/// of its `unsupported` error messages. TEMPORARY: the test passes over these (printing
/// them) and must end up with this list empty.
const KNOWN_GAPS: &[&str] = &[];

// ---------------------------------------------------------------------------------------
// Time layout of the history
// ---------------------------------------------------------------------------------------

const SECOND_MS: i64 = 1000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The demo history: 2026-11-16T00:00:00Z, 3 days, every 30 s.
const DEMO_START_MS: i64 = 1_794_787_200_000;
const DEMO_LAST_MS: i64 = 1_795_046_370_000;
/// The synthetic series: the demo's last 8 hours.
const SYN_START_MS: i64 = DEMO_START_MS + 2 * DAY_MS + 16 * HOUR_MS;
const SYN_END_MS: i64 = SYN_START_MS + 8 * HOUR_MS;
/// Counter resets (process restarts).
const RESET_MS: i64 = SYN_START_MS + 3 * HOUR_MS;
const RESET2_MS: i64 = SYN_START_MS + 5 * HOUR_MS + 30 * MINUTE_MS;
/// `le="0.1"` becomes `le="0.10"` (and `"1"` becomes `"1.0"`) on instance b.
const LE_SWITCH_MS: i64 = SYN_START_MS + 4 * HOUR_MS;
/// Failed scrapes: no samples in `[GAP_FROM_MS, GAP_TO_MS)`.
const GAP_FROM_MS: i64 = SYN_START_MS + 5 * HOUR_MS;
const GAP_TO_MS: i64 = GAP_FROM_MS + 10 * MINUTE_MS;
/// Stale series stop here; late series start here.
const STOP_MS: i64 = SYN_START_MS + 6 * HOUR_MS;
const LATE_START_MS: i64 = SYN_START_MS + HOUR_MS;

/// Evaluation instants (Unix ms), named.
fn instants() -> Vec<(&'static str, i64)> {
    vec![
        ("before-first-sample", DEMO_START_MS - 10 * MINUTE_MS),
        ("demo-first-window", DEMO_START_MS + 45 * SECOND_MS + 500),
        ("demo-day1-off-grid-11.25s", DEMO_START_MS + DAY_MS + 11_250),
        ("syn-first-window", SYN_START_MS + 20 * SECOND_MS),
        ("syn-2m13.5s", SYN_START_MS + 2 * MINUTE_MS + 13_500),
        ("on-grid-1h", SYN_START_MS + HOUR_MS),
        ("late-start+45s", LATE_START_MS + 45 * SECOND_MS),
        ("off-grid-2h+7.5s", SYN_START_MS + 2 * HOUR_MS + 7_500),
        ("reset+29s", RESET_MS + 29 * SECOND_MS),
        ("reset+61.001s", RESET_MS + 61_001),
        ("le-switch+2m", LE_SWITCH_MS + 2 * MINUTE_MS),
        ("in-gap+3m", GAP_FROM_MS + 3 * MINUTE_MS),
        ("in-gap+8m", GAP_FROM_MS + 8 * MINUTE_MS + 17),
        ("after-gap+40s", GAP_TO_MS + 40 * SECOND_MS),
        ("stop+4m50s", STOP_MS + 4 * MINUTE_MS + 50 * SECOND_MS),
        ("stop+6m", STOP_MS + 6 * MINUTE_MS),
        ("on-grid-6h30m", SYN_START_MS + 6 * HOUR_MS + 30 * MINUTE_MS),
        ("off-grid-7h+1s", SYN_START_MS + 7 * HOUR_MS + SECOND_MS),
        ("just-after-end", SYN_END_MS + SECOND_MS),
        ("end+4m", SYN_END_MS + 4 * MINUTE_MS),
        ("long-after-end", SYN_END_MS + 2 * HOUR_MS),
    ]
}

/// Range-query step grids: (name, steps).
fn range_grids() -> Vec<(&'static str, Steps)> {
    vec![
        (
            "off-grid-97s",
            Steps {
                start_ms: SYN_START_MS - 10 * MINUTE_MS + 250,
                end_ms: SYN_END_MS + 10 * MINUTE_MS,
                step_ms: 97 * SECOND_MS,
            },
        ),
        (
            "on-grid-15s-across-reset",
            Steps {
                start_ms: RESET_MS - 5 * MINUTE_MS,
                end_ms: RESET_MS + 15 * MINUTE_MS,
                step_ms: 15 * SECOND_MS,
            },
        ),
        (
            "demo-start-7.5s",
            Steps {
                start_ms: DEMO_START_MS - 3 * MINUTE_MS,
                end_ms: DEMO_START_MS + 12 * MINUTE_MS,
                step_ms: 7_500,
            },
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Synthetic history
// ---------------------------------------------------------------------------------------

struct OmSeries {
    name: String,
    labels: Vec<(String, String)>,
    samples: Vec<(i64, f64)>,
}

/// When a synthetic series is scraped.
#[derive(Clone)]
struct Timing {
    every_ms: i64,
    offset_ms: i64,
    /// Each scrape lands uniformly in `[-jitter, +jitter]` ms around its grid time.
    jitter_ms: i64,
    start_ms: i64,
    stop_ms: i64,
    gaps: Vec<(i64, i64)>,
}

impl Timing {
    fn every(seconds: i64, offset_ms: i64) -> Timing {
        Timing {
            every_ms: seconds * SECOND_MS,
            offset_ms,
            jitter_ms: 0,
            start_ms: SYN_START_MS,
            stop_ms: SYN_END_MS,
            gaps: Vec::new(),
        }
    }
    fn jitter(mut self, ms: i64) -> Timing {
        self.jitter_ms = ms;
        self
    }
    fn gap(mut self) -> Timing {
        self.gaps.push((GAP_FROM_MS, GAP_TO_MS));
        self
    }
    fn stop(mut self, t: i64) -> Timing {
        self.stop_ms = t;
        self
    }
    fn start(mut self, t: i64) -> Timing {
        self.start_ms = t;
        self
    }

    fn times(&self, rng: &mut Rng) -> Vec<i64> {
        let mut out = Vec::new();
        let mut grid = SYN_START_MS + self.offset_ms;
        while grid < SYN_END_MS {
            let t = if self.jitter_ms > 0 {
                grid + (rng.next_u64() % (2 * self.jitter_ms as u64 + 1)) as i64 - self.jitter_ms
            } else {
                grid
            };
            grid += self.every_ms;
            if t < self.start_ms
                || t >= self.stop_ms
                || self.gaps.iter().any(|&(a, b)| a <= t && t < b)
            {
                continue;
            }
            out.push(t);
        }
        out
    }
}

fn labels_of(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A counter at `times`: about `rate` events per second (noisy), whole events unless
/// `fractional`, restarting from 0 at the first sample at or after each reset.
#[allow(clippy::too_many_arguments)]
fn counter(
    name: &str,
    labels: Vec<(String, String)>,
    times: &[i64],
    rate: f64,
    initial: f64,
    resets: &[i64],
    fractional: bool,
    rng: &mut Rng,
) -> OmSeries {
    let mut value = initial;
    let mut prev: Option<i64> = None;
    let mut next_reset = 0;
    let mut samples = Vec::with_capacity(times.len());
    for &t in times {
        let dt = prev.map(|p| (t - p) as f64 / 1000.0).unwrap_or(15.0);
        prev = Some(t);
        let mut inc = rate * dt * (0.5 + rng.next_f64());
        if !fractional {
            inc = inc.round();
        } else {
            inc = (inc * 1000.0).round() / 1000.0 + 0.000_123;
        }
        if next_reset < resets.len() && t >= resets[next_reset] {
            next_reset += 1;
            value = 0.0;
        }
        value += inc;
        samples.push((t, value));
    }
    OmSeries {
        name: name.to_string(),
        labels,
        samples,
    }
}

/// A gauge at `times`.
fn gauge(
    name: &str,
    labels: Vec<(String, String)>,
    times: &[i64],
    f: impl Fn(i64) -> f64,
) -> OmSeries {
    OmSeries {
        name: name.to_string(),
        labels,
        samples: times.iter().map(|&t| (t, f(t))).collect(),
    }
}

/// A classic histogram (`_bucket` per spelled bound and `+Inf`, `_count`, `_sum`) at `times`.
/// With `respelled = Some((t, bounds))` the bounds are spelled `bounds` from `t` on (same
/// values, e.g. "0.10" for "0.1"): new series, the old ones stop.
#[allow(clippy::too_many_arguments)]
fn histogram(
    base: &str,
    labels: Vec<(String, String)>,
    bounds: &[&str],
    respelled: Option<(i64, &[&str])>,
    times: &[i64],
    rate: f64,
    dist: LogLogistic,
    resets: &[i64],
    rng: &mut Rng,
) -> Vec<OmSeries> {
    let values: Vec<f64> = bounds.iter().map(|b| b.parse().unwrap()).collect();
    let mut buckets: BTreeMap<String, OmSeries> = BTreeMap::new();
    let mut count = OmSeries {
        name: format!("{base}_count"),
        labels: labels.clone(),
        samples: Vec::new(),
    };
    let mut sum = OmSeries {
        name: format!("{base}_sum"),
        labels: labels.clone(),
        samples: Vec::new(),
    };
    let mut expected = vec![0.0; bounds.len()];
    let mut n_total = 0.0_f64;
    let mut s_total = 0.0_f64;
    let mut next_reset = 0;
    let mut prev: Option<i64> = None;
    for &t in times {
        let dt = prev.map(|p| (t - p) as f64 / 1000.0).unwrap_or(15.0);
        prev = Some(t);
        if next_reset < resets.len() && t >= resets[next_reset] {
            next_reset += 1;
            expected.iter_mut().for_each(|e| *e = 0.0);
            n_total = 0.0;
            s_total = 0.0;
        }
        let n = (rate * dt * (0.5 + rng.next_f64())).round();
        n_total += n;
        s_total += n * dist.mean() * (0.8 + 0.4 * rng.next_f64());
        s_total = (s_total * 1e6).round() / 1e6;
        let spelled = match respelled {
            Some((from, b)) if t >= from => b,
            _ => bounds,
        };
        let mut below = 0.0;
        for (j, v) in values.iter().enumerate() {
            expected[j] += n * dist.cdf(*v);
            let c = expected[j].floor().min(n_total).max(below);
            below = c;
            let le = spelled[j].to_string();
            let mut l = labels.clone();
            l.push(("le".to_string(), le.clone()));
            buckets
                .entry(le)
                .or_insert_with(|| OmSeries {
                    name: format!("{base}_bucket"),
                    labels: l,
                    samples: Vec::new(),
                })
                .samples
                .push((t, c));
        }
        let mut l = labels.clone();
        l.push(("le".to_string(), "+Inf".to_string()));
        buckets
            .entry("+Inf".to_string())
            .or_insert_with(|| OmSeries {
                name: format!("{base}_bucket"),
                labels: l,
                samples: Vec::new(),
            })
            .samples
            .push((t, n_total));
        count.samples.push((t, n_total));
        sum.samples.push((t, s_total));
    }
    let mut out: Vec<OmSeries> = buckets.into_values().collect();
    out.push(count);
    out.push(sum);
    out
}

/// The curated `pq_*` series the generated expressions use (besides the demo's).
fn curated_series(rng: &mut Rng) -> Vec<OmSeries> {
    let mut out = Vec::new();
    let on_grid = Timing::every(15, 0);
    let jittered = Timing::every(15, 0).jitter(2_000);
    let slow_gappy = Timing::every(30, 10_000).gap();
    let req = "pq_requests_total";
    for (inst, timing, codes) in [
        (
            "a",
            on_grid.clone(),
            vec![("200", 20.0), ("404", 0.5), ("500", 0.2)],
        ),
        (
            "b",
            jittered.clone(),
            vec![("200", 18.0), ("404", 1.0), ("500", 0.3)],
        ),
        (
            "c",
            slow_gappy.clone(),
            vec![("200", 5.0), ("404", 0.0), ("500", 0.1)],
        ),
    ] {
        let job = if inst == "c" { "web" } else { "api" };
        for (code, rate) in codes {
            let labels = labels_of(&[("job", job), ("instance", inst), ("code", code)]);
            let (timing, resets, fractional, initial): (Timing, Vec<i64>, bool, f64) =
                match (inst, code) {
                    ("a", "404") => (timing.clone().stop(STOP_MS), vec![], false, 0.0),
                    ("b", "200") => (timing.clone(), vec![], true, 1234.5),
                    ("b", "404") => (timing.clone().start(LATE_START_MS), vec![], false, 0.0),
                    ("b", "500") => (timing.clone(), vec![RESET_MS, RESET2_MS], false, 40.0),
                    ("c", "404") => (timing.clone(), vec![], false, 7.0),
                    _ => (timing.clone(), vec![], false, 100.0),
                };
            let times = timing.times(rng);
            out.push(counter(
                req, labels, &times, rate, initial, &resets, fractional, rng,
            ));
        }
    }
    let dist = LogLogistic::from_median_p99(0.08, 0.7);
    let times = on_grid.times(rng);
    out.extend(histogram(
        "pq_latency_seconds",
        labels_of(&[("job", "api"), ("instance", "a")]),
        &["0.05", "0.1", "0.25", "0.5", "1"],
        None,
        &times,
        10.0,
        dist,
        &[],
        rng,
    ));
    let times = jittered.times(rng);
    out.extend(histogram(
        "pq_latency_seconds",
        labels_of(&[("job", "api"), ("instance", "b")]),
        &["0.05", "0.1", "0.25", "0.5", "1"],
        Some((LE_SWITCH_MS, &["0.05", "0.10", "0.25", "0.5", "1.0"])),
        &times,
        8.0,
        dist,
        &[RESET_MS],
        rng,
    ));
    // Gauges: quarter steps (so values repeat: changes()), negative values, one NaN.
    let temp = |base: f64, amp: f64, phase: i64| {
        move |t: i64| {
            let x = ((t - SYN_START_MS + phase) as f64 / HOUR_MS as f64) * std::f64::consts::TAU;
            ((base + amp * x.sin()) * 4.0).round() / 4.0
        }
    };
    let times = on_grid.times(rng);
    out.push(gauge(
        "pq_temperature_celsius",
        labels_of(&[("instance", "a"), ("room", "lab")]),
        &times,
        temp(21.0, 2.0, 0),
    ));
    let times = jittered.times(rng);
    let nan_at = times
        .iter()
        .copied()
        .find(|t| *t >= SYN_START_MS + 2 * HOUR_MS + 30 * MINUTE_MS)
        .unwrap();
    let f = temp(19.0, 3.5, 20 * MINUTE_MS);
    out.push(gauge(
        "pq_temperature_celsius",
        labels_of(&[("instance", "b"), ("room", "lab")]),
        &times,
        move |t| if t == nan_at { f64::NAN } else { f(t) },
    ));
    let times = slow_gappy.times(rng);
    out.push(gauge(
        "pq_temperature_celsius",
        labels_of(&[("instance", "c"), ("room", "hall")]),
        &times,
        temp(17.5, 1.0, 40 * MINUTE_MS),
    ));
    let times = Timing::every(15, 5_000).times(rng);
    out.push(gauge(
        "pq_temperature_celsius",
        labels_of(&[("instance", "a"), ("room", "freezer")]),
        &times,
        temp(-18.0, 0.75, 0),
    ));
    // An info metric whose version changes on instance b at LE_SWITCH_MS.
    let every30 = Timing::every(30, 0);
    for (inst, version, timing) in [
        ("a", "1.2.3", every30.clone()),
        ("b", "1.2.3", every30.clone().stop(LE_SWITCH_MS)),
        ("b", "1.3.0", every30.clone().start(LE_SWITCH_MS)),
        ("c", "1.3.0", Timing::every(30, 10_000).gap()),
    ] {
        let times = timing.times(rng);
        out.push(gauge(
            "pq_build_info",
            labels_of(&[("instance", inst), ("version", version)]),
            &times,
            |_| 1.0,
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Specs: their SLI queries, and the series those need
// ---------------------------------------------------------------------------------------

struct SpecQuery {
    origin: String,
    text: String,
}

/// Groups of spec files loaded together (OpenSLO references cross files within a directory).
fn spec_groups(root: &Path) -> Vec<(String, Vec<PathBuf>)> {
    let mut groups = Vec::new();
    groups.push(("slo-specs".to_string(), vec![root.join("slo-specs")]));
    let mut dirs = vec![root.join("tests/fixtures")];
    while let Some(dir) = dirs.pop() {
        let mut files = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                dirs.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                files.push(p);
            }
        }
        if !files.is_empty() {
            groups.push((dir.strip_prefix(root).unwrap().display().to_string(), files));
        }
    }
    // Upstream examples (read-only), when present next to the repository.
    let shared = root.join("../shared");
    let sloth = shared.join("sloth-examples");
    if let Ok(rd) = std::fs::read_dir(&sloth) {
        let mut files: Vec<PathBuf> = rd
            .map(|e| e.unwrap().path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        files.sort();
        for f in files {
            groups.push((format!("shared/sloth-examples/{}", file_name(&f)), vec![f]));
        }
    }
    let mut dirs = vec![shared.join("openslo-examples")];
    while let Some(dir) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files = Vec::new();
        let mut entries: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                dirs.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                files.push(p);
            }
        }
        if !files.is_empty() {
            let name = dir
                .strip_prefix(&shared)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            groups.push((format!("shared/{name}"), files));
        }
    }
    groups
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Every SLI query of every loadable spec: what `check` sends per dimension, and each raw
/// query per measured window. Distinct texts; also returns how many specs each group gave.
fn spec_queries(root: &Path) -> (Vec<SpecQuery>, Vec<(String, usize)>) {
    let mut out: Vec<SpecQuery> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut loaded = Vec::new();
    let mut push = |origin: String, text: String, out: &mut Vec<SpecQuery>| {
        if seen.insert(text.clone()) {
            out.push(SpecQuery { origin, text });
        }
    };
    for (group, paths) in spec_groups(root) {
        let report = load_paths(&paths);
        loaded.push((group.clone(), report.specs.len()));
        // The batched query `check` sends for several dimensions at once (measure::direct,
        // chunks of 5 by default), over this group's SLO dimensions in order.
        let items: Vec<_> = report
            .specs
            .iter()
            .flat_map(|spec| spec.slos.iter())
            .flat_map(|slo| slo.dimensions().map(move |d| (slo, d)))
            .collect();
        let batch = |chunk: &[(&burnrate::spec::SloSpec, burnrate::spec::Dimension)]| {
            chunk
                .iter()
                .enumerate()
                .map(|(i, (slo, d))| {
                    tagged_dimension_query(slo, *d, slo.measured_windows(*d), &format!("{i}:"))
                })
                .collect::<Vec<_>>()
                .join(" or ")
        };
        // Only backends answer batches, and five dimensions of eight windows each (Pyrra's
        // tiers) chain 80 `or`s, deeper than the local evaluator's input limit: such a
        // group's batches are compared in pairs.
        let too_deep = |chunk: &[_]| {
            Query::parse(&batch(chunk)).is_err_and(|e| e.message.contains("levels deep"))
        };
        let size = if items.chunks(5).any(too_deep) { 2 } else { 5 };
        for (c, chunk) in items.chunks(size).enumerate() {
            if chunk.len() < 2 {
                continue;
            }
            let text = batch(chunk);
            push(
                format!("{group}: batch {c} ({} dimensions)", chunk.len()),
                text,
                &mut out,
            );
        }
        for spec in &report.specs {
            let spec: &ServiceSpec = spec;
            let file = file_name(&spec.file);
            for slo in &spec.slos {
                for dim in slo.dimensions() {
                    let windows = slo.measured_windows(dim);
                    let origin = format!("{group}/{file}: {}/{} check", slo.name, dim.as_str());
                    push(origin, dimension_query(slo, dim, windows), &mut out);
                    if let Some(error) = &slo.error
                        && let (
                            burnrate::spec::Dimension::Error,
                            ErrorEvents::Queries { bad, total },
                        ) = (dim, &error.events)
                    {
                        for w in windows {
                            for (what, q) in [("bad_query", bad), ("total_query", total)] {
                                push(
                                    format!("{group}/{file}: {} {what}[{w}]", slo.name),
                                    q.replace(WINDOW_PLACEHOLDER, w.as_str()),
                                    &mut out,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    (out, loaded)
}

/// One vector selector of a spec query: metric name and its other matchers.
struct NeededSelector {
    name: String,
    matchers: Vec<promql_parser::label::Matcher>,
}

fn selectors_of(text: &str) -> Vec<NeededSelector> {
    struct V(Vec<NeededSelector>);
    impl promql_parser::util::ExprVisitor for V {
        type Error = ();
        fn pre_visit(&mut self, e: &Expr) -> Result<bool, ()> {
            let vs = match e {
                Expr::VectorSelector(vs) => vs,
                Expr::MatrixSelector(ms) => &ms.vs,
                _ => return Ok(true),
            };
            let mut name = vs.name.clone();
            let mut matchers = Vec::new();
            for m in &vs.matchers.matchers {
                if m.name == "__name__" {
                    if matches!(m.op, MatchOp::Equal) {
                        name = Some(m.value.clone());
                    }
                } else {
                    matchers.push(m.clone());
                }
            }
            if let Some(name) = name {
                self.0.push(NeededSelector { name, matchers });
            }
            Ok(true)
        }
    }
    let Ok(expr) = promql_parser::parser::parse(text) else {
        return Vec::new();
    };
    let mut v = V(Vec::new());
    let _ = promql_parser::util::walk_expr(&mut v, &expr);
    v.0
}

fn matches(m: &promql_parser::label::Matcher, value: &str) -> bool {
    let re = |p: &str| regex::Regex::new(&format!("^(?:{p})$")).map(|r| r.is_match(value));
    match &m.op {
        MatchOp::Equal => m.value == value,
        MatchOp::NotEqual => m.value != value,
        MatchOp::Re(_) => re(&m.value).unwrap_or(false),
        MatchOp::NotRe(_) => !re(&m.value).unwrap_or(true),
    }
}

/// Candidate label values for a matcher: its own value, plain words of its regex (`5..` →
/// `500`, `(5..|429)` → `500`, `429`), and a few common ones.
fn candidates(m: &promql_parser::label::Matcher) -> Vec<String> {
    let mut out = vec![m.value.clone()];
    for piece in m.value.split('|') {
        let w: String = piece
            .replace("\\d", "0")
            .replace(['(', ')', '^', '$', '*', '+', '?'], "")
            .replace('.', "0")
            .replace('\\', "");
        out.push(w);
    }
    for c in [
        "200", "500", "503", "429", "404", "get", "set", "cas", "x", "other", "timeout",
        "conflict", "/", "prod", "1",
    ] {
        out.push(c.to_string());
    }
    out
}

/// Label sets for a spec metric: per selector one that matches it and, per matcher, one that
/// fails only that matcher.
fn label_sets_for(selectors: &[&NeededSelector]) -> Vec<Vec<(String, String)>> {
    let mut sets: BTreeSet<Vec<(String, String)>> = BTreeSet::new();
    for sel in selectors {
        let names: BTreeSet<&str> = sel
            .matchers
            .iter()
            .filter(|m| m.name != "le")
            .map(|m| m.name.as_str())
            .collect();
        let satisfying = |name: &str, except: Option<usize>| -> Option<String> {
            let ms: Vec<(usize, &promql_parser::label::Matcher)> = sel
                .matchers
                .iter()
                .enumerate()
                .filter(|(_, m)| m.name == name)
                .collect();
            let mut cands: Vec<String> = ms.iter().flat_map(|(_, m)| candidates(m)).collect();
            cands.retain(|c| !c.is_empty());
            cands.into_iter().find(|c| {
                ms.iter().all(|(i, m)| {
                    if Some(*i) == except {
                        !matches(m, c)
                    } else {
                        matches(m, c)
                    }
                })
            })
        };
        let good: Vec<(String, String)> = names
            .iter()
            .filter_map(|n| satisfying(n, None).map(|v| (n.to_string(), v)))
            .collect();
        sets.insert(good.clone());
        for (i, m) in sel.matchers.iter().enumerate() {
            if m.name == "le" {
                continue;
            }
            if let Some(bad) = satisfying(&m.name, Some(i)) {
                let mut s = good.clone();
                for kv in s.iter_mut() {
                    if kv.0 == m.name {
                        kv.1 = bad.clone();
                    }
                }
                sets.insert(s);
            }
        }
    }
    sets.into_iter().collect()
}

/// Series for every metric the spec queries read that neither the demo history nor the
/// curated series have.
fn spec_series(queries: &[SpecQuery], rng: &mut Rng) -> Vec<OmSeries> {
    let mut by_name: BTreeMap<String, Vec<NeededSelector>> = BTreeMap::new();
    for q in queries {
        for s in selectors_of(&q.text) {
            by_name.entry(s.name.clone()).or_default().push(s);
        }
    }
    let covered = |n: &str| n.starts_with("go_map_update_") || n.starts_with("pq_");
    // Histogram families: base names with a `_bucket` selector.
    let bases: BTreeSet<String> = by_name
        .keys()
        .filter_map(|n| n.strip_suffix("_bucket").map(str::to_string))
        .filter(|b| !covered(b))
        .collect();
    let mut out = Vec::new();
    let mut index = 0usize;
    let timing_for = |index: usize| -> (Timing, Vec<i64>) {
        let every = if index % 4 == 3 { 30 } else { 15 };
        let mut t = Timing::every(every, (index as i64 * 7_000) % (every * SECOND_MS));
        if index.is_multiple_of(3) {
            t = t.jitter(1_500);
        }
        if index % 5 == 1 {
            t = t.gap();
        }
        if index % 7 == 3 {
            t = t.stop(STOP_MS);
        }
        if index % 11 == 5 {
            t = t.start(LATE_START_MS);
        }
        let resets = if index.is_multiple_of(2) {
            vec![RESET_MS + (index as i64 % 17) * MINUTE_MS]
        } else {
            vec![]
        };
        (t, resets)
    };
    for base in &bases {
        let sels: Vec<&NeededSelector> = [
            format!("{base}_bucket"),
            format!("{base}_count"),
            format!("{base}_sum"),
        ]
        .iter()
        .filter_map(|n| by_name.get(n))
        .flatten()
        .collect();
        let mut bounds: Vec<(f64, String)> = ["0.05", "0.1", "0.25", "0.3", "0.5", "1", "2.5"]
            .iter()
            .map(|b| (b.parse().unwrap(), b.to_string()))
            .collect();
        for s in &sels {
            for m in &s.matchers {
                if m.name == "le"
                    && matches!(m.op, MatchOp::Equal)
                    && let Ok(v) = m.value.parse::<f64>()
                    && v.is_finite()
                    && !bounds.iter().any(|(b, _)| *b == v)
                {
                    bounds.push((v, m.value.clone()));
                }
            }
        }
        bounds.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        let spelled: Vec<&str> = bounds.iter().map(|(_, s)| s.as_str()).collect();
        for labels in label_sets_for(&sels) {
            let (timing, resets) = timing_for(index);
            index += 1;
            let times = timing.times(rng);
            let dist = LogLogistic::from_median_p99(0.05 + 0.01 * (index % 5) as f64, 0.9);
            out.extend(histogram(
                base,
                labels,
                &spelled,
                None,
                &times,
                4.0 + (index % 3) as f64,
                dist,
                &resets,
                rng,
            ));
        }
    }
    for (name, sels) in &by_name {
        if covered(name)
            || bases.iter().any(|b| {
                [
                    format!("{b}_bucket"),
                    format!("{b}_count"),
                    format!("{b}_sum"),
                ]
                .contains(name)
            })
        {
            continue;
        }
        let sels: Vec<&NeededSelector> = sels.iter().collect();
        for labels in label_sets_for(&sels) {
            let (timing, resets) = timing_for(index);
            index += 1;
            let times = timing.times(rng);
            let rate = 0.2 + (index % 6) as f64 * 1.5;
            out.push(counter(
                name,
                labels,
                &times,
                rate,
                (index * 10) as f64,
                &resets,
                index % 4 == 1,
                rng,
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// OpenMetrics, backfill, read-back
// ---------------------------------------------------------------------------------------

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `ms` as OpenMetrics seconds with milliseconds.
fn om_seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn write_history(path: &Path, series: &[OmSeries]) -> usize {
    let demo = promfix::demo_history_text();
    let demo = demo
        .trim_end()
        .strip_suffix("# EOF")
        .expect("demo history ends with # EOF");
    let mut text = String::with_capacity(demo.len() + series.len() * 600 * 60);
    text.push_str(demo);
    let mut n = 0;
    for s in series {
        let mut prefix = s.name.clone();
        if !s.labels.is_empty() {
            prefix.push('{');
            let parts: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            prefix.push_str(&parts.join(","));
            prefix.push('}');
        }
        for &(t, v) in &s.samples {
            let value = if v.is_nan() {
                "NaN".to_string()
            } else {
                format!("{v}")
            };
            writeln!(text, "{prefix} {value} {}", om_seconds(t)).unwrap();
            n += 1;
        }
    }
    text.push_str("# EOF\n");
    std::fs::write(path, text).unwrap();
    n
}

/// HTTP client for the private Prometheus.
#[derive(Clone)]
struct PromApi {
    base: String,
    agent: ureq::Agent,
}

/// A result, on either side, in a comparable form (vectors and matrices sorted by labels).
#[derive(Debug, Clone)]
enum Res {
    Scalar(f64),
    Vector(Vec<(Labels, f64)>),
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
    Str(String),
}

impl Res {
    fn is_empty(&self) -> bool {
        match self {
            Res::Vector(v) => v.is_empty(),
            Res::Matrix(m) => m.is_empty(),
            _ => false,
        }
    }
}

fn json_labels(v: &serde_json::Value) -> Labels {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn json_point(p: &serde_json::Value) -> (i64, f64) {
    let t = (p[0].as_f64().expect("point time") * 1000.0).round() as i64;
    let v = parse_prom_float(p[1].as_str().expect("point value")).expect("point value");
    (t, v)
}

impl PromApi {
    /// POST a query; `Ok(data)` on success, `Err(message)` when Prometheus answers with an
    /// error status for the query itself (400 bad data, 422 execution error). Panics on
    /// anything else (unreachable, timeout, internal error): that is the harness's problem.
    fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<serde_json::Value, String> {
        let url = format!("{}{path}", self.base);
        let (code, body) = match self.agent.post(&url).send_form(form) {
            Ok(r) => {
                let mut body = String::new();
                std::io::Read::read_to_string(&mut r.into_reader(), &mut body).unwrap();
                (200, body)
            }
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{path} {form:?}: {e}"),
        };
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path}: bad JSON ({e}): {body}"));
        match (code, v["status"].as_str()) {
            (200, Some("success")) => Ok(v["data"].clone()),
            (400 | 422, Some("error")) => Err(format!(
                "{}: {}",
                v["errorType"].as_str().unwrap_or("?"),
                v["error"].as_str().unwrap_or("?")
            )),
            _ => panic!("{path} {form:?}: HTTP {code}: {body}"),
        }
    }

    fn instant(&self, expr: &str, t_ms: i64) -> Result<Res, String> {
        let data = self.post(
            "/api/v1/query",
            &[("query", expr), ("time", &om_seconds(t_ms))],
        )?;
        Ok(match data["resultType"].as_str() {
            Some("scalar") => Res::Scalar(json_point(&data["result"]).1),
            Some("string") => Res::Str(data["result"][1].as_str().unwrap_or_default().to_string()),
            Some("vector") => {
                let mut v: Vec<(Labels, f64)> = data["result"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| (json_labels(&r["metric"]), json_point(&r["value"]).1))
                    .collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                Res::Vector(v)
            }
            Some("matrix") => {
                let mut m: Vec<(Labels, Vec<(i64, f64)>)> = data["result"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        (
                            json_labels(&r["metric"]),
                            r["values"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(json_point)
                                .collect(),
                        )
                    })
                    .collect();
                m.sort_by(|a, b| a.0.cmp(&b.0));
                Res::Matrix(m)
            }
            other => panic!("query {expr:?}: result type {other:?}"),
        })
    }

    /// `query_range` as one matrix (sorted by labels).
    fn range(&self, expr: &str, steps: Steps) -> Result<Res, String> {
        let data = self.post(
            "/api/v1/query_range",
            &[
                ("query", expr),
                ("start", &om_seconds(steps.start_ms)),
                ("end", &om_seconds(steps.end_ms)),
                ("step", &om_seconds(steps.step_ms)),
            ],
        )?;
        assert_eq!(data["resultType"], "matrix", "query_range {expr:?}");
        let mut m: Vec<(Labels, Vec<(i64, f64)>)> = data["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    json_labels(&r["metric"]),
                    r["values"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(json_point)
                        .collect(),
                )
            })
            .collect();
        m.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Res::Matrix(m))
    }
}

/// Every raw sample Prometheus holds, read back with one range-vector query.
fn stored_series(api: &PromApi) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let at = SYN_END_MS.max(DEMO_LAST_MS) + MINUTE_MS;
    let span_days = (at - DEMO_START_MS) / DAY_MS + 2;
    match api.instant(&format!("{{__name__=~\".+\"}}[{span_days}d]"), at) {
        Ok(Res::Matrix(m)) => m,
        other => panic!("reading the stored samples back: {other:?}"),
    }
}

fn local_storage(series: &[(Labels, Vec<(i64, f64)>)]) -> MemStorage {
    let mut storage = MemStorage::new();
    for (labels, samples) in series {
        storage.push_series(
            labels.clone(),
            SeriesSamples::from_samples(samples.iter().copied()),
        );
    }
    storage
}

// ---------------------------------------------------------------------------------------
// The subset, for classifying `unsupported` answers
// ---------------------------------------------------------------------------------------

/// The functions of the subset (PRODUCT.md, "Raw PromQL SLIs"). `*_over_time` means the
/// aggregations over time; `absent_over_time` is not one (the project treats it as outside
/// the subset: tests/fixtures/backtest/mixed/outside-subset.yaml).
const SUBSET_FUNCTIONS: &[&str] = &[
    "rate",
    "increase",
    "irate",
    "delta",
    "idelta",
    "resets",
    "changes",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "quantile_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "present_over_time",
    "vector",
    "scalar",
    "time",
    "abs",
    "ceil",
    "floor",
    "round",
    "clamp",
    "clamp_min",
    "clamp_max",
    "label_replace",
    "label_join",
    "absent",
    "histogram_quantile",
];
const SUBSET_AGGREGATIONS: &[&str] = &[
    "sum", "count", "min", "max", "avg", "topk", "bottomk", "quantile",
];

/// Whether a (parseable) query stays inside the evaluator's subset; `None` when the parser
/// rejects it. The reason when not.
fn in_subset(text: &str) -> Option<Result<(), String>> {
    struct V(Option<String>);
    impl promql_parser::util::ExprVisitor for V {
        type Error = ();
        fn pre_visit(&mut self, e: &Expr) -> Result<bool, ()> {
            let why = match e {
                Expr::Call(c) if !SUBSET_FUNCTIONS.contains(&c.func.name) => {
                    Some(format!("function {}", c.func.name))
                }
                Expr::Aggregate(a) => {
                    let op = a.op.to_string();
                    (!SUBSET_AGGREGATIONS.contains(&op.as_str()))
                        .then(|| format!("aggregation {op}"))
                }
                Expr::Subquery(_) => Some("subquery".to_string()),
                Expr::VectorSelector(vs) if vs.at.is_some() => Some("@ modifier".to_string()),
                Expr::MatrixSelector(ms) if ms.vs.at.is_some() => Some("@ modifier".to_string()),
                _ => None,
            };
            if why.is_some() {
                self.0 = why;
                return Ok(false);
            }
            Ok(true)
        }
    }
    let expr = promql_parser::parser::parse(text).ok()?;
    let mut v = V(None);
    let _ = promql_parser::util::walk_expr(&mut v, &expr);
    Some(match v.0 {
        None => Ok(()),
        Some(why) => Err(why),
    })
}

// ---------------------------------------------------------------------------------------
// Local side, comparison
// ---------------------------------------------------------------------------------------

enum Local {
    Ok(Res),
    /// Parse or evaluation error (not "unsupported").
    Error(String),
    Unsupported(String),
    Panicked(String),
}

fn sort_local(v: Value) -> Res {
    match v {
        Value::Scalar(x) => Res::Scalar(x),
        Value::String(s) => Res::Str(s),
        Value::Vector(mut v) => {
            v.sort_by(|a, b| a.0.cmp(&b.0));
            Res::Vector(v)
        }
        Value::Matrix(mut m) => {
            m.sort_by(|a, b| a.0.cmp(&b.0));
            Res::Matrix(m)
        }
    }
}

fn classify(e: QueryError) -> Local {
    if e.unsupported {
        Local::Unsupported(e.message)
    } else {
        Local::Error(e.message)
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".to_string())
}

/// The local side's semantics: Prometheus 2.x; PROMQL_DIFF_WRONG_FLAVOR=1 evaluates with
/// Prometheus 3's instead, to watch the test fail (and shrink) as it should.
fn local_flavor() -> Flavor {
    if std::env::var_os("PROMQL_DIFF_WRONG_FLAVOR").is_some() {
        Flavor::Prometheus3
    } else {
        Flavor::Prometheus2
    }
}

fn local_instant(storage: &MemStorage, text: &str, t_ms: i64) -> Local {
    match catch_unwind(AssertUnwindSafe(|| {
        Query::parse(text).and_then(|q| promql::eval_instant(&q, storage, t_ms, local_flavor()))
    })) {
        Ok(Ok(v)) => Local::Ok(sort_local(v)),
        Ok(Err(e)) => classify(e),
        Err(p) => Local::Panicked(panic_message(p)),
    }
}

fn local_range(storage: &MemStorage, text: &str, steps: Steps) -> Local {
    match catch_unwind(AssertUnwindSafe(|| {
        Query::parse(text).and_then(|q| promql::eval_range(&q, storage, steps, local_flavor()))
    })) {
        Ok(Ok(series)) => {
            let mut m: Vec<(Labels, Vec<(i64, f64)>)> = series
                .into_iter()
                .map(|s| {
                    let points: Vec<(i64, f64)> = s
                        .values
                        .iter()
                        .enumerate()
                        .filter_map(|(i, v)| v.map(|v| (steps.time(i), v)))
                        .collect();
                    (s.labels, points)
                })
                // A series without a point at any step is not in Prometheus's answer.
                .filter(|(_, p)| !p.is_empty())
                .collect();
            m.sort_by(|a, b| a.0.cmp(&b.0));
            Local::Ok(Res::Matrix(m))
        }
        Ok(Err(e)) => classify(e),
        Err(p) => Local::Panicked(panic_message(p)),
    }
}

/// Equal within the tolerances; NaN equals NaN; infinities only themselves.
fn same_value(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    close(a, b, TOLERANCE)
}

fn fmt_labels(l: &Labels) -> String {
    let parts: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// `None` when equal; otherwise what differs (a few lines).
fn diff(local: &Res, prom: &Res) -> Option<String> {
    fn series_diff<T: PartialEq + std::fmt::Debug>(
        local: &[(Labels, T)],
        prom: &[(Labels, T)],
        same: impl Fn(&T, &T) -> bool,
    ) -> Option<String> {
        let mut out = Vec::new();
        for w in local.windows(2) {
            if w[0].0 == w[1].0 {
                out.push(format!(
                    "local has duplicate series {}",
                    fmt_labels(&w[0].0)
                ));
            }
        }
        let p: BTreeMap<&Labels, &T> = prom.iter().map(|(l, v)| (l, v)).collect();
        let l: BTreeMap<&Labels, &T> = local.iter().map(|(l, v)| (l, v)).collect();
        for (labels, lv) in &l {
            match p.get(labels) {
                None => out.push(format!("only local: {} {lv:?}", fmt_labels(labels))),
                Some(pv) if !same(lv, pv) => out.push(format!(
                    "{}: local {lv:?} vs prometheus {pv:?}",
                    fmt_labels(labels)
                )),
                _ => {}
            }
        }
        for (labels, pv) in &p {
            if !l.contains_key(labels) {
                out.push(format!("only prometheus: {} {pv:?}", fmt_labels(labels)));
            }
        }
        if out.is_empty() {
            return None;
        }
        let n = out.len();
        out.truncate(4);
        if n > 4 {
            out.push(format!("... {} more", n - 4));
        }
        Some(out.join("; "))
    }
    let same_points = |a: &Vec<(i64, f64)>, b: &Vec<(i64, f64)>| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && same_value(x.1, y.1))
    };
    match (local, prom) {
        (Res::Scalar(a), Res::Scalar(b)) => {
            (!same_value(*a, *b)).then(|| format!("scalar: local {a:?} vs prometheus {b:?}"))
        }
        (Res::Str(a), Res::Str(b)) => (a != b).then(|| format!("string: {a:?} vs {b:?}")),
        (Res::Vector(a), Res::Vector(b)) => series_diff(a, b, |x, y| same_value(*x, *y)),
        (Res::Matrix(a), Res::Matrix(b)) => series_diff(a, b, same_points),
        (a, b) => Some(format!(
            "result type: local {} vs prometheus {}",
            kind_name(a),
            kind_name(b)
        )),
    }
}

fn kind_name(r: &Res) -> &'static str {
    match r {
        Res::Scalar(_) => "scalar",
        Res::Vector(_) => "vector",
        Res::Matrix(_) => "matrix",
        Res::Str(_) => "string",
    }
}

enum Outcome {
    /// `values`: sample values compared; `exact`: how many of them were bit-identical
    /// (or both NaN) rather than only within the tolerance.
    Agree {
        nonempty: bool,
        error: bool,
        values: usize,
        exact: usize,
        inexact: Option<(f64, f64)>,
    },
    Unsupported(String),
    Disagree(String),
}

fn judge(local: Local, prom: &Result<Res, String>) -> Outcome {
    match (local, prom) {
        (Local::Unsupported(why), _) => Outcome::Unsupported(why),
        (Local::Panicked(why), p) => Outcome::Disagree(format!(
            "local panicked ({why}); prometheus {}",
            match p {
                Ok(r) => summary(r),
                Err(e) => format!("error {e}"),
            }
        )),
        (Local::Error(_), Err(_)) => Outcome::Agree {
            nonempty: false,
            error: true,
            values: 0,
            exact: 0,
            inexact: None,
        },
        (Local::Error(e), Ok(r)) => {
            Outcome::Disagree(format!("local error {e:?}; prometheus {}", summary(r)))
        }
        (Local::Ok(r), Err(e)) => {
            Outcome::Disagree(format!("local {}; prometheus error {e:?}", summary(&r)))
        }
        (Local::Ok(l), Ok(p)) => match diff(&l, p) {
            None => {
                let (values, exact) = exactness(&l, p);
                Outcome::Agree {
                    nonempty: !p.is_empty(),
                    error: false,
                    values,
                    exact,
                    inexact: first_inexact(&l, p),
                }
            }
            Some(d) => Outcome::Disagree(d),
        },
    }
}

/// For two agreeing results (same series in the same order): values compared, and how
/// many were bit-identical.
fn exactness(l: &Res, p: &Res) -> (usize, usize) {
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    let pairs: Vec<(f64, f64)> = match (l, p) {
        (Res::Scalar(a), Res::Scalar(b)) => vec![(*a, *b)],
        (Res::Vector(a), Res::Vector(b)) => a.iter().zip(b).map(|(x, y)| (x.1, y.1)).collect(),
        (Res::Matrix(a), Res::Matrix(b)) => a
            .iter()
            .zip(b)
            .flat_map(|(x, y)| x.1.iter().zip(&y.1).map(|(u, v)| (u.1, v.1)))
            .collect(),
        _ => vec![],
    };
    let exact = pairs.iter().filter(|(a, b)| same(*a, *b)).count();
    (pairs.len(), exact)
}

/// The first value pair of two agreeing results that is not bit-identical.
fn first_inexact(l: &Res, p: &Res) -> Option<(f64, f64)> {
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    match (l, p) {
        (Res::Scalar(a), Res::Scalar(b)) => (!same(*a, *b)).then_some((*a, *b)),
        (Res::Vector(a), Res::Vector(b)) => a
            .iter()
            .zip(b)
            .map(|(x, y)| (x.1, y.1))
            .find(|(x, y)| !same(*x, *y)),
        (Res::Matrix(a), Res::Matrix(b)) => a
            .iter()
            .zip(b)
            .flat_map(|(x, y)| x.1.iter().zip(&y.1).map(|(u, v)| (u.1, v.1)))
            .find(|(x, y)| !same(*x, *y)),
        _ => None,
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() > 300 {
        format!("{}...", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}

fn summary(r: &Res) -> String {
    let s = match r {
        Res::Scalar(x) => format!("scalar {x:?}"),
        Res::Str(s) => format!("string {s:?}"),
        Res::Vector(v) => format!(
            "vector [{}]",
            v.iter()
                .map(|(l, x)| format!("{} {x:?}", fmt_labels(l)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Res::Matrix(m) => format!(
            "matrix [{}]",
            m.iter()
                .map(|(l, p)| format!("{} ({} points)", fmt_labels(l), p.len()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    if s.chars().count() > 400 {
        format!("{}...", s.chars().take(400).collect::<String>())
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------
// Expression generator
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Vector,
    Scalar,
    Matrix,
}

/// A generated expression: its text, type, (approximate) label names, and sub-expressions
/// worth evaluating on their own when it disagrees.
#[derive(Clone, Debug)]
struct Gx {
    text: String,
    kind: Kind,
    labels: Vec<&'static str>,
    binary: bool,
    children: Vec<Gx>,
}

impl Gx {
    fn leaf(text: String, kind: Kind, labels: Vec<&'static str>) -> Gx {
        Gx {
            text,
            kind,
            labels,
            binary: false,
            children: Vec::new(),
        }
    }
    /// The text, parenthesized when it is a binary expression (as an operand).
    fn operand(&self) -> String {
        if self.binary {
            format!("({})", self.text)
        } else {
            self.text.clone()
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MKind {
    Counter,
    Gauge,
    Bucket,
}

struct Metric {
    name: &'static str,
    kind: MKind,
    family: usize,
    labels: &'static [(&'static str, &'static [&'static str])],
}

const OP_TYPE: (&str, &[&str]) = ("op_type", &["set", "delete"]);
const KEY_HASH: (&str, &[&str]) = ("key_hash", &["00-7f", "80-ff"]);
const JOB: (&str, &[&str]) = ("job", &["api", "web"]);
const INSTANCE: (&str, &[&str]) = ("instance", &["a", "b", "c"]);

const METRICS: &[Metric] = &[
    Metric {
        name: "go_map_update_total",
        kind: MKind::Counter,
        family: 0,
        labels: &[OP_TYPE, KEY_HASH],
    },
    Metric {
        name: "go_map_update_failure_total",
        kind: MKind::Counter,
        family: 0,
        labels: &[OP_TYPE, KEY_HASH, ("error_class", &["conflict", "timeout"])],
    },
    Metric {
        name: "go_map_update_duration_seconds_count",
        kind: MKind::Counter,
        family: 0,
        labels: &[OP_TYPE],
    },
    Metric {
        name: "go_map_update_duration_seconds_sum",
        kind: MKind::Counter,
        family: 0,
        labels: &[OP_TYPE],
    },
    Metric {
        name: "go_map_update_duration_seconds_bucket",
        kind: MKind::Bucket,
        family: 0,
        labels: &[
            OP_TYPE,
            ("le", &["0.005", "0.025", "0.1", "0.2", "1.6", "+Inf"]),
        ],
    },
    Metric {
        name: "pq_requests_total",
        kind: MKind::Counter,
        family: 1,
        labels: &[JOB, INSTANCE, ("code", &["200", "404", "500"])],
    },
    Metric {
        name: "pq_latency_seconds_count",
        kind: MKind::Counter,
        family: 1,
        labels: &[("job", &["api"]), ("instance", &["a", "b"])],
    },
    Metric {
        name: "pq_latency_seconds_bucket",
        kind: MKind::Bucket,
        family: 1,
        labels: &[
            ("instance", &["a", "b"]),
            ("le", &["0.05", "0.1", "0.10", "0.5", "1", "1.0", "+Inf"]),
        ],
    },
    Metric {
        name: "pq_temperature_celsius",
        kind: MKind::Gauge,
        family: 1,
        labels: &[INSTANCE, ("room", &["lab", "hall", "freezer"])],
    },
    Metric {
        name: "pq_build_info",
        kind: MKind::Gauge,
        family: 1,
        labels: &[INSTANCE, ("version", &["1.2.3", "1.3.0"])],
    },
];

/// A label every metric of a family has.
fn common_label(family: usize) -> &'static str {
    if family == 0 { "op_type" } else { "instance" }
}

fn bucket_metric(family: usize) -> &'static Metric {
    METRICS
        .iter()
        .find(|m| m.family == family && m.kind == MKind::Bucket)
        .unwrap()
}

fn regex_escape(s: &str) -> String {
    // One backslash in the regex is two in a PromQL double-quoted string.
    let mut out = String::new();
    for c in s.chars() {
        if ".+*?()|[]{}^$\\".contains(c) {
            out.push_str("\\\\");
        }
        out.push(c);
    }
    out
}

struct Gen {
    rng: TestRng,
}

impl Gen {
    fn n(&mut self, k: usize) -> usize {
        (self.rng.next_u64() % k as u64) as usize
    }
    fn p(&mut self, prob: f64) -> bool {
        ((self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < prob
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.n(xs.len())]
    }

    fn metric(&mut self, family: usize, kinds: &[MKind]) -> &'static Metric {
        let c: Vec<&'static Metric> = METRICS
            .iter()
            .filter(|m| m.family == family && kinds.contains(&m.kind))
            .collect();
        c[self.n(c.len())]
    }

    fn selector(&mut self, m: &'static Metric) -> String {
        let mut matchers = Vec::new();
        let by_name_matcher = self.p(0.12);
        if by_name_matcher {
            if self.p(0.5) {
                matchers.push(format!("__name__=\"{}\"", m.name));
            } else {
                matchers.push(format!("__name__=~\"{}|pq_nothing\"", m.name));
            }
        }
        let k = self.pick(&[0, 0, 1, 1, 1, 2]);
        for _ in 0..k {
            let (label, values) = self.pick(m.labels);
            let v = self.pick(values);
            let op = self.pick(&["=", "=", "=", "!=", "=~", "=~", "!~"]);
            let value = match op {
                "=" | "!=" => {
                    if self.p(0.08) {
                        "nope".to_string()
                    } else {
                        v.to_string()
                    }
                }
                _ => match self.n(6) {
                    0 => format!("{}|{}", regex_escape(v), regex_escape(self.pick(values))),
                    1 => format!("{}.*", regex_escape(&v[..1])),
                    2 => ".*".to_string(),
                    3 => ".+".to_string(),
                    4 => String::new(),
                    _ => regex_escape(v),
                },
            };
            matchers.push(format!("{label}{op}\"{value}\""));
        }
        if by_name_matcher {
            format!("{{{}}}", matchers.join(", "))
        } else if matchers.is_empty() {
            m.name.to_string()
        } else {
            format!("{}{{{}}}", m.name, matchers.join(","))
        }
    }

    fn label_names(m: &Metric) -> Vec<&'static str> {
        m.labels.iter().map(|(l, _)| *l).collect()
    }

    fn window(&mut self) -> &'static str {
        // 15s holds at most one sample of most series (rate: empty); kept, but rare.
        if self.p(0.04) {
            return "15s";
        }
        self.pick(&[
            "30s", "1m", "1m", "90s", "2m", "5m", "5m", "10m", "1h", "1h30m",
        ])
    }

    fn offset(&mut self) -> String {
        if self.p(0.18) {
            format!(" offset {}", self.pick(&["30s", "1m", "5m", "7m30s", "1h"]))
        } else {
            String::new()
        }
    }

    fn range_selector(&mut self, m: &'static Metric) -> Gx {
        let text = format!("{}[{}]{}", self.selector(m), self.window(), self.offset());
        Gx::leaf(text, Kind::Matrix, Self::label_names(m))
    }

    fn instant_selector(&mut self, family: usize) -> Gx {
        let m = self.metric(family, &[MKind::Counter, MKind::Gauge, MKind::Bucket]);
        let text = format!("{}{}", self.selector(m), self.offset());
        Gx::leaf(text, Kind::Vector, Self::label_names(m))
    }

    fn range_call(&mut self, family: usize) -> Gx {
        let m = self.metric(
            family,
            &[MKind::Counter, MKind::Counter, MKind::Gauge, MKind::Bucket],
        );
        let f = match m.kind {
            MKind::Gauge => self.pick(&[
                "delta",
                "idelta",
                "changes",
                "resets",
                "avg_over_time",
                "min_over_time",
                "max_over_time",
                "sum_over_time",
                "count_over_time",
                "quantile_over_time",
                "stddev_over_time",
                "stdvar_over_time",
                "last_over_time",
                "present_over_time",
                // Not in the subset (see SUBSET_FUNCTIONS), but implemented: compared when
                // evaluated, counted as rightly rejected otherwise.
                "absent_over_time",
                "rate",
            ]),
            _ => self.pick(&[
                "rate",
                "rate",
                "rate",
                "increase",
                "increase",
                "irate",
                "irate",
                "resets",
                "changes",
                "delta",
                "idelta",
                "sum_over_time",
                "avg_over_time",
                "max_over_time",
                "min_over_time",
                "count_over_time",
                "last_over_time",
                "quantile_over_time",
                "stddev_over_time",
                "stdvar_over_time",
                "present_over_time",
            ]),
        };
        let arg = self.range_selector(m);
        let text = if f == "quantile_over_time" {
            let q = self.pick(&["0", "0.25", "0.5", "0.9", "1", "1.5"]);
            format!("{f}({q}, {})", arg.text)
        } else {
            format!("{f}({})", arg.text)
        };
        let labels = arg.labels.clone();
        Gx {
            text,
            kind: Kind::Vector,
            labels,
            binary: false,
            children: vec![arg],
        }
    }

    fn scalar(&mut self, depth: u32, family: usize) -> Gx {
        let choice = if depth == 0 { self.n(6) } else { self.n(11) };
        match choice {
            0..=3 => Gx::leaf(
                self.pick(&[
                    "0", "1", "2", "0.5", "3", "10", "100", "1e3", "-1", "0.001", "0", "1", "2",
                    "0.5", "NaN", "Inf", "-Inf", "0x10",
                ])
                .to_string(),
                Kind::Scalar,
                vec![],
            ),
            10 => {
                let a = self.scalar(depth - 1, family);
                let b = self.scalar(depth - 1, family);
                let op = self.pick(&["==", "!=", ">", "<", ">=", "<="]);
                Gx {
                    text: format!("{} {op} bool {}", a.operand(), b.operand()),
                    kind: Kind::Scalar,
                    labels: vec![],
                    binary: true,
                    children: vec![a, b],
                }
            }
            4 => Gx::leaf("time()".to_string(), Kind::Scalar, vec![]),
            5 | 6 => {
                let inner = if depth == 0 {
                    self.range_call(family)
                } else {
                    self.vector(depth - 1, family)
                };
                Gx {
                    text: format!("scalar({})", inner.text),
                    kind: Kind::Scalar,
                    labels: vec![],
                    binary: false,
                    children: vec![inner],
                }
            }
            _ => {
                let a = self.scalar(depth - 1, family);
                let b = self.scalar(depth - 1, family);
                let op = self.pick(&["+", "-", "*", "/", "%", "^"]);
                Gx {
                    text: format!("{} {op} {}", a.operand(), b.operand()),
                    kind: Kind::Scalar,
                    labels: vec![],
                    binary: true,
                    children: vec![a, b],
                }
            }
        }
    }

    /// One or two of `labels` (sometimes one that no series has).
    fn some_labels(&mut self, labels: &[&'static str]) -> Vec<&'static str> {
        let mut out = Vec::new();
        if labels.is_empty() || self.p(0.08) {
            out.push(self.pick(&["zone", "instance", "op_type"]));
        } else {
            out.push(self.pick(labels));
            if self.p(0.3) {
                let l = self.pick(labels);
                if !out.contains(&l) {
                    out.push(l);
                }
            }
        }
        out
    }

    fn aggregate(&mut self, depth: u32, family: usize) -> Gx {
        let inner = self.vector(depth.saturating_sub(1), family);
        let op = self.pick(&[
            "sum", "sum", "sum", "count", "min", "max", "avg", "topk", "bottomk", "quantile",
        ]);
        let g = self.some_labels(&inner.labels);
        let (grouping, mut labels) = match self.n(10) {
            0..=2 => (String::new(), vec![]),
            3..=7 => (format!(" by ({})", g.join(", ")), g.clone()),
            _ => (
                format!(" without ({})", g.join(", ")),
                inner
                    .labels
                    .iter()
                    .copied()
                    .filter(|l| !g.contains(l))
                    .collect(),
            ),
        };
        let param = match op {
            "topk" | "bottomk" => {
                labels = inner.labels.clone();
                format!("{}, ", self.pick(&["1", "2", "3", "0"]))
            }
            "quantile" => format!("{}, ", self.pick(&["0", "0.5", "0.9", "1", "1.5", "-1"])),
            _ => String::new(),
        };
        let text = if self.p(0.5) {
            format!("{op}{grouping} ({param}{})", inner.text)
        } else {
            format!("{op}({param}{}){grouping}", inner.text)
        };
        Gx {
            text,
            kind: Kind::Vector,
            labels,
            binary: false,
            children: vec![inner],
        }
    }

    /// `sum by (L) (inner)` style operand, for binary expressions that should match.
    fn aggregated_by(&mut self, depth: u32, family: usize, by: &[&'static str]) -> Gx {
        let inner = self.vector(depth.saturating_sub(1), family);
        let op = self.pick(&["sum", "sum", "max", "min", "avg", "count"]);
        let text = if by.is_empty() {
            format!("{op}({})", inner.text)
        } else {
            format!("{op} by ({}) ({})", by.join(", "), inner.text)
        };
        Gx {
            text,
            kind: Kind::Vector,
            labels: by.to_vec(),
            binary: false,
            children: vec![inner],
        }
    }

    fn binary_op(&mut self) -> (&'static str, bool, bool) {
        // (operator, is comparison, is set operator)
        match self.n(100) {
            0..=44 => (
                self.pick(&["+", "-", "*", "/", "/", "%", "^"]),
                false,
                false,
            ),
            45..=74 => (self.pick(&["==", "!=", ">", "<", ">=", "<="]), true, false),
            _ => (self.pick(&["and", "or", "unless"]), false, true),
        }
    }

    fn binary_vv(&mut self, depth: u32, family: usize) -> Gx {
        let (op, cmp, set) = self.binary_op();
        let bool_kw = if cmp && self.p(0.5) { " bool" } else { "" };
        let l = common_label(family);
        let d = depth.saturating_sub(1);
        let (lhs, modifier, rhs, labels) = match self.n(10) {
            // Both sides aggregated the same way: one-to-one.
            0..=3 => {
                let by: Vec<&'static str> = if self.p(0.3) { vec![] } else { vec![l] };
                let a = self.aggregated_by(d, family, &by);
                let b = self.aggregated_by(d, family, &by);
                (a, String::new(), b, by)
            }
            // many-to-one with on(L) group_left / group_right.
            4..=6 => {
                let fine = self.vector(d, family);
                let (coarse, extra) = if family == 1 && self.p(0.4) {
                    (
                        Gx::leaf(
                            "pq_build_info".to_string(),
                            Kind::Vector,
                            vec!["instance", "version"],
                        ),
                        "(version)",
                    )
                } else {
                    (self.aggregated_by(d, family, &[l]), "")
                };
                let mut labels = fine.labels.clone();
                if !extra.is_empty() {
                    labels.push("version");
                }
                if set {
                    (fine, format!(" on({l})"), coarse, labels)
                } else if self.p(0.6) {
                    (fine, format!(" on({l}) group_left{extra}"), coarse, labels)
                } else {
                    (coarse, format!(" on({l}) group_right{extra}"), fine, labels)
                }
            }
            // ignoring(...) between two arbitrary vectors of the family.
            7 => {
                let a = self.vector(d, family);
                let b = self.vector(d, family);
                let ign = self.some_labels(&a.labels);
                let labels = a.labels.clone();
                (a, format!(" ignoring({})", ign.join(", ")), b, labels)
            }
            // Anything goes (may be empty, may be many-to-many).
            _ => {
                let a = self.vector(d, family);
                let b = self.vector(d, family);
                let labels = a.labels.clone();
                (a, String::new(), b, labels)
            }
        };
        Gx {
            text: format!(
                "{} {op}{bool_kw}{modifier} {}",
                lhs.operand(),
                rhs.operand()
            ),
            kind: Kind::Vector,
            labels,
            binary: true,
            children: vec![lhs, rhs],
        }
    }

    fn binary_vs(&mut self, depth: u32, family: usize) -> Gx {
        let v = self.vector(depth.saturating_sub(1), family);
        let s = self.scalar(depth.saturating_sub(1), family);
        let (op, cmp) = if self.p(0.55) {
            (self.pick(&["+", "-", "*", "/", "%", "^", "^"]), false)
        } else {
            (self.pick(&["==", "!=", ">", "<", ">=", "<="]), true)
        };
        let bool_kw = if cmp && self.p(0.4) { " bool" } else { "" };
        let text = if self.p(0.6) {
            format!("{} {op}{bool_kw} {}", v.operand(), s.operand())
        } else {
            format!("{} {op}{bool_kw} {}", s.operand(), v.operand())
        };
        Gx {
            text,
            kind: Kind::Vector,
            labels: v.labels.clone(),
            binary: true,
            children: vec![v, s],
        }
    }

    fn math(&mut self, depth: u32, family: usize) -> Gx {
        let v = self.vector(depth.saturating_sub(1), family);
        let num = |g: &mut Gen| g.pick(&["0", "1", "0.5", "10", "-1", "2.5"]);
        let text = match self.n(10) {
            9 => format!("clamp_min({}, {})", v.text, num(self)),
            0 => format!("abs({})", v.text),
            1 => format!("ceil({})", v.text),
            2 => format!("floor({})", v.text),
            3 => format!("round({})", v.text),
            4 => format!(
                "round({}, {})",
                v.text,
                self.pick(&["0.5", "10", "0.1", "3"])
            ),
            5 => format!("clamp({}, {}, {})", v.text, num(self), num(self)),
            6 => format!("clamp_min({}, {})", v.text, num(self)),
            7 => format!("clamp_max({}, {})", v.text, num(self)),
            _ => format!("-{}", v.operand()),
        };
        Gx {
            text,
            kind: Kind::Vector,
            labels: v.labels.clone(),
            binary: false,
            children: vec![v],
        }
    }

    fn label_fn(&mut self, depth: u32, family: usize) -> Gx {
        let v = self.vector(depth.saturating_sub(1), family);
        let mut labels = v.labels.clone();
        let src_pool: Vec<&'static str> = if v.labels.is_empty() {
            vec!["instance", "nope"]
        } else {
            v.labels.clone()
        };
        let text = if self.p(0.6) {
            let dst = self.pick(&["dst", "dst", "instance", "op_type", "code", "__name__"]);
            let repl = self.pick(&["$1", "x-$1", "${1}y", "", "$2", "static"]);
            let src = self.pick(&src_pool);
            let re = self.pick(&[
                "(.*)",
                "(.).*",
                "([a-z]+)-(.*)",
                ".*",
                "(a|b)",
                "(.+)",
                "0(.)-(.*)",
                "(\\\\d+)",
                "([",
            ]);
            if !labels.contains(&dst) {
                labels.push(dst);
            }
            format!(
                "label_replace({}, \"{dst}\", \"{repl}\", \"{src}\", \"{re}\")",
                v.text
            )
        } else {
            let dst = self.pick(&["joined", "joined", "instance"]);
            let sep = self.pick(&["-", ",", ""]);
            let n = self.pick(&[0, 1, 1, 2, 2, 3]);
            let srcs: Vec<String> = (0..n)
                .map(|_| format!("\"{}\"", self.pick(&src_pool)))
                .collect();
            if !labels.contains(&dst) {
                labels.push(dst);
            }
            format!(
                "label_join({}, \"{dst}\", \"{sep}\", {})",
                v.text,
                srcs.join(", ")
            )
        };
        Gx {
            text,
            kind: Kind::Vector,
            labels,
            binary: false,
            children: vec![v],
        }
    }

    fn absent(&mut self, depth: u32, family: usize) -> Gx {
        let inner = match self.n(5) {
            0 | 1 => self.instant_selector(family),
            2 => Gx::leaf(
                self.pick(&[
                    "pq_nothing{job=\"x\",instance=~\"a\"}",
                    "pq_nothing",
                    "go_map_update_total{op_type=\"get\"}",
                    "pq_requests_total{code=\"302\",job=\"api\"}",
                ])
                .to_string(),
                Kind::Vector,
                vec![],
            ),
            3 => self.range_call(family),
            _ => self.vector(depth.saturating_sub(1), family),
        };
        Gx {
            text: format!("absent({})", inner.text),
            kind: Kind::Vector,
            labels: vec![],
            binary: false,
            children: vec![inner],
        }
    }

    fn histogram_quantile(&mut self, depth: u32, family: usize) -> Gx {
        let b = bucket_metric(family);
        let l = common_label(family);
        let sel = self.selector(b);
        let w = self.window();
        let inner = match self.n(8) {
            0 | 1 => format!("sum by (le) (rate({sel}[{w}]))"),
            2 => format!("sum by (le, {l}) (rate({sel}[{w}]))"),
            3 => format!("rate({sel}[{w}])"),
            4 => format!("sum without ({l}) (increase({sel}[{w}]))"),
            // Buckets that need not be monotonic (deltas of a counter with resets).
            5 => format!("sum by (le) (idelta({sel}[{w}]))"),
            6 => format!("sum by (le) (delta({sel}[{w}]) - 3)"),
            _ => format!("max by (le) ({sel})"),
        };
        let inner = Gx::leaf(inner, Kind::Vector, vec!["le", l]);
        let q = if self.p(0.1) {
            self.scalar(depth.saturating_sub(1), family)
        } else {
            Gx::leaf(
                self.pick(&["0.5", "0.9", "0.99", "0.999", "0", "1", "1.5", "-0.5"])
                    .to_string(),
                Kind::Scalar,
                vec![],
            )
        };
        Gx {
            text: format!("histogram_quantile({}, {})", q.text, inner.text),
            kind: Kind::Vector,
            labels: vec![l],
            binary: false,
            children: vec![inner, q],
        }
    }

    fn vector(&mut self, depth: u32, family: usize) -> Gx {
        if depth == 0 {
            return if self.p(0.3) {
                self.instant_selector(family)
            } else {
                self.range_call(family)
            };
        }
        match self.n(100) {
            0..=11 => self.range_call(family),
            12..=16 => self.instant_selector(family),
            17..=36 => self.aggregate(depth, family),
            37..=54 => self.binary_vv(depth, family),
            55..=64 => self.binary_vs(depth, family),
            65..=72 => self.math(depth, family),
            73..=78 => self.label_fn(depth, family),
            79..=82 => self.absent(depth, family),
            83..=90 => self.histogram_quantile(depth, family),
            91..=94 => {
                let s = self.scalar(depth - 1, family);
                Gx {
                    text: format!("vector({})", s.text),
                    kind: Kind::Vector,
                    labels: vec![],
                    binary: false,
                    children: vec![s],
                }
            }
            _ => {
                let v = self.vector(depth - 1, family);
                Gx {
                    text: format!("({})", v.text),
                    kind: Kind::Vector,
                    labels: v.labels.clone(),
                    binary: false,
                    children: vec![v],
                }
            }
        }
    }

    fn top(&mut self) -> Gx {
        let family = self.n(2);
        match self.n(20) {
            0 => {
                let m = self.metric(family, &[MKind::Counter, MKind::Gauge, MKind::Bucket]);
                self.range_selector(m)
            }
            1 => {
                let d = self.pick(&[0, 1, 2]);
                self.scalar(d, family)
            }
            _ => {
                let d = self.pick(&[0, 1, 1, 2, 2, 2, 3]);
                self.vector(d, family)
            }
        }
    }
}

/// Hand-written expressions, one or more per construct of the subset and per edge case of
/// the history, compared at every instant (the generated ones add the combinations).
const ANCHORS: &[&str] = &[
    "rate(pq_requests_total[5m])",
    "increase(pq_requests_total{code=~\"5..\"}[10m])",
    "irate(pq_requests_total{instance=\"b\"}[1m])",
    "delta(pq_temperature_celsius[10m])",
    "idelta(pq_temperature_celsius[1m])",
    "resets(pq_requests_total[1h])",
    "changes(pq_temperature_celsius[30m])",
    "avg_over_time(pq_temperature_celsius[5m])",
    "min_over_time(pq_temperature_celsius[5m])",
    "max_over_time(pq_temperature_celsius[5m])",
    "sum_over_time(pq_temperature_celsius[5m])",
    "count_over_time(pq_requests_total[5m])",
    "quantile_over_time(0.9, pq_temperature_celsius[10m])",
    "stddev_over_time(pq_temperature_celsius[10m])",
    "stdvar_over_time(go_map_update_total[10m])",
    "last_over_time(pq_requests_total[2m])",
    "present_over_time(pq_requests_total[2m])",
    "vector(time())",
    "scalar(sum(rate(pq_requests_total[5m])))",
    "time() - 1795000000",
    "abs(delta(pq_temperature_celsius[5m]))",
    "ceil(rate(pq_requests_total[5m]))",
    "floor(rate(pq_requests_total[5m]))",
    "round(rate(pq_requests_total[5m]), 0.1)",
    "round(pq_temperature_celsius)",
    "clamp(pq_temperature_celsius, 18, 20)",
    "clamp_min(pq_temperature_celsius, 19)",
    "clamp_max(pq_temperature_celsius, 19)",
    "label_replace(pq_requests_total, \"class\", \"${1}xx\", \"code\", \"(.).*\")",
    "label_join(pq_requests_total, \"id\", \"/\", \"job\", \"instance\", \"code\")",
    "absent(pq_requests_total{job=\"nope\",code=\"500\"})",
    "absent(pq_requests_total{job=\"api\"})",
    "histogram_quantile(0.9, sum by (le) (rate(pq_latency_seconds_bucket[5m])))",
    "histogram_quantile(0.5, sum by (le, instance) (rate(pq_latency_seconds_bucket[10m])))",
    "histogram_quantile(0.99, sum by (le) (rate(go_map_update_duration_seconds_bucket[1h])))",
    "sum by (le) (rate(pq_latency_seconds_bucket[5m]))",
    "sum without (code) (rate(pq_requests_total[5m]))",
    "count by (job) (pq_requests_total)",
    "min by (instance) (pq_temperature_celsius)",
    "max(pq_temperature_celsius)",
    "sum(pq_temperature_celsius)",
    "avg by (op_type) (rate(go_map_update_total[5m]))",
    "topk(2, rate(pq_requests_total[5m]))",
    "bottomk by (job) (1, rate(pq_requests_total[5m]))",
    "topk(1, changes(pq_requests_total[10m]))",
    "quantile by (job) (0.5, rate(pq_requests_total[5m]))",
    "sum(rate(pq_requests_total{code=\"500\"}[5m])) / sum(rate(pq_requests_total[5m]))",
    "sum by (instance) (rate(pq_requests_total[5m])) - sum by (instance) (rate(pq_requests_total[5m] offset 5m))",
    "-rate(pq_requests_total[5m])",
    "rate(pq_requests_total[5m]) * 60 + 1",
    "rate(pq_requests_total[5m]) % 3",
    "2 ^ pq_temperature_celsius / 1e6",
    "rate(pq_requests_total[5m]) == 0",
    "rate(pq_requests_total[5m]) != bool 0",
    "pq_temperature_celsius > 19",
    "pq_temperature_celsius < bool 19",
    "pq_temperature_celsius >= 20",
    "pq_temperature_celsius <= 20",
    "1 < bool 2",
    "pq_requests_total{code=\"500\"} and on(instance) pq_build_info{version=\"1.2.3\"}",
    "pq_requests_total{code=\"200\"} or pq_requests_total{code=\"500\"}",
    "pq_requests_total unless ignoring(code) pq_requests_total{code=\"404\"}",
    "rate(pq_requests_total[5m]) * on(instance) group_left(version) pq_build_info",
    "pq_build_info * on(instance) group_right(version) rate(pq_requests_total[5m])",
    "rate(go_map_update_failure_total[5m]) / ignoring(error_class) group_left rate(go_map_update_total[5m])",
    "{__name__=~\"pq_requests_total|pq_build_info\", instance!~\"c\"}",
    "pq_requests_total{code!~\"2..\", job!=\"web\"} offset 1m",
    "pq_latency_seconds_bucket{le=~\"0.10?\"}[2m]",
    "go_map_update_total[90s] offset 5m",
];

/// The generated expressions: distinct texts, deterministic for SEED.
fn generated_expressions(n: usize) -> Vec<Gx> {
    let mut fixed = SEED;
    if let Some(k) = std::env::var("PROMQL_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        fixed[24..].copy_from_slice(&k.to_le_bytes());
    }
    let config = Config {
        rng_algorithm: RngAlgorithm::ChaCha,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &fixed));
    let mut seed = [0u8; 32];
    runner.rng().fill_bytes(&mut seed);
    let mut g = Gen {
        rng: TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut tries = 0;
    while out.len() < n && tries < n * 20 {
        tries += 1;
        let e = g.top();
        if e.text.len() <= 1500 && seen.insert(e.text.clone()) {
            out.push(e);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------

/// One comparison to make.
struct Job {
    /// Index into `texts`.
    expr: usize,
    what: When,
}

#[derive(Clone, Copy)]
enum When {
    At(usize),
    Range(usize),
}

#[derive(Default)]
struct Tally {
    compared: usize,
    nonempty: usize,
    errors_matched: usize,
    unsupported_in_subset: BTreeMap<String, (usize, String)>,
    unsupported_outside: BTreeMap<String, (usize, String)>,
    mismatches: Vec<String>,
    mismatch_exprs: BTreeSet<usize>,
    values: usize,
    exact: usize,
    /// Examples of values equal only within the tolerance.
    inexact: Vec<String>,
    /// Expressions with at least one agreeing, non-empty comparison.
    agreeing_nonempty: BTreeSet<usize>,
}

/// Constructs of the subset the generated expressions must exercise (with at least one
/// agreeing, non-empty comparison each): name and a regex over the expression text.
fn constructs() -> Vec<(String, regex::Regex)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for f in SUBSET_FUNCTIONS {
        out.push((format!("{f}()"), format!(r"\b{f}\(")));
    }
    for a in SUBSET_AGGREGATIONS {
        out.push((a.to_string(), format!(r"\b{a}\s*(\(|by\b|without\b)")));
    }
    for (name, re) in [
        ("+", r"\s\+\s"),
        ("-", r"\s-\s"),
        ("unary -", r"(^|[(,]\s*)-[a-z(]"),
        ("*", r"\s\*\s"),
        ("/", r"\s/\s"),
        ("%", r"\s%\s"),
        ("^", r"\s\^\s"),
        ("==", r"\s==[\s]"),
        ("!=", r"\s!=[\s]"),
        (">", r"\s>[\s]"),
        ("<", r"\s<[\s]"),
        (">=", r"\s>=[\s]"),
        ("<=", r"\s<=[\s]"),
        ("bool", r"\sbool\s"),
        ("and", r"\sand\s"),
        ("or", r"\sor\s"),
        ("unless", r"\sunless\s"),
        ("on()", r"\bon\("),
        ("ignoring()", r"\bignoring\("),
        ("group_left", r"\bgroup_left\b"),
        ("group_right", r"\bgroup_right\b"),
        ("by", r"\bby \("),
        ("without", r"\bwithout \("),
        ("offset", r"\soffset\s"),
        ("=~", "=~\""),
        ("!~", "!~\""),
        ("__name__", r"__name__"),
        ("range selector", r"\]"),
    ] {
        out.push((name.to_string(), re.to_string()));
    }
    out.into_iter()
        .map(|(n, r)| (n, regex::Regex::new(&r).unwrap()))
        .collect()
}

/// The harness must see a difference where there is one, and none within the tolerance.
fn harness_self_check(api: &PromApi, storage: &MemStorage) {
    assert!(same_value(f64::NAN, f64::NAN));
    assert!(!same_value(f64::NAN, 0.0));
    assert!(!same_value(f64::INFINITY, f64::MAX));
    assert!(same_value(f64::NEG_INFINITY, f64::NEG_INFINITY));
    assert!(same_value(0.0, 1e-13) && !same_value(0.0, 1e-11));
    assert!(same_value(1e6, 1e6 * (1.0 + 1e-10)) && !same_value(1e6, 1e6 * (1.0 + 1e-8)));
    let t = SYN_START_MS + HOUR_MS;
    let expr = "rate(pq_requests_total[5m])";
    let prom = api.instant(expr, t).expect("prometheus answers");
    let Res::Vector(v) = &prom else {
        panic!("{expr}: not a vector")
    };
    assert!(v.len() >= 6, "{expr}: {}", summary(&prom));
    let scaled = |f: f64| Res::Vector(v.iter().map(|(l, x)| (l.clone(), x * f)).collect());
    assert!(diff(&scaled(1.0 + 1e-8), &prom).is_some());
    assert!(diff(&scaled(1.0 + 1e-11), &prom).is_none());
    assert!(diff(&Res::Vector(v[1..].to_vec()), &prom).is_some());
    let mut relabeled = v.clone();
    relabeled[0].0.insert("extra".into(), "x".into());
    relabeled.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(diff(&Res::Vector(relabeled), &prom).is_some());
    let mut doubled = v.clone();
    doubled.push(v[0].clone());
    doubled.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(diff(&Res::Vector(doubled), &prom).is_some());
    assert!(diff(&Res::Scalar(1.0), &prom).is_some());
    // Prometheus 3's left-open windows give another count on the scrape grid: the harness
    // tells the two semantics apart (printed only: the flavor is not this test's subject).
    let on_grid = "count_over_time(pq_requests_total{instance=\"a\"}[1m])";
    if let (Ok(p2), Ok(Ok(p3))) = (
        api.instant(on_grid, t),
        catch_unwind(AssertUnwindSafe(|| {
            Query::parse(on_grid)
                .and_then(|q| promql::eval_instant(&q, storage, t, Flavor::Prometheus3))
        })),
    ) {
        println!(
            "harness: {on_grid} at {} with Prometheus 3 semantics locally {} Prometheus 2.42",
            om_seconds(t),
            if diff(&sort_local(p3), &p2).is_some() {
                "differs from"
            } else {
                "EQUALS"
            }
        );
    }
    // A local answer 15 s later is a different answer.
    if let Local::Ok(later) = local_instant(storage, expr, t + 15 * SECOND_MS) {
        assert!(
            diff(&later, &prom).is_some(),
            "harness: a 15 s shift of the evaluation time went unnoticed"
        );
    }
}

#[test]
fn local_promql_matches_prometheus_2_42() {
    let started = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let prom_only = std::env::var_os("PROMQL_DIFF_PROM_ONLY").is_some();
    let cases: usize = std::env::var("PROMQL_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(GENERATED_EXPRESSIONS);

    // Spec queries, then the history they need.
    let (spec_queries, loaded) = spec_queries(&root);
    let mut rng = Rng::new(42);
    let mut series = curated_series(&mut rng);
    series.extend(spec_series(&spec_queries, &mut rng));
    let dir = tempfile::Builder::new()
        .prefix("burnrate-promql-diff-")
        .tempdir()
        .unwrap();
    let om = dir.path().join("history.om");
    let synthetic_samples = write_history(&om, &series);
    let blocks = dir.path().join("blocks");
    promfix::backfill_with_block_duration(&om, &blocks, Some("72h"));
    let prom = Prometheus::start(&blocks);
    let api = PromApi {
        base: prom.url(),
        agent: ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build(),
    };
    let stored = stored_series(&api);
    let stored_samples: usize = stored.iter().map(|(_, s)| s.len()).sum();
    let storage = local_storage(&stored);
    harness_self_check(&api, &storage);
    println!(
        "history: {} synthetic series ({synthetic_samples} samples) + the demo history; Prometheus stores {} series, {stored_samples} samples; ready after {:.1?}",
        series.len(),
        stored.len(),
        started.elapsed()
    );
    assert!(
        stored.len() >= series.len() + 40,
        "backfill lost series: wrote {} + 40 demo series, Prometheus has {}",
        series.len(),
        stored.len()
    );
    println!("specs loaded per group:");
    for (group, n) in &loaded {
        println!("  {n:3} {group}");
    }
    assert!(
        loaded
            .iter()
            .filter(|(g, _)| !g.starts_with("shared/"))
            .map(|(_, n)| n)
            .sum::<usize>()
            >= 20,
        "too few specs loaded from slo-specs/ and tests/fixtures/"
    );

    // What to compare.
    let generated = generated_expressions(cases);
    let mut instants = instants();
    // Just after the NaN sample (its time is jittered: found in what Prometheus stored).
    let nan_at = stored
        .iter()
        .flat_map(|(_, samples)| samples.iter())
        .find(|(_, v)| v.is_nan())
        .map(|(t, _)| *t)
        .expect("the NaN sample is stored");
    instants.push(("nan-sample+1ms", nan_at + 1));
    // The lookback's edge: exactly 5 minutes after the stale series' last sample (still
    // selected by 2.42, whose lookback is closed on the left) and 1 ms later (gone).
    let stale_last = stored
        .iter()
        .find(|(l, _)| {
            l.get("__name__").map(String::as_str) == Some("pq_requests_total")
                && l.get("instance").map(String::as_str) == Some("a")
                && l.get("code").map(String::as_str) == Some("404")
        })
        .and_then(|(_, samples)| samples.last())
        .map(|(t, _)| *t)
        .expect("the stale series is stored");
    instants.push(("stale-last+5m", stale_last + 5 * MINUTE_MS));
    instants.push(("stale-last+5m+1ms", stale_last + 5 * MINUTE_MS + 1));
    let grids = range_grids();
    let mut texts: Vec<(String, String)> = Vec::new(); // (origin, text)
    let mut jobs: Vec<Job> = Vec::new();
    for q in &spec_queries {
        let e = texts.len();
        texts.push((q.origin.clone(), q.text.clone()));
        jobs.extend((0..instants.len()).map(|i| Job {
            expr: e,
            what: When::At(i),
        }));
    }
    let first_anchor = texts.len();
    for (k, a) in ANCHORS.iter().enumerate() {
        let e = texts.len();
        texts.push((format!("anchor #{k}"), a.to_string()));
        jobs.extend((0..instants.len()).map(|i| Job {
            expr: e,
            what: When::At(i),
        }));
    }
    let first_generated = texts.len();
    for (k, g) in generated.iter().enumerate() {
        let e = texts.len();
        texts.push((format!("generated #{k}"), g.text.clone()));
        // A deterministic spread over all instants.
        // Strides coprime with the number of instants: 10 distinct ones.
        let strides: Vec<usize> = (1..instants.len())
            .filter(|d| gcd(*d, instants.len()) == 1)
            .collect();
        let stride = strides[k % strides.len()];
        jobs.extend((0..INSTANTS_PER_GENERATED).map(|j| Job {
            expr: e,
            what: When::At((k * 7 + j * stride) % instants.len()),
        }));
    }
    // Range queries: spec queries spread over the list (check queries and raw ones), every
    // anchor that is not a bare range selector, and the first generated vector/scalar
    // expressions; the step grids in turn.
    let mut range_exprs: Vec<usize> = (0..spec_queries.len())
        .step_by((spec_queries.len() / SPEC_RANGE_QUERIES).max(1))
        .take(SPEC_RANGE_QUERIES)
        .collect();
    range_exprs.extend(
        ANCHORS
            .iter()
            .enumerate()
            .filter(|(_, a)| (!a.contains("]") || a.contains("(")) && range_comparable(a))
            .map(|(k, _)| first_anchor + k),
    );
    range_exprs.extend(
        generated
            .iter()
            .enumerate()
            .filter(|(_, g)| g.kind != Kind::Matrix && range_comparable(&g.text))
            .map(|(k, _)| first_generated + k)
            .take(
                std::env::var("PROMQL_DIFF_RANGE_CASES")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(GENERATED_RANGE_EXPRESSIONS),
            ),
    );
    for (n, &e) in range_exprs.iter().enumerate() {
        jobs.push(Job {
            expr: e,
            what: When::Range(n % grids.len()),
        });
    }

    // Prometheus's answers, on a few threads.
    let prom_started = Instant::now();
    let answers: Vec<Result<Res, String>> = {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let slots: Vec<std::sync::Mutex<Option<Result<Res, String>>>> =
            jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
        std::thread::scope(|s| {
            for _ in 0..PROMETHEUS_THREADS {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= jobs.len() {
                            break;
                        }
                        let text = &texts[jobs[i].expr].1;
                        let r = match jobs[i].what {
                            When::At(t) => api.instant(text, instants[t].1),
                            When::Range(g) => api.range(text, grids[g].1),
                        };
                        *slots[i].lock().unwrap() = Some(r);
                    }
                });
            }
        });
        slots
            .into_iter()
            .map(|m| m.into_inner().unwrap().unwrap())
            .collect()
    };
    let prom_elapsed = prom_started.elapsed();
    // Spec queries the history leaves empty at every instant (it should cover them all).
    let empty_specs: Vec<&str> = (0..spec_queries.len())
        .filter(|&e| {
            !jobs
                .iter()
                .zip(&answers)
                .any(|(j, a)| j.expr == e && matches!(a, Ok(r) if !r.is_empty()))
        })
        .map(|e| texts[e].0.as_str())
        .collect();
    println!(
        "spec queries: {} of {} texts non-empty at some instant{}",
        spec_queries.len() - empty_specs.len(),
        spec_queries.len(),
        if empty_specs.is_empty() {
            String::new()
        } else {
            format!("; always empty or an error: {}", empty_specs.join("; "))
        }
    );
    let prom_errors = answers.iter().filter(|a| a.is_err()).count();
    let prom_nonempty = answers
        .iter()
        .filter(|a| matches!(a, Ok(r) if !r.is_empty()))
        .count();
    println!(
        "prometheus: {} queries ({} spec query texts, {} generated expressions, {} range queries) in {prom_elapsed:.1?}: {prom_nonempty} non-empty, {prom_errors} errors",
        jobs.len(),
        spec_queries.len(),
        generated.len(),
        range_exprs.len()
    );
    if let (Ok(show), Ok(range)) = (
        std::env::var("PROMQL_DIFF_SHOW"),
        std::env::var("PROMQL_DIFF_SHOW_RANGE"),
    ) {
        // START,END,STEP in Unix ms.
        let v: Vec<i64> = range
            .split(',')
            .map(|x| x.trim().parse().unwrap())
            .collect();
        let steps = Steps {
            start_ms: v[0],
            end_ms: v[1],
            step_ms: v[2],
        };
        let l = match local_range(&storage, &show, steps) {
            Local::Ok(r) => r,
            Local::Error(e) | Local::Unsupported(e) | Local::Panicked(e) => {
                panic!("local range evaluation of {show}: {e}")
            }
        };
        let p = api.range(&show, steps).unwrap();
        println!("range {show} {range}: {:?}", diff(&l, &p));
        for i in 0..steps.count() {
            let t = steps.time(i);
            let at = |r: &Res| -> Vec<String> {
                let Res::Matrix(m) = r else { unreachable!() };
                m.iter()
                    .filter_map(|(lab, pts)| {
                        pts.iter()
                            .find(|(pt, _)| *pt == t)
                            .map(|(_, x)| format!("{} {x}", fmt_labels(lab)))
                    })
                    .collect()
            };
            let li = match local_instant(&storage, &show, t) {
                Local::Ok(r) => summary(&r),
                _ => "error".into(),
            };
            println!(
                "  step {t}:\n    local range   {:?}\n    prom range    {:?}\n    local instant {li}\n    prom instant  {}",
                at(&l),
                at(&p),
                api.instant(&show, t)
                    .map(|r| summary(&r))
                    .unwrap_or_default()
            );
        }
        return;
    }
    if let Ok(show) = std::env::var("PROMQL_DIFF_SHOW") {
        for (name, t) in &instants {
            let l = match local_instant(&storage, &show, *t) {
                Local::Ok(r) => summary(&r),
                Local::Error(e) => format!("error {e}"),
                Local::Unsupported(e) => format!("unsupported {e}"),
                Local::Panicked(e) => format!("panicked {e}"),
            };
            let p = match api.instant(&show, *t) {
                Ok(r) => summary(&r),
                Err(e) => format!("error {e}"),
            };
            println!(
                "{show} at {} ({name}):\n  local      {l}\n  prometheus {p}",
                om_seconds(*t)
            );
        }
        return;
    }
    if prom_only {
        // Per generated expression: non-empty / error answers out of its instants.
        for (k, g) in generated.iter().enumerate() {
            let e = first_generated + k;
            let mine: Vec<&Result<Res, String>> = jobs
                .iter()
                .zip(&answers)
                .filter(|(j, _)| j.expr == e && matches!(j.what, When::At(_)))
                .map(|(_, a)| a)
                .collect();
            let nonempty = mine
                .iter()
                .filter(|a| matches!(a, Ok(r) if !r.is_empty()))
                .count();
            let errors = mine.iter().filter(|a| a.is_err()).count();
            println!(
                "  #{k} {nonempty}/{errors}/{} {:?} {}",
                mine.len(),
                g.kind,
                g.text
            );
        }
        println!("PROMQL_DIFF_PROM_ONLY: local evaluation skipped");
        return;
    }

    // The local side, and the comparison.
    let local_started = Instant::now();
    let mut tally = Tally::default();
    let mut instant_compared = 0;
    let mut range_compared = 0;
    let mut panics = 0;
    for (job, prom_answer) in jobs.iter().zip(&answers) {
        let (origin, text) = &texts[job.expr];
        let (local, when) = match job.what {
            When::At(i) => (
                local_instant(&storage, text, instants[i].1),
                format!("at {} ({})", om_seconds(instants[i].1), instants[i].0),
            ),
            When::Range(g) => {
                let s = grids[g].1;
                (
                    local_range(&storage, text, s),
                    format!(
                        "range {}..{} step {} ({})",
                        om_seconds(s.start_ms),
                        om_seconds(s.end_ms),
                        om_seconds(s.step_ms),
                        grids[g].0
                    ),
                )
            }
        };
        if matches!(local, Local::Panicked(_)) {
            panics += 1;
        }
        match job.what {
            When::At(_) => instant_compared += 1,
            When::Range(_) => range_compared += 1,
        }
        match judge(local, prom_answer) {
            Outcome::Agree {
                nonempty,
                error,
                values,
                exact,
                inexact,
            } => {
                tally.values += values;
                tally.exact += exact;
                if let Some((l, p)) = inexact
                    && tally.inexact.len() < 10
                {
                    tally.inexact.push(format!(
                        "`{}` {when}: local {l:?} vs prometheus {p:?}",
                        clip(text)
                    ));
                }
                if nonempty {
                    tally.agreeing_nonempty.insert(job.expr);
                }
                tally.compared += 1;
                tally.nonempty += nonempty as usize;
                tally.errors_matched += error as usize;
            }
            Outcome::Unsupported(why) => {
                let key = why.clone();
                let entry = match in_subset(text) {
                    Some(Err(_)) => &mut tally.unsupported_outside,
                    _ => &mut tally.unsupported_in_subset,
                };
                entry.entry(key).or_insert((0, text.clone())).0 += 1;
            }
            Outcome::Disagree(d) => {
                tally.compared += 1;
                if tally.mismatch_exprs.insert(job.expr) || tally.mismatches.len() < 200 {
                    // Shrink generated expressions to the smallest disagreeing part.
                    let minimal = match job.what {
                        When::At(i) if job.expr >= first_generated => shrink(
                            &api,
                            &storage,
                            &generated[job.expr - first_generated],
                            instants[i].1,
                        ),
                        _ => None,
                    };
                    let mut m = format!("{origin}: `{text}` {when}: {d}");
                    if let Some((small, sd)) = minimal {
                        write!(m, "\n      minimal: `{small}`: {sd}").unwrap();
                    }
                    tally.mismatches.push(m);
                }
            }
        }
        assert!(
            panics <= 50,
            "the local evaluator panicked more than 50 times (is it implemented yet?); last: {:?}",
            tally.mismatches.last()
        );
    }
    let local_elapsed = local_started.elapsed();

    // Report.
    println!(
        "compared {} pairs ({instant_compared} instant: {} spec query texts and {} anchors x {} instants + {} generated expressions x {INSTANTS_PER_GENERATED} instants; {range_compared} range queries over 3 step grids): {} non-empty, {} errors matched, {} unsupported, {} disagreements in {} expressions",
        instant_compared + range_compared,
        spec_queries.len(),
        ANCHORS.len(),
        instants.len(),
        generated.len(),
        tally.nonempty,
        tally.errors_matched,
        tally
            .unsupported_in_subset
            .values()
            .map(|v| v.0)
            .sum::<usize>()
            + tally
                .unsupported_outside
                .values()
                .map(|v| v.0)
                .sum::<usize>(),
        tally.mismatches.len(),
        tally.mismatch_exprs.len(),
    );
    println!(
        "values compared: {} ({} bit-identical, {} within the tolerance only)",
        tally.values,
        tally.exact,
        tally.values - tally.exact
    );
    for m in &tally.inexact {
        println!("  within the tolerance only: {m}");
    }
    println!(
        "time: setup {:.1?}, prometheus {prom_elapsed:.1?}, local {local_elapsed:.1?}, total {:.1?}",
        prom_started.duration_since(started),
        started.elapsed()
    );
    if !tally.unsupported_outside.is_empty() {
        println!("rejected as unsupported, outside the subset (right):");
        for (why, (n, example)) in &tally.unsupported_outside {
            println!("  {n:4}x {why}  e.g. `{}`", clip(example));
        }
    }
    let mut uncovered = Vec::new();
    let mut coverage = Vec::new();
    for (name, re) in constructs() {
        let n = tally
            .agreeing_nonempty
            .iter()
            .filter(|&&e| e >= first_anchor && re.is_match(&texts[e].1))
            .count();
        coverage.push(format!("{name} {n}"));
        if n == 0 {
            uncovered.push(name);
        }
    }
    println!(
        "anchor and generated expressions with an agreeing non-empty answer, per construct: {}",
        coverage.join(", ")
    );
    let mut unexpected_gaps = Vec::new();
    if !tally.unsupported_in_subset.is_empty() {
        println!("rejected as unsupported, INSIDE the subset:");
        for (why, (n, example)) in &tally.unsupported_in_subset {
            let known = KNOWN_GAPS.iter().any(|g| why.contains(g));
            println!(
                "  {n:4}x {}{why}  e.g. `{}`",
                if known { "[known gap] " } else { "" },
                clip(example)
            );
            if !known {
                unexpected_gaps.push(format!("{why} (e.g. `{}`)", clip(example)));
            }
        }
    }
    if let Some(path) = std::env::var_os("PROMQL_DIFF_FINDINGS")
        && !tally.mismatches.is_empty()
    {
        let mut md = format!(
            "\n## promql_matches_prometheus run at {}: {} disagreements\n\n",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
            tally.mismatches.len()
        );
        for m in &tally.mismatches {
            writeln!(md, "- {m}").unwrap();
        }
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
            .write_all(md.as_bytes())
            .unwrap();
    }
    let mut failure = String::new();
    if !tally.mismatches.is_empty() {
        writeln!(
            failure,
            "{} disagreements with Prometheus 2.42 (in {} expressions); the first {}:",
            tally.mismatches.len(),
            tally.mismatch_exprs.len(),
            SHOWN_MISMATCHES.min(tally.mismatches.len())
        )
        .unwrap();
        for m in tally.mismatches.iter().take(SHOWN_MISMATCHES) {
            writeln!(failure, "  - {m}").unwrap();
        }
    }
    if !unexpected_gaps.is_empty() {
        writeln!(
            failure,
            "queries inside the subset rejected as unsupported:"
        )
        .unwrap();
        for g in &unexpected_gaps {
            writeln!(failure, "  - {g}").unwrap();
        }
    }
    if !uncovered.is_empty() && cases >= GENERATED_EXPRESSIONS {
        writeln!(
            failure,
            "constructs of the subset without an agreeing non-empty comparison: {}",
            uncovered.join(", ")
        )
        .unwrap();
    }
    assert!(
        tally.nonempty * 2 > tally.compared,
        "most comparisons should be non-empty"
    );
    assert!(failure.is_empty(), "{failure}");
    drop(prom);
}

/// Whether a range query's answer is well defined. Not with `topk`/`bottomk`: Prometheus
/// 2.42's range evaluation (`rangeEval`, more than one step) collects a function's or an
/// operator's output series through a Go map, so their order, and with it which of several
/// equal values `topk`/`bottomk` keep, changes from run to run (an instant query, one step,
/// keeps the order, and those are compared strictly). Seen: `topk(3, label_join(B, "instance",
/// "-", "le"))` at the demo's start, where five buckets hold the same count.
fn range_comparable(text: &str) -> bool {
    !text.contains("topk") && !text.contains("bottomk")
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The smallest sub-expression of `g` (itself included) whose local answer at `t_ms`
/// disagrees with Prometheus's, and how.
fn shrink(api: &PromApi, storage: &MemStorage, g: &Gx, t_ms: i64) -> Option<(String, String)> {
    for c in &g.children {
        if let Some(found) = shrink(api, storage, c, t_ms) {
            return Some(found);
        }
    }
    match judge(
        local_instant(storage, &g.text, t_ms),
        &api.instant(&g.text, t_ms),
    ) {
        Outcome::Disagree(d) => Some((g.text.clone(), d)),
        _ => None,
    }
}
