//! `burnrate report`: what an SLO review needs about a past calendar period (or any range),
//! per SLO, group and dimension: attainment, whether the objective was met, the share of the
//! error budget spent, bad and total events, time in each decision and the worst day.
//!
//! The numbers over the range (and over each day, for the worst day) are measurements like
//! every other: the dimension's tagged query (`measure::query`) with one window, the range's
//! length, evaluated at the range's end, answered by the backend or by burnrate's own
//! evaluator over a history file, decoded by the one decoder. Events are rates times the
//! window (what `increase` is), and the ratio, burn and bad events come from `engine::sli`,
//! so a report's attainment is `1 - bad_ratio(range)` exactly as a burn is computed. Time in
//! each decision comes from the backtest's replay of the range (`backtest::replay_slo`).
//!
//! `calendar` says which instants a period and its days are; `render` writes Markdown, JSON
//! and CSV; `html` the page, with the backtest report's charts.

pub(crate) mod calendar;
pub(crate) mod html;
pub(crate) mod render;

use crate::backtest::SloReplay;
use crate::decision::Decision;
use crate::duration::PromDuration;
use crate::engine::{GroupLabels, Grouped, Measurement, SourceError, sli};
use crate::measure::drilldown::Drilldown;
use crate::measure::drilldown::Sources;
use crate::measure::plan::DimensionQuery;
use crate::spec::{Dimension, ServiceSpec, SloSpec};
use crate::time::format_time;
use calendar::{Day, ReportRange, format_date};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One SLO (one group of an SLO with `group_by`) over the report's range: one JSON line.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SloReport {
    pub(crate) service: String,
    pub(crate) slo: String,
    /// The group's labels; `{}` for an SLO without `group_by`.
    pub(crate) group: GroupLabels,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) timezone: &'static str,
    /// `2026-11`, `2026-W47`, `2026-Q4`: the calendar period, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) period: Option<String>,
    /// The replay's step.
    pub(crate) step: String,
    /// Where the replay's rates came from (as a backtest summary says).
    pub(crate) rates: String,
    pub(crate) backend_flavor: &'static str,
    /// Seconds of the range in each SLO decision (the replay's).
    pub(crate) time_in_seconds: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<DimensionSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) latency: Option<DimensionSummary>,
    /// The replay behind `time_in_seconds`, for the HTML page's charts.
    #[serde(skip)]
    pub(crate) replay: Option<SloReplay>,
}

impl SloReport {
    pub(crate) fn dimensions(&self) -> impl Iterator<Item = (Dimension, &DimensionSummary)> {
        [
            (Dimension::Error, self.error.as_ref()),
            (Dimension::Latency, self.latency.as_ref()),
        ]
        .into_iter()
        .filter_map(|(d, s)| Some((d, s?)))
    }
}

/// One dimension of an SLO over the range.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DimensionSummary {
    pub(crate) objective: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) threshold_seconds: Option<f64>,
    /// `1 - bad_ratio(range)`; `null` without data.
    pub(crate) attainment: Option<f64>,
    /// `attainment >= objective`; `null` without data.
    pub(crate) met: Option<bool>,
    /// `bad_ratio(range) / (1 - objective)`: 1 is the whole budget of a range this long.
    pub(crate) budget_spent: Option<f64>,
    pub(crate) bad_events: Option<f64>,
    pub(crate) total_events: Option<f64>,
    /// The range had no traffic (attainment 1, nothing spent).
    pub(crate) no_traffic: bool,
    /// Seconds of the range in each of this dimension's decisions.
    pub(crate) time_in_seconds: BTreeMap<String, f64>,
    /// The calendar day with the lowest attainment; `null` when no day had traffic.
    pub(crate) worst_day: Option<WorstDay>,
}

/// A day of the range and its numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct WorstDay {
    /// The calendar date in the report's time zone.
    pub(crate) date: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) attainment: f64,
    pub(crate) budget_spent: f64,
    pub(crate) bad_events: f64,
    pub(crate) total_events: f64,
}

/// What one window's measurement says, through `engine::sli`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Events {
    bad_ratio: Option<f64>,
    burn: Option<f64>,
    bad: Option<f64>,
    total: Option<f64>,
    no_traffic: bool,
}

