//! What the daemon remembers of its recent evaluations for the web page (`--ui-retention`):
//! per SLO instance, the burn of every window and the decisions at each evaluation, its
//! recent decision changes and its recent alert and webhook deliveries.
//!
//! Why it is its own store: `/api/v1/decisions` keeps only the latest evaluation, and an
//! `Evaluation` is far too large to keep thousands of (strings, maps, rules). A point here is
//! only what a chart draws: the time (Unix seconds, `u32`), the SLO's and each dimension's
//! decision packed into a `u16`, and one `f32` per window (`NaN` for `null`), in flat
//! columns, so a point of the default ladder (5 windows in each of 2 dimensions) is 46
//! bytes. Memory is bounded three ways: points older than the retention are dropped,
//! evaluations closer together than `retention / MAX_POINTS` are merged into one point
//! (the largest burn of each window, the most severe decision, so peaks and incidents stay
//! visible), and changes and deliveries keep only their newest entries.
//!
//! It survives a restart through `--state-dir` as one JSON file whose columns are base64 of
//! their little-endian bytes (compact, and quick to read back), written atomically like the
//! other state files. A file that does not read is logged and ignored: a chart's history is
//! worth less than a daemon that starts.

use crate::decision::Decision;
use crate::engine::hysteresis::StateStore;
use crate::engine::{Evaluation, GroupLabels, RuleRef};
use crate::spec::Dimension;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Points per SLO instance at most: 6 hours at 10 s. A longer retention or a shorter
/// interval merges evaluations rather than growing.
pub(crate) const MAX_POINTS: usize = 2160;
/// Decision changes kept per SLO instance.
pub(crate) const MAX_CHANGES: usize = 50;
/// Delivery entries kept per SLO instance (repeats of one outcome share an entry).
pub(crate) const MAX_DELIVERIES: usize = 40;

const FORMAT_VERSION: u32 = 1;
/// The packed code of a dimension the SLO does not have.
const ABSENT: u16 = 7;

fn code(d: Decision) -> u16 {
    Decision::ALL.iter().position(|x| *x == d).unwrap_or(4) as u16
}

fn decision_of(code: u16) -> Option<Decision> {
    Decision::ALL.get(usize::from(code)).copied()
}

/// One evaluation's decisions in a `u16`: bits 0-2 the SLO's, 3-5 error's, 6-8 latency's.
fn pack(slo: Decision, dims: [Option<Decision>; 2]) -> u16 {
    let dim = |d: Option<Decision>| d.map_or(ABSENT, code);
    code(slo) | dim(dims[0]) << 3 | dim(dims[1]) << 6
}

fn unpack(packed: u16, part: usize) -> Option<Decision> {
    decision_of((packed >> (3 * part)) & 7)
}

/// The worse of two decisions of one bucket (`no_data` only when both are).
fn worse(a: Option<Decision>, b: Option<Decision>) -> Option<Decision> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Decision::combine([a, b])),
        (a, b) => a.or(b),
    }
}

fn merge_packed(a: u16, b: u16) -> u16 {
    let slo = worse(unpack(a, 0), unpack(b, 0)).unwrap_or(Decision::NoData);
    pack(
        slo,
        [
            worse(unpack(a, 1), unpack(b, 1)),
            worse(unpack(a, 2), unpack(b, 2)),
        ],
    )
}

/// A decision change, as the SLO page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Change {
    pub(crate) at_ms: i64,
    pub(crate) from: Option<Decision>,
    pub(crate) to: Decision,
    /// Per dimension, its decision and the rules that set it.
    pub(crate) why: String,
}

/// One outcome of posting to a sink, or a run of identical ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Delivery {
    pub(crate) first_ms: i64,
    pub(crate) last_ms: i64,
    /// How many posts this entry stands for (an alert is re-sent every cycle).
    pub(crate) count: u32,
    /// `alertmanager` or `webhook`.
    pub(crate) sink: String,
    /// The target's URL without credentials.
    pub(crate) target: String,
    /// What was sent: the alert's decision, `resolved`, or a webhook's change.
    pub(crate) what: String,
    pub(crate) ok: bool,
    /// Why it failed (`HTTP 500`, `connection refused`, ...); empty when delivered.
    pub(crate) detail: String,
}

