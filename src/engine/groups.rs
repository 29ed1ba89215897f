//! Groups (`group_by`): each distinct value set of the group labels is an SLO instance of its
//! own, with its own burns, decision and state.
//!
//! One query measures every group at once (`sum by (G, ...)`, `measure::query`) and the one
//! decoder splits its answer by group, so a source delivers a [`Grouped`] measurement per
//! dimension. This module decides what the instances of an SLO are at an instant, the same
//! way for `check`, `run` and `backtest`: the groups of the answer (and, when a dimension
//! failed, the groups known from before, which then have no data rather than vanish),
//! bounded by `max_groups`, the most traffic first.

use super::measure::{GroupLabels, Grouped, Measurement, SourceError};
use crate::spec::{Dimension, SloSpec};
use std::collections::{BTreeMap, BTreeSet};

/// One dimension's measurement by group, or why it failed.
type ByGroup = Result<BTreeMap<GroupLabels, Measurement>, SourceError>;

/// One SLO instance to evaluate: its group and what each dimension measured for it.
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub(crate) group: GroupLabels,
    pub(crate) measurements: Vec<(Dimension, Result<Measurement, SourceError>)>,
}

/// The instances of one SLO at one instant.
#[derive(Debug)]
pub(crate) struct Instances {
    /// Ordered by group labels; never empty.
    pub(crate) instances: Vec<Instance>,
    /// Groups beyond `max_groups`, not evaluated.
    pub(crate) dropped: usize,
}

/// Splits one SLO's grouped measurements into its instances. `known` are the groups evaluated
/// before (from the state): they stay instances while a dimension fails, so a backend outage
/// reports each of them as no data instead of hiding them.
///
/// An SLO without `group_by` is one instance, with no labels. So is an SLO with it whose
/// answer holds no group (no series at all, or every query failed): the SLO as a whole, with
/// no data, never a silent absence.
pub(crate) fn instances(
    slo: &SloSpec,
    measured: Vec<(Dimension, Result<Grouped, SourceError>)>,
    known: impl IntoIterator<Item = GroupLabels>,
) -> Instances {
    let failed = measured.iter().any(|(_, r)| r.is_err());
    let mut per_dim: Vec<(Dimension, ByGroup)> = measured
        .into_iter()
        .map(|(dim, r)| (dim, r.map(|g| g.0.into_iter().collect())))
        .collect();
    let mut groups: BTreeSet<GroupLabels> = BTreeSet::new();
    if !slo.group_by.is_empty() {
        for (_, r) in &per_dim {
            if let Ok(by_group) = r {
                groups.extend(by_group.keys().cloned());
            }
        }
        if failed {
            groups.extend(known.into_iter().filter(|g| !g.is_empty()));
        }
    }
    if groups.is_empty() {
        groups.insert(GroupLabels::new());
    }
    let candidates: Vec<Instance> = groups
        .into_iter()
        .map(|group| {
            let measurements = per_dim
                .iter_mut()
                .map(|(dim, r)| {
                    let m = match r {
                        Ok(by_group) => Ok(by_group
                            .remove(&group)
                            .unwrap_or_else(|| Measurement::empty(*dim))),
                        Err(e) => Err(e.clone()),
                    };
                    (*dim, m)
                })
                .collect();
            Instance {
                group,
                measurements,
            }
        })
        .collect();
    let traffic: Vec<f64> = candidates
        .iter()
        .map(|i| traffic(slo, &i.measurements))
        .collect();
    let mut kept = Vec::new();
    let dropped = keep(slo.max_groups, &traffic, &mut kept);
    if dropped == 0 {
        return Instances {
            instances: candidates,
            dropped,
        };
    }
    let mut kept = kept.into_iter().peekable();
    let instances = candidates
        .into_iter()
        .enumerate()
        .filter(|(i, _)| kept.next_if_eq(i).is_some())
        .map(|(_, instance)| instance)
        .collect();
    Instances { instances, dropped }
}

