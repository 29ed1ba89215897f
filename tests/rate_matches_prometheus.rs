// burnrate's PromQL evaluator (src/promql/, over the extrapolation of src/history/rate.rs)
// computes the `rate()` Prometheus 2.42 computes.
//
// The test writes a handful of synthetic counter series as OpenMetrics text, backfills them
// with promtool, serves them from a private Prometheus on loopback (tests/common/prometheus.rs)
// and compares `rate(rt_total[w])` for w in 1m, 5m, 30m, 1h, 6h with the evaluator's
// `eval_range` and the reference walk `rate_at` at thousands of instants: relative error <= 1e-9, and `None` exactly where
// Prometheus returns no point.
//
// It also settles which window Prometheus 2.42 really uses. The product contract writes
// `(t-w, t]`; 2.42's engine selects `t-w <= ts <= t`. On a query_range grid that lands
// exactly on the timestamps of the on-grid series, with windows a multiple of their scrape
// interval, those series have a sample exactly at `t-w` at every step, and the two rules give
// different numbers (and, for the series scraped once a minute under a 1m window, a value
// versus no value). The second test asserts
// that Prometheus 2.42 agrees with the evaluator's `Flavor::Prometheus2` everywhere and
// disagrees with the left-open window of `Flavor::Prometheus3` there.
//
// Series (label `case`), 14 h from 2023-11-14T22:13:20Z:
//   regular     15 s scrapes on the grid, integer increments
//   jittered    15 s +- 2 s at millisecond resolution (fractional timestamps), fractional increments
//   reset       15 s, 5 s off the grid, restarts from ~0 at 3 h and 7.3 h
//   gap         15 s, 10 s off the grid, no scrapes for 10 minutes at 5 h
//   late_start  first sample at 6 h 3 s (mid-range), starting from a small value
//   flat        grows, stays flat from 2 h to 8 h, grows again
//   large       around 1.23e9, increments of a few thousandths
//   nan         a NaN sample hiding a reset at ~4.2 h, and a NaN as the very last sample
//   minutely    60 s scrapes on the grid (a 1m window holds one or two samples)

mod common;

use burnrate::history::Sample;
use burnrate::history::rate::{WindowBounds, rate_at};
use burnrate::promql::{Flavor, Labels, MemStorage, Query, SeriesSamples, Steps, eval_range};
use common::history::Rng;
use common::prometheus::{self, Prometheus, parse_prom_float};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

const BASE_MS: i64 = 1_700_000_000_000;
const SECOND_MS: i64 = 1000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const SPAN_MS: i64 = 14 * HOUR_MS;
const SCRAPE_MS: i64 = 15 * SECOND_MS;

const WINDOWS: [(&str, i64); 5] = [
    ("1m", MINUTE_MS),
    ("5m", 5 * MINUTE_MS),
    ("30m", 30 * MINUTE_MS),
    ("1h", HOUR_MS),
    ("6h", 6 * HOUR_MS),
];

/// Largest relative difference accepted between Prometheus and the local engine.
const TOLERANCE: f64 = 1e-9;

struct Case {
    name: &'static str,
    samples: Vec<Sample>,
}

/// Sample times on a grid: `offset + k * every` within the span.
fn grid(offset: i64, every: i64) -> impl Iterator<Item = i64> {
    (0..)
        .map(move |k| BASE_MS + offset + k * every)
        .take_while(|t| *t < BASE_MS + SPAN_MS)
}

fn counter(
    times: impl Iterator<Item = i64>,
    mut value: f64,
    mut next: impl FnMut(i64, f64) -> f64,
) -> Vec<Sample> {
    times
        .map(|t| {
            value = next(t, value);
            Sample { t_ms: t, value }
        })
        .collect()
}

