//! `burnrate rules --promtool-tests FILE`: unit tests for the generated rules, run with
//! `promtool test rules FILE`.
//!
//! For every SLO whose SLIs are selectors (raw `bad_query` PromQL and native histograms
//! cannot be synthesized), a
//! small synthetic world is built: series whose labels satisfy the spec's matchers (a bad
//! series, a good one, a histogram with bounds around the threshold), all counting from 0 at
//! a constant pace, so every window sees the same bad ratio. Four scenarios per SLO:
//!
//! - `idle`: no events at all (burn 0, not null);
//! - `healthy`: no bad events, the bad counter not created yet (0 bad events);
//! - `lowest level`: a burn between the two smallest factors of each dimension's matrix;
//! - `outage`: every event bad (every level whose factor the burn reaches fires).
//!
//! SLOs whose series do not collide share one test group per scenario. The expected alerts
//! are not assumed from the scenario's name: they are derived from the group's series the way
//! the rules compute them (label matching with the same regexes, the same arithmetic,
//! `min_events` on the long window's events, `for` on the evaluation grid), for every SLO of
//! the specs (two SLOs may read the same series). Recording rule values are asserted where
//! they are exact by construction (bad ratio 0, or 1 from a single series on each side).
//!
//! `series` (series and label matching), `labels` (label values satisfying matchers),
//! `world` (the synthetic worlds) and `expected` (what the rules compute in them) build the
//! pieces; this file writes the test file.

mod expected;
mod labels;
mod series;
mod world;

use super::expr::number;
use super::{ALERT_NAME, BUDGET_METRIC, BURN_RATE_METRIC, Options};
use crate::duration::format_millis;
use crate::spec::selector::{MatchOp, Matcher, Selector};
use crate::spec::{Dimension, ErrorEvents, ServiceSpec, SloSpec};
use expected::{ExpAlert, Sample, expected_alerts, expected_samples, raw_reads};
use series::Series;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use world::{bounds_for, error_world, latency_world, lowest_level_ratio};

/// Events per input interval of the synthetic total (more when `min_events` needs it).
const EVENTS_PER_STEP: f64 = 1_000_000.0;

struct Scenario {
    error_ratio: Option<f64>,
    latency_slow: Option<f64>,
    /// Events per step are 0 (no traffic at all).
    idle: bool,
    /// Leave the bad series out while it has no events.
    absent_bad: bool,
}

const SCENARIOS: [&str; 4] = [
    "idle: no events at all (burn 0)",
    "healthy: no bad events, the error counter not created yet",
    "lowest level: burn between the two smallest factors",
    "outage: every event bad",
];

/// Scenario `kind` (an index into `SCENARIOS`) for `slo`, if it applies.
fn scenario(slo: &SloSpec, kind: usize) -> Option<Scenario> {
    let all = |ratio: f64| {
        (
            slo.error.as_ref().map(|_| ratio),
            slo.latency.as_ref().map(|_| ratio),
        )
    };
    let ((error_ratio, latency_slow), idle, absent_bad) = match kind {
        0 => (all(0.0), true, false),
        1 => (all(0.0), false, true),
        2 => {
            let lowest = |dim| {
                slo.objective(dim)
                    .map(|_| lowest_level_ratio(slo, dim).unwrap_or(0.0))
            };
            let (e, l) = (lowest(Dimension::Error), lowest(Dimension::Latency));
            if !(e.is_some_and(|r| r > 0.0) || l.is_some_and(|r| r > 0.0)) {
                return None;
            }
            ((e, l), false, false)
        }
        _ => (all(1.0), false, false),
    };
    Some(Scenario {
        error_ratio,
        latency_slow,
        idle,
        absent_bad,
    })
}

