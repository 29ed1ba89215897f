//! Direct measurement: the backend answers each dimension's query, many dimensions in one
//! request.
//!
//! With a thousand SLOs, one request per dimension per cycle is thousands of HTTP round
//! trips whose cost is mostly overhead. A batch joins the dimension queries with `or`, each
//! tag prefixed with its item's position, and splits the answer back. If the backend refuses
//! the batch (one raw `bad_query` that does not parse must not blind the others), every item
//! is asked alone; if it is down, every item gets the error without further requests.

use super::columns::{decode_instant_grouped, key_of};
use super::query::{KEY_LABEL, dimension_query, tagged_dimension_query};
use crate::backend::PromClient;
use crate::backend::client::Sample;
use crate::duration::PromDuration;
use crate::engine::{Grouped, SourceError};
use crate::spec::{Dimension, SloSpec};

/// One dimension of one SLO to measure, over some of its windows (the daemon's history may
/// answer the others).
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    pub slo: &'a SloSpec,
    pub dimension: Dimension,
    /// The windows to measure; the measurement is aligned with them.
    pub windows: &'a [PromDuration],
}

impl<'a> BatchItem<'a> {
    /// Every window the SLO measures in `dimension`.
    pub fn new(slo: &'a SloSpec, dimension: Dimension) -> BatchItem<'a> {
        BatchItem {
            slo,
            dimension,
            windows: slo.measured_windows(dimension),
        }
    }
}

/// Measures every item at `at_ms`, `per_request` items per request and at most
/// `concurrency` requests at a time. The results are aligned with `items`.
pub(crate) async fn measure_batched(
    client: &PromClient,
    items: &[BatchItem<'_>],
    at_ms: i64,
    per_request: usize,
    concurrency: usize,
) -> Vec<Result<Grouped, SourceError>> {
    // `join_all` collects the futures before awaiting, so no closure type lives across an
    // await (spawned daemon tasks must be `Send` for every lifetime).
    let permits = tokio::sync::Semaphore::new(concurrency.max(1));
    let chunks: Vec<_> = items.chunks(per_request.max(1)).collect();
    let answers = futures::future::join_all(chunks.into_iter().map(|chunk| {
        let permits = &permits;
        async move {
            let _permit = permits.acquire().await.expect("never closed");
            measure_chunk(client, chunk, at_ms).await
        }
    }))
    .await;
    answers.into_iter().flatten().collect()
}

/// One dimension, one request: the query `check` sends.
pub(crate) async fn measure_one(
    client: &PromClient,
    item: BatchItem<'_>,
    at_ms: i64,
) -> Result<Grouped, SourceError> {
    let windows = item.windows;
    let query = dimension_query(item.slo, item.dimension, windows);
    let result = client.instant(&query, at_ms).await?;
    for warning in &result.warnings {
        tracing::warn!(slo = %item.slo.name, dimension = item.dimension.as_str(), "backend warning: {warning}");
    }
    Ok(decode_instant_grouped(
        item.dimension,
        windows,
        &item.slo.group_by,
        result
            .samples
            .iter()
            .filter_map(|s| Some((key_of(&s.labels)?, &s.labels, s.value))),
    ))
}

async fn measure_chunk(
    client: &PromClient,
    items: &[BatchItem<'_>],
    at_ms: i64,
) -> Vec<Result<Grouped, SourceError>> {
    if let [item] = items {
        return vec![measure_one(client, *item, at_ms).await];
    }
    let query = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            tagged_dimension_query(item.slo, item.dimension, item.windows, &format!("{i}:"))
        })
        .collect::<Vec<_>>()
        .join(" or ");
    match client.instant(&query, at_ms).await {
        Ok(result) => {
            for warning in &result.warnings {
                tracing::warn!(slos = items.len(), "backend warning for a batch: {warning}");
            }
            split(items, &result.samples)
        }
        Err(e) if e.is_rejected() => {
            tracing::debug!(error = %e, "the backend refused a batch; asking each SLO alone");
            futures::future::join_all(items.iter().map(|item| measure_one(client, *item, at_ms)))
                .await
        }
        Err(e) => items.iter().map(|_| Err(e.clone())).collect(),
    }
}

/// Sorts a batch's samples back to their items by the tag prefix.
fn split(items: &[BatchItem<'_>], samples: &[Sample]) -> Vec<Result<Grouped, SourceError>> {
    let mut by_item: Vec<Vec<(&str, &Sample)>> = vec![Vec::new(); items.len()];
    for s in samples {
        let Some((i, key)) = s
            .labels
            .get(KEY_LABEL)
            .and_then(|k| k.split_once(':'))
            .and_then(|(i, key)| Some((i.parse::<usize>().ok()?, key)))
        else {
            continue;
        };
        if let Some(bucket) = by_item.get_mut(i) {
            bucket.push((key, s));
        }
    }
    items
        .iter()
        .zip(by_item)
        .map(|(item, samples)| {
            Ok(decode_instant_grouped(
                item.dimension,
                item.windows,
                &item.slo.group_by,
                samples
                    .into_iter()
                    .map(|(key, s)| (key, &s.labels, s.value)),
            ))
        })
        .collect()
}
