//! Reading YAML back in tests (rule files, converted specs) through burnrate's own
//! positioned reader: a map's value by key, a sequence's items.

use burnrate::spec::yaml::{Node, Value};

/// The value of `key` when `node` is a map that has it.
pub fn map_get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_scalar() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// The items of a sequence; panics on anything else.
pub fn seq(node: &Node) -> &[Node] {
    match &node.value {
        Value::Seq(items) => items,
        _ => panic!("not a list: {node:?}"),
    }
}
