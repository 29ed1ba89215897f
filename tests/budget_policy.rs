//! Budget policies of issue 14: what an SLO decides beyond its matrix, in every command.
//!
//! - `no_data: {after, decision}`: a dimension without data (every matrix window null) for
//!   `after` decides `decision`, the time carried across runs like `for`/`hold`: by `check
//!   --state` at successive `--at` instants against a real Prometheus 2.42 over a backfilled
//!   history with gaps, by `backtest` from the same history (per group), and by `run`
//!   against a live exporter that is stopped (and across a daemon restart with `--state-dir`).
//! - `maintenance: [{start, end, reason}]`: inside a window nothing fires and evaluations say
//!   why: `check` decides ok where the spec without the window breaks the circuit; `backtest`
//!   takes no action inside and does not score that time; `run` raises no Alertmanager alert
//!   (resolves an active one) and sends no webhook until the window is over.
//! - `validate` names every problem of both fields at `file:line:column`; `rules` says what a
//!   ruler cannot know.
//!
//! The history (`history()`): 6 hours from 2026-11-10T00:00Z at 30 s scrapes. `api` serves
//! 10 requests a second, 0.1 % failing (burn 0.1 against 99 %), 40 % (burn 40) during three
//! spikes (01:00-01:10, 04:10-04:30, 05:00-05:30), and is not scraped from 02:00 to 03:00;
//! `fleet` has two instances, `a` not scraped from 03:30 to 04:30. The specs are
//! `tests/fixtures/policy/` (`gap.yaml`, and `maintenance.yaml` with windows over the spikes
//! and the gap). Each test takes under a second but the `run` ones: about 25 s (no data) and
//! 40 s (maintenance); the file about 40 s with the default two test threads.

mod common;

use common::alertmanager::{Alertmanager, has_labels};
use common::daemon::Daemon;
use common::exporter::Exporter;
use common::history::{Counter, HOUR, History, MINUTE, rfc3339, unix};
use common::prometheus::{self, Prometheus};
use common::webhook::WebhookReceiver;
use common::{burnrate, burnrate_cmd, json_lines, stdout_of};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/policy");

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

/// Unix seconds `h:m:s` after the history's start.
fn at(h: i64, m: i64, s: i64) -> i64 {
    unix(2026, 11, 10, 0, 0, 0) + h * HOUR + m * MINUTE + s
}

fn spiking(t: i64) -> bool {
    [
        (at(1, 0, 0), at(1, 10, 0)),
        (at(4, 10, 0), at(4, 30, 0)),
        (at(5, 0, 0), at(5, 30, 0)),
    ]
    .iter()
    .any(|&(from, to)| from <= t && t < to)
}

fn history() -> History {
    let error_ratio = |t: i64| if spiking(t) { 0.4 } else { 0.001 };
    let mut h = History::new(at(0, 0, 0), 6 * HOUR)
        .interval(30)
        .seed(14)
        .counter(
            Counter::new("policy_requests_total")
                .label("job", "api")
                .label("code", "200")
                .rate(move |t| 10.0 * (1.0 - error_ratio(t)))
                .gap(at(2, 0, 0), at(3, 0, 0)),
        )
        .counter(
            Counter::new("policy_requests_total")
                .label("job", "api")
                .label("code", "500")
                .rate(move |t| 10.0 * error_ratio(t))
                .gap(at(2, 0, 0), at(3, 0, 0)),
        );
    for instance in ["a", "b"] {
        for (code, share) in [("200", 0.999), ("500", 0.001)] {
            let mut c = Counter::new("policy_fleet_requests_total")
                .label("instance", instance)
                .label("code", code)
                .rate(move |_| 5.0 * share);
            if instance == "a" {
                c = c.gap(at(3, 30, 0), at(4, 30, 0));
            }
            h = h.counter(c);
        }
    }
    h
}

/// The history as OpenMetrics text, and backfilled into TSDB blocks.
struct Data {
    history: PathBuf,
    blocks: PathBuf,
}

/// Written once per test run into cargo's temporary directory for integration tests
/// (a static is never dropped, so a `TempDir` would be left behind at every run).
fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("budget_policy");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let history = dir.join("history.om");
        self::history().write_openmetrics(&history);
        let blocks = dir.join("blocks");
        prometheus::backfill_with_block_duration(&history, &blocks, Some("24h"));
        Data { history, blocks }
    })
}

