//! burnrate: a burn-rate SLO evaluator engine.
//!
//! A pure core (spec model, burn-rate math, threshold matrix, hysteresis) with IO at the
//! edges (backends, outputs, HTTP). `check`, `run`, `backtest` and `report` all call one
//! evaluation path, `engine::evaluate`, so they cannot disagree.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

pub mod backend;
pub mod backtest;
pub mod calendar;
mod chart;
pub mod cli;
pub mod daemon;
mod dashboard;
pub mod decision;
pub mod duration;
pub mod engine;
mod error;
mod fsutil;
pub mod history;
pub mod import;
mod limits;
pub mod measure;
pub mod output;
pub mod promql;
pub(crate) mod report;
mod retry;
pub mod rules;
mod sinks;
pub mod spec;
mod specfiles;
pub mod time;
mod yaml_out;