fn cases() -> Vec<Case> {
    let mut rng = Rng::new(42);
    let mut int_inc = move || (rng.next_u64() % 21) as f64;
    let mut rng = Rng::new(7);
    let mut uniform = move || rng.next_f64();
    let at = |h: f64| BASE_MS + (h * HOUR_MS as f64) as i64;

    let regular = counter(grid(0, SCRAPE_MS), 5000.0, |_, v| v + int_inc());
    let jittered = {
        let times: Vec<i64> = grid(0, SCRAPE_MS)
            .map(|t| t + (uniform() * 4000.0) as i64 - 2000)
            .collect();
        counter(times.into_iter(), 12.5, |_, v| v + uniform() * 3.7)
    };
    let reset = counter(grid(5 * SECOND_MS, SCRAPE_MS), 80.0, |t, v| {
        let inc = int_inc();
        let restarted = [at(3.0), at(7.3)]
            .iter()
            .any(|r| (*r..*r + SCRAPE_MS).contains(&t));
        if restarted { inc } else { v + inc }
    });
    let gap = counter(grid(10 * SECOND_MS, SCRAPE_MS), 0.0, |_, v| v + int_inc())
        .into_iter()
        .filter(|s| !(at(5.0)..at(5.0) + 10 * MINUTE_MS).contains(&s.t_ms))
        .collect();
    let late_start = counter(grid(6 * HOUR_MS + 3 * SECOND_MS, SCRAPE_MS), 2.0, |_, v| {
        v + int_inc()
    });
    let flat = counter(grid(0, SCRAPE_MS), 100.0, |t, v| {
        let inc = int_inc();
        if (at(2.0)..at(8.0)).contains(&t) {
            v
        } else {
            v + inc
        }
    });
    let large = counter(grid(0, SCRAPE_MS), 1_234_567_890.0, |_, v| {
        v + 0.001 * (uniform() * 4.0).floor()
    });
    let nan = {
        let mut s = counter(grid(0, SCRAPE_MS), 300.0, |_, v| v + int_inc());
        let k = 1000; // 4 h 10 min
        s[k].value = f64::NAN;
        for x in &mut s[k + 1..] {
            x.value -= 290.0; // a drop right after the NaN
        }
        s.last_mut().unwrap().value = f64::NAN;
        s
    };
    let minutely = counter(grid(0, MINUTE_MS), 0.0, |_, v| v + int_inc());

    vec![
        Case {
            name: "regular",
            samples: regular,
        },
        Case {
            name: "jittered",
            samples: jittered,
        },
        Case {
            name: "reset",
            samples: reset,
        },
        Case {
            name: "gap",
            samples: gap,
        },
        Case {
            name: "late_start",
            samples: late_start,
        },
        Case {
            name: "flat",
            samples: flat,
        },
        Case {
            name: "large",
            samples: large,
        },
        Case {
            name: "nan",
            samples: nan,
        },
        Case {
            name: "minutely",
            samples: minutely,
        },
    ]
}

/// `ms` as OpenMetrics seconds, and the millisecond Prometheus stores for that text: its
/// parser multiplies the parsed float by 1000 and truncates.
fn om_time(ms: i64) -> (String, i64) {
    let text = format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000));
    let stored = (text.parse::<f64>().unwrap() * 1000.0) as i64;
    (text, stored)
}

/// Write all cases as one OpenMetrics file, interleaved by time, and move every sample to the
/// millisecond Prometheus will store it at, so the local engine sees exactly the same data.
fn write_openmetrics(cases: &mut [Case], path: &Path) {
    let mut lines: Vec<(i64, String)> = Vec::new();
    for case in cases.iter_mut() {
        for s in &mut case.samples {
            let (text, stored) = om_time(s.t_ms);
            let value = if s.value.is_nan() {
                "NaN".to_string()
            } else {
                format!("{}", s.value)
            };
            lines.push((
                s.t_ms,
                format!("rt_total{{case=\"{}\"}} {value} {text}\n", case.name),
            ));
            s.t_ms = stored;
        }
    }
    lines.sort_by_key(|(t, _)| *t);
    let mut text = String::with_capacity(lines.len() * 48);
    for (_, line) in &lines {
        text.push_str(line);
    }
    text.push_str("# EOF\n");
    std::fs::write(path, text).unwrap();
}

