//! The daemon's local history against a real Prometheus 2.42: what its seed costs, and that
//! it stays within `--max-history-bytes` without changing a number.
//!
//! - The case of issue 12 (four SLOs over a 365-day period, 1.66 M samples in 4 days of
//!   15 s scrapes): the seed asks where the samples are and fetches only those days, in at
//!   most 60 requests (it took 482, a day per request per fetch group), and computes what
//!   direct queries answer.
//! - A young history growing under a budget that holds half of it: while it fits,
//!   every window is local; once it would not, the longest windows move to direct queries;
//!   at every cycle the rates equal the direct ones and the bytes held stay within the
//!   budget (the budget is set from the bytes the same history takes, so the test holds
//!   whatever a sample costs to keep).
//! - `burnrate run` with a tiny `--max-history-bytes` decides and burns as `--evaluation
//!   direct` does, and its `/metrics` show the bytes held, the budget and the windows that
//!   fell back.

mod common;

#[allow(dead_code)]
#[path = "../benches/support/fleet.rs"]
mod fleet;

use burnrate::backend::{ClientConfig, PromClient};
use burnrate::daemon::cycle::{CycleMeasurer, CycleReport, EvaluationMode, SloMeasurements};
use burnrate::promql::Flavor;
use burnrate::spec::{ServiceSpec, load_paths};
use common::daemon::Daemon;
use common::history::{self, Counter, DAY, HOUR, History, MINUTE};
use common::prometheus::{self, Prometheus};
use common::{REL_1E9_ABS_1E12, evaluation_differences};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn client(url: &str) -> PromClient {
    let mut config = ClientConfig::new(url);
    config.timeout = Duration::from_secs(30);
    config.retries = 0;
    PromClient::new(config).unwrap()
}

