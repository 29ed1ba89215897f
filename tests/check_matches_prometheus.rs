// `burnrate check` prints exactly what Prometheus computes.
//
// A deterministic synthetic history (tests/common/history.rs) covering nine scenarios, one
// service per spec file in tests/fixtures/check/, is generated once per test binary,
// backfilled with promtool, and served by a private Prometheus on loopback. The real binary
// then runs `check tests/fixtures/check --at T --format json` at many times T, and every
// number it prints is compared with this test's own queries to the same Prometheus at the
// same T (relative error <= 1e-9), every decision with an independent implementation of the
// contract's matrix, and the exit code with the contract's mapping.
//
// The scenarios (times are on 2026-11-04, the history's fourth day, unless said otherwise):
//   1 checkout      fast error spike, ~5% errors 09:00-09:20; default ladder, errors+latency
//   2 search        slow burn, ~0.15% errors from Nov 2 12:00 to Nov 3 12:00; explicit matrix
//   3 catalog       P99 120ms -> 450ms from 02:00 to 06:00; threshold on a bound (200ms) and
//                   between bounds (300ms, interpolated)
//   4 inventory     inventory-0 restarts at 14:00 (counters drop to ~0); inventory-1 not
//                   scraped 18:00-18:10
//   5 reports       no traffic at all 01:00-03:00 (errors and latency)
//   6 ledger        ~1 request/minute, min_events 50; outages 04:20 (trough) and 07:20 (peak)
//   7 gateway       two instances spell `le` differently ("0.5" vs "0.50", "1" vs "1.0")
//   8 notifications the failure counter exists only from the first failure, 15:00
//   9 billing       raw bad_query/total_query with {{.window}}; timeout spike 20:00-20:30

#![allow(unsafe_code, reason = "libc: kill(pid, 0) (is a process alive?)")]

mod common;
#[path = "check_matches_prometheus/incremental.rs"]
mod incremental;

use common::history::{Counter, DAY, HOUR, Histogram, History, LogLogistic, MINUTE, rfc3339, unix};
use common::prometheus::{self, Prometheus};
use common::{REL_1E9_ABS_1E12, close};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The synthetic history
// ---------------------------------------------------------------------------------------------

/// 2026-11-01T00:00:00Z.
const START: i64 = 1_793_491_200;
const DURATION: i64 = 4 * DAY;
const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/check");

/// `day` days, `h` hours and `m` minutes after the start (day 3 is 2026-11-04).
const fn at(day: i64, h: i64, m: i64) -> i64 {
    START + day * DAY + h * HOUR + m * MINUTE
}

// 1 checkout
const CHECKOUT_SPIKE: (i64, i64) = (at(3, 9, 0), at(3, 9, 20));
// 2 search
const SEARCH_SLOW_BURN: (i64, i64) = (at(1, 12, 0), at(2, 12, 0));
// 3 catalog
const CATALOG_FROM: i64 = at(2, 0, 0);
// 4 inventory
const INVENTORY_FROM: i64 = at(2, 12, 0);
const INVENTORY_RESTART: i64 = at(3, 14, 0);
const INVENTORY_GAP: (i64, i64) = (at(3, 18, 0), at(3, 18, 10));
// 5..9 exist on the last day only
const LAST_DAY: i64 = at(3, 0, 0);
const REPORTS_IDLE: (i64, i64) = (at(3, 1, 0), at(3, 3, 0));
const LEDGER_OUTAGES: [(i64, i64); 2] =
    [(at(3, 4, 20), at(3, 4, 35)), (at(3, 7, 20), at(3, 7, 35))];
const GATEWAY_SLOW: (i64, i64) = (at(3, 10, 0), at(3, 12, 0));
const NOTIFY_FIRST_FAILURE: i64 = at(3, 15, 0);
const BILLING_TIMEOUTS: (i64, i64) = (at(3, 20, 0), at(3, 20, 30));

fn within(t: i64, (from, to): (i64, i64)) -> bool {
    from <= t && t < to
}

/// Daily cycle peaking at 12:00 UTC: `base * (1 +- amplitude)`.
fn diurnal(t: i64, base: f64, amplitude: f64) -> f64 {
    let phase = 2.0 * PI * ((t - START).rem_euclid(DAY)) as f64 / DAY as f64;
    base * (1.0 + amplitude * (phase - PI / 2.0).sin())
}

/// Piecewise-linear through `points` (time, value), constant outside.
fn ramp(t: i64, points: &[(i64, f64)]) -> f64 {
    if t <= points[0].0 {
        return points[0].1;
    }
    for w in points.windows(2) {
        let ((t0, v0), (t1, v1)) = (w[0], w[1]);
        if t <= t1 {
            return v0 + (v1 - v0) * (t - t0) as f64 / (t1 - t0) as f64;
        }
    }
    points[points.len() - 1].1
}

fn checkout_rate(t: i64) -> f64 {
    diurnal(t, 40.0, 0.5)
}
fn checkout_error_ratio(t: i64) -> f64 {
    if within(t, CHECKOUT_SPIKE) {
        0.05
    } else {
        0.0002
    }
}
fn search_rate(t: i64) -> f64 {
    diurnal(t, 25.0, 0.3)
}
fn search_error_ratio(t: i64) -> f64 {
    if within(t, SEARCH_SLOW_BURN) {
        0.0015
    } else {
        0.0002
    }
}
fn catalog_latency(t: i64) -> LogLogistic {
    let knots = |lo: f64, hi: f64| {
        [
            (at(3, 2, 0), lo),
            (at(3, 3, 0), hi),
            (at(3, 5, 0), hi),
            (at(3, 6, 0), lo),
        ]
    };
    LogLogistic::from_median_p99(ramp(t, &knots(0.040, 0.050)), ramp(t, &knots(0.120, 0.450)))
}
fn reports_rate(t: i64) -> f64 {
    if within(t, REPORTS_IDLE) { 0.0 } else { 3.0 }
}
fn ledger_rate(t: i64) -> f64 {
    let phase = 2.0 * PI * ((t - START).rem_euclid(6 * HOUR)) as f64 / (6 * HOUR) as f64;
    (1.0 + 0.8 * phase.sin()) / 60.0
}

