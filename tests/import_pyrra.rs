//! Pyrra `ServiceLevelObjective`s: every upstream example (`../shared/pyrra-examples/`,
//! pyrra-dev/pyrra 1ba95afb `examples/`) loads, with a warning for everything Pyrra has that
//! burnrate leaves out; each means what Pyrra computes (indicator, target, window, grouping,
//! its four alert tiers at the window); `burnrate convert` writes burnrate/v1 that loads
//! back as exactly the imports; and what cannot be converted is named at its
//! `file:line:column`. That the numbers and alerts agree with Pyrra's own expressions in a
//! real Prometheus is tests/pyrra_matches_prometheus.rs.

mod common;

use burnrate::decision::Decision;
use burnrate::spec::{Rule, ServiceSpec, SloSpec};
use common::{burnrate, load_specs, meaning};
use std::collections::BTreeMap;
use std::path::Path;

const EXAMPLES: &str = "../shared/pyrra-examples";
const FIXTURES: &str = "tests/fixtures/pyrra";

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|l| {
            l.replace("../shared/pyrra-examples/", "")
                .replace("tests/fixtures/pyrra/", "")
        })
        .collect()
}

fn slo<'a>(specs: &'a [ServiceSpec], service: &str, name: &str) -> &'a SloSpec {
    specs
        .iter()
        .filter(|s| s.service == service)
        .flat_map(|s| &s.slos)
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no {service}/{name}"))
}

fn tiers_of(rules: &[Rule]) -> Vec<(Decision, f64, String, String, String)> {
    rules
        .iter()
        .map(|r| {
            (
                r.decision,
                r.burn,
                r.long.to_string(),
                r.short.as_ref().unwrap().to_string(),
                r.for_.as_ref().map_or(String::new(), |f| f.to_string()),
            )
        })
        .collect()
}

/// How each upstream example is read: (service, SLO, what it becomes).
const EXPECTED: [(&str, &str, &str); 28] = [
    ("default", "caddy-response-latency", "latency"),
    ("default", "apiserver-read-cluster-latency", "latency"),
    ("default", "prometheus-api-query", "selectors"),
    ("default", "prometheus-blackbox-probe-success", "bool_gauge"),
    ("monitoring", "apiserver-read-cluster-latency", "latency"),
    ("monitoring", "apiserver-read-namespace-latency", "latency"),
    ("monitoring", "apiserver-read-resource-latency", "latency"),
    ("monitoring", "apiserver-read-response-errors", "selectors"),
    ("monitoring", "apiserver-write-response-errors", "selectors"),
    ("monitoring", "coredns-response-errors", "selectors"),
    ("monitoring", "kubelet-request-errors", "selectors"),
    ("monitoring", "kubelet-runtime-errors", "selectors"),
    ("monitoring", "prometheus-notification-errors", "selectors"),
    ("monitoring", "prometheus-operator-http-errors", "selectors"),
    (
        "monitoring",
        "prometheus-operator-reconcile-errors",
        "selectors",
    ),
    ("monitoring", "prometheus-query-errors", "selectors"),
    (
        "monitoring",
        "prometheus-rule-evaluation-failures",
        "selectors",
    ),
    ("monitoring", "prometheus-sd-kubernetes-errors", "selectors"),
    ("monitoring", "nginx-api-errors", "selectors"),
    ("monitoring", "nginx-api-latency", "queries"),
    ("monitoring", "prometheus-operator-http", "selectors"),
    ("monitoring", "pyrra-connect-errors", "queries"),
    ("monitoring", "pyrra-connect-latency", "native"),
    ("monitoring", "pyrra-filesystem-errors", "selectors"),
    ("monitoring", "pyrra-kubernetes-errors", "selectors"),
    ("monitoring", "thanos-store", "selectors"),
    ("monitoring", "thanos-query", "selectors"),
    ("parca", "parca-grpc-queryrange-errors", "selectors"),
];

