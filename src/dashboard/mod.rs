//! `burnrate dashboard`: a Grafana dashboard (JSON model, schema 39) of the specs' SLOs, on
//! the daemon's own metrics (`--source daemon`) or on the series `burnrate rules` records
//! (`--source rules`), so that whichever way burnrate runs, the same picture is one import
//! away.
//!
//! Layout: an overview row (each SLO instance's decision now and over time, every
//! dimension's budget remaining), then a row per SLO: per dimension its burn rate per window
//! with the matrix thresholds drawn as dashed lines on a log scale; the decision over time;
//! the budget remaining; and, for a dimension with `breakdown`, its contributors.
//!
//! The two sources differ only in their queries: the daemon exports its decision
//! (`burnrate_decision`, hysteresis included) and its contributors
//! (`burnrate_contributor_bad_share`), while the rules record neither, so the rules source
//! derives the decision from the recorded burn rates and the matrix, exactly as the
//! `SLOBurnRate` alerts do (without `for` and `hold`, which are the ruler's and
//! Alertmanager's), and computes contributors from the raw series over the most severe
//! rule's long window. Every panel reads `${datasource}`, a data source variable.

use crate::chart::format::decision_fill;
use crate::decision::Decision;
use crate::rules::expr::{Good, bad_events_rate, rule_condition};
use crate::rules::{BUDGET_METRIC, BURN_RATE_METRIC, Buckets, latency_good};
use crate::spec::selector::{MatchOp, Matcher, Selector};
use crate::spec::{Dimension, Rule, ServiceSpec, SloSpec};
use serde_json::{Value, json};

/// Which series the panels read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Source {
    /// The metrics of `burnrate run` (`burnrate_burn_rate`, `burnrate_decision`, ...).
    Daemon,
    /// The recording rules of `burnrate rules` (`burnrate:burn_rate:ratio`, ...).
    Rules,
}

/// The daemon's metric names, as `daemon::metrics` registers them.
pub(crate) const DAEMON_BURN: &str = "burnrate_burn_rate";
pub(crate) const DAEMON_BUDGET: &str = "burnrate_error_budget_remaining";
pub(crate) const DAEMON_DECISION: &str = "burnrate_decision";
pub(crate) const DAEMON_CONTRIBUTOR: &str = "burnrate_contributor_bad_share";

/// The severity a decision panel plots, mapped back to the decision's name and colour.
fn severity(d: Decision) -> i32 {
    d.severity().map_or(-1, i32::from)
}

fn selector(metric: &str, matchers: &[(&str, &str)]) -> String {
    Selector {
        metric: Some(metric.to_string()),
        matchers: matchers
            .iter()
            .map(|(k, v)| Matcher::new(*k, MatchOp::Equal, *v))
            .collect(),
    }
    .to_promql()
}

/// `service=~"a|b"` over the specs' services, the overview's scope.
fn services_selector(metric: &str, specs: &[ServiceSpec], extra: &[(&str, &str)]) -> String {
    let mut names: Vec<String> = specs.iter().map(|s| regex::escape(&s.service)).collect();
    names.sort();
    names.dedup();
    let mut matchers = vec![Matcher::new(
        "service",
        MatchOp::RegexMatch,
        names.join("|"),
    )];
    matchers.extend(
        extra
            .iter()
            .map(|(k, v)| Matcher::new(*k, MatchOp::Equal, *v)),
    );
    Selector {
        metric: Some(metric.to_string()),
        matchers,
    }
    .to_promql()
}

/// The daemon's decision as a severity per instance: each decision's 0/1 series times its
/// severity, summed (only the current one is 1).
fn daemon_decision(scope: impl Fn(&[(&str, &str)]) -> String) -> String {
    let parts: Vec<String> = Decision::ALL
        .iter()
        .map(|d| format!("{} * {}", scope(&[("decision", d.as_str())]), severity(*d)))
        .collect();
    format!("sum without (decision) ({})", parts.join(" or "))
}

