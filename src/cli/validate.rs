//! `burnrate validate`: every problem of every spec, exit 0 or 65.

use super::SpecPaths;
use super::common::load_specs;
use crate::error::{Result, exit};

pub(crate) fn run(paths: &SpecPaths) -> Result<i32> {
    let (specs, report) = load_specs(paths)?;
    let slos: usize = specs.iter().map(|s| s.slos.len()).sum();
    // A file may hold several services (Sloth, OpenSLO, Pyrra), and imported services may
    // span files: each is counted as it is (services as `convert` writes them).
    println!(
        "ok: {} file(s), {} service(s), {slos} SLO(s)",
        report.files,
        specs.len()
    );
    Ok(exit::OK)
}
