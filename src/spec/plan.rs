//! What evaluating an SLO needs from its spec, derived once per spec instead of at every
//! evaluation: each dimension's windows in the order they are measured, where each rule's
//! windows and the budget period sit among them, and the rules' hysteresis state keys.

use super::{Dimension, SloSpec};
use crate::duration::PromDuration;
use std::fmt;
use std::sync::OnceLock;

/// The prepared form of one SLO, one entry per dimension (absent dimensions included, with no
/// rules, so `windows_to_measure` answers for them as it always did).
#[derive(Debug, Clone)]
pub(crate) struct SloPlan {
    dims: [DimPlan; 2],
    /// The maintenance windows as disjoint `[start, end)` spans in time order (overlapping
    /// and touching windows merged), so an evaluation finds out by binary search.
    maintenance: Vec<(i64, i64)>,
}

/// One dimension of an `SloPlan`.
#[derive(Debug, Clone)]
pub(crate) struct DimPlan {
    /// The windows a source measures, in this order: the matrix windows by length (then
    /// spelling), each once, then the period when it is not one of them. Measurements are
    /// aligned with it.
    pub(crate) windows: Vec<PromDuration>,
    /// How many of `windows` are matrix windows (the ones reports list).
    pub(crate) matrix_windows: usize,
    /// Index of the budget period in `windows`; `None` for a calendar period, whose window
    /// (the elapsed part) changes at every instant and is measured on its own
    /// (`measure::elapsed`).
    pub(crate) period: Option<usize>,
    /// `windows[i].seconds()`.
    pub(crate) seconds: Vec<f64>,
    /// One per matrix rule, in matrix order.
    pub(crate) rules: Vec<RulePlan>,
}

/// Where one rule's windows are in `DimPlan::windows`, and its state key.
#[derive(Debug, Clone)]
pub(crate) struct RulePlan {
    pub(crate) long: usize,
    pub(crate) short: Option<usize>,
    /// `Rule::key()`.
    pub(crate) key: String,
    /// Index of the first rule with the same key: rules with equal keys share their timers,
    /// as they do in a state file.
    pub(crate) slot: usize,
}

impl SloPlan {
    pub(crate) fn new(slo: &SloSpec) -> SloPlan {
        let mut spans: Vec<(i64, i64)> = slo
            .maintenance
            .iter()
            .map(|w| (w.start_ms, w.end_ms))
            .collect();
        spans.sort_unstable();
        let mut maintenance: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            match maintenance.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => maintenance.push((start, end)),
            }
        }
        SloPlan {
            dims: Dimension::ALL.map(|dim| DimPlan::new(slo, dim)),
            maintenance,
        }
    }

    pub(crate) fn dim(&self, dim: Dimension) -> &DimPlan {
        &self.dims[dim.index()]
    }

    /// The SLO's maintenance time: disjoint `[start, end)` spans in time order.
    pub(crate) fn maintenance(&self) -> &[(i64, i64)] {
        &self.maintenance
    }
}

impl DimPlan {
    fn new(slo: &SloSpec, dim: Dimension) -> DimPlan {
        let rules = slo.matrix(dim).unwrap_or(&[]);
        let mut windows: Vec<PromDuration> = Vec::new();
        for rule in rules {
            for w in std::iter::once(&rule.long).chain(rule.short.as_ref()) {
                if !windows.contains(w) {
                    windows.push(w.clone());
                }
            }
        }
        windows.sort_by(|a, b| {
            a.millis()
                .cmp(&b.millis())
                .then_with(|| a.as_str().cmp(b.as_str()))
        });
        let matrix_windows = windows.len();
        let position = |windows: &[PromDuration], w: &PromDuration| {
            windows.iter().position(|x| x.as_str() == w.as_str())
        };
        let period = match position(&windows, &slo.period) {
            // A calendar budget is measured on its own; an SLO without rules still measures
            // the nominal period, to tell data from none.
            _ if slo.calendar.is_some() => {
                if windows.is_empty() {
                    windows.push(slo.period.clone());
                }
                None
            }
            Some(i) => Some(i),
            None => {
                windows.push(slo.period.clone());
                Some(windows.len() - 1)
            }
        };
        let keys: Vec<String> = rules.iter().map(|r| r.key()).collect();
        let rules = rules
            .iter()
            .zip(&keys)
            .map(|(rule, key)| RulePlan {
                long: position(&windows[..matrix_windows], &rule.long).expect("listed"),
                short: rule
                    .short
                    .as_ref()
                    .map(|s| position(&windows[..matrix_windows], s).expect("listed")),
                key: key.clone(),
                slot: keys.iter().position(|k| k == key).expect("listed"),
            })
            .collect();
        DimPlan {
            seconds: windows.iter().map(PromDuration::seconds).collect(),
            windows,
            matrix_windows,
            period,
            rules,
        }
    }

