//! Alertmanager API v2: while an SLO's decision is above `ok`, one alert
//! `alertname="SLOBurnRate"` (per group, carrying the group's labels) re-sent every cycle with a rolling `endsAt`; resolved (`endsAt`
//! set to the evaluation time) when the decision returns to `ok` or moves to another level,
//! whose alert replaces it, and when a maintenance window begins (even without data). A post is retried with the shared jittered backoff
//! (`crate::retry`) while the Alertmanager answers; resolutions that still fail to arrive are
//! re-sent with the next cycle.

use crate::backend::client::redact_url;
use crate::decision::Decision;
use crate::engine::{DimensionReport, Evaluation, explain};
use crate::retry::{RetryPolicy, retryable_status, retryable_transport};
use crate::time::format_time;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Alert {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) starts_at: String,
    pub(crate) ends_at: String,
}

#[derive(Debug, Default)]
struct Plan {
    resolve: Vec<Alert>,
    fire: Option<Alert>,
}

#[derive(Debug, Clone)]
struct Active {
    labels: BTreeMap<String, String>,
    starts_at_ms: i64,
}

/// What `burnrate run` was told about Alertmanager (`--alertmanager`, `--sink-timeout`, and
/// `--interval`, which sets how long an alert lives without being re-sent).
#[derive(Debug, Clone)]
pub(crate) struct AlertmanagerConfig {
    pub(crate) urls: Vec<String>,
    /// Timeout of each POST.
    pub(crate) timeout: Duration,
    /// The daemon's evaluation interval.
    pub(crate) interval: Duration,
}

/// Retries of one post: few and short, because the next cycle re-sends anyway and every
/// SLO's alerts wait behind this one.
const RETRY: RetryPolicy = RetryPolicy {
    first_delay: Duration::from_millis(250),
    max_delay: Duration::from_secs(2),
    retries: 2,
};

/// One Alertmanager and whether its last post failed even after retries: while it is down,
/// each post gets one attempt, so an outage costs every SLO one timeout, not three.
struct Target {
    url: String,
    down: AtomicBool,
}

pub(crate) struct Alertmanager {
    http: reqwest::Client,
    targets: Vec<Target>,
    /// How long an alert stays firing without being re-sent: a few evaluation intervals, so
    /// one missed cycle does not resolve it but a dead daemon does.
    ttl_ms: i64,
    /// Per SLO instance (`service/slo` and a group's labels): the alert last sent. An SLO absent from it that was already
    /// planned once has no alert; one never planned may have one from before a restart.
    active: Mutex<HashMap<String, Active>>,
    planned: Mutex<std::collections::HashSet<String>>,
    /// Resolutions not yet delivered, re-sent until Alertmanager takes them.
    unresolved: Mutex<Vec<Alert>>,
}

/// The dimension that set the SLO's decision (error first when both did).
fn driving_dimension(eval: &Evaluation) -> Option<&'static str> {
    eval.dimensions()
        .find(|(_, d)| d.decision == eval.decision)
        .map(|(name, _)| name)
}

fn alerting(d: Decision) -> bool {
    matches!(d, Decision::Warn | Decision::Scale | Decision::CircuitBreak)
}

fn labels_for(eval: &Evaluation, decision: Decision, dimension: &str) -> BTreeMap<String, String> {
    let mut labels = eval.labels.clone();
    // `validate` keeps group labels apart from the spec's and from burnrate's own.
    labels.extend(eval.group.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels.insert("alertname".into(), "SLOBurnRate".into());
    labels.insert("service".into(), eval.service.clone());
    labels.insert("slo".into(), eval.slo.clone());
    labels.insert("decision".into(), decision.as_str().into());
    labels.insert("dimension".into(), dimension.into());
    labels
}

/// The labels of the alert an evaluation calls for, if any.
pub(crate) fn alert_labels(eval: &Evaluation) -> Option<BTreeMap<String, String>> {
    alerting(eval.decision).then(|| {
        labels_for(
            eval,
            eval.decision,
            driving_dimension(eval).unwrap_or("error"),
        )
    })
}

fn annotations(eval: &Evaluation) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert(
        "summary".into(),
        format!("{} is {}", eval.instance_name(), eval.decision),
    );
    for (dim, report) in eval.dimensions() {
        let burns: Vec<String> = report
            .burn
            .iter()
            .map(|(w, b)| {
                format!(
                    "{w}={}",
                    b.map(|b| format!("{b:.3}"))
                        .unwrap_or_else(|| "null".into())
                )
            })
            .collect();
        a.insert(format!("{dim}_burn_rates"), burns.join(" "));
        if let Some(b) = report.budget_remaining {
            a.insert(format!("{dim}_budget_remaining"), format!("{b:.4}"));
        }
        if let Some(t) = &report.no_data_for {
            a.insert(format!("{dim}_no_data_for"), t.clone());
        }
    }
    // Why it burns, from the dimension the alert is for (another burning dimension's, when
    // that one has none).
    let driving = driving_dimension(eval);
    let mut explained: Vec<&DimensionReport> = eval
        .dimensions()
        .filter(|(name, _)| Some(*name) == driving)
        .chain(eval.dimensions().filter(|(name, _)| Some(*name) != driving))
        .map(|(_, d)| d)
        .collect();
    explained.retain(|d| alerting(d.decision));
    if let Some(c) = explained.iter().find_map(|d| d.contributors.as_ref())
        && !c.top.is_empty()
    {
        a.insert("contributors".into(), explain::contributors_text(c));
    }
    if let Some(d) = explained.iter().find(|d| !d.exemplars.is_empty()) {
        a.insert("exemplars".into(), explain::exemplars_text(&d.exemplars));
    }
    a
}

