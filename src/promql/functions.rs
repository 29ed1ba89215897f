//! Function calls: dispatch to the range-vector functions ([`super::rollup`]) and the
//! instant-vector and scalar functions of the subset (`vector`, `scalar`, `time`, `abs`,
//! `ceil`, `floor`, `round`, `clamp*`, `label_replace`, `label_join`, `absent`,
//! `histogram_quantile`), transcribed from Prometheus 2.42's functions.go.

use super::check::full_matchers;
use super::eval::{
    Ctx, DROP_NAME_MARK, Series, Val, err, eval_scalar, eval_vector, map_series, unwrap_parens,
};
use super::histogram::histogram_quantile;
use super::rollup::{RangeFn, eval_range_fn};
use super::{Labels, QueryError, Storage, gomath};
use promql_parser::label::MatchOp;
use promql_parser::parser::{Call, Expr};

fn string_arg(e: &Expr) -> Result<&str, QueryError> {
    match unwrap_parens(e) {
        Expr::StringLiteral(s) => Ok(&s.val),
        _ => Err(err("expected a string literal argument")),
    }
}

/// `model.LabelName.IsValid` / `model.LabelNameRE`.
fn valid_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

pub(crate) fn eval_call<S: Storage + ?Sized>(ctx: &Ctx<S>, c: &Call) -> Result<Val, QueryError> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| unwrap_parens(a)).collect();
    if let Some(f) = RangeFn::from_name(name) {
        let (q, m) = if f == RangeFn::Quantile {
            (Some(eval_scalar(ctx, args[0])?), args[1])
        } else {
            (None, args[0])
        };
        let Expr::MatrixSelector(ms) = m else {
            return Err(err(format!("{name}: expected a range vector selector")));
        };
        return eval_range_fn(ctx, f, ms, q.as_deref()).map(Val::Vector);
    }
    let n = ctx.n;
    let vm = ctx.is_vm();
    // VictoriaMetrics keeps `__name__` through these (`transformFuncsKeepMetricName`).
    let name_of = |l: &Labels| {
        if vm && matches!(name, "ceil" | "floor" | "clamp" | "clamp_min" | "clamp_max") {
            Some(l.clone())
        } else {
            Some(ctx.drop_name(l))
        }
    };
    match name {
        "time" => Ok(Val::Scalar(
            (0..n).map(|i| ctx.time(i) as f64 / 1000.0).collect(),
        )),
        "vector" => {
            let s = eval_scalar(ctx, args[0])?;
            Ok(Val::Vector(vec![Series {
                labels: Labels::new(),
                values: s.into_iter().map(Some).collect(),
            }]))
        }
        "scalar" => {
            let v = eval_vector(ctx, args[0])?;
            Ok(Val::Scalar(
                (0..n)
                    .map(|i| {
                        let mut present = v.iter().filter_map(|s| s.values[i]);
                        match (present.next(), present.next()) {
                            (Some(x), None) => x,
                            _ => f64::NAN,
                        }
                    })
                    .collect(),
            ))
        }
        "abs" | "ceil" | "floor" => {
            let f: fn(f64) -> f64 = match name {
                "abs" => f64::abs,
                "ceil" => f64::ceil,
                _ => f64::floor,
            };
            let v = eval_vector(ctx, args[0])?;
            map_series(n, v, name_of, |_, x| Some(f(x))).map(Val::Vector)
        }
        "round" if vm => Err(QueryError {
            // transformRound rounds through VictoriaMetrics's decimal representation of the
            // `to_nearest` argument, half away from zero: not transcribed.
            message: "round() with VictoriaMetrics semantics is not implemented locally".into(),
            offset: None,
            unsupported: true,
        }),
        "round" => {
            let v = eval_vector(ctx, args[0])?;
            let to_nearest = match args.get(1) {
                Some(a) => eval_scalar(ctx, a)?,
                None => vec![1.0; n],
            };
            map_series(n, v, name_of, |i, x| {
                let inv = 1.0 / to_nearest[i];
                Some((x * inv + 0.5).floor() / inv)
            })
            .map(Val::Vector)
        }
        "clamp" => {
            let v = eval_vector(ctx, args[0])?;
            let lo = eval_scalar(ctx, args[1])?;
            let hi = eval_scalar(ctx, args[2])?;
            if vm {
                // transformClamp: no check of lo <= hi.
                return map_series(n, v, name_of, |i, x| {
                    Some(if x > hi[i] {
                        hi[i]
                    } else if x < lo[i] {
                        lo[i]
                    } else {
                        x
                    })
                })
                .map(Val::Vector);
            }
            map_series(n, v, name_of, |i, x| {
                (hi[i] >= lo[i] || hi[i].is_nan() || lo[i].is_nan())
                    .then(|| gomath::max(lo[i], gomath::min(hi[i], x)))
            })
            .map(Val::Vector)
        }
        "clamp_min" | "clamp_max" => {
            let v = eval_vector(ctx, args[0])?;
            let b = eval_scalar(ctx, args[1])?;
            let is_min = name == "clamp_min";
            map_series(n, v, name_of, |i, x| {
                Some(if is_min {
                    gomath::max(b[i], x)
                } else {
                    gomath::min(b[i], x)
                })
            })
            .map(Val::Vector)
        }
        "label_replace" => {
            let v = eval_vector(ctx, args[0])?;
            let dst = string_arg(args[1])?;
            let repl = string_arg(args[2])?;
            let src = string_arg(args[3])?;
            let re_s = string_arg(args[4])?;
            let re = crate::limits::bounded_regex(&format!("^(?:{re_s})$")).map_err(|why| {
                err(format!(
                    "invalid regular expression in label_replace(): {re_s}: {why}"
                ))
            })?;
            if !valid_label_name(dst) {
                return Err(err(format!(
                    "invalid destination label name in label_replace(): {dst}"
                )));
            }
            let keep_name = dst == "__name__";
            map_series(
                n,
                v,
                |l| {
                    let mut out = label_replace(l, &re, dst, repl, src);
                    if keep_name {
                        // 3.x: writing the name cancels its delayed drop.
                        out.remove(DROP_NAME_MARK);
                    }
                    Some(out)
                },
                |_, x| Some(x),
            )
            .map(Val::Vector)
        }
        "label_join" => {
            let v = eval_vector(ctx, args[0])?;
            let dst = string_arg(args[1])?;
            let sep = string_arg(args[2])?;
            let mut srcs = Vec::new();
            for a in &args[3..] {
                let s = string_arg(a)?;
                if !valid_label_name(s) {
                    return Err(err(format!(
                        "invalid source label name in label_join(): {s}"
                    )));
                }
                srcs.push(s);
            }
            if !valid_label_name(dst) {
                return Err(err(format!(
                    "invalid destination label name in label_join(): {dst}"
                )));
            }
            map_series(
                n,
                v,
                |l| {
                    let joined: Vec<&str> = srcs
                        .iter()
                        .map(|s| l.get(*s).map(String::as_str).unwrap_or(""))
                        .collect();
                    let joined = joined.join(sep);
                    let mut out = l.clone();
                    if joined.is_empty() {
                        out.remove(dst);
                    } else {
                        out.insert(dst.to_string(), joined);
                    }
                    if dst == "__name__" {
                        out.remove(DROP_NAME_MARK);
                    }
                    Some(out)
                },
                |_, x| Some(x),
            )
            .map(Val::Vector)
        }
        "absent" => {
            let v = eval_vector(ctx, args[0])?;
            let labels = absent_labels(args[0]);
            let values = (0..n)
                .map(|i| v.iter().all(|s| s.values[i].is_none()).then_some(1.0))
                .collect::<Vec<_>>();
            Ok(Val::Vector(if values.iter().any(Option::is_some) {
                vec![Series { labels, values }]
            } else {
                Vec::new()
            }))
        }
        "histogram_quantile" => {
            let q = eval_scalar(ctx, args[0])?;
            let v = eval_vector(ctx, args[1])?;
            if vm {
                return super::victoriametrics::histogram_quantile(n, &q, v).map(Val::Vector);
            }
            histogram_quantile(n, &q, v).map(Val::Vector)
        }
        _ => Err(err(format!("function {name} is not supported"))),
    }
}

