//! The synthetic series of a promtool test world, and which of them a selector reads: the
//! same label matching (anchored regexes) the rules get from Prometheus.

use crate::spec::selector::{MatchOp, Matcher, Selector};
use regex::Regex;
use std::collections::BTreeMap;

/// One synthetic series: a counter growing by `inc` every input interval from 0.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Series {
    pub(super) name: String,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) inc: f64,
}

impl Series {
    pub(super) fn promql(&self) -> String {
        Selector {
            metric: Some(self.name.clone()),
            matchers: self
                .labels
                .iter()
                .map(|(k, v)| Matcher::new(k.clone(), MatchOp::Equal, v.clone()))
                .collect(),
        }
        .to_promql()
    }

    pub(super) fn label(&self, name: &str) -> &str {
        if name == "__name__" {
            return &self.name;
        }
        self.labels.get(name).map(String::as_str).unwrap_or("")
    }
}

pub(super) fn anchored(re: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{re})$")).ok()
}

pub(super) fn holds(m: &Matcher, value: &str) -> bool {
    match m.op {
        MatchOp::Equal => value == m.value,
        MatchOp::NotEqual => value != m.value,
        MatchOp::RegexMatch => anchored(&m.value).is_some_and(|r| r.is_match(value)),
        MatchOp::RegexNoMatch => anchored(&m.value).is_some_and(|r| !r.is_match(value)),
    }
}

pub(super) fn selects(sel: &Selector, s: &Series) -> bool {
    sel.metric.as_ref().is_none_or(|m| *m == s.name)
        && sel.matchers.iter().all(|m| holds(m, s.label(&m.label)))
}

/// `sum(...)` of the increments of the series `sel` selects; `None` when it selects none.
pub(super) fn sum(world: &[Series], sel: &Selector) -> Option<f64> {
    world
        .iter()
        .filter(|s| selects(sel, s))
        .map(|s| s.inc)
        .reduce(|a, b| a + b)
}

/// The increments of the series `sel` selects that are not 0.
pub(super) fn moving(world: &[Series], sel: &Selector) -> Vec<f64> {
    world
        .iter()
        .filter(|s| selects(sel, s) && s.inc != 0.0)
        .map(|s| s.inc)
        .collect()
}
