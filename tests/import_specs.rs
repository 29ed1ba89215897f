//! Sloth and OpenSLO specs: `burnrate validate` accepts the convertible ones (with their
//! warnings) and names every problem of the others at its `file:line:column`; `burnrate
//! convert` writes burnrate/v1 files that load back as exactly the imported specs; and the
//! imports mean what the hand-written burnrate equivalents say (objectives, periods,
//! matrices, `for`). That the numbers agree too is tests/import_matches_handwritten.rs.

use std::path::Path;

mod common;

use common::{burnrate, load_specs as load, meaning};

const DIR: &str = "tests/fixtures/import";

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|l| {
            l.strip_prefix("tests/fixtures/import/")
                .unwrap_or(l)
                .to_string()
        })
        .collect()
}

/// `validate FILE`: its exit code and the diagnostics (paths relative to the fixtures).
fn validate(paths: &[&str]) -> (i32, Vec<String>, String) {
    let mut args = vec!["validate"];
    args.extend(paths);
    let out = burnrate(&args);
    (
        out.status.code().unwrap(),
        lines(&out.stderr),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn convertible_specs_validate_and_say_what_they_leave_out() {
    let (code, stderr, stdout) = validate(&[
        "tests/fixtures/import/sloth",
        "tests/fixtures/import/openslo",
    ]);
    assert_eq!(code, 0, "{stderr:#?}");
    assert_eq!(stdout, "ok: 7 file(s), 4 service(s), 9 SLO(s)\n");
    assert_eq!(
        stderr,
        [
            "sloth/checkout-k8s.yaml:20:9: warning: spec.slos[0].alerting: not converted: pageAlert.labels, ticketAlert.labels (burnrate raises one alert, SLOBurnRate, labelled with service, slo, decision, dimension and the spec's labels)",
            "sloth/go-map.yml:18:7: warning: slos[0].alerting: not converted: labels, annotations, page_alert.labels, ticket_alert.labels (burnrate raises one alert, SLOBurnRate, labelled with service, slo, decision, dimension and the spec's labels)",
            "sloth/go-map.yml:44:7: warning: slos[1].alerting: not converted: page_alert.labels (burnrate raises one alert, SLOBurnRate, labelled with service, slo, decision, dimension and the spec's labels)",
            "sloth/go-map.yml:58:11: warning: slos[2].sli.raw.error_ratio_query: raw error ratio converted as bad_query: RATIO, total_query: (RATIO) == bool (RATIO): burn rates equal Sloth's, but the SLI has no event counts (`events` counts seconds, so do not add min_events) and a window whose ratio is NaN (no traffic) reports no_traffic",
            "openslo/alerting.yaml:14:5: warning: AlertPolicy/go-map-page.spec.notificationTargets: not converted: route burnrate's SLOBurnRate alerts (labels service, slo, decision) in Alertmanager, or use --webhook",
            "openslo/alerting.yaml:25:5: warning: AlertPolicy/go-map-ticket.spec.notificationTargets: not converted: route burnrate's SLOBurnRate alerts (labels service, slo, decision) in Alertmanager, or use --webhook",
            "openslo/go-map.yaml:83:11: warning: SLO/go-map-latency.spec.alertPolicies[0].spec.notificationTargets: not converted: route burnrate's SLOBurnRate alerts (labels service, slo, decision) in Alertmanager, or use --webhook",
            "openslo/go-map.yaml:102:11: warning: SLO/go-map-latency.spec.alertPolicies[1].spec.notificationTargets: not converted: route burnrate's SLOBurnRate alerts (labels service, slo, decision) in Alertmanager, or use --webhook",
            "openslo/go-map.yaml:123:22: warning: SLO/go-map-timeouts.spec.indicator.spec.ratioMetric.bad.metricSource.spec.query: its fixed range [5m] is replaced by each evaluation window [{{.window}}]",
            "openslo/go-map.yaml:128:22: warning: SLO/go-map-timeouts.spec.indicator.spec.ratioMetric.total.metricSource.spec.query: its fixed range [5m] is replaced by each evaluation window [{{.window}}]",
        ]
    );
}

#[test]
fn sloth_specs_that_cannot_be_converted_name_every_problem() {
    let (code, stderr, _) = validate(&["tests/fixtures/import/invalid/sloth-unsupported.yml"]);
    assert_eq!(code, 65);
    assert_eq!(
        stderr,
        [
            r#"invalid/sloth-unsupported.yml:12:9: slos[0].sli.plugin: SLI plugin "sloth-common/kubernetes/apiserver/availability" is Go code that Sloth runs to build the query; burnrate cannot run it: replace it with sli.events (the queries `sloth generate` renders for this SLO)"#,
            "invalid/sloth-unsupported.yml:23:22: slos[1].sli.events.error_query: uses Go template syntax other than {{.window}}, which burnrate cannot evaluate",
            "invalid/sloth-unsupported.yml:33:16: slos[2].objective: must be a percentage strictly between 0 and 100, got 100 (an objective of 100 leaves no error budget to burn)",
            "invalid/sloth-unsupported.yml:35:7: slos[2].plugins: Sloth SLO plugins rewrite the rules Sloth generates; burnrate cannot run them (remove the plugin chain, or write the SLO as burnrate/v1)",
            "invalid/sloth-unsupported.yml:39:22: slos[2].sli.events.error_query: must contain the window placeholder {{.window}} (Sloth renders the query once per window), e.g. sum(rate(errors_total[{{.window}}]))",
            "burnrate: 5 error(s); nothing was evaluated",
        ]
    );
}

#[test]
fn openslo_objects_that_cannot_be_converted_name_every_problem() {
    let (code, stderr, _) = validate(&["tests/fixtures/import/invalid/openslo-unsupported.yaml"]);
    assert_eq!(code, 65);
    let f = "invalid/openslo-unsupported.yaml";
    let expected: Vec<String> = [
        r#"8:17: SLO/uptime-sla.spec.indicatorRef: no SLI named "web-uptime" in the files given (pass the file that defines it too)"#,
        r#"10:17: SLO/uptime-sla.spec.timeWindow[0].duration: "1M": months and quarters have no fixed length; burnrate needs a fixed rolling duration (e.g. 30d or 90d)"#,
        "13:9: SLO/uptime-sla.spec.timeWindow[0].calendar: calendar-aligned time windows are not supported: burnrate's error budget is over a rolling period (use isRolling: true)",
        "15:20: SLO/uptime-sla.spec.budgetingMethod: Timeslices budgeting counts good time slices, not events: burnrate's burn rate is bad events / total events over a window (Occurrences)",
        "18:7: warning: SLO/uptime-sla.spec.objectives[0].timeSliceTarget: ignored: only meaningful for thresholdMetric SLIs or Timeslices budgeting",
        "19:7: warning: SLO/uptime-sla.spec.objectives[0].timeSliceWindow: ignored: only meaningful for thresholdMetric SLIs or Timeslices budgeting",
        "31:7: SLO/search-latency.spec.indicator.spec.thresholdMetric: thresholdMetric SLIs compare single values with a threshold; burnrate's burn rate needs a ratio of bad to total events (ratioMetric)",
        "41:7: warning: SLO/search-latency.spec.objectives[0].op: ignored: only meaningful for thresholdMetric SLIs or Timeslices budgeting",
        "42:7: warning: SLO/search-latency.spec.objectives[0].value: ignored: only meaningful for thresholdMetric SLIs or Timeslices budgeting",
        r#"59:19: SLO/web-requests.spec.indicator.spec.ratioMetric.good.metricSource.type: metric source type "Datadog": burnrate evaluates PromQL against a Prometheus-compatible API (Prometheus, VictoriaMetrics, Thanos, Mimir, Cortex)"#,
        "66:22: SLO/web-requests.spec.indicator.spec.ratioMetric.total.metricSource.spec.query: cannot tell where the evaluation window goes in this query: write a counter selector, sum(SELECTOR), a query with one range such as rate(x[5m]), or use {{.window}}",
        "127:15: AlertPolicy/web-alerts.spec.conditions[0].spec.condition.op: op lte: burnrate rules fire when the burn rate is at or above a threshold; an alert on a burn rate below it cannot be expressed",
        "156:17: AlertCondition/slow-burn.spec.condition.alertAfter: alertAfter 30m differs from 5m (AlertCondition/fast-burn, severity page): burnrate's `for` applies to every rule of an SLO",
    ]
    .iter()
    .map(|l| format!("{f}:{l}"))
    .chain(["burnrate: 9 error(s); nothing was evaluated".to_string()])
    .collect();
    assert_eq!(stderr, expected);

    let (code, stderr, _) = validate(&["tests/fixtures/import/invalid/openslo-v1alpha.yaml"]);
    assert_eq!(code, 65);
    assert_eq!(
        stderr,
        [
            "invalid/openslo-v1alpha.yaml:9:20: SLO/sloth-slo-my-service.spec.budgetingMethod: Timeslices budgeting counts good time slices, not events: burnrate's burn rate is bad events / total events over a window (Occurrences)",
            r#"invalid/openslo-v1alpha.yaml:13:19: SLO/sloth-slo-my-service.spec.objectives[0].ratioMetrics.good.source: source "datadog": Sloth reads only prometheus (or sloth) sources, and burnrate evaluates PromQL against a Prometheus-compatible API"#,
            r#"invalid/openslo-v1alpha.yaml:18:22: SLO/sloth-slo-my-service.spec.objectives[0].ratioMetrics.total.queryType: query type "metricsql": only promql can be evaluated (as in Sloth)"#,
            "invalid/openslo-v1alpha.yaml:23:13: SLO/sloth-slo-my-service.spec.timeWindows[0].unit: Months have no fixed length; burnrate needs a fixed rolling duration (e.g. count: 30, unit: Day)",
            "burnrate: 4 error(s); nothing was evaluated",
        ]
    );
}

#[test]
fn converted_files_load_back_as_the_imported_specs() {
    // Two services of each name (one from Sloth, one from OpenSLO) cannot share a directory:
    // nothing is written, and the error names both sources of each name.
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let run = burnrate(&[
        "convert",
        "tests/fixtures/import/sloth",
        "tests/fixtures/import/openslo",
        "-o",
        dir,
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(64), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert_eq!(
        last,
        format!(
            "burnrate: nothing written: service \"checkout\" (from tests/fixtures/import/sloth/checkout-k8s.yaml) \
             and service \"checkout\" (from tests/fixtures/import/openslo/checkout.yaml) would both be written \
             to {dir}/checkout.yaml: convert them into different directories, or rename one of the services; \
             service \"go-map\" (from tests/fixtures/import/sloth/go-map.yml) and service \"go-map\" (from \
             tests/fixtures/import/openslo/go-map.yaml) would both be written to {dir}/go-map.yaml: convert \
             them into different directories, or rename one of the services"
        )
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);

    for (source, services, slos) in [("sloth", 2, 4), ("openslo", 2, 5)] {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().to_str().unwrap();
        let input = format!("{DIR}/{source}");
        let run = burnrate(&["convert", &input, "-o", dir]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains(&format!("converted {services} service(s), {slos} SLO(s)")),
            "{stderr}"
        );
        let mut names: Vec<String> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["checkout.yaml", "go-map.yaml"]);

        // The converted files are plain burnrate/v1: no warning, nothing left to import.
        let (code, stderr, stdout) = validate(&[dir]);
        assert_eq!((code, stderr.len()), (0, 0), "{stderr:#?}");
        assert_eq!(
            stdout,
            format!("ok: 2 file(s), {services} service(s), {slos} SLO(s)\n")
        );
        for name in &names {
            let text = std::fs::read_to_string(out.path().join(name)).unwrap();
            assert!(
                text.contains("\napiVersion: burnrate/v1\n"),
                "{name}:\n{text}"
            );
            assert_eq!(burnrate::import::detect(&text), None, "{name}");
        }
        assert_eq!(meaning(&load(&[&input])), meaning(&load(&[dir])));
    }
}

#[test]
fn imports_mean_what_the_handwritten_specs_say() {
    let pairs = [
        ("sloth/go-map.yml", "equivalent/sloth-go-map.yaml"),
        ("openslo", "equivalent/openslo-go-map.yaml"),
    ];
    for (imported, written) in pairs {
        let imported = load(&[&format!("{DIR}/{imported}")]);
        let written = load(&[&format!("{DIR}/{written}")]);
        let written = &written[0];
        let imported = imported
            .iter()
            .find(|s| s.service == written.service)
            .unwrap();
        assert_eq!(imported.labels, written.labels);
        assert_eq!(imported.slos.len(), written.slos.len());
        for w in &written.slos {
            let i = imported.slos.iter().find(|s| s.name == w.name).unwrap();
            let what = format!("{}/{}", written.service, w.name);
            assert_eq!(i.period, w.period, "{what}: period");
            assert_eq!(
                (&i.for_, &i.hold, i.min_events),
                (&w.for_, &w.hold, w.min_events),
                "{what}"
            );
            // Imports are error SLIs; the hand-written latency SLOs use a histogram.
            let ie = i.error.as_ref().expect("imported SLOs have an error SLI");
            let (objective, matrix) = match (&w.error, &w.latency) {
                (Some(e), None) => (e.objective, &e.matrix),
                (None, Some(l)) => (l.quantile, &l.matrix),
                _ => panic!("{what}: one dimension"),
            };
            assert_eq!(ie.objective, objective, "{what}: objective");
            assert_eq!(&ie.matrix, matrix, "{what}: matrix");
        }
    }
}

#[test]
fn convert_prints_what_converts_and_fails_on_the_rest() {
    // One convertible file, one that is not: the first is printed, the exit code is 65.
    let run = burnrate(&[
        "convert",
        "tests/fixtures/import/sloth/go-map.yml",
        "tests/fixtures/import/invalid/sloth-unsupported.yml",
    ]);
    assert_eq!(run.status.code(), Some(65));
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert!(stdout.contains("service: go-map\n"), "{stdout}");
    assert!(!stdout.contains("search"), "{stdout}");
    let stderr = lines(&run.stderr);
    assert!(
        stderr
            .iter()
            .any(|l| l.starts_with("invalid/sloth-unsupported.yml:12:9: slos[0].sli.plugin:")),
        "{stderr:#?}"
    );
    assert_eq!(
        stderr.last().unwrap(),
        "burnrate: 5 error(s); converted 1 service(s), 3 SLO(s); the SLOs in error were not converted"
    );

    // A single service on stdout is a burnrate/v1 file as it is.
    let run = burnrate(&["convert", "tests/fixtures/import/sloth/checkout-k8s.yaml"]);
    assert_eq!(run.status.code(), Some(0));
    let yaml = String::from_utf8(run.stdout).unwrap();
    // The header says what a Sloth run with another period would need: Sloth's factors
    // follow the period, which `preset: sloth` computes (a period change alone would not).
    assert!(
        yaml.contains(
            "# period: Sloth's default SLO period (30d). Sloth's alert factors depend on the \
             period (budget % x period / long window): if Sloth runs with --default-slo-period \
             28d, change period to 28d and replace each SLO's rules with `matrix: {preset: \
             sloth}`, which computes Sloth's factors for the period (changing period alone \
             keeps the 30d factors).\n"
        ),
        "{yaml}"
    );
    let edited = yaml
        .replace("period: 30d", "period: 28d")
        .split("    matrix:")
        .next()
        .unwrap()
        .to_string()
        + "    matrix:\n      preset: sloth\n";
    let (spec28, diags) = burnrate::spec::load::load_str(Path::new("edited.yaml"), &edited);
    assert!(diags.is_empty(), "{diags:#?}\n{edited}");
    let burns: Vec<f64> = spec28.unwrap().slos[0]
        .error
        .as_ref()
        .unwrap()
        .matrix
        .iter()
        .map(|r| r.burn)
        .collect();
    // Sloth's 28d windows (google-28d.yaml), in its float arithmetic.
    assert_eq!(
        burns,
        [
            13.44,
            5.6000000000000005,
            2.8000000000000003,
            0.9333333333333333
        ]
    );
    let (spec, diags) = burnrate::spec::load::load_str(Path::new("stdout.yaml"), &yaml);
    assert!(diags.is_empty(), "{diags:#?}");
    let spec = spec.unwrap();
    assert_eq!(spec.service, "checkout");
    assert_eq!(spec.slos[0].name, "requests-availability");
    assert_eq!(spec.slos[0].error.as_ref().unwrap().matrix.len(), 4);

    // burnrate/v1 input is left alone; anything else is an error.
    let run = burnrate(&["convert", "slo-specs/map-update.yaml"]);
    assert_eq!(run.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&run.stderr).contains("already a burnrate/v1 spec"));
    let run = burnrate(&["convert", "Cargo.toml"]);
    assert_eq!(run.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&run.stderr).contains("Cargo.toml: not a Sloth"));
}

#[test]
fn convert_does_not_overwrite_without_force() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    std::fs::write(out.path().join("go-map.yaml"), "keep me\n").unwrap();
    let run = burnrate(&[
        "convert",
        "tests/fixtures/import/sloth/go-map.yml",
        "-o",
        dir,
    ]);
    assert_eq!(run.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&run.stderr).contains("already exists (use --force"));
    assert_eq!(
        std::fs::read_to_string(out.path().join("go-map.yaml")).unwrap(),
        "keep me\n"
    );
    let run = burnrate(&[
        "convert",
        "tests/fixtures/import/sloth/go-map.yml",
        "-o",
        dir,
        "--force",
    ]);
    assert_eq!(run.status.code(), Some(0));
    assert!(
        std::fs::read_to_string(out.path().join("go-map.yaml"))
            .unwrap()
            .contains("service: go-map")
    );
}

