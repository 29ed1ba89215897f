//! Reading a foreign spec's positioned YAML tree while collecting diagnostics.
//!
//! The importers report problems the way the burnrate loader does: `file:line:column`, the
//! field as the user wrote it (`slos[0].sli.events.error_query`, or for OpenSLO the object
//! and its path, `SLO/checkout.spec.budgetingMethod`), and what is wrong. Every problem of
//! every file is listed, so each reader keeps going after an error.

use crate::spec::yaml::{Node, Pos, Value};
use crate::spec::{Diagnostic, Severity};
use std::path::Path;

/// The diagnostics of one import run, in the order they were found.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub diagnostics: Vec<Diagnostic>,
}

impl Sink {
    pub fn error(&mut self, file: &Path, pos: Pos, field: &str, message: impl Into<String>) {
        self.push(file, Some(pos), field, message.into(), Severity::Error);
    }

    pub fn warning(&mut self, file: &Path, pos: Pos, field: &str, message: impl Into<String>) {
        self.push(file, Some(pos), field, message.into(), Severity::Warning);
    }

    pub fn file_error(&mut self, file: &Path, message: impl Into<String>) {
        self.push(file, None, "", message.into(), Severity::Error);
    }

    fn push(
        &mut self,
        file: &Path,
        pos: Option<Pos>,
        field: &str,
        message: String,
        severity: Severity,
    ) {
        self.diagnostics.push(Diagnostic {
            file: file.to_path_buf(),
            pos,
            field: field.to_string(),
            message,
            severity,
        });
    }

    /// How many errors were reported so far (to tell whether a part added any).
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// The node as a mapping; an error naming `field` otherwise.
    pub fn map<'a>(
        &mut self,
        file: &Path,
        node: &'a Node,
        field: &str,
    ) -> Option<&'a [(Node, Node)]> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            _ => {
                self.error(
                    file,
                    node.pos,
                    field,
                    format!("expected a mapping, got {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// The node as a list; an error naming `field` otherwise.
    pub fn seq<'a>(&mut self, file: &Path, node: &'a Node, field: &str) -> Option<&'a [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.error(
                    file,
                    node.pos,
                    field,
                    format!("expected a list, got {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// A non-empty scalar string.
    pub fn string(&mut self, file: &Path, node: &Node, field: &str) -> Option<String> {
        match node.as_scalar() {
            Some(text) if !text.trim().is_empty() => Some(text.to_string()),
            Some(_) => {
                self.error(file, node.pos, field, "must not be empty");
                None
            }
            None => {
                self.error(
                    file,
                    node.pos,
                    field,
                    format!("expected a string, got {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// A number written as a plain scalar; its text (trimmed) as written.
    pub fn number(&mut self, file: &Path, node: &Node, field: &str) -> Option<String> {
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } => match text.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Some(text.trim().to_string()),
                _ => {
                    self.error(
                        file,
                        node.pos,
                        field,
                        format!("expected a number, got {text:?}"),
                    );
                    None
                }
            },
            Value::Scalar { text, quoted: true } => {
                self.error(
                    file,
                    node.pos,
                    field,
                    format!("expected a number, got the string {text:?}"),
                );
                None
            }
            _ => {
                self.error(
                    file,
                    node.pos,
                    field,
                    format!("expected a number, got {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// `true` or `false` written as a plain scalar.
    pub fn boolean(&mut self, file: &Path, node: &Node, field: &str) -> Option<bool> {
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } => match text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => {
                    self.error(
                        file,
                        node.pos,
                        field,
                        format!("expected true or false, got {text:?}"),
                    );
                    None
                }
            },
            _ => {
                self.error(
                    file,
                    node.pos,
                    field,
                    format!("expected true or false, got {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// Warns about every key of a mapping outside `known` (the source tool ignores them too,
    /// so they change nothing, but a typo should not go unnoticed).
    pub fn unknown_keys(
        &mut self,
        file: &Path,
        node: &Node,
        path: &str,
        known: &[&str],
        why: &str,
    ) {
        for (key, _) in entries(node) {
            let name = key.as_scalar().unwrap_or_default();
            if !known.contains(&name) {
                self.warning(
                    file,
                    key.pos,
                    &join(path, name),
                    format!(
                        "unknown field, ignored ({why}; known: {})",
                        known.join(", ")
                    ),
                );
            }
        }
    }
}

/// The entries of a mapping node (none for other nodes).
pub(crate) fn entries(node: &Node) -> &[(Node, Node)] {
    match &node.value {
        Value::Map(entries) => entries,
        _ => &[],
    }
}

/// The value of `key` in a mapping node, unless absent or null.
pub(crate) fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    entries(node)
        .iter()
        .find(|(k, _)| k.as_scalar() == Some(key))
        .map(|(_, v)| v)
        .filter(|v| !matches!(v.value, Value::Null))
}

/// The key node of `key` in a mapping node (for positions of fields whose value is null).
pub(crate) fn key_node<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    entries(node)
        .iter()
        .find(|(k, _)| k.as_scalar() == Some(key))
        .map(|(k, _)| k)
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
