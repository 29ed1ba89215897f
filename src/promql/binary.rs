//! Binary operators: arithmetic, comparisons (filtering or `bool`) and set operators, between
//! scalars and vectors, with vector matching (`on`/`ignoring`, `group_left`/`group_right`).
//!
//! Transcribes `VectorBinop`, `VectorAnd/Or/Unless`, `VectorscalarBinop`, `resultMetric` and
//! `signatureFunc` of Prometheus 2.42's engine.go. Label work (match signatures, result
//! labels) is done once per series or per matched pair; only the matching itself runs per
//! step, because which series are present varies by step.

use super::eval::{
    Builder, Ctx, DROP_NAME_MARK, Series, Val, drop_metadata, err, eval, map_series,
};
use super::{Labels, QueryError, Storage, gomath};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            _ => return None,
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    /// `shouldDropMetricName`.
    fn drops_name(self) -> bool {
        matches!(
            self,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow | Op::Mod
        )
    }
}

fn btos(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// `scalarBinop`.
fn scalar_binop(op: Op, l: f64, r: f64) -> f64 {
    match op {
        Op::Add => l + r,
        Op::Sub => l - r,
        Op::Mul => l * r,
        Op::Div => l / r,
        Op::Pow => gomath::pow(l, r),
        Op::Mod => gomath::fmod(l, r),
        Op::Eq => btos(l == r),
        Op::Ne => btos(l != r),
        Op::Gt => btos(l > r),
        Op::Lt => btos(l < r),
        Op::Ge => btos(l >= r),
        Op::Le => btos(l <= r),
        Op::And | Op::Or | Op::Unless => f64::NAN,
    }
}

/// `vectorElemBinop`: the value and whether the element is kept.
#[inline]
fn elem_binop(op: Op, l: f64, r: f64) -> (f64, bool) {
    match op {
        Op::Add => (l + r, true),
        Op::Sub => (l - r, true),
        Op::Mul => (l * r, true),
        Op::Div => (l / r, true),
        Op::Pow => (gomath::pow(l, r), true),
        Op::Mod => (gomath::fmod(l, r), true),
        Op::Eq => (l, l == r),
        Op::Ne => (l, l != r),
        Op::Gt => (l, l > r),
        Op::Lt => (l, l < r),
        Op::Ge => (l, l >= r),
        Op::Le => (l, l <= r),
        Op::And | Op::Or | Op::Unless => (f64::NAN, false),
    }
}

pub(crate) fn eval_binary<S: Storage + ?Sized>(
    ctx: &Ctx<S>,
    b: &BinaryExpr,
) -> Result<Val, QueryError> {
    let op_s = b.op.to_string();
    let op = Op::parse(&op_s).ok_or_else(|| err(format!("operator {op_s} not supported")))?;
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = eval(ctx, &b.lhs)?;
    let rhs = eval(ctx, &b.rhs)?;
    let v3 = ctx.flavor == super::Flavor::Prometheus3;
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
            l.iter()
                .zip(&r)
                .map(|(&l, &r)| scalar_binop(op, l, r))
                .collect(),
        )),
        (Val::Vector(l), Val::Scalar(r)) => {
            vector_scalar(ctx, op, l, &r, false, return_bool).map(Val::Vector)
        }
        (Val::Scalar(l), Val::Vector(r)) => {
            vector_scalar(ctx, op, r, &l, true, return_bool).map(Val::Vector)
        }
        (Val::Vector(l), Val::Vector(r)) => {
            let m = Matching::new(b);
            match op {
                Op::And | Op::Or | Op::Unless => set_op(ctx.n, op, l, r, &m).map(Val::Vector),
                _ => vector_binop(ctx.n, op, l, r, &m, return_bool, v3).map(Val::Vector),
            }
        }
        _ => Err(err(format!(
            "binary operator {op_s} between unsupported operand types"
        ))),
    }
}

/// `VectorscalarBinop`.
fn vector_scalar<S: Storage + ?Sized>(
    ctx: &Ctx<S>,
    op: Op,
    v: Vec<Series>,
    s: &[f64],
    swap: bool,
    return_bool: bool,
) -> Result<Vec<Series>, QueryError> {
    let drop = op.drops_name() || return_bool;
    map_series(
        ctx.n,
        v,
        |l| Some(if drop { ctx.drop_name(l) } else { l.clone() }),
        |i, x| {
            let (mut lv, mut rv) = (x, s[i]);
            if swap {
                (lv, rv) = (rv, lv);
            }
            let (mut value, mut keep) = elem_binop(op, lv, rv);
            if op.is_comparison() && swap {
                value = rv;
            }
            if return_bool {
                value = btos(keep);
                keep = true;
            }
            keep.then_some(value)
        },
    )
}

