//! The one evaluation path: measure every dimension of an SLO at an instant, compute burn
//! rates, apply the matrix and the hysteresis machine, and produce an `Evaluation`.
//!
//! `check`, `run` and `backtest` differ only in the `Source` they pass and in what they do
//! with the result, so they cannot disagree about a decision. The work is split in two:
//! `step_slo` computes the numbers, statuses and decision into a `Worksheet`, and
//! `sheet_evaluation` turns them into the `Evaluation`; a replay runs the first at every
//! step and the second only for the steps it keeps.

use super::hysteresis::{RuleStatus, SloState, StateStore, TimerStore};
use super::matrix::fires;
use super::measure::{Bucket, Measurement, SourceError};
use super::report::{DimensionReport, Evaluation, RuleRef, WindowMap};
use super::sli::{self, WindowValue};
use crate::decision::Decision;
use crate::duration::PromDuration;
use crate::spec::{Dimension, ServiceSpec, SloSpec};
use crate::time::format_time;
use futures::StreamExt;

/// Anything that can measure the rates of a dimension at an instant: the Prometheus HTTP
/// API, or the local rate engine over recorded history.
pub trait Source {
    /// Rates for `windows` of one dimension, at `at_ms` (Unix ms), one entry per window in
    /// the order of `windows`.
    fn measure(
        &self,
        service: &ServiceSpec,
        slo: &SloSpec,
        dimension: Dimension,
        windows: &[PromDuration],
        at_ms: i64,
    ) -> impl std::future::Future<Output = Result<Measurement, SourceError>>;

    /// `measure`, into `out`: a source may reuse the buffers of the measurement already
    /// there (a replay measures at every step).
    fn measure_into(
        &self,
        service: &ServiceSpec,
        slo: &SloSpec,
        dimension: Dimension,
        windows: &[PromDuration],
        at_ms: i64,
        out: &mut Result<Measurement, SourceError>,
    ) -> impl std::future::Future<Output = ()> {
        async move { *out = self.measure(service, slo, dimension, windows, at_ms).await }
    }
}

/// The windows a dimension needs measured: its matrix windows and the budget period.
pub fn windows_to_measure(slo: &SloSpec, dimension: Dimension) -> Vec<PromDuration> {
    slo.measured_windows(dimension).to_vec()
}

/// Measures and evaluates every SLO of every spec at `at_ms`, at most `concurrency`
/// SLOs at a time, in spec order.
pub async fn evaluate_all<S: Source>(
    source: &S,
    specs: &[ServiceSpec],
    at_ms: i64,
    state: &mut StateStore,
    concurrency: usize,
) -> Vec<Evaluation> {
    let jobs: Vec<(&ServiceSpec, &SloSpec)> = specs
        .iter()
        .flat_map(|s| s.slos.iter().map(move |slo| (s, slo)))
        .collect();
    let measured: Vec<_> = futures::stream::iter(
        jobs.iter()
            .map(|&(service, slo)| measure_slo(source, service, slo, at_ms)),
    )
    .buffered(concurrency.max(1))
    .collect()
    .await;
    jobs.iter()
        .zip(measured)
        .map(|(&(service, slo), measurements)| {
            let slo_state = state.slo(&service.service, &slo.name);
            evaluate_slo(service, slo, at_ms, &measurements, slo_state)
        })
        .collect()
}

/// Measures and evaluates one SLO at `at_ms`. A replay does this at every step, through
/// `step_slo` and `sheet_evaluation` with buffers kept between steps (`replay_slo`).
pub async fn evaluate_one<S: Source>(
    source: &S,
    service: &ServiceSpec,
    slo: &SloSpec,
    at_ms: i64,
    state: &mut SloState,
) -> Evaluation {
    let measurements = measure_slo(source, service, slo, at_ms).await;
    evaluate_slo(service, slo, at_ms, &measurements, state)
}

/// Every dimension of one SLO, measured concurrently.
pub async fn measure_slo<S: Source>(
    source: &S,
    service: &ServiceSpec,
    slo: &SloSpec,
    at_ms: i64,
) -> Vec<(Dimension, Result<Measurement, SourceError>)> {
    futures::future::join_all(slo.dimensions().map(|dim| async move {
        let windows = slo.measured_windows(dim);
        (dim, source.measure(service, slo, dim, windows, at_ms).await)
    }))
    .await
}

