//! Sloth specs: `version: prometheus/v1` files and the Kubernetes `PrometheusServiceLevel`
//! (`apiVersion: sloth.slok.dev/v1`), which holds the same fields in camelCase under `spec`.
//!
//! Mapping (see the README, "Importing Sloth, OpenSLO and Pyrra specs"):
//! - `service`, `labels`, `slos[].name`, `description` map one to one; `objective` is a
//!   percentage in both.
//! - `sli.events.error_query`/`total_query` become `bad_query`/`total_query` (both use
//!   `{{.window}}`, and Sloth computes `error / total` as burnrate does).
//! - `sli.raw.error_ratio_query` becomes `bad_query: RATIO` with `total_query:
//!   (RATIO) == bool (RATIO)`: bad/total is the ratio itself, bit for bit.
//! - `sli.plugin` and SLO plugins are Go code Sloth runs: an error.
//! - The period is Sloth's default, 30d (the prometheus/v1 spec has no period field).
//! - `alerting`: Sloth's multiwindow alerts over its 30d windows catalog
//!   (`internal/alert/windows/google-30d.yaml`), factor = budget % × period / long window:
//!   page (2% in 1h/5m, 5% in 6h/30m) → `circuit_break`, ticket (10% in 1d/2h, 10% in
//!   3d/6h) → `warn`; `--windows` AlertWindows files of period 30d replace these windows
//!   (`sloth_windows`), as `sloth generate -w` does. A disabled alert has no rules, and with both disabled the SLO has
//!   none (`matrix: {error: []}`: it reports burns and budget and decides `ok`, as Sloth
//!   keeps such an SLO for dashboards); alert names, labels and annotations have no
//!   burnrate equivalent (a warning says so).

use super::emit::{Events, MatrixDoc, RuleDoc, ServiceDoc, SloDoc, Val, origin};
use super::promql;
use super::sloth_windows::{self, AlertWindows};
use super::{LabelSet, common_labels};
use crate::decision::Decision;
use crate::spec::WINDOW_PLACEHOLDER;
use crate::spec::fields::{Sink, get, join, key_node};
use crate::spec::yaml::{Node, Value};
use std::path::{Path, PathBuf};

/// Sloth's default SLO period (`--default-slo-period`), in hours.
const PERIOD_HOURS: f64 = 30.0 * 24.0;
const PERIOD: &str = "30d";

/// The alert windows of Sloth specs (whose period is always Sloth's default, 30d): those of
/// a `--windows` file of that period, else Sloth's defaults. Windows of another period apply
/// to no SLO burnrate reads as Sloth does, which a warning says.
pub(crate) fn alert_windows(files: &[(PathBuf, String)], sink: &mut Sink) -> AlertWindows {
    let mut chosen = sloth_windows::google_30d();
    let default_ms = chosen.period_ms;
    for w in sloth_windows::read(files, sink) {
        if w.period_ms == default_ms {
            chosen = w;
            continue;
        }
        let from = w.from.as_ref().expect("read from a file");
        sink.warning(
            &from.file,
            from.pos,
            &from.field,
            format!(
                "not used: Sloth specs (prometheus/v1, PrometheusServiceLevel) have Sloth's \
                 default period, {PERIOD}, and Sloth generates no alerts for OpenSLO v1alpha \
                 SLOs; only {PERIOD} windows apply"
            ),
        );
    }
    chosen
}

/// Field names of the two flavours.
struct Names {
    prefix: &'static str,
    top: &'static [&'static str],
    slo_plugins: &'static str,
    error_query: &'static str,
    total_query: &'static str,
    error_ratio_query: &'static str,
    page_alert: &'static str,
    ticket_alert: &'static str,
    flavour: &'static str,
}

const PROMETHEUS_V1: Names = Names {
    prefix: "",
    top: &["version", "service", "labels", "slo_plugins", "slos"],
    slo_plugins: "slo_plugins",
    error_query: "error_query",
    total_query: "total_query",
    error_ratio_query: "error_ratio_query",
    page_alert: "page_alert",
    ticket_alert: "ticket_alert",
    flavour: "Sloth prometheus/v1",
};

