//! Groups (`group_by`) equal Prometheus's own `sum by (G)` answers, whichever path computed
//! them.
//!
//! A synthetic two-day history ending now is backfilled into a real Prometheus: five
//! clusters (`us1` busiest, with a counter reset; `eu1` with an error spike; `ap1` burning
//! slowly, its failure counter absent until its first failure; `new1` appearing half-way
//! with a burst of failures; `dev` with almost no traffic and no failure counter at all), two
//! histogram instances per cluster (one of `eu1`'s degrading, one of `ap1`'s not scraped for
//! ten minutes, the other slow for the last 40 minutes). The SLOs of `tests/fixtures/groups/` group it by cluster (selectors, raw
//! PromQL, `max_groups: 2`) and by cluster and instance.
//!
//! 1. `check` at many instants, on and off the scrape grid: one object per group; each
//!    group's burns, events, quantiles, budgets, fired rules and decisions equal what this
//!    test computes from Prometheus's `sum by (G)` answers (1e-9); `max_groups` keeps the
//!    groups with the most events over the longest measured window and warns about the
//!    others; the exit code is the worst group's.
//! 2. `backtest` from the history file (burnrate's evaluator) equals the backtests on
//!    Prometheus's `query_range` and on raw samples line by line, and every evaluation it
//!    prints equals Prometheus's answers at its instant.
//! 3. The daemon's incremental measurement (its history extended cycle by cycle) equals its
//!    direct one (Prometheus answering the grouped queries) bit for bit, group by group, and
//!    so do the evaluations.
//! 4. `burnrate run`: `burnrate_groups_dropped` counts the groups `max_groups` leaves out,
//!    every metric series of a group carries its labels, `/api/v1/decisions` equals `check`
//!    at the same instants, and the burning group alone has an alert (with its label) and a
//!    webhook (with its group) from a real Alertmanager and a webhook receiver.
//! 5. `rules`: promtool accepts them and their generated unit tests pass, and every
//!    recording rule, evaluated by Prometheus, equals `check`'s per-group numbers.

mod common;

use burnrate::daemon::cycle::EvaluationMode;
use burnrate::decision::Decision;
use burnrate::engine::evaluate::evaluate_groups;
use burnrate::engine::hysteresis::StateStore;
use burnrate::spec::load_paths;
use common::alertmanager::{Alertmanager, has_labels};
use common::daemon::Daemon;
use common::history::{
    Counter, DAY, HOUR, Histogram, History, LogLogistic, MINUTE, rfc3339, unix_of,
};
use common::measurements::{bits, client, cycle_measurer};
use common::prometheus::{Backfilled, Prometheus, Sample};
use common::webhook::WebhookReceiver;
use common::{
    REL_1E9_ABS_1E12, assert_replays_agree, backtest_json, burnrate_cmd, check_json, close,
    evaluation_differences, group_of, map_get, seq, stdout_of,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/groups");
const SCRAPE: i64 = 30;

// ---------------------------------------------------------------------------------------
// The history
// ---------------------------------------------------------------------------------------

const CLUSTERS: [(&str, f64); 5] = [
    ("us1", 30.0),
    ("eu1", 20.0),
    ("ap1", 8.0),
    ("new1", 5.0),
    ("dev", 0.05),
];

fn within(t: i64, from: i64, to: i64) -> bool {
    from <= t && t < to
}

fn build_history(start: i64) -> History {
    let at = move |h: i64, m: i64| start + h * HOUR + m * MINUTE;
    let mut h = History::new(start, 2 * DAY).interval(SCRAPE).seed(20261202);
    for (cluster, rate) in CLUSTERS {
        let error_ratio = move |t: i64| match cluster {
            "us1" => 0.0005,
            "eu1" if within(t, at(30, 0), at(30, 25)) => 0.2,
            "eu1" => 0.001,
            "ap1" if t < at(24, 0) => 0.0,
            "ap1" if t < at(44, 0) => 0.015,
            "ap1" => 0.001,
            "new1" if within(t, at(37, 0), at(37, 20)) => 0.5,
            "new1" => 0.002,
            _ => 0.0,
        };
        let born = (cluster == "new1").then(|| at(36, 0));
        let mut ok = Counter::new("api_requests_total")
            .label("job", "api")
            .label("cluster", cluster)
            .label("code", "200")
            .initial(1_000_000)
            .rate(move |t| rate * (1.0 - error_ratio(t)));
        let mut failed = Counter::new("api_requests_total")
            .label("job", "api")
            .label("cluster", cluster)
            .label("code", "500")
            .rate(move |t| rate * error_ratio(t));
        if cluster == "ap1" || cluster == "dev" {
            failed = failed.absent_until_first_increment();
        }
        if cluster == "us1" {
            ok = ok.reset_at(at(30, 0));
            failed = failed.reset_at(at(30, 0));
        }
        if let Some(t) = born {
            ok = ok.starts_at(t);
            failed = failed.starts_at(t);
        }
        h = h.counter(ok).counter(failed);
        for instance in ["i0", "i1"] {
            let degrades = cluster == "eu1" && instance == "i1";
            let slows_down_at_the_end = cluster == "ap1" && instance == "i1";
            let mut hist = Histogram::new("api_request_duration_seconds")
                .label("job", "api")
                .label("cluster", cluster)
                .label("instance", instance)
                .bounds(&["0.05", "0.1", "0.25", "0.5", "1", "2.5"])
                .rate(move |_| rate / 2.0)
                .latency(move |t| {
                    if degrades && within(t, at(38, 0), at(39, 0))
                        || slows_down_at_the_end && t >= at(47, 20)
                    {
                        LogLogistic::from_median_p99(0.15, 1.0)
                    } else {
                        LogLogistic::from_median_p99(0.06, 0.2)
                    }
                });
            if cluster == "ap1" && instance == "i0" {
                hist = hist.gap(at(40, 0), at(40, 10));
            }
            if let Some(t) = born {
                hist = hist.starts_at(t);
            }
            h = h.histogram(hist);
        }
    }
    h
}

/// The history: two days ending a minute ago, on the scrape grid.
fn fixture() -> &'static Backfilled {
    static FIXTURE: OnceLock<Backfilled> = OnceLock::new();
    FIXTURE.get_or_init(|| Backfilled::ending_now(2 * DAY, SCRAPE, build_history))
}

