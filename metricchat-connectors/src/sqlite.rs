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
//! Files are opened with `SQLITE_OPEN_READONLY`, every query runs with `PRAGMA query_only = ON`
//! and a commit hook that turns any write transaction into a rollback (so even SQL that switches
//! `query_only` off cannot write to an in-memory database): writes fail in the engine whatever
//! guard sits in front. Rows are streamed into batches of
//! up to 8192 rows. A progress handler on the connection interrupts the statement (SQLite stops
//! stepping) when the caller cancels, the deadline passes, the row cap is reached or the stream
//! is dropped; the connection is then reused. Database errors become [`Error::Query`] with
//! SQLite's extended result code as `code` (SQLite has no SQLSTATE), e.g. `"1"` for
//! `SQLITE_ERROR`, `"8"` for `SQLITE_READONLY`.
//!
//! # Type mapping
//!
//! SQLite is dynamically typed. A result column's Arrow type comes from the declared type of the
//! table column it reads (sqlx's affinity rules), and for expressions and `NUMERIC`/`DECIMAL`
//! declarations from the storage class of the column's first non-NULL value in the first batch:
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
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder,
    RecordBatch, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use futures::StreamExt;
use metricchat_core::connector::{
    Capabilities, ColumnInfo, Connector, ConnectorInfo, Dialect, ForeignKey, QueryOptions,
    SendableRecordBatchStream, TableKind, TableRef, TableSchema, quote_ident,
};
use metricchat_core::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteValueRef};
use sqlx::{
    AssertSqlSafe, Column, Decode, Executor, Row, SqlSafeStr, Sqlite, Statement, TypeInfo, ValueRef,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::sql_common::{
    BATCH_ROWS, Limits, SchemaReply, connection_error, conversion_error, finish_stream,
    query_error, sleep_until,
};

/// The backend name in [`ConnectorInfo::backend`].
pub const BACKEND: &str = "sqlite";

/// Tables with more rows than this get no row estimate (counting them would be slow).
const COUNT_LIMIT: u64 = 1_000_000;

/// Which SQLite database to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SqliteConfig {
    /// The connection's name (default: the file stem, or `memory`).
    pub name: Option<String>,
    /// The database file; `None` opens a private in-memory database.
    pub path: Option<PathBuf>,
    /// Pool size for files (default 4; in-memory databases always use one connection).
    pub max_connections: u32,
    /// How long to wait on a locked database, in milliseconds (default 5000).
    pub busy_timeout_ms: u64,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            name: None,
            path: None,
            max_connections: 4,
            busy_timeout_ms: 5000,
        }
    }
}

