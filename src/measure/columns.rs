//! The rates of one SLO at a run of instants, held column by column, and the one decoder
//! that fills them.
//!
//! Every path answers the same tagged query (`measure::query`): the backend's instant query
//! (one instant), `query_range` (every step), or burnrate's own evaluator over raw samples
//! (either). Their series go through [`decode_dimension`] into these columns, split by the
//! SLO's group labels, and are read back as `Measurement`s (an instant answer at once, a
//! replay step by step), so no path decodes differently.

use super::query::{KEY_LABEL, parse_float};
use crate::duration::PromDuration;
use crate::engine::{
    Bucket, ErrorRates, GroupLabels, Grouped, HistogramRates, Measurement, SourceError,
};
use crate::promql::{Labels, Steps};
use crate::spec::Dimension;
use std::collections::BTreeMap;

/// One value per step; `None` where the sum had no series.
pub(crate) type Column = Vec<Option<f64>>;

#[derive(Debug, Clone, Default)]
pub(crate) struct ErrorColumns {
    bad: Column,
    total: Column,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct LatencyColumns {
    /// Per `le` as written: its numeric bound and rate column, ordered by bound (equal
    /// bounds in the order of their `le` text).
    buckets: Vec<(f64, Column)>,
    count: Column,
    /// A native histogram's `histogram_fraction` and `histogram_quantile` (classic: none).
    fraction: Column,
    quantile: Column,
}

/// The columns of one dimension, one entry per window of `SloSpec::measured_windows`.
#[derive(Debug, Clone)]
pub(crate) enum DimensionColumns {
    Error(Vec<ErrorColumns>),
    Latency(Vec<LatencyColumns>),
}

/// One series of a tagged query's answer: its tag (batch prefix removed), its labels and
/// a value or nothing per step.
pub(crate) struct TaggedSeries<'a> {
    pub(crate) key: &'a str,
    pub(crate) labels: &'a Labels,
    pub(crate) values: Column,
}

/// The tag of a series, if it has one.
pub fn key_of(labels: &Labels) -> Option<&str> {
    labels.get(KEY_LABEL).map(String::as_str)
}

/// What a dimension's series fill in, per window, before they become columns.
enum Partial {
    Error(Vec<ErrorColumns>),
    Latency(Vec<LatencyPartial>),
}

/// One window of a latency dimension being decoded: per `le` as written, its bound and
/// column; and the other columns (their buckets still empty).
type LatencyPartial = (BTreeMap<String, (f64, Column)>, LatencyColumns);

impl Partial {
    fn new(dim: Dimension, windows: usize, n: usize) -> Partial {
        match dim {
            Dimension::Error => Partial::Error(
                (0..windows)
                    .map(|_| ErrorColumns {
                        bad: vec![None; n],
                        total: vec![None; n],
                    })
                    .collect(),
            ),
            Dimension::Latency => Partial::Latency(
                (0..windows)
                    .map(|_| {
                        let column = vec![None; n];
                        let columns = LatencyColumns {
                            buckets: Vec::new(),
                            count: column.clone(),
                            fraction: column.clone(),
                            quantile: column,
                        };
                        (BTreeMap::new(), columns)
                    })
                    .collect(),
            ),
        }
    }

    fn add(&mut self, part: &str, i: usize, labels: &Labels, values: Column) {
        match (self, part) {
            (Partial::Error(w), "bad") => w[i].bad = values,
            (Partial::Error(w), "total") => w[i].total = values,
            (Partial::Latency(w), "count") => w[i].1.count = values,
            (Partial::Latency(w), "fraction") => w[i].1.fraction = values,
            (Partial::Latency(w), "quantile") => w[i].1.quantile = values,
            (Partial::Latency(w), "bucket") => {
                let le = labels.get("le").cloned().unwrap_or_default();
                let bound = parse_float(&le).unwrap_or(f64::NAN);
                w[i].0.insert(le, (bound, values));
            }
            _ => {}
        }
    }

    fn finish(self) -> DimensionColumns {
        match self {
            Partial::Error(w) => DimensionColumns::Error(w),
            Partial::Latency(w) => DimensionColumns::Latency(
                w.into_iter()
                    .map(|(by_le, mut columns)| {
                        let mut buckets: Vec<(f64, Column)> = by_le.into_values().collect();
                        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                        columns.buckets = buckets;
                        columns
                    })
                    .collect(),
            ),
        }
    }
}

