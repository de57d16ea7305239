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
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, i256};
use async_trait::async_trait;
use metricchat_core::connector::{
    Capabilities, ColumnInfo, Connector, ConnectorInfo, Dialect, QueryOptions,
    SendableRecordBatchStream, TableKind, TableRef, TableSchema,
};
use metricchat_core::error::{Error, Result};
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

use crate::sql_common::server::{
    self, ArrowColumn, ConnectCause, DbUrl, Endpoint, KeyColumn, LoginCheck, LoginPrivileges,
    OPT_IN, Stop, add_key_column, bad_url, bool_param, connect_timeout_error, decimal_from_text,
    number_param, pump_rows, report_failure, scaled_digits, spawn_query,
};
use crate::sql_common::{Limits, SchemaReply, conversion_error, query_error, sleep_until};

/// The backend name in [`ConnectorInfo::backend`].
pub const BACKEND: &str = "mysql";

/// Databases [`Connector::list_tables`] never lists.
const SYSTEM_SCHEMAS: &str = "'mysql', 'information_schema', 'performance_schema', 'sys'";

/// How to reach a MySQL or MariaDB database.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MySqlConfig {
    /// The connection's name (default: the database name, else `mysql`).
    pub name: Option<String>,
    /// Host name or address (default `localhost`).
    pub host: String,
    /// Port (default 3306).
    pub port: u16,
    /// User (default `root`).
    pub user: String,
    /// Password, if the server asks for one. Hidden in `Debug`.
    pub password: Option<String>,
    /// Default database; introspection is limited to it (default: none, every database).
    pub database: Option<String>,
    /// `ssl-mode` (`DISABLED`, `PREFERRED`, `REQUIRED`, `VERIFY_CA`, `VERIFY_IDENTITY`; default:
    /// sqlx's `PREFERRED`).
    pub ssl_mode: Option<String>,
    /// Pool size (default 5).
    pub max_connections: u32,
    /// How long to wait for a pooled connection or a new one, in seconds (default 10).
    pub connect_timeout_secs: u64,
    /// Run queries even when the login holds global privileges that work inside a read-only
    /// transaction (`FILE`, `SUPER`, `ALL PRIVILEGES`, … — see the module docs). Default
    /// `false`: such a login gets [`Error::PrivilegedLogin`] from [`Connector::query`].
    pub allow_privileged_login: bool,
}

impl Default for MySqlConfig {
    fn default() -> Self {
        Self {
            name: None,
            host: "localhost".into(),
            port: 3306,
            user: "root".into(),
            password: None,
            database: None,
            ssl_mode: None,
            max_connections: 5,
            connect_timeout_secs: 10,
            allow_privileged_login: false,
        }
    }
}

impl fmt::Debug for MySqlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlConfig")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("database", &self.database)
            .field("ssl_mode", &self.ssl_mode)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("allow_privileged_login", &self.allow_privileged_login)
            .finish()
    }
}

impl MySqlConfig {
    /// Parses `mysql://user:password@host:port/database?name=…&ssl-mode=…&max_connections=…&connect_timeout=…&allow_privileged_login=…`
    /// (`mariadb://` too).
    pub fn from_url(url: &str) -> Result<Self> {
        const ENGINE: &str = "MySQL";
        let parts = DbUrl::parse(url, ENGINE, &["mysql", "mariadb"])?;
        let mut cfg = Self::default();
        if let Some(host) = parts.host {
            cfg.host = host;
        }
        if let Some(port) = parts.port {
            cfg.port = port;
        }
        if let Some(user) = parts.user {
            cfg.user = user;
        }
        cfg.password = parts.password;
        cfg.database = parts.database;
        for (k, v) in parts.params {
            match k.as_str() {
                "name" => cfg.name = Some(v),
                "ssl-mode" | "sslmode" | "ssl_mode" => cfg.ssl_mode = Some(v),
                "max_connections" => cfg.max_connections = number_param(ENGINE, &k, &v)?,
                "connect_timeout" => cfg.connect_timeout_secs = number_param(ENGINE, &k, &v)?,
                "allow_privileged_login" => {
                    cfg.allow_privileged_login = bool_param(ENGINE, &k, &v)?;
                }
                other => {
                    return Err(bad_url(
                        ENGINE,
                        format!(
                            "unknown parameter `{other}`; known: name, ssl-mode, \
                             max_connections, connect_timeout, allow_privileged_login"
                        ),
                    ));
                }
            }
        }
        Ok(cfg)
    }

