//! Where the evaluator reads series from: the [`Storage`] trait and the in-memory
//! [`MemStorage`] (history files, raw samples fetched from a backend, the daemon's state).
//!
//! Selection returns series sorted by labels because that is the TSDB's order, and the
//! engine's output order (and the summation order of aggregations) follows it.

use super::{Labels, SeriesSamples};
use promql_parser::label::{MatchOp, Matchers};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A source of raw series.
pub trait Storage {
    /// Every series matching all `matchers` (an absent label matches as the empty string),
    /// sorted by labels compared as sequences of `(name, value)`.
    fn select(&self, matchers: &Matchers) -> Vec<(&Labels, &SeriesSamples)>;
}

/// Series held in memory, indexed by metric name.
#[derive(Debug, Default, Clone)]
pub struct MemStorage {
    series: BTreeMap<Labels, SeriesSamples>,
    /// `__name__` value to the labels of the series carrying it.
    by_name: HashMap<String, BTreeSet<Labels>>,
    /// Whether series created by `series_mut` are [`SeriesSamples::compact`].
    compact: bool,
}

impl MemStorage {
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// A storage whose series grown by [`series_mut`](Self::series_mut) are compact: the
    /// daemon's history.
    pub fn compact() -> MemStorage {
        MemStorage {
            compact: true,
            ..MemStorage::default()
        }
    }

    /// Adds a series, replacing one with the same labels.
    pub fn push_series(&mut self, labels: Labels, samples: SeriesSamples) {
        if !self.series.contains_key(&labels) {
            self.index(&labels);
        }
        self.series.insert(labels, samples);
    }

    /// The samples of the series with these labels, created empty if absent.
    pub fn series_mut(&mut self, labels: &Labels) -> &mut SeriesSamples {
        if !self.series.contains_key(labels) {
            self.index(labels);
            let samples = if self.compact {
                SeriesSamples::compact()
            } else {
                SeriesSamples::new()
            };
            self.series.insert(labels.clone(), samples);
        }
        self.series.get_mut(labels).expect("inserted above")
    }

    pub fn get(&self, labels: &Labels) -> Option<&SeriesSamples> {
        self.series.get(labels)
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Series in label order.
    pub fn iter(&self) -> impl Iterator<Item = (&Labels, &SeriesSamples)> {
        self.series.iter()
    }

    /// Mutable access in label order (labels cannot change).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Labels, &mut SeriesSamples)> {
        self.series.iter_mut()
    }

    /// Keeps only the series for which `keep` says so.
    pub fn retain<F: FnMut(&Labels, &mut SeriesSamples) -> bool>(&mut self, mut keep: F) {
        let before = self.series.len();
        self.series.retain(|l, s| keep(l, s));
        if self.series.len() != before {
            let series = &self.series;
            self.by_name.retain(|_, v| {
                v.retain(|l| series.contains_key(l));
                !v.is_empty()
            });
        }
    }

    /// Drops every series.
    pub fn clear(&mut self) {
        self.series.clear();
        self.by_name.clear();
    }

    /// Bytes the samples hold on the heap (labels not counted).
    pub fn heap_bytes(&self) -> usize {
        self.series.values().map(SeriesSamples::heap_bytes).sum()
    }

    /// Each name's set is ordered, so selecting by name needs no sort.
    fn index(&mut self, labels: &Labels) {
        let name = labels.get("__name__").cloned().unwrap_or_default();
        self.by_name.entry(name).or_default().insert(labels.clone());
    }
}

impl<'a> IntoIterator for &'a MemStorage {
    type Item = (&'a Labels, &'a SeriesSamples);
    type IntoIter = std::collections::btree_map::Iter<'a, Labels, SeriesSamples>;

    fn into_iter(self) -> Self::IntoIter {
        self.series.iter()
    }
}

pub(crate) fn matches(matchers: &Matchers, labels: &Labels) -> bool {
    let all = |ms: &[promql_parser::label::Matcher]| {
        ms.iter().all(|m| {
            let v = labels.get(&m.name).map(String::as_str).unwrap_or("");
            m.is_match(v)
        })
    };
    if matchers.or_matchers.is_empty() {
        all(&matchers.matchers)
    } else {
        matchers.or_matchers.iter().any(|ms| all(ms))
    }
}

impl Storage for MemStorage {
    fn select(&self, matchers: &Matchers) -> Vec<(&Labels, &SeriesSamples)> {
        let name = matchers
            .matchers
            .iter()
            .find(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
            .filter(|_| matchers.or_matchers.is_empty());
        match name {
            Some(m) => {
                let Some(cands) = self.by_name.get(&m.value) else {
                    return Vec::new();
                };
                cands
                    .iter()
                    .filter(|l| matches(matchers, l))
                    .filter_map(|l| self.series.get_key_value(l))
                    .collect()
            }
            None => self
                .series
                .iter()
                .filter(|(l, _)| matches(matchers, l))
                .collect(),
        }
    }
}
