//! `burnrate validate`: every problem of every spec, exit 0 or 65.

use super::common::load_specs;
use crate::error::{Result, exit};
use std::path::PathBuf;

pub(crate) fn run(paths: &[PathBuf]) -> Result<i32> {
    let (specs, _) = load_specs(paths)?;
    let slos: usize = specs.iter().map(|s| s.slos.len()).sum();
    println!("ok: {} file(s), {slos} SLO(s)", specs.len());
    Ok(exit::OK)
}
