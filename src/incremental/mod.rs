//! Incremental evaluation: the daemon keeps the raw counter samples its SLOs need and
//! computes every window locally, so each cycle asks the backend only for the samples
//! scraped since the previous one instead of re-reading 30 days for the budget window.
//!
//! The history is seeded once per fetch group with the raw samples of the longest window
//! (`SEL[w]`, chunked by day), then extended every cycle with a short `SEL[gap]` request
//! that overlaps the previous one (samples scraped just before a request may land in the
//! backend just after it). Windows are computed with [`LiveSeries::rate_at`], which gives
//! Prometheus's own floats. A group whose request fails is not used for that cycle: its
//! SLOs are measured with direct queries, and the next success fills the gap; a gap longer
//! than the group's horizon (or a restart) seeds it again.
//!
//! Raw PromQL SLIs (`bad_query`) cannot be computed from samples: they always use direct
//! queries.

pub mod fetch_plan;

use crate::backend::PromClient;
use crate::backend::query::parse_float;
use crate::engine::{Bucket, ErrorRates, HistogramRates, Measurement, SourceError};
#[cfg(doc)]
use crate::history::live::BYTES_PER_SAMPLE;
use crate::history::live::LiveSeries;
use crate::history::matcher::SeriesMatcher;
use crate::spec::selector::Selector;
use crate::spec::{Dimension, ErrorEvents, SloSpec};
use fetch_plan::{FetchGroup, plan_fetches};
use std::collections::{BTreeMap, HashMap};

type Labels = BTreeMap<String, String>;

/// How far each extension request reaches back before the previous one: a sample scraped
/// just before a request can become visible just after it.
pub const OVERLAP_MS: i64 = 2 * 60 * 1000;

/// The series one fetch group brings in.
#[derive(Debug, Default)]
struct GroupState {
    fetch: FetchGroup,
    series: Vec<(Labels, LiveSeries)>,
    index: HashMap<Labels, usize>,
    /// The evaluation time of the last successful request; `None` before the seed.
    synced_to: Option<i64>,
    /// Bumped when series are added or replaced, so members re-match.
    version: u64,
}

/// One distinct selector and the series of its group it matches.
struct SelectorState {
    matcher: SeriesMatcher,
    group: usize,
    /// Matched series (positions in the group), sorted by labels: the order in which
    /// Prometheus's `sum` adds them.
    matched: Vec<usize>,
    /// The same series by `le` as written, each list still in label order, for
    /// `sum by (le)` of histogram buckets: `(le, its numeric bound, series)`.
    by_le: Vec<(String, f64, Vec<usize>)>,
    matched_version: Option<u64>,
}

/// The selectors of one locally computed dimension.
#[derive(Debug, Clone, Copy)]
enum Binding {
    Error { bad: usize, total: usize },
    Latency { bucket: usize, count: usize },
}

/// The raw history of every locally computable SLO of a set of specs.
pub struct LocalHistory {
    groups: Vec<GroupState>,
    selectors: Vec<SelectorState>,
    /// Per SLO, in the order given to `new`: its binding per `Dimension::index`.
    bindings: Vec<[Option<Binding>; 2]>,
}

/// Whether the SLO's error dimension (if any) can be computed from raw samples.
fn local_error(slo: &SloSpec) -> Option<(&Selector, &Selector)> {
    match slo.error.as_ref().map(|e| &e.events) {
        Some(ErrorEvents::Selectors { bad, total }) => Some((bad, total)),
        _ => None,
    }
}

