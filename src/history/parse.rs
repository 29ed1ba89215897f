//! Readers for recorded history files: OpenMetrics text with timestamps and saved
//! Prometheus `query_range` JSON responses, optionally gzip-compressed.
//!
//! `backtest --history FILE` replays weeks of evaluations from a file instead of a backend,
//! so the file must mean exactly what Prometheus would have stored. The OpenMetrics reader is
//! hand-written and strict because the `prometheus-parse` crate silently corrupts real data
//! (it cuts label values at commas, drops lines with escaped quotes and turns fractional
//! timestamps into "now"); a history that is quietly wrong gives a backtest that is
//! confidently wrong. Anything we cannot read exactly is an error naming the line.
//!
//! Where we knowingly differ from `promtool tsdb create-blocks-from openmetrics` (checked
//! against promtool 2.42):
//! - out-of-order samples are kept and sorted (promtool silently drops every sample older
//!   than the newest one of its series), because saved exports are often concatenations of
//!   chunks in no particular order;
//! - a repeated timestamp in one series keeps the last sample (promtool keeps the first) and
//!   is counted in [`ParseStats`], so the caller can say the file disagrees with itself;
//! - timestamps with sub-millisecond digits are rounded to the nearest millisecond (promtool
//!   truncates); with at most three decimals both give the same millisecond;
//! - a missing `# EOF` is accepted, so plain Prometheus text with timestamps reads too, and
//!   blank lines after it are tolerated (promtool rejects them);
//! - only the three escapes OpenMetrics defines are accepted in quoted strings (promtool
//!   keeps `\t` as backslash-t; a writer that put it there most likely meant a tab, so we
//!   say so instead of guessing);
//! - Prometheus 3's quoted UTF-8 names (`{"http.server.duration","service.name"="x"}`) are
//!   read, which promtool 2.x rejects.
//!
//! Like Prometheus, a label with an empty value is dropped: it is the same as no label.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::path::Path;

use super::{History, Sample, Series};
use crate::backend::api::{self, MAX_ABS_SECONDS};
use crate::limits::{MAX_GZIP_RATIO, MIN_GZIP_INFLATED_BYTES, MIN_INSTANT_MS, is_instant};

/// Why a history could not be read. `line` is 1-based when the problem is on a known line.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryError {
    pub line: Option<usize>,
    pub message: String,
}

impl HistoryError {
    fn at(line: usize, message: impl Into<String>) -> Self {
        HistoryError {
            line: Some(line),
            message: message.into(),
        }
    }

