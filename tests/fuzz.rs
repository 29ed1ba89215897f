//! Fuzz harnesses, on stable Rust with proptest, for every parser of untrusted input: specs
//! and imports (YAML with anchors and aliases, burnrate/v1, Sloth, OpenSLO), PromQL
//! selectors and queries (parsed, then evaluated), durations and times, history files
//! (OpenMetrics text, `query_range` JSON, gzip), backend JSON (the API envelope of
//! `src/backend/api.rs`, read through the history reader that shares it), incidents and
//! state files, `--shard`.
//!
//! Each case asserts no panic (overflow checks are on in test builds, so wrapping arithmetic
//! panics too), no hang over [`TIME_PER_CASE`], at most [`memory_bound`] bytes allocated at
//! once (a counting allocator, per thread), and output within a constant factor of the
//! input. Inputs are generated structurally (the grammar of each format, with its limits'
//! edges: deep nesting, alias chains, huge numbers, regexes that compile large) and then
//! mutated byte by byte, so both deep paths and error paths are reached.
//!
//! Budget: `BURNRATE_FUZZ_CASES` cases per harness (default [`DEFAULT_CASES`], the whole file
//! in well under 30 s on 2 cores in a debug build); e.g. `BURNRATE_FUZZ_CASES=20000 cargo
//! test --release --test fuzz` for a long run. What fuzzing found is pinned as named tests
//! in `tests/input_limits.rs` and next to the code that was fixed (see the README,
//! "Security").

#![allow(
    unsafe_code,
    reason = "a counting global allocator bounds each case's memory"
)]

use burnrate::backtest::incidents;
use burnrate::duration::PromDuration;
use burnrate::engine::hysteresis::{RuleTimers, StateStore};
use burnrate::history::parse::{load_file, parse_openmetrics, parse_query_range_json};
use burnrate::promql::{Flavor, MemStorage, Query, eval_instant};
use burnrate::spec::load::load_str;
use burnrate::spec::load_paths;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Cases per harness unless `BURNRATE_FUZZ_CASES` says otherwise.
const DEFAULT_CASES: u32 = 512;
/// Wall clock of one case (a debug build on a shared 2-core machine; a hang is far beyond).
const TIME_PER_CASE: Duration = Duration::from_secs(10);

/// Memory a case may hold at once: what a parser needs per input byte (a YAML node is about
/// 50 bytes, aliases may add 64 per byte) plus room for one bounded regex and the runtime.
fn memory_bound(input_len: usize) -> usize {
    512 * input_len + (48 << 20)
}

/// Output a case may produce (diagnostics, messages): a constant factor of the input.
fn output_bound(input_len: usize) -> usize {
    2048 * input_len + (64 << 10)
}

fn config() -> Config {
    let cases = std::env::var("BURNRATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        max_shrink_iters: 512,
        // Next to the crate's other regressions; replayed first on every run.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz.txt",
        ))),
        ..Config::default()
    }
}

/// The allocator that meters each thread: live bytes and their peak.
mod meter {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Meter;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn track(delta: isize) {
        // `try_with`: the thread's locals may already be gone while it exits.
        let _ = LIVE.try_with(|live| {
            let now = live.get() + delta;
            live.set(now);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        });
    }

    // SAFETY: every call is forwarded to the system allocator unchanged; the bookkeeping
    // touches only const-initialized thread locals, which never allocate.
    unsafe impl GlobalAlloc for Meter {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                track(layout.size() as isize);
            }
            p
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                track(layout.size() as isize);
            }
            p
        }

        unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
            unsafe { System.dealloc(p, layout) };
            track(-(layout.size() as isize));
        }

        unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let q = unsafe { System.realloc(p, layout, new_size) };
            if !q.is_null() {
                track(new_size as isize - layout.size() as isize);
            }
            q
        }
    }

    /// `f`'s result and the most bytes this thread held at once while it ran, beyond what
    /// it held before.
    pub fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let start = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(start));
        let out = f();
        let peak = PEAK.with(Cell::get);
        (out, (peak - start).max(0) as usize)
    }
}

#[global_allocator]
static METER: meter::Meter = meter::Meter;

/// Runs one case of `what` over an input of `input_len` bytes under the time and memory
/// bounds; `f` returns how many bytes of output it produced.
fn bounded(what: &str, input: &str, f: impl FnOnce() -> usize) {
    let started = Instant::now();
    let (output, peak) = meter::peak_of(f);
    let elapsed = started.elapsed();
    let shown: String = input.chars().take(300).collect();
    assert!(
        elapsed < TIME_PER_CASE,
        "{what}: took {elapsed:?} on {} bytes: {shown:?}",
        input.len()
    );
    assert!(
        peak <= memory_bound(input.len()),
        "{what}: held {peak} bytes at once on {} bytes: {shown:?}",
        input.len()
    );
    assert!(
        output <= output_bound(input.len()),
        "{what}: {output} bytes of output for {} bytes: {shown:?}",
        input.len()
    );
}

fn diagnostics_len(d: &[burnrate::spec::Diagnostic]) -> usize {
    d.iter().map(|d| d.to_string().len() + 1).sum()
}

// ----------------------------------------------------------------------------------------
// Mutations: a few bytes of a well-formed input replaced, removed or duplicated.

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Repeat(usize, usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        4 => (any::<usize>(), "[ -~]{1,3}|[\\[\\]{}()\"'`&*!:,#\\\\-]|\n").prop_map(|(i, s)| Edit::Insert(i, s)),
        2 => (any::<usize>(), 1usize..8).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => (any::<usize>(), 1usize..16, 2usize..64).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
    ];
    // Most cases stay well formed, so the deep paths are reached; the rest reach the
    // error paths.
    prop_oneof![3 => Just(Vec::new()), 2 => prop::collection::vec(edit, 1..4)]
}

