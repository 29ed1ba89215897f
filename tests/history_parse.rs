//! History file readers: OpenMetrics text with timestamps, saved `query_range` JSON, gzip,
//! and the errors users see when a file is wrong.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burnrate::history::parse::*;
use burnrate::history::{History, Sample, Series};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/history")
        .join(name)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn series<'h>(h: &'h History, pairs: &[(&str, &str)]) -> &'h Series {
    let want = labels(pairs);
    h.series
        .iter()
        .find(|s| s.labels == want)
        .unwrap_or_else(|| {
            panic!(
                "no series {want:?} in {:#?}",
                h.series.iter().map(|s| &s.labels).collect::<Vec<_>>()
            )
        })
}

fn times(s: &Series) -> Vec<i64> {
    s.samples.iter().map(|x| x.t_ms).collect()
}

fn values(s: &Series) -> Vec<f64> {
    s.samples.iter().map(|x| x.value).collect()
}

fn om(text: &str) -> History {
    parse_openmetrics(text).unwrap_or_else(|e| panic!("parse failed: {e}\n{text}"))
}

fn om_err(text: &str) -> HistoryError {
    match parse_openmetrics(text) {
        Ok(h) => panic!("expected an error, parsed {h:?}"),
        Err(e) => e,
    }
}

fn json_err(text: &str) -> HistoryError {
    match parse_query_range_json(text) {
        Ok(h) => panic!("expected an error, parsed {h:?}"),
        Err(e) => e,
    }
}

/// A series as labels and (time, value bits), so that NaN compares equal to NaN.
type Comparable = (BTreeMap<String, String>, Vec<(i64, u64)>);

