//! [`SqliteStore`]: the embedded persistence store, on SQLite via sqlx.
//!
//! The schema lives in `metricchat-core/migrations` and is embedded in the binary; it is brought
//! up to date every time a store is opened. Conventions (see the first migration):
//! ids are hyphenated UUID text, timestamps are RFC 3339 UTC text with nanoseconds (fixed width,
//! so text order is time order and values round-trip exactly), JSON values are TEXT, statuses
//! are the `as_str` forms, and token usage is kept in integer columns so it can be summed in SQL.
//!
//! Every [`StepWrite`] is applied in one `BEGIN IMMEDIATE` transaction: the write lock is taken
//! up front, so concurrent writers wait for each other (up to the busy timeout) instead of
//! failing with `database is locked` when a read transaction tries to upgrade.

use std::str::FromStr;
use std::time::Duration;

use chrono::SecondsFormat;
use serde::de::DeserializeOwned;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Executor, QueryBuilder, Row, Sqlite};

use super::sql::{BoxFuture, Columns, Engine, SqlStore, Value};
use super::*;

/// The embedded schema migrations (`metricchat-core/migrations`).
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a connection waits for another writer's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in a file-backed store's pool (one writer at a time; the rest read).
const FILE_POOL_SIZE: u32 = 4;

/// The SQLite [`Engine`]: ids, timestamps and JSON as text.
#[derive(Debug, Clone, Copy, Default)]
pub struct SqliteEngine;

/// A [`Store`] in a SQLite database (via sqlx), with embedded migrations.
///
/// Cheap to share behind an `Arc`; all methods take `&self` and use an internal pool.
pub type SqliteStore = SqlStore<SqliteEngine>;

impl SqlStore<SqliteEngine> {
    /// Opens (creating the file if needed) the database at `path` and runs migrations.
    ///
    /// The database uses WAL journaling, `synchronous = NORMAL`, foreign keys and a 5 s busy
    /// timeout. The parent directory must exist.
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_POOL_SIZE)
            .connect_with(options)
            .await
            .map_err(|e| Error::store(format!("opening SQLite database {}", path.display()), e))?;
        migrate(pool).await
    }

    /// A private in-memory SQLite database, gone when the store is dropped.
    ///
    /// It lives in a pool of one connection that is never recycled, so every call sees the
    /// same database; concurrent calls queue for that connection.
    pub async fn in_memory() -> Result<Self> {
        // `sqlite::memory:` names a fresh database per call, so two stores never share one.
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| Error::store("configuring in-memory SQLite database", e))?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| Error::store("opening in-memory SQLite database", e))?;
        migrate(pool).await
    }
}

async fn migrate(pool: SqlitePool) -> Result<SqliteStore> {
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|e| Error::store("running SQLite store migrations", e))?;
    Ok(SqlStore::from_pool(pool, SqliteEngine))
}

impl Engine for SqliteEngine {
    type Db = Sqlite;
    type Reader<'r> = SqliteColumns<'r>;

    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const INSERTION_ORDER: &'static str = "rowid";
    // `BEGIN IMMEDIATE` already holds the database's write lock.
    const LOCK_ROW: &'static str = "";

    fn push_value(query: &mut QueryBuilder<Sqlite>, value: Value<'_>) {
        match value {
            Value::Text(s) => query.push_bind(s),
            Value::Int(n) => query.push_bind(n),
            Value::Float(x) => query.push_bind(x),
            Value::Uuid(id) => query.push_bind(id.map(|id| id.hyphenated().to_string())),
            Value::Ts(t) => query.push_bind(t.map(|t| ts_text(&t))),
            Value::Json(s) => query.push_bind(s),
        };
    }

    fn columns<'r>(row: &'r SqliteRow, table: &'static str) -> SqliteColumns<'r> {
        SqliteColumns { row, table }
    }

    fn execute<'c>(
        conn: &'c mut SqliteConnection,
        query: &'c mut QueryBuilder<Sqlite>,
    ) -> BoxFuture<'c, sqlx::Result<u64>> {
        Box::pin(async move { Ok(conn.execute(query.build()).await?.rows_affected()) })
    }

    fn fetch_all<'c>(
        conn: &'c mut SqliteConnection,
        query: &'c mut QueryBuilder<Sqlite>,
    ) -> BoxFuture<'c, sqlx::Result<Vec<SqliteRow>>> {
        Box::pin(async move { conn.fetch_all(query.build()).await })
    }
}

/// Fixed-width RFC 3339 UTC with nanoseconds: sorts as text, round-trips exactly.
fn ts_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A SQLite row of `table`: ids, timestamps and JSON are stored as text.
#[derive(Debug)]
pub struct SqliteColumns<'r> {
    row: &'r SqliteRow,
    table: &'static str,
}

impl SqliteColumns<'_> {
    fn get<T>(&self, column: &str) -> Result<Option<T>>
    where
        T: for<'a> sqlx::Decode<'a, Sqlite> + sqlx::Type<Sqlite>,
    {
        self.row
            .try_get::<Option<T>, _>(column)
            .map_err(|e| Error::store(format!("reading {}.{column}", self.table), e))
    }

    /// A text column parsed by `parse`, whose error names the column.
    fn parsed<T, E>(
        &self,
        column: &str,
        what: &str,
        parse: impl FnOnce(&str) -> std::result::Result<T, E>,
    ) -> Result<Option<T>>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        self.get::<String>(column)?
            .map(|s| {
                parse(&s).map_err(|e| {
                    Error::store(
                        format!("invalid {what} {s:?} in {}.{column}", self.table),
                        e,
                    )
                })
            })
            .transpose()
    }
}

impl Columns for SqliteColumns<'_> {
    fn table(&self) -> &'static str {
        self.table
    }
    fn text(&self, column: &str) -> Result<Option<String>> {
        self.get(column)
    }
    fn int(&self, column: &str) -> Result<Option<i64>> {
        self.get(column)
    }
    fn float(&self, column: &str) -> Result<Option<f64>> {
        self.get(column)
    }
    fn uuid(&self, column: &str) -> Result<Option<Uuid>> {
        self.parsed(column, "uuid", Uuid::parse_str)
    }
    fn ts(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        self.parsed(column, "timestamp", |s| {
            DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
        })
    }
    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>> {
        self.get::<String>(column)?
            .map(|s| {
                serde_json::from_str(&s).map_err(|e| {
                    Error::store(format!("invalid JSON in {}.{column}", self.table), e)
                })
            })
            .transpose()
    }
}