const K8S_V1: Names = Names {
    prefix: "spec",
    top: &["service", "labels", "sloPlugins", "slos"],
    slo_plugins: "sloPlugins",
    error_query: "errorQuery",
    total_query: "totalQuery",
    error_ratio_query: "errorRatioQuery",
    page_alert: "pageAlert",
    ticket_alert: "ticketAlert",
    flavour: "Sloth sloth.slok.dev/v1 PrometheusServiceLevel",
};

const IGNORED: &str = "Sloth ignores it too";

/// Translates every document of a Sloth file (Sloth accepts several, separated by `---`).
pub(crate) fn translate_file(
    file: &Path,
    docs: &[Node],
    windows: &AlertWindows,
    sink: &mut Sink,
) -> Vec<(ServiceDoc, bool)> {
    let mut out = Vec::new();
    for doc in docs {
        if matches!(doc.value, Value::Null) {
            continue;
        }
        if get(doc, "version").is_some() {
            out.extend(translate(file, doc, &PROMETHEUS_V1, windows, sink));
        } else if get(doc, "apiVersion").is_some() {
            out.extend(translate(file, doc, &K8S_V1, windows, sink));
        } else {
            sink.error(
                file,
                doc.pos,
                "",
                "this document has neither `version: prometheus/v1` (Sloth) nor an apiVersion",
            );
        }
    }
    out
}

/// One Sloth document; the flag says whether it translated without error.
fn translate(
    file: &Path,
    doc: &Node,
    names: &Names,
    windows: &AlertWindows,
    sink: &mut Sink,
) -> Option<(ServiceDoc, bool)> {
    let errors_before = sink.errors();
    sink.map(file, doc, "")?;
    let root = if names.prefix.is_empty() {
        let version = get(doc, "version").and_then(|n| sink.string(file, n, "version"));
        if let (Some(v), Some(n)) = (version, get(doc, "version"))
            && v != "prometheus/v1"
        {
            sink.error(
                file,
                n.pos,
                "version",
                format!("Sloth spec version {v:?} is not supported (only \"prometheus/v1\")"),
            );
        }
        doc
    } else {
        let api = get(doc, "apiVersion").and_then(|n| sink.string(file, n, "apiVersion"));
        if let (Some(v), Some(n)) = (api, get(doc, "apiVersion"))
            && v != "sloth.slok.dev/v1"
        {
            sink.error(
                file,
                n.pos,
                "apiVersion",
                format!("{v:?} is not supported (only \"sloth.slok.dev/v1\")"),
            );
        }
        if let Some(n) = sink.required(file, doc, "kind", "kind")
            && let Some(k) = sink.string(file, n, "kind")
            && k != "PrometheusServiceLevel"
        {
            let why = if k == "AlertWindows" {
                "a Sloth AlertWindows is not an SLO spec: give it with --windows (as Sloth \
                 takes it with -w)"
                    .to_string()
            } else {
                format!("Sloth kind {k:?} is not an SLO spec (expected PrometheusServiceLevel)")
            };
            sink.error(file, n.pos, "kind", why);
            return None;
        }
        sink.unknown_keys(
            file,
            doc,
            "",
            &["apiVersion", "kind", "metadata", "spec", "status"],
            IGNORED,
        );
        let spec = sink.required(file, doc, "spec", "spec")?;
        sink.map(file, spec, "spec")?;
        spec
    };
    let path = |key: &str| join(names.prefix, key);
    sink.unknown_keys(file, root, names.prefix, names.top, IGNORED);

    let service = sink
        .required(file, root, "service", &path("service"))
        .and_then(|n| {
            sink.string(file, n, &path("service"))
                .map(|s| Val::new(s, origin(file, n, &path("service"))))
        });
    let mut labels = get(root, "labels")
        .map(|n| read_labels(file, n, &path("labels"), sink))
        .unwrap_or_default();
    if let Some(n) = get(root, names.slo_plugins) {
        plugins_error(file, n, &path(names.slo_plugins), sink);
    }
    let Some(slos_node) = get(root, "slos") else {
        sink.error(
            file,
            root.pos,
            &path("slos"),
            "missing required field (at least one SLO)",
        );
        return None;
    };
    let items = sink.seq(file, slos_node, &path("slos"))?;
    if items.is_empty() {
        sink.error(
            file,
            slos_node.pos,
            &path("slos"),
            "must list at least one SLO",
        );
    }
    let mut slos = Vec::new();
    let mut slo_labels = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{}[{i}]", path("slos"));
        let field = join(&p, "labels");
        slo_labels.push(get(item, "labels").map(|n| LabelSet {
            labels: read_labels(file, n, &field, sink),
            from: origin(file, n, &field),
        }));
        if let Some(slo) = translate_slo(file, item, &p, names, windows, sink) {
            slos.push(slo);
        }
    }
    for (k, v) in common_labels(&slo_labels, sink) {
        // An SLO label wins over a service label of the same name, as in Sloth's merge.
        labels.retain(|(lk, _)| lk.value != k.value);
        labels.push((k, v));
    }
    let service = service?;
    Some((
        ServiceDoc {
            file: file.to_path_buf(),
            source: format!("{} ({})", file.display(), names.flavour),
            notes: vec![
                match &windows.from {
                    None => format!(
                        "period: Sloth's default SLO period ({PERIOD}). Sloth's alert factors \
                         depend on the period (budget % x period / long window): if Sloth runs \
                         with --default-slo-period 28d, change period to 28d and replace each \
                         SLO's rules with `matrix: {{preset: sloth}}`, which computes Sloth's \
                         factors for the period (changing period alone keeps the 30d factors)."
                    ),
                    Some(_) => format!(
                        "period: Sloth's default SLO period ({PERIOD}). Sloth's alert factors \
                         depend on the period (errorBudgetPercent x period / longWindow): for \
                         another --default-slo-period, change period and recompute each burn \
                         from the AlertWindows of that period (changing period alone keeps \
                         these factors)."
                    ),
                },
                format!(
                    "alerting: page -> circuit_break, ticket -> warn, with {} (Sloth fires on \
                     burn > factor, burnrate on burn >= factor); the alert is burnrate's \
                     SLOBurnRate, not alerting.name.",
                    match &windows.from {
                        Some(from) => format!("the AlertWindows of {}", from.file.display()),
                        None => "Sloth's default 30d windows".to_string(),
                    }
                ),
            ],
            service,
            labels,
            slos,
        },
        sink.errors() == errors_before,
    ))
}

