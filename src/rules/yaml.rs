//! Writing rule files as YAML, by hand: no YAML serializer is a dependency, and the output is
//! small and regular. Every scalar goes through [`scalar`] (plain only when it cannot be
//! read as anything but that string, by YAML 1.1 readers such as Prometheus's yaml.v2 as well
//! as YAML 1.2 ones) or [`block`] (a literal block for multi-line PromQL).

use super::{RuleDef, RuleGroup};
use std::collections::BTreeMap;
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

/// One-line YAML scalar for `s`: plain when unambiguous, else single-quoted (`'` doubled), or
/// double-quoted with escapes when it holds line breaks or other control characters.
pub fn scalar(s: &str) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
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
pub fn block(s: &str, indent: usize) -> String {
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
fn write_comment(out: &mut String, pad: &str, text: &str) {
    for line in text.lines() {
        let line: String = line
            .chars()
            .map(|c| if needs_double_quotes(c) { ' ' } else { c })
            .collect();
        let _ = writeln!(out, "{pad}# {}", line.trim_end());
    }
}

fn write_map(out: &mut String, indent: usize, key: &str, map: &BTreeMap<String, String>) {
    if map.is_empty() {
        return;
    }
    let pad = " ".repeat(indent);
    let _ = writeln!(out, "{pad}{key}:");
    for (k, v) in map {
        let _ = writeln!(out, "{pad}  {}: {}", scalar(k), block(v, indent + 2));
    }
}

/// The `groups:` list at `indent` spaces.
pub fn write_groups(out: &mut String, groups: &[RuleGroup], indent: usize) {
    let pad = " ".repeat(indent);
    if groups.is_empty() {
        let _ = writeln!(out, "{pad}groups: []");
        return;
    }
    let _ = writeln!(out, "{pad}groups:");
    for g in groups {
        for c in &g.comments {
            write_comment(out, &format!("{pad}  "), c);
        }
        let _ = writeln!(out, "{pad}  - name: {}", scalar(&g.name));
        let _ = writeln!(out, "{pad}    interval: {}", scalar(g.interval.as_str()));
        let _ = writeln!(out, "{pad}    rules:");
        let rule_pad = format!("{pad}      ");
        let field_indent = indent + 8;
        for rule in &g.rules {
            match rule {
                RuleDef::Record(r) => {
                    let _ = writeln!(out, "{rule_pad}- record: {}", scalar(&r.record));
                    let _ = writeln!(out, "{rule_pad}  expr: {}", block(&r.expr, field_indent));
                    write_map(out, field_indent, "labels", &r.labels);
                }
                RuleDef::Alert(a) => {
                    let _ = writeln!(out, "{rule_pad}- alert: {}", scalar(&a.alert));
                    let _ = writeln!(out, "{rule_pad}  expr: {}", block(&a.expr, field_indent));
                    if let Some(f) = &a.for_ {
                        let _ = writeln!(out, "{rule_pad}  for: {}", scalar(f.as_str()));
                    }
                    if let Some(k) = &a.keep_firing_for {
                        let _ =
                            writeln!(out, "{rule_pad}  keep_firing_for: {}", scalar(k.as_str()));
                    }
                    write_map(out, field_indent, "labels", &a.labels);
                    write_map(out, field_indent, "annotations", &a.annotations);
                }
            }
        }
    }
}

/// A Prometheus rule file (what `rule_files` loads and `promtool check rules` checks).
pub fn rule_file(groups: &[RuleGroup], header: &[String]) -> String {
    let mut out = String::new();
    for line in header {
        write_comment(&mut out, "", line);
    }
    write_groups(&mut out, groups, 0);
    out
}

/// Metadata of the `PrometheusRule` object.
#[derive(Debug, Clone, Default)]
pub struct OperatorMeta {
    pub name: String,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// The groups wrapped in a Prometheus Operator `PrometheusRule`.
pub fn prometheus_rule(groups: &[RuleGroup], header: &[String], meta: &OperatorMeta) -> String {
    let mut out = String::new();
    for line in header {
        write_comment(&mut out, "", line);
    }
    out.push_str("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n");
    let _ = writeln!(out, "  name: {}", scalar(&meta.name));
    if let Some(ns) = &meta.namespace {
        let _ = writeln!(out, "  namespace: {}", scalar(ns));
    }
    write_map(&mut out, 2, "labels", &meta.labels);
    out.push_str("spec:\n");
    write_groups(&mut out, groups, 2);
    out
}

/// A Kubernetes object name (RFC 1123 subdomain) derived from `text`.
pub fn k8s_name(text: &str) -> String {
    let mut name: String = text
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    name.truncate(253);
    let name = name.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if name.is_empty() {
        "burnrate".to_string()
    } else {
        name.to_string()
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

    #[test]
    fn kubernetes_names() {
        assert_eq!(k8s_name("go-map"), "go-map");
        assert_eq!(k8s_name("Checkout API_v2"), "checkout-api-v2");
        assert_eq!(k8s_name("__"), "burnrate");
    }
}
