//! The one retry policy of metricchat — LLM provider clients and REST connectors alike:
//! exponential backoff with jitter (backon's [`ExponentialBuilder`]) that honours a server's
//! `Retry-After`. A leaf module: it imports only the error type and the serde helpers.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::serde_util::duration_ms;

/// How a provider client retries retryable failures (429, 5xx, transport errors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff.
    #[serde(with = "duration_ms")]
    pub initial_backoff: Duration,
    /// Backoff cap (also caps a server's `Retry-After`).
    #[serde(with = "duration_ms")]
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// A policy with `max_retries` retries, starting at `initial_backoff`, capped at `max_backoff`.
    pub fn new(max_retries: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            max_retries,
            initial_backoff,
            max_backoff,
        }
    }

    /// The backoff delays before retry 1, 2, … (exponential, factor 2, with jitter, capped at
    /// `max_backoff`). A server's `Retry-After` is applied on top by [`RetryPolicy::wait_for`].
    pub fn backoffs(&self) -> impl Iterator<Item = Duration> + use<> {
        let cap = self.max_backoff;
        ExponentialBuilder::default()
            .with_jitter()
            .with_factor(2.0)
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_max_times(usize::try_from(self.max_retries).unwrap_or(usize::MAX))
            .build()
            .map(move |d| d.min(cap))
    }

    /// How long to wait before retrying after `error`, given the computed `backoff`:
    /// `max(Retry-After, backoff)`, capped at `max_backoff`.
    pub fn wait_for(&self, error: &Error, backoff: Duration) -> Duration {
        let server = match error {
            Error::Provider { retry_after, .. } => *retry_after,
            _ => None,
        };
        self.wait(server, backoff)
    }

    /// How long to wait before a retry, given the server's `Retry-After` (if any) and the
    /// computed `backoff`: `max(Retry-After, backoff)`, capped at `max_backoff`.
    pub fn wait(&self, retry_after: Option<Duration>, backoff: Duration) -> Duration {
        retry_after
            .unwrap_or_default()
            .max(backoff)
            .min(self.max_backoff)
    }

    /// Runs `attempt` (called with the 0-based attempt number) until it succeeds, fails with an
    /// error that is not [retryable](Error::is_retryable), or `max_retries` retries are used up;
    /// waits [`RetryPolicy::wait_for`] between attempts. `operation` names the call in logs,
    /// which never include request content.
    pub async fn retry<T, F, Fut>(&self, operation: &str, mut attempt: F) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut backoffs = self.backoffs();
        let mut n: u32 = 0;
        loop {
            let error = match attempt(n).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !error.is_retryable() {
                return Err(error);
            }
            let Some(backoff) = backoffs.next() else {
                if self.max_retries > 0 {
                    tracing::warn!(operation, attempts = n + 1, kind = %error.kind(), "giving up after retries");
                }
                return Err(error);
            };
            let wait = self.wait_for(&error, backoff);
            let status = match &error {
                Error::Provider { status, .. } => *status,
                _ => None,
            };
            tracing::warn!(
                operation,
                retry = n + 1,
                max_retries = self.max_retries,
                kind = %error.kind(),
                status,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying after a retryable error"
            );
            tracing::debug!(operation, error = %error, "retryable error detail");
            tokio::time::sleep(wait).await;
            n += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::error::ErrorKind;

    fn provider(status: u16, kind: ErrorKind, retry_after: Option<Duration>) -> Error {
        Error::Provider {
            provider: "test".into(),
            status: Some(status),
            message: "boom".into(),
            kind,
            retry_after,
            source: None,
        }
    }

    #[test]
    fn backoffs_grow_and_are_capped() {
        let p = RetryPolicy::new(6, Duration::from_millis(100), Duration::from_millis(500));
        let all: Vec<_> = p.backoffs().collect();
        assert_eq!(all.len(), 6);
        assert!(all[0] >= Duration::from_millis(100) && all[0] <= Duration::from_millis(200));
        assert!(all.iter().all(|d| *d <= Duration::from_millis(500)));
        assert_eq!(RetryPolicy::none().backoffs().count(), 0);
    }

    #[test]
    fn retry_after_wins_over_shorter_backoff_but_is_capped() {
        let p = RetryPolicy::new(3, Duration::from_millis(10), Duration::from_secs(5));
        let e = provider(429, ErrorKind::RateLimited, Some(Duration::from_secs(2)));
        assert_eq!(
            p.wait_for(&e, Duration::from_millis(10)),
            Duration::from_secs(2)
        );
        let e = provider(429, ErrorKind::RateLimited, Some(Duration::from_secs(60)));
        assert_eq!(
            p.wait_for(&e, Duration::from_millis(10)),
            Duration::from_secs(5)
        );
        let e = provider(500, ErrorKind::Llm, None);
        assert_eq!(
            p.wait_for(&e, Duration::from_millis(30)),
            Duration::from_millis(30)
        );
    }

    #[tokio::test]
    async fn retries_retryable_errors_then_succeeds() {
        let p = RetryPolicy::new(3, Duration::from_millis(1), Duration::from_millis(5));
        let calls = AtomicU32::new(0);
        let out = p
            .retry("test", |n| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        Err(provider(503, ErrorKind::Llm, None))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(out.ok(), Some(2));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn does_not_retry_permanent_errors_and_stops_after_max() {
        let p = RetryPolicy::new(2, Duration::from_millis(1), Duration::from_millis(5));
        let calls = AtomicU32::new(0);
        let out: Result<()> = p
            .retry("test", |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(provider(401, ErrorKind::Unauthorized, None)) }
            })
            .await;
        assert_eq!(
            out.map_err(|e| e.kind()).err(),
            Some(ErrorKind::Unauthorized)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let out: Result<()> = p
            .retry("test", |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(provider(500, ErrorKind::Llm, None)) }
            })
            .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