    fn general(message: impl Into<String>) -> Self {
        HistoryError {
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for HistoryError {}

/// What reading a history found besides the series, for the caller to report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Series in the result.
    pub series: usize,
    /// Samples kept in the result.
    pub samples: usize,
    /// Samples dropped because a later sample of the same series had the same timestamp.
    pub duplicates: usize,
    /// Of `duplicates`, those whose value differed from the kept one: the data disagreed
    /// with itself, which overlapping `query_range` chunks never do.
    pub conflicting_duplicates: usize,
    /// Samples that came earlier in time than the sample before them in the same series.
    pub out_of_order: usize,
}

impl ParseStats {
    fn log(&self) {
        if self.conflicting_duplicates > 0 {
            tracing::warn!(
                duplicates = self.duplicates,
                conflicting = self.conflicting_duplicates,
                "history has samples with repeated timestamps and different values; kept the last of each"
            );
        } else if self.duplicates > 0 || self.out_of_order > 0 {
            tracing::debug!(
                duplicates = self.duplicates,
                out_of_order = self.out_of_order,
                "history had repeated or out-of-order samples; merged and sorted"
            );
        }
    }
}

/// Parses OpenMetrics (or Prometheus text) exposition where every sample has a timestamp in
/// Unix seconds, the input of `promtool tsdb create-blocks-from openmetrics`.
pub fn parse_openmetrics(text: &str) -> Result<History, HistoryError> {
    let (history, stats) = parse_openmetrics_with_stats(text)?;
    stats.log();
    Ok(history)
}

/// [`parse_openmetrics`], also returning what was merged or reordered.
pub fn parse_openmetrics_with_stats(text: &str) -> Result<(History, ParseStats), HistoryError> {
    let mut builder = Builder::default();
    // The text of a series' name and labels, exactly as written, to its index: exports
    // repeat the same few thousand series millions of times, so most lines skip label
    // parsing and allocation entirely.
    let mut by_text: HashMap<&str, usize, FastHash> = HashMap::default();
    let mut eof_line = None;

    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() {
            continue;
        }
        if let Some(eof) = eof_line {
            return Err(HistoryError::at(
                line_no,
                format!(
                    "unexpected content after \"# EOF\" on line {eof}; \"# EOF\" must end the file"
                ),
            ));
        }
        if line.starts_with('#') {
            if line.trim_end_matches([' ', '\t']) == "# EOF" {
                eof_line = Some(line_no);
            }
            continue;
        }
        parse_sample_line(line, &mut by_text, &mut builder)
            .map_err(|m| HistoryError::at(line_no, m))?;
    }
    Ok(builder.finish())
}

fn parse_sample_line<'a>(
    line: &'a str,
    by_text: &mut HashMap<&'a str, usize, FastHash>,
    builder: &mut Builder,
) -> Result<(), String> {
    let bytes = line.as_bytes();
    let cached =
        scan_series_text(bytes).and_then(|end| by_text.get(&line[..end]).map(|&i| (i, end)));
    let (series, end) = match cached {
        Some(hit) => hit,
        None => {
            let (labels, end) = parse_series_labels(line)?;
            let series = builder.series_index(labels);
            by_text.insert(&line[..end], series);
            (series, end)
        }
    };

    let mut i = end;
    if i >= bytes.len() {
        return Err(format!(
            "expected a value after {}, found end of line",
            &line[..end]
        ));
    }
    if !is_blank(bytes[i]) {
        return Err(format!(
            "expected a space after {}, found {}",
            &line[..end],
            describe(line, i)
        ));
    }
    i = skip_blanks(bytes, i);
    let (value_text, next) = token(line, i);
    let value = parse_value(value_text)?;
    i = skip_blanks(bytes, next);
    let (ts_text, next) = token(line, i);
    if ts_text.is_empty() || ts_text.starts_with('#') {
        return Err(
            "sample has no timestamp; every sample of a history needs one (Unix seconds, e.g. `up 1 1700000000`)"
                .to_string(),
        );
    }
    let t_ms = parse_timestamp(ts_text)?;
    i = skip_blanks(bytes, next);
    // Anything after the timestamp may only be an OpenMetrics exemplar (`# {...} v t`),
    // which describes a trace, not the series, so it is ignored.
    if i < bytes.len() && bytes[i] != b'#' {
        return Err(format!(
            "unexpected text after the timestamp: {:?}",
            &line[i..]
        ));
    }
    builder.push(series, Sample { t_ms, value });
    Ok(())
}

/// Where the name-and-labels part of a sample line ends, found by skipping quoted strings
/// only; `None` when it is malformed. Validation is left to [`parse_series_labels`], which
/// runs the first time any given text is seen.
fn scan_series_text(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < bytes.len() && is_name_char(bytes[i]) {
        i += 1;
    }
    if i < bytes.len() && bytes[i] == b'{' {
        i += 1;
        let mut in_quotes = false;
        while i < bytes.len() {
            match (in_quotes, bytes[i]) {
                (true, b'\\') => i += 1,
                (_, b'"') => in_quotes = !in_quotes,
                (false, b'}') => return Some(i + 1),
                _ => {}
            }
            i += 1;
        }
        return None;
    }
    (i > 0).then_some(i)
}