/// The events of `slo`'s `dim` in one window of `seconds`, from its measurement (`None`: the
/// group had no series there). Error bad events are the bad rate times the window (none
/// while the bad counter has no series, as `sli` reads it); latency bad events are the
/// count minus the good bucket, interpolated at the threshold (native: the count times
/// `1 - fraction`).
fn events(slo: &SloSpec, dim: Dimension, m: Option<&Measurement>, seconds: f64) -> Events {
    let Some(budget) = slo.budget(dim) else {
        return Events::default();
    };
    let (value, bad_rate) = match m {
        Some(Measurement::Error(windows)) => {
            let Some(rates) = windows.first() else {
                return Events::default();
            };
            let value = sli::error_window(rates, budget, seconds);
            (value, rates.bad.unwrap_or(0.0))
        }
        Some(Measurement::Latency(windows)) => {
            let (Some(h), Some(latency)) = (windows.first(), slo.latency.as_ref()) else {
                return Events::default();
            };
            let threshold = latency.threshold_seconds();
            let value = sli::latency_window(h, threshold, budget, seconds);
            (value, sli::bad_rate(h, threshold).unwrap_or(0.0))
        }
        None => return Events::default(),
    };
    if value.bad_ratio.is_none() {
        return Events::default();
    }
    Events {
        bad_ratio: value.bad_ratio,
        burn: value.burn,
        bad: Some(if value.no_traffic {
            0.0
        } else {
            bad_rate * seconds
        }),
        total: value.events,
        no_traffic: value.no_traffic,
    }
}

/// The window `[from_ms, to_ms]` as a range selector's duration: whole seconds where it is
/// (`[2678400s]`), else milliseconds. Prometheus takes either, as does the local evaluator.
pub(crate) fn window(from_ms: i64, to_ms: i64) -> Result<PromDuration, String> {
    let ms = to_ms - from_ms;
    if ms <= 0 {
        return Err("the range is empty".into());
    }
    let text = if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    };
    PromDuration::parse(&text).map_err(|e| e.to_string())
}

/// One dimension measured over `[from_ms, to_ms]`, at `to_ms`, every group at once.
async fn measure_window(
    sources: &Sources<'_>,
    slo: &SloSpec,
    dim: Dimension,
    from_ms: i64,
    to_ms: i64,
) -> Result<(Grouped, f64), SourceError> {
    let w = window(from_ms, to_ms).map_err(SourceError::failed)?;
    let query = DimensionQuery::new(slo, dim, std::slice::from_ref(&w));
    Ok((sources.measure(&query, to_ms).await?, w.seconds()))
}

/// A dimension over the whole range and over each day.
struct Measured {
    dim: Dimension,
    whole: (Grouped, f64),
    days: Vec<(Day, Grouped, f64)>,
}

/// How the replay behind a report ran, for every object it prints.
pub(crate) struct ReplayInfo<'a> {
    pub(crate) step_ms: i64,
    pub(crate) rates: &'a str,
    pub(crate) backend_flavor: &'static str,
}

