//! MySQL and MariaDB through sqlx: `mysql://user:password@host:3306/database?name=warehouse`
//! (`mariadb://` too).
//!
//! ```no_run
//! # async fn demo() -> metricchat_core::error::Result<()> {
//! use metricchat_core::connector::{Connector, QueryOptions, collect_stream};
//! let db = metricchat_connectors::mysql::MySqlConnector::from_url(
//!     "mysql://analyst@127.0.0.1:3306/shop",
//! )?;
//! db.test_connection().await?; // names the cause: unreachable, bad password, unknown database
//! let data = collect_stream(db.query("SELECT 1 AS one", QueryOptions::default()).await?).await?;
//! # Ok(()) }
//! ```
//!
//! URL parameters: `name` (the connection's name; default: the database), `ssl-mode`
//! (`DISABLED`, `PREFERRED`, `REQUIRED`, `VERIFY_CA`, `VERIFY_IDENTITY`), `max_connections`
//! (pool size, default 5), `connect_timeout` (seconds, default 10) and
//! `allow_privileged_login` (`true` to run queries on a privileged login, below).
//!
//! # Scope
//!
//! With a database in the URL, [`Connector::list_tables`] lists that database's tables and views
//! (qualified with the database name, which MySQL calls a schema) and unqualified names resolve
//! there. Without one, it lists every database the user can see except `mysql`,
//! `information_schema`, `performance_schema` and `sys`. Introspection reads
//! `information_schema`: one query lists the tables; describing a table takes three (table with
//! comment and `TABLE_ROWS` estimate, columns with types, nullability and comments, primary and
//! foreign keys), each filtered on the table's schema and name so the server opens only that
//! table. [`Connector::catalog`] runs the same three queries once for the whole database (or
//! every visible database), not once per table.
//!
//! # Read-only, limits and cancellation
//!
//! Every query runs after `SET SESSION TRANSACTION READ ONLY` inside its own
//! `START TRANSACTION READ ONLY`, so the engine refuses writes and DDL (SQLSTATE `25006`,
//! "Cannot execute statement in a READ ONLY transaction") whatever guard sits in front; a read-only
//! transaction alone would let DDL through by committing implicitly. The timeout is also set at
//! the engine: `max_statement_time` (seconds) on MariaDB, `max_execution_time` (milliseconds) on
//! MySQL; the flavour is read once from `SELECT VERSION()`. The session's `sql_mode` loses
//! the flags that change the lexer (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES` and the combination
//! modes that imply them), so a statement means to the server what it meant to the guard's
//! parser; the other flags stay. Statements are prepared, so one statement per query (no
//! `;`-separated batches). Rows are streamed into batches of up to 8192 rows. When the caller
//! cancels, the deadline passes, the row cap is reached before the result ends or the stream is
//! dropped, the statement is interrupted with `KILL QUERY <connection id>` from another
//! connection. Then the transaction is rolled back, named locks the query took with `GET_LOCK`
//! are released (`DO RELEASE_ALL_LOCKS()`: MySQL 5.7+, MariaDB 10.5+), the session settings
//! are restored and the connection goes back to the pool (a connection that cannot be cleaned
//! is closed instead). Database errors become [`Error::Query`] with the SQLSTATE as `code`; the engine's
//! time limit becomes [`Error::Timeout`] and a cancelled query [`Error::Cancelled`].
//!
//! # Per-user roles
//!
//! With [`QueryOptions::run_as`] naming a role, ``SET ROLE `<role>` `` runs before the query
//! (the role adds its grants to the login's own, so the login should hold almost none), and the
//! cleanup restores the session's roles in the same round trip as the rollback: on MariaDB the
//! `CURRENT_ROLE()` read before (or `NONE`), on MySQL `SET ROLE DEFAULT`. A connection whose
//! roles cannot be restored is closed, never reused. A role that does not exist or is not
//! granted to the login is [`Error::RunAs`] (kind `Unauthorized`).
//!
//! # Privileged logins
//!
//! A read-only transaction stops writes to tables, not `SELECT … INTO OUTFILE`, `LOAD_FILE`,
//! `SET GLOBAL` or `KILL` of other sessions. So on first use [`Connector::query`] reads the
//! login's grants (once per connector; a failed read is retried on the next query) and refuses
//! with [`Error::PrivilegedLogin`] (kind `Unauthorized`) when it holds, on `*.*`, `ALL
//! PRIVILEGES`, `FILE`, `SUPER`, `SHUTDOWN`, `RELOAD`, `CREATE USER`, `GRANT OPTION`, `SET USER`
//! (MySQL: `SET_USER_ID`, `SET_ANY_DEFINER`), `BINLOG REPLAY` (`REPLICATION_APPLIER`), MySQL's
//! `FLUSH_*` and `INNODB_REDO_LOG_*`, or any administrative privilege (`CONNECTION ADMIN`,
//! `BINLOG ADMIN`, `READ_ONLY ADMIN`, `SYSTEM_VARIABLES_ADMIN`, `ROLE_ADMIN`, … but not
//! `SESSION_VARIABLES_ADMIN` or `APPLICATION_PASSWORD_ADMIN`). `PROCESS`, `REPLICATION CLIENT`
//! and the other monitoring privileges, and object privileges on databases and tables, are not
//! refused: they read, or they write and the transaction refuses the write.
//!
//! The grants come from `SHOW GRANTS` (which needs no privilege for the own account) rather
//! than `information_schema.USER_PRIVILEGES`, which lists neither role grants nor, on MariaDB,
//! what a role holds. Roles count whether or not they are enabled (`SET ROLE` could enable
//! them): on MariaDB each granted role is enabled in turn on a connection that is then closed,
//! since MariaDB shows a role's grants only while it is enabled; on MySQL
//! `SHOW GRANTS FOR CURRENT_USER() USING <roles>` adds them. Roles that MySQL's
//! `mandatory_roles` grants to everyone are not seen. The error carries the SQL that creates a
//! user that may only read:
//!
//! ```sql
//! CREATE USER 'metricchat_reader'@'%' IDENTIFIED BY '<password>';
//! GRANT SELECT ON shop.* TO 'metricchat_reader'@'%';
//! ```
//!
//! To run on a privileged login anyway, set [`MySqlConfig::allow_privileged_login`] (URL:
//! `?allow_privileged_login=true`); nothing is then checked. Introspection
//! (`information_schema`) runs on any login.
//!
//! # Type mapping
//!
//! Results are read in the binary protocol and converted exactly; sessions use
//! `time_zone = '+00:00'`, so `TIMESTAMP` values arrive in UTC:
//!
//! | MySQL / MariaDB | Arrow |
//! | --- | --- |
//! | `TINYINT(1)` / `BOOLEAN` | Boolean (0 is false, anything else true) |
//! | `TINYINT` / `SMALLINT` / `MEDIUMINT`, `INT` / `BIGINT` | Int8 / Int16 / Int32 / Int64 |
//! | the same `UNSIGNED` | UInt8 / UInt16 / UInt32 / UInt64 |
//! | `YEAR` | UInt16 (`0` for the zero year) |
//! | `BIT(n)` | UInt64 (the bits as a number) |
//! | `DECIMAL(p, s)` table column, p ≤ 38 | Decimal128(p, s) |
//! | `DECIMAL(p, s)` table column, p > 38 | Decimal256(p, s) |
//! | `DECIMAL` expression (`SUM`, `AVG`, arithmetic, derived tables) | Utf8 (exact decimal text; `CAST(… AS DOUBLE)` in SQL for a float) |
//! | `FLOAT` / `DOUBLE` | Float32 / Float64 |
//! | `CHAR`, `VARCHAR`, `TINYTEXT` … `LONGTEXT`, `ENUM`, `SET` | Utf8 (`SET` as the comma-separated members) |
//! | `JSON` (MySQL's type, MariaDB's `LONGTEXT` alias) | Utf8 (the JSON text) |
//! | `BINARY`, `VARBINARY`, `TINYBLOB` … `LONGBLOB` and other binary-collation strings | Binary |
//! | `DATE` | Date32 (`0000-00-00` and other zero dates → NULL) |
//! | `TIME` | Time64(µs) (values outside `00:00:00`–`23:59:59.999999` fail, see below) |
//! | `DATETIME` | Timestamp(µs, None) (zero dates → NULL) |
//! | `TIMESTAMP` | Timestamp(µs, "UTC") (zero dates → NULL) |
//! | `NULL` literal | Null |
//!
//! NULL is kept everywhere. A `DECIMAL` table column is recognised from the result metadata's
//! origin (table and column) and its precision and scale read from `information_schema.COLUMNS`
//! before the statement runs. Text and binary strings are told apart by the result's collation
//! (`binary` is binary data), so a `utf8mb4_bin` column or MariaDB's `JSON` stays text.
//! `GEOMETRY` and a `TIME` beyond a day or negative fail with [`Error::Unsupported`] or
//! [`Error::Query`] naming the column; cast them in SQL (`ST_AsText(g)`, `CAST(t AS CHAR)`).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder,
    Float32Builder, Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder,
    NullArray, RecordBatch, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
    UInt8Builder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use metricchat_core::connector::{
    Capabilities, ColumnInfo, Connector, ConnectorInfo, CostEstimate, Dialect, QueryLimits,
    QueryOptions, SendableRecordBatchStream, TableKind, TableRef, TableSchema,
};
use metricchat_core::error::{Error, Result};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::mysql::{
    MySqlColumn, MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlPool,
    MySqlPoolOptions, MySqlSslMode, MySqlTypeInfo,
};
use sqlx::pool::PoolConnection;
use sqlx::{
    AssertSqlSafe, Column, Connection, Decode, Executor, MySql, Row, SqlSafeStr, Statement,
    TypeInfo, ValueRef,
};
use tokio::sync::{OnceCell, mpsc};

