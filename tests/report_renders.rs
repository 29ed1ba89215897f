//! `burnrate backtest --report`: the HTML page is well formed, escapes what users wrote,
//! stays small for a 30-day replay, and renders in a real browser (headless Chromium) to
//! something an SRE can read: lines, thresholds, incidents and decision bands.
//!
//! Chromium is required (`common::chromium`): without it this test fails.

mod common;

use common::browser::{count_near, decode, hex, ink_share, screenshot};
use std::path::Path;

use burnrate::backtest::Summary;
use burnrate::backtest::incidents::{Incident, score};
use burnrate::backtest::report::{Section, SloChart, render_page, render_slo_section};
use burnrate::backtest::timeline::Timeline;
use burnrate::decision::Decision;
use burnrate::engine::{DimensionReport, Evaluation, WindowMap};
use burnrate::spec::{Dimension, ServiceSpec, SloSpec, load_paths};
use burnrate::time::format_time;

const MIN: i64 = 60_000;
/// 2026-11-16T00:00:00Z
const FROM_MS: i64 = 1_794_787_200_000;

/// A spec with the default ladder (5 windows per dimension) and text that must be escaped.
const CHECKOUT: &str = r#"apiVersion: burnrate/v1
service: "checkout & co"
labels: {team: payments}
slos:
  - name: requests
    description: "Checkout API <script>alert('owned')</script> availability & latency"
    period: 30d
    error:
      objective: 99.9
      bad:   http_requests_total{job="checkout",code=~"5.."}
      total: http_requests_total{job="checkout"}
    latency:
      histogram: http_request_duration_seconds{job="checkout"}
      quantile: 0.99
      threshold: 300ms
"#;

fn load(path: &Path) -> ServiceSpec {
    let report = load_paths(&[path.to_path_buf()]);
    assert!(!report.has_errors(), "{:?}", report.diagnostics);
    report.specs.into_iter().next().expect("one spec")
}

/// Deterministic noise in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A bad-event burst: minutes after `FROM_MS`, and the instantaneous burn during it.
#[derive(Clone, Copy)]
struct Burst {
    start_min: i64,
    end_min: i64,
    burn: f64,
}

/// Per-minute instantaneous burn of one dimension (`None`: no samples), with enough history
/// before the range for the longest window; window burns are averages over it.
struct Signal {
    before: i64,
    sum: Vec<f64>,
    count: Vec<f64>,
}

impl Signal {
    fn new(
        seed: u64,
        minutes: i64,
        before: i64,
        bursts: &[Burst],
        gap: Option<(i64, i64)>,
    ) -> Signal {
        let mut rng = Lcg(seed);
        let (mut sum, mut count) = (vec![0.0], vec![0.0]);
        for m in -before..minutes {
            let r = rng.next();
            let mut v = 0.05 + 0.6 * r * r * r;
            if rng.next() < 0.002 {
                v = 8.0 + 20.0 * rng.next(); // a one-minute spike
            }
            for b in bursts {
                if (b.start_min..b.end_min).contains(&m) {
                    v = b.burn * (0.8 + 0.4 * rng.next());
                }
            }
            let missing = gap.is_some_and(|(s, e)| (s..e).contains(&m));
            let (s, c) = if missing { (0.0, 0.0) } else { (v, 1.0) };
            sum.push(sum.last().unwrap() + s);
            count.push(count.last().unwrap() + c);
        }
        Signal { before, sum, count }
    }

    fn burn(&self, step: i64, window_min: i64) -> Option<f64> {
        let hi = (self.before + step + 1) as usize;
        let lo = hi.saturating_sub(window_min.max(1) as usize);
        let c = self.count[hi] - self.count[lo];
        (c > 0.0).then(|| (self.sum[hi] - self.sum[lo]) / c)
    }
}