/// The events of a group in its longest measured window (the largest over its dimensions):
/// what `max_groups` ranks groups by. No data counts as no traffic.
pub(crate) fn traffic(
    slo: &SloSpec,
    measurements: &[(Dimension, Result<Measurement, SourceError>)],
) -> f64 {
    measurements
        .iter()
        .filter_map(|(dim, r)| {
            let seconds = &slo.plan().dim(*dim).seconds;
            let (longest, secs) = seconds
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))?;
            let rate = match r.as_ref().ok()? {
                Measurement::Error(w) => w.get(longest)?.total?,
                Measurement::Latency(w) => w.get(longest)?.count?,
            };
            Some(rate * secs).filter(|events| events.is_finite())
        })
        .fold(0.0, f64::max)
}

/// Which of the candidates with these traffics `max` keeps: the most traffic first (the
/// earlier on a tie), written into `kept` in candidate order. Returns how many it drops.
pub(crate) fn keep(max: usize, traffic: &[f64], kept: &mut Vec<usize>) -> usize {
    kept.clear();
    kept.extend(0..traffic.len());
    if traffic.len() <= max {
        return 0;
    }
    kept.sort_by(|&a, &b| traffic[b].total_cmp(&traffic[a]).then(a.cmp(&b)));
    kept.truncate(max);
    kept.sort_unstable();
    traffic.len() - max
}

/// A group as Prometheus writes a label set, `{cluster="eu1",zone="a"}`; empty for no labels.
/// Used where a group names an instance in text: state keys, logs, the table view.
pub fn format_group(group: &GroupLabels) -> String {
    if group.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = group
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::yaml_out::double_quoted(v)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ErrorRates;
    use crate::spec::load::load_str;
    use std::path::Path;

    fn slo(extra: &str) -> SloSpec {
        let yaml = format!(
            "apiVersion: burnrate/v1\nservice: edge\nslos:\n  - name: api\n{extra}    \
             error:\n      objective: 99.9\n      bad: errors_total\n      \
             total: requests_total\n"
        );
        let (spec, diagnostics) = load_str(Path::new("edge.yaml"), &yaml);
        spec.unwrap_or_else(|| panic!("{diagnostics:?}"))
            .slos
            .remove(0)
    }

    fn group(cluster: &str) -> GroupLabels {
        GroupLabels::from([("cluster".to_string(), cluster.to_string())])
    }

    /// Error rates whose every window (of the default ladder and period) has `total`
    /// requests per second.
    fn rates(total: f64) -> Measurement {
        Measurement::Error(vec![
            ErrorRates {
                bad: None,
                total: Some(total)
            };
            6
        ])
    }

    #[test]
    fn max_groups_keeps_the_busiest_in_label_order() {
        let slo = slo("    group_by: [cluster]\n    max_groups: 2\n");
        let measured = Grouped(vec![
            (group("a"), rates(1.0)),
            (group("b"), rates(5.0)),
            (group("c"), rates(0.5)),
            (group("d"), rates(5.0)),
        ]);
        let split = instances(&slo, vec![(Dimension::Error, Ok(measured))], []);
        let kept: Vec<&str> = split
            .instances
            .iter()
            .map(|i| i.group["cluster"].as_str())
            .collect();
        assert_eq!(kept, ["b", "d"]);
        assert_eq!(split.dropped, 2);
    }

    #[test]
    fn known_groups_stay_while_a_dimension_fails_and_no_group_is_the_slo_itself() {
        let slo = slo("    group_by: [cluster]\n");
        let failed = vec![(Dimension::Error, Err(SourceError::failed("down")))];
        let split = instances(&slo, failed.clone(), [group("a"), group("b")]);
        assert_eq!(split.instances.len(), 2);
        assert!(split.instances.iter().all(|i| i.measurements[0].1.is_err()));
        let split = instances(&slo, failed, []);
        assert_eq!(split.instances.len(), 1);
        assert!(split.instances[0].group.is_empty());
        // A successful answer without the known group: it is gone.
        let answered = vec![(
            Dimension::Error,
            Ok(Grouped(vec![(group("b"), rates(1.0))])),
        )];
        let split = instances(&slo, answered, [group("a")]);
        assert_eq!(split.instances.len(), 1);
        assert_eq!(split.instances[0].group, group("b"));
    }

    #[test]
    fn groups_print_as_label_sets() {
        assert_eq!(format_group(&GroupLabels::new()), "");
        let mut g = group("eu\"1");
        g.insert("zone".into(), "a".into());
        assert_eq!(format_group(&g), r#"{cluster="eu\"1",zone="a"}"#);
    }
}
