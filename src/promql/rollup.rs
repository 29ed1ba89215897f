//! Functions over range vectors (`rate`, `increase`, `delta`, `irate`, `idelta`, `resets`,
//! `changes`, `*_over_time`), evaluated per series for every step straight from
//! [`SeriesSamples`](super::SeriesSamples): the rate family never materializes the window.
//!
//! Why here and not as "a matrix value": `rate(x[30d])` at 43,200 steps must cost
//! O(log n + resets in the window) per step, so the window edges are binary searches and
//! the counter resets come from the series' reset index. The floats are those of Prometheus
//! 2.42's functions.go (`extrapolatedRate` in particular: same operations, same order), and
//! for `Flavor::Prometheus3` those of 3.x (v3.14) where they changed: the left-open window
//! `(t-w, t]`, `extrapolatedRate`'s order of its edge rules, Kahan-compensated means.
//! VictoriaMetrics's rollups are another model altogether ([`super::victoriametrics`]).

use super::check::{full_matchers, offset_ms};
use super::eval::{Ctx, Series, check_distinct};
use super::histogram::quantile;
use super::series::Reader;
use super::{QueryError, Storage};
use promql_parser::parser::MatrixSelector;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeFn {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Resets,
    Changes,
    Avg,
    Min,
    Max,
    Sum,
    Count,
    Quantile,
    Stddev,
    Stdvar,
    Last,
    Present,
}

impl RangeFn {
    pub(crate) fn from_name(name: &str) -> Option<RangeFn> {
        Some(match name {
            "rate" => RangeFn::Rate,
            "increase" => RangeFn::Increase,
            "delta" => RangeFn::Delta,
            "irate" => RangeFn::Irate,
            "idelta" => RangeFn::Idelta,
            "resets" => RangeFn::Resets,
            "changes" => RangeFn::Changes,
            "avg_over_time" => RangeFn::Avg,
            "min_over_time" => RangeFn::Min,
            "max_over_time" => RangeFn::Max,
            "sum_over_time" => RangeFn::Sum,
            "count_over_time" => RangeFn::Count,
            "quantile_over_time" => RangeFn::Quantile,
            "stddev_over_time" => RangeFn::Stddev,
            "stdvar_over_time" => RangeFn::Stdvar,
            "last_over_time" => RangeFn::Last,
            "present_over_time" => RangeFn::Present,
            _ => return None,
        })
    }
}

/// Go's `time.Duration.Seconds()`.
fn duration_seconds(d: std::time::Duration) -> f64 {
    d.as_secs() as f64 + d.subsec_nanos() as f64 / 1e9
}

