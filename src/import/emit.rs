//! The burnrate/v1 document an import produces, written out as YAML and loaded back.
//!
//! An imported service is not built into a `ServiceSpec` directly: it is written as the
//! burnrate/v1 text `burnrate convert` prints, and that text goes through the ordinary
//! loader (`load_native`), so an imported spec and its converted file cannot differ and every
//! burnrate check applies to imports too. Each line written remembers the source field it
//! came from; the loader's diagnostics are moved back onto those fields, so a problem is
//! reported at the `file:line:column` of the Sloth or OpenSLO spec, under its own field name.

use crate::decision::Decision;
use crate::spec::load::load_native;
use crate::spec::yaml::Pos;
use crate::spec::{API_VERSION, Diagnostic, ServiceSpec};
use crate::yaml_out::quoted as quote;
use regex::Regex;
use std::path::PathBuf;
use std::sync::OnceLock;

static LINE_REF: OnceLock<Regex> = OnceLock::new();

/// Where a value of the burnrate document comes from in the source spec.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) file: PathBuf,
    pub(crate) pos: Pos,
    /// The field as the source names it.
    pub(crate) field: String,
}

/// A value and its origin.
#[derive(Debug, Clone)]
pub(crate) struct Val {
    pub(crate) value: String,
    pub(crate) from: Origin,
}

impl Val {
    pub(crate) fn new(value: impl Into<String>, from: Origin) -> Val {
        Val {
            value: value.into(),
            from,
        }
    }
}

#[derive(Debug)]
pub(crate) struct ServiceDoc {
    /// The file the service is attributed to (`ServiceSpec::file`).
    pub(crate) file: PathBuf,
    /// What it was converted from, for the header comment (`x.yml (Sloth prometheus/v1)`).
    pub(crate) source: String,
    /// Comment lines written under the header.
    pub(crate) notes: Vec<String>,
    pub(crate) service: Val,
    pub(crate) labels: Vec<(Val, Val)>,
    pub(crate) slos: Vec<SloDoc>,
}

#[derive(Debug)]
pub(crate) struct SloDoc {
    pub(crate) from: Origin,
    /// Comment lines written above the SLO.
    pub(crate) notes: Vec<String>,
    pub(crate) name: Val,
    pub(crate) description: Option<Val>,
    pub(crate) period: Val,
    /// Percent of good events, as text (`99.9`).
    pub(crate) objective: Val,
    pub(crate) events: Events,
    /// `None`: the default ladder.
    pub(crate) matrix: Option<Vec<RuleDoc>>,
    pub(crate) for_: Option<Val>,
}

#[derive(Debug, Clone)]
pub(crate) enum Events {
    Selectors { bad: Val, total: Val },
    Queries { bad: Val, total: Val },
}

#[derive(Debug, Clone)]
pub(crate) struct RuleDoc {
    pub(crate) decision: Decision,
    pub(crate) burn: String,
    pub(crate) long: String,
    pub(crate) short: Option<String>,
    pub(crate) from: Origin,
    /// Trailing comment naming where the rule comes from.
    pub(crate) note: String,
}

/// The YAML text and, per line (index = line - 1), the origin of what it holds.
struct Writer {
    text: String,
    origins: Vec<Option<Origin>>,
}

impl Writer {
    fn line(&mut self, line: &str, from: Option<&Origin>) {
        self.text.push_str(line);
        self.text.push('\n');
        self.origins.push(from.cloned());
    }

    fn comment(&mut self, indent: usize, text: &str) {
        for l in text.lines() {
            let l = l.trim_end();
            let line = if l.is_empty() {
                format!("{:indent$}#", "")
            } else {
                format!("{:indent$}# {l}", "")
            };
            self.line(&line, None);
        }
    }

    /// `key: value` with `value` written as a YAML string (a block scalar if it spans lines).
    fn entry(&mut self, indent: usize, key: &str, val: &Val) {
        self.scalar(indent, key, &val.value, false, &val.from);
    }

    /// `key: value` with `value` written as it is (a number or a duration).
    fn plain(&mut self, indent: usize, key: &str, val: &Val) {
        self.scalar(indent, key, &val.value, true, &val.from);
    }

    fn scalar(&mut self, indent: usize, key: &str, value: &str, plain: bool, from: &Origin) {
        // `plain`: numbers and durations, written as they are.
        let pad = format!("{:indent$}", "");
        if plain {
            self.line(&format!("{pad}{key}: {value}"), Some(from));
            return;
        }
        match block_lines(value) {
            Some(lines) => {
                self.line(&format!("{pad}{key}: |-"), Some(from));
                for l in lines {
                    if l.is_empty() {
                        self.line("", Some(from));
                    } else {
                        self.line(&format!("{pad}  {l}"), Some(from));
                    }
                }
            }
            None => self.line(
                &format!("{pad}{key}: {}", quote_if_needed(value)),
                Some(from),
            ),
        }
    }
}

