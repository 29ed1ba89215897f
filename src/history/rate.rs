//! Local `rate()`: Prometheus 2.42's `rate(counter[w])`, computed from raw samples.
//!
//! `backtest --history` and incremental evaluation compute burn rates without asking a
//! backend, and the product contract promises that the same data gives the same number
//! whichever path computed it. So this is not "a" rate but a transcription of
//! `extrapolatedRate` (promql/functions.go, `isCounter = true`, `isRate = true`) and of the
//! range selection in promql/engine.go (`matrixIterSlice`), operation for operation, so that
//! the floats come out the same. `tests/rate_matches_prometheus.rs` checks it against a real
//! Prometheus 2.42.
//!
//! Two entry points:
//! - [`rate_at`] evaluates one instant by walking its window: the reference formula.
//! - [`rates_over`] evaluates a whole range of steps in one pass over the samples (two
//!   pointers for the window edges, one more pair for the counter resets inside it), which is
//!   what a backtest over weeks of 1-minute steps needs.
//!
//! Input contract for both: samples sorted by strictly increasing `t_ms`. Prometheus's TSDB
//! never holds two samples of one series at one timestamp, so duplicates are not expected;
//! if they occur anyway nothing panics, but the result is whatever the formula gives
//! (a zero sampled interval can give `inf` or `NaN`).

use super::Sample;

/// Which edge of the range `[t - w, t]` belongs to the window.
///
/// Prometheus 2.x (2.42 included) selects samples with `t - w <= ts <= t`: a sample exactly
/// one window old still counts. Prometheus 3.0 made the window left-open, `t - w < ts <= t`.
/// `tests/rate_matches_prometheus.rs` pins the 2.42 behaviour on evaluation times that fall
/// exactly one window after a sample. The default is what 2.42 really does.
///
/// Only the window differs between the two: the extrapolation is 2.42's in both cases
/// (Prometheus 2.52 also moved the zero-point clamp after the threshold test, which 3.x keeps;
/// that change is not modelled here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WindowBounds {
    /// `[t - w, t]`, Prometheus 2.x.
    #[default]
    ClosedLeft,
    /// `(t - w, t]`, Prometheus 3.x.
    OpenLeft,
}

impl WindowBounds {
    /// Whether a sample at `t_ms` lies before a window whose range starts at `range_start`.
    #[inline(always)]
    fn is_before(self, t_ms: i64, range_start: i64) -> bool {
        match self {
            WindowBounds::ClosedLeft => t_ms < range_start,
            WindowBounds::OpenLeft => t_ms <= range_start,
        }
    }
}

/// `rate()` of one counter series at instant `t_ms` over a window of `window_ms`, as
/// Prometheus 2.42 computes it; `None` where Prometheus returns no sample (fewer than two
/// samples in the window, which covers an empty series, a single sample, a window that ends
/// before the first sample or starts after the last, and `window_ms <= 0`).
///
/// `NaN` values behave as in Prometheus: a `NaN` first or last sample makes the rate `NaN`;
/// a `NaN` in the middle does not propagate but hides a counter reset on either side of it
/// (every comparison with `NaN` is false). Prometheus's stale markers (the `NaN` with bit
/// pattern `0x7ff0000000000002`) are skipped, as the range selector skips them.
pub fn rate_at(samples: &[Sample], t_ms: i64, window_ms: i64, bounds: WindowBounds) -> Option<f64> {
    let range_start = t_ms.saturating_sub(window_ms);
    let hi = samples.partition_point(|s| s.t_ms <= t_ms);
    let lo = samples.partition_point(|s| bounds.is_before(s.t_ms, range_start));
    if lo >= hi {
        return None;
    }
    let mut window = samples[lo..hi].iter().filter(|s| !is_stale_marker(s.value));
    let first = *window.next()?;
    let last = *samples[lo..hi]
        .iter()
        .rev()
        .find(|s| !is_stale_marker(s.value))?;
    // Same accumulation order as the Go loop: `last - first`, then each reset's pre-drop
    // value in time order.
    let mut result = last.value - first.value;
    let mut prev = first.value;
    let mut n = 1usize;
    for s in window {
        if s.value < prev {
            result += prev;
        }
        prev = s.value;
        n += 1;
    }
    if n < 2 {
        return None;
    }
    Some(extrapolate(
        first,
        last,
        n,
        result,
        range_start,
        t_ms,
        range_seconds(window_ms),
    ))
}