    fn connect_options(&self) -> Result<MySqlConnectOptions> {
        let mut opts = MySqlConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .timezone(Some("+00:00".to_string()))
            .charset("utf8mb4");
        if let Some(p) = &self.password {
            opts = opts.password(p);
        }
        if let Some(db) = &self.database {
            opts = opts.database(db);
        }
        if let Some(mode) = &self.ssl_mode {
            let mode = MySqlSslMode::from_str(mode)
                .map_err(|e| Error::config(BACKEND, format!("ssl-mode `{mode}`: {e}")))?;
            opts = opts.ssl_mode(mode);
        }
        Ok(opts)
    }

    fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.max(1))
    }

    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            engine: "MySQL/MariaDB",
            host: &self.host,
            port: self.port,
            user: &self.user,
            database: self.database.as_deref(),
            timeout: self.connect_timeout(),
        }
    }
}

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

/// What `SHOW GRANTS` lines say about a login: its global privileges and its roles.
#[derive(Debug, Default)]
struct Grants {
    /// Global (`ON *.*`) privileges as the server spells them, `GRANT OPTION` included.
    global: Vec<String>,
    /// Roles granted to the login, quoted as the server printed them.
    roles: Vec<String>,
}

impl Grants {
    fn add(&mut self, lines: &[String]) {
        for line in lines {
            match parse_grant(line) {
                GrantLine::Global(privileges) => self.global.extend(privileges),
                GrantLine::Roles(roles) => {
                    for r in roles {
                        if !self.roles.contains(&r) {
                            self.roles.push(r);
                        }
                    }
                }
                GrantLine::Other => {}
            }
        }
    }

    /// The privileged ones among the global privileges, each once.
    fn privileged(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.global {
            if is_privileged(p) && !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }
}

/// One `SHOW GRANTS` line, as far as the privilege check needs it.
#[derive(Debug, PartialEq, Eq)]
enum GrantLine {
    /// `GRANT <privileges> ON *.* TO …`, with `GRANT OPTION` for `WITH GRANT OPTION`.
    Global(Vec<String>),
    /// `GRANT <role>[, <role>…] TO …`.
    Roles(Vec<String>),
    /// Database, table, column, routine and proxy grants, `SET DEFAULT ROLE`, anything else.
    Other,
}

/// Splits `s` at the characters `at` accepts outside quotes (`` ` ``, `'`, `"`) and parentheses,
/// dropping empty pieces.
fn split_top_level(s: &str, at: impl Fn(char) -> bool) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quote, mut depth, mut start) = (None::<char>, 0usize, 0usize);
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '`' | '\'' | '"' => quote = Some(c),
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 && at(c) => {
                    out.push(&s[start..i]);
                    start = i + c.len_utf8();
                }
                _ => {}
            },
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_grant(line: &str) -> GrantLine {
    let words = split_top_level(line, char::is_whitespace);
    let is = |i: usize, w: &str| words.get(i).is_some_and(|x| x.eq_ignore_ascii_case(w));
    if !is(0, "GRANT") {
        return GrantLine::Other;
    }
    let Some(to) = (1..words.len()).find(|&i| is(i, "TO")) else {
        return GrantLine::Other;
    };
    let list = |from: usize, until: usize| -> Vec<String> {
        split_top_level(&words[from..until].join(" "), |c| c == ',')
            .into_iter()
            .map(String::from)
            .collect()
    };
    match (1..to).find(|&i| is(i, "ON")) {
        None => GrantLine::Roles(list(1, to)),
        Some(on) if on + 2 == to && words[on + 1] == "*.*" => {
            let mut privileges: Vec<String> = list(1, on)
                .into_iter()
                .map(|p| p.to_ascii_uppercase())
                .collect();
            if (to + 1..words.len()).any(|i| is(i, "GRANT") && is(i + 1, "OPTION")) {
                privileges.push("GRANT OPTION".into());
            }
            GrantLine::Global(privileges)
        }
        Some(_) => GrantLine::Other,
    }
}