/// `History` equality where NaN equals NaN (PartialEq on f64 says it does not).
fn assert_same(a: &History, b: &History, what: &str) {
    let key = |h: &History| -> Vec<Comparable> {
        h.series
            .iter()
            .map(|s| {
                (
                    s.labels.clone(),
                    s.samples
                        .iter()
                        .map(|x| (x.t_ms, x.value.to_bits()))
                        .collect(),
                )
            })
            .collect()
    };
    assert_eq!(key(a), key(b), "{what}");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

// ---------------------------------------------------------------- OpenMetrics: samples

#[test]
fn groups_samples_into_series_by_full_label_set() {
    let h = om("a{job=\"x\"} 1 10\n\
                b{job=\"x\"} 2 10\n\
                a{job=\"y\"} 3 10\n\
                a{job=\"x\"} 4 20\n");
    assert_eq!(h.series.len(), 3);
    // First appearance decides the order, so output is deterministic.
    assert_eq!(
        h.series[0].labels,
        labels(&[("__name__", "a"), ("job", "x")])
    );
    assert_eq!(
        h.series[1].labels,
        labels(&[("__name__", "b"), ("job", "x")])
    );
    assert_eq!(
        h.series[2].labels,
        labels(&[("__name__", "a"), ("job", "y")])
    );
    assert_eq!(
        h.series[0].samples,
        vec![
            Sample {
                t_ms: 10_000,
                value: 1.0
            },
            Sample {
                t_ms: 20_000,
                value: 4.0
            }
        ]
    );
    assert_eq!(h.span(), Some((10_000, 20_000)));
}

#[test]
fn label_order_and_spacing_do_not_split_a_series() {
    let h = om("m{a=\"1\",b=\"2\"} 1 1\n\
                m{b=\"2\",a=\"1\"} 2 2\n\
                m{ a = \"1\" , b = \"2\" , } 3 3\n");
    assert_eq!(h.series.len(), 1);
    assert_eq!(values(&h.series[0]), vec![1.0, 2.0, 3.0]);
}

#[test]
fn no_labels_and_empty_braces_are_the_same_series() {
    let h = om("up 1 1700000000\nup{} 0 1700000015\n");
    assert_eq!(h.series.len(), 1);
    assert_eq!(h.series[0].labels, labels(&[("__name__", "up")]));
    assert_eq!(values(&h.series[0]), vec![1.0, 0.0]);
}

#[test]
fn empty_label_value_means_absent_label() {
    let h = om("m{code=\"\"} 1 1\nm 2 2\n");
    assert_eq!(h.series.len(), 1);
    assert_eq!(h.series[0].labels, labels(&[("__name__", "m")]));
}

#[test]
fn timestamps_are_seconds_rounded_to_the_nearest_millisecond() {
    let h = om("a 1 1700000000\n\
                b 1 1700000000.5\n\
                c 1 1700000000.123\n\
                d 1 1700000000.1234\n\
                e 1 1700000000.1235\n\
                f 1 1700000000.9996\n\
                g 1 1.7e9\n\
                h 1 0\n\
                i 1 -1.5\n\
                j 1 1700000000.\n");
    let t = |n: &str| series(&h, &[("__name__", n)]).samples[0].t_ms;
    assert_eq!(t("a"), 1_700_000_000_000);
    assert_eq!(t("b"), 1_700_000_000_500);
    assert_eq!(t("c"), 1_700_000_000_123);
    assert_eq!(t("d"), 1_700_000_000_123);
    assert_eq!(t("e"), 1_700_000_000_124);
    assert_eq!(t("f"), 1_700_000_001_000);
    assert_eq!(t("g"), 1_700_000_000_000);
    assert_eq!(t("h"), 0);
    assert_eq!(t("i"), -1_500);
    assert_eq!(t("j"), 1_700_000_000_000);
}

#[test]
fn values_floats_special_values_and_integers() {
    let h = om("a NaN 1\nb +Inf 1\nc -Inf 1\nd 1e-07 1\ne 42 1\nf -3.25 1\ng 1.5E+3 1\nh Inf 1\n");
    let v = |n: &str| series(&h, &[("__name__", n)]).samples[0].value;
    assert!(v("a").is_nan());
    assert_eq!(v("b"), f64::INFINITY);
    assert_eq!(v("c"), f64::NEG_INFINITY);
    assert_eq!(v("d"), 1e-7);
    assert_eq!(v("e"), 42.0);
    assert_eq!(v("f"), -3.25);
    assert_eq!(v("g"), 1500.0);
    assert_eq!(v("h"), f64::INFINITY);
}

#[test]
fn label_values_with_commas_braces_hashes_spaces_and_utf8() {
    let h = om(concat!(
        "m{path=\"/a,b\",q=\"x}{y\",h=\"# not a comment\",s=\"two  spaces\",u=\"Zürich ☃\"} 1 1\n",
        "m{path=\"/a,b\",q=\"x}{y\",h=\"# not a comment\",s=\"two  spaces\",u=\"Zürich ☃\"} 2 2\n",
    ));
    assert_eq!(h.series.len(), 1);
    assert_eq!(
        h.series[0].labels,
        labels(&[
            ("__name__", "m"),
            ("path", "/a,b"),
            ("q", "x}{y"),
            ("h", "# not a comment"),
            ("s", "two  spaces"),
            ("u", "Zürich ☃"),
        ])
    );
    assert_eq!(values(&h.series[0]), vec![1.0, 2.0]);
}

#[test]
fn label_value_escapes_are_resolved() {
    let h = om(r#"m{a="back\\slash",b="say \"hi\"",c="line\nbreak",d="\\n is not a newline"} 1 1"#);
    assert_eq!(
        h.series[0].labels,
        labels(&[
            ("__name__", "m"),
            ("a", "back\\slash"),
            ("b", "say \"hi\""),
            ("c", "line\nbreak"),
            ("d", "\\n is not a newline"),
        ])
    );
}

/// The three inputs `prometheus-parse` gets wrong: it cuts the value at the comma, drops the
/// line with the escaped quote and replaces the fractional timestamp with "now".
#[test]
fn cases_prometheus_parse_gets_wrong() {
    let h = om(concat!(
        "# TYPE go_map_update_failure_total counter\n",
        "go_map_update_failure_total{key_hash=\"a1,b2\",error_class=\"timeout\"} 3 1700000000\n",
        "go_map_update_failure_total{key_hash=\"c3\",error_class=\"map \\\"full\\\"\"} 4 1700000000\n",
        "go_map_update_total 100 1700000000.25\n",
    ));
    assert_eq!(h.series.len(), 3);
    let comma = series(
        &h,
        &[
            ("__name__", "go_map_update_failure_total"),
            ("key_hash", "a1,b2"),
            ("error_class", "timeout"),
        ],
    );
    assert_eq!(
        comma.samples,
        vec![Sample {
            t_ms: 1_700_000_000_000,
            value: 3.0
        }]
    );
    let quote = series(
        &h,
        &[
            ("__name__", "go_map_update_failure_total"),
            ("key_hash", "c3"),
            ("error_class", "map \"full\""),
        ],
    );
    assert_eq!(
        quote.samples,
        vec![Sample {
            t_ms: 1_700_000_000_000,
            value: 4.0
        }]
    );
    let float_ts = series(&h, &[("__name__", "go_map_update_total")]);
    assert_eq!(
        float_ts.samples,
        vec![Sample {
            t_ms: 1_700_000_000_250,
            value: 100.0
        }]
    );
}

#[test]
fn le_values_are_kept_as_written() {
    let h = om("h_bucket{le=\"1\"} 5 1\nh_bucket{le=\"1.0\"} 6 1\nh_bucket{le=\"+Inf\"} 7 1\n");
    assert_eq!(h.series.len(), 3);
    series(&h, &[("__name__", "h_bucket"), ("le", "1")]);
    series(&h, &[("__name__", "h_bucket"), ("le", "1.0")]);
    series(&h, &[("__name__", "h_bucket"), ("le", "+Inf")]);
}

#[test]
fn quoted_utf8_metric_and_label_names() {
    let h = om("{\"http.server.duration\",\"service.name\"=\"api\"} 1 1\n\
                {\"http.server.duration\", \"service.name\"=\"api\"} 2 2\n\
                {__name__=\"up\"} 1 1\n");
    assert_eq!(h.series.len(), 2);
    let s = series(
        &h,
        &[
            ("__name__", "http.server.duration"),
            ("service.name", "api"),
        ],
    );
    assert_eq!(values(s), vec![1.0, 2.0]);
    series(&h, &[("__name__", "up")]);
}

#[test]
fn comments_blank_lines_tabs_and_crlf() {
    let h = om("# HELP m Some help, with \"quotes\".\r\n\
                # TYPE m counter\r\n\
                # UNIT m seconds\r\n\
                # just a comment\r\n\
                \r\n\
                \t\r\n\
                m{a=\"b\"}\t1  \t1700000000 \r\n\
                \x20 m{a=\"b\"} 2 1700000001\r\n");
    assert_eq!(h.series.len(), 1);
    assert_eq!(
        times(&h.series[0]),
        vec![1_700_000_000_000, 1_700_000_001_000]
    );
    assert_eq!(values(&h.series[0]), vec![1.0, 2.0]);
}

#[test]
fn exemplars_after_the_timestamp_are_ignored() {
    let h = om("m_bucket{le=\"0.5\"} 3 1700000000 # {trace_id=\"abc\"} 0.42 1700000000\n");
    assert_eq!(
        h.series[0].samples,
        vec![Sample {
            t_ms: 1_700_000_000_000,
            value: 3.0
        }]
    );
}

#[test]
fn eof_ends_the_data() {
    let h = om("m 1 1\n# EOF\n");
    assert_eq!(h.series.len(), 1);
    // Trailing blank lines after "# EOF" are tolerated.
    om("m 1 1\n# EOF\n\n\r\n");
    let e = om_err("m 1 1\n# EOF\nm 2 2\n");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("# EOF"), "{e}");
    let e = om_err("m 1 1\n# EOF\n# a comment\n");
    assert_eq!(e.line, Some(3));
}

#[test]
fn missing_eof_is_accepted() {
    assert_eq!(om("m 1 1").series[0].samples.len(), 1);
}

#[test]
fn empty_input_is_an_empty_history() {
    assert_eq!(om("").series.len(), 0);
    assert_eq!(om("# EOF\n").series.len(), 0);
    assert_eq!(om("").span(), None);
}

#[test]
fn out_of_order_samples_are_sorted_and_counted() {
    let (h, stats) = parse_openmetrics_with_stats("m 3 30\nm 1 10\nm 2 20\nn 1 5\n").unwrap();
    let m = series(&h, &[("__name__", "m")]);
    assert_eq!(times(m), vec![10_000, 20_000, 30_000]);
    assert_eq!(values(m), vec![1.0, 2.0, 3.0]);
    assert_eq!(stats.out_of_order, 1);
    assert_eq!(stats.duplicates, 0);
    assert_eq!(stats.series, 2);
    assert_eq!(stats.samples, 4);
}

#[test]
fn duplicate_timestamps_keep_the_last_sample_and_are_counted() {
    let (h, stats) =
        parse_openmetrics_with_stats("m 1 10\nm 2 10\nm 5 20\nm 3 10\nm 5 20\nm 9 30\n").unwrap();
    let m = series(&h, &[("__name__", "m")]);
    assert_eq!(
        m.samples,
        vec![
            Sample {
                t_ms: 10_000,
                value: 3.0
            },
            Sample {
                t_ms: 20_000,
                value: 5.0
            },
            Sample {
                t_ms: 30_000,
                value: 9.0
            },
        ]
    );
    assert_eq!(stats.duplicates, 3);
    // 1 and 2 at t=10 differ from the kept 3; the second 5 at t=20 repeats the first.
    assert_eq!(stats.conflicting_duplicates, 2);
    assert_eq!(stats.out_of_order, 1);
    assert_eq!(stats.samples, 3);

    // Conflicts are judged against the kept sample: the first 3 agrees with it, the 1 not.
    let (h, stats) = parse_openmetrics_with_stats("n 3 10\nn 1 10\nn 3 10\n").unwrap();
    assert_eq!(values(&h.series[0]), vec![3.0]);
    assert_eq!((stats.duplicates, stats.conflicting_duplicates), (2, 1));
}

// ---------------------------------------------------------------- OpenMetrics: errors

/// Every error names its 1-based line and what was expected.
#[test]
fn errors_name_the_line_and_what_was_expected() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "a 1 1\nb 1 1\nm{job} 1 1\n",
            3,
            "expected '=' after label name \"job\"",
        ),
        (
            "\n\nm{job=x} 1 1\n",
            3,
            "expected '\"' to start the value of label \"job\"",
        ),
        ("m 1\n", 1, "sample has no timestamp"),
        ("m 1 1\nm{a=\"b\"} 1\n", 2, "sample has no timestamp"),
        ("m 1 # {trace_id=\"x\"} 1 1\n", 1, "sample has no timestamp"),
        ("# TYPE m counter\nm\n", 2, "expected a value after m"),
        ("m{a=\"b\"}1 1\n", 1, "expected a space after m{a=\"b\"}"),
        ("m abc 1\n", 1, "invalid sample value \"abc\""),
        ("m 1 noon\n", 1, "invalid timestamp \"noon\""),
        (
            "m 1 1 extra\n",
            1,
            "unexpected text after the timestamp: \"extra\"",
        ),
        ("m 1 1700000000000\n", 1, "not milliseconds"),
        ("m 1 NaN\n", 1, "finite"),
        ("m{a=\"b\n", 1, "value of label \"a\" is not terminated"),
        (
            "m{a=\"b\\tc\"} 1 1\n",
            1,
            "invalid escape \\t in value of label \"a\"",
        ),
        ("m{a=\"1\",a=\"2\"} 1 1\n", 1, "duplicate label \"a\""),
        (
            "m{a=\"1\" b=\"2\"} 1 1\n",
            1,
            "expected ',' or '}' after a label, found 'b'",
        ),
        (
            "m{a=\"1\"\n",
            1,
            "expected ',' or '}' after a label, found end of line",
        ),
        (
            "m{a=\"1\",\n",
            1,
            "expected a label name or '}', found end of line",
        ),
        (
            "m{1a=\"1\"} 1 1\n",
            1,
            "expected a label name or '}', found '1'",
        ),
        (
            "1m 1 1\n",
            1,
            "expected a metric name at the start of the line, found '1'",
        ),
        ("{a=\"b\"} 1 1\n", 1, "missing metric name"),
        (
            "m {a=\"b\"} 1 1\n",
            1,
            "no space is allowed between a metric name and its labels",
        ),
        ("m{__name__=\"n\"} 1 1\n", 1, "duplicate label \"__name__\""),
    ];
    for (text, line, expected) in cases {
        let e = om_err(text);
        assert_eq!(e.line, Some(*line), "{text:?}: {e}");
        assert!(
            e.message.contains(expected),
            "{text:?}: got {e:?}, want {expected:?}"
        );
    }
}

