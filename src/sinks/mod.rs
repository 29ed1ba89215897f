//! Where the daemon's decisions go: Alertmanager (API v2) and webhooks. Each sink owns its
//! configuration and its delivery guarantees.

pub mod alertmanager;
pub mod webhook;

/// A sink HTTP client: always with timeouts (reqwest has none by default).
pub fn http_client(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
        .timeout(timeout)
        .user_agent(concat!("burnrate/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("static HTTP client configuration")
}