impl LocalHistory {
    /// Plans the fetches for `slos`; nothing is fetched yet. `measure` names an SLO by its
    /// position here.
    pub fn new<'a>(slos: impl IntoIterator<Item = &'a SloSpec>) -> LocalHistory {
        let mut distinct: HashMap<String, usize> = HashMap::new();
        let mut inputs: Vec<(Selector, i64)> = Vec::new();
        let mut add = |sel: Selector, horizon_ms: i64| -> usize {
            let text = sel.to_promql();
            if let Some(&i) = distinct.get(&text) {
                inputs[i].1 = inputs[i].1.max(horizon_ms);
                return i;
            }
            inputs.push((sel, horizon_ms));
            distinct.insert(text, inputs.len() - 1);
            inputs.len() - 1
        };
        let mut bindings = Vec::new();
        for slo in slos {
            let mut dims = [None, None];
            let horizon = |dim| {
                slo.measured_windows(dim)
                    .iter()
                    .map(|w| w.millis())
                    .max()
                    .unwrap_or(0)
            };
            if let Some((bad, total)) = local_error(slo) {
                let h = horizon(Dimension::Error);
                dims[Dimension::Error.index()] = Some(Binding::Error {
                    bad: add(bad.clone(), h),
                    total: add(total.clone(), h),
                });
            }
            if let Some(latency) = &slo.latency
                && let (Some(bucket), Some(count)) = (
                    latency.histogram.with_suffix("_bucket"),
                    latency.histogram.with_suffix("_count"),
                )
            {
                let h = horizon(Dimension::Latency);
                dims[Dimension::Latency.index()] = Some(Binding::Latency {
                    bucket: add(bucket, h),
                    count: add(count, h),
                });
            }
            bindings.push(dims);
        }
        let plan = plan_fetches(&inputs);
        let mut group_of = vec![0; inputs.len()];
        for (g, group) in plan.iter().enumerate() {
            for &m in &group.members {
                group_of[m] = g;
            }
        }
        let selectors = inputs
            .into_iter()
            .enumerate()
            .map(|(i, (selector, _))| SelectorState {
                matcher: SeriesMatcher::new(&selector)
                    .expect("selector regexes were validated with the spec"),
                group: group_of[i],
                matched: Vec::new(),
                by_le: Vec::new(),
                matched_version: None,
            })
            .collect();
        LocalHistory {
            groups: plan
                .into_iter()
                .map(|fetch| GroupState {
                    fetch,
                    ..GroupState::default()
                })
                .collect(),
            selectors,
            bindings,
        }
    }

    /// Raw samples held (each costs [`crate::history::live::BYTES_PER_SAMPLE`]).
    pub fn held_samples(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|g| &g.series)
            .map(|(_, s)| s.len())
            .sum()
    }

    /// Brings every group up to `at_ms`: the seed for new groups and for groups whose last
    /// success is older than their horizon, a short overlapping request for the others.
    ///
    /// Returns an error when every request failed because the backend is unreachable,
    /// timing out or failing: direct queries this cycle would only wait for the same failure.
    pub async fn refresh(
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
                        group.series.clear();
                        group.index.clear();
                        group.version += 1;
                    }
                    for series in result.series {
                        let i = match group.index.get(&series.labels) {
                            Some(&i) => i,
                            None => {
                                group
                                    .series
                                    .push((series.labels.clone(), LiveSeries::new()));
                                group.index.insert(series.labels, group.series.len() - 1);
                                group.version += 1;
                                group.series.len() - 1
                            }
                        };
                        let live = &mut group.series[i].1;
                        for (t, v) in series.points {
                            live.push(t, v);
                        }
                    }
                    let keep_from = at_ms - group.fetch.horizon_ms;
                    for (_, live) in &mut group.series {
                        live.forget_before(keep_from);
                    }
                    group.synced_to = Some(at_ms);
                }
                Err(e) => {
                    failed += 1;
                    if !e.unavailable {
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

    /// The rates of one dimension at `at_ms`, computed locally; `None` when the dimension is
    /// not computable from samples or its history is not current at `at_ms` (then the caller
    /// asks the backend directly).
    pub fn measure(
        &mut self,
        index: usize,
        slo: &SloSpec,
        dimension: Dimension,
        at_ms: i64,
    ) -> Option<Measurement> {
        let binding = self.bindings.get(index)?[dimension.index()]?;
        let parts = match binding {
            Binding::Error { bad, total } => [bad, total],
            Binding::Latency { bucket, count } => [bucket, count],
        };
        for &p in &parts {
            if self.groups[self.selectors[p].group].synced_to != Some(at_ms) {
                return None;
            }
            self.rematch(p);
        }
        let windows = slo.measured_windows(dimension);
        Some(match binding {
            Binding::Error { bad, total } => Measurement::Error(
                windows
                    .iter()
                    .map(|w| ErrorRates {
                        bad: self.sum_all(bad, at_ms, w.millis()),
                        total: self.sum_all(total, at_ms, w.millis()),
                    })
                    .collect(),
            ),
            Binding::Latency { bucket, count } => Measurement::Latency(
                windows
                    .iter()
                    .map(|w| HistogramRates {
                        buckets: self.selectors[bucket]
                            .by_le
                            .iter()
                            .filter_map(|(_, le, series)| {
                                let rate = self.sum(bucket, series, at_ms, w.millis())?;
                                Some(Bucket { le: *le, rate })
                            })
                            .collect(),
                        count: self.sum_all(count, at_ms, w.millis()),
                    })
                    .collect(),
            ),
        })
    }

    /// Re-selects a selector's series after its group gained or replaced series.
    fn rematch(&mut self, s: usize) {
        let state = &self.selectors[s];
        let group = &self.groups[state.group];
        if state.matched_version == Some(group.version) {
            return;
        }
        let mut matched: Vec<usize> = group
            .series
            .iter()
            .enumerate()
            .filter(|(_, (labels, _))| state.matcher.matches(labels))
            .map(|(i, _)| i)
            .collect();
        matched.sort_by(|&a, &b| group.series[a].0.cmp(&group.series[b].0));
        let mut by_le: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in &matched {
            let le = group.series[i].0.get("le").map_or("", String::as_str);
            by_le.entry(le).or_default().push(i);
        }
        let by_le = by_le
            .into_iter()
            .map(|(le, series)| (le.to_string(), parse_float(le).unwrap_or(f64::NAN), series))
            .collect();
        let version = group.version;
        let state = &mut self.selectors[s];
        state.matched = matched;
        state.by_le = by_le;
        state.matched_version = Some(version);
    }

    /// `sum(rate(SEL[w]))` over every series the selector matches.
    fn sum_all(&self, s: usize, at_ms: i64, window_ms: i64) -> Option<f64> {
        self.sum(s, &self.selectors[s].matched, at_ms, window_ms)
    }

    /// `sum` of the rates of `series` (positions in the selector's group): `None` when no
    /// series has a rate, as Prometheus returns no sample then.
    fn sum(&self, s: usize, series: &[usize], at_ms: i64, window_ms: i64) -> Option<f64> {
        let group = &self.groups[self.selectors[s].group];
        let mut acc: Option<f64> = None;
        for &i in series {
            if let Some(rate) = group.series[i].1.rate_at(at_ms, window_ms) {
                acc = Some(match acc {
                    Some(a) => a + rate,
                    None => rate,
                });
            }
        }
        acc
    }
}
