//! OpenSLO v1 (`apiVersion: openslo/v1`): `SLO` objects with a `ratioMetric` SLI (inline
//! `indicator` or an `SLI` by `indicatorRef`), `Occurrences` budgeting over a rolling
//! `timeWindow`, and `AlertPolicy`/`AlertCondition` objects of kind `burnrate`.
//!
//! Mapping (see the README, "Importing Sloth, OpenSLO and Pyrra specs"):
//! - `spec.service` groups SLOs into burnrate services; `metadata.name` is the SLO name
//!   (`NAME-i` per objective when there are several, as Sloth does).
//! - `objectives[].target` (a ratio) or `targetPercent` → `error.objective` (a percentage).
//! - `timeWindow[0].duration` (rolling) → `period`; calendar windows are an error.
//! - `budgetingMethod: Occurrences` only; Timeslices and RatioTimeslices are errors.
//! - `ratioMetric`: `bad`+`total` → bad/total (selectors when both are counter selectors),
//!   `good`+`total` → `bad_query: TOTAL - GOOD`; `raw` ratios as for Sloth's raw SLI.
//!   The metric source must speak PromQL (Prometheus, VictoriaMetrics, Thanos, Mimir, Cortex).
//! - Alert conditions of kind `burnrate` become matrix rules: `threshold` → burn,
//!   `lookbackWindow` → long window, `alertAfter` → the SLO's `for`, `severity` → decision.
//!   Without alert policies, burnrate's default ladder applies.
//!
//! OpenSLO v1alpha (`apiVersion: openslo/v1alpha`, `SLO` and `Service`), the only OpenSLO
//! version Sloth reads, is read as Sloth reads it (`v1alpha`).
//!
//! This file reads the objects and resolves them as one set; `slo` translates an `SLO`
//! object (service, window, objectives), `sli` its indicator and metric sources, and
//! `alerts` its alert policies and conditions into matrix rules.

mod alerts;
mod sli;
mod slo;
mod v1alpha;

use super::emit::{ServiceDoc, SloDoc, Val, origin};
use super::{LabelSet, Member, by_service};
use crate::spec::fields::{Sink, entries, get};
use crate::spec::yaml::{Node, Value};
use crate::spec::{Diagnostic, Severity};
use slo::translate_slo;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

const API_VERSION: &str = "openslo/v1";
const V1ALPHA: &str = "openslo/v1alpha";
const V1ALPHA_KINDS: [&str; 2] = ["SLO", "Service"];
const KINDS: [&str; 7] = [
    "SLO",
    "SLI",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
    "DataSource",
    "Service",
];
/// Metric source types whose queries are PromQL for a Prometheus-compatible HTTP API.
const PROMQL_SOURCES: [&str; 5] = ["prometheus", "victoriametrics", "thanos", "mimir", "cortex"];
const IGNORED: &str = "not part of OpenSLO v1";

struct Object<'a> {
    file: &'a Path,
    node: &'a Node,
    /// `openslo/v1alpha` rather than `openslo/v1`.
    v1alpha: bool,
    kind: String,
    name: String,
    name_pos: crate::spec::yaml::Pos,
}

impl Object<'_> {
    fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// The objects in file order, found by kind and name in constant time (references are
/// resolved once per SLO, and a set may hold tens of thousands of objects).
struct Index<'a> {
    objects: Vec<Object<'a>>,
    /// Second definitions of a name nothing refers to: checked, never used.
    shadowed: Vec<Object<'a>>,
    by_kind_name: HashMap<(String, String), usize>,
}

impl<'a> Index<'a> {
    fn find(&self, kind: &str, name: &str) -> Option<&Object<'a>> {
        self.by_kind_name
            .get(&(kind.to_string(), name.to_string()))
            .map(|&i| &self.objects[i])
    }

    fn push(&mut self, obj: Object<'a>) {
        self.by_kind_name
            .insert((obj.kind.clone(), obj.name.clone()), self.objects.len());
        self.objects.push(obj);
    }
}

/// What one SLO object translated to.
#[derive(Default)]
struct Translated {
    service: Option<Val>,
    labels: Option<LabelSet>,
    slos: Vec<SloDoc>,
    ok: bool,
}

