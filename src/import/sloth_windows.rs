//! Sloth `AlertWindows` files (`apiVersion: sloth.slok.dev/v1`, `kind: AlertWindows`): the
//! page and ticket windows Sloth uses instead of its defaults for the SLOs of one period
//! (`sloth generate -w DIR`), given to burnrate with `--windows`. Teams that tuned their
//! windows get the matrix their Sloth rules have, not Sloth's defaults.

use super::emit::{Origin, origin};
use crate::duration::PromDuration;
use crate::spec::fields::{Sink, get, join};
use crate::spec::yaml::{self, Node};
use std::path::{Path, PathBuf};

const NOT_SLOTH: &str = "not part of a Sloth AlertWindows";

/// One multiwindow alert: `errorBudgetPercent` of the budget spent in `long` (and `short`).
#[derive(Debug, Clone)]
pub(crate) struct Window {
    /// `page` or `ticket`.
    pub(crate) alert: &'static str,
    /// `quick` or `slow`.
    pub(crate) speed: &'static str,
    pub(crate) percent: f64,
    pub(crate) long: String,
    pub(crate) long_hours: f64,
    pub(crate) short: String,
}

/// The windows of one period, and where they come from (`None`: Sloth's defaults).
#[derive(Debug, Clone)]
pub(crate) struct AlertWindows {
    pub(crate) period_ms: i64,
    pub(crate) from: Option<Origin>,
    pub(crate) windows: Vec<Window>,
}

/// Sloth's default 30d windows (`internal/alert/windows/google-30d.yaml`).
pub(crate) fn google_30d() -> AlertWindows {
    let window = |alert, speed, percent, long: &str, long_hours, short: &str| Window {
        alert,
        speed,
        percent,
        long: long.to_string(),
        long_hours,
        short: short.to_string(),
    };
    AlertWindows {
        period_ms: 30 * 24 * 3_600_000,
        from: None,
        windows: vec![
            window("page", "quick", 2.0, "1h", 1.0, "5m"),
            window("page", "slow", 5.0, "6h", 6.0, "30m"),
            window("ticket", "quick", 10.0, "1d", 24.0, "2h"),
            window("ticket", "slow", 10.0, "3d", 72.0, "6h"),
        ],
    }
}

/// Every `AlertWindows` file, each problem at its `file:line:column`; two files of one
/// `sloPeriod` are an error (Sloth could not tell which to use either).
pub(crate) fn read(files: &[(PathBuf, String)], sink: &mut Sink) -> Vec<AlertWindows> {
    let mut out: Vec<AlertWindows> = Vec::new();
    for (file, text) in files {
        let docs = match yaml::parse_all(text) {
            Ok(docs) => docs,
            Err(e) => {
                sink.error(file, e.pos, "", format!("YAML syntax error: {}", e.message));
                continue;
            }
        };
        let docs: Vec<&Node> = docs
            .iter()
            .filter(|d| !matches!(d.value, yaml::Value::Null))
            .collect();
        if docs.is_empty() {
            sink.file_error(file, "empty file: expected a Sloth AlertWindows");
        }
        for doc in docs {
            let Some(w) = alert_windows(file, doc, sink) else {
                continue;
            };
            if let Some(first) = out.iter().find(|o| o.period_ms == w.period_ms) {
                let first = first.from.as_ref().expect("read from a file");
                let at = w.from.as_ref().expect("read from a file");
                sink.error(
                    &at.file,
                    at.pos,
                    &at.field,
                    format!(
                        "a second AlertWindows for this period (the first is at {}:{}): Sloth \
                         takes one per period",
                        first.file.display(),
                        first.pos.line
                    ),
                );
                continue;
            }
            out.push(w);
        }
    }
    out
}

