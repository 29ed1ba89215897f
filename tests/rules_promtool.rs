//! `burnrate rules` output is what promtool accepts, and its generated unit tests pass.
//!
//! - `promtool check rules` on the rules of every shipped spec (`slo-specs/`) and every test
//!   fixture spec (`tests/fixtures/{check,backtest,rules}`), one file at a time and together;
//! - the Prometheus Operator format carries the same groups;
//! - `promtool test rules` on the files `--promtool-tests` writes, and those tests fail when
//!   the rules are wrong (they check something);
//! - usage errors exit 64, spec errors 65.
//!
//! The binaries are `promtool` from `PATH` or `PROMTOOL_BIN`.

use burnrate::spec::yaml::parse;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::{burnrate, map_get};

fn promtool_bin() -> String {
    std::env::var("PROMTOOL_BIN").unwrap_or_else(|_| "promtool".to_string())
}

fn promtool(args: &[&str]) -> Output {
    Command::new(promtool_bin())
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (is Prometheus installed?): {e}",
                promtool_bin()
            )
        })
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn specs_in(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{dir} has specs");
    files
}

/// Buckets of the histograms the fixtures use, so their thresholds between bounds are
/// interpolated.
const BUCKETS: [&str; 4] = [
    "--buckets=catalog_request_duration_seconds=0.025,0.05,0.1,0.2,0.25,0.5,1,2.5",
    "--buckets=go_map_update_duration_seconds=0.005,0.01,0.025,0.05,0.1,0.2,0.4,0.8,1.6",
    "--buckets=edge_request_duration_seconds=0.1,0.25,0.5,1",
    "--buckets=http_request_duration_seconds=0.05,0.1,0.25,0.5,1,2.5",
];

/// `burnrate rules` into a file, then `promtool check rules`; returns the rule count.
fn check_rules(dir: &Path, specs: &[&str], extra: &[&str]) -> usize {
    let out = dir.join("rules.yaml");
    let mut args = vec!["rules", "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(specs);
    let o = burnrate(&args);
    assert_eq!(o.status.code(), Some(0), "rules {specs:?}: {}", text(&o));
    let o = promtool(&["check", "rules", out.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "promtool check rules for {specs:?}:\n{}\n--- rules ---\n{}",
        text(&o),
        std::fs::read_to_string(&out).unwrap()
    );
    let t = text(&o);
    let n = t
        .split("SUCCESS: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rule count in {t}"));
    assert!(n > 0, "{specs:?}: no rules");
    n
}

#[test]
fn promtool_accepts_the_rules_of_every_spec() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    for d in [
        "slo-specs",
        "tests/fixtures/check",
        "tests/fixtures/backtest",
        "tests/fixtures/rules",
        "tests/fixtures/rules-groups",
    ] {
        for spec in specs_in(d) {
            let spec = spec.to_str().unwrap().to_string();
            check_rules(dir.path(), &[&spec], &[]);
            check_rules(dir.path(), &[&spec], &BUCKETS);
            all.push(spec);
        }
    }
    // Directories, and every option at once.
    check_rules(dir.path(), &["slo-specs"], &[]);
    check_rules(
        dir.path(),
        &["tests/fixtures/check"],
        &["--interval", "1m", "--keep-firing-for", BUCKETS[0]],
    );
    assert!(
        all.iter().any(|s| s.ends_with("billing.yaml")),
        "raw PromQL covered"
    );
}

#[test]
fn rule_counts_follow_the_matrix() {
    // map-update: error and latency, one window (1h) each: 2 burn + 2 budget records, and
    // one alert per decision level (warn, circuit_break; scale, circuit_break).
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        check_rules(dir.path(), &["slo-specs/map-update.yaml"], &[]),
        8
    );
    // checkout-api on the default ladder: 5 windows per dimension + budget, 2 levels for
    // errors (warn, circuit_break), 3 for latency (warn, scale, circuit_break).
    assert_eq!(
        check_rules(dir.path(), &["slo-specs/checkout-api.yaml"], &[]),
        2 * (5 + 1) + 2 + 3
    );
}

