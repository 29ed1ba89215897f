//! OpenSLO v1 (`apiVersion: openslo/v1`): `SLO` objects with a `ratioMetric` SLI (inline
//! `indicator` or an `SLI` by `indicatorRef`), `Occurrences` budgeting over a rolling
//! `timeWindow`, and `AlertPolicy`/`AlertCondition` objects of kind `burnrate`.
//!
//! Mapping (see the README, "Importing Sloth and OpenSLO specs"):
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

use super::emit::{Events, Origin, RuleDoc, ServiceDoc, SloDoc, Val};
use super::promql::{self, Shape};
use super::tree::{Sink, get, join, key_node};
use super::{LabelSet, common_labels};
use crate::decision::Decision;
use crate::duration::PromDuration;
use crate::spec::yaml::{Node, Value};
use std::path::{Path, PathBuf};

const API_VERSION: &str = "openslo/v1";
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
    kind: String,
    name: String,
    name_pos: crate::spec::yaml::Pos,
}

impl Object<'_> {
    fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

struct Index<'a> {
    objects: Vec<Object<'a>>,
}

impl<'a> Index<'a> {
    fn find(&self, kind: &str, name: &str) -> Option<&Object<'a>> {
        self.objects
            .iter()
            .find(|o| o.kind == kind && o.name == name)
    }
}

fn origin(file: &Path, node: &Node, field: &str) -> Origin {
    Origin {
        file: file.to_path_buf(),
        pos: node.pos,
        field: field.to_string(),
    }
}

/// What one SLO object translated to.
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
    let index = collect(files, sink);
    let mut groups: Vec<(String, Vec<Translated>)> = Vec::new();
    for obj in index.objects.iter().filter(|o| o.kind == "SLO") {
        let t = translate_slo(obj, &index, sink);
        let Some(service) = t.service.as_ref().map(|s| s.value.clone()) else {
            continue;
        };
        match groups.iter_mut().find(|(s, _)| *s == service) {
            Some((_, members)) => members.push(t),
            None => groups.push((service, vec![t])),
        }
    }
    let mut out = Vec::new();
    for (_, members) in groups {
        let ok = members.iter().all(|m| m.ok);
        let label_sets: Vec<Option<LabelSet>> = members
            .iter()
            .map(|m| m.labels.as_ref().map(clone_set))
            .collect();
        let labels = common_labels(&label_sets, sink);
        let service = members[0].service.clone().expect("grouped by service");
        let mut files: Vec<String> = Vec::new();
        let mut slos = Vec::new();
        for m in members {
            let f = m
                .service
                .as_ref()
                .expect("grouped")
                .from
                .file
                .display()
                .to_string();
            if !files.contains(&f) {
                files.push(f);
            }
            slos.extend(m.slos);
        }
        out.push((
            ServiceDoc {
                file: service.from.file.clone(),
                source: format!("{} (OpenSLO v1)", files.join(", ")),
                notes: Vec::new(),
                service,
                labels,
                slos,
            },
            ok,
        ));
    }
    out
}

fn clone_set(s: &LabelSet) -> LabelSet {
    LabelSet {
        labels: s.labels.clone(),
        from: s.from.clone(),
    }
}

/// Every object of the files (documents, or documents holding a list of objects).
fn collect<'a>(files: &'a [(PathBuf, Vec<Node>)], sink: &mut Sink) -> Index<'a> {
    let mut index = Index {
        objects: Vec::new(),
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
                        sink.error(
                            file,
                            obj.name_pos,
                            &format!("{}.metadata.name", obj.id()),
                            format!("{} is defined twice (first at {at})", obj.id()),
                        );
                        continue;
                    }
                    index.objects.push(obj);
                }
            }
        }
    }
    index
}

fn object<'a>(file: &'a Path, node: &'a Node, sink: &mut Sink) -> Option<Object<'a>> {
    sink.map(file, node, "")?;
    let api = match get(node, "apiVersion") {
        Some(n) => sink.string(file, n, "apiVersion").map(|v| (v, n)),
        None => {
            sink.error(file, node.pos, "apiVersion", "missing required field");
            None
        }
    };
    let (api, api_node) = api?;
    if api != API_VERSION {
        let why = if api.starts_with("openslo/") {
            format!("OpenSLO {api:?} is not supported (only {API_VERSION:?})")
        } else {
            format!(
                "a file of OpenSLO objects holds only {API_VERSION:?} documents, got {api:?} \
                 (a burnrate/v1 spec goes in its own file)"
            )
        };
        sink.error(file, api_node.pos, "apiVersion", why);
        return None;
    }
    let kind = match get(node, "kind") {
        Some(n) => {
            let k = sink.string(file, n, "kind")?;
            if !KINDS.contains(&k.as_str()) {
                sink.error(
                    file,
                    n.pos,
                    "kind",
                    format!(
                        "unknown OpenSLO kind {k:?} (expected one of: {})",
                        KINDS.join(", ")
                    ),
                );
                return None;
            }
            k
        }
        None => {
            sink.error(file, node.pos, "kind", "missing required field");
            return None;
        }
    };
    sink.unknown_keys(
        file,
        node,
        &kind,
        &["apiVersion", "kind", "metadata", "spec"],
        IGNORED,
    );
    let Some(meta) = get(node, "metadata") else {
        sink.error(
            file,
            node.pos,
            &format!("{kind}.metadata"),
            "missing required field",
        );
        return None;
    };
    let name_node = get(meta, "name");
    let name = match name_node {
        Some(n) => sink.string(file, n, &format!("{kind}.metadata.name"))?,
        None => {
            sink.error(
                file,
                meta.pos,
                &format!("{kind}.metadata.name"),
                "missing required field",
            );
            return None;
        }
    };
    Some(Object {
        file,
        node,
        kind,
        name,
        name_pos: name_node.map_or(meta.pos, |n| n.pos),
    })
}

