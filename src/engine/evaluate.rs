//! The one evaluation path: measure every dimension of an SLO at an instant, compute burn
//! rates, apply the matrix and the hysteresis machine, and produce an `Evaluation`.
//!
//! `check`, `run` and `backtest` differ only in the `Source` they pass and in what they do
//! with the result, so they cannot disagree about a decision. With `group_by`, each group is
//! evaluated as an SLO of its own (`evaluate_groups`, `engine::groups`). The work is split in
//! two: `step_slo` computes the numbers, statuses and decision into a `Worksheet`, and
//! `sheet_evaluation` turns them into the `Evaluation`; a replay runs the first at every
//! step and the second only for the steps it keeps.

use super::evaluation::{DimensionReport, Evaluation, RuleRef, WindowMap};
use super::groups::{self, Instances};
use super::hysteresis::{RuleStatus, RuleTimers, SloState, StateStore, TimerStore, step_no_data};
use super::matrix::fires;
use super::measure::{Bucket, GroupLabels, Grouped, Measurement, SourceError};
use super::sli::{self, WindowValue};
use crate::decision::Decision;
use crate::spec::{Dimension, ServiceSpec, SloSpec};
use crate::time::format_time;
use futures::StreamExt;

/// Anything that can measure the rates of a dimension at an instant, per group: the backend
/// (`measure::PrometheusSource`). The windows are always `slo.measured_windows(dimension)`;
/// a replay reads its columns (`measure::StepRates`) directly.
pub trait Source {
    /// Rates for `slo.measured_windows(dimension)` at `at_ms` (Unix ms), one entry per window,
    /// for every group the answer holds.
    fn measure(
        &self,
        slo: &SloSpec,
        dimension: Dimension,
        at_ms: i64,
    ) -> impl std::future::Future<Output = Result<Grouped, SourceError>>;
}

/// The evaluations of one SLO at one instant: one per group evaluated.
#[derive(Debug, Clone)]
pub struct SloEvaluation {
    /// Ordered by group labels; never empty (an SLO without `group_by` has exactly one).
    pub evals: Vec<Evaluation>,
    /// Per evaluation, the decision before it, as the state remembers it.
    pub previous: Vec<Option<Decision>>,
    /// Groups not evaluated because of `max_groups` (the least traffic).
    pub dropped: usize,
}

/// Measures and evaluates every SLO of every spec at `at_ms`, at most `concurrency`
/// SLOs at a time, in spec order.
pub(crate) async fn evaluate_all<S: Source>(
    source: &S,
    specs: &[ServiceSpec],
    at_ms: i64,
    state: &mut StateStore,
    concurrency: usize,
) -> Vec<SloEvaluation> {
    let jobs: Vec<(&ServiceSpec, &SloSpec)> = specs
        .iter()
        .flat_map(|s| s.slos.iter().map(move |slo| (s, slo)))
        .collect();
    let measured: Vec<_> =
        futures::stream::iter(jobs.iter().map(|&(_, slo)| measure_slo(source, slo, at_ms)))
            .buffered(concurrency.max(1))
            .collect()
            .await;
    jobs.iter()
        .zip(measured)
        .map(|(&(service, slo), measurements)| {
            evaluate_groups(service, slo, at_ms, measurements, state)
        })
        .collect()
}

/// Every dimension of one SLO, measured concurrently.
pub(crate) async fn measure_slo<S: Source>(
    source: &S,
    slo: &SloSpec,
    at_ms: i64,
) -> Vec<(Dimension, Result<Grouped, SourceError>)> {
    futures::future::join_all(
        slo.dimensions()
            .map(|dim| async move { (dim, source.measure(slo, dim, at_ms).await) }),
    )
    .await
}