/// Translates every SLO of the OpenSLO files, grouped into one document per service.
pub(crate) fn translate(
    files: &[(PathBuf, Vec<Node>)],
    sink: &mut Sink,
) -> Vec<(ServiceDoc, bool)> {
    let referenced = referenced(files);
    let index = collect(files, &referenced, sink);
    check_unused(&index, &referenced, sink);
    let mut members = Vec::new();
    let mut flavours: Vec<&str> = Vec::new();
    for obj in index.objects.iter().filter(|o| o.kind == "SLO") {
        let t = if obj.v1alpha {
            v1alpha::translate_slo(obj, sink)
        } else {
            translate_slo(obj, &index, sink)
        };
        let flavour = if obj.v1alpha {
            "OpenSLO v1alpha, as Sloth reads it"
        } else {
            "OpenSLO v1"
        };
        if !flavours.contains(&flavour) {
            flavours.push(flavour);
        }
        if let Some(service) = t.service {
            members.push(Member {
                service,
                labels: t.labels,
                slos: t.slos,
                ok: t.ok,
            });
        }
    }
    by_service(members, &flavours.join(", "), &[], sink)
}

/// The reference keys and the kind each names.
const REFERENCES: [(&str, &str); 5] = [
    ("indicatorRef", "SLI"),
    ("alertPolicyRef", "AlertPolicy"),
    ("conditionRef", "AlertCondition"),
    ("metricSourceRef", "DataSource"),
    ("targetRef", "AlertNotificationTarget"),
];

