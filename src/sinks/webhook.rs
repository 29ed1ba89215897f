//! Webhooks: one POST per decision change (the output object plus `"previous"`), delivered
//! in order per URL from a bounded queue, retried with the shared jittered backoff
//! (`crate::retry`). A payload that cannot be queued or delivered is counted and logged,
//! never dropped silently.
//!
//! Each payload has a delivery ID, the same on every retry and after a restart, so that a
//! receiver can drop duplicates of at-least-once delivery; with a secret, an HMAC-SHA256 of
//! the exact body bytes lets it tell burnrate from anyone else who can reach it. With a state
//! directory each payload is written to an on-disk outbox (atomically, fsynced) before its
//! first attempt and removed once acknowledged or given up, so a restart or a crash loses
//! nothing that was not yet delivered.

use crate::backend::client::redact_url;
use crate::backend::credentials::SecretFile;
use crate::engine::Evaluation;
use crate::retry::{RetryPolicy, retryable_status, retryable_transport};
use hmac::{Hmac, Mac};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Deliveries waiting per URL (in memory and in the outbox) before the oldest is dropped.
pub(crate) const QUEUE_CAPACITY: usize = 1024;
/// Attempts per payload before it is given up (4 to 8 minutes of backoff in all from the
/// default 1s, depending on jitter).
pub(crate) const MAX_ATTEMPTS: u32 = 10;

/// What `burnrate run` was told about webhooks (`--webhook`, `--webhook-backoff`,
/// `--sink-timeout`, `--webhook-secret-file`, `--state-dir`).
#[derive(Debug, Clone)]
pub(crate) struct WebhookConfig {
    pub(crate) urls: Vec<String>,
    /// Timeout of each POST.
    pub(crate) timeout: Duration,
    /// The shortest wait before the first retry; it doubles up to a minute.
    pub(crate) first_backoff: Duration,
    /// The HMAC key of `X-Burnrate-Signature-256`, re-read when its file changes.
    pub(crate) secret: Option<Arc<SecretFile>>,
    /// Where undelivered payloads wait (`STATE_DIR/webhook-outbox`).
    pub(crate) outbox: Option<PathBuf>,
}

impl WebhookConfig {
    fn retry(&self) -> RetryPolicy {
        RetryPolicy::new(self.first_backoff, (MAX_ATTEMPTS - 1) as usize)
    }
}

/// One payload for one URL.
struct Delivery {
    id: String,
    body: String,
    /// Its outbox file, removed once the delivery is over.
    file: Option<PathBuf>,
}

impl Delivery {
    fn forget(&self) {
        if let Some(file) = &self.file
            && let Err(e) = std::fs::remove_file(file)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!(file = %file.display(), "cannot remove a delivered webhook payload from the outbox: {e}");
        }
    }
}

/// The payloads of one URL, oldest first, and its outbox directory.
struct Queue {
    url: String,
    items: Mutex<VecDeque<Delivery>>,
    ready: Notify,
    dir: Option<PathBuf>,
    /// The next outbox sequence number: file names sort in delivery order.
    next_seq: AtomicU64,
}

impl Queue {
    fn push(&self, delivery: Delivery, dropped: &Counter, pending: &Gauge) {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        if items.len() >= QUEUE_CAPACITY
            && let Some(oldest) = items.pop_front()
        {
            oldest.forget();
            dropped.inc();
            pending.dec();
            tracing::error!(webhook = %redact_url(&self.url), delivery = %oldest.id, "webhook queue full: dropped its oldest payload");
        }
        items.push_back(delivery);
        pending.inc();
        drop(items);
        self.ready.notify_one();
    }

