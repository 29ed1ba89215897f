//! Reading fields of the positioned YAML tree (`yaml.rs`) while collecting diagnostics: the
//! one set of checks, and their messages, for burnrate/v1 specs and the Sloth and OpenSLO
//! importers alike.
//!
//! A problem is reported as `file:line:column`, the field as the user wrote it
//! (`slos[0].error.objective`, or for OpenSLO the object and its path,
//! `SLO/checkout.spec.budgetingMethod`), and what is wrong. Every problem of every file is
//! listed, so each reader keeps going after an error. The file is given per call because an
//! OpenSLO set spans files.

use super::yaml::{Node, Pos, Value};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Severity {
    Error,
    Warning,
}

/// One problem found in a spec file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// `None` when the problem concerns the whole file (unreadable, empty).
    pub(crate) pos: Option<Pos>,
    pub(crate) field: String,
    pub(crate) message: String,
    pub(crate) severity: Severity,
}

impl Diagnostic {
    /// An error about a whole file (unreadable, empty, not a spec).
    pub(crate) fn file_error(file: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_path_buf(),
            pos: None,
            field: String::new(),
            message: message.into(),
            severity: Severity::Error,
        }
    }
}

/// Whether any of the diagnostics is an error (warnings leave a spec valid).
pub(crate) fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity == Severity::Error)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(pos) = self.pos {
            write!(f, ":{}:{}", pos.line, pos.col)?;
        }
        if self.severity == Severity::Warning {
            write!(f, ": warning")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Diagnostics in the order they were found, and the typed reads that report them.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Errors among them, counted as they come: importers ask after every SLO whether it
    /// added one, and counting then would make a file of many SLOs quadratic.
    errors: usize,
}

impl Sink {
    pub(crate) fn error(&mut self, file: &Path, pos: Pos, field: &str, message: impl Into<String>) {
        self.push(file, Some(pos), field, message.into(), Severity::Error);
    }

    pub(crate) fn warning(
        &mut self,
        file: &Path,
        pos: Pos,
        field: &str,
        message: impl Into<String>,
    ) {
        self.push(file, Some(pos), field, message.into(), Severity::Warning);
    }

    pub(crate) fn file_error(&mut self, file: &Path, message: impl Into<String>) {
        self.add(Diagnostic::file_error(file, message));
    }

    /// Adds diagnostics found elsewhere.
    pub(crate) fn extend(&mut self, diagnostics: impl IntoIterator<Item = Diagnostic>) {
        for d in diagnostics {
            self.add(d);
        }
    }

    fn add(&mut self, d: Diagnostic) {
        self.errors += usize::from(d.severity == Severity::Error);
        self.diagnostics.push(d);
    }

    pub(crate) fn push(
        &mut self,
        file: &Path,
        pos: Option<Pos>,
        field: &str,
        message: String,
        severity: Severity,
    ) {
        self.add(Diagnostic {
            file: file.to_path_buf(),
            pos,
            field: field.to_string(),
            message,
            severity,
        });
    }

    /// The error for a node of the wrong kind: `expected WHAT, got` its kind.
    pub(crate) fn expected_kind<T>(
        &mut self,
        file: &Path,
        node: &Node,
        field: &str,
        what: &str,
    ) -> Option<T> {
        self.expected(file, node, field, what, node.kind_name())
    }

    /// The error `expected WHAT, got GOT` at the node; nothing read.
    pub(crate) fn expected<T>(
        &mut self,
        file: &Path,
        node: &Node,
        field: &str,
        what: &str,
        got: &str,
    ) -> Option<T> {
        self.error(file, node.pos, field, format!("expected {what}, got {got}"));
        None
    }

    /// The error for a required field that is absent (or null).
    pub(crate) fn missing(&mut self, file: &Path, pos: Pos, field: &str) {
        self.error(file, pos, field, "missing required field");
    }

    /// The value of `key` in `parent`; the missing-field error naming `field` when absent.
    pub(crate) fn required<'a>(
        &mut self,
        file: &Path,
        parent: &'a Node,
        key: &str,
        field: &str,
    ) -> Option<&'a Node> {
        let found = get(parent, key);
        if found.is_none() {
            self.missing(file, parent.pos, field);
        }
        found
    }

    /// How many errors were reported so far (to tell whether a part added any).
    pub(crate) fn errors(&self) -> usize {
        self.errors
    }

    /// The node as a mapping; an error naming `field` otherwise.
    pub(crate) fn map<'a>(
        &mut self,
        file: &Path,
        node: &'a Node,
        field: &str,
    ) -> Option<&'a [(Node, Node)]> {
        match &node.value {
            Value::Map(entries) => Some(entries),
            _ => self.expected_kind(file, node, field, "a mapping"),
        }
    }

    /// The node as a list; an error naming `field` otherwise.
    pub(crate) fn seq<'a>(
        &mut self,
        file: &Path,
        node: &'a Node,
        field: &str,
    ) -> Option<&'a [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => self.expected_kind(file, node, field, "a list"),
        }
    }

    /// A non-empty scalar string.
    pub(crate) fn string(&mut self, file: &Path, node: &Node, field: &str) -> Option<String> {
        match node.as_scalar() {
            Some(text) if !text.trim().is_empty() => Some(text.to_string()),
            Some(_) => {
                self.error(file, node.pos, field, "must not be empty");
                None
            }
            None => self.expected_kind(file, node, field, "a string"),
        }
    }

    /// A number written as a plain scalar; its text (trimmed) as written.
    pub(crate) fn number(&mut self, file: &Path, node: &Node, field: &str) -> Option<String> {
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } => match text.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Some(text.trim().to_string()),
                _ => self.expected(file, node, field, "a number", &format!("{text:?}")),
            },
            Value::Scalar { text, quoted: true } => self.expected(
                file,
                node,
                field,
                "a number",
                &format!("the string {text:?}"),
            ),
            _ => self.expected_kind(file, node, field, "a number"),
        }
    }

    /// `true` or `false` written as a plain scalar.
    pub(crate) fn boolean(&mut self, file: &Path, node: &Node, field: &str) -> Option<bool> {
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } => match text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => self.expected(file, node, field, "true or false", &format!("{text:?}")),
            },
            _ => self.expected_kind(file, node, field, "true or false"),
        }
    }

    /// Warns about every key of a mapping outside `known` (the source tool ignores them too,
    /// so they change nothing, but a typo should not go unnoticed).
    pub(crate) fn unknown_keys(
        &mut self,
        file: &Path,
        node: &Node,
        path: &str,
        known: &[&str],
        why: &str,
    ) {
        let message = format!(
            "unknown field, ignored ({why}; known: {})",
            known.join(", ")
        );
        self.outside(file, node, path, known, &message, Severity::Warning);
    }

    /// An error for every key of a mapping outside `known`, for formats whose own reader
    /// rejects unknown fields (`why` says so).
    pub(crate) fn unknown_fields(
        &mut self,
        file: &Path,
        node: &Node,
        path: &str,
        known: &[&str],
        why: &str,
    ) {
        let message = format!(
            "unknown field ({why}; expected one of: {})",
            known.join(", ")
        );
        self.outside(file, node, path, known, &message, Severity::Error);
    }

    fn outside(
        &mut self,
        file: &Path,
        node: &Node,
        path: &str,
        known: &[&str],
        message: &str,
        severity: Severity,
    ) {
        for (key, _) in entries(node) {
            let name = key.as_scalar().unwrap_or_default();
            if !known.contains(&name) {
                self.push(
                    file,
                    Some(key.pos),
                    &join(path, name),
                    message.to_string(),
                    severity,
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
