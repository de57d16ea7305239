//! Snowflake over the SQL API v2 (`POST /api/v2/statements`):
//! `snowflake://ACCOUNT/DATABASE/SCHEMA?warehouse=WH&role=ANALYST&user=ME&private_key_path=/keys/rsa_key.p8`.
//!
//! ```no_run
//! # async fn demo() -> metricchat_core::error::Result<()> {
//! use metricchat_core::connector::{Connector, QueryOptions, collect_stream};
//! let sf = metricchat_connectors::snowflake::SnowflakeConnector::from_url(
//!     "snowflake://xy12345/SALES/PUBLIC?warehouse=WH&user=ANALYST&private_key_path=/keys/rsa_key.p8",
//! )?;
//! let data = collect_stream(sf.query("SELECT 1 AS one", QueryOptions::default()).await?).await?;
//! # Ok(()) }
//! ```
//!
//! URL parameters: `user`, `warehouse`, `role`, `private_key_path` (an unencrypted PKCS#8 or
//! PKCS#1 PEM file) or `token` (an OAuth access token), `name` (the connection's name; default
//! the database), `query_tag` (default `metricchat`) and `base_url` (default
//! `https://ACCOUNT.snowflakecomputing.com`; a local fake in tests). [`SnowflakeConfig`] holds
//! the same and more, and deserialises from a map.
//!
//! # Authentication
//!
//! Key-pair: a JWT signed RS256 with the user's private key, issuer
//! `ACCOUNT.USER.SHA256:<base64 SHA-256 of the public key's DER>`, subject `ACCOUNT.USER`
//! (account without its region part, both upper-case), sent with
//! `X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT`. The token lives
//! [`SnowflakeConfig::jwt_lifetime`] (default 59 minutes, Snowflake's maximum is one hour)
//! and is signed anew shortly before it expires, or at once when Snowflake answers 401.
//! OAuth: the token as given, with the type `OAUTH`.
//!
//! # Statements, limits and cancellation
//!
//! Each query is one `POST /api/v2/statements?requestId=<uuid>` with the database, schema,
//! warehouse, role, a `timeout` (the query's time limit, in seconds) and the parameters
//! `QUERY_TAG` and `MULTI_STATEMENT_COUNT=1` (so Snowflake refuses `;`-separated batches). A 429
//! or 503 is retried with exponential backoff (and `Retry-After`), resending the same
//! `requestId` with `retry=true` so Snowflake never runs the statement twice. A `202` (still
//! running) is polled with `GET /api/v2/statements/{handle}`. When the caller cancels or the
//! deadline passes, `POST /api/v2/statements/{handle}/cancel` stops the statement at the
//! engine. Result partitions after the first are fetched concurrently
//! ([`SnowflakeConfig::max_concurrent_partitions`]) with `?partition=N`, gzip bodies inflated,
//! and only as many as the row cap needs. Snowflake has no read-only session: writes are kept
//! out by the SQL guard and the role's grants.
//!
//! Errors: 401/403 and codes `390xxx` → [`Error::Provider`] with kind `Unauthorized`; 422 (SQL
//! compilation and execution errors) → [`Error::Query`] with the SQLSTATE as `code` and
//! Snowflake's code in the message; code `000630` (statement timeout) → [`Error::Timeout`];
//! `000604` → [`Error::Cancelled`]; 429 after the retries → kind `RateLimited`.
//!
//! # Type mapping
//!
//! The API returns every value as a string (`jsonv2`); the column's `rowType` decides:
//!
//! | Snowflake `rowType.type` | Arrow |
//! | --- | --- |
//! | `fixed`, scale 0 and precision ≤ 18 | Int64 |
//! | `fixed` otherwise (`NUMBER(p, s)`) | Decimal128(p, s) |
//! | `real` | Float64 |
//! | `text` | Utf8 |
//! | `boolean` | Boolean |
//! | `date` (days since 1970-01-01) | Date32 |
//! | `time` (seconds since midnight with fraction) | Time64(µs), Time64(ns) for scale > 6 |
//! | `timestamp_ntz` (epoch seconds with fraction) | Timestamp(µs or ns, None) |
//! | `timestamp_ltz` | Timestamp(µs or ns, "UTC") |
//! | `timestamp_tz` (`<epoch> <offset + 1440 minutes>`) | Timestamp(µs or ns, "UTC"): the exact instant (see below) |
//! | `binary` (hex) | Binary |
//! | `variant`, `object`, `array`, `map`, `geography`, `geometry`, `vector` | Utf8 (JSON or the API's text) |
//!
//! NULL is kept everywhere. An unknown type is passed through as Utf8.
//!
//! `TIMESTAMP_TZ` keeps an offset per row, which an Arrow timestamp column cannot: its time
//! zone belongs to the whole column. The column therefore holds exact UTC instants, the same
//! choice Snowflake's own Python connector makes when it exports Arrow, so comparisons, sorting
//! and arithmetic are right and a chart shows one consistent time line. A malformed offset is
//! a conversion error, never silently zero. When the wall-clock offset itself matters, select
//! it as a column: `TIMEZONE_HOUR(ts) * 60 + TIMEZONE_MINUTE(ts)` (minutes east of UTC) or
//! `TO_VARCHAR(ts)`; [`timestamp_tz_offset_minutes`] decodes it from the wire text.
//!
//! The SQL API v2 answers only in `jsonv2` (its `resultSetMetaData.format` has no other value),
//! so Snowflake's Arrow encoding of `TIMESTAMP_TZ` (a struct of epoch, fraction and time zone)
//! never reaches this connector.
//!
//! # Introspection
//!
//! [`Connector::catalog`] sends three statements for the whole database (or the configured
//! schema), concurrently: the columns of every table joined with `INFORMATION_SCHEMA.TABLES`
//! (types, nullability, comments, table type and comment, `ROW_COUNT`), `SHOW PRIMARY KEYS`
//! and `SHOW IMPORTED KEYS` (Snowflake's `INFORMATION_SCHEMA` has no key-column view; the
//! result columns read are `schema_name`, `table_name`, `column_name`, `key_sequence`,
//! `constraint_name` and `fk_schema_name`, `fk_table_name`, `fk_column_name`, `fk_name`,
//! `pk_schema_name`, `pk_table_name`, `pk_column_name`). Snowflake does not enforce primary or
//! foreign keys, but declared ones describe the model and are reported.
//! [`Connector::table_schema`] runs the same three shapes for one table.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    PrimitiveArray, RecordBatch, StringArray,
};
use arrow::datatypes::{
    DataType, Field, Schema, SchemaRef, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampNanosecondType,
};
use async_trait::async_trait;
use base64::Engine as _;
use futures::StreamExt;
use jsonwebtoken::EncodingKey;
use metricchat_core::connector::{
    Capabilities, Connector, ConnectorInfo, CostEstimate, Dialect, LimitStream, QueryLimits,
    QueryOptions, SendableRecordBatchStream, TableRef, TableSchema,
};
use metricchat_core::error::{Error, ErrorKind, Result};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use metricchat_core::retry::RetryPolicy;

