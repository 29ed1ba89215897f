//! `burnrate backtest --report FILE.html`: the replay as one self-contained HTML page.
//!
//! One `<section>` per SLO: its title, a summary table (time in each decision, changes,
//! flaps, scores against the known incidents) and, per dimension, an inline SVG chart of
//! the burn rate of every window on a log scale, with the matrix thresholds, the known
//! incidents and the decision at each step as coloured bands.
//!
//! The page needs nothing but a browser: inline CSS, no script, no external resource, no
//! web font. Every text that comes from a spec or an incident file is escaped. Long series
//! are reduced to one point per pixel column, keeping each column's maximum so peaks stay
//! visible, and a `null` burn (no data) is a gap in its line, never a 0.

use crate::backtest::incidents::Incident;
use crate::decision::Decision;
use crate::engine::{DimensionReport, Evaluation};
use crate::spec::{Dimension, Rule, ServiceSpec, SloSpec};
use serde_json::Value;
use std::fmt::Write;

/// Everything the report shows about one SLO.
pub struct SloChart<'a> {
    pub service: &'a ServiceSpec,
    pub slo: &'a SloSpec,
    /// One evaluation per replay step, in time order (can be 43,200 for 30 days at 1m).
    pub evaluations: &'a [Evaluation],
    /// Incidents of this SLO (may be empty).
    pub incidents: &'a [Incident],
    /// The summary object printed for this SLO (`time_in_seconds`, `changes`,
    /// `first_reached`, `flaps`, optional `scores`).
    pub summary: &'a Value,
}

// Chart geometry, in SVG user units (the SVG scales to the page width).
const WIDTH: f64 = 1280.0;
const LEFT: f64 = 64.0;
const PLOT_W: f64 = 1000.0;
const TOP: f64 = 30.0;
const PLOT_H: f64 = 250.0;
const STRIP_H: f64 = 12.0;
const STRIP_GAP: f64 = 4.0;
/// First decision strip (the dimension's decision), then the SLO's.
const STRIP1_Y: f64 = TOP + PLOT_H + 6.0;
const STRIP2_Y: f64 = STRIP1_Y + STRIP_H + STRIP_GAP;
const TICKS_Y: f64 = STRIP2_Y + STRIP_H + 14.0;
const HEIGHT: f64 = TICKS_Y + 8.0;
/// Lowest and highest decade the y axis may show (0.01 .. 100000).
const MIN_DECADE: i32 = -2;
const MAX_DECADE: i32 = 5;

/// Window line colours, by window length (shortest first); none of them is a decision colour.
const PALETTE: [&str; 8] = [
    "#7fb3e0", "#1f6fc0", "#e377c2", "#8c564b", "#17a2b8", "#222222", "#9aa11f", "#7f7f7f",
];
const INCIDENT: &str = "#7c4dcc";

/// Fill colour of a decision (bands, chips).
pub fn decision_fill(d: Decision) -> &'static str {
    match d {
        Decision::Ok => "#3aa655",
        Decision::Warn => "#f5c518",
        Decision::Scale => "#f28c28",
        Decision::CircuitBreak => "#d62f2f",
        Decision::NoData => "#b4b4b4",
    }
}

/// Text and line colour of a decision (readable on white).
fn decision_ink(d: Decision) -> &'static str {
    match d {
        Decision::Ok => "#23803d",
        Decision::Warn => "#9a7300",
        Decision::Scale => "#c0600a",
        Decision::CircuitBreak => "#c01f1f",
        Decision::NoData => "#6b6b6b",
    }
}

/// Escapes text for HTML (and SVG inside HTML) content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number as humans write thresholds: at most 3 decimals (more below 0.01), no trailing 0.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let decimals = if v != 0.0 && v.abs() < 0.01 { 6 } else { 3 };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// A share as a percentage with one decimal.
fn fmt_pct(share: f64) -> String {
    format!("{}%", fmt_one(share * 100.0))
}

fn fmt_one(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Seconds as a short human duration: `2d 3h`, `1h 20m`, `5m 30s`, `45s`.
fn fmt_secs(secs: f64) -> String {
    if !secs.is_finite() {
        return "—".into();
    }
    let s = secs.round().max(0.0) as i64;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let parts: Vec<String> = if d > 0 {
        vec![format!("{d}d"), format!("{h}h")]
    } else if h > 0 {
        vec![format!("{h}h"), format!("{m}m")]
    } else if m > 0 {
        vec![format!("{m}m"), format!("{sec}s")]
    } else {
        return format!("{sec}s");
    };
    parts
        .into_iter()
        .filter(|p| !p.starts_with('0'))
        .collect::<Vec<_>>()
        .join(" ")
}

fn utc(at_ms: i64, format: &str) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .format(format)
        .to_string()
}

