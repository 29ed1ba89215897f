//! Strict parser for PromQL instant vector selectors as SREs write them in SLO specs
//! (`http_requests_total{job="checkout",code=~"5.."}`).
//!
//! Why not just hand the text to the backend: a typo in a spec must be rejected when the
//! spec is loaded, pointing at the exact column, not surface at query time as a bare
//! backend "parse error" (possibly hours later, possibly during an incident), and the
//! engine needs the selector's structure anyway (to append `_bucket`, to wrap it in
//! `rate(...[w])`). The accepted language follows Prometheus 2.42's parser for a lone
//! instant vector selector: same tokens, same string escapes, same regex anchoring, same
//! "at least one non-empty matcher" and "metric name set twice" checks. Everything that
//! would turn the selector into a larger expression (`[5m]`, `offset`, `@`, operators,
//! functions) is rejected: windows come from the spec, not from the selector.
//!
//! Offsets in [`SelectorError`] are counted in `char`s from the start of the input
//! (surrounding whitespace included), so a caller can add them to the column where the
//! text starts.

use std::fmt;
use std::str::FromStr;

/// The label that holds the metric name.
const NAME_LABEL: &str = "__name__";

/// Words the Prometheus 2.42 lexer turns into tokens that cannot start a vector selector
/// (compared case-insensitively). Other keywords (`sum`, `by`, `offset`, `start`, ...) are
/// accepted as bare metric names by its grammar, so they are accepted here too.
const RESERVED_METRIC_NAMES: &[&str] = &[
    "atan2",
    "bool",
    "group_left",
    "group_right",
    "ignoring",
    "on",
    "inf",
    "nan",
];

const ALLOWED_OPS: &str = r#""=", "!=", "=~" or "!~""#;

/// A label matching operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (the value is a regex, anchored at both ends)
    RegexMatch,
    /// `!~` (the value is a regex, anchored at both ends)
    RegexNoMatch,
}

impl MatchOp {
    /// The operator as written in PromQL.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        }
    }

    /// Whether the value is a regular expression.
    #[cfg(test)]
    fn is_regex(self) -> bool {
        matches!(self, MatchOp::RegexMatch | MatchOp::RegexNoMatch)
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `label op "value"` matcher. `value` is the unescaped string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Matcher {
    pub(crate) label: String,
    pub(crate) op: MatchOp,
    pub(crate) value: String,
}

impl Matcher {
    pub(crate) fn new(label: impl Into<String>, op: MatchOp, value: impl Into<String>) -> Self {
        Matcher {
            label: label.into(),
            op,
            value: value.into(),
        }
    }
}

impl fmt::Display for Matcher {
    /// `label="value"` with the value re-escaped as a Go double-quoted string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.label, self.op, quote(&self.value))
    }
}

/// A parsed instant vector selector.
///
/// Parsing normalises `{__name__="x", ...}` (the first `__name__` matcher with `=` and a
/// non-empty value, when no name precedes the braces) into `metric: Some("x")`, so
/// `metric` is the one place to look for the metric name. Any other `__name__` matchers
/// stay in `matchers`, in source order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    pub(crate) metric: Option<String>,
    pub(crate) matchers: Vec<Matcher>,
}

/// Why a selector was rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SelectorError {
    /// `char` offset into the input (not a byte offset) where the problem is.
    pub(crate) offset: usize,
    pub(crate) message: String,
}

impl SelectorError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        SelectorError {
            offset,
            message: message.into(),
        }
    }
}

/// Parses one PromQL instant vector selector, rejecting anything Prometheus 2.42 would
/// reject and anything that is more than a plain selector (ranges, `offset`, `@`,
/// operators, functions).
pub(crate) fn parse_selector(input: &str) -> Result<Selector, SelectorError> {
    Parser {
        chars: input.chars().collect(),
        pos: 0,
    }
    .parse()
}

/// The value of a PromQL string literal (`"..."`, `'...'` or a raw `` `...` ``), which must
/// be all of `literal`; `None` when it is not one (the PromQL parser then says why).
pub(crate) fn unquote(literal: &str) -> Option<String> {
    let mut parser = Parser {
        chars: literal.chars().collect(),
        pos: 0,
    };
    if !matches!(parser.peek(), Some('"' | '\'' | '`')) {
        return None;
    }
    let value = parser.parse_string().ok()?;
    (parser.pos == parser.chars.len()).then_some(value)
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_selector(s)
    }
}

impl Selector {
    /// Canonical PromQL text: metric name then `{label="value",...}` with values re-escaped
    /// (Go-style double-quoted string escaping: `\\ \" \n` etc.), braces omitted when there
    /// are no matchers. Matchers keep their order. Parsing the output gives an equal
    /// `Selector` for every selector `parse_selector` returns.
    ///
    /// The name is written as `{__name__="..."}` instead of before the braces when it is
    /// not a bare PromQL metric identifier (e.g. `foo-bar`, or the keyword `bool`) or when
    /// other `__name__` matchers are present (a name before the braces plus a `__name__`
    /// matcher is an error in PromQL).
    pub(crate) fn to_promql(&self) -> String {
        let name_matchers = self.matchers.iter().any(|m| m.label == NAME_LABEL);
        let mut out = String::new();
        let mut items: Vec<String> = Vec::with_capacity(self.matchers.len() + 1);
        match &self.metric {
            Some(name) if !name_matchers && is_bare_metric_name(name) => out.push_str(name),
            Some(name) => items.push(format!("{NAME_LABEL}={}", quote(name))),
            None => {}
        }
        items.extend(self.matchers.iter().map(Matcher::to_string));
        if !items.is_empty() || self.metric.is_none() {
            out.push('{');
            out.push_str(&items.join(","));
            out.push('}');
        }
        out
    }

