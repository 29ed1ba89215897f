//! VictoriaMetrics as a tested second backend.
//!
//! The demo history (`demo/map-update-history.om.gz`, 2026-11-16..18, scraped every 30 s) plus a
//! small synthetic service with two hours without any traffic (`vmtest`, written by this test
//! with tests/common/history.rs) is loaded into a private VictoriaMetrics 1.79 (import API) and,
//! backfilled with promtool, into a private Prometheus. `burnrate check` then runs against
//! both at many evaluation times T:
//!
//! - **VictoriaMetrics is the reference** for the numbers burnrate prints from it: every burn,
//!   `budget_remaining` and `no_traffic` must equal this test's own queries of the contract's
//!   reference expressions to the same VictoriaMetrics at the same T (relative error <= 1e-9),
//!   including the missing-bad-series rule and windows without traffic, where VictoriaMetrics
//!   answers `0/0` with *no* sample (Prometheus with `NaN`). T is on the 30 s sample grid:
//!   VictoriaMetrics's `rate()` does not extrapolate, so off the grid it differs from Prometheus.
//! - **Prometheus vs VictoriaMetrics** is reported, not asserted (run with `--nocapture`): the
//!   relative difference of every number, per window, on and off the sample grid. Decisions
//!   must agree except where a burn (from either backend) is within 5 % of a threshold.

mod common;

use burnrate::duration::PromDuration;
use burnrate::spec::{Rule, load::load_str, load_paths};
use common::history::{Counter, DAY, HOUR, Histogram, History, LogLogistic, MINUTE, rfc3339};
use common::prometheus::{self, Prometheus, demo_history_text};
use common::victoriametrics::{VictoriaMetrics, to_milliseconds};
use common::{REL_1E9, REL_1E9_ABS_1E12, close};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// 2026-11-16T00:00:00Z: the demo history's first sample.
const START: i64 = 1_794_787_200;
/// The demo history's last sample (2026-11-18T23:59:30Z).
const LAST: i64 = START + 3 * DAY - 30;
const SCRAPE: i64 = 30;
/// Decisions are compared between backends unless a burn is this close to a threshold.
const NEAR: f64 = 0.05;

// The synthetic `vmtest` service: two days, no traffic at all 10:00-12:00 on the first.
const VMTEST_DAYS: i64 = 2;
const IDLE: (i64, i64) = (START + 10 * HOUR, START + 12 * HOUR);
const ERROR_SPIKE: (i64, i64) = (START + 14 * HOUR, START + 14 * HOUR + 30 * MINUTE);
const SLOW: (i64, i64) = (START + 16 * HOUR, START + 17 * HOUR);

fn within(t: i64, (a, b): (i64, i64)) -> bool {
    a <= t && t < b
}

fn vmtest_rate(t: i64) -> f64 {
    if within(t, IDLE) { 0.0 } else { 4.0 }
}

const VMTEST_SPEC: &str = r#"# Written by tests/check_matches_victoriametrics.rs.
apiVersion: burnrate/v1
service: vmtest
labels: {team: sre}
slos:
  - name: requests
    period: 1d
    error:
      objective: 99
      bad:   vmtest_request_failures_total{job="vmtest"}
      total: vmtest_requests_total{job="vmtest"}
    latency:
      histogram: vmtest_request_duration_seconds{job="vmtest"}
      quantile: 0.99
      threshold: 200ms
    matrix:
      error:
        - {decision: circuit_break, burn: 5, long: 1h, short: 5m}
        - {decision: warn,          burn: 1, long: 1h}
      latency:
        - {decision: scale, burn: 2, long: 1h, short: 5m}
        - {decision: warn,  burn: 1, long: 30m}
"#;

fn vmtest_history() -> History {
    History::new(START, VMTEST_DAYS * DAY)
        .seed(1979)
        .counter(
            Counter::new("vmtest_requests_total")
                .label("job", "vmtest")
                .initial(50_000)
                .rate(vmtest_rate),
        )
        .counter(
            Counter::new("vmtest_request_failures_total")
                .label("job", "vmtest")
                .initial(150)
                .rate(|t| vmtest_rate(t) * if within(t, ERROR_SPIKE) { 0.08 } else { 0.003 }),
        )
        .histogram(
            Histogram::new("vmtest_request_duration_seconds")
                .label("job", "vmtest")
                .bounds(&["0.05", "0.1", "0.25", "0.5", "1"])
                .rate(vmtest_rate)
                .latency(|t| {
                    if within(t, SLOW) {
                        LogLogistic::from_median_p99(0.08, 0.6)
                    } else {
                        LogLogistic::from_median_p99(0.04, 0.15)
                    }
                }),
        )
}

// ---------------------------------------------------------------------------------------------
// The specs, as this test reads them (must agree with the YAML files)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct ErrorDim {
    objective: f64,
    bad: &'static str,
    total: &'static str,
    windows: &'static [&'static str],
    thresholds: &'static [f64],
}

