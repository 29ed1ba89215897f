//! `for` and `hold`: the state machine that turns firing rules into lasting decisions, and
//! the no-data clock of `no_data.after`.
//!
//! Pure and serializable: `check --state`, the daemon's `--state-dir` and the backtest all
//! step the same machine, so a decision is reached at the same instant whichever runs it.

use super::groups::format_group;
use super::measure::GroupLabels;
use crate::decision::Decision;
use crate::limits::is_instant;
use crate::spec::Dimension;
use crate::spec::plan::DimPlan;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the machine says about one rule at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleStatus {
    /// Not firing, not held.
    Idle,
    /// Firing, but not yet for `for`.
    Pending,
    /// Firing for at least `for`: its decision counts.
    Fired,
    /// No longer firing, but its decision counts until `hold` has passed.
    Held,
    /// Firing on the numbers, inside a maintenance window: it counts for nothing, and its
    /// timers are cleared (`for` starts over after the window, nothing is held).
    Suppressed,
}

impl RuleStatus {
    pub(crate) fn counts(self) -> bool {
        matches!(self, RuleStatus::Fired | RuleStatus::Held)
    }
}

/// Timers of one rule, in Unix milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleTimers {
    /// Start of the current uninterrupted firing streak.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "instant"
    )]
    pub(crate) firing_since: Option<i64>,
    /// Last instant the rule's decision counted because it fired (not because it was held).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "instant"
    )]
    pub(crate) last_fired: Option<i64>,
}

impl RuleTimers {
    /// Advances the timers to `now`. A streak is broken by any evaluation where the rule does
    /// not fire, including one without data: missing data never counts towards `for`.
    ///
    /// Timers may come from a state file someone else wrote: the arithmetic saturates, and a
    /// timer later than `now` counts for nothing (a streak starts over, nothing is held), so
    /// no file can make a rule count that did not fire.
    pub fn step(&mut self, now: i64, firing: bool, for_ms: i64, hold_ms: i64) -> RuleStatus {
        let held = |last_fired: Option<i64>| {
            last_fired.is_some_and(|t| hold_ms > 0 && t <= now && now.saturating_sub(t) <= hold_ms)
        };
        if !firing {
            self.firing_since = None;
            return if held(self.last_fired) {
                RuleStatus::Held
            } else {
                RuleStatus::Idle
            };
        }
        let since = match self.firing_since {
            Some(t) if t <= now => t,
            _ => *self.firing_since.insert(now),
        };
        if now.saturating_sub(since) >= for_ms {
            self.last_fired = Some(now);
            RuleStatus::Fired
        } else if held(self.last_fired) {
            RuleStatus::Held
        } else {
            RuleStatus::Pending
        }
    }
}

/// Advances a dimension's no-data clock to `now`: `since` is the first evaluation of its
/// current streak of evaluations without data (every matrix window null). Returns how long
/// the dimension has been without data, `None` when it has data (which ends the streak).
///
/// Like the rule timers, `since` may come from a state file someone else wrote: an instant
/// later than `now` counts for nothing (the streak starts now, it never counts backwards)
/// and the arithmetic saturates, so no file can make a dimension escalate that has data.
pub(crate) fn step_no_data(since: &mut Option<i64>, now: i64, without_data: bool) -> Option<i64> {
    if !without_data {
        *since = None;
        return None;
    }
    let start = match *since {
        Some(t) if t <= now => t,
        _ => *since.insert(now),
    };
    Some(now.saturating_sub(start))
}

/// The no-data clocks of one SLO instance (`step_no_data`), one per dimension; only SLOs with
/// a `no_data` policy run them. Files written before `no_data` existed have none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NoDataClocks {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "instant"
    )]
    error: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "instant"
    )]
    latency: Option<i64>,
}

impl NoDataClocks {
    pub(crate) fn get_mut(&mut self, dim: Dimension) -> &mut Option<i64> {
        match dim {
            Dimension::Error => &mut self.error,
            Dimension::Latency => &mut self.latency,
        }
    }