fn load(dir: &Path) -> Arc<Vec<ServiceSpec>> {
    let report = load_paths(&[dir.to_path_buf()]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    Arc::new(report.specs)
}

fn every_slo(specs: &[ServiceSpec]) -> Vec<(usize, usize)> {
    specs
        .iter()
        .enumerate()
        .flat_map(|(s, svc)| (0..svc.slos.len()).map(move |i| (s, i)))
        .collect()
}

fn measurer(
    url: &str,
    specs: &Arc<Vec<ServiceSpec>>,
    mode: EvaluationMode,
    budget: Option<u64>,
) -> CycleMeasurer {
    let m = CycleMeasurer::new(
        client(url),
        specs.clone(),
        every_slo(specs),
        mode,
        Flavor::Prometheus2,
        5,
        4,
    );
    match budget {
        Some(bytes) => m.with_history_budget(bytes),
        None => m,
    }
}

/// Every number of one SLO's measurements, exactly (`{:?}` of an `f64` round-trips);
/// a failed dimension only as failed.
fn shown(m: &SloMeasurements) -> Vec<String> {
    m.iter()
        .map(|(dim, result)| match result {
            Ok(measurement) => format!("{dim:?} {measurement:?}"),
            Err(_) => format!("{dim:?} failed"),
        })
        .collect()
}

fn backfill(dir: &Path, history: &History) -> std::path::PathBuf {
    let om = dir.join("history.om");
    history.write_openmetrics(&om);
    let blocks = dir.join("blocks");
    prometheus::backfill_with_block_duration(&om, &blocks, Some("24h"));
    let _ = std::fs::remove_file(&om);
    blocks
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_seed_reaching_a_year_back_over_four_days_of_history_takes_few_requests() {
    let dir = tempfile::tempdir().unwrap();
    let start = history::unix(2026, 10, 5, 0, 0, 0);
    let specs_dir = dir.path().join("specs");
    let history = fleet::sparse_year(&specs_dir, start, 4);
    let blocks = backfill(dir.path(), &history);
    let prom = Prometheus::start(&blocks);
    let specs = load(&specs_dir);
    let mut incremental = measurer(&prom.url(), &specs, EvaluationMode::Incremental, None);
    let mut direct = measurer(&prom.url(), &specs, EvaluationMode::Direct, None);
    let rt = runtime();
    // Just after the last scrape, then two cycles later.
    let first = (history.end() - 15) * 1000 + 3_000;
    for (n, at_ms) in [first, first + 30_000, first + 60_000]
        .into_iter()
        .enumerate()
    {
        let (inc, report) = rt.block_on(incremental.measure(at_ms));
        let (dir, _) = rt.block_on(direct.measure(at_ms));
        eprintln!("cycle {n}: {report:?}");
        if n == 0 {
            assert!(
                report.traffic.requests <= 60,
                "the seed took {} requests",
                report.traffic.requests
            );
            // Every read series (not the `_sum`s), all four days, held.
            assert!(
                report.held_samples > 1_500_000,
                "held {} samples",
                report.held_samples
            );
            assert!(report.held_bytes > 0);
        } else {
            assert!(report.traffic.requests <= 4, "{report:?}");
        }
        assert_eq!(report.direct, 0, "every dimension local: {report:?}");
        for ((service, slo), (a, b)) in incremental.slos().zip(inc.iter().zip(&dir)) {
            assert_eq!(
                shown(a),
                shown(b),
                "{}/{} at {at_ms}: incremental vs direct",
                service.service,
                slo.name
            );
        }
    }
}

/// A spec with the matrix windows 5m, 30m, 1h and 6h, and `period`.
fn spec(service: &str, error: &str, period: &str) -> String {
    format!(
        r#"apiVersion: burnrate/v1
service: {service}
slos:
  - name: requests
    period: {period}
{error}    latency:
      histogram: 'latency_seconds{{svc="{service}"}}'
      quantile: 0.99
      threshold: 500ms
    matrix:
      error:
        - {{decision: circuit_break, burn: 14.4, long: 1h, short: 5m}}
        - {{decision: warn, burn: 3, long: 6h, short: 30m}}
      latency:
        - {{decision: scale, burn: 6, long: 1h, short: 5m}}
        - {{decision: warn, burn: 2, long: 6h, short: 30m}}
"#
    )
}

/// Two services on selectors, one on raw PromQL (its split query is raw PromQL too).
fn write_specs(dir: &Path, period: &str) {
    std::fs::create_dir_all(dir).unwrap();
    for svc in ["s000", "s001", "s002"] {
        let error = if svc == "s002" {
            format!(
                "    error:\n      objective: 99.5\n      bad_query: 'sum(rate(requests_total{{svc=\"{svc}\",code=\"500\"}}[{{{{.window}}}}]))'\n      total_query: 'sum(rate(requests_total{{svc=\"{svc}\"}}[{{{{.window}}}}]))'\n"
            )
        } else {
            format!(
                "    error:\n      objective: 99.9\n      bad: 'requests_total{{svc=\"{svc}\",code=~\"5..\"}}'\n      total: 'requests_total{{svc=\"{svc}\"}}'\n"
            )
        };
        std::fs::write(dir.join(format!("{svc}.yaml")), spec(svc, &error, period)).unwrap();
    }
}

#[test]
fn a_growing_history_moves_its_longest_windows_to_direct_queries_within_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let start = history::unix(2026, 10, 5, 0, 0, 0);
    let end = start + 8 * DAY;
    let history = (0..3).fold(
        History::new(start, end - start).interval(15).seed(11),
        |h, i| fleet::add_service(h, i, start, end),
    );
    let blocks = backfill(dir.path(), &history);
    let prom = Prometheus::start(&blocks);
    let specs_dir = dir.path().join("specs");
    write_specs(&specs_dir, "7d");
    let specs = load(&specs_dir);
    let rt = runtime();

    // What the whole reach (the 7d period) takes when nothing limits it: the budget is half
    // that. (A held series costs bytes of its own besides its samples', a few kB: a reach
    // of days makes the samples the larger part, so shortening it frees memory.)
    let full_at = (start + 7 * DAY + 12 * HOUR) * 1000;
    let (_, full) = rt.block_on(
        measurer(&prom.url(), &specs, EvaluationMode::Incremental, None).measure(full_at),
    );
    assert_eq!(full.direct, 0, "{full:?}");
    let budget = full.held_bytes as u64 / 2;

    let mut incremental = measurer(
        &prom.url(),
        &specs,
        EvaluationMode::Incremental,
        Some(budget),
    );
    let mut direct = measurer(&prom.url(), &specs, EvaluationMode::Direct, None);
    let mut reports: Vec<CycleReport> = Vec::new();
    // From 6 hours of history to 7.5 days, 5h47m apart (drifting across the scrape grid).
    let mut at_ms = (start + 6 * HOUR) * 1000 + 7_000;
    while at_ms <= full_at {
        let (inc, report) = rt.block_on(incremental.measure(at_ms));
        let (dir, _) = rt.block_on(direct.measure(at_ms));
        for ((service, slo), (a, b)) in incremental.slos().zip(inc.iter().zip(&dir)) {
            assert!(
                a.iter().all(|(_, r)| r.is_ok()),
                "{}/{} at {at_ms}: {a:?}",
                service.service,
                slo.name
            );
            assert_eq!(
                shown(a),
                shown(b),
                "{}/{} at {at_ms}: incremental vs direct",
                service.service,
                slo.name
            );
        }
        assert!(
            report.held_bytes as u64 <= budget,
            "at {at_ms}: {} bytes held, budget {budget}",
            report.held_bytes
        );
        reports.push(report);
        at_ms += (5 * HOUR + 47 * MINUTE) * 1000;
    }
    let dims = 6;
    let all_local = reports.iter().take_while(|r| r.local == dims).count();
    eprintln!(
        "budget {budget} (full {}): {} cycles, {all_local} all local first; last {:?}; fallbacks {:?}",
        full.held_bytes,
        reports.len(),
        reports.last(),
        incremental
            .history_fallbacks()
            .iter()
            .map(|(s, slo, d, n)| format!("{}/{} {} {n}", s.service, slo.name, d.as_str()))
            .collect::<Vec<_>>()
    );
    assert!(all_local >= 3, "young history held whole: {reports:?}");
    assert!(
        reports.last().unwrap().direct > 0,
        "the grown history gave windows to the backend: {reports:?}"
    );
    assert!(
        reports.last().unwrap().held_samples > 0,
        "and kept the others"
    );
    let fallbacks = incremental.history_fallbacks();
    assert!(!fallbacks.is_empty());
    // Only the longest windows moved: the 5m window of every dimension is still local.
    assert!(
        fallbacks.iter().all(|&(_, _, _, windows)| windows < 5),
        "{:?}",
        fallbacks
            .iter()
            .map(|f| (f.1.name.clone(), f.2, f.3))
            .collect::<Vec<_>>()
    );
}

/// A fleet whose every series grows linearly (integer increments per 15 s scrape, no
/// noise): each window's rate is the same at any instant inside the history, so two daemons
/// evaluating at their own instants must agree to rounding.
fn linear_history(start: i64, end: i64) -> History {
    let mut h = History::new(start, end - start).interval(15).seed(3);
    for svc in ["s000", "s001", "s002"] {
        let counter = |name: &str, per_second: f64| {
            Counter::new(name)
                .label("svc", svc)
                .jitter(0.0)
                .rate(move |_| per_second)
        };
        h = h
            .counter(counter("requests_total", 10.0).label("code", "200"))
            .counter(counter("requests_total", 2.0).label("code", "500"))
            .counter(counter("latency_seconds_count", 12.0));
        for (le, per_second) in [("0.1", 6.0), ("0.3", 8.0), ("1", 11.0), ("+Inf", 12.0)] {
            h = h.counter(counter("latency_seconds_bucket", per_second).label("le", le));
        }
    }
    h
}

/// The value of the unlabelled metric `name` in a text exposition.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn a_daemon_with_a_tiny_history_budget_decides_as_direct_and_shows_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let now = Prometheus::now() / 15 * 15;
    // 30 hours before now to 3 hours after: every window (the period, a day, included) is
    // inside the history while the test runs.
    let blocks = backfill(dir.path(), &linear_history(now - 30 * HOUR, now + 3 * HOUR));
    let prom = Prometheus::start(&blocks);
    let specs_dir = dir.path().join("specs");
    write_specs(&specs_dir, "1d");
    let spec_arg = specs_dir.to_str().unwrap();
    let common_args = [
        spec_arg,
        "--prometheus",
        &prom.url(),
        "--interval",
        "1s",
        "--backend-flavor",
        "prometheus-2",
    ];
    let budget = 64 * 1024;
    let budget_arg = budget.to_string();
    let mut args = common_args.to_vec();
    args.extend(["--max-history-bytes", "64KiB"]);
    let budgeted = Daemon::start(&args);
    let mut args = common_args.to_vec();
    args.extend(["--evaluation", "direct"]);
    let direct = Daemon::start(&args);

    let settled = budgeted.wait_for(Duration::from_secs(60), |d| {
        let m = d.metrics();
        metric(&m, "burnrate_local_history_samples").is_some_and(|n| n > 0.0)
            && m.contains("burnrate_local_history_fallback_windows{")
            && d.decisions().len() == 3
    }) && direct.wait_for(Duration::from_secs(30), |d| d.decisions().len() == 3);
    assert!(settled, "no settled cycle:\n{}", budgeted.log());

    let metrics = budgeted.metrics();
    let held = metric(&metrics, "burnrate_local_history_bytes").expect("bytes held");
    let max = metric(&metrics, "burnrate_local_history_max_bytes").expect("budget");
    assert_eq!(max.to_string(), budget_arg);
    assert!(held > 0.0 && held <= max, "{held} bytes held, budget {max}");
    let fallbacks: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("burnrate_local_history_fallback_windows{"))
        .collect();
    eprintln!("{held} bytes held, budget {max}; {fallbacks:#?}");
    // Each of the three SLOs gave windows of both dimensions to the backend.
    assert_eq!(fallbacks.len(), 6, "{fallbacks:#?}");
    assert!(
        budgeted
            .log()
            .contains("these windows are measured with direct queries"),
        "{}",
        budgeted.log()
    );

    let by_slo = |d: &Daemon| -> Vec<Value> { d.decisions() };
    let (a, b) = (by_slo(&budgeted), by_slo(&direct));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x["service"], y["service"]);
        assert_eq!(x["decision"], y["decision"], "{x}\n{y}");
        let differences = evaluation_differences(x, y, REL_1E9_ABS_1E12);
        assert!(differences.is_empty(), "{}: {differences:#?}", x["service"]);
    }
    assert!(
        a.iter().any(|e| e["decision"] != "ok"),
        "20% errors must show: {a:#?}"
    );
}
