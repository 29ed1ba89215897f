//! Prometheus's PromQL test-script language (promql/test.go in 2.42, promqltest in 3.x):
//! parsing `load`/`clear`/`eval` commands and running them against burnrate's evaluator.
//!
//! Why a reader of our own: the scripts are Prometheus's proof of its semantics, and running
//! them unchanged is the strongest evidence that the local evaluator answers the same.
//! Comparison follows test.go: values almost equal (relative 1e-6) with NaN equal to NaN,
//! series as an unordered set unless `eval_ordered`.

use burnrate::promql::{
    Flavor, Labels, MemStorage, Query, SeriesSamples, Steps, Value, eval_instant, eval_range,
};
use std::collections::BTreeMap;

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// One expected or loaded series: labels and values (`None` = omitted `_`).
type SeriesDef = (Labels, Vec<Option<f64>>);

#[derive(Debug)]
enum Cmd {
    Load {
        interval_ms: i64,
        series: Vec<SeriesDef>,
        /// Metric names of series this runner cannot represent (native histograms).
        native: Vec<String>,
        /// Their label sets, where the line spells them out.
        native_series: Vec<Labels>,
    },
    Clear,
    Eval(EvalCmd),
}

#[derive(Debug)]
struct EvalCmd {
    line: usize,
    expr: String,
    /// `Steps::at(t)` for `eval instant`.
    steps: Steps,
    range: bool,
    fail: bool,
    ordered: bool,
    /// Reason to skip regardless of the expression (e.g. `expect string`).
    skip: Option<String>,
    scalar: Option<f64>,
    series: Vec<SeriesDef>,
}

/// Outcome counts of one script file.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub ran: usize,
    pub passed: usize,
    pub skipped: BTreeMap<String, usize>,
    pub failures: Vec<String>,
    /// Cases skipped because the parser crate rejects valid PromQL: worth a look each time.
    pub parser_rejects: Vec<String>,
}

impl Report {
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }

    pub fn add(&mut self, other: &Report) {
        self.ran += other.ran;
        self.passed += other.passed;
        for (k, v) in &other.skipped {
            *self.skipped.entry(k.clone()).or_default() += v;
        }
        self.failures.extend(other.failures.iter().cloned());
        self.parser_rejects
            .extend(other.parser_rejects.iter().cloned());
    }

    fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }
}

/// `model.ParseDuration`: `1h30m`, `5m`, `10s`, `100ms`, `2d`, `1w`, `1y`; also plain
/// integers (seconds), as promqltest accepts for range bounds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n * 1000);
    }
    let mut total = 0i64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let ms = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return None,
        };
        total += n * ms;
    }
    Some(total)
}

/// A PromQL number as the lexer reads it in series descriptions (no hex there).
fn parse_number_prefix(s: &str) -> Option<(f64, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let rest = &s[i..];
    let lower = rest.to_ascii_lowercase();
    for (word, v) in [("inf", f64::INFINITY), ("nan", f64::NAN)] {
        if lower.starts_with(word) {
            let v = if neg { -v } else { v };
            return Some((v, &rest[word.len()..]));
        }
    }
    let mut j = 0;
    let rb = rest.as_bytes();
    while j < rb.len() && (rb[j].is_ascii_digit() || rb[j] == b'.') {
        j += 1;
    }
    if j == 0 {
        return None;
    }
    if j < rb.len() && (rb[j] == b'e' || rb[j] == b'E') {
        let mut k = j + 1;
        if k < rb.len() && (rb[k] == b'+' || rb[k] == b'-') {
            k += 1;
        }
        let d = rb[k..].iter().take_while(|c| c.is_ascii_digit()).count();
        if d > 0 {
            j = k + d;
        }
    }
    let v: f64 = rest[..j].parse().ok()?;
    Some((if neg { -v } else { v }, &rest[j..]))
}