/// `check SPEC --at T --format json [--state FILE]`: its exit code and objects.
fn check(prom: &Prometheus, spec: &str, t: i64, state: Option<&Path>) -> (i32, Vec<Value>) {
    let mut cmd = burnrate_cmd();
    cmd.args([
        "check",
        spec,
        "--prometheus",
        &prom.url(),
        "--format",
        "json",
    ])
    .args(["--at", &rfc3339(t)]);
    if let Some(state) = state {
        cmd.arg("--state").arg(state);
    }
    let out = cmd.output().expect("run burnrate check");
    let code = out.status.code().expect("exit code");
    assert!(
        code <= 4,
        "check at {}: exit {code}: {}",
        rfc3339(t),
        String::from_utf8_lossy(&out.stderr)
    );
    (code, json_lines(&String::from_utf8(out.stdout).unwrap()))
}

/// The object of SLO `slo` (and group `instance`, for `fleet`) among `objects`.
fn object<'a>(objects: &'a [Value], slo: &str, instance: Option<&str>) -> &'a Value {
    objects
        .iter()
        .find(|o| {
            o["slo"] == slo && o["group"]["instance"].as_str() == instance && o["summary"].is_null()
        })
        .unwrap_or_else(|| panic!("no {slo} {instance:?} among {objects:#?}"))
}

fn decision(e: &Value) -> &str {
    e["decision"].as_str().unwrap_or_default()
}

fn no_data_for(e: &Value) -> Option<&str> {
    e["error"]["no_data_for"].as_str()
}

/// Unix milliseconds of an RFC 3339 `time`.
fn unix_ms(time: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(time.as_str().expect("a time"))
        .unwrap_or_else(|e| panic!("{time}: {e}"))
        .timestamp_millis()
}

/// Unix seconds of an RFC 3339 `time`, rounded down.
fn seconds(time: &Value) -> i64 {
    unix_ms(time).div_euclid(1000)
}

/// Milliseconds of a duration as burnrate prints it (`1m5s`, `800ms`).
fn millis(text: &str) -> i64 {
    let (mut total, mut number) = (0, String::new());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                1
            }
            ('s', _) => 1_000,
            ('m', _) => 60_000,
            ('h', _) => 3_600_000,
            ('d', _) => 86_400_000,
            _ => panic!("unit {c} in {text:?}"),
        };
        total += number.parse::<i64>().unwrap() * unit;
        number.clear();
    }
    total
}

#[test]
fn validate_names_every_policy_problem_at_its_position() {
    let path = fixture("invalid/policy.yaml");
    let out = burnrate(&["validate", &path]);
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{FIXTURES}/invalid/")))
        .collect();
    assert_eq!(
        lines,
        [
            r#"policy.yaml:9:22: slos[0].no_data.after: duration "15 minutes" needs a unit (ms, s, m, h, d, w, y)"#,
            r#"policy.yaml:9:44: slos[0].no_data.decision: must be warn, scale or circuit_break, got "ok""#,
            "policy.yaml:9:48: slos[0].no_data.when: unknown field (expected one of: after, decision)",
            "policy.yaml:11:44: slos[0].maintenance[0].end: must be after start (2026-11-20T04:00:00Z), got 2026-11-20T02:00:00Z",
            r#"policy.yaml:12:17: slos[0].maintenance[1].start: not an RFC 3339 time with an offset (like 2026-11-20T02:00:00Z or 2026-11-20T04:00:00+02:00): "2026-11-20T02:00:00""#,
            r#"policy.yaml:12:43: slos[0].maintenance[1].end: not an RFC 3339 time with an offset (like 2026-11-20T02:00:00Z or 2026-11-20T04:00:00+02:00): "tomorrow""#,
            "policy.yaml:12:61: slos[0].maintenance[1].reason: must not be empty",
            "policy.yaml:13:9: slos[0].maintenance[2].end: missing required field",
            r#"policy.yaml:15:14: slos[0].maintenance[3].end: "5200-01-01T00:00:00Z" is out of range (burnrate reads instants up to year 5138)"#,
            "policy.yaml:16:17: slos[0].maintenance[3].reason: expected a string, got a list",
            "policy.yaml:17:9: slos[0].maintenance[3].why: unknown field (expected one of: start, end, reason)",
            "policy.yaml:20:14: slos[1].no_data: expected a mapping, got a scalar",
            "policy.yaml:21:18: slos[1].maintenance: expected a list, got a mapping",
        ],
        "{stderr}"
    );
    // Overlapping windows are fine; more than 1,000 are not.
    let dir = tempfile::tempdir().unwrap();
    let many = dir.path().join("many.yaml");
    let window = "      - {start: 2026-11-20T02:00:00Z, end: 2026-11-20T03:00:00Z, reason: r}\n";
    let spec = |n: usize| {
        format!(
            "apiVersion: burnrate/v1\nservice: s\nslos:\n  - name: a\n    error: {{objective: 99, bad: e_total, total: r_total}}\n    maintenance:\n{}",
            window.repeat(n)
        )
    };
    std::fs::write(&many, spec(1000)).unwrap();
    stdout_of(burnrate_cmd().arg("validate").arg(&many), 0);
    std::fs::write(&many, spec(1001)).unwrap();
    let out = burnrate(&["validate", many.to_str().unwrap()]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr.contains(
            "many.yaml:7:7: slos[0].maintenance: 1001 windows: at most 1000 (drop the windows that are over)"
        ),
        "{stderr}"
    );
}

