//! The raw samples of one series as the evaluator reads them: struct-of-arrays times and
//! values, an index of counter resets and the times of Prometheus's stale markers.
//!
//! Why this shape: a backtest evaluates `rate(x[30d])` at tens of thousands of steps. With
//! the window edges found by binary search and the resets inside a window read from a list
//! built once as samples arrive, a step costs O(log n + resets in the window) instead of a
//! walk of the window. It generalizes `history::live::LiveSeries` (which drops stale
//! markers) to what PromQL needs: range selectors skip stale markers, but an instant selector
//! whose newest sample is a stale marker selects nothing, so their times are kept apart.

/// Prometheus's staleness marker (`value.StaleNaN`).
pub(crate) const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

#[inline(always)]
pub(crate) fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Samples of one series in strictly increasing time, plus where the counter dropped and
/// where the series went stale.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesSamples {
    t_ms: Vec<i64>,
    value: Vec<f64>,
    /// Sequence number of `t_ms[0]`: samples keep their number when older ones are dropped.
    first_seq: u64,
    /// `(sequence number of the sample after a drop, value before the drop)`, increasing.
    /// A drop is exactly what `extrapolatedRate` and `resets` count: `value < previous value`
    /// between consecutive non-stale samples (a NaN on either side hides it, as in Go).
    resets: Vec<(u64, f64)>,
    /// Times of stale markers, increasing; never equal to a sample time.
    stale: Vec<i64>,
    /// Newest time taken (sample or stale marker).
    last: Option<i64>,
}

impl SeriesSamples {
    pub fn new() -> SeriesSamples {
        SeriesSamples::default()
    }

    /// Builds from samples sorted by time (out-of-order or repeated times are dropped, as
    /// [`push`](Self::push) does).
    pub fn from_samples<I: IntoIterator<Item = (i64, f64)>>(samples: I) -> SeriesSamples {
        let mut s = SeriesSamples::new();
        for (t, v) in samples {
            s.push(t, v);
        }
        s
    }

    /// Number of samples held (stale markers not counted).
    pub fn len(&self) -> usize {
        self.t_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t_ms.is_empty()
    }

    /// Time of the newest sample held (stale markers not counted).
    pub fn last_t_ms(&self) -> Option<i64> {
        self.t_ms.last().copied()
    }

    /// Time of the oldest sample held (stale markers not counted).
    pub fn first_t_ms(&self) -> Option<i64> {
        self.t_ms.first().copied()
    }

