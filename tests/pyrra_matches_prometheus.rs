//! Imported Pyrra SLOs burn, alert and export rules as Pyrra's own expressions say, in a real
//! Prometheus 2.42.
//!
//! A synthetic three-day history ending now is backfilled: a shop's requests per route (a
//! slow burn on `/cart` from 36h to 60h, a 40-minute outage of `/pay` at 50h), its latency
//! histogram per `service` (`pay` slow from 44h to 46h) and three blackbox probes (`b` down
//! 48:00-48:30, `c` failing one probe in ten from 40h to 47h, `a` not scraped for ten
//! minutes at 20h). The Pyrra specs of `tests/fixtures/pyrra/` cover ratio, latency (a
//! histogram section, and Pyrra's queries when grouped by `service`, a label burnrate sets
//! itself), bool_gauge, grouping, windows of 1w and 2w, and `burnrates: false`.
//!
//! Pyrra's side is written here from its source (`slo/rules.go`: `Burnrate()`, `Burnrates()`,
//! `Windows()`), not from the import: its error ratio per window and its alert condition
//! `ratio(short) > (factor * (1-target)) and ratio(long) > (factor * (1-target))`.
//!
//! 1. `check` at many instants (on and off the scrape grid): every burn at Pyrra's windows
//!    equals Pyrra's ratio / (1 - target) (1e-9), group by group; the budget equals
//!    `1 - ratio(window) / (1 - target)`; the rules firing (`fired` + `pending`: no state,
//!    so a rule within its `for` is pending) are the tiers whose condition holds; the SLO
//!    without alerts decides `ok`.
//! 2. `backtest` (the history file, burnrate's evaluator) over 43h-51h30 at 1m: the decision
//!    at every step, and the rules printed firing, are those of Pyrra's tiers with their
//!    `for` (a tier fires once its condition has held on every step for `for`, counted
//!    from the backtest's start as a ruler started there would).
//! 3. `rules`: promtool accepts them; every alert is one of Pyrra's tiers with its `for`;
//!    and each alert expression, its recording rules inlined, has samples on exactly the
//!    steps where Pyrra's condition holds, group by group.

mod common;

use burnrate::decision::Decision;
use common::history::{Counter, DAY, Gauge, HOUR, Histogram, History, LogLogistic, MINUTE};
use common::prometheus::{Backfilled, Prometheus};
use common::pyrra::{Tier, tiers};
use common::{
    REL_1E9_ABS_1E12, backtest_json, burnrate_cmd, check_json, close, group_of, map_get, parallel,
    seq, stdout_of,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pyrra");
const SCRAPE: i64 = 30;

// ---------------------------------------------------------------------------------------
// The history
// ---------------------------------------------------------------------------------------

fn within(t: i64, from: i64, to: i64) -> bool {
    from <= t && t < to
}

fn build_history(start: i64) -> History {
    let at = move |h: i64, m: i64| start + h * HOUR + m * MINUTE;
    let mut h = History::new(start, 3 * DAY).interval(SCRAPE).seed(20260116);
    for (route, rps) in [("/cart", 20.0), ("/pay", 10.0)] {
        let ratio = move |t: i64| match route {
            "/cart" if within(t, at(36, 0), at(60, 0)) => 0.03,
            "/pay" if within(t, at(50, 0), at(50, 40)) => 0.4,
            _ => 0.001,
        };
        h = h
            .counter(
                Counter::new("shop_requests_total")
                    .label("job", "shop")
                    .label("route", route)
                    .label("code", "200")
                    .initial(1_000_000)
                    .rate(move |t| rps * (1.0 - ratio(t))),
            )
            .counter(
                Counter::new("shop_requests_total")
                    .label("job", "shop")
                    .label("route", route)
                    .label("code", "500")
                    .initial(1_000)
                    .rate(move |t| rps * ratio(t)),
            );
    }
    for (service, rps) in [("cart", 20.0), ("pay", 10.0)] {
        h = h.histogram(
            Histogram::new("shop_request_duration_seconds")
                .label("job", "shop")
                .label("service", service)
                .bounds(&["0.05", "0.1", "0.25", "0.5", "1", "2.5"])
                .rate(move |_| rps)
                .latency(move |t| {
                    if service == "pay" && within(t, at(44, 0), at(46, 0)) {
                        LogLogistic::from_median_p99(0.5, 2.0)
                    } else {
                        LogLogistic::from_median_p99(0.05, 0.2)
                    }
                }),
        );
    }
    for target in ["a", "b", "c"] {
        let mut probe = Gauge::new("probe_success")
            .label("job", "blackbox")
            .label("target", target)
            .value(move |t| {
                let failing = match target {
                    "b" => within(t, at(48, 0), at(48, 30)),
                    "c" => within(t, at(40, 0), at(47, 0)) && (t - start) / SCRAPE % 10 == 0,
                    _ => false,
                };
                if failing { 0.0 } else { 1.0 }
            });
        if target == "a" {
            probe = probe.gap(at(20, 0), at(20, 10));
        }
        h = h.gauge(probe);
    }
    h
}

fn fixture() -> &'static Backfilled {
    static FIXTURE: OnceLock<Backfilled> = OnceLock::new();
    FIXTURE.get_or_init(|| Backfilled::ending_now(3 * DAY, SCRAPE, build_history))
}

