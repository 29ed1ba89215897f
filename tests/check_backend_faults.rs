//! Backend fault tests for `burnrate check`.
//!
//! Each test starts a scripted, misbehaving Prometheus stand-in on 127.0.0.1 (see
//! tests/support/fault_server.rs), runs the real binary against it and checks the
//! contract of PRODUCT.md: exit codes (4 no_data, 64 usage, 69 backend unreachable or every
//! query failed), one JSON object per SLO per line, no decision escalated on missing data,
//! useful messages on stderr, no secrets in any output, no panics.
//!
//! Fixture: tests/fixtures/faults/two-slos.yaml — service `faultsvc`, SLO `requests`
//! (error + latency) and SLO `writes` (error only): exactly 3 queries per evaluation.

mod common;
#[path = "support/fault_server.rs"]
mod fault_server;

use common::free_port;
use fault_server::{FaultServer, Reply, Request, Script};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_burnrate");
/// The evaluation instant used unless a test is about `--at`.
const AT: &str = "2026-11-17T10:00:00Z";
/// Queries per evaluation of the fixture: requests/error, requests/latency, writes/error.
const QUERIES: usize = 3;
/// A retrying client may try a query a few times, never more than this.
const MAX_ATTEMPTS: usize = 5;
/// Hard limit on one burnrate run, so a hung binary fails the test instead of the suite.
const RUN_LIMIT: Duration = Duration::from_secs(60);

const EMPTY_VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/faults/two-slos.yaml")
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Out {
    fn show(&self) -> String {
        format!(
            "exit={:?} elapsed={:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs burnrate with a clean environment for the backend: no inherited
/// BURNRATE_PROMETHEUS_URL and no proxy (so nothing leaves 127.0.0.1).
fn run_env(args: &[&str], envs: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "BURNRATE_PROMETHEUS_URL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn burnrate");
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = so.read_to_end(&mut s);
        s
    });
    let t_err = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = se.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait burnrate") {
            break st;
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("burnrate {args:?} did not finish within {RUN_LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    Out {
        code: status.code(),
        stdout,
        stderr,
        elapsed,
    }
}

fn run(args: &[&str]) -> Out {
    run_env(args, &[])
}

/// `burnrate check FIXTURE --prometheus URL --format json --timeout 1s --at AT [extra...]`
fn check(url: &str, extra: &[&str]) -> Out {
    let spec = fixture();
    let mut args = vec![
        "check",
        spec.to_str().unwrap(),
        "--prometheus",
        url,
        "--format",
        "json",
        "--timeout",
        "1s",
        "--at",
        AT,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn assert_exit(out: &Out, code: i32) {
    assert_eq!(out.code, Some(code), "unexpected exit code\n{}", out.show());
}

fn assert_no_panic(out: &Out) {
    assert!(
        !out.stderr.contains("panicked"),
        "panic on stderr\n{}",
        out.show()
    );
    assert!(
        !out.stdout.contains("panicked"),
        "panic on stdout\n{}",
        out.show()
    );
}

/// Every stdout line is a JSON object.
fn json_lines(out: &Out) -> Vec<Value> {
    out.stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l:?}\n{}", out.show()));
            assert!(
                v.is_object(),
                "stdout line is not a JSON object: {l:?}\n{}",
                out.show()
            );
            v
        })
        .collect()
}

