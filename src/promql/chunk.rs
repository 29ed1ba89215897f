//! The encoding of a sealed block of samples: timestamps as deltas from the block's typical
//! scrape interval, values as deltas from the block's typical increase when every value of
//! the block is an integer (counters and histogram buckets, the bulk of what SLIs read),
//! Gorilla XOR of the float bits otherwise.
//!
//! Why: the daemon keeps 30 days of raw samples per series in memory (issue 12). As two
//! `Vec`s that is 16 bytes a sample; regular scrapes make the interval constant and a
//! counter's increase nearly so, so a sample costs the bits of its jitter and noise (for
//! the demo's counters about one byte). Each run of residuals is written in one width
//! chosen per block (frame of reference, with escapes), which decodes without branches on
//! bucket prefixes. Decoding is exact: every `f64`, NaN payloads included, comes back bit
//! for bit.

/// Appends bits, most significant first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Bits pending in the low end of `acc`.
    acc: u64,
    n: u32,
}

impl BitWriter {
    #[inline]
    fn write(&mut self, value: u64, bits: u32) {
        debug_assert!(bits <= 64);
        if bits == 0 {
            return;
        }
        // Writes at most 32 bits at a time, so `acc` (holding < 8 pending bits) never overflows.
        if bits > 32 {
            self.write(value >> 32, bits - 32);
            self.write(value & 0xffff_ffff, 32);
            return;
        }
        let value = value & ((1u64 << bits) - 1);
        self.acc = (self.acc << bits) | value;
        self.n += bits;
        while self.n >= 8 {
            self.n -= 8;
            self.bytes.push((self.acc >> self.n) as u8);
        }
        self.acc &= (1u64 << self.n) - 1;
    }

    #[inline]
    fn bit(&mut self, b: bool) {
        self.write(b as u64, 1);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.bytes.push((self.acc << (8 - self.n)) as u8);
        }
        self.bytes
    }
}

/// Reads what [`BitWriter`] wrote; reading past the end yields zero bits (never happens for
/// a block this module wrote, and cannot panic for one it did not).
struct BitReader<'a> {
    bytes: &'a [u8],
    /// Next byte to load.
    pos: usize,
    acc: u64,
    /// Valid bits in the high end of `acc`.
    n: u32,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader {
            bytes,
            pos: 0,
            acc: 0,
            n: 0,
        }
    }

    /// Tops `acc` up to at least 57 valid bits. Whole words are OR-ed in past the valid
    /// bits: what lands beyond them is the stream's next bits, which the next refill ORs in
    /// again at the same place, so nothing needs masking.
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(word) = self.bytes.get(self.pos..self.pos + 8) {
            let word = u64::from_be_bytes(word.try_into().expect("8 bytes"));
            self.acc |= word >> self.n;
            let take = (63 - self.n) / 8;
            self.pos += take as usize;
            self.n += take * 8;
            return;
        }
        while self.n <= 56 {
            let b = self.bytes.get(self.pos).copied().unwrap_or(0);
            self.pos += 1;
            self.acc |= (b as u64) << (56 - self.n);
            self.n += 8;
        }
    }

    #[inline(always)]
    fn read(&mut self, bits: u32) -> u64 {
        if bits == 0 {
            return 0;
        }
        if bits > 56 {
            return self.read_long(bits);
        }
        if self.n < bits {
            self.refill();
        }
        let v = self.acc >> (64 - bits);
        self.acc <<= bits;
        self.n -= bits;
        v
    }

    #[inline(never)]
    fn read_long(&mut self, bits: u32) -> u64 {
        let hi = self.read(bits - 32);
        (hi << 32) | self.read(32)
    }

    #[inline]
    fn bit(&mut self) -> bool {
        self.read(1) == 1
    }
}

#[inline]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Writes `v` as a LEB128-style varint (7 bits a group, high bit: more follow).
fn write_varint(w: &mut BitWriter, mut v: u64) {
    loop {
        let group = v & 0x7f;
        v >>= 7;
        w.write(group | if v == 0 { 0 } else { 0x80 }, 8);
        if v == 0 {
            return;
        }
    }
}

fn read_varint(r: &mut BitReader) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let group = r.read(8);
        v |= (group & 0x7f) << shift;
        if group & 0x80 == 0 {
            break;
        }
    }
    v
}

/// The cheapest layout of a run of residuals whose zigzagged bit lengths are counted in
/// `count_by_len`: `(width, escape width, bits)`. Residuals longer than `width` escape to
/// `escape width` (the longest) behind a flag bit; with none, there are no flag bits.
fn layout(count_by_len: &[usize; 65], n: usize) -> (u32, u32, usize) {
    let longest = (0..=64).rev().find(|&l| count_by_len[l] > 0).unwrap_or(0) as u32;
    let (mut best, mut best_bits) = (longest, n * longest as usize);
    let mut wider = n;
    for width in 0..longest {
        wider -= count_by_len[width as usize];
        let bits = n * (width as usize + 1) + wider * longest as usize;
        if bits < best_bits {
            (best, best_bits) = (width, bits);
        }
    }
    (best, longest, best_bits)
}

