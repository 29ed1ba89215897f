//! Fault tests for the daemon (`burnrate run`) against a deliberately misbehaving backend.
//!
//! Each test starts a scripted Prometheus stand-in on 127.0.0.1 (tests/support/fault_server.rs)
//! and the real binary through the harness in tests/common/daemon.rs, then checks the
//! "Daemon surface" contract of PRODUCT.md: prompt exit on SIGTERM/SIGINT even with a query
//! hanging, SIGHUP reloads (a broken spec keeps the old specs, a valid one replaces them),
//! garbage from the backend never escalates a decision, a decision change reaches a flaky
//! webhook exactly once, a slow backend delays cycles instead of piling them up, and
//! `/metrics` passes `promtool check metrics`.
//!
//! Fixtures (tests/fixtures/daemon/): `one-slo.yaml` (service `dfaults`, SLO `a`, error
//! dimension only, objective 99%, circuit_break at burn 10 and warn at burn 1 over 5m),
//! `renamed.yaml` (the same SLO named `b`), `invalid.yaml` (objective 150 at 10:18) and
//! `two-dimensions.yaml` (SLO `a` with an error and a latency dimension).
//!
//! Backend answers are built from the query itself: every `burnrate_key` tag it asks for
//! (`bad/5m`, `total/30d`, `bucket/5m`, `count/5m`, ...) gets a sample, so a test picks the
//! bad-event ratio and thereby the burn rate (burn = ratio / (1 - 0.99)).

#![allow(unsafe_code, reason = "libc: waitid (has the daemon exited?)")]

mod common;
#[path = "support/fault_server.rs"]
mod fault_server;

use common::daemon::Daemon;
use fault_server::{FaultServer, Reply, Script, requested_keys};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SERVICE: &str = "dfaults";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/daemon")
        .join(name)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

// ---------------------------------------------------------------------------------------
// Scripted backend answers
// ---------------------------------------------------------------------------------------

/// What the backend reports for every window.
#[derive(Clone, Copy, Debug)]
enum Sli {
    /// This share of the 100 req/s is bad (error) or slower than the 300ms threshold.
    BadRatio(f64),
    /// Every value is `"NaN"`.
    NaN,
}

/// A successful instant-query vector answering every tagged part of `query`.
fn vector_body(query: &str, sli: Sli) -> String {
    let num = |v: f64| match sli {
        Sli::NaN => "NaN".to_string(),
        Sli::BadRatio(_) => format!("{v}"),
    };
    let bad = match sli {
        Sli::BadRatio(r) => r,
        Sli::NaN => 0.0,
    };
    let sample = |key: &str, le: Option<&str>, value: String| {
        let mut metric = serde_json::json!({ "burnrate_key": key });
        if let Some(le) = le {
            metric["le"] = Value::from(le);
        }
        serde_json::json!({ "metric": metric, "value": [1_700_000_000, value] })
    };
    let mut result = Vec::new();
    for key in requested_keys(query) {
        // A batch prefixes each tag with its item (`0:bad/5m`).
        let unprefixed = key.split_once(':').map_or(key.as_str(), |(_, k)| k);
        let part = unprefixed.split('/').next().unwrap_or_default();
        match part {
            "bad" => result.push(sample(&key, None, num(100.0 * bad))),
            "total" | "count" => result.push(sample(&key, None, num(100.0))),
            "bucket" => {
                result.push(sample(&key, Some("0.1"), num(50.0 * (1.0 - bad))));
                result.push(sample(&key, Some("0.3"), num(100.0 * (1.0 - bad))));
                result.push(sample(&key, Some("+Inf"), num(100.0)));
            }
            other => panic!("unexpected burnrate_key part {other:?} in {query}"),
        }
    }
    serde_json::json!({
        "status": "success",
        "data": { "resultType": "vector", "result": result }
    })
    .to_string()
}

fn vector_reply(req: &fault_server::Request, sli: Sli) -> Reply {
    let query = req.param("query").unwrap_or_default();
    Reply::json(200, vector_body(&query, sli))
}

/// A backend answering every query with the same bad-event ratio.
fn steady_backend(sli: Sli) -> FaultServer {
    FaultServer::start(Script::from_fn(move |req, _| vector_reply(req, sli)))
}

