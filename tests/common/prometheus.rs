//! A throw-away Prometheus for integration tests.
//!
//! [`backfill`] turns OpenMetrics text into TSDB blocks with `promtool`; [`Prometheus::start`]
//! copies such a blocks directory into a fresh temporary directory (Prometheus compacts the
//! blocks it owns about a minute after start, so every instance gets its own copy) and serves
//! it on a free loopback port. Nothing here ever contacts anything but 127.0.0.1.
//!
//! The binaries are `prometheus` and `promtool` from `PATH` (Debian's package installs them in
//! /usr/bin), or the paths in `PROMETHEUS_BIN` / `PROMTOOL_BIN`.
//!
//! Children are started with `PR_SET_PDEATHSIG = SIGKILL`, so an aborted test run (a killed
//! test binary, a Ctrl-C) leaves no orphan. Note that Linux delivers that signal when the
//! *thread* that spawned the child exits: start a [`Prometheus`] from the thread that uses it
//! (a test function's own thread, as usual), not from a short-lived helper thread.

#![allow(unsafe_code, reason = "libc: prctl(PR_SET_PDEATHSIG) in the child")]

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long Prometheus may take to answer `/-/ready`.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// Per-request timeout of the test's own queries.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);

fn prometheus_bin() -> String {
    std::env::var("PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".to_string())
}

fn promtool_bin() -> String {
    std::env::var("PROMTOOL_BIN").unwrap_or_else(|_| "promtool".to_string())
}

/// Make `cmd`'s child die with SIGKILL when the spawning thread goes away.
pub fn kill_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe
    // functions (prctl, getppid); it allocates only on the error path, where the child
    // is about to fail its spawn anyway.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                return Err(io::Error::other("parent exited before the child started"));
            }
            Ok(())
        });
    }
}

/// Backfill `openmetrics` (OpenMetrics text ending with `# EOF`, timestamps in seconds)
/// into TSDB blocks under `blocks_out` with `promtool tsdb create-blocks-from openmetrics`.
/// Panics with promtool's output when it fails.
pub fn backfill(openmetrics: &Path, blocks_out: &Path) {
    backfill_with_block_duration(openmetrics, blocks_out, None)
}