/// The history all scenarios share.
fn build_history() -> History {
    let std_bounds = ["0.05", "0.1", "0.25", "0.5", "1", "2.5"];
    let mut h = History::new(START, DURATION).seed(20261101);

    // 1 checkout: a requests counter by status code, and a latency histogram.
    h = h
        .counter(
            Counter::new("http_requests_total")
                .label("job", "checkout")
                .label("code", "200")
                .initial(48_000_000)
                .rate(|t| checkout_rate(t) * (1.0 - checkout_error_ratio(t))),
        )
        .counter(
            Counter::new("http_requests_total")
                .label("job", "checkout")
                .label("code", "503")
                .initial(9_600)
                .rate(|t| checkout_rate(t) * checkout_error_ratio(t)),
        )
        .histogram(
            Histogram::new("http_request_duration_seconds")
                .label("job", "checkout")
                .bounds(&std_bounds)
                .rate(checkout_rate)
                .latency(|t| {
                    if within(t, CHECKOUT_SPIKE) {
                        LogLogistic::from_median_p99(0.08, 0.35)
                    } else {
                        LogLogistic::from_median_p99(0.06, 0.18)
                    }
                }),
        );

    // 2 search: separate requests and errors counters.
    h = h
        .counter(
            Counter::new("search_requests_total")
                .label("job", "search")
                .initial(7_000_000)
                .rate(search_rate),
        )
        .counter(
            Counter::new("search_request_errors_total")
                .label("job", "search")
                .initial(1_400)
                .rate(|t| search_rate(t) * search_error_ratio(t)),
        );

    // 3 catalog: latency only, from day 3 on.
    h = h.histogram(
        Histogram::new("catalog_request_duration_seconds")
            .label("job", "catalog")
            .bounds(&["0.025", "0.05", "0.1", "0.2", "0.25", "0.5", "1", "2.5"])
            .starts_at(CATALOG_FROM)
            .rate(|t| diurnal(t, 30.0, 0.4))
            .latency(catalog_latency),
    );

    // 4 inventory: two instances; inventory-0 restarts (both counters reset), inventory-1 has
    // a scrape gap.
    for instance in ["inventory-0", "inventory-1"] {
        let restarted = instance == "inventory-0";
        let error_ratio = move |t: i64| {
            if restarted && within(t, (INVENTORY_RESTART, INVENTORY_RESTART + 10 * MINUTE)) {
                0.05
            } else {
                0.0003
            }
        };
        let mut requests = Counter::new("inventory_requests_total")
            .label("job", "inventory")
            .label("instance", instance)
            .starts_at(INVENTORY_FROM)
            .initial(3_100_000)
            .rate(|_| 20.0);
        let mut errors = Counter::new("inventory_request_errors_total")
            .label("job", "inventory")
            .label("instance", instance)
            .starts_at(INVENTORY_FROM)
            .initial(950)
            .rate(move |t| 20.0 * error_ratio(t));
        if restarted {
            requests = requests.reset_at(INVENTORY_RESTART);
            errors = errors.reset_at(INVENTORY_RESTART);
        } else {
            requests = requests.gap(INVENTORY_GAP.0, INVENTORY_GAP.1);
            errors = errors.gap(INVENTORY_GAP.0, INVENTORY_GAP.1);
        }
        h = h.counter(requests).counter(errors);
    }

    // 5 reports: two hours without any request.
    h = h
        .counter(
            Counter::new("reports_requests_total")
                .label("job", "reports")
                .starts_at(LAST_DAY)
                .rate(reports_rate),
        )
        .counter(
            Counter::new("reports_request_errors_total")
                .label("job", "reports")
                .starts_at(LAST_DAY)
                .rate(|t| reports_rate(t) * 0.002),
        )
        .histogram(
            Histogram::new("reports_request_duration_seconds")
                .label("job", "reports")
                .bounds(&["0.1", "0.5", "1", "5"])
                .starts_at(LAST_DAY)
                .rate(reports_rate)
                .latency(|_| LogLogistic::from_median_p99(0.2, 1.5)),
        );

    // 6 ledger: about one request a minute; every request fails during the outages.
    h = h
        .counter(
            Counter::new("ledger_transactions_total")
                .label("job", "ledger")
                .starts_at(LAST_DAY)
                .rate(ledger_rate),
        )
        .counter(
            Counter::new("ledger_transaction_failures_total")
                .label("job", "ledger")
                .starts_at(LAST_DAY)
                .rate(|t| {
                    if LEDGER_OUTAGES.iter().any(|&o| within(t, o)) {
                        ledger_rate(t)
                    } else {
                        0.0
                    }
                }),
        );

    // 7 gateway: the same histogram from two instances with different `le` spellings.
    for (instance, bounds) in [
        ("gateway-0", ["0.05", "0.1", "0.25", "0.5", "1", "2.5"]),
        (
            "gateway-1",
            ["0.050", "0.10", "0.250", "0.50", "1.0", "2.50"],
        ),
    ] {
        let degrades = instance == "gateway-1";
        h = h.histogram(
            Histogram::new("gateway_request_duration_seconds")
                .label("job", "gateway")
                .label("instance", instance)
                .bounds(&bounds)
                .starts_at(LAST_DAY)
                .rate(|_| 15.0)
                .latency(move |t| {
                    if degrades && within(t, GATEWAY_SLOW) {
                        LogLogistic::from_median_p99(0.10, 1.5)
                    } else {
                        LogLogistic::from_median_p99(0.06, 0.30)
                    }
                }),
        );
    }

    // 8 notifications: the failures counter appears with the first failure.
    h = h
        .counter(
            Counter::new("notifications_delivery_attempts_total")
                .label("job", "notifier")
                .starts_at(LAST_DAY)
                .rate(|_| 10.0),
        )
        .counter(
            Counter::new("notifications_delivery_failures_total")
                .label("job", "notifier")
                .starts_at(LAST_DAY)
                .absent_until_first_increment()
                .rate(|t| {
                    if t >= NOTIFY_FIRST_FAILURE {
                        10.0 * 0.005
                    } else {
                        0.0
                    }
                }),
        );

    // 9 billing: failures by reason; declines do not count against the SLO.
    h = h
        .counter(
            Counter::new("billing_charges_total")
                .label("job", "billing")
                .starts_at(LAST_DAY)
                .rate(|_| 5.0),
        )
        .counter(
            Counter::new("billing_charge_failures_total")
                .label("job", "billing")
                .label("reason", "declined")
                .starts_at(LAST_DAY)
                .rate(|_| 5.0 * 0.03),
        )
        .counter(
            Counter::new("billing_charge_failures_total")
                .label("job", "billing")
                .label("reason", "timeout")
                .starts_at(LAST_DAY)
                .rate(|t| {
                    5.0 * if within(t, BILLING_TIMEOUTS) {
                        0.03
                    } else {
                        0.0005
                    }
                }),
        );
    h
}

/// Generated history and its TSDB blocks, once per test binary.
struct Fixture {
    blocks: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        remove_stale_dirs(base, "check_matches_prometheus-");
        let dir = base.join(format!("check_matches_prometheus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let started = Instant::now();
        let history = build_history();
        let om = dir.join("history.om.txt");
        let stats = history.write_openmetrics(&om);
        let generated = started.elapsed();
        let blocks = dir.join("blocks");
        prometheus::backfill_with_block_duration(&om, &blocks, Some("24h"));
        // The text is ~25 MB, the blocks ~1 MB: keep only the blocks unless asked.
        if std::env::var_os("BURNRATE_TEST_KEEP_HISTORY").is_none() {
            let _ = std::fs::remove_file(&om);
        }
        eprintln!(
            "history: {} series, {} samples, {:.1} MB, generated in {:.2?}, backfilled in {:.2?}",
            stats.series,
            stats.samples,
            stats.bytes as f64 / 1e6,
            generated,
            started.elapsed() - generated
        );
        Fixture { blocks }
    })
}

