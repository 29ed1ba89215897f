//! `burnrate run` as a child process for integration tests: started on a free loopback
//! port, waited for until `/healthz` answers, queried over HTTP, signalled, and killed on
//! drop (also when the test panics). Its stderr goes to a log file for failure messages.

#![allow(unsafe_code, reason = "libc: kill to signal the daemon")]

use super::prometheus::{free_loopback_port, kill_with_parent};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts `burnrate run <args> --listen 127.0.0.1:<free port>` and waits for `/healthz`.
    pub fn start(args: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("burnrate.log");
        let port = free_loopback_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_burnrate"));
        cmd.arg("run")
            .args(args)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("BURNRATE_LOG", "info")
            .env_remove("BURNRATE_PROMETHEUS_URL")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        kill_with_parent(&mut cmd);
        let child = cmd.spawn().expect("start burnrate run");
        let mut d = Daemon {
            child: Some(child),
            port,
            log,
            _dir: dir,
        };
        d.wait_healthy(Duration::from_secs(20));
        d
    }

    fn wait_healthy(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("burnrate run exited early ({status}):\n{}", self.log());
            }
            // Behind `--web.config.file` basic auth, 401 is the answer of a listener that is up.
            match ureq::get(&format!("{}/healthz", self.url()))
                .timeout(Duration::from_secs(1))
                .call()
            {
                Ok(_) | Err(ureq::Error::Status(401, _)) => return,
                Err(_) => {}
            }
            assert!(
                Instant::now() < deadline,
                "burnrate run not healthy in {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of the log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    fn get(&self, path: &str) -> String {
        ureq::get(&format!("{}{path}", self.url()))
            .timeout(Duration::from_secs(5))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.log()))
            .into_string()
            .expect("body")
    }

    /// `/api/v1/decisions`: the latest evaluation per SLO.
    pub fn decisions(&self) -> Vec<Value> {
        serde_json::from_str(&self.get("/api/v1/decisions")).expect("decisions JSON")
    }

    /// The latest evaluation of one SLO, if it has been evaluated.
    pub fn decision_of(&self, service: &str, slo: &str) -> Option<Value> {
        self.decisions()
            .into_iter()
            .find(|d| d["service"] == service && d["slo"] == slo)
    }

    pub fn metrics(&self) -> String {
        self.get("/metrics")
    }

    /// Polls `check` every 100 ms until it returns true or `within` passes; returns whether
    /// it did.
    pub fn wait_for(&self, within: Duration, mut check: impl FnMut(&Daemon) -> bool) -> bool {
        super::poll_until(within, Duration::from_millis(100), || check(self))
    }

    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: sending a signal to our own child process.
        let rc = unsafe { libc::kill(self.pid() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({signal})");
    }

    /// Sends SIGTERM and waits (at most 10 s) for the exit; returns the status and how long
    /// the exit took.
    pub fn terminate(&mut self) -> (ExitStatus, Duration) {
        self.signal(libc::SIGTERM);
        let started = Instant::now();
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                self.child = None;
                return (status, started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                self.child = None;
                panic!(
                    "burnrate run did not exit within 10 s of SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
