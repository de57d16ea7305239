//! SQLite through sqlx: `sqlite:///data/shop.db`, `sqlite://relative/shop.db` or
//! `sqlite::memory:`, each optionally followed by `?name=connection_name`.
//!
//! ```no_run
//! # async fn demo() -> metricchat_core::error::Result<()> {
//! use metricchat_core::connector::{Connector, QueryOptions, collect_stream};
//! let db = metricchat_connectors::sqlite::SqliteConnector::from_url("sqlite:///data/shop.db")?;
//! let data = collect_stream(db.query("SELECT 1 AS one", QueryOptions::default()).await?).await?;
//! # Ok(()) }
//! ```
//!
//! # Read-only, limits and cancellation
//!
//! Files are opened with `SQLITE_OPEN_READONLY`; every query runs with `PRAGMA query_only = ON`,
//! inside its own transaction that is rolled back after (so `VACUUM INTO` and `ATTACH`, which
//! SQLite refuses in a transaction, cannot write new files), and under a commit hook that turns
//! any write transaction into a rollback (so even SQL that switches `query_only` off cannot write
//! to an in-memory database): writes fail in the engine whatever guard sits in front. Rows are
//! streamed into batches of up to 8192 rows. A progress handler on the connection interrupts the statement (SQLite stops
//! stepping) when the caller cancels, the deadline passes, the row cap is reached or the stream
//! is dropped; the connection is then reused. Database errors become [`Error::Query`] with
//! SQLite's extended result code as `code` (SQLite has no SQLSTATE), e.g. `"1"` for
//! `SQLITE_ERROR`, `"8"` for `SQLITE_READONLY`.
//!
//! # Type mapping
//!
//! SQLite is dynamically typed. A result column's Arrow type comes from the declared type of the
//! table column it reads (sqlx's affinity rules; `NUMERIC`/`DECIMAL` columns read as Float64, since
//! SQLite stores their integral values as integers and the rest as reals), and for expressions
//! from the storage class of the column's first non-NULL value in the first batch (Float64 when
//! that batch mixes integers and reals):
//!
//! | declared type / first value | Arrow | accepted values |
//! | --- | --- | --- |
//! | `BOOLEAN`, `BOOL` | Boolean | integers (0 = false), `'true'`/`'false'` |
//! | containing `INT` / INTEGER value | Int64 | integers, integral reals, numeric text |
//! | containing `REAL`, `FLOA`, `DOUB` / REAL value | Float64 | integers, reals, numeric text |
//! | containing `CHAR`, `CLOB`, `TEXT` / TEXT value | Utf8 | anything (numbers as decimal text, UTF-8 blobs) |
//! | containing `BLOB` / BLOB value | Binary | blobs, text (its bytes) |
//! | `DATE` | Date32 | text `YYYY-MM-DD…` |
//! | `TIME` | Time64(µs) | text `HH:MM[:SS[.fff]]` |
//! | `DATETIME`, `TIMESTAMP` | Timestamp(µs, None) | text `YYYY-MM-DD[ T]HH:MM[:SS[.fff]]` (an RFC 3339 offset is converted to UTC), integers as Unix seconds |
//! | no declared type, all NULL in the first batch | Utf8 | anything, as above |
//!
//! NULL is kept everywhere. A value the column's type cannot hold exactly (text `'abc'` in an
//! `INTEGER` column, `1.5` in an `INTEGER` column) fails the query with [`Error::Query`] naming
//! the column, rather than being silently changed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arrow::array::{
    Array, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder,
    RecordBatch, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use futures::StreamExt;
