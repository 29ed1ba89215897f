//! An imported Sloth or OpenSLO spec evaluates to the same numbers and decisions as the
//! burnrate/v1 spec an SRE would write by hand for it.
//!
//! The demo history (Go map updates, 2026-11-16..18, with an incident on 2026-11-17 from
//! 13:45 to 15:05) is backfilled into a real Prometheus. `burnrate check --at T --format json
//! --state FILE` then runs at 2 minutes before and at each of 12 instants with the imported
//! specs (tests/fixtures/import/sloth/go-map.yml, tests/fixtures/import/openslo/) and with
//! their hand-written equivalents (tests/fixtures/import/equivalent/), and every SLO's burn
//! rates, budget, event counts, fired and pending rules and decisions are compared (the state
//! file carries the `for: 2m` that OpenSLO's `alertAfter` became).
//!
//! Burn rates are compared for exact equality where both sides ask Prometheus for the same
//! rates (error SLIs: Sloth's `sum(rate(X[{{.window}}]))` queries and OpenSLO's
//! `sum(rate(X[5m]))`, both imported as burnrate selectors, OpenSLO selectors, and a Sloth
//! raw error ratio, whose `ratio / 1` is the ratio bit for bit). Latency written as events
//! (Sloth's `count - bucket`, OpenSLO's good/total) is compared with burnrate's histogram
//! latency SLI within 1e-9: `(total - good) / total` and `1 - good / total` are the same
//! number up to the last bits of a float, not bit for bit.

mod common;

use common::prometheus::{Prometheus, backfill_demo};
use common::{REL_1E9_ABS_1E12, check_json, close_json};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Instants around the incident (13:45-15:05) and away from it.
const TIMES: [&str; 12] = [
    "2026-11-16T06:00:00Z",
    "2026-11-16T18:30:00Z",
    "2026-11-17T08:00:00Z",
    "2026-11-17T13:40:00Z",
    "2026-11-17T13:55:00Z",
    "2026-11-17T14:05:00Z",
    "2026-11-17T14:20:00Z",
    "2026-11-17T14:45:00Z",
    "2026-11-17T15:10:00Z",
    "2026-11-17T16:30:00Z",
    "2026-11-17T22:00:00Z",
    "2026-11-18T12:00:00Z",
];

/// `burnrate check SPEC --at T --format json --state STATE`: one JSON object per SLO, by
/// SLO name.
fn check(spec: &str, url: &str, at: &str, state: &Path) -> BTreeMap<String, Value> {
    let (code, printed, stderr) = check_json(spec, url, at, &["--state", state.to_str().unwrap()]);
    assert!(
        (0..=4).contains(&code),
        "check {spec} --at {at}: exit {code}\n{stderr}"
    );
    printed
        .into_iter()
        .map(|v| (v["slo"].as_str().unwrap().to_string(), v))
        .collect()
}

