//! Backtests give the same decisions and numbers whichever way the rates are computed:
//! from a history file (local rate engine), from raw samples fetched from a real Prometheus
//! (local rate engine), from Prometheus evaluating every window with `query_range`, and from
//! a `query_range` JSON file saved from it (what users download with curl).

mod common;

use common::prometheus::{Prometheus, backfill_demo};
use serde_json::Value;
use std::process::Command;

const FROM: &str = "2026-11-17T12:00:00Z";
const TO: &str = "2026-11-18T06:00:00Z";

fn backtest(specs: &str, source: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_burnrate"))
        .args([
            "backtest", specs, "--from", FROM, "--to", TO, "--step", "1m", "--format", "json",
        ])
        .args(source)
        .env_remove("BURNRATE_PROMETHEUS_URL")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{source:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn close(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()) + 1e-12,
        _ => a == b,
    }
}

/// Same lines, same decisions at the same instants, numbers within 1e-9.
fn assert_same(name: &str, expected: &[Value], got: &[Value]) {
    let key = |v: &Value| {
        (
            v["slo"].clone(),
            v["time"].clone(),
            v["decision"].clone(),
            v["previous"].clone(),
        )
    };
    let exp_keys: Vec<_> = expected
        .iter()
        .filter(|v| v.get("summary").is_none())
        .map(key)
        .collect();
    let got_keys: Vec<_> = got
        .iter()
        .filter(|v| v.get("summary").is_none())
        .map(key)
        .collect();
    assert_eq!(exp_keys, got_keys, "{name}: decision timelines differ");
    for (e, g) in expected.iter().zip(got) {
        if e.get("summary").is_some() {
            assert_eq!(e["time_in_seconds"], g["time_in_seconds"], "{name}");
            assert_eq!(e["changes"], g["changes"], "{name}");
            continue;
        }
        for dim in ["error", "latency"] {
            let (ed, gd) = (&e[dim], &g[dim]);
            assert_eq!(ed.is_null(), gd.is_null(), "{name} {dim}");
            if ed.is_null() {
                continue;
            }
            for field in ["burn", "events", "quantile_seconds"] {
                let Some(map) = ed[field].as_object() else {
                    continue;
                };
                for (w, v) in map {
                    assert!(
                        close(v, &gd[field][w]),
                        "{name} {} {dim}.{field}[{w}]: {v} vs {}",
                        e["time"],
                        gd[field][w]
                    );
                }
            }
            assert!(
                close(&ed["budget_remaining"], &gd["budget_remaining"]),
                "{name} {dim} budget"
            );
            assert_eq!(ed["fired"], gd["fired"], "{name} {dim} fired");
        }
    }
}

#[test]
fn file_and_prometheus_backtests_agree() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = backfill_demo(dir.path());
    let prom = Prometheus::start(&blocks);
    let url = prom.url();

    for specs in [
        "slo-specs/map-update.yaml",
        "tests/fixtures/backtest/map-update-ladder.yaml",
    ] {
        let from_file = backtest(specs, &["--history", "demo/map-update-history.om.gz"]);
        let from_raw = backtest(specs, &["--prometheus", &url]);
        let from_ranges = backtest(specs, &["--prometheus", &url, "--rates", "query-range"]);
        assert!(
            from_file.len() > 3,
            "{specs}: the range has decision changes: {from_file:?}"
        );
        let decisions: Vec<&str> = from_file
            .iter()
            .filter_map(|v| v["decision"].as_str())
            .collect();
        assert!(
            decisions.iter().any(|d| *d != "ok" && *d != "no_data"),
            "{specs}: something fires"
        );
        assert_same(
            &format!("{specs}: file vs raw samples"),
            &from_file,
            &from_raw,
        );
        assert_same(
            &format!("{specs}: file vs query_range"),
            &from_file,
            &from_ranges,
        );
        let rates: Vec<&str> = [&from_file, &from_raw, &from_ranges]
            .iter()
            .map(|lines| lines.last().unwrap()["rates"].as_str().unwrap())
            .collect();
        assert_eq!(
            rates,
            [
                "history file (local rate engine)",
                "prometheus raw samples (local rate engine)",
                "prometheus query_range"
            ]
        );
    }
}
