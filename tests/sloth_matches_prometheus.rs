//! The upstream Sloth examples that load (`../shared/sloth-examples/`, read where they are)
//! burn and alert as the rules Sloth generated from them (`_gen/`), in a real Prometheus 2.42.
//!
//! A synthetic four-day history ending now is backfilled with the series the examples query:
//! `http_request_duration_seconds_count` of `myservice` (a slow burn from 60h to 90h, a
//! harder one from 70h to 76h, an outage at 80h) and of `myapp` (a burst at 85h),
//! `apiserver_request_total` and the `apiserver_request_duration_seconds` histogram per verb
//! (errors at 88h, slow from 75h to 78h), and five Wi-Fi clients'
//! `unifipoller_client_satisfaction_ratio` (one poor from 70h to 80h, one bad at 80h).
//!
//! Sloth's side is its generated rule files as they are: each `slo:sli_error:ratio_rate<w>`
//! recording rule's expression is Sloth's error ratio over `w`, and each alert's expression,
//! with those recording rules inlined, is its page or ticket condition (the two halves of
//! its `or`, one per window pair). At many instants on and off the scrape grid, `burnrate
//! check` of each example file gives, for every SLO: at each of Sloth's windows a burn equal
//! to Sloth's ratio / (1 - objective) (1e-9); a remaining budget equal to 1 - Sloth's ratio
//! over the 30d period / (1 - objective) (the 3d rule's expression at 30d: Sloth records its
//! period ratio from its own 5m series, which needs its rules to have run for 30 days); and
//! exactly the rules firing whose Sloth window pair holds (page → circuit_break, ticket →
//! warn). The SLOs Sloth generates no alerts for (`no-alerts.yml`, OpenSLO v1alpha) have
//! no rule and decide `ok`.

mod common;

use burnrate::spec::yaml::{self, Node};
use common::history::{Counter, DAY, Gauge, HOUR, Histogram, History, LogLogistic, MINUTE};
use common::prometheus::{Backfilled, Prometheus};
use common::{REL_1E9_ABS_1E12, check_json, close, map_get, parallel, seq};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const SCRAPE: i64 = 30;

/// The examples that load (tests/upstream_sloth_openslo.rs says why the others do not).
const EXAMPLES: [&str; 11] = [
    "getting-started.yml",
    "home-wifi.yml",
    "k8s-getting-started.yml",
    "k8s-home-wifi.yml",
    "k8s-multifile.yml",
    "kubernetes-apiserver.yml",
    "multifile.yml",
    "no-alerts.yml",
    "openslo-getting-started.yml",
    "openslo-kubernetes-apiserver.yml",
    "raw-home-wifi.yml",
];

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/sloth-examples")
}

// ---------------------------------------------------------------------------------------
// The history
// ---------------------------------------------------------------------------------------

fn within(t: i64, from: i64, to: i64) -> bool {
    from <= t && t < to
}

/// Requests of `job` per status code: `errors(t)` of them 5xx or 429.
fn requests(
    h: History,
    name: &str,
    labels: &[(&'static str, &'static str)],
    rps: f64,
    errors: impl Fn(i64) -> f64 + Copy + 'static,
) -> History {
    let mut h = h;
    for (code, share) in [("200", 1.0), ("500", 0.8), ("429", 0.2)] {
        let mut c = Counter::new(name)
            .label("code", code)
            .initial(100_000)
            .rate(move |t| {
                if code == "200" {
                    rps * (1.0 - errors(t))
                } else {
                    rps * errors(t) * share
                }
            });
        for (k, v) in labels {
            c = c.label(k, v);
        }
        h = h.counter(c);
    }
    h
}

