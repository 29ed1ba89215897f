//! From measured rates to bad ratios, burn rates, event counts and quantiles.
//!
//! The arithmetic follows the reference PromQL expressions operation by operation
//! (`bad / total / budget`, `1 - good / total`), so a burn rate printed here equals what
//! Prometheus computes for the same window to the last bits. The budget is `1 - objective`
//! taken in decimal (`spec::budget`), the same literal the exported rules divide by.

use super::measure::{Bucket, ErrorRates, HistogramRates};

/// One window of one dimension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowValue {
    /// `None` (printed `null`) when the total is missing or unusable: never 0.
    pub burn: Option<f64>,
    /// Bad events over total events; `None` exactly when `burn` is `None`.
    pub(crate) bad_ratio: Option<f64>,
    /// Total events in the window (`increase` of the total).
    pub events: Option<f64>,
    /// The total rate was 0: burn 0, flagged.
    pub no_traffic: bool,
}

impl WindowValue {
    pub(crate) const MISSING: WindowValue = WindowValue {
        burn: None,
        bad_ratio: None,
        events: None,
        no_traffic: false,
    };

    fn from_ratio(bad_ratio: f64, total: f64, budget: f64, window_seconds: f64) -> WindowValue {
        WindowValue {
            burn: Some(bad_ratio / budget),
            bad_ratio: Some(bad_ratio),
            events: Some(total * window_seconds),
            no_traffic: false,
        }
    }

    fn no_traffic() -> WindowValue {
        WindowValue {
            burn: Some(0.0),
            bad_ratio: Some(0.0),
            events: Some(0.0),
            no_traffic: true,
        }
    }
}

fn usable(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite() && *x >= 0.0)
}

/// Error SLI: `sum(rate(BAD[w])) / sum(rate(TOTAL[w]))`. A missing bad series with traffic
/// means no bad events (error counters often appear only at the first error); a bad value
/// that is present but not a number makes the window unusable.
pub fn error_window(rates: &ErrorRates, budget: f64, window_seconds: f64) -> WindowValue {
    let Some(total) = usable(rates.total) else {
        return WindowValue::MISSING;
    };
    if total == 0.0 {
        return WindowValue::no_traffic();
    }
    let bad = match rates.bad {
        None => 0.0,
        Some(b) if b.is_finite() && b >= 0.0 => b,
        Some(_) => return WindowValue::MISSING,
    };
    WindowValue::from_ratio(bad / total, total, budget, window_seconds)
}

/// Latency SLI: share of requests slower than `threshold`:
/// `1 - good(threshold) / sum(rate(H_count[w]))` from a classic histogram's buckets, or
/// `1 - histogram_fraction(0, threshold, ...)` from a native histogram's (see
/// [`native_latency_value`]).
pub fn latency_window(
    h: &HistogramRates,
    threshold: f64,
    budget: f64,
    window_seconds: f64,
) -> WindowValue {
    if h.fraction.is_some() {
        return native_latency_value(h.count, h.fraction, budget, window_seconds);
    }
    let mut buckets = Vec::new();
    let normalized = normalize_into(&h.buckets, &mut buckets).then_some(buckets.as_slice());
    latency_value(h.count, normalized, threshold, budget, window_seconds)
}

/// `latency_window` over buckets already normalized (`None`: they could not be).
pub(crate) fn latency_value(
    count: Option<f64>,
    normalized: Option<&[Bucket]>,
    threshold: f64,
    budget: f64,
    window_seconds: f64,
) -> WindowValue {
    let Some(total) = usable(count) else {
        return WindowValue::MISSING;
    };
    if total == 0.0 {
        return WindowValue::no_traffic();
    }
    let Some(good) = normalized.and_then(|b| good_at_normalized(b, threshold)) else {
        return WindowValue::MISSING;
    };
    WindowValue::from_ratio(1.0 - good / total, total, budget, window_seconds)
}

/// Native-histogram latency: `1 - histogram_fraction(0, T, sum(rate(H[w])))`, with
/// `histogram_count(...)` as the total. No traffic reads as for a classic histogram (the
/// fraction of an empty histogram is NaN); a fraction outside [0, 1] makes the window
/// unusable.
pub(crate) fn native_latency_value(
    count: Option<f64>,
    fraction: Option<f64>,
    budget: f64,
    window_seconds: f64,
) -> WindowValue {
    let Some(total) = usable(count) else {
        return WindowValue::MISSING;
    };
    if total == 0.0 {
        return WindowValue::no_traffic();
    }
    match fraction.filter(|f| (0.0..=1.0).contains(f)) {
        Some(f) => WindowValue::from_ratio(1.0 - f, total, budget, window_seconds),
        None => WindowValue::MISSING,
    }
}

