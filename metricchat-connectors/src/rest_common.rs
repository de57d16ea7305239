//! Pieces shared by the REST connectors (Snowflake, BigQuery): connection URLs and the HTTP
//! client, RS256 JWT signing, query limits, the guarded result stream, HTTP retries with backoff,
//! catalog assembly (tables, columns, keys from whole-catalog result sets), and exact parsers for
//! the text values both APIs return.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
#[cfg(feature = "bigquery")]
use arrow::datatypes::i256;
use futures::{Stream, StreamExt};
use metricchat_core::connector::{
    ColumnInfo, ForeignKey, QueryOptions, RecordBatchStreamAdapter, SendableRecordBatchStream,
    TableKind, TableRef, TableSchema,
};
use metricchat_core::error::{Error, ErrorKind, Result};
use reqwest::{RequestBuilder, Response, StatusCode};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The parts of a `scheme://HOST/SEG/SEG?k=v` connection URL.
pub(crate) struct ConnUrl {
    /// The host part (Snowflake's account, BigQuery's project).
    pub(crate) host: String,
    /// The user part before `@`, percent-decoded.
    pub(crate) user: Option<String>,
    /// Non-empty path segments, percent-decoded.
    pub(crate) path: Vec<String>,
    /// Query parameters, decoded, in order.
    pub(crate) params: Vec<(String, String)>,
}

/// An [`Error::InvalidInput`] about a `product` connection URL.
pub(crate) fn bad_url(product: &str, message: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("bad {product} URL: {message}"))
}

/// Parses a connection URL of `scheme`; `shape` (`scheme://ACCOUNT/DATABASE/SCHEMA`) is shown
/// when the host is missing, and at most `max_segments` path segments are accepted.
pub(crate) fn parse_conn_url(
    url: &str,
    scheme: &str,
    product: &str,
    shape: &str,
    max_segments: usize,
) -> Result<ConnUrl> {
    let parsed = url::Url::parse(url).map_err(|e| bad_url(product, e))?;
    if parsed.scheme() != scheme {
        return Err(bad_url(
            product,
            format!("scheme `{}` is not {scheme}://", parsed.scheme()),
        ));
    }
    let decode = |s: &str| {
        url::form_urlencoded::parse(s.as_bytes())
            .map(|(k, v)| format!("{k}{v}"))
            .collect::<String>()
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad_url(product, format!("no host ({shape})")))?
        .to_string();
    let path: Vec<String> = parsed
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    if path.len() > max_segments {
        return Err(bad_url(
            product,
            format!("the URL has the shape {shape}, nothing more"),
        ));
    }
    Ok(ConnUrl {
        host,
        user: (!parsed.username().is_empty()).then(|| decode(parsed.username())),
        path,
        params: parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    })
}

/// The error for a URL parameter the connector does not know.
pub(crate) fn unknown_param(product: &str, key: &str, known: &[&str]) -> Error {
    bad_url(
        product,
        format!("unknown parameter `{key}`; known: {}", known.join(", ")),
    )
}

/// The HTTP client of a REST connector.
pub(crate) fn http_client(backend: &str) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("metricchat/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::config(backend, format!("cannot build the HTTP client: {e}")))
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Signs `claims` as an RS256 JWT (with `kid` in the header when given).
pub(crate) fn sign_rs256<C: serde::Serialize>(
    backend: &str,
    claims: &C,
    key: &jsonwebtoken::EncodingKey,
    kid: Option<String>,
) -> Result<String> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid;
    jsonwebtoken::encode(&header, claims, key)
        .map_err(|e| Error::config(backend, format!("cannot sign the JWT: {e}")))
}

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

/// A result set whose values are all text, with its column names (catalog queries).
#[derive(Debug, Default)]
pub(crate) struct NamedRows {
    index: HashMap<String, usize>,
    pub(crate) rows: Vec<Vec<Option<String>>>,
}

impl NamedRows {
    /// Rows under `names` (matched without regard to case, as both services fold names).
    pub(crate) fn new(names: Vec<String>, rows: Vec<Vec<Option<String>>>) -> Self {
        let index = names
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n.to_ascii_lowercase(), i))
            .collect();
        Self { index, rows }
    }

    /// The rows, each readable by column name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = NamedRow<'_>> {
        self.rows.iter().map(|values| NamedRow {
            index: &self.index,
            values,
        })
    }
}

/// One row of [`NamedRows`].
#[derive(Clone, Copy)]
pub(crate) struct NamedRow<'a> {
    index: &'a HashMap<String, usize>,
    values: &'a [Option<String>],
}