fn translate_slo(obj: &Object, index: &Index, sink: &mut Sink) -> Translated {
    let errors_before = sink.errors();
    let file = obj.file;
    let id = obj.id();
    let mut t = Translated {
        service: None,
        labels: None,
        slos: Vec::new(),
        ok: false,
    };
    let meta = get(obj.node, "metadata").expect("checked by object()");
    sink.unknown_keys(
        file,
        meta,
        &format!("{id}.metadata"),
        &["name", "displayName", "labels", "annotations"],
        IGNORED,
    );
    if let Some(n) = get(meta, "labels") {
        t.labels = Some(LabelSet {
            labels: labels(file, n, &format!("{id}.metadata.labels"), sink),
            from: origin(file, n, &format!("{id}.metadata.labels")),
        });
    }
    if let Some(n) = get(meta, "annotations") {
        sink.warning(
            file,
            n.pos,
            &format!("{id}.metadata.annotations"),
            "not converted: annotations are implementation-specific metadata; burnrate has no \
             per-SLO annotations",
        );
    }
    let spec_path = format!("{id}.spec");
    let Some(spec) = get(obj.node, "spec") else {
        sink.error(file, obj.node.pos, &spec_path, "missing required field");
        return t;
    };
    if sink.map(file, spec, &spec_path).is_none() {
        return t;
    }
    let field = |k: &str| join(&spec_path, k);
    sink.unknown_keys(
        file,
        spec,
        &spec_path,
        &[
            "description",
            "service",
            "indicator",
            "indicatorRef",
            "timeWindow",
            "budgetingMethod",
            "objectives",
            "alertPolicies",
        ],
        IGNORED,
    );
    t.service = match get(spec, "service") {
        Some(n) => sink
            .string(file, n, &field("service"))
            .map(|s| Val::new(s, origin(file, n, &field("service")))),
        None => {
            sink.error(file, spec.pos, &field("service"), "missing required field");
            None
        }
    };
    let description = get(spec, "description")
        .map(|n| (n, field("description")))
        .or_else(|| get(meta, "displayName").map(|n| (n, format!("{id}.metadata.displayName"))))
        .and_then(|(n, f)| {
            sink.string(file, n, &f)
                .map(|s| Val::new(s.trim_end(), origin(file, n, &f)))
        });
    match get(spec, "budgetingMethod") {
        Some(n) => match sink.string(file, n, &field("budgetingMethod")).as_deref() {
            Some("Occurrences") | None => {}
            Some(m @ ("Timeslices" | "RatioTimeslices")) => sink.error(
                file,
                n.pos,
                &field("budgetingMethod"),
                format!(
                    "{m} budgeting counts good time slices, not events: burnrate's burn rate is \
                     bad events / total events over a window (Occurrences)"
                ),
            ),
            Some(m) => sink.error(
                file,
                n.pos,
                &field("budgetingMethod"),
                format!(
                    "unknown budgeting method {m:?} (Occurrences, Timeslices or RatioTimeslices)"
                ),
            ),
        },
        None => sink.error(
            file,
            spec.pos,
            &field("budgetingMethod"),
            "missing required field",
        ),
    }
    let period = time_window(file, spec, &spec_path, sink);
    let mut notes = Vec::new();
    let events = indicator(file, spec, &spec_path, index, sink, &mut notes);
    let alerting = alert_policies(file, spec, &spec_path, index, sink, &mut notes);
    let objectives = objectives(file, spec, &spec_path, sink);

    let ok = sink.errors() == errors_before;
    t.ok = ok;
    let (Some(period), Some(events), Some((matrix, for_)), Some(objectives)) =
        (period, events, alerting, objectives)
    else {
        return t;
    };
    let name = Val::new(
        obj.name.clone(),
        origin(file, obj.node, &format!("{id}.metadata.name")),
    );
    let several = objectives.len() > 1;
    for (i, (objective, display)) in objectives.into_iter().enumerate() {
        let mut slo_notes = Vec::new();
        if several {
            slo_notes.push(format!(
                "OpenSLO {id}, objective {i}{}: one burnrate SLO per objective.",
                display.map(|d| format!(" ({d})")).unwrap_or_default()
            ));
        }
        slo_notes.extend(notes.iter().cloned());
        let mut slo_name = name.clone();
        if several {
            slo_name.value = format!("{}-{i}", obj.name);
            slo_name.from = objective.from.clone();
        }
        t.slos.push(SloDoc {
            from: origin(file, obj.node, &id),
            notes: slo_notes,
            name: slo_name,
            description: description.clone(),
            period: period.clone(),
            objective,
            events: events.clone(),
            matrix: matrix.clone(),
            for_: for_.clone(),
        });
    }
    t
}

