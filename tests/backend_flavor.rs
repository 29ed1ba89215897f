//! The backend's flavor is detected from what it answers (PRODUCT.md, "One number"):
//! Prometheus 2.42 by its buildinfo version, VictoriaMetrics by its own endpoints, and
//! `--backend-flavor` overrides detection; the backtest summary says which was used.

mod common;

use common::prometheus::{Prometheus, backfill_demo};
use common::victoriametrics::VictoriaMetrics;
use serde_json::Value;
use std::process::Command;

/// The flavor a short query_range backtest of the reference spec reports.
fn summary_flavor(url: &str, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_burnrate"))
        .args([
            "backtest",
            "slo-specs/map-update.yaml",
            "--prometheus",
            url,
            "--rates",
            "query-range",
            "--from",
            "2026-11-17T12:00:00Z",
            "--to",
            "2026-11-17T12:10:00Z",
            "--format",
            "json",
        ])
        .args(extra)
        .env_remove("BURNRATE_PROMETHEUS_URL")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    summary["backend_flavor"].as_str().unwrap().to_string()
}

#[test]
fn flavors_are_detected_and_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(&backfill_demo(dir.path()));
    let vm = VictoriaMetrics::start();
    assert_eq!(summary_flavor(&prom.url(), &[]), "prometheus-2");
    assert_eq!(summary_flavor(&vm.url(), &[]), "victoriametrics");
    assert_eq!(
        summary_flavor(&vm.url(), &["--backend-flavor", "prometheus-3"]),
        "prometheus-3"
    );
}
