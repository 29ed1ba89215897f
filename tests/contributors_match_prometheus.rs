//! Contributors (`breakdown`) equal the shares Prometheus's own `sum by (G, B)` answers give,
//! whichever path computed them (issue 13).
//!
//! The person paged reads `contributors` to know which error class and operation to look
//! at; a share computed over the wrong window, from the wrong group's series, or with a
//! total that is not the one the burn used would send them to the wrong place while every
//! burn and decision is right. So this test computes every contributor itself from a real
//! Prometheus's answers and holds every path of burnrate to them.
//!
//! A synthetic ten-hour history ending now is backfilled into Prometheus: three clusters,
//! each with a total counter per `op_type` and a failure counter per `op_type` and
//! `error_class` (a label the total lacks; each series created at its first failure), and a
//! classic histogram per cluster and `op_type`. `us1` burns slowly from 02:00 (the `warn`
//! rule, 6h/30m), with two `oom` series that fail at exactly the same rate (a tie, broken by
//! labels, at the default top 5's cut); `eu1` has a 20-minute error spike at 07:00
//! (`circuit_break`, 1h/5m, then `warn`), its `oom` series appearing with it and its
//! counters reset half-way, and slow writes at 08:00-08:40; `ap1`'s errors stay ok, its
//! reads are slow from 09:00 (and not scraped at 09:35-09:45). The SLOs
//! of `tests/fixtures/contributors/` break errors down per cluster (default top 5), with
//! `hold: 30m` and top 2, fleet-wide as raw PromQL with every label set listed, and latency
//! per cluster by operation (its errors without a breakdown).
//!
//! 1. `check` at many instants on and off the scrape grid: every dimension above ok that
//!    has a breakdown carries the contributors of its deciding rule's long window, equal
//!    (1e-9) to Prometheus's shares; no other has any. Once with `--state`, where a
//!    held rule decides.
//! 2. `backtest` from the history file: every printed evaluation's contributors equal
//!    Prometheus's at its instant (a held rule deciding at some), and equal those of the
//!    backtests on raw samples and on `query_range`, line by line.
//! 3. The daemon's incremental measurer (breakdowns evaluated over its own history) and its
//!    direct one (Prometheus answering them) explain alike, bit for bit, at every cycle, and
//!    as Prometheus's answers say.
//! 4. `burnrate run` publishes on `/api/v1/decisions`, and posts in webhooks, the
//!    contributors `check` prints at the same instants.

mod common;

use burnrate::daemon::cycle::EvaluationMode;
use burnrate::engine::evaluate::evaluate_groups;
use burnrate::engine::hysteresis::StateStore;
use burnrate::spec::{Dimension, Rule, ServiceSpec, SloSpec, load_paths};
use common::daemon::Daemon;
use common::history::{Counter, HOUR, Histogram, History, LogLogistic, MINUTE, unix_of};
use common::measurements::{client, cycle_measurer};
use common::prometheus::{Backfilled, Prometheus, Sample};
use common::webhook::WebhookReceiver;
use common::{
    REL_1E9_ABS_1E12, assert_replays_agree, backtest_json, check_json, close,
    contributors_differences, evaluation_differences, group_of,
};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/contributors");
const SCRAPE: i64 = 30;

// ---------------------------------------------------------------------------------------
// The history
// ---------------------------------------------------------------------------------------

/// Requests per second per cluster, and the operations' shares of them.
const CLUSTERS: [(&str, f64); 3] = [("us1", 30.0), ("eu1", 20.0), ("ap1", 8.0)];
const OPS: [(&str, f64); 2] = [("read", 0.7), ("write", 0.3)];
const CLASSES: [&str; 3] = ["timeout", "db", "oom"];

fn within(t: i64, from: i64, to: i64) -> bool {
    from <= t && t < to
}