#[test]
fn prometheus_operator_format_wraps_the_same_groups() {
    let plain = burnrate(&["rules", "slo-specs"]);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
    let operator = burnrate(&[
        "rules",
        "slo-specs",
        "--format",
        "prometheus-operator",
        "--namespace",
        "monitoring",
        "--label",
        "release=prometheus",
    ]);
    assert_eq!(operator.status.code(), Some(0), "{}", text(&operator));
    let operator = String::from_utf8(operator.stdout).unwrap();
    let doc = parse(&operator).unwrap().unwrap();
    let get = |path: &[&str]| {
        path.iter()
            .try_fold(&doc, |n, k| map_get(n, k))
            .and_then(|n| n.as_scalar())
            .map(str::to_string)
    };
    assert_eq!(
        get(&["apiVersion"]).as_deref(),
        Some("monitoring.coreos.com/v1")
    );
    assert_eq!(get(&["kind"]).as_deref(), Some("PrometheusRule"));
    assert_eq!(get(&["metadata", "name"]).as_deref(), Some("burnrate-slos"));
    assert_eq!(
        get(&["metadata", "namespace"]).as_deref(),
        Some("monitoring")
    );
    assert_eq!(
        get(&["metadata", "labels", "release"]).as_deref(),
        Some("prometheus")
    );
    // `spec:` holds exactly the rule file's groups, indented.
    let spec: String = operator
        .split_once("\nspec:\n")
        .unwrap()
        .1
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
        .collect();
    let plain = String::from_utf8(plain.stdout).unwrap();
    let groups = &plain[plain.find("groups:").unwrap()..];
    assert_eq!(spec, groups);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spec.yaml");
    std::fs::write(&file, &spec).unwrap();
    let o = promtool(&["check", "rules", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    // One service: the object is named after it.
    let one = burnrate(&[
        "rules",
        "slo-specs/map-update.yaml",
        "--format",
        "prometheus-operator",
    ]);
    let one = String::from_utf8(one.stdout).unwrap();
    assert!(one.contains("\n  name: burnrate-go-map\n"), "{one}");
}

/// `rules --promtool-tests`, then `promtool test rules`; returns the test file's text.
fn unit_tests(dir: &Path, specs: &[&str], extra: &[&str]) -> (PathBuf, String) {
    let rules = dir.join("rules.yaml");
    let tests = dir.join("rules.test.yaml");
    let mut args = vec![
        "rules",
        "-o",
        rules.to_str().unwrap(),
        "--promtool-tests",
        tests.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(specs);
    let o = burnrate(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let test_text = std::fs::read_to_string(&tests).unwrap();
    let o = promtool(&["test", "rules", tests.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "promtool test rules for {specs:?}:\n{}\n--- tests ---\n{test_text}",
        text(&o)
    );
    (rules, test_text)
}

#[test]
fn generated_promtool_unit_tests_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (_, shipped) = unit_tests(dir.path(), &["slo-specs"], &[]);
    // Every shipped SLO with selectors has its scenarios; the raw-PromQL one is skipped.
    for scenario in ["idle", "healthy", "lowest level", "outage"] {
        let line = shipped
            .lines()
            .find(|l| l.starts_with(&format!("  # {scenario}")))
            .unwrap_or_else(|| panic!("no {scenario} test:\n{shipped}"));
        for who in ["go-map/map-update", "checkout/requests"] {
            assert!(line.contains(who), "{scenario} covers {who}: {line}");
        }
    }
    assert!(shipped.contains("# skipped: batch-exporter/export-jobs: raw"));
    // The outage fires the top level, with its burn rates in the annotations.
    assert!(shipped.contains("decision: circuit_break"));
    assert!(shipped.contains("burn_rates: '1h=1000.000'"), "{shipped}");
    assert!(shipped.contains("promql_expr_test:"));

    // Fixtures: shared histograms (two catalog SLOs), interpolated thresholds, min_events,
    // `for`, label spellings that need quoting.
    for (specs, extra) in [
        (vec!["tests/fixtures/check"], vec![BUCKETS[0]]),
        (
            vec!["tests/fixtures/backtest", "tests/fixtures/rules"],
            vec![BUCKETS[1], BUCKETS[2]],
        ),
    ] {
        let sub = tempfile::tempdir_in(dir.path()).unwrap();
        let (_, t) = unit_tests(sub.path(), &specs, &extra);
        assert!(
            t.contains("exp_alerts:\n"),
            "{specs:?}: some alerts expected"
        );
    }

    // A grouped SLO over series other SLOs' tests make up: promtool agrees with the
    // expected series of each group (the one of /a and the one without a route).
    let sub = tempfile::tempdir_in(dir.path()).unwrap();
    let (_, t) = unit_tests(sub.path(), &["tests/fixtures/rules-groups"], &[]);
    for group in [r#"route="/a","#, ""] {
        let series = format!(
            r#"burnrate:error_budget_remaining:ratio{{dimension="latency",{group}service="shop",slo="per-route"}}"#
        );
        assert!(t.contains(&series), "expected: {series}\n{t}");
    }
}

#[test]
fn generated_unit_tests_catch_wrong_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, _) = unit_tests(dir.path(), &["slo-specs"], &[]);
    let original = std::fs::read_to_string(&rules).unwrap();
    let tests = dir.path().join("rules.test.yaml");
    for (what, from, to) in [
        ("a factor", ">= 14.4)", ">= 1440)"),
        ("missing bad counter = 0", " or vector(0))", ")"),
        ("no traffic = burn 0", " == 0)", " == 1)"),
        ("the objective", " / 0.001", " / 0.01"),
        ("for", "for: 2m", "for: 0s"),
        ("the min_events guard", "* 3600 >= 100)", "* 3600 >= 1e12)"),
        ("an annotation", "printf \"%.3f\"", "printf \"%.2f\""),
    ] {
        assert!(original.contains(from), "{what}: {from:?} not in the rules");
        std::fs::write(&rules, original.replace(from, to)).unwrap();
        let o = promtool(&["test", "rules", tests.to_str().unwrap()]);
        assert!(
            !o.status.success(),
            "changing {what} ({from:?} -> {to:?}) went unnoticed"
        );
    }
}

#[test]
fn usage_and_spec_errors() {
    let code = |args: &[&str]| burnrate(args).status.code();
    assert_eq!(
        code(&["rules", "slo-specs", "--promtool-tests", "/tmp/x.yaml"]),
        Some(64)
    );
    assert_eq!(
        code(&["rules", "slo-specs", "--buckets", "h=abc"]),
        Some(64)
    );
    assert_eq!(code(&["rules", "slo-specs", "--interval", "0s"]), Some(64));
    assert_eq!(code(&["rules", "slo-specs", "--format", "sloth"]), Some(64));
    assert_eq!(
        code(&["rules", "tests/fixtures/invalid/objective.yaml"]),
        Some(65)
    );
    // The same service and SLO twice: their series would collide.
    assert_eq!(
        code(&[
            "rules",
            "slo-specs/checkout-api.yaml",
            "tests/fixtures/check/checkout.yaml"
        ]),
        Some(65)
    );
}