// ---------------------------------------------------------------------------------------
// Pyrra's SLOs, as Pyrra computes them
// ---------------------------------------------------------------------------------------

enum Indicator {
    Ratio {
        errors: &'static str,
        total: &'static str,
    },
    Latency {
        success: &'static str,
        total: &'static str,
    },
    BoolGauge {
        metric: &'static str,
    },
}

/// One SLO of the fixtures, transcribed.
struct PyrraSlo {
    service: &'static str,
    name: &'static str,
    /// `target / 100` as Pyrra prints it into its alerts (`strconv.FormatFloat`).
    target: &'static str,
    window: &'static str,
    indicator: Indicator,
    grouping: &'static [&'static str],
    /// The burnrate dimension it is imported as.
    dimension: &'static str,
    alerts: bool,
}

const SLOS: [PyrraSlo; 6] = [
    PyrraSlo {
        service: "shop",
        name: "shop-errors",
        target: "0.995",
        window: "1w",
        indicator: Indicator::Ratio {
            errors: r#"shop_requests_total{job="shop",code=~"5.."}"#,
            total: r#"shop_requests_total{job="shop"}"#,
        },
        grouping: &[],
        dimension: "error",
        alerts: true,
    },
    PyrraSlo {
        service: "shop",
        name: "shop-routes",
        target: "0.99",
        window: "2w",
        indicator: Indicator::Ratio {
            errors: r#"shop_requests_total{job="shop",code=~"5.."}"#,
            total: r#"shop_requests_total{job="shop"}"#,
        },
        grouping: &["route"],
        dimension: "error",
        alerts: true,
    },
    PyrraSlo {
        service: "shop",
        name: "shop-latency",
        target: "0.99",
        window: "1w",
        indicator: Indicator::Latency {
            success: r#"shop_request_duration_seconds_bucket{job="shop",le="0.25"}"#,
            total: r#"shop_request_duration_seconds_count{job="shop"}"#,
        },
        grouping: &[],
        dimension: "latency",
        alerts: true,
    },
    PyrraSlo {
        service: "shop",
        name: "shop-latency-by-service",
        target: "0.95",
        window: "1w",
        indicator: Indicator::Latency {
            success: r#"shop_request_duration_seconds_bucket{job="shop",le="0.5"}"#,
            total: r#"shop_request_duration_seconds_count{job="shop"}"#,
        },
        grouping: &["service"],
        dimension: "error",
        alerts: true,
    },
    PyrraSlo {
        service: "shop",
        name: "shop-quiet",
        target: "0.999",
        window: "1w",
        indicator: Indicator::Ratio {
            errors: r#"shop_requests_total{job="shop",route="/pay",code=~"5.."}"#,
            total: r#"shop_requests_total{job="shop",route="/pay"}"#,
        },
        grouping: &[],
        dimension: "error",
        alerts: false,
    },
    PyrraSlo {
        service: "probes",
        name: "probe-success",
        target: "0.99",
        window: "1w",
        indicator: Indicator::BoolGauge {
            metric: r#"probe_success{job="blackbox"}"#,
        },
        grouping: &["target"],
        dimension: "error",
        alerts: true,
    },
];

