//! The result of one evaluation of one SLO: the JSON object of the output contract.
//!
//! Field names and order are the contract users script against (PRODUCT.md, "Outputs");
//! the table view and the daemon's API render this same structure.

use super::explain::{Contributors, Exemplar};
use super::measure::GroupLabels;
use crate::decision::Decision;
use crate::spec::Rule;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::{Deserialize, Serialize as DeriveSerialize};
use std::collections::BTreeMap;

/// A map keyed by window spelling that keeps its insertion order (windows by length), so
/// `{"5m":..,"30m":..,"1h":..}` reads in the order humans expect.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowMap<T>(pub Vec<(String, T)>);

impl<T> WindowMap<T> {
    pub(crate) fn new() -> Self {
        WindowMap(Vec::new())
    }

    pub(crate) fn get(&self, window: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == window).map(|(_, v)| v)
    }

    pub(crate) fn insert(&mut self, window: String, value: T) {
        match self.0.iter_mut().find(|(k, _)| *k == window) {
            Some((_, v)) => *v = value,
            None => self.0.push((window, value)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<T: Copy> WindowMap<Option<T>> {
    /// The value of a window, flattening "absent" and "null".
    pub fn value(&self, window: &str) -> Option<T> {
        self.get(window).copied().flatten()
    }
}

impl<T> FromIterator<(String, T)> for WindowMap<T> {
    fn from_iter<I: IntoIterator<Item = (String, T)>>(iter: I) -> Self {
        let mut map = WindowMap::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<T: Serialize> Serialize for WindowMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for WindowMap<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = WindowMap<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of windows")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Self::Value, A::Error> {
                let mut map = WindowMap::new();
                while let Some((k, v)) = access.next_entry::<String, T>()? {
                    map.insert(k, v);
                }
                Ok(map)
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

/// A matrix rule as outputs name it.
#[derive(Debug, Clone, PartialEq, DeriveSerialize, Deserialize)]
pub struct RuleRef {
    pub(crate) decision: Decision,
    pub(crate) burn: f64,
    pub(crate) long: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) short: Option<String>,
    /// The rule's own `for`, when it has one.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub(crate) for_: Option<String>,
}

impl From<&Rule> for RuleRef {
    fn from(rule: &Rule) -> Self {
        RuleRef {
            decision: rule.decision,
            burn: rule.burn,
            long: rule.long.as_str().to_owned(),
            short: rule.short.as_ref().map(|s| s.as_str().to_owned()),
            for_: rule.for_.as_ref().map(|f| f.as_str().to_owned()),
        }
    }
}

/// One dimension (error or latency) of one evaluation.
#[derive(Debug, Clone, PartialEq, DeriveSerialize, Deserialize)]
pub struct DimensionReport {
    pub decision: Decision,
    pub objective: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile_seconds: Option<WindowMap<Option<f64>>>,
    pub burn: WindowMap<Option<f64>>,
    /// Total events per window (`increase` of the total counter).
    pub events: WindowMap<Option<f64>>,
    pub no_traffic: Vec<String>,
    /// Rules firing now whose decision counts.
    pub fired: Vec<RuleRef>,
    /// Rules firing now but not yet for `for`.
    pub pending: Vec<RuleRef>,
    /// Rules no longer firing whose decision is kept by `hold`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<RuleRef>,
    /// Rules firing on the numbers inside a maintenance window, where nothing counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<RuleRef>,
    /// With a `no_data` policy, while every matrix window is null: how long the dimension
    /// has been without data (`20m`); it decides the policy's decision from `after` on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_data_for: Option<String>,
    pub budget_remaining: Option<f64>,
    /// A calendar period's start: the budget covers the time since (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_since: Option<String>,
    /// Above ok with `breakdown`: who holds the bad events (`engine::explain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contributors: Option<Contributors>,
    /// Above ok, where the backend stores them: bad events' exemplars, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exemplars: Vec<Exemplar>,
}

/// One evaluation of one SLO at one instant.
#[derive(Debug, Clone, PartialEq, DeriveSerialize, Deserialize)]
pub struct Evaluation {
    /// RFC 3339, UTC.
    pub time: String,
    pub service: String,
    pub slo: String,
    /// The group's labels (`group_by`); absent for an SLO without groups.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group: GroupLabels,
    pub labels: BTreeMap<String, String>,
    pub decision: Decision,
    /// Inside a maintenance window: its reason (every reason, `; `-joined, when windows
    /// overlap). No rule fires then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DimensionReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<DimensionReport>,
    /// Why parts of this evaluation have no data (failed queries), without secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Unix milliseconds of `time`, for programs; not part of the printed object.
    #[serde(skip)]
    pub at_ms: i64,
}

impl Evaluation {
    pub(crate) fn dimensions(&self) -> impl Iterator<Item = (&'static str, &DimensionReport)> {
        [
            ("error", self.error.as_ref()),
            ("latency", self.latency.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, d)| d.map(|d| (name, d)))
    }

    /// `service/slo`, with the group's labels when it has some: how logs and messages name
    /// this SLO instance.
    pub(crate) fn instance_name(&self) -> String {
        format!(
            "{}/{}{}",
            self.service,
            self.slo,
            super::groups::format_group(&self.group)
        )
    }

    /// True when every query behind this evaluation failed (not merely returned nothing).
    pub(crate) fn all_queries_failed(&self) -> bool {
        !self.errors.is_empty() && self.errors.len() >= self.dimensions().count()
    }
}
