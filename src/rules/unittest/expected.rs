//! What the generated rules compute in a world, derived the way the rules compute it (the
//! same label matching and arithmetic, `min_events` on the long window, `for` on the
//! evaluation grid): the expected alerts and samples of a test, never assumed from a
//! scenario's name.

use super::series::{Series, moving, sum};
use crate::duration::PromDuration;
use crate::rules::expr::{Good, bucket_selector};
use crate::rules::{BUDGET_METRIC, BURN_RATE_METRIC, Options, latency_good, levels};
use crate::spec::{Dimension, ErrorEvents, ServiceSpec, SloSpec};
use std::collections::BTreeMap;

/// One dimension of one SLO in a world (increments per step; ratios are pace-free).
#[derive(Debug, Clone, Copy)]
pub(super) struct Outcome {
    pub(super) ratio: Option<f64>,
    /// Total events per step.
    pub(super) total: f64,
    /// The ratio is exact in Prometheus too (0, or 1 from one series on each side).
    pub(super) exact: bool,
}

pub(super) fn outcome(
    world: &[Series],
    slo: &SloSpec,
    dim: Dimension,
    opts: &Options,
) -> Option<Outcome> {
    match dim {
        Dimension::Error => {
            let ErrorEvents::Selectors { bad, total } = &slo.error.as_ref()?.events else {
                return None;
            };
            let Some(t) = sum(world, total) else {
                return Some(Outcome {
                    ratio: None,
                    total: 0.0,
                    exact: false,
                });
            };
            if t == 0.0 {
                return Some(Outcome {
                    ratio: Some(0.0),
                    total: 0.0,
                    exact: true,
                });
            }
            let b = sum(world, bad).unwrap_or(0.0);
            let (mb, mt) = (moving(world, bad), moving(world, total));
            Some(Outcome {
                ratio: Some(b / t),
                total: t,
                exact: b == 0.0 || (mb.len() == 1 && mb == mt),
            })
        }
        Dimension::Latency => {
            let latency = slo.latency.as_ref()?;
            let good_plan = latency_good(slo, &opts.buckets)?;
            let count = latency.histogram.with_suffix("_count")?;
            let Some(c) = sum(world, &count) else {
                return Some(Outcome {
                    ratio: None,
                    total: 0.0,
                    exact: false,
                });
            };
            if c == 0.0 {
                return Some(Outcome {
                    ratio: Some(0.0),
                    total: 0.0,
                    exact: true,
                });
            }
            let bucket = |le: f64| {
                let sel = bucket_selector(latency, le);
                (sum(world, &sel), moving(world, &sel))
            };
            let (good, exact_sides) = match good_plan {
                // Native histograms get no synthetic world (`unittest::write` skips them).
                Good::Fraction { .. } => return None,
                Good::Bound(le) => {
                    let (g, m) = bucket(le);
                    (g, m)
                }
                Good::Interpolated {
                    lower: Some(a),
                    upper,
                    threshold,
                } => {
                    let ((ca, ma), (cb, _)) = (bucket(a), bucket(upper));
                    let good = match (ca, cb) {
                        (Some(ca), Some(cb)) => {
                            Some(ca + (cb - ca) * (threshold - a) / (upper - a))
                        }
                        _ => None,
                    };
                    let exact = ca.is_some() && ca == cb;
                    (good, if exact { ma } else { vec![f64::NAN] })
                }
                Good::Interpolated {
                    lower: None,
                    upper,
                    threshold,
                } => {
                    let (cb, m) = bucket(upper);
                    let exact = cb == Some(0.0);
                    (
                        cb.map(|cb| cb * threshold / upper),
                        if exact { m } else { vec![f64::NAN] },
                    )
                }
            };
            let Some(g) = good else {
                return Some(Outcome {
                    ratio: None,
                    total: c,
                    exact: false,
                });
            };
            let mc = moving(world, &count);
            Some(Outcome {
                ratio: Some(1.0 - g / c),
                total: c,
                exact: exact_sides.is_empty() || (exact_sides.len() == 1 && exact_sides == mc),
            })
        }
    }
}

