//! The README's demo: the shipped history still comes from its generator, and the backtest
//! of the reference spec over it catches the incident.
// The generator (an example) includes `tests/common/history.rs` itself, as the kit does.
#![allow(clippy::duplicate_mod)]

mod common;

use common::history::{HOUR, unix};
use common::prometheus::demo_history_text;
use common::{burnrate_cmd, json_lines, stdout_of};
use std::collections::BTreeMap;

#[path = "../examples/make_demo_history.rs"]
#[allow(dead_code)]
mod make_demo_history;

#[test]
fn shipped_demo_history_matches_its_generator() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("demo.om.gz");
    make_demo_history::write_demo(&fresh);
    let shipped = std::fs::read("demo/map-update-history.om.gz").unwrap();
    assert!(
        shipped.len() < 3_000_000,
        "the demo history stays small: {} bytes",
        shipped.len()
    );
    assert!(
        std::fs::read(&fresh).unwrap() == shipped,
        "demo/ is stale: run `cargo run --example make_demo_history`"
    );
}

#[test]
fn demo_backtest_catches_the_incident() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let stdout = stdout_of(
        burnrate_cmd()
            .args([
                "backtest",
                "slo-specs/map-update.yaml",
                "--history",
                "demo/map-update-history.om.gz",
            ])
            .args([
                "--incidents",
                "demo/incidents.yaml",
                "--format",
                "json",
                "--report",
            ])
            .arg(&report),
        0,
    );
    let lines = json_lines(&stdout);
    let (summary, changes) = lines.split_last().unwrap();
    assert_eq!(summary["summary"], true);
    assert_eq!(summary["evaluations"], 3 * 24 * 60);
    assert_eq!(changes[0]["time"], "2026-11-16T00:00:00Z");
    assert!(changes[0].get("previous").is_none());
    for c in &changes[1..] {
        assert_ne!(
            c["previous"], c["decision"],
            "every later line is a change: {c}"
        );
    }
    // The incident (13:45-15:05 on Nov 17) is caught: circuit_break inside it, first by latency.
    let breaking = changes
        .iter()
        .find(|c| c["decision"] == "circuit_break")
        .expect("reaches circuit_break");
    let at = breaking["time"].as_str().unwrap();
    assert!(
        ("2026-11-17T13:45:00Z".."2026-11-17T15:05:00Z").contains(&at),
        "{at}"
    );
    assert_eq!(breaking["latency"]["decision"], "circuit_break");
    assert!(breaking["latency"]["burn"]["1h"].as_f64().unwrap() >= 1.0);
    let scores = &summary["scores"];
    assert_eq!(scores["recall"], 1.0);
    assert_eq!(scores["detected"], 1);
    assert!(
        scores["detection_seconds"][0].as_f64().unwrap() <= 15.0 * 60.0,
        "{scores}"
    );
    let precision = scores["precision"].as_f64().unwrap();
    assert!(
        precision > 0.2 && precision < 1.0,
        "the night blip is a false alarm: {precision}"
    );
    assert!(
        summary["time_in_seconds"]["circuit_break"]
            .as_f64()
            .unwrap()
            > 3600.0
    );
    // Who burned: the slow requests are mostly sets; when the error rule decides, the top
    // contributor is the timeouts of sets, and the shares and burns add up.
    let latency = &breaking["latency"]["contributors"];
    assert_eq!(latency["window"], "1h", "{breaking}");
    assert_eq!(latency["top"][0]["labels"]["op_type"], "set", "{latency}");
    let errors = changes
        .iter()
        .find_map(|c| c["error"].get("contributors"))
        .expect("an error dimension above ok is explained");
    let top = errors["top"].as_array().unwrap();
    assert_eq!(top[0]["labels"]["error_class"], "timeout", "{errors}");
    assert_eq!(top[0]["labels"]["op_type"], "set", "{errors}");
    let shares: f64 = top.iter().map(|t| t["bad_share"].as_f64().unwrap()).sum();
    assert!(shares <= 1.0 + 1e-12 && shares > 0.95, "{errors}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("Who burned"), "the report lists contributors");
    assert!(html.contains("error_class=timeout op_type=set"));
}

