//! The one exit-code table of the README ("Exit codes"), pinned by running the binary once
//! per failure path. Every command shares the table, so each code is checked from more than
//! one command where more than one can produce it. Only loopback is used: the backend of
//! the 69 case is a local port nothing listens on.
//!
//! Every command is covered: `validate`, `check`, `backtest`, `run`, `rules` and `convert`.
//! The outcome codes are pinned elsewhere: `check`'s 0-3 against a real Prometheus
//! (`check_matches_prometheus`), 4 and 69 under backend faults (`check_backend_faults`),
//! and `backtest`'s 4 for a skipped SLO (`demo_backtest`).

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{burnrate, closed_port_url};

const SPEC: &str = "tests/fixtures/faults/two-slos.yaml";
const INVALID_SPEC: &str = "tests/fixtures/invalid/objective.yaml";
const HISTORY: &str = "tests/fixtures/history/sample.om";
const INVALID_SLOTH: &str = "tests/fixtures/import/invalid/sloth-unsupported.yml";
const SLOTH: &str = "tests/fixtures/import/sloth/go-map.yml";

fn assert_code(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit {code}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn usage_errors_exit_64() {
    let url = closed_port_url();
    let cases: [&[&str]; 4] = [
        &["check", SPEC, "--prometheus", &url, "--no-such-flag"],
        &["check", SPEC, "--prometheus", &url, "--at", "yesterday"],
        &["check", SPEC],
        &["backtest", SPEC, "--history", HISTORY, "--step", "soon"],
    ];
    for args in cases {
        assert_code(&burnrate(args), 64, &format!("{args:?}"));
    }
}

#[test]
fn an_invalid_spec_exits_65_from_every_command() {
    let url = closed_port_url();
    let cases: [&[&str]; 6] = [
        &["validate", INVALID_SPEC],
        &["check", INVALID_SPEC, "--prometheus", &url],
        &["backtest", INVALID_SPEC, "--history", HISTORY],
        &["rules", INVALID_SPEC],
        &[
            "run",
            INVALID_SPEC,
            "--prometheus",
            &url,
            "--listen",
            "127.0.0.1:0",
        ],
        &["convert", INVALID_SLOTH],
    ];
    for args in cases {
        let out = burnrate(args);
        assert_code(&out, 65, &format!("{args:?}"));
        let file = if args[1] == INVALID_SLOTH {
            "sloth-unsupported.yml:"
        } else {
            "objective.yaml:"
        };
        assert!(
            stderr(&out).contains(file),
            "{args:?}: the problem names its file: {}",
            stderr(&out)
        );
    }
}

#[test]
fn convert_uses_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let out = burnrate(&["convert", SLOTH, "-o", out_dir]);
    assert_code(&out, 0, "convert -o DIR");
    let out = burnrate(&["convert", SLOTH, "-o", out_dir]);
    assert_code(
        &out,
        64,
        "convert -o DIR over existing files, without --force",
    );
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    let out = burnrate(&["convert", SLOTH, "-o", out_dir, "--force"]);
    assert_code(&out, 0, "convert -o DIR --force");
    let out = burnrate(&["convert", "--no-such-flag", SLOTH]);
    assert_code(&out, 64, "convert --no-such-flag");
}

#[test]
fn a_corrupt_state_file_exits_65_from_check_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let url = closed_port_url();
    let state = write(dir.path(), "state.json", "{\"slos\": [not json\n");
    let out = burnrate(&[
        "check",
        SPEC,
        "--prometheus",
        &url,
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_code(&out, 65, "check --state <corrupt>");
    assert!(
        stderr(&out).contains("state.json:1:"),
        "names file:line:col: {}",
        stderr(&out)
    );

    let state_dir = dir.path().join("daemon");
    std::fs::create_dir(&state_dir).unwrap();
    write(&state_dir, "state.json", "garbage");
    let out = burnrate(&[
        "run",
        SPEC,
        "--prometheus",
        &url,
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        state_dir.to_str().unwrap(),
    ]);
    assert_code(&out, 65, "run --state-dir <corrupt>");
    assert!(
        stderr(&out).contains("state.json:1:"),
        "names file:line:col: {}",
        stderr(&out)
    );
}

#[test]
fn a_corrupt_history_file_exits_65() {
    let dir = tempfile::tempdir().unwrap();
    let history = write(
        dir.path(),
        "history.om",
        "# TYPE http_requests_total counter\nhttp_requests_total{job=\"a\"} one 1700000000\n",
    );
    let out = burnrate(&["backtest", SPEC, "--history", history.to_str().unwrap()]);
    assert_code(&out, 65, "backtest --history <corrupt>");
    assert!(
        stderr(&out).contains("history.om") && stderr(&out).contains("line 2"),
        "names the file and line: {}",
        stderr(&out)
    );
    let empty = write(dir.path(), "empty.om", "# EOF\n");
    let out = burnrate(&["backtest", SPEC, "--history", empty.to_str().unwrap()]);
    assert_code(&out, 65, "backtest --history <no samples>");
}

#[test]
fn a_corrupt_incidents_file_exits_65() {
    let dir = tempfile::tempdir().unwrap();
    let incidents = write(
        dir.path(),
        "incidents.yaml",
        "- service: faultsvc\n  slo: requests\n  start: yesterday\n  end: 1700000900\n",
    );
    let out = burnrate(&[
        "backtest",
        SPEC,
        "--history",
        HISTORY,
        "--incidents",
        incidents.to_str().unwrap(),
    ]);
    assert_code(&out, 65, "backtest --incidents <corrupt>");
    assert!(
        stderr(&out).contains("incidents.yaml:3:10:"),
        "names file:line:col: {}",
        stderr(&out)
    );
}

#[test]
fn an_unreachable_backend_exits_69() {
    let url = closed_port_url();
    let out = burnrate(&["check", SPEC, "--prometheus", &url]);
    assert_code(&out, 69, "check against a closed port");
    let out = burnrate(&[
        "backtest",
        SPEC,
        "--prometheus",
        &url,
        "--from",
        "1700000000",
        "--to",
        "1700003600",
    ]);
    assert_code(&out, 69, "backtest against a closed port");
}

#[test]
fn an_unwritable_state_file_exits_70() {
    let dir = tempfile::tempdir().unwrap();
    let url = closed_port_url();
    let state = dir.path().join("missing-dir").join("state.json");
    let out = burnrate(&[
        "check",
        SPEC,
        "--prometheus",
        &url,
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_code(&out, 70, "check --state <unwritable>");
    assert!(
        stderr(&out).contains("cannot write"),
        "says why: {}",
        stderr(&out)
    );
}
