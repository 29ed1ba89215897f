//! The PromQL that measures one dimension of one SLO: every window in a single query.
//!
//! This text is what every path evaluates: the backend for `check` and direct daemon
//! queries, `query_range` in a backtest, and burnrate's own evaluator over raw samples
//! (`measure::local`). One expression, decoded by one decoder (`measure::decode`), is what
//! makes the numbers equal whichever path computed them.
//!
//! Each sub-expression is tagged with a `burnrate_key` label (`bad/5m`, `bucket/1h`, ...)
//! through `label_replace` and the parts are joined with `or`, so one instant query returns
//! all the rates a dimension needs. Parts with no series simply do not appear.
//!
//! With `group_by`, every sum keeps the group labels (`sum by (cluster) (...)`, buckets
//! `sum by (cluster, le)`, raw queries `sum by (cluster) (QUERY)`), so one answer holds
//! every group and the decoder splits it by them.
//!
//! A native histogram (`native_histogram:`) is measured by its `histogram_fraction` at the
//! threshold, `histogram_count` and `histogram_quantile`, which only the backend computes:
//! its text does not parse for local evaluation, so it is planned like a raw query outside
//! the local subset (`measure::plan`).
//!
//! A batch joins the queries of several SLO dimensions the same way, each tag prefixed with
//! the item's position (`3:bad/5m`), so one request serves many SLOs.

use crate::duration::PromDuration;
use crate::rules::expr::number;
use crate::spec::{Dimension, ErrorEvents, LatencySli, SloSpec, WINDOW_PLACEHOLDER};

pub(crate) const KEY_LABEL: &str = "burnrate_key";

fn tag(expr: &str, key: &str) -> String {
    format!("label_replace({expr}, \"{KEY_LABEL}\", \"{key}\", \"\", \"\")")
}

/// The instant query measuring `windows` of one dimension.
pub fn dimension_query(slo: &SloSpec, dimension: Dimension, windows: &[PromDuration]) -> String {
    tagged_dimension_query(slo, dimension, windows, "")
}

/// [`dimension_query`] with every tag starting with `prefix` (empty, or `"3:"` in a batch).
pub fn tagged_dimension_query(
    slo: &SloSpec,
    dimension: Dimension,
    windows: &[PromDuration],
    prefix: &str,
) -> String {
    let mut parts = Vec::new();
    for w in windows {
        for (part, expr) in window_parts(slo, dimension, w, &slo.group_by) {
            parts.push(tag(&expr, &format!("{prefix}{part}/{w}")));
        }
    }
    parts.join(" or ")
}

