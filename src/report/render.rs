//! `burnrate report` as text: Markdown (a table per service, to paste into the SLO review
//! document), JSON lines (one object per SLO and group, the contract's fields) and CSV (one
//! row per SLO, group and dimension, RFC 4180, for spreadsheets). The HTML page is `html`.
//!
//! Markdown rounds for reading; JSON and CSV carry every number as computed, so a script
//! comparing them with its own sums sees the same values.

use super::{DimensionSummary, SloReport, calendar::ReportRange};
use crate::backtest::report::Section;
use crate::chart::format::{fmt_one, fmt_secs};
use crate::decision::Decision;
use crate::engine::groups::format_group;
use crate::time::format_time;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReportFormat {
    Markdown,
    Html,
    Json,
    Csv,
}

/// An SLO the report could not cover, and why (it is named in every format but CSV, whose
/// rows are numbers; stderr says it too).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Unreported {
    pub(crate) service: String,
    pub(crate) slo: String,
    pub(crate) skipped: String,
}

/// What every format says about the run as a whole.
pub(crate) struct Run<'a> {
    pub(crate) range: &'a ReportRange,
    pub(crate) step_ms: i64,
    pub(crate) unreported: &'a [Unreported],
}

impl Run<'_> {
    /// `2026-10 (Europe/Berlin)`, or the explicit range.
    pub(crate) fn title(&self) -> String {
        match &self.range.calendar {
            Some(period) => format!("{period} ({})", self.range.timezone.name()),
            None => format!(
                "{} to {}",
                format_time(self.range.from_ms),
                format_time(self.range.to_ms)
            ),
        }
    }

    /// One sentence on what the numbers are.
    pub(crate) fn explanation(&self) -> String {
        format!(
            "From {} to {}. Attainment, budget spent and events are over the whole range; the \
             worst day is the calendar day ({}) with the lowest attainment; time in each \
             decision is from a replay at {} steps.",
            format_time(self.range.from_ms),
            format_time(self.range.to_ms),
            self.range.timezone.name(),
            crate::duration::format_millis(self.step_ms)
        )
    }
}

/// A share as a percentage with four decimals: objectives go to 99.99% and beyond, and an
/// attainment just below one must not read as equal to it.
pub(crate) fn fmt_attainment(share: f64) -> String {
    format!("{:.4}%", share * 100.0)
}

/// An objective as written, `99.9%`.
pub(crate) fn fmt_objective(summary: &DimensionSummary) -> String {
    let pct = crate::chart::format::fmt_num(summary.objective * 100.0);
    match summary.threshold_seconds {
        Some(t) if t < 1.0 => format!("{pct}% ≤ {}ms", fmt_one(t * 1000.0)),
        Some(t) => format!("{pct}% ≤ {}s", fmt_one(t)),
        None => format!("{pct}%"),
    }
}

/// Events: whole numbers with thousands separators (they are `increase`s, extrapolated,
/// so rarely whole), one decimal below 100.
pub(crate) fn fmt_events(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.abs() < 100.0 {
        return fmt_one(v);
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

pub(crate) fn fmt_met(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "missed",
        None => "no data",
    }
}

pub(crate) fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "—".into())
}

/// The worst day, `2026-10-25 (99.2100%)`.
pub(crate) fn fmt_worst_day(summary: &DimensionSummary) -> String {
    or_dash(
        summary
            .worst_day
            .as_ref()
            .map(|w| format!("{} ({})", w.date, fmt_attainment(w.attainment))),
    )
}

/// A decision's time, `—` for none.
pub(crate) fn fmt_time_in(summary: &DimensionSummary, d: Decision) -> String {
    match summary.time_in_seconds.get(d.as_str()) {
        Some(s) if *s > 0.0 => fmt_secs(*s),
        _ => "—".into(),
    }
}

