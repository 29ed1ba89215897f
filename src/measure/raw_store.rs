//! Raw samples fetched from the backend, for local evaluation: once for a backtest
//! ([`fetch_once`]), or kept and extended cycle after cycle by the daemon ([`LocalHistory`]),
//! so each cycle asks the backend only for the samples scraped since the previous one
//! instead of re-reading 30 days for the budget window.
//!
//! The daemon's history is seeded once per fetch group with the raw samples of the group's
//! reach (`SEL[w]`, chunked by day), then extended every cycle with a short request that
//! overlaps the previous one (samples scraped just before a request may land in the backend
//! just after it). Every dimension whose query is inside the evaluator's subset (selector
//! SLIs and raw PromQL alike) is then evaluated locally by `measure::local`. A group whose
//! request fails is not used for that cycle: the dimensions reading it are measured with
//! direct queries, and the next success fills the gap; a gap longer than the group's reach
//! (or a restart) seeds it again.

use super::fetch_plan::{FetchGroup, plan_fetches};
use super::local::measure_instant;
use super::plan::MeasurePlan;
use crate::backend::PromClient;
use crate::engine::{Measurement, SourceError};
use crate::promql::{Flavor, Labels, MemStorage, SelectorNeed, SeriesSamples, Storage};
use crate::spec::selector::{MatchOp, Matcher, Selector};
use crate::spec::{Dimension, SloSpec};
use promql_parser::label::{MatchOp as PromMatchOp, Matchers};
use std::collections::HashMap;

/// How far each extension request reaches back before the previous one: a sample scraped
/// just before a request can become visible just after it.
pub(crate) const OVERLAP_MS: i64 = 2 * 60 * 1000;

/// The selector a need reads, as a burnrate selector (what fetch requests are written in).
fn selector_of(matchers: &Matchers) -> Selector {
    let mut metric = None;
    let mut out = Vec::new();
    for m in &matchers.matchers {
        let op = match &m.op {
            PromMatchOp::Equal => MatchOp::Equal,
            PromMatchOp::NotEqual => MatchOp::NotEqual,
            PromMatchOp::Re(_) => MatchOp::RegexMatch,
            PromMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
        };
        if metric.is_none() && m.name == "__name__" && op == MatchOp::Equal && !m.value.is_empty() {
            metric = Some(m.value.clone());
        } else {
            out.push(Matcher::new(m.name.clone(), op, m.value.clone()));
        }
    }
    Selector {
        metric,
        matchers: out,
    }
}

/// A canonical key of a selector's matchers: the same selector in two queries is one key.
fn matchers_key(matchers: &Matchers) -> String {
    let mut parts: Vec<String> = matchers
        .matchers
        .iter()
        .map(|m| format!("{}{}{:?}", m.name, m.op, m.value))
        .collect();
    parts.sort();
    parts.join(",")
}

/// Every raw sample `needs` read over evaluations from `start_ms` to `end_ms`, fetched once
/// (each selector from `start_ms` minus its reach). A series two selectors match is kept once.
pub(crate) async fn fetch_once(
    client: &PromClient,
    needs: &[SelectorNeed],
    start_ms: i64,
    end_ms: i64,
) -> Result<MemStorage, SourceError> {
    let mut storage = MemStorage::new();
    let mut seen: std::collections::HashSet<Labels> = std::collections::HashSet::new();
    for need in needs {
        let selector = selector_of(&need.matchers).to_promql();
        let result = client
            .raw_samples(&selector, start_ms - need.reach_ms, end_ms)
            .await?;
        for s in result.series {
            if seen.insert(s.labels.clone()) {
                storage.push_series(s.labels, SeriesSamples::from_samples(s.points));
            }
        }
    }
    Ok(storage)
}

/// The series one fetch group brings in.
#[derive(Debug, Default)]
struct GroupState {
    fetch: FetchGroup,
    storage: MemStorage,
    /// The evaluation time of the last successful request; `None` before the seed.
    synced_to: Option<i64>,
}

/// One SLO's plan and, per dimension evaluated locally, the groups its selectors read.
struct SloLocal {
    plan: MeasurePlan,
    groups: [Option<Vec<usize>>; 2],
}

/// The groups' series as one storage: each selector reads the group that fetches it, as if
/// the backend answered it.
struct Routed<'a> {
    groups: &'a [GroupState],
    route: &'a HashMap<String, usize>,
}

impl Storage for Routed<'_> {
    fn select(&self, matchers: &Matchers) -> Vec<(&Labels, &SeriesSamples)> {
        match self.route.get(&matchers_key(matchers)) {
            Some(&g) => self.groups[g].storage.select(matchers),
            None => Vec::new(),
        }
    }
}

/// The raw history of every locally computable SLO dimension of a set of specs.
pub(crate) struct LocalHistory {
    groups: Vec<GroupState>,
    /// Selector key to the group that fetches it.
    route: HashMap<String, usize>,
    /// Per SLO, in the order given to `new`.
    slos: Vec<SloLocal>,
    flavor: Flavor,
}

