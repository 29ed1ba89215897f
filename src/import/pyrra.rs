//! Pyrra `ServiceLevelObjective`s (`apiVersion: pyrra.dev/v1alpha1`), one per YAML document,
//! as Pyrra reads them from files or Kubernetes (pyrra-dev/pyrra 1ba95afb:
//! `kubernetes/api/v1alpha1/servicelevelobjective_types.go`, `slo/rules.go`).
//!
//! Mapping (see the README, "Importing Sloth, OpenSLO and Pyrra specs"):
//! - `metadata.name` is the SLO name; the service is the `pyrra.dev/service` label, else
//!   `metadata.namespace`, else `default` (the namespace Kubernetes gives an object without
//!   one), so the SLOs of a namespace form one burnrate service across files.
//! - `spec.target` (a percentage, as text) is the objective; `spec.window` the period.
//! - Every indicator becomes the ratio Pyrra's `Burnrate()` computes, so burns equal its
//!   recording rules divided by `1 - target`:
//!   - `ratio`: `sum(rate(errors[w])) / sum(rate(total[w]))`, burnrate's `bad`/`total`
//!     selectors;
//!   - `latency`: `(sum(rate(total[w])) - sum(rate(success[w]))) / sum(rate(total[w]))` over
//!     `X_count` and the bucket `X_bucket{le="L"}`: burnrate's histogram latency at
//!     threshold `L` with quantile = target, when the two select the same series of one
//!     histogram; otherwise (Pyrra allows any two selectors) those queries as they are;
//!   - `bool_gauge`: `(sum(count_over_time(M[w])) - sum(sum_over_time(M[w]))) /
//!     sum(count_over_time(M[w]))`, as raw queries the local evaluator runs;
//!   - `latencyNative`: `1 - histogram_fraction(0, L, sum(rate(M[w])))`: burnrate's
//!     native-histogram latency (`native_histogram: M`, threshold `L`, quantile = target),
//!     which the backend measures; when its groups are relabelled, that ratio as a raw
//!     error ratio.
//!
//!   `grouping` (`sum by (...)` in every one of them) becomes `group_by`; a grouping label
//!   burnrate sets itself (`service`, ...) is reported as `exported_NAME`, through
//!   `label_replace` in raw queries.
//! - Alerts: `matrix: {preset: pyrra}`, Pyrra's four tiers at the SLO's window with their
//!   `for` (`spec::presets`); `alerting.burnrates: false` (or the deprecated `disabled:
//!   true`) an SLO without rules. Alert names, severities, absent alerts and the labels
//!   that only select the object are warned about or noted: they change no burn or tier.
//! - `pyrra.dev/NAME` labels are the labels Pyrra puts on its rules (prefix stripped):
//!   service labels when every SLO of the service has them (`common_labels`).
//!
//! Pyrra rejects unknown fields (its file reader is strict, and so is a Kubernetes CRD
//! schema), so they are errors here too.

use super::emit::{Events, MatrixDoc, Origin, ServiceDoc, SloDoc, Val, origin};
use super::{LabelSet, Member, by_service, promql};
use crate::duration::PromDuration;
use crate::spec::HistogramKind;
use crate::spec::WINDOW_PLACEHOLDER;
use crate::spec::fields::{Sink, get, join};
use crate::spec::load::is_reserved_group_label;
use crate::spec::selector::{MatchOp, Matcher, Selector, parse_selector};
use crate::spec::yaml::{Node, Value};
use std::path::{Path, PathBuf};

const API_GROUP: &str = "pyrra.dev/";
const API_VERSION: &str = "pyrra.dev/v1alpha1";
const KIND: &str = "ServiceLevelObjective";
/// Labels with this prefix are copied onto Pyrra's rules without it (`slo.PropagationLabelsPrefix`).
const LABEL_PREFIX: &str = "pyrra.dev/";
/// The label naming the burnrate service (Pyrra itself has no services).
const SERVICE_LABEL: &str = "pyrra.dev/service";
/// The service of an object without the label or a namespace.
const DEFAULT_SERVICE: &str = "default";
const STRICT: &str = "Pyrra rejects it too";
const FLAVOUR: &str = "Pyrra pyrra.dev/v1alpha1 ServiceLevelObjective";

