//! `burnrate rules`: Prometheus recording and alerting rules equivalent to the specs.
//!
//! One rule group per SLO (`burnrate-<service>-<slo>`), in this order:
//! - `burnrate:burn_rate:ratio{service,slo,dimension,window}` + the spec's labels, for every
//!   window the matrix uses, with the engine's arithmetic (`expr.rs`);
//! - `burnrate:error_budget_remaining:ratio{service,slo,dimension}`;
//! - `SLOBurnRate` per dimension and decision level, on the recording rules above (a group's
//!   rules are evaluated in order at one timestamp, so the alerts see this cycle's burns).
//!
//! With `group_by`, every expression sums by the group labels, so each rule yields one series
//! per group and the group labels stay on the recorded series and the alerts.
//!
//! `for` maps to the alerts' `for`; `hold` has no ruler equivalent (Alertmanager's timers,
//! or `keep_firing_for` on Prometheus >= 2.42 with `--keep-firing-for`).

pub(crate) mod expr;
pub(crate) mod le;
pub(crate) mod unittest;
pub mod yaml;

use crate::decision::Decision;
use crate::duration::PromDuration;
use crate::spec::selector::Selector;
use crate::spec::{Dimension, ErrorEvents, ServiceSpec, SloSpec};
use expr::Good;
use std::collections::{BTreeMap, HashMap};

pub const BURN_RATE_METRIC: &str = "burnrate:burn_rate:ratio";
pub(crate) const BUDGET_METRIC: &str = "burnrate:error_budget_remaining:ratio";
pub(crate) const ALERT_NAME: &str = "SLOBurnRate";

/// Bucket bounds of histograms, from `--buckets [HISTOGRAM=]LE,LE,...`.
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    default: Option<Vec<f64>>,
    by_histogram: BTreeMap<String, Vec<f64>>,
}