use crate::rest::auth::{sign_rs256, unix_now};
use crate::rest::catalog::{KeyColumn, NamedRows, assemble_catalog};
use crate::rest::http::{
    bad_response, body_text, http_client, http_error, retry_policy, send_retrying, transport_error,
};
use crate::rest::{
    conversion_error, decode_hex, parse_conn_url, parse_scaled, sql_string, unknown_param,
};

mod auth;
mod config;
mod estimate;
#[cfg(test)]
mod fuzz;
mod statement;
mod types;

use auth::*;
pub use config::SnowflakeConfig;
pub use types::timestamp_tz_offset_minutes;
use types::*;

/// The backend name in [`ConnectorInfo::backend`].
pub const BACKEND: &str = "snowflake";

/// One column of a result as described by `resultSetMetaData.rowType`.
#[derive(Debug, Clone, Deserialize)]
struct RowType {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    precision: Option<u32>,
    #[serde(default)]
    scale: Option<i64>,
    #[serde(default = "yes")]
    nullable: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartitionInfo {
    row_count: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    row_type: Vec<RowType>,
    #[serde(default)]
    partition_info: Vec<PartitionInfo>,
}

/// The body of every statements response: a result set, a status or a failure.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct StatementResponse {
    code: Option<String>,
    message: Option<String>,
    sql_state: Option<String>,
    statement_handle: Option<String>,
    statement_status_url: Option<String>,
    result_set_meta_data: Option<Meta>,
    data: Option<Vec<Vec<Option<String>>>>,
}

