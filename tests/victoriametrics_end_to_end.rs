//! VictoriaMetrics end to end (PRODUCT.md, "One number"; issue 12, item 1): what burnrate
//! computes locally from raw samples equals what a real VictoriaMetrics 1.79 answers for the
//! same queries at the same instants, in backtests and in the daemon.
//!
//! The demo history (3 days of 30 s scrapes) and a synthetic `vmlive` service written here
//! (15 s scrapes with millisecond jitter: two instances restarting, a scrape gap, a failure
//! series that appears late, an error spike and a slow hour) are loaded into a private
//! VictoriaMetrics (tests/common/victoriametrics.rs). The specs of
//! tests/fixtures/victoriametrics/ read them: selector SLIs (errors and latency) and raw-PromQL
//! SLIs (an error ratio with vector matching, a filter and `or vector(0)`; a latency histogram
//! written as an error ratio; `increase`); so does slo-specs/map-update.yaml, whose 1h burns
//! at 12:00:07 once differed (issue 12).
//!
//! - [`backtest_from_raw_samples_matches_check`]: `burnrate backtest --prometheus VM` (raw
//!   samples fetched once, burnrate's evaluator under the detected `victoriametrics` flavor)
//!   against `burnrate check --at T` (VictoriaMetrics answers every query) at the instants the
//!   backtest prints, on the scrape grids and off them.
//! - [`daemon_cycles_incremental_match_direct_while_data_arrives`]: the daemon's cycle
//!   measurer, incremental (raw samples kept and extended) beside direct (every window asked of
//!   VictoriaMetrics), at every cycle of half a day, each cycle's new samples imported just
//!   before it, with a stalled stretch the extension must cover.
//! - [`daemon_run_decisions_match_check`]: the real `burnrate run` (flavor auto-detected, the
//!   default incremental mode) against a VictoriaMetrics fed in real time: every cycle's
//!   `/api/v1/decisions` against `check --at` that cycle's millisecond instant.
//!
//! Agreement: burns, events, quantiles and budgets within 1e-9 relative (VictoriaMetrics adds
//! in another order; 1e-12 absolute for values that cancel to zero), the same rules firing and
//! the same decisions (the specs have no `for`/`hold`, so a stateless `check` decides alike).
//! Left out on purpose: Sloth's raw ratio, imported as `(R) == bool (R)`, which
//! VictoriaMetrics's parallel `sum` does not answer reproducibly (see
//! tests/promql_matches_victoriametrics.rs).
//!
//! Run: cargo test --test victoriametrics_end_to_end -- --nocapture

mod common;

use burnrate::daemon::cycle::{CycleMeasurer, EvaluationMode};
use burnrate::engine::evaluate::evaluate_groups;
use burnrate::engine::hysteresis::StateStore;
use burnrate::promql::Flavor;
use burnrate::spec::load_paths;
use common::daemon::Daemon;
use common::history::{Counter, HOUR, Histogram, History, LogLogistic, MINUTE, rfc3339};
use common::measurements::{client, every_slo};
use common::prometheus::demo_history_text;
use common::victoriametrics::VictoriaMetrics;
use common::{REL_1E9_ABS_1E12, burnrate_cmd, evaluation_differences, json_lines};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The fixtures, and the reference spec (the case: its 1h burns at 12:00:07).
const SPECS: [&str; 2] = [
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/victoriametrics"
    ),
    concat!(env!("CARGO_MANIFEST_DIR"), "/slo-specs/map-update.yaml"),
];
/// SLOs in `SPECS`, and their dimensions (three with both, four with errors only).
const SLOS: usize = 7;
const DIMENSIONS: usize = 10;
/// 2026-11-16T00:00:00Z: the demo history's first sample.
const DEMO_START: i64 = 1_794_787_200;
/// 2026-11-17T12:00:00Z: the synthetic service's first sample (the demo's second day).
const LIVE_START: i64 = 1_794_916_800;
const LIVE_SPAN: i64 = 24 * HOUR;
/// Compared instants per backtest range at most (every k-th printed instant): `check` is a
/// process and a round of queries each.
const CHECKS_PER_RANGE: usize = 25;

