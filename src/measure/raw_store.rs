//! Raw samples fetched from the backend, for local evaluation: once for a backtest
//! ([`fetch_once`]), or kept and extended cycle after cycle by the daemon ([`LocalHistory`]),
//! so each cycle asks the backend only for the samples scraped since the previous one
//! instead of re-reading 30 days for the budget window.
//!
//! The daemon's history is seeded once per fetch group with the raw samples of the group's
//! reach, then extended every cycle with a short request that overlaps the previous one
//! (samples scraped just before a request may land in the backend just after it). A seed
//! first asks how many samples the reach holds, day by day (`density`), and requests only
//! the days that hold some, in chunks of about [`TARGET_SAMPLES_PER_REQUEST`] samples, each
//! pushed into the history as it arrives. Every dimension whose query is inside the
//! evaluator's subset (selector SLIs and raw PromQL alike) is then evaluated locally by
//! `measure::local`. A group whose request fails is not used for that cycle: the dimensions
//! reading it are measured with direct queries, and the next success fills the gap; a gap
//! longer than the group's reach (or a restart) seeds it again.
//!
//! The history is held within a budget (`--max-history-bytes`, in `heap_bytes` terms). The
//! day counts say what a plan would hold before it is fetched; when that is over the
//! budget, the dimensions with the longest windows give their longest windows to the backend
//! (direct queries, merged with the local part by `plan::WindowSplit`), which shortens what
//! their selectors reach, until the plan fits; a dimension left with no window is measured
//! directly as a whole. A seed that outgrows the budget anyway is dropped as it crosses it,
//! and a history grown over it (a young history filling its reach) is planned again, so
//! what is held stays bounded by the flag.

use super::density::{
    DAY_MS, DayCounts, Grid, Probe, ProbeCounts, SelectorCounts, TARGET_SAMPLES_PER_REQUEST,
    fixed_spans, planned_spans, samples_since,
};
use super::fetch_plan::{FetchGroup, plan_fetches};
use super::local::measure_instant;
use super::plan::{DimensionQuery, WindowSplit};
use crate::backend::PromClient;
use crate::duration::PromDuration;
use crate::engine::{Grouped, SourceError};
use crate::promql::{Flavor, Labels, MemStorage, SelectorNeed, SeriesSamples, Storage};
use crate::spec::selector::{MatchOp, Matcher, Selector};
use crate::spec::{Dimension, SloSpec};
use promql_parser::label::{MatchOp as PromMatchOp, Matchers};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How far each extension request reaches back before the previous one: a sample scraped
/// just before a request can become visible just after it.
pub(crate) const OVERLAP_MS: i64 = 2 * 60 * 1000;

/// `--max-history-bytes` unless given: 512 MiB, about 1,500 series of 30 days of 15 s
/// scrapes at 2 bytes a sample, and within a small container's memory.
pub const DEFAULT_MAX_HISTORY_BYTES: u64 = 512 << 20;

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

/// The day counts of `members`' samples in `[from, to]`, asked of the backend with one
/// `query_range`; `None` when the probe failed or its answer is not trusted (the caller then
/// fetches day by day, as without a probe).
async fn probe_counts(
    client: &PromClient,
    members: &[&Selector],
    from_ms: i64,
    to_ms: i64,
) -> Option<ProbeCounts> {
    let grid = Grid::new(from_ms, to_ms);
    let probe = Probe::new(members);
    match client
        .range_on_grid(&probe.query, grid.first_end_ms, grid.to_ms, DAY_MS)
        .await
    {
        Ok(answer) => {
            let counts = probe.read(&grid, &answer.series);
            if counts.is_none() {
                tracing::debug!(query = %probe.query, "unexpected density probe answer; fetching day by day");
            }
            counts
        }
        Err(e) => {
            tracing::debug!(error = %e, "density probe failed; fetching day by day");
            None
        }
    }
}

/// An empty storage for the daemon's history, in the encoding it holds for the SLO's
/// period (`promql::chunk`: compact blocks); the byte estimates are calibrated on it too.
fn history_storage() -> MemStorage {
    MemStorage::compact()
}

