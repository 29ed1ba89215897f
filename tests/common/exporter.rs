//! A fake application exposing `/metrics` (Prometheus text format 0.0.4) whose counters
//! advance in real time at rates the test sets:
//!
//! - `app_requests_total` (counter),
//! - `app_errors_total` (counter; like many real error counters it appears only at the
//!   first error),
//! - `app_request_duration_seconds` (classic histogram, buckets 0.05, 0.1, 0.2, 0.5, 1,
//!   +Inf). Fast requests take 30 ms (first bucket), slow ones 300 ms (the 0.5 bucket), so
//!   the share of requests slower than 0.2 s is exactly the `slow_ratio` set.
//!
//! A [`Ticker`] advances the counters every 100 ms by `requests_per_sec × elapsed`
//! (fractional counts, so every ratio is exact). Stopped on drop.

use super::http_stub::{HttpStub, Response};
use super::ticker::Ticker;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TICK: Duration = Duration::from_millis(100);
const FAST_SECONDS: f64 = 0.03;
const SLOW_SECONDS: f64 = 0.3;
/// Bucket upper bounds except +Inf.
const BOUNDS: [f64; 5] = [0.05, 0.1, 0.2, 0.5, 1.0];

#[derive(Debug, Default, Clone)]
struct Counters {
    requests_per_sec: f64,
    error_ratio: f64,
    slow_ratio: f64,
    requests: f64,
    errors: f64,
    any_error: bool,
    fast: f64,
    slow: f64,
    duration_sum: f64,
    scrapes: u64,
}

impl Counters {
    fn advance(&mut self, seconds: f64) {
        let n = self.requests_per_sec * seconds;
        let slow = n * self.slow_ratio;
        let fast = n - slow;
        let errors = n * self.error_ratio;
        self.requests += n;
        self.errors += errors;
        self.any_error |= errors > 0.0;
        self.fast += fast;
        self.slow += slow;
        self.duration_sum += fast * FAST_SECONDS + slow * SLOW_SECONDS;
    }

    fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP app_requests_total Requests served.\n");
        out.push_str("# TYPE app_requests_total counter\n");
        writeln!(out, "app_requests_total {}", self.requests).unwrap();
        if self.any_error {
            out.push_str("# HELP app_errors_total Requests that failed.\n");
            out.push_str("# TYPE app_errors_total counter\n");
            writeln!(out, "app_errors_total {}", self.errors).unwrap();
        }
        out.push_str("# HELP app_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE app_request_duration_seconds histogram\n");
        for le in BOUNDS {
            let count = if le >= SLOW_SECONDS {
                self.fast + self.slow
            } else if le >= FAST_SECONDS {
                self.fast
            } else {
                0.0
            };
            writeln!(
                out,
                "app_request_duration_seconds_bucket{{le=\"{le}\"}} {count}"
            )
            .unwrap();
        }
        writeln!(
            out,
            "app_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            self.fast + self.slow
        )
        .unwrap();
        writeln!(
            out,
            "app_request_duration_seconds_sum {}",
            self.duration_sum
        )
        .unwrap();
        writeln!(
            out,
            "app_request_duration_seconds_count {}",
            self.fast + self.slow
        )
        .unwrap();
        out
    }
}

/// The running fake application.
pub struct Exporter {
    counters: Arc<Mutex<Counters>>,
    _ticker: Ticker,
    server: HttpStub,
}

impl Exporter {
    /// Starts serving with no traffic; call [`set`](Self::set) to start requests.
    pub fn start() -> Exporter {
        let counters = Arc::new(Mutex::new(Counters::default()));
        let ticker = {
            let counters = counters.clone();
            Ticker::start(TICK, move |elapsed| {
                counters.lock().unwrap().advance(elapsed)
            })
        };
        let server = {
            let counters = counters.clone();
            HttpStub::metrics(move |_| {
                let mut c = counters.lock().unwrap();
                c.scrapes += 1;
                Response::new(200, "text/plain; version=0.0.4; charset=utf-8", c.render())
            })
        };
        Exporter {
            counters,
            _ticker: ticker,
            server,
        }
    }

    /// Sets the traffic from now on: requests per second, the share of them that fail, and
    /// the share slower than 0.2 s.
    pub fn set(&self, requests_per_sec: f64, error_ratio: f64, slow_ratio: f64) {
        assert!(requests_per_sec >= 0.0);
        assert!((0.0..=1.0).contains(&error_ratio) && (0.0..=1.0).contains(&slow_ratio));
        let mut c = self.counters.lock().unwrap();
        c.requests_per_sec = requests_per_sec;
        c.error_ratio = error_ratio;
        c.slow_ratio = slow_ratio;
    }

    /// `host:port`, as a Prometheus static target.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    /// `http://127.0.0.1:<port>/metrics`.
    pub fn metrics_url(&self) -> String {
        format!("{}/metrics", self.server.url())
    }

    /// Scrapes served so far.
    pub fn scrapes(&self) -> u64 {
        self.counters.lock().unwrap().scrapes
    }

    /// The exposition as it would be served now.
    pub fn render(&self) -> String {
        self.counters.lock().unwrap().render()
    }
}
