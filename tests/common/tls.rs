//! TLS and basic auth for integration tests: a throw-away PKI made with the `openssl` CLI
//! (a server CA and a separate client CA, so that "trusts the server" and "is trusted by the
//! server" are tested apart), bcrypt hashes, and a real Prometheus behind
//! `--web.config.file`, which is how production backends are usually protected.
//!
//! Everything is loopback and lives in a temporary directory; certificates are valid for a
//! day and name only 127.0.0.1.

use super::prometheus::{free_loopback_port, kill_with_parent};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The files of a test PKI, all PEM.
pub struct Pki {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_ca_cert: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA `name` (`name.crt`, `name.key`) in `dir`.
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "1",
            "-subj",
            &format!("/CN=burnrate test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// A leaf `name` signed by the CA `ca`, for `usage` (`serverAuth` or `clientAuth`).
fn leaf(dir: &Path, name: &str, ca: &str, usage: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN=burnrate test {name}"),
        ],
    );
    let ext = format!("{name}.ext");
    fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage={usage}\nsubjectAltName=IP:127.0.0.1\n"
        ),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt"),
            "-days",
            "1",
            "-extfile",
            &ext,
        ],
    );
}

impl Pki {
    /// Generates a server CA with a certificate for 127.0.0.1, and a client CA with one
    /// client certificate, in `dir`.
    pub fn generate(dir: &Path) -> Pki {
        ca(dir, "ca");
        leaf(dir, "server", "ca", "serverAuth");
        ca(dir, "client-ca");
        leaf(dir, "client", "client-ca", "clientAuth");
        Pki {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_ca_cert: dir.join("client-ca.crt"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        }
    }
}

/// A bcrypt hash of `password` at the lowest cost, which keeps the tests fast.
pub fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).expect("bcrypt")
}

/// A Prometheus with an empty TSDB served on https://127.0.0.1:PORT behind `web_config`
/// (the YAML of `--web.config.file`). Killed on drop.
pub struct SecurePrometheus {
    child: Child,
    port: u16,
    log: PathBuf,
    // Declared last: dropped after the process is gone.
    _dir: tempfile::TempDir,
}

impl SecurePrometheus {
    /// Starts it and waits for "Server is ready": its own HTTP probe would need the client
    /// certificate, the log line does not.
    pub fn start(web_config: &str) -> SecurePrometheus {
        let dir = tempfile::Builder::new()
            .prefix("burnrate-test-prometheus-tls-")
            .tempdir()
            .expect("create temp dir");
        fs::write(dir.path().join("prometheus.yml"), "global: {}\n").unwrap();
        fs::write(dir.path().join("web.yml"), web_config).unwrap();
        let log = dir.path().join("prometheus.log");
        let mut last = String::new();
        for _attempt in 0..5 {
            let port = free_loopback_port();
            let _ = fs::write(&log, "");
            let out = fs::File::options().append(true).open(&log).unwrap();
            let mut cmd = Command::new(
                std::env::var("PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".into()),
            );
            cmd.arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!(
                "--web.config.file={}",
                dir.path().join("web.yml").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out));
            kill_with_parent(&mut cmd);
            let mut child = cmd.spawn().expect("run prometheus (is it installed?)");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let text = fs::read_to_string(&log).unwrap_or_default();
                if text.contains("Server is ready to receive web requests") {
                    return SecurePrometheus {
                        child,
                        port,
                        log,
                        _dir: dir,
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!("prometheus exited ({status}):\n{text}");
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = format!("prometheus not ready after 30s:\n{text}");
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !last.contains("address already in use") {
                break;
            }
        }
        panic!("{last}");
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for SecurePrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
