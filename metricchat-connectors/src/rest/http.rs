//! The HTTP client of the REST connectors: retries with backoff and the mapping of transport and
//! HTTP failures to metricchat errors.

use std::future::Future;
use std::time::Duration;

use metricchat_core::connector::QueryLimits;
use metricchat_core::error::{Error, ErrorKind, Result};
use metricchat_core::retry::RetryPolicy;
use reqwest::{RequestBuilder, Response, StatusCode};

/// The HTTP client of a REST connector.
pub(crate) fn http_client(backend: &str) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("metricchat/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::config(backend, format!("cannot build the HTTP client: {e}")))
}

/// The retry policy of a REST connector: `max_retries` retries, the first after
/// `base_delay_ms`, doubling (with jitter) up to 30 s.
pub(crate) fn retry_policy(max_retries: u32, base_delay: Duration) -> RetryPolicy {
    RetryPolicy::new(max_retries, base_delay, Duration::from_secs(30))
}

/// Whether an HTTP status is worth retrying (rate limit, gateway, unavailable).
pub(crate) fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// The `Retry-After` header in seconds, if any.
fn retry_after(resp: &Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Sends the request `build(attempt)` makes (attempt 0 first), retrying transport errors and
/// retryable statuses with backoff; returns the last response whatever its status, so the
/// caller maps errors with the service's body. Waits respect `limits` when given.
pub(crate) async fn send_retrying<F, Fut>(
    provider: &str,
    connector: &str,
    retry: &RetryPolicy,
    limits: Option<&QueryLimits>,
    mut build: F,
) -> Result<Response>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<RequestBuilder>>,
{
    let mut attempt = 0u32;
    let mut backoffs = retry.backoffs();
    loop {
        let request = build(attempt).await?;
        let sent = request.send();
        let outcome = match limits {
            Some(l) => l.race(sent).await?,
            None => sent.await,
        };
        let wait = match outcome {
            Ok(resp) if retryable_status(resp.status()) => match backoffs.next() {
                Some(backoff) => {
                    tracing::debug!(%provider, status = %resp.status(), attempt, "retrying");
                    retry.wait(retry_after(&resp), backoff)
                }
                None => return Ok(resp),
            },
            Ok(resp) => return Ok(resp),
            Err(e) if e.is_connect() || e.is_timeout() => match backoffs.next() {
                Some(backoff) => {
                    tracing::debug!(%provider, error = %e, attempt, "retrying after transport error");
                    backoff
                }
                None => return Err(transport_error(provider, connector, e)),
            },
            Err(e) => return Err(transport_error(provider, connector, e)),
        };
        match limits {
            Some(l) => l.race(tokio::time::sleep(wait)).await?,
            None => tokio::time::sleep(wait).await,
        }
        attempt += 1;
    }
}

/// A transport failure (unreachable host, TLS, broken connection).
pub(crate) fn transport_error(provider: &str, connector: &str, e: reqwest::Error) -> Error {
    let url = e.url().map(|u| u.as_str().to_string()).unwrap_or_default();
    Error::Connection {
        connector: connector.to_string(),
        message: format!("cannot reach {provider} at {url}: {e}"),
        source: Some(Box::new(e)),
    }
}

/// An HTTP-level failure of the service with a portable kind.
pub(crate) fn http_error(
    provider: &str,
    status: StatusCode,
    kind: ErrorKind,
    message: String,
) -> Error {
    Error::Provider {
        provider: provider.to_string(),
        status: Some(status.as_u16()),
        message,
        kind,
        retry_after: None,
        source: None,
    }
}

/// Reads a response body as text, mapping transport errors.
pub(crate) async fn body_text(provider: &str, connector: &str, resp: Response) -> Result<String> {
    resp.text()
        .await
        .map_err(|e| transport_error(provider, connector, e))
}

/// A response body that is not what the API reference promises.
pub(crate) fn bad_response(provider: &str, connector: &str, what: &str, body: &str) -> Error {
    let shown: String = body.chars().take(300).collect();
    Error::Connection {
        connector: connector.to_string(),
        message: format!("unexpected {provider} response ({what}): {shown}"),
        source: None,
    }
}
