//! The one evaluation path: measure every dimension of an SLO at an instant, compute burn
//! rates, apply the matrix and the hysteresis machine, and produce an `Evaluation`.
//!
//! `check`, `run` and `backtest` differ only in the `Source` they pass and in what they do
//! with the result, so they cannot disagree about a decision.

use super::hysteresis::{RuleStatus, SloState, StateStore};
use super::matrix::rule_fires;
use super::measure::{Measurement, SourceError};
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
    /// Rates for `windows` (spellings as keys) of one dimension, at `at_ms` (Unix ms).
    fn measure(
        &self,
        service: &ServiceSpec,
        slo: &SloSpec,
        dimension: Dimension,
        windows: &[PromDuration],
        at_ms: i64,
    ) -> impl std::future::Future<Output = Result<Measurement, SourceError>>;
}

/// The windows a dimension needs measured: its matrix windows and the budget period.
pub fn windows_to_measure(slo: &SloSpec, dimension: Dimension) -> Vec<PromDuration> {
    let mut windows = slo.windows(dimension);
    if !windows.iter().any(|w| w.as_str() == slo.period.as_str()) {
        windows.push(slo.period.clone());
    }
    windows
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

/// Measures and evaluates one SLO at `at_ms`: what a replay does at every step.
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
        let windows = windows_to_measure(slo, dim);
        (
            dim,
            source.measure(service, slo, dim, &windows, at_ms).await,
        )
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
    state.begin(at_ms);
    let mut eval = Evaluation {
        time: format_time(at_ms),
        service: service.service.clone(),
        slo: slo.name.clone(),
        labels: service.labels.clone(),
        decision: Decision::NoData,
        previous: None,
        error: None,
        latency: None,
        errors: Vec::new(),
        at_ms,
    };
    for (dim, result) in measurements {
        let measurement = match result {
            Ok(m) => Some(m),
            Err(e) => {
                eval.errors
                    .push(format!("{} SLI: {}", dim.as_str(), e.message));
                None
            }
        };
        let report = evaluate_dimension(slo, *dim, measurement, at_ms, state);
        match dim {
            Dimension::Error => eval.error = Some(report),
            Dimension::Latency => eval.latency = Some(report),
        }
    }
    eval.decision = Decision::combine(eval.dimensions().map(|(_, d)| d.decision));
    state.last_decision = Some(eval.decision);
    eval
}

fn evaluate_dimension(
    slo: &SloSpec,
    dim: Dimension,
    measurement: Option<&Measurement>,
    at_ms: i64,
    state: &mut SloState,
) -> DimensionReport {
    let objective = slo.objective(dim).expect("dimension present");
    let rules = slo.matrix(dim).unwrap_or(&[]);
    let latency = slo.latency.as_ref().filter(|_| dim == Dimension::Latency);
    let windows = slo.windows(dim);

    let value_of = |w: &PromDuration| -> WindowValue {
        let seconds = w.seconds();
        match (measurement, latency) {
            (Some(Measurement::Error(m)), None) => sli::error_window(
                &m.get(w.as_str()).copied().unwrap_or_default(),
                objective,
                seconds,
            ),
            (Some(Measurement::Latency(m)), Some(l)) => sli::latency_window(
                m.get(w.as_str()).unwrap_or(&Default::default()),
                l.threshold_seconds(),
                objective,
                seconds,
            ),
            _ => sli::error_window(&Default::default(), objective, seconds),
        }
    };

    let mut burn = WindowMap::new();
    let mut events = WindowMap::new();
    let mut no_traffic = Vec::new();
    for w in &windows {
        let v = value_of(w);
        burn.insert(w.to_string(), v.burn);
        events.insert(w.to_string(), v.events);
        if v.no_traffic {
            no_traffic.push(w.to_string());
        }
    }
    let budget_remaining = value_of(&slo.period)
        .bad_ratio
        .map(|ratio| sli::budget_remaining(ratio, objective));
    let quantile_seconds = match (measurement, latency) {
        (Some(Measurement::Latency(m)), Some(l)) => Some(
            windows
                .iter()
                .map(|w| {
                    let q = m
                        .get(w.as_str())
                        .and_then(|h| sli::histogram_quantile(l.quantile, &h.buckets));
                    (w.to_string(), q)
                })
                .collect(),
        ),
        (_, Some(_)) => Some(windows.iter().map(|w| (w.to_string(), None)).collect()),
        _ => None,
    };

    let all_null = burn.iter().all(|(_, b)| b.is_none());
    let mut fired = Vec::new();
    let mut pending = Vec::new();
    let mut held = Vec::new();
    let keys: Vec<String> = rules.iter().map(|r| r.key()).collect();
    state.retain_rules(dim.as_str(), &keys);
    for (rule, key) in rules.iter().zip(&keys) {
        let firing = rule_fires(rule, &burn, &events, slo.min_events);
        let status = state.timers(dim.as_str(), key).step(
            at_ms,
            firing,
            slo.for_.millis(),
            slo.hold.millis(),
        );
        match status {
            RuleStatus::Fired => fired.push(RuleRef::from(rule)),
            RuleStatus::Pending => pending.push(RuleRef::from(rule)),
            RuleStatus::Held => held.push(RuleRef::from(rule)),
            RuleStatus::Idle => {}
        }
    }
    let decision = if all_null {
        Decision::NoData
    } else {
        Decision::combine(
            std::iter::once(Decision::Ok).chain(fired.iter().chain(&held).map(|r| r.decision)),
        )
    };
    DimensionReport {
        decision,
        objective,
        threshold_seconds: latency.map(|l| l.threshold_seconds()),
        quantile: latency.map(|l| l.quantile),
        quantile_seconds,
        burn,
        events,
        no_traffic,
        fired,
        pending,
        held,
        budget_remaining,
    }
}