// ---------------------------------------------------------------------------------------
// The specs, as this test reads them (must agree with tests/fixtures/groups/fleet.yaml)
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Rule {
    decision: &'static str,
    factor: f64,
    long: &'static str,
    short: Option<&'static str>,
}

const fn rule(
    decision: &'static str,
    factor: f64,
    long: &'static str,
    short: Option<&'static str>,
) -> Rule {
    Rule {
        decision,
        factor,
        long,
        short,
    }
}

fn severity(decision: &str) -> u8 {
    match decision {
        "warn" => 1,
        "scale" => 2,
        "circuit_break" => 3,
        _ => 0,
    }
}

#[derive(Clone, Debug)]
enum Sli {
    /// Inner expressions (rates, with `{w}`), each summed by the group labels.
    Error {
        bad: &'static str,
        total: &'static str,
    },
    /// The histogram's base selector's matchers and the threshold's bucket.
    Latency,
}

#[derive(Clone, Debug)]
struct Dim {
    name: &'static str,
    sli: Sli,
    budget: f64,
    matrix: Vec<Rule>,
}

#[derive(Clone, Debug)]
struct Slo {
    name: &'static str,
    group_by: &'static [&'static str],
    dims: Vec<Dim>,
    min_events: Option<f64>,
    max_groups: usize,
}

const PERIOD: &str = "1d";
const BAD: &str = r#"rate(api_requests_total{job="api",code=~"5.."}[{w}])"#;
const TOTAL: &str = r#"rate(api_requests_total{job="api"}[{w}])"#;

fn specs() -> Vec<Slo> {
    let error_matrix = vec![
        rule("circuit_break", 10.0, "1h", Some("5m")),
        rule("warn", 2.0, "6h", Some("30m")),
    ];
    let errors = |budget: f64, matrix: Vec<Rule>| Dim {
        name: "error",
        sli: Sli::Error {
            bad: BAD,
            total: TOTAL,
        },
        budget,
        matrix,
    };
    let latency = |matrix: Vec<Rule>| Dim {
        name: "latency",
        sli: Sli::Latency,
        budget: 0.01,
        matrix,
    };
    vec![
        Slo {
            name: "api",
            group_by: &["cluster"],
            dims: vec![
                errors(0.005, error_matrix.clone()),
                latency(vec![
                    rule("scale", 5.0, "1h", Some("5m")),
                    rule("warn", 1.5, "6h", None),
                ]),
            ],
            min_events: None,
            max_groups: 200,
        },
        Slo {
            name: "api-raw",
            group_by: &["cluster"],
            dims: vec![errors(0.005, error_matrix)],
            min_events: None,
            max_groups: 200,
        },
        Slo {
            name: "api-instances",
            group_by: &["cluster", "instance"],
            dims: vec![latency(vec![
                rule("circuit_break", 10.0, "1h", Some("5m")),
                rule("scale", 3.0, "6h", Some("30m")),
            ])],
            min_events: Some(1000.0),
            max_groups: 200,
        },
        Slo {
            name: "api-busiest",
            group_by: &["cluster"],
            dims: vec![errors(
                0.001,
                vec![rule("circuit_break", 10.0, "1h", Some("5m"))],
            )],
            min_events: None,
            max_groups: 2,
        },
    ]
}

fn secs(w: &str) -> f64 {
    let (n, unit) = w.split_at(w.len() - 1);
    let n: f64 = n.parse().unwrap();
    n * match unit {
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => panic!("unit of {w}"),
    }
}

/// A dimension's matrix windows by length, each once.
fn matrix_windows(dim: &Dim) -> Vec<&'static str> {
    let mut ws: Vec<&'static str> = dim
        .matrix
        .iter()
        .flat_map(|r| std::iter::once(r.long).chain(r.short))
        .collect();
    ws.sort_by(|a, b| secs(a).total_cmp(&secs(b)));
    ws.dedup();
    ws
}

// ---------------------------------------------------------------------------------------
// What Prometheus's `sum by (G)` answers mean
// ---------------------------------------------------------------------------------------

