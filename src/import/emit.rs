//! The burnrate/v1 document an import produces, written out as YAML and loaded back.
//!
//! An imported service is not built into a `ServiceSpec` directly: it is written as the
//! burnrate/v1 text `burnrate convert` prints, and that text goes through the ordinary
//! loader (`load_native`), so an imported spec and its converted file cannot differ and every
//! burnrate check applies to imports too. Each line written remembers the source field it
//! came from; the loader's diagnostics are moved back onto those fields, so a problem is
//! reported at the `file:line:column` of the Sloth, OpenSLO or Pyrra spec, under its own
//! field name.

use crate::decision::Decision;
use crate::spec::load::load_native;
use crate::spec::yaml::{Node, Pos};
use crate::spec::{API_VERSION, Diagnostic, HistogramKind, ServiceSpec};
use crate::yaml_out::quoted as quote;
use regex::Regex;
use std::path::{Path, PathBuf};
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

/// The origin of `node` in `file`, named `field`.
pub(crate) fn origin(file: &Path, node: &Node, field: &str) -> Origin {
    Origin {
        file: file.to_path_buf(),
        pos: node.pos,
        field: field.to_string(),
    }
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
    /// Percent of good events, as text (`99.9`); a histogram SLI writes it as its quantile.
    pub(crate) objective: Val,
    pub(crate) events: Events,
    /// `group_by` labels (empty: one instance).
    pub(crate) group_by: Vec<Val>,
    pub(crate) matrix: MatrixDoc,
    pub(crate) for_: Option<Val>,
}

#[derive(Debug, Clone)]
pub(crate) enum Events {
    Selectors {
        bad: Val,
        total: Val,
    },
    Queries {
        bad: Val,
        total: Val,
    },
    /// A histogram's share of requests slower than `threshold` (`latency:`): a classic
    /// histogram's base name with its matchers, or a native histogram's selector; and a
    /// duration.
    Histogram {
        histogram: Val,
        kind: HistogramKind,
        threshold: Val,
    },
}

impl Events {
    /// The burnrate dimension the events are measured as.
    fn dimension(&self) -> &'static str {
        match self {
            Events::Selectors { .. } | Events::Queries { .. } => "error",
            Events::Histogram { .. } => "latency",
        }
    }
}

/// The alert rules of an SLO.
#[derive(Debug, Clone)]
pub(crate) enum MatrixDoc {
    /// No `matrix`: burnrate's default ladder.
    Ladder,
    Rules(Vec<RuleDoc>),
    /// `matrix: {preset: NAME}`: a tool's ladder, scaled to the period by the loader.
    Preset {
        name: &'static str,
        from: Origin,
        /// Trailing comment naming where the preset comes from.
        note: String,
    },
    /// No rule (`matrix: {DIMENSION: []}`): the SLO reports its budget and never alerts.
    Silent {
        from: Origin,
        note: String,
    },
}

impl From<Option<Vec<RuleDoc>>> for MatrixDoc {
    fn from(rules: Option<Vec<RuleDoc>>) -> MatrixDoc {
        rules.map_or(MatrixDoc::Ladder, MatrixDoc::Rules)
    }
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
        if let Some(first) = slo.group_by.first() {
            // One line per label, so the loader's complaint about one names its source.
            w.line("    group_by:", Some(&first.from));
            for g in &slo.group_by {
                w.line(
                    &format!("      - {}", quote_if_needed(&g.value)),
                    Some(&g.from),
                );
            }
        }
        let dim = slo.events.dimension();
        w.line(&format!("    {dim}:"), Some(&slo.from));
        match &slo.events {
            Events::Selectors { bad, total } => {
                w.plain(6, "objective", &slo.objective);
                w.entry(6, "bad", bad);
                w.entry(6, "total", total);
            }
            Events::Queries { bad, total } => {
                w.plain(6, "objective", &slo.objective);
                w.entry(6, "bad_query", bad);
                w.entry(6, "total_query", total);
            }
            Events::Histogram {
                histogram,
                kind,
                threshold,
            } => {
                let field = match kind {
                    HistogramKind::Classic => "histogram",
                    HistogramKind::Native => "native_histogram",
                };
                w.entry(6, field, histogram);
                let quantile = Val::new(
                    percent_to_ratio(&slo.objective.value),
                    slo.objective.from.clone(),
                );
                w.plain(6, "quantile", &quantile);
                w.plain(6, "threshold", threshold);
            }
        }
        match &slo.matrix {
            MatrixDoc::Ladder => {}
            MatrixDoc::Rules(rules) => {
                w.line("    matrix:", rules.first().map(|r| &r.from));
                w.line(&format!("      {dim}:"), rules.first().map(|r| &r.from));
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
            MatrixDoc::Preset { name, from, note } => {
                w.line("    matrix:", Some(from));
                w.line(&format!("      preset: {name}  # {note}"), Some(from));
            }
            MatrixDoc::Silent { from, note } => {
                w.line("    matrix:", Some(from));
                w.line(&format!("      {dim}: []  # {note}"), Some(from));
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

/// A percentage written as a decimal (`99.5`) as a ratio text (`0.995`), by moving the
/// decimal point: no float rounding, so the quantile reads as the target was written.
/// Anything but a plain decimal is converted through a float.
pub(crate) fn percent_to_ratio(text: &str) -> String {
    let t = text.trim().trim_start_matches('+');
    let plain = !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && t.matches('.').count() <= 1;
    if !plain {
        return match t.parse::<f64>() {
            Ok(v) => format!("{}", (v * 1e10).round() / 1e12),
            Err(_) => t.to_string(),
        };
    }
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let int = format!("{int:0>2}");
    let (head, tail) = int.split_at(int.len() - 2);
    let head = head.trim_start_matches('0');
    let frac = format!("{tail}{frac}");
    let frac = frac.trim_end_matches('0');
    let head = if head.is_empty() { "0" } else { head };
    if frac.is_empty() {
        head.to_string()
    } else {
        format!("{head}.{frac}")
    }
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
    fn percentages_become_ratios_without_rounding() {
        for (percent, ratio) in [
            ("99.5", "0.995"),
            ("99", "0.99"),
            ("99.0", "0.99"),
            ("90", "0.9"),
            ("99.99", "0.9999"),
            ("5", "0.05"),
            ("0.5", "0.005"),
            ("100", "1"),
            ("9.95e1", "0.995"),
        ] {
            assert_eq!(percent_to_ratio(percent), ratio, "{percent}");
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
