//! The backend's flavor is detected from what it answers (PRODUCT.md, "One number"):
//! Prometheus 2.42 by its buildinfo version, VictoriaMetrics by its own endpoints, and
//! `--backend-flavor` overrides detection; the backtest summary says which was used.

mod common;

use common::prometheus::{Prometheus, backfill_demo};
use common::victoriametrics::VictoriaMetrics;
use common::{burnrate_cmd, json_lines, stdout_of};

/// The flavor a short query_range backtest of the reference spec reports.
fn summary_flavor(url: &str, extra: &[&str]) -> String {
    let stdout = stdout_of(
        burnrate_cmd()
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
            .args(extra),
        0,
    );
    let summary = json_lines(&stdout).pop().unwrap();
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