/// Every `"decision"` anywhere in `v` must be `no_data`.
fn assert_only_no_data(v: &Value, where_: &str, out: &Out) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "decision" {
                    assert_eq!(
                        x.as_str(),
                        Some("no_data"),
                        "decision other than no_data at {where_}.{k} on a faulty backend\n{}",
                        out.show()
                    );
                }
                assert_only_no_data(x, &format!("{where_}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                assert_only_no_data(x, &format!("{where_}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The dimensions each SLO of the fixture must report.
fn expected_dimensions(slo: &str) -> &'static [&'static str] {
    match slo {
        "requests" => &["error", "latency"],
        "writes" => &["error"],
        other => panic!("unexpected SLO {other:?}"),
    }
}

/// The fault-case contract, common to every test against a broken or empty backend:
/// exit `code`, no panic, nothing says circuit_break, stdout is exactly one JSON object per
/// SLO, every decision is no_data and every burn is null. Returns the parsed lines.
fn assert_no_data_run(out: &Out, code: i32) -> Vec<Value> {
    assert_exit(out, code);
    assert_no_panic(out);
    assert!(
        !out.stdout.contains("circuit_break") && !out.stderr.contains("circuit_break"),
        "circuit_break mentioned on a faulty backend\n{}",
        out.show()
    );
    let lines = json_lines(out);
    let slos: BTreeSet<String> = lines
        .iter()
        .map(|l| l["slo"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "expected one JSON line per SLO\n{}",
        out.show()
    );
    assert_eq!(
        slos,
        BTreeSet::from(["requests".to_string(), "writes".to_string()]),
        "SLO names\n{}",
        out.show()
    );
    for line in &lines {
        let slo = line["slo"].as_str().unwrap();
        assert_eq!(line["service"], "faultsvc", "service\n{}", out.show());
        assert_eq!(
            line["decision"],
            "no_data",
            "SLO {slo} decision\n{}",
            out.show()
        );
        assert_only_no_data(line, slo, out);
        for dim in expected_dimensions(slo) {
            let d = &line[*dim];
            assert!(
                d.is_object(),
                "SLO {slo} lacks dimension {dim}\n{}",
                out.show()
            );
            assert_eq!(
                d["decision"],
                "no_data",
                "{slo}.{dim}.decision\n{}",
                out.show()
            );
            let burn = d["burn"]
                .as_object()
                .unwrap_or_else(|| panic!("{slo}.{dim}.burn is not an object\n{}", out.show()));
            assert!(
                !burn.is_empty(),
                "{slo}.{dim}.burn has no windows\n{}",
                out.show()
            );
            for (w, b) in burn {
                assert!(
                    b.is_null(),
                    "{slo}.{dim}.burn.{w} = {b}, expected null\n{}",
                    out.show()
                );
            }
            if let Some(fired) = d.get("fired") {
                assert!(
                    fired.as_array().is_some_and(|a| a.is_empty()),
                    "{slo}.{dim}.fired not empty on missing data\n{}",
                    out.show()
                );
            }
        }
        if slo == "writes" {
            assert!(
                line.get("latency").is_none_or(Value::is_null),
                "writes has no latency dimension in the spec\n{}",
                out.show()
            );
        }
    }
    lines
}

fn query_requests(server: &FaultServer) -> Vec<Request> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/query")
        .collect()
}

/// Requests to /api/v1/query grouped by their `query` parameter.
fn counts_by_query(server: &FaultServer) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in query_requests(server) {
        let q = r
            .param("query")
            .expect("query request without a `query` parameter");
        *m.entry(q).or_insert(0) += 1;
    }
    m
}

fn show_counts(server: &FaultServer) -> String {
    let mut s = String::new();
    for r in server.requests() {
        s.push_str(&format!(
            "  {} {} params={:?}\n",
            r.method,
            r.path,
            r.params()
        ));
    }
    s
}

/// Parses a Prometheus `time` parameter (Unix seconds, possibly fractional, or RFC 3339).
fn prom_time(s: &str) -> f64 {
    if let Ok(f) = s.parse::<f64>() {
        return f;
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| {
            panic!("time parameter {s:?} is neither Unix seconds nor RFC 3339: {e}")
        })
        .timestamp_millis() as f64
        / 1000.0
}

fn rfc3339_secs(s: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp() as f64
}

