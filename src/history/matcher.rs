//! Which series a selector picks, decided on their labels: the local engines (backtest over
//! a file, the daemon's incremental history) select series the way PromQL does.

use crate::spec::selector::{MatchOp, Selector};
use regex::Regex;
use std::collections::BTreeMap;

/// A selector compiled for matching series labels (regexes anchored, as PromQL does).
pub struct SeriesMatcher {
    matchers: Vec<(String, MatchOp, String, Option<Regex>)>,
}

impl SeriesMatcher {
    pub fn new(sel: &Selector) -> Result<SeriesMatcher, String> {
        let mut matchers = Vec::new();
        if let Some(name) = &sel.metric {
            matchers.push(("__name__".to_string(), MatchOp::Equal, name.clone(), None));
        }
        for m in &sel.matchers {
            let regex = match m.op {
                MatchOp::RegexMatch | MatchOp::RegexNoMatch => Some(
                    Regex::new(&format!("^(?:{})$", m.value))
                        .map_err(|e| format!("invalid regex {:?}: {e}", m.value))?,
                ),
                _ => None,
            };
            matchers.push((m.label.clone(), m.op, m.value.clone(), regex));
        }
        Ok(SeriesMatcher { matchers })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|(label, op, value, regex)| {
            let actual = labels.get(label).map(String::as_str).unwrap_or("");
            match op {
                MatchOp::Equal => actual == value,
                MatchOp::NotEqual => actual != value,
                MatchOp::RegexMatch => regex.as_ref().is_some_and(|r| r.is_match(actual)),
                MatchOp::RegexNoMatch => regex.as_ref().is_some_and(|r| !r.is_match(actual)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_promql() {
        let sel =
            crate::spec::selector::parse_selector(r#"req_total{code=~"5..",job!="x",zone=""}"#)
                .unwrap();
        let m = SeriesMatcher::new(&sel).unwrap();
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(m.matches(&labels(&[
            ("__name__", "req_total"),
            ("code", "503"),
            ("job", "a")
        ])));
        assert!(
            !m.matches(&labels(&[
                ("__name__", "req_total"),
                ("code", "5030"),
                ("job", "a")
            ])),
            "anchored"
        );
        assert!(!m.matches(&labels(&[
            ("__name__", "req_total"),
            ("code", "503"),
            ("job", "x")
        ])));
        assert!(!m.matches(&labels(&[
            ("__name__", "req_total"),
            ("code", "503"),
            ("zone", "eu")
        ])));
    }
}
