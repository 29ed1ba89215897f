//! An OpenSLO SLI (`indicator` inline or by `indicatorRef`) to burnrate error events: the
//! `ratioMetric` shapes and their metric sources, which must speak PromQL.

use super::{IGNORED, Index, PROMQL_SOURCES, origin};
use crate::import::emit::{Events, Origin, Val};
use crate::import::promql;
use crate::import::promql::Shape;
use crate::spec::fields::{Sink, get, join, key_node};
use crate::spec::yaml::Node;
use std::path::Path;

/// The SLI (inline or by reference) as burnrate error events.
pub(super) fn indicator(
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
            let sli = sink.required(file, n, "spec", &join(&f, "spec"))?;
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
            let sli_spec = sink.required(sli.file, sli.node, "spec", &sli_path)?;
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

pub(super) fn ratio_metric(
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
    let rm = sink.required(file, sli, "ratioMetric", &f)?;
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
    let total_q = sink
        .required(file, rm, "total", &join(&f, "total"))
        .and_then(|n| metric_query(file, n, &join(&f, "total"), index, sink));
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

pub(super) fn shape(q: Val, counter: Option<bool>, sink: &mut Sink) -> Option<(Shape, Origin)> {
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
pub(super) fn metric_query(
    file: &Path,
    node: &Node,
    path: &str,
    index: &Index,
    sink: &mut Sink,
) -> Option<Val> {
    sink.map(file, node, path)?;
    sink.unknown_keys(file, node, path, &["metricSource"], IGNORED);
    let f = join(path, "metricSource");
    let ms = sink.required(file, node, "metricSource", &f)?;
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
                            sink.missing(ds.file, ds.node.pos, &field);
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
    // A `?` below ends the whole read, as for the other parts of the source.
    let query = match sink.required(file, ms, "spec", &join(&f, "spec")) {
        None => None,
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
            sink.required(file, s, "query", &join(&sf, "query"))
                .and_then(|q| {
                    sink.string(file, q, &join(&sf, "query"))
                        .map(|text| Val::new(text.trim(), origin(file, q, &join(&sf, "query"))))
                })
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
