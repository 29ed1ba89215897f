//! A throw-away Alertmanager (API v2) on a free loopback port, clustering disabled, routing
//! every alert to a receiver that notifies nobody. It can be killed and restarted on the same
//! port and storage (to test a sink outage). Killed (SIGKILL) and reaped on drop.
//!
//! The binary is `prometheus-alertmanager` (Debian's name) or `alertmanager` from `PATH`, or
//! the path in `ALERTMANAGER_BIN`. Like [`super::prometheus`], children get
//! `PR_SET_PDEATHSIG`: start it from the thread that uses it.

use super::prometheus::{free_loopback_port, kill_with_parent};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const READY_DEADLINE: Duration = Duration::from_secs(30);

const CONFIG: &str = "\
route:
  receiver: blackhole
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: blackhole
";

fn alertmanager_bin() -> String {
    if let Ok(bin) = std::env::var("ALERTMANAGER_BIN") {
        return bin;
    }
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    };
    if !on_path("prometheus-alertmanager") && on_path("alertmanager") {
        "alertmanager".to_string()
    } else {
        "prometheus-alertmanager".to_string()
    }
}

pub struct Alertmanager {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
    agent: ureq::Agent,
    // Declared last: removed after the process is gone.
    dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts an Alertmanager and waits until `/-/ready` answers.
    pub fn start() -> Alertmanager {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(5))
            .build();
        let mut last_failure = String::new();
        // The free port is released before Alertmanager binds it; retry if it was taken.
        for _attempt in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("burnrate-test-alertmanager-")
                .tempdir()
                .expect("create temp dir");
            fs::write(dir.path().join("alertmanager.yml"), CONFIG).unwrap();
            fs::create_dir_all(dir.path().join("data")).unwrap();
            let mut am = Alertmanager {
                child: None,
                port: free_loopback_port(),
                log: dir.path().join("alertmanager.log"),
                agent: agent.clone(),
                dir,
            };
            match am.spawn() {
                Ok(()) => return am,
                Err(why) => {
                    last_failure = why;
                    if !last_failure.contains("address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("alertmanager did not start: {last_failure}");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(alertmanager_bin());
        cmd.arg(format!(
            "--config.file={}",
            self.dir.path().join("alertmanager.yml").display()
        ))
        .arg(format!(
            "--storage.path={}",
            self.dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
        .arg("--cluster.listen-address=")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log));
        kill_with_parent(&mut cmd);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run {} (is Alertmanager installed?): {e}",
                alertmanager_bin()
            )
        });
        self.child = Some(child);
        let deadline = Instant::now() + READY_DEADLINE;
        let url = format!("{}/-/ready", self.url());
        loop {
            let child = self.child.as_mut().unwrap();
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                self.child = None;
                return Err(format!(
                    "alertmanager exited during startup ({status})\n--- log ---\n{}",
                    self.log_text()
                ));
            }
            if let Ok(r) = self.agent.get(&url).call()
                && r.status() == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!(
                    "alertmanager not ready after {READY_DEADLINE:?}\n--- log ---\n{}",
                    self.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:<port>`, what `--alertmanager` takes.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// SIGKILL and reap; port and storage are kept for [`restart`](Self::restart).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and storage (killing the running one first) and
    /// waits until ready; retries for a while if the port is still held.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(why) if why.contains("address already in use") && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(why) => panic!("alertmanager did not restart: {why}"),
            }
        }
    }

    /// Active alerts (`GET /api/v2/alerts?active=true`): firing, not resolved. An
    /// Alertmanager that does not answer yields an error.
    pub fn try_alerts(&self) -> Result<Vec<Value>, String> {
        let body = self
            .agent
            .get(&format!("{}/api/v2/alerts", self.url()))
            .query("active", "true")
            .call()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|e| e.to_string())?;
        serde_json::from_str(&body).map_err(|e| format!("bad JSON ({e}): {body}"))
    }

    /// Like [`try_alerts`](Self::try_alerts), panicking on failure.
    pub fn alerts(&self) -> Vec<Value> {
        self.try_alerts()
            .unwrap_or_else(|e| panic!("GET /api/v2/alerts: {e}\n--- log ---\n{}", self.log_text()))
    }

    /// Polls the active alerts every 100 ms until `accept` takes them or `within` passes;
    /// returns the last list seen and whether it was accepted.
    pub fn wait_for_alerts(
        &self,
        within: Duration,
        mut accept: impl FnMut(&[Value]) -> bool,
    ) -> (Vec<Value>, bool) {
        let mut alerts = Vec::new();
        let accepted = super::poll_until(within, Duration::from_millis(100), || {
            alerts = self.try_alerts().unwrap_or_default();
            accept(&alerts)
        });
        (alerts, accepted)
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The alerts among `alerts` that have every label of `labels`.
pub fn with_labels<'a>(alerts: &'a [Value], labels: &[(&str, &str)]) -> Vec<&'a Value> {
    alerts.iter().filter(|a| has_labels(a, labels)).collect()
}

/// Whether `alert` has every `(name, value)` label of `labels`.
pub fn has_labels(alert: &Value, labels: &[(&str, &str)]) -> bool {
    labels
        .iter()
        .all(|(k, v)| alert["labels"][*k].as_str() == Some(*v))
}
