//! A fake application with several routes that serves OpenMetrics text 1.0.0 with exemplars,
//! the only exposition from which Prometheus ingests exemplars:
//!
//! - `requests_total{route, code}` (counter; `code="200"` or `"500"`),
//! - `request_failures_total{route, error_class}` (counter, one series per route and class
//!   from the start, at 0 until the first failure), each line carrying as its exemplar the
//!   trace ID of the newest failure of that series:
//!   `request_failures_total{route="/pay",error_class="timeout"} 12 # {trace_id="4bf9…"} 1 1700000000.123`.
//!
//! Every whole failing request gets a trace ID of its own (32 hex digits, unique within the
//! exporter, revealing nothing about its route), recorded with its route, class and time, so
//! a test can tell whose failure an exemplar points at. Counts advance in real time at the
//! rates set (fractional, so every ratio is exact). Stopped on drop.

use super::http_stub::{HttpStub, Response};
use super::ticker::Ticker;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const TICK: Duration = Duration::from_millis(100);
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// What one failing request adds to its counter, hence every exemplar's value.
pub const EXEMPLAR_VALUE: f64 = 1.0;

/// One failing request, as its trace ID's owner.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub trace_id: String,
    pub route: String,
    pub error_class: String,
    /// Unix milliseconds: when it failed, and its exemplar's timestamp.
    pub at_ms: i64,
}

#[derive(Debug, Default)]
struct Route {
    requests_per_sec: f64,
    /// Share of all requests failing with each class (indexed like `State::classes`).
    failure_ratio: Vec<f64>,
    succeeded: f64,
    /// Failures per class; their sum is the route's `code="500"` requests.
    failures: Vec<f64>,
    /// Index into `State::traces` of each class's newest failure.
    newest: Vec<Option<usize>>,
}

#[derive(Debug, Default)]
struct State {
    classes: Vec<String>,
    routes: BTreeMap<String, Route>,
    traces: Vec<Trace>,
    scrapes: u64,
    last_accept: Option<String>,
}

