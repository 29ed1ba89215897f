//! burnrate's own PromQL evaluator: the subset SLI queries use (PRODUCT.md, "Raw PromQL
//! SLIs"), evaluated over raw samples with the semantics of the backend that stored them.
//!
//! Why it exists: a raw-PromQL SLI (`bad_query`, what importers produce) must replay from a
//! history file and run incrementally in the daemon, and a selector SLI is just its special
//! case (`sum(rate(SEL[w]))`), so one evaluator computes every local number and the
//! product's "one number, whichever path computed it" holds by construction. Parsing is the
//! maintained `promql-parser` crate; evaluation transcribes Prometheus 2.42's
//! `promql/engine.go` and `promql/functions.go` operation for operation (summation order
//! included), proven by Prometheus's own test scripts (`tests/promql_scripts.rs`) and against
//! a real Prometheus (`tests/promql_matches_prometheus.rs`). [`Flavor`] selects whose
//! semantics: 3.x's changes are seams in the same code (proven by the 3.x scripts), and
//! VictoriaMetrics's rollups are their own module (`victoriametrics.rs`, proven against a
//! real VictoriaMetrics by `tests/promql_matches_victoriametrics.rs`).
//!
//! - [`Query::parse`] parses and rejects what is outside the subset, naming where.
//! - [`Query::selectors`] says which raw samples an evaluation reads (for fetch planning).
//! - [`eval_instant`] and [`eval_range`] evaluate over any [`Storage`] as the flavor's
//!   `/api/v1/query` and `/api/v1/query_range` would; [`eval_instants`] as instant queries at
//!   every step (what a backtest replays); [`MemStorage`] is the in-memory storage (history
//!   files, raw samples fetched from a backend, the daemon).

mod aggregate;
mod binary;
mod check;
pub(crate) mod chunk;
mod eval;
mod functions;
mod gomath;
mod histogram;
pub(crate) mod rollup;
pub(crate) mod series;
mod shared;
mod storage;
mod victoriametrics;

pub(crate) use check::within_limits;
pub use series::SeriesSamples;
pub use storage::{MemStorage, Storage};

use std::collections::BTreeMap;
use std::fmt;

/// A series' labels, the metric name under `__name__`; iteration order is Prometheus's label
/// order (byte-wise by name).
pub type Labels = BTreeMap<String, String>;

/// Whose semantics an evaluation follows. The contract names all three; each function that
/// differs between them takes it into account.
///
/// An instant evaluation with `VictoriaMetrics` answers as its `/api/v1/query` without a
/// `step` argument (step 5m); a range evaluation as `/api/v1/query_range` at the same step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Flavor {
    /// Prometheus 2.x (2.42): range selectors select `[t - w, t]`, lookback `[t - 5m, t]`.
    #[default]
    Prometheus2,
    /// Prometheus 3.x: left-open ranges `(t - w, t]` and lookback `(t - 5m, t]`.
    Prometheus3,
    /// VictoriaMetrics (1.79): its rollup functions (`rate` without extrapolation from the
    /// sample before the window, ...), its instant-selector lookback, NaN as no value.
    VictoriaMetrics,
}

/// Why a query cannot be evaluated locally, or failed. `offset` is a byte offset into the
/// query text where that is known (the parser's error position, or the unsupported node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub message: String,
    pub offset: Option<usize>,
    /// True when the query is valid PromQL that this evaluator does not implement (the
    /// backend can still answer it); false for a parse or evaluation error.
    pub unsupported: bool,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

/// A parsed query inside the evaluator's subset.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    expr: promql_parser::parser::Expr,
    /// Subtrees it holds more than once (`shared`), evaluated once per evaluation.
    shared: Vec<(shared::Path, usize)>,
}

/// One selector an evaluation reads and how far back from the evaluation time: its range,
/// its offset and, for an instant selector, the lookback delta.
#[derive(Debug, Clone)]
pub struct SelectorNeed {
    /// Every matcher of the selector, the metric name included as a `__name__` equality
    /// matcher (so a fetch for it can be written from these alone).
    pub matchers: promql_parser::label::Matchers,
    /// Samples in `[t - reach_ms, t - min_offset_ms]` (all offsets folded in) are read.
    pub reach_ms: i64,
}

/// Evaluation instants `start, start + step, ..., <= end` (Unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

