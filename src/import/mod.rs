//! Sloth, OpenSLO and Pyrra specs, accepted wherever burnrate takes spec paths and written
//! out as burnrate/v1 by `burnrate convert`.
//!
//! A file is recognized by its version field: `version: prometheus/v1` (Sloth),
//! `apiVersion: sloth.slok.dev/v1` (Sloth's Kubernetes `PrometheusServiceLevel`),
//! `apiVersion: openslo/...` (OpenSLO) or `apiVersion: pyrra.dev/...` (Pyrra's
//! `ServiceLevelObjective`). Each service found is translated into a burnrate/v1 document
//! (`emit`), written as YAML and loaded by the ordinary loader, so an imported spec is
//! exactly its converted file. OpenSLO objects reference each other by name
//! (`indicatorRef`, `alertPolicyRef`, `conditionRef`, `metricSourceRef`), across files: all
//! the OpenSLO files given together are resolved as one set. OpenSLO and Pyrra objects each
//! hold one SLO and name their service (or namespace), so the SLOs of one service are
//! gathered from every file given (`by_service`).
//!
//! What cannot be converted faithfully is an error naming `file:line:column`, the field and
//! why; what is left out without changing any decision (alert routing labels, notification
//! targets) is a warning. Nothing is dropped silently.

mod emit;
mod openslo;
mod promql;
mod pyrra;
mod sloth;
mod sloth_windows;

use crate::spec::fields::{Sink, has_errors};
use crate::spec::yaml::{self, Node};
use crate::spec::{Diagnostic, ServiceSpec, Severity};
use emit::{Origin, ServiceDoc, SloDoc, Val};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The foreign formats burnrate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `version: prometheus/v1`, or `apiVersion: sloth.slok.dev/v1`.
    Sloth,
    /// `apiVersion: openslo/...`.
    OpenSlo,
    /// `apiVersion: pyrra.dev/...`.
    Pyrra,
}

/// The format of a spec text, from its first top-level `version`/`apiVersion` line
/// (`None`: not a foreign spec, e.g. burnrate/v1). A cheap look at the text, no parsing.
pub fn detect(text: &str) -> Option<Format> {
    for line in text.lines() {
        let line = line.strip_prefix("- ").unwrap_or(line);
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key != "version" && key != "apiVersion" {
            continue;
        }
        let value = value.split(" #").next().unwrap_or_default().trim();
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        return match (key, value) {
            ("version", "prometheus/v1") => Some(Format::Sloth),
            ("apiVersion", v) if v.starts_with("sloth.slok.dev/") => Some(Format::Sloth),
            // `openslo.com/` is OpenSLO v2alpha's group: recognized to be refused as OpenSLO.
            ("apiVersion", v) if v.starts_with("openslo/") || v.starts_with("openslo.com/") => {
                Some(Format::OpenSlo)
            }
            ("apiVersion", v) if v.starts_with("pyrra.dev/") => Some(Format::Pyrra),
            ("version", _) => continue,
            _ => None,
        };
    }
    None
}

/// One converted service.
#[derive(Debug)]
pub(crate) struct Converted {
    pub(crate) service: String,
    /// The source files its SLOs come from.
    pub(crate) sources: Vec<PathBuf>,
    /// The burnrate/v1 YAML (what `burnrate convert` writes).
    pub(crate) yaml: String,
    /// The spec the YAML loads as.
    pub(crate) spec: ServiceSpec,
}

/// What an import produced: the services that converted and every diagnostic.
#[derive(Debug, Default)]
pub(crate) struct Conversion {
    pub(crate) services: Vec<Converted>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// A set of foreign spec files, converted together (OpenSLO references cross files, and
/// OpenSLO and Pyrra services gather SLOs from several files).
#[derive(Debug, Default)]
pub(crate) struct Import {
    files: Vec<(PathBuf, String, Format)>,
    /// Sloth `AlertWindows` files (`--windows`).
    windows: Vec<(PathBuf, String)>,
}

impl Import {
    /// Takes the file when it is a Sloth, OpenSLO or Pyrra spec; `false` leaves it to the
    /// caller.
    pub(crate) fn accept(&mut self, file: &Path, text: &str) -> bool {
        match detect(text) {
            Some(format) => {
                self.files
                    .push((file.to_path_buf(), text.to_string(), format));
                true
            }
            None => false,
        }
    }

    /// Takes a Sloth `AlertWindows` file: its windows replace Sloth's defaults for the Sloth
    /// SLOs of its period.
    pub(crate) fn windows(&mut self, file: &Path, text: &str) {
        self.windows.push((file.to_path_buf(), text.to_string()));
    }