/// A coordinate with at most one decimal.
fn push_coord(out: &mut String, v: f64) {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        let _ = write!(out, "{r:.0}");
    } else {
        let _ = write!(out, "{r:.1}");
    }
}

fn coord(v: f64) -> String {
    let mut s = String::new();
    push_coord(&mut s, v);
    s
}

/// An `id` attribute value unique to a service and SLO.
fn section_id(service: &str, slo: &str) -> String {
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
    for b in service.bytes().chain([0]).chain(slo.bytes()) {
        hash = (hash ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    format!("slo-{}-{}-{hash:08x}", clean(service), clean(slo))
}

/// The replay's time axis: `[t0, t1)` mapped onto the plot's width.
struct TimeAxis {
    t0: i64,
    t1: i64,
}

impl TimeAxis {
    fn new(evaluations: &[Evaluation], summary: &Value) -> TimeAxis {
        let first = evaluations.first().map_or(0, |e| e.at_ms);
        let last = evaluations.last().map_or(0, |e| e.at_ms);
        let step = evaluations
            .windows(2)
            .take(100)
            .map(|w| w[1].at_ms - w[0].at_ms)
            .filter(|d| *d > 0)
            .min()
            .or_else(|| {
                summary
                    .get("step")
                    .and_then(Value::as_str)
                    .and_then(|s| crate::duration::PromDuration::parse(s).ok())
                    .map(|d| d.millis())
                    .filter(|d| *d > 0)
            })
            .unwrap_or(60_000);
        TimeAxis {
            t0: first,
            t1: last + step,
        }
    }

    fn x(&self, t: i64) -> f64 {
        LEFT + PLOT_W * (t - self.t0) as f64 / (self.t1 - self.t0).max(1) as f64
    }

    /// The pixel column of an instant (the downsampling bucket).
    fn column(&self, t: i64) -> i64 {
        ((self.x(t) - LEFT).floor() as i64).clamp(0, PLOT_W as i64 - 1)
    }

    /// Tick instants (aligned on UTC multiples of a round interval) and their label format.
    fn ticks(&self) -> (Vec<i64>, &'static str) {
        const MIN: i64 = 60_000;
        const HOUR: i64 = 60 * MIN;
        const DAY: i64 = 24 * HOUR;
        let steps = [
            MIN,
            2 * MIN,
            5 * MIN,
            10 * MIN,
            15 * MIN,
            30 * MIN,
            HOUR,
            2 * HOUR,
            3 * HOUR,
            6 * HOUR,
            12 * HOUR,
            DAY,
            2 * DAY,
            7 * DAY,
            14 * DAY,
            30 * DAY,
            91 * DAY,
            365 * DAY,
        ];
        let span = (self.t1 - self.t0).max(1);
        // Day labels are short: more of them fit.
        let step = steps
            .into_iter()
            .find(|s| span / s <= if *s >= DAY { 15 } else { 9 })
            .unwrap_or(365 * DAY);
        // Weeks start on Mondays (the epoch was a Thursday).
        let offset = if step % (7 * DAY) == 0 { 4 * DAY } else { 0 };
        let first = (self.t0 - offset).div_euclid(step) * step + offset;
        let first = if first < self.t0 { first + step } else { first };
        let ticks = (0..)
            .map(|i| first + i * step)
            .take_while(|t| *t <= self.t1)
            .collect();
        let format = if step >= DAY {
            "%b %d"
        } else if span > DAY {
            "%b %d %H:%M"
        } else {
            "%H:%M"
        };
        (ticks, format)
    }
}

/// The log-scale burn axis, from `10^lo` to `10^hi`.
struct BurnAxis {
    lo: i32,
    hi: i32,
}

impl BurnAxis {
    fn new(min_positive: Option<f64>, max: Option<f64>, thresholds: &[f64]) -> BurnAxis {
        let thr_min = thresholds
            .iter()
            .copied()
            .filter(|t| *t > 0.0)
            .reduce(f64::min);
        let thr_max = thresholds
            .iter()
            .copied()
            .filter(|t| *t > 0.0)
            .reduce(f64::max);
        let data_lo = min_positive.map_or(-1, |v| (v.log10().floor() as i32).max(MIN_DECADE));
        let thr_lo = thr_min.map_or(0, |t| t.log10().floor() as i32);
        let lo = data_lo.min(thr_lo).min(-1).clamp(MIN_DECADE - 2, 0);
        // Keep a threshold below the top edge so its label reads.
        let thr_hi = thr_max.map_or(1, |t| (t * 2.0).log10().ceil() as i32);
        let data_hi = max
            .filter(|m| *m > 0.0)
            .map_or(1, |m| m.log10().ceil() as i32);
        let hi = data_hi.max(thr_hi).clamp(1, MAX_DECADE).max(lo + 1);
        BurnAxis { lo, hi }
    }

    fn min(&self) -> f64 {
        10f64.powi(self.lo)
    }

    fn max(&self) -> f64 {
        10f64.powi(self.hi)
    }

    /// Clamps a burn into the axis (0 and tiny burns sit on the bottom edge).
    fn clamp(&self, v: f64) -> f64 {
        if v.is_nan() {
            self.min()
        } else {
            v.clamp(self.min(), self.max())
        }
    }

    fn y(&self, v: f64) -> f64 {
        let f = (self.clamp(v).log10() - f64::from(self.lo)) / f64::from(self.hi - self.lo);
        TOP + PLOT_H * (1.0 - f)
    }
}

/// Reduces a series `(instant, burn)` to at most a few points per bucket (pixel column):
/// the maximum of each run of values, so peaks stay visible, and never a line across a
/// `None`. Returns the sub-paths: each is drawn as one connected line.
fn downsample(series: &[(i64, Option<f64>)], bucket: impl Fn(i64) -> i64) -> Vec<Vec<(i64, f64)>> {
    let mut out: Vec<Vec<(i64, f64)>> = Vec::new();
    let mut current: Vec<(i64, f64)> = Vec::new();
    let flush = |out: &mut Vec<Vec<(i64, f64)>>, current: &mut Vec<(i64, f64)>| {
        if !current.is_empty() {
            out.push(std::mem::take(current));
        }
    };
    let mut i = 0;
    while i < series.len() {
        let b = bucket(series[i].0);
        let mut j = i + 1;
        while j < series.len() && bucket(series[j].0) == b {
            j += 1;
        }
        let items = &series[i..j];
        // The maximum of each run of values inside this bucket.
        let mut runs: Vec<(i64, f64)> = Vec::new();
        let mut in_run = false;
        for &(t, v) in items {
            match v {
                Some(v) if in_run => {
                    let last = runs.last_mut().expect("a run is open");
                    if v > last.1 {
                        *last = (t, v);
                    }
                }
                Some(v) => {
                    runs.push((t, v));
                    in_run = true;
                }
                None => in_run = false,
            }
        }
        if items[0].1.is_none() {
            flush(&mut out, &mut current);
        }
        match runs.as_slice() {
            [] => {}
            [only] => current.push(*only),
            [first, middle @ .., last] => {
                current.push(*first);
                flush(&mut out, &mut current);
                if let Some(m) = middle
                    .iter()
                    .copied()
                    .reduce(|a, b| if b.1 > a.1 { b } else { a })
                {
                    out.push(vec![m]);
                }
                current.push(*last);
            }
        }
        if items[items.len() - 1].1.is_none() {
            flush(&mut out, &mut current);
        }
        i = j;
    }
    flush(&mut out, &mut current);
    out
}

/// Runs of one decision `[start, end)` along the replay.
fn decision_runs(axis: &TimeAxis, steps: &[(i64, Decision)]) -> Vec<(i64, i64, Decision)> {
    let mut runs: Vec<(i64, i64, Decision)> = Vec::new();
    for (i, &(t, d)) in steps.iter().enumerate() {
        let end = steps.get(i + 1).map_or(axis.t1, |n| n.0);
        match runs.last_mut() {
            Some(last) if last.2 == d => last.1 = end,
            _ => runs.push((t, end, d)),
        }
    }
    runs
}

/// One strip of decision bands. Up to one rect per pixel column: when the decision changes
/// more often than that, each column shows its most severe decision.
fn render_strip(out: &mut String, axis: &TimeAxis, y: f64, label: &str, steps: &[(i64, Decision)]) {
    let _ = write!(
        out,
        r##"<text class="strip-label" x="{}" y="{}" text-anchor="end">{}</text>"##,
        coord(LEFT - 6.0),
        coord(y + STRIP_H - 2.0),
        escape(label)
    );
    let _ = write!(out, r#"<g class="bands" shape-rendering="crispEdges">"#);
    let runs = decision_runs(axis, steps);
    let rect = |out: &mut String, x0: f64, x1: f64, d: Decision| {
        let _ = write!(
            out,
            r#"<rect class="band {d}" x="{}" y="{}" width="{}" height="{STRIP_H}" fill="{}""#,
            coord(x0),
            coord(y),
            coord((x1 - x0).max(1.0)),
            decision_fill(d)
        );
    };
    if runs.len() <= PLOT_W as usize {
        for (start, end, d) in runs {
            rect(out, axis.x(start), axis.x(end), d);
            let _ = write!(
                out,
                "><title>{label}: {d} {} → {} UTC ({})</title></rect>",
                utc(start, "%Y-%m-%d %H:%M"),
                utc(end, "%Y-%m-%d %H:%M"),
                fmt_secs((end - start) as f64 / 1000.0),
                label = escape(label),
            );
        }
    } else {
        let mut columns: Vec<Option<Decision>> = vec![None; PLOT_W as usize];
        for &(t, d) in steps {
            let c = &mut columns[axis.column(t) as usize];
            *c = Some(c.map_or(d, |prev| Decision::combine([prev, d])));
        }
        let mut start = 0;
        while start < columns.len() {
            let mut end = start + 1;
            while end < columns.len() && columns[end] == columns[start] {
                end += 1;
            }
            if let Some(d) = columns[start] {
                rect(out, LEFT + start as f64, LEFT + end as f64, d);
                out.push_str("/>");
            }
            start = end;
        }
    }
    out.push_str("</g>");
}

fn rule_label(rule: &Rule) -> String {
    let windows = match &rule.short {
        Some(short) => format!("{}/{}", rule.long, short),
        None => rule.long.to_string(),
    };
    format!("{} ≥ {} ({windows})", rule.decision, fmt_num(rule.burn))
}

fn dimension_report(e: &Evaluation, dim: Dimension) -> Option<&DimensionReport> {
    match dim {
        Dimension::Error => e.error.as_ref(),
        Dimension::Latency => e.latency.as_ref(),
    }
}

fn dimension_caption(slo: &SloSpec, dim: Dimension) -> String {
    match dim {
        Dimension::Error => match &slo.error {
            Some(e) => format!(
                "error burn rate — objective {}% good events",
                fmt_num(e.objective * 100.0)
            ),
            None => "error burn rate".into(),
        },
        Dimension::Latency => match &slo.latency {
            Some(l) => format!(
                "latency burn rate — p{} ≤ {}",
                fmt_num(l.quantile * 100.0),
                l.threshold
            ),
            None => "latency burn rate".into(),
        },
    }
}

/// One dimension's chart: burn per window, thresholds, incidents, decision bands.
fn render_chart(out: &mut String, chart: &SloChart, dim: Dimension, axis: &TimeAxis) {
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
    let rules = chart.slo.matrix(dim).unwrap_or(&[]);

    // Every window's series; the extremes set the burn axis.
    let mut min_positive: Option<f64> = None;
    let mut max: Option<f64> = None;
    let series: Vec<Vec<(i64, Option<f64>)>> = windows
        .iter()
        .map(|w| {
            evaluations
                .iter()
                .map(|e| {
                    let v = dimension_report(e, dim)
                        .and_then(|r| r.burn.value(w))
                        .filter(|v| !v.is_nan());
                    if let Some(v) = v {
                        if v > 0.0 && v.is_finite() {
                            min_positive = Some(min_positive.map_or(v, |m| m.min(v)));
                        }
                        max = Some(max.map_or(v, |m| m.max(v)));
                    }
                    (e.at_ms, v)
                })
                .collect()
        })
        .collect();
    let thresholds: Vec<f64> = rules.iter().map(|r| r.burn).collect();
    let burn = BurnAxis::new(min_positive, max.filter(|m| m.is_finite()), &thresholds);

    let caption = dimension_caption(chart.slo, dim);
    let budget = evaluations
        .iter()
        .rev()
        .find_map(|e| dimension_report(e, dim).and_then(|r| r.budget_remaining));
    let _ = write!(
        out,
        r#"<figure class="chart {dim}"><figcaption>{}"#,
        escape(&caption),
        dim = dim.as_str()
    );
    if let Some(b) = budget {
        let _ = write!(
            out,
            r#" <span class="muted">· error budget remaining at the end: {}</span>"#,
            fmt_pct(b)
        );
    }
    out.push_str("</figcaption>");
    let _ = write!(
        out,
        r#"<svg class="chart" data-dimension="{dim}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{}">"#,
        escape(&format!(
            "{} / {}: {caption}",
            chart.service.service, chart.slo.name
        )),
        dim = dim.as_str()
    );
    let _ = write!(
        out,
        r##"<rect class="plot" x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="#fff" stroke="#c8c8c8"/>"##
    );

    // Burn grid: decades, and 2 and 5 within them when there is room.
    out.push_str(r#"<g class="grid">"#);
    for k in burn.lo..=burn.hi {
        let base = 10f64.powi(k);
        let y = burn.y(base);
        let class = if k == 0 { "major one" } else { "major" };
        let _ = write!(
            out,
            r#"<line class="{class}" x1="{LEFT}" x2="{}" y1="{y}" y2="{y}"/>"#,
            LEFT + PLOT_W,
            y = coord(y)
        );
        let label = if k == burn.lo {
            format!("≤{}", fmt_num(base))
        } else {
            fmt_num(base)
        };
        let _ = write!(
            out,
            r#"<text class="tick" x="{}" y="{}" text-anchor="end">{label}</text>"#,
            coord(LEFT - 6.0),
            coord(y + 3.5)
        );
        if k < burn.hi && burn.hi - burn.lo <= 5 {
            for m in [2.0, 5.0] {
                let y = coord(burn.y(base * m));
                let _ = write!(
                    out,
                    r#"<line class="minor" x1="{LEFT}" x2="{}" y1="{y}" y2="{y}"/>"#,
                    LEFT + PLOT_W
                );
            }
        }
    }
    // Time grid and labels (UTC).
    let (ticks, format) = axis.ticks();
    for t in &ticks {
        let px = axis.x(*t);
        let x = coord(px);
        let _ = write!(
            out,
            r#"<line class="minor" x1="{x}" x2="{x}" y1="{TOP}" y2="{}"/>"#,
            TOP + PLOT_H
        );
        // Labels at the edges stay inside the plot's width.
        let anchor = if px - LEFT < 40.0 {
            "start"
        } else if LEFT + PLOT_W - px < 40.0 {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            r#"<text class="tick" x="{x}" y="{TICKS_Y}" text-anchor="{anchor}">{}</text>"#,
            utc(*t, format)
        );
    }
    let _ = write!(
        out,
        r#"<text class="tick" x="{}" y="{TICKS_Y}" text-anchor="end">UTC</text>"#,
        coord(LEFT - 6.0)
    );
    out.push_str("</g>");

    // Known incidents, under the lines.
    for inc in chart.incidents {
        if inc.end_ms <= axis.t0 || inc.start_ms >= axis.t1 {
            continue;
        }
        let x0 = axis.x(inc.start_ms.max(axis.t0));
        let x1 = axis.x(inc.end_ms.min(axis.t1)).max(x0 + 2.0);
        let _ = write!(
            out,
            r#"<g class="incident-span"><rect class="incident" x="{}" y="{TOP}" width="{}" height="{PLOT_H}" fill="{INCIDENT}" fill-opacity="0.13"><title>incident {} → {} UTC ({})</title></rect>"#,
            coord(x0),
            coord(x1 - x0),
            utc(inc.start_ms, "%Y-%m-%d %H:%M"),
            utc(inc.end_ms, "%Y-%m-%d %H:%M"),
            fmt_secs((inc.end_ms - inc.start_ms) as f64 / 1000.0)
        );
        let _ = write!(
            out,
            r#"<rect x="{}" y="{TOP}" width="{}" height="3" fill="{INCIDENT}"/>"#,
            coord(x0),
            coord(x1 - x0)
        );
        if x1 - x0 >= 44.0 {
            let _ = write!(
                out,
                r#"<text class="incident-label" x="{}" y="{}">incident</text>"#,
                coord(x0 + 3.0),
                coord(TOP + 14.0)
            );
        }
        out.push_str("</g>");
    }

    // Thresholds: dashed lines; labels to the right of the plot, pushed apart when close.
    let mut labels: Vec<(f64, f64, &Rule)> = rules
        .iter()
        .map(|r| {
            let y = burn.y(r.burn);
            (y, y, r)
        })
        .collect();
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    const GAP: f64 = 12.0;
    for i in 1..labels.len() {
        if labels[i].1 < labels[i - 1].1 + GAP {
            labels[i].1 = labels[i - 1].1 + GAP;
        }
    }
    let bottom = TOP + PLOT_H + 4.0;
    for i in (0..labels.len()).rev() {
        let limit = if i + 1 < labels.len() {
            labels[i + 1].1 - GAP
        } else {
            bottom
        };
        if labels[i].1 > limit {
            labels[i].1 = limit;
        }
    }
    out.push_str(r#"<g class="thresholds">"#);
    for (y, label_y, rule) in &labels {
        let ink = decision_ink(rule.decision);
        let text = escape(&rule_label(rule));
        let _ = write!(
            out,
            r#"<g class="threshold"><line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="{ink}" stroke-dasharray="6 4"/><line x1="{}" x2="{}" y1="{y}" y2="{ly}" stroke="{ink}"/><text class="threshold-label" x="{}" y="{}" fill="{ink}">{text}</text></g>"#,
            LEFT + PLOT_W + 1.0,
            LEFT + PLOT_W,
            LEFT + PLOT_W + 6.0,
            LEFT + PLOT_W + 9.0,
            coord(label_y + 3.5),
            y = coord(*y),
            ly = coord(*label_y),
        );
    }
    out.push_str("</g>");

    // One line per window, shortest first so the long (smooth) ones stay on top.
    let mut any_value = false;
    out.push_str(
        r#"<g class="series" fill="none" stroke-linejoin="round" stroke-linecap="round">"#,
    );
    for (i, (window, points)) in windows.iter().zip(&series).enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let width = if i == 0 && windows.len() > 2 {
            1.0
        } else {
            1.5
        };
        let mut d = String::new();
        let clamped: Vec<(i64, Option<f64>)> = points
            .iter()
            .map(|&(t, v)| (t, v.map(|v| burn.clamp(v))))
            .collect();
        for path in downsample(&clamped, |t| axis.column(t)) {
            any_value = true;
            for (k, (t, v)) in path.iter().enumerate() {
                d.push(if k == 0 { 'M' } else { ' ' });
                push_coord(&mut d, axis.x(*t));
                d.push(' ');
                push_coord(&mut d, burn.y(*v));
            }
            if path.len() == 1 {
                d.push_str("h0");
            }
        }
        let _ = write!(
            out,
            r#"<path class="burn" data-window="{w}" stroke="{colour}" stroke-width="{width}" d="{d}"><title>burn over {w}</title></path>"#,
            w = escape(window)
        );
    }
    out.push_str("</g>");
    if !any_value {
        let _ = write!(
            out,
            r#"<text class="empty" x="{}" y="{}" text-anchor="middle">no data: every burn of this dimension is null</text>"#,
            coord(LEFT + PLOT_W / 2.0),
            coord(TOP + PLOT_H / 2.0)
        );
    }

    // Decision bands: this dimension's decision, then the SLO's.
    let dim_steps: Vec<(i64, Decision)> = evaluations
        .iter()
        .map(|e| {
            let d = dimension_report(e, dim).map_or(Decision::NoData, |r| r.decision);
            (e.at_ms, d)
        })
        .collect();
    let slo_steps: Vec<(i64, Decision)> =
        evaluations.iter().map(|e| (e.at_ms, e.decision)).collect();
    render_strip(out, axis, STRIP1_Y, dim.as_str(), &dim_steps);
    render_strip(out, axis, STRIP2_Y, "SLO", &slo_steps);

    // Legend: windows, then incidents and thresholds.
    out.push_str(r#"<g class="legend">"#);
    let mut x = LEFT;
    let _ = write!(
        out,
        r#"<text class="legend-title" x="{x}" y="16">burn rate (log scale) over</text>"#
    );
    x += 160.0;
    for (i, window) in windows.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let _ = write!(
            out,
            r#"<g class="legend-item"><line x1="{x}" x2="{}" y1="12" y2="12" stroke="{colour}" stroke-width="3"/><text x="{}" y="16">{}</text></g>"#,
            x + 18.0,
            x + 22.0,
            escape(window)
        );
        x += 22.0 + 7.0 * window.chars().count() as f64 + 16.0;
    }
    x += 12.0;
    if !chart.incidents.is_empty() {
        let _ = write!(
            out,
            r#"<g class="legend-item"><rect x="{x}" y="6" width="18" height="11" fill="{INCIDENT}" fill-opacity="0.25"/><text x="{}" y="16">known incident</text></g>"#,
            x + 22.0
        );
        x += 130.0;
    }
    if !rules.is_empty() {
        let _ = write!(
            out,
            r##"<g class="legend-item"><line x1="{x}" x2="{}" y1="12" y2="12" stroke="#555" stroke-dasharray="6 4"/><text x="{}" y="16">threshold (fires when long and short windows both reach it)</text></g>"##,
            x + 22.0,
            x + 26.0
        );
    }
    out.push_str("</g></svg></figure>");
}

fn chip(d: Decision) -> String {
    format!(
        r#"<span class="chip {d}"><i style="background:{}"></i>{d}</span>"#,
        decision_fill(d)
    )
}

fn opt_secs(v: Option<&Value>) -> String {
    match v.and_then(Value::as_f64) {
        Some(s) => fmt_secs(s),
        None => "never".into(),
    }
}

fn render_summary(out: &mut String, chart: &SloChart) {
    let summary = chart.summary;
    out.push_str(r#"<div class="tables">"#);

    // Time in each decision.
    let time_in = summary.get("time_in_seconds").and_then(Value::as_object);
    let first = summary.get("first_reached").and_then(Value::as_object);
    let total: f64 = time_in
        .map(|m| m.values().filter_map(Value::as_f64).sum())
        .unwrap_or(0.0);
    out.push_str(
        r#"<table class="summary decisions"><thead><tr><th>decision</th><th>time</th><th>share</th><th>first reached (UTC)</th></tr></thead><tbody>"#,
    );
    for d in Decision::ALL {
        let secs = time_in
            .and_then(|m| m.get(d.as_str()))
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let share = if total > 0.0 { secs / total } else { 0.0 };
        let reached = first
            .and_then(|m| m.get(d.as_str()))
            .and_then(Value::as_str)
            .map_or("—".to_string(), escape);
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
    let text = |key: &str| -> Option<String> {
        summary.get(key).and_then(|v| match v {
            Value::String(s) => Some(escape(s)),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    out.push_str(r#"<table class="summary replay"><tbody>"#);
    let mut row = |k: &str, v: String| {
        let _ = write!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    if let (Some(from), Some(to)) = (text("from"), text("to")) {
        row("range", format!("{from} → {to}"));
    }
    if let Some(step) = text("step") {
        let evals = text("evaluations").unwrap_or_else(|| chart.evaluations.len().to_string());
        row("step", format!("{step} ({evals} evaluations)"));
    }
    if let Some(rates) = text("rates") {
        row("rates", rates);
    }
    if let Some(d) = summary
        .get("decision")
        .and_then(Value::as_str)
        .and_then(Decision::parse)
    {
        row("decision at the end", chip(d));
    }
    if let Some(changes) = text("changes") {
        row("decision changes", changes);
    }
    if let Some(flaps) = text("flaps") {
        let window = text("flap_window")
            .map(|w| format!(" <span class=\"muted\">(undone within {w})</span>"))
            .unwrap_or_default();
        row("flaps", format!("{flaps}{window}"));
    }
    out.push_str("</tbody></table>");

    // Scores against the known incidents.
    if let Some(scores) = summary.get("scores").filter(|s| s.is_object()) {
        let pct = |key: &str| {
            scores
                .get(key)
                .and_then(Value::as_f64)
                .map_or("—".to_string(), fmt_pct)
        };
        let count = |key: &str| scores.get(key).and_then(Value::as_u64).unwrap_or(0);
        let _ = write!(
            out,
            r#"<table class="summary scores"><tbody><tr><th>incidents</th><td>{} ({} detected)</td></tr><tr><th>precision</th><td>{} <span class="muted">of alerting time inside an incident</span></td></tr><tr><th>recall</th><td>{} <span class="muted">of incidents alerted on</span></td></tr></tbody></table>"#,
            count("incidents"),
            count("detected"),
            pct("precision"),
            pct("recall"),
        );
        let detection = scores.get("detection_seconds").and_then(Value::as_array);
        let reset = scores.get("reset_seconds").and_then(Value::as_array);
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
                    detection.map_or("—".into(), |d| opt_secs(d.get(i))),
                    reset.map_or("—".into(), |r| opt_secs(r.get(i))),
                );
            }
            out.push_str("</tbody></table>");
        }
    }
    out.push_str("</div>");
}

/// One `<section>` per SLO: title (service/slo, description), a summary table, and per
/// dimension (error, latency) an inline SVG chart.
pub fn render_slo_section(chart: &SloChart) -> String {
    let mut out = String::with_capacity(128 * 1024);
    let service = &chart.service.service;
    let slo = &chart.slo.name;
    let decision = chart
        .summary
        .get("decision")
        .and_then(Value::as_str)
        .and_then(Decision::parse)
        .or_else(|| chart.evaluations.last().map(|e| e.decision))
        .unwrap_or(Decision::NoData);
    let _ = write!(
        out,
        r#"<section class="slo" id="{}" data-toc="{}" data-decision="{decision}">"#,
        section_id(service, slo),
        escape(&format!("{service} / {slo}")),
    );
    let _ = write!(
        out,
        r#"<header><h2><span class="service">{}</span> / {}</h2>{}</header>"#,
        escape(service),
        escape(slo),
        chip(decision)
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
    render_summary(&mut out, chart);
    if chart.evaluations.is_empty() {
        out.push_str(r#"<p class="muted">No evaluation in the replayed range.</p>"#);
    } else {
        let axis = TimeAxis::new(chart.evaluations, chart.summary);
        for dim in chart.slo.dimensions() {
            render_chart(&mut out, chart, dim, &axis);
        }
    }
    out.push_str("</section>\n");
    out
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
.labels code { background: #f0f1f3; border-radius: 3px; padding: 0 4px; font-size: 12px; }
.chip { display: inline-flex; align-items: center; gap: 5px; font-weight: 600; font-size: 13px; white-space: nowrap; }
.chip i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
.tables { display: flex; flex-wrap: wrap; gap: 12px 28px; align-items: flex-start; margin: 10px 0 4px; }
table.summary { border-collapse: collapse; font-size: 13px; }
table.summary th, table.summary td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #eceef1; vertical-align: middle; }
table.summary thead th { color: #60656e; font-weight: 600; font-size: 12px; }
table.summary tbody th { color: #60656e; font-weight: 500; }
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
@media print { body { background: #fff; } section.slo { border: none; padding: 0; } nav.toc { display: none; } }
"#;

/// The attributes `render_slo_section` put on its `<section>` tag, for the table of contents.
fn section_meta(section: &str) -> Option<(String, String, Decision)> {
    let tag = &section[..section.find('>')?];
    let attr = |name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = start + tag[start..].find('"')?;
        Some(tag[start..end].to_string())
    };
    let decision = attr("data-decision").and_then(|d| Decision::parse(&d))?;
    Some((attr("id")?, attr("data-toc")?, decision))
}

/// The whole self-contained page (inline CSS, no script, no external resources).
pub fn render_page(title: &str, subtitle: &str, sections: &[String]) -> String {
    let size: usize = sections.iter().map(String::len).sum();
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
        for (id, name, decision) in sections.iter().filter_map(|s| section_meta(s)) {
            // Both come from our own escaped attributes.
            let _ = write!(
                out,
                r##"<a href="#{id}"><i style="background:{}"></i>{name}</a>"##,
                decision_fill(decision)
            );
        }
        out.push_str("</nav>");
    }
    for section in sections {
        out.push_str(section);
    }
    out.push_str("<footer>Generated by burnrate backtest. Times are UTC. Burn 1 spends exactly the error budget over the SLO period; lines are reduced to one point per pixel column, keeping the maximum.</footer></main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsampling_keeps_peaks_and_gaps() {
        // 10 values per bucket; a peak inside one bucket, a null run across a boundary.
        let mut series: Vec<(i64, Option<f64>)> = (0..100).map(|i| (i, Some(1.0))).collect();
        series[37].1 = Some(50.0);
        for s in &mut series[55..65] {
            s.1 = None;
        }
        let paths = downsample(&series, |t| t / 10);
        assert_eq!(paths.len(), 2, "{paths:?}");
        assert!(paths[0].iter().any(|&(t, v)| t == 37 && v == 50.0));
        assert!(paths[0].iter().all(|&(t, _)| t < 55));
        assert!(paths[1].iter().all(|&(t, _)| t >= 65));
        assert!(paths.iter().map(Vec::len).sum::<usize>() <= 12);
        // Nulls inside a bucket split the line too, and a lone value stays a point.
        let series = [
            (0, Some(1.0)),
            (1, None),
            (2, Some(3.0)),
            (3, None),
            (4, Some(2.0)),
        ];
        let paths = downsample(&series, |_| 0);
        assert_eq!(paths, vec![vec![(0, 1.0)], vec![(2, 3.0)], vec![(4, 2.0)]]);
    }

    #[test]
    fn numbers_and_escaping_read_well() {
        assert_eq!(fmt_num(0.02 * 720.0), "14.4");
        assert_eq!(fmt_num(1.0), "1");
        assert_eq!(fmt_num(0.3), "0.3");
        assert_eq!(fmt_secs(93_600.0), "1d 2h");
        assert_eq!(fmt_secs(3600.0), "1h");
        assert_eq!(fmt_secs(90.0), "1m 30s");
        assert_eq!(
            escape("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
    }

    #[test]
    fn burn_axis_covers_data_and_thresholds() {
        let a = BurnAxis::new(Some(0.0004), Some(80.0), &[14.4, 6.0, 1.0]);
        assert_eq!((a.lo, a.hi), (-2, 2));
        let a = BurnAxis::new(None, None, &[0.3, 1.0]);
        assert_eq!((a.lo, a.hi), (-1, 1));
        assert_eq!(a.y(0.0), TOP + PLOT_H);
        assert_eq!(a.y(1e9), TOP);
    }
}