/// Parses `name`, `name{l="v",...}` or the UTF-8 form `{"name","l.x"="v"}` at the start of a
/// line; returns the labels (name under `__name__`) and where they end.
fn parse_series_labels(line: &str) -> Result<(BTreeMap<String, String>, usize), String> {
    let bytes = line.as_bytes();
    let mut labels = BTreeMap::new();
    let mut i = 0;
    if is_name_start(bytes[0]) {
        while i < bytes.len() && is_name_char(bytes[i]) {
            i += 1;
        }
        labels.insert("__name__".to_string(), line[..i].to_string());
    } else if bytes[0] != b'{' {
        return Err(format!(
            "expected a metric name at the start of the line, found {}",
            describe(line, 0)
        ));
    }

    if i < bytes.len() && bytes[i] == b'{' {
        i += 1;
        let mut first = true;
        loop {
            i = skip_blanks(bytes, i);
            if i >= bytes.len() {
                return Err("expected a label name or '}', found end of line".to_string());
            }
            if bytes[i] == b'}' {
                i += 1;
                break;
            }
            let quoted = bytes[i] == b'"';
            let name = if quoted {
                let (name, next) = parse_quoted(line, i, "label name")?;
                i = next;
                name
            } else if is_label_start(bytes[i]) {
                let start = i;
                while i < bytes.len() && is_label_char(bytes[i]) {
                    i += 1;
                }
                line[start..i].to_string()
            } else {
                return Err(format!(
                    "expected a label name or '}}', found {}",
                    describe(line, i)
                ));
            };
            if name.is_empty() {
                return Err("empty label name".to_string());
            }
            i = skip_blanks(bytes, i);
            let next = bytes.get(i).copied();
            if first && quoted && matches!(next, Some(b',' | b'}')) {
                // OpenMetrics 2.0 / Prometheus 3 spelling of a name that is not a valid
                // identifier: a lone quoted string first inside the braces.
                if labels.insert("__name__".to_string(), name).is_some() {
                    return Err("metric name given both before and inside the braces".to_string());
                }
            } else {
                if next != Some(b'=') {
                    return Err(format!(
                        "expected '=' after label name {name:?}, found {}",
                        describe(line, i)
                    ));
                }
                i = skip_blanks(bytes, i + 1);
                if bytes.get(i) != Some(&b'"') {
                    return Err(format!(
                        "expected '\"' to start the value of label {name:?}, found {}",
                        describe(line, i)
                    ));
                }
                let (value, next) = parse_quoted(line, i, &format!("value of label {name:?}"))?;
                i = next;
                if labels.contains_key(&name) {
                    return Err(format!("duplicate label {name:?}"));
                }
                labels.insert(name, value);
            }
            first = false;
            i = skip_blanks(bytes, i);
            match bytes.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => {
                    return Err(format!(
                        "expected ',' or '}}' after a label, found {}",
                        describe(line, i)
                    ));
                }
            }
        }
    }

    match labels.get("__name__") {
        None => return Err("missing metric name".to_string()),
        Some(name) if name.is_empty() => return Err("empty metric name".to_string()),
        Some(_) => {}
    }
    labels.retain(|_, v| !v.is_empty());
    Ok((labels, i))
}

/// Reads a double-quoted string starting at `start` (the opening quote), resolving the
/// three escapes OpenMetrics defines; returns it and the index after the closing quote.
fn parse_quoted(line: &str, start: usize, what: &str) -> Result<(String, usize), String> {
    let bytes = line.as_bytes();
    let mut out = String::new();
    let mut piece = start + 1;
    let mut i = piece;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                out.push_str(&line[piece..i]);
                return Ok((out, i + 1));
            }
            b'\\' => {
                out.push_str(&line[piece..i]);
                match bytes.get(i + 1) {
                    Some(b'\\') => out.push('\\'),
                    Some(b'"') => out.push('"'),
                    Some(b'n') => out.push('\n'),
                    Some(_) => {
                        return Err(format!(
                            "invalid escape \\{} in {what} (only \\\\, \\\" and \\n are allowed)",
                            line[i + 1..].chars().next().unwrap_or(' ')
                        ));
                    }
                    None => break,
                }
                i += 2;
                piece = i;
            }
            _ => i += 1,
        }
    }
    Err(format!("{what} is not terminated: missing closing '\"'"))
}

fn parse_value(text: &str) -> Result<f64, String> {
    text.parse::<f64>().map_err(|_| {
        if text.is_empty() {
            "expected a sample value".to_string()
        } else if text.starts_with('{') {
            "unexpected '{': no space is allowed between a metric name and its labels".to_string()
        } else {
            format!("invalid sample value {text:?} (expected a number, NaN, +Inf or -Inf)")
        }
    })
}