fn count_lengths(residuals: impl Iterator<Item = i64>) -> [usize; 65] {
    let mut count_by_len = [0usize; 65];
    for r in residuals {
        count_by_len[(64 - zigzag(r).leading_zeros()) as usize] += 1;
    }
    count_by_len
}

/// A run of signed residuals, zigzagged, in one width chosen for the block: the width that
/// minimizes the block's size, where a residual too wide for it escapes to the run's widest
/// behind a flag bit. Regular scrapes and idle buckets have only zero residuals and cost no
/// bits at all; a jittery counter costs the bits of its jitter.
fn write_residuals(w: &mut BitWriter, residuals: &[i64]) {
    let n = residuals.len();
    let (width, escape, _) = layout(&count_lengths(residuals.iter().copied()), n);
    let escapes = escape > width;
    w.write(width as u64, 7);
    w.bit(escapes);
    if escapes {
        w.write(escape as u64, 7);
    }
    for &r in residuals {
        let u = zigzag(r);
        if escapes {
            let wide = 64 - u.leading_zeros() > width;
            w.bit(wide);
            w.write(u, if wide { escape } else { width });
        } else {
            w.write(u, width);
        }
    }
}

/// The layout of a run of residuals, as [`write_residuals`] wrote it.
#[derive(Clone, Copy)]
struct Widths {
    width: u32,
    /// 0: no escapes.
    escape: u32,
}

fn read_widths(r: &mut BitReader) -> Widths {
    let width = (r.read(7) as u32).min(64);
    let escape = if r.bit() {
        (r.read(7) as u32).min(64)
    } else {
        0
    };
    Widths { width, escape }
}

/// Reads the next `out.len()` residuals of a run. The common cases (no escapes, a width
/// a refill always covers) are a tight loop: decoding is what finding a window edge costs.
#[inline]
fn unpack(r: &mut BitReader, w: Widths, out: &mut [i64]) {
    match w {
        Widths {
            width: 0,
            escape: 0,
        } => out.fill(0),
        Widths { width, escape: 0 } if width <= 56 => {
            for o in out {
                if r.n < width {
                    r.refill();
                }
                let v = r.acc >> (64 - width);
                r.acc <<= width;
                r.n -= width;
                *o = unzigzag(v);
            }
        }
        Widths { width, escape: 0 } => {
            for o in out {
                *o = unzigzag(r.read(width));
            }
        }
        Widths { width, escape } => {
            for o in out {
                let bits = if r.bit() { escape } else { width };
                *o = unzigzag(r.read(bits));
            }
        }
    }
}

/// How a run of deltas is predicted; its residuals are what is written.
#[derive(Clone, Copy, PartialEq)]
enum Predictor {
    /// The run's typical delta: regular scrapes, a steady rate.
    Flat,
    /// The previous delta: a rate that wanders.
    Previous,
    /// A line through the run: a rate that drifts (traffic rising through the morning),
    /// `slope` in 1/512ths of a delta per sample.
    Line { slope: i64 },
}

/// The prediction of delta `i` of `n` around `step`.
#[inline]
fn line(step: i64, slope: i64, i: usize, n: usize) -> i64 {
    step.wrapping_add(slope.wrapping_mul(2 * i as i64 - (n as i64 - 1)) / 1024)
}

fn residuals_of(deltas: &[i64], step: i64, p: Predictor) -> Vec<i64> {
    let n = deltas.len();
    let mut prev = step;
    deltas
        .iter()
        .enumerate()
        .map(|(i, &d)| match p {
            Predictor::Flat => d.wrapping_sub(step),
            Predictor::Previous => {
                let r = d.wrapping_sub(prev);
                prev = d;
                r
            }
            Predictor::Line { slope } => d.wrapping_sub(line(step, slope, i, n)),
        })
        .collect()
}

/// The least-squares slope of the deltas against their index, in the units of [`line`].
fn fitted_slope(deltas: &[i64]) -> i64 {
    let n = deltas.len() as f64;
    if n < 3.0 {
        return 0;
    }
    let mid = (n - 1.0) / 2.0;
    let mean = deltas.iter().map(|&d| d as f64).sum::<f64>() / n;
    let (mut cov, mut var) = (0.0, 0.0);
    for (i, &d) in deltas.iter().enumerate() {
        let x = i as f64 - mid;
        cov += x * (d as f64 - mean);
        var += x * x;
    }
    let slope = (cov / var * 512.0).round();
    if slope.is_finite() && slope.abs() < 1e15 {
        slope as i64
    } else {
        0
    }
}