impl Buckets {
    /// Adds one `--buckets` value: `0.005,0.01,0.025` (every histogram without its own
    /// list) or `http_request_duration_seconds=0.1,0.25,0.5`.
    pub fn add(&mut self, arg: &str) -> Result<(), String> {
        let (name, list) = match arg.split_once('=') {
            Some((name, list)) => (Some(name.trim()), list),
            None => (None, arg),
        };
        let mut bounds = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let b = match item {
                "+Inf" | "Inf" | "inf" | "+inf" => f64::INFINITY,
                _ => item
                    .parse::<f64>()
                    .ok()
                    .filter(|b| b.is_finite())
                    .ok_or_else(|| format!("--buckets {arg:?}: {item:?} is not a number"))?,
            };
            if b.is_finite() {
                bounds.push(b);
            }
        }
        if bounds.is_empty() {
            return Err(format!("--buckets {arg:?}: no finite bound"));
        }
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        match name {
            Some("") => return Err(format!("--buckets {arg:?}: empty histogram name")),
            Some(name) => {
                if self.by_histogram.insert(name.to_string(), bounds).is_some() {
                    return Err(format!("--buckets: {name} given twice"));
                }
            }
            None => {
                if self.default.replace(bounds).is_some() {
                    return Err("--buckets: default bounds (without a name) given twice".into());
                }
            }
        }
        Ok(())
    }

    /// The bounds of the histogram with this base metric name, if known.
    pub(crate) fn for_histogram(&self, name: &str) -> Option<&[f64]> {
        self.by_histogram
            .get(name)
            .or(self.default.as_ref())
            .map(Vec::as_slice)
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// The rule groups' evaluation interval.
    pub interval: PromDuration,
    pub buckets: Buckets,
    /// Emit `keep_firing_for: <hold>` on alerts (Prometheus >= 2.42).
    pub keep_firing_for: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            interval: PromDuration::parse("30s").expect("valid"),
            buckets: Buckets::default(),
            keep_firing_for: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    pub(crate) name: String,
    pub(crate) interval: PromDuration,
    /// Written as YAML comments above the group.
    pub(crate) comments: Vec<String>,
    pub(crate) service: String,
    pub(crate) slo: String,
    pub rules: Vec<RuleDef>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RuleDef {
    Record(RecordingRule),
    Alert(AlertingRule),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRule {
    pub record: String,
    pub expr: String,
    pub(crate) labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertingRule {
    pub(crate) alert: String,
    pub(crate) expr: String,
    pub(crate) for_: Option<PromDuration>,
    pub(crate) keep_firing_for: Option<PromDuration>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
}

/// Text that Prometheus's alert templating must print as is: `{{` is written as the
/// template action `{{ "{{" }}`.
pub(crate) fn template_literal(text: &str) -> String {
    text.replace("{{", r#"{{ "{{" }}"#)
}

/// A Go (template) string literal.
fn go_string(text: &str) -> String {
    crate::yaml_out::double_quoted(text)
}

/// A template printing the single value of the series `selector` with `format`, or `null`.
/// With groups, the selector also matches the alert's own group labels (`$labels.cluster`),
/// so each group's alert shows its own burns.
fn query_value(selector: &Selector, group_by: &[String], format: &str) -> String {
    let query = if group_by.is_empty() {
        go_string(&selector.to_promql())
    } else {
        let text = selector.to_promql();
        let open = text
            .strip_suffix('}')
            .expect("a selector with matchers ends with }");
        let mut fmt = open.replace('%', "%%");
        let mut args = String::new();
        for label in group_by {
            fmt.push_str(&format!(",{label}=%q"));
            args.push_str(&format!(" $labels.{label}"));
        }
        fmt.push('}');
        format!("(printf {}{args})", go_string(&fmt))
    };
    format!(
        "{{{{ with query {query} }}}}{{{{ . | first | value | printf {} }}}}{{{{ else }}}}null{{{{ end }}}}",
        go_string(format)
    )
}

/// How an alert names its group in text: ` {cluster="eu1"}` from the alert's labels, or
/// nothing without groups.
fn group_text(group_by: &[String]) -> String {
    if group_by.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = group_by
        .iter()
        .map(|l| format!("{l}=\"{{{{ $labels.{l} }}}}\""))
        .collect();
    format!(" {{{}}}", pairs.join(","))
}

/// The decision levels of a matrix, least severe first, each with its rules.
pub(crate) fn levels<'s>(slo: &'s SloSpec, dim: Dimension) -> Vec<Level<'s>> {
    let rules = slo.matrix(dim).unwrap_or(&[]);
    let mut out: Vec<Level<'s>> = Vec::new();
    for decision in Decision::ACTIONS {
        for rule in rules.iter().filter(|r| r.decision == decision) {
            let wait = rule.wait(slo);
            match out
                .iter_mut()
                .find(|l| l.decision == decision && l.wait.millis() == wait.millis())
            {
                Some(level) => level.rules.push(rule),
                None => out.push(Level {
                    decision,
                    wait,
                    rules: vec![rule],
                    split: false,
                }),
            }
        }
    }
    // Alerts of one decision with different `for`s would record the same ALERTS series:
    // each carries its `for` as a label.
    for i in 0..out.len() {
        out[i].split = out.iter().filter(|l| l.decision == out[i].decision).count() > 1;
    }
    out
}

/// The rules of one decision that wait the same `for`: one alerting rule.
pub(crate) struct Level<'s> {
    pub(crate) decision: Decision,
    pub(crate) wait: &'s PromDuration,
    pub(crate) rules: Vec<&'s crate::spec::Rule>,
    /// Whether other rules of the decision wait another `for` (the alert then carries the
    /// label `burnrate_for`).
    pub(crate) split: bool,
}

/// How the latency SLI of `slo` reads its good events.
pub(crate) fn latency_good(slo: &SloSpec, buckets: &Buckets) -> Option<Good> {
    let latency = slo.latency.as_ref()?;
    if latency.is_native() {
        return Some(Good::Fraction {
            threshold: latency.threshold_seconds(),
        });
    }
    let name = latency.histogram.metric.as_deref().unwrap_or_default();
    Some(Good::plan(
        latency.threshold_seconds(),
        buckets.for_histogram(name),
    ))
}

pub(crate) fn describe_rules(
    slo: &SloSpec,
    dim: Dimension,
    rules: &[&crate::spec::Rule],
    wait: &PromDuration,
) -> String {
    let parts: Vec<String> = rules
        .iter()
        .map(|r| match &r.short {
            Some(short) => format!("burn >= {} over {} and {short}", r.burn, r.long),
            None => format!("burn >= {} over {}", r.burn, r.long),
        })
        .collect();
    let mut text = format!("{} SLI {}", dim.as_str(), parts.join(", or "));
    if let Some(min) = slo.min_events {
        text.push_str(&format!(", with at least {min} events in the long window"));
    }
    if wait.millis() > 0 {
        text.push_str(&format!(", for {wait}"));
    }
    text
}

/// The rule group of one SLO.
pub(crate) fn slo_group(spec: &ServiceSpec, slo: &SloSpec, opts: &Options) -> RuleGroup {
    let service = spec.service.as_str();
    let mut comments = vec![format!(
        "{service}/{}: {}",
        slo.name,
        slo.description.as_deref().unwrap_or("SLO")
    )];
    let good = latency_good(slo, &opts.buckets);
    if let (Some(latency), Some(good)) = (&slo.latency, &good) {
        let t = latency.threshold_seconds();
        comments.push(match good {
            Good::Bound(le) if opts.buckets.for_histogram(latency.histogram.metric.as_deref().unwrap_or_default()).is_none() => format!(
                "latency: threshold {t}s read from the bucket le={le} (assumed to be a bound; pass --buckets to interpolate otherwise)"
            ),
            Good::Bound(le) => format!("latency: threshold {t}s read from the bucket le={le}"),
            Good::Interpolated { lower, upper, .. } => format!(
                "latency: threshold {t}s interpolated between the buckets le={} and le={upper}",
                lower.unwrap_or(0.0)
            ),
            Good::Fraction { .. } => format!(
                "latency: native histogram, histogram_fraction(0, {t}, ...) of its summed rate"
            ),
        });
    }
    if let Some(error) = &slo.error
        && matches!(error.events, ErrorEvents::Queries { .. })
    {
        comments.push("error: raw bad_query/total_query, each wrapped in sum()".into());
    }
    // Both act on burnrate's own decisions; a ruler cannot know them.
    if let Some(policy) = &slo.no_data {
        comments.push(format!(
            "no_data (after {}: {}) is burnrate's own decision: these rules do not fire on missing data (alert on absent() if silence must page)",
            policy.after, policy.decision
        ));
    }
    if !slo.maintenance.is_empty() {
        comments.push(format!(
            "maintenance ({} window(s)) is burnrate's own: these rules fire during it (use Alertmanager silences)",
            slo.maintenance.len()
        ));
    }
    if slo.hold.millis() > 0 && !opts.keep_firing_for {
        comments.push(format!(
            "hold {} has no ruler equivalent: use Alertmanager's timers (or --keep-firing-for)",
            slo.hold
        ));
    }

    let base_labels = |dim: Dimension| {
        let mut labels = spec.labels.clone();
        labels.insert("service".into(), service.to_string());
        labels.insert("slo".into(), slo.name.clone());
        labels.insert("dimension".into(), dim.as_str().into());
        labels
    };
    let good = good.unwrap_or(Good::Bound(0.0));
    let mut rules = Vec::new();
    for dim in slo.dimensions() {
        for w in slo.windows(dim) {
            let mut labels = base_labels(dim);
            labels.insert("window".into(), w.to_string());
            rules.push(RuleDef::Record(RecordingRule {
                record: BURN_RATE_METRIC.into(),
                expr: expr::burn_rate(slo, dim, &good, &w),
                labels,
            }));
        }
        rules.push(RuleDef::Record(RecordingRule {
            record: BUDGET_METRIC.into(),
            expr: expr::budget_remaining(slo, dim, &good),
            labels: base_labels(dim),
        }));
    }
    for dim in slo.dimensions() {
        let windows = slo.windows(dim);
        let burn_rates: Vec<String> = windows
            .iter()
            .map(|w| {
                let series = expr::burn_series(service, &slo.name, dim, w);
                format!(
                    "{}={}",
                    template_literal(w.as_str()),
                    query_value(&series, &slo.group_by, "%.3f")
                )
            })
            .collect();
        let budget = query_value(
            &expr::budget_series(service, &slo.name, dim),
            &slo.group_by,
            "%.4f",
        );
        for level in levels(slo, dim) {
            let decision = level.decision;
            let level_rules = &level.rules;
            let mut labels: BTreeMap<String, String> = base_labels(dim)
                .into_iter()
                .map(|(k, v)| (k, template_literal(&v)))
                .collect();
            labels.insert("decision".into(), decision.as_str().into());
            if level.split {
                labels.insert("burnrate_for".into(), level.wait.to_string());
            }
            let annotations = BTreeMap::from([
                (
                    "summary".to_string(),
                    format!(
                        "{}{}{}",
                        template_literal(&format!("{service}/{}", slo.name)),
                        group_text(&slo.group_by),
                        template_literal(&format!(" is {decision} ({})", dim.as_str()))
                    ),
                ),
                (
                    "description".to_string(),
                    template_literal(&describe_rules(slo, dim, level_rules, level.wait)),
                ),
                ("burn_rates".to_string(), burn_rates.join(" ")),
                ("budget_remaining".to_string(), budget.clone()),
            ]);
            rules.push(RuleDef::Alert(AlertingRule {
                alert: ALERT_NAME.into(),
                expr: expr::level_alert(service, slo, dim, level_rules),
                for_: (level.wait.millis() > 0).then(|| level.wait.clone()),
                keep_firing_for: (opts.keep_firing_for && slo.hold.millis() > 0)
                    .then(|| slo.hold.clone()),
                labels,
                annotations,
            }));
        }
    }
    RuleGroup {
        name: format!("burnrate-{service}-{}", slo.name),
        interval: opts.interval.clone(),
        comments,
        service: service.to_string(),
        slo: slo.name.clone(),
        rules,
    }
}

/// Every SLO's rule group, in spec order. Fails when two specs define the same service and
/// SLO (their series and group names would collide).
pub fn groups(specs: &[ServiceSpec], opts: &Options) -> Result<Vec<RuleGroup>, Vec<String>> {
    let mut seen: BTreeMap<(String, String), &std::path::Path> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut out: Vec<RuleGroup> = Vec::new();
    // Group name to its index in `out`: a lookup per SLO, not a scan of every group.
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for spec in specs {
        for slo in &spec.slos {
            let key = (spec.service.clone(), slo.name.clone());
            if let Some(first) = seen.get(&key) {
                errors.push(format!(
                    "{}: service {:?} SLO {:?} is already defined in {}: its rules would collide",
                    spec.file.display(),
                    spec.service,
                    slo.name,
                    first.display()
                ));
                continue;
            }
            seen.insert(key, &spec.file);
            let group = slo_group(spec, slo, opts);
            if let Some(other) = by_name.get(&group.name).map(|&i| &out[i]) {
                errors.push(format!(
                    "{}: the rule group of service {:?} SLO {:?} would be named {:?}, as the one \
                     of service {:?} SLO {:?}: rename one",
                    spec.file.display(),
                    spec.service,
                    slo.name,
                    group.name,
                    other.service,
                    other.slo
                ));
                continue;
            }
            by_name.insert(group.name.clone(), out.len());
            out.push(group);
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
