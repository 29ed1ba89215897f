//! The evaluator's core: column-wise evaluation of an expression tree over all steps at once.
//!
//! Why column-wise: a backtest evaluates one query at tens of thousands of steps; evaluating
//! each node once for all steps lets selectors and range functions use each series' index
//! (binary search, reset list) and lets label work (signatures, grouping keys, output labels)
//! happen once per series instead of once per step. A vector node yields series with a value
//! or nothing at each step, a scalar node a value per step. Per step, the semantics are
//! Prometheus's `rangeEval`: the input vector at a step is the series present at it, in
//! series order, and an instant evaluation is the same code with one step.

use super::check::{LOOKBACK_MS, full_matchers, offset_ms};
use super::{Flavor, Labels, Query, QueryError, RangeSeries, Steps, Storage, Value};
use promql_parser::parser::{Expr, MatrixSelector, VectorSelector};
use std::cell::RefCell;
use std::collections::HashMap;

pub(crate) use super::check::{parse, selectors};

/// One series of a vector node: its labels and its value at each step.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

/// A node's value over all steps.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(Vec<f64>),
    Vector(Vec<Series>),
    /// A range selector evaluated at a single instant (only at the top of an instant query).
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
    Str(String),
}

pub(crate) fn err(message: impl Into<String>) -> QueryError {
    QueryError {
        message: message.into(),
        offset: None,
        unsupported: false,
    }
}

pub(crate) const SAME_LABELSET: &str = "vector cannot contain metrics with the same labelset";

/// What every node evaluation needs.
pub(crate) struct Ctx<'a, S: Storage + ?Sized> {
    pub storage: &'a S,
    pub steps: Steps,
    pub n: usize,
    pub flavor: Flavor,
    /// The step VictoriaMetrics would use: an instant query's default (5m) or the range
    /// query's step. Its rollups and lookback depend on it.
    pub vm_step_ms: i64,
    /// VictoriaMetrics: evaluate each step as its own instant query (see `eval_instants`).
    pub vm_instants: bool,
    /// The query's repeated subtrees in this tree, by node address (`shared`), and the
    /// values of those evaluated so far, by group.
    pub shared: HashMap<*const Expr, usize>,
    pub memo: RefCell<HashMap<usize, Val>>,
}

impl<S: Storage + ?Sized> Ctx<'_, S> {
    pub fn time(&self, i: usize) -> i64 {
        self.steps.time(i)
    }

    /// Prometheus 3 (and VictoriaMetrics) exclude the left edge of ranges and of the
    /// lookback window.
    pub fn open_left(&self) -> bool {
        matches!(self.flavor, Flavor::Prometheus3 | Flavor::VictoriaMetrics)
    }

    pub fn is_vm(&self) -> bool {
        self.flavor == Flavor::VictoriaMetrics
    }
}

/// Collects output series by labels across steps, as `rangeEval` merges its per-step
/// results, and rejects two outputs with the same labels at one step.
pub(crate) struct Builder {
    n: usize,
    index: HashMap<Labels, usize>,
    out: Vec<Series>,
}

impl Builder {
    pub fn new(n: usize) -> Builder {
        Builder {
            n,
            index: HashMap::new(),
            out: Vec::new(),
        }
    }

    /// The slot of the output series with these labels, created if new.
    pub fn slot(&mut self, labels: Labels) -> usize {
        if let Some(&i) = self.index.get(&labels) {
            return i;
        }
        let i = self.out.len();
        self.index.insert(labels.clone(), i);
        self.out.push(Series {
            labels,
            values: vec![None; self.n],
        });
        i
    }

    #[inline]
    pub fn set(&mut self, slot: usize, step: usize, v: f64) -> Result<(), QueryError> {
        let cell = &mut self.out[slot].values[step];
        if cell.is_some() {
            return Err(err(SAME_LABELSET));
        }
        *cell = Some(v);
        Ok(())
    }

    /// The series that got a value at some step, in order of creation.
    pub fn finish(self) -> Vec<Series> {
        self.out
            .into_iter()
            .filter(|s| s.values.iter().any(Option::is_some))
            .collect()
    }
}

