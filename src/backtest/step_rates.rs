//! The rates of one SLO at every step of a replay, held column by column.
//!
//! Two origins fill the same columns: the local rate engine over raw samples (a history
//! file, or raw series fetched once from a backend), and `query_range` of the very query
//! `check` sends (for raw-PromQL SLIs, and to measure what the local engine saves). Both then
//! serve the replay through `engine::Source`, so the evaluation after them is the same code.

use crate::backend::PromClient;
use crate::backend::client::RangeSeries;
use crate::backend::query::{KEY_LABEL, dimension_query, parse_float};
use crate::duration::PromDuration;
use crate::engine::{Bucket, ErrorRates, HistogramRates, Measurement, Source, SourceError};
use crate::history::matcher::SeriesMatcher;
use crate::history::rate::{WindowBounds, rates_over};
use crate::history::{History, Series};
use crate::spec::selector::Selector;
use crate::spec::{Dimension, ErrorEvents, ServiceSpec, SloSpec};
use std::collections::BTreeMap;

/// Evaluation instants `from, from + step, ..., <= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub from_ms: i64,
    pub to_ms: i64,
    pub step_ms: i64,
}

impl Steps {
    pub fn count(&self) -> usize {
        if self.to_ms < self.from_ms {
            0
        } else {
            ((self.to_ms - self.from_ms) / self.step_ms + 1) as usize
        }
    }

    pub fn at(&self, i: usize) -> i64 {
        self.from_ms + i as i64 * self.step_ms
    }

    fn index(&self, at_ms: i64) -> Option<usize> {
        let offset = at_ms - self.from_ms;
        (offset >= 0 && offset % self.step_ms == 0)
            .then(|| (offset / self.step_ms) as usize)
            .filter(|i| *i < self.count())
    }
}

/// One value per step; `None` where the sum had no series.
type Column = Vec<Option<f64>>;

#[derive(Debug, Clone, Default)]
struct ErrorColumns {
    bad: Column,
    total: Column,
}

#[derive(Debug, Clone, Default)]
struct LatencyColumns {
    /// Per `le` as written: its numeric bound and rate column, ordered by bound (equal
    /// bounds in the order of their `le` text, as a stable sort of the text order gives).
    buckets: Vec<(f64, Column)>,
    count: Column,
}

impl LatencyColumns {
    /// From columns keyed by `le` as written.
    fn new(by_le: BTreeMap<String, (f64, Column)>, count: Column) -> LatencyColumns {
        let mut buckets: Vec<(f64, Column)> = by_le.into_values().collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        LatencyColumns { buckets, count }
    }
}

/// The columns of one dimension, one entry per window of `SloSpec::measured_windows`.
#[derive(Debug, Clone)]
enum DimensionColumns {
    Error(Vec<ErrorColumns>),
    Latency(Vec<LatencyColumns>),
}

/// Every rate one SLO needs, at every step.
#[derive(Debug, Clone)]
pub struct StepRates {
    steps: Steps,
    /// By `Dimension::index`; `None` for a dimension the SLO does not have.
    dims: [Option<DimensionColumns>; 2],
}

/// Adds `rate` into the running sum `acc` the way `sum()` does: absent series contribute
/// nothing, and the sum exists as soon as one series has a value.
fn add_into(acc: &mut Column, rates: &[Option<f64>]) {
    for (a, r) in acc.iter_mut().zip(rates) {
        if let Some(r) = r {
            *a = Some(a.unwrap_or(0.0) + r);
        }
    }
}

fn select<'a>(history: &'a History, sel: &Selector) -> Result<Vec<&'a Series>, String> {
    let matcher = SeriesMatcher::new(sel)?;
    Ok(history
        .series
        .iter()
        .filter(|s| matcher.matches(&s.labels))
        .collect())
}

fn summed(series: &[&Series], steps: &Steps, window: &PromDuration) -> Column {
    let mut acc = vec![None; steps.count()];
    for s in series {
        let rates = rates_over(
            &s.samples,
            steps.from_ms,
            steps.to_ms,
            steps.step_ms,
            window.millis(),
            WindowBounds::ClosedLeft,
        );
        add_into(&mut acc, &rates);
    }
    acc
}

