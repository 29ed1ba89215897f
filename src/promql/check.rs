//! Parsing and the subset check: which PromQL the evaluator accepts, and where in the text a
//! query leaves the subset (so `validate` can point at `file:line:col`).
//!
//! `promql-parser` keeps no positions in its AST, so the offset of an unsupported node is
//! found again in the text: the first occurrence, outside string literals, of the token that
//! introduces it (a function name followed by `(`, `@`, a `[..:..]` subquery range).

use super::{Query, QueryError, SelectorNeed};
use crate::duration::{DurationError, PromDuration};
use crate::limits::{MAX_DURATION_MS, MAX_QUERY_DEPTH, MAX_QUERY_OPERATORS};
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
    scan_limits(text)?;
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
    tree_limits(text, &expr)?;
    check(text, &expr)?;
    Ok(Query {
        text: text.to_string(),
        shared: super::shared::find(&expr),
        expr,
    })
}

fn beyond_limits(offset: Option<usize>, message: String) -> QueryError {
    QueryError {
        message,
        offset,
        unsupported: false,
    }
}

/// Whether a query that [`parse`] refused was refused for crossing an input limit (rather
/// than for being invalid or outside the subset): a spec reports that as an error, not as a
/// query for the backend to answer.
pub(crate) fn within_limits(text: &str) -> Result<(), QueryError> {
    scan_limits(text)?;
    match promql_parser::parser::parse(text) {
        Ok(expr) => tree_limits(text, &expr),
        Err(_) => Ok(()),
    }
}