#[test]
fn error_lines_count_crlf_comments_and_blank_lines() {
    let text = "# HELP m x\r\n# TYPE m counter\r\n\r\nm 1 1\r\nm 2 2\r\n\r\n# c\r\nm{job=\"a\"} 3 3\r\nm{job \"a\"} 4 4\r\n";
    let e = om_err(text);
    assert_eq!(e.line, Some(9));
    assert_eq!(
        e.to_string(),
        "line 9: expected '=' after label name \"job\", found '\"'"
    );
}

#[test]
fn a_bad_line_is_caught_even_after_the_same_series_parsed_fine() {
    // The second line repeats the series text of the first (the interned fast path) but has
    // a bad value; the third repeats it with a bad timestamp.
    let e = om_err("m{a=\"b\"} 1 1\nm{a=\"b\"} x 2\n");
    assert_eq!(e.line, Some(2));
    let e = om_err("m{a=\"b\"} 1 1\nm{a=\"b\"} 1 2\nm{a=\"b\"} 1\n");
    assert_eq!(e.line, Some(3));
}

#[test]
fn history_error_display_and_error_trait() {
    let e = HistoryError {
        line: Some(12),
        message: "expected '=' after label name \"job\"".into(),
    };
    assert_eq!(
        e.to_string(),
        "line 12: expected '=' after label name \"job\""
    );
    let e = HistoryError {
        line: None,
        message: "cannot read x".into(),
    };
    assert_eq!(e.to_string(), "cannot read x");
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert_eq!(boxed.to_string(), "cannot read x");
}