/// Whether a global privilege works inside a read-only transaction (files, programs, other
/// sessions, global settings, the server's state) or administers accounts, so a model's SQL
/// could do harm with it. Spellings of both servers are accepted (`CONNECTION ADMIN` and
/// `CONNECTION_ADMIN`).
///
/// Refused: `ALL PRIVILEGES`; `FILE` (`SELECT … INTO OUTFILE`, `LOAD_FILE`); `SUPER` (`KILL`,
/// `SET GLOBAL`, …); `SHUTDOWN`; `RELOAD` and MySQL's `FLUSH_*`; `CREATE USER`, `GRANT OPTION`
/// and `SET USER`/`SET_USER_ID`/`SET_ANY_DEFINER` (accounts and identities); `BINLOG REPLAY`,
/// `REPLICATION_APPLIER` (replaying binary-log events); `INNODB_REDO_LOG_*`; and every
/// administrative privilege (`… ADMIN`: `CONNECTION ADMIN`, `BINLOG ADMIN`, `READ_ONLY ADMIN`,
/// `SYSTEM_VARIABLES_ADMIN`, `ROLE_ADMIN`, …) except `SESSION_VARIABLES_ADMIN` and
/// `APPLICATION_PASSWORD_ADMIN`, which touch only the own session and password.
///
/// Allowed: object privileges such as `SELECT` (writes fail in the read-only transaction),
/// `PROCESS`, `REPLICATION CLIENT`, `BINLOG MONITOR`, `SLAVE MONITOR`, `SHOW DATABASES`: they
/// read server state but change nothing.
fn is_privileged(privilege: &str) -> bool {
    let p = privilege
        .to_ascii_uppercase()
        .replace('_', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match p.as_str() {
        "ALL"
        | "ALL PRIVILEGES"
        | "FILE"
        | "SUPER"
        | "SHUTDOWN"
        | "RELOAD"
        | "CREATE USER"
        | "GRANT OPTION"
        | "SET USER"
        | "SET USER ID"
        | "SET ANY DEFINER"
        | "BINLOG REPLAY"
        | "REPLICATION APPLIER" => true,
        "SESSION VARIABLES ADMIN" | "APPLICATION PASSWORD ADMIN" => false,
        _ => p.ends_with(" ADMIN") || p.starts_with("FLUSH ") || p.starts_with("INNODB REDO LOG"),
    }
}

/// Whether `s` is an account or role name as `SHOW GRANTS` quotes it (`` `r` ``,
/// `` `r`@`%` ``, `'r'@'%'`), safe to put back into `SET ROLE` or `USING`.
fn is_quoted_account(s: &str) -> bool {
    let mut chars = s.chars().peekable();
    let Some(q) = chars.next() else {
        return false;
    };
    if !is_quoted_rest(q, &mut chars) {
        return false;
    }
    match chars.next() {
        None => true,
        Some('@') => match chars.next() {
            Some(q) => is_quoted_rest(q, &mut chars) && chars.next().is_none(),
            None => false,
        },
        Some(_) => false,
    }
}

/// Consumes one quoted name opened by `q` (a doubled quote inside stays inside).
fn is_quoted_rest(q: char, chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    if q != '`' && q != '\'' {
        return false;
    }
    loop {
        match chars.next() {
            None => return false,
            Some(c) if c == q => {
                if chars.peek() == Some(&q) {
                    chars.next();
                } else {
                    return true;
                }
            }
            Some(_) => {}
        }
    }
}

/// How to create a login that may only read, and why, for [`Error::PrivilegedLogin`].
fn least_privilege_hint(database: Option<&str>) -> String {
    let db = database.map_or_else(
        || "<database>".to_string(),
        |d| format!("`{}`", d.replace('`', "``")),
    );
    format!(
        "A read-only transaction does not stop such a login from reading or writing server \
         files (SELECT ... INTO OUTFILE, LOAD_FILE), changing global settings (SET GLOBAL), \
         killing other sessions (KILL) or managing accounts. Connect as a user that may only \
         read, created by an administrator: CREATE USER 'metricchat_reader'@'%' IDENTIFIED BY \
         '<password>'; GRANT SELECT ON {db}.* TO 'metricchat_reader'@'%'; (one GRANT per \
         database to query). {OPT_IN}"
    )
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
    server::connect_error(name, &cfg.endpoint(), cause, e)
}

const LIST_TABLES_IN: &str = "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR) \
     FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1, 2";

/// Which tables an introspection covers.
enum Scope<'a> {
    /// One table.
    Table(&'a str, &'a str),
    /// Every table of one database.
    Schema(&'a str),
    /// Every table of every database but the system ones.
    AllSchemas,
}

impl Scope<'_> {
    /// The `WHERE` condition on `TABLE_SCHEMA`/`TABLE_NAME` and its parameters.
    fn filter(&self) -> (String, Vec<String>) {
        match self {
            Scope::Table(s, t) => (
                "TABLE_SCHEMA = ? AND TABLE_NAME = ?".into(),
                vec![(*s).to_string(), (*t).to_string()],
            ),
            Scope::Schema(s) => ("TABLE_SCHEMA = ?".into(), vec![(*s).to_string()]),
            Scope::AllSchemas => (
                format!("TABLE_SCHEMA NOT IN ({SYSTEM_SCHEMAS})"),
                Vec::new(),
            ),
        }
    }
}

