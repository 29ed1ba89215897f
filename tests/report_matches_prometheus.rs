//! `burnrate report` says what a real Prometheus's own answers say (issue 14, item 5).
//!
//! An SLO review decides on these numbers (was the objective met, how much budget went,
//! which day hurt most), so they must be Prometheus's: this test computes every one of them
//! itself from Prometheus 2.42's answers (`sum(increase(BAD[Ns]))` and the rest at the end
//! of the range or day, histogram buckets interpolated by the test) and holds the report to
//! them within 1e-9, from `--prometheus` and from `--history` of the same data.
//!
//! The history: 2026-09-27 to 2026-11-04 12:00 UTC at a 5-minute scrape, backfilled. Two
//! clusters of orders with a failure counter each (1% failures in September and November,
//! 0.1% in October, so a month that let its neighbours in would show), eu1's orders counter
//! restarting on October 15, a 20% failure spike in eu1 on 2026-10-24 22:00-23:00 UTC (the
//! first hour of October 25 in Berlin, so the worst day depends on the time zone), a smaller
//! one in us1 on October 12, and a histogram of durations, slow on 2026-10-25 12:00-14:00.
//! The specs (`tests/fixtures/report/`): both dimensions fleet-wide, errors per cluster,
//! and errors as raw PromQL.
//!
//! 1. October in UTC, and November (which the history covers three and a half days of):
//!    each month covers only itself.
//! 2. October in Europe/Berlin: it starts at local midnight (22:00 UTC) and its October 25
//!    has 25 hours.
//! 3. An explicit range starting and ending inside a day, and an ISO week.
//! 4. Every format parses (JSON lines, CSV rows of the header's width, Markdown table rows)
//!    and agrees with the JSON, and the HTML renders in headless Chromium.
//! 5. Bad input exits with the documented codes.

mod common;

use chrono::TimeZone;
use common::browser::dump_dom;
use common::history::{Counter, DAY, HOUR, Histogram, History, LogLogistic, rfc3339, unix};
use common::prometheus::{Backfilled, Prometheus, Sample};
use common::{REL_1E9, Tol, burnrate, burnrate_cmd, close, closed_port_url, json_lines, stdout_of};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report");
const SCRAPE: i64 = 300;

const BAD: &str = r#"orders_failed_total{job="shop"}"#;
const TOTAL: &str = r#"orders_total{job="shop"}"#;
const BUCKET: &str = r#"orders_duration_seconds_bucket{job="shop"}"#;
const COUNT: &str = r#"orders_duration_seconds_count{job="shop"}"#;
const THRESHOLD: f64 = 0.3;
/// What parsing a printed number back may lose.
const ONE_ULP: Tol = Tol {
    rel: 4.0 * f64::EPSILON,
    abs: 0.0,
};

// ---------------------------------------------------------------------------------------
// The history
// ---------------------------------------------------------------------------------------

const CLUSTERS: [(&str, f64); 2] = [("eu1", 5.0), ("us1", 3.0)];

fn within(t: i64, from: i64, to: i64) -> bool {
    from <= t && t < to
}

/// Share of one cluster's orders that fail at `t`.
fn failure_share(cluster: &str, t: i64) -> f64 {
    if cluster == "eu1"
        && within(
            t,
            unix(2026, 10, 24, 22, 0, 0),
            unix(2026, 10, 24, 23, 0, 0),
        )
    {
        return 0.2;
    }
    if cluster == "us1"
        && within(
            t,
            unix(2026, 10, 12, 10, 0, 0),
            unix(2026, 10, 12, 10, 30, 0),
        )
    {
        return 0.1;
    }
    if within(t, unix(2026, 10, 1, 0, 0, 0), unix(2026, 11, 1, 0, 0, 0)) {
        0.001
    } else {
        0.01
    }
}