/// `text` with `edits` applied (at character boundaries, positions taken modulo the length).
fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match e {
            Edit::Insert(i, t) => {
                let i = at(*i, s.len());
                s.splice(i..i, t.chars());
            }
            Edit::Delete(i, n) => {
                let i = at(*i, s.len());
                let end = (i + n).min(s.len());
                s.drain(i..end);
            }
            Edit::Repeat(i, n, k) => {
                let i = at(*i, s.len());
                let end = (i + n).min(s.len());
                let piece: Vec<char> = s[i..end].to_vec();
                for _ in 1..*k {
                    s.splice(end..end, piece.iter().copied());
                }
            }
        }
    }
    s.into_iter().collect()
}

// ----------------------------------------------------------------------------------------
// Words and values of the formats.

fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,6}"
}

fn duration_text() -> BoxedStrategy<String> {
    prop_oneof![
        8 => prop::sample::select(COMMON_DURATIONS).prop_map(str::to_string),
        2 => "[0-9]{1,3}(ms|s|m|h|d|w|y)",
        1 => "([0-9]{1,4}(y|w|d|h|m|s|ms)){1,3}",
        1 => "[0-9]{1,22}[a-z]{0,2}",
        1 => prop::sample::select(EXTREME_DURATIONS).prop_map(str::to_string),
        1 => "[ -~]{0,6}",
    ]
    .boxed()
}

fn time_text() -> BoxedStrategy<String> {
    prop_oneof![
        6 => (1_700_000_000i64..1_700_100_000).prop_map(|t| t.to_string()),
        2 => (1_700_000_000i64..1_700_100_000).prop_map(|t| burnrate::time::format_time(t * 1000)),
        1 => any::<i64>().prop_map(|t| t.to_string()),
        1 => any::<f64>().prop_map(|t| t.to_string()),
        1 => "-?[0-9]{1,16}(\\.[0-9]{1,6})?(e[+-]?[0-9]{1,3})?",
        1 => "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{1,9})?(Z|[+-][0-2][0-9]:[0-5][0-9])",
        1 => prop::sample::select(EXTREME_TIMES).prop_map(str::to_string),
        1 => "[ -~]{0,8}",
    ]
    .boxed()
}

/// A history timestamp: Unix seconds, mostly plausible.
fn unix_seconds() -> BoxedStrategy<String> {
    prop_oneof![
        8 => (1_700_000_000i64..1_700_010_000).prop_map(|t| t.to_string()),
        1 => (1_700_000_000.0f64..1_700_010_000.0).prop_map(|t| format!("{t:.3}")),
        1 => time_text(),
    ]
    .boxed()
}

fn number_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (0.0f64..120.0).prop_map(|v| format!("{v:.3}")),
        1 => any::<f64>().prop_map(|v| v.to_string()),
        1 => prop::sample::select(EXTREME_NUMBERS).prop_map(str::to_string),
        1 => "-?[0-9]{1,30}(\\.[0-9]{0,20})?",
    ]
    .boxed()
}

/// A number for a field with a range (`objective` in (0, 100), `quantile` in (0, 1)):
/// mostly inside it.
fn field_number(key: &str) -> BoxedStrategy<String> {
    let typical = match key {
        "objective" => prop_oneof![Just("99.9"), Just("99"), Just("95.5"), Just("99.99")].boxed(),
        "quantile" => prop_oneof![Just("0.99"), Just("0.9"), Just("0.5")].boxed(),
        "burn" => prop_oneof![Just("14.4"), Just("6"), Just("1"), Just("0.5")].boxed(),
        _ => prop_oneof![Just("20"), Just("0"), Just("1000")].boxed(),
    };
    prop_oneof![4 => typical.prop_map(str::to_string), 1 => number_text()].boxed()
}

/// Regexes as label matchers write them, including ones that compile to large automata.
fn regex_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop_oneof![Just("5.."), Just("5..|429"), Just(".*"), Just(""), Just("a|b|c"), Just("(?i)get|post")]
            .prop_map(str::to_string),
        2 => (prop_oneof![Just("\\w"), Just("."), Just("[a-z]"), Just("\\pL"), Just("(a|b)")], 0u32..400)
            .prop_map(|(atom, n)| format!("{atom}{{{n}}}")),
        1 => "[a-z.*+?|()\\[\\]{}\\\\^$0-9,]{0,16}",
    ]
    .boxed()
}

/// A PromQL string literal holding `s`.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn selector_text() -> BoxedStrategy<String> {
    let matcher = (
        ident(),
        prop_oneof![3 => Just("="), 1 => Just("!="), 2 => Just("=~"), 1 => Just("!~")],
        prop_oneof![2 => ident(), 1 => regex_text()],
    )
        .prop_map(|(l, op, v)| format!("{l}{op}{}", quote(&v)));
    (
        prop_oneof![
            6 => prop::sample::select(METRICS).prop_map(|m| Some(m.to_string())),
            1 => prop::option::of(ident().prop_map(|n| format!("{n}_total"))),
        ],
        prop::collection::vec(matcher, 0..3),
    )
        .prop_map(|(name, ms)| {
            let braces = if ms.is_empty() && name.is_some() {
                String::new()
            } else {
                format!("{{{}}}", ms.join(","))
            };
            format!("{}{braces}", name.unwrap_or_default())
        })
        .boxed()
}

