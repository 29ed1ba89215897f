//! What `group_by` saves the daemon (issue 13): one SLO with 1,000 groups against 1,000
//! separate SLOs over the same series, per cycle, against one real Prometheus 2.42 holding
//! backfilled history.
//!
//! Grouping exists so that a fleet of routes (clusters, tenants) needs one spec entry
//! instead of one per member; this bench shows what it costs at run time, and that it
//! costs nothing in correctness. The history: 1,000 routes, each
//! `requests_total{route="r0000",code="200"|"500"}` and a classic histogram
//! `latency_seconds{route}` (`le` 0.1, 0.3, 1, +Inf: 8 series a route, each route with the
//! scale bench's traffic and incidents, some still under way at the end, so that every
//! decision is reached by some routes), 24 hours of 60 s scrapes. The two ways of writing
//! the same SLOs (error 99.9% and P99 <= 500ms, default ladder over 30d, `for: 2m`,
//! `hold: 10m`):
//!
//! - **A**: one SLO, `group_by: [route]`, `max_groups: 1000` (one tagged query per
//!   dimension measures every route; `measure::query`, `engine::groups`);
//! - **B**: 1,000 SLOs, each with `route="rNNNN"` selectors (what a fleet without groups
//!   writes, or generates).
//!
//! Each runs in incremental mode (the daemon's default: raw samples seeded once, then one
//! short request per fetch group per cycle) and in direct mode (`--evaluation direct`: every
//! window every cycle, 5 dimensions per request), each way in its own child process (the
//! scale bench's machinery, `support/cycles.rs`) over the same 6 simulated cycles 60 s
//! apart at the end of the history. Reported per steady cycle (the mean of the 5 after the
//! first): HTTP requests, response bytes, samples Prometheus touched, Prometheus CPU,
//! burnrate CPU (measuring and evaluating), and the child's peak RSS; the seed cycle on its
//! own; the ratios B / A. The machine is shared, so the four ways run 3 rounds interleaved
//! and the report takes each way's lowest CPU times and RSS.
//!
//! Every group of A must evaluate as the SLO of B for the same route at every cycle, in both
//! modes and every round: burns, events, quantiles, budgets within a relative 1e-9,
//! decisions, fired, pending and held rules and `no_traffic` equal (naming aside: service,
//! SLO, group), and no query may fail. The bench fails otherwise, so it also proves the
//! grouped path right at 1,000 groups.
//!
//! `harness = false`. `cargo bench --bench groups` runs the full size in about 5 minutes
//! (`BURNRATE_GROUPS_ROUTES`, `BURNRATE_GROUPS_HOURS` and `BURNRATE_GROUPS_ROUNDS` change
//! it); under `cargo test --all-targets` it runs 20 routes over 6 hours, one round, as a
//! smoke test (a few seconds).

#![allow(
    unsafe_code,
    reason = "libc: clock_gettime and sysconf for process CPU time"
)]

#[allow(dead_code)]
#[path = "../tests/common/approx.rs"]
mod approx;
#[allow(dead_code)]
#[path = "support/cycles.rs"]
mod cycles;
#[allow(dead_code)]
#[path = "../tests/common/evaluation.rs"]
mod evaluation;
#[allow(dead_code)]
#[path = "support/fleet.rs"]
mod fleet;
#[allow(dead_code)]
#[path = "../tests/common/history.rs"]
mod history;
#[allow(dead_code)]
#[path = "../tests/common/prometheus.rs"]
mod prometheus;