// ---------------------------------------------------------------- query_range JSON

const ONE_CHUNK: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[
  {"metric":{"__name__":"http_requests_total","job":"api","code":"500"},
   "values":[[1700000000,"1.5"],[1700000015.5,"NaN"],[1700000030,"+Inf"],[1700000045,"-Inf"],[1700000060,"1e-07"]]},
  {"metric":{"__name__":"up","job":"api","instance":"a:9090"},"values":[[1700000000,"1"]]}
]}}"#;

#[test]
fn json_single_response() {
    let h = parse_query_range_json(ONE_CHUNK).unwrap();
    assert_eq!(h.series.len(), 2);
    let s = series(
        &h,
        &[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("code", "500"),
        ],
    );
    assert_eq!(
        times(s),
        vec![
            1_700_000_000_000,
            1_700_000_015_500,
            1_700_000_030_000,
            1_700_000_045_000,
            1_700_000_060_000
        ]
    );
    let v = values(s);
    assert_eq!(v[0], 1.5);
    assert!(v[1].is_nan());
    assert_eq!(v[2], f64::INFINITY);
    assert_eq!(v[3], f64::NEG_INFINITY);
    assert_eq!(v[4], 1e-7);
    series(
        &h,
        &[("__name__", "up"), ("job", "api"), ("instance", "a:9090")],
    );
}

