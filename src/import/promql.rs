//! Turning a foreign SLI query into what burnrate measures for each window.
//!
//! burnrate's error SLI is `sum(BAD rate over w) / sum(TOTAL rate over w)` for every window
//! `w` of the matrix, so an imported query must either be a counter selector (burnrate wraps
//! it as `sum(rate(SEL[w]))`) or PromQL with the `{{.window}}` placeholder (Sloth's
//! convention). Sloth queries already use the placeholder; OpenSLO queries are plain PromQL,
//! usually a counter selector, `sum(SELECTOR)`, or an expression with a fixed range such as
//! `[5m]`. This module decides which, without guessing: anything else is an error.

use crate::duration::PromDuration;
use crate::spec::WINDOW_PLACEHOLDER;
use crate::spec::selector::parse_selector;
use regex::Regex;
use std::sync::OnceLock;

/// How a query is measured per window.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    /// A counter selector: `sum(rate(SEL[w]))`.
    Selector(String),
    /// PromQL with `{{.window}}`, yielding a rate.
    Query(String),
}

impl Shape {
    /// The shape as a query with the window placeholder.
    pub(crate) fn into_query(self) -> String {
        match self {
            Shape::Selector(sel) => format!("sum(rate({sel}[{WINDOW_PLACEHOLDER}]))"),
            Shape::Query(q) => q,
        }
    }
}

/// Rewrites the spellings of the window variable Go templates accept (`{{ .window }}`) to
/// `{{.window}}`; any other template construct is an error (burnrate does not run templates).
pub(crate) fn normalize_template(text: &str) -> Result<String, String> {
    static WINDOW: OnceLock<Regex> = OnceLock::new();
    let re = WINDOW.get_or_init(|| Regex::new(r"\{\{-?\s*\.window\s*-?\}\}").expect("valid regex"));
    let out = re.replace_all(text, WINDOW_PLACEHOLDER).into_owned();
    let rest = out.replace(WINDOW_PLACEHOLDER, "");
    if rest.contains("{{") {
        return Err(format!(
            "uses Go template syntax other than {WINDOW_PLACEHOLDER}, which burnrate cannot evaluate"
        ));
    }
    Ok(out)
}

/// A query over counters, as a per-window rate. `counter: Some(false)` (an OpenSLO gauge)
/// rules out wrapping selectors in `rate()`. The note, if any, says what was rewritten.
pub(crate) fn counter_shape(
    text: &str,
    counter: Option<bool>,
) -> Result<(Shape, Option<String>), String> {
    let text = text.trim();
    let normalized = normalize_template(text)?;
    if normalized.contains(WINDOW_PLACEHOLDER) {
        return Ok((query_shape(normalized), None));
    }
    let selector = if parse_selector(text).is_ok() {
        Some(text.to_string())
    } else {
        summed_selector(text)
    };
    if let Some(sel) = selector {
        if counter == Some(false) {
            return Err(
                "ratioMetric.counter is false, but the query is a bare selector: burnrate takes \
                 rates of counters over each window and cannot turn a gauge into events"
                    .into(),
            );
        }
        return Ok((Shape::Selector(sel), None));
    }
    match rewrite_ranges(text)? {
        Some((query, note)) => Ok((query_shape(query), Some(note))),
        None => Err(format!(
            "cannot tell where the evaluation window goes in this query: write a counter \
             selector, sum(SELECTOR), a query with one range such as rate(x[5m]), or use \
             {WINDOW_PLACEHOLDER}"
        )),
    }
}

/// A query with the window placeholder, as a selector when it is just one's rate.
fn query_shape(query: String) -> Shape {
    match rate_selector(&query) {
        Some(sel) => Shape::Selector(sel),
        None => Shape::Query(query),
    }
}

/// A precomputed ratio (Sloth `raw`, OpenSLO `ratioMetric.raw`): it needs the window
/// placeholder or a range to rewrite; a bare ratio series has no window to evaluate.
pub(crate) fn ratio_query(text: &str) -> Result<(String, Option<String>), String> {
    let text = text.trim();
    let normalized = normalize_template(text)?;
    if normalized.contains(WINDOW_PLACEHOLDER) {
        return Ok((normalized, None));
    }
    match rewrite_ranges(text)? {
        Some((query, note)) => Ok((query, Some(note))),
        None => Err(format!(
            "a ratio without a range cannot be evaluated over burnrate's windows: write it with \
             {WINDOW_PLACEHOLDER} (e.g. avg_over_time(ratio[{WINDOW_PLACEHOLDER}]))"
        )),
    }
}

/// `sum(q)`, unless `q` is already one `sum(...)` call.
pub(crate) fn summed(q: &str) -> String {
    let t = q.trim();
    if let Some(rest) = t.strip_prefix("sum")
        && let Some(open) = rest.find(|c: char| !c.is_whitespace())
        && rest[open..].starts_with('(')
    {
        let start = t.len() - rest.len() + open;
        if matching_paren(t, start) == Some(t.len() - 1) {
            return t.to_string();
        }
    }
    format!("sum({t})")
}