#[derive(Clone, Debug)]
struct LatencyDim {
    /// `name{matchers}` without the `_bucket`/`_count` suffix, as `(name, matchers)`.
    metric: &'static str,
    matchers: &'static str,
    quantile: f64,
    threshold: f64,
    /// The finite bucket bounds, spelled as in the data.
    bounds: &'static [(f64, &'static str)],
    windows: &'static [&'static str],
    thresholds: &'static [f64],
}

#[derive(Clone, Debug)]
struct Slo {
    service: &'static str,
    name: &'static str,
    period: &'static str,
    min_events: Option<f64>,
    error: Option<ErrorDim>,
    latency: Option<LatencyDim>,
}

const DEMO_BOUNDS: &[(f64, &str)] = &[
    (0.005, "0.005"),
    (0.01, "0.01"),
    (0.025, "0.025"),
    (0.05, "0.05"),
    (0.1, "0.1"),
    (0.2, "0.2"),
    (0.4, "0.4"),
    (0.8, "0.8"),
    (1.6, "1.6"),
];
const LADDER_WINDOWS: &[&str] = &["5m", "30m", "1h", "6h", "3d"];
/// The default ladder at a 3d period: 14.4, 6 and 1 scaled by 3d/30d.
const LADDER_3D: &[f64] = &[1.44, 0.6, 0.1];

fn slos() -> Vec<Slo> {
    vec![
        // slo-specs/map-update.yaml
        Slo {
            service: "go-map",
            name: "map-update",
            period: "30d",
            min_events: Some(100.0),
            error: Some(ErrorDim {
                objective: 0.999,
                bad: "go_map_update_failure_total",
                total: "go_map_update_total",
                windows: &["1h"],
                thresholds: &[0.5, 0.8],
            }),
            latency: Some(LatencyDim {
                metric: "go_map_update_duration_seconds",
                matchers: "",
                quantile: 0.99,
                threshold: 0.2,
                bounds: DEMO_BOUNDS,
                windows: &["1h"],
                thresholds: &[0.3, 1.0],
            }),
        },
        // tests/fixtures/backtest/map-update-ladder.yaml
        Slo {
            service: "go-map-ladder",
            name: "all-updates",
            period: "3d",
            min_events: None,
            error: Some(ErrorDim {
                objective: 0.999,
                bad: "go_map_update_failure_total",
                total: "go_map_update_total",
                windows: LADDER_WINDOWS,
                thresholds: LADDER_3D,
            }),
            latency: Some(LatencyDim {
                metric: "go_map_update_duration_seconds",
                matchers: "",
                quantile: 0.99,
                threshold: 0.15,
                bounds: DEMO_BOUNDS,
                windows: LADDER_WINDOWS,
                thresholds: LADDER_3D,
            }),
        },
        Slo {
            service: "go-map-ladder",
            name: "hot-shard-sets",
            period: "7d",
            min_events: Some(500.0),
            error: Some(ErrorDim {
                objective: 0.998,
                bad: r#"go_map_update_failure_total{key_hash="80-ff",op_type=~"set|cas",error_class!="conflict"}"#,
                total: r#"go_map_update_total{key_hash="80-ff",op_type=~"set|cas"}"#,
                windows: &["5m", "30m", "2h"],
                thresholds: &[2.0, 1.0],
            }),
            latency: None,
        },
        // VMTEST_SPEC
        Slo {
            service: "vmtest",
            name: "requests",
            period: "1d",
            min_events: None,
            error: Some(ErrorDim {
                objective: 0.99,
                bad: r#"vmtest_request_failures_total{job="vmtest"}"#,
                total: r#"vmtest_requests_total{job="vmtest"}"#,
                windows: &["5m", "1h"],
                thresholds: &[5.0, 1.0],
            }),
            latency: Some(LatencyDim {
                metric: "vmtest_request_duration_seconds",
                matchers: r#"job="vmtest""#,
                quantile: 0.99,
                threshold: 0.2,
                bounds: &[
                    (0.05, "0.05"),
                    (0.1, "0.1"),
                    (0.25, "0.25"),
                    (0.5, "0.5"),
                    (1.0, "1"),
                ],
                windows: &["5m", "30m", "1h"],
                thresholds: &[2.0, 1.0],
            }),
        },
    ]
}