/// `createLabelsForAbsentFunction`: the labels a selector pins with `=` (a label named
/// twice is dropped).
fn absent_labels(e: &Expr) -> Labels {
    let vs = match e {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::new(),
    };
    let mut out = Labels::new();
    let mut has = std::collections::HashSet::new();
    for m in &full_matchers(vs).matchers {
        if m.name == "__name__" {
            continue;
        }
        if matches!(m.op, MatchOp::Equal) && !has.contains(&m.name) {
            // Go's builder drops a label set to "".
            if m.value.is_empty() {
                out.remove(&m.name);
            } else {
                out.insert(m.name.clone(), m.value.clone());
            }
            has.insert(m.name.clone());
        } else {
            out.remove(&m.name);
        }
    }
    out
}

fn label_replace(l: &Labels, re: &regex::Regex, dst: &str, repl: &str, src: &str) -> Labels {
    let src_val = l.get(src).map(String::as_str).unwrap_or("");
    let Some(caps) = re.captures(src_val) else {
        return l.clone();
    };
    let res = expand(re, repl, src_val, &caps);
    let mut out = l.clone();
    out.remove(dst);
    if !res.is_empty() {
        out.insert(dst.to_string(), res);
    }
    out
}

/// Go's `regexp.Regexp.ExpandString`: `$name`/`${name}` with the longest name of letters,
/// digits and `_` (so `$1x` is the group named `1x`), `$$` for `$`, a malformed `$` kept.
pub(crate) fn expand(
    re: &regex::Regex,
    template: &str,
    src: &str,
    caps: &regex::Captures,
) -> String {
    let _ = src;
    let mut dst = String::new();
    let mut t = template;
    while let Some(pos) = t.find('$') {
        dst.push_str(&t[..pos]);
        t = &t[pos + 1..];
        if let Some(rest) = t.strip_prefix('$') {
            dst.push('$');
            t = rest;
            continue;
        }
        let Some((name, num, rest)) = extract(t) else {
            dst.push('$');
            continue;
        };
        t = rest;
        let m = match num {
            Some(i) => caps.get(i),
            None => re
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        };
        if let Some(m) = m {
            dst.push_str(m.as_str());
        }
    }
    dst.push_str(t);
    dst
}

