//! One evaluation cycle's measurements for every SLO a daemon owns, at the least cost to the
//! backend: dimensions the incremental history covers are computed locally, the others are
//! asked for in batches. What comes out goes into the same `evaluate_slo` as `check`'s.

use crate::backend::PromClient;
use crate::backend::client::TrafficSnapshot;
use crate::backend::flavor::{self, FlavorArg};
use crate::duration::PromDuration;
use crate::engine::explain::ExemplarSeries;
use crate::engine::{Evaluation, Grouped, SourceError};
use crate::measure::direct::{BatchItem, measure_batched};
use crate::measure::drilldown::{Drilldown, backend_measure, complete};
use crate::measure::plan::DimensionQuery;
use crate::measure::plan::WindowSplit;
pub use crate::measure::raw_store::DEFAULT_MAX_HISTORY_BYTES;
use crate::measure::raw_store::LocalHistory;
use crate::promql::Flavor;
use crate::spec::{Dimension, ServiceSpec, SloSpec};
use std::sync::{Arc, OnceLock};

/// How the daemon measures (`--evaluation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EvaluationMode {
    /// Keep raw samples between cycles and compute windows locally; fall back to direct
    /// queries for what the history does not cover.
    #[default]
    Incremental,
    /// Ask the backend for every window every cycle (what recording rules do).
    Direct,
}

/// The measurements of one SLO: one entry per dimension, each per group.
pub type SloMeasurements = Vec<(Dimension, Result<Grouped, SourceError>)>;

/// What one cycle cost and how it was served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CycleReport {
    pub traffic: TrafficSnapshot,
    /// Dimensions computed from the local history.
    pub local: usize,
    /// Dimensions measured with direct queries (for some or all of their windows).
    pub direct: usize,
    /// Raw samples the local history holds after the cycle.
    pub held_samples: usize,
    /// Heap bytes those samples take.
    pub held_bytes: usize,
}

/// A dimension (some of) whose windows this cycle asks the backend for.
struct Pending<'a> {
    slo: usize,
    dim: usize,
    windows: &'a [PromDuration],
    /// The local part to merge the answer with, when the history measured the others.
    local: Option<(&'a WindowSplit, Grouped)>,
}

/// Measures a fixed list of SLOs cycle after cycle.
pub struct CycleMeasurer {
    client: PromClient,
    specs: Arc<Vec<ServiceSpec>>,
    /// `(service index, SLO index)` of every SLO measured.
    slos: Vec<(usize, usize)>,
    local: Option<LocalHistory>,
    /// Set while the backend's flavor is still to be asked (`--backend-flavor auto`): the
    /// local history waits for it, and those cycles are measured directly.
    detect: Option<Arc<OnceLock<Flavor>>>,
    /// Dimensions per batched request.
    batch: usize,
    concurrency: usize,
    /// `--max-history-bytes`, kept for a history planned again for another flavor.
    history_budget: u64,
}

/// Breakdowns of one SLO from the local history where it holds them, else the backend;
/// exemplars from the backend.
struct CycleDrill<'a> {
    measurer: &'a CycleMeasurer,
    index: usize,
}

impl Drilldown for CycleDrill<'_> {
    async fn measure(&self, query: &DimensionQuery, at_ms: i64) -> Result<Grouped, SourceError> {
        let local = self
            .measurer
            .local
            .as_ref()
            .filter(|_| self.measurer.detect.is_none());
        match local.and_then(|l| l.measure_query(self.index, query, at_ms)) {
            Some(answer) => answer,
            None => backend_measure(&self.measurer.client, query, at_ms).await,
        }
    }

    async fn exemplars(
        &self,
        selector: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<ExemplarSeries>, SourceError> {
        self.measurer
            .client
            .exemplars(selector, start_ms, end_ms)
            .await
    }
}

/// The SLOs at `slos` with their service names, as the local history takes them.
fn owned<'a>(
    specs: &'a [ServiceSpec],
    slos: &'a [(usize, usize)],
) -> impl Iterator<Item = (&'a str, &'a SloSpec)> {
    slos.iter()
        .map(|&(s, i)| (specs[s].service.as_str(), &specs[s].slos[i]))
}

impl CycleMeasurer {
    pub fn new(
        client: PromClient,
        specs: Arc<Vec<ServiceSpec>>,
        slos: Vec<(usize, usize)>,
        mode: EvaluationMode,
        flavor: Flavor,
        batch: usize,
        concurrency: usize,
    ) -> CycleMeasurer {
        let local = (mode == EvaluationMode::Incremental)
            .then(|| LocalHistory::new(owned(&specs, &slos), flavor, DEFAULT_MAX_HISTORY_BYTES));
        CycleMeasurer {
            client,
            specs,
            slos,
            local,
            detect: None,
            batch,
            concurrency,
            history_budget: DEFAULT_MAX_HISTORY_BYTES,
        }
    }

    /// The same measurer, its local history held within `bytes` (`--max-history-bytes`).
    pub fn with_history_budget(mut self, bytes: u64) -> Self {
        if let Some(local) = &mut self.local {
            local.set_budget(bytes);
        }
        self.history_budget = bytes;
        self
    }

    /// The same measurer, its local evaluation following `arg`: a flavor given, or (`auto`)
    /// the one `detected` holds, asked of the backend by the first cycle that reaches it.
    /// Only incremental evaluation computes locally, so only it asks.
    pub(crate) fn with_flavor_from(
        mut self,
        arg: FlavorArg,
        detected: Arc<OnceLock<Flavor>>,
    ) -> Self {
        if self.local.is_some() {
            match arg.fixed().or_else(|| detected.get().copied()) {
                Some(flavor) => self.use_flavor(flavor),
                None => self.detect = Some(detected),
            }
        }
        self
    }

