//! Every upstream Sloth and OpenSLO example (`../shared/sloth-examples/`,
//! `../shared/openslo-examples/`, read where they are) is loaded, each file on its own as a
//! user would give it: it loads with the SLOs listed here, or it is refused for exactly the
//! reasons listed here. Every refusal has a reason PromQL cannot express (Go plugins,
//! non-PromQL sources, time-slice budgets, calendar windows, thresholds, alerts below a
//! burn rate, OpenSLO v2alpha), besides what makes a fragment incomplete (a reference to
//! another file, a README block listing a schema's alternatives). That the loaded Sloth
//! examples give Sloth's numbers and alerts is tests/sloth_matches_prometheus.rs.

use burnrate::spec::{LoadReport, SpecSources, load_paths, load_sources};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Why a file is refused, told apart by the message burnrate gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reason {
    /// An SLI plugin: Go code Sloth runs to build the query.
    SliPlugin,
    /// An SLO plugin chain: Go code that rewrites Sloth's rules.
    SloPlugin,
    /// A metric source that is not PromQL (`Any`, `Datadog`).
    NotPromql,
    /// Timeslices or RatioTimeslices budgeting: good time slices, not events.
    Timeslices,
    /// A calendar-aligned window.
    Calendar,
    /// A thresholdMetric SLI: single values against a threshold.
    Threshold,
    /// An alert condition on a burn rate below a threshold (`op: lte`).
    BelowThreshold,
    /// OpenSLO v2alpha (`openslo.com/v2alpha`).
    V2alpha,
    /// A reference to an object the file does not hold (a fragment of a set).
    MissingReference,
    /// A README block listing a schema's alternatives (`A | B | C`), or missing its fields.
    SchemaBlock,
}

impl Reason {
    fn cannot_be_promql(self) -> bool {
        !matches!(self, Reason::MissingReference | Reason::SchemaBlock)
    }
}

fn reason(message: &str) -> Reason {
    let table = [
        ("is Go code that Sloth runs", Reason::SliPlugin),
        ("Sloth SLO plugins rewrite the rules", Reason::SloPlugin),
        (
            "burnrate evaluates PromQL against a Prometheus-compatible API",
            Reason::NotPromql,
        ),
        ("budgeting counts good time slices", Reason::Timeslices),
        ("calendar-aligned time windows", Reason::Calendar),
        (
            "thresholdMetric SLIs compare single values",
            Reason::Threshold,
        ),
        (
            "an alert on a burn rate below it cannot be expressed",
            Reason::BelowThreshold,
        ),
        ("\"openslo.com/v2alpha\" is not supported", Reason::V2alpha),
        (
            "in the files given (pass the file",
            Reason::MissingReference,
        ),
        (" | ", Reason::SchemaBlock),
        (
            "must hold exactly one time window, got 2",
            Reason::SchemaBlock,
        ),
        ("missing required field", Reason::SchemaBlock),
    ];
    table
        .iter()
        .find(|(text, _)| message.contains(text))
        .map(|(_, r)| *r)
        .unwrap_or_else(|| panic!("an error the table does not know: {message}"))
}

fn shared(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(dir)
}

/// What loading one file gives: its SLO count, or the reasons of its errors.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Loads { services: usize, slos: usize },
    Refused(BTreeSet<Reason>),
}

use Outcome::{Loads, Refused};

/// The errors of a load, as printed (`file:line:column: field: message`).
fn errors(report: &LoadReport) -> Vec<String> {
    report
        .diagnostics
        .iter()
        .map(|d| d.to_string())
        .filter(|l| !l.contains(": warning: "))
        .collect()
}

fn outcome(file: &Path) -> Outcome {
    let report = load_paths(&[file.to_path_buf()]);
    let errors = errors(&report);
    if errors.is_empty() {
        return Loads {
            services: report.specs.len(),
            slos: report.specs.iter().map(|s| s.slos.len()).sum(),
        };
    }
    Refused(errors.iter().map(|line| reason(line)).collect())
}

fn refused(reasons: &[Reason]) -> Outcome {
    Refused(reasons.iter().copied().collect())
}