#[test]
fn one_spec_text_loads_through_load_str_too() {
    let text = std::fs::read_to_string(format!("{DIR}/sloth/go-map.yml")).unwrap();
    let (spec, diags) = burnrate::spec::load::load_str(Path::new("go-map.yml"), &text);
    let spec = spec.unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(spec.file, Path::new("go-map.yml"));
    assert_eq!(spec.slos.len(), 3);
    assert!(diags.iter().all(|d| d.file == Path::new("go-map.yml")));

    // An OpenSLO file whose references live in other files: named, not guessed.
    let text = std::fs::read_to_string(format!("{DIR}/openslo/go-map.yaml")).unwrap();
    let (spec, diags) = burnrate::spec::load::load_str(Path::new("go-map.yaml"), &text);
    assert!(spec.is_none());
    let messages: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert!(
        messages.iter().any(|m| m.starts_with(
            r#"go-map.yaml:20:17: SLO/go-map-errors.spec.indicatorRef: no SLI named "go-map-failures""#
        )),
        "{messages:#?}"
    );
}

#[test]
fn openslo_objects_no_slo_uses_are_checked_without_blocking() {
    let (code, stderr, stdout) = validate(&["tests/fixtures/import/unused"]);
    assert_eq!(code, 0, "{stderr:#?}");
    assert_eq!(stdout, "ok: 1 file(s), 1 service(s), 1 SLO(s)\n");
    let f = "unused/openslo-objects.yaml";
    let unused = |id: &str| format!("{id} is used by no SLO (nothing converted from it)");
    assert_eq!(
        stderr,
        [
            format!(
                "{f}:14:9: warning: Service/search.metadata.name: Service/search is defined twice (first at tests/fixtures/import/{f}:7); nothing refers to it, so no SLO depends on which one is meant"
            ),
            format!(
                "{f}:17:3: warning: Service/search.spec.owner: {}: unknown field, ignored (not part of OpenSLO v1; known: description)",
                unused("Service/search")
            ),
            format!(
                r#"{f}:28:15: warning: SLI/search-latency-datadog.spec.ratioMetric.good.metricSource.type: {}: metric source type "Datadog": burnrate evaluates PromQL against a Prometheus-compatible API (Prometheus, VictoriaMetrics, Thanos, Mimir, Cortex)"#,
                unused("SLI/search-latency-datadog")
            ),
            format!(
                r#"{f}:33:15: warning: SLI/search-latency-datadog.spec.ratioMetric.total.metricSource.type: {}: metric source type "Datadog": burnrate evaluates PromQL against a Prometheus-compatible API (Prometheus, VictoriaMetrics, Thanos, Mimir, Cortex)"#,
                unused("SLI/search-latency-datadog")
            ),
            format!(
                "{f}:36:3: warning: SLI/search-latency-datadog.spec.thresholds: {}: unknown field, ignored (not part of OpenSLO v1; known: description, thresholdMetric, ratioMetric)",
                unused("SLI/search-latency-datadog")
            ),
        ]
    );
}

