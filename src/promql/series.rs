//! The raw samples of one series as the evaluator reads them: times and values in encoded
//! blocks (plus the newest samples as they came), an index of counter resets and the times
//! of Prometheus's stale markers.
//!
//! Why this shape: a backtest evaluates `rate(x[30d])` at tens of thousands of steps, and the
//! daemon holds 30 days of raw samples per series. With the window edges found by binary
//! search (over block bounds, then inside one decoded block) and the resets inside a window
//! read from a list built once as samples arrive, a step costs O(log n + resets in the
//! window) instead of a walk of the window, and a sample held costs about 1.5 bytes instead
//! of 16 (`chunk`). Range selectors skip stale markers, but an instant selector whose newest
//! sample is a stale marker selects nothing, so their times are kept apart.

/// Prometheus's staleness marker (`value.StaleNaN`).
pub(crate) const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

#[inline(always)]
pub(crate) fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Samples per sealed block. Every block holds exactly this many, so block `k` starts at
/// sample `k * BLOCK_LEN`. Longer blocks shave the per-block header (about 35 bytes) off
/// each sample; shorter ones make a window edge cheaper to find (an edge decodes one
/// block) and the unsealed head smaller.
const BLOCK_LEN: usize = 240;

/// Where a sealed run of samples lies in the series' encoded bytes ([`chunk`](super::chunk)).
#[derive(Debug, Clone, PartialEq)]
struct Block {
    first_t: i64,
    last_t: i64,
    /// End of its bytes in `SeriesSamples::bytes` (it starts where the previous one ends).
    end: u32,
}

/// Samples of one series in strictly increasing time, plus where the counter dropped and
/// where the series went stale. The newest samples are held as they came (`head`); every
/// [`BLOCK_LEN`] of them are sealed into an encoded block of about 1.5 bytes a sample for
/// regular scrapes. Samples are read through a [`Reader`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesSamples {
    blocks: Vec<Block>,
    /// Every block's encoding, back to back (one allocation, not one per block).
    bytes: Vec<u8>,
    head_t: Vec<i64>,
    head_v: Vec<f64>,
    /// Sequence number of the oldest sample held: samples keep their number when older ones
    /// are dropped, so the reset index stays valid.
    first_seq: u64,
    /// Value of the newest sample, for finding resets once it is sealed away.
    last_value: Option<f64>,
    /// `(sequence number of the sample after a drop, value before the drop)`, increasing.
    /// A drop is exactly what `extrapolatedRate` and `resets` count: `value < previous value`
    /// between consecutive non-stale samples (a NaN on either side hides it, as in Go).
    resets: Vec<(u64, f64)>,
    /// Times of stale markers, increasing; never equal to a sample time.
    stale: Vec<i64>,
    /// Newest time taken (sample or stale marker).
    last: Option<i64>,
    /// Whether full heads are sealed into blocks ([`SeriesSamples::compact`]).
    compact: bool,
}

impl SeriesSamples {
    /// Samples held as they come, 16 bytes each: the fastest to read, for inputs that live
    /// as long as one backtest.
    pub fn new() -> SeriesSamples {
        SeriesSamples::default()
    }

    /// Samples sealed into encoded blocks as they come (about 1–1.6 bytes a sample for
    /// counters and buckets), for the daemon's history, which lives for the SLO's period.
    /// Reading it costs decoding the blocks a window's edges fall in.
    pub fn compact() -> SeriesSamples {
        SeriesSamples {
            compact: true,
            ..SeriesSamples::default()
        }
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
        self.sealed() + self.head_t.len()
    }

