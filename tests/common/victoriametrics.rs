//! A throw-away single-node VictoriaMetrics for integration tests (the second backend).
//!
//! [`VictoriaMetrics::start`] runs `victoria-metrics` (Debian's package installs it in
//! /usr/bin; or the path in `VICTORIA_METRICS_BIN`) on a fresh temporary storage directory and a
//! free loopback port, and waits for `/health`. [`import_openmetrics`](VictoriaMetrics::import_openmetrics)
//! loads the same OpenMetrics text that [`super::prometheus::backfill`] gives promtool: the
//! Prometheus import endpoint of VictoriaMetrics takes *millisecond* timestamps, so the
//! seconds of the text are converted; then `/internal/force_flush` makes the samples
//! searchable. Nothing here ever contacts anything but 127.0.0.1.
//!
//! Flags: `-retentionPeriod=100y` (test histories lie in the past), `-search.latencyOffset=0`
//! (by default the last 30 s are hidden from queries, as not yet complete),
//! `-search.disableCache` (the rollup cache would keep answers computed before an import).
//!
//! The child is started with `PR_SET_PDEATHSIG = SIGKILL` (see
//! [`super::prometheus::kill_with_parent`]) and killed on drop.

use super::prometheus::{
    Sample, at_most_one, free_loopback_port, instant_query_json, instant_samples, kill_with_parent,
};
use std::collections::BTreeMap;
use std::fs::File;

/// Series as the export and range APIs return them: labels and `(time, value)` points.
pub type SeriesPoints = Vec<(BTreeMap<String, String>, Vec<(i64, f64)>)>;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const READY_DEADLINE: Duration = Duration::from_secs(30);
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Import bodies are cut at line boundaries into pieces of about this size.
const IMPORT_CHUNK_BYTES: usize = 8 << 20;

fn vm_bin() -> String {
    std::env::var("VICTORIA_METRICS_BIN").unwrap_or_else(|_| "victoria-metrics".to_string())
}

/// A running VictoriaMetrics; killed (SIGKILL) and reaped on drop, its storage removed.
pub struct VictoriaMetrics {
    child: Child,
    port: u16,
    log: PathBuf,
    agent: ureq::Agent,
    // Declared last: dropped after the process is gone.
    _dir: tempfile::TempDir,
}

/// What [`VictoriaMetrics::import_openmetrics`] sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportStats {
    pub samples: usize,
    pub requests: usize,
}

