//! Parsing and the subset check: which PromQL the evaluator accepts, and where in the text a
//! query leaves the subset (so `validate` can point at `file:line:col`).
//!
//! `promql-parser` keeps no positions in its AST, so the offset of an unsupported node is
//! found again in the text: the first occurrence, outside string literals, of the token that
//! introduces it (a function name followed by `(`, `@`, a `[..:..]` subquery range).

use super::{Query, QueryError, SelectorNeed};
use promql_parser::label::{MatchOp, Matcher, Matchers};
use promql_parser::parser::{Expr, Offset, VectorSelector};

/// The instant selector's lookback: Prometheus's default `--query.lookback-delta`.
pub(crate) const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Functions the evaluator implements.
const FUNCTIONS: &[&str] = &[
    "rate",
    "increase",
    "irate",
    "delta",
    "idelta",
    "resets",
    "changes",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "quantile_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "present_over_time",
    "vector",
    "scalar",
    "time",
    "abs",
    "ceil",
    "floor",
    "round",
    "clamp",
    "clamp_min",
    "clamp_max",
    "label_replace",
    "label_join",
    "absent",
    "histogram_quantile",
];

const AGGREGATIONS: &[&str] = &[
    "sum", "count", "min", "max", "avg", "topk", "bottomk", "quantile", "stddev", "stdvar", "group",
];

const BINARY_OPS: &[&str] = &[
    "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless",
];

fn unsupported(offset: Option<usize>, message: String) -> QueryError {
    QueryError {
        message,
        offset,
        unsupported: true,
    }
}

pub(crate) fn parse(text: &str) -> Result<Query, QueryError> {
    let expr = promql_parser::parser::parse(text).map_err(|e| {
        // A function the parser crate does not know (e.g. 2.x's `holt_winters`, renamed in
        // 3.x) may still be valid for the backend: name it as unsupported.
        if let Some(name) = e
            .strip_prefix("unknown function with name '")
            .and_then(|r| r.split('\'').next())
        {
            return unsupported(
                find_call(text, name),
                format!("function {name} is not supported by the local evaluator"),
            );
        }
        QueryError {
            offset: error_offset(&e),
            message: e,
            unsupported: false,
        }
    })?;
    check(text, &expr)?;
    Ok(Query {
        text: text.to_string(),
        shared: super::shared::find(&expr),
        expr,
    })
}

/// The parser reports positions as `... at N ...`/`position N` in some messages; use that.
fn error_offset(message: &str) -> Option<usize> {
    let re = regex::Regex::new(r"(?:position|at|offset) (\d+)").ok()?;
    re.captures(message)?.get(1)?.as_str().parse().ok()
}

fn check(text: &str, e: &Expr) -> Result<(), QueryError> {
    match e {
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !AGGREGATIONS.contains(&op.as_str()) {
                return Err(unsupported(
                    find_call(text, &op),
                    format!("aggregation {op} is not supported by the local evaluator"),
                ));
            }
            if let Some(p) = &a.param {
                check(text, p)?;
            }
            check(text, &a.expr)
        }
        Expr::Unary(u) => check(text, &u.expr),
        Expr::Binary(b) => {
            let op = b.op.to_string();
            if !BINARY_OPS.contains(&op.as_str()) {
                return Err(unsupported(
                    find_word(text, &op),
                    format!("operator {op} is not supported by the local evaluator"),
                ));
            }
            if let Some(m) = &b.modifier
                && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
            {
                return Err(unsupported(
                    find_word(text, "fill")
                        .or_else(|| find_word(text, "fill_left"))
                        .or_else(|| find_word(text, "fill_right")),
                    "fill modifiers are not supported by the local evaluator".into(),
                ));
            }
            check(text, &b.lhs)?;
            check(text, &b.rhs)
        }
        Expr::Paren(p) => check(text, &p.expr),
        Expr::Subquery(_) => Err(unsupported(
            find_subquery(text),
            "subquery is not supported by the local evaluator".into(),
        )),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
        Expr::VectorSelector(vs) => check_selector(text, vs),
        Expr::MatrixSelector(ms) => check_selector(text, &ms.vs),
        Expr::Call(c) => {
            let name = c.func.name;
            if !FUNCTIONS.contains(&name) {
                return Err(unsupported(
                    find_call(text, name),
                    format!("function {name} is not supported by the local evaluator"),
                ));
            }
            for a in &c.args.args {
                check(text, a)?;
            }
            Ok(())
        }
        Expr::Extension(_) => Err(unsupported(
            None,
            "extension expressions are not supported".into(),
        )),
    }
}

