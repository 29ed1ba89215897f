//! Throughput of the local PromQL evaluator's `rate()` (`promql::eval_range` of
//! `rate(c[w])`) on the backtest shape: one counter scraped every 15 s for 30 days, evaluated
//! every minute over the default ladder's five windows. "Samples" in the reported throughput
//! are input samples times windows processed (the target is 50 million per second on one
//! core).

use burnrate::history::Sample;
use burnrate::promql::{Flavor, MemStorage, Query, SeriesSamples, Steps, eval_range};
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};

/// `rate(c[window])` at every step over the one series in `storage`.
fn rates_over(storage: &MemStorage, steps: Steps, window_ms: i64) -> Vec<Option<f64>> {
    let query = Query::parse(&format!("rate(c[{window_ms}ms])")).expect("query parses");
    let mut out = eval_range(&query, storage, steps, Flavor::Prometheus2).expect("evaluates");
    out.pop().map(|s| s.values).unwrap_or_default()
}

const SCRAPE_MS: i64 = 15_000;
const DAY_MS: i64 = 86_400_000;
const STEP_MS: i64 = 60_000;
const WINDOWS: [(&str, i64); 5] = [
    ("5m", 300_000),
    ("30m", 1_800_000),
    ("1h", 3_600_000),
    ("6h", 21_600_000),
    ("3d", 3 * DAY_MS),
];

/// 30 days of a counter with irregular increments, ~1 s of scrape jitter and a restart every
/// few days, as a real request counter looks.
fn series() -> Vec<Sample> {
    let start = 1_700_000_000_000i64;
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut value = 0.0;
    (0..30 * DAY_MS / SCRAPE_MS)
        .map(|k| {
            let r = next();
            value = if k > 0 && k % 20_000 == 0 {
                0.0
            } else {
                value + (r % 400) as f64
            };
            Sample {
                t_ms: start + k * SCRAPE_MS + (r >> 54) as i64,
                value,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let samples = series();
    let steps = Steps {
        start_ms: samples[0].t_ms,
        end_ms: samples.last().unwrap().t_ms,
        step_ms: STEP_MS,
    };
    let mut storage = MemStorage::new();
    storage.push_series(
        [("__name__".to_string(), "c".to_string())].into(),
        SeriesSamples::from_samples(samples.iter().map(|s| (s.t_ms, s.value))),
    );

    let mut all = c.benchmark_group("rate_30d_15s_1m_step");
    all.throughput(Throughput::Elements((samples.len() * WINDOWS.len()) as u64));
    all.bench_function("5_windows", |b| {
        b.iter(|| {
            for (_, window) in WINDOWS {
                black_box(rates_over(black_box(&storage), steps, window));
            }
        })
    });
    all.finish();

    let mut each = c.benchmark_group("rate_30d_15s_1m_step_per_window");
    each.throughput(Throughput::Elements(samples.len() as u64));
    for (name, window) in WINDOWS {
        each.bench_with_input(BenchmarkId::from_parameter(name), &window, |b, &window| {
            b.iter(|| rates_over(black_box(&storage), steps, window))
        });
    }
    each.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