fn read_labels(file: &Path, node: &Node, path: &str, sink: &mut Sink) -> Vec<(Val, Val)> {
    let Some(entries) = sink.map(file, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let name = k.as_scalar().unwrap_or_default().to_string();
        let field = join(path, &name);
        let Some(value) = sink.string(file, v, &field) else {
            continue;
        };
        out.push((
            Val::new(name, origin(file, k, &field)),
            Val::new(value, origin(file, v, &field)),
        ));
    }
    out
}

fn plugins_error(file: &Path, node: &Node, path: &str, sink: &mut Sink) {
    let chain = get(node, "chain").map(|c| match &c.value {
        Value::Seq(items) => items.len(),
        _ => 1,
    });
    let override_previous =
        get(node, "overridePrevious").and_then(|n| n.as_scalar()) == Some("true");
    if chain.unwrap_or(0) > 0 || override_previous {
        sink.error(
            file,
            node.pos,
            path,
            "Sloth SLO plugins rewrite the rules Sloth generates; burnrate cannot run them \
             (remove the plugin chain, or write the SLO as burnrate/v1)",
        );
    }
}

fn translate_slo(
    file: &Path,
    node: &Node,
    path: &str,
    names: &Names,
    windows: &AlertWindows,
    sink: &mut Sink,
) -> Option<SloDoc> {
    sink.map(file, node, path)?;
    sink.unknown_keys(
        file,
        node,
        path,
        &[
            "name",
            "description",
            "objective",
            "plugins",
            "labels",
            "sli",
            "alerting",
        ],
        IGNORED,
    );
    let errors_before = sink.errors();
    let field = |k: &str| join(path, k);
    let name = sink
        .required(file, node, "name", &field("name"))
        .and_then(|n| {
            sink.string(file, n, &field("name"))
                .map(|s| Val::new(s, origin(file, n, &field("name"))))
        });
    let description = get(node, "description").and_then(|n| {
        sink.string(file, n, &field("description"))
            .map(|s| Val::new(s.trim_end(), origin(file, n, &field("description"))))
    });
    let objective = sink
        .required(file, node, "objective", &field("objective"))
        .and_then(|n| {
            let s = sink.number(file, n, &field("objective"))?;
            let v: f64 = s.parse().ok()?;
            if !(v > 0.0 && v < 100.0) {
                sink.error(
                    file,
                    n.pos,
                    &field("objective"),
                    format!(
                        "must be a percentage strictly between 0 and 100, got {s} (an objective \
                         of 100 leaves no error budget to burn)"
                    ),
                );
                return None;
            }
            Some(Val::new(s, origin(file, n, &field("objective"))))
        });
    if let Some(n) = get(node, "plugins") {
        plugins_error(file, n, &field("plugins"), sink);
    }
    let mut notes = Vec::new();
    let events = sink
        .required(file, node, "sli", &field("sli"))
        .and_then(|sli| translate_sli(file, sli, &field("sli"), names, sink, &mut notes));
    let matrix = translate_alerting(file, node, &field("alerting"), names, windows, sink);
    if sink.errors() != errors_before {
        return None;
    }
    let slo_origin = origin(file, node, path);
    Some(SloDoc {
        notes,
        name: name?,
        description,
        period: Val::new(PERIOD, slo_origin.clone()),
        objective: objective?,
        events: events?,
        group_by: Vec::new(),
        matrix: matrix?,
        for_: None,
        from: slo_origin,
    })
}