/// Go's `extract`: the name after a `$`, its group number if it is one, and the rest.
fn extract(s: &str) -> Option<(&str, Option<usize>, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let mut rest = &body[end..];
    if brace {
        rest = rest.strip_prefix('}')?;
    }
    let mut num: Option<usize> = Some(0);
    for b in name.bytes() {
        match num {
            Some(x) if b.is_ascii_digit() && x < 100_000_000 => {
                num = Some(x * 10 + (b - b'0') as usize)
            }
            _ => {
                num = None;
                break;
            }
        }
    }
    if name.starts_with('0') && name.len() > 1 {
        num = None;
    }
    Some((name, num, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_replace_expands_like_go() {
        let re = regex::Regex::new("^(?:(?P<a>[a-z]+)-(\\d+))$").unwrap();
        let l = labels(&[("src", "abc-12")]);
        let r = |repl: &str| {
            label_replace(&l, &re, "dst", repl, "src")
                .get("dst")
                .cloned()
        };
        assert_eq!(r("$1"), Some("abc".into()));
        assert_eq!(r("${2}x"), Some("12x".into()));
        assert_eq!(
            r("$2x"),
            None,
            "$2x names the group `2x`, which does not exist"
        );
        assert_eq!(r("$a/$$/$"), Some("abc/$/$".into()));
        assert_eq!(r("${a"), Some("${a".into()));
        assert_eq!(r("$02"), None, "leading zero: a name, not a number");
        // No match: labels unchanged; empty result deletes the label.
        let l2 = labels(&[("src", "zzz"), ("dst", "keep")]);
        assert_eq!(label_replace(&l2, &re, "dst", "$1", "src"), l2);
        let re2 = regex::Regex::new("^(?:.*)$").unwrap();
        assert_eq!(
            label_replace(&l2, &re2, "dst", "", "src"),
            labels(&[("src", "zzz")])
        );
    }
}
