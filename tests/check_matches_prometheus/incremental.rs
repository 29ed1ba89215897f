//! The daemon's incremental evaluation gives the same rates as direct queries at every cycle.
//!
//! Over the same backfilled history as `check_matches_prometheus` (counter resets, a scrape
//! gap, `le` spelled two ways, a counter that appears at its first failure, a raw-PromQL SLI),
//! two measurers run side by side at every cycle of a simulated day: one keeps raw samples
//! and computes windows locally, one asks Prometheus for every window. Their rates must be
//! bit-identical, and so must the evaluations built from them. The run also skips three
//! hours (the extension request then covers the gap) and loses the backend for a cycle
//! (both report no data, and the next cycles agree again).

use super::{SPECS, at, fixture};
use crate::common::measurements::{bits, client, every_slo};
use crate::common::prometheus::Prometheus;
use burnrate::daemon::cycle::{CycleMeasurer, EvaluationMode};
use burnrate::engine::evaluate::evaluate_groups;
use burnrate::engine::hysteresis::StateStore;
use burnrate::promql::Flavor;
use burnrate::spec::load_paths;
use std::sync::Arc;

#[test]
fn incremental_evaluation_matches_direct_queries_at_every_cycle() {
    let mut prom = Prometheus::start(&fixture().blocks);
    let report = load_paths(&[std::path::PathBuf::from(SPECS)]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    let specs = Arc::new(report.specs);
    let slos = every_slo(&specs);
    let incremental_client = client(&prom.url());
    let direct_client = client(&prom.url());
    let mut incremental = CycleMeasurer::new(
        incremental_client.clone(),
        specs.clone(),
        slos.clone(),
        EvaluationMode::Incremental,
        Flavor::Prometheus2,
        50,
        4,
    );
    // Batches of 7 dimensions: requests that mix SLOs, and a last one that does not.
    let mut direct = CycleMeasurer::new(
        direct_client,
        specs.clone(),
        slos.clone(),
        EvaluationMode::Direct,
        Flavor::Prometheus2,
        7,
        4,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Every 181 s (so cycles drift across the 15 s scrape grid) from 08:00 to 23:00 on the
    // history's last day, except 12:00-15:00 which is skipped as a stalled daemon would.
    let mut times = Vec::new();
    let mut t = at(3, 8, 0) * 1000 + 7_000;
    while t < at(3, 23, 0) * 1000 {
        if !(at(3, 12, 0) * 1000..at(3, 15, 0) * 1000).contains(&t) {
            times.push(t);
        }
        t += 181_000;
    }
    let outage_cycle = times.len() * 2 / 3;

    let (mut inc_state, mut direct_state) = (StateStore::default(), StateStore::default());
    let mut mismatches = Vec::new();
    let (mut local_dims, mut direct_dims, mut extension_requests, mut cycles) = (0, 0, 0, 0);
    let mut seed_requests = 0;
    for (n, &t) in times.iter().enumerate() {
        if n == outage_cycle {
            prom.kill();
        }
        let (inc, inc_report) = rt.block_on(incremental.measure(t));
        let (dir, _) = rt.block_on(direct.measure(t));
        if n == outage_cycle {
            for m in inc.iter().chain(&dir) {
                assert!(
                    m.iter().all(|(_, r)| r.is_err()),
                    "no backend, yet a measurement"
                );
            }
            prom.restart();
            continue;
        }
        if n == 0 {
            seed_requests = inc_report.traffic.requests;
        } else {
            extension_requests += inc_report.traffic.requests;
            cycles += 1;
        }
        local_dims += inc_report.local;
        direct_dims += inc_report.direct;
        for (((service, slo), a), b) in incremental.slos().zip(&inc).zip(&dir) {
            if bits(a) != bits(b) {
                mismatches.push(format!(
                    "t={t} {}/{}:\n  incremental {:?}\n  direct      {:?}",
                    service.service, slo.name, a, b
                ));
            }
            let ea = evaluate_groups(service, slo, t, a.clone(), &mut inc_state).evals;
            let eb = evaluate_groups(service, slo, t, b.clone(), &mut direct_state).evals;
            assert_eq!(
                serde_json::to_value(&ea).unwrap(),
                serde_json::to_value(&eb).unwrap(),
                "evaluations differ at {t} for {}/{}",
                service.service,
                slo.name
            );
        }
    }
    eprintln!(
        "{} cycles: {local_dims} dimensions computed locally, {direct_dims} queried directly; \
         seed {seed_requests} requests, then {:.1} requests per cycle",
        times.len(),
        extension_requests as f64 / cycles.max(1) as f64
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} SLO cycles differ; first ones:\n{}",
        mismatches.len(),
        times.len() * slos.len(),
        mismatches[..mismatches.len().min(10)].join("\n")
    );
    // Every dimension, the raw-PromQL SLI (billing's error dimension) included, is
    // computed locally by burnrate's evaluator once the history is seeded.
    assert_eq!(direct_dims, 0, "dimensions queried directly");
    assert!(
        local_dims > 10 * times.len(),
        "local dimensions: {local_dims}"
    );
}
