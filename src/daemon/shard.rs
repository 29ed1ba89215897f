//! `--shard i/n`: replicas split the SLOs between them without talking to each other.
//!
//! Rendezvous (highest random weight) hashing: replica `r` of `n` scores every SLO key
//! (`service/slo`) with a 64-bit hash of the key and `r`, and each SLO belongs to the
//! replica with the highest score. Every replica computes the same owner from the key
//! alone, so the `n` replicas cover every SLO exactly once; going from `n` to `n + 1`
//! replicas moves only the SLOs the new replica wins (about `1/(n + 1)` of them), and
//! none between the old replicas.
//!
//! The score is part of the user contract (which replica evaluates which SLO must not
//! change between releases), so it is spelled out and pinned by tests:
//!
//! ```text
//! h            = FNV-1a 64 of the key's UTF-8 bytes
//!                (offset basis 0xcbf29ce484222325, prime 0x100000001b3)
//! score(key,r) = SplitMix64 finalizer of h + (r + 1) * 0x9e3779b97f4a7c15 (wrapping),
//!                i.e. the (r + 1)-th output of SplitMix64 seeded with h
//! owner(key,n) = the r in 0..n with the highest score (the lowest r on a tie)
//! ```
//!
//! FNV-1a alone mixes its last bytes poorly, so the replica number goes through the
//! SplitMix64 finalizer (full avalanche) rather than being appended to the FNV input.

use std::fmt;

/// One replica's share: replica `index` of `count` (`0 <= index < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// FNV-1a, 64 bits.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The SplitMix64 output function (Steele, Lea, Flood 2014; the finalizer of `java.util.SplittableRandom`).
fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Replica `replica`'s weight for `key` (see the module documentation); `owner` hashes the
/// key once and calls `score_of_hash`, the tests pin this spelled-out form.
#[cfg(test)]
fn score(key: &str, replica: u32) -> u64 {
    score_of_hash(fnv1a64(key.as_bytes()), replica)
}

fn score_of_hash(h: u64, replica: u32) -> u64 {
    splitmix64_mix(h.wrapping_add((u64::from(replica) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)))
}

/// The replica in `0..count` that owns `key`. `count` must be at least 1.
pub(crate) fn owner(key: &str, count: u32) -> u32 {
    assert!(count > 0, "a shard count is at least 1");
    let h = fnv1a64(key.as_bytes());
    let mut best = (0u32, 0u64);
    for r in 0..count {
        let s = score_of_hash(h, r);
        if r == 0 || s > best.1 {
            best = (r, s);
        }
    }
    best.0
}

impl Shard {
    /// Parses `i/n` (e.g. `0/3`): `n >= 1` replicas, `0 <= i < n`.
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let text = text.trim();
        let Some((i, n)) = text.split_once('/') else {
            return Err(ShardError::Syntax(text.to_string()));
        };
        let number = |part: &str, what: &'static str| {
            part.trim()
                .parse::<u32>()
                .map_err(|_| ShardError::NotANumber {
                    text: text.to_string(),
                    what,
                    part: part.to_string(),
                })
        };
        let index = number(i, "replica index")?;
        let count = number(n, "replica count")?;
        if count == 0 {
            return Err(ShardError::NoReplicas(text.to_string()));
        }
        if index >= count {
            return Err(ShardError::IndexOutOfRange {
                text: text.to_string(),
                index,
                count,
            });
        }
        Ok(Shard { index, count })
    }

    /// Whether this replica evaluates the SLO `key` (`service/slo`).
    pub fn owns(&self, key: &str) -> bool {
        owner(key, self.count) == self.index
    }
}

/// Why a `--shard` value is not `i/n`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("{0:?}: expected i/n, e.g. 0/3 for the first of three replicas")]
    Syntax(String),
    #[error(
        "{text:?}: the {what} {part:?} is not a whole number (expected i/n, e.g. 0/3 for the first of three replicas)"
    )]
    NotANumber {
        text: String,
        what: &'static str,
        part: String,
    },
    #[error("{0:?}: the replica count must be at least 1")]
    NoReplicas(String),
    #[error(
        "{text:?}: replica index {index} is out of range for {count} replica(s): replicas are numbered 0 to {}",
        count - 1
    )]
    IndexOutOfRange {
        text: String,
        index: u32,
        count: u32,
    },
}

