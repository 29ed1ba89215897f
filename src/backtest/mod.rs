//! `burnrate backtest`: replay the evaluation over a past range, step by step, through the
//! same `engine::evaluate` path as `check` and `run`, and score the policy.
//!
//! Rates come from `measure::StepRates` (local evaluation over raw samples, or `query_range`); the
//! replay keeps a fresh hysteresis state per SLO so `for` and `hold` act as they would have.

pub mod incidents;
pub mod report;
pub mod timeline;

use crate::decision::Decision;
use crate::engine::evaluate::{Worksheet, sheet_evaluation, step_slo};
use crate::engine::hysteresis::PlanTimers;
use crate::engine::{Evaluation, Measurement, Source, SourceError};
use crate::promql::Steps;
use crate::spec::{Dimension, ServiceSpec, SloSpec};
use crate::time::format_time;
use incidents::{Incident, Scores, score};
use serde::Serialize;
use std::collections::BTreeMap;
use timeline::{Timeline, TimelineSummary};

/// The last object printed per SLO.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub summary: bool,
    pub service: String,
    pub slo: String,
    pub labels: BTreeMap<String, String>,
    pub from: String,
    pub to: String,
    pub step: String,
    pub evaluations: usize,
    /// Where the rates came from, e.g. "history file (local PromQL evaluator)".
    pub rates: String,
    /// Whose semantics the numbers follow (`--backend-flavor`, or detected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_flavor: Option<&'static str>,
    /// Decision at the last step.
    pub decision: Decision,
    #[serde(flatten)]
    pub timeline: TimelineSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<Scores>,
}

/// What replaying one SLO produced.
#[derive(Debug, Clone)]
pub struct SloReplay {
    /// The evaluation at `from`, then each one whose decision changed (with `previous`).
    pub changes: Vec<Evaluation>,
    pub summary: Summary,
    /// Every step's evaluation, when asked for (the HTML report needs them).
    pub(crate) all: Vec<Evaluation>,
}

/// A changed decision is a flap when it is undone within this window: the SLO's `hold`, or
/// 10 minutes when it has none (a decision that lasts less than that helps nobody).
pub(crate) fn flap_window_ms(slo: &SloSpec) -> i64 {
    if slo.hold.millis() > 0 {
        slo.hold.millis()
    } else {
        10 * 60_000
    }
}

/// Replays one SLO at every step.
pub async fn replay_slo<S: Source>(
    source: &S,
    service: &ServiceSpec,
    slo: &SloSpec,
    steps: Steps,
    rates: &str,
    incidents: &[Incident],
    keep_all: bool,
) -> SloReplay {
    // The steps of `evaluate_all` for one SLO, with buffers kept from one step to the next: each
    // dimension is measured into the same `Measurement`, the numbers go to the same
    // worksheet, and only the evaluations kept are turned into an `Evaluation`.
    let mut timers = PlanTimers::default();
    let mut sheet = Worksheet::default();
    let mut measurements: Vec<(Dimension, Result<Measurement, SourceError>)> = slo
        .dimensions()
        .map(|dim| (dim, Ok(Measurement::Error(Vec::new()))))
        .collect();
    let mut timeline = Timeline::new(steps.start_ms, steps.step_ms);
    let mut changes = Vec::new();
    let mut all = Vec::new();
    let mut last = Decision::NoData;
    for i in 0..steps.count() {
        let at_ms = steps.time(i);
        for (dim, measurement) in measurements.iter_mut() {
            source.measure_into(slo, *dim, at_ms, measurement).await;
        }
        let decision = step_slo(slo, at_ms, &measurements, &mut timers, &mut sheet);
        last = decision;
        let previous = timeline.push_decision(at_ms, decision);
        let changed = i == 0 || previous.is_some();
        if !changed && !keep_all {
            continue;
        }
        let mut eval = sheet_evaluation(service, slo, at_ms, &measurements, &sheet, decision);
        eval.previous = previous;
        match (changed, keep_all) {
            (true, true) => {
                changes.push(eval.clone());
                all.push(eval);
            }
            (true, false) => changes.push(eval),
            _ => all.push(eval),
        }
    }
    let mine: Vec<Incident> = incidents
        .iter()
        .filter(|i| i.service == service.service && i.slo == slo.name)
        .cloned()
        .collect();
    let summary = Summary {
        summary: true,
        service: service.service.clone(),
        slo: slo.name.clone(),
        labels: service.labels.clone(),
        from: format_time(steps.start_ms),
        to: format_time(steps.time(steps.count().saturating_sub(1))),
        step: crate::duration::format_millis(steps.step_ms),
        evaluations: steps.count(),
        rates: rates.to_string(),
        backend_flavor: None,
        decision: last,
        timeline: timeline.summary(flap_window_ms(slo)),
        scores: (!incidents.is_empty()).then(|| score(&timeline.intervals(), &mine)),
    };
    SloReplay {
        changes,
        summary,
        all,
    }
}