impl LocalHistory {
    /// Plans the fetches for `slos`; nothing is fetched yet. `measure` names an SLO by its
    /// position here.
    pub(crate) fn new<'a>(
        slos: impl IntoIterator<Item = &'a SloSpec>,
        flavor: Flavor,
    ) -> LocalHistory {
        let mut keys: HashMap<String, usize> = HashMap::new();
        let mut inputs: Vec<(Selector, i64)> = Vec::new();
        let mut locals = Vec::new();
        for slo in slos {
            let plan = MeasurePlan::new(slo);
            let mut groups: [Option<Vec<usize>>; 2] = [None, None];
            for dq in plan.dims() {
                let Ok(query) = &dq.local else { continue };
                let mut members = Vec::new();
                for need in query.selectors_for(flavor, None) {
                    let key = matchers_key(&need.matchers);
                    let i = *keys.entry(key).or_insert_with(|| {
                        inputs.push((selector_of(&need.matchers), 0));
                        inputs.len() - 1
                    });
                    inputs[i].1 = inputs[i].1.max(need.reach_ms);
                    members.push(i);
                }
                groups[dq.dimension.index()] = Some(members);
            }
            locals.push(SloLocal { plan, groups });
        }
        let fetches = plan_fetches(&inputs);
        let mut group_of = vec![0; inputs.len()];
        for (g, fetch) in fetches.iter().enumerate() {
            for &m in &fetch.members {
                group_of[m] = g;
            }
        }
        for local in &mut locals {
            for members in local.groups.iter_mut().flatten() {
                for m in members.iter_mut() {
                    *m = group_of[*m];
                }
                members.sort_unstable();
                members.dedup();
            }
        }
        LocalHistory {
            groups: fetches
                .into_iter()
                .map(|fetch| GroupState {
                    fetch,
                    ..GroupState::default()
                })
                .collect(),
            route: keys.into_iter().map(|(k, i)| (k, group_of[i])).collect(),
            slos: locals,
            flavor,
        }
    }

    /// Whose semantics the local evaluation follows.
    pub(crate) fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Raw samples held.
    pub(crate) fn held_samples(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|g| g.storage.iter())
            .map(|(_, s)| s.len())
            .sum()
    }

    /// Brings every group up to `at_ms`: the seed for new groups and for groups whose last
    /// success is older than their reach, a short overlapping request for the others.
    ///
    /// Returns an error when every request failed because the backend is unreachable,
    /// timing out or failing: direct queries this cycle would only wait for the same failure.
    pub(crate) async fn refresh(
        &mut self,
        client: &PromClient,
        at_ms: i64,
        concurrency: usize,
    ) -> Option<SourceError> {
        let permits = tokio::sync::Semaphore::new(concurrency.max(1));
        let answers =
            futures::future::join_all(self.groups.iter().enumerate().map(|(g, group)| {
                let seed_from = at_ms - group.fetch.horizon_ms;
                let (seed, from) = match group.synced_to {
                    Some(t) if t <= at_ms && t - OVERLAP_MS > seed_from => (false, t - OVERLAP_MS),
                    _ => (true, seed_from),
                };
                let (permits, selector) = (&permits, &group.fetch.selector);
                async move {
                    let _permit = permits.acquire().await.expect("never closed");
                    (g, seed, client.raw_samples(selector, from, at_ms).await)
                }
            }))
            .await;
        let mut failed = 0;
        let mut unavailable = None;
        let mut every_failure_unavailable = true;
        for (g, seed, answer) in answers {
            let group = &mut self.groups[g];
            match answer {
                Ok(result) => {
                    if seed {
                        group.storage = MemStorage::new();
                    }
                    for series in result.series {
                        let held = group.storage.series_mut(&series.labels);
                        for (t, v) in series.points {
                            held.push(t, v);
                        }
                    }
                    let keep_from = at_ms - group.fetch.horizon_ms;
                    for (_, held) in group.storage.iter_mut() {
                        held.forget_before(keep_from);
                    }
                    group.synced_to = Some(at_ms);
                }
                Err(e) => {
                    failed += 1;
                    if !e.is_unavailable() {
                        every_failure_unavailable = false;
                    } else if unavailable.is_none() {
                        unavailable = Some(e.clone());
                    }
                    tracing::debug!(selector = %group.fetch.selector, error = %e, "raw-sample request failed; direct queries this cycle");
                }
            }
        }
        unavailable.filter(|_| failed == self.groups.len() && every_failure_unavailable)
    }

    /// The rates of one dimension at `at_ms`, computed locally; `None` when its query is
    /// outside the evaluator's subset, its history is not current at `at_ms`, or the
    /// evaluation failed (then the caller asks the backend directly).
    pub(crate) fn measure(
        &self,
        index: usize,
        slo: &SloSpec,
        dimension: Dimension,
        at_ms: i64,
    ) -> Option<Measurement> {
        let local = self.slos.get(index)?;
        let groups = local.groups[dimension.index()].as_ref()?;
        if groups
            .iter()
            .any(|&g| self.groups[g].synced_to != Some(at_ms))
        {
            return None;
        }
        let view = Routed {
            groups: &self.groups,
            route: &self.route,
        };
        let dq = local.plan.dim(dimension)?;
        match measure_instant(dq, slo, &view, at_ms, self.flavor) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::debug!(slo = %slo.name, error = %e, "local evaluation failed; direct query");
                None
            }
        }
    }
}