const COMMON_DURATIONS: &[&str] = &[
    "5m", "30m", "1h", "6h", "1d", "3d", "30d", "2m", "10m", "1y",
];
const EXTREME_DURATIONS: &[&str] = &["292471208y", "9223372036854775807ms", "0", "366d", "1y1ms"];
const EXTREME_TIMES: &[&str] = &[
    "-9999999999999",
    "99999999999",
    "-62170000000",
    "1e300",
    "NaN",
];
const EXTREME_NUMBERS: &[&str] = &["NaN", "+Inf", "-Inf", "1e400", "-0", "1e-320"];
/// The series of the evaluation storage (see `storage`), so that queries find data.
const METRICS: &[&str] = &["x_total", "e_total", "h_bucket"];
const FUNCTIONS: &[&str] = &[
    "rate",
    "increase",
    "irate",
    "delta",
    "resets",
    "changes",
    "avg_over_time",
    "sum_over_time",
    "quantile_over_time",
    "last_over_time",
    "abs",
    "ceil",
    "round",
    "clamp",
    "clamp_min",
    "scalar",
    "vector",
    "time",
    "absent",
    "histogram_quantile",
    "label_replace",
    "label_join",
    "predict_linear",
    "holt_winters",
    "sort",
];
const AGGREGATIONS: &[&str] = &[
    "sum", "count", "min", "max", "avg", "topk", "bottomk", "quantile", "stddev", "group",
];
/// Ways to nest an expression many times over.
const WRAPS: &[&str] = &["(", "abs(", "-", "x + ", "sum("];
const OPENSLO_KINDS: &[&str] = &[
    "SLO",
    "SLI",
    "AlertPolicy",
    "AlertCondition",
    "DataSource",
    "Service",
    "Bogus",
];
const OPENSLO_NAMES: &[&str] = &["a", "b", "c"];
const OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless", "atan2",
];

/// A PromQL expression from the grammar (mostly valid, and mostly inside the evaluator's
/// subset), with the `{{.window}}` placeholder in most ranges.
fn query_text() -> BoxedStrategy<String> {
    let range = prop_oneof![
        4 => Just("{{.window}}".to_string()),
        3 => duration_text(),
        1 => (duration_text(), duration_text()).prop_map(|(a, b)| format!("{a}:{b}")),
    ];
    let modifiers = prop_oneof![
        8 => Just(String::new()),
        1 => duration_text().prop_map(|o| format!(" offset {o}")),
        1 => time_text().prop_map(|t| format!(" @ {t}")),
    ];
    let matrix = (selector_text(), range, modifiers.clone())
        .prop_map(|(sel, r, m)| format!("{sel}[{r}]{m}"))
        .boxed();
    let range_fn = prop_oneof![
        Just("rate"),
        Just("increase"),
        Just("irate"),
        Just("delta"),
        Just("changes"),
        Just("avg_over_time"),
        Just("sum_over_time"),
        Just("last_over_time"),
        Just("resets"),
    ];
    let leaf = prop_oneof![
        4 => (range_fn, matrix.clone()).prop_map(|(f, m)| format!("{f}({m})")),
        2 => (selector_text(), modifiers).prop_map(|(s, m)| format!("{s}{m}")),
        1 => number_text(),
        1 => "[ -~]{0,8}".prop_map(|s| quote(&s)),
    ];
    leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            4 => (
                prop::sample::select(AGGREGATIONS),
                prop::option::of((prop::bool::ANY, prop::collection::vec(prop_oneof![ident(), Just("code".to_string()), Just("le".to_string())], 0..3))),
                inner.clone(),
            )
                .prop_map(|(op, grouping, e)| {
                    let g = grouping
                        .map(|(by, ls)| format!(" {} ({})", if by { "by" } else { "without" }, ls.join(",")))
                        .unwrap_or_default();
                    match op {
                        "topk" | "bottomk" => format!("{op}{g}(2, {e})"),
                        "quantile" => format!("{op}{g}(0.9, {e})"),
                        _ => format!("{op}{g}({e})"),
                    }
                }),
            4 => (inner.clone(), prop::sample::select(OPERATORS), prop::option::of(prop_oneof![
                    Just(" bool".to_string()),
                    prop::collection::vec(prop_oneof![Just("job".to_string()), ident()], 0..2).prop_map(|ls| format!(" on({})", ls.join(","))),
                    prop::collection::vec(ident(), 0..2).prop_map(|ls| format!(" ignoring({}) group_left", ls.join(","))),
                ]), inner.clone())
                .prop_map(|(a, op, m, b)| format!("{a} {op}{} {b}", m.unwrap_or_default())),
            2 => (prop::sample::select(FUNCTIONS), prop::collection::vec(inner.clone(), 0..4))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            1 => (inner.clone(), regex_text()).prop_map(|(e, re)| {
                format!("label_replace({e}, \"dst\", \"$1\", \"job\", {})", quote(&re))
            }),
            1 => (inner.clone(), number_text()).prop_map(|(e, n)| format!("clamp_min({e}, {n})")),
            1 => matrix.clone().prop_map(|m| format!("histogram_quantile(0.9, sum by (le) (rate({m})))")),
            1 => inner.clone().prop_map(|e| format!("({e})")),
            1 => inner.clone().prop_map(|e| format!("-{e}")),
            1 => (inner, 0usize..1200, prop::sample::select(WRAPS))
                .prop_map(|(e, n, wrap)| {
                    let close = match wrap {
                        "(" | "abs(" | "sum(" => ")",
                        _ => "",
                    };
                    format!("{}{e}{}", wrap.repeat(n), close.repeat(n))
                }),
        ]
    })
    .boxed()
}

// ----------------------------------------------------------------------------------------
// YAML trees, rendered in block and flow style, with anchors and aliases.

#[derive(Debug, Clone)]
enum Y {
    /// Written as is (a plain scalar the caller knows is safe, or anything at all).
    Raw(String),
    /// A double-quoted scalar.
    Quoted(String),
    Seq(Vec<Y>),
    Map(Vec<(String, Y)>),
    Anchor(u8, Box<Y>),
    Alias(u8),
    /// `n` levels of one-element sequences around a value.
    Deep(usize, Box<Y>),
}