/// The restatement above against the files it restates: every SLO of `slos()` has the
/// service, name, period, `min_events`, objective or quantile, and matrix windows and burns
/// of its YAML (slo-specs/map-update.yaml, tests/fixtures/backtest/map-update-ladder.yaml,
/// `VMTEST_SPEC`), so an edit of a fixture cannot leave this test checking something else.
#[test]
fn restated_specs_agree_with_the_files() {
    let report = load_paths(&[
        PathBuf::from("slo-specs/map-update.yaml"),
        PathBuf::from("tests/fixtures/backtest/map-update-ladder.yaml"),
    ]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let (vmtest, diagnostics) = load_str(Path::new("vmtest.yaml"), VMTEST_SPEC);
    let mut specs = report.specs;
    specs.push(vmtest.unwrap_or_else(|| panic!("VMTEST_SPEC: {diagnostics:?}")));
    let millis = |w: &str| PromDuration::parse(w).unwrap().millis();
    // The distinct windows (long and short) and the distinct burns of a matrix, sorted.
    let matrix = |rules: &[Rule]| {
        let windows: BTreeSet<i64> = rules
            .iter()
            .flat_map(|r| {
                std::iter::once(r.long.millis()).chain(r.short.as_ref().map(|s| s.millis()))
            })
            .collect();
        let mut burns: Vec<f64> = rules.iter().map(|r| r.burn).collect();
        burns.sort_by(f64::total_cmp);
        burns.dedup();
        (windows, burns)
    };
    let restated = |windows: &[&str], thresholds: &[f64]| {
        let mut burns = thresholds.to_vec();
        burns.sort_by(f64::total_cmp);
        (
            windows.iter().map(|w| millis(w)).collect::<BTreeSet<i64>>(),
            burns,
        )
    };
    for slo in slos() {
        let what = format!("{}/{}", slo.service, slo.name);
        let spec = specs
            .iter()
            .filter(|s| s.service == slo.service)
            .flat_map(|s| &s.slos)
            .find(|s| s.name == slo.name)
            .unwrap_or_else(|| panic!("{what}: not in the files"));
        assert_eq!(spec.period.millis(), millis(slo.period), "{what}: period");
        assert_eq!(spec.min_events, slo.min_events, "{what}: min_events");
        assert_eq!(
            spec.error.is_some(),
            slo.error.is_some(),
            "{what}: error dimension"
        );
        if let (Some(file), Some(mine)) = (&spec.error, &slo.error) {
            assert!(
                close(file.objective, mine.objective, REL_1E9),
                "{what}: objective"
            );
            assert_eq!(
                matrix(&file.matrix),
                restated(mine.windows, mine.thresholds),
                "{what}: error matrix"
            );
        }
        assert_eq!(
            spec.latency.is_some(),
            slo.latency.is_some(),
            "{what}: latency dimension"
        );
        if let (Some(file), Some(mine)) = (&spec.latency, &slo.latency) {
            assert!(
                close(file.quantile, mine.quantile, REL_1E9),
                "{what}: quantile"
            );
            assert_eq!(
                matrix(&file.matrix),
                restated(mine.windows, mine.thresholds),
                "{what}: latency matrix"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The reference: VictoriaMetrics's own answers to the contract's expressions
// ---------------------------------------------------------------------------------------------

/// Expected numbers of one dimension at one time.
#[derive(Debug, Default)]
struct DimRef {
    burn: BTreeMap<String, Option<f64>>,
    no_traffic: BTreeSet<String>,
    budget_remaining: Option<f64>,
    quantile_seconds: BTreeMap<String, Option<f64>>,
    /// Windows where the literal division `bad/total` came back empty (VictoriaMetrics's 0/0).
    empty_division: usize,
}

struct Reference<'a> {
    vm: &'a VictoriaMetrics,
    t: i64,
    cache: HashMap<String, Option<f64>>,
    /// Bad-event selectors without series while the total had traffic.
    bad_absent_with_traffic: usize,
}

impl Reference<'_> {
    fn one(&mut self, expr: &str) -> Option<f64> {
        if let Some(v) = self.cache.get(expr) {
            return *v;
        }
        let v = self.vm.query_one(expr, self.t);
        self.cache.insert(expr.to_string(), v);
        v
    }

    /// `Some((bad ratio, total rate))`, `None` when the total has no series.
    fn error_ratio(&mut self, d: &ErrorDim, w: &str) -> Option<(f64, f64)> {
        let total = self.one(&format!("sum(rate({}[{w}]))", d.total))?;
        let bad = self.one(&format!("sum(rate({}[{w}]))", d.bad));
        if total == 0.0 {
            return Some((0.0, 0.0));
        }
        if bad.is_none() {
            self.bad_absent_with_traffic += 1;
        }
        Some((bad.unwrap_or(0.0) / total, total))
    }

    fn bucket(&mut self, d: &LatencyDim, le: &str, w: &str) -> Option<f64> {
        let sep = if d.matchers.is_empty() { "" } else { "," };
        self.one(&format!(
            "sum(rate({}_bucket{{{}{sep}le=\"{le}\"}}[{w}]))",
            d.metric, d.matchers
        ))
    }

    /// `1 - sum(rate(H_bucket{le="T"}[w])) / sum(rate(H_count[w]))`, `T` interpolated inside
    /// its bucket when it is not a bound.
    fn latency_ratio(&mut self, d: &LatencyDim, w: &str) -> Option<(f64, f64)> {
        let count = self.one(&format!(
            "sum(rate({}_count{{{}}}[{w}]))",
            d.metric, d.matchers
        ))?;
        if count == 0.0 {
            return Some((0.0, 0.0));
        }
        let good = match d.bounds.iter().find(|(b, _)| *b == d.threshold) {
            Some((_, le)) => self.bucket(d, le, w)?,
            None => {
                let i = d
                    .bounds
                    .iter()
                    .position(|(b, _)| *b > d.threshold)
                    .expect("threshold below the last bound");
                let (b, b_le) = d.bounds[i];
                let cb = self.bucket(d, b_le, w)?;
                let (a, ca) = if i == 0 {
                    (0.0, 0.0)
                } else {
                    (d.bounds[i - 1].0, self.bucket(d, d.bounds[i - 1].1, w)?)
                };
                ca + (cb - ca) * (d.threshold - a) / (b - a)
            }
        };
        Some((1.0 - good / count, count))
    }

    fn error_dim(&mut self, d: &ErrorDim, slo: &Slo) -> DimRef {
        let mut r = DimRef::default();
        for w in d.windows {
            let ratio = self.error_ratio(d, w);
            if let Some((_, total)) = ratio
                && total == 0.0
            {
                r.no_traffic.insert(w.to_string());
                // The contract's expression as one query: VictoriaMetrics drops the NaN of 0/0.
                let literal = format!(
                    "sum(rate({}[{w}])) / sum(rate({}[{w}])) / (1 - {})",
                    d.bad, d.total, d.objective
                );
                if self.vm.query_one(&literal, self.t).is_none() {
                    r.empty_division += 1;
                }
            }
            r.burn
                .insert(w.to_string(), ratio.map(|(x, _)| x / (1.0 - d.objective)));
        }
        r.budget_remaining = self
            .error_ratio(d, slo.period)
            .map(|(x, _)| 1.0 - x / (1.0 - d.objective));
        r
    }

    fn latency_dim(&mut self, d: &LatencyDim, slo: &Slo) -> DimRef {
        let mut r = DimRef::default();
        for w in d.windows {
            let ratio = self.latency_ratio(d, w);
            if let Some((_, count)) = ratio
                && count == 0.0
            {
                r.no_traffic.insert(w.to_string());
            }
            r.burn
                .insert(w.to_string(), ratio.map(|(x, _)| x / (1.0 - d.quantile)));
            let q = self.one(&format!(
                "histogram_quantile({}, sum by (le) (rate({}_bucket{{{}}}[{w}])))",
                d.quantile, d.metric, d.matchers
            ));
            r.quantile_seconds
                .insert(w.to_string(), q.filter(|v| v.is_finite()));
        }
        r.budget_remaining = self
            .latency_ratio(d, slo.period)
            .map(|(x, _)| 1.0 - x / (1.0 - d.quantile));
        r
    }
}

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

struct Run {
    code: Option<i32>,
    /// `(service, slo)` -> output object.
    slos: BTreeMap<(String, String), Value>,
    stderr: String,
}

fn run_check(specs: &[PathBuf], url: &str, t: i64) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_burnrate"));
    cmd.arg("check")
        .args(specs)
        .args([
            "--prometheus",
            url,
            "--at",
            &t.to_string(),
            "--format",
            "json",
        ])
        .env_remove("BURNRATE_PROMETHEUS_URL")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null());
    prometheus::kill_with_parent(&mut cmd);
    let out = cmd.output().expect("run burnrate check");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let slos = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            (
                (
                    v["service"].as_str().unwrap().to_string(),
                    v["slo"].as_str().unwrap().to_string(),
                ),
                v,
            )
        })
        .collect();
    Run {
        code: out.status.code(),
        slos,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("null".into(), |v| format!("{v:?}"))
}