/// The values of the `group_by` labels a series carries (none without `group_by`); a label
/// it lacks, or has empty, is absent, as Prometheus drops empty labels.
fn group_of(group_by: &[String], labels: &Labels) -> GroupLabels {
    group_by
        .iter()
        .filter_map(|l| {
            let v = labels.get(l).filter(|v| !v.is_empty())?;
            Some((l.clone(), v.clone()))
        })
        .collect()
}

/// Sorts the tagged series of one dimension's query back into per-group, per-window columns
/// of `n` steps, aligned with `windows`, groups ordered by their labels (`group_of`). Without
/// `group_by` there is exactly one group, with no labels, even when no series came back.
/// Series without a recognizable tag are ignored (they cannot be attributed to a window);
/// values that are not numbers are kept as NaN and the engine treats them as missing; a
/// bucket whose `le` does not parse makes its window unusable, as in Prometheus.
pub(crate) fn decode_dimension<'a>(
    dim: Dimension,
    windows: &[PromDuration],
    n: usize,
    group_by: &[String],
    series: impl IntoIterator<Item = TaggedSeries<'a>>,
) -> Vec<(GroupLabels, DimensionColumns)> {
    let mut groups: BTreeMap<GroupLabels, Partial> = BTreeMap::new();
    if group_by.is_empty() {
        groups.insert(GroupLabels::new(), Partial::new(dim, windows.len(), n));
    }
    for s in series {
        let Some((part, window)) = s.key.split_once('/') else {
            continue;
        };
        let Some(i) = windows.iter().position(|w| w.as_str() == window) else {
            continue;
        };
        groups
            .entry(group_of(group_by, s.labels))
            .or_insert_with(|| Partial::new(dim, windows.len(), n))
            .add(part, i, s.labels, s.values);
    }
    groups
        .into_iter()
        .map(|(group, partial)| (group, partial.finish()))
        .collect()
}

/// The instant answer `(tag, labels, value)` of one dimension's query, per group.
pub fn decode_instant_grouped<'a>(
    dim: Dimension,
    windows: &[PromDuration],
    group_by: &[String],
    samples: impl IntoIterator<Item = (&'a str, &'a Labels, f64)>,
) -> Grouped {
    let columns = decode_dimension(
        dim,
        windows,
        1,
        group_by,
        samples
            .into_iter()
            .map(|(key, labels, value)| TaggedSeries {
                key,
                labels,
                values: vec![Some(value)],
            }),
    );
    Grouped(
        columns
            .into_iter()
            .map(|(group, columns)| {
                let mut out = Measurement::empty(dim);
                fill(&columns, 0, &mut out);
                (group, out)
            })
            .collect(),
    )
}

/// The instant answer of one dimension's query of an SLO without groups.
pub fn decode_instant<'a>(
    dim: Dimension,
    windows: &[PromDuration],
    samples: impl IntoIterator<Item = (&'a str, &'a Labels, f64)>,
) -> Measurement {
    decode_instant_grouped(dim, windows, &[], samples)
        .0
        .pop()
        .map_or_else(|| Measurement::empty(dim), |(_, m)| m)
}

/// The rates of one dimension at step `i`, written into `out`, reusing its buffers.
pub(crate) fn fill(columns: &DimensionColumns, i: usize, out: &mut Measurement) {
    match (columns, out) {
        (DimensionColumns::Error(windows), Measurement::Error(out)) => {
            out.clear();
            out.extend(windows.iter().map(|c| ErrorRates {
                bad: c.bad[i],
                total: c.total[i],
            }));
        }
        (DimensionColumns::Latency(windows), Measurement::Latency(out)) => {
            out.truncate(windows.len());
            out.resize_with(windows.len(), HistogramRates::default);
            for (h, c) in out.iter_mut().zip(windows) {
                h.buckets.clear();
                h.buckets.extend(
                    c.buckets
                        .iter()
                        .filter_map(|(le, col)| col[i].map(|rate| Bucket { le: *le, rate })),
                );
                h.count = c.count[i];
                h.fraction = c.fraction[i];
                h.quantile = c.quantile[i];
            }
        }
        (DimensionColumns::Error(_), out) => {
            *out = Measurement::Error(Vec::new());
            fill(columns, i, out);
        }
        (DimensionColumns::Latency(_), out) => {
            *out = Measurement::Latency(Vec::new());
            fill(columns, i, out);
        }
    }
}

impl DimensionColumns {
    /// Whether any series of these columns has a value at step `i`: whether the instant
    /// query at that step would have answered anything for the group.
    pub(crate) fn present(&self, i: usize) -> bool {
        match self {
            DimensionColumns::Error(w) => {
                w.iter().any(|c| c.bad[i].is_some() || c.total[i].is_some())
            }
            DimensionColumns::Latency(w) => w.iter().any(|c| {
                c.count[i].is_some()
                    || c.fraction[i].is_some()
                    || c.buckets.iter().any(|(_, col)| col[i].is_some())
            }),
        }
    }
}