fn check_selector(text: &str, vs: &VectorSelector) -> Result<(), QueryError> {
    if vs.at.is_some() {
        return Err(unsupported(
            find_outside_strings(text, |s| s.starts_with('@')),
            "@ modifier is not supported by the local evaluator".into(),
        ));
    }
    if !vs.matchers.or_matchers.is_empty() {
        return Err(unsupported(
            find_word(text, "or"),
            "`or` inside a selector is not supported by the local evaluator".into(),
        ));
    }
    Ok(())
}

/// Byte offset of the first match of `at` on a suffix of `text` that starts outside a string
/// literal.
fn find_outside_strings(text: &str, at: impl Fn(&str) -> bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        if text.is_char_boundary(i) && at(&text[i..]) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

/// Where the word `w` appears as a whole identifier.
fn find_word(text: &str, w: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    find_outside_strings(text, |s| {
        let start = text.len() - s.len();
        s.starts_with(w)
            && (start == 0 || !is_ident_byte(bytes[start - 1]))
            && s.as_bytes().get(w.len()).is_none_or(|&b| !is_ident_byte(b))
    })
}

/// Where `name` appears as a word followed by `(` (or by a `by`/`without` clause).
fn find_call(text: &str, name: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    find_outside_strings(text, |s| {
        let start = text.len() - s.len();
        if !s.starts_with(name) || (start > 0 && is_ident_byte(bytes[start - 1])) {
            return false;
        }
        let rest = s[name.len()..].trim_start();
        rest.starts_with('(') || rest.starts_with("by") || rest.starts_with("without")
    })
    .or_else(|| find_word(text, name))
}

/// Where a `[range:step]` subquery bracket opens.
fn find_subquery(text: &str) -> Option<usize> {
    find_outside_strings(text, |s| {
        s.starts_with('[') && s.find(']').is_some_and(|end| s[..end].contains(':'))
    })
}

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

/// The matchers of a selector with the metric name folded in as a `__name__` matcher.
pub(crate) fn full_matchers(vs: &VectorSelector) -> Matchers {
    let mut m = vs.matchers.clone();
    if let Some(name) = &vs.name
        && !m
            .matchers
            .iter()
            .any(|x| x.name == "__name__" && matches!(x.op, MatchOp::Equal) && &x.value == name)
    {
        m.matchers
            .insert(0, Matcher::new(MatchOp::Equal, "__name__", name));
    }
    m
}

pub(crate) fn selectors(e: &Expr) -> Vec<SelectorNeed> {
    selectors_with(e, |range_ms| range_ms)
}

/// [`selectors`] with the reach of a range (`LOOKBACK_MS` for an instant selector) mapped by
/// `reach`: VictoriaMetrics reads more than the window (see `victoriametrics::reach_ms`).
pub(crate) fn selectors_with(e: &Expr, reach: impl Fn(i64) -> i64) -> Vec<SelectorNeed> {
    let mut out: Vec<SelectorNeed> = Vec::new();
    let mut add = |vs: &VectorSelector, range_ms: i64| {
        let matchers = full_matchers(vs);
        let reach = (reach(range_ms) + offset_ms(&vs.offset)).max(0);
        if let Some(n) = out.iter_mut().find(|n| n.matchers == matchers) {
            n.reach_ms = n.reach_ms.max(reach);
        } else {
            out.push(SelectorNeed {
                matchers,
                reach_ms: reach,
            });
        }
    };
    walk(e, &mut |e| match e {
        Expr::VectorSelector(vs) => add(vs, LOOKBACK_MS),
        Expr::MatrixSelector(ms) => add(&ms.vs, ms.range.as_millis() as i64),
        _ => {}
    });
    out
}

fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                walk(p, f);
            }
            walk(&a.expr, f);
        }
        Expr::Unary(u) => walk(&u.expr, f),
        Expr::Binary(b) => {
            walk(&b.lhs, f);
            walk(&b.rhs, f);
        }
        Expr::Paren(p) => walk(&p.expr, f),
        Expr::Subquery(s) => walk(&s.expr, f),
        Expr::Call(c) => {
            for a in &c.args.args {
                walk(a, f);
            }
        }
        _ => {}
    }
}
