//! `burnrate backtest --report FILE.html`: the replay as one self-contained HTML page.
//!
//! One `<section>` per SLO (per group of an SLO with `group_by`, each drawn as an SLO of its
//! own): its title, a summary table (time in each decision, changes, flaps, scores against
//! the known incidents) and, per dimension, an inline SVG chart of the burn rate of every
//! window on a log scale, with the matrix thresholds, the known incidents and the decision
//! at each step as coloured bands.
//!
//! The page needs nothing but a browser: inline CSS, no script, no external resource, no
//! web font. Every text that comes from a spec or an incident file is escaped. Long series
//! are reduced to one point per pixel column, keeping each column's maximum so peaks stay
//! visible, and a `null` burn (no data) is a gap in its line, never a 0.
//!
//! `crate::chart` draws a dimension's SVG (the daemon's web page draws with it too) and
//! writes numbers, times and text; `summary` draws the tables, `explain` who burned at each
//! change; this file turns the replay into chart series and puts an SLO's section and the
//! page together.

mod explain;
mod summary;

use crate::backtest::Summary;
use crate::backtest::incidents::Incident;
use crate::chart::format::{chip, fmt_pct};
use crate::chart::{self, BurnChart, INCIDENT, TimeAxis, dimension_caption};
use crate::decision::Decision;
use crate::engine::Evaluation;
use crate::engine::explain::report as dimension_report;
use crate::engine::groups::format_group;
use crate::spec::{Dimension, ServiceSpec, SloSpec};
use std::fmt::Write;
use summary::render_summary;

pub use crate::chart::format::{decision_fill, escape};

/// Everything the report shows about one SLO.
pub struct SloChart<'a> {
    pub service: &'a ServiceSpec,
    pub slo: &'a SloSpec,
    /// One evaluation per replay step, in time order (can be 43,200 for 30 days at 1m).
    pub evaluations: &'a [Evaluation],
    /// Incidents of this SLO (may be empty).
    pub incidents: &'a [Incident],
    /// The summary printed for this SLO.
    pub summary: &'a Summary,
}

/// One rendered SLO section and what the page's table of contents says about it.
pub struct Section {
    /// The `id` of its `<section>` tag (the contents link to it).
    pub(crate) id: String,
    /// `service / slo`, as text (escaped where it is written).
    pub(crate) title: String,
    pub(crate) decision: Decision,
    pub html: String,
}

