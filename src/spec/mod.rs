//! The SLO spec model (`apiVersion: burnrate/v1`): what a validated spec means.
//!
//! Everything downstream (engine, backends, outputs, rules) reads these types; only `load`
//! (with `fields`, the checks it shares with the importers) knows about YAML. A
//! `ServiceSpec` exists only if its file had no errors.

pub(crate) mod budget;
pub(crate) mod fields;
pub(crate) mod ladder;
pub mod load;
pub(crate) mod plan;
pub(crate) mod presets;
pub(crate) mod selector;
pub mod yaml;

use crate::decision::Decision;
use crate::duration::PromDuration;
use plan::{PlanCell, SloPlan};
use selector::Selector;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where callers have always found them; loading files sits above this module, in
/// `specfiles` (it dispatches to `import` too).
pub use crate::specfiles::{LoadReport, SpecSources, load_paths, load_sources};
pub use fields::Diagnostic;
pub(crate) use fields::Severity;

pub(crate) const API_VERSION: &str = "burnrate/v1";
/// `breakdown_top` unless given.
pub const DEFAULT_BREAKDOWN_TOP: usize = 5;
/// `max_groups` unless given.
pub const DEFAULT_MAX_GROUPS: usize = 200;
/// The placeholder raw-PromQL SLIs use for the window (Sloth's convention).
pub const WINDOW_PLACEHOLDER: &str = "{{.window}}";
/// `maintenance` windows per SLO at most: each is looked up at every evaluation.
pub(crate) const MAX_MAINTENANCE_WINDOWS: usize = 1_000;

/// One spec file: one service and its SLOs.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub file: PathBuf,
    pub service: String,
    pub labels: BTreeMap<String, String>,
    pub slos: Vec<SloSpec>,
}

#[derive(Debug, Clone)]
pub struct SloSpec {
    pub name: String,
    pub description: Option<String>,
    pub period: PromDuration,
    pub min_events: Option<f64>,
    pub error: Option<ErrorSli>,
    pub latency: Option<LatencySli>,
    /// A rule must fire this long before its decision counts.
    pub for_: PromDuration,
    /// A decision stays this long after its rule stops firing.
    pub hold: PromDuration,
    /// `group_by`: labels of the SLI's series; each distinct value set of them is an SLO
    /// instance of its own (empty: the SLO is one instance).
    pub group_by: Vec<String>,
    /// `max_groups`: groups evaluated at most per instant, the most traffic first.
    pub max_groups: usize,
    /// `period: month | week | quarter` (with `timezone`): the budget covers the elapsed
    /// part of the current calendar period, and `period` holds its nominal length.
    pub calendar: Option<crate::calendar::Calendar>,
    /// `no_data`: what a dimension decides once it has been without data for a while.
    pub no_data: Option<NoDataPolicy>,
    /// `maintenance`: windows during which no rule fires, in spec order.
    pub maintenance: Vec<MaintenanceWindow>,
    /// What evaluations need from the fields above, built at the first evaluation.
    pub(crate) plan: PlanCell,
}

/// The two kinds of SLI an SLO can have; each is evaluated and decided on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Error,
    Latency,
}

impl Dimension {
    pub const ALL: [Dimension; 2] = [Dimension::Error, Dimension::Latency];

    /// Position in `ALL`, for per-dimension arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Dimension::Error => 0,
            Dimension::Latency => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Error => "error",
            Dimension::Latency => "latency",
        }
    }
}

#[derive(Debug, Clone)]
pub enum ErrorEvents {
    /// Counter selectors; the engine wraps them as `sum(rate(SEL[w]))`.
    Selectors { bad: Selector, total: Selector },
    /// Raw PromQL with `{{.window}}`, each already yielding a rate.
    Queries { bad: String, total: String },
}

#[derive(Debug, Clone)]
pub struct ErrorSli {
    /// Share of good events, as a ratio (99.9 % → 0.999).
    pub objective: f64,
    /// `1 - objective`, computed from the objective's decimal text (see `budget`).
    pub(crate) budget: f64,
    pub events: ErrorEvents,
    pub matrix: Vec<Rule>,
    pub breakdown: Option<Breakdown>,
}

/// `breakdown`: the labels of a dimension's bad series whose value sets are reported as its
/// contributors while it is above ok (`engine::contributors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakdown {
    pub labels: Vec<String>,
    /// `breakdown_top`: the most bad events first, this many at most.
    pub top: usize,
}

/// Which kind of histogram a latency SLI reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HistogramKind {
    /// `histogram:` a classic histogram: its `_bucket` and `_count` series.
    Classic,
    /// `native_histogram:` a native histogram, read whole through `histogram_fraction` and
    /// `histogram_count`; only the backend can measure it (see `measure::query`).
    Native,
}

