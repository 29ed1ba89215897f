//! Regenerates the embedded demo history, `demo/map-update-history.om.gz`: three days of the
//! Go map-update service (slo-specs/map-update.yaml) with one real incident and one blip.
//!
//! `cargo run --example make_demo_history` rewrites the file; the output is deterministic,
//! and `tests/demo_backtest.rs` checks the committed file still matches this generator.
//!
//! The series: `go_map_update_total` and `go_map_update_failure_total` per `op_type` (`set`,
//! `delete`: 40 and 8 updates/s on average, following the day) and `key_hash` shard (`00-7f`,
//! `80-ff`, half the traffic each); the failures also per `error_class`. At all times every
//! op and shard fails a little: `conflict` (0.015 % of updates), `timeout` (0.005 %) and,
//! rarely, `oom` (0.001 %), together 0.021 %, an error burn of 0.21, well below the spec's
//! `warn` at 0.5. Like a Go `CounterVec` child, a failure series appears at its first
//! increment (the rare ones hours into the history).
//!
//! The story, all times UTC:
//! - 2026-11-16 22:00  the `00-7f` shard's process restarts: its counters, the failures of
//!   every class included, drop to 0.
//! - 2026-11-17 13:40  latency degrades (P99 90ms -> 350ms), then from 14:00 to 14:50 the
//!   `80-ff` shard times out (`error_class="timeout"`) on 0.55 % of its sets and 0.25 % of
//!   its deletes (0.5 % of the shard's updates); both recover by 15:00. Incident 13:45-15:05.
//!   In the hour 14:00-15:00 timeouts are over 90 % of the failures, most of them sets on
//!   `80-ff`: a breakdown by `[error_class, op_type]` names `timeout`, `set` first.
//! - 2026-11-18 03:10  a 15-minute GC-pause-like blip (P99 ~ 230ms), no incident declared.

#[path = "../tests/common/history.rs"]
#[allow(dead_code)]
mod history;

use flate2::Compression;

use history::{Counter, DAY, HOUR, Histogram, History, LogLogistic, MINUTE, unix};
use std::f64::consts::PI;
use std::io::Write;
use std::path::Path;

const SHARDS: [&str; 2] = ["00-7f", "80-ff"];
const OPS: [(&str, f64); 2] = [("set", 40.0), ("delete", 8.0)];
/// Background share of the updates failing, per error class (every op and shard, always).
const BACKGROUND: [(&str, f64); 3] = [
    ("conflict", 0.00015),
    ("timeout", 0.00005),
    ("oom", 0.00001),
];

/// Share of the `80-ff` shard's updates timing out during [`timeouts`], per op.
fn incident_timeouts(op: &str) -> f64 {
    match op {
        "set" => 0.0055,
        _ => 0.0025,
    }
}

fn start() -> i64 {
    unix(2026, 11, 16, 0, 0, 0)
}

/// The `00-7f` shard's process restarts.
fn restart() -> i64 {
    start() + 22 * HOUR
}

fn within(t: i64, from: i64, to: i64) -> bool {
    from <= t && t < to
}

/// Traffic follows the day, peaking at 15:00 UTC.
fn diurnal(t: i64, base: f64) -> f64 {
    let phase = 2.0 * PI * (t.rem_euclid(DAY)) as f64 / DAY as f64;
    base * (1.0 + 0.45 * (phase - 0.75 * PI).sin())
}

fn incident() -> (i64, i64) {
    (
        start() + DAY + 13 * HOUR + 40 * MINUTE,
        start() + DAY + 15 * HOUR,
    )
}

fn timeouts() -> (i64, i64) {
    (
        start() + DAY + 14 * HOUR,
        start() + DAY + 14 * HOUR + 50 * MINUTE,
    )
}

fn blip() -> (i64, i64) {
    (
        start() + 2 * DAY + 3 * HOUR + 10 * MINUTE,
        start() + 2 * DAY + 3 * HOUR + 25 * MINUTE,
    )
}

fn latency(t: i64) -> LogLogistic {
    let (a, b) = incident();
    let (c, d) = blip();
    if within(t, a, b) {
        LogLogistic::from_median_p99(0.03, 0.35)
    } else if within(t, c, d) {
        LogLogistic::from_median_p99(0.02, 0.23)
    } else {
        LogLogistic::from_median_p99(0.012, 0.07)
    }
}

fn build() -> History {
    let mut h = History::new(start(), 3 * DAY).interval(30).seed(20_261_116);
    for (op, base) in OPS {
        for shard in SHARDS {
            let share = base / SHARDS.len() as f64;
            let mut total = Counter::new("go_map_update_total")
                .label("op_type", op)
                .label("key_hash", shard)
                .initial(1_250_000)
                .rate(move |t| diurnal(t, share));
            if shard == SHARDS[0] {
                total = total.reset_at(restart());
            }
            h = h.counter(total);
            for (class, ratio) in &BACKGROUND[..2] {
                h = h.counter(failures(op, shard, class, *ratio));
            }
        }
        h = h.histogram(
            Histogram::new("go_map_update_duration_seconds")
                .label("op_type", op)
                .bounds(&[
                    "0.005", "0.01", "0.025", "0.05", "0.1", "0.2", "0.4", "0.8", "1.6",
                ])
                .rate(move |t| diurnal(t, base))
                .latency(latency),
        );
    }
    // Each series' noise is seeded by its position in the history: the rare `oom` series
    // come last, so that the others' noise does not depend on them.
    for (class, ratio) in &BACKGROUND[2..] {
        for (op, _) in OPS {
            for shard in SHARDS {
                h = h.counter(failures(op, shard, class, *ratio));
            }
        }
    }
    h
}

/// `go_map_update_failure_total` of one op, shard and error class: `ratio` of the updates,
/// and the incident's timeouts on the `80-ff` shard.
fn failures(op: &'static str, shard: &'static str, class: &str, ratio: f64) -> Counter {
    let share = base_rate(op) / SHARDS.len() as f64;
    let during = if shard == "80-ff" && class == "timeout" {
        incident_timeouts(op)
    } else {
        ratio
    };
    let mut c = Counter::new("go_map_update_failure_total")
        .label("op_type", op)
        .label("key_hash", shard)
        .label("error_class", class)
        .absent_until_first_increment()
        .rate(move |t| {
            let (a, b) = timeouts();
            let r = if within(t, a, b) { during } else { ratio };
            diurnal(t, share) * r
        });
    if shard == SHARDS[0] {
        c = c.reset_at(restart());
    }
    c
}

fn base_rate(op: &str) -> f64 {
    OPS.iter()
        .find(|(o, _)| *o == op)
        .map(|(_, base)| *base)
        .expect("a known op")
}

/// Writes the gzipped OpenMetrics text (mtime zeroed so the bytes are reproducible).
pub fn write_demo(path: &Path) {
    let dir = tempfile::tempdir().expect("temp dir");
    let text_path = dir.path().join("history.om");
    build().write_openmetrics(&text_path);
    let text = std::fs::read(&text_path).expect("read generated history");
    let file = std::fs::File::create(path).expect("create demo history");
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(file, Compression::best());
    gz.write_all(&text).expect("write demo history");
    gz.finish().expect("finish gzip");
}

fn main() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/map-update-history.om.gz");
    write_demo(&out);
    println!(
        "wrote {} ({} bytes)",
        out.display(),
        std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0)
    );
}
