//! Two evaluations of one SLO at one instant, as burnrate prints them (`check` and `backtest`
//! lines, the daemon's `/api/v1/decisions`), compared the one way every "same number whichever
//! path computed it" test needs: numbers within a tolerance (the same arithmetic in another
//! order, or in the backend), everything else equal.

use super::approx::{Tol, close_json};
use serde_json::Value;
use std::collections::BTreeSet;

/// Per dimension: every window's `burn`, `events` and `quantile_seconds`, and
/// `budget_remaining`, within `tol`; the dimension's presence, `decision`, `fired`, `pending`,
/// `held` and `no_traffic` equal. Each difference is one line naming the field (empty: agreed).
/// The SLO's own `decision` is left to the caller: a replay with `for`/`hold` state and a
/// stateless `check` may differ there while their rules agree.
pub fn evaluation_differences(a: &Value, b: &Value, tol: Tol) -> Vec<String> {
    let mut out = Vec::new();
    for dim in ["error", "latency"] {
        let (ad, bd) = (&a[dim], &b[dim]);
        if ad.is_null() != bd.is_null() {
            out.push(format!("{dim}: {ad} vs {bd}"));
            continue;
        }
        if ad.is_null() {
            continue;
        }
        for field in ["burn", "events", "quantile_seconds"] {
            let windows: BTreeSet<&String> = [ad, bd]
                .iter()
                .filter_map(|d| d[field].as_object())
                .flat_map(|m| m.keys())
                .collect();
            for w in windows {
                let (x, y) = (&ad[field][w], &bd[field][w]);
                if !close_json(x, y, tol) {
                    out.push(format!("{dim}.{field}[{w}]: {x} vs {y}"));
                }
            }
        }
        if !close_json(&ad["budget_remaining"], &bd["budget_remaining"], tol) {
            out.push(format!(
                "{dim}.budget_remaining: {} vs {}",
                ad["budget_remaining"], bd["budget_remaining"]
            ));
        }
        for field in ["decision", "fired", "pending", "held", "no_traffic"] {
            if ad[field] != bd[field] {
                out.push(format!("{dim}.{field}: {} vs {}", ad[field], bd[field]));
            }
        }
    }
    out
}