fn build_history(start: i64) -> History {
    let at = move |h: i64, m: i64| start + h * HOUR + m * MINUTE;
    let mut h = History::new(start, 4 * DAY).interval(SCRAPE).seed(20261202);
    h = requests(
        h,
        "http_request_duration_seconds_count",
        &[("job", "myservice")],
        10.0,
        move |t| {
            if within(t, at(80, 0), at(80, 30)) {
                0.05
            } else if within(t, at(70, 0), at(76, 0)) {
                0.008
            } else if within(t, at(60, 0), at(90, 0)) {
                0.004
            } else {
                0.0005
            }
        },
    );
    h = requests(
        h,
        "http_request_duration_seconds_count",
        &[("job", "myapp")],
        5.0,
        move |t| {
            if within(t, at(85, 0), at(86, 0)) {
                0.01
            } else {
                0.0002
            }
        },
    );
    for (verb, rps) in [("GET", 20.0), ("WATCH", 2.0)] {
        h = requests(
            h,
            "apiserver_request_total",
            &[("verb", verb)],
            rps,
            move |t| {
                if within(t, at(88, 0), at(89, 0)) {
                    0.05
                } else {
                    0.0008
                }
            },
        );
        h = h.histogram(
            Histogram::new("apiserver_request_duration_seconds")
                .label("verb", verb)
                .bounds(&["0.1", "0.4", "1", "5"])
                .rate(move |_| rps)
                .latency(move |t| {
                    if within(t, at(75, 0), at(78, 0)) {
                        LogLogistic::from_median_p99(0.3, 8.0)
                    } else {
                        LogLogistic::from_median_p99(0.02, 2.0)
                    }
                }),
        );
    }
    for client in ["c1", "c2", "c3", "c4", "c5"] {
        h = h.gauge(
            Gauge::new("unifipoller_client_satisfaction_ratio")
                .label("name", client)
                .value(move |t| match client {
                    "c3" if within(t, at(70, 0), at(80, 0)) => 0.6,
                    "c4" if within(t, at(80, 0), at(82, 0)) => 0.4,
                    "c5" if (t - start) / SCRAPE % 50 == 0 => 0.7,
                    _ => 0.93,
                }),
        );
    }
    h
}

fn fixture() -> &'static Backfilled {
    static FIXTURE: OnceLock<Backfilled> = OnceLock::new();
    FIXTURE.get_or_init(|| Backfilled::ending_now(4 * DAY, SCRAPE, build_history))
}

// ---------------------------------------------------------------------------------------
// Sloth's rules, as Sloth generated them
// ---------------------------------------------------------------------------------------

/// One alert condition: the window pair of one half of a Sloth alert's `or`.
struct SlothCondition {
    /// `page` or `ticket` (the alert's `sloth_severity`).
    severity: String,
    long: String,
    short: String,
    /// The condition, its recording rules inlined.
    expr: String,
}

/// One SLO of a generated rule file.
#[derive(Default)]
struct SlothSlo {
    service: String,
    slo: String,
    /// `slo:objective:ratio`.
    objective: f64,
    /// Window → the expression of `slo:sli_error:ratio_rate<window>`.
    ratios: BTreeMap<String, String>,
    conditions: Vec<SlothCondition>,
}

impl SlothSlo {
    fn budget(&self) -> f64 {
        1.0 - self.objective
    }

    /// Sloth's ratio over the period: its 3d rule's expression over 30d.
    fn period_ratio(&self) -> String {
        self.ratios["3d"].replace("[3d", "[30d")
    }
}

fn label(rule: &Node, name: &str) -> String {
    map_get(rule, "labels")
        .and_then(|l| map_get(l, name))
        .and_then(|v| v.as_scalar())
        .unwrap_or_else(|| panic!("rule without label {name}"))
        .to_string()
}

fn text(rule: &Node, key: &str) -> Option<String> {
    map_get(rule, key)
        .and_then(|v| v.as_scalar())
        .map(str::to_string)
}