/// One item of the expanded series notation.
fn parse_item(item: &str) -> Option<Vec<Option<f64>>> {
    if item == "_" {
        return Some(vec![None]);
    }
    if let Some(n) = item.strip_prefix("_x") {
        return Some(vec![None; n.parse().ok()?]);
    }
    let (start, rest) = if let Some(r) = item.strip_prefix("stale") {
        (f64::from_bits(STALE_NAN), r)
    } else {
        parse_number_prefix(item)?
    };
    if rest.is_empty() {
        return Some(vec![Some(start)]);
    }
    if let Some(n) = rest.strip_prefix('x') {
        let n: usize = n.parse().ok()?;
        return Some(vec![Some(start); n + 1]);
    }
    if !(rest.starts_with('+') || rest.starts_with('-')) {
        return None;
    }
    let (delta, rest) = parse_number_prefix(rest)?;
    let n: usize = rest.strip_prefix('x')?.parse().ok()?;
    let mut out = Vec::with_capacity(n + 1);
    let mut v = start;
    for _ in 0..=n {
        out.push(Some(v));
        v += delta;
    }
    Some(out)
}

/// Unescapes a Go/PromQL quoted string body.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// Splits `metric{a="b"} rest` into labels and the rest of the line.
fn parse_metric(line: &str) -> Option<(Labels, &str)> {
    let mut labels = Labels::new();
    let line = line.trim_start();
    let name_len = line
        .bytes()
        .take_while(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
        .count();
    if name_len > 0 {
        labels.insert("__name__".into(), line[..name_len].to_string());
    }
    let mut rest = &line[name_len..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut s = body;
        loop {
            s = s.trim_start_matches([' ', ',', '\t']);
            if let Some(r) = s.strip_prefix('}') {
                rest = r;
                break;
            }
            let n = s
                .bytes()
                .take_while(|&c| c.is_ascii_alphanumeric() || c == b'_')
                .count();
            if n == 0 {
                return None;
            }
            let name = &s[..n];
            s = s[n..].trim_start().strip_prefix('=')?.trim_start();
            let quote = s.chars().next()?;
            if !matches!(quote, '"' | '\'' | '`') {
                return None;
            }
            let body = &s[1..];
            let mut end = None;
            let mut escaped = false;
            for (i, c) in body.char_indices() {
                if escaped {
                    escaped = false;
                } else if c == '\\' && quote != '`' {
                    escaped = true;
                } else if c == quote {
                    end = Some(i);
                    break;
                }
            }
            let end = end?;
            let value = if quote == '`' {
                body[..end].to_string()
            } else {
                unescape(&body[..end])
            };
            if !value.is_empty() {
                labels.insert(name.to_string(), value);
            }
            s = &body[end + 1..];
        }
    } else if name_len == 0 {
        return None;
    }
    Some((labels, rest))
}

fn parse_series_def(line: &str) -> Option<SeriesDef> {
    let (labels, rest) = parse_metric(line)?;
    let mut values = Vec::new();
    for item in rest.split_whitespace() {
        values.extend(parse_item(item)?);
    }
    Some((labels, values))
}

/// test.go's `parseNumber`: an integer in any Go base, else a float.
fn parse_scalar_line(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(i as f64);
    }
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok().map(|i| i as f64);
    }
    match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" => return Some(f64::INFINITY),
        "-inf" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if s.bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return s.parse().ok();
    }
    None
}

