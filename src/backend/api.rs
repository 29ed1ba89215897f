//! The Prometheus HTTP API's response envelope and query results, as typed serde structs:
//! the one parser of `/api/v1/query` and `/api/v1/query_range` JSON, for the backend client
//! (live responses) and for `history` (saved `query_range` responses).
//!
//! Responses are deserialized straight into these types, with no `serde_json::Value` tree
//! in between. A seed of raw samples is a large response, and as `Value`s every point costs
//! several allocations and about a hundred bytes (issue 12: 170-200 MB RSS, mostly parsed
//! responses); here a point is 16 bytes in its series' `Vec`.
//!
//! Only the shapes are checked here (and that values and timestamps are numbers); what a
//! reader expects (`resultType`, a `status` of `success`, no native histograms) is for the
//! reader to say in its own words.

use crate::measure::query::parse_float;
use serde::Deserialize;
use serde::de::{self, IgnoredAny};
use std::collections::BTreeMap;
use std::fmt;

/// The start of the messages that reject native histograms, which neither reader supports.
pub(crate) const NATIVE_HISTOGRAMS: &str =
    "native histograms are not supported; use classic buckets";

pub(crate) use crate::limits::MAX_ABS_SECONDS;

/// `{"status", "data", "errorType", "error", "warnings"}`. Fields are optional so that a
/// reader can say which one is missing. `D` = [`IgnoredAny`] reads only the error fields,
/// for the body of a failed request.
#[derive(Debug, Deserialize)]
pub(crate) struct Response<D = Data> {
    pub(crate) status: Option<String>,
    pub(crate) data: Option<D>,
    #[serde(rename = "errorType")]
    pub(crate) error_type: Option<String>,
    pub(crate) error: Option<String>,
    #[serde(default)]
    pub(crate) warnings: Vec<String>,
}

/// `{"resultType", "result", "stats"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Data {
    #[serde(rename = "resultType")]
    pub(crate) result_type: Option<String>,
    /// `None` when missing or `null`.
    pub(crate) result: Option<Results>,
    /// Present when the request asked for `stats=all`.
    pub(crate) stats: Option<Stats>,
}

impl Data {
    /// `stats.samples.totalQueryableSamples`: the samples the backend loaded to answer.
    pub(crate) fn queryable_samples(&self) -> Option<u64> {
        self.stats
            .as_ref()?
            .samples
            .as_ref()?
            .total_queryable_samples
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Stats {
    pub(crate) samples: Option<SampleStats>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SampleStats {
    #[serde(rename = "totalQueryableSamples")]
    pub(crate) total_queryable_samples: Option<u64>,
}

/// `result`, told apart by its shape: its meaning depends on `resultType`, which may come
/// after it, and a reader that expected another type wants to say so rather than fail on
/// the first element of an unexpected shape.
#[derive(Debug)]
pub(crate) enum Results {
    /// A list of objects: a vector's samples or a matrix's series.
    Series(Vec<Series>),
    /// `[time, "value"]`: a scalar. Callers only tell it apart from a vector; the point is
    /// kept for `Debug` (error messages, tests).
    Scalar(#[allow(dead_code)] Point),
    /// Anything else: a string result, or a list of mixed or unknown elements.
    Other,
}

/// One element of a vector (`{"metric", "value"}`) or of a matrix (`{"metric", "values"}`).
#[derive(Debug, Deserialize)]
pub(crate) struct Series {
    #[serde(default)]
    pub(crate) metric: BTreeMap<String, String>,
    /// A vector sample's point.
    pub(crate) value: Option<Point>,
    /// A matrix series' points.
    pub(crate) values: Option<Vec<Point>>,
    /// Native histogram points of a matrix series; only noticed, never read.
    histograms: Option<IgnoredAny>,
    /// A vector sample's native histogram; only noticed, never read.
    histogram: Option<IgnoredAny>,
}

impl Series {
    /// Whether this series has native histogram points, which neither reader supports.
    pub(crate) fn has_histograms(&self) -> bool {
        self.histograms.is_some() || self.histogram.is_some()
    }
}

/// One series' exemplars in a `/api/v1/query_exemplars` answer (whose `data` is a list of
/// them): `{"seriesLabels", "exemplars": [{"labels", "value", "timestamp"}]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ExemplarSeries {
    #[serde(rename = "seriesLabels", default)]
    pub(crate) series_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) exemplars: Vec<ApiExemplar>,
}

/// The value is a string as in query results; the timestamp fractional Unix seconds.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiExemplar {
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: StringOrNumber,
    pub(crate) timestamp: f64,
}

/// A value Prometheus writes as a string and other tools may write as a number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum StringOrNumber {
    String(String),
    Number(f64),
}