fn within(t: i64, (a, b): (i64, i64)) -> bool {
    a <= t && t < b
}

/// When the synthetic `vmlive` service's events happen: at fixed shares of its span (over a
/// day: the reset at 16:00, the spike at 18:00, the gap at 20:00, the slow hour at 22:00), so
/// that a short real-time history has them too; instance `b` restarts when the test says.
#[derive(Clone, Copy, Debug)]
struct LiveEvents {
    start: i64,
    span: i64,
    /// Instance `a` restarts (its counters and histogram).
    a_reset: i64,
    /// Instance `b`'s failure series first appears at its first failure after this.
    b_first_failures: i64,
    /// 3 % errors on `a` instead of 0.2 %.
    spike: (i64, i64),
    /// `b` is not scraped.
    gap: (i64, i64),
    /// P99 600ms instead of 200ms.
    slow: (i64, i64),
    b_reset: i64,
}

impl LiveEvents {
    fn new(start: i64, span: i64, b_reset: i64) -> LiveEvents {
        let at = |num: i64, den: i64| start + span * num / den;
        LiveEvents {
            start,
            span,
            a_reset: at(1, 6),
            b_first_failures: at(1, 12),
            spike: (at(1, 4), at(1, 4) + span / 72),
            gap: (at(1, 3), at(1, 3) + span / 144),
            slow: (at(5, 12), at(5, 12) + span / 24),
            b_reset,
        }
    }

    /// The day the backtests and the simulated daemon read.
    fn day(b_reset: i64) -> LiveEvents {
        LiveEvents::new(LIVE_START, LIVE_SPAN, b_reset)
    }
}

/// The synthetic `vmlive` service, scraped every `interval` seconds.
fn live_history(ev: LiveEvents, interval: i64) -> History {
    let LiveEvents {
        a_reset,
        b_first_failures,
        spike,
        gap,
        slow,
        b_reset,
        ..
    } = ev;
    let requests = |instance: &str, initial: u64| {
        Counter::new("vmlive_requests_total")
            .label("job", "vmlive")
            .label("instance", instance)
            .initial(initial)
            .rate(|_| 20.0)
    };
    let failures = |instance: &str| {
        Counter::new("vmlive_failures_total")
            .label("job", "vmlive")
            .label("instance", instance)
    };
    History::new(ev.start, ev.span)
        .interval(interval)
        .seed(1212)
        .counter(requests("a", 90_000).reset_at(a_reset))
        .counter(
            failures("a")
                .initial(300)
                .rate(move |t| 20.0 * if within(t, spike) { 0.03 } else { 0.002 })
                .reset_at(a_reset),
        )
        .counter(requests("b", 40_000).gap(gap.0, gap.1).reset_at(b_reset))
        .counter(
            failures("b")
                .rate(move |t| if t < b_first_failures { 0.0 } else { 0.04 })
                .absent_until_first_increment()
                .gap(gap.0, gap.1)
                .reset_at(b_reset),
        )
        .histogram(
            Histogram::new("vmlive_duration_seconds")
                .label("job", "vmlive")
                .label("instance", "a")
                .bounds(&["0.05", "0.1", "0.25", "0.5", "1"])
                .rate(|_| 20.0)
                .latency(move |t| {
                    if within(t, slow) {
                        LogLogistic::from_median_p99(0.08, 0.6)
                    } else {
                        LogLogistic::from_median_p99(0.05, 0.2)
                    }
                })
                .reset_at(a_reset),
        )
}