type Group = BTreeMap<String, String>;

/// One window of one group of one dimension.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    /// `None`: the total had no series.
    ratio: Option<f64>,
    events: Option<f64>,
    no_traffic: bool,
    /// Latency: `histogram_quantile` (NaN when it has none).
    quantile: Option<f64>,
}

#[derive(Clone, Debug, Default)]
struct DimExp {
    windows: BTreeMap<&'static str, Window>,
}

/// Prometheus's answer per group (the series' labels are the group's).
fn by_group(samples: Vec<Sample>) -> BTreeMap<Group, f64> {
    samples.into_iter().collect()
}

/// Every group of every window of one dimension at `t`, as Prometheus answers it.
fn measure_dim(prom: &Prometheus, slo: &Slo, dim: &Dim, t: f64) -> BTreeMap<Group, DimExp> {
    let g = slo.group_by.join(", ");
    let query = |expr: String| {
        let at = t.floor() as i64;
        assert_eq!(at as f64, t, "whole seconds");
        by_group(prom.query(&expr, at))
    };
    let mut out: BTreeMap<Group, DimExp> = BTreeMap::new();
    let mut windows = matrix_windows(dim);
    if !windows.contains(&PERIOD) {
        windows.push(PERIOD);
    }
    for w in windows {
        let (part, total, quantile) = match &dim.sli {
            Sli::Error { bad, total } => (
                query(format!("sum by ({g}) ({})", bad.replace("{w}", w))),
                query(format!("sum by ({g}) ({})", total.replace("{w}", w))),
                BTreeMap::new(),
            ),
            Sli::Latency => (
                query(format!(
                    r#"sum by ({g}) (rate(api_request_duration_seconds_bucket{{job="api",le="0.25"}}[{w}]))"#
                )),
                query(format!(
                    r#"sum by ({g}) (rate(api_request_duration_seconds_count{{job="api"}}[{w}]))"#
                )),
                query(format!(
                    r#"histogram_quantile(0.99, sum by ({g}, le) (rate(api_request_duration_seconds_bucket{{job="api"}}[{w}])))"#
                )),
            ),
        };
        let groups: BTreeSet<&Group> = part
            .keys()
            .chain(total.keys())
            .chain(quantile.keys())
            .collect();
        for group in groups {
            let total = total.get(group).copied();
            let part = part.get(group).copied();
            let ratio = match (total, &dim.sli) {
                (None, _) => None,
                (Some(0.0), _) => Some(0.0),
                // A bad counter with no series while the total has traffic: 0 bad events.
                (Some(t), Sli::Error { .. }) => Some(part.unwrap_or(0.0) / t),
                (Some(t), Sli::Latency) => part.map(|good| 1.0 - good / t),
            };
            out.entry(group.clone()).or_default().windows.insert(
                w,
                Window {
                    ratio,
                    events: total.map(|r| r * secs(w)),
                    no_traffic: total == Some(0.0),
                    quantile: quantile.get(group).copied(),
                },
            );
        }
    }
    out
}

