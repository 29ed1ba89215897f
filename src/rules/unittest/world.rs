//! The synthetic worlds: the series of an error or latency SLI at a chosen bad ratio, and
//! the ratios and bucket bounds the scenarios pick.

use super::labels::series_for;
use super::series::{Series, selects};
use crate::rules::Options;
use crate::rules::expr::number;
use crate::spec::selector::Selector;
use crate::spec::{Dimension, SloSpec};

/// The series of an error SLI with bad ratio `ratio` out of `n` events per step. Without
/// bad events the bad series may be left out (`absent_bad`), as client libraries that create
/// an error counter at its first increment do.
pub(super) fn error_world(
    bad: &Selector,
    total: &Selector,
    ratio: f64,
    n: f64,
    absent_bad: bool,
) -> Option<Vec<Series>> {
    let bad_events = (ratio * n).round();
    let good = series_for(&[total], Some(bad), 0.0);
    let bad_series = series_for(&[bad, total], None, bad_events)
        .or_else(|| series_for(&[bad], None, bad_events))?;
    let counted = selects(total, &bad_series);
    let mut world = vec![bad_series];
    match good {
        Some(mut g) => {
            g.inc = if counted { n - bad_events } else { n };
            if absent_bad && bad_events == 0.0 {
                world.clear();
            }
            world.push(g);
        }
        None if counted => {}
        None => return None,
    }
    Some(world)
}

/// The series of a latency SLI: buckets at `bounds` (spelled as Rust prints them) and
/// `+Inf`, and the count; `slow` of `n` requests per step are slower than every bound, the
/// others no slower than the smallest bound.
pub(super) fn latency_world(
    histogram: &Selector,
    bounds: &[f64],
    slow: f64,
    n: f64,
) -> Option<Vec<Series>> {
    let bucket = histogram.with_suffix("_bucket")?;
    let count = histogram.with_suffix("_count")?;
    let base = series_for(&[&bucket], None, 0.0)?;
    let fast = n - slow;
    let mut world: Vec<Series> = bounds
        .iter()
        .map(|b| number(*b))
        .chain(["+Inf".to_string()])
        .map(|le| {
            let mut labels = base.labels.clone();
            labels.insert("le".into(), le.clone());
            Series {
                name: base.name.clone(),
                labels,
                inc: if le == "+Inf" { n } else { fast },
            }
        })
        .collect();
    let mut c = base.clone();
    c.name = count.metric.clone()?;
    c.inc = n;
    if !selects(&count, &c) {
        return None;
    }
    world.push(c);
    Some(world)
}

/// Bounds for the synthetic histogram of `slo`: the `--buckets` list, or three around the
/// threshold.
pub(super) fn bounds_for(slo: &SloSpec, opts: &Options) -> Vec<f64> {
    let latency = slo.latency.as_ref().expect("latency SLI");
    let t = latency.threshold_seconds();
    let name = latency.histogram.metric.as_deref().unwrap_or_default();
    match opts.buckets.for_histogram(name) {
        Some(b) => b.to_vec(),
        None => vec![t / 2.0, t, t * 2.0],
    }
}

/// The bad ratio that puts a dimension's burn between its two smallest factors.
pub(super) fn lowest_level_ratio(slo: &SloSpec, dim: Dimension) -> Option<f64> {
    let mut factors: Vec<f64> = slo.matrix(dim)?.iter().map(|r| r.burn).collect();
    factors.sort_by(f64::total_cmp);
    factors.dedup();
    let burn = match factors.as_slice() {
        [a, b, ..] => (a + b) / 2.0,
        _ => return None,
    };
    let ratio = burn * slo.budget(dim)?;
    (ratio <= 1.0).then_some(ratio)
}