fn build_history(start: i64) -> History {
    let mut h = History::new(start, end() - start)
        .interval(SCRAPE)
        .seed(20261025);
    for (cluster, rate) in CLUSTERS {
        let mut orders = Counter::new("orders_total")
            .label("job", "shop")
            .label("cluster", cluster)
            .initial(500_000)
            .rate(move |_| rate);
        if cluster == "eu1" {
            orders = orders.reset_at(unix(2026, 10, 15, 3, 0, 0));
        }
        h = h.counter(orders).counter(
            Counter::new("orders_failed_total")
                .label("job", "shop")
                .label("cluster", cluster)
                .rate(move |t| rate * failure_share(cluster, t)),
        );
    }
    let slow = |t: i64| {
        within(
            t,
            unix(2026, 10, 25, 12, 0, 0),
            unix(2026, 10, 25, 14, 0, 0),
        )
    };
    h.histogram(
        Histogram::new("orders_duration_seconds")
            .label("job", "shop")
            .bounds(&["0.05", "0.1", "0.25", "0.5", "1"])
            .rate(|_| 8.0)
            .latency(move |t| {
                if slow(t) {
                    LogLogistic::from_median_p99(0.2, 1.5)
                } else {
                    LogLogistic::from_median_p99(0.05, 0.22)
                }
            }),
    )
}

fn start() -> i64 {
    unix(2026, 9, 27, 0, 0, 0)
}

fn end() -> i64 {
    unix(2026, 11, 4, 12, 0, 0)
}

fn fixture() -> &'static Backfilled {
    static FIXTURE: OnceLock<Backfilled> = OnceLock::new();
    FIXTURE.get_or_init(|| Backfilled::between(start(), end(), build_history))
}

fn history_arg() -> String {
    fixture().history_file.display().to_string()
}

// ---------------------------------------------------------------------------------------
// What Prometheus's answers say
// ---------------------------------------------------------------------------------------

/// Bad and total events of one SLO instance and dimension in one window.
#[derive(Debug, Clone, Copy)]
struct Events {
    bad: f64,
    total: f64,
}

impl Events {
    fn bad_ratio(&self) -> f64 {
        self.bad / self.total
    }
}

/// Prometheus's answers, each query asked once.
struct Answers<'p> {
    prom: &'p Prometheus,
    asked: RefCell<BTreeMap<(String, i64), Vec<Sample>>>,
}

impl<'p> Answers<'p> {
    fn new(prom: &'p Prometheus) -> Self {
        Answers {
            prom,
            asked: RefCell::new(BTreeMap::new()),
        }
    }

    fn query(&self, expr: &str, t: i64) -> Vec<Sample> {
        let key = (expr.to_string(), t);
        if let Some(v) = self.asked.borrow().get(&key) {
            return v.clone();
        }
        let v = self.prom.query(expr, t);
        self.asked.borrow_mut().insert(key, v.clone());
        v
    }

    /// `sum(increase(SEL[Ns]))` at `to` (by `label` when given): per value of the label
    /// (`""` without one).
    fn increase(&self, sel: &str, by: Option<&str>, from: i64, to: i64) -> BTreeMap<String, f64> {
        let sum = by.map_or("sum".to_string(), |l| format!("sum by ({l}) "));
        self.query(&format!("{sum}(increase({sel}[{}s]))", to - from), to)
            .into_iter()
            .map(|(labels, v)| {
                let key = by.and_then(|l| labels.get(l).cloned()).unwrap_or_default();
                (key, v)
            })
            .collect()
    }

    /// Error events in `[from, to]`, per value of `by` (a bad counter without series is 0
    /// bad events); none without total series.
    fn errors(&self, by: Option<&str>, from: i64, to: i64) -> BTreeMap<String, Events> {
        let bad = self.increase(BAD, by, from, to);
        self.increase(TOTAL, by, from, to)
            .into_iter()
            .map(|(k, total)| {
                let bad = bad.get(&k).copied().unwrap_or(0.0);
                (k, Events { bad, total })
            })
            .collect()
    }