    /// Samples held in `blocks`.
    #[inline]
    fn sealed(&self) -> usize {
        self.blocks.len() * BLOCK_LEN
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Time of the newest sample held (stale markers not counted).
    pub fn last_t_ms(&self) -> Option<i64> {
        self.head_t
            .last()
            .copied()
            .or_else(|| self.blocks.last().map(|b| b.last_t))
    }

    /// Time of the oldest sample held (stale markers not counted).
    pub fn first_t_ms(&self) -> Option<i64> {
        self.blocks
            .first()
            .map(|b| b.first_t)
            .or_else(|| self.head_t.first().copied())
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
        if let Some(prev) = self.last_value
            && value < prev
        {
            self.resets.push((self.first_seq + self.len() as u64, prev));
        }
        self.last_value = Some(value);
        self.head_t.push(t_ms);
        self.head_v.push(value);
        if self.compact && self.head_t.len() == BLOCK_LEN {
            self.seal();
        }
        true
    }

    fn seal(&mut self) {
        let (Some(&first_t), Some(&last_t)) = (self.head_t.first(), self.head_t.last()) else {
            return;
        };
        let encoded = super::chunk::encode(&self.head_t, &self.head_v);
        // Grow by an eighth, not double: the capacity is what the daemon's budget counts.
        let need = self.bytes.len() + encoded.len();
        if need > self.bytes.capacity() {
            self.bytes
                .reserve_exact(encoded.len() + self.bytes.len() / 8);
        }
        self.bytes.extend_from_slice(&encoded);
        self.blocks.push(Block {
            first_t,
            last_t,
            end: u32::try_from(self.bytes.len()).expect("a series' blocks stay under 4 GB"),
        });
        // Freed, not cleared: a head grows by doubling, so an idle or young series holds
        // little more than its samples instead of a whole block's capacity.
        self.head_t = Vec::new();
        self.head_v = Vec::new();
    }

    /// Forgets samples (and stale markers) older than `t_ms`: no window evaluated from now on
    /// starts before it. Whole blocks go; a block holding both older and newer samples stays
    /// (a window finds its edge by time, so the extra samples are never read).
    pub fn forget_before(&mut self, t_ms: i64) {
        let ks = self.stale.partition_point(|&t| t < t_ms);
        if ks > 0 && (ks >= 1024 || ks * 4 >= self.stale.len()) {
            self.stale.drain(..ks);
        }
        let dead_blocks = self.blocks.partition_point(|b| b.last_t < t_ms);
        if dead_blocks > 0 {
            let cut = self.blocks[dead_blocks - 1].end;
            self.blocks.drain(..dead_blocks);
            self.bytes.drain(..cut as usize);
            for b in &mut self.blocks {
                b.end -= cut;
            }
            if self.bytes.capacity() > self.bytes.len() + self.bytes.len() / 4 + 4096 {
                self.bytes
                    .shrink_to(self.bytes.len() + self.bytes.len() / 8);
            }
            self.first_seq += (dead_blocks * BLOCK_LEN) as u64;
        }
        if self.blocks.is_empty() {
            let k = self.head_t.partition_point(|&t| t < t_ms);
            if k > 0 && (k >= 1024 || k * 4 >= self.head_t.len()) {
                self.head_t.drain(..k);
                self.head_v.drain(..k);
                self.first_seq += k as u64;
            }
        }
        // A reset counts only when the sample before it is held too.
        let first_seq = self.first_seq;
        let dead = self.resets.partition_point(|&(seq, _)| seq <= first_seq);
        self.resets.drain(..dead);
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<Block>()
            + self.bytes.capacity()
            + self.head_t.capacity() * 8
            + self.head_v.capacity() * 8
            + self.resets.capacity() * std::mem::size_of::<(u64, f64)>()
            + self.stale.capacity() * 8
    }

    /// Every sample held, oldest first.
    pub fn to_samples(&self) -> Vec<(i64, f64)> {
        let (mut times, mut values) = (Vec::new(), Vec::new());
        self.reader().fill(0, self.len(), &mut times, &mut values);
        times.into_iter().zip(values).collect()
    }

    /// A reader of the samples (it caches the blocks it decodes).
    pub(crate) fn reader(&self) -> Reader<'_> {
        Reader {
            s: self,
            cache: [Decoded::empty(), Decoded::empty(), Decoded::empty()],
            clock: 0,
        }
    }

    /// Index of the first sample of block `k`.
    #[inline]
    fn block_start(&self, k: usize) -> usize {
        k * BLOCK_LEN
    }

    /// The encoded bytes of block `k`.
    #[inline]
    fn block_bytes(&self, k: usize) -> &[u8] {
        let start = if k == 0 { 0 } else { self.blocks[k - 1].end };
        &self.bytes[start as usize..self.blocks[k].end as usize]
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

/// One decoded block.
#[derive(Debug)]
struct Decoded {
    /// Which block (`usize::MAX`: none yet).
    block: usize,
    /// When it was last used, in `Reader::clock` ticks.
    used: u64,
    t: Vec<i64>,
    v: Vec<f64>,
}

impl Decoded {
    fn empty() -> Decoded {
        Decoded {
            block: usize::MAX,
            used: 0,
            t: Vec::new(),
            v: Vec::new(),
        }
    }
}

/// Reads a [`SeriesSamples`] by sample index (0 = the oldest held). Keeps the last two
/// blocks it decoded: the steps of a range evaluation move both edges of a window forward
/// a little at a time, so each block is decoded about once per edge.
pub(crate) struct Reader<'a> {
    s: &'a SeriesSamples,
    /// Three: both edges of a window, and the block before the right edge (whose last
    /// sample is the window's when the edge sits on a block's first sample).
    cache: [Decoded; 3],
    clock: u64,
}

impl<'a> Reader<'a> {
    pub(crate) fn series(&self) -> &'a SeriesSamples {
        self.s
    }

