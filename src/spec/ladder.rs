//! The default threshold matrix: Google SRE Workbook table 5-8, scaled to the SLO period
//! the way Sloth does (factor = budget share × period / long window).

use super::{Dimension, Rule};
use crate::decision::Decision;
use crate::duration::PromDuration;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// (budget share, long, short, decision for errors, decision for latency)
const STEPS: [(f64, i64, i64, Decision, Decision); 3] = [
    (
        0.02,
        HOUR,
        5 * MINUTE,
        Decision::CircuitBreak,
        Decision::CircuitBreak,
    ),
    (0.05, 6 * HOUR, 30 * MINUTE, Decision::Warn, Decision::Scale),
    (0.10, 3 * DAY, 6 * HOUR, Decision::Warn, Decision::Warn),
];

/// The default rules for one dimension at the given budget period.
pub(crate) fn default_rules(dim: Dimension, period: &PromDuration) -> Vec<Rule> {
    STEPS
        .iter()
        .map(|&(share, long, short, on_error, on_latency)| Rule {
            decision: match dim {
                Dimension::Error => on_error,
                Dimension::Latency => on_latency,
            },
            burn: share * period.millis() as f64 / long as f64,
            long: PromDuration::from_millis(long),
            short: Some(PromDuration::from_millis(short)),
            for_: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_days_gives_the_workbook_factors() {
        let period = PromDuration::parse("30d").unwrap();
        let rules = default_rules(Dimension::Latency, &period);
        let factors: Vec<f64> = rules.iter().map(|r| r.burn).collect();
        assert!((factors[0] - 14.4).abs() < 1e-12);
        assert!((factors[1] - 6.0).abs() < 1e-12);
        assert!((factors[2] - 1.0).abs() < 1e-12);
        let spelled: Vec<(&str, &str)> = rules
            .iter()
            .map(|r| (r.long.as_str(), r.short.as_ref().unwrap().as_str()))
            .collect();
        assert_eq!(spelled, [("1h", "5m"), ("6h", "30m"), ("3d", "6h")]);
        assert_eq!(rules[1].decision, Decision::Scale);
        assert_eq!(
            default_rules(Dimension::Error, &period)[1].decision,
            Decision::Warn
        );
    }

    #[test]
    fn scales_with_the_period() {
        let rules = default_rules(Dimension::Error, &PromDuration::parse("28d").unwrap());
        assert!((rules[0].burn - 13.44).abs() < 1e-12);
    }
}
