//! PromQL for one dimension of one SLO: every window in a single request.
//!
//! Each sub-expression is tagged with a `burnrate_key` label (`bad/5m`, `bucket/1h`, ...)
//! through `label_replace` and the parts are joined with `or`, so one instant query returns
//! all the rates a dimension needs. Parts with no series simply do not appear.
//!
//! A batch joins the queries of several SLO dimensions the same way, each tag prefixed with
//! the item's position (`3:bad/5m`), so one request serves many SLOs.

use crate::duration::PromDuration;
use crate::engine::measure::{Bucket, ErrorRates, HistogramRates, Measurement};
use crate::spec::{Dimension, ErrorEvents, SloSpec, WINDOW_PLACEHOLDER};
use std::collections::BTreeMap;

pub const KEY_LABEL: &str = "burnrate_key";

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

/// One series of an instant-query result: its labels and value (already a float).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Sorts the tagged samples back into per-window rates, aligned with `windows`. Samples
/// without a recognizable tag are ignored (they cannot be attributed to a window); values
/// that are not numbers are kept as NaN and the engine treats them as missing.
pub fn decode(dimension: Dimension, windows: &[PromDuration], samples: &[Sample]) -> Measurement {
    decode_keyed(
        dimension,
        windows,
        samples
            .iter()
            .filter_map(|s| Some((s.labels.get(KEY_LABEL)?.as_str(), s))),
    )
}

/// [`decode`] over samples paired with their tag, the batch prefix already removed.
pub fn decode_keyed<'a>(
    dimension: Dimension,
    windows: &[PromDuration],
    samples: impl Iterator<Item = (&'a str, &'a Sample)>,
) -> Measurement {
    let tagged = samples.filter_map(|(key, s)| {
        let (part, window) = key.split_once('/')?;
        let i = windows.iter().position(|w| w.as_str() == window)?;
        Some((part, i, s))
    });
    match dimension {
        Dimension::Error => {
            let mut out = vec![ErrorRates::default(); windows.len()];
            for (part, i, s) in tagged {
                let rates = &mut out[i];
                match part {
                    "bad" => rates.bad = Some(s.value),
                    "total" => rates.total = Some(s.value),
                    _ => {}
                }
            }
            Measurement::Error(out)
        }
        Dimension::Latency => {
            let mut out = vec![HistogramRates::default(); windows.len()];
            for (part, i, s) in tagged {
                let rates = &mut out[i];
                match part {
                    "count" => rates.count = Some(s.value),
                    "bucket" => {
                        // An unparseable `le` makes the whole window unusable, as in Prometheus.
                        let le = s
                            .labels
                            .get("le")
                            .and_then(|le| parse_float(le))
                            .unwrap_or(f64::NAN);
                        rates.buckets.push(Bucket { le, rate: s.value });
                    }
                    _ => {}
                }
            }
            Measurement::Latency(out)
        }
    }
}

/// Parses a Prometheus sample value or `le` label: `"NaN"`, `"+Inf"`, `"-Inf"`, `"1e-07"`.
pub fn parse_float(text: &str) -> Option<f64> {
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

    #[test]
    fn decode_sorts_samples_by_tag() {
        let w = [
            PromDuration::parse("5m").unwrap(),
            PromDuration::parse("1h").unwrap(),
        ];
        let sample = |key: &str, le: Option<&str>, value: f64| Sample {
            labels: [(KEY_LABEL.to_string(), key.to_string())]
                .into_iter()
                .chain(le.map(|l| ("le".to_string(), l.to_string())))
                .collect(),
            value,
        };
        let m = decode(
            Dimension::Latency,
            &w,
            &[
                sample("bucket/5m", Some("0.1"), 3.0),
                sample("bucket/5m", Some("+Inf"), 4.0),
                sample("count/5m", None, 4.0),
                sample("count/2h", None, 9.0),
            ],
        );
        let Measurement::Latency(m) = m else { panic!() };
        assert_eq!(m.len(), 2, "one entry per window asked for");
        assert_eq!(m[0].buckets.len(), 2);
        assert_eq!(m[0].count, Some(4.0));
        assert_eq!(m[1], HistogramRates::default());
    }
}