/// What `check` must print for one group of one SLO.
#[derive(Debug)]
struct Expected {
    decision: String,
    dims: Vec<(&'static str, DimExp, String, Vec<Rule>)>,
}

/// The groups `check` must print at `t` (`max_groups` applied) and each one's numbers.
fn expected(prom: &Prometheus, slo: &Slo, t: f64) -> (BTreeMap<Group, Expected>, usize) {
    let per_dim: Vec<BTreeMap<Group, DimExp>> = slo
        .dims
        .iter()
        .map(|d| measure_dim(prom, slo, d, t))
        .collect();
    let groups: BTreeSet<Group> = per_dim.iter().flat_map(|m| m.keys().cloned()).collect();
    let mut out = BTreeMap::new();
    let mut traffic: Vec<(Group, f64)> = Vec::new();
    for group in groups {
        let mut dims = Vec::new();
        let mut most_events: f64 = 0.0;
        for (dim, measured) in slo.dims.iter().zip(&per_dim) {
            let exp = measured.get(&group).cloned().unwrap_or_default();
            let longest = exp
                .windows
                .keys()
                .copied()
                .max_by(|a, b| secs(a).total_cmp(&secs(b)));
            let longest_events = longest
                .and_then(|w| exp.windows[w].events)
                .filter(|e| e.is_finite());
            most_events = most_events.max(longest_events.unwrap_or(0.0));
            let burn = |w: &str| {
                exp.windows
                    .get(w)
                    .and_then(|v| v.ratio)
                    .map(|r| r / dim.budget)
            };
            let fired: Vec<Rule> = dim
                .matrix
                .iter()
                .filter(|r| {
                    burn(r.long).is_some_and(|b| b >= r.factor)
                        && r.short
                            .is_none_or(|s| burn(s).is_some_and(|b| b >= r.factor))
                        && slo.min_events.is_none_or(|min| {
                            exp.windows
                                .get(r.long)
                                .and_then(|v| v.events)
                                .is_some_and(|e| e >= min)
                        })
                })
                .cloned()
                .collect();
            let all_null = matrix_windows(dim).iter().all(|w| burn(w).is_none());
            let decision = if all_null {
                "no_data".to_string()
            } else {
                fired
                    .iter()
                    .max_by_key(|r| severity(r.decision))
                    .map_or("ok", |r| r.decision)
                    .to_string()
            };
            dims.push((dim.name, exp, decision, fired));
        }
        let decision = dims
            .iter()
            .map(|(_, _, d, _)| d.as_str())
            .filter(|d| *d != "no_data")
            .max_by_key(|d| severity(d))
            .unwrap_or("no_data")
            .to_string();
        traffic.push((group.clone(), most_events));
        out.insert(group, Expected { decision, dims });
    }
    // `max_groups`: the most events first, the first by labels on a tie.
    traffic.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let dropped = traffic.len().saturating_sub(slo.max_groups);
    for (group, _) in traffic.into_iter().skip(slo.max_groups) {
        out.remove(&group);
    }
    (out, dropped)
}

/// Every difference between a printed evaluation and what Prometheus's answers say it must be.
fn differences(slo: &Slo, got: &Value, exp: &Expected) -> Vec<String> {
    let mut out = Vec::new();
    let tol = REL_1E9_ABS_1E12;
    let num_close = |got: &Value, exp: Option<f64>| match (got.as_f64(), exp) {
        (Some(g), Some(e)) => close(g, e, tol),
        (None, None) => got.is_null(),
        // `histogram_quantile` of nothing is NaN; burnrate prints null.
        (None, Some(e)) => e.is_nan() && got.is_null(),
        (Some(_), None) => false,
    };
    if got["decision"] != exp.decision.as_str() {
        out.push(format!("decision {} vs {}", got["decision"], exp.decision));
    }
    for (name, dim_exp, decision, fired) in &exp.dims {
        let dim = slo.dims.iter().find(|d| d.name == *name).unwrap();
        let g = &got[*name];
        if g.is_null() {
            out.push(format!("{name}: missing"));
            continue;
        }
        if g["decision"] != decision.as_str() {
            out.push(format!("{name}.decision {} vs {decision}", g["decision"]));
        }
        let w_exp = |w: &str| dim_exp.windows.get(w).copied().unwrap_or_default();
        let mut no_traffic = Vec::new();
        for w in matrix_windows(dim) {
            let e = w_exp(w);
            if e.no_traffic {
                no_traffic.push(w.to_string());
            }
            if !num_close(&g["burn"][w], e.ratio.map(|r| r / dim.budget)) {
                out.push(format!(
                    "{name}.burn[{w}] {} vs {:?}",
                    g["burn"][w],
                    e.ratio.map(|r| r / dim.budget)
                ));
            }
            if !num_close(&g["events"][w], e.events) {
                out.push(format!(
                    "{name}.events[{w}] {} vs {:?}",
                    g["events"][w], e.events
                ));
            }
            if matches!(dim.sli, Sli::Latency) && !num_close(&g["quantile_seconds"][w], e.quantile)
            {
                out.push(format!(
                    "{name}.quantile_seconds[{w}] {} vs {:?}",
                    g["quantile_seconds"][w], e.quantile
                ));
            }
        }
        let printed_no_traffic: Vec<String> = g["no_traffic"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        if printed_no_traffic != no_traffic {
            out.push(format!(
                "{name}.no_traffic {printed_no_traffic:?} vs {no_traffic:?}"
            ));
        }
        let budget = w_exp(PERIOD).ratio.map(|r| 1.0 - r / dim.budget);
        if !num_close(&g["budget_remaining"], budget) {
            out.push(format!(
                "{name}.budget_remaining {} vs {budget:?}",
                g["budget_remaining"]
            ));
        }
        let rules = |v: &Value| -> BTreeSet<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|r| format!("{} {} {}", r["decision"], r["long"], r["short"]))
                .collect()
        };
        let expected_fired: BTreeSet<String> = fired
            .iter()
            .map(|r| {
                format!(
                    "\"{}\" \"{}\" {}",
                    r.decision,
                    r.long,
                    r.short.map_or("null".to_string(), |s| format!("\"{s}\""))
                )
            })
            .collect();
        if rules(&g["fired"]) != expected_fired {
            out.push(format!("{name}.fired {} vs {expected_fired:?}", g["fired"]));
        }
    }
    out
}

/// `burnrate check` at `t` (Unix seconds, fractional for off-grid instants): its exit code,
/// its objects and its stderr.
fn check(url: &str, t: &str) -> (i32, Vec<Value>, String) {
    check_json(SPECS, url, t, &[])
}