use metricchat_core::connector::{
    Capabilities, ColumnInfo, Connector, ConnectorInfo, Dialect, ForeignKey, QueryLimits,
    QueryOptions, SendableRecordBatchStream, TableKind, TableRef, TableSchema, quote_ident,
    sleep_until,
};
use metricchat_core::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteValueRef};
use sqlx::{
    AssertSqlSafe, Column, Decode, Executor, Row, SqlSafeStr, Sqlite, Statement, TypeInfo, ValueRef,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::sqlx::{BATCH_ROWS, connection_error, conversion_error, query_error};
use crate::task::{SchemaReply, finish_stream};

mod config;
mod types;

pub use config::SqliteConfig;
use types::*;

/// The backend name in [`ConnectorInfo::backend`].
pub const BACKEND: &str = "sqlite";

/// Tables with more rows than this get no row estimate (counting them would be slow).
const COUNT_LIMIT: u64 = 1_000_000;

/// Rows the column builders of a result's first batch are sized for (most results are small;
/// later batches are sized like the one before).
const FIRST_ROWS: usize = 1024;

/// Columns (`c`: cid, name, declared type, notnull, pk) and foreign keys (`f`: id, seq, from
/// column, referenced table, referenced column) of every table and view, in one pass.
const CATALOG_SQL: &str = "\
    SELECT m.name, m.type, 'c', p.cid, 0, p.name, p.type, p.\"notnull\", p.pk \
      FROM sqlite_schema AS m, pragma_table_info(m.name) AS p \
     WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
    UNION ALL \
    SELECT m.name, m.type, 'f', f.id, f.seq, f.\"from\", f.\"table\", f.\"to\", NULL \
      FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
     ORDER BY 1, 3, 4, 5";

/// A pooled, read-only SQLite connection (see the module docs).
pub struct SqliteConnector {
    name: String,
    pool: SqlitePool,
    path: Option<PathBuf>,
}

impl fmt::Debug for SqliteConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteConnector")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteConnector {
    /// A connection from a `sqlite:` URL (see [`SqliteConfig::from_url`]).
    pub fn from_url(url: &str) -> Result<Self> {
        Self::new(SqliteConfig::from_url(url)?)
    }

    /// Opens the database read-only; a missing file is [`Error::NotFound`]. The pool connects
    /// lazily, on first use.
    pub fn new(config: SqliteConfig) -> Result<Self> {
        let busy = config.busy_timeout;
        let (opts, pool, name) = match &config.path {
            Some(path) => {
                if !path.is_file() {
                    return Err(Error::NotFound {
                        what: "SQLite database file",
                        name: path.display().to_string(),
                    });
                }
                let opts = SqliteConnectOptions::new()
                    .filename(path)
                    .read_only(true)
                    .busy_timeout(busy)
                    .pragma("query_only", "ON");
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "sqlite".into());
                (
                    opts,
                    SqlitePoolOptions::new().max_connections(config.max_connections.max(1)),
                    stem,
                )
            }
            None => {
                let opts = SqliteConnectOptions::from_str("sqlite::memory:")
                    .map_err(|e| Error::config(BACKEND, e.to_string()))?
                    .pragma("query_only", "ON");
                // Each connection of `:memory:` is its own database: keep exactly one, forever.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(0)
                    .idle_timeout(None)
                    .max_lifetime(None);
                (opts, pool, "memory".to_string())
            }
        };
        Ok(Self {
            name: config.name.clone().unwrap_or(name),
            pool: pool.connect_lazy_with(opts),
            path: config.path,
        })
    }

    /// The connection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database file, `None` for in-memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// [`Connector::catalog`] in one query (columns and foreign keys of every table and view),
    /// plus one bounded row count per table, as [`Connector::table_schema`] gives them.
    async fn catalog_one_pass(&self) -> Result<Vec<TableSchema>> {
        let err = |e| query_error(&self.name, e);
        let rows = sqlx::query(CATALOG_SQL)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let mut tables: Vec<TableSchema> = Vec::new();
        // Primary key columns with their position in the key, per table.
        let mut pks: Vec<Vec<(i64, String)>> = Vec::new();
        let mut last_fk: Option<i64> = None;
        for r in &rows {
            let table: String = r.try_get(0).map_err(err)?;
            if tables.last().is_none_or(|t| t.table.name != table) {
                let kind: String = r.try_get(1).map_err(err)?;
                tables.push(TableSchema {
                    table: TableRef::bare(table),
                    kind: if kind == "view" {
                        TableKind::View
                    } else {
                        TableKind::Table
                    },
                    columns: Vec::new(),
                    comment: None,
                    primary_key: Vec::new(),
                    foreign_keys: Vec::new(),
                    row_estimate: None,
                });
                pks.push(Vec::new());
                last_fk = None;
            }
            let (Some(t), Some(pk)) = (tables.last_mut(), pks.last_mut()) else {
                continue;
            };
            let what: String = r.try_get(2).map_err(err)?;
            let n: i64 = r.try_get(3).map_err(err)?;
            if what == "c" {
                let col: String = r.try_get(5).map_err(err)?;
                let notnull: i64 = r.try_get(7).map_err(err)?;
                let pk_pos: i64 = r.try_get(8).map_err(err)?;
                if pk_pos > 0 {
                    pk.push((pk_pos, col.clone()));
                }
                t.columns.push(ColumnInfo {
                    name: col,
                    data_type: r.try_get(6).map_err(err)?,
                    nullable: notnull == 0 && pk_pos == 0,
                    comment: None,
                });
            } else {
                let from: String = r.try_get(5).map_err(err)?;
                let target: String = r.try_get(6).map_err(err)?;
                let to: Option<String> = r.try_get(7).map_err(err)?;
                match t.foreign_keys.last_mut() {
                    Some(fk) if last_fk == Some(n) => {
                        fk.columns.push(from);
                        fk.referenced_columns.extend(to);
                    }
                    _ => t.foreign_keys.push(ForeignKey {
                        columns: vec![from],
                        references: TableRef::bare(target),
                        referenced_columns: to.into_iter().collect(),
                    }),
                }
                last_fk = Some(n);
            }
        }
        for (t, mut pk) in tables.iter_mut().zip(pks) {
            pk.sort();
            t.primary_key = pk.into_iter().map(|(_, c)| c).collect();
        }
        let counted: Vec<Option<String>> = tables
            .iter()
            .map(|t| (t.kind == TableKind::Table).then(|| t.table.name.clone()))
            .collect();
        let counts: Vec<Result<Option<u64>>> = futures::stream::iter(counted)
            .map(|name| async move {
                match name {
                    Some(name) => self.row_count(&name).await,
                    None => Ok(None),
                }
            })
            .buffered(4)
            .collect()
            .await;
        for (t, n) in tables.iter_mut().zip(counts) {
            t.row_estimate = n?;
        }
        Ok(tables)
    }

    /// The table's row count, `None` above [`COUNT_LIMIT`].
    async fn row_count(&self, table: &str) -> Result<Option<u64>> {
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {})",
            quote_ident(Dialect::Sqlite, table),
            COUNT_LIMIT + 1
        );
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .map_err(|e| query_error(&self.name, e))?;
        Ok(u64::try_from(n).ok().filter(|n| *n <= COUNT_LIMIT))
    }

    /// The real name (as stored) of `table` in `main`, its kind, or `NotFound`.
    async fn resolve(&self, table: &TableRef) -> Result<(String, TableKind)> {
        if table
            .schema
            .as_deref()
            .is_some_and(|s| !s.eq_ignore_ascii_case("main"))
        {
            return Err(Error::NotFound {
                what: "table",
                name: table.to_string(),
            });
        }
        let row = sqlx::query(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') \
             AND name = ?1 COLLATE NOCASE ORDER BY name = ?1 DESC LIMIT 1",
        )
        .bind(&table.name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| query_error(&self.name, e))?;
        let Some(row) = row else {
            return Err(Error::NotFound {
                what: "table",
                name: table.to_string(),
            });
        };
        let err = |e| query_error(&self.name, e);
        let name: String = row.try_get(0).map_err(err)?;
        let kind: String = row.try_get(1).map_err(err)?;
        Ok((
            name,
            if kind == "view" {
                TableKind::View
            } else {
                TableKind::Table
            },
        ))
    }
}