/// The world of one SLO in one scenario, or `None` when its matchers cannot be satisfied.
fn slo_world(slo: &SloSpec, scenario: &Scenario, opts: &Options) -> Option<Vec<Series>> {
    let n = if scenario.idle {
        0.0
    } else {
        slo.min_events
            .map_or(EVENTS_PER_STEP, |m| EVENTS_PER_STEP.max((2.0 * m).ceil()))
    };
    let mut world = Vec::new();
    if let (Some(error), Some(ratio)) = (&slo.error, scenario.error_ratio) {
        let ErrorEvents::Selectors { bad, total } = &error.events else {
            return None;
        };
        world.extend(error_world(bad, total, ratio, n, scenario.absent_bad)?);
    }
    if let (Some(latency), Some(slow)) = (&slo.latency, scenario.latency_slow) {
        world.extend(latency_world(
            &latency.histogram,
            &bounds_for(slo, opts),
            (slow * n).round(),
            n,
        )?);
    }
    Some(world)
}

/// SLOs sharing one test group: their series do not collide (the expectations cover
/// whatever one SLO's series mean to another's rules).
struct Pack<'a> {
    members: Vec<(&'a ServiceSpec, &'a SloSpec)>,
    world: Vec<Series>,
    eval_times: BTreeSet<i64>,
}

impl Pack<'_> {
    fn collides(&self, world: &[Series]) -> bool {
        world.iter().any(|s| {
            self.world
                .iter()
                .any(|t| t.name == s.name && t.labels == s.labels)
        })
    }
}

/// The input interval: 1m, or less when a window is shorter than 4m (a rate needs two
/// samples in every window).
fn step_ms(specs: &[ServiceSpec]) -> i64 {
    let shortest = specs
        .iter()
        .flat_map(|s| &s.slos)
        .flat_map(|slo| slo.dimensions().flat_map(move |d| slo.windows(d)))
        .map(|w| w.millis())
        .min()
        .unwrap_or(60_000);
    (shortest / 4 / 1000 * 1000).clamp(1000, 60_000)
}

fn yaml_str(s: &str) -> String {
    crate::yaml_out::scalar(s)
}

