//! `burnrate run` against real servers: a fake application (tests/common/exporter.rs)
//! scraped every second by a real Prometheus, a real Alertmanager, and a scripted webhook
//! receiver. Each test owns its servers and ports, so the tests run in parallel.
//!
//! The spec (written by each test) uses windows of seconds so that decisions move within
//! seconds of a traffic change:
//! - error, objective 99%: `warn` at burn 2 (2% errors) and `circuit_break` at burn 10
//!   (10% errors), both over 20s with a 10s short window;
//! - latency, P99 <= 200ms: `scale` at burn 5 over 20s (5% of requests slower than 200ms).
//!
//! Windows under 1m draw a validation warning, which is expected here.
//!
//! What is checked (PRODUCT.md, "Daemon surface"): decisions escalate and recover with the
//! traffic; Alertmanager shows one `SLOBurnRate` alert while the decision is above `ok` and
//! none after; the webhook gets exactly one POST per decision change, with `previous`;
//! `/metrics` is a strict exposition (OpenMetrics when asked for, as Prometheus does; the
//! text format 0.0.4 otherwise) that agrees with `/api/v1/decisions`, that a real Prometheus
//! scrapes, and that passes `promtool check metrics`; a Prometheus outage gives `no_data`,
//! never an escalation, and the daemon recovers after it; an Alertmanager outage delays the
//! alert until it is back; failed webhook deliveries are retried and delivered once;
//! `--state-dir` keeps a `hold` across a restart; SIGTERM exits 0 within 5 s.
//!
//! With the default two test threads the file takes about 75 s.

mod common;

use common::alertmanager::{Alertmanager, has_labels, with_labels};
use common::daemon::Daemon;
use common::exporter::Exporter;
use common::prometheus::Prometheus;
use common::webhook::{Post, WebhookReceiver};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SERVICE: &str = "shop";
const SLO: &str = "api";
/// Requests per second of the fake application.
const RPS: f64 = 200.0;
/// Errors share that drives the error burn to 30 (above `circuit_break`'s 10).
const BAD: f64 = 0.30;
/// How long a decision may take to follow a traffic change: a couple of scrapes, the 20s
/// window filling up or draining, and an evaluation.
const FOLLOW: Duration = Duration::from_secs(45);

fn spec_text(extra: &str) -> String {
    format!(
        r#"apiVersion: burnrate/v1
service: {SERVICE}
labels: {{team: live, tier: web}}
slos:
  - name: {SLO}
    description: Live daemon test
    period: 1h
    error:
      objective: 99
      bad: app_errors_total{{job="app"}}
      total: app_requests_total{{job="app"}}
    latency:
      histogram: app_request_duration_seconds{{job="app"}}
      quantile: 0.99
      threshold: 200ms
    matrix:
      error:
        - {{decision: warn, burn: 2, long: 20s, short: 10s}}
        - {{decision: circuit_break, burn: 10, long: 20s, short: 10s}}
      latency:
        - {{decision: scale, burn: 5, long: 20s}}
{extra}"#
    )
}

/// The fake application, a Prometheus scraping it every second, and the spec.
struct Live {
    exporter: Exporter,
    prometheus: Prometheus,
    spec: PathBuf,
    dir: tempfile::TempDir,
}

impl Live {
    /// Starts the exporter at `RPS` with the given error and slow shares, and a Prometheus
    /// scraping it; returns once Prometheus holds a few samples (so that the daemon's first
    /// evaluation already has data). `extra` is appended to the SLO (e.g. `    hold: 2m\n`).
    fn start(error_ratio: f64, slow_ratio: f64, extra: &str) -> Live {
        let dir = tempfile::tempdir().expect("temp dir");
        let spec = dir.path().join("shop.yaml");
        std::fs::write(&spec, spec_text(extra)).unwrap();
        let exporter = Exporter::start();
        exporter.set(RPS, error_ratio, slow_ratio);
        let prometheus = Prometheus::start_scraping(&[exporter.target()], Duration::from_secs(1));
        let (seen, ok) = prometheus.wait_for_value(
            r#"count_over_time(app_requests_total{job="app"}[1m])"#,
            Duration::from_secs(30),
            |v| v.is_some_and(|n| n >= 3.0),
        );
        assert!(
            ok,
            "Prometheus did not scrape the exporter 3 times in 30 s (samples: {seen:?}, scrapes served: {})\n{}",
            exporter.scrapes(),
            prometheus.log_tail(30)
        );
        Live {
            exporter,
            prometheus,
            spec,
            dir,
        }
    }