type Labels = BTreeMap<String, String>;

impl PyrraSlo {
    /// `sum by (grouping) (E)`, as Pyrra's replacer writes it (`sum(E)` without grouping).
    fn sum(&self, expr: &str) -> String {
        if self.grouping.is_empty() {
            format!("sum({expr})")
        } else {
            format!("sum by ({}) ({expr})", self.grouping.join(", "))
        }
    }

    /// `Objective.Burnrate(window)`: Pyrra's error ratio over `w`.
    fn ratio(&self, w: &str) -> String {
        match &self.indicator {
            Indicator::Ratio { errors, total } => format!(
                "{} / {}",
                self.sum(&format!("rate({errors}[{w}])")),
                self.sum(&format!("rate({total}[{w}])"))
            ),
            Indicator::Latency { success, total } => format!(
                "({} - {}) / {}",
                self.sum(&format!("rate({total}[{w}])")),
                self.sum(&format!("rate({success}[{w}])")),
                self.sum(&format!("rate({total}[{w}])"))
            ),
            Indicator::BoolGauge { metric } => format!(
                "({} - {}) / {}",
                self.sum(&format!("count_over_time({metric}[{w}])")),
                self.sum(&format!("sum_over_time({metric}[{w}])")),
                self.sum(&format!("count_over_time({metric}[{w}])"))
            ),
        }
    }

    /// The condition of a Pyrra burn-rate alert (`Burnrates()`), its recording rules inlined.
    fn condition(&self, tier: &Tier) -> String {
        let threshold = format!("({:.0} * (1-{}))", tier.factor, self.target);
        format!(
            "({}) > {threshold} and ({}) > {threshold}",
            self.ratio(tier.short),
            self.ratio(tier.long)
        )
    }

    fn budget(&self) -> f64 {
        1.0 - self.target.parse::<f64>().unwrap()
    }

    fn tiers(&self) -> [Tier; 4] {
        tiers(self.window)
    }

    /// Pyrra's windows: every tier's long and short one.
    fn windows(&self) -> BTreeSet<&'static str> {
        self.tiers()
            .iter()
            .flat_map(|t| [t.long, t.short])
            .collect()
    }

    /// A Pyrra series' grouping labels as burnrate reports the group: `service` (a label
    /// burnrate sets itself) as `exported_service`.
    fn group_of(&self, labels: &Labels) -> Labels {
        self.grouping
            .iter()
            .filter_map(|g| {
                let name = if *g == "service" {
                    "exported_service".to_string()
                } else {
                    g.to_string()
                };
                labels.get(*g).map(|v| (name, v.clone()))
            })
            .collect()
    }
}

/// The tier a rule printed by check or backtest is.
fn tier_of(slo: &PyrraSlo, rule: &Value) -> usize {
    let (long, short) = (rule["long"].as_str().unwrap(), rule["short"].as_str());
    slo.tiers()
        .iter()
        .position(|t| t.long == long && Some(t.short) == short)
        .unwrap_or_else(|| panic!("{}: {rule} is none of Pyrra's tiers", slo.name))
}

// ---------------------------------------------------------------------------------------
// 1. check == Pyrra's expressions
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Seen {
    burns: usize,
    nulls: usize,
    firing: BTreeSet<String>,
    decisions: BTreeSet<String>,
}

