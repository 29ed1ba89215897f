//! A counter series that grows at its end and forgets its start: the raw history the daemon
//! keeps between cycles so that long windows are computed locally instead of re-read from the
//! backend every cycle.
//!
//! `rate_at` answers Prometheus 2.42's `rate()` at any instant the held samples cover, with
//! the floats of [`super::rate::rate_at`], but without walking the window: the window edges
//! are found by binary search and the counter resets inside it come from a list built once
//! when samples arrive. A 30-day window costs the same as a 5-minute one.

use super::Sample;
use super::rate::{extrapolate, is_stale_marker, range_seconds};

/// Samples in strictly increasing time, plus where the counter dropped.
#[derive(Debug, Clone, Default)]
pub struct LiveSeries {
    t_ms: Vec<i64>,
    value: Vec<f64>,
    /// Sequence number of `t_ms[0]`: samples keep their number when older ones are dropped.
    first_seq: u64,
    /// `(sequence number of the sample after a drop, value before the drop)`, increasing.
    /// A drop is exactly what `extrapolatedRate` adds back: `value < previous value`.
    resets: Vec<(u64, f64)>,
}

/// Bytes one held sample costs (time and value).
pub const BYTES_PER_SAMPLE: usize = 16;

impl LiveSeries {
    pub fn new() -> LiveSeries {
        LiveSeries::default()
    }

    pub fn len(&self) -> usize {
        self.t_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t_ms.is_empty()
    }

    /// Time of the newest sample held.
    pub fn last_t_ms(&self) -> Option<i64> {
        self.t_ms.last().copied()
    }

    /// Appends a sample newer than every held one. Older or equal times (a sample fetched
    /// twice across overlapping requests) and Prometheus's stale markers are ignored;
    /// returns whether the sample was taken.
    pub fn push(&mut self, t_ms: i64, value: f64) -> bool {
        if is_stale_marker(value) || self.t_ms.last().is_some_and(|&last| t_ms <= last) {
            return false;
        }
        if let Some(&prev) = self.value.last()
            && value < prev
        {
            self.resets
                .push((self.first_seq + self.t_ms.len() as u64, prev));
        }
        self.t_ms.push(t_ms);
        self.value.push(value);
        true
    }

    /// Forgets samples older than `t_ms`: no window evaluated from now on starts before it.
    pub fn forget_before(&mut self, t_ms: i64) {
        let k = self.t_ms.partition_point(|&t| t < t_ms);
        // Draining moves the tail; do it only once a good share is dead, so the cost per
        // sample stays constant.
        if k == 0 || (k < 1024 && k * 4 < self.t_ms.len()) {
            return;
        }
        self.t_ms.drain(..k);
        self.value.drain(..k);
        self.first_seq += k as u64;
        let first_seq = self.first_seq;
        // A reset counts only when the sample before it is in the window too.
        let dead = self.resets.partition_point(|&(seq, _)| seq <= first_seq);
        self.resets.drain(..dead);
    }

    /// Prometheus 2.42's `rate()` over `[t_ms - window_ms, t_ms]`; `None` where Prometheus
    /// returns nothing (fewer than two samples in the window).
    pub fn rate_at(&self, t_ms: i64, window_ms: i64) -> Option<f64> {
        if window_ms <= 0 {
            return None;
        }
        let range_start = t_ms.saturating_sub(window_ms);
        let lo = self.t_ms.partition_point(|&t| t < range_start);
        let hi = self.t_ms.partition_point(|&t| t <= t_ms);
        if hi < lo + 2 {
            return None;
        }
        let first = Sample {
            t_ms: self.t_ms[lo],
            value: self.value[lo],
        };
        let last = Sample {
            t_ms: self.t_ms[hi - 1],
            value: self.value[hi - 1],
        };
        // `last - first`, then each reset's pre-drop value in time order, as the Go loop does.
        let mut result = last.value - first.value;
        let (lo_seq, last_seq) = (self.first_seq + lo as u64, self.first_seq + hi as u64 - 1);
        let from = self.resets.partition_point(|&(seq, _)| seq <= lo_seq);
        for &(seq, prev) in &self.resets[from..] {
            if seq > last_seq {
                break;
            }
            result += prev;
        }
        Some(extrapolate(
            first,
            last,
            hi - lo,
            result,
            range_start,
            t_ms,
            range_seconds(window_ms),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::rate::{WindowBounds, rate_at};
    use proptest::prelude::*;

    fn samples(points: &[(i64, f64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|&(t_ms, value)| Sample { t_ms, value })
            .collect()
    }

    proptest! {
        /// Same floats as the reference walk, before and after forgetting old samples.
        #[test]
        fn equals_the_reference_rate(
            steps in prop::collection::vec((1i64..40_000, 0u8..10, 0.0f64..1e6), 2..300),
            at in prop::collection::vec((0i64..4_000_000, 1i64..2_000_000), 1..20),
            forget in 0i64..2_000_000,
        ) {
            let mut t = 0;
            let mut v = 0.0;
            let mut points = Vec::new();
            for (dt, kind, x) in steps {
                t += dt;
                // Mostly increasing, sometimes a reset, sometimes a NaN.
                v = match kind { 0 => x / 7.0, 1 => f64::NAN, _ => if v.is_nan() { x } else { v + x } };
                points.push((t, v));
            }
            let all = samples(&points);
            let mut live = LiveSeries::new();
            for s in &all {
                prop_assert!(live.push(s.t_ms, s.value));
            }
            for &(t, w) in &at {
                let want = rate_at(&all, t, w, WindowBounds::ClosedLeft);
                let got = live.rate_at(t, w);
                prop_assert_eq!(want.map(f64::to_bits), got.map(f64::to_bits), "t={} w={}", t, w);
            }
            live.forget_before(forget);
            for &(t, w) in &at {
                if t - w < forget {
                    continue;
                }
                let want = rate_at(&all, t, w, WindowBounds::ClosedLeft);
                prop_assert_eq!(want.map(f64::to_bits), live.rate_at(t, w).map(f64::to_bits));
            }
        }
    }

    #[test]
    fn ignores_repeats_older_samples_and_stale_markers() {
        let mut live = LiveSeries::new();
        assert!(live.push(1000, 1.0));
        assert!(!live.push(1000, 5.0), "same time twice");
        assert!(!live.push(500, 5.0), "older");
        assert!(!live.push(2000, f64::from_bits(0x7ff0_0000_0000_0002)));
        assert!(live.push(2000, 3.0));
        assert_eq!(live.len(), 2);
        assert_eq!(live.rate_at(2000, 1000), Some(2.0));
    }

    #[test]
    fn forgetting_keeps_resets_inside_later_windows() {
        let mut live = LiveSeries::new();
        for i in 0..5000i64 {
            // Drops every 1000 samples.
            live.push(i * 1000, (i % 1000) as f64);
        }
        let all: Vec<Sample> = (0..5000i64)
            .map(|i| Sample {
                t_ms: i * 1000,
                value: (i % 1000) as f64,
            })
            .collect();
        live.forget_before(2_000_000);
        assert!(live.len() < 5000);
        for t in [3_000_000, 4_200_000, 4_999_000] {
            assert_eq!(
                live.rate_at(t, 1_000_000),
                rate_at(&all, t, 1_000_000, WindowBounds::ClosedLeft)
            );
        }
    }
}
