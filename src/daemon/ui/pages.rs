//! The HTML of the web page: the list of every SLO instance (`/`) and the page of one
//! (`/slo/...`), from the latest evaluations, the retained history and the running specs.
//!
//! Pages are whole documents that need nothing else: inline CSS (the chart's), no script,
//! no external resource; they refresh themselves with `<meta http-equiv="refresh">` (which a
//! reader can turn off: `refresh=off`). Filters are a plain GET form, links are links, so
//! the page works from a keyboard and without JavaScript. A decision is always written out
//! next to its colour. Every text that comes from a spec, a backend or a sink is escaped.

use super::store::{DimensionHistory, Series};
use super::url;
use crate::chart::format::{chip, decision_fill, escape, fmt_num, fmt_one, fmt_pct, utc};
use crate::chart::{self, BurnChart, PAGE_CSS, TimeAxis, dimension_caption};
use crate::decision::Decision;
use crate::engine::explain::report;
use crate::engine::groups::format_group;
use crate::engine::{DimensionReport, Evaluation, GroupLabels, RuleRef};
use crate::spec::{Dimension, ServiceSpec, SloSpec};
use std::collections::BTreeSet;
use std::fmt::Write;

/// The page's own styles, after the chart's.
const CSS: &str = r#"
a { color: #1d4f91; }
a:focus-visible, button:focus-visible, select:focus-visible, input:focus-visible, summary:focus-visible {
  outline: 3px solid #1d4f91; outline-offset: 2px; }
.skip { position: absolute; left: -10000px; }
.skip:focus { position: static; }
header.top { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: baseline; margin-bottom: 10px; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: end; background: #fff;
  border: 1px solid #dde0e4; border-radius: 6px; padding: 8px 12px; margin-bottom: 10px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: #60656e; gap: 2px; }
form.filters select, form.filters input { font: inherit; padding: 3px 6px; min-width: 150px; }
form.filters button { font: inherit; padding: 4px 14px; }
.counts { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 6px 0 10px; }
.counts a { text-decoration: none; }
table.slos { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #dde0e4; }
table.slos th, table.slos td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eceef1; vertical-align: top; }
table.slos caption { text-align: left; padding: 0 0 4px; }
table.slos thead th { font-size: 12px; color: #60656e; background: #fafbfc; }
table.slos tr.circuit_break td:first-child { box-shadow: inset 4px 0 #d62f2f; }
table.slos tr.scale td:first-child { box-shadow: inset 4px 0 #f28c28; }
table.slos tr.warn td:first-child { box-shadow: inset 4px 0 #f5c518; }
table.slos tr.no_data td:first-child { box-shadow: inset 4px 0 #b4b4b4; }
.burns { font-variant-numeric: tabular-nums; font-size: 13px; }
.burns span { white-space: nowrap; margin-right: 10px; }
.burns b { color: #c01f1f; }
.dim .chip { font-size: 12px; }
code.group { background: #f0f1f3; border-radius: 3px; padding: 0 4px; font-size: 12px; }
section.slo h2 { margin-top: 6px; }
section.slo h3 { font-size: 15px; margin: 14px 0 4px; }
.errors { color: #c01f1f; }
ul.exemplars { margin: 4px 0; padding-left: 18px; font-size: 13px; }
"#;

/// Ranks decisions for "worst first": an action, then missing data, then `ok`.
fn rank(d: Decision) -> u8 {
    match d {
        Decision::CircuitBreak => 0,
        Decision::Scale => 1,
        Decision::Warn => 2,
        Decision::NoData => 3,
        Decision::Ok => 4,
    }
}

/// The lowest budget remaining over the dimensions (an instance with none sorts last).
fn lowest_budget(e: &Evaluation) -> f64 {
    e.dimensions()
        .filter_map(|(_, d)| d.budget_remaining)
        .reduce(f64::min)
        .unwrap_or(f64::INFINITY)
}

/// What the list's query asks for.
#[derive(Debug, Default)]
pub(crate) struct Filters {
    service: Option<String>,
    decisions: BTreeSet<Decision>,
    /// `key=value` (or `key`, present with any value) over spec and group labels.
    labels: Vec<(String, Option<String>)>,
    refresh: bool,
}

impl Filters {
    pub(crate) fn parse(query: Option<&str>) -> Filters {
        let mut f = Filters {
            refresh: true,
            ..Filters::default()
        };
        for (k, v) in url::parse_query(query) {
            let v = v.trim().to_string();
            match k.as_str() {
                "service" if !v.is_empty() => f.service = Some(v),
                "decision" => f.decisions.extend(Decision::parse(&v)),
                "label" if !v.is_empty() => f.labels.push(match v.split_once('=') {
                    Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string())),
                    None => (v, None),
                }),
                "refresh" => f.refresh = v != "off",
                _ => {}
            }
        }
        f
    }

    fn matches(&self, e: &Evaluation) -> bool {
        (self.decisions.is_empty() || self.decisions.contains(&e.decision))
            && self.matches_but_decision(e)
    }

    fn matches_but_decision(&self, e: &Evaluation) -> bool {
        self.service.as_ref().is_none_or(|s| *s == e.service)
            && self.labels.iter().all(|(k, v)| {
                let value = e.labels.get(k).or_else(|| e.group.get(k));
                match v {
                    Some(v) => value == Some(v),
                    None => value.is_some(),
                }
            })
    }

    /// The list with these filters but `decisions` and `refresh`.
    fn href(&self, decisions: &BTreeSet<Decision>, refresh: bool) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(s) = &self.service {
            pairs.push(("service", s.clone()));
        }
        for d in decisions {
            pairs.push(("decision", d.as_str().to_string()));
        }
        for (k, v) in &self.labels {
            pairs.push((
                "label",
                v.as_ref().map_or_else(|| k.clone(), |v| format!("{k}={v}")),
            ));
        }
        if !refresh {
            pairs.push(("refresh", "off".into()));
        }
        format!(
            "/{}",
            url::query_string(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        )
    }
}

/// What both pages show around their content.
pub(crate) struct Frame<'a> {
    pub(crate) title: &'a str,
    /// Seconds between refreshes; `None`: no refresh.
    pub(crate) refresh: Option<u64>,
    /// Where the "stop/resume refreshing" link goes (none: no link).
    pub(crate) toggle: Option<&'a str>,
}

fn page(frame: &Frame, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + PAGE_CSS.len() + CSS.len() + 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    );
    if let Some(s) = frame.refresh {
        let _ = write!(out, "<meta http-equiv=\"refresh\" content=\"{s}\">");
    }
    let _ = write!(
        out,
        "<title>{}</title><style>{PAGE_CSS}{CSS}</style></head><body><a class=\"skip\" href=\"#content\">Skip to content</a><main id=\"content\">{body}",
        escape(frame.title)
    );
    let _ = write!(
        out,
        "<footer>burnrate {} · times are UTC · burn 1 spends exactly the error budget over the SLO period · {}</footer></main></body></html>",
        env!("CARGO_PKG_VERSION"),
        match (frame.refresh, frame.toggle) {
            (Some(s), Some(t)) => format!(
                "refreshes every {s} s (<a href=\"{}\">stop refreshing</a>)",
                escape(t)
            ),
            (None, Some(t)) => format!(
                "not refreshing (<a href=\"{}\">refresh automatically</a>)",
                escape(t)
            ),
            _ => String::new(),
        }
    );
    out.push('\n');
    out
}

/// `5m 0.41  1h 12.3`: a dimension's burns, those of windows a firing rule reads in bold.
fn burns(out: &mut String, d: &DimensionReport) {
    let hot: BTreeSet<&str> = d
        .fired
        .iter()
        .chain(&d.held)
        .flat_map(|r| std::iter::once(r.long.as_str()).chain(r.short.as_deref()))
        .collect();
    out.push_str(r#"<div class="burns">"#);
    for (w, b) in d.burn.iter() {
        let v = b.map_or_else(|| "null".to_string(), fmt_burn);
        if hot.contains(w) {
            let _ = write!(out, "<span>{} <b>{v}</b></span>", escape(w));
        } else {
            let _ = write!(out, "<span>{} {v}</span>", escape(w));
        }
    }
    out.push_str("</div>");
}

/// A burn with 3 significant digits or so: `0.0412`, `1.2`, `84.1`, `1203`.
fn fmt_burn(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        "0".into()
    } else if v.abs() < 0.01 {
        format!("{v:.4}")
    } else if v.abs() < 10.0 {
        fmt_num((v * 100.0).round() / 100.0)
    } else {
        fmt_one(v)
    }
}

fn budget(out: &mut String, b: Option<f64>) {
    match b {
        Some(b) => {
            let width = (b.clamp(0.0, 1.0) * 100.0).round();
            let fill = if b <= 0.0 {
                decision_fill(Decision::CircuitBreak)
            } else if b < 0.25 {
                decision_fill(Decision::Scale)
            } else {
                decision_fill(Decision::Ok)
            };
            let _ = write!(
                out,
                r#"<div class="share">budget <span class="bar"><i style="width:{width}%;background:{fill}"></i></span>{}</div>"#,
                fmt_pct(b)
            );
        }
        None => out.push_str(r#"<div class="share muted">budget unknown</div>"#),
    }
}

fn labels_text(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("<code>{}={}</code>", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `/`: every SLO instance of `latest` the filters let through, worst first.
pub(crate) fn list(
    latest: &[Evaluation],
    filters: &Filters,
    interval_s: u64,
    now_ms: i64,
) -> String {
    let mut body = String::with_capacity(4096 + latest.len() * 1024);
    let shown: Vec<&Evaluation> = {
        let mut v: Vec<&Evaluation> = latest.iter().filter(|e| filters.matches(e)).collect();
        v.sort_by(|a, b| {
            rank(a.decision)
                .cmp(&rank(b.decision))
                .then(lowest_budget(a).total_cmp(&lowest_budget(b)))
                .then_with(|| a.instance_name().cmp(&b.instance_name()))
        });
        v
    };
    let _ = write!(
        body,
        r#"<header class="top"><h1>burnrate</h1><span class="muted">{} SLO instance{} · evaluated every {} s · page generated {} UTC</span></header>"#,
        latest.len(),
        if latest.len() == 1 { "" } else { "s" },
        interval_s,
        utc(now_ms, "%Y-%m-%d %H:%M:%S"),
    );

    // Filters: a GET form, so the URL says what is shown and a reload keeps it.
    let services: BTreeSet<&str> = latest.iter().map(|e| e.service.as_str()).collect();
    body.push_str(r#"<form class="filters" method="get" action="/"><label>service<select name="service"><option value="">all</option>"#);
    for s in services {
        let selected = if filters.service.as_deref() == Some(s) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            r#"<option value="{0}"{selected}>{0}</option>"#,
            escape(s)
        );
    }
    body.push_str(
        r#"</select></label><label>decision<select name="decision"><option value="">any</option>"#,
    );
    for d in Decision::ALL {
        let selected = if filters.decisions.contains(&d) {
            " selected"
        } else {
            ""
        };
        let _ = write!(body, r#"<option value="{d}"{selected}>{d}</option>"#);
    }
    let label_value = filters
        .labels
        .first()
        .map(|(k, v)| v.as_ref().map_or_else(|| k.clone(), |v| format!("{k}={v}")))
        .unwrap_or_default();
    let _ = write!(
        body,
        r#"</select></label><label>label (key=value)<input name="label" value="{}" placeholder="team=payments"></label>"#,
        escape(&label_value)
    );
    if !filters.refresh {
        body.push_str(r#"<input type="hidden" name="refresh" value="off">"#);
    }
    body.push_str(r#"<button type="submit">Filter</button><a href="/">clear</a></form>"#);

    // Counts per decision, each a link to that filter.
    body.push_str(r#"<nav class="counts" aria-label="decisions">"#);
    for d in Decision::ALL {
        let n = latest
            .iter()
            .filter(|e| e.decision == d && filters.matches_but_decision(e))
            .count();
        let _ = write!(
            body,
            r#"<a href="{}">{} {n}</a>"#,
            escape(&filters.href(&BTreeSet::from([d]), filters.refresh)),
            chip(d)
        );
    }
    body.push_str("</nav>");

    if latest.is_empty() {
        body.push_str(r#"<p class="muted">No evaluation yet: the first cycle is running.</p>"#);
    } else if shown.is_empty() {
        body.push_str(r#"<p class="muted">No SLO matches these filters.</p>"#);
    }
    if !shown.is_empty() {
        body.push_str(r#"<table class="slos"><caption class="muted">worst first: circuit_break, scale, warn, no_data, ok; then the least budget left</caption><thead><tr><th scope="col">decision</th><th scope="col">SLO</th><th scope="col">error</th><th scope="col">latency</th><th scope="col">evaluated</th></tr></thead><tbody>"#);
        for e in shown {
            let _ = write!(
                body,
                r#"<tr class="{d}" data-decision="{d}"><td>{}</td><td><a href="{}"><span class="service">{}</span> / {}</a>"#,
                chip(e.decision),
                escape(&url::slo_page(&e.service, &e.slo, &e.group)),
                escape(&e.service),
                escape(&e.slo),
                d = e.decision,
            );
            if !e.group.is_empty() {
                let _ = write!(
                    body,
                    r#" <code class="group">{}</code>"#,
                    escape(&format_group(&e.group))
                );
            }
            if !e.labels.is_empty() {
                let _ = write!(
                    body,
                    r#"<div class="labels">{}</div>"#,
                    labels_text(&e.labels)
                );
            }
            body.push_str("</td>");
            for dim in Dimension::ALL {
                body.push_str(r#"<td class="dim">"#);
                match report(e, dim) {
                    Some(d) => {
                        body.push_str(&chip(d.decision));
                        burns(&mut body, d);
                        budget(&mut body, d.budget_remaining);
                    }
                    None => body.push_str(r#"<span class="muted">—</span>"#),
                }
                body.push_str("</td>");
            }
            let _ = write!(
                body,
                r#"<td>{}<div class="muted">{}</div></td></tr>"#,
                utc(e.at_ms, "%H:%M:%S"),
                age(now_ms - e.at_ms)
            );
        }
        body.push_str("</tbody></table>");
    }
    let toggle = filters.href(&filters.decisions, !filters.refresh);
    page(
        &Frame {
            title: "burnrate: SLOs",
            refresh: filters.refresh.then(|| refresh_seconds(interval_s)),
            toggle: Some(&toggle),
        },
        &body,
    )
}

/// A page saying what was not found, with the way back.
pub(crate) fn not_found(message: &str) -> String {
    page(
        &Frame {
            title: "burnrate: not found",
            refresh: None,
            toggle: None,
        },
        &format!(
            r#"<p><a href="/">← all SLOs</a></p><h1>Not found</h1><p>{}</p>"#,
            escape(message)
        ),
    )
}

/// A page refreshes with the evaluations, but not more often than every 5 s.
pub(crate) fn refresh_seconds(interval_s: u64) -> u64 {
    interval_s.clamp(5, 300)
}

fn age(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    if s < 120 {
        format!("{s} s ago")
    } else if s < 7200 {
        format!("{} min ago", s / 60)
    } else {
        format!("{} h ago", s / 3600)
    }
}

/// Everything the SLO page shows about one instance.
pub(crate) struct SloPage<'a> {
    pub(crate) service: &'a ServiceSpec,
    pub(crate) slo: &'a SloSpec,
    pub(crate) group: &'a GroupLabels,
    pub(crate) latest: Option<&'a Evaluation>,
    pub(crate) history: Option<&'a Series>,
    /// Per dimension and window: the backend's graph page of its burn rate.
    pub(crate) graph: &'a dyn Fn(Dimension, &str) -> Option<String>,
    pub(crate) interval_ms: i64,
    pub(crate) retention: &'a str,
    pub(crate) refresh: bool,
    pub(crate) now_ms: i64,
}

fn rule_state(d: Option<&DimensionReport>, rule: &crate::spec::Rule) -> &'static str {
    let Some(d) = d else { return "—" };
    let r = RuleRef::from(rule);
    if d.fired.contains(&r) {
        "firing"
    } else if d.pending.contains(&r) {
        "pending (for)"
    } else if d.held.contains(&r) {
        "held (hold)"
    } else {
        "—"
    }
}

/// `/slo/...`: one instance's decision, burns, charts, thresholds, contributors, exemplars,
/// changes and deliveries.
pub(crate) fn slo(p: &SloPage) -> String {
    let mut body = String::with_capacity(64 * 1024);
    let service = &p.service.service;
    let name = &p.slo.name;
    let group = format_group(p.group);
    let decision = p.latest.map(|e| e.decision);
    let _ = write!(
        body,
        r#"<p><a href="/">← all SLOs</a></p><section class="slo" data-decision="{}"><header><h1><span class="service">{}</span> / {}{}</h1>{}</header>"#,
        decision.map_or("none", Decision::as_str),
        escape(service),
        escape(name),
        if group.is_empty() {
            String::new()
        } else {
            format!(r#" <code class="group">{}</code>"#, escape(&group))
        },
        decision.map_or_else(
            || r#"<span class="muted">not evaluated since the start</span>"#.to_string(),
            chip
        ),
    );
    if let Some(d) = &p.slo.description {
        let _ = write!(body, r#"<p class="description">{}</p>"#, escape(d));
    }
    if !p.service.labels.is_empty() {
        let _ = write!(
            body,
            r#"<p class="labels">{}</p>"#,
            labels_text(&p.service.labels)
        );
    }
    let _ = write!(
        body,
        r#"<p class="muted">period {} · for {} · hold {} · charts over the last {}"#,
        escape(p.slo.period.as_str()),
        escape(p.slo.for_.as_str()),
        escape(p.slo.hold.as_str()),
        escape(p.retention)
    );
    if let Some(e) = p.latest {
        let _ = write!(
            body,
            " · evaluated {} UTC ({})",
            utc(e.at_ms, "%Y-%m-%d %H:%M:%S"),
            age(p.now_ms - e.at_ms)
        );
    }
    body.push_str("</p>");
    if let Some(e) = p.latest.filter(|e| !e.errors.is_empty()) {
        body.push_str(r#"<ul class="errors">"#);
        for err in &e.errors {
            let _ = write!(body, "<li>{}</li>", escape(err));
        }
        body.push_str("</ul>");
    }

    let slo_steps = p.history.map(Series::slo_decisions).unwrap_or_default();
    for dim in p.slo.dimensions() {
        dimension_section(&mut body, p, dim, &slo_steps);
    }
    changes(&mut body, p.history);
    deliveries(&mut body, p.history);
    body.push_str("</section>");
    let title = format!("burnrate: {service} / {name}{group}");
    let here = url::slo_page(service, name, p.group);
    let toggle = if p.refresh {
        format!(
            "{here}{}refresh=off",
            if here.contains('?') { "&" } else { "?" }
        )
    } else {
        here
    };
    page(
        &Frame {
            title: &title,
            refresh: p
                .refresh
                .then(|| refresh_seconds((p.interval_ms / 1000).max(1) as u64)),
            toggle: Some(&toggle),
        },
        &body,
    )
}

fn dimension_section(
    body: &mut String,
    p: &SloPage,
    dim: Dimension,
    slo_steps: &[(i64, Decision)],
) {
    let now = p.latest.and_then(|e| report(e, dim));
    let _ = write!(
        body,
        r#"<h2 id="{0}">{0} {1}</h2>"#,
        dim.as_str(),
        now.map_or_else(String::new, |d| chip(d.decision))
    );
    if let Some(d) = now {
        budget(body, d.budget_remaining);
    }

    // The chart over the retained evaluations.
    let history: Option<DimensionHistory> = p.history.and_then(|h| h.dimension(dim));
    match history.filter(|h| !h.decisions.is_empty()) {
        Some(h) => {
            // One chart per window, with the thresholds of the rules that read it, as an
            // alert's windows are looked at one by one.
            let times: Vec<i64> = h.decisions.iter().map(|(t, _)| *t).collect();
            let caption = dimension_caption(p.slo, dim);
            let all_rules = p.slo.matrix(dim).unwrap_or(&[]);
            for (window, series) in h.windows.iter().zip(h.series) {
                let rules: Vec<crate::spec::Rule> = all_rules
                    .iter()
                    .filter(|r| {
                        r.long.as_str() == window
                            || r.short.as_ref().is_some_and(|s| s.as_str() == window)
                    })
                    .cloned()
                    .collect();
                chart::render(
                    body,
                    &BurnChart {
                        dimension: dim,
                        label: format!(
                            "{} / {}: {caption}, window {window}",
                            p.service.service, p.slo.name
                        ),
                        note: Some(format!("window {window}, {} evaluations", times.len())),
                        caption: caption.clone(),
                        rules: &rules,
                        windows: vec![window.clone()],
                        series: vec![series],
                        dimension_steps: h.decisions.clone(),
                        slo_steps: slo_steps.to_vec(),
                        spans: Vec::new(),
                        axis: TimeAxis::new(&times, p.interval_ms),
                    },
                );
            }
        }
        None => body.push_str(r#"<p class="muted">No evaluation retained yet.</p>"#),
    }

    // Windows now, each with the backend's own graph of its burn rate.
    body.push_str(r#"<div class="tables">"#);
    let _ = write!(
        body,
        r#"<table class="summary windows"><caption>{} burn rate now, per window</caption><thead><tr><th scope="col">window</th><th scope="col">burn</th><th scope="col">events</th><th scope="col">backend graph</th></tr></thead><tbody>"#,
        dim.as_str()
    );
    let windows: Vec<String> = match now {
        Some(d) => d.burn.iter().map(|(w, _)| w.to_string()).collect(),
        None => p.slo.windows(dim).iter().map(|w| w.to_string()).collect(),
    };
    for w in &windows {
        let burn = now.and_then(|d| d.burn.value(w));
        let events = now.and_then(|d| d.events.value(w));
        let link = (p.graph)(dim, w).map_or_else(
            || r#"<span class="muted">—</span>"#.to_string(),
            |href| {
                format!(
                    r#"<a href="{}">{} over {}</a>"#,
                    escape(&href),
                    dim.as_str(),
                    escape(w)
                )
            },
        );
        let _ = write!(
            body,
            r#"<tr><th scope="row">{}</th><td class="num">{}</td><td class="num">{}</td><td>{link}</td></tr>"#,
            escape(w),
            burn.map_or_else(|| "null".into(), fmt_burn),
            events.map_or_else(|| "—".into(), |v| fmt_num(v.round())),
        );
    }
    body.push_str("</tbody></table>");

    // The matrix, and what each rule does now.
    let rules = p.slo.matrix(dim).unwrap_or(&[]);
    if !rules.is_empty() {
        let _ = write!(
            body,
            r#"<table class="summary matrix"><caption>{} thresholds</caption><thead><tr><th scope="col">rule</th><th scope="col">burn ≥</th><th scope="col">long</th><th scope="col">short</th><th scope="col">for</th><th scope="col">now</th></tr></thead><tbody>"#,
            dim.as_str()
        );
        for rule in rules {
            let _ = write!(
                body,
                r#"<tr><td>{}</td><td class="num">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                chip(rule.decision),
                fmt_num(rule.burn),
                escape(rule.long.as_str()),
                rule.short.as_ref().map_or("—", |s| s.as_str()),
                escape(rule.wait(p.slo).as_str()),
                rule_state(now, rule),
            );
        }
        body.push_str("</tbody></table>");
    }

    // Who burns, while it does.
    if let Some(c) = now.and_then(|d| d.contributors.as_ref()) {
        let fill = decision_fill(now.map_or(Decision::Warn, |d| d.decision));
        let _ = write!(
            body,
            r#"<table class="summary contributors"><caption>contributors over {} (share of bad events, burn)</caption><thead><tr><th scope="col">labels</th><th scope="col">share</th><th scope="col">burn</th></tr></thead><tbody>"#,
            escape(&c.window)
        );
        for t in &c.top {
            let _ = write!(
                body,
                r#"<tr><td>{}</td><td class="share"><span class="bar"><i style="width:{}%;background:{fill}"></i></span>{}</td><td class="num">{}</td></tr>"#,
                if t.labels.is_empty() {
                    r#"<span class="muted">(no breakdown labels)</span>"#.to_string()
                } else {
                    labels_text(&t.labels)
                },
                fmt_one(t.bad_share * 100.0),
                fmt_pct(t.bad_share),
                fmt_burn(t.burn),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</div>");
    if let Some(d) = now.filter(|d| !d.exemplars.is_empty()) {
        body.push_str(r#"<h3>exemplars of bad events, newest first</h3><ul class="exemplars">"#);
        for x in &d.exemplars {
            let _ = write!(
                body,
                "<li>{} <span class=\"muted\">value {} at {} on</span> {}</li>",
                labels_text(&x.labels),
                fmt_num(x.value),
                escape(&x.time),
                labels_text(&x.series)
            );
        }
        body.push_str("</ul>");
    }
}

fn changes(body: &mut String, history: Option<&Series>) {
    body.push_str(r#"<h2 id="changes">recent decision changes</h2>"#);
    let Some(list) = history
        .map(|h| h.changes().collect::<Vec<_>>())
        .filter(|l| !l.is_empty())
    else {
        body.push_str(r#"<p class="muted">No decision change retained.</p>"#);
        return;
    };
    body.push_str(r#"<table class="summary changes"><thead><tr><th scope="col">time (UTC)</th><th scope="col">from</th><th scope="col">to</th><th scope="col">why</th></tr></thead><tbody>"#);
    for c in list {
        let _ = write!(
            body,
            r#"<tr class="change {}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            c.to,
            utc(c.at_ms, "%Y-%m-%d %H:%M:%S"),
            c.from
                .map_or_else(|| r#"<span class="muted">(start)</span>"#.to_string(), chip),
            chip(c.to),
            escape(&c.why)
        );
    }
    body.push_str("</tbody></table>");
}

fn deliveries(body: &mut String, history: Option<&Series>) {
    body.push_str(r#"<h2 id="deliveries">alert and webhook deliveries</h2>"#);
    let Some(list) = history
        .map(|h| h.deliveries().collect::<Vec<_>>())
        .filter(|l| !l.is_empty())
    else {
        body.push_str(r#"<p class="muted">Nothing sent to Alertmanager or webhooks yet.</p>"#);
        return;
    };
    body.push_str(r#"<table class="summary deliveries"><thead><tr><th scope="col">last (UTC)</th><th scope="col">sink</th><th scope="col">target</th><th scope="col">sent</th><th scope="col">result</th><th scope="col">posts</th></tr></thead><tbody>"#);
    for d in list {
        let result = if d.ok {
            "delivered".to_string()
        } else {
            format!("<strong>failed</strong>: {}", escape(&d.detail))
        };
        let _ = write!(
            body,
            r#"<tr class="delivery {}"><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{result}</td><td class="num">{}{}</td></tr>"#,
            if d.ok { "delivered" } else { "failed" },
            utc(d.last_ms, "%Y-%m-%d %H:%M:%S"),
            escape(&d.sink),
            escape(&d.target),
            escape(&d.what),
            d.count,
            if d.count > 1 {
                format!(
                    r#" <span class="muted">since {}</span>"#,
                    utc(d.first_ms, "%H:%M:%S")
                )
            } else {
                String::new()
            }
        );
    }
    body.push_str("</tbody></table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::WindowMap;

    fn eval(service: &str, slo: &str, decision: Decision, budget: f64) -> Evaluation {
        let dim = DimensionReport {
            decision,
            objective: 0.99,
            threshold_seconds: None,
            quantile: None,
            quantile_seconds: None,
            burn: [("5m".to_string(), Some(12.5)), ("1h".to_string(), None)]
                .into_iter()
                .collect(),
            events: WindowMap::default(),
            no_traffic: vec![],
            fired: vec![],
            pending: vec![],
            held: vec![],
            budget_remaining: Some(budget),
            budget_since: None,
            suppressed: vec![],
            no_data_for: None,
            contributors: None,
            exemplars: vec![],
        };
        Evaluation {
            time: String::new(),
            service: service.into(),
            slo: slo.into(),
            group: GroupLabels::from([("route".to_string(), "<a&b>".to_string())]),
            labels: [("team".to_string(), "pay".to_string())].into(),
            decision,
            previous: None,
            error: Some(dim),
            latency: None,
            errors: vec![],
            maintenance: None,
            at_ms: 1_000_000,
        }
    }

    #[test]
    fn the_list_is_worst_first_filters_and_escapes() {
        let latest = vec![
            eval("a<b>", "ok-one", Decision::Ok, 0.9),
            eval("a<b>", "broken", Decision::CircuitBreak, 0.5),
            eval("c", "warned", Decision::Warn, 0.2),
            eval("c", "nodata", Decision::NoData, 0.1),
        ];
        let html = list(&latest, &Filters::parse(None), 30, 1_005_000);
        let order: Vec<usize> = ["broken", "warned", "nodata", "ok-one"]
            .iter()
            .map(|n| html.find(&format!("/ {n}</a>")).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(html.contains("a&lt;b&gt;") && !html.contains("a<b>"));
        assert!(html.contains("{route=&quot;&lt;a&amp;b&gt;&quot;}"));
        assert!(html.contains(r#"href="/slo/a%3Cb%3E/broken?g.route=%3Ca%26b%3E""#));
        assert!(html.contains(r#"<meta http-equiv="refresh" content="30">"#));
        assert!(!html.to_ascii_lowercase().contains("<script"));

        let f = Filters::parse(Some("service=c&decision=warn&label=team%3Dpay&refresh=off"));
        let html = list(&latest, &f, 30, 1_005_000);
        assert!(html.contains("/ warned</a>") && !html.contains("/ nodata</a>"));
        assert!(!html.contains("http-equiv"));
        let none = list(&latest, &Filters::parse(Some("label=team%3Dother")), 30, 0);
        assert!(none.contains("No SLO matches"));
        let present = list(&latest, &Filters::parse(Some("label=route")), 30, 0);
        assert!(present.contains("/ warned</a>"));
    }
}
