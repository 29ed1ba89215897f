//! The one retry policy of every request burnrate sends: backend queries, webhook
//! deliveries and Alertmanager posts. One place, so the three cannot drift apart in what
//! they retry or how long they wait.
//!
//! What is retried: 5xx answers, timeouts, refused or reset connections. What is not: 4xx
//! answers (the receiver read the request and refused it; the same request will be refused
//! again) and requests that could not even be built.
//!
//! How long: exponential from a first delay, doubling, each delay stretched by a random
//! share of itself (up to twice as long) so that many SLOs or replicas failing together do
//! not retry in lockstep; never shorter than the un-jittered schedule (the documented
//! "first retry after `--webhook-backoff`" holds) and never longer than the cap.

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder, Retryable};
use std::future::Future;
use std::time::Duration;

/// Exponential backoff with jitter, capped, for a fixed number of retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// The shortest wait before the first retry; doubles at each retry.
    pub(crate) first_delay: Duration,
    /// No wait is longer, jitter included.
    pub(crate) max_delay: Duration,
    /// Attempts after the first one.
    pub(crate) retries: usize,
}

impl RetryPolicy {
    /// The cap of every policy unless a caller needs another.
    pub(crate) const MAX_DELAY: Duration = Duration::from_secs(60);

    pub(crate) fn new(first_delay: Duration, retries: usize) -> RetryPolicy {
        RetryPolicy {
            first_delay,
            max_delay: RetryPolicy::MAX_DELAY,
            retries,
        }
    }

    /// The same policy without retries: one attempt.
    pub(crate) fn once(self) -> RetryPolicy {
        RetryPolicy { retries: 0, ..self }
    }

    /// Runs `attempt` until it succeeds, fails with an error `retryable` refuses, or the
    /// retries run out; the last error is returned. `notify` hears of every retry before
    /// its wait.
    pub(crate) async fn run<T, E, Fut>(
        self,
        attempt: impl FnMut() -> Fut,
        retryable: impl FnMut(&E) -> bool,
        notify: impl FnMut(&E, Duration),
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        attempt
            .retry(self)
            .sleep(tokio::time::sleep)
            .when(retryable)
            .notify(notify)
            .await
    }
}

/// The waits of one retried request.
#[derive(Debug)]
pub(crate) struct Waits {
    inner: ExponentialBackoff,
    max: Duration,
}

impl Iterator for Waits {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        // backon caps the delay before adding jitter; the cap here holds after it.
        self.inner.next().map(|d| d.min(self.max))
    }
}

impl BackoffBuilder for RetryPolicy {
    type Backoff = Waits;

    fn build(self) -> Waits {
        Waits {
            inner: ExponentialBuilder::new()
                .with_min_delay(self.first_delay)
                .with_max_delay(self.max_delay)
                .with_factor(2.0)
                .with_max_times(self.retries)
                .with_jitter()
                .build(),
            max: self.max_delay,
        }
    }
}

/// Whether an HTTP answer with this status is worth sending again: only server errors.
pub(crate) fn retryable_status(status: reqwest::StatusCode) -> bool {
    status.is_server_error()
}

/// Whether a request that got no answer is worth sending again: timeouts, refused and
/// reset connections are; a request that could not be built is not.
pub(crate) fn retryable_transport(e: &reqwest::Error) -> bool {
    !e.is_builder()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_jitter_within_the_schedule_and_the_cap() {
        let policy = RetryPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            retries: 6,
        };
        for _ in 0..50 {
            let waits: Vec<Duration> = policy.build().collect();
            assert_eq!(waits.len(), 6);
            for (i, w) in waits.iter().enumerate() {
                let base = Duration::from_millis(100 << i).min(policy.max_delay);
                assert!(*w >= base, "retry {i}: {w:?} < {base:?}");
                assert!(*w <= (base * 2).min(policy.max_delay), "retry {i}: {w:?}");
            }
        }
        assert_eq!(policy.once().build().count(), 0);
    }

    #[tokio::test]
    async fn stops_at_errors_it_must_not_retry_and_when_retries_run_out() {
        let policy = RetryPolicy::new(Duration::from_millis(1), 3);
        let mut calls = 0;
        let refused: Result<(), &str> = policy
            .run(
                || {
                    calls += 1;
                    async { Err("4xx") }
                },
                |e| *e != "4xx",
                |_, _| {},
            )
            .await;
        assert_eq!((refused, calls), (Err("4xx"), 1));
        let mut calls = 0;
        let failing: Result<(), &str> = policy
            .run(
                || {
                    calls += 1;
                    async { Err("5xx") }
                },
                |_| true,
                |_, _| {},
            )
            .await;
        assert_eq!((failing, calls), (Err("5xx"), 4));
    }
}