/// (imported SLO, hand-written SLO, the hand-written SLO's dimension, agreement); the
/// imported SLO's dimension is always `error`.
type Pair = (&'static str, &'static str, &'static str, Agree);

/// How two dimensions' numbers must agree.
#[derive(Clone, Copy, PartialEq)]
enum Agree {
    /// The same rates from Prometheus: every number bit for bit.
    Exactly,
    /// Exact burns, but the imported side has no event counts (a raw error ratio).
    ExactlyButEvents,
    /// Different arithmetic on the same rates: within 1e-9.
    Closely,
}

/// Compares one dimension of the imported SLO with one of the hand-written one.
fn compare(what: &str, imported: &Value, written: &Value, agree: Agree) {
    assert!(imported.is_object(), "{what}: imported dimension missing");
    assert!(
        written.is_object(),
        "{what}: hand-written dimension missing"
    );
    assert_eq!(
        imported["decision"], written["decision"],
        "{what}: decision"
    );
    assert_eq!(imported["fired"], written["fired"], "{what}: fired rules");
    assert_eq!(
        imported["pending"], written["pending"],
        "{what}: pending rules"
    );
    assert_eq!(
        imported["objective"], written["objective"],
        "{what}: objective"
    );
    let burns_i = imported["burn"].as_object().unwrap();
    let burns_w = written["burn"].as_object().unwrap();
    assert_eq!(
        burns_i.keys().collect::<Vec<_>>(),
        burns_w.keys().collect::<Vec<_>>(),
        "{what}: windows"
    );
    for (w, b) in burns_i {
        match agree {
            Agree::Exactly | Agree::ExactlyButEvents => {
                assert_eq!(b, &burns_w[w], "{what}: burn[{w}] must be identical")
            }
            Agree::Closely => assert!(
                close_json(b, &burns_w[w], REL_1E9_ABS_1E12),
                "{what}: burn[{w}] {b} vs {}",
                burns_w[w]
            ),
        }
    }
    match agree {
        Agree::Exactly => {
            assert_eq!(
                imported["budget_remaining"], written["budget_remaining"],
                "{what}: budget"
            );
            assert_eq!(imported["events"], written["events"], "{what}: events");
            assert_eq!(
                imported["no_traffic"], written["no_traffic"],
                "{what}: no_traffic"
            );
        }
        Agree::ExactlyButEvents => {
            assert_eq!(
                imported["budget_remaining"], written["budget_remaining"],
                "{what}: budget"
            );
        }
        Agree::Closely => {
            assert!(
                close_json(
                    &imported["budget_remaining"],
                    &written["budget_remaining"],
                    REL_1E9_ABS_1E12
                ),
                "{what}: budget {} vs {}",
                imported["budget_remaining"],
                written["budget_remaining"]
            );
            let (ei, ew) = (
                imported["events"].as_object().unwrap(),
                written["events"].as_object().unwrap(),
            );
            for (w, e) in ei {
                assert!(
                    close_json(e, &ew[w], REL_1E9_ABS_1E12),
                    "{what}: events[{w}]"
                );
            }
        }
    }
}

#[derive(Default)]
struct Stats {
    evaluations: usize,
    decisions: BTreeMap<String, usize>,
    fired: usize,
}

/// Evaluates an imported spec and its hand-written equivalent at `at` - 2m and `at`, each
/// side carrying `for` timers (OpenSLO alertAfter: 2m) in its own state file (so the rule
/// keys in the state must match too), and compares every pair of SLOs.
fn compare_at(
    imported_spec: &str,
    written_spec: &str,
    pairs: &[Pair],
    url: &str,
    at: &str,
) -> Stats {
    let mut stats = Stats::default();
    let t = chrono::DateTime::parse_from_rfc3339(at)
        .unwrap()
        .timestamp();
    let states = tempfile::tempdir().unwrap();
    let (si, sw) = (states.path().join("i.json"), states.path().join("w.json"));
    for when in [(t - 120).to_string(), at.to_string()] {
        let imported = check(imported_spec, url, &when, &si);
        let written = check(written_spec, url, &when, &sw);
        stats.evaluations += 1;
        for (islo, wslo, dim, agree) in pairs {
            let what = format!("{imported_spec} {islo} at {when}");
            let i = imported
                .get(*islo)
                .unwrap_or_else(|| panic!("{what}: no output"));
            let w = &written[*wslo];
            assert_eq!(i["decision"], w["decision"], "{what}: SLO decision");
            assert_eq!(i["service"], w["service"], "{what}: service");
            assert_eq!(i["labels"], w["labels"], "{what}: labels");
            compare(&what, &i["error"], &w[*dim], *agree);
            *stats
                .decisions
                .entry(i["decision"].as_str().unwrap().to_string())
                .or_default() += 1;
            if !i["error"]["fired"].as_array().unwrap().is_empty() {
                stats.fired += 1;
            }
        }
    }
    stats
}

#[test]
fn imported_specs_evaluate_like_their_handwritten_equivalents() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let blocks = backfill_demo(dir.path());
    let prom = Prometheus::start(&blocks);
    let url = prom.url();

    let cases: [(&str, &str, Vec<Pair>); 2] = [
        (
            "tests/fixtures/import/sloth/go-map.yml",
            "tests/fixtures/import/equivalent/sloth-go-map.yaml",
            vec![
                ("update-errors", "update-errors", "error", Agree::Exactly),
                (
                    "update-latency",
                    "update-latency",
                    "latency",
                    Agree::Closely,
                ),
                (
                    "update-error-ratio",
                    "update-error-ratio",
                    "error",
                    Agree::ExactlyButEvents,
                ),
            ],
        ),
        (
            "tests/fixtures/import/openslo",
            "tests/fixtures/import/equivalent/openslo-go-map.yaml",
            vec![
                ("go-map-errors", "go-map-errors", "error", Agree::Exactly),
                (
                    "go-map-latency",
                    "go-map-latency",
                    "latency",
                    Agree::Closely,
                ),
                (
                    "go-map-timeouts",
                    "go-map-timeouts",
                    "error",
                    Agree::Exactly,
                ),
            ],
        ),
    ];
    // Every (case, instant) in its own thread: each runs its own `check` processes.
    let results: Vec<(&str, Stats)> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .flat_map(|case| TIMES.iter().map(move |at| (case, *at)))
            .map(|((imported, written, pairs), at)| {
                let url = &url;
                scope.spawn(move || (*imported, compare_at(imported, written, pairs, url, at)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut decisions_seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut evaluations = 0;
    let mut fired: BTreeMap<&str, usize> = BTreeMap::new();
    for (spec, stats) in results {
        evaluations += stats.evaluations;
        *fired.entry(spec).or_default() += stats.fired;
        for (d, n) in stats.decisions {
            *decisions_seen.entry(d).or_default() += n;
        }
    }
    // The comparison is only worth something if rules fired and decisions changed.
    for (imported, _, _) in &cases {
        assert!(
            fired.get(imported).copied().unwrap_or(0) > 0,
            "{imported}: no rule fired at any instant: {fired:?}"
        );
    }
    assert!(
        decisions_seen.keys().any(|d| d != "ok" && d != "no_data"),
        "every decision was ok: {decisions_seen:?}"
    );
    eprintln!(
        "compared {evaluations} evaluations of 3 SLOs; decisions {decisions_seen:?}; rules \
         firing {fired:?}; {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
