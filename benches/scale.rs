//! The daemon's cost per cycle at 1,000 SLOs, three ways, against one real Prometheus 2.42
//! holding backfilled history:
//!
//! - **naive**: what recording rules do, one instant query per SLO, dimension and window
//!   (`sum(rate(BAD[w])) or sum(rate(TOTAL[w]))`), every window every cycle;
//! - **direct**: `burnrate run --evaluation direct`, every window every cycle, but one query
//!   per dimension and 5 dimensions per request (`--batch`, `BURNRATE_SCALE_BATCH`);
//! - **incremental**: `burnrate run` (the default), raw samples seeded once, then one short
//!   overlapping request per fetch group per cycle, windows computed locally.
//!
//! The fleet is `support/fleet.rs`: 200 services × 5 SLOs (`MIXED`: 600 error and 600
//! latency dimensions, default ladder over 30d: windows 5m, 30m, 1h, 6h, 3d and the 30d
//! period), 8 series per service, 4 days of 60 s scrapes. Each way runs in its own child
//! process (so its peak memory is its own) over the same simulated cycles, 60 s apart at
//! the end of the history, and reports per steady cycle: HTTP requests, response bytes,
//! samples Prometheus touched (`stats=all`, `totalQueryableSamples`), Prometheus CPU
//! (`/proc/PID/stat`), burnrate CPU (the child's own, measuring and evaluating) and the
//! child's peak RSS. The seed cycle of the incremental way is reported on its own.
//!
//! The decisions and burn rates of direct and incremental must be identical at every cycle
//! (a digest of every evaluation's JSON is compared); the bench fails otherwise.
//!
//! `harness = false`. `cargo bench --bench scale` runs the full size (about 3 minutes);
//! under `cargo test --all-targets` it runs 4 services over 1 day as a smoke test.

#![allow(
    unsafe_code,
    reason = "libc: clock_gettime and sysconf for process CPU time"
)]

#[allow(dead_code)]
#[path = "support/fleet.rs"]
mod fleet;
#[allow(dead_code)]
#[path = "../tests/common/history.rs"]
mod history;
#[allow(dead_code)]
#[path = "../tests/common/prometheus.rs"]
mod prometheus;

use burnrate::backend::{ClientConfig, PromClient};
use burnrate::daemon::cycle::{CycleMeasurer, EvaluationMode};
use burnrate::engine::evaluate::evaluate_slo;
use burnrate::engine::hysteresis::StateStore;
use burnrate::measure::columns::{decode_instant, key_of};
use burnrate::measure::direct::BatchItem;
use burnrate::measure::query::tagged_dimension_query;
use burnrate::promql::Flavor;
use burnrate::spec::{ServiceSpec, load_paths};
use serde_json::{Value, json};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCRAPE_S: i64 = 60;
const ROLE_ENV: &str = "BURNRATE_SCALE_CHILD";