/// The rate of requests slower than the threshold in one window: the count less the good
/// requests (classic: the buckets at the threshold; native: `count × (1 - fraction)`).
pub(crate) fn bad_rate(h: &HistogramRates, threshold: f64) -> Option<f64> {
    let count = h.count?;
    match h.fraction {
        Some(f) => Some(count * (1.0 - f)),
        None => Some(count - good_at(&h.buckets, threshold)?),
    }
}

/// Buckets sorted by bound with equal bounds summed (as `histogram_quantile` coalesces them),
/// or `None` if any rate is not a finite non-negative number.
pub(crate) fn normalize(buckets: &[Bucket]) -> Option<Vec<Bucket>> {
    let mut out = Vec::with_capacity(buckets.len());
    normalize_into(buckets, &mut out).then_some(out)
}

/// `normalize` into a reusable buffer; false (and `out` empty) where `normalize` is `None`.
pub(crate) fn normalize_into(buckets: &[Bucket], out: &mut Vec<Bucket>) -> bool {
    out.clear();
    if buckets
        .iter()
        .any(|b| b.le.is_nan() || !b.rate.is_finite() || b.rate < 0.0)
    {
        return false;
    }
    out.extend_from_slice(buckets);
    // Stable: equal bounds are summed in the order they came.
    out.sort_by(|a, b| a.le.total_cmp(&b.le));
    let mut len = 0;
    for i in 0..out.len() {
        let b = out[i];
        if len > 0 && out[len - 1].le == b.le {
            out[len - 1].rate += b.rate;
        } else {
            out[len] = b;
            len += 1;
        }
    }
    out.truncate(len);
    true
}

/// Rate of requests at most `threshold` seconds: the bucket at that bound, or a linear
/// interpolation inside the bucket containing it (lower bound 0 for the first bucket, as
/// `histogram_quantile` assumes). Above the last finite bound every request in the `+Inf`
/// bucket is counted slow, since nothing says how slow they were.
pub fn good_at(buckets: &[Bucket], threshold: f64) -> Option<f64> {
    good_at_normalized(&normalize(buckets)?, threshold)
}

/// `good_at` over normalized buckets.
pub(crate) fn good_at_normalized(buckets: &[Bucket], threshold: f64) -> Option<f64> {
    let finite = || buckets.iter().filter(|b| b.le.is_finite());
    // No finite bound: nothing to count good requests with.
    finite().next()?;
    if let Some(b) = finite().find(|b| same_bound(b.le, threshold)) {
        return Some(b.rate);
    }
    let mut lower = (0.0, 0.0);
    for b in finite() {
        if b.le > threshold {
            let (a, ca) = lower;
            if threshold <= a {
                return Some(ca);
            }
            return Some(ca + (b.rate - ca) * (threshold - a) / (b.le - a));
        }
        lower = (b.le, b.rate);
    }
    Some(lower.1)
}

/// Bounds are compared with a relative tolerance so `0.3` from `300ms` matches `le="0.30"`
/// and a bound written with float noise (`0.30000000000000004`).
fn same_bound(le: f64, threshold: f64) -> bool {
    (le - threshold).abs() <= 1e-9 * threshold.abs().max(le.abs())
}

/// `histogram_quantile(q, buckets)` as Prometheus 2.42 computes it (promql/quantile.go,
/// `bucketQuantile`); `None` where Prometheus returns NaN.
pub fn histogram_quantile(q: f64, buckets: &[Bucket]) -> Option<f64> {
    quantile_normalized(q, &mut normalize(buckets)?)
}

