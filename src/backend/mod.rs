//! The backend: a client for the Prometheus HTTP API (what `measure` asks through it).

pub mod api;
pub mod client;
pub mod flavor;

pub use client::{ClientConfig, PromClient};
