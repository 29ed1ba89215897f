//! Explaining the dimensions that burn: measuring their breakdowns and asking for exemplars
//! of their bad events, for `check`, `run` and `backtest` alike.
//!
//! Only what burns is explained, after the evaluation: one breakdown query per SLO,
//! dimension and deciding window (every group of the SLO at once, as the evaluation's own
//! query), and one exemplar request per SLO, dimension and window. A breakdown is the same
//! kind of tagged query as every measurement (`DimensionQuery::breakdown`), answered by the
//! same sources (the local evaluator over raw samples, or the backend) and decoded by the
//! same decoder. Nothing here can change a decision: a failed breakdown or exemplar
//! request leaves the evaluation without them and is logged, once for exemplars.

use super::columns::{decode_instant_grouped, key_of};
use super::local::measure_instant;
use super::plan::DimensionQuery;
use crate::backend::PromClient;
use crate::engine::explain::{self, ExemplarSeries, Wanted};
use crate::engine::{Evaluation, Grouped, SourceError};
use crate::promql::{Flavor, Storage};
use crate::spec::{Dimension, ErrorEvents, SloSpec};
use std::sync::atomic::{AtomicBool, Ordering};

/// Where breakdowns, exemplars and other measurements after the evaluation (a calendar
/// period's budget, `measure::elapsed`) come from.
pub(crate) trait Drilldown {
    /// A query's answer at `at_ms`, per group (and breakdown label set).
    fn measure(
        &self,
        query: &DimensionQuery,
        at_ms: i64,
    ) -> impl std::future::Future<Output = Result<Grouped, SourceError>>;

    /// The exemplars stored in `[start, end]` on the series `selector` selects; none where
    /// the source keeps none.
    fn exemplars(
        &self,
        selector: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> impl std::future::Future<Output = Result<Vec<ExemplarSeries>, SourceError>>;
}

/// Raw samples evaluated locally and, where there is one, the backend: a history file (no
/// backend, so no exemplars), raw samples fetched for a backtest, or the backend alone.
pub(crate) struct Sources<'a> {
    pub(crate) local: Option<(&'a dyn Storage, Flavor)>,
    pub(crate) backend: Option<&'a PromClient>,
}

impl Drilldown for Sources<'_> {
    async fn measure(&self, query: &DimensionQuery, at_ms: i64) -> Result<Grouped, SourceError> {
        // The local evaluator first: it holds the samples the evaluation itself used.
        match (self.local, self.backend) {
            (Some((storage, flavor)), None) => measure_instant(query, storage, at_ms, flavor),
            (Some((storage, flavor)), Some(_)) if query.local.is_ok() => {
                measure_instant(query, storage, at_ms, flavor)
            }
            (_, Some(client)) => backend_measure(client, query, at_ms).await,
            (None, None) => Err(SourceError::failed("no source to measure with")),
        }
    }