/// [`rate_at`] at every step `t = start_ms + i * step_ms` with `t <= end_ms`; `out[i]` is the
/// value at `start_ms + i * step_ms`. Empty when `end_ms < start_ms`.
///
/// One pass over the samples: the window edges only move forward, and the counter-reset
/// corrections inside a window are summed from a list of resets, not by re-scanning the window.
/// Results are bit-identical to [`rate_at`] while a window holds at most
/// [`MAX_RESETS_SUMMED_IN_ORDER`] resets; past that, the corrections come from
/// double-double prefix sums, and can differ from Prometheus's left-to-right sum by that
/// sum's own rounding error (a few ulps of the largest pre-reset value).
///
/// # Panics
/// If `step_ms <= 0` (Prometheus rejects such a step too).
pub fn rates_over(
    samples: &[Sample],
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    window_ms: i64,
    bounds: WindowBounds,
) -> Vec<Option<f64>> {
    assert!(
        step_ms > 0,
        "rates_over: step must be positive, got {step_ms} ms"
    );
    if end_ms < start_ms {
        return Vec::new();
    }
    let steps = ((end_ms as i128 - start_ms as i128) / step_ms as i128 + 1) as usize;
    if window_ms <= 0 {
        return vec![None; steps];
    }
    // Stale markers never reach extrapolatedRate; dropping them up front keeps the hot loop
    // free of the check (and they do not occur in text or query_range input anyway).
    let cleaned: Vec<Sample>;
    let samples = if samples.iter().any(|s| is_stale_marker(s.value)) {
        cleaned = samples
            .iter()
            .copied()
            .filter(|s| !is_stale_marker(s.value))
            .collect();
        &cleaned[..]
    } else {
        samples
    };

    // Only samples some window can see matter: find them once, and collect the resets there.
    let first_lo =
        samples.partition_point(|s| bounds.is_before(s.t_ms, start_ms.saturating_sub(window_ms)));
    let last_step = (start_ms as i128 + (steps as i128 - 1) * step_ms as i128) as i64;
    let last_hi = samples.partition_point(|s| s.t_ms <= last_step);
    let resets = Resets::find(samples, first_lo, last_hi);

    let seconds = range_seconds(window_ms);
    let mut out = Vec::with_capacity(steps);
    let (mut lo, mut hi) = (first_lo, first_lo);
    // Resets at sample index r (the sample after the drop) with lo < r < hi are in the window:
    // reset ordinals ra..rb.
    let (mut ra, mut rb) = (0usize, 0usize);
    let mut t = start_ms;
    for _ in 0..steps {
        let range_start = t.saturating_sub(window_ms);
        while hi < last_hi && samples[hi].t_ms <= t {
            hi += 1;
        }
        while lo < hi && bounds.is_before(samples[lo].t_ms, range_start) {
            lo += 1;
        }
        if hi - lo < 2 {
            out.push(None);
        } else {
            while ra < resets.at.len() && resets.at[ra] <= lo {
                ra += 1;
            }
            while rb < resets.at.len() && resets.at[rb] < hi {
                rb += 1;
            }
            let (first, last) = (samples[lo], samples[hi - 1]);
            // Computed from the two samples themselves, never as a difference of running sums,
            // so that a large counter with tiny increments keeps all its digits.
            let mut result = last.value - first.value;
            if rb > ra {
                result = resets.add_corrections(result, ra, rb);
            }
            out.push(Some(extrapolate(
                first,
                last,
                hi - lo,
                result,
                range_start,
                t,
                seconds,
            )));
        }
        t = t.wrapping_add(step_ms);
    }
    out
}

