//! An OpenSLO v1alpha `SLO` (`apiVersion: openslo/v1alpha`), read as Sloth reads it
//! (slok/sloth `internal/openslo/spec.go`): Sloth is where teams have such files, and its
//! rules are what they alert and chart with today.
//!
//! - one burnrate SLO per objective, named `NAME-i` as Sloth names it (even for one);
//! - `ratioMetrics.good`/`total` (`source: prometheus` or `sloth`, `queryType: promql`) as
//!   OpenSLO v1's good/total: `bad_query` is total - good;
//! - `target` (a ratio) → objective (a percentage, moved textually);
//! - `timeWindows[0]` (`count` × `unit`) → period; Sloth takes every window as 30 days, so
//!   another length is a warning;
//! - no alert rules (`matrix: {error: []}`): Sloth disables both alerts of these SLOs.

use super::sli::shape;
use super::slo::{SpecHead, each_objective, ratio_to_percent, spec_head};
use super::{Object, Translated, origin};
use crate::import::emit::{Events, MatrixDoc, SloDoc, Val};
use crate::import::promql;
use crate::spec::fields::{Sink, get, join, key_node};
use crate::spec::yaml::Node;
use std::path::Path;

const IGNORED: &str = "not part of OpenSLO v1alpha";
/// The sources Sloth accepts for a v1alpha ratio (`getSLI`).
const SOURCES: [&str; 2] = ["prometheus", "sloth"];