/// Pure: turns one SLO's measurements at `at_ms` into its evaluation, stepping its state.
pub fn evaluate_slo(
    service: &ServiceSpec,
    slo: &SloSpec,
    at_ms: i64,
    measurements: &[(Dimension, Result<Measurement, SourceError>)],
    state: &mut SloState,
) -> Evaluation {
    let mut sheet = Worksheet::default();
    let decision = step_slo(slo, at_ms, measurements, state, &mut sheet);
    sheet_evaluation(service, slo, at_ms, measurements, &sheet, decision)
}

/// The numbers of one SLO's evaluation at one instant, before they become an `Evaluation`:
/// `step_slo` fills it, `sheet_evaluation` reports it. Its buffers are reused from one
/// instant to the next by a replay, which reports only the instants it keeps.
#[derive(Debug, Default)]
pub(crate) struct Worksheet {
    dims: [DimSheet; 2],
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
    for (dim, result) in measurements {
        step_dimension(
            slo,
            *dim,
            result.as_ref().ok(),
            at_ms,
            timers,
            &mut sheet.dims[dim.index()],
        );
    }
    let decision = Decision::combine(
        measurements
            .iter()
            .map(|(dim, _)| sheet.dims[dim.index()].decision),
    );
    timers.set_last_decision(decision);
    decision
}

fn step_dimension(
    slo: &SloSpec,
    dim: Dimension,
    measurement: Option<&Measurement>,
    at_ms: i64,
    timers: &mut impl TimerStore,
    sheet: &mut DimSheet,
) {
    let objective = slo.objective(dim).expect("dimension present");
    let rules = slo.matrix(dim).unwrap_or(&[]);
    let latency = slo.latency.as_ref().filter(|_| dim == Dimension::Latency);
    let plan = slo.plan().dim(dim);
    let DimSheet {
        values,
        quantiles,
        statuses,
        decision,
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
                values.push(sli::error_window(&rates, objective, seconds));
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
                // Normalized once, for both the good rate and the quantile.
                let normalized = sli::normalize_into(&h.buckets, buckets);
                values.push(sli::latency_value(
                    h.count,
                    normalized.then_some(buckets.as_slice()),
                    threshold,
                    objective,
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
    let all_null = matrix.iter().all(|v| v.burn.is_none());
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
        let status =
            timers
                .rule(dim, plan, i)
                .step(at_ms, firing, slo.for_.millis(), slo.hold.millis());
        if status.counts() {
            counted = Decision::combine([counted, rule.decision]);
        }
        statuses.push(status);
    }
    *decision = if all_null { Decision::NoData } else { counted };
}

/// The `Evaluation` of the instant `sheet` holds (`step_slo` on the same measurements).
pub(crate) fn sheet_evaluation(
    service: &ServiceSpec,
    slo: &SloSpec,
    at_ms: i64,
    measurements: &[(Dimension, Result<Measurement, SourceError>)],
    sheet: &Worksheet,
    decision: Decision,
) -> Evaluation {
    let mut eval = Evaluation {
        time: format_time(at_ms),
        service: service.service.clone(),
        slo: slo.name.clone(),
        labels: service.labels.clone(),
        decision,
        previous: None,
        error: None,
        latency: None,
        errors: Vec::new(),
        at_ms,
    };
    for (dim, result) in measurements {
        if let Err(e) = result {
            eval.errors
                .push(format!("{} SLI: {}", dim.as_str(), e.message));
        }
        let report = dimension_report(slo, *dim, &sheet.dims[dim.index()]);
        match dim {
            Dimension::Error => eval.error = Some(report),
            Dimension::Latency => eval.latency = Some(report),
        }
    }
    eval
}

fn dimension_report(slo: &SloSpec, dim: Dimension, sheet: &DimSheet) -> DimensionReport {
    let objective = slo.objective(dim).expect("dimension present");
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
        objective,
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
        budget_remaining: sheet.values[plan.period]
            .bad_ratio
            .map(|ratio| sli::budget_remaining(ratio, objective)),
    }
}
