//! The daemon's listener behind `--web.config.file` (TLS with a test CA, basic auth with a
//! bcrypt hash, extra headers): a real Prometheus scrapes it over HTTPS with basic auth and
//! gets `up == 1`; plain HTTP and missing or wrong credentials are refused; a bad file is a
//! startup error naming it.

mod common;
#[path = "support/fault_server.rs"]
mod fault_server;

use common::prometheus::{Prometheus, free_loopback_port, kill_with_parent};
use common::tls::{Pki, bcrypt_hash};
use fault_server::{FaultServer, Reply, Script};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "scraper";
const PASSWORD: &str = "scrape-pw-44ab";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/daemon/one-slo.yaml")
}

/// `burnrate run` on `port` with `web`; killed on drop.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, backend: &str, port: u16, web: &Path) -> Daemon {
    let log = dir.join(format!("burnrate-{port}.log"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_burnrate"));
    cmd.arg("run")
        .arg(fixture())
        .args(["--prometheus", backend, "--interval", "1s"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--web.config.file")
        .arg(web)
        .env("BURNRATE_LOG", "info")
        .env_remove("BURNRATE_PROMETHEUS_URL")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    kill_with_parent(&mut cmd);
    let mut child = cmd.spawn().expect("start burnrate run");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("burnrate daemon started") {
            return Daemon { child, log };
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("burnrate run exited ({status}):\n{text}");
        }
        assert!(Instant::now() < deadline, "not started:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The status of `GET url` (an error: the connection failed), trusting `ca`.
fn get(ca: &Path, url: &str, auth: Option<(&str, &str)>) -> Result<(u16, String), String> {
    get_as(ca, None, url, auth)
}

/// [`get`] presenting the client certificate and key `identity` (PEM paths).
fn get_as(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
    url: &str,
    auth: Option<(&str, &str)>,
) -> Result<(u16, String), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
        let mut builder = reqwest::Client::builder();
        if let Some((cert, key)) = identity {
            let mut pem = std::fs::read(key).unwrap();
            pem.extend(std::fs::read(cert).unwrap());
            builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
        }
        let client = builder
            .add_root_certificate(ca)
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let mut request = client.get(url);
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.map_err(|e| format!("{e:?}"))?;
        let status = response.status().as_u16();
        let frame = response
            .headers()
            .get("x-frame-options")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok((status, frame))
    })
}

#[test]
fn prometheus_scrapes_the_daemon_over_tls_with_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path());
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\n\
             basic_auth_users:\n  {USER}: '{}'\n\
             http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
            bcrypt_hash(PASSWORD)
        ),
    )
    .unwrap();
    let backend = FaultServer::start(Script::always(Reply::json(
        200,
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
    )));
    let port = free_loopback_port();
    let daemon = start(dir.path(), &backend.url(), port, &web);
    let https = format!("https://127.0.0.1:{port}/metrics");
    // A client that never starts its handshake holds up no one (each times out on its own).
    let _silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();

    assert_eq!(
        get(&pki.ca_cert, &https, Some((USER, PASSWORD))),
        Ok((200, "deny".to_string()))
    );
    assert_eq!(get(&pki.ca_cert, &https, None), Ok((401, "deny".into())));
    assert_eq!(
        get(&pki.ca_cert, &https, Some((USER, "wrong"))),
        Ok((401, "deny".into()))
    );
    let plain = get(
        &pki.ca_cert,
        &format!("http://127.0.0.1:{port}/metrics"),
        None,
    );
    assert!(plain.is_err(), "plain HTTP on the TLS listener: {plain:?}");

    let password_file = dir.path().join("scrape-password");
    std::fs::write(&password_file, PASSWORD).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: burnrate\n    scheme: https\n    \
         tls_config:\n      ca_file: {}\n    basic_auth:\n      username: {USER}\n      password_file: {}\n    \
         static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
        pki.ca_cert.display(),
        password_file.display()
    );
    let prom = Prometheus::start_with_config(&config);
    let (up, ok) = prom.wait_for_value("up{job=\"burnrate\"}", Duration::from_secs(30), |v| {
        v == Some(1.0)
    });
    assert!(
        ok,
        "up = {up:?}\n{}\n--- burnrate ---\n{}",
        prom.log_tail(30),
        std::fs::read_to_string(&daemon.log).unwrap_or_default()
    );
    let (series, _) = prom.wait_for_value(
        "count({job=\"burnrate\",__name__=~\"burnrate_.*\"})",
        Duration::from_secs(10),
        |v| v.is_some_and(|n| n > 0.0),
    );
    assert!(
        series.is_some_and(|n| n > 0.0),
        "no burnrate_* series scraped"
    );

    // Re-read when it changes: a new password replaces the old one without a restart.
    let next = dir.path().join("web.yml.next");
    std::fs::write(
        &next,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             basic_auth_users:\n  {USER}: '{}'\n",
            bcrypt_hash("rotated-pw")
        ),
    )
    .unwrap();
    std::fs::rename(&next, &web).unwrap();
    assert_eq!(
        get(&pki.ca_cert, &https, Some((USER, "rotated-pw"))),
        Ok((200, String::new()))
    );
    assert_eq!(
        get(&pki.ca_cert, &https, Some((USER, PASSWORD))),
        Ok((401, String::new()))
    );
    let log = std::fs::read_to_string(&daemon.log).unwrap_or_default();
    assert!(!log.contains(PASSWORD), "the password in the log:\n{log}");
}

#[test]
fn a_bad_web_config_is_a_startup_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("broken-web.yml");
    std::fs::write(&web, "basic_auth_users:\n  u: not-a-hash\n").unwrap();
    let out = common::burnrate_cmd()
        .arg("run")
        .arg(fixture())
        .args(["--prometheus", "http://127.0.0.1:1", "--listen"])
        .arg(format!("127.0.0.1:{}", free_loopback_port()))
        .arg("--web.config.file")
        .arg(&web)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stderr}");
    assert!(
        stderr.contains("broken-web.yml") && stderr.contains("bcrypt"),
        "{stderr}"
    );
}

#[test]
fn the_listener_can_require_a_verified_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path());
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.crt\n  \
         min_version: TLS13\n",
    )
    .unwrap();
    let backend = FaultServer::start(Script::always(Reply::json(
        200,
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
    )));
    let port = free_loopback_port();
    let _daemon = start(dir.path(), &backend.url(), port, &web);
    let url = format!("https://127.0.0.1:{port}/healthz");
    let with_cert = get_as(
        &pki.ca_cert,
        Some((&pki.client_cert, &pki.client_key)),
        &url,
        None,
    );
    assert_eq!(with_cert, Ok((200, String::new())));
    let without = get(&pki.ca_cert, &url, None);
    assert!(without.is_err(), "no client certificate: {without:?}");
}
