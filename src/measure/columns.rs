//! The rates of one SLO at a run of instants, held column by column, and the one decoder
//! that fills them.
//!
//! Every path answers the same tagged query (`measure::query`): the backend's instant query
//! (one instant), `query_range` (every step), or burnrate's own evaluator over raw samples
//! (either). Their series go through [`decode_dimension`] into these columns, and
//! `engine::Source` reads them back as `Measurement`s, so no path decodes differently.

use super::query::{KEY_LABEL, parse_float};
use crate::duration::PromDuration;
use crate::engine::{Bucket, ErrorRates, HistogramRates, Measurement, Source, SourceError};
use crate::promql::{Labels, Steps};
use crate::spec::{Dimension, SloSpec};
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

/// Sorts the tagged series of one dimension's query back into per-window columns of `n`
/// steps, aligned with `windows`. Series without a recognizable tag are ignored (they cannot
/// be attributed to a window); values that are not numbers are kept as NaN and the engine
/// treats them as missing; a bucket whose `le` does not parse makes its window unusable, as
/// in Prometheus.
pub(crate) fn decode_dimension<'a>(
    dim: Dimension,
    windows: &[PromDuration],
    n: usize,
    series: impl IntoIterator<Item = TaggedSeries<'a>>,
) -> DimensionColumns {
    let tagged = series.into_iter().filter_map(|s| {
        let (part, window) = s.key.split_once('/')?;
        let i = windows.iter().position(|w| w.as_str() == window)?;
        Some((part, i, s))
    });
    match dim {
        Dimension::Error => {
            let mut out: Vec<ErrorColumns> = windows
                .iter()
                .map(|_| ErrorColumns {
                    bad: vec![None; n],
                    total: vec![None; n],
                })
                .collect();
            for (part, i, s) in tagged {
                match part {
                    "bad" => out[i].bad = s.values,
                    "total" => out[i].total = s.values,
                    _ => {}
                }
            }
            DimensionColumns::Error(out)
        }
        Dimension::Latency => {
            let mut by_le: Vec<BTreeMap<String, (f64, Column)>> =
                windows.iter().map(|_| BTreeMap::new()).collect();
            let mut count: Vec<Column> = windows.iter().map(|_| vec![None; n]).collect();
            for (part, i, s) in tagged {
                match part {
                    "count" => count[i] = s.values,
                    "bucket" => {
                        let le = s.labels.get("le").cloned().unwrap_or_default();
                        let bound = parse_float(&le).unwrap_or(f64::NAN);
                        by_le[i].insert(le, (bound, s.values));
                    }
                    _ => {}
                }
            }
            DimensionColumns::Latency(
                by_le
                    .into_iter()
                    .zip(count)
                    .map(|(by_le, count)| {
                        let mut buckets: Vec<(f64, Column)> = by_le.into_values().collect();
                        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                        LatencyColumns { buckets, count }
                    })
                    .collect(),
            )
        }
    }
}

/// The instant answer `(labels, value)` of one dimension's query as its `Measurement`.
pub fn decode_instant<'a>(
    dim: Dimension,
    windows: &[PromDuration],
    samples: impl IntoIterator<Item = (&'a str, &'a Labels, f64)>,
) -> Measurement {
    let columns = decode_dimension(
        dim,
        windows,
        1,
        samples
            .into_iter()
            .map(|(key, labels, value)| TaggedSeries {
                key,
                labels,
                values: vec![Some(value)],
            }),
    );
    let mut out = Measurement::Error(Vec::new());
    fill(&columns, 0, &mut out);
    out
}

/// The rates of one dimension at step `i`, written into `out`, reusing its buffers.
fn fill(columns: &DimensionColumns, i: usize, out: &mut Measurement) {
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

/// Every rate one SLO needs, at every step of a replay.
#[derive(Debug, Clone)]
pub struct StepRates {
    steps: Steps,
    /// By `Dimension::index`; `None` for a dimension the SLO does not have.
    dims: [Option<DimensionColumns>; 2],
}

impl StepRates {
    pub(crate) fn new(steps: Steps) -> StepRates {
        StepRates {
            steps,
            dims: [None, None],
        }
    }

    pub(crate) fn set(&mut self, dim: Dimension, columns: DimensionColumns) {
        self.dims[dim.index()] = Some(columns);
    }

    fn fill(&self, dim: Dimension, i: usize, out: &mut Measurement) -> Result<(), SourceError> {
        match &self.dims[dim.index()] {
            Some(columns) => {
                fill(columns, i, out);
                Ok(())
            }
            None => Err(SourceError::failed(format!(
                "dimension {} was not prepared",
                dim.as_str()
            ))),
        }
    }

    fn step_index(&self, at_ms: i64) -> Result<usize, SourceError> {
        self.steps.index(at_ms).ok_or_else(|| {
            SourceError::failed(format!(
                "no replay step at {}",
                crate::time::format_time(at_ms)
            ))
        })
    }
}

impl Source for StepRates {
    async fn measure(
        &self,
        _slo: &SloSpec,
        dimension: Dimension,
        at_ms: i64,
    ) -> Result<Measurement, SourceError> {
        let i = self.step_index(at_ms)?;
        let mut out = Measurement::Error(Vec::new());
        self.fill(dimension, i, &mut out)?;
        Ok(out)
    }

    async fn measure_into(
        &self,
        _slo: &SloSpec,
        dimension: Dimension,
        at_ms: i64,
        out: &mut Result<Measurement, SourceError>,
    ) {
        let filled = self.step_index(at_ms).and_then(|i| match out {
            Ok(m) => self.fill(dimension, i, m),
            Err(_) => {
                let mut m = Measurement::Error(Vec::new());
                self.fill(dimension, i, &mut m)?;
                *out = Ok(m);
                Ok(())
            }
        });
        if let Err(e) = filled {
            *out = Err(e);
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
}