impl std::str::FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        Shard::parse(s)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(Shard::parse("0/1"), Ok(Shard { index: 0, count: 1 }));
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(Shard::parse(" 1 / 2 "), Ok(Shard { index: 1, count: 2 }));
        assert_eq!(Shard::parse("1/2").unwrap().to_string(), "1/2");
        let err = Shard::parse("3/3").unwrap_err().to_string();
        assert!(
            err.contains("out of range") && err.contains("0 to 2"),
            "{err}"
        );
        let err = Shard::parse("0/0").unwrap_err().to_string();
        assert!(err.contains("at least 1"), "{err}");
        let err = Shard::parse("a/b").unwrap_err().to_string();
        assert!(
            err.contains("not a whole number") && err.contains("\"a\""),
            "{err}"
        );
        let err = Shard::parse("1/b").unwrap_err().to_string();
        assert!(
            err.contains("replica count") && err.contains("\"b\""),
            "{err}"
        );
        assert!(
            Shard::parse("1")
                .unwrap_err()
                .to_string()
                .contains("expected i/n")
        );
        assert!(Shard::parse("-1/2").is_err());
        assert!(Shard::parse("1/2/3").is_err());
        assert!(Shard::parse("").is_err());
    }

    #[test]
    fn hash_is_the_documented_one() {
        // FNV-1a 64 reference vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        // SplitMix64 seeded with 0: first output (reference value of the algorithm).
        assert_eq!(splitmix64_mix(0x9e37_79b9_7f4a_7c15), 0xe220_a839_7b1d_cdaf);
        assert_eq!(
            score("", 0),
            splitmix64_mix(0xcbf2_9ce4_8422_2325_u64.wrapping_add(0x9e37_79b9_7f4a_7c15))
        );
    }

    /// Pinned owners: which replica evaluates which SLO must not change between releases
    /// (replicas of different versions run side by side during a rolling update). The values
    /// were cross-checked with an independent Python transcription of the module docs.
    #[test]
    fn owners_are_stable() {
        let keys = [
            "checkout/requests",
            "go-map/map-update",
            "search/queries",
            "billing/charges",
        ];
        let got: Vec<Vec<u32>> = keys
            .iter()
            .map(|k| (1..=5).map(|n| owner(k, n)).collect())
            .collect();
        assert_eq!(
            got,
            PINNED.iter().map(|v| v.to_vec()).collect::<Vec<_>>(),
            "{got:?}"
        );
    }
    const PINNED: [[u32; 5]; 4] = [
        [0, 0, 2, 2, 2],
        [0, 1, 1, 1, 4],
        [0, 0, 2, 2, 4],
        [0, 1, 2, 2, 2],
    ];

    fn keys(n: usize, seed: u64) -> Vec<String> {
        // Deterministic, SLO-like keys.
        (0..n)
            .map(|i| {
                let x = splitmix64_mix(seed.wrapping_add(i as u64));
                format!("svc-{}/slo-{}", x % 97, x >> 40)
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    #[test]
    fn every_key_has_exactly_one_owner() {
        let keys = keys(5000, 1);
        for n in 1..16u32 {
            let shards: Vec<Shard> = (0..n).map(|index| Shard { index, count: n }).collect();
            let mut per_shard = vec![0usize; n as usize];
            for k in &keys {
                let owners: Vec<u32> = shards
                    .iter()
                    .filter(|s| s.owns(k))
                    .map(|s| s.index)
                    .collect();
                assert_eq!(owners.len(), 1, "{k} at n={n}: owners {owners:?}");
                per_shard[owners[0] as usize] += 1;
            }
            // Balance: every replica gets its share within 25 %.
            let fair = keys.len() as f64 / f64::from(n);
            for (i, c) in per_shard.iter().enumerate() {
                assert!(
                    (*c as f64 - fair).abs() < 0.25 * fair,
                    "n={n} replica {i}: {c} keys, fair share {fair:.0}"
                );
            }
        }
    }

    #[test]
    fn adding_a_replica_moves_about_one_share_and_only_to_it() {
        let keys = keys(1000, 2);
        for n in 1..16u32 {
            let mut moved = 0usize;
            for k in &keys {
                let (before, after) = (owner(k, n), owner(k, n + 1));
                if before != after {
                    assert_eq!(
                        after, n,
                        "{k}: moved from {before} to {after}, not to the new replica {n}"
                    );
                    moved += 1;
                }
            }
            let share = moved as f64 / keys.len() as f64;
            let expected = 1.0 / f64::from(n + 1);
            assert!(
                share < 1.5 * expected,
                "n={n} -> {}: {moved} of {} moved ({share:.3}, expected ~{expected:.3})",
                n + 1,
                keys.len()
            );
            assert!(
                share > 0.5 * expected,
                "n={n} -> {}: {moved} of {} moved ({share:.3}, expected ~{expected:.3})",
                n + 1,
                keys.len()
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Arbitrary keys (any UTF-8), any replica count: one owner; growth moves keys only
        /// to the new replica.
        #[test]
        fn union_of_shards_is_a_partition(raw in proptest::collection::vec(".{0,40}", 1..200), n in 1u32..16) {
            for k in &raw {
                let owners = (0..n).filter(|&index| Shard { index, count: n }.owns(k)).count();
                prop_assert_eq!(owners, 1);
                let (before, after) = (owner(k, n), owner(k, n + 1));
                prop_assert!(before == after || after == n);
            }
        }
    }
}