    fn is_empty(&self) -> bool {
        self.error.is_none() && self.latency.is_none()
    }
}

/// A timer read from a state file: an instant as `limits::is_instant` bounds every instant
/// burnrate writes; anything else makes the file corrupt (exit 65, with its `line:column`),
/// never a decision.
fn instant<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let t = Option::<i64>::deserialize(d)?;
    match t {
        Some(ms) if !is_instant(ms) => Err(serde::de::Error::custom(format!(
            "timer {ms} is out of range (Unix milliseconds from 0000-01-01 to year 5138)"
        ))),
        _ => Ok(t),
    }
}

/// Hysteresis state of one SLO: timers per dimension and rule, and the last decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SloState {
    /// Instant of the last step; a step back in time resets the state.
    #[serde(default, deserialize_with = "instant")]
    pub(crate) updated_at: Option<i64>,
    #[serde(default)]
    pub(crate) last_decision: Option<Decision>,
    /// `dimension -> rule key -> timers`.
    #[serde(default)]
    pub(crate) rules: BTreeMap<String, BTreeMap<String, RuleTimers>>,
    /// `dimension -> first evaluation of its current streak without data`.
    #[serde(default, skip_serializing_if = "NoDataClocks::is_empty")]
    pub(crate) no_data_since: NoDataClocks,
    /// The group's labels (`group_by`), so the groups of an SLO are known from the state.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) group: GroupLabels,
}

impl SloState {
    /// Prepares a step at `now`; an evaluation earlier than the last one cannot reuse timers.
    pub(crate) fn begin(&mut self, now: i64) {
        if self.updated_at.is_some_and(|t| now < t) {
            *self = SloState {
                group: std::mem::take(&mut self.group),
                ..SloState::default()
            };
        }
        self.updated_at = Some(now);
    }

    pub(crate) fn timers(&mut self, dimension: &str, rule_key: &str) -> &mut RuleTimers {
        // Two lookups rather than `entry`, which would allocate both keys at every step.
        if !self.rules.contains_key(dimension) {
            self.rules.insert(dimension.to_string(), BTreeMap::new());
        }
        let rules = self.rules.get_mut(dimension).expect("inserted");
        if !rules.contains_key(rule_key) {
            rules.insert(rule_key.to_string(), RuleTimers::default());
        }
        rules.get_mut(rule_key).expect("inserted")
    }
}

/// Where the evaluation finds the timers of an SLO's rules: an `SloState` (what `check` and
/// `run` keep, keyed by rule key) or, within one replay, `PlanTimers` (by rule position).
/// Both step the same `RuleTimers`; they differ only in how a rule's timers are found.
pub(crate) trait TimerStore {
    /// `SloState::begin`.
    fn begin(&mut self, now: i64);
    /// Drops timers of rules not in `plan` (no longer in the spec after an edit or reload).
    fn retain(&mut self, dim: Dimension, plan: &DimPlan);
    /// The timers of rule `rule` of `plan`, created idle if missing.
    fn rule(&mut self, dim: Dimension, plan: &DimPlan, rule: usize) -> &mut RuleTimers;
    /// The no-data clock of a dimension (`step_no_data`).
    fn no_data_since(&mut self, dim: Dimension) -> &mut Option<i64>;
    fn set_last_decision(&mut self, decision: Decision);
}

impl TimerStore for SloState {
    fn begin(&mut self, now: i64) {
        SloState::begin(self, now);
    }

    fn retain(&mut self, dim: Dimension, plan: &DimPlan) {
        if let Some(rules) = self.rules.get_mut(dim.as_str()) {
            rules.retain(|k, _| plan.rules.iter().any(|r| r.key == *k));
        }
    }

    fn rule(&mut self, dim: Dimension, plan: &DimPlan, rule: usize) -> &mut RuleTimers {
        self.timers(dim.as_str(), &plan.rules[rule].key)
    }

    fn no_data_since(&mut self, dim: Dimension) -> &mut Option<i64> {
        self.no_data_since.get_mut(dim)
    }