#[test]
fn rules_say_that_policies_are_burnrates_own() {
    let out = stdout_of(
        burnrate_cmd().args(["rules", &fixture("maintenance.yaml")]),
        0,
    );
    assert!(
        out.contains("# no_data (after 15m: warn) is burnrate's own decision: these rules do not fire on missing data"),
        "{out}"
    );
    assert!(
        out.contains("# maintenance (4 window(s)) is burnrate's own: these rules fire during it (use Alertmanager silences)"),
        "{out}"
    );
}

#[test]
fn check_escalates_no_data_after_the_policy_time_across_state_runs() {
    let prom = Prometheus::start(&data().blocks);
    let gap = fixture("gap.yaml");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    // (instant, exit code, api's decision, its no_data_for)
    let steps = [
        (at(0, 30, 0), 0, "ok", None),
        // The first evaluation without data starts the clock ...
        (at(2, 12, 0), 4, "no_data", Some("0s")),
        (at(2, 20, 0), 4, "no_data", Some("8m")),
        // ... and the policy decides from exactly `after` on, never before.
        (at(2, 26, 59), 4, "no_data", Some("14m59s")),
        (at(2, 27, 0), 1, "warn", Some("15m")),
        (at(2, 50, 0), 1, "warn", Some("38m")),
        // Data is back: decided on the data again, and no clock.
        (at(3, 5, 0), 0, "ok", None),
        (at(3, 10, 0), 0, "ok", None),
    ];
    for (t, code, want, since) in steps {
        let (exit, objects) = check(&prom, &gap, t, Some(&state));
        let api = object(&objects, "api", None);
        let when = rfc3339(t);
        assert_eq!(
            (exit, decision(api), no_data_for(api)),
            (code, want, since),
            "at {when}: {api:#}"
        );
        assert_eq!(api["error"]["decision"], want, "at {when}");
        if want == "warn" {
            assert!(
                api["error"]["burn"]
                    .as_object()
                    .unwrap()
                    .values()
                    .all(Value::is_null),
                "escalated on missing data, not on numbers: {api:#}"
            );
            assert!(api["error"]["fired"].as_array().unwrap().is_empty());
        }
        for instance in ["a", "b"] {
            assert_eq!(decision(object(&objects, "fleet", Some(instance))), "ok");
        }
    }

    // A state that never saw data counts from its first evaluation without data; a state
    // file written before `no_data` existed loads as such a state.
    let old = dir.path().join("old.json");
    std::fs::write(
        &old,
        format!(
            r#"{{"slos":{{"policy/api":{{"updated_at":{},"last_decision":"no_data","rules":{{"error":{{}}}}}}}}}}"#,
            at(2, 29, 0) * 1000
        ),
    )
    .unwrap();
    let fresh = dir.path().join("fresh.json");
    for state in [&old, &fresh] {
        let (exit, objects) = check(&prom, &gap, at(2, 30, 0), Some(state));
        let api = object(&objects, "api", None);
        assert_eq!((exit, no_data_for(api)), (4, Some("0s")), "{api:#}");
        let (exit, objects) = check(&prom, &gap, at(2, 45, 0), Some(state));
        let api = object(&objects, "api", None);
        assert_eq!(
            (exit, decision(api), no_data_for(api)),
            (1, "warn", Some("15m"))
        );
        let saved: Value = serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap();
        assert_eq!(
            saved["slos"]["policy/api"]["no_data_since"]["error"],
            at(2, 30, 0) * 1000,
            "{saved:#}"
        );
    }

    // Per group: fleet's instance `a` has its own clock (scale after 15m), `b` has data.
    let fleet = dir.path().join("fleet.json");
    let (_, objects) = check(&prom, &gap, at(3, 45, 0), Some(&fleet));
    assert_eq!(
        no_data_for(object(&objects, "fleet", Some("a"))),
        Some("0s")
    );
    let (exit, objects) = check(&prom, &gap, at(4, 0, 0), Some(&fleet));
    let a = object(&objects, "fleet", Some("a"));
    assert_eq!(
        (decision(a), no_data_for(a)),
        ("scale", Some("15m")),
        "{a:#}"
    );
    let b = object(&objects, "fleet", Some("b"));
    assert_eq!((decision(b), no_data_for(b)), ("ok", None));
    assert_eq!(exit, 2, "the exit code follows the escalated decision");
}