/// Every group of `slo` over `range`: its numbers measured through `sources`, its time in
/// each decision from `replays` (`backtest::replay_slo` over the range, every evaluation
/// kept). The groups are those with series over the range and those the replay evaluated
/// (the SLO alone, without numbers, when there are none). `keep_replay` keeps each group's replay in its report (the HTML page draws it).
pub(crate) async fn report_slo(
    sources: &Sources<'_>,
    service: &ServiceSpec,
    slo: &SloSpec,
    range: &ReportRange,
    replays: Vec<SloReplay>,
    info: &ReplayInfo<'_>,
    keep_replay: bool,
) -> Result<Vec<SloReport>, SourceError> {
    let days = range.days();
    let mut measured = Vec::new();
    for dim in slo.dimensions() {
        let whole = measure_window(sources, slo, dim, range.from_ms, range.to_ms).await?;
        let mut per_day = Vec::with_capacity(days.len());
        for day in &days {
            let (grouped, seconds) =
                measure_window(sources, slo, dim, day.from_ms, day.to_ms).await?;
            per_day.push((*day, grouped, seconds));
        }
        measured.push(Measured {
            dim,
            whole,
            days: per_day,
        });
    }
    let mut groups: BTreeSet<GroupLabels> = measured
        .iter()
        .flat_map(|m| m.whole.0.0.iter().map(|(g, _)| g.clone()))
        .collect();
    // A grouped SLO's replay also evaluates the SLO itself where no group has series (its
    // `no_data`); that is no group of the review.
    groups.extend(
        replays
            .iter()
            .map(|r| r.summary.group.clone())
            .filter(|g| !g.is_empty() || slo.group_by.is_empty()),
    );
    if groups.is_empty() {
        // No series of any group over the whole range: the SLO is still in the review,
        // without numbers, rather than missing from it.
        groups.insert(GroupLabels::new());
    }
    let mut replays: BTreeMap<GroupLabels, SloReplay> = replays
        .into_iter()
        .map(|r| (r.summary.group.clone(), r))
        .collect();
    let mut out = Vec::new();
    for group in groups {
        let replay = replays.remove(&group);
        let mut report = SloReport {
            service: service.service.clone(),
            slo: slo.name.clone(),
            group: group.clone(),
            labels: service.labels.clone(),
            from: format_time(range.from_ms),
            to: format_time(range.to_ms),
            timezone: range.timezone.name(),
            period: range.calendar.clone(),
            step: crate::duration::format_millis(info.step_ms),
            rates: info.rates.to_string(),
            backend_flavor: info.backend_flavor,
            time_in_seconds: time_in(
                replay
                    .iter()
                    .flat_map(|r| &r.all)
                    .map(|e| (e.at_ms, e.decision)),
                range,
                info.step_ms,
            ),
            error: None,
            latency: None,
            replay: None,
        };
        for m in &measured {
            let decisions = replay.iter().flat_map(|r| &r.all).filter_map(|e| {
                let report = match m.dim {
                    Dimension::Error => e.error.as_ref(),
                    Dimension::Latency => e.latency.as_ref(),
                }?;
                Some((e.at_ms, report.decision))
            });
            let mut summary = summarize(slo, m, &group);
            summary.time_in_seconds = time_in(decisions, range, info.step_ms);
            match m.dim {
                Dimension::Error => report.error = Some(summary),
                Dimension::Latency => report.latency = Some(summary),
            }
        }
        if keep_replay {
            report.replay = replay;
        }
        out.push(report);
    }
    Ok(out)
}

/// A dimension's numbers over the range and its worst day (its time in each decision is
/// the replay's, filled in by the caller).
fn summarize(slo: &SloSpec, m: &Measured, group: &GroupLabels) -> DimensionSummary {
    let dim = m.dim;
    let (grouped, seconds) = &m.whole;
    let whole = events(slo, dim, grouped.get(group), *seconds);
    let objective = slo.objective(dim).unwrap_or_default();
    let budget = slo.budget(dim).unwrap_or_default();
    let mut worst: Option<(Day, Events)> = None;
    for (day, grouped, seconds) in &m.days {
        let e = events(slo, dim, grouped.get(group), *seconds);
        let Some(ratio) = e.bad_ratio.filter(|_| !e.no_traffic) else {
            continue;
        };
        // The first of equals: ties go to the earliest day.
        if worst
            .as_ref()
            .is_none_or(|(_, w)| ratio > w.bad_ratio.unwrap_or(f64::INFINITY))
        {
            worst = Some((*day, e));
        }
    }
    DimensionSummary {
        objective,
        threshold_seconds: match dim {
            Dimension::Latency => slo.latency.as_ref().map(|l| l.threshold_seconds()),
            Dimension::Error => None,
        },
        attainment: whole.bad_ratio.map(|r| 1.0 - r),
        met: whole.bad_ratio.map(|r| r <= budget),
        budget_spent: whole.burn,
        bad_events: whole.bad,
        total_events: whole.total,
        no_traffic: whole.no_traffic,
        time_in_seconds: BTreeMap::new(),
        worst_day: worst.map(|(day, e)| WorstDay {
            date: format_date(day.date),
            from: format_time(day.from_ms),
            to: format_time(day.to_ms),
            attainment: 1.0 - e.bad_ratio.unwrap_or_default(),
            budget_spent: e.burn.unwrap_or_default(),
            bad_events: e.bad.unwrap_or_default(),
            total_events: e.total.unwrap_or_default(),
        }),
    }
}

/// Every decision at 0 seconds.
fn no_time() -> BTreeMap<String, f64> {
    Decision::ALL
        .iter()
        .map(|d| (d.as_str().to_string(), 0.0))
        .collect()
}