    /// The specs (of the services without errors) and every diagnostic.
    pub(crate) fn load(&self) -> (Vec<ServiceSpec>, Vec<Diagnostic>) {
        let conversion = self.convert();
        (
            conversion.services.into_iter().map(|c| c.spec).collect(),
            conversion.diagnostics,
        )
    }

    /// Converts every service; a service with any error is left out (and its errors listed).
    pub(crate) fn convert(&self) -> Conversion {
        let mut sink = Sink::default();
        let sloth_windows = sloth::alert_windows(&self.windows, &mut sink);
        let mut docs: Vec<(ServiceDoc, bool)> = Vec::new();
        let mut openslo_files: Vec<(PathBuf, Vec<Node>)> = Vec::new();
        let mut pyrra_files: Vec<(PathBuf, Vec<Node>)> = Vec::new();
        for (file, text, format) in &self.files {
            let nodes = match yaml::parse_all(text) {
                Ok(nodes) => nodes,
                Err(e) => {
                    sink.error(file, e.pos, "", format!("YAML syntax error: {}", e.message));
                    continue;
                }
            };
            if nodes.iter().all(|n| matches!(n.value, yaml::Value::Null)) {
                sink.file_error(file, "empty file: expected a spec");
                continue;
            }
            match format {
                Format::Sloth => docs.extend(sloth::translate_file(
                    file,
                    &nodes,
                    &sloth_windows,
                    &mut sink,
                )),
                Format::OpenSlo => openslo_files.push((file.clone(), nodes)),
                Format::Pyrra => pyrra_files.push((file.clone(), nodes)),
            }
        }
        docs.extend(openslo::translate(&openslo_files, &mut sink));
        docs.extend(pyrra::translate(&pyrra_files, &mut sink));

        let mut conversion = Conversion::default();
        for (doc, ok) in docs {
            if doc.slos.is_empty() {
                continue;
            }
            let (yaml, spec, diagnostics) = emit::load(&doc);
            sink.extend(diagnostics);
            if let (true, Some(spec)) = (ok, spec) {
                let mut sources: Vec<PathBuf> = Vec::new();
                let mut seen: HashSet<&Path> = HashSet::new();
                for slo in &doc.slos {
                    if seen.insert(&slo.from.file) {
                        sources.push(slo.from.file.clone());
                    }
                }
                conversion.services.push(Converted {
                    service: spec.service.clone(),
                    sources,
                    yaml,
                    spec,
                });
            }
        }
        let mut order: HashMap<&Path, usize> = HashMap::new();
        let windows_files = self.windows.iter().map(|(f, _)| f);
        for (i, f) in windows_files
            .chain(self.files.iter().map(|(f, _, _)| f))
            .enumerate()
        {
            order.entry(f).or_insert(i);
        }
        let mut diagnostics = sink.diagnostics;
        diagnostics.sort_by_key(|d| {
            (
                order.get(d.file.as_path()).copied(),
                d.pos.map(|p| (p.line, p.col)),
            )
        });
        // An object referenced twice (an SLI shared by two SLOs) reports its problems once.
        let mut seen: HashSet<Diagnostic> = HashSet::with_capacity(diagnostics.len());
        diagnostics.retain(|d| seen.insert(d.clone()));
        conversion.diagnostics = diagnostics;
        conversion
    }
}

/// The loader's hook for one file's text: `None` when the text is not a foreign spec.
/// A file holding several services (or none) cannot be one `ServiceSpec`: that is an error
/// here; `load_paths` takes such files whole.
pub(crate) fn load_single(
    file: &Path,
    text: &str,
) -> Option<(Option<ServiceSpec>, Vec<Diagnostic>)> {
    let mut import = Import::default();
    if !import.accept(file, text) {
        return None;
    }
    let (mut specs, mut diagnostics) = import.load();
    let errors = has_errors(&diagnostics);
    if specs.len() == 1 {
        return Some((specs.pop(), diagnostics));
    }
    if !errors {
        diagnostics.push(Diagnostic {
            file: file.to_path_buf(),
            pos: None,
            field: String::new(),
            message: format!(
                "holds {} services; load it as a path (burnrate validate/check FILE), not as one spec",
                specs.len()
            ),
            severity: Severity::Error,
        });
    }
    Some((None, diagnostics))
}

/// Labels of one SLO in a format where SLOs carry labels (Sloth `slos[].labels`, OpenSLO
/// `metadata.labels`, Pyrra's `pyrra.dev/` labels).
pub(crate) struct LabelSet {
    pub(crate) labels: Vec<(Val, Val)>,
    pub(crate) from: Origin,
}

/// burnrate labels are per service: the SLO labels every SLO of the service has, with the
/// same value, become service labels; the others cannot be expressed and are reported.
pub(crate) fn common_labels(sets: &[Option<LabelSet>], sink: &mut Sink) -> Vec<(Val, Val)> {
    let pairs = |s: &Option<LabelSet>| -> BTreeSet<(String, String)> {
        s.iter()
            .flat_map(|s| s.labels.iter())
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect()
    };
    let Some(first) = sets.first() else {
        return Vec::new();
    };
    let mut common = pairs(first);
    for s in &sets[1..] {
        let p = pairs(s);
        common.retain(|kv| p.contains(kv));
    }
    for set in sets.iter().flatten() {
        let left_out: Vec<&str> = set
            .labels
            .iter()
            .filter(|(k, v)| !common.contains(&(k.value.clone(), v.value.clone())))
            .map(|(k, _)| k.value.as_str())
            .collect();
        if !left_out.is_empty() {
            sink.warning(
                &set.from.file,
                set.from.pos,
                &set.from.field,
                format!(
                    "not converted: {} (burnrate labels are per service, and the service's \
                     SLOs do not all carry these labels with these values)",
                    left_out.join(", ")
                ),
            );
        }
    }
    first
        .iter()
        .flat_map(|s| s.labels.iter())
        .filter(|(k, v)| common.contains(&(k.value.clone(), v.value.clone())))
        .cloned()
        .collect()
}

/// The SLOs of one source object (an OpenSLO or a Pyrra SLO), and the service it names.
pub(crate) struct Member {
    pub(crate) service: Val,
    pub(crate) labels: Option<LabelSet>,
    pub(crate) slos: Vec<SloDoc>,
    /// Whether it translated without error.
    pub(crate) ok: bool,
}

/// One document per service, in order of each service's first member, for formats whose
/// objects each name their service: the members' SLOs in order, the labels they all share
/// as service labels (`common_labels`), attributed to the first member's file. A service
/// with a member in error is not loaded (`false`): its other SLOs would be a different spec.
pub(crate) fn by_service(
    members: Vec<Member>,
    flavour: &str,
    notes: &[String],
    sink: &mut Sink,
) -> Vec<(ServiceDoc, bool)> {
    let mut groups: Vec<Vec<Member>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for m in members {
        match group_of.get(&m.service.value) {
            Some(&g) => groups[g].push(m),
            None => {
                group_of.insert(m.service.value.clone(), groups.len());
                groups.push(vec![m]);
            }
        }
    }
    let mut out = Vec::new();
    for mut members in groups {
        let ok = members.iter().all(|m| m.ok);
        let label_sets: Vec<Option<LabelSet>> =
            members.iter_mut().map(|m| m.labels.take()).collect();
        let labels = common_labels(&label_sets, sink);
        let service = members[0].service.clone();
        let mut files: Vec<String> = Vec::new();
        let mut seen_files: HashSet<String> = HashSet::new();
        let mut slos = Vec::new();
        for m in members {
            let f = m.service.from.file.display().to_string();
            if seen_files.insert(f.clone()) {
                files.push(f);
            }
            slos.extend(m.slos);
        }
        out.push((
            ServiceDoc {
                file: service.from.file.clone(),
                source: format!("{} ({flavour})", files.join(", ")),
                notes: notes.to_vec(),
                service,
                labels,
                slos,
            },
            ok,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_by_version_field() {
        assert_eq!(
            detect("# c\nversion: \"prometheus/v1\"\nservice: x\n"),
            Some(Format::Sloth)
        );
        assert_eq!(
            detect("apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\n"),
            Some(Format::Sloth)
        );
        assert_eq!(
            detect("---\napiVersion: openslo/v1\nkind: SLO\n"),
            Some(Format::OpenSlo)
        );
        assert_eq!(
            detect("- apiVersion: openslo/v1\n  kind: SLI\n"),
            Some(Format::OpenSlo)
        );
        // v2alpha is recognized, to be refused as OpenSLO rather than as a burnrate spec.
        assert_eq!(
            detect("- apiVersion: openslo.com/v2alpha\n  kind: SLO\n"),
            Some(Format::OpenSlo)
        );
        assert_eq!(
            detect("apiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\n"),
            Some(Format::Pyrra)
        );
        assert_eq!(detect("apiVersion: burnrate/v1\nservice: x\n"), None);
        assert_eq!(detect("service: x\n  version: prometheus/v1\n"), None);
    }
}