impl<'a> NamedRow<'a> {
    /// The value of column `name`; `None` for NULL or a column the result lacks.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        let i = *self.index.get(&name.to_ascii_lowercase())?;
        self.values.get(i)?.as_deref()
    }

    /// The value as an owned string, empty strings counted as missing.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.get(name).filter(|s| !s.is_empty()).map(str::to_string)
    }

    /// The value as a whole number (`"12"`, `"12.0"`, `"1.2E1"`).
    pub(crate) fn number(&self, name: &str) -> Option<u64> {
        let v = parse_scaled(self.get(name)?, 0, true)?;
        u64::try_from(v).ok()
    }
}

/// One column of a key, as the catalogs list them (one row per column).
#[derive(Debug, Clone)]
pub(crate) struct KeyColumn {
    pub(crate) table: TableRef,
    pub(crate) constraint: String,
    pub(crate) column: String,
    /// 1-based position within the key.
    pub(crate) position: u64,
    /// Foreign keys: the referenced table.
    pub(crate) references: Option<TableRef>,
    /// Foreign keys: the referenced column when the catalog names it.
    pub(crate) referenced_column: Option<String>,
    /// Foreign keys: the 1-based position in the referenced primary key when the catalog gives
    /// that instead (BigQuery's `position_in_unique_constraint`).
    pub(crate) referenced_position: Option<u64>,
}

/// Builds table schemas from a whole-catalog column listing (one row per column, ordered by
/// table then column position) with these columns: `TABLE_SCHEMA`, `TABLE_NAME`,
/// `COLUMN_NAME`, `DATA_TYPE`, `IS_NULLABLE` (`YES`/`NO`), `COLUMN_COMMENT`, `TABLE_TYPE`
/// (`VIEW`, `MATERIALIZED VIEW` or a table), `TABLE_COMMENT`, `ROW_COUNT`, and optionally
/// `NUMERIC_PRECISION`/`NUMERIC_SCALE` (shown as `NUMBER(p,s)`). Keys are attached from
/// `primary` and `foreign` key columns; referenced columns given by position are resolved
/// against the referenced table's primary key.
pub(crate) fn assemble_catalog(
    columns: &NamedRows,
    primary: &[KeyColumn],
    foreign: &[KeyColumn],
) -> Vec<TableSchema> {
    let mut tables: Vec<TableSchema> = Vec::new();
    let mut by_name: HashMap<TableRef, usize> = HashMap::new();
    for row in columns.iter() {
        let (Some(schema), Some(name), Some(column)) = (
            row.text("TABLE_SCHEMA"),
            row.text("TABLE_NAME"),
            row.text("COLUMN_NAME"),
        ) else {
            continue;
        };
        let table = TableRef::qualified(schema, name);
        let i = *by_name.entry(table.clone()).or_insert_with(|| {
            let view = row
                .get("TABLE_TYPE")
                .is_some_and(|t| t.to_ascii_uppercase().contains("VIEW"));
            tables.push(TableSchema {
                table,
                kind: if view {
                    TableKind::View
                } else {
                    TableKind::Table
                },
                columns: Vec::new(),
                comment: row.text("TABLE_COMMENT"),
                primary_key: Vec::new(),
                foreign_keys: Vec::new(),
                row_estimate: if view { None } else { row.number("ROW_COUNT") },
            });
            tables.len() - 1
        });
        let mut data_type = row.text("DATA_TYPE").unwrap_or_default();
        if let (Some(p), Some(s)) = (row.get("NUMERIC_PRECISION"), row.get("NUMERIC_SCALE"))
            && data_type.eq_ignore_ascii_case("NUMBER")
        {
            data_type = format!("{data_type}({p},{s})");
        }
        tables[i].columns.push(ColumnInfo {
            name: column,
            data_type,
            nullable: row
                .get("IS_NULLABLE")
                .is_none_or(|n| n.eq_ignore_ascii_case("YES")),
            comment: row.text("COLUMN_COMMENT"),
        });
    }
    let ordered = |keys: &[KeyColumn]| {
        let mut keys = keys.to_vec();
        keys.sort_by(|a, b| {
            (&a.table, &a.constraint, a.position).cmp(&(&b.table, &b.constraint, b.position))
        });
        keys
    };
    let mut primary_keys: HashMap<TableRef, Vec<String>> = HashMap::new();
    for k in ordered(primary) {
        primary_keys
            .entry(k.table.clone())
            .or_default()
            .push(k.column);
    }
    for (table, cols) in &primary_keys {
        if let Some(&i) = by_name.get(table) {
            tables[i].primary_key = cols.clone();
        }
    }
    let mut constraint: Option<(TableRef, String)> = None;
    for k in ordered(foreign) {
        let Some(&i) = by_name.get(&k.table) else {
            continue;
        };
        let Some(references) = k.references.clone() else {
            continue;
        };
        let same = constraint
            .as_ref()
            .is_some_and(|(t, c)| *t == k.table && *c == k.constraint);
        if !same {
            tables[i].foreign_keys.push(ForeignKey {
                columns: Vec::new(),
                references: references.clone(),
                referenced_columns: Vec::new(),
            });
            constraint = Some((k.table.clone(), k.constraint.clone()));
        }
        let referenced = k.referenced_column.clone().or_else(|| {
            let pos = usize::try_from(k.referenced_position?).ok()?;
            primary_keys
                .get(&references)?
                .get(pos.checked_sub(1)?)
                .cloned()
        });
        if let Some(fk) = tables[i].foreign_keys.last_mut() {
            fk.columns.push(k.column.clone());
            if let Some(r) = referenced {
                fk.referenced_columns.push(r);
            }
        }
    }
    tables
}

