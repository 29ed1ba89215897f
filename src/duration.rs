//! Prometheus duration syntax (`5m`, `1h30m`, `3d`, `300ms`).
//!
//! Windows are keyed in every output by the spelling the user wrote, so a duration keeps its
//! text next to its value: `60m` and `1h` are the same length but different keys.

use crate::limits::MAX_DURATION_MS;
use std::fmt;
use thiserror::Error;

/// Why a text is not a Prometheus duration. The messages are what spec diagnostics and flag
/// errors show after the field or flag name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("not a duration: {0:?} (expected e.g. 30s, 5m, 1h30m, 3d)")]
    Syntax(String),
    #[error("duration {0:?} needs a unit (ms, s, m, h, d, w, y)")]
    NoUnit(String),
    #[error("unknown unit {unit:?} in duration {text:?} (ms, s, m, h, d, w, y)")]
    UnknownUnit { unit: String, text: String },
    #[error("units in duration {0:?} must go from largest to smallest, each once")]
    UnitOrder(String),
    #[error("duration {0:?} is out of range")]
    OutOfRange(String),
    #[error("duration {0:?} is longer than 1y, the longest burnrate accepts")]
    TooLong(String),
}

/// Spec checks collect messages as text.
impl From<DurationError> for String {
    fn from(e: DurationError) -> String {
        e.to_string()
    }
}

/// A non-negative duration with the spelling it was written in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PromDuration {
    millis: i64,
    spelling: String,
}

const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

impl PromDuration {
    /// Parses the Prometheus duration syntax: one or more `<integer><unit>` terms, units
    /// in decreasing order (`y w d h m s ms`), each at most once. `0` alone is allowed.
    /// At most [`MAX_DURATION_MS`] (1y): no period, window, `for`, `hold`, step or timeout
    /// means anything beyond, and everything downstream may then add and multiply
    /// durations and instants without overflow.
    pub fn parse(text: &str) -> Result<PromDuration, DurationError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(DurationError::Empty);
        }
        if s == "0" {
            return Ok(PromDuration {
                millis: 0,
                spelling: s.to_string(),
            });
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut total: i64 = 0;
        let mut last_unit_rank: Option<usize> = None;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return Err(DurationError::Syntax(s.to_string()));
            }
            let number: i64 = s[start..i]
                .parse()
                .map_err(|_| DurationError::OutOfRange(s.to_string()))?;
            let unit_start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = &s[unit_start..i];
            let Some(rank) = UNITS.iter().position(|(u, _)| *u == unit) else {
                return Err(if unit.is_empty() {
                    DurationError::NoUnit(s.to_string())
                } else {
                    DurationError::UnknownUnit {
                        unit: unit.to_string(),
                        text: s.to_string(),
                    }
                });
            };
            if let Some(prev) = last_unit_rank
                && rank <= prev
            {
                return Err(DurationError::UnitOrder(s.to_string()));
            }
            last_unit_rank = Some(rank);
            total = number
                .checked_mul(UNITS[rank].1)
                .and_then(|v| v.checked_add(total))
                .ok_or_else(|| DurationError::OutOfRange(s.to_string()))?;
        }
        if total > MAX_DURATION_MS {
            return Err(DurationError::TooLong(s.to_string()));
        }
        Ok(PromDuration {
            millis: total,
            spelling: s.to_string(),
        })
    }

    /// A duration built by the program (default ladder), spelled canonically.
    pub(crate) fn from_millis(millis: i64) -> PromDuration {
        PromDuration {
            millis,
            spelling: format_millis(millis),
        }
    }

    pub fn millis(&self) -> i64 {
        self.millis
    }

    pub(crate) fn seconds(&self) -> f64 {
        self.millis as f64 / 1000.0
    }

    /// The text the user wrote; used as the window key in outputs and in PromQL ranges.
    pub fn as_str(&self) -> &str {
        &self.spelling
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spelling)
    }
}

/// Canonical spelling with the largest units first, as Prometheus prints durations.
pub(crate) fn format_millis(millis: i64) -> String {
    if millis == 0 {
        return "0s".into();
    }
    let mut rest = millis;
    let mut out = String::new();
    for (unit, size) in UNITS {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(PromDuration::parse("5m").unwrap().millis(), 300_000);
        assert_eq!(PromDuration::parse("1h30m").unwrap().millis(), 5_400_000);
        assert_eq!(PromDuration::parse("3d").unwrap().millis(), 259_200_000);
        assert_eq!(PromDuration::parse("300ms").unwrap().millis(), 300);
        assert_eq!(PromDuration::parse("1y").unwrap().millis(), 31_536_000_000);
        assert_eq!(
            PromDuration::parse("365d").unwrap().millis(),
            31_536_000_000
        );
        assert_eq!(PromDuration::parse("0").unwrap().millis(), 0);
        assert_eq!(PromDuration::parse("60m").unwrap().as_str(), "60m");
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in ["", "5", "m", "5x", "1m1h", "1h1h", "-5m", "1.5h", "5 m"] {
            assert!(
                PromDuration::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn durations_beyond_a_year_are_refused() {
        for long in [
            "1y1ms",
            "366d",
            "53w",
            "292471208y",
            "9223372036854775807ms",
        ] {
            assert!(
                matches!(PromDuration::parse(long), Err(DurationError::TooLong(_))),
                "{long}: {:?}",
                PromDuration::parse(long)
            );
        }
        let e = PromDuration::parse("292471208y").unwrap_err().to_string();
        assert!(e.contains("longer than 1y"), "{e}");
        assert!(matches!(
            PromDuration::parse("99999999999999999999y"),
            Err(DurationError::OutOfRange(_))
        ));
    }

    #[test]
    fn formats_canonically() {
        assert_eq!(format_millis(300_000), "5m");
        assert_eq!(format_millis(259_200_000), "3d");
        assert_eq!(format_millis(5_400_000), "1h30m");
        assert_eq!(format_millis(1_500), "1s500ms");
    }
}