/// Turns one SLO's grouped measurements at `at_ms` into the evaluation of each of its
/// instances (`engine::groups`), stepping each one's state in `store`. The state keeps
/// exactly the instances evaluated: a group that is gone or beyond `max_groups` loses its
/// timers.
pub fn evaluate_groups(
    service: &ServiceSpec,
    slo: &SloSpec,
    at_ms: i64,
    measured: Vec<(Dimension, Result<Grouped, SourceError>)>,
    store: &mut StateStore,
) -> SloEvaluation {
    let known = if measured.iter().any(|(_, r)| r.is_err()) {
        store.groups_of(&service.service, &slo.name)
    } else {
        Vec::new()
    };
    let Instances { instances, dropped } = groups::instances(slo, measured, known);
    let mut out = SloEvaluation {
        evals: Vec::with_capacity(instances.len()),
        previous: Vec::with_capacity(instances.len()),
        dropped,
    };
    for instance in instances {
        let state = store.instance(&service.service, &slo.name, &instance.group);
        out.previous.push(state.last_decision);
        out.evals.push(evaluate_instance(
            service,
            slo,
            &instance.group,
            at_ms,
            &instance.measurements,
            state,
        ));
    }
    // The instances come ordered by group labels.
    store.retain_instances(&StateStore::key(&service.service, &slo.name), |g| {
        out.evals.binary_search_by(|e| e.group.cmp(g)).is_ok()
    });
    out
}

/// Pure: turns the measurements at `at_ms` of an SLO without groups into its evaluation,
/// stepping its state.
pub fn evaluate_slo(
    service: &ServiceSpec,
    slo: &SloSpec,
    at_ms: i64,
    measurements: &[(Dimension, Result<Measurement, SourceError>)],
    state: &mut SloState,
) -> Evaluation {
    evaluate_instance(
        service,
        slo,
        &GroupLabels::new(),
        at_ms,
        measurements,
        state,
    )
}

/// One SLO instance (one group's, or an SLO's without groups) at `at_ms`.
fn evaluate_instance(
    service: &ServiceSpec,
    slo: &SloSpec,
    group: &GroupLabels,
    at_ms: i64,
    measurements: &[(Dimension, Result<Measurement, SourceError>)],
    state: &mut SloState,
) -> Evaluation {
    let mut sheet = Worksheet::default();
    let decision = step_slo(slo, at_ms, measurements, state, &mut sheet);
    sheet_evaluation(service, slo, group, at_ms, measurements, &sheet, decision)
}

/// The numbers of one SLO's evaluation at one instant, before they become an `Evaluation`:
/// `step_slo` fills it, `sheet_evaluation` reports it. Its buffers are reused from one
/// instant to the next by a replay, which reports only the instants it keeps.
#[derive(Debug, Default)]
pub(crate) struct Worksheet {
    dims: [DimSheet; 2],
    /// Whether the instant is inside a maintenance window of the SLO.
    maintenance: bool,
}

#[derive(Debug)]
struct DimSheet {
    /// One per measured window (`DimPlan::windows`).
    values: Vec<WindowValue>,
    /// One per matrix window; latency only.
    quantiles: Vec<Option<f64>>,
    /// One per matrix rule.
    statuses: Vec<RuleStatus>,
    decision: Decision,
    /// How long the dimension has been without data, while it is (`no_data` policy only).
    no_data_for: Option<i64>,
    /// Scratch: one window's normalized buckets.
    buckets: Vec<Bucket>,
}

impl Default for DimSheet {
    fn default() -> Self {
        DimSheet {
            values: Vec::new(),
            quantiles: Vec::new(),
            statuses: Vec::new(),
            decision: Decision::NoData,
            no_data_for: None,
            buckets: Vec::new(),
        }
    }
}

/// Evaluates one SLO at `at_ms` into `sheet`, stepping its timers; returns its decision.
pub(crate) fn step_slo(
    slo: &SloSpec,
    at_ms: i64,
    measurements: &[(Dimension, Result<Measurement, SourceError>)],
    timers: &mut impl TimerStore,
    sheet: &mut Worksheet,
) -> Decision {
    timers.begin(at_ms);
    sheet.maintenance = slo.in_maintenance(at_ms);
    for (dim, goal, result) in defined(slo, measurements) {
        step_dimension(
            slo,
            dim,
            goal.budget,
            result.as_ref().ok(),
            at_ms,
            sheet.maintenance,
            timers,
            &mut sheet.dims[dim.index()],
        );
    }
    let decision = Decision::combine(
        defined(slo, measurements).map(|(dim, _, _)| sheet.dims[dim.index()].decision),
    );
    // The last decision is what webhook receivers last heard of: nothing is sent inside a
    // maintenance window, so the first evaluation after it compares with the one before it.
    if !sheet.maintenance {
        timers.set_last_decision(decision);
    }
    decision
}

