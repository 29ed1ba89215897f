//! The burn-rate engine: pure functions from measured rates to decisions.
//!
//! `measure` defines what a data source must deliver, `groups` splits it into the SLO's
//! instances (`group_by`), `explain` says who holds a burning dimension's bad events, `sli` turns it into bad ratios and burn rates, `matrix` applies
//! the threshold rules, `hysteresis` applies `for`/`hold`, and `evaluate` is the one evaluation
//! path every command goes through; `evaluation` holds what it reports (the JSON object of
//! the output contract).

pub mod evaluate;
pub(crate) mod evaluation;
pub mod explain;
pub mod groups;
pub mod hysteresis;
pub mod matrix;
pub(crate) mod measure;
pub mod sli;

pub use evaluate::SloEvaluation;
pub(crate) use evaluate::{Source, evaluate_all};
pub(crate) use evaluation::RuleRef;
pub use evaluation::{DimensionReport, Evaluation, WindowMap};
pub use explain::{Contributor, Contributors, Exemplar};
pub use measure::SourceError;
pub use measure::{Bucket, ErrorRates, GroupLabels, Grouped, HistogramRates, Measurement};