    /// Same selector with the metric name suffixed, e.g. base histogram `h{job="x"}` ->
    /// `h_bucket{job="x"}`. Returns `None` if there is no metric name (`{__name__="h"}`
    /// counts as a metric name: parsing normalises it into `metric`). Other `__name__`
    /// matchers, if any, are kept unchanged.
    pub(crate) fn with_suffix(&self, suffix: &str) -> Option<Selector> {
        let metric = self.metric.as_ref()?;
        Some(Selector {
            metric: Some(format!("{metric}{suffix}")),
            matchers: self.matchers.clone(),
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_promql())
    }
}

/// A matcher plus where its parts start, for error reporting after the closing brace.
struct Located {
    matcher: Matcher,
    label_at: usize,
    matches_empty: bool,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn take_while(&mut self, pred: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// Skips PromQL whitespace (space, tab, CR, LF) and `#` line comments.
    fn skip_trivia(&mut self) {
        loop {
            match self.peek() {
                Some(c) if is_space(c) => self.pos += 1,
                Some('#') => {
                    while self.peek().is_some_and(|c| c != '\n' && c != '\r') {
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// A short description of the token starting at `at`, for "found X" messages.
    fn describe(&self, at: usize) -> String {
        let Some(&c) = self.chars.get(at) else {
            return "end of input".to_string();
        };
        let run = |pred: fn(char) -> bool| -> String {
            let text: String = self.chars[at..]
                .iter()
                .copied()
                .take_while(|&c| pred(c))
                .take(24)
                .collect();
            quote(&text)
        };
        match c {
            '"' | '\'' | '`' => "string literal".to_string(),
            c if c.is_ascii_digit() => run(|c| c.is_ascii_alphanumeric() || c == '.'),
            c if is_label_start(c) => run(is_metric_char),
            c if is_op_char(c) => run(is_op_char),
            c => quote(&c.to_string()),
        }
    }

    fn expected(&self, what: &str) -> SelectorError {
        SelectorError::new(
            self.pos,
            format!("expected {what}, found {}", self.describe(self.pos)),
        )
    }

    fn parse(mut self) -> Result<Selector, SelectorError> {
        self.skip_trivia();
        if self.peek().is_none() {
            return Err(SelectorError::new(0, "empty selector"));
        }
        let start = self.pos;

        let mut metric = None;
        if self.peek().is_some_and(is_metric_start) {
            let name = self.take_while(is_metric_char);
            if is_reserved(&name) {
                return Err(SelectorError::new(
                    start,
                    format!(
                        "{} is a promql keyword, not a metric name; write {{__name__={}}} instead",
                        quote(&name),
                        quote(&name)
                    ),
                ));
            }
            metric = Some(name);
            self.skip_trivia();
        }

        let mut matchers = Vec::new();
        let mut braces_at = start;
        if self.peek() == Some('{') {
            braces_at = self.pos;
            matchers = self.parse_braces()?;
            self.skip_trivia();
        } else if metric.is_none() {
            return Err(self.expected(r#"metric name or "{""#));
        }

        if self.pos < self.chars.len() {
            return Err(SelectorError::new(
                self.pos,
                format!(
                    "expected end of selector, found {}: write a plain instant vector selector \
                     without range, offset, @ or operators (windows come from the spec)",
                    self.describe(self.pos)
                ),
            ));
        }

        if let Some(name) = &metric {
            if let Some(dup) = matchers.iter().find(|m| m.matcher.label == NAME_LABEL) {
                return Err(SelectorError::new(
                    dup.label_at,
                    format!(
                        "metric name must not be set twice: {} before the braces and {} inside",
                        quote(name),
                        dup.matcher
                    ),
                ));
            }
        } else if matchers.iter().all(|m| m.matches_empty) {
            return Err(SelectorError::new(
                braces_at,
                "vector selector must contain at least one non-empty matcher",
            ));
        }

        let mut matchers: Vec<Matcher> = matchers.into_iter().map(|m| m.matcher).collect();
        if metric.is_none() {
            let named = matchers.iter().position(|m| {
                m.label == NAME_LABEL && m.op == MatchOp::Equal && !m.value.is_empty()
            });
            metric = named.map(|i| matchers.remove(i).value);
        }
        Ok(Selector { metric, matchers })
    }

    /// Parses `{ matcher, ... }` (trailing comma allowed); `self.pos` is at the `{`.
    fn parse_braces(&mut self) -> Result<Vec<Located>, SelectorError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            self.skip_trivia();
            match self.peek() {
                Some('}') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) if is_label_start(c) => out.push(self.parse_matcher()?),
                _ => return Err(self.expected(r#"label name or "}""#)),
            }
            self.skip_trivia();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => return Err(self.expected(r#""," or "}""#)),
            }
        }
    }

    /// Parses `label op "value"`; `self.pos` is at the label's first character.
    fn parse_matcher(&mut self) -> Result<Located, SelectorError> {
        let label_at = self.pos;
        let label = self.take_while(is_label_char);
        self.skip_trivia();

        let op_at = self.pos;
        let op_text = self.take_while(is_op_char);
        let op = match op_text.as_str() {
            "=" => MatchOp::Equal,
            "!=" => MatchOp::NotEqual,
            "=~" => MatchOp::RegexMatch,
            "!~" => MatchOp::RegexNoMatch,
            "" => {
                return Err(self.expected(&format!(
                    "matching operator {ALLOWED_OPS} after label {label}"
                )));
            }
            other => {
                return Err(SelectorError::new(
                    op_at,
                    format!(
                        "unknown matching operator {}, expected {ALLOWED_OPS}",
                        quote(other)
                    ),
                ));
            }
        };
        self.skip_trivia();

        let value_at = self.pos;
        if !matches!(self.peek(), Some('"' | '\'' | '`')) {
            return Err(self.expected(&format!("string literal after {}", quote(op.as_str()))));
        }
        let value = self.parse_string()?;

        let matches_empty = match op {
            MatchOp::Equal => value.is_empty(),
            MatchOp::NotEqual => !value.is_empty(),
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => {
                let matches_empty =
                    crate::limits::label_regex_matches_empty(&value).map_err(|why| {
                        SelectorError::new(
                            value_at,
                            format!("invalid regular expression for label {label}: {why}"),
                        )
                    })?;
                matches_empty == (op == MatchOp::RegexMatch)
            }
        };
        Ok(Located {
            matcher: Matcher { label, op, value },
            label_at,
            matches_empty,
        })
    }

    /// Parses a string literal; `self.pos` is at the opening quote.
    fn parse_string(&mut self) -> Result<String, SelectorError> {
        let open_at = self.pos;
        let quote_char = self.chars[open_at];
        let mut i = open_at + 1;

        if quote_char == '`' {
            // Raw string: no escapes, newlines allowed.
            let mut s = String::new();
            loop {
                match self.chars.get(i) {
                    None => {
                        return Err(SelectorError::new(
                            open_at,
                            "unterminated raw string literal",
                        ));
                    }
                    Some('`') => break,
                    Some('\u{FFFD}') => return Err(replacement_char(i)),
                    Some(&c) => s.push(c),
                }
                i += 1;
            }
            self.pos = i + 1;
            return Ok(s);
        }

        // "..." or '...': Go escapes; `\x` and octal escapes are single bytes, so collect
        // bytes and check UTF-8 at the end.
        let mut bytes = Vec::new();
        loop {
            match self.chars.get(i) {
                None | Some('\n') => {
                    return Err(SelectorError::new(open_at, "unterminated string literal"));
                }
                Some(&c) if c == quote_char => break,
                Some('\\') => i = self.unescape(open_at, i, &mut bytes)?,
                Some('\u{FFFD}') => return Err(replacement_char(i)),
                Some(&c) => {
                    push_char(&mut bytes, c);
                    i += 1;
                }
            }
        }
        self.pos = i + 1;
        String::from_utf8(bytes).map_err(|_| {
            SelectorError::new(
                open_at,
                "string literal is not valid utf-8 after unescaping (\\x and octal escapes are single bytes)",
            )
        })
    }

    /// Decodes the escape sequence whose backslash is at `at`, appending its bytes; returns
    /// the index just past it.
    fn unescape(
        &self,
        open_at: usize,
        at: usize,
        bytes: &mut Vec<u8>,
    ) -> Result<usize, SelectorError> {
        let quote_char = self.chars[open_at];
        let unterminated = || SelectorError::new(open_at, "unterminated string literal");
        let Some(&c) = self.chars.get(at + 1) else {
            return Err(unterminated());
        };
        let simple = match c {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            c if c == quote_char => Some(c as u8),
            _ => None,
        };
        if let Some(b) = simple {
            bytes.push(b);
            return Ok(at + 2);
        }

        let (digits_at, count, radix, max, kind) = match c {
            '0'..='7' => (at + 1, 3, 8, 0xFF, "octal"),
            'x' => (at + 2, 2, 16, 0xFF, "hex"),
            'u' => (at + 2, 4, 16, 0x10_FFFF, "hex"),
            'U' => (at + 2, 8, 16, 0x10_FFFF, "hex"),
            _ => {
                let hint = if c == '"' || c == '\'' {
                    format!(" (only the enclosing quote {quote_char} can be escaped)")
                } else {
                    String::new()
                };
                return Err(SelectorError::new(
                    at,
                    format!("unknown escape sequence \\{}{hint}", show(&c.to_string())),
                ));
            }
        };
        let mut value: u32 = 0;
        for k in 0..count {
            let Some(&d) = self.chars.get(digits_at + k) else {
                return Err(unterminated());
            };
            match d.to_digit(radix) {
                Some(x) => value = value * radix + x,
                None => {
                    let text: String = self.chars[at..=digits_at + k].iter().collect();
                    return Err(SelectorError::new(
                        at,
                        format!(
                            "invalid escape sequence {}: expected {count} {kind} digits",
                            show(&text)
                        ),
                    ));
                }
            }
        }
        let text: String = self.chars[at..digits_at + count].iter().collect();
        if max == 0xFF {
            // \ooo and \xHH: one byte.
            let byte = u8::try_from(value).map_err(|_| {
                SelectorError::new(
                    at,
                    format!("escape sequence {text} is out of range (max \\377)"),
                )
            })?;
            bytes.push(byte);
        } else {
            let ch = char::from_u32(value)
                .filter(|_| value <= max)
                .ok_or_else(|| {
                    SelectorError::new(
                        at,
                        format!("escape sequence {text} is not a valid unicode code point"),
                    )
                })?;
            push_char(bytes, ch);
        }
        Ok(digits_at + count)
    }
}

/// `s` with control characters made visible (and nothing else escaped).
fn show(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn replacement_char(at: usize) -> SelectorError {
    // Go's lexer cannot tell U+FFFD from an invalid byte and rejects both.
    SelectorError::new(
        at,
        "invalid utf-8 rune (U+FFFD) in string literal; write it as \\ufffd",
    )
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Go `strconv.Quote`-style double-quoted string (lower-case hex). U+FFFD and other
/// invisible characters are escaped so the output survives a re-parse unchanged.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if is_invisible(c) => {
                if (c as u32) <= 0xFFFF {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Approximation of `!unicode.IsPrint` beyond ASCII: controls, non-ASCII spaces, format
/// characters, separators, and U+FFFD (which the lexer rejects when written literally).
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{a0}'
                | '\u{ad}'
                | '\u{61c}'
                | '\u{1680}'
                | '\u{180e}'
                | '\u{2000}'..='\u{200f}'
                | '\u{2028}'..='\u{202f}'
                | '\u{205f}'..='\u{206f}'
                | '\u{3000}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffd}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_metric_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn is_label_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_op_char(c: char) -> bool {
    matches!(c, '=' | '!' | '~' | '<' | '>')
}

fn is_reserved(name: &str) -> bool {
    RESERVED_METRIC_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

/// Whether `name` can be written before the braces (otherwise it needs `__name__="..."`).
fn is_bare_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_metric_start) && chars.all(is_metric_char) && !is_reserved(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> Selector {
        parse_selector(input).unwrap_or_else(|e| panic!("{input:?} should parse, got {e:?}"))
    }

    /// Asserts the error offset exactly and that the message contains `needle`.
    fn err(input: &str, offset: usize, needle: &str) -> SelectorError {
        let e = match parse_selector(input) {
            Ok(sel) => panic!("{input:?} should fail, parsed as {sel:?}"),
            Err(e) => e,
        };
        assert_eq!(e.offset, offset, "offset for {input:?}: {e:?}");
        assert!(
            e.message.contains(needle),
            "message for {input:?} should contain {needle:?}: {:?}",
            e.message
        );
        e
    }

    fn m(label: &str, op: MatchOp, value: &str) -> Matcher {
        Matcher::new(label, op, value)
    }

    fn sel(metric: Option<&str>, matchers: Vec<Matcher>) -> Selector {
        Selector {
            metric: metric.map(str::to_string),
            matchers,
        }
    }

    fn roundtrip(s: &Selector) {
        let text = s.to_promql();
        assert_eq!(s.to_string(), text);
        let back = parse_selector(&text)
            .unwrap_or_else(|e| panic!("{text:?} from {s:?} does not re-parse: {e:?}"));
        assert_eq!(&back, s, "round trip through {text:?}");
    }

    use MatchOp::{Equal, NotEqual, RegexMatch, RegexNoMatch};

    #[test]
    fn brief_examples() {
        assert_eq!(
            ok(r#"http_requests_total{job="checkout",code=~"5.."}"#),
            sel(
                Some("http_requests_total"),
                vec![m("job", Equal, "checkout"), m("code", RegexMatch, "5..")]
            )
        );
        assert_eq!(
            ok(r#"go_map_update_failure_total{op_type!="", error_class!~"timeout|cancel"}"#),
            sel(
                Some("go_map_update_failure_total"),
                vec![
                    m("op_type", NotEqual, ""),
                    m("error_class", RegexNoMatch, "timeout|cancel")
                ]
            )
        );
        assert_eq!(
            ok(r#"{__name__="up", job='x'}"#),
            sel(Some("up"), vec![m("job", Equal, "x")])
        );
        assert_eq!(ok("up"), sel(Some("up"), vec![]));
        // A metric name is itself a non-empty matcher, so empty braces are fine after one.
        assert_eq!(ok("metric{}"), sel(Some("metric"), vec![]));
        assert_eq!(
            ok(r#"foo{a="b",}"#),
            sel(Some("foo"), vec![m("a", Equal, "b")])
        );
    }

    #[test]
    fn whitespace_and_comments() {
        let want = sel(
            Some("foo"),
            vec![m("a", Equal, "b"), m("c", RegexNoMatch, "d")],
        );
        assert_eq!(ok(" \t\r\n foo { a = \"b\" ,\n c !~ 'd' , } \n "), want);
        assert_eq!(ok("foo{a=\"b\",c!~'d'}"), want);
        assert_eq!(
            ok("foo # the counter\n{a=\"b\", # why\n c!~'d'} # done"),
            want
        );
        assert_eq!(ok("up # comment"), sel(Some("up"), vec![]));
        // A comment runs to the end of the line, swallowing the closing brace.
        err("foo{a=\"b\" # }", 13, "found end of input");
    }

    #[test]
    fn empty_input() {
        for input in ["", "   ", "\n\t\r ", "# only a comment"] {
            let e = err(input, 0, "empty selector");
            assert_eq!(e.message, "empty selector");
        }
    }

    #[test]
    fn metric_names() {
        assert_eq!(
            ok("job:http_requests:rate5m").metric.as_deref(),
            Some("job:http_requests:rate5m")
        );
        assert_eq!(ok(":a").metric.as_deref(), Some(":a"));
        assert_eq!(ok("_").metric.as_deref(), Some("_"));
        assert_eq!(ok("A9_:z").metric.as_deref(), Some("A9_:z"));
        // Keywords the 2.42 grammar accepts as metric names.
        for name in [
            "sum", "min", "by", "offset", "start", "end", "and", "without",
        ] {
            assert_eq!(ok(name).metric.as_deref(), Some(name));
            assert_eq!(
                ok(&format!("{name}{{a=\"b\"}}")).metric.as_deref(),
                Some(name)
            );
        }
        err("1abc", 0, r#"expected metric name or "{", found "1abc""#);
        err("  -foo", 2, r#"found "-""#);
        err(r#""foo""#, 0, "found string literal");
        err("foo-bar", 3, r#"found "-""#);
        err("foo.bar", 3, r#"found ".""#);
        err("é", 0, r#"found "é""#);
    }

    #[test]
    fn reserved_metric_names() {
        for name in [
            "bool",
            "BOOL",
            "on",
            "ignoring",
            "group_left",
            "group_right",
            "atan2",
            "Inf",
            "nan",
        ] {
            err(name, 0, "is a promql keyword");
            err(&format!(" {name}{{a=\"b\"}}"), 1, "__name__");
        }
        // ...but they are fine through __name__, and survive a round trip.
        let s = ok(r#"{__name__="bool", a="b"}"#);
        assert_eq!(s, sel(Some("bool"), vec![m("a", Equal, "b")]));
        assert_eq!(s.to_promql(), r#"{__name__="bool",a="b"}"#);
        roundtrip(&s);
    }

    #[test]
    fn label_names() {
        assert_eq!(ok(r#"{_a1="x"}"#).matchers, vec![m("_a1", Equal, "x")]);
        // Keywords are plain identifiers inside braces.
        assert_eq!(
            ok(r#"{by="x", offset="y"}"#).matchers,
            vec![m("by", Equal, "x"), m("offset", Equal, "y")]
        );
        err(
            r#"{1a="b"}"#,
            1,
            r#"expected label name or "}", found "1a""#,
        );
        err(r#"foo{"a"="b"}"#, 4, "found string literal");
        err(
            r#"foo{a:b="c"}"#,
            5,
            r#"expected matching operator "=", "!=", "=~" or "!~" after label a, found ":""#,
        );
        err(r#"foo{a-b="c"}"#, 5, r#"found "-""#);
        err(r#"foo{é="c"}"#, 4, r#"found "é""#);
    }

    #[test]
    fn matcher_structure() {
        err(
            "foo{",
            4,
            r#"expected label name or "}", found end of input"#,
        );
        err("foo{a", 5, "found end of input");
        err(
            "foo{a=",
            6,
            "expected string literal after \"=\", found end of input",
        );
        err(
            r#"foo{a="b""#,
            9,
            r#"expected "," or "}", found end of input"#,
        );
        err(r#"foo{a}"#, 5, r#"found "}""#);
        err(
            r#"foo{a=b}"#,
            6,
            r#"expected string literal after "=", found "b""#,
        );
        err(r#"foo{a=~b}"#, 7, r#"after "=~""#);
        err(r#"foo{a = = "b"}"#, 8, r#"found "=""#);
        err(
            r#"foo{a="b" c="d"}"#,
            10,
            r#"expected "," or "}", found "c""#,
        );
        err(r#"foo{,}"#, 4, r#"expected label name or "}", found ",""#);
        err(r#"foo{a="b",,}"#, 10, r#"found ",""#);
        err(r#"foo{a="b"{"#, 9, r#"found "{""#);
        err(r#"foo{{a="b"}}"#, 4, r#"found "{""#);
    }

    #[test]
    fn unknown_operators() {
        for (input, op_at, op) in [
            (r#"foo{a=="b"}"#, 5, "=="),
            (r#"foo{a~="b"}"#, 5, "~="),
            (r#"foo{a =! "b"}"#, 6, "=!"),
            (r#"foo{a<>"b"}"#, 5, "<>"),
            (r#"foo{a!"b"}"#, 5, "!"),
            (r#"foo{a~"b"}"#, 5, "~"),
            (r#"foo{a!=~"b"}"#, 5, "!=~"),
            (r#"foo{a >= "b"}"#, 6, ">="),
        ] {
            let e = err(input, op_at, &format!("unknown matching operator {op:?}"));
            assert!(
                e.message.ends_with(r#"expected "=", "!=", "=~" or "!~""#),
                "{e:?}"
            );
        }
    }

    #[test]
    fn string_literals() {
        let v = |input: &str| ok(input).matchers[0].value.clone();
        assert_eq!(v(r#"{a="x'y"}"#), "x'y");
        assert_eq!(v(r#"{a='x"y'}"#), "x\"y");
        assert_eq!(v(r#"{a='it\'s'}"#), "it's");
        assert_eq!(v(r#"{a="say \"hi\""}"#), "say \"hi\"");
        assert_eq!(v("{a=`raw\\n\\\"`}"), "raw\\n\\\"");
        assert_eq!(v("{a=`multi\nline`}"), "multi\nline");
        assert_eq!(v("{a=`'\"`}"), "'\"");
        assert_eq!(v(r#"{a="é€😀"}"#), "é€😀");
        assert_eq!(v("{a=\"tab\there\"}"), "tab\there");
    }

    #[test]
    fn escapes() {
        let v = |input: &str| ok(input).matchers[0].value.clone();
        assert_eq!(
            v(r#"{a="\a\b\f\n\r\t\v\\"}"#),
            "\u{07}\u{08}\u{0c}\n\r\t\u{0b}\\"
        );
        assert_eq!(
            v(r#"{a='\a\b\f\n\r\t\v\\'}"#),
            "\u{07}\u{08}\u{0c}\n\r\t\u{0b}\\"
        );
        assert_eq!(
            v(r#"{a="\x41\101\u00e9\U0001F600\x7f\000"}"#),
            "AAé😀\u{7f}\0"
        );
        assert_eq!(v(r#"{a="\xc3\xa9\303\251"}"#), "éé"); // bytes that form UTF-8
        assert_eq!(v(r#"{a="\uFFFD\u20AC"}"#), "\u{fffd}€");
        assert_eq!(v(r#"{a="\x5C\x22\x5c"}"#), "\\\"\\");
    }

    #[test]
    fn bad_escapes() {
        // Offsets point at the backslash.
        err(r#"{a="x\q"}"#, 5, r"unknown escape sequence \q");
        err(
            r#"{a="\'"}"#,
            4,
            r#"only the enclosing quote " can be escaped"#,
        );
        err(
            r#"{a='\"'}"#,
            4,
            "only the enclosing quote ' can be escaped",
        );
        err(r#"{a="\8"}"#, 4, r"unknown escape sequence \8");
        err(
            r#"{a="\x4g"}"#,
            4,
            r"invalid escape sequence \x4g: expected 2 hex digits",
        );
        err(r#"{a="\x4"}"#, 4, "expected 2 hex digits");
        err(r#"{a="\u12"}"#, 4, "expected 4 hex digits");
        err(r#"{a="\U0001F60"}"#, 4, "expected 8 hex digits");
        err(r#"{a="\08"}"#, 4, "expected 3 octal digits");
        err(r#"{a="\0"}"#, 4, "expected 3 octal digits");
        err(
            r#"{a="ab\400"}"#,
            6,
            r"escape sequence \400 is out of range",
        );
        err(
            r#"{a="\ud800"}"#,
            4,
            r"escape sequence \ud800 is not a valid unicode code point",
        );
        err(r#"{a="\U00110000"}"#, 4, "not a valid unicode code point");
        // Raw bytes that do not form UTF-8: reported at the opening quote.
        err(r#"foo{a="\xff"}"#, 6, "not valid utf-8");
        err(r#"foo{a="\303"}"#, 6, "not valid utf-8");
        // A literal U+FFFD is rejected like Prometheus' lexer does; offset at the character.
        err("{a=\"ok\u{fffd}\"}", 6, "invalid utf-8 rune");
        err("{a=`\u{fffd}`}", 4, "invalid utf-8 rune");
    }

    #[test]
    fn unterminated_strings_point_at_the_opening_quote() {
        err(r#"foo{a="b}"#, 6, "unterminated string literal");
        err(r#"foo{a='b}"#, 6, "unterminated string literal");
        err("foo{a=`b}", 6, "unterminated raw string literal");
        err(r#"foo{a="b\"}"#, 6, "unterminated string literal");
        err(r#"foo{a="b\"#, 6, "unterminated string literal");
        err(r#"foo{a="\x4"#, 6, "unterminated string literal");
        // A raw newline ends a quoted string (but not a raw one).
        err("foo{a=\"b\nc\"}", 6, "unterminated string literal");
        err("foo{x=\"1\", a='b\nc'}", 13, "unterminated string literal");
        // Offsets are chars, not bytes.
        err("foo{é=\"1\"}", 4, "expected label name");
        err("{a=\"€€€\", b=\"x", 12, "unterminated string literal");
    }

    #[test]
    fn regexes() {
        assert_eq!(
            ok(r#"{code=~"5..|429"}"#).matchers,
            vec![m("code", RegexMatch, "5..|429")]
        );
        assert_eq!(ok(r#"{path=~"/api/\\d+"}"#).matchers[0].value, r"/api/\d+");
        assert_eq!(ok(r"{path=~`/api/\d+`}").matchers[0].value, r"/api/\d+");
        let e = err(
            r#"foo{code=~"(5.."}"#,
            10,
            "invalid regular expression for label code: ",
        );
        assert!(e.message.contains("unclosed group"), "{e:?}");
        assert!(!e.message.contains('\n'), "one-line message: {e:?}");
        err(
            r#"foo{a!~"["}"#,
            7,
            "invalid regular expression for label a",
        );
        err(
            r#"foo{x="ok", a=~'*'}"#,
            15,
            "invalid regular expression for label a",
        );
        err(r#"foo{a=~"x{2,1}"}"#, 7, "invalid regular expression");
        // Prometheus 2.42 also parses the value on its own: `^(?:a)(b)$` compiles but
        // `a)(b` does not.
        err(r#"foo{a=~"a)(b"}"#, 7, "invalid regular expression");
        // Not a regex for `=`/`!=`.
        assert_eq!(ok(r#"foo{a="(", b!="["}"#).matchers.len(), 2);
    }

    #[test]
    fn non_empty_matcher_rule() {
        for input in [
            "{}",
            r#"{a=""}"#,
            r#"{a!="x"}"#,
            r#"{a=~".*"}"#,
            r#"{a=~"x*"}"#,
            r#"{a=~"|x"}"#,
            r#"{a!~"x+"}"#,
            r#"{a!~"x"}"#,
            r#"{a="", b!="y", c=~".*", d!~".+"}"#,
            r#"{__name__=""}"#,
            r#"{__name__=~".*"}"#,
            r#"{__name__!="up"}"#,
        ] {
            let e = err(
                input,
                0,
                "vector selector must contain at least one non-empty matcher",
            );
            assert_eq!(
                e.message,
                "vector selector must contain at least one non-empty matcher"
            );
        }
        // Offset is the opening brace.
        err(r#"  {a=""}  "#, 2, "at least one non-empty matcher");
        err("# c\n{}", 4, "at least one non-empty matcher");
        // Anchoring matters: "a|" matches "" but "a" alone does not.
        err(r#"{x=~"a|"}"#, 0, "non-empty");
        for input in [
            r#"{a="x"}"#,
            r#"{a!=""}"#,
            r#"{a=~".+"}"#,
            r#"{a=~"x"}"#,
            r#"{a!~".*"}"#,
            r#"{a!~"x*"}"#,
            r#"{a="", b="x"}"#,
            r#"{__name__=~"up|down"}"#,
            r#"{__name__="", a="x"}"#,
        ] {
            ok(input);
        }
    }

    #[test]
    fn name_normalisation() {
        assert_eq!(ok(r#"{__name__="up"}"#), sel(Some("up"), vec![]));
        assert_eq!(
            ok(r#"{job="x", __name__="up", a!="b"}"#),
            sel(
                Some("up"),
                vec![m("job", Equal, "x"), m("a", NotEqual, "b")]
            )
        );
        assert_eq!(
            ok(r#"{__name__=~"up|down"}"#),
            sel(None, vec![m("__name__", RegexMatch, "up|down")])
        );
        assert_eq!(
            ok(r#"{__name__="", a="x"}"#),
            sel(None, vec![m("__name__", Equal, ""), m("a", Equal, "x")])
        );
        // Only the first equality matcher becomes the name; the rest stay matchers.
        assert_eq!(
            ok(r#"{__name__!~"x.*", __name__="a", __name__="b"}"#),
            sel(
                Some("a"),
                vec![
                    m("__name__", RegexNoMatch, "x.*"),
                    m("__name__", Equal, "b")
                ]
            )
        );
        // Any string is a valid name through __name__.
        let s = ok(r#"{__name__="foo-bar baz"}"#);
        assert_eq!(s, sel(Some("foo-bar baz"), vec![]));
        assert_eq!(s.to_promql(), r#"{__name__="foo-bar baz"}"#);
    }

    #[test]
    fn metric_name_set_twice() {
        let e = err(
            r#"foo{__name__="bar"}"#,
            4,
            "metric name must not be set twice",
        );
        assert_eq!(
            e.message,
            r#"metric name must not be set twice: "foo" before the braces and __name__="bar" inside"#
        );
        err(
            r#"foo{a="b", __name__=~"x"}"#,
            11,
            "metric name must not be set twice",
        );
        err(
            r#"foo {a="b", __name__="foo"}"#,
            12,
            "metric name must not be set twice",
        );
        err(
            r#"foo{__name__!=""}"#,
            4,
            "metric name must not be set twice",
        );
    }

    #[test]
    fn nothing_after_the_selector() {
        for (input, at, found) in [
            ("foo[5m]", 3, r#""[""#),
            (r#"foo{a="b"}[5m]"#, 10, r#""[""#),
            (r#"foo{a="b"} [5m:1m]"#, 11, r#""[""#),
            ("foo offset 5m", 4, r#""offset""#),
            (r#"{a="b"}offset 5m"#, 7, r#""offset""#),
            ("foo @ 123", 4, r#""@""#),
            ("foo @ start()", 4, r#""@""#),
            ("foo + 1", 4, r#""+""#),
            ("foo / bar", 4, r#""/""#),
            ("foo == 1", 4, r#""==""#),
            ("foo > 0", 4, r#"">""#),
            ("foo 1", 4, r#""1""#),
            ("foo bar", 4, r#""bar""#),
            ("foo or bar", 4, r#""or""#),
            (r#"foo{a="b"}{c="d"}"#, 10, r#""{""#),
            (r#"foo "x""#, 4, "string literal"),
            ("rate(foo[5m])", 4, r#""(""#),
            ("sum(foo)", 3, r#""(""#),
            ("foo)", 3, r#"")""#),
            ("foo,", 3, r#"",""#),
            ("foo}", 3, r#""}""#),
        ] {
            let e = err(
                input,
                at,
                &format!("expected end of selector, found {found}"),
            );
            assert!(
                e.message.contains("without range, offset, @ or operators"),
                "{e:?}"
            );
            assert!(e.message.contains("windows come from the spec"), "{e:?}");
        }
        // Trailing whitespace and comments are fine.
        ok("foo  \n");
        ok("foo{} # trailing");
    }

    #[test]
    fn to_promql_is_canonical() {
        let cases = [
            ("up", "up"),
            ("  up  ", "up"),
            ("up{}", "up"),
            (r#"{__name__="up"}"#, "up"),
            (r#"{__name__='up', job=`x`}"#, r#"up{job="x"}"#),
            (r#"foo { b != 'x' , a =~ "y" , }"#, r#"foo{b!="x",a=~"y"}"#),
            (r#"{a="x"}"#, r#"{a="x"}"#),
            (r#"{__name__=~"a|b"}"#, r#"{__name__=~"a|b"}"#),
            (
                r#"{__name__="a", __name__!="b"}"#,
                r#"{__name__="a",__name__!="b"}"#,
            ),
            ("{a=`C:\\dir\n\"q\"`}", r#"{a="C:\\dir\n\"q\""}"#),
            (
                r#"{a='\x01\x1b\x7f\u0085\u00a0é\ufffd'}"#,
                r#"{a="\x01\x1b\x7f\u0085\u00a0é\ufffd"}"#,
            ),
            (r#"{a="\a\b\f\n\r\t\v\\"}"#, r#"{a="\a\b\f\n\r\t\v\\"}"#),
            (r#"{a="😀\U000E0001"}"#, r#"{a="😀\U000e0001"}"#),
            (r#"{a=~"\\d+\\."}"#, r#"{a=~"\\d+\\."}"#),
            ("{__name__=\"on\"}", "{__name__=\"on\"}"),
            ("{__name__=\"9lives\"}", "{__name__=\"9lives\"}"),
            ("{__name__=\"a\\nb\"}", "{__name__=\"a\\nb\"}"),
        ];
        for (input, want) in cases {
            let s = ok(input);
            assert_eq!(s.to_promql(), want, "canonical form of {input:?}");
            assert_eq!(s.to_string(), want);
            assert_eq!(want.parse::<Selector>(), Ok(s.clone()));
            roundtrip(&s);
        }
    }

    #[test]
    fn roundtrip_parsed_examples() {
        for input in [
            r#"http_requests_total{job="checkout",code=~"5.."}"#,
            r#"go_map_update_failure_total{op_type!="", error_class!~"timeout|cancel"}"#,
            r#"{__name__="up", job='x'}"#,
            "up",
            "metric{}",
            r#"foo{a="b",}"#,
            r#"{__name__!~"x.*", __name__="a", __name__="b"}"#,
            r#"{__name__="", a="x"}"#,
            r#"{__name__=~"a.*", b="c"}"#,
            r#"{a="x'y\"z`", b='\\', c=`\`}"#,
            "{a=\"\\x00\\u2028\\U0010FFFF\"}",
        ] {
            roundtrip(&ok(input));
        }
    }

    /// Tiny xorshift so the property test needs no extra crates.
    struct Rng(u64);
    impl Rng {
        fn step(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.step() % n as u64) as usize
        }
        fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
            &xs[self.below(xs.len())]
        }
    }

    #[test]
    fn roundtrip_property() {
        let alphabet = [
            'a', 'Z', '0', ' ', '"', '\'', '`', '\\', '\n', '\t', '\r', '\0', '\u{07}', '\u{1b}',
            '\u{7f}', '\u{85}', '\u{a0}', 'é', '€', '😀', '\u{fffd}', '\u{feff}', '\u{2028}', '{',
            '}', ',', '=', '#', '~', '!', '$',
        ];
        let metrics = [
            None,
            Some("up"),
            Some("a:b:c"),
            Some(":x"),
            Some("_"),
            Some("sum"),
            Some("offset"),
            Some("bool"),
            Some("Inf"),
            Some("on"),
            Some("foo-bar"),
            Some("with space"),
            Some("é"),
            Some("9lives"),
            Some("a\"b"),
        ];
        let labels = [
            "job", "code", "a", "_x", "le", "instance", "job2", "A_b", "offset", "by",
        ];
        let regexes = [
            ".*", ".+", "5..", "a|b", "(?i)x", r"\d+", "[\"']", r"a\\b", r"\n", "é+", "", "x{2}",
        ];
        let ops = [Equal, NotEqual, RegexMatch, RegexNoMatch];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..5000 {
            let metric = (*rng.pick(&metrics)).map(str::to_string);
            let mut matchers = Vec::new();
            for _ in 0..rng.below(4) {
                let op = *rng.pick(&ops);
                let value = if op.is_regex() {
                    rng.pick(&regexes).to_string()
                } else {
                    (0..rng.below(7)).map(|_| *rng.pick(&alphabet)).collect()
                };
                matchers.push(Matcher::new(*rng.pick(&labels), op, value));
            }
            if metric.is_none() {
                let at = rng.below(matchers.len() + 1);
                matchers.insert(at, Matcher::new("job", Equal, "non-empty"));
            }
            roundtrip(&Selector { metric, matchers });
        }
    }

    #[test]
    fn with_suffix() {
        let h = ok(r#"h{job="x"}"#);
        let b = h.with_suffix("_bucket").unwrap();
        assert_eq!(b, sel(Some("h_bucket"), vec![m("job", Equal, "x")]));
        assert_eq!(b.to_promql(), r#"h_bucket{job="x"}"#);
        assert_eq!(
            h.with_suffix("_count").unwrap().to_string(),
            r#"h_count{job="x"}"#
        );
        assert_eq!(ok("h").with_suffix("_sum").unwrap().to_promql(), "h_sum");
        // __name__ counts as the metric name.
        let n = ok(r#"{__name__="h", le!=""}"#);
        assert_eq!(
            n.with_suffix("_bucket").unwrap().to_promql(),
            r#"h_bucket{le!=""}"#
        );
        // No name: nothing to suffix.
        assert_eq!(ok(r#"{job="x"}"#).with_suffix("_bucket"), None);
        assert_eq!(ok(r#"{__name__=~"h.*"}"#).with_suffix("_bucket"), None);
        // Original untouched.
        assert_eq!(h.metric.as_deref(), Some("h"));
    }

    #[test]
    fn error_display_is_the_message() {
        let e = parse_selector("foo[5m]").unwrap_err();
        assert_eq!(e.to_string(), e.message);
        assert!(
            e.message
                .starts_with(r#"expected end of selector, found "[""#)
        );
    }

    #[test]
    fn matcher_and_op_display() {
        assert_eq!(m("a", RegexNoMatch, "x\"y").to_string(), r#"a!~"x\"y""#);
        assert_eq!(Equal.to_string(), "=");
        assert_eq!(NotEqual.as_str(), "!=");
        assert_eq!(RegexMatch.as_str(), "=~");
        assert!(RegexNoMatch.is_regex() && !Equal.is_regex());
    }
}