/// Maps each input series to output labels once (or drops it) and each present value through
/// `f(step, value)` (`None` filters it out at that step); two inputs landing on the same
/// labels at one step are an error, as in `rangeEval`.
pub(crate) fn map_series(
    n: usize,
    input: Vec<Series>,
    mut labels: impl FnMut(&Labels) -> Option<Labels>,
    mut f: impl FnMut(usize, f64) -> Option<f64>,
) -> Result<Vec<Series>, QueryError> {
    // The common case (distinct labels in, distinct labels out) needs no merging.
    let mut b = Builder::new(n);
    for s in input {
        let Some(l) = labels(&s.labels) else {
            continue;
        };
        let slot = b.slot(l);
        for (i, v) in s.values.iter().enumerate() {
            if let Some(v) = v
                && let Some(r) = f(i, *v)
            {
                b.set(slot, i, r)?;
            }
        }
    }
    Ok(b.finish())
}

/// Prometheus 3.x drops `__name__` late ("delayed name removal"): a series that loses its
/// name in 2.x keeps it, marked by this label, so that `label_replace` can still read it and
/// series of different metrics do not collide until the end, where [`cleanup_v3`] drops the
/// marked series' name, `__type__` and `__unit__`. The name sorts first and cannot be a
/// label of real data; matching and grouping ignore it.
pub(crate) const DROP_NAME_MARK: &str = "\u{0}drop_name";

/// 3.x: marks the name of `l` to be dropped at the end (see [`DROP_NAME_MARK`]).
pub(crate) fn mark_drop_name(l: &Labels) -> Labels {
    let mut l = l.clone();
    l.insert(DROP_NAME_MARK.to_string(), String::new());
    l
}

/// `DropReserved(schema.IsMetadataLabel)`: the name, type and unit labels (and the mark).
pub(crate) fn drop_metadata(l: &mut Labels) {
    for k in [DROP_NAME_MARK, "__name__", "__type__", "__unit__"] {
        l.remove(k);
    }
}

/// `cleanupMetricLabels` of 3.x: marked series lose their metadata labels; then a vector with
/// two equal label sets at one step is an error, and a range result merges series that became
/// equal when they never overlap (`mergeSeriesWithSameLabelset`).
fn cleanup_v3(series: Vec<Series>) -> Result<Vec<Series>, QueryError> {
    if !series.iter().any(|s| s.labels.contains_key(DROP_NAME_MARK)) {
        return Ok(series);
    }
    let mut b: Option<Builder> = None;
    for mut s in series {
        if s.labels.contains_key(DROP_NAME_MARK) {
            drop_metadata(&mut s.labels);
        }
        let b = b.get_or_insert_with(|| Builder::new(s.values.len()));
        let slot = b.slot(s.labels);
        for (i, v) in s.values.iter().enumerate() {
            if let Some(v) = v {
                b.set(slot, i, *v)?;
            }
        }
    }
    Ok(b.map(Builder::finish).unwrap_or_default())
}

impl<S: Storage + ?Sized> Ctx<'_, S> {
    /// Where 2.x drops `__name__`: 3.x marks it to be dropped at the end.
    pub fn drop_name(&self, l: &Labels) -> Labels {
        if self.flavor == Flavor::Prometheus3 {
            mark_drop_name(l)
        } else {
            drop_name(l)
        }
    }
}

pub(crate) fn drop_name(l: &Labels) -> Labels {
    let mut l = l.clone();
    l.remove("__name__");
    l
}