#[async_trait]
impl Connector for SqliteConnector {
    fn info(&self) -> ConnectorInfo {
        ConnectorInfo {
            name: self.name.clone(),
            backend: BACKEND.into(),
            dialect: Dialect::Sqlite,
            capabilities: Capabilities::none()
                .with_cancel(true)
                .with_explain(true)
                .with_limit_pushdown(true)
                .with_read_only_transactions(true),
        }
    }

    async fn test_connection(&self) -> Result<()> {
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .execute(&self.pool)
            .await
            .map_err(|e| connection_error(&self.name, e))?;
        Ok(())
    }

    async fn list_tables(&self) -> Result<Vec<TableRef>> {
        let rows = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| query_error(&self.name, e))?;
        rows.iter()
            .map(|r| {
                r.try_get::<String, _>(0)
                    .map(TableRef::bare)
                    .map_err(|e| query_error(&self.name, e))
            })
            .collect()
    }

    async fn table_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let (name, kind) = self.resolve(table).await?;
        let err = |e| query_error(&self.name, e);
        let cols = sqlx::query(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        let mut columns = Vec::with_capacity(cols.len());
        let mut pk: Vec<(i64, String)> = Vec::new();
        for r in &cols {
            let col: String = r.try_get(0).map_err(err)?;
            let notnull: i64 = r.try_get(2).map_err(err)?;
            let pk_pos: i64 = r.try_get(3).map_err(err)?;
            if pk_pos > 0 {
                pk.push((pk_pos, col.clone()));
            }
            columns.push(ColumnInfo {
                name: col,
                data_type: r.try_get(1).map_err(err)?,
                nullable: notnull == 0 && pk_pos == 0,
                comment: None,
            });
        }
        pk.sort();
        let fks = sqlx::query(
            "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) \
             ORDER BY id, seq",
        )
        .bind(&name)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        let mut foreign_keys: Vec<(i64, ForeignKey)> = Vec::new();
        for r in &fks {
            let id: i64 = r.try_get(0).map_err(err)?;
            let target: String = r.try_get(1).map_err(err)?;
            let from: String = r.try_get(2).map_err(err)?;
            let to: Option<String> = r.try_get(3).map_err(err)?;
            match foreign_keys.last_mut() {
                Some((last, fk)) if *last == id => {
                    fk.columns.push(from);
                    fk.referenced_columns.extend(to);
                }
                _ => foreign_keys.push((
                    id,
                    ForeignKey {
                        columns: vec![from],
                        references: TableRef::bare(target),
                        referenced_columns: to.into_iter().collect(),
                    },
                )),
            }
        }
        let row_estimate = if kind == TableKind::Table {
            self.row_count(&name).await?
        } else {
            None
        };
        Ok(TableSchema {
            table: TableRef::bare(name),
            kind,
            columns,
            comment: None,
            primary_key: pk.into_iter().map(|(_, c)| c).collect(),
            foreign_keys: foreign_keys.into_iter().map(|(_, fk)| fk).collect(),
            row_estimate,
        })
    }

    /// Every table and view in one pass over `sqlite_schema` with the `pragma_table_info` and
    /// `pragma_foreign_key_list` table-valued functions, then the row counts. A view SQLite
    /// cannot describe (its table was dropped) fails that pass; the per-table path then
    /// describes the others and leaves it out.
    async fn catalog(&self) -> Result<Vec<TableSchema>> {
        match self.catalog_one_pass().await {
            Ok(tables) => Ok(tables),
            Err(Error::Query { .. }) => {
                let tables = self.list_tables().await?;
                let schemas: Vec<Result<TableSchema>> = futures::stream::iter(tables)
                    .map(|t| async move { self.table_schema(&t).await })
                    .buffered(4)
                    .collect()
                    .await;
                Ok(schemas.into_iter().filter_map(Result::ok).collect())
            }
            Err(e) => Err(e),
        }
    }

    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        // No roles or per-user tokens here: refused, never run as the connection's login.
        if let Some(c) = &opts.run_as {
            c.check_supported(&self.info())?;
        }
        let limits = QueryLimits::new(&self.name, opts);
        let (schema_tx, schema_rx) = oneshot::channel();
        let (batch_tx, batch_rx) = mpsc::channel(2);
        let task = QueryTask {
            pool: self.pool.clone(),
            sql: sql.to_string(),
            limits: limits.clone(),
            stop: Arc::new(AtomicBool::new(false)),
        };
        tokio::spawn(task.run(schema_tx, batch_tx));
        finish_stream(schema_rx, batch_rx, limits).await
    }
}