/// An `id` attribute value unique to a service, SLO and group (`group` as `format_group`
/// writes it, empty without groups).
pub(crate) fn section_id(service: &str, slo: &str, group: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    // FNV-1a keeps two names that clean to the same text apart.
    let mut hash: u32 = 0x811c_9dc5;
    for b in service
        .bytes()
        .chain([0])
        .chain(slo.bytes())
        .chain(group.bytes())
    {
        hash = (hash ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!("slo-{}-{}-{hash:08x}", clean(service), clean(slo))
}

/// One `<section>` per SLO: title (service/slo, description), a summary table, and per
/// dimension (error, latency) an inline SVG chart.
pub fn render_slo_section(chart: &SloChart) -> Section {
    render_slo_section_with(chart, None, "")
}

/// [`render_slo_section`] with `badge` (HTML) beside the title instead of the decision at the
/// end, and `lead` (HTML) before the summary tables: how `burnrate report` shows a replay
/// under its own numbers.
pub(crate) fn render_slo_section_with(
    chart: &SloChart,
    badge: Option<&str>,
    lead: &str,
) -> Section {
    let mut out = String::with_capacity(128 * 1024);
    let service = &chart.service.service;
    let slo = &chart.slo.name;
    let decision = chart.summary.decision;
    let group = format_group(&chart.summary.group);
    let id = section_id(service, slo, &group);
    let _ = write!(
        out,
        r#"<section class="slo" id="{id}" data-decision="{decision}">"#,
    );
    let _ = write!(
        out,
        r#"<header><h2><span class="service">{}</span> / {}{}</h2>{}</header>"#,
        escape(service),
        escape(slo),
        if group.is_empty() {
            String::new()
        } else {
            format!(r#" <code class="group">{}</code>"#, escape(&group))
        },
        badge.map_or_else(|| chip(decision), str::to_string)
    );
    if let Some(description) = &chart.slo.description {
        let _ = write!(out, r#"<p class="description">{}</p>"#, escape(description));
    }
    if !chart.service.labels.is_empty() {
        out.push_str(r#"<p class="labels">"#);
        for (k, v) in &chart.service.labels {
            let _ = write!(out, "<code>{}={}</code> ", escape(k), escape(v));
        }
        out.push_str("</p>");
    }
    out.push_str(lead);
    render_summary(&mut out, chart);
    explain::render_explanations(&mut out, chart);
    if chart.evaluations.is_empty() {
        out.push_str(r#"<p class="muted">No evaluation in the replayed range.</p>"#);
    } else {
        for dim in chart.slo.dimensions() {
            chart::render(&mut out, &burn_chart(chart, dim));
        }
    }
    out.push_str("</section>\n");
    Section {
        id,
        title: format!("{service} / {slo}{group}"),
        decision,
        html: out,
    }
}

/// One dimension of the replay as the chart draws it: the burn of every window (the
/// matrix's, then any other the evaluations report) at every step, the decision bands and
/// the known incidents.
fn burn_chart<'a>(chart: &SloChart<'a>, dim: Dimension) -> BurnChart<'a> {
    let evaluations = chart.evaluations;
    let mut windows: Vec<String> = chart
        .slo
        .windows(dim)
        .iter()
        .map(|w| w.as_str().to_string())
        .collect();
    if let Some(report) = evaluations.iter().find_map(|e| dimension_report(e, dim)) {
        for (w, _) in report.burn.iter() {
            if !windows.iter().any(|k| k == w) {
                windows.push(w.to_string());
            }
        }
    }
    let series = windows
        .iter()
        .map(|w| {
            evaluations
                .iter()
                .map(|e| {
                    let burn = dimension_report(e, dim).and_then(|r| r.burn.value(w));
                    (e.at_ms, burn)
                })
                .collect()
        })
        .collect();
    let times: Vec<i64> = evaluations.iter().map(|e| e.at_ms).collect();
    let step_ms =
        crate::duration::PromDuration::parse(&chart.summary.step).map_or(60_000, |d| d.millis());
    let caption = dimension_caption(chart.slo, dim);
    BurnChart {
        dimension: dim,
        label: format!("{} / {}: {caption}", chart.service.service, chart.slo.name),
        note: evaluations
            .iter()
            .rev()
            .find_map(|e| dimension_report(e, dim).and_then(|r| r.budget_remaining))
            .map(|b| format!("error budget remaining at the end: {}", fmt_pct(b))),
        caption,
        rules: chart.slo.matrix(dim).unwrap_or(&[]),
        windows,
        series,
        dimension_steps: evaluations
            .iter()
            .map(|e| {
                let d = dimension_report(e, dim).map_or(Decision::NoData, |r| r.decision);
                (e.at_ms, d)
            })
            .collect(),
        slo_steps: evaluations.iter().map(|e| (e.at_ms, e.decision)).collect(),
        spans: chart
            .incidents
            .iter()
            .map(|i| (i.start_ms, i.end_ms))
            .collect(),
        axis: TimeAxis::new(&times, step_ms),
    }
}

/// The whole self-contained page (inline CSS, no script, no external resources).
pub fn render_page(title: &str, subtitle: &str, sections: &[Section]) -> String {
    render_page_with(
        title,
        subtitle,
        sections,
        "Generated by burnrate backtest. Times are UTC. Burn 1 spends exactly the error budget over the SLO period; lines are reduced to one point per pixel column, keeping the maximum.",
    )
}

/// [`render_page`] with its own `footer` (text): the page of `burnrate report` says what
/// its numbers are.
pub(crate) fn render_page_with(
    title: &str,
    subtitle: &str,
    sections: &[Section],
    footer: &str,
) -> String {
    let size: usize = sections.iter().map(|s| s.html.len()).sum();
    let mut out = String::with_capacity(size + 16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{}</style></head><body><main>",
        escape(title),
        chart::PAGE_CSS
    );
    let _ = write!(
        out,
        r#"<h1>{}</h1><p class="subtitle">{}</p>"#,
        escape(title),
        escape(subtitle)
    );
    out.push_str(r#"<div class="key"><span class="muted">decision bands:</span>"#);
    for d in Decision::ALL {
        out.push_str(&chip(d));
    }
    let _ = write!(
        out,
        r#"<span class="chip"><i style="background:{INCIDENT};opacity:.3"></i>known incident</span></div>"#
    );
    if sections.len() > 1 {
        out.push_str(r#"<nav class="toc">"#);
        for s in sections {
            // `id` is made of characters that need no escaping.
            let _ = write!(
                out,
                r##"<a href="#{}"><i style="background:{}"></i>{}</a>"##,
                s.id,
                decision_fill(s.decision),
                escape(&s.title)
            );
        }
        out.push_str("</nav>");
    }
    for section in sections {
        out.push_str(&section.html);
    }
    let _ = writeln!(
        out,
        "<footer>{}</footer></main></body></html>",
        escape(footer)
    );
    out
}
