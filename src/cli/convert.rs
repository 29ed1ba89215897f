//! `burnrate convert`: Sloth, OpenSLO and Pyrra specs written out as burnrate/v1 YAML.
//!
//! Every service that converts is printed (or written to `--output-dir`), every problem is
//! printed as `file:line:column: field: message`; the exit code is 65 when any SLO could not
//! be converted, 0 otherwise.

use super::ConvertArgs;
use crate::error::{Error, Result, exit};
use crate::import::Import;
use crate::spec::{Diagnostic, Severity};
use crate::specfiles;
use std::path::{Path, PathBuf};

pub(crate) fn run(args: ConvertArgs) -> Result<i32> {
    let mut import = Import::default();
    let mut problems: Vec<Diagnostic> = Vec::new();
    specfiles::read_windows(&args.specs.windows, &mut import, &mut problems);
    for file in specfiles::expand_all(&args.specs.specs, &mut problems) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                problems.push(Diagnostic::file_error(&file, format!("cannot read: {e}")));
                continue;
            }
        };
        if import.accept(&file, &text) {
            continue;
        }
        if is_burnrate(&text) {
            eprintln!(
                "{}: already a burnrate/v1 spec, nothing to convert",
                file.display()
            );
        } else {
            problems.push(Diagnostic::file_error(
                &file,
                "not a Sloth (version: prometheus/v1, apiVersion: sloth.slok.dev/v1), \
                 OpenSLO (apiVersion: openslo/v1) or Pyrra (apiVersion: pyrra.dev/v1alpha1) spec",
            ));
        }
    }
    let conversion = import.convert();
    problems.extend(conversion.diagnostics);
    for d in &problems {
        eprintln!("{d}");
    }

    match &args.output_dir {
        None => {
            for (i, c) in conversion.services.iter().enumerate() {
                if i > 0 {
                    println!("---");
                }
                print!("{}", c.yaml);
            }
        }
        Some(dir) => write_files(dir, &conversion.services, args.force)?,
    }

    let errors = problems
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let slos: usize = conversion.services.iter().map(|c| c.spec.slos.len()).sum();
    if errors > 0 {
        eprintln!(
            "burnrate: {errors} error(s); converted {} service(s), {slos} SLO(s); the SLOs in error were not converted",
            conversion.services.len()
        );
        return Err(Error::InvalidSpec(errors));
    }
    eprintln!(
        "converted {} service(s), {slos} SLO(s)",
        conversion.services.len()
    );
    Ok(exit::OK)
}

fn write_files(dir: &Path, services: &[crate::import::Converted], force: bool) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Usage(format!("cannot create {}: {e}", dir.display())))?;
    let mut targets: Vec<PathBuf> = Vec::new();
    let mut collisions: Vec<String> = Vec::new();
    for c in services {
        let path = dir.join(format!("{}.yaml", file_stem(&c.service)));
        // Two files of one service name would be two services to every later load, which a
        // reader of the directory cannot tell apart: refuse rather than number them.
        if let Some(first) = targets.iter().position(|t| t == &path) {
            let other = &services[first];
            collisions.push(format!(
                "service {:?} (from {}) and service {:?} (from {}) would both be written to {}: \
                 convert them into different directories, or rename one of the services",
                other.service,
                sources(other),
                c.service,
                sources(c),
                path.display()
            ));
            continue;
        }
        if path.exists() && !force {
            return Err(Error::Usage(format!(
                "{} already exists (use --force to overwrite)",
                path.display()
            )));
        }
        targets.push(path);
    }
    if !collisions.is_empty() {
        return Err(Error::Usage(format!(
            "nothing written: {}",
            collisions.join("; ")
        )));
    }
    for (c, path) in services.iter().zip(&targets) {
        crate::fsutil::write_atomic(path, c.yaml.as_bytes())
            .map_err(|e| Error::Internal(format!("cannot write {}: {e}", path.display())))?;
        eprintln!(
            "wrote {} (service {}, {} SLO(s), from {})",
            path.display(),
            c.service,
            c.spec.slos.len(),
            sources(c)
        );
    }
    Ok(())
}

/// The file name a service is written to: its name with other characters than letters,
/// digits, `-`, `_` and `.` replaced by `-`, and no leading dot.
fn file_stem(service: &str) -> String {
    let stem: String = service
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.') {
                ch
            } else {
                '-'
            }
        })
        .collect();
    stem.trim_start_matches('.').to_string()
}

fn sources(c: &crate::import::Converted) -> String {
    c.sources
        .iter()
        .map(|s| s.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_burnrate(text: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix("apiVersion:")
            .is_some_and(|v| v.trim().trim_matches(['"', '\'']) == crate::spec::API_VERSION)
    })
}