/// [`backfill`] with promtool's `--max-block-duration` (e.g. `"24h"`): fewer, larger blocks
/// are quicker to copy and open. `None` keeps promtool's default (2h).
pub fn backfill_with_block_duration(
    openmetrics: &Path,
    blocks_out: &Path,
    max_block: Option<&str>,
) {
    fs::create_dir_all(blocks_out)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", blocks_out.display()));
    let mut cmd = Command::new(promtool_bin());
    cmd.args(["tsdb", "create-blocks-from", "openmetrics"]);
    if let Some(d) = max_block {
        cmd.arg(format!("--max-block-duration={d}"));
    }
    cmd.arg(openmetrics).arg(blocks_out);
    cmd.stdin(Stdio::null());
    kill_with_parent(&mut cmd);
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {} (is Prometheus installed?): {e}",
            promtool_bin()
        )
    });
    if !status.success() {
        panic!(
            "promtool tsdb create-blocks-from openmetrics {} {} failed ({status}):\n--- stderr ---\n{}\n--- stdout (tail) ---\n{}",
            openmetrics.display(),
            blocks_out.display(),
            String::from_utf8_lossy(&stderr),
            tail(&String::from_utf8_lossy(&stdout), 40),
        );
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap_or_else(|e| panic!("cannot create {}: {e}", dst.display()));
    for entry in fs::read_dir(src).unwrap_or_else(|e| panic!("cannot read {}: {e}", src.display()))
    {
        let entry = entry.unwrap();
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&from, &to);
        } else if kind.is_file() {
            fs::copy(&from, &to).unwrap_or_else(|e| {
                panic!("cannot copy {} to {}: {e}", from.display(), to.display())
            });
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1 (bind to port 0, read it, release it).
pub fn free_loopback_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

/// One instance-vector sample: its labels and value.
pub type Sample = (BTreeMap<String, String>, f64);

/// A running Prometheus serving a private copy of backfilled blocks. Killed (SIGKILL) and
/// reaped on drop, also while unwinding from a panic; its temporary directory goes with it.
pub struct Prometheus {
    child: Child,
    port: u16,
    log: PathBuf,
    agent: ureq::Agent,
    /// Command-line flags beyond the layout's (e.g. `--enable-feature=exemplar-storage`),
    /// kept so that a [`restart`](Self::restart) runs the same server.
    flags: Vec<String>,
    // Declared last: dropped after the process is gone.
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Start Prometheus on a copy of the TSDB blocks in `blocks` (as written by [`backfill`])
    /// and wait until it is ready. Panics, with the tail of its log, if it does not start.
    pub fn start(blocks: &Path) -> Prometheus {
        let dir = tempfile::Builder::new()
            .prefix("burnrate-test-prometheus-")
            .tempdir()
            .expect("create temp dir");
        let data = dir.path().join("data");
        copy_dir(blocks, &data);
        fs::write(dir.path().join("prometheus.yml"), "global: {}\n").unwrap();
        Prometheus::launch(dir, &[])
    }

    /// Starts `prometheus` in a prepared directory (`prometheus.yml`, `data/`) on a free
    /// port and waits until it is ready. The port is released before Prometheus binds it and
    /// another process may take it in between, so this retries on "address already in use".
    fn launch(dir: tempfile::TempDir, flags: &[&str]) -> Prometheus {
        let log = dir.path().join("prometheus.log");
        let mut last_failure = String::new();
        for _attempt in 0..5 {
            let port = free_loopback_port();
            let _ = fs::write(&log, "");
            let mut child = spawn_in(dir.path(), port, flags);
            match wait_ready(&mut child, port) {
                Ok(()) => {
                    let agent = ureq::AgentBuilder::new().timeout(QUERY_TIMEOUT).build();
                    return Prometheus {
                        child,
                        port,
                        log,
                        agent,
                        flags: flags.iter().map(|f| f.to_string()).collect(),
                        dir,
                    };
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log_text = read_tail(&log, 60);
                    last_failure = format!("{why}\n--- prometheus log (tail) ---\n{log_text}");
                    if !log_text.contains("address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("prometheus did not start: {last_failure}");
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id of the running Prometheus.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `lines` lines of Prometheus's log (stdout and stderr).
    pub fn log_tail(&self, lines: usize) -> String {
        read_tail(&self.log, lines)
    }

    /// Instant query `expr` at Unix time `t` (seconds); the raw `data` object of the answer.
    /// Panics when the query fails.
    pub fn query_json(&self, expr: &str, t: i64) -> serde_json::Value {
        instant_query_json(&self.agent, &self.url(), expr, t, &|| {
            format!("--- prometheus log (tail) ---\n{}", self.log_tail(30))
        })
    }

    /// Instant query `expr` at Unix time `t` (seconds). A vector answer gives one entry per
    /// series (labels, value); a scalar answer gives one entry with no labels. Values are
    /// parsed from Prometheus's strings, including `NaN`, `+Inf` and `-Inf`.
    pub fn query(&self, expr: &str, t: i64) -> Vec<Sample> {
        instant_samples(expr, &self.query_json(expr, t))
    }

    /// Range query `expr` over `[start, end]` at `step` (Unix seconds); the raw `data` of the
    /// answer (`result`: per series its `metric` and `values`). Panics when the query fails.
    pub fn query_range_json(
        &self,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> serde_json::Value {
        let url = format!("{}/api/v1/query_range", self.url());
        let body = match self
            .agent
            .get(&url)
            .query("query", expr)
            .query("start", &start.to_string())
            .query("end", &end.to_string())
            .query("step", &step.to_string())
            .call()
        {
            Ok(resp) => resp.into_string().expect("read query_range response"),
            Err(ureq::Error::Status(code, resp)) => panic!(
                "query_range {expr:?} failed with HTTP {code}: {}",
                resp.into_string().unwrap_or_default()
            ),
            Err(e) => panic!(
                "query_range {expr:?} failed: {e}\n--- prometheus log (tail) ---\n{}",
                self.log_tail(30)
            ),
        };
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("query_range {expr:?}: bad JSON ({e}): {body}"));
        assert_eq!(v["status"], "success", "query_range {expr:?}: {body}");
        v["data"].clone()
    }

    /// Like [`query`](Self::query) for an expression that yields at most one series:
    /// `None` when the result is empty. Panics on more than one series.
    pub fn query_one(&self, expr: &str, t: i64) -> Option<f64> {
        at_most_one(expr, t, self.query(expr, t))
    }

    /// `GET /api/v1/query_exemplars` for `expr` over `[start, end]` (Unix seconds): the raw
    /// `data`, one entry per series (`seriesLabels`, `exemplars` with `labels`, `value` as a
    /// string and `timestamp` in seconds). Panics when the query fails.
    pub fn query_exemplars(&self, expr: &str, start: f64, end: f64) -> serde_json::Value {
        let url = format!("{}/api/v1/query_exemplars", self.url());
        let body = match self
            .agent
            .get(&url)
            .query("query", expr)
            .query("start", &format!("{start:.3}"))
            .query("end", &format!("{end:.3}"))
            .call()
        {
            Ok(resp) => resp.into_string().expect("read exemplars response"),
            Err(e) => panic!(
                "query_exemplars {expr:?} [{start}, {end}] failed: {e}\n--- prometheus log (tail) ---\n{}",
                self.log_tail(30)
            ),
        };
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("query_exemplars {expr:?}: bad JSON ({e}): {body}"));
        assert_eq!(v["status"], "success", "query_exemplars {expr:?}: {body}");
        v["data"].clone()
    }

    /// The scrape targets as `/api/v1/targets` lists them (`health`, `lastError`, ...).
    pub fn active_targets(&self) -> Vec<serde_json::Value> {
        let url = format!("{}/api/v1/targets", self.url());
        let body = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| e.to_string())
            .and_then(|r| r.into_string().map_err(|e| e.to_string()))
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {url}: bad JSON ({e}): {body}"));
        v["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// The flag that makes Prometheus 2.x store the exemplars it scrapes (OpenMetrics only) and
/// answer `/api/v1/query_exemplars`.
pub const EXEMPLAR_STORAGE: &str = "--enable-feature=exemplar-storage";

fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + READY_DEADLINE;
    let url = format!("http://127.0.0.1:{port}/-/ready");
    let probe = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(2))
        .build();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("prometheus exited during startup ({status})"));
        }
        if let Ok(resp) = probe.get(&url).call()
            && resp.status() == 200
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("prometheus not ready after {READY_DEADLINE:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
        let mut bytes = Vec::new();
        let _ = f.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    tail(&text, lines)
}

/// Parse a sample value as Prometheus writes it in JSON (`"1.5"`, `"NaN"`, `"+Inf"`, `"-Inf"`).
pub fn parse_prom_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this child's pid; then reap it so no zombie remains.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `prometheus` with the layout of a [`Prometheus`] directory (`prometheus.yml`,
/// `data/`, `prometheus.log`, the log appended to) on `port`.
fn spawn_in(dir: &Path, port: u16, extra_args: &[impl AsRef<std::ffi::OsStr>]) -> Child {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("prometheus.log"))
        .unwrap();
    let mut cmd = Command::new(prometheus_bin());
    cmd.arg(format!(
        "--config.file={}",
        dir.join("prometheus.yml").display()
    ))
    .arg(format!(
        "--storage.tsdb.path={}",
        dir.join("data").display()
    ))
    .arg("--storage.tsdb.retention.time=100y")
    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
    .args(extra_args)
    .stdin(Stdio::null())
    .stdout(Stdio::from(log.try_clone().unwrap()))
    .stderr(Stdio::from(log));
    kill_with_parent(&mut cmd);
    cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot run {} (is Prometheus installed?): {e}",
            prometheus_bin()
        )
    })
}

