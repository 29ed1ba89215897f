//! Shared helpers for integration tests.
//!
//! - [`prometheus`]: start a throw-away Prometheus on loopback from backfilled TSDB blocks,
//!   query it, and backfill OpenMetrics text with `promtool`.
//! - [`history`]: a deterministic synthetic-history generator (counters and classic
//!   histograms) that writes OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
//!
//! Each test file that uses them declares `mod common;`. Not every test file uses every
//! helper, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod history;
pub mod prometheus;
