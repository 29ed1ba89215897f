//! Contributors and exemplars end to end, with real parts (issue 13): a real Prometheus 2.42
//! with exemplar storage scrapes an OpenMetrics application (tests/common/route_exporter.rs)
//! with two routes; one route, `/pay`, starts failing (40%, mostly timeouts), each failure
//! with a trace ID of its own; the other, `/browse`, fails a little all along (2%, below the
//! threshold), with trace IDs of its own too. `burnrate run` evaluates one SLO grouped by
//! route with `breakdown: [error_class]`, and acts through a real Alertmanager and a webhook
//! receiver.
//!
//! Why it exists: contributors and exemplars are only worth anything if they are the failing
//! group's own. Unit tests can check the arithmetic; only this test shows that the labels of
//! the bad series, the exemplars Prometheus really stores (it keeps them only from OpenMetrics
//! scrapes, and 2.x only with `--enable-feature=exemplar-storage`), the group a trace ID
//! belongs to, and what reaches Alertmanager and the webhook fit together: `/pay` reaches
//! `circuit_break` with `timeout` as its top contributor and trace IDs of `/pay`'s failures
//! only, never `/browse`'s, while `/browse` stays `ok`.
//!
//! The contract (PRODUCT.md: "Groups", "Contributors", "Exemplars", "Outputs", "Daemon
//! surface") is checked in two kinds of statement. What the rig itself needs (Prometheus
//! scrapes the exporter and answers `/api/v1/query_exemplars` with the exporter's trace IDs;
//! groups decide; the alert and the webhook arrive) is asserted at once, since nothing after
//! it would mean anything. What contributors and exemplars promise is gathered as a list of
//! misses, each named by the contract's own words, and the test fails at the end with all
//! of them, so one run says everything that is missing.
//!
//! The windows are short (2m/30s, scraped and evaluated every second) so that the decision
//! follows the incident within seconds; the 30s window draws a validation warning, which is
//! expected. Healthy traffic runs 35 s first, so that the long window differs from the short
//! one when the decision comes. The test takes about 55 s when everything is there.

mod common;

use common::alertmanager::{Alertmanager, has_labels, with_labels};
use common::daemon::Daemon;
use common::poll_until;
use common::prometheus::{EXEMPLAR_STORAGE, Prometheus};
use common::route_exporter::{EXEMPLAR_VALUE, RouteExporter};
use common::webhook::WebhookReceiver;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const SERVICE: &str = "shop";
const SLO: &str = "requests";
const PAY: &str = "/pay";
const BROWSE: &str = "/browse";
const RPS: f64 = 100.0;
/// 40% failures: burn 40 against the 99% objective, four times `circuit_break`'s 10;
/// timeouts hold three quarters of them.
const PAY_FAILURES: [(&str, f64); 2] = [("timeout", 0.30), ("db", 0.10)];
const PAY_TIMEOUT_SHARE: f64 = 0.75;
/// 2% failures: burn 2, well below 10, yet enough trace IDs that a mix-up would show.
const BROWSE_FAILURES: [(&str, f64); 2] = [("timeout", 0.01), ("db", 0.01)];
/// The circuit_break rule's windows, as the spec spells them.
const LONG: &str = "2m";
const SHORT: Duration = Duration::from_secs(30);
/// The contract's default `breakdown_top` and the most exemplars an evaluation carries.
const TOP: usize = 5;
const MAX_EXEMPLARS: usize = 5;
/// How long a present feature needs to show in the daemon's output: a few 1 s cycles.
const SETTLE: Duration = Duration::from_secs(10);
/// Healthy traffic before the incident: longer than the short window.
const HEALTHY_BEFORE: Duration = Duration::from_secs(35);

const SPEC: &str = r#"apiVersion: burnrate/v1
service: shop
slos:
  - name: requests
    description: Shop HTTP routes
    period: 30d
    group_by: [route]
    error:
      objective: 99
      bad: request_failures_total{job="app"}
      total: requests_total{job="app"}
      breakdown: [error_class]
    matrix:
      error:
        - {decision: circuit_break, burn: 10, long: 2m, short: 30s}
"#;

/// The latest evaluation of one route's group, if there is one yet.
fn group_of(decisions: &[Value], route: &str) -> Option<Value> {
    decisions
        .iter()
        .find(|e| e["service"] == SERVICE && e["slo"] == SLO && e["group"]["route"] == route)
        .cloned()
}

fn decision(e: &Value) -> &str {
    e["decision"].as_str().unwrap_or("?")
}

