//! Signed webhooks that survive a crash: a decision change whose POST the receiver refuses
//! stays in the `--state-dir` outbox; after a SIGKILL and a restart with a healthy receiver
//! it arrives with its original delivery ID, before any later payload for that URL, and the
//! receiver verifies the signature of every request.

mod common;
#[path = "support/fault_server.rs"]
mod fault_server;

use common::daemon::Daemon;
use fault_server::{FaultServer, Reply, Request, Script, requested_keys};
use hmac::{Hmac, Mac};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

const SECRET: &str = "whsec-3b9d-test-key";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/daemon/one-slo.yaml")
}

/// Every tagged part of `query` with a bad-event ratio of `bad`.
fn vector_body(query: &str, bad: f64) -> String {
    let result: Vec<serde_json::Value> = requested_keys(query)
        .into_iter()
        .map(|key| {
            let unprefixed = key.split_once(':').map_or(key.as_str(), |(_, k)| k);
            let value = match unprefixed.split('/').next().unwrap_or_default() {
                "bad" => 100.0 * bad,
                _ => 100.0,
            };
            serde_json::json!({"metric": {"burnrate_key": key}, "value": [1_700_000_000, format!("{value}")]})
        })
        .collect();
    serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": result}})
        .to_string()
}

fn verify(req: &Request) {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&req.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        req.header("X-Burnrate-Signature-256"),
        Some(format!("sha256={expected}").as_str()),
        "bad signature on {}",
        req.body_str()
    );
}

fn id(req: &Request) -> String {
    req.header("X-Burnrate-Delivery")
        .expect("X-Burnrate-Delivery")
        .to_string()
}

fn outbox_files(state: &Path) -> usize {
    walk(&state.join("webhook-outbox"))
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    walk(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

#[test]
fn a_refused_webhook_survives_sigkill_and_arrives_first_with_its_id() {
    let bad = Arc::new(AtomicU64::new(0f64.to_bits()));
    let backend = {
        let bad = bad.clone();
        FaultServer::start(Script::from_fn(move |req, _| {
            let query = req.param("query").unwrap_or_default();
            Reply::json(
                200,
                vector_body(&query, f64::from_bits(bad.load(Ordering::SeqCst))),
            )
        }))
    };
    let healthy = Arc::new(AtomicBool::new(false));
    let receiver = {
        let healthy = healthy.clone();
        FaultServer::start(Script::from_fn(move |_, _| {
            if healthy.load(Ordering::SeqCst) {
                Reply::json(200, "{}")
            } else {
                Reply::json(503, r#"{"error":"refused on purpose"}"#)
            }
        }))
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let secret = dir.path().join("webhook-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let hook = format!("{}/hook", receiver.url());
    let url = backend.url();
    let args = [
        fixture().to_str().unwrap().to_string(),
        "--prometheus".into(),
        url,
        "--interval".into(),
        "300ms".into(),
        "--webhook".into(),
        hook,
        "--webhook-backoff".into(),
        "200ms".into(),
        "--webhook-secret-file".into(),
        secret.to_str().unwrap().into(),
        "--state-dir".into(),
        state.to_str().unwrap().into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let first = Daemon::start(&args);
    let decided = |d: &Daemon, want: &str| {
        d.wait_for(Duration::from_secs(15), |d| {
            d.decision_of("dfaults", "a")
                .is_some_and(|v| v["decision"] == want)
        })
    };
    assert!(decided(&first, "ok"), "{}", first.log());
    bad.store(0.2f64.to_bits(), Ordering::SeqCst);
    assert!(decided(&first, "circuit_break"), "{}", first.log());
    assert!(
        receiver.wait_for_requests(2, Duration::from_secs(15)) >= 2,
        "the refused payload was not retried\n{}",
        first.log()
    );
    assert_eq!(outbox_files(&state), 1, "{}", first.log());
    assert!(
        first.metrics().contains("burnrate_webhook_outbox 1"),
        "{}",
        first.metrics()
    );
    first.signal(libc::SIGKILL);
    drop(first);

    let refused = receiver.requests();
    let original = id(&refused[0]);
    for r in &refused {
        verify(r);
        assert_eq!(id(r), original, "a retry changed the delivery ID");
        assert_eq!(r.body, refused[0].body, "a retry changed the body");
    }

    healthy.store(true, Ordering::SeqCst);
    // Burn 5: `warn`, a change from the `circuit_break` the state directory restored.
    bad.store(0.05f64.to_bits(), Ordering::SeqCst);
    let second = Daemon::start(&args);
    let accepted = |n: usize| {
        receiver.requests().len() >= refused.len() + n
            && receiver.requests()[refused.len()..]
                .iter()
                .map(id)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                >= n
    };
    assert!(
        common::poll_until(Duration::from_secs(30), Duration::from_millis(100), || {
            accepted(2)
        }),
        "expected the recovered payload and a later one (now {:?}): {:?}\n{}",
        second.decision_of("dfaults", "a"),
        receiver.requests()[refused.len()..]
            .iter()
            .map(|r| (id(r), r.body_str()))
            .collect::<Vec<_>>(),
        second.log()
    );
    let after = receiver.requests()[refused.len()..].to_vec();
    for r in &after {
        verify(r);
    }
    assert_eq!(
        id(&after[0]),
        original,
        "the recovered payload did not come first"
    );
    assert_eq!(after[0].body, refused[0].body, "the recovered body changed");
    let later = after.iter().find(|r| id(r) != original).unwrap();
    assert!(
        later.body_str().contains("\"decision\":\"warn\""),
        "{}",
        later.body_str()
    );
    assert!(
        second.wait_for(Duration::from_secs(5), |_| outbox_files(&state) == 0),
        "delivered payloads left in the outbox"
    );
    assert!(
        second.wait_for(Duration::from_secs(5), |d| d
            .metrics()
            .contains("burnrate_webhook_outbox 0")),
        "{}",
        second.metrics()
    );
    assert!(
        !second.log().contains(SECRET),
        "the secret in the log\n{}",
        second.log()
    );
}
