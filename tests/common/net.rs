//! Loopback ports for tests: one free port, and a URL on which nothing listens.

use std::net::TcpListener;

/// A loopback port that was free a moment ago (the listener that found it is dropped).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// A loopback URL nothing listens on: connections are refused at once.
pub fn closed_port_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}