use crate::sqlx::{
    ArrowColumn, ConnectCause, DbUrl, Endpoint, KeyColumn, LoginCheck, LoginPrivileges, OPT_IN,
    SqlxEngine, Stop, add_key_column, bad_url, bool_param, connect_timeout_error,
    decimal_from_text, decimal256_from_text, number_param, pump_rows, run_query,
};
use crate::sqlx::{conversion_error, engine_time_left, query_error};
use crate::task::SchemaReply;

/// Longest an `EXPLAIN` for a cost estimate may take.
const ESTIMATE_TIMEOUT: Duration = Duration::from_secs(10);

mod catalog;
mod config;
mod estimate;
mod grants;
mod types;

use catalog::*;
pub use config::MySqlConfig;
use grants::*;
use types::*;

/// The backend name in [`ConnectorInfo::backend`].
pub const BACKEND: &str = "mysql";

/// Databases [`Connector::list_tables`] never lists.
const SYSTEM_SCHEMAS: &str = "'mysql', 'information_schema', 'performance_schema', 'sys'";

/// Which server a connection talks to; decides the statement time limit's variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flavor {
    /// Oracle MySQL (or a compatible server that does not call itself MariaDB).
    MySql,
    /// MariaDB.
    MariaDb,
}

impl Flavor {
    /// The flavour of a server from its `SELECT VERSION()` (`10.11.6-MariaDB-…` is MariaDB).
    pub fn from_version(version: &str) -> Self {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }

