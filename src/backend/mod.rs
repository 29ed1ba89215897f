//! The backend: a client for the Prometheus HTTP API (what `measure` asks through it).

pub(crate) mod api;
pub(crate) mod client;
pub(crate) mod credentials;
pub(crate) mod flavor;

pub use client::{ClientConfig, PromClient};
