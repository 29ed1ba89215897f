//! Which raw-sample requests keep a set of selectors up to date.
//!
//! A range selector cannot be joined with `or`, so fetching raw samples one selector at a
//! time would cost one request per selector per cycle. Selectors that differ only in the
//! values of their `=` matchers (`http_requests_total{service="a"}`,
//! `http_requests_total{service="b"}`, `latency_count{service="a"}`, ...) are fetched together
//! with one selector that matches all of them (`{__name__=~"...",service=~"a|b"}`); each
//! member then picks its own series locally with its exact matchers. The merged selector
//! matches a superset, never fewer series.

use crate::spec::selector::{MatchOp, Matcher, Selector};
use std::collections::BTreeMap;

/// Members per merged selector at most, so no request grows without bound.
pub(crate) const MAX_MEMBERS_PER_FETCH: usize = 200;

/// One raw-sample request per cycle.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FetchGroup {
    /// PromQL selector matching every member's series.
    pub(crate) selector: String,
    /// How far back the members' windows reach.
    pub(crate) horizon_ms: i64,
    /// Positions of the member selectors in the planner's input.
    pub(crate) members: Vec<usize>,
}

/// What makes selectors mergeable: the same horizon, the same labels under `=`, and the same
/// other matchers verbatim.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct MergeKey {
    horizon_ms: i64,
    equal_labels: Vec<String>,
    others: Vec<(String, &'static str, String)>,
    /// Set for a selector that cannot be merged (a label matched twice): its own group.
    alone: Option<usize>,
}

/// The `=` matchers of a selector, the metric name as `__name__`, sorted by label.
pub(crate) fn equal_matchers(sel: &Selector) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = sel
        .metric
        .iter()
        .map(|m| ("__name__".to_string(), m.clone()))
        .collect();
    out.extend(
        sel.matchers
            .iter()
            .filter(|m| m.op == MatchOp::Equal)
            .map(|m| (m.label.clone(), m.value.clone())),
    );
    out.sort();
    out
}

fn merge_key(i: usize, sel: &Selector, horizon_ms: i64) -> MergeKey {
    let equal = equal_matchers(sel);
    let mut others: Vec<(String, &'static str, String)> = sel
        .matchers
        .iter()
        .filter(|m| m.op != MatchOp::Equal)
        .map(|m| (m.label.clone(), m.op.as_str(), m.value.clone()))
        .collect();
    others.sort();
    let mut labels: Vec<&str> = equal
        .iter()
        .map(|(l, _)| l.as_str())
        .chain(others.iter().map(|(l, _, _)| l.as_str()))
        .collect();
    labels.sort_unstable();
    let repeated = labels.windows(2).any(|w| w[0] == w[1]);
    MergeKey {
        horizon_ms,
        equal_labels: equal.iter().map(|(l, _)| l.clone()).collect(),
        others,
        alone: repeated.then_some(i),
    }
}

/// Groups `selectors` (each with the longest window it is measured over) into fetches.
pub(crate) fn plan_fetches(selectors: &[(Selector, i64)]) -> Vec<FetchGroup> {
    let mut by_key: BTreeMap<MergeKey, Vec<usize>> = BTreeMap::new();
    for (i, (sel, horizon_ms)) in selectors.iter().enumerate() {
        by_key
            .entry(merge_key(i, sel, *horizon_ms))
            .or_default()
            .push(i);
    }
    let mut groups = Vec::new();
    for (key, members) in by_key {
        for chunk in members.chunks(MAX_MEMBERS_PER_FETCH) {
            let selector = if key.alone.is_some() || chunk.len() == 1 {
                selectors[chunk[0]].0.to_promql()
            } else {
                merged_selector(chunk.iter().map(|&i| &selectors[i].0)).to_promql()
            };
            groups.push(FetchGroup {
                selector,
                horizon_ms: key.horizon_ms,
                members: chunk.to_vec(),
            });
        }
    }
    groups
}

/// One selector matching every series any of `members` matches (they share a merge key).
pub(crate) fn merged_selector<'a>(members: impl Iterator<Item = &'a Selector>) -> Selector {
    let members: Vec<&Selector> = members.collect();
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for sel in &members {
        for (label, value) in equal_matchers(sel) {
            let v = values.entry(label).or_default();
            if !v.contains(&value) {
                v.push(value);
            }
        }
    }
    let mut matchers: Vec<Matcher> = values
        .into_iter()
        .map(|(label, values)| {
            if let [only] = values.as_slice() {
                Matcher::new(label, MatchOp::Equal, only.clone())
            } else {
                let alternatives: Vec<String> = values.iter().map(|v| regex::escape(v)).collect();
                Matcher::new(label, MatchOp::RegexMatch, alternatives.join("|"))
            }
        })
        .collect();
    matchers.extend(
        members[0]
            .matchers
            .iter()
            .filter(|m| m.op != MatchOp::Equal)
            .cloned(),
    );
    Selector {
        metric: None,
        matchers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::{MemStorage, Query, SeriesSamples, Storage};
    use crate::spec::selector::parse_selector;

    fn plan(texts: &[(&str, i64)]) -> Vec<FetchGroup> {
        let sels: Vec<(Selector, i64)> = texts
            .iter()
            .map(|(t, h)| (parse_selector(t).unwrap(), *h))
            .collect();
        plan_fetches(&sels)
    }

    #[test]
    fn merges_selectors_that_differ_in_equal_values() {
        let groups = plan(&[
            (r#"req_total{service="a",code=~"5.."}"#, 100),
            (r#"req_total{service="b.c",code=~"5.."}"#, 100),
            (r#"req_total{service="a"}"#, 100),
            (r#"lat_count{service="a"}"#, 100),
            (r#"req_total{service="a"}"#, 200),
            (r#"req_total{service="a",service!="x"}"#, 100),
        ]);
        let selectors: Vec<&str> = groups.iter().map(|g| g.selector.as_str()).collect();
        assert_eq!(
            selectors,
            [
                r#"{__name__=~"req_total|lat_count",service="a"}"#,
                r#"{__name__="req_total",service=~"a|b\\.c",code=~"5.."}"#,
                r#"req_total{service="a",service!="x"}"#,
                r#"req_total{service="a"}"#,
            ]
        );
        assert_eq!(groups[0].members, [2, 3]);
        assert_eq!(groups[1].members, [0, 1]);
        assert_eq!(groups[2].members, [5]);
        assert_eq!(groups[3].horizon_ms, 200);
    }

    #[test]
    fn a_merged_selector_matches_every_member_series() {
        let members = [
            r#"m{a="x",b="1"}"#,
            r#"m{a="y",b="2"}"#,
            r#"n{a="(",b="1"}"#,
        ];
        let groups = plan(&members.map(|m| (m, 1)));
        assert_eq!(groups.len(), 1);
        let merged = Query::parse(&groups[0].selector).unwrap().selectors();
        let mut storage = MemStorage::new();
        for (name, a, b) in [("m", "x", "1"), ("m", "y", "2"), ("n", "(", "1")] {
            let labels = [("__name__", name), ("a", a), ("b", b)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            storage.push_series(labels, SeriesSamples::new());
        }
        assert_eq!(storage.select(&merged[0].matchers).len(), 3);
    }
}
