//! A YAML document as a tree of nodes that remember where they were written.
//!
//! Validation must report every problem of a file with its `line:column`, so specs are not
//! deserialized straight into structs (serde stops at the first error); they are loaded into
//! this tree first and then checked field by field in `load.rs`.

use crate::limits::{
    ALIAS_BYTES_PER_BYTE, MAX_ALIAS_BYTES, MAX_YAML_DEPTH, MIN_ALIAS_BYTES, alias_budget,
};
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// 1-based line and column of a node's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) col: usize,
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    /// A scalar as written; `quoted` scalars are never numbers, booleans or null.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order; duplicate keys are kept so the loader can report them.
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub(crate) pos: Pos,
    pub value: Value,
}

impl Node {
    pub(crate) fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The scalar text, if this node is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

/// Parses a single-document YAML text. An empty file yields `Ok(None)`.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let (documents, second_doc) = parse_stream(text)?;
    if let Some(pos) = second_doc {
        return Err(SyntaxError {
            pos,
            message: "one file holds one service: found a second YAML document".into(),
        });
    }
    Ok(documents.into_iter().next())
}

/// Parses a YAML stream of any number of documents (separated by `---`), in file order.
/// Positions are relative to the whole text. An empty document yields a `Null` node.
pub(crate) fn parse_all(text: &str) -> Result<Vec<Node>, SyntaxError> {
    parse_stream(text).map(|(documents, _)| documents)
}

/// Every document of the stream, and where the second one starts (if there is one).
///
/// The tree is untrusted input (a ConfigMap edit reaches the daemon), so it is bounded as it
/// is built: collections nest at most [`MAX_YAML_DEPTH`] deep, which keeps every recursive
/// walk, clone and drop of it shallow, and aliases, each a copy of its anchor's node, add at
/// most [`alias_budget`] bytes ("billion laughs" fails at the alias that crosses it, in
/// microseconds, instead of taking gigabytes).
fn parse_stream(text: &str) -> Result<(Vec<Node>, Option<Pos>), SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchored node with its weight (see `weight_of`).
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let budget = alias_budget(text.len());
    let mut copied = 0usize;
    let mut documents: Vec<Node> = Vec::new();
    let mut second_doc: Option<Pos> = None;

    for item in &mut parser {
        let (event, span) = item.map_err(|e| SyntaxError {
            pos: Pos {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        })?;
        let pos = pos_of(&span);
        let finished: Option<(Node, usize, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                if !documents.is_empty() && second_doc.is_none() {
                    second_doc = Some(pos);
                }
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((node, weight)) => {
                    copied = charge(copied, *weight, budget, pos)?;
                    Some((
                        Node {
                            pos,
                            value: node.value.clone(),
                        },
                        0,
                        *weight,
                    ))
                }
                None => {
                    return Err(SyntaxError {
                        pos,
                        message: "unknown alias".into(),
                    });
                }
            },
            Event::Scalar(text, style, anchor, _tag) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                let value =
                    if !quoted && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
                        Value::Null
                    } else {
                        Value::Scalar {
                            text: text.into_owned(),
                            quoted,
                        }
                    };
                let node = Node { pos, value };
                let weight = weight_of(&node);
                Some((node, anchor, weight))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_YAML_DEPTH {
                    return Err(SyntaxError {
                        pos,
                        message: format!(
                            "nested more than {MAX_YAML_DEPTH} levels deep (no spec needs that many)"
                        ),
                    });
                }
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    FrameKind::Seq(Vec::new())
                } else {
                    FrameKind::Map {
                        entries: Vec::new(),
                        pending_key: None,
                    }
                };
                stack.push(Frame {
                    pos,
                    anchor,
                    kind,
                    weight: size_of::<Node>(),
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop().expect("parser emits balanced events");
                let value = match frame.kind {
                    FrameKind::Seq(items) => Value::Seq(items),
                    FrameKind::Map { entries, .. } => Value::Map(entries),
                };
                Some((
                    Node {
                        pos: frame.pos,
                        value,
                    },
                    frame.anchor,
                    frame.weight,
                ))
            }
        };
        if let Some((node, anchor, weight)) = finished {
            if anchor != 0 {
                // The anchor keeps a copy of its own: it counts as the aliases do.
                copied = charge(copied, weight, budget, node.pos)?;
                anchors.insert(anchor, (node.clone(), weight));
            }
            match stack.last_mut() {
                None => documents.push(node),
                Some(frame) => {
                    frame.weight = frame.weight.saturating_add(weight);
                    frame.push(node);
                }
            }
        }
    }
    Ok((documents, second_doc))
}

