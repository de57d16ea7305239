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
//! # Per-user roles
//!
//! With [`QueryOptions::run_as`] naming a role, the transaction runs `SET LOCAL ROLE "<role>"`
//! (quoted, never spliced): the query runs with that role's grants and row-level security
//! policies, and the role ends with the transaction. Without one it runs `SET LOCAL ROLE NONE`,
//! so a role a session-level `SET ROLE` left on a pooled connection never applies. The login
//! must be a member of the role (`GRANT analyst_eu TO metricchat_login`; make the login
//! `NOINHERIT` so it reads nothing on its own); an unknown role or one the login may not take
//! is [`Error::RunAs`] (kind `Unauthorized`). Redshift has no `SET ROLE` and refuses.
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
    Capabilities, ColumnInfo, Connector, ConnectorInfo, CostEstimate, Dialect, ForeignKey,
    QueryLimits, QueryOptions, SendableRecordBatchStream, TableKind, TableRef, TableSchema,
};
use metricchat_core::error::{Error, Result};
use secrecy::{ExposeSecret, SecretString};
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

use crate::sqlx::{
    ArrowColumn, ConnectCause, DbUrl, Endpoint, LoginCheck, LoginPrivileges, OPT_IN, SqlxEngine,
    Stop, bad_url, bool_param, connect_error, connect_timeout_error, decimal_from_text,
    number_param, pump_rows, run_query,
};
use crate::sqlx::{connection_error, conversion_error, engine_time_left, query_error};
use crate::task::SchemaReply;

mod catalog;
mod config;
mod estimate;
mod types;

use catalog::*;
pub use config::PostgresConfig;
use types::*;

/// The backend name in [`ConnectorInfo::backend`].
pub const BACKEND: &str = "postgres";

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
    ///
    /// On PostgreSQL the transaction also sets its role: `SET LOCAL ROLE "<role>"` for a query
    /// run as a user's role, `SET LOCAL ROLE NONE` otherwise, so a query runs as exactly the
    /// identity it asked for whatever role a session-level `SET ROLE` left on the pooled
    /// connection; `LOCAL` ends with the transaction, so the role never outlives the query.
    fn setup_sql(self, limit: Option<Duration>, role: Option<&str>) -> String {
        let mut sql = String::from("BEGIN READ ONLY");
        if self == PgEngine::Postgres {
            sql.push_str("; SET LOCAL standard_conforming_strings = on");
            match role {
                Some(r) => sql.push_str(&format!("; SET LOCAL ROLE {}", quote_ident(r))),
                None => sql.push_str("; SET LOCAL ROLE NONE"),
            }
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
/// Longest an `EXPLAIN` for a cost estimate may take.
const ESTIMATE_TIMEOUT: Duration = Duration::from_secs(10);

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
                .with_read_only_transactions(true)
                .with_estimate(self.engine == PgEngine::Postgres)
                .with_run_as_role(self.engine == PgEngine::Postgres),
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

    /// `EXPLAIN (FORMAT JSON)` in a read-only transaction as the connection's login: the plan's
    /// rows, total cost (planner units) and rows × width as bytes. Nothing runs. `None` on
    /// Redshift (no JSON plans).
    async fn estimate(&self, sql: &str) -> Result<Option<CostEstimate>> {
        if self.engine != PgEngine::Postgres {
            return Ok(None);
        }
        let limits = QueryLimits::new(&self.name, QueryOptions::default());
        self.login
            .ensure(
                &limits,
                || self.detect_privileges(),
                || self.engine.least_privilege_hint(&self.config.database),
            )
            .await?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| connection_error(&self.name, e))?;
        let setup = self.engine.setup_sql(Some(ESTIMATE_TIMEOUT), None);
        let explained = async {
            sqlx::raw_sql(AssertSqlSafe(setup))
                .execute(&mut *conn)
                .await?;
            let explain = format!("EXPLAIN (FORMAT JSON) {sql}");
            sqlx::query_scalar::<_, serde_json::Value>(AssertSqlSafe(explain))
                .fetch_one(&mut *conn)
                .await
        }
        .await;
        if sqlx::raw_sql(self.engine.cleanup_sql())
            .execute(&mut *conn)
            .await
            .is_err()
        {
            // A connection whose transaction may still be open never goes back to the pool.
            conn.close_on_drop();
        }
        let plan = explained.map_err(|e| query_error(&self.name, e))?;
        Ok(estimate::parse_explain(&plan))
    }

    /// Fails with [`Error::PrivilegedLogin`] on a privileged login unless
    /// `allow_privileged_login` is set (checked on first use, then cached).
    ///
    /// With [`QueryOptions::run_as`] naming a role, the query runs as that role (`SET LOCAL
    /// ROLE` inside its transaction; see the module docs); a token, or a role on Redshift, is
    /// refused with [`Error::RunAs`].
    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        if let Some(c) = &opts.run_as {
            c.check_supported(&self.info())?;
        }
        let limits = QueryLimits::new(&self.name, opts);
        self.login
            .ensure(
                &limits,
                || self.detect_privileges(),
                || self.engine.least_privilege_hint(&self.config.database),
            )
            .await?;
        let engine = Arc::new(PgQuery {
            pool: self.pool.clone(),
            engine: self.engine,
        });
        run_query(engine, self.pool.clone(), sql, limits).await
    }
}

