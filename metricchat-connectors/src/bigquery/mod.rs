//! Google BigQuery over the REST API v2 (`jobs.query` and `jobs.getQueryResults`):
//! `bigquery://PROJECT/DATASET?location=EU&credentials_path=/keys/sa.json&maximum_bytes_billed=1000000000`.
//!
//! ```no_run
//! # async fn demo() -> metricchat_core::error::Result<()> {
//! use metricchat_core::connector::{Connector, QueryOptions, collect_stream};
//! let bq = metricchat_connectors::bigquery::BigQueryConnector::from_url(
//!     "bigquery://my-project/sales?location=EU&credentials_path=/keys/sa.json",
//! )?;
//! let bytes = bq.estimate_bytes("SELECT * FROM sales.orders").await?; // a dry run, free
//! let data = collect_stream(bq.query("SELECT 1 AS one", QueryOptions::default()).await?).await?;
//! # Ok(()) }
//! ```
//!
//! URL parameters: `location` (`US`, `EU`, `europe-west1`, …), `credentials_path` (a
//! service-account JSON key file) or `token` (an OAuth access token used as is),
//! `maximum_bytes_billed`, `name` (the connection's name; default the dataset, else the project),
//! `api_base` (default `https://bigquery.googleapis.com`) and `token_uri` (default: the key
//! file's). [`BigQueryConfig`] holds the same and more and deserialises from a map.
//!
//! # Authentication
//!
//! A service account signs an RS256 JWT (issuer the account's e-mail, scope
//! `https://www.googleapis.com/auth/bigquery`, audience the token URI, one hour) and trades it at
//! the token URI (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`) for an access token,
//! cached until shortly before its `expires_in` and fetched again then, or at once after a 401.
//!
//! # Queries, limits and cancellation
//!
//! `POST /bigquery/v2/projects/{project}/queries` with standard SQL (`useLegacySql: false`), the
//! default dataset, `location`, `maximumBytesBilled`, `labels`, a `requestId` (so a retried
//! request never starts a second job), `maxResults` (page size, at most the row cap) and
//! `timeoutMs` (at most the time left). While `jobComplete` is false the job is polled with
//! `GET …/queries/{jobId}`; further pages follow `pageToken` lazily, and no page past the row
//! cap is fetched. On cancel or deadline, `POST …/jobs/{jobId}/cancel` stops the job. 429 and
//! 5xx answers are retried with exponential backoff.
//!
//! Bytes: [`BigQueryConnector::estimate_bytes`] runs a dry run (`dryRun: true`, free) and returns
//! `totalBytesProcessed`. With `maximum_bytes_billed` set, BigQuery itself refuses a larger
//! query before it runs; that refusal (`bytesBilledLimitExceeded`) becomes [`Error::Query`] with
//! that code. BigQuery has no read-only session: the SQL guard and the credentials' IAM roles keep
//! writes out (grant `roles/bigquery.dataViewer` and `roles/bigquery.jobUser`).
//!
//! Errors (`error.code/status/message/errors[].reason`): 401, `UNAUTHENTICATED`, `accessDenied`
//! → [`Error::Provider`] with kind `Unauthorized`; `rateLimitExceeded`, `quotaExceeded`, 429
//! after the retries → kind `RateLimited`; `invalidQuery`, `notFound` and other 400/404 →
//! [`Error::Query`] with the reason as `code`; `stopped` → [`Error::Cancelled`]; 5xx →
//! [`Error::Connection`].
//!
//! # Type mapping
//!
//! | BigQuery | Arrow |
//! | --- | --- |
//! | `INT64` | Int64 |
//! | `FLOAT64` | Float64 (`NaN`, `Infinity`, `-Infinity` kept) |
//! | `NUMERIC`, `NUMERIC(p)`, `NUMERIC(p, s)` | Decimal128(38, 9), Decimal128(p, 0), Decimal128(p, s) |
//! | `BIGNUMERIC`, `BIGNUMERIC(p)`, `BIGNUMERIC(p, s)` | Decimal256(76, 38), Decimal256(p, 0), Decimal256(p, s) |
//! | `BOOL` | Boolean |
//! | `STRING` | Utf8 |
//! | `BYTES` (base64 on the wire) | Binary |
//! | `DATE` | Date32 |
//! | `TIME` | Time64(µs) |
//! | `DATETIME` | Timestamp(µs, None) |
//! | `TIMESTAMP` (float seconds, or int64 microseconds) | Timestamp(µs, "UTC") |
//! | `JSON`, `GEOGRAPHY` (WKT), `INTERVAL`, `RANGE` | Utf8 |
//! | `REPEATED` mode | List of the element type |
//! | `RECORD` / `STRUCT` | Struct of the mapped fields |
//!
//! NULL is kept everywhere; decimals are parsed from their text exactly, never through a float.
//!
//! # Introspection
//!
//! [`Connector::catalog`] sends two queries for the whole dataset, concurrently: one joins
//! `INFORMATION_SCHEMA.COLUMNS` (types, nullability), `TABLES` (table type),
//! `COLUMN_FIELD_PATHS` (column descriptions), `TABLE_OPTIONS` (`option_name = 'description'`,
//! whose `option_value` is a quoted literal) and the dataset's `__TABLES__` (`row_count`); the
//! other joins `KEY_COLUMN_USAGE`, `TABLE_CONSTRAINTS` and `CONSTRAINT_COLUMN_USAGE` for the
//! primary and foreign keys BigQuery records but does not enforce (a foreign key's referenced
//! columns come from the referenced primary key, by `position_in_unique_constraint`). Without a
//! dataset in the URL, the region's views are read (`region-LOCATION`, row counts from
//! `TABLE_STORAGE.total_rows`) and keys are left out, since the key views need a dataset
//! qualifier. [`Connector::table_schema`] runs the same two queries limited to one table. Every
//! `INFORMATION_SCHEMA` query is billed at least 10 MB on on-demand pricing.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Decimal256Array,
    Float64Array, Int64Array, ListArray, RecordBatch, RecordBatchOptions, StringArray, StructArray,
    Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use base64::Engine as _;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
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
use serde_json::{Value, json};
use tokio::time::Instant;