/// Compares `check`'s objects at `t` with Prometheus's answers; returns the differences and
/// the worst decision's exit code.
fn compare_at(
    prom: &Prometheus,
    slos: &[Slo],
    t: f64,
    printed: &[Value],
    stderr: &str,
    seen: &mut BTreeMap<&'static str, BTreeSet<(Group, String)>>,
) -> (Vec<String>, i32) {
    let mut problems = Vec::new();
    let mut worst = 0;
    for slo in slos {
        let (exp, dropped) = expected(prom, slo, t);
        let mine: Vec<&Value> = printed.iter().filter(|v| v["slo"] == slo.name).collect();
        let groups: Vec<Group> = mine.iter().map(|v| group_of(v)).collect();
        let exp_groups: Vec<Group> = exp.keys().cloned().collect();
        if groups != exp_groups {
            problems.push(format!(
                "t={t} {}: groups {groups:?} vs {exp_groups:?}",
                slo.name
            ));
            continue;
        }
        let warned = stderr.contains(&format!(
            "fleet/{}: {dropped} group(s) beyond max_groups ({}) not evaluated",
            slo.name, slo.max_groups
        ));
        if warned != (dropped > 0) {
            problems.push(format!(
                "t={t} {}: {dropped} dropped, warned: {warned}\n{stderr}",
                slo.name
            ));
        }
        for v in mine {
            let group = group_of(v);
            assert_eq!(v["service"], "fleet");
            assert_eq!(v["labels"]["team"], "edge");
            let e = &exp[&group];
            for d in differences(slo, v, e) {
                problems.push(format!("t={t} {}{group:?}: {d}", slo.name));
            }
            let rank = match e.decision.as_str() {
                "ok" => 0,
                "no_data" => 1,
                d => 1 + severity(d) as i32,
            };
            worst = worst.max(rank);
            seen.entry(slo.name)
                .or_default()
                .insert((group, e.decision.clone()));
        }
    }
    let code = match worst {
        0 => 0,
        1 => 4,
        r => r - 1,
    };
    (problems, code)
}

fn start_prometheus() -> Prometheus {
    Prometheus::start(&fixture().blocks)
}

// ---------------------------------------------------------------------------------------
// 1. check
// ---------------------------------------------------------------------------------------

/// Instants across the scenarios, on the scrape grid and off it (whole seconds; Prometheus
/// and `--at` take the same instant).
fn instants(f: &Backfilled) -> Vec<i64> {
    f.instants(&[
        (25, 0, 0),
        (30, 5, 0),
        (30, 20, 7),
        (30, 31, 13),
        (35, 59, 0),
        (36, 1, 0),
        (37, 5, 3),
        (37, 15, 3),
        (37, 30, 29),
        (38, 30, 0),
        (38, 45, 11),
        (39, 10, 0),
        (40, 5, 17),
        (44, 10, 0),
        (47, 0, 23),
    ])
}

