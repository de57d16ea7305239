//! The [`Connector`] trait every warehouse implements, and the Arrow stream it returns.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

mod credentials;
mod estimate;
mod stream;

pub(crate) use credentials::resolve as resolve_credentials;
pub use credentials::{CredentialProvider, Credentials};
pub use estimate::{CostEstimate, whole as whole_estimate};
pub use stream::{
    LimitStream, QueryLimits, RecordBatchStream, RecordBatchStreamAdapter,
    SendableRecordBatchStream, sleep_until,
};

/// Collects a stream into its schema and batches.
pub async fn collect_stream(mut stream: SendableRecordBatchStream) -> Result<QueryData> {
    let schema = stream.schema();
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        batches.push(batch?);
    }
    Ok(QueryData { schema, batches })
}

/// A fully collected query result.
#[derive(Debug, Clone)]
pub struct QueryData {
    /// The result's schema.
    pub schema: SchemaRef,
    /// The batches, in order.
    pub batches: Vec<RecordBatch>,
}

impl QueryData {
    /// Total rows across all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// SQL dialect of a connection; decides the guard's parser and the prompts' SQL flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Dialect {
    /// ANSI-ish SQL.
    Generic,
    /// Apache DataFusion (PostgreSQL-like).
    DataFusion,
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
    /// Amazon Redshift.
    Redshift,
    /// Snowflake.
    Snowflake,
    /// Google BigQuery.
    BigQuery,
    /// DuckDB.
    DuckDb,
}

impl Dialect {
    /// A human name for prompts ("PostgreSQL", "DataFusion", …).
    pub fn display_name(self) -> &'static str {
        match self {
            Dialect::Generic => "ANSI SQL",
            Dialect::DataFusion => "Apache DataFusion SQL (PostgreSQL-like)",
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL",
            Dialect::Redshift => "Amazon Redshift",
            Dialect::Snowflake => "Snowflake",
            Dialect::BigQuery => "BigQuery Standard SQL",
            Dialect::DuckDb => "DuckDB",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// What a connector can do, declared up front instead of failing at run time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// Running queries can be cancelled at the engine.
    pub cancel: bool,
    /// `EXPLAIN` is supported.
    pub explain: bool,
    /// A dry run can estimate cost before running (BigQuery's bytes processed).
    pub dry_run_cost: bool,
    /// [`Connector::estimate`] gives a [`CostEstimate`] (from `EXPLAIN` or a dry run) before a
    /// statement runs.
    #[serde(default)]
    pub estimate: bool,
    /// The engine stops reading once the row cap is reached.
    pub limit_pushdown: bool,
    /// Queries run inside a read-only transaction or session.
    pub read_only_transactions: bool,
    /// A query can run as a database role ([`QueryOptions::run_as`] with a role).
    #[serde(default)]
    pub run_as_role: bool,
    /// A query can run with a per-user token ([`QueryOptions::run_as`] with a token).
    #[serde(default)]
    pub run_as_token: bool,
}

impl Capabilities {
    /// All capabilities off; set fields with struct update syntax.
    pub fn none() -> Self {
        Self::default()
    }

    /// Builder-style setter for [`Capabilities::cancel`].
    pub fn with_cancel(mut self, v: bool) -> Self {
        self.cancel = v;
        self
    }

    /// Builder-style setter for [`Capabilities::explain`].
    pub fn with_explain(mut self, v: bool) -> Self {
        self.explain = v;
        self
    }

    /// Builder-style setter for [`Capabilities::limit_pushdown`].
    pub fn with_limit_pushdown(mut self, v: bool) -> Self {
        self.limit_pushdown = v;
        self
    }

    /// Builder-style setter for [`Capabilities::read_only_transactions`].
    pub fn with_read_only_transactions(mut self, v: bool) -> Self {
        self.read_only_transactions = v;
        self
    }

    /// Builder-style setter for [`Capabilities::dry_run_cost`].
    pub fn with_dry_run_cost(mut self, v: bool) -> Self {
        self.dry_run_cost = v;
        self
    }

    /// Builder-style setter for [`Capabilities::estimate`].
    pub fn with_estimate(mut self, v: bool) -> Self {
        self.estimate = v;
        self
    }

    /// Builder-style setter for [`Capabilities::run_as_role`].
    pub fn with_run_as_role(mut self, v: bool) -> Self {
        self.run_as_role = v;
        self
    }