struct QueryTask {
    pool: SqlitePool,
    sql: String,
    limits: QueryLimits,
    /// Set when we stop reading early; the progress handler then interrupts the statement.
    stop: Arc<AtomicBool>,
}

/// One SQLite value, owned.
enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl QueryTask {
    async fn run(self, schema_tx: SchemaReply, batch_tx: mpsc::Sender<Result<RecordBatch>>) {
        let mut schema_tx = Some(schema_tx);
        if let Err(e) = self.run_inner(&mut schema_tx, &batch_tx).await {
            match schema_tx.take() {
                Some(tx) => {
                    let _ = tx.send(Err(e));
                }
                None => {
                    let _ = batch_tx.send(Err(e)).await;
                }
            }
        }
    }

    async fn run_inner(
        &self,
        schema_tx: &mut Option<SchemaReply>,
        batch_tx: &mpsc::Sender<Result<RecordBatch>>,
    ) -> Result<()> {
        let name = &self.limits.connector;
        let mut conn = tokio::select! {
            biased;
            () = self.limits.cancel.cancelled() => return Err(Error::Cancelled),
            () = sleep_until(self.limits.deadline) => return Err(self.limits.timeout_error()),
            c = self.pool.acquire() => c.map_err(|e| connection_error(name, e))?,
        };
        // A previous query may have run `PRAGMA query_only = OFF`; in-memory databases have no
        // read-only open flag to fall back on.
        // Inside a transaction SQLite refuses `VACUUM INTO` (which writes a new file even on a
        // read-only connection) and `ATTACH` (which creates one on an in-memory database).
        sqlx::raw_sql("PRAGMA query_only = ON; BEGIN")
            .execute(&mut *conn)
            .await
            .map_err(|e| query_error(name, e))?;
        {
            let cancel = self.limits.cancel.clone();
            let deadline = self.limits.deadline.map(Instant::into_std);
            let stop = self.stop.clone();
            let mut handle = conn
                .lock_handle()
                .await
                .map_err(|e| connection_error(name, e))?;
            // Engine-level backstop to `query_only`, which SQL can switch off: any write
            // transaction is rolled back at commit.
            handle.set_commit_hook(|| false);
            handle.set_progress_handler(1000, move || {
                !(cancel.is_cancelled()
                    || stop.load(Ordering::Relaxed)
                    || deadline.is_some_and(|d| std::time::Instant::now() >= d))
            });
        }
        let result = self.stream_rows(&mut conn, schema_tx, batch_tx).await;
        self.stop.store(true, Ordering::Relaxed);
        let removed = match conn.lock_handle().await {
            Ok(mut handle) => {
                handle.remove_progress_handler();
                true
            }
            Err(_) => false,
        };
        let rolled_back = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.is_ok();
        if !removed || !rolled_back {
            conn.close_on_drop();
        }
        result
    }

    async fn stream_rows(
        &self,
        conn: &mut sqlx::pool::PoolConnection<Sqlite>,
        schema_tx: &mut Option<SchemaReply>,
        batch_tx: &mpsc::Sender<Result<RecordBatch>>,
    ) -> Result<()> {
        let name = &self.limits.connector;
        let stmt = (&mut **conn)
            .prepare(AssertSqlSafe(self.sql.clone()).into_sql_str())
            .await
            .map_err(|e| self.map_engine_error(e))?;
        let names: Vec<String> = stmt
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let kinds: Vec<Option<Kind>> = stmt
            .columns()
            .iter()
            .map(|c| Kind::from_declared(c.type_info().name()))
            .collect();
        // Builders are chosen once per column. While a column's type is still open (no usable
        // declared type), the first batch is held as owned values until its first non-NULL
        // value decides.
        let mut batch = BatchBuilder::new(names, kinds);
        // Rows arrive from sqlx's worker thread; taking every row already there at once keeps
        // the cancel/deadline checks off the per-row path.
        let mut rows = stmt.query().fetch(&mut **conn).ready_chunks(1024);
        let cancelled = self.limits.cancel.cancelled();
        let deadline = sleep_until(self.limits.deadline);
        let closed = batch_tx.closed();
        tokio::pin!(cancelled, deadline, closed);
        let mut total = 0usize;
        let mut ended = false;
        while !ended {
            let chunk = if self.limits.max_rows.is_some_and(|c| total >= c) {
                None
            } else {
                tokio::select! {
                    biased;
                    () = &mut cancelled => return Err(Error::Cancelled),
                    () = &mut deadline => return Err(self.limits.timeout_error()),
                    () = &mut closed => return Ok(()),
                    r = rows.next() => r,
                }
            };
            let Some(chunk) = chunk else {
                ended = true;
                if batch.len() > 0 || total == 0 {
                    let out = batch.finish(schema_tx, name)?;
                    if batch_tx.send(Ok(out)).await.is_err() {
                        return Ok(());
                    }
                }
                continue;
            };
            for row in chunk {
                if self.limits.max_rows.is_some_and(|c| total >= c) {
                    break;
                }
                let row = row.map_err(|e| self.map_engine_error(e))?;
                batch.push_row(&row, name)?;
                total += 1;
                if batch.len() == BATCH_ROWS {
                    let out = batch.finish(schema_tx, name)?;
                    if batch_tx.send(Ok(out)).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    fn map_engine_error(&self, e: sqlx::Error) -> Error {
        if let sqlx::Error::Database(db) = &e
            && db.code().as_deref() == Some("9")
        {
            if self.limits.cancel.is_cancelled() {
                return Error::Cancelled;
            }
            if self.limits.expired() {
                return self.limits.timeout_error();
            }
        }
        query_error(&self.limits.connector, e)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let c = SqliteConfig::from_url("sqlite:///data/shop.db?name=shop").unwrap();
        assert_eq!(c.path.as_deref(), Some(Path::new("/data/shop.db")));
        assert_eq!(c.name.as_deref(), Some("shop"));
        let c = SqliteConfig::from_url("sqlite::memory:").unwrap();
        assert_eq!(c.path, None);
        let c = SqliteConfig::from_url("sqlite://rel/x.db").unwrap();
        assert_eq!(c.path.as_deref(), Some(Path::new("rel/x.db")));
        assert!(SqliteConfig::from_url("sqlite:///x.db?bogus=1").is_err());
    }

    #[test]
    fn dates_and_times_parse() {
        assert_eq!(parse_date("2013-01-02"), Some(15707));
        assert_eq!(parse_time("12:34:56.789"), Some(45_296_789_000));
        assert_eq!(
            parse_datetime("2013-01-02 03:04:05.678901"),
            Some(1_357_095_845_678_901)
        );
        assert_eq!(
            parse_datetime("2013-01-02T03:04:05+02:00"),
            Some(1_357_088_645_000_000)
        );
    }

    /// The hand-written fast paths give exactly what chrono's format parser gives.
    #[test]
    fn fast_paths_agree_with_chrono() {
        fn slow_datetime(t: &str) -> Option<i64> {
            let t = t.trim();
            if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
                return Some(dt.timestamp_micros());
            }
            ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
                .map(|dt| dt.and_utc().timestamp_micros())
        }
        for t in [
            "2020-01-01 00:00:01",
            "2020-01-01T23:59:59",
            "1969-12-31 23:59:59.999999",
            "2013-01-02 03:04:05.678901",
            "2013-01-02 03:04:05.6",
            "2013-01-02 03:04:05.123456789",
            "2013-01-02 03:04:05.",
            "2013-01-02 03:04:05.1234567891",
            "2020-02-29 12:00:00",
            "2021-02-29 12:00:00",
            "2020-13-01 00:00:00",
            "2020-01-01 24:00:00",
            "2020-01-01 23:60:00",
            "2020-01-01 23:59:60",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59.999999",
            " 2020-01-01 00:00:01 ",
            "2020-01-01 00:00:01Z",
            "2020-01-01 00:00:01+01:00",
            "2020-01-01x00:00:01",
            "2020-1-01 00:00:01",
            "+2020-01-01 00:00:01",
            "2020-01-01 00:00:0a",
        ] {
            assert_eq!(parse_datetime(t), slow_datetime(t), "{t:?}");
        }
        for t in [
            "2020-01-01",
            "2020-02-30",
            "1900-01-01xyz",
            "20200101",
            "2020-1-1",
        ] {
            // The general path reads the first ten characters only (as before the fast path).
            let slow = t
                .get(..10)
                .and_then(|head| NaiveDate::parse_from_str(head, "%Y-%m-%d").ok())
                .map(|d| (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days());
            assert_eq!(parse_date(t).map(i64::from), slow, "{t:?}");
        }
        for t in [
            "12:34:56",
            "12:34:56.789",
            "00:00:00.000001",
            "25:00:00",
            "12:34",
            "1:02:03",
        ] {
            let slow = NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
                .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                .ok()
                .map(|x| {
                    i64::from(x.num_seconds_from_midnight()) * 1_000_000
                        + i64::from(x.nanosecond() / 1000)
                });
            assert_eq!(parse_time(t), slow, "{t:?}");
        }
    }
}
