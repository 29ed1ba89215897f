//! What a replay did, SLO by SLO: the decision changes and the summary users read
//! (time in each decision, changes, first time each decision was reached, flaps).

use crate::decision::Decision;
use crate::engine::Evaluation;
use crate::time::format_time;
use serde::Serialize;
use std::collections::BTreeMap;

/// One decision change of a replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Change {
    pub(crate) at_ms: i64,
    pub(crate) from: Decision,
    pub(crate) to: Decision,
}

/// The decision of one SLO at every step, kept as the changes only.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub(crate) from_ms: i64,
    pub(crate) step_ms: i64,
    /// Decision at `from_ms`.
    pub(crate) initial: Option<Decision>,
    pub(crate) changes: Vec<Change>,
    /// Instant of the last evaluation pushed.
    pub(crate) last_ms: i64,
    current: Option<Decision>,
}

impl Timeline {
    pub fn new(from_ms: i64, step_ms: i64) -> Timeline {
        Timeline {
            from_ms,
            step_ms,
            initial: None,
            changes: Vec::new(),
            last_ms: from_ms,
            current: None,
        }
    }

    /// Records one step; returns the previous decision when this step changed it.
    pub fn push(&mut self, eval: &Evaluation) -> Option<Decision> {
        self.push_decision(eval.at_ms, eval.decision)
    }

    /// `push` of the decision reached at `at_ms`.
    pub(crate) fn push_decision(&mut self, at_ms: i64, decision: Decision) -> Option<Decision> {
        self.last_ms = at_ms;
        match self.current {
            None => {
                self.initial = Some(decision);
                self.current = Some(decision);
                None
            }
            Some(prev) if prev != decision => {
                self.changes.push(Change {
                    at_ms,
                    from: prev,
                    to: decision,
                });
                self.current = Some(decision);
                Some(prev)
            }
            Some(_) => None,
        }
    }

    /// The replay as intervals `[start, end)` of one decision; the last one ends one step
    /// after the last evaluation (each step stands for the time until the next).
    pub fn intervals(&self) -> Vec<(i64, i64, Decision)> {
        let Some(mut current) = self.initial else {
            return Vec::new();
        };
        let end = self.last_ms + self.step_ms;
        let mut start = self.from_ms;
        let mut out = Vec::new();
        for c in &self.changes {
            out.push((start, c.at_ms, current));
            start = c.at_ms;
            current = c.to;
        }
        out.push((start, end, current));
        out
    }

    /// The summary users read. A change undone within `flap_window_ms` is a flap, unless
    /// a maintenance window (`maintenance`: `[start, end)` spans) forced one of the two: a
    /// pair of changes whose time span touches a window is not counted.
    pub fn summary(&self, flap_window_ms: i64, maintenance: &[(i64, i64)]) -> TimelineSummary {
        let mut time_in: BTreeMap<Decision, f64> =
            Decision::ALL.iter().map(|d| (*d, 0.0)).collect();
        let mut first_reached: BTreeMap<Decision, String> = BTreeMap::new();
        for (start, end, d) in self.intervals() {
            *time_in.entry(d).or_default() += (end - start) as f64 / 1000.0;
            first_reached.entry(d).or_insert_with(|| format_time(start));
        }
        // A flap: a change undone (back to the decision before it) within the flap window.
        let flaps = self
            .changes
            .windows(2)
            .filter(|w| w[1].to == w[0].from && w[1].at_ms - w[0].at_ms <= flap_window_ms)
            .filter(|w| {
                !maintenance
                    .iter()
                    .any(|&(start, end)| start <= w[1].at_ms && w[0].at_ms < end)
            })
            .count();
        TimelineSummary {
            time_in_seconds: time_in
                .into_iter()
                .map(|(d, s)| (d.as_str().to_string(), s))
                .collect(),
            changes: self.changes.len(),
            first_reached: first_reached
                .into_iter()
                .map(|(d, t)| (d.as_str().to_string(), t))
                .collect(),
            flaps,
            flap_window: crate::duration::format_millis(flap_window_ms),
        }
    }
}

/// The replay part of a backtest summary object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineSummary {
    pub(crate) time_in_seconds: BTreeMap<String, f64>,
    pub(crate) changes: usize,
    pub(crate) first_reached: BTreeMap<String, String>,
    pub(crate) flaps: usize,
    pub(crate) flap_window: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;

    fn eval(at_ms: i64, decision: Decision) -> Evaluation {
        Evaluation {
            time: format_time(at_ms),
            service: "s".into(),
            slo: "x".into(),
            group: Default::default(),
            labels: Default::default(),
            decision,
            maintenance: None,
            previous: None,
            error: None,
            latency: None,
            errors: vec![],
            at_ms,
        }
    }

    #[test]
    fn records_changes_time_in_decisions_and_flaps() {
        let mut t = Timeline::new(0, 60_000);
        let decisions = [Ok, Ok, Warn, Ok, Ok, Ok, CircuitBreak, CircuitBreak, Ok, Ok];
        let mut changed = Vec::new();
        for (i, d) in decisions.iter().enumerate() {
            if let Some(prev) = t.push(&eval(i as i64 * 60_000, *d)) {
                changed.push((i, prev));
            }
        }
        assert_eq!(changed, [(2, Ok), (3, Warn), (6, Ok), (8, CircuitBreak)]);
        let s = t.summary(60_000, &[]);
        assert_eq!(s.changes, 4);
        assert_eq!(s.time_in_seconds["ok"], 7.0 * 60.0);
        assert_eq!(s.time_in_seconds["warn"], 60.0);
        assert_eq!(s.time_in_seconds["circuit_break"], 120.0);
        assert_eq!(s.first_reached["warn"], "1970-01-01T00:02:00Z");
        // ok->warn->ok within 1 minute is a flap; ok->circuit_break->ok took 2 minutes.
        assert_eq!(s.flaps, 1);
        assert_eq!(t.summary(120_000, &[]).flaps, 2);
        // The ok -> circuit_break -> ok at 6..8 touches a maintenance window starting at 8.
        assert_eq!(t.summary(120_000, &[(8 * 60_000, 9 * 60_000)]).flaps, 1);
    }
}