/// Raw rows, all values text.
type Rows = Vec<Vec<Option<String>>>;

/// A finished statement: its columns, first partition and the row counts of the others.
struct Finished {
    handle: String,
    row_types: Vec<RowType>,
    first: Rows,
    partitions: Vec<u64>,
}

struct Inner {
    name: String,
    config: SnowflakeConfig,
    base_url: String,
    auth: Auth,
    http: reqwest::Client,
}

/// A Snowflake connection over the SQL API (see the module docs).
#[derive(Clone)]
pub struct SnowflakeConnector {
    inner: Arc<Inner>,
}

impl fmt::Debug for SnowflakeConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnowflakeConnector")
            .field("name", &self.inner.name)
            .field("base_url", &self.inner.base_url)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl SnowflakeConnector {
    /// A connection from a `snowflake://` URL (reads the private key file now).
    pub fn from_url(url: &str) -> Result<Self> {
        Self::new(SnowflakeConfig::from_url(url)?)
    }

    /// A connection from a config (reads the private key file now; no request is sent).
    pub fn new(config: SnowflakeConfig) -> Result<Self> {
        if config.account.trim().is_empty() {
            return Err(Error::config(BACKEND, "`account` is required"));
        }
        let lifetime = config
            .jwt_lifetime
            .clamp(Duration::from_secs(1), Duration::from_secs(3600));
        let auth = if let Some(token) = &config.token {
            Auth::OAuth(token.clone())
        } else {
            let pem = match (&config.private_key, &config.private_key_path) {
                (Some(pem), _) => pem.expose_secret().to_string(),
                (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                    Error::config(
                        BACKEND,
                        format!("cannot read private_key_path `{}`: {e}", path.display()),
                    )
                })?,
                (None, None) => {
                    return Err(Error::config(
                        BACKEND,
                        "no credentials: give `private_key_path` (key-pair) or `token` (OAuth)",
                    ));
                }
            };
            let user = config
                .user
                .as_deref()
                .ok_or_else(|| Error::config(BACKEND, "key-pair authentication needs `user`"))?;
            Auth::KeyPair(KeyPair::new(&config.account, user, &pem, lifetime)?)
        };
        let base_url = config
            .base_url
            .clone()
            .unwrap_or_else(|| {
                format!(
                    "https://{}.snowflakecomputing.com",
                    config.account.to_ascii_lowercase()
                )
            })
            .trim_end_matches('/')
            .to_string();
        let http = http_client(BACKEND)?;
        let name = config
            .name
            .clone()
            .or_else(|| config.database.clone())
            .unwrap_or_else(|| BACKEND.to_string());
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                config,
                base_url,
                auth,
                http,
            }),
        })
    }

    /// The connection's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Runs a catalog query (all partitions) and returns its rows as text, by column name.
    async fn catalog_rows(&self, sql: &str) -> Result<NamedRows> {
        let limits = QueryLimits::catalog(
            &self.inner.name,
            self.inner
                .config
                .catalog_timeout
                .max(Duration::from_secs(1)),
        );
        let done = self.inner.clone().execute(sql.to_string(), &limits).await?;
        let mut rows = done.first;
        let fetches = (1..done.partitions.len()).map(|i| {
            let inner = self.inner.clone();
            let handle = done.handle.clone();
            async move { inner.partition(&handle, i, None).await }
        });
        let mut parts = futures::stream::iter(fetches)
            .buffered(self.inner.config.max_concurrent_partitions.max(1));
        while let Some(part) = limits.race(parts.next()).await? {
            rows.extend(part?);
        }
        let names = done.row_types.into_iter().map(|rt| rt.name).collect();
        Ok(NamedRows::new(names, rows))
    }

    /// The columns of every table in scope, or of the tables matching `table` (schema and name
    /// as given or upper-cased, Snowflake's folding of unquoted identifiers), with their table's
    /// type, comment and row count: one query joining `INFORMATION_SCHEMA.COLUMNS` and `TABLES`.
    fn columns_sql(&self, table: Option<(&str, &str)>) -> Result<String> {
        let db = quote(self.database()?);
        let name_match = |col: &str, v: &str| {
            format!(
                " AND ({col} = {} OR {col} = {})",
                sql_string(v),
                sql_string(&v.to_ascii_uppercase())
            )
        };
        let filter = match (table, &self.inner.config.schema) {
            (Some((schema, name)), _) => {
                name_match("c.TABLE_SCHEMA", schema) + &name_match("c.TABLE_NAME", name)
            }
            (None, Some(schema)) => format!(" AND c.TABLE_SCHEMA = {}", sql_string(schema)),
            (None, None) => String::new(),
        };
        Ok(format!(
            "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.ORDINAL_POSITION, c.DATA_TYPE, \
             c.NUMERIC_PRECISION, c.NUMERIC_SCALE, c.IS_NULLABLE, c.COMMENT AS COLUMN_COMMENT, \
             t.TABLE_TYPE, t.COMMENT AS TABLE_COMMENT, t.ROW_COUNT \
             FROM {db}.INFORMATION_SCHEMA.COLUMNS c JOIN {db}.INFORMATION_SCHEMA.TABLES t \
             ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
             WHERE c.TABLE_SCHEMA <> 'INFORMATION_SCHEMA'{filter} \
             ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION"
        ))
    }

    /// Primary and foreign key columns in `scope` (`DATABASE DB`, `SCHEMA DB.S`,
    /// `TABLE DB.S.T`) from `SHOW PRIMARY KEYS` and `SHOW IMPORTED KEYS`, run concurrently.
    /// Snowflake's `INFORMATION_SCHEMA` has no `KEY_COLUMN_USAGE`, so SHOW is the one source of
    /// key columns. A role that may not run them (a query error) gets no keys, not a failure.
    async fn keys(&self, scope: &str) -> Result<(Vec<KeyColumn>, Vec<KeyColumn>)> {
        let (show_primary, show_imported) = (
            format!("SHOW PRIMARY KEYS IN {scope}"),
            format!("SHOW IMPORTED KEYS IN {scope}"),
        );
        let (primary, imported) = futures::join!(
            self.catalog_rows(&show_primary),
            self.catalog_rows(&show_imported)
        );
        let tolerate = |r: Result<NamedRows>| match r {
            Err(e) if e.kind() == ErrorKind::QueryFailed => {
                tracing::warn!(connector = %self.inner.name, error = %e, "no key information");
                Ok(NamedRows::default())
            }
            other => other,
        };
        let (primary, imported) = (tolerate(primary)?, tolerate(imported)?);
        let table = |schema: Option<String>, name: Option<String>| {
            Some(TableRef::qualified(schema?, name?))
        };
        let primary = primary
            .iter()
            .filter_map(|r| {
                Some(KeyColumn {
                    table: table(r.text("schema_name"), r.text("table_name"))?,
                    constraint: r.text("constraint_name").unwrap_or_default(),
                    column: r.text("column_name")?,
                    position: r.number("key_sequence").unwrap_or(0),
                    references: None,
                    referenced_column: None,
                    referenced_position: None,
                })
            })
            .collect();
        let foreign = imported
            .iter()
            .filter_map(|r| {
                Some(KeyColumn {
                    table: table(r.text("fk_schema_name"), r.text("fk_table_name"))?,
                    constraint: r.text("fk_name").unwrap_or_default(),
                    column: r.text("fk_column_name")?,
                    position: r.number("key_sequence").unwrap_or(0),
                    references: table(r.text("pk_schema_name"), r.text("pk_table_name")),
                    referenced_column: r.text("pk_column_name"),
                    referenced_position: None,
                })
            })
            .collect();
        Ok((primary, foreign))
    }

    /// The scope of catalog-wide key listings: the configured schema, else the database.
    fn key_scope(&self) -> Result<String> {
        let db = quote(self.database()?);
        Ok(match &self.inner.config.schema {
            Some(schema) => format!("SCHEMA {db}.{}", quote(schema)),
            None => format!("DATABASE {db}"),
        })
    }

    fn database(&self) -> Result<&str> {
        self.inner.config.database.as_deref().ok_or_else(|| {
            Error::invalid_input(
                "the Snowflake connection names no database (snowflake://ACCOUNT/DATABASE/SCHEMA)",
            )
        })
    }
}