/// Backfill the cases and start a Prometheus on them. The temporary directory must outlive it.
fn serve(cases: &mut [Case]) -> (tempfile::TempDir, Prometheus) {
    let dir = tempfile::Builder::new()
        .prefix("burnrate-rate-test-")
        .tempdir()
        .unwrap();
    let om = dir.path().join("rate.om");
    write_openmetrics(cases, &om);
    let blocks = dir.path().join("blocks");
    prometheus::backfill_with_block_duration(&om, &blocks, Some("24h"));
    let prom = Prometheus::start(&blocks);
    (dir, prom)
}

fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// `GET /api/v1/query_range`; per `case` label, the points as (Unix ms, value).
fn query_range(
    prom: &Prometheus,
    expr: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> BTreeMap<String, Vec<(i64, f64)>> {
    assert!(
        (end_ms - start_ms) / step_ms < 11_000,
        "query_range over Prometheus's 11,000 point limit"
    );
    let step = format!("{}.{:03}", step_ms / 1000, step_ms % 1000);
    let resp = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
        .get(&format!("{}/api/v1/query_range", prom.url()))
        .query("query", expr)
        .query("start", &rfc3339_ms(start_ms))
        .query("end", &rfc3339_ms(end_ms))
        .query("step", &step)
        .call();
    let body = match resp {
        Ok(r) => r.into_string().unwrap(),
        Err(e) => panic!(
            "query_range {expr:?} failed: {e}\n--- prometheus log ---\n{}",
            prom.log_tail(30)
        ),
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "query_range {expr:?}: {body}");
    assert_eq!(
        v["data"]["resultType"], "matrix",
        "query_range {expr:?}: {body}"
    );
    let mut out = BTreeMap::new();
    for series in v["data"]["result"].as_array().unwrap() {
        let case = series["metric"]["case"].as_str().unwrap().to_string();
        let points = series["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let t = (p[0].as_f64().unwrap() * 1000.0).round() as i64;
                (t, parse_prom_float(p[1].as_str().unwrap()).unwrap())
            })
            .collect();
        assert!(
            out.insert(case, points).is_none(),
            "duplicate series in {body}"
        );
    }
    out
}

/// The raw samples Prometheus holds, per `case`: read back with a range-vector instant query.
fn stored_samples(prom: &Prometheus) -> BTreeMap<String, Vec<Sample>> {
    let t = BASE_MS + SPAN_MS;
    let url = format!("{}/api/v1/query", prom.url());
    let body = ureq::get(&url)
        .query("query", "rt_total[15h]")
        .query("time", &rfc3339_ms(t))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{body}");
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let samples = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| Sample {
                    t_ms: (p[0].as_f64().unwrap() * 1000.0).round() as i64,
                    value: parse_prom_float(p[1].as_str().unwrap()).unwrap(),
                })
                .collect();
            (s["metric"]["case"].as_str().unwrap().to_string(), samples)
        })
        .collect()
}

fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= TOLERANCE * a.abs().max(b.abs())
}

fn relative_error(a: f64, b: f64) -> f64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

#[derive(Default, Debug)]
struct Tally {
    points: usize,
    with_value: usize,
    without_value: usize,
    bit_exact: usize,
    max_relative_error: f64,
    /// Evaluations whose window has a sample exactly on its left edge `t - w`.
    left_edge_sample: usize,
    /// Evaluations where the (t-w, t] rule disagrees with Prometheus.
    open_left_disagrees: usize,
    /// ... of which Prometheus has a value and (t-w, t] has none.
    open_left_missing: usize,
    failures: Vec<String>,
}

/// `rate(rt_total[window])` of one series at every step, by burnrate's evaluator.
fn evaluator_rates(
    samples: &[Sample],
    (start, end, step, window): (i64, i64, i64, i64),
    flavor: Flavor,
) -> Vec<Option<f64>> {
    let mut storage = MemStorage::new();
    let labels: Labels = [("__name__".to_string(), "rt_total".to_string())].into();
    storage.push_series(
        labels,
        SeriesSamples::from_samples(samples.iter().map(|s| (s.t_ms, s.value))),
    );
    let query = Query::parse(&format!("rate(rt_total[{window}ms])")).unwrap();
    let steps = Steps {
        start_ms: start,
        end_ms: end,
        step_ms: step,
    };
    let out = eval_range(&query, &storage, steps, flavor).unwrap();
    match out.into_iter().next() {
        Some(series) => series.values,
        None => vec![None; steps.count()],
    }
}

