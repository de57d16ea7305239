//! Pieces shared by the REST connectors (Snowflake, BigQuery): query limits, the guarded result
//! stream, HTTP retries with backoff, and exact parsers for the text values both APIs return.

use std::future::Future;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
#[cfg(feature = "bigquery")]
use arrow::datatypes::i256;
use futures::{Stream, StreamExt};
use metricchat_core::connector::{
    QueryOptions, RecordBatchStreamAdapter, SendableRecordBatchStream,
};
use metricchat_core::error::{Error, ErrorKind, Result};
use reqwest::{RequestBuilder, Response, StatusCode};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Limits of one running query: cancel token, deadline and row cap.
#[derive(Clone)]
pub(crate) struct Limits {
    pub(crate) connector: String,
    pub(crate) deadline: Option<Instant>,
    pub(crate) timeout: Duration,
    pub(crate) cancel: CancellationToken,
    pub(crate) max_rows: Option<usize>,
}

impl Limits {
    pub(crate) fn new(connector: &str, opts: QueryOptions) -> Self {
        Self {
            connector: connector.to_string(),
            deadline: opts.timeout.map(|t| Instant::now() + t),
            timeout: opts.timeout.unwrap_or_default(),
            cancel: opts.cancel,
            max_rows: opts.max_rows,
        }
    }

    /// Limits for catalog queries: no cap, a fixed time limit.
    pub(crate) fn catalog(connector: &str, timeout: Duration) -> Self {
        Self::new(
            connector,
            QueryOptions::default()
                .with_max_rows(None)
                .with_timeout(Some(timeout)),
        )
    }

    pub(crate) fn timeout_error(&self) -> Error {
        Error::Timeout {
            operation: format!("query on `{}`", self.connector),
            after: self.timeout,
        }
    }

    /// Time left before the deadline (`None`: no deadline).
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Resolves when the caller cancels or the deadline passes, with the matching error.
    pub(crate) async fn interrupted(&self) -> Error {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Error::Cancelled,
            () = sleep_until(self.deadline) => self.timeout_error(),
        }
    }

    /// Runs `fut` unless interrupted first; `Err` carries the interruption (cancel or timeout).
    pub(crate) async fn race<T>(
        &self,
        fut: impl Future<Output = T>,
    ) -> std::result::Result<T, Error> {
        tokio::select! {
            biased;
            e = self.interrupted() => Err(e),
            v = fut => Ok(v),
        }
    }
}

/// Sleeps until `deadline`, forever when there is none.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Wraps a stream of batches so that cancel, deadline and row cap hold on the caller's side.
pub(crate) fn limited_stream<S>(
    schema: SchemaRef,
    inner: S,
    limits: Limits,
) -> SendableRecordBatchStream
where
    S: Stream<Item = Result<RecordBatch>> + Send + 'static,
{
    struct State<S> {
        inner: std::pin::Pin<Box<S>>,
        remaining: Option<usize>,
        limits: Limits,
    }
    let state = State {
        inner: Box::pin(inner),
        remaining: limits.max_rows,
        limits,
    };
    let stream = futures::stream::unfold(Some(state), |state| async move {
        let mut st = state?;
        if st.remaining == Some(0) {
            return None;
        }
        let item = match st.limits.race(st.inner.next()).await {
            Err(e) => Some(Err(e)),
            Ok(item) => item,
        };
        match item? {
            Err(e) => Some((Err(e), None)),
            Ok(batch) => match st.remaining {
                Some(left) if batch.num_rows() >= left => Some((Ok(batch.slice(0, left)), None)),
                Some(left) => {
                    st.remaining = Some(left - batch.num_rows());
                    Some((Ok(batch), Some(st)))
                }
                None => Some((Ok(batch), Some(st))),
            },
        }
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, Box::pin(stream)))
}

/// How often and how patiently a request is retried on 429/502/503/504 and transport errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    /// Retries after the first attempt.
    pub(crate) max_retries: u32,
    /// First backoff; doubled each retry (plus jitter), capped at `max_delay`.
    pub(crate) base_delay: Duration,
    /// Longest wait between two attempts.
    pub(crate) max_delay: Duration,
}

impl Retry {
    pub(crate) fn new(max_retries: u32, base_delay_ms: u64) -> Self {
        Self {
            max_retries,
            base_delay: Duration::from_millis(base_delay_ms),
            max_delay: Duration::from_secs(30),
        }
    }