fn parse(text: &str) -> Result<Vec<Cmd>, String> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                String::new()
            } else {
                l.to_string()
            }
        })
        .collect();
    let eval_instant_re = regex::Regex::new(
        r"^eval(?:_(fail|ordered|warn|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
    )
    .unwrap();
    let eval_range_re = regex::Regex::new(
        r"^eval(?:_(fail|ordered|warn|info))?\s+range\s+from\s+(.+?)\s+to\s+(.+?)\s+step\s+(.+?)\s+(.+)$",
    )
    .unwrap();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if word == "clear" {
            cmds.push(Cmd::Clear);
            i += 1;
        } else if word == "load" || word == "load_with_nhcb" {
            let interval = l.split_whitespace().nth(1).ok_or("load without interval")?;
            let interval_ms =
                parse_duration(interval).ok_or_else(|| format!("bad interval {interval}"))?;
            let mut series = Vec::new();
            let mut native = Vec::new();
            let mut native_series = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                match parse_series_def(&lines[i]) {
                    Some(s) if word == "load" => series.push(s),
                    // Native histogram samples (`{{...}}`) and other 3.x-only notation.
                    _ => {
                        let name: String = lines[i]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                            .collect();
                        if name.is_empty() {
                            return Err(format!("line {}: bad series {:?}", i + 1, lines[i]));
                        }
                        if let Some((labels, _)) = parse_metric(&lines[i]) {
                            native_series.push(labels);
                        }
                        // Native histograms are queried by the name without `_bucket`.
                        if let Some(base) = name.strip_suffix("_bucket") {
                            native.push(base.to_string());
                        }
                        native.push(name);
                    }
                }
                i += 1;
            }
            cmds.push(Cmd::Load {
                interval_ms,
                series,
                native,
                native_series,
            });
        } else if word.starts_with("eval") {
            let line_no = i + 1;
            let (mode, steps, expr, range) = if let Some(c) = eval_range_re.captures(l) {
                let start = parse_duration(&c[2]).ok_or("bad range start")?;
                let end = parse_duration(&c[3]).ok_or("bad range end")?;
                let step = parse_duration(&c[4]).ok_or("bad range step")?;
                (
                    c.get(1).map(|m| m.as_str().to_string()),
                    Steps {
                        start_ms: start,
                        end_ms: end,
                        step_ms: step,
                    },
                    c[5].to_string(),
                    true,
                )
            } else if let Some(c) = eval_instant_re.captures(l) {
                let at = c.get(2).map_or(Some(0), |m| parse_duration(m.as_str()));
                (
                    c.get(1).map(|m| m.as_str().to_string()),
                    Steps::at(at.ok_or("bad eval time")?),
                    c[3].to_string(),
                    false,
                )
            } else {
                return Err(format!("line {line_no}: bad eval {l:?}"));
            };
            let mut cmd = EvalCmd {
                line: line_no,
                expr,
                steps,
                range,
                fail: mode.as_deref() == Some("fail"),
                ordered: mode.as_deref() == Some("ordered"),
                skip: None,
                scalar: None,
                series: Vec::new(),
            };
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let d = &lines[i];
                i += 1;
                if let Some(e) = d.strip_prefix("expect") {
                    let e = e.trim();
                    if e.starts_with("fail") {
                        cmd.fail = true;
                    } else if e.starts_with("ordered") {
                        cmd.ordered = true;
                    } else if e.starts_with("string") || e.starts_with("range") {
                        cmd.skip = Some(format!(
                            "expect {}",
                            e.split_whitespace().next().unwrap_or("")
                        ));
                    }
                    continue;
                }
                if cmd.series.is_empty()
                    && cmd.scalar.is_none()
                    && let Some(v) = parse_scalar_line(d)
                {
                    cmd.scalar = Some(v);
                    continue;
                }
                match parse_series_def(d) {
                    Some(s) => cmd.series.push(s),
                    None => {
                        cmd.skip = Some(if d.contains("{{") {
                            "native histogram expectation".into()
                        } else {
                            format!("unreadable expectation {d:?}")
                        });
                    }
                }
            }
            cmds.push(Cmd::Eval(cmd));
        } else {
            return Err(format!("line {}: unknown command {l:?}", i + 1));
        }
    }
    Ok(cmds)
}

/// test.go's `almostEqual`.
pub fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 0.000001;
    let min_normal = f64::from_bits(0x0010_0000_0000_0000);
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || diff < min_normal {
        return diff < EPSILON * min_normal;
    }
    diff / (a.abs() + b.abs()) < EPSILON
}