/// The PostgreSQL (and Redshift) side of the shared query task.
struct PgQuery {
    pool: PgPool,
    engine: PgEngine,
}

impl SqlxEngine for PgQuery {
    type Db = Postgres;
    type Session = i32;

    fn acquire_error(&self, limits: &QueryLimits, e: sqlx::Error) -> Error {
        connection_error(&limits.connector, e)
    }

    async fn setup(
        &self,
        conn: &mut PoolConnection<Postgres>,
        limits: &QueryLimits,
    ) -> Result<i32> {
        let name = &limits.connector;
        let role = limits.run_as.as_ref().and_then(|c| c.role.as_deref());
        let setup = self.engine.setup_sql(engine_time_left(limits), role);
        sqlx::raw_sql(AssertSqlSafe(setup))
            .execute(&mut **conn)
            .await
            .map_err(|e| match role {
                Some(r) => role_error(name, r, e),
                None => query_error(name, e),
            })?;
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut **conn)
            .await
            .map_err(|e| query_error(name, e))
    }

    async fn stream(
        &self,
        conn: &mut PoolConnection<Postgres>,
        sql: &str,
        limits: &QueryLimits,
        finished: &mut bool,
        schema_tx: &mut Option<SchemaReply>,
        batch_tx: &mpsc::Sender<Result<RecordBatch>>,
    ) -> Result<Option<Stop>> {
        let name = &limits.connector;
        let map_err = |e: sqlx::Error| map_engine_error(limits, e);
        let stmt = (&mut **conn)
            .prepare(AssertSqlSafe(sql.to_string()).into_sql_str())
            .await
            .map_err(|e| {
                *finished = true;
                map_err(e)
            })?;
        let columns: Vec<PgColumn> = stmt.columns().to_vec();
        let mut cols = Vec::with_capacity(columns.len());
        for c in &columns {
            let typmod = numeric_typmod(conn, c, name).await?;
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
        let rows = stmt.query().fetch(&mut **conn);
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
            rows, &schema, &mut cols, limits, batch_tx, finished, map_err, append_row,
        )
        .await
    }

    async fn interrupt(&self, pid: i32) {
        cancel_backend(&self.pool, pid).await;
    }

    async fn cleanup(&self, conn: &mut PoolConnection<Postgres>) -> bool {
        sqlx::raw_sql(self.engine.cleanup_sql())
            .execute(&mut **conn)
            .await
            .is_ok()
    }
}

/// The `atttypmod` of a numeric (or numeric array) column read straight from a table.
async fn numeric_typmod(
    conn: &mut PoolConnection<Postgres>,
    c: &PgColumn,
    connector: &str,
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
    .map_err(|e| query_error(connector, e))?;
    Ok(typmod.filter(|t| *t >= 4))
}

/// The error of a setup that took a role: an unknown role (SQLSTATE `22023`) or one the login
/// is not a member of (`42501`) becomes [`Error::RunAs`] (kind `Unauthorized`).
fn role_error(connector: &str, role: &str, e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &e
        && matches!(db.code().as_deref(), Some("22023" | "42501"))
    {
        return Error::run_as(
            connector,
            role,
            format!(
                "{} (the connection's login must be a member of the role: GRANT {} TO <login>)",
                db.message(),
                quote_ident(role)
            ),
            metricchat_core::error::ErrorKind::Unauthorized,
        );
    }
    query_error(connector, e)
}

/// Maps a driver error, turning the engine's query cancellation into ours.
fn map_engine_error(limits: &QueryLimits, e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &e
        && db.code().as_deref() == Some("57014")
    {
        if limits.cancel.is_cancelled() {
            return Error::Cancelled;
        }
        if limits.expired() || db.message().contains("statement timeout") {
            return limits.timeout_error();
        }
    }
    query_error(&limits.connector, e)
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
        assert_eq!(
            c.password.as_ref().map(ExposeSecret::expose_secret),
            Some("s@cret")
        );
        assert_eq!(c.database, "shop");
        assert_eq!(c.name.as_deref(), Some("wh"));
        let dbg = format!("{c:?}");
        // The redacted secret prints as `SecretBox<str>([REDACTED])`: no part of the password.
        assert!(!dbg.replace("SecretBox", "").contains("cret"), "{dbg}");
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
            PgEngine::Postgres.setup_sql(d, None),
            "BEGIN READ ONLY; SET LOCAL standard_conforming_strings = on; \
             SET LOCAL ROLE NONE; SET LOCAL statement_timeout = 1500"
        );
        assert_eq!(
            PgEngine::Postgres.setup_sql(None, Some("an\"alyst")),
            "BEGIN READ ONLY; SET LOCAL standard_conforming_strings = on; \
             SET LOCAL ROLE \"an\"\"alyst\""
        );
        assert_eq!(
            PgEngine::Redshift.setup_sql(d, None),
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