    /// The wait before retry number `retry` (1-based), honouring a server's `Retry-After`.
    fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
        // Up to 25% jitter, so concurrent clients do not retry in lockstep.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = exp.mul_f64(f64::from(nanos % 1000) / 4000.0);
        (exp + jitter).min(self.max_delay)
    }
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
    retry: Retry,
    limits: Option<&Limits>,
    mut build: F,
) -> Result<Response>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<RequestBuilder>>,
{
    let mut attempt = 0u32;
    loop {
        let request = build(attempt).await?;
        let sent = request.send();
        let outcome = match limits {
            Some(l) => l.race(sent).await?,
            None => sent.await,
        };
        let wait = match outcome {
            Ok(resp) if retryable_status(resp.status()) && attempt < retry.max_retries => {
                tracing::debug!(%provider, status = %resp.status(), attempt, "retrying");
                retry.delay(attempt + 1, retry_after(&resp))
            }
            Ok(resp) => return Ok(resp),
            Err(e) if attempt < retry.max_retries && (e.is_connect() || e.is_timeout()) => {
                tracing::debug!(%provider, error = %e, attempt, "retrying after transport error");
                retry.delay(attempt + 1, None)
            }
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

/// Parses a decimal text (`-12.340`, `1.5E3`) into an integer scaled by `10^scale`.
///
/// Digits beyond `scale` must be zeros unless `truncate` is set, in which case they are dropped
/// (toward zero). `None` for malformed text or overflow.
pub(crate) fn parse_scaled(text: &str, scale: u32, truncate: bool) -> Option<i128> {
    let (negative, digits, point) = split_decimal(text)?;
    let mut value: i128 = 0;
    let keep = point.checked_add(i64::from(scale))?;
    for (i, d) in digits.iter().enumerate() {
        let i = i64::try_from(i).ok()?;
        if i < keep {
            value = value.checked_mul(10)?.checked_add(i128::from(*d))?;
        } else if *d != 0 && !truncate {
            return None;
        }
    }
    let len = i64::try_from(digits.len()).ok()?;
    for _ in len..keep {
        value = value.checked_mul(10)?;
    }
    Some(if negative { -value } else { value })
}

/// [`parse_scaled`] into a 256-bit integer (no truncation).
#[cfg(feature = "bigquery")]
pub(crate) fn parse_scaled_256(text: &str, scale: u32) -> Option<i256> {
    let (negative, digits, point) = split_decimal(text)?;
    let ten = i256::from_i128(10);
    let mut value = i256::ZERO;
    let keep = point.checked_add(i64::from(scale))?;
    for (i, d) in digits.iter().enumerate() {
        let i = i64::try_from(i).ok()?;
        if i < keep {
            value = value
                .checked_mul(ten)?
                .checked_add(i256::from_i128(i128::from(*d)))?;
        } else if *d != 0 {
            return None;
        }
    }
    let len = i64::try_from(digits.len()).ok()?;
    for _ in len..keep {
        value = value.checked_mul(ten)?;
    }
    Some(if negative {
        value.checked_neg()?
    } else {
        value
    })
}

/// Splits decimal text into sign, digits and the position of the decimal point within the
/// digits (after applying any exponent).
fn split_decimal(text: &str) -> Option<(bool, Vec<u8>, i64)> {
    let text = text.trim();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut digits = Vec::with_capacity(int.len() + frac.len());
    for c in int.chars().chain(frac.chars()) {
        digits.push(u8::try_from(c.to_digit(10)?).ok()?);
    }
    let point = i64::try_from(int.len()).ok()?.checked_add(exponent)?;
    // Leading zeros would make `point` count digits that carry no value; they are harmless.
    Some((negative, digits, point))
}

/// Decodes lowercase or uppercase hex.
#[cfg(feature = "snowflake")]
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.trim().as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

/// A value that could not be converted to its column's Arrow type.
pub(crate) fn conversion_error(connector: &str, column: &str, message: String) -> Error {
    Error::Query {
        connector: connector.to_string(),
        message: format!("column `{column}`: {message}"),
        code: None,
        source: None,
    }
}

/// Quotes a string literal for SQL (`'it''s'`); backslashes doubled for BigQuery and Snowflake,
/// which treat them as escapes.
pub(crate) fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_scaled("12.34", 2, false), Some(1234));
        assert_eq!(parse_scaled("-12.3", 2, false), Some(-1230));
        assert_eq!(parse_scaled("7", 3, false), Some(7000));
        assert_eq!(parse_scaled("1.5E3", 0, false), Some(1500));
        assert_eq!(
            parse_scaled("1.7000000001234561E9", 6, true),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(parse_scaled("12.345", 2, false), None);
        assert_eq!(parse_scaled("12.345", 2, true), Some(1234));
        assert_eq!(parse_scaled("abc", 2, false), None);
        assert_eq!(parse_scaled("-0.500000000", 9, false), Some(-500_000_000));
        assert_eq!(sql_string("it's"), "'it\\'s'");
    }

    #[cfg(feature = "bigquery")]
    #[test]
    fn big_decimals_parse_exactly() {
        use arrow::array::ArrowNativeTypeOp;
        assert_eq!(
            parse_scaled_256("-123.45", 38),
            i256::from_i128(-12345).checked_mul(i256::from_i128(10).pow_wrapping(36))
        );
    }

    #[cfg(feature = "snowflake")]
    #[test]
    fn hex_decodes() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0g"), None);
    }
}
