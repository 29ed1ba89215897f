//! The rules `burnrate rules` writes compute, in a real Prometheus, what `burnrate check`
//! computes against the same Prometheus.
//!
//! History: the demo (`demo/map-update-history.om.gz`, 3 days of Go map updates from
//! 2026-11-16, incident on the 17th 13:45-15:05) plus a synthetic 2026-11-17 of edge cases
//! built here (the `rules-edge` service of `tests/fixtures/rules/edge.yaml`):
//!   - two instances spell their bucket bounds differently ("0.5" vs "5e-01", "0.1" vs "0.10");
//!   - the error counter only exists from the first error (14:00), errors 14:00-14:30;
//!   - no traffic at all 03:00-05:00 (burn 0, not null);
//!   - latency degrades 13:00-15:00;
//!   - the history ends at midnight (windows go null one after the other).
//!
//! Specs: `slo-specs/map-update.yaml` (threshold on a bound), the demo on the default ladder
//! with `for` (`tests/fixtures/backtest/map-update-ladder.yaml`, threshold 150ms: interpolated
//! between 0.1 and 0.2), the edge service (raw `bad_query`, interpolated 300ms) and
//! `tests/fixtures/rules/go-map-edges.yaml` (thresholds below the first and above the last
//! bound), with `--buckets` for the interpolations.
//!
//! 1. Recording rules: every rule's `expr` as an instant query at many times (whole seconds
//!    and unaligned milliseconds) equals `burnrate check --at T --format json` (relative error
//!    <= 1e-9; no sample exactly where check prints null).
//! 2. Alerts: the burn-rate recording rules are backfilled over 12:30-15:30 with `promtool tsdb
//!    create-blocks-from rules` (1m), a second Prometheus serves the raw and the recorded
//!    blocks, and every `SLOBurnRate` expr is evaluated on each group's evaluation grid. The
//!    (dimension, decision) pairs with samples must equal the levels of the rules check
//!    reports firing (`fired` + `pending`: without `--state` a rule within its `for` is
//!    pending). `for` itself (the ruler's timer) and `hold` (no ruler equivalent) are not
//!    compared: that is hysteresis, which the rules leave to the ruler and Alertmanager.

mod common;

use burnrate::spec::yaml::{Value, parse};
use common::history::{Counter, DAY, HOUR, Histogram, History, LogLogistic, MINUTE};
use common::prometheus::{
    Prometheus, backfill_with_block_duration, demo_history_text, kill_with_parent,
};
use common::{REL_1E9, burnrate_cmd, close, json_lines, map_get, seq, stdout_of};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// 2026-11-16T00:00:00Z, where the demo history starts.
const DAY0: i64 = 1_794_787_200;
/// 2026-11-17T00:00:00Z: the demo's incident day, and the edge history's only day.
const DAY1: i64 = DAY0 + DAY;

/// `h` hours and `m` minutes after the start of 2026-11-17.
const fn at(h: i64, m: i64) -> i64 {
    DAY1 + h * HOUR + m * MINUTE
}

const SPECS: [&str; 4] = [
    "slo-specs/map-update.yaml",
    "tests/fixtures/backtest/map-update-ladder.yaml",
    "tests/fixtures/rules/edge.yaml",
    "tests/fixtures/rules/go-map-edges.yaml",
];
const BUCKETS: [&str; 2] = [
    "--buckets=go_map_update_duration_seconds=0.005,0.01,0.025,0.05,0.1,0.2,0.4,0.8,1.6",
    "--buckets=edge_request_duration_seconds=0.1,0.25,0.5,1",
];

// ---------------------------------------------------------------------------------------
// The edge-case history
// ---------------------------------------------------------------------------------------

fn idle(t: i64) -> bool {
    (at(3, 0)..at(5, 0)).contains(&t)
}

fn edge_rate(t: i64) -> f64 {
    if idle(t) { 0.0 } else { 12.0 }
}

fn edge_error_ratio(t: i64) -> f64 {
    if t < at(14, 0) {
        0.0
    } else if t < at(14, 30) {
        0.15
    } else {
        0.003
    }
}

fn edge_latency(t: i64) -> LogLogistic {
    if (at(13, 0)..at(15, 0)).contains(&t) {
        LogLogistic::from_median_p99(0.3, 1.5)
    } else {
        LogLogistic::from_median_p99(0.08, 0.35)
    }
}

