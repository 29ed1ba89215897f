//! The daemon's cycle measurer run by a bench in a child process per way of measuring, and
//! what each cycle costs: HTTP requests, response bytes, samples Prometheus touched,
//! Prometheus CPU (`/proc/PID/stat`), the child's own CPU, and the child's peak RSS.
//!
//! A child is the bench's own executable started again with its arguments (JSON) in the
//! environment, so that each way's peak memory is its own and no way warms a cache for the
//! next. The including bench's `main` starts with [`child_args`]; the parent calls
//! [`run_child`] once per way. The including crate allows `unsafe_code` (libc's process
//! CPU time).

use burnrate::backend::{ClientConfig, PromClient};
use burnrate::daemon::cycle::{CycleMeasurer, CycleReport, EvaluationMode};
use burnrate::engine::evaluate::{SloEvaluation, evaluate_groups};
use burnrate::engine::hysteresis::StateStore;
use burnrate::promql::Flavor;
use burnrate::spec::{ServiceSpec, load_paths};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Carries a child's arguments; its presence makes the process a child.
const ROLE_ENV: &str = "BURNRATE_BENCH_CHILD";

/// The arguments of this process when it is a child started by [`run_child`].
pub fn child_args() -> Option<Value> {
    let args = std::env::var(ROLE_ENV).ok()?;
    Some(serde_json::from_str(&args).expect("child arguments"))
}

/// Runs this executable again as a child with `args` and returns the one JSON object it
/// prints. Panics with the child's stderr when it fails.
pub fn run_child(args: &Value) -> Value {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .env(ROLE_ENV, args.to_string())
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "child {args} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(out.stdout.trim_ascii()).expect("child prints one JSON")
}

/// CPU seconds of this process so far.
pub fn own_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// CPU seconds of process `pid` so far (user + system, from `/proc/PID/stat`).
pub fn process_cpu(pid: u64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

pub fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One way in a child: the specs, a client counting its traffic, the daemon's measurer and
/// the `for`/`hold` state the cycles step.
pub struct Way {
    pub specs: Arc<Vec<ServiceSpec>>,
    /// `(service index, SLO index)` of every SLO, in spec order.
    pub slos: Vec<(usize, usize)>,
    pub client: PromClient,
    pub rt: tokio::runtime::Runtime,
    pub measurer: CycleMeasurer,
    pub state: StateStore,
    backend_pid: u64,
}

impl Way {
    /// The way a child's arguments describe: `url` and `pid` of the Prometheus, `specs` (a
    /// spec file or directory). `batch` is `--batch`, `budget` `--max-history-bytes`.
    pub fn open(args: &Value, mode: EvaluationMode, batch: usize, budget: u64) -> Way {
        let report = load_paths(&[PathBuf::from(args["specs"].as_str().unwrap())]);
        assert!(!report.has_errors(), "{:?}", report.diagnostics);
        let specs: Arc<Vec<ServiceSpec>> = Arc::new(report.specs);
        let slos: Vec<(usize, usize)> = specs
            .iter()
            .enumerate()
            .flat_map(|(s, svc)| (0..svc.slos.len()).map(move |i| (s, i)))
            .collect();
        let mut config = ClientConfig::new(args["url"].as_str().unwrap());
        // The direct ways' long windows over a large fleet take Prometheus far longer than
        // the daemon's default timeout; a bench measures them rather than failing.
        config.timeout = Duration::from_secs(120);
        let client = PromClient::new(config).unwrap().with_query_stats();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let measurer = CycleMeasurer::new(
            client.clone(),
            specs.clone(),
            slos.clone(),
            mode,
            Flavor::Prometheus2,
            batch,
            16,
        )
        .with_history_budget(budget);
        Way {
            specs,
            slos,
            client,
            rt,
            measurer,
            state: StateStore::default(),
            backend_pid: args["pid"].as_u64().unwrap(),
        }
    }

    /// Runs one cycle and returns its result with what it cost: `requests`, `bytes`,
    /// `samples` (touched by Prometheus), `backend_cpu_ms`, `burnrate_cpu_ms`, `wall_ms`.
    pub fn costed<T>(&mut self, cycle: impl FnOnce(&mut Way) -> T) -> (T, Value) {
        let (cpu0, backend0) = (own_cpu(), process_cpu(self.backend_pid));
        let traffic0 = self.client.traffic().snapshot();
        let wall = Instant::now();
        let out = cycle(self);
        let traffic = self.client.traffic().snapshot().since(traffic0);
        let cost = json!({
            "requests": traffic.requests,
            "bytes": traffic.response_bytes,
            "samples": traffic.queryable_samples,
            "backend_cpu_ms": (process_cpu(self.backend_pid) - backend0) * 1000.0,
            "burnrate_cpu_ms": (own_cpu() - cpu0) * 1000.0,
            "wall_ms": wall.elapsed().as_secs_f64() * 1000.0,
        });
        (out, cost)
    }

    /// What a daemon cycle at `at_ms` does: every SLO measured, then evaluated (stepping
    /// its state), in spec order.
    pub fn evaluate(&mut self, at_ms: i64) -> (Vec<SloEvaluation>, CycleReport) {
        let (measured, report) = self.rt.block_on(self.measurer.measure(at_ms));
        let evaluated = self
            .measurer
            .slos()
            .zip(measured)
            .map(|((service, slo), m)| evaluate_groups(service, slo, at_ms, m, &mut self.state))
            .collect();
        (evaluated, report)
    }
}

/// The costs of a run's cycles as the benches report them: the first cycle (`seed`: the
/// incremental way's raw-sample seed) on its own, the mean of the others (`steady`).
pub fn summary(per_cycle: &[Value]) -> Value {
    let steady = &per_cycle[1..];
    let mean =
        |k: &str| steady.iter().map(|c| c[k].as_f64().unwrap()).sum::<f64>() / steady.len() as f64;
    json!({
        "seed": per_cycle[0],
        "steady_cycles": steady.len(),
        "steady": {
            "requests": mean("requests"), "bytes": mean("bytes"), "samples": mean("samples"),
            "backend_cpu_ms": mean("backend_cpu_ms"), "burnrate_cpu_ms": mean("burnrate_cpu_ms"),
            "wall_ms": mean("wall_ms"),
        },
    })
}

/// A Prometheus serving `history`: written as OpenMetrics text into `dir`, backfilled with
/// promtool in blocks of at most `block` (`--max-block-duration`), started on the blocks.
/// Logs the sizes and how long each step took, under `label`. Needs `crate::history` and
/// `crate::prometheus` (tests/common) in the including crate.
pub fn serve(
    label: &str,
    history: &crate::history::History,
    dir: &std::path::Path,
    block: &str,
) -> crate::prometheus::Prometheus {
    let t0 = Instant::now();
    let om = dir.join("history.om");
    let stats = history.write_openmetrics(&om);
    let generated = t0.elapsed();
    let blocks = dir.join("blocks");
    crate::prometheus::backfill_with_block_duration(&om, &blocks, Some(block));
    // Gigabytes of text for the largest fleets: the blocks are all that is needed now.
    let _ = std::fs::remove_file(&om);
    let backfilled = t0.elapsed();
    let prom = crate::prometheus::Prometheus::start(&blocks);
    eprintln!(
        "{label}: {} series, {} samples ({:.1} GB of text) generated in {generated:.0?}, backfilled in {:.0?}; Prometheus up after {:.0?}",
        stats.series,
        stats.samples,
        stats.bytes as f64 / 1e9,
        backfilled - generated,
        t0.elapsed()
    );
    prom
}
