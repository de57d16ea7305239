//! [`PostgresStore`]: the persistence store on PostgreSQL via sqlx, in its own schema so it can
//! live inside the user's database.
//!
//! The schema lives in `metricchat-core/migrations-postgres` and is embedded in the binary; it is
//! created (`CREATE SCHEMA IF NOT EXISTS`) and brought up to date every time a store connects.
//! Every connection of the store's pool has `search_path` set to the store's schema, so the
//! migrations' bookkeeping table (`_sqlx_migrations`) lives there too and two stores in two
//! schemas of one database are independent.
//!
//! Types: ids are `UUID`, timestamps `TIMESTAMPTZ` (PostgreSQL keeps microseconds, so
//! sub-microsecond digits are dropped on write), JSON values `JSONB`, statuses the `as_str`
//! forms, counts and token usage `BIGINT`.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Executor, Postgres, QueryBuilder, Row};

use super::sql::{BoxFuture, Columns, Engine, SqlStore, Value};
use super::*;

/// The embedded schema migrations (`metricchat-core/migrations-postgres`).
static MIGRATOR: Migrator = sqlx::migrate!("./migrations-postgres");

/// Configuration of a [`PostgresStore`]. `Debug` shows the URL as `[REDACTED]`: it may hold
/// a password.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PostgresStoreConfig {
    /// `postgres://user:password@host:port/database` (libpq URL syntax; `sslmode` and other
    /// parameters are honoured).
    pub url: SecretString,
    /// The schema holding the store's tables (created if missing). Default `metricchat`.
    /// Letters, digits and `_`, not starting with a digit, at most 63 characters.
    pub schema: String,
    /// Connections in the pool. Default 5.
    pub max_connections: u32,
    /// How long to wait for a connection (the first one too) before failing. Default 10 s.
    #[serde(with = "crate::serde_util::duration_ms", rename = "connect_timeout_ms")]
    pub connect_timeout: Duration,
}

impl Default for PostgresStoreConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from(String::new()),
            schema: PostgresStore::DEFAULT_SCHEMA.to_string(),
            max_connections: 5,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl PostgresStoreConfig {
    /// A configuration for the database at `url`, in the default schema.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            ..Self::default()
        }
    }

    /// Sets the schema.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Sets how long to wait for a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the pool size.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }
}

/// The PostgreSQL [`Engine`]: native `UUID`, `TIMESTAMPTZ` and `JSONB` columns, in one schema.
#[derive(Debug, Clone)]
pub struct PostgresEngine {
    schema: String,
}

/// A [`Store`] in a PostgreSQL schema (via sqlx), with embedded migrations.
///
/// ```no_run
/// # async fn demo() -> metricchat_core::Result<()> {
/// use metricchat_core::store::{PostgresStore, PostgresStoreConfig};
///
/// let store = PostgresStore::connect("postgres://app@db.internal/analytics").await?;
/// let other = PostgresStore::connect_with(
///     PostgresStoreConfig::new("postgres://app@db.internal/analytics").schema("mc_staging"),
/// )
/// .await?;
/// # Ok(()) }
/// ```
///
/// Cheap to share behind an `Arc`; all methods take `&self` and use an internal pool.
pub type PostgresStore = SqlStore<PostgresEngine>;

impl SqlStore<PostgresEngine> {
    /// The schema used when none is configured.
    pub const DEFAULT_SCHEMA: &'static str = "metricchat";

