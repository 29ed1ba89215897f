//! The backend client against a real Prometheus 2.42 behind `--web.config.file`: TLS with a
//! private CA, basic auth with a bcrypt hash, and mutual TLS with a separate client CA.
//! `check`, `backtest` and `run` work with the right flags; with any one of them missing or wrong it exits 69 with
//! a message that names the cause, and no secret appears anywhere in what it prints.

mod common;

use common::tls::{Pki, SecurePrometheus, bcrypt_hash};
use std::path::{Path, PathBuf};
use std::process::Output;

const USER: &str = "burnrate-reader";
const PASSWORD: &str = "pw-7c1e-correct-horse";
const WRONG_PASSWORD: &str = "pw-7c1e-wrong-battery";
const AT: &str = "2026-11-17T10:00:00Z";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/faults/two-slos.yaml")
}

fn check(url: &str, extra: &[&str]) -> Output {
    let spec = fixture();
    let mut cmd = common::burnrate_cmd();
    cmd.args([
        "check",
        spec.to_str().unwrap(),
        "--prometheus",
        url,
        "--format",
        "json",
        "--timeout",
        "5s",
        "--at",
        AT,
    ])
    .args(extra);
    cmd.output().expect("run burnrate")
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// No secret (password, either one, or the private key) on stdout or stderr.
fn assert_no_secret(out: &Output, key: &str) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in [PASSWORD, WRONG_PASSWORD, "PRIVATE KEY", key] {
        assert!(!all.contains(secret), "a secret was printed\n{}", show(out));
    }
}

fn assert_unavailable(out: &Output, cause: &[&str], key: &str) {
    assert_eq!(out.status.code(), Some(69), "{}", show(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        cause.iter().any(|c| stderr.contains(c)),
        "stderr names none of {cause:?}\n{}",
        show(out)
    );
    assert_no_secret(out, key);
}

#[test]
fn check_over_mutual_tls_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path());
    let web = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\nbasic_auth_users:\n  {USER}: {}\n",
        pki.server_cert.display(),
        pki.server_key.display(),
        pki.client_ca_cert.display(),
        bcrypt_hash(PASSWORD),
    );
    let prom = SecurePrometheus::start(&web);
    let url = prom.url();
    let good_pw = dir.path().join("password");
    std::fs::write(&good_pw, format!("{PASSWORD}\n")).unwrap();
    let bad_pw = dir.path().join("wrong-password");
    std::fs::write(&bad_pw, WRONG_PASSWORD).unwrap();
    let key_text = std::fs::read_to_string(&pki.client_key).unwrap();
    // A line of the key's base64, which must never be printed either.
    let key_line = key_text.lines().nth(1).unwrap().to_string();
    let p = |p: &Path| p.to_str().unwrap().to_string();
    let ca = ["--ca-file".to_string(), p(&pki.ca_cert)];
    let cert = [
        "--cert-file".to_string(),
        p(&pki.client_cert),
        "--key-file".to_string(),
        p(&pki.client_key),
    ];
    let auth = |pw: &Path| {
        [
            "--basic-auth-user".to_string(),
            USER.to_string(),
            "--basic-auth-password-file".to_string(),
            p(pw),
        ]
    };
    let args = |parts: &[&[String]]| -> Vec<String> { parts.concat() };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        check(&url, &a)
    };

    // Every flag right: the queries succeed (an empty TSDB, so `no_data` without errors).
    let out = run(args(&[&ca, &cert, &auth(&good_pw)]));
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}\n--- prometheus ---\n{}",
        show(&out),
        prom.log()
    );
    let lines = common::json_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(lines.len(), 2, "{}", show(&out));
    for line in &lines {
        assert!(
            line.get("errors")
                .is_none_or(|e| e.as_array().is_some_and(|a| a.is_empty())),
            "a query failed with every flag right\n{}",
            show(&out)
        );
    }
    assert_no_secret(&out, &key_line);

    // Without the CA: the server's certificate is not trusted.
    let out = run(args(&[&cert, &auth(&good_pw)]));
    assert_unavailable(&out, &["UnknownIssuer"], &key_line);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pass --ca-file"),
        "{}",
        show(&out)
    );

    // A wrong password: HTTP 401, and the message points at the credentials.
    let out = run(args(&[&ca, &cert, &auth(&bad_pw)]));
    assert_unavailable(&out, &["401"], &key_line);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("credentials"), "{}", show(&out));

    // Without the client certificate: the server ends the handshake.
    let out = run(args(&[&ca, &auth(&good_pw)]));
    assert_unavailable(&out, &["BadCertificate", "CertificateRequired"], &key_line);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pass --cert-file and --key-file"),
        "{}",
        show(&out)
    );

    // Without any credentials at all: 401 too.
    let out = run(args(&[&ca, &cert]));
    assert_unavailable(&out, &["401"], &key_line);

    // `backtest` with the same flags, on raw samples and on query_range: it replays (an
    // empty TSDB: no data, no error); a wrong password is exit 69 naming the cause.
    for rates in ["local", "query-range"] {
        let backtest = |extra: Vec<String>| {
            let spec = fixture();
            let mut cmd = common::burnrate_cmd();
            cmd.args([
                "backtest",
                spec.to_str().unwrap(),
                "--prometheus",
                &url,
                "--from",
                "2026-11-17T09:00:00Z",
                "--to",
                AT,
                "--step",
                "5m",
                "--rates",
                rates,
                "--format",
                "json",
                "--timeout",
                "5s",
            ])
            .args(extra);
            cmd.output().expect("run burnrate")
        };
        let out = backtest(args(&[&ca, &cert, &auth(&good_pw)]));
        assert_eq!(out.status.code(), Some(0), "{rates}\n{}", show(&out));
        let summaries: Vec<_> = common::json_lines(&String::from_utf8_lossy(&out.stdout))
            .into_iter()
            .filter(|l| l.get("summary").is_some())
            .collect();
        assert_eq!(summaries.len(), 2, "{rates}\n{}", show(&out));
        assert_no_secret(&out, &key_line);
        let out = backtest(args(&[&ca, &cert, &auth(&bad_pw)]));
        assert_unavailable(&out, &["401"], &key_line);
        let out = backtest(args(&[&cert, &auth(&good_pw)]));
        assert_unavailable(&out, &["UnknownIssuer"], &key_line);
    }

    // The daemon with the same flags: every query succeeds, and its log holds no secret.
    let spec = fixture();
    let mut daemon_args = vec![
        spec.to_str().unwrap().to_string(),
        "--prometheus".into(),
        url.clone(),
        "--interval".into(),
        "1s".into(),
    ];
    daemon_args.extend(args(&[&ca, &cert, &auth(&good_pw)]));
    let daemon_args: Vec<&str> = daemon_args.iter().map(String::as_str).collect();
    let daemon = common::daemon::Daemon::start(&daemon_args);
    assert!(
        daemon.wait_for(std::time::Duration::from_secs(20), |d| {
            let decisions = d.decisions();
            decisions.len() == 2
                && decisions.iter().all(|v| {
                    v.get("errors")
                        .is_none_or(|e| e.as_array().is_some_and(|a| a.is_empty()))
                })
        }),
        "{:?}\n{}",
        daemon.decisions(),
        daemon.log()
    );
    let log = daemon.log();
    assert!(
        !log.contains(PASSWORD) && !log.contains(&key_line),
        "a secret in the log\n{log}"
    );
}

