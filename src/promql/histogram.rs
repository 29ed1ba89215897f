//! Quantiles: `quantile()` (the `quantile` aggregation and `quantile_over_time`) and
//! `bucketQuantile` (`histogram_quantile` over classic `le` buckets), transcribed from
//! Prometheus 2.42's promql/quantile.go, and `histogram_quantile`'s grouping of bucket series.

use super::eval::{Builder, DROP_NAME_MARK, Series, drop_name};
use super::{Labels, QueryError};
use std::collections::HashMap;

/// Go's `vectorByValueHeap` order for sorting: NaN first, then ascending.
fn cmp_nan_first(a: &f64, b: &f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).expect("no NaN"),
    }
}

/// `quantile(q, values)`; sorts `values`.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(cmp_nan_first);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = 0f64.max(rank.floor());
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// `bucketQuantile`: `buckets` are `(upper bound, cumulative count)`, in any order.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // coalesceBuckets
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &b in buckets.iter() {
        match out.last_mut() {
            Some(last) if last.0 == b.0 => last.1 += b.1,
            _ => out.push(b),
        }
    }
    // ensureMonotonic
    let mut max = out[0].1;
    for b in out.iter_mut().skip(1) {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    let buckets = out;
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = buckets[..buckets.len() - 1].partition_point(|x| x.1 < rank);
    if b == buckets.len() - 1 {
        return buckets[buckets.len() - 2].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let mut bucket_start = 0.0;
    let bucket_end = buckets[b].0;
    let mut count = buckets[b].1;
    if b > 0 {
        bucket_start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// Go's `strconv.ParseFloat(s, 64)` for `le` values: decimal and hex floats, `Inf`/`NaN` in
/// any case with an optional sign, `_` separators only in base-prefixed forms (rare enough
/// to reject).
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    let neg = lower.starts_with('-');
    if lower.len() - body.len() > 1 {
        return None;
    }
    match body {
        "inf" | "infinity" => {
            return Some(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.starts_with("0x") {
        return None;
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    s.parse::<f64>().ok()
}

/// `funcHistogramQuantile` over all steps: buckets grouped by their labels without `le`
/// (the metric name included), each group's output labels without `le` and `__name__`.
pub(crate) fn histogram_quantile(
    n: usize,
    q: &[f64],
    input: Vec<Series>,
) -> Result<Vec<Series>, QueryError> {
    let mut ids: HashMap<Labels, usize> = HashMap::new();
    let mut group_labels: Vec<Labels> = Vec::new();
    let mut members: Vec<(usize, f64)> = Vec::new();
    for (si, s) in input.iter().enumerate() {
        let Some(ub) = s.labels.get("le").and_then(|v| parse_go_float(v)) else {
            continue;
        };
        let mut key = s.labels.clone();
        key.remove("le");
        key.remove(DROP_NAME_MARK);
        let next = ids.len();
        let id = *ids.entry(key.clone()).or_insert(next);
        if id == group_labels.len() {
            group_labels.push(drop_name(&key));
        }
        members.push((si, ub));
        let _ = id;
    }
    let group_of: Vec<usize> = members
        .iter()
        .map(|&(si, _)| {
            let mut key = input[si].labels.clone();
            key.remove("le");
            key.remove(DROP_NAME_MARK);
            ids[&key]
        })
        .collect();
    let mut b = Builder::new(n);
    let mut slots: Vec<Option<usize>> = vec![None; group_labels.len()];
    let mut buckets: Vec<Vec<(f64, f64)>> = vec![Vec::new(); group_labels.len()];
    let mut order: Vec<usize> = Vec::new();
    for (step, &qs) in q.iter().enumerate().take(n) {
        order.clear();
        for (m, &(si, ub)) in members.iter().enumerate() {
            if let Some(v) = input[si].values[step] {
                let g = group_of[m];
                if buckets[g].is_empty() {
                    order.push(g);
                }
                buckets[g].push((ub, v));
            }
        }
        for &g in &order {
            let v = bucket_quantile(qs, &mut buckets[g]);
            buckets[g].clear();
            let slot = *slots[g].get_or_insert_with(|| b.slot(group_labels[g].clone()));
            b.set(slot, step, v)?;
        }
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_quantile_interpolates() {
        let mut b = vec![(f64::INFINITY, 10.0), (0.1, 5.0), (0.5, 8.0)];
        assert!((bucket_quantile(0.5, &mut b) - 0.1).abs() < 1e-12);
        let mut b = vec![(f64::INFINITY, 10.0), (0.1, 5.0), (0.5, 8.0)];
        assert_eq!(bucket_quantile(0.99, &mut b), 0.5);
        let mut b = vec![(1.0, 10.0)];
        assert!(bucket_quantile(0.5, &mut b).is_nan());
    }

    #[test]
    fn quantile_sorts_nan_first() {
        let mut v = vec![3.0, f64::NAN, 1.0];
        assert!(quantile(0.0, &mut v).is_nan());
        let mut v = vec![3.0, 1.0, 2.0, 4.0];
        assert_eq!(quantile(0.5, &mut v), 2.5);
    }
}
