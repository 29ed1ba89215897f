//! `burnrate rules --promtool-tests FILE`: unit tests for the generated rules, run with
//! `promtool test rules FILE`.
//!
//! For every SLO whose SLIs are selectors (raw `bad_query` PromQL cannot be synthesized), a
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

use super::expr::{Good, bucket_selector, number};
use super::{ALERT_NAME, BUDGET_METRIC, BURN_RATE_METRIC, Options, latency_good, levels};
use crate::duration::{PromDuration, format_millis};
use crate::spec::selector::{MatchOp, Matcher, Selector};
use crate::spec::{Dimension, ErrorEvents, ServiceSpec, SloSpec};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Events per input interval of the synthetic total (more when `min_events` needs it).
const EVENTS_PER_STEP: f64 = 1_000_000.0;

/// One synthetic series: a counter growing by `inc` every input interval from 0.
#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: String,
    labels: BTreeMap<String, String>,
    inc: f64,
}

impl Series {
    fn promql(&self) -> String {
        Selector {
            metric: Some(self.name.clone()),
            matchers: self
                .labels
                .iter()
                .map(|(k, v)| Matcher::new(k.clone(), MatchOp::Equal, v.clone()))
                .collect(),
        }
        .to_promql()
    }

    fn label(&self, name: &str) -> &str {
        if name == "__name__" {
            return &self.name;
        }
        self.labels.get(name).map(String::as_str).unwrap_or("")
    }
}

fn anchored(re: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{re})$")).ok()
}

fn holds(m: &Matcher, value: &str) -> bool {
    match m.op {
        MatchOp::Equal => value == m.value,
        MatchOp::NotEqual => value != m.value,
        MatchOp::RegexMatch => anchored(&m.value).is_some_and(|r| r.is_match(value)),
        MatchOp::RegexNoMatch => anchored(&m.value).is_some_and(|r| !r.is_match(value)),
    }
}

fn selects(sel: &Selector, s: &Series) -> bool {
    sel.metric.as_ref().is_none_or(|m| *m == s.name)
        && sel.matchers.iter().all(|m| holds(m, s.label(&m.label)))
}

/// `sum(...)` of the increments of the series `sel` selects; `None` when it selects none.
fn sum(world: &[Series], sel: &Selector) -> Option<f64> {
    world
        .iter()
        .filter(|s| selects(sel, s))
        .map(|s| s.inc)
        .reduce(|a, b| a + b)
}

