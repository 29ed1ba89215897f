//! Running the real `burnrate` binary from a test and reading what it printed: one way to
//! start it (no backend URL inherited from the environment, loopback never through a
//! proxy), to insist on an exit code, to parse its JSON lines, and `check` and `backtest`
//! as most comparisons run them.

use std::process::{Command, Output};

use super::history::rfc3339;
use serde_json::Value;

/// The `burnrate` binary, without `BURNRATE_PROMETHEUS_URL` from the environment and with
/// loopback exempt from any proxy.
pub fn burnrate_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_burnrate"));
    cmd.env_remove("BURNRATE_PROMETHEUS_URL")
        .env("NO_PROXY", "127.0.0.1,localhost");
    cmd
}

/// Runs `burnrate args...` to completion.
pub fn burnrate(args: &[&str]) -> Output {
    burnrate_cmd().args(args).output().expect("run burnrate")
}

/// Runs `cmd`, asserts that it exits with `code` (showing stderr when not) and returns its
/// stdout.
pub fn stdout_of(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().expect("run burnrate");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 stdout")
}

/// Every line of `stdout` as a JSON object.
pub fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l:?}"));
            assert!(v.is_object(), "stdout line is not a JSON object: {l:?}");
            v
        })
        .collect()
}

/// `burnrate check SPECS --prometheus URL --at AT --format json EXTRA...`: its exit code,
/// its objects and its stderr. `at` as `--at` takes it (RFC 3339 or Unix seconds).
pub fn check_json(specs: &str, url: &str, at: &str, extra: &[&str]) -> (i32, Vec<Value>, String) {
    let out = burnrate_cmd()
        .args([
            "check",
            specs,
            "--prometheus",
            url,
            "--at",
            at,
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .expect("run burnrate");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    (
        out.status.code().expect("an exit code"),
        json_lines(&stdout),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `burnrate backtest SPECS --format json --step 1m` from `from` to `to` (Unix seconds) on
/// the source `args` names; its objects (it must exit 0).
pub fn backtest_json(specs: &str, args: &[&str], from: i64, to: i64) -> Vec<Value> {
    json_lines(&stdout_of(
        burnrate_cmd()
            .args(["backtest", specs, "--format", "json", "--step", "1m"])
            .args(["--from", &rfc3339(from), "--to", &rfc3339(to)])
            .args(args),
        0,
    ))
}