    /// Latency events in `[from, to]`: the count, and the count minus the requests within
    /// the threshold, interpolated linearly inside the bucket holding it.
    fn latency(&self, from: i64, to: i64) -> Option<Events> {
        let n = to - from;
        let total = *self.increase(COUNT, None, from, to).get("")?;
        let mut buckets: Vec<(f64, f64)> = self
            .query(&format!("sum by (le) (increase({BUCKET}[{n}s]))"), to)
            .into_iter()
            .map(|(labels, v)| {
                let le = labels["le"].as_str();
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                (le, v)
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut lower, mut below) = (0.0, 0.0);
        let mut good = None;
        for (le, count) in buckets {
            if le >= THRESHOLD {
                good = Some(below + (count - below) * (THRESHOLD - lower) / (le - lower));
                break;
            }
            (lower, below) = (le, count);
        }
        Some(Events {
            bad: total - good.expect("a bucket above the threshold"),
            total,
        })
    }
}

/// What a dimension of one report object measures, and its objective.
#[derive(Clone, Copy)]
enum Measure {
    /// Fleet-wide errors.
    Errors,
    /// Errors of one cluster.
    ClusterErrors(&'static str),
    Latency,
}

fn events(answers: &Answers, m: Measure, from: i64, to: i64) -> Option<Events> {
    match m {
        Measure::Errors => answers.errors(None, from, to).get("").copied(),
        Measure::ClusterErrors(c) => answers.errors(Some("cluster"), from, to).get(c).copied(),
        Measure::Latency => answers.latency(from, to),
    }
}

/// The dimensions of a report object, with their objectives and budgets (1 - objective,
/// from the decimal written).
fn expected_dimensions(obj: &Value) -> Vec<(&'static str, Measure, f64, f64)> {
    let cluster = |obj: &Value| -> &'static str {
        match obj["group"]["cluster"].as_str() {
            Some("eu1") => "eu1",
            Some("us1") => "us1",
            other => panic!("unexpected group {other:?} in {obj}"),
        }
    };
    match (
        obj["service"].as_str().unwrap(),
        obj["slo"].as_str().unwrap(),
    ) {
        ("shop", "checkout") => vec![
            ("error", Measure::Errors, 0.995, 0.005),
            ("latency", Measure::Latency, 0.99, 0.01),
        ],
        ("shop", "checkout-by-cluster") => {
            vec![("error", Measure::ClusterErrors(cluster(obj)), 0.995, 0.005)]
        }
        ("edge", "orders-raw") => vec![("error", Measure::Errors, 0.999, 0.001)],
        other => panic!("unexpected SLO {other:?}"),
    }
}

/// Calendar days `[from, to)` in `tz`, clipped to the range, as `(date, from, to)`.
fn days_of(tz: chrono_tz::Tz, from: i64, to: i64) -> Vec<(String, i64, i64)> {
    let mut date = tz.timestamp_opt(from, 0).unwrap().date_naive();
    let midnight = |d: chrono::NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
            .earliest()
            .unwrap()
            .timestamp()
    };
    let mut out = Vec::new();
    while midnight(date) < to {
        let next = date.succ_opt().unwrap();
        let (a, b) = (midnight(date).max(from), midnight(next).min(to));
        if a < b {
            out.push((date.format("%Y-%m-%d").to_string(), a, b));
        }
        date = next;
    }
    out
}

fn assert_close(what: &str, got: &Value, want: f64) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {got}"));
    assert!(
        close(got, want, REL_1E9),
        "{what}: report {got}, Prometheus {want}"
    );
}