/// Appends points to a held series, returning how many heap bytes it grew by.
fn push_points(held: &mut SeriesSamples, points: Vec<(i64, f64)>) -> usize {
    let before = held.heap_bytes();
    for (t, v) in points {
        held.push(t, v);
    }
    held.heap_bytes().saturating_sub(before)
}

/// Every raw sample `needs` read over evaluations from `start_ms` to `end_ms`, fetched once
/// (each selector from `start_ms` minus its reach; more than a day is probed for its
/// density first). A series two selectors match is kept once, from the first.
pub(crate) async fn fetch_once(
    client: &PromClient,
    needs: &[SelectorNeed],
    start_ms: i64,
    end_ms: i64,
) -> Result<MemStorage, SourceError> {
    let mut storage = MemStorage::new();
    let mut owner: HashMap<Labels, usize> = HashMap::new();
    for (i, need) in needs.iter().enumerate() {
        let selector = selector_of(&need.matchers);
        let from = start_ms - need.reach_ms;
        let counts = if end_ms - from > DAY_MS {
            probe_counts(client, &[&selector], from, end_ms).await
        } else {
            None
        };
        let spans = match &counts {
            Some(c) => planned_spans(from, end_ms, &c.total, TARGET_SAMPLES_PER_REQUEST),
            None => fixed_spans(from, end_ms),
        };
        client
            .raw_samples_each(&selector.to_promql(), &spans, |series| {
                if *owner.entry(series.labels.clone()).or_insert(i) == i {
                    push_points(storage.series_mut(&series.labels), series.points);
                }
                ControlFlow::Continue(())
            })
            .await?;
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
    /// The group's samples per day from a probe at `.0`, for planning its seed's requests.
    probed: Option<(i64, DayCounts)>,
    /// Keys of the member selectors its storage holds the series of, sorted.
    member_keys: Vec<String>,
    /// Series the merged selector brings that no member reads (it matches a superset): not
    /// held, or a window moved to the backend would not free their memory.
    unwanted: HashSet<Labels>,
}

/// Whether any of `members` selects a series with these labels.
fn wanted(labels: &Labels, members: &[&Matchers]) -> bool {
    let mut one = MemStorage::new();
    one.push_series(labels.clone(), SeriesSamples::new());
    members.iter().any(|m| !one.select(m).is_empty())
}

impl GroupState {
    /// Whether the request at `at_ms` is a seed, and where it starts.
    fn next_fetch(&self, at_ms: i64) -> (bool, i64) {
        let seed_from = at_ms - self.fetch.horizon_ms;
        match self.synced_to {
            Some(t) if t <= at_ms && t - OVERLAP_MS > seed_from => (false, t - OVERLAP_MS),
            _ => (true, seed_from),
        }
    }
}

/// A selector some local query reads, with the longest reach any of them needs.
#[derive(Debug, Clone)]
struct Input {
    key: String,
    selector: Selector,
    matchers: Matchers,
    reach_ms: i64,
}

/// A selector one local query reads, and how far back.
#[derive(Debug)]
struct Need {
    key: String,
    selector: Selector,
    matchers: Matchers,
    reach_ms: i64,
}

/// One SLO dimension measured from the history: all its windows, or the shorter ones.
#[derive(Debug)]
struct DimLocal {
    /// The query of the windows measured locally.
    query: DimensionQuery,
    split: WindowSplit,
    /// The windows the backend measures (the split's other part).
    direct: Vec<PromDuration>,
    /// What the query reads.
    needs: Vec<Need>,
    /// The groups it reads.
    groups: Vec<usize>,
}

impl DimLocal {
    /// `None` when the split leaves no window, or its query is outside the subset.
    fn new(
        slo: &SloSpec,
        dimension: Dimension,
        split: WindowSplit,
        flavor: Flavor,
    ) -> Option<Self> {
        if split.is_empty() {
            return None;
        }
        let (local, direct) = split.parts(slo.measured_windows(dimension));
        let query = DimensionQuery::new(slo, dimension, &local);
        let needs = query
            .local
            .as_ref()
            .ok()?
            .selectors_for(flavor, None)
            .into_iter()
            .map(|n| Need {
                key: matchers_key(&n.matchers),
                selector: selector_of(&n.matchers),
                matchers: n.matchers,
                reach_ms: n.reach_ms,
            })
            .collect();
        Some(DimLocal {
            query,
            split,
            direct,
            needs,
            groups: Vec::new(),
        })
    }
}

/// One SLO and, per dimension evaluated locally, how.
struct SloLocal {
    service: String,
    slo: SloSpec,
    dims: [Option<DimLocal>; 2],
    /// Per dimension: windows measured directly to keep the history within its budget.
    fallback: [usize; 2],
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

/// What the history answers for one dimension at one instant.
pub(crate) struct LocalPart<'a> {
    /// The rates of the windows measured locally (all of them when `direct` is empty), per
    /// group.
    pub(crate) measurement: Grouped,
    pub(crate) split: &'a WindowSplit,
    /// The windows the backend must measure; the two merge with `split.merge`.
    pub(crate) direct: &'a [PromDuration],
}

/// The raw history of every locally computable SLO dimension of a set of specs.
pub(crate) struct LocalHistory {
    groups: Vec<GroupState>,
    /// Selector key to the group that fetches it.
    route: HashMap<String, usize>,
    /// The selectors of the current plan, as the groups' members number them.
    inputs: Vec<Input>,
    /// Per SLO, in the order given to `new`.
    slos: Vec<SloLocal>,
    flavor: Flavor,
    /// Bytes the held samples may take (`heap_bytes`).
    budget: u64,
    /// Per selector key, its samples per day from the latest probe that counted it (at `.0`).
    density: HashMap<String, (i64, SelectorCounts)>,
}

impl LocalHistory {
    /// Plans the fetches for `slos` (service name, SLO) with every window local; nothing is
    /// fetched yet. `measure` names an SLO by its position here.
    pub(crate) fn new<'a>(
        slos: impl IntoIterator<Item = (&'a str, &'a SloSpec)>,
        flavor: Flavor,
        budget: u64,
    ) -> LocalHistory {
        let slos = slos
            .into_iter()
            .map(|(service, slo)| {
                let mut dims: [Option<DimLocal>; 2] = [None, None];
                for dimension in slo.dimensions() {
                    let split = WindowSplit::all(slo.measured_windows(dimension).len());
                    dims[dimension.index()] = DimLocal::new(slo, dimension, split, flavor);
                }
                SloLocal {
                    service: service.to_string(),
                    slo: slo.clone(),
                    dims,
                    fallback: [0, 0],
                }
            })
            .collect();
        let mut history = LocalHistory {
            groups: Vec::new(),
            route: HashMap::new(),
            inputs: Vec::new(),
            slos,
            flavor,
            budget,
            density: HashMap::new(),
        };
        history.replan();
        history
    }

    /// Whose semantics the local evaluation follows.
    pub(crate) fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// A new budget, used from the next refresh on.
    pub(crate) fn set_budget(&mut self, bytes: u64) {
        self.budget = bytes;
    }

    /// Raw samples held.
    pub(crate) fn held_samples(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|g| g.storage.iter())
            .map(|(_, s)| s.len())
            .sum()
    }

    /// Heap bytes the held samples take.
    pub(crate) fn held_bytes(&self) -> usize {
        self.groups.iter().map(|g| g.storage.heap_bytes()).sum()
    }

    /// Per SLO (by position) and dimension, how many windows are measured directly to keep
    /// the history within its budget (only those with some).
    pub(crate) fn fallbacks(&self) -> impl Iterator<Item = (usize, Dimension, usize)> + '_ {
        self.slos.iter().enumerate().flat_map(|(i, slo)| {
            Dimension::ALL
                .into_iter()
                .filter(move |d| slo.fallback[d.index()] > 0)
                .map(move |d| (i, d, slo.fallback[d.index()]))
        })
    }

    /// Groups the selectors of every local dimension into fetches. A group whose selector
    /// and horizon stay keeps what it holds; the others start empty (and are seeded).
    fn replan(&mut self) {
        let mut keys: HashMap<String, usize> = HashMap::new();
        let mut inputs: Vec<Input> = Vec::new();
        for dim in self
            .slos
            .iter_mut()
            .flat_map(|s| s.dims.iter_mut().flatten())
        {
            dim.groups.clear();
            for need in &dim.needs {
                let i = *keys.entry(need.key.clone()).or_insert_with(|| {
                    inputs.push(Input {
                        key: need.key.clone(),
                        selector: need.selector.clone(),
                        matchers: need.matchers.clone(),
                        reach_ms: 0,
                    });
                    inputs.len() - 1
                });
                inputs[i].reach_ms = inputs[i].reach_ms.max(need.reach_ms);
                dim.groups.push(i);
            }
        }
        let planned: Vec<(Selector, i64)> = inputs
            .iter()
            .map(|i| (i.selector.clone(), i.reach_ms))
            .collect();
        let fetches = plan_fetches(&planned);
        let mut group_of = vec![0; inputs.len()];
        for (g, fetch) in fetches.iter().enumerate() {
            for &m in &fetch.members {
                group_of[m] = g;
            }
        }
        for dim in self
            .slos
            .iter_mut()
            .flat_map(|s| s.dims.iter_mut().flatten())
        {
            for m in dim.groups.iter_mut() {
                *m = group_of[*m];
            }
            dim.groups.sort_unstable();
            dim.groups.dedup();
        }
        let mut old: HashMap<(String, i64), GroupState> = self
            .groups
            .drain(..)
            .map(|g| ((g.fetch.selector.clone(), g.fetch.horizon_ms), g))
            .collect();
        self.groups = fetches
            .into_iter()
            .map(|fetch| {
                let mut member_keys: Vec<String> = fetch
                    .members
                    .iter()
                    .map(|&m| inputs[m].key.clone())
                    .collect();
                member_keys.sort_unstable();
                let kept = old
                    .remove(&(fetch.selector.clone(), fetch.horizon_ms))
                    .filter(|g| member_keys.iter().all(|k| g.member_keys.contains(k)));
                match kept {
                    // What it holds serves its members; series only the members that left
                    // read go (a new member would lack its history: that group is seeded).
                    Some(mut kept) => {
                        let members: Vec<&Matchers> =
                            fetch.members.iter().map(|&m| &inputs[m].matchers).collect();
                        let unwanted = &mut kept.unwanted;
                        kept.storage.retain(|labels, _| {
                            let keep = wanted(labels, &members);
                            if !keep {
                                unwanted.insert(labels.clone());
                            }
                            keep
                        });
                        GroupState {
                            fetch,
                            member_keys,
                            ..kept
                        }
                    }
                    None => GroupState {
                        fetch,
                        member_keys,
                        ..GroupState::default()
                    },
                }
            })
            .collect();
        self.route = keys.into_iter().map(|(k, i)| (k, group_of[i])).collect();
        self.inputs = inputs;
    }

    /// How far what is held costs from what [`SeriesCost`] says it would (the data
    /// compresses better or worse than the calibration's counter); 1 before enough is held.
    fn cost_correction(&self) -> f64 {
        let cost = SeriesCost::calibrated();
        let (mut series, mut samples) = (0usize, 0usize);
        for (_, s) in self.groups.iter().flat_map(|g| g.storage.iter()) {
            series += 1;
            samples += s.len();
        }
        if samples < 10_000 {
            return 1.0;
        }
        (self.held_bytes() as f64 / cost.bytes(series as f64, samples as f64)).clamp(0.25, 4.0)
    }

    /// What the plan's selectors hold or would hold at `at_ms`, beside the SLOs' plans
    /// (which a fit changes while it reads the counts).
    fn counts(&mut self, at_ms: i64) -> (Counts<'_>, &mut [SloLocal]) {
        let correction = self.cost_correction();
        let LocalHistory {
            groups,
            route,
            inputs,
            density,
            slos,
            ..
        } = self;
        let counts = Counts::new(groups, route, inputs, density, correction, at_ms);
        (counts, slos)
    }

    /// Moves windows to the backend, longest first, until the plan's estimate is at most
    /// `target_bytes`, then replans and logs what moved; whether anything did.
    fn fit_budget(&mut self, at_ms: i64, target_bytes: f64) -> bool {
        let flavor = self.flavor;
        let (counts, slos) = self.counts(at_ms);
        let mut moved: Vec<(usize, Dimension)> = Vec::new();
        while counts.plan_bytes(slos) > target_bytes {
            let Some((i, d)) = counts.longest_local(slos) else {
                break;
            };
            let slo = &mut slos[i];
            let measured = slo.slo.measured_windows(d);
            let split = slo.dims[d.index()]
                .as_ref()
                .expect("a local dimension")
                .split
                .without_longest(measured);
            slo.fallback[d.index()] = split.others();
            slo.dims[d.index()] = DimLocal::new(&slo.slo, d, split, flavor);
            if slo.dims[d.index()].is_none() {
                slo.fallback[d.index()] = measured.len();
            }
            if !moved.contains(&(i, d)) {
                moved.push((i, d));
            }
        }
        if moved.is_empty() {
            return false;
        }
        for &(i, d) in &moved {
            let slo = &self.slos[i];
            let spelled = |ws: &[PromDuration]| {
                ws.iter()
                    .map(PromDuration::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let (local, direct) = match &slo.dims[d.index()] {
                Some(dim) => (spelled(&dim.query.windows), spelled(&dim.direct)),
                None => ("none".to_string(), spelled(slo.slo.measured_windows(d))),
            };
            tracing::warn!(service = %slo.service, slo = %slo.slo.name, dimension = d.as_str(),
                direct = %direct, local = %local, budget_bytes = self.budget,
                "the local history would exceed --max-history-bytes: these windows are measured with direct queries");
        }
        self.replan();
        true
    }

    /// Asks the backend for the day counts of the groups that `want` (their seed's reach):
    /// a group whose members were all counted at `at_ms` already is summed from them.
    async fn probe(
        &mut self,
        client: &PromClient,
        at_ms: i64,
        permits: &tokio::sync::Semaphore,
        want: impl Fn(&GroupState) -> bool,
    ) {
        let mut asked = Vec::new();
        for (g, group) in self.groups.iter_mut().enumerate() {
            if !want(group) || group.probed.as_ref().is_some_and(|p| p.0 == at_ms) {
                continue;
            }
            let counted: Option<Vec<&DayCounts>> = group
                .fetch
                .members
                .iter()
                .map(|&m| {
                    self.density
                        .get(&self.inputs[m].key)
                        .filter(|(t, _)| *t == at_ms)
                        .map(|(_, c)| &c.samples)
                })
                .collect();
            match counted {
                Some(lists) => group.probed = Some((at_ms, sum_counts(&lists))),
                None => asked.push(g),
            }
        }
        let (groups, inputs) = (&self.groups, &self.inputs);
        let answers = futures::future::join_all(asked.into_iter().map(|g| async move {
            let _permit = permits.acquire().await.expect("never closed");
            let group = &groups[g];
            let members: Vec<&Selector> = group
                .fetch
                .members
                .iter()
                .map(|&m| &inputs[m].selector)
                .collect();
            let from = at_ms - group.fetch.horizon_ms;
            (g, probe_counts(client, &members, from, at_ms).await)
        }))
        .await;
        for (g, answer) in answers {
            let group = &mut self.groups[g];
            group.probed = None;
            if let Some(counts) = answer {
                for (&m, member) in group.fetch.members.iter().zip(counts.members) {
                    self.density
                        .insert(self.inputs[m].key.clone(), (at_ms, member));
                }
                group.probed = Some((at_ms, counts.total));
            }
        }
    }

    /// Brings every group up to `at_ms`: the seed for new groups and for groups whose last
    /// success is older than their reach, a short overlapping request for the others.
    /// Before a seed, the plan is fitted to the budget from the probed day counts; after the
    /// requests, a history held over the budget is fitted again.
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
        let seeding = |g: &GroupState| g.next_fetch(at_ms).0;
        if self.groups.iter().any(seeding) {
            // A failed probe only costs the seed its plan: a backend too slow for it may
            // still answer a day at a time, and one that is down fails those requests too.
            self.probe(client, at_ms, &permits, seeding).await;
            if self.fit_budget(at_ms, self.budget as f64) {
                // New groups: summed from their members' counts, or asked.
                self.probe(client, at_ms, &permits, seeding).await;
            }
        }
        let budget = usize::try_from(self.budget).unwrap_or(usize::MAX);
        let base: usize = self
            .groups
            .iter()
            .filter(|g| !seeding(g))
            .map(|g| g.storage.heap_bytes())
            .sum();
        let held = AtomicUsize::new(base);
        let peak = AtomicUsize::new(base);
        let inputs = &self.inputs;
        let answers =
            futures::future::join_all(self.groups.iter_mut().enumerate().map(|(g, group)| {
                let (seed, from) = group.next_fetch(at_ms);
                let spans = match &group.probed {
                    Some((t, total)) if seed && *t == at_ms => {
                        planned_spans(from, at_ms, total, TARGET_SAMPLES_PER_REQUEST)
                    }
                    _ => fixed_spans(from, at_ms),
                };
                if seed {
                    group.storage = history_storage();
                    group.synced_to = None;
                    group.unwanted.clear();
                }
                let (permits, held, peak) = (&permits, &held, &peak);
                let members: Vec<&Matchers> = group
                    .fetch
                    .members
                    .iter()
                    .map(|&m| &inputs[m].matchers)
                    .collect();
                let GroupState {
                    fetch,
                    storage,
                    unwanted,
                    ..
                } = group;
                async move {
                    let _permit = permits.acquire().await.expect("never closed");
                    let answer = client
                        .raw_samples_each(&fetch.selector, &spans, |series| {
                            if storage.get(&series.labels).is_none()
                                && (unwanted.contains(&series.labels)
                                    || !wanted(&series.labels, &members))
                            {
                                unwanted.insert(series.labels);
                                return ControlFlow::Continue(());
                            }
                            let grown =
                                push_points(storage.series_mut(&series.labels), series.points);
                            let now = held.fetch_add(grown, Ordering::Relaxed) + grown;
                            peak.fetch_max(now, Ordering::Relaxed);
                            // A seed stops as it crosses the budget; an extension's few samples
                            // are taken, and the plan is fitted again below.
                            if seed && now > budget {
                                ControlFlow::Break(())
                            } else {
                                ControlFlow::Continue(())
                            }
                        })
                        .await;
                    if seed && !matches!(&answer, Ok(f) if !f.stopped) {
                        // A partial seed is of no use: its memory goes now.
                        held.fetch_sub(storage.heap_bytes(), Ordering::Relaxed);
                        *storage = history_storage();
                    }
                    (g, seed, answer)
                }
            }))
            .await;
        let (requested, mut failed) = (answers.len(), 0);
        let mut unavailable = None;
        let mut every_failure_unavailable = true;
        for (g, seed, answer) in answers {
            let group = &mut self.groups[g];
            match answer {
                Ok(fetch) if fetch.stopped => {
                    tracing::debug!(selector = %group.fetch.selector, "the seed outgrew --max-history-bytes; dropped, the plan is fitted again");
                }
                Ok(fetch) => {
                    for warning in &fetch.warnings {
                        tracing::debug!(selector = %group.fetch.selector, "backend warning for a raw-sample request: {warning}");
                    }
                    let keep_from = at_ms - group.fetch.horizon_ms;
                    for (_, held) in group.storage.iter_mut() {
                        held.forget_before(keep_from);
                    }
                    // A series without samples in the reach has nothing any window reads.
                    group.storage.retain(|_, s| !s.is_empty());
                    group.synced_to = Some(at_ms);
                }
                Err(e) => {
                    failed += 1;
                    if !e.is_unavailable() {
                        every_failure_unavailable = false;
                    } else if unavailable.is_none() {
                        unavailable = Some(e.clone());
                    }
                    tracing::debug!(selector = %group.fetch.selector, seed, error = %e, "raw-sample request failed; direct queries this cycle");
                }
            }
        }
        let down = unavailable.filter(|_| failed == requested && every_failure_unavailable);
        let peak = peak.into_inner().max(self.held_bytes());
        if peak > budget && down.is_none() {
            // Denser than counted, or grown since: fresh counts of everything, scaled by what
            // was really held, and room for a while of growth.
            self.probe(client, at_ms, &permits, |_| true).await;
            let (counts, slos) = self.counts(at_ms);
            let estimate = counts.plan_bytes(slos).max(1.0);
            let scale = (peak as f64 / estimate).max(1.0);
            self.fit_budget(at_ms, 0.9 * self.budget as f64 / scale);
        }
        down
    }

    /// The rates of one dimension at `at_ms`, computed locally, with the windows the backend
    /// must add; `None` when its query is outside the evaluator's subset, it is measured
    /// directly as a whole, its history is not current at `at_ms`, or the evaluation failed
    /// (then the caller asks the backend for every window).
    pub(crate) fn measure(
        &self,
        index: usize,
        slo: &SloSpec,
        dimension: Dimension,
        at_ms: i64,
    ) -> Option<LocalPart<'_>> {
        let dim = self.slos.get(index)?.dims[dimension.index()].as_ref()?;
        let view = self.current(dim, at_ms)?;
        match measure_instant(&dim.query, &view, at_ms, self.flavor) {
            Ok(measurement) => Some(LocalPart {
                measurement,
                split: &dim.split,
                direct: &dim.direct,
            }),
            Err(e) => {
                tracing::debug!(slo = %slo.name, error = %e, "local evaluation failed; direct query");
                None
            }
        }
    }
}