/// An SLO's decision from the recorded burn rates: the most severe rule whose condition
/// holds (the `SLOBurnRate` alert's condition), else `ok` (0) wherever a burn is recorded.
fn rules_decision(service: &str, slo: &SloSpec) -> String {
    let mut parts = Vec::new();
    for dim in slo.dimensions() {
        for rule in slo.matrix(dim).unwrap_or(&[]) {
            parts.push(format!(
                "max without (window) ({}) * 0 + {}",
                rule_condition(service, slo, dim, rule),
                severity(rule.decision)
            ));
        }
    }
    parts.push(format!(
        "{} * 0",
        selector(
            BURN_RATE_METRIC,
            &[("service", service), ("slo", &slo.name)]
        )
    ));
    format!("max without (window, dimension) ({})", parts.join(" or "))
}

/// The rule whose window a contributors panel uses: the most severe, the first among
/// equals (the one that pages).
fn paging_rule(slo: &SloSpec, dim: Dimension) -> Option<&Rule> {
    let rules = slo.matrix(dim)?;
    let most = rules.iter().map(|r| severity(r.decision)).max()?;
    rules.iter().find(|r| severity(r.decision) == most)
}

/// A dimension's contributors from the raw series: each breakdown label set's bad events
/// over all bad events of its group, over the paging rule's long window.
fn raw_contributors(slo: &SloSpec, dim: Dimension, buckets: &Buckets) -> Option<(String, String)> {
    let breakdown = slo.breakdown(dim)?;
    let rule = paging_rule(slo, dim)?;
    let good = latency_good(slo, buckets).unwrap_or(Good::Bound(0.0));
    let by: Vec<String> = slo
        .group_by
        .iter()
        .chain(&breakdown.labels)
        .cloned()
        .collect();
    let part = bad_events_rate(slo, dim, &good, &rule.long, &by);
    let whole = bad_events_rate(slo, dim, &good, &rule.long, &slo.group_by);
    let expr = format!(
        "{part} / ignoring ({}) group_left () {whole}",
        breakdown.labels.join(", ")
    );
    Some((expr, rule.long.to_string()))
}

/// `{{route}} {{error_class}}`: the legend of labels beyond service and SLO.
fn legend(labels: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    labels
        .into_iter()
        .map(|l| format!("{{{{{}}}}}", l.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

fn target(expr: &str, legend: &str, ref_id: &str) -> Value {
    json!({
        "datasource": datasource(),
        "expr": expr,
        "legendFormat": legend,
        "range": true,
        "instant": false,
        "refId": ref_id,
    })
}

/// Value mappings from a severity to the decision's name and colour, so a decision is read,
/// not only seen.
fn decision_mappings() -> Value {
    let mut options = serde_json::Map::new();
    for (i, d) in Decision::ALL.iter().enumerate() {
        options.insert(
            severity(*d).to_string(),
            json!({"text": d.as_str(), "color": decision_fill(*d), "index": i}),
        );
    }
    json!([{"type": "value", "options": options}])
}

/// Thresholds at each rule's burn, in its decision's colour.
fn rule_thresholds(rules: &[Rule]) -> Value {
    let mut steps = vec![json!({"color": decision_fill(Decision::Ok), "value": null})];
    let mut sorted: Vec<&Rule> = rules.iter().collect();
    sorted.sort_by(|a, b| a.burn.total_cmp(&b.burn));
    for r in sorted {
        steps.push(json!({"color": decision_fill(r.decision), "value": r.burn}));
    }
    json!({"mode": "absolute", "steps": steps})
}

/// Panels placed left to right, wrapping at Grafana's 24 columns.
struct Layout {
    panels: Vec<Value>,
    next_id: u64,
    x: u64,
    y: u64,
    row_height: u64,
}

impl Layout {
    fn add(&mut self, w: u64, h: u64, mut panel: Value) {
        if self.x + w > 24 {
            self.y += self.row_height;
            self.x = 0;
            self.row_height = 0;
        }
        panel["id"] = json!(self.next_id);
        panel["gridPos"] = json!({"h": h, "w": w, "x": self.x, "y": self.y});
        self.next_id += 1;
        self.x += w;
        self.row_height = self.row_height.max(h);
        self.panels.push(panel);
    }

    fn row(&mut self, title: &str) {
        if self.x > 0 {
            self.y += self.row_height;
        }
        self.x = 0;
        self.row_height = 0;
        self.add(
            24,
            1,
            json!({"type": "row", "title": title, "collapsed": false, "panels": []}),
        );
        self.x = 0;
        self.y += 1;
        self.row_height = 0;
    }
}

fn timeseries(title: &str, description: &str, targets: Vec<Value>, defaults: Value) -> Value {
    json!({
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": datasource(),
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    })
}

fn state_timeline(title: &str, description: &str, expr: &str, legend: &str) -> Value {
    json!({
        "type": "state-timeline",
        "title": title,
        "description": description,
        "datasource": datasource(),
        "targets": [target(expr, legend, "A")],
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "thresholds"},
                "mappings": decision_mappings(),
                "thresholds": {"mode": "absolute", "steps": [{"color": decision_fill(Decision::NoData), "value": null}]},
                "custom": {"fillOpacity": 80, "lineWidth": 0},
            },
            "overrides": [],
        },
        "options": {
            "showValue": "auto",
            "mergeValues": true,
            "rowHeight": 0.8,
            "alignValue": "left",
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": false},
        },
    })
}