/// Compare one query_range answer with the local engine for every case.
fn compare(
    tally: &mut Tally,
    what: &str,
    answer: &BTreeMap<String, Vec<(i64, f64)>>,
    cases: &[Case],
    (start, end, step, window): (i64, i64, i64, i64),
) {
    for case in cases {
        let closed = evaluator_rates(
            &case.samples,
            (start, end, step, window),
            Flavor::Prometheus2,
        );
        let open = evaluator_rates(
            &case.samples,
            (start, end, step, window),
            Flavor::Prometheus3,
        );
        let theirs: BTreeMap<i64, f64> = answer
            .get(case.name)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let mut matched = 0;
        for (i, (ours, ours_open)) in closed.iter().zip(&open).enumerate() {
            let t = start + i as i64 * step;
            let prom = theirs.get(&t).copied();
            matched += prom.is_some() as usize;
            tally.points += 1;
            let direct = rate_at(&case.samples, t, window, WindowBounds::ClosedLeft);
            if direct.map(f64::to_bits) != ours.map(f64::to_bits)
                && !(direct.is_some_and(f64::is_nan) && ours.is_some_and(f64::is_nan))
            {
                tally.failures.push(format!(
                    "{what} {} t={t}: evaluator {ours:?} != rate_at {direct:?}",
                    case.name
                ));
            }
            if case
                .samples
                .binary_search_by_key(&(t - window), |s| s.t_ms)
                .is_ok()
            {
                tally.left_edge_sample += 1;
            }
            match (prom, ours) {
                (None, None) => tally.without_value += 1,
                (Some(p), Some(o)) if same_value(p, *o) => {
                    tally.with_value += 1;
                    tally.bit_exact +=
                        (p.to_bits() == o.to_bits() || (p.is_nan() && o.is_nan())) as usize;
                    tally.max_relative_error = tally.max_relative_error.max(relative_error(p, *o));
                }
                _ => tally.failures.push(format!(
                    "{what} {} t={t} ({}): prometheus {prom:?}, local {ours:?}",
                    case.name,
                    rfc3339_ms(t)
                )),
            }
            let open_agrees = match (prom, ours_open) {
                (None, None) => true,
                (Some(p), Some(o)) => same_value(p, *o),
                _ => false,
            };
            if !open_agrees {
                tally.open_left_disagrees += 1;
                tally.open_left_missing += (prom.is_some() && ours_open.is_none()) as usize;
            }
        }
        if matched != theirs.len() {
            tally.failures.push(format!(
                "{what} {}: prometheus answered {} points, {} of them on the step grid",
                case.name,
                theirs.len(),
                matched
            ));
        }
    }
}

fn check_data(prom: &Prometheus, cases: &[Case]) {
    let stored = stored_samples(prom);
    assert_eq!(
        stored.len(),
        cases.len(),
        "series in Prometheus: {:?}",
        stored.keys().collect::<Vec<_>>()
    );
    for case in cases {
        let theirs = &stored[case.name];
        assert_eq!(
            theirs.len(),
            case.samples.len(),
            "{}: sample count in Prometheus",
            case.name
        );
        for (a, b) in theirs.iter().zip(&case.samples) {
            assert!(
                a.t_ms == b.t_ms && (a.value == b.value || (a.value.is_nan() && b.value.is_nan())),
                "{}: Prometheus holds {a:?}, the test wrote {b:?}",
                case.name
            );
        }
    }
}