fn translate_sli(
    file: &Path,
    sli: &Node,
    path: &str,
    names: &Names,
    sink: &mut Sink,
    notes: &mut Vec<String>,
) -> Option<Events> {
    sink.map(file, sli, path)?;
    sink.unknown_keys(file, sli, path, &["events", "raw", "plugin"], IGNORED);
    let kinds: Vec<&str> = ["events", "raw", "plugin"]
        .into_iter()
        .filter(|k| get(sli, k).is_some())
        .collect();
    if kinds.len() != 1 {
        let message = if kinds.is_empty() {
            "needs one of `events`, `raw` or `plugin`".to_string()
        } else {
            format!("only one SLI type may be used, got {}", kinds.join(" and "))
        };
        sink.error(file, sli.pos, path, message);
        return None;
    }
    let field = join(path, kinds[0]);
    let node = get(sli, kinds[0])?;
    match kinds[0] {
        "events" => {
            sink.map(file, node, &field)?;
            sink.unknown_keys(
                file,
                node,
                &field,
                &[names.error_query, names.total_query],
                IGNORED,
            );
            let bad = query(file, node, &field, names.error_query, sink);
            let total = query(file, node, &field, names.total_query, sink);
            let (bad, total) = (bad?, total?);
            // `sum(rate(SEL[{{.window}}]))` is what burnrate measures for a selector: keep
            // the simpler form (it also replays from history files).
            Some(
                match (
                    promql::rate_selector(&bad.value),
                    promql::rate_selector(&total.value),
                ) {
                    (Some(b), Some(t)) => Events::Selectors {
                        bad: Val::new(b, bad.from),
                        total: Val::new(t, total.from),
                    },
                    _ => Events::Queries { bad, total },
                },
            )
        }
        "raw" => {
            sink.map(file, node, &field)?;
            sink.unknown_keys(file, node, &field, &[names.error_ratio_query], IGNORED);
            let ratio = query(file, node, &field, names.error_ratio_query, sink)?;
            let total = promql::ratio_total(&ratio.value);
            sink.warning(
                file,
                ratio.from.pos,
                &ratio.from.field,
                "raw error ratio converted as bad_query: RATIO, total_query: (RATIO) == bool \
                 (RATIO): burn rates equal Sloth's, but the SLI has no event counts (`events` \
                 counts seconds, so do not add min_events) and a window whose ratio is NaN \
                 (no traffic) reports no_traffic",
            );
            notes.push(
                "Sloth raw SLI: bad_query is the error ratio itself and total_query is 1 \
                 wherever the ratio is a number, so bad/total is the ratio."
                    .to_string(),
            );
            Some(Events::Queries {
                total: Val::new(total, ratio.from.clone()),
                bad: ratio,
            })
        }
        _ => {
            let id = get(node, "id").and_then(|n| n.as_scalar()).unwrap_or("?");
            sink.error(
                file,
                node.pos,
                &field,
                format!(
                    "SLI plugin {id:?} is Go code that Sloth runs to build the query; burnrate \
                     cannot run it: replace it with sli.events (the queries `sloth generate` \
                     renders for this SLO)"
                ),
            );
            None
        }
    }
}

