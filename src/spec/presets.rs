//! `matrix: {preset: ...}`: the alert ladders of the tools teams migrate from, scaled to the
//! SLO period exactly as each tool scales them, so a migrated SLO decides when its old
//! alerts would have fired.
//!
//! Sources (read at the commits named; the numbers below are theirs):
//! - `sre-workbook`: Google SRE Workbook, "Alerting on SLOs", table 5-8 (recommended
//!   parameters for a 99.9% SLO): page 2% in 1h/5m, page 5% in 6h/30m, ticket 10% in
//!   3d/6h; burn = budget share × period / long window
//!   (<https://sre.google/workbook/alerting-on-slos/>).
//! - `sloth`: slok/sloth 0e395d81 `internal/alert/windows/google-30d.yaml` (and
//!   `google-28d.yaml`, the same shares and windows): page quick 2% 1h/5m, page slow 5%
//!   6h/30m, ticket quick 10% 1d/2h, ticket slow 10% 3d/6h; the factor is computed in float
//!   hours as `errorBudgetPercent * period.Hours() / 100 / longWindow.Hours()`
//!   (`internal/alert/window.go`), so 28d gives 13.44 and 5.6000000000000005. Sloth itself
//!   refuses other periods without custom `AlertWindows`; the preset applies the same
//!   formula to any period. No `for`.
//! - `pyrra`: pyrra-dev/pyrra 1ba95afb `slo/rules.go`, `Windows()`: four tiers with the
//!   fixed factors 14, 7 (critical) and 2, 1 (warning), every window and `for` a fraction
//!   of the period (28d: 1h/5m for 2m, 6h/30m for 15m, 1d/2h for 1h, 4d/6h for 3h) taken as
//!   Go does it: nanoseconds divided by an integer, then rounded to the minute, halves away
//!   from zero (30d: 1h4m/5m for 2m, 6h26m/32m for 16m, 25h43m/2h9m for 1h4m,
//!   102h51m/6h26m for 3h13m).
//! - `grafana`: Grafana SLO, "Configure burn rate notifications"
//!   (<https://grafana.com/docs/grafana-cloud/alerting-and-irm/slo/set-up/configure-burn-rate-notifications/>):
//!   fast burn (critical) 14.4× over 1h and 5m or 6× over 6h and 30m, slow burn (warning)
//!   3× over 24h and 2h or 1× over 72h and 6h. Grafana documents neither scaling with the
//!   SLO window nor a `for`, so none is applied.
//!
//! Severities map as the contract says: page/critical → `circuit_break`, ticket/warning →
//! `warn`, for both dimensions.

use super::Rule;
use crate::decision::Decision;
use crate::duration::PromDuration;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// A tool whose ladder `matrix: {preset: NAME}` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preset {
    SreWorkbook,
    Sloth,
    Pyrra,
    Grafana,
}