impl VictoriaMetrics {
    /// Starts VictoriaMetrics with an empty storage and waits until `/health` answers `OK`.
    /// Panics, with the tail of its log, if it does not start.
    pub fn start() -> VictoriaMetrics {
        let dir = tempfile::Builder::new()
            .prefix("burnrate-test-victoriametrics-")
            .tempdir()
            .expect("create temp dir");
        let data = dir.path().join("data");
        let log = dir.path().join("victoria-metrics.log");
        let mut last_failure = String::new();
        // The port is released before VictoriaMetrics binds it; retry if another process
        // took it in between.
        for _attempt in 0..5 {
            let port = free_loopback_port();
            let log_file = File::create(&log).unwrap();
            let mut cmd = Command::new(vm_bin());
            cmd.arg(format!("-storageDataPath={}", data.display()))
                .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                .arg("-retentionPeriod=100y")
                .arg("-search.latencyOffset=0")
                .arg("-search.disableCache")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log_file.try_clone().unwrap()))
                .stderr(Stdio::from(log_file));
            kill_with_parent(&mut cmd);
            let mut child = cmd.spawn().unwrap_or_else(|e| {
                panic!(
                    "cannot run {} (is VictoriaMetrics installed?): {e}",
                    vm_bin()
                )
            });
            match wait_ready(&mut child, port) {
                Ok(()) => {
                    let agent = ureq::AgentBuilder::new().timeout(QUERY_TIMEOUT).build();
                    return VictoriaMetrics {
                        child,
                        port,
                        log,
                        agent,
                        _dir: dir,
                    };
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log_text = read_tail(&log, 40);
                    last_failure =
                        format!("{why}\n--- victoria-metrics log (tail) ---\n{log_text}");
                    if !log_text.contains("address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("victoria-metrics did not start: {last_failure}");
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (what `--prometheus` takes).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        read_tail(&self.log, lines)
    }

    /// Imports OpenMetrics / Prometheus text whose sample timestamps are in seconds (as
    /// promtool's backfill takes them) through `POST /api/v1/import/prometheus`, converting
    /// them to milliseconds, then flushes (`GET /internal/force_flush`) so that queries see
    /// every sample. Comment lines (`# TYPE`, `# EOF`, ...) and exemplars are dropped.
    pub fn import_openmetrics(&self, text: &str) -> ImportStats {
        let mut stats = ImportStats::default();
        let mut body = String::with_capacity(IMPORT_CHUNK_BYTES + 4096);
        for line in text.lines() {
            let Some(converted) = to_milliseconds(line) else {
                continue;
            };
            body.push_str(&converted);
            body.push('\n');
            stats.samples += 1;
            if body.len() >= IMPORT_CHUNK_BYTES {
                self.post_import(&body);
                stats.requests += 1;
                body.clear();
            }
        }
        if !body.is_empty() {
            self.post_import(&body);
            stats.requests += 1;
        }
        self.force_flush();
        stats
    }

    fn post_import(&self, body: &str) {
        let url = format!("{}/api/v1/import/prometheus", self.url());
        match self
            .agent
            .post(&url)
            .set("Content-Type", "text/plain")
            .send_string(body)
        {
            Ok(resp) if resp.status() / 100 == 2 => {}
            Ok(resp) => panic!(
                "import: HTTP {}: {}",
                resp.status(),
                resp.into_string().unwrap_or_default()
            ),
            Err(e) => panic!(
                "import failed: {e}\n--- victoria-metrics log (tail) ---\n{}",
                self.log_tail(30)
            ),
        }
    }

    /// `GET /internal/force_flush`: makes recently imported samples visible to queries.
    pub fn force_flush(&self) {
        let url = format!("{}/internal/force_flush", self.url());
        if let Err(e) = self.agent.get(&url).call() {
            panic!(
                "force_flush failed: {e}\n--- victoria-metrics log (tail) ---\n{}",
                self.log_tail(30)
            );
        }
    }

    /// Instant query `expr` at Unix time `t` (seconds); the raw `data` object of the answer.
    pub fn query_json(&self, expr: &str, t: i64) -> serde_json::Value {
        instant_query_json(&self.agent, &self.url(), expr, t, &|| {
            format!("--- victoria-metrics log (tail) ---\n{}", self.log_tail(30))
        })
    }

    /// Instant query `expr` at Unix time `t` (seconds): one entry per series. Note that
    /// VictoriaMetrics leaves NaN results out (`0/0` is an empty answer, not `NaN`).
    pub fn query(&self, expr: &str, t: i64) -> Vec<Sample> {
        instant_samples(expr, &self.query_json(expr, t))
    }

    /// Every raw sample VictoriaMetrics holds for the series matching `selector`
    /// (`GET /api/v1/export`, all time): labels (`__name__` included) and `(ms, value)` in
    /// time order, series sorted by labels. What a local evaluator should read to see exactly
    /// the samples VictoriaMetrics stored (its storage rounds values to its decimal format and
    /// import truncates timestamps to milliseconds).
    pub fn export(&self, selector: &str) -> SeriesPoints {
        let url = format!("{}/api/v1/export", self.url());
        let body = match self
            .agent
            .get(&url)
            .query("match[]", selector)
            .query("start", "0")
            .call()
        {
            Ok(resp) => resp.into_string().expect("read export response"),
            Err(e) => panic!(
                "export {selector:?} failed: {e}\n--- victoria-metrics log (tail) ---\n{}",
                self.log_tail(30)
            ),
        };
        // A series may come in several lines (one per storage block range): merge them.
        let mut series: BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>> = BTreeMap::new();
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("export: bad JSON line ({e}): {line}"));
            let labels: BTreeMap<String, String> = v["metric"]
                .as_object()
                .expect("export line has metric")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            let values = v["values"].as_array().expect("export line has values");
            let times = v["timestamps"]
                .as_array()
                .expect("export line has timestamps");
            let points = series.entry(labels).or_default();
            for (t, x) in times.iter().zip(values) {
                let value = match x {
                    serde_json::Value::Number(n) => n.as_f64().expect("finite number"),
                    serde_json::Value::String(s) => {
                        super::prometheus::parse_prom_float(s).expect("export value")
                    }
                    other => panic!("export: bad value {other}"),
                };
                points.push((t.as_i64().expect("ms timestamp"), value));
            }
        }
        series
            .into_iter()
            .map(|(labels, mut points)| {
                points.sort_by_key(|p| p.0);
                points.dedup_by_key(|p| p.0);
                (labels, points)
            })
            .collect()
    }