/// Failures per second of one cluster, operation and error class at `t`.
fn failures(at: impl Fn(i64, i64) -> i64, cluster: &str, op: &str, class: &str, t: i64) -> f64 {
    let traffic = CLUSTERS.iter().find(|c| c.0 == cluster).unwrap().1
        * OPS.iter().find(|o| o.0 == op).unwrap().1;
    let spike = within(t, at(7, 0), at(7, 20));
    match (cluster, class) {
        // Not proportional to traffic: both operations' series are the same, a tie.
        ("us1", "oom") if t >= at(2, 0) => 0.05,
        ("us1", "timeout") if t >= at(2, 0) => traffic * 0.015 * 0.6,
        ("us1", "db") if t >= at(2, 0) => traffic * 0.015 * 0.4,
        ("us1", "timeout") => traffic * 0.0005,
        ("eu1", _) if spike => match (op, class) {
            ("write", "timeout") => 3.0,
            ("read", "timeout") => 0.8,
            ("write", "db") => 0.9,
            ("write", "oom") => 0.3,
            _ => 0.0,
        },
        ("eu1", "timeout" | "db") => traffic * 0.0005,
        ("ap1", "timeout") => traffic * 0.0005,
        _ => 0.0,
    }
}

fn latency(at: impl Fn(i64, i64) -> i64, cluster: &str, op: &str, t: i64) -> LogLogistic {
    match (cluster, op) {
        ("eu1", "write") if within(t, at(8, 0), at(8, 40)) => {
            LogLogistic::from_median_p99(0.3, 2.0)
        }
        ("ap1", "read") if t >= at(9, 0) => LogLogistic::from_median_p99(0.12, 0.5),
        _ => LogLogistic::from_median_p99(0.03, 0.09),
    }
}

fn build_history(start: i64) -> History {
    let at = move |h: i64, m: i64| start + h * HOUR + m * MINUTE;
    let mut h = History::new(start, 10 * HOUR)
        .interval(SCRAPE)
        .seed(20261213);
    for (cluster, rate) in CLUSTERS {
        for (op, share) in OPS {
            // eu1's process restarts in the middle of its spike.
            let restarts = |c: Counter| match cluster {
                "eu1" => c.reset_at(at(7, 10)),
                _ => c,
            };
            h = h.counter(restarts(
                Counter::new("orders_total")
                    .label("job", "orders")
                    .label("cluster", cluster)
                    .label("op_type", op)
                    .initial(1_000_000)
                    .rate(move |_| rate * share),
            ));
            for class in CLASSES {
                let mut failed = Counter::new("orders_failed_total")
                    .label("job", "orders")
                    .label("cluster", cluster)
                    .label("op_type", op)
                    .label("error_class", class)
                    .rate(move |t| failures(at, cluster, op, class, t))
                    .absent_until_first_increment();
                if cluster == "us1" && class == "oom" {
                    failed = failed.jitter(0.0);
                }
                h = h.counter(restarts(failed));
            }
            let mut hist = Histogram::new("orders_duration_seconds")
                .label("job", "orders")
                .label("cluster", cluster)
                .label("op_type", op)
                .bounds(&["0.05", "0.1", "0.25", "0.5", "1", "2.5"])
                .rate(move |_| rate * share)
                .latency(move |t| latency(at, cluster, op, t));
            // Ten minutes of failed scrapes while ap1's reads are slow.
            if cluster == "ap1" && op == "read" {
                hist = hist.gap(at(9, 35), at(9, 45));
            }
            h = h.histogram(hist);
        }
    }
    h
}

fn fixture() -> &'static Backfilled {
    static FIXTURE: OnceLock<Backfilled> = OnceLock::new();
    FIXTURE.get_or_init(|| Backfilled::ending_now(10 * HOUR, SCRAPE, build_history))
}