/// `histogram_quantile` over normalized buckets, which it makes monotonic in place.
pub(crate) fn quantile_normalized(q: f64, buckets: &mut [Bucket]) -> Option<f64> {
    if buckets.is_empty() || !buckets.last().is_some_and(|b| b.le == f64::INFINITY) {
        return None;
    }
    // ensureMonotonic: a bucket never counts fewer than the one below it.
    let mut max = buckets[0].rate;
    for b in buckets.iter_mut().skip(1) {
        if b.rate > max {
            max = b.rate;
        } else if b.rate < max {
            b.rate = max;
        }
    }
    if buckets.len() < 2 {
        return None;
    }
    let observations = buckets[buckets.len() - 1].rate;
    if observations == 0.0 {
        return None;
    }
    let mut rank = q * observations;
    let last = buckets.len() - 1;
    let b = buckets[..last]
        .iter()
        .position(|x| x.rate >= rank)
        .unwrap_or(last);
    if b == last {
        return Some(buckets[last - 1].le);
    }
    if b == 0 && buckets[0].le <= 0.0 {
        return Some(buckets[0].le);
    }
    let mut start = 0.0;
    let end = buckets[b].le;
    let mut count = buckets[b].rate;
    if b > 0 {
        start = buckets[b - 1].le;
        count -= buckets[b - 1].rate;
        rank -= buckets[b - 1].rate;
    }
    let v = start + (end - start) * (rank / count);
    v.is_finite().then_some(v)
}