/// Compares `check` at `t` with Pyrra's answers from Prometheus.
fn compare_check(prom: &Prometheus, t: i64) -> Seen {
    let (code, printed, stderr) = check_json(SPECS, &prom.url(), &t.to_string(), &[]);
    assert!(
        (0..=3).contains(&code),
        "check at {t}: exit {code}\n{stderr}"
    );
    let mut seen = Seen::default();
    for slo in &SLOS {
        let objects: BTreeMap<Labels, &Value> = printed
            .iter()
            .filter(|v| v["service"] == slo.service && v["slo"] == slo.name)
            .map(|v| (group_of(v), v))
            .collect();
        assert!(!objects.is_empty(), "{} at {t}: not printed", slo.name);
        let what = |g: &Labels| format!("{}{g:?} at {t}", slo.name);
        // Burns at every window of Pyrra's tiers (an SLO without alerts has no matrix, so
        // its burns are Pyrra's recording rules only; its budget is compared below).
        if slo.alerts {
            for w in slo.windows() {
                let answer: BTreeMap<Labels, f64> = prom
                    .query(&slo.ratio(w), t)
                    .into_iter()
                    .map(|(l, v)| (slo.group_of(&l), v))
                    .collect();
                for (g, v) in &objects {
                    let burn = &v[slo.dimension]["burn"][w];
                    assert!(
                        v[slo.dimension]["burn"].get(w).is_some(),
                        "{}: no window {w}: {v}",
                        what(g)
                    );
                    match (burn.as_f64(), answer.get(g)) {
                        (Some(b), Some(r)) => {
                            let want = r / slo.budget();
                            assert!(
                                close(b, want, REL_1E9_ABS_1E12),
                                "{}: burn[{w}] {b}, Pyrra {want}",
                                what(g)
                            );
                            seen.burns += 1;
                        }
                        (None, None) => seen.nulls += 1,
                        (b, r) => panic!("{}: burn[{w}] {b:?}, Pyrra {r:?}", what(g)),
                    }
                }
                for g in answer.keys() {
                    assert!(objects.contains_key(g), "{}: group not printed", what(g));
                }
            }
        } else {
            for (g, v) in &objects {
                assert_eq!(v["decision"], "ok", "{}: {v}", what(g));
                assert_eq!(v[slo.dimension]["burn"], serde_json::json!({}));
            }
        }
        // The budget: Pyrra's ratio over the whole window.
        let over_window: BTreeMap<Labels, f64> = prom
            .query(&slo.ratio(slo.window), t)
            .into_iter()
            .map(|(l, v)| (slo.group_of(&l), v))
            .collect();
        for (g, v) in &objects {
            let remaining = v[slo.dimension]["budget_remaining"].as_f64();
            let want = over_window.get(g).map(|r| 1.0 - r / slo.budget());
            match (remaining, want) {
                (Some(a), Some(b)) => assert!(
                    close(a, b, REL_1E9_ABS_1E12),
                    "{}: budget {a}, Pyrra {b}",
                    what(g)
                ),
                (a, b) => panic!("{}: budget {a:?}, Pyrra {b:?}", what(g)),
            }
        }
        // The tiers firing: Pyrra's conditions, evaluated by Prometheus.
        let mut pyrra: BTreeSet<(Labels, usize)> = BTreeSet::new();
        if slo.alerts {
            for (i, tier) in slo.tiers().iter().enumerate() {
                for (l, _) in prom.query(&slo.condition(tier), t) {
                    pyrra.insert((slo.group_of(&l), i));
                }
            }
        }
        let mut mine: BTreeSet<(Labels, usize)> = BTreeSet::new();
        for (g, v) in &objects {
            for list in ["fired", "pending"] {
                for rule in v[slo.dimension][list].as_array().into_iter().flatten() {
                    mine.insert((g.clone(), tier_of(slo, rule)));
                }
            }
            seen.decisions
                .insert(format!("{} {}", slo.name, v["decision"].as_str().unwrap()));
        }
        assert_eq!(mine, pyrra, "{} at {t}: tiers firing", slo.name);
        for (g, i) in &pyrra {
            seen.firing
                .insert(format!("{}{g:?} tier {}", slo.name, i + 1));
        }
    }
    seen
}