fn budget_defaults() -> Value {
    json!({
        "unit": "percentunit",
        "color": {"mode": "thresholds"},
        "thresholds": {"mode": "absolute", "steps": [
            {"color": decision_fill(Decision::CircuitBreak), "value": null},
            {"color": decision_fill(Decision::Scale), "value": 0},
            {"color": decision_fill(Decision::Ok), "value": 0.25},
        ]},
        "max": 1,
    })
}

/// Every label that can tell instances apart beyond service and SLO: group labels.
fn group_labels(specs: &[ServiceSpec]) -> Vec<String> {
    let mut labels: Vec<String> = specs
        .iter()
        .flat_map(|s| &s.slos)
        .flat_map(|s| s.group_by.iter().cloned())
        .collect();
    labels.sort();
    labels.dedup();
    labels
}

/// A stable uid from what the dashboard covers (Grafana caps uids at 40 characters).
fn uid(specs: &[ServiceSpec], source: Source) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |s: &str| {
        for b in s.bytes().chain([0]) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for s in specs {
        feed(&s.service);
        for slo in &s.slos {
            feed(&slo.name);
        }
    }
    let source = match source {
        Source::Daemon => "daemon",
        Source::Rules => "rules",
    };
    format!("burnrate-{source}-{hash:016x}")
}

