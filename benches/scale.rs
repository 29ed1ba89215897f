//! The daemon's cost per cycle, three ways, against one real Prometheus 2.42 holding
//! backfilled history, in three scenarios run one after the other:
//!
//! - **4 days at 60 s**: 200 services × 5 SLOs (`MIXED`: 600 error and 600 latency
//!   dimensions, default ladder over 30d: windows 5m, 30m, 1h, 6h, 3d and the 30d period),
//!   8 series per service, 4 days of 60 s scrapes (9.2 M samples), 5 cycles;
//! - **30 days at 15 s**: the same fleet with the 30d windows full: 31 days of 15 s scrapes
//!   (1.43 M samples per service), `BURNRATE_SCALE_30D_SERVICES` services (default 100: 500
//!   SLOs, 142 M samples; the report gives the arithmetic for 1,000), 3 cycles. Not 1,000
//!   SLOs by default because of time, not memory: promtool backfills about 0.64 M samples
//!   a second here (286 M samples: 7.5 minutes), and Prometheus needs about 0.47 s of CPU
//!   per service and cycle for the naive and direct ways' 30-day windows (1,000 SLOs: 94 s
//!   a cycle, 6 cycles);
//! - **issue 12's case**: four SLOs over a 365-day period, 72 series of 4 days of 15 s
//!   scrapes (1.66 M samples, `fleet::sparse_year`): what the seed costs when the reach is a
//!   year and the history four days (the target: at most 60 requests, under 64 MB peak RSS).
//!
//! The ways:
//! - **naive**: what recording rules do, one instant query per SLO, dimension and window
//!   (`sum(rate(BAD[w])) or sum(rate(TOTAL[w]))`), every window every cycle;
//! - **direct**: `burnrate run --evaluation direct`, every window every cycle, but one query
//!   per dimension and 5 dimensions per request (`--batch`, `BURNRATE_SCALE_BATCH`);
//! - **incremental**: `burnrate run` (the default), raw samples seeded once (a density probe,
//!   then the days that hold samples in chunks of about 250,000 samples), then one short
//!   overlapping request per fetch group per cycle, windows computed locally, within
//!   `--max-history-bytes` (`BURNRATE_SCALE_MAX_HISTORY`, bytes; default the daemon's 512 MiB).
//!
//! Each way runs in its own child process (`support/cycles.rs`; so its peak memory is its
//! own) over the same simulated cycles, 60 s apart at the end of the history, and reports
//! per steady cycle: HTTP requests, response bytes, samples Prometheus touched
//! (`stats=all`, `totalQueryableSamples`), Prometheus CPU (`/proc/PID/stat`), burnrate CPU
//! (the child's own, measuring and evaluating) and the child's peak RSS. The seed cycle of the
//! incremental way is reported on its own: requests, bytes, wall time, CPU, and what the
//! history holds after it (samples, heap bytes, bytes per sample, windows that fell back to
//! direct queries because of the budget).
//!
//! The decisions and burn rates of direct and incremental must be identical at every cycle
//! (a digest of every evaluation's JSON is compared); the bench fails otherwise.
//!
//! `harness = false`. `cargo bench --bench scale` runs the full sizes in about 20 minutes
//! (most of it backfilling the 30-day history and Prometheus answering the naive and direct
//! ways' 30-day windows; `BURNRATE_SCALE_ONLY=30` runs only the scenarios whose name contains
//! "30"); under `cargo test --all-targets` it runs each scenario at a toy size as a smoke
//! test (a few seconds).

#![allow(
    unsafe_code,
    reason = "libc: clock_gettime and sysconf for process CPU time"
)]

#[path = "support/cycles.rs"]
mod cycles;
#[allow(dead_code)]
#[path = "support/fleet.rs"]
mod fleet;
#[allow(dead_code)]
#[path = "../tests/common/history.rs"]
mod history;
#[allow(dead_code)]
#[path = "../tests/common/prometheus.rs"]
mod prometheus;

