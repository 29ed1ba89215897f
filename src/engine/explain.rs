//! Why an SLO instance burns: the contributors of a dimension above ok (`breakdown`) and
//! exemplars of its bad events, so the person paged knows which operation, error class and
//! request to look at.
//!
//! This module is the pure part: which rule decided (its windows are what is explained), the
//! arithmetic from a breakdown's rates to shares and burns, and which exemplars are kept.
//! Measuring the breakdown and asking for exemplars is `measure::drilldown`'s, through the
//! same query text and decoder as every other measurement, so a contributor's numbers equal
//! the backend's `sum by (G, B)` answer.

use super::evaluation::{DimensionReport, Evaluation, RuleRef};
use super::measure::{GroupLabels, Grouped, Measurement};
use super::sli;
use crate::decision::Decision;
use crate::duration::PromDuration;
use crate::spec::{Dimension, Rule, SloSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Exemplars attached to a dimension at most.
pub(crate) const MAX_EXEMPLARS: usize = 5;

/// The label sets of a dimension's `breakdown` labels that hold its bad events over the
/// deciding rule's long window, the most bad events first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contributors {
    pub window: String,
    pub top: Vec<Contributor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contributor {
    /// The breakdown labels' values (a label the series lack is absent).
    pub labels: BTreeMap<String, String>,
    /// Its bad events over all bad events in the window.
    pub bad_share: f64,
    /// Its bad events over all total events, over the budget: the burns of every label set
    /// add up to the window's burn.
    pub burn: f64,
}

/// One exemplar of a bad event: what the backend stored beside a bad series' sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exemplar {
    /// The exemplar's own labels (`trace_id`, ...).
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    /// RFC 3339, UTC.
    pub time: String,
    /// The labels of the series it was attached to, without the metric name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub series: BTreeMap<String, String>,
}

/// A series' exemplars as the backend returns them: the series' labels, and per exemplar
/// its labels, value and Unix milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExemplarSeries {
    pub(crate) series: BTreeMap<String, String>,
    pub(crate) exemplars: Vec<(BTreeMap<String, String>, f64, i64)>,
}

/// What explaining one dimension of one instance needs measured: the deciding rule's long
/// window (contributors) and its short one (exemplars; the long one when it has none).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wanted {
    pub(crate) dimension: Dimension,
    pub(crate) long: PromDuration,
    pub(crate) exemplar_window: PromDuration,
}

/// The rule that set a dimension's decision: among the rules whose decision counts now
/// (fired or held), the most severe, the first in matrix order among equals. `None` for a
/// dimension not above ok.
pub(crate) fn deciding_rule<'s>(
    slo: &'s SloSpec,
    dim: Dimension,
    report: &DimensionReport,
) -> Option<&'s Rule> {
    if !Decision::ACTIONS.contains(&report.decision) {
        return None;
    }
    slo.matrix(dim)?.iter().find(|rule| {
        rule.decision == report.decision && {
            let r = RuleRef::from(*rule);
            report.fired.contains(&r) || report.held.contains(&r)
        }
    })
}

/// What to measure to explain `eval`: per dimension above ok, its deciding rule's windows.
pub(crate) fn wanted(slo: &SloSpec, eval: &Evaluation) -> Vec<Wanted> {
    slo.dimensions()
        .filter_map(|dim| {
            let report = report(eval, dim)?;
            let rule = deciding_rule(slo, dim, report)?;
            Some(Wanted {
                dimension: dim,
                long: rule.long.clone(),
                exemplar_window: rule.short.clone().unwrap_or_else(|| rule.long.clone()),
            })
        })
        .collect()
}

pub(crate) fn report(eval: &Evaluation, dim: Dimension) -> Option<&DimensionReport> {
    match dim {
        Dimension::Error => eval.error.as_ref(),
        Dimension::Latency => eval.latency.as_ref(),
    }
}

