//! PostgreSQL through sqlx: `postgres://user:password@host:5432/database?name=warehouse`.
//!
//! ```no_run
//! # async fn demo() -> metricchat_core::error::Result<()> {
//! use metricchat_core::connector::{Connector, QueryOptions, collect_stream};
//! let pg = metricchat_connectors::postgres::PostgresConnector::from_url(
//!     "postgres://analyst@127.0.0.1:5432/shop",
//! )?;
//! let data = collect_stream(pg.query("SELECT 1 AS one", QueryOptions::default()).await?).await?;
//! # Ok(()) }
//! ```
//!
//! URL parameters: `name` (the connection's name; default: the database), `sslmode`
//! (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`), `search_path` (set with
//! `SET search_path` on every new connection), `max_connections` (pool size, default 5),
//! `connect_timeout` (seconds, default 10) and `allow_privileged_login` (`true` to run queries
//! on a privileged login, below). [`Connector::test_connection`] opens a fresh connection and
//! names the cause of a failure: unreachable server, failed authentication (SQLSTATE
//! `28P01`/`28000`) or unknown database (`3D000`, [`Error::NotFound`]).
//!
//! # Read-only, limits and cancellation
//!
//! Every query runs in its own `BEGIN READ ONLY` transaction with `SET LOCAL statement_timeout`
//! set from `timeout` and `SET LOCAL standard_conforming_strings = on` (a backslash in `'…'` is
//! a plain character, as the guard's parser reads it); writes fail at the engine with SQLSTATE
//! `25006` whatever guard sits in front. Rows are streamed (`fetch`) into batches of up to 8192
//! rows. When the caller cancels, the deadline passes, the row cap is reached before the result
//! ends or the stream is dropped, the backend is interrupted with `pg_cancel_backend`. Then the
//! transaction is rolled back and, in the same round trip, `pg_advisory_unlock_all()` releases
//! any session-level advisory lock the query took, and the connection goes back to the pool (a
//! connection that cannot be cleaned is closed instead). Database errors become
//! [`Error::Query`] with the SQLSTATE as `code`.
//!
//! # Privileged logins
//!
//! A read-only transaction stops writes to tables, not what a privileged login can do without
//! them: `pg_read_file`, `COPY … TO '/path'`, `COPY … TO PROGRAM`, `pg_terminate_backend` on
//! other sessions, replication slots that outlive the transaction. So on first use
//! [`Connector::query`] reads the login's role (once per connector; a failed read is retried on
//! the next query) and refuses with [`Error::PrivilegedLogin`] (kind `Unauthorized`) when it is
//! a superuser, has `REPLICATION`, or is a member (`pg_has_role(…, 'MEMBER')`, which `SET ROLE`
//! can use) of a superuser or replication role or of `pg_read_server_files`,
//! `pg_write_server_files`, `pg_execute_server_program` or `pg_signal_backend`. `CREATEROLE`,
//! `CREATEDB` and `BYPASSRLS` are not refused: the first two act through DDL, which the
//! read-only transaction refuses, and the last only widens what the login reads. The error
//! carries the SQL that creates a login that may only read:
//!
//! ```sql
//! CREATE ROLE metricchat_reader LOGIN PASSWORD '<password>';
//! GRANT CONNECT ON DATABASE shop TO metricchat_reader;
//! GRANT USAGE ON SCHEMA public TO metricchat_reader;
//! GRANT SELECT ON ALL TABLES IN SCHEMA public TO metricchat_reader;
//! ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO metricchat_reader;
//! ```
//!
//! To run on a privileged login anyway, set [`PostgresConfig::allow_privileged_login`] (URL:
//! `?allow_privileged_login=true`); nothing is then checked. Catalog queries (`list_tables`,
//! `table_schema`, `catalog`) are the connector's own and run on any login.
//!
//! # Type mapping
//!
//! Results are read in PostgreSQL's binary format and converted exactly:
//!
//! | PostgreSQL | Arrow |
//! | --- | --- |
//! | `boolean` | Boolean |
//! | `smallint` / `integer` / `bigint` | Int16 / Int32 / Int64 |
//! | `oid` | Int64 |
//! | `real` / `double precision` | Float32 / Float64 |
//! | `numeric(p, s)` table column with p ≤ 38 | Decimal128(p, s) |
//! | `numeric` without typmod (expressions, unconstrained columns) or p > 38 | Utf8 (exact decimal text; `NaN`, `Infinity`, `-Infinity` spelled out) |
//! | `text`, `varchar`, `char(n)`, `name`, `"char"`, `citext`, `xml` | Utf8 |
//! | `bytea` | Binary |
//! | `date` | Date32 (±infinity → NULL) |
//! | `time` | Time64(µs) |
//! | `timestamp` | Timestamp(µs, None) (±infinity → NULL) |
//! | `timestamptz` | Timestamp(µs, "UTC") (±infinity → NULL) |
//! | `interval` | Interval(MonthDayNano) |
//! | `void` (e.g. `pg_sleep`) | Null |
//! | `uuid` | Utf8 (hyphenated lowercase) |
//! | `json` / `jsonb` | Utf8 (the JSON text) |
//! | enums | Utf8 (the label) |
//! | domains | as their base type |
//! | one-dimensional arrays of any type above | List of that type (NULL elements kept) |
//!
//! NULL is kept everywhere. Other types (ranges, composites, geometric and network types,
//! `money`, multi-dimensional arrays) fail with [`Error::Unsupported`] naming the column; cast
//! them to `text` in SQL.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::NullBufferBuilder;
use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, IntervalMonthDayNanoBuilder,
    ListArray, NullArray, RecordBatch, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{
    DataType, Field, IntervalMonthDayNano, IntervalUnit, Schema, SchemaRef, TimeUnit,
};
use async_trait::async_trait;
use metricchat_core::connector::{
    Capabilities, ColumnInfo, Connector, ConnectorInfo, Dialect, ForeignKey, QueryOptions,
    SendableRecordBatchStream, TableKind, TableRef, TableSchema,
};
use metricchat_core::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{
    PgColumn, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgTypeInfo, PgTypeKind,
    PgValueFormat,
};
use sqlx::{
    AssertSqlSafe, Column, Connection, Executor, Postgres, Row, SqlSafeStr, Statement, TypeInfo,
    ValueRef,
};
use tokio::sync::mpsc;

use crate::sql_common::server::{
    self, ArrowColumn, ConnectCause, DbUrl, Endpoint, LoginCheck, LoginPrivileges, OPT_IN, Stop,
    bad_url, bool_param, connect_error, connect_timeout_error, decimal_from_text, number_param,
    pump_rows, report_failure, spawn_query,
};
use crate::sql_common::{
    Limits, SchemaReply, connection_error, conversion_error, query_error, sleep_until,
};