    /// Arguments of `burnrate run` (without `--listen`, which the harness adds).
    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args = vec![
            self.spec.display().to_string(),
            "--prometheus".into(),
            self.prometheus.url(),
            "--interval".into(),
            "1s".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn daemon(&self, extra: &[&str]) -> Daemon {
        let args = self.args(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Daemon::start(&refs)
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Polls the SLO's latest evaluation until `accept` takes it; panics after `within` with the
/// last evaluation and the daemon's log.
fn wait_decision(
    d: &Daemon,
    within: Duration,
    what: &str,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    let mut last = None;
    let ok = d.wait_for(within, |d| {
        last = d.decision_of(SERVICE, SLO);
        last.as_ref().is_some_and(&accept)
    });
    assert!(
        ok,
        "waited {within:?} for {what}; last evaluation:\n{}\n--- daemon log (tail) ---\n{}",
        last.map(|v| serde_json::to_string_pretty(&v).unwrap())
            .unwrap_or_else(|| "(none)".into()),
        tail(&d.log(), 40)
    );
    eprintln!("[{SERVICE}/{SLO}] {what}: after {:.1?}", started.elapsed());
    last.unwrap()
}

fn decision(e: &Value) -> &str {
    e["decision"].as_str().unwrap_or("?")
}

fn burn(e: &Value, dimension: &str, window: &str) -> Option<f64> {
    e[dimension]["burn"][window].as_f64()
}

/// Records every evaluation of the SLO the daemon publishes (polling `/api/v1/decisions`
/// every 30 ms, far faster than the 1 s interval), so the test knows every decision change.
struct Observer {
    seen: Arc<Mutex<Vec<(Instant, Value)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Observer {
    fn start(d: &Daemon) -> Observer {
        let url = format!("{}/api/v1/decisions", d.url());
        let seen: Arc<Mutex<Vec<(Instant, Value)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(2))
                    .build();
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(list) = agent
                        .get(&url)
                        .call()
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.into_string().map_err(|e| e.to_string()))
                        .and_then(|b| {
                            serde_json::from_str::<Vec<Value>>(&b).map_err(|e| e.to_string())
                        })
                        && let Some(e) = list
                            .into_iter()
                            .find(|e| e["service"] == SERVICE && e["slo"] == SLO)
                    {
                        let mut seen = seen.lock().unwrap();
                        if seen
                            .last()
                            .is_none_or(|(_, last)| last["time"] != e["time"])
                        {
                            seen.push((Instant::now(), e));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(30));
                }
            })
        };
        Observer {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<(Instant, Value)> {
        self.seen.lock().unwrap().clone()
    }

    /// Evaluations seen so far.
    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Waits until `n` more evaluations than now have been seen.
    fn wait_evaluations(&self, n: usize, within: Duration) {
        let target = self.count() + n;
        let deadline = Instant::now() + within;
        while self.count() < target {
            assert!(
                Instant::now() < deadline,
                "fewer than {n} evaluations in {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) -> Vec<(Instant, Value)> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.seen()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// `(previous, decision, time)` of every decision change among consecutive evaluations.
fn changes(seen: &[(Instant, Value)]) -> Vec<(String, String, String)> {
    seen.windows(2)
        .filter(|w| w[0].1["decision"] != w[1].1["decision"])
        .map(|w| {
            (
                decision(&w[0].1).to_string(),
                decision(&w[1].1).to_string(),
                w[1].1["time"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// `(previous, decision, time)` of webhook bodies.
fn posted_changes(bodies: &[Value]) -> Vec<(String, String, String)> {
    bodies
        .iter()
        .map(|b| {
            (
                b["previous"]
                    .as_str()
                    .unwrap_or("<missing previous>")
                    .to_string(),
                decision(b).to_string(),
                b["time"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn sequence(seen: &[(Instant, Value)]) -> String {
    let mut out: Vec<String> = Vec::new();
    for (_, e) in seen {
        let d = decision(e).to_string();
        if out.last() != Some(&d) {
            out.push(d);
        }
    }
    out.join(" -> ")
}

fn slo_alerts(alerts: &[Value]) -> Vec<&Value> {
    with_labels(
        alerts,
        &[
            ("alertname", "SLOBurnRate"),
            ("service", SERVICE),
            ("slo", SLO),
        ],
    )
}

fn alert_summary(alerts: &[Value]) -> String {
    alerts
        .iter()
        .map(|a| format!("{} endsAt={}", a["labels"], a["endsAt"]))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------
// A strict parser of the exposition the daemon serves: OpenMetrics text 1.0.0 when the client
// asks for it (Prometheus does), the classic text format 0.0.4 otherwise.

/// Which exposition format a `/metrics` answer is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    OpenMetrics,
    Text004,
}

impl Format {
    fn of_content_type(content_type: &str) -> Option<Format> {
        let ct = content_type.to_ascii_lowercase();
        if ct.starts_with("application/openmetrics-text") {
            Some(Format::OpenMetrics)
        } else if ct.starts_with("text/plain") && ct.contains("version=0.0.4") {
            Some(Format::Text004)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct MetricSample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

const OPENMETRICS_TYPES: [&str; 8] = [
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
    "unknown",
];
const TEXT_TYPES: [&str; 5] = ["counter", "gauge", "histogram", "summary", "untyped"];

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ if s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

/// Parses `{a="x",b="y"}` at the start of `s`; returns the labels and the rest.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s.strip_prefix('{').ok_or("expected '{'")?;
    if let Some(r) = rest.strip_prefix('}') {
        return Ok((labels, r));
    }
    loop {
        let eq = rest.find('=').ok_or("label without '='")?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} repeated"));
        }
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        } else {
            return Err(format!("expected ',' or '}}' at {rest:?}"));
        }
    }
}

/// The family a sample belongs to, given the declared families and their types. In the
/// text format a counter's family carries the `_total` itself; in OpenMetrics it does not.
fn family_of<'a>(
    name: &'a str,
    types: &BTreeMap<String, String>,
    format: Format,
) -> Option<&'a str> {
    if types.get(name).is_some_and(|t| {
        format == Format::Text004
            || !matches!(
                t.as_str(),
                "counter" | "histogram" | "summary" | "info" | "gaugehistogram"
            )
    }) {
        return Some(name);
    }
    let openmetrics: &[(&str, &[&str])] = &[
        ("_total", &["counter"]),
        (
            "_created",
            &["counter", "histogram", "summary", "gaugehistogram"],
        ),
        ("_bucket", &["histogram", "gaugehistogram"]),
        ("_count", &["histogram", "summary"]),
        ("_sum", &["histogram", "summary"]),
        ("_gcount", &["gaugehistogram"]),
        ("_gsum", &["gaugehistogram"]),
        ("_info", &["info"]),
    ];
    let text: &[(&str, &[&str])] = &[
        ("_bucket", &["histogram"]),
        ("_count", &["histogram", "summary"]),
        ("_sum", &["histogram", "summary"]),
    ];
    let suffixes = match format {
        Format::OpenMetrics => openmetrics,
        Format::Text004 => text,
    };
    suffixes.iter().find_map(|(suffix, kinds)| {
        let base = name.strip_suffix(suffix)?;
        kinds.contains(&types.get(base)?.as_str()).then_some(base)
    })
}

/// Parses an exposition strictly: `# TYPE` and `# HELP` (and, in OpenMetrics, `# UNIT`) at
/// most once per family and before its samples, every sample in a declared family of the
/// right type and suffix, families not interleaved, no duplicate series, no blank lines or
/// other comments; OpenMetrics ends with `# EOF`, the text format has none; counters are
/// declared without `_total` in OpenMetrics and with it in the text format.
fn parse_exposition(text: &str, format: Format) -> Result<Vec<MetricSample>, String> {
    let body = match format {
        Format::OpenMetrics => text
            .strip_suffix("# EOF\n")
            .ok_or("OpenMetrics: the exposition does not end with \"# EOF\\n\"")?,
        Format::Text004 => {
            if text.lines().any(|l| l == "# EOF") {
                return Err("text format 0.0.4 with an OpenMetrics \"# EOF\" line".into());
            }
            if !text.is_empty() && !text.ends_with('\n') {
                return Err("the exposition does not end with a newline".into());
            }
            text
        }
    };
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: BTreeSet<String> = BTreeSet::new();
    let mut with_samples: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut series: BTreeSet<(String, BTreeMap<String, String>)> = BTreeSet::new();
    let mut samples = Vec::new();
    for (n, line) in body.lines().enumerate() {
        let at = |why: String| format!("line {}: {why}: {line:?}", n + 1);
        if line.is_empty() {
            return Err(at("blank line".into()));
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (kind, name, rest) = (parts.next().unwrap(), parts.next(), parts.next());
            let name = name.ok_or_else(|| at("metadata without a name".into()))?;
            if !valid_metric_name(name) {
                return Err(at(format!("bad metric name {name:?}")));
            }
            if with_samples.contains(name) {
                return Err(at(format!("metadata of {name} after its samples")));
            }
            match kind {
                "TYPE" => {
                    let t = rest.ok_or_else(|| at("TYPE without a type".into()))?;
                    let known: &[&str] = match format {
                        Format::OpenMetrics => &OPENMETRICS_TYPES,
                        Format::Text004 => &TEXT_TYPES,
                    };
                    if !known.contains(&t) {
                        return Err(at(format!("unknown type {t}")));
                    }
                    if types.insert(name.to_string(), t.to_string()).is_some() {
                        return Err(at(format!("second TYPE for {name}")));
                    }
                }
                "HELP" => {
                    if !helps.insert(name.to_string()) {
                        return Err(at(format!("second HELP for {name}")));
                    }
                }
                "UNIT" if format == Format::OpenMetrics => {}
                _ => return Err(at(format!("unknown metadata {kind}"))),
            }
            continue;
        }
        if line.starts_with('#') {
            return Err(at("comment line (none expected)".into()));
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(at)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let rest = rest
            .strip_prefix(' ')
            .ok_or_else(|| at("expected one space before the value".into()))?;
        // value [timestamp] [# exemplar]
        let rest = match format {
            Format::OpenMetrics => rest.split(" # ").next().unwrap(),
            Format::Text004 => rest,
        };
        let mut fields = rest.split(' ');
        let value_text = fields.next().unwrap();
        let value =
            parse_value(value_text).ok_or_else(|| at(format!("bad value {value_text:?}")))?;
        if let Some(ts) = fields.next() {
            parse_value(ts).ok_or_else(|| at(format!("bad timestamp {ts:?}")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        let family = family_of(name, &types, format)
            .ok_or_else(|| at(format!("sample {name} of no declared family")))?
            .to_string();
        if current.as_deref() != Some(family.as_str()) {
            if with_samples.contains(&family) {
                return Err(at(format!("family {family} interleaved with another")));
            }
            current = Some(family.clone());
        }
        with_samples.insert(family);
        if !series.insert((name.to_string(), labels.clone())) {
            return Err(at("duplicate series".into()));
        }
        samples.push(MetricSample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(samples)
}

/// Samples named `name` whose labels include every pair of `labels`.
fn select<'a>(
    samples: &'a [MetricSample],
    name: &str,
    labels: &[(&str, &str)],
) -> Vec<&'a MetricSample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

fn one(samples: &[MetricSample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found = select(samples, name, labels);
    assert!(
        found.len() <= 1,
        "{name}{labels:?}: more than one series: {found:?}"
    );
    found.first().map(|s| s.value)
}

/// Checks the exposition against one evaluation from `/api/v1/decisions`; returns why not.
fn metrics_agree(samples: &[MetricSample], eval: &Value) -> Result<(), String> {
    let base = [("service", SERVICE), ("slo", SLO)];
    // burnrate_decision: 1 for the current decision, 0 for every other one.
    let current = decision(eval);
    for d in ["ok", "warn", "scale", "circuit_break", "no_data"] {
        let labels = [base[0], base[1], ("decision", d)];
        let want = if d == current { 1.0 } else { 0.0 };
        match one(samples, "burnrate_decision", &labels) {
            Some(v) if v == want => {}
            other => {
                return Err(format!(
                    "burnrate_decision{{decision={d}}} is {other:?}, want {want} (decision {current})"
                ));
            }
        }
    }
    let decision_series = select(samples, "burnrate_decision", &base).len();
    if decision_series != 5 {
        return Err(format!(
            "{decision_series} burnrate_decision series, want 5"
        ));
    }
    for dim in ["error", "latency"] {
        let burns = eval[dim]["burn"]
            .as_object()
            .ok_or_else(|| format!("no {dim}.burn in {eval}"))?;
        let mut windows = BTreeSet::new();
        for (window, b) in burns {
            let labels = [
                base[0],
                base[1],
                ("dimension", dim),
                ("window", window.as_str()),
            ];
            let got = one(samples, "burnrate_burn_rate", &labels);
            if got != b.as_f64() {
                return Err(format!(
                    "burnrate_burn_rate{{dimension={dim},window={window}}} = {got:?}, API says {b}"
                ));
            }
            if b.is_number() {
                windows.insert(window.clone());
            }
        }
        let exported: BTreeSet<String> = select(
            samples,
            "burnrate_burn_rate",
            &[base[0], base[1], ("dimension", dim)],
        )
        .iter()
        .map(|s| s.labels["window"].clone())
        .collect();
        if exported != windows {
            return Err(format!(
                "{dim}: burn windows exported {exported:?}, API has numbers for {windows:?}"
            ));
        }
        let budget = one(
            samples,
            "burnrate_error_budget_remaining",
            &[base[0], base[1], ("dimension", dim)],
        );
        if budget != eval[dim]["budget_remaining"].as_f64() {
            return Err(format!(
                "burnrate_error_budget_remaining{{dimension={dim}}} = {budget:?}, API says {}",
                eval[dim]["budget_remaining"]
            ));
        }
    }
    // The label naming the quantile is the daemon's choice (it must not be `quantile`, which
    // is reserved for summaries); there is exactly one series per window.
    for (window, q) in eval["latency"]["quantile_seconds"]
        .as_object()
        .ok_or("no latency.quantile_seconds")?
    {
        let labels = [base[0], base[1], ("window", window.as_str())];
        let got = one(samples, "burnrate_quantile_seconds", &labels);
        if got != q.as_f64() {
            return Err(format!(
                "burnrate_quantile_seconds{{window={window}}} = {got:?}, API says {q}"
            ));
        }
    }
    Ok(())
}

fn promtool_check_metrics(text: &str) -> (bool, String) {
    let bin = std::env::var("PROMTOOL_BIN").unwrap_or_else(|_| "promtool".into());
    let mut child = Command::new(&bin)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

fn get_json(url: &str) -> Value {
    let body = ureq::get(url)
        .timeout(Duration::from_secs(10))
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .into_string()
        .expect("body");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: bad JSON ({e}): {body}"))
}

/// What Prometheus 2.42 sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// `GET /metrics` with the given `Accept` (none: ureq's default); the format the answer
/// declares and its body.
fn fetch_metrics(d: &Daemon, accept: Option<&str>) -> (Format, String) {
    let mut request = ureq::get(&format!("{}/metrics", d.url())).timeout(Duration::from_secs(5));
    if let Some(a) = accept {
        request = request.set("Accept", a);
    }
    let response = request
        .call()
        .unwrap_or_else(|e| panic!("GET /metrics: {e}\n{}", d.log()));
    let content_type = response
        .header("Content-Type")
        .unwrap_or_default()
        .to_string();
    let format = Format::of_content_type(&content_type)
        .unwrap_or_else(|| panic!("/metrics answered with Content-Type {content_type:?}"));
    (format, response.into_string().expect("metrics body"))
}

/// Strictly parsed `/metrics`, panicking with the text when it does not parse.
fn scrape(d: &Daemon, accept: Option<&str>) -> (Format, String, Vec<MetricSample>) {
    let (format, text) = fetch_metrics(d, accept);
    let samples = parse_exposition(&text, format)
        .unwrap_or_else(|e| panic!("/metrics is not a strict {format:?} exposition: {e}\n{text}"));
    (format, text, samples)
}

fn counter(d: &Daemon, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (_, _, samples) = scrape(d, None);
    select(&samples, name, labels).iter().map(|s| s.value).sum()
}

// ---------------------------------------------------------------------------------------

/// The whole story with healthy sinks: ok, errors → circuit_break with an alert and webhooks,
/// errors gone → ok with the alert resolved, slow requests → latency `scale`.
#[test]
fn escalates_alerts_notifies_and_recovers() {
    let live = Live::start(0.0, 0.0, "");
    let am = Alertmanager::start();
    let hook = WebhookReceiver::start();
    let mut d = live.daemon(&["--alertmanager", &am.url(), "--webhook", &hook.url()]);
    let mut observer = Observer::start(&d);

    let first = wait_decision(&d, Duration::from_secs(20), "ok on healthy traffic", |e| {
        decision(e) == "ok"
    });
    assert_eq!(first["labels"]["team"], "live");
    for (dim, window) in [("error", "20s"), ("error", "10s"), ("latency", "20s")] {
        assert_eq!(
            burn(&first, dim, window),
            Some(0.0),
            "no errors and no slow requests burn nothing ({dim} {window}); the error counter does not exist yet, which means 0 bad events:\n{first:#}"
        );
    }
    assert!(
        am.alerts()
            .iter()
            .all(|a| a["labels"]["alertname"] != "SLOBurnRate"),
        "no alert while ok: {:#?}",
        am.alerts()
    );

    // 30% errors: burn 30 on both windows once they fill up.
    live.exporter.set(RPS, BAD, 0.0);
    let broken = wait_decision(&d, FOLLOW, "circuit_break at 30% errors", |e| {
        decision(e) == "circuit_break"
    });
    assert_eq!(broken["error"]["decision"], "circuit_break", "{broken:#}");
    assert!(
        broken["error"]["fired"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["decision"] == "circuit_break" && r["long"] == "20s" && r["short"] == "10s"),
        "the circuit_break rule is listed as fired:\n{broken:#}"
    );
    assert!(
        burn(&broken, "error", "20s").unwrap() >= 10.0
            && burn(&broken, "error", "10s").unwrap() >= 10.0
    );

    let want = [
        ("alertname", "SLOBurnRate"),
        ("service", SERVICE),
        ("slo", SLO),
        ("decision", "circuit_break"),
        ("dimension", "error"),
        ("team", "live"),
        ("tier", "web"),
    ];
    let (alerts, ok) = am.wait_for_alerts(Duration::from_secs(15), |a| {
        let mine = slo_alerts(a);
        mine.len() == 1 && has_labels(mine[0], &want)
    });
    assert!(
        ok,
        "Alertmanager should show exactly one SLOBurnRate alert for {SERVICE}/{SLO}, with labels {want:?}; active alerts:\n{}\n--- daemon log ---\n{}",
        alert_summary(&alerts),
        tail(&d.log(), 30)
    );
    let alert = slo_alerts(&alerts)[0].clone();
    let annotations = alert["annotations"].as_object().expect("annotations");
    assert!(
        annotations.iter().any(|(k, v)| k.contains("burn")
            && v.as_str()
                .is_some_and(|v| v.contains("20s") && v.contains("10s"))),
        "the alert's annotations carry the burn rates per window: {annotations:#?}"
    );
    assert_eq!(alert["status"]["state"], "active", "{alert:#}");
    // Re-sent every cycle with a rolling endsAt in the future.
    let ends_at = |a: &Value| {
        chrono::DateTime::parse_from_rfc3339(a["endsAt"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("endsAt of {a}: {e}"))
    };
    let first_end = ends_at(&alert);
    assert!(
        first_end > chrono::Utc::now(),
        "a firing alert ends in the future: {alert:#}"
    );
    let (alerts, ok) = am.wait_for_alerts(Duration::from_secs(10), |a| {
        slo_alerts(a)
            .first()
            .is_some_and(|a| ends_at(a) > first_end)
    });
    assert!(
        ok,
        "the alert is re-sent with a later endsAt:\n{}",
        alert_summary(&alerts)
    );

    // Errors gone: the windows drain and the decision returns to ok; the alert resolves.
    live.exporter.set(RPS, 0.0, 0.0);
    wait_decision(&d, FOLLOW, "ok again after the errors stop", |e| {
        decision(e) == "ok"
    });
    let (alerts, ok) = am.wait_for_alerts(Duration::from_secs(15), |a| slo_alerts(a).is_empty());
    assert!(
        ok,
        "the alert should resolve (leave the active alerts) once the decision is ok:\n{}",
        alert_summary(&alerts)
    );
    let (posts, ok) = hook.wait_for(Duration::from_secs(10), |p| {
        p.last().is_some_and(|p| decision(&p.body) == "ok")
    });
    assert!(
        ok,
        "a webhook POST for the return to ok: {:#?}",
        posted_changes(&bodies(&posts))
    );

    // Slow requests: the latency dimension scales.
    live.exporter.set(RPS, 0.0, 0.5);
    let slow = wait_decision(&d, FOLLOW, "latency scale at 50% slow requests", |e| {
        decision(e) == "scale"
    });
    assert_eq!(slow["latency"]["decision"], "scale", "{slow:#}");
    assert_eq!(slow["error"]["decision"], "ok", "{slow:#}");
    assert!(
        slow["latency"]["quantile_seconds"]["20s"]
            .as_f64()
            .is_some_and(|q| q > 0.2),
        "P99 above the 200ms threshold:\n{slow:#}"
    );
    let want = [
        ("decision", "scale"),
        ("dimension", "latency"),
        ("team", "live"),
    ];
    let (alerts, ok) = am.wait_for_alerts(Duration::from_secs(15), |a| {
        let mine = slo_alerts(a);
        mine.len() == 1 && has_labels(mine[0], &want)
    });
    assert!(ok, "one scale/latency alert:\n{}", alert_summary(&alerts));
    let (posts, ok) = hook.wait_for(Duration::from_secs(10), |p| {
        p.last().is_some_and(|p| decision(&p.body) == "scale")
    });
    assert!(
        ok,
        "a webhook POST for scale: {:#?}",
        posted_changes(&bodies(&posts))
    );

    // A few more cycles: nothing more may be posted while nothing changes.
    observer.wait_evaluations(3, Duration::from_secs(15));
    let seen = observer.stop();
    let posts = hook.posts();
    for p in &posts {
        assert_eq!(p.status, 200);
        assert!(
            p.content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("application/json")),
            "webhook Content-Type: {:?}",
            p.content_type
        );
        for field in [
            "time", "service", "slo", "labels", "decision", "previous", "error", "latency",
        ] {
            assert!(
                p.body.get(field).is_some(),
                "webhook body lacks {field:?}: {}",
                p.raw
            );
        }
    }
    let observed = changes(&seen);
    let posted = posted_changes(&bodies(&posts));
    eprintln!("decisions seen: {}", sequence(&seen));
    assert_eq!(
        posted,
        observed,
        "one webhook POST per decision change, in order, no duplicates (decisions seen: {})",
        sequence(&seen)
    );
    let path: Vec<&str> = observed.iter().map(|(_, to, _)| to.as_str()).collect();
    let cb = path
        .iter()
        .position(|d| *d == "circuit_break")
        .expect("circuit_break among the changes");
    let back = path[cb..]
        .iter()
        .position(|d| *d == "ok")
        .expect("ok after circuit_break");
    assert!(
        path[cb + back..].contains(&"scale"),
        "scale after ok: {path:?}"
    );

    let (status, took) = d.terminate();
    assert!(
        status.success(),
        "exit status after SIGTERM: {status}\n{}",
        d.log()
    );
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
}

fn bodies(posts: &[Post]) -> Vec<Value> {
    posts.iter().map(|p| p.body.clone()).collect()
}

/// `/metrics` parses strictly and agrees with `/api/v1/decisions`.
#[test]
fn metrics_agree_with_decisions() {
    // 5% errors (burn 5: warn) and 50% slow requests (latency burn 50: scale).
    let live = Live::start(0.05, 0.5, "");
    let d = live.daemon(&[]);
    let e = wait_decision(&d, FOLLOW, "scale (latency) with warn (error)", |e| {
        decision(e) == "scale" && e["error"]["decision"] == "warn"
    });
    let error_burn = burn(&e, "error", "20s").unwrap();
    let latency_burn = burn(&e, "latency", "20s").unwrap();
    assert!(
        (3.0..7.0).contains(&error_burn),
        "error burn ~5 at 5% errors: {e:#}"
    );
    assert!(
        (40.0..60.0).contains(&latency_burn),
        "latency burn ~50 at 50% slow: {e:#}"
    );

    // Both formats: OpenMetrics as Prometheus asks for it, and whatever a plain client gets.
    let mut formats = Vec::new();
    let mut last = None;
    for accept in [Some(PROMETHEUS_ACCEPT), None] {
        // Find a moment where the evaluation did not change while /metrics was read: the
        // daemon updates both from one evaluation.
        let mut last_mismatch = String::new();
        let mut agreed = None;
        for _ in 0..50 {
            let before = d.decision_of(SERVICE, SLO).unwrap();
            let (format, text, samples) = scrape(&d, accept);
            let after = d.decision_of(SERVICE, SLO).unwrap();
            if before["time"] != after["time"] {
                continue;
            }
            match metrics_agree(&samples, &after) {
                Ok(()) => {
                    agreed = Some((format, text, samples));
                    break;
                }
                Err(why) => last_mismatch = why,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let Some((format, text, samples)) = agreed else {
            panic!(
                "/metrics (Accept: {accept:?}) never agreed with /api/v1/decisions; last mismatch: {last_mismatch}"
            );
        };
        formats.push(format);
        last = Some((text, samples));
    }
    eprintln!(
        "/metrics formats: with Prometheus's Accept {:?}, without {:?}",
        formats[0], formats[1]
    );
    assert_eq!(
        formats[0],
        Format::OpenMetrics,
        "Prometheus asks for OpenMetrics"
    );
    let (text, samples) = last.unwrap();
    let mine = select(
        &samples,
        "burnrate_decision",
        &[("service", SERVICE), ("slo", SLO)],
    );
    eprintln!(
        "burnrate_decision: {:?}",
        mine.iter()
            .map(|s| (s.labels["decision"].as_str(), s.value))
            .collect::<Vec<_>>()
    );

    // Daemon-level metrics from the contract.
    assert!(
        one(
            &samples,
            "burnrate_evaluations_total",
            &[("service", SERVICE), ("slo", SLO), ("result", "ok")]
        )
        .is_some_and(|v| v >= 1.0),
        "burnrate_evaluations_total{{result=\"ok\"}}:\n{text}"
    );
    let count: f64 = select(
        &samples,
        "burnrate_backend_request_duration_seconds_count",
        &[],
    )
    .iter()
    .map(|s| s.value)
    .sum();
    let inf: f64 = select(
        &samples,
        "burnrate_backend_request_duration_seconds_bucket",
        &[("le", "+Inf")],
    )
    .iter()
    .map(|s| s.value)
    .sum();
    assert!(
        count >= 1.0 && count == inf,
        "backend request histogram: count {count}, +Inf bucket {inf}\n{text}"
    );
    assert!(
        !select(
            &samples,
            "burnrate_backend_request_duration_seconds_sum",
            &[]
        )
        .is_empty(),
        "histogram _sum"
    );
    assert_eq!(
        one(&samples, "burnrate_slos", &[]),
        Some(1.0),
        "burnrate_slos:\n{text}"
    );
}

/// What a real Prometheus makes of the daemon's `/metrics` (it negotiates OpenMetrics), and
/// what `promtool check metrics` (the text-format linter) says about it.
#[test]
fn metrics_are_scraped_by_prometheus_and_pass_promtool() {
    let live = Live::start(0.05, 0.5, "");
    let d = live.daemon(&[]);
    wait_decision(&d, FOLLOW, "scale", |e| decision(e) == "scale");

    // A second Prometheus scraping the daemon itself, as users do for dashboards and KEDA.
    let target = d.url().trim_start_matches("http://").to_string();
    let scraper = Prometheus::start_scraping(&[target], Duration::from_secs(1));
    let expr = format!(r#"burnrate_decision{{service="{SERVICE}",slo="{SLO}",decision="scale"}}"#);
    let (v, ok) = scraper.wait_for_value(&expr, Duration::from_secs(20), |v| v == Some(1.0));
    let targets = get_json(&format!("{}/api/v1/targets", scraper.url()));
    let health = &targets["data"]["activeTargets"][0];
    assert!(
        ok,
        "Prometheus scraping the daemon should see {expr} = 1, got {v:?}; target: {health:#}"
    );
    assert_eq!(health["health"], "up", "{health:#}");
    assert_eq!(health["lastError"], "", "{health:#}");
    let burns = scraper.query(
        &format!(r#"burnrate_burn_rate{{service="{SERVICE}",slo="{SLO}"}}"#),
        Prometheus::now(),
    );
    assert_eq!(
        burns.len(),
        3,
        "error 10s/20s and latency 20s burn rates: {burns:?}"
    );
    let metadata = get_json(&format!("{}/api/v1/metadata", scraper.url()));
    assert_eq!(
        metadata["data"]["burnrate_burn_rate"][0]["type"], "gauge",
        "{metadata:#}"
    );
    assert_eq!(
        metadata["data"]["burnrate_backend_request_duration_seconds"][0]["type"], "histogram",
        "{metadata:#}"
    );

    // promtool reads the text format: give it what a plain client gets.
    let (format, text) = fetch_metrics(&d, None);
    eprintln!("/metrics without Accept: {format:?}");
    let (ok, said) = promtool_check_metrics(&text);
    eprintln!(
        "promtool check metrics: {}",
        if said.trim().is_empty() {
            "(no output)"
        } else {
            said.trim()
        }
    );
    assert!(
        ok,
        "promtool check metrics failed on the daemon's /metrics:\n{said}\n--- exposition ---\n{text}"
    );
}

/// Prometheus killed mid-run: `no_data`, never an escalation, the daemon keeps running; after
/// the restart the decisions follow the data again.
#[test]
fn prometheus_outage_gives_no_data_then_recovers() {
    let mut live = Live::start(0.0, 0.0, "");
    let d = live.daemon(&[]);
    let mut observer = Observer::start(&d);
    wait_decision(&d, Duration::from_secs(20), "ok on healthy traffic", |e| {
        decision(e) == "ok"
    });

    live.prometheus.kill();
    let down = Instant::now();
    // Errors while Prometheus is down: nothing can see them, nothing may escalate.
    live.exporter.set(RPS, BAD, 0.0);
    let blind = wait_decision(
        &d,
        Duration::from_secs(15),
        "no_data while Prometheus is down",
        |e| decision(e) == "no_data",
    );
    for dim in ["error", "latency"] {
        assert_eq!(blind[dim]["decision"], "no_data", "{blind:#}");
        let burns = blind[dim]["burn"].as_object().unwrap();
        assert!(
            burns.values().all(Value::is_null),
            "burns are null, never 0, without data:\n{blind:#}"
        );
    }
    assert!(
        blind["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "the evaluation says why it has no data:\n{blind:#}"
    );
    observer.wait_evaluations(4, Duration::from_secs(20));
    let failed = counter(
        &d,
        "burnrate_evaluations_total",
        &[("service", SERVICE), ("slo", SLO), ("result", "failed")],
    );
    assert!(
        failed >= 3.0,
        "burnrate_evaluations_total{{result=\"failed\"}} = {failed}"
    );
    // Missing numbers are absent from /metrics, not 0 (which would look healthy).
    let (_, text, samples) = scrape(&d, None);
    let mine = [("service", SERVICE), ("slo", SLO)];
    assert_eq!(
        one(
            &samples,
            "burnrate_decision",
            &[mine[0], mine[1], ("decision", "no_data")]
        ),
        Some(1.0),
        "{text}"
    );
    for gauge in [
        "burnrate_burn_rate",
        "burnrate_error_budget_remaining",
        "burnrate_quantile_seconds",
    ] {
        assert!(
            select(&samples, gauge, &mine).is_empty(),
            "{gauge} without data should be absent:\n{text}"
        );
    }
    let during: Vec<(Instant, Value)> = observer
        .seen()
        .into_iter()
        .filter(|(t, _)| *t >= down)
        .collect();
    assert!(
        during
            .iter()
            .all(|(_, e)| matches!(decision(e), "ok" | "no_data")),
        "a decision escalated while Prometheus was down: {}",
        sequence(&during)
    );
    assert!(
        ureq::get(&format!("{}/healthz", d.url())).call().is_ok(),
        "the daemon stays up during the outage:\n{}",
        d.log()
    );

    live.prometheus.restart();
    let up = Instant::now();
    // The errors keep coming: once Prometheus scrapes again, the decision follows them.
    let back = wait_decision(
        &d,
        FOLLOW,
        "a real decision after Prometheus is back",
        |e| decision(e) != "no_data" && burn(e, "error", "10s").is_some(),
    );
    eprintln!("first decision after restart: {}", decision(&back));
    wait_decision(&d, FOLLOW, "circuit_break from the live errors", |e| {
        decision(e) == "circuit_break"
    });
    let seen = observer.stop();
    let outage: Vec<(Instant, Value)> = seen
        .iter()
        .filter(|(t, _)| *t >= down && *t < up)
        .cloned()
        .collect();
    assert!(
        outage
            .iter()
            .all(|(_, e)| matches!(decision(e), "ok" | "no_data")),
        "a decision escalated while Prometheus was down: {}",
        sequence(&outage)
    );
    eprintln!("decisions seen: {}", sequence(&seen));
}

/// Alertmanager down while the decision escalates: the alert arrives once it is back, because
/// it is re-sent every cycle.
#[test]
fn alertmanager_outage_delays_the_alert_until_it_is_back() {
    let live = Live::start(0.0, 0.0, "");
    let mut am = Alertmanager::start();
    let d = live.daemon(&["--alertmanager", &am.url(), "--sink-timeout", "2s"]);
    wait_decision(&d, Duration::from_secs(20), "ok on healthy traffic", |e| {
        decision(e) == "ok"
    });

    am.kill();
    live.exporter.set(RPS, BAD, 0.0);
    wait_decision(&d, FOLLOW, "circuit_break at 30% errors", |e| {
        decision(e) == "circuit_break"
    });
    // Let a few deliveries fail.
    let failed_deliveries = || {
        counter(
            &d,
            "burnrate_sink_deliveries_total",
            &[("sink", "alertmanager"), ("result", "failed")],
        )
    };
    let ok = d.wait_for(Duration::from_secs(20), |_| failed_deliveries() >= 3.0);
    assert!(
        ok,
        "failed Alertmanager deliveries are counted ({}):\n{}",
        failed_deliveries(),
        tail(&d.log(), 30)
    );
    assert!(
        d.log().contains("alertmanager"),
        "the failure is logged:\n{}",
        d.log()
    );

    am.restart();
    let want = [
        ("alertname", "SLOBurnRate"),
        ("service", SERVICE),
        ("slo", SLO),
        ("decision", "circuit_break"),
        ("dimension", "error"),
        ("team", "live"),
    ];
    let (alerts, ok) = am.wait_for_alerts(Duration::from_secs(15), |a| {
        let mine = slo_alerts(a);
        mine.len() == 1 && has_labels(mine[0], &want)
    });
    assert!(
        ok,
        "after its restart Alertmanager gets the circuit_break alert (and nothing else for the SLO):\n{}\n--- daemon log ---\n{}",
        alert_summary(&alerts),
        tail(&d.log(), 30)
    );
    let delivered = counter(
        &d,
        "burnrate_sink_deliveries_total",
        &[("sink", "alertmanager"), ("result", "delivered")],
    );
    assert!(delivered >= 1.0, "delivered alerts are counted");
}

/// A webhook answering 500 twice, then 200: the change is retried with backoff and delivered
/// exactly once.
#[test]
fn webhook_failures_are_retried_and_delivered_once() {
    let live = Live::start(0.0, 0.0, "");
    let hook = WebhookReceiver::failing_first(2);
    let d = live.daemon(&["--webhook", &hook.url(), "--webhook-backoff", "200ms"]);
    let mut observer = Observer::start(&d);
    wait_decision(&d, Duration::from_secs(20), "ok on healthy traffic", |e| {
        decision(e) == "ok"
    });

    live.exporter.set(RPS, BAD, 0.0);
    wait_decision(&d, FOLLOW, "circuit_break at 30% errors", |e| {
        decision(e) == "circuit_break"
    });
    let (posts, ok) = hook.wait_for(Duration::from_secs(15), |p| {
        p.iter()
            .rev()
            .find(|p| p.accepted())
            .is_some_and(|p| decision(&p.body) == "circuit_break")
    });
    assert!(
        ok,
        "the escalation is delivered despite two 500s: {posts:#?}\n{}",
        tail(&d.log(), 30)
    );
    // More cycles: a duplicate would show up now.
    observer.wait_evaluations(4, Duration::from_secs(20));
    let seen = observer.stop();
    let posts = hook.posts();

    assert!(posts.len() >= 3, "{posts:#?}");
    assert_eq!(posts[0].status, 500);
    assert_eq!(posts[1].status, 500);
    assert!(posts[2..].iter().all(Post::accepted));
    assert!(
        posts[0].raw == posts[1].raw && posts[1].raw == posts[2].raw,
        "the retries carry the same payload:\n{}\n{}\n{}",
        posts[0].raw,
        posts[1].raw,
        posts[2].raw
    );
    let gap1 = posts[1].at - posts[0].at;
    let gap2 = posts[2].at - posts[1].at;
    assert!(
        gap1 >= Duration::from_millis(180) && gap2 >= Duration::from_millis(380),
        "retries back off from 200ms, doubling: gaps {gap1:?}, {gap2:?}"
    );
    let delivered: Vec<Value> = posts
        .iter()
        .filter(|p| p.accepted())
        .map(|p| p.body.clone())
        .collect();
    let posted = posted_changes(&delivered);
    let observed = changes(&seen);
    assert_eq!(
        posted,
        observed,
        "each change delivered exactly once, in order (decisions seen: {})",
        sequence(&seen)
    );
    let metric = |result: &str| {
        counter(
            &d,
            "burnrate_sink_deliveries_total",
            &[("sink", "webhook"), ("result", result)],
        )
    };
    assert_eq!(metric("failed"), 2.0, "failed webhook attempts are counted");
    assert_eq!(
        metric("delivered"),
        delivered.len() as f64,
        "delivered webhooks are counted"
    );
    assert_eq!(
        counter(&d, "burnrate_webhook_dropped_total", &[]),
        0.0,
        "nothing dropped"
    );
}

/// `--state-dir`: a `hold` outlives a restart. Driven to circuit_break, stopped, the errors
/// stop and the windows clean up; the restarted daemon still says circuit_break, held.
#[test]
fn state_dir_keeps_a_hold_across_restarts() {
    let live = Live::start(0.0, 0.0, "    hold: 2m\n");
    let hook = WebhookReceiver::start();
    let state = live.dir().join("state");
    let state_arg = state.display().to_string();
    let args = ["--state-dir", &state_arg, "--webhook", &hook.url()];
    let mut d = live.daemon(&args);
    wait_decision(&d, Duration::from_secs(20), "ok on healthy traffic", |e| {
        decision(e) == "ok"
    });
    live.exporter.set(RPS, BAD, 0.0);
    wait_decision(&d, FOLLOW, "circuit_break at 30% errors", |e| {
        decision(e) == "circuit_break"
    });
    let (_, ok) = hook.wait_for(Duration::from_secs(10), |p| {
        p.last()
            .is_some_and(|p| decision(&p.body) == "circuit_break")
    });
    assert!(ok, "webhook for circuit_break: {:#?}", hook.posts());

    let (status, took) = d.terminate();
    assert!(
        status.success(),
        "exit status after SIGTERM: {status}\n{}",
        d.log()
    );
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    let saved: Value = serde_json::from_slice(
        &std::fs::read(state.join("state.json")).expect("state.json written"),
    )
    .expect("state JSON");
    assert_eq!(
        saved["slos"][format!("{SERVICE}/{SLO}")]["last_decision"],
        "circuit_break",
        "the last decision is saved: {saved:#}"
    );
    drop(d);
    let posts_before = hook.posts().len();

    live.exporter.set(RPS, 0.0, 0.0);
    let (v, ok) = live.prometheus.wait_for_value(
        r#"sum(rate(app_errors_total{job="app"}[20s]))"#,
        Duration::from_secs(60),
        |v| v == Some(0.0),
    );
    assert!(ok, "the 20s window should be free of errors by now: {v:?}");

    let d = live.daemon(&args);
    let mut observer = Observer::start(&d);
    let e = wait_decision(
        &d,
        Duration::from_secs(15),
        "first evaluation after the restart",
        |_| true,
    );
    assert!(
        burn(&e, "error", "20s").is_some_and(|b| b < 2.0)
            && burn(&e, "error", "10s").is_some_and(|b| b < 2.0),
        "no rule fires any more:\n{e:#}"
    );
    assert_eq!(
        decision(&e),
        "circuit_break",
        "the hold keeps circuit_break across the restart:\n{e:#}\n{}",
        d.log()
    );
    assert!(e["error"]["fired"].as_array().unwrap().is_empty(), "{e:#}");
    let held = e["error"]["held"].as_array().cloned().unwrap_or_default();
    assert!(
        held.iter()
            .any(|r| r["decision"] == "circuit_break" && r["long"] == "20s"),
        "`held` lists the circuit_break rule:\n{e:#}"
    );
    // The restarted daemon knows the decision did not change: no webhook for it.
    observer.wait_evaluations(3, Duration::from_secs(15));
    let seen = observer.stop();
    assert!(
        seen.iter().all(|(_, e)| decision(e) == "circuit_break"),
        "held all along: {}",
        sequence(&seen)
    );
    assert_eq!(
        hook.posts().len(),
        posts_before,
        "no webhook after the restart, the decision did not change: {:#?}",
        posted_changes(&bodies(&hook.posts()[posts_before..]))
    );
}