/// `metadata.labels`: values are strings or lists of strings (joined with `,`); keys that are
/// not Prometheus label names have their other characters replaced by `_` (with a warning).
fn labels(file: &Path, node: &Node, path: &str, sink: &mut Sink) -> Vec<(Val, Val)> {
    let Some(entries) = sink.map(file, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let key = k.as_scalar().unwrap_or_default().to_string();
        let field = join(path, &key);
        let value = match &v.value {
            Value::Seq(items) => {
                let mut parts = Vec::new();
                for item in items {
                    if let Some(s) = sink.string(file, item, &field) {
                        parts.push(s);
                    }
                }
                parts.join(",")
            }
            _ => match sink.string(file, v, &field) {
                Some(s) => s,
                None => continue,
            },
        };
        let mut name: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            name.insert(0, '_');
        }
        if name != key {
            sink.warning(
                file,
                k.pos,
                &field,
                format!("label {key:?} is not a Prometheus label name: converted as {name:?}"),
            );
        }
        out.push((
            Val::new(name, origin(file, k, &field)),
            Val::new(value, origin(file, v, &field)),
        ));
    }
    out
}

/// OpenSLO duration shorthand (`5m`, `1h`, `28d`, `4w`, `1Y`) as a Prometheus duration.
fn duration(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.ends_with('M') || t.ends_with('Q') {
        return Err(format!(
            "{t:?}: months and quarters have no fixed length; burnrate needs a fixed rolling \
             duration (e.g. 30d or 90d)"
        ));
    }
    let t = match t.strip_suffix('Y') {
        Some(n) => format!("{n}y"),
        None => t.to_string(),
    };
    PromDuration::parse(&t)?;
    Ok(t)
}

fn duration_val(file: &Path, node: &Node, field: &str, sink: &mut Sink) -> Option<Val> {
    let text = sink.string(file, node, field)?;
    match duration(&text) {
        Ok(d) => Some(Val::new(d, origin(file, node, field))),
        Err(e) => {
            sink.error(file, node.pos, field, e);
            None
        }
    }
}

fn time_window(file: &Path, spec: &Node, path: &str, sink: &mut Sink) -> Option<Val> {
    let field = join(path, "timeWindow");
    let Some(node) = get(spec, "timeWindow") else {
        sink.warning(
            file,
            spec.pos,
            &field,
            "no timeWindow: the error budget is taken over burnrate's default period, 30d",
        );
        return Some(Val::new("30d", origin(file, spec, &field)));
    };
    let items = sink.seq(file, node, &field)?;
    if items.len() != 1 {
        sink.error(
            file,
            node.pos,
            &field,
            format!("must hold exactly one time window, got {}", items.len()),
        );
        return None;
    }
    let item = &items[0];
    let field = format!("{field}[0]");
    sink.map(file, item, &field)?;
    sink.unknown_keys(
        file,
        item,
        &field,
        &["duration", "isRolling", "calendar"],
        IGNORED,
    );
    let rolling = match get(item, "isRolling") {
        Some(n) => Some(sink.boolean(file, n, &join(&field, "isRolling"))?),
        None => None,
    };
    let mut rolling_ok = true;
    if let Some(cal) = get(item, "calendar") {
        sink.error(
            file,
            cal.pos,
            &join(&field, "calendar"),
            "calendar-aligned time windows are not supported: burnrate's error budget is over \
             a rolling period (use isRolling: true)",
        );
        rolling_ok = false;
    } else if rolling == Some(false) {
        let n = key_node(item, "isRolling").unwrap_or(item);
        sink.error(
            file,
            n.pos,
            &join(&field, "isRolling"),
            "a non-rolling (calendar) time window is not supported: burnrate's error budget is \
             over a rolling period",
        );
        rolling_ok = false;
    }
    let period = match get(item, "duration") {
        Some(n) => duration_val(file, n, &join(&field, "duration"), sink),
        None => {
            sink.error(
                file,
                item.pos,
                &join(&field, "duration"),
                "missing required field",
            );
            None
        }
    };
    period.filter(|_| rolling_ok)
}