/// Holds every object of one report to Prometheus's answers over `[from, to)` and its days
/// in `tz`; returns the worst days the report named, by `service/slo{group}/dimension`.
fn check_report(
    what: &str,
    objects: &[Value],
    answers: &Answers,
    tz: chrono_tz::Tz,
    from: i64,
    to: i64,
) -> BTreeMap<String, String> {
    // checkout, checkout-by-cluster (eu1, us1), orders-raw.
    assert_eq!(objects.len(), 4, "{what}: {objects:#?}");
    let days = days_of(tz, from, to);
    let mut worst_days = BTreeMap::new();
    for obj in objects {
        let name = format!(
            "{}/{}{}",
            obj["service"].as_str().unwrap(),
            obj["slo"].as_str().unwrap(),
            obj["group"]["cluster"]
                .as_str()
                .map(|c| format!("{{{c}}}"))
                .unwrap_or_default()
        );
        let ctx = format!("{what}: {name}");
        assert_eq!(obj["from"], rfc3339(from), "{ctx}");
        assert_eq!(obj["to"], rfc3339(to), "{ctx}");
        assert_eq!(obj["timezone"], tz.name(), "{ctx}");
        assert!(obj["group"].is_object(), "{ctx}: group is always an object");
        // Time in each decision covers the range, once.
        let covered: f64 = obj["time_in_seconds"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert_eq!(covered, (to - from) as f64, "{ctx}: time in each decision");
        let dims = expected_dimensions(obj);
        for d in ["error", "latency"] {
            assert_eq!(
                obj.get(d).is_some(),
                dims.iter().any(|(name, ..)| *name == d),
                "{ctx}: {d}"
            );
        }
        for (dim, measure, objective, budget) in dims {
            let ctx = format!("{ctx} {dim}");
            let r = &obj[dim];
            let whole = events(answers, measure, from, to).expect("traffic over the range");
            assert_eq!(r["objective"], objective, "{ctx}");
            assert_close(
                &format!("{ctx} attainment"),
                &r["attainment"],
                1.0 - whole.bad_ratio(),
            );
            assert_close(
                &format!("{ctx} budget_spent"),
                &r["budget_spent"],
                whole.bad_ratio() / budget,
            );
            assert_close(&format!("{ctx} bad_events"), &r["bad_events"], whole.bad);
            assert_close(
                &format!("{ctx} total_events"),
                &r["total_events"],
                whole.total,
            );
            assert_eq!(r["met"], 1.0 - whole.bad_ratio() >= objective, "{ctx} met");
            assert_eq!(r["no_traffic"], false, "{ctx}");
            let covered: f64 = r["time_in_seconds"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_f64().unwrap())
                .sum();
            assert_eq!(covered, (to - from) as f64, "{ctx}: time in each decision");
            // The worst day: the lowest attainment, the first of equals.
            let mut worst: Option<(&(String, i64, i64), Events)> = None;
            for day in &days {
                let Some(e) = events(answers, measure, day.1, day.2).filter(|e| e.total > 0.0)
                else {
                    continue;
                };
                if worst.is_none_or(|(_, w)| e.bad_ratio() > w.bad_ratio()) {
                    worst = Some((day, e));
                }
            }
            let ((date, day_from, day_to), e) = worst.expect("a day with traffic");
            let w = &r["worst_day"];
            assert_eq!(w["date"], date.as_str(), "{ctx}: worst day {w}");
            assert_eq!(w["from"], rfc3339(*day_from), "{ctx}");
            assert_eq!(w["to"], rfc3339(*day_to), "{ctx}");
            assert_close(
                &format!("{ctx} worst day attainment"),
                &w["attainment"],
                1.0 - e.bad_ratio(),
            );
            assert_close(
                &format!("{ctx} worst day bad_events"),
                &w["bad_events"],
                e.bad,
            );
            assert_close(
                &format!("{ctx} worst day total_events"),
                &w["total_events"],
                e.total,
            );
            assert_close(
                &format!("{ctx} worst day budget_spent"),
                &w["budget_spent"],
                e.bad_ratio() / budget,
            );
            worst_days.insert(format!("{name}/{dim}"), date.clone());
        }
    }
    worst_days
}

/// `burnrate report SPECS --format json ARGS...` (exit 0): its objects.
fn report_json(args: &[&str]) -> Vec<Value> {
    json_lines(&stdout_of(
        burnrate_cmd()
            .args(["report", SPECS, "--format", "json"])
            .args(args),
        0,
    ))
}

/// The report from Prometheus and from the history file, each held to Prometheus's answers;
/// they also replay alike (time in each decision). Returns the history's objects and the
/// worst days.
fn both_sources(
    what: &str,
    prom: &Prometheus,
    answers: &Answers,
    range: &[&str],
    tz: chrono_tz::Tz,
    from: i64,
    to: i64,
) -> (Vec<Value>, BTreeMap<String, String>) {
    let url = prom.url();
    let history = history_arg();
    let flags = |source: &[&'static str], value: &str| -> Vec<String> {
        let mut v: Vec<String> = range.iter().map(|s| s.to_string()).collect();
        v.extend([
            "--timezone".into(),
            tz.name().into(),
            "--step".into(),
            "1h".into(),
        ]);
        v.extend(source.iter().map(|s| s.to_string()));
        v.push(value.to_string());
        v
    };
    let from_prom = flags(&["--prometheus"], &url);
    let from_file = flags(&["--history"], &history);
    let prom_objects = report_json(&from_prom.iter().map(String::as_str).collect::<Vec<_>>());
    let file_objects = report_json(&from_file.iter().map(String::as_str).collect::<Vec<_>>());
    let worst = check_report(
        &format!("{what} (--prometheus)"),
        &prom_objects,
        answers,
        tz,
        from,
        to,
    );
    let worst_file = check_report(
        &format!("{what} (--history)"),
        &file_objects,
        answers,
        tz,
        from,
        to,
    );
    assert_eq!(worst, worst_file, "{what}");
    for (p, f) in prom_objects.iter().zip(&file_objects) {
        assert_eq!(
            p["time_in_seconds"], f["time_in_seconds"],
            "{what}: {p}\n{f}"
        );
        assert!(
            p["rates"].as_str().unwrap().starts_with("prometheus"),
            "{what}: {}",
            p["rates"]
        );
        assert!(f["rates"].as_str().unwrap().starts_with("history file"));
    }
    (file_objects, worst)
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

#[test]
fn a_calendar_month_matches_prometheus_and_covers_only_its_month() {
    let prom = Prometheus::start(&fixture().blocks);
    let answers = Answers::new(&prom);
    let utc = chrono_tz::UTC;
    let (oct_from, oct_to) = (unix(2026, 10, 1, 0, 0, 0), unix(2026, 11, 1, 0, 0, 0));
    let (october, worst) = both_sources(
        "October (UTC)",
        &prom,
        &answers,
        &["--month", "2026-10"],
        utc,
        oct_from,
        oct_to,
    );
    for obj in &october {
        assert_eq!(obj["period"], "2026-10");
    }
    // The spike of eu1 at 22:00 UTC makes October 24 the fleet's worst day in UTC; us1's
    // worst is its own spike; the slow hours make October 25 latency's.
    assert_eq!(worst["shop/checkout/error"], "2026-10-24");
    assert_eq!(worst["shop/checkout-by-cluster{eu1}/error"], "2026-10-24");
    assert_eq!(worst["shop/checkout-by-cluster{us1}/error"], "2026-10-12");
    assert_eq!(worst["shop/checkout/latency"], "2026-10-25");
    // Only October: a day of September or November (1% failures) would be worse than any
    // October day, spikes included (October 24 lost 0.6%); and the neighbours' days would
    // pull the month's attainment down.
    let checkout = october.iter().find(|o| o["slo"] == "checkout").unwrap();
    let attainment = checkout["error"]["attainment"].as_f64().unwrap();
    assert!(attainment > 0.998, "October's attainment {attainment}");
    let with_neighbours = answers.errors(None, start(), end())[""];
    assert!(1.0 - with_neighbours.bad_ratio() < attainment - 0.001);
    let total = checkout["error"]["total_events"].as_f64().unwrap();
    // 8 orders a second for 31 days.
    assert!(
        (total / (8.0 * 31.0 * DAY as f64) - 1.0).abs() < 0.01,
        "{total}"
    );

    // November: the history holds its first three and a half days; the days after them
    // have no data and are no worst day.
    let (nov_from, nov_to) = (unix(2026, 11, 1, 0, 0, 0), unix(2026, 12, 1, 0, 0, 0));
    let (november, _) = both_sources(
        "November (UTC)",
        &prom,
        &answers,
        &["--month", "2026-11"],
        utc,
        nov_from,
        nov_to,
    );
    for obj in &november {
        for dim in ["error", "latency"] {
            if let Some(w) = obj.get(dim).map(|d| &d["worst_day"]) {
                let date = w["date"].as_str().unwrap();
                assert!(
                    ("2026-11-01"..="2026-11-04").contains(&date),
                    "{}: {date}",
                    obj["slo"]
                );
            }
        }
        // After the history ends, the replay has no data.
        assert!(obj["time_in_seconds"]["no_data"].as_f64().unwrap() > 25.0 * DAY as f64);
    }
    let total = november.iter().find(|o| o["slo"] == "checkout").unwrap()["error"]["total_events"]
        .as_f64()
        .unwrap();
    assert!(
        (total / (8.0 * 3.5 * DAY as f64) - 1.0).abs() < 0.01,
        "{total}"
    );
}

#[test]
fn a_month_in_berlin_starts_at_local_midnight_and_its_days_follow_the_clock_change() {
    let prom = Prometheus::start(&fixture().blocks);
    let answers = Answers::new(&prom);
    let berlin = chrono_tz::Europe::Berlin;
    // CEST (+02:00) on October 1, CET (+01:00) on November 1.
    let (from, to) = (unix(2026, 9, 30, 22, 0, 0), unix(2026, 10, 31, 23, 0, 0));
    let days = days_of(berlin, from, to);
    assert_eq!(days.len(), 31);
    let dst = days.iter().find(|d| d.0 == "2026-10-25").unwrap();
    assert_eq!(
        dst.2 - dst.1,
        25 * HOUR,
        "the day clocks go back has 25 hours"
    );
    let (objects, worst) = both_sources(
        "October (Europe/Berlin)",
        &prom,
        &answers,
        &["--month", "2026-10"],
        berlin,
        from,
        to,
    );
    // eu1's spike fell in the first hour of October 25 in Berlin: that 25-hour day is the
    // worst, measured over [2026-10-24T22:00Z, 2026-10-25T23:00Z].
    assert_eq!(worst["shop/checkout/error"], "2026-10-25");
    assert_eq!(worst["shop/checkout-by-cluster{eu1}/error"], "2026-10-25");
    let checkout = objects.iter().find(|o| o["slo"] == "checkout").unwrap();
    assert_eq!(
        checkout["error"]["worst_day"]["from"],
        "2026-10-24T22:00:00Z"
    );
    assert_eq!(checkout["error"]["worst_day"]["to"], "2026-10-25T23:00:00Z");
}

#[test]
fn an_explicit_range_and_a_week_match_prometheus() {
    let prom = Prometheus::start(&fixture().blocks);
    let answers = Answers::new(&prom);
    let utc = chrono_tz::UTC;
    // Starting and ending inside a day: its first and last days are clipped to it.
    let (from, to) = (unix(2026, 10, 10, 6, 0, 0), unix(2026, 10, 14, 18, 30, 0));
    let (objects, worst) = both_sources(
        "an explicit range",
        &prom,
        &answers,
        &["--from", &rfc3339(from), "--to", &rfc3339(to)],
        utc,
        from,
        to,
    );
    assert_eq!(worst["shop/checkout-by-cluster{us1}/error"], "2026-10-12");
    for obj in &objects {
        assert!(obj.get("period").is_none(), "no calendar period: {obj}");
    }
    // ISO week 43 of 2026: Monday October 19 to Sunday October 25, in Berlin.
    let berlin = chrono_tz::Europe::Berlin;
    let (from, to) = (unix(2026, 10, 18, 22, 0, 0), unix(2026, 10, 25, 23, 0, 0));
    let (_, worst) = both_sources(
        "week 2026-W43 (Europe/Berlin)",
        &prom,
        &answers,
        &["--week", "2026-W43"],
        berlin,
        from,
        to,
    );
    assert_eq!(worst["shop/checkout/error"], "2026-10-25");
}

/// The fields of one CSV record, by RFC 4180 (quoted fields may hold commas, quotes as
/// `""`, and line breaks); `text` is consumed up to the record's CRLF.
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => {
                assert!(c != '\n', "a bare LF ends no CSV record: {text:?}");
                field.push(c);
            }
        }
    }
    assert!(
        !quoted && field.is_empty() && record.is_empty(),
        "CSV ends with CRLF"
    );
    records
}