/// A Prometheus duration for `d` (milliseconds, which Prometheus accepts everywhere).
fn prom_duration(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

impl Prometheus {
    /// Start a Prometheus with a fresh, empty TSDB that scrapes `targets` (`host:port`, all
    /// on 127.0.0.1) as one job `app` every `scrape_interval` (also its evaluation interval
    /// and, since Prometheus rejects a longer one, its scrape timeout). Waits until it is
    /// ready, not until the first scrape.
    pub fn start_scraping(targets: &[String], scrape_interval: Duration) -> Prometheus {
        Prometheus::start_scraping_with_flags(targets, scrape_interval, &[])
    }

    /// [`start_scraping`](Self::start_scraping) with extra command-line `flags`, e.g.
    /// [`EXEMPLAR_STORAGE`] (Prometheus 2.x keeps no exemplars without it).
    pub fn start_scraping_with_flags(
        targets: &[String],
        scrape_interval: Duration,
        flags: &[&str],
    ) -> Prometheus {
        for t in targets {
            assert!(
                t.starts_with("127.0.0.1:"),
                "test targets must be on 127.0.0.1, got {t}"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("burnrate-test-prometheus-")
            .tempdir()
            .expect("create temp dir");
        fs::create_dir_all(dir.path().join("data")).unwrap();
        let every = prom_duration(scrape_interval);
        let target_list = targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let config = format!(
            "global:\n  scrape_interval: {every}\n  scrape_timeout: {every}\n  evaluation_interval: {every}\n\
             scrape_configs:\n  - job_name: app\n    scrape_interval: {every}\n    scrape_timeout: {every}\n    \
             static_configs:\n      - targets: [{target_list}]\n"
        );
        fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        Prometheus::launch(dir, flags)
    }

    /// Start a Prometheus with a fresh, empty TSDB and `config` as its `prometheus.yml`
    /// (e.g. a scrape config with `scheme: https`); waits until it is ready.
    pub fn start_with_config(config: &str) -> Prometheus {
        let dir = tempfile::Builder::new()
            .prefix("burnrate-test-prometheus-")
            .tempdir()
            .expect("create temp dir");
        fs::create_dir_all(dir.path().join("data")).unwrap();
        fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        Prometheus::launch(dir, &[])
    }

    /// Kill Prometheus (SIGKILL) and reap it; its data directory and port are kept for
    /// [`restart`](Self::restart). Killing a killed instance does nothing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Start Prometheus again on the same port and data directory (after [`kill`](Self::kill);
    /// kills the running one first otherwise) and wait until it is ready. Retries for a few
    /// seconds while the port is still held.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut child = spawn_in(self.dir.path(), self.port, self.flags.as_slice());
            match wait_ready(&mut child, self.port) {
                Ok(()) => {
                    self.child = child;
                    return;
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log_text = read_tail(&self.log, 60);
                    if !log_text.contains("address already in use") || Instant::now() > deadline {
                        panic!(
                            "prometheus did not restart: {why}\n--- prometheus log (tail) ---\n{log_text}"
                        );
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// The current Unix time in seconds, as [`query`](Self::query) takes it.
    pub fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    /// Polls the instant query `expr` (at the current time) every 200 ms until `accept`
    /// takes its single value (`None` when empty), or `within` passes. Returns the last
    /// value seen and whether it was accepted.
    pub fn wait_for_value(
        &self,
        expr: &str,
        within: Duration,
        mut accept: impl FnMut(Option<f64>) -> bool,
    ) -> (Option<f64>, bool) {
        let deadline = Instant::now() + within;
        loop {
            let v = self.query_one(expr, Prometheus::now());
            if accept(v) {
                return (v, true);
            }
            if Instant::now() > deadline {
                return (v, false);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// An instant query against any server speaking the Prometheus HTTP API (Prometheus,
/// VictoriaMetrics); the raw `data` of a successful answer. Panics otherwise, with
/// `server_log()` appended when the server could not be reached.
pub fn instant_query_json(
    agent: &ureq::Agent,
    base_url: &str,
    expr: &str,
    t: i64,
    server_log: &dyn Fn() -> String,
) -> serde_json::Value {
    let url = format!("{base_url}/api/v1/query");
    let result = agent
        .get(&url)
        .query("query", expr)
        .query("time", &t.to_string())
        .call();
    let body = match result {
        Ok(resp) => resp.into_string().expect("read query response"),
        Err(ureq::Error::Status(code, resp)) => panic!(
            "query {expr:?} at {t} failed with HTTP {code}: {}",
            resp.into_string().unwrap_or_default()
        ),
        Err(e) => panic!("query {expr:?} at {t} failed: {e}\n{}", server_log()),
    };
    let v: serde_json::Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("query {expr:?} at {t}: bad JSON ({e}): {body}"));
    if v["status"] != "success" {
        panic!("query {expr:?} at {t} failed: {body}");
    }
    v["data"].clone()
}

/// The samples of an instant query's `data`: one per series of a vector, or one without
/// labels for a scalar. Values are parsed from the API's strings (`NaN`, `+Inf`, ...).
pub fn instant_samples(expr: &str, data: &serde_json::Value) -> Vec<Sample> {
    let parse_point = |p: &serde_json::Value| -> f64 {
        let s = p[1]
            .as_str()
            .unwrap_or_else(|| panic!("query {expr:?}: bad point {p}"));
        parse_prom_float(s).unwrap_or_else(|| panic!("query {expr:?}: bad value {s:?}"))
    };
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let labels = r["metric"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                (labels, parse_point(&r["value"]))
            })
            .collect(),
        Some("scalar") => vec![(BTreeMap::new(), parse_point(&data["result"]))],
        other => {
            panic!("query {expr:?}: unsupported result type {other:?} (use an instant vector)")
        }
    }
}

/// The value of a result with at most one series (`None` when empty).
pub fn at_most_one(expr: &str, t: i64, mut samples: Vec<Sample>) -> Option<f64> {
    assert!(
        samples.len() <= 1,
        "query {expr:?} at {t}: expected at most one series, got {samples:?}"
    );
    samples.pop().map(|(_, v)| v)
}

/// The embedded demo history (`demo/map-update-history.om.gz`) as OpenMetrics text.
pub fn demo_history_text() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/map-update-history.om.gz");
    let mut text = String::new();
    io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(File::open(path).expect("open the demo history")),
        &mut text,
    )
    .expect("gunzip the demo history");
    text
}

/// The demo history backfilled into TSDB blocks under `dir`; returns the blocks directory.
pub fn backfill_demo(dir: &Path) -> PathBuf {
    let om = dir.join("demo-history.om");
    fs::write(&om, demo_history_text()).unwrap();
    let blocks = dir.join("blocks");
    backfill(&om, &blocks);
    blocks
}

/// A synthetic history ending a minute before now, on its scrape grid (so that Prometheus's
/// retention never reaches it), written as OpenMetrics text and backfilled into blocks.
pub struct Backfilled {
    pub start: i64,
    pub end: i64,
    /// The OpenMetrics text, for `backtest --history`.
    pub history_file: PathBuf,
    pub blocks: PathBuf,
    _dir: tempfile::TempDir,
}

impl Backfilled {
    /// The history `build(start)` returns, `duration` seconds scraped every `scrape` seconds.
    pub fn ending_now(
        duration: i64,
        scrape: i64,
        build: impl FnOnce(i64) -> super::history::History,
    ) -> Backfilled {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let end = now / scrape * scrape - 60;
        Backfilled::between(end - duration, end, build)
    }

    /// The history `build(start)` returns, backfilled as it is: for tests about fixed dates
    /// (calendar months, a daylight-saving change), which Prometheus's retention of 100
    /// years keeps however long ago they are.
    pub fn between(
        start: i64,
        end: i64,
        build: impl FnOnce(i64) -> super::history::History,
    ) -> Backfilled {
        let dir = tempfile::tempdir().unwrap();
        let history_file = dir.path().join("history.om");
        build(start).write_openmetrics(&history_file);
        let blocks = dir.path().join("blocks");
        backfill_with_block_duration(&history_file, &blocks, Some("24h"));
        Backfilled {
            start,
            end,
            history_file,
            blocks,
            _dir: dir,
        }
    }

    /// `h` hours and `m` minutes after the history's start.
    pub fn at(&self, h: i64, m: i64) -> i64 {
        self.start + h * 3600 + m * 60
    }

    /// Each `(h, m, s)` after the start, then 45 s before the end: instants across a test's
    /// scenarios, on the scrape grid and off it as the seconds say.
    pub fn instants(&self, hms: &[(i64, i64, i64)]) -> Vec<i64> {
        hms.iter()
            .map(|&(h, m, s)| self.at(h, m) + s)
            .chain([self.end - 45])
            .collect()
    }
}