fn yaml_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Y {
    fn is_block(&self) -> bool {
        match self {
            Y::Map(m) => !m.is_empty(),
            Y::Seq(s) => !s.is_empty(),
            Y::Deep(..) => true,
            _ => false,
        }
    }

    fn flow(&self, out: &mut String) {
        match self {
            Y::Raw(s) => out.push_str(s),
            Y::Quoted(s) => out.push_str(&yaml_quote(s)),
            Y::Seq(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.flow(out);
                }
                out.push(']');
            }
            Y::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push_str(": ");
                    v.flow(out);
                }
                out.push('}');
            }
            Y::Anchor(n, v) => {
                out.push_str(&format!("&a{n} "));
                v.flow(out);
            }
            Y::Alias(n) => out.push_str(&format!("*a{n}")),
            Y::Deep(n, v) => {
                out.push_str(&"[".repeat(*n));
                v.flow(out);
                out.push_str(&"]".repeat(*n));
            }
        }
    }

    /// Block style at `indent`; the caller has written the key (or `- `) before.
    fn block(&self, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match self {
            Y::Map(entries) if !entries.is_empty() => {
                out.push('\n');
                for (k, v) in entries {
                    out.push_str(&format!("{pad}{k}:"));
                    if v.is_block() {
                        v.block(indent + 2, out);
                    } else {
                        out.push(' ');
                        v.flow(out);
                        out.push('\n');
                    }
                }
            }
            Y::Seq(items) if !items.is_empty() => {
                out.push('\n');
                for item in items {
                    out.push_str(&format!("{pad}-"));
                    if item.is_block() {
                        item.block(indent + 2, out);
                    } else {
                        out.push(' ');
                        item.flow(out);
                        out.push('\n');
                    }
                }
            }
            Y::Deep(n, v) => {
                out.push('\n');
                out.push_str(&pad);
                out.push_str(&"- ".repeat(*n));
                v.flow(out);
                out.push('\n');
            }
            other => {
                out.push(' ');
                other.flow(out);
                out.push('\n');
            }
        }
    }

    fn document(&self) -> String {
        let mut out = String::new();
        match self {
            Y::Map(entries) if !entries.is_empty() => {
                for (k, v) in entries {
                    out.push_str(k);
                    out.push(':');
                    v.block(2, &mut out);
                }
            }
            Y::Seq(items) if !items.is_empty() => {
                for item in items {
                    out.push('-');
                    if item.is_block() {
                        item.block(2, &mut out);
                    } else {
                        out.push(' ');
                        item.flow(&mut out);
                        out.push('\n');
                    }
                }
            }
            other => {
                out.push_str("--- ");
                other.flow(&mut out);
                out.push('\n');
            }
        }
        out
    }
}

/// Any small YAML value, with anchors, aliases and deep nesting.
fn any_yaml() -> BoxedStrategy<Y> {
    let leaf = prop_oneof![
        3 => "[a-zA-Z0-9_.]{1,10}".prop_map(Y::Raw),
        2 => "[ -~]{0,12}".prop_map(Y::Quoted),
        1 => (0u8..4).prop_map(Y::Alias),
        1 => Just(Y::Raw("~".to_string())),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            3 => prop::collection::vec(inner.clone(), 0..6).prop_map(Y::Seq),
            3 => prop::collection::vec((ident(), inner.clone()), 0..6).prop_map(Y::Map),
            2 => (0u8..4, inner.clone()).prop_map(|(n, v)| Y::Anchor(n, Box::new(v))),
            1 => (40usize..140, inner).prop_map(|(n, v)| Y::Deep(n, Box::new(v))),
        ]
    })
    .boxed()
}

/// "Billion laughs": anchors each holding `fan` aliases of the one before.
fn laughs() -> impl Strategy<Value = Y> {
    (2usize..12, 2usize..10).prop_map(|(levels, fan)| {
        let mut entries = vec![(
            "l0".to_string(),
            Y::Anchor(0, Box::new(Y::Seq(vec![Y::Quoted("lol".into()); fan]))),
        )];
        for i in 1..levels {
            let refs = vec![Y::Alias((i - 1) as u8); fan];
            entries.push((format!("l{i}"), Y::Anchor(i as u8, Box::new(Y::Seq(refs)))));
        }
        Y::Map(entries)
    })
}

/// A value for a spec field, by the field's meaning; sometimes anything.
fn field_value(key: &'static str) -> BoxedStrategy<Y> {
    let typed: BoxedStrategy<Y> = match key {
        "period" | "for" | "hold" | "long" | "short" | "threshold" => {
            duration_text().prop_map(Y::Raw).boxed()
        }
        "objective" | "quantile" | "burn" | "min_events" => {
            field_number(key).prop_map(Y::Raw).boxed()
        }
        "bad" | "total" | "histogram" => selector_text().prop_map(Y::Quoted).boxed(),
        "bad_query" | "total_query" => query_text().prop_map(Y::Quoted).boxed(),
        "decision" => prop_oneof![
            Just("warn"),
            Just("scale"),
            Just("circuit_break"),
            Just("ok")
        ]
        .prop_map(|s| Y::Raw(s.to_string()))
        .boxed(),
        _ => ident().prop_map(Y::Raw).boxed(),
    };
    prop_oneof![12 => typed, 1 => any_yaml()].boxed()
}

/// A mapping with `required` keys (almost always) and some of `optional`, each with its kind
/// of value.
fn fields_of(
    required: &'static [&'static str],
    optional: &'static [&'static str],
) -> BoxedStrategy<Y> {
    (
        prop::sample::subsequence(required, required.len().saturating_sub(1)..=required.len()),
        prop::sample::subsequence(optional, 0..=optional.len()),
    )
        .prop_flat_map(|(r, o)| {
            r.into_iter()
                .chain(o)
                .map(|k| field_value(k).prop_map(move |v| (k.to_string(), v)))
                .collect::<Vec<_>>()
        })
        .prop_map(Y::Map)
        .boxed()
}

fn rule() -> BoxedStrategy<Y> {
    fields_of(&["decision", "burn", "long"], &["short"])
}