/// The query of a dimension's breakdown over one window (`breakdown`, `engine::explain`):
/// its bad events (latency: buckets and count) by the group and breakdown labels. The
/// error total is not broken down: the label sets of bad series (`error_class`) are
/// often not labels of the total at all, and the group's total is already measured.
pub(crate) fn breakdown_query(
    slo: &SloSpec,
    dimension: Dimension,
    window: &PromDuration,
    labels: &[String],
) -> String {
    let by = breakdown_labels(slo, labels);
    window_parts(slo, dimension, window, &by)
        .into_iter()
        .filter(|(part, _)| *part != "total")
        .map(|(part, expr)| tag(&expr, &format!("{part}/{window}")))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The group labels, then the breakdown labels: what a breakdown query sums by.
pub(crate) fn breakdown_labels(slo: &SloSpec, labels: &[String]) -> Vec<String> {
    slo.group_by.iter().chain(labels).cloned().collect()
}

/// The sub-expressions measuring one window of a dimension, summed by `group_by`, each
/// with the part of the answer it is (`bad`, `total`, `bucket`, `count`).
fn window_parts(
    slo: &SloSpec,
    dimension: Dimension,
    window: &PromDuration,
    group_by: &[String],
) -> Vec<(&'static str, String)> {
    let w = window.as_str();
    let sum = sum_by(group_by, &[]);
    match dimension {
        Dimension::Error => {
            let Some(error) = &slo.error else {
                return Vec::new();
            };
            let (bad, total) = match &error.events {
                ErrorEvents::Selectors { bad, total } => (
                    format!("{sum}(rate({bad}[{w}]))"),
                    format!("{sum}(rate({total}[{w}]))"),
                ),
                ErrorEvents::Queries { bad, total } => (
                    format!("{sum}({})", bad.replace(WINDOW_PLACEHOLDER, w)),
                    format!("{sum}({})", total.replace(WINDOW_PLACEHOLDER, w)),
                ),
            };
            vec![("bad", bad), ("total", total)]
        }
        Dimension::Latency => {
            let Some(latency) = &slo.latency else {
                return Vec::new();
            };
            if latency.is_native() {
                return native_parts(latency, w, group_by);
            }
            let bucket = latency
                .histogram
                .with_suffix("_bucket")
                .expect("validated: has a metric name");
            let count = latency
                .histogram
                .with_suffix("_count")
                .expect("validated: has a metric name");
            vec![
                (
                    "bucket",
                    format!("{}(rate({bucket}[{w}]))", sum_by(group_by, &["le"])),
                ),
                ("count", format!("{sum}(rate({count}[{w}]))")),
            ]
        }
    }
}

/// A native histogram's parts: the share within the threshold, the count and the quantile,
/// each of the one summed rate `sum(rate(SEL[w]))` (`sum by (G)` with groups), as
/// `histogram_fraction` and `histogram_count` compute them (the contract's
/// `1 - histogram_fraction(0, T, ...)` is taken by `engine::sli`, to the same bits).
fn native_parts(latency: &LatencySli, w: &str, group_by: &[String]) -> Vec<(&'static str, String)> {
    let rate = format!(
        "{}(rate({}[{w}]))",
        sum_by(group_by, &[]),
        latency.histogram.to_promql()
    );
    vec![
        (
            "fraction",
            format!(
                "histogram_fraction(0, {}, {rate})",
                number(latency.threshold_seconds())
            ),
        ),
        ("count", format!("histogram_count({rate})")),
        (
            "quantile",
            format!("histogram_quantile({}, {rate})", number(latency.quantile)),
        ),
    ]
}

/// The aggregation every part of a query starts with: `sum`, or `sum by (G, extra) ` with
/// the SLO's group labels `G` first (`sum by (le) ` for buckets without groups). The rules
/// export writes the same.
pub(crate) fn sum_by(group_by: &[String], extra: &[&str]) -> String {
    let labels: Vec<&str> = group_by
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect();
    if labels.is_empty() {
        "sum".to_string()
    } else {
        format!("sum by ({}) ", labels.join(", "))
    }
}

/// Parses a Prometheus sample value or `le` label: `"NaN"`, `"+Inf"`, `"-Inf"`, `"1e-07"`.
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    match text.trim() {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        t => t.parse::<f64>().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_their_labels_in_every_sum() {
        assert_eq!(sum_by(&[], &[]), "sum");
        assert_eq!(sum_by(&[], &["le"]), "sum by (le) ");
        let g = ["cluster".to_string(), "zone".to_string()];
        assert_eq!(sum_by(&g, &["le"]), "sum by (cluster, zone, le) ");
    }

    #[test]
    fn parses_prometheus_value_strings() {
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("1e-07"), Some(1e-7));
        assert_eq!(parse_float("1.0"), parse_float("1"));
        assert_eq!(parse_float("abc"), None);
    }

    #[test]
    fn a_native_histogram_is_measured_by_its_fraction_count_and_quantile() {
        let yaml = "apiVersion: burnrate/v1\nservice: s\nslos:\n  - name: a\n    group_by: [route]\n    latency:\n      native_histogram: h{job=\"x\"}\n      quantile: 0.99\n      threshold: 250ms\n";
        let (spec, diags) = crate::spec::load::load_native(std::path::Path::new("a.yaml"), yaml);
        let slo = &spec.unwrap_or_else(|| panic!("{diags:?}")).slos[0];
        let w = [PromDuration::parse("5m").unwrap()];
        let rate = r#"sum by (route) (rate(h{job="x"}[5m]))"#;
        assert_eq!(
            dimension_query(slo, Dimension::Latency, &w),
            [
                format!("histogram_fraction(0, 0.25, {rate})"),
                format!("histogram_count({rate})"),
                format!("histogram_quantile(0.99, {rate})"),
            ]
            .iter()
            .zip(["fraction", "count", "quantile"])
            .map(|(e, part)| tag(e, &format!("{part}/5m")))
            .collect::<Vec<_>>()
            .join(" or ")
        );
    }
}
