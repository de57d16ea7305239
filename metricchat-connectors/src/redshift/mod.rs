//! Amazon Redshift over the PostgreSQL wire protocol (sqlx):
//! `redshift://user:password@cluster.abc123.eu-west-1.redshift.amazonaws.com:5439/dev?name=warehouse`
//! (`redshift+postgres://` too).
//!
//! ```no_run
//! # async fn demo() -> metricchat_core::error::Result<()> {
//! use metricchat_core::connector::{Connector, QueryOptions, collect_stream};
//! let rs = metricchat_connectors::redshift::RedshiftConnector::from_url(
//!     "redshift://analyst:secret@cluster.example.redshift.amazonaws.com:5439/dev?sslmode=require",
//! )?;
//! rs.test_connection().await?; // names the cause: unreachable, bad password, unknown database
//! let data = collect_stream(rs.query("SELECT 1 AS one", QueryOptions::default()).await?).await?;
//! # Ok(()) }
//! ```
//!
//! URL parameters: `name` (the connection's name; default: the database), `sslmode`
//! (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`), `search_path` (set with
//! `SET search_path` on every new connection), `max_connections` (pool size, default 5),
//! `connect_timeout` (seconds, default 10) and `allow_privileged_login` (`true` to run queries
//! as a superuser, below). Defaults: port 5439, user `awsuser`, database `dev`.
//!
//! # Introspection
//!
//! Redshift's own catalog views, each read once for the whole database by
//! [`Connector::catalog`] and filtered on schema and name by [`Connector::table_schema`]:
//!
//! | what | from |
//! | --- | --- |
//! | tables, views, external (Spectrum) tables and their comments | `svv_tables` (`table_schema`, `table_name`, `table_type`, `remarks`) |
//! | columns: type, length, precision and scale, nullability, comment | `svv_columns` (`data_type`, `character_maximum_length`, `numeric_precision`, `numeric_scale`, `is_nullable`, `remarks`, ordered by `ordinal_position`) |
//! | row estimates | `svv_table_info` (`estimated_visible_rows`, else `tbl_rows`); the view lists no empty tables and by default only superusers may read it, so a missing row or a refused read leaves the estimate unknown |
//! | primary and foreign keys | `information_schema.table_constraints`, `key_column_usage` and `referential_constraints` (informational on Redshift: declared, not enforced); referenced columns are paired by position |
//!
//! System schemas (`pg_catalog`, `information_schema`, `pg_internal`, `pg_automv`,
//! `catalog_history`, temporary schemas) are left out. Unqualified table names mean `public`.
//!
//! # Queries, limits, cancellation, types
//!
//! Queries run exactly as on [PostgreSQL](crate::postgres) (the same code): each in its own
//! `BEGIN READ ONLY` transaction with `SET LOCAL statement_timeout` in milliseconds, streamed
//! into batches of up to 8192 rows; on cancel, deadline, row cap or a dropped stream the
//! statement is interrupted with `pg_cancel_backend(pg_backend_pid())` from another connection
//! and the transaction rolled back. The type mapping is PostgreSQL's table; Redshift-only types
//! (`SUPER`, `VARBYTE`, `GEOMETRY`, `HLLSKETCH`, `TIMETZ`) fail with [`Error::Unsupported`]
//! naming the column: cast them in SQL (`JSON_SERIALIZE(s)`, `TO_HEX(v)`, `ST_AsText(g)`).
//! The dialect is [`Dialect::Redshift`], so the guard parses with Redshift's grammar and denies
//! PostgreSQL's dangerous functions. Unlike on PostgreSQL, no `standard_conforming_strings` is
//! set and no advisory locks are released: Redshift forked from PostgreSQL 8.0, before both
//! existed.
//!
//! # Privileged logins
//!
//! On first use [`Connector::query`] reads `usesuper` from `pg_user` for the current user
//! (once per connector) and refuses a superuser with [`Error::PrivilegedLogin`] (kind
//! `Unauthorized`): a superuser passes every permission check, and a read-only transaction
//! limits only writes. The default `awsuser` of a new cluster is a superuser. The error
//! carries the SQL that creates a user that may only read:
//!
//! ```sql
//! CREATE USER metricchat_reader PASSWORD '<password>';
//! GRANT USAGE ON SCHEMA public TO metricchat_reader;
//! GRANT SELECT ON ALL TABLES IN SCHEMA public TO metricchat_reader;
//! ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO metricchat_reader;
//! ```
//!
//! To run as a superuser anyway, set [`RedshiftConfig::allow_privileged_login`] (URL:
//! `?allow_privileged_login=true`). Role-based system roles (`sys:superuser`, `sys:dba`,
//! `sys:operator`) are not detected: do not grant them to the connector's user.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use metricchat_core::connector::{
    Capabilities, ColumnInfo, Connector, ConnectorInfo, Dialect, QueryOptions,
    SendableRecordBatchStream, TableKind, TableRef, TableSchema,
};
use metricchat_core::error::{Error, Result};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{AssertSqlSafe, Row};