    /// Connects to the database at `url`, creates the `metricchat` schema if needed and runs
    /// migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(PostgresStoreConfig::new(url)).await
    }

    /// Connects with a full configuration (schema, pool size).
    ///
    /// Fails with [`Error::InvalidInput`] for a malformed URL or schema name and with
    /// [`Error::Store`] when the database cannot be reached or migrated.
    pub async fn connect_with(config: PostgresStoreConfig) -> Result<Self> {
        let schema = checked_schema(&config.schema)?;
        let options: PgConnectOptions = config
            .url
            .expose_secret()
            .parse()
            .map_err(|e| Error::invalid_input(format!("invalid PostgreSQL store URL: {e}")))?;
        let options = options.options([("search_path", schema.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.connect_timeout)
            .connect_with(options)
            .await
            .map_err(|e| Error::store("connecting to the PostgreSQL store", e))?;
        migrate(pool.clone(), schema.clone()).await?;
        Ok(SqlStore::from_pool(pool, PostgresEngine { schema }))
    }

    /// The schema holding the store's tables.
    pub fn schema(&self) -> &str {
        &self.engine().schema
    }
}

impl Engine for PostgresEngine {
    type Db = Postgres;
    type Reader<'r> = PgColumns<'r>;

    const BEGIN_WRITE: &'static str = "BEGIN";
    const INSERTION_ORDER: &'static str = "ord";
    const LOCK_ROW: &'static str = " FOR UPDATE";

    fn push_value(query: &mut QueryBuilder<Postgres>, value: Value<'_>) {
        match value {
            Value::Text(s) => query.push_bind(s),
            Value::Int(n) => query.push_bind(n),
            Value::Float(x) => query.push_bind(x),
            Value::Uuid(id) => query.push_bind(id),
            Value::Ts(t) => query.push_bind(t),
            // Serialised once, as for SQLite; the server parses the text into JSONB.
            Value::Json(s) => query.push_bind(s).push("::jsonb"),
        };
    }

    fn columns<'r>(row: &'r PgRow, table: &'static str) -> PgColumns<'r> {
        PgColumns { row, table }
    }

    fn execute<'c>(
        conn: &'c mut PgConnection,
        query: &'c mut QueryBuilder<Postgres>,
    ) -> BoxFuture<'c, sqlx::Result<u64>> {
        Box::pin(async move { Ok(conn.execute(query.build()).await?.rows_affected()) })
    }

    fn fetch_all<'c>(
        conn: &'c mut PgConnection,
        query: &'c mut QueryBuilder<Postgres>,
    ) -> BoxFuture<'c, sqlx::Result<Vec<PgRow>>> {
        Box::pin(async move { conn.fetch_all(query.build()).await })
    }
}

/// A schema name safe to splice into SQL: an unquoted-style identifier.
fn checked_schema(schema: &str) -> Result<String> {
    let s = schema.trim();
    let mut chars = s.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63;
    if !ok {
        return Err(Error::invalid_input(format!(
            "invalid PostgreSQL store schema name {schema:?}: use letters, digits and _, not \
             starting with a digit, at most 63 characters"
        )));
    }
    Ok(s.to_string())
}

/// A PostgreSQL row of `table`: native uuid, timestamptz and jsonb columns.
#[derive(Debug)]
pub struct PgColumns<'r> {
    row: &'r PgRow,
    table: &'static str,
}

impl PgColumns<'_> {
    fn get<T>(&self, column: &str) -> Result<Option<T>>
    where
        T: for<'a> sqlx::Decode<'a, Postgres> + sqlx::Type<Postgres>,
    {
        self.row
            .try_get::<Option<T>, _>(column)
            .map_err(|e| Error::store(format!("reading {}.{column}", self.table), e))
    }
}

impl Columns for PgColumns<'_> {
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
        self.get(column)
    }
    fn ts(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        self.get(column)
    }
    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>> {
        // Through `Value`: decoding `Json<T>` directly would need `T: 'static`.
        self.get::<Json<serde_json::Value>>(column)?
            .map(|j| {
                serde_json::from_value(j.0).map_err(|e| {
                    Error::store(format!("invalid JSON in {}.{column}", self.table), e)
                })
            })
            .transpose()
    }
}

/// Creates the schema and runs the embedded migrations. Takes the pool by value (as the SQLite
/// store does): `Migrator::run` on a borrowed connection makes the caller's future fail rustc's
/// `Send` check (the "implementation of `Acquire` is not general enough" error).
async fn migrate(pool: PgPool, schema: String) -> Result<()> {
    // The name was checked by `checked_schema`: letters, digits and `_` only.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
    )))
    .execute(&pool)
    .await
    .map_err(|e| Error::store(format!("creating schema {schema}"), e))?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|e| Error::store("running PostgreSQL store migrations", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn schema_names_are_checked_before_reaching_sql() {
        for ok in ["metricchat", "_mc", "mc_test_01"] {
            assert_eq!(checked_schema(ok).ok().as_deref(), Some(ok));
        }
        for bad in ["", "1mc", "mc-test", "mc\"; DROP", "a.b", &"x".repeat(64)] {
            let err = checked_schema(bad).err().map(|e| e.kind());
            assert_eq!(err, Some(ErrorKind::InvalidInput), "{bad:?}");
        }
    }

    #[test]
    fn config_debug_hides_the_url() {
        let c = PostgresStoreConfig::new("postgres://u:hunter2@h/db").schema("s");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("\"s\""), "{shown}");
    }
}
