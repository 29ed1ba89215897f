//! `burnrate dashboard`: every panel query of both sources evaluates without error against a
//! real Prometheus 2.42 and returns series for the SLOs.
//!
//! - `--source daemon`: a Prometheus scrapes two fake applications, `burnrate run` evaluates
//!   them (one route failing from the start, so a dimension with `breakdown` burns and has
//!   contributors), and a second Prometheus scrapes the daemon's `/metrics`, as a Grafana
//!   data source would.
//! - `--source rules`: the demo history is backfilled, the recording rules of
//!   `burnrate rules` are backfilled over the incident with `promtool tsdb
//!   create-blocks-from rules` (as `tests/rules_match_prometheus.rs` does), and a Prometheus
//!   serves both, as one whose ruler ran the rules would.
//!
//! Why it exists: a dashboard that imports fine but whose panels say "no data" or "parse
//! error" is worse than none. Each query is sent as Grafana sends it, a range query over the
//! dashboard's time range with its variables substituted, and must answer with series; the
//! overview's must cover every SLO, a row's panels their own SLO.

mod common;

use common::burnrate;
use common::daemon::Daemon;
use common::exporter::Exporter;
use common::prometheus::{Prometheus, backfill_demo, kill_with_parent};
use common::route_exporter::RouteExporter;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SHOP: &str = r#"apiVersion: burnrate/v1
service: shop
slos:
  - name: requests
    period: 30d
    group_by: [route]
    error:
      objective: 99
      bad: request_failures_total{job="app"}
      total: requests_total{job="app"}
      breakdown: [error_class]
    matrix:
      error:
        - {decision: warn, burn: 2, long: 1m, short: 15s}
        - {decision: circuit_break, burn: 10, long: 1m, short: 15s}
"#;

const API: &str = r#"apiVersion: burnrate/v1
service: api
slos:
  - name: latency
    period: 1h
    error:
      objective: 99
      bad: app_errors_total{job="app"}
      total: app_requests_total{job="app"}
    latency:
      histogram: app_request_duration_seconds{job="app"}
      quantile: 0.99
      threshold: 200ms
    matrix:
      error:
        - {decision: warn, burn: 2, long: 20s, short: 10s}
      latency:
        - {decision: scale, burn: 5, long: 20s}
"#;

/// The demo's metrics grouped by shard, with a breakdown: groups in every rules query.
const SHARDS: &str = r#"apiVersion: burnrate/v1
service: go-map-shards
slos:
  - name: by-shard
    period: 30d
    group_by: [key_hash]
    error:
      objective: 99.9
      bad: go_map_update_failure_total
      total: go_map_update_total
      breakdown: [error_class]
    matrix:
      error:
        - {decision: circuit_break, burn: 14.4, long: 1h, short: 5m}
        - {decision: warn, burn: 1, long: 6h, short: 30m}
"#;

const BUCKETS: &str =
    "--buckets=go_map_update_duration_seconds=0.005,0.01,0.025,0.05,0.1,0.2,0.4,0.8,1.6";

/// `burnrate dashboard ARGS`, parsed.
fn dashboard(args: &[&str]) -> Value {
    let mut all = vec!["dashboard"];
    all.extend_from_slice(args);
    let out = burnrate(&all);
    assert!(
        out.status.success(),
        "burnrate {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the dashboard is JSON")
}

/// One panel query: the panel's title, the row it sits under, and the expression.
struct Query {
    row: String,
    title: String,
    expr: String,
}

