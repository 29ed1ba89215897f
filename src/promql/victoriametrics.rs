//! VictoriaMetrics's query semantics for the subset, transcribed from VictoriaMetrics 1.79
//! (`app/vmselect/promql/rollup.go`, `eval.go`, `transform.go`, `aggr.go`; the Debian package
//! the tests run is 1.79.5).
//!
//! Why a module of its own: VictoriaMetrics does not select a range and then apply a function,
//! as Prometheus does; every selector is a "rollup" over the samples of `(t - w, t]` that also
//! sees the sample before the window (`prevValue`, when it is within an interval derived from
//! the scrape interval it autodetects, and `realPrevValue` without that limit) and, inside a
//! range query, the one after it. `rate` is `(last - prev) / (t_last - t_prev)` with no
//! extrapolation, `increase` guesses a start from zero for a new counter, an instant selector
//! looks back `max(step, autodetected staleness)` instead of 5m, and NaN is "no value"
//! everywhere (`0/0` yields nothing). What data a rollup sees depends on the query's
//! `start`, `step` and window (eval.go fetches `[start - 5m - max(window, step), end]`), so the
//! evaluation reproduces that fetch per series, once per evaluation: a range evaluation is
//! still column-wise (one copy of each series' fetched samples, a binary search per step).

use super::check::{full_matchers, offset_ms};
use super::eval::{Ctx, Series, check_distinct, drop_name};
use super::histogram::parse_go_float;
use super::rollup::RangeFn;
use super::{Labels, QueryError, Storage};
use promql_parser::parser::{MatrixSelector, VectorSelector};
use std::collections::HashMap;

/// `defaultStep` of app/vmselect/prometheus: an instant query without `step=` uses it, and
/// it is an instant selector's lookback window.
pub(crate) const INSTANT_STEP_MS: i64 = 5 * 60 * 1000;
/// `maxSilenceInterval` of rollup.go: how much more than the window is fetched before it.
const MAX_SILENCE_INTERVAL_MS: i64 = 5 * 60 * 1000;

/// How far back from the (offset) evaluation time a VictoriaMetrics evaluation reads samples
/// of a selector with range `range_ms` (0 for an instant selector) at step `step_ms`.
pub(crate) fn reach_ms(range_ms: i64, step_ms: i64) -> i64 {
    MAX_SILENCE_INTERVAL_MS + range_ms.max(step_ms)
}

/// `quantile` of aggr.go: Prometheus's quantile over the values that are not NaN.
pub(crate) fn quantile(phi: f64, values: &[f64]) -> f64 {
    let mut a: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    super::histogram::quantile(phi, &mut a)
}

/// `getScrapeInterval`: the 0.6 quantile of the first 20 intervals of the fetched samples.
fn scrape_interval(ts: &[i64], default: i64) -> i64 {
    if ts.len() < 2 {
        return default;
    }
    let intervals: Vec<f64> = ts
        .windows(2)
        .take(20)
        .map(|w| (w[1] - w[0]) as f64)
        .collect();
    // Go's int64(float64) truncates toward zero.
    let si = quantile(0.6, &intervals) as i64;
    if si <= 0 { default } else { si }
}

/// `getMaxPrevInterval`: how old the sample before a window may be to count as its
/// `prevValue` (more slack for short scrape intervals, which jitter relatively more).
fn max_prev_interval(si: i64) -> i64 {
    if si <= 2_000 {
        si + 4 * si
    } else if si <= 4_000 {
        si + 2 * si
    } else if si <= 8_000 {
        si + si
    } else if si <= 16_000 {
        si + si / 2
    } else if si <= 32_000 {
        si + si / 4
    } else {
        si + si / 8
    }
}

