//! The README's demo: the shipped history still comes from its generator, and the backtest
//! of the reference spec over it catches the incident.
// The generator (an example) includes `tests/common/history.rs` itself, as the kit does.
#![allow(clippy::duplicate_mod)]

mod common;

use common::{burnrate_cmd, json_lines, stdout_of};

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
    assert!(std::fs::metadata(&report).unwrap().len() > 0);
}