fn slo() -> BoxedStrategy<Y> {
    let error = prop_oneof![
        3 => fields_of(&["objective", "bad", "total"], &[]),
        2 => fields_of(&["objective", "bad_query", "total_query"], &[]),
        1 => fields_of(&[], &["objective", "bad", "total", "bad_query", "total_query"]),
    ];
    (
        fields_of(
            &["name"],
            &["period", "min_events", "for", "hold", "description"],
        ),
        prop::option::weighted(0.9, error),
        prop::option::weighted(0.3, fields_of(&["histogram", "quantile", "threshold"], &[])),
        prop::option::weighted(0.3, prop::collection::vec(rule(), 0..3)),
    )
        .prop_map(|(base, error, latency, matrix)| {
            let Y::Map(mut entries) = base else {
                unreachable!()
            };
            if let Some(e) = error {
                entries.push(("error".into(), e));
            }
            if let Some(l) = latency {
                entries.push(("latency".into(), l));
            }
            if let Some(m) = matrix {
                entries.push(("matrix".into(), Y::Map(vec![("error".into(), Y::Seq(m))])));
            }
            Y::Map(entries)
        })
        .boxed()
}

fn spec_doc() -> BoxedStrategy<Y> {
    (
        prop_oneof![9 => Just("burnrate/v1".to_string()), 1 => ident()],
        ident(),
        prop::collection::vec(slo(), 1..4),
        prop::option::weighted(0.2, any_yaml()),
    )
        .prop_map(|(api, service, slos, extra)| {
            let mut entries = vec![
                ("apiVersion".into(), Y::Raw(api)),
                ("service".into(), Y::Raw(service)),
                ("slos".into(), Y::Seq(slos)),
            ];
            if let Some(x) = extra {
                entries.push(("labels".into(), x));
            }
            Y::Map(entries)
        })
        .boxed()
}

/// A Sloth query: `sum(rate(SEL[{{.window}}]))`, a ratio of two, or anything.
fn sloth_query() -> BoxedStrategy<String> {
    prop_oneof![
        3 => selector_text().prop_map(|s| format!("sum(rate({s}[{{{{.window}}}}]))")),
        1 => (selector_text(), selector_text()).prop_map(|(a, b)| {
            format!("sum(rate({a}[{{{{.window}}}}])) / sum(rate({b}[{{{{ .window }}}}]))")
        }),
        1 => query_text(),
    ]
    .boxed()
}

fn sloth_doc() -> BoxedStrategy<Y> {
    let sloth_slo = (
        ident(),
        field_number("objective"),
        prop_oneof![
            4 => (sloth_query(), sloth_query()).prop_map(|(b, t)| Y::Map(vec![(
                "events".into(),
                Y::Map(vec![
                    ("error_query".into(), Y::Quoted(b)),
                    ("total_query".into(), Y::Quoted(t)),
                ]),
            )])),
            1 => sloth_query().prop_map(|r| Y::Map(vec![(
                "raw".into(),
                Y::Map(vec![("error_ratio_query".into(), Y::Quoted(r))]),
            )])),
            1 => any_yaml(),
        ],
        prop::option::weighted(0.2, any_yaml()),
    )
        .prop_map(|(name, objective, sli, extra)| {
            let mut entries = vec![
                ("name".into(), Y::Raw(name)),
                ("objective".into(), Y::Raw(objective)),
                ("sli".into(), sli),
            ];
            if let Some(x) = extra {
                entries.push(("alerting".into(), x));
            }
            Y::Map(entries)
        });
    (
        ident(),
        prop::collection::vec(sloth_slo, 1..4),
        prop::option::weighted(0.2, any_yaml()),
    )
        .prop_map(|(service, slos, labels)| {
            let mut entries = vec![
                ("version".into(), Y::Raw("prometheus/v1".into())),
                ("service".into(), Y::Raw(service)),
                ("slos".into(), Y::Seq(slos)),
            ];
            if let Some(l) = labels {
                entries.push(("labels".into(), l));
            }
            Y::Map(entries)
        })
        .boxed()
}

/// One OpenSLO object of a kind, referring to others by a few shared names.
fn openslo_object() -> BoxedStrategy<Y> {
    let name = prop::sample::select(OPENSLO_NAMES).prop_map(|s| Y::Raw(s.to_string()));
    let kind = prop::sample::select(OPENSLO_KINDS);
    let spec = prop_oneof![
        (
            name.clone(),
            query_text(),
            query_text(),
            number_text(),
            duration_text()
        )
            .prop_map(|(sli, good, total, target, window)| Y::Map(vec![
                ("service".into(), Y::Raw("svc".into())),
                ("indicatorRef".into(), sli),
                ("budgetingMethod".into(), Y::Raw("Occurrences".into())),
                (
                    "timeWindow".into(),
                    Y::Seq(vec![Y::Map(vec![
                        ("duration".into(), Y::Quoted(window)),
                        ("isRolling".into(), Y::Raw("true".into())),
                    ])])
                ),
                (
                    "objectives".into(),
                    Y::Seq(vec![Y::Map(vec![("target".into(), Y::Raw(target))])])
                ),
                (
                    "ratioMetric".into(),
                    Y::Map(vec![
                        (
                            "good".into(),
                            Y::Map(vec![(
                                "metricSource".into(),
                                Y::Map(vec![
                                    ("type".into(), Y::Raw("Prometheus".into())),
                                    (
                                        "spec".into(),
                                        Y::Map(vec![("query".into(), Y::Quoted(good))])
                                    ),
                                ])
                            )])
                        ),
                        (
                            "total".into(),
                            Y::Map(vec![(
                                "metricSource".into(),
                                Y::Map(vec![(
                                    "spec".into(),
                                    Y::Map(vec![("query".into(), Y::Quoted(total))])
                                )])
                            )])
                        ),
                    ])
                ),
            ])),
        (name.clone(), number_text(), duration_text()).prop_map(|(cond, threshold, window)| {
            Y::Map(vec![
                (
                    "conditions".into(),
                    Y::Seq(vec![Y::Map(vec![("conditionRef".into(), cond)])]),
                ),
                ("kind".into(), Y::Raw("burnrate".into())),
                ("threshold".into(), Y::Raw(threshold)),
                ("lookbackWindow".into(), Y::Quoted(window)),
            ])
        }),
        any_yaml(),
    ];
    (kind, name, spec)
        .prop_map(|(kind, name, spec)| {
            Y::Map(vec![
                ("apiVersion".into(), Y::Raw("openslo/v1".into())),
                ("kind".into(), Y::Raw(kind.to_string())),
                ("metadata".into(), Y::Map(vec![("name".into(), name)])),
                ("spec".into(), spec),
            ])
        })
        .boxed()
}

