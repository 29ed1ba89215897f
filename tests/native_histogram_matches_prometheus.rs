//! Latency from a native histogram (`latency: {native_histogram: SEL, ...}`) is what a real
//! Prometheus 2.42 with `--enable-feature=native-histograms` computes, in `check`, `run` and
//! `backtest`.
//!
//! A fake application (tests/common/native_exporter.rs) serves one native histogram per
//! route in the protobuf exposition format; Prometheus scrapes it every second. Route `b`
//! has an incident in the middle (30% of its requests slow), route `a` never does, and at
//! the end `a` stops serving (its windows without traffic: burn 0, `no_traffic`). Two SLOs
//! read it: one over every route, one `group_by: [route]`; P99 within 200 ms, a threshold
//! inside a native bucket, so `histogram_fraction` interpolates.
//!
//! At many instants, on the scrape grid (the samples' own timestamps) and off it:
//! - `check`: every burn equals Prometheus's own `(1 - histogram_fraction(0, 0.2,
//!   sum(rate(SEL[w])))) / 0.01` (`sum by (route)` per group, 1e-9 relative), events equal
//!   `histogram_count(...) × w`, the quantile `histogram_quantile(0.99, ...)`, the budget
//!   `1 - ratio(period) / 0.01`, and the decision the matrix gives those burns;
//! - `backtest --prometheus` (query_range, one step per instant, and a replay of the whole
//!   range at 1s): every printed step equals the same;
//! - `run` (the daemon, querying the backend directly): every evaluation it served while the
//!   traffic ran equals Prometheus at its own evaluation time;
//! - `breakdown: [route]` of the SLO over every route, while it is above ok (printed by
//!   `check` and `run`): each route's share of the slow requests over the deciding rule's
//!   long window and its part of the burn, from `histogram_count(R) × (1 -
//!   histogram_fraction(0, T, R))` by route;
//! - `report` over the range: attainment, budget spent and events from the same functions
//!   over the range as one window at its end;
//! - `rules`: promtool accepts them, and every recorded burn rate, its expression evaluated
//!   by Prometheus at those instants, equals `check`'s burn, group by group.
//!
//! About 70 s, most of it the live traffic.

mod common;

use common::daemon::Daemon;
use common::native_exporter::{METRIC, NativeExporter, Traffic};
use common::prometheus::Prometheus;
use common::yaml::{map_get, seq};
use common::{REL_1E9_ABS_1E12, burnrate_cmd, close, group_of, json_lines, stdout_of};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const SERVICE: &str = "shop";
const THRESHOLD: &str = "0.2";
const QUANTILE: &str = "0.99";
const BUDGET: f64 = 0.01;
/// Matrix windows and the period, as the spec spells them, with their seconds.
const WINDOWS: [(&str, f64); 3] = [("10s", 10.0), ("20s", 20.0), ("1h", 3600.0)];
const PERIOD: &str = "1h";
/// `(decision, burn)`: both over 20s with a 10s short window.
const MATRIX: [(&str, f64); 2] = [("scale", 5.0), ("circuit_break", 20.0)];

fn spec() -> String {
    let slo = |name: &str, group_by: &str, breakdown: &str| {
        format!(
            r#"  - name: {name}
    period: {PERIOD}{group_by}
    latency:
      native_histogram: {METRIC}{{job="app"}}
      quantile: {QUANTILE}
      threshold: 200ms{breakdown}
    matrix:
      latency:
        - {{decision: {}, burn: {}, long: 20s, short: 10s}}
        - {{decision: {}, burn: {}, long: 20s, short: 10s}}
"#,
            MATRIX[0].0, MATRIX[0].1, MATRIX[1].0, MATRIX[1].1
        )
    };
    format!(
        "apiVersion: burnrate/v1\nservice: {SERVICE}\nslos:\n{}{}",
        slo("all", "", "\n      breakdown: [route]"),
        slo("routes", "\n    group_by: [route]", "")
    )
}

/// One SLO instance: the SLO's name and its group's route (`None`: no groups).
type Instance = (String, Option<String>);