/// The backend name in [`ConnectorInfo::backend`].
pub const BACKEND: &str = "postgres";

/// How to reach a PostgreSQL database.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PostgresConfig {
    /// The connection's name (default: the database name).
    pub name: Option<String>,
    /// Host name or address (default `localhost`).
    pub host: String,
    /// Port (default 5432).
    pub port: u16,
    /// User (default `postgres`).
    pub user: String,
    /// Password, if the server asks for one. Hidden in `Debug`.
    pub password: Option<String>,
    /// Database (default `postgres`).
    pub database: String,
    /// libpq-style `sslmode` (`disable`, `prefer`, `require`, …; default: sqlx's `prefer`).
    pub ssl_mode: Option<String>,
    /// Schemas for unqualified names, set with `SET search_path` on every new connection
    /// (default: the server's).
    pub search_path: Option<String>,
    /// Pool size (default 5).
    pub max_connections: u32,
    /// How long to wait for a pooled connection or a new one, in seconds (default 10).
    pub connect_timeout_secs: u64,
    /// Run queries even when the login is privileged (superuser, `REPLICATION`, or a member of a
    /// superuser or replication role, `pg_read_server_files`, `pg_write_server_files`,
    /// `pg_execute_server_program` or `pg_signal_backend`). Default `false`: such a login gets
    /// [`Error::PrivilegedLogin`] from [`Connector::query`] (see the module docs).
    pub allow_privileged_login: bool,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            name: None,
            host: "localhost".into(),
            port: 5432,
            user: "postgres".into(),
            password: None,
            database: "postgres".into(),
            ssl_mode: None,
            search_path: None,
            max_connections: 5,
            connect_timeout_secs: 10,
            allow_privileged_login: false,
        }
    }
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.debug_as("PostgresConfig", f)
    }
}

impl PostgresConfig {
    /// `Debug` under another type's name (Redshift's config has the same fields).
    pub(crate) fn debug_as(&self, type_name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(type_name)
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("database", &self.database)
            .field("ssl_mode", &self.ssl_mode)
            .field("search_path", &self.search_path)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("allow_privileged_login", &self.allow_privileged_login)
            .finish()
    }

    /// Parses `postgres://user:password@host:port/database?name=…&sslmode=…&search_path=…&max_connections=…&connect_timeout=…&allow_privileged_login=…`
    /// (`postgresql://` too).
    pub fn from_url(url: &str) -> Result<Self> {
        Self::default().with_url(url, "PostgreSQL", &["postgres", "postgresql"])
    }

    /// This config with the parts of `url` applied (shared with Redshift's URLs).
    pub(crate) fn with_url(mut self, url: &str, engine: &str, schemes: &[&str]) -> Result<Self> {
        let parts = DbUrl::parse(url, engine, schemes)?;
        if let Some(host) = parts.host {
            self.host = host;
        }
        if let Some(port) = parts.port {
            self.port = port;
        }
        if let Some(user) = parts.user {
            self.user = user;
        }
        self.password = parts.password;
        if let Some(db) = parts.database {
            self.database = db;
        }
        for (k, v) in parts.params {
            match k.as_str() {
                "name" => self.name = Some(v),
                "sslmode" | "ssl-mode" | "ssl_mode" => self.ssl_mode = Some(v),
                "search_path" => self.search_path = Some(v),
                "max_connections" => self.max_connections = number_param(engine, &k, &v)?,
                "connect_timeout" => self.connect_timeout_secs = number_param(engine, &k, &v)?,
                "allow_privileged_login" => {
                    self.allow_privileged_login = bool_param(engine, &k, &v)?;
                }
                other => {
                    return Err(bad_url(
                        engine,
                        format!(
                            "unknown parameter `{other}`; known: name, sslmode, search_path, \
                             max_connections, connect_timeout, allow_privileged_login"
                        ),
                    ));
                }
            }
        }
        Ok(self)
    }

    fn connect_options(&self) -> Result<PgConnectOptions> {
        let mut opts = PgConnectOptions::new_without_pgpass()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .database(&self.database)
            .application_name("metricchat");
        if let Some(p) = &self.password {
            opts = opts.password(p);
        }
        if let Some(mode) = &self.ssl_mode {
            let mode = sqlx::postgres::PgSslMode::from_str(mode)
                .map_err(|e| Error::config(BACKEND, format!("sslmode `{mode}`: {e}")))?;
            opts = opts.ssl_mode(mode);
        }
        Ok(opts)
    }

    fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.max(1))
    }

    fn endpoint<'a>(&'a self, engine: &'a str) -> Endpoint<'a> {
        Endpoint {
            engine,
            host: &self.host,
            port: self.port,
            user: &self.user,
            database: Some(self.database.as_str()),
            timeout: self.connect_timeout(),
        }
    }
}

/// The cause of a failed connection from its SQLSTATE.
fn connect_cause(e: &sqlx::Error) -> ConnectCause {
    let sqlx::Error::Database(db) = e else {
        return ConnectCause::Other;
    };
    match db.code().as_deref() {
        // invalid_password, invalid_authorization_specification
        Some("28P01" | "28000") => ConnectCause::Auth,
        // invalid_catalog_name
        Some("3D000") => ConnectCause::UnknownDatabase,
        // insufficient_privilege (no CONNECT on the database)
        Some("42501") => ConnectCause::DatabaseDenied,
        _ => ConnectCause::Other,
    }
}

/// Which server speaks PostgreSQL's protocol: decides how a privileged login is recognised and
/// which session settings exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PgEngine {
    /// PostgreSQL itself.
    Postgres,
    /// Amazon Redshift (forked from PostgreSQL 8.0: `pg_user.usesuper`, no advisory locks, no
    /// `standard_conforming_strings`).
    Redshift,
}

