//! The one measurement layer: how every command gets the rates an SLO's evaluation needs.
//!
//! A [`plan::MeasurePlan`] per SLO holds, per dimension, the one tagged query that measures
//! every window (`query`), every group of an SLO with `group_by` at once. Sources answer it in
//! four ways, all decoded (and split by group) by the one decoder in [`columns`]:
//! - the backend, per instant ([`direct`], [`PrometheusSource`]): `check`, and the daemon
//!   for what it cannot compute locally;
//! - the backend over a range with `query_range` ([`range`]): a backtest of a query outside
//!   the local evaluator's subset;
//! - burnrate's own evaluator ([`local`]) over raw samples: a history file, raw samples
//!   fetched once from the backend, or the daemon's history extended every cycle
//!   ([`raw_store`]).
//!
//! `check`, `run` and `backtest` only choose a source; what comes out goes into the one
//! evaluation path, `engine::evaluate`.

pub mod columns;
pub(crate) mod density;
pub mod direct;
pub(crate) mod drilldown;
pub(crate) mod elapsed;
pub(crate) mod fetch_plan;
pub mod local;
pub(crate) mod plan;
pub(crate) mod prometheus_source;
pub mod query;
pub(crate) mod range;
pub(crate) mod raw_store;

pub(crate) use columns::StepRates;
pub use plan::MeasurePlan;
pub(crate) use prometheus_source::PrometheusSource;
