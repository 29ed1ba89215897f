//! Turns spec files into `ServiceSpec`s, collecting every problem with its `file:line:column`.
//!
//! Checking is done by hand over the positioned YAML tree (not by serde) so one run lists
//! all errors of a file, each naming the field path (`slos[0].error.objective`) and what is
//! wrong with it.

use super::fields::{Sink, has_errors, join};
use super::presets::Preset;
use super::selector::{Selector, parse_selector};
use super::yaml::{self, Node, Pos, Value};
use super::{
    API_VERSION, Breakdown, DEFAULT_BREAKDOWN_TOP, DEFAULT_MAX_GROUPS, Dimension, ErrorEvents,
    ErrorSli, HistogramKind, LatencySli, MAX_MAINTENANCE_WINDOWS, MaintenanceWindow, NoDataPolicy,
    Rule, ServiceSpec, SloSpec, WINDOW_PLACEHOLDER, budget, ladder,
};
use crate::calendar::{Calendar, CalendarUnit, parse_timezone};
use crate::decision::Decision;
use crate::duration::PromDuration;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub(crate) use super::fields::Diagnostic;

/// The path tests and benches have always used; files of every format load through
/// `specfiles`, which sits above this module and the importers.
pub use crate::specfiles::load_str;

/// Loads one burnrate/v1 text (a Sloth or OpenSLO text is `import`'s; `specfiles::load_str`
/// takes either). The spec is returned only when there was no error.
pub(crate) fn load_native(file: &Path, text: &str) -> (Option<ServiceSpec>, Vec<Diagnostic>) {
    let mut cx = Checker {
        file: file.to_path_buf(),
        sink: Sink::default(),
    };
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            cx.sink
                .file_error(file, "empty file: expected a burnrate/v1 spec");
            return (None, cx.sink.diagnostics);
        }
        Err(e) => {
            cx.error(e.pos, "", format!("YAML syntax error: {}", e.message));
            return (None, cx.sink.diagnostics);
        }
    };
    let spec = cx.service(&root);
    let mut diagnostics = cx.sink.diagnostics;
    // Sections are checked in dependency order; report in file order.
    diagnostics.sort_by_key(|d| d.pos.map(|p| (p.line, p.col)));
    let spec = if has_errors(&diagnostics) { None } else { spec };
    (spec, diagnostics)
}

const RESERVED_LABELS: [&str; 7] = [
    "service",
    "slo",
    "dimension",
    "decision",
    "window",
    "alertname",
    "le",
];

/// Labels a group label must not be named besides [`RESERVED_LABELS`]: the query's tag and
/// the labels of the daemon's per-SLO metrics.
const GROUP_RESERVED_LABELS: [&str; 4] = [
    crate::measure::query::KEY_LABEL,
    "percentile",
    "result",
    "burnrate_for",
];

/// Whether burnrate sets a label of this name itself (on outputs, metrics, alerts or the
/// query's tag), so that no `group_by` or `breakdown` label may be named so.
pub(crate) fn is_reserved_group_label(name: &str) -> bool {
    RESERVED_LABELS.contains(&name) || GROUP_RESERVED_LABELS.contains(&name)
}

/// `breakdown_top` at most: each contributor is a line of every alert.
const MAX_BREAKDOWN_TOP: usize = 100;
/// The series a classic histogram is made of, beside its buckets' base name.
const CLASSIC_SERIES_SUFFIXES: [&str; 3] = ["_bucket", "_count", "_sum"];
/// What validation says of an SLO that only the backend can measure.
const BACKEND_MEASURED: &str = "this SLO is measured by the backend (query_range in a backtest, direct queries in the daemon), and a history file cannot replay it";

/// `max_groups` at most: each group is a set of series in every output and metric.
const MAX_GROUPS_LIMIT: usize = 100_000;

/// A parsed `matrix:`.
struct Matrix {
    /// Per dimension listed: the position of its key and its rules (None on error).
    dims: HashMap<Dimension, (Pos, Option<Vec<Rule>>)>,
    /// The preset's rules, for the dimensions not listed; `Err` when it was invalid.
    preset: Result<Option<Vec<Rule>>, ()>,
}

/// What a rule's threshold was given as.
enum BurnOrBudget {
    Burn(f64),
    /// A share of the period's budget, as a ratio.
    Budget(f64),
}

struct Checker {
    file: PathBuf,
    sink: Sink,
}

/// The fields of a mapping node, after unknown and duplicate keys were reported.
struct Fields<'a> {
    pos: Pos,
    path: String,
    entries: BTreeMap<&'a str, &'a Node>,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .get(key)
            .copied()
            .filter(|n| !matches!(n.value, Value::Null))
    }

    fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

impl Checker {
    fn error(&mut self, pos: Pos, field: &str, message: impl Into<String>) {
        self.sink.error(&self.file, pos, field, message);
    }

    fn warning(&mut self, pos: Pos, field: &str, message: impl Into<String>) {
        self.sink.warning(&self.file, pos, field, message);
    }