impl Preset {
    pub(crate) const NAMES: [&'static str; 4] = ["sre-workbook", "sloth", "pyrra", "grafana"];

    pub(crate) fn parse(name: &str) -> Option<Preset> {
        Some(match name {
            "sre-workbook" => Preset::SreWorkbook,
            "sloth" => Preset::Sloth,
            "pyrra" => Preset::Pyrra,
            "grafana" => Preset::Grafana,
            _ => return None,
        })
    }

    /// The preset's rules for an SLO of `period`, or why it has none (a period so short
    /// that a window rounds to nothing).
    pub(crate) fn rules(self, period: &PromDuration) -> Result<Vec<Rule>, String> {
        let rules = match self {
            Preset::SreWorkbook => [
                (Decision::CircuitBreak, 2.0, HOUR, 5 * MINUTE),
                (Decision::CircuitBreak, 5.0, 6 * HOUR, 30 * MINUTE),
                (Decision::Warn, 10.0, 72 * HOUR, 6 * HOUR),
            ]
            .iter()
            .map(|&(decision, percent, long, short)| {
                rule(
                    decision,
                    percent / 100.0 * period.millis() as f64 / long as f64,
                    long,
                    short,
                    None,
                )
            })
            .collect(),
            Preset::Sloth => [
                (Decision::CircuitBreak, 2.0, HOUR, 5 * MINUTE),
                (Decision::CircuitBreak, 5.0, 6 * HOUR, 30 * MINUTE),
                (Decision::Warn, 10.0, 24 * HOUR, 2 * HOUR),
                (Decision::Warn, 10.0, 72 * HOUR, 6 * HOUR),
            ]
            .iter()
            .map(|&(decision, percent, long, short)| {
                rule(
                    decision,
                    sloth_factor(percent, period, long),
                    long,
                    short,
                    None,
                )
            })
            .collect(),
            Preset::Pyrra => {
                // (severity, factor, divisor of for, of long, of short), `slo/rules.go`.
                const TIERS: [(Decision, f64, i64, i64, i64); 4] = [
                    (
                        Decision::CircuitBreak,
                        14.0,
                        28 * 24 * 30,
                        28 * 24,
                        28 * 24 * 12,
                    ),
                    (
                        Decision::CircuitBreak,
                        7.0,
                        28 * 24 * 4,
                        28 * 4,
                        28 * 24 * 2,
                    ),
                    (Decision::Warn, 2.0, 28 * 24, 28, 28 * 12),
                    (Decision::Warn, 1.0, 28 * 8, 7, 28 * 4),
                ];
                let mut rules = Vec::new();
                for (decision, factor, for_div, long_div, short_div) in TIERS {
                    let [for_, long, short] =
                        [for_div, long_div, short_div].map(|d| pyrra_window(period, d));
                    if short <= 0 {
                        return Err(format!(
                            "the pyrra preset's windows at a period of {period} round to 0 minutes (Pyrra divides the period by up to 20160 and rounds to the minute): use a period of at least 3d or give the rules"
                        ));
                    }
                    rules.push(rule(decision, factor, long, short, Some(for_)));
                }
                rules
            }
            Preset::Grafana => [
                (Decision::CircuitBreak, 14.4, HOUR, 5 * MINUTE),
                (Decision::CircuitBreak, 6.0, 6 * HOUR, 30 * MINUTE),
                (Decision::Warn, 3.0, 24 * HOUR, 2 * HOUR),
                (Decision::Warn, 1.0, 72 * HOUR, 6 * HOUR),
            ]
            .iter()
            .map(|&(decision, burn, long, short)| rule(decision, burn, long, short, None))
            .collect(),
        };
        Ok(rules)
    }
}

fn rule(decision: Decision, burn: f64, long: i64, short: i64, for_: Option<i64>) -> Rule {
    Rule {
        decision,
        burn,
        long: PromDuration::from_millis(long),
        short: Some(PromDuration::from_millis(short)),
        for_: for_.filter(|f| *f > 0).map(PromDuration::from_millis),
    }
}

/// Sloth's factor, in its order of float operations (`window.go`): hours of budget
/// consumption, then divided by the window's hours.
fn sloth_factor(percent: f64, period: &PromDuration, long_ms: i64) -> f64 {
    let hours = |ms: i64| ms as f64 / HOUR as f64;
    percent * hours(period.millis()) / 100.0 / hours(long_ms)
}

/// `(period / divisor).Round(time.Minute)` on Go durations (nanoseconds, integer
/// division truncating toward zero, halves rounded away from zero), in milliseconds.
fn pyrra_window(period: &PromDuration, divisor: i64) -> i64 {
    const NS_PER_MS: i128 = 1_000_000;
    const MINUTE_NS: i128 = 60 * 1_000_000_000;
    let ns = i128::from(period.millis()) * NS_PER_MS / i128::from(divisor);
    let minutes = (ns + MINUTE_NS / 2) / MINUTE_NS;
    (minutes * MINUTE_NS / NS_PER_MS) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder(preset: Preset, period: &str) -> Vec<(Decision, f64, String, String, String)> {
        preset
            .rules(&PromDuration::parse(period).unwrap())
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.decision,
                    r.burn,
                    r.long.to_string(),
                    r.short.unwrap().to_string(),
                    r.for_.map_or(String::new(), |f| f.to_string()),
                )
            })
            .collect()
    }

    fn row(
        d: Decision,
        burn: f64,
        long: &str,
        short: &str,
        for_: &str,
    ) -> (Decision, f64, String, String, String) {
        (d, burn, long.into(), short.into(), for_.into())
    }

    use Decision::{CircuitBreak as Cb, Warn};

    #[test]
    fn sloth_factors_are_those_sloth_generates() {
        // Sloth's generated rules for 30d (`_gen/getting-started.yml`) and 28d
        // (`test/integration/prometheus/testdata/out-base-28d.yaml.tpl`), float noise
        // included.
        assert_eq!(
            ladder(Preset::Sloth, "30d"),
            [
                row(Cb, 14.4, "1h", "5m", ""),
                row(Cb, 6.0, "6h", "30m", ""),
                row(Warn, 3.0, "1d", "2h", ""),
                row(Warn, 1.0, "3d", "6h", ""),
            ]
        );
        let burns: Vec<f64> = ladder(Preset::Sloth, "28d").iter().map(|r| r.1).collect();
        assert_eq!(
            burns,
            [
                13.44,
                5.6000000000000005,
                2.8000000000000003,
                0.9333333333333333
            ]
        );
    }

    #[test]
    fn pyrra_windows_are_those_pyrra_computes() {
        // `slo/rules_test.go`: 28d and 7d.
        assert_eq!(
            ladder(Preset::Pyrra, "28d"),
            [
                row(Cb, 14.0, "1h", "5m", "2m"),
                row(Cb, 7.0, "6h", "30m", "15m"),
                row(Warn, 2.0, "1d", "2h", "1h"),
                row(Warn, 1.0, "4d", "6h", "3h"),
            ]
        );
        assert_eq!(
            ladder(Preset::Pyrra, "7d"),
            [
                row(Cb, 14.0, "15m", "1m", "1m"),
                row(Cb, 7.0, "1h30m", "8m", "4m"),
                row(Warn, 2.0, "6h", "30m", "15m"),
                row(Warn, 1.0, "1d", "1h30m", "45m"),
            ]
        );
        // 30d: Go's integer division and rounding to the minute.
        assert_eq!(
            ladder(Preset::Pyrra, "30d"),
            [
                row(Cb, 14.0, "1h4m", "5m", "2m"),
                row(Cb, 7.0, "6h26m", "32m", "16m"),
                row(Warn, 2.0, "1d1h43m", "2h9m", "1h4m"),
                row(Warn, 1.0, "4d6h51m", "6h26m", "3h13m"),
            ]
        );
        assert!(
            Preset::Pyrra
                .rules(&PromDuration::parse("1d").unwrap())
                .is_err()
        );
    }

    #[test]
    fn workbook_and_grafana_ladders() {
        assert_eq!(
            ladder(Preset::SreWorkbook, "30d"),
            [
                row(Cb, 14.4, "1h", "5m", ""),
                row(Cb, 6.0, "6h", "30m", ""),
                row(Warn, 1.0, "3d", "6h", ""),
            ]
        );
        // Grafana's factors do not scale with the SLO window.
        assert_eq!(
            ladder(Preset::Grafana, "28d"),
            ladder(Preset::Grafana, "30d")
        );
        assert_eq!(
            ladder(Preset::Grafana, "30d"),
            [
                row(Cb, 14.4, "1h", "5m", ""),
                row(Cb, 6.0, "6h", "30m", ""),
                row(Warn, 3.0, "1d", "2h", ""),
                row(Warn, 1.0, "3d", "6h", ""),
            ]
        );
    }
}
