//! Loading spec files of every format: paths and directories, format detection, and the
//! checks across files.
//!
//! It sits above `spec` (the burnrate/v1 model and its loader) and `import` (Sloth and
//! OpenSLO, translated to burnrate/v1 and loaded by `spec`), so neither calls back into the
//! other.

use crate::import::{self, Import};
use crate::spec::fields::has_errors;
use crate::spec::load::load_native;
use crate::spec::{Diagnostic, ServiceSpec};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What loading a set of paths produced: the valid specs and every diagnostic.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub specs: Vec<ServiceSpec>,
    pub diagnostics: Vec<Diagnostic>,
    /// Files read (one may hold several services, and imported services may span files).
    pub files: usize,
}

impl LoadReport {
    pub fn has_errors(&self) -> bool {
        has_errors(&self.diagnostics)
    }
}

/// What a command loads: spec files and directories, and the Sloth `AlertWindows` files or
/// directories (`--windows`) that replace Sloth's default alert windows for a period.
#[derive(Debug, Clone, Default)]
pub struct SpecSources {
    pub paths: Vec<PathBuf>,
    pub windows: Vec<PathBuf>,
}

/// Loads files and directories (every `*.yaml`/`*.yml` directly inside, sorted by name).
pub fn load_paths(paths: &[PathBuf]) -> LoadReport {
    load_sources(&SpecSources {
        paths: paths.to_vec(),
        windows: Vec::new(),
    })
}

/// Loads the specs of `sources.paths`, Sloth's with the alert windows of `sources.windows`.
pub fn load_sources(sources: &SpecSources) -> LoadReport {
    let mut report = LoadReport::default();
    // Sloth and OpenSLO files are loaded together: OpenSLO references cross files.
    let mut imported = Import::default();
    read_windows(&sources.windows, &mut imported, &mut report.diagnostics);
    for path in &sources.paths {
        for file in expand(path, &mut report.diagnostics) {
            report.files += 1;
            match std::fs::read_to_string(&file) {
                Ok(text) if imported.accept(&file, &text) => {}
                Ok(text) => {
                    let (spec, mut diags) = load_str(&file, &text);
                    report.diagnostics.append(&mut diags);
                    report.specs.extend(spec);
                }
                Err(e) => report
                    .diagnostics
                    .push(Diagnostic::file_error(&file, format!("cannot read: {e}"))),
            }
        }
    }
    let (specs, mut diags) = imported.load();
    report.diagnostics.append(&mut diags);
    report.specs.extend(specs);
    check_unique_across_files(&mut report);
    report
}

/// Hands every `AlertWindows` file of `paths` to the import (they are not spec files, so
/// they are not counted as such).
pub(crate) fn read_windows(
    paths: &[PathBuf],
    import: &mut Import,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for file in expand_all(paths, diagnostics) {
        match std::fs::read_to_string(&file) {
            Ok(text) => import.windows(&file, &text),
            Err(e) => diagnostics.push(Diagnostic::file_error(&file, format!("cannot read: {e}"))),
        }
    }
}

/// The files of every path, in order (as `load_paths` reads them).
pub(crate) fn expand_all(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    paths.iter().flat_map(|p| expand(p, diagnostics)).collect()
}

/// A file as it is; a directory as its `*.yaml`/`*.yml` files, sorted by name.
fn expand(path: &Path, diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) => {
            diagnostics.push(Diagnostic::file_error(
                path,
                format!("cannot read directory: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml") | Some("yml")
                )
        })
        .collect();
    files.sort();
    if files.is_empty() {
        diagnostics.push(Diagnostic::file_error(
            path,
            "no *.yaml or *.yml files in this directory",
        ));
    }
    files
}

fn check_unique_across_files(report: &mut LoadReport) {
    let mut seen: HashMap<(String, String), PathBuf> = HashMap::new();
    let mut problems = Vec::new();
    for spec in &report.specs {
        for slo in &spec.slos {
            let key = (spec.service.clone(), slo.name.clone());
            match seen.get(&key) {
                Some(first) if first != &spec.file => problems.push(Diagnostic::file_error(
                    &spec.file,
                    format!(
                        "service {:?} SLO {:?} is also defined in {}",
                        key.0,
                        key.1,
                        first.display()
                    ),
                )),
                _ => {
                    seen.insert(key, spec.file.clone());
                }
            }
        }
    }
    report.diagnostics.extend(problems);
}

/// Loads one file's text, in any format. The spec is returned only when there was no error.
pub fn load_str(file: &Path, text: &str) -> (Option<ServiceSpec>, Vec<Diagnostic>) {
    match import::load_single(file, text) {
        Some(imported) => imported,
        None => load_native(file, text),
    }
}