/// Up to this many resets in one window are added one by one in Prometheus's order (exactly
/// its floats); more come from prefix sums, so that a counter that drops at every scrape does
/// not make each step cost a whole window.
pub const MAX_RESETS_SUMMED_IN_ORDER: usize = 32;

/// The counter resets of a stretch of samples: where each drop happens and the value before it.
struct Resets {
    /// Index of the sample after each drop, increasing.
    at: Vec<usize>,
    /// The value before each drop: what Prometheus adds back for it.
    correction: Vec<f64>,
    /// Double-double prefix sums of `correction` (`prefix[k]` = sum of the first `k`), built
    /// only when some window could hold more resets than are summed in order. Empty when any
    /// correction is infinite: double-double arithmetic turns `inf` into `NaN`, so such
    /// series are always summed in order.
    prefix: Vec<(f64, f64)>,
}

impl Resets {
    fn find(samples: &[Sample], from: usize, to: usize) -> Resets {
        let mut at = Vec::new();
        let mut correction = Vec::new();
        if to > from {
            let mut prev = samples[from].value;
            for (i, s) in samples.iter().enumerate().take(to).skip(from + 1) {
                if s.value < prev {
                    at.push(i);
                    correction.push(prev);
                }
                prev = s.value;
            }
        }
        let mut prefix = Vec::new();
        if correction.len() > MAX_RESETS_SUMMED_IN_ORDER && correction.iter().all(|c| c.is_finite())
        {
            prefix.reserve(correction.len() + 1);
            let mut acc = (0.0, 0.0);
            prefix.push(acc);
            for &c in &correction {
                acc = dd_add(acc, c);
                prefix.push(acc);
            }
        }
        Resets {
            at,
            correction,
            prefix,
        }
    }

    /// `result` plus the corrections of resets `ra..rb`.
    #[inline]
    fn add_corrections(&self, mut result: f64, ra: usize, rb: usize) -> f64 {
        if rb - ra <= MAX_RESETS_SUMMED_IN_ORDER || self.prefix.is_empty() {
            for &c in &self.correction[ra..rb] {
                result += c;
            }
            result
        } else {
            let (b, a) = (self.prefix[rb], self.prefix[ra]);
            let (s, e) = two_sum(b.0, -a.0);
            result + (s + (e + (b.1 - a.1)))
        }
    }
}