/// A run of deltas, written as residuals from the predictor that makes them smallest.
fn write_deltas(w: &mut BitWriter, deltas: &[i64]) {
    let step = typical(deltas.iter().copied());
    let n = deltas.len();
    let bits = |r: &[i64]| layout(&count_lengths(r.iter().copied()), n).2;
    let mut best = (Predictor::Flat, residuals_of(deltas, step, Predictor::Flat));
    let mut best_bits = bits(&best.1);
    if best_bits > 0 {
        let slope = fitted_slope(deltas);
        let mut candidates = vec![Predictor::Previous];
        if slope != 0 {
            candidates.push(Predictor::Line { slope });
        }
        for p in candidates {
            let r = residuals_of(deltas, step, p);
            // The slope's varint is part of the price.
            let extra = if let Predictor::Line { slope } = p {
                8 * (1 + (64 - zigzag(slope).leading_zeros() as usize) / 7)
            } else {
                0
            };
            let b = bits(&r) + extra;
            if b < best_bits {
                (best, best_bits) = ((p, r), b);
            }
        }
    }
    write_varint(w, zigzag(step));
    match best.0 {
        Predictor::Flat => w.write(0, 2),
        Predictor::Previous => w.write(1, 2),
        Predictor::Line { slope } => {
            w.write(2, 2);
            write_varint(w, zigzag(slope));
        }
    }
    write_residuals(w, &best.1);
}

/// Reads the deltas written by [`write_deltas`] into `out` (one per element).
fn read_deltas(r: &mut BitReader, out: &mut [i64]) {
    let n = out.len();
    let step = unzigzag(read_varint(r));
    let predictor = r.read(2);
    let slope = if predictor >= 2 {
        unzigzag(read_varint(r))
    } else {
        0
    };
    let widths = read_widths(r);
    unpack(r, widths, out);
    match predictor {
        0 => out.iter_mut().for_each(|d| *d = step.wrapping_add(*d)),
        1 => {
            let mut prev = step;
            for d in out.iter_mut() {
                prev = prev.wrapping_add(*d);
                *d = prev;
            }
        }
        _ => {
            for (i, d) in out.iter_mut().enumerate() {
                *d = line(step, slope, i, n).wrapping_add(*d);
            }
        }
    }
}

/// The typical step of a run of deltas: the rounded mean, so a steady counter's residuals
/// are its noise around its rate.
fn typical(deltas: impl ExactSizeIterator<Item = i64>) -> i64 {
    let n = deltas.len().max(1) as i128;
    let sum: i128 = deltas.map(|d| d as i128).sum();
    (sum / n) as i64
}

/// Whether every value is an integer that `f64` and `i64` both hold exactly (and not -0.0,
/// whose sign an integer would lose).
fn all_integers(values: &[f64]) -> bool {
    const LIMIT: f64 = (1u64 << 53) as f64;
    values
        .iter()
        .all(|&v| v.fract() == 0.0 && v.abs() <= LIMIT && !(v == 0.0 && v.is_sign_negative()))
}

const MODE_INT: u8 = 0;
const MODE_XOR: u8 = 1;

/// Encodes `times` (strictly increasing) and `values` (same length, at least one sample).
/// The first time is not written: the block's header holds it.
pub(crate) fn encode(times: &[i64], values: &[f64]) -> Box<[u8]> {
    debug_assert_eq!(times.len(), values.len());
    let mut w = BitWriter::default();
    let int_mode = all_integers(values);
    w.write(if int_mode { MODE_INT } else { MODE_XOR } as u64, 1);
    let deltas: Vec<i64> = times.windows(2).map(|p| p[1].wrapping_sub(p[0])).collect();
    write_deltas(&mut w, &deltas);
    if int_mode {
        let ints: Vec<i64> = values.iter().map(|&v| v as i64).collect();
        write_varint(&mut w, zigzag(ints[0]));
        let deltas: Vec<i64> = ints.windows(2).map(|p| p[1] - p[0]).collect();
        write_deltas(&mut w, &deltas);
    } else {
        let mut prev = values[0].to_bits();
        w.write(prev, 64);
        // Gorilla: a XOR within the previous leading/trailing window costs only its middle.
        let (mut lead, mut trail) = (u32::MAX, 0u32);
        for &v in &values[1..] {
            let bits = v.to_bits();
            let x = bits ^ prev;
            prev = bits;
            if x == 0 {
                w.bit(false);
                continue;
            }
            w.bit(true);
            let (l, t) = (x.leading_zeros().min(31), x.trailing_zeros());
            if lead != u32::MAX && l >= lead && t >= trail {
                w.bit(false);
                w.write(x >> trail, 64 - lead - trail);
            } else {
                (lead, trail) = (l, t);
                let sig = 64 - l - t;
                w.bit(true);
                w.write(l as u64, 5);
                // 64 significant bits are written as 0 (a XOR is never 0 bits wide).
                w.write((sig & 63) as u64, 6);
                w.write(x >> t, sig);
            }
        }
    }
    w.finish().into_boxed_slice()
}