/// `removeCounterResets`, over the fetched samples from the first one on (the corrections
/// accumulate from there, so the floats are VictoriaMetrics's). A drop to more than 7/8 of
/// the previous value is taken as a partial reset (only the drop is added back).
fn remove_counter_resets(values: &mut [f64]) {
    let Some(&first) = values.first() else {
        return;
    };
    let mut correction = 0.0;
    let mut prev = first;
    for v in values.iter_mut() {
        let raw = *v;
        let d = raw - prev;
        if d < 0.0 {
            if -d * 8.0 < prev {
                correction += prev - raw;
            } else {
                correction += prev;
            }
        }
        prev = raw;
        *v = raw + correction;
    }
}

/// `rollupFuncArg`: what a rollup function sees at one step.
struct Arg<'a> {
    prev_value: f64,
    prev_ts: i64,
    /// The window's raw values (what all but the counter functions read).
    values: &'a [f64],
    timestamps: &'a [i64],
    /// The window's `k`-th value after `removeCounterResets` (what `rate`, `increase` and
    /// `irate` read; only a few positions are ever asked for, so a window is never copied).
    counter: &'a dyn Fn(usize) -> f64,
    real_prev_value: f64,
    real_next_value: f64,
}

/// The VictoriaMetrics rollup for one of the subset's range functions; `q` is
/// `quantile_over_time`'s phi at this step.
fn apply(f: RangeFn, a: &Arg, q: f64) -> f64 {
    let values = a.values;
    let n = values.len();
    match f {
        RangeFn::Rate => deriv_fast(a),
        RangeFn::Increase => delta(a, a.counter),
        RangeFn::Delta => delta(a, &|k| values[k]),
        RangeFn::Irate => ideriv(a),
        RangeFn::Idelta => {
            if n == 0 {
                return if a.prev_value.is_nan() { f64::NAN } else { 0.0 };
            }
            let last = values[n - 1];
            if n == 1 {
                return if a.prev_value.is_nan() {
                    last
                } else {
                    last - a.prev_value
                };
            }
            last - values[n - 2]
        }
        RangeFn::Resets => {
            if n == 0 {
                return if a.prev_value.is_nan() { f64::NAN } else { 0.0 };
            }
            let (mut prev, rest) = if a.prev_value.is_nan() {
                (values[0], &values[1..])
            } else {
                (a.prev_value, values)
            };
            let mut count = 0usize;
            for &v in rest {
                if v < prev {
                    count += 1;
                }
                prev = v;
            }
            count as f64
        }
        RangeFn::Changes => {
            let mut count = 0usize;
            let (mut prev, rest) = if a.prev_value.is_nan() {
                if n == 0 {
                    return f64::NAN;
                }
                // No value before the window: its first sample counts as a change.
                count += 1;
                (values[0], &values[1..])
            } else {
                (a.prev_value, values)
            };
            for &v in rest {
                if v != prev {
                    count += 1;
                    prev = v;
                }
            }
            count as f64
        }
        RangeFn::Avg => {
            if n == 0 {
                return f64::NAN;
            }
            let mut sum = 0.0;
            for &v in values {
                sum += v;
            }
            sum / n as f64
        }
        RangeFn::Min | RangeFn::Max => {
            if n == 0 {
                return f64::NAN;
            }
            let mut m = values[0];
            for &v in values {
                if (f == RangeFn::Min && v < m) || (f == RangeFn::Max && v > m) {
                    m = v;
                }
            }
            m
        }
        RangeFn::Sum => {
            if n == 0 {
                return f64::NAN;
            }
            let mut sum = 0.0;
            for &v in values {
                sum += v;
            }
            sum
        }
        RangeFn::Count => {
            if n == 0 {
                f64::NAN
            } else {
                n as f64
            }
        }
        RangeFn::Quantile => quantile(q, values),
        RangeFn::Stddev | RangeFn::Stdvar => {
            let var = if n == 0 {
                f64::NAN
            } else if n == 1 {
                0.0
            } else {
                let (mut avg, mut count, mut acc) = (0.0f64, 0.0f64, 0.0f64);
                for &v in values {
                    count += 1.0;
                    let avg_new = avg + (v - avg) / count;
                    acc += (v - avg) * (v - avg_new);
                    avg = avg_new;
                }
                acc / count
            };
            if f == RangeFn::Stddev {
                var.sqrt()
            } else {
                var
            }
        }
        RangeFn::Last => {
            if n == 0 {
                f64::NAN
            } else {
                values[n - 1]
            }
        }
        RangeFn::Present => {
            if n == 0 {
                f64::NAN
            } else {
                1.0
            }
        }
    }
}