#[test]
fn check_inside_maintenance_prints_the_reason_and_decides_ok() {
    let prom = Prometheus::start(&data().blocks);
    let (gap, maintenance) = (fixture("gap.yaml"), fixture("maintenance.yaml"));
    for (t, reason) in [(at(1, 5, 0), "load test"), (at(4, 20, 0), "db migration")] {
        let when = rfc3339(t);
        // Without the window: the spike breaks the circuit.
        let (exit, objects) = check(&prom, &gap, t, None);
        let bare = object(&objects, "api", None);
        assert_eq!((exit, decision(bare)), (3, "circuit_break"), "{bare:#}");
        assert!(bare.get("maintenance").is_none());
        // With it: ok, the reason, and the rule that would have fired listed as suppressed.
        let (exit, objects) = check(&prom, &maintenance, t, None);
        let api = object(&objects, "api", None);
        assert_eq!(
            (exit, decision(api), api["maintenance"].as_str()),
            (0, "ok", Some(reason)),
            "at {when}: {api:#}"
        );
        assert_eq!(api["error"]["decision"], "ok");
        assert_eq!(
            api["error"]["burn"], bare["error"]["burn"],
            "the same numbers"
        );
        assert!(api["error"]["fired"].as_array().unwrap().is_empty());
        assert_eq!(
            api["error"]["suppressed"], bare["error"]["fired"],
            "{api:#}"
        );
    }
    let table = stdout_of(
        burnrate_cmd().args([
            "check",
            &maintenance,
            "--prometheus",
            &prom.url(),
            "--at",
            &rfc3339(at(1, 5, 0)),
        ]),
        0,
    );
    assert!(
        table.contains("maintenance: load test (no rule fires)") && table.contains("suppressed"),
        "{table}"
    );

    // The no-data policy does not escalate inside a window, and counts again after it.
    let dir = tempfile::tempdir().unwrap();
    let (with, without) = (
        dir.path().join("with.json"),
        dir.path().join("without.json"),
    );
    check(&prom, &maintenance, at(2, 12, 0), Some(&with));
    check(&prom, &gap, at(2, 12, 0), Some(&without));
    let (exit, objects) = check(&prom, &gap, at(2, 35, 0), Some(&without));
    assert_eq!((exit, decision(object(&objects, "api", None))), (1, "warn"));
    let (exit, objects) = check(&prom, &maintenance, at(2, 35, 0), Some(&with));
    let api = object(&objects, "api", None);
    assert_eq!(
        (
            exit,
            decision(api),
            api["maintenance"].as_str(),
            no_data_for(api)
        ),
        (4, "no_data", Some("exporter migration"), None),
        "{api:#}"
    );
    for (t, exit_code, want, since) in [
        (at(2, 41, 0), 4, "no_data", Some("0s")),
        (at(2, 55, 0), 4, "no_data", Some("14m")),
        (at(2, 56, 0), 1, "warn", Some("15m")),
    ] {
        let (exit, objects) = check(&prom, &maintenance, t, Some(&with));
        let api = object(&objects, "api", None);
        assert_eq!(
            (exit, decision(api), no_data_for(api)),
            (exit_code, want, since),
            "at {}: {api:#}",
            rfc3339(t)
        );
        assert!(api.get("maintenance").is_none());
    }
}

/// `backtest SPEC --history FILE --format json [--incidents FILE]` from 00:30 to 05:59.
fn backtest(spec: &str, incidents: bool) -> Vec<Value> {
    let mut cmd = burnrate_cmd();
    cmd.args(["backtest", spec, "--format", "json", "--history"])
        .arg(&data().history)
        .args([
            "--from",
            &rfc3339(at(0, 30, 0)),
            "--to",
            &rfc3339(at(5, 59, 0)),
        ]);
    if incidents {
        cmd.args(["--incidents", &fixture("incidents.yaml")]);
    }
    json_lines(&stdout_of(&mut cmd, 0))
}

