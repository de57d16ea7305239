//! DuckDB files and in-memory databases through the `duckdb` crate (DuckDB compiled in):
//! `duckdb:///data/shop.duckdb`, `duckdb://relative/shop.duckdb` or `duckdb://:memory:`, each
//! optionally followed by `?name=…&threads=…&memory_limit=…&external_access=true`.
//!
//! ```no_run
//! # async fn demo() -> metricchat_core::error::Result<()> {
//! use metricchat_core::connector::{Connector, QueryOptions, collect_stream};
//! let db = metricchat_connectors::duckdb::DuckDbConnector::from_url("duckdb:///data/shop.duckdb")?;
//! let data = collect_stream(db.query("SELECT 42 AS answer", QueryOptions::default()).await?).await?;
//! # Ok(()) }
//! ```
//!
//! # Read-only
//!
//! - Database files are opened with `access_mode = READ_ONLY`: DuckDB refuses every write to
//!   them, whatever the SQL.
//! - An in-memory database cannot be opened read-only (DuckDB refuses it; there would be nothing
//!   to read). [`DuckDbConfig::init_sql`] fills it once at open; after that every query runs in
//!   a `BEGIN TRANSACTION READ ONLY` transaction that is rolled back afterwards, so writes to
//!   its tables fail in the engine. What remains possible is what DuckDB allows a read-only
//!   transaction: `TEMP` objects private to the query's connection, discarded by the rollback.
//! - For both, after `init_sql` the connector sets `enable_external_access = false` (no file or
//!   network access from SQL: `read_csv`, `COPY`, `ATTACH`, `INSTALL`; unless
//!   [`DuckDbConfig::external_access`]) and then `lock_configuration = true`, so SQL cannot
//!   change any setting back.
//! - SQL holding more than one statement is refused with [`Error::InvalidInput`] before DuckDB
//!   sees it (DuckDB would run all but the last outside our transaction).
//!
//! # Connections, limits and cancellation
//!
//! One DuckDB database per connector; each query runs on its own DuckDB connection to it (idle
//! connections are kept for reuse, so this is a pool), on tokio's blocking thread pool, never on
//! an async worker. Batches are streamed as DuckDB produces them (up to 2048 rows each, DuckDB's
//! vector size). Cancellation, the deadline, the row cap and dropping the stream interrupt the
//! statement with DuckDB's `duckdb_interrupt` (the crate's `InterruptHandle`); the connection
//! is rolled back and reused. An interrupted query fails with [`Error::Cancelled`] or
//! [`Error::Timeout`].
//!
//! Errors from DuckDB become [`Error::Query`] whose `code` is DuckDB's error type, the word(s)
//! before ` Error:` in its message (`"Catalog"`, `"Parser"`, `"Binder"`, `"Conversion"`,
//! `"Invalid Input"`, `"Transaction"`, `"Permission"`, …).
//!
//! # Arrow bridge
//!
//! No `duckdb` release uses this workspace's `arrow` major version, so DuckDB's Arrow batches
//! cross to ours as Arrow IPC: written with the IPC writer of DuckDB's `arrow`, read with ours
//! (one copy of the data; see the README for the measured cost).
//!
//! # Type mapping
//!
//! DuckDB's own Arrow export decides the types; the connector passes them through unchanged.
//!
//! | DuckDB type | Arrow |
//! | --- | --- |
//! | `BOOLEAN` | Boolean |
//! | `TINYINT`, `SMALLINT`, `INTEGER`, `BIGINT` | Int8, Int16, Int32, Int64 |
//! | `UTINYINT`, `USMALLINT`, `UINTEGER`, `UBIGINT` | UInt8, UInt16, UInt32, UInt64 |
//! | `HUGEINT` | Decimal128(38, 0) (values of 39 digits exceed the Arrow type) |
//! | `FLOAT`, `DOUBLE` | Float32, Float64 |
//! | `DECIMAL(p, s)` | Decimal128(p, s) (precision and scale kept) |
//! | `VARCHAR` | Utf8 |
//! | `BLOB` | Binary |
//! | `DATE` | Date32 |
//! | `TIME` | Time64(µs) |
//! | `TIMESTAMP` | Timestamp(µs, none) |
//! | `TIMESTAMP_S`, `TIMESTAMP_MS`, `TIMESTAMP_NS` | Timestamp(s / ms / ns, none) |
//! | `TIMESTAMP WITH TIME ZONE` | Timestamp(µs, "UTC") (the instant; named `Etc/UTC` by DuckDB builds with ICU) |
//! | `INTERVAL` | Interval(MonthDayNano) |
//! | `UUID` | Utf8 (canonical text) |
//! | `ENUM` | Dictionary(UInt8 / UInt16 / UInt32 by size, Utf8) |
//! | `T[]` (LIST) | List(T) |
//! | `T[n]` (ARRAY) | FixedSizeList(T, n) |
//! | `STRUCT(…)` | Struct(…) |
//! | `MAP(K, V)` | Map(K, V) |
//! | untyped `NULL` | Null |
//!
//! NULL is kept everywhere. The round-trip test in `tests/duckdb.rs` checks every row.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::buffer::Buffer;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamDecoder;
use async_trait::async_trait;
use duckdb::types::Value;
use duckdb::{AccessMode, Config};
use metricchat_core::connector::{
    Capabilities, ColumnInfo, Connector, ConnectorInfo, Dialect, ForeignKey, QueryLimits,
    QueryOptions, SendableRecordBatchStream, TableKind, TableRef, TableSchema, sleep_until,
};
use metricchat_core::error::{Error, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::task::{SchemaReply, finish_stream};

mod catalog;
mod config;
mod types;

use catalog::*;
pub use config::DuckDbConfig;
use types::*;

/// The backend name in [`ConnectorInfo::backend`].
pub const BACKEND: &str = "duckdb";

/// Idle DuckDB connections kept for reuse.
const MAX_IDLE: usize = 4;

/// How often a pending interrupt is repeated: DuckDB clears the flag when a statement starts
/// executing, so one sent while the statement is still being prepared would be lost.
const INTERRUPT_EVERY: Duration = Duration::from_millis(20);

/// A read-only DuckDB database with a small pool of connections (see the module docs).
pub struct DuckDbConnector {
    name: String,
    path: Option<PathBuf>,
    pool: Arc<Pool>,
}

impl fmt::Debug for DuckDbConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuckDbConnector")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The database's first connection (new ones are cloned from it) and the idle ones.
struct Pool {
    base: Mutex<duckdb::Connection>,
    idle: Mutex<Vec<duckdb::Connection>>,
}

impl Pool {
    fn checkout(&self, connector: &str) -> Result<duckdb::Connection> {
        if let Some(conn) = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
        {
            return Ok(conn);
        }
        self.base
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_clone()
            .map_err(|e| Error::Connection {
                connector: connector.to_string(),
                message: format!("cannot open a DuckDB connection: {e}"),
                source: Some(Box::new(e)),
            })
    }

    fn checkin(&self, conn: duckdb::Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

impl DuckDbConnector {
    /// A connection from a `duckdb:` URL (see [`DuckDbConfig::from_url`]).
    pub fn from_url(url: &str) -> Result<Self> {
        Self::new(DuckDbConfig::from_url(url)?)
    }

    /// Opens the database: a missing file is [`Error::NotFound`], a file DuckDB cannot open
    /// (not a DuckDB file, locked by a writer in another process) is [`Error::Connection`],
    /// failing `init_sql` is [`Error::Query`].
    pub fn new(config: DuckDbConfig) -> Result<Self> {
        let conn_name = config.name.clone().unwrap_or_else(|| match &config.path {
            Some(p) => p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| BACKEND.to_string()),
            None => "memory".to_string(),
        });
        let cfg_err = |e: duckdb::Error| Error::config(BACKEND, e.to_string());
        let mut flags = Config::default();
        if let Some(n) = config.threads {
            flags = flags.threads(i64::from(n)).map_err(cfg_err)?;
        }
        if let Some(m) = &config.memory_limit {
            flags = flags.max_memory(m).map_err(cfg_err)?;
        }
        let conn = match &config.path {
            Some(path) => {
                if !path.is_file() {
                    return Err(Error::NotFound {
                        what: "DuckDB database file",
                        name: path.display().to_string(),
                    });
                }
                flags = flags.access_mode(AccessMode::ReadOnly).map_err(cfg_err)?;
                duckdb::Connection::open_with_flags(path, flags).map_err(|e| Error::Connection {
                    connector: conn_name.clone(),
                    message: format!("cannot open `{}`: {e}", path.display()),
                    source: Some(Box::new(e)),
                })?
            }
            None => duckdb::Connection::open_in_memory_with_flags(flags).map_err(|e| {
                Error::Connection {
                    connector: conn_name.clone(),
                    message: format!("cannot open an in-memory database: {e}"),
                    source: Some(Box::new(e)),
                }
            })?,
        };
        if let Some(sql) = &config.init_sql {
            conn.execute_batch(sql)
                .map_err(|e| query_error(&conn_name, e))?;
        }
        let mut lock = String::new();
        if !config.external_access {
            lock.push_str("SET enable_external_access = false; ");
        }
        lock.push_str("SET lock_configuration = true;");
        conn.execute_batch(&lock)
            .map_err(|e| query_error(&conn_name, e))?;
        Ok(Self {
            name: conn_name,
            path: config.path,
            pool: Arc::new(Pool {
                base: Mutex::new(conn),
                idle: Mutex::new(Vec::new()),
            }),
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

    /// Runs `f` with a pooled connection on the blocking thread pool.
    async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&duckdb::Connection, &str) -> Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let name = self.name.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.checkout(&name)?;
            let out = f(&conn, &name);
            pool.checkin(conn);
            out
        })
        .await
        .map_err(|e| Error::Internal(format!("DuckDB task failed: {e}")))?
    }

    /// Tables, columns and keys of the current database, optionally of one table only:
    /// three catalog queries, whatever the number of tables.
    async fn describe(&self, only: Option<TableRef>) -> Result<Vec<TableSchema>> {
        self.with_conn(move |conn, name| read_catalog(conn, name, only.as_ref()))
            .await
    }
}

#[async_trait]
impl Connector for DuckDbConnector {
    fn info(&self) -> ConnectorInfo {
        ConnectorInfo {
            name: self.name.clone(),
            backend: BACKEND.into(),
            dialect: Dialect::DuckDb,
            capabilities: Capabilities::none()
                .with_cancel(true)
                .with_explain(true)
                .with_limit_pushdown(true)
                .with_read_only_transactions(true),
        }
    }

    async fn test_connection(&self) -> Result<()> {
        self.with_conn(|conn, name| {
            conn.execute_batch("SELECT count(*) FROM duckdb_tables()")
                .map_err(|e| query_error(name, e))
        })
        .await
    }

    async fn list_tables(&self) -> Result<Vec<TableRef>> {
        self.with_conn(|conn, name| {
            let err = |e| query_error(name, e);
            let mut stmt = conn
                .prepare(
                    "SELECT schema_name, table_name FROM duckdb_tables() \
                     WHERE NOT internal AND database_name = current_database() \
                     UNION ALL \
                     SELECT schema_name, view_name FROM duckdb_views() \
                     WHERE NOT internal AND database_name = current_database() \
                     ORDER BY 1, 2",
                )
                .map_err(err)?;
            stmt.query_map([], |r| {
                Ok(TableRef::qualified(
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                ))
            })
            .map_err(err)?
            .collect::<duckdb::Result<_>>()
            .map_err(err)
        })
        .await
    }

    async fn table_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let mut found = self.describe(Some(table.clone())).await?;
        found.pop().ok_or_else(|| Error::NotFound {
            what: "table",
            name: table.to_string(),
        })
    }

    async fn catalog(&self) -> Result<Vec<TableSchema>> {
        self.describe(None).await
    }

    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        // No roles or per-user tokens here: refused, never run as the connection's login.
        if let Some(c) = &opts.run_as {
            c.check_supported(&self.info())?;
        }
        check_single_statement(sql)?;
        let limits = QueryLimits::new(&self.name, opts);
        let (schema_tx, schema_rx) = oneshot::channel();
        let (batch_tx, batch_rx) = mpsc::channel(2);
        let task = QueryTask {
            pool: self.pool.clone(),
            sql: sql.to_string(),
            limits: limits.clone(),
        };
        tokio::task::spawn_blocking(move || task.run(schema_tx, batch_tx));
        finish_stream(schema_rx, batch_rx, limits).await
    }
}