/// `rollupDerivFast` (`rate`): from the sample before the window (or the first in it) to
/// the last in it, no extrapolation.
fn deriv_fast(a: &Arg) -> f64 {
    let (v, timestamps) = (a.counter, a.timestamps);
    let n = timestamps.len();
    let (mut prev_value, mut prev_ts) = (a.prev_value, a.prev_ts);
    if prev_value.is_nan() {
        if n < 2 {
            // One sample gives no duration to divide by.
            return f64::NAN;
        }
        prev_value = v(0);
        prev_ts = timestamps[0];
    } else if n == 0 {
        return 0.0;
    }
    let dv = v(n - 1) - prev_value;
    let dt = (timestamps[n - 1] - prev_ts) as f64 / 1e3;
    dv / dt
}

/// `rollupDelta` (`delta` over `v` = the raw values, `increase` over the reset-corrected ones).
fn delta(a: &Arg, v: &dyn Fn(usize) -> f64) -> f64 {
    let n = a.timestamps.len();
    let mut first = 0;
    let mut prev_value = a.prev_value;
    if prev_value.is_nan() {
        if n == 0 {
            return f64::NAN;
        }
        if !a.real_prev_value.is_nan() {
            // After a gap longer than the staleness interval: the value did not change in it.
            return v(n - 1) - a.real_prev_value;
        }
        // A new series: it counts from zero unless its first value is large compared with
        // its first increase (a counter that existed long before it was first scraped).
        let d = if n > 1 {
            v(1) - v(0)
        } else if !a.real_next_value.is_nan() {
            a.real_next_value - v(0)
        } else {
            0.0
        };
        if v(0).abs() < 10.0 * (d.abs() + 1.0) {
            prev_value = 0.0;
        } else {
            prev_value = v(0);
            first = 1;
        }
    }
    if n == first {
        return 0.0;
    }
    v(n - 1) - prev_value
}

/// `rollupIderiv` (`irate`, over reset-corrected values).
fn ideriv(a: &Arg) -> f64 {
    let (v, timestamps) = (a.counter, a.timestamps);
    let n = timestamps.len();
    if n < 2 {
        if n == 0 || a.prev_value.is_nan() {
            return f64::NAN;
        }
        return (v(0) - a.prev_value) / ((timestamps[0] - a.prev_ts) as f64 / 1e3);
    }
    let (v_end, t_end) = (v(n - 1), timestamps[n - 1]);
    let mut k = n - 1;
    while k > 0 && timestamps[k - 1] >= t_end {
        k -= 1;
    }
    let (t_start, v_start) = if k == 0 {
        if a.prev_value.is_nan() {
            return 0.0;
        }
        (a.prev_ts, a.prev_value)
    } else {
        (timestamps[k - 1], v(k - 1))
    };
    (v_end - v_start) / ((t_end - t_start) as f64 / 1e3)
}

/// Functions whose window VictoriaMetrics widens to the staleness interval when shorter
/// (`rollupFuncsCanAdjustWindow`).
fn may_adjust_window(f: Option<RangeFn>) -> bool {
    matches!(f, None | Some(RangeFn::Rate | RangeFn::Irate))
}

/// Functions that keep `__name__` (`rollupFuncsKeepMetricName`; `None` is `default_rollup`).
fn keeps_name(f: Option<RangeFn>) -> bool {
    matches!(
        f,
        None | Some(RangeFn::Avg | RangeFn::Min | RangeFn::Max | RangeFn::Quantile | RangeFn::Last)
    )
}