/// `extrapolatedRate` from the point where the raw increase `result` is known. Every operation
/// is the Go one, in the Go order, so the floats match.
#[inline(always)]
pub(super) fn extrapolate(
    first: Sample,
    last: Sample,
    n: usize,
    mut result: f64,
    range_start: i64,
    range_end: i64,
    range_seconds: f64,
) -> f64 {
    let mut duration_to_start = (first.t_ms - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - last.t_ms) as f64 / 1000.0;
    let sampled_interval = (last.t_ms - first.t_ms) as f64 / 1000.0;
    let average_duration_between_samples = sampled_interval / (n - 1) as f64;

    // A counter cannot have been below zero: do not extrapolate the start past the point
    // where the observed slope reaches zero. (In 2.42 this happens before the threshold test.)
    if result > 0.0 && first.value >= 0.0 {
        let duration_to_zero = sampled_interval * (first.value / result);
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
    factor /= range_seconds;
    result *= factor;
    result
}

/// Go's `time.Duration.Seconds()` of a window given in milliseconds: whole seconds plus the
/// nanosecond rest divided by 1e9, which is not always the same float as `ms / 1000.0`.
pub(super) fn range_seconds(window_ms: i64) -> f64 {
    let secs = window_ms / 1000;
    let nanos = (window_ms % 1000) * 1_000_000;
    secs as f64 + nanos as f64 / 1e9
}

/// Prometheus's staleness marker (`value.StaleNaN`).
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

#[inline(always)]
pub(super) fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Knuth's TwoSum: `a + b` as a float and its exact rounding error.
#[inline]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// Double-double plus double, renormalised.
#[inline]
fn dd_add(a: (f64, f64), b: f64) -> (f64, f64) {
    let (s, e) = two_sum(a.0, b);
    let e = e + a.1;
    let hi = s + e;
    (hi, e - (hi - s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: i64 = 1000;

    fn series(points: &[(i64, f64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|&(t_s, value)| Sample {
                t_ms: t_s * S,
                value,
            })
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
    }

    fn rate(points: &[(i64, f64)], t_s: i64, w_s: i64) -> Option<f64> {
        rate_at(&series(points), t_s * S, w_s * S, WindowBounds::ClosedLeft)
    }

    // Every case: scrapes every 10 s, evaluated at t = 65 s over 60 s, so the range is
    // [5 s, 65 s] and the average interval among samples at 10..60 is 10 s (threshold 11 s).

    #[test]
    fn extrapolates_to_both_boundaries_when_samples_are_near_them() {
        let pts: Vec<_> = (1..=6).map(|k| (10 * k, 10.0 * k as f64)).collect();
        // increase 50 over 50 s, extended by 5 s each side: 50 * 60/50 / 60 = 1.
        assert_eq!(rate(&pts, 65, 60), Some(1.0));
    }

    #[test]
    fn late_first_sample_extrapolates_half_an_interval() {
        let pts = [(30, 100.0), (40, 110.0), (50, 120.0), (60, 130.0)];
        // 25 s to the start >= 11 s: +5 s instead; 5 s to the end: +5 s. 30 * 40/30 / 60.
        assert!(close(rate(&pts, 65, 60).unwrap(), 40.0 / 60.0));
    }

    #[test]
    fn early_last_sample_extrapolates_half_an_interval() {
        let pts = [(10, 100.0), (20, 110.0), (30, 120.0)];
        // +5 s at the start, 35 s to the end >= 11 s: +5 s. 20 * 30/20 / 60.
        assert!(close(rate(&pts, 65, 60).unwrap(), 0.5));
    }

    #[test]
    fn start_extrapolation_stops_at_the_counters_zero_point() {
        let pts: Vec<_> = (1..=6)
            .map(|k| (10 * k, 1.0 + 10.0 * (k - 1) as f64))
            .collect();
        // zero point 50 * (1/50) = 1 s before the first sample (< 5 s): 50 * 56/50 / 60.
        assert!(close(rate(&pts, 65, 60).unwrap(), 56.0 / 60.0));
    }

    #[test]
    fn zero_point_clamp_comes_before_the_threshold_test() {
        // 25 s to the start is past the threshold, but the zero point (0 s) is checked first
        // and is under it, so the start is extended by 0 s, not by half an interval.
        let pts = [(30, 0.0), (40, 10.0), (50, 20.0), (60, 30.0)];
        assert!(close(rate(&pts, 65, 60).unwrap(), 35.0 / 60.0));
    }

    #[test]
    fn negative_first_value_disables_the_zero_point_clamp() {
        let pts: Vec<_> = (1..=6)
            .map(|k| (10 * k, -10.0 + 10.0 * (k - 1) as f64))
            .collect();
        assert_eq!(rate(&pts, 65, 60), Some(1.0));
    }

    #[test]
    fn counter_reset_adds_the_value_before_the_drop() {
        let pts = [
            (10, 10.0),
            (20, 20.0),
            (30, 30.0),
            (40, 5.0),
            (50, 15.0),
            (60, 25.0),
        ];
        // 25 - 10 + 30 = 45; zero point 50 * 10/45 > 5 s: 45 * 60/50 / 60.
        assert!(close(rate(&pts, 65, 60).unwrap(), 0.9));
    }

    #[test]
    fn flat_counter_is_zero() {
        assert_eq!(rate(&[(10, 7.0), (20, 7.0), (30, 7.0)], 65, 60), Some(0.0));
    }

    #[test]
    fn no_rate_from_fewer_than_two_samples() {
        assert_eq!(rate(&[], 65, 60), None);
        assert_eq!(rate(&[(30, 1.0)], 65, 60), None);
        let pts = [(100, 1.0), (110, 2.0), (120, 3.0)];
        assert_eq!(
            rate(&pts, 90, 60),
            None,
            "window ends before the first sample"
        );
        assert_eq!(
            rate(&pts, 200, 60),
            None,
            "window starts after the last sample"
        );
        assert_eq!(
            rate(&pts, 175, 60),
            None,
            "only the last sample is in the window"
        );
        assert_eq!(rate(&pts, 120, 0), None);
        assert_eq!(rate(&pts, 120, -60), None);
        assert!(rate(&pts, 170, 60).is_some(), "two samples suffice");
    }

    #[test]
    fn left_edge_sample_is_in_a_closed_window_only() {
        let s = series(&[
            (0, 0.0),
            (10, 10.0),
            (20, 20.0),
            (30, 40.0),
            (40, 45.0),
            (50, 55.0),
            (60, 60.0),
        ]);
        let closed = rate_at(&s, 60 * S, 60 * S, WindowBounds::ClosedLeft).unwrap();
        let open = rate_at(&s, 60 * S, 60 * S, WindowBounds::OpenLeft).unwrap();
        // closed: 0 -> 60 over exactly the window: 60 / 60.
        assert_eq!(closed, 1.0);
        // open: 10 -> 60 (increase 50 over 50 s), first sample 10 s after the range start,
        // under the 11 s threshold, so extended all the way: 50 * 60/50 / 60.
        assert!(close(open, 1.0));
        let s = series(&[(0, 100.0), (10, 100.0), (20, 130.0)]);
        // closed: [0, 20] sees 100 -> 130 over 20 s: 30 * 20/20 / 20 = 1.5.
        assert_eq!(
            rate_at(&s, 20 * S, 20 * S, WindowBounds::ClosedLeft),
            Some(1.5)
        );
        // open: (0, 20] sees 100 -> 130 over 10 s, extended 10 s back: 30 * 20/10 / 20 = 3.
        assert!(close(
            rate_at(&s, 20 * S, 20 * S, WindowBounds::OpenLeft).unwrap(),
            3.0
        ));
        assert_eq!(WindowBounds::default(), WindowBounds::ClosedLeft);
    }

    #[test]
    fn nan_at_an_end_propagates_and_in_the_middle_hides_resets() {
        assert!(
            rate(&[(10, f64::NAN), (20, 1.0), (30, 2.0)], 65, 60)
                .unwrap()
                .is_nan()
        );
        assert!(
            rate(&[(10, 1.0), (20, 2.0), (30, f64::NAN)], 65, 60)
                .unwrap()
                .is_nan()
        );
        // 10, 20, NaN, 5, 15: the drop 20 -> 5 is never compared, so no reset is counted:
        // increase 15 - 10 = 5, same as without the NaN but with the reset ignored.
        let with_nan = rate(
            &[
                (10, 10.0),
                (20, 20.0),
                (30, f64::NAN),
                (40, 5.0),
                (50, 15.0),
            ],
            65,
            60,
        )
        .unwrap();
        let no_reset = rate(
            &[(10, 10.0), (20, 11.0), (30, 12.0), (40, 13.0), (50, 15.0)],
            65,
            60,
        )
        .unwrap();
        assert_eq!(with_nan, no_reset);
        let pts = [
            (10, 10.0),
            (20, 20.0),
            (30, f64::NAN),
            (40, 5.0),
            (50, 15.0),
        ];
        let over = rates_over(
            &series(&pts),
            60 * S,
            70 * S,
            5 * S,
            60 * S,
            WindowBounds::ClosedLeft,
        );
        assert_eq!(over[1], Some(with_nan));
    }

    #[test]
    fn stale_markers_are_skipped() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let with = series(&[(10, 10.0), (20, stale), (30, 30.0), (40, 40.0), (50, stale)]);
        let without = series(&[(10, 10.0), (30, 30.0), (40, 40.0)]);
        for t in [45, 65, 75, 85, 95] {
            let a = rate_at(&with, t * S, 60 * S, WindowBounds::ClosedLeft);
            assert_eq!(
                a,
                rate_at(&without, t * S, 60 * S, WindowBounds::ClosedLeft),
                "t={t}"
            );
            let b = rates_over(&with, t * S, t * S, S, 60 * S, WindowBounds::ClosedLeft);
            assert_eq!(b, vec![a]);
        }
    }

    #[test]
    fn window_seconds_follow_go_duration_seconds() {
        assert_eq!(range_seconds(1500), 1.5);
        assert_eq!(range_seconds(300_000), 300.0);
        for ms in [1, 7, 123, 999, 60_001, 86_400_123] {
            let secs = ms / 1000;
            let nanos = (ms % 1000) * 1_000_000;
            assert_eq!(range_seconds(ms), secs as f64 + nanos as f64 / 1e9);
        }
    }

    #[test]
    fn rates_over_steps_and_edges() {
        let pts: Vec<_> = (0..100).map(|k| (15 * k, (k * k) as f64)).collect();
        let s = series(&pts);
        assert!(rates_over(&s, 10 * S, 9 * S, S, 60 * S, WindowBounds::ClosedLeft).is_empty());
        assert_eq!(
            rates_over(&s, 10 * S, 10 * S, S, 60 * S, WindowBounds::ClosedLeft).len(),
            1
        );
        let out = rates_over(
            &s,
            -600 * S,
            2000 * S,
            7 * S,
            60 * S,
            WindowBounds::ClosedLeft,
        );
        assert_eq!(out.len(), (2600 / 7 + 1) as usize);
        for (i, got) in out.iter().enumerate() {
            let t = -600 * S + i as i64 * 7 * S;
            assert_eq!(
                *got,
                rate_at(&s, t, 60 * S, WindowBounds::ClosedLeft),
                "t={t}"
            );
        }
        assert!(out[0].is_none() && out.last().unwrap().is_none());
        assert_eq!(
            rates_over(&s, 0, 100 * S, S, 0, WindowBounds::ClosedLeft),
            vec![None; 101]
        );
        assert!(
            rates_over(&[], 0, 100 * S, S, 60 * S, WindowBounds::OpenLeft)
                .iter()
                .all(Option::is_none)
        );
    }

    #[test]
    #[should_panic(expected = "step must be positive")]
    fn rates_over_rejects_a_zero_step() {
        rates_over(&[], 0, 1, 0, 60 * S, WindowBounds::ClosedLeft);
    }

    #[test]
    fn many_resets_use_prefix_sums_and_stay_exact_on_integers() {
        // A "counter" that drops at nearly every scrape: far more resets per window than are
        // summed in order. Integer values keep every sum exact, so the paths agree bit for bit.
        let pts: Vec<_> = (0..2000)
            .map(|k| (10 * k, ((k * 7919) % 1000) as f64))
            .collect();
        let s = series(&pts);
        let out = rates_over(
            &s,
            0,
            20_000 * S,
            13 * S,
            3600 * S,
            WindowBounds::ClosedLeft,
        );
        for (i, got) in out.iter().enumerate() {
            let t = i as i64 * 13 * S;
            assert_eq!(
                *got,
                rate_at(&s, t, 3600 * S, WindowBounds::ClosedLeft),
                "t={t}"
            );
        }
    }

    #[test]
    fn large_counter_with_tiny_increments_keeps_its_digits() {
        let pts: Vec<_> = (0..400).map(|k| (15 * k, 1e12 + 1e-3 * k as f64)).collect();
        let s = series(&pts);
        let out = rates_over(&s, 0, 6000 * S, 60 * S, 300 * S, WindowBounds::ClosedLeft);
        for (i, got) in out.iter().enumerate() {
            let t = i as i64 * 60 * S;
            assert_eq!(
                *got,
                rate_at(&s, t, 300 * S, WindowBounds::ClosedLeft),
                "t={t}"
            );
        }
        // 1e-3 per 15 s, within the float resolution of 1e12 (1.2e-4).
        let r = out[10].unwrap();
        assert!((r - 1e-3 / 15.0).abs() < 1e-3 / 15.0 * 0.2, "{r}");
    }

    /// How the values of a random series evolve.
    #[derive(Debug, Clone, Copy)]
    enum Values {
        /// Multiples of 1/8 below 2^40: every sum is exact, both paths must agree bit for bit.
        Dyadic,
        /// Arbitrary fractions.
        Fractional,
    }

    prop_compose! {
        fn arb_series(values: Values)(
            start in -100_000i64..100_000,
            steps in prop::collection::vec(
                (
                    prop_oneof![
                        6 => Just(15_000i64),
                        3 => 10_000i64..20_000,
                        1 => 20_000i64..900_000,
                    ],
                    0u32..1000,
                    0.0f64..50.0,
                ),
                0..400,
            ),
            reset_per_mille in prop_oneof![Just(0u32), 1u32..30, 300u32..900],
            initial in 0.0f64..1e6,
        ) -> Vec<Sample> {
            let mut t = start;
            let mut v = match values { Values::Dyadic => (initial * 8.0).floor() / 8.0, Values::Fractional => initial };
            let mut out = Vec::with_capacity(steps.len());
            for (dt, reset_roll, inc) in steps {
                t += dt;
                let inc = match values { Values::Dyadic => (inc * 8.0).floor() / 8.0, Values::Fractional => inc };
                v = if reset_roll < reset_per_mille { inc } else { v + inc };
                out.push(Sample { t_ms: t, value: v });
            }
            out
        }
    }

    fn arb_query() -> impl Strategy<Value = (i64, i64, i64, i64, WindowBounds)> {
        (
            -400_000i64..2_000_000,
            1i64..8_000_000,
            prop_oneof![Just(15_000i64), Just(60_000), 1i64..400_000],
            prop_oneof![
                Just(60_000i64),
                Just(300_000),
                Just(3_600_000),
                1i64..10_000_000
            ],
            prop_oneof![Just(WindowBounds::ClosedLeft), Just(WindowBounds::OpenLeft)],
        )
    }

    fn check_against_rate_at(
        s: &[Sample],
        (start, span, step, window, bounds): (i64, i64, i64, i64, WindowBounds),
        bit_exact: bool,
    ) -> Result<(), TestCaseError> {
        let out = rates_over(s, start, start + span, step, window, bounds);
        prop_assert_eq!(out.len() as i64, span / step + 1);
        for (i, got) in out.iter().enumerate() {
            let t = start + i as i64 * step;
            let want = rate_at(s, t, window, bounds);
            match (got, want) {
                (None, None) => {}
                (Some(a), Some(b)) if bit_exact => {
                    prop_assert_eq!(a.to_bits(), b.to_bits(), "t={} {} vs {}", t, a, b)
                }
                (Some(a), Some(b)) => prop_assert!(close(*a, b), "t={} {} vs {}", t, a, b),
                _ => prop_assert!(false, "t={}: rates_over {:?}, rate_at {:?}", t, got, want),
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn rates_over_is_rate_at_on_dyadic_counters(s in arb_series(Values::Dyadic), q in arb_query()) {
            check_against_rate_at(&s, q, true)?;
        }

        #[test]
        fn rates_over_is_rate_at_on_fractional_counters(s in arb_series(Values::Fractional), q in arb_query()) {
            check_against_rate_at(&s, q, false)?;
        }

        #[test]
        fn rates_over_is_rate_at_on_sample_aligned_times(s in arb_series(Values::Fractional), k in 0usize..400, w in 1i64..40, bounds in prop_oneof![Just(WindowBounds::ClosedLeft), Just(WindowBounds::OpenLeft)]) {
            // Evaluation times on a sample, and windows whose left edge falls on samples of a
            // regular 15 s series: the boundary rule decides.
            prop_assume!(!s.is_empty());
            let start = s[k % s.len()].t_ms;
            check_against_rate_at(&s, (start, 3_600_000, 15_000, w * 15_000, bounds), false)?;
        }
    }
}
