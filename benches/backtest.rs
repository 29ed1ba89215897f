//! `burnrate backtest --history` end to end at fleet scale: 100 SLOs (20 services x 5 SLOs:
//! 40 error-only, 40 latency-only, 20 with both), default ladder (5m, 30m, 1h, 6h, 3d) plus
//! the 30d period, replayed every minute over a 30-day history scraped every 60 s:
//! 43,200 steps per SLO, 4.32 million SLO-steps.
//!
//! Each run does what the CLI does: read and parse the history file, load the specs, then per
//! SLO compute every window's rates at every step (`measure::local::step_rates`), replay the
//! steps (`replay_slo`) and render the JSON lines. Besides criterion's number (elements =
//! SLO-steps), every run is split into parse / specs / rates / replay / render with `Instant`:
//! the first run's split is printed as it happens, the median run's after criterion; with
//! `BACKTEST_BENCH_CLI=1` the release binary's wall time on the same input follows.
//!
//! Criterion needs at least 10 samples plus a warm-up, each here a full 100-SLO backtest:
//! the bench takes 11 runs (one run is ~6 s today: parse 25%, rates 47%, replay 27%; so
//! about a minute and a half).
//!
//! The history (~400 MB of OpenMetrics text) is generated once and cached under
//! `CARGO_TARGET_TMPDIR`, keyed by a hash of its generator.

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
use burnrate::output::json_line;
use burnrate::promql::{Flavor, Steps};
use burnrate::spec::{ServiceSpec, load_paths};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Services (5 SLOs each) and days of history.
#[derive(Debug, Clone, Copy)]
struct Scale {
    services: usize,
    days: i64,
}

/// The bench's scale under `cargo bench` (which passes `--bench`). `cargo test --all-targets`
/// also builds benches (in the dev profile) and runs them once, in criterion's test mode:
/// there a 2-service, 2-day input only checks that the bench still works.
fn scale() -> Scale {
    if std::env::args().any(|a| a == "--bench") {
        Scale {
            services: 20,
            days: 30,
        }
    } else {
        Scale {
            services: 2,
            days: 2,
        }
    }
}

const SCRAPE_S: i64 = 60;
const STEP_MS: i64 = 60_000;

struct Input {
    specs: PathBuf,
    history: PathBuf,
    bytes: u64,
    _dir: tempfile::TempDir,
}

