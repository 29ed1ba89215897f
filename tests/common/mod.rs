//! Shared helpers for integration tests.
//!
//! - [`prometheus`]: start a throw-away Prometheus on loopback from backfilled TSDB blocks,
//!   query it, and backfill OpenMetrics text with `promtool`.
//! - [`victoriametrics`]: a throw-away single-node VictoriaMetrics on loopback, loaded with
//!   the same OpenMetrics text through its import API (the second tested backend).
//! - [`history`]: a deterministic synthetic-history generator (counters and classic
//!   histograms) that writes OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
//! - [`daemon`]: `burnrate run` as a child process.
//! - [`exporter`]: a fake application whose counters and histogram advance in real time,
//!   for a live Prometheus to scrape; [`alertmanager`]: a real Alertmanager;
//!   [`webhook`]: a scripted webhook receiver; [`http_stub`]: the tiny HTTP server under
//!   the exporter and the webhook receiver.
//!
//! Each test file that uses them declares `mod common;`. Not every test file uses every
//! helper, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod alertmanager;
pub mod daemon;
pub mod exporter;
pub mod history;
pub mod http_stub;
pub mod prometheus;
pub mod victoriametrics;
pub mod webhook;