/// Matrix results are checked across all their series, whatever the steps, as Go's
/// `Matrix.ContainsSameLabelset`.
pub(crate) fn check_distinct(series: &[Series]) -> Result<(), QueryError> {
    if series.len() < 2 {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(series.len());
    for s in series {
        if !seen.insert(&s.labels) {
            return Err(err(SAME_LABELSET));
        }
    }
    Ok(())
}

pub(crate) fn eval<S: Storage + ?Sized>(ctx: &Ctx<S>, e: &Expr) -> Result<Val, QueryError> {
    let Some(&group) = ctx.shared.get(&(e as *const Expr)) else {
        return eval_once(ctx, e);
    };
    if let Some(v) = ctx.memo.borrow().get(&group) {
        return Ok(v.clone());
    }
    let v = eval_once(ctx, e)?;
    ctx.memo.borrow_mut().insert(group, v.clone());
    Ok(v)
}

/// `eval` without looking for the value of an equal subtree.
fn eval_once<S: Storage + ?Sized>(ctx: &Ctx<S>, e: &Expr) -> Result<Val, QueryError> {
    let v = eval_node(ctx, e)?;
    if !ctx.is_vm() {
        return Ok(v);
    }
    // VictoriaMetrics has no NaN samples: a NaN value is "no value" at every node.
    Ok(match v {
        Val::Vector(mut vs) => {
            for s in &mut vs {
                for c in &mut s.values {
                    if c.is_some_and(f64::is_nan) {
                        *c = None;
                    }
                }
            }
            vs.retain(|s| s.values.iter().any(Option::is_some));
            Val::Vector(vs)
        }
        other => other,
    })
}

fn eval_node<S: Storage + ?Sized>(ctx: &Ctx<S>, e: &Expr) -> Result<Val, QueryError> {
    match e {
        Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; ctx.n])),
        Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
        Expr::Paren(p) => eval(ctx, &p.expr),
        Expr::VectorSelector(vs) => Ok(Val::Vector(vector_selector(ctx, vs))),
        Expr::MatrixSelector(ms) => matrix_selector(ctx, ms),
        Expr::Unary(u) => match eval(ctx, &u.expr)? {
            Val::Scalar(mut v) => {
                for x in &mut v {
                    *x = -*x;
                }
                Ok(Val::Scalar(v))
            }
            Val::Vector(mut vs) => {
                for s in &mut vs {
                    if ctx.flavor == Flavor::Prometheus3 {
                        s.labels.insert(DROP_NAME_MARK.to_string(), String::new());
                    } else {
                        s.labels.remove("__name__");
                    }
                    for v in s.values.iter_mut().flatten() {
                        *v = -*v;
                    }
                }
                check_distinct(&vs)?;
                Ok(Val::Vector(vs))
            }
            _ => Err(err("unary minus on a range vector or string")),
        },
        Expr::Binary(b) => super::binary::eval_binary(ctx, b),
        Expr::Aggregate(a) => super::aggregate::eval_aggregate(ctx, a),
        Expr::Call(c) => super::functions::eval_call(ctx, c),
        Expr::Subquery(_) | Expr::Extension(_) => Err(err("unsupported expression")),
    }
}

pub(crate) fn eval_scalar<S: Storage + ?Sized>(
    ctx: &Ctx<S>,
    e: &Expr,
) -> Result<Vec<f64>, QueryError> {
    match eval(ctx, e)? {
        Val::Scalar(v) => Ok(v),
        _ => Err(err("expected a scalar")),
    }
}

pub(crate) fn eval_vector<S: Storage + ?Sized>(
    ctx: &Ctx<S>,
    e: &Expr,
) -> Result<Vec<Series>, QueryError> {
    match eval(ctx, e)? {
        Val::Vector(v) => Ok(v),
        _ => Err(err("expected an instant vector")),
    }
}

