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
//! A batch joins the queries of several SLO dimensions the same way, each tag prefixed with
//! the item's position (`3:bad/5m`), so one request serves many SLOs.

use crate::duration::PromDuration;
use crate::spec::{Dimension, ErrorEvents, SloSpec, WINDOW_PLACEHOLDER};

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
    let tag = |expr: &str, key: &str| tag(expr, &format!("{prefix}{key}"));
    let mut parts = Vec::new();
    for w in windows {
        let w = w.as_str();
        match dimension {
            Dimension::Error => {
                let Some(error) = &slo.error else { continue };
                let (bad, total) = match &error.events {
                    ErrorEvents::Selectors { bad, total } => (
                        format!("sum(rate({bad}[{w}]))"),
                        format!("sum(rate({total}[{w}]))"),
                    ),
                    ErrorEvents::Queries { bad, total } => (
                        format!("sum({})", bad.replace(WINDOW_PLACEHOLDER, w)),
                        format!("sum({})", total.replace(WINDOW_PLACEHOLDER, w)),
                    ),
                };
                parts.push(tag(&bad, &format!("bad/{w}")));
                parts.push(tag(&total, &format!("total/{w}")));
            }
            Dimension::Latency => {
                let Some(latency) = &slo.latency else {
                    continue;
                };
                let bucket = latency
                    .histogram
                    .with_suffix("_bucket")
                    .expect("validated: has a metric name");
                let count = latency
                    .histogram
                    .with_suffix("_count")
                    .expect("validated: has a metric name");
                parts.push(tag(
                    &format!("sum by (le) (rate({bucket}[{w}]))"),
                    &format!("bucket/{w}"),
                ));
                parts.push(tag(
                    &format!("sum(rate({count}[{w}]))"),
                    &format!("count/{w}"),
                ));
            }
        }
    }
    parts.join(" or ")
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
    fn parses_prometheus_value_strings() {
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("1e-07"), Some(1e-7));
        assert_eq!(parse_float("1.0"), parse_float("1"));
        assert_eq!(parse_float("abc"), None);
    }
}