#[test]
fn sloth_alert_windows_that_cannot_be_used_name_every_problem() {
    let (code, stderr, _) = validate(&[
        "tests/fixtures/import/sloth/go-map.yml",
        "--windows",
        "tests/fixtures/import/invalid/sloth-windows.yaml",
    ]);
    assert_eq!(code, 65);
    let f = "invalid/sloth-windows.yaml";
    let windows: Vec<&String> = stderr.iter().filter(|l| l.starts_with(f)).collect();
    assert_eq!(
        windows,
        [
            &format!(
                "{f}:8:27: spec.page.quick.errorBudgetPercent: must be a percentage above 0 and at most 100, got 0"
            ),
            &format!(
                "{f}:13:20: spec.page.slow.shortWindow: must be shorter than longWindow (30m)"
            ),
            &format!(
                "{f}:20:7: warning: spec.ticket.quick.forWindow: unknown field, ignored (not part of a Sloth AlertWindows; known: errorBudgetPercent, shortWindow, longWindow)"
            ),
            &format!(
                r#"{f}:24:19: spec.ticket.slow.longWindow: duration "3 days" needs a unit (ms, s, m, h, d, w, y)"#
            ),
            &format!(
                "{f}:29:14: warning: spec.sloPeriod: not used: Sloth specs (prometheus/v1, PrometheusServiceLevel) have Sloth's default period, 30d, and Sloth generates no alerts for OpenSLO v1alpha SLOs; only 30d windows apply"
            ),
            &format!(
                "{f}:40:14: spec.sloPeriod: a second AlertWindows for this period (the first is at tests/fixtures/import/{f}:29): Sloth takes one per period"
            ),
        ]
    );
    assert_eq!(
        stderr.last().unwrap(),
        "burnrate: 4 error(s); nothing was evaluated"
    );
}