fn has_errors_field_empty_or_absent(line: &Value) -> bool {
    match line.get("errors") {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------

/// `QUERIES` restates the fixture: one query per dimension of its SLOs.
#[test]
fn queries_per_evaluation_restate_the_fixture() {
    let report = burnrate::spec::load_paths(&[fixture()]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let dimensions: usize = report
        .specs
        .iter()
        .flat_map(|s| &s.slos)
        .map(|s| usize::from(s.error.is_some()) + usize::from(s.latency.is_some()))
        .sum();
    assert_eq!(dimensions, QUERIES);
}

/// 1. Nothing listens: exit 69, no_data lines, stderr names host:port and "connect".
#[test]
fn connection_refused() {
    let port = free_port(); // nothing listens there: the port refuses connections
    let url = format!("http://127.0.0.1:{port}");
    let out = check(&url, &[]);
    assert_no_data_run(&out, 69);
    assert!(
        out.stderr.contains(&format!("127.0.0.1:{port}")),
        "stderr should name the failing backend 127.0.0.1:{port}\n{}",
        out.show()
    );
    assert!(
        out.stderr.to_lowercase().contains("connect"),
        "stderr should say it could not connect\n{}",
        out.show()
    );
}

/// 2. HTTP 500 every time: retried, but boundedly; exit 69; stderr mentions 500.
#[test]
fn http_500_always_is_retried_boundedly() {
    let server = FaultServer::start(Script::always(Reply::json(
        500,
        r#"{"status":"error","errorType":"internal","error":"backend exploded"}"#,
    )));
    let out = check(&server.url(), &[]);
    assert_no_data_run(&out, 69);
    let counts = counts_by_query(&server);
    assert_eq!(
        counts.len(),
        QUERIES,
        "distinct queries\n{}",
        show_counts(&server)
    );
    for (q, n) in &counts {
        assert!(*n > 1, "a 500 must be retried, query sent {n} time(s): {q}");
        assert!(
            *n <= MAX_ATTEMPTS,
            "query retried {n} times (> {MAX_ATTEMPTS}): {q}"
        );
    }
    assert!(
        out.stderr.contains("500"),
        "stderr should mention HTTP 500\n{}",
        out.show()
    );
}

/// 3. 500 once (per query) then a 200 empty vector: the retry succeeds → no_data, exit 4.
#[test]
fn http_500_then_success_is_no_data_not_unreachable() {
    let server = FaultServer::start(Script::per_query(vec![
        Reply::json(
            500,
            r#"{"status":"error","errorType":"internal","error":"transient"}"#,
        ),
        Reply::json(200, EMPTY_VECTOR),
    ]));
    let out = check(&server.url(), &[]);
    let lines = assert_no_data_run(&out, 4);
    let counts = counts_by_query(&server);
    assert_eq!(
        counts.len(),
        QUERIES,
        "distinct queries\n{}",
        show_counts(&server)
    );
    for (q, n) in &counts {
        assert_eq!(
            *n,
            2,
            "expected one failure and one retry for {q}\n{}",
            show_counts(&server)
        );
    }
    for l in &lines {
        assert!(
            has_errors_field_empty_or_absent(l),
            "queries succeeded on retry, yet `errors` is reported: {l}"
        );
    }
}

/// 4. HTTP 400 bad_data: never retried, exit 69, stderr carries Prometheus's error.
#[test]
fn http_400_bad_data_is_not_retried() {
    let server = FaultServer::start(Script::always(Reply::json(
        400,
        r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5: unexpected identifier"}"#,
    )));
    let out = check(&server.url(), &[]);
    assert_no_data_run(&out, 69);
    let counts = counts_by_query(&server);
    assert_eq!(
        counts.len(),
        QUERIES,
        "distinct queries\n{}",
        show_counts(&server)
    );
    for (q, n) in &counts {
        assert_eq!(*n, 1, "a 4xx must not be retried; sent {n} times: {q}");
    }
    assert!(
        out.stderr.contains("bad_data"),
        "stderr should carry errorType\n{}",
        out.show()
    );
    assert!(
        out.stderr.contains("parse error at char 5"),
        "stderr should carry Prometheus's error message\n{}",
        out.show()
    );
}

/// 5. HTTP 422 execution error: never retried, exit 69.
#[test]
fn http_422_execution_error_is_not_retried() {
    let server = FaultServer::start(Script::always(Reply::json(
        422,
        r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}"#,
    )));
    let out = check(&server.url(), &[]);
    assert_no_data_run(&out, 69);
    let counts = counts_by_query(&server);
    assert_eq!(
        counts.len(),
        QUERIES,
        "distinct queries\n{}",
        show_counts(&server)
    );
    for (q, n) in &counts {
        assert_eq!(*n, 1, "a 422 must not be retried; sent {n} times: {q}");
    }
    assert!(
        out.stderr.contains("too many samples"),
        "stderr should carry Prometheus's error message\n{}",
        out.show()
    );
}

/// 6. The backend accepts and never answers: --timeout 1s bounds the whole run.
#[test]
fn hanging_backend_times_out() {
    let server = FaultServer::start(Script::hang());
    let out = check(&server.url(), &[]);
    assert_no_data_run(&out, 69);
    assert!(
        out.elapsed < Duration::from_secs(15),
        "check against a hanging backend with --timeout 1s took {:?}",
        out.elapsed
    );
    let counts = counts_by_query(&server);
    assert_eq!(
        counts.len(),
        QUERIES,
        "distinct queries\n{}",
        show_counts(&server)
    );
    for (q, n) in &counts {
        assert!(
            *n <= MAX_ATTEMPTS,
            "query tried {n} times (> {MAX_ATTEMPTS}): {q}"
        );
    }
    let err = out.stderr.to_lowercase();
    assert!(
        err.contains("timeout") || err.contains("timed out") || err.contains("time out"),
        "stderr should say the request timed out\n{}",
        out.show()
    );
}

/// 7. Status 200 with a body that is not a Prometheus response: exit 69, "could not parse".
#[test]
fn unparseable_success_bodies() {
    for (name, reply) in [
        ("truncated JSON", Reply::json(200, r#"{"status":"succ"#)),
        (
            "HTML page",
            Reply::html(
                200,
                "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\
                 <body><h1>Please sign in</h1></body></html>\n",
            ),
        ),
    ] {
        let server = FaultServer::start(Script::always(reply));
        let out = check(&server.url(), &[]);
        eprintln!("case: {name}");
        assert_no_data_run(&out, 69);
        assert!(
            out.stderr.to_lowercase().contains("pars"),
            "[{name}] stderr should say the response could not be parsed\n{}",
            out.show()
        );
        for (q, n) in counts_by_query(&server) {
            assert!(n <= MAX_ATTEMPTS, "[{name}] query tried {n} times: {q}");
        }
    }
}

/// 8. Empty vector everywhere: no_data (exit 4), burns null, exactly 3 requests.
#[test]
fn empty_result_is_no_data_with_one_request_per_dimension() {
    let server = FaultServer::start(Script::always(Reply::json(200, EMPTY_VECTOR)));
    let out = check(&server.url(), &[]);
    let lines = assert_no_data_run(&out, 4);
    let reqs = server.requests();
    assert_eq!(
        reqs.len(),
        QUERIES,
        "requests sent\n{}",
        show_counts(&server)
    );
    for r in &reqs {
        assert_eq!(r.path, "/api/v1/query", "{}", show_counts(&server));
        assert!(
            r.param("query").is_some_and(|q| !q.is_empty()),
            "no query param: {r:?}"
        );
        assert!(r.param("time").is_some(), "no time param: {r:?}");
    }
    assert_eq!(
        counts_by_query(&server).len(),
        QUERIES,
        "distinct queries\n{}",
        show_counts(&server)
    );
    for l in &lines {
        assert!(
            has_errors_field_empty_or_absent(l),
            "empty results are not errors: {l}"
        );
    }
}

/// 9. Every value NaN, on several series with arbitrary labels: null burns, exit 4.
#[test]
fn nan_values_are_no_data() {
    let body = r#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"window":"5m"},"value":[1700000000,"NaN"]},
        {"metric":{"window":"1h"},"value":[1700000000,"NaN"]},
        {"metric":{"window":"3d","le":"0.3"},"value":[1700000000,"NaN"]},
        {"metric":{},"value":[1700000000,"NaN"]},
        {"metric":{"__name__":"whatever","job":"faultsvc","weird":"x"},"value":[1700000000.5,"NaN"]}
    ]}}"#;
    let server = FaultServer::start(Script::always(Reply::json(200, body)));
    let out = check(&server.url(), &[]);
    assert_no_data_run(&out, 4);
}

/// 10. Prometheus warnings are shown to the user on stderr.
#[test]
fn prometheus_warnings_reach_stderr() {
    let server = FaultServer::start(Script::always(Reply::json(
        200,
        r#"{"status":"success","data":{"resultType":"vector","result":[]},"warnings":["some warning text"]}"#,
    )));
    let out = check(&server.url(), &[]);
    assert_no_data_run(&out, 4);
    assert!(
        out.stderr.contains("some warning text"),
        "Prometheus warning not shown on stderr\n{}",
        out.show()
    );
}

/// 11. --header and --bearer-token-file are sent on every request; the token never leaks.
#[test]
fn headers_and_bearer_token_are_sent_and_never_printed() {
    const TOKEN: &str = "s3cr3t-token-xyz";
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let token_path = token_file.to_str().unwrap();
    let extra = [
        "--header",
        "X-Scope-OrgID: tenant-a",
        "--bearer-token-file",
        token_path,
    ];

    let assert_headers = |server: &FaultServer| {
        let reqs = server.requests();
        assert!(!reqs.is_empty(), "no request reached the server");
        for r in &reqs {
            assert_eq!(
                r.header("X-Scope-OrgID"),
                Some("tenant-a"),
                "X-Scope-OrgID on {r:?}"
            );
            assert_eq!(
                r.header("Authorization"),
                Some(format!("Bearer {TOKEN}").as_str()),
                "Authorization on {} {}",
                r.method,
                r.path
            );
        }
    };
    let assert_no_token = |out: &Out| {
        assert!(
            !out.stdout.contains(TOKEN),
            "token on stdout\n{}",
            out.show()
        );
        assert!(
            !out.stderr.contains(TOKEN),
            "token on stderr\n{}",
            out.show()
        );
    };

    // Healthy (empty) backend, JSON output.
    let ok = FaultServer::start(Script::always(Reply::json(200, EMPTY_VECTOR)));
    let out = check(&ok.url(), &extra);
    assert_no_data_run(&out, 4);
    assert_eq!(ok.request_count(), QUERIES, "{}", show_counts(&ok));
    assert_headers(&ok);
    assert_no_token(&out);

    // Failing backend, table output: errors get printed, the token must not be.
    let failing = FaultServer::start(Script::always(Reply::json(
        500,
        r#"{"status":"error","errorType":"internal","error":"boom"}"#,
    )));
    let spec = fixture();
    let url = failing.url();
    let mut args = vec![
        "check",
        spec.to_str().unwrap(),
        "--prometheus",
        &url,
        "--format",
        "table",
        "--timeout",
        "1s",
        "--at",
        AT,
    ];
    args.extend_from_slice(&extra);
    let out = run(&args);
    assert_exit(&out, 69);
    assert_no_panic(&out);
    assert!(!out.stdout.contains("circuit_break"), "{}", out.show());
    assert!(
        !out.stdout.trim().is_empty(),
        "table output is empty\n{}",
        out.show()
    );
    assert_headers(&failing);
    assert_no_token(&out);
}

/// 12. BURNRATE_PROMETHEUS_URL stands in for --prometheus.
#[test]
fn prometheus_url_from_environment() {
    let server = FaultServer::start(Script::always(Reply::json(200, EMPTY_VECTOR)));
    let spec = fixture();
    let out = run_env(
        &[
            "check",
            spec.to_str().unwrap(),
            "--format",
            "json",
            "--timeout",
            "1s",
            "--at",
            AT,
        ],
        &[("BURNRATE_PROMETHEUS_URL", &server.url())],
    );
    assert_no_data_run(&out, 4);
    assert_eq!(server.request_count(), QUERIES, "{}", show_counts(&server));
}

/// 13. Usage errors exit 64 (not clap's default 2, which means `scale`); --help exits 0.
#[test]
fn usage_errors_exit_64() {
    let server = FaultServer::start(Script::always(Reply::json(200, EMPTY_VECTOR)));
    let spec = fixture();
    let spec = spec.to_str().unwrap();
    let url = server.url();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "unknown flag",
            vec!["check", spec, "--prometheus", &url, "--no-such-flag"],
        ),
        (
            "bad --at",
            vec!["check", spec, "--prometheus", &url, "--at", "not-a-time"],
        ),
        (
            "bad --format",
            vec!["check", spec, "--prometheus", &url, "--format", "xml"],
        ),
        (
            "missing --prometheus",
            vec!["check", spec, "--format", "json"],
        ),
    ];
    for (name, args) in cases {
        let out = run(&args);
        assert_eq!(
            out.code,
            Some(64),
            "[{name}] expected usage error 64\n{}",
            out.show()
        );
        assert_no_panic(&out);
        assert!(
            !out.stderr.trim().is_empty(),
            "[{name}] usage error without a message"
        );
    }
    assert_eq!(
        server.request_count(),
        0,
        "a usage error must not query the backend"
    );

    for args in [vec!["--help"], vec!["check", "--help"]] {
        let out = run(&args);
        assert_eq!(out.code, Some(0), "{args:?}\n{}", out.show());
        assert!(
            out.stdout.contains("check"),
            "{args:?} should document `check`\n{}",
            out.show()
        );
        assert_no_panic(&out);
    }
}