use burnrate::daemon::cycle::{DEFAULT_MAX_HISTORY_BYTES, EvaluationMode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// The SLO every route has, in both ways.
const SLO: fleet::SloDef = fleet::BOTH_ONLY[0];

/// The ways, in the order they run; the first is the reference the others must equal.
const WAYS: [(&str, &str, EvaluationMode); 4] = [
    ("A incremental", "grouped", EvaluationMode::Incremental),
    ("B incremental", "separate", EvaluationMode::Incremental),
    ("A direct", "grouped", EvaluationMode::Direct),
    ("B direct", "separate", EvaluationMode::Direct),
];

struct Size {
    routes: usize,
    hours: i64,
    scrape_s: i64,
    cycles: i64,
    /// Runs of every way; the report takes the best (`best`).
    rounds: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if let Some(args) = cycles::child_args() {
        println!("{}", child(&args));
        return;
    }
    let size = if std::env::args().any(|a| a == "--bench") {
        Size {
            routes: env_or("BURNRATE_GROUPS_ROUTES", 1000),
            hours: env_or("BURNRATE_GROUPS_HOURS", 24),
            scrape_s: 60,
            cycles: 6,
            rounds: env_or("BURNRATE_GROUPS_ROUNDS", 3),
        }
    } else {
        Size {
            routes: 20,
            hours: 6,
            scrape_s: 60,
            cycles: 3,
            rounds: 1,
        }
    };
    let rows = run(&size);
    report(&size, &rows);
}

fn route(i: usize) -> String {
    format!("r{i:04}")
}

/// Way A's spec (`grouped/`) and way B's (`separate/`) under `dir`.
fn write_specs(dir: &Path, routes: usize) {
    let header = "apiVersion: burnrate/v1\nservice: edge\nslos:\n";
    let mut grouped = format!("{header}{}", fleet::slo_yaml(&SLO, "requests", "", "30d"));
    grouped.push_str(&format!(
        "    group_by: [route]\n    max_groups: {routes}\n"
    ));
    let mut separate = header.to_string();
    for i in 0..routes {
        let r = route(i);
        separate.push_str(&fleet::slo_yaml(&SLO, &r, &format!("route=\"{r}\""), "30d"));
    }
    for (name, text) in [("grouped", grouped), ("separate", separate)] {
        std::fs::create_dir_all(dir.join(name)).expect("create spec dir");
        std::fs::write(dir.join(name).join("edge.yaml"), text).expect("write spec");
    }
}

fn run(size: &Size) -> Vec<Value> {
    let dir = tempfile::Builder::new()
        .prefix("burnrate-bench-groups-")
        .tempdir()
        .expect("temp dir");
    let start = history::unix(2026, 10, 5, 0, 0, 0);
    let end = start + size.hours * history::HOUR;
    // The fleet's incidents end 2 h before the end they are given: given 2 h more, some are
    // still under way at the cycles, so that every decision has routes to compare.
    let incidents_end = end + 2 * history::HOUR;
    let h = (0..size.routes).fold(
        history::History::new(start, end - start)
            .interval(size.scrape_s)
            .seed(13),
        |h, i| {
            let r = route(i);
            fleet::add_member(h, i, start, incidents_end, &fleet::BOUNDS, ("route", &r))
        },
    );
    let prom = cycles::serve(
        &format!("groups: {} routes", size.routes),
        &h,
        dir.path(),
        // Never compacted by Prometheus, so its CPU is the queries' own from the start.
        "744h",
    );
    write_specs(dir.path(), size.routes);
    let last = end - size.scrape_s;
    // Every sample an SLI reads, read once, so the first way does not pay for Prometheus's
    // first touch of the blocks on the others' behalf.
    for name in [
        "requests_total",
        "latency_seconds_bucket",
        "latency_seconds_count",
    ] {
        let touch = format!("count(count_over_time({name}[{}h]))", size.hours + 1);
        prom.query_json(&touch, last);
    }
    let first_ms = (last - (size.cycles - 1) * 60) * 1000;
    // Per way, its runs; the rounds interleave the ways so a noisy neighbour hits all alike.
    let mut runs: Vec<Vec<Value>> = vec![Vec::new(); WAYS.len()];
    for round in 0..size.rounds {
        for ((way, specs, mode), runs) in WAYS.iter().zip(&mut runs) {
            let evaluations = dir
                .path()
                .join(format!("{}-{round}.jsonl", way.replace(' ', "-")));
            let args = json!({
                "url": prom.url(), "pid": prom.pid(), "specs": dir.path().join(specs),
                "direct": *mode == EvaluationMode::Direct, "first_ms": first_ms,
                "cycles": size.cycles, "evaluations": evaluations,
            });
            let mut row = cycles::run_child(&args);
            row["way"] = json!(way);
            eprintln!("round {round}, {way}: {row}");
            row["evaluations"] = json!(evaluations);
            runs.push(row);
        }
    }
    let all: Vec<&Value> = runs.iter().flatten().collect();
    let compared = compare(&all, size.routes * size.cycles as usize);
    eprintln!(
        "{compared} evaluations of each of {} runs equal the reference's",
        all.len()
    );
    runs.iter().map(|r| best(r)).collect()
}

/// The best of a way's runs, metric by metric: the lowest CPU times and peak RSS (what the
/// way costs without a neighbour's noise). Requests and samples are the same in every run.
fn best(runs: &[Value]) -> Value {
    let lowest = |get: &dyn Fn(&Value) -> &Value| {
        runs.iter()
            .filter_map(|r| get(r).as_f64())
            .fold(f64::INFINITY, f64::min)
    };
    let mut out = runs[0].clone();
    for part in ["seed", "steady"] {
        for k in ["backend_cpu_ms", "burnrate_cpu_ms", "wall_ms"] {
            out[part][k] = json!(lowest(&|r| &r[part][k]));
        }
    }
    for k in ["peak_rss_seed_mb", "peak_rss_mb"] {
        out[k] = json!(lowest(&|r| &r[k]));
    }
    out
}

/// The evaluations a way's child wrote, by cycle and route.
fn read_evaluations(row: &Value) -> impl Iterator<Item = ((i64, String), Value)> {
    let path = row["evaluations"].as_str().unwrap();
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    BufReader::new(file).lines().map(|line| {
        let mut v: Value = serde_json::from_str(&line.expect("read evaluations")).unwrap();
        let key = (
            v["cycle"].as_i64().unwrap(),
            v["route"].as_str().unwrap().into(),
        );
        (key, v["eval"].take())
    })
}

/// Checks every run's evaluations against the first run's, route by route and cycle by
/// cycle, each instance once; returns how many each run has (`expected`, or this panics).
fn compare(rows: &[&Value], expected: usize) -> usize {
    let reference: HashMap<(i64, String), Value> = read_evaluations(rows[0]).collect();
    assert_eq!(reference.len(), expected, "{}: evaluations", rows[0]["way"]);
    // Agreeing on "no data" everywhere would prove nothing.
    let failed = reference
        .values()
        .filter(|e| e.get("errors").is_some())
        .count();
    assert_eq!(
        failed, 0,
        "{}: evaluations with failed queries",
        rows[0]["way"]
    );
    for row in rows.iter().skip(1) {
        let mut seen = HashSet::new();
        for (key, eval) in read_evaluations(row) {
            let way = &row["way"];
            let want = reference
                .get(&key)
                .unwrap_or_else(|| panic!("{way}: {key:?} is not in the reference"));
            let mut diffs = evaluation::evaluation_differences(want, &eval, approx::REL_1E9);
            for field in ["decision", "errors"] {
                if want.get(field) != eval.get(field) {
                    diffs.push(format!(
                        "{field}: {:?} vs {:?}",
                        want.get(field),
                        eval.get(field)
                    ));
                }
            }
            assert!(
                diffs.is_empty(),
                "{way} differs from {} at cycle {} route {}:\n{}",
                rows[0]["way"],
                key.0,
                key.1,
                diffs.join("\n")
            );
            assert!(seen.insert(key), "{way}: an instance evaluated twice");
        }
        assert_eq!(seen.len(), expected, "{}: evaluations", row["way"]);
    }
    expected
}

fn report(size: &Size, rows: &[Value]) {
    let steady = |r: &Value, k: &str| r["steady"][k].as_f64().unwrap_or(f64::NAN);
    println!(
        "\ngroups: {} routes ({} series), {} h of {} s scrapes; per steady cycle (mean of {} cycles after the first, best of {} rounds):",
        size.routes,
        size.routes * 8,
        size.hours,
        size.scrape_s,
        rows[0]["steady_cycles"],
        size.rounds
    );
    println!(
        "{:<14} {:>5} {:>9} {:>9} {:>13} {:>15} {:>12} {:>13} {:>9}",
        "way",
        "SLOs",
        "instances",
        "requests",
        "bytes",
        "samples touched",
        "Prom CPU",
        "burnrate CPU",
        "peak RSS"
    );
    for r in rows {
        println!(
            "{:<14} {:>5} {:>9} {:>9.0} {:>13.0} {:>15.0} {:>10.0}ms {:>11.1}ms {:>7.0}MB",
            r["way"].as_str().unwrap_or(""),
            r["slos"].as_u64().unwrap_or(0),
            r["instances"].as_u64().unwrap_or(0),
            steady(r, "requests"),
            steady(r, "bytes"),
            steady(r, "samples"),
            steady(r, "backend_cpu_ms"),
            steady(r, "burnrate_cpu_ms"),
            r["peak_rss_mb"].as_f64().unwrap_or(f64::NAN)
        );
    }
    for r in rows.iter().filter(|r| r["held_samples"].as_u64() > Some(0)) {
        let seed = &r["seed"];
        println!(
            "{} seed (first cycle, once): {} requests, {:.1} MB, {:.1} s, Prometheus CPU {:.0} ms, burnrate CPU {:.0} ms, peak RSS {:.0} MB; holds {} samples in {:.1} MB",
            r["way"].as_str().unwrap_or(""),
            seed["requests"],
            seed["bytes"].as_f64().unwrap_or(0.0) / 1e6,
            seed["wall_ms"].as_f64().unwrap_or(0.0) / 1000.0,
            seed["backend_cpu_ms"].as_f64().unwrap_or(0.0),
            seed["burnrate_cpu_ms"].as_f64().unwrap_or(0.0),
            r["peak_rss_seed_mb"].as_f64().unwrap_or(f64::NAN),
            r["held_samples"],
            r["held_bytes"].as_f64().unwrap_or(0.0) / 1e6,
        );
    }
    // `/proc` counts Prometheus's CPU in 10 ms ticks: a mean below one tick is no ratio.
    let ratio = |b: f64, a: f64| {
        if a > 0.0 {
            format!("{:.1}x", b / a)
        } else if b > 0.0 {
            format!("> {:.0}x (A below one 10 ms tick)", b / 10.0)
        } else {
            "- (both below one 10 ms tick)".to_string()
        }
    };
    for mode in ["incremental", "direct"] {
        let of = |ab: &str| rows.iter().find(|r| r["way"] == format!("{ab} {mode}"));
        let (Some(a), Some(b)) = (of("A"), of("B")) else {
            continue;
        };
        println!(
            "B / A, {mode}: {} requests, {} bytes, {} samples touched, {} Prometheus CPU, {} burnrate CPU, {} peak RSS",
            ratio(steady(b, "requests"), steady(a, "requests")),
            ratio(steady(b, "bytes"), steady(a, "bytes")),
            ratio(steady(b, "samples"), steady(a, "samples")),
            ratio(steady(b, "backend_cpu_ms"), steady(a, "backend_cpu_ms")),
            ratio(steady(b, "burnrate_cpu_ms"), steady(a, "burnrate_cpu_ms")),
            ratio(
                b["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
                a["peak_rss_mb"].as_f64().unwrap_or(f64::NAN)
            ),
        );
    }
    let decisions: BTreeMap<String, u64> = rows[0]["last_decisions"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    println!("decisions at the last cycle (equal in every way): {decisions:?}");
}

// ---------------------------------------------------------------------------------------
// One way, in a child process
// ---------------------------------------------------------------------------------------

fn child(args: &Value) -> Value {
    let mode = if args["direct"].as_bool() == Some(true) {
        EvaluationMode::Direct
    } else {
        EvaluationMode::Incremental
    };
    let first_ms = args["first_ms"].as_i64().unwrap();
    let cycles = args["cycles"].as_i64().unwrap();
    let mut way = cycles::Way::open(args, mode, 5, DEFAULT_MAX_HISTORY_BYTES);
    let path = args["evaluations"].as_str().unwrap();
    let file = std::fs::File::create(path).unwrap_or_else(|e| panic!("create {path}: {e}"));
    let mut out = BufWriter::new(file);
    let mut per_cycle = Vec::new();
    let (mut instances, mut dropped, mut held, mut held_bytes) = (0, 0, 0, 0);
    let mut seed_rss = f64::NAN;
    let mut last_decisions: BTreeMap<String, u64> = BTreeMap::new();
    for c in 0..cycles {
        let at_ms = first_ms + c * 60_000;
        let ((evaluated, report), cost) = way.costed(|w| w.evaluate(at_ms));
        per_cycle.push(cost);
        if c == 0 {
            seed_rss = cycles::peak_rss_mb();
        }
        (held, held_bytes) = (report.held_samples, report.held_bytes);
        // Written as they come rather than held, so the peak RSS is the way's own.
        instances = 0;
        last_decisions.clear();
        for slo in &evaluated {
            dropped += slo.dropped;
            for e in &slo.evals {
                instances += 1;
                let route = e.group.get("route").unwrap_or(&e.slo);
                let decision = serde_json::to_value(e.decision).unwrap();
                *last_decisions
                    .entry(decision.as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
                serde_json::to_writer(&mut out, &json!({"cycle": c, "route": route, "eval": e}))
                    .unwrap();
                out.write_all(b"\n").unwrap();
            }
        }
    }
    out.flush().unwrap();
    assert_eq!(dropped, 0, "max_groups dropped groups");
    let mut summary = cycles::summary(&per_cycle);
    summary["slos"] = json!(way.slos.len());
    summary["instances"] = json!(instances);
    summary["held_samples"] = json!(held);
    summary["held_bytes"] = json!(held_bytes);
    summary["last_decisions"] = json!(last_decisions);
    summary["peak_rss_seed_mb"] = json!(seed_rss);
    summary["peak_rss_mb"] = json!(cycles::peak_rss_mb());
    summary
}