/// The evaluation's time range as VictoriaMetrics sees it for a selector: the (offset)
/// step times and the fetched interval `[min, max]`.
struct Plan {
    offset: i64,
    window_raw: i64,
    fetch_min: i64,
    fetch_max: i64,
}

/// With `ctx.vm_instants` the fetch covers every step's own fetch.
fn plan<S: Storage + ?Sized>(ctx: &Ctx<S>, offset: i64, window_raw: i64) -> Plan {
    let start = ctx.time(0) - offset;
    let end = ctx.time(ctx.n - 1) - offset;
    Plan {
        offset,
        window_raw,
        fetch_min: start - reach_ms(window_raw, ctx.vm_step_ms),
        fetch_max: end,
    }
}

/// The rollup of one series at every step: `f` is `None` for `default_rollup` (an instant
/// selector), whose samples include staleness markers (a NaN value: the series ended).
/// `ts`/`vs` are the samples of the whole evaluation's fetch.
///
/// A range evaluation is one VictoriaMetrics fetch: the scrape interval is detected once and
/// counter resets are removed once over all of it. With `ctx.vm_instants` each step is its own
/// instant query instead: its own fetch `[t - 5m - max(window, 5m), t]`, its own detected
/// interval, corrections accumulated from its own first sample, nothing after `t`.
fn rollup_column<S: Storage + ?Sized>(
    ctx: &Ctx<S>,
    p: &Plan,
    f: Option<RangeFn>,
    ts: &[i64],
    vs: &[f64],
    q: Option<&[f64]>,
) -> Vec<Option<f64>> {
    let step = ctx.vm_step_ms;
    let counter = matches!(f, Some(RangeFn::Rate | RangeFn::Increase | RangeFn::Irate));
    let window_of = |si: i64| {
        let mpi = max_prev_interval(si);
        let mut window = if p.window_raw > 0 { p.window_raw } else { step };
        if may_adjust_window(f) && window < mpi {
            window = mpi;
        }
        (mpi, window)
    };
    // Range evaluation: one fetch, one correction pass (VictoriaMetrics's floats).
    let whole = (!ctx.vm_instants).then(|| {
        let (mpi, window) = window_of(scrape_interval(ts, step));
        let corrected = counter.then(|| {
            let mut c = vs.to_vec();
            remove_counter_resets(&mut c);
            c
        });
        (mpi, window, corrected)
    });
    // Per-step fetches: the drops and what `removeCounterResets` adds back for each.
    let resets: Vec<(usize, f64)> = if counter && ctx.vm_instants {
        (1..vs.len())
            .filter(|&x| vs[x] < vs[x - 1])
            .map(|x| {
                let (prev, v) = (vs[x - 1], vs[x]);
                (
                    x,
                    if (prev - v) * 8.0 < prev {
                        prev - v
                    } else {
                        prev
                    },
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let reach = reach_ms(p.window_raw, step);
    let mut out = vec![None; ctx.n];
    for (k, cell) in out.iter_mut().enumerate() {
        let t_end = ctx.time(k) - p.offset;
        let (lo, hi, mpi, window) = match &whole {
            Some((mpi, window, _)) => (0, ts.len(), *mpi, *window),
            None => {
                let lo = ts.partition_point(|&t| t < t_end - reach);
                let hi = ts.partition_point(|&t| t <= t_end).max(lo);
                let (mpi, window) = window_of(scrape_interval(&ts[lo..hi], step));
                (lo, hi, mpi, window)
            }
        };
        if lo == hi {
            continue;
        }
        let t_start = t_end - window;
        let i = ts[lo..hi].partition_point(|&t| t <= t_start) + lo;
        let j = ts[lo..hi].partition_point(|&t| t <= t_end).max(i - lo) + lo;
        let Some(f) = f else {
            if i < j && !vs[j - 1].is_nan() {
                *cell = Some(vs[j - 1]);
            }
            continue;
        };
        // The value at index x as the rollup sees it (reset-corrected for counters).
        let at = |x: usize| -> f64 {
            match &whole {
                Some((_, _, Some(c))) => c[x],
                Some((_, _, None)) => vs[x],
                None if counter => {
                    let a = resets.partition_point(|r| r.0 <= lo);
                    let b = resets.partition_point(|r| r.0 <= x);
                    let mut correction = 0.0;
                    for r in &resets[a..b.max(a)] {
                        correction += r.1;
                    }
                    vs[x] + correction
                }
                None => vs[x],
            }
        };
        let (prev_value, prev_ts) = if i < hi && i > lo && ts[i - 1] > t_start - mpi {
            (at(i - 1), ts[i - 1])
        } else {
            (f64::NAN, t_start - mpi)
        };
        let counter_at = |x: usize| at(i + x);
        let arg = Arg {
            prev_value,
            prev_ts,
            values: &vs[i..j],
            timestamps: &ts[i..j],
            counter: &counter_at,
            real_prev_value: if i > lo { at(i - 1) } else { f64::NAN },
            real_next_value: if j < hi { at(j) } else { f64::NAN },
        };
        let value = apply(f, &arg, q.map_or(f64::NAN, |q| q[k]));
        if !value.is_nan() {
            *cell = Some(value);
        }
    }
    out
}

/// An instant selector: `default_rollup`, the last sample of `(t - max(step, staleness), t]`,
/// nothing when that is a staleness marker.
pub(crate) fn default_rollup<S: Storage + ?Sized>(
    ctx: &Ctx<S>,
    vs: &VectorSelector,
) -> Vec<Series> {
    let matchers = full_matchers(vs);
    let p = plan(ctx, offset_ms(&vs.offset), 0);
    let mut out = Vec::new();
    for (labels, samples) in ctx.storage.select(&matchers) {
        let (ts, values) = fetch_with_markers(samples, p.fetch_min, p.fetch_max);
        if ts.is_empty() {
            continue;
        }
        let col = rollup_column(ctx, &p, None, &ts, &values, None);
        if col.iter().any(Option::is_some) {
            out.push(Series {
                labels: labels.clone(),
                values: col,
            });
        }
    }
    out
}

/// The samples and staleness markers (as NaN) of `[lo, hi]`, merged in time order.
fn fetch_with_markers(s: &super::SeriesSamples, lo: i64, hi: i64) -> (Vec<i64>, Vec<f64>) {
    let mut reader = s.reader();
    let (a, b) = reader.window(lo, hi, false);
    let stale = s.stale_times();
    let sa = stale.partition_point(|&t| t < lo);
    let sb = stale.partition_point(|&t| t <= hi).max(sa);
    let (mut times, mut values) = (Vec::new(), Vec::new());
    reader.fill(a, b, &mut times, &mut values);
    let stale = &stale[sa..sb];
    let mut ts = Vec::with_capacity(times.len() + stale.len());
    let mut vs = Vec::with_capacity(times.len() + stale.len());
    let (mut x, mut y) = (0, 0);
    while x < times.len() || y < stale.len() {
        if y == stale.len() || (x < times.len() && times[x] < stale[y]) {
            ts.push(times[x]);
            vs.push(values[x]);
            x += 1;
        } else {
            ts.push(stale[y]);
            vs.push(f64::NAN);
            y += 1;
        }
    }
    (ts, vs)
}

/// A range function over a range selector, as VictoriaMetrics's rollup of the same name.
pub(crate) fn rollup<S: Storage + ?Sized>(
    ctx: &Ctx<S>,
    f: RangeFn,
    ms: &MatrixSelector,
    q: Option<&[f64]>,
) -> Result<Vec<Series>, QueryError> {
    let matchers = full_matchers(&ms.vs);
    let p = plan(ctx, offset_ms(&ms.vs.offset), ms.range.as_millis() as i64);
    let mut out = Vec::new();
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for (labels, samples) in ctx.storage.select(&matchers) {
        // Staleness markers are dropped for every rollup but `default_rollup`.
        let mut reader = samples.reader();
        let (a, b) = reader.window(p.fetch_min, p.fetch_max, false);
        if a == b {
            continue;
        }
        reader.fill(a, b, &mut ts, &mut vs);
        let col = rollup_column(ctx, &p, Some(f), &ts, &vs, q);
        if col.iter().any(Option::is_some) {
            out.push(Series {
                labels: if keeps_name(Some(f)) {
                    labels.clone()
                } else {
                    drop_name(labels)
                },
                values: col,
            });
        }
    }
    check_distinct(&out)?;
    Ok(out)
}

/// `topk`/`bottomk` (`newAggrFuncTopK`): per step and group, the members sorted by value with
/// a missing value (NaN) lowest, and the last `k` kept. For `bottomk` the sort is reversed, so
/// a member without a value at that step takes a place among the `k` and yields nothing.
/// Members are the input series with a value at some step of the evaluation (the aggregation
/// drops all-NaN series first); with `per_step` (each step an instant query of its own), those
/// with a value at the step. Equal values come out in the order of Go's unstable sort in
/// VictoriaMetrics: which of two tied series is kept is not reproducible.
pub(crate) fn topk(
    n: usize,
    input: Vec<Series>,
    group_of: &[usize],
    groups: usize,
    k: &[f64],
    bottom: bool,
    per_step: bool,
) -> Vec<Series> {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups];
    for (si, &g) in group_of.iter().enumerate() {
        members[g].push(si);
    }
    let mut keep = vec![vec![false; n]; input.len()];
    let mut order: Vec<(f64, usize)> = Vec::new();
    for (step, &kf) in k.iter().enumerate().take(n) {
        for m in &members {
            order.clear();
            order.extend(
                m.iter()
                    .map(|&si| (input[si].values[step].unwrap_or(f64::NAN), si))
                    .filter(|x| !per_step || !x.0.is_nan()),
            );
            // getIntK: NaN is 0, clamped to [0, members].
            let kn = if kf.is_nan() {
                0
            } else {
                (kf as i64).clamp(0, order.len() as i64) as usize
            };
            if kn == 0 {
                continue;
            }
            // lessWithNaNs(a, b) (arguments swapped for bottomk), as a total order.
            let less = |a: f64, b: f64| if a.is_nan() { !b.is_nan() } else { a < b };
            order.sort_by(|x, y| {
                let (a, b) = if bottom { (y.0, x.0) } else { (x.0, y.0) };
                if less(a, b) {
                    std::cmp::Ordering::Less
                } else if less(b, a) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
            for &(v, si) in &order[order.len() - kn..] {
                if !v.is_nan() {
                    keep[si][step] = true;
                }
            }
        }
    }
    input
        .into_iter()
        .zip(keep)
        .filter_map(|(mut s, keep)| {
            for (v, k) in s.values.iter_mut().zip(keep) {
                if !k {
                    *v = None;
                }
            }
            s.values.iter().any(Option::is_some).then_some(s)
        })
        .collect()
}

/// `transformHistogramQuantile` over classic `le` buckets: buckets grouped by their labels
/// without `le` and `__name__`, sorted by `le`, equal bounds merged, then `fixBrokenBuckets`
/// (a bucket above the next one takes its value, from the top down) and VictoriaMetrics's
/// interpolation; a NaN result (no observations) is no value.
pub(crate) fn histogram_quantile(
    n: usize,
    q: &[f64],
    input: Vec<Series>,
) -> Result<Vec<Series>, QueryError> {
    let mut ids: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<(f64, usize)>)> = Vec::new();
    for (si, s) in input.iter().enumerate() {
        let Some(le) = s.labels.get("le").and_then(|v| parse_go_float(v)) else {
            continue;
        };
        let mut key = drop_name(&s.labels);
        key.remove("le");
        let next = ids.len();
        let id = *ids.entry(key.clone()).or_insert(next);
        if id == groups.len() {
            groups.push((key, Vec::new()));
        }
        groups[id].1.push((le, si));
    }
    let mut out = Vec::new();
    for (labels, mut members) in groups {
        members.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        let mut values = vec![None; n];
        let mut buckets: Vec<(f64, f64)> = Vec::with_capacity(members.len());
        for (step, cell) in values.iter_mut().enumerate() {
            buckets.clear();
            for &(le, si) in &members {
                let v = input[si].values[step].unwrap_or(f64::NAN);
                match buckets.last_mut() {
                    Some(last) if last.0 == le => last.1 += v,
                    _ => buckets.push((le, v)),
                }
            }
            let v = bucket_quantile(q[step], &mut buckets);
            if !v.is_nan() {
                *cell = Some(v);
            }
        }
        if values.iter().any(Option::is_some) {
            out.push(Series { labels, values });
        }
    }
    Ok(out)
}

/// The `quantile` closure of `transformHistogramQuantile`; `xss` sorted by `le`.
fn bucket_quantile(phi: f64, xss: &mut [(f64, f64)]) -> f64 {
    if phi.is_nan() {
        return f64::NAN;
    }
    fix_broken_buckets(xss);
    let v_last = xss.last().map_or(0.0, |x| x.1);
    if v_last == 0.0 {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    let v_req = v_last * phi;
    let (mut v_prev, mut le_prev) = (0.0f64, 0.0f64);
    for &(le, v) in xss.iter() {
        if v <= 0.0 {
            le_prev = le;
            continue;
        }
        if v < v_req {
            v_prev = v;
            le_prev = le;
            continue;
        }
        if le.is_infinite() {
            break;
        }
        if v == v_prev {
            return le_prev;
        }
        return le_prev + (le - le_prev) * (v_req - v_prev) / (v - v_prev);
    }
    xss.iter()
        .rev()
        .find(|x| !x.0.is_infinite())
        .map_or(f64::NAN, |x| x.0)
}

fn fix_broken_buckets(xss: &mut [(f64, f64)]) {
    if xss.len() < 2 {
        return;
    }
    if let Some(j) = xss.iter().rposition(|x| !x.1.is_nan()) {
        let v = xss[j].1;
        for x in &mut xss[j + 1..] {
            x.1 = v;
        }
    }
    let top = xss.len() - 1;
    let mut v_next = xss[top].1;
    for x in xss[..top].iter_mut().rev() {
        if x.1.is_nan() || x.1 > v_next {
            x.1 = v_next;
        } else {
            v_next = x.1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::{Flavor, MemStorage, Query, SeriesSamples, Value, eval_instant};

    fn one(q: &str, pts: &[(i64, f64)], t: i64) -> Option<f64> {
        let mut s = MemStorage::new();
        let l: Labels = [("__name__".to_string(), "c".to_string())].into();
        s.push_series(l, SeriesSamples::from_samples(pts.iter().copied()));
        match eval_instant(&Query::parse(q).unwrap(), &s, t, Flavor::VictoriaMetrics).unwrap() {
            Value::Vector(v) => v.first().map(|x| x.1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rate_uses_the_sample_before_the_window() {
        let pts: Vec<(i64, f64)> = (0..40).map(|i| (i * 30_000, i as f64 * 3.0)).collect();
        // (t-5m, t] at t = 607s holds 330..600s; the sample before is at 300s.
        let r = one("rate(c[5m])", &pts, 607_000).unwrap();
        assert_eq!(r, (60.0 - 30.0) / 300.0);
        // increase: no extrapolation.
        assert_eq!(one("increase(c[5m])", &pts, 607_000), Some(30.0));
        // A new series counts from zero when its first value is small.
        assert_eq!(one("increase(c[5m])", &pts[..3], 60_000), Some(6.0));
    }

    /// `eval_instants` answers each step as `eval_instant` at it, bit for bit, and differs from
    /// a range query where VictoriaMetrics's do (the instant selector's window is the step).
    #[test]
    fn instants_mode_equals_instant_queries() {
        let mut s = MemStorage::new();
        let mut v = 0.0;
        let mut pts = Vec::new();
        for i in 0..600i64 {
            let t = i * 30_000 + (i * 7919 % 1000);
            if (200..230).contains(&i) {
                continue; // a 15-minute gap
            }
            v = match i {
                300 => 3.0,     // reset
                400 => v - 5.0, // partial reset
                _ => v + (i % 11) as f64,
            };
            pts.push((t, v));
        }
        let l: Labels = [("__name__".to_string(), "c".to_string())].into();
        s.push_series(l, SeriesSamples::from_samples(pts));
        let steps = crate::promql::Steps {
            start_ms: 0,
            end_ms: 600 * 30_000,
            step_ms: 61_000,
        };
        for text in [
            "rate(c[5m])",
            "increase(c[10m])",
            "irate(c[2m])",
            "delta(c[5m])",
            "resets(c[30m])",
            "c",
            "avg_over_time(c[3m])",
        ] {
            let q = Query::parse(text).unwrap();
            let col = crate::promql::eval_instants(&q, &s, steps, Flavor::VictoriaMetrics).unwrap();
            for i in 0..steps.count() {
                let want =
                    match eval_instant(&q, &s, steps.time(i), Flavor::VictoriaMetrics).unwrap() {
                        Value::Vector(v) => v.first().map(|x| x.1.to_bits()),
                        other => panic!("{other:?}"),
                    };
                let got = col.first().and_then(|r| r.values[i]).map(f64::to_bits);
                assert_eq!(got, want, "{text} at step {i}");
            }
        }
        // A range query at a 1m step looks back only max(1m, staleness) for `c`: inside the
        // gap it has nothing where the instant query (5m) still has the last sample.
        let q = Query::parse("c").unwrap();
        let t = 206 * 30_000;
        let one = crate::promql::Steps {
            start_ms: t,
            end_ms: t,
            step_ms: 60_000,
        };
        assert!(
            crate::promql::eval_range(&q, &s, one, Flavor::VictoriaMetrics)
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            eval_instant(&q, &s, t, Flavor::VictoriaMetrics).unwrap(),
            Value::Vector(v) if v.len() == 1
        ));
    }

    #[test]
    fn resets_partial_and_full() {
        let mut v = vec![0.0, 100.0, 200.0, 190.0, 200.0, 10.0, 20.0];
        remove_counter_resets(&mut v);
        // 200 -> 190 is a partial reset (drop < 1/8): only the drop is added back.
        assert_eq!(v, vec![0.0, 100.0, 200.0, 200.0, 210.0, 220.0, 230.0]);
    }

    #[test]
    fn scrape_interval_quantile() {
        let ts: Vec<i64> = (0..30).map(|i| i * 30_000 + (i % 3) * 100).collect();
        let si = scrape_interval(&ts, 300_000);
        assert!((29_800..=30_200).contains(&si), "{si}");
        assert_eq!(max_prev_interval(30_000), 37_500);
    }

    #[test]
    fn histogram_quantile_interpolates_like_vm() {
        let mut b = vec![(0.1, 5.0), (0.5, 8.0), (f64::INFINITY, 10.0)];
        assert!((bucket_quantile(0.5, &mut b) - 0.1).abs() < 1e-12);
        let mut b = vec![(0.1, 5.0), (0.5, 8.0), (f64::INFINITY, 10.0)];
        assert_eq!(bucket_quantile(0.99, &mut b), 0.5);
        let mut b = vec![(0.1, 0.0), (f64::INFINITY, 0.0)];
        assert!(bucket_quantile(0.5, &mut b).is_nan());
    }
}
