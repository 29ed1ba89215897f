//! The budget of a calendar period (`period: month | week | quarter`): measured over the
//! elapsed part of the current period at each instant, after the evaluation.
//!
//! A calendar period's window changes at every instant, so it cannot sit among the fixed
//! windows of an SLO's one query (`measure::query`): it is its own query, with the one window
//! `[now - start of period]` in whole seconds, answered by the same sources as breakdowns
//! (`measure::drilldown`: the local evaluator over raw samples where they reach that far,
//! else the backend), decoded by the same decoder, turned into a budget by the same `sli`
//! arithmetic. Decisions never depend on it (rules read the matrix windows only), so it is
//! measured only for the evaluations that are reported: every one in `check` and the
//! daemon, the printed changes of a backtest.

use super::drilldown::Drilldown;
use super::plan::DimensionQuery;
use crate::duration::PromDuration;
use crate::engine::explain::{in_group, report_mut};
use crate::engine::{Evaluation, Measurement, sli};
use crate::spec::SloSpec;
use crate::time::format_time;

/// Sets `budget_remaining` (and `budget_since`) of every dimension of `evals` (one SLO's
/// evaluations at `at_ms`, one per group) from the elapsed part of its calendar period.
/// Nothing for an SLO with a rolling period.
pub(crate) async fn calendar_budget<D: Drilldown>(
    drill: &D,
    slo: &SloSpec,
    evals: &mut [Evaluation],
    at_ms: i64,
) {
    let Some(calendar) = slo.calendar else {
        return;
    };
    let since = calendar.start_ms(at_ms);
    let window = PromDuration::from_millis(calendar.elapsed_ms(at_ms));
    for dim in slo.dimensions() {
        let Some(budget) = slo.budget(dim) else {
            continue;
        };
        let query = DimensionQuery::new(slo, dim, std::slice::from_ref(&window));
        let answer = match drill.measure(&query, at_ms).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(slo = %slo.name, dimension = dim.as_str(), error = %e,
                    "could not measure the calendar period's budget; budget_remaining is null");
                continue;
            }
        };
        for eval in evals.iter_mut() {
            let group = eval.group.clone();
            let Some(report) = report_mut(eval, dim) else {
                continue;
            };
            report.budget_since = Some(format_time(since));
            let measured = answer
                .0
                .iter()
                .find(|(labels, _)| in_group(&slo.group_by, &group, labels))
                .map(|(_, m)| m);
            let value = match (measured, &slo.latency) {
                (Some(Measurement::Error(w)), _) => w
                    .first()
                    .map(|rates| sli::error_window(rates, budget, window.seconds())),
                (Some(Measurement::Latency(w)), Some(latency)) => w.first().map(|h| {
                    sli::latency_window(h, latency.threshold_seconds(), budget, window.seconds())
                }),
                _ => None,
            };
            report.budget_remaining = value
                .and_then(|v| v.bad_ratio)
                .map(|ratio| sli::budget_remaining(ratio, budget));
        }
    }
}
