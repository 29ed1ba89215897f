//! Who burned: per decision change above ok, the contributors of each burning dimension
//! (its `breakdown`, over the deciding rule's long window) and the exemplars the backend
//! kept, as one table under the SLO's summary.

use super::SloChart;
use crate::chart::format::{chip, decision_fill, escape, fmt_num, fmt_one, fmt_pct};
use crate::engine::explain::exemplars_text;
use std::fmt::Write;

pub(super) fn render_explanations(out: &mut String, chart: &SloChart) {
    let explained: Vec<_> = chart
        .evaluations
        .iter()
        .filter(|e| e.previous.is_some())
        .flat_map(|e| {
            e.dimensions()
                .filter(|(_, d)| d.contributors.is_some() || !d.exemplars.is_empty())
                .map(move |(name, d)| (e, name, d))
        })
        .collect();
    if explained.is_empty() {
        return;
    }
    out.push_str(
        r#"<table class="summary contributors"><caption>Who burned, at each change above ok</caption><thead><tr><th>time (UTC)</th><th>decision</th><th>dimension</th><th>window</th><th>contributors (share of bad events, burn)</th><th>exemplars</th></tr></thead><tbody>"#,
    );
    for (e, name, d) in explained {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td>{}</td><td>{name}</td><td>{}</td><td>"#,
            escape(&e.time),
            chip(e.decision),
            d.contributors
                .as_ref()
                .map_or(String::new(), |c| escape(&c.window)),
        );
        for t in d.contributors.iter().flat_map(|c| &c.top) {
            let labels: Vec<String> = t
                .labels
                .iter()
                .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
                .collect();
            let _ = write!(
                out,
                r#"<div class="share"><span class="bar"><i style="width:{}%;background:{}"></i></span>{} <code>{}</code> burn {}</div>"#,
                fmt_one(t.bad_share * 100.0),
                decision_fill(e.decision),
                fmt_pct(t.bad_share),
                labels.join(" "),
                fmt_num(t.burn),
            );
        }
        let _ = write!(
            out,
            "</td><td><code>{}</code></td></tr>",
            escape(&exemplars_text(&d.exemplars))
        );
    }
    out.push_str("</tbody></table>");
}
