//! Label values satisfying a selector's matchers (and violating another's), so a world's
//! series are read by exactly the selectors meant: the hard part of building a world from
//! arbitrary specs, kept apart from the worlds themselves.

use super::series::{Series, holds, selects};
use crate::spec::selector::{MatchOp, Matcher, Selector};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};

/// Strings a regex matches, one per top-level alternative, built from its literal parts
/// (`5..` -> `5xx`, `set|cas` -> `set`, `cas`); every candidate is checked afterwards.
pub(super) fn regex_examples(re: &str) -> Vec<String> {
    let chars: Vec<char> = re.chars().collect();
    split_alternatives(&chars)
        .into_iter()
        .filter_map(render)
        .collect()
}

pub(super) fn split_alternatives(chars: &[char]) -> Vec<&[char]> {
    let mut out = Vec::new();
    let (mut depth, mut start, mut i, mut in_class) = (0usize, 0, 0, false);
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth = depth.saturating_sub(1),
            '|' if !in_class && depth == 0 => {
                out.push(&chars[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&chars[start.min(chars.len())..]);
    out
}

/// Index just past the group or class opened at `open`.
pub(super) fn closing(chars: &[char], open: usize) -> Option<usize> {
    let (mut depth, mut i, mut in_class) = (0usize, open, false);
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => {
                in_class = true;
                // `[]...]` and `[^]...]`: a leading `]` is a literal.
                if chars.get(i + 1) == Some(&'^') {
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    i += 1;
                }
                if chars[open] == '[' {
                    depth += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                if chars[open] == '[' {
                    return Some(i + 1);
                }
            }
            '(' if !in_class => depth += 1,
            ')' if !in_class => {
                depth = depth.saturating_sub(1);
                if depth == 0 && chars[open] == '(' {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

pub(super) fn render(chars: &[char]) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let (atom, next) = match chars[i] {
            '(' => {
                let end = closing(chars, i)?;
                let mut inner = &chars[i + 1..end - 1];
                if inner.first() == Some(&'?') {
                    // (?:...), (?i:...), (?P<name>...), (?i)
                    let colon = inner.iter().position(|c| *c == ':' || *c == '>');
                    inner = match colon {
                        Some(p) => &inner[p + 1..],
                        None => &[],
                    };
                }
                let first = split_alternatives(inner).into_iter().next().unwrap_or(&[]);
                (render(first)?, end)
            }
            '[' => {
                let end = closing(chars, i)?;
                let class: String = chars[i..end].iter().collect();
                let re = Regex::new(&format!("^{class}$")).ok()?;
                let literal = chars[i + 1..end - 1].iter().copied().filter(|c| *c != '^');
                let pick = literal
                    .chain("ax0_5-1.A".chars())
                    .find(|c| re.is_match(&c.to_string()))?;
                (pick.to_string(), end)
            }
            '\\' => {
                let c = *chars.get(i + 1)?;
                let atom = match c {
                    'd' => '0',
                    'w' | 'D' | 'S' => 'a',
                    's' => ' ',
                    'W' => '-',
                    c if c.is_ascii_alphanumeric() => return None,
                    c => c,
                };
                (atom.to_string(), i + 2)
            }
            '.' => ("x".to_string(), i + 1),
            '^' | '$' => (String::new(), i + 1),
            c => (c.to_string(), i + 1),
        };
        let (times, after) = quantifier(chars, next)?;
        out.push_str(&atom.repeat(times));
        i = after;
    }
    Some(out)
}

/// The minimum repetition of the quantifier at `i` (1 without one) and the index after it.
pub(super) fn quantifier(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let (times, mut next) = match chars.get(i) {
        Some('*') | Some('?') => (0, i + 1),
        Some('+') => (1, i + 1),
        Some('{') => {
            let end = chars[i..].iter().position(|c| *c == '}')? + i;
            let body: String = chars[i + 1..end].iter().collect();
            let min = body.split(',').next()?.trim().parse().ok()?;
            (min, end + 1)
        }
        _ => return Some((1, i)),
    };
    if chars.get(next) == Some(&'?') {
        next += 1;
    }
    Some((times, next))
}

pub(super) const VALUE_POOL: [&str; 10] = [
    "",
    "burnrate",
    "x",
    "0",
    "1",
    "200",
    "500",
    "ok",
    "error",
    "unit-test",
];

/// Label values satisfying every matcher (`""`: the label is absent), or `None`.
pub(super) fn solve(matchers: &[Matcher]) -> Option<BTreeMap<String, String>> {
    let names: BTreeSet<&str> = matchers.iter().map(|m| m.label.as_str()).collect();
    let mut out = BTreeMap::new();
    for name in names {
        let on_label: Vec<&Matcher> = matchers.iter().filter(|m| m.label == name).collect();
        let mut candidates: Vec<String> = Vec::new();
        for m in &on_label {
            match m.op {
                MatchOp::Equal => candidates.push(m.value.clone()),
                MatchOp::RegexMatch => candidates.extend(regex_examples(&m.value)),
                MatchOp::NotEqual | MatchOp::RegexNoMatch => {}
            }
        }
        candidates.extend(VALUE_POOL.iter().map(|s| s.to_string()));
        candidates.extend(on_label.iter().map(|m| format!("{}-unit-test", m.value)));
        let value = candidates
            .into_iter()
            .filter(|v| name != "__name__" || !v.is_empty())
            .find(|v| on_label.iter().all(|m| holds(m, v)))?;
        if !value.is_empty() {
            out.insert(name.to_string(), value);
        }
    }
    Some(out)
}

pub(super) fn negate(m: &Matcher) -> Matcher {
    let op = match m.op {
        MatchOp::Equal => MatchOp::NotEqual,
        MatchOp::NotEqual => MatchOp::Equal,
        MatchOp::RegexMatch => MatchOp::RegexNoMatch,
        MatchOp::RegexNoMatch => MatchOp::RegexMatch,
    };
    Matcher::new(m.label.clone(), op, m.value.clone())
}

/// All of a selector's conditions as matchers (the metric name as `__name__="..."`).
pub(super) fn conditions(sel: &Selector) -> Vec<Matcher> {
    sel.metric
        .iter()
        .map(|m| Matcher::new("__name__", MatchOp::Equal, m.clone()))
        .chain(sel.matchers.iter().cloned())
        .collect()
}

/// A series satisfying `must` and, if given, failing at least one condition of `must_not`.
pub(super) fn series_for(
    must: &[&Selector],
    must_not: Option<&Selector>,
    inc: f64,
) -> Option<Series> {
    let base: Vec<Matcher> = must.iter().flat_map(|s| conditions(s)).collect();
    let attempts: Vec<Vec<Matcher>> = match must_not {
        None => vec![base.clone()],
        Some(not) => conditions(not)
            .iter()
            .map(|m| base.iter().cloned().chain([negate(m)]).collect())
            .collect(),
    };
    attempts.into_iter().find_map(|matchers| {
        let mut labels = solve(&matchers)?;
        let name = labels.remove("__name__")?;
        if !name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return None;
        }
        let s = Series { name, labels, inc };
        (must.iter().all(|sel| selects(sel, &s)) && must_not.is_none_or(|n| !selects(n, &s)))
            .then_some(s)
    })
}
