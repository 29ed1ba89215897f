//! What measuring one SLO takes, derived once per SLO: per dimension, the tagged query every
//! path evaluates, whether burnrate's own evaluator can answer it, and which raw samples that
//! reads (selectors and how far back they reach).
//!
//! Selector SLIs and raw-PromQL SLIs are planned alike: both become the same query text
//! (`measure::query`), and that text is what is parsed for local evaluation. A query outside
//! the evaluator's subset keeps its text (the backend can answer it) and the reason it is
//! not local.
//!
//! A dimension can also be measured in two parts ([`WindowSplit`]): the daemon's history,
//! held within a memory budget, may answer only the shorter windows while the backend
//! answers the longest; the two measurements merge into the one evaluation sees.

use super::query::{breakdown_labels, breakdown_query, dimension_query};
use crate::duration::PromDuration;
use crate::engine::{GroupLabels, Grouped, Measurement};
use crate::promql::{Flavor, Query, QueryError, SelectorNeed};
use crate::spec::{Dimension, SloSpec};
use std::collections::BTreeMap;

/// One dimension's query.
#[derive(Debug, Clone)]
pub(crate) struct DimensionQuery {
    pub(crate) dimension: Dimension,
    /// The windows it measures; its answer is aligned with them.
    pub(crate) windows: Vec<PromDuration>,
    /// The tagged instant query of those windows, as `check` sends it.
    pub(crate) text: String,
    /// The same text parsed for local evaluation, or why it cannot be evaluated locally.
    pub(crate) local: Result<Query, QueryError>,
    /// The SLO's `group_by`: how its answer splits into groups.
    pub(crate) group_by: Vec<String>,
}

impl DimensionQuery {
    pub(crate) fn new(slo: &SloSpec, dimension: Dimension, windows: &[PromDuration]) -> Self {
        let text = dimension_query(slo, dimension, windows);
        let local = Query::parse(&text);
        DimensionQuery {
            dimension,
            windows: windows.to_vec(),
            text,
            local,
            group_by: slo.group_by.clone(),
        }
    }

    /// The query of a dimension's breakdown by `labels` over `window` (`engine::explain`):
    /// its answer splits by the group labels and the breakdown labels.
    pub(crate) fn breakdown(
        slo: &SloSpec,
        dimension: Dimension,
        window: &PromDuration,
        labels: &[String],
    ) -> Self {
        let text = breakdown_query(slo, dimension, window, labels);
        DimensionQuery {
            dimension,
            windows: vec![window.clone()],
            local: Query::parse(&text),
            text,
            group_by: breakdown_labels(slo, labels),
        }
    }
}

/// The queries of every dimension an SLO has, in `SloSpec::dimensions` order.
#[derive(Debug, Clone)]
pub struct MeasurePlan {
    dims: Vec<DimensionQuery>,
}

impl MeasurePlan {
    pub fn new(slo: &SloSpec) -> MeasurePlan {
        MeasurePlan {
            dims: slo
                .dimensions()
                .map(|dimension| {
                    DimensionQuery::new(slo, dimension, slo.measured_windows(dimension))
                })
                .collect(),
        }
    }

    pub(crate) fn dims(&self) -> &[DimensionQuery] {
        &self.dims
    }

    /// Why some dimension cannot be evaluated locally (the first one), if any.
    pub fn not_local(&self) -> Option<&QueryError> {
        self.dims.iter().find_map(|d| d.local.as_ref().err())
    }

    /// Every selector the local queries read under `flavor`'s instant-query semantics, each
    /// once with its longest reach.
    pub(crate) fn selectors(&self, flavor: Flavor) -> Vec<SelectorNeed> {
        let mut out: Vec<SelectorNeed> = Vec::new();
        for query in self.dims.iter().filter_map(|d| d.local.as_ref().ok()) {
            for need in query.selectors_for(flavor, None) {
                match out.iter_mut().find(|n| n.matchers == need.matchers) {
                    Some(n) => n.reach_ms = n.reach_ms.max(need.reach_ms),
                    None => out.push(need),
                }
            }
        }
        out
    }
}

/// Which of a dimension's measured windows (`SloSpec::measured_windows`) one part answers;
/// the other part answers the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WindowSplit {
    /// Positions in the measured windows, increasing.
    local: Vec<usize>,
    windows: usize,
}