use metricchat_core::retry::RetryPolicy;

use crate::rest::auth::{sign_rs256, unix_now};
use crate::rest::catalog::{KeyColumn, NamedRows, assemble_catalog};
use crate::rest::http::{
    bad_response, body_text, http_client, http_error, retry_policy, send_retrying, transport_error,
};
use crate::rest::{
    bad_url, conversion_error, parse_conn_url, parse_scaled, parse_scaled_256, sql_string,
    unknown_param,
};

mod auth;
mod config;
#[cfg(test)]
mod fuzz;
mod job;
mod types;

use auth::*;
pub use config::BigQueryConfig;
use types::*;

/// The backend name in [`ConnectorInfo::backend`].
pub const BACKEND: &str = "bigquery";

/// The OAuth scope requested for service accounts.
pub const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";

/// A BigQuery field of a result schema.
#[derive(Debug, Clone, Deserialize)]
struct BqField {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    fields: Vec<BqField>,
    #[serde(default)]
    precision: Option<String>,
    #[serde(default)]
    scale: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct JobReference {
    job_id: String,
    location: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BqSchema {
    fields: Vec<BqField>,
}

/// `QueryResponse` and `GetQueryResultsResponse` (the fields used).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct QueryResponse {
    schema: Option<BqSchema>,
    job_reference: Option<JobReference>,
    page_token: Option<String>,
    rows: Vec<Value>,
    total_bytes_processed: Option<String>,
    job_complete: Option<bool>,
}

struct Inner {
    name: String,
    config: BigQueryConfig,
    api_base: String,
    auth: Auth,
    http: reqwest::Client,
}

/// A BigQuery connection over REST (see the module docs).
#[derive(Clone)]
pub struct BigQueryConnector {
    inner: Arc<Inner>,
}

impl fmt::Debug for BigQueryConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BigQueryConnector")
            .field("name", &self.inner.name)
            .field("api_base", &self.inner.api_base)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl BigQueryConnector {
    /// A connection from a `bigquery://` URL (reads the key file now; no request is sent).
    pub fn from_url(url: &str) -> Result<Self> {
        Self::new(BigQueryConfig::from_url(url)?)
    }

    /// A connection from a config (reads the key file now; no request is sent).
    pub fn new(config: BigQueryConfig) -> Result<Self> {
        if config.project.trim().is_empty() {
            return Err(Error::config(BACKEND, "`project` is required"));
        }
        let auth = if let Some(token) = &config.token {
            Auth::Bearer(token.clone())
        } else {
            let json = match (&config.credentials_json, &config.credentials_path) {
                (Some(j), _) => j.expose_secret().to_string(),
                (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                    Error::config(
                        BACKEND,
                        format!("cannot read credentials_path `{}`: {e}", path.display()),
                    )
                })?,
                (None, None) => {
                    return Err(Error::config(
                        BACKEND,
                        "no credentials: give `credentials_path` (a service-account key file) or \
                         `token`",
                    ));
                }
            };
            let key: ServiceAccountKey = serde_json::from_str(&json).map_err(|e| {
                Error::config(BACKEND, format!("not a service-account key file: {e}"))
            })?;
            let signing = EncodingKey::from_rsa_pem(key.private_key.as_bytes()).map_err(|e| {
                Error::config(
                    BACKEND,
                    format!("the key file's private_key is unusable: {e}"),
                )
            })?;
            let token_uri = config
                .token_uri
                .clone()
                .or(key.token_uri)
                .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_string());
            Auth::ServiceAccount(Box::new(ServiceAccount {
                client_email: key.client_email,
                key: signing,
                key_id: key.private_key_id,
                token_uri,
                cached: tokio::sync::Mutex::new(None),
            }))
        };
        let api_base = config
            .api_base
            .clone()
            .unwrap_or_else(|| "https://bigquery.googleapis.com".to_string())
            .trim_end_matches('/')
            .to_string();
        let http = http_client(BACKEND)?;
        let name = config
            .name
            .clone()
            .or_else(|| config.dataset.clone())
            .unwrap_or_else(|| config.project.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                config,
                api_base,
                auth,
                http,
            }),
        })
    }

    /// The connection's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Bytes `sql` would scan, from a dry run (free; nothing runs).
    pub async fn estimate_bytes(&self, sql: &str) -> Result<u64> {
        let limits = self.catalog_limits();
        let resp = self.inner.clone().run(sql, &limits, true, None).await?;
        let text = resp.total_bytes_processed.unwrap_or_default();
        text.parse().map_err(|_| {
            bad_response(
                BACKEND,
                &self.inner.name,
                "dry run without totalBytesProcessed",
                &text,
            )
        })
    }

    fn catalog_limits(&self) -> QueryLimits {
        QueryLimits::catalog(
            &self.inner.name,
            self.inner
                .config
                .catalog_timeout
                .max(Duration::from_secs(1)),
        )
    }

    /// Runs a catalog query (all pages) and returns every row's values as text, by column name.
    async fn catalog_rows(&self, sql: &str) -> Result<NamedRows> {
        let limits = self.catalog_limits();
        let first = self.inner.clone().run(sql, &limits, false, None).await?;
        let job = first.job_reference.clone().unwrap_or_default();
        let names = first
            .schema
            .as_ref()
            .map(|s| s.fields.iter().map(|f| f.name.clone()).collect())
            .unwrap_or_default();
        let mut rows = first.rows;
        let mut token = first.page_token;
        while let Some(t) = token.take() {
            let page = limits
                .race(self.inner.results(&job, Some(&t), None, None))
                .await??;
            rows.extend(page.rows);
            token = page.page_token;
        }
        let rows = rows
            .iter()
            .map(|r| {
                cells(r)
                    .iter()
                    .map(|c| match c.get("v") {
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(Value::Null) | None => None,
                        Some(other) => Some(other.to_string()),
                    })
                    .collect()
            })
            .collect();
        Ok(NamedRows::new(names, rows))
    }

    /// Where catalog queries look: the dataset, or without one the location's region.
    fn scope(&self, dataset: Option<&str>) -> Scope {
        let project = &self.inner.config.project;
        match dataset {
            Some(d) => Scope {
                views: format!("`{project}.{d}`.INFORMATION_SCHEMA"),
                row_counts: format!(
                    "(SELECT dataset_id AS table_schema, table_id AS table_name, row_count \
                     FROM `{project}.{d}.__TABLES__`)"
                ),
                keys: true,
            },
            None => {
                let loc = self
                    .inner
                    .config
                    .location
                    .as_deref()
                    .unwrap_or("us")
                    .to_ascii_lowercase();
                let views = format!("`{project}`.`region-{loc}`.INFORMATION_SCHEMA");
                Scope {
                    row_counts: format!(
                        "(SELECT table_schema, table_name, total_rows AS row_count \
                         FROM {views}.TABLE_STORAGE)"
                    ),
                    views,
                    keys: false,
                }
            }
        }
    }

    /// Columns with their types, nullability and descriptions, and their table's type,
    /// description and row count, for every table in `scope` or the one named `table`.
    fn columns_sql(scope: &Scope, table: Option<&str>) -> String {
        let Scope {
            views, row_counts, ..
        } = scope;
        let filter = table.map_or_else(String::new, |t| {
            format!("WHERE c.table_name = {} ", sql_string(t))
        });
        format!(
            "SELECT c.table_schema AS TABLE_SCHEMA, c.table_name AS TABLE_NAME, \
             c.column_name AS COLUMN_NAME, c.ordinal_position AS ORDINAL_POSITION, \
             c.data_type AS DATA_TYPE, c.is_nullable AS IS_NULLABLE, \
             p.description AS COLUMN_COMMENT, t.table_type AS TABLE_TYPE, \
             o.option_value AS TABLE_COMMENT, s.row_count AS ROW_COUNT \
             FROM {views}.COLUMNS c \
             JOIN {views}.TABLES t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             LEFT JOIN {views}.COLUMN_FIELD_PATHS p ON p.table_schema = c.table_schema \
               AND p.table_name = c.table_name AND p.column_name = c.column_name \
               AND p.field_path = c.column_name \
             LEFT JOIN {views}.TABLE_OPTIONS o ON o.table_schema = c.table_schema \
               AND o.table_name = c.table_name AND o.option_name = 'description' \
             LEFT JOIN {row_counts} s ON s.table_schema = c.table_schema AND s.table_name = c.table_name \
             {filter}ORDER BY c.table_schema, c.table_name, c.ordinal_position"
        )
    }

    /// Primary and foreign key columns of the dataset (of one table's foreign keys and every
    /// primary key, which its foreign keys may reference by position).
    fn keys_sql(scope: &Scope, table: Option<&str>) -> String {
        let views = &scope.views;
        let filter = table.map_or_else(String::new, |t| {
            format!(
                "WHERE k.table_name = {} OR tc.constraint_type = 'PRIMARY KEY' ",
                sql_string(t)
            )
        });
        format!(
            "SELECT k.table_schema AS TABLE_SCHEMA, k.table_name AS TABLE_NAME, \
             k.constraint_name AS CONSTRAINT_NAME, tc.constraint_type AS CONSTRAINT_TYPE, \
             k.column_name AS COLUMN_NAME, k.ordinal_position AS ORDINAL_POSITION, \
             k.position_in_unique_constraint AS POSITION_IN_UNIQUE_CONSTRAINT, \
             u.table_schema AS REFERENCED_SCHEMA, u.table_name AS REFERENCED_TABLE, \
             u.column_name AS REFERENCED_COLUMN \
             FROM {views}.KEY_COLUMN_USAGE k \
             JOIN {views}.TABLE_CONSTRAINTS tc ON tc.table_name = k.table_name \
               AND tc.constraint_name = k.constraint_name \
             LEFT JOIN (SELECT constraint_name, ANY_VALUE(table_schema) AS table_schema, \
               ANY_VALUE(table_name) AS table_name, \
               IF(COUNT(*) = 1, ANY_VALUE(column_name), NULL) AS column_name \
               FROM {views}.CONSTRAINT_COLUMN_USAGE GROUP BY constraint_name) u \
               ON u.constraint_name = k.constraint_name AND tc.constraint_type = 'FOREIGN KEY' \
             {filter}ORDER BY k.table_name, k.constraint_name, k.ordinal_position"
        )
    }

    /// Runs the columns query and, where the scope has them, the keys query, concurrently, and
    /// assembles the tables.
    async fn described(&self, scope: &Scope, table: Option<&str>) -> Result<Vec<TableSchema>> {
        let columns_sql = Self::columns_sql(scope, table);
        let keys_sql = Self::keys_sql(scope, table);
        let keys = async {
            if !scope.keys {
                return Ok(NamedRows::default());
            }
            match self.catalog_rows(&keys_sql).await {
                // Key views need `bigquery.tables.get`; without it the tables still describe.
                Err(e)
                    if e.kind() == ErrorKind::QueryFailed
                        || e.kind() == ErrorKind::Unauthorized =>
                {
                    tracing::warn!(connector = %self.inner.name, error = %e, "no key information");
                    Ok(NamedRows::default())
                }
                other => other,
            }
        };
        let (columns, keys) = futures::join!(self.catalog_rows(&columns_sql), keys);
        let (columns, keys) = (columns?, keys?);
        let mut primary = Vec::new();
        let mut foreign = Vec::new();
        for r in keys.iter() {
            let (Some(schema), Some(name), Some(column)) = (
                r.text("TABLE_SCHEMA"),
                r.text("TABLE_NAME"),
                r.text("COLUMN_NAME"),
            ) else {
                continue;
            };
            let is_foreign = r
                .get("CONSTRAINT_TYPE")
                .is_some_and(|t| t.eq_ignore_ascii_case("FOREIGN KEY"));
            let key = KeyColumn {
                table: TableRef::qualified(schema, name),
                constraint: r.text("CONSTRAINT_NAME").unwrap_or_default(),
                column,
                position: r.number("ORDINAL_POSITION").unwrap_or(0),
                references: r.text("REFERENCED_TABLE").map(|t| TableRef {
                    schema: r.text("REFERENCED_SCHEMA"),
                    name: t,
                }),
                referenced_column: r.text("REFERENCED_COLUMN"),
                referenced_position: r.number("POSITION_IN_UNIQUE_CONSTRAINT"),
            };
            if is_foreign {
                foreign.push(key);
            } else {
                primary.push(key);
            }
        }
        let mut tables = assemble_catalog(&columns, &primary, &foreign);
        for t in &mut tables {
            t.comment = t.comment.take().and_then(|c| option_literal(&c));
        }
        Ok(tables)
    }

    fn dataset_of(&self, table: &TableRef) -> Result<String> {
        table
            .schema
            .clone()
            .or_else(|| self.inner.config.dataset.clone())
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "table `{table}` needs a dataset (`dataset.{table}`): the connection URL names \
                     none"
                ))
            })
    }
}