    /// Statements that set the session's statement time limit to `limit` (none: back to the
    /// server default).
    fn time_limit_sql(self, limit: Option<Duration>) -> String {
        match (self, limit) {
            (Flavor::MariaDb, Some(d)) => format!(
                "SET SESSION max_statement_time = {}.{:06}",
                d.as_secs(),
                d.subsec_micros()
            ),
            (Flavor::MariaDb, None) => "SET SESSION max_statement_time = DEFAULT".into(),
            (Flavor::MySql, Some(d)) => format!(
                "SET SESSION max_execution_time = {}",
                d.as_millis().clamp(1, u128::from(u32::MAX))
            ),
            (Flavor::MySql, None) => "SET SESSION max_execution_time = DEFAULT".into(),
        }
    }

    /// The statement that restores the session's default access mode (`tx_read_only` is
    /// MariaDB's name; MySQL 8 removed it in favour of `transaction_read_only`).
    fn read_write_default_sql(self) -> &'static str {
        match self {
            Flavor::MariaDb => "SET SESSION tx_read_only = DEFAULT",
            Flavor::MySql => "SET SESSION transaction_read_only = DEFAULT",
        }
    }

    /// What runs before each query: read-only session and transaction, the lexer the guard's
    /// parser assumes ([`sql_mode_sql`]) and the time limit.
    fn setup_sql(self, limit: Option<Duration>) -> String {
        format!(
            "SET SESSION TRANSACTION READ ONLY; {}; {}; START TRANSACTION READ ONLY",
            sql_mode_sql(),
            self.time_limit_sql(limit)
        )
    }

    /// What runs after each query so the pooled connection is as it was: the rollback, the
    /// release of named locks the query took with `GET_LOCK` (a rollback keeps them; MySQL 5.7+
    /// and MariaDB 10.5+ have `RELEASE_ALL_LOCKS`), and the session defaults.
    fn cleanup_sql(self) -> String {
        format!(
            "ROLLBACK; DO RELEASE_ALL_LOCKS(); {}; {}",
            self.read_write_default_sql(),
            self.time_limit_sql(None)
        )
    }
}

/// `sql_mode` flags (and the combination modes that imply them) that change how the server
/// lexes a statement: `NO_BACKSLASH_ESCAPES` makes `\` in `'…'` a plain character and
/// `ANSI_QUOTES` makes `"…"` an identifier. The guard's parser reads SQL with MySQL's default
/// lexer, so a statement must mean to the server what it meant to the guard. `ORACLE`, `MSSQL`,
/// `DB2`, `POSTGRESQL` and `MAXDB` are MariaDB's; removing a name that is not set does nothing.
const LEXER_MODES: &[&str] = &[
    "NO_BACKSLASH_ESCAPES",
    "ANSI_QUOTES",
    "ANSI",
    "ORACLE",
    "MSSQL",
    "DB2",
    "POSTGRESQL",
    "MAXDB",
];

/// The statement that removes [`LEXER_MODES`] from the session's `sql_mode`, keeping every
/// other flag the server or the embedder set.
fn sql_mode_sql() -> String {
    let mut expr = "CONCAT(',', @@SESSION.sql_mode, ',')".to_string();
    for mode in LEXER_MODES {
        expr = format!("REPLACE({expr}, ',{mode},', ',')");
    }
    format!("SET SESSION sql_mode = TRIM(BOTH ',' FROM {expr})")
}

/// A pooled MySQL or MariaDB connection (see the module docs).
pub struct MySqlConnector {
    name: String,
    pool: MySqlPool,
    options: MySqlConnectOptions,
    config: MySqlConfig,
    flavor: Arc<OnceCell<Flavor>>,
    login: LoginCheck,
}

impl fmt::Debug for MySqlConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlConnector")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("flavor", &self.flavor.get())
            .finish_non_exhaustive()
    }
}

impl MySqlConnector {
    /// A connection from a `mysql://` or `mariadb://` URL. The pool connects lazily, on first
    /// use.
    pub fn from_url(url: &str) -> Result<Self> {
        Self::new(MySqlConfig::from_url(url)?)
    }

    /// A connection from a config. The pool connects lazily, on first use.
    pub fn new(config: MySqlConfig) -> Result<Self> {
        let options = config.connect_options()?;
        let pool = MySqlPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.connect_timeout())
            .connect_lazy_with(options.clone());
        let name = config
            .name
            .clone()
            .or_else(|| config.database.clone())
            .unwrap_or_else(|| BACKEND.to_string());
        Ok(Self {
            name,
            pool,
            options,
            login: LoginCheck::new(config.allow_privileged_login),
            config,
            flavor: Arc::new(OnceCell::new()),
        })
    }

    /// The connection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sqlx pool (for loading data in tests or embedding code; queries through it are not
    /// read-only).
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The server's flavour, read with `SELECT VERSION()` on first use.
    pub async fn flavor(&self) -> Result<Flavor> {
        let mut conn = self.acquire().await?;
        flavor_of(&self.flavor, &mut conn, &self.name).await
    }

    /// Reads the global privileges of the login and of every role granted to it (enabled or
    /// not: `SET ROLE` could enable them) from `SHOW GRANTS`, and keeps those that work inside a
    /// read-only transaction ([`is_privileged`]).
    async fn detect_privileges(&self) -> Result<LoginPrivileges> {
        let err = |e| query_error(&self.name, e);
        let mut conn = self.acquire().await?;
        let flavor = flavor_of(&self.flavor, &mut conn, &self.name).await?;
        let user: String = sqlx::query_scalar("SELECT CAST(CURRENT_USER() AS CHAR)")
            .fetch_one(&mut *conn)
            .await
            .map_err(err)?;
        let mut grants = Grants::default();
        grants.add(
            &show_grants(&mut conn, "SHOW GRANTS".into())
                .await
                .map_err(err)?,
        );
        let roles = grants.roles.clone();
        if !roles.is_empty() {
            for role in &roles {
                if !is_quoted_account(role) {
                    return Err(Error::Query {
                        connector: self.name.clone(),
                        message: format!("cannot read the grants of role {role}"),
                        code: None,
                        source: None,
                    });
                }
            }
            match flavor {
                // MariaDB shows a role's grants (and those of the roles granted to it) only
                // while it is enabled, one role at a time.
                Flavor::MariaDb => {
                    conn.close_on_drop();
                    for role in &roles {
                        sqlx::raw_sql(AssertSqlSafe(format!("SET ROLE {role}")))
                            .execute(&mut *conn)
                            .await
                            .map_err(err)?;
                        grants.add(
                            &show_grants(&mut conn, "SHOW GRANTS".into())
                                .await
                                .map_err(err)?,
                        );
                    }
                }
                Flavor::MySql => {
                    let sql = format!("SHOW GRANTS FOR CURRENT_USER() USING {}", roles.join(", "));
                    grants.add(&show_grants(&mut conn, sql).await.map_err(err)?);
                }
            }
        }
        Ok(LoginPrivileges {
            user,
            privileges: grants.privileged(),
        })
    }

    async fn acquire(&self) -> Result<PoolConnection<MySql>> {
        self.pool
            .acquire()
            .await
            .map_err(|e| connect_error(&self.name, &self.config, e))
    }

    /// The schema unqualified names resolve to.
    fn default_schema(&self, table: &TableRef) -> Result<String> {
        table
            .schema
            .clone()
            .or_else(|| self.config.database.clone())
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "table `{table}` needs a database (`db.{table}`): the connection URL names none",
                ))
            })
    }
}