/// The retained evaluations of one SLO instance.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub(crate) service: String,
    pub(crate) slo: String,
    pub(crate) group: GroupLabels,
    /// The dimensions evaluated and their windows, in the order a point stores its burns.
    dims: Vec<(Dimension, Vec<String>)>,
    times: VecDeque<u32>,
    decisions: VecDeque<u16>,
    burns: VecDeque<f32>,
    changes: VecDeque<Change>,
    deliveries: VecDeque<Delivery>,
}

/// One dimension's history as a chart takes it.
pub(crate) struct DimensionHistory {
    pub(crate) windows: Vec<String>,
    /// Per window, `(Unix ms, burn)` at every point.
    pub(crate) series: Vec<Vec<(i64, Option<f64>)>>,
    pub(crate) decisions: Vec<(i64, Decision)>,
}

fn dims_of(eval: &Evaluation) -> Vec<(Dimension, Vec<String>)> {
    Dimension::ALL
        .into_iter()
        .filter_map(|dim| {
            let report = crate::engine::explain::report(eval, dim)?;
            Some((
                dim,
                report.burn.iter().map(|(w, _)| w.to_string()).collect(),
            ))
        })
        .collect()
}

impl Series {
    fn new(eval: &Evaluation) -> Series {
        Series {
            service: eval.service.clone(),
            slo: eval.slo.clone(),
            group: eval.group.clone(),
            dims: Vec::new(),
            times: VecDeque::new(),
            decisions: VecDeque::new(),
            burns: VecDeque::new(),
            changes: VecDeque::new(),
            deliveries: VecDeque::new(),
        }
    }

    fn stride(&self) -> usize {
        self.dims.iter().map(|(_, w)| w.len()).sum()
    }

    pub(crate) fn len(&self) -> usize {
        self.times.len()
    }

    /// Room for one more point: doubling, as a `VecDeque` grows, but never past
    /// `MAX_POINTS`, so a full series holds exactly its points and no spare half.
    fn reserve_one(&mut self) {
        let len = self.times.len();
        if len < self.times.capacity() {
            return;
        }
        let more = len.max(16).min(MAX_POINTS - len).max(1);
        self.times.reserve_exact(more);
        self.decisions.reserve_exact(more);
        self.burns.reserve_exact(more * self.stride());
    }

    fn pop_front(&mut self) {
        let stride = self.stride();
        self.times.pop_front();
        self.decisions.pop_front();
        self.burns.drain(..stride.min(self.burns.len()));
    }

    /// Adds an evaluation, or merges it into the newest point when that one is less than
    /// `spacing_s` older.
    fn push(&mut self, eval: &Evaluation, spacing_s: u32) {
        let dims = dims_of(eval);
        // An evaluation lacking a dimension the points have (it was not measured) adds nulls;
        // other windows (a reload changed the matrix) start over, since the old points would
        // be read against them.
        if !dims.iter().all(|d| self.dims.contains(d)) {
            self.times.clear();
            self.decisions.clear();
            self.burns.clear();
            self.dims = dims;
        }
        let t = u32::try_from(eval.at_ms.max(0) / 1000).unwrap_or(u32::MAX);
        let burns = self
            .dims
            .iter()
            .flat_map(|(dim, windows)| {
                let report = crate::engine::explain::report(eval, *dim);
                windows.iter().map(move |w| {
                    report
                        .and_then(|r| r.burn.value(w))
                        .map_or(f32::NAN, |v| v as f32)
                })
            })
            .collect::<Vec<f32>>();
        let packed = pack(
            eval.decision,
            [
                eval.error.as_ref().map(|r| r.decision),
                eval.latency.as_ref().map(|r| r.decision),
            ],
        );
        match self.times.back() {
            Some(&last) if t.saturating_sub(last) < spacing_s => {
                let stride = self.stride();
                let start = self.burns.len() - stride;
                for (slot, b) in self.burns.range_mut(start..).zip(burns) {
                    // The larger burn of the two; a number beats a null.
                    if slot.is_nan() || b > *slot {
                        *slot = b;
                    }
                }
                let d = self.decisions.back_mut().expect("one per time");
                *d = merge_packed(*d, packed);
            }
            _ => {
                if self.times.len() >= MAX_POINTS {
                    self.pop_front();
                }
                self.reserve_one();
                self.times.push_back(t);
                self.decisions.push_back(packed);
                self.burns.extend(burns);
            }
        }
    }

