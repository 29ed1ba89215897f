//! The PromQL of the rules: per-window bad ratios and burn rates, the budget, the matrix.
//!
//! Every expression follows the engine's arithmetic operation by operation (`sli.rs`), on
//! the same sub-queries `check` sends (`backend/query.rs`), so a recording rule evaluated by
//! Prometheus equals the number `burnrate check` prints for the same instant:
//!
//! - error: `bad / total`, with a bad selector matching nothing counted as 0 bad events
//!   (`or vector(0)`), zero traffic as ratio 0 (`total == 0` yields 0), and no total series
//!   as no sample at all (null, never 0);
//! - latency: `1 - good / count`, `good` being the bucket at the threshold (its `le` matched
//!   by every common spelling of the number, see `le.rs`) or a linear interpolation between
//!   the two bounds around it, as `histogram_quantile` interpolates;
//! - native-histogram latency: `1 - histogram_fraction(0, T, R)` with `R` =
//!   `sum(rate(H[w]))`, its events `histogram_count(R)`;
//! - burn: `ratio / budget`; budget remaining: `1 - ratio(period) / budget` (budget =
//!   `1 - objective` in decimal, written as one literal);
//! - events (for `min_events`): `total * window_seconds`;
//! - groups (`group_by`): every sum keeps the group labels (`sum by (cluster) (...)`, as
//!   `check` queries them), so each expression yields one series per group, and the terms of
//!   a rule are joined `on` them.

use super::le::bound_regex;
use crate::duration::PromDuration;
use crate::measure::query::sum_by;
use crate::spec::selector::{MatchOp, Matcher, Selector};
use crate::spec::{Dimension, ErrorEvents, LatencySli, Rule, SloSpec, WINDOW_PLACEHOLDER};