fn incidents_doc() -> BoxedStrategy<Y> {
    let times = prop_oneof![
        6 => (1_700_000_000i64..1_700_100_000, 1i64..100_000)
            .prop_map(|(start, length)| (start.to_string(), (start + length).to_string())),
        1 => (time_text(), time_text()),
    ];
    let incident = (
        ident(),
        ident(),
        times,
        prop::option::weighted(0.2, any_yaml()),
    )
        .prop_map(|(service, slo, (start, end), extra)| {
            let mut e = vec![
                ("service".into(), Y::Raw(service)),
                ("slo".into(), Y::Raw(slo)),
                ("start".into(), Y::Quoted(start)),
                ("end".into(), Y::Quoted(end)),
            ];
            if let Some(x) = extra {
                e.push(("description".into(), x));
            }
            Y::Map(e)
        });
    prop_oneof![
        6 => prop::collection::vec(incident, 1..5).prop_map(Y::Seq),
        1 => any_yaml(),
    ]
    .boxed()
}

/// A YAML text from `doc`, sometimes with laughs appended, then mutated.
fn yaml_text(doc: BoxedStrategy<Y>) -> impl Strategy<Value = String> {
    (doc, prop::option::of(laughs()), edits()).prop_map(|(doc, laughs, edits)| {
        let doc = match (doc, laughs) {
            (Y::Map(mut entries), Some(Y::Map(l))) => {
                entries.extend(l);
                Y::Map(entries)
            }
            (Y::Seq(mut items), Some(l)) => {
                items.push(l);
                Y::Seq(items)
            }
            (doc, _) => doc,
        };
        mutate(&doc.document(), &edits)
    })
}

// ----------------------------------------------------------------------------------------
// Real files as seeds: their values replaced by generated ones, then mutated.

const SPEC_SEEDS: &[&str] = &[
    include_str!("../slo-specs/map-update.yaml"),
    include_str!("../slo-specs/checkout-api.yaml"),
    include_str!("../slo-specs/batch-exporter.yaml"),
];
const SLOTH_SEEDS: &[&str] = &[
    include_str!("fixtures/import/sloth/go-map.yml"),
    include_str!("fixtures/import/sloth/checkout-k8s.yaml"),
];
/// Objects referring to each other across files, as OpenSLO sets do.
const OPENSLO_SEEDS: &[&str] = &[
    include_str!("fixtures/import/openslo/go-map.yaml"),
    include_str!("fixtures/import/openslo/alerting.yaml"),
    include_str!("fixtures/import/openslo/checkout.yaml"),
    include_str!("fixtures/import/openslo/datasources.yaml"),
    include_str!("fixtures/import/openslo/slis.yaml"),
];

/// A value to put after a `key:` of a seed.
fn any_value() -> BoxedStrategy<String> {
    prop_oneof![
        3 => duration_text(),
        2 => number_text(),
        2 => selector_text().prop_map(|s| yaml_quote(&s)),
        2 => query_text().prop_map(|q| yaml_quote(&q)),
        1 => time_text(),
        1 => any_yaml().prop_map(|y| {
            let mut flow = String::new();
            y.flow(&mut flow);
            flow
        }),
    ]
    .boxed()
}

/// `seed` with the values of some of its `key: value` lines replaced, then mutated.
fn seeded(seed: &'static str) -> impl Strategy<Value = String> {
    (
        prop::collection::vec((any::<usize>(), any_value()), 0..4),
        prop::option::weighted(0.1, laughs()),
        edits(),
    )
        .prop_map(move |(replacements, laughs, edits)| {
            let mut lines: Vec<String> = seed.lines().map(str::to_string).collect();
            for (at, value) in replacements {
                let n = lines.len();
                let line = &mut lines[at % n];
                if let Some((key, _)) = line.split_once(": ") {
                    *line = format!("{key}: {value}");
                }
            }
            let mut text = lines.join("\n") + "\n";
            if let Some(Y::Map(l)) = laughs {
                Y::Map(l).block(0, &mut text);
            }
            mutate(&text, &edits)
        })
}

fn seeded_any(seeds: &'static [&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(seeds).prop_flat_map(seeded).boxed()
}

// ----------------------------------------------------------------------------------------
// History files and JSON.

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z0-9]{0,6}",
        1 => "([a-z]|\\\\\\\\|\\\\\"|\\\\n|\\\\t|,|=|\\}|\\{| ){0,8}",
    ]
}

fn openmetrics_text() -> impl Strategy<Value = String> {
    let sample = (
        prop_oneof![ident(), Just("{\"a.b\"".to_string())],
        prop::collection::vec((ident(), label_value()), 0..3),
        number_text(),
        unix_seconds(),
        prop::option::weighted(0.1, Just(" # {trace_id=\"x\"} 1 1")),
    )
        .prop_map(|(name, labels, value, t, exemplar)| {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            let braces = if labels.is_empty() {
                if name.starts_with('{') {
                    "}".to_string()
                } else {
                    String::new()
                }
            } else if name.starts_with('{') {
                format!(",{}}}", labels.join(","))
            } else {
                format!("{{{}}}", labels.join(","))
            };
            format!("{name}{braces} {value} {t}{}", exemplar.unwrap_or_default())
        });
    let line = prop_oneof![
        12 => sample,
        1 => ident().prop_map(|n| format!("# TYPE {n} counter")),
        1 => Just("# EOF".to_string()),
        1 => "[ -~]{0,20}",
    ];
    (prop::collection::vec(line, 0..12), any::<bool>(), edits()).prop_map(|(lines, eof, edits)| {
        let mut text = lines.join("\n");
        if eof {
            text.push_str("\n# EOF\n");
        }
        mutate(&text, &edits)
    })
}