use crate::postgres::{PgEngine, PostgresConfig, PostgresConnector};
use crate::sqlx::query_error;
use crate::sqlx::{KeyColumn, add_key_column};

mod catalog;
mod config;

use catalog::*;
pub use config::RedshiftConfig;

/// The backend name in [`ConnectorInfo::backend`].
pub const BACKEND: &str = "redshift";

/// URL schemes of Redshift connections.
const SCHEMES: &[&str] = &["redshift", "redshift+postgres"];

/// Schemas [`Connector::list_tables`] never lists.
const SYSTEM_SCHEMAS: &str =
    "'pg_catalog', 'information_schema', 'pg_internal', 'pg_automv', 'catalog_history'";

/// A pooled Redshift connection (see the module docs).
pub struct RedshiftConnector {
    pg: PostgresConnector,
    config: RedshiftConfig,
}

impl fmt::Debug for RedshiftConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedshiftConnector")
            .field("name", &self.pg.name())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedshiftConnector {
    /// A connection from a `redshift://` URL. The pool connects lazily, on first use.
    pub fn from_url(url: &str) -> Result<Self> {
        Self::new(RedshiftConfig::from_url(url)?)
    }

    /// A connection from a config. The pool connects lazily, on first use.
    pub fn new(config: RedshiftConfig) -> Result<Self> {
        let pg = PostgresConnector::for_engine(config.to_postgres(), PgEngine::Redshift)?;
        Ok(Self { pg, config })
    }

    /// The connection's name.
    pub fn name(&self) -> &str {
        self.pg.name()
    }

    /// The sqlx pool (for loading data in tests or embedding code; queries through it are not
    /// read-only).
    pub fn pool(&self) -> &PgPool {
        self.pg.pool()
    }

    async fn rows(&self, sql: String, scope: &Scope<'_>) -> Result<Vec<PgRow>> {
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if let Scope::Table(s, t) = scope {
            q = q.bind(*s).bind(*t);
        }
        q.fetch_all(self.pg.pool())
            .await
            .map_err(|e| query_error(self.pg.name(), e))
    }

    /// Describes the tables of `scope` with four catalog queries, whatever their number.
    async fn describe(&self, scope: Scope<'_>) -> Result<Vec<TableSchema>> {
        let name = self.pg.name();
        let err = |e| query_error(name, e);
        let mut tables: Vec<TableSchema> = Vec::new();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        for r in self.rows(tables_sql(&scope), &scope).await? {
            let schema: String = r.try_get(0).map_err(err)?;
            let table: String = r.try_get(1).map_err(err)?;
            let table_type: Option<String> = r.try_get(2).map_err(err)?;
            let is_view = table_type.is_some_and(|t| t.eq_ignore_ascii_case("VIEW"));
            index.insert((schema.clone(), table.clone()), tables.len());
            tables.push(TableSchema {
                table: TableRef::qualified(schema, table),
                kind: if is_view {
                    TableKind::View
                } else {
                    TableKind::Table
                },
                columns: Vec::new(),
                comment: non_empty(r.try_get(3).map_err(err)?),
                primary_key: Vec::new(),
                foreign_keys: Vec::new(),
                row_estimate: None,
            });
        }
        let find = |r: &PgRow| -> std::result::Result<Option<usize>, sqlx::Error> {
            let key: (String, String) = (r.try_get(0)?, r.try_get(1)?);
            Ok(index.get(&key).copied())
        };
        for r in self.rows(columns_sql(&scope), &scope).await? {
            let Some(i) = find(&r).map_err(err)? else {
                continue;
            };
            let data_type: String = r.try_get(3).map_err(err)?;
            let nullable: Option<String> = r.try_get(7).map_err(err)?;
            tables[i].columns.push(ColumnInfo {
                name: r.try_get(2).map_err(err)?,
                data_type: type_name(
                    &data_type,
                    r.try_get(4).map_err(err)?,
                    r.try_get(5).map_err(err)?,
                    r.try_get(6).map_err(err)?,
                ),
                nullable: nullable.is_none_or(|n| n.eq_ignore_ascii_case("YES")),
                comment: non_empty(r.try_get(8).map_err(err)?),
            });
        }
        match self.rows(estimates_sql(&scope), &scope).await {
            Ok(rows) => {
                for r in rows {
                    let Some(i) = find(&r).map_err(err)? else {
                        continue;
                    };
                    let n: Option<f64> = r.try_get(2).map_err(err)?;
                    if tables[i].kind == TableKind::Table {
                        tables[i].row_estimate = n.and_then(rows_from_f64);
                    }
                }
            }
            // Superuser-only by default: the tables are still described, without estimates.
            Err(e) => tracing::debug!(error = %e, "svv_table_info is not readable"),
        }
        // The foreign key the previous row extended: (table index, constraint name).
        let mut last_fk: Option<(usize, String)> = None;
        for r in self.rows(keys_sql(&scope), &scope).await? {
            let Some(i) = find(&r).map_err(err)? else {
                continue;
            };
            let kind: String = r.try_get(2).map_err(err)?;
            let key = KeyColumn {
                primary: kind == "PRIMARY KEY",
                constraint: r.try_get(3).map_err(err)?,
                column: r.try_get(4).map_err(err)?,
                ref_schema: r.try_get(5).map_err(err)?,
                ref_table: r.try_get(6).map_err(err)?,
                ref_column: r.try_get(7).map_err(err)?,
            };
            add_key_column(&mut tables[i], i, &mut last_fk, key);
        }
        Ok(tables)
    }
}

