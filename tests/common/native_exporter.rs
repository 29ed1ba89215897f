//! A fake application exposing one native histogram, `app_request_duration_seconds`, per
//! route, in the protobuf exposition format Prometheus negotiates with
//! `--enable-feature=native-histograms` (the text format has no native histograms).
//!
//! The protobuf is written by hand (the few fields of `io.prometheus.client.MetricFamily`
//! a native histogram needs, length-delimited), so no protobuf crate is needed for a test
//! double. Requests take one of three durations: `FAST` (30 ms), `MEDIUM` (200 ms, inside
//! the schema-3 bucket around 200 ms, where `histogram_fraction` interpolates) or `SLOW`
//! (400 ms). A [`Ticker`] adds whole observations every 100 ms at the rates the test sets
//! (native bucket counts are integers), carrying the fractions over.

use super::http_stub::{HttpStub, Response};
use super::ticker::Ticker;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TICK: Duration = Duration::from_millis(100);
/// Bucket boundaries grow by 2^(2^-SCHEMA): about 9% at schema 3.
const SCHEMA: i32 = 3;
/// client_golang's default: observations at most this far from 0 go to the zero bucket.
const ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;
pub const FAST: f64 = 0.03;
pub const MEDIUM: f64 = 0.2;
pub const SLOW: f64 = 0.4;
const DURATIONS: [f64; 3] = [FAST, MEDIUM, SLOW];
pub const METRIC: &str = "app_request_duration_seconds";
pub const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// The traffic of one route: requests per second and the share of each duration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Traffic {
    pub requests_per_sec: f64,
    pub medium: f64,
    pub slow: f64,
}

#[derive(Debug, Default)]
struct Route {
    traffic: Traffic,
    /// Observations so far per duration (`DURATIONS` order), and the fractions not yet
    /// observed.
    counts: [u64; 3],
    carry: [f64; 3],
}

impl Route {
    fn advance(&mut self, seconds: f64) {
        let n = self.traffic.requests_per_sec * seconds;
        let t = self.traffic;
        let shares = [1.0 - t.medium - t.slow, t.medium, t.slow];
        for ((carry, count), share) in self.carry.iter_mut().zip(&mut self.counts).zip(shares) {
            *carry += n * share;
            let whole = carry.floor();
            *count += whole as u64;
            *carry -= whole;
        }
    }
}

/// The index of the native bucket holding `v` (> 0): bucket `i` covers
/// `(2^((i-1)/2^SCHEMA), 2^(i/2^SCHEMA)]`.
fn bucket_index(v: f64) -> i32 {
    (v.log2() * f64::from(1 << SCHEMA)).ceil() as i32
}

// --- protobuf wire format (https://protobuf.dev/programming-guides/encoding/) -----------

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    key(out, field, 0);
    varint(out, v);
}

fn sint(out: &mut Vec<u8>, field: u32, v: i64) {
    key(out, field, 0);
    varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    key(out, field, 1);
    out.extend_from_slice(&v.to_le_bytes());
}

fn bytes(out: &mut Vec<u8>, field: u32, v: &[u8]) {
    key(out, field, 2);
    varint(out, v.len() as u64);
    out.extend_from_slice(v);
}

/// `Histogram` (metrics.proto): count, sum, schema, zero bucket, one positive span from the
/// lowest bucket to the highest and the count deltas along it.
fn histogram(counts: &[u64; 3]) -> Vec<u8> {
    let mut by_index: BTreeMap<i32, u64> = BTreeMap::new();
    for (d, c) in DURATIONS.iter().zip(counts) {
        *by_index.entry(bucket_index(*d)).or_default() += c;
    }
    let (first, last) = (
        *by_index.keys().next().unwrap(),
        *by_index.keys().last().unwrap(),
    );
    let mut h = Vec::new();
    uint(&mut h, 1, counts.iter().sum());
    let sum: f64 = DURATIONS
        .iter()
        .zip(counts)
        .map(|(d, c)| d * *c as f64)
        .sum();
    double(&mut h, 2, sum);
    sint(&mut h, 5, i64::from(SCHEMA));
    double(&mut h, 6, ZERO_THRESHOLD);
    uint(&mut h, 7, 0);
    let mut span = Vec::new();
    sint(&mut span, 1, i64::from(first));
    uint(&mut span, 2, u64::from((last - first + 1) as u32));
    bytes(&mut h, 12, &span);
    let mut previous = 0i64;
    for i in first..=last {
        let c = by_index.get(&i).copied().unwrap_or(0) as i64;
        sint(&mut h, 13, c - previous);
        previous = c;
    }
    h
}

/// One `MetricFamily` of type HISTOGRAM with a `Metric` per route, length-delimited.
fn exposition(routes: &BTreeMap<String, Route>) -> Vec<u8> {
    let mut family = Vec::new();
    bytes(&mut family, 1, METRIC.as_bytes());
    bytes(&mut family, 2, b"Request latency.");
    uint(&mut family, 3, 4);
    for (name, route) in routes {
        let mut label = Vec::new();
        bytes(&mut label, 1, b"route");
        bytes(&mut label, 2, name.as_bytes());
        let mut metric = Vec::new();
        bytes(&mut metric, 1, &label);
        bytes(&mut metric, 7, &histogram(&route.counts));
        bytes(&mut family, 4, &metric);
    }
    let mut out = Vec::new();
    varint(&mut out, family.len() as u64);
    out.extend_from_slice(&family);
    out
}

/// The running fake application.
pub struct NativeExporter {
    routes: Arc<Mutex<BTreeMap<String, Route>>>,
    _ticker: Ticker,
    server: HttpStub,
}

impl NativeExporter {
    /// Starts serving `routes`, all without traffic. A scrape that does not accept the
    /// protobuf format is refused (406): a test must not pass on a fallback.
    pub fn start(routes: &[&str]) -> NativeExporter {
        let routes: Arc<Mutex<BTreeMap<String, Route>>> = Arc::new(Mutex::new(
            routes
                .iter()
                .map(|r| (r.to_string(), Route::default()))
                .collect(),
        ));
        let ticker = {
            let routes = routes.clone();
            Ticker::start(TICK, move |elapsed| {
                for r in routes.lock().unwrap().values_mut() {
                    r.advance(elapsed);
                }
            })
        };
        let server = {
            let routes = routes.clone();
            HttpStub::metrics(move |req| {
                let accepts = req
                    .header("accept")
                    .is_some_and(|a| a.contains("application/vnd.google.protobuf"));
                if !accepts {
                    return Response::new(406, "text/plain", "protobuf only\n");
                }
                Response::new(200, CONTENT_TYPE, exposition(&routes.lock().unwrap()))
            })
        };
        NativeExporter {
            routes,
            _ticker: ticker,
            server,
        }
    }

    /// Sets a route's traffic from now on.
    pub fn set(&self, route: &str, traffic: Traffic) {
        assert!(traffic.requests_per_sec >= 0.0 && traffic.medium + traffic.slow <= 1.0);
        self.routes
            .lock()
            .unwrap()
            .get_mut(route)
            .expect("a route the exporter serves")
            .traffic = traffic;
    }

    /// `host:port`, as a Prometheus static target.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }
}