#[derive(Debug, Clone)]
pub struct LatencySli {
    /// Classic: the histogram's base name with its matchers (`_bucket`/`_count` are
    /// appended). Native: the native histogram's series as written.
    pub(crate) histogram: Selector,
    pub(crate) kind: HistogramKind,
    /// The quantile that must stay within `threshold`; it is also the objective.
    pub quantile: f64,
    /// `1 - quantile`, computed from the quantile's decimal text (see `budget`).
    pub(crate) budget: f64,
    pub(crate) threshold: PromDuration,
    pub matrix: Vec<Rule>,
    pub breakdown: Option<Breakdown>,
}

impl LatencySli {
    pub(crate) fn threshold_seconds(&self) -> f64 {
        self.threshold.seconds()
    }

    pub(crate) fn is_native(&self) -> bool {
        self.kind == HistogramKind::Native
    }
}

/// `no_data: {after, decision}`: a dimension whose every matrix window has been without data
/// for at least `after` (counted from the first evaluation of that streak) decides
/// `decision` instead of `no_data`.
#[derive(Debug, Clone, PartialEq)]
pub struct NoDataPolicy {
    pub after: PromDuration,
    /// One of `Decision::ACTIONS`.
    pub decision: Decision,
}

/// One `maintenance` window, `start <= t < end` in Unix milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceWindow {
    pub start_ms: i64,
    pub end_ms: i64,
    pub reason: String,
}

/// One row of the threshold matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub decision: Decision,
    pub burn: f64,
    pub long: PromDuration,
    pub short: Option<PromDuration>,
    /// The rule's own `for`, overriding the SLO's.
    pub for_: Option<PromDuration>,
}

impl Rule {
    /// How long the rule must fire before its decision counts: its own `for`, else the SLO's.
    pub(crate) fn wait<'a>(&'a self, slo: &'a SloSpec) -> &'a PromDuration {
        self.for_.as_ref().unwrap_or(&slo.for_)
    }

    /// Stable identity of a rule, used to key hysteresis state across runs.
    pub(crate) fn key(&self) -> String {
        match &self.short {
            Some(short) => format!("{}:{}:{}/{}", self.decision, self.burn, self.long, short),
            None => format!("{}:{}:{}", self.decision, self.burn, self.long),
        }
    }
}

impl SloSpec {
    /// The objective (good ratio) of a dimension, if the SLO has it.
    pub fn objective(&self, dim: Dimension) -> Option<f64> {
        match dim {
            Dimension::Error => self.error.as_ref().map(|e| e.objective),
            Dimension::Latency => self.latency.as_ref().map(|l| l.quantile),
        }
    }

    /// The error budget of a dimension (`1 - objective`, exact to the decimal written).
    pub(crate) fn budget(&self, dim: Dimension) -> Option<f64> {
        match dim {
            Dimension::Error => self.error.as_ref().map(|e| e.budget),
            Dimension::Latency => self.latency.as_ref().map(|l| l.budget),
        }
    }

    /// A dimension's `breakdown`, if it has one.
    pub fn breakdown(&self, dim: Dimension) -> Option<&Breakdown> {
        match dim {
            Dimension::Error => self.error.as_ref()?.breakdown.as_ref(),
            Dimension::Latency => self.latency.as_ref()?.breakdown.as_ref(),
        }
    }

    pub fn matrix(&self, dim: Dimension) -> Option<&[Rule]> {
        match dim {
            Dimension::Error => self.error.as_ref().map(|e| e.matrix.as_slice()),
            Dimension::Latency => self.latency.as_ref().map(|l| l.matrix.as_slice()),
        }
    }

    pub fn dimensions(&self) -> impl Iterator<Item = Dimension> + '_ {
        Dimension::ALL
            .into_iter()
            .filter(|d| self.objective(*d).is_some())
    }

    /// Every window a dimension's matrix uses, in order of length (then spelling), each once.
    pub fn windows(&self, dim: Dimension) -> Vec<PromDuration> {
        self.plan().dim(dim).matrix_windows().to_vec()
    }

    /// The windows a dimension needs measured, in the order measurements are aligned with:
    /// its matrix windows (as `windows`), then the budget period if it is not one of them
    /// (a calendar period is not: `measure::elapsed` measures it on its own).
    pub fn measured_windows(&self, dim: Dimension) -> &[PromDuration] {
        &self.plan().dim(dim).windows
    }

    /// Whether `at_ms` is inside one of the SLO's maintenance windows.
    pub(crate) fn in_maintenance(&self, at_ms: i64) -> bool {
        let spans = self.plan().maintenance();
        let after = spans.partition_point(|&(start, _)| start <= at_ms);
        after > 0 && at_ms < spans[after - 1].1
    }

    /// What the evaluation at `at_ms` says about maintenance: the reasons of every window it
    /// is inside, in spec order, each once (`None` outside every window).
    pub(crate) fn maintenance_reason(&self, at_ms: i64) -> Option<String> {
        let mut reasons: Vec<&str> = Vec::new();
        for w in &self.maintenance {
            if w.start_ms <= at_ms && at_ms < w.end_ms && !reasons.contains(&w.reason.as_str()) {
                reasons.push(&w.reason);
            }
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// The windows, rule positions and state keys of every dimension, derived once.
    pub(crate) fn plan(&self) -> &SloPlan {
        self.plan.get_or_init(self)
    }
}