// ---------------------------------------------------------------------------------------
// /metrics parsing
// ---------------------------------------------------------------------------------------

/// One sample line of the text exposition.
#[derive(Debug, Clone)]
struct MetricSample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the sample lines of Prometheus/OpenMetrics text (comments skipped).
fn parse_metrics(text: &str) -> Vec<MetricSample> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, labels, rest) = match line.find('{') {
            Some(open) => {
                let name = &line[..open];
                let mut labels = BTreeMap::new();
                let mut chars = line[open + 1..].char_indices().peekable();
                let base = open + 1;
                let mut end = None;
                loop {
                    // label name
                    let mut key = String::new();
                    for (i, c) in chars.by_ref() {
                        match c {
                            '=' => break,
                            '}' => {
                                end = Some(base + i);
                                break;
                            }
                            ',' | ' ' => {}
                            c => key.push(c),
                        }
                    }
                    if end.is_some() {
                        break;
                    }
                    assert_eq!(
                        chars.next().map(|(_, c)| c),
                        Some('"'),
                        "label value quote in {line}"
                    );
                    let mut value = String::new();
                    let mut escaped = false;
                    for (_, c) in chars.by_ref() {
                        match (escaped, c) {
                            (true, 'n') => {
                                value.push('\n');
                                escaped = false;
                            }
                            (true, c) => {
                                value.push(c);
                                escaped = false;
                            }
                            (false, '\\') => escaped = true,
                            (false, '"') => break,
                            (false, c) => value.push(c),
                        }
                    }
                    labels.insert(key, value);
                }
                let end = end.unwrap_or_else(|| panic!("unterminated label set in {line}"));
                (name, labels, &line[end + 1..])
            }
            None => {
                let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
                (name, BTreeMap::new(), rest)
            }
        };
        let value_text = rest
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("no value in {line}"));
        let value = match value_text {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value {v:?} in {line}")),
        };
        out.push(MetricSample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}