/// Quotes a string literal for SQL (`'it''s'`); backslashes doubled for BigQuery and Snowflake,
/// which treat them as escapes.
pub(crate) fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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

    #[test]
    fn catalog_rows_assemble_into_tables_with_keys() {
        let names = [
            "table_schema",
            "TABLE_NAME",
            "COLUMN_NAME",
            "DATA_TYPE",
            "NUMERIC_PRECISION",
            "NUMERIC_SCALE",
            "IS_NULLABLE",
            "TABLE_TYPE",
            "ROW_COUNT",
        ];
        let row = |t: &str, c: &str, ty: &str, p: Option<&str>, kind: &str| {
            [
                Some("S"),
                Some(t),
                Some(c),
                Some(ty),
                p,
                p.map(|_| "0"),
                Some("NO"),
                Some(kind),
            ]
            .into_iter()
            .map(|v| v.map(str::to_string))
            .chain([Some("1.2E1".to_string())])
            .collect::<Vec<_>>()
        };
        let columns = NamedRows::new(
            names.iter().map(|n| (*n).to_string()).collect(),
            vec![
                row("A", "X", "NUMBER", Some("38"), "BASE TABLE"),
                row("A", "Y", "NUMBER", Some("38"), "BASE TABLE"),
                row("B", "AX", "NUMBER", Some("38"), "BASE TABLE"),
                row("B", "AY", "TEXT", None, "BASE TABLE"),
                row("V", "Z", "TEXT", None, "VIEW"),
            ],
        );
        let key = |t: &str, c: &str, pos: u64, refs: Option<&str>, rpos: Option<u64>| KeyColumn {
            table: TableRef::qualified("S", t),
            constraint: format!("{t}_key"),
            column: c.to_string(),
            position: pos,
            references: refs.map(|r| TableRef::qualified("S", r)),
            referenced_column: None,
            referenced_position: rpos,
        };
        let tables = assemble_catalog(
            &columns,
            &[key("A", "Y", 2, None, None), key("A", "X", 1, None, None)],
            &[
                key("B", "AY", 2, Some("A"), Some(2)),
                key("B", "AX", 1, Some("A"), Some(1)),
                key("GONE", "Q", 1, Some("A"), Some(1)),
            ],
        );
        assert_eq!(tables.len(), 3);
        assert_eq!(tables[0].primary_key, ["X", "Y"]);
        assert_eq!(tables[0].columns[0].data_type, "NUMBER(38,0)");
        assert!(!tables[0].columns[0].nullable);
        assert_eq!(tables[0].row_estimate, Some(12));
        let fk = &tables[1].foreign_keys;
        assert_eq!(fk.len(), 1);
        assert_eq!(fk[0].columns, ["AX", "AY"]);
        assert_eq!(fk[0].referenced_columns, ["X", "Y"]);
        assert_eq!(fk[0].references, TableRef::qualified("S", "A"));
        assert_eq!(tables[2].kind, TableKind::View);
        assert_eq!(tables[2].row_estimate, None, "views have no row count");
    }

    #[test]
    fn connection_urls_parse_into_parts() {
        let u =
            parse_conn_url("x://me@host/a%20b/c?k=v&k2=w%3D", "x", "X", "x://H/A/B", 2).unwrap();
        assert_eq!(u.host, "host");
        assert_eq!(u.user.as_deref(), Some("me"));
        assert_eq!(u.path, ["a b", "c"]);
        assert_eq!(u.params[1], ("k2".to_string(), "w=".to_string()));
        for bad in ["y://host", "x:///a", "x://h/a/b/c", "not a url"] {
            let e = parse_conn_url(bad, "x", "X", "x://H/A/B", 2).err();
            assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::InvalidInput), "{bad}");
        }
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