/// The events each `go_map_update_failure_total` series counted over `from..=to`, by its labels
/// (name and value pairs): the sum of its increases between samples, a drop being a restart
/// from 0. A series without a sample at `from` did not exist yet and counts from 0.
fn failures_between(text: &str, from: i64, to: i64) -> BTreeMap<Vec<(String, String)>, f64> {
    let mut last: BTreeMap<&str, f64> = BTreeMap::new();
    let mut counted: BTreeMap<&str, f64> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("go_map_update_failure_total{") else {
            continue;
        };
        let mut fields = rest.rsplitn(3, ' ');
        let t: i64 = fields.next().unwrap().parse().unwrap();
        let value: f64 = fields.next().unwrap().parse().unwrap();
        let labels = fields.next().unwrap();
        if !(from..=to).contains(&t) {
            continue;
        }
        let counts = counted.entry(labels).or_default();
        if t > from || last.contains_key(labels) {
            let before = last.get(labels).copied().unwrap_or(0.0);
            *counts += if value >= before {
                value - before
            } else {
                value
            };
        }
        last.insert(labels, value);
    }
    counted
        .into_iter()
        .map(|(labels, n)| {
            let labels = labels
                .strip_suffix('}')
                .unwrap()
                .split(',')
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap();
                    (name.to_string(), value.trim_matches('"').to_string())
                })
                .collect();
            (labels, n)
        })
        .collect()
}

/// Sums `counts` by the values of the labels `by`.
fn sum_by(counts: &BTreeMap<Vec<(String, String)>, f64>, by: &[&str]) -> Vec<(Vec<String>, f64)> {
    let mut sums: BTreeMap<Vec<String>, f64> = BTreeMap::new();
    for (labels, n) in counts {
        let key = by
            .iter()
            .map(|b| {
                let (_, v) = labels.iter().find(|(name, _)| name == b).unwrap();
                v.clone()
            })
            .collect();
        *sums.entry(key).or_default() += n;
    }
    let mut sums: Vec<_> = sums.into_iter().collect();
    sums.sort_by(|a, b| b.1.total_cmp(&a.1));
    sums
}

#[test]
fn demo_incident_is_mostly_timeouts_of_sets() {
    let text = demo_history_text();
    let whole = failures_between(
        &text,
        unix(2026, 11, 16, 0, 0, 0),
        unix(2026, 11, 19, 0, 0, 0),
    );
    let classes: Vec<String> = sum_by(&whole, &["error_class"])
        .into_iter()
        .map(|(k, _)| k[0].clone())
        .collect();
    assert_eq!(classes.len(), 3, "several error classes: {classes:?}");
    // The hour of the incident that holds its timeouts (14:00-14:50 on Nov 17).
    let from = unix(2026, 11, 17, 14, 0, 0);
    let hour = failures_between(&text, from, from + HOUR);
    let by_class = sum_by(&hour, &["error_class"]);
    let bad: f64 = by_class.iter().map(|(_, n)| n).sum();
    assert_eq!(by_class[0].0, ["timeout"], "{by_class:?}");
    assert!(
        by_class[0].1 > 0.8 * bad,
        "timeouts hold most of the incident's failures: {by_class:?}"
    );
    let by_class_op = sum_by(&hour, &["error_class", "op_type"]);
    assert_eq!(by_class_op[0].0, ["timeout", "set"], "{by_class_op:?}");
    let delete_timeouts = by_class_op
        .iter()
        .find(|(k, _)| k == &["timeout", "delete"])
        .map(|(_, n)| *n)
        .unwrap();
    assert!(
        delete_timeouts > 0.0 && delete_timeouts < 0.5 * by_class_op[0].1,
        "deletes time out too, less: {by_class_op:?}"
    );
}