impl Alertmanager {
    pub(crate) fn new(config: AlertmanagerConfig) -> Alertmanager {
        let ttl_ms = (config.interval.as_millis() as i64 * 4).max(60_000);
        Alertmanager {
            http: super::http_client(config.timeout),
            targets: config
                .urls
                .into_iter()
                .map(|url| Target {
                    url,
                    down: AtomicBool::new(false),
                })
                .collect(),
            ttl_ms,
            active: Mutex::new(HashMap::new()),
            planned: Mutex::new(Default::default()),
            unresolved: Mutex::new(Vec::new()),
        }
    }

    /// What to send after one evaluation: the resolution of an alert whose labels no longer
    /// apply, and the (re-)sent alert.
    ///
    /// `previous` is the decision before this evaluation as the daemon's state remembers it:
    /// after a restart, the alert an earlier run sent is not in memory, so the first plan of
    /// an SLO resolves every alert that decision can have raised.
    async fn plan(&self, eval: &Evaluation, previous: Option<Decision>) -> Plan {
        let key = eval.instance_name();
        let mut active = self.active.lock().await;
        let mut out = Plan::default();
        if eval.decision == Decision::NoData && eval.maintenance.is_none() {
            // Nothing new is known: neither re-send (it expires on its own) nor resolve.
            // Maintenance is known, though: it resolves whatever was raised before it.
            return out;
        }
        let wanted = alert_labels(eval);
        let first_plan = self.planned.lock().await.insert(key.clone());
        if first_plan && let Some(before) = previous.filter(|p| alerting(*p)) {
            for (dimension, _) in eval.dimensions() {
                let labels = labels_for(eval, before, dimension);
                if wanted.as_ref() != Some(&labels) {
                    out.resolve.push(Alert {
                        labels,
                        annotations: BTreeMap::new(),
                        starts_at: format_time(eval.at_ms),
                        ends_at: format_time(eval.at_ms),
                    });
                }
            }
        }
        if let Some(current) = active.get(&key)
            && wanted.as_ref() != Some(&current.labels)
        {
            out.resolve.push(Alert {
                labels: current.labels.clone(),
                annotations: BTreeMap::new(),
                starts_at: format_time(current.starts_at_ms),
                ends_at: format_time(eval.at_ms),
            });
            active.remove(&key);
        }
        if let Some(labels) = wanted {
            let starts_at_ms = active
                .get(&key)
                .map(|a| a.starts_at_ms)
                .unwrap_or(eval.at_ms);
            active.insert(
                key,
                Active {
                    labels: labels.clone(),
                    starts_at_ms,
                },
            );
            out.fire = Some(Alert {
                labels,
                annotations: annotations(eval),
                starts_at: format_time(starts_at_ms),
                ends_at: format_time(eval.at_ms + self.ttl_ms),
            });
        }
        out
    }

