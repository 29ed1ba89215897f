//! Calendar periods (`period: month | week` with `timezone`) budget the elapsed part of the
//! current period, and that budget equals what Prometheus answers over exactly that part.
//!
//! A budget that resets at UTC midnight for a team in Berlin, or keeps the last month's
//! failures for an hour into the new one, reports the wrong number on the day the review
//! looks at it. So the history here always spans the start of the current month in
//! Europe/Berlin and of the current week in America/New_York (it begins a day before the
//! earlier of the two and ends now), and at instants on both sides of each boundary (on and
//! off the scrape grid) every path's `budget_remaining` and `budget_since` equal
//! `1 - (sum(rate(BAD[Ns])) / sum(rate(TOTAL[Ns]))) / budget` from Prometheus, with `N` the
//! seconds since local midnight of the period's first day:
//! `check` (the backend), `backtest` from the history file (burnrate's evaluator), on raw
//! samples and on `query_range`, and the daemon's incremental measurer.

mod common;

use burnrate::calendar::{Calendar, CalendarUnit, parse_timezone};
use burnrate::daemon::cycle::EvaluationMode;
use burnrate::engine::evaluate::evaluate_groups;
use burnrate::engine::hysteresis::StateStore;
use burnrate::spec::{ServiceSpec, load_paths};
use common::history::{Counter, HOUR, Histogram, History, LogLogistic, MINUTE, rfc3339};
use common::measurements::{client, cycle_measurer};
use common::prometheus::{Backfilled, Prometheus};
use common::{REL_1E9_ABS_1E12, backtest_json, check_json, close};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/calendar");
const SCRAPE: i64 = 60;
const DAY: i64 = 24 * HOUR;

fn berlin_month() -> Calendar {
    Calendar::new(
        CalendarUnit::Month,
        parse_timezone("Europe/Berlin").unwrap(),
    )
}

fn new_york_week() -> Calendar {
    Calendar::new(
        CalendarUnit::Week,
        parse_timezone("America/New_York").unwrap(),
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The starts (Unix seconds) of the current Berlin month and New York week.
fn boundaries() -> (i64, i64) {
    let at = now() * 1000;
    (
        berlin_month().start_ms(at) / 1000,
        new_york_week().start_ms(at) / 1000,
    )
}

fn build_history(start: i64) -> History {
    let span = now() - start;
    let mut h = History::new(start, span).interval(SCRAPE).seed(20261202);
    for (cluster, rate, ratio) in [("eu1", 20.0, 0.002), ("us1", 35.0, 0.0007)] {
        // Failures change at the hour, so a window off by one hour sees other numbers.
        let failing = move |t: i64| {
            let hour = (t - start) / HOUR;
            ratio * (1.0 + (hour % 5) as f64)
        };
        h = h
            .counter(
                Counter::new("invoices_total")
                    .label("job", "billing")
                    .label("cluster", cluster)
                    .initial(500_000)
                    .rate(move |_| rate),
            )
            .counter(
                Counter::new("invoices_failed_total")
                    .label("job", "billing")
                    .label("cluster", cluster)
                    .rate(move |t| rate * failing(t))
                    .absent_until_first_increment(),
            );
    }
    h.histogram(
        Histogram::new("invoice_render_seconds")
            .label("job", "billing")
            .bounds(&["0.1", "0.25", "0.5", "1"])
            .rate(|_| 12.0)
            .latency(move |t| {
                if (t - start) / HOUR % 7 == 3 {
                    LogLogistic::from_median_p99(0.2, 0.9)
                } else {
                    LogLogistic::from_median_p99(0.06, 0.3)
                }
            }),
    )
}

fn fixture() -> &'static Backfilled {
    static FIXTURE: OnceLock<Backfilled> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (month, week) = boundaries();
        let start = month.min(week) - DAY;
        Backfilled::ending_now(now() / SCRAPE * SCRAPE - 60 - start, SCRAPE, build_history)
    })
}

