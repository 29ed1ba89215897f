//! burnrate: a burn-rate SLO evaluator engine.
//!
//! A pure core (spec model, burn-rate math, threshold matrix, hysteresis) with IO at the
//! edges (backends, outputs, HTTP). `check`, `run` and `backtest` all call one evaluation
//! path, `engine::evaluate`, so they cannot disagree.

pub mod backend;
pub mod backtest;
pub mod cli;
pub mod daemon;
pub mod decision;
pub mod duration;
pub mod engine;
pub mod error;
pub mod fsutil;
pub mod history;
pub mod import;
pub mod measure;
pub mod output;
pub mod promql;
pub(crate) mod retry;
pub mod rules;
pub mod sinks;
pub mod spec;
pub mod specfiles;
pub mod time;
pub(crate) mod yaml_out;