/// The dashboard of every SLO of `specs`; `buckets` as `burnrate rules --buckets` takes them
/// (latency contributors of the rules source read the same good bucket as the rules).
pub(crate) fn dashboard(
    specs: &[ServiceSpec],
    source: Source,
    buckets: &Buckets,
    title: Option<&str>,
) -> Value {
    let mut layout = Layout {
        panels: Vec::new(),
        next_id: 1,
        x: 0,
        y: 0,
        row_height: 0,
    };
    let groups = group_labels(specs);
    let instance_legend = format!("{{{{service}}}}/{{{{slo}}}} {}", legend(&groups))
        .trim()
        .to_string();
    let (burn_metric, budget_metric) = match source {
        Source::Daemon => (DAEMON_BURN, DAEMON_BUDGET),
        Source::Rules => (BURN_RATE_METRIC, BUDGET_METRIC),
    };
    let (decision_note, overview_decision) = match source {
        Source::Daemon => (
            "burnrate_decision of the daemon: what it decided, for and hold included.",
            daemon_decision(|m| services_selector(DAEMON_DECISION, specs, m)),
        ),
        Source::Rules => (
            "The most severe matrix rule whose condition holds on the recorded burn rates (the SLOBurnRate alerts' conditions, without for and hold).",
            specs
                .iter()
                .flat_map(|s| s.slos.iter().map(|slo| rules_decision(&s.service, slo)))
                .collect::<Vec<_>>()
                .join(" or "),
        ),
    };

    layout.row("Overview");
    let mut stat = state_timeline(
        "Decision now",
        decision_note,
        &overview_decision,
        &instance_legend,
    );
    stat["type"] = json!("stat");
    stat["options"] = json!({
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
        "colorMode": "background",
        "graphMode": "none",
        "textMode": "value_and_name",
        "justifyMode": "auto",
        "orientation": "auto",
    });
    layout.add(8, 8, stat);
    layout.add(
        16,
        8,
        state_timeline(
            "Decision over time",
            decision_note,
            &overview_decision,
            &instance_legend,
        ),
    );
    let mut overview_budget = budget_defaults();
    overview_budget["min"] = json!(-0.5);
    layout.add(
        24,
        7,
        json!({
            "type": "bargauge",
            "title": "Error budget remaining",
            "description": "Share of the period's error budget left per SLO and dimension (below 0 when overspent).",
            "datasource": datasource(),
            "targets": [target(&services_selector(budget_metric, specs, &[]), &format!("{instance_legend} {{{{dimension}}}}"), "A")],
            "fieldConfig": {"defaults": overview_budget, "overrides": []},
            "options": {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
                "orientation": "horizontal",
                "displayMode": "gradient",
                "showUnfilled": true,
            },
        }),
    );

    for spec in specs {
        for slo in &spec.slos {
            let service = spec.service.as_str();
            let scope = [("service", service), ("slo", slo.name.as_str())];
            layout.row(&format!("{service} / {}", slo.name));
            let group_legend = legend(&slo.group_by);
            for dim in slo.dimensions() {
                let rules = slo.matrix(dim).unwrap_or(&[]);
                let matrix: Vec<String> = rules
                    .iter()
                    .map(|r| match &r.short {
                        Some(short) => {
                            format!("{} at burn {} over {}/{short}", r.decision, r.burn, r.long)
                        }
                        None => format!("{} at burn {} over {}", r.decision, r.burn, r.long),
                    })
                    .collect();
                let expr = selector(
                    burn_metric,
                    &[scope[0], scope[1], ("dimension", dim.as_str())],
                );
                layout.add(
                    12,
                    8,
                    timeseries(
                        &format!("{} burn rate", dim.as_str()),
                        &format!(
                            "Burn rate per window (1 spends the whole budget over the period). Dashed lines: the matrix, {}.",
                            matrix.join("; ")
                        ),
                        vec![target(&expr, format!("{{{{window}}}} {group_legend}").trim(), "A")],
                        json!({
                            "unit": "none",
                            "color": {"mode": "palette-classic"},
                            "thresholds": rule_thresholds(rules),
                            "custom": {
                                "drawStyle": "line",
                                "lineWidth": 1,
                                "fillOpacity": 0,
                                "showPoints": "never",
                                "spanNulls": false,
                                "scaleDistribution": {"type": "log", "log": 10},
                                "thresholdsStyle": {"mode": "dashed"},
                            },
                        }),
                    ),
                );
            }
            let decision = match source {
                Source::Daemon => daemon_decision(|m| {
                    let mut all = scope.to_vec();
                    all.extend_from_slice(m);
                    selector(DAEMON_DECISION, &all)
                }),
                Source::Rules => rules_decision(service, slo),
            };
            let instance = if group_legend.is_empty() {
                slo.name.clone()
            } else {
                group_legend.clone()
            };
            layout.add(
                12,
                6,
                state_timeline("Decision", decision_note, &decision, &instance),
            );
            layout.add(
                12,
                6,
                timeseries(
                    "Error budget remaining",
                    "Share of the period's error budget left (below 0 when overspent).",
                    vec![target(
                        &selector(budget_metric, &scope),
                        format!("{{{{dimension}}}} {group_legend}").trim(),
                        "A",
                    )],
                    budget_defaults(),
                ),
            );
            for dim in slo.dimensions() {
                let Some(breakdown) = slo.breakdown(dim) else {
                    continue;
                };
                let contributor_legend = format!("{group_legend} {}", legend(&breakdown.labels))
                    .trim()
                    .to_string();
                let (expr, description) = match source {
                    Source::Daemon => (
                        selector(
                            DAEMON_CONTRIBUTOR,
                            &[scope[0], scope[1], ("dimension", dim.as_str())],
                        ),
                        "While the dimension is above ok: each breakdown label set's share of its bad events over the deciding rule's long window (the daemon's contributors).".to_string(),
                    ),
                    Source::Rules => match raw_contributors(slo, dim, buckets) {
                        Some((expr, window)) => (
                            expr,
                            format!("Each breakdown label set's share of the bad events over {window} (the most severe rule's long window), from the raw series."),
                        ),
                        None => continue,
                    },
                };
                layout.add(
                    12,
                    7,
                    timeseries(
                        &format!(
                            "{} contributors ({})",
                            dim.as_str(),
                            breakdown.labels.join(", ")
                        ),
                        &description,
                        vec![target(&expr, &contributor_legend, "A")],
                        json!({
                            "unit": "percentunit",
                            "min": 0,
                            "max": 1,
                            // Not stacked: with groups, each group's shares add up to 1 on their own.
                            "custom": {
                                "drawStyle": "line",
                                "fillOpacity": 10,
                                "showPoints": "never",
                            },
                        }),
                    ),
                );
            }
        }
    }

    let source_name = match source {
        Source::Daemon => "daemon metrics",
        Source::Rules => "recording rules",
    };
    let title = title.map(str::to_string).unwrap_or_else(|| {
        let mut services: Vec<&str> = specs.iter().map(|s| s.service.as_str()).collect();
        services.dedup();
        format!("burnrate SLOs: {} ({source_name})", services.join(", "))
    });
    json!({
        "title": title,
        "uid": uid(specs, source),
        "description": format!("Generated by `burnrate dashboard` on the {source_name}; regenerate instead of editing."),
        "tags": ["burnrate", "slo"],
        "timezone": "utc",
        "editable": true,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "fiscalYearStartMonth": 0,
        "liveNow": false,
        "links": [],
        "annotations": {"list": [{
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": true,
            "hide": true,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }]},
        "templating": {"list": [{
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
            "regex": "",
            "options": [],
            "includeAll": false,
            "multi": false,
        }]},
        "panels": layout.panels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every panel's title and query (`expr` of each target), in order.
    fn queries(dashboard: &Value) -> Vec<(String, String)> {
        dashboard["panels"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| {
                let title = p["title"].as_str().unwrap_or_default().to_string();
                p["targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(move |t| Some((title.clone(), t["expr"].as_str()?.to_string())))
            })
            .collect()
    }

    fn specs() -> Vec<ServiceSpec> {
        let report = crate::spec::load_paths(&[std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/slo-specs/map-update.yaml"
        ))]);
        assert!(!report.has_errors(), "{:?}", report.diagnostics);
        report.specs
    }

    #[test]
    fn every_query_parses_and_reads_the_sources_series() {
        for source in [Source::Daemon, Source::Rules] {
            let d = dashboard(&specs(), source, &Buckets::default(), None);
            assert_eq!(d["schemaVersion"], 39);
            assert_eq!(d["templating"]["list"][0]["type"], "datasource");
            let qs = queries(&d);
            assert!(qs.len() >= 8, "{qs:?}");
            for (title, q) in &qs {
                promql_parser::parser::parse(q)
                    .unwrap_or_else(|e| panic!("{source:?} {title}: {e}\n{q}"));
            }
            let ids: std::collections::BTreeSet<u64> = d["panels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_u64().unwrap())
                .collect();
            assert_eq!(
                ids.len(),
                d["panels"].as_array().unwrap().len(),
                "unique ids"
            );
            let burn = match source {
                Source::Daemon => DAEMON_BURN,
                Source::Rules => BURN_RATE_METRIC,
            };
            assert!(qs.iter().any(|(_, q)| q.contains(burn)));
            assert!(qs.iter().any(|(t, _)| t.contains("contributors")));
        }
    }

    #[test]
    fn the_daemon_exports_what_the_dashboard_reads() {
        let eval: crate::engine::Evaluation = serde_json::from_value(json!({
            "time": "2026-11-17T10:00:00Z", "service": "s", "slo": "x", "labels": {},
            "decision": "warn",
            "error": {
                "decision": "warn", "objective": 0.99, "burn": {"5m": 2.0},
                "events": {"5m": 100.0}, "no_traffic": [], "fired": [], "pending": [],
                "budget_remaining": 0.5,
                "contributors": {"window": "5m", "top": [
                    {"labels": {"error_class": "timeout"}, "bad_share": 1.0, "burn": 2.0}
                ]}
            }
        }))
        .unwrap();
        let metrics = crate::daemon::metrics::Metrics::new();
        metrics.record(&eval);
        let text = metrics.encode();
        assert!(
            text.contains(r#"burnrate_contributor_bad_share{service="s",slo="x",dimension="error",window="5m",error_class="timeout"} 1"#),
            "{text}"
        );
        for name in [
            DAEMON_BURN,
            DAEMON_BUDGET,
            DAEMON_DECISION,
            DAEMON_CONTRIBUTOR,
        ] {
            assert!(text.contains(&format!("# TYPE {name} gauge")), "{name}");
        }
    }
}