const TABLES_SQL: &str = "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE FROM {db}.INFORMATION_SCHEMA.TABLES \
     WHERE TABLE_SCHEMA <> 'INFORMATION_SCHEMA'{filter} ORDER BY TABLE_SCHEMA, TABLE_NAME";

#[async_trait]
impl Connector for SnowflakeConnector {
    fn info(&self) -> ConnectorInfo {
        ConnectorInfo {
            name: self.inner.name.clone(),
            backend: BACKEND.into(),
            dialect: Dialect::Snowflake,
            capabilities: Capabilities::none()
                .with_cancel(true)
                .with_explain(true)
                .with_estimate(true)
                .with_run_as_role(true)
                .with_run_as_token(true),
        }
    }

    /// `EXPLAIN USING JSON`: the bytes and partitions the statement would scan (compiled, not
    /// run; no warehouse time). Snowflake gives no row estimate.
    async fn estimate(&self, sql: &str) -> Result<Option<CostEstimate>> {
        let rows = self
            .catalog_rows(&format!("EXPLAIN USING JSON {sql}"))
            .await?;
        let text = rows
            .rows
            .first()
            .and_then(|r| r.first())
            .and_then(Option::as_deref);
        Ok(text.and_then(estimate::parse_explain))
    }

    async fn test_connection(&self) -> Result<()> {
        let limits = QueryLimits::catalog(&self.inner.name, Duration::from_secs(30));
        self.inner
            .clone()
            .execute("SELECT 1".to_string(), &limits)
            .await
            .map(|_| ())
    }