impl PgEngine {
    /// The engine's name in messages.
    fn name(self) -> &'static str {
        match self {
            PgEngine::Postgres => "PostgreSQL",
            PgEngine::Redshift => "Redshift",
        }
    }

    /// What runs before each query: a read-only transaction, backslashes in `'…'` taken
    /// literally (what the guard's parser assumes; PostgreSQL only) and the time limit.
    fn setup_sql(self, limit: Option<Duration>) -> String {
        let mut sql = String::from("BEGIN READ ONLY");
        if self == PgEngine::Postgres {
            sql.push_str("; SET LOCAL standard_conforming_strings = on");
        }
        if let Some(left) = limit {
            sql.push_str(&format!(
                "; SET LOCAL statement_timeout = {}",
                left.as_millis()
            ));
        }
        sql
    }

    /// What runs after each query: the rollback, and on PostgreSQL the release of session-level
    /// advisory locks the query took (the rollback releases only transaction-level ones), so a
    /// pooled connection never keeps a lock.
    fn cleanup_sql(self) -> &'static str {
        match self {
            PgEngine::Postgres => "ROLLBACK; SELECT pg_advisory_unlock_all()",
            PgEngine::Redshift => "ROLLBACK",
        }
    }

    /// How to create a login that may only read, and why, for [`Error::PrivilegedLogin`].
    fn least_privilege_hint(self, database: &str) -> String {
        let (what, create) = match self {
            PgEngine::Postgres => (
                "reading or writing server files (pg_read_file, COPY ... TO '/path'), running \
                 programs (COPY ... TO PROGRAM), signalling other sessions (pg_terminate_backend) \
                 or creating replication slots",
                format!(
                    "CREATE ROLE metricchat_reader LOGIN PASSWORD '<password>'; \
                     GRANT CONNECT ON DATABASE {} TO metricchat_reader; ",
                    quote_ident(database)
                ),
            ),
            PgEngine::Redshift => (
                "reading every user's tables or ending other sessions (pg_terminate_backend): \
                 a superuser passes every permission check",
                "CREATE USER metricchat_reader PASSWORD '<password>'; ".to_string(),
            ),
        };
        format!(
            "A read-only transaction does not stop such a login from {what}. Connect as a login \
             that may only read, created by an administrator: {create}GRANT USAGE ON SCHEMA \
             public TO metricchat_reader; GRANT SELECT ON ALL TABLES IN SCHEMA public TO \
             metricchat_reader; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES \
             TO metricchat_reader; (repeat the last three for every schema to query). {OPT_IN}"
        )
    }
}

/// An identifier in double quotes.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The login and what makes it privileged on PostgreSQL: `SUPERUSER` and `REPLICATION` (slot
/// functions work in a read-only transaction and their slots outlive it), and membership (which
/// `SET ROLE` turns into use) in a superuser or replication role or in the predefined roles that
/// reach outside the database: server files, programs and other sessions.
const PG_PRIVILEGES: &str = "SELECT current_user::text, r.rolsuper, r.rolreplication, \
       ARRAY(SELECT CASE WHEN m.rolsuper THEN 'member of superuser role ' || quote_ident(m.rolname) \
                         WHEN m.rolreplication THEN 'member of replication role ' || quote_ident(m.rolname) \
                         ELSE 'member of ' || m.rolname::text END \
             FROM pg_catalog.pg_roles m \
             WHERE m.oid <> r.oid AND pg_catalog.pg_has_role(r.oid, m.oid, 'MEMBER') \
               AND (m.rolsuper OR m.rolreplication OR m.rolname IN ('pg_read_server_files', \
                    'pg_write_server_files', 'pg_execute_server_program', 'pg_signal_backend')) \
             ORDER BY 1) \
     FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

/// The login and whether it is a superuser, on Redshift.
const REDSHIFT_PRIVILEGES: &str =
    "SELECT current_user::text, usesuper FROM pg_catalog.pg_user WHERE usename = current_user";

/// A pooled PostgreSQL connection (see the module docs).
pub struct PostgresConnector {
    name: String,
    pool: PgPool,
    options: PgConnectOptions,
    config: PostgresConfig,
    engine: PgEngine,
    login: LoginCheck,
}

impl fmt::Debug for PostgresConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConnector")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PostgresConnector {
    /// A connection from a `postgres://` URL. The pool connects lazily, on first use.
    pub fn from_url(url: &str) -> Result<Self> {
        Self::new(PostgresConfig::from_url(url)?)
    }

    /// A connection from a config. The pool connects lazily, on first use.
    pub fn new(config: PostgresConfig) -> Result<Self> {
        Self::for_engine(config, PgEngine::Postgres)
    }

    /// A connection to an engine speaking PostgreSQL's protocol.
    pub(crate) fn for_engine(config: PostgresConfig, engine: PgEngine) -> Result<Self> {
        let options = config.connect_options()?;
        let mut pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.connect_timeout());
        if let Some(path) = config.search_path.clone() {
            let plain = |c: char| c.is_alphanumeric() || matches!(c, '_' | '$' | ',' | ' ' | '"');
            if path.trim().is_empty() || !path.chars().all(plain) {
                return Err(Error::invalid_input(format!(
                    "search_path `{path}` must be a comma-separated list of schema names"
                )));
            }
            let set = format!("SET search_path TO {path}");
            pool = pool.after_connect(move |conn, _meta| {
                let set = set.clone();
                Box::pin(async move {
                    sqlx::raw_sql(AssertSqlSafe(set)).execute(conn).await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_lazy_with(options.clone());
        let name = config
            .name
            .clone()
            .unwrap_or_else(|| config.database.clone());
        Ok(Self {
            name,
            pool,
            options,
            login: LoginCheck::new(config.allow_privileged_login),
            config,
            engine,
        })
    }

    /// The connection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sqlx pool (for loading data in tests or embedding code; queries through it are not
    /// read-only).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Reads what makes the login privileged (see [`PG_PRIVILEGES`]).
    async fn detect_privileges(&self) -> Result<LoginPrivileges> {
        let err = |e| query_error(&self.name, e);
        let mut privileges = Vec::new();
        let user = match self.engine {
            PgEngine::Postgres => {
                let row = sqlx::query(PG_PRIVILEGES)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(err)?;
                if row.try_get::<bool, _>(1).map_err(err)? {
                    privileges.push("superuser".to_string());
                } else {
                    if row.try_get::<bool, _>(2).map_err(err)? {
                        privileges.push("REPLICATION".to_string());
                    }
                    privileges.extend(row.try_get::<Vec<String>, _>(3).map_err(err)?);
                }
                row.try_get(0).map_err(err)?
            }
            PgEngine::Redshift => {
                let row = sqlx::query(REDSHIFT_PRIVILEGES)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(err)?;
                if row.try_get::<bool, _>(1).map_err(err)? {
                    privileges.push("superuser".to_string());
                }
                row.try_get(0).map_err(err)?
            }
        };
        Ok(LoginPrivileges { user, privileges })
    }

    async fn catalog_rows(
        &self,
        sql: &'static str,
        schema: &str,
        table: &str,
    ) -> Result<Vec<sqlx::postgres::PgRow>> {
        sqlx::query(sql)
            .bind(schema)
            .bind(table)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| query_error(&self.name, e))
    }
}

const LIST_TABLES: &str = "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
       AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%' \
       AND NOT c.relispartition \
       AND has_schema_privilege(n.oid, 'USAGE') \
     ORDER BY 1, 2";

const TABLE_INFO: &str = "SELECT c.oid::int8, c.relkind::text, obj_description(c.oid, 'pg_class'), \
       c.reltuples::float8 FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')";

const COLUMNS: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), \
       NOT a.attnotnull, col_description(a.attrelid, a.attnum) \
     FROM pg_catalog.pg_attribute a \
     WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

const CONSTRAINTS: &str = "SELECT con.contype::text, \
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i) \
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i), \
       rn.nspname::text, rc.relname::text, \
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i) \
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) \
     FROM pg_catalog.pg_constraint con \
     LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid \
     LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
     WHERE con.conrelid = $1::int8::oid AND con.contype IN ('p', 'f') ORDER BY con.conname";

/// The relations `LIST_TABLES` shows, for the bulk catalog queries.
const CATALOG_RELATIONS: &str = "SELECT c.oid FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
       AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%' \
       AND NOT c.relispartition \
       AND has_schema_privilege(n.oid, 'USAGE')";

fn catalog_tables_sql() -> String {
    format!(
        "SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text, \
           d.description, c.reltuples::float8 \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.objsubid = 0 \
           AND d.classoid = 'pg_catalog.pg_class'::regclass \
         WHERE c.oid IN ({CATALOG_RELATIONS}) ORDER BY 2, 3"
    )
}

fn catalog_columns_sql() -> String {
    format!(
        "SELECT a.attrelid::int8, a.attname::text, format_type(a.atttypid, a.atttypmod), \
           NOT a.attnotnull, d.description \
         FROM pg_catalog.pg_attribute a \
         LEFT JOIN pg_catalog.pg_description d ON d.objoid = a.attrelid \
           AND d.objsubid = a.attnum AND d.classoid = 'pg_catalog.pg_class'::regclass \
         WHERE a.attrelid IN ({CATALOG_RELATIONS}) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attrelid, a.attnum"
    )
}

fn catalog_constraints_sql() -> String {
    format!(
        "SELECT con.conrelid::int8, con.contype::text, \
           ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i) \
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i), \
           rn.nspname::text, rc.relname::text, \
           ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i) \
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) \
         FROM pg_catalog.pg_constraint con \
         LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid \
         LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
         WHERE con.conrelid IN ({CATALOG_RELATIONS}) AND con.contype IN ('p', 'f') \
         ORDER BY con.conrelid, con.conname"
    )
}

/// reltuples is -1 for a table never analysed; views have no row estimate.
fn row_estimate(is_view: bool, reltuples: f64) -> Option<u64> {
    (!is_view && reltuples >= 0.0).then(|| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = reltuples.round() as u64;
        n
    })
}