use burnrate::backend::PromClient;
use burnrate::daemon::cycle::EvaluationMode;
use burnrate::measure::columns::{decode_instant, key_of};
use burnrate::measure::direct::BatchItem;
use burnrate::measure::query::tagged_dimension_query;
use burnrate::spec::ServiceSpec;
use serde_json::{Value, json};
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// One fleet, its history and the ways run over it.
struct Scenario {
    name: String,
    /// Services of `fleet` (each with `MIXED`'s 5 SLOs), or `None` for issue 12's case.
    services: Option<usize>,
    days: i64,
    scrape_s: i64,
    cycles: i64,
    ways: &'static [&'static str],
    /// promtool's `--max-block-duration`: 24h blocks are compacted by Prometheus about a
    /// minute after start (the bench waits that out); blocks of 744h (promtool makes them
    /// 486h, the largest range Prometheus compacts to) are never compacted.
    block: &'static str,
    /// Seconds to wait for Prometheus's compaction before measuring.
    settle_s: u64,
}

const ALL_WAYS: &[&str] = &["naive", "direct", "incremental"];

fn main() {
    if let Some(args) = cycles::child_args() {
        println!("{}", child(&args));
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let wide: usize = std::env::var("BURNRATE_SCALE_30D_SERVICES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let scenarios = if full {
        vec![
            Scenario {
                name: "4 days at 60 s".into(),
                services: Some(200),
                days: 4,
                scrape_s: 60,
                cycles: 5,
                ways: ALL_WAYS,
                block: "24h",
                settle_s: 75,
            },
            Scenario {
                name: "30 days at 15 s".into(),
                services: Some(wide),
                days: 31,
                scrape_s: 15,
                cycles: 3,
                ways: ALL_WAYS,
                block: "744h",
                settle_s: 5,
            },
            Scenario {
                name: "issue 12's case (365d period, 4 days of 15 s)".into(),
                services: None,
                days: 4,
                scrape_s: 15,
                cycles: 3,
                ways: &["direct", "incremental"],
                block: "744h",
                settle_s: 5,
            },
        ]
    } else {
        vec![
            Scenario {
                name: "smoke: 1 day at 60 s".into(),
                services: Some(4),
                days: 1,
                scrape_s: 60,
                cycles: 3,
                ways: ALL_WAYS,
                block: "24h",
                settle_s: 0,
            },
            Scenario {
                name: "smoke: 2 days at 15 s".into(),
                services: Some(1),
                days: 2,
                scrape_s: 15,
                cycles: 2,
                ways: ALL_WAYS,
                block: "744h",
                settle_s: 0,
            },
            Scenario {
                name: "smoke: issue 12's case over 1 day".into(),
                services: None,
                days: 1,
                scrape_s: 15,
                cycles: 2,
                ways: &["direct", "incremental"],
                block: "744h",
                settle_s: 0,
            },
        ]
    };
    // `BURNRATE_SCALE_ONLY=30` runs only the scenarios whose name contains "30".
    let only = std::env::var("BURNRATE_SCALE_ONLY").unwrap_or_default();
    for scenario in scenarios.iter().filter(|s| s.name.contains(&only)) {
        let rows = run(scenario);
        report(scenario, &rows);
    }
}

fn run(sc: &Scenario) -> Vec<Value> {
    let dir = tempfile::Builder::new()
        .prefix("burnrate-bench-scale-")
        .tempdir()
        .expect("temp dir");
    let start = history::unix(2026, 10, 5, 0, 0, 0);
    let duration = sc.days * history::DAY;
    let specs = dir.path().join("specs");
    let (h, slos) = match sc.services {
        Some(services) => {
            fleet::write_specs(&specs, services, &fleet::MIXED);
            let h = fleet::history(services, start, duration, sc.scrape_s);
            (h, services * fleet::MIXED.len())
        }
        None => (fleet::sparse_year(&specs, start, sc.days), 4),
    };
    let prom = cycles::serve(
        &format!("{}: {slos} SLOs", sc.name),
        &h,
        dir.path(),
        sc.block,
    );
    // Let Prometheus finish compacting the backfilled blocks before measuring, so its CPU
    // is the queries' own.
    std::thread::sleep(Duration::from_secs(sc.settle_s));
    let last = start + duration - sc.scrape_s;
    let first_cycle = last - (sc.cycles - 1) * 60;
    let mut rows = Vec::new();
    for way in sc.ways {
        let args = json!({
            "way": way, "url": prom.url(), "pid": prom.pid(), "specs": specs,
            "first_ms": first_cycle * 1000, "cycles": sc.cycles,
        });
        let row = cycles::run_child(&args);
        eprintln!("{way}: {row}");
        rows.push(row);
    }
    let of = |way: &str| rows.iter().find(|r| r["way"] == way);
    if let (Some(direct), Some(incremental)) = (of("direct"), of("incremental")) {
        assert_eq!(
            direct["digests"], incremental["digests"],
            "{}: direct and incremental evaluations differ",
            sc.name
        );
    }
    rows
}

fn report(sc: &Scenario, rows: &[Value]) {
    let f = |r: &Value, k: &str| r["steady"][k].as_f64().unwrap_or(f64::NAN);
    println!(
        "\n{}: per steady cycle (mean of {} cycles after the first):",
        sc.name, rows[0]["steady_cycles"]
    );
    println!(
        "{:<12} {:>10} {:>14} {:>16} {:>14} {:>15} {:>12}",
        "way", "requests", "bytes", "samples touched", "backend CPU", "burnrate CPU", "peak RSS"
    );
    for r in rows {
        println!(
            "{:<12} {:>10.0} {:>14.0} {:>16.0} {:>12.0}ms {:>13.1}ms {:>10.0}MB",
            r["way"].as_str().unwrap_or(""),
            f(r, "requests"),
            f(r, "bytes"),
            f(r, "samples"),
            f(r, "backend_cpu_ms"),
            f(r, "burnrate_cpu_ms"),
            r["peak_rss_mb"].as_f64().unwrap_or(f64::NAN)
        );
    }
    let Some(inc) = rows.iter().find(|r| r["way"] == "incremental") else {
        return;
    };
    let held = inc["held_samples"].as_f64().unwrap_or(0.0);
    let bytes = inc["held_bytes"].as_f64().unwrap_or(0.0);
    println!(
        "incremental seed (first cycle, once): {} requests in {:.1} s, {:.1} MB, {} samples touched, backend CPU {:.0} ms, burnrate CPU {:.0} ms; holds {} samples in {:.1} MB ({:.2} bytes a sample); {} windows from direct queries (budget {} MB)",
        inc["seed"]["requests"],
        inc["seed"]["wall_ms"].as_f64().unwrap_or(0.0) / 1000.0,
        inc["seed"]["bytes"].as_f64().unwrap_or(0.0) / 1e6,
        inc["seed"]["samples"],
        inc["seed"]["backend_cpu_ms"].as_f64().unwrap_or(0.0),
        inc["seed"]["burnrate_cpu_ms"].as_f64().unwrap_or(0.0),
        held,
        bytes / 1e6,
        if held > 0.0 { bytes / held } else { f64::NAN },
        inc["fallback_windows"],
        inc["budget_bytes"].as_f64().unwrap_or(0.0) / 1e6,
    );
    // `/proc` counts CPU in 10 ms ticks: below one tick per cycle, say so instead of a ratio.
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.1}x", a / b)
        } else {
            format!(
                "> {:.0}x (incremental below one 10 ms tick per cycle)",
                a / 10.0
            )
        }
    };
    for base in rows.iter().filter(|r| r["way"] != "incremental") {
        println!(
            "{} / incremental: {} requests, {} samples touched, {} backend CPU, {} burnrate CPU",
            base["way"].as_str().unwrap_or(""),
            ratio(f(base, "requests"), f(inc, "requests")),
            ratio(f(base, "samples"), f(inc, "samples")),
            ratio(f(base, "backend_cpu_ms"), f(inc, "backend_cpu_ms")),
            ratio(f(base, "burnrate_cpu_ms"), f(inc, "burnrate_cpu_ms")),
        );
    }
    if let Some(services) = sc.services.filter(|&n| n < 200 && sc.days > 7) {
        // Everything here grows with the series, so 1,000 SLOs (200 services) is this run
        // times 200 / services: the arithmetic, not a measurement.
        let k = 200.0 / services as f64;
        let naive = rows.iter().find(|r| r["way"] == "naive");
        println!(
            "at 1,000 SLOs (x{k:.0}, arithmetic): incremental holds {:.0} M samples, {:.2} GB at {:.2} bytes a sample (budget permitting), seed ~{:.0} requests; naive needs ~{:.0} s of Prometheus CPU per cycle, direct ~{:.0} s",
            held * k / 1e6,
            bytes * k / 1e9,
            if held > 0.0 { bytes / held } else { f64::NAN },
            inc["seed"]["requests"].as_f64().unwrap_or(0.0) * k,
            naive.map_or(f64::NAN, |r| f(r, "backend_cpu_ms") * k / 1000.0),
            rows.iter()
                .find(|r| r["way"] == "direct")
                .map_or(f64::NAN, |r| f(r, "backend_cpu_ms") * k / 1000.0),
        );
    }
}