/// The `promtool test rules` file for the rules of `specs`, which it loads from `rule_file`.
pub(crate) fn test_file(specs: &[ServiceSpec], opts: &Options, rule_file: &str) -> String {
    let step = step_ms(specs);
    let step_text = format_millis(step);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by `burnrate rules --promtool-tests`; run: promtool test rules <this file>\n\
         # Synthetic counters from 0 at a constant pace (every window sees one bad ratio);\n\
         # the expected alerts are derived from them as the rules compute them."
    );
    let _ = writeln!(out, "rule_files:\n  - {}", yaml_str(rule_file));
    let _ = writeln!(out, "evaluation_interval: {step_text}");
    let mut tests = String::new();
    let mut skipped = Vec::new();
    let slos: Vec<(&ServiceSpec, &SloSpec)> = specs
        .iter()
        .flat_map(|spec| spec.slos.iter().map(move |slo| (spec, slo)))
        .filter(|(spec, slo)| {
            let raw = slo
                .error
                .as_ref()
                .is_some_and(|e| matches!(e.events, ErrorEvents::Queries { .. }));
            if raw {
                skipped.push(format!(
                    "{}/{}: raw bad_query/total_query PromQL cannot be synthesized",
                    spec.service, slo.name
                ));
            }
            let native = slo.latency.as_ref().is_some_and(|l| l.is_native());
            if native {
                skipped.push(format!(
                    "{}/{}: native histogram series cannot be written as promtool input series",
                    spec.service, slo.name
                ));
            }
            !raw && !native
        })
        .collect();
    for (kind, scenario_name) in SCENARIOS.iter().enumerate() {
        let mut packs: Vec<Pack> = Vec::new();
        for &(spec, slo) in &slos {
            let Some(scenario) = scenario(slo, kind) else {
                continue;
            };
            let Some(world) = slo_world(slo, &scenario, opts) else {
                if kind == 0 {
                    skipped.push(format!(
                        "{}/{}: no label values satisfy the selectors' matchers",
                        spec.service, slo.name
                    ));
                }
                continue;
            };
            if raw_reads(specs, &world) {
                if kind == 0 {
                    skipped.push(format!(
                        "{}/{}: a raw-PromQL SLI reads its metrics (what it computes cannot be predicted)",
                        spec.service, slo.name
                    ));
                }
                continue;
            }
            // Alerts fire after `for` on the evaluation grid; rates exist from one step on.
            // The longest `for` of any rule: every alert has fired by then.
            let wait = slo
                .dimensions()
                .flat_map(|d| slo.matrix(d).unwrap_or(&[]))
                .map(|r| r.wait(slo).millis())
                .max()
                .unwrap_or(0);
            let for_steps = (wait + step - 1) / step;
            let mut times = vec![step * (for_steps + 3)];
            if wait >= 2 * step {
                times.push(step * (1 + for_steps / 2));
            }
            let pack = match packs.iter_mut().position(|p| !p.collides(&world)) {
                Some(i) => &mut packs[i],
                None => {
                    packs.push(Pack {
                        members: Vec::new(),
                        world: Vec::new(),
                        eval_times: BTreeSet::new(),
                    });
                    packs.last_mut().expect("just pushed")
                }
            };
            pack.members.push((spec, slo));
            pack.world.extend(world);
            pack.eval_times.extend(times);
        }
        for pack in packs {
            let who: Vec<String> = pack
                .members
                .iter()
                .map(|(spec, slo)| format!("{}/{}", spec.service, slo.name))
                .collect();
            let at = *pack.eval_times.last().expect("a time per member");
            let expected: Option<Vec<(i64, Vec<ExpAlert>)>> = pack
                .eval_times
                .iter()
                .map(|t| expected_alerts(specs, &pack.world, opts, step, *t).map(|a| (*t, a)))
                .collect();
            let Some(expected) = expected else {
                skipped.push(format!(
                    "{} ({}): a raw-PromQL SLI may read their series",
                    who.join(", "),
                    scenario_name
                ));
                continue;
            };
            let samples: Vec<(&str, &str, Vec<Sample>)> = pack
                .members
                .iter()
                .map(|(spec, slo)| {
                    (
                        spec.service.as_str(),
                        slo.name.as_str(),
                        expected_samples(spec, slo, &pack.world, opts),
                    )
                })
                .collect();
            write_test(
                &mut tests,
                &who,
                scenario_name,
                &step_text,
                at / step,
                &pack.world,
                &expected,
                &samples,
                at,
            );
        }
    }
    for s in &skipped {
        let _ = writeln!(out, "# skipped: {s}");
    }
    if tests.is_empty() {
        out.push_str("tests: []\n");
    } else {
        out.push_str("tests:\n");
        out.push_str(&tests);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn write_test(
    out: &mut String,
    who: &[String],
    scenario: &str,
    step_text: &str,
    steps: i64,
    world: &[Series],
    alerts: &[(i64, Vec<ExpAlert>)],
    samples: &[(&str, &str, Vec<Sample>)],
    samples_at: i64,
) {
    let _ = writeln!(out, "  # {scenario}: {}", who.join(", "));
    let _ = writeln!(out, "  - interval: {step_text}");
    let _ = writeln!(out, "    input_series:");
    for s in world {
        let _ = writeln!(out, "      - series: {}", yaml_str(&s.promql()));
        let _ = writeln!(
            out,
            "        values: {}",
            yaml_str(&format!("0+{}x{}", number(s.inc), steps + 1))
        );
    }
    let _ = writeln!(out, "    alert_rule_test:");
    for (t, exp) in alerts {
        let _ = writeln!(out, "      - eval_time: {}", format_millis(*t));
        let _ = writeln!(out, "        alertname: {ALERT_NAME}");
        if exp.is_empty() {
            let _ = writeln!(out, "        exp_alerts: []");
            continue;
        }
        let _ = writeln!(out, "        exp_alerts:");
        for a in exp {
            let _ = writeln!(out, "          - exp_labels:");
            for (k, v) in &a.labels {
                let _ = writeln!(out, "              {}: {}", yaml_str(k), yaml_str(v));
            }
            let _ = writeln!(out, "            exp_annotations:");
            for (k, v) in &a.annotations {
                let _ = writeln!(out, "              {}: {}", yaml_str(k), yaml_str(v));
            }
        }
    }
    if samples.iter().all(|(_, _, s)| s.is_empty()) {
        return;
    }
    let _ = writeln!(out, "    promql_expr_test:");
    for (service, slo, samples) in samples {
        for metric in [BURN_RATE_METRIC, BUDGET_METRIC] {
            for dim in Dimension::ALL {
                let mine: Vec<&Sample> = samples
                    .iter()
                    .filter(|s| s.0 == metric && s.1 == dim)
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                let expr = Selector {
                    metric: Some(metric.to_string()),
                    matchers: vec![
                        Matcher::new("service", MatchOp::Equal, *service),
                        Matcher::new("slo", MatchOp::Equal, *slo),
                        Matcher::new("dimension", MatchOp::Equal, dim.as_str()),
                    ],
                };
                let _ = writeln!(out, "      - expr: {}", yaml_str(&expr.to_promql()));
                let _ = writeln!(out, "        eval_time: {}", format_millis(samples_at));
                let _ = writeln!(out, "        exp_samples:");
                for (_, _, labels, value) in mine {
                    let _ = writeln!(out, "          - labels: {}", yaml_str(labels));
                    let _ = writeln!(out, "            value: {}", number(*value));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::labels::regex_examples;
    use super::series::{anchored, selects, sum};
    use super::*;
    use crate::spec::selector::parse_selector;

    fn sel(s: &str) -> Selector {
        parse_selector(s).unwrap()
    }

    #[test]
    fn regex_examples_match() {
        for re in [
            "5..",
            "set|cas",
            "5xx|5[0-9]{2}",
            "(?:a|b)c+",
            r"api\.v[12]",
            "[^0-9]+",
            r"\d{3}",
            ".*",
            "(GET|POST)/x?",
        ] {
            let r = anchored(re).unwrap();
            let ex = regex_examples(re);
            assert!(
                ex.iter().any(|e| r.is_match(e)),
                "{re}: no example matches: {ex:?}"
            );
        }
    }

    #[test]
    fn solves_bad_and_good_series() {
        let bad = sel(r#"http_requests_total{job="checkout",code=~"5.."}"#);
        let total = sel(r#"http_requests_total{job="checkout"}"#);
        let world = error_world(&bad, &total, 0.25, 100.0, false).unwrap();
        assert_eq!(world.len(), 2);
        assert!(selects(&bad, &world[0]) && selects(&total, &world[0]));
        assert!(!selects(&bad, &world[1]) && selects(&total, &world[1]));
        assert_eq!(sum(&world, &bad), Some(25.0));
        assert_eq!(sum(&world, &total), Some(100.0));

        let bad = sel(r#"m{key_hash="80-ff",op_type=~"set|cas",error_class!="conflict"}"#);
        let total = sel(r#"t{key_hash="80-ff",op_type=~"set|cas"}"#);
        let world = error_world(&bad, &total, 1.0, 10.0, false).unwrap();
        assert_eq!(sum(&world, &bad), Some(10.0));
        assert_eq!(sum(&world, &total), Some(10.0));
    }

    #[test]
    fn histogram_world_reads_as_planned() {
        let h = sel(r#"h{job="x",route!="/healthz"}"#);
        let world = latency_world(&h, &[0.1, 0.2, 0.4], 3.0, 10.0).unwrap();
        assert_eq!(world.len(), 5);
        let count = h.with_suffix("_count").unwrap();
        assert_eq!(sum(&world, &count), Some(10.0));
    }
}
