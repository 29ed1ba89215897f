//! Aggregation operators (`sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`, `stdvar`,
//! `topk`, `bottomk`, `quantile`) with `by`/`without`.
//!
//! Transcribes `aggregation()` of Prometheus 2.42's engine.go (and, for `Flavor::Prometheus3`,
//! 3.x's Kahan-compensated `sum`/`avg`; VictoriaMetrics's `avg` is a plain sum over the
//! count): plain `+=` sums in input order,
//! the incremental mean with its overflow fallback, Welford for stddev/stdvar, and `topk`/
//! `bottomk` on Go's `container/heap` with the same `Less` (NaN lowest), so ties and NaNs
//! come out in the same order. Grouping keys and output labels are computed once per series.

use super::eval::{Builder, Ctx, DROP_NAME_MARK, Val, err, eval_scalar, eval_vector};
use super::histogram::quantile;
use super::rollup::kahan_inc_v3;
use super::{Labels, QueryError, Storage};
use promql_parser::parser::{AggregateExpr, LabelModifier};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agg {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Quantile,
}

#[derive(Clone, Default)]
struct Group {
    /// `step + 1` when the group was started at this step.
    stamp: usize,
    value: f64,
    mean: f64,
    count: usize,
    /// 3.x: the Kahan compensation of `value` (or of `mean` once `incremental`).
    c: f64,
    incremental: bool,
    /// `(value, input series index)`: the heap of topk/bottomk, the values of quantile.
    heap: Vec<(f64, usize)>,
}

/// `vectorByValueHeap.Less` (topk) or `vectorByReverseValueHeap.Less` (bottomk).
#[inline]
fn less(reverse: bool, a: f64, b: f64) -> bool {
    if a.is_nan() {
        return true;
    }
    if reverse { a > b } else { a < b }
}