impl WindowSplit {
    /// Every window in the first part.
    pub(crate) fn all(windows: usize) -> WindowSplit {
        WindowSplit {
            local: (0..windows).collect(),
            windows,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.local.is_empty()
    }

    /// How many windows the second part answers.
    pub(crate) fn others(&self) -> usize {
        self.windows - self.local.len()
    }

    /// The same split with the longest windows of the first part (all of equal length)
    /// moved to the second.
    pub(crate) fn without_longest(&self, measured: &[PromDuration]) -> WindowSplit {
        let longest = self.local.iter().map(|&i| measured[i].millis()).max();
        WindowSplit {
            local: self
                .local
                .iter()
                .copied()
                .filter(|&i| Some(measured[i].millis()) != longest)
                .collect(),
            windows: self.windows,
        }
    }

    /// The longest window of the first part.
    pub(crate) fn reach_ms(&self, measured: &[PromDuration]) -> i64 {
        self.local
            .iter()
            .map(|&i| measured[i].millis())
            .max()
            .unwrap_or(0)
    }

    /// The windows of the first part and of the second, in measured order.
    pub(crate) fn parts(
        &self,
        measured: &[PromDuration],
    ) -> (Vec<PromDuration>, Vec<PromDuration>) {
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for (i, w) in measured.iter().enumerate() {
            if self.local.contains(&i) {
                first.push(w.clone());
            } else {
                second.push(w.clone());
            }
        }
        (first, second)
    }

    /// One measurement of every window from the first part's (aligned with its windows) and
    /// the second's; `None` when they are not of the same dimension.
    pub(crate) fn merge(&self, first: Measurement, second: Measurement) -> Option<Measurement> {
        fn interleave<T: Default>(split: &WindowSplit, a: Vec<T>, b: Vec<T>) -> Vec<T> {
            let (mut a, mut b) = (a.into_iter(), b.into_iter());
            (0..split.windows)
                .map(|i| {
                    let next = if split.local.contains(&i) {
                        a.next()
                    } else {
                        b.next()
                    };
                    next.unwrap_or_default()
                })
                .collect()
        }
        match (first, second) {
            (Measurement::Error(a), Measurement::Error(b)) => {
                Some(Measurement::Error(interleave(self, a, b)))
            }
            (Measurement::Latency(a), Measurement::Latency(b)) => {
                Some(Measurement::Latency(interleave(self, a, b)))
            }
            _ => None,
        }
    }

    /// [`merge`](Self::merge) group by group: a group one part lacks had no series there
    /// (its windows in that part are missing). `None` when the parts are not of the same
    /// dimension.
    pub(crate) fn merge_grouped(&self, first: Grouped, second: Grouped) -> Option<Grouped> {
        let Some(dim) = first
            .0
            .iter()
            .chain(&second.0)
            .map(|(_, m)| m.dimension())
            .next()
        else {
            // No group in either part: an SLO with `group_by` whose series are all gone.
            return Some(Grouped::default());
        };
        let mut by_group: BTreeMap<GroupLabels, (Measurement, Measurement)> = BTreeMap::new();
        for (part, grouped) in [first, second].into_iter().enumerate() {
            for (group, m) in grouped.0 {
                let slot = by_group
                    .entry(group)
                    .or_insert_with(|| (Measurement::empty(dim), Measurement::empty(dim)));
                if part == 0 {
                    slot.0 = m;
                } else {
                    slot.1 = m;
                }
            }
        }
        by_group
            .into_iter()
            .map(|(group, (a, b))| Some((group, self.merge(a, b)?)))
            .collect::<Option<Vec<_>>>()
            .map(Grouped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ErrorRates;

    #[test]
    fn a_split_moves_the_longest_windows_and_merges_back_in_order() {
        // Measured order puts the period last even when a matrix window is longer.
        let measured: Vec<PromDuration> = ["5m", "1h", "3d", "1d"]
            .iter()
            .map(|w| PromDuration::parse(w).unwrap())
            .collect();
        let split = WindowSplit::all(4).without_longest(&measured);
        assert_eq!(split.reach_ms(&measured), 86_400_000);
        assert_eq!(split.others(), 1);
        let (first, second) = split.parts(&measured);
        let spelled = |ws: &[PromDuration]| {
            ws.iter()
                .map(|w| w.as_str().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(spelled(&first), ["5m", "1h", "1d"]);
        assert_eq!(spelled(&second), ["3d"]);
        let rates = |xs: &[f64]| {
            Measurement::Error(
                xs.iter()
                    .map(|&x| ErrorRates {
                        bad: Some(x),
                        total: Some(x),
                    })
                    .collect(),
            )
        };
        let merged = split.merge(rates(&[1.0, 2.0, 4.0]), rates(&[3.0])).unwrap();
        assert_eq!(merged, rates(&[1.0, 2.0, 3.0, 4.0]));
        let none = split
            .without_longest(&measured)
            .without_longest(&measured)
            .without_longest(&measured);
        assert!(none.is_empty());
        assert_eq!(none.others(), 4);
    }
}