    fn pop(&self) -> Option<Delivery> {
        self.items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    /// Writes `body` to the outbox before its first attempt; a failure is logged and the
    /// payload is still delivered from memory.
    fn persist(&self, id: &str, body: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let file = dir.join(format!("{seq:020}-{id}.json"));
        match std::fs::create_dir_all(dir)
            .and_then(|()| crate::fsutil::write_atomic(&file, body.as_bytes()))
        {
            Ok(()) => Some(file),
            Err(e) => {
                tracing::error!(dir = %dir.display(), delivery = %id, "cannot write a webhook payload to the outbox, it is only in memory: {e}");
                None
            }
        }
    }
}

/// The outbox directory of `url`: named by a hash, since a URL may hold credentials.
fn outbox_dir(root: &Path, url: &str) -> PathBuf {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(url.as_bytes());
    root.join(hex(&digest[..8]))
}

/// The payloads an earlier run left in `dir`, in their order, and the next sequence number.
fn recover(dir: &Path) -> (Vec<Delivery>, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (Vec::new(), 0);
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        // A write interrupted by a crash: never acknowledged as written, so never sent.
        if name.starts_with('.') {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let Some((seq, id)) = name
            .strip_suffix(".json")
            .and_then(|stem| stem.split_once('-'))
            .and_then(|(seq, id)| Some((seq.parse::<u64>().ok()?, id.to_string())))
        else {
            continue;
        };
        match std::fs::read_to_string(&path) {
            Ok(body) => found.push((seq, id, body, path)),
            Err(e) => {
                tracing::error!(file = %path.display(), "cannot read a webhook payload from the outbox: {e}")
            }
        }
    }
    found.sort_by_key(|f| f.0);
    let next = found.last().map_or(0, |f| f.0 + 1);
    let deliveries = found
        .into_iter()
        .map(|(_, id, body, file)| Delivery {
            id,
            body,
            file: Some(file),
        })
        .collect();
    (deliveries, next)
}

/// A delivery ID unique across restarts: the time, the process and a counter.
fn delivery_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}{:06x}{:04x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256=HEX` of the HMAC-SHA256 of `body` under `key`.
pub(crate) fn signature(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// One POST of a delivery as it ended, for whoever records deliveries (the daemon's metrics
/// and web page).
pub(crate) struct Attempt<'a> {
    /// The webhook's URL without credentials.
    pub(crate) url: &'a str,
    /// The payload: which SLO instance and change it is about.
    pub(crate) body: &'a str,
    /// Why it failed; `None` when delivered.
    pub(crate) failure: Option<&'a str>,
}

pub(crate) struct Webhooks {
    queues: Vec<Arc<Queue>>,
    dropped: Counter,
    pending: Gauge,
}

impl Webhooks {
    /// Starts one delivery worker per URL, first with what its outbox holds from an earlier
    /// run; workers stop when `shutdown` turns true. `pending` gauges the payloads not yet
    /// delivered.
    pub(crate) fn start(
        config: WebhookConfig,
        dropped: Counter,
        pending: Gauge,
        delivered: impl Fn(&Attempt) + Send + Sync + Clone + 'static,
        shutdown: watch::Receiver<bool>,
    ) -> Webhooks {
        let http = super::http_client(config.timeout);
        let retry = config.retry();
        let queues = config
            .urls
            .iter()
            .map(|url| {
                let dir = config.outbox.as_deref().map(|root| outbox_dir(root, url));
                let (left, next_seq) = dir.as_deref().map(recover).unwrap_or_default();
                let queue = Arc::new(Queue {
                    url: url.clone(),
                    items: Mutex::default(),
                    ready: Notify::new(),
                    dir,
                    next_seq: AtomicU64::new(next_seq),
                });
                if !left.is_empty() {
                    tracing::info!(webhook = %redact_url(url), payloads = left.len(), "delivering the webhook payloads an earlier run left in the outbox");
                }
                for delivery in left {
                    queue.push(delivery, &dropped, &pending);
                }
                let worker = Worker {
                    http: http.clone(),
                    queue: queue.clone(),
                    retry,
                    secret: config.secret.clone(),
                    dropped: dropped.clone(),
                    pending: pending.clone(),
                    delivered: delivered.clone(),
                };
                tokio::spawn(worker.run(shutdown.clone()));
                queue
            })
            .collect();
        Webhooks {
            queues,
            dropped,
            pending,
        }
    }

    /// Queues one decision change for every webhook, in the outbox first when there is one.
    pub(crate) fn send(&self, change: &Evaluation) {
        let body = serde_json::to_string(change).expect("evaluations serialize");
        let id = delivery_id();
        for queue in &self.queues {
            let file = queue.persist(&id, &body);
            tracing::debug!(webhook = %redact_url(&queue.url), delivery = %id, service = %change.service, slo = %change.slo, "webhook payload queued");
            queue.push(
                Delivery {
                    id: id.clone(),
                    body: body.clone(),
                    file,
                },
                &self.dropped,
                &self.pending,
            );
        }
    }
}

struct Worker<F> {
    http: reqwest::Client,
    queue: Arc<Queue>,
    retry: RetryPolicy,
    secret: Option<Arc<SecretFile>>,
    dropped: Counter,
    pending: Gauge,
    delivered: F,
}

/// Why one POST failed, and whether the policy may send it again.
struct Failure {
    why: String,
    retryable: bool,
}

impl<F: Fn(&Attempt)> Worker<F> {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let shown = redact_url(&self.queue.url);
        loop {
            let delivery = loop {
                if let Some(d) = self.queue.pop() {
                    break d;
                }
                tokio::select! {
                    _ = self.queue.ready.notified() => {}
                    _ = shutdown.wait_for(|s| *s) => {
                        self.abandon(&shown, None);
                        return;
                    }
                }
            };
            let attempts = AtomicU32::new(0);
            let attempt = self.retry.run(
                || {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    self.post(&shown, &delivery)
                },
                |f: &Failure| f.retryable,
                |f, delay| {
                    let attempt = attempts.load(Ordering::Relaxed);
                    tracing::warn!(webhook = %shown, delivery = %delivery.id, attempt, "webhook delivery failed, retrying in {delay:?}: {}", f.why);
                },
            );
            let result = tokio::select! {
                r = attempt => Some(r),
                _ = shutdown.wait_for(|s| *s) => None,
            };
            let Some(result) = result else {
                // The payload in flight stays in the outbox, if any, for the next start.
                self.abandon(&shown, Some(delivery));
                return;
            };
            delivery.forget();
            self.pending.dec();
            if let Err(f) = result {
                self.dropped.inc();
                let attempts = attempts.load(Ordering::Relaxed);
                if f.retryable {
                    tracing::error!(webhook = %shown, delivery = %delivery.id, attempts, "webhook delivery given up: {}", f.why);
                } else {
                    tracing::error!(webhook = %shown, delivery = %delivery.id, attempts, "webhook refused the payload, not retried: {}", f.why);
                }
            }
        }
    }

    /// One POST; every attempt is counted as delivered or failed.
    async fn post(&self, shown: &str, delivery: &Delivery) -> Result<(), Failure> {
        let mut request = self
            .http
            .post(&self.queue.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Burnrate-Delivery", &delivery.id);
        if let Some(secret) = &self.secret {
            let key = secret.current();
            request = request.header(
                "X-Burnrate-Signature-256",
                signature(key.as_bytes(), delivery.body.as_bytes()),
            );
        }
        let result = request.body(delivery.body.clone()).send().await;
        let failure = match result {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(Failure {
                why: format!("HTTP {}", r.status().as_u16()),
                retryable: retryable_status(r.status()),
            }),
            Err(e) => Some(Failure {
                retryable: retryable_transport(&e),
                why: super::describe(&e.without_url()),
            }),
        };
        (self.delivered)(&Attempt {
            url: shown,
            body: &delivery.body,
            failure: failure.as_ref().map(|f| f.why.as_str()),
        });
        failure.map_or(Ok(()), Err)
    }

    /// At shutdown: what only memory held is lost (counted), the outbox keeps the rest.
    fn abandon(&self, shown: &str, in_flight: Option<Delivery>) {
        let items: Vec<Delivery> = in_flight
            .into_iter()
            .chain(std::iter::from_fn(|| self.queue.pop()))
            .collect();
        let lost = items.iter().filter(|d| d.file.is_none()).count();
        if lost > 0 {
            self.dropped.inc_by(lost as u64);
            tracing::error!(webhook = %shown, pending = lost, "shutting down with undelivered webhook payloads");
        }
        let kept = items.len() - lost;
        if kept > 0 {
            tracing::info!(webhook = %shown, pending = kept, "undelivered webhook payloads stay in the outbox for the next start");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::test_receiver::Receiver;

    async fn deliver(receiver: &Receiver) -> (Counter, watch::Sender<bool>) {
        let dropped = Counter::default();
        let (stop, shutdown) = watch::channel(false);
        let hooks = Webhooks::start(
            WebhookConfig {
                urls: vec![receiver.url.clone()],
                timeout: Duration::from_secs(2),
                first_backoff: Duration::from_millis(1),
                secret: None,
                outbox: None,
            },
            dropped.clone(),
            Gauge::default(),
            |_: &Attempt| {},
            shutdown,
        );
        let eval = Evaluation {
            time: crate::time::format_time(0),
            service: "svc".into(),
            slo: "api".into(),
            group: Default::default(),
            labels: Default::default(),
            decision: crate::decision::Decision::Warn,
            maintenance: None,
            previous: None,
            error: None,
            latency: None,
            errors: vec![],
            at_ms: 0,
        };
        hooks.send(&eval);
        (dropped, stop)
    }

    async fn settle(dropped: &Counter, receiver: &Receiver, requests: usize) {
        for _ in 0..500 {
            if receiver.requests() >= requests && dropped.get() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn signs_with_hmac_sha256() {
        assert_eq!(
            signature(b"key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    fn queue(dir: Option<PathBuf>) -> Queue {
        Queue {
            url: "http://127.0.0.1:1/hook".into(),
            items: Mutex::default(),
            ready: Notify::new(),
            dir,
            next_seq: AtomicU64::new(0),
        }
    }

    #[test]
    fn a_full_queue_drops_its_oldest_payload_and_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let q = queue(Some(dir.path().join("u")));
        let (dropped, pending) = (Counter::default(), Gauge::default());
        for i in 0..=QUEUE_CAPACITY {
            let id = format!("id{i}");
            let file = q.persist(&id, "{}");
            assert!(file.is_some());
            q.push(
                Delivery {
                    id,
                    body: "{}".into(),
                    file,
                },
                &dropped,
                &pending,
            );
        }
        assert_eq!(dropped.get(), 1);
        assert_eq!(pending.get(), QUEUE_CAPACITY as i64);
        assert_eq!(q.pop().unwrap().id, "id1");
        let (left, next) = recover(&dir.path().join("u"));
        assert_eq!(left.len(), QUEUE_CAPACITY, "the oldest file went with it");
        assert_eq!(next, QUEUE_CAPACITY as u64 + 1);
    }

    #[test]
    fn recovery_keeps_the_order_and_skips_interrupted_writes() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| std::fs::write(dir.path().join(name), body).unwrap();
        write("00000000000000000010-b.json", "second");
        write("00000000000000000002-a.json", "first");
        write(".00000000000000000011-c.json.tmp42", "half");
        let (left, next) = recover(dir.path());
        let seen: Vec<(&str, &str)> = left
            .iter()
            .map(|d| (d.id.as_str(), d.body.as_str()))
            .collect();
        assert_eq!(seen, [("a", "first"), ("b", "second")]);
        assert_eq!(next, 11);
        assert!(
            !dir.path()
                .join(".00000000000000000011-c.json.tmp42")
                .exists()
        );
    }

    #[tokio::test]
    async fn a_refused_payload_is_dropped_at_once_and_a_failing_one_after_every_attempt() {
        let refusing = Receiver::start(&[400]).await;
        let (dropped, _stop) = deliver(&refusing).await;
        settle(&dropped, &refusing, 1).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            (refusing.requests(), dropped.get()),
            (1, 1),
            "4xx: never retried"
        );

        let failing = Receiver::start(&[503]).await;
        let (dropped, _stop) = deliver(&failing).await;
        settle(&dropped, &failing, MAX_ATTEMPTS as usize).await;
        assert_eq!(
            (failing.requests(), dropped.get()),
            (MAX_ATTEMPTS as usize, 1),
            "5xx: retried until the attempts run out"
        );
    }
}