#[test]
fn check_burns_and_fires_as_pyrras_expressions() {
    let started = std::time::Instant::now();
    let f = fixture();
    let prom = Prometheus::start(&f.blocks);
    // Early (long windows barely filled), a's scrape gap, the slow burn, latency, the probes,
    // the outage and after, on and off the scrape grid.
    let times = f.instants(&[
        (0, 40, 0),
        (20, 5, 7),
        (36, 40, 0),
        (39, 0, 43),
        (41, 3, 0),
        (44, 20, 0),
        (45, 10, 13),
        (46, 20, 0),
        (48, 2, 0),
        (48, 20, 29),
        (50, 3, 0),
        (50, 20, 1),
        (50, 45, 0),
        (52, 10, 0),
        (57, 0, 37),
        (62, 0, 0),
    ]);
    let results = parallel(&times, |&t| compare_check(&prom, t));
    let mut total = Seen::default();
    for s in results {
        total.burns += s.burns;
        total.nulls += s.nulls;
        total.firing.extend(s.firing);
        total.decisions.extend(s.decisions);
    }
    eprintln!(
        "{} instants: {} burns equal Pyrra's ({} null on both sides); firing: {:?}; decisions: {:?}; {:.1}s",
        times.len(),
        total.burns,
        total.nulls,
        total.firing,
        total.decisions,
        started.elapsed().as_secs_f64()
    );
    assert!(total.burns > 1000, "{} burns compared", total.burns);
    // The comparison means something only if every SLO's tiers fired somewhere.
    for needed in [
        "shop-errors{} tier 1",
        "shop-errors{} tier 3",
        "shop-errors{} tier 4",
        r#"shop-routes{"route": "/pay"} tier 1"#,
        r#"shop-routes{"route": "/cart"} tier 3"#,
        "shop-latency{} tier 1",
        r#"shop-latency-by-service{"exported_service": "pay"} tier 2"#,
        r#"probe-success{"target": "b"} tier 1"#,
        r#"probe-success{"target": "c"} tier 2"#,
    ] {
        assert!(
            total.firing.contains(needed),
            "{needed} never fired: {:?}",
            total.firing
        );
    }
}

// ---------------------------------------------------------------------------------------
// 2. backtest == Pyrra's tiers with their `for`
// ---------------------------------------------------------------------------------------

/// Range query `expr` over `[from, to]` at `step` seconds: per series, the times with a
/// sample.
fn times_true(
    prom: &Prometheus,
    expr: &str,
    from: i64,
    to: i64,
    step: i64,
) -> Vec<(Labels, BTreeSet<i64>)> {
    let data = prom.query_range_json(expr, from, to, step);
    data["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let labels: Labels = r["metric"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let times = r["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p[0].as_f64().unwrap().round() as i64)
                .collect();
            (labels, times)
        })
        .collect()
}

fn duration_seconds(d: &str) -> i64 {
    burnrate::duration::PromDuration::parse(d).unwrap().millis() / 1000
}