// ---------------------------------------------------------------------------------------
// One way, in a child process
// ---------------------------------------------------------------------------------------

fn child(args: &Value) -> Value {
    let way = args["way"].as_str().unwrap();
    let first_ms = args["first_ms"].as_i64().unwrap();
    let cycles = args["cycles"].as_i64().unwrap();
    let mode = if way == "incremental" {
        EvaluationMode::Incremental
    } else {
        EvaluationMode::Direct
    };
    // Dimensions per batched request (`--batch`); 5 unless BURNRATE_SCALE_BATCH says.
    let batch = std::env::var("BURNRATE_SCALE_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(5);
    let budget: u64 = std::env::var("BURNRATE_SCALE_MAX_HISTORY")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(burnrate::daemon::cycle::DEFAULT_MAX_HISTORY_BYTES);
    let mut w = cycles::Way::open(args, mode, batch, budget);
    let mut per_cycle = Vec::new();
    let mut digests = Vec::new();
    let (mut held, mut held_bytes) = (0, 0);
    for c in 0..cycles {
        let at_ms = first_ms + c * 60_000;
        if way == "naive" {
            let ((), cost) = w.costed(|w| {
                w.rt.block_on(naive_cycle(&w.client, &w.specs, &w.slos, at_ms));
            });
            per_cycle.push(cost);
            continue;
        }
        let ((evaluated, report), cost) = w.costed(|w| w.evaluate(at_ms));
        per_cycle.push(cost);
        held = report.held_samples;
        held_bytes = report.held_bytes;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for e in &evaluated {
            serde_json::to_string(&e.evals).unwrap().hash(&mut hasher);
        }
        digests.push(format!("{:016x}", hasher.finish()));
    }
    let mut out = cycles::summary(&per_cycle);
    out["way"] = json!(way);
    out["held_samples"] = json!(held);
    out["held_bytes"] = json!(held_bytes);
    out["budget_bytes"] = json!(budget);
    out["fallback_windows"] = json!(
        w.measurer
            .history_fallbacks()
            .iter()
            .map(|f| f.3)
            .sum::<usize>()
    );
    out["peak_rss_mb"] = json!(cycles::peak_rss_mb());
    out["digests"] = json!(digests);
    out
}

/// One instant query per SLO, dimension and window, 16 in flight, decoded (so the client
/// side does the same parsing work as the other ways).
async fn naive_cycle(
    client: &PromClient,
    specs: &[ServiceSpec],
    slos: &[(usize, usize)],
    at_ms: i64,
) {
    let mut queries = Vec::new();
    for &(s, i) in slos {
        let slo = &specs[s].slos[i];
        for dimension in slo.dimensions() {
            for w in slo.measured_windows(dimension) {
                queries.push((BatchItem::new(slo, dimension), w.clone()));
            }
        }
    }
    let permits = tokio::sync::Semaphore::new(16);
    let results = futures::future::join_all(queries.iter().map(|(item, w)| {
        let permits = &permits;
        async move {
            let _p = permits.acquire().await.unwrap();
            let windows = std::slice::from_ref(w);
            let q = tagged_dimension_query(item.slo, item.dimension, windows, "");
            let r = client.instant(&q, at_ms).await.expect("naive query");
            decode_instant(
                item.dimension,
                windows,
                r.samples
                    .iter()
                    .filter_map(|s| Some((key_of(&s.labels)?, &s.labels, s.value))),
            )
        }
    }))
    .await;
    assert_eq!(results.len(), queries.len());
}
