//! The summary tables of one SLO: time in each decision, the replay itself (range, step,
//! changes, flaps) and the scores against the known incidents, from the typed `Summary`.

use super::SloChart;
use crate::chart::format::{chip, decision_fill, escape, fmt_one, fmt_pct, fmt_secs, utc};
use crate::decision::Decision;
use std::fmt::Write;

pub(super) fn opt_secs(v: Option<f64>) -> String {
    match v {
        Some(s) => fmt_secs(s),
        None => "never".into(),
    }
}

pub(super) fn render_summary(out: &mut String, chart: &SloChart) {
    let summary = chart.summary;
    out.push_str(r#"<div class="tables">"#);

    // Time in each decision.
    let time_in = &summary.timeline.time_in_seconds;
    let first = &summary.timeline.first_reached;
    let total: f64 = time_in.values().sum();
    out.push_str(
        r#"<table class="summary decisions"><thead><tr><th>decision</th><th>time</th><th>share</th><th>first reached (UTC)</th></tr></thead><tbody>"#,
    );
    for d in Decision::ALL {
        let secs = time_in.get(d.as_str()).copied().unwrap_or(0.0);
        let share = if total > 0.0 { secs / total } else { 0.0 };
        let reached = first.get(d.as_str()).map_or("—".to_string(), |t| escape(t));
        let _ = write!(
            out,
            r#"<tr class="{d}"><td>{}</td><td class="num">{}</td><td class="share"><span class="bar"><i style="width:{}%;background:{}"></i></span>{}</td><td>{reached}</td></tr>"#,
            chip(d),
            if secs > 0.0 {
                fmt_secs(secs)
            } else {
                "—".into()
            },
            fmt_one(share * 100.0),
            decision_fill(d),
            if secs > 0.0 {
                fmt_pct(share)
            } else {
                String::new()
            },
        );
    }
    out.push_str("</tbody></table>");

    // The replay itself.
    out.push_str(r#"<table class="summary replay"><tbody>"#);
    let mut row = |k: &str, v: String| {
        let _ = write!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row(
        "range",
        format!("{} → {}", escape(&summary.from), escape(&summary.to)),
    );
    row(
        "step",
        format!(
            "{} ({} evaluations)",
            escape(&summary.step),
            summary.evaluations
        ),
    );
    row("rates", escape(&summary.rates));
    row("decision at the end", chip(summary.decision));
    row("decision changes", summary.timeline.changes.to_string());
    row(
        "flaps",
        format!(
            "{} <span class=\"muted\">(undone within {})</span>",
            summary.timeline.flaps,
            escape(&summary.timeline.flap_window)
        ),
    );
    out.push_str("</tbody></table>");

    // Scores against the known incidents.
    if let Some(scores) = &summary.scores {
        let pct = |share: Option<f64>| share.map_or("—".to_string(), fmt_pct);
        let _ = write!(
            out,
            r#"<table class="summary scores"><tbody><tr><th>incidents</th><td>{} ({} detected)</td></tr><tr><th>precision</th><td>{} <span class="muted">of alerting time inside an incident</span></td></tr><tr><th>recall</th><td>{} <span class="muted">of incidents alerted on</span></td></tr></tbody></table>"#,
            scores.incidents,
            scores.detected,
            pct(scores.precision),
            pct(scores.recall),
        );
        if !chart.incidents.is_empty() {
            out.push_str(
                r#"<table class="summary incidents"><thead><tr><th>incident (UTC)</th><th>lasted</th><th>detected after</th><th>back to ok after</th></tr></thead><tbody>"#,
            );
            for (i, inc) in chart.incidents.iter().enumerate() {
                let _ = write!(
                    out,
                    "<tr><td>{} → {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    utc(inc.start_ms, "%Y-%m-%d %H:%M"),
                    utc(inc.end_ms, "%Y-%m-%d %H:%M"),
                    fmt_secs((inc.end_ms - inc.start_ms) as f64 / 1000.0),
                    opt_secs(scores.detection_seconds.get(i).copied().flatten()),
                    opt_secs(scores.reset_seconds.get(i).copied().flatten()),
                );
            }
            out.push_str("</tbody></table>");
        }
    }
    out.push_str("</div>");
}
