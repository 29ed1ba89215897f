//! Range measurement: the backend answers each dimension's query at every step of a replay
//! with `query_range`, for SLIs the local evaluator cannot answer (or when asked to).

use super::columns::{Column, StepRates, TaggedSeries, decode_dimension, key_of};
use super::plan::MeasurePlan;
use crate::backend::PromClient;
use crate::engine::SourceError;
use crate::promql::Steps;
use crate::spec::SloSpec;

/// Every dimension of `slo` at every step, from `query_range` of the query `check` sends.
pub(crate) async fn step_rates(
    client: &PromClient,
    plan: &MeasurePlan,
    slo: &SloSpec,
    steps: Steps,
) -> Result<StepRates, SourceError> {
    let mut rates = StepRates::new(steps);
    let n = steps.count();
    for dq in plan.dims() {
        let result = client
            .range(&dq.text, steps.start_ms, steps.end_ms, steps.step_ms)
            .await?;
        for w in &result.warnings {
            tracing::warn!(slo = %slo.name, "backend warning: {w}");
        }
        let dense = |points: &[(i64, f64)]| -> Column {
            let mut col = vec![None; n];
            for &(t, v) in points {
                if let Some(i) = steps.index(t) {
                    col[i] = Some(v);
                }
            }
            col
        };
        let columns = decode_dimension(
            dq.dimension,
            &dq.windows,
            n,
            &slo.group_by,
            result.series.iter().filter_map(|s| {
                Some(TaggedSeries {
                    key: key_of(&s.labels)?,
                    labels: &s.labels,
                    values: dense(&s.points),
                })
            }),
        );
        rates.set(dq.dimension, columns);
    }
    Ok(rates)
}
