//! The human view of evaluations: one block per SLO (per group, named by its labels, of an
//! SLO with `group_by`), one line per dimension.

use crate::engine::{DimensionReport, Evaluation, RuleRef};
use std::fmt::Write;

/// A replay: the evaluation at the start and at each change, then the summary.
pub(crate) fn render_replay(changes: &[Evaluation], summary: &crate::backtest::Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== {}/{}{}  {} .. {}  step {}  ({})",
        summary.service,
        summary.slo,
        crate::engine::groups::format_group(&summary.group),
        summary.from,
        summary.to,
        summary.step,
        summary.rates
    );
    for e in changes {
        let change = match e.previous {
            Some(prev) => format!("{prev} -> {}", e.decision),
            None => format!("starts {}", e.decision),
        };
        let burns: Vec<String> = e
            .dimensions()
            .map(|(name, d)| format!("{name} {}", windows_text(&d.burn, |v| format!("{v:.2}"))))
            .collect();
        let maintenance = e
            .maintenance
            .as_ref()
            .map(|m| format!("  [maintenance: {m}]"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}  {change:<28} {}{maintenance}",
            e.time,
            burns.join("  |  ")
        );
        for (name, d) in e.dimensions() {
            if d.contributors.is_some() || !d.exemplars.is_empty() {
                let _ = writeln!(out, "      {name}:");
                explanation(&mut out, d, "        ");
            }
        }
    }
    let t = &summary.timeline;
    let time_in: Vec<String> = t
        .time_in_seconds
        .iter()
        .filter(|(_, s)| **s > 0.0)
        .map(|(d, s)| {
            format!(
                "{d} {}",
                crate::duration::format_millis((*s * 1000.0) as i64)
            )
        })
        .collect();
    let _ = writeln!(out, "   time in: {}", time_in.join(", "));
    let _ = writeln!(
        out,
        "   changes: {}, flaps (undone within {}): {}",
        t.changes, t.flap_window, t.flaps
    );
    for (d, at) in &t.first_reached {
        if d != "ok" {
            let _ = writeln!(out, "   first {d}: {at}");
        }
    }
    if let Some(s) = &summary.scores {
        let pct = |v: Option<f64>| {
            v.map(|v| format!("{:.1}%", v * 100.0))
                .unwrap_or_else(|| "n/a".into())
        };
        let secs = |v: &[Option<f64>]| {
            v.iter()
                .map(|x| {
                    x.map(|s| crate::duration::format_millis((s * 1000.0) as i64))
                        .unwrap_or_else(|| "never".into())
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let unscored = if s.incidents_in_maintenance > 0 {
            format!(
                ", {} inside maintenance, not scored",
                s.incidents_in_maintenance
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "   incidents: {} ({} detected{unscored})  precision {}  recall {}",
            s.incidents,
            s.detected,
            pct(s.precision),
            pct(s.recall)
        );
        if s.incidents > 0 {
            let _ = writeln!(
                out,
                "   detection: {}   reset: {}",
                secs(&s.detection_seconds),
                secs(&s.reset_seconds)
            );
        }
    }
    out.push('\n');
    out
}

pub(crate) fn render(evals: &[Evaluation]) -> String {
    let mut out = String::new();
    for e in evals {
        let _ = writeln!(
            out,
            "{}  {}  at {}",
            e.instance_name(),
            e.decision.as_str().to_uppercase(),
            e.time
        );
        if let Some(m) = &e.maintenance {
            let _ = writeln!(out, "  maintenance: {m} (no rule fires)");
        }
        for (name, d) in e.dimensions() {
            let _ = writeln!(
                out,
                "  {name:<8} {:<14} {}",
                d.decision.as_str(),
                objective_text(d)
            );
            let _ = writeln!(
                out,
                "           burn   {}",
                windows_text(&d.burn, |v| format!("{v:.3}"))
            );
            if let Some(q) = &d.quantile_seconds {
                let _ = writeln!(
                    out,
                    "           p{:<5} {}",
                    quantile_label(d),
                    windows_text(q, format_seconds)
                );
            }
            if let Some(b) = d.budget_remaining {
                let _ = writeln!(out, "           budget {:.1}% remaining", b * 100.0);
            }
            if !d.no_traffic.is_empty() {
                let _ = writeln!(out, "           no traffic in {}", d.no_traffic.join(", "));
            }
            if let Some(t) = &d.no_data_for {
                let _ = writeln!(out, "           no data for {t}");
            }
            for (label, rules) in [
                ("fired", &d.fired),
                ("pending", &d.pending),
                ("held", &d.held),
                ("suppressed", &d.suppressed),
            ] {
                if !rules.is_empty() {
                    let list: Vec<String> = rules.iter().map(rule_text).collect();
                    let _ = writeln!(out, "           {label:<6} {}", list.join("; "));
                }
            }
            explanation(&mut out, d, "           ");
        }
        for err in &e.errors {
            let _ = writeln!(out, "  error    {err}");
        }
        out.push('\n');
    }
    out
}

/// The contributors (one line each) and exemplars of a dimension, when it has them.
fn explanation(out: &mut String, d: &DimensionReport, indent: &str) {
    if let Some(c) = d.contributors.as_ref().filter(|c| !c.top.is_empty()) {
        let _ = writeln!(out, "{indent}contributors over {}:", c.window);
        for t in &c.top {
            let labels: Vec<String> = t.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(
                out,
                "{indent}  {:>5.1}%  burn {:<8.3} {}",
                t.bad_share * 100.0,
                t.burn,
                labels.join(" ")
            );
        }
    }
    if !d.exemplars.is_empty() {
        let _ = writeln!(
            out,
            "{indent}exemplars {}",
            crate::engine::explain::exemplars_text(&d.exemplars)
        );
    }
}

fn objective_text(d: &DimensionReport) -> String {
    match d.threshold_seconds {
        Some(t) => format!("p{} <= {}", quantile_label(d), format_seconds(&t)),
        None => format!("objective {}%", trim_float(d.objective * 100.0)),
    }
}

fn quantile_label(d: &DimensionReport) -> String {
    trim_float(d.quantile.unwrap_or(d.objective) * 100.0)
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn format_seconds(v: &f64) -> String {
    if *v < 1.0 {
        format!("{}ms", trim_float(v * 1000.0))
    } else {
        format!("{}s", trim_float(*v))
    }
}

fn windows_text(
    map: &crate::engine::WindowMap<Option<f64>>,
    fmt: impl Fn(&f64) -> String,
) -> String {
    map.iter()
        .map(|(w, v)| {
            format!(
                "{w}={}",
                v.as_ref().map(&fmt).unwrap_or_else(|| "null".into())
            )
        })
        .collect::<Vec<_>>()
        .join("  ")
}

fn rule_text(r: &RuleRef) -> String {
    match &r.short {
        Some(s) => format!(
            "{} (burn >= {} over {} and {})",
            r.decision, r.burn, r.long, s
        ),
        None => format!("{} (burn >= {} over {})", r.decision, r.burn, r.long),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Decision;
    use crate::engine::WindowMap;

    #[test]
    fn renders_one_block_per_slo_with_every_window() {
        let burn: WindowMap<Option<f64>> =
            [("5m".to_string(), Some(80.125)), ("1h".to_string(), None)]
                .into_iter()
                .collect();
        let dim = DimensionReport {
            decision: Decision::CircuitBreak,
            objective: 0.99,
            threshold_seconds: Some(0.2),
            quantile: Some(0.99),
            quantile_seconds: Some([("5m".to_string(), Some(0.31))].into_iter().collect()),
            burn: burn.clone(),
            events: burn,
            no_traffic: vec![],
            fired: vec![RuleRef {
                decision: Decision::CircuitBreak,
                burn: 1.0,
                long: "1h".into(),
                short: None,
                for_: None,
            }],
            pending: vec![],
            held: vec![],
            suppressed: vec![],
            no_data_for: None,
            budget_remaining: Some(0.415),
            budget_since: None,
            contributors: None,
            exemplars: vec![],
        };
        let eval = Evaluation {
            time: "2026-11-17T10:00:00Z".into(),
            service: "go-map".into(),
            slo: "map-update".into(),
            group: Default::default(),
            labels: Default::default(),
            decision: Decision::CircuitBreak,
            maintenance: None,
            previous: None,
            error: None,
            latency: Some(dim),
            errors: vec!["error SLI: boom".into()],
            at_ms: 0,
        };
        let text = render(std::slice::from_ref(&eval));
        assert!(
            text.starts_with("go-map/map-update  CIRCUIT_BREAK  at 2026-11-17T10:00:00Z\n"),
            "{text}"
        );
        assert!(
            text.contains("latency  circuit_break  p99 <= 200ms"),
            "{text}"
        );
        assert!(text.contains("burn   5m=80.125  1h=null"), "{text}");
        assert!(text.contains("p99    5m=310ms"), "{text}");
        assert!(text.contains("budget 41.5% remaining"), "{text}");
        assert!(
            text.contains("fired  circuit_break (burn >= 1 over 1h)"),
            "{text}"
        );
        assert!(text.contains("error    error SLI: boom"), "{text}");
        let mut grouped = eval.clone();
        grouped.group.insert("cluster".into(), "eu1".into());
        assert!(
            render(&[grouped]).starts_with("go-map/map-update{cluster=\"eu1\"}  CIRCUIT_BREAK"),
            "the group names the block"
        );
    }
}