/// Unix seconds, possibly fractional, to milliseconds rounded to the nearest. Plain decimals
/// are converted digit by digit, exact at any magnitude; only exponent forms go through f64.
fn parse_timestamp(text: &str) -> Result<i64, String> {
    let invalid = || {
        format!(
            "invalid timestamp {text:?} (expected Unix seconds, e.g. 1700000000 or 1700000000.5)"
        )
    };
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let dot = digits
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(digits.len());
    let (int_part, frac_part) = (&digits[..dot], digits.get(dot + 1..).unwrap_or(&[]));
    let plain = !(int_part.is_empty() && frac_part.is_empty())
        && int_part.iter().chain(frac_part).all(u8::is_ascii_digit);

    let too_large = || {
        format!(
            "timestamp {text} is too large for Unix seconds; history timestamps are seconds, not milliseconds"
        )
    };
    let ms = if plain {
        let mut seconds: u64 = 0;
        for &d in int_part {
            seconds = seconds
                .saturating_mul(10)
                .saturating_add(u64::from(d - b'0'));
        }
        if seconds >= MAX_ABS_SECONDS {
            return Err(too_large());
        }
        let mut frac = [0u64; 4];
        for (slot, &d) in frac.iter_mut().zip(frac_part) {
            *slot = u64::from(d - b'0');
        }
        seconds * 1000 + frac[0] * 100 + frac[1] * 10 + frac[2] + u64::from(frac[3] >= 5)
    } else {
        let x: f64 = text.parse().map_err(|_| invalid())?;
        if !x.is_finite() {
            return Err(format!(
                "invalid timestamp {text:?} (must be a finite number of seconds)"
            ));
        }
        if x.abs() >= MAX_ABS_SECONDS as f64 {
            return Err(too_large());
        }
        (x.abs() * 1000.0).round() as u64
    };
    let ms = ms as i64;
    let ms = if negative { -ms } else { ms };
    if ms < MIN_INSTANT_MS {
        return Err(format!(
            "timestamp {text} is before 0000-01-01T00:00:00Z, the first instant burnrate reads"
        ));
    }
    if !is_instant(ms) {
        return Err(too_large());
    }
    Ok(ms)
}

fn token(line: &str, start: usize) -> (&str, usize) {
    let bytes = line.as_bytes();
    let mut end = start;
    while end < bytes.len() && !is_blank(bytes[end]) {
        end += 1;
    }
    (&line[start..end], end)
}

fn skip_blanks(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_blank(bytes[i]) {
        i += 1;
    }
    i
}

fn describe(line: &str, i: usize) -> String {
    match line.get(i..).and_then(|rest| rest.chars().next()) {
        Some(c) => format!("{c:?}"),
        None => "end of line".to_string(),
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}
fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}
fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}
fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}
fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// FNV-1a over the series text: keys are short and not attacker-chosen, and SipHash would
/// be the largest cost per line.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastHash = BuildHasherDefault<Fnv>;

/// Collects samples per label set, then sorts and de-duplicates each series once at the end,
/// which is cheaper than keeping them ordered while reading.
#[derive(Default)]
struct Builder {
    series: Vec<SeriesBuf>,
    by_labels: HashMap<BTreeMap<String, String>, usize>,
    out_of_order: usize,
}

struct SeriesBuf {
    labels: BTreeMap<String, String>,
    samples: Vec<Sample>,
    unsorted: bool,
    repeated: bool,
}

impl Builder {
    fn series_index(&mut self, labels: BTreeMap<String, String>) -> usize {
        if let Some(&i) = self.by_labels.get(&labels) {
            return i;
        }
        let i = self.series.len();
        self.by_labels.insert(labels.clone(), i);
        self.series.push(SeriesBuf {
            labels,
            samples: Vec::new(),
            unsorted: false,
            repeated: false,
        });
        i
    }

    fn push(&mut self, series: usize, sample: Sample) {
        let s = &mut self.series[series];
        if let Some(last) = s.samples.last() {
            if sample.t_ms < last.t_ms {
                s.unsorted = true;
                self.out_of_order += 1;
            } else if sample.t_ms == last.t_ms {
                s.repeated = true;
            }
        }
        s.samples.push(sample);
    }

