//! The threshold matrix: which rules fire for a set of window burn rates.

use super::evaluation::WindowMap;
use crate::spec::Rule;

/// A rule fires when `burn(long) >= rule.burn` and, if it has a short window,
/// `burn(short) >= rule.burn`, and the long window saw at least `min_events` events.
/// A window without a number never fires a rule: missing data does not escalate.
pub fn rule_fires(
    rule: &Rule,
    burns: &WindowMap<Option<f64>>,
    events: &WindowMap<Option<f64>>,
    min_events: Option<f64>,
) -> bool {
    fires(
        rule.burn,
        burns.value(rule.long.as_str()),
        rule.short.as_ref().map(|s| burns.value(s.as_str())),
        events.value(rule.long.as_str()),
        min_events,
    )
}

/// `rule_fires` from the values it reads: the burns of the long and (if the rule has one)
/// short window, and the long window's events.
pub(crate) fn fires(
    burn: f64,
    long_burn: Option<f64>,
    short_burn: Option<Option<f64>>,
    long_events: Option<f64>,
    min_events: Option<f64>,
) -> bool {
    let at_least = |b: Option<f64>| b.is_some_and(|b| b >= burn);
    if !at_least(long_burn) {
        return false;
    }
    if let Some(short) = short_burn
        && !at_least(short)
    {
        return false;
    }
    match min_events {
        Some(min) => long_events.is_some_and(|n| n >= min),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Decision;
    use crate::duration::PromDuration;

    fn rule(burn: f64, long: &str, short: Option<&str>) -> Rule {
        Rule {
            decision: Decision::CircuitBreak,
            burn,
            long: PromDuration::parse(long).unwrap(),
            short: short.map(|s| PromDuration::parse(s).unwrap()),
            for_: None,
        }
    }

    fn map(pairs: &[(&str, Option<f64>)]) -> WindowMap<Option<f64>> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn fires_at_exactly_the_threshold() {
        let r = rule(14.4, "1h", Some("5m"));
        let events = map(&[("1h", Some(1000.0))]);
        assert!(rule_fires(
            &r,
            &map(&[("1h", Some(14.4)), ("5m", Some(14.4))]),
            &events,
            None
        ));
        assert!(!rule_fires(
            &r,
            &map(&[("1h", Some(14.4)), ("5m", Some(14.39))]),
            &events,
            None
        ));
        assert!(!rule_fires(
            &r,
            &map(&[("1h", Some(14.3)), ("5m", Some(99.0))]),
            &events,
            None
        ));
    }

    #[test]
    fn null_windows_never_fire() {
        let r = rule(1.0, "1h", Some("5m"));
        let events = map(&[("1h", Some(1000.0))]);
        assert!(!rule_fires(
            &r,
            &map(&[("1h", None), ("5m", Some(50.0))]),
            &events,
            None
        ));
        assert!(!rule_fires(
            &r,
            &map(&[("1h", Some(50.0)), ("5m", None)]),
            &events,
            None
        ));
        assert!(!rule_fires(&r, &map(&[("5m", Some(50.0))]), &events, None));
    }

    #[test]
    fn min_events_guards_the_long_window() {
        let r = rule(1.0, "1h", None);
        let burns = map(&[("1h", Some(5.0))]);
        assert!(rule_fires(
            &r,
            &burns,
            &map(&[("1h", Some(20.0))]),
            Some(20.0)
        ));
        assert!(!rule_fires(
            &r,
            &burns,
            &map(&[("1h", Some(19.9))]),
            Some(20.0)
        ));
        assert!(!rule_fires(&r, &burns, &map(&[("1h", None)]), Some(20.0)));
    }
}