/// `history` as OpenMetrics text, its sample times moved off the whole second as real scrapes
/// are: each instance a fixed offset late (1.234 s, 2.713 s) and every scrape up to 48 ms
/// early or late, so VictoriaMetrics's scrape-interval detection sees uneven intervals.
fn openmetrics(history: &History) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.om");
    history.write_openmetrics(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.lines() {
        let Some((sample, t)) = line.rsplit_once(' ').filter(|_| !line.starts_with('#')) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let t: i64 = t.parse().expect("whole-second sample time");
        let late_ms = if sample.contains("instance=\"a\"") {
            1_234
        } else {
            2_713
        };
        let jitter_ms = (t * 7_919).rem_euclid(97) - 48;
        let ms = t * 1000 + late_ms + jitter_ms;
        out.push_str(&format!(
            "{sample} {}.{:03}\n",
            ms.div_euclid(1000),
            ms.rem_euclid(1000)
        ));
    }
    out
}

/// OpenMetrics sample lines ordered by their time, imported as they would have arrived.
struct Arrivals {
    /// `(sample time in ms, line)`, oldest first.
    lines: Vec<(i64, String)>,
    next: usize,
}

impl Arrivals {
    fn new(texts: &[&str]) -> Arrivals {
        let mut lines: Vec<(i64, String)> = texts
            .iter()
            .flat_map(|text| text.lines())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let seconds: f64 = l
                    .rsplit(' ')
                    .next()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_else(|| panic!("no timestamp: {l}"));
                // As the import converts it (tests/common/victoriametrics.rs).
                ((seconds * 1000.0).round() as i64, l.to_string())
            })
            .collect();
        lines.sort_by_key(|l| l.0);
        Arrivals { lines, next: 0 }
    }

    /// Imports every line not imported yet whose time is at most `until_ms`; how many.
    fn import_until(&mut self, vm: &VictoriaMetrics, until_ms: i64) -> usize {
        let end = self.lines.partition_point(|l| l.0 <= until_ms);
        if end <= self.next {
            return 0;
        }
        let mut body = String::new();
        for (_, line) in &self.lines[self.next..end] {
            body.push_str(line);
            body.push('\n');
        }
        vm.import_openmetrics(&body);
        let n = end - self.next;
        self.next = end;
        n
    }
}