/// Decodes `n` samples of a block whose first time is `first_t`, appending them to `times`
/// and `values`.
pub(crate) fn decode(
    bytes: &[u8],
    n: usize,
    first_t: i64,
    times: &mut Vec<i64>,
    values: &mut Vec<f64>,
) {
    if n == 0 {
        return;
    }
    let mut r = BitReader::new(bytes);
    let mode = r.read(1) as u8;
    // Deltas land where the samples go, then are summed in place.
    let start = times.len();
    times.resize(start + n, 0);
    times[start] = first_t;
    read_deltas(&mut r, &mut times[start + 1..]);
    let mut t = first_t;
    for x in &mut times[start + 1..] {
        t = t.wrapping_add(*x);
        *x = t;
    }
    if mode == MODE_INT {
        let mut v = unzigzag(read_varint(&mut r));
        values.push(v as f64);
        // Sealed blocks fit the stack buffer; only longer runs (tests) allocate.
        let (mut stack, mut heap) = ([0i64; 256], Vec::new());
        let deltas: &mut [i64] = if n - 1 <= stack.len() {
            &mut stack[..n - 1]
        } else {
            heap.resize(n - 1, 0);
            &mut heap
        };
        read_deltas(&mut r, deltas);
        for &d in deltas.iter() {
            v = v.wrapping_add(d);
            values.push(v as f64);
        }
    } else {
        let mut prev = r.read(64);
        values.push(f64::from_bits(prev));
        let (mut lead, mut trail) = (0u32, 0u32);
        for _ in 1..n {
            if r.bit() {
                if r.bit() {
                    lead = r.read(5) as u32;
                    let mut sig = r.read(6) as u32;
                    if sig == 0 {
                        sig = 64;
                    }
                    trail = 64u32.saturating_sub(lead + sig);
                }
                let sig = 64u32.saturating_sub(lead + trail);
                prev ^= r.read(sig) << trail;
            }
            values.push(f64::from_bits(prev));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(times: &[i64], values: &[f64]) -> usize {
        let bytes = encode(times, values);
        let (mut t, mut v) = (Vec::new(), Vec::new());
        decode(&bytes, times.len(), times[0], &mut t, &mut v);
        assert_eq!(t, times);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&v), bits(values));
        bytes.len()
    }

    proptest! {
        #[test]
        fn floats_and_times_come_back_bit_for_bit(
            gaps in prop::collection::vec(1i64..100_000, 1..300),
            start in -1_000_000_000_000i64..1_000_000_000_000,
            raw in prop::collection::vec(any::<u64>(), 300),
        ) {
            let mut t = start;
            let times: Vec<i64> = gaps.iter().map(|g| { t += g; t }).collect();
            let values: Vec<f64> = raw[..times.len()].iter().map(|&b| f64::from_bits(b)).collect();
            roundtrip(&times, &values);
        }

        #[test]
        fn integer_counters_come_back(
            incs in prop::collection::vec(0i64..1_000_000, 1..300),
            jitter in prop::collection::vec(-50i64..50, 300),
            start in 0i64..(1 << 52),
        ) {
            let mut v = start;
            let values: Vec<f64> = incs.iter().map(|d| { v = (v + d) % (1 << 53); v as f64 }).collect();
            let times: Vec<i64> = (0..values.len() as i64).map(|i| i * 15_000 + jitter[i as usize]).collect();
            roundtrip(&times, &values);
        }
    }

    #[test]
    fn edge_values_round_trip() {
        let values = [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            (1u64 << 53) as f64,
            -((1u64 << 53) as f64),
            1e300,
            5e-324,
        ];
        let times: Vec<i64> = (0..values.len() as i64).map(|i| i * 1000).collect();
        roundtrip(&times, &values);
        roundtrip(&[i64::MIN, 0, i64::MAX], &[1.0, 2.0, 3.0]);
        roundtrip(&[7], &[0.5]);
    }

    #[test]
    fn regular_scrapes_of_a_counter_take_under_two_bytes_a_sample() {
        // 15 s scrapes with a few ms of jitter, a counter at ~200/s with noise.
        let mut rng = 12345u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let (mut t, mut v) = (Vec::new(), Vec::new());
        let mut c = 1e6;
        for i in 0..256i64 {
            t.push(1_700_000_000_000 + i * 15_000 + (next() % 5) as i64);
            c += 3000.0 + (next() % 100) as f64;
            v.push(c);
        }
        let bytes = roundtrip(&t, &v);
        assert!(bytes * 8 < 256 * 16, "{bytes} bytes for 256 samples");
    }
}
