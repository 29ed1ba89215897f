//! Recorded history: raw samples of counters and histogram buckets, loaded from files
//! (OpenMetrics text with timestamps, or a saved `query_range` JSON response), and the
//! reference walk of Prometheus 2.42's `rate()` that tests check the evaluator against.
//!
//! This is what lets `backtest` replay weeks of evaluations without asking a backend for
//! every window at every step (`measure::local` turns a `History` into the evaluator's
//! storage).

pub mod parse;
pub mod rate;

use std::collections::BTreeMap;

/// One time series: its labels (the metric name under `__name__`) and its samples in
/// increasing time order (Unix milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub t_ms: i64,
    pub value: f64,
}

/// A set of series, e.g. everything one history file holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub series: Vec<Series>,
}

impl History {
    /// First and last sample time over all series, if there is any sample.
    pub fn span(&self) -> Option<(i64, i64)> {
        self.series
            .iter()
            .filter_map(|s| Some((s.samples.first()?.t_ms, s.samples.last()?.t_ms)))
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
    }
}