fn heap_up(h: &mut [(f64, usize)], mut j: usize, reverse: bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(reverse, h[j].0, h[i].0) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

fn heap_down(h: &mut [(f64, usize)], i0: usize, n: usize, reverse: bool) {
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(reverse, h[j2].0, h[j1].0) {
            j = j2;
        }
        if !less(reverse, h[j].0, h[i].0) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
}

fn heap_push(h: &mut Vec<(f64, usize)>, x: (f64, usize), reverse: bool) {
    h.push(x);
    let j = h.len() - 1;
    heap_up(h, j, reverse);
}

fn heap_pop(h: &mut Vec<(f64, usize)>, reverse: bool) {
    let n = h.len() - 1;
    h.swap(0, n);
    heap_down(h, 0, n, reverse);
    h.pop();
}

/// `sort.Sort(sort.Reverse(heap))`: Go's pdqsort is an insertion sort at these sizes.
fn sort_reverse(h: &mut [(f64, usize)], reverse: bool) {
    for i in 1..h.len() {
        let mut j = i;
        // Reverse's Less(j, j-1) is the heap's Less(j-1, j).
        while j > 0 && less(reverse, h[j - 1].0, h[j].0) {
            h.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// `convertibleToInt64`.
fn convertible_to_i64(v: f64) -> bool {
    (-9_223_372_036_854_775_808.0..=9_223_372_036_854_774_784.0).contains(&v)
}

pub(crate) fn eval_aggregate<S: Storage + ?Sized>(
    ctx: &Ctx<S>,
    a: &AggregateExpr,
) -> Result<Val, QueryError> {
    let op_s = a.op.to_string();
    let op = match op_s.as_str() {
        "sum" => Agg::Sum,
        "avg" => Agg::Avg,
        "count" => Agg::Count,
        "min" => Agg::Min,
        "max" => Agg::Max,
        "group" => Agg::Group,
        "stddev" => Agg::Stddev,
        "stdvar" => Agg::Stdvar,
        "topk" => Agg::Topk,
        "bottomk" => Agg::Bottomk,
        "quantile" => Agg::Quantile,
        _ => return Err(err(format!("aggregation {op_s} not supported"))),
    };
    let param = match &a.param {
        Some(p) => Some(eval_scalar(ctx, p)?),
        None => None,
    };
    let input = eval_vector(ctx, &a.expr)?;
    let (without, grouping): (bool, Vec<String>) = match &a.modifier {
        Some(LabelModifier::Include(l)) => (false, l.labels.clone()),
        Some(LabelModifier::Exclude(l)) => (true, l.labels.clone()),
        None => (false, Vec::new()),
    };
    let in_grouping = |k: &str| grouping.iter().any(|g| g == k);

    // Group of each input series, and each group's output labels.
    let mut ids: HashMap<Vec<(&str, &str)>, usize> = HashMap::new();
    let mut group_labels: Vec<Labels> = Vec::new();
    let mut group_of = Vec::with_capacity(input.len());
    for s in &input {
        let key: Vec<(&str, &str)> = s
            .labels
            .iter()
            .filter(|(k, _)| {
                if without {
                    *k != "__name__" && *k != DROP_NAME_MARK && !in_grouping(k)
                } else {
                    in_grouping(k)
                }
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let next = ids.len();
        let id = *ids.entry(key.clone()).or_insert(next);
        if id == group_labels.len() {
            group_labels.push(
                key.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            );
        }
        group_of.push(id);
        // 3.x: a group's result is dropped-name when any member's is.
        if s.labels.contains_key(DROP_NAME_MARK) {
            group_labels[id].insert(DROP_NAME_MARK.to_string(), String::new());
        }
    }

    let n = ctx.n;
    if ctx.is_vm() && matches!(op, Agg::Topk | Agg::Bottomk) {
        let k = param.unwrap_or_else(|| vec![f64::NAN; n]);
        let out = super::victoriametrics::topk(
            n,
            input,
            &group_of,
            group_labels.len(),
            &k,
            op == Agg::Bottomk,
            ctx.vm_instants || n == 1,
        );
        return Ok(Val::Vector(out));
    }
    let mut b = Builder::new(n);
    let mut group_slot: Vec<Option<usize>> = vec![None; group_labels.len()];
    let mut series_slot: Vec<Option<usize>> = vec![None; input.len()];
    let mut groups = vec![Group::default(); group_labels.len()];
    let mut ordered: Vec<usize> = Vec::new();
    let reverse = op == Agg::Bottomk;
    // VictoriaMetrics's `avg` is the sum over the count (aggrFuncAvg), not a running mean.
    let vm_avg = op == Agg::Avg && ctx.is_vm();
    // Prometheus 3.x compensates `sum` and `avg` (Kahan) and starts stddev/stdvar of a NaN or
    // infinite first value at NaN (engine.go `aggregation`, v3.14).
    let v3 = ctx.flavor == super::Flavor::Prometheus3;
    for step in 0..n {
        let mut k: i64 = 0;
        if matches!(op, Agg::Topk | Agg::Bottomk) {
            let f = param.as_ref().map_or(0.0, |p| p[step]);
            if !convertible_to_i64(f) {
                return Err(err(format!("Scalar value {f} overflows int64")));
            }
            k = f as i64;
            if k < 1 {
                continue;
            }
        }
        ordered.clear();
        for (si, s) in input.iter().enumerate() {
            let Some(v) = s.values[step] else {
                continue;
            };
            let gid = group_of[si];
            let g = &mut groups[gid];
            if g.stamp != step + 1 {
                g.stamp = step + 1;
                g.value = v;
                g.mean = v;
                g.count = 1;
                g.c = 0.0;
                g.incremental = false;
                g.heap.clear();
                match op {
                    Agg::Stddev | Agg::Stdvar if v3 && !v.is_finite() => g.value = f64::NAN,
                    Agg::Stddev | Agg::Stdvar => g.value = 0.0,
                    Agg::Topk | Agg::Bottomk | Agg::Quantile => g.heap.push((v, si)),
                    Agg::Group => g.value = 1.0,
                    _ => {}
                }
                ordered.push(gid);
                continue;
            }
            match op {
                Agg::Sum if v3 => (g.value, g.c) = kahan_inc_v3(v, g.value, g.c),
                // 2.42: a plain `+=`.
                Agg::Sum => g.value += v,
                Agg::Avg if v3 => {
                    g.count += 1;
                    let count = g.count as f64;
                    if !g.incremental {
                        let (nv, nc) = kahan_inc_v3(v, g.value, g.c);
                        if !nv.is_infinite() {
                            (g.value, g.c) = (nv, nc);
                            continue;
                        }
                        g.incremental = true;
                        g.mean = g.value / (count - 1.0);
                        g.c /= count - 1.0;
                    }
                    let q = (count - 1.0) / count;
                    (g.mean, g.c) = kahan_inc_v3(v / count, q * g.mean, q * g.c);
                }
                Agg::Avg if vm_avg => {
                    g.count += 1;
                    g.value += v;
                }
                Agg::Avg => {
                    g.count += 1;
                    if g.mean.is_infinite() {
                        if v.is_infinite() && (g.mean > 0.0) == (v > 0.0) {
                            continue;
                        }
                        if !v.is_infinite() && !v.is_nan() {
                            continue;
                        }
                    }
                    let c = g.count as f64;
                    g.mean += v / c - g.mean / c;
                }
                Agg::Group => {}
                Agg::Max => {
                    if g.value < v || g.value.is_nan() {
                        g.value = v;
                    }
                }
                Agg::Min => {
                    if g.value > v || g.value.is_nan() {
                        g.value = v;
                    }
                }
                Agg::Count => g.count += 1,
                Agg::Stddev | Agg::Stdvar => {
                    g.count += 1;
                    let delta = v - g.mean;
                    g.mean += delta / g.count as f64;
                    g.value += delta * (v - g.mean);
                }
                Agg::Topk | Agg::Bottomk => {
                    let top = g.heap[0].0;
                    let better = if reverse { top > v } else { top < v };
                    if (g.heap.len() as i64) < k || better || top.is_nan() {
                        if g.heap.len() as i64 == k {
                            if k == 1 {
                                g.heap[0] = (v, si);
                                continue;
                            }
                            heap_pop(&mut g.heap, reverse);
                        }
                        heap_push(&mut g.heap, (v, si), reverse);
                    }
                }
                Agg::Quantile => g.heap.push((v, si)),
            }
        }
        for &gid in &ordered {
            let g = &mut groups[gid];
            let value = match op {
                Agg::Avg if vm_avg => g.value / g.count as f64,
                Agg::Avg if v3 && g.incremental => g.mean + g.c,
                Agg::Avg if v3 => g.value / g.count as f64 + g.c / g.count as f64,
                Agg::Sum if v3 => g.value + g.c,
                Agg::Avg => g.mean,
                Agg::Count => g.count as f64,
                Agg::Stdvar => g.value / g.count as f64,
                Agg::Stddev => (g.value / g.count as f64).sqrt(),
                Agg::Topk | Agg::Bottomk => {
                    if g.heap.len() > 1 {
                        sort_reverse(&mut g.heap, reverse);
                    }
                    for &(v, si) in &g.heap {
                        let slot = match series_slot[si] {
                            Some(s) => s,
                            None => {
                                let s = b.slot(input[si].labels.clone());
                                series_slot[si] = Some(s);
                                s
                            }
                        };
                        b.set(slot, step, v)?;
                    }
                    continue;
                }
                Agg::Quantile => {
                    let q = param.as_ref().map_or(f64::NAN, |p| p[step]);
                    let mut vals: Vec<f64> = g.heap.iter().map(|x| x.0).collect();
                    quantile(q, &mut vals)
                }
                _ => g.value,
            };
            let slot = match group_slot[gid] {
                Some(s) => s,
                None => {
                    let s = b.slot(group_labels[gid].clone());
                    group_slot[gid] = Some(s);
                    s
                }
            };
            b.set(slot, step, value)?;
        }
    }
    Ok(Val::Vector(b.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topk_heap_keeps_go_order() {
        // Values pushed as Go would: keep the 3 largest, NaN lowest.
        let mut h = vec![(1.0, 0)];
        for (i, v) in [5.0, f64::NAN, 3.0, 4.0, 2.0].into_iter().enumerate() {
            let k = 3;
            let top = h[0].0;
            if h.len() < k || top < v || top.is_nan() {
                if h.len() == k {
                    heap_pop(&mut h, false);
                }
                heap_push(&mut h, (v, i + 1), false);
            }
        }
        sort_reverse(&mut h, false);
        let vals: Vec<f64> = h.iter().map(|x| x.0).collect();
        assert_eq!(vals, vec![5.0, 4.0, 3.0]);
    }
}