    /// Reads a mapping, reporting keys outside `allowed` and keys given twice.
    fn fields<'a>(&mut self, node: &'a Node, path: &str, allowed: &[&str]) -> Option<Fields<'a>> {
        let Value::Map(entries) = &node.value else {
            return self.sink.expected_kind(&self.file, node, path, "a mapping");
        };
        let mut fields = Fields {
            pos: node.pos,
            path: path.to_string(),
            entries: BTreeMap::new(),
        };
        for (key, value) in entries {
            let Some(name) = key.as_scalar() else {
                self.error(key.pos, path, "mapping keys must be plain strings");
                continue;
            };
            if !allowed.contains(&name) {
                self.error(
                    key.pos,
                    &join(path, name),
                    format!("unknown field (expected one of: {})", allowed.join(", ")),
                );
                continue;
            }
            if fields.entries.insert(name, value).is_some() {
                self.error(key.pos, &join(path, name), "field given twice");
            }
        }
        Some(fields)
    }

    fn required<'a>(&mut self, fields: &Fields<'a>, key: &str) -> Option<&'a Node> {
        let node = fields.get(key);
        if node.is_none() {
            self.sink
                .missing(&self.file, fields.pos, &fields.field(key));
        }
        node
    }

    fn string(&mut self, node: &Node, field: &str) -> Option<String> {
        self.sink.string(&self.file, node, field)
    }

    fn number(&mut self, node: &Node, field: &str) -> Option<f64> {
        let text = self.sink.number(&self.file, node, field)?;
        text.parse().ok()
    }

    fn duration(&mut self, node: &Node, field: &str) -> Option<PromDuration> {
        let text = self.string(node, field)?;
        match PromDuration::parse(&text) {
            Ok(d) => Some(d),
            Err(message) => {
                self.error(node.pos, field, message);
                None
            }
        }
    }

    /// A duration used as a rate window: positive, with a warning under one minute.
    fn window(&mut self, node: &Node, field: &str) -> Option<PromDuration> {
        let d = self.duration(node, field)?;
        if d.millis() <= 0 {
            self.error(node.pos, field, "window must be longer than 0");
            return None;
        }
        if d.millis() < 60_000 {
            self.warning(
                node.pos,
                field,
                format!(
                    "window {d} is under 1m: a rate needs two samples inside the window, \
                     so with a typical scrape interval it will often be empty"
                ),
            );
        }
        Some(d)
    }

    fn selector(&mut self, node: &Node, field: &str) -> Option<Selector> {
        let text = self.string(node, field)?;
        match parse_selector(&text) {
            Ok(sel) => Some(sel),
            Err(e) => {
                let quote = matches!(&node.value, Value::Scalar { quoted: true, .. });
                let col = node.pos.col + e.offset + usize::from(quote);
                let pos = Pos {
                    line: node.pos.line,
                    col,
                };
                self.error(pos, field, format!("not a PromQL selector: {}", e.message));
                None
            }
        }
    }

    fn service(&mut self, root: &Node) -> Option<ServiceSpec> {
        let f = self.fields(root, "", &["apiVersion", "service", "labels", "slos"])?;
        if let Some(node) = self.required(&f, "apiVersion")
            && let Some(v) = self.string(node, "apiVersion")
            && v != API_VERSION
        {
            self.error(
                node.pos,
                "apiVersion",
                format!("must be {API_VERSION:?}, got {v:?}"),
            );
        }
        let service = self
            .required(&f, "service")
            .and_then(|n| self.string(n, "service"));
        let labels = match f.get("labels") {
            Some(node) => self.labels(node),
            None => Some(BTreeMap::new()),
        };
        let slos = self
            .required(&f, "slos")
            .and_then(|n| self.slos(n, labels.as_ref()));
        Some(ServiceSpec {
            file: self.file.clone(),
            service: service?,
            labels: labels?,
            slos: slos?,
        })
    }

    fn labels(&mut self, node: &Node) -> Option<BTreeMap<String, String>> {
        let Value::Map(entries) = &node.value else {
            return self
                .sink
                .expected_kind(&self.file, node, "labels", "a mapping");
        };
        let mut labels = BTreeMap::new();
        let mut ok = true;
        for (key, value) in entries {
            let name = key.as_scalar().unwrap_or_default().to_string();
            let field = format!("labels.{name}");
            if !is_label_name(&name) || name.starts_with("__") {
                self.error(
                    key.pos,
                    &field,
                    "not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)",
                );
                ok = false;
            } else if RESERVED_LABELS.contains(&name.as_str()) {
                self.error(
                    key.pos,
                    &field,
                    "is set by burnrate itself; choose another label name",
                );
                ok = false;
            }
            let Some(text) = value.as_scalar() else {
                self.sink
                    .expected_kind::<()>(&self.file, value, &field, "a string");
                ok = false;
                continue;
            };
            if labels.insert(name, text.to_string()).is_some() {
                self.error(key.pos, &field, "label given twice");
                ok = false;
            }
        }
        ok.then_some(labels)
    }

    fn slos(
        &mut self,
        node: &Node,
        spec_labels: Option<&BTreeMap<String, String>>,
    ) -> Option<Vec<SloSpec>> {
        let Value::Seq(items) = &node.value else {
            return self.sink.expected_kind(&self.file, node, "slos", "a list");
        };
        if items.is_empty() {
            self.error(node.pos, "slos", "must list at least one SLO");
            return None;
        }
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut slos = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("slos[{i}]");
            match self.slo(item, &path, &mut names, spec_labels) {
                Some(slo) => slos.push(slo),
                None => ok = false,
            }
        }
        ok.then_some(slos)
    }

    fn slo(
        &mut self,
        node: &Node,
        path: &str,
        names: &mut HashMap<String, usize>,
        spec_labels: Option<&BTreeMap<String, String>>,
    ) -> Option<SloSpec> {
        let f = self.fields(
            node,
            path,
            &[
                "name",
                "description",
                "period",
                "min_events",
                "error",
                "latency",
                "matrix",
                "for",
                "hold",
                "group_by",
                "max_groups",
                "timezone",
                "no_data",
                "maintenance",
            ],
        )?;
        let name = self.required(&f, "name").and_then(|n| {
            let name = self.string(n, &f.field("name"))?;
            if let Some(first) = names.insert(name.clone(), n.pos.line) {
                self.error(
                    n.pos,
                    &f.field("name"),
                    format!("duplicate SLO name {name:?} (first defined at line {first})"),
                );
                return None;
            }
            Some(name)
        });
        let description = f
            .get("description")
            .and_then(|n| self.string(n, &f.field("description")));
        // `period`: a duration, or a calendar period (`month`, `week`, `quarter`) whose
        // nominal length is what rules scale to.
        let calendar_unit = f
            .get("period")
            .and_then(|n| n.as_scalar())
            .and_then(CalendarUnit::parse);
        let period = match f.get("period") {
            Some(_) if calendar_unit.is_some() => {
                calendar_unit.map(|unit| PromDuration::from_millis(unit.nominal_ms()))
            }
            Some(n) => self.duration(n, &f.field("period")).and_then(|d| {
                if d.millis() <= 0 {
                    self.error(n.pos, &f.field("period"), "must be longer than 0");
                    None
                } else {
                    Some(d)
                }
            }),
            None => PromDuration::parse("30d").ok(),
        };
        let calendar = match (calendar_unit, f.get("timezone")) {
            (unit, Some(n)) => self.string(n, &f.field("timezone")).and_then(|name| {
                let Some(timezone) = parse_timezone(&name) else {
                    self.error(
                        n.pos,
                        &f.field("timezone"),
                        format!(
                            "unknown time zone {name:?} (an IANA name such as Europe/Berlin or UTC)"
                        ),
                    );
                    return None;
                };
                match unit {
                    Some(unit) => Some(Some(Calendar::new(unit, timezone))),
                    None => {
                        self.error(
                            n.pos,
                            &f.field("timezone"),
                            "applies to calendar periods only (period: month, week or quarter)",
                        );
                        None
                    }
                }
            }),
            (Some(unit), None) => Some(Some(Calendar::new(unit, chrono_tz::UTC))),
            (None, None) => Some(None),
        };
        let min_events = match f.get("min_events") {
            Some(n) => self.number(n, &f.field("min_events")).and_then(|v| {
                if v < 0.0 {
                    self.error(n.pos, &f.field("min_events"), "must be 0 or more");
                    None
                } else {
                    Some(Some(v))
                }
            }),
            None => Some(None),
        };
        let for_ = self.optional_duration(&f, "for");
        let hold = self.optional_duration(&f, "hold");
        let group_by = match f.get("group_by") {
            Some(n) => self.group_by(n, &f.field("group_by"), spec_labels),
            None => Some(Vec::new()),
        };
        let max_groups = match f.get("max_groups") {
            Some(n) => self.max_groups(n, &f.field("max_groups")),
            None => Some(DEFAULT_MAX_GROUPS),
        };
        let no_data = match f.get("no_data") {
            Some(n) => self.no_data(n, &f.field("no_data")).map(Some),
            None => Some(None),
        };
        let maintenance = match f.get("maintenance") {
            Some(n) => self.maintenance(n, &f.field("maintenance")),
            None => Some(Vec::new()),
        };

        // The nominal period: what the default ladder, presets and `budget:` rules scale to.
        let period_for_ladder = period
            .clone()
            .unwrap_or_else(|| PromDuration::from_millis(30 * 86_400_000));
        let mut matrix = f
            .get("matrix")
            .map(|n| self.matrix(n, &f.field("matrix"), &period_for_ladder));
        let error_node = f.get("error");
        let latency_node = f.get("latency");
        if error_node.is_none() && latency_node.is_none() {
            self.error(
                f.pos,
                path,
                "an SLO needs an `error` or a `latency` section (or both)",
            );
        }
        // A matrix section for a dimension the SLO does not have is a mistake worth naming.
        if let Some(Some(m)) = &matrix {
            for (dim, present) in [
                (Dimension::Error, error_node.is_some()),
                (Dimension::Latency, latency_node.is_some()),
            ] {
                if let Some((pos, _)) = m.dims.get(&dim)
                    && !present
                {
                    let field = format!("{}.{}", f.field("matrix"), dim.as_str());
                    self.error(
                        *pos,
                        &field,
                        format!("the SLO has no `{}` section", dim.as_str()),
                    );
                }
            }
        }
        // A dimension's own list, else the preset's, else the default ladder.
        let mut rules_for = |dim: Dimension| -> Option<Vec<Rule>> {
            match &mut matrix {
                Some(None) => None,
                Some(Some(m)) => match m.dims.remove(&dim) {
                    Some((_, rules)) => rules,
                    None => match &m.preset {
                        Ok(Some(rules)) => Some(rules.clone()),
                        Ok(None) => Some(ladder::default_rules(dim, &period_for_ladder)),
                        Err(()) => None,
                    },
                },
                None => Some(ladder::default_rules(dim, &period_for_ladder)),
            }
        };
        let error_rules = rules_for(Dimension::Error);
        let latency_rules = rules_for(Dimension::Latency);
        // Each section is checked even when another one failed, so every error is listed.
        let groups = group_by.as_deref().unwrap_or_default();
        let error = error_node.map(|n| self.error_sli(n, &f.field("error"), groups));
        let latency = latency_node.map(|n| self.latency_sli(n, &f.field("latency"), groups));
        let error = match error {
            Some(sli) => Some(ErrorSli {
                matrix: error_rules?,
                ..sli?
            }),
            None => None,
        };
        let latency = match latency {
            Some(sli) => Some(LatencySli {
                matrix: latency_rules?,
                ..sli?
            }),
            None => None,
        };
        if error.is_none() && latency.is_none() {
            return None;
        }
        Some(SloSpec {
            name: name?,
            description,
            period: period?,
            min_events: min_events?,
            error,
            latency,
            for_: for_?,
            hold: hold?,
            group_by: group_by?,
            max_groups: max_groups?,
            calendar: calendar?,
            no_data: no_data?,
            maintenance: maintenance?,
            plan: Default::default(),
        })
    }

    /// `group_by`: label names the group's series carry. A name burnrate sets itself on
    /// outputs, metrics or alerts (or the query's tag, or a spec label) would be overwritten
    /// there or overwrite it, so it is an error, as is a name given twice.
    fn group_by(
        &mut self,
        node: &Node,
        field: &str,
        spec_labels: Option<&BTreeMap<String, String>>,
    ) -> Option<Vec<String>> {
        self.label_list(node, field, |name| {
            spec_labels.is_some_and(|l| l.contains_key(name)).then(|| {
                format!(
                    "{name:?} is also a label of the spec (`labels`): one would overwrite the other on alerts"
                )
            })
        })
    }

    /// A list of label names of the SLI's series (`group_by`, `breakdown`): valid, none that
    /// burnrate sets itself, none twice, and none `conflict` names a problem with.
    fn label_list(
        &mut self,
        node: &Node,
        field: &str,
        conflict: impl Fn(&str) -> Option<String>,
    ) -> Option<Vec<String>> {
        let items = self.sink.seq(&self.file, node, field)?;
        let mut names: Vec<String> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let field = format!("{field}[{i}]");
            let Some(name) = self.string(item, &field) else {
                ok = false;
                continue;
            };
            let problem = if !is_label_name(&name) || name.starts_with("__") {
                Some(format!(
                    "{name:?} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
                ))
            } else if is_reserved_group_label(&name) {
                Some(format!(
                    "{name:?} is a label burnrate sets itself; use another label"
                ))
            } else if names.contains(&name) {
                Some(format!("{name:?} is listed twice"))
            } else {
                conflict(&name)
            };
            match problem {
                Some(message) => {
                    self.error(item.pos, &field, message);
                    ok = false;
                }
                None => names.push(name),
            }
        }
        ok.then_some(names)
    }

    /// `breakdown` and `breakdown_top` of a dimension. A group label is already one value
    /// per instance, so breaking down by it says nothing: an error.
    fn breakdown(&mut self, f: &Fields, group_by: &[String]) -> Option<Option<Breakdown>> {
        // Both fields are checked even when one fails, so every error is listed.
        let top = match f.get("breakdown_top") {
            Some(n) => self.number(n, &f.field("breakdown_top")).and_then(|v| {
                if v.fract() != 0.0 || !(1.0..=MAX_BREAKDOWN_TOP as f64).contains(&v) {
                    self.error(
                        n.pos,
                        &f.field("breakdown_top"),
                        format!("must be a whole number from 1 to {MAX_BREAKDOWN_TOP}, got {v}"),
                    );
                    None
                } else if f.get("breakdown").is_none() {
                    self.error(
                        n.pos,
                        &f.field("breakdown_top"),
                        "needs `breakdown`: the labels to break the bad events down by",
                    );
                    None
                } else {
                    Some(v as usize)
                }
            }),
            None => Some(DEFAULT_BREAKDOWN_TOP),
        };
        let Some(node) = f.get("breakdown") else {
            return top.map(|_| None);
        };
        let labels = self.label_list(node, &f.field("breakdown"), |name| {
            group_by
                .iter()
                .any(|g| g == name)
                .then(|| format!("{name:?} is a `group_by` label: each group has one value of it"))
        });
        if labels.as_ref().is_some_and(Vec::is_empty) {
            self.error(
                node.pos,
                &f.field("breakdown"),
                "must list at least one label",
            );
            return None;
        }
        Some(Some(Breakdown {
            labels: labels?,
            top: top?,
        }))
    }

    fn max_groups(&mut self, node: &Node, field: &str) -> Option<usize> {
        let v = self.number(node, field)?;
        if v.fract() != 0.0 || !(1.0..=MAX_GROUPS_LIMIT as f64).contains(&v) {
            self.error(
                node.pos,
                field,
                format!("must be a whole number from 1 to {MAX_GROUPS_LIMIT}, got {v}"),
            );
            return None;
        }
        Some(v as usize)
    }

    fn optional_duration(&mut self, f: &Fields, key: &str) -> Option<PromDuration> {
        match f.get(key) {
            Some(n) => self.duration(n, &f.field(key)),
            None => Some(PromDuration::from_millis(0)),
        }
    }

    /// Parses `matrix:`: per dimension the position of its key and its rules (None on
    /// error), and the preset the other dimensions take (`Err` when it failed).
    fn matrix(&mut self, node: &Node, path: &str, period: &PromDuration) -> Option<Matrix> {
        let f = self.fields(node, path, &["error", "latency", "preset"])?;
        let mut dims = HashMap::new();
        for dim in Dimension::ALL {
            if let Some(list) = f.get(dim.as_str()) {
                let rules = self.rules(list, &f.field(dim.as_str()), period);
                dims.insert(dim, (list.pos, rules));
            }
        }
        let preset = match f.get("preset") {
            None => Ok(None),
            Some(n) => {
                let field = f.field("preset");
                let rules = self
                    .string(n, &field)
                    .and_then(|name| match Preset::parse(&name) {
                        Some(preset) => match preset.rules(period) {
                            Ok(rules) => Some(rules),
                            Err(why) => {
                                self.error(n.pos, &field, why);
                                None
                            }
                        },
                        None => {
                            self.error(
                                n.pos,
                                &field,
                                format!(
                                    "unknown preset {name:?} (expected one of: {})",
                                    Preset::NAMES.join(", ")
                                ),
                            );
                            None
                        }
                    });
                rules.map(Some).ok_or(())
            }
        };
        Some(Matrix { dims, preset })
    }

    fn rules(&mut self, node: &Node, path: &str, period: &PromDuration) -> Option<Vec<Rule>> {
        let Value::Seq(items) = &node.value else {
            return self
                .sink
                .expected_kind(&self.file, node, path, "a list of rules");
        };
        // An empty list is an SLO kept for its numbers: burns and budget, never an alert
        // (Sloth with both alerts disabled, Pyrra with `burnrates: false`).
        let mut rules = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.rule(item, &format!("{path}[{i}]"), period) {
                Some(rule) => rules.push(rule),
                None => ok = false,
            }
        }
        ok.then_some(rules)
    }

    /// A decision that calls for action: what a rule or the no-data policy may decide.
    fn action(&mut self, node: &Node, field: &str) -> Option<Decision> {
        let text = self.string(node, field)?;
        let decision = Decision::parse(&text).filter(|d| Decision::ACTIONS.contains(d));
        if decision.is_none() {
            self.error(
                node.pos,
                field,
                format!("must be warn, scale or circuit_break, got {text:?}"),
            );
        }
        decision
    }

    /// `no_data: {after, decision}`.
    fn no_data(&mut self, node: &Node, path: &str) -> Option<NoDataPolicy> {
        let f = self.fields(node, path, &["after", "decision"])?;
        let after = self
            .required(&f, "after")
            .and_then(|n| self.duration(n, &f.field("after")));
        let decision = self
            .required(&f, "decision")
            .and_then(|n| self.action(n, &f.field("decision")));
        Some(NoDataPolicy {
            after: after?,
            decision: decision?,
        })
    }

    /// `maintenance: [{start, end, reason}]`. Windows may overlap (an evaluation inside
    /// several reports every reason); each is checked, so every error is listed.
    fn maintenance(&mut self, node: &Node, path: &str) -> Option<Vec<MaintenanceWindow>> {
        let items = self.sink.seq(&self.file, node, path)?;
        if items.len() > MAX_MAINTENANCE_WINDOWS {
            self.error(
                node.pos,
                path,
                format!(
                    "{} windows: at most {MAX_MAINTENANCE_WINDOWS} (drop the windows that are over)",
                    items.len()
                ),
            );
            return None;
        }
        let mut windows = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.maintenance_window(item, &format!("{path}[{i}]")) {
                Some(w) => windows.push(w),
                None => ok = false,
            }
        }
        ok.then_some(windows)
    }

    fn maintenance_window(&mut self, node: &Node, path: &str) -> Option<MaintenanceWindow> {
        let f = self.fields(node, path, &["start", "end", "reason"])?;
        let start = self
            .required(&f, "start")
            .and_then(|n| self.rfc3339(n, &f.field("start")));
        let end_node = self.required(&f, "end");
        let end = end_node.and_then(|n| self.rfc3339(n, &f.field("end")));
        let reason = self
            .required(&f, "reason")
            .and_then(|n| self.string(n, &f.field("reason")));
        if let (Some(s), Some(e), Some(n)) = (start, end, end_node)
            && e <= s
        {
            self.error(
                n.pos,
                &f.field("end"),
                format!(
                    "must be after start ({}), got {}",
                    crate::time::format_time(s),
                    crate::time::format_time(e)
                ),
            );
            return None;
        }
        Some(MaintenanceWindow {
            start_ms: start?,
            end_ms: end?,
            reason: reason?,
        })
    }

    /// An instant written as RFC 3339 with its offset (`Z` or `+02:00`): a window in a spec
    /// must not depend on the timezone of the machine reading it.
    fn rfc3339(&mut self, node: &Node, field: &str) -> Option<i64> {
        let text = self.string(node, field)?;
        let Ok(ms) =
            chrono::DateTime::parse_from_rfc3339(text.trim()).map(|t| t.timestamp_millis())
        else {
            self.error(
                node.pos,
                field,
                format!(
                    "not an RFC 3339 time with an offset (like 2026-11-20T02:00:00Z or 2026-11-20T04:00:00+02:00): {text:?}"
                ),
            );
            return None;
        };
        if !crate::limits::is_instant(ms) {
            self.error(
                node.pos,
                field,
                format!("{text:?} is out of range (burnrate reads instants up to year 5138)"),
            );
            return None;
        }
        Some(ms)
    }

    fn rule(&mut self, node: &Node, path: &str, period: &PromDuration) -> Option<Rule> {
        let f = self.fields(
            node,
            path,
            &["decision", "burn", "budget", "long", "short", "for"],
        )?;
        let decision = self
            .required(&f, "decision")
            .and_then(|n| self.action(n, &f.field("decision")));
        // `burn`, or `budget`: the share of the period's budget spent in the long window,
        // which is the burn `budget × period / long`.
        let burn = match (f.get("burn"), f.get("budget")) {
            (Some(_), Some(b)) => {
                self.error(
                    b.pos,
                    &f.field("budget"),
                    "give `burn` or `budget`, not both",
                );
                None
            }
            (Some(n), None) => self.number(n, &f.field("burn")).and_then(|v| {
                if v <= 0.0 {
                    self.error(
                        n.pos,
                        &f.field("burn"),
                        format!("must be greater than 0, got {v}"),
                    );
                    return None;
                }
                Some(BurnOrBudget::Burn(v))
            }),
            (None, Some(n)) => self
                .budget_share(n, &f.field("budget"))
                .map(BurnOrBudget::Budget),
            (None, None) => {
                self.error(f.pos, path, "a rule needs `burn` (or `budget`)");
                None
            }
        };
        let for_ = match f.get("for") {
            Some(n) => self.duration(n, &f.field("for")).map(Some),
            None => Some(None),
        };
        let long = self
            .required(&f, "long")
            .and_then(|n| self.window(n, &f.field("long")));
        let short = match f.get("short") {
            Some(n) => {
                let short = self.window(n, &f.field("short"));
                if let (Some(s), Some(l)) = (&short, &long)
                    && s.millis() >= l.millis()
                {
                    self.error(
                        n.pos,
                        &f.field("short"),
                        format!("short window {s} must be shorter than long window {l}"),
                    );
                    return None;
                }
                Some(short?)
            }
            None => None,
        };
        let long = long?;
        let burn = match burn? {
            BurnOrBudget::Burn(v) => v,
            BurnOrBudget::Budget(share) => share * period.millis() as f64 / long.millis() as f64,
        };
        Some(Rule {
            decision: decision?,
            burn,
            long,
            short,
            for_: for_?,
        })
    }

    /// `budget: 2%` (or a number, in percent): a share of the period's budget, as a ratio.
    fn budget_share(&mut self, node: &Node, field: &str) -> Option<f64> {
        let text = node.as_scalar().unwrap_or_default().trim().to_string();
        let percent = text
            .strip_suffix('%')
            .unwrap_or(&text)
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite());
        match percent {
            Some(v) if v > 0.0 && v <= 100.0 => Some(v / 100.0),
            Some(v) => {
                self.error(
                    node.pos,
                    field,
                    format!("must be a share of the budget above 0% and at most 100%, got {v}%"),
                );
                None
            }
            None => {
                self.error(
                    node.pos,
                    field,
                    format!("must be a percentage of the period's budget, e.g. 2%, got {text:?}"),
                );
                None
            }
        }
    }

    fn error_sli(&mut self, node: &Node, path: &str, group_by: &[String]) -> Option<ErrorSli> {
        let f = self.fields(
            node,
            path,
            &[
                "objective",
                "bad",
                "total",
                "bad_query",
                "total_query",
                "breakdown",
                "breakdown_top",
            ],
        )?;
        let breakdown = self.breakdown(&f, group_by);
        let objective = self.required(&f, "objective").and_then(|n| {
            let v = self.number(n, &f.field("objective"))?;
            if !(v > 0.0 && v < 100.0) {
                self.error(
                    n.pos,
                    &f.field("objective"),
                    format!("must be a percentage strictly between 0 and 100, got {v}"),
                );
                return None;
            }
            // Percent to ratio without float noise: 99.9 becomes 0.999, not 0.9990000000000001.
            let objective = (v * 1e10).round() / 1e12;
            let budget = n
                .as_scalar()
                .and_then(budget::from_percent_text)
                .unwrap_or_else(|| budget::of_objective(objective));
            Some((objective, budget))
        });
        let has_selectors = f.get("bad").is_some() || f.get("total").is_some();
        let has_queries = f.get("bad_query").is_some() || f.get("total_query").is_some();
        let events = if has_selectors && has_queries {
            self.error(
                f.pos,
                path,
                "use either `bad`/`total` selectors or `bad_query`/`total_query`, not both",
            );
            None
        } else if has_queries {
            let bad = self
                .required(&f, "bad_query")
                .and_then(|n| self.query(n, &f.field("bad_query")));
            let total = self
                .required(&f, "total_query")
                .and_then(|n| self.query(n, &f.field("total_query")));
            Some(ErrorEvents::Queries {
                bad: bad?,
                total: total?,
            })
        } else {
            let bad = self
                .required(&f, "bad")
                .and_then(|n| self.selector(n, &f.field("bad")));
            let total = self
                .required(&f, "total")
                .and_then(|n| self.selector(n, &f.field("total")));
            Some(ErrorEvents::Selectors {
                bad: bad?,
                total: total?,
            })
        };
        let (objective, budget) = objective?;
        Some(ErrorSli {
            objective,
            budget,
            events: events?,
            matrix: Vec::new(),
            breakdown: breakdown?,
        })
    }

    fn query(&mut self, node: &Node, field: &str) -> Option<String> {
        let text = self.string(node, field)?;
        if !text.contains(WINDOW_PLACEHOLDER) {
            self.error(node.pos, field, format!("must contain the window placeholder {WINDOW_PLACEHOLDER}, e.g. sum(rate(errors_total[{WINDOW_PLACEHOLDER}]))"));
            return None;
        }
        if let Err((offset, message)) = check_brackets(&text) {
            let quote = matches!(&node.value, Value::Scalar { quoted: true, .. });
            let pos = Pos {
                line: node.pos.line,
                col: node.pos.col + offset + usize::from(quote),
            };
            self.error(pos, field, message);
            return None;
        }
        self.check_local_subset(node, field, &text).then_some(text)
    }

    /// Warns (at the offending spot) when a raw query is outside the local evaluator's
    /// subset: the backend can still answer it, but a history file cannot replay it and the
    /// daemon queries it directly. A query beyond the input limits is an error instead
    /// (`false`): nothing should run it.
    fn check_local_subset(&mut self, node: &Node, field: &str, text: &str) -> bool {
        const PROBE_WINDOW: &str = "5m";
        let probe = text.replace(WINDOW_PLACEHOLDER, PROBE_WINDOW);
        let Err(e) = crate::promql::Query::parse(&probe) else {
            return true;
        };
        let (e, beyond_limits) = match crate::promql::within_limits(&probe) {
            Err(limit) => (limit, true),
            Ok(()) => (e, false),
        };
        // Back from the probe's byte offset to a character column of the text as written.
        let offset = e.offset.unwrap_or(0);
        let (mut probe_at, mut column, mut rest) = (0, 0, text);
        while probe_at < offset && !rest.is_empty() {
            if let Some(after) = rest.strip_prefix(WINDOW_PLACEHOLDER) {
                probe_at += PROBE_WINDOW.len();
                column += WINDOW_PLACEHOLDER.chars().count();
                rest = after;
            } else {
                let c = rest.chars().next().unwrap_or(' ');
                probe_at += c.len_utf8();
                column += 1;
                rest = &rest[c.len_utf8()..];
            }
        }
        let quote = matches!(&node.value, Value::Scalar { quoted: true, .. });
        let pos = Pos {
            line: node.pos.line,
            col: node.pos.col + column + usize::from(quote),
        };
        if beyond_limits {
            self.error(
                pos,
                field,
                format!("beyond burnrate's input limits: {}", e.message),
            );
            return false;
        }
        let what = if e.unsupported {
            format!("outside burnrate's PromQL subset ({})", e.message)
        } else {
            format!("does not parse as PromQL ({})", e.message)
        };
        self.warning(pos, field, format!("{what}: {BACKEND_MEASURED}"));
        true
    }

    fn latency_sli(&mut self, node: &Node, path: &str, group_by: &[String]) -> Option<LatencySli> {
        let f = self.fields(
            node,
            path,
            &[
                "histogram",
                "native_histogram",
                "quantile",
                "threshold",
                "breakdown",
                "breakdown_top",
            ],
        )?;
        let breakdown = self.breakdown(&f, group_by);
        let histogram = match (f.get("histogram"), f.get("native_histogram")) {
            (Some(_), Some(_)) => {
                self.error(
                    f.pos,
                    path,
                    "use either `histogram` (classic) or `native_histogram`, not both",
                );
                None
            }
            (None, Some(n)) => self.native_histogram(n, &f.field("native_histogram")),
            _ => self
                .required(&f, "histogram")
                .and_then(|n| self.classic_histogram(n, &f.field("histogram"))),
        };
        let quantile = self.required(&f, "quantile").and_then(|n| {
            let v = self.number(n, &f.field("quantile"))?;
            if !(v > 0.0 && v < 1.0) {
                self.error(
                    n.pos,
                    &f.field("quantile"),
                    format!("must be strictly between 0 and 1, got {v}"),
                );
                return None;
            }
            let budget = n
                .as_scalar()
                .and_then(budget::from_ratio_text)
                .unwrap_or_else(|| budget::of_objective(v));
            Some((v, budget))
        });
        let threshold = self.required(&f, "threshold").and_then(|n| {
            let d = self.duration(n, &f.field("threshold"))?;
            if d.millis() <= 0 {
                self.error(n.pos, &f.field("threshold"), "must be longer than 0");
                return None;
            }
            Some(d)
        });
        let (quantile, budget) = quantile?;
        let (histogram, kind) = histogram?;
        Some(LatencySli {
            histogram,
            kind,
            quantile,
            budget,
            threshold: threshold?,
            matrix: Vec::new(),
            breakdown: breakdown?,
        })
    }

    fn classic_histogram(&mut self, n: &Node, field: &str) -> Option<(Selector, HistogramKind)> {
        let sel = self.selector(n, field)?;
        if sel.metric.is_none() {
            self.error(
                n.pos,
                field,
                "needs the histogram's base metric name (without _bucket)",
            );
            return None;
        }
        let name = sel.metric.as_deref().unwrap_or_default();
        if let Some(base) = CLASSIC_SERIES_SUFFIXES
            .iter()
            .find_map(|s| name.strip_suffix(s))
        {
            self.error(
                n.pos,
                field,
                format!("give the base name {base:?}: burnrate appends _bucket and _count itself"),
            );
            return None;
        }
        Some((sel, HistogramKind::Classic))
    }

    /// A native histogram's series are read whole, so a classic series name here is a
    /// mistake; and since burnrate's own evaluator reads float samples only, the backend
    /// measures such an SLO (said as a warning, as for a raw query outside the subset).
    fn native_histogram(&mut self, n: &Node, field: &str) -> Option<(Selector, HistogramKind)> {
        let sel = self.selector(n, field)?;
        if let Some(suffix) = sel.metric.as_deref().and_then(|name| {
            CLASSIC_SERIES_SUFFIXES
                .into_iter()
                .find(|s| name.ends_with(s))
        }) {
            self.error(
                n.pos,
                field,
                format!(
                    "names a classic histogram's {suffix} series: a native histogram is one series; use `histogram:` for a classic histogram"
                ),
            );
            return None;
        }
        self.warning(
            n.pos,
            field,
            format!("a native histogram: {BACKEND_MEASURED}"),
        );
        Some((sel, HistogramKind::Native))
    }
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Raw PromQL is the backend's to accept or refuse (the local evaluator's verdict is only a
/// warning), but unbalanced brackets and quotes are caught early because they are the usual
/// copy-paste accidents.
fn check_brackets(text: &str) -> Result<(), (usize, String)> {
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut quote: Option<(char, usize)> = None;
    let mut escaped = false;
    for (i, c) in text.chars().enumerate() {
        if let Some((q, _)) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q != '`' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some((c, i)),
            '(' | '[' | '{' => stack.push((c, i)),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match stack.pop() {
                    Some((o, _)) if o == open => {}
                    _ => return Err((i, format!("unbalanced {c:?}"))),
                }
            }
            _ => {}
        }
    }
    if let Some((q, i)) = quote {
        return Err((i, format!("unterminated string starting with {q}")));
    }
    if let Some((c, i)) = stack.pop() {
        return Err((i, format!("{c:?} is never closed")));
    }
    Ok(())
}