pub(super) fn translate_slo(obj: &Object, sink: &mut Sink) -> Translated {
    let errors_before = sink.errors();
    let file = obj.file;
    let id = obj.id();
    let mut t = Translated::default();
    let meta = get(obj.node, "metadata").expect("checked by object()");
    sink.unknown_keys(
        file,
        meta,
        &format!("{id}.metadata"),
        &["name", "displayName"],
        IGNORED,
    );
    let known = [
        "timeWindows",
        "budgetingMethod",
        "description",
        "indicator",
        "service",
        "objectives",
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
    let field = |k: &str| join(&spec_path, k);
    if let Some(n) = key_node(spec, "indicator") {
        sink.error(
            file,
            n.pos,
            &field("indicator"),
            "a v1alpha indicator is a thresholdMetric, which compares single values with a \
             threshold; burnrate's burn rate needs a ratio of bad to total events \
             (objectives[].ratioMetrics)",
        );
    }
    let period = time_windows(file, spec, &spec_path, sink);
    let objectives = objectives(file, spec, &spec_path, sink);
    t.ok = sink.errors() == errors_before;
    let (Some(period), Some(objectives), true) = (period, objectives, t.ok) else {
        return t;
    };
    for (i, (objective, events, from)) in objectives.into_iter().enumerate() {
        t.slos.push(SloDoc {
            from: origin(file, obj.node, &id),
            notes: vec![format!(
                "OpenSLO v1alpha {id}, objective {i}: one SLO per objective, named as Sloth \
                 names it; bad_query is total - good."
            )],
            name: Val::new(format!("{}-{i}", obj.name), from.clone()),
            description: description.clone(),
            period: period.clone(),
            objective,
            events,
            group_by: Vec::new(),
            matrix: MatrixDoc::Silent {
                from,
                note: "Sloth generates no alerts for OpenSLO v1alpha SLOs".to_string(),
            },
            for_: None,
        });
    }
    t
}

/// `timeWindows: [{count, unit}]` as a period.
fn time_windows(file: &Path, spec: &Node, path: &str, sink: &mut Sink) -> Option<Val> {
    let field = join(path, "timeWindows");
    let node = sink.required(file, spec, "timeWindows", &field)?;
    let items = sink.seq(file, node, &field)?;
    if items.len() != 1 {
        sink.error(
            file,
            node.pos,
            &field,
            format!(
                "must hold exactly one time window, got {} (Sloth reads only one)",
                items.len()
            ),
        );
        return None;
    }
    let field = format!("{field}[0]");
    let item = &items[0];
    sink.map(file, item, &field)?;
    sink.unknown_keys(
        file,
        item,
        &field,
        &["count", "unit", "isRolling", "calendar"],
        IGNORED,
    );
    if let Some(n) = key_node(item, "calendar") {
        sink.error(
            file,
            n.pos,
            &join(&field, "calendar"),
            "calendar-aligned time windows are not supported: burnrate's error budget is over \
             a rolling period (Sloth's too)",
        );
        return None;
    }
    let count = sink
        .required(file, item, "count", &join(&field, "count"))
        .and_then(|n| {
            let text = sink.number(file, n, &join(&field, "count"))?;
            match text.parse::<u32>() {
                Ok(c) if c > 0 => Some(c),
                _ => {
                    sink.error(
                        file,
                        n.pos,
                        &join(&field, "count"),
                        format!("must be a whole number above 0, got {text}"),
                    );
                    None
                }
            }
        });
    let unit_node = sink.required(file, item, "unit", &join(&field, "unit"));
    let unit = unit_node.and_then(|n| {
        let unit = sink.string(file, n, &join(&field, "unit"))?;
        let suffix = match unit.as_str() {
            "Second" => "s",
            "Day" => "d",
            "Week" => "w",
            "Month" | "Quarter" => {
                sink.error(
                    file,
                    n.pos,
                    &join(&field, "unit"),
                    format!(
                        "{unit}s have no fixed length; burnrate needs a fixed rolling duration \
                         (e.g. count: 30, unit: Day)"
                    ),
                );
                return None;
            }
            other => {
                sink.error(
                    file,
                    n.pos,
                    &join(&field, "unit"),
                    format!("must be Second, Day, Week, Month or Quarter, got {other:?}"),
                );
                return None;
            }
        };
        Some(suffix)
    });
    let (count, unit, unit_node) = (count?, unit?, unit_node?);
    let period = format!("{count}{unit}");
    let seconds = u64::from(count)
        * match unit {
            "s" => 1,
            "d" => 86_400,
            _ => 7 * 86_400,
        };
    if seconds != 30 * 86_400 {
        sink.warning(
            file,
            unit_node.pos,
            &field,
            format!(
                "Sloth evaluates every OpenSLO v1alpha SLO over 30 days whatever its time window \
                 (and refuses other counts of days); burnrate takes the window as written, \
                 {period}"
            ),
        );
    }
    Some(Val::new(period, origin(file, item, &field)))
}

/// Each objective: its objective (percent), its events, and where it is.
fn objectives(
    file: &Path,
    spec: &Node,
    path: &str,
    sink: &mut Sink,
) -> Option<Vec<(Val, Events, crate::import::emit::Origin)>> {
    each_objective(file, spec, path, sink, |item, f, sink| {
        objective(file, item, f, sink)
            .map(|(objective, events)| (objective, events, origin(file, item, f)))
    })
}

fn objective(file: &Path, item: &Node, path: &str, sink: &mut Sink) -> Option<(Val, Events)> {
    sink.map(file, item, path)?;
    sink.unknown_keys(
        file,
        item,
        path,
        &[
            "displayName",
            "value",
            "ratioMetrics",
            "target",
            "timeSliceTarget",
            "op",
        ],
        IGNORED,
    );
    for key in ["op", "value", "timeSliceTarget"] {
        if let Some(n) = key_node(item, key) {
            sink.warning(
                file,
                n.pos,
                &join(path, key),
                "ignored: only meaningful for thresholdMetric SLIs or Timeslices budgeting",
            );
        }
    }
    let target = sink
        .required(file, item, "target", &join(path, "target"))
        .and_then(|n| {
            let f = join(path, "target");
            let text = sink.number(file, n, &f)?;
            match ratio_to_percent(&text) {
                Some(p) => Some(Val::new(p, origin(file, n, &f))),
                None => {
                    sink.error(
                        file,
                        n.pos,
                        &f,
                        format!("must be a ratio between 0 and 1 (0.999 is 99.9%), got {text}"),
                    );
                    None
                }
            }
        });
    let f = join(path, "ratioMetrics");
    let events = sink
        .required(file, item, "ratioMetrics", &f)
        .and_then(|rm| {
            sink.map(file, rm, &f)?;
            sink.unknown_keys(file, rm, &f, &["good", "total", "counter"], IGNORED);
            let counter = match get(rm, "counter") {
                Some(n) => Some(sink.boolean(file, n, &join(&f, "counter"))?),
                None => None,
            };
            let good = metric(file, rm, &f, "good", sink);
            let total = metric(file, rm, &f, "total", sink);
            let good = shape(good?, counter, sink);
            let total = shape(total?, counter, sink);
            let ((good, good_from), (total, total_from)) = (good?, total?);
            let total = total.into_query();
            Some(Events::Queries {
                bad: Val::new(promql::bad_from_good(&good.into_query(), &total), good_from),
                total: Val::new(total, total_from),
            })
        });
    Some((target?, events?))
}

/// `good`/`total`: `{source, queryType, query}`, a PromQL query.
fn metric(file: &Path, parent: &Node, path: &str, key: &str, sink: &mut Sink) -> Option<Val> {
    let f = join(path, key);
    let node = sink.required(file, parent, key, &f)?;
    sink.map(file, node, &f)?;
    sink.unknown_keys(file, node, &f, &["source", "queryType", "query"], IGNORED);
    let source = sink
        .required(file, node, "source", &join(&f, "source"))
        .and_then(|n| Some((sink.string(file, n, &join(&f, "source"))?, n)));
    if let Some((source, n)) = &source
        && !SOURCES.contains(&source.as_str())
    {
        sink.error(
            file,
            n.pos,
            &join(&f, "source"),
            format!(
                "source {source:?}: Sloth reads only prometheus (or sloth) sources, and burnrate \
                 evaluates PromQL against a Prometheus-compatible API"
            ),
        );
    }
    let query_type = sink
        .required(file, node, "queryType", &join(&f, "queryType"))
        .and_then(|n| Some((sink.string(file, n, &join(&f, "queryType"))?, n)));
    if let Some((t, n)) = &query_type
        && t != "promql"
    {
        sink.error(
            file,
            n.pos,
            &join(&f, "queryType"),
            format!("query type {t:?}: only promql can be evaluated (as in Sloth)"),
        );
    }
    let query = sink
        .required(file, node, "query", &join(&f, "query"))
        .and_then(|n| {
            sink.string(file, n, &join(&f, "query"))
                .map(|q| Val::new(q.trim(), origin(file, n, &join(&f, "query"))))
        });
    let ok = source.is_some_and(|(s, _)| SOURCES.contains(&s.as_str()))
        && query_type.is_some_and(|(t, _)| t == "promql");
    query.filter(|_| ok)
}