/// Every `*.yaml`/`*.yml` under `root`, relative to it, sorted.
fn example_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Each of `files` (every example of `root`) has its expected outcome.
fn assert_outcomes(root: &Path, files: Vec<String>, expected: &[(&str, Outcome)]) {
    let listed: Vec<&str> = expected.iter().map(|(f, _)| *f).collect();
    assert_eq!(files, listed, "every example is listed, once, in order");
    for (file, want) in expected {
        let got = outcome(&root.join(file));
        assert_eq!(&got, want, "{file}");
        if let Refused(reasons) = &got {
            assert!(
                reasons.iter().any(|r| r.cannot_be_promql())
                    || reasons.contains(&Reason::SchemaBlock),
                "{file}: refused without a reason PromQL cannot express: {reasons:?}"
            );
        }
    }
}

#[test]
fn every_sloth_example_loads_or_is_refused_for_what_promql_cannot_do() {
    use Reason::*;
    let root = shared("sloth-examples");
    let expected = [
        ("contrib-denominator-corrected.yaml", refused(&[SloPlugin])),
        ("contrib-slo-plugins.yml", refused(&[SloPlugin])),
        (
            "getting-started.yml",
            Loads {
                services: 1,
                slos: 1,
            },
        ),
        (
            "home-wifi.yml",
            Loads {
                services: 1,
                slos: 2,
            },
        ),
        (
            "k8s-getting-started.yml",
            Loads {
                services: 1,
                slos: 1,
            },
        ),
        (
            "k8s-home-wifi.yml",
            Loads {
                services: 1,
                slos: 2,
            },
        ),
        (
            "k8s-multifile.yml",
            Loads {
                services: 2,
                slos: 2,
            },
        ),
        (
            "kubernetes-apiserver.yml",
            Loads {
                services: 1,
                slos: 2,
            },
        ),
        (
            "multifile.yml",
            Loads {
                services: 2,
                slos: 2,
            },
        ),
        (
            "no-alerts.yml",
            Loads {
                services: 1,
                slos: 1,
            },
        ),
        (
            "openslo-getting-started.yml",
            Loads {
                services: 1,
                slos: 1,
            },
        ),
        (
            "openslo-kubernetes-apiserver.yml",
            Loads {
                services: 1,
                slos: 3,
            },
        ),
        ("plugin-getting-started.yml", refused(&[SliPlugin])),
        ("plugin-k8s-getting-started.yml", refused(&[SliPlugin])),
        (
            "raw-home-wifi.yml",
            Loads {
                services: 1,
                slos: 1,
            },
        ),
        ("slo-plugin-getting-started.yml", refused(&[SloPlugin])),
        ("slo-plugin-k8s-getting-started.yml", refused(&[SloPlugin])),
        // Its SLO plugin refuses it; its MetricsQL queries (histogram_share, a range on a
        // function) are warnings: the backend would measure them, if it is VictoriaMetrics.
        ("victoria-metrics.yml", refused(&[SloPlugin])),
    ];
    // `_gen/` holds Sloth's output, and `windows/` AlertWindows files (below).
    let files: Vec<String> = example_files(&root)
        .into_iter()
        .filter(|f| !f.starts_with("_gen/") && !f.starts_with("windows/"))
        .collect();
    assert_outcomes(&root, files, &expected);
    let vm = load_paths(&[root.join("victoria-metrics.yml")]);
    assert!(
        vm.diagnostics
            .iter()
            .any(|d| d.to_string().contains("histogram_share is not supported")),
        "{:#?}",
        vm.diagnostics
    );

    // Both alerts disabled: an SLO without a rule, which reports its budget.
    let no_alerts = load_paths(&[root.join("no-alerts.yml")]);
    let slo = &no_alerts.specs[0].slos[0];
    let error = slo.error.as_ref().unwrap();
    assert!(error.matrix.is_empty(), "{:?}", error.matrix);
    assert_eq!(error.objective, 0.9999);
    // OpenSLO v1alpha as Sloth reads it: one SLO per objective named NAME-i, no alerts.
    let k8s = load_paths(&[root.join("openslo-kubernetes-apiserver.yml")]);
    let names: Vec<(&str, f64, usize)> = k8s.specs[0]
        .slos
        .iter()
        .map(|s| {
            let e = s.error.as_ref().unwrap();
            (s.name.as_str(), e.objective, e.matrix.len())
        })
        .collect();
    assert_eq!(
        names,
        [
            ("requests-availability-openslo-0", 0.999, 0),
            ("requests-latency-openslo-0", 0.99, 0),
            ("requests-latency-openslo-1", 0.999, 0),
        ]
    );
}