    async fn exemplars(
        &self,
        selector: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<ExemplarSeries>, SourceError> {
        match self.backend {
            Some(client) => client.exemplars(selector, start_ms, end_ms).await,
            None => Ok(Vec::new()),
        }
    }
}

/// The backend's answer to a query (a breakdown, or a calendar period's budget).
pub(crate) async fn backend_measure(
    client: &PromClient,
    query: &DimensionQuery,
    at_ms: i64,
) -> Result<Grouped, SourceError> {
    let result = client.instant(&query.text, at_ms).await?;
    Ok(decode_instant_grouped(
        query.dimension,
        &query.windows,
        &query.group_by,
        result
            .samples
            .iter()
            .filter_map(|s| Some((key_of(&s.labels)?, &s.labels, s.value))),
    ))
}

/// The series whose exemplars are a dimension's bad events: the bad selector, or the
/// histogram's buckets or native series (the slow ones are picked later). Raw-PromQL error SLIs name no
/// series of their own, so they get none.
fn exemplar_selector(slo: &SloSpec, dim: Dimension) -> Option<String> {
    match dim {
        Dimension::Error => match &slo.error.as_ref()?.events {
            ErrorEvents::Selectors { bad, .. } => Some(bad.to_promql()),
            ErrorEvents::Queries { .. } => None,
        },
        Dimension::Latency => {
            let latency = slo.latency.as_ref()?;
            // A native histogram's exemplars are on its one series.
            if latency.is_native() {
                return Some(latency.histogram.to_promql());
            }
            Some(latency.histogram.with_suffix("_bucket")?.to_promql())
        }
    }
}

/// What is measured after an evaluation, for the evaluations reported: a calendar period's
/// budget (`measure::elapsed`), then contributors and exemplars of what burns.
pub(crate) async fn complete<D: Drilldown>(
    drill: &D,
    slo: &SloSpec,
    evals: &mut [Evaluation],
    at_ms: i64,
) {
    super::elapsed::calendar_budget(drill, slo, evals, at_ms).await;
    explain(drill, slo, evals, at_ms).await;
}

/// Logged once per process: a backend without exemplar storage fails every request alike.
static EXEMPLARS_FAILED: AtomicBool = AtomicBool::new(false);

/// Adds contributors and exemplars to the dimensions above ok of `evals` (one SLO's
/// evaluations at `at_ms`, one per group).
async fn explain<D: Drilldown>(drill: &D, slo: &SloSpec, evals: &mut [Evaluation], at_ms: i64) {
    let wanted: Vec<Vec<Wanted>> = evals.iter().map(|e| explain::wanted(slo, e)).collect();
    if wanted.iter().all(Vec::is_empty) {
        return;
    }
    // One request per distinct dimension and window serves every group.
    let mut breakdowns: Vec<((Dimension, i64), Option<Grouped>)> = Vec::new();
    let mut exemplars: Vec<((Dimension, i64), Vec<ExemplarSeries>)> = Vec::new();
    for w in wanted.iter().flatten() {
        let key = (w.dimension, w.long.millis());
        if let Some(breakdown) = slo.breakdown(w.dimension)
            && !breakdowns.iter().any(|(k, _)| *k == key)
        {
            let query = DimensionQuery::breakdown(slo, w.dimension, &w.long, &breakdown.labels);
            let answer = match drill.measure(&query, at_ms).await {
                Ok(answer) => Some(answer),
                Err(e) => {
                    tracing::warn!(slo = %slo.name, dimension = w.dimension.as_str(), error = %e,
                        "could not measure the breakdown; no contributors this time");
                    None
                }
            };
            breakdowns.push((key, answer));
        }
        let key = (w.dimension, w.exemplar_window.millis());
        if exemplars.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let Some(selector) = exemplar_selector(slo, w.dimension) else {
            continue;
        };
        let start = at_ms - w.exemplar_window.millis();
        let found = match drill.exemplars(&selector, start, at_ms).await {
            Ok(found) => found,
            Err(e) => {
                if !EXEMPLARS_FAILED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "the backend did not answer an exemplar query; \
                        alerts go without exemplars while it does not (logged once)");
                }
                Vec::new()
            }
        };
        exemplars.push((key, found));
    }
    for (eval, wanted) in evals.iter_mut().zip(wanted) {
        let group = eval.group.clone();
        for w in wanted {
            let Some(report) = explain::report_mut(eval, w.dimension) else {
                continue;
            };
            let key = (w.dimension, w.long.millis());
            if let Some((_, Some(answer))) = breakdowns.iter().find(|(k, _)| *k == key) {
                let total = explain::total_rate(report, &w.long).unwrap_or(0.0);
                report.contributors =
                    explain::contributors(slo, w.dimension, &group, &w.long, answer, total);
            }
            let key = (w.dimension, w.exemplar_window.millis());
            if let Some((_, found)) = exemplars.iter().find(|(k, _)| *k == key) {
                report.exemplars = explain::pick_exemplars(slo, w.dimension, &group, found);
            }
        }
    }
}