#[test]
fn every_upstream_example_loads_with_a_warning_for_what_it_leaves_out() {
    let mut files: Vec<String> = std::fs::read_dir(EXAMPLES)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 27, "{files:?}");
    // Each file on its own: accepted (none is refused: every indicator Pyrra has is
    // expressible in PromQL, and converted as Pyrra computes it).
    for f in &files {
        let out = burnrate(&["validate", &format!("{EXAMPLES}/{f}")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let out = burnrate(&["validate", EXAMPLES]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("ok: ") && stdout.ends_with(", 28 SLO(s)\n"),
        "{stdout}"
    );
    // Every warning, by what it says; the object-selecting labels (`prometheus: k8s`,
    // `role: alert-rules`) of 26 files are counted, the rest listed.
    let stderr = lines(&out.stderr);
    let object_labels = "warning: metadata.labels: not converted: prometheus, role (Pyrra puts only pyrra.dev/ labels on its rules; these label the object)";
    let (label_warnings, rest): (Vec<&String>, Vec<&String>) =
        stderr.iter().partition(|l| l.ends_with(object_labels));
    assert_eq!(label_warnings.len(), 26, "{label_warnings:#?}");
    let no_namespace = |f: &str| {
        format!(
            "{f}:4:9: warning: metadata.namespace: no namespace and no pyrra.dev/service label: the SLO belongs to service \"default\" (the namespace Kubernetes would give it)"
        )
    };
    let exported = |f: &str, line: usize, field: &str| {
        format!(
            "{f}:{line}:11: warning: spec.indicator.{field}.grouping[0]: \"service\" is a label burnrate sets itself (on outputs, metrics and alerts): the groups are labelled \"exported_service\" instead, as Prometheus renames a scraped label that collides with a target label (the SLI becomes raw queries; burns are Pyrra's)"
        )
    };
    let expected: Vec<String> = vec![
        no_namespace("caddy-response-latency.yaml"),
        "nginx.yaml:31:17: warning: spec.indicator.latency.success.metric: converted as Pyrra's queries (bad_query: total - success, total_query: total), not as a latency section: the two select different series (status=~\"5..\" only on the success bucket), and burnrate's latency section takes one histogram selector".into(),
        no_namespace("prometheus-http.yaml"),
        no_namespace("prometheus-probe-success.yaml"),
        "prometheus-probe-success.yaml:13:15: warning: spec.indicator.bool_gauge.metric: boolean gauge converted as bad_query: count - sum, total_query: count of its samples over each window: burns equal Pyrra's, but burnrate's `events` are those sample counts times the window's seconds (so do not add min_events)".into(),
        exported("pyrra-connect-errors.yaml", 20, "ratio"),
        "pyrra-connect-latency.yaml:17:17: warning: spec.indicator.latencyNative.total.metric: native histogram converted as Pyrra's own error ratio (1 - histogram_fraction(...)) in bad_query, with total_query 1 wherever it is a number, not as a native_histogram latency section: its groups are relabelled, which takes queries (see the grouping); burns equal Pyrra's, but the SLI has no event counts".into(),
        "pyrra-connect-latency.yaml:17:17: warning: spec.indicator.latencyNative.total.metric: outside burnrate's PromQL subset (function histogram_fraction is not supported by the local evaluator): this SLO is measured by the backend (query_range in a backtest, direct queries in the daemon), and a history file cannot replay it".into(),
        exported("pyrra-connect-latency.yaml", 19, "latencyNative"),
    ];
    let rest: Vec<String> = rest.into_iter().cloned().collect();
    assert_eq!(rest, expected);

    // What each one became.
    let specs = load_specs(&[EXAMPLES]);
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for s in &specs {
        for slo in &s.slos {
            let kind = match (&slo.error, &slo.latency) {
                (None, Some(_)) => "latency",
                (Some(e), None) => match &e.events {
                    burnrate::spec::ErrorEvents::Selectors { .. } => "selectors",
                    burnrate::spec::ErrorEvents::Queries { bad, .. } => {
                        if bad.contains("histogram_fraction") {
                            "native"
                        } else if bad.contains("count_over_time") {
                            "bool_gauge"
                        } else {
                            "queries"
                        }
                    }
                },
                _ => "both",
            };
            seen.push((s.service.clone(), slo.name.clone(), kind.to_string()));
            // Every one alerts on Pyrra's four tiers at its window.
            let dim = slo.dimensions().next().unwrap();
            assert_eq!(
                tiers_of(slo.matrix(dim).unwrap()),
                tiers_of_expected(&slo.period.to_string()),
                "{}/{}",
                s.service,
                slo.name
            );
        }
    }
    let expected: Vec<(String, String, String)> = EXPECTED
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(seen, expected);
}

/// Pyrra's tiers at `window` in the form of `tiers_of`.
fn tiers_of_expected(window: &str) -> Vec<(Decision, f64, String, String, String)> {
    common::pyrra::tiers(window)
        .into_iter()
        .map(|t| {
            (
                t.decision,
                t.factor,
                t.long.into(),
                t.short.into(),
                t.for_.into(),
            )
        })
        .collect()
}

#[test]
fn imports_mean_what_pyrra_computes() {
    let specs = load_specs(&[EXAMPLES]);

    // latency: X_bucket{le} and X_count of one histogram, the target as the quantile (read
    // from the converted text: the histogram's fields are the loader's).
    let converted = |file: &str| {
        let out = burnrate(&["convert", &format!("{EXAMPLES}/{file}")]);
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).unwrap()
    };
    let caddy = converted("caddy-response-latency.yaml");
    assert!(
        caddy.contains(
            "    period: 4w\n    latency:\n      histogram: 'caddy_http_response_duration_seconds{job=\"caddy\",handler=\"subroute\",code!~\"5..\"}'\n      quantile: 0.9\n      threshold: 50ms\n    matrix:\n      preset: pyrra"
        ),
        "{caddy}"
    );
    let apiserver = converted("kubernetes_manifests_slos_slo-apiserver-read-cluster-latency.yaml");
    assert!(
        apiserver.contains("      quantile: 0.99\n      threshold: 5s\n"),
        "le=\"5.0\": {apiserver}"
    );
    let l = slo(&specs, "default", "caddy-response-latency")
        .latency
        .as_ref()
        .unwrap();
    assert_eq!(l.quantile, 0.9);

    // ratio: the two selectors as written; the target as the objective, exactly.
    let coredns = slo(&specs, "monitoring", "coredns-response-errors");
    let e = coredns.error.as_ref().unwrap();
    assert_eq!(e.objective, 0.9999);
    match &e.events {
        burnrate::spec::ErrorEvents::Selectors { bad, total } => {
            assert_eq!(
                bad.to_string(),
                r#"coredns_dns_responses_total{job="kube-dns",rcode="SERVFAIL"}"#
            );
            assert_eq!(
                total.to_string(),
                r#"coredns_dns_responses_total{job="kube-dns"}"#
            );
        }
        other => panic!("{other:?}"),
    }

    // grouping -> group_by; a grouping label burnrate sets itself is exported_*.
    let reconcile = slo(&specs, "monitoring", "prometheus-operator-reconcile-errors");
    assert_eq!(reconcile.group_by, ["controller"]);
    let connect = slo(&specs, "monitoring", "pyrra-connect-errors");
    assert_eq!(connect.group_by, ["exported_service", "method"]);

    // bool_gauge: Pyrra's count - sum over each window.
    let probes = slo(&specs, "default", "prometheus-blackbox-probe-success");
    assert_eq!(probes.group_by, ["target"]);
    match &probes.error.as_ref().unwrap().events {
        burnrate::spec::ErrorEvents::Queries { bad, total } => {
            assert_eq!(
                bad,
                "sum by (target) (count_over_time(probe_success[{{.window}}])) - sum by (target) (sum_over_time(probe_success[{{.window}}]))"
            );
            assert_eq!(
                total,
                "sum by (target) (count_over_time(probe_success[{{.window}}]))"
            );
        }
        other => panic!("{other:?}"),
    }

    // pyrra.dev/ labels are the rules' labels: service labels.
    let parca: &ServiceSpec = specs.iter().find(|s| s.service == "parca").unwrap();
    assert_eq!(
        parca.labels,
        BTreeMap::from([("team".to_string(), "parca".to_string())])
    );
    assert!(
        specs
            .iter()
            .all(|s| s.service == "parca" || s.labels.is_empty())
    );
}

#[test]
fn converted_examples_load_back_as_the_imports() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let run = burnrate(&["convert", EXAMPLES, FIXTURES, "-o", dir]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("converted 5 service(s), 34 SLO(s)"),
        "{stderr}"
    );
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "default.yaml",
            "monitoring.yaml",
            "parca.yaml",
            "probes.yaml",
            "shop.yaml"
        ]
    );
    // Plain burnrate/v1: the only warnings left are the local evaluator's, about the
    // native-histogram SLO the backend measures.
    let run = burnrate(&["validate", dir]);
    assert_eq!(run.status.code(), Some(0));
    let warnings = lines(&run.stderr);
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings
            .iter()
            .all(|w| w.contains("monitoring.yaml:") && w.contains("histogram_fraction")),
        "{warnings:#?}"
    );
    for name in &names {
        let text = std::fs::read_to_string(out.path().join(name)).unwrap();
        assert!(text.contains("\napiVersion: burnrate/v1\n"), "{name}");
        assert!(text.contains("preset: pyrra"), "{name}");
        assert_eq!(burnrate::import::detect(&text), None, "{name}");
    }
    let shop = std::fs::read_to_string(out.path().join("shop.yaml")).unwrap();
    assert!(
        shop.contains("      error: []  # Pyrra alerting: no burn-rate alerts\n"),
        "{shop}"
    );

    let imported = load_specs(&[EXAMPLES, FIXTURES]);
    let converted = load_specs(&[dir]);
    assert_eq!(meaning(&imported), meaning(&converted));
}