    /// Drops the points before `oldest_s`.
    fn expire(&mut self, oldest_s: u32) {
        while self.times.front().is_some_and(|t| *t < oldest_s) {
            self.pop_front();
        }
    }

    /// The dimension's windows, burns and decisions, and the SLO's decisions, per point.
    pub(crate) fn dimension(&self, dim: Dimension) -> Option<DimensionHistory> {
        let mut offset = 0;
        let mut found = None;
        for (d, windows) in &self.dims {
            if *d == dim {
                found = Some(windows);
                break;
            }
            offset += windows.len();
        }
        let windows = found?;
        let stride = self.stride();
        let part = 1 + dim.index();
        let times: Vec<i64> = self.times.iter().map(|t| i64::from(*t) * 1000).collect();
        let series = (0..windows.len())
            .map(|i| {
                times
                    .iter()
                    .enumerate()
                    .map(|(p, t)| {
                        let v = self.burns[p * stride + offset + i];
                        (*t, (!v.is_nan()).then_some(f64::from(v)))
                    })
                    .collect()
            })
            .collect();
        let decisions = times
            .iter()
            .zip(&self.decisions)
            .map(|(t, d)| (*t, unpack(*d, part).unwrap_or(Decision::NoData)))
            .collect();
        Some(DimensionHistory {
            windows: windows.clone(),
            series,
            decisions,
        })
    }

    /// The SLO's decision at every point.
    pub(crate) fn slo_decisions(&self) -> Vec<(i64, Decision)> {
        self.times
            .iter()
            .zip(&self.decisions)
            .map(|(t, d)| {
                (
                    i64::from(*t) * 1000,
                    unpack(*d, 0).unwrap_or(Decision::NoData),
                )
            })
            .collect()
    }

    /// Decision changes, newest first.
    pub(crate) fn changes(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().rev()
    }

    /// Deliveries, newest first.
    pub(crate) fn deliveries(&self) -> impl Iterator<Item = &Delivery> {
        self.deliveries.iter().rev()
    }