#[async_trait]
impl Connector for PostgresConnector {
    fn info(&self) -> ConnectorInfo {
        ConnectorInfo {
            name: self.name.clone(),
            backend: BACKEND.into(),
            dialect: Dialect::Postgres,
            capabilities: Capabilities::none()
                .with_cancel(true)
                .with_explain(true)
                .with_limit_pushdown(true)
                .with_read_only_transactions(true),
        }
    }

    /// Opens a fresh connection (not from the pool) so the error names the cause at once:
    /// unreachable server, failed authentication ([`Error::Connection`]) or unknown database
    /// ([`Error::NotFound`]).
    async fn test_connection(&self) -> Result<()> {
        let ep = self.config.endpoint(self.engine.name());
        let connect = PgConnection::connect_with(&self.options);
        let mut conn = match tokio::time::timeout(ep.timeout, connect).await {
            Ok(c) => c.map_err(|e| {
                let cause = connect_cause(&e);
                connect_error(&self.name, &ep, cause, e)
            })?,
            Err(_) => return Err(connect_timeout_error(&self.name, &ep)),
        };
        let checked = sqlx::raw_sql("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(|e| connection_error(&self.name, e));
        let _ = conn.close().await;
        checked.map(|_| ())
    }

    async fn list_tables(&self) -> Result<Vec<TableRef>> {
        let rows = sqlx::query(LIST_TABLES)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| query_error(&self.name, e))?;
        rows.iter()
            .map(|r| {
                Ok(TableRef::qualified(
                    r.try_get::<String, _>(0)
                        .map_err(|e| query_error(&self.name, e))?,
                    r.try_get::<String, _>(1)
                        .map_err(|e| query_error(&self.name, e))?,
                ))
            })
            .collect()
    }