/// Seconds of the range in each decision, from the decision at each step the replay
/// evaluated (each standing for the step after it, the last one cut at the range's end).
/// Steps it did not evaluate (a group without series then, or none evaluated at all) are
/// `no_data`: the review's instance had no data there.
fn time_in(
    decisions: impl Iterator<Item = (i64, Decision)>,
    range: &ReportRange,
    step_ms: i64,
) -> BTreeMap<String, f64> {
    let mut time = no_time();
    let mut covered = 0;
    for (at_ms, decision) in decisions {
        let ms = ((at_ms + step_ms).min(range.to_ms) - at_ms).max(0);
        *time.entry(decision.as_str().to_string()).or_default() += ms as f64 / 1000.0;
        covered += ms;
    }
    let missing = range.to_ms - range.from_ms - covered;
    if missing > 0 {
        *time
            .entry(Decision::NoData.as_str().to_string())
            .or_default() += missing as f64 / 1000.0;
    }
    time
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Bucket, ErrorRates, HistogramRates};
    use crate::spec::load::load_str;
    use std::path::Path;

    fn slo() -> SloSpec {
        let yaml = "apiVersion: burnrate/v1\nservice: s\nslos:\n  - name: x\n    period: 30d\n    \
                    error:\n      objective: 99.9\n      bad: errors_total\n      total: requests_total\n    \
                    latency:\n      histogram: h\n      quantile: 0.99\n      threshold: 300ms\n";
        let (spec, diagnostics) = load_str(Path::new("s.yaml"), yaml);
        spec.unwrap_or_else(|| panic!("{diagnostics:?}"))
            .slos
            .remove(0)
    }

    #[test]
    fn events_are_rates_times_the_window() {
        let slo = slo();
        let m = Measurement::Error(vec![ErrorRates {
            bad: Some(0.002),
            total: Some(1.0),
        }]);
        let e = events(&slo, Dimension::Error, Some(&m), 1000.0);
        assert_eq!(e.bad, Some(2.0));
        assert_eq!(e.total, Some(1000.0));
        assert!((e.burn.unwrap() - 2.0).abs() < 1e-12);
        // No bad series while there is traffic: no bad events.
        let clean = Measurement::Error(vec![ErrorRates {
            bad: None,
            total: Some(1.0),
        }]);
        assert_eq!(
            events(&slo, Dimension::Error, Some(&clean), 10.0).bad,
            Some(0.0)
        );
        // No total series: nothing is known.
        let absent = Measurement::Error(vec![ErrorRates {
            bad: Some(1.0),
            total: None,
        }]);
        assert_eq!(
            events(&slo, Dimension::Error, Some(&absent), 10.0),
            Events::default()
        );
        assert_eq!(
            events(&slo, Dimension::Error, None, 10.0),
            Events::default()
        );
    }

    #[test]
    fn latency_bad_events_are_the_count_above_the_interpolated_threshold() {
        let slo = slo();
        let b = |le: f64, rate: f64| Bucket { le, rate };
        let m = Measurement::Latency(vec![HistogramRates {
            buckets: vec![b(0.25, 80.0), b(0.5, 90.0), b(f64::INFINITY, 100.0)],
            count: Some(100.0),
            ..Default::default()
        }]);
        // 0.3 is a fifth of the way from 0.25 to 0.5: 82 good per second, 18 bad.
        let e = events(&slo, Dimension::Latency, Some(&m), 2.0);
        assert!((e.bad.unwrap() - 36.0).abs() < 1e-9);
        assert_eq!(e.total, Some(200.0));
        assert!((e.bad_ratio.unwrap() - 0.18).abs() < 1e-12);
    }

    #[test]
    fn time_in_each_decision_covers_the_range_once() {
        let range = ReportRange::explicit(0, 10 * 60_000 + 30_000, chrono_tz::UTC);
        // Steps every 2m from 0; the group is not evaluated at 4m and 6m; the last step
        // (10m) stands for the 30 s left of the range.
        let steps = [
            (0, Decision::Ok),
            (2 * 60_000, Decision::Warn),
            (8 * 60_000, Decision::Ok),
            (10 * 60_000, Decision::Warn),
        ];
        let time = time_in(steps.into_iter(), &range, 2 * 60_000);
        assert_eq!(time["ok"], 240.0);
        assert_eq!(time["warn"], 150.0);
        assert_eq!(time["no_data"], 240.0);
        assert_eq!(time.values().sum::<f64>(), 630.0);
        assert_eq!(time.len(), Decision::ALL.len());
    }

    #[test]
    fn windows_are_spelled_in_seconds_or_milliseconds() {
        assert_eq!(window(0, 2_678_400_000).unwrap().as_str(), "2678400s");
        assert_eq!(window(0, 90_000_500).unwrap().as_str(), "90000500ms");
        assert!(window(5, 5).is_err());
        assert!(window(0, 366 * 86_400_000).is_err());
    }
}