/// About the bytes a scalar node holds; a collection's weight is its own plus its children's.
fn weight_of(node: &Node) -> usize {
    size_of::<Node>()
        + match &node.value {
            Value::Scalar { text, .. } => text.len(),
            _ => 0,
        }
}

/// Adds a copy of `weight` bytes to the `copied` so far, refusing to cross the budget.
fn charge(copied: usize, weight: usize, budget: usize, pos: Pos) -> Result<usize, SyntaxError> {
    let total = copied.saturating_add(weight);
    if total > budget {
        return Err(SyntaxError {
            pos,
            message: format!(
                "aliases expand to more than {budget} bytes ({ALIAS_BYTES_PER_BYTE} times the \
                 file's size, at least {} MiB, at most {} MiB; \"billion laughs\"?): write the \
                 values out, or reuse fewer",
                MIN_ALIAS_BYTES >> 20,
                MAX_ALIAS_BYTES >> 20
            ),
        });
    }
    Ok(total)
}

struct Frame {
    pos: Pos,
    anchor: usize,
    kind: FrameKind,
    /// The weight of the node so far (see `weight_of`).
    weight: usize,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
    },
}

impl Frame {
    fn push(&mut self, node: Node) {
        match &mut self.kind {
            FrameKind::Seq(items) => items.push(node),
            FrameKind::Map {
                entries,
                pending_key,
            } => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let doc = parse("a: 1\nb:\n  - x\n  - {c: \"d\"}\n").unwrap().unwrap();
        let Value::Map(entries) = &doc.value else {
            panic!()
        };
        assert_eq!(entries[0].1.pos, Pos { line: 1, col: 4 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!()
        };
        assert_eq!(items[0].pos, Pos { line: 3, col: 5 });
        let Value::Map(inner) = &items[1].value else {
            panic!()
        };
        assert_eq!(inner[0].1.as_scalar(), Some("d"));
        assert_eq!(inner[0].1.pos, Pos { line: 4, col: 9 });
    }

    #[test]
    fn null_and_quoted_scalars() {
        let doc = parse("a: ~\nb: 'null'\nc:\n").unwrap().unwrap();
        let Value::Map(e) = &doc.value else { panic!() };
        assert!(matches!(e[0].1.value, Value::Null));
        assert!(matches!(&e[1].1.value, Value::Scalar { quoted: true, .. }));
        assert!(matches!(e[2].1.value, Value::Null));
    }

    #[test]
    fn aliases_resolve_and_syntax_errors_have_positions() {
        let doc = parse("a: &x {k: v}\nb: *x\n").unwrap().unwrap();
        let Value::Map(e) = &doc.value else { panic!() };
        assert!(matches!(e[1].1.value, Value::Map(_)));
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1);
        assert!(parse("").unwrap().is_none());
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn parse_all_reads_every_document_with_stream_positions() {
        let docs = parse_all("---\na: 1\n---\n---\nb:\n  - x\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert!(matches!(docs[1].value, Value::Null));
        let Value::Map(e) = &docs[2].value else {
            panic!()
        };
        assert_eq!(e[0].0.pos, Pos { line: 5, col: 1 });
        let Value::Seq(items) = &e[0].1.value else {
            panic!()
        };
        assert_eq!(items[0].pos, Pos { line: 6, col: 5 });
        assert!(parse_all("").unwrap().is_empty());
        assert!(parse_all("a: [1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_where_it_crosses_the_bound() {
        let deep = "- ".repeat(150_000) + "x\n";
        let err = parse(&deep).unwrap_err();
        assert!(
            err.message.contains("nested more than 64 levels"),
            "{err:?}"
        );
        assert_eq!(err.pos, Pos { line: 1, col: 129 });
        // Flow collections hit the scanner's own limit (256) first, also a plain error.
        let flow = "[".repeat(100_000);
        assert!(
            parse(&flow)
                .unwrap_err()
                .message
                .contains("recursion limit")
        );
        let ok = "- ".repeat(MAX_YAML_DEPTH) + "x\n";
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn billion_laughs_fails_fast_at_the_alias_that_crosses_the_budget() {
        let mut text = String::from(
            "a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
        );
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let started = std::time::Instant::now();
        let err = parse(&text).unwrap_err();
        assert!(
            err.message
                .contains("aliases expand to more than 1048576 bytes"),
            "{err:?}"
        );
        assert!(err.pos.line >= 4, "{err:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Ordinary reuse is untouched.
        let reuse = "m: &m {burn: 1, long: 1h}\n".to_string()
            + &(0..1000).map(|i| format!("k{i}: *m\n")).collect::<String>();
        assert!(parse(&reuse).is_ok());
    }
}