    fn heap_bytes(&self) -> usize {
        let strings: usize = self
            .dims
            .iter()
            .flat_map(|(_, w)| w)
            .map(|w| w.capacity() + std::mem::size_of::<String>())
            .sum();
        let changes: usize = self
            .changes
            .iter()
            .map(|c| c.why.capacity() + std::mem::size_of::<Change>())
            .sum();
        let deliveries: usize = self
            .deliveries
            .iter()
            .map(|d| {
                d.sink.capacity()
                    + d.target.capacity()
                    + d.what.capacity()
                    + d.detail.capacity()
                    + std::mem::size_of::<Delivery>()
            })
            .sum();
        self.times.capacity() * 4
            + self.decisions.capacity() * 2
            + self.burns.capacity() * 4
            + strings
            + changes
            + deliveries
            + self.service.capacity()
            + self.slo.capacity()
            + self
                .group
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

/// What a change says about why: each dimension's decision and the rules behind it.
fn why(eval: &Evaluation) -> String {
    let rule = |r: &RuleRef| match &r.short {
        Some(short) => format!("{} ≥ {} over {}/{short}", r.decision, r.burn, r.long),
        None => format!("{} ≥ {} over {}", r.decision, r.burn, r.long),
    };
    let mut parts: Vec<String> = eval
        .dimensions()
        .map(|(name, d)| {
            let mut text = format!("{name} {}", d.decision);
            let fired: Vec<String> = d.fired.iter().map(rule).collect();
            let held: Vec<String> = d.held.iter().map(rule).collect();
            if !fired.is_empty() {
                text.push_str(&format!(" (fired: {})", fired.join("; ")));
            }
            if !held.is_empty() {
                text.push_str(&format!(" (held: {})", held.join("; ")));
            }
            text
        })
        .collect();
    parts.extend(eval.errors.iter().cloned());
    parts.join(" · ")
}

/// Every SLO instance's retained history, keyed like `/api/v1/decisions`
/// (`StateStore::instance_key`).
#[derive(Debug, Clone)]
pub(crate) struct Store {
    retention_s: u32,
    series: BTreeMap<String, Series>,
    /// Changed since the last `to_file`.
    dirty: bool,
}

impl Store {
    pub(crate) fn new(retention: std::time::Duration) -> Store {
        Store {
            retention_s: u32::try_from(retention.as_secs().max(1)).unwrap_or(u32::MAX),
            series: BTreeMap::new(),
            dirty: false,
        }
    }

    /// Seconds below which two evaluations share a point.
    fn spacing_s(&self) -> u32 {
        self.retention_s.div_ceil(MAX_POINTS as u32).max(1)
    }

    /// Records an evaluation of the instance `key`; `change` when the daemon counts it as a
    /// decision change (as webhooks do), from `previous`.
    pub(crate) fn record(
        &mut self,
        key: &str,
        eval: &Evaluation,
        previous: Option<Decision>,
        change: bool,
    ) {
        let spacing = self.spacing_s();
        let retention = self.retention_s;
        let series = self
            .series
            .entry(key.to_string())
            .or_insert_with(|| Series::new(eval));
        series.push(eval, spacing);
        if let Some(last) = series.times.back().copied() {
            series.expire(last.saturating_sub(retention));
        }
        if change {
            series.changes.push_back(Change {
                at_ms: eval.at_ms,
                from: previous,
                to: eval.decision,
                why: why(eval),
            });
            if series.changes.len() > MAX_CHANGES {
                series.changes.pop_front();
            }
        }
        self.dirty = true;
    }

    /// Records one post to a sink about the instance `key` (nothing if it has no history:
    /// a delivery of an instance gone since).
    pub(crate) fn delivered(&mut self, key: &str, delivery: Delivery) {
        let Some(series) = self.series.get_mut(key) else {
            return;
        };
        let same = |d: &Delivery| {
            d.sink == delivery.sink
                && d.target == delivery.target
                && d.what == delivery.what
                && d.ok == delivery.ok
                && d.detail == delivery.detail
        };
        match series.deliveries.back_mut() {
            Some(last) if same(last) => {
                last.last_ms = delivery.last_ms;
                last.count = last.count.saturating_add(delivery.count);
            }
            _ => {
                series.deliveries.push_back(delivery);
                if series.deliveries.len() > MAX_DELIVERIES {
                    series.deliveries.pop_front();
                }
            }
        }
        self.dirty = true;
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Series> {
        self.series.get(key)
    }

    /// Forgets the instances with no point within the retention before `now_ms` (an SLO
    /// removed by a reload, a group that is gone).
    pub(crate) fn expire(&mut self, now_ms: i64) {
        let oldest = u32::try_from((now_ms / 1000).max(0))
            .unwrap_or(u32::MAX)
            .saturating_sub(self.retention_s);
        let before = self.series.len();
        self.series
            .retain(|_, s| s.times.back().is_some_and(|t| *t >= oldest));
        for s in self.series.values_mut() {
            s.expire(oldest);
        }
        if self.series.len() != before {
            self.dirty = true;
        }
    }

    /// Forgets every instance of the SLO `service/slo` (removed by a reload).
    pub(crate) fn remove_slo(&mut self, service: &str, slo: &str) {
        let before = self.series.len();
        self.series
            .retain(|_, s| !(s.service == service && s.slo == slo));
        self.dirty |= self.series.len() != before;
    }

    pub(crate) fn points(&self) -> usize {
        self.series.values().map(Series::len).sum()
    }

    /// Heap bytes held (the columns by capacity, and the texts).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.series
            .iter()
            .map(|(k, s)| k.capacity() + s.heap_bytes())
            .sum()
    }

    /// The file's bytes if anything changed since the last call.
    pub(crate) fn take_dirty_file(&mut self) -> Option<Vec<u8>> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        Some(self.to_file())
    }

    pub(crate) fn to_file(&self) -> Vec<u8> {
        let file = File {
            version: FORMAT_VERSION,
            instances: self.series.values().map(SeriesFile::from).collect(),
        };
        serde_json::to_vec(&file).expect("the UI history serializes")
    }

    /// Reads a file `to_file` wrote; instances whose columns do not fit together are
    /// skipped (and counted), points beyond the retention dropped.
    pub(crate) fn from_file(
        bytes: &[u8],
        retention: std::time::Duration,
        now_ms: i64,
    ) -> Result<(Store, usize), String> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if file.version != FORMAT_VERSION {
            return Err(format!(
                "format version {} (this burnrate reads {FORMAT_VERSION})",
                file.version
            ));
        }
        let mut store = Store::new(retention);
        let mut skipped = 0;
        for f in file.instances {
            match f.into_series() {
                Some(s) => {
                    let key = StateStore::instance_key(&s.service, &s.slo, &s.group);
                    store.series.insert(key, s);
                }
                None => skipped += 1,
            }
        }
        store.expire(now_ms);
        store.dirty = false;
        Ok((store, skipped))
    }
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    instances: Vec<SeriesFile>,
}