/// The value of the first series `name` whose labels include all of `want`.
fn metric_value(text: &str, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    parse_metrics(text)
        .into_iter()
        .find(|s| {
            s.name == name
                && want
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

/// Every sample (any metric) with the label `slo` = `slo`.
fn series_of_slo(text: &str, slo: &str) -> Vec<MetricSample> {
    parse_metrics(text)
        .into_iter()
        .filter(|s| s.labels.get("slo").map(String::as_str) == Some(slo))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

fn healthz_status(d: &Daemon) -> u16 {
    match ureq::get(&format!("{}/healthz", d.url()))
        .timeout(Duration::from_secs(5))
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("/healthz: {e}\n{}", d.log()),
    }
}

/// Polls `check` every 50 ms until it holds or `within` passes.
fn wait_until(within: Duration, check: impl FnMut() -> bool) -> bool {
    common::poll_until(within, Duration::from_millis(50), check)
}

/// The evaluation `time` of a decision as Unix milliseconds.
fn eval_time_ms(decision: &Value) -> i64 {
    let text = decision["time"]
        .as_str()
        .unwrap_or_else(|| panic!("no time in {decision}"));
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("time {text:?}: {e}"))
        .timestamp_millis()
}

fn decision_str(decision: &Value) -> &str {
    decision["decision"]
        .as_str()
        .unwrap_or_else(|| panic!("no decision in {decision}"))
}

/// The daemon's decision for SLO `slo`, waiting for it to satisfy `pred`.
fn wait_decision(d: &Daemon, slo: &str, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let mut last = None;
    let ok = d.wait_for(within, |d| {
        last = d.decision_of(SERVICE, slo);
        last.as_ref().is_some_and(&pred)
    });
    assert!(
        ok,
        "no matching decision for {slo} within {within:?}; last: {last:?}\n{}",
        d.log()
    );
    last.expect("checked")
}

/// Without reaping it: has the child exited? (`waitid(WNOWAIT)`, so the harness can still
/// collect its status.)
fn has_exited(pid: u32) -> bool {
    // SAFETY: an all-zero siginfo_t is valid; waitid only writes into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: plain syscall on our own child with a valid out pointer.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    assert_eq!(rc, 0, "waitid: {}", std::io::Error::last_os_error());
    // SAFETY: waitid filled the SIGCHLD fields (si_pid stays 0 while the child runs).
    unsafe { info.si_pid() != 0 }
}

fn start_daemon(spec: &Path, backend: &FaultServer, extra: &[&str]) -> Daemon {
    let url = backend.url();
    let mut args = vec![path_str(spec), "--prometheus", url.as_str()];
    args.extend_from_slice(extra);
    Daemon::start(&args)
}

// ---------------------------------------------------------------------------------------
// 1, 2: SIGTERM / SIGINT while a query hangs
// ---------------------------------------------------------------------------------------

/// Starts the daemon against a backend that never answers and waits for its first query.
fn daemon_with_hanging_query() -> (FaultServer, Daemon) {
    let backend = FaultServer::start(Script::hang());
    let d = start_daemon(
        &fixture("one-slo.yaml"),
        &backend,
        &["--timeout", "30s", "--interval", "1s"],
    );
    // Incremental evaluation sends one raw-sample request per fetch group at once.
    assert!(
        backend.wait_for_requests(1, Duration::from_secs(10)) >= 1,
        "the daemon sent no query within 10 s:\n{}",
        d.log()
    );
    // The request is in flight (the server holds it); give the daemon a moment to be
    // blocked in it rather than between two steps.
    std::thread::sleep(Duration::from_millis(200));
    (backend, d)
}

/// `SERVICE` restates the fixtures: every one of them names that service.
#[test]
fn service_restates_the_fixtures() {
    for name in ["one-slo.yaml", "renamed.yaml", "two-dimensions.yaml"] {
        let report = burnrate::spec::load_paths(&[fixture(name)]);
        assert!(!report.has_errors(), "{name}: {:?}", report.diagnostics);
        assert!(report.specs.iter().all(|s| s.service == SERVICE), "{name}");
    }
}

#[test]
fn sigterm_during_a_hanging_query_exits_0_within_5s() {
    let (backend, mut d) = daemon_with_hanging_query();
    let (status, elapsed) = d.terminate();
    assert_eq!(status.code(), Some(0), "exit status {status}:\n{}", d.log());
    assert!(
        elapsed < Duration::from_secs(5),
        "SIGTERM took {elapsed:?} to exit:\n{}",
        d.log()
    );
    eprintln!("SIGTERM to exit: {elapsed:?}");
    assert!(
        d.log().contains("SIGTERM"),
        "log does not mention SIGTERM:\n{}",
        d.log()
    );
    drop(backend);
}

#[test]
fn sigint_during_a_hanging_query_exits_0_within_5s() {
    let (backend, mut d) = daemon_with_hanging_query();
    let pid = d.pid();
    d.signal(libc::SIGINT);
    let started = Instant::now();
    let exited = wait_until(Duration::from_secs(10), || has_exited(pid));
    let elapsed = started.elapsed();
    assert!(exited, "no exit within 10 s of SIGINT:\n{}", d.log());
    assert!(
        elapsed < Duration::from_secs(5),
        "SIGINT took {elapsed:?} to exit:\n{}",
        d.log()
    );
    eprintln!("SIGINT to exit: {elapsed:?}");
    // The child is a zombie now: terminate() only collects its status.
    let (status, _) = d.terminate();
    assert_eq!(status.code(), Some(0), "exit status {status}:\n{}", d.log());
    assert!(
        d.log().contains("SIGINT"),
        "log does not mention SIGINT:\n{}",
        d.log()
    );
    drop(backend);
}

// ---------------------------------------------------------------------------------------
// 3, 4: SIGHUP
// ---------------------------------------------------------------------------------------

#[test]
fn sighup_with_an_invalid_spec_keeps_the_old_specs_and_logs_why() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    std::fs::copy(fixture("one-slo.yaml"), &spec).unwrap();
    let backend = steady_backend(Sli::BadRatio(0.0));
    let mut d = start_daemon(&spec, &backend, &["--interval", "300ms"]);
    let before = wait_decision(&d, "a", Duration::from_secs(10), |v| {
        decision_str(v) == "ok"
    });

    std::fs::copy(fixture("invalid.yaml"), &spec).unwrap();
    d.signal(libc::SIGHUP);
    let location = format!("{}:10:18", spec.display());
    let logged = d.wait_for(Duration::from_secs(5), |d| {
        let log = d.log();
        log.contains("reload failed") && log.contains(&location)
    });
    assert!(
        logged,
        "no 'reload failed' naming {location} in the log:\n{}",
        d.log()
    );
    let error_line = d
        .log()
        .lines()
        .find(|l| l.contains(&location))
        .unwrap_or_default()
        .to_string();
    assert!(
        error_line.contains("objective"),
        "the error does not name the field: {error_line}"
    );

    // The old SLO keeps being evaluated: its time advances at least twice after the reload.
    let reload_seen = wait_decision(&d, "a", Duration::from_secs(1), |_| true);
    let t0 = eval_time_ms(&reload_seen);
    assert!(t0 >= eval_time_ms(&before));
    let later = wait_decision(&d, "a", Duration::from_secs(5), |v| eval_time_ms(v) > t0);
    let t1 = eval_time_ms(&later);
    wait_decision(&d, "a", Duration::from_secs(5), |v| eval_time_ms(v) > t1);
    assert_eq!(decision_str(&later), "ok");
    assert_eq!(healthz_status(&d), 200);
    let metrics = d.metrics();
    assert!(
        !series_of_slo(&metrics, "a").is_empty(),
        "no series for slo=a any more:\n{metrics}"
    );

    let (status, _) = d.terminate();
    assert_eq!(status.code(), Some(0), "{}", d.log());
}

#[test]
fn sighup_with_a_renamed_slo_swaps_decisions_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    std::fs::copy(fixture("one-slo.yaml"), &spec).unwrap();
    // A little latency keeps cycles in flight while the reload happens.
    let backend = FaultServer::start(Script::from_fn(|req, _| {
        vector_reply(req, Sli::BadRatio(0.0)).delayed(Duration::from_millis(50))
    }));
    let mut d = start_daemon(&spec, &backend, &["--interval", "200ms"]);
    wait_decision(&d, "a", Duration::from_secs(10), |v| {
        decision_str(v) == "ok"
    });
    assert!(
        d.wait_for(Duration::from_secs(5), |d| metric_value(
            &d.metrics(),
            "burnrate_burn_rate",
            &[("slo", "a"), ("window", "5m")]
        )
        .is_some()),
        "no burn-rate series for slo=a:\n{}",
        d.metrics()
    );

    std::fs::copy(fixture("renamed.yaml"), &spec).unwrap();
    d.signal(libc::SIGHUP);
    let swapped = d.wait_for(Duration::from_secs(10), |d| {
        let slos: Vec<String> = d
            .decisions()
            .iter()
            .map(|v| v["slo"].as_str().unwrap_or_default().to_string())
            .collect();
        slos == ["b"]
    });
    assert!(
        swapped,
        "decisions after reload: {:?}\n{}",
        d.decisions(),
        d.log()
    );
    assert!(d.log().contains("specs reloaded"), "{}", d.log());

    // And it stays that way: no late cycle of the old SLO brings `a` back.
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        let decisions = d.decisions();
        assert!(
            decisions.iter().all(|v| v["slo"] != "a"),
            "slo a is back in /api/v1/decisions: {decisions:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let b = wait_decision(&d, "b", Duration::from_secs(5), |v| decision_str(v) == "ok");
    assert_eq!(b["service"], SERVICE);

    let metrics = d.metrics();
    let stale: Vec<String> = series_of_slo(&metrics, "a")
        .iter()
        .map(|s| format!("{} {:?}", s.name, s.labels))
        .collect();
    assert!(
        stale.is_empty(),
        "/metrics still has series for slo=\"a\" after the reload:\n{}",
        stale.join("\n")
    );
    assert!(
        !series_of_slo(&metrics, "b").is_empty(),
        "no series for slo=b:\n{metrics}"
    );
    assert_eq!(
        metric_value(&metrics, "burnrate_slos", &[]),
        Some(1.0),
        "{metrics}"
    );

    let (status, _) = d.terminate();
    assert_eq!(status.code(), Some(0), "{}", d.log());
}

// ---------------------------------------------------------------------------------------
// 5: garbage from the backend
// ---------------------------------------------------------------------------------------

/// Runs the one-SLO daemon against `backend` for a few cycles and checks that the SLO is
/// `no_data` at every look (never escalated), that `burnrate_evaluations_total{result}`
/// grows, that /healthz stays 200, that no burn rate is exported as a number, that the
/// backend request histogram counts `outcome`, and that the log mentions `log_hint`.
struct Garbage {
    /// Expected `result` label of `burnrate_evaluations_total`.
    result: &'static str,
    /// Expected `outcome` label of `burnrate_backend_request_duration_seconds`.
    outcome: &'static str,
    log_hint: &'static str,
    timeout: &'static str,
}

fn assert_garbage_is_no_data(backend: FaultServer, g: Garbage) {
    let Garbage {
        result,
        outcome,
        log_hint,
        timeout,
    } = g;
    let mut d = start_daemon(
        &fixture("one-slo.yaml"),
        &backend,
        &["--interval", "300ms", "--timeout", timeout],
    );
    let first = wait_decision(&d, "a", Duration::from_secs(10), |_| true);
    let evals = |d: &Daemon| {
        metric_value(
            &d.metrics(),
            "burnrate_evaluations_total",
            &[("slo", "a"), ("result", result)],
        )
        .unwrap_or(0.0)
    };
    let mut seen = vec![first];
    let counted_at_start = evals(&d);
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        assert_eq!(healthz_status(&d), 200, "{}", d.log());
        if let Some(v) = d.decision_of(SERVICE, "a") {
            seen.push(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for v in &seen {
        assert_eq!(
            decision_str(v),
            "no_data",
            "decision escalated on garbage: {v}\n{}",
            d.log()
        );
        let error = &v["error"];
        assert_eq!(error["decision"], "no_data", "{v}");
        let burns = error["burn"]
            .as_object()
            .unwrap_or_else(|| panic!("no burn map in {v}"));
        assert!(
            burns.values().all(Value::is_null),
            "a burn rate is not null on garbage: {v}"
        );
    }
    let times: Vec<i64> = seen.iter().map(eval_time_ms).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "evaluation times go back: {times:?}"
    );
    assert!(
        times.last() > times.first(),
        "the SLO was evaluated only once in 3 s: {times:?}\n{}",
        d.log()
    );
    assert!(
        d.wait_for(Duration::from_secs(5), |d| evals(d) > counted_at_start),
        "burnrate_evaluations_total{{result={result:?}}} did not grow from {counted_at_start}:\n{}",
        d.metrics()
    );
    let metrics = d.metrics();
    assert_eq!(
        metric_value(
            &metrics,
            "burnrate_decision",
            &[("slo", "a"), ("decision", "no_data")]
        ),
        Some(1.0),
        "{metrics}"
    );
    for escalated in ["warn", "scale", "circuit_break"] {
        assert_eq!(
            metric_value(
                &metrics,
                "burnrate_decision",
                &[("slo", "a"), ("decision", escalated)]
            ),
            Some(0.0),
            "{metrics}"
        );
    }
    assert_eq!(
        metric_value(&metrics, "burnrate_burn_rate", &[("slo", "a")]),
        None,
        "a burn rate exported on garbage:\n{metrics}"
    );
    let requests = metric_value(
        &metrics,
        "burnrate_backend_request_duration_seconds_count",
        &[("outcome", outcome)],
    );
    assert!(
        requests.is_some_and(|n| n >= 1.0),
        "no backend request with outcome={outcome:?}:\n{metrics}"
    );
    assert!(
        d.log().contains(log_hint),
        "the log does not say {log_hint:?}:\n{}",
        d.log()
    );
    assert_eq!(healthz_status(&d), 200);
    let (status, _) = d.terminate();
    assert_eq!(status.code(), Some(0), "{}", d.log());
}

#[test]
fn backend_always_500_is_no_data() {
    let backend = FaultServer::start(Script::always(Reply::json(
        500,
        r#"{"status":"error","errorType":"internal","error":"boom"}"#,
    )));
    assert_garbage_is_no_data(
        backend,
        Garbage {
            result: "failed",
            outcome: "http_error",
            log_hint: "HTTP 500",
            timeout: "2s",
        },
    );
}

#[test]
fn backend_malformed_json_is_no_data() {
    let backend = FaultServer::start(Script::always(Reply::json(
        200,
        r#"{"status":"success","data":{"resultType":"vec"#,
    )));
    assert_garbage_is_no_data(
        backend,
        Garbage {
            result: "failed",
            outcome: "bad_response",
            log_hint: "could not parse",
            timeout: "2s",
        },
    );
}

#[test]
fn backend_400_bad_data_is_no_data() {
    let backend = FaultServer::start(Script::always(Reply::json(
        400,
        r#"{"status":"error","errorType":"bad_data","error":"1:1: parse error: unexpected <op:or>"}"#,
    )));
    assert_garbage_is_no_data(
        backend,
        Garbage {
            result: "failed",
            outcome: "http_error",
            log_hint: "bad_data",
            timeout: "2s",
        },
    );
}

#[test]
fn backend_nan_values_are_no_data() {
    let backend = steady_backend(Sli::NaN);
    assert_garbage_is_no_data(
        backend,
        Garbage {
            result: "no_data",
            outcome: "success",
            log_hint: "burnrate daemon started",
            timeout: "2s",
        },
    );
}

#[test]
fn backend_timing_out_is_no_data() {
    let backend = FaultServer::start(Script::hang());
    assert_garbage_is_no_data(
        backend,
        Garbage {
            result: "failed",
            outcome: "timeout",
            log_hint: "timed out",
            timeout: "300ms",
        },
    );
}

// ---------------------------------------------------------------------------------------
// 6: escalation to circuit_break through a flaky webhook
// ---------------------------------------------------------------------------------------

#[test]
fn circuit_break_reaches_a_flaky_webhook_exactly_once() {
    let breaking = Arc::new(AtomicBool::new(false));
    let flag = breaking.clone();
    let backend = FaultServer::start(Script::from_fn(move |req, _| {
        let ratio = if flag.load(Ordering::SeqCst) {
            0.2
        } else {
            0.0
        };
        vector_reply(req, Sli::BadRatio(ratio))
    }));
    // The webhook receiver: records every POST and when it came; 500, 500, then 200 for good.
    let post_times: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let times = post_times.clone();
    let webhook = FaultServer::start(Script::from_fn(move |_, seen| {
        times.lock().unwrap().push(Instant::now());
        if seen.overall < 2 {
            Reply::json(500, r#"{"error":"try again"}"#)
        } else {
            Reply::json(200, r#"{"ok":true}"#)
        }
    }));
    let hook_url = format!("{}/hook", webhook.url());
    let mut d = start_daemon(
        &fixture("one-slo.yaml"),
        &backend,
        &[
            "--interval",
            "300ms",
            "--webhook",
            &hook_url,
            "--webhook-backoff",
            "200ms",
        ],
    );
    wait_decision(&d, "a", Duration::from_secs(10), |v| {
        decision_str(v) == "ok"
    });
    // A first decision of `ok` is no change: nothing is posted.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        webhook.request_count(),
        0,
        "posted without a change: {:?}",
        webhook.requests()
    );

    breaking.store(true, Ordering::SeqCst);
    let cb = wait_decision(&d, "a", Duration::from_secs(10), |v| {
        decision_str(v) == "circuit_break"
    });
    assert_eq!(
        cb["error"]["burn"]["5m"]
            .as_f64()
            .map(|b| (b - 20.0).abs() < 1e-6),
        Some(true),
        "{cb}"
    );

    assert_eq!(
        webhook.wait_for_requests(3, Duration::from_secs(10)),
        3,
        "expected 2 failed and 1 successful POST: {:?}\n{}",
        webhook.requests(),
        d.log()
    );
    // The decision stays circuit_break: no further change, so no further POST.
    std::thread::sleep(Duration::from_millis(1500));
    let posts = webhook.requests();
    assert_eq!(
        posts.len(),
        3,
        "POSTs: {:?}",
        posts.iter().map(|r| r.body_str()).collect::<Vec<_>>()
    );
    for (i, r) in posts.iter().enumerate() {
        assert_eq!(r.method, "POST", "request {i}");
        assert_eq!(r.path, "/hook", "request {i}");
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "request {i}: {:?}",
            r.headers
        );
        let body: Value = serde_json::from_str(&r.body_str())
            .unwrap_or_else(|e| panic!("POST {i} body: {e}: {}", r.body_str()));
        assert_eq!(body["decision"], "circuit_break", "POST {i}: {body}");
        assert_eq!(body["previous"], "ok", "POST {i}: {body}");
        assert_eq!(body["service"], SERVICE, "POST {i}: {body}");
        assert_eq!(body["slo"], "a", "POST {i}: {body}");
        assert_eq!(body["labels"]["team"], "sre", "POST {i}: {body}");
    }
    // Retried after the backoff, doubling: 200 ms, then 400 ms.
    let times = post_times.lock().unwrap().clone();
    let gaps: Vec<Duration> = times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .collect();
    assert!(
        gaps[0] >= Duration::from_millis(190) && gaps[1] >= Duration::from_millis(390),
        "webhook retries came after {gaps:?} (backoff 200ms, doubling)"
    );
    assert!(
        gaps.iter().all(|g| *g < Duration::from_secs(2)),
        "webhook retries too slow: {gaps:?}"
    );
    // Retries resend the same payload; only the third POST got a 200.
    assert_eq!(posts[0].body, posts[2].body);
    assert_eq!(posts[1].body, posts[2].body);
    let delivered = posts
        .iter()
        .skip(2)
        .filter(|r| r.body_str().contains("\"circuit_break\""))
        .count();
    assert_eq!(delivered, 1);

    let counts_ok = d.wait_for(Duration::from_secs(3), |d| {
        let m = d.metrics();
        metric_value(
            &m,
            "burnrate_sink_deliveries_total",
            &[("sink", "webhook"), ("result", "failed")],
        ) == Some(2.0)
            && metric_value(
                &m,
                "burnrate_sink_deliveries_total",
                &[("sink", "webhook"), ("result", "delivered")],
            ) == Some(1.0)
    });
    assert!(counts_ok, "sink delivery counters:\n{}", d.metrics());
    assert_eq!(
        metric_value(&d.metrics(), "burnrate_webhook_dropped_total", &[]),
        Some(0.0),
        "{}",
        d.metrics()
    );
    let (status, _) = d.terminate();
    assert_eq!(status.code(), Some(0), "{}", d.log());
}

// ---------------------------------------------------------------------------------------
// 7: a slow backend delays cycles; missed ticks do not pile up
// ---------------------------------------------------------------------------------------

#[test]
fn slow_backend_skips_missed_ticks_instead_of_piling_up() {
    const DELAY: Duration = Duration::from_millis(2500);
    const OBSERVE: Duration = Duration::from_secs(6);
    let arrivals: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let log = arrivals.clone();
    let backend = FaultServer::start(Script::from_fn(move |req, _| {
        let query = req.param("query").unwrap_or_default();
        log.lock().unwrap().push((query, Instant::now()));
        vector_reply(req, Sli::BadRatio(0.0)).delayed(DELAY)
    }));
    // Direct evaluation: every cycle is exactly one request (both dimensions in one batch),
    // so the spacing of requests is the spacing of cycles.
    let mut d = start_daemon(
        &fixture("two-dimensions.yaml"),
        &backend,
        &["--interval", "500ms", "--evaluation", "direct"],
    );
    assert!(
        wait_until(Duration::from_secs(10), || !arrivals
            .lock()
            .unwrap()
            .is_empty()),
        "no query within 10 s:\n{}",
        d.log()
    );
    let first = arrivals.lock().unwrap()[0].1;
    std::thread::sleep((first + OBSERVE).saturating_duration_since(Instant::now()));
    let recorded = arrivals.lock().unwrap().clone();
    let (status, elapsed) = d.terminate();
    assert_eq!(status.code(), Some(0), "{}", d.log());
    assert!(
        elapsed < Duration::from_secs(5),
        "SIGTERM with a slow query in flight took {elapsed:?}"
    );

    let mut by_query: HashMap<String, Vec<Instant>> = HashMap::new();
    for (q, t) in recorded.into_iter().filter(|(_, t)| *t < first + OBSERVE) {
        by_query.entry(q).or_default().push(t);
    }
    assert_eq!(
        by_query.len(),
        1,
        "expected one batched query text per cycle, got {:?}",
        by_query.keys()
    );
    let expected = OBSERVE.as_secs_f64() / DELAY.as_secs_f64();
    let mut report = Vec::new();
    for (q, times) in &by_query {
        let offsets: Vec<f64> = times
            .iter()
            .map(|t| t.duration_since(first).as_secs_f64())
            .collect();
        report.push(format!(
            "{} requests at {offsets:.2?} for {}",
            times.len(),
            &q[..q.len().min(60)]
        ));
        let n = times.len() as f64;
        assert!(
            n >= expected.floor() && n <= expected.floor() + 1.0,
            "{n} cycles in {OBSERVE:?} with a {DELAY:?} backend (expected about {expected:.1}): {report:?}"
        );
        for pair in times.windows(2) {
            let gap = pair[1].duration_since(pair[0]);
            // The previous answer went out DELAY after its arrival: an earlier arrival means
            // two cycles in flight at once.
            assert!(
                gap + Duration::from_millis(20) >= DELAY,
                "two cycles in flight at once (gap {gap:?}): {report:?}"
            );
            // And the next cycle starts right after the slow one (at most one interval late),
            // with one request, not a burst of the ticks missed meanwhile.
            assert!(
                gap <= DELAY + Duration::from_millis(1000),
                "cycle stalled (gap {gap:?}): {report:?}"
            );
        }
    }
    eprintln!("{}", report.join("\n"));
}

// ---------------------------------------------------------------------------------------
// 8: /metrics passes promtool
// ---------------------------------------------------------------------------------------

#[test]
fn metrics_pass_promtool_check_metrics() {
    let backend = steady_backend(Sli::BadRatio(0.001));
    let mut d = start_daemon(
        &fixture("two-dimensions.yaml"),
        &backend,
        &["--interval", "300ms"],
    );
    wait_decision(&d, "a", Duration::from_secs(10), |v| {
        decision_str(v) == "ok"
    });
    assert!(
        d.wait_for(Duration::from_secs(5), |d| d
            .metrics()
            .contains("burnrate_quantile_seconds{")),
        "no quantile series:\n{}",
        d.metrics()
    );
    let resp = ureq::get(&format!("{}/metrics", d.url()))
        .timeout(Duration::from_secs(5))
        .call()
        .expect("GET /metrics");
    let content_type = resp.header("content-type").unwrap_or_default().to_string();
    let text = resp.into_string().expect("metrics body");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4")
            || content_type.starts_with("application/openmetrics-text"),
        "unexpected /metrics content type {content_type:?}"
    );
    if content_type.starts_with("application/openmetrics-text") {
        assert!(
            text.trim_end().ends_with("# EOF"),
            "OpenMetrics text without # EOF"
        );
    }
    for name in [
        "burnrate_burn_rate",
        "burnrate_decision",
        "burnrate_error_budget_remaining",
        "burnrate_quantile_seconds",
        "burnrate_evaluations_total",
        "burnrate_backend_request_duration_seconds_bucket",
        "burnrate_backend_request_duration_seconds_sum",
        "burnrate_backend_request_duration_seconds_count",
    ] {
        assert!(
            parse_metrics(&text).iter().any(|s| s.name == name),
            "no {name} series in /metrics:\n{text}"
        );
    }
    let burn = metric_value(
        &text,
        "burnrate_burn_rate",
        &[("slo", "a"), ("dimension", "error"), ("window", "5m")],
    );
    assert!(
        burn.is_some_and(|b| (b - 0.1).abs() < 1e-9),
        "error burn 5m {burn:?}:\n{text}"
    );

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool on PATH");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics ({}) on /metrics ({content_type}) says:\n{said}\n--- /metrics ---\n{text}",
        out.status
    );
    let (status, _) = d.terminate();
    assert_eq!(status.code(), Some(0), "{}", d.log());
}