/// The increments of the series `sel` selects that are not 0.
fn moving(world: &[Series], sel: &Selector) -> Vec<f64> {
    world
        .iter()
        .filter(|s| selects(sel, s) && s.inc != 0.0)
        .map(|s| s.inc)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Label values satisfying matchers
// ---------------------------------------------------------------------------------------

/// Strings a regex matches, one per top-level alternative, built from its literal parts
/// (`5..` -> `5xx`, `set|cas` -> `set`, `cas`); every candidate is checked afterwards.
fn regex_examples(re: &str) -> Vec<String> {
    let chars: Vec<char> = re.chars().collect();
    split_alternatives(&chars)
        .into_iter()
        .filter_map(render)
        .collect()
}

fn split_alternatives(chars: &[char]) -> Vec<&[char]> {
    let mut out = Vec::new();
    let (mut depth, mut start, mut i, mut in_class) = (0usize, 0, 0, false);
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth = depth.saturating_sub(1),
            '|' if !in_class && depth == 0 => {
                out.push(&chars[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&chars[start.min(chars.len())..]);
    out
}

/// Index just past the group or class opened at `open`.
fn closing(chars: &[char], open: usize) -> Option<usize> {
    let (mut depth, mut i, mut in_class) = (0usize, open, false);
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => {
                in_class = true;
                // `[]...]` and `[^]...]`: a leading `]` is a literal.
                if chars.get(i + 1) == Some(&'^') {
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    i += 1;
                }
                if chars[open] == '[' {
                    depth += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                if chars[open] == '[' {
                    return Some(i + 1);
                }
            }
            '(' if !in_class => depth += 1,
            ')' if !in_class => {
                depth = depth.saturating_sub(1);
                if depth == 0 && chars[open] == '(' {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn render(chars: &[char]) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let (atom, next) = match chars[i] {
            '(' => {
                let end = closing(chars, i)?;
                let mut inner = &chars[i + 1..end - 1];
                if inner.first() == Some(&'?') {
                    // (?:...), (?i:...), (?P<name>...), (?i)
                    let colon = inner.iter().position(|c| *c == ':' || *c == '>');
                    inner = match colon {
                        Some(p) => &inner[p + 1..],
                        None => &[],
                    };
                }
                let first = split_alternatives(inner).into_iter().next().unwrap_or(&[]);
                (render(first)?, end)
            }
            '[' => {
                let end = closing(chars, i)?;
                let class: String = chars[i..end].iter().collect();
                let re = Regex::new(&format!("^{class}$")).ok()?;
                let literal = chars[i + 1..end - 1].iter().copied().filter(|c| *c != '^');
                let pick = literal
                    .chain("ax0_5-1.A".chars())
                    .find(|c| re.is_match(&c.to_string()))?;
                (pick.to_string(), end)
            }
            '\\' => {
                let c = *chars.get(i + 1)?;
                let atom = match c {
                    'd' => '0',
                    'w' | 'D' | 'S' => 'a',
                    's' => ' ',
                    'W' => '-',
                    c if c.is_ascii_alphanumeric() => return None,
                    c => c,
                };
                (atom.to_string(), i + 2)
            }
            '.' => ("x".to_string(), i + 1),
            '^' | '$' => (String::new(), i + 1),
            c => (c.to_string(), i + 1),
        };
        let (times, after) = quantifier(chars, next)?;
        out.push_str(&atom.repeat(times));
        i = after;
    }
    Some(out)
}

/// The minimum repetition of the quantifier at `i` (1 without one) and the index after it.
fn quantifier(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let (times, mut next) = match chars.get(i) {
        Some('*') | Some('?') => (0, i + 1),
        Some('+') => (1, i + 1),
        Some('{') => {
            let end = chars[i..].iter().position(|c| *c == '}')? + i;
            let body: String = chars[i + 1..end].iter().collect();
            let min = body.split(',').next()?.trim().parse().ok()?;
            (min, end + 1)
        }
        _ => return Some((1, i)),
    };
    if chars.get(next) == Some(&'?') {
        next += 1;
    }
    Some((times, next))
}

const VALUE_POOL: [&str; 10] = [
    "",
    "burnrate",
    "x",
    "0",
    "1",
    "200",
    "500",
    "ok",
    "error",
    "unit-test",
];

/// Label values satisfying every matcher (`""`: the label is absent), or `None`.
fn solve(matchers: &[Matcher]) -> Option<BTreeMap<String, String>> {
    let names: BTreeSet<&str> = matchers.iter().map(|m| m.label.as_str()).collect();
    let mut out = BTreeMap::new();
    for name in names {
        let on_label: Vec<&Matcher> = matchers.iter().filter(|m| m.label == name).collect();
        let mut candidates: Vec<String> = Vec::new();
        for m in &on_label {
            match m.op {
                MatchOp::Equal => candidates.push(m.value.clone()),
                MatchOp::RegexMatch => candidates.extend(regex_examples(&m.value)),
                MatchOp::NotEqual | MatchOp::RegexNoMatch => {}
            }
        }
        candidates.extend(VALUE_POOL.iter().map(|s| s.to_string()));
        candidates.extend(on_label.iter().map(|m| format!("{}-unit-test", m.value)));
        let value = candidates
            .into_iter()
            .filter(|v| name != "__name__" || !v.is_empty())
            .find(|v| on_label.iter().all(|m| holds(m, v)))?;
        if !value.is_empty() {
            out.insert(name.to_string(), value);
        }
    }
    Some(out)
}

fn negate(m: &Matcher) -> Matcher {
    let op = match m.op {
        MatchOp::Equal => MatchOp::NotEqual,
        MatchOp::NotEqual => MatchOp::Equal,
        MatchOp::RegexMatch => MatchOp::RegexNoMatch,
        MatchOp::RegexNoMatch => MatchOp::RegexMatch,
    };
    Matcher::new(m.label.clone(), op, m.value.clone())
}

/// All of a selector's conditions as matchers (the metric name as `__name__="..."`).
fn conditions(sel: &Selector) -> Vec<Matcher> {
    sel.metric
        .iter()
        .map(|m| Matcher::new("__name__", MatchOp::Equal, m.clone()))
        .chain(sel.matchers.iter().cloned())
        .collect()
}

/// A series satisfying `must` and, if given, failing at least one condition of `must_not`.
fn series_for(must: &[&Selector], must_not: Option<&Selector>, inc: f64) -> Option<Series> {
    let base: Vec<Matcher> = must.iter().flat_map(|s| conditions(s)).collect();
    let attempts: Vec<Vec<Matcher>> = match must_not {
        None => vec![base.clone()],
        Some(not) => conditions(not)
            .iter()
            .map(|m| base.iter().cloned().chain([negate(m)]).collect())
            .collect(),
    };
    attempts.into_iter().find_map(|matchers| {
        let mut labels = solve(&matchers)?;
        let name = labels.remove("__name__")?;
        if !name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return None;
        }
        let s = Series { name, labels, inc };
        (must.iter().all(|sel| selects(sel, &s)) && must_not.is_none_or(|n| !selects(n, &s)))
            .then_some(s)
    })
}

// ---------------------------------------------------------------------------------------
// Synthetic worlds
// ---------------------------------------------------------------------------------------

/// The series of an error SLI with bad ratio `ratio` out of `n` events per step. Without
/// bad events the bad series may be left out (`absent_bad`), as client libraries that create
/// an error counter at its first increment do.
fn error_world(
    bad: &Selector,
    total: &Selector,
    ratio: f64,
    n: f64,
    absent_bad: bool,
) -> Option<Vec<Series>> {
    let bad_events = (ratio * n).round();
    let good = series_for(&[total], Some(bad), 0.0);
    let bad_series = series_for(&[bad, total], None, bad_events)
        .or_else(|| series_for(&[bad], None, bad_events))?;
    let counted = selects(total, &bad_series);
    let mut world = vec![bad_series];
    match good {
        Some(mut g) => {
            g.inc = if counted { n - bad_events } else { n };
            if absent_bad && bad_events == 0.0 {
                world.clear();
            }
            world.push(g);
        }
        None if counted => {}
        None => return None,
    }
    Some(world)
}

/// The series of a latency SLI: buckets at `bounds` (spelled as Rust prints them) and
/// `+Inf`, and the count; `slow` of `n` requests per step are slower than every bound, the
/// others no slower than the smallest bound.
fn latency_world(histogram: &Selector, bounds: &[f64], slow: f64, n: f64) -> Option<Vec<Series>> {
    let bucket = histogram.with_suffix("_bucket")?;
    let count = histogram.with_suffix("_count")?;
    let base = series_for(&[&bucket], None, 0.0)?;
    let fast = n - slow;
    let mut world: Vec<Series> = bounds
        .iter()
        .map(|b| number(*b))
        .chain(["+Inf".to_string()])
        .map(|le| {
            let mut labels = base.labels.clone();
            labels.insert("le".into(), le.clone());
            Series {
                name: base.name.clone(),
                labels,
                inc: if le == "+Inf" { n } else { fast },
            }
        })
        .collect();
    let mut c = base.clone();
    c.name = count.metric.clone()?;
    c.inc = n;
    if !selects(&count, &c) {
        return None;
    }
    world.push(c);
    Some(world)
}

/// Bounds for the synthetic histogram of `slo`: the `--buckets` list, or three around the
/// threshold.
fn bounds_for(slo: &SloSpec, opts: &Options) -> Vec<f64> {
    let latency = slo.latency.as_ref().expect("latency SLI");
    let t = latency.threshold_seconds();
    let name = latency.histogram.metric.as_deref().unwrap_or_default();
    match opts.buckets.for_histogram(name) {
        Some(b) => b.to_vec(),
        None => vec![t / 2.0, t, t * 2.0],
    }
}

/// The bad ratio that puts a dimension's burn between its two smallest factors.
fn lowest_level_ratio(slo: &SloSpec, dim: Dimension) -> Option<f64> {
    let mut factors: Vec<f64> = slo.matrix(dim)?.iter().map(|r| r.burn).collect();
    factors.sort_by(f64::total_cmp);
    factors.dedup();
    let burn = match factors.as_slice() {
        [a, b, ..] => (a + b) / 2.0,
        _ => return None,
    };
    let ratio = burn * (1.0 - slo.objective(dim)?);
    (ratio <= 1.0).then_some(ratio)
}

// ---------------------------------------------------------------------------------------
// What the rules compute in a world
// ---------------------------------------------------------------------------------------

/// One dimension of one SLO in a world (increments per step; ratios are pace-free).
#[derive(Debug, Clone, Copy)]
struct Outcome {
    ratio: Option<f64>,
    /// Total events per step.
    total: f64,
    /// The ratio is exact in Prometheus too (0, or 1 from one series on each side).
    exact: bool,
}

fn outcome(world: &[Series], slo: &SloSpec, dim: Dimension, opts: &Options) -> Option<Outcome> {
    match dim {
        Dimension::Error => {
            let ErrorEvents::Selectors { bad, total } = &slo.error.as_ref()?.events else {
                return None;
            };
            let Some(t) = sum(world, total) else {
                return Some(Outcome {
                    ratio: None,
                    total: 0.0,
                    exact: false,
                });
            };
            if t == 0.0 {
                return Some(Outcome {
                    ratio: Some(0.0),
                    total: 0.0,
                    exact: true,
                });
            }
            let b = sum(world, bad).unwrap_or(0.0);
            let (mb, mt) = (moving(world, bad), moving(world, total));
            Some(Outcome {
                ratio: Some(b / t),
                total: t,
                exact: b == 0.0 || (mb.len() == 1 && mb == mt),
            })
        }
        Dimension::Latency => {
            let latency = slo.latency.as_ref()?;
            let good_plan = latency_good(slo, &opts.buckets)?;
            let count = latency.histogram.with_suffix("_count")?;
            let Some(c) = sum(world, &count) else {
                return Some(Outcome {
                    ratio: None,
                    total: 0.0,
                    exact: false,
                });
            };
            if c == 0.0 {
                return Some(Outcome {
                    ratio: Some(0.0),
                    total: 0.0,
                    exact: true,
                });
            }
            let bucket = |le: f64| {
                let sel = bucket_selector(latency, le);
                (sum(world, &sel), moving(world, &sel))
            };
            let (good, exact_sides) = match good_plan {
                Good::Bound(le) => {
                    let (g, m) = bucket(le);
                    (g, m)
                }
                Good::Interpolated {
                    lower: Some(a),
                    upper,
                    threshold,
                } => {
                    let ((ca, ma), (cb, _)) = (bucket(a), bucket(upper));
                    let good = match (ca, cb) {
                        (Some(ca), Some(cb)) => {
                            Some(ca + (cb - ca) * (threshold - a) / (upper - a))
                        }
                        _ => None,
                    };
                    let exact = ca.is_some() && ca == cb;
                    (good, if exact { ma } else { vec![f64::NAN] })
                }
                Good::Interpolated {
                    lower: None,
                    upper,
                    threshold,
                } => {
                    let (cb, m) = bucket(upper);
                    let exact = cb == Some(0.0);
                    (
                        cb.map(|cb| cb * threshold / upper),
                        if exact { m } else { vec![f64::NAN] },
                    )
                }
            };
            let Some(g) = good else {
                return Some(Outcome {
                    ratio: None,
                    total: c,
                    exact: false,
                });
            };
            let mc = moving(world, &count);
            Some(Outcome {
                ratio: Some(1.0 - g / c),
                total: c,
                exact: exact_sides.is_empty() || (exact_sides.len() == 1 && exact_sides == mc),
            })
        }
    }
}

/// Events in window `w` at time `t` (ms) as the engine counts them (`rate * w`): the
/// counters start at 0 at time 0, so a window reaching past 0 holds `t`'s worth.
fn events(total_per_step: f64, step_ms: i64, w: &PromDuration, t_ms: i64) -> f64 {
    total_per_step * w.millis().min(t_ms) as f64 / step_ms as f64
}

/// Whether a raw-PromQL SLI of the specs may read series of `world` (it names one of their
/// metrics, or matches metric names with `__name__`): what it computes is not predictable.
fn raw_reads(specs: &[ServiceSpec], world: &[Series]) -> bool {
    specs.iter().flat_map(|s| &s.slos).any(|slo| {
        let Some(ErrorEvents::Queries { bad, total }) = slo.error.as_ref().map(|e| &e.events)
        else {
            return false;
        };
        [bad, total]
            .iter()
            .any(|q| q.contains("__name__") || world.iter().any(|s| q.contains(s.name.as_str())))
    })
}

/// An exact recording rule sample: metric, dimension, series, value.
type Sample = (&'static str, Dimension, String, f64);

#[derive(Debug, Clone, PartialEq)]
struct ExpAlert {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

/// Alerts firing at `at_ms` in a world, over every SLO of the specs. `None` when a raw-PromQL
/// SLI may read the world's series (what it computes cannot be predicted).
fn expected_alerts(
    specs: &[ServiceSpec],
    world: &[Series],
    opts: &Options,
    step_ms: i64,
    at_ms: i64,
) -> Option<Vec<ExpAlert>> {
    if raw_reads(specs, world) {
        return None;
    }
    let mut out = Vec::new();
    for spec in specs {
        for slo in &spec.slos {
            if slo
                .error
                .as_ref()
                .is_some_and(|e| matches!(e.events, ErrorEvents::Queries { .. }))
            {
                continue;
            }
            for dim in slo.dimensions() {
                let o = outcome(world, slo, dim, opts)?;
                let Some(ratio) = o.ratio else { continue };
                let objective = slo.objective(dim)?;
                let burn = ratio / (1.0 - objective);
                let budget = 1.0 - ratio / (1.0 - objective);
                for (decision, rules) in levels(slo.matrix(dim).unwrap_or(&[])) {
                    let active = |t: i64| {
                        t >= step_ms
                            && rules.iter().any(|r| {
                                burn >= r.burn
                                    && slo.min_events.is_none_or(|min| {
                                        events(o.total, step_ms, &r.long, t) >= min
                                    })
                            })
                    };
                    if !active(at_ms) {
                        continue;
                    }
                    let mut since = at_ms;
                    while since - step_ms >= step_ms && active(since - step_ms) {
                        since -= step_ms;
                    }
                    if at_ms - since < slo.for_.millis() {
                        continue;
                    }
                    let mut labels = spec.labels.clone();
                    labels.insert("service".into(), spec.service.clone());
                    labels.insert("slo".into(), slo.name.clone());
                    labels.insert("dimension".into(), dim.as_str().into());
                    labels.insert("decision".into(), decision.as_str().into());
                    let burns: Vec<String> = slo
                        .windows(dim)
                        .iter()
                        .map(|w| format!("{w}={burn:.3}"))
                        .collect();
                    let annotations = BTreeMap::from([
                        (
                            "summary".to_string(),
                            format!(
                                "{}/{} is {decision} ({})",
                                spec.service,
                                slo.name,
                                dim.as_str()
                            ),
                        ),
                        (
                            "description".to_string(),
                            super::describe_rules(slo, dim, &rules),
                        ),
                        ("burn_rates".to_string(), burns.join(" ")),
                        ("budget_remaining".to_string(), format!("{budget:.4}")),
                    ]);
                    out.push(ExpAlert {
                        labels,
                        annotations,
                    });
                }
            }
        }
    }
    Some(out)
}

/// Recording rule samples of `slo` that are exact in a world: (metric, dimension, series,
/// value).
fn expected_samples(
    spec: &ServiceSpec,
    slo: &SloSpec,
    world: &[Series],
    opts: &Options,
) -> Vec<Sample> {
    let mut out = Vec::new();
    for dim in slo.dimensions() {
        let Some(o) = outcome(world, slo, dim, opts) else {
            continue;
        };
        let (Some(ratio), true) = (o.ratio, o.exact) else {
            continue;
        };
        if ratio != 0.0 && ratio != 1.0 {
            continue;
        }
        let objective = slo.objective(dim).expect("dimension present");
        let series = |metric: &str, window: Option<&str>| {
            let mut labels = spec.labels.clone();
            labels.insert("service".into(), spec.service.clone());
            labels.insert("slo".into(), slo.name.clone());
            labels.insert("dimension".into(), dim.as_str().into());
            if let Some(w) = window {
                labels.insert("window".into(), w.into());
            }
            Series {
                name: metric.into(),
                labels,
                inc: 0.0,
            }
            .promql()
        };
        for w in slo.windows(dim) {
            out.push((
                BURN_RATE_METRIC,
                dim,
                series(BURN_RATE_METRIC, Some(w.as_str())),
                ratio / (1.0 - objective),
            ));
        }
        out.push((
            BUDGET_METRIC,
            dim,
            series(BUDGET_METRIC, None),
            1.0 - ratio / (1.0 - objective),
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------
// The test file
// ---------------------------------------------------------------------------------------

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
    super::yaml::scalar(s)
}

/// The `promtool test rules` file for the rules of `specs`, which it loads from `rule_file`.
pub fn test_file(specs: &[ServiceSpec], opts: &Options, rule_file: &str) -> String {
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
            !raw
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
            let for_steps = (slo.for_.millis() + step - 1) / step;
            let mut times = vec![step * (for_steps + 3)];
            if slo.for_.millis() >= 2 * step {
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