/// Remove `prefix<pid>` directories left by earlier runs whose process is gone.
fn remove_stale_dirs(base: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The specs, as this test reads them (must agree with tests/fixtures/check/*.yaml)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Decision {
    Ok,
    Warn,
    Scale,
    CircuitBreak,
    NoData,
}

impl Decision {
    fn name(self) -> &'static str {
        match self {
            Decision::Ok => "ok",
            Decision::Warn => "warn",
            Decision::Scale => "scale",
            Decision::CircuitBreak => "circuit_break",
            Decision::NoData => "no_data",
        }
    }
    /// Severity for the SLO decision (no_data stands apart: handled by the callers).
    fn severity(self) -> u8 {
        match self {
            Decision::Ok | Decision::NoData => 0,
            Decision::Warn => 1,
            Decision::Scale => 2,
            Decision::CircuitBreak => 3,
        }
    }
    /// Rank for the exit code: the most severe decision wins; no_data only when nothing is
    /// more severe (so above ok, below warn).
    fn exit_rank(self) -> u8 {
        match self {
            Decision::Ok => 0,
            Decision::NoData => 1,
            Decision::Warn => 2,
            Decision::Scale => 3,
            Decision::CircuitBreak => 4,
        }
    }
    fn exit_code(self) -> i32 {
        match self {
            Decision::Ok => 0,
            Decision::Warn => 1,
            Decision::Scale => 2,
            Decision::CircuitBreak => 3,
            Decision::NoData => 4,
        }
    }
}

#[derive(Clone, Debug)]
struct Rule {
    decision: Decision,
    factor: f64,
    long: String,
    short: Option<String>,
}

fn rule(decision: Decision, factor: f64, long: &str, short: Option<&str>) -> Rule {
    Rule {
        decision,
        factor,
        long: long.into(),
        short: short.map(Into::into),
    }
}

/// The default ladder at period `period`: SRE Workbook table 5-8 scaled as Sloth does.
fn default_ladder(period: &str, latency: bool) -> Vec<Rule> {
    let p = duration_secs(period) as f64;
    vec![
        rule(
            Decision::CircuitBreak,
            0.02 * p / duration_secs("1h") as f64,
            "1h",
            Some("5m"),
        ),
        rule(
            if latency {
                Decision::Scale
            } else {
                Decision::Warn
            },
            0.05 * p / duration_secs("6h") as f64,
            "6h",
            Some("30m"),
        ),
        rule(
            Decision::Warn,
            0.1 * p / duration_secs("3d") as f64,
            "3d",
            Some("6h"),
        ),
    ]
}

#[derive(Clone, Debug)]
enum ErrorSource {
    Selectors {
        bad: String,
        total: String,
    },
    /// Raw PromQL with `{{.window}}`.
    Raw {
        bad: String,
        total: String,
    },
}

#[derive(Clone, Debug)]
struct ErrorDim {
    objective: f64, // ratio, e.g. 0.999
    source: ErrorSource,
    matrix: Vec<Rule>,
}

#[derive(Clone, Debug)]
struct LatencyDim {
    metric: String,
    /// Label matchers of the histogram selector, without braces.
    matchers: String,
    quantile: f64,
    threshold: f64,
    /// Finite bucket bounds and every `le` spelling of each in the data.
    bounds: Vec<(f64, Vec<&'static str>)>,
    matrix: Vec<Rule>,
}

#[derive(Clone, Debug)]
struct Slo {
    service: &'static str,
    name: &'static str,
    labels: Vec<(&'static str, &'static str)>,
    period: &'static str,
    min_events: Option<f64>,
    error: Option<ErrorDim>,
    latency: Option<LatencyDim>,
}

fn sel(bad: &str, total: &str) -> ErrorSource {
    ErrorSource::Selectors {
        bad: bad.into(),
        total: total.into(),
    }
}

fn bounds(list: &[(f64, &[&'static str])]) -> Vec<(f64, Vec<&'static str>)> {
    list.iter().map(|(v, s)| (*v, s.to_vec())).collect()
}

fn specs() -> Vec<Slo> {
    use Decision::*;
    let std_bounds = bounds(&[
        (0.05, &["0.05"]),
        (0.1, &["0.1"]),
        (0.25, &["0.25"]),
        (0.5, &["0.5"]),
        (1.0, &["1"]),
        (2.5, &["2.5"]),
    ]);
    let catalog_bounds = bounds(&[
        (0.025, &["0.025"]),
        (0.05, &["0.05"]),
        (0.1, &["0.1"]),
        (0.2, &["0.2"]),
        (0.25, &["0.25"]),
        (0.5, &["0.5"]),
        (1.0, &["1"]),
        (2.5, &["2.5"]),
    ]);
    let latency = |metric: &str,
                   job: &str,
                   quantile: f64,
                   threshold: f64,
                   b: &Vec<(f64, Vec<&'static str>)>,
                   matrix| {
        LatencyDim {
            metric: metric.into(),
            matchers: format!("job=\"{job}\""),
            quantile,
            threshold,
            bounds: b.clone(),
            matrix,
        }
    };
    vec![
        Slo {
            service: "checkout",
            name: "requests",
            labels: vec![("team", "payments")],
            period: "30d",
            min_events: None,
            error: Some(ErrorDim {
                objective: 0.999,
                source: sel(r#"http_requests_total{job="checkout",code=~"5.."}"#, r#"http_requests_total{job="checkout"}"#),
                matrix: default_ladder("30d", false),
            }),
            latency: Some(latency(
                "http_request_duration_seconds",
                "checkout",
                0.99,
                0.25,
                &std_bounds,
                default_ladder("30d", true),
            )),
        },
        Slo {
            service: "search",
            name: "queries",
            labels: vec![("team", "discovery")],
            period: "28d",
            min_events: None,
            error: Some(ErrorDim {
                objective: 0.999,
                source: sel(r#"search_request_errors_total{job="search"}"#, r#"search_requests_total{job="search"}"#),
                matrix: vec![rule(CircuitBreak, 14.4, "1h", Some("5m")), rule(Warn, 1.0, "1d", Some("2h"))],
            }),
            latency: None,
        },
        Slo {
            service: "catalog",
            name: "latency-200ms",
            labels: vec![("team", "discovery")],
            period: "7d",
            min_events: None,
            error: None,
            latency: Some(latency(
                "catalog_request_duration_seconds",
                "catalog",
                0.99,
                0.2,
                &catalog_bounds,
                vec![
                    rule(CircuitBreak, 10.0, "1h", Some("5m")),
                    rule(Scale, 3.0, "1h", Some("5m")),
                    rule(Warn, 1.0, "6h", Some("30m")),
                ],
            )),
        },
        Slo {
            service: "catalog",
            name: "latency-300ms",
            labels: vec![("team", "discovery")],
            period: "7d",
            min_events: None,
            error: None,
            latency: Some(latency(
                "catalog_request_duration_seconds",
                "catalog",
                0.99,
                0.3,
                &catalog_bounds,
                default_ladder("7d", true),
            )),
        },
        Slo {
            service: "inventory",
            name: "stock-api",
            labels: vec![("team", "fulfilment")],
            period: "30d",
            min_events: None,
            error: Some(ErrorDim {
                objective: 0.999,
                source: sel(
                    r#"inventory_request_errors_total{job="inventory"}"#,
                    r#"inventory_requests_total{job="inventory"}"#,
                ),
                matrix: vec![rule(CircuitBreak, 14.4, "1h", Some("5m")), rule(Warn, 3.0, "1h", None)],
            }),
            latency: None,
        },
        Slo {
            service: "reports",
            name: "exports",
            labels: vec![("team", "finance")],
            period: "30d",
            min_events: None,
            error: Some(ErrorDim {
                objective: 0.99,
                source: sel(r#"reports_request_errors_total{job="reports"}"#, r#"reports_requests_total{job="reports"}"#),
                matrix: default_ladder("30d", false),
            }),
            latency: Some(latency(
                "reports_request_duration_seconds",
                "reports",
                0.95,
                1.0,
                &bounds(&[(0.1, &["0.1"]), (0.5, &["0.5"]), (1.0, &["1"]), (5.0, &["5"])]),
                default_ladder("30d", true),
            )),
        },
        Slo {
            service: "ledger",
            name: "postings",
            labels: vec![("team", "finance")],
            period: "30d",
            min_events: Some(50.0),
            error: Some(ErrorDim {
                objective: 0.999,
                source: sel(
                    r#"ledger_transaction_failures_total{job="ledger"}"#,
                    r#"ledger_transactions_total{job="ledger"}"#,
                ),
                matrix: vec![rule(CircuitBreak, 14.4, "1h", Some("5m")), rule(Warn, 2.0, "6h", Some("30m"))],
            }),
            latency: None,
        },
        Slo {
            service: "gateway",
            name: "routing",
            labels: vec![("team", "edge")],
            period: "30d",
            min_events: None,
            error: None,
            latency: Some(latency(
                "gateway_request_duration_seconds",
                "gateway",
                0.99,
                0.5,
                &bounds(&[
                    (0.05, &["0.05", "0.050"]),
                    (0.1, &["0.1", "0.10"]),
                    (0.25, &["0.25", "0.250"]),
                    (0.5, &["0.5", "0.50"]),
                    (1.0, &["1", "1.0"]),
                    (2.5, &["2.5", "2.50"]),
                ]),
                vec![rule(Scale, 2.0, "1h", Some("5m")), rule(Warn, 1.0, "6h", Some("30m"))],
            )),
        },
        Slo {
            service: "notifications",
            name: "delivery",
            labels: vec![("team", "messaging")],
            period: "30d",
            min_events: None,
            error: Some(ErrorDim {
                objective: 0.999,
                source: sel(
                    r#"notifications_delivery_failures_total{job="notifier"}"#,
                    r#"notifications_delivery_attempts_total{job="notifier"}"#,
                ),
                matrix: default_ladder("30d", false),
            }),
            latency: None,
        },
        Slo {
            service: "billing",
            name: "charges",
            labels: vec![("team", "payments")],
            period: "30d",
            min_events: None,
            error: Some(ErrorDim {
                objective: 0.999,
                source: ErrorSource::Raw {
                    bad: r#"sum(rate(billing_charge_failures_total{job="billing",reason!="declined"}[{{.window}}]))"#.into(),
                    total: r#"sum(rate(billing_charges_total{job="billing"}[{{.window}}]))"#.into(),
                },
                matrix: vec![rule(CircuitBreak, 10.0, "1h", Some("5m")), rule(Warn, 2.0, "6h", Some("30m"))],
            }),
            latency: None,
        },
    ]
}

/// Seconds of a Prometheus duration made of one unit (`5m`, `1h`, `3d`, `30d`, `2w`).
fn duration_secs(d: &str) -> i64 {
    let (num, unit) = d.split_at(d.len() - 1);
    let n: i64 = num.parse().unwrap_or_else(|_| panic!("bad duration {d:?}"));
    n * match unit {
        "s" => 1,
        "m" => MINUTE,
        "h" => HOUR,
        "d" => DAY,
        "w" => 7 * DAY,
        _ => panic!("bad duration {d:?}"),
    }
}

/// The windows a matrix uses (long and short), in the spec's spelling.
fn windows(matrix: &[Rule]) -> BTreeSet<String> {
    matrix
        .iter()
        .flat_map(|r| std::iter::once(r.long.clone()).chain(r.short.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The reference: this test's own queries and its own reading of the contract
// ---------------------------------------------------------------------------------------------

/// Expected numbers of one dimension at one time.
#[derive(Debug, Default)]
struct DimRef {
    burn: BTreeMap<String, Option<f64>>,
    events: BTreeMap<String, Option<f64>>,
    no_traffic: BTreeSet<String>,
    quantile_seconds: BTreeMap<String, Option<f64>>,
    budget_remaining: Option<f64>,
    fired: Vec<Rule>,
    decision: Option<Decision>, // None: a burn or an event count sits on a rule's threshold
    /// Rules that would fire on burn alone but are held back by min_events.
    held_by_min_events: usize,
}

struct Reference<'a> {
    prom: &'a Prometheus,
    t: i64,
    cache: HashMap<String, Option<f64>>,
}

impl Reference<'_> {
    /// A query expected to yield at most one series; `None` when it yields none.
    fn one(&mut self, expr: &str) -> Option<f64> {
        if let Some(v) = self.cache.get(expr) {
            return *v;
        }
        let v = self.prom.query_one(expr, self.t);
        self.cache.insert(expr.to_string(), v);
        v
    }

    /// Bad ratio and total-rate presence for the error dimension over window `w`:
    /// `None` when the total has no series; `Some((ratio, total_rate))` otherwise.
    fn error_ratio(&mut self, dim: &ErrorDim, w: &str) -> Option<(f64, f64)> {
        let (bad, total) = match &dim.source {
            ErrorSource::Selectors { bad, total } => (
                self.one(&format!("sum(rate({bad}[{w}]))")),
                self.one(&format!("sum(rate({total}[{w}]))")),
            ),
            ErrorSource::Raw { bad, total } => (
                self.one(&bad.replace("{{.window}}", w)),
                self.one(&total.replace("{{.window}}", w)),
            ),
        };
        let total = total?;
        if total == 0.0 {
            return Some((0.0, 0.0));
        }
        // A bad counter with no series while the total has traffic: 0 bad events.
        Some((bad.unwrap_or(0.0) / total, total))
    }

    fn error_events(&mut self, dim: &ErrorDim, w: &str) -> Option<f64> {
        match &dim.source {
            ErrorSource::Selectors { total, .. } => {
                self.one(&format!("sum(increase({total}[{w}]))"))
            }
            // A raw total query is a rate: events = rate * window.
            ErrorSource::Raw { total, .. } => self
                .one(&total.replace("{{.window}}", w))
                .map(|r| r * duration_secs(w) as f64),
        }
    }

    fn bucket_rate(&mut self, dim: &LatencyDim, spellings: &[&str], w: &str) -> Option<f64> {
        let le = if spellings.len() == 1 {
            format!("le=\"{}\"", spellings[0])
        } else {
            format!(
                "le=~\"{}\"",
                spellings
                    .iter()
                    .map(|s| s.replace('.', "\\\\."))
                    .collect::<Vec<_>>()
                    .join("|")
            )
        };
        self.one(&format!(
            "sum(rate({}_bucket{{{},{le}}}[{w}]))",
            dim.metric, dim.matchers
        ))
    }

    /// Bad ratio of the latency dimension over `w`: `None` without `_count` series.
    fn latency_ratio(&mut self, dim: &LatencyDim, w: &str) -> Option<(f64, f64)> {
        let count = self.one(&format!(
            "sum(rate({}_count{{{}}}[{w}]))",
            dim.metric, dim.matchers
        ))?;
        if count == 0.0 {
            return Some((0.0, 0.0));
        }
        let t = dim.threshold;
        let good = if let Some((_, spellings)) = dim.bounds.iter().find(|(b, _)| *b == t) {
            self.bucket_rate(dim, spellings, w)?
        } else {
            // Linear interpolation inside the bucket (a, b] that holds the threshold; the
            // first bucket's lower bound is 0.
            let i = dim
                .bounds
                .iter()
                .position(|(b, _)| *b > t)
                .expect("threshold above the last finite bound");
            let (b, b_spellings) = dim.bounds[i].clone();
            let cb = self.bucket_rate(dim, &b_spellings, w)?;
            let (a, ca) = if i == 0 {
                (0.0, 0.0)
            } else {
                let (a, a_spellings) = dim.bounds[i - 1].clone();
                (a, self.bucket_rate(dim, &a_spellings, w)?)
            };
            ca + (cb - ca) * (t - a) / (b - a)
        };
        Some((1.0 - good / count, count))
    }

    fn error_dim(&mut self, dim: &ErrorDim, slo: &Slo) -> DimRef {
        let mut r = DimRef::default();
        for w in windows(&dim.matrix) {
            let ratio = self.error_ratio(dim, &w);
            if let Some((_, 0.0)) = ratio {
                r.no_traffic.insert(w.clone());
            }
            r.burn
                .insert(w.clone(), ratio.map(|(x, _)| x / (1.0 - dim.objective)));
            let ev = self.error_events(dim, &w);
            r.events.insert(w, ev);
        }
        r.budget_remaining = self
            .error_ratio(dim, slo.period)
            .map(|(x, _)| 1.0 - x / (1.0 - dim.objective));
        decide(&mut r, &dim.matrix, slo.min_events);
        r
    }

    fn latency_dim(&mut self, dim: &LatencyDim, slo: &Slo) -> DimRef {
        let mut r = DimRef::default();
        for w in windows(&dim.matrix) {
            let ratio = self.latency_ratio(dim, &w);
            if let Some((_, 0.0)) = ratio {
                r.no_traffic.insert(w.clone());
            }
            r.burn
                .insert(w.clone(), ratio.map(|(x, _)| x / (1.0 - dim.quantile)));
            let ev = self.one(&format!(
                "sum(increase({}_count{{{}}}[{w}]))",
                dim.metric, dim.matchers
            ));
            r.events.insert(w.clone(), ev);
            let q = self
                .one(&format!(
                    "histogram_quantile({}, sum by (le) (rate({}_bucket{{{}}}[{w}])))",
                    dim.quantile, dim.metric, dim.matchers
                ))
                .filter(|v| !v.is_nan());
            r.quantile_seconds.insert(w, q);
        }
        r.budget_remaining = self
            .latency_ratio(dim, slo.period)
            .map(|(x, _)| 1.0 - x / (1.0 - dim.quantile));
        decide(&mut r, &dim.matrix, slo.min_events);
        r
    }
}

/// Does `value >= threshold` hold clearly, clearly not, or is it too close to call?
fn at_least(value: f64, threshold: f64) -> Option<bool> {
    if (value - threshold).abs() <= 1e-9 * threshold.abs() {
        None
    } else {
        Some(value >= threshold)
    }
}

/// One more condition `v >= threshold` on a rule: `Some(false)` as soon as one fails (a null
/// value fails), `None` when one is too close to call and none failed.
fn combine(fires: Option<bool>, v: Option<f64>, threshold: f64) -> Option<bool> {
    let Some(v) = v else { return Some(false) };
    match (fires, at_least(v, threshold)) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (_, None) => None,
        (f, Some(true)) => f,
    }
}

/// The contract's matrix: a rule fires when burn(long) >= factor, and burn(short) >= factor
/// when a short window is given, and the long window's events reach min_events when set;
/// null burns never fire. Most severe firing rule, else ok; no_data when all burns are null.
fn decide(r: &mut DimRef, matrix: &[Rule], min_events: Option<f64>) {
    let mut clear = true;
    for rule in matrix {
        let mut fires = combine(Some(true), r.burn[&rule.long], rule.factor);
        if let Some(short) = &rule.short {
            fires = combine(fires, r.burn[short], rule.factor);
        }
        let on_burn = fires;
        if let Some(min) = min_events {
            fires = combine(fires, r.events[&rule.long], min);
        }
        match fires {
            Some(true) => r.fired.push(rule.clone()),
            Some(false) if on_burn == Some(true) => r.held_by_min_events += 1,
            Some(false) => {}
            None => clear = false,
        }
    }
    r.decision = if !clear {
        None
    } else if r.burn.values().all(Option::is_none) {
        Some(Decision::NoData)
    } else {
        Some(
            r.fired
                .iter()
                .map(|f| f.decision)
                .max_by_key(|d| d.severity())
                .unwrap_or(Decision::Ok),
        )
    };
}

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run `burnrate check` with a deadline; the child dies with this thread if the test aborts.
fn run_check(url: &str, at_arg: &str) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_burnrate"));
    cmd.args([
        "check",
        SPECS,
        "--prometheus",
        url,
        "--at",
        at_arg,
        "--format",
        "json",
    ])
    .env_remove("BURNRATE_PROMETHEUS_URL")
    // Loopback only: no proxy may stand between the binary and the test's Prometheus.
    .env_remove("HTTP_PROXY")
    .env_remove("http_proxy")
    .env_remove("HTTPS_PROXY")
    .env_remove("https_proxy")
    .env_remove("ALL_PROXY")
    .env_remove("all_proxy")
    .env("NO_PROXY", "127.0.0.1,localhost")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    prometheus::kill_with_parent(&mut cmd);
    let mut child = cmd.spawn().expect("run burnrate");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).map(|_| s)
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).map(|_| s)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("burnrate check --at {at_arg} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        code: status.code(),
        stdout: out_reader.join().unwrap().unwrap_or_default(),
        stderr: err_reader.join().unwrap().unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

#[derive(Default)]
struct Checker {
    /// Non-null quantile_seconds values compared.
    quantiles_compared: usize,
    failures: Vec<String>,
    /// Decisions seen, per SLO and per dimension: (dimension or "slo", decision).
    seen: BTreeSet<(String, Decision)>,
    held_by_min_events: usize,
    bad_absent_with_traffic: usize,
    no_traffic_windows: usize,
    interpolated_checked: usize,
    respelled_le_checked: usize,
    undecidable: usize,
    exit_codes: BTreeSet<i32>,
}

impl Checker {
    fn fail(&mut self, ctx: &str, what: String) {
        self.failures.push(format!("{ctx}: {what}"));
    }

    fn cmp_opt(&mut self, ctx: &str, field: &str, expected: Option<f64>, got: &Value) {
        let got_v = num(got);
        let ok = match (expected, got_v) {
            (None, None) => got.is_null(),
            (Some(e), Some(g)) => close(e, g, REL_1E9_ABS_1E12),
            _ => false,
        };
        if !ok {
            self.fail(
                ctx,
                format!("{field}: expected {}, got {got}", fmt_opt(expected)),
            );
        }
    }

    fn check_dim(&mut self, ctx: &str, kind: &str, got: &Value, exp: &DimRef, objective: f64) {
        if !got.is_object() {
            self.fail(ctx, format!("{kind}: missing or not an object: {got}"));
            return;
        }
        let ctx = &format!("{ctx} {kind}");
        if !num(&got["objective"]).is_some_and(|o| close(objective, o, REL_1E9_ABS_1E12)) {
            self.fail(
                ctx,
                format!("objective: expected {objective}, got {}", got["objective"]),
            );
        }
        // burn: one key per window of the matrix, spelled as in the spec.
        let keys: BTreeSet<String> = got["burn"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let want: BTreeSet<String> = exp.burn.keys().cloned().collect();
        if keys != want {
            self.fail(
                ctx,
                format!("burn windows: expected {want:?}, got {keys:?}"),
            );
        }
        for (w, e) in &exp.burn {
            self.cmp_opt(ctx, &format!("burn[{w}]"), *e, &got["burn"][w]);
        }
        // events: total events per window.
        for (w, e) in &exp.events {
            self.cmp_opt(ctx, &format!("events[{w}]"), *e, &got["events"][w]);
        }
        // no_traffic.
        let nt: Option<BTreeSet<String>> = got["no_traffic"].as_array().map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("?").to_string())
                .collect()
        });
        if nt.as_ref() != Some(&exp.no_traffic) {
            self.fail(
                ctx,
                format!(
                    "no_traffic: expected {:?}, got {}",
                    exp.no_traffic, got["no_traffic"]
                ),
            );
        }
        self.no_traffic_windows += exp.no_traffic.len();
        // budget_remaining over the period.
        self.cmp_opt(
            ctx,
            "budget_remaining",
            exp.budget_remaining,
            &got["budget_remaining"],
        );
        // pending: no spec uses `for`.
        if !got["pending"].as_array().is_some_and(|a| a.is_empty()) {
            self.fail(ctx, format!("pending: expected [], got {}", got["pending"]));
        }
        // decision and fired (only when no burn sits on a threshold).
        self.held_by_min_events += exp.held_by_min_events;
        let Some(decision) = exp.decision else {
            self.undecidable += 1;
            return;
        };
        self.seen.insert((kind.to_string(), decision));
        if got["decision"] != decision.name() {
            self.fail(
                ctx,
                format!(
                    "decision: expected {}, got {}",
                    decision.name(),
                    got["decision"]
                ),
            );
        }
        let key = |d: &str, f: f64, l: &str, s: Option<&str>| {
            format!("{d}/{f:.9}/{l}/{}", s.unwrap_or("-"))
        };
        let mut want_fired: Vec<String> = exp
            .fired
            .iter()
            .map(|r| key(r.decision.name(), r.factor, &r.long, r.short.as_deref()))
            .collect();
        let mut got_fired: Vec<String> = got["fired"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        key(
                            f["decision"].as_str().unwrap_or("?"),
                            f["burn"].as_f64().unwrap_or(f64::NAN),
                            f["long"].as_str().unwrap_or("?"),
                            f["short"].as_str(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_else(|| vec![format!("<fired is not a list: {}>", got["fired"])]);
        want_fired.sort();
        got_fired.sort();
        if want_fired != got_fired {
            self.fail(
                ctx,
                format!("fired: expected {want_fired:?}, got {got_fired:?}"),
            );
        }
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("null".to_string(), |v| format!("{v:?}"))
}

/// Run `burnrate check` at `t` and compare its output with the reference.
fn check_at(prom: &Prometheus, slos: &[Slo], t: i64, at_arg: &str, c: &mut Checker) {
    let run = run_check(&prom.url(), at_arg);
    check_run(prom, slos, t, &run, c);
}

/// Compare one run's output and exit code with the reference at `t`.
fn check_run(prom: &Prometheus, slos: &[Slo], t: i64, run: &Run, c: &mut Checker) {
    let ctx_t = format!("T={} ({})", rfc3339(t), t);
    let mut got: BTreeMap<(String, String), Value> = BTreeMap::new();
    for line in run.stdout.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => {
                let key = (
                    v["service"].as_str().unwrap_or("?").to_string(),
                    v["slo"].as_str().unwrap_or("?").to_string(),
                );
                if got.insert(key.clone(), v).is_some() {
                    c.fail(&ctx_t, format!("two lines for {key:?}"));
                }
            }
            Err(e) => c.fail(&ctx_t, format!("stdout line is not JSON ({e}): {line}")),
        }
    }
    let want_keys: BTreeSet<(String, String)> = slos
        .iter()
        .map(|s| (s.service.to_string(), s.name.to_string()))
        .collect();
    let got_keys: BTreeSet<(String, String)> = got.keys().cloned().collect();
    if want_keys != got_keys {
        c.fail(
            &ctx_t,
            format!(
                "SLOs printed: expected {want_keys:?}, got {got_keys:?} (exit {:?}; stderr: {})",
                run.code,
                run.stderr.trim()
            ),
        );
    }

    let mut reference = Reference {
        prom,
        t,
        cache: HashMap::new(),
    };
    let mut overall: Option<Decision> = Some(Decision::Ok);
    let mut expected_slos: Vec<String> = Vec::new();
    for slo in slos {
        let ctx = format!("{ctx_t} {}/{}", slo.service, slo.name);
        let exp_err = slo.error.as_ref().map(|d| reference.error_dim(d, slo));
        let exp_lat = slo.latency.as_ref().map(|d| reference.latency_dim(d, slo));
        // SLO decision: most severe over dimensions; no_data only if all are no_data.
        let dims: Vec<Option<Decision>> = exp_err
            .iter()
            .chain(exp_lat.iter())
            .map(|d| d.decision)
            .collect();
        let slo_decision = if dims.iter().any(Option::is_none) {
            None
        } else if dims.iter().all(|d| *d == Some(Decision::NoData)) {
            Some(Decision::NoData)
        } else {
            dims.iter()
                .flatten()
                .copied()
                .filter(|d| *d != Decision::NoData)
                .max_by_key(|d| d.severity())
        };
        overall = match (overall, slo_decision) {
            (Some(a), Some(b)) => Some(if b.exit_rank() > a.exit_rank() { b } else { a }),
            _ => None,
        };
        if let Some(d) = slo_decision {
            c.seen.insert(("slo".to_string(), d));
        }
        expected_slos.push(format!(
            "{}/{}={}",
            slo.service,
            slo.name,
            slo_decision.map_or("?", Decision::name)
        ));

        let Some(v) = got.get(&(slo.service.to_string(), slo.name.to_string())) else {
            continue;
        };
        if v["time"] != rfc3339(t) {
            c.fail(
                &ctx,
                format!("time: expected {:?}, got {}", rfc3339(t), v["time"]),
            );
        }
        let labels: serde_json::Map<String, Value> = slo
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        if v["labels"] != Value::Object(labels.clone()) {
            c.fail(
                &ctx,
                format!(
                    "labels: expected {}, got {}",
                    Value::Object(labels),
                    v["labels"]
                ),
            );
        }
        if let Some(d) = slo_decision
            && v["decision"] != d.name()
        {
            c.fail(
                &ctx,
                format!("decision: expected {}, got {}", d.name(), v["decision"]),
            );
        }
        match (&slo.error, &exp_err) {
            (Some(dim), Some(exp)) => {
                c.check_dim(&ctx, "error", &v["error"], exp, dim.objective);
                if let ErrorSource::Selectors { bad, total } = &dim.source {
                    for w in exp.burn.keys() {
                        if reference.one(&format!("sum(rate({bad}[{w}]))")).is_none()
                            && reference
                                .one(&format!("sum(rate({total}[{w}]))"))
                                .is_some_and(|x| x > 0.0)
                        {
                            c.bad_absent_with_traffic += 1;
                        }
                    }
                }
            }
            _ => {
                if !v["error"].is_null() {
                    c.fail(
                        &ctx,
                        format!("error: not in the spec, but printed: {}", v["error"]),
                    );
                }
            }
        }
        match (&slo.latency, &exp_lat) {
            (Some(dim), Some(exp)) => {
                c.check_dim(&ctx, "latency", &v["latency"], exp, dim.quantile);
                let l = &v["latency"];
                if !num(&l["threshold_seconds"])
                    .is_some_and(|x| close(dim.threshold, x, REL_1E9_ABS_1E12))
                {
                    c.fail(
                        &ctx,
                        format!(
                            "latency threshold_seconds: expected {}, got {}",
                            dim.threshold, l["threshold_seconds"]
                        ),
                    );
                }
                if !num(&l["quantile"]).is_some_and(|x| close(dim.quantile, x, REL_1E9_ABS_1E12)) {
                    c.fail(
                        &ctx,
                        format!(
                            "latency quantile: expected {}, got {}",
                            dim.quantile, l["quantile"]
                        ),
                    );
                }
                // quantile_seconds: some or all of the burn windows (the contract's example shows
                // one), each exactly histogram_quantile(q, sum by (le) (rate(H_bucket[w]))).
                match l["quantile_seconds"].as_object() {
                    Some(m) => {
                        for (w, g) in m {
                            match exp.quantile_seconds.get(w) {
                                Some(e) => {
                                    c.cmp_opt(
                                        &format!("{ctx} latency"),
                                        &format!("quantile_seconds[{w}]"),
                                        *e,
                                        g,
                                    );
                                    c.quantiles_compared += usize::from(e.is_some());
                                }
                                None => c.fail(
                                    &ctx,
                                    format!("latency quantile_seconds: unexpected window {w:?}"),
                                ),
                            }
                        }
                    }
                    None => c.fail(
                        &ctx,
                        format!(
                            "latency quantile_seconds: expected an object, got {}",
                            l["quantile_seconds"]
                        ),
                    ),
                }
                if dim.bounds.iter().all(|(b, _)| *b != dim.threshold) {
                    c.interpolated_checked += 1;
                }
                if dim.bounds.iter().any(|(_, s)| s.len() > 1) {
                    c.respelled_le_checked += 1;
                }
            }
            _ => {
                if !v["latency"].is_null() {
                    c.fail(
                        &ctx,
                        format!("latency: not in the spec, but printed: {}", v["latency"]),
                    );
                }
            }
        }
    }
    if let Some(d) = overall {
        c.exit_codes.insert(d.exit_code());
        if run.code != Some(d.exit_code()) {
            c.fail(
                &ctx_t,
                format!(
                    "exit code: expected {} ({}), got {:?}; SLO decisions: {}; stderr: {}",
                    d.exit_code(),
                    d.name(),
                    run.code,
                    expected_slos.join(" "),
                    run.stderr.trim()
                ),
            );
        }
    }
}

/// Evaluation times: spread over the history, plus the moments each scenario is about.
fn evaluation_times() -> Vec<i64> {
    let mut ts = vec![
        START - HOUR,       // before the history: nothing at all
        START + 20,         // one sample per series: rate() has nothing yet
        START + 6 * MINUTE, // a few samples
    ];
    // Every 3 hours over the four days.
    ts.extend((0..32).map(|i| START + HOUR + 7 * MINUTE + i * 3 * HOUR));
    ts.extend([
        // 2 slow burn (day 2-3)
        at(2, 4, 0),
        at(2, 8, 0),
        at(2, 11, 30),
        at(2, 12, 30),
        at(2, 13, 30),
        // 3 latency degradation
        at(3, 2, 0) + 30,
        at(3, 2, 40),
        at(3, 3, 10),
        at(3, 4, 0),
        at(3, 5, 0),
        at(3, 5, 45),
        at(3, 6, 30),
        // 5 zero traffic, and the first minutes of the last-day services
        LAST_DAY + 15,
        LAST_DAY + 4 * MINUTE,
        at(3, 1, 10),
        at(3, 2, 0),
        at(3, 2, 58),
        at(3, 3, 3),
        // 6 low-traffic outages
        at(3, 4, 25),
        at(3, 4, 30),
        at(3, 4, 33),
        at(3, 7, 33),
        at(3, 7, 50),
        // 1 error spike
        at(3, 9, 5),
        at(3, 9, 19),
        at(3, 9, 21),
        at(3, 9, 30),
        at(3, 10, 0),
        // 7 gateway degradation
        at(3, 10, 45),
        at(3, 11, 30),
        at(3, 12, 10),
        // 4 restart
        INVENTORY_RESTART + 10,
        INVENTORY_RESTART + MINUTE,
        INVENTORY_RESTART + 4 * MINUTE,
        INVENTORY_RESTART + 20 * MINUTE,
        // 8 first failure
        at(3, 14, 50),
        NOTIFY_FIRST_FAILURE + 45,
        NOTIFY_FIRST_FAILURE + 3 * MINUTE,
        at(3, 16, 0),
        // 4 scrape gap
        INVENTORY_GAP.0 + 2 * MINUTE,
        INVENTORY_GAP.0 + 6 * MINUTE,
        INVENTORY_GAP.1 - 10,
        INVENTORY_GAP.1 + MINUTE,
        // 9 timeout spike
        at(3, 20, 10),
        at(3, 20, 25),
        at(3, 20, 45),
        // the end, and just after it
        START + DURATION - 1,
        START + DURATION + 10 * MINUTE,
    ]);
    ts.sort();
    ts.dedup();
    ts
}

#[test]
fn check_matches_prometheus() {
    let fx = fixture();
    let prom = Prometheus::start(&fx.blocks);
    let slos = specs();
    let times = evaluation_times();
    let started = Instant::now();

    let checker = Mutex::new(Checker::default());
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some(&t) = times.get(i) else { break };
                    // Both spellings of --at: Unix seconds and RFC 3339.
                    let at_arg = if i % 2 == 0 {
                        t.to_string()
                    } else {
                        rfc3339(t)
                    };
                    let mut local = Checker::default();
                    check_at(&prom, &slos, t, &at_arg, &mut local);
                    let mut c = checker.lock().unwrap();
                    c.failures.extend(local.failures);
                    c.seen.extend(local.seen);
                    c.held_by_min_events += local.held_by_min_events;
                    c.bad_absent_with_traffic += local.bad_absent_with_traffic;
                    c.no_traffic_windows += local.no_traffic_windows;
                    c.interpolated_checked += local.interpolated_checked;
                    c.respelled_le_checked += local.respelled_le_checked;
                    c.undecidable += local.undecidable;
                    c.exit_codes.extend(local.exit_codes);
                    c.quantiles_compared += local.quantiles_compared;
                }
            });
        }
    });
    let mut c = checker.into_inner().unwrap();
    c.failures.sort();
    eprintln!(
        "checked {} evaluation times in {:.1?}: decisions seen {:?}, exit codes {:?}, {} windows without traffic, \
         {} rules held by min_events, {} windows with an absent bad counter, {} undecidable",
        times.len(),
        started.elapsed(),
        c.seen,
        c.exit_codes,
        c.no_traffic_windows,
        c.held_by_min_events,
        c.bad_absent_with_traffic,
        c.undecidable
    );
    if !c.failures.is_empty() {
        let shown: Vec<&String> = c.failures.iter().take(60).collect();
        panic!(
            "{} discrepancies between `burnrate check` and Prometheus (first {}):\n{}",
            c.failures.len(),
            shown.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert_coverage(&c);
}

/// The scenarios must actually exercise what they are for: the test cannot pass vacuously.
fn assert_coverage(c: &Checker) {
    use Decision::*;
    for d in [Ok, Warn, Scale, CircuitBreak, NoData] {
        assert!(
            c.seen.contains(&("slo".to_string(), d)),
            "no SLO decided {} at any T: {:?}",
            d.name(),
            c.seen
        );
    }
    for d in [Ok, Warn, CircuitBreak, NoData] {
        assert!(
            c.seen.contains(&("error".to_string(), d)),
            "no error dimension decided {}: {:?}",
            d.name(),
            c.seen
        );
    }
    for d in [Ok, Warn, Scale, NoData] {
        assert!(
            c.seen.contains(&("latency".to_string(), d)),
            "no latency dimension decided {}: {:?}",
            d.name(),
            c.seen
        );
    }
    assert!(
        c.held_by_min_events > 0,
        "min_events never held a rule back"
    );
    assert!(
        c.bad_absent_with_traffic > 0,
        "never a window with traffic and no bad series"
    );
    assert!(c.no_traffic_windows > 0, "never a window without traffic");
    assert!(c.interpolated_checked > 0 && c.respelled_le_checked > 0);
    assert!(
        c.quantiles_compared > 0,
        "no quantile_seconds value was ever compared"
    );
    assert!(
        c.undecidable <= 3,
        "{} dimension decisions too close to a threshold to check",
        c.undecidable
    );
}

// ---------------------------------------------------------------------------------------------
// The history itself: each scenario is in the data as intended
// ---------------------------------------------------------------------------------------------

#[test]
fn synthetic_history_has_every_scenario() {
    let fx = fixture();
    let prom = Prometheus::start(&fx.blocks);
    let one = |e: &str, t: i64| prom.query_one(e, t);
    let near = |what: &str, got: Option<f64>, want: f64, tol: f64| {
        let g = got.unwrap_or_else(|| panic!("{what}: no result"));
        assert!(
            (g - want).abs() <= tol * want.abs(),
            "{what}: got {g}, want {want} +- {:.0}%",
            tol * 100.0
        );
    };
    let avg = |f: fn(i64) -> f64, from: i64, to: i64| -> f64 {
        let n = (to - from) / 30;
        (0..n).map(|i| f(from + i * 30 + 15)).sum::<f64>() / n as f64
    };

    // Nothing before the start.
    assert!(prom.query(r#"{__name__=~".+"}"#, START - HOUR).is_empty());
    // No accidental counter resets anywhere but the planned restart.
    let names = prom.query(
        r#"count by (__name__) ({__name__=~".+"})"#,
        START + DURATION - 1,
    );
    assert!(names.len() >= 20, "metric names: {names:?}");
    for (labels, _) in &names {
        let name = &labels["__name__"];
        if name.ends_with("_sum") {
            continue;
        }
        for (labels, v) in prom.query(
            &format!("sum by (instance) (resets({name}[5d]))"),
            START + DURATION - 1,
        ) {
            // inventory-0 restarts once: its requests and errors counters reset.
            let planned = name.starts_with("inventory_")
                && labels.get("instance").map(String::as_str) == Some("inventory-0");
            assert_eq!(
                v,
                if planned { 1.0 } else { 0.0 },
                "resets of {name} {labels:?}"
            );
        }
    }

    // 1 checkout: traffic and the spike.
    let t = at(1, 12, 0);
    near(
        "checkout rate",
        one(r#"sum(rate(http_requests_total{job="checkout"}[1h]))"#, t),
        avg(checkout_rate, t - HOUR, t),
        0.03,
    );
    near(
        "checkout spike error ratio",
        one(
            r#"sum(rate(http_requests_total{job="checkout",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="checkout"}[5m]))"#,
            at(3, 9, 15),
        ),
        0.05,
        0.15,
    );
    near(
        "checkout baseline error ratio (6h)",
        one(
            r#"sum(rate(http_requests_total{job="checkout",code=~"5.."}[6h])) / sum(rate(http_requests_total{job="checkout"}[6h]))"#,
            at(2, 6, 0),
        ),
        0.0002,
        0.3,
    );

    // 2 search: slow burn over a day.
    near(
        "search slow burn",
        one(
            r#"sum(rate(search_request_errors_total[1d])) / sum(rate(search_requests_total[1d]))"#,
            SEARCH_SLOW_BURN.1,
        ),
        0.0015,
        0.1,
    );

    // 3 catalog: P99 ~120ms, then ~450ms.
    let p99 = |t| {
        one(r#"histogram_quantile(0.99, sum by (le) (rate(catalog_request_duration_seconds_bucket[30m])))"#, t).unwrap()
    };
    let (before, during) = (p99(at(3, 1, 0)), p99(at(3, 4, 30)));
    assert!((0.1..0.2).contains(&before), "catalog P99 before: {before}");
    assert!(
        (0.25..0.5).contains(&during),
        "catalog P99 during: {during}"
    );
    let bad_above = |le: &str, t| {
        1.0 - one(&format!(r#"sum(rate(catalog_request_duration_seconds_bucket{{le="{le}"}}[30m])) / sum(rate(catalog_request_duration_seconds_count[30m]))"#), t).unwrap()
    };
    let (exact, model) = (
        bad_above("0.2", at(3, 4, 30)),
        1.0 - catalog_latency(at(3, 4, 30)).cdf(0.2),
    );
    assert!(
        (exact - model).abs() < 0.1 * model,
        "catalog share above 200ms: {exact} vs model {model}"
    );

    // 4 inventory: a restart and a gap.
    let raw = |inst: &str, t| {
        one(
            &format!(r#"inventory_requests_total{{instance="{inst}"}}"#),
            t,
        )
        .unwrap()
    };
    assert!(raw("inventory-0", INVENTORY_RESTART - 30) > 3_000_000.0);
    assert!(
        raw("inventory-0", INVENTORY_RESTART + 10) < 1_000.0,
        "inventory-0 did not restart"
    );
    assert!(
        one(
            r#"count_over_time(inventory_requests_total{instance="inventory-1"}[9m])"#,
            INVENTORY_GAP.1 - 10
        )
        .is_none()
    );
    assert_eq!(
        one(
            r#"count_over_time(inventory_requests_total{instance="inventory-1"}[10m])"#,
            INVENTORY_GAP.0 - 1
        ),
        Some(20.0)
    );
    assert_eq!(
        one(
            r#"count_over_time(inventory_requests_total{instance="inventory-0"}[10m])"#,
            INVENTORY_GAP.1 - 1
        ),
        Some(20.0)
    );

    // 5 reports: zero traffic for two hours, then traffic again.
    assert_eq!(
        one(r#"sum(rate(reports_requests_total[1h]))"#, at(3, 2, 30)),
        Some(0.0)
    );
    assert_eq!(
        one(
            r#"sum(rate(reports_request_duration_seconds_count[1h]))"#,
            at(3, 2, 30)
        ),
        Some(0.0)
    );
    near(
        "reports rate",
        one(r#"sum(rate(reports_requests_total[1h]))"#, at(3, 5, 0)),
        3.0,
        0.05,
    );

    // 6 ledger: about one request a minute.
    let hourly = one(
        r#"sum(increase(ledger_transactions_total[1h]))"#,
        at(3, 12, 0),
    )
    .unwrap();
    assert!(
        (10.0..120.0).contains(&hourly),
        "ledger requests per hour: {hourly}"
    );
    let trough = one(
        r#"sum(increase(ledger_transactions_total[1h]))"#,
        LEDGER_OUTAGES[0].1,
    )
    .unwrap();
    let peak = one(
        r#"sum(increase(ledger_transactions_total[1h]))"#,
        LEDGER_OUTAGES[1].1,
    )
    .unwrap();
    assert!(
        trough < 40.0 && peak > 60.0,
        "ledger 1h events at the outages: {trough}, {peak}"
    );

    // 7 gateway: two spellings of each bound.
    let series = |sel: &str| {
        prom.query(
            &format!("gateway_request_duration_seconds_bucket{{{sel}}}"),
            at(3, 12, 0),
        )
        .len()
    };
    assert_eq!(series(r#"instance="gateway-0",le="1""#), 1);
    assert_eq!(series(r#"instance="gateway-0",le="1.0""#), 0);
    assert_eq!(series(r#"instance="gateway-1",le="1.0""#), 1);
    assert_eq!(series(r#"instance="gateway-1",le="0.50""#), 1);
    assert_eq!(series(r#"le=~"0.5|0.50""#), 2);

    // 8 notifications: no failure series before the first failure.
    assert!(
        one(
            r#"notifications_delivery_failures_total"#,
            NOTIFY_FIRST_FAILURE - 60
        )
        .is_none()
    );
    assert!(
        one(
            r#"notifications_delivery_failures_total"#,
            NOTIFY_FIRST_FAILURE + 5 * MINUTE
        )
        .is_some()
    );
    assert!(
        one(
            r#"sum(rate(notifications_delivery_attempts_total[5m]))"#,
            NOTIFY_FIRST_FAILURE - 60
        )
        .unwrap()
            > 5.0
    );

    // 9 billing: timeouts spike, declines do not count.
    near(
        "billing timeouts",
        one(
            r#"sum(rate(billing_charge_failures_total{reason="timeout"}[30m])) / sum(rate(billing_charges_total[30m]))"#,
            BILLING_TIMEOUTS.1,
        ),
        0.03,
        0.15,
    );

    assert_eq!(unix(2026, 11, 1, 0, 0, 0), START);
}

// ---------------------------------------------------------------------------------------------
// `check --state`: `for` and `hold` across cron runs
// ---------------------------------------------------------------------------------------------

/// One `check` of the hysteresis spec at `t`, with or without a state file.
fn check_hysteresis(url: &str, t: i64, state: Option<&Path>) -> Value {
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/state/checkout-for-hold.yaml"
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_burnrate"));
    cmd.args([
        "check",
        spec,
        "--prometheus",
        url,
        "--at",
        &t.to_string(),
        "--format",
        "json",
    ])
    .env_remove("BURNRATE_PROMETHEUS_URL")
    .env("NO_PROXY", "127.0.0.1,localhost");
    if let Some(state) = state {
        cmd.arg("--state").arg(state);
    }
    let out = cmd.output().expect("run burnrate");
    let line = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let expected_code = match v["decision"].as_str().unwrap() {
        "ok" => 0,
        "warn" => 1,
        "scale" => 2,
        "circuit_break" => 3,
        _ => 4,
    };
    assert_eq!(
        out.status.code(),
        Some(expected_code),
        "exit code at {t}: {v}"
    );
    v
}

fn rules_named(v: &Value, list: &str, decision: &str) -> usize {
    v["error"][list]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["decision"] == decision)
        .count()
}

#[test]
fn check_state_carries_for_and_hold_across_runs() {
    let fx = fixture();
    let prom = Prometheus::start(&fx.blocks);
    let url = prom.url();
    let minutes: Vec<i64> = (0..80).map(|m| CHECKOUT_SPIKE.0 + m * MINUTE).collect();

    // Without state, a rule with `for` can only ever be pending: that marks when it fires.
    let firing: Vec<bool> = minutes
        .iter()
        .map(|&t| {
            let v = check_hysteresis(&url, t, None);
            assert_eq!(
                rules_named(&v, "fired", "circuit_break"),
                0,
                "no state, no `for` satisfied"
            );
            rules_named(&v, "pending", "circuit_break") == 1
        })
        .collect();
    let first = firing
        .iter()
        .position(|f| *f)
        .expect("the spike fires the 1h/5m rule");
    let last = firing.iter().rposition(|f| *f).unwrap();
    assert!(
        firing[first..=last].iter().all(|f| *f),
        "one continuous firing streak: {firing:?}"
    );
    assert!(
        last - first >= 3,
        "the streak outlasts `for: 2m`: {first}..{last}"
    );
    assert!(
        minutes.len() > last + 20,
        "the window covers the whole hold"
    );

    // With state, one cron run per minute: pending for 2 minutes, then circuit_break, held for
    // 15 minutes after the last firing minute, then released.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    for (i, &t) in minutes.iter().enumerate() {
        let v = check_hysteresis(&url, t, Some(&state));
        let breaking = v["error"]["decision"] == "circuit_break";
        let expected = i >= first + 2 && i <= last + 15;
        assert_eq!(
            breaking,
            expected,
            "minute {i} ({}) of the spike: {v}",
            rfc3339(t)
        );
        if i >= first && i < first + 2 {
            assert_eq!(
                rules_named(&v, "pending", "circuit_break"),
                1,
                "minute {i}: {v}"
            );
        }
        if i > last && i <= last + 15 {
            assert_eq!(
                rules_named(&v, "held", "circuit_break"),
                1,
                "minute {i}: {v}"
            );
        }
    }
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(
        saved["slos"]["checkout/requests-hysteresis"]["rules"]["error"].is_object(),
        "{saved}"
    );
}