#[test]
fn backtest_fires_pyrras_tiers_with_their_for() {
    let started = std::time::Instant::now();
    let f = fixture();
    let prom = Prometheus::start(&f.blocks);
    let (from, to) = (f.at(43, 0), f.at(51, 30));
    let steps: Vec<i64> = (from..=to).step_by(60).collect();
    let history = f.history_file.to_str().unwrap();
    let printed = backtest_json(SPECS, &["--history", history], from, to);

    let mut changes = 0;
    let mut levels: BTreeSet<String> = BTreeSet::new();
    for slo in &SLOS {
        // Per group and tier, Pyrra's alert state at every step: firing once its condition
        // has held on each step for `for` (the timer starting at `from`, as the backtest's).
        let mut firing: BTreeMap<Labels, BTreeMap<i64, BTreeSet<usize>>> = BTreeMap::new();
        let tiers = if slo.alerts {
            slo.tiers().to_vec()
        } else {
            Vec::new()
        };
        for (i, tier) in tiers.iter().enumerate() {
            let wait = duration_seconds(tier.for_);
            for (labels, times) in times_true(&prom, &slo.condition(tier), from, to, 60) {
                let g = slo.group_of(&labels);
                let per_step = firing.entry(g).or_default();
                let mut since: Option<i64> = None;
                for &t in &steps {
                    since = if times.contains(&t) {
                        since.or(Some(t))
                    } else {
                        None
                    };
                    if since.is_some_and(|s| t - s >= wait) {
                        per_step.entry(t).or_default().insert(i);
                    }
                }
            }
        }
        // The backtest's lines of this SLO, per group: the decision from each line on.
        let mut lines: BTreeMap<Labels, Vec<&Value>> = BTreeMap::new();
        for v in printed.iter().filter(|v| {
            v["service"] == slo.service && v["slo"] == slo.name && v.get("summary").is_none()
        }) {
            lines.entry(group_of(v)).or_default().push(v);
        }
        for g in firing.keys() {
            assert!(lines.contains_key(g), "{}{g:?}: no backtest line", slo.name);
        }
        for (g, lines) in &lines {
            let what = format!("{}{g:?}", slo.name);
            let pyrra = firing.get(g).cloned().unwrap_or_default();
            let decision_at = |t: i64| -> String {
                let tiers = pyrra.get(&t).cloned().unwrap_or_default();
                let d = tiers
                    .iter()
                    .map(|i| slo.tiers()[*i].decision)
                    .fold(Decision::Ok, |a, b| Decision::combine([a, b]));
                d.to_string()
            };
            let mut k = 0;
            for &t in &steps {
                while k + 1 < lines.len()
                    && common::history::unix_of(lines[k + 1]["time"].as_str().unwrap()) <= t
                {
                    k += 1;
                }
                let line = lines[k];
                assert_eq!(
                    line["decision"].as_str().unwrap(),
                    decision_at(t),
                    "{what} at {}: backtest line {line}",
                    common::history::rfc3339(t)
                );
            }
            // Where a line is printed, its fired rules are Pyrra's firing tiers.
            for line in lines {
                let t = common::history::unix_of(line["time"].as_str().unwrap());
                let fired: BTreeSet<usize> = line[slo.dimension]["fired"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| tier_of(slo, r))
                    .collect();
                assert_eq!(
                    fired,
                    pyrra.get(&t).cloned().unwrap_or_default(),
                    "{what} at {}: fired",
                    line["time"]
                );
                levels.insert(format!("{what} {}", line["decision"].as_str().unwrap()));
            }
            changes += lines.len() - 1;
        }
    }
    eprintln!(
        "{} steps per SLO and group; {changes} decision changes, all Pyrra's; levels {levels:?}; {:.1}s",
        steps.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(changes > 10, "{changes} changes");
    for needed in [
        "shop-errors{} circuit_break",
        r#"shop-routes{"route": "/pay"} circuit_break"#,
        "shop-latency{} circuit_break",
        r#"probe-success{"target": "b"} circuit_break"#,
        // Its fast tiers flap (1 or 2 failures among an 8m window's 16 probes) and never
        // hold for their `for`.
        r#"probe-success{"target": "c"} warn"#,
        "shop-quiet{} ok",
    ] {
        assert!(levels.contains(needed), "{needed} never: {levels:?}");
    }
}

// ---------------------------------------------------------------------------------------
// 3. burnrate rules == Pyrra's alerts
// ---------------------------------------------------------------------------------------

struct RuleText {
    alert: bool,
    expr: String,
    for_: Option<String>,
    labels: Labels,
}

fn read_rules(text: &str) -> Vec<RuleText> {
    let doc = burnrate::spec::yaml::parse(text).unwrap().unwrap();
    let mut out = Vec::new();
    for g in seq(map_get(&doc, "groups").unwrap()) {
        for r in seq(map_get(g, "rules").unwrap()) {
            let labels = match map_get(r, "labels").map(|l| &l.value) {
                Some(burnrate::spec::yaml::Value::Map(entries)) => entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_scalar().unwrap().to_string(),
                            v.as_scalar().unwrap().to_string(),
                        )
                    })
                    .collect(),
                _ => Labels::new(),
            };
            out.push(RuleText {
                alert: map_get(r, "alert").is_some(),
                expr: map_get(r, "expr").unwrap().as_scalar().unwrap().to_string(),
                for_: map_get(r, "for").map(|n| n.as_scalar().unwrap().to_string()),
                labels,
            });
        }
    }
    out
}

