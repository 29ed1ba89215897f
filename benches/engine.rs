//! Speed of the pure evaluation core: spec loading, and one SLO evaluation from measured
//! rates (burns, quantiles, matrix, hysteresis) — the per-SLO cost every command pays on top
//! of its backend.

use burnrate::engine::evaluate::evaluate_slo;
use burnrate::engine::hysteresis::SloState;
use burnrate::engine::{Bucket, ErrorRates, HistogramRates, Measurement};
use burnrate::spec::{Dimension, load::load_str};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use std::path::Path;

const SPEC: &str = include_str!("../slo-specs/checkout-api.yaml");

fn bench(c: &mut Criterion) {
    c.bench_function("load_spec_checkout_api", |b| {
        b.iter(|| load_str(Path::new("checkout-api.yaml"), black_box(SPEC)))
    });

    let (spec, _) = load_str(Path::new("checkout-api.yaml"), SPEC);
    let spec = spec.expect("shipped spec is valid");
    let slo = &spec.slos[0];
    let bounds = [
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
        f64::INFINITY,
    ];
    let error = Measurement::Error(
        slo.measured_windows(Dimension::Error)
            .iter()
            .map(|_| ErrorRates {
                bad: Some(0.7),
                total: Some(250.0),
            })
            .collect(),
    );
    let latency = Measurement::Latency(
        slo.measured_windows(Dimension::Latency)
            .iter()
            .map(|_| {
                let buckets = bounds
                    .iter()
                    .enumerate()
                    .map(|(i, &le)| Bucket {
                        le,
                        rate: 250.0 * (1.0 - 0.5f64.powi(i as i32 + 1)),
                    })
                    .collect();
                HistogramRates {
                    buckets,
                    count: Some(250.0),
                    ..Default::default()
                }
            })
            .collect(),
    );
    let measurements = [
        (Dimension::Error, Ok(error)),
        (Dimension::Latency, Ok(latency)),
    ];
    let mut state = SloState::default();
    let mut t = 1_800_000_000_000i64;
    c.bench_function("evaluate_slo_default_ladder", |b| {
        b.iter(|| {
            t += 60_000;
            evaluate_slo(&spec, slo, t, black_box(&measurements), &mut state)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
