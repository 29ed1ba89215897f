//! What Pyrra (pyrra-dev/pyrra 1ba95afb) computes, written out independently of burnrate's
//! importer so tests can hold the import to it: the alert tiers of `Windows()` in
//! `slo/rules.go` at the windows the tests use, worked out by hand from its divisors.

use burnrate::decision::Decision;

/// One of Pyrra's four multi-window alerts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    /// critical → `circuit_break`, warning → `warn`.
    pub decision: Decision,
    pub factor: f64,
    pub long: &'static str,
    pub short: &'static str,
    /// The alert's `for`.
    pub for_: &'static str,
}

const fn tier(
    decision: Decision,
    factor: f64,
    long: &'static str,
    short: &'static str,
    for_: &'static str,
) -> Tier {
    Tier {
        decision,
        factor,
        long,
        short,
        for_,
    }
}

/// Pyrra's tiers at an SLO window: `(window / divisor).Round(time.Minute)` for the `for`,
/// long and short windows (divisors 20160, 672, 8064; 2688, 112, 1344; 672, 28, 336; 224,
/// 7, 112), factors 14, 7, 2, 1.
pub fn tiers(window: &str) -> [Tier; 4] {
    use Decision::{CircuitBreak as Cb, Warn};
    match window {
        // 28 days: Pyrra's own test values (`slo/rules_test.go`).
        "4w" | "28d" => [
            tier(Cb, 14.0, "1h", "5m", "2m"),
            tier(Cb, 7.0, "6h", "30m", "15m"),
            tier(Warn, 2.0, "1d", "2h", "1h"),
            tier(Warn, 1.0, "4d", "6h", "3h"),
        ],
        // 1,209,600 s: 150 s (2m30s) rounds up to 3m, 450 s (7m30s) to 8m.
        "2w" | "14d" => [
            tier(Cb, 14.0, "30m", "3m", "1m"),
            tier(Cb, 7.0, "3h", "15m", "8m"),
            tier(Warn, 2.0, "12h", "1h", "30m"),
            tier(Warn, 1.0, "2d", "3h", "1h30m"),
        ],
        // 604,800 s: 30 s rounds up to 1m, 75 s down to 1m, 225 s (3m45s) to 4m, 450 s to 8m.
        "1w" | "7d" => [
            tier(Cb, 14.0, "15m", "1m", "1m"),
            tier(Cb, 7.0, "1h30m", "8m", "4m"),
            tier(Warn, 2.0, "6h", "30m", "15m"),
            tier(Warn, 1.0, "1d", "1h30m", "45m"),
        ],
        other => panic!("no Pyrra tiers worked out for a window of {other}"),
    }
}
