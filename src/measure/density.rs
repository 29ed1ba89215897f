//! How many samples a raw-sample fetch will bring, day by day, asked of the backend before
//! the fetch, and the requests planned from it.
//!
//! Why: a fetch reaching back a long way (a 365-day budget period) over a history that holds
//! a few days would otherwise cost a request per day, most of them empty, while one dense
//! day of many series can be a response too large to hold. One `query_range` of
//! `count_over_time(SEL[1d])` at a 1-day step (Prometheus and VictoriaMetrics alike) says
//! where the samples are: empty days cost nothing, sparse days share a request, and a dense
//! day is split into shorter spans, each request aiming at [`TARGET_SAMPLES_PER_REQUEST`].
//! The same counts, per member selector of a fetch group, tell the daemon what its history
//! would hold under another plan (`raw_store`'s memory budget) without fetching it.

use super::fetch_plan::{equal_matchers, merged_selector};
use crate::backend::client::{RangeSeries, Span};
use crate::spec::selector::Selector;
use std::collections::{BTreeMap, HashMap};

pub(crate) const DAY_MS: i64 = 24 * 3600 * 1000;

/// Samples one raw-sample request aims at: about 7 MB of JSON and 4 MB parsed, so a seed
/// never holds more than that of a response at once.
pub(crate) const TARGET_SAMPLES_PER_REQUEST: u64 = 250_000;

/// The label telling the probe's parts apart (not `burnrate_key`: these are no dimension's
/// windows, and whatever reads those tags must not take them for some).
const PART_LABEL: &str = "burnrate_part";

/// `(end of a day-long bucket, samples in it)`, oldest first; empty buckets are absent.
pub(crate) type DayCounts = Vec<(i64, u64)>;

/// What one selector holds over the probe's reach.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SelectorCounts {
    pub(crate) samples: DayCounts,
    /// Series present at a bucket end, the most of any: a held series costs bytes of its
    /// own besides its samples' (the unsealed head of the compact encoding).
    pub(crate) series: u64,
}

/// The probe's evaluation instants: bucket ends `to`, `to - 1d`, ... back to the first
/// bucket that reaches `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    pub(crate) first_end_ms: i64,
    pub(crate) to_ms: i64,
}

impl Grid {
    pub(crate) fn new(from_ms: i64, to_ms: i64) -> Grid {
        let buckets = ((to_ms - from_ms).max(1) + DAY_MS - 1) / DAY_MS;
        Grid {
            first_end_ms: to_ms - (buckets - 1) * DAY_MS,
            to_ms,
        }
    }

    fn holds(&self, t_ms: i64) -> bool {
        (self.first_end_ms..=self.to_ms).contains(&t_ms) && (self.to_ms - t_ms) % DAY_MS == 0
    }
}

/// The density probe of one fetch group's members (selectors that differ only in their `=`
/// values, as `fetch_plan` merges them): one part per metric name, each counting the samples
/// of its members' merged selector summed by the labels the members tell apart with `=`,
/// and the series present at each bucket end (an instant selector: cheap). The metric name
/// cannot be a `by` label (`count_over_time` drops it), hence the parts.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub(crate) query: String,
    by: Vec<String>,
    /// (part, values of the `by` labels) to the member it counts.
    members: HashMap<(usize, Vec<String>), usize>,
    len: usize,
    parts: usize,
}

/// Day counts of a whole fetch and of each of its members.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ProbeCounts {
    pub(crate) total: DayCounts,
    pub(crate) members: Vec<SelectorCounts>,
}