/// Each objective's target as a percentage, and its display name.
fn objectives(
    file: &Path,
    spec: &Node,
    path: &str,
    sink: &mut Sink,
) -> Option<Vec<(Val, Option<String>)>> {
    let field = join(path, "objectives");
    let Some(node) = get(spec, "objectives") else {
        sink.error(file, spec.pos, &field, "missing required field");
        return None;
    };
    let items = sink.seq(file, node, &field)?;
    if items.is_empty() {
        sink.error(file, node.pos, &field, "must list at least one objective");
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if sink.map(file, item, &f).is_none() {
            ok = false;
            continue;
        }
        sink.unknown_keys(
            file,
            item,
            &f,
            &[
                "displayName",
                "op",
                "value",
                "target",
                "targetPercent",
                "timeSliceTarget",
                "timeSliceWindow",
                "indicator",
                "indicatorRef",
                "compositeWeight",
            ],
            IGNORED,
        );
        for key in ["indicator", "indicatorRef", "compositeWeight"] {
            if let Some(n) = key_node(item, key) {
                sink.error(
                    file,
                    n.pos,
                    &join(&f, key),
                    "composite SLOs (an indicator per objective) are not supported: write one \
                     SLO per indicator",
                );
                ok = false;
            }
        }
        for key in ["op", "value", "timeSliceTarget", "timeSliceWindow"] {
            if let Some(n) = key_node(item, key) {
                sink.warning(
                    file,
                    n.pos,
                    &join(&f, key),
                    "ignored: only meaningful for thresholdMetric SLIs or Timeslices budgeting",
                );
            }
        }
        let target = get(item, "target");
        let percent = get(item, "targetPercent");
        let objective = match (target, percent) {
            (Some(n), None) => sink.number(file, n, &join(&f, "target")).and_then(|text| {
                match ratio_to_percent(&text) {
                    Some(p) => Some(Val::new(p, origin(file, n, &join(&f, "target")))),
                    None => {
                        sink.error(
                            file,
                            n.pos,
                            &join(&f, "target"),
                            format!("must be a ratio between 0 and 1 (0.999 is 99.9%), got {text}"),
                        );
                        None
                    }
                }
            }),
            (None, Some(n)) => sink
                .number(file, n, &join(&f, "targetPercent"))
                .map(|text| Val::new(text, origin(file, n, &join(&f, "targetPercent")))),
            (Some(_), Some(n)) => {
                sink.error(
                    file,
                    n.pos,
                    &join(&f, "targetPercent"),
                    "give target or targetPercent, not both",
                );
                None
            }
            (None, None) => {
                sink.error(
                    file,
                    item.pos,
                    &join(&f, "target"),
                    "missing required field (target or targetPercent)",
                );
                None
            }
        };
        let display = get(item, "displayName")
            .and_then(|n| n.as_scalar())
            .map(str::to_string);
        match objective {
            Some(o) => out.push((o, display)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// A ratio written as a decimal (`0.999`) as a percentage text (`99.9`), by moving the
/// decimal point: no float rounding, so the objective is the one a user would write.
fn ratio_to_percent(text: &str) -> Option<String> {
    let v: f64 = text.parse().ok()?;
    if !(v > 0.0 && v < 1.0) {
        return None;
    }
    let t = text.trim().trim_start_matches('+');
    let plain = t.chars().all(|c| c.is_ascii_digit() || c == '.') && t.matches('.').count() <= 1;
    if !plain {
        return Some(format!("{}", (v * 1e12).round() / 1e10));
    }
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let frac = format!("{frac:0<2}");
    let int = format!("{int}{}", &frac[..2]);
    let int = int.trim_start_matches('0');
    let frac = frac[2..].trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    Some(if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    })
}

/// The SLI (inline or by reference) as burnrate error events.
fn indicator(
    file: &Path,
    spec: &Node,
    path: &str,
    index: &Index,
    sink: &mut Sink,
    notes: &mut Vec<String>,
) -> Option<Events> {
    let inline = get(spec, "indicator");
    let reference = get(spec, "indicatorRef");
    match (inline, reference) {
        (Some(n), None) => {
            let f = join(path, "indicator");
            sink.map(file, n, &f)?;
            sink.unknown_keys(file, n, &f, &["metadata", "spec"], IGNORED);
            let Some(sli) = get(n, "spec") else {
                sink.error(file, n.pos, &join(&f, "spec"), "missing required field");
                return None;
            };
            ratio_metric(file, sli, &join(&f, "spec"), index, sink, notes)
        }
        (None, Some(n)) => {
            let f = join(path, "indicatorRef");
            let name = sink.string(file, n, &f)?;
            let Some(sli) = index.find("SLI", &name) else {
                sink.error(
                    file,
                    n.pos,
                    &f,
                    format!("no SLI named {name:?} in the files given (pass the file that defines it too)"),
                );
                return None;
            };
            let sli_path = format!("{}.spec", sli.id());
            let Some(sli_spec) = get(sli.node, "spec") else {
                sink.error(sli.file, sli.node.pos, &sli_path, "missing required field");
                return None;
            };
            ratio_metric(sli.file, sli_spec, &sli_path, index, sink, notes)
        }
        (Some(_), Some(n)) => {
            sink.error(
                file,
                n.pos,
                &join(path, "indicatorRef"),
                "give indicator or indicatorRef, not both",
            );
            None
        }
        (None, None) => {
            sink.error(
                file,
                spec.pos,
                &join(path, "indicator"),
                "missing required field (indicator or indicatorRef)",
            );
            None
        }
    }
}

fn ratio_metric(
    file: &Path,
    sli: &Node,
    path: &str,
    index: &Index,
    sink: &mut Sink,
    notes: &mut Vec<String>,
) -> Option<Events> {
    sink.map(file, sli, path)?;
    sink.unknown_keys(
        file,
        sli,
        path,
        &["description", "thresholdMetric", "ratioMetric"],
        IGNORED,
    );
    if let Some(n) = key_node(sli, "thresholdMetric") {
        sink.error(
            file,
            n.pos,
            &join(path, "thresholdMetric"),
            "thresholdMetric SLIs compare single values with a threshold; burnrate's burn rate \
             needs a ratio of bad to total events (ratioMetric)",
        );
        return None;
    }
    let f = join(path, "ratioMetric");
    let Some(rm) = get(sli, "ratioMetric") else {
        sink.error(file, sli.pos, &f, "missing required field");
        return None;
    };
    sink.map(file, rm, &f)?;
    sink.unknown_keys(
        file,
        rm,
        &f,
        &["counter", "good", "bad", "total", "rawType", "raw"],
        IGNORED,
    );
    let counter = match get(rm, "counter") {
        Some(n) => Some(sink.boolean(file, n, &join(&f, "counter"))?),
        None => None,
    };
    if let Some(raw) = get(rm, "raw") {
        for key in ["good", "bad", "total"] {
            if let Some(n) = key_node(rm, key) {
                sink.error(
                    file,
                    n.pos,
                    &join(&f, key),
                    "raw cannot be used with good, bad or total",
                );
                return None;
            }
        }
        let success = match get(rm, "rawType") {
            Some(n) => match sink.string(file, n, &join(&f, "rawType"))?.as_str() {
                "success" => true,
                "failure" => false,
                other => {
                    sink.error(
                        file,
                        n.pos,
                        &join(&f, "rawType"),
                        format!("must be success or failure, got {other:?}"),
                    );
                    return None;
                }
            },
            None => {
                sink.error(
                    file,
                    rm.pos,
                    &join(&f, "rawType"),
                    "missing required field (raw needs rawType)",
                );
                return None;
            }
        };
        let q = metric_query(file, raw, &join(&f, "raw"), index, sink)?;
        let (ratio, note) = match promql::ratio_query(&q.value) {
            Ok(r) => r,
            Err(e) => {
                sink.error(&q.from.file, q.from.pos, &q.from.field, e);
                return None;
            }
        };
        if let Some(note) = note {
            sink.warning(&q.from.file, q.from.pos, &q.from.field, note);
        }
        let bad = if success {
            format!("1 - ({ratio})")
        } else {
            ratio.clone()
        };
        sink.warning(
            &q.from.file,
            q.from.pos,
            &q.from.field,
            "raw ratio converted as bad_query: the error ratio, total_query: 1 where the ratio is \
             a number: burn rates are the ratio's, but the SLI has no event counts (`events` \
             counts seconds, so do not add min_events)",
        );
        notes.push("OpenSLO raw ratio: bad/total is the error ratio itself.".to_string());
        return Some(Events::Queries {
            total: Val::new(promql::ratio_total(&ratio), q.from.clone()),
            bad: Val::new(bad, q.from),
        });
    }
    let total_q = match get(rm, "total") {
        Some(n) => metric_query(file, n, &join(&f, "total"), index, sink),
        None => {
            sink.error(file, rm.pos, &join(&f, "total"), "missing required field");
            None
        }
    };
    let (good, bad) = (get(rm, "good"), get(rm, "bad"));
    let (numerator, is_good) = match (good, bad) {
        (Some(n), None) => (metric_query(file, n, &join(&f, "good"), index, sink), true),
        (None, Some(n)) => (metric_query(file, n, &join(&f, "bad"), index, sink), false),
        (Some(_), Some(n)) => {
            sink.error(file, n.pos, &join(&f, "bad"), "give good or bad, not both");
            return None;
        }
        (None, None) => {
            sink.error(
                file,
                rm.pos,
                &join(&f, "good"),
                "missing required field (good or bad)",
            );
            return None;
        }
    };
    let total = shape(total_q?, counter, sink);
    let num = shape(numerator?, counter, sink);
    let ((total_shape, total_from), (num_shape, num_from)) = (total?, num?);
    if is_good {
        notes.push(
            "OpenSLO good/total: bad_query is total - good (a missing good series counts as \
             no good events)."
                .to_string(),
        );
        let t = total_shape.into_query();
        let bad = promql::bad_from_good(&num_shape.into_query(), &t);
        return Some(Events::Queries {
            bad: Val::new(bad, num_from),
            total: Val::new(t, total_from),
        });
    }
    Some(match (num_shape, total_shape) {
        (Shape::Selector(b), Shape::Selector(t)) => Events::Selectors {
            bad: Val::new(b, num_from),
            total: Val::new(t, total_from),
        },
        (b, t) => Events::Queries {
            bad: Val::new(b.into_query(), num_from),
            total: Val::new(t.into_query(), total_from),
        },
    })
}

fn shape(q: Val, counter: Option<bool>, sink: &mut Sink) -> Option<(Shape, Origin)> {
    match promql::counter_shape(&q.value, counter) {
        Ok((shape, note)) => {
            if let Some(note) = note {
                sink.warning(&q.from.file, q.from.pos, &q.from.field, note);
            }
            Some((shape, q.from))
        }
        Err(e) => {
            sink.error(&q.from.file, q.from.pos, &q.from.field, e);
            None
        }
    }
}

/// `{metricSource: {metricSourceRef?, type?, spec: {query}}}`: the PromQL query.
fn metric_query(
    file: &Path,
    node: &Node,
    path: &str,
    index: &Index,
    sink: &mut Sink,
) -> Option<Val> {
    sink.map(file, node, path)?;
    sink.unknown_keys(file, node, path, &["metricSource"], IGNORED);
    let f = join(path, "metricSource");
    let Some(ms) = get(node, "metricSource") else {
        sink.error(file, node.pos, &f, "missing required field");
        return None;
    };
    sink.map(file, ms, &f)?;
    sink.unknown_keys(file, ms, &f, &["metricSourceRef", "type", "spec"], IGNORED);
    let source_type = match (get(ms, "type"), get(ms, "metricSourceRef")) {
        (Some(n), _) => sink
            .string(file, n, &join(&f, "type"))
            .map(|t| (t, origin(file, n, &join(&f, "type")))),
        (None, Some(r)) => {
            let name = sink.string(file, r, &join(&f, "metricSourceRef"))?;
            match index.find("DataSource", &name) {
                Some(ds) => {
                    let field = format!("{}.spec.type", ds.id());
                    match get(ds.node, "spec").and_then(|s| get(s, "type")) {
                        Some(n) => sink
                            .string(ds.file, n, &field)
                            .map(|t| (t, origin(ds.file, n, &field))),
                        None => {
                            sink.error(ds.file, ds.node.pos, &field, "missing required field");
                            None
                        }
                    }
                }
                None => {
                    sink.error(
                        file,
                        r.pos,
                        &join(&f, "metricSourceRef"),
                        format!(
                            "no DataSource named {name:?} in the files given: pass it too, or give \
                             metricSource.type"
                        ),
                    );
                    None
                }
            }
        }
        (None, None) => {
            sink.error(
                file,
                ms.pos,
                &join(&f, "type"),
                "missing: burnrate needs the metric source type (or a metricSourceRef to a \
                 DataSource) to know the query is PromQL",
            );
            None
        }
    };
    let query = match get(ms, "spec") {
        Some(s) => {
            let sf = join(&f, "spec");
            sink.map(file, s, &sf)?;
            sink.unknown_keys(
                file,
                s,
                &sf,
                &["query"],
                "burnrate reads only the query; the backend comes from --prometheus",
            );
            match get(s, "query") {
                Some(q) => sink
                    .string(file, q, &join(&sf, "query"))
                    .map(|text| Val::new(text.trim(), origin(file, q, &join(&sf, "query")))),
                None => {
                    sink.error(file, s.pos, &join(&sf, "query"), "missing required field");
                    None
                }
            }
        }
        None => {
            sink.error(file, ms.pos, &join(&f, "spec"), "missing required field");
            None
        }
    };
    let (t, from) = source_type?;
    if !PROMQL_SOURCES.contains(&t.to_ascii_lowercase().as_str()) {
        sink.error(
            &from.file,
            from.pos,
            &from.field,
            format!(
                "metric source type {t:?}: burnrate evaluates PromQL against a Prometheus-compatible \
                 API (Prometheus, VictoriaMetrics, Thanos, Mimir, Cortex)"
            ),
        );
        return None;
    }
    query
}

/// One alert rule before the SLO-wide `for` is settled.
struct Rule {
    doc: RuleDoc,
    alert_after: Option<(PromDuration, Val)>,
}

/// The matrix (None: the default ladder) and `for` from the SLO's alert policies.
#[allow(clippy::type_complexity)]
fn alert_policies(
    file: &Path,
    spec: &Node,
    path: &str,
    index: &Index,
    sink: &mut Sink,
    notes: &mut Vec<String>,
) -> Option<(Option<Vec<RuleDoc>>, Option<Val>)> {
    let f = join(path, "alertPolicies");
    let items = match get(spec, "alertPolicies") {
        Some(n) => sink.seq(file, n, &f)?,
        None => &[],
    };
    if items.is_empty() {
        notes.push(
            "no OpenSLO alert policies: burnrate's default ladder (SRE Workbook multiwindow \
             rules scaled to the period)."
                .to_string(),
        );
        return Some((None, None));
    }
    let errors_before = sink.errors();
    let mut rules: Vec<Rule> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let pf = format!("{f}[{i}]");
        let Some((pfile, policy, ppath)) = resolve(
            file,
            item,
            &pf,
            "AlertPolicy",
            "alertPolicyRef",
            index,
            sink,
        ) else {
            continue;
        };
        policy_rules(pfile, policy, &ppath, index, sink, &mut rules);
    }
    if sink.errors() != errors_before {
        return None;
    }
    if rules.is_empty() {
        sink.error(
            file,
            spec.pos,
            &f,
            "none of the alert policies alerts on a breach: a burnrate SLO needs at least one rule",
        );
        return None;
    }
    // `for` is per SLO in burnrate: every condition must wait the same time.
    let first = &rules[0].alert_after;
    let millis = |a: &Option<(PromDuration, Val)>| a.as_ref().map_or(0, |(d, _)| d.millis());
    for r in &rules[1..] {
        if millis(&r.alert_after) != millis(first) {
            let (pos, file_, field) = match (&r.alert_after, first) {
                (Some((_, v)), _) | (None, Some((_, v))) => {
                    (v.from.pos, v.from.file.clone(), v.from.field.clone())
                }
                (None, None) => unreachable!("equal when both are absent"),
            };
            let spell = |a: &Option<(PromDuration, Val)>| {
                a.as_ref()
                    .map_or("0m (absent)".to_string(), |(d, _)| d.to_string())
            };
            sink.error(
                &file_,
                pos,
                &field,
                format!(
                    "alertAfter {} differs from {} ({}): burnrate's `for` applies to every rule \
                     of an SLO",
                    spell(&r.alert_after),
                    spell(first),
                    rules[0].doc.note
                ),
            );
            return None;
        }
    }
    let for_ = first
        .as_ref()
        .filter(|(d, _)| d.millis() > 0)
        .map(|(_, v)| v.clone());
    Some((Some(rules.into_iter().map(|r| r.doc).collect()), for_))
}

/// An inline object (`{kind, metadata, spec}`) or a reference (`{REF_KEY: name}`): the file,
/// the spec node and its field path.
#[allow(clippy::too_many_arguments)]
fn resolve<'a>(
    file: &'a Path,
    item: &'a Node,
    path: &str,
    kind: &str,
    ref_key: &str,
    index: &'a Index,
    sink: &mut Sink,
) -> Option<(&'a Path, &'a Node, String)> {
    sink.map(file, item, path)?;
    if let Some(r) = get(item, ref_key) {
        sink.unknown_keys(file, item, path, &[ref_key], IGNORED);
        let name = sink.string(file, r, &join(path, ref_key))?;
        let Some(obj) = index.find(kind, &name) else {
            sink.error(
                file,
                r.pos,
                &join(path, ref_key),
                format!("no {kind} named {name:?} in the files given (pass the file that defines it too)"),
            );
            return None;
        };
        let sp = format!("{}.spec", obj.id());
        let Some(spec) = get(obj.node, "spec") else {
            sink.error(obj.file, obj.node.pos, &sp, "missing required field");
            return None;
        };
        sink.map(obj.file, spec, &sp)?;
        return Some((obj.file, spec, sp));
    }
    sink.unknown_keys(
        file,
        item,
        path,
        &["kind", "metadata", "spec", ref_key],
        IGNORED,
    );
    if let Some(k) = get(item, "kind") {
        let text = sink.string(file, k, &join(path, "kind"))?;
        if text != kind {
            sink.error(
                file,
                k.pos,
                &join(path, "kind"),
                format!("expected {kind}, got {text:?}"),
            );
            return None;
        }
    }
    let sp = join(path, "spec");
    let Some(spec) = get(item, "spec") else {
        sink.error(
            file,
            item.pos,
            &sp,
            format!("missing required field ({ref_key} or an inline {kind})"),
        );
        return None;
    };
    sink.map(file, spec, &sp)?;
    Some((file, spec, sp))
}

fn policy_rules(
    file: &Path,
    policy: &Node,
    path: &str,
    index: &Index,
    sink: &mut Sink,
    out: &mut Vec<Rule>,
) {
    sink.unknown_keys(
        file,
        policy,
        path,
        &[
            "description",
            "alertWhenNoData",
            "alertWhenResolved",
            "alertWhenBreaching",
            "conditions",
            "notificationTargets",
        ],
        IGNORED,
    );
    if let Some(n) = get(policy, "alertWhenBreaching")
        && sink.boolean(file, n, &join(path, "alertWhenBreaching")) == Some(false)
    {
        sink.warning(
            file,
            n.pos,
            &join(path, "alertWhenBreaching"),
            "this policy never alerts on a breach: its conditions are not converted",
        );
        return;
    }
    if let Some(n) = get(policy, "alertWhenNoData")
        && sink.boolean(file, n, &join(path, "alertWhenNoData")) == Some(true)
    {
        sink.warning(
            file,
            n.pos,
            &join(path, "alertWhenNoData"),
            "not converted: burnrate never alerts on missing data (the decision is no_data and \
             nothing escalates)",
        );
    }
    if let Some(n) = get(policy, "notificationTargets") {
        sink.warning(
            file,
            n.pos,
            &join(path, "notificationTargets"),
            "not converted: route burnrate's SLOBurnRate alerts (labels service, slo, decision) \
             in Alertmanager, or use --webhook",
        );
    }
    let cf = join(path, "conditions");
    let Some(conds) = get(policy, "conditions") else {
        sink.error(file, policy.pos, &cf, "missing required field");
        return;
    };
    let Some(items) = sink.seq(file, conds, &cf) else {
        return;
    };
    if items.is_empty() {
        sink.error(file, conds.pos, &cf, "must list at least one condition");
    }
    for (j, item) in items.iter().enumerate() {
        let f = format!("{cf}[{j}]");
        let Some((cfile, cspec, cpath)) = resolve(
            file,
            item,
            &f,
            "AlertCondition",
            "conditionRef",
            index,
            sink,
        ) else {
            continue;
        };
        let label = if cpath.starts_with("AlertCondition/") {
            cpath.trim_end_matches(".spec").to_string()
        } else {
            match get(item, "metadata")
                .and_then(|m| get(m, "name"))
                .and_then(|n| n.as_scalar())
            {
                Some(name) => format!("AlertCondition/{name}"),
                None => f.clone(),
            }
        };
        if let Some(rule) = condition(cfile, cspec, &cpath, &label, sink) {
            out.push(rule);
        }
    }
}

fn condition(file: &Path, spec: &Node, path: &str, label: &str, sink: &mut Sink) -> Option<Rule> {
    sink.unknown_keys(
        file,
        spec,
        path,
        &["description", "severity", "condition"],
        IGNORED,
    );
    let severity = match get(spec, "severity") {
        Some(n) => sink
            .string(file, n, &join(path, "severity"))
            .map(|s| (s, n)),
        None => {
            sink.error(
                file,
                spec.pos,
                &join(path, "severity"),
                "missing required field",
            );
            None
        }
    };
    let cf = join(path, "condition");
    let Some(c) = get(spec, "condition") else {
        sink.error(file, spec.pos, &cf, "missing required field");
        return None;
    };
    sink.map(file, c, &cf)?;
    sink.unknown_keys(
        file,
        c,
        &cf,
        &["kind", "op", "threshold", "lookbackWindow", "alertAfter"],
        IGNORED,
    );
    if let Some(k) = get(c, "kind") {
        let kind = sink.string(file, k, &join(&cf, "kind"))?;
        if kind != "burnrate" {
            sink.error(
                file,
                k.pos,
                &join(&cf, "kind"),
                format!("condition kind {kind:?} is not supported (only burnrate)"),
            );
            return None;
        }
    }
    let op_ok = match get(c, "op") {
        Some(n) => match sink.string(file, n, &join(&cf, "op")).as_deref() {
            Some("gt" | "gte") => true,
            Some(op @ ("lt" | "lte")) => {
                sink.error(
                    file,
                    n.pos,
                    &join(&cf, "op"),
                    format!(
                        "op {op}: burnrate rules fire when the burn rate is at or above a \
                         threshold; an alert on a burn rate below it cannot be expressed"
                    ),
                );
                false
            }
            Some(op) => {
                sink.error(
                    file,
                    n.pos,
                    &join(&cf, "op"),
                    format!("must be gt, gte, lt or lte, got {op:?}"),
                );
                false
            }
            None => false,
        },
        None => {
            sink.error(file, c.pos, &join(&cf, "op"), "missing required field");
            false
        }
    };
    let threshold = match get(c, "threshold") {
        Some(n) => sink.number(file, n, &join(&cf, "threshold")),
        None => {
            sink.error(
                file,
                c.pos,
                &join(&cf, "threshold"),
                "missing required field",
            );
            None
        }
    };
    let long = match get(c, "lookbackWindow") {
        Some(n) => duration_val(file, n, &join(&cf, "lookbackWindow"), sink),
        None => {
            sink.error(
                file,
                c.pos,
                &join(&cf, "lookbackWindow"),
                "missing required field",
            );
            None
        }
    };
    let alert_after = match get(c, "alertAfter") {
        Some(n) => {
            let v = duration_val(file, n, &join(&cf, "alertAfter"), sink)?;
            let d = PromDuration::parse(&v.value).ok()?;
            Some((d, v))
        }
        None => None,
    };
    let (severity, sev_node) = severity?;
    let (decision, known) = decision_for(&severity);
    if !known {
        sink.warning(
            file,
            sev_node.pos,
            &join(path, "severity"),
            format!(
                "severity {severity:?} is not one burnrate knows (page, critical, ticket, \
                 warning, ...): converted to decision warn"
            ),
        );
    }
    if !op_ok {
        return None;
    }
    let long = long?;
    Some(Rule {
        doc: RuleDoc {
            decision,
            burn: threshold?,
            long: long.value,
            short: None,
            from: origin(file, c, &cf),
            note: format!("{label}, severity {severity}"),
        },
        alert_after,
    })
}

/// A severity's decision, and whether the severity was recognized.
fn decision_for(severity: &str) -> (Decision, bool) {
    match severity.trim().to_ascii_lowercase().as_str() {
        "circuit_break" | "page" | "critical" | "sev1" | "sev-1" | "p1" | "emergency" => {
            (Decision::CircuitBreak, true)
        }
        "scale" => (Decision::Scale, true),
        "warn" | "warning" | "ticket" | "sev2" | "sev-2" | "sev3" | "sev-3" | "p2" | "p3"
        | "info" => (Decision::Warn, true),
        _ => (Decision::Warn, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_become_percentages_without_rounding() {
        assert_eq!(ratio_to_percent("0.999").as_deref(), Some("99.9"));
        assert_eq!(ratio_to_percent("0.99").as_deref(), Some("99"));
        assert_eq!(ratio_to_percent("0.9995").as_deref(), Some("99.95"));
        assert_eq!(ratio_to_percent(".5").as_deref(), Some("50"));
        assert_eq!(ratio_to_percent("0.05").as_deref(), Some("5"));
        assert_eq!(ratio_to_percent("9.99e-1").as_deref(), Some("99.9"));
        assert_eq!(ratio_to_percent("1"), None);
        assert_eq!(ratio_to_percent("99.9"), None);
    }

    #[test]
    fn shorthand_durations() {
        assert_eq!(duration("28d").unwrap(), "28d");
        assert_eq!(duration("1Y").unwrap(), "1y");
        assert!(duration("1M").is_err());
        assert!(duration("1Q").is_err());
        assert!(duration("5 minutes").is_err());
    }

    #[test]
    fn severities() {
        assert_eq!(decision_for("page"), (Decision::CircuitBreak, true));
        assert_eq!(decision_for("Warning"), (Decision::Warn, true));
        assert_eq!(decision_for("sev4"), (Decision::Warn, false));
    }
}