#[test]
fn json_fractional_times_round_to_the_millisecond() {
    let h = parse_query_range_json(
        r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"m"},"values":[[1700000000.123,"1"],[1700000000.9999,"2"]]}]}}"#,
    )
    .unwrap();
    assert_eq!(
        times(&h.series[0]),
        vec![1_700_000_000_123, 1_700_000_001_000]
    );
}

#[test]
fn json_array_of_chunks_is_merged_and_deduplicated() {
    let text = r#"[
      {"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"__name__":"m","job":"a"},"values":[[100,"1"],[115,"2"],[130,"3"]]},
        {"metric":{"__name__":"m","job":"b"},"values":[[100,"7"]]}]}},
      {"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"job":"a","__name__":"m"},"values":[[130,"3"],[145,"4"],[160,"5"]]}]}},
      {"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"__name__":"m","job":"a"},"values":[[40,"-1"],[85,"0"]]}]}}
    ]"#;
    let (h, stats) = parse_query_range_json_with_stats(text).unwrap();
    assert_eq!(h.series.len(), 2);
    let a = series(&h, &[("__name__", "m"), ("job", "a")]);
    assert_eq!(
        times(a),
        vec![40_000, 85_000, 100_000, 115_000, 130_000, 145_000, 160_000]
    );
    assert_eq!(values(a), vec![-1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(stats.duplicates, 1);
    assert_eq!(stats.conflicting_duplicates, 0);
    assert_eq!(stats.out_of_order, 1);
    assert_eq!(
        values(series(&h, &[("__name__", "m"), ("job", "b")])),
        vec![7.0]
    );
}

#[test]
fn json_error_status_reports_error_type_and_message() {
    let e = json_err(
        r#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries"}"#,
    );
    assert_eq!(e.line, None);
    assert!(e.message.contains("bad_data"), "{e}");
    assert!(e.message.contains("exceeded maximum resolution"), "{e}");
}

#[test]
fn json_error_in_one_chunk_names_the_chunk() {
    let e = json_err(&format!(
        r#"[{ONE_CHUNK}, {{"status":"error","errorType":"timeout","error":"query timed out"}}]"#
    ));
    assert!(e.message.starts_with("response 2 of 2: "), "{e}");
    assert!(e.message.contains("timeout: query timed out"), "{e}");
}

#[test]
fn json_instant_query_needs_a_range_query() {
    let e = json_err(
        r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up"},"value":[1700000000,"1"]}]}}"#,
    );
    assert!(e.message.contains("range query"), "{e}");
    assert!(e.message.contains("matrix"), "{e}");
    let e = json_err(
        r#"{"status":"success","data":{"result":[1700000000,"1"],"resultType":"scalar"}}"#,
    );
    assert!(e.message.contains("range query"), "{e}");
}

#[test]
fn json_native_histograms_are_rejected() {
    let e = json_err(
        r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"rpc_duration_seconds"},
             "histograms":[[1700000000,{"count":"10","sum":"3.2","buckets":[[0,"-0.5","0.5","10"]]}]]}]}}"#,
    );
    assert!(
        e.message
            .starts_with("native histograms are not supported; use classic buckets"),
        "{e}"
    );
    assert!(e.message.contains("rpc_duration_seconds"), "{e}");
}