    /// The cache slot holding block `k`, decoding it if needed into the least recently
    /// used slot (the other edge's block stays).
    #[inline]
    fn slot(&mut self, k: usize) -> usize {
        self.clock += 1;
        if let Some(i) = self.cache.iter().position(|d| d.block == k) {
            self.cache[i].used = self.clock;
            return i;
        }
        self.decode_into_lru(k)
    }

    #[cold]
    fn decode_into_lru(&mut self, k: usize) -> usize {
        let i = (0..self.cache.len())
            .min_by_key(|&i| self.cache[i].used)
            .unwrap_or(0);
        self.cache[i].used = self.clock;
        let (s, d) = (self.s, &mut self.cache[i]);
        d.t.clear();
        d.v.clear();
        super::chunk::decode(
            s.block_bytes(k),
            BLOCK_LEN,
            s.blocks[k].first_t,
            &mut d.t,
            &mut d.v,
        );
        d.block = k;
        i
    }

    /// The number of samples whose times satisfy `before` (which holds for a prefix).
    #[inline]
    pub(crate) fn partition_point(&mut self, before: impl Fn(i64) -> bool) -> usize {
        let s = self.s;
        let k = s.blocks.partition_point(|b| before(b.last_t));
        if k == s.blocks.len() {
            return s.sealed() + s.head_t.partition_point(|&t| before(t));
        }
        if !before(s.blocks[k].first_t) {
            return s.block_start(k);
        }
        let i = self.slot(k);
        s.block_start(k) + self.cache[i].t.partition_point(|&t| before(t))
    }

    /// Index range of the samples with `lo <= t <= hi` (`open_left`: `lo < t`).
    #[inline]
    pub(crate) fn window(&mut self, lo: i64, hi: i64, open_left: bool) -> (usize, usize) {
        let a = if open_left {
            self.partition_point(|t| t <= lo)
        } else {
            self.partition_point(|t| t < lo)
        };
        let b = self.partition_point(|t| t <= hi);
        (a, b.max(a))
    }

    /// [`Self::window`] for a window no earlier than the one `from` was found for (the next
    /// step of a range): each edge moves forward from there, a few samples inside a block
    /// already decoded, so a step costs O(1) instead of two binary searches.
    #[inline]
    pub(crate) fn window_after(
        &mut self,
        lo: i64,
        hi: i64,
        open_left: bool,
        from: (usize, usize),
    ) -> (usize, usize) {
        let a = if open_left {
            self.advance(from.0, |t| t <= lo)
        } else {
            self.advance(from.0, |t| t < lo)
        };
        let b = self.advance(from.1.max(a), |t| t <= hi);
        (a, b.max(a))
    }

    /// The first index at or after `start` whose time fails `before` (which holds for a
    /// prefix of the samples).
    #[inline]
    fn advance(&mut self, start: usize, before: impl Fn(i64) -> bool) -> usize {
        let s = self.s;
        let sealed = s.sealed();
        if start >= sealed {
            let j = (start - sealed).min(s.head_t.len());
            return sealed + forward(&s.head_t, j, before);
        }
        let k = start / BLOCK_LEN;
        if !before(s.blocks[k].last_t) {
            let slot = self.slot(k);
            let base = s.block_start(k);
            return base + forward(&self.cache[slot].t, start - base, before);
        }
        // The edge left this block: search the blocks after it.
        let next = k + 1 + s.blocks[k + 1..].partition_point(|b| before(b.last_t));
        if next == s.blocks.len() {
            return sealed + s.head_t.partition_point(|&t| before(t));
        }
        let slot = self.slot(next);
        s.block_start(next) + self.cache[slot].t.partition_point(|&t| before(t))
    }

    /// Sample `i` (`i < len`).
    #[inline]
    pub(crate) fn sample(&mut self, i: usize) -> (i64, f64) {
        let s = self.s;
        if i >= s.sealed() {
            let j = i - s.sealed();
            return (s.head_t[j], s.head_v[j]);
        }
        let k = i / BLOCK_LEN;
        let start = s.block_start(k);
        let slot = self.slot(k);
        let d = &self.cache[slot];
        (d.t[i - start], d.v[i - start])
    }

