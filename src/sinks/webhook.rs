//! Webhooks: one POST per decision change (the output object plus `"previous"`), delivered
//! in order per URL from a bounded queue, retried with the shared jittered backoff
//! (`crate::retry`). A payload that cannot be queued or delivered is counted and logged,
//! never dropped silently.

use crate::backend::client::redact_url;
use crate::engine::Evaluation;
use crate::retry::{RetryPolicy, retryable_status, retryable_transport};
use prometheus_client::metrics::counter::Counter;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Deliveries waiting per URL before new ones are refused.
pub(crate) const QUEUE_CAPACITY: usize = 1024;
/// Attempts per payload before it is given up (4 to 8 minutes of backoff in all from the
/// default 1s, depending on jitter).
pub(crate) const MAX_ATTEMPTS: u32 = 10;

/// What `burnrate run` was told about webhooks (`--webhook`, `--webhook-backoff`,
/// `--sink-timeout`).
#[derive(Debug, Clone)]
pub(crate) struct WebhookConfig {
    pub(crate) urls: Vec<String>,
    /// Timeout of each POST.
    pub(crate) timeout: Duration,
    /// The shortest wait before the first retry; it doubles up to a minute.
    pub(crate) first_backoff: Duration,
}

impl WebhookConfig {
    fn retry(&self) -> RetryPolicy {
        RetryPolicy::new(self.first_backoff, (MAX_ATTEMPTS - 1) as usize)
    }
}

pub(crate) struct Webhooks {
    queues: Vec<(String, mpsc::Sender<String>)>,
    dropped: Counter,
}

impl Webhooks {
    /// Starts one delivery worker per URL; workers stop when `shutdown` turns true.
    pub(crate) fn start(
        config: WebhookConfig,
        dropped: Counter,
        delivered: impl Fn(&str, bool) + Send + Sync + Clone + 'static,
        shutdown: watch::Receiver<bool>,
    ) -> Webhooks {
        let http = super::http_client(config.timeout);
        let retry = config.retry();
        let queues = config
            .urls
            .into_iter()
            .map(|url| {
                let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
                let worker = Worker {
                    http: http.clone(),
                    url: url.clone(),
                    retry,
                    dropped: dropped.clone(),
                    delivered: delivered.clone(),
                };
                tokio::spawn(worker.run(rx, shutdown.clone()));
                (url, tx)
            })
            .collect();
        Webhooks { queues, dropped }
    }
    /// Queues one decision change for every webhook.
    pub(crate) fn send(&self, change: &Evaluation) {
        let body = serde_json::to_string(change).expect("evaluations serialize");
        for (url, tx) in &self.queues {
            if let Err(e) = tx.try_send(body.clone()) {
                self.dropped.inc();
                tracing::error!(
                    webhook = %redact_url(url),
                    service = %change.service,
                    slo = %change.slo,
                    decision = %change.decision,
                    "webhook queue {}: decision change dropped",
                    match e {
                        mpsc::error::TrySendError::Full(_) => "full",
                        mpsc::error::TrySendError::Closed(_) => "closed",
                    }
                );
            }
        }
    }
}

struct Worker<F> {
    http: reqwest::Client,
    url: String,
    retry: RetryPolicy,
    dropped: Counter,
    delivered: F,
}

/// Why one POST failed, and whether the policy may send it again.
struct Failure {
    why: String,
    retryable: bool,
}

impl<F: Fn(&str, bool)> Worker<F> {
    async fn run(self, mut rx: mpsc::Receiver<String>, mut shutdown: watch::Receiver<bool>) {
        let shown = redact_url(&self.url);
        loop {
            let body = tokio::select! {
                b = rx.recv() => match b { Some(b) => b, None => return },
                _ = shutdown.wait_for(|s| *s) => break,
            };
            let attempts = AtomicU32::new(0);
            let delivery = self.retry.run(
                || {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    self.post(&shown, &body)
                },
                |f: &Failure| f.retryable,
                |f, delay| {
                    let attempt = attempts.load(Ordering::Relaxed);
                    tracing::warn!(webhook = %shown, attempt, "webhook delivery failed, retrying in {delay:?}: {}", f.why);
                },
            );
            let result = tokio::select! {
                r = delivery => r,
                _ = shutdown.wait_for(|s| *s) => {
                    self.abandon(&shown, 1 + rx.len());
                    return;
                }
            };
            if let Err(f) = result {
                self.dropped.inc();
                let attempts = attempts.load(Ordering::Relaxed);
                if f.retryable {
                    tracing::error!(webhook = %shown, attempts, "webhook delivery given up: {}", f.why);
                } else {
                    tracing::error!(webhook = %shown, attempts, "webhook refused the payload, not retried: {}", f.why);
                }
            }
        }
        self.abandon(&shown, rx.len());
    }

    /// One POST; every attempt is counted as delivered or failed.
    async fn post(&self, shown: &str, body: &str) -> Result<(), Failure> {
        let result = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await;
        let failure = match result {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(Failure {
                why: format!("HTTP {}", r.status().as_u16()),
                retryable: retryable_status(r.status()),
            }),
            Err(e) => Some(Failure {
                retryable: retryable_transport(&e),
                why: e.without_url().to_string(),
            }),
        };
        (self.delivered)(shown, failure.is_none());
        failure.map_or(Ok(()), Err)
    }

    fn abandon(&self, shown: &str, pending: usize) {
        if pending > 0 {
            self.dropped.inc_by(pending as u64);
            tracing::error!(webhook = %shown, pending, "shutting down with undelivered webhook payloads");
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
            },
            dropped.clone(),
            |_: &str, _: bool| {},
            shutdown,
        );
        let eval = Evaluation {
            time: crate::time::format_time(0),
            service: "svc".into(),
            slo: "api".into(),
            group: Default::default(),
            labels: Default::default(),
            decision: crate::decision::Decision::Warn,
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
