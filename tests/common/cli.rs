//! Running the real `burnrate` binary from a test and reading what it printed: one way to
//! start it (no backend URL inherited from the environment, loopback never through a
//! proxy), to insist on an exit code, and to parse its JSON lines.

use std::process::{Command, Output};

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