fn input(scale: Scale) -> Input {
    let Scale { services, days } = scale;
    let start = history::unix(2026, 10, 1, 0, 0, 0);
    let key = cache::key(&[
        include_str!("../tests/common/history.rs"),
        include_str!("support/fleet.rs"),
        &format!("{services} {days} {SCRAPE_S} {start}"),
    ]);
    let path = cache::cached(
        &format!("backtest-fleet-{services}x{days}d"),
        &key,
        "om",
        |p| {
            let t = Instant::now();
            let stats =
                fleet::history(services, start, days * history::DAY, SCRAPE_S).write_openmetrics(p);
            eprintln!(
                "generated {} series, {} samples, {:.0} MB in {:.1?}",
                stats.series,
                stats.samples,
                stats.bytes as f64 / 1e6,
                t.elapsed()
            );
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let specs = dir.path().join("specs");
    fleet::write_specs(&specs, services, &fleet::MIXED);
    let bytes = std::fs::metadata(&path).expect("history file").len();
    Input {
        specs,
        history: path,
        bytes,
        _dir: dir,
    }
}

#[derive(Debug, Default)]
struct Split {
    /// The whole run, also dropping the history and the rates.
    wall: Duration,
    parse: Duration,
    specs: Duration,
    rates: Duration,
    replay: Duration,
    render: Duration,
    slos: usize,
    slo_steps: usize,
    series: usize,
    samples: usize,
    changes: usize,
    output_bytes: usize,
}

impl Split {
    /// Time outside the timed parts: dropping the history, ...
    fn other(&self) -> Duration {
        self.wall
            .saturating_sub(self.parse + self.specs + self.rates + self.replay + self.render)
    }
}

fn load_specs(dir: &Path) -> Vec<ServiceSpec> {
    let report = load_paths(&[dir.to_path_buf()]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    report.specs
}

/// What `burnrate backtest SPECS --history FILE --format json` does, timed piece by piece.
fn run(input: &Input) -> Split {
    let t = Instant::now();
    let mut split = run_parts(input);
    split.wall = t.elapsed();
    split
}

fn run_parts(input: &Input) -> Split {
    let mut split = Split::default();
    let t = Instant::now();
    let history = load_file(&input.history).expect("history parses");
    split.parse = t.elapsed();
    split.series = history.series.len();
    split.samples = history.series.iter().map(|s| s.samples.len()).sum();

    let t = Instant::now();
    let specs = load_specs(&input.specs);
    split.specs = t.elapsed();

    let (first, last) = history.span().expect("history has samples");
    let steps = Steps {
        start_ms: first,
        end_ms: last,
        step_ms: STEP_MS,
    };
    let t = Instant::now();
    let storage = local::storage_of(&history);
    split.parse += t.elapsed();
    let mut out = Vec::with_capacity(1 << 20);
    for service in &specs {
        for slo in &service.slos {
            let t = Instant::now();
            let plan = MeasurePlan::new(slo);
            let rates =
                local::step_rates(&plan, slo, &storage, steps, Flavor::Prometheus2).expect("rates");
            split.rates += t.elapsed();

            let t = Instant::now();
            let replays = replay_slo(
                &rates,
                service,
                slo,
                "history file (local PromQL evaluator)",
                &[],
                false,
            );
            split.replay += t.elapsed();

            let t = Instant::now();
            for replay in &replays {
                for e in &replay.changes {
                    out.extend_from_slice(json_line(e).as_bytes());
                    out.push(b'\n');
                }
                out.extend_from_slice(
                    serde_json::to_string(&replay.summary)
                        .expect("summary")
                        .as_bytes(),
                );
                out.push(b'\n');
                split.changes += replay.changes.len();
            }
            split.render += t.elapsed();

            split.slos += 1;
            split.slo_steps += steps.count();
        }
    }
    split.output_bytes = out.len();
    std::hint::black_box(out);
    split
}

fn pct(part: Duration, whole: Duration) -> f64 {
    100.0 * part.as_secs_f64() / whole.as_secs_f64()
}

fn print_split(input: &Input, s: &Split) {
    let total = s.wall;
    println!(
        "backtest --history, {} SLOs x {} steps = {} SLO-steps; {} series, {} samples, {:.0} MB file",
        s.slos,
        s.slo_steps / s.slos.max(1),
        s.slo_steps,
        s.series,
        s.samples,
        input.bytes as f64 / 1e6
    );
    println!(
        "  parse  {:>9.3?}  {:>5.1}%  read + parse the file ({:.0} MB/s, {:.1} M samples/s)",
        s.parse,
        pct(s.parse, total),
        input.bytes as f64 / 1e6 / s.parse.as_secs_f64(),
        s.samples as f64 / 1e6 / s.parse.as_secs_f64()
    );
    println!(
        "  specs  {:>9.3?}  {:>5.1}%  load the spec files",
        s.specs,
        pct(s.specs, total)
    );
    println!(
        "  rates  {:>9.3?}  {:>5.1}%  measure::local::step_rates ({:.1} ms per SLO)",
        s.rates,
        pct(s.rates, total),
        s.rates.as_secs_f64() * 1e3 / s.slos as f64
    );
    println!(
        "  replay {:>9.3?}  {:>5.1}%  replay_slo ({:.3} M SLO-steps/s, {:.2} us per SLO-step)",
        s.replay,
        pct(s.replay, total),
        s.slo_steps as f64 / 1e6 / s.replay.as_secs_f64(),
        s.replay.as_secs_f64() * 1e6 / s.slo_steps as f64
    );
    println!(
        "  render {:>9.3?}  {:>5.1}%  JSON lines ({} decision changes, {} KB)",
        s.render,
        pct(s.render, total),
        s.changes,
        s.output_bytes / 1000
    );
    println!(
        "  other  {:>9.3?}  {:>5.1}%  drops",
        s.other(),
        pct(s.other(), total)
    );
    println!(
        "  total  {:>9.3?}           {:.3} M SLO-steps/s end to end",
        total,
        s.slo_steps as f64 / 1e6 / total.as_secs_f64()
    );
}

/// The release binary on the same input, as a user runs it (output to a pipe we drain).
fn run_cli(input: &Input) -> (Duration, usize) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_burnrate"))
        .arg("backtest")
        .arg(&input.specs)
        .arg("--history")
        .arg(&input.history)
        .args(["--step", "1m", "--format", "json"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run burnrate");
    let wall = t.elapsed();
    assert!(
        out.status.success(),
        "burnrate backtest failed: {}",
        out.status
    );
    (wall, out.stdout.len())
}

fn bench(c: &mut Criterion) {
    let scale = scale();
    let input = input(scale);
    let expected_slo_steps = scale.services * fleet::MIXED.len() * (scale.days * 1440) as usize;

    // Every run's split; the first one (criterion's warm-up) is printed as it happens.
    let splits = RefCell::new(Vec::<Split>::new());
    let mut group = c.benchmark_group("backtest_history");
    // One run is a full 100-SLO backtest (~6 s today): 1 warm-up run, then 10 samples of one
    // run each. The measurement time is deliberately too short for that, so criterion takes
    // one iteration per sample (and says it needed longer).
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(expected_slo_steps as u64));
    group.bench_function("30d_1m_100_slos_end_to_end", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let split = run(&input);
                assert_eq!(split.slo_steps, expected_slo_steps);
                total += split.wall;
                let mut all = splits.borrow_mut();
                if all.is_empty() {
                    println!("\nfirst run (criterion's warm-up under cargo bench):");
                    print_split(&input, &split);
                }
                all.push(split);
            }
            total
        })
    });
    group.finish();

    let mut all = splits.into_inner();
    if all.is_empty() {
        return; // filtered out
    }
    all.sort_by_key(|s| s.wall);
    let median = &all[all.len() / 2];
    println!(
        "\n{} runs: wall min {:.3?}, median {:.3?}, max {:.3?}; the median run:",
        all.len(),
        all[0].wall,
        median.wall,
        all[all.len() - 1].wall
    );
    print_split(&input, median);
    if std::env::var_os("BACKTEST_BENCH_CLI").is_some() {
        let (wall, bytes) = run_cli(&input);
        println!(
            "  CLI    {:>9.3?}  target/release/burnrate backtest ... --format json ({} KB stdout, {:.3} M SLO-steps/s)",
            wall,
            bytes / 1000,
            median.slo_steps as f64 / 1e6 / wall.as_secs_f64()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