#[test]
fn sloth_alert_windows_files_are_the_matrix_of_their_period() {
    let root = shared("sloth-examples");
    let load = |windows: &[&str]| {
        load_sources(&SpecSources {
            paths: vec![root.join("getting-started.yml")],
            windows: windows.iter().map(|w| root.join(w)).collect(),
        })
    };
    // custom-30d.yaml is for 30d SLOs, the period of every Sloth spec: its windows, with
    // Sloth's factor (budget % × 720h / long window hours).
    let report = load(&["windows"]);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let matrix = &report.specs[0].slos[0].error.as_ref().unwrap().matrix;
    let rules: Vec<(String, f64, String, String)> = matrix
        .iter()
        .map(|r| {
            (
                r.decision.to_string(),
                r.burn,
                r.long.to_string(),
                r.short.as_ref().unwrap().to_string(),
            )
        })
        .collect();
    let rule = |d: &str, percent: f64, long_hours: f64, long: &str, short: &str| {
        (
            d.to_string(),
            percent * 720.0 / 100.0 / long_hours,
            long.to_string(),
            short.to_string(),
        )
    };
    assert_eq!(
        rules,
        [
            rule("circuit_break", 1.0, 0.5, "30m", "2m"),
            rule("circuit_break", 2.0, 3.0, "3h", "15m"),
            rule("warn", 5.0, 12.0, "12h", "1h"),
            rule("warn", 5.0, 36.0, "36h", "3h"),
        ]
    );
    // 7d.yaml applies to no SLO here (Sloth specs are 30d, OpenSLO v1alpha ones alert not):
    // said so, at its sloPeriod.
    let unused: Vec<String> = report
        .diagnostics
        .iter()
        .map(|d| d.to_string())
        .filter(|l| l.contains("windows/7d.yaml"))
        .map(|l| l.rsplit("sloth-examples/").next().unwrap().to_string())
        .collect();
    assert_eq!(
        unused,
        [
            "windows/7d.yaml:4:14: warning: spec.sloPeriod: not used: Sloth specs (prometheus/v1, PrometheusServiceLevel) have \
          Sloth's default period, 30d, and Sloth generates no alerts for OpenSLO v1alpha SLOs; \
          only 30d windows apply"
        ]
    );

    // Without windows: Sloth's defaults (14.4 over 1h/5m, ...).
    let report = load(&[]);
    let burns: Vec<f64> = report.specs[0].slos[0]
        .error
        .as_ref()
        .unwrap()
        .matrix
        .iter()
        .map(|r| r.burn)
        .collect();
    assert_eq!(burns, [14.4, 6.0, 3.0, 1.0]);

    // An AlertWindows given as a spec, or a spec given as windows: one error each.
    let as_spec = load_paths(&[root.join("windows/7d.yaml")]);
    let messages: Vec<String> = as_spec
        .diagnostics
        .iter()
        .map(|d| {
            d.to_string()
                .rsplit("sloth-examples/")
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        messages,
        [
            "windows/7d.yaml:2:7: kind: a Sloth AlertWindows is not an SLO spec: give it with --windows (as Sloth takes it with -w)"
        ]
    );
    let as_windows = load(&["getting-started.yml"]);
    let errors: Vec<String> = errors(&as_windows)
        .iter()
        .map(|l| l.rsplit("sloth-examples/").next().unwrap().to_string())
        .collect();
    assert_eq!(
        errors,
        [
            "getting-started.yml:1:1: not a Sloth AlertWindows (apiVersion: sloth.slok.dev/v1, kind: AlertWindows), which is what --windows takes"
        ]
    );
}

#[test]
fn every_openslo_example_loads_or_is_refused_for_what_promql_cannot_do() {
    use Reason::*;
    let root = shared("openslo-examples");
    // Files of objects without an SLO (Services, SLIs, policies) load: checked, nothing to
    // evaluate.
    let none = || Loads {
        services: 0,
        slos: 0,
    };
    let one = || Loads {
        services: 1,
        slos: 1,
    };
    let expected = [
        (
            "OpenSLO/budgeting-method/occurences-slo.yaml",
            refused(&[Threshold]),
        ),
        (
            "OpenSLO/budgeting-method/ratio-timeslices.yaml",
            refused(&[NotPromql, Timeslices]),
        ),
        (
            "OpenSLO/budgeting-method/timeslices-slo.yaml",
            refused(&[NotPromql, Timeslices, Calendar]),
        ),
        ("OpenSLO/readme-blocks/L0070.yaml", refused(&[SchemaBlock])),
        ("OpenSLO/readme-blocks/L0156.yaml", none()),
        ("OpenSLO/readme-blocks/L0181.yaml", none()),
        (
            "OpenSLO/readme-blocks/L0203.yaml",
            refused(&[SchemaBlock, MissingReference]),
        ),
        ("OpenSLO/readme-blocks/L0355.yaml", none()),
        (
            "OpenSLO/readme-blocks/L0443.yaml",
            refused(&[SchemaBlock, NotPromql]),
        ),
        ("OpenSLO/readme-blocks/L0569.yaml", none()),
        ("OpenSLO/readme-blocks/L0609.yaml", none()),
        ("OpenSLO/readme-blocks/L0627.yaml", none()),
        ("OpenSLO/readme-blocks/L0662.yaml", none()),
        ("OpenSLO/readme-blocks/L0711.yaml", none()),
        ("OpenSLO/readme-blocks/L0736.yaml", none()),
        ("OpenSLO/readme-blocks/L0749.yaml", none()),
        ("OpenSLO/readme-blocks/L0761.yaml", none()),
        ("OpenSLO/readme-blocks/L0790.yaml", none()),
        (
            "OpenSLO/treat-low-traffic-as-equally-important/timeslices-slo.yaml",
            refused(&[NotPromql, Timeslices, Calendar]),
        ),
        (
            "go-sdk/pkg/openslo/v1/examples/alert_conditions.yaml",
            none(),
        ),
        (
            "go-sdk/pkg/openslo/v1/examples/alert_notification_targets.yaml",
            none(),
        ),
        ("go-sdk/pkg/openslo/v1/examples/alert_policies.yaml", none()),
        ("go-sdk/pkg/openslo/v1/examples/data_sources.yaml", none()),
        ("go-sdk/pkg/openslo/v1/examples/services.yaml", none()),
        ("go-sdk/pkg/openslo/v1/examples/slis.yaml", none()),
        (
            "go-sdk/pkg/openslo/v1/examples/slos.yaml",
            refused(&[Timeslices, Calendar]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/decode/sequence_of_objects.yaml",
            none(),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/decode/single_object.yaml",
            none(),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/decode/two_documents.yaml",
            none(),
        ),
        ("go-sdk/pkg/openslosdk/test_data/decode/v1_slos.yaml", one()),
        (
            "go-sdk/pkg/openslosdk/test_data/decode/v2alpha_data_source.yaml",
            refused(&[V2alpha]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/decode/v2alpha_slos.yaml",
            refused(&[V2alpha]),
        ),
        ("go-sdk/pkg/openslosdk/test_data/encode/v1_slo.yaml", one()),
        (
            "go-sdk/pkg/openslosdk/test_data/export/inputs/custom_config.yaml",
            refused(&[Threshold, Calendar, Timeslices, MissingReference]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/export/inputs/v1_alert_policies.yaml",
            none(),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/export/inputs/v1_slo.yaml",
            refused(&[Threshold, Calendar, Timeslices, MissingReference]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/export/outputs/custom_config.yaml",
            refused(&[Threshold, Calendar, Timeslices, MissingReference]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/export/outputs/v1_alert_policies.yaml",
            none(),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/export/outputs/v1_slo.yaml",
            refused(&[Threshold, Calendar, Timeslices, MissingReference]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/inputs/custom_config.yaml",
            refused(&[Calendar, Timeslices, MissingReference]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_alert_policies_invalid_condition.yaml",
            none(),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_alert_policies_invalid_target.yaml",
            none(),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_alert_policies_keep_refs.yaml",
            none(),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_alert_policies_remove_refs.yaml",
            none(),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_slo.yaml",
            refused(&[Threshold, Calendar, Timeslices, BelowThreshold]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_slo_invalid_policy.yaml",
            refused(&[Threshold, Calendar, Timeslices, MissingReference]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_slo_invalid_sli.yaml",
            refused(&[Calendar, Timeslices, MissingReference]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/inputs/v1_slo_invalid_target.yaml",
            refused(&[Threshold, Calendar, Timeslices]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/outputs/custom_config.yaml",
            refused(&[Calendar, Timeslices, MissingReference]),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/outputs/v1_alert_policies_keep_refs.yaml",
            none(),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/outputs/v1_alert_policies_remove_refs.yaml",
            none(),
        ),
        (
            "go-sdk/pkg/openslosdk/test_data/inline/outputs/v1_slo.yaml",
            refused(&[Threshold, Calendar, Timeslices, BelowThreshold]),
        ),
    ];
    assert_outcomes(&root, example_files(&root), &expected);
}