impl StringOrNumber {
    pub(crate) fn value(&self) -> Option<f64> {
        match self {
            StringOrNumber::String(s) => parse_float(s),
            StringOrNumber::Number(n) => Some(*n),
        }
    }
}

/// A `[time, "value"]` pair: Unix seconds (fractional) rounded to the millisecond, and the
/// value, which Prometheus writes as a string (`"1e-07"`, `"NaN"`, `"+Inf"`); plain numbers
/// from other tools are accepted too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub(crate) t_ms: i64,
    pub(crate) value: f64,
}

impl From<Point> for (i64, f64) {
    fn from(p: Point) -> (i64, f64) {
        (p.t_ms, p.value)
    }
}

/// Why a `[time, "value"]` pair is not a sample; the message becomes the JSON error's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum PointError {
    #[error(
        "timestamp {0} is out of range for Unix seconds; API timestamps are seconds, not milliseconds"
    )]
    Timestamp(f64),
    #[error("invalid sample value {0:?} (expected a number, NaN, +Inf or -Inf)")]
    Value(String),
}

fn seconds_to_ms(t: f64) -> Result<i64, PointError> {
    if !t.is_finite() || t.abs() >= MAX_ABS_SECONDS as f64 {
        return Err(PointError::Timestamp(t));
    }
    let ms = (t * 1000.0).round() as i64;
    if !crate::limits::is_instant(ms) {
        return Err(PointError::Timestamp(t));
    }
    Ok(ms)
}

fn parse_value(text: &str) -> Result<f64, PointError> {
    parse_float(text).ok_or_else(|| PointError::Value(text.to_string()))
}

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Point;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [time, \"value\"] pair")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Point, A::Error> {
                let t: f64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let PointValue(value) = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                let t_ms = seconds_to_ms(t).map_err(de::Error::custom)?;
                Ok(Point { t_ms, value })
            }
        }
        d.deserialize_seq(V)
    }
}

/// A point's value: a string for [`parse_float`], or a plain number.
struct PointValue(f64);