    /// Asks the backend for its flavor if it is still unknown; whether it is known now.
    async fn flavor_known(&mut self) -> bool {
        let Some(detected) = &self.detect else {
            return true;
        };
        let flavor = match detected.get() {
            Some(f) => *f,
            None => match flavor::resolve(FlavorArg::Auto, &self.client).await {
                Some(f) => *detected.get_or_init(|| f),
                None => return false,
            },
        };
        self.use_flavor(flavor);
        self.detect = None;
        true
    }

    /// Replans the (not yet seeded) local history for `flavor` if it was planned for another:
    /// nothing is fetched before the flavor is known, and its reach decides what is.
    fn use_flavor(&mut self, flavor: Flavor) {
        if self.local.as_ref().is_some_and(|l| l.flavor() != flavor) {
            self.local = Some(LocalHistory::new(
                owned(&self.specs, &self.slos),
                flavor,
                self.history_budget,
            ));
        }
    }

    /// Per SLO and dimension whose longest windows are measured directly to keep the local
    /// history within its budget: how many windows.
    pub fn history_fallbacks(&self) -> Vec<(&ServiceSpec, &SloSpec, Dimension, usize)> {
        let Some(local) = &self.local else {
            return Vec::new();
        };
        local
            .fallbacks()
            .map(|(n, dim, windows)| {
                let (s, i) = self.slos[n];
                (&self.specs[s], &self.specs[s].slos[i], dim, windows)
            })
            .collect()
    }

    /// Requests in flight at most.
    pub(crate) fn concurrency(&self) -> usize {
        self.concurrency.max(1)
    }

    pub fn slos(&self) -> impl Iterator<Item = (&ServiceSpec, &SloSpec)> {
        self.slos
            .iter()
            .map(|&(s, i)| (&self.specs[s], &self.specs[s].slos[i]))
    }

    /// Completes the evaluations at `at_ms` of the SLO at `index` in `slos()`: a calendar
    /// period's budget, contributors and exemplars (`measure::drilldown::complete`).
    pub async fn complete(&self, index: usize, evals: &mut [Evaluation], at_ms: i64) {
        let (s, i) = self.slos[index];
        let drill = CycleDrill {
            measurer: self,
            index,
        };
        complete(&drill, &self.specs[s].slos[i], evals, at_ms).await;
    }

    /// Every SLO's measurements at `at_ms`, in the order of `slos()`.
    pub async fn measure(&mut self, at_ms: i64) -> (Vec<SloMeasurements>, CycleReport) {
        let before = self.client.traffic().snapshot();
        let mut unavailable = None;
        let local_ready = self.flavor_known().await;
        if let Some(local) = self.local.as_mut().filter(|_| local_ready) {
            unavailable = local.refresh(&self.client, at_ms, self.concurrency).await;
        }
        let mut out: Vec<SloMeasurements> = Vec::with_capacity(self.slos.len());
        let mut direct: Vec<Pending<'_>> = Vec::new();
        let mut report = CycleReport::default();
        let local = self.local.as_ref().filter(|_| local_ready);
        for (n, &(s, i)) in self.slos.iter().enumerate() {
            let slo = &self.specs[s].slos[i];
            let mut dims = Vec::new();
            for dim in slo.dimensions() {
                let pending = |windows, local| Pending {
                    slo: n,
                    dim: dims.len(),
                    windows,
                    local,
                };
                match local.and_then(|l| l.measure(n, slo, dim, at_ms)) {
                    Some(part) if part.direct.is_empty() => {
                        report.local += 1;
                        dims.push((dim, Ok(part.measurement)));
                        continue;
                    }
                    Some(part) => {
                        direct.push(pending(part.direct, Some((part.split, part.measurement))));
                    }
                    None => direct.push(pending(slo.measured_windows(dim), None)),
                }
                dims.push((dim, Err(SourceError::failed("not measured"))));
            }
            out.push(dims);
        }
        report.direct = direct.len();
        let items: Vec<BatchItem<'_>> = direct
            .iter()
            .map(|p| {
                let (s, i) = self.slos[p.slo];
                BatchItem {
                    slo: &self.specs[s].slos[i],
                    dimension: out[p.slo][p.dim].0,
                    windows: p.windows,
                }
            })
            .collect();
        let measured = match unavailable {
            // The backend just failed every raw-sample request after its retries: asking
            // it again would double the time of a cycle that cannot succeed.
            Some(e) => items.iter().map(|_| Err(e.clone())).collect(),
            None => {
                measure_batched(&self.client, &items, at_ms, self.batch, self.concurrency).await
            }
        };
        for (p, m) in direct.into_iter().zip(measured) {
            out[p.slo][p.dim].1 = match p.local {
                None => m,
                Some((split, local)) => m.and_then(|m| {
                    split.merge_grouped(local, m).ok_or_else(|| {
                        SourceError::failed(
                            "the local and direct parts measured different dimensions",
                        )
                    })
                }),
            };
        }
        report.traffic = self.client.traffic().snapshot().since(before);
        report.held_samples = self.local.as_ref().map_or(0, LocalHistory::held_samples);
        report.held_bytes = self.local.as_ref().map_or(0, LocalHistory::held_bytes);
        (out, report)
    }
}
