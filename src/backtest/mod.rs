//! `burnrate backtest`: replay the evaluation over a past range, step by step, through the
//! same `engine::evaluate` path as `check` and `run`, and score the policy.
//!
//! Rates come from `measure::StepRates` (local evaluation over raw samples, or `query_range`); the
//! replay keeps a fresh hysteresis state per SLO (per group, with `group_by`) so `for` and
//! `hold` act as they would have.

pub mod incidents;
pub mod report;
pub mod timeline;

use crate::decision::Decision;
use crate::engine::evaluate::{Worksheet, sheet_evaluation, step_slo};
use crate::engine::groups::keep;
use crate::engine::hysteresis::PlanTimers;
use crate::engine::{Evaluation, GroupLabels, Measurement, SourceError};
use crate::measure::StepRates;
use crate::measure::columns::{DimensionColumns, fill};
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
    /// The group's labels (`group_by`); absent for an SLO without groups.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub group: GroupLabels,
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

/// What replaying one SLO (one group of it) produced.
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

/// What one group's replay holds from step to step: its buffers, timers and timeline.
struct GroupReplay<'r> {
    group: GroupLabels,
    /// Per dimension of the SLO (in `measurements` order): its columns for this group.
    columns: Vec<Option<&'r DimensionColumns>>,
    measurements: Vec<(Dimension, Result<Measurement, SourceError>)>,
    timers: PlanTimers,
    sheet: Worksheet,
    /// From the group's first evaluation on.
    timeline: Option<Timeline>,
    changes: Vec<Evaluation>,
    all: Vec<Evaluation>,
    evaluations: usize,
    last: Decision,
}

impl<'r> GroupReplay<'r> {
    fn new(rates: &'r StepRates, slo: &SloSpec, group: GroupLabels) -> GroupReplay<'r> {
        let mut columns = Vec::new();
        let mut measurements = Vec::new();
        for dim in slo.dimensions() {
            let (c, m) = match rates.columns(dim, &group) {
                Ok(c) => (c, Ok(Measurement::empty(dim))),
                Err(e) => (None, Err(e)),
            };
            columns.push(c);
            measurements.push((dim, m));
        }
        GroupReplay {
            group,
            columns,
            measurements,
            timers: PlanTimers::default(),
            sheet: Worksheet::default(),
            timeline: None,
            changes: Vec::new(),
            all: Vec::new(),
            evaluations: 0,
            last: Decision::NoData,
        }
    }

    /// Whether the instant query at step `i` would answer anything for this group.
    fn present(&self, i: usize) -> bool {
        self.columns.iter().flatten().any(|c| c.present(i))
    }

    /// Fills the measurements of step `i` into the buffers of the previous step.
    fn measure(&mut self, i: usize) {
        for ((dim, m), columns) in self.measurements.iter_mut().zip(&self.columns) {
            let Ok(m) = m else { continue };
            match columns {
                Some(c) => fill(c, i, m),
                None => *m = Measurement::empty(*dim),
            }
        }
    }
}

/// Replays one SLO at every step of `rates`: one replay per group (one for an SLO without
/// `group_by`), ordered by group labels. At each step the groups are the instances
/// `check` would evaluate at that instant (`engine::groups`): those with series then,
/// bounded by `max_groups`; a group's timeline starts at its first evaluation.
pub fn replay_slo(
    rates: &StepRates,
    service: &ServiceSpec,
    slo: &SloSpec,
    label: &str,
    incidents: &[Incident],
    keep_all: bool,
) -> Vec<SloReplay> {
    // The steps of `evaluate_groups`, with buffers kept from one step to the next: each
    // group's dimensions are filled into the same `Measurement`s, the numbers go to the
    // same worksheet, and only the evaluations kept are turned into an `Evaluation`.
    let steps = rates.steps();
    let mut groups: Vec<GroupReplay> = rates
        .groups()
        .into_iter()
        .map(|g| GroupReplay::new(rates, slo, g))
        .collect();
    // The SLO itself (or the group whose series lack every group label): what is evaluated
    // at the steps where no group has series, and always without `group_by`.
    let whole = match groups.iter().position(|g| g.group.is_empty()) {
        Some(i) => i,
        None => {
            groups.insert(0, GroupReplay::new(rates, slo, GroupLabels::new()));
            0
        }
    };
    let grouped = !slo.group_by.is_empty();
    let (mut present, mut traffic, mut kept) = (Vec::new(), Vec::new(), Vec::new());
    let mut most_dropped = 0;
    for i in 0..steps.count() {
        let at_ms = steps.time(i);
        present.clear();
        if grouped {
            present.extend((0..groups.len()).filter(|&g| groups[g].present(i)));
        }
        if present.is_empty() {
            present.push(whole);
        }
        for &g in &present {
            groups[g].measure(i);
        }
        if present.len() > slo.max_groups {
            traffic.clear();
            traffic.extend(
                present
                    .iter()
                    .map(|&g| crate::engine::groups::traffic(slo, &groups[g].measurements)),
            );
            most_dropped = most_dropped.max(keep(slo.max_groups, &traffic, &mut kept));
            let chosen: Vec<usize> = kept.iter().map(|&k| present[k]).collect();
            present = chosen;
        }
        for &g in &present {
            let r = &mut groups[g];
            let decision = step_slo(slo, at_ms, &r.measurements, &mut r.timers, &mut r.sheet);
            r.last = decision;
            r.evaluations += 1;
            let first = r.timeline.is_none();
            let previous = r
                .timeline
                .get_or_insert_with(|| Timeline::new(at_ms, steps.step_ms))
                .push_decision(at_ms, decision);
            let changed = first || previous.is_some();
            if !changed && !keep_all {
                continue;
            }
            let mut eval = sheet_evaluation(
                service,
                slo,
                &r.group,
                at_ms,
                &r.measurements,
                &r.sheet,
                decision,
            );
            eval.previous = previous;
            match (changed, keep_all) {
                (true, true) => {
                    r.changes.push(eval.clone());
                    r.all.push(eval);
                }
                (true, false) => r.changes.push(eval),
                _ => r.all.push(eval),
            }
        }
    }
    if most_dropped > 0 {
        tracing::warn!(service = %service.service, slo = %slo.name, max_groups = slo.max_groups,
            "up to {most_dropped} group(s) beyond max_groups were not evaluated at some steps (the least traffic)");
    }
    let mine: Vec<Incident> = incidents
        .iter()
        .filter(|i| i.service == service.service && i.slo == slo.name)
        .cloned()
        .collect();
    groups
        .into_iter()
        .filter_map(|r| {
            let timeline = r.timeline?;
            let summary = Summary {
                summary: true,
                service: service.service.clone(),
                slo: slo.name.clone(),
                group: r.group,
                labels: service.labels.clone(),
                from: format_time(timeline.from_ms),
                to: format_time(timeline.last_ms),
                step: crate::duration::format_millis(steps.step_ms),
                evaluations: r.evaluations,
                rates: label.to_string(),
                backend_flavor: None,
                decision: r.last,
                timeline: timeline.summary(flap_window_ms(slo), slo.plan().maintenance()),
                scores: (!incidents.is_empty())
                    .then(|| score(&timeline.intervals(), &mine, slo.plan().maintenance())),
            };
            Some(SloReplay {
                changes: r.changes,
                summary,
                all: r.all,
            })
        })
        .collect()
}