    fn set_last_decision(&mut self, decision: Decision) {
        self.last_decision = Some(decision);
    }
}

/// The timers of one SLO for one plan, by rule position: what a replay steps at every
/// instant, without looking rule keys up. Rules with equal keys share a slot, as they share
/// an entry in an `SloState`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlanTimers {
    updated_at: Option<i64>,
    slots: [Vec<RuleTimers>; 2],
    no_data_since: NoDataClocks,
}

impl TimerStore for PlanTimers {
    fn begin(&mut self, now: i64) {
        if self.updated_at.is_some_and(|t| now < t) {
            *self = PlanTimers::default();
        }
        self.updated_at = Some(now);
    }

    fn retain(&mut self, dim: Dimension, plan: &DimPlan) {
        self.slots[dim.index()].resize(plan.rules.len(), RuleTimers::default());
    }

    fn rule(&mut self, dim: Dimension, plan: &DimPlan, rule: usize) -> &mut RuleTimers {
        &mut self.slots[dim.index()][plan.rules[rule].slot]
    }

    fn no_data_since(&mut self, dim: Dimension) -> &mut Option<i64> {
        self.no_data_since.get_mut(dim)
    }

    fn set_last_decision(&mut self, _decision: Decision) {}
}

/// State of every SLO instance, keyed by `service/slo` and, for a group, its labels
/// (`service/slo{cluster="eu1"}`), so groups never share timers; what `--state` files hold.
/// Files written before groups existed hold only `service/slo` keys and load as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateStore {
    #[serde(default)]
    pub(crate) slos: BTreeMap<String, SloState>,
}

impl StateStore {
    /// The key of an SLO (and of its instance without group labels): what shards hash.
    pub(crate) fn key(service: &str, slo: &str) -> String {
        format!("{service}/{slo}")
    }

    /// The key of one group of an SLO.
    pub(crate) fn instance_key(service: &str, slo: &str, group: &GroupLabels) -> String {
        format!("{service}/{slo}{}", format_group(group))
    }

    pub fn slo(&mut self, service: &str, slo: &str) -> &mut SloState {
        self.slos.entry(StateStore::key(service, slo)).or_default()
    }

    /// The state of one group of an SLO (the SLO's own without labels).
    pub fn instance(&mut self, service: &str, slo: &str, group: &GroupLabels) -> &mut SloState {
        let state = self
            .slos
            .entry(StateStore::instance_key(service, slo, group))
            .or_default();
        if state.group != *group {
            state.group = group.clone();
        }
        state
    }