/// Every target of every panel, in order, with Grafana's variables substituted as Grafana
/// would for a range query at `step`.
fn queries(d: &Value, step: &str) -> Vec<Query> {
    assert_eq!(d["schemaVersion"], 39, "the current dashboard schema");
    let vars = d["templating"]["list"].as_array().unwrap();
    assert!(
        vars.iter()
            .any(|v| v["name"] == "datasource" && v["type"] == "datasource"),
        "a ${{datasource}} variable: {vars:?}"
    );
    let mut row = String::new();
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        if p["type"] == "row" {
            row = p["title"].as_str().unwrap().to_string();
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        for t in p["targets"].as_array().unwrap() {
            assert_eq!(t["datasource"]["uid"], "${datasource}");
            let expr = t["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "1m")
                .replace("${__rate_interval}", "1m")
                .replace("$__interval", step)
                .replace("${__interval}", step)
                .replace("$__range", "1h");
            assert!(!expr.contains('$'), "an unsubstituted variable: {expr}");
            out.push(Query {
                row: row.clone(),
                title: p["title"].as_str().unwrap().to_string(),
                expr,
            });
        }
    }
    out
}

/// A range query as Grafana sends it; the series' label sets, or Prometheus's error.
fn range(
    prom: &Prometheus,
    expr: &str,
    start: i64,
    end: i64,
    step: i64,
) -> Result<Vec<Value>, String> {
    let resp = ureq::get(&format!("{}/api/v1/query_range", prom.url()))
        .timeout(Duration::from_secs(60))
        .query("query", expr)
        .query("start", &start.to_string())
        .query("end", &end.to_string())
        .query("step", &step.to_string())
        .call();
    let body = match resp {
        Ok(r) => r.into_string().unwrap(),
        Err(ureq::Error::Status(code, r)) => {
            return Err(format!(
                "HTTP {code}: {}",
                r.into_string().unwrap_or_default()
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if v["status"] != "success" {
        return Err(body);
    }
    Ok(v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metric"].clone())
        .collect())
}

/// Evaluates every query over `[start, end]`: none may fail or come back empty; a row's
/// panels must show their SLO, the overview every SLO of `slos` (service, slo).
fn check_all(
    prom: &Prometheus,
    queries: &[Query],
    slos: &[(&str, &str)],
    (start, end, step): (i64, i64, i64),
) -> usize {
    let mut problems = Vec::new();
    for q in queries {
        match range(prom, &q.expr, start, end, step) {
            Err(e) => problems.push(format!("[{}] {}: fails: {e}\n  {}", q.row, q.title, q.expr)),
            Ok(series) if series.is_empty() => {
                problems.push(format!("[{}] {}: no series\n  {}", q.row, q.title, q.expr))
            }
            Ok(series) => {
                let shown: BTreeSet<(String, String)> = series
                    .iter()
                    .filter_map(|m| {
                        Some((
                            m["service"].as_str()?.to_string(),
                            m["slo"].as_str()?.to_string(),
                        ))
                    })
                    .collect();
                if q.row == "Overview" {
                    for (service, slo) in slos {
                        if !shown.contains(&(service.to_string(), slo.to_string())) {
                            problems.push(format!(
                                "[Overview] {}: no series of {service}/{slo} (got {shown:?})\n  {}",
                                q.title, q.expr
                            ));
                        }
                    }
                } else if !q.title.contains("contributors") || !shown.is_empty() {
                    // Contributors of the rules source are the raw series' label sets.
                    let own = slos
                        .iter()
                        .find(|(service, slo)| q.row == format!("{service} / {slo}"))
                        .unwrap_or_else(|| panic!("row {:?} is an SLO", q.row));
                    if shown.iter().any(|s| (s.0.as_str(), s.1.as_str()) != *own)
                        || shown.is_empty()
                    {
                        problems.push(format!(
                            "[{}] {}: shows {shown:?}, not only its SLO\n  {}",
                            q.row, q.title, q.expr
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} panel queries do not answer as they should:\n{}",
        problems.len(),
        queries.len(),
        problems.join("\n")
    );
    queries.len()
}

fn now() -> i64 {
    Prometheus::now()
}

#[test]
fn daemon_dashboard_queries_answer_from_the_daemons_metrics() {
    let started = Instant::now();
    let routes = RouteExporter::start(&["/pay", "/browse"], &["timeout", "db"]);
    routes.set("/pay", 100.0, &[("timeout", 0.3), ("db", 0.1)]);
    routes.set("/browse", 100.0, &[]);
    let app = Exporter::start();
    app.set(200.0, 0.01, 0.02);
    let backend =
        Prometheus::start_scraping(&[routes.target(), app.target()], Duration::from_secs(1));
    let (seen, ok) = backend.wait_for_value(
        r#"min(count_over_time({job="app",__name__=~"requests_total|app_requests_total"}[1m]))"#,
        Duration::from_secs(30),
        |v| v.is_some_and(|n| n >= 3.0),
    );
    assert!(ok, "the backend scrapes both applications ({seen:?})");

    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    std::fs::write(specs.join("shop.yaml"), SHOP).unwrap();
    std::fs::write(specs.join("api.yaml"), API).unwrap();
    let (specs_arg, backend_url) = (specs.display().to_string(), backend.url());
    let d = Daemon::start(&[&specs_arg, "--prometheus", &backend_url, "--interval", "1s"]);
    let target = d.url().trim_start_matches("http://").to_string();
    let scraper = Prometheus::start_scraping(&[target], Duration::from_secs(1));
    let from = now();
    // Until the daemon's contributors have been scraped a few times.
    let (seen, ok) = scraper.wait_for_value(
        "min(count_over_time(burnrate_contributor_bad_share[1m]))",
        Duration::from_secs(45),
        |v| v.is_some_and(|n| n >= 3.0),
    );
    assert!(
        ok,
        "Prometheus scrapes the daemon's contributors ({seen:?})\n{}",
        d.log_tail(30)
    );

    let board = dashboard(&[&specs_arg, "--source", "daemon"]);
    let qs = queries(&board, "1s");
    let n = check_all(
        &scraper,
        &qs,
        &[("shop", "requests"), ("api", "latency")],
        (from, now(), 1),
    );
    assert!(qs.iter().any(|q| q.title.contains("contributors")));
    eprintln!(
        "{n} daemon panel queries answered, {:.1?}",
        started.elapsed()
    );
}

#[test]
fn rules_dashboard_queries_answer_from_the_recorded_rules() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let blocks = backfill_demo(dir.path());
    let raw = Prometheus::start(&blocks);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let map_update = manifest.join("slo-specs/map-update.yaml");
    let ladder = manifest.join("tests/fixtures/backtest/map-update-ladder.yaml");
    let shards = dir.path().join("shards.yaml");
    std::fs::write(&shards, SHARDS).unwrap();
    let specs: Vec<String> = [&map_update, &ladder, &shards]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let spec_args: Vec<&str> = specs.iter().map(String::as_str).collect();

    let rules = dir.path().join("rules.yaml");
    let rules_arg = rules.display().to_string();
    let mut args = vec!["rules", "--interval", "1m", BUCKETS, "-o", &rules_arg];
    args.extend_from_slice(&spec_args);
    let out = burnrate(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Around the demo's incident (2026-11-17 13:45-15:05), evaluated every minute.
    let (start, end) = (1_794_922_200, 1_794_925_800); // 13:30 .. 14:30
    let recorded = dir.path().join("rule-blocks");
    let mut cmd = Command::new(std::env::var("PROMTOOL_BIN").unwrap_or("promtool".into()));
    cmd.args(["tsdb", "create-blocks-from", "rules", "--quiet"])
        .arg(format!("--start={start}"))
        .arg(format!("--end={end}"))
        .arg(format!("--url={}", raw.url()))
        .arg("--eval-interval=60s")
        .arg(format!("--output-dir={}", recorded.display()))
        .arg(&rules);
    kill_with_parent(&mut cmd);
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "promtool tsdb create-blocks-from rules: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    drop(raw);
    for e in std::fs::read_dir(&recorded).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            std::fs::rename(e.path(), blocks.join(e.file_name())).unwrap();
        }
    }
    eprintln!("history and rules backfilled: {:.1?}", started.elapsed());
    let prom = Prometheus::start(&blocks);
    let mut dash_args = vec!["--source", "rules", BUCKETS];
    dash_args.extend_from_slice(&spec_args);
    let board = dashboard(&dash_args);
    let qs = queries(&board, "1m");
    // The first recorded minute has no earlier sample for `rate` over the recorded series.
    let n = check_all(
        &prom,
        &qs,
        &[
            ("go-map", "map-update"),
            ("go-map-ladder", "all-updates"),
            ("go-map-ladder", "hot-shard-sets"),
            ("go-map-shards", "by-shard"),
        ],
        (start + 60, end, 60),
    );
    // The incident shows: some decision above ok in the derived decision panel.
    let decision = &qs
        .iter()
        .find(|q| q.row == "go-map / map-update" && q.title == "Decision")
        .unwrap()
        .expr;
    let above_ok = range(
        &prom,
        &format!("max_over_time(({decision})[1h:1m]) > 0"),
        end,
        end,
        60,
    )
    .is_ok_and(|s| !s.is_empty());
    assert!(
        above_ok,
        "the incident raises the derived decision above ok: {decision}"
    );
    eprintln!(
        "{n} rules panel queries answered, {:.1?}",
        started.elapsed()
    );
}