    /// Sends what this evaluation calls for, plus resolutions that failed before.
    /// Returns one `(url without credentials, outcome)` per Alertmanager posted to (none
    /// when there was nothing to send), for metrics and the web page.
    pub(crate) async fn publish(
        &self,
        eval: &Evaluation,
        previous: Option<Decision>,
    ) -> Vec<(String, Result<(), String>)> {
        let plan = self.plan(eval, previous).await;
        let mut resolutions: Vec<Alert> = std::mem::take(&mut *self.unresolved.lock().await);
        resolutions.extend(plan.resolve);
        let alerts: Vec<Alert> = plan
            .fire
            .into_iter()
            .chain(resolutions.iter().cloned())
            .collect();
        if alerts.is_empty() {
            return Vec::new();
        }
        let mut results = Vec::new();
        let mut all_ok = true;
        let body = serde_json::to_string(&alerts).expect("alerts serialize");
        for target in &self.targets {
            let outcome = self.post(target, &body).await;
            all_ok &= outcome.is_ok();
            results.push((redact_url(&target.url), outcome));
        }
        if !all_ok {
            self.unresolved.lock().await.extend(resolutions);
        }
        results
    }

    /// Posts `body` to one Alertmanager, retrying 5xx answers and lost connections; why it
    /// failed otherwise.
    async fn post(&self, target: &Target, body: &str) -> Result<(), String> {
        let endpoint = format!("{}/api/v2/alerts", target.url.trim_end_matches('/'));
        let shown = redact_url(&target.url);
        let policy = if target.down.load(Ordering::Relaxed) {
            RETRY.once()
        } else {
            RETRY
        };
        let result = policy
            .run(
                || async {
                    let sent = self
                        .http
                        .post(&endpoint)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.to_owned())
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().is_success() => Ok(()),
                        Ok(r) => Err(PostError::Status(r.status())),
                        Err(e) => Err(PostError::Transport(e.without_url())),
                    }
                },
                PostError::retryable,
                |e, delay| tracing::debug!(alertmanager = %shown, error = %e, ?delay, "retrying alertmanager post"),
            )
            .await;
        target.down.store(
            result.as_ref().err().is_some_and(PostError::retryable),
            Ordering::Relaxed,
        );
        match result {
            Ok(()) => Ok(()),
            Err(e @ PostError::Status(status)) => {
                tracing::warn!(alertmanager = %shown, status = status.as_u16(), "alertmanager refused alerts");
                Err(e.to_string())
            }
            Err(PostError::Transport(e)) => {
                tracing::warn!(alertmanager = %shown, error = %e, "alertmanager unreachable");
                Err(format!("unreachable: {}", super::describe(&e)))
            }
        }
    }
}

/// Why one post failed.
#[derive(Debug, thiserror::Error)]
enum PostError {
    #[error("HTTP {}", .0.as_u16())]
    Status(reqwest::StatusCode),
    /// Without its URL, which may carry credentials.
    #[error("{0}")]
    Transport(reqwest::Error),
}