/// What a dimension the SLO has aims at.
#[derive(Debug, Clone, Copy)]
struct Goal {
    objective: f64,
    budget: f64,
}

/// The measurements of dimensions the SLO has, with their goal. Measurements come from
/// callers (the library's `evaluate_slo`), so one for a dimension the SLO lacks is possible:
/// `sheet_evaluation` reports it and it is otherwise ignored.
fn defined<'m>(
    slo: &SloSpec,
    measurements: &'m [(Dimension, Result<Measurement, SourceError>)],
) -> impl Iterator<Item = (Dimension, Goal, &'m Result<Measurement, SourceError>)> {
    measurements.iter().filter_map(|(dim, result)| {
        let goal = Goal {
            objective: slo.objective(*dim)?,
            budget: slo.budget(*dim)?,
        };
        Some((*dim, goal, result))
    })
}

/// What is wrong with a measurement that does not fit its SLO, if anything: it counts as no
/// data for that dimension instead of stopping the evaluation.
fn misfit(slo: &SloSpec, dim: Dimension, measurement: &Measurement) -> Option<String> {
    let delivered = measurement.dimension();
    if slo.objective(dim).is_none() || slo.budget(dim).is_none() {
        Some(format!(
            "measured, but the SLO has no {} objective; ignored",
            dim.as_str()
        ))
    } else if delivered != dim {
        Some(format!(
            "the source delivered {} rates; counted as no data",
            delivered.as_str()
        ))
    } else {
        None
    }
}

/// One dimension at `at_ms`. Inside a maintenance window (`maintenance`) no rule fires and
/// every timer of the dimension is cleared: `for` and `no_data.after` count again from the
/// first evaluation after the window, and nothing held before it outlives it.
#[allow(clippy::too_many_arguments)]
fn step_dimension(
    slo: &SloSpec,
    dim: Dimension,
    budget: f64,
    measurement: Option<&Measurement>,
    at_ms: i64,
    maintenance: bool,
    timers: &mut impl TimerStore,
    sheet: &mut DimSheet,
) {
    let rules = slo.matrix(dim).unwrap_or(&[]);
    let latency = slo.latency.as_ref().filter(|_| dim == Dimension::Latency);
    let plan = slo.plan().dim(dim);
    let DimSheet {
        values,
        quantiles,
        statuses,
        decision,
        no_data_for,
        buckets,
    } = sheet;
    values.clear();
    quantiles.clear();
    statuses.clear();
    values.reserve(plan.windows.len());
    quantiles.reserve(plan.matrix_windows);
    statuses.reserve(rules.len());

    match (measurement, latency) {
        (Some(Measurement::Error(m)), None) => {
            for (i, &seconds) in plan.seconds.iter().enumerate() {
                let rates = m.get(i).copied().unwrap_or_default();
                values.push(sli::error_window(&rates, budget, seconds));
            }
        }
        (Some(Measurement::Latency(m)), Some(l)) => {
            let threshold = l.threshold_seconds();
            for (i, &seconds) in plan.seconds.iter().enumerate() {
                let Some(h) = m.get(i) else {
                    values.push(WindowValue::MISSING);
                    if i < plan.matrix_windows {
                        quantiles.push(None);
                    }
                    continue;
                };
                if l.is_native() {
                    values.push(sli::native_latency_value(
                        h.count, h.fraction, budget, seconds,
                    ));
                    if i < plan.matrix_windows {
                        quantiles.push(h.quantile.filter(|q| q.is_finite()));
                    }
                    continue;
                }
                // Normalized once, for both the good rate and the quantile.
                let normalized = sli::normalize_into(&h.buckets, buckets);
                values.push(sli::latency_value(
                    h.count,
                    normalized.then_some(buckets.as_slice()),
                    threshold,
                    budget,
                    seconds,
                ));
                if i < plan.matrix_windows {
                    quantiles.push(if normalized {
                        sli::quantile_normalized(l.quantile, buckets)
                    } else {
                        None
                    });
                }
            }
        }
        _ => {
            values.resize(plan.windows.len(), WindowValue::MISSING);
            if latency.is_some() {
                quantiles.resize(plan.matrix_windows, None);
            }
        }
    }

    let matrix = &values[..plan.matrix_windows];
    // Without rules (an empty matrix) there is no matrix window: the period tells whether
    // the dimension has data.
    let watched = if matrix.is_empty() {
        &values[..]
    } else {
        matrix
    };
    let all_null = watched.iter().all(|v| v.burn.is_none());
    timers.retain(dim, plan);
    let mut counted = Decision::Ok;
    for (i, (rule, rp)) in rules.iter().zip(&plan.rules).enumerate() {
        let firing = fires(
            rule.burn,
            matrix[rp.long].burn,
            rp.short.map(|s| matrix[s].burn),
            matrix[rp.long].events,
            slo.min_events,
        );
        let timer = timers.rule(dim, plan, i);
        let status = if maintenance {
            *timer = RuleTimers::default();
            if firing {
                RuleStatus::Suppressed
            } else {
                RuleStatus::Idle
            }
        } else {
            timer.step(at_ms, firing, rule.wait(slo).millis(), slo.hold.millis())
        };
        if status.counts() {
            counted = Decision::combine([counted, rule.decision]);
        }
        statuses.push(status);
    }
    let since = timers.no_data_since(dim);
    *no_data_for = match &slo.no_data {
        Some(_) => step_no_data(since, at_ms, all_null && !maintenance),
        None => {
            *since = None;
            None
        }
    };
    *decision = match (&slo.no_data, *no_data_for) {
        _ if !all_null => counted,
        (Some(policy), Some(t)) if t >= policy.after.millis() => policy.decision,
        _ => Decision::NoData,
    };
}