/// The cells of a Markdown table row (`| a | b \| c |`).
fn markdown_cells(row: &str) -> Vec<String> {
    let inner = row
        .strip_prefix('|')
        .and_then(|r| r.strip_suffix('|'))
        .unwrap_or_else(|| panic!("not a table row: {row:?}"));
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cells.last_mut().unwrap().push('|');
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

#[test]
fn every_format_parses_agrees_with_the_json_and_the_page_renders() {
    let history = history_arg();
    // The default step (5m), in Berlin's October.
    let args = [
        "--history",
        history.as_str(),
        "--month",
        "2026-10",
        "--timezone",
        "Europe/Berlin",
    ];
    let objects = report_json(&args);
    assert_eq!(objects.len(), 4);
    for obj in &objects {
        assert_eq!(obj["step"], "5m");
    }
    let run = |format: &str| {
        stdout_of(
            burnrate_cmd()
                .args(["report", SPECS, "--format", format])
                .args(args),
            0,
        )
    };

    // CSV: a header, then one row per SLO, group and dimension, as wide as the header,
    // with the JSON's numbers.
    let records = csv_records(&run("csv"));
    let header = &records[0];
    assert_eq!(header[..4], ["service", "slo", "group", "dimension"]);
    let rows = &records[1..];
    assert_eq!(
        rows.len(),
        5,
        "checkout x2, checkout-by-cluster x2 groups, orders-raw"
    );
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for row in rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
        let obj = objects
            .iter()
            .find(|o| {
                o["service"] == row[0].as_str()
                    && o["slo"] == row[1].as_str()
                    && o["group"]["cluster"]
                        .as_str()
                        .is_none_or(|c| row[2] == format!("{{cluster=\"{c}\"}}"))
            })
            .unwrap_or_else(|| panic!("no JSON object for {row:?}"));
        let dim = &obj[row[3].as_str()];
        for field in ["attainment", "budget_spent", "bad_events", "total_events"] {
            // The same shortest spelling of the same number; serde_json (without its
            // `float_roundtrip` feature) may read it back one unit in the last place off.
            let csv: f64 = row[col(field)].parse().unwrap();
            let json = dim[field].as_f64().unwrap();
            assert!(close(csv, json, ONE_ULP), "{field} of {row:?}: JSON {json}");
        }
        assert_eq!(row[col("met")], dim["met"].to_string());
        assert_eq!(
            row[col("worst_day")],
            dim["worst_day"]["date"].as_str().unwrap()
        );
        assert_eq!(row[col("timezone")], "Europe/Berlin");
        assert_eq!(row[col("period")], "2026-10");
    }

    // Markdown: a table per service, every row as wide as its header.
    let markdown = run("markdown");
    assert!(
        markdown.starts_with("# SLO report: 2026-10 (Europe/Berlin)\n"),
        "{markdown}"
    );
    let mut tables: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut service = None;
    for line in markdown.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            service = Some(name.to_string());
        } else if line.starts_with('|') {
            let rows = tables
                .entry(service.clone().expect("a table under a service"))
                .or_default();
            rows.push(markdown_cells(line));
        }
    }
    assert_eq!(tables.keys().collect::<Vec<_>>(), ["edge", "shop"]);
    for (service, rows) in &tables {
        let width = rows[0].len();
        assert!(rows.iter().all(|r| r.len() == width), "{service}: {rows:?}");
        assert!(
            rows[1].iter().all(|c| c.starts_with("---")),
            "{service}: separator"
        );
        let data = &rows[2..];
        assert_eq!(
            data.len(),
            if service == "shop" { 4 } else { 1 },
            "{service}"
        );
        let attainment = rows[0].iter().position(|h| h == "attainment").unwrap();
        let group = rows[0].iter().position(|h| h == "group");
        for row in data {
            let obj = objects
                .iter()
                .find(|o| {
                    o["service"] == service.as_str()
                        && o["slo"] == row[0].as_str()
                        && o["group"]["cluster"].as_str().is_none_or(|c| {
                            group.is_some_and(|g| row[g] == format!("{{cluster=\"{c}\"}}"))
                        })
                })
                .unwrap_or_else(|| panic!("no JSON object for {row:?}"));
            assert!(row[attainment].ends_with('%'), "{row:?}");
            if obj.get("latency").is_none() {
                let want = obj["error"]["attainment"].as_f64().unwrap() * 100.0;
                assert_eq!(row[attainment], format!("{want:.4}%"), "{row:?}");
            }
        }
    }

    // HTML: written to --output, parsed by Chromium; the DOM holds every SLO, its
    // numbers and a chart per dimension, and nothing runs or loads.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let page_arg = page.display().to_string();
    stdout_of(
        burnrate_cmd()
            .args(["report", SPECS, "--format", "html", "--output", &page_arg])
            .args(args),
        0,
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    let dom = dump_dom(&format!("file://{}", page.display()));
    assert!(dom.contains("burnrate report: 2026-10 (Europe/Berlin)"));
    for obj in &objects {
        assert!(dom.contains(obj["slo"].as_str().unwrap()));
        for dim in ["error", "latency"] {
            if let Some(d) = obj.get(dim) {
                let pct = format!("{:.4}%", d["attainment"].as_f64().unwrap() * 100.0);
                assert!(
                    dom.contains(&pct),
                    "{} {dim}: {pct} not in the page",
                    obj["slo"]
                );
                let worst = d["worst_day"]["date"].as_str().unwrap();
                assert!(dom.contains(worst), "{worst}");
            }
        }
    }
    // One section per SLO and group; one burn-rate chart per dimension.
    assert_eq!(dom.matches("<section class=\"slo\"").count(), 4);
    assert_eq!(dom.matches("<svg").count(), 2 + 2 + 1);
    assert!(dom.contains("class=\"verdict met\""));
}

