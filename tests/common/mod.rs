//! Shared helpers for integration tests.
//!
//! - [`prometheus`]: start a throw-away Prometheus on loopback from backfilled TSDB blocks,
//!   query it, and backfill OpenMetrics text with `promtool` (a history ending now, once:
//!   [`prometheus::Backfilled`]).
//! - [`victoriametrics`]: a throw-away single-node VictoriaMetrics on loopback, loaded with
//!   the same OpenMetrics text through its import API (the second tested backend).
//! - [`history`]: a deterministic synthetic-history generator (counters and classic
//!   histograms) that writes OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
//! - [`daemon`]: `burnrate run` as a child process.
//! - [`exporter`]: a fake application whose counters and histogram advance in real time,
//!   for a live Prometheus to scrape; [`route_exporter`]: one with routes and failure causes
//!   that serves OpenMetrics with trace-ID exemplars; [`native_exporter`]: one serving a
//!   native histogram in the protobuf format; [`ticker`]: the clock under them;
//!   [`alertmanager`]: a real Alertmanager;
//!   [`webhook`]: a scripted webhook receiver; [`http_stub`]: the tiny HTTP server under
//!   the exporter and the webhook receiver.
//! - [`browser`]: headless Chromium: a page's DOM, a screenshot and its pixels.
//! - [`pyrra`]: Pyrra's alert tiers, written out to hold the Pyrra import to them.
//! - [`tls`]: a test PKI (openssl), bcrypt hashes, and a Prometheus behind `--web.config.file`.
//! - the kit every test shares: [`approx`] (one `close` with named tolerances), [`cli`] (run
//!   the binary, read its JSON lines, `check` and `backtest` as JSON), [`evaluation`] (two
//!   printed evaluations, their contributors, two replays compared),
//!   [`measurements`] (the daemon's measurements as bits), [`net`] (free loopback ports),
//!   [`parallel`] (independent comparisons on a few threads),
//!   [`poll`] (one waiting loop), [`specs`] (load specs, and what they mean field by field),
//!   [`yaml`] (read YAML back); their functions are re-exported here.
//!
//! Each test file that uses them declares `mod common;`. Not every test file uses every
//! helper, hence the `dead_code` allowance (and `unused_imports`, for the re-exports).
#![allow(dead_code, unused_imports)]

pub mod alertmanager;
pub mod approx;
pub mod browser;
pub mod cli;
pub mod daemon;
pub mod evaluation;
pub mod exporter;
pub mod history;
pub mod http_stub;
pub mod measurements;
pub mod native_exporter;
pub mod net;
pub mod parallel;
pub mod poll;
pub mod prometheus;
pub mod pyrra;
pub mod route_exporter;
pub mod specs;
pub mod ticker;
pub mod tls;
pub mod victoriametrics;
pub mod webhook;
pub mod yaml;

pub use approx::{REL_1E9, REL_1E9_ABS_1E12, Tol, close, close_json};
pub use cli::{backtest_json, burnrate, burnrate_cmd, check_json, json_lines, stdout_of};
pub use evaluation::{
    assert_replays_agree, contributors_differences, evaluation_differences, group_of,
};
pub use net::{closed_port_url, free_port};
pub use parallel::parallel;
pub use poll::poll_until;
pub use specs::{load_specs, meaning};
pub use yaml::{map_get, seq};