fn specs() -> Vec<ServiceSpec> {
    let report = load_paths(&[PathBuf::from(SPECS)]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    report.specs
}

// ---------------------------------------------------------------------------------------
// What Prometheus's answers say the contributors are
// ---------------------------------------------------------------------------------------

type Labels = BTreeMap<String, String>;

/// The SLIs as the specs write them (every SLO of the fixture measures the same series);
/// the matrices, groups and breakdowns are read from the loaded specs.
const BAD: &str = r#"orders_failed_total{job="orders"}"#;
const TOTAL: &str = r#"orders_total{job="orders"}"#;
const BUCKET: &str = r#"orders_duration_seconds_bucket{job="orders"}"#;
const COUNT: &str = r#"orders_duration_seconds_count{job="orders"}"#;
const THRESHOLD: f64 = 0.2;

fn budget(slo: &SloSpec, dim: Dimension) -> f64 {
    match (slo.name.as_str(), dim) {
        ("orders-fleet", Dimension::Error) => 0.002,
        (_, Dimension::Error) => 0.005,
        (_, Dimension::Latency) => 0.01,
    }
}

/// Prometheus's answers at one instant, each asked once.
struct Answers<'p> {
    prom: &'p Prometheus,
    t: i64,
    asked: RefCell<BTreeMap<String, Vec<Sample>>>,
}

impl<'p> Answers<'p> {
    fn new(prom: &'p Prometheus, t: i64) -> Self {
        Answers {
            prom,
            t,
            asked: RefCell::default(),
        }
    }

    /// `sum by (by) (rate(selector[w]))`, per label set of `by`.
    fn rates(&self, by: &[String], selector: &str, w: &str) -> Vec<Sample> {
        let expr = format!("sum by ({}) (rate({selector}[{w}]))", by.join(", "));
        self.asked
            .borrow_mut()
            .entry(expr)
            .or_insert_with_key(|expr| self.prom.query(expr, self.t))
            .clone()
    }

    /// Per label set of `by`: its bad events per second and, if it has any series of
    /// the total (latency: the count), its total events per second.
    fn bad_and_total(
        &self,
        dim: Dimension,
        by: &[String],
        w: &str,
    ) -> BTreeMap<Labels, (f64, Option<f64>)> {
        let mut out: BTreeMap<Labels, (f64, Option<f64>)> = BTreeMap::new();
        match dim {
            Dimension::Error => {
                for (labels, total) in self.rates(by, TOTAL, w) {
                    out.entry(labels).or_default().1 = Some(total);
                }
                // A failure counter with no series yet: no bad events.
                for (labels, bad) in self.rates(by, BAD, w) {
                    out.entry(labels).or_default().0 = bad;
                }
            }
            Dimension::Latency => {
                let with_le: Vec<String> = by.iter().cloned().chain(["le".to_string()]).collect();
                let mut buckets: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
                for (mut labels, rate) in self.rates(&with_le, BUCKET, w) {
                    let le = labels.remove("le").unwrap();
                    let le: f64 = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    };
                    buckets.entry(labels).or_default().push((le, rate));
                }
                for (labels, count) in self.rates(by, COUNT, w) {
                    let good = buckets.get(&labels).map_or(0.0, |b| good_at(b, THRESHOLD));
                    out.insert(labels, (count - good, Some(count)));
                }
            }
        }
        out
    }
}

/// Requests at most `threshold` seconds per second: linear within the bucket holding it
/// (from 0 in the first), as `histogram_quantile` reads a classic histogram.
fn good_at(buckets: &[(f64, f64)], threshold: f64) -> f64 {
    let mut sorted = buckets.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut le, mut below) = (0.0, 0.0);
    for &(bound, rate) in &sorted {
        if bound == threshold {
            return rate;
        }
        if bound > threshold {
            return below + (rate - below) * (threshold - le) / (bound - le);
        }
        (le, below) = (bound, rate);
    }
    below
}