/// The printed changes of one SLO instance (the object at `--from` first), and its summary.
fn replay<'a>(
    objects: &'a [Value],
    slo: &str,
    instance: Option<&str>,
) -> (Vec<&'a Value>, &'a Value) {
    let mine = |o: &&Value| o["slo"] == slo && o["group"]["instance"].as_str() == instance;
    let changes = objects
        .iter()
        .filter(mine)
        .filter(|o| o["summary"].is_null())
        .collect();
    let summary = objects
        .iter()
        .filter(mine)
        .find(|o| o["summary"] == true)
        .expect("a summary");
    (changes, summary)
}

/// `(unix seconds, decision)` of each change.
fn path(changes: &[&Value]) -> Vec<(i64, String)> {
    changes
        .iter()
        .map(|c| (seconds(&c["time"]), decision(c).to_string()))
        .collect()
}

#[test]
fn backtest_escalates_no_data_at_exactly_the_step_after_is_reached() {
    let objects = backtest(&fixture("gap.yaml"), false);
    for (slo, instance, escalated) in [("api", None, "warn"), ("fleet", Some("a"), "scale")] {
        let (changes, _) = replay(&objects, slo, instance);
        let blind = changes
            .iter()
            .position(|c| decision(c) == "no_data")
            .unwrap_or_else(|| panic!("{slo} {instance:?} goes without data: {changes:#?}"));
        let (first, next, back) = (changes[blind], changes[blind + 1], changes[blind + 2]);
        assert_eq!(no_data_for(first), Some("0s"), "{first:#}");
        assert_eq!(
            (decision(next), no_data_for(next)),
            (escalated, Some("15m")),
            "{next:#}"
        );
        assert_eq!(
            seconds(&next["time"]) - seconds(&first["time"]),
            15 * MINUTE,
            "at exactly the step `after` is reached"
        );
        assert_eq!(next["previous"], "no_data");
        assert_eq!(
            (decision(back), no_data_for(back)),
            ("ok", None),
            "{back:#}"
        );
    }
    // The gaps as the data has them: api has no 10m window from 02:10 (its last sample before
    // the gap is 01:59:30) to 03:01 (two samples after it).
    let (api, _) = replay(&objects, "api", None);
    let from_gap: Vec<(i64, String)> = path(&api)
        .into_iter()
        .filter(|(t, _)| (at(2, 0, 0)..at(3, 30, 0)).contains(t))
        .collect();
    assert_eq!(
        from_gap,
        [
            (at(2, 10, 0), "no_data".into()),
            (at(2, 25, 0), "warn".into()),
            (at(3, 1, 0), "ok".into())
        ]
    );
    let (b, summary) = replay(&objects, "fleet", Some("b"));
    assert_eq!(
        (b.len(), &summary["changes"]),
        (1, &Value::from(0)),
        "b has data throughout"
    );
}