/// `burnrate check SPECS --at at` against `url`: its lines by `(service, slo)`. The exit code
/// must be the one of the most severe decision.
fn check(url: &str, at: &str) -> BTreeMap<(String, String), Value> {
    let out = burnrate_cmd()
        .arg("check")
        .args(SPECS)
        .args(["--prometheus", url, "--at", at, "--format", "json"])
        .output()
        .expect("run burnrate check");
    let lines = json_lines(&String::from_utf8(out.stdout).unwrap());
    let severity = |d: &str| match d {
        "ok" => 0,
        "warn" => 1,
        "scale" => 2,
        "circuit_break" => 3,
        _ => -1,
    };
    let worst = lines
        .iter()
        .map(|l| severity(l["decision"].as_str().unwrap()))
        .max()
        .unwrap_or(-1);
    let expected = if worst < 0 { 4 } else { worst };
    assert_eq!(
        out.status.code(),
        Some(expected),
        "check --at {at}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines.into_iter().map(|l| (slo_key(&l), l)).collect()
}

fn slo_key(line: &Value) -> (String, String) {
    (
        line["service"].as_str().unwrap().to_string(),
        line["slo"].as_str().unwrap().to_string(),
    )
}

/// Differences between an evaluation and the one `check` printed for the same SLO and instant.
fn against_check(
    name: &str,
    got: &Value,
    checked: &BTreeMap<(String, String), Value>,
) -> Vec<String> {
    let key = slo_key(got);
    let Some(want) = checked.get(&key) else {
        return vec![format!("{name} {key:?} at {}: no check line", got["time"])];
    };
    let mut diffs = evaluation_differences(got, want, REL_1E9_ABS_1E12);
    if got["decision"] != want["decision"] {
        diffs.push(format!(
            "decision: {} vs {}",
            got["decision"], want["decision"]
        ));
    }
    if got["time"] != want["time"] {
        diffs.push(format!("time: {} vs {}", got["time"], want["time"]));
    }
    diffs
        .into_iter()
        .map(|d| format!("{name} {}/{} at {}: {d}", key.0, key.1, got["time"]))
        .collect()
}

/// Backtests over ranges on the demo's 30 s scrape grid and off it (7, 58, 52 and 47 s past a
/// minute; `vmlive`'s samples lie off the whole second anyway), each compared with `check` at
/// up to `CHECKS_PER_RANGE` of the instants it printed (where decisions change: near
/// thresholds). Short ranges start where series begin and at `vmlive`'s edges (a reset, the
/// late series' first samples, inside the gap), where every SLO's first line is compared.
#[test]
fn backtest_from_raw_samples_matches_check() {
    let started = Instant::now();
    let ev = LiveEvents::day(LIVE_START + 22 * HOUR);
    let vm = VictoriaMetrics::start();
    vm.import_openmetrics(&demo_history_text());
    vm.import_openmetrics(&openmetrics(&live_history(ev, 15)));
    let url = vm.url();
    let ranges: Vec<(i64, i64, &str)> = vec![
        (LIVE_START, LIVE_START + 18 * HOUR, "1m"),
        (LIVE_START + 7, LIVE_START + 18 * HOUR + 7, "1m"),
        (LIVE_START + 58, LIVE_START + 18 * HOUR, "2m"),
        // Series that have just begun: the demo's and `vmlive`'s first minutes.
        (DEMO_START + 37, DEMO_START + 15 * MINUTE, "30s"),
        (LIVE_START + 31, LIVE_START + 15 * MINUTE, "1m"),
        // `vmlive`'s edges (its samples are 1.2 s and 2.7 s late, see `openmetrics`).
        (ev.a_reset + 7, ev.a_reset + 20 * MINUTE, "1m"),
        (
            ev.b_first_failures,
            ev.b_first_failures + 30 * MINUTE,
            "30s",
        ),
        (ev.gap.0 + 3 * MINUTE + 52, ev.gap.1 + 30 * MINUTE, "1m"),
        (ev.b_reset - 13, ev.b_reset + 10 * MINUTE, "1m"),
    ];
    let (mut compared, mut instants, mut fired) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for (from, to, step) in ranges {
        let name = format!("backtest {} .. {} step {step}", rfc3339(from), rfc3339(to));
        let stdout = common::stdout_of(
            burnrate_cmd().arg("backtest").args(SPECS).args([
                "--prometheus",
                &url,
                "--from",
                &from.to_string(),
                "--to",
                &to.to_string(),
                "--step",
                step,
                "--format",
                "json",
            ]),
            0,
        );
        let lines = json_lines(&stdout);
        let (summaries, evaluations): (Vec<Value>, Vec<Value>) =
            lines.into_iter().partition(|l| l.get("summary").is_some());
        assert_eq!(summaries.len(), SLOS, "{name}: one summary per SLO");
        for s in &summaries {
            assert_eq!(s["backend_flavor"], "victoriametrics", "{name}: {s}");
            assert_eq!(
                s["rates"], "prometheus raw samples (local PromQL evaluator)",
                "{name}: {s}"
            );
        }
        let times: Vec<String> = evaluations
            .iter()
            .map(|l| l["time"].as_str().unwrap().to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // The range's start (every SLO), then every k-th instant after it.
        let every = times.len().div_ceil(CHECKS_PER_RANGE).max(1);
        let chosen: BTreeSet<&String> = times.iter().step_by(every).collect();
        for at in chosen {
            let checked = check(&url, at);
            instants += 1;
            for line in evaluations.iter().filter(|l| l["time"] == **at) {
                mismatches.extend(against_check(&name, line, &checked));
                compared += 1;
                if !matches!(line["decision"].as_str(), Some("ok" | "no_data")) {
                    fired += 1;
                }
            }
        }
    }
    eprintln!(
        "{compared} evaluations at {instants} instants compared in {:.1?}",
        started.elapsed()
    );
    assert!(
        mismatches.is_empty(),
        "{} differences between the local backtest and check; first ones:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
    assert!(compared > 150, "compared {compared}");
    assert!(fired > 30, "decisions above ok compared: {fired}");
}

/// The daemon's incremental and direct measurements, cycle by cycle, as the Prometheus test
/// (tests/check_matches_prometheus/incremental.rs) does, but with the backend's history growing:
/// before each cycle at `t` the samples of `(previous cycle, t]` are imported. Cycles every
/// 317 s (drifting across both scrape grids) from 14:00:07 to 02:00 across the synthetic
/// service's reset, spike, gap, slow hour and second reset (23:07), except 00:00-01:30,
/// skipped as a stalled daemon would (the extension request then covers the stretch).
#[test]
fn daemon_cycles_incremental_match_direct_while_data_arrives() {
    let started = Instant::now();
    let vm = VictoriaMetrics::start();
    let demo = demo_history_text();
    let live = openmetrics(&live_history(
        LiveEvents::day(LIVE_START + 11 * HOUR + 7 * MINUTE),
        15,
    ));
    let mut arrivals = Arrivals::new(&[&demo, &live]);

    let report = load_paths(&SPECS.map(std::path::PathBuf::from));
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let specs = Arc::new(report.specs);
    let slos = every_slo(&specs);
    let measurer = |mode, batch| {
        CycleMeasurer::new(
            client(&vm.url()),
            specs.clone(),
            slos.clone(),
            mode,
            Flavor::VictoriaMetrics,
            batch,
            2,
        )
    };
    let mut incremental = measurer(EvaluationMode::Incremental, 50);
    let mut direct = measurer(EvaluationMode::Direct, 4);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let stalled = (LIVE_START + 12 * HOUR, LIVE_START + 13 * HOUR + 30 * MINUTE);
    let mut times = Vec::new();
    let mut t = LIVE_START + 2 * HOUR + 7;
    while t < LIVE_START + 14 * HOUR {
        if !within(t, stalled) {
            times.push(t * 1000);
        }
        t += 317;
    }

    let (mut inc_state, mut direct_state) = (StateStore::default(), StateStore::default());
    let mut mismatches = Vec::new();
    let (mut local_dims, mut direct_dims, mut imported, mut fired) = (0, 0, 0, 0);
    for (n, &t) in times.iter().enumerate() {
        let arrived = arrivals.import_until(&vm, t);
        if n > 0 {
            imported += arrived;
        }
        let (inc, inc_report) = rt.block_on(incremental.measure(t));
        let (dir, _) = rt.block_on(direct.measure(t));
        local_dims += inc_report.local;
        if n > 0 {
            direct_dims += inc_report.direct;
        }
        for (((service, slo), a), b) in incremental.slos().zip(&inc).zip(&dir) {
            // These specs have no groups: one evaluation per SLO.
            let ea = evaluate_groups(service, slo, t, a.clone(), &mut inc_state)
                .evals
                .remove(0);
            let eb = evaluate_groups(service, slo, t, b.clone(), &mut direct_state)
                .evals
                .remove(0);
            let (ea, eb) = (
                serde_json::to_value(&ea).unwrap(),
                serde_json::to_value(&eb).unwrap(),
            );
            let mut diffs = evaluation_differences(&ea, &eb, REL_1E9_ABS_1E12);
            if ea["decision"] != eb["decision"] || ea["errors"] != eb["errors"] {
                diffs.push(format!(
                    "decision {} vs {}, errors {} vs {}",
                    ea["decision"], eb["decision"], ea["errors"], eb["errors"]
                ));
            }
            if !matches!(ea["decision"].as_str(), Some("ok" | "no_data")) {
                fired += 1;
            }
            mismatches.extend(
                diffs
                    .into_iter()
                    .map(|d| format!("{}/{} at {}: {d}", service.service, slo.name, ea["time"])),
            );
        }
    }
    eprintln!(
        "{} cycles, {imported} samples imported during them, {local_dims} dimensions computed \
         locally, in {:.1?}",
        times.len(),
        started.elapsed()
    );
    assert!(
        mismatches.is_empty(),
        "{} differences between incremental and direct; first ones:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
    // Every dimension, raw PromQL included, is computed locally once the history is seeded.
    assert_eq!(direct_dims, 0, "dimensions queried directly after the seed");
    assert_eq!(
        local_dims,
        times.len() * DIMENSIONS,
        "dimensions computed locally"
    );
    assert!(
        imported > 0 && fired > 20,
        "imported {imported}, fired {fired}"
    );
}

/// The real daemon, incremental by default, on a VictoriaMetrics fed in real time: `vmlive`
/// at 5 s scrapes over the last 3 hours (instance `b` restarts a few seconds into the run),
/// each new sample imported a little before its time comes. Every cycle's evaluation of every
/// SLO is read from `/api/v1/decisions` and compared with `check --at` its instant.
#[test]
fn daemon_run_decisions_match_check() {
    const RUN: Duration = Duration::from_secs(12);
    // Neither a query at `t` nor a raw-sample request ending at `t` reads a sample after `t`,
    // so samples imported ahead are invisible until their time; importing them early enough
    // that a busy machine cannot fall behind makes a cycle at `t` and `check --at t` run later
    // see the same samples.
    const LEAD_MS: i64 = 10_000;
    let vm = VictoriaMetrics::start();
    let now_ms = || chrono::Utc::now().timestamp_millis();
    let start = now_ms() / 1000 / 5 * 5 - 3 * HOUR;
    let span = 3 * HOUR + 2 * MINUTE;
    let history = live_history(LiveEvents::new(start, span, start + 3 * HOUR + 6), 5);
    let mut arrivals = Arrivals::new(&[&openmetrics(&history)]);
    arrivals.import_until(&vm, now_ms() + LEAD_MS);

    let mut args = SPECS.to_vec();
    let url = vm.url();
    args.extend(["--prometheus", &url, "--interval", "1s"]);
    let daemon = Daemon::start(&args);
    let mut seen: BTreeMap<String, BTreeMap<(String, String), Value>> = BTreeMap::new();
    let until = Instant::now() + RUN;
    while Instant::now() < until {
        arrivals.import_until(&vm, now_ms() + LEAD_MS);
        for d in daemon.decisions() {
            let at = d["time"].as_str().unwrap().to_string();
            seen.entry(at).or_default().insert(slo_key(&d), d);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = daemon.metrics();
    let log = daemon.log();
    drop(daemon);
    assert!(
        log.contains("backend flavor detected") && log.contains("victoriametrics"),
        "{log}"
    );
    let local = metrics
        .lines()
        .find(|l| l.starts_with("burnrate_cycle_dimensions{") && l.contains("source=\"local\""))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no local cycle dimensions:\n{metrics}"));
    assert_eq!(
        local, DIMENSIONS as f64,
        "dimensions the last cycle computed locally"
    );

    let mut mismatches = Vec::new();
    let (mut compared, mut measured) = (0, 0);
    for (at, evaluations) in &seen {
        let checked = check(&vm.url(), at);
        for e in evaluations.values() {
            mismatches.extend(against_check("daemon", e, &checked));
            compared += 1;
            if e["error"]["burn"]["5m"].is_number() {
                measured += 1;
            }
        }
    }
    eprintln!(
        "{} daemon cycles, {compared} evaluations compared, {measured} with a 5m error burn",
        seen.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} differences between the daemon and check; first ones:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
    assert!(seen.len() >= 6, "cycles seen: {}", seen.len());
    // `vmlive`'s two SLOs at every cycle (the demo's lie in the past: no data now).
    assert!(
        measured >= 2 * seen.len(),
        "evaluations with numbers: {measured}"
    );
}
