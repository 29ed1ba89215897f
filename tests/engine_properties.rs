//! Property tests of the burn-rate math: the invariants users rely on, over random inputs.

use burnrate::decision::Decision;
use burnrate::duration::PromDuration;
use burnrate::engine::hysteresis::{RuleStatus, RuleTimers};
use burnrate::engine::matrix::rule_fires;
use burnrate::engine::sli::{error_window, good_at, histogram_quantile, latency_window};
use burnrate::engine::{Bucket, ErrorRates, HistogramRates, WindowMap};
use burnrate::spec::Rule;
use proptest::prelude::*;

/// Cumulative classic-histogram bucket rates: positive increasing bounds, monotone counts,
/// and a `+Inf` bucket equal to the total.
fn histogram() -> impl Strategy<Value = (Vec<Bucket>, f64)> {
    (
        prop::collection::vec((0.001f64..5.0, 0.0f64..1000.0), 1..12),
        0.0f64..100.0,
    )
        .prop_map(|(raw, inf_extra)| {
            let mut bounds: Vec<f64> = raw
                .iter()
                .map(|(b, _)| (b * 1000.0).round() / 1000.0)
                .collect();
            bounds.sort_by(f64::total_cmp);
            bounds.dedup();
            let mut cum = 0.0;
            let mut buckets: Vec<Bucket> = bounds
                .iter()
                .zip(raw.iter().map(|(_, c)| *c))
                .map(|(&le, c)| {
                    cum += c;
                    Bucket { le, rate: cum }
                })
                .collect();
            let total = cum + inf_extra;
            buckets.push(Bucket {
                le: f64::INFINITY,
                rate: total,
            });
            (buckets, total)
        })
}

proptest! {
    #[test]
    fn error_burn_is_bad_ratio_over_budget(bad in 0.0f64..1e6, extra in 1e-6f64..1e6, objective in 0.5f64..0.99999) {
        let total = bad + extra;
        let w = error_window(&ErrorRates { bad: Some(bad), total: Some(total) }, 1.0 - objective, 3600.0);
        let expected = bad / total / (1.0 - objective);
        prop_assert_eq!(w.burn, Some(expected));
        prop_assert!(!w.no_traffic);
        prop_assert!((w.events.unwrap() - total * 3600.0).abs() <= 1e-9 * total * 3600.0);
    }

    #[test]
    fn burn_one_spends_exactly_the_budget(total in 1e-3f64..1e6, objective in 0.5f64..0.9999) {
        let bad = total * (1.0 - objective);
        let burn = error_window(&ErrorRates { bad: Some(bad), total: Some(total) }, 1.0 - objective, 60.0).burn.unwrap();
        prop_assert!((burn - 1.0).abs() < 1e-9, "burn {burn}");
    }

    #[test]
    fn missing_total_is_null_never_zero(bad in prop::option::of(0.0f64..1e3), objective in 0.5f64..0.9999) {
        let w = error_window(&ErrorRates { bad, total: None }, 1.0 - objective, 60.0);
        prop_assert_eq!(w.burn, None);
    }

    #[test]
    fn p_q_at_the_threshold_is_burn_one((buckets, total) in histogram(), q in 0.01f64..0.999) {
        prop_assume!(total > 0.0);
        let t = histogram_quantile(q, &buckets).unwrap();
        let last_finite = buckets[buckets.len() - 2].le;
        // When the rank falls in the +Inf bucket Prometheus answers the last finite bound,
        // which is not an interpolation: skip those.
        prop_assume!(q * total <= buckets[buckets.len() - 2].rate && t < last_finite);
        let h = HistogramRates { buckets: buckets.clone(), count: Some(total), ..Default::default() };
        let burn = latency_window(&h, t, 1.0 - q, 60.0).burn.unwrap();
        prop_assert!((burn - 1.0).abs() < 1e-6, "quantile {t} gives burn {burn}");
    }

    #[test]
    fn good_is_monotone_in_the_threshold((buckets, total) in histogram(), a in 0.0f64..6.0, b in 0.0f64..6.0) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let g_lo = good_at(&buckets, lo).unwrap();
        let g_hi = good_at(&buckets, hi).unwrap();
        prop_assert!(g_lo <= g_hi + 1e-9 * total.max(1.0));
        prop_assert!(g_hi <= total + 1e-9 * total.max(1.0));
    }

    #[test]
    fn good_at_a_bound_is_that_bucket((buckets, _) in histogram(), i in 0usize..12) {
        let finite = &buckets[..buckets.len() - 1];
        let b = finite[i % finite.len()];
        prop_assert_eq!(good_at(&buckets, b.le), Some(b.rate));
    }

    #[test]
    fn higher_burns_never_stop_a_rule_firing(long in 0.0f64..50.0, short in 0.0f64..50.0, up in 0.0f64..10.0, factor in 0.1f64..20.0) {
        let rule = Rule {
            decision: Decision::CircuitBreak,
            burn: factor,
            long: PromDuration::parse("1h").unwrap(),
            short: Some(PromDuration::parse("5m").unwrap()),
            for_: None,
        };
        let burns = |l: f64, s: f64| -> WindowMap<Option<f64>> {
            [("1h".to_string(), Some(l)), ("5m".to_string(), Some(s))].into_iter().collect()
        };
        let events: WindowMap<Option<f64>> = [("1h".to_string(), Some(100.0))].into_iter().collect();
        let before = rule_fires(&rule, &burns(long, short), &events, None);
        let after = rule_fires(&rule, &burns(long + up, short + up), &events, None);
        prop_assert!(!before || after);
        prop_assert_eq!(before, long >= factor && short >= factor);
    }

    #[test]
    fn no_data_never_escalates(parts in prop::collection::vec(0usize..5, 0..8)) {
        let decisions: Vec<Decision> = parts.iter().map(|&i| Decision::ALL[i]).collect();
        let combined = Decision::combine(decisions.clone());
        let with_no_data = Decision::combine(decisions.iter().copied().chain([Decision::NoData]));
        prop_assert_eq!(combined, with_no_data);
        prop_assert!(decisions.contains(&combined) || combined == Decision::NoData);
    }

    #[test]
    fn without_for_and_hold_status_follows_firing(firing in prop::collection::vec(any::<bool>(), 1..50)) {
        let mut timers = RuleTimers::default();
        for (i, f) in firing.iter().enumerate() {
            let status = timers.step(i as i64 * 60_000, *f, 0, 0);
            prop_assert_eq!(status == RuleStatus::Fired, *f);
            prop_assert!(status != RuleStatus::Held && status != RuleStatus::Pending);
        }
    }
}