/// What Prometheus says one instance's evaluation must be.
#[derive(Debug, Default)]
struct Expected {
    burn: BTreeMap<&'static str, Option<f64>>,
    events: BTreeMap<&'static str, Option<f64>>,
    quantile: BTreeMap<&'static str, Option<f64>>,
    /// `all` only: per route, its slow requests per second over the rules' long window,
    /// `histogram_count(R) × (1 - histogram_fraction(0, T, R))` with `R` summed by route.
    slow_by_route: BTreeMap<String, f64>,
    /// The windows without traffic (`histogram_count` 0).
    no_traffic: Vec<&'static str>,
}

impl Expected {
    fn decision(&self) -> &'static str {
        let fires = |f: f64| {
            ["10s", "20s"]
                .iter()
                .all(|w| self.burn[w].is_some_and(|b| b >= f))
        };
        if self.burn["10s"].is_none() && self.burn["20s"].is_none() {
            return "no_data";
        }
        MATRIX
            .iter()
            .rev()
            .find(|(_, f)| fires(*f))
            .map_or("ok", |(d, _)| d)
    }
}

/// An instant query at `t_ms`: per series its `route` label (if any) and value.
fn query(prom: &Prometheus, expr: &str, t_ms: i64) -> BTreeMap<Option<String>, f64> {
    let url = format!("{}/api/v1/query", prom.url());
    let time = format!("{}.{:03}", t_ms.div_euclid(1000), t_ms.rem_euclid(1000));
    let body: Value = ureq::get(&url)
        .query("query", expr)
        .query("time", &time)
        .call()
        .unwrap_or_else(|e| panic!("query {expr:?} at {time}: {e}"))
        .into_string()
        .map(|b| serde_json::from_str(&b).unwrap())
        .unwrap();
    assert_eq!(body["status"], "success", "{expr} at {time}: {body}");
    body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let route = r["metric"]["route"].as_str().map(str::to_string);
            let v = common::prometheus::parse_prom_float(r["value"][1].as_str().unwrap());
            (route, v.unwrap())
        })
        .collect()
}

/// Every instance's expected evaluation at `t_ms`, from Prometheus's own functions.
fn expected(prom: &Prometheus, t_ms: i64) -> BTreeMap<Instance, Expected> {
    let mut out: BTreeMap<Instance, Expected> = BTreeMap::new();
    for (slo, sum) in [("all", "sum"), ("routes", "sum by (route)")] {
        for (w, seconds) in WINDOWS {
            let rate = format!("{sum} (rate({METRIC}{{job=\"app\"}}[{w}]))");
            let burn = query(
                prom,
                &format!("(1 - histogram_fraction(0, {THRESHOLD}, {rate})) / {BUDGET}"),
                t_ms,
            );
            let count = query(prom, &format!("histogram_count({rate})"), t_ms);
            let quantile = query(
                prom,
                &format!("histogram_quantile({QUANTILE}, {rate})"),
                t_ms,
            );
            for (route, &count) in &count {
                let e = out.entry((slo.to_string(), route.clone())).or_default();
                // No traffic: the fraction (and quantile) of an empty histogram is NaN,
                // and the contract's burn 0.
                let idle = count == 0.0;
                if idle {
                    e.no_traffic.push(w);
                }
                let burn = if idle {
                    Some(0.0)
                } else {
                    burn.get(route).copied()
                };
                e.burn.insert(w, burn);
                e.events.insert(w, Some(count * seconds));
                if w != PERIOD {
                    let q = quantile.get(route).copied().filter(|q| !q.is_nan());
                    e.quantile.insert(w, q);
                }
            }
        }
    }
    let by_route = format!("sum by (route) (rate({METRIC}{{job=\"app\"}}[20s]))");
    let slow = query(
        prom,
        &format!(
            "histogram_count({by_route}) * (1 - histogram_fraction(0, {THRESHOLD}, {by_route}))"
        ),
        t_ms,
    );
    if let Some(all) = out.get_mut(&("all".to_string(), None)) {
        // An idle route has no slow requests (its NaN fraction times a count of 0).
        all.slow_by_route = slow
            .into_iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(r, v)| (r.unwrap(), v))
            .collect();
    }
    out
}

