//! One OpenSLO `SLO` object to burnrate/v1 SLOs: its service, labels, rolling window and
//! objectives (a ratio target becomes a percentage textually, so nothing is rounded).

use super::alerts::alert_policies;
use super::sli::indicator;
use super::{IGNORED, Index, Object, Translated, origin};
use crate::duration::PromDuration;
use crate::import::LabelSet;
use crate::import::emit::{SloDoc, Val};
use crate::spec::fields::{Sink, get, join, key_node};
use crate::spec::yaml::{Node, Value};
use std::path::Path;

pub(super) fn translate_slo(obj: &Object, index: &Index, sink: &mut Sink) -> Translated {
    let errors_before = sink.errors();
    let file = obj.file;
    let id = obj.id();
    let mut t = Translated::default();
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
    let known = [
        "description",
        "service",
        "indicator",
        "indicatorRef",
        "timeWindow",
        "budgetingMethod",
        "objectives",
        "alertPolicies",
    ];
    let Some(SpecHead {
        spec,
        spec_path,
        service,
        description,
    }) = spec_head(obj, &known, IGNORED, sink)
    else {
        return t;
    };
    t.service = service;
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
            group_by: Vec::new(),
            matrix: matrix.clone().into(),
            for_: for_.clone(),
        });
    }
    t
}

/// What every SLO version shares: the `spec` mapping (its keys outside `known` warned about,
/// `why` saying whose fields they are not), the service, the description (else the
/// `displayName`), and the budgeting method checked.
pub(super) struct SpecHead<'a> {
    pub(super) spec: &'a Node,
    pub(super) spec_path: String,
    pub(super) service: Option<Val>,
    pub(super) description: Option<Val>,
}

pub(super) fn spec_head<'a>(
    obj: &Object<'a>,
    known: &[&str],
    why: &str,
    sink: &mut Sink,
) -> Option<SpecHead<'a>> {
    let (file, id) = (obj.file, obj.id());
    let meta = get(obj.node, "metadata").expect("checked by object()");
    let spec_path = format!("{id}.spec");
    let spec = sink.required(file, obj.node, "spec", &spec_path)?;
    sink.map(file, spec, &spec_path)?;
    let field = |k: &str| join(&spec_path, k);
    sink.unknown_keys(file, spec, &spec_path, known, why);
    let service = sink
        .required(file, spec, "service", &field("service"))
        .and_then(|n| {
            sink.string(file, n, &field("service"))
                .map(|s| Val::new(s, origin(file, n, &field("service"))))
        });
    let description = get(spec, "description")
        .map(|n| (n, field("description")))
        .or_else(|| get(meta, "displayName").map(|n| (n, format!("{id}.metadata.displayName"))))
        .and_then(|(n, f)| {
            sink.string(file, n, &f)
                .map(|s| Val::new(s.trim_end(), origin(file, n, &f)))
        });
    budgeting_method(file, spec, &spec_path, sink);
    Some(SpecHead {
        spec,
        spec_path,
        service,
        description,
    })
}

/// `budgetingMethod`: only Occurrences (bad/total events) is a burn rate.
pub(super) fn budgeting_method(file: &Path, spec: &Node, spec_path: &str, sink: &mut Sink) {
    let field = |k: &str| join(spec_path, k);
    if let Some(n) = sink.required(file, spec, "budgetingMethod", &field("budgetingMethod")) {
        match sink.string(file, n, &field("budgetingMethod")).as_deref() {
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
        }
    }
}

/// `metadata.labels`: values are strings or lists of strings (joined with `,`); keys that are
/// not Prometheus label names have their other characters replaced by `_` (with a warning).
pub(super) fn labels(file: &Path, node: &Node, path: &str, sink: &mut Sink) -> Vec<(Val, Val)> {
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
pub(super) fn duration(text: &str) -> Result<String, String> {
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

pub(super) fn duration_val(file: &Path, node: &Node, field: &str, sink: &mut Sink) -> Option<Val> {
    let text = sink.string(file, node, field)?;
    match duration(&text) {
        Ok(d) => Some(Val::new(d, origin(file, node, field))),
        Err(e) => {
            sink.error(file, node.pos, field, e);
            None
        }
    }
}

pub(super) fn time_window(file: &Path, spec: &Node, path: &str, sink: &mut Sink) -> Option<Val> {
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
    let period = sink
        .required(file, item, "duration", &join(&field, "duration"))
        .and_then(|n| duration_val(file, n, &join(&field, "duration"), sink));
    period.filter(|_| rolling_ok)
}

/// `spec.objectives`, each item read by `each` (given its node and field path): all of them,
/// or `None` when one fails (every item is read, so every problem is reported).
pub(super) fn each_objective<T>(
    file: &Path,
    spec: &Node,
    path: &str,
    sink: &mut Sink,
    mut each: impl FnMut(&Node, &str, &mut Sink) -> Option<T>,
) -> Option<Vec<T>> {
    let field = join(path, "objectives");
    let node = sink.required(file, spec, "objectives", &field)?;
    let items = sink.seq(file, node, &field)?;
    if items.is_empty() {
        sink.error(file, node.pos, &field, "must list at least one objective");
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match each(item, &format!("{field}[{i}]"), sink) {
            Some(t) => out.push(t),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// Each objective's target as a percentage, and its display name.
fn objectives(
    file: &Path,
    spec: &Node,
    path: &str,
    sink: &mut Sink,
) -> Option<Vec<(Val, Option<String>)>> {
    each_objective(file, spec, path, sink, |item, f, sink| {
        objective(file, item, f, sink)
    })
}

/// One objective: its target as a percentage, and its display name.
fn objective(file: &Path, item: &Node, f: &str, sink: &mut Sink) -> Option<(Val, Option<String>)> {
    sink.map(file, item, f)?;
    let mut ok = true;
    sink.unknown_keys(
        file,
        item,
        f,
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
                &join(f, key),
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
                &join(f, key),
                "ignored: only meaningful for thresholdMetric SLIs or Timeslices budgeting",
            );
        }
    }
    let target = get(item, "target");
    let percent = get(item, "targetPercent");
    let objective = match (target, percent) {
        (Some(n), None) => sink.number(file, n, &join(f, "target")).and_then(|text| {
            match ratio_to_percent(&text) {
                Some(p) => Some(Val::new(p, origin(file, n, &join(f, "target")))),
                None => {
                    sink.error(
                        file,
                        n.pos,
                        &join(f, "target"),
                        format!("must be a ratio between 0 and 1 (0.999 is 99.9%), got {text}"),
                    );
                    None
                }
            }
        }),
        (None, Some(n)) => sink
            .number(file, n, &join(f, "targetPercent"))
            .map(|text| Val::new(text, origin(file, n, &join(f, "targetPercent")))),
        (Some(_), Some(n)) => {
            sink.error(
                file,
                n.pos,
                &join(f, "targetPercent"),
                "give target or targetPercent, not both",
            );
            None
        }
        (None, None) => {
            sink.error(
                file,
                item.pos,
                &join(f, "target"),
                "missing required field (target or targetPercent)",
            );
            None
        }
    };
    let display = get(item, "displayName")
        .and_then(|n| n.as_scalar())
        .map(str::to_string);
    objective.filter(|_| ok).map(|o| (o, display))
}

/// A ratio written as a decimal (`0.999`) as a percentage text (`99.9`), by moving the
/// decimal point: no float rounding, so the objective is the one a user would write.
pub(super) fn ratio_to_percent(text: &str) -> Option<String> {
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
}
