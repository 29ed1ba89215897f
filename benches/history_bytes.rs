//! Bytes a held sample costs in `SeriesSamples` (the daemon's raw history and every local
//! evaluation's input), on the demo's recorded history and on the scale bench's fleet, at
//! 15 s and 60 s scrapes, against the 16 bytes of a plain `(i64, f64)` list, and what the
//! encoding costs in time: reading every sample back, and `rate()` over 30 days evaluated
//! at every minute (the backtest shape), compact blocks against the plain list the
//! evaluator read before.
//!
//! Not criterion: the numbers are sizes and two throughputs, printed as one table.
//! `cargo bench --bench history_bytes`; under `cargo test --all-targets` it runs on a small
//! fleet as a smoke test.

#[allow(dead_code)]
#[path = "support/fleet.rs"]
mod fleet;
#[allow(dead_code)]
#[path = "../tests/common/history.rs"]
mod history;

use burnrate::history::History as Loaded;
use burnrate::history::parse::load_file;
use burnrate::promql::{Flavor, MemStorage, Query, SeriesSamples, Steps, eval_range};
use std::path::Path;
use std::time::Instant;

/// Samples held and heap bytes of every series of `history`, loaded as the evaluator holds
/// them, keeping only every `thin`-th sample of each series.
fn held(history: &Loaded, thin: usize) -> (usize, usize, MemStorage) {
    let mut storage = MemStorage::new();
    for s in &history.series {
        let samples = s.samples.iter().step_by(thin).map(|x| (x.t_ms, x.value));
        let mut held = SeriesSamples::compact();
        for (t, v) in samples {
            held.push(t, v);
        }
        storage.push_series(s.labels.clone(), held);
    }
    let samples = storage.iter().map(|(_, s)| s.len()).sum();
    (samples, storage.heap_bytes(), storage)
}

fn row(name: &str, history: &Loaded, thin: usize) {
    let (samples, bytes, storage) = held(history, thin);
    // Counters and buckets (what SLIs read): every series but the float `_sum`s.
    let (mut c_samples, mut c_bytes) = (0, 0);
    for (labels, s) in storage.iter() {
        if !labels.get("__name__").is_some_and(|n| n.ends_with("_sum")) {
            c_samples += s.len();
            c_bytes += s.heap_bytes();
        }
    }
    let started = Instant::now();
    let mut sum = 0.0;
    for (_, s) in storage.iter() {
        sum += s.to_samples().last().map_or(0.0, |p| p.1);
    }
    let decode_s = started.elapsed().as_secs_f64();
    std::hint::black_box(sum);
    println!(
        "| {name} | {} | {samples} | {:.2} | {:.2} | {:.0} M samples/s |",
        history.series.len(),
        bytes as f64 / samples.max(1) as f64,
        c_bytes as f64 / c_samples.max(1) as f64,
        samples as f64 / decode_s / 1e6
    );
}

fn main() {
    let smoke = !std::env::args().any(|a| a == "--bench");
    println!("| history | series | samples | bytes a sample | counters and buckets | read back |");
    println!("|---|---|---:|---:|---:|---:|");
    let demo = load_file(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/demo/map-update-history.om.gz"
    )))
    .expect("the demo history loads");
    row("demo (30 s scrapes)", &demo, 1);
    row("demo thinned to 60 s", &demo, 2);
    let (services, days) = if smoke { (2, 1) } else { (20, 30) };
    let dir = tempfile::tempdir().expect("temp dir");
    for interval in [15, 60] {
        let path = dir.path().join(format!("fleet-{interval}.om"));
        let start = history::unix(2026, 1, 1, 0, 0, 0);
        fleet::history(services, start, days * 86_400, interval).write_openmetrics(&path);
        let fleet = load_file(&path).expect("the fleet history loads");
        row(
            &format!("scale-bench fleet, {days} d at {interval} s"),
            &fleet,
            1,
        );
    }
    rate_throughput(smoke);
}

/// The five windows of the default ladder (`rate(c[5m])` ... `rate(c[3d])`) at every minute
/// of 30 days of one 15 s counter, over compact blocks and over the plain list backtests
/// read.
fn rate_throughput(smoke: bool) {
    let days = if smoke { 1 } else { 30 };
    let n = days * 86_400 / 15;
    let mut v = 0.0;
    let samples: Vec<(i64, f64)> = (0..n)
        .map(|i| {
            v += 300.0 + ((i * 7919) % 61) as f64;
            (i * 15_000 + (i * 31) % 7, v)
        })
        .collect();
    let steps = Steps {
        start_ms: 3_600_000,
        end_ms: (n - 1) * 15_000,
        step_ms: 60_000,
    };
    let mut times = Vec::new();
    for compact in [false, true] {
        let mut series = if compact {
            SeriesSamples::compact()
        } else {
            SeriesSamples::new()
        };
        for &(t, v) in &samples {
            series.push(t, v);
        }
        let mut storage = MemStorage::new();
        let labels: burnrate::promql::Labels = [("__name__".to_string(), "c".to_string())].into();
        storage.push_series(labels, series);
        let mut best = f64::MAX;
        for _ in 0..if smoke { 1 } else { 20 } {
            let started = Instant::now();
            for w in ["5m", "30m", "1h", "6h", "3d"] {
                let query = Query::parse(&format!("rate(c[{w}])")).expect("parses");
                let out =
                    eval_range(&query, &storage, steps, Flavor::Prometheus2).expect("evaluates");
                std::hint::black_box(out);
            }
            best = best.min(started.elapsed().as_secs_f64());
        }
        times.push(best);
    }
    println!(
        "\nrate() over the 5 default windows, {days} d of 15 s samples at 1 m steps (best of 20): \
         plain {:.1} ms, compact {:.1} ms ({:.1}x)",
        times[0] * 1e3,
        times[1] * 1e3,
        times[1] / times[0]
    );
}