/// Renders the document; returns the text and the origin of each of its lines.
fn render(doc: &ServiceDoc) -> (String, Vec<Option<Origin>>) {
    let mut w = Writer {
        text: String::new(),
        origins: Vec::new(),
    };
    w.comment(
        0,
        &format!(
            "burnrate/v1 spec converted by `burnrate convert` from {}.",
            doc.source
        ),
    );
    for note in &doc.notes {
        w.comment(0, note);
    }
    w.line(
        &format!("apiVersion: {API_VERSION}"),
        Some(&doc.service.from),
    );
    w.entry(0, "service", &doc.service);
    if !doc.labels.is_empty() {
        w.line("labels:", Some(&doc.labels[0].0.from));
        for (key, value) in &doc.labels {
            // A label name that is not a plain word is quoted so the loader sees it as
            // written and names it in its error.
            let k = if is_plain_word(&key.value) {
                key.value.clone()
            } else {
                quote(&key.value)
            };
            // One line holds both: the key's origin (errors about names are the likely ones).
            w.line(
                &format!("  {k}: {}", quote_if_needed(&value.value)),
                Some(&key.from),
            );
        }
    }
    w.line("slos:", doc.slos.first().map(|s| &s.from));
    for slo in &doc.slos {
        for note in &slo.notes {
            w.comment(2, note);
        }
        w.line(
            &format!("  - name: {}", quote_if_needed(&slo.name.value)),
            Some(&slo.name.from),
        );
        if let Some(d) = &slo.description {
            w.entry(4, "description", d);
        }
        w.plain(4, "period", &slo.period);
        if let Some(f) = &slo.for_ {
            w.plain(4, "for", f);
        }
        w.line("    error:", Some(&slo.from));
        w.plain(6, "objective", &slo.objective);
        match &slo.events {
            Events::Selectors { bad, total } => {
                w.entry(6, "bad", bad);
                w.entry(6, "total", total);
            }
            Events::Queries { bad, total } => {
                w.entry(6, "bad_query", bad);
                w.entry(6, "total_query", total);
            }
        }
        if let Some(rules) = &slo.matrix {
            w.line("    matrix:", rules.first().map(|r| &r.from));
            w.line("      error:", rules.first().map(|r| &r.from));
            for r in rules {
                let short = r
                    .short
                    .as_ref()
                    .map(|s| format!(", short: {s}"))
                    .unwrap_or_default();
                w.line(
                    &format!(
                        "        - {{decision: {}, burn: {}, long: {}{short}}}  # {}",
                        r.decision, r.burn, r.long, r.note
                    ),
                    Some(&r.from),
                );
            }
        }
    }
    (w.text, w.origins)
}

/// Writes the document and loads it with the burnrate loader. Returns the YAML, the spec
/// (when the loader found no error) and the loader's diagnostics moved onto the source.
pub(crate) fn load(doc: &ServiceDoc) -> (String, Option<ServiceSpec>, Vec<Diagnostic>) {
    let (text, origins) = render(doc);
    let (spec, diagnostics) = load_native(&doc.file, &text);
    let origin_of = |line: usize| {
        origins[..line.min(origins.len())]
            .iter()
            .rev()
            .find_map(|o| o.as_ref())
    };
    let diagnostics = diagnostics
        .into_iter()
        .map(|d| {
            // A message may name another line of the written text ("first defined at line
            // 12"): name the source's line (and file) instead.
            let message = LINE_REF
                .get_or_init(|| Regex::new(r"\bat line (\d+)").expect("valid regex"))
                .replace_all(&d.message, |c: &regex::Captures| {
                    match c[1].parse().ok().and_then(origin_of) {
                        Some(o) if o.file == doc.file => format!("at line {}", o.pos.line),
                        Some(o) => format!("at {}:{}", o.file.display(), o.pos.line),
                        None => c[0].to_string(),
                    }
                })
                .into_owned();
            match d.pos.and_then(|p| origin_of(p.line)) {
                Some(o) => Diagnostic {
                    file: o.file.clone(),
                    pos: Some(o.pos),
                    field: o.field.clone(),
                    message,
                    ..d
                },
                None => Diagnostic {
                    file: doc.file.clone(),
                    pos: Some(doc.service.from.pos),
                    message,
                    ..d
                },
            }
        })
        .collect();
    (text, spec, diagnostics)
}

/// The lines of a multi-line string that a literal block scalar (`|-`) reproduces exactly;
/// `None` for single-line strings and strings a block cannot hold as they are.
fn block_lines(value: &str) -> Option<Vec<&str>> {
    if !value.contains('\n') {
        return None;
    }
    let lines: Vec<&str> = value.split('\n').collect();
    let first = lines[0];
    let clean = !value.ends_with('\n')
        && !first.is_empty()
        && !first.starts_with([' ', '\t'])
        && value
            .chars()
            .all(|c| c == '\n' || c == '\t' || !c.is_control())
        && lines.iter().all(|l| !l.ends_with([' ', '\t']))
        && lines.iter().any(|l| !l.trim().is_empty());
    clean.then_some(lines)
}

fn is_plain_word(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Plain when YAML reads it back as the same string, single-quoted otherwise.
fn quote_if_needed(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain { s.to_string() } else { quote(s) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::yaml;

    fn read_back(s: &str) -> String {
        let doc = yaml::parse(&format!("k: {}\n", quote(s))).unwrap().unwrap();
        let crate::spec::yaml::Value::Map(e) = doc.value else {
            panic!()
        };
        e[0].1.as_scalar().unwrap().to_string()
    }

    #[test]
    fn quoting_reads_back_exactly() {
        for s in [
            "plain",
            "it's",
            "sum(rate(x{code=~\"5..\"}[{{.window}}]))",
            "a\nb",
            "tab\there",
            "# not a comment",
            "99",
            "",
        ] {
            assert_eq!(read_back(s), s);
        }
    }

    #[test]
    fn block_scalars_only_when_exact() {
        assert!(block_lines("one line").is_none());
        assert_eq!(block_lines("a\n  b\nc").unwrap(), ["a", "  b", "c"]);
        assert!(block_lines(" indented\nx").is_none());
        assert!(block_lines("trailing \nx").is_none());
        assert!(block_lines("ends\n").is_none());
    }
}
