//! A YAML document as a tree of nodes that remember where they were written.
//!
//! Validation must report every problem of a file with its `line:column`, so specs are not
//! deserialized straight into structs (serde stops at the first error); they are loaded into
//! this tree first and then checked field by field in `load.rs`.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// 1-based line and column of a node's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
fn parse_stream(text: &str) -> Result<(Vec<Node>, Option<Pos>), SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
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
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                if !documents.is_empty() && second_doc.is_none() {
                    second_doc = Some(pos);
                }
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => Some((
                    Node {
                        pos,
                        value: node.value.clone(),
                    },
                    0,
                )),
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
                Some((Node { pos, value }, anchor))
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame {
                    pos,
                    anchor,
                    kind: FrameKind::Seq(Vec::new()),
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame {
                    pos,
                    anchor,
                    kind: FrameKind::Map {
                        entries: Vec::new(),
                        pending_key: None,
                    },
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
                ))
            }
        };
        if let Some((node, anchor)) = finished {
            if anchor != 0 {
                anchors.insert(anchor, node.clone());
            }
            match stack.last_mut() {
                None => documents.push(node),
                Some(frame) => frame.push(node),
            }
        }
    }
    Ok((documents, second_doc))
}

struct Frame {
    pos: Pos,
    anchor: usize,
    kind: FrameKind,
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
}
