//! The daemon's own `/metrics`: burn rates, decisions and budgets for dashboards and
//! autoscalers (KEDA, HPA adapters), and counters about the daemon itself.

use crate::decision::Decision;
use crate::engine::Evaluation;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

type FloatGauge = Gauge<f64, AtomicU64>;

/// The labels of a group (`group_by`), added to every series of its SLO instance; none for
/// an SLO without groups.
pub(crate) type GroupLabelSet = Vec<(String, String)>;

fn group_labels(eval: &Evaluation) -> GroupLabelSet {
    eval.group
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct WindowLabels {
    pub(crate) service: String,
    pub(crate) slo: String,
    #[prometheus(flatten)]
    pub(crate) group: GroupLabelSet,
    pub(crate) dimension: String,
    pub(crate) window: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DecisionLabels {
    pub(crate) service: String,
    pub(crate) slo: String,
    #[prometheus(flatten)]
    pub(crate) group: GroupLabelSet,
    pub(crate) decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DimensionLabels {
    pub(crate) service: String,
    pub(crate) slo: String,
    #[prometheus(flatten)]
    pub(crate) group: GroupLabelSet,
    pub(crate) dimension: String,
}

/// One contributor of a dimension above ok: its breakdown labels (`error_class`, ...;
/// validation keeps them apart from the others) after the instance's.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ContributorLabels {
    pub(crate) service: String,
    pub(crate) slo: String,
    #[prometheus(flatten)]
    pub(crate) group: GroupLabelSet,
    pub(crate) dimension: String,
    /// The window the contributors are measured over (the deciding rule's long window).
    pub(crate) window: String,
    #[prometheus(flatten)]
    pub(crate) contributor: GroupLabelSet,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct QuantileLabels {
    pub(crate) service: String,
    pub(crate) slo: String,
    #[prometheus(flatten)]
    pub(crate) group: GroupLabelSet,
    /// The SLO's quantile as a percentile (`99` for P99): a label named `quantile` is
    /// reserved for summaries.
    pub(crate) percentile: String,
    pub(crate) window: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ResultLabels {
    pub(crate) service: String,
    pub(crate) slo: String,
    #[prometheus(flatten)]
    pub(crate) group: GroupLabelSet,
    pub(crate) result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SloLabels {
    pub(crate) service: String,
    pub(crate) slo: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabels {
    pub(crate) outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SourceLabels {
    /// `local` (computed from the incremental history) or `direct` (queried).
    pub(crate) source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SinkLabels {
    pub(crate) sink: String,
    pub(crate) result: String,
}

/// Every metric the daemon exports.
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) burn_rate: Family<WindowLabels, FloatGauge>,
    pub(crate) decision: Family<DecisionLabels, Gauge>,
    pub(crate) budget_remaining: Family<DimensionLabels, FloatGauge>,
    pub(crate) quantile_seconds: Family<QuantileLabels, FloatGauge>,
    pub(crate) evaluations: Family<ResultLabels, Counter>,
    pub(crate) groups_dropped: Family<SloLabels, Gauge>,
    pub(crate) backend_request_duration: Family<OutcomeLabels, Histogram>,
    pub(crate) sink_deliveries: Family<SinkLabels, Counter>,
    pub(crate) webhook_queue_dropped: Counter,
    pub(crate) webhook_outbox: Gauge,
    pub(crate) slos: Gauge,
    pub(crate) backend_requests: Counter,
    pub(crate) backend_response_bytes: Counter,
    pub(crate) cycle_backend_requests: Gauge,
    pub(crate) cycle_backend_response_bytes: Gauge,
    pub(crate) cycle_duration: FloatGauge,
    pub(crate) cycle_dimensions: Family<SourceLabels, Gauge>,
    pub(crate) local_history_samples: Gauge,
    pub(crate) local_history_bytes: Gauge,
    pub(crate) local_history_max_bytes: Gauge,
    pub(crate) local_history_fallback_windows: Family<DimensionLabels, Gauge>,
    pub(crate) contributor_bad_share: Family<ContributorLabels, FloatGauge>,
    pub(crate) contributor_burn_rate: Family<ContributorLabels, FloatGauge>,
    /// The contributor series each instance exports now, removed when they change: a
    /// contributor exists only while its dimension burns.
    contributors_exported: std::sync::Mutex<HashMap<String, Vec<ContributorLabels>>>,
    pub(crate) ui_history_points: Gauge,
    pub(crate) ui_history_bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("burnrate");
        let m = Metrics {
            burn_rate: Family::default(),
            decision: Family::default(),
            budget_remaining: Family::default(),
            quantile_seconds: Family::default(),
            evaluations: Family::default(),
            groups_dropped: Family::default(),
            backend_request_duration: Family::new_with_constructor(|| {
                Histogram::new([
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ])
            }),
            sink_deliveries: Family::default(),
            webhook_queue_dropped: Counter::default(),
            webhook_outbox: Gauge::default(),
            slos: Gauge::default(),
            backend_requests: Counter::default(),
            backend_response_bytes: Counter::default(),
            cycle_backend_requests: Gauge::default(),
            cycle_backend_response_bytes: Gauge::default(),
            cycle_duration: FloatGauge::default(),
            cycle_dimensions: Family::default(),
            local_history_samples: Gauge::default(),
            local_history_bytes: Gauge::default(),
            local_history_max_bytes: Gauge::default(),
            local_history_fallback_windows: Family::default(),
            contributor_bad_share: Family::default(),
            contributor_burn_rate: Family::default(),
            contributors_exported: Default::default(),
            ui_history_points: Gauge::default(),
            ui_history_bytes: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "burn_rate",
            "Burn rate per SLO, dimension and window",
            m.burn_rate.clone(),
        );
        registry.register(
            "decision",
            "1 for the SLO's current decision, 0 for the others",
            m.decision.clone(),
        );
        registry.register(
            "error_budget_remaining",
            "Share of the period's error budget left (below 0 when overspent)",
            m.budget_remaining.clone(),
        );
        registry.register(
            "quantile_seconds",
            "The latency quantile of the SLO per window",
            m.quantile_seconds.clone(),
        );
        registry.register(
            "evaluations",
            "Evaluations per SLO by result (ok, no_data, failed)",
            m.evaluations.clone(),
        );
        registry.register(
            "groups_dropped",
            "Groups of an SLO with group_by not evaluated in the last cycle because of max_groups (the least traffic)",
            m.groups_dropped.clone(),
        );
        registry.register(
            "backend_request_duration_seconds",
            "Duration of requests to the metrics backend",
            m.backend_request_duration.clone(),
        );
        registry.register(
            "sink_deliveries",
            "Deliveries to Alertmanager and webhooks by result",
            m.sink_deliveries.clone(),
        );
        registry.register(
            "webhook_dropped",
            "Webhook payloads dropped because the delivery queue was full or retries ran out",
            m.webhook_queue_dropped.clone(),
        );
        registry.register(
            "webhook_outbox",
            "Webhook payloads not yet delivered (queued or being retried, on disk with --state-dir)",
            m.webhook_outbox.clone(),
        );
        registry.register("slos", "SLOs this daemon evaluates", m.slos.clone());
        registry.register(
            "backend_requests",
            "HTTP requests sent to the metrics backend, retries included",
            m.backend_requests.clone(),
        );
        registry.register(
            "backend_response_bytes",
            "Bytes of response bodies received from the metrics backend",
            m.backend_response_bytes.clone(),
        );
        registry.register(
            "cycle_backend_requests",
            "Backend requests of the last evaluation cycle",
            m.cycle_backend_requests.clone(),
        );
        registry.register(
            "cycle_backend_response_bytes",
            "Backend response bytes of the last evaluation cycle",
            m.cycle_backend_response_bytes.clone(),
        );
        registry.register(
            "cycle_duration_seconds",
            "Wall time of the last evaluation cycle",
            m.cycle_duration.clone(),
        );
        registry.register(
            "cycle_dimensions",
            "SLO dimensions of the last cycle by where their rates came from (local history or direct queries)",
            m.cycle_dimensions.clone(),
        );
        registry.register(
            "local_history_samples",
            "Raw samples held for incremental evaluation",
            m.local_history_samples.clone(),
        );
        registry.register(
            "local_history_bytes",
            "Heap bytes of the raw samples held for incremental evaluation",
            m.local_history_bytes.clone(),
        );
        registry.register(
            "local_history_max_bytes",
            "The budget of the local history (--max-history-bytes)",
            m.local_history_max_bytes.clone(),
        );
        registry.register(
            "local_history_fallback_windows",
            "Windows of an SLO dimension measured with direct queries because the local history would exceed --max-history-bytes",
            m.local_history_fallback_windows.clone(),
        );
        registry.register(
            "contributor_bad_share",
            "While a dimension with breakdown is above ok: a breakdown label set's share of its bad events over the deciding rule's long window",
            m.contributor_bad_share.clone(),
        );
        registry.register(
            "contributor_burn_rate",
            "While a dimension with breakdown is above ok: a breakdown label set's bad events over all events, over the budget (they add up to the window's burn rate)",
            m.contributor_burn_rate.clone(),
        );
        registry.register(
            "ui_history_points",
            "Evaluations the web page's charts keep (--ui-retention)",
            m.ui_history_points.clone(),
        );
        registry.register(
            "ui_history_bytes",
            "Heap bytes of the web page's history",
            m.ui_history_bytes.clone(),
        );
        Metrics { registry, ..m }
    }

    /// OpenMetrics text exposition (what Prometheus asks for).
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }

    /// The classic Prometheus text format 0.0.4, for clients that do not ask for OpenMetrics
    /// (curl, `promtool check metrics`): counters are declared under their `_total` name and
    /// there is no `# EOF`.
    pub(crate) fn encode_prometheus_text(&self) -> String {
        openmetrics_to_text(&self.encode())
    }

    /// Publishes one evaluation; windows without a number are removed rather than exported
    /// as 0 (a missing value must not look like a healthy one).
    pub(crate) fn record(&self, eval: &Evaluation) {
        for d in Decision::ALL {
            self.decision
                .get_or_create(&decision_labels(eval, d))
                .set(i64::from(d == eval.decision));
        }
        for gauge in gauges_of(eval) {
            match gauge {
                GaugeValue::Burn(labels, Some(v)) => {
                    self.burn_rate.get_or_create(&labels).set(v);
                }
                GaugeValue::Burn(labels, None) => {
                    self.burn_rate.remove(&labels);
                }
                GaugeValue::Budget(labels, Some(v)) => {
                    self.budget_remaining.get_or_create(&labels).set(v);
                }
                GaugeValue::Budget(labels, None) => {
                    self.budget_remaining.remove(&labels);
                }
                GaugeValue::Quantile(labels, Some(v)) => {
                    self.quantile_seconds.get_or_create(&labels).set(v);
                }
                GaugeValue::Quantile(labels, None) => {
                    self.quantile_seconds.remove(&labels);
                }
            };
        }
        self.record_contributors(eval);
        let result = if eval.all_queries_failed() {
            "failed"
        } else if eval.decision == Decision::NoData {
            "no_data"
        } else {
            "ok"
        };
        self.evaluations
            .get_or_create(&ResultLabels {
                service: eval.service.clone(),
                slo: eval.slo.clone(),
                group: group_labels(eval),
                result: result.into(),
            })
            .inc();
    }

    /// Exports the contributors of `eval`'s burning dimensions, and removes those it no
    /// longer has.
    fn record_contributors(&self, eval: &Evaluation) {
        let mut now = Vec::new();
        for (dim, report) in eval.dimensions() {
            let Some(c) = &report.contributors else {
                continue;
            };
            for t in &c.top {
                let labels = ContributorLabels {
                    service: eval.service.clone(),
                    slo: eval.slo.clone(),
                    group: group_labels(eval),
                    dimension: dim.into(),
                    window: c.window.clone(),
                    contributor: t
                        .labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                };
                self.contributor_bad_share
                    .get_or_create(&labels)
                    .set(t.bad_share);
                self.contributor_burn_rate
                    .get_or_create(&labels)
                    .set(t.burn);
                now.push(labels);
            }
        }
        let key = eval.instance_name();
        let mut exported = self
            .contributors_exported
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let before = if now.is_empty() {
            exported.remove(&key)
        } else {
            exported.insert(key, now.clone())
        };
        for gone in before.iter().flatten().filter(|l| !now.contains(l)) {
            self.contributor_bad_share.remove(gone);
            self.contributor_burn_rate.remove(gone);
        }
    }

    /// Drops every series of an SLO instance that is no longer evaluated (after a reload, or
    /// a group that is gone or beyond `max_groups`).
    pub(crate) fn forget(&self, last: &Evaluation) {
        let exported = self
            .contributors_exported
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&last.instance_name());
        for labels in exported.iter().flatten() {
            self.contributor_bad_share.remove(labels);
            self.contributor_burn_rate.remove(labels);
        }
        for d in Decision::ALL {
            self.decision.remove(&decision_labels(last, d));
        }
        for gauge in gauges_of(last) {
            match gauge {
                GaugeValue::Burn(labels, _) => self.burn_rate.remove(&labels),
                GaugeValue::Budget(labels, _) => self.budget_remaining.remove(&labels),
                GaugeValue::Quantile(labels, _) => self.quantile_seconds.remove(&labels),
            };
        }
        for result in ["ok", "no_data", "failed"] {
            self.evaluations.remove(&ResultLabels {
                service: last.service.clone(),
                slo: last.slo.clone(),
                group: group_labels(last),
                result: result.into(),
            });
        }
    }
}

fn decision_labels(eval: &Evaluation, d: Decision) -> DecisionLabels {
    DecisionLabels {
        service: eval.service.clone(),
        slo: eval.slo.clone(),
        group: group_labels(eval),
        decision: d.as_str().into(),
    }
}

/// One gauge series an evaluation sets (or removes, when its value is `None`).
enum GaugeValue {
    Burn(WindowLabels, Option<f64>),
    Budget(DimensionLabels, Option<f64>),
    Quantile(QuantileLabels, Option<f64>),
}

fn gauges_of(eval: &Evaluation) -> Vec<GaugeValue> {
    let mut out = Vec::new();
    for (dim, report) in eval.dimensions() {
        for (window, burn) in report.burn.iter() {
            let labels = WindowLabels {
                service: eval.service.clone(),
                slo: eval.slo.clone(),
                group: group_labels(eval),
                dimension: dim.into(),
                window: window.into(),
            };
            out.push(GaugeValue::Burn(labels, *burn));
        }
        let labels = DimensionLabels {
            service: eval.service.clone(),
            slo: eval.slo.clone(),
            group: group_labels(eval),
            dimension: dim.into(),
        };
        out.push(GaugeValue::Budget(labels, report.budget_remaining));
        if let (Some(q), Some(values)) = (report.quantile, &report.quantile_seconds) {
            for (window, v) in values.iter() {
                let labels = QuantileLabels {
                    service: eval.service.clone(),
                    slo: eval.slo.clone(),
                    group: group_labels(eval),
                    percentile: format!("{}", (q * 1e6).round() / 1e4),
                    window: window.into(),
                };
                out.push(GaugeValue::Quantile(labels, *v));
            }
        }
    }
    out
}

/// Rewrites OpenMetrics text as Prometheus text 0.0.4. Only what prometheus-client emits
/// needs handling: counter families named without `_total`, `# UNIT` lines, `# EOF`.
pub(crate) fn openmetrics_to_text(om: &str) -> String {
    let counters: std::collections::HashSet<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contributors_are_exported_only_while_they_burn() {
        let burning: Evaluation = serde_json::from_value(serde_json::json!({
            "time": "2026-11-17T10:00:00Z", "service": "s", "slo": "x",
            "group": {"route": "/pay"}, "labels": {}, "decision": "warn",
            "error": {
                "decision": "warn", "objective": 0.99, "burn": {"5m": 2.0},
                "events": {"5m": 100.0}, "no_traffic": [], "fired": [], "pending": [],
                "budget_remaining": 0.5,
                "contributors": {"window": "5m", "top": [
                    {"labels": {"error_class": "timeout"}, "bad_share": 0.75, "burn": 1.5},
                    {"labels": {"error_class": "db"}, "bad_share": 0.25, "burn": 0.5}
                ]}
            }
        }))
        .unwrap();
        let m = Metrics::new();
        m.record(&burning);
        let text = m.encode();
        assert!(text.contains(r#"burnrate_contributor_bad_share{service="s",slo="x",route="/pay",dimension="error",window="5m",error_class="timeout"} 0.75"#), "{text}");
        assert!(text.contains(r#"burnrate_contributor_burn_rate{service="s",slo="x",route="/pay",dimension="error",window="5m",error_class="db"} 0.5"#), "{text}");
        let mut fewer = burning.clone();
        if let Some(c) = fewer.error.as_mut().and_then(|d| d.contributors.as_mut()) {
            c.top.truncate(1);
        }
        m.record(&fewer);
        assert!(
            !m.encode().contains(r#"error_class="db""#),
            "a label set no longer among them goes"
        );
        let mut ok = burning.clone();
        ok.error.as_mut().unwrap().contributors = None;
        m.record(&ok);
        assert!(!m.encode().contains("error_class="), "none once ok");
        m.record(&burning);
        m.forget(&burning);
        assert!(!m.encode().contains("error_class="), "none once forgotten");
    }

    #[test]
    fn prometheus_text_declares_counters_under_their_total_name() {
        let om = "# HELP x_evals Evaluations.\n# TYPE x_evals counter\nx_evals_total{a=\"b\"} 3\n# HELP g A gauge.\n# TYPE g gauge\ng 1\n# EOF\n";
        assert_eq!(
            openmetrics_to_text(om),
            "# HELP x_evals_total Evaluations.\n# TYPE x_evals_total counter\nx_evals_total{a=\"b\"} 3\n# HELP g A gauge.\n# TYPE g gauge\ng 1\n"
        );
    }
}