/// Refuses SQL with more than one statement: DuckDB's prepare would run all but the last one
/// itself, outside the read-only transaction.
fn check_single_statement(sql: &str) -> Result<()> {
    use sqlparser::dialect::DuckDbDialect;
    use sqlparser::tokenizer::{Token, Tokenizer};

    if !sql.contains(';') {
        return Ok(());
    }
    let tokens = Tokenizer::new(&DuckDbDialect {}, sql)
        .tokenize()
        .map_err(|e| Error::invalid_input(format!("cannot read the SQL: {e}")))?;
    let statements = tokens
        .split(|t| *t == Token::SemiColon)
        .filter(|part| {
            part.iter()
                .any(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        })
        .count();
    if statements > 1 {
        return Err(Error::invalid_input(format!(
            "one SQL statement per query, this has {statements}"
        )));
    }
    Ok(())
}

/// One query, run on a blocking thread.
struct QueryTask {
    pool: Arc<Pool>,
    sql: String,
    limits: QueryLimits,
}

impl QueryTask {
    fn run(self, schema_tx: SchemaReply, batch_tx: mpsc::Sender<Result<RecordBatch>>) {
        let mut schema_tx = Some(schema_tx);
        let conn = match self.pool.checkout(&self.limits.connector) {
            Ok(c) => c,
            Err(e) => {
                if let Some(tx) = schema_tx.take() {
                    let _ = tx.send(Err(e));
                }
                return;
            }
        };
        let watch = Watch::start(&conn, &self.limits, &batch_tx);
        let result = self.stream(&conn, &mut schema_tx, &batch_tx);
        // After `stop`, no interrupt can reach the connection: the rollback is safe.
        let interrupted = watch.stop();
        let result = result.map_err(|e| self.map_interrupt(e, interrupted));
        if end_transaction(&conn) {
            self.pool.checkin(conn);
        }
        if let Err(e) = result {
            match schema_tx.take() {
                Some(tx) => {
                    let _ = tx.send(Err(e));
                }
                None => {
                    let _ = batch_tx.blocking_send(Err(e));
                }
            }
        }
    }

    fn stream(
        &self,
        conn: &duckdb::Connection,
        schema_tx: &mut Option<SchemaReply>,
        batch_tx: &mpsc::Sender<Result<RecordBatch>>,
    ) -> Result<()> {
        let name = &self.limits.connector;
        conn.execute_batch("BEGIN TRANSACTION READ ONLY")
            .map_err(|e| query_error(name, e))?;
        let mut stmt = conn.prepare(&self.sql).map_err(|e| query_error(name, e))?;
        let mut batches = stmt.stream_arrow([]).map_err(|e| query_error(name, e))?;
        let mut bridge = IpcBridge::new(&batches.get_schema())?;
        if let Some(tx) = schema_tx.take() {
            let _ = tx.send(Ok(bridge.schema()));
        }
        let mut total = 0usize;
        while self.limits.max_rows.is_none_or(|cap| total < cap) {
            if self.limits.cancel.is_cancelled() || self.limits.expired() {
                return Err(interrupted_error());
            }
            let Some(batch) = batches.next() else { break };
            let batch = batch.map_err(|e| query_error(name, e))?;
            total += batch.num_rows();
            for batch in bridge.convert(&batch)? {
                if batch_tx.blocking_send(Ok(batch)).is_err() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Turns DuckDB's interrupt error into the reason we interrupted.
    fn map_interrupt(&self, e: Error, interrupted: bool) -> Error {
        let is_interrupt = matches!(&e, Error::Query { code: Some(c), .. } if c == "INTERRUPT");
        if !(is_interrupt || interrupted) {
            return e;
        }
        if self.limits.cancel.is_cancelled() {
            Error::Cancelled
        } else if self.limits.expired() {
            self.limits.timeout_error()
        } else if is_interrupt {
            // The reader went away; nobody sees this error.
            Error::Cancelled
        } else {
            e
        }
    }
}

/// Rolls back the query's transaction; `false` when the connection's state is unknown (it is
/// then dropped, not reused).
fn end_transaction(conn: &duckdb::Connection) -> bool {
    // An interrupt that arrived after the statement finished may fail the next statement once.
    for _ in 0..2 {
        match conn.execute_batch("ROLLBACK") {
            Ok(()) => return true,
            Err(e) => {
                let msg = e.to_string();
                // The statement itself ended the transaction (`COMMIT`, `ROLLBACK`).
                if msg.contains("no transaction is active") {
                    return true;
                }
                if !msg.contains("INTERRUPT") {
                    return false;
                }
            }
        }
    }
    false
}

fn interrupted_error() -> Error {
    Error::Query {
        connector: String::new(),
        message: "interrupted".into(),
        code: Some("INTERRUPT".into()),
        source: None,
    }
}

/// Interrupts the running statement when the caller cancels, the deadline passes or the
/// stream is dropped, until stopped.
struct Watch {
    /// `true` while interrupts may be sent; the lock orders them before [`Watch::stop`].
    active: Arc<Mutex<bool>>,
    fired: Arc<std::sync::atomic::AtomicBool>,
    done: CancellationToken,
}

impl Watch {
    fn start(
        conn: &duckdb::Connection,
        limits: &QueryLimits,
        batch_tx: &mpsc::Sender<Result<RecordBatch>>,
    ) -> Self {
        let active = Arc::new(Mutex::new(true));
        let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = CancellationToken::new();
        let handle = conn.interrupt_handle();
        let (cancel, deadline) = (limits.cancel.clone(), limits.deadline);
        let (a, f, d) = (active.clone(), fired.clone(), done.clone());
        // A weak sender: holding a strong one would keep the reader waiting for more batches.
        let tx = batch_tx.downgrade();
        let spawned = tokio::runtime::Handle::try_current().map(|rt| {
            rt.spawn(async move {
                let reader_gone = async move {
                    if let Some(tx) = tx.upgrade() {
                        tx.closed().await;
                    }
                };
                tokio::select! {
                    () = d.cancelled() => return,
                    () = cancel.cancelled() => {}
                    () = sleep_until(deadline) => {}
                    () = reader_gone => {}
                }
                f.store(true, std::sync::atomic::Ordering::SeqCst);
                loop {
                    {
                        let active = a.lock().unwrap_or_else(PoisonError::into_inner);
                        if !*active {
                            return;
                        }
                        handle.interrupt();
                    }
                    tokio::select! {
                        () = d.cancelled() => return,
                        () = tokio::time::sleep(INTERRUPT_EVERY) => {}
                    }
                }
            })
        });
        if spawned.is_err() {
            tracing::warn!("no tokio runtime: DuckDB queries cannot be interrupted");
        }
        Self {
            active,
            fired,
            done,
        }
    }

    /// Stops interrupting; returns whether an interrupt was sent.
    fn stop(self) -> bool {
        *self.active.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.done.cancel();
        self.fired.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A DuckDB error as [`Error::Query`], with DuckDB's error type as `code`.
fn query_error(connector: &str, e: duckdb::Error) -> Error {
    let message = e.to_string();
    let code = message
        .split_once(" Error: ")
        .map(|(kind, _)| kind.trim().to_string())
        .filter(|k| !k.is_empty() && k.len() < 40);
    Error::Query {
        connector: connector.to_string(),
        message,
        code,
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let c = DuckDbConfig::from_url("duckdb:///data/shop.duckdb?name=shop&threads=2").unwrap();
        assert_eq!(c.path.as_deref(), Some(Path::new("/data/shop.duckdb")));
        assert_eq!(c.name.as_deref(), Some("shop"));
        assert_eq!(c.threads, Some(2));
        for url in ["duckdb://:memory:", "duckdb::memory:", "duckdb:"] {
            assert_eq!(DuckDbConfig::from_url(url).unwrap().path, None, "{url}");
        }
        let c = DuckDbConfig::from_url("duckdb://rel/x.duckdb?external_access=true").unwrap();
        assert_eq!(c.path.as_deref(), Some(Path::new("rel/x.duckdb")));
        assert!(c.external_access);
        assert!(DuckDbConfig::from_url("duckdb:///x.duckdb?bogus=1").is_err());
        assert!(DuckDbConfig::from_url("duckdb:///x.duckdb?threads=0").is_err());
        assert!(DuckDbConfig::from_url("sqlite:///x.db").is_err());
    }

    #[test]
    fn one_statement_only() {
        assert!(check_single_statement("SELECT 1").is_ok());
        assert!(check_single_statement("SELECT 1;").is_ok());
        assert!(check_single_statement("SELECT ';' AS s; -- done").is_ok());
        let err = check_single_statement("SELECT 1; DROP TABLE t").err();
        assert!(matches!(err, Some(Error::InvalidInput { .. })), "{err:?}");
    }

    /// The bridge keeps every value, and what it costs for 1M rows (printed; run with
    /// `--nocapture` to see it).
    #[test]
    fn ipc_bridge_keeps_data_and_its_cost() {
        use arrow::array::AsArray;
        use arrow::datatypes::{Float64Type, Int64Type};

        let conn = duckdb::Connection::open_in_memory().unwrap();
        let sql = "SELECT range AS i, range::DOUBLE / 3 AS f, 'row ' || (range % 1000) AS s, \
                   (range % 100000)::DECIMAL(18, 2) AS d, \
                   TIMESTAMP '2013-01-01' + to_seconds(range) AS ts FROM range(1000000)";
        let mut stmt = conn.prepare(sql).unwrap();
        let fetch = std::time::Instant::now();
        let mut stream = stmt.stream_arrow([]).unwrap();
        let schema = stream.get_schema();
        let theirs: Vec<_> = stream.by_ref().collect::<duckdb::Result<_>>().unwrap();
        let fetch = fetch.elapsed();
        let bytes: usize = theirs.iter().map(|b| b.get_array_memory_size()).sum();

        let convert = std::time::Instant::now();
        let mut bridge = IpcBridge::new(&schema).unwrap();
        let mut ours = Vec::new();
        for b in &theirs {
            ours.extend(bridge.convert(b).unwrap());
        }
        let convert = convert.elapsed();
        println!(
            "DuckDB -> Arrow IPC bridge, 1M rows x 5 columns ({:.1} MB in {} batches): \
             fetch {:?}, convert {:?}",
            bytes as f64 / 1e6,
            theirs.len(),
            fetch,
            convert
        );

        assert_eq!(
            ours.iter().map(RecordBatch::num_rows).sum::<usize>(),
            1_000_000
        );
        let sum_i: i64 = ours
            .iter()
            .map(|b| {
                b.column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .sum::<i64>()
            })
            .sum();
        assert_eq!(sum_i, 499_999_500_000);
        let last = ours.last().unwrap();
        let f = last.column(1).as_primitive::<Float64Type>();
        assert_eq!(f.value(f.len() - 1), 999_999.0 / 3.0);
        assert_eq!(
            last.column(2).as_string::<i32>().value(f.len() - 1),
            "row 999"
        );
        assert_eq!(ours[0].schema().fields().len(), 5);
    }

    #[test]
    fn error_codes_are_duckdb_error_types() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let e = conn.execute_batch("SELECT * FROM nope").unwrap_err();
        let e = query_error("t", e);
        assert!(
            matches!(&e, Error::Query { code: Some(c), .. } if c == "Catalog"),
            "{e:?}"
        );
    }
}