/// The `INFORMATION_SCHEMA` a catalog query reads.
struct Scope {
    /// `` `project.dataset`.INFORMATION_SCHEMA `` or `` `project`.`region-xx`.INFORMATION_SCHEMA ``.
    views: String,
    /// A subquery of `table_schema`, `table_name`, `row_count`.
    row_counts: String,
    /// Whether key views can be read (they need a dataset qualifier).
    keys: bool,
}

/// The text of a `TABLE_OPTIONS.option_value`, which is written as a GoogleSQL literal
/// (`"All orders"`); a value that is not a quoted literal is taken as it is.
fn option_literal(value: &str) -> Option<String> {
    let v = value.trim();
    let inner = v
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')));
    let Some(inner) = inner else {
        return (!v.is_empty()).then(|| v.to_string());
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The `f` cells of a row.
fn cells(row: &Value) -> &[Value] {
    row.get("f")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Percent-encodes one path segment.
fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[async_trait]
impl Connector for BigQueryConnector {
    fn info(&self) -> ConnectorInfo {
        ConnectorInfo {
            name: self.inner.name.clone(),
            backend: BACKEND.into(),
            dialect: Dialect::BigQuery,
            capabilities: Capabilities::none()
                .with_cancel(true)
                .with_dry_run_cost(true)
                .with_estimate(true)
                .with_run_as_token(true),
        }
    }

    /// The bytes a dry run says `sql` would scan ([`BigQueryConnector::estimate_bytes`]; free,
    /// nothing runs).
    async fn estimate(&self, sql: &str) -> Result<Option<CostEstimate>> {
        let bytes = self.estimate_bytes(sql).await?;
        Ok(Some(
            CostEstimate::new("bigquery dry run").with_bytes(Some(bytes)),
        ))
    }

    async fn test_connection(&self) -> Result<()> {
        let limits = self.catalog_limits();
        self.inner
            .clone()
            .run("SELECT 1", &limits, true, None)
            .await
            .map(|_| ())
    }

    /// One query on the dataset's `INFORMATION_SCHEMA.TABLES`, or, without a dataset, on the
    /// region's (`region-LOCATION`, default `us`).
    async fn list_tables(&self) -> Result<Vec<TableRef>> {
        let scope = self.scope(self.inner.config.dataset.as_deref());
        let sql = format!(
            "SELECT table_schema, table_name, table_type FROM {}.TABLES ORDER BY table_schema, \
             table_name",
            scope.views
        );
        Ok(self
            .catalog_rows(&sql)
            .await?
            .iter()
            .filter_map(|r| {
                Some(TableRef::qualified(
                    r.text("table_schema")?,
                    r.text("table_name")?,
                ))
            })
            .collect())
    }

    /// The catalog's two queries limited to one table of its dataset.
    async fn table_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let dataset = self.dataset_of(table)?;
        let scope = self.scope(Some(&dataset));
        self.described(&scope, Some(&table.name))
            .await?
            .into_iter()
            .find(|t| t.table.name == table.name)
            .ok_or_else(|| Error::NotFound {
                what: "table",
                name: format!("{dataset}.{}", table.name),
            })
    }

    /// Two queries, run concurrently: every column of the dataset with its description, table
    /// type, table description (`TABLE_OPTIONS`) and row count (`__TABLES__`), and every key
    /// column (`KEY_COLUMN_USAGE`, `TABLE_CONSTRAINTS`, `CONSTRAINT_COLUMN_USAGE`). Without a
    /// dataset the region's views are read instead (row counts from `TABLE_STORAGE`) and keys
    /// are left out: BigQuery's key views need a dataset qualifier.
    async fn catalog(&self) -> Result<Vec<TableSchema>> {
        let scope = self.scope(self.inner.config.dataset.as_deref());
        self.described(&scope, None).await
    }

    /// With [`QueryOptions::run_as`] holding a token (a user's OAuth access token), the job
    /// runs as that user: the token authorises the job, its result pages and a cancel, so
    /// BigQuery applies the user's own IAM grants and bills their quota. A role is refused
    /// ([`Error::RunAs`]): BigQuery has no per-query role.
    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        if let Some(c) = &opts.run_as {
            c.check_supported(&self.info())?;
        }
        let limits = QueryLimits::new(&self.inner.name, opts);
        let first = self
            .inner
            .clone()
            .run(sql, &limits, false, limits.max_rows)
            .await?;
        let fields = Arc::new(first.schema.map(|s| s.fields).unwrap_or_default());
        let schema = schema_of(&fields);
        let batch = to_batch(&self.inner.name, &schema, &fields, &first.rows)?;
        let seen = first.rows.len();
        struct Pager {
            inner: Arc<Inner>,
            job: JobReference,
            user_token: Option<SecretString>,
            token: Option<String>,
            fields: Arc<Vec<BqField>>,
            schema: SchemaRef,
            left: Option<usize>,
        }
        let pager = Pager {
            inner: self.inner.clone(),
            job: first.job_reference.unwrap_or_default(),
            user_token: limits.run_as.as_ref().and_then(|c| c.token.clone()),
            token: first.page_token,
            fields,
            schema: schema.clone(),
            left: limits.max_rows.map(|m| m.saturating_sub(seen)),
        };
        let rest = futures::stream::unfold(Some(pager), |state| async move {
            let mut p = state?;
            let token = p.token.take()?;
            if p.left == Some(0) {
                return None;
            }
            let page = match p
                .inner
                .results(&p.job, Some(&token), None, p.user_token.as_ref())
                .await
            {
                Ok(page) => page,
                Err(e) => return Some((Err(e), None)),
            };
            let batch = to_batch(&p.inner.name, &p.schema, &p.fields, &page.rows);
            p.left = p.left.map(|l| l.saturating_sub(page.rows.len()));
            p.token = page.page_token;
            Some((batch, Some(p)))
        });
        let batches = futures::stream::once(async move { Ok(batch) }).chain(rest);
        Ok(LimitStream::new(schema, batches, limits).boxed())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn url_parses_and_hides_secrets() {
        let c = BigQueryConfig::from_url(
            "bigquery://my-project/sales?location=EU&maximum_bytes_billed=1000&token=secret",
        )
        .unwrap();
        assert_eq!(c.project, "my-project");
        assert_eq!(c.dataset.as_deref(), Some("sales"));
        assert_eq!(c.location.as_deref(), Some("EU"));
        assert_eq!(c.maximum_bytes_billed, Some(1000));
        assert!(!format!("{c:?}").contains("secret"));
        for bad in [
            "bigquery://p/d?maximum_bytes_billed=lots",
            "bigquery://p/d/extra",
            "bigquery://p?colour=red",
        ] {
            assert_eq!(
                BigQueryConfig::from_url(bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
        let e = BigQueryConnector::from_url("bigquery://p").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn table_option_literals_are_unquoted() {
        assert_eq!(
            option_literal(r#""All \"good\" orders\n""#).as_deref(),
            Some("All \"good\" orders\n")
        );
        assert_eq!(option_literal("'single'").as_deref(), Some("single"));
        assert_eq!(option_literal("bare").as_deref(), Some("bare"));
        assert_eq!(option_literal(r#""""#), None);
    }
}