    /// The instances of the SLO keyed `slo_key` (`StateStore::key`) the state holds, as
    /// `(key, group)`.
    fn instances_of<'a>(
        &'a self,
        slo_key: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a GroupLabels)> + 'a {
        self.slos
            .range(slo_key.to_string()..)
            .take_while(move |(k, _)| k.starts_with(slo_key))
            .filter(move |(k, s)| k[slo_key.len()..] == format_group(&s.group))
            .map(|(k, s)| (k, &s.group))
    }

    /// The groups of an SLO evaluated before (those with labels).
    pub(crate) fn groups_of(&self, service: &str, slo: &str) -> Vec<GroupLabels> {
        self.instances_of(&StateStore::key(service, slo))
            .filter(|(_, g)| !g.is_empty())
            .map(|(_, g)| g.clone())
            .collect()
    }

    /// Drops the state of every instance of the SLO keyed `slo_key` whose group `keep`
    /// rejects: a group that is gone, or not evaluated (`max_groups`), starts afresh if it
    /// comes back.
    pub(crate) fn retain_instances(
        &mut self,
        slo_key: &str,
        mut keep: impl FnMut(&GroupLabels) -> bool,
    ) {
        let gone: Vec<String> = self
            .instances_of(slo_key)
            .filter(|(_, g)| !keep(g))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.slos.remove(&k);
        }
    }

    /// Drops the state of every instance of the SLO keyed `slo_key` (removed from the specs).
    pub(crate) fn remove_slo(&mut self, slo_key: &str) {
        self.retain_instances(slo_key, |_| false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn without_for_and_hold_it_follows_the_rule() {
        let mut t = RuleTimers::default();
        assert_eq!(t.step(0, true, 0, 0), RuleStatus::Fired);
        assert_eq!(t.step(MIN, false, 0, 0), RuleStatus::Idle);
    }

    #[test]
    fn for_delays_the_decision() {
        let mut t = RuleTimers::default();
        assert_eq!(t.step(0, true, 2 * MIN, 0), RuleStatus::Pending);
        assert_eq!(t.step(MIN, true, 2 * MIN, 0), RuleStatus::Pending);
        assert_eq!(t.step(2 * MIN, true, 2 * MIN, 0), RuleStatus::Fired);
        // One evaluation without firing restarts the streak.
        assert_eq!(t.step(3 * MIN, false, 2 * MIN, 0), RuleStatus::Idle);
        assert_eq!(t.step(4 * MIN, true, 2 * MIN, 0), RuleStatus::Pending);
    }

    #[test]
    fn hold_keeps_the_decision_then_releases_it() {
        let mut t = RuleTimers::default();
        assert_eq!(t.step(0, true, 0, 10 * MIN), RuleStatus::Fired);
        assert_eq!(t.step(MIN, false, 0, 10 * MIN), RuleStatus::Held);
        assert_eq!(t.step(10 * MIN, false, 0, 10 * MIN), RuleStatus::Held);
        assert_eq!(t.step(10 * MIN + 1, false, 0, 10 * MIN), RuleStatus::Idle);
    }

    #[test]
    fn timers_from_a_corrupt_file_never_make_a_rule_count() {
        // Timers at the ends of i64 (wrapping once made `now - t` negative: "held").
        let mut t = RuleTimers {
            firing_since: Some(i64::MAX),
            last_fired: Some(i64::MIN),
        };
        assert_eq!(t.step(10 * MIN, false, 0, 10 * MIN), RuleStatus::Idle);
        let mut t = RuleTimers {
            firing_since: Some(i64::MAX),
            last_fired: Some(i64::MAX),
        };
        assert_eq!(
            t.step(10 * MIN, true, 2 * MIN, 10 * MIN),
            RuleStatus::Pending
        );
        assert_eq!(t.firing_since, Some(10 * MIN), "the streak starts over now");
        let mut t = RuleTimers {
            firing_since: Some(i64::MIN),
            last_fired: None,
        };
        assert_eq!(t.step(i64::MAX, true, 5 * MIN, 0), RuleStatus::Fired);
    }

    #[test]
    fn a_state_file_with_instants_out_of_range_does_not_load() {
        let ok = r#"{"slos":{"a/b":{"updated_at":1700000000000,"rules":{"error":{"k":{"last_fired":1700000000000}}}}}}"#;
        assert!(serde_json::from_str::<StateStore>(ok).is_ok());
        for bad in [
            r#"{"slos":{"a/b":{"rules":{"error":{"k":{"last_fired":-9223372036854775808}}}}}}"#,
            r#"{"slos":{"a/b":{"rules":{"error":{"k":{"firing_since":9223372036854775807}}}}}}"#,
            r#"{"slos":{"a/b":{"updated_at":100000000000000}}}"#,
        ] {
            let e = serde_json::from_str::<StateStore>(bad).unwrap_err();
            assert!(e.to_string().contains("out of range"), "{e}");
            assert!(e.line() == 1 && e.column() > 0);
        }
    }

    #[test]
    fn groups_have_their_own_state_and_old_files_load() {
        let old = r#"{"slos":{"a/b":{"updated_at":1700000000000,"last_decision":"warn"}}}"#;
        let mut store: StateStore = serde_json::from_str(old).unwrap();
        assert_eq!(store.slo("a", "b").last_decision, Some(Decision::Warn));
        let eu = GroupLabels::from([("cluster".to_string(), "eu1".to_string())]);
        let us = GroupLabels::from([("cluster".to_string(), "us1".to_string())]);
        store.instance("a", "b", &eu).last_decision = Some(Decision::CircuitBreak);
        store.instance("a", "b", &us);
        store.instance("a", "b-other", &eu);
        assert!(store.slos.contains_key(r#"a/b{cluster="eu1"}"#));
        assert_eq!(store.groups_of("a", "b"), [eu.clone(), us.clone()]);
        let text = serde_json::to_string(&store).unwrap();
        let mut back: StateStore = serde_json::from_str(&text).unwrap();
        assert_eq!(back, store);
        back.retain_instances("a/b", |g| *g == eu);
        assert_eq!(back.groups_of("a", "b"), std::slice::from_ref(&eu));
        assert!(back.slos.contains_key("a/b-other{cluster=\"eu1\"}"));
        back.remove_slo("a/b");
        assert!(back.groups_of("a", "b").is_empty());
        assert_eq!(back.slos.len(), 1);
    }

    #[test]
    fn the_no_data_clock_counts_from_the_first_evaluation_without_data() {
        let mut since = None;
        assert_eq!(step_no_data(&mut since, 0, false), None);
        assert_eq!(step_no_data(&mut since, MIN, true), Some(0));
        assert_eq!(step_no_data(&mut since, 16 * MIN, true), Some(15 * MIN));
        // Data back: the streak ends, and the next one counts afresh.
        assert_eq!(step_no_data(&mut since, 17 * MIN, false), None);
        assert_eq!(since, None);
        assert_eq!(step_no_data(&mut since, 18 * MIN, true), Some(0));
    }

    #[test]
    fn a_no_data_clock_from_a_corrupt_file_never_counts_time_that_did_not_pass() {
        // A streak said to begin after now starts over now instead of counting backwards
        // (wrapping once made `now - t` huge and positive).
        let mut since = Some(i64::MAX);
        assert_eq!(step_no_data(&mut since, 10 * MIN, true), Some(0));
        assert_eq!(since, Some(10 * MIN));
        // The arithmetic saturates at the ends of i64.
        let mut since = Some(i64::MIN);
        assert_eq!(step_no_data(&mut since, i64::MAX, true), Some(i64::MAX));
        // A clock on a dimension that has data counts nothing.
        let mut since = Some(i64::MIN);
        assert_eq!(step_no_data(&mut since, 10 * MIN, false), None);
    }

    #[test]
    fn no_data_clocks_load_from_state_files_and_old_files_have_none() {
        let old = r#"{"slos":{"a/b":{"updated_at":1700000000000,"rules":{}}}}"#;
        let store: StateStore = serde_json::from_str(old).unwrap();
        assert_eq!(store.slos["a/b"].no_data_since, NoDataClocks::default());
        assert!(
            !serde_json::to_string(&store)
                .unwrap()
                .contains("no_data_since"),
            "nothing is written without a clock running"
        );
        let mut state = SloState::default();
        *state.no_data_since.get_mut(Dimension::Latency) = Some(1_700_000_000_000);
        let text = serde_json::to_string(&state).unwrap();
        assert!(
            text.contains(r#""no_data_since":{"latency":1700000000000}"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<SloState>(&text).unwrap(), state);
        for bad in [
            r#"{"slos":{"a/b":{"no_data_since":{"error":9223372036854775807}}}}"#,
            r#"{"slos":{"a/b":{"no_data_since":{"latency":-9223372036854775808}}}}"#,
        ] {
            let e = serde_json::from_str::<StateStore>(bad).unwrap_err();
            assert!(e.to_string().contains("out of range"), "{e}");
            assert!(e.line() == 1 && e.column() > 0);
        }
    }

    #[test]
    fn going_back_in_time_resets() {
        let mut s = SloState::default();
        s.begin(10 * MIN);
        s.timers("error", "r").step(10 * MIN, true, 0, 0);
        *s.no_data_since.get_mut(Dimension::Error) = Some(10 * MIN);
        s.begin(5 * MIN);
        assert!(s.rules.is_empty());
        assert_eq!(s.no_data_since, NoDataClocks::default());
    }
}