impl Probe {
    /// The probe of `members` (not empty; one fetch group's, or a single selector).
    pub(crate) fn new(members: &[&Selector]) -> Probe {
        let mut by: Vec<String> = equal_matchers(members[0])
            .into_iter()
            .map(|(label, _)| label)
            .filter(|label| label != "__name__")
            .collect();
        by.dedup();
        let mut parts: Vec<(Option<&str>, Vec<&Selector>)> = Vec::new();
        let mut lookup = HashMap::new();
        for (i, m) in members.iter().enumerate() {
            let part = match parts
                .iter()
                .position(|(name, _)| *name == m.metric.as_deref())
            {
                Some(p) => p,
                None => {
                    parts.push((m.metric.as_deref(), Vec::new()));
                    parts.len() - 1
                }
            };
            parts[part].1.push(m);
            let equal = equal_matchers(m);
            let values = by
                .iter()
                .map(|label| {
                    equal
                        .iter()
                        .find(|(l, _)| l == label)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect();
            lookup.insert((part, values), i);
        }
        let query = parts
            .iter()
            .enumerate()
            .map(|(p, (_, sels))| {
                let selector = match sels.as_slice() {
                    [one] => one.to_promql(),
                    many => merged_selector(many.iter().copied()).to_promql(),
                };
                let by = by.join(", ");
                let tagged = |expr: String, what: &str| {
                    format!("label_replace({expr}, \"{PART_LABEL}\", \"{what}/{p}\", \"\", \"\")")
                };
                let samples = format!("sum by ({by}) (count_over_time({selector}[1d]))");
                let series = format!("count by ({by}) ({selector})");
                format!(
                    "{} or {}",
                    tagged(samples, "samples"),
                    tagged(series, "series")
                )
            })
            .collect::<Vec<_>>()
            .join(" or ");
        Probe {
            query,
            by,
            members: lookup,
            len: members.len(),
            parts: parts.len(),
        }
    }

    /// The counts in the probe's answer over `grid`; `None` when the answer is not one the
    /// probe asked for (a point off the grid, an unknown part), so nothing is skipped on
    /// the strength of a misread answer.
    pub(crate) fn read(&self, grid: &Grid, series: &[RangeSeries]) -> Option<ProbeCounts> {
        let mut total: BTreeMap<i64, u64> = BTreeMap::new();
        let mut members: Vec<BTreeMap<i64, u64>> = vec![BTreeMap::new(); self.len];
        let mut series_of = vec![0u64; self.len];
        for s in series {
            let (what, part) = s.labels.get(PART_LABEL)?.split_once('/')?;
            let part: usize = part.parse().ok()?;
            if part >= self.parts {
                return None;
            }
            let values: Vec<String> = self
                .by
                .iter()
                .map(|l| s.labels.get(l).cloned().unwrap_or_default())
                .collect();
            let member = self.members.get(&(part, values)).copied();
            for &(t, n) in &s.points {
                // NaN is not a count either.
                if !grid.holds(t) || n.is_nan() || n < 0.0 {
                    return None;
                }
                let n = n.round() as u64;
                match what {
                    "samples" => {
                        *total.entry(t).or_default() += n;
                        if let Some(m) = member {
                            *members[m].entry(t).or_default() += n;
                        }
                    }
                    "series" => {
                        if let Some(m) = member {
                            series_of[m] = series_of[m].max(n);
                        }
                    }
                    _ => return None,
                }
            }
        }
        let listed = |m: BTreeMap<i64, u64>| m.into_iter().filter(|&(_, n)| n > 0).collect();
        Some(ProbeCounts {
            total: listed(total),
            members: members
                .into_iter()
                .zip(series_of)
                .map(|(samples, series)| SelectorCounts {
                    samples: listed(samples),
                    series,
                })
                .collect(),
        })
    }
}

/// Samples after `since_ms`: the buckets after it, and the share of the bucket it falls in
/// that it covers (its samples taken as evenly spread).
pub(crate) fn samples_since(counts: &DayCounts, since_ms: i64) -> f64 {
    counts
        .iter()
        .filter(|&&(end, _)| end > since_ms)
        .map(|&(end, n)| n as f64 * ((end - since_ms) as f64 / DAY_MS as f64).min(1.0))
        .sum()
}

/// The requests fetching `[from, to]` when `total` counts its samples per day (a probe over
/// `Grid::new(from, to)`): days without samples are skipped, neighbours share a request
/// while they hold at most `target` samples together, and a day holding more is split into
/// equal shorter spans. The newest day is always fetched: it is where samples still arrive
/// and where a series may hold nothing but a stale marker.
pub(crate) fn planned_spans(from_ms: i64, to_ms: i64, total: &DayCounts, target: u64) -> Vec<Span> {
    let target = target.max(1);
    let mut buckets: Vec<(i64, i64, u64)> = total
        .iter()
        .filter(|&&(end, n)| n > 0 && end > from_ms && end <= to_ms)
        .map(|&(end, n)| ((end - DAY_MS).max(from_ms), end, n))
        .collect();
    if buckets.last().is_none_or(|b| b.1 != to_ms) {
        buckets.push(((to_ms - DAY_MS).max(from_ms), to_ms, 0));
    }
    let span = |(start_ms, end_ms, _): (i64, i64, u64)| Span { start_ms, end_ms };
    let mut out = Vec::new();
    let mut open: Option<(i64, i64, u64)> = None;
    for (start, end, n) in buckets {
        if n > target {
            out.extend(open.take().map(span));
            let parts = n.div_ceil(target) as i64;
            let len = end - start;
            out.extend((0..parts).map(|k| Span {
                start_ms: start + len * k / parts,
                end_ms: start + len * (k + 1) / parts,
            }));
            continue;
        }
        match &mut open {
            Some(o) if o.2 + n <= target => {
                o.1 = end;
                o.2 += n;
            }
            _ => {
                out.extend(open.take().map(span));
                open = Some((start, end, n));
            }
        }
    }
    out.extend(open.map(span));
    out
}

/// The requests fetching `[from, to]` without knowing where the samples are: one a day,
/// aligned on `to`, oldest first.
pub(crate) fn fixed_spans(from_ms: i64, to_ms: i64) -> Vec<Span> {
    let mut out = Vec::new();
    let mut end = to_ms;
    loop {
        let len = DAY_MS.min(end - from_ms).max(1);
        out.push(Span {
            start_ms: end - len,
            end_ms: end,
        });
        if end - len <= from_ms {
            break;
        }
        end -= len;
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::selector::parse_selector;

    const T: i64 = 1_800_000_000_000;

    fn spans(list: &[Span]) -> Vec<(i64, i64)> {
        list.iter()
            .map(|s| ((s.start_ms - T) / 3_600_000, (s.end_ms - T) / 3_600_000))
            .collect()
    }

    #[test]
    fn fixed_spans_cover_the_range_by_day_oldest_first() {
        let from = T - 2 * DAY_MS - 5 * 3_600_000;
        assert_eq!(
            spans(&fixed_spans(from, T)),
            [(-53, -48), (-48, -24), (-24, 0)]
        );
        assert_eq!(
            fixed_spans(T, T),
            [Span {
                start_ms: T - 1,
                end_ms: T
            }]
        );
    }

    #[test]
    fn empty_days_cost_nothing_sparse_days_share_and_dense_days_split() {
        let from = T - 365 * DAY_MS;
        let grid = Grid::new(from, T);
        assert_eq!(grid.first_end_ms, T - 364 * DAY_MS);
        let day = |k: i64| T - k * DAY_MS;
        // Ten days ago 30 samples, then nothing, then 100, 100 and 900 in the last three.
        let total = vec![(day(10), 30), (day(2), 100), (day(1), 100), (day(0), 900)];
        let planned = planned_spans(from, T, &total, 300);
        assert_eq!(
            spans(&planned),
            // Days 10 to 1 in one request (230 samples, the empty days in between cost
            // nothing), the last day in three.
            [(-264, -24), (-24, -16), (-16, -8), (-8, 0)]
        );
        // Nothing anywhere: the newest day alone.
        assert_eq!(spans(&planned_spans(from, T, &Vec::new(), 300)), [(-24, 0)]);
        // Old data only: it and the newest day, in one request across the empty days.
        assert_eq!(
            spans(&planned_spans(from, T, &vec![(day(300), 5)], 300)),
            [(-7224, 0)]
        );
        // The oldest bucket is cut at `from`.
        let from = T - 36 * 3_600_000;
        assert_eq!(
            spans(&planned_spans(
                from,
                T,
                &vec![(day(1), 5), (day(0), 5)],
                300
            )),
            [(-36, 0)]
        );
    }

    fn series(labels: &[(&str, &str)], points: &[(i64, f64)]) -> RangeSeries {
        RangeSeries {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            points: points.to_vec(),
        }
    }

    #[test]
    fn a_probe_counts_every_member_of_a_merged_fetch() {
        let sels: Vec<Selector> = [
            r#"req_total{svc="a"}"#,
            r#"lat_count{svc="a"}"#,
            r#"req_total{svc="b"}"#,
        ]
        .iter()
        .map(|s| parse_selector(s).unwrap())
        .collect();
        let members: Vec<&Selector> = sels.iter().collect();
        let probe = Probe::new(&members);
        assert_eq!(
            probe.query,
            concat!(
                r#"label_replace(sum by (svc) (count_over_time({__name__="req_total",svc=~"a|b"}[1d])), "burnrate_part", "samples/0", "", "")"#,
                r#" or label_replace(count by (svc) ({__name__="req_total",svc=~"a|b"}), "burnrate_part", "series/0", "", "")"#,
                r#" or label_replace(sum by (svc) (count_over_time(lat_count{svc="a"}[1d])), "burnrate_part", "samples/1", "", "")"#,
                r#" or label_replace(count by (svc) (lat_count{svc="a"}), "burnrate_part", "series/1", "", "")"#
            )
        );
        let grid = Grid::new(T - 3 * DAY_MS, T);
        let answer = [
            series(
                &[("svc", "a"), (PART_LABEL, "samples/0")],
                &[(T - DAY_MS, 10.0), (T, 20.0)],
            ),
            series(
                &[("svc", "a"), (PART_LABEL, "series/0")],
                &[(T - DAY_MS, 1.0), (T, 2.0)],
            ),
            series(&[("svc", "b"), (PART_LABEL, "samples/0")], &[(T, 1.0)]),
            series(&[("svc", "a"), (PART_LABEL, "samples/1")], &[(T, 4.0)]),
        ];
        let counts = probe.read(&grid, &answer).unwrap();
        assert_eq!(counts.total, [(T - DAY_MS, 10), (T, 25)]);
        let member = |samples: Vec<(i64, u64)>, series| SelectorCounts { samples, series };
        assert_eq!(
            counts.members,
            [
                member(vec![(T - DAY_MS, 10), (T, 20)], 2),
                member(vec![(T, 4)], 0),
                member(vec![(T, 1)], 0)
            ]
        );
        assert_eq!(samples_since(&counts.total, T - DAY_MS), 25.0);
        assert_eq!(samples_since(&counts.total, T - DAY_MS / 5), 5.0);
        // A point off the grid: the answer is not trusted.
        let off = [series(
            &[("svc", "a"), (PART_LABEL, "samples/0")],
            &[(T - 1000, 1.0)],
        )];
        assert_eq!(probe.read(&grid, &off), None);
    }
}