impl Steps {
    /// One instant.
    pub fn at(t_ms: i64) -> Steps {
        Steps {
            start_ms: t_ms,
            end_ms: t_ms,
            step_ms: 1,
        }
    }

    /// How many steps; never overflows, whatever the bounds (callers bound it, e.g.
    /// `limits::MAX_STEPS` for a replay).
    pub fn count(&self) -> usize {
        if self.end_ms < self.start_ms || self.step_ms <= 0 {
            0
        } else {
            let steps = self.end_ms.abs_diff(self.start_ms) / self.step_ms.unsigned_abs() + 1;
            usize::try_from(steps).unwrap_or(usize::MAX)
        }
    }

    pub fn time(&self, i: usize) -> i64 {
        self.start_ms + i as i64 * self.step_ms
    }

    /// The index of the step at `t_ms`, if it is one.
    pub fn index(&self, t_ms: i64) -> Option<usize> {
        let offset = t_ms.checked_sub(self.start_ms)?;
        (offset >= 0 && self.step_ms > 0 && offset % self.step_ms == 0)
            .then(|| (offset / self.step_ms) as usize)
            .filter(|i| *i < self.count())
    }
}

/// The result of an instant evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    /// Series in the order Prometheus returns them from the engine (before the API sorts).
    Vector(Vec<(Labels, f64)>),
    /// A range selector evaluated at the instant: each series' samples `(t_ms, value)`.
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
    String(String),
}

/// One series of a range evaluation: a value or nothing at each step.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    /// `values[i]` is the value at `Steps::time(i)`.
    pub values: Vec<Option<f64>>,
}

impl Query {
    /// Parses `text` and checks that it is inside the evaluator's subset.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        eval::parse(text)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every selector the query reads, with its reach (for planning raw-sample fetches), for
    /// Prometheus (either version).
    pub fn selectors(&self) -> Vec<SelectorNeed> {
        eval::selectors(&self.expr)
    }

    /// [`selectors`](Self::selectors) with the reach `flavor` needs for an evaluation at steps
    /// of `step_ms` (an instant evaluation: `None`). VictoriaMetrics reads `5m + max(window,
    /// step)` before each instant: the sample before the window is part of its `rate`, and its
    /// staleness detection looks at the first samples it reads.
    pub fn selectors_for(&self, flavor: Flavor, step_ms: Option<i64>) -> Vec<SelectorNeed> {
        match flavor {
            Flavor::VictoriaMetrics => {
                let step = step_ms.unwrap_or(victoriametrics::INSTANT_STEP_MS);
                // An instant selector counts with a 5m range here: at most one step more.
                check::selectors_with(&self.expr, |range| victoriametrics::reach_ms(range, step))
            }
            _ => self.selectors(),
        }
    }
}

/// Evaluates `query` at `t_ms` over `storage`, as the flavor's engine would answer an instant
/// query (`/api/v1/query?time=t`).
pub fn eval_instant<S: Storage + ?Sized>(
    query: &Query,
    storage: &S,
    t_ms: i64,
    flavor: Flavor,
) -> Result<Value, QueryError> {
    eval::instant(query, storage, t_ms, flavor)
}

/// Evaluates `query` at every step, as `/api/v1/query_range` would: one entry per output
/// series (a scalar result is one series with no labels). Equal, step for step, to
/// `eval_instant` at each step.
pub fn eval_range<S: Storage + ?Sized>(
    query: &Query,
    storage: &S,
    steps: Steps,
    flavor: Flavor,
) -> Result<Vec<RangeSeries>, QueryError> {
    eval::range(query, storage, steps, flavor, false)
}

/// Evaluates `query` at every step as an instant query at that step would answer
/// (`/api/v1/query?time=t` for each `t`), column-wise: what a backtest replays when its numbers
/// must equal `check`'s and the daemon's at the same instants. For Prometheus (either version)
/// this is [`eval_range`]. VictoriaMetrics answers a range query differently from instant
/// queries at its steps (an instant selector looks back `max(step, staleness)` with the range
/// query's step instead of 5m; a rollup detects the scrape interval from, and removes counter
/// resets over, what the whole range fetched; a window sees the sample after it); here each
/// step gets its own instant query's view.
pub fn eval_instants<S: Storage + ?Sized>(
    query: &Query,
    storage: &S,
    steps: Steps,
    flavor: Flavor,
) -> Result<Vec<RangeSeries>, QueryError> {
    eval::range(query, storage, steps, flavor, true)
}