/// `extrapolatedRate` of 2.42 from the point where the raw increase `result` is known: the
/// zero-point clamp comes before the threshold test (3.x: [`extrapolate_v3`]).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn extrapolate(
    (first_t, first_v): (i64, f64),
    (last_t, _last_v): (i64, f64),
    n: usize,
    mut result: f64,
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    rate_seconds: Option<f64>,
) -> f64 {
    let mut duration_to_start = (first_t - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled_interval = (last_t - first_t) as f64 / 1000.0;
    let average_duration_between_samples = sampled_interval / (n - 1) as f64;
    if is_counter && result > 0.0 && first_v >= 0.0 {
        let duration_to_zero = sampled_interval * (first_v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    let extrapolation_threshold = average_duration_between_samples * 1.1;
    let mut extrapolate_to_interval = sampled_interval;
    if duration_to_start < extrapolation_threshold {
        extrapolate_to_interval += duration_to_start;
    } else {
        extrapolate_to_interval += average_duration_between_samples / 2.0;
    }
    if duration_to_end < extrapolation_threshold {
        extrapolate_to_interval += duration_to_end;
    } else {
        extrapolate_to_interval += average_duration_between_samples / 2.0;
    }
    let mut factor = extrapolate_to_interval / sampled_interval;
    if let Some(secs) = rate_seconds {
        factor /= secs;
    }
    result *= factor;
    result
}

/// `extrapolatedRate` of Prometheus 3.x (promql/functions.go, v3.14): the threshold test
/// first (a start too far from the window's edge extrapolates by half an interval), then the
/// zero point of a counter caps that (it never extrapolates below zero).
#[allow(clippy::too_many_arguments)]
#[inline]
fn extrapolate_v3(
    (first_t, first_v): (i64, f64),
    (last_t, _last_v): (i64, f64),
    n: usize,
    mut result: f64,
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    rate_seconds: Option<f64>,
) -> f64 {
    let mut duration_to_start = (first_t - range_start) as f64 / 1000.0;
    let mut duration_to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled_interval = (last_t - first_t) as f64 / 1000.0;
    let average_duration_between_samples = sampled_interval / (n - 1) as f64;
    let extrapolation_threshold = average_duration_between_samples * 1.1;
    if duration_to_start >= extrapolation_threshold {
        duration_to_start = average_duration_between_samples / 2.0;
    }
    if is_counter {
        let mut duration_to_zero = duration_to_start;
        if result > 0.0 && first_v >= 0.0 {
            duration_to_zero = sampled_interval * (first_v / result);
        }
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= extrapolation_threshold {
        duration_to_end = average_duration_between_samples / 2.0;
    }
    let mut factor = 1.0;
    if sampled_interval != 0.0 {
        factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
    }
    if let Some(secs) = rate_seconds {
        factor /= secs;
    }
    result *= factor;
    result
}

/// util/kahansum's `Inc` of Prometheus 3.x: like 2.42's, but an infinite sum resets the
/// compensation.
#[inline]
pub(crate) fn kahan_inc_v3(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// 3.x's or 2.42's Kahan step (a direct branch, not a function pointer: stays inlined).
#[inline(always)]
fn kahan_step(v3: bool, inc: f64, sum: f64, c: f64) -> (f64, f64) {
    if v3 {
        kahan_inc_v3(inc, sum, c)
    } else {
        kahan_inc(inc, sum, c)
    }
}

/// Go's `kahanSumInc`.
#[inline]
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// One function over the samples `[a, b)` of a series (non-empty), at one step. The rate
/// family reads only the window's edges (and the reset index); the others decode the
/// window into `scratch`.
#[allow(clippy::too_many_arguments)]
fn apply(
    f: RangeFn,
    r: &mut Reader<'_>,
    scratch: &mut (Vec<i64>, Vec<f64>),
    a: usize,
    b: usize,
    mint: i64,
    maxt: i64,
    range_secs: f64,
    q: f64,
    v3: bool,
) -> Option<f64> {
    let n = b - a;
    match f {
        RangeFn::Rate | RangeFn::Increase | RangeFn::Delta => {
            if n < 2 {
                return None;
            }
            let is_counter = f != RangeFn::Delta;
            let (first, last) = (r.sample(a), r.sample(b - 1));
            let mut result = last.1 - first.1;
            if is_counter {
                for &(_, prev) in r.series().resets_in(a, b) {
                    result += prev;
                }
            }
            let secs = (f == RangeFn::Rate).then_some(range_secs);
            Some(if v3 {
                extrapolate_v3(first, last, n, result, mint, maxt, is_counter, secs)
            } else {
                extrapolate(first, last, n, result, mint, maxt, is_counter, secs)
            })
        }
        RangeFn::Irate | RangeFn::Idelta => {
            if n < 2 {
                return None;
            }
            let ((last_t, last), (prev_t, prev)) = (r.sample(b - 1), r.sample(b - 2));
            let is_rate = f == RangeFn::Irate;
            let mut result = if is_rate && last < prev {
                last
            } else {
                last - prev
            };
            let interval = last_t - prev_t;
            if interval == 0 {
                return None;
            }
            if is_rate {
                result /= interval as f64 / 1000.0;
            }
            Some(result)
        }
        RangeFn::Resets => Some(r.series().resets_in(a, b).len() as f64),
        RangeFn::Count => Some(n as f64),
        RangeFn::Last => Some(r.sample(b - 1).1),
        RangeFn::Present => Some(1.0),
        _ => {
            let (times, values) = scratch;
            r.fill(a, b, times, values);
            over_values(f, values, q, v3)
        }
    }
}

/// The `*_over_time` functions (and `changes`) that read every value of the window.
fn over_values(f: RangeFn, vs: &[f64], q: f64, v3: bool) -> Option<f64> {
    match f {
        RangeFn::Changes => {
            let mut changes = 0usize;
            let mut prev = vs[0];
            for &cur in &vs[1..] {
                if cur != prev && !(cur.is_nan() && prev.is_nan()) {
                    changes += 1;
                }
                prev = cur;
            }
            Some(changes as f64)
        }
        RangeFn::Avg if v3 => {
            // 3.x: the direct mean (Kahan sum over the count) until the sum would overflow,
            // the incremental mean from there.
            let (mut sum, mut count) = (vs[0], 1.0f64);
            let (mut mean, mut c) = (0.0f64, 0.0f64);
            let mut incremental = false;
            for (i, &v) in vs[1..].iter().enumerate() {
                count = (i + 2) as f64;
                if !incremental {
                    let (new_sum, new_c) = kahan_inc_v3(v, sum, c);
                    if !new_sum.is_infinite() {
                        (sum, c) = (new_sum, new_c);
                        continue;
                    }
                    incremental = true;
                    mean = sum / (count - 1.0);
                    c /= count - 1.0;
                }
                let q = (count - 1.0) / count;
                (mean, c) = kahan_inc_v3(v / count, q * mean, q * c);
            }
            Some(if incremental {
                mean + c
            } else {
                sum / count + c / count
            })
        }
        RangeFn::Avg => {
            let (mut mean, mut count, mut c) = (0.0f64, 0.0f64, 0.0f64);
            for &v in vs {
                count += 1.0;
                if mean.is_infinite() {
                    if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                        continue;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        continue;
                    }
                }
                (mean, c) = kahan_inc(v / count - mean / count, mean, c);
            }
            Some(if mean.is_infinite() { mean } else { mean + c })
        }
        RangeFn::Min => {
            let mut m = vs[0];
            for &v in vs {
                if v < m || m.is_nan() {
                    m = v;
                }
            }
            Some(m)
        }
        RangeFn::Max => {
            let mut m = vs[0];
            for &v in vs {
                if v > m || m.is_nan() {
                    m = v;
                }
            }
            Some(m)
        }
        RangeFn::Sum => {
            let inc = |x, sum, c| kahan_step(v3, x, sum, c);
            let (mut sum, mut c) = (0.0, 0.0);
            for &v in vs {
                (sum, c) = inc(v, sum, c);
            }
            Some(if sum.is_infinite() { sum } else { sum + c })
        }
        RangeFn::Quantile => {
            let mut vals = vs.to_vec();
            Some(quantile(q, &mut vals))
        }
        RangeFn::Stddev | RangeFn::Stdvar => {
            let inc = |x, sum, c| kahan_step(v3, x, sum, c);
            let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for &v in vs {
                count += 1.0;
                let delta = v - (mean + c_mean);
                (mean, c_mean) = inc(delta / count, mean, c_mean);
                (aux, c_aux) = inc(delta * (v - (mean + c_mean)), aux, c_aux);
            }
            let var = (aux + c_aux) / count;
            Some(if f == RangeFn::Stddev {
                var.sqrt()
            } else {
                var
            })
        }
        RangeFn::Rate
        | RangeFn::Increase
        | RangeFn::Delta
        | RangeFn::Irate
        | RangeFn::Idelta
        | RangeFn::Resets
        | RangeFn::Count
        | RangeFn::Last
        | RangeFn::Present => unreachable!("read from the window's edges by `apply`"),
    }
}

/// `f(ms)` at every step for every selected series; `q` is `quantile_over_time`'s scalar.
pub(crate) fn eval_range_fn<S: Storage + ?Sized>(
    ctx: &Ctx<S>,
    f: RangeFn,
    ms: &MatrixSelector,
    q: Option<&[f64]>,
) -> Result<Vec<Series>, QueryError> {
    if ctx.is_vm() {
        return super::victoriametrics::rollup(ctx, f, ms, q);
    }
    let matchers = full_matchers(&ms.vs);
    let offset = offset_ms(&ms.vs.offset);
    let range = ms.range.as_millis() as i64;
    let range_secs = duration_seconds(ms.range);
    let open = ctx.open_left();
    let v3 = ctx.flavor == super::Flavor::Prometheus3;
    let mut out = Vec::new();
    let mut scratch = (Vec::new(), Vec::new());
    for (labels, samples) in ctx.storage.select(&matchers) {
        let mut values = vec![None; ctx.n];
        let mut any = false;
        // Steps increase, so each window's edges move forward from the previous one's.
        let mut reader = samples.reader();
        let mut edges = (0, 0);
        for (i, cell) in values.iter_mut().enumerate() {
            let maxt = ctx.time(i) - offset;
            let mint = maxt - range;
            let (a, b) = reader.window_after(mint, maxt, open, edges);
            edges = (a, b);
            if a == b {
                continue;
            }
            let qv = q.map_or(f64::NAN, |q| q[i]);
            *cell = apply(
                f,
                &mut reader,
                &mut scratch,
                a,
                b,
                mint,
                maxt,
                range_secs,
                qv,
                v3,
            );
            any |= cell.is_some();
        }
        if any {
            out.push(Series {
                labels: if f == RangeFn::Last {
                    labels.clone()
                } else {
                    ctx.drop_name(labels)
                },
                values,
            });
        }
    }
    check_distinct(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::promql::{
        Flavor, MemStorage, Query, SeriesSamples, Steps, eval_instant, eval_range,
    };

    /// The reset index gives the floats of a walk of the window, at every step.
    #[test]
    fn indexed_rate_equals_walk() {
        let mut storage = MemStorage::new();
        let mut v = 0.0;
        let mut pts = Vec::new();
        for i in 0..2000i64 {
            v = if i % 97 == 0 {
                (i % 7) as f64
            } else {
                v + (i % 13) as f64 * 0.37
            };
            pts.push((i * 15_000, v));
        }
        let labels: crate::promql::Labels = [("__name__".to_string(), "c".to_string())]
            .into_iter()
            .collect();
        storage.push_series(labels, SeriesSamples::from_samples(pts.iter().copied()));
        let q = Query::parse("rate(c[1h])").unwrap();
        let steps = Steps {
            start_ms: 0,
            end_ms: 2000 * 15_000,
            step_ms: 60_000,
        };
        let got = eval_range(&q, &storage, steps, Flavor::Prometheus2).unwrap();
        for (i, v) in got[0].values.iter().enumerate() {
            let t = steps.time(i);
            let hist: Vec<crate::history::Sample> = pts
                .iter()
                .map(|&(t_ms, value)| crate::history::Sample { t_ms, value })
                .collect();
            let want = crate::history::rate::rate_at(
                &hist,
                t,
                3_600_000,
                crate::history::rate::WindowBounds::ClosedLeft,
            );
            assert_eq!(v.map(f64::to_bits), want.map(f64::to_bits), "step {i}");
            if i % 50 == 0 {
                let inst = eval_instant(&q, &storage, t, Flavor::Prometheus2).unwrap();
                let crate::promql::Value::Vector(iv) = inst else {
                    panic!()
                };
                assert_eq!(iv.first().map(|x| x.1.to_bits()), v.map(f64::to_bits));
            }
        }
    }
}
