//! One backtest, three ways, in one run: 10 SLOs with both dimensions (default ladder:
//! 5m, 30m, 1h, 6h, 3d, plus the 30d period), 7 days at a 1-minute step (10,080 steps each),
//! replayed by the release binary
//!
//! - (a) from a history file: `--history FILE` (local rate engine);
//! - (b) from Prometheus, `--rates local`: raw samples fetched once, windows computed locally;
//! - (c) from Prometheus, `--rates query-range`: Prometheus evaluates every window at every
//!   step with `query_range`.
//!
//! The same synthetic history (60 s scrapes) is written as OpenMetrics text for (a) and
//! backfilled with promtool into a Prometheus 2.42 this bench starts on 127.0.0.1 for (b)
//! and (c). Each path runs 3 times, interleaved (a, b, c, a, b, c, ...); the table shows the
//! best wall time, every run, what Prometheus served (requests and response bytes, from its
//! own `prometheus_http_*` metrics) and the ratios. The decisions printed by the three paths
//! (every JSON line's service, SLO, time and decision, and each summary's final decision)
//! must be identical; the bench fails otherwise.
//!
//! Blocks are backfilled 24h long (promtool's default 2h blocks take 8x longer to write and
//! are not what a Prometheus holding weeks of data serves from); Prometheus compacts them
//! about a minute after start, which takes it about a second, during one of the first runs.
//!
//! `harness = false`: a plain main, no criterion. Needs `prometheus` and `promtool` (see
//! tests/common/prometheus.rs). About 1.5 minutes, most of it in (c).

#[allow(dead_code)]
#[path = "support/fleet.rs"]
mod fleet;
#[allow(dead_code)]
#[path = "../tests/common/history.rs"]
mod history;
#[allow(dead_code)]
#[path = "../tests/common/prometheus.rs"]
mod prometheus;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCRAPE_S: i64 = 60;

/// One way of running the backtest.
struct Way {
    label: &'static str,
    args: Vec<String>,
    uses_prometheus: bool,
}

/// What one run produced.
struct Run {
    wall: Duration,
    stdout: String,
    served: Served,
}

/// What Prometheus's own metrics say it served, per API handler.
#[derive(Debug, Clone, Copy, Default)]
struct Served {
    query_requests: f64,
    query_bytes: f64,
    range_requests: f64,
    range_bytes: f64,
    /// Seconds Prometheus spent answering (sum of `prometheus_http_request_duration_seconds`).
    busy_seconds: f64,
}

impl Served {
    fn since(self, before: Served) -> Served {
        Served {
            query_requests: self.query_requests - before.query_requests,
            query_bytes: self.query_bytes - before.query_bytes,
            range_requests: self.range_requests - before.range_requests,
            range_bytes: self.range_bytes - before.range_bytes,
            busy_seconds: self.busy_seconds - before.busy_seconds,
        }
    }

    fn requests(&self) -> f64 {
        self.query_requests + self.range_requests
    }

    fn bytes(&self) -> f64 {
        self.query_bytes + self.range_bytes
    }
}

/// Reads `prometheus_http_requests_total`, `prometheus_http_response_size_bytes_sum` and
/// `prometheus_http_request_duration_seconds_sum` for the instant and range query handlers
/// from Prometheus's `/metrics`.
fn served(url: &str) -> Served {
    let text = ureq::get(&format!("{url}/metrics"))
        .call()
        .expect("GET /metrics")
        .into_string()
        .expect("read /metrics");
    let mut s = Served::default();
    for line in text.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        let query = series.contains("handler=\"/api/v1/query\"");
        let range = series.contains("handler=\"/api/v1/query_range\"");
        if series.starts_with("prometheus_http_requests_total{") {
            if query {
                s.query_requests += v;
            } else if range {
                s.range_requests += v;
            }
        } else if series.starts_with("prometheus_http_response_size_bytes_sum{") {
            if query {
                s.query_bytes += v;
            } else if range {
                s.range_bytes += v;
            }
        } else if series.starts_with("prometheus_http_request_duration_seconds_sum{")
            && (query || range)
        {
            s.busy_seconds += v;
        }
    }
    s
}