#[derive(Default)]
struct Tally {
    failures: Vec<String>,
    burns_compared: usize,
    null_burns: usize,
    no_traffic_windows: usize,
    error_no_traffic_windows: usize,
    empty_divisions: usize,
    bad_absent_with_traffic: usize,
    quantiles_equal: usize,
    quantiles_differ: Vec<String>,
}

/// burnrate's output from VictoriaMetrics against VictoriaMetrics's own answers.
fn check_against_vm(vm: &VictoriaMetrics, slos: &[Slo], t: i64, run: &Run, tally: &mut Tally) {
    let ctx_t = format!("T={} ({t})", rfc3339(t));
    let mut r = Reference {
        vm,
        t,
        cache: HashMap::new(),
        bad_absent_with_traffic: 0,
    };
    for slo in slos {
        let ctx = format!("{ctx_t} {}/{}", slo.service, slo.name);
        let Some(v) = run
            .slos
            .get(&(slo.service.to_string(), slo.name.to_string()))
        else {
            tally.failures.push(format!(
                "{ctx}: not printed (exit {:?}; stderr: {})",
                run.code,
                run.stderr.trim()
            ));
            continue;
        };
        let mut dims: Vec<(&str, DimRef)> = Vec::new();
        if let Some(d) = &slo.error {
            dims.push(("error", r.error_dim(d, slo)));
        }
        if let Some(d) = &slo.latency {
            dims.push(("latency", r.latency_dim(d, slo)));
        }
        for (kind, exp) in dims {
            let got = &v[kind];
            let ctx = format!("{ctx} {kind}");
            let keys: BTreeSet<String> = got["burn"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            if keys != exp.burn.keys().cloned().collect() {
                tally.failures.push(format!(
                    "{ctx}: burn windows {keys:?}, expected {:?}",
                    exp.burn.keys()
                ));
            }
            for (w, e) in &exp.burn {
                let g = got["burn"][w].as_f64();
                let ok = match (e, g) {
                    (None, None) => got["burn"][w].is_null(),
                    (Some(e), Some(g)) => close(*e, g, REL_1E9_ABS_1E12),
                    _ => false,
                };
                tally.burns_compared += 1;
                tally.null_burns += usize::from(e.is_none());
                if !ok {
                    tally.failures.push(format!(
                        "{ctx}: burn[{w}]: VictoriaMetrics says {}, burnrate printed {}",
                        fmt_opt(*e),
                        got["burn"][w]
                    ));
                }
            }
            let nt: BTreeSet<String> = got["no_traffic"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            if nt != exp.no_traffic {
                tally.failures.push(format!(
                    "{ctx}: no_traffic {nt:?}, expected {:?}",
                    exp.no_traffic
                ));
            }
            tally.no_traffic_windows += exp.no_traffic.len();
            if kind == "error" {
                tally.error_no_traffic_windows += exp.no_traffic.len();
            }
            tally.empty_divisions += exp.empty_division;
            let g = got["budget_remaining"].as_f64();
            let ok = match (exp.budget_remaining, g) {
                (None, None) => true,
                (Some(e), Some(g)) => close(e, g, REL_1E9_ABS_1E12),
                _ => false,
            };
            if !ok {
                tally.failures.push(format!(
                    "{ctx}: budget_remaining: VictoriaMetrics says {}, burnrate printed {}",
                    fmt_opt(exp.budget_remaining),
                    got["budget_remaining"]
                ));
            }
            // quantile_seconds is computed by burnrate from the bucket rates, as
            // histogram_quantile does: reported against VictoriaMetrics's own function.
            if let Some(m) = got["quantile_seconds"].as_object() {
                for (w, g) in m {
                    let e = exp.quantile_seconds.get(w).copied().flatten();
                    match (e, g.as_f64()) {
                        (Some(e), Some(g)) if close(e, g, REL_1E9_ABS_1E12) => {
                            tally.quantiles_equal += 1
                        }
                        (None, None) => {}
                        (e, _) => tally.quantiles_differ.push(format!(
                            "{ctx} quantile[{w}]: VM {} vs burnrate {g}",
                            fmt_opt(e)
                        )),
                    }
                }
            }
        }
    }
    tally.bad_absent_with_traffic += r.bad_absent_with_traffic;
}

/// Relative differences of one number between the two backends, keyed by what it is.
#[derive(Default)]
struct Diffs {
    /// key -> (relative difference, T)
    values: BTreeMap<String, Vec<(f64, i64)>>,
    /// key -> times where one backend printed null and the other a number.
    null_mismatch: BTreeMap<String, Vec<i64>>,
}

impl Diffs {
    fn add(&mut self, key: String, t: i64, vm: &Value, prom: &Value) {
        match (vm.as_f64(), prom.as_f64()) {
            (Some(a), Some(b)) => {
                let scale = a.abs().max(b.abs());
                let rel = if scale == 0.0 {
                    0.0
                } else {
                    (a - b).abs() / scale
                };
                self.values.entry(key).or_default().push((rel, t));
            }
            (None, None) => {}
            _ => self.null_mismatch.entry(key).or_default().push(t),
        }
    }

    fn report(&self, title: &str) -> String {
        let mut out = format!(
            "{title}\n  {:<56} {:>5} {:>9} {:>11} {:>11}  worst at\n",
            "number", "n", ">1e-9", "median", "max"
        );
        for (k, v) in &self.values {
            let mut rel: Vec<f64> = v.iter().map(|(r, _)| *r).collect();
            rel.sort_by(f64::total_cmp);
            let (max, t_max) = v
                .iter()
                .copied()
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .unwrap();
            out.push_str(&format!(
                "  {k:<56} {:>5} {:>9} {:>11.3e} {:>11.3e}  {}\n",
                rel.len(),
                rel.iter().filter(|r| **r > 1e-9).count(),
                rel[rel.len() / 2],
                max,
                rfc3339(t_max)
            ));
        }
        for (k, ts) in &self.null_mismatch {
            out.push_str(&format!(
                "  {k:<56} null on one backend only at {} time(s), first {}\n",
                ts.len(),
                rfc3339(ts[0])
            ));
        }
        out
    }
}

/// Is any burn of this dimension (from either backend) within NEAR of one of its thresholds?
fn near_threshold(vm: &Value, prom: &Value, thresholds: &[f64]) -> bool {
    [vm, prom].iter().any(|d| {
        d["burn"].as_object().is_some_and(|m| {
            m.values()
                .filter_map(Value::as_f64)
                .any(|b| thresholds.iter().any(|th| (b - th).abs() <= NEAR * th))
        })
    })
}

#[derive(Default)]
struct Agreement {
    compared: usize,
    skipped_near_threshold: usize,
    disagreements: Vec<String>,
    exit_codes_compared: usize,
}

fn compare_backends(
    slos: &[Slo],
    t: i64,
    vm: &Run,
    prom: &Run,
    diffs: &mut Diffs,
    agree: &mut Agreement,
) {
    let mut all_clear = true;
    for slo in slos {
        let key = (slo.service.to_string(), slo.name.to_string());
        let (Some(a), Some(b)) = (vm.slos.get(&key), prom.slos.get(&key)) else {
            all_clear = false;
            continue;
        };
        let mut near = false;
        let dims = slo
            .error
            .as_ref()
            .map(|d| ("error", d.thresholds))
            .into_iter()
            .chain(slo.latency.as_ref().map(|d| ("latency", d.thresholds)));
        for (kind, thresholds) in dims {
            let (da, db) = (&a[kind], &b[kind]);
            let name = format!("{}/{} {kind}", slo.service, slo.name);
            for field in ["burn", "events", "quantile_seconds"] {
                if let Some(m) = da[field].as_object() {
                    for (w, x) in m {
                        diffs.add(format!("{name} {field}[{w}]"), t, x, &db[field][w]);
                    }
                }
            }
            diffs.add(
                format!("{name} budget_remaining[{}]", slo.period),
                t,
                &da["budget_remaining"],
                &db["budget_remaining"],
            );
            let dim_near = near_threshold(da, db, thresholds)
                || slo.min_events.is_some_and(|min| {
                    [da, db].iter().any(|d| {
                        d["events"].as_object().is_some_and(|m| {
                            m.values()
                                .filter_map(Value::as_f64)
                                .any(|e| (e - min).abs() <= NEAR * min)
                        })
                    })
                });
            if dim_near {
                near = true;
                continue;
            }
            if da["decision"] != db["decision"] {
                agree.disagreements.push(format!(
                    "T={} {name}: VictoriaMetrics {} (burn {}), Prometheus {} (burn {})",
                    rfc3339(t),
                    da["decision"],
                    da["burn"],
                    db["decision"],
                    db["burn"]
                ));
            }
        }
        if near {
            agree.skipped_near_threshold += 1;
            all_clear = false;
            continue;
        }
        agree.compared += 1;
        if a["decision"] != b["decision"] {
            agree.disagreements.push(format!(
                "T={} {}/{}: VictoriaMetrics {}, Prometheus {}",
                rfc3339(t),
                slo.service,
                slo.name,
                a["decision"],
                b["decision"]
            ));
        }
    }
    if all_clear {
        agree.exit_codes_compared += 1;
        if vm.code != prom.code {
            agree.disagreements.push(format!(
                "T={}: exit code {:?} from VictoriaMetrics, {:?} from Prometheus",
                rfc3339(t),
                vm.code,
                prom.code
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation times
// ---------------------------------------------------------------------------------------------

/// Grid-aligned (multiples of the 30 s scrape interval) times over the history.
fn grid_times() -> Vec<i64> {
    let mut ts: BTreeSet<i64> = BTreeSet::new();
    // The history's start: one sample, then windows filling up.
    ts.extend([
        START,
        START + 30,
        START + 60,
        START + 5 * MINUTE,
        START + 5 * MINUTE + 30,
        START + HOUR,
        START + HOUR + 30,
    ]);
    // The failure counters appear one by one in the first two hours (missing-bad-series rule).
    ts.extend([
        START + 450,
        START + 480,
        START + 1470,
        START + 1530,
        START + 2550,
        START + 8220,
        START + 8250,
    ]);
    // vmtest: traffic stops at 10:00 and resumes at 12:00.
    ts.extend([
        IDLE.0,
        IDLE.0 + 30,
        IDLE.0 + 5 * MINUTE,
        IDLE.0 + 5 * MINUTE + 30,
        IDLE.0 + 30 * MINUTE,
        IDLE.0 + HOUR + 30,
        IDLE.1 - 30,
    ]);
    ts.extend([
        IDLE.1,
        IDLE.1 + 30,
        IDLE.1 + 60,
        IDLE.1 + 5 * MINUTE,
        IDLE.1 + HOUR,
    ]);
    ts.extend([
        ERROR_SPIKE.0 + 10 * MINUTE,
        ERROR_SPIKE.1,
        SLOW.0 + 20 * MINUTE,
        SLOW.1,
    ]);
    // vmtest ends after two days.
    let vm_end = START + VMTEST_DAYS * DAY;
    ts.extend([
        vm_end - 30,
        vm_end,
        vm_end + 5 * MINUTE,
        vm_end + HOUR,
        vm_end + HOUR + 30,
    ]);
    // The demo incident on day 2 (13:45-15:05) and the scale on day 3 at 03:22, every 5 minutes.
    ts.extend((0..38).map(|i| START + DAY + 13 * HOUR + 30 * MINUTE + i * 5 * MINUTE));
    ts.extend((0..10).map(|i| START + 2 * DAY + 3 * HOUR + i * 10 * MINUTE));
    // Spread over the three days at pseudo-random grid points.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..40 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ts.insert(START + (x % (3 * DAY as u64 / SCRAPE as u64)) as i64 * SCRAPE);
    }
    ts.insert(LAST);
    ts.into_iter()
        .filter(|t| (START..=LAST).contains(t))
        .collect()
}

/// A few times off the sample grid, for the report only.
fn off_grid_times() -> Vec<i64> {
    [7, 15, 29]
        .iter()
        .flat_map(|off| {
            [
                START + 90,
                START + 6 * HOUR,
                IDLE.1 + 60,
                START + DAY + 14 * HOUR,
                START + DAY + 15 * HOUR,
                START + 2 * DAY + 3 * HOUR + 30 * MINUTE,
            ]
            .map(|t| t + off)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

fn history_text(dir: &Path) -> String {
    let demo = demo_history_text();
    let synthetic = dir.join("vmtest.om");
    vmtest_history().write_openmetrics(&synthetic);
    let synthetic = std::fs::read_to_string(&synthetic).unwrap();
    let strip_eof = |s: &str| {
        s.lines()
            .filter(|l| l.trim() != "# EOF")
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    format!("{}{}# EOF\n", strip_eof(&demo), strip_eof(&synthetic))
}

#[test]
fn timestamps_are_converted_to_milliseconds() {
    assert_eq!(
        to_milliseconds("a_total 5 1794787200").as_deref(),
        Some("a_total 5 1794787200000")
    );
    assert_eq!(
        to_milliseconds("a_total 5 1794787200.25").as_deref(),
        Some("a_total 5 1794787200250")
    );
    assert_eq!(
        to_milliseconds(r#"h_bucket{le="0.2",x="a b}"} 7 1794787230"#).as_deref(),
        Some(r#"h_bucket{le="0.2",x="a b}"} 7 1794787230000"#)
    );
    assert_eq!(to_milliseconds("a 1").as_deref(), Some("a 1"));
    assert_eq!(
        to_milliseconds(r#"a_total 5 1794787200 # {trace_id="x"} 1 1794787200"#).as_deref(),
        Some("a_total 5 1794787200000")
    );
    assert_eq!(to_milliseconds("# EOF"), None);
    assert_eq!(to_milliseconds(""), None);
}

#[test]
fn check_matches_victoriametrics_and_agrees_with_prometheus() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let text = history_text(dir.path());
    let om = dir.path().join("history.om");
    std::fs::write(&om, &text).unwrap();
    let spec = dir.path().join("vmtest.yaml");
    std::fs::write(&spec, VMTEST_SPEC).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let specs = vec![
        root.join("slo-specs/map-update.yaml"),
        root.join("tests/fixtures/backtest/map-update-ladder.yaml"),
        spec,
    ];

    let vm = VictoriaMetrics::start();
    let stats = vm.import_openmetrics(&text);
    let blocks = dir.path().join("blocks");
    prometheus::backfill_with_block_duration(&om, &blocks, Some("24h"));
    let prom = Prometheus::start(&blocks);
    let loaded = started.elapsed();
    // Every sample is searchable: the number of samples of one series over the history.
    let n = vm.query_one(
        "count_over_time(go_map_update_total{op_type=\"set\",key_hash=\"00-7f\"}[3d])",
        LAST,
    );
    assert_eq!(
        n,
        Some((3 * DAY / SCRAPE) as f64),
        "VictoriaMetrics sees every imported sample"
    );

    let slos = slos();
    let grid = grid_times();
    let off_grid = off_grid_times();
    let times: Vec<(i64, bool)> = grid
        .iter()
        .map(|t| (*t, true))
        .chain(off_grid.iter().map(|t| (*t, false)))
        .collect();

    // Both backends at every time, two workers (burnrate runs are independent processes).
    let runs: Vec<(i64, bool, Run, Run)> = std::thread::scope(|s| {
        let chunks: Vec<Vec<(i64, bool)>> = (0..2)
            .map(|k| times.iter().skip(k).step_by(2).copied().collect())
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (specs, vm_url, prom_url) = (&specs, vm.url(), prom.url());
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(t, on_grid)| {
                            (
                                t,
                                on_grid,
                                run_check(specs, &vm_url, t),
                                run_check(specs, &prom_url, t),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_by_key(|r| r.0);
        all
    });
    let ran = started.elapsed();

    let mut tally = Tally::default();
    let (mut on, mut off) = (Diffs::default(), Diffs::default());
    let mut agree = Agreement::default();
    let mut decisions: BTreeMap<String, usize> = BTreeMap::new();
    for (t, on_grid, vm_run, prom_run) in &runs {
        for code in [vm_run.code, prom_run.code] {
            assert!(
                matches!(code, Some(0..=4)),
                "T={t}: exit {code:?}: {} {}",
                vm_run.stderr,
                prom_run.stderr
            );
        }
        for v in vm_run.slos.values() {
            *decisions
                .entry(v["decision"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        if *on_grid {
            check_against_vm(&vm, &slos, *t, vm_run, &mut tally);
            compare_backends(&slos, *t, vm_run, prom_run, &mut on, &mut agree);
        } else {
            compare_backends(
                &slos,
                *t,
                vm_run,
                prom_run,
                &mut off,
                &mut Agreement::default(),
            );
        }
    }
    // Prometheus answers 0/0 with NaN where VictoriaMetrics has no sample at all.
    let idle_t = IDLE.0 + 30 * MINUTE;
    let zero_over_zero =
        "sum(rate(vmtest_request_failures_total[5m])) / sum(rate(vmtest_requests_total[5m]))";
    let prom_nan = prom.query_one(zero_over_zero, idle_t);
    let vm_empty = vm.query_one(zero_over_zero, idle_t);

    eprintln!(
        "VictoriaMetrics: {} samples in {} request(s); Prometheus backfilled; loaded in {loaded:.1?}; {} grid and {} off-grid times, \
         {} burnrate runs in {:.1?}; compared in {:.1?}",
        stats.samples,
        stats.requests,
        grid.len(),
        off_grid.len(),
        2 * times.len(),
        ran - loaded,
        started.elapsed() - ran
    );
    eprintln!(
        "against VictoriaMetrics's own answers: {} burns ({} null), {} no_traffic windows ({} with an empty 0/0 division), \
         {} bad-selector-absent-with-traffic windows; decisions seen {decisions:?}; quantile_seconds equal to VM's \
         histogram_quantile: {}, different: {}",
        tally.burns_compared,
        tally.null_burns,
        tally.no_traffic_windows,
        tally.empty_divisions,
        tally.bad_absent_with_traffic,
        tally.quantiles_equal,
        tally.quantiles_differ.len()
    );
    for q in tally.quantiles_differ.iter().take(5) {
        eprintln!("  {q}");
    }
    eprintln!(
        "0/0 at {}: Prometheus {:?}, VictoriaMetrics {:?}",
        rfc3339(idle_t),
        prom_nan,
        vm_empty
    );
    eprintln!("{}", on.report("VictoriaMetrics vs Prometheus, on the 30 s grid (relative difference of burnrate's numbers):"));
    eprintln!(
        "{}",
        off.report("VictoriaMetrics vs Prometheus, off the grid (T = grid + 7, 15, 29 s):")
    );
    eprintln!(
        "decisions: {} SLO decisions compared, {} skipped (a burn within {:.0}% of a threshold), {} exit codes compared",
        agree.compared,
        agree.skipped_near_threshold,
        NEAR * 100.0,
        agree.exit_codes_compared
    );

    assert!(
        tally.failures.is_empty(),
        "{} mismatch(es) against VictoriaMetrics:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    assert!(
        agree.disagreements.is_empty(),
        "decisions differ between backends:\n{}",
        agree.disagreements.join("\n")
    );
    // The scenarios were exercised.
    assert!(
        tally.no_traffic_windows >= 10,
        "no_traffic windows: {}",
        tally.no_traffic_windows
    );
    assert!(
        tally.empty_divisions > 0,
        "VictoriaMetrics's 0/0 was exercised"
    );
    assert_eq!(
        tally.empty_divisions, tally.error_no_traffic_windows,
        "every error window without traffic is an empty 0/0 in VictoriaMetrics"
    );
    assert!(
        prom_nan.is_some_and(f64::is_nan),
        "Prometheus: 0/0 is NaN, got {prom_nan:?}"
    );
    assert_eq!(vm_empty, None, "VictoriaMetrics: 0/0 is no sample");
    assert!(
        tally.bad_absent_with_traffic > 0,
        "missing-bad-series rule exercised"
    );
    assert!(tally.null_burns > 0, "windows without data exercised");
    for d in ["ok", "no_data", "warn", "circuit_break"] {
        assert!(
            decisions.contains_key(d),
            "decision {d} seen: {decisions:?}"
        );
    }
    assert!(
        agree.compared > 100,
        "decisions compared: {}",
        agree.compared
    );
}
