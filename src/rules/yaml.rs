//! Writing rule files (`groups:`, and the Prometheus Operator's `PrometheusRule`) as YAML;
//! every scalar goes through the writer in `crate::yaml_out`.

use super::{RuleDef, RuleGroup};
use crate::yaml_out::{block, scalar, write_comment};
use std::collections::BTreeMap;
use std::fmt::Write as _;

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
pub(crate) fn write_groups(out: &mut String, groups: &[RuleGroup], indent: usize) {
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
pub(crate) struct OperatorMeta {
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    pub(crate) labels: BTreeMap<String, String>,
}

/// The groups wrapped in a Prometheus Operator `PrometheusRule`.
pub(crate) fn prometheus_rule(
    groups: &[RuleGroup],
    header: &[String],
    meta: &OperatorMeta,
) -> String {
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
pub(crate) fn k8s_name(text: &str) -> String {
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

    #[test]
    fn kubernetes_names() {
        assert_eq!(k8s_name("go-map"), "go-map");
        assert_eq!(k8s_name("Checkout API_v2"), "checkout-api-v2");
        assert_eq!(k8s_name("__"), "burnrate");
    }
}