    async fn table_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let schema = table.schema.clone().unwrap_or_else(|| "public".into());
        let err = |e| query_error(&self.name, e);
        let info = self.catalog_rows(TABLE_INFO, &schema, &table.name).await?;
        let Some(info) = info.first() else {
            return Err(Error::NotFound {
                what: "table",
                name: table.to_string(),
            });
        };
        let oid: i64 = info.try_get(0).map_err(err)?;
        let relkind: String = info.try_get(1).map_err(err)?;
        let comment: Option<String> = info.try_get(2).map_err(err)?;
        let reltuples: f64 = info.try_get(3).map_err(err)?;
        let columns = sqlx::query(COLUMNS)
            .bind(oid)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?
            .iter()
            .map(|r| {
                Ok(ColumnInfo {
                    name: r.try_get(0)?,
                    data_type: r.try_get(1)?,
                    nullable: r.try_get(2)?,
                    comment: r.try_get(3)?,
                })
            })
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
            .map_err(err)?;
        let mut primary_key = Vec::new();
        let mut foreign_keys = Vec::new();
        for r in sqlx::query(CONSTRAINTS)
            .bind(oid)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?
        {
            let kind: String = r.try_get(0).map_err(err)?;
            let cols: Vec<String> = r.try_get(1).map_err(err)?;
            if kind == "p" {
                primary_key = cols;
            } else {
                let ref_schema: Option<String> = r.try_get(2).map_err(err)?;
                let ref_table: Option<String> = r.try_get(3).map_err(err)?;
                foreign_keys.push(ForeignKey {
                    columns: cols,
                    references: TableRef {
                        schema: ref_schema,
                        name: ref_table.unwrap_or_default(),
                    },
                    referenced_columns: r.try_get(4).map_err(err)?,
                });
            }
        }
        let is_view = matches!(relkind.as_str(), "v" | "m");
        let row_estimate = row_estimate(is_view, reltuples);
        Ok(TableSchema {
            table: TableRef::qualified(schema, table.name.clone()),
            kind: if is_view {
                TableKind::View
            } else {
                TableKind::Table
            },
            columns,
            comment,
            primary_key,
            foreign_keys,
            row_estimate,
        })
    }

    /// Three catalog queries for every table at once (tables, columns, keys).
    async fn catalog(&self) -> Result<Vec<TableSchema>> {
        let err = |e| query_error(&self.name, e);
        let mut tables: Vec<TableSchema> = Vec::new();
        let mut by_oid: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
        for r in sqlx::query(sqlx::AssertSqlSafe(catalog_tables_sql()))
            .fetch_all(&self.pool)
            .await
            .map_err(err)?
        {
            let oid: i64 = r.try_get(0).map_err(err)?;
            let relkind: String = r.try_get(3).map_err(err)?;
            let is_view = matches!(relkind.as_str(), "v" | "m");
            by_oid.insert(oid, tables.len());
            tables.push(TableSchema {
                table: TableRef::qualified(
                    r.try_get::<String, _>(1).map_err(err)?,
                    r.try_get::<String, _>(2).map_err(err)?,
                ),
                kind: if is_view {
                    TableKind::View
                } else {
                    TableKind::Table
                },
                columns: Vec::new(),
                comment: r.try_get(4).map_err(err)?,
                primary_key: Vec::new(),
                foreign_keys: Vec::new(),
                row_estimate: row_estimate(is_view, r.try_get(5).map_err(err)?),
            });
        }
        for r in sqlx::query(sqlx::AssertSqlSafe(catalog_columns_sql()))
            .fetch_all(&self.pool)
            .await
            .map_err(err)?
        {
            let oid: i64 = r.try_get(0).map_err(err)?;
            if let Some(&i) = by_oid.get(&oid) {
                tables[i].columns.push(ColumnInfo {
                    name: r.try_get(1).map_err(err)?,
                    data_type: r.try_get(2).map_err(err)?,
                    nullable: r.try_get(3).map_err(err)?,
                    comment: r.try_get(4).map_err(err)?,
                });
            }
        }
        for r in sqlx::query(sqlx::AssertSqlSafe(catalog_constraints_sql()))
            .fetch_all(&self.pool)
            .await
            .map_err(err)?
        {
            let oid: i64 = r.try_get(0).map_err(err)?;
            let Some(&i) = by_oid.get(&oid) else {
                continue;
            };
            let kind: String = r.try_get(1).map_err(err)?;
            let cols: Vec<String> = r.try_get(2).map_err(err)?;
            if kind == "p" {
                tables[i].primary_key = cols;
            } else {
                tables[i].foreign_keys.push(ForeignKey {
                    columns: cols,
                    references: TableRef {
                        schema: r.try_get(3).map_err(err)?,
                        name: r
                            .try_get::<Option<String>, _>(4)
                            .map_err(err)?
                            .unwrap_or_default(),
                    },
                    referenced_columns: r.try_get(5).map_err(err)?,
                });
            }
        }
        Ok(tables)
    }

    /// Fails with [`Error::PrivilegedLogin`] on a privileged login unless
    /// `allow_privileged_login` is set (checked on first use, then cached).
    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        let limits = Limits::from_options(&self.name, opts);
        self.login
            .ensure(
                &limits,
                || self.detect_privileges(),
                || self.engine.least_privilege_hint(&self.config.database),
            )
            .await?;
        let task = QueryTask {
            pool: self.pool.clone(),
            engine: self.engine,
            sql: sql.to_string(),
            limits: limits.clone(),
        };
        spawn_query(limits, |schema_tx, batch_tx| task.run(schema_tx, batch_tx)).await
    }
}

/// Everything the background query task needs.
struct QueryTask {
    pool: PgPool,
    engine: PgEngine,
    sql: String,
    limits: Limits,
}

type TxConn = server::TxConn<Postgres>;

impl QueryTask {
    async fn run(self, schema_tx: SchemaReply, batch_tx: mpsc::Sender<Result<RecordBatch>>) {
        let mut schema_tx = Some(schema_tx);
        let result = self.run_inner(&mut schema_tx, &batch_tx).await;
        report_failure(&mut schema_tx, &batch_tx, result).await;
    }

    async fn run_inner(
        &self,
        schema_tx: &mut Option<SchemaReply>,
        batch_tx: &mpsc::Sender<Result<RecordBatch>>,
    ) -> Result<()> {
        let name = &self.limits.connector;
        let conn = tokio::select! {
            biased;
            () = self.limits.cancel.cancelled() => return Err(Error::Cancelled),
            () = sleep_until(self.limits.deadline) => return Err(self.limits.timeout_error()),
            c = self.pool.acquire() => c.map_err(|e| connection_error(name, e))?,
        };
        let mut tx = TxConn { conn, clean: false };
        let setup = self.engine.setup_sql(self.limits.remaining());
        sqlx::raw_sql(AssertSqlSafe(setup))
            .execute(&mut *tx.conn)
            .await
            .map_err(|e| query_error(name, e))?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx.conn)
            .await
            .map_err(|e| query_error(name, e))?;

        let mut finished = false;
        let outcome = self
            .stream_rows(&mut tx, &mut finished, schema_tx, batch_tx)
            .await;
        // The statement may still run (row cap, cancel, deadline, dropped stream): interrupt it.
        if !finished {
            cancel_backend(&self.pool, pid).await;
        }
        if sqlx::raw_sql(self.engine.cleanup_sql())
            .execute(&mut *tx.conn)
            .await
            .is_ok()
        {
            tx.clean = true;
        }
        self.limits.conclude(outcome)
    }

    /// Streams rows into batches. `Ok(None)` means the result ended; `Ok(Some(_))` that we
    /// stopped reading early. `finished` tells whether the statement is known to have ended
    /// (otherwise the caller interrupts it).
    async fn stream_rows(
        &self,
        tx: &mut TxConn,
        finished: &mut bool,
        schema_tx: &mut Option<SchemaReply>,
        batch_tx: &mpsc::Sender<Result<RecordBatch>>,
    ) -> Result<Option<Stop>> {
        let name = &self.limits.connector;
        let map_err = |e: sqlx::Error| self.map_engine_error(e);
        let stmt = (&mut *tx.conn)
            .prepare(AssertSqlSafe(self.sql.clone()).into_sql_str())
            .await
            .map_err(|e| {
                *finished = true;
                map_err(e)
            })?;
        let columns: Vec<PgColumn> = stmt.columns().to_vec();
        let mut cols = Vec::with_capacity(columns.len());
        for c in &columns {
            let typmod = self.numeric_typmod(&mut tx.conn, c).await?;
            cols.push(ColBuilder::for_type(c.name(), c.type_info(), typmod)?);
        }
        let schema: SchemaRef = Arc::new(Schema::new(
            cols.iter()
                .zip(&columns)
                .map(|(b, c)| Field::new(c.name(), b.data_type(), true))
                .collect::<Vec<_>>(),
        ));
        if let Some(s) = schema_tx.take() {
            let _ = s.send(Ok(schema.clone()));
        }
        let rows = stmt.query().fetch(&mut *tx.conn);
        let append_row = |row: &sqlx::postgres::PgRow, cols: &mut [ColBuilder]| -> Result<()> {
            for (i, col) in cols.iter_mut().enumerate() {
                let v = row.try_get_raw(i).map_err(|e| query_error(name, e))?;
                if v.is_null() {
                    col.append_null();
                    continue;
                }
                if v.format() != PgValueFormat::Binary {
                    return Err(Error::Internal(
                        "PostgreSQL sent a text-format value".into(),
                    ));
                }
                let bytes = v
                    .as_bytes()
                    .map_err(|e| conversion_error(name, columns[i].name(), e.to_string()))?;
                col.append(bytes)
                    .map_err(|m| conversion_error(name, columns[i].name(), m))?;
            }
            Ok(())
        };
        pump_rows(
            rows,
            &schema,
            &mut cols,
            &self.limits,
            batch_tx,
            finished,
            map_err,
            append_row,
        )
        .await
    }

    /// The `atttypmod` of a numeric (or numeric array) column read straight from a table.
    async fn numeric_typmod(
        &self,
        conn: &mut PoolConnection<Postgres>,
        c: &PgColumn,
    ) -> Result<Option<i32>> {
        let oid = c.type_info().oid().map(|o| o.0);
        if !matches!(oid, Some(1700 | 1231)) {
            return Ok(None);
        }
        let (Some(rel), Some(att)) = (c.relation_id(), c.relation_attribute_no()) else {
            return Ok(None);
        };
        let typmod: Option<i32> = sqlx::query_scalar(
            "SELECT atttypmod FROM pg_catalog.pg_attribute \
             WHERE attrelid = $1::int8::oid AND attnum = $2",
        )
        .bind(i64::from(rel.0))
        .bind(att)
        .fetch_optional(&mut **conn)
        .await
        .map_err(|e| query_error(&self.limits.connector, e))?;
        Ok(typmod.filter(|t| *t >= 4))
    }

    /// Maps a driver error, turning the engine's query cancellation into ours.
    fn map_engine_error(&self, e: sqlx::Error) -> Error {
        if let sqlx::Error::Database(db) = &e
            && db.code().as_deref() == Some("57014")
        {
            if self.limits.cancel.is_cancelled() {
                return Error::Cancelled;
            }
            if self.limits.expired() || db.message().contains("statement timeout") {
                return self.limits.timeout_error();
            }
        }
        query_error(&self.limits.connector, e)
    }
}