fn main() {
    if let Ok(args) = std::env::var(ROLE_ENV) {
        let args: Value = serde_json::from_str(&args).expect("child arguments");
        println!("{}", child(&args));
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let (services, days, cycles) = if full { (200, 4, 5) } else { (4, 1, 3) };
    parent(services, days, cycles, full);
}

fn parent(services: usize, days: i64, cycles: i64, full: bool) {
    let t_setup = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("burnrate-bench-scale-")
        .tempdir()
        .expect("temp dir");
    let start = history::unix(2026, 10, 5, 0, 0, 0);
    let duration = days * history::DAY;
    let om = dir.path().join("history.om");
    let stats = fleet::history(services, start, duration, SCRAPE_S).write_openmetrics(&om);
    let specs = dir.path().join("specs");
    fleet::write_specs(&specs, services, &fleet::MIXED);
    let blocks = dir.path().join("blocks");
    prometheus::backfill_with_block_duration(&om, &blocks, Some("24h"));
    let _ = std::fs::remove_file(&om);
    let prom = prometheus::Prometheus::start(&blocks);
    eprintln!(
        "setup: {} SLOs, {} series, {} samples backfilled; Prometheus up after {:.1?}",
        services * fleet::MIXED.len(),
        stats.series,
        stats.samples,
        t_setup.elapsed()
    );
    // Let Prometheus finish compacting the backfilled blocks (about a minute after start)
    // before measuring, so its CPU is the queries' own.
    if full {
        std::thread::sleep(Duration::from_secs(75));
    }
    let last = start + duration - SCRAPE_S;
    let first_cycle = last - (cycles - 1) * 60;
    let mut rows = Vec::new();
    for way in ["naive", "direct", "incremental"] {
        let args = json!({
            "way": way, "url": prom.url(), "pid": prom.pid(), "specs": specs,
            "first_ms": first_cycle * 1000, "cycles": cycles,
        });
        let out = Command::new(std::env::current_exe().expect("own path"))
            .env(ROLE_ENV, args.to_string())
            .output()
            .expect("run child");
        assert!(
            out.status.success(),
            "{way} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let row: Value =
            serde_json::from_slice(out.stdout.trim_ascii()).expect("child prints one JSON");
        eprintln!("{way}: {row}");
        rows.push(row);
    }
    report(&rows);
    let (direct, incremental) = (&rows[1], &rows[2]);
    assert_eq!(
        direct["digests"], incremental["digests"],
        "direct and incremental evaluations differ"
    );
}

fn report(rows: &[Value]) {
    let f = |r: &Value, k: &str| r["steady"][k].as_f64().unwrap_or(f64::NAN);
    println!(
        "\nper steady cycle (mean of {} cycles after the first):",
        rows[0]["steady_cycles"]
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
    let inc = &rows[2];
    println!(
        "incremental seed (first cycle, once): {} requests, {:.1} MB, {} samples touched, backend CPU {:.0} ms, burnrate CPU {:.0} ms; {} samples held",
        inc["seed"]["requests"],
        inc["seed"]["bytes"].as_f64().unwrap_or(0.0) / 1e6,
        inc["seed"]["samples"],
        inc["seed"]["backend_cpu_ms"].as_f64().unwrap_or(0.0),
        inc["seed"]["burnrate_cpu_ms"].as_f64().unwrap_or(0.0),
        inc["held_samples"]
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
    for base in [&rows[0], &rows[1]] {
        println!(
            "{} / incremental: {} requests, {} samples touched, {} backend CPU, {} burnrate CPU",
            base["way"].as_str().unwrap_or(""),
            ratio(f(base, "requests"), f(inc, "requests")),
            ratio(f(base, "samples"), f(inc, "samples")),
            ratio(f(base, "backend_cpu_ms"), f(inc, "backend_cpu_ms")),
            ratio(f(base, "burnrate_cpu_ms"), f(inc, "burnrate_cpu_ms")),
        );
    }
}

// ---------------------------------------------------------------------------------------
// One way, in a child process
// ---------------------------------------------------------------------------------------

/// CPU seconds of this process so far.
fn own_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// CPU seconds of process `pid` so far (user + system, from `/proc/PID/stat`).
fn process_cpu(pid: u64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn child(args: &Value) -> Value {
    let way = args["way"].as_str().unwrap();
    let pid = args["pid"].as_u64().unwrap();
    let first_ms = args["first_ms"].as_i64().unwrap();
    let cycles = args["cycles"].as_i64().unwrap();
    let report = load_paths(&[PathBuf::from(args["specs"].as_str().unwrap())]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let specs: Arc<Vec<ServiceSpec>> = Arc::new(report.specs);
    let slos: Vec<(usize, usize)> = specs
        .iter()
        .enumerate()
        .flat_map(|(s, svc)| (0..svc.slos.len()).map(move |i| (s, i)))
        .collect();
    let mut config = ClientConfig::new(args["url"].as_str().unwrap());
    config.timeout = Duration::from_secs(120);
    let client = PromClient::new(config).unwrap().with_query_stats();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
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
    let mut measurer = CycleMeasurer::new(
        client.clone(),
        specs.clone(),
        slos.clone(),
        mode,
        Flavor::Prometheus2,
        batch,
        16,
    );
    let mut state = StateStore::default();
    let mut per_cycle = Vec::new();
    let mut digests = Vec::new();
    let mut held = 0;
    for c in 0..cycles {
        let at_ms = first_ms + c * 60_000;
        let (cpu0, backend0, traffic0) = (own_cpu(), process_cpu(pid), client.traffic().snapshot());
        if way == "naive" {
            rt.block_on(naive_cycle(&client, &specs, &slos, at_ms));
        } else {
            let (measured, report) = rt.block_on(measurer.measure(at_ms));
            held = report.held_samples;
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            for ((service, slo), m) in measurer.slos().zip(&measured) {
                let eval = evaluate_slo(
                    service,
                    slo,
                    at_ms,
                    m,
                    state.slo(&service.service, &slo.name),
                );
                serde_json::to_string(&eval).unwrap().hash(&mut hasher);
            }
            digests.push(format!("{:016x}", hasher.finish()));
        }
        let traffic = client.traffic().snapshot().since(traffic0);
        per_cycle.push(json!({
            "requests": traffic.requests,
            "bytes": traffic.response_bytes,
            "samples": traffic.queryable_samples,
            "backend_cpu_ms": (process_cpu(pid) - backend0) * 1000.0,
            "burnrate_cpu_ms": (own_cpu() - cpu0) * 1000.0,
        }));
    }
    let steady: Vec<&Value> = per_cycle.iter().skip(1).collect();
    let mean =
        |k: &str| steady.iter().map(|c| c[k].as_f64().unwrap()).sum::<f64>() / steady.len() as f64;
    json!({
        "way": way,
        "seed": per_cycle[0],
        "steady_cycles": steady.len(),
        "steady": {
            "requests": mean("requests"), "bytes": mean("bytes"), "samples": mean("samples"),
            "backend_cpu_ms": mean("backend_cpu_ms"), "burnrate_cpu_ms": mean("burnrate_cpu_ms"),
        },
        "held_samples": held,
        "peak_rss_mb": peak_rss_mb(),
        "digests": digests,
    })
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
                queries.push((BatchItem { slo, dimension }, w.clone()));
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