impl LocalHistory {
    /// Another query of SLO `index`'s `dimension` at `at_ms` (a breakdown), evaluated over the
    /// history when it holds what that needs: the dimension is local and current, and the
    /// query's windows are no longer than those the history answers. `None` otherwise.
    pub(crate) fn measure_query(
        &self,
        index: usize,
        query: &DimensionQuery,
        at_ms: i64,
    ) -> Option<Result<Grouped, SourceError>> {
        let slo = self.slos.get(index)?;
        let dim = slo.dims[query.dimension.index()].as_ref()?;
        let reach = dim
            .split
            .reach_ms(slo.slo.measured_windows(query.dimension));
        if query.local.is_err() || query.windows.iter().any(|w| w.millis() > reach) {
            return None;
        }
        let view = self.current(dim, at_ms)?;
        Some(measure_instant(query, &view, at_ms, self.flavor))
    }

    /// The storage a dimension's queries read at `at_ms`, if every group it reads is
    /// current then.
    fn current(&self, dim: &DimLocal, at_ms: i64) -> Option<Routed<'_>> {
        dim.groups
            .iter()
            .all(|&g| self.groups[g].synced_to == Some(at_ms))
            .then_some(Routed {
                groups: &self.groups,
                route: &self.route,
            })
    }
}