/// Interrupts backend `pid` with `pg_cancel_backend` from another connection.
async fn cancel_backend(pool: &PgPool, pid: i32) {
    let sent = sqlx::query("SELECT pg_cancel_backend($1)")
        .bind(pid)
        .execute(pool)
        .await;
    if let Err(e) = sent {
        tracing::warn!(pid, error = %e, "pg_cancel_backend failed");
    }
}

/// PostgreSQL's epoch (2000-01-01) in days and microseconds since the Unix epoch.
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// One result column being converted to Arrow.
enum ColBuilder {
    Bool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    Oid(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    NumericText(StringBuilder),
    Text(StringBuilder),
    Jsonb(StringBuilder),
    Uuid(StringBuilder),
    Bytes(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
    Interval(IntervalMonthDayNanoBuilder),
    Void(usize),
    List {
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        child: Box<ColBuilder>,
    },
}

impl ColBuilder {
    fn for_type(column: &str, ty: &PgTypeInfo, typmod: Option<i32>) -> Result<Self> {
        if let PgTypeKind::Array(elem) = ty.kind() {
            let child = Self::for_type(column, elem, typmod)?;
            if matches!(child, ColBuilder::List { .. }) {
                return Err(unsupported(column, ty));
            }
            return Ok(ColBuilder::List {
                offsets: vec![0],
                nulls: NullBufferBuilder::new(0),
                child: Box::new(child),
            });
        }
        match ty.kind() {
            PgTypeKind::Enum(_) => return Ok(ColBuilder::Text(StringBuilder::new())),
            PgTypeKind::Domain(base) => return Self::for_type(column, base, typmod),
            _ => {}
        }
        let Some(oid) = ty.oid() else {
            return Err(unsupported(column, ty));
        };
        Ok(match oid.0 {
            16 => ColBuilder::Bool(BooleanBuilder::new()),
            21 => ColBuilder::I16(Int16Builder::new()),
            23 => ColBuilder::I32(Int32Builder::new()),
            20 => ColBuilder::I64(Int64Builder::new()),
            26 => ColBuilder::Oid(Int64Builder::new()),
            700 => ColBuilder::F32(Float32Builder::new()),
            701 => ColBuilder::F64(Float64Builder::new()),
            1700 => match typmod.map(numeric_precision_scale) {
                Some((p, s)) if (1..=38).contains(&p) => {
                    let (p, s) = (u8::try_from(p).unwrap_or(38), i8::try_from(s).unwrap_or(0));
                    ColBuilder::Decimal(
                        Decimal128Builder::new().with_data_type(DataType::Decimal128(p, s)),
                        p,
                        s,
                    )
                }
                _ => ColBuilder::NumericText(StringBuilder::new()),
            },
            25 | 1043 | 1042 | 19 | 18 | 142 | 114 => ColBuilder::Text(StringBuilder::new()),
            3802 => ColBuilder::Jsonb(StringBuilder::new()),
            2950 => ColBuilder::Uuid(StringBuilder::new()),
            17 => ColBuilder::Bytes(BinaryBuilder::new()),
            1082 => ColBuilder::Date(Date32Builder::new()),
            1083 => ColBuilder::Time(Time64MicrosecondBuilder::new()),
            1114 => ColBuilder::Timestamp(TimestampMicrosecondBuilder::new()),
            1184 => {
                ColBuilder::TimestampTz(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            1186 => ColBuilder::Interval(IntervalMonthDayNanoBuilder::new()),
            2278 => ColBuilder::Void(0),
            _ if ty.name().eq_ignore_ascii_case("citext") => ColBuilder::Text(StringBuilder::new()),
            _ => return Err(unsupported(column, ty)),
        })
    }

    fn data_type(&self) -> DataType {
        match self {
            ColBuilder::Bool(_) => DataType::Boolean,
            ColBuilder::I16(_) => DataType::Int16,
            ColBuilder::I32(_) => DataType::Int32,
            ColBuilder::I64(_) | ColBuilder::Oid(_) => DataType::Int64,
            ColBuilder::F32(_) => DataType::Float32,
            ColBuilder::F64(_) => DataType::Float64,
            ColBuilder::Decimal(_, p, s) => DataType::Decimal128(*p, *s),
            ColBuilder::NumericText(_)
            | ColBuilder::Text(_)
            | ColBuilder::Jsonb(_)
            | ColBuilder::Uuid(_) => DataType::Utf8,
            ColBuilder::Bytes(_) => DataType::Binary,
            ColBuilder::Date(_) => DataType::Date32,
            ColBuilder::Time(_) => DataType::Time64(TimeUnit::Microsecond),
            ColBuilder::Timestamp(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColBuilder::TimestampTz(_) => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            ColBuilder::Interval(_) => DataType::Interval(IntervalUnit::MonthDayNano),
            ColBuilder::Void(_) => DataType::Null,
            ColBuilder::List { child, .. } => {
                DataType::List(Arc::new(Field::new("item", child.data_type(), true)))
            }
        }
    }

    fn append_null(&mut self) {
        match self {
            ColBuilder::Bool(b) => b.append_null(),
            ColBuilder::I16(b) => b.append_null(),
            ColBuilder::I32(b) => b.append_null(),
            ColBuilder::I64(b) | ColBuilder::Oid(b) => b.append_null(),
            ColBuilder::F32(b) => b.append_null(),
            ColBuilder::F64(b) => b.append_null(),
            ColBuilder::Decimal(b, _, _) => b.append_null(),
            ColBuilder::NumericText(b)
            | ColBuilder::Text(b)
            | ColBuilder::Jsonb(b)
            | ColBuilder::Uuid(b) => b.append_null(),
            ColBuilder::Bytes(b) => b.append_null(),
            ColBuilder::Date(b) => b.append_null(),
            ColBuilder::Time(b) => b.append_null(),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampTz(b) => b.append_null(),
            ColBuilder::Interval(b) => b.append_null(),
            ColBuilder::Void(n) => *n += 1,
            ColBuilder::List { offsets, nulls, .. } => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
                nulls.append_null();
            }
        }
    }

    /// Appends one binary-format value.
    fn append(&mut self, v: &[u8]) -> std::result::Result<(), String> {
        match self {
            ColBuilder::Bool(b) => b.append_value(fixed::<1>(v)?[0] != 0),
            ColBuilder::I16(b) => b.append_value(i16::from_be_bytes(fixed(v)?)),
            ColBuilder::I32(b) => b.append_value(i32::from_be_bytes(fixed(v)?)),
            ColBuilder::I64(b) => b.append_value(i64::from_be_bytes(fixed(v)?)),
            ColBuilder::Oid(b) => b.append_value(i64::from(u32::from_be_bytes(fixed(v)?))),
            ColBuilder::F32(b) => b.append_value(f32::from_be_bytes(fixed(v)?)),
            ColBuilder::F64(b) => b.append_value(f64::from_be_bytes(fixed(v)?)),
            ColBuilder::Decimal(b, _, s) => {
                let text = numeric_text(v)?;
                b.append_value(decimal_from_text(&text, *s)?);
            }
            ColBuilder::NumericText(b) => b.append_value(numeric_text(v)?),
            ColBuilder::Text(b) => b.append_value(utf8(v)?),
            ColBuilder::Jsonb(b) => match v.split_first() {
                Some((1, rest)) => b.append_value(utf8(rest)?),
                _ => return Err("unknown jsonb binary version".into()),
            },
            ColBuilder::Uuid(b) => b.append_value(uuid_text(&fixed::<16>(v)?)),
            ColBuilder::Bytes(b) => b.append_value(v),
            ColBuilder::Void(n) => *n += 1,
            ColBuilder::Date(b) => {
                let d = i32::from_be_bytes(fixed(v)?);
                match d.checked_add(PG_EPOCH_DAYS) {
                    Some(d) if d != i32::MAX && d != i32::MIN => b.append_value(d),
                    _ => b.append_null(),
                }
            }
            ColBuilder::Time(b) => b.append_value(i64::from_be_bytes(fixed(v)?)),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampTz(b) => {
                let t = i64::from_be_bytes(fixed(v)?);
                if t == i64::MAX || t == i64::MIN {
                    b.append_null();
                } else {
                    b.append_value(t.saturating_add(PG_EPOCH_MICROS));
                }
            }
            ColBuilder::Interval(b) => {
                let raw = fixed::<16>(v)?;
                let micros = i64::from_be_bytes(take8(&raw[0..8]));
                let days = i32::from_be_bytes(take4(&raw[8..12]));
                let months = i32::from_be_bytes(take4(&raw[12..16]));
                b.append_value(IntervalMonthDayNano::new(
                    months,
                    days,
                    micros.saturating_mul(1000),
                ));
            }
            ColBuilder::List {
                offsets,
                nulls,
                child,
            } => {
                let elems = array_elements(v)?;
                let n = i32::try_from(elems.len()).map_err(|_| "array too long".to_string())?;
                for e in elems {
                    match e {
                        Some(bytes) => child.append(bytes)?,
                        None => child.append_null(),
                    }
                }
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last + n);
                nulls.append_non_null();
            }
        }
        Ok(())
    }
}

impl ArrowColumn for ColBuilder {
    fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Bool(b) => Arc::new(b.finish()),
            ColBuilder::I16(b) => Arc::new(b.finish()),
            ColBuilder::I32(b) => Arc::new(b.finish()),
            ColBuilder::I64(b) | ColBuilder::Oid(b) => Arc::new(b.finish()),
            ColBuilder::F32(b) => Arc::new(b.finish()),
            ColBuilder::F64(b) => Arc::new(b.finish()),
            ColBuilder::Decimal(b, _, _) => Arc::new(b.finish()),
            ColBuilder::NumericText(b)
            | ColBuilder::Text(b)
            | ColBuilder::Jsonb(b)
            | ColBuilder::Uuid(b) => Arc::new(b.finish()),
            ColBuilder::Bytes(b) => Arc::new(b.finish()),
            ColBuilder::Date(b) => Arc::new(b.finish()),
            ColBuilder::Time(b) => Arc::new(b.finish()),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampTz(b) => Arc::new(b.finish()),
            ColBuilder::Interval(b) => Arc::new(b.finish()),
            ColBuilder::Void(n) => Arc::new(NullArray::new(std::mem::take(n))),
            ColBuilder::List {
                offsets,
                nulls,
                child,
            } => {
                let field = Arc::new(Field::new("item", child.data_type(), true));
                let values = child.finish();
                let offs = std::mem::replace(offsets, vec![0]);
                let nb = nulls.finish();
                Arc::new(ListArray::new(
                    field,
                    OffsetBuffer::new(offs.into()),
                    values,
                    nb,
                ))
            }
        }
    }
}

fn unsupported(column: &str, ty: &PgTypeInfo) -> Error {
    Error::Unsupported(format!(
        "column `{column}` has PostgreSQL type `{}`, which has no Arrow mapping; \
         cast it to text in the query (`{column}::text`)",
        ty.name()
    ))
}

fn fixed<const N: usize>(v: &[u8]) -> std::result::Result<[u8; N], String> {
    v.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", v.len()))
}

fn take4(v: &[u8]) -> [u8; 4] {
    let mut a = [0u8; 4];
    a.copy_from_slice(&v[..4]);
    a
}

fn take8(v: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(&v[..8]);
    a
}

fn utf8(v: &[u8]) -> std::result::Result<&str, String> {
    std::str::from_utf8(v).map_err(|e| format!("invalid UTF-8: {e}"))
}

fn uuid_text(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

/// Precision and scale from a numeric `atttypmod`.
fn numeric_precision_scale(typmod: i32) -> (i32, i32) {
    let t = typmod - 4;
    ((t >> 16) & 0xffff, t & 0xffff)
}

/// The decimal text of a binary `numeric` (base-10000 digits, weight, sign, display scale).
fn numeric_text(v: &[u8]) -> std::result::Result<String, String> {
    if v.len() < 8 {
        return Err("short numeric value".into());
    }
    let u16_at = |i: usize| u16::from_be_bytes([v[i], v[i + 1]]);
    let ndigits = usize::from(u16_at(0));
    let weight = i32::from(i16::from_be_bytes([v[2], v[3]]));
    let sign = u16_at(4);
    let dscale = usize::from(u16_at(6));
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    if v.len() < 8 + 2 * ndigits {
        return Err("short numeric value".into());
    }
    let digit = |i: i32| -> u16 {
        usize::try_from(i)
            .ok()
            .filter(|i| *i < ndigits)
            .map_or(0, |i| u16_at(8 + 2 * i))
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for p in 0..=weight {
            let d = digit(p);
            if p == 0 {
                out.push_str(&d.to_string());
            } else {
                out.push_str(&format!("{d:04}"));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let groups = i32::try_from(dscale.div_ceil(4)).unwrap_or(i32::MAX);
        for g in 1..=groups {
            frac.push_str(&format!("{:04}", digit(weight + g)));
        }
        frac.truncate(dscale);
        out.push('.');
        out.push_str(&frac);
    }
    Ok(out)
}

/// The elements of a one-dimensional binary array (`None` for NULL elements).
fn array_elements(v: &[u8]) -> std::result::Result<Vec<Option<&[u8]>>, String> {
    let short = || "short array value".to_string();
    let i32_at = |i: usize| -> std::result::Result<i32, String> {
        v.get(i..i + 4)
            .map(|b| i32::from_be_bytes(take4(b)))
            .ok_or_else(short)
    };
    let ndim = i32_at(0)?;
    if ndim == 0 {
        return Ok(Vec::new());
    }
    if ndim != 1 {
        return Err(format!(
            "{ndim}-dimensional arrays are not supported; unnest them or cast to text"
        ));
    }
    let len = usize::try_from(i32_at(12)?).map_err(|_| short())?;
    let mut pos = 20;
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        let n = i32_at(pos)?;
        pos += 4;
        if n < 0 {
            out.push(None);
        } else {
            let n = usize::try_from(n).map_err(|_| short())?;
            out.push(Some(v.get(pos..pos + n).ok_or_else(short)?));
            pos += n;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_hide_passwords() {
        let c = PostgresConfig::from_url("postgres://bob:s%40cret@db.example:6543/shop?name=wh")
            .unwrap();
        assert_eq!(c.host, "db.example");
        assert_eq!(c.port, 6543);
        assert_eq!(c.user, "bob");
        assert_eq!(c.password.as_deref(), Some("s@cret"));
        assert_eq!(c.database, "shop");
        assert_eq!(c.name.as_deref(), Some("wh"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("cret"), "{dbg}");
        assert!(PostgresConfig::from_url("postgres://h/db?bogus=1").is_err());
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _entered = rt.enter();
        let bad = PostgresConnector::from_url("postgres://h/db?search_path=a;DROP%20TABLE%20x");
        assert_eq!(
            bad.unwrap_err().kind(),
            metricchat_core::error::ErrorKind::InvalidInput
        );
        assert!(
            PostgresConnector::from_url("postgres://h/db?search_path=mart,%22$user%22").is_ok()
        );
        assert!(!c.allow_privileged_login);
        let opted =
            PostgresConfig::from_url("postgres://h/db?allow_privileged_login=true").unwrap();
        assert!(opted.allow_privileged_login);
        let err = PostgresConfig::from_url("postgres://h/db?allow_privileged_login=maybe")
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_privileged_login"), "{err}");
        let err = PostgresConfig::from_url("postgres://h/db?bogus=1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_privileged_login"), "{err}");
    }

    #[test]
    fn session_sql_per_engine() {
        let d = Some(Duration::from_millis(1500));
        assert_eq!(
            PgEngine::Postgres.setup_sql(d),
            "BEGIN READ ONLY; SET LOCAL standard_conforming_strings = on; \
             SET LOCAL statement_timeout = 1500"
        );
        assert_eq!(
            PgEngine::Postgres.setup_sql(None),
            "BEGIN READ ONLY; SET LOCAL standard_conforming_strings = on"
        );
        assert_eq!(
            PgEngine::Redshift.setup_sql(d),
            "BEGIN READ ONLY; SET LOCAL statement_timeout = 1500"
        );
        assert_eq!(
            PgEngine::Postgres.cleanup_sql(),
            "ROLLBACK; SELECT pg_advisory_unlock_all()"
        );
        assert_eq!(PgEngine::Redshift.cleanup_sql(), "ROLLBACK");
        let hint = PgEngine::Postgres.least_privilege_hint("sh\"op");
        assert!(
            hint.contains("GRANT CONNECT ON DATABASE \"sh\"\"op\" TO metricchat_reader"),
            "{hint}"
        );
        assert!(hint.contains("COPY ... TO PROGRAM"), "{hint}");
        assert!(hint.contains("allow_privileged_login=true"), "{hint}");
        let hint = PgEngine::Redshift.least_privilege_hint("dev");
        assert!(hint.starts_with("A read-only transaction"), "{hint}");
        assert!(
            hint.contains("CREATE USER metricchat_reader PASSWORD"),
            "{hint}"
        );
        assert!(!hint.contains("CONNECT ON DATABASE"), "{hint}");
    }

    #[test]
    fn numerics_decode() {
        // 12345.678: ndigits 3, weight 1, sign +, dscale 3, digits 1 2345 6780
        let v = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c];
        assert_eq!(numeric_text(&v).unwrap(), "12345.678");
        assert_eq!(decimal_from_text("12345.678", 4).unwrap(), 123_456_780);
        assert_eq!(decimal_from_text("-0.5", 2).unwrap(), -50);
        // 0.0001: ndigits 1, weight -1, dscale 4, digit 1
        let v = [0, 1, 0xff, 0xff, 0, 0, 0, 4, 0, 1];
        assert_eq!(numeric_text(&v).unwrap(), "0.0001");
        assert_eq!(numeric_precision_scale((10 << 16 | 2) + 4), (10, 2));
    }
}
