//! Writing YAML scalars and comments by hand, for every file burnrate writes (rule files,
//! promtool tests, converted specs): no YAML serializer is a dependency, and what is written
//! must read back as exactly the string meant, by YAML 1.1 readers such as Prometheus's
//! yaml.v2 as well as YAML 1.2 ones. Every scalar goes through [`scalar`] (plain only when
//! it cannot be read as anything but that string), [`quoted`] or [`block`] (a literal block
//! for multi-line PromQL).

use std::fmt::Write as _;

/// Words YAML 1.1 reads as booleans or null when plain.
const SPECIAL_WORDS: [&str; 12] = [
    "y", "yes", "n", "no", "true", "false", "on", "off", "null", "nan", "inf", "~",
];

/// A Prometheus duration (`30s`, `1h30m`): a string in every YAML reader.
fn is_duration(s: &str) -> bool {
    !s.is_empty()
        && crate::duration::PromDuration::parse(s).is_ok_and(|d| d.as_str() == s)
        && s != "0"
}

fn plain_ok(s: &str) -> bool {
    if is_duration(s) {
        return true;
    }
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c))
        && !s.ends_with(':')
        && !SPECIAL_WORDS.contains(&s.to_ascii_lowercase().as_str())
}

fn needs_double_quotes(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{feff}')
}

/// One-line YAML scalar for `s`: plain when unambiguous, else as [`quoted`].
pub(crate) fn scalar(s: &str) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
    quoted(s)
}

/// `s` quoted: single-quoted (`'` doubled), or double-quoted with escapes when it holds line
/// breaks or other control characters.
pub(crate) fn quoted(s: &str) -> String {
    if !s.chars().any(needs_double_quotes) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

/// `s` as a double-quoted string with backslash escapes: valid as a YAML double-quoted
/// scalar and as a Go (template) string literal alike.
pub(crate) fn double_quoted(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_double_quotes(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `s` survives a literal block scalar (`|-`) unchanged.
fn block_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.ends_with('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && !s
            .chars()
            .any(|c| c != '\n' && c != '\t' && needs_double_quotes(c))
        && !s.lines().any(|l| l.ends_with([' ', '\t']))
}

/// The value part of `key: value` for a possibly multi-line string at `indent` spaces: a
/// literal block (`|-` and the lines indented two more) when that keeps it exact, else a
/// one-line scalar.
pub(crate) fn block(s: &str, indent: usize) -> String {
    if !block_ok(s) {
        return scalar(s);
    }
    let pad = " ".repeat(indent + 2);
    let mut out = String::from("|-");
    for line in s.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

/// `# text` lines for a comment, one per line of `text`, control characters blanked (a lone
/// carriage return would end the comment).
pub(crate) fn write_comment(out: &mut String, pad: &str, text: &str) {
    for line in text.lines() {
        let line: String = line
            .chars()
            .map(|c| if needs_double_quotes(c) { ' ' } else { c })
            .collect();
        let _ = writeln!(out, "{pad}# {}", line.trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::yaml::{Value, parse};

    fn read_back(text: &str) -> String {
        let doc = format!("k: {text}\n");
        let node = parse(&doc).unwrap().unwrap();
        let Value::Map(entries) = node.value else {
            panic!("{doc}")
        };
        match &entries[0].1.value {
            Value::Scalar { text, .. } => text.clone(),
            other => panic!("{doc}: {other:?}"),
        }
    }

    #[test]
    fn scalars_read_back_exactly() {
        for s in [
            "plain",
            "burnrate:burn_rate:ratio",
            "30s",
            "yes",
            "on",
            "No",
            "null",
            "~",
            "",
            " leading",
            "trailing ",
            "it's",
            "a: b",
            "# not a comment",
            "{{ $value }}",
            r#"{{ "{{" }}"#,
            r#"sum(rate(x{a="b",c=~"5.."}[5m]))"#,
            "back\\slash",
            "tab\there",
            "line\nbreak",
            "cr\rhere",
            "bell\u{7}",
            "unicode é ✓",
            "sep\u{2028}",
            "-dash",
            "1.5",
            "0x1f",
            "@at",
            "*star",
            "&anchor",
            "!tag",
            "%percent",
            "|pipe",
            ">gt",
            "[list]",
            "`tick`",
            "key:",
        ] {
            assert_eq!(read_back(&scalar(s)), s, "{s:?} written as {}", scalar(s));
        }
    }

    #[test]
    fn blocks_read_back_exactly() {
        for s in [
            "max without (window) (\n    (a >= 1)\n  and on ()\n    (b >= 1)\n)",
            "one line",
            "first\n\n  blank line above",
            "trailing space \nnext",
            " leading\nspace",
            "ends with newline\n",
            "has # hash\nand 'quotes' and \"double\" and {{ braces }}",
            "tab\tinside\nx",
        ] {
            let doc = format!("a:\n  k: {}\n", block(s, 2));
            let node = parse(&doc).unwrap().unwrap();
            let Value::Map(entries) = node.value else {
                panic!()
            };
            let Value::Map(inner) = &entries[0].1.value else {
                panic!("{doc}")
            };
            assert_eq!(inner[0].1.as_scalar(), Some(s), "{doc}");
        }
    }

    #[test]
    fn comments_stay_comments() {
        let mut out = String::new();
        write_comment(&mut out, "", "a\rb: c\nd\u{2028}e: f");
        out.push_str("k: v\n");
        let node = parse(&out).unwrap().unwrap();
        let Value::Map(entries) = node.value else {
            panic!("{out}")
        };
        assert_eq!(entries.len(), 1, "{out}");
    }
}