/// `metav1.ObjectMeta`: what Kubernetes may write into `metadata`. Only `name`,
/// `namespace`, `labels` and `annotations` mean anything to Pyrra.
const OBJECT_META: [&str; 15] = [
    "name",
    "namespace",
    "labels",
    "annotations",
    "generateName",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Translates every Pyrra object of the files, one document per service.
pub(crate) fn translate(
    files: &[(PathBuf, Vec<Node>)],
    sink: &mut Sink,
) -> Vec<(ServiceDoc, bool)> {
    let mut members = Vec::new();
    for (file, docs) in files {
        for doc in docs {
            if matches!(doc.value, Value::Null) {
                continue;
            }
            members.extend(translate_object(file, doc, sink));
        }
    }
    let notes = [
        "alerting: Pyrra's multi-window alerts as the pyrra preset: its four tiers at the SLO's \
         window (critical 14x and 7x -> circuit_break, warning 2x and 1x -> warn, each with \
         Pyrra's `for`). Pyrra fires on burn > factor, burnrate on burn >= factor; the alert is \
         burnrate's SLOBurnRate, not ErrorBudgetBurn."
            .to_string(),
        "Pyrra's absent alerts (SLOMetricAbsent) have no rule here: an SLI without series \
         decides no_data (a no_data policy escalates it)."
            .to_string(),
        format!(
            "service: the {SERVICE_LABEL} label, else the namespace, else {DEFAULT_SERVICE:?}."
        ),
    ];
    by_service(members, FLAVOUR, &notes, sink)
}

/// One document: a `ServiceLevelObjective`, or an error.
fn translate_object(file: &Path, doc: &Node, sink: &mut Sink) -> Option<Member> {
    let errors_before = sink.errors();
    sink.map(file, doc, "")?;
    let api_node = sink.required(file, doc, "apiVersion", "apiVersion")?;
    let api = sink.string(file, api_node, "apiVersion")?;
    if api != API_VERSION {
        let why = if api.starts_with(API_GROUP) {
            format!("Pyrra {api:?} is not supported (only {API_VERSION:?})")
        } else {
            format!(
                "a file of Pyrra objects holds only {API_VERSION:?} documents, got {api:?} (a \
                 burnrate/v1 spec goes in its own file)"
            )
        };
        sink.error(file, api_node.pos, "apiVersion", why);
        return None;
    }
    let kind_node = sink.required(file, doc, "kind", "kind")?;
    let kind = sink.string(file, kind_node, "kind")?;
    if kind != KIND {
        sink.error(
            file,
            kind_node.pos,
            "kind",
            format!("Pyrra kind {kind:?} is not an SLO (expected {KIND})"),
        );
        return None;
    }
    sink.unknown_fields(
        file,
        doc,
        "",
        &["apiVersion", "kind", "metadata", "spec", "status"],
        STRICT,
    );
    let meta = sink.required(file, doc, "metadata", "metadata")?;
    sink.map(file, meta, "metadata")?;
    sink.unknown_fields(file, meta, "metadata", &OBJECT_META, STRICT);
    let name_node = sink.required(file, meta, "name", "metadata.name")?;
    let name = Val::new(
        sink.string(file, name_node, "metadata.name")?,
        origin(file, name_node, "metadata.name"),
    );
    let (labels, service_label) = read_labels(file, meta, sink);
    annotations(file, meta, sink);
    let service = match service_label {
        Some(s) => s,
        None => match get(meta, "namespace") {
            Some(n) => Val::new(
                sink.string(file, n, "metadata.namespace")?,
                origin(file, n, "metadata.namespace"),
            ),
            None => {
                sink.warning(
                    file,
                    name_node.pos,
                    "metadata.namespace",
                    format!(
                        "no namespace and no {SERVICE_LABEL} label: the SLO belongs to service \
                         {DEFAULT_SERVICE:?} (the namespace Kubernetes would give it)"
                    ),
                );
                Val::new(DEFAULT_SERVICE, origin(file, name_node, "metadata.name"))
            }
        },
    };

    let slo = sink
        .required(file, doc, "spec", "spec")
        .and_then(|spec| translate_spec(file, spec, name, sink));
    let ok = sink.errors() == errors_before;
    Some(Member {
        service,
        labels,
        slos: slo.into_iter().collect(),
        ok,
    })
}

/// `metadata.labels`: the `pyrra.dev/` ones (prefix stripped) and the service label; the
/// others only select the object (a PrometheusRule's owner, a Prometheus's rule selector).
fn read_labels(file: &Path, meta: &Node, sink: &mut Sink) -> (Option<LabelSet>, Option<Val>) {
    let Some(node) = get(meta, "labels") else {
        return (None, None);
    };
    let path = "metadata.labels";
    let Some(items) = sink.map(file, node, path) else {
        return (None, None);
    };
    let mut labels = Vec::new();
    let mut service = None;
    let mut others = Vec::new();
    for (k, v) in items {
        let key = k.as_scalar().unwrap_or_default();
        let field = join(path, key);
        let Some(value) = sink.string(file, v, &field) else {
            continue;
        };
        if key == SERVICE_LABEL {
            service = Some(Val::new(value, origin(file, v, &field)));
        } else if let Some(name) = key.strip_prefix(LABEL_PREFIX) {
            labels.push((
                Val::new(name, origin(file, k, &field)),
                Val::new(value, origin(file, v, &field)),
            ));
        } else {
            others.push(key.to_string());
        }
    }
    if !others.is_empty() {
        sink.warning(
            file,
            node.pos,
            path,
            format!(
                "not converted: {} (Pyrra puts only {LABEL_PREFIX} labels on its rules; these \
                 label the object)",
                others.join(", ")
            ),
        );
    }
    let set = (!labels.is_empty()).then(|| LabelSet {
        labels,
        from: origin(file, node, path),
    });
    (set, service)
}

/// `pyrra.dev/` annotations become annotations of Pyrra's alerts; burnrate's have their own.
fn annotations(file: &Path, meta: &Node, sink: &mut Sink) {
    let Some(node) = get(meta, "annotations") else {
        return;
    };
    let path = "metadata.annotations";
    let Some(items) = sink.map(file, node, path) else {
        return;
    };
    let propagated: Vec<&str> = items
        .iter()
        .filter_map(|(k, _)| k.as_scalar())
        .filter(|k| k.starts_with(LABEL_PREFIX))
        .collect();
    if !propagated.is_empty() {
        sink.warning(
            file,
            node.pos,
            path,
            format!(
                "not converted: {} (Pyrra copies them onto its alerts; burnrate's SLOBurnRate \
                 alerts carry their own annotations)",
                propagated.join(", ")
            ),
        );
    }
}

fn translate_spec(file: &Path, spec: &Node, name: Val, sink: &mut Sink) -> Option<SloDoc> {
    sink.map(file, spec, "spec")?;
    sink.unknown_fields(
        file,
        spec,
        "spec",
        &[
            "description",
            "target",
            "window",
            "indicator",
            "alerting",
            "partial_response_strategy",
            "performanceOverAccuracy",
            "ruleOutput",
        ],
        STRICT,
    );
    let description = get(spec, "description").and_then(|n| match n.as_scalar() {
        Some(text) if text.trim().is_empty() => None,
        _ => sink
            .string(file, n, "spec.description")
            .map(|s| Val::new(s.trim_end(), origin(file, n, "spec.description"))),
    });
    let objective = sink
        .required(file, spec, "target", "spec.target")
        .and_then(|n| target(file, n, sink));
    let window = sink
        .required(file, spec, "window", "spec.window")
        .and_then(|n| {
            let text = sink.string(file, n, "spec.window")?;
            match PromDuration::parse(text.trim()) {
                Ok(_) => Some(Val::new(text.trim(), origin(file, n, "spec.window"))),
                Err(e) => {
                    sink.error(file, n.pos, "spec.window", e);
                    None
                }
            }
        });
    for (key, why) in [
        (
            "partial_response_strategy",
            "Thanos Ruler's partial response strategy for Pyrra's rules",
        ),
        (
            "performanceOverAccuracy",
            "it changes how Pyrra records the window's totals, not its burn rates",
        ),
        (
            "ruleOutput",
            "labels of the PrometheusRule objects Pyrra writes",
        ),
    ] {
        if let Some(n) = get(spec, key) {
            let field = join("spec", key);
            sink.warning(file, n.pos, &field, format!("not converted: {why}"));
        }
    }
    let mut notes = Vec::new();
    let sli = sink
        .required(file, spec, "indicator", "spec.indicator")
        .and_then(|n| indicator(file, n, sink, &mut notes));
    let matrix = alerting(file, spec, window.as_ref(), sink);
    let (events, group_by) = sli?;
    Some(SloDoc {
        from: origin(file, spec, "spec"),
        notes,
        name,
        description,
        period: window?,
        objective: objective?,
        events,
        group_by,
        matrix: matrix?,
        for_: None,
    })
}

/// `spec.target`: Pyrra's percentage string (a plain number is taken too).
fn target(file: &Path, node: &Node, sink: &mut Sink) -> Option<Val> {
    let field = "spec.target";
    let Some(text) = node.as_scalar().map(str::trim) else {
        return sink.expected_kind(file, node, field, "a percentage such as \"99.5\"");
    };
    let Some(v) = text.parse::<f64>().ok().filter(|v| v.is_finite()) else {
        return sink.expected(
            file,
            node,
            field,
            "a percentage such as \"99.5\"",
            &format!("{text:?}"),
        );
    };
    if !(v > 0.0 && v < 100.0) {
        sink.error(
            file,
            node.pos,
            field,
            format!(
                "must be a percentage strictly between 0 and 100, got {text} (a target of 100 \
                 leaves no error budget to burn)"
            ),
        );
        return None;
    }
    if v < 1.0 {
        // Pyrra's own warning: a ratio written where a percentage belongs.
        sink.warning(
            file,
            node.pos,
            field,
            format!(
                "target is from 0-100 ({}), not 0-1 ({text}): taken as {text}%",
                v * 100.0
            ),
        );
    }
    Some(Val::new(text, origin(file, node, field)))
}

/// `spec.indicator`: the events and the `grouping`.
fn indicator(
    file: &Path,
    node: &Node,
    sink: &mut Sink,
    notes: &mut Vec<String>,
) -> Option<(Events, Vec<Val>)> {
    let path = "spec.indicator";
    sink.map(file, node, path)?;
    const KINDS: [&str; 4] = ["ratio", "latency", "latencyNative", "bool_gauge"];
    sink.unknown_fields(file, node, path, &KINDS, STRICT);
    let kinds: Vec<&str> = KINDS
        .into_iter()
        .filter(|k| get(node, k).is_some())
        .collect();
    if kinds.len() != 1 {
        let message = if kinds.is_empty() {
            "needs one of ratio, latency, latencyNative or bool_gauge".to_string()
        } else {
            format!(
                "holds {}: Pyrra measures only the first of them (and refuses ratio with \
                 latency); keep one",
                kinds.join(" and ")
            )
        };
        sink.error(file, node.pos, path, message);
        return None;
    }
    let kind = kinds[0];
    let field = join(path, kind);
    let sli = get(node, kind)?;
    sink.map(file, sli, &field)?;
    let known: &[&str] = match kind {
        "ratio" => &["errors", "total", "grouping"],
        "latency" => &["success", "total", "grouping"],
        "latencyNative" => &["total", "latency", "grouping"],
        _ => &["metric", "grouping"],
    };
    sink.unknown_fields(file, sli, &field, known, STRICT);
    let grouping = grouping(file, sli, &field, sink);
    let events = match kind {
        "ratio" => {
            let errors = metric(file, sli, &field, Some("errors"), sink);
            let total = metric(file, sli, &field, Some("total"), sink);
            let ((_, bad), (_, total)) = (errors?, total?);
            let g = grouping.as_ref()?;
            Some(if g.renamed.is_empty() {
                Events::Selectors { bad, total }
            } else {
                let rate = |sel: &Val| g.relabel(&g.sum(&over_window("rate", &sel.value)));
                Events::Queries {
                    bad: Val::new(rate(&bad), bad.from),
                    total: Val::new(rate(&total), total.from),
                }
            })
        }
        "latency" => {
            let success = metric(file, sli, &field, Some("success"), sink);
            let total = metric(file, sli, &field, Some("total"), sink);
            let (success, total) = (success?, total?);
            latency(file, &field, success, total, grouping.as_ref()?, sink)
        }
        "latencyNative" => {
            let total = metric(file, sli, &field, Some("total"), sink);
            let latency = native_latency(file, sli, &field, sink);
            let ((_, total), latency) = (total?, latency?);
            Some(native(
                file,
                &field,
                total,
                latency,
                grouping.as_ref()?,
                sink,
                notes,
            ))
        }
        _ => {
            let (_, gauge) = metric(file, sli, &field, None, sink)?;
            Some(bool_gauge(file, &field, gauge, grouping.as_ref()?, sink))
        }
    };
    Some((events?, grouping?.group_by()))
}

/// Pyrra's `grouping`: the labels its sums keep, and the names burnrate reports them under.
struct Grouping {
    /// As the series carry them (`sum by (...)`).
    labels: Vec<Val>,
    /// `(label, exported_label)` for each label burnrate sets itself (`service`, `slo`,
    /// ...): the queries copy it to the other name, as Prometheus renames a scraped label
    /// that collides with a target label.
    renamed: Vec<(String, String)>,
}

impl Grouping {
    /// `sum(E)`, or `sum by (G) (E)`.
    fn sum(&self, expr: &str) -> String {
        if self.labels.is_empty() {
            format!("sum({expr})")
        } else {
            let names: Vec<&str> = self.labels.iter().map(|g| g.value.as_str()).collect();
            format!("sum by ({}) ({expr})", names.join(", "))
        }
    }

    /// `expr` with each renamed label copied to its new name (`label_replace`).
    fn relabel(&self, expr: &str) -> String {
        let mut out = expr.to_string();
        for (from, to) in &self.renamed {
            out = format!(r#"label_replace({out}, "{to}", "$1", "{from}", "(.*)")"#);
        }
        out
    }

    /// The `group_by` labels: the renamed ones under their new names.
    fn group_by(&self) -> Vec<Val> {
        self.labels
            .iter()
            .map(
                |l| match self.renamed.iter().find(|(from, _)| *from == l.value) {
                    Some((_, to)) => Val::new(to.clone(), l.from.clone()),
                    None => l.clone(),
                },
            )
            .collect()
    }
}

/// `grouping`: label names, each once (Pyrra keeps a set of them).
fn grouping(file: &Path, sli: &Node, path: &str, sink: &mut Sink) -> Option<Grouping> {
    let mut g = Grouping {
        labels: Vec::new(),
        renamed: Vec::new(),
    };
    let Some(node) = get(sli, "grouping") else {
        return Some(g);
    };
    let field = join(path, "grouping");
    let items = sink.seq(file, node, &field)?;
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let Some(name) = sink.string(file, item, &f) else {
            ok = false;
            continue;
        };
        if g.labels.iter().any(|v| v.value == name) {
            sink.warning(
                file,
                item.pos,
                &f,
                format!("{name:?} is listed twice: taken once, as Pyrra does"),
            );
            continue;
        }
        if is_reserved_group_label(&name) {
            let to = format!("exported_{name}");
            sink.warning(
                file,
                item.pos,
                &f,
                format!(
                    "{name:?} is a label burnrate sets itself (on outputs, metrics and alerts): \
                     the groups are labelled {to:?} instead, as Prometheus renames a scraped \
                     label that collides with a target label (the SLI becomes raw queries; \
                     burns are Pyrra's)"
                ),
            );
            g.renamed.push((name.clone(), to));
        }
        g.labels.push(Val::new(name, origin(file, item, &f)));
    }
    ok.then_some(g)
}

/// `KEY.metric` (`metric` itself when `key` is `None`, as in `bool_gauge`): a selector, and
/// its text as written.
fn metric(
    file: &Path,
    parent: &Node,
    path: &str,
    key: Option<&str>,
    sink: &mut Sink,
) -> Option<(Selector, Val)> {
    let (query, path) = match key {
        Some(k) => {
            let field = join(path, k);
            let q = sink.required(file, parent, k, &field)?;
            sink.map(file, q, &field)?;
            sink.unknown_fields(file, q, &field, &["metric"], STRICT);
            (q, field)
        }
        None => (parent, path.to_string()),
    };
    let field = join(&path, "metric");
    let node = sink.required(file, query, "metric", &field)?;
    let text = sink.string(file, node, &field)?;
    match parse_selector(&text) {
        Ok(sel) => Some((sel, Val::new(text.trim(), origin(file, node, &field)))),
        Err(e) => {
            let quote = matches!(&node.value, Value::Scalar { quoted: true, .. });
            let mut pos = node.pos;
            pos.col += e.offset + usize::from(quote);
            sink.error(
                file,
                pos,
                &field,
                format!(
                    "not a PromQL selector: {} (Pyrra takes a metric selector here, like \
                     http_requests_total{{code=~\"5..\"}})",
                    e.message
                ),
            );
            None
        }
    }
}

/// `FUNC(SEL[{{.window}}])`.
fn over_window(func: &str, selector: &str) -> String {
    format!("{func}({selector}[{WINDOW_PLACEHOLDER}])")
}

/// Pyrra's latency indicator: burnrate's histogram latency when the success bucket and the
/// total are one histogram's `_bucket{le="L"}` and `_count` with the same matchers and `L`
/// is a whole number of milliseconds; Pyrra's own queries otherwise.
fn latency(
    file: &Path,
    path: &str,
    (success, success_text): (Selector, Val),
    (total, total_text): (Selector, Val),
    grouping: &Grouping,
    sink: &mut Sink,
) -> Option<Events> {
    let success_field = join(path, "success.metric");
    let le: Vec<&Matcher> = success
        .matchers
        .iter()
        .filter(|m| m.label == "le")
        .collect();
    let Some(le) = le.first() else {
        // Pyrra refuses it: without a bucket every request would be "fast".
        sink.error(
            file,
            success_text.from.pos,
            &success_field,
            "must select one bucket with a le matcher (le=\"0.1\"), as Pyrra requires",
        );
        return None;
    };
    if le.value.trim().parse::<f64>().is_err() {
        sink.error(
            file,
            success_text.from.pos,
            &success_field,
            format!(
                "le={:?} is not a number: Pyrra requires the bucket's bound",
                le.value
            ),
        );
        return None;
    }
    let histogram = match histogram_of(&success, &total, le) {
        Ok(_) if !grouping.renamed.is_empty() => {
            Err("its groups are relabelled, which takes queries (see the grouping)".to_string())
        }
        other => other,
    };
    let histogram = match histogram {
        Ok(h) => h,
        Err(why) => {
            sink.warning(
                file,
                success_text.from.pos,
                &success_field,
                format!(
                    "converted as Pyrra's queries (bad_query: total - success, total_query: \
                     total), not as a latency section: {why}"
                ),
            );
            let rate = |sel: &Val| grouping.sum(&over_window("rate", &sel.value));
            let bad = format!("{} - {}", rate(&total_text), rate(&success_text));
            return Some(Events::Queries {
                bad: Val::new(grouping.relabel(&bad), success_text.from.clone()),
                total: Val::new(grouping.relabel(&rate(&total_text)), total_text.from),
            });
        }
    };
    Some(Events::Histogram {
        histogram: Val::new(histogram.0.to_promql(), total_text.from),
        kind: HistogramKind::Classic,
        threshold: Val::new(histogram.1, success_text.from),
    })
}

/// The histogram (base name and matchers) and the threshold (a duration) the two selectors
/// are, or why they are not one histogram's bucket and count.
fn histogram_of(
    success: &Selector,
    total: &Selector,
    le: &Matcher,
) -> Result<(Selector, String), String> {
    let base = |sel: &Selector, suffix: &str| {
        sel.metric
            .as_deref()
            .and_then(|m| m.strip_suffix(suffix))
            .map(str::to_string)
    };
    let (Some(bucket), Some(count)) = (base(success, "_bucket"), base(total, "_count")) else {
        return Err(
            "the success metric is not a histogram's _bucket, or the total not its _count".into(),
        );
    };
    if bucket != count {
        return Err(format!(
            "they are different histograms ({bucket}_bucket and {count}_count)"
        ));
    }
    let key = |m: &&Matcher| (m.label.clone(), m.op.as_str(), m.value.clone());
    let mut s: Vec<&Matcher> = success
        .matchers
        .iter()
        .filter(|m| m.label != "le")
        .collect();
    let mut t: Vec<&Matcher> = total.matchers.iter().collect();
    s.sort_by_key(key);
    t.sort_by_key(key);
    if s != t {
        let only = |a: &[&Matcher], b: &[&Matcher]| -> Vec<String> {
            a.iter()
                .filter(|m| !b.contains(m))
                .map(|m| m.to_string())
                .collect()
        };
        let (in_success, in_total) = (only(&s, &t), only(&t, &s));
        let mut parts = Vec::new();
        if !in_success.is_empty() {
            parts.push(format!(
                "{} only on the success bucket",
                in_success.join(", ")
            ));
        }
        if !in_total.is_empty() {
            parts.push(format!("{} only on the total", in_total.join(", ")));
        }
        return Err(format!(
            "the two select different series ({}), and burnrate's latency section takes one \
             histogram selector",
            parts.join("; ")
        ));
    }
    if le.op != MatchOp::Equal {
        return Err(format!(
            "le{}{:?} is not one bucket bound",
            le.op.as_str(),
            le.value
        ));
    }
    let seconds: f64 = le.value.trim().parse().unwrap_or(f64::NAN);
    let millis = (seconds * 1000.0).round();
    if !(seconds > 0.0 && seconds.is_finite())
        || (millis / 1000.0 - seconds).abs() > 1e-9 * seconds
        || millis > 1e15
    {
        return Err(format!(
            "le={:?} is not a positive whole number of milliseconds, which a latency threshold \
             must be",
            le.value
        ));
    }
    Ok((
        Selector {
            metric: Some(bucket),
            matchers: total.matchers.clone(),
        },
        PromDuration::from_millis(millis as i64).to_string(),
    ))
}

/// `latencyNative.latency`: the duration requests should be faster than, and its origin.
fn native_latency(
    file: &Path,
    sli: &Node,
    path: &str,
    sink: &mut Sink,
) -> Option<(PromDuration, Origin)> {
    let field = join(path, "latency");
    let node = sink.required(file, sli, "latency", &field)?;
    let text = sink.string(file, node, &field)?;
    match PromDuration::parse(text.trim()) {
        Ok(d) => Some((d, origin(file, node, &field))),
        Err(e) => {
            sink.error(file, node.pos, &field, e);
            None
        }
    }
}

/// Pyrra's native-histogram ratio: burnrate's native-histogram latency section, or, when
/// the groups are relabelled (which a section cannot do), that ratio as a raw error ratio
/// (as Sloth's raw SLIs are imported).
fn native(
    file: &Path,
    path: &str,
    total: Val,
    (latency, latency_from): (PromDuration, Origin),
    grouping: &Grouping,
    sink: &mut Sink,
    notes: &mut Vec<String>,
) -> Events {
    if grouping.renamed.is_empty() {
        return Events::Histogram {
            histogram: total,
            kind: HistogramKind::Native,
            threshold: Val::new(latency.to_string(), latency_from),
        };
    }
    let ratio = grouping.relabel(&format!(
        "1 - histogram_fraction(0, {}, {})",
        latency.seconds(),
        grouping.sum(&over_window("rate", &total.value))
    ));
    sink.warning(
        file,
        total.from.pos,
        &join(path, "total.metric"),
        "native histogram converted as Pyrra's own error ratio (1 - histogram_fraction(...)) in \
         bad_query, with total_query 1 wherever it is a number, not as a native_histogram \
         latency section: its groups are relabelled, which takes queries (see the grouping); \
         burns equal Pyrra's, but the SLI has no event counts",
    );
    notes.push(
        "Pyrra latencyNative: bad_query is Pyrra's error ratio itself and total_query is 1 \
         wherever the ratio is a number, so bad/total is the ratio."
            .to_string(),
    );
    Events::Queries {
        total: Val::new(promql::ratio_total(&ratio), total.from.clone()),
        bad: Val::new(ratio, total.from),
    }
}

/// Pyrra's boolean gauge: a sample of 1 is a good event, any other value a bad one.
fn bool_gauge(file: &Path, path: &str, gauge: Val, grouping: &Grouping, sink: &mut Sink) -> Events {
    let count = grouping.sum(&over_window("count_over_time", &gauge.value));
    let good = grouping.sum(&over_window("sum_over_time", &gauge.value));
    sink.warning(
        file,
        gauge.from.pos,
        &join(path, "metric"),
        "boolean gauge converted as bad_query: count - sum, total_query: count of its samples \
         over each window: burns equal Pyrra's, but burnrate's `events` are those sample counts \
         times the window's seconds (so do not add min_events)",
    );
    Events::Queries {
        bad: Val::new(
            grouping.relabel(&format!("{count} - {good}")),
            gauge.from.clone(),
        ),
        total: Val::new(grouping.relabel(&count), gauge.from),
    }
}

/// `spec.alerting`: the pyrra preset, or no rule when Pyrra generates no burn-rate alert.
fn alerting(file: &Path, spec: &Node, window: Option<&Val>, sink: &mut Sink) -> Option<MatrixDoc> {
    let path = "spec.alerting";
    let node = get(spec, "alerting");
    let mut burnrates = true;
    let mut from: Option<Origin> = None;
    if let Some(a) = node {
        sink.map(file, a, path)?;
        sink.unknown_fields(
            file,
            a,
            path,
            &[
                "disabled",
                "burnrates",
                "absent",
                "name",
                "absentName",
                "severities",
            ],
            STRICT,
        );
        for key in ["disabled", "burnrates", "absent"] {
            let field = join(path, key);
            if let Some(n) = get(a, key) {
                let v = sink.boolean(file, n, &field)?;
                // `disabled` is deprecated in favour of `burnrates`; either turns them off.
                if (key == "disabled" && v) || (key == "burnrates" && !v) {
                    burnrates = false;
                    from = Some(origin(file, n, &field));
                }
            }
        }
        let dropped: Vec<&str> = ["name", "absentName", "severities"]
            .into_iter()
            .filter(|k| get(a, k).is_some())
            .collect();
        if !dropped.is_empty() {
            sink.warning(
                file,
                a.pos,
                path,
                format!(
                    "not converted: {} (burnrate's alert is SLOBurnRate, labelled with service, \
                     slo, decision and dimension: Pyrra's critical tiers decide circuit_break, \
                     its warning tiers warn)",
                    dropped.join(", ")
                ),
            );
        }
    }
    if !burnrates {
        return Some(MatrixDoc::Silent {
            from: from.expect("set with burnrates"),
            note: "Pyrra alerting: no burn-rate alerts".to_string(),
        });
    }
    // A window too short for Pyrra's tiers is reported at the window.
    let from = window
        .map(|w| w.from.clone())
        .or_else(|| node.map(|a| origin(file, a, path)))
        .unwrap_or_else(|| origin(file, spec, "spec"));
    Some(MatrixDoc::Preset {
        name: "pyrra",
        from,
        note: "Pyrra's four burn-rate tiers at the SLO's window".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(text: &str) -> Selector {
        parse_selector(text).unwrap()
    }

    #[test]
    fn one_histograms_bucket_and_count_are_a_latency_threshold() {
        let success = sel(r#"h_bucket{job="x",code!~"5..",le="0.05"}"#);
        let total = sel(r#"h_count{code!~"5..",job="x"}"#);
        let le = success.matchers.iter().find(|m| m.label == "le").unwrap();
        let (h, threshold) = histogram_of(&success, &total, le).unwrap();
        assert_eq!(
            h.to_promql(),
            r#"h{code!~"5..",job="x"}"#,
            "the total's matchers"
        );
        assert_eq!(threshold, "50ms");
        let success = sel(r#"h_bucket{le="5.0"}"#);
        let le = &success.matchers[0];
        assert_eq!(histogram_of(&success, &sel("h_count"), le).unwrap().1, "5s");
    }

    #[test]
    fn other_latency_selectors_say_why_they_are_not_a_histogram() {
        let why = |s: &str, t: &str| {
            let s = sel(s);
            let le = s.matchers.iter().find(|m| m.label == "le").unwrap().clone();
            histogram_of(&s, &sel(t), &le).unwrap_err()
        };
        assert!(
            why(
                r#"h_bucket{a="1",status=~"5..",le="1"}"#,
                r#"h_count{a="1"}"#
            )
            .contains(r#"status=~"5.." only on the success bucket"#)
        );
        assert!(why(r#"h_bucket{le="1"}"#, "g_count").contains("different histograms"));
        assert!(why(r#"h_bucket{le="0.0005"}"#, "h_count").contains("milliseconds"));
        assert!(why(r#"h_bucket{le="+Inf"}"#, "h_count").contains("milliseconds"));
        assert!(why(r#"h_bucket{le=~"0.1|0.2"}"#, "h_count").contains("not one bucket"));
        assert!(why(r#"x{le="1"}"#, "h_count").contains("not a histogram"));
    }

    #[test]
    fn sums_keep_the_grouping_and_rename_reserved_labels() {
        let node = crate::spec::yaml::parse("a\n").unwrap().unwrap();
        let g = |n: &str| Val::new(n, origin(Path::new("f"), &node, ""));
        let none = Grouping {
            labels: vec![],
            renamed: vec![],
        };
        assert_eq!(none.sum("rate(x[5m])"), "sum(rate(x[5m]))");
        assert_eq!(none.relabel("x"), "x");
        let two = Grouping {
            labels: vec![g("service"), g("method")],
            renamed: vec![("service".into(), "exported_service".into())],
        };
        assert_eq!(
            two.relabel(&two.sum("rate(x[5m])")),
            r#"label_replace(sum by (service, method) (rate(x[5m])), "exported_service", "$1", "service", "(.*)")"#
        );
        let names: Vec<String> = two.group_by().into_iter().map(|v| v.value).collect();
        assert_eq!(names, ["exported_service", "method"]);
    }
}
