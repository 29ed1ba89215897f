//! The daemon's web page (`/`, `/slo/...`; PRODUCT.md "Daemon surface") against real parts
//! during a live incident: a real Prometheus 2.42 with exemplar storage scrapes two fake
//! applications (tests/common/route_exporter.rs with routes `/pay` and `/search?q=a&b`,
//! tests/common/exporter.rs with errors and a latency histogram); `burnrate run` evaluates
//! a grouped SLO with `breakdown` and an SLO whose service and name need escaping and
//! percent-encoding, posts to a webhook that fails its first delivery and to an
//! Alertmanager that is not there; headless Chromium loads the pages from the daemon.
//!
//! Why it exists: the page is only worth anything if a person sees, in a real browser, what
//! the daemon decided and why: every SLO and group with its decision in the list (worst
//! first, each linking to its page), and on the page of the group that burns a chart per
//! window of each dimension drawn from the retained evaluations, the incident as a
//! decision band and as a change, its contributors and trace IDs, the deliveries with their
//! failures, and graph links whose expressions Prometheus answers. Screenshots are decoded
//! and looked at: not blank, and the circuit_break colour drawn.
//!
//! Also here: the page sits behind `--web.config.file`'s basic auth like `/metrics`, and an
//! SLO page's history survives a restart with the same `--state-dir`.
//!
//! Windows are seconds long (the 15s short window draws a validation warning, as expected)
//! so that the decision follows the incident within seconds. About 30 s with the default
//! two test threads (the three tests run side by side).

mod common;

use common::browser::{count_near, decode, dump_dom, hex, ink_share, screenshot};
use common::daemon::Daemon;
use common::exporter::Exporter;
use common::prometheus::{EXEMPLAR_STORAGE, Prometheus};
use common::route_exporter::RouteExporter;
use common::webhook::WebhookReceiver;
use common::{closed_port_url, poll_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PAY: &str = "/pay";
const SEARCH: &str = "/search?q=a&b";
/// The colour of circuit_break on every burnrate page.
const CIRCUIT_BREAK: &str = "#d62f2f";

const SHOP: &str = r#"apiVersion: burnrate/v1
service: shop
labels: {team: payments}
slos:
  - name: requests
    description: Shop routes <b>escaped</b> & checked
    period: 30d
    group_by: [route]
    error:
      objective: 99
      bad: request_failures_total{job="app"}
      total: requests_total{job="app"}
      breakdown: [error_class]
    matrix:
      error:
        - {decision: warn, burn: 2, long: 1m, short: 15s}
        - {decision: circuit_break, burn: 10, long: 1m, short: 15s}
"#;

const API_SERVICE: &str = "api <v2> & co";
const API_SLO: &str = "latency & errors";
const API: &str = r#"apiVersion: burnrate/v1
service: "api <v2> & co"
slos:
  - name: "latency & errors"
    period: 1h
    error:
      objective: 99
      bad: app_errors_total{job="app"}
      total: app_requests_total{job="app"}
    latency:
      histogram: app_request_duration_seconds{job="app"}
      quantile: 0.99
      threshold: 200ms
    matrix:
      error:
        - {decision: warn, burn: 2, long: 20s, short: 10s}
      latency:
        - {decision: scale, burn: 5, long: 20s}
"#;

/// RFC 3986 percent-encoding of one URL component, written here independently of the
/// daemon's, so a wrong link in the page shows.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The SLO page of an evaluation as `/api/v1/decisions` prints it.
fn page_of(e: &Value) -> String {
    let mut path = format!(
        "/slo/{}/{}",
        encode(e["service"].as_str().unwrap()),
        encode(e["slo"].as_str().unwrap())
    );
    if let Some(group) = e["group"].as_object() {
        let q: Vec<String> = group
            .iter()
            .map(|(k, v)| format!("g.{}={}", encode(k), encode(v.as_str().unwrap())))
            .collect();
        path.push('?');
        path.push_str(&q.join("&"));
    }
    path
}

/// HTML attribute escaping as the page writes it (`&` in a query becomes `&amp;`).
fn attr(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The text between `open` and the next `close` after it, for each occurrence.
fn between<'a>(text: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        let Some(end) = after.find(close) else { break };
        out.push(&after[..end]);
        rest = &after[end..];
    }
    out
}

