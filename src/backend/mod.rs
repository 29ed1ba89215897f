//! Backends: where measurements come from. Each one implements `engine::Source`.

pub mod batch;
pub mod client;
pub mod prometheus;
pub mod query;

pub use client::{ClientConfig, PromClient};
pub use prometheus::PrometheusSource;