#[test]
fn json_bad_value_and_bad_syntax_name_the_line() {
    let e = json_err(
        "{\"status\":\"success\",\n\"data\":{\"resultType\":\"matrix\",\"result\":[\n{\"metric\":{},\"values\":[[1,\"abc\"]]}]}}",
    );
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("invalid sample value \"abc\""), "{e}");
    let e =
        json_err("{\"status\":\"success\",\n\"data\":{\"resultType\":\"matrix\",\n\"result\":[}}");
    assert_eq!(e.line, Some(3));
    let e = json_err(
        "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[\n{\"metric\":{},\"values\":[[1700000000000,\"1\"]]}]}}",
    );
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("not milliseconds"), "{e}");
}

#[test]
fn json_without_status_is_not_an_api_response() {
    let e = json_err(r#"{"data":{"resultType":"matrix","result":[]}}"#);
    assert!(e.message.contains("status"), "{e}");
}

// ---------------------------------------------------------------- files

#[test]
fn loads_the_openmetrics_fixture() {
    let h = load_file(&fixture("sample.om")).unwrap();
    assert_eq!(h.series.len(), 8);
    let ok = series(
        &h,
        &[
            ("__name__", "http_requests_total"),
            ("job", "checkout"),
            ("code", "200"),
        ],
    );
    assert_eq!(
        times(ok),
        vec![1_700_000_000_000, 1_700_000_015_000, 1_700_000_030_500]
    );
    assert_eq!(values(ok), vec![1000.0, 1060.0, 1125.0]);
    let inf = series(
        &h,
        &[
            ("__name__", "http_request_duration_seconds_bucket"),
            ("job", "checkout"),
            ("le", "+Inf"),
        ],
    );
    assert_eq!(values(inf), vec![1002.0, 1062.0]);
    series(
        &h,
        &[
            ("__name__", "go_map_update_failure_total"),
            ("op_type", "put"),
            ("key_hash", "a1,b2"),
            ("error_class", "map \"full\""),
        ],
    );
    assert_eq!(h.span(), Some((1_700_000_000_000, 1_700_000_030_500)));
}

#[test]
fn loads_the_json_fixture_with_two_chunks() {
    let h = load_file(&fixture("sample.json")).unwrap();
    assert_eq!(h.series.len(), 2);
    let bad = series(
        &h,
        &[
            ("__name__", "http_requests_total"),
            ("job", "checkout"),
            ("code", "500"),
        ],
    );
    assert_eq!(
        times(bad),
        vec![
            1_700_000_000_000,
            1_700_000_015_000,
            1_700_000_030_500,
            1_700_000_045_000,
            1_700_000_060_000
        ]
    );
    assert_eq!(values(bad)[..3], [2.0, 2.0, 5.0]);
    assert!(values(bad)[3].is_nan());
    assert_eq!(values(bad)[4], f64::INFINITY);
}

#[test]
fn gzip_round_trip_for_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sample.om", "sample.json"] {
        let plain = std::fs::read(fixture(name)).unwrap();
        // A name that hides the compression: detection is by magic bytes, not extension.
        let gz_path = dir.path().join(format!("{name}.gz"));
        std::fs::write(&gz_path, gzip(&plain)).unwrap();
        let odd_path = dir.path().join(format!("{name}.data"));
        std::fs::write(&odd_path, gzip(&plain)).unwrap();
        let expected = load_file(&fixture(name)).unwrap();
        assert_same(&load_file(&gz_path).unwrap(), &expected, name);
        assert_same(&load_file(&odd_path).unwrap(), &expected, name);
    }
}