/// Refuses, before the parser crate sees it, a query that would cost more than the limits
/// allow, or that would make the crate panic: it compiles every regex matcher (without a
/// size bound, twice when the first attempt fails), takes time quadratic in operators,
/// builds and drops its tree recursively, and turns a range or offset written as a plain
/// number (`[1e30]`, `offset NaN`) into a `Duration` with a conversion that panics out of
/// range. One pass over the text, outside string literals and comments: brackets nest at
/// most [`MAX_QUERY_DEPTH`] deep, at most [`MAX_QUERY_OPERATORS`] operators, every
/// `=~`/`!~` value compiles under [`crate::limits::MAX_REGEX_BYTES`], and every range,
/// subquery step and offset is at most a year, as every other duration.
fn scan_limits(text: &str) -> Result<(), QueryError> {
    let bytes = text.as_bytes();
    let mut open: Vec<u8> = Vec::new();
    let (mut braces, mut operators) = (0usize, 0usize);
    // The last token was `=~` or `!~`: the next string literal is a regex.
    let mut regex_next = false;
    // The last token was `[`, a `:` inside one, or `offset`: a duration comes next.
    let mut duration_next = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        i += 1;
        match b {
            b'"' | b'\'' | b'`' => {
                i = string_end(bytes, start);
                if std::mem::take(&mut regex_next)
                    && let Some(pattern) = crate::spec::selector::unquote(&text[start..i])
                {
                    crate::limits::label_regex_matches_empty(&pattern).map_err(|why| {
                        beyond_limits(
                            Some(start),
                            format!("invalid regular expression {pattern:?}: {why}"),
                        )
                    })?;
                }
                duration_next = false;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            b if duration_next
                && (b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-')) =>
            {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'.' | b'_')
                        || (matches!(bytes[i], b'+' | b'-') && matches!(bytes[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                duration_within_limits(&text[start..i])
                    .map_err(|why| beyond_limits(Some(start), why))?;
                duration_next = false;
                continue;
            }
            b':' if open.last() == Some(&b'[') => {
                duration_next = true;
                continue;
            }
            b'(' | b'[' | b'{' => {
                open.push(b);
                braces += usize::from(b == b'{');
                if open.len() > MAX_QUERY_DEPTH {
                    return Err(beyond_limits(
                        Some(start),
                        format!("brackets nest more than {MAX_QUERY_DEPTH} levels deep"),
                    ));
                }
                regex_next = false;
                duration_next = b == b'[';
                continue;
            }
            b')' | b']' | b'}' => {
                open.pop();
                braces = braces.saturating_sub(usize::from(b == b'}'));
            }
            b'=' | b'!' if bytes.get(i) == Some(&b'~') => {
                i += 1;
                regex_next = true;
                duration_next = false;
                continue;
            }
            // Inside braces `=` and `!=` are matchers, not operators.
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'=' | b'!' | b'<' | b'>' => {
                if bytes.get(i) == Some(&b'=') {
                    i += 1;
                }
                operators += usize::from(braces == 0);
            }
            b if is_ident_byte(b) => {
                while i < bytes.len() && is_ident_byte(bytes[i]) {
                    i += 1;
                }
                let word = &text[start..i];
                operators += usize::from(
                    braces == 0
                        && ["and", "or", "unless", "atan2"]
                            .iter()
                            .any(|op| word.eq_ignore_ascii_case(op)),
                );
                if operators > MAX_QUERY_OPERATORS {
                    return Err(too_many_operators(start));
                }
                regex_next = false;
                duration_next = braces == 0 && word.eq_ignore_ascii_case("offset");
                continue;
            }
            _ => {}
        }
        regex_next = false;
        duration_next = false;
        if operators > MAX_QUERY_OPERATORS {
            return Err(too_many_operators(start));
        }
    }
    Ok(())
}

fn too_many_operators(at: usize) -> QueryError {
    beyond_limits(
        Some(at),
        format!("the query has more than {MAX_QUERY_OPERATORS} operators"),
    )
}

/// A range, subquery step or offset as written (`5m`, `300`, `1.5e3`, `0x10`, `-5m`): at
/// most a year, whether in Prometheus units or as a plain number of seconds.
fn duration_within_limits(token: &str) -> Result<(), String> {
    let body = token.trim_start_matches(['+', '-']);
    let too_long = || {
        format!(
            "range or offset {token:?} is longer than 1y ({} seconds), the longest burnrate accepts",
            MAX_DURATION_MS / 1000
        )
    };
    let seconds = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok().map(|v| v as f64),
        None => body.parse::<f64>().ok(),
    };
    match seconds {
        Some(s) if !(s.is_finite() && s * 1000.0 <= MAX_DURATION_MS as f64) => Err(too_long()),
        Some(_) => Ok(()),
        // In units, or not a duration at all (the parser says why).
        None => match PromDuration::parse(body) {
            Err(DurationError::TooLong(_)) => Err(too_long()),
            _ => Ok(()),
        },
    }
}

/// The index just past the string literal opening at `start` (the end of the text when it
/// is not terminated: the parser says so).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() && bytes[i] != quote {
        if bytes[i] == b'\\' && quote != b'`' {
            i += 1;
        }
        i += 1;
    }
    (i + 1).min(bytes.len())
}

/// What only the tree shows. Chained operators nest as brackets do: the tree is at most
/// [`MAX_QUERY_DEPTH`] deep, so the recursive subset check and evaluation stay far from the
/// end of any thread's stack. And `label_replace` compiles its regex at every evaluation:
/// it must compile under the bound.
fn tree_limits(text: &str, root: &Expr) -> Result<(), QueryError> {
    let mut deepest = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((e, d)) = stack.pop() {
        deepest = deepest.max(d);
        match e {
            Expr::Aggregate(a) => {
                stack.push((&a.expr, d + 1));
                if let Some(p) = &a.param {
                    stack.push((p, d + 1));
                }
            }
            Expr::Unary(u) => stack.push((&u.expr, d + 1)),
            Expr::Binary(b) => {
                stack.push((&b.lhs, d + 1));
                stack.push((&b.rhs, d + 1));
            }
            Expr::Paren(p) => stack.push((&p.expr, d + 1)),
            Expr::Subquery(q) => stack.push((&q.expr, d + 1)),
            Expr::Call(c) => {
                if c.func.name == "label_replace"
                    && let Some(Expr::StringLiteral(re)) = c.args.args.get(4).map(|a| a.as_ref())
                {
                    crate::limits::bounded_regex(&format!("^(?:{})$", re.val)).map_err(|why| {
                        beyond_limits(
                            find_call(text, "label_replace"),
                            format!("invalid regular expression in label_replace(): {why}"),
                        )
                    })?;
                }
                stack.extend(c.args.args.iter().map(|a| (a.as_ref(), d + 1)));
            }
            _ => {}
        }
    }
    if deepest > MAX_QUERY_DEPTH {
        return Err(beyond_limits(
            None,
            format!(
                "the query nests {deepest} levels deep (brackets and chained operators), more than {MAX_QUERY_DEPTH}"
            ),
        ));
    }
    Ok(())
}