fn specs() -> Vec<ServiceSpec> {
    let report = load_paths(&[PathBuf::from(SPECS)]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    report.specs
}

/// Instants on both sides of both boundaries, on and off the grid, and near the end.
fn instants(f: &Backfilled) -> Vec<i64> {
    let (month, week) = boundaries();
    let mut out = Vec::new();
    for b in [month, week] {
        out.extend([
            b - 10 * MINUTE,
            b - 17,
            b + 30,
            b + 10 * MINUTE + 17,
            b + 3 * HOUR,
        ]);
    }
    out.push(f.end - 60);
    out.push(f.end - 7 * MINUTE - 23);
    out.retain(|t| *t > f.start + 2 * HOUR && *t <= f.end);
    out.sort_unstable();
    out.dedup();
    out
}

/// What Prometheus says one SLO's budget is at `t` (per cluster for `invoices`).
struct Expected {
    since: String,
    /// `(group label value or "", budget_remaining)`.
    budgets: Vec<(String, Option<f64>)>,
}

fn expected(prom: &Prometheus, slo: &str, t: i64) -> Expected {
    let (calendar, budget) = match slo {
        "invoices" => (berlin_month(), 0.005),
        _ => (new_york_week(), 0.05),
    };
    let since = calendar.start_ms(t * 1000) / 1000;
    let n = (t - since).max(1);
    let budgets = match slo {
        "invoices" => {
            let bad = prom.query(
                &format!("sum by (cluster) (rate(invoices_failed_total{{job=\"billing\"}}[{n}s]))"),
                t,
            );
            let total = prom.query(
                &format!("sum by (cluster) (rate(invoices_total{{job=\"billing\"}}[{n}s]))"),
                t,
            );
            total
                .iter()
                .map(|tot| {
                    let cluster = tot.0["cluster"].clone();
                    let b = bad
                        .iter()
                        .find(|s| s.0["cluster"] == cluster)
                        .map_or(0.0, |s| s.1);
                    (cluster, Some(1.0 - (b / tot.1) / budget))
                })
                .collect()
        }
        _ => {
            let good = prom.query_one(
                &format!(
                    "sum(rate(invoice_render_seconds_bucket{{job=\"billing\",le=\"0.25\"}}[{n}s]))"
                ),
                t,
            );
            let count = prom.query_one(
                &format!("sum(rate(invoice_render_seconds_count{{job=\"billing\"}}[{n}s]))"),
                t,
            );
            let value = match (good, count) {
                (Some(g), Some(c)) => Some(1.0 - (1.0 - g / c) / budget),
                _ => None,
            };
            vec![(String::new(), value)]
        }
    };
    Expected {
        since: rfc3339(since),
        budgets,
    }
}

/// Differences between printed evaluations (any number of SLOs and groups at `t`) and
/// Prometheus's answers.
fn differences(prom: &Prometheus, printed: &[Value], t: i64) -> Vec<String> {
    let mut problems = Vec::new();
    for slo in ["invoices", "render"] {
        let exp = expected(prom, slo, t);
        let dim = if slo == "invoices" {
            "error"
        } else {
            "latency"
        };
        for (group, budget) in &exp.budgets {
            let Some(got) = printed.iter().find(|v| {
                v["slo"] == slo && (group.is_empty() || v["group"]["cluster"] == group.as_str())
            }) else {
                problems.push(format!("t={t} {slo} {group}: not printed"));
                continue;
            };
            let report = &got[dim];
            if report["budget_since"] != exp.since.as_str() {
                problems.push(format!(
                    "t={t} {slo} {group}: budget_since {} != {}",
                    report["budget_since"], exp.since
                ));
            }
            let value = report["budget_remaining"].as_f64();
            let same = match (value, budget) {
                (Some(a), Some(b)) => close(a, *b, REL_1E9_ABS_1E12),
                (None, None) => true,
                _ => false,
            };
            if !same {
                problems.push(format!(
                    "t={t} {slo} {group}: budget_remaining {value:?} != {budget:?}"
                ));
            }
        }
    }
    problems
}

#[test]
fn check_budgets_the_elapsed_part_of_the_local_calendar_period() {
    let f = fixture();
    let prom = Prometheus::start(&f.blocks);
    let url = prom.url();
    let mut problems = Vec::new();
    let mut crossed = [false; 2];
    let (month, week) = boundaries();
    for t in instants(f) {
        let (_, printed, stderr) = check_json(SPECS, &url, &t.to_string(), &[]);
        assert!(!printed.is_empty(), "t={t}: {stderr}");
        problems.extend(differences(&prom, &printed, t));
        crossed[0] |= t > month;
        crossed[1] |= t > week;
    }
    assert!(crossed.iter().all(|c| *c), "no instant after a boundary");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn backtests_and_the_daemon_budget_the_same_elapsed_part() {
    let f = fixture();
    let prom = Prometheus::start(&f.blocks);
    let url = prom.url();
    let history = f.history_file.to_str().unwrap();
    let mut problems = Vec::new();
    for t in instants(f) {
        // A one-step replay prints its first evaluation: the budget at `t`.
        for args in [
            vec!["--history", history],
            vec!["--prometheus", url.as_str()],
            vec!["--prometheus", url.as_str(), "--rates", "query-range"],
        ] {
            let printed: Vec<Value> = backtest_json(SPECS, &args, t, t)
                .into_iter()
                .filter(|v| v.get("summary").is_none())
                .collect();
            problems.extend(
                differences(&prom, &printed, t)
                    .into_iter()
                    .map(|p| format!("backtest {args:?}: {p}")),
            );
        }
    }
    // The daemon's incremental measurer: its history reaches the matrix windows only, so
    // the period's part is the backend's; evaluated and completed as `run` does.
    let specs = Arc::new(specs());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut measurer = cycle_measurer(client(&url), &specs, EvaluationMode::Incremental, 5);
    let mut state = StateStore::default();
    for t in [f.end - 20 * MINUTE, f.end - 10 * MINUTE, f.end - 60] {
        let (measured, _) = rt.block_on(measurer.measure(t * 1000));
        let slos: Vec<_> = measurer.slos().collect();
        let mut printed = Vec::new();
        for (index, ((service, slo), m)) in slos.into_iter().zip(measured).enumerate() {
            let mut evaluated = evaluate_groups(service, slo, t * 1000, m, &mut state);
            rt.block_on(measurer.complete(index, &mut evaluated.evals, t * 1000));
            printed.extend(
                evaluated
                    .evals
                    .iter()
                    .map(|e| serde_json::to_value(e).unwrap()),
            );
        }
        problems.extend(
            differences(&prom, &printed, t)
                .into_iter()
                .map(|p| format!("daemon: {p}")),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn calendar_periods_validate_and_name_their_mistakes() {
    let yaml = "apiVersion: burnrate/v1\nservice: s\nslos:\n  - name: a\n    period: month\n    timezone: Mars/Olympus\n    error: {objective: 99, bad: e_total, total: r_total}\n  - name: b\n    period: 30d\n    timezone: UTC\n    error: {objective: 99, bad: e_total, total: r_total}\n";
    let (spec, diagnostics) = burnrate::spec::load::load_str(std::path::Path::new("c.yaml"), yaml);
    assert!(spec.is_none());
    let text: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("6:15: slos[0].timezone: unknown time zone \"Mars/Olympus\"")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("10:15: slos[1].timezone: applies to calendar periods only")),
        "{text:?}"
    );
    // A calendar month scales its rules to the nominal 30 days: 2% in 1h is burn 14.4.
    let specs = specs();
    let invoices = &specs[0].slos[0];
    let rule = &invoices.matrix(burnrate::spec::Dimension::Error).unwrap()[0];
    assert!((rule.burn - 14.4).abs() < 1e-12, "{}", rule.burn);
}
