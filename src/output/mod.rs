//! Renderings of evaluations: JSON lines for programs, a table for humans.

pub(crate) mod table;

use crate::engine::Evaluation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Json,
    Table,
}

/// One JSON object per line, as the output contract fixes it.
pub fn json_line(eval: &Evaluation) -> String {
    serde_json::to_string(eval).expect("evaluations always serialize")
}

pub(crate) fn render(evals: &[Evaluation], format: Format) -> String {
    match format {
        Format::Json => evals.iter().map(|e| json_line(e) + "\n").collect(),
        Format::Table => table::render(evals),
    }
}