fn report(name: &str, tally: &Tally, started: Instant) {
    println!(
        "{name}: {} evaluations ({} with a value, {} without), {} bit-exact, max relative error {:e}; \
         {} with a sample exactly at t-w; (t-w, t] would disagree with Prometheus at {} ({} of them a missing value); {:.1?}",
        tally.points,
        tally.with_value,
        tally.without_value,
        tally.bit_exact,
        tally.max_relative_error,
        tally.left_edge_sample,
        tally.open_left_disagrees,
        tally.open_left_missing,
        started.elapsed()
    );
}

fn assert_no_failures(tally: &Tally) {
    if !tally.failures.is_empty() {
        let mut msg = format!(
            "{} mismatches with Prometheus; the first ones:\n",
            tally.failures.len()
        );
        for f in tally.failures.iter().take(25) {
            writeln!(msg, "  {f}").unwrap();
        }
        panic!("{msg}");
    }
}

/// Local rate() equals Prometheus's at unaligned times (37 s steps from before the data to
/// after it, and a 15 s grid shifted by 7.3 s), and on the jittered series' own fractional
/// sample times and exactly one window after them.
#[test]
fn local_rate_matches_prometheus_2_42() {
    let started = Instant::now();
    let mut cases = cases();
    let (_dir, prom) = serve(&mut cases);
    check_data(&prom, &cases);
    let mut tally = Tally::default();
    for (spelled, window) in WINDOWS {
        let expr = format!("rate(rt_total[{spelled}])");
        let plans = [
            (
                "37s",
                BASE_MS - 30 * MINUTE_MS,
                BASE_MS + SPAN_MS + window + 30 * MINUTE_MS,
                37 * SECOND_MS,
            ),
            (
                "+7.3s",
                BASE_MS + 7300,
                BASE_MS + SPAN_MS + window,
                SCRAPE_MS,
            ),
        ];
        for (what, start, end, step) in plans {
            let answer = query_range(&prom, &expr, start, end, step);
            compare(
                &mut tally,
                &format!("{expr} {what}"),
                &answer,
                &cases,
                (start, end, step, window),
            );
        }
        // On a jittered sample and one window later: two points per query.
        let jittered = &cases.iter().find(|c| c.name == "jittered").unwrap().samples;
        for k in (0..jittered.len()).step_by(jittered.len() / 12) {
            let start = jittered[k].t_ms;
            let answer = query_range(&prom, &expr, start, start + window, window);
            compare(
                &mut tally,
                &format!("{expr} on-sample"),
                &answer,
                &cases,
                (start, start + window, window, window),
            );
        }
    }
    report("unaligned and on-sample", &tally, started);
    assert_no_failures(&tally);
    assert!(
        tally.with_value > 50_000 && tally.without_value > 1000,
        "{tally:?}"
    );
    assert!(tally.max_relative_error <= TOLERANCE);
}

/// Prometheus 2.42's range selector includes a sample exactly at `t - w`: on a 15 s grid of
/// evaluation times that coincide with the samples of the on-grid series, local rate() with
/// `WindowBounds::ClosedLeft` matches Prometheus everywhere, and `OpenLeft` (the 3.x rule,
/// and the product contract's wording) does not.
#[test]
fn prometheus_2_42_window_is_closed_on_the_left() {
    let started = Instant::now();
    let mut cases = cases();
    let (_dir, prom) = serve(&mut cases);
    let mut tally = Tally::default();
    for (spelled, window) in WINDOWS {
        let expr = format!("rate(rt_total[{spelled}])");
        let (start, end) = (BASE_MS, BASE_MS + SPAN_MS + window);
        let answer = query_range(&prom, &expr, start, end, SCRAPE_MS);
        compare(
            &mut tally,
            &format!("{expr} on-grid"),
            &answer,
            &cases,
            (start, end, SCRAPE_MS, window),
        );
    }
    report("sample-aligned", &tally, started);
    assert_no_failures(&tally);
    assert!(
        tally.left_edge_sample > 50_000,
        "the grid must put samples on t-w: {tally:?}"
    );
    assert!(
        tally.open_left_disagrees > 50_000 && tally.open_left_missing > 100,
        "Prometheus 2.42 should disagree with a left-open window here: {tally:?}"
    );
}