/// A trace ID from a sequence number: splitmix64 is a bijection, so distinct numbers give
/// distinct IDs, and they look as random as real ones.
fn trace_id(seq: u64) -> String {
    fn splitmix64(x: u64) -> u64 {
        let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    format!("{:016x}{:016x}", splitmix64(seq), splitmix64(!seq))
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

impl State {
    fn advance(&mut self, seconds: f64) {
        let now_ms = unix_ms();
        for (name, route) in &mut self.routes {
            let n = route.requests_per_sec * seconds;
            let mut failed = 0.0;
            for (class, ratio) in route.failure_ratio.iter().enumerate() {
                let f = n * ratio;
                let before = route.failures[class];
                route.failures[class] += f;
                failed += f;
                // A trace per whole request that failed in this tick.
                let whole = route.failures[class].floor() - before.floor();
                for _ in 0..whole as u64 {
                    let seq = self.traces.len() as u64;
                    route.newest[class] = Some(self.traces.len());
                    self.traces.push(Trace {
                        trace_id: trace_id(seq),
                        route: name.clone(),
                        error_class: self.classes[class].clone(),
                        at_ms: now_ms,
                    });
                }
            }
            route.succeeded += n - failed;
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# TYPE requests counter\n# HELP requests Requests served.\n");
        for (name, route) in &self.routes {
            let failed: f64 = route.failures.iter().sum();
            for (code, count) in [("200", route.succeeded), ("500", failed)] {
                writeln!(
                    out,
                    "requests_total{{route=\"{name}\",code=\"{code}\"}} {count}"
                )
                .unwrap();
            }
        }
        out.push_str(
            "# TYPE request_failures counter\n# HELP request_failures Failed requests by cause.\n",
        );
        for (name, route) in &self.routes {
            for (class, count) in route.failures.iter().enumerate() {
                write!(
                    out,
                    "request_failures_total{{route=\"{name}\",error_class=\"{}\"}} {count}",
                    self.classes[class]
                )
                .unwrap();
                if let Some(t) = route.newest[class].map(|i| &self.traces[i]) {
                    write!(
                        out,
                        " # {{trace_id=\"{}\"}} {EXEMPLAR_VALUE} {}.{:03}",
                        t.trace_id,
                        t.at_ms / 1000,
                        t.at_ms % 1000
                    )
                    .unwrap();
                }
                out.push('\n');
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

/// The running fake application.
pub struct RouteExporter {
    state: Arc<Mutex<State>>,
    _ticker: Ticker,
    server: HttpStub,
}

impl RouteExporter {
    /// Serves `routes`, whose failures fall into `error_classes`, with no traffic yet.
    pub fn start(routes: &[&str], error_classes: &[&str]) -> RouteExporter {
        let plain = |s: &str| !s.contains(['"', '\\', '\n']);
        assert!(routes.iter().chain(error_classes).all(|s| plain(s)));
        let classes = error_classes.len();
        let state = Arc::new(Mutex::new(State {
            classes: error_classes.iter().map(|c| c.to_string()).collect(),
            routes: routes
                .iter()
                .map(|r| {
                    let route = Route {
                        failure_ratio: vec![0.0; classes],
                        failures: vec![0.0; classes],
                        newest: vec![None; classes],
                        ..Route::default()
                    };
                    (r.to_string(), route)
                })
                .collect(),
            ..State::default()
        }));
        let ticker = {
            let state = state.clone();
            Ticker::start(TICK, move |elapsed| state.lock().unwrap().advance(elapsed))
        };
        let server = {
            let state = state.clone();
            HttpStub::metrics(move |req| {
                let mut s = state.lock().unwrap();
                s.scrapes += 1;
                s.last_accept = req.header("accept").map(str::to_string);
                Response::new(200, CONTENT_TYPE, s.render())
            })
        };
        RouteExporter {
            state,
            _ticker: ticker,
            server,
        }
    }

    /// From now on `route` serves `requests_per_sec`, of which the share `ratio` fails with
    /// each listed `(error_class, ratio)` (unlisted classes: none).
    pub fn set(&self, route: &str, requests_per_sec: f64, failures: &[(&str, f64)]) {
        assert!(requests_per_sec >= 0.0);
        let mut s = self.state.lock().unwrap();
        let ratios: Vec<f64> = s
            .classes
            .iter()
            .map(|c| {
                failures
                    .iter()
                    .find(|(name, _)| name == c)
                    .map_or(0.0, |(_, r)| *r)
            })
            .collect();
        assert!(
            failures
                .iter()
                .all(|(c, _)| s.classes.iter().any(|k| k == c)),
            "unknown error class in {failures:?}"
        );
        assert!(ratios.iter().all(|r| *r >= 0.0) && ratios.iter().sum::<f64>() <= 1.0);
        let r = s
            .routes
            .get_mut(route)
            .unwrap_or_else(|| panic!("unknown route {route:?}"));
        r.requests_per_sec = requests_per_sec;
        r.failure_ratio = ratios;
    }

    /// `host:port`, as a Prometheus static target.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    /// Scrapes served so far.
    pub fn scrapes(&self) -> u64 {
        self.state.lock().unwrap().scrapes
    }

    /// The `Accept` header of the latest scrape (what the scraper asked for).
    pub fn last_accept(&self) -> Option<String> {
        self.state.lock().unwrap().last_accept.clone()
    }

    /// Every trace ID issued so far for `route`'s failures.
    pub fn trace_ids(&self, route: &str) -> BTreeSet<String> {
        let s = self.state.lock().unwrap();
        s.traces
            .iter()
            .filter(|t| t.route == route)
            .map(|t| t.trace_id.clone())
            .collect()
    }

    /// The failure `trace_id` was issued for, if this exporter issued it.
    pub fn trace(&self, trace_id: &str) -> Option<Trace> {
        let s = self.state.lock().unwrap();
        s.traces.iter().find(|t| t.trace_id == trace_id).cloned()
    }

    /// The exposition as it would be served now.
    pub fn render(&self) -> String {
        self.state.lock().unwrap().render()
    }
}