impl SqliteConfig {
    /// Parses `sqlite:///abs/path.db`, `sqlite://rel/path.db`, `sqlite:path.db` or
    /// `sqlite::memory:`, with an optional `?name=…`.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("sqlite:"))
            .map(|_| &url[7..])
            .ok_or_else(|| Error::invalid_input(format!("`{url}` is not a sqlite: URL")))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut cfg = Self::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "name" => cfg.name = Some(v.into_owned()),
                "mode" if v == "ro" => {}
                other => {
                    return Err(Error::invalid_input(format!(
                        "unknown parameter `{other}` in `{url}`; known: name"
                    )));
                }
            }
        }
        if location == ":memory:" || location.is_empty() {
            return Ok(cfg);
        }
        let path = location.strip_prefix("//").unwrap_or(location);
        let decoded: String = url::form_urlencoded::parse(path.replace('+', "%2B").as_bytes())
            .map(|(k, v)| format!("{k}{v}"))
            .collect();
        cfg.path = Some(PathBuf::from(decoded));
        Ok(cfg)
    }
}

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
        let busy = Duration::from_millis(config.busy_timeout_ms);
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
            let sql = format!(
                "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {})",
                quote_ident(Dialect::Sqlite, &name),
                COUNT_LIMIT + 1
            );
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_one(&self.pool)
                .await
                .map_err(err)?;
            u64::try_from(n).ok().filter(|n| *n <= COUNT_LIMIT)
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

    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        let limits = Limits {
            connector: self.name.clone(),
            deadline: opts.timeout.map(|t| Instant::now() + t),
            timeout: opts.timeout.unwrap_or_default(),
            cancel: opts.cancel,
            max_rows: opts.max_rows,
        };
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
    limits: Limits,
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
        sqlx::raw_sql("PRAGMA query_only = ON")
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
        if !removed {
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
        let mut kinds: Vec<Option<Kind>> = stmt
            .columns()
            .iter()
            .map(|c| Kind::from_declared(c.type_info().name()))
            .collect();
        let mut schema: Option<SchemaRef> = None;
        let mut rows = stmt.query().fetch(&mut **conn);
        let mut buf: Vec<Vec<Val>> = Vec::new();
        let mut total = 0usize;
        let mut ended = false;
        while !ended {
            let next = if self.limits.max_rows.is_some_and(|c| total >= c) {
                None
            } else {
                tokio::select! {
                    biased;
                    () = self.limits.cancel.cancelled() => return Err(Error::Cancelled),
                    () = sleep_until(self.limits.deadline) => {
                        return Err(self.limits.timeout_error());
                    }
                    () = batch_tx.closed() => return Ok(()),
                    r = rows.next() => r,
                }
            };
            match next {
                Some(row) => {
                    let row = row.map_err(|e| self.map_engine_error(e))?;
                    let mut vals = Vec::with_capacity(names.len());
                    for (i, col) in names.iter().enumerate() {
                        let v = row.try_get_raw(i).map_err(|e| query_error(name, e))?;
                        vals.push(read_value(v).map_err(|m| conversion_error(name, col, m))?);
                    }
                    buf.push(vals);
                    total += 1;
                }
                None => ended = true,
            }
            if buf.len() == BATCH_ROWS || (ended && (!buf.is_empty() || total == 0)) {
                let schema = match &schema {
                    Some(s) => s.clone(),
                    None => {
                        for (i, k) in kinds.iter_mut().enumerate() {
                            if k.is_none() {
                                *k = Some(
                                    buf.iter()
                                        .find_map(|r| Kind::from_value(&r[i]))
                                        .unwrap_or(Kind::Text),
                                );
                            }
                        }
                        let s: SchemaRef = Arc::new(Schema::new(
                            names
                                .iter()
                                .zip(&kinds)
                                .map(|(n, k)| {
                                    Field::new(n, k.unwrap_or(Kind::Text).data_type(), true)
                                })
                                .collect::<Vec<_>>(),
                        ));
                        if let Some(tx) = schema_tx.take() {
                            let _ = tx.send(Ok(s.clone()));
                        }
                        schema = Some(s.clone());
                        s
                    }
                };
                let batch = build_batch(&schema, &kinds, &names, &buf, name)?;
                buf.clear();
                if batch_tx.send(Ok(batch)).await.is_err() {
                    return Ok(());
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

fn read_value(v: SqliteValueRef<'_>) -> std::result::Result<Val, String> {
    if v.is_null() {
        return Ok(Val::Null);
    }
    let kind = v.type_info().name().to_string();
    let e = |e: sqlx::error::BoxDynError| e.to_string();
    Ok(match kind.as_str() {
        "INTEGER" => Val::Int(<i64 as Decode<Sqlite>>::decode(v).map_err(e)?),
        "REAL" => Val::Real(<f64 as Decode<Sqlite>>::decode(v).map_err(e)?),
        "BLOB" => Val::Blob(<Vec<u8> as Decode<Sqlite>>::decode(v).map_err(e)?),
        _ => Val::Text(<String as Decode<Sqlite>>::decode(v).map_err(e)?),
    })
}

/// The Arrow type of a result column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Real,
    Text,
    Blob,
    Date,
    Time,
    Datetime,
}

impl Kind {
    /// From sqlx's reading of the declared type; `None` when there is none or it is `NUMERIC`.
    fn from_declared(name: &str) -> Option<Self> {
        Some(match name {
            "BOOLEAN" => Kind::Bool,
            "INTEGER" => Kind::Int,
            "REAL" => Kind::Real,
            "TEXT" => Kind::Text,
            "BLOB" => Kind::Blob,
            "DATE" => Kind::Date,
            "TIME" => Kind::Time,
            "DATETIME" => Kind::Datetime,
            _ => return None,
        })
    }

    fn from_value(v: &Val) -> Option<Self> {
        match v {
            Val::Null => None,
            Val::Int(_) => Some(Kind::Int),
            Val::Real(_) => Some(Kind::Real),
            Val::Text(_) => Some(Kind::Text),
            Val::Blob(_) => Some(Kind::Blob),
        }
    }

    fn data_type(self) -> DataType {
        match self {
            Kind::Bool => DataType::Boolean,
            Kind::Int => DataType::Int64,
            Kind::Real => DataType::Float64,
            Kind::Text => DataType::Utf8,
            Kind::Blob => DataType::Binary,
            Kind::Date => DataType::Date32,
            Kind::Time => DataType::Time64(TimeUnit::Microsecond),
            Kind::Datetime => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }
}

fn build_batch(
    schema: &SchemaRef,
    kinds: &[Option<Kind>],
    names: &[String],
    rows: &[Vec<Val>],
    connector: &str,
) -> Result<RecordBatch> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(kinds.len());
    for (i, kind) in kinds.iter().enumerate() {
        let kind = kind.unwrap_or(Kind::Text);
        let col = rows.iter().map(|r| &r[i]);
        let array = build_column(kind, col, rows.len())
            .map_err(|m| conversion_error(connector, &names[i], m))?;
        arrays.push(array);
    }
    Ok(RecordBatch::try_new(schema.clone(), arrays)?)
}

fn mismatch(kind: Kind, v: &Val) -> String {
    let shown = match v {
        Val::Null => "NULL".to_string(),
        Val::Int(i) => i.to_string(),
        Val::Real(f) => f.to_string(),
        Val::Text(t) => format!("'{}'", t.chars().take(40).collect::<String>()),
        Val::Blob(b) => format!("a {}-byte blob", b.len()),
    };
    format!("{shown} does not fit the column's type {kind:?}")
}

fn build_column<'a>(
    kind: Kind,
    vals: impl Iterator<Item = &'a Val>,
    n: usize,
) -> std::result::Result<ArrayRef, String> {
    macro_rules! build {
        ($builder:expr, $conv:expr) => {{
            let mut b = $builder;
            for v in vals {
                match v {
                    Val::Null => b.append_null(),
                    v => match $conv(v) {
                        Some(x) => b.append_value(x),
                        None => return Err(mismatch(kind, v)),
                    },
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    Ok(match kind {
        Kind::Bool => build!(BooleanBuilder::with_capacity(n), |v: &Val| match v {
            Val::Int(i) => Some(*i != 0),
            Val::Real(f) => Some(*f != 0.0),
            Val::Text(t) if t.eq_ignore_ascii_case("true") => Some(true),
            Val::Text(t) if t.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }),
        Kind::Int => build!(Int64Builder::with_capacity(n), |v: &Val| match v {
            Val::Int(i) => Some(*i),
            #[allow(clippy::cast_possible_truncation)]
            Val::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Val::Text(t) => t.trim().parse().ok(),
            _ => None,
        }),
        Kind::Real => build!(Float64Builder::with_capacity(n), |v: &Val| match v {
            #[allow(clippy::cast_precision_loss)]
            Val::Int(i) => Some(*i as f64),
            Val::Real(f) => Some(*f),
            Val::Text(t) => t.trim().parse().ok(),
            _ => None,
        }),
        Kind::Text => build!(StringBuilder::with_capacity(n, n * 16), |v: &Val| match v {
            Val::Int(i) => Some(i.to_string()),
            Val::Real(f) => Some(f.to_string()),
            Val::Text(t) => Some(t.clone()),
            Val::Blob(b) => String::from_utf8(b.clone()).ok(),
            Val::Null => None,
        }),
        Kind::Blob => build!(BinaryBuilder::with_capacity(n, n * 16), |v: &Val| match v {
            Val::Blob(b) => Some(b.clone()),
            Val::Text(t) => Some(t.clone().into_bytes()),
            _ => None,
        }),
        Kind::Date => build!(Date32Builder::with_capacity(n), |v: &Val| match v {
            Val::Text(t) => parse_date(t),
            _ => None,
        }),
        Kind::Time => build!(Time64MicrosecondBuilder::with_capacity(n), |v: &Val| {
            match v {
                Val::Text(t) => parse_time(t),
                _ => None,
            }
        }),
        Kind::Datetime => build!(TimestampMicrosecondBuilder::with_capacity(n), |v: &Val| {
            match v {
                Val::Text(t) => parse_datetime(t),
                Val::Int(secs) => secs.checked_mul(1_000_000),
                _ => None,
            }
        }),
    })
}

fn parse_date(t: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(t.get(..10)?, "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((d - epoch).num_days()).ok()
}

fn parse_time(t: &str) -> Option<i64> {
    let t = t.trim();
    let time = NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
        .ok()?;
    Some(
        i64::from(time.num_seconds_from_midnight()) * 1_000_000
            + i64::from(time.nanosecond() / 1000),
    )
}

fn parse_datetime(t: &str) -> Option<i64> {
    let t = t.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt.and_utc().timestamp_micros());
        }
    }
    parse_date(t)
        .filter(|_| t.len() == 10)
        .map(|d| i64::from(d) * 86_400_000_000)
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
}
