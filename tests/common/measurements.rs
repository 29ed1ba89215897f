//! Measurements compared exactly: the daemon's incremental and direct measurers must agree
//! bit for bit, group by group; and the measurers such a comparison builds.

use burnrate::daemon::cycle::{CycleMeasurer, EvaluationMode, SloMeasurements};
use burnrate::engine::Measurement;
use burnrate::promql::Flavor;
use burnrate::spec::ServiceSpec;
use std::sync::Arc;

/// Every number of one SLO's measurements as bits, per group (buckets sorted), so two can
/// be compared exactly.
pub fn bits(m: &SloMeasurements) -> Vec<String> {
    let mut out = Vec::new();
    for (dim, result) in m {
        let grouped = match result {
            // Both sides failing counts as agreement; their messages may differ.
            Err(_) => {
                out.push(format!("{} error", dim.as_str()));
                continue;
            }
            Ok(grouped) => grouped,
        };
        for (group, measurement) in &grouped.0 {
            match measurement {
                Measurement::Error(windows) => {
                    for (i, w) in windows.iter().enumerate() {
                        out.push(format!(
                            "{group:?} error[{i}] bad={:?} total={:?}",
                            w.bad.map(f64::to_bits),
                            w.total.map(f64::to_bits)
                        ));
                    }
                }
                Measurement::Latency(windows) => {
                    for (i, w) in windows.iter().enumerate() {
                        let mut buckets: Vec<(u64, u64)> = w
                            .buckets
                            .iter()
                            .map(|b| (b.le.to_bits(), b.rate.to_bits()))
                            .collect();
                        buckets.sort();
                        out.push(format!(
                            "{group:?} latency[{i}] count={:?} buckets={buckets:?}",
                            w.count.map(f64::to_bits)
                        ));
                    }
                }
            }
        }
    }
    out
}

/// A client for comparing measurers: a short timeout and no retries, so a failure shows as
/// one instead of being waited out.
pub fn client(url: &str) -> burnrate::backend::PromClient {
    let mut config = burnrate::backend::ClientConfig::new(url);
    config.timeout = std::time::Duration::from_secs(10);
    config.retries = 0;
    burnrate::backend::PromClient::new(config).unwrap()
}

/// Every SLO of the loaded specs, as the `(service, slo)` indices a `CycleMeasurer` takes.
pub fn every_slo(specs: &[burnrate::spec::ServiceSpec]) -> Vec<(usize, usize)> {
    specs
        .iter()
        .enumerate()
        .flat_map(|(s, svc)| (0..svc.slos.len()).map(move |i| (s, i)))
        .collect()
}

/// A measurer of every SLO of `specs` through `client` (a Prometheus 2), `batch` dimensions
/// to a request: the incremental and the direct one of a comparison differ only in `mode`
/// (and batching, which must not matter).
pub fn cycle_measurer(
    client: burnrate::backend::PromClient,
    specs: &Arc<Vec<ServiceSpec>>,
    mode: EvaluationMode,
    batch: usize,
) -> CycleMeasurer {
    CycleMeasurer::new(
        client,
        specs.clone(),
        every_slo(specs),
        mode,
        Flavor::Prometheus2,
        batch,
        2,
    )
}
