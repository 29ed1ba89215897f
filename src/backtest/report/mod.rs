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
//! `chart` draws a dimension's SVG, `summary` the tables, `explain` who burned at each change, `format` how numbers, times and
//! text are written; this file puts an SLO's section and the page together.

mod chart;
mod explain;
pub(crate) mod format;
mod summary;

use crate::backtest::Summary;
use crate::backtest::incidents::Incident;
use crate::decision::Decision;
use crate::engine::Evaluation;
use crate::engine::groups::format_group;
use crate::spec::{ServiceSpec, SloSpec};
use chart::{INCIDENT, TimeAxis, render_chart};
use format::chip;
use std::fmt::Write;
use summary::render_summary;

pub use format::{decision_fill, escape};

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
        let axis = TimeAxis::new(chart.evaluations, &chart.summary.step);
        for dim in chart.slo.dimensions() {
            render_chart(&mut out, chart, dim, &axis);
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

const CSS: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1d1f23;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Liberation Sans", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 20px 40px; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 18px; margin: 0; }
.subtitle, .muted { color: #60656e; }
.subtitle { margin: 0 0 10px; }
.key { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; margin: 8px 0 14px; color: #444; }
nav.toc { background: #fff; border: 1px solid #dde0e4; border-radius: 6px; padding: 8px 12px; margin-bottom: 16px; columns: 3 260px; }
nav.toc a { display: block; color: #1d4f91; text-decoration: none; padding: 1px 0; break-inside: avoid; }
nav.toc a:hover { text-decoration: underline; }
nav.toc i { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 6px; }
section.slo { background: #fff; border: 1px solid #dde0e4; border-radius: 8px; padding: 14px 18px; margin: 0 0 18px; break-inside: avoid; }
section.slo > header { display: flex; gap: 12px; align-items: center; }
.service { color: #60656e; font-weight: 500; }
.description { margin: 4px 0 2px; }
.labels { margin: 2px 0 6px; }
.labels code, h2 code.group { background: #f0f1f3; border-radius: 3px; padding: 0 4px; font-size: 12px; }
.chip { display: inline-flex; align-items: center; gap: 5px; font-weight: 600; font-size: 13px; white-space: nowrap; }
.chip i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
.tables { display: flex; flex-wrap: wrap; gap: 12px 28px; align-items: flex-start; margin: 10px 0 4px; }
table.summary { border-collapse: collapse; font-size: 13px; }
table.summary th, table.summary td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #eceef1; vertical-align: middle; }
table.summary thead th { color: #60656e; font-weight: 600; font-size: 12px; }
table.summary tbody th { color: #60656e; font-weight: 500; }
table.contributors { margin: 10px 0 4px; }
table.contributors caption { text-align: left; font-weight: 600; font-size: 13px; padding-bottom: 2px; }
table.contributors td { vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.share { white-space: nowrap; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; width: 70px; height: 8px; background: #eceef1; border-radius: 2px; margin-right: 6px; vertical-align: middle; overflow: hidden; }
.bar i { display: block; height: 100%; }
figure.chart { margin: 12px 0 0; }
figcaption { font-weight: 600; font-size: 13px; margin-bottom: 2px; }
svg.chart { display: block; width: 100%; height: auto; font-family: inherit; }
svg .tick, svg .strip-label { font-size: 11px; fill: #5a5f68; }
svg .legend text { font-size: 12px; fill: #333; }
svg .legend-title { fill: #60656e !important; }
svg .threshold-label { font-size: 11px; font-weight: 600; }
svg .incident-label { font-size: 11px; fill: #5b34a8; font-weight: 600; }
svg .empty { font-size: 14px; fill: #8a8f98; }
svg .grid line { stroke: #eef0f2; stroke-width: 1; }
svg .grid line.major { stroke: #dfe2e6; }
svg .grid line.one { stroke: #b9bec6; }
footer { color: #8a8f98; font-size: 12px; margin-top: 20px; }
.verdict { font-weight: 700; white-space: nowrap; }
.verdict.met { color: #23803d; }
.verdict.missed { color: #c01f1f; }
@media print { body { background: #fff; } section.slo { border: none; padding: 0; } nav.toc { display: none; } }
"#;

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
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body><main>",
        escape(title)
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