impl PostError {
    fn retryable(&self) -> bool {
        match self {
            PostError::Status(status) => retryable_status(*status),
            PostError::Transport(e) => retryable_transport(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(decision: Decision, at_ms: i64) -> Evaluation {
        Evaluation {
            time: format_time(at_ms),
            service: "svc".into(),
            slo: "api".into(),
            group: Default::default(),
            labels: [("team".to_string(), "core".to_string())]
                .into_iter()
                .collect(),
            decision,
            maintenance: None,
            previous: None,
            error: None,
            latency: None,
            errors: vec![],
            at_ms,
        }
    }

    fn with_dimensions(mut e: Evaluation) -> Evaluation {
        let report: crate::engine::DimensionReport = serde_json::from_value(serde_json::json!({
            "decision": "ok", "objective": 0.99, "burn": {}, "events": {}, "no_traffic": [],
            "fired": [], "pending": [], "budget_remaining": null
        }))
        .unwrap();
        e.error = Some(report.clone());
        e.latency = Some(report);
        e
    }

    #[tokio::test]
    async fn after_a_restart_the_alert_of_the_previous_run_is_resolved() {
        let am = Alertmanager::new(AlertmanagerConfig {
            urls: vec![],
            timeout: Duration::from_secs(1),
            interval: Duration::from_secs(30),
        });
        let plan = am
            .plan(
                &with_dimensions(eval(Decision::Ok, 5_000)),
                Some(Decision::CircuitBreak),
            )
            .await;
        let resolved: Vec<(&str, &str)> = plan
            .resolve
            .iter()
            .map(|a| {
                (
                    a.labels["decision"].as_str(),
                    a.labels["dimension"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            resolved,
            [("circuit_break", "error"), ("circuit_break", "latency")]
        );
        assert!(plan.resolve.iter().all(|a| a.ends_at == format_time(5_000)));
        // Only the first plan after the start guesses; later ones know what they sent.
        let later = am
            .plan(
                &with_dimensions(eval(Decision::Ok, 35_000)),
                Some(Decision::CircuitBreak),
            )
            .await;
        assert!(later.resolve.is_empty());
    }

    #[tokio::test]
    async fn fires_rolls_changes_level_and_resolves() {
        let am = Alertmanager::new(AlertmanagerConfig {
            urls: vec![],
            timeout: Duration::from_secs(1),
            interval: Duration::from_secs(30),
        });
        let quiet = am.plan(&eval(Decision::Ok, 0), None).await;
        assert!(quiet.fire.is_none() && quiet.resolve.is_empty());
        let first = am
            .plan(&eval(Decision::Warn, 1_000), Some(Decision::Ok))
            .await
            .fire
            .unwrap();
        assert_eq!(first.labels["decision"], "warn");
        assert_eq!(first.labels["team"], "core");
        assert_eq!(first.ends_at, format_time(121_000));
        let again = am
            .plan(&eval(Decision::Warn, 31_000), Some(Decision::Warn))
            .await
            .fire
            .unwrap();
        assert_eq!(
            again.starts_at,
            format_time(1_000),
            "a re-sent alert keeps its start"
        );
        let blind = am
            .plan(&eval(Decision::NoData, 61_000), Some(Decision::Warn))
            .await;
        assert!(
            blind.fire.is_none() && blind.resolve.is_empty(),
            "no data changes nothing"
        );
        let escalated = am
            .plan(
                &eval(Decision::CircuitBreak, 91_000),
                Some(Decision::NoData),
            )
            .await;
        let old = &escalated.resolve[0];
        assert_eq!(
            (old.labels["decision"].as_str(), old.ends_at.as_str()),
            ("warn", "1970-01-01T00:01:31Z")
        );
        assert_eq!(escalated.fire.unwrap().labels["decision"], "circuit_break");
        let resolved = am
            .plan(&eval(Decision::Ok, 121_000), Some(Decision::CircuitBreak))
            .await;
        assert!(resolved.fire.is_none());
        assert_eq!(resolved.resolve[0].ends_at, format_time(121_000));
    }

    #[tokio::test]
    async fn maintenance_resolves_the_active_alert_even_without_data() {
        let am = Alertmanager::new(AlertmanagerConfig {
            urls: vec![],
            timeout: Duration::from_secs(1),
            interval: Duration::from_secs(30),
        });
        let in_maintenance = |decision, at_ms| Evaluation {
            maintenance: Some("db migration".into()),
            ..eval(decision, at_ms)
        };
        for blind in [Decision::NoData, Decision::Ok] {
            am.plan(&eval(Decision::Warn, 1_000), Some(Decision::Ok))
                .await
                .fire
                .expect("fires");
            let quiet = am
                .plan(&in_maintenance(blind, 31_000), Some(Decision::Warn))
                .await;
            assert!(quiet.fire.is_none(), "{blind}");
            assert_eq!(quiet.resolve.len(), 1, "{blind}");
            assert_eq!(quiet.resolve[0].ends_at, format_time(31_000));
            let again = am
                .plan(&in_maintenance(blind, 61_000), Some(Decision::Warn))
                .await;
            assert!(again.fire.is_none() && again.resolve.is_empty(), "{blind}");
        }
    }

    #[tokio::test]
    async fn posts_are_retried_on_5xx_never_on_4xx_and_once_while_down() {
        use crate::sinks::test_receiver::Receiver;
        let start = |url: String| {
            Alertmanager::new(AlertmanagerConfig {
                urls: vec![url],
                timeout: Duration::from_secs(2),
                interval: Duration::from_secs(30),
            })
        };
        let flaky = Receiver::start(&[503, 200]).await;
        let am = start(flaky.url.clone());
        let sent = am.publish(&eval(Decision::Warn, 1_000), None).await;
        assert_eq!((sent[0].1.is_ok(), flaky.requests()), (true, 2));

        let refusing = Receiver::start(&[400]).await;
        let am = start(refusing.url.clone());
        let sent = am.publish(&eval(Decision::Warn, 1_000), None).await;
        assert_eq!(
            (sent[0].1.clone(), refusing.requests()),
            (Err("HTTP 400".to_string()), 1)
        );

        let down = Receiver::start(&[503]).await;
        let am = start(down.url.clone());
        let sent = am.publish(&eval(Decision::Warn, 1_000), None).await;
        assert_eq!(
            (sent[0].1.is_ok(), down.requests()),
            (false, 1 + RETRY.retries)
        );
        am.publish(&eval(Decision::Warn, 31_000), Some(Decision::Warn))
            .await;
        assert_eq!(down.requests(), 2 + RETRY.retries, "one attempt while down");
    }
}