    /// One query on `DATABASE.INFORMATION_SCHEMA.TABLES` (limited to the schema when the
    /// connection names one).
    async fn list_tables(&self) -> Result<Vec<TableRef>> {
        let db = quote(self.database()?);
        let filter = match &self.inner.config.schema {
            Some(s) => format!(" AND TABLE_SCHEMA = {}", sql_string(s)),
            None => String::new(),
        };
        let sql = TABLES_SQL.replace("{db}", &db).replace("{filter}", &filter);
        let rows = self.catalog_rows(&sql).await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(TableRef::qualified(
                    r.text("TABLE_SCHEMA")?,
                    r.text("TABLE_NAME")?,
                ))
            })
            .collect())
    }

    /// The columns query of [`SnowflakeConnector::catalog`] limited to one table, then its keys
    /// (`SHOW … KEYS IN TABLE`): three statements, the same shapes as the catalog's.
    async fn table_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let schema = table
            .schema
            .clone()
            .or_else(|| self.inner.config.schema.clone())
            .unwrap_or_else(|| "PUBLIC".to_string());
        let columns = self
            .catalog_rows(&self.columns_sql(Some((&schema, &table.name)))?)
            .await?;
        let not_found = || Error::NotFound {
            what: "table",
            name: format!("{schema}.{}", table.name),
        };
        // Both `orders` and `ORDERS` may exist; the exact spelling wins.
        let found = columns
            .iter()
            .filter_map(|r| Some((r.text("TABLE_SCHEMA")?, r.text("TABLE_NAME")?)))
            .min_by_key(|(_, name)| name != &table.name)
            .ok_or_else(not_found)?;
        let scope = format!(
            "TABLE {}.{}.{}",
            quote(self.database()?),
            quote(&found.0),
            quote(&found.1)
        );
        let (primary, foreign) = self.keys(&scope).await?;
        let wanted = TableRef::qualified(found.0, found.1);
        assemble_catalog(&columns, &primary, &foreign)
            .into_iter()
            .find(|t| t.table == wanted)
            .ok_or_else(not_found)
    }

    /// Three statements for the whole database (or the configured schema), run concurrently:
    /// the columns of every table joined with their table's type, comment and row count, `SHOW
    /// PRIMARY KEYS` and `SHOW IMPORTED KEYS`.
    async fn catalog(&self) -> Result<Vec<TableSchema>> {
        let sql = self.columns_sql(None)?;
        let scope = self.key_scope()?;
        let (columns, keys) = futures::join!(self.catalog_rows(&sql), self.keys(&scope));
        let (primary, foreign) = keys?;
        Ok(assemble_catalog(&columns?, &primary, &foreign))
    }

    /// With [`QueryOptions::run_as`], the statement runs with the user's role (the request's
    /// `role` field, replacing the connection's) and, given a token, as the user: their OAuth
    /// token authorises the statement, its polls, result partitions and cancel in place of the
    /// connection's login (Snowflake then applies that user's grants and default role).
    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        if let Some(c) = &opts.run_as {
            c.check_supported(&self.info())?;
        }
        let limits = QueryLimits::new(&self.inner.name, opts);
        let done = self.inner.clone().execute(sql.to_string(), &limits).await?;
        let schema = schema_of(&done.row_types);
        let first = to_batch(&self.inner.name, &schema, &done.row_types, &done.first)?;
        // Only the partitions the row cap needs.
        let mut needed = done.partitions.len().max(1);
        if let Some(cap) = limits.max_rows {
            let mut seen = 0u64;
            for (i, rows) in done.partitions.iter().enumerate() {
                seen += rows;
                if seen >= u64::try_from(cap).unwrap_or(u64::MAX) {
                    needed = i + 1;
                    break;
                }
            }
        }
        let row_types = Arc::new(done.row_types);
        let handle = done.handle;
        let inner = self.inner.clone();
        let user_token = limits.run_as.as_ref().and_then(|c| c.token.clone());
        let schema_for_rest = schema.clone();
        let rest = futures::stream::iter(1..needed)
            .map(move |i| {
                let inner = inner.clone();
                let handle = handle.clone();
                let row_types = row_types.clone();
                let schema = schema_for_rest.clone();
                let user_token = user_token.clone();
                async move {
                    let rows = inner.partition(&handle, i, user_token.as_ref()).await?;
                    to_batch(&inner.name, &schema, &row_types, &rows)
                }
            })
            .buffered(self.inner.config.max_concurrent_partitions.max(1));
        let batches = futures::stream::once(async move { Ok(first) }).chain(rest);
        Ok(LimitStream::new(schema, batches, limits).boxed())
    }
}

/// Quotes an identifier unless it is a plain upper-case name.
fn quote(ident: &str) -> String {
    let plain = ident
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && ident.starts_with(|c: char| c.is_ascii_uppercase() || c == '_');
    if plain {
        ident.to_string()
    } else {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn url_parses_and_hides_secrets() {
        let c = SnowflakeConfig::from_url(
            "snowflake://xy12345.eu-west-1/SALES/PUBLIC?warehouse=WH&role=R&user=me&token=secret",
        )
        .unwrap();
        assert_eq!(c.account, "xy12345.eu-west-1");
        assert_eq!(c.database.as_deref(), Some("SALES"));
        assert_eq!(c.schema.as_deref(), Some("PUBLIC"));
        assert_eq!(c.warehouse.as_deref(), Some("WH"));
        assert!(!format!("{c:?}").contains("secret"));
        let e = SnowflakeConfig::from_url("snowflake://a/b?colour=red").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = SnowflakeConnector::new(SnowflakeConfig::from_url("snowflake://a/b").unwrap())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(quote("SALES"), "SALES");
        assert_eq!(quote("my db"), "\"my db\"");
    }
}