/// What each selector of the current plan holds, or would: the basis of every estimate
/// of what a plan holds.
struct Counts<'a> {
    at_ms: i64,
    /// Per selector key whose group is seeded: `(oldest sample, samples)` of each of its
    /// series; what it holds at a shorter reach is the share of that span the reach covers.
    held: HashMap<&'a str, Vec<(i64, usize)>>,
    /// The others: their probed counts.
    density: &'a HashMap<String, (i64, SelectorCounts)>,
    cost: SeriesCost,
    correction: f64,
}

impl<'a> Counts<'a> {
    fn new(
        groups: &'a [GroupState],
        route: &HashMap<String, usize>,
        inputs: &'a [Input],
        density: &'a HashMap<String, (i64, SelectorCounts)>,
        correction: f64,
        at_ms: i64,
    ) -> Counts<'a> {
        let mut held = HashMap::new();
        for input in inputs {
            let Some(group) = route.get(&input.key).map(|&g| &groups[g]) else {
                continue;
            };
            if group.synced_to.is_none() {
                continue;
            }
            let spans = group
                .storage
                .select(&input.matchers)
                .into_iter()
                .filter_map(|(_, s)| Some((s.first_t_ms()?, s.len())))
                .collect();
            held.insert(input.key.as_str(), spans);
        }
        Counts {
            at_ms,
            held,
            density,
            cost: SeriesCost::calibrated(),
            correction,
        }
    }

    /// Bytes a selector holds, or would hold, reaching `reach_ms` back (0 when it was never
    /// counted). Within a probed day, samples are taken as evenly spread.
    fn bytes(&self, key: &str, reach_ms: i64) -> f64 {
        let since = self.at_ms - reach_ms;
        let (series, samples) = match self.held.get(key) {
            Some(held) => held
                .iter()
                .map(|&(first, len)| {
                    let span = (self.at_ms - first).max(1) as f64;
                    len as f64 * ((self.at_ms - since.max(first)) as f64 / span).clamp(0.0, 1.0)
                })
                .filter(|&n| n >= 1.0)
                .fold((0.0, 0.0), |(series, samples), n| {
                    (series + 1.0, samples + n)
                }),
            None => match self.density.get(key) {
                Some((_, counts)) => {
                    let samples = samples_since(&counts.samples, since);
                    let series = if samples > 0.0 { counts.series } else { 0 };
                    (series as f64, samples)
                }
                None => (0.0, 0.0),
            },
        };
        self.correction * self.cost.bytes(series, samples)
    }

    /// What `slos`' local dimensions hold together, in bytes: every selector at the longest
    /// reach any of them gives it (a series two groups fetch is held twice).
    fn plan_bytes(&self, slos: &[SloLocal]) -> f64 {
        let mut reach: HashMap<&str, i64> = HashMap::new();
        for need in slos
            .iter()
            .flat_map(|s| s.dims.iter().flatten())
            .flat_map(|d| &d.needs)
        {
            let r = reach.entry(need.key.as_str()).or_default();
            *r = (*r).max(need.reach_ms);
        }
        reach.into_iter().map(|(key, r)| self.bytes(key, r)).sum()
    }

    /// The local dimension whose longest window is the longest (among equals, the one whose
    /// selectors hold the most, then the first): the next to give a window to the backend.
    fn longest_local(&self, slos: &[SloLocal]) -> Option<(usize, Dimension)> {
        let mut best: Option<((i64, f64), usize, Dimension)> = None;
        for (i, slo) in slos.iter().enumerate() {
            for d in Dimension::ALL {
                let Some(dim) = &slo.dims[d.index()] else {
                    continue;
                };
                let reach = dim.split.reach_ms(slo.slo.measured_windows(d));
                let held: f64 = dim
                    .needs
                    .iter()
                    .map(|n| self.bytes(&n.key, n.reach_ms))
                    .sum();
                if best.as_ref().is_none_or(|(b, _, _)| (reach, held) > *b) {
                    best = Some(((reach, held), i, d));
                }
            }
        }
        best.map(|(_, i, d)| (i, d))
    }
}