/// One instance on disk: its columns as base64 of their little-endian bytes.
#[derive(Serialize, Deserialize)]
struct SeriesFile {
    service: String,
    slo: String,
    #[serde(default)]
    group: GroupLabels,
    /// `error`/`latency` and its windows.
    dims: Vec<(String, Vec<String>)>,
    times: String,
    decisions: String,
    burns: String,
    #[serde(default)]
    changes: Vec<Change>,
    #[serde(default)]
    deliveries: Vec<Delivery>,
}

impl From<&Series> for SeriesFile {
    fn from(s: &Series) -> SeriesFile {
        let bytes =
            |it: &mut dyn Iterator<Item = Vec<u8>>| B64.encode(it.flatten().collect::<Vec<u8>>());
        SeriesFile {
            service: s.service.clone(),
            slo: s.slo.clone(),
            group: s.group.clone(),
            dims: s
                .dims
                .iter()
                .map(|(d, w)| (d.as_str().to_string(), w.clone()))
                .collect(),
            times: bytes(&mut s.times.iter().map(|t| t.to_le_bytes().to_vec())),
            decisions: bytes(&mut s.decisions.iter().map(|d| d.to_le_bytes().to_vec())),
            burns: bytes(&mut s.burns.iter().map(|b| b.to_le_bytes().to_vec())),
            changes: s.changes.iter().cloned().collect(),
            deliveries: s.deliveries.iter().cloned().collect(),
        }
    }
}

