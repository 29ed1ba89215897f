//! How burnrate's HTML pages (the backtest report, `burnrate report`, the daemon's web page)
//! write what they show: numbers, durations, UTC times, SVG coordinates, decision colours
//! and chips, and escaped text (everything from a spec, an incident file or a backend's
//! labels). One place, so that a decision has one colour and a number one spelling on
//! every page and in every format.

use crate::decision::Decision;
use std::fmt::Write;

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
pub(crate) fn decision_ink(d: Decision) -> &'static str {
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
pub(crate) fn fmt_num(v: f64) -> String {
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
pub(crate) fn fmt_pct(share: f64) -> String {
    format!("{}%", fmt_one(share * 100.0))
}

pub(crate) fn fmt_one(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Seconds as a short human duration: `2d 3h`, `1h 20m`, `5m 30s`, `45s`.
pub(crate) fn fmt_secs(secs: f64) -> String {
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

pub(crate) fn utc(at_ms: i64, format: &str) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .format(format)
        .to_string()
}

/// A coordinate with at most one decimal.
pub(crate) fn push_coord(out: &mut String, v: f64) {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        let _ = write!(out, "{r:.0}");
    } else {
        let _ = write!(out, "{r:.1}");
    }
}

pub(crate) fn coord(v: f64) -> String {
    let mut s = String::new();
    push_coord(&mut s, v);
    s
}

pub(crate) fn chip(d: Decision) -> String {
    format!(
        r#"<span class="chip {d}"><i style="background:{}"></i>{d}</span>"#,
        decision_fill(d)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