/// Unix milliseconds of an output time: RFC 3339 as the contract's examples write it, or
/// Unix seconds as Prometheus does.
fn time_ms(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis()),
        Value::Number(n) => n.as_f64().map(|s| (s * 1000.0).round() as i64),
        _ => None,
    }
}

/// Polls `misses` (what the contract promises and the latest state lacks) until it comes back
/// empty or `within` passes; returns the last list, empty when all held.
fn settle(within: Duration, mut misses: impl FnMut() -> Vec<String>) -> Vec<String> {
    let mut last = Vec::new();
    poll_until(within, Duration::from_millis(250), || {
        last = misses();
        last.is_empty()
    });
    last
}

/// Whose trace IDs are whose, as issued by the exporter so far.
struct Owners {
    pay: BTreeSet<String>,
    browse: BTreeSet<String>,
}

impl Owners {
    fn now(app: &RouteExporter) -> Owners {
        Owners {
            pay: app.trace_ids(PAY),
            browse: app.trace_ids(BROWSE),
        }
    }
}

/// What the contract says the `/pay` evaluation's `error` carries while it is above `ok`
/// with `breakdown`, as misses; `what` names the object (the decision, the webhook payload).
fn breakdown_misses(what: &str, e: &Value, app: &RouteExporter) -> Vec<String> {
    let mut misses = contributor_misses(&e["error"]);
    misses.extend(exemplar_misses(e, app));
    misses.iter_mut().for_each(|m| *m = format!("{what}: {m}"));
    misses
}

fn contributor_misses(error: &Value) -> Vec<String> {
    let mut misses = Vec::new();
    let contributors = &error["contributors"];
    if !contributors.is_object() {
        return vec![format!(
            "error.contributors is an object (got {contributors})"
        )];
    }
    if contributors["window"] != LONG {
        misses.push(format!(
            "error.contributors.window is the deciding rule's long window {LONG:?} (got {})",
            contributors["window"]
        ));
    }
    let Some(top) = contributors["top"].as_array().filter(|t| !t.is_empty()) else {
        misses.push(format!(
            "error.contributors.top is a non-empty list (got {})",
            contributors["top"]
        ));
        return misses;
    };
    if top.len() > TOP {
        misses.push(format!(
            "error.contributors.top has at most {TOP} entries (got {})",
            top.len()
        ));
    }
    let mut classes = Vec::new();
    let (mut shares, mut burns) = (Vec::new(), Vec::new());
    for c in top {
        let labels = c["labels"].as_object();
        let class = c["labels"]["error_class"].as_str();
        match (labels.map(|l| l.len()), class, c["bad_share"].as_f64(), c["burn"].as_f64()) {
            (Some(1), Some(class), Some(share), Some(burn)) => {
                classes.push(class.to_string());
                shares.push(share);
                burns.push(burn);
            }
            _ => misses.push(format!(
                "each contributor is {{\"labels\": {{\"error_class\": …}}, \"bad_share\": n, \"burn\": n}} (got {c})"
            )),
        }
    }
    if classes.first().map(String::as_str) != Some("timeout") {
        misses.push(format!(
            "the top contributor is error_class=timeout (got {classes:?})"
        ));
    }
    if let Some(bad) = classes
        .iter()
        .find(|c| !["timeout", "db"].contains(&c.as_str()))
    {
        misses.push(format!("contributor {bad:?} is one of /pay's classes"));
    }
    if shares.windows(2).any(|w| w[0] < w[1]) {
        misses.push(format!(
            "contributors are ordered by bad_share, largest first (got {shares:?})"
        ));
    }
    if let Some(timeout) = classes.iter().position(|c| c == "timeout")
        && (shares[timeout] - PAY_TIMEOUT_SHARE).abs() > 0.1
    {
        misses.push(format!(
            "timeout's bad_share is about {PAY_TIMEOUT_SHARE} (got {})",
            shares[timeout]
        ));
    }
    let share_sum: f64 = shares.iter().sum();
    if !common::close(
        share_sum,
        1.0,
        common::Tol {
            rel: 0.0,
            abs: 1e-6,
        },
    ) {
        misses.push(format!(
            "the bad_shares of all label sets add up to 1 (got {share_sum})"
        ));
    }
    let burn_sum: f64 = burns.iter().sum();
    match error["burn"][LONG].as_f64() {
        Some(window) if common::close(burn_sum, window, common::Tol { rel: 1e-6, abs: 0.0 }) => {}
        window => misses.push(format!(
            "the contributors' burns add up to error.burn[{LONG:?}] (got {burn_sum} against {window:?})"
        )),
    }
    misses
}

