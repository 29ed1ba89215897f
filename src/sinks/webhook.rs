//! Webhooks: one POST per decision change (the output object plus `"previous"`), delivered
//! in order per URL from a bounded queue, retried with exponential backoff. A payload that
//! cannot be queued or delivered is counted and logged, never dropped silently.

use crate::backend::client::redact_url;
use crate::engine::Evaluation;
use prometheus_client::metrics::counter::Counter;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Deliveries waiting per URL before new ones are refused.
pub const QUEUE_CAPACITY: usize = 1024;
/// Attempts per payload before it is given up (about 4 minutes of backoff in all).
pub const MAX_ATTEMPTS: u32 = 10;

pub struct Webhooks {
    queues: Vec<(String, mpsc::Sender<String>)>,
    dropped: Counter,
}

impl Webhooks {
    /// Starts one delivery worker per URL; workers stop when `shutdown` turns true.
    pub fn start(
        urls: Vec<String>,
        timeout: Duration,
        base_backoff: Duration,
        dropped: Counter,
        delivered: impl Fn(&str, bool) + Send + Sync + Clone + 'static,
        shutdown: watch::Receiver<bool>,
    ) -> Webhooks {
        let http = super::http_client(timeout);
        let queues = urls
            .into_iter()
            .map(|url| {
                let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
                let worker = Worker {
                    http: http.clone(),
                    url: url.clone(),
                    base_backoff,
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
    pub fn send(&self, change: &Evaluation) {
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
    base_backoff: Duration,
    dropped: Counter,
    delivered: F,
}

impl<F: Fn(&str, bool)> Worker<F> {
    async fn run(self, mut rx: mpsc::Receiver<String>, mut shutdown: watch::Receiver<bool>) {
        let shown = redact_url(&self.url);
        loop {
            let body = tokio::select! {
                b = rx.recv() => match b { Some(b) => b, None => return },
                _ = shutdown.wait_for(|s| *s) => break,
            };
            let mut delay = self.base_backoff;
            let mut attempt = 1;
            loop {
                let result = self
                    .http
                    .post(&self.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let ok = matches!(&result, Ok(r) if r.status().is_success());
                (self.delivered)(&shown, ok);
                if ok {
                    break;
                }
                let why = match result {
                    Ok(r) => format!("HTTP {}", r.status().as_u16()),
                    Err(e) => e.without_url().to_string(),
                };
                if attempt >= MAX_ATTEMPTS {
                    self.dropped.inc();
                    tracing::error!(webhook = %shown, attempts = attempt, "webhook delivery given up: {why}");
                    break;
                }
                tracing::warn!(webhook = %shown, attempt, "webhook delivery failed, retrying in {delay:?}: {why}");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.wait_for(|s| *s) => {
                        self.abandon(&shown, 1 + rx.len());
                        return;
                    }
                }
                delay = (delay * 2).min(Duration::from_secs(60));
                attempt += 1;
            }
        }
        self.abandon(&shown, rx.len());
    }

    fn abandon(&self, shown: &str, pending: usize) {
        if pending > 0 {
            self.dropped.inc_by(pending as u64);
            tracing::error!(webhook = %shown, pending, "shutting down with undelivered webhook payloads");
        }
    }
}
