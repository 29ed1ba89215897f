//! A synthetic fleet for the backtest benchmarks: services with a request counter (by status
//! code) and a classic latency histogram, a deterministic incident schedule per service, and
//! `burnrate/v1` spec files for SLOs over them.
//!
//! Needs `crate::history` (tests/common/history.rs) in the including crate.
//!
//! Series per service (8): `requests_total{svc,code="200"|"500"}` and
//! `latency_seconds_{bucket,count,sum}{svc}` with `le` 0.1, 0.3, 1, +Inf (or the 13
//! `FINE_BOUNDS`: 18 series). Names are short on purpose: 30 days of 1-minute samples of a
//! 20-service fleet stay around 400 MB of text.

use crate::history::{Counter, DAY, HOUR, Histogram, History, LogLogistic, MINUTE, Rng};
use std::path::Path;
use std::sync::Arc;

/// Histogram bucket bounds, as written in `le`.
pub const BOUNDS: [&str; 3] = ["0.1", "0.3", "1"];

/// Finer bounds (13, so 18 series per service): what a default client-library histogram
/// looks like, for the benches and tests about the size of the daemon's history.
pub const FINE_BOUNDS: [&str; 13] = [
    "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.3", "0.5", "0.75", "1", "2.5", "5",
];

/// What a service suffers during an incident.
#[derive(Debug, Clone, Copy)]
enum Trouble {
    /// Share of failed requests.
    Errors(f64),
    /// Latency distribution during the incident (median, p99).
    Slow(f64, f64),
}

#[derive(Debug, Clone, Copy)]
struct Incident {
    from: i64,
    to: i64,
    trouble: Trouble,
}

/// Traffic shape and incidents of one service; shared by its series' rate functions.
#[derive(Debug)]
struct Profile {
    /// Mean requests per second.
    base: f64,
    /// Diurnal phase, seconds.
    phase: i64,
    incidents: Vec<Incident>,
}

impl Profile {
    fn traffic(&self, t: i64) -> f64 {
        let day = ((t + self.phase).rem_euclid(DAY)) as f64 / DAY as f64;
        self.base * (1.0 + 0.5 * (day * std::f64::consts::TAU).sin())
    }

    fn error_ratio(&self, t: i64) -> f64 {
        self.incidents
            .iter()
            .filter(|i| i.from <= t && t < i.to)
            .filter_map(|i| match i.trouble {
                Trouble::Errors(r) => Some(r),
                Trouble::Slow(..) => None,
            })
            .fold(0.0003, f64::max)
    }

    fn latency(&self, t: i64) -> LogLogistic {
        let (median, p99) = self
            .incidents
            .iter()
            .filter(|i| i.from <= t && t < i.to)
            .find_map(|i| match i.trouble {
                Trouble::Slow(m, p) => Some((m, p)),
                Trouble::Errors(_) => None,
            })
            .unwrap_or((0.05, 0.22));
        LogLogistic::from_median_p99(median, p99)
    }
}

/// Deterministic incidents of service `index` in `[start + 1d, end - 2h)`: a fast error
/// burst (burn 50 for 30 minutes at 99.9%), a slow error burn (burn 4 for 10 hours), a
/// latency spike (~28% over 300ms for 45 minutes) and a long slowdown (~8.5% over 300ms for
/// 8 hours), so that every decision of the default ladder is reached somewhere.
fn schedule(index: usize, start: i64, end: i64) -> Vec<Incident> {
    let mut rng = Rng::new(0xB0_0000 + index as u64);
    let lo = start + DAY.min((end - start) / 4);
    let hi = end - 2 * HOUR;
    let mut at = |len: i64| -> (i64, i64) {
        let span = (hi - lo - len).max(1) as f64;
        let from = lo + (rng.next_f64() * span) as i64 / MINUTE * MINUTE;
        (from, from + len)
    };
    let mut out = Vec::new();
    let (from, to) = at(30 * MINUTE);
    out.push(Incident {
        from,
        to,
        trouble: Trouble::Errors(0.05),
    });
    let (from, to) = at(10 * HOUR);
    out.push(Incident {
        from,
        to,
        trouble: Trouble::Errors(0.004),
    });
    let (from, to) = at(45 * MINUTE);
    out.push(Incident {
        from,
        to,
        trouble: Trouble::Slow(0.2, 1.5),
    });
    let (from, to) = at(8 * HOUR);
    out.push(Incident {
        from,
        to,
        trouble: Trouble::Slow(0.12, 0.7),
    });
    out
}