fn exemplar_misses(e: &Value, app: &RouteExporter) -> Vec<String> {
    let exemplars = &e["error"]["exemplars"];
    let Some(list) = exemplars.as_array().filter(|l| !l.is_empty()) else {
        return vec![format!(
            "error.exemplars is a non-empty list (got {exemplars})"
        )];
    };
    let mut misses = Vec::new();
    if list.len() > MAX_EXEMPLARS {
        misses.push(format!(
            "at most {MAX_EXEMPLARS} exemplars (got {})",
            list.len()
        ));
    }
    let owners = Owners::now(app);
    let evaluated = time_ms(&e["time"]);
    let mut times = Vec::new();
    for x in list {
        let (Some(id), Some(value), Some(at)) = (
            x["labels"]["trace_id"].as_str(),
            x["value"].as_f64(),
            time_ms(&x["time"]),
        ) else {
            misses.push(format!(
                "each exemplar is {{\"labels\": {{\"trace_id\": …}}, \"value\": n, \"time\": …}} (got {x})"
            ));
            continue;
        };
        times.push(at);
        if owners.browse.contains(id) {
            misses.push(format!("exemplar {id} is /browse's, not the group's own"));
            continue;
        }
        if !owners.pay.contains(id) {
            misses.push(format!("exemplar {id} is a trace ID the exporter issued"));
            continue;
        }
        let issued = app.trace(id).expect("issued");
        if (at - issued.at_ms).abs() > 1000 || value != EXEMPLAR_VALUE {
            misses.push(format!(
                "exemplar {id} keeps Prometheus's value and time (got {value} at {at} ms, issued {EXEMPLAR_VALUE} at {} ms)",
                issued.at_ms
            ));
        }
        // Scrapes land up to a second after the failure; allow that much on either side.
        if let Some(t) = evaluated
            && (at > t + 1000 || at < t - SHORT.as_millis() as i64 - 2000)
        {
            misses.push(format!(
                "exemplar {id} ({at} ms) is from the deciding rule's 30s short window before the evaluation ({t} ms)"
            ));
        }
    }
    if times.windows(2).any(|w| w[0] < w[1]) {
        misses.push(format!("exemplars are newest first (got times {times:?})"));
    }
    misses
}

/// Whether `text` names one of `ids`.
fn names_any(text: &str, ids: &BTreeSet<String>) -> Option<String> {
    ids.iter().find(|id| text.contains(id.as_str())).cloned()
}

fn alert_misses(alerts: &[Value], app: &RouteExporter) -> Vec<String> {
    let mut misses = Vec::new();
    let ours = |route: &str| {
        let labels = [
            ("alertname", "SLOBurnRate"),
            ("service", SERVICE),
            ("slo", SLO),
            ("route", route),
        ];
        with_labels(alerts, &labels)
    };
    if let Some(a) = ours(BROWSE).first() {
        misses.push(format!("no firing alert for /browse (got {})", a["labels"]));
    }
    let Some(pay) = ours(PAY).into_iter().next() else {
        return vec!["an alert for /pay".into()];
    };
    let annotation = |name: &str| pay["annotations"][name].as_str().unwrap_or_default();
    let contributors = annotation("contributors");
    if !contributors.starts_with("error_class=timeout") {
        misses.push(format!(
            "alert annotation `contributors` starts with error_class=timeout (got {contributors:?})"
        ));
    }
    let exemplars = annotation("exemplars");
    let owners = Owners::now(app);
    if names_any(exemplars, &owners.pay).is_none() {
        misses.push(format!(
            "alert annotation `exemplars` names a trace ID of /pay's failures (got {exemplars:?})"
        ));
    }
    if let Some(id) = names_any(exemplars, &owners.browse) {
        misses.push(format!(
            "alert annotation `exemplars` names no trace ID of /browse's ({id} is)"
        ));
    }
    misses
}

/// A sample of what Prometheus answers to `query_exemplars` for one route, and whether its
/// exemplars are all trace IDs the exporter issued for that route (and some are there).
fn stored_exemplars(prom: &Prometheus, route: &str, app: &RouteExporter) -> (Value, bool) {
    let now = Prometheus::now() as f64;
    let data = prom.query_exemplars(
        &format!(r#"request_failures_total{{route="{route}"}}"#),
        now - 60.0,
        now,
    );
    let own = app.trace_ids(route);
    let ids: Vec<&str> = data
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["exemplars"].as_array().into_iter().flatten())
        .filter_map(|x| x["labels"]["trace_id"].as_str())
        .collect();
    let ok = !ids.is_empty() && ids.iter().all(|id| own.contains(*id));
    (data, ok)
}

