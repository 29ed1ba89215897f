//! Two evaluations of one SLO at one instant, as burnrate prints them (`check` and `backtest`
//! lines, the daemon's `/api/v1/decisions`), compared the one way every "same number whichever
//! path computed it" test needs: numbers within a tolerance (the same arithmetic in another
//! order, or in the backend), everything else equal; and two whole replays line by line.

use super::approx::{Tol, close_json};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Per dimension: every window's `burn`, `events` and `quantile_seconds`, and
/// `budget_remaining`, within `tol`; the dimension's presence, `decision`, `fired`, `pending`,
/// `held` and `no_traffic` equal; its `contributors` as [`contributors_differences`]. Each
/// difference is one line naming the field (empty: agreed). The SLO's own `decision` is left
/// to the caller: a replay with `for`/`hold` state and a stateless `check` may differ there
/// while their rules agree.
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
        out.extend(
            contributors_differences(&ad["contributors"], &bd["contributors"], tol)
                .into_iter()
                .map(|d| format!("{dim}.contributors{d}")),
        );
    }
    out
}

/// Two dimensions' `contributors` (`null` where there are none): the same window and the
/// same label sets in the same order, each one's `bad_share` and `burn` within `tol`. Each
/// difference is one line starting with the field's path below `contributors`.
pub fn contributors_differences(a: &Value, b: &Value, tol: Tol) -> Vec<String> {
    if a.is_null() || b.is_null() {
        return if a == b {
            Vec::new()
        } else {
            vec![format!(": {a} vs {b}")]
        };
    }
    if a["window"] != b["window"] {
        return vec![format!(".window: {} vs {}", a["window"], b["window"])];
    }
    let labels = |c: &Value| -> Vec<Value> {
        c["top"]
            .as_array()
            .map(|top| top.iter().map(|t| t["labels"].clone()).collect())
            .unwrap_or_default()
    };
    if labels(a) != labels(b) {
        return vec![format!(".top labels: {:?} vs {:?}", labels(a), labels(b))];
    }
    let mut out = Vec::new();
    for (i, (x, y)) in a["top"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["top"].as_array().unwrap())
        .enumerate()
    {
        for field in ["bad_share", "burn"] {
            if !close_json(&x[field], &y[field], tol) {
                out.push(format!(".top[{i}].{field}: {} vs {}", x[field], y[field]));
            }
        }
    }
    out
}

/// The group labels of a printed evaluation (none without `group_by`).
pub fn group_of(v: &Value) -> BTreeMap<String, String> {
    v["group"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Two replays of the same specs over the same range (`backtest` JSON lines, the first from
/// the history file, the other from the source `name`) agree: the same lines (SLO, group,
/// time, decision, previous; each summary's changes and time in each decision), and every
/// evaluation's numbers within `tol` ([`evaluation_differences`]).
pub fn assert_replays_agree(name: &str, from_file: &[Value], other: &[Value], tol: Tol) {
    let line = |v: &Value| {
        if v.get("summary").is_some() {
            format!(
                "{} {} summary {} {}",
                v["slo"], v["group"], v["changes"], v["time_in_seconds"]
            )
        } else {
            format!(
                "{} {} {} {} {}",
                v["slo"], v["group"], v["time"], v["decision"], v["previous"]
            )
        }
    };
    let a: Vec<String> = from_file.iter().map(line).collect();
    let b: Vec<String> = other.iter().map(line).collect();
    assert_eq!(a, b, "file vs {name}: the replays differ");
    for (x, y) in from_file.iter().zip(other) {
        if x.get("summary").is_none() {
            let diffs = evaluation_differences(x, y, tol);
            assert!(
                diffs.is_empty(),
                "file vs {name} at {} {} {}: {diffs:?}",
                x["time"],
                x["slo"],
                x["group"]
            );
        }
    }
}