#[test]
fn concatenated_gzip_members_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chunks.om.gz");
    let mut bytes = gzip(b"m 1 1\n");
    bytes.extend(gzip(b"m 2 2\n"));
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(values(&load_file(&path).unwrap().series[0]), vec![1.0, 2.0]);
}

#[test]
fn format_is_detected_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("json_with_blank_start.om", "\n\n  \t", ONE_CHUNK),
        ("json_with_bom.txt", "\u{feff}", ONE_CHUNK),
        (
            "om_quoted_name.json",
            "",
            "{\"http.server.duration\",\"job\"=\"a\"} 1 1\n",
        ),
        ("om_with_blank_start.json", "\n\n", "up 1 1\n"),
    ];
    for (name, prefix, body) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{prefix}{body}")).unwrap();
        let h = load_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!h.series.is_empty(), "{name}");
    }
    let path = dir.path().join("array.txt");
    std::fs::write(&path, format!("[{ONE_CHUNK},{ONE_CHUNK}]")).unwrap();
    assert_same(
        &load_file(&path).unwrap(),
        &parse_query_range_json(ONE_CHUNK).unwrap(),
        "array",
    );
}

#[test]
fn file_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("nope.om");
    let e = load_file(&missing).unwrap_err();
    assert_eq!(e.line, None);
    assert!(e.message.contains(&missing.display().to_string()), "{e}");

    let bad = dir.path().join("bad.om.gz");
    std::fs::write(&bad, gzip(b"# TYPE m counter\nm 1 1\nm{job} 1 2\n")).unwrap();
    let e = load_file(&bad).unwrap_err();
    assert_eq!(e.line, Some(3));
    assert!(
        e.message.contains("expected '=' after label name \"job\""),
        "{e}"
    );
    assert!(e.message.contains(&bad.display().to_string()), "{e}");

    let truncated = dir.path().join("truncated.gz");
    let gz = gzip(&std::fs::read(fixture("sample.om")).unwrap());
    std::fs::write(&truncated, &gz[..gz.len() / 2]).unwrap();
    let e = load_file(&truncated).unwrap_err();
    assert!(
        e.message.contains("gzip") && e.message.contains("truncated.gz"),
        "{e}"
    );

    let binary = dir.path().join("binary.om");
    std::fs::write(&binary, b"m 1 1\nm 2 2\n\xff\xfe\n").unwrap();
    let e = load_file(&binary).unwrap_err();
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("not UTF-8"), "{e}");

    let json = dir.path().join("vector.json");
    std::fs::write(
        &json,
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
    )
    .unwrap();
    let e = load_file(&json).unwrap_err();
    assert!(
        e.message.contains("range query") && e.message.contains("vector.json"),
        "{e}"
    );
}