/// `latencyNative` whose groups keep their names is burnrate's native-histogram latency
/// section (Pyrra's `1 - histogram_fraction(0, L, sum by (G) (rate(M[w])))` is its bad
/// ratio), measured by the backend; `convert` writes it as `native_histogram:`.
#[test]
fn latency_native_is_a_native_histogram_latency_section() {
    let dir = tempfile::tempdir().unwrap();
    let upstream =
        std::fs::read_to_string(format!("{EXAMPLES}/pyrra-connect-latency.yaml")).unwrap();
    // The upstream example groups by `service`, which burnrate relabels: keep `method` only.
    let text = upstream.replace("        - service\n", "");
    assert_ne!(text, upstream);
    let file = dir.path().join("connect.yaml");
    std::fs::write(&file, &text).unwrap();
    let path = file.to_str().unwrap();

    let specs = load_specs(&[path]);
    let s = slo(&specs, "monitoring", "pyrra-connect-latency");
    assert!(s.error.is_none());
    let latency = s.latency.as_ref().expect("a latency section");
    assert_eq!(latency.quantile, 0.99);
    assert_eq!(s.group_by, ["method"]);
    let query = burnrate::measure::query::dimension_query(
        s,
        burnrate::spec::Dimension::Latency,
        &[burnrate::duration::PromDuration::parse("1h").unwrap()],
    );
    assert!(
        query.contains(
            r#"histogram_fraction(0, 0.2, sum by (method) (rate(connect_server_requests_duration_seconds{job="pyrra",code="ok"}[1h])))"#
        ),
        "{query}"
    );
    assert_eq!(
        tiers_of(&latency.matrix),
        tiers_of(
            &slo(
                &load_specs(&[EXAMPLES]),
                "monitoring",
                "pyrra-connect-latency"
            )
            .error
            .as_ref()
            .unwrap()
            .matrix
        ),
        "the same Pyrra tiers as the raw-query import"
    );

    let out = burnrate(&["validate", path]);
    assert_eq!(out.status.code(), Some(0));
    let warnings = lines(&out.stderr);
    assert!(
        warnings.iter().any(|w| w.ends_with(
            "connect.yaml:17:17: warning: spec.indicator.latencyNative.total.metric: a native histogram: this SLO is measured by the backend (query_range in a backtest, direct queries in the daemon), and a history file cannot replay it"
        )),
        "{warnings:#?}"
    );

    let converted = burnrate(&["convert", path]);
    assert_eq!(converted.status.code(), Some(0));
    let yaml = String::from_utf8(converted.stdout).unwrap();
    assert!(
        yaml.contains(
            "    latency:\n      native_histogram: 'connect_server_requests_duration_seconds{job=\"pyrra\",code=\"ok\"}'\n      quantile: 0.99\n      threshold: 200ms\n"
        ),
        "{yaml}"
    );
    let back = dir.path().join("back.yaml");
    std::fs::write(&back, &yaml).unwrap();
    assert_eq!(
        meaning(&specs),
        meaning(&load_specs(&[back.to_str().unwrap()]))
    );
}