#[test]
fn backtest_takes_no_action_and_scores_nothing_inside_maintenance() {
    let windows = [
        (at(0, 50, 0), at(1, 25, 0), "load test"),
        (at(2, 30, 0), at(2, 40, 0), "exporter migration"),
        (at(4, 0, 0), at(4, 45, 0), "db migration"),
        (at(4, 58, 0), at(5, 1, 0), "deploy"),
    ];
    let inside = |t: i64| {
        windows
            .iter()
            .find(|&&(start, end, _)| start <= t && t < end)
            .map(|w| w.2)
    };
    let acting = |d: &str| matches!(d, "warn" | "scale" | "circuit_break");
    let bare = backtest(&fixture("gap.yaml"), true);
    let (bare_changes, bare_summary) = replay(&bare, "api", None);
    let objects = backtest(&fixture("maintenance.yaml"), true);
    let (changes, summary) = replay(&objects, "api", None);

    // Without the windows the spikes inside them break the circuit; with them nothing acts
    // inside a window, and every evaluation printed inside one says which.
    for (start, end, _) in [windows[0], windows[2]] {
        assert!(
            path(&bare_changes)
                .iter()
                .any(|(t, d)| (start..end).contains(t) && d == "circuit_break"),
            "{:?}",
            path(&bare_changes)
        );
    }
    for c in &changes {
        let t = seconds(&c["time"]);
        assert_eq!(c["maintenance"].as_str(), inside(t), "{c:#}");
        assert!(
            inside(t).is_none() || !acting(decision(c)),
            "acted inside maintenance: {c:#}"
        );
    }
    // Entering the exporter migration ends the no-data warning; its clock counts again
    // after the window (02:40), so the warning comes back 15 minutes later.
    let around_gap: Vec<(i64, String)> = path(&changes)
        .into_iter()
        .filter(|(t, _)| (at(2, 0, 0)..at(3, 30, 0)).contains(t))
        .collect();
    assert_eq!(
        around_gap,
        [
            (at(2, 10, 0), "no_data".into()),
            (at(2, 25, 0), "warn".into()),
            (at(2, 30, 0), "no_data".into()),
            (at(2, 55, 0), "warn".into()),
            (at(3, 1, 0), "ok".into())
        ]
    );
    // The last spike begins inside the deploy window and breaks the circuit after it, at
    // the same step as without the window.
    let first_break = |p: &[(i64, String)]| {
        p.iter()
            .find(|(t, d)| *t >= at(5, 0, 0) && d == "circuit_break")
            .map(|(t, _)| *t)
            .expect("the last spike breaks the circuit")
    };
    let broke = first_break(&path(&changes));
    assert_eq!(broke, first_break(&path(&bare_changes)));
    assert!(broke > at(5, 1, 0));

    // Scores: the incident inside the db migration is not scored; the one beginning inside
    // the deploy window loses its minute there from its detection time.
    let scores = &summary["scores"];
    let bare_scores = &bare_summary["scores"];
    assert_eq!(scores["incidents"], 2, "{scores:#}");
    assert_eq!(scores["incidents_in_maintenance"], 1, "{scores:#}");
    assert_eq!(scores["detected"], 1);
    assert_eq!(scores["recall"], 1.0);
    assert_eq!(scores["detection_seconds"][0], Value::Null);
    assert_eq!(scores["reset_seconds"][0], Value::Null);
    let detection = |s: &Value| s["detection_seconds"][1].as_f64().expect("detected");
    assert_eq!(detection(scores), (broke - at(5, 1, 0)) as f64);
    assert_eq!(detection(scores), detection(bare_scores) - 60.0);
    assert!(bare_scores.get("incidents_in_maintenance").is_none());
    assert_eq!(
        (&bare_scores["detected"], &bare_scores["recall"]),
        (&2.into(), &1.0.into())
    );
    // Precision: alerting time inside an incident over alerting time, from the printed
    // changes (nothing alerts inside maintenance, so all alerting time counts).
    let incidents = [(at(4, 10, 0), at(4, 30, 0)), (at(5, 0, 0), at(5, 30, 0))];
    let precision = |changes: &[&Value], end: i64| {
        let p = path(changes);
        let (mut alerting, mut inside_incident) = (0, 0);
        for (i, (start, d)) in p.iter().enumerate() {
            let stop = p.get(i + 1).map_or(end, |(t, _)| *t);
            if acting(d) {
                alerting += stop - start;
                inside_incident += incidents
                    .iter()
                    .map(|&(a, b)| (stop.min(b) - (*start).max(a)).max(0))
                    .sum::<i64>();
            }
        }
        inside_incident as f64 / alerting as f64
    };
    let end = at(6, 0, 0);
    let p = scores["precision"].as_f64().unwrap();
    assert!(
        (p - precision(&changes, end)).abs() < 1e-12,
        "{p} {scores:#}"
    );
    let bare_p = bare_scores["precision"].as_f64().unwrap();
    assert!((bare_p - precision(&bare_changes, end)).abs() < 1e-12);
    assert!(
        p > bare_p,
        "the false alarm of the load test is gone: {p} vs {bare_p}"
    );
}

// ---------------------------------------------------------------------------------------
// `burnrate run` against a live exporter
// ---------------------------------------------------------------------------------------

/// A spec for the live exporter (tests/common/exporter.rs): one error SLO breaking the
/// circuit at 10 % failures over 10s/5s, with `extra` appended to the SLO.
fn live_spec(dir: &Path, extra: &str) -> PathBuf {
    let spec = dir.join("live.yaml");
    std::fs::write(
        &spec,
        format!(
            r#"apiVersion: burnrate/v1
service: live
slos:
  - name: api
    period: 1h
    error:
      objective: 99
      bad: app_errors_total{{job="app"}}
      total: app_requests_total{{job="app"}}
    matrix:
      error:
        - {{decision: circuit_break, burn: 10, long: 10s, short: 5s}}
{extra}"#
        ),
    )
    .unwrap();
    spec
}