/// Per `<path class="burn">`: its window and how many points it draws.
fn burn_paths(html: &str) -> Vec<(String, usize)> {
    between(html, r#"<path class="burn" data-window=""#, "</path>")
        .into_iter()
        .map(|p| {
            let window = p[..p.find('"').unwrap()].to_string();
            let d = between(p, r#" d=""#, "\"").first().copied().unwrap_or("");
            let numbers = d.split(['M', ' ', 'h']).filter(|s| !s.is_empty()).count();
            (window, numbers / 2)
        })
        .collect()
}

/// The `<tr>` of the list whose link is `href`.
fn row_with<'a>(dom: &'a str, href: &str) -> Option<&'a str> {
    let link = format!(r#"href="{}""#, attr(href));
    between(dom, "<tr class=", "</tr>")
        .into_iter()
        .find(|row| row.contains(&link))
}

fn decision(e: &Value) -> &str {
    e["decision"].as_str().unwrap_or("?")
}

fn group_route(e: &Value) -> Option<&str> {
    e["group"]["route"].as_str()
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("daemon_web_page");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots `url`, decodes it and checks that it shows something and the circuit_break
/// colour; returns how many pixels have it.
fn look_at(url: &str, name: &str, height: u32) -> usize {
    let png = out_dir().join(format!("{name}.png"));
    screenshot(url, &png, 1400, height);
    let (pixels, width, h) = decode(&png);
    assert_eq!((width, h), (1400, height), "{name}: screenshot size");
    let first = pixels[0];
    assert!(
        pixels.iter().any(|p| *p != first),
        "{name}: blank screenshot"
    );
    let ink = ink_share(&pixels);
    assert!(ink > 0.02, "{name}: only {:.2}% drawn", ink * 100.0);
    let red = count_near(&pixels, hex(CIRCUIT_BREAK));
    eprintln!(
        "{name}: {} ({:.1}% ink, {red} circuit_break pixels)",
        png.display(),
        ink * 100.0
    );
    red
}

#[test]
fn the_page_shows_every_slo_and_the_incident_in_a_browser() {
    let started = Instant::now();
    let routes = RouteExporter::start(&[PAY, SEARCH], &["timeout", "db"]);
    routes.set(PAY, 100.0, &[]);
    routes.set(SEARCH, 100.0, &[("db", 0.002)]);
    let app = Exporter::start();
    app.set(200.0, 0.0, 0.0);
    let prom = Prometheus::start_scraping_with_flags(
        &[routes.target(), app.target()],
        Duration::from_secs(1),
        &[EXEMPLAR_STORAGE],
    );
    let (seen, ok) = prom.wait_for_value(
        r#"min(count_over_time({job="app",__name__=~"requests_total|app_requests_total"}[1m]))"#,
        Duration::from_secs(30),
        |v| v.is_some_and(|n| n >= 3.0),
    );
    assert!(
        ok,
        "Prometheus scrapes both applications ({seen:?})\n{}",
        prom.log_tail(30)
    );

    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    std::fs::write(specs.join("shop.yaml"), SHOP).unwrap();
    std::fs::write(specs.join("api.yaml"), API).unwrap();
    let hook = WebhookReceiver::failing_first(1);
    let state = dir.path().join("state");
    let (specs_arg, state_arg, prom_url, hook_url, am_url) = (
        specs.display().to_string(),
        state.display().to_string(),
        prom.url(),
        hook.url(),
        closed_port_url(),
    );
    let d = Daemon::start(&[
        &specs_arg,
        "--prometheus",
        &prom_url,
        "--interval",
        "1s",
        "--ui-retention",
        "10m",
        "--state-dir",
        &state_arg,
        "--webhook",
        &hook_url,
        "--webhook-backoff",
        "200ms",
        "--alertmanager",
        &am_url,
        "--sink-timeout",
        "1s",
    ]);

    let mut last = Vec::new();
    let three_ok = poll_until(Duration::from_secs(30), Duration::from_millis(200), || {
        last = d.decisions();
        last.len() == 3 && last.iter().all(|e| decision(e) == "ok")
    });
    assert!(
        three_ok,
        "three SLO instances, all ok: {}\n{}",
        serde_json::to_string_pretty(&last).unwrap(),
        d.log_tail(30)
    );
    // Some healthy history before the incident, so the chart shows a before and an after.
    std::thread::sleep(Duration::from_secs(5));
    routes.set(PAY, 100.0, &[("timeout", 0.3), ("db", 0.1)]);
    eprintln!("incident on /pay at {:.1?}", started.elapsed());
    let broke = poll_until(Duration::from_secs(45), Duration::from_millis(200), || {
        last = d.decisions();
        last.iter().any(|e| {
            group_route(e) == Some(PAY)
                && decision(e) == "circuit_break"
                && e["error"]["exemplars"].is_array()
                && e["error"]["contributors"].is_object()
        })
    });
    assert!(
        broke,
        "/pay reaches circuit_break with contributors and exemplars: {}\n{}",
        serde_json::to_string_pretty(&last).unwrap(),
        d.log_tail(30)
    );
    eprintln!("/pay circuit_break at {:.1?}", started.elapsed());
    // A few cycles in the new state, and the webhook's retry delivered.
    let (_, delivered) = hook.wait_for(Duration::from_secs(10), |p| {
        p.iter()
            .any(|p| p.accepted() && p.body["decision"] == "circuit_break")
    });
    assert!(
        delivered,
        "the webhook gets the change on its retry: {:?}",
        hook.posts()
    );
    std::thread::sleep(Duration::from_secs(3));
    let decisions = d.decisions();

    // The list, as Chromium builds it.
    let list = dump_dom(&format!("{}/", d.url()));
    let mut positions = Vec::new();
    for e in &decisions {
        let href = page_of(e);
        let row = row_with(&list, &href)
            .unwrap_or_else(|| panic!("the list links {href} ({}); list:\n{list}", e["slo"]));
        let want = decision(e);
        assert!(
            row.starts_with(&format!(r#""{want}" data-decision="{want}""#))
                && row.contains(&format!("</i>{want}</span>")),
            "the row of {href} says {want}: {row}"
        );
        positions.push((list.find(&attr(&href)).unwrap(), want.to_string()));
    }
    positions.sort();
    assert_eq!(
        positions[0].1, "circuit_break",
        "worst first: {positions:?}"
    );
    assert!(
        list.contains(&attr(API_SERVICE)) && !list.contains(API_SERVICE),
        "the service name is escaped"
    );
    assert!(!list.to_ascii_lowercase().contains("<script"), "no script");
    // Filters are query parameters (the form's GET), so they work without JavaScript.
    let get = |path: &str| {
        ureq::get(&format!("{}{path}", d.url()))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .into_string()
            .unwrap()
    };
    for (query, shown) in [
        ("?decision=circuit_break", vec![PAY]),
        ("?service=shop&decision=ok", vec![SEARCH]),
        ("?label=team%3Dpayments", vec![PAY, SEARCH]),
        ("?label=route%3D%2Fsearch%3Fq%3Da%26b", vec![SEARCH]),
    ] {
        let html = get(&format!("/{query}"));
        for e in &decisions {
            let listed = html.contains(&format!(r#"href="{}""#, attr(&page_of(e))));
            let wanted = group_route(e).is_some_and(|r| shown.contains(&r));
            assert_eq!(listed, wanted, "{query}: {} listed: {listed}", page_of(e));
        }
    }
    assert!(
        !list.contains("http://") && !list.contains("https://"),
        "no external resource in the list"
    );

    // The page of the burning group, reached through the list's link.
    let pay = decisions
        .iter()
        .find(|e| group_route(e) == Some(PAY))
        .unwrap();
    let page = dump_dom(&format!("{}{}", d.url(), page_of(pay)));
    let paths = burn_paths(&page);
    let windows: Vec<&str> = pay["error"]["burn"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        page.matches(r#"<svg class="chart""#).count(),
        windows.len(),
        "a chart per window of the SLO's only dimension"
    );
    for w in &windows {
        let points = paths.iter().find(|(pw, _)| pw == w).map_or(0, |(_, n)| *n);
        assert!(
            points >= 10,
            "the {w} line draws the evaluations: {points} points ({paths:?})"
        );
    }
    assert!(
        page.contains(r#"class="band circuit_break""#) && page.contains(r#"class="band ok""#),
        "the decision bands show ok, then circuit_break"
    );
    let changes = between(&page, r#"<tr class="change "#, "</tr>");
    assert!(
        changes.iter().any(|c| c.starts_with("circuit_break")),
        "a change row to circuit_break: {changes:?}"
    );
    let contributors = between(&page, r#"<table class="summary contributors">"#, "</table>");
    assert!(
        contributors
            .first()
            .is_some_and(|t| t.contains("error_class=timeout") && t.contains("75")),
        "contributors: timeout holds about 75%: {contributors:?}"
    );
    let exemplars = between(&page, r#"<ul class="exemplars">"#, "</ul>");
    let own = routes.trace_ids(PAY);
    assert!(
        exemplars
            .first()
            .is_some_and(|x| own.iter().any(|id| x.contains(id.as_str()))),
        "exemplars name /pay's trace IDs: {exemplars:?}"
    );
    let deliveries = between(&page, r#"<tr class="delivery "#, "</tr>");
    assert!(
        deliveries
            .iter()
            .any(|r| r.starts_with("failed") && r.contains("webhook") && r.contains("HTTP 500")),
        "the webhook's failed first attempt: {deliveries:?}"
    );
    assert!(
        deliveries
            .iter()
            .any(|r| r.starts_with("delivered") && r.contains("webhook")),
        "the webhook's delivery: {deliveries:?}"
    );
    assert!(
        deliveries
            .iter()
            .any(|r| r.starts_with("failed") && r.contains("alertmanager")),
        "the unreachable Alertmanager: {deliveries:?}"
    );
    // Each window's graph link: Prometheus answers its expression with /pay's series only.
    let graph_prefix = format!(r#"href="{}/graph?g0.expr="#, prom.url());
    let links = between(&page, &graph_prefix, "&amp;");
    assert_eq!(links.len(), windows.len(), "a graph link per window");
    for link in links {
        let expr = percent_decode(link);
        let answer = prom.query(&expr, Prometheus::now());
        assert!(
            answer.len() == 1 && answer[0].0.get("route").map(String::as_str) == Some(PAY),
            "the graph expression yields /pay's burn: {expr}\n{answer:?}"
        );
    }
    assert!(page.contains("Shop routes &lt;b&gt;escaped&lt;/b&gt; &amp; checked"));

    // The other SLO: two dimensions, two charts; its page address is percent-encoded.
    let api = decisions
        .iter()
        .find(|e| e["service"] == API_SERVICE)
        .unwrap();
    let api_page = dump_dom(&format!("{}{}", d.url(), page_of(api)));
    let api_windows: usize = ["error", "latency"]
        .iter()
        .map(|dim| api[*dim]["burn"].as_object().map_or(0, |b| b.len()))
        .sum();
    assert!(
        api_windows > 2,
        "both dimensions report their windows: {api}"
    );
    assert_eq!(
        api_page.matches(r#"<svg class="chart""#).count(),
        api_windows,
        "a chart per window of each dimension"
    );
    assert!(
        api_page.contains(&attr(API_SERVICE)) && api_page.contains(&attr(API_SLO)),
        "the SLO page names its service and SLO, escaped"
    );

    // Look at them.
    let red = look_at(&format!("{}/", d.url()), "list", 900);
    assert!(
        red > 100,
        "the list shows circuit_break in its colour ({red} pixels)"
    );
    let red = look_at(&format!("{}{}", d.url(), page_of(pay)), "slo-page", 1400);
    assert!(
        red > 300,
        "the SLO page shows circuit_break bands ({red} pixels)"
    );
    eprintln!("took {:.1?}", started.elapsed());
}

/// Decodes a percent-encoded query value (`+` is a space).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
                continue;
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn the_page_is_behind_the_listeners_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("api.yaml");
    std::fs::write(&spec, API).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "basic_auth_users:\n  viewer: {}\n",
            common::tls::bcrypt_hash("s3cret")
        ),
    )
    .unwrap();
    let (spec_arg, web_arg, backend) = (
        spec.display().to_string(),
        web.display().to_string(),
        closed_port_url(),
    );
    let d = Daemon::start(&[
        &spec_arg,
        "--prometheus",
        &backend,
        "--web.config.file",
        &web_arg,
    ]);
    for path in ["/", "/slo/x/y", "/metrics"] {
        let status = match ureq::get(&format!("{}{path}", d.url())).call() {
            Err(ureq::Error::Status(code, _)) => code,
            Ok(r) => r.status(),
            Err(e) => panic!("GET {path}: {e}"),
        };
        assert_eq!(status, 401, "{path} without credentials");
    }
    let auth = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "viewer:s3cret")
    );
    let r = ureq::get(&format!("{}/", d.url()))
        .set("Authorization", &auth)
        .call()
        .expect("the list with credentials");
    assert_eq!(r.status(), 200);
    assert!(r.content_type().starts_with("text/html"));
    assert!(r.into_string().unwrap().contains("<h1>burnrate</h1>"));
}

#[test]
fn an_slo_pages_history_survives_a_restart() {
    let app = Exporter::start();
    // Errors from the start: burn 3 ≥ 2, so the first decision is a change to warn.
    app.set(200.0, 0.03, 0.0);
    let prom = Prometheus::start_scraping(&[app.target()], Duration::from_secs(1));
    let (seen, ok) = prom.wait_for_value(
        r#"count_over_time(app_requests_total{job="app"}[1m])"#,
        Duration::from_secs(30),
        |v| v.is_some_and(|n| n >= 3.0),
    );
    assert!(ok, "Prometheus scrapes the application ({seen:?})");
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("api.yaml");
    std::fs::write(&spec, API).unwrap();
    let state = dir.path().join("state");
    let args: Vec<String> = [
        spec.display().to_string(),
        "--prometheus".into(),
        prom.url(),
        "--interval".into(),
        "1s".into(),
        "--ui-retention".into(),
        "10m".into(),
        "--state-dir".into(),
        state.display().to_string(),
    ]
    .into();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let page = format!("/slo/{}/{}", encode(API_SERVICE), encode(API_SLO));
    let get = |d: &Daemon| {
        ureq::get(&format!("{}{page}", d.url()))
            .call()
            .map(|r| r.into_string().unwrap())
            .unwrap_or_default()
    };
    let mut first = Daemon::start(&refs);
    let mut html = String::new();
    let filled = poll_until(Duration::from_secs(30), Duration::from_millis(250), || {
        html = get(&first);
        burn_paths(&html).iter().all(|(_, n)| *n >= 6)
            && html.contains(r#"<tr class="change warn">"#)
    });
    assert!(
        filled,
        "six evaluations and a change before the restart:\n{html}"
    );
    let before: Vec<(String, usize)> = burn_paths(&html);
    let stopped_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (status, _) = first.terminate();
    assert!(status.success());
    assert!(
        state.join("ui-history.json").is_file(),
        "the history is saved at exit"
    );

    let second = Daemon::start(&refs);
    let html = get(&second);
    let from: Vec<i64> = between(&html, r#"data-from=""#, "\"")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(
        !from.is_empty() && from.iter().all(|f| *f < stopped_ms - 5000),
        "the charts reach back before the restart ({from:?}, stopped at {stopped_ms})"
    );
    for (window, n) in &before {
        let after = burn_paths(&html)
            .into_iter()
            .find(|(w, _)| w == window)
            .map_or(0, |(_, n)| n);
        assert!(
            after >= *n,
            "{window}: {after} points after the restart, {n} before"
        );
    }
    assert!(
        html.contains(r#"<tr class="change warn">"#),
        "the change from before the restart is listed"
    );
}
