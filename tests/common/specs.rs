//! Loaded specs as tests compare them: loading paths that must be valid, and what a spec
//! means field by field (the spec types carry evaluation caches, so two loads are compared
//! through this projection, keyed by service and SLO).

use burnrate::spec::{ServiceSpec, load_paths};
use std::path::PathBuf;

/// The specs of `paths`, which must load without an error.
pub fn load_specs(paths: &[&str]) -> Vec<ServiceSpec> {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let report = load_paths(&paths);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    report.specs
}

/// One line per SLO with everything it decides by, sorted.
pub fn meaning(specs: &[ServiceSpec]) -> Vec<String> {
    let mut out: Vec<String> = specs
        .iter()
        .flat_map(|s| {
            s.slos.iter().map(move |slo| {
                format!(
                    "{}/{} labels={:?} description={:?} period={} min_events={:?} for={} hold={} group_by={:?} error={:?} latency={:?}",
                    s.service,
                    slo.name,
                    s.labels,
                    slo.description,
                    slo.period,
                    slo.min_events,
                    slo.for_,
                    slo.hold,
                    slo.group_by,
                    slo.error,
                    slo.latency
                )
            })
        })
        .collect();
    out.sort();
    out
}