/// Whether an SLO can be replayed from raw samples (raw PromQL SLIs cannot).
pub fn computable_locally(slo: &SloSpec) -> bool {
    !matches!(
        slo.error.as_ref().map(|e| &e.events),
        Some(ErrorEvents::Queries { .. })
    )
}

impl StepRates {
    /// Computes every window of every dimension locally from raw samples.
    pub fn from_history(
        history: &History,
        slo: &SloSpec,
        steps: Steps,
    ) -> Result<StepRates, String> {
        let mut dims = [None, None];
        for dim in slo.dimensions() {
            let windows = slo.measured_windows(dim);
            let columns = match dim {
                Dimension::Error => {
                    let Some(ErrorEvents::Selectors { bad, total }) =
                        slo.error.as_ref().map(|e| &e.events)
                    else {
                        return Err(format!(
                            "SLO {:?} uses raw PromQL (bad_query/total_query), which cannot be computed from raw samples; \
                             replay it with --prometheus",
                            slo.name
                        ));
                    };
                    let (bad, total) = (select(history, bad)?, select(history, total)?);
                    DimensionColumns::Error(
                        windows
                            .iter()
                            .map(|w| ErrorColumns {
                                bad: summed(&bad, &steps, w),
                                total: summed(&total, &steps, w),
                            })
                            .collect(),
                    )
                }
                Dimension::Latency => {
                    let latency = slo.latency.as_ref().expect("dimension present");
                    let bucket_sel = latency.histogram.with_suffix("_bucket").expect("validated");
                    let count_sel = latency.histogram.with_suffix("_count").expect("validated");
                    let (bucket_series, count_series) =
                        (select(history, &bucket_sel)?, select(history, &count_sel)?);
                    let mut by_le: BTreeMap<String, Vec<&Series>> = BTreeMap::new();
                    for s in bucket_series {
                        by_le
                            .entry(s.labels.get("le").cloned().unwrap_or_default())
                            .or_default()
                            .push(s);
                    }
                    DimensionColumns::Latency(
                        windows
                            .iter()
                            .map(|w| {
                                let buckets = by_le
                                    .iter()
                                    .map(|(le, series)| {
                                        (
                                            le.clone(),
                                            (
                                                parse_float(le).unwrap_or(f64::NAN),
                                                summed(series, &steps, w),
                                            ),
                                        )
                                    })
                                    .collect();
                                LatencyColumns::new(buckets, summed(&count_series, &steps, w))
                            })
                            .collect(),
                    )
                }
            };
            dims[dim.index()] = Some(columns);
        }
        Ok(StepRates { steps, dims })
    }

    /// Asks the backend for the same per-dimension query `check` sends, over the whole range
    /// with `query_range`.
    pub async fn from_range_query(
        client: &PromClient,
        slo: &SloSpec,
        steps: Steps,
    ) -> Result<StepRates, SourceError> {
        let mut dims = [None, None];
        for dim in slo.dimensions() {
            let windows = slo.measured_windows(dim);
            let query = dimension_query(slo, dim, windows);
            let result = client
                .range(&query, steps.from_ms, steps.to_ms, steps.step_ms)
                .await?;
            for w in &result.warnings {
                tracing::warn!(slo = %slo.name, "backend warning: {w}");
            }
            dims[dim.index()] = Some(columns_from_range(dim, windows, &result.series, &steps));
        }
        Ok(StepRates { steps, dims })
    }

    pub fn steps(&self) -> Steps {
        self.steps
    }
}

fn columns_from_range(
    dim: Dimension,
    windows: &[PromDuration],
    series: &[RangeSeries],
    steps: &Steps,
) -> DimensionColumns {
    let n = steps.count();
    let column = |s: &RangeSeries| -> Column {
        let mut col = vec![None; n];
        for &(t, v) in &s.points {
            if let Some(i) = steps.index(t) {
                col[i] = Some(v);
            }
        }
        col
    };
    let tagged = series.iter().filter_map(|s| {
        let (part, window) = s.labels.get(KEY_LABEL)?.split_once('/')?;
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
                let cols = &mut out[i];
                match part {
                    "bad" => cols.bad = column(s),
                    "total" => cols.total = column(s),
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
                    "count" => count[i] = column(s),
                    "bucket" => {
                        let le = s.labels.get("le").cloned().unwrap_or_default();
                        let bound = parse_float(&le).unwrap_or(f64::NAN);
                        by_le[i].insert(le, (bound, column(s)));
                    }
                    _ => {}
                }
            }
            DimensionColumns::Latency(
                by_le
                    .into_iter()
                    .zip(count)
                    .map(|(buckets, count)| LatencyColumns::new(buckets, count))
                    .collect(),
            )
        }
    }
}