pub fn service_name(index: usize) -> String {
    format!("s{index:03}")
}

/// Adds the 8 series of service `index` to `history`.
pub fn add_service(history: History, index: usize, start: i64, end: i64) -> History {
    add_service_with(history, index, start, end, &BOUNDS)
}

/// [`add_service`] with the histogram's bucket bounds given (2 + bounds + 3 series).
pub fn add_service_with(
    history: History,
    index: usize,
    start: i64,
    end: i64,
    bounds: &[&str],
) -> History {
    add_member(
        history,
        index,
        start,
        end,
        bounds,
        ("svc", &service_name(index)),
    )
}

/// The series of [`add_service_with`] with another label naming them (`route="r0001"`):
/// the traffic and incidents of fleet member `index`, whatever the fleet splits by.
pub fn add_member(
    history: History,
    index: usize,
    start: i64,
    end: i64,
    bounds: &[&str],
    (name, value): (&str, &str),
) -> History {
    let profile = Arc::new(Profile {
        base: 5.0 + (index % 7) as f64 * 6.0,
        phase: (index as i64 * 7919 * MINUTE).rem_euclid(DAY),
        incidents: schedule(index, start, end),
    });
    let (ok, bad, hist, lat) = (
        profile.clone(),
        profile.clone(),
        profile.clone(),
        profile.clone(),
    );
    history
        .counter(
            Counter::new("requests_total")
                .label(name, value)
                .label("code", "200")
                .initial(1_000_000 + index as u64 * 1000)
                .rate(move |t| ok.traffic(t) * (1.0 - ok.error_ratio(t))),
        )
        .counter(
            Counter::new("requests_total")
                .label(name, value)
                .label("code", "500")
                .rate(move |t| bad.traffic(t) * bad.error_ratio(t)),
        )
        .histogram(
            Histogram::new("latency_seconds")
                .label(name, value)
                .bounds(bounds)
                .rate(move |t| hist.traffic(t))
                .latency(move |t| lat.latency(t)),
        )
}

/// The whole fleet's history: `services` services, `duration` seconds from `start`.
pub fn history(services: usize, start: i64, duration: i64, interval: i64) -> History {
    (0..services).fold(
        History::new(start, duration).interval(interval).seed(42),
        |h, i| add_service(h, i, start, start + duration),
    )
}

/// Which SLIs an SLO has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Error,
    Latency,
    Both,
}

/// One SLO of every service.
#[derive(Debug, Clone, Copy)]
pub struct SloDef {
    pub name: &'static str,
    pub kind: Kind,
    /// Percent good, for the error SLI.
    pub error_objective: f64,
    pub quantile: f64,
    /// As written in the spec, e.g. `300ms`.
    pub threshold: &'static str,
    /// Extra YAML lines (already indented by 4), e.g. `for`/`hold`/`min_events`.
    pub extra: &'static str,
}