#[async_trait]
impl Connector for RedshiftConnector {
    fn info(&self) -> ConnectorInfo {
        ConnectorInfo {
            name: self.pg.name().to_string(),
            backend: BACKEND.into(),
            dialect: Dialect::Redshift,
            capabilities: Capabilities::none()
                .with_cancel(true)
                .with_explain(true)
                .with_limit_pushdown(true)
                .with_read_only_transactions(true),
        }
    }

    async fn test_connection(&self) -> Result<()> {
        self.pg.test_connection().await
    }

    async fn list_tables(&self) -> Result<Vec<TableRef>> {
        let scope = Scope::All;
        let err = |e| query_error(self.pg.name(), e);
        self.rows(tables_sql(&scope), &scope)
            .await?
            .iter()
            .map(|r| {
                Ok(TableRef::qualified(
                    r.try_get::<String, _>(0).map_err(err)?,
                    r.try_get::<String, _>(1).map_err(err)?,
                ))
            })
            .collect()
    }

    async fn table_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let schema = table.schema.as_deref().unwrap_or("public");
        self.describe(Scope::Table(schema, &table.name))
            .await?
            .pop()
            .ok_or_else(|| Error::NotFound {
                what: "table",
                name: format!("{schema}.{}", table.name),
            })
    }

    /// Four catalog queries for every table at once (tables, columns, estimates, keys).
    async fn catalog(&self) -> Result<Vec<TableSchema>> {
        self.describe(Scope::All).await
    }

    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        // No roles or per-user tokens here: refused, never run as the connection's login.
        if let Some(c) = &opts.run_as {
            c.check_supported(&self.info())?;
        }
        self.pg.query(sql, opts).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_redshift_defaults() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _entered = rt.enter();
        let c = RedshiftConfig::from_url(
            "redshift://bob:s%40cret@wh.123.eu-west-1.redshift.amazonaws.com/sales?sslmode=require&search_path=mart,public",
        )
        .unwrap();
        assert_eq!(c.port, 5439);
        assert_eq!(c.user, "bob");
        assert_eq!(c.database, "sales");
        assert_eq!(c.ssl_mode.as_deref(), Some("require"));
        assert_eq!(c.search_path.as_deref(), Some("mart,public"));
        // The redacted secret prints as `SecretBox<str>([REDACTED])`: no part of the password.
        assert!(!format!("{c:?}").replace("SecretBox", "").contains("cret"));
        let d = RedshiftConfig::from_url("redshift+postgres://h").unwrap();
        assert_eq!((d.user.as_str(), d.database.as_str()), ("awsuser", "dev"));
        assert!(RedshiftConfig::from_url("postgres://h/db").is_err());
        assert!(RedshiftConfig::from_url("redshift://h/db?bogus=1").is_err());
        assert!(!c.allow_privileged_login);
        let opted = RedshiftConfig::from_url("redshift://h/db?allow_privileged_login=1").unwrap();
        assert!(opted.allow_privileged_login);
        assert!(opted.to_postgres().allow_privileged_login);
        let conn = RedshiftConnector::from_url("redshift://u@h/dev").unwrap();
        assert_eq!(conn.info().dialect, Dialect::Redshift);
        assert_eq!(conn.info().backend, "redshift");
    }

    #[test]
    fn types_are_spelled_like_redshift_ddl() {
        assert_eq!(
            type_name("character varying", Some(256), None, None),
            "character varying(256)"
        );
        assert_eq!(
            type_name("numeric", None, Some(12), Some(2)),
            "numeric(12,2)"
        );
        assert_eq!(type_name("integer", None, Some(32), Some(0)), "integer");
        assert_eq!(type_name("super", None, None, None), "super");
    }

    #[test]
    fn catalog_sql_reads_the_documented_columns() {
        let one = Scope::Table("s", "t");
        assert!(tables_sql(&one).contains("FROM svv_tables WHERE table_schema = $1"));
        assert!(
            columns_sql(&Scope::All)
                .contains("ORDER BY table_schema, table_name, ordinal_position")
        );
        assert!(estimates_sql(&one).contains("estimated_visible_rows, tbl_rows"));
        assert!(keys_sql(&Scope::All).contains("tc.table_schema NOT IN ('pg_catalog'"));
        assert_eq!(rows_from_f64(-1.0), None);
        assert_eq!(rows_from_f64(2.4), Some(2));
    }
}