fn json_value() -> BoxedStrategy<serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        number_text().prop_map(Value::String),
        "[ -~]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((ident(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A Prometheus API response (`query_range` or `query` shaped), with random parts.
fn api_json() -> impl Strategy<Value = String> {
    use serde_json::{Value, json};
    let point = prop_oneof![
        12 => (unix_seconds(), number_text()).prop_map(|(t, v)| {
            let t = t.parse::<f64>().map_or(Value::String(t), |f| json!(f));
            json!([t, v])
        }),
        1 => json_value(),
    ];
    let series = (
        prop::collection::vec((ident(), label_value()), 0..3),
        prop::collection::vec(point.clone(), 0..6),
        prop::option::weighted(0.2, point),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(labels, values, value, histograms)| {
            let metric: serde_json::Map<String, Value> = labels
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            let mut s = json!({"metric": metric, "values": values});
            if let Some(v) = value {
                s["value"] = v;
            }
            if histograms {
                s["histograms"] = json!([[1, {"count": "1"}]]);
            }
            s
        });
    let response = (
        prop_oneof![8 => Just("success"), 1 => Just("error"), 1 => Just("nope")],
        prop_oneof![6 => Just("matrix"), 1 => Just("vector"), 1 => Just("scalar"), 1 => Just("string")],
        prop_oneof![
            4 => prop::collection::vec(series, 0..3).prop_map(Value::Array),
            1 => json_value(),
        ],
        prop::option::weighted(0.05, json_value()),
    )
        .prop_map(|(status, result_type, result, extra)| {
            let mut r = json!({"status": status, "data": {"resultType": result_type, "result": result}});
            if let Some(x) = extra {
                r["warnings"] = x;
            }
            r
        });
    (
        prop_oneof![
            3 => response.clone().prop_map(|r| r.to_string()),
            1 => prop::collection::vec(response, 0..3).prop_map(|rs| Value::Array(rs).to_string()),
            1 => json_value().prop_map(|v| v.to_string()),
            1 => (1usize..300).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        ],
        edits(),
    )
        .prop_map(|(text, edits)| mutate(&text, &edits))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("in memory");
    e.finish().expect("in memory")
}

/// A storage with a few series, for evaluating fuzzed queries.
fn storage() -> &'static MemStorage {
    static STORAGE: OnceLock<MemStorage> = OnceLock::new();
    STORAGE.get_or_init(|| {
        let mut text = String::new();
        for i in 0..40 {
            let t = 1_700_000_000 + i * 15;
            for (code, rate) in [("200", 10), ("500", 1)] {
                text.push_str(&format!(
                    "x_total{{job=\"a\",code=\"{code}\"}} {} {t}\ne_total{{job=\"a\"}} {} {t}\n",
                    i * rate,
                    i
                ));
            }
            text.push_str(&format!(
                "h_bucket{{le=\"0.1\"}} {i} {t}\nh_bucket{{le=\"+Inf\"}} {} {t}\n",
                2 * i
            ));
        }
        burnrate::measure::local::storage_of(&parse_openmetrics(&text).expect("valid history"))
    })
}

fn temp_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("temp file");
    path
}

