//! Subexpressions a query holds more than once, evaluated once per evaluation.
//!
//! Why: a Sloth raw error ratio `R` is imported as `bad_query: R` and
//! `total_query: (R) == bool (R)`, and a dimension's query joins every window's parts, so it
//! holds `R` three times per window; evaluating it once makes such an SLO cost what its
//! selector twin does. Evaluation is pure (same subtree, same storage, same steps: same
//! value), so reusing the value changes no number.
//!
//! The repeated subtrees are found once per query (by their PromQL text) and remembered as
//! paths from the root, which survive cloning the query; each evaluation resolves them to
//! the nodes of the tree it walks.

use promql_parser::parser::Expr;
use std::collections::HashMap;

/// Child positions from the root to a node.
pub(crate) type Path = Vec<usize>;

/// The children of a node, in a fixed order.
fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Aggregate(a) => std::iter::once(&*a.expr)
            .chain(a.param.as_deref())
            .collect(),
        Expr::Unary(u) => vec![&u.expr],
        Expr::Binary(b) => vec![&b.lhs, &b.rhs],
        Expr::Paren(p) => vec![&p.expr],
        Expr::Subquery(s) => vec![&s.expr],
        Expr::Call(c) => c.args.args.iter().map(|a| &**a).collect(),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => Vec::new(),
    }
}

/// Whether evaluating the node costs enough to be worth remembering.
fn worth_sharing(e: &Expr) -> bool {
    matches!(e, Expr::Aggregate(_) | Expr::Binary(_) | Expr::Call(_))
}

/// The repeated subtrees of `root`: `(path, group)`, where nodes of one group are the same
/// PromQL. Empty for a query without repeats (the usual case).
pub(crate) fn find(root: &Expr) -> Vec<(Path, usize)> {
    let mut by_text: HashMap<String, Vec<Path>> = HashMap::new();
    let mut stack: Vec<(&Expr, Path)> = vec![(root, Vec::new())];
    while let Some((e, path)) = stack.pop() {
        if worth_sharing(e) {
            by_text.entry(e.to_string()).or_default().push(path.clone());
        }
        for (i, child) in children(e).into_iter().enumerate() {
            let mut p = path.clone();
            p.push(i);
            stack.push((child, p));
        }
    }
    let mut groups: Vec<Vec<Path>> = by_text.into_values().filter(|p| p.len() > 1).collect();
    groups.sort();
    groups
        .into_iter()
        .enumerate()
        .flat_map(|(g, paths)| paths.into_iter().map(move |p| (p, g)))
        .collect()
}

/// The nodes of this tree that `shared` names, by address, with their group: valid while
/// `root` is borrowed unchanged (one evaluation).
pub(crate) fn resolve(root: &Expr, shared: &[(Path, usize)]) -> HashMap<*const Expr, usize> {
    shared
        .iter()
        .filter_map(|(path, g)| {
            let mut e = root;
            for &i in path {
                e = children(e).into_iter().nth(i)?;
            }
            Some((e as *const Expr, *g))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_ratio_repeated_across_parts() {
        let r = "sum(rate(a[5m])) / sum(rate(b[5m]))";
        let text = format!("sum({r}) or sum(({r}) == bool ({r}))");
        let expr = promql_parser::parser::parse(&text).unwrap();
        let shared = find(&expr);
        let nodes = resolve(&expr, &shared);
        assert_eq!(nodes.len(), shared.len(), "every path resolves");
        // The ratio three times; inside it each `sum(rate(..))` three times and each `rate`.
        let mut sizes: HashMap<usize, usize> = HashMap::new();
        for (_, g) in &shared {
            *sizes.entry(*g).or_default() += 1;
        }
        assert!(sizes.values().all(|&n| n == 3), "{sizes:?}");
        assert_eq!(sizes.len(), 5, "{shared:?}");
        let plain = promql_parser::parser::parse("sum(rate(a[5m])) / sum(rate(b[5m]))").unwrap();
        assert!(find(&plain).is_empty());
    }
}