fn dimension(slo: &SloSpec, dim: Dimension, signal: &Signal, step: i64) -> DimensionReport {
    let windows = slo.windows(dim);
    let burn: WindowMap<Option<f64>> = windows
        .iter()
        .map(|w| (w.as_str().to_string(), signal.burn(step, w.millis() / MIN)))
        .collect();
    let reaches = |w: &burnrate::duration::PromDuration, threshold: f64| {
        burn.value(w.as_str()).is_some_and(|v| v >= threshold)
    };
    let decision = if burn.iter().all(|(_, v)| v.is_none()) {
        Decision::NoData
    } else {
        Decision::combine(
            slo.matrix(dim)
                .unwrap_or(&[])
                .iter()
                .filter(|r| {
                    reaches(&r.long, r.burn) && r.short.as_ref().is_none_or(|s| reaches(s, r.burn))
                })
                .map(|r| r.decision)
                .chain([Decision::Ok]),
        )
    };
    DimensionReport {
        decision,
        objective: slo.objective(dim).unwrap(),
        threshold_seconds: None,
        quantile: None,
        quantile_seconds: None,
        events: burn
            .iter()
            .map(|(w, _)| (w.to_string(), Some(1000.0)))
            .collect(),
        burn,
        no_traffic: vec![],
        fired: vec![],
        pending: vec![],
        held: vec![],
        suppressed: vec![],
        no_data_for: None,
        budget_remaining: Some(0.62),
        budget_since: None,
        contributors: None,
        exemplars: vec![],
    }
}

/// One SLO replayed at 1m steps, with its summary as `backtest` prints it.
struct Replay {
    evaluations: Vec<Evaluation>,
    summary: Summary,
}

fn replay(
    service: &ServiceSpec,
    slo: &SloSpec,
    minutes: i64,
    error: &[Burst],
    latency: &[Burst],
    gap: Option<(i64, i64)>,
    incidents: &[Incident],
) -> Replay {
    let before = Dimension::ALL
        .iter()
        .flat_map(|d| slo.windows(*d))
        .map(|w| w.millis() / MIN)
        .max()
        .unwrap_or(60);
    let err = Signal::new(7, minutes, before, error, gap);
    let lat = Signal::new(11, minutes, before, latency, gap);
    let mut timeline = Timeline::new(FROM_MS, MIN);
    let evaluations: Vec<Evaluation> = (0..minutes)
        .map(|i| {
            let at_ms = FROM_MS + i * MIN;
            let error = slo
                .error
                .as_ref()
                .map(|_| dimension(slo, Dimension::Error, &err, i));
            let latency = slo
                .latency
                .as_ref()
                .map(|_| dimension(slo, Dimension::Latency, &lat, i));
            let decision = Decision::combine(error.iter().chain(&latency).map(|d| d.decision));
            let eval = Evaluation {
                time: format_time(at_ms),
                service: service.service.clone(),
                slo: slo.name.clone(),
                group: Default::default(),
                labels: service.labels.clone(),
                decision,
                maintenance: None,
                previous: None,
                error,
                latency,
                errors: vec![],
                at_ms,
            };
            timeline.push(&eval);
            eval
        })
        .collect();
    let summary = Summary {
        summary: true,
        service: service.service.clone(),
        slo: slo.name.clone(),
        group: Default::default(),
        labels: service.labels.clone(),
        from: format_time(FROM_MS),
        to: format_time(FROM_MS + (minutes - 1) * MIN),
        step: "1m".into(),
        evaluations: minutes as usize,
        rates: "history file (local PromQL evaluator)".into(),
        backend_flavor: Some("prometheus-2"),
        decision: evaluations.last().unwrap().decision,
        timeline: timeline.summary(10 * MIN, &[]),
        scores: (!incidents.is_empty()).then(|| score(&timeline.intervals(), incidents, &[])),
    };
    Replay {
        evaluations,
        summary,
    }
}

fn incident(service: &ServiceSpec, slo: &SloSpec, start_min: i64, end_min: i64) -> Incident {
    Incident {
        service: service.service.clone(),
        slo: slo.name.clone(),
        start_ms: FROM_MS + start_min * MIN,
        end_ms: FROM_MS + end_min * MIN,
    }
}