#[test]
fn bad_input_exits_with_the_documented_codes() {
    let run = |args: &[&str]| {
        let mut all = vec!["report", SPECS];
        all.extend(args);
        let out = burnrate(&all);
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let url = closed_port_url();
    for (args, needle) in [
        (vec!["--prometheus", &url, "--month", "2026-13"], "--month"),
        (vec!["--prometheus", &url, "--week", "2026-W54"], "--week"),
        (
            vec!["--prometheus", &url, "--quarter", "2026-Q0"],
            "--quarter",
        ),
        (
            vec![
                "--prometheus",
                &url,
                "--month",
                "2026-10",
                "--timezone",
                "Mars/Olympus",
            ],
            "IANA",
        ),
        (
            vec!["--prometheus", &url, "--from", "2026-10-01T00:00:00Z"],
            "--to",
        ),
        (vec!["--prometheus", &url], "--month"),
        (
            vec![
                "--prometheus",
                &url,
                "--month",
                "2026-10",
                "--week",
                "2026-W43",
            ],
            "cannot be used",
        ),
        (
            vec![
                "--prometheus",
                &url,
                "--from",
                "2026-10-02T00:00:00Z",
                "--to",
                "2026-10-01T00:00:00Z",
            ],
            "before",
        ),
        (
            vec![
                "--prometheus",
                &url,
                "--from",
                "2026-01-01T00:00:00Z",
                "--to",
                "2027-06-01T00:00:00Z",
            ],
            "1y",
        ),
        (
            vec!["--month", "2026-10"],
            "--history FILE or --prometheus URL",
        ),
    ] {
        let (code, stderr) = run(&args);
        assert_eq!(code, 64, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // A history file that does not parse: 65, named with its line.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.om");
    std::fs::write(
        &bad,
        "orders_total{job=\"shop\"} 1 1790000000\norders_total{ 2\n# EOF\n",
    )
    .unwrap();
    let bad_arg = bad.display().to_string();
    let (code, stderr) = run(&["--history", &bad_arg, "--month", "2026-10"]);
    assert_eq!(code, 65, "{stderr}");
    assert!(
        stderr.contains(&bad_arg) && stderr.contains("line 2"),
        "{stderr}"
    );
    // Nothing answers: every SLO fails, 69.
    let (code, stderr) = run(&["--prometheus", &url, "--month", "2026-10", "--step", "1h"]);
    assert_eq!(code, 69, "{stderr}");
}