/// Every rate one SLO needs, at every step of a replay, per group.
#[derive(Debug, Clone)]
pub struct StepRates {
    steps: Steps,
    /// By `Dimension::index`, per group (ordered by labels); `None` for a dimension the SLO
    /// does not have.
    dims: [Option<BTreeMap<GroupLabels, DimensionColumns>>; 2],
}

impl StepRates {
    pub(crate) fn new(steps: Steps) -> StepRates {
        StepRates {
            steps,
            dims: [None, None],
        }
    }

    pub(crate) fn steps(&self) -> Steps {
        self.steps
    }

    pub(crate) fn set(&mut self, dim: Dimension, columns: Vec<(GroupLabels, DimensionColumns)>) {
        self.dims[dim.index()] = Some(columns.into_iter().collect());
    }

    /// Every group any dimension has series of, ordered by labels.
    pub(crate) fn groups(&self) -> Vec<GroupLabels> {
        let mut groups: Vec<GroupLabels> = self
            .dims
            .iter()
            .flatten()
            .flat_map(|by_group| by_group.keys().cloned())
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }

    /// The columns of one group in one dimension: `Err` when the dimension was not
    /// prepared, `Ok(None)` when it has no series of the group.
    pub(crate) fn columns(
        &self,
        dim: Dimension,
        group: &GroupLabels,
    ) -> Result<Option<&DimensionColumns>, SourceError> {
        match &self.dims[dim.index()] {
            Some(by_group) => Ok(by_group.get(group)),
            None => Err(SourceError::failed(format!(
                "dimension {} was not prepared",
                dim.as_str()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_sorts_samples_by_tag() {
        let w = [
            PromDuration::parse("5m").unwrap(),
            PromDuration::parse("1h").unwrap(),
        ];
        let labels = |le: Option<&str>| -> Labels {
            le.map(|l| ("le".to_string(), l.to_string()))
                .into_iter()
                .collect()
        };
        let (b1, b2, none) = (labels(Some("0.1")), labels(Some("+Inf")), labels(None));
        let m = decode_instant(
            Dimension::Latency,
            &w,
            [
                ("bucket/5m", &b2, 4.0),
                ("bucket/5m", &b1, 3.0),
                ("count/5m", &none, 4.0),
                ("count/2h", &none, 9.0),
            ],
        );
        let Measurement::Latency(m) = m else { panic!() };
        assert_eq!(m.len(), 2, "one entry per window asked for");
        assert_eq!(
            m[0].buckets,
            [
                Bucket { le: 0.1, rate: 3.0 },
                Bucket {
                    le: f64::INFINITY,
                    rate: 4.0
                }
            ],
            "ordered by bound"
        );
        assert_eq!(m[0].count, Some(4.0));
        assert_eq!(m[1], HistogramRates::default());
    }

    #[test]
    fn decode_splits_series_by_group() {
        let w = [PromDuration::parse("5m").unwrap()];
        let labels = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let (eu, us, bare) = (
            labels(&[("cluster", "eu1"), ("zone", "")]),
            labels(&[("cluster", "us1")]),
            labels(&[]),
        );
        let group_by = ["cluster".to_string(), "zone".to_string()];
        let grouped = decode_instant_grouped(
            Dimension::Error,
            &w,
            &group_by,
            [
                ("total/5m", &us, 10.0),
                ("bad/5m", &eu, 1.0),
                ("total/5m", &eu, 4.0),
                ("total/5m", &bare, 2.0),
            ],
        );
        let groups: Vec<&GroupLabels> = grouped.0.iter().map(|(g, _)| g).collect();
        assert_eq!(
            groups,
            [
                &labels(&[]),
                &labels(&[("cluster", "eu1")]),
                &labels(&[("cluster", "us1")])
            ],
            "ordered by labels, an empty label absent"
        );
        let rates = |total, bad| Measurement::Error(vec![ErrorRates { bad, total }]);
        assert_eq!(grouped.0[1].1, rates(Some(4.0), Some(1.0)));
        assert_eq!(grouped.0[2].1, rates(Some(10.0), None));
        assert!(
            decode_instant_grouped(Dimension::Error, &w, &group_by, [])
                .0
                .is_empty()
        );
        assert_eq!(
            decode_instant_grouped(Dimension::Error, &w, &[], [])
                .0
                .len(),
            1
        );
    }
}
