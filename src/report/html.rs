//! `burnrate report --format html`: the report as one self-contained page, made of the
//! backtest report's parts (its page, styles, summary tables and burn-rate charts), so a
//! review and a backtest read alike. Each SLO (each group) gets its section: its numbers
//! per dimension first, with a met/missed badge beside the title, then the replay of the
//! range as a backtest report draws it. No script, no external resource; every text from a
//! spec is escaped.

use super::render::{
    Run, fmt_attainment, fmt_events, fmt_met, fmt_objective, fmt_time_in, fmt_worst_day, or_dash,
};
use super::{DimensionSummary, SloReport};
use crate::backtest::report::{
    Section, SloChart, render_page_with, render_slo_section_with, section_id,
};
use crate::chart::format::{decision_fill, escape, fmt_one};
use crate::decision::Decision;
use crate::engine::groups::format_group;
use crate::spec::{ServiceSpec, SloSpec};
use std::fmt::Write;

/// Met when every dimension with data met its objective; missed when one did not.
fn verdict(report: &SloReport) -> Option<bool> {
    let met: Vec<bool> = report.dimensions().filter_map(|(_, s)| s.met).collect();
    (!met.is_empty()).then(|| met.iter().all(|m| *m))
}

fn badge(report: &SloReport) -> String {
    let v = verdict(report);
    let class = match v {
        Some(true) => "met",
        Some(false) => "missed",
        None => "no-data",
    };
    format!(r#"<span class="verdict {class}">{}</span>"#, fmt_met(v))
}

/// The numbers table of one SLO (group): a row per dimension.
fn numbers(report: &SloReport) -> String {
    let mut out = String::from(
        r#"<table class="summary attainment"><thead><tr><th>dimension</th><th>objective</th><th>attainment</th><th>met</th><th>budget spent</th><th>bad events</th><th>total events</th><th>worst day</th><th>time in each decision</th></tr></thead><tbody>"#,
    );
    for (dim, s) in report.dimensions() {
        let class = match s.met {
            Some(true) => "met",
            Some(false) => "missed",
            None => "no-data",
        };
        let _ = write!(
            out,
            r#"<tr class="{dim}"><th>{dim}</th><td class="num">{}</td><td class="num">{}</td><td><span class="verdict {class}">{}</span></td><td class="share">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&fmt_objective(s)),
            or_dash(s.attainment.map(fmt_attainment)),
            fmt_met(s.met),
            spent(s),
            or_dash(s.bad_events.map(fmt_events)),
            or_dash(s.total_events.map(fmt_events)),
            escape(&fmt_worst_day(s)),
            time_in(s),
            dim = dim.as_str(),
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// Budget spent as a bar (full at the whole budget, red beyond it) and a percentage.
fn spent(s: &DimensionSummary) -> String {
    let Some(b) = s.budget_spent else {
        return "—".into();
    };
    let colour = if b > 1.0 {
        decision_fill(Decision::CircuitBreak)
    } else {
        decision_fill(Decision::Ok)
    };
    format!(
        r#"<span class="bar"><i style="width:{}%;background:{colour}"></i></span>{}%"#,
        fmt_one((b * 100.0).clamp(0.0, 100.0)),
        fmt_one(b * 100.0)
    )
}

fn time_in(s: &DimensionSummary) -> String {
    let parts: Vec<String> = Decision::ALL
        .iter()
        .filter(|d| s.time_in_seconds.get(d.as_str()).is_some_and(|t| *t > 0.0))
        .map(|d| format!("{} {}", d.as_str(), fmt_time_in(s, *d)))
        .collect();
    if parts.is_empty() {
        "—".into()
    } else {
        escape(&parts.join(" · "))
    }
}

/// The section of one report: its numbers, then its replay's summary and charts where it
/// has one (a group the replay never evaluated has only numbers).
pub(crate) fn section(service: &ServiceSpec, slo: &SloSpec, report: &SloReport) -> Section {
    let lead = numbers(report);
    if let Some(replay) = &report.replay {
        return render_slo_section_with(
            &SloChart {
                service,
                slo,
                evaluations: &replay.all,
                incidents: &[],
                summary: &replay.summary,
            },
            Some(&badge(report)),
            &lead,
        );
    }
    let group = format_group(&report.group);
    let id = section_id(&report.service, &report.slo, &group);
    let title = format!("{} / {}{group}", report.service, report.slo);
    let html = format!(
        r#"<section class="slo" id="{id}"><header><h2>{}</h2>{}</header>{lead}<p class="muted">Not evaluated in the replay (no series at any step).</p></section>"#,
        escape(&title),
        badge(report)
    );
    Section {
        id,
        title,
        decision: Decision::NoData,
        html,
    }
}

pub(crate) fn page(sections: &[Section], run: &Run) -> String {
    let mut subtitle = run.explanation();
    for u in run.unreported {
        let _ = write!(
            subtitle,
            " Not reported: {} / {} ({}).",
            u.service, u.slo, u.skipped
        );
    }
    render_page_with(
        &format!("burnrate report: {}", run.title()),
        &subtitle,
        sections,
        "Generated by burnrate report. Times are UTC, days are calendar days in the report's time zone. Attainment is 1 - bad events / total events over the whole range; budget spent is the bad ratio over (1 - objective). Charts: the burn rate of every window in the replay, decision bands below.",
    )
}