impl<'de> Deserialize<'de> for PointValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = PointValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sample value string such as \"1.5\", \"NaN\" or \"+Inf\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PointValue, E> {
                parse_value(s).map(PointValue).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PointValue, E> {
                Ok(PointValue(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PointValue, E> {
                Ok(PointValue(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PointValue, E> {
                Ok(PointValue(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

/// One element of a `result` list, whatever its shape.
enum Element {
    Series(Series),
    Number(f64),
    Text(String),
    Other,
}

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Element;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a result element")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Element, A::Error> {
                Series::deserialize(de::value::MapAccessDeserializer::new(map)).map(Element::Series)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Element, A::Error> {
                de::Visitor::visit_seq(IgnoredAny, seq).map(|_| Element::Other)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Element, E> {
                Ok(Element::Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Element, E> {
                Ok(Element::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Element, E> {
                Ok(Element::Number(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Element, E> {
                Ok(Element::Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Element, E> {
                Ok(Element::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Element, E> {
                Ok(Element::Other)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Results {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Results;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a query result")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Results, A::Error> {
                let mut series = Vec::new();
                let mut loose = Vec::new();
                while let Some(element) = seq.next_element()? {
                    match element {
                        Element::Series(s) => series.push(s),
                        other => loose.push(other),
                    }
                }
                Ok(match (series.is_empty(), loose.as_slice()) {
                    (_, []) => Results::Series(series),
                    (true, [Element::Number(t), Element::Text(v)]) => {
                        match (seconds_to_ms(*t), parse_float(v)) {
                            (Ok(t_ms), Some(value)) => Results::Scalar(Point { t_ms, value }),
                            _ => Results::Other,
                        }
                    }
                    _ => Results::Other,
                })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Results, A::Error> {
                de::Visitor::visit_map(IgnoredAny, map).map(|_| Results::Other)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Results, E> {
                Ok(Results::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Results, E> {
                Ok(Results::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Results, E> {
                Ok(Results::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Results, E> {
                Ok(Results::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Results, E> {
                Ok(Results::Other)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Response {
        serde_json::from_slice(text.as_bytes()).unwrap()
    }

    #[test]
    fn reads_vector_matrix_and_scalar_results() {
        let v = parse(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"job":"a"},"value":[1700000000.5,"NaN"]}]},"warnings":["w"]}"#,
        );
        assert_eq!(v.status.as_deref(), Some("success"));
        assert_eq!(v.warnings, ["w"]);
        let Some(Results::Series(s)) = v.data.unwrap().result else {
            panic!("not a list of series")
        };
        let p = s[0].value.unwrap();
        assert_eq!(p.t_ms, 1_700_000_000_500);
        assert!(p.value.is_nan());
        assert_eq!(s[0].metric["job"], "a");

        let m = parse(
            r#"{"status":"success","data":{"result":[{"metric":{},"values":[[1,"+Inf"],[2.0004,"-1e-07"],[3,4]]}],
                "resultType":"matrix","stats":{"samples":{"totalQueryableSamples":42}}}}"#,
        );
        let data = m.data.unwrap();
        assert_eq!(data.queryable_samples(), Some(42));
        let Some(Results::Series(s)) = data.result else {
            panic!("not a list of series")
        };
        let points: Vec<(i64, f64)> = s[0]
            .values
            .clone()
            .unwrap()
            .into_iter()
            .map(Into::into)
            .collect();
        assert_eq!(points, [(1000, f64::INFINITY), (2000, -1e-7), (3000, 4.0)]);
        assert!(!s[0].has_histograms());

        let scalar =
            parse(r#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#);
        assert!(matches!(
            scalar.data.unwrap().result,
            Some(Results::Scalar(Point {
                t_ms: 1000,
                value: 2.0
            }))
        ));
        let string =
            parse(r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#);
        assert!(matches!(string.data.unwrap().result, Some(Results::Other)));
    }

    #[test]
    fn notices_native_histograms_and_missing_fields() {
        let h = parse(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
                {"metric":{},"histograms":[[1,{"count":"1","sum":"1","buckets":[[0,"0","1","1"]]}]]}]}}"#,
        );
        let Some(Results::Series(s)) = h.data.unwrap().result else {
            panic!("not a list of series")
        };
        assert!(s[0].has_histograms() && s[0].values.is_none());
        let bare = parse(r#"{"data":{"result":null,"stats":{"seriesFetched":"3"}}}"#);
        assert!(bare.status.is_none());
        let data = bare.data.unwrap();
        assert!(data.result.is_none() && data.result_type.is_none());
        assert_eq!(data.queryable_samples(), None);
        let error: Response<IgnoredAny> = serde_json::from_str(
            r#"{"status":"error","errorType":"bad_data","error":"x","data":{"anything":[1]}}"#,
        )
        .unwrap();
        assert_eq!(error.error_type.as_deref(), Some("bad_data"));
    }

    #[test]
    fn bad_points_are_errors() {
        for (point, says) in [
            (r#"[1,"abc"]"#, "invalid sample value \"abc\""),
            (r#"[1700000000000,"1"]"#, "not milliseconds"),
            (r#"[1,"1",2]"#, "invalid length 3"),
            (r#"[1]"#, "invalid length 1"),
            (r#"["1","1"]"#, "invalid type"),
        ] {
            let text = format!(
                r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"values":[{point}]}}]}}}}"#
            );
            let e = serde_json::from_str::<Response>(&text)
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{point}: {e}");
        }
    }
}