impl StepRates {
    /// The rates of one dimension at step `i`, written into `out`, reusing its buffers.
    fn fill(
        &self,
        dimension: Dimension,
        i: usize,
        out: &mut Measurement,
    ) -> Result<(), SourceError> {
        match (&self.dims[dimension.index()], out) {
            (Some(DimensionColumns::Error(windows)), Measurement::Error(out)) => {
                out.clear();
                out.extend(windows.iter().map(|c| ErrorRates {
                    bad: c.bad[i],
                    total: c.total[i],
                }));
            }
            (Some(DimensionColumns::Latency(windows)), Measurement::Latency(out)) => {
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
            (Some(DimensionColumns::Error(_)), out) => {
                *out = Measurement::Error(Vec::new());
                return self.fill(dimension, i, out);
            }
            (Some(DimensionColumns::Latency(_)), out) => {
                *out = Measurement::Latency(Vec::new());
                return self.fill(dimension, i, out);
            }
            (None, _) => {
                return Err(SourceError::new(format!(
                    "dimension {} was not prepared",
                    dimension.as_str()
                )));
            }
        }
        Ok(())
    }

    fn step_index(&self, at_ms: i64) -> Result<usize, SourceError> {
        self.steps.index(at_ms).ok_or_else(|| {
            SourceError::new(format!(
                "no replay step at {}",
                crate::time::format_time(at_ms)
            ))
        })
    }
}

impl Source for StepRates {
    async fn measure(
        &self,
        _service: &ServiceSpec,
        _slo: &SloSpec,
        dimension: Dimension,
        _windows: &[PromDuration],
        at_ms: i64,
    ) -> Result<Measurement, SourceError> {
        let i = self.step_index(at_ms)?;
        let mut out = Measurement::Error(Vec::new());
        self.fill(dimension, i, &mut out)?;
        Ok(out)
    }

    async fn measure_into(
        &self,
        _service: &ServiceSpec,
        _slo: &SloSpec,
        dimension: Dimension,
        _windows: &[PromDuration],
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
    use crate::history::Sample;

    fn series(name: &str, labels: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
        let mut l: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.insert("__name__".into(), name.into());
        Series {
            labels: l,
            samples: points
                .iter()
                .map(|&(t_ms, value)| Sample { t_ms, value })
                .collect(),
        }
    }

    #[test]
    fn sums_series_that_have_a_rate() {
        let pts: Vec<(i64, f64)> = (0..10).map(|i| (i * 15_000, i as f64 * 15.0)).collect();
        let late: Vec<(i64, f64)> = (8..10).map(|i| (i * 15_000, i as f64 * 30.0)).collect();
        let history = History {
            series: vec![
                series("c_total", &[("i", "a")], &pts),
                series("c_total", &[("i", "b")], &late),
            ],
        };
        let sel = crate::spec::selector::parse_selector("c_total").unwrap();
        let picked = select(&history, &sel).unwrap();
        let steps = Steps {
            from_ms: 60_000,
            to_ms: 135_000,
            step_ms: 75_000,
        };
        let col = summed(&picked, &steps, &PromDuration::parse("1m").unwrap());
        // At 60 s only series a has samples (1/s). At 135 s series b adds its 30 over 15 s,
        // extrapolated by half an interval towards a window start 45 s away: 30 * 1.5 / 60.
        assert_eq!(col.len(), 2);
        assert!((col[0].unwrap() - 1.0).abs() < 1e-12);
        assert!((col[1].unwrap() - 1.75).abs() < 1e-12, "{col:?}");
    }
}