#[test]
fn bad_tls_and_credential_files_are_usage_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let missing = dir.path().join("missing-password");
    let url = "https://127.0.0.1:1";
    for (extra, named) in [
        (vec!["--ca-file", not_pem.to_str().unwrap()], "not-a-ca.pem"),
        (
            vec![
                "--basic-auth-user",
                USER,
                "--basic-auth-password-file",
                missing.to_str().unwrap(),
            ],
            "missing-password",
        ),
        (
            vec![
                "--cert-file",
                not_pem.to_str().unwrap(),
                "--key-file",
                not_pem.to_str().unwrap(),
            ],
            "--cert-file",
        ),
    ] {
        let out = check(url, &extra);
        assert_eq!(out.status.code(), Some(64), "{extra:?}\n{}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{extra:?}\n{}", show(&out));
    }
    // A user without the password file, and both kinds of credentials, are refused by clap.
    let out = check(url, &["--basic-auth-user", USER]);
    assert_eq!(out.status.code(), Some(64), "{}", show(&out));
    let token = dir.path().join("token");
    std::fs::write(&token, "t").unwrap();
    let out = check(
        url,
        &[
            "--bearer-token-file",
            token.to_str().unwrap(),
            "--basic-auth-user",
            USER,
            "--basic-auth-password-file",
            token.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(64), "{}", show(&out));
}

/// A rotated `--bearer-token-file` (a new file renamed over the old one, as Kubernetes'
/// projected tokens are) is used from the next request on by a running daemon, which never
/// logs either token.
#[test]
fn daemon_rereads_a_rotated_bearer_token() {
    use common::http_stub::{HttpStub, Response};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    const OLD: &str = "token-old-5d2a";
    const NEW: &str = "token-new-91fe";
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let backend = {
        let seen = seen.clone();
        HttpStub::start(move |req| {
            seen.lock()
                .unwrap()
                .push(req.header("authorization").unwrap_or("").to_string());
            Response::new(
                200,
                "application/json",
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            )
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, OLD).unwrap();
    let spec = fixture();
    let url = backend.url();
    let daemon = common::daemon::Daemon::start(&[
        spec.to_str().unwrap(),
        "--prometheus",
        &url,
        "--backend-flavor",
        "prometheus-2",
        "--bearer-token-file",
        token.to_str().unwrap(),
        "--interval",
        "1s",
    ]);
    let has = |t: &str| {
        let want = format!("Bearer {t}");
        seen.lock().unwrap().contains(&want)
    };
    assert!(
        common::poll_until(Duration::from_secs(20), Duration::from_millis(50), || has(
            OLD
        )),
        "no request with the first token: {:?}\n{}",
        seen.lock().unwrap(),
        daemon.log()
    );
    let next = dir.path().join("token.next");
    std::fs::write(&next, NEW).unwrap();
    std::fs::rename(&next, &token).unwrap();
    assert!(
        common::poll_until(Duration::from_secs(20), Duration::from_millis(50), || has(
            NEW
        )),
        "the rotated token was never sent: {:?}\n{}",
        seen.lock().unwrap(),
        daemon.log()
    );
    let seen = seen.lock().unwrap().clone();
    let first_new = seen
        .iter()
        .position(|h| h.ends_with(NEW))
        .expect("a new token");
    assert!(
        seen[first_new..].iter().all(|h| h.ends_with(NEW)),
        "the old token was sent after the new one: {seen:?}"
    );
    let log = daemon.log();
    assert!(
        !log.contains(OLD) && !log.contains(NEW),
        "a token in the log:\n{log}"
    );
}