pub(crate) fn report_mut(eval: &mut Evaluation, dim: Dimension) -> Option<&mut DimensionReport> {
    match dim {
        Dimension::Error => eval.error.as_mut(),
        Dimension::Latency => eval.latency.as_mut(),
    }
}

/// Whether a series (or answer group) with `labels` belongs to the instance `group`: it
/// has the group's value of every `group_by` label (a label absent on both counts as equal,
/// as in `sum by`).
pub(crate) fn in_group(
    group_by: &[String],
    group: &GroupLabels,
    labels: &BTreeMap<String, String>,
) -> bool {
    group_by.iter().all(|g| group.get(g) == labels.get(g))
}

/// The contributors of `group`'s dimension over `window`, from a breakdown answer (one
/// window, grouped by the `group_by` and `breakdown` labels). `total_rate` is the group's
/// total events per second in that window, as its evaluation measured it.
pub(crate) fn contributors(
    slo: &SloSpec,
    dim: Dimension,
    group: &GroupLabels,
    window: &PromDuration,
    answer: &Grouped,
    total_rate: f64,
) -> Option<Contributors> {
    let breakdown = slo.breakdown(dim)?;
    let budget = slo.budget(dim)?;
    let threshold = slo.latency.as_ref().map(|l| l.threshold_seconds());
    let mut normalized = Vec::new();
    let mut bad: Vec<(BTreeMap<String, String>, f64)> = answer
        .0
        .iter()
        .filter(|(labels, _)| in_group(&slo.group_by, group, labels))
        .filter_map(|(labels, m)| {
            let rate = match (m, threshold) {
                (Measurement::Error(w), _) => w.first()?.bad?,
                (Measurement::Latency(w), Some(threshold)) => {
                    let h = w.first()?;
                    if h.fraction.is_some() {
                        sli::bad_rate(h, threshold)?
                    } else {
                        let count = h.count?;
                        if !sli::normalize_into(&h.buckets, &mut normalized) {
                            return None;
                        }
                        count - sli::good_at_normalized(&normalized, threshold)?
                    }
                }
                (Measurement::Latency(_), None) => return None,
            };
            let set = labels
                .iter()
                .filter(|(k, _)| breakdown.labels.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (rate.is_finite() && rate > 0.0).then_some((set, rate))
        })
        .collect();
    let all: f64 = bad.iter().map(|(_, r)| r).sum();
    bad.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    bad.truncate(breakdown.top);
    Some(Contributors {
        window: window.as_str().to_owned(),
        top: bad
            .into_iter()
            .map(|(labels, rate)| Contributor {
                labels,
                bad_share: rate / all,
                burn: if total_rate > 0.0 {
                    rate / total_rate / budget
                } else {
                    0.0
                },
            })
            .collect(),
    })
}

/// The group's total events per second in `window`, from its evaluation (`events` is the
/// total rate times the window).
pub(crate) fn total_rate(report: &DimensionReport, window: &PromDuration) -> Option<f64> {
    Some(report.events.value(window.as_str())? / window.seconds())
}

/// Up to [`MAX_EXEMPLARS`] exemplars of `group`'s bad events, newest first. Latency keeps
/// those on buckets above the threshold with a value above it: the slow requests.
pub(crate) fn pick_exemplars(
    slo: &SloSpec,
    dim: Dimension,
    group: &GroupLabels,
    series: &[ExemplarSeries],
) -> Vec<Exemplar> {
    let threshold = match dim {
        Dimension::Error => None,
        Dimension::Latency => slo.latency.as_ref().map(|l| l.threshold_seconds()),
    };
    let slow_bucket = |labels: &BTreeMap<String, String>| match threshold {
        None => true,
        Some(t) => labels
            .get("le")
            .and_then(|le| crate::measure::query::parse_float(le))
            .is_some_and(|le| le > t),
    };
    let mut picked: Vec<(i64, Exemplar)> = series
        .iter()
        .filter(|s| in_group(&slo.group_by, group, &s.series) && slow_bucket(&s.series))
        .flat_map(|s| {
            s.exemplars
                .iter()
                .filter(|(_, value, _)| threshold.is_none_or(|t| *value > t))
                .map(|(labels, value, at_ms)| {
                    let exemplar = Exemplar {
                        labels: labels.clone(),
                        value: *value,
                        time: crate::time::format_time(*at_ms),
                        series: s
                            .series
                            .iter()
                            .filter(|(k, _)| *k != "__name__")
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    };
                    (*at_ms, exemplar)
                })
        })
        .collect();
    picked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.labels.cmp(&b.1.labels)));
    picked.dedup_by(|a, b| a.0 == b.0 && a.1.labels == b.1.labels);
    picked
        .into_iter()
        .take(MAX_EXEMPLARS)
        .map(|(_, e)| e)
        .collect()
}