/// A float as a PromQL number literal that parses back to exactly the same `f64`.
pub(crate) fn number(x: f64) -> String {
    if x == 0.0 || (1e-5..1e16).contains(&x.abs()) {
        // Display is the shortest representation that round-trips.
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// How the rate of requests within the latency threshold is read from the buckets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Good {
    /// The threshold is the bucket bound `le`.
    Bound(f64),
    /// The threshold lies between two bounds (`lower` absent: below the first bound, whose
    /// lower edge is 0 as in `histogram_quantile`).
    Interpolated {
        lower: Option<f64>,
        upper: f64,
        threshold: f64,
    },
    /// A native histogram: `histogram_fraction(0, threshold, ...)` of its summed rate.
    Fraction { threshold: f64 },
}

impl Good {
    /// From the histogram's finite bucket bounds, if known (`None`: assume the threshold is
    /// a bound). The engine's rules (`sli::good_at`): a bound equal to the threshold within
    /// a relative 1e-9; above the last finite bound, that bound's bucket.
    pub(crate) fn plan(threshold: f64, bounds: Option<&[f64]>) -> Good {
        let Some(bounds) = bounds else {
            return Good::Bound(threshold);
        };
        let mut finite: Vec<f64> = bounds.iter().copied().filter(|b| b.is_finite()).collect();
        finite.sort_by(f64::total_cmp);
        finite.dedup();
        if let Some(b) = finite
            .iter()
            .find(|b| (**b - threshold).abs() <= 1e-9 * threshold.abs().max(b.abs()))
        {
            return Good::Bound(*b);
        }
        match finite.iter().position(|b| *b > threshold) {
            None => match finite.last() {
                Some(last) => Good::Bound(*last),
                None => Good::Bound(threshold),
            },
            Some(i) => Good::Interpolated {
                lower: i.checked_sub(1).map(|j| finite[j]),
                upper: finite[i],
                threshold,
            },
        }
    }
}

/// The `_bucket` series of bound `le` (every common spelling of it).
pub(crate) fn bucket_selector(latency: &LatencySli, le: f64) -> Selector {
    let mut bucket = latency
        .histogram
        .with_suffix("_bucket")
        .expect("validated: a histogram has a metric name");
    bucket
        .matchers
        .push(Matcher::new("le", MatchOp::RegexMatch, bound_regex(le)));
    bucket
}

fn bucket_rate(by: &[String], latency: &LatencySli, le: f64, w: &str) -> String {
    format!(
        "{}(rate({}[{w}]))",
        sum_by(by, &[]),
        bucket_selector(latency, le).to_promql()
    )
}

/// A native histogram's summed rate in window `w`, summed by `by`.
fn native_rate(latency: &LatencySli, w: &str, by: &[String]) -> String {
    format!(
        "{}(rate({}[{w}]))",
        sum_by(by, &[]),
        latency.histogram.to_promql()
    )
}

/// The total events' rate in window `w`, as `backend/query.rs` queries it.
pub(crate) fn total_rate(slo: &SloSpec, dim: Dimension, w: &str) -> String {
    total_rate_by(slo, dim, w, &slo.group_by)
}

/// [`total_rate`] summed by `by` instead of the group labels.
fn total_rate_by(slo: &SloSpec, dim: Dimension, w: &str, by: &[String]) -> String {
    let sum = sum_by(by, &[]);
    match dim {
        Dimension::Error => match &slo.error.as_ref().expect("dimension present").events {
            ErrorEvents::Selectors { total, .. } => {
                format!("{sum}(rate({}[{w}]))", total.to_promql())
            }
            ErrorEvents::Queries { total, .. } => {
                format!("{sum}({})", total.replace(WINDOW_PLACEHOLDER, w))
            }
        },
        Dimension::Latency => {
            let latency = slo.latency.as_ref().expect("dimension present");
            if latency.is_native() {
                return format!("histogram_count({})", native_rate(latency, w, by));
            }
            let count = (latency.histogram)
                .with_suffix("_count")
                .expect("validated: a histogram has a metric name");
            format!("{sum}(rate({}[{w}]))", count.to_promql())
        }
    }
}

/// The bad events' rate in window `w` of an error SLI, summed by `by`.
fn bad_rate(slo: &SloSpec, w: &str, by: &[String]) -> String {
    let sum = sum_by(by, &[]);
    match &slo.error.as_ref().expect("dimension present").events {
        ErrorEvents::Selectors { bad, .. } => format!("{sum}(rate({}[{w}]))", bad.to_promql()),
        ErrorEvents::Queries { bad, .. } => {
            format!("{sum}({})", bad.replace(WINDOW_PLACEHOLDER, w))
        }
    }
}

/// The rate of requests within the latency threshold in window `w`, summed by `by`.
fn good_rate(by: &[String], latency: &LatencySli, good: &Good, w: &str) -> String {
    match good {
        Good::Bound(le) => bucket_rate(by, latency, *le, w),
        // ca + (cb - ca) * (t - a) / (b - a), as `sli::good_at` computes it.
        Good::Interpolated {
            lower: Some(a),
            upper,
            threshold,
        } => {
            let ca = bucket_rate(by, latency, *a, w);
            let cb = bucket_rate(by, latency, *upper, w);
            format!(
                "({ca} + ({cb} - {ca}) * ({} - {}) / ({} - {}))",
                number(*threshold),
                number(*a),
                number(*upper),
                number(*a)
            )
        }
        // Below the first bound the lower edge is 0 and its count 0: cb * t / b.
        Good::Interpolated {
            lower: None,
            upper,
            threshold,
        } => format!(
            "({} * {} / {})",
            bucket_rate(by, latency, *upper, w),
            number(*threshold),
            number(*upper)
        ),
        Good::Fraction { threshold } => {
            let rate = native_rate(latency, w, by);
            format!(
                "(histogram_count({rate}) * {})",
                fraction(&rate, *threshold)
            )
        }
    }
}

/// `histogram_fraction(0, threshold, rate)`: the share of a native histogram within the
/// threshold.
fn fraction(rate: &str, threshold: f64) -> String {
    format!("histogram_fraction(0, {}, {rate})", number(threshold))
}

/// Bad events over total events in window `w`: a sample, or none when the total has no
/// series (or is not a number).
pub(crate) fn bad_ratio(slo: &SloSpec, dim: Dimension, good: &Good, w: &PromDuration) -> String {
    let w = w.as_str();
    let total = total_rate(slo, dim, w);
    let ratio = match dim {
        // Without groups, `vector(0)` is the one missing sample; with them, each group with
        // traffic but no bad series needs its own 0, which `0 * total` gives it.
        Dimension::Error if slo.group_by.is_empty() => {
            format!(
                "({} or vector(0)) / ({total} > 0)",
                bad_rate(slo, w, &slo.group_by)
            )
        }
        Dimension::Error => format!(
            "({} or 0 * {total}) / ({total} > 0)",
            bad_rate(slo, w, &slo.group_by)
        ),
        Dimension::Latency => {
            let latency = slo.latency.as_ref().expect("dimension present");
            match good {
                // The fraction of an empty histogram is NaN: no traffic is the `or` below.
                Good::Fraction { threshold } => format!(
                    "(1 - {}) and ({total} > 0)",
                    fraction(&native_rate(latency, w, &slo.group_by), *threshold)
                ),
                _ => format!(
                    "1 - {} / ({total} > 0)",
                    good_rate(&slo.group_by, latency, good, w)
                ),
            }
        }
    };
    format!("({ratio} or {total} == 0)")
}

/// The bad events' rate in window `w` summed by `by` (the group and breakdown labels of a
/// contributors query): the bad counter's, or latency's count minus its good events.
pub(crate) fn bad_events_rate(
    slo: &SloSpec,
    dim: Dimension,
    good: &Good,
    w: &PromDuration,
    by: &[String],
) -> String {
    let w = w.as_str();
    match dim {
        Dimension::Error => bad_rate(slo, w, by),
        Dimension::Latency => {
            let latency = slo.latency.as_ref().expect("dimension present");
            match good {
                // count × (1 - fraction), as `sli::bad_rate` computes it.
                Good::Fraction { threshold } => {
                    let rate = native_rate(latency, w, by);
                    format!(
                        "(histogram_count({rate}) * (1 - {}))",
                        fraction(&rate, *threshold)
                    )
                }
                _ => format!(
                    "({} - {})",
                    total_rate_by(slo, dim, w, by),
                    good_rate(by, latency, good, w)
                ),
            }
        }
    }
}

/// The error budget as the literal the engine divides by (`0.001`, not `(1 - 0.999)`, whose
/// float noise would keep a burn of exactly 1 below a `burn: 1` threshold).
fn budget_share(slo: &SloSpec, dim: Dimension) -> String {
    number(slo.budget(dim).expect("dimension present"))
}

/// `burn(w) = bad_ratio(w) / budget`.
pub(crate) fn burn_rate(slo: &SloSpec, dim: Dimension, good: &Good, w: &PromDuration) -> String {
    format!(
        "{} / {}",
        bad_ratio(slo, dim, good, w),
        budget_share(slo, dim)
    )
}

/// `1 - bad_ratio(period) / budget`.
pub(crate) fn budget_remaining(slo: &SloSpec, dim: Dimension, good: &Good) -> String {
    format!(
        "1 - {} / {}",
        bad_ratio(slo, dim, good, &slo.period),
        budget_share(slo, dim)
    )
}

/// Events in window `w` as the engine counts them for `min_events`: `total * seconds`.
pub(crate) fn events(slo: &SloSpec, dim: Dimension, w: &PromDuration) -> String {
    format!(
        "{} * {}",
        total_rate(slo, dim, w.as_str()),
        number(w.seconds())
    )
}

/// The recording rule series of one window of one dimension.
pub(crate) fn burn_series(service: &str, slo: &str, dim: Dimension, w: &PromDuration) -> Selector {
    Selector {
        metric: Some(super::BURN_RATE_METRIC.to_string()),
        matchers: vec![
            Matcher::new("service", MatchOp::Equal, service),
            Matcher::new("slo", MatchOp::Equal, slo),
            Matcher::new("dimension", MatchOp::Equal, dim.as_str()),
            Matcher::new("window", MatchOp::Equal, w.as_str()),
        ],
    }
}

/// The budget recording rule series of one dimension.
pub(crate) fn budget_series(service: &str, slo: &str, dim: Dimension) -> Selector {
    Selector {
        metric: Some(super::BUDGET_METRIC.to_string()),
        matchers: vec![
            Matcher::new("service", MatchOp::Equal, service),
            Matcher::new("slo", MatchOp::Equal, slo),
            Matcher::new("dimension", MatchOp::Equal, dim.as_str()),
        ],
    }
}

/// Indents every line of `text` by `n` spaces.
fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `items` joined by a binary operator on its own line, operands indented under it.
fn join_op(items: &[String], op: &str) -> String {
    items
        .iter()
        .map(|i| indent(i, 2))
        .collect::<Vec<_>>()
        .join(&format!("\n{op}\n"))
}

/// One matrix rule on the recording rules: `burn(long) >= f`, `burn(short) >= f` and the
/// `min_events` guard on the long window's events.
pub(crate) fn rule_condition(service: &str, slo: &SloSpec, dim: Dimension, rule: &Rule) -> String {
    let factor = number(rule.burn);
    let mut terms = vec![format!(
        "({} >= {factor})",
        burn_series(service, &slo.name, dim, &rule.long).to_promql()
    )];
    if let Some(short) = &rule.short {
        terms.push(format!(
            "({} >= {factor})",
            burn_series(service, &slo.name, dim, short).to_promql()
        ));
    }
    if let Some(min) = slo.min_events {
        terms.push(format!(
            "({} >= {})",
            events(slo, dim, &rule.long),
            number(min)
        ));
    }
    if terms.len() == 1 {
        terms.pop().expect("one term")
    } else {
        // A group's rule fires on its own windows only.
        join_op(&terms, &format!("and on ({})", slo.group_by.join(", ")))
    }
}

/// The alert of one decision level: any of its rules firing, one series per dimension
/// (the window label dropped), valued at the largest long-window burn among them.
pub(crate) fn level_alert(service: &str, slo: &SloSpec, dim: Dimension, rules: &[&Rule]) -> String {
    let body = match rules {
        [rule] => rule_condition(service, slo, dim, rule),
        _ => {
            let conditions: Vec<String> = rules
                .iter()
                .map(|r| format!("(\n{}\n)", indent(&rule_condition(service, slo, dim, r), 2)))
                .collect();
            join_op(&conditions, "or")
        }
    };
    format!("max without (window) (\n{}\n)", indent(&body, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for x in [
            0.0,
            1.0,
            14.4,
            0.999,
            1e-7,
            1e20,
            0.1 + 0.2,
            14.400000000000002,
            3600.0,
            259200.0,
        ] {
            let s = number(x);
            assert_eq!(s.parse::<f64>().unwrap(), x, "{s}");
        }
        assert_eq!(number(3600.0), "3600");
        assert_eq!(number(1e-7), "1e-7");
    }

    #[test]
    fn good_plan() {
        let b = [0.005, 0.01, 0.1, 0.2, 0.4, f64::INFINITY];
        assert_eq!(Good::plan(0.2, None), Good::Bound(0.2));
        assert_eq!(Good::plan(0.2, Some(&b)), Good::Bound(0.2));
        assert_eq!(
            Good::plan(0.15, Some(&b)),
            Good::Interpolated {
                lower: Some(0.1),
                upper: 0.2,
                threshold: 0.15
            }
        );
        assert_eq!(
            Good::plan(0.001, Some(&b)),
            Good::Interpolated {
                lower: None,
                upper: 0.005,
                threshold: 0.001
            }
        );
        assert_eq!(Good::plan(2.0, Some(&b)), Good::Bound(0.4));
        assert_eq!(
            Good::plan(0.30000000000000004 - 0.1, Some(&b)),
            Good::Bound(0.2)
        );
    }
}