/// OpenSLO good/total as burnrate's bad: `total - good`. A good series that does not exist
/// while the total has traffic means no good events at all.
pub(crate) fn bad_from_good(good: &str, total: &str) -> String {
    format!("{} - ({} or vector(0))", summed(total), summed(good))
}

/// The total that turns a ratio into burnrate's bad/total: 1 where the ratio is a number,
/// 0 where it is NaN (0/0: no traffic), absent where the ratio is absent.
pub(crate) fn ratio_total(ratio: &str) -> String {
    format!("({ratio}) == bool ({ratio})")
}

/// Which chars of `text` are code (not inside a string literal or a `#` comment).
fn code_mask(text: &str) -> Vec<bool> {
    let mut mask = Vec::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut comment = false;
    for c in text.chars() {
        if comment {
            mask.push(false);
            if c == '\n' {
                comment = false;
            }
            continue;
        }
        match quote {
            Some(q) => {
                mask.push(false);
                if escaped {
                    escaped = false;
                } else if c == '\\' && q != '`' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' | '`' => {
                    quote = Some(c);
                    mask.push(false);
                }
                '#' => {
                    comment = true;
                    mask.push(false);
                }
                _ => mask.push(true),
            },
        }
    }
    mask
}

/// Byte index of the `)` matching the `(` at byte `open`, skipping strings.
fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let mask = code_mask(text);
    let mut depth = 0usize;
    for (i, (at, c)) in text.char_indices().enumerate() {
        if at < open || !mask[i] {
            continue;
        }
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(at);
                }
            }
            _ => {}
        }
    }
    None
}

/// The argument of an outer `sum(...)`, `sum by (l) (...)` or `sum(...) by (l)`.
fn sum_argument(text: &str) -> Option<&str> {
    static GROUPING: OnceLock<Regex> = OnceLock::new();
    let grouping = GROUPING.get_or_init(|| {
        Regex::new(r"^\s*(?:(?:by|without)\s*\([^()]*\)\s*)?").expect("valid regex")
    });
    let t = text.trim();
    let rest = t.strip_prefix("sum")?;
    let skip = grouping.find(rest).map_or(0, |m| m.end());
    let open = t.len() - rest.len() + skip;
    if !t[open..].starts_with('(') {
        return None;
    }
    let close = matching_paren(t, open)?;
    let tail = &t[close + 1..];
    let tail_ok =
        tail.trim().is_empty() || grouping.find(tail).is_some_and(|m| m.end() == tail.len());
    tail_ok.then(|| &t[open + 1..close])
}

/// The argument of `name(...)` when the call is the whole text.
fn call_argument<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let t = text.trim();
    let rest = t.strip_prefix(name)?.trim_start();
    let open = t.len() - rest.len();
    (rest.starts_with('(') && matching_paren(t, open) == Some(t.len() - 1))
        .then(|| &t[open + 1..t.len() - 1])
}

/// `sum(SEL)` around a counter selector (any grouping: burnrate sums every query into one
/// series): the selector.
fn summed_selector(text: &str) -> Option<String> {
    let inner = sum_argument(text)?.trim();
    parse_selector(inner).is_ok().then(|| inner.to_string())
}

/// `sum(rate(SEL[{{.window}}]))` is exactly what burnrate measures for a `bad`/`total`
/// selector: the selector (so the SLI also works with backtests from history files).
pub(crate) fn rate_selector(query: &str) -> Option<String> {
    let arg = call_argument(sum_argument(query)?, "rate")?.trim();
    let (sel, range) = arg.strip_suffix(']')?.rsplit_once('[')?;
    let sel = sel.trim();
    (range.trim() == WINDOW_PLACEHOLDER && parse_selector(sel).is_ok()).then(|| sel.to_string())
}

/// Replaces the fixed range of every range selector (`[5m]`) with `{{.window}}` and reads
/// `increase()` as `rate()` (burnrate's queries yield per-second rates). `None` when the
/// query has no range. Errors: subqueries, several different ranges, and functions whose
/// result does not depend on the range length the way a rate does.
fn rewrite_ranges(text: &str) -> Result<Option<(String, String)>, String> {
    let mask = code_mask(text);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut ranges: Vec<String> = Vec::new();
    let mut renamed_increase = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !mask[i] {
            out.push(c);
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && mask[i]
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let is_call = j < chars.len() && chars[j] == '(';
            match word.as_str() {
                "increase" if is_call => {
                    out.push_str("rate");
                    renamed_increase = true;
                }
                "irate" | "idelta" | "resets" | "changes" if is_call => {
                    return Err(format!(
                        "{word}() does not depend on its range the way a rate does, so it cannot \
                         be evaluated over burnrate's windows"
                    ));
                }
                _ => out.push_str(&word),
            }
            continue;
        }
        if c == '[' {
            let close = (i + 1..chars.len()).find(|&k| mask[k] && chars[k] == ']');
            let Some(close) = close else {
                return Err("'[' is never closed".into());
            };
            let inner: String = chars[i + 1..close].iter().collect();
            let inner = inner.trim().to_string();
            if inner.contains(':') {
                return Err(format!(
                    "subquery [{inner}]: burnrate cannot map a subquery onto its windows"
                ));
            }
            PromDuration::parse(&inner).map_err(|e| format!("range [{inner}]: {e}"))?;
            if !ranges.contains(&inner) {
                ranges.push(inner);
            }
            out.push('[');
            out.push_str(WINDOW_PLACEHOLDER);
            out.push(']');
            i = close + 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    match ranges.len() {
        0 => Ok(None),
        1 => {
            let mut note = format!(
                "its fixed range [{}] is replaced by each evaluation window [{WINDOW_PLACEHOLDER}]",
                ranges[0]
            );
            if renamed_increase {
                note.push_str(", and increase() by rate()");
            }
            Ok(Some((out, note)))
        }
        _ => Err(format!(
            "mixes ranges {}: cannot tell which one is the SLI window",
            ranges
                .iter()
                .map(|r| format!("[{r}]"))
                .collect::<Vec<_>>()
                .join(" and ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_placeholders_are_normalized() {
        assert_eq!(
            normalize_template("rate(x[{{ .window }}])").unwrap(),
            "rate(x[{{.window}}])"
        );
        assert!(normalize_template("rate(x[{{.window}}]) * {{.other}}").is_err());
    }

    #[test]
    fn selectors_and_summed_selectors() {
        assert_eq!(
            counter_shape("http_requests_total{code=~\"5..\"}", None)
                .unwrap()
                .0,
            Shape::Selector("http_requests_total{code=~\"5..\"}".into())
        );
        assert_eq!(
            counter_shape("sum by (code) (x{a=\"(b)\"})", Some(true))
                .unwrap()
                .0,
            Shape::Selector("x{a=\"(b)\"}".into())
        );
        assert_eq!(
            counter_shape("sum(x) by (job)", None).unwrap().0,
            Shape::Selector("x".into())
        );
        assert!(counter_shape("x", Some(false)).is_err());
        assert!(counter_shape("sum(x) / sum(y)", None).is_err());
    }

    #[test]
    fn fixed_ranges_become_the_window() {
        let (shape, note) = counter_shape("sum(increase(x{code=~\"[45]..\"}[5m]))", None).unwrap();
        assert_eq!(shape, Shape::Selector("x{code=~\"[45]..\"}".into()));
        assert!(note.unwrap().contains("[5m]"));
        let (shape, _) =
            counter_shape("sum(increase(t[5m])) - sum(increase(g[5m]))", None).unwrap();
        assert_eq!(
            shape,
            Shape::Query("sum(rate(t[{{.window}}])) - sum(rate(g[{{.window}}]))".into())
        );
        assert!(counter_shape("sum(rate(x[5m])) / sum(rate(y[1h]))", None).is_err());
        assert!(counter_shape("max_over_time(rate(x[5m])[1h:1m])", None).is_err());
        assert!(counter_shape("sum(irate(x[5m]))", None).is_err());
    }

    #[test]
    fn rates_of_one_selector_become_selectors() {
        assert_eq!(
            rate_selector("sum(rate(x{code=~\"[45]..\"}[{{.window}}]))").as_deref(),
            Some("x{code=~\"[45]..\"}")
        );
        assert_eq!(
            rate_selector(" sum by (job) ( rate( x [ {{.window}} ] ) ) ").as_deref(),
            Some("x")
        );
        assert_eq!(rate_selector("sum(rate(x[{{.window}}])) / 2"), None);
        assert_eq!(rate_selector("sum(rate(x[5m]))"), None);
        assert_eq!(rate_selector("sum(increase(x[{{.window}}]))"), None);
        assert_eq!(
            counter_shape("sum(rate(x[5m]))", None).unwrap().0,
            Shape::Selector("x".into())
        );
    }

    #[test]
    fn sums_and_differences() {
        assert_eq!(summed("sum(rate(x[1m]))"), "sum(rate(x[1m]))");
        assert_eq!(summed("sum(a) / sum(b)"), "sum(sum(a) / sum(b))");
        assert_eq!(
            bad_from_good("sum(rate(g[{{.window}}]))", "sum(rate(t[{{.window}}]))"),
            "sum(rate(t[{{.window}}])) - (sum(rate(g[{{.window}}])) or vector(0))"
        );
    }
}