// ---------------------------------------------------------------- speed (printed, not asserted)

/// Parses a generated OpenMetrics text shaped like a real export (histogram buckets and
/// labelled counters, 15 s scrapes) and prints the throughput. Smaller in debug builds,
/// which are ~20x slower; run with `--release --nocapture` for the real number.
#[test]
fn parse_speed_is_printed() {
    let target = if cfg!(debug_assertions) {
        10 << 20
    } else {
        50 << 20
    };
    let mut text = String::with_capacity(target + 4096);
    let bounds = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
    ];
    let mut t = 1_700_000_000i64;
    let mut lines = 0usize;
    while text.len() < target {
        for pod in 0..20 {
            for code in ["200", "404", "500"] {
                text.push_str(&format!(
                    "http_requests_total{{job=\"checkout\",pod=\"checkout-7d9f{pod:02}\",code=\"{code}\",path=\"/api/v1/cart,items\"}} {} {t}\n",
                    t * 3 + pod
                ));
                lines += 1;
            }
            for (i, le) in bounds.iter().enumerate() {
                text.push_str(&format!(
                    "http_request_duration_seconds_bucket{{job=\"checkout\",pod=\"checkout-7d9f{pod:02}\",le=\"{le}\"}} {} {t}.250\n",
                    (t - 1_600_000_000) * (i as i64 + 1)
                ));
                lines += 1;
            }
        }
        t += 15;
    }
    text.push_str("# EOF\n");
    let mb = text.len() as f64 / (1 << 20) as f64;
    let start = Instant::now();
    let (h, stats) = parse_openmetrics_with_stats(&text).unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(stats.samples, lines);
    assert_eq!(h.series.len(), 20 * (3 + bounds.len()));
    println!(
        "parsed {mb:.1} MB ({lines} samples, {} series) in {secs:.2}s: {:.0} MB/s ({} build)",
        h.series.len(),
        mb / secs,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}