/// The cached flavour, read on `conn` the first time.
async fn flavor_of(
    cell: &OnceCell<Flavor>,
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<Flavor> {
    if let Some(f) = cell.get() {
        return Ok(*f);
    }
    let version: String = sqlx::query_scalar("SELECT VERSION()")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| query_error(name, e))?;
    let f = Flavor::from_version(&version);
    let _ = cell.set(f);
    Ok(f)
}

/// The rows of a `SHOW GRANTS` statement.
async fn show_grants(
    conn: &mut MySqlConnection,
    sql: String,
) -> std::result::Result<Vec<String>, sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| {
            r.try_get::<Vec<u8>, _>(0)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        })
        .collect()
}

/// The MySQL error number of a database error.
fn error_number(e: &sqlx::Error) -> Option<u16> {
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<MySqlDatabaseError>()
            .map(MySqlDatabaseError::number),
        _ => None,
    }
}

/// A connection failure named by its cause: unreachable server, authentication, unknown database.
fn connect_error(name: &str, cfg: &MySqlConfig, e: sqlx::Error) -> Error {
    let cause = match error_number(&e) {
        // ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR
        Some(1045 | 1698) => ConnectCause::Auth,
        // ER_BAD_DB_ERROR
        Some(1049) => ConnectCause::UnknownDatabase,
        // ER_DBACCESS_DENIED_ERROR
        Some(1044) => ConnectCause::DatabaseDenied,
        _ => ConnectCause::Other,
    };
    crate::sqlx::connect_error(name, &cfg.endpoint(), cause, e)
}

#[async_trait]
impl Connector for MySqlConnector {
    fn info(&self) -> ConnectorInfo {
        ConnectorInfo {
            name: self.name.clone(),
            backend: BACKEND.into(),
            dialect: Dialect::MySql,
            capabilities: Capabilities::none()
                .with_cancel(true)
                .with_explain(true)
                .with_limit_pushdown(true)
                .with_read_only_transactions(true)
                .with_estimate(true)
                .with_run_as_role(true),
        }
    }

    /// Opens a fresh connection (not from the pool) so the error names the cause at once:
    /// unreachable server, failed authentication ([`Error::Connection`]) or unknown database
    /// ([`Error::NotFound`]).
    async fn test_connection(&self) -> Result<()> {
        let connect = MySqlConnection::connect_with(&self.options);
        let mut conn = match tokio::time::timeout(self.config.connect_timeout(), connect).await {
            Ok(c) => c.map_err(|e| connect_error(&self.name, &self.config, e))?,
            Err(_) => return Err(connect_timeout_error(&self.name, &self.config.endpoint())),
        };
        let flavor = flavor_of(&self.flavor, &mut conn, &self.name).await;
        let _ = conn.close().await;
        flavor.map(|_| ())
    }

    async fn list_tables(&self) -> Result<Vec<TableRef>> {
        let query = match &self.config.database {
            Some(db) => sqlx::query(LIST_TABLES_IN).bind(db.clone()),
            None => sqlx::query(AssertSqlSafe(format!(
                "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR) \
                 FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN ({SYSTEM_SCHEMAS}) \
                 ORDER BY 1, 2"
            ))),
        };
        let mut conn = self.acquire().await?;
        let rows = query
            .fetch_all(&mut *conn)
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
        let schema = self.default_schema(table)?;
        self.describe(Scope::Table(&schema, &table.name))
            .await?
            .pop()
            .ok_or_else(|| Error::NotFound {
                what: "table",
                name: format!("{schema}.{}", table.name),
            })
    }

    /// Three `information_schema` queries for every table in scope at once (tables, columns,
    /// keys): the connection's database, or every non-system database when it names none.
    async fn catalog(&self) -> Result<Vec<TableSchema>> {
        match &self.config.database {
            Some(db) => self.describe(Scope::Schema(db)).await,
            None => self.describe(Scope::AllSchemas).await,
        }
    }