/// The three introspection queries (tables, columns, keys) for the tables `filter` selects.
fn introspection_sql(filter: &str) -> [String; 3] {
    [
        format!(
            "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR), \
               CAST(TABLE_TYPE AS CHAR), CAST(TABLE_COMMENT AS CHAR), CAST(TABLE_ROWS AS SIGNED) \
             FROM information_schema.TABLES WHERE {filter} ORDER BY 1, 2"
        ),
        format!(
            "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR), \
               CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), \
               CAST(COLUMN_COMMENT AS CHAR) \
             FROM information_schema.COLUMNS WHERE {filter} \
             ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
        ),
        format!(
            "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR), \
               CAST(CONSTRAINT_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
               CAST(REFERENCED_TABLE_SCHEMA AS CHAR), CAST(REFERENCED_TABLE_NAME AS CHAR), \
               CAST(REFERENCED_COLUMN_NAME AS CHAR) \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE {filter} AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL) \
             ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME = 'PRIMARY' DESC, CONSTRAINT_NAME, \
               ORDINAL_POSITION"
        ),
    ]
}

async fn fetch_rows(
    conn: &mut MySqlConnection,
    sql: String,
    binds: &[String],
) -> std::result::Result<Vec<sqlx::mysql::MySqlRow>, sqlx::Error> {
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b.as_str());
    }
    q.fetch_all(conn).await
}

impl MySqlConnector {
    /// Describes the tables of `scope` with three `information_schema` queries, whatever their
    /// number.
    async fn describe(&self, scope: Scope<'_>) -> Result<Vec<TableSchema>> {
        let err = |e| query_error(&self.name, e);
        let (filter, binds) = scope.filter();
        let [tables_sql, columns_sql, keys_sql] = introspection_sql(&filter);
        let mut conn = self.acquire().await?;
        let mut tables: Vec<TableSchema> = Vec::new();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        for r in fetch_rows(&mut conn, tables_sql, &binds)
            .await
            .map_err(err)?
        {
            let schema: String = r.try_get(0).map_err(err)?;
            let name: String = r.try_get(1).map_err(err)?;
            let table_type: String = r.try_get(2).map_err(err)?;
            let comment: Option<String> = r.try_get(3).map_err(err)?;
            let rows: Option<i64> = r.try_get(4).map_err(err)?;
            let is_view = table_type.eq_ignore_ascii_case("VIEW");
            index.insert((schema.clone(), name.clone()), tables.len());
            tables.push(TableSchema {
                table: TableRef::qualified(schema, name),
                kind: if is_view {
                    TableKind::View
                } else {
                    TableKind::Table
                },
                columns: Vec::new(),
                // A view's comment is the word `VIEW`.
                comment: comment.filter(|c| !(c.is_empty() || is_view && c == "VIEW")),
                primary_key: Vec::new(),
                foreign_keys: Vec::new(),
                row_estimate: if is_view {
                    None
                } else {
                    rows.and_then(|n| u64::try_from(n).ok())
                },
            });
        }
        let find = |r: &sqlx::mysql::MySqlRow| -> std::result::Result<Option<usize>, sqlx::Error> {
            let key: (String, String) = (r.try_get(0)?, r.try_get(1)?);
            Ok(index.get(&key).copied())
        };
        for r in fetch_rows(&mut conn, columns_sql, &binds)
            .await
            .map_err(err)?
        {
            let Some(i) = find(&r).map_err(err)? else {
                continue;
            };
            let nullable: String = r.try_get(4).map_err(err)?;
            let comment: Option<String> = r.try_get(5).map_err(err)?;
            tables[i].columns.push(ColumnInfo {
                name: r.try_get(2).map_err(err)?,
                data_type: r.try_get(3).map_err(err)?,
                nullable: nullable.eq_ignore_ascii_case("YES"),
                comment: comment.filter(|c| !c.is_empty()),
            });
        }
        // The foreign key the previous row extended: (table index, constraint name).
        let mut last_fk: Option<(usize, String)> = None;
        for r in fetch_rows(&mut conn, keys_sql, &binds).await.map_err(err)? {
            let Some(i) = find(&r).map_err(err)? else {
                continue;
            };
            let constraint: String = r.try_get(2).map_err(err)?;
            let key = KeyColumn {
                primary: constraint == "PRIMARY",
                constraint,
                column: r.try_get(3).map_err(err)?,
                ref_schema: r.try_get(4).map_err(err)?,
                ref_table: r.try_get(5).map_err(err)?,
                ref_column: r.try_get(6).map_err(err)?,
            };
            add_key_column(&mut tables[i], i, &mut last_fk, key);
        }
        Ok(tables)
    }
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
                .with_read_only_transactions(true),
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
    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        let limits = Limits::from_options(&self.name, opts);
        self.login
            .ensure(
                &limits,
                || self.detect_privileges(),
                || least_privilege_hint(self.config.database.as_deref()),
            )
            .await?;
        let task = QueryTask {
            pool: self.pool.clone(),
            options: self.options.clone(),
            config: self.config.clone(),
            flavor: self.flavor.clone(),
            sql: sql.to_string(),
            limits: limits.clone(),
        };
        spawn_query(limits, |schema_tx, batch_tx| task.run(schema_tx, batch_tx)).await
    }
}

