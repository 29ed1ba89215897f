//! Backtests give the same decisions and numbers whichever way the rates are computed:
//! from a history file (local PromQL evaluator), from raw samples fetched from a real
//! Prometheus (local evaluator), from Prometheus evaluating every window with `query_range`,
//! and from a `query_range` JSON file saved from it (what users download with curl); for
//! selector SLIs and raw-PromQL SLIs alike, on and off the scrape grid.

mod common;

use common::prometheus::{Prometheus, backfill_demo};
use common::{REL_1E9_ABS_1E12, burnrate_cmd, evaluation_differences, json_lines, stdout_of};
use serde_json::Value;

const FROM: &str = "2026-11-17T12:00:00Z";
const TO: &str = "2026-11-18T06:00:00Z";

fn backtest(specs: &str, source: &[&str]) -> Vec<Value> {
    backtest_range(specs, source, (FROM, TO, "1m"), 0)
}

/// A backtest over `(from, to, step)` that must exit with `code`.
fn backtest_range(
    specs: &str,
    source: &[&str],
    range: (&str, &str, &str),
    code: i32,
) -> Vec<Value> {
    let (from, to, step) = range;
    let stdout = stdout_of(
        burnrate_cmd()
            .args([
                "backtest", specs, "--from", from, "--to", to, "--step", step, "--format", "json",
            ])
            .args(source),
        code,
    );
    json_lines(&stdout)
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
        let diffs = evaluation_differences(e, g, REL_1E9_ABS_1E12);
        assert!(diffs.is_empty(), "{name} {}: {diffs:?}", e["time"]);
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
        for lines in [&from_file, &from_raw, &from_ranges] {
            // A file replays as prometheus-2 by default; the server is detected as 2.42.
            assert_eq!(lines.last().unwrap()["backend_flavor"], "prometheus-2");
        }
        assert_eq!(
            rates,
            [
                "history file (local PromQL evaluator)",
                "prometheus raw samples (local PromQL evaluator)",
                "prometheus query_range"
            ]
        );
    }
}

/// A directory mixing a selector SLO, raw-PromQL SLOs (vector matching, filters,
/// `or vector(0)`), a Sloth raw-ratio SLO and one SLO outside the local evaluator's subset:
/// from the history file every SLO but the last replays, with the burns and decisions
/// Prometheus computes for the same queries at the same steps, on the 30 s scrape grid and
/// 7 s and 43 s off it; the last is skipped with a summary saying why and exit code 4,
/// while a backtest against Prometheus replays it (query_range) and the others locally.
#[test]
fn mixed_raw_and_selector_specs_replay_from_a_file() {
    const SPECS: &str = "tests/fixtures/backtest/mixed";
    const OUTSIDE: &str = "guarded";
    let dir = tempfile::tempdir().unwrap();
    let blocks = backfill_demo(dir.path());
    let prom = Prometheus::start(&blocks);
    let url = prom.url();
    let history = ["--history", "demo/map-update-history.om.gz"];
    for range in [
        ("2026-11-17T12:00:00Z", "2026-11-18T00:00:00Z", "1m"),
        ("2026-11-17T12:00:07Z", "2026-11-17T20:00:07Z", "1m"),
        ("2026-11-17T18:00:43Z", "2026-11-18T02:00:43Z", "2m"),
    ] {
        let from_file = backtest_range(SPECS, &history, range, 4);
        let skipped: Vec<&Value> = from_file
            .iter()
            .filter(|v| v.get("skipped").is_some())
            .collect();
        assert_eq!(skipped.len(), 1, "{range:?}: one SLO skipped: {skipped:?}");
        assert_eq!(skipped[0]["slo"], OUTSIDE);
        assert!(
            skipped[0]["skipped"]
                .as_str()
                .unwrap()
                .contains("absent_over_time"),
            "{}",
            skipped[0]
        );
        let from_file: Vec<Value> = from_file
            .into_iter()
            .filter(|v| v.get("skipped").is_none())
            .collect();
        let slos: std::collections::BTreeSet<&str> =
            from_file.iter().filter_map(|v| v["slo"].as_str()).collect();
        assert_eq!(
            slos.into_iter().collect::<Vec<_>>(),
            ["hot-shard", "set-and-delete", "set-ratio"]
        );
        for lines in [
            backtest_range(
                SPECS,
                &["--prometheus", &url, "--rates", "query-range"],
                range,
                0,
            ),
            backtest_range(SPECS, &["--prometheus", &url], range, 0),
        ] {
            let rates: Vec<(&str, &str)> = lines
                .iter()
                .filter(|v| v.get("summary").is_some())
                .map(|v| (v["slo"].as_str().unwrap(), v["rates"].as_str().unwrap()))
                .collect();
            assert!(
                rates.contains(&(OUTSIDE, "prometheus query_range")),
                "{rates:?}"
            );
            let replayed: Vec<Value> = lines.into_iter().filter(|v| v["slo"] != OUTSIDE).collect();
            assert_same(&format!("mixed {range:?}"), &from_file, &replayed);
        }
        let fired = from_file
            .iter()
            .filter(|v| v.get("summary").is_none())
            .filter(|v| v["decision"] != "ok" && v["decision"] != "no_data")
            .count();
        assert!(
            fired > 0,
            "{range:?}: something fires in the mixed directory"
        );
    }
}