fn query(file: &Path, parent: &Node, path: &str, key: &str, sink: &mut Sink) -> Option<Val> {
    let field = join(path, key);
    let Some(n) = get(parent, key) else {
        let pos = key_node(parent, key).map_or(parent.pos, |k| k.pos);
        sink.missing(file, pos, &field);
        return None;
    };
    let text = sink.string(file, n, &field)?;
    match promql::normalize_template(text.trim()) {
        Ok(q) if !q.contains(WINDOW_PLACEHOLDER) => {
            sink.error(
                file,
                n.pos,
                &field,
                format!(
                    "must contain the window placeholder {WINDOW_PLACEHOLDER} (Sloth renders the \
                     query once per window), e.g. sum(rate(errors_total[{WINDOW_PLACEHOLDER}]))"
                ),
            );
            None
        }
        Ok(q) => Some(Val::new(q, origin(file, n, &field))),
        Err(e) => {
            sink.error(file, n.pos, &field, e);
            None
        }
    }
}

fn translate_alerting(
    file: &Path,
    slo: &Node,
    path: &str,
    names: &Names,
    windows: &AlertWindows,
    sink: &mut Sink,
) -> Option<MatrixDoc> {
    // Without `alerting`, Sloth's zero values apply: both alerts enabled.
    let alerting = get(slo, "alerting");
    let at = alerting.unwrap_or(slo);
    if let Some(a) = alerting {
        sink.map(file, a, path)?;
        sink.unknown_keys(
            file,
            a,
            path,
            &[
                "name",
                "labels",
                "annotations",
                names.page_alert,
                names.ticket_alert,
            ],
            IGNORED,
        );
    }
    let mut dropped: Vec<String> = Vec::new();
    if let Some(a) = alerting {
        // The alert name is not listed: every Sloth alert has one, and the header of the
        // converted file says burnrate's alert is SLOBurnRate.
        for key in ["labels", "annotations"] {
            if get(a, key).is_some() {
                dropped.push(key.to_string());
            }
        }
    }
    let mut rules = Vec::new();
    for (alert, key) in [("page", names.page_alert), ("ticket", names.ticket_alert)] {
        let field = join(path, key);
        let node = alerting.and_then(|a| get(a, key));
        let mut disabled = false;
        if let Some(n) = node {
            sink.map(file, n, &field)?;
            sink.unknown_keys(
                file,
                n,
                &field,
                &["disable", "labels", "annotations"],
                IGNORED,
            );
            if let Some(d) = get(n, "disable") {
                disabled = sink.boolean(file, d, &join(&field, "disable"))?;
            }
            for k in ["labels", "annotations"] {
                if get(n, k).is_some() {
                    dropped.push(join(key, k));
                }
            }
        }
        if disabled {
            continue;
        }
        let from = origin(
            file,
            node.unwrap_or(at),
            if node.is_some() { &field } else { path },
        );
        for w in windows.windows.iter().filter(|w| w.alert == alert) {
            let (speed, percent, long) = (w.speed, w.percent, &w.long);
            // Sloth's arithmetic (getBurnRateFactor), so the factor is the same float.
            let factor = percent * PERIOD_HOURS / 100.0 / w.long_hours;
            rules.push(RuleDoc {
                decision: if alert == "page" {
                    Decision::CircuitBreak
                } else {
                    Decision::Warn
                },
                burn: format!("{factor}"),
                long: long.to_string(),
                short: Some(w.short.clone()),
                from: from.clone(),
                note: format!("Sloth {alert} alert, {speed}: {percent}% of the budget in {long}"),
            });
        }
    }
    if !dropped.is_empty() {
        sink.warning(
            file,
            at.pos,
            path,
            format!(
                "not converted: {} (burnrate raises one alert, SLOBurnRate, labelled with \
                 service, slo, decision, dimension and the spec's labels)",
                dropped.join(", ")
            ),
        );
    }
    if rules.is_empty() {
        return Some(MatrixDoc::Silent {
            from: origin(file, at, path),
            note: "Sloth alerting: page and ticket alerts disabled, no rule".to_string(),
        });
    }
    Some(MatrixDoc::Rules(rules))
}