/// Five SLOs per service: two error-only, two latency-only (one threshold on a bucket bound,
/// one interpolated inside a bucket), one with both dimensions. All on the default ladder
/// over the default 30d period (windows 5m, 30m, 1h, 6h, 3d, plus 30d for the budget).
pub const MIXED: [SloDef; 5] = [
    SloDef {
        name: "availability",
        kind: Kind::Error,
        error_objective: 99.9,
        quantile: 0.0,
        threshold: "",
        extra: "",
    },
    SloDef {
        name: "availability-guarded",
        kind: Kind::Error,
        error_objective: 99.5,
        quantile: 0.0,
        threshold: "",
        extra: "    min_events: 1000\n    for: 2m\n    hold: 10m\n",
    },
    SloDef {
        name: "latency-p99",
        kind: Kind::Latency,
        error_objective: 0.0,
        quantile: 0.99,
        threshold: "300ms",
        extra: "",
    },
    SloDef {
        name: "latency-p90",
        kind: Kind::Latency,
        error_objective: 0.0,
        quantile: 0.9,
        threshold: "200ms",
        extra: "    hold: 5m\n",
    },
    SloDef {
        name: "requests",
        kind: Kind::Both,
        error_objective: 99.9,
        quantile: 0.99,
        threshold: "500ms",
        extra: "    for: 2m\n    hold: 10m\n",
    },
];

/// One SLO per service with both dimensions.
pub const BOTH_ONLY: [SloDef; 1] = [MIXED[4]];

/// The spec YAML of service `index` with the given SLOs.
pub fn spec_yaml(index: usize, slos: &[SloDef]) -> String {
    spec_yaml_over(index, slos, "30d")
}

/// [`spec_yaml`] with another budget period (the default ladder scales to it).
pub fn spec_yaml_over(index: usize, slos: &[SloDef], period: &str) -> String {
    let svc = service_name(index);
    let mut out = format!(
        "apiVersion: burnrate/v1\nservice: {svc}\nlabels: {{team: team{}}}\nslos:\n",
        index % 4
    );
    for slo in slos {
        out.push_str(&slo_yaml(slo, slo.name, &format!("svc=\"{svc}\""), period));
    }
    out
}

/// One SLO of `slos:` (an item of that list, indented by 2) named `name`, its selectors
/// narrowed by `matchers` (`svc="s001"`; empty for every series of the fleet).
pub fn slo_yaml(slo: &SloDef, name: &str, matchers: &str, period: &str) -> String {
    let braced = |more: &str| {
        let all: Vec<&str> = [matchers, more]
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect();
        if all.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", all.join(","))
        }
    };
    let mut out = format!("  - name: {name}\n    period: {period}\n");
    if slo.kind != Kind::Latency {
        out.push_str(&format!(
            "    error:\n      objective: {}\n      bad: 'requests_total{}'\n      total: 'requests_total{}'\n",
            slo.error_objective,
            braced("code=~\"5..\""),
            braced("")
        ));
    }
    if slo.kind != Kind::Error {
        out.push_str(&format!(
            "    latency:\n      histogram: 'latency_seconds{}'\n      quantile: {}\n      threshold: {}\n",
            braced(""),
            slo.quantile,
            slo.threshold
        ));
    }
    out.push_str(slo.extra);
    out
}

/// Writes one spec file per service into `dir`.
pub fn write_specs(dir: &Path, services: usize, slos: &[SloDef]) {
    write_specs_over(dir, services, slos, "30d")
}

/// [`write_specs`] with another budget period.
pub fn write_specs_over(dir: &Path, services: usize, slos: &[SloDef], period: &str) {
    std::fs::create_dir_all(dir).expect("create spec dir");
    for i in 0..services {
        let path = dir.join(format!("{}.yaml", service_name(i)));
        std::fs::write(&path, spec_yaml_over(i, slos, period))
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// The case of issue 12 (at `days` = 4): four SLOs (one per service, both dimensions) over
/// a 365-day period, 72 series of 4 days of 15 s scrapes (1.66 M samples): a seed that
/// reaches a year back over a history that holds four days. Writes the specs into `specs`
/// and returns the history, which ends at `start + days`.
pub fn sparse_year(specs: &Path, start: i64, days: i64) -> History {
    const SERVICES: usize = 4;
    let end = start + days * DAY;
    write_specs_over(specs, SERVICES, &BOTH_ONLY, "365d");
    (0..SERVICES).fold(
        History::new(start, end - start).interval(15).seed(7),
        |h, i| add_service_with(h, i, start, end, &FINE_BOUNDS),
    )
}