/// The (kind, name) of every object some object refers to: what a duplicate can make
/// ambiguous, and what is checked through the SLO that uses it.
fn referenced(files: &[(PathBuf, Vec<Node>)]) -> HashSet<(String, String)> {
    fn walk(node: &Node, out: &mut HashSet<(String, String)>) {
        match &node.value {
            Value::Seq(items) => items.iter().for_each(|n| walk(n, out)),
            Value::Map(_) => {
                for (k, v) in entries(node) {
                    let key = k.as_scalar().unwrap_or_default();
                    match (REFERENCES.iter().find(|(r, _)| *r == key), v.as_scalar()) {
                        (Some((_, kind)), Some(name)) => {
                            out.insert((kind.to_string(), name.to_string()));
                        }
                        _ => walk(v, out),
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = HashSet::new();
    for (_, docs) in files {
        docs.iter().for_each(|d| walk(d, &mut out));
    }
    out
}

/// Every object no SLO reaches, checked as if one did: its problems are warnings (nothing
/// is converted from it), so a file of objects kept for other tools still says what is
/// wrong in them without blocking the SLOs. The fields of objects burnrate never reads
/// (Service, DataSource, AlertNotificationTarget) are checked here too.
fn check_unused(index: &Index, referenced: &HashSet<(String, String)>, sink: &mut Sink) {
    let shadowed = index.shadowed.iter().map(|o| (o, false));
    let objects = index.objects.iter().filter(|o| o.kind != "SLO").map(|o| {
        let used = referenced.contains(&(o.kind.clone(), o.name.clone()));
        (o, used)
    });
    for (obj, used) in objects.chain(shadowed) {
        let mut own = Sink::default();
        let id = obj.id();
        let meta = get(obj.node, "metadata").expect("checked by object()");
        let ignored = if obj.v1alpha {
            "not part of OpenSLO v1alpha"
        } else {
            IGNORED
        };
        let meta_keys: &[&str] = if obj.v1alpha {
            &["name", "displayName"]
        } else {
            &["name", "displayName", "labels", "annotations"]
        };
        own.unknown_keys(
            obj.file,
            meta,
            &format!("{id}.metadata"),
            meta_keys,
            ignored,
        );
        let spec_path = format!("{id}.spec");
        let spec = get(obj.node, "spec");
        // The kinds burnrate reads nothing from but their type: their fields only.
        let spec_keys: Option<&[&str]> = match obj.kind.as_str() {
            "Service" => Some(&["description"]),
            "DataSource" => Some(&["description", "type", "connectionDetails"]),
            "AlertNotificationTarget" => Some(&["description", "target"]),
            _ => None,
        };
        match (obj.kind.as_str(), spec, spec_keys) {
            (_, Some(spec), Some(keys)) if own.map(obj.file, spec, &spec_path).is_some() => {
                own.unknown_keys(obj.file, spec, &spec_path, keys, ignored);
            }
            (_, _, Some(_)) => {}
            _ if used => {}
            ("SLI", _, _) => {
                if let Some(spec) = own.required(obj.file, obj.node, "spec", &spec_path) {
                    sli::ratio_metric(obj.file, spec, &spec_path, index, &mut own, &mut Vec::new());
                }
            }
            ("AlertPolicy", _, _) => {
                if let Some(spec) = own.required(obj.file, obj.node, "spec", &spec_path)
                    && own.map(obj.file, spec, &spec_path).is_some()
                {
                    alerts::policy_rules(
                        obj.file,
                        spec,
                        &spec_path,
                        index,
                        &mut own,
                        &mut Vec::new(),
                    );
                }
            }
            ("AlertCondition", _, _) => {
                if let Some(spec) = own.required(obj.file, obj.node, "spec", &spec_path)
                    && own.map(obj.file, spec, &spec_path).is_some()
                {
                    alerts::condition(obj.file, spec, &spec_path, &id, &mut own);
                }
            }
            _ => {}
        }
        if used {
            sink.extend(own.diagnostics);
            continue;
        }
        sink.extend(own.diagnostics.into_iter().map(|d| Diagnostic {
            message: format!(
                "{id} is used by no SLO (nothing converted from it): {}",
                d.message
            ),
            severity: Severity::Warning,
            ..d
        }));
    }
}

/// Every object of the files (documents, or documents holding a list of objects). A name
/// defined twice is an error where something refers to it (which one is meant?), and a
/// warning otherwise; two SLOs of one name are always an error (two SLOs, one name).
fn collect<'a>(
    files: &'a [(PathBuf, Vec<Node>)],
    referenced: &HashSet<(String, String)>,
    sink: &mut Sink,
) -> Index<'a> {
    let mut index = Index {
        objects: Vec::new(),
        shadowed: Vec::new(),
        by_kind_name: HashMap::new(),
    };
    for (file, docs) in files {
        for doc in docs {
            let items: Vec<&Node> = match &doc.value {
                Value::Null => continue,
                Value::Seq(items) => items.iter().collect(),
                _ => vec![doc],
            };
            for node in items {
                if let Some(obj) = object(file, node, sink) {
                    if let Some(first) = index.find(&obj.kind, &obj.name) {
                        let at = format!("{}:{}", first.file.display(), first.name_pos.line);
                        let field = format!("{}.metadata.name", obj.id());
                        let key = (obj.kind.clone(), obj.name.clone());
                        if obj.kind == "SLO" || referenced.contains(&key) {
                            sink.error(
                                file,
                                obj.name_pos,
                                &field,
                                format!("{} is defined twice (first at {at})", obj.id()),
                            );
                        } else {
                            sink.warning(
                                file,
                                obj.name_pos,
                                &field,
                                format!(
                                    "{} is defined twice (first at {at}); nothing refers to it, \
                                     so no SLO depends on which one is meant",
                                    obj.id()
                                ),
                            );
                            index.shadowed.push(obj);
                        }
                        continue;
                    }
                    index.push(obj);
                }
            }
        }
    }
    index
}

fn object<'a>(file: &'a Path, node: &'a Node, sink: &mut Sink) -> Option<Object<'a>> {
    sink.map(file, node, "")?;
    let api = sink
        .required(file, node, "apiVersion", "apiVersion")
        .and_then(|n| sink.string(file, n, "apiVersion").map(|v| (v, n)));
    let (api, api_node) = api?;
    if api != API_VERSION && api != V1ALPHA {
        let why = if api.starts_with("openslo/") || api.starts_with("openslo.com/") {
            format!("OpenSLO {api:?} is not supported (only {API_VERSION:?} and {V1ALPHA:?})")
        } else {
            format!(
                "a file of OpenSLO objects holds only OpenSLO documents, got {api:?} \
                 (a burnrate/v1 spec goes in its own file)"
            )
        };
        sink.error(file, api_node.pos, "apiVersion", why);
        return None;
    }
    let v1alpha = api == V1ALPHA;
    let kinds: &[&str] = if v1alpha { &V1ALPHA_KINDS } else { &KINDS };
    let kind_node = sink.required(file, node, "kind", "kind")?;
    let kind = sink.string(file, kind_node, "kind")?;
    if !kinds.contains(&kind.as_str()) {
        sink.error(
            file,
            kind_node.pos,
            "kind",
            format!(
                "unknown {api} kind {kind:?} (expected one of: {})",
                kinds.join(", ")
            ),
        );
        return None;
    }
    sink.unknown_keys(
        file,
        node,
        &kind,
        &["apiVersion", "kind", "metadata", "spec"],
        if v1alpha {
            "not part of OpenSLO v1alpha"
        } else {
            IGNORED
        },
    );
    let meta = sink.required(file, node, "metadata", &format!("{kind}.metadata"))?;
    let name_node = sink.required(file, meta, "name", &format!("{kind}.metadata.name"))?;
    let name = sink.string(file, name_node, &format!("{kind}.metadata.name"))?;
    Some(Object {
        file,
        node,
        v1alpha,
        kind,
        name,
        name_pos: name_node.pos,
    })
}