fn group_part(slo: &SloSpec, labels: &Labels) -> Labels {
    labels
        .iter()
        .filter(|(k, _)| slo.group_by.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A rule as printed (`fired`, `held`) and as the spec has it, comparably.
fn rule_key(decision: &Value, long: &str, short: Option<&str>) -> String {
    format!("{decision} {long} {short:?}")
}

fn spec_rule_key(r: &Rule) -> String {
    rule_key(
        &serde_json::to_value(r.decision).unwrap(),
        r.long.as_str(),
        r.short.as_ref().map(|s| s.as_str()),
    )
}

fn printed_rules(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    rule_key(
                        &r["decision"],
                        r["long"].as_str().unwrap(),
                        r["short"].as_str(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What one dimension of one group must print.
#[derive(Debug)]
struct DimExpected {
    fired: BTreeSet<String>,
    /// `None` at ok.
    explained: Option<Explained>,
}

#[derive(Debug)]
struct Explained {
    /// The deciding rule's long window.
    window: String,
    /// Whether the deciding rule is held rather than firing.
    held: bool,
    /// Whether a later rule of the matrix, as severe, counted too.
    had_equal: bool,
    shares: Option<Shares>,
}

/// A group's breakdown over one window, per second.
#[derive(Debug)]
struct Shares {
    /// Every label set with bad events, the most first, ties by labels.
    sets: Vec<(Labels, f64)>,
    /// The group's bad and total events, as `sum by (G)` answers them.
    bad: f64,
    total: f64,
}

/// Per group, what `dim` of `slo` must print at the instant of `answers`, given the rules
/// each group's state holds (`held`, as printed: hysteresis is tested elsewhere).
fn expected(
    answers: &Answers,
    slo: &SloSpec,
    dim: Dimension,
    held: &BTreeMap<Labels, BTreeSet<String>>,
) -> BTreeMap<Labels, DimExpected> {
    let matrix = slo.matrix(dim).unwrap();
    let mut burns: BTreeMap<Labels, BTreeMap<String, f64>> = BTreeMap::new();
    for w in slo.windows(dim) {
        for (group, (bad, total)) in answers.bad_and_total(dim, &slo.group_by, w.as_str()) {
            let entry = burns.entry(group).or_default();
            if let Some(total) = total {
                let ratio = if total == 0.0 { 0.0 } else { bad / total };
                entry.insert(w.as_str().to_string(), ratio / budget(slo, dim));
            }
        }
    }
    let mut out = BTreeMap::new();
    for (group, burn) in burns {
        let fires = |w: &str, factor: f64| burn.get(w).is_some_and(|b| *b >= factor);
        let fired: Vec<&Rule> = matrix
            .iter()
            .filter(|r| {
                fires(r.long.as_str(), r.burn)
                    && r.short.as_ref().is_none_or(|s| fires(s.as_str(), r.burn))
            })
            .collect();
        let held = held.get(&group).cloned().unwrap_or_default();
        let counted: Vec<&Rule> = matrix
            .iter()
            .filter(|r| fired.contains(r) || held.contains(&spec_rule_key(r)))
            .collect();
        // The most severe rule counted, the first in matrix order among equals.
        let top = counted.iter().map(|r| r.decision).max();
        let equals: Vec<&&Rule> = counted.iter().filter(|r| Some(r.decision) == top).collect();
        let explained = equals.first().map(|rule| {
            let window = rule.long.as_str().to_string();
            Explained {
                shares: slo
                    .breakdown(dim)
                    .map(|b| contributors_of(answers, slo, dim, &b.labels, &group, &window)),
                held: !fired.contains(rule),
                had_equal: equals.len() > 1,
                window,
            }
        });
        out.insert(
            group,
            DimExpected {
                fired: fired.iter().map(|r| spec_rule_key(r)).collect(),
                explained,
            },
        );
    }
    out
}

/// `group`'s bad events over `w` by `breakdown`.
fn contributors_of(
    answers: &Answers,
    slo: &SloSpec,
    dim: Dimension,
    breakdown: &[String],
    group: &Labels,
    w: &str,
) -> Shares {
    let by: Vec<String> = slo.group_by.iter().chain(breakdown).cloned().collect();
    let mut sets: Vec<(Labels, f64)> = answers
        .bad_and_total(dim, &by, w)
        .into_iter()
        .filter(|(labels, (bad, _))| group_part(slo, labels) == *group && *bad > 0.0)
        .map(|(mut labels, (bad, _))| {
            labels.retain(|k, _| !slo.group_by.contains(k));
            (labels, bad)
        })
        .collect();
    sets.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let (bad, total) = answers.bad_and_total(dim, &slo.group_by, w)[group];
    Shares {
        sets,
        bad,
        total: total.expect("a group above ok has a total"),
    }
}

/// What was seen across the comparisons, to show that the scenarios happened.
#[derive(Default)]
struct Seen {
    /// Per instant (and SLO, dimension): the windows groups were explained over.
    windows: BTreeMap<String, BTreeSet<String>>,
    explained: usize,
    at_ok: usize,
    held_deciding: usize,
    /// Explained while another rule as severe counted too.
    first_of_equals: usize,
    truncated: usize,
    /// Label sets with exactly the same bad events, one of them at the top list's cut.
    tie_at_cut: usize,
    /// Full lists whose burns add up to the window's burn.
    summed: BTreeSet<String>,
}

/// Every difference between the evaluations printed at `t` and Prometheus's answers.
fn compare(
    prom: &Prometheus,
    specs: &[ServiceSpec],
    t: i64,
    printed: &[&Value],
    seen: &mut Seen,
) -> Vec<String> {
    let answers = Answers::new(prom, t);
    let mut problems = Vec::new();
    for slo in specs.iter().flat_map(|s| &s.slos) {
        let mine: Vec<&&Value> = printed
            .iter()
            .filter(|v| v["slo"] == slo.name.as_str())
            .collect();
        for dim in slo.dimensions() {
            let name = dim.as_str();
            let held: BTreeMap<Labels, BTreeSet<String>> = mine
                .iter()
                .map(|v| (group_of(v), printed_rules(&v[name]["held"])))
                .collect();
            let exp = expected(&answers, slo, dim, &held);
            for v in &mine {
                let group = group_of(v);
                let at = format!("t={t} {}{group:?} {name}", slo.name);
                let Some(e) = exp.get(&group) else {
                    problems.push(format!("{at}: not a group in Prometheus's answers"));
                    continue;
                };
                let report = &v[name];
                if printed_rules(&report["fired"]) != e.fired {
                    problems.push(format!("{at}: fired {} vs {:?}", report["fired"], e.fired));
                    continue;
                }
                let got = &report["contributors"];
                let Some(Explained {
                    window,
                    held,
                    had_equal,
                    shares,
                }) = &e.explained
                else {
                    if !got.is_null() {
                        problems.push(format!("{at}: at ok, yet contributors {got}"));
                    }
                    seen.at_ok += 1;
                    continue;
                };
                seen.held_deciding += usize::from(*held);
                seen.first_of_equals += usize::from(*had_equal);
                let Some(Shares { sets, bad, total }) = shares else {
                    if !got.is_null() {
                        problems.push(format!("{at}: no breakdown, yet contributors {got}"));
                    }
                    continue;
                };
                let top = slo.breakdown(dim).unwrap().top;
                let want = serde_json::json!({
                    "window": window,
                    "top": sets.iter().take(top).map(|(labels, set)| serde_json::json!({
                        "labels": labels,
                        "bad_share": set / bad,
                        "burn": set / total / budget(slo, dim),
                    })).collect::<Vec<_>>(),
                });
                let diffs = contributors_differences(got, &want, REL_1E9_ABS_1E12);
                if !diffs.is_empty() {
                    problems.push(format!(
                        "{at}: contributors{}\n  got  {got}\n  want {want}",
                        diffs.join(", ")
                    ));
                }
                seen.explained += 1;
                seen.windows
                    .entry(format!("{t} {} {name}", slo.name))
                    .or_default()
                    .insert(window.clone());
                seen.truncated += usize::from(sets.len() > top);
                seen.tie_at_cut += usize::from(sets.len() > top && sets[top - 1].1 == sets[top].1);
                if sets.len() <= top {
                    // The contract's promise: the burns of every label set add up.
                    let sum: f64 = got["top"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["burn"].as_f64().unwrap())
                        .sum();
                    let burn = report["burn"][window.as_str()].as_f64().unwrap();
                    if !close(sum, burn, REL_1E9_ABS_1E12) {
                        problems.push(format!(
                            "{at}: the burns add up to {sum}, the window's is {burn}"
                        ));
                    }
                    seen.summed.insert(format!("{} {name}", slo.name));
                }
            }
        }
    }
    problems
}

fn assert_none(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} differences; first ones:\n{}",
        problems.len(),
        problems[..problems.len().min(20)].join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// 1. check
// ---------------------------------------------------------------------------------------

/// Instants across the scenarios, on the scrape grid and off it (whole seconds; Prometheus
/// and `--at` take the same instant).
fn instants(f: &Backfilled) -> Vec<i64> {
    f.instants(&[
        (3, 0, 0),
        (6, 30, 0),
        (7, 5, 7),
        (7, 15, 13),
        (7, 22, 0),
        (7, 35, 29),
        (8, 20, 11),
        (8, 30, 0),
        (8, 45, 3),
        (9, 30, 17),
    ])
}

#[test]
fn check_prints_the_contributors_prometheus_sums_give() {
    let f = fixture();
    let prom = Prometheus::start(&f.blocks);
    let url = prom.url();
    let specs = specs();
    let mut problems = Vec::new();
    let mut seen = Seen::default();
    for t in instants(f) {
        let (_, printed, stderr) = check_json(SPECS, &url, &t.to_string(), &[]);
        assert!(!printed.is_empty(), "t={t}: {stderr}");
        let printed: Vec<&Value> = printed.iter().collect();
        for v in &printed {
            for dim in ["error", "latency"] {
                assert!(
                    v[dim]["held"].is_null(),
                    "a stateless check holds nothing: {v}"
                );
            }
        }
        problems.extend(compare(&prom, &specs, t, &printed, &mut seen));
    }
    // A rule held across cron runs decides: eu1's circuit_break stopped firing by 07:30.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state = state.to_str().unwrap();
    for t in [f.at(7, 20) + 3, f.at(7, 30) + 3] {
        let (_, printed, stderr) = check_json(SPECS, &url, &t.to_string(), &["--state", state]);
        assert!(!printed.is_empty(), "t={t}: {stderr}");
        let printed: Vec<&Value> = printed.iter().collect();
        problems.extend(compare(&prom, &specs, t, &printed, &mut seen));
    }
    assert_none(&problems);
    assert!(seen.explained > 30, "explained: {}", seen.explained);
    assert!(seen.at_ok > 30, "at ok: {}", seen.at_ok);
    assert!(
        seen.windows.values().any(|w| w.len() > 1),
        "groups explained over different windows at one instant: {:?}",
        seen.windows
    );
    assert!(seen.held_deciding > 0, "a held rule decided");
    assert!(seen.first_of_equals > 0, "two rules as severe counted");
    assert!(
        seen.truncated > 0 && seen.tie_at_cut > 0,
        "truncated {}, tie at the cut {}",
        seen.truncated,
        seen.tie_at_cut
    );
    for full in ["latency latency", "orders-fleet error"] {
        assert!(
            seen.summed.contains(full),
            "a full list of {full}: {:?}",
            seen.summed
        );
    }
}

// ---------------------------------------------------------------------------------------
// 2. backtest
// ---------------------------------------------------------------------------------------

#[test]
fn backtests_replay_the_contributors_prometheus_sums_give() {
    let f = fixture();
    let prom = Prometheus::start(&f.blocks);
    let url = prom.url();
    let history = f.history_file.to_str().unwrap();
    let (from, to) = (f.at(6, 0) + 17, f.end - 60);
    let from_file = backtest_json(SPECS, &["--history", history], from, to);
    let from_raw = backtest_json(SPECS, &["--prometheus", &url], from, to);
    let from_ranges = backtest_json(
        SPECS,
        &["--prometheus", &url, "--rates", "query-range"],
        from,
        to,
    );
    for (name, other) in [("raw samples", &from_raw), ("query_range", &from_ranges)] {
        assert_replays_agree(name, &from_file, other, REL_1E9_ABS_1E12);
    }
    // Each printed evaluation against Prometheus's answers at its instant.
    let specs = specs();
    let evaluations: Vec<&Value> = from_file
        .iter()
        .filter(|v| v.get("summary").is_none())
        .collect();
    let mut by_time: BTreeMap<i64, Vec<&Value>> = BTreeMap::new();
    for v in &evaluations {
        by_time
            .entry(unix_of(v["time"].as_str().unwrap()))
            .or_default()
            .push(v);
    }
    let mut problems = Vec::new();
    let mut seen = Seen::default();
    for (t, printed) in by_time {
        problems.extend(compare(&prom, &specs, t, &printed, &mut seen));
    }
    assert_none(&problems);
    assert!(seen.explained > 10, "explained: {}", seen.explained);
    assert!(
        seen.held_deciding > 0,
        "a held rule decided at a printed change"
    );
}

// ---------------------------------------------------------------------------------------
// 3. The daemon's incremental measurement
// ---------------------------------------------------------------------------------------

#[test]
fn incremental_contributors_match_direct_queries_at_every_cycle() {
    let f = fixture();
    let prom = Prometheus::start(&f.blocks);
    let specs = Arc::new(specs());
    let (inc_client, dir_client) = (client(&prom.url()), client(&prom.url()));
    let mut incremental =
        cycle_measurer(inc_client.clone(), &specs, EvaluationMode::Incremental, 50);
    let mut direct = cycle_measurer(dir_client.clone(), &specs, EvaluationMode::Direct, 3);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Every 433 s (drifting across the scrape grid) through the spike and the slow reads,
    // skipping 08:00-08:30 as a stalled daemon would.
    let mut times = Vec::new();
    let mut t = f.at(6, 50) * 1000 + 11_000;
    while t < f.end * 1000 {
        if !(f.at(8, 0) * 1000..f.at(8, 30) * 1000).contains(&t) {
            times.push(t);
        }
        t += 433_000;
    }
    let (mut inc_state, mut dir_state) = (StateStore::default(), StateStore::default());
    let (mut inc_requests, mut dir_requests, mut breakdowns) = (0, 0, 0_u64);
    let (mut problems, mut seen) = (Vec::new(), Seen::default());
    for &t in &times {
        let (inc, _) = rt.block_on(incremental.measure(t));
        let (dir, _) = rt.block_on(direct.measure(t));
        let slos: Vec<_> = incremental.slos().collect();
        let mut cycle = Vec::new();
        for (index, (((service, slo), a), b)) in slos.into_iter().zip(inc).zip(dir).enumerate() {
            let mut ea = evaluate_groups(service, slo, t, a, &mut inc_state).evals;
            let mut eb = evaluate_groups(service, slo, t, b, &mut dir_state).evals;
            let before = (
                inc_client.traffic().snapshot(),
                dir_client.traffic().snapshot(),
            );
            rt.block_on(incremental.complete(index, &mut ea, t));
            rt.block_on(direct.complete(index, &mut eb, t));
            inc_requests += inc_client.traffic().snapshot().since(before.0).requests;
            dir_requests += dir_client.traffic().snapshot().since(before.1).requests;
            let (ja, jb) = (
                serde_json::to_value(&ea).unwrap(),
                serde_json::to_value(&eb).unwrap(),
            );
            // Bit for bit: the local evaluator adds in Prometheus's order, and the shares
            // are the same arithmetic on the same numbers.
            assert_eq!(ja, jb, "t={t} {}", slo.name);
            let windows: BTreeSet<String> = ea
                .iter()
                .flat_map(|e| [("error", &e.error), ("latency", &e.latency)])
                .filter_map(|(dim, report)| {
                    let c = report.as_ref()?.contributors.as_ref()?;
                    Some(format!("{dim} {}", c.window))
                })
                .collect();
            breakdowns += windows.len() as u64;
            cycle.extend(ja.as_array().unwrap().iter().cloned());
        }
        let printed: Vec<&Value> = cycle.iter().collect();
        problems.extend(compare(&prom, &specs, t / 1000, &printed, &mut seen));
    }
    assert_none(&problems);
    assert!(seen.explained > 20, "explained: {}", seen.explained);
    // One breakdown query per SLO, dimension and window serves every group; the incremental
    // measurer answered each from its own history, the direct one asked Prometheus (both
    // asked it for the same exemplars).
    assert!(breakdowns > 10, "breakdowns: {breakdowns}");
    assert_eq!(
        inc_requests + breakdowns,
        dir_requests,
        "requests explaining incrementally, breakdowns, requests explaining directly"
    );
}

// ---------------------------------------------------------------------------------------
// 4. The daemon
// ---------------------------------------------------------------------------------------

#[test]
fn the_daemon_publishes_the_contributors_check_prints() {
    let f = fixture();
    let prom = Prometheus::start(&f.blocks);
    let url = prom.url();
    let hooks = WebhookReceiver::start();
    let daemon = Daemon::start(&[
        SPECS,
        "--prometheus",
        &url,
        "--interval",
        "2s",
        "--webhook",
        &hooks.url(),
    ]);
    // Three clusters of three SLOs, and the fleet; at the end of the history eu1's latency
    // warns (its slow writes) and ap1's scales (its slow reads).
    let ap1 = |v: &Value| {
        v["slo"] == "latency"
            && v["group"]["cluster"] == "ap1"
            && !v["latency"]["contributors"].is_null()
    };
    let explained = |d: &Daemon| {
        let decisions = d.decisions();
        (decisions.len() == 10 && decisions.iter().any(ap1)).then_some(decisions)
    };
    let ready = daemon.wait_for(Duration::from_secs(60), |d| explained(d).is_some());
    assert!(ready, "{:?}\n{}", daemon.decisions(), daemon.log());
    let mut published = explained(&daemon).unwrap();
    let (posts, posted) = hooks.wait_for(Duration::from_secs(30), |posts| {
        posts.iter().any(|p| ap1(&p.body))
    });
    assert!(posted, "{posts:?}");
    published.extend(posts.into_iter().map(|p| p.body));
    let mut compared = 0;
    for v in &published {
        let time = v["time"].as_str().unwrap();
        let (_, printed, stderr) = check_json(SPECS, &url, time, &[]);
        let same = printed
            .iter()
            .find(|p| p["slo"] == v["slo"] && p["group"] == v["group"])
            .unwrap_or_else(|| {
                panic!(
                    "check at {time} lacks {} {}\n{stderr}",
                    v["slo"], v["group"]
                )
            });
        let diffs = evaluation_differences(same, v, REL_1E9_ABS_1E12);
        assert!(
            diffs.is_empty(),
            "{time} {} {}: {diffs:?}",
            v["slo"],
            v["group"]
        );
        compared += ["error", "latency"]
            .iter()
            .filter(|d| !v[**d]["contributors"].is_null())
            .count();
    }
    assert!(compared >= 4, "contributors compared: {compared}");
}