fn fmt_labels(l: &Labels) -> String {
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Compares an instant result with the expectation, as `compareResult`.
fn compare_instant(cmd: &EvalCmd, got: &Value) -> Result<(), String> {
    match got {
        Value::Scalar(v) => {
            let Some(want) = cmd.scalar else {
                return Err(format!("got scalar {v}, expected series {:?}", cmd.series));
            };
            if !almost_equal(want, *v) {
                return Err(format!("expected scalar {want} but got {v}"));
            }
            Ok(())
        }
        Value::Vector(vec) => {
            if cmd.scalar.is_some() {
                return Err(format!("expected a scalar, got vector {vec:?}"));
            }
            let mut seen = vec![false; cmd.series.len()];
            for (pos, (l, v)) in vec.iter().enumerate() {
                let Some(idx) = cmd.series.iter().position(|(el, _)| el == l) else {
                    return Err(format!("unexpected metric {} {v} in result", fmt_labels(l)));
                };
                if cmd.ordered && idx != pos {
                    return Err(format!(
                        "expected metric {} at position {} but was at {}",
                        fmt_labels(l),
                        idx + 1,
                        pos + 1
                    ));
                }
                let want = cmd.series[idx].1.first().copied().flatten();
                let Some(want) = want else {
                    return Err(format!("no expected value for {}", fmt_labels(l)));
                };
                if !almost_equal(want, *v) {
                    return Err(format!("expected {want} for {} but got {v}", fmt_labels(l)));
                }
                seen[idx] = true;
            }
            if let Some(i) = seen.iter().position(|s| !s) {
                return Err(format!(
                    "expected metric {} not found (got {vec:?})",
                    fmt_labels(&cmd.series[i].0)
                ));
            }
            Ok(())
        }
        Value::Matrix(_) => Err("received range result on instant evaluation".into()),
        Value::String(s) => Err(format!("unexpected string result {s:?}")),
    }
}

fn compare_range(cmd: &EvalCmd, got: &[burnrate::promql::RangeSeries]) -> Result<(), String> {
    let n = cmd.steps.count();
    let mut seen = vec![false; cmd.series.len()];
    for s in got {
        let Some(idx) = cmd.series.iter().position(|(el, _)| *el == s.labels) else {
            return Err(format!("unexpected series {}", fmt_labels(&s.labels)));
        };
        seen[idx] = true;
        let want = &cmd.series[idx].1;
        for i in 0..n {
            let w = want.get(i).copied().flatten();
            match (w, s.values[i]) {
                (None, None) => {}
                (Some(a), Some(b)) if almost_equal(a, b) => {}
                (a, b) => {
                    return Err(format!(
                        "{} at step {i}: expected {a:?}, got {b:?}",
                        fmt_labels(&s.labels)
                    ));
                }
            }
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        // A scalar result arrives as one series without labels.
        return Err(format!(
            "expected series {} not found",
            fmt_labels(&cmd.series[i].0)
        ));
    }
    Ok(())
}

/// The reason an expression is skipped, from `Query::parse`'s error.
fn skip_reason(e: &burnrate::promql::QueryError) -> String {
    if e.unsupported {
        let m = &e.message;
        m.split(" is not supported").next().unwrap_or(m).to_string()
    } else {
        "promql-parser rejects the expression".to_string()
    }
}

/// Runs one script file.
pub fn run_script(name: &str, text: &str, flavor: Flavor) -> Report {
    run_script_over(name, text, flavor, MemStorage::new())
}

/// Runs one script file with its series loaded into `storage` (plain or compact).
pub fn run_script_over(name: &str, text: &str, flavor: Flavor, mut storage: MemStorage) -> Report {
    let mut report = Report::default();
    let cmds = match parse(text) {
        Ok(c) => c,
        Err(e) => {
            report
                .failures
                .push(format!("{name}: cannot read the script: {e}"));
            return report;
        }
    };
    let mut native_names: Vec<String> = Vec::new();
    let mut native_labels: Vec<Labels> = Vec::new();
    for cmd in cmds {
        match cmd {
            Cmd::Clear => {
                storage.clear();
                native_names.clear();
                native_labels.clear();
            }
            Cmd::Load {
                interval_ms,
                series,
                native,
                native_series,
            } => {
                native_names.extend(native);
                native_labels.extend(native_series);
                // As test.go's `loadCmd.set`: a series defined twice in one load keeps the
                // last definition.
                let mut defs: BTreeMap<Labels, Vec<Option<f64>>> = BTreeMap::new();
                for (labels, values) in series {
                    defs.insert(labels, values);
                }
                for (labels, values) in defs {
                    let s: &mut SeriesSamples = storage.series_mut(&labels);
                    for (i, v) in values.into_iter().enumerate() {
                        if let Some(v) = v {
                            s.push(i as i64 * interval_ms, v);
                        }
                    }
                }
            }
            Cmd::Eval(cmd) => {
                if let Some(reason) = &cmd.skip {
                    report.skip(reason.clone());
                    continue;
                }
                let mentions = |name: &str| {
                    cmd.expr.match_indices(name).any(|(i, _)| {
                        let before = cmd.expr[..i].chars().next_back();
                        let after = cmd.expr[i + name.len()..].chars().next();
                        let ident = |c: Option<char>| {
                            c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                        };
                        !ident(before) && !ident(after)
                    })
                };
                if native_names.iter().any(|n| mentions(n)) || cmd.expr.contains("{{") {
                    report.skip("native histogram data");
                    continue;
                }
                let q = match Query::parse(&cmd.expr) {
                    Ok(q) => q,
                    Err(e) => {
                        if !e.unsupported {
                            report
                                .parser_rejects
                                .push(format!("{name}:{} `{}`: {e}", cmd.line, cmd.expr));
                        }
                        report.skip(skip_reason(&e));
                        continue;
                    }
                };
                // A selector matching a native-histogram series without naming it (a regex
                // on `__name__`, labels only) reads data this runner cannot load.
                let reads_native = q.selectors().iter().any(|need| {
                    native_labels.iter().any(|l| {
                        let all = |ms: &[promql_parser::label::Matcher]| {
                            ms.iter().all(|m| {
                                m.is_match(l.get(&m.name).map(String::as_str).unwrap_or(""))
                            })
                        };
                        let m = &need.matchers;
                        if m.or_matchers.is_empty() {
                            all(&m.matchers)
                        } else {
                            m.or_matchers.iter().any(|o| all(o))
                        }
                    })
                });
                if reads_native {
                    report.skip("native histogram data");
                    continue;
                }
                report.ran += 1;
                let outcome = if cmd.range {
                    match eval_range(&q, &storage, cmd.steps, flavor) {
                        Err(e) if cmd.fail => {
                            let _ = e;
                            Ok(())
                        }
                        Err(e) => Err(format!("error: {e}")),
                        Ok(_) if cmd.fail => Err("expected an error, got none".into()),
                        Ok(r) => {
                            // A scalar expectation on a range query is a labelless series.
                            compare_range(&cmd, &r)
                        }
                    }
                } else {
                    match eval_instant(&q, &storage, cmd.steps.start_ms, flavor) {
                        Err(_) if cmd.fail => Ok(()),
                        Err(e) => Err(format!("error: {e}")),
                        Ok(_) if cmd.fail => Err("expected an error, got none".into()),
                        Ok(v) => compare_instant(&cmd, &v),
                    }
                };
                match outcome {
                    Ok(()) => report.passed += 1,
                    Err(e) => report
                        .failures
                        .push(format!("{name}:{} `{}`: {e}", cmd.line, cmd.expr)),
                }
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_series_notation() {
        assert_eq!(
            parse_item("1+2x3").unwrap(),
            vec![Some(1.0), Some(3.0), Some(5.0), Some(7.0)]
        );
        assert_eq!(
            parse_item("-2-3x2").unwrap(),
            vec![Some(-2.0), Some(-5.0), Some(-8.0)]
        );
        assert_eq!(parse_item("_x3").unwrap(), vec![None; 3]);
        assert_eq!(parse_item("5x2").unwrap(), vec![Some(5.0); 3]);
        assert!(parse_item("stale").unwrap()[0].unwrap().is_nan());
        assert_eq!(parse_item("-Inf").unwrap(), vec![Some(f64::NEG_INFINITY)]);
        assert_eq!(parse_item("1e3").unwrap(), vec![Some(1000.0)]);
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        let (l, rest) = parse_metric(r#"foo{a="b", c="x\"y"} 1 2"#).unwrap();
        assert_eq!(l.get("c").map(String::as_str), Some("x\"y"));
        assert_eq!(rest.trim(), "1 2");
    }
}
