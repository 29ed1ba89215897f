//! The vocabulary of outcomes: what a rule, a dimension and an SLO can decide.
//!
//! `NoData` stands apart from the severity ladder: it is never "more severe" than a real
//! decision, so missing data can never escalate anything.

use crate::error::exit;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Ok,
    Warn,
    Scale,
    CircuitBreak,
    NoData,
}

impl Decision {
    /// Decisions a matrix rule may produce.
    pub(crate) const ACTIONS: [Decision; 3] =
        [Decision::Warn, Decision::Scale, Decision::CircuitBreak];
    /// Every decision, in the order outputs list them.
    pub const ALL: [Decision; 5] = [
        Decision::Ok,
        Decision::Warn,
        Decision::Scale,
        Decision::CircuitBreak,
        Decision::NoData,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Decision::Ok => "ok",
            Decision::Warn => "warn",
            Decision::Scale => "scale",
            Decision::CircuitBreak => "circuit_break",
            Decision::NoData => "no_data",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == text)
    }

    /// Rank on the severity ladder `ok < warn < scale < circuit_break`; `None` for `no_data`.
    pub(crate) fn severity(self) -> Option<u8> {
        match self {
            Decision::Ok => Some(0),
            Decision::Warn => Some(1),
            Decision::Scale => Some(2),
            Decision::CircuitBreak => Some(3),
            Decision::NoData => None,
        }
    }

    /// Combines decisions of parts (rules of a dimension, dimensions of an SLO, SLOs of a
    /// run): the most severe real decision wins; `no_data` only when every part is `no_data`.
    /// An empty set of parts is `no_data`.
    pub fn combine(parts: impl IntoIterator<Item = Decision>) -> Decision {
        let mut best: Option<Decision> = None;
        for d in parts {
            if d.severity().is_some() && best.is_none_or(|b| d.severity() > b.severity()) {
                best = Some(d);
            }
        }
        best.unwrap_or(Decision::NoData)
    }

    /// The decision a whole run reports (`check`'s exit code): the most severe over all SLOs,
    /// where an SLO without data outranks an `ok` one (exit 0 must mean every SLO is ok) but
    /// never a real alarm: `ok < no_data < warn < scale < circuit_break`.
    pub(crate) fn overall(slos: impl IntoIterator<Item = Decision>) -> Decision {
        let rank = |d: Decision| match d {
            Decision::Ok => 0,
            Decision::NoData => 1,
            other => 1 + other.severity().unwrap_or(0),
        };
        slos.into_iter()
            .max_by_key(|d| rank(*d))
            .unwrap_or(Decision::NoData)
    }

    /// Exit code of `burnrate check` for this (overall) decision.
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            Decision::Ok => exit::OK,
            Decision::Warn => exit::WARN,
            Decision::Scale => exit::SCALE,
            Decision::CircuitBreak => exit::CIRCUIT_BREAK,
            Decision::NoData => exit::NO_DATA,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;

    #[test]
    fn combine_prefers_severity_and_ignores_no_data() {
        assert_eq!(Decision::combine([Ok, NoData]), Ok);
        assert_eq!(Decision::combine([NoData, NoData]), NoData);
        assert_eq!(Decision::combine([]), NoData);
        assert_eq!(
            Decision::combine([Warn, CircuitBreak, Scale, NoData]),
            CircuitBreak
        );
        assert_eq!(Decision::combine([Scale, Warn]), Scale);
    }

    #[test]
    fn overall_reports_missing_data_over_ok_but_not_over_alarms() {
        assert_eq!(Decision::overall([Ok, NoData, Ok]), NoData);
        assert_eq!(Decision::overall([Ok, Ok]), Ok);
        assert_eq!(Decision::overall([NoData, Warn]), Warn);
        assert_eq!(
            Decision::overall([CircuitBreak, NoData, Scale]),
            CircuitBreak
        );
        assert_eq!(Decision::overall([]), NoData);
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let codes: Vec<i32> = Decision::ALL.iter().map(|d| d.exit_code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4]);
    }
}