fn run(way: &Way, specs: &Path, prom_url: &str) -> Run {
    let before = if way.uses_prometheus {
        served(prom_url)
    } else {
        Served::default()
    };
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_burnrate"))
        .arg("backtest")
        .arg(specs)
        .args(&way.args)
        .stdin(Stdio::null())
        .output()
        .expect("run burnrate");
    let wall = t.elapsed();
    if !out.status.success() {
        panic!(
            "{}: burnrate backtest failed ({}):\n{}",
            way.label,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let served = if way.uses_prometheus {
        served(prom_url).since(before)
    } else {
        Served::default()
    };
    Run {
        wall,
        stdout: String::from_utf8(out.stdout).expect("UTF-8 output"),
        served,
    }
}

/// (service, slo, time or "summary") -> decision, from the JSON lines; and the number of
/// evaluations the summaries report.
fn decisions(stdout: &str) -> (BTreeMap<(String, String, String), String>, u64) {
    let mut out = BTreeMap::new();
    let mut evaluations = 0;
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let summary = v["summary"].as_bool().unwrap_or(false);
        if summary {
            evaluations += v["evaluations"].as_u64().unwrap_or(0);
        }
        let time = if summary {
            "summary".to_string()
        } else {
            s("time")
        };
        out.insert((s("service"), s("slo"), time), s("decision"));
    }
    (out, evaluations)
}

/// Differences between two decision sets, as printable lines (at most `limit`).
fn differences(
    a: &BTreeMap<(String, String, String), String>,
    b: &BTreeMap<(String, String, String), String>,
    limit: usize,
) -> (usize, Vec<String>) {
    let mut n = 0;
    let mut shown = Vec::new();
    let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if x != y {
            n += 1;
            if shown.len() < limit {
                shown.push(format!("    {}/{} {}: {:?} vs {:?}", k.0, k.1, k.2, x, y));
            }
        }
    }
    (n, shown)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`. `cargo test --all-targets` also builds benches (dev
    // profile) and runs them: there 2 SLOs over 2 days, once, only check that the three paths
    // still agree.
    let (services, days, rounds) = if std::env::args().any(|a| a == "--bench") {
        (10usize, 7i64, 3usize)
    } else {
        (2, 2, 1)
    };
    let t_setup = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("burnrate-bench-vs-prometheus-")
        .tempdir()
        .expect("temp dir");
    let start = history::unix(2026, 10, 5, 0, 0, 0);
    let duration = days * history::DAY;
    let om = dir.path().join("history.om");
    let stats = fleet::history(services, start, duration, SCRAPE_S).write_openmetrics(&om);
    let specs: PathBuf = dir.path().join("specs");
    fleet::write_specs(&specs, services, &fleet::BOTH_ONLY);
    let t_backfill = Instant::now();
    let blocks = dir.path().join("blocks");
    prometheus::backfill_with_block_duration(&om, &blocks, Some("24h"));
    let backfill = t_backfill.elapsed();
    let prom = prometheus::Prometheus::start(&blocks);
    let url = prom.url();
    eprintln!(
        "setup: {} series, {} samples, {:.1} MB OpenMetrics; promtool backfill {:.1?}; Prometheus up at {url} after {:.1?} in all",
        stats.series,
        stats.samples,
        stats.bytes as f64 / 1e6,
        backfill,
        t_setup.elapsed()
    );

    let (from, to) = (start, start + duration - SCRAPE_S);
    let range = [
        "--from".to_string(),
        from.to_string(),
        "--to".to_string(),
        to.to_string(),
        "--step".to_string(),
        "1m".to_string(),
        "--format".to_string(),
        "json".to_string(),
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        extra
            .iter()
            .map(|s| s.to_string())
            .chain(range.iter().cloned())
            .collect()
    };
    let paths = [
        Way {
            label: "(a) --history FILE (local engine)",
            args: with(&["--history", om.to_str().expect("UTF-8 path")]),
            uses_prometheus: false,
        },
        Way {
            label: "(b) --prometheus --rates local",
            args: with(&[
                "--prometheus",
                &url,
                "--rates",
                "local",
                "--timeout",
                "300s",
            ]),
            uses_prometheus: true,
        },
        Way {
            label: "(c) --prometheus --rates query-range",
            args: with(&[
                "--prometheus",
                &url,
                "--rates",
                "query-range",
                "--timeout",
                "300s",
            ]),
            uses_prometheus: true,
        },
    ];

    let mut runs: Vec<Vec<Run>> = paths.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (i, p) in paths.iter().enumerate() {
            let r = run(p, &specs, &url);
            eprintln!(
                "round {}: {:<38} {:>8.3} s",
                round + 1,
                p.label,
                secs(r.wall)
            );
            runs[i].push(r);
        }
    }

    // Same decisions everywhere (and the same across rounds).
    let reference = decisions(&runs[0][0].stdout);
    let steps = (to - from) / 60 + 1;
    let slo_steps = steps as u64 * services as u64;
    assert_eq!(
        reference.1, slo_steps,
        "(a) should have evaluated {slo_steps} SLO-steps"
    );
    let mut failures = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        for (round, r) in runs[i].iter().enumerate() {
            let d = decisions(&r.stdout);
            let (n, shown) = differences(&reference.0, &d.0, 8);
            if n > 0 || d.1 != reference.1 {
                failures.push(format!(
                    "{} round {}: {n} decision(s) differ from (a), {} vs {} evaluations\n{}",
                    p.label,
                    round + 1,
                    d.1,
                    reference.1,
                    shown.join("\n")
                ));
            }
        }
    }

    let best: Vec<Duration> = runs
        .iter()
        .map(|rs| rs.iter().map(|r| r.wall).min().expect("runs"))
        .collect();
    println!();
    println!(
        "backtest, {services} SLOs (error + latency, default ladder + 30d), {days} days at 1m = {steps} steps per SLO, {slo_steps} SLO-steps; \
         history {} series x {} days at {SCRAPE_S} s ({} samples)",
        stats.series, days, stats.samples
    );
    println!(
        "{:<38} {:>8} {:>7} {:>24} {:>9} {:>10} {:>10} {:>11}",
        "path", "best s", "vs (a)", "runs s", "requests", "MB served", "server s", "SLO-steps/s"
    );
    for (i, p) in paths.iter().enumerate() {
        let all = runs[i]
            .iter()
            .map(|r| format!("{:.3}", secs(r.wall)))
            .collect::<Vec<_>>()
            .join(" ");
        let served = runs[i].last().expect("runs").served;
        let (requests, mb, busy) = if p.uses_prometheus {
            (
                format!("{:.0}", served.requests()),
                format!("{:.2}", served.bytes() / 1e6),
                format!("{:.3}", served.busy_seconds),
            )
        } else {
            (
                "-".to_string(),
                format!("({:.2})", stats.bytes as f64 / 1e6),
                "-".to_string(),
            )
        };
        println!(
            "{:<38} {:>8.3} {:>6.1}x {:>24} {:>9} {:>10} {:>10} {:>11.0}",
            p.label,
            secs(best[i]),
            secs(best[i]) / secs(best[0]),
            all,
            requests,
            mb,
            busy,
            slo_steps as f64 / secs(best[i])
        );
    }
    println!(
        "(a) is {:.1}x faster than (c) (target >= 10x), {:.1}x faster than (b); (b) is {:.1}x faster than (c)",
        secs(best[2]) / secs(best[0]),
        secs(best[1]) / secs(best[0]),
        secs(best[2]) / secs(best[1])
    );
    println!(
        "requests / MB served / server s: the last run's, from Prometheus's own metrics (uncompressed JSON; \
         server s = time Prometheus spent answering). (a)'s MB is the history file it reads."
    );
    if failures.is_empty() {
        let mut reached: BTreeMap<&str, usize> = BTreeMap::new();
        for ((_, _, time), d) in &reference.0 {
            if time != "summary" {
                *reached.entry(d.as_str()).or_default() += 1;
            }
        }
        println!(
            "decisions: identical across (a), (b), (c) and rounds ({} decision lines + {} summaries per run; lines by decision: {reached:?})",
            reference.0.len() - services,
            services
        );
    } else {
        println!("decisions DIFFER:");
        for f in &failures {
            println!("  {f}");
        }
    }
    drop(prom);
    assert!(failures.is_empty(), "the three paths disagree");
}