fn section(service: &ServiceSpec, replay: &Replay, incidents: &[Incident]) -> Section {
    render_slo_section(&SloChart {
        service,
        slo: &service.slos[0],
        evaluations: &replay.evaluations,
        incidents,
        summary: &replay.summary,
    })
}

/// The text between `open` and the next `close` after it, for each occurrence.
fn between<'a>(text: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        let end = after.find(close).expect("closed");
        out.push(&after[..end]);
        rest = &after[end..];
    }
    out
}

/// Coordinate pairs of every `<path class="burn">` (`M` starts a sub-path).
fn path_points(html: &str) -> Vec<(String, usize, usize)> {
    between(html, "<path class=\"burn\" data-window=\"", "</path>")
        .into_iter()
        .map(|p| {
            let window = p[..p.find('"').unwrap()].to_string();
            let d = between(p, " d=\"", "\"")[0];
            let numbers = d.split(['M', ' ', 'h']).filter(|s| !s.is_empty()).count();
            (window, numbers / 2, d.matches('M').count())
        })
        .collect()
}

#[test]
fn report_renders_in_a_browser_and_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("checkout.yaml");
    std::fs::write(&spec_path, CHECKOUT).unwrap();
    let checkout = load(&spec_path);
    let map_update = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("slo-specs/map-update.yaml"));
    let requests = &checkout.slos[0];

    // Two days at 1m: an error incident that goes to circuit_break, a short latency burst,
    // a false alarm, and an hour without data (a gap in every line, not a drop to 0).
    let minutes = 2 * 24 * 60;
    let incidents = vec![incident(&checkout, requests, 14 * 60, 16 * 60)];
    let checkout_replay = replay(
        &checkout,
        requests,
        minutes,
        &[
            Burst {
                start_min: 14 * 60 + 10,
                end_min: 15 * 60 + 40,
                burn: 40.0,
            },
            Burst {
                start_min: 30 * 60,
                end_min: 30 * 60 + 25,
                burn: 25.0,
            },
        ],
        &[Burst {
            start_min: 14 * 60 + 30,
            end_min: 15 * 60 + 20,
            burn: 9.0,
        }],
        Some((38 * 60, 39 * 60)),
        &incidents,
    );
    let map_replay = replay(
        &map_update,
        &map_update.slos[0],
        minutes,
        &[Burst {
            start_min: 20 * 60,
            end_min: 21 * 60,
            burn: 1.2,
        }],
        &[Burst {
            start_min: 9 * 60,
            end_min: 11 * 60,
            burn: 0.5,
        }],
        None,
        &[],
    );
    let first_section = section(&checkout, &checkout_replay, &incidents);
    let second_section = section(&map_update, &map_replay, &[]);
    let (first, second) = (first_section.html.clone(), second_section.html.clone());
    let page = render_page(
        "burnrate backtest <2026-11-16>",
        "2 SLOs replayed from 2026-11-16T00:00:00Z to 2026-11-17T23:59:00Z, step 1m",
        &[first_section, second_section],
    );

    // Structure: one chart per dimension, legend entries, thresholds, incidents, escaping.
    assert_eq!(first.matches("<svg").count(), 2, "one chart per dimension");
    assert_eq!(second.matches("<svg").count(), 2);
    for legend in between(&first, "<g class=\"legend\">", "</svg>") {
        for w in ["5m", "30m", "1h", "6h", "3d"] {
            assert!(
                legend.contains(&format!(">{w}</text>")),
                "legend lacks window {w}: {legend}"
            );
        }
        assert!(legend.contains("known incident"));
    }
    for label in [
        "circuit_break ≥ 14.4 (1h/5m)",
        "warn ≥ 6 (6h/30m)",
        "warn ≥ 1 (3d/6h)",
        "scale ≥ 6 (6h/30m)",
    ] {
        assert!(first.contains(label), "missing threshold label {label:?}");
    }
    for label in [
        "scale ≥ 0.3 (1h)",
        "circuit_break ≥ 1 (1h)",
        "warn ≥ 0.5 (1h)",
        "circuit_break ≥ 0.8 (1h)",
    ] {
        assert!(second.contains(label), "missing threshold label {label:?}");
    }
    assert_eq!(
        first.matches("<rect class=\"incident\"").count(),
        2,
        "the incident on both charts"
    );
    assert!(!second.contains("class=\"incident\""));
    assert!(page.contains("&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;"));
    assert!(page.contains("checkout &amp; co"));
    assert!(page.contains("&lt;2026-11-16&gt;"));
    assert!(
        !page.to_ascii_lowercase().contains("<script"),
        "no script at all in the page"
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external resource"
    );
    assert!(first.contains("circuit_break") && first.contains("band ok"));
    // The hour without data breaks the lines of the windows it covers whole (5m, 30m, 1h);
    // the map-update lines are whole.
    for (window, points, subpaths) in path_points(&first) {
        if ["5m", "30m", "1h"].contains(&window.as_str()) {
            assert!(subpaths >= 2, "{window}: the data gap must break the line");
        }
        assert!(points <= 1500, "{window}: {points} points");
    }
    for (window, _, subpaths) in path_points(&second) {
        assert_eq!(subpaths, 1, "{window}");
    }

    // Size: one SLO replayed over 30 days at 1m (43,200 steps).
    let month = 30 * 24 * 60;
    let month_incidents = vec![
        incident(&checkout, requests, 10 * 1440 - 20, 10 * 1440 + 120),
        incident(&checkout, requests, 20 * 1440, 20 * 1440 + 90),
    ];
    let long_replay = replay(
        &checkout,
        requests,
        month,
        &[Burst {
            start_min: 10 * 1440,
            end_min: 10 * 1440 + 90,
            burn: 40.0,
        }],
        &[Burst {
            start_min: 20 * 1440,
            end_min: 20 * 1440 + 60,
            burn: 20.0,
        }],
        Some((25 * 1440, 25 * 1440 + 120)),
        &month_incidents,
    );
    let big_section = section(&checkout, &long_replay, &month_incidents);
    let big = big_section.html.clone();
    for (window, points, _) in path_points(&big) {
        assert!(
            points <= 1500,
            "{window}: {points} points for {month} steps"
        );
    }
    // The 90-minute burst on day 10 still reaches its peak in the downsampled 5m line.
    assert!(big.contains("band circuit_break"));
    println!(
        "one SLO, {month} steps, 2 dimensions x 5 windows: {} bytes; 100 such SLOs: ~{:.1} MB",
        big.len(),
        big.len() as f64 * 100.0 / 1e6
    );
    assert!(big.len() < 200_000, "section of {} bytes", big.len());

    // Render it in a real browser and look at the pixels.
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_renders");
    std::fs::create_dir_all(&out_dir).unwrap();
    let html_path = out_dir.join("report.html");
    let png_path = out_dir.join("report.png");
    std::fs::write(&html_path, &page).unwrap();
    std::fs::write(
        out_dir.join("report-30d.html"),
        render_page(
            "burnrate backtest (30 days)",
            "one SLO at 1m",
            &[big_section],
        ),
    )
    .unwrap();
    screenshot(
        &format!("file://{}", html_path.display()),
        &png_path,
        1400,
        1800,
    );
    println!("screenshot: {}", png_path.display());
    let (pixels, width, height) = decode(&png_path);
    assert_eq!((width, height), (1400, 1800), "screenshot size");
    let first_pixel = pixels[0];
    assert!(pixels.iter().any(|p| *p != first_pixel), "blank screenshot");
    let share = ink_share(&pixels);
    assert!(
        share > 0.03,
        "only {:.2}% of the screenshot is drawn",
        share * 100.0
    );
    let red = count_near(
        &pixels,
        hex(burnrate::backtest::report::decision_fill(
            Decision::CircuitBreak,
        )),
    );
    let green = count_near(
        &pixels,
        hex(burnrate::backtest::report::decision_fill(Decision::Ok)),
    );
    assert!(red > 300, "circuit_break bands: {red} red pixels");
    assert!(green > 5000, "ok bands: {green} green pixels");
}