    fn finish(self) -> (History, ParseStats) {
        let mut stats = ParseStats {
            out_of_order: self.out_of_order,
            ..ParseStats::default()
        };
        let series: Vec<Series> = self
            .series
            .into_iter()
            .map(|mut s| {
                if s.unsorted {
                    // Stable, so among equal timestamps the input order decides which is last.
                    s.samples.sort_by_key(|x| x.t_ms);
                    s.repeated = true;
                }
                if s.repeated {
                    let (dropped, conflicting) = keep_last_per_timestamp(&mut s.samples);
                    stats.duplicates += dropped;
                    stats.conflicting_duplicates += conflicting;
                }
                stats.samples += s.samples.len();
                Series {
                    labels: s.labels,
                    samples: s.samples,
                }
            })
            .collect();
        stats.series = series.len();
        (History { series }, stats)
    }
}

/// In time-sorted samples, keeps the last sample of each timestamp; returns how many were
/// dropped, and how many of those had a value other than the kept one.
fn keep_last_per_timestamp(samples: &mut Vec<Sample>) -> (usize, usize) {
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    let (mut write, mut read) = (0, 0);
    let (mut dropped, mut conflicting) = (0, 0);
    while read < samples.len() {
        let mut last = read;
        while last + 1 < samples.len() && samples[last + 1].t_ms == samples[read].t_ms {
            last += 1;
        }
        let kept = samples[last];
        dropped += last - read;
        conflicting += samples[read..last]
            .iter()
            .filter(|s| !same(s.value, kept.value))
            .count();
        samples[write] = kept;
        write += 1;
        read = last + 1;
    }
    samples.truncate(write);
    (dropped, conflicting)
}

/// Parses a saved Prometheus `query_range` response (`/api/v1/query_range`, resultType
/// `matrix`), or a JSON array of such responses: the API caps a query at 11,000 points per
/// series, so long ranges are saved in chunks. Series with the same labels are merged;
/// chunk boundaries repeat a timestamp, which is kept once.
pub fn parse_query_range_json(text: &str) -> Result<History, HistoryError> {
    let (history, stats) = parse_query_range_json_with_stats(text)?;
    stats.log();
    Ok(history)
}

/// [`parse_query_range_json`], also returning what was merged or reordered.
pub fn parse_query_range_json_with_stats(
    text: &str,
) -> Result<(History, ParseStats), HistoryError> {
    let responses: Vec<api::Response> = match first_non_blank(text) {
        Some(b'[') => serde_json::from_str(text).map_err(json_error)?,
        Some(b'{') => vec![serde_json::from_str(text).map_err(json_error)?],
        _ => {
            return Err(HistoryError::general(
                "expected a Prometheus query_range JSON response (an object, or an array of them)",
            ));
        }
    };
    let count = responses.len();
    let mut builder = Builder::default();
    for (k, response) in responses.into_iter().enumerate() {
        let which = if count > 1 {
            format!("response {} of {count}: ", k + 1)
        } else {
            String::new()
        };
        let fail = |m: String| HistoryError::general(format!("{which}{m}"));
        match response.status.as_deref() {
            Some("success") => {}
            Some(status) => {
                return Err(fail(format!(
                    "the query failed (status {status:?}): {}: {}",
                    response
                        .error_type
                        .as_deref()
                        .unwrap_or("unknown error type"),
                    response.error.as_deref().unwrap_or("no error message")
                )));
            }
            None => {
                return Err(fail(
                    "not a Prometheus API response: no \"status\" field (save the body of /api/v1/query_range as is)"
                        .to_string(),
                ));
            }
        }
        let data = response
            .data
            .ok_or_else(|| fail("response has no \"data\"".to_string()))?;
        match data.result_type.as_deref() {
            Some("matrix") => {}
            Some(other) => {
                return Err(fail(format!(
                    "resultType is {other:?}, but a history needs a range query: save the output of \
                     /api/v1/query_range (resultType \"matrix\"), not /api/v1/query"
                )));
            }
            None => return Err(fail("response data has no \"resultType\"".to_string())),
        }
        let items = match data.result {
            None => Vec::new(),
            Some(api::Results::Series(items)) => items,
            Some(_) => {
                return Err(fail(
                    "\"result\" of a matrix must be a list of series objects".to_string(),
                ));
            }
        };
        for s in items {
            let has_histograms = s.has_histograms();
            let mut labels = s.metric;
            labels.retain(|_, v| !v.is_empty());
            if has_histograms {
                return Err(fail(format!(
                    "{} (series {})",
                    api::NATIVE_HISTOGRAMS,
                    format_labels(&labels)
                )));
            }
            let values = s.values.ok_or_else(|| {
                fail(format!(
                    "series {} has no \"values\"",
                    format_labels(&labels)
                ))
            })?;
            let index = builder.series_index(labels);
            for p in values {
                builder.push(
                    index,
                    Sample {
                        t_ms: p.t_ms,
                        value: p.value,
                    },
                );
            }
        }
    }
    Ok(builder.finish())
}