    /// Appends a sample newer than everything held; a stale-marker NaN is recorded as a
    /// marker. Older or equal times (a sample fetched twice across overlapping requests) are
    /// ignored; returns whether the sample was taken.
    pub fn push(&mut self, t_ms: i64, value: f64) -> bool {
        if self.last.is_some_and(|last| t_ms <= last) {
            return false;
        }
        self.last = Some(t_ms);
        if is_stale_marker(value) {
            self.stale.push(t_ms);
            return true;
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

    /// Forgets samples (and stale markers) older than `t_ms`: no window evaluated from now on
    /// starts before it. Amortized: the arrays are compacted only once a good share is dead.
    pub fn forget_before(&mut self, t_ms: i64) {
        let ks = self.stale.partition_point(|&t| t < t_ms);
        if ks > 0 && (ks >= 1024 || ks * 4 >= self.stale.len()) {
            self.stale.drain(..ks);
        }
        let k = self.t_ms.partition_point(|&t| t < t_ms);
        if k == 0 || (k < 1024 && k * 4 < self.t_ms.len()) {
            return;
        }
        self.t_ms.drain(..k);
        self.value.drain(..k);
        self.first_seq += k as u64;
        let first_seq = self.first_seq;
        // A reset counts only when the sample before it is held too.
        let dead = self.resets.partition_point(|&(seq, _)| seq <= first_seq);
        self.resets.drain(..dead);
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.t_ms.capacity() * 8
            + self.value.capacity() * 8
            + self.resets.capacity() * std::mem::size_of::<(u64, f64)>()
            + self.stale.capacity() * 8
    }

    pub(crate) fn times(&self) -> &[i64] {
        &self.t_ms
    }

    pub(crate) fn values(&self) -> &[f64] {
        &self.value
    }

    /// Index range of the samples with `lo_excl_or_incl <= t <= hi` (`open_left`: `lo < t`).
    #[inline]
    pub(crate) fn window(&self, lo: i64, hi: i64, open_left: bool) -> (usize, usize) {
        let a = if open_left {
            self.t_ms.partition_point(|&t| t <= lo)
        } else {
            self.t_ms.partition_point(|&t| t < lo)
        };
        let b = self.t_ms.partition_point(|&t| t <= hi);
        (a, b.max(a))
    }

    /// [`Self::window`] for a window no earlier than the one `from` was found for (the next
    /// step of a range): the edges move forward a few samples from there, so a step costs
    /// O(1) instead of two binary searches; a longer jump searches the rest.
    #[inline]
    pub(crate) fn window_after(
        &self,
        lo: i64,
        hi: i64,
        open_left: bool,
        from: (usize, usize),
    ) -> (usize, usize) {
        let before_lo = |t: i64| if open_left { t <= lo } else { t < lo };
        let a = forward(&self.t_ms, from.0, before_lo);
        let b = forward(&self.t_ms, from.1.max(a), |t| t <= hi);
        (a, b.max(a))
    }

    /// The corrections (pre-drop values) of the resets strictly after sample `a` up to and
    /// including sample `b - 1`, in time order.
    #[inline]
    pub(crate) fn resets_in(&self, a: usize, b: usize) -> &[(u64, f64)] {
        if b <= a + 1 {
            return &[];
        }
        let (a_seq, last_seq) = (self.first_seq + a as u64, self.first_seq + b as u64 - 1);
        let from = self.resets.partition_point(|&(seq, _)| seq <= a_seq);
        let to = self.resets.partition_point(|&(seq, _)| seq <= last_seq);
        &self.resets[from..to.max(from)]
    }

    /// Times of the stale markers held (VictoriaMetrics's instant selector sees them inline).
    pub(crate) fn stale_times(&self) -> &[i64] {
        &self.stale
    }

    /// Whether a stale marker lies in `(after, upto]`.
    #[cfg(test)]
    pub(crate) fn stale_between(&self, after: i64, upto: i64) -> bool {
        let i = self.stale.partition_point(|&t| t <= after);
        i < self.stale.len() && self.stale[i] <= upto
    }

    /// The newest stale marker at or before `t`, if any.
    #[inline]
    pub(crate) fn last_stale_at_or_before(&self, t: i64) -> Option<i64> {
        let i = self.stale.partition_point(|&x| x <= t);
        (i > 0).then(|| self.stale[i - 1])
    }
}

/// The first index at or after `start` whose time fails `before` (times increase): a short
/// linear walk, then a binary search of what is left.
#[inline]
fn forward(times: &[i64], start: usize, before: impl Fn(i64) -> bool) -> usize {
    const WALK: usize = 8;
    let mut i = start.min(times.len());
    let end = (i + WALK).min(times.len());
    while i < end {
        if !before(times[i]) {
            return i;
        }
        i += 1;
    }
    i + times[i..].partition_point(|&t| before(t))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Walking forward from the previous window finds the edges the binary search does,
        /// whatever the step (shorter or far longer than the scrape interval).
        #[test]
        fn window_after_equals_window(
            gaps in prop::collection::vec(1i64..5_000, 0..300),
            start in -10_000i64..10_000,
            step in 1i64..40_000,
            range in 0i64..60_000,
            open in any::<bool>(),
        ) {
            let mut t = 0;
            let mut s = super::SeriesSamples::new();
            for g in gaps {
                t += g;
                s.push(t, 1.0);
            }
            let mut edges = (0, 0);
            for k in 0..200 {
                let hi = start + k * step;
                let lo = hi - range;
                edges = s.window_after(lo, hi, open, edges);
                prop_assert_eq!(edges, s.window(lo, hi, open), "k={}", k);
            }
        }
    }

    use super::*;

    fn stale() -> f64 {
        f64::from_bits(STALE_NAN_BITS)
    }

    #[test]
    fn push_orders_and_records_markers_apart() {
        let mut s = SeriesSamples::new();
        assert!(s.push(1000, 1.0));
        assert!(!s.push(1000, 2.0));
        assert!(s.push(2000, stale()));
        assert!(!s.push(1500, 2.0), "older than the marker");
        assert!(s.push(3000, 0.5));
        assert_eq!(s.len(), 2);
        assert_eq!(s.last_t_ms(), Some(3000));
        assert!(s.stale_between(1000, 2000));
        assert!(!s.stale_between(2000, 3000));
        // The drop across the marker is still a reset: range selectors skip markers.
        assert_eq!(s.resets_in(0, 2), &[(1, 1.0)]);
    }

    #[test]
    fn reset_index_equals_a_walk() {
        let vals = [5.0, 3.0, 4.0, 1.0, f64::NAN, 0.5, 2.0, 1.0, 7.0, 6.0];
        let s = SeriesSamples::from_samples(vals.iter().enumerate().map(|(i, &v)| (i as i64, v)));
        for a in 0..vals.len() {
            for b in a..=vals.len() {
                let mut want = Vec::new();
                for i in a + 1..b {
                    if vals[i] < vals[i - 1] {
                        want.push(vals[i - 1]);
                    }
                }
                let got: Vec<f64> = s.resets_in(a, b).iter().map(|r| r.1).collect();
                assert_eq!(got, want, "a={a} b={b}");
            }
        }
    }

    #[test]
    fn forgetting_keeps_the_index_consistent() {
        let mut s = SeriesSamples::new();
        for i in 0..5000i64 {
            s.push(i, (i % 100) as f64);
        }
        s.forget_before(2500);
        assert_eq!(s.first_t_ms(), Some(2500));
        let (a, b) = s.window(2500, 2999, false);
        assert_eq!(s.resets_in(a, b).len(), 4);
    }
}