fn edge_history() -> History {
    let mut h = History::new(DAY1, DAY).seed(1117);
    h = h
        .counter(
            Counter::new("edge_requests_total")
                .label("job", "edge")
                .label("code", "200")
                .rate(|t| edge_rate(t) * (1.0 - edge_error_ratio(t))),
        )
        .counter(
            Counter::new("edge_requests_total")
                .label("job", "edge")
                .label("code", "500")
                .absent_until_first_increment()
                .rate(|t| edge_rate(t) * edge_error_ratio(t)),
        );
    for (instance, bounds) in [
        ("a", ["0.1", "0.25", "0.5", "1"]),
        ("b", ["0.10", "0.250", "5e-01", "1.0"]),
    ] {
        h = h.histogram(
            Histogram::new("edge_request_duration_seconds")
                .label("job", "edge")
                .label("instance", instance)
                .bounds(&bounds)
                .rate(|t| edge_rate(t) / 2.0)
                .latency(edge_latency),
        );
    }
    h
}

// ---------------------------------------------------------------------------------------
// HTTP and processes
// ---------------------------------------------------------------------------------------

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

fn seconds(t_ms: i64) -> String {
    format!("{}.{:03}", t_ms.div_euclid(1000), t_ms.rem_euclid(1000))
}

fn get(agent: &ureq::Agent, url: &str, params: &[(&str, &str)]) -> serde_json::Value {
    let mut req = agent.get(url);
    for (k, v) in params {
        req = req.query(k, v);
    }
    let body = match req.call() {
        Ok(r) => r.into_string().unwrap(),
        Err(ureq::Error::Status(code, r)) => {
            panic!(
                "{url} {params:?}: HTTP {code}: {}",
                r.into_string().unwrap_or_default()
            )
        }
        Err(e) => panic!("{url} {params:?}: {e}"),
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{url} {params:?}: {body}");
    v["data"].clone()
}

fn value(point: &serde_json::Value) -> f64 {
    common::prometheus::parse_prom_float(point[1].as_str().unwrap()).unwrap()
}

/// Instant query at `t_ms`: the value of its only sample, if any.
fn instant(agent: &ureq::Agent, base: &str, expr: &str, t_ms: i64) -> Option<f64> {
    let data = get(
        agent,
        &format!("{base}/api/v1/query"),
        &[("query", expr), ("time", &seconds(t_ms))],
    );
    let result = data["result"].as_array().unwrap();
    assert!(result.len() <= 1, "{expr} at {t_ms}: {result:?}");
    result.first().map(|r| value(&r["value"]))
}

/// Range query: the times (ms) at which `expr` has samples.
fn times_with_samples(
    agent: &ureq::Agent,
    base: &str,
    expr: &str,
    from_ms: i64,
    to_ms: i64,
) -> BTreeSet<i64> {
    let data = get(
        agent,
        &format!("{base}/api/v1/query_range"),
        &[
            ("query", expr),
            ("start", &seconds(from_ms)),
            ("end", &seconds(to_ms)),
            ("step", "60"),
        ],
    );
    data["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["values"].as_array().unwrap().clone())
        .map(|p| (p[0].as_f64().unwrap() * 1000.0).round() as i64)
        .collect()
}

/// `burnrate check SPECS --at T --format json`: one object per SLO, keyed (service, slo).
fn check(url: &str, specs: &[&str], t_ms: i64) -> BTreeMap<(String, String), serde_json::Value> {
    let out = burnrate_cmd()
        .arg("check")
        .args(specs)
        .args([
            "--prometheus",
            url,
            "--at",
            &seconds(t_ms),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0..=4)),
        "check at {t_ms}: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&String::from_utf8(out.stdout).unwrap())
        .into_iter()
        .map(|v| {
            let key = (
                v["service"].as_str().unwrap().to_string(),
                v["slo"].as_str().unwrap().to_string(),
            );
            (key, v)
        })
        .collect()
}

fn burnrate_rules(out: &Path, extra: &[&str]) {
    stdout_of(
        burnrate_cmd()
            .args(["rules", "-o", out.to_str().unwrap()])
            .args(BUCKETS)
            .args(extra)
            .args(SPECS),
        0,
    );
}

// ---------------------------------------------------------------------------------------
// The rule file, read back
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Rule {
    group: String,
    alert: bool,
    expr: String,
    labels: BTreeMap<String, String>,
}

fn read_rules(path: &Path) -> Vec<Rule> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = parse(&text).unwrap().unwrap();
    let mut out = Vec::new();
    for g in seq(map_get(&doc, "groups").unwrap()) {
        let group = map_get(g, "name").unwrap().as_scalar().unwrap().to_string();
        for r in seq(map_get(g, "rules").unwrap()) {
            let labels = match map_get(r, "labels").map(|l| &l.value) {
                Some(Value::Map(entries)) => entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_scalar().unwrap().to_string(),
                            v.as_scalar().unwrap().to_string(),
                        )
                    })
                    .collect(),
                _ => BTreeMap::new(),
            };
            out.push(Rule {
                group: group.clone(),
                alert: map_get(r, "alert").is_some(),
                expr: map_get(r, "expr").unwrap().as_scalar().unwrap().to_string(),
                labels,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------------------

/// What check printed for the series of a recording rule.
fn expected_value(eval: &serde_json::Value, labels: &BTreeMap<String, String>) -> Option<f64> {
    let dim = &eval[labels["dimension"].as_str()];
    assert!(
        dim.is_object(),
        "check has no {} SLI: {eval}",
        labels["dimension"]
    );
    match labels.get("window") {
        Some(w) => {
            let v = &dim["burn"][w.as_str()];
            assert!(
                !v.is_null() || dim["burn"].get(w.as_str()).is_some(),
                "no window {w}"
            );
            v.as_f64()
        }
        None => dim["budget_remaining"].as_f64(),
    }
}

/// Runs `jobs` on a few threads, in order.
fn parallel<T: Send, R: Send>(jobs: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = 8;
    let n = jobs.len();
    let mut slots: Vec<Option<R>> = (0..n).map(|_| None).collect();
    let queue = std::sync::Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>());
    let results = std::sync::Mutex::new(&mut slots);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let Some((i, job)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let r = f(job);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

#[test]
fn rules_compute_what_check_computes() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let blocks = dir.path().join("blocks");

    // Both histories into one set of blocks.
    let demo = demo_history_text();
    let demo_om = dir.path().join("demo.om");
    std::fs::write(&demo_om, demo).unwrap();
    let edge_om = dir.path().join("edge.om");
    edge_history().write_openmetrics(&edge_om);
    std::thread::scope(|s| {
        let b = &blocks;
        let a =
            s.spawn(move || backfill_with_block_duration(&demo_om, &b.join("demo"), Some("24h")));
        backfill_with_block_duration(&edge_om, &b.join("edge"), Some("24h"));
        a.join().unwrap();
    });
    let flat = dir.path().join("raw");
    std::fs::create_dir_all(&flat).unwrap();
    for sub in ["demo", "edge"] {
        for e in std::fs::read_dir(blocks.join(sub)).unwrap() {
            let e = e.unwrap();
            std::fs::rename(e.path(), flat.join(e.file_name())).unwrap();
        }
    }
    eprintln!("histories backfilled: {:?}", started.elapsed());
    let prom = Prometheus::start(&flat);
    let url = prom.url();

    let rules_file = dir.path().join("rules.yaml");
    burnrate_rules(&rules_file, &[]);
    let rules = read_rules(&rules_file);
    let records: Vec<&Rule> = rules.iter().filter(|r| !r.alert).collect();
    assert!(records.len() > 40, "{} recording rules", records.len());

    // 1. Recording rules == check, at whole seconds and unaligned milliseconds.
    let ms = |t: i64, extra_ms: i64| t * 1000 + extra_ms;
    let times_ms: Vec<i64> = vec![
        ms(DAY0, 0),       // one demo sample per series: every window null
        ms(DAY0 + 120, 0), // two samples in the 5m window
        ms(DAY0 + 13 * HOUR, 250),
        ms(DAY1, 0), // the edge history's first sample: null
        ms(at(1, 0), 0),
        ms(at(3, 30), 0),      // no traffic: burn 0
        ms(at(4, 45), 12_345), // still none in windows up to 1h
        ms(at(5, 3), 0),       // traffic again
        ms(at(9, 0), 0),
        ms(at(13, 10), 0),   // edge latency degraded
        ms(at(13, 50), 500), // demo incident
        ms(at(14, 7), 0),    // errors, the 500 series a few minutes old
        ms(at(14, 20), 30_001),
        ms(at(14, 45), 0),
        ms(at(15, 10), 0),
        ms(at(20, 0), 999),
        ms(at(23, 59), 45_000),
        ms(at(24, 20), 0),      // edge history over: short windows null
        ms(at(30, 0), 0),       // only the edge's long windows left
        ms(at(47, 59), 30_000), // last demo sample
    ];
    let checks: Vec<BTreeMap<(String, String), serde_json::Value>> =
        parallel(times_ms.clone(), |t| check(&url, &SPECS, t));
    let jobs: Vec<(usize, &Rule)> = (0..times_ms.len())
        .flat_map(|i| records.iter().map(move |r| (i, *r)))
        .collect();
    let a = agent();
    let got = parallel(jobs.clone(), |(i, r)| {
        instant(&a, &url, &r.expr, times_ms[i])
    });
    let mut nulls = 0;
    let mut zeros = 0;
    for ((i, r), got) in jobs.iter().zip(got) {
        let key = (r.labels["service"].clone(), r.labels["slo"].clone());
        let eval = checks[*i]
            .get(&key)
            .unwrap_or_else(|| panic!("check printed no {key:?}"));
        let want = expected_value(eval, &r.labels);
        let ok = match (want, got) {
            (None, None) => {
                nulls += 1;
                true
            }
            (Some(w), Some(g)) => {
                zeros += usize::from(w == 0.0);
                close(w, g, REL_1E9)
            }
            _ => false,
        };
        assert!(
            ok,
            "{} {:?} at {}: rule {got:?}, check {want:?}\nexpr: {}",
            r.group, r.labels, times_ms[*i], r.expr
        );
    }
    assert!(nulls > 20, "null windows were compared ({nulls})");
    assert!(zeros > 20, "zero burns were compared ({zeros})");

    eprintln!(
        "{} recording rule values compared: {:?}",
        jobs.len(),
        started.elapsed()
    );

    // 2. Alerts, on the recorded burn rates.
    let (from, to) = (at(12, 30), at(15, 30));
    // The same groups at 1m, without the budget rules (the alerts do not read them, and
    // their period-long ranges are most of the backfill's cost).
    let backfill_rules = dir.path().join("rules-1m.yaml");
    let report = burnrate::spec::load_paths(&SPECS.map(PathBuf::from));
    assert!(!report.has_errors());
    let mut opts = burnrate::rules::Options {
        interval: burnrate::duration::PromDuration::parse("1m").unwrap(),
        ..Default::default()
    };
    for b in BUCKETS {
        opts.buckets
            .add(b.strip_prefix("--buckets=").unwrap())
            .unwrap();
    }
    let mut groups = burnrate::rules::groups(&report.specs, &opts).unwrap();
    for g in &mut groups {
        g.rules.retain(|r| {
            matches!(r, burnrate::rules::RuleDef::Record(rec) if rec.record == burnrate::rules::BURN_RATE_METRIC)
        });
    }
    let from_cli: Vec<&str> = records
        .iter()
        .filter(|r| r.labels.contains_key("window"))
        .map(|r| r.expr.as_str())
        .collect();
    let from_lib: Vec<&str> = groups
        .iter()
        .flat_map(|g| &g.rules)
        .map(|r| match r {
            burnrate::rules::RuleDef::Record(rec) => rec.expr.as_str(),
            burnrate::rules::RuleDef::Alert(_) => unreachable!(),
        })
        .collect();
    assert_eq!(from_cli, from_lib, "the library builds what the CLI prints");
    std::fs::write(
        &backfill_rules,
        burnrate::rules::yaml::rule_file(&groups, &[]),
    )
    .unwrap();
    let rule_blocks = dir.path().join("rule-blocks");
    let mut cmd = Command::new(std::env::var("PROMTOOL_BIN").unwrap_or("promtool".into()));
    cmd.args(["tsdb", "create-blocks-from", "rules", "--quiet"])
        .arg(format!("--start={from}"))
        .arg(format!("--end={to}"))
        .arg(format!("--url={url}"))
        .arg("--eval-interval=60s")
        .arg(format!("--output-dir={}", rule_blocks.display()))
        .arg(&backfill_rules);
    kill_with_parent(&mut cmd);
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "promtool tsdb create-blocks-from rules: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for e in std::fs::read_dir(&rule_blocks).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            std::fs::rename(e.path(), flat.join(e.file_name())).unwrap();
        }
    }
    eprintln!("recording rules backfilled: {:?}", started.elapsed());
    let recorded = Prometheus::start(&flat);
    let rurl = recorded.url();

    let spec_of: BTreeMap<&str, &str> = [
        ("go-map", SPECS[0]),
        ("go-map-ladder", SPECS[1]),
        ("rules-edge", SPECS[2]),
        ("go-map-edges", SPECS[3]),
    ]
    .into_iter()
    .collect();
    let alerts: Vec<&Rule> = rules.iter().filter(|r| r.alert).collect();
    let groups: BTreeSet<(String, String)> = alerts
        .iter()
        .map(|r| (r.labels["service"].clone(), r.labels["slo"].clone()))
        .collect();
    let mut compared = 0;
    let mut firing_seen = 0;
    let mut levels_seen = BTreeSet::new();
    for (service, slo) in &groups {
        // The group's evaluation grid: promtool evaluated it at its own offset in the minute.
        let last = get(
            &a,
            &format!("{rurl}/api/v1/query"),
            &[
                (
                    "query",
                    &format!(
                        "max(timestamp(burnrate:burn_rate:ratio{{service=\"{service}\",slo=\"{slo}\"}}))"
                    ),
                ),
                ("time", &seconds(to * 1000)),
            ],
        );
        let last_ms = (value(&last["result"][0]["value"]) * 1000.0).round() as i64;
        let first_ms = last_ms - (last_ms - from * 1000) / 60_000 * 60_000;
        let grid: Vec<i64> = (0..)
            .map(|k| first_ms + k * 60_000)
            .take_while(|t| *t <= last_ms)
            .collect();
        assert!(
            grid.len() > 170,
            "{service}/{slo}: {} evaluations",
            grid.len()
        );
        // Which levels fire when, according to the rules.
        let mine: Vec<&&Rule> = alerts
            .iter()
            .filter(|r| r.labels["service"] == *service && r.labels["slo"] == *slo)
            .collect();
        let mut by_time: BTreeMap<i64, BTreeSet<(String, String)>> =
            grid.iter().map(|t| (*t, BTreeSet::new())).collect();
        for r in &mine {
            for t in times_with_samples(&a, &rurl, &r.expr, first_ms, last_ms) {
                by_time
                    .get_mut(&t)
                    .unwrap_or_else(|| panic!("{t} off the grid"))
                    .insert((r.labels["dimension"].clone(), r.labels["decision"].clone()));
            }
        }
        // Compare at every change (and the step before), and every 10 minutes.
        let mut selected: BTreeSet<i64> = grid.iter().step_by(10).copied().collect();
        for w in grid.windows(2) {
            if by_time[&w[0]] != by_time[&w[1]] {
                selected.extend([w[0], w[1]]);
            }
        }
        let spec = spec_of[service.as_str()];
        let selected: Vec<i64> = selected.into_iter().collect();
        let evals = parallel(selected.clone(), |t| check(&url, &[spec], t));
        for (t, evals) in selected.iter().zip(evals) {
            let eval = &evals[&(service.clone(), slo.clone())];
            let mut from_check = BTreeSet::new();
            for dim in ["error", "latency"] {
                for list in ["fired", "pending"] {
                    for rule in eval[dim][list].as_array().into_iter().flatten() {
                        from_check.insert((
                            dim.to_string(),
                            rule["decision"].as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
            assert_eq!(
                by_time[t],
                from_check,
                "{service}/{slo} at {}: alerts vs check\n{eval}",
                seconds(*t)
            );
            compared += 1;
            firing_seen += from_check.len();
            for (dim, decision) in &from_check {
                levels_seen.insert(format!("{service}/{slo} {dim} {decision}"));
            }
        }
    }
    eprintln!(
        "{compared} alert sets compared ({firing_seen} firing levels): {:?}",
        started.elapsed()
    );
    eprintln!("levels seen firing: {levels_seen:?}");
    assert!(compared > 100, "{compared} comparisons");
    assert!(
        firing_seen > 50,
        "alerts fired in the range ({firing_seen})"
    );
    for level in [
        "go-map/map-update latency circuit_break",
        "go-map/map-update error warn",
        "go-map-ladder/all-updates latency circuit_break",
        "rules-edge/requests error circuit_break",
        "rules-edge/requests latency scale",
        "rules-edge/raw-queries error circuit_break",
        "rules-edge/interpolated latency circuit_break",
    ] {
        assert!(
            levels_seen.contains(level),
            "{level} never fired: {levels_seen:?}"
        );
    }
    drop(recorded);
    drop(prom);
}