/// Events in window `w` at time `t` (ms) as the engine counts them (`rate * w`): the
/// counters start at 0 at time 0, so a window reaching past 0 holds `t`'s worth.
pub(super) fn events(total_per_step: f64, step_ms: i64, w: &PromDuration, t_ms: i64) -> f64 {
    total_per_step * w.millis().min(t_ms) as f64 / step_ms as f64
}

/// Whether a raw-PromQL SLI of the specs may read series of `world` (it names one of their
/// metrics, or matches metric names with `__name__`): what it computes is not predictable.
pub(super) fn raw_reads(specs: &[ServiceSpec], world: &[Series]) -> bool {
    specs.iter().flat_map(|s| &s.slos).any(|slo| {
        let Some(ErrorEvents::Queries { bad, total }) = slo.error.as_ref().map(|e| &e.events)
        else {
            return false;
        };
        [bad, total]
            .iter()
            .any(|q| q.contains("__name__") || world.iter().any(|s| q.contains(s.name.as_str())))
    })
}

/// An exact recording rule sample: metric, dimension, series, value.
pub(super) type Sample = (&'static str, Dimension, String, f64);

#[derive(Debug, Clone, PartialEq)]
pub(super) struct ExpAlert {
    pub(super) labels: BTreeMap<String, String>,
    pub(super) annotations: BTreeMap<String, String>,
}

/// A group's label values, in `group_by` order.
type GroupKey = Vec<(String, String)>;

/// The world split into the SLO's groups: each distinct set of values of its `group_by`
/// labels over the world's series (`""` for a label a series lacks), with the series that
/// carry it, as `sum by (group labels)` splits every side of the rules. One group, the
/// whole world, without `group_by`. Another SLO's series may carry the labels too: they
/// make groups of their own wherever the SLO's selectors read them.
fn world_groups(world: &[Series], slo: &SloSpec) -> Vec<(GroupKey, Vec<Series>)> {
    let mut groups: BTreeMap<GroupKey, Vec<Series>> = BTreeMap::new();
    for s in world {
        let key = slo
            .group_by
            .iter()
            .map(|l| (l.clone(), s.label(l).to_string()))
            .collect();
        groups.entry(key).or_default().push(s.clone());
    }
    groups.into_iter().collect()
}

/// The group labels a series carries: those with a value (Prometheus drops empty labels).
fn carried(group: &[(String, String)]) -> impl Iterator<Item = (String, String)> + '_ {
    group.iter().filter(|(_, v)| !v.is_empty()).cloned()
}

/// The group part of an alert's summary, as the rules' template writes it.
fn group_text(group: &[(String, String)]) -> String {
    if group.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = group.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!(" {{{}}}", pairs.join(","))
}