/// The `Evaluation` of the instant `sheet` holds (`step_slo` on the same measurements).
pub(crate) fn sheet_evaluation(
    service: &ServiceSpec,
    slo: &SloSpec,
    group: &GroupLabels,
    at_ms: i64,
    measurements: &[(Dimension, Result<Measurement, SourceError>)],
    sheet: &Worksheet,
    decision: Decision,
) -> Evaluation {
    let mut eval = Evaluation {
        time: format_time(at_ms),
        service: service.service.clone(),
        slo: slo.name.clone(),
        group: group.clone(),
        labels: service.labels.clone(),
        decision,
        maintenance: if sheet.maintenance {
            slo.maintenance_reason(at_ms)
        } else {
            None
        },
        previous: None,
        error: None,
        latency: None,
        errors: Vec::new(),
        at_ms,
    };
    for (dim, result) in measurements {
        match result {
            Err(e) => eval
                .errors
                .push(format!("{} SLI: {}", dim.as_str(), e.message)),
            Ok(m) => {
                if let Some(why) = misfit(slo, *dim, m) {
                    eval.errors.push(format!("{} SLI: {why}", dim.as_str()));
                }
            }
        }
    }
    for (dim, goal, _) in defined(slo, measurements) {
        let report = dimension_report(slo, dim, goal, &sheet.dims[dim.index()]);
        match dim {
            Dimension::Error => eval.error = Some(report),
            Dimension::Latency => eval.latency = Some(report),
        }
    }
    eval
}

