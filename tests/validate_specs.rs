//! `burnrate validate`: every check of the spec format, with the exact `file:line:column`.

mod common;

use common::{burnrate, burnrate_cmd, stdout_of};

fn validate(file: &str) -> (i32, Vec<String>, String) {
    let path = format!("tests/fixtures/invalid/{file}");
    let out = burnrate(&["validate", &path]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines = stderr
        .lines()
        .filter(|l| l.starts_with(&path))
        .map(|l| {
            l.strip_prefix("tests/fixtures/invalid/")
                .unwrap()
                .to_string()
        })
        .collect();
    (
        out.status.code().unwrap(),
        lines,
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn assert_errors(file: &str, expected: &[&str]) {
    let (code, lines, _) = validate(file);
    assert_eq!(lines, expected, "diagnostics of {file}");
    assert_eq!(code, 65, "exit code of {file}");
}

#[test]
fn objective_must_be_a_percentage_in_0_100() {
    assert_errors(
        "objective.yaml",
        &[
            "objective.yaml:6:18: slos[0].error.objective: must be a percentage strictly between 0 and 100, got 100",
        ],
    );
}

#[test]
fn quantile_must_be_in_0_1() {
    assert_errors(
        "quantile.yaml",
        &["quantile.yaml:7:17: slos[0].latency.quantile: must be strictly between 0 and 1, got 99"],
    );
}

#[test]
fn durations_must_use_prometheus_syntax() {
    assert_errors(
        "duration.yaml",
        &[
            r#"duration.yaml:5:13: slos[0].period: unknown unit "days" in duration "30days" (ms, s, m, h, d, w, y)"#,
            r#"duration.yaml:9:18: slos[0].latency.threshold: duration "200" needs a unit (ms, s, m, h, d, w, y)"#,
        ],
    );
}

#[test]
fn short_window_must_be_shorter_than_long() {
    assert_errors(
        "short-long.yaml",
        &[
            "short-long.yaml:11:66: slos[0].matrix.error[0].short: short window 1h must be shorter than long window 5m",
        ],
    );
}

#[test]
fn windows_under_a_minute_warn_but_validate() {
    let (code, lines, stdout) = validate("short-window.yaml");
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("short-window.yaml:11:66: warning: slos[0].matrix.error[0].short: window 30s is under 1m"),
        "{lines:?}"
    );
    assert!(stdout.contains("ok: 1 file(s), 1 service(s), 1 SLO(s)"));
}

#[test]
fn selectors_must_parse_as_promql() {
    assert_errors(
        "selector.yaml",
        &[
            "selector.yaml:7:31: slos[0].error.bad: not a PromQL selector: unterminated string literal",
            r#"selector.yaml:8:28: slos[0].error.total: not a PromQL selector: expected end of selector, found "[": write a plain instant vector selector without range, offset, @ or operators (windows come from the spec)"#,
        ],
    );
}

#[test]
fn unknown_fields_are_rejected() {
    assert_errors(
        "unknown-field.yaml",
        &[
            "unknown-field.yaml:5:5: slos[0].objectve: unknown field (expected one of: name, description, period, min_events, error, latency, matrix, for, hold, group_by, max_groups, timezone, no_data, maintenance)",
            "unknown-field.yaml:10:7: slos[0].error.totl: unknown field (expected one of: objective, bad, total, bad_query, total_query, breakdown, breakdown_top)",
        ],
    );
}

#[test]
fn duplicate_slo_names_are_rejected() {
    assert_errors(
        "duplicate-slo.yaml",
        &[
            r#"duplicate-slo.yaml:8:11: slos[2].name: duplicate SLO name "a" (first defined at line 4)"#,
        ],
    );
}

#[test]
fn yaml_syntax_errors_have_a_position() {
    let (code, lines, _) = validate("syntax.yaml");
    assert_eq!(code, 65);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("syntax.yaml:6:9: YAML syntax error: "),
        "{lines:?}"
    );
}

#[test]
fn every_error_of_a_file_is_listed_in_file_order() {
    assert_errors(
        "many-errors.yaml",
        &[
            r#"many-errors.yaml:1:13: apiVersion: must be "burnrate/v1", got "burnrate/v2""#,
            "many-errors.yaml:3:10: labels.service: is set by burnrate itself; choose another label name",
            "many-errors.yaml:6:13: slos[0].period: must be longer than 0",
            "many-errors.yaml:8:18: slos[0].error.objective: must be a percentage strictly between 0 and 100, got -1",
            "many-errors.yaml:9:18: slos[0].error.bad_query: must contain the window placeholder {{.window}}, e.g. sum(rate(errors_total[{{.window}}]))",
            "many-errors.yaml:10:23: slos[0].error.total_query: '(' is never closed",
            r#"many-errors.yaml:12:18: slos[0].latency.histogram: give the base name "http_request_duration_seconds": burnrate appends _bucket and _count itself"#,
            "many-errors.yaml:13:17: slos[0].latency.quantile: must be strictly between 0 and 1, got 1",
            r#"many-errors.yaml:14:18: slos[0].latency.threshold: not a duration: "fast" (expected e.g. 30s, 5m, 1h30m, 3d)"#,
            r#"many-errors.yaml:17:22: slos[0].matrix.error[0].decision: must be warn, scale or circuit_break, got "page""#,
            "many-errors.yaml:17:34: slos[0].matrix.error[0].burn: must be greater than 0, got 0",
            "many-errors.yaml:18:5: slos[1].name: missing required field",
            "many-errors.yaml:18:5: slos[1]: an SLO needs an `error` or a `latency` section (or both)",
        ],
    );
}

#[test]
fn shipped_specs_are_valid() {
    let stdout = stdout_of(burnrate_cmd().args(["validate", "slo-specs"]), 0);
    assert!(stdout.contains("ok: 3 file(s), 3 service(s), 3 SLO(s)"));
}

#[test]
fn a_missing_file_is_an_invalid_spec_not_a_crash() {
    let out = burnrate(&["validate", "tests/fixtures/invalid/does-not-exist.yaml"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist.yaml: cannot read"));
}

/// A raw query outside the local PromQL evaluator's subset is valid (the backend answers
/// it) but draws a warning at the construct the evaluator lacks, saying what follows.
#[test]
fn raw_query_outside_the_local_subset_is_a_warning_at_its_column() {
    let path = "tests/fixtures/backtest/mixed/outside-subset.yaml";
    let out = burnrate(&["validate", path]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with(path)).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    // Line 10, column 83: where `absent_over_time` starts in the bad_query.
    assert!(
        warnings[0].starts_with(&format!(
            "{path}:10:83: warning: slos[0].error.bad_query: outside burnrate's PromQL subset ("
        )),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("absent_over_time"), "{}", warnings[0]);
    assert!(
        warnings[0].contains("a history file cannot replay it"),
        "{}",
        warnings[0]
    );
}

/// `native_histogram` takes the place of `histogram`, names the histogram's one series, and
/// is valid with a warning: only the backend computes `histogram_fraction`.
#[test]
fn native_histograms_are_checked_and_measured_by_the_backend() {
    let (code, lines, _) = validate("native-histogram.yaml");
    assert_eq!(
        lines,
        [
            "native-histogram.yaml:6:7: slos[0].latency: use either `histogram` (classic) or `native_histogram`, not both",
            "native-histogram.yaml:12:25: slos[1].latency.native_histogram: names a classic histogram's _bucket series: a native histogram is one series; use `histogram:` for a classic histogram",
            "native-histogram.yaml:17:25: warning: slos[2].latency.native_histogram: a native histogram: this SLO is measured by the backend (query_range in a backtest, direct queries in the daemon), and a history file cannot replay it",
        ]
    );
    assert_eq!(code, 65);
}

#[test]
fn breakdown_labels_and_top_are_checked() {
    assert_errors(
        "breakdown.yaml",
        &[
            r#"breakdown.yaml:10:32: slos[0].error.breakdown[1]: "cluster" is a `group_by` label: each group has one value of it"#,
            r#"breakdown.yaml:10:41: slos[0].error.breakdown[2]: "error_class" is listed twice"#,
            r#"breakdown.yaml:10:54: slos[0].error.breakdown[3]: "decision" is a label burnrate sets itself; use another label"#,
            "breakdown.yaml:11:22: slos[0].error.breakdown_top: must be a whole number from 1 to 100, got 0",
            r#"breakdown.yaml:16:19: slos[0].latency.breakdown[0]: "le" is a label burnrate sets itself; use another label"#,
            "breakdown.yaml:22:22: slos[1].error.breakdown_top: needs `breakdown`: the labels to break the bad events down by",
            "breakdown.yaml:28:18: slos[2].error.breakdown: must list at least one label",
        ],
    );
}
