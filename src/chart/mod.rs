//! The one burn-rate chart: an SVG of one dimension's burn rate per window on a log scale
//! over time, with the matrix thresholds, marked spans (a backtest's known incidents) and
//! the decision at each step as coloured bands under the plot.
//!
//! It exists so that the backtest report and the daemon's web page draw the same picture of
//! the same numbers: both hand `render` a [`BurnChart`] (plain series, no evaluations), and
//! only where the points come from differs. Long series are reduced to one point per pixel
//! column, keeping each column's maximum so peaks stay visible; a `null` burn is a gap,
//! never a 0. Everything drawn is text and shapes, every label escaped; decisions are also
//! written (band titles, threshold labels), never shown by colour alone.

pub(crate) mod format;

use crate::decision::Decision;
use crate::spec::{Dimension, Rule, SloSpec};
use format::{coord, decision_fill, decision_ink, escape, fmt_num, fmt_secs, push_coord, utc};
use std::fmt::Write;

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
pub(crate) const INCIDENT: &str = "#7c4dcc";

/// The chart's time axis: `[t0, t1)` mapped onto the plot's width.
pub(crate) struct TimeAxis {
    t0: i64,
    t1: i64,
}

impl TimeAxis {
    /// The axis over instants `times` (in order), each standing for the step after it: the
    /// smallest gap among the first ones, else `step_ms`.
    pub(crate) fn new(times: &[i64], step_ms: i64) -> TimeAxis {
        let first = times.first().copied().unwrap_or(0);
        let last = times.last().copied().unwrap_or(0);
        let step = times
            .windows(2)
            .take(100)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 0)
            .min()
            .unwrap_or(step_ms.max(1));
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
        // Seconds first: the daemon's page can span a minute after a start.
        let steps = [
            5_000,
            10_000,
            15_000,
            30_000,
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
        } else if step < MIN {
            "%H:%M:%S"
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

/// Runs of one decision `[start, end)` along the axis.
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

pub(crate) fn dimension_caption(slo: &SloSpec, dim: Dimension) -> String {
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

/// The styles of a page showing charts: the page, chips, tables, bars and the chart's own
/// classes. Every burnrate page inlines it (no external stylesheet, no web font).
pub(crate) const PAGE_CSS: &str = r#"
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
table.summary caption { text-align: left; font-weight: 600; font-size: 13px; padding-bottom: 2px; }
table.contributors { margin: 10px 0 4px; }
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

/// What one chart shows: everything already measured, so either caller can fill it.
pub(crate) struct BurnChart<'a> {
    pub(crate) dimension: Dimension,
    /// The figure's caption (text; escaped here), e.g. `dimension_caption`.
    pub(crate) caption: String,
    /// Muted text after the caption (the budget remaining), if any.
    pub(crate) note: Option<String>,
    /// What a screen reader announces for the SVG.
    pub(crate) label: String,
    pub(crate) rules: &'a [Rule],
    /// Window spellings, shortest first; `series[i]` is the burn of `windows[i]` per instant.
    pub(crate) windows: Vec<String>,
    pub(crate) series: Vec<Vec<(i64, Option<f64>)>>,
    /// The dimension's decision and the SLO's at each instant, drawn as the two strips.
    pub(crate) dimension_steps: Vec<(i64, Decision)>,
    pub(crate) slo_steps: Vec<(i64, Decision)>,
    /// Spans marked on the plot (known incidents), `[start, end)` in Unix ms.
    pub(crate) spans: Vec<(i64, i64)>,
    pub(crate) axis: TimeAxis,
}

impl BurnChart<'_> {
    /// The burn axis the series' extremes and the thresholds need.
    fn burn_axis(&self) -> BurnAxis {
        let mut min_positive: Option<f64> = None;
        let mut max: Option<f64> = None;
        for v in self.series.iter().flatten().filter_map(|p| p.1) {
            if v.is_nan() {
                continue;
            }
            if v > 0.0 && v.is_finite() {
                min_positive = Some(min_positive.map_or(v, |m| m.min(v)));
            }
            max = Some(max.map_or(v, |m| m.max(v)));
        }
        let thresholds: Vec<f64> = self.rules.iter().map(|r| r.burn).collect();
        BurnAxis::new(min_positive, max.filter(|m| m.is_finite()), &thresholds)
    }
}

/// One dimension's figure: caption, then the SVG (grid, spans, thresholds, one line per
/// window, decision bands, legend), layered in that order. The `<svg>` carries the time
/// range it covers (`data-from`/`data-to`, Unix ms) for programs reading the page.
pub(crate) fn render(out: &mut String, chart: &BurnChart) {
    let burn = chart.burn_axis();
    let axis = &chart.axis;
    let dim = chart.dimension.as_str();
    let _ = write!(
        out,
        r#"<figure class="chart {dim}"><figcaption>{}"#,
        escape(&chart.caption),
    );
    if let Some(note) = &chart.note {
        let _ = write!(out, r#" <span class="muted">· {}</span>"#, escape(note));
    }
    out.push_str("</figcaption>");
    let _ = write!(
        out,
        r#"<svg class="chart" data-dimension="{dim}" data-from="{}" data-to="{}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{}">"#,
        axis.t0,
        axis.t1,
        escape(&chart.label),
    );
    let _ = write!(
        out,
        r##"<rect class="plot" x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="#fff" stroke="#c8c8c8"/>"##
    );
    render_grid(out, axis, &burn);
    render_spans(out, axis, &chart.spans);
    render_thresholds(out, &burn, chart.rules);
    render_lines(out, axis, &burn, &chart.windows, &chart.series);
    render_strip(out, axis, STRIP1_Y, dim, &chart.dimension_steps);
    render_strip(out, axis, STRIP2_Y, "SLO", &chart.slo_steps);
    render_legend(
        out,
        &chart.windows,
        !chart.spans.is_empty(),
        !chart.rules.is_empty(),
    );
    out.push_str("</svg></figure>");
}

fn render_grid(out: &mut String, axis: &TimeAxis, burn: &BurnAxis) {
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
}

fn render_spans(out: &mut String, axis: &TimeAxis, spans: &[(i64, i64)]) {
    // Known incidents, under the lines.
    for &(start_ms, end_ms) in spans {
        if end_ms <= axis.t0 || start_ms >= axis.t1 {
            continue;
        }
        let x0 = axis.x(start_ms.max(axis.t0));
        let x1 = axis.x(end_ms.min(axis.t1)).max(x0 + 2.0);
        let _ = write!(
            out,
            r#"<g class="incident-span"><rect class="incident" x="{}" y="{TOP}" width="{}" height="{PLOT_H}" fill="{INCIDENT}" fill-opacity="0.13"><title>incident {} → {} UTC ({})</title></rect>"#,
            coord(x0),
            coord(x1 - x0),
            utc(start_ms, "%Y-%m-%d %H:%M"),
            utc(end_ms, "%Y-%m-%d %H:%M"),
            fmt_secs((end_ms - start_ms) as f64 / 1000.0)
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
}

fn render_thresholds(out: &mut String, burn: &BurnAxis, rules: &[Rule]) {
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
}

fn render_lines(
    out: &mut String,
    axis: &TimeAxis,
    burn: &BurnAxis,
    windows: &[String],
    series: &[Vec<(i64, Option<f64>)>],
) {
    // One line per window, shortest first so the long (smooth) ones stay on top.
    let mut any_value = false;
    out.push_str(
        r#"<g class="series" fill="none" stroke-linejoin="round" stroke-linecap="round">"#,
    );
    for (i, (window, points)) in windows.iter().zip(series).enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let width = if i == 0 && windows.len() > 2 {
            1.0
        } else {
            1.5
        };
        let mut d = String::new();
        let clamped: Vec<(i64, Option<f64>)> = points
            .iter()
            .map(|&(t, v)| (t, v.filter(|v| !v.is_nan()).map(|v| burn.clamp(v))))
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
}

fn render_legend(out: &mut String, windows: &[String], incidents: bool, thresholds: bool) {
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
    if incidents {
        let _ = write!(
            out,
            r#"<g class="legend-item"><rect x="{x}" y="6" width="18" height="11" fill="{INCIDENT}" fill-opacity="0.25"/><text x="{}" y="16">known incident</text></g>"#,
            x + 22.0
        );
        x += 130.0;
    }
    if thresholds {
        let _ = write!(
            out,
            r##"<g class="legend-item"><line x1="{x}" x2="{}" y1="12" y2="12" stroke="#555" stroke-dasharray="6 4"/><text x="{}" y="16">threshold (fires when long and short windows both reach it)</text></g>"##,
            x + 22.0,
            x + 26.0
        );
    }
    out.push_str("</g>");
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
    fn burn_axis_covers_data_and_thresholds() {
        let a = BurnAxis::new(Some(0.0004), Some(80.0), &[14.4, 6.0, 1.0]);
        assert_eq!((a.lo, a.hi), (-2, 2));
        let a = BurnAxis::new(None, None, &[0.3, 1.0]);
        assert_eq!((a.lo, a.hi), (-1, 1));
        assert_eq!(a.y(0.0), TOP + PLOT_H);
        assert_eq!(a.y(1e9), TOP);
    }
}