fn first_non_blank(text: &str) -> Option<u8> {
    text.bytes().find(|b| !b.is_ascii_whitespace())
}

fn json_error(e: serde_json::Error) -> HistoryError {
    if e.line() == 0 {
        return HistoryError::general(format!("invalid JSON: {e}"));
    }
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    HistoryError::at(e.line(), format!("{message} (column {})", e.column()))
}

fn format_labels(labels: &BTreeMap<String, String>) -> String {
    let name = labels.get("__name__").map(String::as_str).unwrap_or("");
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{name}{{{}}}", rest.join(","))
}

/// Reads a history file: gzip is detected by its magic bytes (1f 8b), the format by the
/// content (a JSON object or array is a `query_range` response, anything else OpenMetrics
/// text), so users need not rename files to match. Errors name the path.
pub fn load_file(path: &Path) -> Result<History, HistoryError> {
    let (history, stats) = load_file_with_stats(path)?;
    stats.log();
    Ok(history)
}

/// [`load_file`], also returning what was merged or reordered.
pub(crate) fn load_file_with_stats(path: &Path) -> Result<(History, ParseStats), HistoryError> {
    let shown = path.display();
    let raw = std::fs::read(path)
        .map_err(|e| HistoryError::general(format!("cannot read {shown}: {e}")))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        inflate(&raw)
            .map_err(|e| HistoryError::general(format!("cannot decompress {shown} (gzip): {e}")))?
    } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err(HistoryError::general(format!(
            "{shown} is zstd-compressed; only gzip is supported (decompress it, or recompress with gzip)"
        )));
    } else {
        raw
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        HistoryError::at(
            line,
            format!(
                "{shown} is not UTF-8 text; expected OpenMetrics text or query_range JSON, optionally gzip-compressed"
            ),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parsed = if looks_like_json(text) {
        parse_query_range_json_with_stats(text)
    } else {
        parse_openmetrics_with_stats(text)
    };
    parsed.map_err(|e| HistoryError {
        line: e.line,
        message: format!("{} (in {shown})", e.message),
    })
}

/// Inflates gzip under a cap ([`MAX_GZIP_RATIO`] times the compressed size, at least
/// [`MIN_GZIP_INFLATED_BYTES`]): a small file must not turn into gigabytes of memory
/// before a single line is read.
fn inflate(compressed: &[u8]) -> Result<Vec<u8>, String> {
    let cap = (compressed.len() as u64)
        .saturating_mul(MAX_GZIP_RATIO)
        .max(MIN_GZIP_INFLATED_BYTES);
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(compressed)
        .take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > cap {
        return Err(format!(
            "it inflates to more than {cap} bytes ({MAX_GZIP_RATIO} times its size, at least \
             {} MiB): a gzip bomb, or decompress it yourself and pass the plain file",
            MIN_GZIP_INFLATED_BYTES >> 20
        ));
    }
    Ok(out)
}

/// `[` or `{"key":` starts JSON; `{"name"}` or `{"name",...` is an OpenMetrics line whose
/// metric name is quoted (Prometheus 3 UTF-8 names), which the first character alone
/// cannot tell apart.
fn looks_like_json(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = skip_ws(bytes, 0);
    match bytes.get(i) {
        Some(b'[') => return true,
        Some(b'{') => {}
        _ => return false,
    }
    i = skip_ws(bytes, i + 1);
    if bytes.get(i) != Some(&b'"') {
        return bytes.get(i).is_none_or(|&b| b == b'}');
    }
    i += 1;
    while i < bytes.len() && bytes[i] != b'"' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    i = skip_ws(bytes, i + 1);
    bytes.get(i) == Some(&b':')
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}