/// The SLOs of a `_gen/` file, keyed by (service, SLO).
fn sloth_slos(file: &Path) -> BTreeMap<(String, String), SlothSlo> {
    let source = std::fs::read_to_string(file).unwrap();
    // One document per service, each a rule file (`groups`) or a Prometheus Operator
    // PrometheusRule (`spec.groups`).
    let docs: Vec<Node> = source
        .split("\n---\n")
        .filter_map(|d| yaml::parse(d).unwrap())
        .collect();
    let rules: Vec<&Node> = docs
        .iter()
        .map(|d| map_get(d, "groups").or_else(|| map_get(map_get(d, "spec")?, "groups")))
        .flat_map(|g| seq(g.expect("groups")))
        .flat_map(|g| seq(map_get(g, "rules").unwrap()))
        .collect();
    let mut slos: BTreeMap<(String, String), SlothSlo> = BTreeMap::new();
    let key = |r: &Node| (label(r, "sloth_service"), label(r, "sloth_slo"));
    for r in &rules {
        let Some(record) = text(r, "record") else {
            continue;
        };
        let slo = slos.entry(key(r)).or_default();
        (slo.service, slo.slo) = key(r);
        let expr = text(r, "expr").unwrap();
        if let Some(w) = record.strip_prefix("slo:sli_error:ratio_rate")
            && w != "30d"
        {
            slo.ratios.insert(w.to_string(), expr);
        } else if record == "slo:objective:ratio" {
            let v = expr.trim().strip_prefix("vector(").unwrap();
            slo.objective = v.trim_end_matches(')').parse().unwrap();
        }
    }
    let selector = Regex::new(r"slo:sli_error:ratio_rate(\w+)\{([^}]*)\}").unwrap();
    let service = Regex::new(r#"sloth_service="([^"]*)""#).unwrap();
    let name = Regex::new(r#"sloth_slo="([^"]*)""#).unwrap();
    for r in &rules {
        let Some(_) = text(r, "alert") else {
            continue;
        };
        let severity = label(r, "sloth_severity");
        let expr = text(r, "expr").unwrap();
        for half in expr.split("\nor\n") {
            let windows: Vec<String> = selector
                .captures_iter(half)
                .map(|c| c[1].to_string())
                .collect();
            let [short, long] = windows.as_slice() else {
                panic!("{}: a window pair: {half}", file.display())
            };
            let mut owner: Option<(String, String)> = None;
            let inlined = selector.replace_all(half, |c: &regex::Captures| {
                let k = (
                    service.captures(&c[2]).unwrap()[1].to_string(),
                    name.captures(&c[2]).unwrap()[1].to_string(),
                );
                let ratio = format!("({})", slos[&k].ratios[&c[1]]);
                owner = Some(k);
                ratio
            });
            let condition = SlothCondition {
                severity: severity.clone(),
                long: long.clone(),
                short: short.clone(),
                expr: inlined.into_owned(),
            };
            slos.get_mut(&owner.expect("selectors"))
                .unwrap()
                .conditions
                .push(condition);
        }
    }
    slos
}

// ---------------------------------------------------------------------------------------
// check == Sloth's rules
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Seen {
    burns: usize,
    budgets: usize,
    firing: BTreeSet<String>,
    quiet: BTreeSet<String>,
}

/// Compares `check` of one example at `t` with Sloth's rules for it, in Prometheus.
fn compare(prom: &Prometheus, example: &str, t: i64) -> Seen {
    let spec = examples().join(example);
    let generated = sloth_slos(&examples().join("_gen").join(example));
    let (code, printed, stderr) =
        check_json(spec.to_str().unwrap(), &prom.url(), &t.to_string(), &[]);
    assert!(
        (0..=3).contains(&code),
        "{example} at {t}: exit {code}\n{stderr}"
    );
    assert_eq!(
        printed.len(),
        generated.len(),
        "{example} at {t}: one object per Sloth SLO: {printed:#?}"
    );
    let mut seen = Seen::default();
    for v in &printed {
        let k = (
            v["service"].as_str().unwrap().to_string(),
            v["slo"].as_str().unwrap().to_string(),
        );
        let slo = generated
            .get(&k)
            .unwrap_or_else(|| panic!("{example}: {k:?} is none of Sloth's SLOs"));
        let what = format!("{example} {}/{} at {t}", k.0, k.1);
        let error = &v["error"];
        // Burns: at every window Sloth's alerts read (none for an SLO without alerts).
        let windows: BTreeSet<&str> = slo
            .conditions
            .iter()
            .flat_map(|c| [c.long.as_str(), c.short.as_str()])
            .collect();
        let burns = error["burn"].as_object().unwrap();
        assert_eq!(
            burns.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            windows,
            "{what}: windows"
        );
        for w in &windows {
            let sloth = prom.query_one(&slo.ratios[*w], t).map(|r| r / slo.budget());
            match (burns[*w].as_f64(), sloth) {
                (Some(b), Some(s)) => {
                    assert!(
                        close(b, s, REL_1E9_ABS_1E12),
                        "{what}: burn[{w}] {b}, Sloth {s}"
                    );
                    seen.burns += 1;
                }
                (b, s) => panic!("{what}: burn[{w}] {b:?}, Sloth {s:?}"),
            }
        }
        // The budget over the period.
        let sloth = prom
            .query_one(&slo.period_ratio(), t)
            .map(|r| 1.0 - r / slo.budget());
        match (error["budget_remaining"].as_f64(), sloth) {
            (Some(a), Some(b)) => {
                assert!(
                    close(a, b, REL_1E9_ABS_1E12),
                    "{what}: budget {a}, Sloth {b}"
                );
                seen.budgets += 1;
            }
            (a, b) => panic!("{what}: budget {a:?}, Sloth {b:?}"),
        }
        // The rules firing (no state: a rule is fired at once) and Sloth's conditions.
        let mut sloth_firing: BTreeSet<(String, String, String)> = BTreeSet::new();
        for c in &slo.conditions {
            let decision = match c.severity.as_str() {
                "page" => "circuit_break",
                "ticket" => "warn",
                other => panic!("{what}: Sloth severity {other}"),
            };
            let row = (decision.to_string(), c.long.clone(), c.short.clone());
            let tag = format!("{example} {} {} {}/{}", k.1, c.severity, c.long, c.short);
            if prom.query(&c.expr, t).is_empty() {
                seen.quiet.insert(tag);
            } else {
                sloth_firing.insert(row);
                seen.firing.insert(tag);
            }
        }
        let mut mine: BTreeSet<(String, String, String)> = BTreeSet::new();
        for list in ["fired", "pending"] {
            for rule in error[list].as_array().into_iter().flatten() {
                mine.insert((
                    rule["decision"].as_str().unwrap().to_string(),
                    rule["long"].as_str().unwrap().to_string(),
                    rule["short"].as_str().unwrap().to_string(),
                ));
            }
        }
        assert_eq!(mine, sloth_firing, "{what}: rules firing");
        if slo.conditions.is_empty() {
            assert_eq!(v["decision"], "ok", "{what}: {v}");
        }
    }
    seen
}

#[test]
fn check_burns_and_fires_as_the_rules_sloth_generated() {
    let started = std::time::Instant::now();
    let f = fixture();
    let prom = Prometheus::start(&f.blocks);
    // Early, the slow burn, the harder one, latency, the outage, the bursts and after, on
    // and off the scrape grid.
    let times = f.instants(&[
        (10, 0, 0),
        (62, 0, 7),
        (70, 40, 0),
        (75, 50, 13),
        (80, 10, 29),
        (80, 25, 0),
        (81, 0, 43),
        (85, 30, 0),
        (88, 20, 1),
    ]);
    let jobs: Vec<(&str, i64)> = EXAMPLES
        .iter()
        .flat_map(|e| times.iter().map(move |t| (*e, *t)))
        .collect();
    let results = parallel(&jobs, |&(example, t)| compare(&prom, example, t));
    let mut total = Seen::default();
    for s in results {
        total.burns += s.burns;
        total.budgets += s.budgets;
        total.firing.extend(s.firing);
        total.quiet.extend(s.quiet);
    }
    eprintln!(
        "{} examples at {} instants: {} burns and {} budgets equal Sloth's; conditions firing \
         somewhere: {}, never: {}; {:.1}s",
        EXAMPLES.len(),
        times.len(),
        total.burns,
        total.budgets,
        total.firing.len(),
        total.quiet.difference(&total.firing).count(),
        started.elapsed().as_secs_f64()
    );
    assert!(total.burns > 800, "{} burns compared", total.burns);
    // The comparison means something only if page and ticket alerts fired, for each kind of
    // SLI (events, a subquery ratio, a histogram bucket, a raw ratio) and both file formats.
    for needed in [
        "getting-started.yml requests-availability page 1h/5m",
        "getting-started.yml requests-availability page 6h/30m",
        "getting-started.yml requests-availability ticket 1d/2h",
        "getting-started.yml requests-availability ticket 3d/6h",
        "k8s-multifile.yml requests-availability page 1h/5m",
        "home-wifi.yml risk-wifi-client-satisfaction page 1h/5m",
        "home-wifi.yml risk-wifi-client-satisfaction ticket 3d/6h",
        "kubernetes-apiserver.yml requests-availability page 1h/5m",
        "kubernetes-apiserver.yml requests-latency page 1h/5m",
        "raw-home-wifi.yml wifi-client-satisfaction ticket 3d/6h",
    ] {
        assert!(
            total.firing.contains(needed),
            "{needed} never fired: {:?}",
            total.firing
        );
    }
    // ... and did not fire everywhere.
    assert!(
        total
            .quiet
            .contains("getting-started.yml requests-availability page 1h/5m"),
        "{:?}",
        total.quiet
    );
}