    /// Builder-style setter for [`Capabilities::run_as_token`].
    pub fn with_run_as_token(mut self, v: bool) -> Self {
        self.run_as_token = v;
        self
    }
}

/// Static facts about a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    /// The connection's name, unique within an agent (`flights`, `warehouse`).
    pub name: String,
    /// The backend (`datafusion`, `postgres`, …).
    pub backend: String,
    /// SQL dialect.
    pub dialect: Dialect,
    /// What it can do.
    pub capabilities: Capabilities,
}

/// A table's qualified name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableRef {
    /// Schema (namespace), if the backend has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Table or view name.
    pub name: String,
}

impl TableRef {
    /// A table with no schema qualifier.
    pub fn bare(name: impl Into<String>) -> Self {
        Self {
            schema: None,
            name: name.into(),
        }
    }

    /// A schema-qualified table.
    pub fn qualified(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schema: Some(schema.into()),
            name: name.into(),
        }
    }

    /// Parses `name` or `schema.name`.
    pub fn parse(s: &str) -> Self {
        match s.rsplit_once('.') {
            Some((schema, name)) if !schema.is_empty() => Self::qualified(schema, name),
            _ => Self::bare(s),
        }
    }

    /// Whether `other` (as typed by a model, any case, with or without schema) names this table.
    pub fn matches(&self, other: &str) -> bool {
        let other = other.trim().trim_matches('"').trim_matches('`');
        if other.eq_ignore_ascii_case(&self.name) {
            return true;
        }
        other.eq_ignore_ascii_case(&self.to_string())
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Whether a relation is a table or a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    /// A base table (or file).
    #[default]
    Table,
    /// A view.
    View,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// The engine's type name (`BIGINT`, `Utf8`, …).
    pub data_type: String,
    /// Whether NULLs are allowed.
    pub nullable: bool,
    /// The column comment or description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A foreign key from some columns of a table to another table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Columns in this table.
    pub columns: Vec<String>,
    /// Referenced table.
    pub references: TableRef,
    /// Referenced columns.
    pub referenced_columns: Vec<String>,
}

/// Full description of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// The table.
    pub table: TableRef,
    /// Table or view.
    #[serde(default)]
    pub kind: TableKind,
    /// Columns in order.
    pub columns: Vec<ColumnInfo>,
    /// Table comment or description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Primary key columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// Foreign keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    /// Estimated row count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_estimate: Option<u64>,
}

/// Limits for one query.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueryOptions {
    /// Stop after this many rows (the stream is truncated, not failed).
    pub max_rows: Option<usize>,
    /// Fail with [`Error::Timeout`] if the query has not finished by then.
    pub timeout: Option<Duration>,
    /// Cancels the query when triggered.
    pub cancel: CancellationToken,
    /// The identity the query runs as instead of the pool's login (see [`Credentials`]). A
    /// connector that cannot honour it refuses the query with [`Error::RunAs`]; it never runs
    /// it as its login instead.
    pub run_as: Option<Credentials>,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            max_rows: Some(10_000),
            timeout: Some(Duration::from_secs(60)),
            cancel: CancellationToken::new(),
            run_as: None,
        }
    }
}

impl QueryOptions {
    /// Sets the row cap.
    pub fn with_max_rows(mut self, rows: Option<usize>) -> Self {
        self.max_rows = rows;
        self
    }

    /// Sets the time limit.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the cancellation token.
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Sets the identity the query runs as (`None`: the pool's login).
    pub fn with_run_as(mut self, run_as: Option<Credentials>) -> Self {
        self.run_as = run_as.filter(|c| !c.is_empty());
        self
    }
}

/// A data source the agent can query: one warehouse connection.
///
/// Required methods are the few without which a connector means nothing; the rest have defaults.
#[async_trait]
pub trait Connector: Send + Sync + fmt::Debug {
    /// Name, backend, dialect and capabilities.
    fn info(&self) -> ConnectorInfo;

    /// Checks that the backend is reachable and usable.
    async fn test_connection(&self) -> Result<()> {
        self.list_tables().await.map(|_| ())
    }

    /// Lists tables and views.
    async fn list_tables(&self) -> Result<Vec<TableRef>>;

    /// Describes one table.
    async fn table_schema(&self, table: &TableRef) -> Result<TableSchema>;