    /// Fails with [`Error::PrivilegedLogin`] on a privileged login unless
    /// `allow_privileged_login` is set (checked on first use, then cached).
    ///
    /// With [`QueryOptions::run_as`] naming a role, the query runs with that role active
    /// (`SET ROLE`, restored before the connection goes back to the pool; see the module docs);
    /// a token is refused with [`Error::RunAs`].
    /// `EXPLAIN FORMAT=JSON` in a read-only transaction as the connection's login: rows
    /// examined over the plan's tables and (MySQL, MariaDB 11+) the optimizer's query cost.
    /// Nothing runs.
    async fn estimate(&self, sql: &str) -> Result<Option<CostEstimate>> {
        let limits = QueryLimits::new(&self.name, QueryOptions::default());
        self.login
            .ensure(
                &limits,
                || self.detect_privileges(),
                || least_privilege_hint(self.config.database.as_deref()),
            )
            .await?;
        let mut conn = self.acquire().await?;
        let flavor = flavor_of(&self.flavor, &mut conn, &self.name).await?;
        let explained = async {
            sqlx::raw_sql(AssertSqlSafe(flavor.setup_sql(Some(ESTIMATE_TIMEOUT))))
                .execute(&mut *conn)
                .await?;
            let explain = format!("EXPLAIN FORMAT=JSON {sql}");
            sqlx::query_scalar::<_, String>(AssertSqlSafe(explain))
                .fetch_one(&mut *conn)
                .await
        }
        .await;
        if sqlx::raw_sql(AssertSqlSafe(flavor.cleanup_sql()))
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

    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        if let Some(c) = &opts.run_as {
            c.check_supported(&self.info())?;
        }
        let limits = QueryLimits::new(&self.name, opts);
        self.login
            .ensure(
                &limits,
                || self.detect_privileges(),
                || least_privilege_hint(self.config.database.as_deref()),
            )
            .await?;
        let engine = Arc::new(MyQuery {
            pool: self.pool.clone(),
            options: self.options.clone(),
            config: self.config.clone(),
            flavor: self.flavor.clone(),
            restore_role: std::sync::Mutex::new(None),
        });
        run_query(engine, self.pool.clone(), sql, limits).await
    }
}

/// The MySQL/MariaDB side of the shared query task.
struct MyQuery {
    pool: MySqlPool,
    options: MySqlConnectOptions,
    config: MySqlConfig,
    flavor: Arc<OnceCell<Flavor>>,
    /// The statement that gives the session back its roles after a query run as a user's role.
    restore_role: std::sync::Mutex<Option<String>>,
}

impl MyQuery {
    /// Activates `role` for the query (a session setting, so [`SqlxEngine::cleanup`] restores
    /// the roles the session had: MariaDB's current role read first, MySQL's defaults).
    async fn set_role(
        &self,
        conn: &mut PoolConnection<MySql>,
        flavor: Flavor,
        role: &str,
        name: &str,
    ) -> Result<()> {
        let restore = match flavor {
            Flavor::MariaDb => {
                let prev: Option<String> =
                    sqlx::query_scalar("SELECT CAST(CURRENT_ROLE() AS CHAR)")
                        .fetch_one(&mut **conn)
                        .await
                        .map_err(|e| query_error(name, e))?;
                match prev {
                    Some(p) => format!("SET ROLE {}", quote_role(&p)),
                    None => "SET ROLE NONE".to_string(),
                }
            }
            Flavor::MySql => "SET ROLE DEFAULT".to_string(),
        };
        if let Ok(mut slot) = self.restore_role.lock() {
            *slot = Some(restore);
        } else {
            return Err(Error::Internal("role state lock poisoned".into()));
        }
        sqlx::raw_sql(AssertSqlSafe(format!("SET ROLE {}", quote_role(role))))
            .execute(&mut **conn)
            .await
            .map_err(|e| {
                let message = match &e {
                    sqlx::Error::Database(db) => db.message().to_string(),
                    other => other.to_string(),
                };
                Error::run_as(
                    name,
                    role,
                    format!(
                        "{message} (the role must exist and be granted to the connection's \
                         login: GRANT {} TO <login>)",
                        quote_role(role)
                    ),
                    metricchat_core::error::ErrorKind::Unauthorized,
                )
            })?;
        Ok(())
    }
}

/// A role name as a backquoted identifier (`SET ROLE` takes the name; the host part of a MySQL
/// role defaults to `%`).
fn quote_role(role: &str) -> String {
    format!("`{}`", role.replace('`', "``"))
}

impl SqlxEngine for MyQuery {
    type Db = MySql;
    type Session = u64;

    fn acquire_error(&self, limits: &QueryLimits, e: sqlx::Error) -> Error {
        connect_error(&limits.connector, &self.config, e)
    }

    async fn setup(&self, conn: &mut PoolConnection<MySql>, limits: &QueryLimits) -> Result<u64> {
        let name = &limits.connector;
        let flavor = flavor_of(&self.flavor, conn, name).await?;
        if let Some(role) = limits.run_as.as_ref().and_then(|c| c.role.as_deref()) {
            self.set_role(conn, flavor, role, name).await?;
        }
        let setup = flavor.setup_sql(engine_time_left(limits));
        sqlx::raw_sql(AssertSqlSafe(setup))
            .execute(&mut **conn)
            .await
            .map_err(|e| query_error(name, e))?;
        sqlx::query_scalar("SELECT CONNECTION_ID()")
            .fetch_one(&mut **conn)
            .await
            .map_err(|e| query_error(name, e))
    }