#[test]
fn alerting_off_is_an_slo_without_rules() {
    let specs = load_specs(&[FIXTURES]);
    let quiet = slo(&specs, "shop", "shop-quiet");
    assert_eq!(quiet.error.as_ref().unwrap().matrix, []);
    assert_eq!(quiet.windows(burnrate::spec::Dimension::Error), []);
    // The others of the file alert on Pyrra's tiers; the probes are their own service.
    let routes = slo(&specs, "shop", "shop-routes");
    assert_eq!(
        tiers_of(&routes.error.as_ref().unwrap().matrix),
        tiers_of_expected("2w")
    );
    let probes = slo(&specs, "probes", "probe-success");
    assert_eq!(probes.group_by, ["target"]);
}

#[test]
fn pyrra_specs_that_cannot_be_converted_name_every_problem() {
    let out = burnrate(&["validate", &format!("{FIXTURES}/invalid/unsupported.yaml")]);
    assert_eq!(out.status.code(), Some(65));
    let f = "invalid/unsupported.yaml";
    let expected: Vec<String> = [
        r#"3:13: apiVersion: Pyrra "pyrra.dev/v1beta1" is not supported (only "pyrra.dev/v1alpha1")"#,
        r#"9:7: kind: Pyrra kind "ServiceLevelObjectiveList" is not an SLO (expected ServiceLevelObjective)"#,
        "19:11: spec.target: must be a percentage strictly between 0 and 100, got 100 (a target of 100 leaves no error budget to burn)",
        "21:3: spec.objective: unknown field (Pyrra rejects it too; expected one of: description, target, window, indicator, alerting, partial_response_strategy, performanceOverAccuracy, ruleOutput)",
        r#"25:20: spec.indicator.ratio.errors.metric: not a PromQL selector: expected end of selector, found "(": write a plain instant vector selector without range, offset, @ or operators (windows come from the spec) (Pyrra takes a metric selector here, like http_requests_total{code=~"5.."})"#,
        "27:9: spec.indicator.ratio.total.query: unknown field (Pyrra rejects it too; expected one of: metric)",
        "27:9: spec.indicator.ratio.total.metric: missing required field",
        "38:5: spec.indicator: holds ratio and latency: Pyrra measures only the first of them (and refuses ratio with latency); keep one",
        r#"60:17: spec.indicator.latency.success.metric: must select one bucket with a le matcher (le="0.1"), as Pyrra requires"#,
        "71:11: spec.window: the pyrra preset's windows at a period of 1d round to 0 minutes (Pyrra divides the period by up to 20160 and rounds to the minute): use a period of at least 3d or give the rules",
        r#"79:11: spec.indicator.ratio.grouping[0]: "route-name" is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"#,
    ]
    .iter()
    .map(|l| format!("{f}:{l}"))
    .chain(["burnrate: 11 error(s); nothing was evaluated".to_string()])
    .collect();
    assert_eq!(lines(&out.stderr), expected);
}

#[test]
fn one_pyrra_file_loads_through_load_str() {
    // Two SLOs of one namespace in one file: one service.
    let text = std::fs::read_to_string(format!("{EXAMPLES}/nginx.yaml")).unwrap();
    let (spec, diags) = burnrate::spec::load::load_str(Path::new("nginx.yaml"), &text);
    let spec = spec.unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(spec.service, "monitoring");
    let names: Vec<&str> = spec.slos.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["nginx-api-errors", "nginx-api-latency"]);
    assert!(diags.iter().all(|d| d.file == Path::new("nginx.yaml")));
}