fn instance_of(v: &Value) -> Instance {
    (
        v["slo"].as_str().unwrap().to_string(),
        group_of(v).get("route").cloned(),
    )
}

/// The differences between one printed evaluation and Prometheus's answer at its time.
fn differences(what: &str, got: &Value, exp: &Expected) -> Vec<String> {
    let mut out = Vec::new();
    let l = &got["latency"];
    let mut same = |field: &str, e: Option<f64>, g: &Value| {
        let ok = match (e, g.as_f64()) {
            (Some(e), Some(g)) => close(e, g, REL_1E9_ABS_1E12),
            (None, None) => g.is_null(),
            _ => false,
        };
        if !ok {
            out.push(format!("{what}: {field}: Prometheus {e:?}, burnrate {g}"));
        }
    };
    for (w, _) in &WINDOWS[..2] {
        same(&format!("burn[{w}]"), exp.burn[w], &l["burn"][w]);
        same(&format!("events[{w}]"), exp.events[w], &l["events"][w]);
        same(
            &format!("quantile_seconds[{w}]"),
            exp.quantile[w],
            &l["quantile_seconds"][w],
        );
    }
    same(
        "budget_remaining",
        exp.burn[PERIOD].map(|b| 1.0 - b),
        &l["budget_remaining"],
    );
    let no_traffic: Vec<&str> = l["no_traffic"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let matrix_idle: Vec<&str> = exp
        .no_traffic
        .iter()
        .copied()
        .filter(|w| *w != PERIOD)
        .collect();
    if no_traffic
        .iter()
        .filter(|w| **w != PERIOD)
        .copied()
        .collect::<Vec<_>>()
        != matrix_idle
    {
        out.push(format!(
            "{what}: no_traffic: Prometheus's count is 0 over {matrix_idle:?}, burnrate {no_traffic:?}"
        ));
    }
    // The breakdown of `all` while it is above ok: each route's share of the slow requests
    // over the deciding rule's long window, and its part of the burn.
    let contributors = &l["contributors"];
    if !exp.slow_by_route.is_empty() && exp.decision() != "ok" && !contributors.is_null() {
        let slow: f64 = exp.slow_by_route.values().sum();
        let total = exp.events["20s"].unwrap_or(f64::NAN) / 20.0;
        let top = contributors["top"].as_array().cloned().unwrap_or_default();
        let got: BTreeMap<String, (f64, f64)> = top
            .iter()
            .map(|c| {
                let route = c["labels"]["route"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let (share, burn) = (c["bad_share"].as_f64(), c["burn"].as_f64());
                (route, (share.unwrap_or(f64::NAN), burn.unwrap_or(f64::NAN)))
            })
            .collect();
        let want: BTreeMap<String, (f64, f64)> = exp
            .slow_by_route
            .iter()
            .filter(|(_, b)| **b > 0.0)
            .map(|(r, b)| (r.clone(), (b / slow, b / total / BUDGET)))
            .collect();
        let same = contributors["window"] == "20s"
            && got.len() == want.len()
            && want.iter().all(|(r, (share, burn))| {
                got.get(r).is_some_and(|(s, b)| {
                    close(*share, *s, REL_1E9_ABS_1E12) && close(*burn, *b, REL_1E9_ABS_1E12)
                })
            });
        if !same {
            out.push(format!(
                "{what}: contributors: Prometheus {want:?} over 20s, burnrate {contributors}"
            ));
        }
    }
    if got["decision"] != exp.decision() {
        out.push(format!(
            "{what}: decision: matrix on Prometheus's burns {}, burnrate {}",
            exp.decision(),
            got["decision"]
        ));
    }
    out
}

fn rfc3339_ms(t_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(t_ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn time_ms(v: &Value) -> i64 {
    let text = v["time"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .timestamp_millis()
}

/// The burn-rate and budget recording rules of `burnrate rules SPECS` (promtool must
/// accept them): per rule its SLO, window (`None`: the budget) and expression.
fn recording_rules(specs: &str, dir: &std::path::Path) -> Vec<(String, Option<String>, String)> {
    let text = stdout_of(burnrate_cmd().args(["rules", specs]), 0);
    let file = dir.join("rules.yaml");
    std::fs::write(&file, &text).unwrap();
    let promtool = std::env::var("PROMTOOL_BIN").unwrap_or_else(|_| "promtool".into());
    let out = std::process::Command::new(promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = burnrate::spec::yaml::parse(&text).unwrap().unwrap();
    let mut rules = Vec::new();
    for g in seq(map_get(&doc, "groups").unwrap()) {
        for r in seq(map_get(g, "rules").unwrap()) {
            let scalar = |n: Option<&burnrate::spec::yaml::Node>| {
                n.and_then(|n| n.as_scalar()).map(str::to_string)
            };
            let record = scalar(map_get(r, "record"));
            let labels = map_get(r, "labels");
            let window = match record.as_deref() {
                Some("burnrate:burn_rate:ratio") => {
                    Some(scalar(labels.and_then(|l| map_get(l, "window"))).unwrap())
                }
                Some("burnrate:error_budget_remaining:ratio") => None,
                _ => continue,
            };
            rules.push((
                scalar(labels.and_then(|l| map_get(l, "slo"))).unwrap(),
                window,
                scalar(map_get(r, "expr")).unwrap(),
            ));
        }
    }
    rules
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Compares every evaluation of `evals` (one command's JSON lines, summaries skipped) with
/// Prometheus at its time; returns how many were compared and the differences.
fn compare(prom: &Prometheus, what: &str, evals: &[Value]) -> (usize, Vec<String>) {
    let (mut n, mut diffs) = (0, Vec::new());
    let mut by_time: BTreeMap<i64, BTreeMap<Instance, Expected>> = BTreeMap::new();
    for v in evals.iter().filter(|v| v.get("summary").is_none()) {
        let t = time_ms(v);
        let exp = by_time.entry(t).or_insert_with(|| expected(prom, t));
        let inst = instance_of(v);
        let ctx = format!("{what} at {} {inst:?}", rfc3339_ms(t));
        match exp.get(&inst) {
            Some(e) => diffs.extend(differences(&ctx, v, e)),
            None => diffs.push(format!("{ctx}: Prometheus has no such series")),
        }
        n += 1;
    }
    (n, diffs)
}

#[test]
fn check_run_and_backtest_equal_prometheus_histogram_fraction() {
    let exporter = NativeExporter::start(&["a", "b"]);
    let baseline = |rps| Traffic {
        requests_per_sec: rps,
        medium: 0.01,
        slow: 0.004,
    };
    exporter.set("a", baseline(120.0));
    exporter.set("b", baseline(60.0));
    let prom = Prometheus::start_scraping_with_flags(
        &[exporter.target()],
        Duration::from_secs(1),
        &["--enable-feature=native-histograms"],
    );
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("native.yaml");
    std::fs::write(&spec_path, spec()).unwrap();
    let specs = spec_path.to_str().unwrap();

    // What validate says: both SLOs are the backend's to measure.
    let out = common::burnrate(&["validate", specs]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .matches("a native histogram: this SLO is measured by the backend")
            .count(),
        2,
        "{stderr}"
    );

    // The histograms are native in Prometheus (a protobuf scrape): `histogram_count` of the
    // raw series answers. A 10s rate needs a few scrapes.
    let (count, ok) = prom.wait_for_value(
        &format!("histogram_count(sum(rate({METRIC}[10s])))"),
        Duration::from_secs(30),
        |v| v.is_some_and(|v| v > 0.0),
    );
    assert!(
        ok,
        "no native histogram scraped: {count:?}\n{}",
        prom.log_tail(30)
    );

    let daemon = Daemon::start(&[specs, "--prometheus", &prom.url(), "--interval", "1s"]);
    let begin_ms = now_ms();
    let mut served: BTreeMap<(i64, Instance), Value> = BTreeMap::new();
    let mut live = |until: Instant| {
        while Instant::now() < until {
            for v in daemon.decisions() {
                if v["service"] == SERVICE {
                    served.insert((time_ms(&v), instance_of(&v)), v);
                }
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    live(Instant::now() + Duration::from_secs(12));
    // The incident: a third of route b's requests slow.
    exporter.set(
        "b",
        Traffic {
            requests_per_sec: 60.0,
            medium: 0.05,
            slow: 0.3,
        },
    );
    live(Instant::now() + Duration::from_secs(18));
    exporter.set("b", baseline(60.0));
    live(Instant::now() + Duration::from_secs(8));
    // Route a stops serving: its windows empty one after the other (burn 0, no traffic).
    exporter.set("a", Traffic::default());
    live(Instant::now() + Duration::from_secs(18));
    let end_ms = now_ms() - 1_000;
    drop(daemon);

    // The instants: every scrape of route a's last 40 s up to `end` (on the grid), every
    // 1.3 s between (off it).
    let scrapes: Vec<i64> = {
        let url = format!("{}/api/v1/query", prom.url());
        let time = format!("{:.3}", end_ms as f64 / 1000.0);
        let body: Value = ureq::get(&url)
            .query("query", &format!("{METRIC}{{route=\"a\"}}[40s]"))
            .query("time", &time)
            .call()
            .unwrap()
            .into_string()
            .map(|b| serde_json::from_str(&b).unwrap())
            .unwrap();
        body["data"]["result"][0]["histograms"]
            .as_array()
            .unwrap_or_else(|| panic!("no native samples: {body}"))
            .iter()
            .map(|p| (p[0].as_f64().unwrap() * 1000.0).round() as i64)
            .collect()
    };
    assert!(scrapes.len() >= 30, "{} scrapes in 40 s", scrapes.len());
    let mut instants: Vec<i64> = scrapes.iter().step_by(3).copied().collect();
    instants.extend(
        (0..)
            .map(|i| begin_ms + 650 + i * 1_300)
            .take_while(|t| *t < end_ms),
    );
    instants.sort_unstable();

    let mut diffs = Vec::new();
    let mut decisions: BTreeMap<&'static str, usize> = BTreeMap::new();

    // check, at every instant; and the recording rules' burns there.
    let rules = recording_rules(specs, dir.path());
    assert_eq!(
        rules.len(),
        2 * 3,
        "per SLO a burn rate per matrix window and the budget: {rules:?}"
    );
    let (mut checked, mut recorded, mut broken_down, mut idle) = (0, 0, 0, 0);
    for &t in &instants {
        let out = burnrate_cmd()
            .args([
                "check",
                specs,
                "--prometheus",
                &prom.url(),
                "--format",
                "json",
            ])
            .args(["--at", &rfc3339_ms(t)])
            .output()
            .unwrap();
        let evals = json_lines(&String::from_utf8(out.stdout).unwrap());
        assert_eq!(evals.len(), 3, "all, routes a and b at {}", rfc3339_ms(t));
        let exp = expected(&prom, t);
        for v in &evals {
            assert_eq!(time_ms(v), t, "check evaluates at --at");
            if let Some(e) = exp.get(&instance_of(v)) {
                *decisions.entry(e.decision()).or_default() += 1;
                idle += usize::from(e.no_traffic.contains(&"10s"));
                if !e.slow_by_route.is_empty() && e.decision() != "ok" {
                    assert!(
                        v["latency"]["contributors"].is_object(),
                        "check above ok has contributors: {v}"
                    );
                    broken_down += 1;
                }
            }
        }
        let (n, d) = compare(&prom, "check", &evals);
        checked += n;
        diffs.extend(d);
        for (slo, window, expr) in &rules {
            for (route, value) in query(&prom, expr, t) {
                let inst = (slo.clone(), route);
                let printed = evals.iter().find(|v| instance_of(v) == inst).map(|v| {
                    let l = &v["latency"];
                    match window {
                        Some(w) => &l["burn"][w.as_str()],
                        None => &l["budget_remaining"],
                    }
                });
                let same = printed
                    .and_then(Value::as_f64)
                    .is_some_and(|p| close(value, p, REL_1E9_ABS_1E12));
                if !same {
                    diffs.push(format!(
                        "rules at {} {inst:?} {window:?}: recorded {value}, check {printed:?}",
                        rfc3339_ms(t)
                    ));
                }
                recorded += 1;
            }
        }
    }

    // backtest --prometheus: one step at each of a few instants, then the whole range at 1s
    // (its lines are the steps where a decision changed).
    let backtest = |from: i64, to: i64| {
        json_lines(&stdout_of(
            burnrate_cmd()
                .args(["backtest", specs, "--prometheus", &prom.url()])
                .args(["--format", "json", "--step", "1s"])
                .args(["--from", &rfc3339_ms(from), "--to", &rfc3339_ms(to)]),
            0,
        ))
    };
    let mut replayed = 0;
    for &t in instants.iter().step_by(5) {
        let (n, d) = compare(&prom, "backtest step", &backtest(t, t));
        replayed += n;
        diffs.extend(d);
    }
    let whole = backtest(begin_ms + 2_000, end_ms);
    let (n, d) = compare(&prom, "backtest", &whole);
    replayed += n;
    diffs.extend(d);
    let changes: Vec<&Value> = whole
        .iter()
        .filter(|v| v.get("summary").is_none() && !v["previous"].is_null())
        .collect();

    // report: the range is one window, measured at its end.
    let (from_s, to_s) = (begin_ms / 1000 + 2, end_ms / 1000);
    let range = (to_s - from_s) as f64;
    let reports = json_lines(&stdout_of(
        burnrate_cmd()
            .args([
                "report",
                specs,
                "--prometheus",
                &prom.url(),
                "--format",
                "json",
            ])
            .args(["--from", &from_s.to_string(), "--to", &to_s.to_string()])
            .args(["--step", "1s"]),
        0,
    ));
    let mut reported = 0;
    for (slo, sum) in [("all", "sum"), ("routes", "sum by (route)")] {
        let rate = format!("{sum} (rate({METRIC}{{job=\"app\"}}[{}s]))", to_s - from_s);
        let at = |expr: String| query(&prom, &expr, to_s * 1000);
        let fraction = at(format!("histogram_fraction(0, {THRESHOLD}, {rate})"));
        for (route, count) in at(format!("histogram_count({rate})")) {
            let f = fraction[&route];
            let r = reports
                .iter()
                .find(|v| instance_of(v) == (slo.to_string(), route.clone()))
                .unwrap_or_else(|| panic!("no report of {slo} {route:?}: {reports:#?}"));
            let l = &r["latency"];
            let want = [
                ("attainment", 1.0 - (1.0 - f)),
                ("budget_spent", (1.0 - f) / BUDGET),
                ("total_events", count * range),
                ("bad_events", count * (1.0 - f) * range),
            ];
            for (field, e) in want {
                if !l[field]
                    .as_f64()
                    .is_some_and(|g| close(e, g, REL_1E9_ABS_1E12))
                {
                    diffs.push(format!(
                        "report {slo} {route:?}: {field}: Prometheus {e}, burnrate {}",
                        l[field]
                    ));
                }
            }
            reported += 1;
        }
    }
    assert_eq!(reported, 3, "all, routes a and b: {reports:#?}");

    // run: every evaluation it served.
    let served: Vec<Value> = served.into_values().collect();
    let (ran, d) = compare(&prom, "run", &served);
    diffs.extend(d);

    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    // The incident was seen: route b and the whole burned past both levels, a never did.
    assert!(
        decisions.get("circuit_break").is_some_and(|n| *n > 0)
            && decisions.get("ok").is_some_and(|n| *n > 0),
        "{decisions:?}"
    );
    assert!(
        changes.iter().any(|v| v["decision"] == "circuit_break")
            && changes.iter().any(|v| v["decision"] == "ok"),
        "the replay escalates and recovers: {changes:#?}"
    );
    assert!(
        served.iter().any(|v| v["decision"] == "circuit_break"),
        "the daemon saw the incident"
    );
    assert!(
        checked >= 3 * 40
            && replayed >= 20
            && ran >= 3 * 30
            && recorded >= 9 * 40
            && broken_down >= 5
            && idle >= 4,
        "compared {checked} check ({idle} without traffic), {replayed} backtest, {ran} run evaluations, {broken_down} breakdowns and {recorded} recorded burns"
    );
    eprintln!(
        "compared {checked} check, {replayed} backtest, {ran} run evaluations ({idle} without traffic), {broken_down} breakdowns and {recorded} recorded burns over {} instants; decisions {decisions:?}",
        instants.len()
    );
}
