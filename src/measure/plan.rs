//! What measuring one SLO takes, derived once per SLO: per dimension, the tagged query every
//! path evaluates, whether burnrate's own evaluator can answer it, and which raw samples that
//! reads (selectors and how far back they reach).
//!
//! Selector SLIs and raw-PromQL SLIs are planned alike: both become the same query text
//! (`measure::query`), and that text is what is parsed for local evaluation. A query outside
//! the evaluator's subset keeps its text (the backend can answer it) and the reason it is
//! not local.

use super::query::dimension_query;
use crate::promql::{Flavor, Query, QueryError, SelectorNeed};
use crate::spec::{Dimension, SloSpec};

/// One dimension's query.
#[derive(Debug, Clone)]
pub(crate) struct DimensionQuery {
    pub(crate) dimension: Dimension,
    /// The tagged instant query of every measured window, as `check` sends it.
    pub(crate) text: String,
    /// The same text parsed for local evaluation, or why it cannot be evaluated locally.
    pub(crate) local: Result<Query, QueryError>,
}

/// The queries of every dimension an SLO has, in `SloSpec::dimensions` order.
#[derive(Debug, Clone)]
pub struct MeasurePlan {
    dims: Vec<DimensionQuery>,
}

impl MeasurePlan {
    pub fn new(slo: &SloSpec) -> MeasurePlan {
        MeasurePlan {
            dims: slo
                .dimensions()
                .map(|dimension| {
                    let text = dimension_query(slo, dimension, slo.measured_windows(dimension));
                    let local = Query::parse(&text);
                    DimensionQuery {
                        dimension,
                        text,
                        local,
                    }
                })
                .collect(),
        }
    }

    pub(crate) fn dims(&self) -> &[DimensionQuery] {
        &self.dims
    }

    pub(crate) fn dim(&self, dimension: Dimension) -> Option<&DimensionQuery> {
        self.dims.iter().find(|d| d.dimension == dimension)
    }

    /// Why some dimension cannot be evaluated locally (the first one), if any.
    pub fn not_local(&self) -> Option<&QueryError> {
        self.dims.iter().find_map(|d| d.local.as_ref().err())
    }

    /// Every selector the local queries read under `flavor`'s instant-query semantics, each
    /// once with its longest reach.
    pub(crate) fn selectors(&self, flavor: Flavor) -> Vec<SelectorNeed> {
        let mut out: Vec<SelectorNeed> = Vec::new();
        for query in self.dims.iter().filter_map(|d| d.local.as_ref().ok()) {
            for need in query.selectors_for(flavor, None) {
                match out.iter_mut().find(|n| n.matchers == need.matchers) {
                    Some(n) => n.reach_ms = n.reach_ms.max(need.reach_ms),
                    None => out.push(need),
                }
            }
        }
        out
    }
}