/// Share of the period's error budget still unspent; below 0 when overspent.
pub(crate) fn budget_remaining(bad_ratio: f64, budget: f64) -> f64 {
    1.0 - bad_ratio / budget
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(le: f64, rate: f64) -> Bucket {
        Bucket { le, rate }
    }

    #[test]
    fn error_window_cases() {
        let w = error_window(
            &ErrorRates {
                bad: Some(1.0),
                total: Some(100.0),
            },
            0.01,
            60.0,
        );
        assert!((w.burn.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(w.events, Some(6000.0));
        let missing_bad = error_window(
            &ErrorRates {
                bad: None,
                total: Some(5.0),
            },
            0.001,
            60.0,
        );
        assert_eq!(missing_bad.burn, Some(0.0));
        assert!(!missing_bad.no_traffic);
        let quiet = error_window(
            &ErrorRates {
                bad: None,
                total: Some(0.0),
            },
            0.001,
            60.0,
        );
        assert_eq!((quiet.burn, quiet.no_traffic), (Some(0.0), true));
        let absent = error_window(
            &ErrorRates {
                bad: Some(3.0),
                total: None,
            },
            0.001,
            60.0,
        );
        assert_eq!(absent.burn, None);
        let nan = error_window(
            &ErrorRates {
                bad: Some(f64::NAN),
                total: Some(3.0),
            },
            0.001,
            60.0,
        );
        assert_eq!(nan.burn, None);
        let nan_total = error_window(
            &ErrorRates {
                bad: Some(1.0),
                total: Some(f64::NAN),
            },
            0.001,
            60.0,
        );
        assert_eq!(nan_total.burn, None);
    }

    #[test]
    fn good_at_bound_and_interpolated() {
        let buckets = [
            b(0.1, 50.0),
            b(0.25, 80.0),
            b(0.5, 90.0),
            b(f64::INFINITY, 100.0),
        ];
        assert_eq!(good_at(&buckets, 0.25), Some(80.0));
        // 0.3 is 1/5 of the way from 0.25 to 0.5.
        assert!((good_at(&buckets, 0.3).unwrap() - 82.0).abs() < 1e-9);
        // Below the first bound: interpolate from 0.
        assert!((good_at(&buckets, 0.05).unwrap() - 25.0).abs() < 1e-9);
        // Above the last finite bound: the +Inf bucket counts as slow.
        assert_eq!(good_at(&buckets, 2.0), Some(90.0));
    }

    #[test]
    fn equal_bounds_spelled_differently_are_summed() {
        let buckets = [b(1.0, 10.0), b(1.0, 5.0), b(f64::INFINITY, 20.0)];
        assert_eq!(good_at(&buckets, 1.0), Some(15.0));
    }

    #[test]
    fn latency_window_uses_count_as_total() {
        let h = HistogramRates {
            buckets: vec![b(0.2, 99.0), b(f64::INFINITY, 100.0)],
            count: Some(100.0),
            ..Default::default()
        };
        let w = latency_window(&h, 0.2, 0.01, 300.0);
        assert!(
            (w.burn.unwrap() - 1.0).abs() < 1e-9,
            "P99 exactly at the threshold is burn 1"
        );
        let empty = HistogramRates {
            buckets: vec![],
            count: Some(3.0),
            ..Default::default()
        };
        assert_eq!(latency_window(&empty, 0.2, 0.01, 300.0).burn, None);
    }

    #[test]
    fn quantile_matches_prometheus_rules() {
        let buckets = [
            b(0.1, 50.0),
            b(0.2, 90.0),
            b(0.4, 100.0),
            b(f64::INFINITY, 100.0),
        ];
        // rank 95 falls in (0.2, 0.4]: 0.2 + 0.2 * (5/10)
        assert!((histogram_quantile(0.95, &buckets).unwrap() - 0.3).abs() < 1e-12);
        // all in +Inf: the highest finite bound
        let high = [b(0.1, 0.0), b(f64::INFINITY, 10.0)];
        assert_eq!(histogram_quantile(0.99, &high), Some(0.1));
        assert_eq!(
            histogram_quantile(0.99, &[b(0.1, 0.0), b(f64::INFINITY, 0.0)]),
            None
        );
        assert_eq!(
            histogram_quantile(0.99, &[b(0.1, 1.0)]),
            None,
            "no +Inf bucket"
        );
    }

    #[test]
    fn native_latency_is_one_minus_the_fraction_the_backend_computed() {
        let native = |count: Option<f64>, fraction: Option<f64>| HistogramRates {
            count,
            fraction,
            ..Default::default()
        };
        let w = latency_window(&native(Some(4.0), Some(0.993)), 0.2, 0.01, 60.0);
        assert_eq!(w.bad_ratio, Some(1.0 - 0.993));
        assert_eq!(w.burn, Some((1.0 - 0.993) / 0.01));
        assert_eq!(w.events, Some(240.0));
        // No traffic: histogram_fraction of an empty histogram is NaN.
        let idle = latency_window(&native(Some(0.0), Some(f64::NAN)), 0.2, 0.01, 60.0);
        assert!(idle.no_traffic && idle.burn == Some(0.0));
        assert_eq!(
            latency_window(&native(Some(4.0), Some(f64::NAN)), 0.2, 0.01, 60.0),
            WindowValue::MISSING
        );
        assert_eq!(
            latency_window(&native(None, Some(0.5)), 0.2, 0.01, 60.0),
            WindowValue::MISSING
        );
        assert_eq!(bad_rate(&native(Some(4.0), Some(0.75)), 0.2), Some(1.0));
    }
}

/// The contract's edge: an error ratio of exactly the budget burns exactly 1, and a `burn: 1`
/// rule fires there, through the one evaluation path.
#[cfg(test)]
mod budget_edge {
    use crate::decision::Decision;
    use crate::engine::evaluate::evaluate_slo;
    use crate::engine::hysteresis::SloState;
    use crate::engine::{ErrorRates, Measurement};
    use crate::spec::Dimension;
    use crate::spec::load::load_str;
    use std::path::Path;

    #[test]
    fn burn_exactly_at_the_threshold_fires() {
        // (objective as written, bad and total events whose ratio is exactly the budget)
        let cases = [
            ("99", 1.0, 100.0),
            ("99.5", 5.0, 1000.0),
            ("99.9", 1.0, 1000.0),
            ("99.95", 5.0, 10_000.0),
            ("99.99", 1.0, 10_000.0),
            ("99.999", 1.0, 100_000.0),
        ];
        for (objective, bad, total) in cases {
            let yaml = format!(
                "apiVersion: burnrate/v1\nservice: edge\nslos:\n  - name: exact\n    \
                 period: 30d\n    error:\n      objective: {objective}\n      \
                 bad: errors_total\n      total: requests_total\n    matrix:\n      \
                 error:\n        - {{decision: warn, burn: 1, long: 1h}}\n"
            );
            let (spec, diagnostics) = load_str(Path::new("edge.yaml"), &yaml);
            let spec = spec.unwrap_or_else(|| panic!("{objective}: {diagnostics:?}"));
            let slo = &spec.slos[0];
            let rates = ErrorRates {
                bad: Some(bad),
                total: Some(total),
            };
            let windows = slo.measured_windows(Dimension::Error).len();
            let measurements = [(
                Dimension::Error,
                Ok(Measurement::Error(vec![rates; windows])),
            )];
            let eval = evaluate_slo(
                &spec,
                slo,
                1_800_000_000_000,
                &measurements,
                &mut SloState::default(),
            );
            let report = eval.error.expect("error dimension");
            assert_eq!(report.burn.value("1h"), Some(1.0), "objective {objective}");
            assert_eq!(report.budget_remaining, Some(0.0), "objective {objective}");
            assert_eq!(report.fired.len(), 1, "objective {objective}");
            assert_eq!(eval.decision, Decision::Warn, "objective {objective}");
        }
    }
}
