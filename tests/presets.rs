//! `matrix: {preset: ...}` reproduces the ladders the tools themselves publish, read from
//! what those tools wrote, not from our reading of them: the `sloth` preset's factors and
//! windows equal those of every alert Sloth generated for the upstream examples
//! (`../shared/sloth-examples/_gen/`, 30-day SLOs). Pyrra's, Grafana's and the Workbook's
//! published values are pinned in `src/spec/presets.rs`'s unit tests; `budget:` rules and
//! per-rule `for` are checked here against the burns and waits they stand for.

use burnrate::decision::Decision;
use burnrate::spec::load::load_str;
use std::path::Path;

fn slo_with(matrix: &str, period: &str) -> burnrate::spec::SloSpec {
    let yaml = format!(
        "apiVersion: burnrate/v1\nservice: s\nslos:\n  - name: x\n    period: {period}\n    error:\n      objective: 99.9\n      bad: e_total\n      total: r_total\n    matrix: {matrix}\n"
    );
    let (spec, diagnostics) = load_str(Path::new("s.yaml"), &yaml);
    spec.unwrap_or_else(|| panic!("{yaml}\n{diagnostics:?}"))
        .slos
        .remove(0)
}

/// Every `(factor, short window, long window)` of a Sloth-generated alert expression,
/// `max(slo:sli_error:ratio_rate5m{...} > (14.4 * 0.000999...))`, per alert in file order,
/// each alert's pairs in order.
fn sloth_alerts(text: &str) -> Vec<Vec<(f64, String, String)>> {
    let mut alerts = Vec::new();
    for alert in text.split("- alert:").skip(1) {
        let mut windows: Vec<(f64, String)> = Vec::new();
        for part in alert.split("slo:sli_error:ratio_rate").skip(1) {
            let window: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let Some(factor) = part
                .split_once("> (")
                .and_then(|(_, rest)| rest.split_once(" * "))
                .and_then(|(f, _)| f.trim().parse::<f64>().ok())
            else {
                continue;
            };
            windows.push((factor, window));
        }
        // Each condition is `short and long`, in that order.
        let pairs = windows
            .chunks(2)
            .map(|c| (c[0].0, c[0].1.clone(), c[1].1.clone()))
            .collect::<Vec<_>>();
        if !pairs.is_empty() {
            alerts.push(pairs);
        }
    }
    alerts
}

#[test]
fn the_sloth_preset_is_what_sloth_generates() {
    let slo = slo_with("{preset: sloth}", "30d");
    let rules = slo.matrix(burnrate::spec::Dimension::Error).unwrap();
    let ours: Vec<(Decision, f64, String, String)> = rules
        .iter()
        .map(|r| {
            (
                r.decision,
                r.burn,
                r.short.as_ref().unwrap().to_string(),
                r.long.to_string(),
            )
        })
        .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/sloth-examples/_gen");
    let mut compared = 0;
    for entry in std::fs::read_dir(&dir).expect("../shared/sloth-examples/_gen") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for pair in sloth_alerts(&text).chunks(2) {
            // Sloth writes the page alert, then the ticket alert, of each SLO.
            let [page, ticket] = pair else {
                panic!("{}: an SLO without both alerts", path.display())
            };
            let theirs: Vec<(Decision, f64, String, String)> = page
                .iter()
                .map(|p| (Decision::CircuitBreak, p.0, p.1.clone(), p.2.clone()))
                .chain(
                    ticket
                        .iter()
                        .map(|p| (Decision::Warn, p.0, p.1.clone(), p.2.clone())),
                )
                .collect();
            assert_eq!(ours, theirs, "{}", path.display());
            compared += 1;
        }
    }
    assert!(compared >= 10, "only {compared} Sloth SLOs compared");
}

#[test]
fn budget_rules_are_their_burn_and_rules_may_wait_their_own_for() {
    let slo = slo_with(
        "{error: [{decision: circuit_break, budget: 2%, long: 1h, short: 5m, for: 2m}, {decision: warn, budget: 10, long: 3d}]}",
        "30d",
    );
    let rules = slo.matrix(burnrate::spec::Dimension::Error).unwrap();
    // 2% of a 30-day budget in 1h is burn 14.4; 10% in 3d is burn 1.
    assert!((rules[0].burn - 14.4).abs() < 1e-12, "{}", rules[0].burn);
    assert!((rules[1].burn - 1.0).abs() < 1e-12, "{}", rules[1].burn);
    assert_eq!(
        rules[0].for_.as_ref().map(|f| f.to_string()),
        Some("2m".into())
    );
    assert_eq!(rules[1].for_, None);
    // A 28-day period: the same budget shares are other burns.
    let slo = slo_with(
        "{error: [{decision: circuit_break, budget: 2%, long: 1h}]}",
        "28d",
    );
    let burn = slo.matrix(burnrate::spec::Dimension::Error).unwrap()[0].burn;
    assert!((burn - 13.44).abs() < 1e-12, "{burn}");
}

#[test]
fn a_preset_beside_a_dimension_list_keeps_the_list() {
    let yaml = "apiVersion: burnrate/v1\nservice: s\nslos:\n  - name: x\n    period: 28d\n    error:\n      objective: 99.9\n      bad: e_total\n      total: r_total\n    latency:\n      histogram: h\n      quantile: 0.99\n      threshold: 100ms\n    matrix:\n      preset: pyrra\n      latency:\n        - {decision: scale, burn: 6, long: 6h, short: 30m}\n";
    let (spec, diagnostics) = load_str(Path::new("s.yaml"), yaml);
    let slo = spec
        .unwrap_or_else(|| panic!("{diagnostics:?}"))
        .slos
        .remove(0);
    let error = slo.matrix(burnrate::spec::Dimension::Error).unwrap();
    assert_eq!(error.len(), 4, "pyrra's four tiers");
    assert_eq!(error[1].for_.as_ref().unwrap().to_string(), "15m");
    let latency = slo.matrix(burnrate::spec::Dimension::Latency).unwrap();
    assert_eq!(latency.len(), 1);
    assert_eq!(latency[0].decision, Decision::Scale);
}

#[test]
fn bad_presets_and_budgets_name_their_place() {
    for (matrix, period, expected) in [
        (
            "{preset: nagios}",
            "30d",
            "10:22: slos[0].matrix.preset: unknown preset \"nagios\"",
        ),
        (
            "{preset: pyrra}",
            "1d",
            "10:22: slos[0].matrix.preset: the pyrra preset's windows",
        ),
        (
            "{error: [{decision: warn, budget: 200%, long: 1h}]}",
            "30d",
            "slos[0].matrix.error[0].budget: must be a share of the budget above 0% and at most 100%",
        ),
        (
            "{error: [{decision: warn, budget: 2%, burn: 3, long: 1h}]}",
            "30d",
            "slos[0].matrix.error[0].budget: give `burn` or `budget`, not both",
        ),
    ] {
        let yaml = format!(
            "apiVersion: burnrate/v1\nservice: s\nslos:\n  - name: x\n    period: {period}\n    error:\n      objective: 99.9\n      bad: e_total\n      total: r_total\n    matrix: {matrix}\n"
        );
        let (spec, diagnostics) = load_str(Path::new("s.yaml"), &yaml);
        assert!(spec.is_none(), "{matrix} loaded");
        let text: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
        assert!(
            text.iter().any(|t| t.contains(expected)),
            "{matrix}: {text:?} lacks {expected:?}"
        );
    }
}