/// The report in `format`; the HTML page is made of `sections` (`html::section`, rendered
/// while each SLO's replay is at hand), the other formats of `reports`.
pub(crate) fn render(
    format: ReportFormat,
    reports: &[SloReport],
    sections: &[Section],
    run: &Run,
) -> String {
    match format {
        ReportFormat::Markdown => markdown(reports, run),
        ReportFormat::Json => json(reports, run),
        ReportFormat::Csv => csv(reports),
        ReportFormat::Html => super::html::page(sections, run),
    }
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn markdown(reports: &[SloReport], run: &Run) -> String {
    let mut out = format!(
        "# SLO report: {}\n\n{}\n",
        md_cell(&run.title()),
        run.explanation()
    );
    let mut services: Vec<&str> = Vec::new();
    for r in reports {
        if !services.contains(&r.service.as_str()) {
            services.push(&r.service);
        }
    }
    for service in services {
        let mine: Vec<&SloReport> = reports.iter().filter(|r| r.service == service).collect();
        let grouped = mine.iter().any(|r| !r.group.is_empty());
        let _ = write!(out, "\n## {}\n\n", md_cell(service));
        let mut header = vec!["SLO"];
        if grouped {
            header.push("group");
        }
        header.extend([
            "dimension",
            "objective",
            "attainment",
            "met",
            "budget spent",
            "bad events",
            "total events",
            "worst day",
        ]);
        header.extend(Decision::ALL.iter().map(|d| d.as_str()));
        let numeric = |h: &str| !matches!(h, "SLO" | "group" | "dimension" | "met" | "worst day");
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(
            out,
            "|{}|",
            header
                .iter()
                .map(|h| if numeric(h) { "---:" } else { "---" })
                .collect::<Vec<_>>()
                .join("|")
        );
        for r in mine {
            for (dim, s) in r.dimensions() {
                let mut cells = vec![md_cell(&r.slo)];
                if grouped {
                    cells.push(md_cell(&format_group(&r.group)));
                }
                cells.extend([
                    dim.as_str().to_string(),
                    md_cell(&fmt_objective(s)),
                    or_dash(s.attainment.map(fmt_attainment)),
                    match s.met {
                        Some(false) => "**missed**".into(),
                        met => fmt_met(met).into(),
                    },
                    or_dash(s.budget_spent.map(|b| format!("{}%", fmt_one(b * 100.0)))),
                    or_dash(s.bad_events.map(fmt_events)),
                    or_dash(s.total_events.map(fmt_events)),
                    fmt_worst_day(s),
                ]);
                cells.extend(Decision::ALL.iter().map(|d| fmt_time_in(s, *d)));
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        }
    }
    if !run.unreported.is_empty() {
        out.push_str("\n## Not reported\n\n");
        for u in run.unreported {
            let _ = writeln!(
                out,
                "- {} / {}: {}",
                md_cell(&u.service),
                md_cell(&u.slo),
                md_cell(&u.skipped)
            );
        }
    }
    out
}

fn json(reports: &[SloReport], run: &Run) -> String {
    let mut out = String::new();
    for r in reports {
        out.push_str(&serde_json::to_string(r).expect("reports serialize"));
        out.push('\n');
    }
    for u in run.unreported {
        out.push_str(&serde_json::to_string(u).expect("reports serialize"));
        out.push('\n');
    }
    out
}

/// One CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The CSV columns, in order.
pub(crate) fn csv_header() -> Vec<String> {
    let mut header: Vec<String> = [
        "service",
        "slo",
        "group",
        "dimension",
        "from",
        "to",
        "timezone",
        "period",
        "objective",
        "threshold_seconds",
        "attainment",
        "met",
        "budget_spent",
        "bad_events",
        "total_events",
        "no_traffic",
        "worst_day",
        "worst_day_attainment",
        "worst_day_bad_events",
        "worst_day_total_events",
    ]
    .map(String::from)
    .to_vec();
    header.extend(
        Decision::ALL
            .iter()
            .map(|d| format!("{}_seconds", d.as_str())),
    );
    header
}

fn csv(reports: &[SloReport]) -> String {
    let mut out = csv_header().join(",");
    out.push_str("\r\n");
    for r in reports {
        for (dim, s) in r.dimensions() {
            let worst = s.worst_day.as_ref();
            let mut row = vec![
                r.service.clone(),
                r.slo.clone(),
                format_group(&r.group),
                dim.as_str().to_string(),
                r.from.clone(),
                r.to.clone(),
                r.timezone.to_string(),
                r.period.clone().unwrap_or_default(),
                s.objective.to_string(),
                num(s.threshold_seconds),
                num(s.attainment),
                s.met.map(|m| m.to_string()).unwrap_or_default(),
                num(s.budget_spent),
                num(s.bad_events),
                num(s.total_events),
                s.no_traffic.to_string(),
                worst.map(|w| w.date.clone()).unwrap_or_default(),
                num(worst.map(|w| w.attainment)),
                num(worst.map(|w| w.bad_events)),
                num(worst.map(|w| w.total_events)),
            ];
            row.extend(
                Decision::ALL
                    .iter()
                    .map(|d| num(s.time_in_seconds.get(d.as_str()).copied())),
            );
            let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(
            csv_field("{a=\"x\",b=\"y\"}"),
            "\"{a=\"\"x\"\",b=\"\"y\"\"}\""
        );
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(fmt_events(2_593_000.4), "2,593,000");
        assert_eq!(fmt_events(999.6), "1,000");
        assert_eq!(fmt_events(12.34), "12.3");
        assert_eq!(fmt_events(-1234.0), "-1,234");
        assert_eq!(fmt_attainment(0.999_523_1), "99.9523%");
        assert_eq!(md_cell("a|b"), "a\\|b");
    }
}