/// The parser reports positions as `... at N ...`/`position N` in some messages; use that.
fn error_offset(message: &str) -> Option<usize> {
    static POSITION: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = POSITION
        .get_or_init(|| regex::Regex::new(r"(?:position|at|offset) (\d+)").expect("valid regex"));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limit_error(q: &str) -> String {
        let e = within_limits(q).expect_err(q);
        assert_eq!(parse(q).expect_err(q).message, e.message, "{q}");
        e.message
    }

    /// Found by `tests/fuzz.rs`: the parser crate converts a range or offset written as a
    /// plain number with `Duration::from_secs_f64`, which panics beyond `u64::MAX` seconds
    /// and on NaN or infinity.
    #[test]
    fn ranges_and_offsets_the_parser_crate_would_panic_on_are_errors() {
        for q in [
            "x[1e30]",
            "x[1.5e30]",
            "x offset NaN",
            "x offset -1e30",
            "x[5m] offset -Inf",
            "x[5m:808080808080808000000]",
            "--a0_total{b=\"5..|429\"}[000808080808080808000000] @ 1000000000000000000",
            "x offset 0x7fffffffffffffff",
            "quantile({a=\"(a|b){100}\"}[100000000000000000000\n:0] offset 0y)",
            "rate(x[2y])",
        ] {
            assert!(limit_error(q).contains("longer than 1y"), "{q}");
        }
        for q in [
            "x[5m] offset 1h",
            "x offset 300",
            "x offset -5m",
            "rate(x[1y])",
        ] {
            assert!(within_limits(q).is_ok(), "{q}");
            assert!(parse(q).is_ok(), "{q}");
        }
        // A subquery is outside the subset, not beyond a limit.
        assert!(within_limits("rate(x[5m:1m])").is_ok());
    }

    #[test]
    fn deep_long_and_regex_heavy_queries_are_refused_before_parsing() {
        let sel = "rate(x[5m])";
        let deep = format!("{}{sel}{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(limit_error(&deep).contains("brackets nest more than 64"));
        assert!(limit_error(&vec![sel; 5_000].join(" + ")).contains("more than 1000 operators"));
        assert!(limit_error(&format!("{}{sel}", "-".repeat(100_000))).contains("operators"));
        assert!(limit_error(&vec![sel; 100].join(" or ")).contains("nests 101 levels"));
        assert!(
            limit_error(r#"sum(rate(x{a=~"\\w{200}"}[5m]))"#).contains("too large once compiled")
        );
        assert!(
            limit_error(r#"label_replace(x, "a", "$1", "b", "\\w{200}")"#)
                .contains("label_replace")
        );
        // Matchers inside braces are not operators; `=~` values elsewhere are not regexes.
        let many: Vec<String> = (0..2_000).map(|i| format!("l{i}!=\"v\"")).collect();
        assert!(within_limits(&format!("x{{{}}}", many.join(","))).is_ok());
        assert!(within_limits(r#"x{a=~"5..|429"} > 1e30"#).is_ok());
    }
}