/// The vector matching of one binary expression.
struct Matching {
    card: VectorMatchCardinality,
    on: bool,
    labels: Vec<String>,
    include: Vec<String>,
}

impl Matching {
    fn new(b: &BinaryExpr) -> Matching {
        let Some(m) = &b.modifier else {
            return Matching {
                card: VectorMatchCardinality::OneToOne,
                on: false,
                labels: Vec::new(),
                include: Vec::new(),
            };
        };
        let (on, labels) = match &m.matching {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (false, Vec::new()),
        };
        let include = match &m.card {
            VectorMatchCardinality::ManyToOne(l) | VectorMatchCardinality::OneToMany(l) => {
                l.labels.clone()
            }
            _ => Vec::new(),
        };
        Matching {
            card: m.card.clone(),
            on,
            labels,
            include,
        }
    }

    /// `signatureFunc`: the labels a series matches on (`on`), or all but the ignored ones
    /// and the metric name.
    fn signature(&self, l: &Labels) -> Vec<(String, String)> {
        if self.on {
            l.iter()
                .filter(|(k, _)| self.labels.iter().any(|x| x == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            l.iter()
                .filter(|(k, _)| {
                    *k != "__name__" && *k != DROP_NAME_MARK && !self.labels.iter().any(|x| x == *k)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }
    }

    /// `MatchLabels`: the matched label set, for error messages.
    fn matched_labels(&self, l: &Labels) -> String {
        let sig = self.signature(l);
        labels_string(&sig)
    }
}

fn labels_string(pairs: &[(String, String)]) -> String {
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn metric_string(l: &Labels) -> String {
    let pairs: Vec<(String, String)> = l.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels_string(&pairs)
}

/// Interns signatures of both sides into small integers.
fn signature_ids(m: &Matching, l: &[Series], r: &[Series]) -> (Vec<u32>, Vec<u32>, usize) {
    let mut ids: HashMap<Vec<(String, String)>, u32> = HashMap::new();
    let mut id = |s: &Series| {
        let sig = m.signature(&s.labels);
        let next = ids.len() as u32;
        *ids.entry(sig).or_insert(next)
    };
    let li: Vec<u32> = l.iter().map(&mut id).collect();
    let ri: Vec<u32> = r.iter().map(&mut id).collect();
    let n = ids.len();
    (li, ri, n)
}

/// Whether `l or r` is `l` followed by `r`: no right-hand signature matches a left-hand one
/// (so nothing on the right is hidden at any step) and neither side repeats a label set (so
/// nothing is merged). The usual case of the tagged `or` chains burnrate measures with, where
/// the per-step walk below would copy every earlier part again at each `or`.
fn or_is_concatenation(l: &[Series], r: &[Series], lsig: &[u32], rsig: &[u32]) -> bool {
    let left: HashSet<u32> = lsig.iter().copied().collect();
    if rsig.iter().any(|s| left.contains(s)) {
        return false;
    }
    let mut seen: HashSet<&Labels> = HashSet::new();
    l.iter().chain(r).all(|s| seen.insert(&s.labels))
}

/// `VectorAnd`, `VectorOr`, `VectorUnless`.
fn set_op(
    n: usize,
    op: Op,
    l: Vec<Series>,
    r: Vec<Series>,
    m: &Matching,
) -> Result<Vec<Series>, QueryError> {
    let (lsig, rsig, nsig) = signature_ids(m, &l, &r);
    if op == Op::Or && or_is_concatenation(&l, &r, &lsig, &rsig) {
        return Ok(l
            .into_iter()
            .chain(r)
            .filter(|s| s.values.iter().any(Option::is_some))
            .collect());
    }
    let mut b = Builder::new(n);
    let lslot: Vec<usize> = l.iter().map(|s| b.slot(s.labels.clone())).collect();
    let rslot: Vec<usize> = if op == Op::Or {
        r.iter().map(|s| b.slot(s.labels.clone())).collect()
    } else {
        Vec::new()
    };
    // `mark[sig] == step + 1` when the signature is present on the other side at this step.
    let mut mark = vec![0usize; nsig];
    for step in 0..n {
        let lp = l.iter().any(|s| s.values[step].is_some());
        let rp = r.iter().any(|s| s.values[step].is_some());
        match op {
            Op::And => {
                if !lp || !rp {
                    continue;
                }
                for (j, s) in r.iter().enumerate() {
                    if s.values[step].is_some() {
                        mark[rsig[j] as usize] = step + 1;
                    }
                }
                for (i, s) in l.iter().enumerate() {
                    if let Some(v) = s.values[step]
                        && mark[lsig[i] as usize] == step + 1
                    {
                        b.set(lslot[i], step, v)?;
                    }
                }
            }
            Op::Or => {
                for (i, s) in l.iter().enumerate() {
                    if let Some(v) = s.values[step] {
                        mark[lsig[i] as usize] = step + 1;
                        b.set(lslot[i], step, v)?;
                    }
                }
                for (j, s) in r.iter().enumerate() {
                    if let Some(v) = s.values[step]
                        && mark[rsig[j] as usize] != step + 1
                    {
                        b.set(rslot[j], step, v)?;
                    }
                }
            }
            _ => {
                for (j, s) in r.iter().enumerate() {
                    if s.values[step].is_some() {
                        mark[rsig[j] as usize] = step + 1;
                    }
                }
                for (i, s) in l.iter().enumerate() {
                    if let Some(v) = s.values[step]
                        && (!rp || mark[lsig[i] as usize] != step + 1)
                    {
                        b.set(lslot[i], step, v)?;
                    }
                }
            }
        }
    }
    Ok(b.finish())
}

/// `resultMetric`. 3.x: arithmetic drops the name, type and unit at once; the result's name
/// is marked to be dropped late only for `bool` (it does not inherit the left side's mark).
fn result_metric(
    ls: &Labels,
    rs: &Labels,
    op: Op,
    m: &Matching,
    return_bool: bool,
    v3: bool,
) -> Labels {
    let mut out = ls.clone();
    if v3 {
        out.remove(DROP_NAME_MARK);
        if op.drops_name() {
            drop_metadata(&mut out);
        }
    } else if op.drops_name() {
        out.remove("__name__");
    }
    if matches!(m.card, VectorMatchCardinality::OneToOne) {
        if m.on {
            out.retain(|k, _| m.labels.iter().any(|x| x == k));
        } else {
            for k in &m.labels {
                out.remove(k);
            }
        }
    }
    for k in &m.include {
        match rs.get(k) {
            Some(v) if !v.is_empty() => {
                out.insert(k.clone(), v.clone());
            }
            _ => {
                out.remove(k);
            }
        }
    }
    if return_bool {
        if v3 {
            out.insert(DROP_NAME_MARK.to_string(), String::new());
        } else {
            out.remove("__name__");
        }
    }
    out
}

/// `VectorBinop`: arithmetic and comparisons between two vectors.
fn vector_binop(
    n: usize,
    op: Op,
    l: Vec<Series>,
    r: Vec<Series>,
    m: &Matching,
    return_bool: bool,
    v3: bool,
) -> Result<Vec<Series>, QueryError> {
    let one_to_many = matches!(m.card, VectorMatchCardinality::OneToMany(_));
    let one_to_one = matches!(m.card, VectorMatchCardinality::OneToOne);
    let (lsig, rsig, nsig) = signature_ids(m, &l, &r);
    // After the swap, `l` is the "many" side and `r` the "one" side.
    let (l, r, lsig, rsig) = if one_to_many {
        (r, l, rsig, lsig)
    } else {
        (l, r, lsig, rsig)
    };
    if one_to_one && unique(&lsig) && unique(&rsig) {
        return one_to_one_fixed(n, op, &l, &r, &lsig, &rsig, m, return_bool, v3);
    }
    let mut b = Builder::new(n);
    let mut pair_slot: HashMap<(usize, usize), usize> = HashMap::new();
    // `right[sig] = (step + 1, index into r)` for the "one" side at this step.
    let mut right = vec![(0usize, 0usize); nsig];
    let mut matched = vec![0usize; nsig];
    let mut inserted: HashSet<(u32, usize)> = HashSet::new();
    for step in 0..n {
        let lp = l.iter().any(|s| s.values[step].is_some());
        let rp = r.iter().any(|s| s.values[step].is_some());
        if !lp || !rp {
            continue;
        }
        for (j, s) in r.iter().enumerate() {
            if s.values[step].is_none() {
                continue;
            }
            let sig = rsig[j] as usize;
            if right[sig].0 == step + 1 {
                let dup = &r[right[sig].1];
                let side = if one_to_many { "left" } else { "right" };
                return Err(err(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    m.matched_labels(&s.labels),
                    metric_string(&s.labels),
                    metric_string(&dup.labels)
                )));
            }
            right[sig] = (step + 1, j);
        }
        inserted.clear();
        for (i, s) in l.iter().enumerate() {
            let Some(lv) = s.values[step] else {
                continue;
            };
            let sig = lsig[i] as usize;
            if right[sig].0 != step + 1 {
                continue;
            }
            let j = right[sig].1;
            let rv = r[j].values[step].expect("present at this step");
            let (vl, vr) = if one_to_many { (rv, lv) } else { (lv, rv) };
            let (mut value, keep) = elem_binop(op, vl, vr);
            if return_bool {
                value = btos(keep);
            } else if !keep && !v3 {
                continue;
            }
            // 3.x checks the matching before filtering (a many-to-one match is an error even
            // when the comparison drops it).
            let slot = match pair_slot.get(&(i, j)) {
                Some(&s) => s,
                None => {
                    let labels = result_metric(&s.labels, &r[j].labels, op, m, return_bool, v3);
                    let slot = b.slot(labels);
                    pair_slot.insert((i, j), slot);
                    slot
                }
            };
            if one_to_one {
                if matched[sig] == step + 1 {
                    return Err(err(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                matched[sig] = step + 1;
            } else if !inserted.insert((sig as u32, slot)) {
                return Err(err(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
            if !keep && !return_bool {
                continue;
            }
            b.set(slot, step, value)?;
        }
    }
    Ok(b.finish())
}

/// Whether no signature repeats on one side.
fn unique(sigs: &[u32]) -> bool {
    let mut seen = HashSet::new();
    sigs.iter().all(|s| seen.insert(*s))
}

/// `vector_binop` one-to-one when no signature repeats on either side (`sum(a) / sum(b)`,
/// the common case): each left series can only ever match one right series and neither
/// matching error can occur, so the pairs are found once instead of at every step. The
/// output, step by step, is the general walk's: the matched pairs in left-hand order.
#[allow(clippy::too_many_arguments)]
fn one_to_one_fixed(
    n: usize,
    op: Op,
    l: &[Series],
    r: &[Series],
    lsig: &[u32],
    rsig: &[u32],
    m: &Matching,
    return_bool: bool,
    v3: bool,
) -> Result<Vec<Series>, QueryError> {
    let right: HashMap<u32, usize> = rsig.iter().enumerate().map(|(j, s)| (*s, j)).collect();
    let mut b = Builder::new(n);
    for (i, ls) in l.iter().enumerate() {
        let Some(&j) = right.get(&lsig[i]) else {
            continue;
        };
        let rs = &r[j];
        let mut slot = None;
        for step in 0..n {
            let (Some(vl), Some(vr)) = (ls.values[step], rs.values[step]) else {
                continue;
            };
            let (mut value, keep) = elem_binop(op, vl, vr);
            if return_bool {
                value = btos(keep);
            } else if !keep {
                continue;
            }
            let slot = *slot.get_or_insert_with(|| {
                b.slot(result_metric(
                    &ls.labels,
                    &rs.labels,
                    op,
                    m,
                    return_bool,
                    v3,
                ))
            });
            b.set(slot, step, value)?;
        }
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use crate::promql::{MemStorage, Query, SeriesSamples, Value, eval_instant};

    fn storage(series: &[(&[(&str, &str)], f64)]) -> MemStorage {
        let mut s = MemStorage::new();
        for (labels, v) in series {
            let l = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            s.push_series(l, SeriesSamples::from_samples([(0, *v)]));
        }
        s
    }

    fn run(s: &MemStorage, q: &str) -> Result<Value, crate::promql::QueryError> {
        eval_instant(
            &Query::parse(q).unwrap(),
            s,
            0,
            crate::promql::Flavor::Prometheus2,
        )
    }

    #[test]
    fn matching_errors() {
        let s = storage(&[
            (&[("__name__", "a"), ("job", "x"), ("i", "1")], 1.0),
            (&[("__name__", "a"), ("job", "x"), ("i", "2")], 2.0),
            (&[("__name__", "b"), ("job", "x")], 10.0),
        ]);
        let e = run(&s, "a / on(job) a").unwrap_err();
        assert!(
            e.message.contains("many-to-many matching not allowed"),
            "{e}"
        );
        let e = run(&s, "b / on(job) a").unwrap_err();
        assert!(
            e.message.contains("many-to-many matching not allowed"),
            "{e}"
        );
        let e = run(&s, "a / on(job) b").unwrap_err();
        assert!(e.message.contains("multiple matches for labels"), "{e}");
        let Value::Vector(v) = run(&s, "a / on(job) group_left b").unwrap() else {
            panic!()
        };
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].1, 0.2);
        let e = run(&s, "label_replace(a, \"i\", \"\", \"\", \"\")").unwrap_err();
        assert!(e.message.contains("same labelset"), "{e}");
    }

    #[test]
    fn or_vector_zero_fills_absence() {
        let s = storage(&[(&[("__name__", "a")], 1.0)]);
        let Value::Vector(v) = run(&s, "sum(nothing) or vector(0)").unwrap() else {
            panic!()
        };
        assert_eq!(v, vec![(Default::default(), 0.0)]);
    }
}