fn alert_windows(file: &Path, doc: &Node, sink: &mut Sink) -> Option<AlertWindows> {
    sink.map(file, doc, "")?;
    let errors_before = sink.errors();
    // One error for a document that is not an AlertWindows at all (not one per field).
    let scalar = |key: &str| get(doc, key).and_then(|n| n.as_scalar());
    if scalar("apiVersion") != Some("sloth.slok.dev/v1") || scalar("kind") != Some("AlertWindows") {
        let (pos, field) = match get(doc, "kind") {
            Some(n) => (n.pos, "kind"),
            None => (doc.pos, ""),
        };
        sink.error(
            file,
            pos,
            field,
            "not a Sloth AlertWindows (apiVersion: sloth.slok.dev/v1, kind: AlertWindows), \
             which is what --windows takes",
        );
        return None;
    }
    sink.unknown_keys(
        file,
        doc,
        "",
        &["apiVersion", "kind", "metadata", "spec"],
        NOT_SLOTH,
    );
    let spec = sink.required(file, doc, "spec", "spec")?;
    sink.map(file, spec, "spec")?;
    sink.unknown_keys(
        file,
        spec,
        "spec",
        &["sloPeriod", "page", "ticket"],
        NOT_SLOTH,
    );
    let period = sink
        .required(file, spec, "sloPeriod", "spec.sloPeriod")
        .and_then(|n| Some((duration(file, n, "spec.sloPeriod", sink)?, n)));
    let mut windows = Vec::new();
    for alert in ["page", "ticket"] {
        let path = join("spec", alert);
        let Some(node) = sink.required(file, spec, alert, &path) else {
            continue;
        };
        if sink.map(file, node, &path).is_none() {
            continue;
        }
        sink.unknown_keys(file, node, &path, &["quick", "slow"], NOT_SLOTH);
        for speed in ["quick", "slow"] {
            let path = join(&path, speed);
            let Some(w) = sink.required(file, node, speed, &path) else {
                continue;
            };
            if let Some(w) = window(file, w, &path, alert, speed, sink) {
                windows.push(w);
            }
        }
    }
    let (period_ms, period_node) = period?;
    if sink.errors() != errors_before {
        return None;
    }
    Some(AlertWindows {
        period_ms,
        from: Some(origin(file, period_node, "spec.sloPeriod")),
        windows,
    })
}

fn window(
    file: &Path,
    node: &Node,
    path: &str,
    alert: &'static str,
    speed: &'static str,
    sink: &mut Sink,
) -> Option<Window> {
    sink.map(file, node, path)?;
    sink.unknown_keys(
        file,
        node,
        path,
        &["errorBudgetPercent", "shortWindow", "longWindow"],
        NOT_SLOTH,
    );
    let field = |k: &str| join(path, k);
    let percent = sink
        .required(
            file,
            node,
            "errorBudgetPercent",
            &field("errorBudgetPercent"),
        )
        .and_then(|n| {
            let text = sink.number(file, n, &field("errorBudgetPercent"))?;
            match text.parse::<f64>() {
                Ok(p) if p > 0.0 && p <= 100.0 => Some(p),
                _ => {
                    sink.error(
                        file,
                        n.pos,
                        &field("errorBudgetPercent"),
                        format!("must be a percentage above 0 and at most 100, got {text}"),
                    );
                    None
                }
            }
        });
    let text = |key: &str, sink: &mut Sink| {
        let n = sink.required(file, node, key, &field(key))?;
        let ms = duration(file, n, &field(key), sink)?;
        Some((n.as_scalar().unwrap_or_default().trim().to_string(), ms))
    };
    let short = text("shortWindow", sink);
    let long = text("longWindow", sink);
    let ((short, short_ms), (long, long_ms), percent) = (short?, long?, percent?);
    if short_ms >= long_ms {
        let n = get(node, "shortWindow").unwrap_or(node);
        sink.error(
            file,
            n.pos,
            &field("shortWindow"),
            format!("must be shorter than longWindow ({long})"),
        );
        return None;
    }
    Some(Window {
        alert,
        speed,
        percent,
        long,
        long_hours: long_ms as f64 / 3_600_000.0,
        short,
    })
}

/// A Prometheus duration above zero, in milliseconds.
fn duration(file: &Path, node: &Node, field: &str, sink: &mut Sink) -> Option<i64> {
    let text = sink.string(file, node, field)?;
    match PromDuration::parse(text.trim()) {
        Ok(d) if d.millis() > 0 => Some(d.millis()),
        Ok(_) => {
            sink.error(file, node.pos, field, "must be longer than 0");
            None
        }
        Err(e) => {
            sink.error(file, node.pos, field, e.to_string());
            None
        }
    }
}
