//! `for` and `hold`: the state machine that turns firing rules into lasting decisions.
//!
//! Pure and serializable: `check --state`, the daemon's `--state-dir` and the backtest all
//! step the same machine, so a decision is reached at the same instant whichever runs it.

use crate::decision::Decision;
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) firing_since: Option<i64>,
    /// Last instant the rule's decision counted because it fired (not because it was held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_fired: Option<i64>,
}

impl RuleTimers {
    /// Advances the timers to `now`. A streak is broken by any evaluation where the rule does
    /// not fire, including one without data: missing data never counts towards `for`.
    pub fn step(&mut self, now: i64, firing: bool, for_ms: i64, hold_ms: i64) -> RuleStatus {
        if !firing {
            self.firing_since = None;
            return match self.last_fired {
                Some(t) if hold_ms > 0 && now - t <= hold_ms => RuleStatus::Held,
                _ => RuleStatus::Idle,
            };
        }
        let since = *self.firing_since.get_or_insert(now);
        if now - since >= for_ms {
            self.last_fired = Some(now);
            RuleStatus::Fired
        } else {
            match self.last_fired {
                Some(t) if hold_ms > 0 && now - t <= hold_ms => RuleStatus::Held,
                _ => RuleStatus::Pending,
            }
        }
    }
}

/// Hysteresis state of one SLO: timers per dimension and rule, and the last decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SloState {
    /// Instant of the last step; a step back in time resets the state.
    #[serde(default)]
    pub(crate) updated_at: Option<i64>,
    #[serde(default)]
    pub(crate) last_decision: Option<Decision>,
    /// `dimension -> rule key -> timers`.
    #[serde(default)]
    pub(crate) rules: BTreeMap<String, BTreeMap<String, RuleTimers>>,
}

impl SloState {
    /// Prepares a step at `now`; an evaluation earlier than the last one cannot reuse timers.
    pub(crate) fn begin(&mut self, now: i64) {
        if self.updated_at.is_some_and(|t| now < t) {
            *self = SloState::default();
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

    fn set_last_decision(&mut self, _decision: Decision) {}
}

/// State of every SLO, keyed by `service/slo`; what `--state` files hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateStore {
    #[serde(default)]
    pub(crate) slos: BTreeMap<String, SloState>,
}

impl StateStore {
    pub(crate) fn key(service: &str, slo: &str) -> String {
        format!("{service}/{slo}")
    }

    pub fn slo(&mut self, service: &str, slo: &str) -> &mut SloState {
        self.slos.entry(StateStore::key(service, slo)).or_default()
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
    fn going_back_in_time_resets() {
        let mut s = SloState::default();
        s.begin(10 * MIN);
        s.timers("error", "r").step(10 * MIN, true, 0, 0);
        s.begin(5 * MIN);
        assert!(s.rules.is_empty());
    }
}