/// `error_class=timeout 82%, error_class=db 18%`: the contributors as an alert annotation.
pub(crate) fn contributors_text(c: &Contributors) -> String {
    c.top
        .iter()
        .map(|t| {
            let labels: Vec<String> = t.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let labels = if labels.is_empty() {
                "(no breakdown labels)".to_string()
            } else {
                labels.join(",")
            };
            format!("{labels} {}", percent(t.bad_share))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p > 0.0 && p < 1.0 {
        "<1%".to_string()
    } else {
        format!("{p:.0}%")
    }
}

/// The exemplars as an alert annotation: their trace IDs (or, without one, their labels).
pub(crate) fn exemplars_text(exemplars: &[Exemplar]) -> String {
    exemplars
        .iter()
        .map(|e| {
            ["trace_id", "traceID", "traceId", "trace"]
                .iter()
                .find_map(|k| e.labels.get(*k).cloned())
                .unwrap_or_else(|| {
                    e.labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Bucket, ErrorRates, HistogramRates};
    use crate::spec::load::load_str;
    use std::path::Path;

    fn slo(dimension: &str) -> SloSpec {
        let yaml = format!(
            "apiVersion: burnrate/v1\nservice: map\nslos:\n  - name: update\n    group_by: [cluster]\n{dimension}"
        );
        let (spec, diagnostics) = load_str(Path::new("map.yaml"), &yaml);
        spec.unwrap_or_else(|| panic!("{diagnostics:?}"))
            .slos
            .remove(0)
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn bad(rate: f64) -> Measurement {
        Measurement::Error(vec![ErrorRates {
            bad: Some(rate),
            total: None,
        }])
    }

    #[test]
    fn shares_and_burns_of_the_groups_own_label_sets_add_up() {
        let slo = slo(
            "    error:\n      objective: 99\n      bad: fail_total\n      total: all_total\n      breakdown: [error_class]\n      breakdown_top: 2\n",
        );
        let eu = labels(&[("cluster", "eu")]);
        let answer = Grouped(vec![
            (
                labels(&[("cluster", "eu"), ("error_class", "db")]),
                bad(1.0),
            ),
            (
                labels(&[("cluster", "eu"), ("error_class", "oom")]),
                bad(0.5),
            ),
            (
                labels(&[("cluster", "eu"), ("error_class", "timeout")]),
                bad(3.0),
            ),
            (
                labels(&[("cluster", "us"), ("error_class", "db")]),
                bad(9.0),
            ),
        ]);
        let window = PromDuration::parse("1h").unwrap();
        let c = contributors(&slo, Dimension::Error, &eu, &window, &answer, 100.0).unwrap();
        assert_eq!(c.window, "1h");
        assert_eq!(c.top.len(), 2, "breakdown_top");
        assert_eq!(c.top[0].labels, labels(&[("error_class", "timeout")]));
        assert_eq!(c.top[0].bad_share, 3.0 / 4.5);
        assert_eq!(c.top[1].labels, labels(&[("error_class", "db")]));
        // 3 bad of 100 per second over a 1% budget.
        assert!((c.top[0].burn - 3.0).abs() < 1e-12);
        assert_eq!(
            contributors_text(&c),
            "error_class=timeout 67%, error_class=db 22%"
        );
    }

    #[test]
    fn latency_contributors_count_the_requests_above_the_threshold() {
        let slo = slo(
            "    latency:\n      histogram: op_seconds\n      quantile: 0.9\n      threshold: 150ms\n      breakdown: [op]\n",
        );
        let eu = labels(&[("cluster", "eu")]);
        let hist = |at_01: f64, at_02: f64, count: f64| {
            Measurement::Latency(vec![HistogramRates {
                buckets: vec![
                    Bucket {
                        le: 0.1,
                        rate: at_01,
                    },
                    Bucket {
                        le: 0.2,
                        rate: at_02,
                    },
                    Bucket {
                        le: f64::INFINITY,
                        rate: count,
                    },
                ],
                count: Some(count),
                ..Default::default()
            }])
        };
        let answer = Grouped(vec![
            (
                labels(&[("cluster", "eu"), ("op", "get")]),
                hist(8.0, 10.0, 10.0),
            ),
            (
                labels(&[("cluster", "eu"), ("op", "set")]),
                hist(2.0, 4.0, 10.0),
            ),
        ]);
        let window = PromDuration::parse("5m").unwrap();
        let c = contributors(&slo, Dimension::Latency, &eu, &window, &answer, 20.0).unwrap();
        // Interpolated at 150ms: get has 9 good of 10, set 3 good of 10.
        assert_eq!(c.top[0].labels, labels(&[("op", "set")]));
        assert!((c.top[0].bad_share - 7.0 / 8.0).abs() < 1e-12);
        assert!((c.top[0].burn - 7.0 / 20.0 / 0.1).abs() < 1e-9);
        assert!((c.top[1].burn - 1.0 / 20.0 / 0.1).abs() < 1e-9);
    }

    #[test]
    fn exemplars_are_the_groups_newest_and_for_latency_the_slow_ones() {
        let slo = slo(
            "    latency:\n      histogram: op_seconds\n      quantile: 0.9\n      threshold: 150ms\n",
        );
        let series = |cluster: &str, le: &str, exemplars: &[(&str, f64, i64)]| ExemplarSeries {
            series: labels(&[
                ("__name__", "op_seconds_bucket"),
                ("cluster", cluster),
                ("le", le),
            ]),
            exemplars: exemplars
                .iter()
                .map(|(id, v, t)| (labels(&[("trace_id", id)]), *v, *t))
                .collect(),
        };
        let all = [
            series("eu", "0.1", &[("fast", 0.05, 9_000)]),
            series(
                "eu",
                "0.2",
                &[("edge", 0.12, 8_000), ("slow1", 0.18, 1_000)],
            ),
            series(
                "eu",
                "+Inf",
                &[
                    ("slow2", 0.9, 2_000),
                    ("slow3", 0.9, 3_000),
                    ("slow4", 0.9, 4_000),
                    ("slow5", 0.9, 5_000),
                    ("slow6", 0.9, 6_000),
                ],
            ),
            series("us", "+Inf", &[("other", 3.0, 7_000)]),
        ];
        let eu = labels(&[("cluster", "eu")]);
        let picked = pick_exemplars(&slo, Dimension::Latency, &eu, &all);
        let ids: Vec<&str> = picked
            .iter()
            .map(|e| e.labels["trace_id"].as_str())
            .collect();
        assert_eq!(ids, ["slow6", "slow5", "slow4", "slow3", "slow2"]);
        assert_eq!(
            picked[0].series,
            labels(&[("cluster", "eu"), ("le", "+Inf")])
        );
        assert_eq!(exemplars_text(&picked[..2]), "slow6, slow5");
    }
}