/// A Prometheus scraping `exporter` every second, once it holds a few samples.
fn scraping(exporter: &Exporter) -> Prometheus {
    let prom = Prometheus::start_scraping(&[exporter.target()], Duration::from_secs(1));
    let (seen, ok) = prom.wait_for_value(
        r#"count_over_time(app_requests_total{job="app"}[1m])"#,
        Duration::from_secs(30),
        |v| v.is_some_and(|n| n >= 3.0),
    );
    assert!(ok, "Prometheus did not scrape the exporter ({seen:?})");
    prom
}

fn daemon(spec: &Path, prom: &Prometheus, extra: &[&str]) -> Daemon {
    let spec = spec.display().to_string();
    let url = prom.url();
    let mut args = vec![spec.as_str(), "--prometheus", &url, "--interval", "1s"];
    args.extend_from_slice(extra);
    Daemon::start(&args)
}

/// Polls the daemon's latest evaluation of live/api every 100 ms; returns every distinct
/// one seen (by `time`) until `until` accepts one, or panics after `within`.
fn follow(
    d: &Daemon,
    within: Duration,
    what: &str,
    mut until: impl FnMut(&Value) -> bool,
) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    let done = d.wait_for(within, |d| {
        let Some(e) = d.decision_of("live", "api") else {
            return false;
        };
        if seen.last().is_none_or(|l| l["time"] != e["time"]) {
            seen.push(e.clone());
        }
        until(&e)
    });
    assert!(
        done,
        "{what}: seen {seen:#?}\n--- daemon log ---\n{}",
        d.log_tail(30)
    );
    seen
}

#[test]
fn run_escalates_no_data_after_the_policy_time_and_keeps_the_clock_across_a_restart() {
    let exporter = Exporter::start();
    exporter.set(200.0, 0.0, 0.0);
    let prom = scraping(&exporter);
    let dir = tempfile::tempdir().unwrap();
    let spec = live_spec(dir.path(), "    no_data: {after: 5s, decision: warn}\n");
    let state = dir.path().join("state");
    let state_arg = state.display().to_string();
    let mut d = daemon(&spec, &prom, &["--state-dir", &state_arg]);
    follow(&d, Duration::from_secs(20), "ok on healthy traffic", |e| {
        decision(e) == "ok"
    });

    // The target goes away: Prometheus marks its series stale, the windows empty out.
    drop(exporter);
    let seen = follow(
        &d,
        Duration::from_secs(40),
        "warn after 5s without data",
        |e| decision(e) == "warn",
    );
    let blind = seen
        .iter()
        .find(|e| decision(e) == "no_data")
        .unwrap_or_else(|| panic!("no_data before the policy decides: {seen:#?}"));
    assert_eq!(no_data_for(blind).map(millis), Some(0), "{blind:#}");
    let warned = seen.last().unwrap();
    let waited = unix_ms(&warned["time"]) - unix_ms(&blind["time"]);
    assert!(
        (5_000..7_500).contains(&waited),
        "warned {waited} ms after the first evaluation without data"
    );
    for e in &seen {
        if decision(e) == "warn" {
            assert!(
                no_data_for(e).map(millis).is_some_and(|t| t >= 5_000),
                "{e:#}"
            );
        }
        assert_ne!(decision(e), "circuit_break", "{e:#}");
    }
    let before = millis(no_data_for(warned).unwrap());

    // Restarted on the same state directory: the clock goes on where it was.
    let (status, _) = d.terminate();
    assert!(status.success());
    let d = daemon(&spec, &prom, &["--state-dir", &state_arg]);
    let seen = follow(
        &d,
        Duration::from_secs(20),
        "an evaluation after the restart",
        |_| true,
    );
    let first = &seen[0];
    assert_eq!(decision(first), "warn", "{first:#}");
    let after = millis(no_data_for(first).unwrap());
    assert!(
        after > before,
        "{after} ms after the restart, {before} ms before"
    );
}

