//! What a data source delivers for one dimension of one SLO at one instant.
//!
//! Sources deliver rates (per second, summed over all matching series), never burn rates:
//! the math from rates to burns lives in one place (`sli`) whichever source measured them.

use crate::spec::Dimension;
use std::collections::BTreeMap;
use thiserror::Error;

/// `sum(rate(BAD[w]))` and `sum(rate(TOTAL[w]))`. `None` means the selector matched no
/// series (or the value was not a number); what that means is decided in `sli`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ErrorRates {
    pub bad: Option<f64>,
    pub total: Option<f64>,
}

/// One `le` bucket of `sum by (le) (rate(H_bucket[w]))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Upper bound, parsed numerically (`"1"` and `"1.0"` are the same bound).
    pub le: f64,
    pub rate: f64,
}

/// One window of a latency SLI. A classic histogram: bucket rates and
/// `sum(rate(H_count[w]))`. A native histogram: `histogram_count`, `histogram_fraction` at
/// the threshold and `histogram_quantile` of `sum(rate(H[w]))`, no buckets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramRates {
    pub buckets: Vec<Bucket>,
    pub count: Option<f64>,
    /// Native only: the share of requests within the threshold, as the backend computed it.
    pub fraction: Option<f64>,
    /// Native only: the SLO's quantile, as the backend computed it.
    pub quantile: Option<f64>,
}

/// The rates of one dimension, one entry per window, in the order of the windows the source
/// was asked for (`SloSpec::measured_windows`). A missing entry counts as a window whose
/// total had no series.
#[derive(Debug, Clone, PartialEq)]
pub enum Measurement {
    Error(Vec<ErrorRates>),
    Latency(Vec<HistogramRates>),
}

impl Measurement {
    /// A measurement of `dim` with no window measured (every window without series): what a
    /// group that one dimension's answer lacks measured there.
    pub fn empty(dim: Dimension) -> Measurement {
        match dim {
            Dimension::Error => Measurement::Error(Vec::new()),
            Dimension::Latency => Measurement::Latency(Vec::new()),
        }
    }

    pub(crate) fn dimension(&self) -> Dimension {
        match self {
            Measurement::Error(_) => Dimension::Error,
            Measurement::Latency(_) => Dimension::Latency,
        }
    }
}

/// The values of an SLO's `group_by` labels that one group's series carry (a label a series
/// lacks is absent, as in Prometheus's `sum by`); empty for an SLO without `group_by`.
pub type GroupLabels = BTreeMap<String, String>;

/// One dimension's rates, per group, ordered by the groups' labels: what a source delivers,
/// since one query measures every group (`sum by (G, ...)`). An SLO without `group_by` has
/// exactly one group, with no labels, whether or not any series matched; an SLO with it has
/// the groups the answer holds, which may be none.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Grouped(pub Vec<(GroupLabels, Measurement)>);

impl Grouped {
    /// The one measurement of an SLO without `group_by`.
    pub fn single(measurement: Measurement) -> Grouped {
        Grouped(vec![(GroupLabels::new(), measurement)])
    }

    pub fn get(&self, group: &GroupLabels) -> Option<&Measurement> {
        self.0.iter().find(|(g, _)| g == group).map(|(_, m)| m)
    }
}

/// Why a source could not measure a dimension. The message is shown to users, so it must
/// never contain secrets (tokens, header values, URL credentials).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct SourceError {
    pub(crate) message: String,
    pub(crate) kind: SourceErrorKind,
}

/// What a failure says about asking again: callers decide from it whether to retry the
/// query without its batch, or to stop asking a backend that is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceErrorKind {
    /// This measurement failed (a bad answer, a query outside the local subset, ...);
    /// nothing is known about other queries.
    Failed,
    /// The backend answered and refused the query itself (HTTP 4xx, `bad_data`): asking
    /// again with the same query cannot help, but asking without it can.
    Rejected,
    /// The backend could not be reached, timed out or failed (5xx) after every retry: other
    /// queries to it now are likely to fail the same way.
    Unavailable,
}

impl SourceError {
    pub(crate) fn failed(message: impl Into<String>) -> SourceError {
        SourceError {
            message: message.into(),
            kind: SourceErrorKind::Failed,
        }
    }

    /// An error for a query the backend refused.
    pub(crate) fn rejected(message: impl Into<String>) -> SourceError {
        SourceError {
            message: message.into(),
            kind: SourceErrorKind::Rejected,
        }
    }

    /// An error for a backend that stayed unreachable or failing through every retry.
    pub(crate) fn unavailable(message: impl Into<String>) -> SourceError {
        SourceError {
            message: message.into(),
            kind: SourceErrorKind::Unavailable,
        }
    }

    pub(crate) fn is_rejected(&self) -> bool {
        self.kind == SourceErrorKind::Rejected
    }

    pub(crate) fn is_unavailable(&self) -> bool {
        self.kind == SourceErrorKind::Unavailable
    }
}