    /// Samples `[a, b)` into `times` and `values` (cleared first).
    pub(crate) fn fill(&mut self, a: usize, b: usize, times: &mut Vec<i64>, values: &mut Vec<f64>) {
        times.clear();
        values.clear();
        let s = self.s;
        let sealed = s.sealed();
        let mut i = a;
        while i < b.min(sealed) {
            let k = i / BLOCK_LEN;
            let (start, len) = (s.block_start(k), BLOCK_LEN);
            let (from, to) = (i - start, (b - start).min(len));
            if from == 0 && to == len && !self.cache.iter().any(|d| d.block == k) {
                // A whole block nobody else needs: decode straight into the output.
                super::chunk::decode(s.block_bytes(k), len, s.blocks[k].first_t, times, values);
            } else {
                let slot = self.slot(k);
                let d = &self.cache[slot];
                times.extend_from_slice(&d.t[from..to]);
                values.extend_from_slice(&d.v[from..to]);
            }
            i = start + to;
        }
        if b > sealed {
            let (from, to) = (a.max(sealed) - sealed, b - sealed);
            times.extend_from_slice(&s.head_t[from..to]);
            values.extend_from_slice(&s.head_v[from..to]);
        }
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
        /// Across block bounds, whatever the step (shorter or far longer than the scrape
        /// interval), the edges are those of a binary search of the plain times.
        #[test]
        fn window_edges_equal_a_search_of_the_times(
            gaps in prop::collection::vec(1i64..5_000, 0..1000),
            start in -10_000i64..10_000,
            step in 1i64..40_000,
            range in 0i64..60_000,
            open in any::<bool>(),
            compact in any::<bool>(),
        ) {
            let mut t = 0;
            let mut s = if compact { super::SeriesSamples::compact() } else { super::SeriesSamples::new() };
            for g in gaps {
                t += g;
                s.push(t, 1.0);
            }
            let times: Vec<i64> = {
                let mut r = s.reader();
                (0..s.len()).map(|i| r.sample(i).0).collect()
            };
            let mut r = s.reader();
            let mut edges = (0, 0);
            for k in 0..200 {
                let hi = start + k * step;
                let lo = hi - range;
                let a = if open { times.partition_point(|&t| t <= lo) } else { times.partition_point(|&t| t < lo) };
                let b = times.partition_point(|&t| t <= hi).max(a);
                prop_assert_eq!(r.window(lo, hi, open), (a, b), "k={}", k);
                edges = r.window_after(lo, hi, open, edges);
                prop_assert_eq!(edges, (a, b), "k={} walking forward", k);
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

    proptest! {
        /// Whatever is pushed and forgotten, reading by index gives the samples a plain
        /// list kept the same way holds, and a regular counter stays under 2 bytes a sample.
        #[test]
        fn reads_equal_a_plain_list(
            steps in prop::collection::vec((1i64..30_000, -5.0f64..100.0, any::<bool>()), 1..2000),
            forget in prop::collection::vec(0usize..2000, 0..4),
            compact in any::<bool>(),
        ) {
            let mut s = if compact { SeriesSamples::compact() } else { SeriesSamples::new() };
            let mut plain: Vec<(i64, f64)> = Vec::new();
            let mut t = 0;
            for (i, &(gap, inc, int)) in steps.iter().enumerate() {
                t += gap;
                let base = plain.last().map_or(0.0, |p| p.1);
                let v = if int { (base + inc).round() } else { base + inc };
                s.push(t, v);
                plain.push((t, v));
                if forget.contains(&i) {
                    s.forget_before(t - 100_000);
                    let first = s.first_t_ms().unwrap();
                    let keep_from = plain.iter().find(|p| p.0 >= t - 100_000).unwrap().0;
                    prop_assert!(first <= keep_from);
                    plain.retain(|p| p.0 >= first);
                }
            }
            prop_assert_eq!(s.len(), plain.len());
            let mut r = s.reader();
            for (i, &p) in plain.iter().enumerate() {
                prop_assert_eq!(r.sample(i), p);
            }
            let (mut ts, mut vs) = (Vec::new(), Vec::new());
            let (a, b) = (plain.len() / 3, plain.len());
            r.fill(a, b, &mut ts, &mut vs);
            let want: Vec<(i64, f64)> = plain[a..b].to_vec();
            let got: Vec<(i64, f64)> = ts.into_iter().zip(vs).collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn regular_counter_scrapes_take_under_two_bytes_a_sample() {
        let mut s = SeriesSamples::compact();
        let mut v = 0.0;
        for i in 0..172_800i64 {
            // 30 days at 15 s, ±3 ms jitter, ~40 requests/s with noise.
            v += 600.0 + ((i * 7919) % 61) as f64;
            s.push(1_700_000_000_000 + i * 15_000 + (i * 31) % 7 - 3, v);
        }
        let per_sample = s.heap_bytes() as f64 / s.len() as f64;
        assert!(per_sample <= 2.0, "{per_sample} bytes a sample");
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
        let mut s = SeriesSamples::compact();
        for i in 0..5000i64 {
            s.push(i, (i % 100) as f64);
        }
        s.forget_before(2500);
        // Whole blocks go: the oldest sample held is the first of 2500's block.
        assert_eq!(s.first_t_ms(), Some(2400));
        let (a, b) = s.reader().window(2500, 2999, false);
        assert_eq!(s.resets_in(a, b).len(), 4);
        assert_eq!(s.reader().sample(a), (2500, 0.0));
    }
}