/// Heap bytes of a held series as the history's encoding makes them: a part of its own
/// (the compact encoding keeps its newest samples unsealed, 16 bytes each, up to a block)
/// and a part per sample, fitted on a typical counter (15 s scrapes, uneven integer
/// increments: what most SLI series are) encoded the same way.
#[derive(Debug, Clone, Copy)]
struct SeriesCost {
    fixed: f64,
    per_sample: f64,
}

impl SeriesCost {
    fn calibrated() -> SeriesCost {
        static CALIBRATED: OnceLock<SeriesCost> = OnceLock::new();
        *CALIBRATED.get_or_init(|| {
            let (short, long) = (2_520, 60_120);
            let mut storage = history_storage();
            let series = storage.series_mut(&Labels::new());
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut value = 0.0;
            let mut short_bytes = 0.0;
            for i in 0..long {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                value += (x % 64) as f64;
                series.push(i as i64 * 15_000, value);
                if i + 1 == short {
                    short_bytes = series.heap_bytes() as f64;
                }
            }
            let per_sample = (series.heap_bytes() as f64 - short_bytes) / (long - short) as f64;
            SeriesCost {
                fixed: (short_bytes - per_sample * short as f64).max(0.0),
                per_sample,
            }
        })
    }

    fn bytes(&self, series: f64, samples: f64) -> f64 {
        self.fixed * series + self.per_sample * samples
    }
}

/// Day counts of several selectors probed on the same grid, added up.
fn sum_counts(lists: &[&DayCounts]) -> DayCounts {
    let mut sum: BTreeMap<i64, u64> = BTreeMap::new();
    for list in lists {
        for &(t, n) in *list {
            *sum.entry(t).or_default() += n;
        }
    }
    sum.into_iter().collect()
}