#[test]
fn rules_alert_on_pyrras_tiers() {
    let started = std::time::Instant::now();
    let f = fixture();
    let prom = Prometheus::start(&f.blocks);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    stdout_of(
        burnrate_cmd().args(["rules", "-o", file.to_str().unwrap(), SPECS]),
        0,
    );
    let promtool = std::env::var("PROMTOOL_BIN").unwrap_or_else(|_| "promtool".into());
    let o = std::process::Command::new(promtool)
        .args(["check", "rules", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let rules = read_rules(&std::fs::read_to_string(&file).unwrap());

    let (from, to) = (f.at(43, 0), f.at(51, 30));
    let mut compared = 0;
    let mut fired = 0;
    for slo in &SLOS {
        let mine: Vec<&RuleText> = rules
            .iter()
            .filter(|r| r.labels["service"] == slo.service && r.labels["slo"] == slo.name)
            .collect();
        let alerts: Vec<&&RuleText> = mine.iter().filter(|r| r.alert).collect();
        if !slo.alerts {
            assert!(alerts.is_empty(), "{}: alerts without burnrates", slo.name);
            continue;
        }
        assert_eq!(alerts.len(), 4, "{}: one alert per tier", slo.name);
        // The recording rules, by window, to inline into the alerts.
        let records: BTreeMap<&str, &str> = mine
            .iter()
            .filter(|r| !r.alert && r.labels.contains_key("window"))
            .map(|r| (r.labels["window"].as_str(), r.expr.as_str()))
            .collect();
        for (i, tier) in slo.tiers().iter().enumerate() {
            // Pyrra's tier is the alert with its decision and `for`.
            let alert = alerts
                .iter()
                .find(|a| a.labels.get("burnrate_for").map(String::as_str) == Some(tier.for_))
                .unwrap_or_else(|| panic!("{}: no alert for tier {}", slo.name, i + 1));
            assert_eq!(alert.for_.as_deref(), Some(tier.for_), "{}", slo.name);
            assert_eq!(alert.labels["decision"], tier.decision.to_string());
            let mut inlined = alert.expr.clone();
            for (w, expr) in &records {
                let selector = format!(
                    "burnrate:burn_rate:ratio{{service=\"{}\",slo=\"{}\",dimension=\"{}\",window=\"{w}\"}}",
                    slo.service, slo.name, slo.dimension
                );
                inlined = inlined.replace(&selector, &format!("({expr})"));
            }
            assert!(!inlined.contains("burnrate:"), "{inlined}");
            let ours: BTreeMap<Labels, BTreeSet<i64>> = times_true(&prom, &inlined, from, to, 60)
                .into_iter()
                .map(|(l, t)| (l.into_iter().filter(|(k, _)| k != "window").collect(), t))
                .collect();
            let pyrra: BTreeMap<Labels, BTreeSet<i64>> =
                times_true(&prom, &slo.condition(tier), from, to, 60)
                    .into_iter()
                    .map(|(l, t)| (slo.group_of(&l), t))
                    .collect();
            assert_eq!(
                ours,
                pyrra,
                "{} tier {}: steps with the alert",
                slo.name,
                i + 1
            );
            compared += 1;
            fired += pyrra.values().map(BTreeSet::len).sum::<usize>();
        }
    }
    eprintln!(
        "{compared} alerts equal Pyrra's tiers ({fired} firing steps); {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert!(fired > 100, "{fired} firing steps");
}