/// 14. --at as RFC 3339 or Unix seconds: the `time` parameter is that instant.
#[test]
fn at_is_sent_as_the_query_time() {
    for (at, expected) in [
        ("2026-11-17T10:00:00Z", rfc3339_secs("2026-11-17T10:00:00Z")),
        ("1795000000", 1_795_000_000.0),
    ] {
        let server = FaultServer::start(Script::always(Reply::json(200, EMPTY_VECTOR)));
        let spec = fixture();
        let url = server.url();
        let out = run(&[
            "check",
            spec.to_str().unwrap(),
            "--prometheus",
            &url,
            "--format",
            "json",
            "--timeout",
            "1s",
            "--at",
            at,
        ]);
        let lines = assert_no_data_run(&out, 4);
        let reqs = server.requests();
        assert_eq!(reqs.len(), QUERIES, "{}", show_counts(&server));
        for r in &reqs {
            let t = r
                .param("time")
                .unwrap_or_else(|| panic!("no time parameter: {r:?}"));
            let got = prom_time(&t);
            assert!(
                (got - expected).abs() < 1e-3,
                "--at {at}: server got time={t} ({got}), expected {expected}"
            );
        }
        for l in &lines {
            let t = l["time"]
                .as_str()
                .unwrap_or_else(|| panic!("no time field: {l}"));
            assert!(
                (prom_time(t) - expected).abs() < 1e-3,
                "--at {at}: output time {t} is not that instant"
            );
        }
    }
}