/// Everything the background query task needs.
struct QueryTask {
    pool: MySqlPool,
    options: MySqlConnectOptions,
    config: MySqlConfig,
    flavor: Arc<OnceCell<Flavor>>,
    sql: String,
    limits: Limits,
}

type TxConn = server::TxConn<MySql>;

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
            c = self.pool.acquire() => c.map_err(|e| connect_error(name, &self.config, e))?,
        };
        let mut tx = TxConn { conn, clean: false };
        let flavor = flavor_of(&self.flavor, &mut tx.conn, name).await?;
        let setup = flavor.setup_sql(self.limits.remaining());
        sqlx::raw_sql(AssertSqlSafe(setup))
            .execute(&mut *tx.conn)
            .await
            .map_err(|e| query_error(name, e))?;
        let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
            .fetch_one(&mut *tx.conn)
            .await
            .map_err(|e| query_error(name, e))?;

        let mut finished = false;
        let outcome = self
            .stream_rows(&mut tx, &mut finished, schema_tx, batch_tx)
            .await;
        // The statement may still run (row cap, cancel, deadline, dropped stream): interrupt it.
        if !finished {
            kill_query(&self.pool, &self.options, id).await;
        }
        let cleanup = flavor.cleanup_sql();
        // The first attempt may only collect the interrupted statement's error.
        for _ in 0..2 {
            if sqlx::raw_sql(AssertSqlSafe(cleanup.clone()))
                .execute(&mut *tx.conn)
                .await
                .is_ok()
            {
                tx.clean = true;
                break;
            }
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
        let columns: Vec<MySqlColumn> = stmt.columns().to_vec();
        let decimals = self.decimal_types(&mut tx.conn, &columns).await?;
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
        let rows = stmt.query().fetch(&mut *tx.conn);
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

    /// Precision and scale of each `DECIMAL` result column read straight from a table, in one
    /// `information_schema` query; `None` for other columns and for expressions.
    async fn decimal_types(
        &self,
        conn: &mut PoolConnection<MySql>,
        columns: &[MySqlColumn],
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
        let filter =
            vec!["(TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?)"; wanted.len()]
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
        let err = |e| query_error(&self.limits.connector, e);
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
    fn map_engine_error(&self, e: sqlx::Error) -> Error {
        match error_number(&e) {
            // ER_STATEMENT_TIMEOUT (MariaDB), ER_QUERY_TIMEOUT (MySQL)
            Some(1969 | 3024) => {
                if self.limits.cancel.is_cancelled() {
                    return Error::Cancelled;
                }
                return self.limits.timeout_error();
            }
            // ER_QUERY_INTERRUPTED
            Some(1317) => {
                if self.limits.cancel.is_cancelled() {
                    return Error::Cancelled;
                }
                if self.limits.expired() {
                    return self.limits.timeout_error();
                }
            }
            _ => {}
        }
        query_error(&self.limits.connector, e)
    }
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

/// Microseconds in a day.
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// One result column being converted to Arrow.
enum ColBuilder {
    Bool(BooleanBuilder),
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    U8(UInt8Builder),
    U16(UInt16Builder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    Bit(UInt64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Decimal128(Decimal128Builder, u8, i8),
    Decimal256(Decimal256Builder, u8, i8),
    Text(StringBuilder),
    Bytes(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampUtc(TimestampMicrosecondBuilder),
    Null(usize),
}

impl ColBuilder {
    fn for_type(column: &str, ty: &MySqlTypeInfo, decimal: Option<(u8, i8)>) -> Result<Self> {
        let is_text = <str as sqlx::Type<MySql>>::compatible(ty);
        Ok(match ty.name() {
            "BOOLEAN" => ColBuilder::Bool(BooleanBuilder::new()),
            "TINYINT" => ColBuilder::I8(Int8Builder::new()),
            "SMALLINT" => ColBuilder::I16(Int16Builder::new()),
            "MEDIUMINT" | "INT" => ColBuilder::I32(Int32Builder::new()),
            "BIGINT" => ColBuilder::I64(Int64Builder::new()),
            "TINYINT UNSIGNED" => ColBuilder::U8(UInt8Builder::new()),
            "SMALLINT UNSIGNED" | "YEAR" => ColBuilder::U16(UInt16Builder::new()),
            "MEDIUMINT UNSIGNED" | "INT UNSIGNED" => ColBuilder::U32(UInt32Builder::new()),
            "BIGINT UNSIGNED" => ColBuilder::U64(UInt64Builder::new()),
            "BIT" => ColBuilder::Bit(UInt64Builder::new()),
            "FLOAT" => ColBuilder::F32(Float32Builder::new()),
            "DOUBLE" => ColBuilder::F64(Float64Builder::new()),
            "DECIMAL" => match decimal {
                Some((p, s)) if (1..=38).contains(&p) => ColBuilder::Decimal128(
                    Decimal128Builder::new().with_data_type(DataType::Decimal128(p, s)),
                    p,
                    s,
                ),
                Some((p, s)) if (39..=76).contains(&p) => ColBuilder::Decimal256(
                    Decimal256Builder::new().with_data_type(DataType::Decimal256(p, s)),
                    p,
                    s,
                ),
                _ => ColBuilder::Text(StringBuilder::new()),
            },
            "DATE" => ColBuilder::Date(Date32Builder::new()),
            "TIME" => ColBuilder::Time(Time64MicrosecondBuilder::new()),
            "DATETIME" => ColBuilder::Timestamp(TimestampMicrosecondBuilder::new()),
            "TIMESTAMP" => {
                ColBuilder::TimestampUtc(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            "NULL" => ColBuilder::Null(0),
            "JSON" | "ENUM" | "SET" => ColBuilder::Text(StringBuilder::new()),
            "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "BINARY"
            | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
                if is_text {
                    ColBuilder::Text(StringBuilder::new())
                } else {
                    ColBuilder::Bytes(BinaryBuilder::new())
                }
            }
            other => {
                return Err(Error::Unsupported(format!(
                    "column `{column}` has MySQL type `{other}`, which has no Arrow mapping; \
                     convert it in the query (`CAST({column} AS CHAR)`, `ST_AsText({column})`)"
                )));
            }
        })
    }

    fn data_type(&self) -> DataType {
        match self {
            ColBuilder::Bool(_) => DataType::Boolean,
            ColBuilder::I8(_) => DataType::Int8,
            ColBuilder::I16(_) => DataType::Int16,
            ColBuilder::I32(_) => DataType::Int32,
            ColBuilder::I64(_) => DataType::Int64,
            ColBuilder::U8(_) => DataType::UInt8,
            ColBuilder::U16(_) => DataType::UInt16,
            ColBuilder::U32(_) => DataType::UInt32,
            ColBuilder::U64(_) | ColBuilder::Bit(_) => DataType::UInt64,
            ColBuilder::F32(_) => DataType::Float32,
            ColBuilder::F64(_) => DataType::Float64,
            ColBuilder::Decimal128(_, p, s) => DataType::Decimal128(*p, *s),
            ColBuilder::Decimal256(_, p, s) => DataType::Decimal256(*p, *s),
            ColBuilder::Text(_) => DataType::Utf8,
            ColBuilder::Bytes(_) => DataType::Binary,
            ColBuilder::Date(_) => DataType::Date32,
            ColBuilder::Time(_) => DataType::Time64(TimeUnit::Microsecond),
            ColBuilder::Timestamp(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColBuilder::TimestampUtc(_) => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            ColBuilder::Null(_) => DataType::Null,
        }
    }

    fn append_null(&mut self) {
        match self {
            ColBuilder::Bool(b) => b.append_null(),
            ColBuilder::I8(b) => b.append_null(),
            ColBuilder::I16(b) => b.append_null(),
            ColBuilder::I32(b) => b.append_null(),
            ColBuilder::I64(b) => b.append_null(),
            ColBuilder::U8(b) => b.append_null(),
            ColBuilder::U16(b) => b.append_null(),
            ColBuilder::U32(b) => b.append_null(),
            ColBuilder::U64(b) | ColBuilder::Bit(b) => b.append_null(),
            ColBuilder::F32(b) => b.append_null(),
            ColBuilder::F64(b) => b.append_null(),
            ColBuilder::Decimal128(b, _, _) => b.append_null(),
            ColBuilder::Decimal256(b, _, _) => b.append_null(),
            ColBuilder::Text(b) => b.append_null(),
            ColBuilder::Bytes(b) => b.append_null(),
            ColBuilder::Date(b) => b.append_null(),
            ColBuilder::Time(b) => b.append_null(),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampUtc(b) => b.append_null(),
            ColBuilder::Null(n) => *n += 1,
        }
    }

    /// Appends one binary-protocol value.
    fn append(&mut self, v: &[u8]) -> std::result::Result<(), String> {
        match self {
            ColBuilder::Bool(b) => b.append_value(fixed::<1>(v)?[0] != 0),
            ColBuilder::I8(b) => b.append_value(i8::from_le_bytes(fixed(v)?)),
            ColBuilder::I16(b) => b.append_value(i16::from_le_bytes(fixed(v)?)),
            ColBuilder::I32(b) => b.append_value(i32::from_le_bytes(fixed(v)?)),
            ColBuilder::I64(b) => b.append_value(i64::from_le_bytes(fixed(v)?)),
            ColBuilder::U8(b) => b.append_value(u8::from_le_bytes(fixed(v)?)),
            ColBuilder::U16(b) => b.append_value(u16::from_le_bytes(fixed(v)?)),
            ColBuilder::U32(b) => b.append_value(u32::from_le_bytes(fixed(v)?)),
            ColBuilder::U64(b) => b.append_value(u64::from_le_bytes(fixed(v)?)),
            ColBuilder::Bit(b) => {
                if v.len() > 8 {
                    return Err(format!("BIT value of {} bytes", v.len()));
                }
                b.append_value(v.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)));
            }
            ColBuilder::F32(b) => b.append_value(f32::from_le_bytes(fixed(v)?)),
            ColBuilder::F64(b) => b.append_value(f64::from_le_bytes(fixed(v)?)),
            ColBuilder::Decimal128(b, _, s) => {
                b.append_value(decimal_from_text(utf8(v)?, *s)?);
            }
            ColBuilder::Decimal256(b, _, s) => {
                let digits = scaled_digits(utf8(v)?, *s)?;
                let n = i256::from_string(&digits)
                    .ok_or_else(|| format!("{digits} does not fit Decimal256"))?;
                b.append_value(n);
            }
            ColBuilder::Text(b) => b.append_value(utf8(v)?),
            ColBuilder::Bytes(b) => b.append_value(v),
            ColBuilder::Date(b) => match date_days(v)? {
                Some(d) => b.append_value(d),
                None => b.append_null(),
            },
            ColBuilder::Time(b) => b.append_value(time_micros(v)?),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampUtc(b) => match datetime_micros(v)? {
                Some(t) => b.append_value(t),
                None => b.append_null(),
            },
            ColBuilder::Null(n) => *n += 1,
        }
        Ok(())
    }
}

impl ArrowColumn for ColBuilder {
    fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Bool(b) => Arc::new(b.finish()),
            ColBuilder::I8(b) => Arc::new(b.finish()),
            ColBuilder::I16(b) => Arc::new(b.finish()),
            ColBuilder::I32(b) => Arc::new(b.finish()),
            ColBuilder::I64(b) => Arc::new(b.finish()),
            ColBuilder::U8(b) => Arc::new(b.finish()),
            ColBuilder::U16(b) => Arc::new(b.finish()),
            ColBuilder::U32(b) => Arc::new(b.finish()),
            ColBuilder::U64(b) | ColBuilder::Bit(b) => Arc::new(b.finish()),
            ColBuilder::F32(b) => Arc::new(b.finish()),
            ColBuilder::F64(b) => Arc::new(b.finish()),
            ColBuilder::Decimal128(b, _, _) => Arc::new(b.finish()),
            ColBuilder::Decimal256(b, _, _) => Arc::new(b.finish()),
            ColBuilder::Text(b) => Arc::new(b.finish()),
            ColBuilder::Bytes(b) => Arc::new(b.finish()),
            ColBuilder::Date(b) => Arc::new(b.finish()),
            ColBuilder::Time(b) => Arc::new(b.finish()),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampUtc(b) => Arc::new(b.finish()),
            ColBuilder::Null(n) => Arc::new(NullArray::new(std::mem::take(n))),
        }
    }
}

fn fixed<const N: usize>(v: &[u8]) -> std::result::Result<[u8; N], String> {
    v.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", v.len()))
}

fn utf8(v: &[u8]) -> std::result::Result<&str, String> {
    std::str::from_utf8(v).map_err(|e| format!("invalid UTF-8: {e}"))
}

/// Days since the Unix epoch of a civil date, `None` for MySQL's zero dates.
fn civil_days(year: u16, month: u8, day: u8) -> Option<i64> {
    if year == 0 || month == 0 || day == 0 || month > 12 || day > 31 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let (y, m, d) = (i64::from(year), i64::from(month), i64::from(day));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// A binary `DATE`: length byte, then year (u16 LE), month, day.
fn date_days(v: &[u8]) -> std::result::Result<Option<i32>, String> {
    let (len, rest) = v.split_first().ok_or("empty DATE value")?;
    if *len == 0 {
        return Ok(None);
    }
    if rest.len() < 4 {
        return Err("short DATE value".into());
    }
    let days = civil_days(u16::from_le_bytes([rest[0], rest[1]]), rest[2], rest[3]);
    days.map(|d| i32::try_from(d).map_err(|_| "DATE out of range".to_string()))
        .transpose()
}

/// A binary `DATETIME`/`TIMESTAMP`: length byte (0, 4, 7 or 11), then year, month, day, hour,
/// minute, second, microsecond.
fn datetime_micros(v: &[u8]) -> std::result::Result<Option<i64>, String> {
    let (len, rest) = v.split_first().ok_or("empty DATETIME value")?;
    let len = usize::from(*len);
    if len == 0 {
        return Ok(None);
    }
    if rest.len() < len || len < 4 {
        return Err("short DATETIME value".into());
    }
    let Some(days) = civil_days(u16::from_le_bytes([rest[0], rest[1]]), rest[2], rest[3]) else {
        return Ok(None);
    };
    let (h, m, s) = if len >= 7 {
        (i64::from(rest[4]), i64::from(rest[5]), i64::from(rest[6]))
    } else {
        (0, 0, 0)
    };
    let micros = if len >= 11 {
        i64::from(u32::from_le_bytes([rest[7], rest[8], rest[9], rest[10]]))
    } else {
        0
    };
    Ok(Some(
        days * MICROS_PER_DAY + ((h * 60 + m) * 60 + s) * 1_000_000 + micros,
    ))
}

/// A binary `TIME`: length byte (0, 8 or 12), sign, days (u32 LE), hour, minute, second,
/// microsecond; only times of day fit Time64.
fn time_micros(v: &[u8]) -> std::result::Result<i64, String> {
    let (len, rest) = v.split_first().ok_or("empty TIME value")?;
    let len = usize::from(*len);
    if len == 0 {
        return Ok(0);
    }
    if rest.len() < len || len < 8 {
        return Err("short TIME value".into());
    }
    let negative = rest[0] != 0;
    let days = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]);
    let (h, m, s) = (i64::from(rest[5]), i64::from(rest[6]), i64::from(rest[7]));
    let micros = if len >= 12 {
        i64::from(u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]))
    } else {
        0
    };
    let total = ((h * 60 + m) * 60 + s) * 1_000_000 + micros;
    if days != 0 || (negative && total != 0) {
        let sign = if negative { "-" } else { "" };
        return Err(format!(
            "TIME {sign}{}:{m:02}:{s:02} is not a time of day and does not fit Time64; \
             cast it in the query (CAST(… AS CHAR) or TIME_TO_SEC(…))",
            i64::from(days) * 24 + h
        ));
    }
    Ok(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

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
        assert_eq!(c.password.as_deref(), Some("s@cret"));
        assert_eq!(c.database.as_deref(), Some("shop"));
        assert_eq!(c.name.as_deref(), Some("wh"));
        assert_eq!(c.ssl_mode.as_deref(), Some("DISABLED"));
        assert_eq!(c.connect_timeout_secs, 3);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("cret"), "{dbg}");
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
        assert_eq!(scaled_digits("123.4", 3).unwrap(), "123400");
    }
}