    /// The windows the matrix uses (the ones reports list).
    pub(crate) fn matrix_windows(&self) -> &[PromDuration] {
        &self.windows[..self.matrix_windows]
    }
}

/// The lazily built plan of an `SloSpec`. A spec is not meant to change once loaded; the
/// plan is built at its first evaluation and cloned with it.
#[derive(Clone, Default)]
pub(crate) struct PlanCell(OnceLock<SloPlan>);

impl PlanCell {
    pub(super) fn get_or_init(&self, slo: &SloSpec) -> &SloPlan {
        self.0.get_or_init(|| SloPlan::new(slo))
    }
}

impl fmt::Debug for PlanCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlanCell")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::load::load_str;
    use std::path::Path;

    #[test]
    fn windows_rules_and_period_are_indexed() {
        let yaml = "apiVersion: burnrate/v1\nservice: s\nslos:\n  - name: a\n    period: 30d\n    error:\n      objective: 99.9\n      bad: bad_total\n      total: all_total\n    matrix:\n      error:\n        - {decision: warn, burn: 2, long: 1h, short: 5m}\n        - {decision: warn, burn: 2, long: 1h, short: 5m}\n        - {decision: circuit_break, burn: 1, long: 30d}\n";
        let (spec, diags) = load_str(Path::new("a.yaml"), yaml);
        let spec = spec.unwrap_or_else(|| panic!("{diags:?}"));
        let slo = &spec.slos[0];
        let plan = slo.plan().dim(Dimension::Error);
        let spelled: Vec<&str> = plan.windows.iter().map(|w| w.as_str()).collect();
        assert_eq!(spelled, ["5m", "1h", "30d"]);
        assert_eq!((plan.matrix_windows, plan.period), (3, Some(2)));
        assert_eq!(plan.rules[0].long, 1);
        assert_eq!(plan.rules[0].short, Some(0));
        assert_eq!(plan.rules[2].long, 2);
        assert_eq!(
            plan.rules.iter().map(|r| r.slot).collect::<Vec<_>>(),
            [0, 0, 2]
        );
        // No latency section: no rules, only the period is measured.
        let latency = slo.plan().dim(Dimension::Latency);
        assert_eq!((latency.matrix_windows, latency.period), (0, Some(0)));
        assert_eq!(latency.windows.len(), 1);
    }

    #[test]
    fn maintenance_windows_merge_and_are_found_by_their_edges() {
        let yaml = "apiVersion: burnrate/v1\nservice: s\nslos:\n  - name: a\n    error:\n      objective: 99.9\n      bad: bad_total\n      total: all_total\n    maintenance:\n      - {start: 1970-01-01T00:00:30Z, end: 1970-01-01T00:00:40Z, reason: c}\n      - {start: 1970-01-01T00:00:10Z, end: 1970-01-01T00:00:20Z, reason: a}\n      - {start: 1970-01-01T00:00:15Z, end: 1970-01-01T00:00:25Z, reason: b}\n      - {start: 1970-01-01T00:00:25Z, end: 1970-01-01T00:00:26+00:00, reason: b}\n";
        let (spec, diags) = load_str(Path::new("a.yaml"), yaml);
        let spec = spec.unwrap_or_else(|| panic!("{diags:?}"));
        let slo = &spec.slos[0];
        assert_eq!(
            slo.plan().maintenance(),
            [(10_000, 26_000), (30_000, 40_000)]
        );
        let inside: Vec<i64> = [
            0, 9_999, 10_000, 25_999, 26_000, 29_999, 30_000, 39_999, 40_000,
        ]
        .into_iter()
        .filter(|&t| slo.in_maintenance(t))
        .collect();
        assert_eq!(inside, [10_000, 25_999, 30_000, 39_999]);
        assert_eq!(slo.maintenance_reason(17_000).as_deref(), Some("a; b"));
        assert_eq!(slo.maintenance_reason(25_000).as_deref(), Some("b"));
        assert_eq!(slo.maintenance_reason(26_000), None);
    }
}