/// Alerts firing at `at_ms` in a world, over every SLO of the specs and each of its groups.
/// `None` when a raw-PromQL SLI may read the world's series (what it computes cannot be
/// predicted).
pub(super) fn expected_alerts(
    specs: &[ServiceSpec],
    world: &[Series],
    opts: &Options,
    step_ms: i64,
    at_ms: i64,
) -> Option<Vec<ExpAlert>> {
    if raw_reads(specs, world) {
        return None;
    }
    let mut out = Vec::new();
    for spec in specs {
        for slo in &spec.slos {
            if slo
                .error
                .as_ref()
                .is_some_and(|e| matches!(e.events, ErrorEvents::Queries { .. }))
            {
                continue;
            }
            for (dim, (group, members)) in slo
                .dimensions()
                .flat_map(|d| world_groups(world, slo).into_iter().map(move |g| (d, g)))
            {
                let o = outcome(&members, slo, dim, opts)?;
                let Some(ratio) = o.ratio else { continue };
                let share = slo.budget(dim)?;
                let burn = ratio / share;
                let budget = 1.0 - ratio / share;
                for level in levels(slo, dim) {
                    let (decision, rules) = (level.decision, &level.rules);
                    let active = |t: i64| {
                        t >= step_ms
                            && rules.iter().any(|r| {
                                burn >= r.burn
                                    && slo.min_events.is_none_or(|min| {
                                        events(o.total, step_ms, &r.long, t) >= min
                                    })
                            })
                    };
                    if !active(at_ms) {
                        continue;
                    }
                    // `active` only turns on as time passes (a window's events grow until it
                    // is full), so the streak ending at `at_ms` starts at the earliest active
                    // step on its grid: found by bisection, not walked back step by step (a
                    // long `for` is millions of steps).
                    let (mut back, mut most) = (0, (at_ms - step_ms) / step_ms);
                    while back < most {
                        let mid = back + (most - back + 1) / 2;
                        if active(at_ms - mid * step_ms) {
                            back = mid;
                        } else {
                            most = mid - 1;
                        }
                    }
                    let since = at_ms - back * step_ms;
                    if at_ms - since < level.wait.millis() {
                        continue;
                    }
                    let mut labels = spec.labels.clone();
                    labels.insert("service".into(), spec.service.clone());
                    labels.insert("slo".into(), slo.name.clone());
                    labels.insert("dimension".into(), dim.as_str().into());
                    labels.insert("decision".into(), decision.as_str().into());
                    if level.split {
                        labels.insert("burnrate_for".into(), level.wait.to_string());
                    }
                    labels.extend(carried(&group));
                    let burns: Vec<String> = slo
                        .windows(dim)
                        .iter()
                        .map(|w| format!("{w}={burn:.3}"))
                        .collect();
                    let annotations = BTreeMap::from([
                        (
                            "summary".to_string(),
                            format!(
                                "{}/{}{} is {decision} ({})",
                                spec.service,
                                slo.name,
                                group_text(&group),
                                dim.as_str()
                            ),
                        ),
                        (
                            "description".to_string(),
                            crate::rules::describe_rules(slo, dim, rules, level.wait),
                        ),
                        ("burn_rates".to_string(), burns.join(" ")),
                        ("budget_remaining".to_string(), format!("{budget:.4}")),
                    ]);
                    out.push(ExpAlert {
                        labels,
                        annotations,
                    });
                }
            }
        }
    }
    Some(out)
}

/// Recording rule samples of `slo` that are exact in a world: (metric, dimension, series,
/// value).
pub(super) fn expected_samples(
    spec: &ServiceSpec,
    slo: &SloSpec,
    world: &[Series],
    opts: &Options,
) -> Vec<Sample> {
    let mut out = Vec::new();
    for (dim, (group, members)) in slo
        .dimensions()
        .flat_map(|d| world_groups(world, slo).into_iter().map(move |g| (d, g)))
    {
        let Some(o) = outcome(&members, slo, dim, opts) else {
            continue;
        };
        let (Some(ratio), true) = (o.ratio, o.exact) else {
            continue;
        };
        if ratio != 0.0 && ratio != 1.0 {
            continue;
        }
        let Some(budget) = slo.budget(dim) else {
            continue;
        };
        let series = |metric: &str, window: Option<&str>| {
            let mut labels = spec.labels.clone();
            labels.insert("service".into(), spec.service.clone());
            labels.insert("slo".into(), slo.name.clone());
            labels.insert("dimension".into(), dim.as_str().into());
            labels.extend(carried(&group));
            if let Some(w) = window {
                labels.insert("window".into(), w.into());
            }
            Series {
                name: metric.into(),
                labels,
                inc: 0.0,
            }
            .promql()
        };
        for w in slo.windows(dim) {
            out.push((
                BURN_RATE_METRIC,
                dim,
                series(BURN_RATE_METRIC, Some(w.as_str())),
                ratio / budget,
            ));
        }
        out.push((
            BUDGET_METRIC,
            dim,
            series(BUDGET_METRIC, None),
            1.0 - ratio / budget,
        ));
    }
    out
}