#[test]
fn failing_route_alerts_with_its_own_contributors_and_trace_ids() {
    let started = Instant::now();
    let app = RouteExporter::start(&[PAY, BROWSE], &["timeout", "db"]);
    app.set(PAY, RPS, &[]);
    app.set(BROWSE, RPS, &BROWSE_FAILURES);

    let prom = Prometheus::start_scraping_with_flags(
        &[app.target()],
        Duration::from_secs(1),
        &[EXEMPLAR_STORAGE],
    );
    // Every series scraped a few times, so that the daemon's first evaluation has rates.
    let (seen, ok) = prom.wait_for_value(
        r#"min(count_over_time(request_failures_total{job="app"}[1m]))"#,
        Duration::from_secs(30),
        |v| v.is_some_and(|n| n >= 3.0),
    );
    let target = prom.active_targets().into_iter().next().unwrap_or_default();
    assert!(
        ok && target["health"] == "up" && target["lastError"] == "",
        "Prometheus scrapes the OpenMetrics exporter (samples {seen:?}, scrapes served {}, Accept {:?}); target: {target:#}\n{}",
        app.scrapes(),
        app.last_accept(),
        prom.log_tail(30)
    );
    assert!(
        app.last_accept()
            .is_some_and(|a| a.contains("application/openmetrics-text")),
        "Prometheus asks for OpenMetrics, the only format it takes exemplars from: {:?}",
        app.last_accept()
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("shop.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let am = Alertmanager::start();
    let hook = WebhookReceiver::start();
    let spec_arg = spec.display().to_string();
    let (prom_url, am_url, hook_url) = (prom.url(), am.url(), hook.url());
    let d = Daemon::start(&[
        &spec_arg,
        "--prometheus",
        &prom_url,
        "--interval",
        "1s",
        "--alertmanager",
        &am_url,
        "--webhook",
        &hook_url,
    ]);

    // `/browse` must hold `ok` the whole time, not merely at the end.
    let mut browse_seen = BTreeSet::new();
    let mut wait_groups = |what: &str, within: Duration, pay_decision: &str| -> (Value, Value) {
        let mut last = Vec::new();
        let ok = poll_until(within, Duration::from_millis(200), || {
            last = d.decisions();
            if let Some(b) = group_of(&last, BROWSE) {
                browse_seen.insert(decision(&b).to_string());
            }
            group_of(&last, PAY).is_some_and(|p| decision(&p) == pay_decision)
                && group_of(&last, BROWSE).is_some_and(|b| decision(&b) == "ok")
        });
        assert!(
            ok,
            "waited {within:?} for {what}; decisions:\n{}\n--- daemon log (tail) ---\n{}",
            serde_json::to_string_pretty(&last).unwrap(),
            d.log_tail(40)
        );
        eprintln!("{what}: at {:.1?}", started.elapsed());
        (
            group_of(&last, PAY).unwrap(),
            group_of(&last, BROWSE).unwrap(),
        )
    };
    wait_groups(
        "both routes ok before the incident",
        Duration::from_secs(20),
        "ok",
    );

    // The long window must hold healthy traffic the short one does not, or a breakdown over
    // the wrong window would add up to the right burn.
    let healthy = HEALTHY_BEFORE.as_secs_f64();
    let (seen, ok) = prom.wait_for_value(
        r#"min(count_over_time(requests_total{job="app",code="200"}[2m]))"#,
        Duration::from_secs(60),
        |v| v.is_some_and(|n| n >= healthy),
    );
    assert!(
        ok,
        "{healthy} s of healthy samples before the incident (got {seen:?})"
    );

    app.set(PAY, RPS, &PAY_FAILURES);
    eprintln!("incident on /pay: at {:.1?}", started.elapsed());

    let mut sample = Value::Null;
    let ok = poll_until(Duration::from_secs(20), Duration::from_millis(500), || {
        let (pay, pay_ok) = stored_exemplars(&prom, PAY, &app);
        let (_, browse_ok) = stored_exemplars(&prom, BROWSE, &app);
        sample = pay;
        pay_ok && browse_ok
    });
    assert!(
        ok,
        "Prometheus answers query_exemplars with the exporter's trace IDs, each under its own route; /pay's answer:\n{sample:#}\n--- exposition ---\n{}",
        app.render()
    );

    let (pay, browse) = wait_groups(
        "/pay circuit_break while /browse stays ok",
        Duration::from_secs(60),
        "circuit_break",
    );
    // What the daemon can draw from, for whoever reads a failure below.
    let (stored, _) = stored_exemplars(&prom, PAY, &app);
    let shown: Vec<Value> = stored
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let mut s = s.clone();
            if let Some(x) = s["exemplars"].as_array_mut() {
                let newest = x.len().saturating_sub(2);
                x.drain(..newest);
            }
            s
        })
        .collect();
    eprintln!(
        "exemplars Prometheus holds for /pay (newest 2 per series): {}",
        serde_json::to_string(&shown).unwrap()
    );
    eprintln!(
        "/pay error burns {} (fired {}); /browse error burns {}",
        pay["error"]["burn"], pay["error"]["fired"], browse["error"]["burn"]
    );

    let mut misses = Vec::new();
    let mut last_pay = pay;
    misses.extend(settle(SETTLE, || {
        let decisions = d.decisions();
        let mut m = Vec::new();
        if let Some(b) = group_of(&decisions, BROWSE) {
            browse_seen.insert(decision(&b).to_string());
            if !b["error"]["contributors"].is_null() || !b["error"]["exemplars"].is_null() {
                m.push(format!(
                    "/api/v1/decisions: /browse, at ok, carries no contributors or exemplars (got {:#})",
                    b["error"]
                ));
            }
        }
        match group_of(&decisions, PAY) {
            Some(p) if decision(&p) == "circuit_break" => {
                m.extend(breakdown_misses("/api/v1/decisions /pay", &p, &app));
                last_pay = p;
            }
            other => m.push(format!(
                "/api/v1/decisions: /pay stays circuit_break (got {other:?})"
            )),
        }
        m
    }));
    eprintln!(
        "/pay error after {:.1?}: {:#}",
        started.elapsed(),
        last_pay["error"]
    );

    let want = [
        ("alertname", "SLOBurnRate"),
        ("service", SERVICE),
        ("slo", SLO),
        ("route", PAY),
        ("decision", "circuit_break"),
        ("dimension", "error"),
    ];
    let (alerts, ok) = am.wait_for_alerts(Duration::from_secs(15), |a| {
        a.iter().any(|a| has_labels(a, &want))
    });
    assert!(
        ok,
        "Alertmanager holds an alert with labels {want:?}; active alerts:\n{alerts:#?}\n--- daemon log (tail) ---\n{}",
        d.log_tail(30)
    );
    let mut last_alerts = alerts;
    misses.extend(settle(SETTLE, || {
        last_alerts = am.alerts();
        alert_misses(&last_alerts, &app)
    }));
    if let Some(a) = last_alerts.iter().find(|a| has_labels(a, &want)) {
        eprintln!("/pay alert annotations: {:#}", a["annotations"]);
    }

    let is_pay_break = |b: &Value| b["group"]["route"] == PAY && decision(b) == "circuit_break";
    let (posts, ok) = hook.wait_for(Duration::from_secs(10), |p| {
        p.iter().any(|p| is_pay_break(&p.body))
    });
    let payload = posts
        .iter()
        .map(|p| &p.body)
        .find(|b| is_pay_break(b))
        .cloned();
    assert!(
        ok && payload.as_ref().is_some_and(|b| b["previous"].is_string()),
        "the webhook gets /pay's change to circuit_break, with \"previous\"; payloads:\n{:#?}",
        posts.iter().map(|p| &p.body).collect::<Vec<_>>()
    );
    let payload = payload.unwrap();
    misses.extend(breakdown_misses("webhook payload /pay", &payload, &app));
    if let Some(b) = posts
        .iter()
        .map(|p| &p.body)
        .find(|b| b["group"]["route"] == BROWSE && decision(b) != "ok")
    {
        misses.push(format!(
            "webhook: no change above ok for /browse (got {})",
            decision(b)
        ));
    }
    if browse_seen.iter().any(|s| s != "ok") {
        misses.push(format!("/browse stays ok throughout (saw {browse_seen:?})"));
    }

    eprintln!("took {:.1?}", started.elapsed());
    assert!(
        misses.is_empty(),
        "{} contract statement(s) do not hold:\n- {}\n--- /pay webhook payload ---\n{payload:#}\n--- daemon log (tail) ---\n{}",
        misses.len(),
        misses.join("\n- "),
        d.log_tail(20)
    );
}
