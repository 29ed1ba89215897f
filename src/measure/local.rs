//! Local measurement: an SLO's planned queries evaluated by burnrate's own PromQL evaluator
//! over raw samples (a history file, raw samples fetched once from a backend, or the
//! daemon's growing history), decoded by the same decoder as the backend's answers.

use super::columns::{StepRates, TaggedSeries, decode_dimension, decode_instant_grouped, key_of};
use super::plan::{DimensionQuery, MeasurePlan};
use crate::engine::{Grouped, SourceError};
use crate::history::History;
use crate::promql::{
    Flavor, MemStorage, QueryError, SeriesSamples, Steps, Storage, Value, eval_instant,
    eval_instants,
};
use crate::spec::SloSpec;

/// The series of a history as an evaluator's storage.
pub fn storage_of(history: &History) -> MemStorage {
    let mut storage = MemStorage::new();
    for series in &history.series {
        storage.push_series(
            series.labels.clone(),
            SeriesSamples::from_samples(series.samples.iter().map(|s| (s.t_ms, s.value))),
        );
    }
    storage
}

/// Every dimension of `slo` at every step, evaluated locally as the backend would answer an
/// instant query at each step (what `check` and the daemon see; VictoriaMetrics answers a
/// range query differently). Fails when a dimension's query is outside the evaluator's
/// subset (`MeasurePlan::not_local`) or its evaluation fails.
pub fn step_rates<S: Storage + ?Sized>(
    plan: &MeasurePlan,
    slo: &SloSpec,
    storage: &S,
    steps: Steps,
    flavor: Flavor,
) -> Result<StepRates, QueryError> {
    let mut rates = StepRates::new(steps);
    for dq in plan.dims() {
        let query = dq.local.as_ref().map_err(Clone::clone)?;
        let mut series = eval_instants(query, storage, steps, flavor)?;
        let columns = decode_dimension(
            dq.dimension,
            slo.measured_windows(dq.dimension),
            steps.count(),
            &slo.group_by,
            series.iter_mut().filter_map(|s| {
                Some(TaggedSeries {
                    key: key_of(&s.labels)?,
                    labels: &s.labels,
                    values: std::mem::take(&mut s.values),
                })
            }),
        );
        rates.set(dq.dimension, columns);
    }
    Ok(rates)
}

/// One dimension at one instant, evaluated locally (the windows of `dq`), per group.
pub(crate) fn measure_instant<S: Storage + ?Sized>(
    dq: &DimensionQuery,
    storage: &S,
    at_ms: i64,
    flavor: Flavor,
) -> Result<Grouped, SourceError> {
    let query = dq
        .local
        .as_ref()
        .map_err(|e| SourceError::failed(e.message.clone()))?;
    match eval_instant(query, storage, at_ms, flavor) {
        Ok(Value::Vector(samples)) => Ok(decode_instant_grouped(
            dq.dimension,
            &dq.windows,
            &dq.group_by,
            samples
                .iter()
                .filter_map(|(labels, v)| Some((key_of(labels)?, labels, *v))),
        )),
        Ok(_) => Err(SourceError::rejected(
            "the query did not evaluate to an instant vector",
        )),
        Err(e) => Err(SourceError::rejected(e.message)),
    }
}