pub(crate) fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// The instant selector at each step: the newest sample in the lookback window before the
/// (offset) evaluation time, nothing if that newest point is a stale marker.
fn vector_selector<S: Storage + ?Sized>(ctx: &Ctx<S>, vs: &VectorSelector) -> Vec<Series> {
    if ctx.is_vm() {
        return super::victoriametrics::default_rollup(ctx, vs);
    }
    let matchers = full_matchers(vs);
    let offset = offset_ms(&vs.offset);
    let open = ctx.open_left();
    let mut out = Vec::new();
    for (labels, samples) in ctx.storage.select(&matchers) {
        let mut reader = samples.reader();
        let mut any = false;
        let mut col = vec![None; ctx.n];
        for (i, cell) in col.iter_mut().enumerate() {
            let rt = ctx.time(i) - offset;
            let k = reader.partition_point(|t| t <= rt);
            let newest = (k > 0).then(|| reader.sample(k - 1));
            let sample_t = newest.map(|(t, _)| t);
            let stale_t = samples.last_stale_at_or_before(rt);
            let (t, is_stale) = match (sample_t, stale_t) {
                (None, None) => continue,
                (Some(s), None) => (s, false),
                (None, Some(m)) => (m, true),
                (Some(s), Some(m)) => {
                    if m > s {
                        (m, true)
                    } else {
                        (s, false)
                    }
                }
            };
            let too_old = if open {
                t <= rt - LOOKBACK_MS
            } else {
                t < rt - LOOKBACK_MS
            };
            if too_old || is_stale {
                continue;
            }
            *cell = newest.map(|(_, v)| v);
            any = true;
        }
        if any {
            out.push(Series {
                labels: labels.clone(),
                values: col,
            });
        }
    }
    out
}

/// A range selector as a value: only an instant query can return one.
fn matrix_selector<S: Storage + ?Sized>(
    ctx: &Ctx<S>,
    ms: &MatrixSelector,
) -> Result<Val, QueryError> {
    if ctx.n != 1 {
        return Err(err(
            "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector",
        ));
    }
    let matchers = full_matchers(&ms.vs);
    let offset = offset_ms(&ms.vs.offset);
    let range = ms.range.as_millis() as i64;
    let maxt = ctx.time(0) - offset;
    let mint = maxt - range;
    let mut out = Vec::new();
    for (labels, samples) in ctx.storage.select(&matchers) {
        let mut reader = samples.reader();
        let (a, b) = reader.window(mint, maxt, ctx.open_left());
        if a == b {
            continue;
        }
        let (mut times, mut values) = (Vec::new(), Vec::new());
        reader.fill(a, b, &mut times, &mut values);
        let pts = times.into_iter().zip(values).collect();
        out.push((labels.clone(), pts));
    }
    Ok(Val::Matrix(out))
}

/// The whole query, with 3.x's delayed name removal applied at the end.
fn eval_top<S: Storage + ?Sized>(ctx: &Ctx<S>, q: &Query) -> Result<Val, QueryError> {
    match eval(ctx, &q.expr)? {
        Val::Vector(vs) if ctx.flavor == Flavor::Prometheus3 => Ok(Val::Vector(cleanup_v3(vs)?)),
        v => Ok(v),
    }
}

pub(crate) fn instant<S: Storage + ?Sized>(
    q: &Query,
    storage: &S,
    t_ms: i64,
    flavor: Flavor,
) -> Result<Value, QueryError> {
    let ctx = Ctx {
        storage,
        steps: Steps::at(t_ms),
        n: 1,
        flavor,
        vm_step_ms: super::victoriametrics::INSTANT_STEP_MS,
        vm_instants: false,
        shared: super::shared::resolve(&q.expr, &q.shared),
        memo: RefCell::default(),
    };
    Ok(match eval_top(&ctx, q)? {
        Val::Scalar(v) => Value::Scalar(v[0]),
        Val::Vector(vs) => Value::Vector(
            vs.into_iter()
                .filter_map(|s| s.values[0].map(|v| (s.labels, v)))
                .collect(),
        ),
        Val::Matrix(m) => Value::Matrix(m),
        Val::Str(s) => Value::String(s),
    })
}