fn dimension_report(
    slo: &SloSpec,
    dim: Dimension,
    goal: Goal,
    sheet: &DimSheet,
) -> DimensionReport {
    let rules = slo.matrix(dim).unwrap_or(&[]);
    let latency = slo.latency.as_ref().filter(|_| dim == Dimension::Latency);
    let plan = slo.plan().dim(dim);
    let windows = plan.matrix_windows();
    let by_window = |value: &dyn Fn(usize) -> Option<f64>| -> WindowMap<Option<f64>> {
        WindowMap(
            windows
                .iter()
                .enumerate()
                .map(|(i, w)| (w.as_str().to_owned(), value(i)))
                .collect(),
        )
    };
    let pick = |wanted: RuleStatus| -> Vec<RuleRef> {
        rules
            .iter()
            .zip(&sheet.statuses)
            .filter(|(_, s)| **s == wanted)
            .map(|(rule, _)| RuleRef::from(rule))
            .collect()
    };
    DimensionReport {
        decision: sheet.decision,
        objective: goal.objective,
        threshold_seconds: latency.map(|l| l.threshold_seconds()),
        quantile: latency.map(|l| l.quantile),
        quantile_seconds: latency.map(|_| by_window(&|i| sheet.quantiles[i])),
        burn: by_window(&|i| sheet.values[i].burn),
        events: by_window(&|i| sheet.values[i].events),
        no_traffic: windows
            .iter()
            .zip(&sheet.values)
            .filter(|(_, v)| v.no_traffic)
            .map(|(w, _)| w.as_str().to_owned())
            .collect(),
        fired: pick(RuleStatus::Fired),
        pending: pick(RuleStatus::Pending),
        held: pick(RuleStatus::Held),
        suppressed: pick(RuleStatus::Suppressed),
        no_data_for: sheet.no_data_for.map(crate::duration::format_millis),
        // A calendar period's budget is measured over its elapsed part afterwards.
        budget_remaining: plan
            .period
            .and_then(|p| sheet.values[p].bad_ratio)
            .map(|ratio| sli::budget_remaining(ratio, goal.budget)),
        budget_since: None,
        contributors: None,
        exemplars: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ErrorRates;
    use crate::engine::hysteresis::SloState;
    use crate::spec::load::load_str;
    use std::path::Path;

    #[test]
    fn groups_keep_their_own_timers_and_lose_them_when_gone() {
        let yaml = "apiVersion: burnrate/v1\nservice: edge\nslos:\n  - name: api\n    \
                    for: 2m\n    group_by: [cluster]\n    error:\n      objective: 99\n      \
                    bad: errors_total\n      total: requests_total\n    matrix:\n      error:\n        \
                    - {decision: warn, burn: 2, long: 1h}\n";
        let (spec, diagnostics) = load_str(Path::new("edge.yaml"), yaml);
        let spec = spec.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let slo = &spec.slos[0];
        let group = |c: &str| GroupLabels::from([("cluster".to_string(), c.to_string())]);
        // `eu1` fails 5% (burn 5), `us1` none; both windows (1h, the 30d period) alike.
        let rates = |bad: f64| {
            Measurement::Error(vec![
                ErrorRates {
                    bad: Some(bad),
                    total: Some(100.0)
                };
                2
            ])
        };
        let measured = |groups: &[(&str, f64)]| {
            vec![(
                Dimension::Error,
                Ok(Grouped(
                    groups
                        .iter()
                        .map(|&(c, bad)| (group(c), rates(bad)))
                        .collect(),
                )),
            )]
        };
        let mut store = StateStore::default();
        let decisions = |e: &SloEvaluation| -> Vec<(String, Decision)> {
            e.evals
                .iter()
                .map(|e| (e.group["cluster"].clone(), e.decision))
                .collect()
        };
        let first = evaluate_groups(
            &spec,
            slo,
            0,
            measured(&[("eu1", 5.0), ("us1", 0.0)]),
            &mut store,
        );
        assert_eq!(
            decisions(&first),
            [("eu1".into(), Decision::Ok), ("us1".into(), Decision::Ok)],
            "eu1's rule is pending"
        );
        let later = evaluate_groups(
            &spec,
            slo,
            120_000,
            measured(&[("eu1", 5.0), ("us1", 0.0)]),
            &mut store,
        );
        assert_eq!(decisions(&later)[0], ("eu1".into(), Decision::Warn));
        assert_eq!(later.previous, [Some(Decision::Ok), Some(Decision::Ok)]);
        // us1 is gone: its state goes with it; eu1 keeps its timers.
        evaluate_groups(&spec, slo, 180_000, measured(&[("eu1", 5.0)]), &mut store);
        assert_eq!(store.groups_of("edge", "api"), [group("eu1")]);
        // A failed query keeps the known groups, without data.
        let failed = evaluate_groups(
            &spec,
            slo,
            240_000,
            vec![(Dimension::Error, Err(SourceError::failed("down")))],
            &mut store,
        );
        assert_eq!(decisions(&failed), [("eu1".into(), Decision::NoData)]);
        assert_eq!(failed.evals[0].errors, ["error SLI: down"]);
    }

    /// An SLO with one `circuit_break` rule over 1h (and the 30d period), `hold: 10m`,
    /// `for: 2m`, the given `no_data` policy and maintenance windows (`extra` lines).
    fn policy_slo(extra: &str) -> ServiceSpec {
        let yaml = format!(
            "apiVersion: burnrate/v1\nservice: edge\nslos:\n  - name: api\n    for: 2m\n    \
             hold: 10m\n    error:\n      objective: 99\n      bad: errors_total\n      \
             total: requests_total\n    matrix:\n      error:\n        \
             - {{decision: circuit_break, burn: 10, long: 1h}}\n{extra}"
        );
        let (spec, diagnostics) = load_str(Path::new("edge.yaml"), &yaml);
        spec.unwrap_or_else(|| panic!("{diagnostics:?}"))
    }

    /// The error dimension measured with `bad` of 100 events a second, both windows alike;
    /// `None`: every window without series.
    fn error_rates(bad: Option<f64>) -> [(Dimension, Result<Measurement, SourceError>); 1] {
        let windows = match bad {
            Some(bad) => vec![
                ErrorRates {
                    bad: Some(bad),
                    total: Some(100.0)
                };
                2
            ],
            None => Vec::new(),
        };
        [(Dimension::Error, Ok(Measurement::Error(windows)))]
    }

    const MIN: i64 = 60_000;

    #[test]
    fn an_slo_without_rules_decides_ok_on_data_and_no_data_without() {
        let yaml = "apiVersion: burnrate/v1\nservice: edge\nslos:\n  - name: quiet\n    \
                    error:\n      objective: 99\n      bad: errors_total\n      total: \
                    requests_total\n    matrix:\n      error: []\n";
        let (spec, diagnostics) = load_str(Path::new("edge.yaml"), yaml);
        let spec = spec.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let slo = &spec.slos[0];
        assert_eq!(slo.windows(Dimension::Error), []);
        let mut state = SloState::default();
        // Only the period is measured: all bad, still ok (nothing may alert), with its budget.
        let rates = [(
            Dimension::Error,
            Ok(Measurement::Error(vec![ErrorRates {
                bad: Some(100.0),
                total: Some(100.0),
            }])),
        )];
        let e = evaluate_slo(&spec, slo, 0, &rates, &mut state);
        assert_eq!(e.decision, Decision::Ok);
        assert_eq!(e.error.unwrap().budget_remaining, Some(-99.0));
        let e = evaluate_slo(&spec, slo, MIN, &error_rates(None), &mut state);
        assert_eq!(e.decision, Decision::NoData);
    }

    #[test]
    fn no_data_escalates_after_the_policys_time_and_data_resets_it() {
        let spec = policy_slo("    no_data: {after: 15m, decision: warn}\n");
        let slo = &spec.slos[0];
        let mut state = SloState::default();
        let mut at = |t: i64, bad: Option<f64>| {
            let e = evaluate_slo(&spec, slo, t * MIN, &error_rates(bad), &mut state);
            let d = e.error.expect("error dimension");
            (e.decision, d.no_data_for)
        };
        assert_eq!(at(0, Some(0.0)), (Decision::Ok, None));
        // Counted from the first evaluation without data.
        assert_eq!(at(1, None), (Decision::NoData, Some("0s".into())));
        assert_eq!(at(15, None), (Decision::NoData, Some("14m".into())));
        assert_eq!(at(16, None), (Decision::Warn, Some("15m".into())));
        assert_eq!(at(40, None), (Decision::Warn, Some("39m".into())));
        // Data is back: the dimension decides on it again, and the clock starts over.
        assert_eq!(at(41, Some(0.0)), (Decision::Ok, None));
        assert_eq!(at(42, None), (Decision::NoData, Some("0s".into())));
        assert_eq!(at(56, None), (Decision::NoData, Some("14m".into())));
        // Without a policy nothing is counted or reported.
        let plain = policy_slo("");
        let mut state = SloState::default();
        for t in [0, 20, 40] {
            let e = evaluate_slo(
                &plain,
                &plain.slos[0],
                t * MIN,
                &error_rates(None),
                &mut state,
            );
            assert_eq!(e.decision, Decision::NoData);
            assert_eq!(e.error.unwrap().no_data_for, None);
        }
        assert_eq!(state.no_data_since, Default::default());
    }

    #[test]
    fn maintenance_fires_nothing_releases_holds_and_restarts_every_timer() {
        // Maintenance over minutes 10..20 and, overlapping, 15..25; no data for 15m warns.
        let start = |m: i64| crate::time::format_time(m * MIN);
        let spec = policy_slo(&format!(
            "    no_data: {{after: 15m, decision: warn}}\n    maintenance:\n      \
             - {{start: {}, end: {}, reason: db migration}}\n      \
             - {{start: {}, end: {}, reason: failover drill}}\n",
            start(10),
            start(20),
            start(15),
            start(25)
        ));
        let slo = &spec.slos[0];
        let mut state = SloState::default();
        let mut at = |t: i64, bad: Option<f64>| {
            evaluate_slo(&spec, slo, t * MIN, &error_rates(bad), &mut state)
        };
        // Burning (burn 20) from minute 0: circuit_break once `for` has passed.
        assert_eq!(at(0, Some(20.0)).decision, Decision::Ok);
        let burning = at(2, Some(20.0));
        assert_eq!(
            (burning.decision, burning.maintenance),
            (Decision::CircuitBreak, None)
        );
        // Inside: nothing fires (the rule is reported as suppressed), nothing is held.
        let inside = at(10, Some(20.0));
        assert_eq!(inside.decision, Decision::Ok);
        assert_eq!(inside.maintenance.as_deref(), Some("db migration"));
        let dim = inside.error.unwrap();
        assert!(dim.fired.is_empty() && dim.held.is_empty() && dim.pending.is_empty());
        assert_eq!(dim.suppressed.len(), 1);
        assert_eq!(
            at(16, Some(20.0)).maintenance.as_deref(),
            Some("db migration; failover drill")
        );
        // Without data inside: no_data, never the policy's decision, and no clock running.
        let blind = at(17, None);
        assert_eq!(blind.decision, Decision::NoData);
        assert_eq!(blind.error.unwrap().no_data_for, None);
        let blind = at(24, None);
        assert_eq!(blind.decision, Decision::NoData);
        // After: the no-data clock counts from the first evaluation after the window ...
        assert_eq!(
            at(25, None).error.unwrap().no_data_for.as_deref(),
            Some("0s")
        );
        assert_eq!(at(39, None).decision, Decision::NoData);
        assert_eq!(at(40, None).decision, Decision::Warn);
        // ... and `for` from the first firing after it; the hold from before is gone.
        assert_eq!(at(41, Some(20.0)).decision, Decision::Ok);
        assert_eq!(at(43, Some(20.0)).decision, Decision::CircuitBreak);
        // The last decision is what receivers heard last: not the ones inside the window.
        assert_eq!(state.last_decision, Some(Decision::CircuitBreak));
        let mut state = SloState::default();
        for t in [0, 2, 12] {
            evaluate_slo(&spec, slo, t * MIN, &error_rates(Some(20.0)), &mut state);
        }
        assert_eq!(
            state.last_decision,
            Some(Decision::CircuitBreak),
            "unchanged inside"
        );
    }

    #[test]
    fn measurements_that_do_not_fit_the_slo_are_errors_not_panics() {
        let yaml = "apiVersion: burnrate/v1\nservice: edge\nslos:\n  - name: api\n    \
                    error:\n      objective: 99.9\n      bad: errors_total\n      \
                    total: requests_total\n";
        let (spec, diagnostics) = load_str(Path::new("edge.yaml"), yaml);
        let spec = spec.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let slo = &spec.slos[0];
        let rates = ErrorRates {
            bad: Some(1.0),
            total: Some(100.0),
        };
        let measurements = [
            // A latency measurement for an SLO without a latency objective.
            (
                Dimension::Latency,
                Ok(Measurement::Latency(vec![Default::default()])),
            ),
            // Error rates, but too few windows and of the wrong kind after them.
            (Dimension::Error, Ok(Measurement::Error(vec![rates]))),
        ];
        let eval = evaluate_slo(&spec, slo, 0, &measurements, &mut SloState::default());
        assert!(eval.latency.is_none());
        assert!(eval.error.is_some());
        assert_eq!(
            eval.errors,
            ["latency SLI: measured, but the SLO has no latency objective; ignored"]
        );
        let wrong_kind = [(
            Dimension::Error,
            Ok(Measurement::Latency(vec![Default::default()])),
        )];
        let eval = evaluate_slo(&spec, slo, 0, &wrong_kind, &mut SloState::default());
        assert_eq!(eval.decision, Decision::NoData);
        assert_eq!(
            eval.errors,
            ["error SLI: the source delivered latency rates; counted as no data"]
        );
    }
}