impl SeriesFile {
    fn into_series(self) -> Option<Series> {
        let times: VecDeque<u32> = B64
            .decode(&self.times)
            .ok()?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let decisions: VecDeque<u16> = B64
            .decode(&self.decisions)
            .ok()?
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let burns: VecDeque<f32> = B64
            .decode(&self.burns)
            .ok()?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let dims: Vec<(Dimension, Vec<String>)> = self
            .dims
            .into_iter()
            .map(|(d, w)| {
                let dim = Dimension::ALL.into_iter().find(|x| x.as_str() == d)?;
                Some((dim, w))
            })
            .collect::<Option<_>>()?;
        let stride: usize = dims.iter().map(|(_, w)| w.len()).sum();
        let fits = decisions.len() == times.len()
            && burns.len() == times.len() * stride
            && times.len() <= MAX_POINTS
            && times.iter().zip(times.iter().skip(1)).all(|(a, b)| a <= b);
        fits.then(|| Series {
            service: self.service,
            slo: self.slo,
            group: self.group,
            dims,
            times,
            decisions,
            burns,
            changes: self
                .changes
                .into_iter()
                .rev()
                .take(MAX_CHANGES)
                .rev()
                .collect(),
            deliveries: self
                .deliveries
                .into_iter()
                .rev()
                .take(MAX_DELIVERIES)
                .rev()
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{DimensionReport, WindowMap};
    use std::time::Duration;

    fn report(decision: Decision, burns: &[(&str, Option<f64>)]) -> DimensionReport {
        DimensionReport {
            decision,
            objective: 0.999,
            threshold_seconds: None,
            quantile: None,
            quantile_seconds: None,
            burn: burns.iter().map(|(w, b)| (w.to_string(), *b)).collect(),
            events: WindowMap::default(),
            no_traffic: vec![],
            fired: vec![],
            pending: vec![],
            held: vec![],
            budget_remaining: Some(0.5),
            budget_since: None,
            suppressed: vec![],
            no_data_for: None,
            contributors: None,
            exemplars: vec![],
        }
    }

    fn eval(at_s: i64, decision: Decision, burn_5m: Option<f64>) -> Evaluation {
        Evaluation {
            time: crate::time::format_time(at_s * 1000),
            service: "shop".into(),
            slo: "api".into(),
            group: GroupLabels::from([("route".to_string(), "/pay".to_string())]),
            labels: BTreeMap::new(),
            decision,
            previous: None,
            error: Some(report(decision, &[("5m", burn_5m), ("1h", Some(1.0))])),
            latency: Some(report(Decision::Ok, &[("5m", Some(0.1))])),
            errors: vec![],
            maintenance: None,
            at_ms: at_s * 1000 + 250,
        }
    }

    const KEY: &str = "shop/api{route=\"/pay\"}";

    #[test]
    fn points_keep_burns_and_decisions_and_round_trip_through_the_file() {
        let mut store = Store::new(Duration::from_secs(600));
        store.record(KEY, &eval(1000, Decision::Ok, Some(0.5)), None, false);
        store.record(
            KEY,
            &eval(1001, Decision::CircuitBreak, Some(20.0)),
            Some(Decision::Ok),
            true,
        );
        store.record(KEY, &eval(1002, Decision::NoData, None), None, true);
        let s = store.get(KEY).unwrap();
        assert_eq!(s.len(), 3);
        let error = s.dimension(Dimension::Error).unwrap();
        assert_eq!(error.windows, ["5m", "1h"]);
        assert_eq!(
            error.series[0],
            [
                (1_000_000, Some(0.5)),
                (1_001_000, Some(20.0)),
                (1_002_000, None)
            ]
        );
        assert_eq!(error.decisions[1], (1_001_000, Decision::CircuitBreak));
        let latency = s.dimension(Dimension::Latency).unwrap();
        assert_eq!(latency.series[0][2], (1_002_000, Some(f64::from(0.1f32))));
        assert_eq!(s.slo_decisions()[2].1, Decision::NoData);
        let changes: Vec<_> = s.changes().collect();
        assert_eq!(changes[1].to, Decision::CircuitBreak);
        assert!(
            changes[1].why.starts_with("error circuit_break"),
            "{}",
            changes[1].why
        );

        store.delivered(KEY, delivery(true, ""));
        store.delivered(KEY, delivery(true, ""));
        store.delivered(KEY, delivery(false, "HTTP 500"));
        let s = store.get(KEY).unwrap();
        let d: Vec<_> = s.deliveries().collect();
        assert_eq!((d.len(), d[1].count, d[0].ok), (2, 2, false));

        let bytes = store.take_dirty_file().unwrap();
        assert!(store.take_dirty_file().is_none(), "nothing changed since");
        let (back, skipped) =
            Store::from_file(&bytes, Duration::from_secs(600), 1_002_000).unwrap();
        assert_eq!(skipped, 0);
        // (NaN is no Series' equal, so the files are compared.)
        assert_eq!(back.to_file(), store.to_file());
        assert_eq!(back.get(KEY).unwrap().len(), 3);
        // Beyond the retention, nothing is read back.
        let (late, _) = Store::from_file(&bytes, Duration::from_secs(600), 5_000_000).unwrap();
        assert!(late.get(KEY).is_none());
        assert!(Store::from_file(b"{}", Duration::from_secs(1), 0).is_err());
    }

    fn delivery(ok: bool, detail: &str) -> Delivery {
        Delivery {
            first_ms: 1,
            last_ms: 2,
            count: 1,
            sink: "webhook".into(),
            target: "http://hook".into(),
            what: "ok → circuit_break".into(),
            ok,
            detail: detail.into(),
        }
    }

    #[test]
    fn close_evaluations_merge_keeping_peaks_and_memory_stays_bounded() {
        // 6 hours at 10 s per point: evaluations every second merge ten to a point.
        let mut store = Store::new(Duration::from_secs(6 * 3600));
        for s in 0..40 {
            let peak = s == 13;
            let e = eval(
                10_000 + s,
                if peak { Decision::Warn } else { Decision::Ok },
                Some(if peak { 9.0 } else { 1.0 }),
            );
            store.record(KEY, &e, None, false);
        }
        let s = store.get(KEY).unwrap();
        assert_eq!(s.len(), 4);
        let error = s.dimension(Dimension::Error).unwrap();
        assert_eq!(
            error.series[0][1].1,
            Some(9.0),
            "the peak survives the merge"
        );
        assert_eq!(error.decisions[1].1, Decision::Warn);
        assert_eq!(error.decisions[2].1, Decision::Ok);

        // A whole retention of evaluations every 10 s: MAX_POINTS points, a bounded heap.
        let mut store = Store::new(Duration::from_secs(6 * 3600));
        for i in 0..(MAX_POINTS as i64 + 500) {
            store.record(
                KEY,
                &eval(100_000 + i * 10, Decision::Ok, Some(1.0)),
                None,
                false,
            );
        }
        let s = store.get(KEY).unwrap();
        assert_eq!(s.len(), MAX_POINTS);
        // 3 windows here: 4 + 2 + 3 * 4 bytes a point, and no spare capacity when full.
        let columns = MAX_POINTS * (4 + 2 + 3 * 4);
        let held = store.heap_bytes();
        assert!(
            (columns..columns + 1024).contains(&held),
            "{held} bytes for {columns} bytes of columns"
        );
    }

    #[test]
    fn other_windows_after_a_reload_start_a_new_history() {
        let mut store = Store::new(Duration::from_secs(600));
        store.record(KEY, &eval(1000, Decision::Ok, Some(0.5)), None, false);
        let mut e = eval(1010, Decision::Ok, Some(0.5));
        e.error = Some(report(Decision::Ok, &[("30m", Some(0.2))]));
        store.record(KEY, &e, None, false);
        let s = store.get(KEY).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.dimension(Dimension::Error).unwrap().windows, ["30m"]);
        // A dimension missing from one evaluation is a null there, not a new history.
        let mut e = e.clone();
        e.at_ms += 10_000;
        e.latency = None;
        store.record(KEY, &e, None, false);
        let s = store.get(KEY).unwrap();
        assert_eq!(s.len(), 2);
        let latency = s.dimension(Dimension::Latency).unwrap();
        assert_eq!(latency.series[0][1].1, None);
        assert_eq!(latency.decisions[1].1, Decision::NoData);
        store.remove_slo("shop", "api");
        assert!(store.get(KEY).is_none());
    }
}