#[test]
fn run_maintenance_withholds_alerts_and_webhooks_until_the_window_is_over() {
    let exporter = Exporter::start();
    // 30 % failures: burn 30, circuit_break whenever a window is not in maintenance.
    exporter.set(200.0, 0.3, 0.0);
    let prom = scraping(&exporter);
    let am = Alertmanager::start();
    let hook = WebhookReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    // A window around now, and another a few seconds after it.
    let (now_ms, started) = (
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
        Instant::now(),
    );
    let now_s = now_ms / 1000;
    let windows = [
        (now_s - 60, now_s + 8, "deploy freeze"),
        (now_s + 20, now_s + 28, "failover drill"),
    ];
    // The monotonic instant of Unix second `t`, to compare with when webhooks arrived.
    let instant = |t: i64| started + Duration::from_millis((t * 1000 - now_ms).max(0) as u64);
    let lines: String = windows
        .iter()
        .map(|(start, end, reason)| {
            format!(
                "      - {{start: {}, end: {}, reason: {reason}}}\n",
                rfc3339(*start),
                rfc3339(*end)
            )
        })
        .collect();
    let spec = live_spec(dir.path(), &format!("    maintenance:\n{lines}"));
    let d = daemon(
        &spec,
        &prom,
        &["--alertmanager", &am.url(), "--webhook", &hook.url()],
    );
    let mine = |alerts: &[Value]| -> usize {
        alerts
            .iter()
            .filter(|a| has_labels(a, &[("alertname", "SLOBurnRate"), ("service", "live")]))
            .count()
    };

    // Inside the first window: ok, with its reason; no alert, no webhook. The daemon may
    // act as soon as the window is over, so what Alertmanager and the receiver hold is
    // judged by when it was raised.
    let mut alerts_seen: Vec<Value> = Vec::new();
    let seen = follow(
        &d,
        Duration::from_secs(20),
        "the end of the deploy freeze",
        |e| {
            alerts_seen.extend(am.try_alerts().unwrap_or_default());
            seconds(&e["time"]) >= windows[0].1
        },
    );
    let inside: Vec<&Value> = seen
        .iter()
        .filter(|e| seconds(&e["time"]) < windows[0].1)
        .collect();
    assert!(
        inside.len() >= 2,
        "evaluations inside the window: {seen:#?}"
    );
    for e in &inside {
        // no_data only while the daemon's first windows fill.
        assert!(matches!(decision(e), "ok" | "no_data"), "{e:#}");
        assert_eq!(e["maintenance"], "deploy freeze", "{e:#}");
    }
    assert!(
        inside
            .iter()
            .any(|e| !e["error"]["suppressed"].as_array().unwrap().is_empty()),
        "the burning rule shows as suppressed: {inside:#?}"
    );
    let raised_inside = |alerts: &[Value]| -> Vec<Value> {
        alerts
            .iter()
            .filter(|a| has_labels(a, &[("service", "live")]))
            .filter(|a| seconds(&a["startsAt"]) < windows[0].1)
            .cloned()
            .collect()
    };
    assert_eq!(raised_inside(&alerts_seen), Vec::<Value>::new());
    for p in hook.posts() {
        assert!(seconds(&p.body["time"]) >= windows[0].1, "{}", p.raw);
        assert!(
            p.at >= instant(windows[0].1),
            "posted inside the window: {}",
            p.raw
        );
    }

    // After it: circuit_break, an alert, and a webhook (a first decision above ok).
    follow(
        &d,
        Duration::from_secs(10),
        "circuit_break after the window",
        |e| decision(e) == "circuit_break",
    );
    let (alerts, ok) = am.wait_for_alerts(Duration::from_secs(10), |a| mine(a) == 1);
    assert!(ok, "an alert once the window is over: {alerts:#?}");
    assert!(
        alerts
            .iter()
            .any(|a| has_labels(a, &[("service", "live"), ("decision", "circuit_break")]))
    );
    let (posts, ok) = hook.wait_for(Duration::from_secs(10), |p| !p.is_empty());
    assert!(ok);
    assert_eq!(decision(&posts[0].body), "circuit_break");
    assert!(
        posts[0].at >= instant(windows[0].1),
        "posted inside the window"
    );

    // The second window resolves the alert and sends nothing; after it the alert is back,
    // and receivers, who last heard circuit_break, get no webhook for the same decision.
    follow(&d, Duration::from_secs(25), "the failover drill", |e| {
        e["maintenance"] == "failover drill"
    });
    let (alerts, ok) = am.wait_for_alerts(Duration::from_secs(5), |a| mine(a) == 0);
    assert!(ok, "the alert is resolved inside the window: {alerts:#?}");
    assert!(
        Instant::now() < instant(windows[1].1),
        "resolved in time to tell"
    );
    follow(
        &d,
        Duration::from_secs(20),
        "circuit_break after the second window",
        |e| decision(e) == "circuit_break" && seconds(&e["time"]) >= windows[1].1,
    );
    let (alerts, ok) = am.wait_for_alerts(Duration::from_secs(10), |a| mine(a) == 1);
    assert!(ok, "the alert is back after the window: {alerts:#?}");
    std::thread::sleep(Duration::from_secs(2));
    let posts = hook.posts();
    assert_eq!(
        posts.len(),
        1,
        "one webhook in all: {:#?}",
        posts.iter().map(|p| &p.body).collect::<Vec<_>>()
    );
}
