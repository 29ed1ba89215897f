//! The human view of evaluations: one block per SLO, one line per dimension.

use crate::engine::{DimensionReport, Evaluation, RuleRef};
use std::fmt::Write;

pub fn render(evals: &[Evaluation]) -> String {
    let mut out = String::new();
    for e in evals {
        let _ = writeln!(
            out,
            "{}/{}  {}  at {}",
            e.service,
            e.slo,
            e.decision.as_str().to_uppercase(),
            e.time
        );
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
            for (label, rules) in [
                ("fired", &d.fired),
                ("pending", &d.pending),
                ("held", &d.held),
            ] {
                if !rules.is_empty() {
                    let list: Vec<String> = rules.iter().map(rule_text).collect();
                    let _ = writeln!(out, "           {label:<6} {}", list.join("; "));
                }
            }
        }
        for err in &e.errors {
            let _ = writeln!(out, "  error    {err}");
        }
        out.push('\n');
    }
    out
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