#[test]
fn check_prints_each_group_as_prometheus_sums_it() {
    let f = fixture();
    let prom = start_prometheus();
    let url = prom.url();
    let slos = specs();
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, t) in instants(f).into_iter().enumerate() {
        // RFC 3339 and Unix seconds alike.
        let arg = if i % 2 == 0 {
            rfc3339(t)
        } else {
            t.to_string()
        };
        let (code, printed, stderr) = check(&url, &arg);
        let (diffs, expected_code) =
            compare_at(&prom, &slos, t as f64, &printed, &stderr, &mut seen);
        problems.extend(diffs);
        if code != expected_code {
            problems.push(format!("t={t}: exit code {code} vs {expected_code}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences; first ones:\n{}",
        problems.len(),
        problems[..problems.len().min(30)].join("\n")
    );
    // The scenarios happened: per-group decisions differ, and every group showed up.
    let decisions = |slo: &str, cluster: &str| -> BTreeSet<String> {
        seen[slo]
            .iter()
            .filter(|(g, _)| g.get("cluster").map(String::as_str) == Some(cluster))
            .map(|(_, d)| d.clone())
            .collect()
    };
    assert!(
        decisions("api", "eu1").contains("circuit_break"),
        "{seen:?}"
    );
    assert!(decisions("api", "ap1").contains("warn"), "{seen:?}");
    assert!(
        decisions("api", "new1").contains("circuit_break"),
        "{seen:?}"
    );
    assert_eq!(
        decisions("api", "us1"),
        BTreeSet::from(["ok".to_string()]),
        "{seen:?}"
    );
    assert!(decisions("api-instances", "eu1").len() > 1, "{seen:?}");
    assert!(
        seen["api-instances"]
            .iter()
            .any(|(g, d)| g.get("instance").map(String::as_str) == Some("i1") && d != "ok"),
        "{seen:?}"
    );
    let busiest: BTreeSet<&str> = seen["api-busiest"]
        .iter()
        .map(|(g, _)| g["cluster"].as_str())
        .collect();
    assert_eq!(
        busiest,
        BTreeSet::from(["eu1", "us1"]),
        "max_groups keeps the busiest"
    );
}

#[test]
fn validate_names_group_labels_that_clash() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.yaml");
    std::fs::write(
        &spec,
        "apiVersion: burnrate/v1\nservice: s\nlabels: {team: a}\nslos:\n  - name: x\n    \
         group_by: [cluster, le, service, burnrate_key, team, cluster, \"not-a-label\", __name__]\n    \
         max_groups: 0\n    error:\n      objective: 99\n      bad: e_total\n      total: r_total\n",
    )
    .unwrap();
    let out = burnrate_cmd()
        .args(["validate", spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let file = spec.display().to_string();
    for (col, field, what) in [
        (25, "group_by[1]", "\"le\" is a label burnrate sets itself"),
        (
            29,
            "group_by[2]",
            "\"service\" is a label burnrate sets itself",
        ),
        (
            38,
            "group_by[3]",
            "\"burnrate_key\" is a label burnrate sets itself",
        ),
        (52, "group_by[4]", "\"team\" is also a label of the spec"),
        (58, "group_by[5]", "\"cluster\" is listed twice"),
        (
            67,
            "group_by[6]",
            "\"not-a-label\" is not a valid label name",
        ),
        (82, "group_by[7]", "\"__name__\" is not a valid label name"),
    ] {
        let line = format!("{file}:6:{col}: slos[0].{field}: {what}");
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }
    assert!(
        text.contains(&format!(
            "{file}:7:17: slos[0].max_groups: must be a whole number from 1"
        )),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------
// 2. backtest
// ---------------------------------------------------------------------------------------

fn backtest(args: &[&str], from: i64, to: i64) -> Vec<Value> {
    backtest_json(SPECS, args, from, to)
}

#[test]
fn backtests_replay_each_group_as_prometheus_sums_it() {
    let f = fixture();
    let prom = start_prometheus();
    let url = prom.url();
    let history = f.history_file.to_str().unwrap();
    let (from, to) = (f.at(29, 30) + 17, f.at(41, 0) + 17);
    let from_file = backtest(&["--history", history], from, to);
    let from_ranges = backtest(&["--prometheus", &url, "--rates", "query-range"], from, to);
    let from_raw = backtest(&["--prometheus", &url], from, to);
    for (name, other) in [("query_range", &from_ranges), ("raw samples", &from_raw)] {
        assert_replays_agree(name, &from_file, other, REL_1E9_ABS_1E12);
    }
    // Every evaluation the file's replay printed is what Prometheus's sums say at its instant.
    let slos = specs();
    let mut problems = Vec::new();
    let mut changes = 0;
    for v in from_file.iter().filter(|v| v.get("summary").is_none()) {
        let slo = slos.iter().find(|s| v["slo"] == s.name).unwrap();
        let t = unix_of(v["time"].as_str().unwrap());
        let (exp, _) = expected(&prom, slo, t as f64);
        let group = group_of(v);
        match exp.get(&group) {
            Some(e) => problems.extend(
                differences(slo, v, e)
                    .into_iter()
                    .map(|d| format!("{} {} {group:?}: {d}", v["time"], slo.name)),
            ),
            None => problems.push(format!(
                "{} {}: {group:?} not a group then",
                v["time"], slo.name
            )),
        }
        changes += usize::from(v.get("previous").is_some());
    }
    assert!(
        problems.is_empty(),
        "{}",
        problems[..problems.len().min(30)].join("\n")
    );
    assert!(changes > 10, "decision changes replayed: {changes}");
    // One summary per group, new1's starting when it appeared.
    let new1 = from_file
        .iter()
        .find(|v| {
            v.get("summary").is_some() && v["slo"] == "api" && v["group"]["cluster"] == "new1"
        })
        .expect("new1's summary");
    assert_eq!(new1["from"], rfc3339(f.at(36, 1) + 17), "{new1}");
    let groups: BTreeSet<String> = from_file
        .iter()
        .filter(|v| v.get("summary").is_some() && v["slo"] == "api-busiest")
        .map(|v| v["group"]["cluster"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        groups,
        BTreeSet::from(["eu1".to_string(), "us1".to_string()])
    );
}

// ---------------------------------------------------------------------------------------
// 3. The daemon's incremental measurement
// ---------------------------------------------------------------------------------------

#[test]
fn incremental_groups_match_direct_queries_at_every_cycle() {
    let f = fixture();
    let prom = start_prometheus();
    let report = load_paths(&[PathBuf::from(SPECS)]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let specs = Arc::new(report.specs);
    let mut incremental =
        cycle_measurer(client(&prom.url()), &specs, EvaluationMode::Incremental, 50);
    let mut direct = cycle_measurer(client(&prom.url()), &specs, EvaluationMode::Direct, 3);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Every 433 s (drifting across the scrape grid) from 29:00 to 41:00, skipping 33:00-35:00
    // as a stalled daemon would.
    let mut times = Vec::new();
    let mut t = f.at(29, 0) * 1000 + 11_000;
    while t < f.at(41, 0) * 1000 {
        if !(f.at(33, 0) * 1000..f.at(35, 0) * 1000).contains(&t) {
            times.push(t);
        }
        t += 433_000;
    }
    let (mut inc_state, mut dir_state) = (StateStore::default(), StateStore::default());
    let (mut mismatches, mut local_dims, mut direct_dims) = (Vec::new(), 0, 0);
    let mut groups_seen: BTreeSet<String> = BTreeSet::new();
    let mut above_ok = 0;
    for (n, &t) in times.iter().enumerate() {
        let (inc, inc_report) = rt.block_on(incremental.measure(t));
        let (dir, _) = rt.block_on(direct.measure(t));
        local_dims += inc_report.local;
        if n > 0 {
            direct_dims += inc_report.direct;
        }
        for (((service, slo), a), b) in incremental.slos().zip(inc).zip(dir) {
            if bits(&a) != bits(&b) {
                mismatches.push(format!("t={t} {}: {a:?}\n  vs {b:?}", slo.name));
            }
            let ea = evaluate_groups(service, slo, t, a, &mut inc_state);
            let eb = evaluate_groups(service, slo, t, b, &mut dir_state);
            let (ja, jb) = (
                serde_json::to_value(&ea.evals).unwrap(),
                serde_json::to_value(&eb.evals).unwrap(),
            );
            assert_eq!(ja, jb, "t={t} {}", slo.name);
            assert_eq!(ea.dropped, eb.dropped);
            for e in &ea.evals {
                groups_seen.insert(format!("{} {:?}", e.slo, e.group));
                above_ok += usize::from(!matches!(e.decision, Decision::Ok | Decision::NoData));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of the SLO cycles differ; first:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(5)].join("\n")
    );
    assert_eq!(direct_dims, 0, "dimensions queried directly after the seed");
    assert!(
        local_dims >= 4 * times.len(),
        "local dimensions: {local_dims}"
    );
    // 5 clusters for api and api-raw, 10 instances, 2 busiest.
    assert_eq!(groups_seen.len(), 5 + 5 + 10 + 2, "{groups_seen:?}");
    assert!(above_ok > 5, "evaluations above ok: {above_ok}");
}

// ---------------------------------------------------------------------------------------
// 4. The daemon
// ---------------------------------------------------------------------------------------

/// The value of the series `name{labels}` (exact label set) in Prometheus text.
fn metric(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn the_daemon_publishes_each_group_and_counts_the_dropped() {
    let _ = fixture();
    let prom = start_prometheus();
    let url = prom.url();
    let am = Alertmanager::start();
    let hooks = WebhookReceiver::start();
    let daemon = Daemon::start(&[
        SPECS,
        "--prometheus",
        &url,
        "--interval",
        "2s",
        "--alertmanager",
        &am.url(),
        "--webhook",
        &hooks.url(),
    ]);
    // Every group of every SLO published: 5 + 5 + 10 + 2.
    let ready = daemon.wait_for(Duration::from_secs(60), |d| d.decisions().len() == 22);
    let decisions = daemon.decisions();
    assert!(ready, "{} decisions\n{}", decisions.len(), daemon.log());
    let metrics = daemon.metrics();
    assert_eq!(
        metric(
            &metrics,
            "burnrate_groups_dropped",
            r#"service="fleet",slo="api-busiest""#
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "burnrate_groups_dropped",
            r#"service="fleet",slo="api""#
        ),
        Some(0.0)
    );
    for series in [
        r#"burnrate_decision{service="fleet",slo="api",cluster="eu1",decision="ok"}"#,
        r#"burnrate_burn_rate{service="fleet",slo="api",cluster="ap1",dimension="error",window="6h"}"#,
        r#"burnrate_error_budget_remaining{service="fleet",slo="api-instances",cluster="eu1",instance="i1",dimension="latency"}"#,
        r#"burnrate_evaluations_total{service="fleet",slo="api-raw",cluster="new1",result="ok"}"#,
    ] {
        assert!(metrics.contains(series), "{series} in\n{metrics}");
    }
    assert!(
        !metrics.contains(r#"slo="api-busiest",cluster="ap1""#),
        "a dropped group has no series"
    );
    assert!(log_warns_dropped(&daemon.log()), "{}", daemon.log());
    // ap1's latency burns at the end of the history (no other cluster's does): its own
    // alert, with its label, and its own webhook.
    let ap1 = [
        ("service", "fleet"),
        ("slo", "api"),
        ("cluster", "ap1"),
        ("dimension", "latency"),
        ("team", "edge"),
    ];
    let (alerts, alerted) = am.wait_for_alerts(Duration::from_secs(30), |alerts| {
        alerts.iter().any(|a| has_labels(a, &ap1))
    });
    assert!(alerted, "{alerts:?}\n{}", daemon.log());
    let alert = alerts.iter().find(|a| has_labels(a, &ap1)).unwrap();
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .starts_with(r#"fleet/api{cluster="ap1"} is "#),
        "{alert}"
    );
    assert!(
        !alerts
            .iter()
            .any(|a| has_labels(a, &[("slo", "api"), ("cluster", "us1")])),
        "{alerts:?}"
    );
    let (posts, posted) = hooks.wait_for(Duration::from_secs(30), |posts| {
        posts
            .iter()
            .any(|p| p.body["slo"] == "api" && p.body["group"]["cluster"] == "ap1")
    });
    assert!(posted, "{posts:?}");
    let hook = posts
        .iter()
        .find(|p| p.body["slo"] == "api" && p.body["group"]["cluster"] == "ap1")
        .unwrap();
    assert_eq!(
        hook.body["decision"].as_str(),
        alert["labels"]["decision"].as_str(),
        "{}",
        hook.body
    );
    assert!(
        !posts
            .iter()
            .any(|p| p.body["slo"] == "api" && p.body["group"]["cluster"] == "us1"),
        "us1 stays ok"
    );
    // The daemon's incremental evaluations are `check`'s at the same instants.
    let by_time: BTreeMap<String, Vec<&Value>> =
        decisions.iter().fold(BTreeMap::new(), |mut m, v| {
            m.entry(v["time"].as_str().unwrap().to_string())
                .or_default()
                .push(v);
            m
        });
    for (time, evals) in by_time {
        let (_, printed, _) = check(&url, &time);
        for e in evals {
            let same = printed
                .iter()
                .find(|p| p["slo"] == e["slo"] && p["group"] == e["group"])
                .unwrap_or_else(|| panic!("check at {time} lacks {} {}", e["slo"], e["group"]));
            let diffs = evaluation_differences(same, e, REL_1E9_ABS_1E12);
            assert!(
                diffs.is_empty(),
                "{time} {} {}: {diffs:?}",
                e["slo"],
                e["group"]
            );
            assert_eq!(same["decision"], e["decision"]);
        }
    }
}

fn log_warns_dropped(log: &str) -> bool {
    log.lines()
        .any(|l| l.contains("groups beyond max_groups") && l.contains("api-busiest"))
}

// ---------------------------------------------------------------------------------------
// 5. rules
// ---------------------------------------------------------------------------------------

fn promtool(args: &[&str]) -> std::process::Output {
    let bin = std::env::var("PROMTOOL_BIN").unwrap_or_else(|_| "promtool".into());
    std::process::Command::new(bin)
        .args(args)
        .output()
        .expect("promtool")
}

#[test]
fn rules_record_each_group_as_check_computes_it() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let rules_file = dir.path().join("rules.yaml");
    let tests_file = dir.path().join("tests.yaml");
    stdout_of(
        burnrate_cmd().args([
            "rules",
            SPECS,
            "--output",
            rules_file.to_str().unwrap(),
            "--promtool-tests",
            tests_file.to_str().unwrap(),
        ]),
        0,
    );
    for args in [
        vec!["check", "rules", rules_file.to_str().unwrap()],
        vec!["test", "rules", tests_file.to_str().unwrap()],
    ] {
        let out = promtool(&args);
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(&rules_file).unwrap();
    let root = burnrate::spec::yaml::parse(&text).unwrap().unwrap();
    let mut recorded = Vec::new();
    for group in seq(map_get(&root, "groups").unwrap()) {
        for rule in seq(map_get(group, "rules").unwrap()) {
            let Some(record) = map_get(rule, "record") else {
                continue;
            };
            let scalar = |n: &burnrate::spec::yaml::Node| n.as_scalar().unwrap().to_string();
            let labels = map_get(rule, "labels").unwrap();
            let label = |k: &str| map_get(labels, k).map(scalar);
            recorded.push((
                scalar(record),
                scalar(map_get(rule, "expr").unwrap()),
                label("slo").unwrap(),
                label("dimension").unwrap(),
                label("window"),
            ));
        }
    }
    assert!(recorded.len() > 20, "{} recording rules", recorded.len());
    let prom = start_prometheus();
    let url = prom.url();
    let mut compared = 0;
    for t in [
        f.at(30, 20) + 7,
        f.at(37, 5) + 3,
        f.at(38, 45) + 11,
        f.end - 45,
    ] {
        let (_, printed, _) = check(&url, &t.to_string());
        for (record, expr, slo, dim, window) in &recorded {
            let samples = prom.query(expr, t);
            let mine: Vec<&Value> = printed
                .iter()
                .filter(|v| v["slo"] == slo.as_str())
                .collect();
            for v in &mine {
                let group = group_of(v);
                let got = samples.iter().find(|(l, _)| *l == group).map(|(_, v)| *v);
                let field = match window {
                    Some(w) => &v[dim.as_str()]["burn"][w.as_str()],
                    None => &v[dim.as_str()]["budget_remaining"],
                };
                let agree = match (field.as_f64(), got) {
                    (Some(a), Some(b)) => close(a, b, REL_1E9_ABS_1E12),
                    (None, None) => true,
                    _ => false,
                };
                assert!(
                    agree,
                    "t={t} {record} {slo}/{dim} {window:?} {group:?}: check {field}, rule {got:?}"
                );
                compared += 1;
            }
            // Without max_groups, the rule records exactly the groups check prints.
            if slo != "api-busiest" {
                let rule_groups: BTreeSet<&Group> = samples.iter().map(|(l, _)| l).collect();
                let check_groups: Vec<Group> = mine.iter().map(|v| group_of(v)).collect();
                assert!(
                    rule_groups.iter().all(|g| check_groups.contains(g)),
                    "t={t} {slo}: {rule_groups:?} vs {check_groups:?}"
                );
            }
        }
    }
    assert!(compared > 400, "compared {compared}");
}

#[test]
fn the_fixture_has_its_scenarios() {
    let f = fixture();
    let prom = start_prometheus();
    // new1 does not exist before 36:00, then does.
    let q = r#"sum by (cluster) (rate(api_requests_total{cluster="new1"}[5m]))"#;
    assert!(prom.query(q, f.at(35, 59)).is_empty());
    assert_eq!(prom.query(q, f.at(36, 10)).len(), 1);
    // dev has no failure counter at all; ap1's appears at its first failure.
    let failures = |c: &str, t: i64| {
        prom.query(
            &format!(r#"api_requests_total{{cluster="{c}",code="500"}}"#),
            t,
        )
        .len()
    };
    assert_eq!(failures("dev", f.end - 60), 0);
    assert_eq!(failures("ap1", f.at(23, 0)), 0);
    assert_eq!(failures("ap1", f.at(25, 0)), 1);
    let _: &Path = &f.history_file;
}