    /// Range query `expr` over `[start, end]` at `step` (seconds), as `/api/v1/query_range`:
    /// per series its labels and `(t seconds, value)` points (NaN points are left out by
    /// VictoriaMetrics).
    pub fn query_range(&self, expr: &str, start: i64, end: i64, step: i64) -> SeriesPoints {
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
            Err(e) => panic!("query_range {expr:?} failed: {e}\n{}", self.log_tail(30)),
        };
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("query_range {expr:?}: bad JSON ({e}): {body}"));
        assert_eq!(v["status"], "success", "query_range {expr:?}: {body}");
        v["data"]["result"]
            .as_array()
            .expect("matrix result")
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
                let points = r["values"]
                    .as_array()
                    .expect("values")
                    .iter()
                    .map(|p| {
                        let t = p[0].as_f64().expect("time") as i64;
                        let x = super::prometheus::parse_prom_float(p[1].as_str().expect("value"))
                            .expect("value");
                        (t, x)
                    })
                    .collect();
                (labels, points)
            })
            .collect()
    }

    /// Like [`query`](Self::query) for an expression with at most one series: `None` when
    /// the answer is empty. Panics on more than one series.
    pub fn query_one(&self, expr: &str, t: i64) -> Option<f64> {
        at_most_one(expr, t, self.query(expr, t))
    }
}

/// One text-format sample line with its timestamp turned from seconds into milliseconds;
/// `None` for comments and blank lines. A line without a timestamp is kept as it is.
pub fn to_milliseconds(line: &str) -> Option<String> {
    let line = line.trim_end();
    if line.trim_start().is_empty() || line.trim_start().starts_with('#') {
        return None;
    }
    // The label set may hold spaces (in quoted values): split after its closing brace.
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let series_end = if line[name_end..].starts_with('{') {
        name_end
            + closing_brace(&line[name_end..])
                .unwrap_or_else(|| panic!("unterminated labels: {line}"))
            + 1
    } else {
        name_end
    };
    let (series, rest) = line.split_at(series_end);
    // Exemplars (` # {...} 1.0 123`) are not part of the sample.
    let rest = rest.split(" # ").next().unwrap_or_default();
    let mut fields = rest.split_whitespace();
    let value = fields.next().unwrap_or_else(|| panic!("no value: {line}"));
    Some(match fields.next() {
        None => format!("{series} {value}"),
        Some(ts) => {
            let seconds: f64 = ts
                .parse()
                .unwrap_or_else(|_| panic!("bad timestamp {ts:?}: {line}"));
            format!("{series} {value} {}", (seconds * 1000.0).round() as i64)
        }
    })
}

/// Offset of the `}` closing the label set that starts `s` (with `{`).
fn closing_brace(s: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        match (quoted, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => quoted = false,
            (false, _, '"') => quoted = true,
            (false, _, '}') => return Some(i),
            _ => {}
        }
    }
    None
}

fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + READY_DEADLINE;
    let url = format!("http://127.0.0.1:{port}/health");
    let probe = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(2))
        .build();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("victoria-metrics exited during startup ({status})"));
        }
        if let Ok(resp) = probe.get(&url).call()
            && resp.status() == 200
            && resp.into_string().is_ok_and(|b| b.trim() == "OK")
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "victoria-metrics not ready after {READY_DEADLINE:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_tail(path: &std::path::Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