    async fn stream(
        &self,
        conn: &mut PoolConnection<MySql>,
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
        let columns: Vec<MySqlColumn> = stmt.columns().to_vec();
        let decimals = decimal_types(conn, &columns, name).await?;
        let mut cols = Vec::with_capacity(columns.len());
        for (c, dec) in columns.iter().zip(&decimals) {
            cols.push(ColBuilder::for_type(c.name(), c.type_info(), *dec)?);
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
        let append_row = |row: &sqlx::mysql::MySqlRow, cols: &mut [ColBuilder]| -> Result<()> {
            for (i, col) in cols.iter_mut().enumerate() {
                let v = row.try_get_raw(i).map_err(|e| query_error(name, e))?;
                if v.is_null() {
                    col.append_null();
                    continue;
                }
                let bytes = <&[u8] as Decode<MySql>>::decode(v)
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

    async fn interrupt(&self, id: u64) {
        kill_query(&self.pool, &self.options, id).await;
    }

    async fn cleanup(&self, conn: &mut PoolConnection<MySql>) -> bool {
        let Some(flavor) = self.flavor.get() else {
            return false;
        };
        let mut cleanup = flavor.cleanup_sql();
        match self.restore_role.lock() {
            Ok(slot) => {
                if let Some(restore) = slot.as_ref() {
                    cleanup = format!("{cleanup}; {restore}");
                }
            }
            Err(_) => return false,
        }
        // The first attempt may only collect the interrupted statement's error.
        for _ in 0..2 {
            if sqlx::raw_sql(AssertSqlSafe(cleanup.clone()))
                .execute(&mut **conn)
                .await
                .is_ok()
            {
                return true;
            }
        }
        false
    }
}

/// Precision and scale of each `DECIMAL` result column read straight from a table, in one
/// `information_schema` query; `None` for other columns and for expressions.
async fn decimal_types(
    conn: &mut PoolConnection<MySql>,
    columns: &[MySqlColumn],
    connector: &str,
) -> Result<Vec<Option<(u8, i8)>>> {
    let origins: Vec<Option<(String, String, String)>> = columns
        .iter()
        .map(|c| {
            if c.type_info().name() != "DECIMAL" {
                return None;
            }
            let origin = c.origin();
            let tc = origin.table_column()?;
            let (schema, table) = tc.table.split_once('.')?;
            Some((schema.to_string(), table.to_string(), tc.name.to_string()))
        })
        .collect();
    let wanted: Vec<&(String, String, String)> = origins.iter().flatten().collect();
    if wanted.is_empty() {
        return Ok(vec![None; columns.len()]);
    }
    let filter = vec!["(TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?)"; wanted.len()]
        .join(" OR ");
    let sql = format!(
        "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR), \
           CAST(COLUMN_NAME AS CHAR), CAST(NUMERIC_PRECISION AS SIGNED), \
           CAST(NUMERIC_SCALE AS SIGNED) \
         FROM information_schema.COLUMNS WHERE {filter}"
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for (s, t, c) in &wanted {
        q = q.bind(s.as_str()).bind(t.as_str()).bind(c.as_str());
    }
    let err = |e| query_error(connector, e);
    let mut found = Vec::new();
    for r in q.fetch_all(&mut **conn).await.map_err(err)? {
        let key: (String, String, String) = (
            r.try_get(0).map_err(err)?,
            r.try_get(1).map_err(err)?,
            r.try_get(2).map_err(err)?,
        );
        let p: Option<i64> = r.try_get(3).map_err(err)?;
        let s: Option<i64> = r.try_get(4).map_err(err)?;
        if let (Some(p), Some(s)) = (p, s)
            && let (Ok(p), Ok(s)) = (u8::try_from(p), i8::try_from(s))
        {
            found.push((key, (p, s)));
        }
    }
    Ok(origins
        .iter()
        .map(|o| {
            let o = o.as_ref()?;
            found.iter().find(|(k, _)| k == o).map(|(_, ps)| *ps)
        })
        .collect())
}

/// Maps a driver error, turning the engine's interruption into cancellation or timeout.
fn map_engine_error(limits: &QueryLimits, e: sqlx::Error) -> Error {
    match error_number(&e) {
        // ER_STATEMENT_TIMEOUT (MariaDB), ER_QUERY_TIMEOUT (MySQL)
        Some(1969 | 3024) => {
            if limits.cancel.is_cancelled() {
                return Error::Cancelled;
            }
            return limits.timeout_error();
        }
        // ER_QUERY_INTERRUPTED
        Some(1317) => {
            if limits.cancel.is_cancelled() {
                return Error::Cancelled;
            }
            if limits.expired() {
                return limits.timeout_error();
            }
        }
        _ => {}
    }
    query_error(&limits.connector, e)
}

/// Interrupts the statement running on connection `id` with `KILL QUERY` from another
/// connection: an idle pooled one, else a fresh one (so a full pool cannot block the kill).
async fn kill_query(pool: &MySqlPool, options: &MySqlConnectOptions, id: u64) {
    let sql = AssertSqlSafe(format!("KILL QUERY {id}"));
    let sent = match pool.try_acquire() {
        Some(mut conn) => sqlx::raw_sql(sql).execute(&mut *conn).await.map(|_| ()),
        None => match MySqlConnection::connect_with(options).await {
            Ok(mut conn) => {
                let r = sqlx::raw_sql(sql).execute(&mut conn).await.map(|_| ());
                let _ = conn.close().await;
                r
            }
            Err(e) => Err(e),
        },
    };
    if let Err(e) = sent {
        // ER_NO_SUCH_THREAD: the statement and its connection are already gone.
        if error_number(&e) != Some(1094) {
            tracing::warn!(id, error = %e, "KILL QUERY failed");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use arrow::datatypes::i256;

    #[test]
    fn urls_parse_and_hide_passwords() {
        // The lazy pool needs a runtime context even though it connects later.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _entered = rt.enter();
        let c = MySqlConfig::from_url(
            "mysql://bob:s%40cret@db.example:3307/shop?name=wh&ssl-mode=DISABLED&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(c.host, "db.example");
        assert_eq!(c.port, 3307);
        assert_eq!(c.user, "bob");
        assert_eq!(
            c.password.as_ref().map(ExposeSecret::expose_secret),
            Some("s@cret")
        );
        assert_eq!(c.database.as_deref(), Some("shop"));
        assert_eq!(c.name.as_deref(), Some("wh"));
        assert_eq!(c.ssl_mode.as_deref(), Some("DISABLED"));
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        let dbg = format!("{c:?}");
        // The redacted secret prints as `SecretBox<str>([REDACTED])`: no part of the password.
        assert!(!dbg.replace("SecretBox", "").contains("cret"), "{dbg}");
        let m = MySqlConfig::from_url("mariadb://h").unwrap();
        assert_eq!((m.port, m.user.as_str(), m.database), (3306, "root", None));
        assert!(MySqlConfig::from_url("mysql://h/db?bogus=1").is_err());
        assert!(!c.allow_privileged_login);
        assert!(
            MySqlConfig::from_url("mysql://h/db?allow_privileged_login=true")
                .unwrap()
                .allow_privileged_login
        );
        assert!(MySqlConfig::from_url("postgres://h/db").is_err());
        let conn = MySqlConnector::from_url("mysql://u@h/shop").unwrap();
        assert_eq!(conn.name(), "shop");
        assert_eq!(conn.info().dialect, Dialect::MySql);
    }

    #[test]
    fn flavors_and_their_time_limits() {
        assert_eq!(
            Flavor::from_version("10.11.6-MariaDB-0+deb12u1"),
            Flavor::MariaDb
        );
        assert_eq!(Flavor::from_version("8.0.36"), Flavor::MySql);
        let d = Some(Duration::from_millis(1500));
        assert_eq!(
            Flavor::MariaDb.time_limit_sql(d),
            "SET SESSION max_statement_time = 1.500000"
        );
        assert_eq!(
            Flavor::MySql.time_limit_sql(d),
            "SET SESSION max_execution_time = 1500"
        );
    }

    /// The MySQL 8 branch has no server here: pin the exact session SQL of both flavours.
    #[test]
    fn each_flavor_sends_its_own_session_sql() {
        let d = Some(Duration::from_millis(250));
        let mode = sql_mode_sql();
        assert_eq!(
            Flavor::MySql.setup_sql(d),
            format!(
                "SET SESSION TRANSACTION READ ONLY; {mode}; SET SESSION max_execution_time = 250; \
                 START TRANSACTION READ ONLY"
            )
        );
        assert_eq!(
            Flavor::MariaDb.setup_sql(d),
            format!(
                "SET SESSION TRANSACTION READ ONLY; {mode}; \
                 SET SESSION max_statement_time = 0.250000; START TRANSACTION READ ONLY"
            )
        );
        assert_eq!(
            Flavor::MySql.setup_sql(None),
            format!(
                "SET SESSION TRANSACTION READ ONLY; {mode}; \
                 SET SESSION max_execution_time = DEFAULT; START TRANSACTION READ ONLY"
            )
        );
        assert_eq!(
            Flavor::MySql.cleanup_sql(),
            "ROLLBACK; DO RELEASE_ALL_LOCKS(); SET SESSION transaction_read_only = DEFAULT; \
             SET SESSION max_execution_time = DEFAULT"
        );
        assert_eq!(
            Flavor::MariaDb.cleanup_sql(),
            "ROLLBACK; DO RELEASE_ALL_LOCKS(); SET SESSION tx_read_only = DEFAULT; \
             SET SESSION max_statement_time = DEFAULT"
        );
        assert!(mode.starts_with("SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE("));
        assert!(mode.contains("',NO_BACKSLASH_ESCAPES,', ','") && mode.contains("',ANSI_QUOTES,'"));
        // Sub-millisecond and huge limits stay within what max_execution_time accepts.
        assert_eq!(
            Flavor::MySql.time_limit_sql(Some(Duration::from_micros(10))),
            "SET SESSION max_execution_time = 1"
        );
        assert_eq!(
            Flavor::MySql.time_limit_sql(Some(Duration::from_secs(u64::MAX / 2000))),
            format!("SET SESSION max_execution_time = {}", u32::MAX)
        );
        assert_eq!(Flavor::from_version("8.4.0-commercial"), Flavor::MySql);
        assert_eq!(Flavor::from_version("11.4.2-MariaDB"), Flavor::MariaDb);
    }

    #[test]
    fn grant_lines_of_both_servers_parse() {
        let global = |v: &[&str]| GrantLine::Global(v.iter().map(|s| s.to_string()).collect());
        let roles = |v: &[&str]| GrantLine::Roles(v.iter().map(|s| s.to_string()).collect());
        // MariaDB
        assert_eq!(
            parse_grant(
                "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA \
                         mysql_native_password USING 'invalid' OR unix_socket WITH GRANT OPTION"
            ),
            global(&["ALL PRIVILEGES", "GRANT OPTION"])
        );
        assert_eq!(
            parse_grant("GRANT CONNECTION ADMIN, BINLOG ADMIN ON *.* TO `mcx_r1`"),
            global(&["CONNECTION ADMIN", "BINLOG ADMIN"])
        );
        assert_eq!(
            parse_grant("GRANT PROCESS ON *.* TO PUBLIC"),
            global(&["PROCESS"])
        );
        assert_eq!(
            parse_grant("GRANT `mcx_r1` TO `mcx_u`@`%`"),
            roles(&["`mcx_r1`"])
        );
        assert_eq!(
            parse_grant("GRANT SELECT ON `test`.* TO `mcx_u`@`%`"),
            GrantLine::Other
        );
        assert_eq!(
            parse_grant("GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION"),
            GrantLine::Other
        );
        assert_eq!(
            parse_grant("SET DEFAULT ROLE `r` FOR `u`@`%`"),
            GrantLine::Other
        );
        // MySQL 8
        assert_eq!(
            parse_grant(
                "GRANT SELECT, RELOAD, SHUTDOWN, PROCESS, FILE ON *.* TO `root`@`localhost` WITH GRANT OPTION"
            ),
            global(&[
                "SELECT",
                "RELOAD",
                "SHUTDOWN",
                "PROCESS",
                "FILE",
                "GRANT OPTION"
            ])
        );
        assert_eq!(
            parse_grant(
                "GRANT APPLICATION_PASSWORD_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `u`@`%`"
            ),
            global(&["APPLICATION_PASSWORD_ADMIN", "SYSTEM_VARIABLES_ADMIN"])
        );
        assert_eq!(
            parse_grant("GRANT `r1`@`%`,`r two`@`%` TO `u`@`%` WITH ADMIN OPTION"),
            roles(&["`r1`@`%`", "`r two`@`%`"])
        );
        // Column lists and quoted names with spaces, commas and the word ON stay whole.
        assert_eq!(
            parse_grant("GRANT SELECT (`a`, `b`), INSERT (`c`) ON `d b`.`t, ON` TO `u`@`%`"),
            GrantLine::Other
        );
        assert_eq!(
            parse_grant("GRANT USAGE ON *.* TO `u`@`%`"),
            global(&["USAGE"])
        );

        let mut g = Grants::default();
        g.add(&[
            "GRANT USAGE ON *.* TO `u`@`%`".into(),
            "GRANT `r1` TO `u`@`%`".into(),
            "GRANT FILE, PROCESS ON *.* TO `r1`".into(),
            "GRANT `r1` TO `u`@`%`".into(),
            "GRANT FILE ON *.* TO `r2`".into(),
        ]);
        assert_eq!(g.roles, ["`r1`"]);
        assert_eq!(g.privileged(), ["FILE"]);
    }

    #[test]
    fn privileged_global_privileges() {
        for p in [
            "ALL PRIVILEGES",
            "FILE",
            "SUPER",
            "SHUTDOWN",
            "RELOAD",
            "CREATE USER",
            "GRANT OPTION",
            "CONNECTION ADMIN",
            "CONNECTION_ADMIN",
            "BINLOG ADMIN",
            "READ_ONLY ADMIN",
            "SYSTEM_VARIABLES_ADMIN",
            "ROLE_ADMIN",
            "SET USER",
            "SET_USER_ID",
            "SET_ANY_DEFINER",
            "BINLOG REPLAY",
            "REPLICATION_APPLIER",
            "REPLICATION SLAVE ADMIN",
            "FLUSH_TABLES",
            "INNODB_REDO_LOG_ENABLE",
        ] {
            assert!(is_privileged(p), "{p}");
        }
        for p in [
            "USAGE",
            "SELECT",
            "INSERT",
            "PROCESS",
            "SHOW DATABASES",
            "REPLICATION CLIENT",
            "BINLOG MONITOR",
            "SLAVE MONITOR",
            "EXECUTE",
            "SESSION_VARIABLES_ADMIN",
            "APPLICATION_PASSWORD_ADMIN",
        ] {
            assert!(!is_privileged(p), "{p}");
        }
        for ok in ["`r`", "`r`@`%`", "'r'@'localhost'", "`we``ird`@`%`"] {
            assert!(is_quoted_account(ok), "{ok}");
        }
        for bad in ["r", "`r`; DROP", "`r`@%", "`r", "`r`@`%`x", "", "PUBLIC"] {
            assert!(!is_quoted_account(bad), "{bad}");
        }
        let hint = least_privilege_hint(Some("sh`op"));
        assert!(
            hint.contains("GRANT SELECT ON `sh``op`.* TO 'metricchat_reader'@'%'"),
            "{hint}"
        );
        assert!(hint.contains("allow_privileged_login=true"), "{hint}");
        assert!(least_privilege_hint(None).contains("ON <database>.*"));
    }

    #[test]
    fn introspection_scopes_filter_and_bind() {
        let (f, b) = Scope::Table("shop", "orders").filter();
        assert_eq!(f, "TABLE_SCHEMA = ? AND TABLE_NAME = ?");
        assert_eq!(b, ["shop", "orders"]);
        let (f, b) = Scope::AllSchemas.filter();
        assert!(f.contains("NOT IN ('mysql'") && b.is_empty(), "{f}");
        for sql in introspection_sql("TABLE_SCHEMA = ?") {
            assert_eq!(sql.matches('?').count(), 1, "{sql}");
        }
    }

    #[test]
    fn binary_values_decode() {
        // 2013-01-02
        assert_eq!(date_days(&[4, 0xdd, 0x07, 1, 2]).unwrap(), Some(15707));
        assert_eq!(date_days(&[0]).unwrap(), None);
        assert_eq!(date_days(&[4, 0, 0, 0, 0]).unwrap(), None);
        assert_eq!(date_days(&[4, 0xb2, 0x07, 1, 1]).unwrap(), Some(0));
        // 2013-01-02 03:04:05.678901
        let v = [11, 0xdd, 0x07, 1, 2, 3, 4, 5, 0xf5, 0x5b, 0x0a, 0x00];
        assert_eq!(datetime_micros(&v).unwrap(), Some(1_357_095_845_678_901));
        assert_eq!(
            datetime_micros(&[4, 0xdd, 0x07, 1, 2]).unwrap(),
            Some(1_357_084_800_000_000)
        );
        // 12:34:56.789
        let t = [12, 0, 0, 0, 0, 0, 12, 34, 56, 0x08, 0x0a, 0x0c, 0x00];
        assert_eq!(time_micros(&t).unwrap(), 45_296_789_000);
        assert!(time_micros(&[8, 0, 1, 0, 0, 0, 1, 0, 0]).is_err());
        assert!(time_micros(&[8, 1, 0, 0, 0, 0, 1, 0, 0]).is_err());
        assert_eq!(decimal_from_text("-12.5", 2).unwrap(), -1250);
        assert_eq!(decimal_from_text("0.001", 3).unwrap(), 1);
        assert!(decimal_from_text("1.234", 2).is_err());
        assert_eq!(
            decimal256_from_text("123.4", 3).unwrap(),
            i256::from_i128(123_400)
        );
    }
}