/// `as_instants`: every step answers as an instant query at it would (only VictoriaMetrics's
/// answers depend on that).
pub(crate) fn range<S: Storage + ?Sized>(
    q: &Query,
    storage: &S,
    steps: Steps,
    flavor: Flavor,
    as_instants: bool,
) -> Result<Vec<RangeSeries>, QueryError> {
    if steps.step_ms <= 0 {
        return Err(err(
            "zero or negative query resolution step widths are not accepted",
        ));
    }
    let n = steps.count();
    if n == 0 {
        return Ok(Vec::new());
    }
    let ctx = Ctx {
        storage,
        steps,
        n,
        flavor,
        vm_step_ms: if as_instants {
            super::victoriametrics::INSTANT_STEP_MS
        } else {
            steps.step_ms
        },
        vm_instants: as_instants && flavor == Flavor::VictoriaMetrics,
        shared: super::shared::resolve(&q.expr, &q.shared),
        memo: RefCell::default(),
    };
    match eval_top(&ctx, q)? {
        Val::Scalar(v) => Ok(vec![RangeSeries {
            labels: Labels::new(),
            values: v.into_iter().map(Some).collect(),
        }]),
        Val::Vector(vs) => {
            let mut out: Vec<RangeSeries> = vs
                .into_iter()
                .filter(|s| s.values.iter().any(Option::is_some))
                .map(|s| RangeSeries {
                    labels: s.labels,
                    values: s.values,
                })
                .collect();
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
            Ok(out)
        }
        Val::Matrix(_) => Err(err(
            "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector",
        )),
        Val::Str(_) => Err(err(
            "invalid expression type \"string\" for range query, must be Scalar or instant Vector",
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::promql::{
        Flavor, Labels, MemStorage, Query, SeriesSamples, Steps, Value, eval_instant, eval_range,
    };

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn storage() -> MemStorage {
        let mut s = MemStorage::new();
        for (code, slope) in [("200", 10.0), ("500", 1.0)] {
            s.push_series(
                labels(&[("__name__", "req_total"), ("code", code)]),
                SeriesSamples::from_samples((0..200).map(|i| (i * 15_000, i as f64 * slope))),
            );
        }
        for (le, slope) in [("0.1", 2.0), ("1", 5.0), ("+Inf", 6.0)] {
            for pod in ["a", "b"] {
                s.push_series(
                    labels(&[("__name__", "h_bucket"), ("le", le), ("pod", pod)]),
                    SeriesSamples::from_samples((0..200).map(|i| (i * 15_000, i as f64 * slope))),
                );
            }
        }
        s
    }

    /// Range evaluation equals instant evaluation at every step (values; order is sorted).
    fn check_steps(q: &str) -> Vec<crate::promql::RangeSeries> {
        let s = storage();
        let q = Query::parse(q).unwrap();
        let steps = Steps {
            start_ms: 0,
            end_ms: 3_000_000,
            step_ms: 60_000,
        };
        let r = eval_range(&q, &s, steps, Flavor::Prometheus2).unwrap();
        for i in 0..steps.count() {
            let t = steps.time(i);
            let want: Vec<(Labels, u64)> =
                match eval_instant(&q, &s, t, Flavor::Prometheus2).unwrap() {
                    Value::Vector(v) => {
                        let mut v: Vec<_> = v.into_iter().map(|(l, x)| (l, x.to_bits())).collect();
                        v.sort();
                        v
                    }
                    Value::Scalar(x) => vec![(Labels::new(), x.to_bits())],
                    other => panic!("{other:?}"),
                };
            let got: Vec<(Labels, u64)> = r
                .iter()
                .filter_map(|s| s.values[i].map(|x| (s.labels.clone(), x.to_bits())))
                .collect();
            assert_eq!(got, want, "step {i} of {}", q.text());
        }
        r
    }

    #[test]
    fn core_queries_step_equal_instant() {
        let r = check_steps("sum(rate(req_total[5m]))");
        assert_eq!(r.len(), 1);
        assert!((r[0].values[20].unwrap() - 11.0 / 15.0).abs() < 1e-9);
        let r = check_steps("sum by (le) (rate(h_bucket[1h]))");
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|s| s.labels.len() == 1));
        let r = check_steps(
            r#"label_replace(rate(req_total[5m]), "class", "${1}xx", "code", "(.).*")"#,
        );
        assert_eq!(r[0].labels.get("class").map(String::as_str), Some("2xx"));
        let r = check_steps(r#"sum(rate(req_total{code="404"}[5m])) or vector(0)"#);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].values[10], Some(0.0));
        let r = check_steps(r#"req_total{code="500"} or req_total"#);
        assert_eq!(r.len(), 2);
        check_steps("histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))");
        check_steps("sum(rate(req_total{code=~\"5..\"}[5m])) / sum(rate(req_total[5m]))");
        check_steps("topk(1, req_total) + 1");
        check_steps("time() - 5");
        for q in [
            "topk by (le) (2, rate(h_bucket[10m]))",
            "bottomk(3, h_bucket offset 5m)",
            "quantile by (pod) (0.3, h_bucket)",
            "stddev by (pod) (rate(h_bucket[7m])) + stdvar(h_bucket)",
            "avg without (le) (h_bucket) - on (pod) group_left max by (pod) (h_bucket)",
            "h_bucket / ignoring (le) group_left sum without (le) (h_bucket)",
            r#"label_join(h_bucket, "x", "-", "le", "pod") > bool 100"#,
            "clamp(req_total, 10, 500) unless req_total > 400",
            r#"absent(nothing{job="a"}) and vector(1)"#,
            "count(resets(req_total[10m]) == 0) * changes(h_bucket[3m])",
            "scalar(sum(req_total)) % 7 ^ 2",
            "irate(req_total[1m]) - idelta(req_total[2m]) + delta(req_total[3m])",
            "quantile_over_time(0.9, req_total[5m]) / max_over_time(req_total[5m])",
            "round(avg_over_time(req_total[4m]), 0.5) - last_over_time(req_total[1m])",
            "-present_over_time(req_total[1m]) + stddev_over_time(req_total[9m])",
        ] {
            check_steps(q);
        }
    }

    #[test]
    fn stale_marker_ends_the_lookback() {
        let mut s = MemStorage::new();
        let l = labels(&[("__name__", "up")]);
        let samples = s.series_mut(&l);
        samples.push(0, 1.0);
        samples.push(60_000, f64::from_bits(0x7ff0_0000_0000_0002));
        samples.push(180_000, 2.0);
        let q = Query::parse("up").unwrap();
        let at = |t| eval_instant(&q, &s, t, Flavor::Prometheus2).unwrap();
        assert_eq!(at(30_000), Value::Vector(vec![(l.clone(), 1.0)]));
        assert_eq!(
            at(90_000),
            Value::Vector(vec![]),
            "newest point is the marker"
        );
        assert_eq!(at(200_000), Value::Vector(vec![(l.clone(), 2.0)]));
        // Range selectors skip the marker.
        let q = Query::parse("count_over_time(up[10m])").unwrap();
        assert_eq!(
            eval_instant(&q, &s, 200_000, Flavor::Prometheus2).unwrap(),
            Value::Vector(vec![(Labels::new(), 2.0)])
        );
        // Lookback: 2.x includes t - 5m, 3.x does not.
        let q = Query::parse("up").unwrap();
        assert_eq!(
            eval_instant(&q, &s, 480_000, Flavor::Prometheus2).unwrap(),
            Value::Vector(vec![(l.clone(), 2.0)])
        );
        assert_eq!(
            eval_instant(&q, &s, 480_000, Flavor::Prometheus3).unwrap(),
            Value::Vector(vec![])
        );
    }

    #[test]
    fn unsupported_is_named_with_offset() {
        let e = Query::parse("sum(predict_linear(x[5m], 60))").unwrap_err();
        assert!(e.unsupported);
        assert_eq!(e.offset, Some(4));
        assert!(e.message.contains("predict_linear"));
        let e = Query::parse("rate(x[5m:1m])").unwrap_err();
        assert!(e.unsupported && e.message.contains("subquery"));
        assert_eq!(e.offset, Some(6));
        let e = Query::parse("x @ 100").unwrap_err();
        assert!(e.unsupported);
        assert_eq!(e.offset, Some(2));
        let e = Query::parse("sum(x").unwrap_err();
        assert!(!e.unsupported);
    }

    #[test]
    fn selectors_fold_reach() {
        let q = Query::parse("rate(x[5m] offset 1m) / x + rate(x[1h] offset 1m)").unwrap();
        let s = q.selectors();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].reach_ms, 3_660_000);
        assert_eq!(s[0].matchers.matchers[0].name, "__name__");
    }
}
