//! Raw-PromQL SLIs against selector SLIs, replayed from the same history: does evaluating
//! what Sloth users write cost much more than the selector path?
//!
//! The same fleet (services with `requests_total{svc,code}` counters, scraped every 60 s,
//! 30 days under `cargo bench`) is specified three ways, one error SLO per service on the
//! default ladder over 30d (windows 5m, 30m, 1h, 6h, 3d, 30d):
//! - `selectors`: `bad`/`total` selectors (measured as `sum(rate(SEL[w]))`);
//! - `sloth_events`: Sloth's `error_query`/`total_query`, `sum(rate(...[{{.window}}]))` with
//!   the code matcher Sloth's examples use (`code=~"(5..|429)"`);
//! - `sloth_ratio`: Sloth's raw `error_ratio_query` (imported as `bad_query: R`,
//!   `total_query: (R) == bool (R)`: the ratio is evaluated twice).
//!
//! Each iteration measures every window of every SLO at every 1-minute step through
//! `measure::local::step_rates` and replays the steps through `replay_slo`, as `backtest
//! --history` does after parsing (parsing the file is the same for all three and is left
//! out). Criterion's elements are SLO-steps; the README quotes the throughput ratios.

#[allow(dead_code)]
#[path = "support/cache.rs"]
mod cache;
#[allow(dead_code)]
#[path = "support/fleet.rs"]
mod fleet;
#[allow(dead_code)]
#[path = "../tests/common/history.rs"]
mod history;

use burnrate::backtest::replay_slo;
use burnrate::history::parse::load_file;
use burnrate::measure::{MeasurePlan, local};
use burnrate::promql::{Flavor, MemStorage, Steps};
use burnrate::spec::load::load_str;
use burnrate::spec::{ServiceSpec, WINDOW_PLACEHOLDER};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use std::path::Path;
use std::time::Duration;

/// Services and days of history: 4 x 30 days under `cargo bench`, 1 x 2 days in the test
/// mode `cargo test --all-targets` runs benches in.
fn scale() -> (usize, i64) {
    if std::env::args().any(|a| a == "--bench") {
        (4, 30)
    } else {
        (1, 2)
    }
}

const SCRAPE_S: i64 = 60;
const STEP_MS: i64 = 60_000;

/// The three ways of writing service `i`'s error SLI.
fn spec(i: usize, form: &str) -> ServiceSpec {
    let svc = fleet::service_name(i);
    let w = WINDOW_PLACEHOLDER;
    let error = match form {
        "selectors" => format!(
            "bad: 'requests_total{{svc=\"{svc}\",code=~\"5..\"}}'\n      total: 'requests_total{{svc=\"{svc}\"}}'"
        ),
        "sloth_events" => format!(
            "bad_query: 'sum(rate(requests_total{{svc=\"{svc}\",code=~\"(5..|429)\"}}[{w}]))'\n      total_query: 'sum(rate(requests_total{{svc=\"{svc}\"}}[{w}]))'"
        ),
        "sloth_ratio" => {
            let ratio = format!(
                "sum(rate(requests_total{{svc=\"{svc}\",code=~\"(5..|429)\"}}[{w}])) / sum(rate(requests_total{{svc=\"{svc}\"}}[{w}]))"
            );
            format!("bad_query: '{ratio}'\n      total_query: '({ratio}) == bool ({ratio})'")
        }
        other => unreachable!("{other}"),
    };
    let yaml = format!(
        "apiVersion: burnrate/v1\nservice: {svc}\nslos:\n  - name: availability\n    period: 30d\n    error:\n      objective: 99.9\n      {error}\n"
    );
    let (spec, diagnostics) = load_str(Path::new("bench.yaml"), &yaml);
    spec.unwrap_or_else(|| panic!("{form}: {diagnostics:?}"))
}

/// Every window of every SLO at every step, then the replay: SLO-steps done.
fn replay_all(storage: &MemStorage, specs: &[ServiceSpec], steps: Steps) -> usize {
    let mut done = 0;
    for service in specs {
        for slo in &service.slos {
            let plan = MeasurePlan::new(slo);
            let rates = local::step_rates(&plan, slo, storage, steps, Flavor::Prometheus2)
                .expect("local rates");
            for replay in replay_slo(&rates, service, slo, "", &[], false) {
                done += replay.summary.evaluations;
            }
        }
    }
    done
}

fn bench(c: &mut Criterion) {
    let (services, days) = scale();
    let start = history::unix(2026, 10, 1, 0, 0, 0);
    let key = cache::key(&[
        include_str!("../tests/common/history.rs"),
        include_str!("support/fleet.rs"),
        &format!("{services} {days} {SCRAPE_S} {start}"),
    ]);
    let path = cache::cached(&format!("raw-sli-{services}x{days}d"), &key, "om", |p| {
        fleet::history(services, start, days * history::DAY, SCRAPE_S).write_openmetrics(p);
    });
    let history = load_file(&path).expect("history parses");
    let storage = local::storage_of(&history);
    let (first, last) = history.span().expect("samples");
    drop(history);
    let steps = Steps {
        start_ms: first,
        end_ms: last,
        step_ms: STEP_MS,
    };
    let slo_steps = services * steps.count();

    let mut group = c.benchmark_group("raw_sli_vs_selectors_30d_1m");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(slo_steps as u64));
    for form in ["selectors", "sloth_events", "sloth_ratio"] {
        let specs: Vec<ServiceSpec> = (0..services).map(|i| spec(i, form)).collect();
        assert!(
            specs
                .iter()
                .flat_map(|s| &s.slos)
                .all(|slo| MeasurePlan::new(slo).not_local().is_none()),
            "{form}: every SLO is evaluated locally"
        );
        group.bench_function(form, |b| {
            b.iter(|| assert_eq!(replay_all(&storage, &specs, steps), slo_steps))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