    /// Describes every table at once, for indexing large catalogs. The default lists the tables
    /// and describes them one by one (eight at a time); connectors to engines with a catalog
    /// override it with a few catalog queries, so 10,000 tables take seconds, not minutes.
    /// Tables that fail to describe (dropped meanwhile, no privilege) are left out.
    async fn catalog(&self) -> Result<Vec<TableSchema>> {
        use futures::StreamExt;
        let tables = self.list_tables().await?;
        let schemas: Vec<Result<TableSchema>> = futures::stream::iter(tables)
            .map(|t| async move { self.table_schema(&t).await })
            .buffered(8)
            .collect()
            .await;
        Ok(schemas.into_iter().filter_map(Result::ok).collect())
    }

    /// Runs one read-only SQL statement and streams its result.
    ///
    /// Implementations honour `opts.max_rows` (truncating), `opts.timeout` and `opts.cancel`.
    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream>;

    /// What the engine expects `sql` to cost, without running it (`EXPLAIN`, a dry run);
    /// `Ok(None)` when the engine cannot tell (the default). Connectors that override it
    /// declare [`Capabilities::estimate`]. Used by the approval preflight
    /// ([`crate::approval::ApprovalPolicy`]); runs as the connection's login.
    async fn estimate(&self, sql: &str) -> Result<Option<CostEstimate>> {
        let _ = sql;
        Ok(None)
    }

    /// Returns up to `rows` rows of a table.
    async fn sample(&self, table: &TableRef, rows: usize) -> Result<QueryData> {
        let sql = format!(
            "SELECT * FROM {} LIMIT {rows}",
            quote_table(self.info().dialect, table)
        );
        let stream = self
            .query(&sql, QueryOptions::default().with_max_rows(Some(rows)))
            .await?;
        collect_stream(stream).await
    }
}

/// Quotes an identifier for `dialect`.
pub fn quote_ident(dialect: Dialect, ident: &str) -> String {
    match dialect {
        Dialect::MySql | Dialect::BigQuery => format!("`{}`", ident.replace('`', "``")),
        _ => format!("\"{}\"", ident.replace('"', "\"\"")),
    }
}

/// Quotes a possibly schema-qualified table name for `dialect`.
pub fn quote_table(dialect: Dialect, table: &TableRef) -> String {
    match &table.schema {
        Some(s) => format!(
            "{}.{}",
            quote_ident(dialect, s),
            quote_ident(dialect, &table.name)
        ),
        None => quote_ident(dialect, &table.name),
    }
}

/// Shared handle to a connector.
pub type ConnectorRef = Arc<dyn Connector>;

/// Looks up a connection by name among `connections`; `None` picks the only (or first) one.
pub fn find_connection<'a>(
    connections: &'a [ConnectorRef],
    name: Option<&str>,
) -> Result<&'a ConnectorRef> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => connections.first().ok_or_else(|| Error::NotFound {
            what: "connection",
            name: "(any)".into(),
        }),
        Some(n) => connections
            .iter()
            .find(|c| c.info().name.eq_ignore_ascii_case(n))
            .or_else(|| (connections.len() == 1).then(|| &connections[0]))
            .ok_or_else(|| Error::NotFound {
                what: "connection",
                name: n.to_string(),
            }),
    }
}

/// A shared connector is a connector (every method forwarded, overrides kept).
#[async_trait]
impl<T: Connector + ?Sized> Connector for Arc<T> {
    fn info(&self) -> ConnectorInfo {
        (**self).info()
    }
    async fn test_connection(&self) -> Result<()> {
        (**self).test_connection().await
    }
    async fn list_tables(&self) -> Result<Vec<TableRef>> {
        (**self).list_tables().await
    }
    async fn table_schema(&self, table: &TableRef) -> Result<TableSchema> {
        (**self).table_schema(table).await
    }
    async fn catalog(&self) -> Result<Vec<TableSchema>> {
        (**self).catalog().await
    }
    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        (**self).query(sql, opts).await
    }
    async fn sample(&self, table: &TableRef, rows: usize) -> Result<QueryData> {
        (**self).sample(table, rows).await
    }
    async fn estimate(&self, sql: &str) -> Result<Option<CostEstimate>> {
        (**self).estimate(sql).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_refs_parse_and_match() {
        let t = TableRef::parse("public.flights");
        assert_eq!(t, TableRef::qualified("public", "flights"));
        assert!(t.matches("FLIGHTS"));
        assert!(t.matches("public.flights"));
        assert!(!t.matches("airlines"));
        assert_eq!(quote_table(Dialect::Postgres, &t), "\"public\".\"flights\"");
        assert_eq!(quote_ident(Dialect::MySql, "a`b"), "`a``b`");
    }
}