// ----------------------------------------------------------------------------------------
// The harnesses.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_burnrate_specs(text in prop_oneof![yaml_text(spec_doc()).boxed(), seeded_any(SPEC_SEEDS)]) {
        bounded("spec", &text, || {
            let (_, diags) = load_str(Path::new("fuzz.yaml"), &text);
            diagnostics_len(&diags)
        });
    }

    #[test]
    fn fuzz_any_yaml_as_a_spec(text in yaml_text(any_yaml())) {
        bounded("yaml", &text, || {
            let _ = burnrate::spec::yaml::parse(&text);
            let (_, diags) = load_str(Path::new("fuzz.yaml"), &text);
            diagnostics_len(&diags)
        });
    }

    #[test]
    fn fuzz_sloth_specs(text in prop_oneof![yaml_text(sloth_doc()).boxed(), seeded_any(SLOTH_SEEDS)]) {
        bounded("sloth", &text, || {
            let (_, diags) = load_str(Path::new("sloth.yaml"), &text);
            diagnostics_len(&diags)
        });
    }

    #[test]
    fn fuzz_openslo_files(
        files in prop_oneof![
            1 => prop::collection::vec(
                (prop::collection::vec(openslo_object(), 1..4), edits()).prop_map(|(objects, edits)| {
                    let docs: Vec<String> = objects.iter().map(Y::document).collect();
                    mutate(&docs.join("---\n"), &edits)
                }),
                1..3,
            ),
            3 => OPENSLO_SEEDS.iter().map(|seed| seeded(seed)).collect::<Vec<_>>(),
        ]
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        for (i, text) in files.iter().enumerate() {
            temp_file(dir.path(), &format!("f{i}.yaml"), text.as_bytes());
        }
        let all = files.concat();
        bounded("openslo", &all, || {
            let report = load_paths(&[dir.path().to_path_buf()]);
            diagnostics_len(&report.diagnostics)
        });
    }

    #[test]
    fn fuzz_incidents_files(text in yaml_text(incidents_doc())) {
        bounded("incidents", &text, || match incidents::parse(Path::new("incidents.yaml"), &text) {
            Ok(list) => {
                assert!(list.iter().all(|i| i.start_ms < i.end_ms));
                list.len() * 64
            }
            Err(e) => e.problems.iter().map(|p| p.len() + 1).sum(),
        });
    }

    #[test]
    fn fuzz_promql_queries(
        text in (query_text(), edits()).prop_map(|(q, e)| mutate(&q, &e)),
        at in prop_oneof![Just(1_700_000_300_000i64), -100_000_000_000_000i64..100_000_000_000_000],
    ) {
        let text = text.replace("{{.window}}", "5m");
        bounded("promql", &text, || match Query::parse(&text) {
            Ok(q) => {
                let mut out = 0;
                for flavor in [Flavor::Prometheus2, Flavor::Prometheus3, Flavor::VictoriaMetrics] {
                    match eval_instant(&q, storage(), at, flavor) {
                        Ok(v) => out += format!("{v:?}").len().min(1 << 16),
                        Err(e) => out += e.message.len(),
                    }
                }
                out / 64
            }
            Err(e) => e.message.len(),
        });
    }

    #[test]
    fn fuzz_durations(text in prop_oneof![3 => duration_text(), 1 => any::<String>()]) {
        bounded("duration", &text, || match PromDuration::parse(&text) {
            Ok(d) => {
                assert!((0..=365 * 86_400_000).contains(&d.millis()), "{text:?}: {}", d.millis());
                d.as_str().len()
            }
            Err(e) => e.to_string().len() / 4,
        });
    }

    #[test]
    fn fuzz_times(text in prop_oneof![3 => time_text(), 1 => any::<String>()]) {
        bounded("time", &text, || match burnrate::time::parse_time(&text) {
            Ok(ms) => {
                assert!(ms.unsigned_abs() < 100_000_000_000_000, "{text:?}: {ms}");
                // What is printed reads back as the same instant (it once printed
                // 1970-01-01 for times before year 0).
                let shown = burnrate::time::format_time(ms);
                assert_eq!(burnrate::time::parse_time(&shown).ok(), Some(ms), "{text:?} -> {shown}");
                0
            }
            Err(e) => e.to_string().len() / 4,
        });
    }

    #[test]
    fn fuzz_openmetrics_history(text in openmetrics_text()) {
        bounded("openmetrics", &text, || match parse_openmetrics(&text) {
            Ok(history) => {
                let samples: usize = history.series.iter().map(|s| s.samples.len()).sum();
                assert!(samples <= text.lines().count());
                let storage = burnrate::measure::local::storage_of(&history);
                if let (Some((_, last)), Ok(q)) = (history.span(), Query::parse("sum(rate(x_total[5m]))")) {
                    let _ = eval_instant(&q, &storage, last, Flavor::Prometheus2);
                }
                0
            }
            Err(e) => e.message.len(),
        });
    }

    #[test]
    fn fuzz_backend_and_query_range_json(text in api_json()) {
        bounded("query_range json", &text, || match parse_query_range_json(&text) {
            Ok(history) => history.series.iter().map(|s| s.samples.len()).sum::<usize>(),
            Err(e) => e.message.len(),
        });
    }

    #[test]
    fn fuzz_gzip_history(
        text in prop_oneof![openmetrics_text(), api_json()],
        cut in prop::option::of(any::<usize>()),
        junk in prop::collection::vec(any::<u8>(), 0..8),
        raw in prop::option::of(prop::collection::vec(any::<u8>(), 2..64)),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut bytes = match raw {
            Some(mut raw) => {
                raw[0] = 0x1f;
                raw[1] = 0x8b;
                raw
            }
            None => gzip(text.as_bytes()),
        };
        if let Some(cut) = cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        bytes.extend(junk);
        let path = temp_file(dir.path(), "h.om.gz", &bytes);
        bounded("gzip history", &text, || match load_file(&path) {
            Ok(history) => history.series.len(),
            Err(e) => e.message.len(),
        });
    }

    #[test]
    fn fuzz_state_files(
        text in prop_oneof![
            3 => (ident(), any::<i64>(), any::<i64>(), any::<i64>(), json_value()).prop_map(|(k, a, b, c, x)| {
                serde_json::json!({"slos": {k: {"updated_at": a, "last_decision": "warn",
                    "rules": {"error": {"r": {"firing_since": b, "last_fired": c}, "x": x}}}}}).to_string()
            }),
            1 => json_value().prop_map(|v| v.to_string()),
        ].prop_flat_map(|t| (Just(t), edits())).prop_map(|(t, e)| mutate(&t, &e)),
        timers in (prop::option::of(any::<i64>()), prop::option::of(any::<i64>())),
        step in (any::<i64>(), any::<bool>(), 0i64..=31_536_000_000, 0i64..=31_536_000_000),
    ) {
        bounded("state", &text, || {
            let out = match serde_json::from_str::<StateStore>(&text) {
                Ok(_) => 0,
                Err(e) => e.to_string().len(),
            };
            let timers = serde_json::json!({"firing_since": timers.0, "last_fired": timers.1}).to_string();
            if let Ok(mut t) = serde_json::from_str::<RuleTimers>(&timers) {
                let (now, firing, for_ms, hold_ms) = step;
                let _ = t.step(now, firing, for_ms, hold_ms);
                let _ = t.step(now.saturating_add(60_000), firing, for_ms, hold_ms);
            }
            out
        });
    }

    #[test]
    fn fuzz_shards(text in prop_oneof![
        3 => (any::<u32>(), any::<u32>()).prop_map(|(i, n)| format!("{i}/{n}")),
        1 => any::<String>(),
    ]) {
        bounded("shard", &text, || match burnrate::daemon::shard::Shard::parse(&text) {
            Ok(shard) => {
                if shard.count <= 1024 {
                    let _ = shard.owns("svc/slo");
                }
                0
            }
            Err(e) => e.to_string().len() / 4,
        });
    }
}
