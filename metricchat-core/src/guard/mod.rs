//! The SQL guard: every statement the agent runs passes here first.
//!
//! [`SqlGuard::check`] cleans the text ([`extract_sql`]), parses it with sqlparser in the
//! connection's [`Dialect`], and refuses anything but one read-only statement:
//!
//! - allowed: queries (`SELECT`, `WITH … SELECT`, `VALUES`, set operations), `EXPLAIN` of a query
//!   (`EXPLAIN ANALYZE` too: it runs the query, which is read-only), `SHOW …`, `DESCRIBE` / `DESC`;
//! - refused: every other statement (DML, DDL, `COPY`, `SET`, `GRANT`, transactions, `ATTACH`,
//!   `PRAGMA`, `LOAD` / `INSTALL`, `CALL`, …), writes hidden in queries (data-modifying CTEs,
//!   `SELECT … INTO`, `FOR UPDATE` / `FOR SHARE`), calls to [`denied_functions`], tables read
//!   straight from files, stages or URLs (`FROM 'data.csv'`), and tables the [`Policy`] forbids.
//!
//! Every nested query is checked: subqueries in `FROM`, `WHERE` and the select list, set
//! operations and CTEs. A refusal is [`Error::SqlRefused`] whose `reason` tells the model what to
//! change.
//!
//! Queries then get the row cap: an outer `LIMIT` is added, or a larger literal `LIMIT` /
//! `FETCH FIRST n ROWS` lowered. A query that needs no change is returned exactly as written;
//! an added limit is appended to the text; a lowered one is printed back with sqlparser and
//! re-parsed in the dialect to prove it still reads the same; anything the guard cannot edit
//! safely (a computed limit, `TOP`, `FETCH … PERCENT`, BigQuery pipe syntax) is wrapped in
//! `SELECT * FROM (…) AS mc_capped LIMIT n`.
//!
//! `TOP n` (SQL Server, Snowflake) is not lowered in place; such queries are wrapped.

pub(crate) mod clean;
mod deny;
mod lex;
mod limit;
pub mod policy;
mod walk;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use sqlparser::ast::{DescribeAlias, ObjectName, Statement};
use sqlparser::dialect::{
    BigQueryDialect, DuckDbDialect, GenericDialect, MySqlDialect, PostgreSqlDialect,
    RedshiftSqlDialect, SQLiteDialect, SnowflakeDialect,
};
use sqlparser::parser::{Parser, ParserError};

use crate::connector::Dialect;
use crate::error::{Error, Result};

pub use clean::extract_sql;
pub use deny::{denied_functions, is_denied_function};
pub use policy::{BoundPolicy, PolicyProvider, TablePolicy, UserContext};

use limit::Capped;
use walk::{TableRef, Violation, WalkOptions};

/// Per-user table access rules supplied by the host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Policy {
    /// If set, only these tables (case-insensitive, `name` or `schema.name`) may be read.
    pub allowed_tables: Option<Vec<String>>,
    /// These tables may never be read.
    pub denied_tables: Vec<String>,
    /// Row filters, denied and masked columns per table (see [`policy`]). Any rule here makes
    /// the policy row-level: the guard rewrites queries and is strict.
    pub tables: std::collections::BTreeMap<String, TablePolicy>,
}

/// Guard settings. The default is safe: read-only, one statement, 10,000 rows, 60 s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct GuardConfig {
    /// Outer `LIMIT` added or tightened to this; `None` only by explicit opt-out.
    pub max_rows: Option<u64>,
    /// Statement time limit.
    #[serde(with = "crate::serde_util::duration_ms_opt")]
    pub timeout: Option<Duration>,
    /// Explicit opt-out of the read-only rule. Never set this for model-written SQL you do not trust.
    pub allow_writes: bool,
    /// Table access rules.
    pub policy: Policy,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            max_rows: Some(10_000),
            timeout: Some(Duration::from_secs(60)),
            allow_writes: false,
            policy: Policy::default(),
        }
    }
}

/// What kind of statement passed the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    /// SELECT / WITH / VALUES.
    Query,
    /// EXPLAIN of a query.
    Explain,
    /// SHOW …
    Show,
    /// DESCRIBE / DESC …
    Describe,
    /// A write, allowed only with `allow_writes`.
    Write,
}

/// A statement that passed the guard, rewritten to run.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardedSql {
    /// The SQL to run (row cap applied).
    pub sql: String,
    /// The SQL as given.
    pub original: String,
    /// Statement kind.
    pub kind: StatementKind,
    /// The row cap in force, if any. For a `Query` it is already in `sql`; for `EXPLAIN`, `SHOW`
    /// and `DESCRIBE` connectors stop reading after this many rows. `None` for writes.
    pub row_cap: Option<u64>,
    /// Tables the statement reads, as written, each once, CTE names left out.
    pub tables: Vec<String>,
    /// Time limit.
    pub timeout: Option<Duration>,
    /// The data-policy rules applied to the statement, once each (empty without a row-level
    /// policy), for the audit log.
    pub policy: Vec<String>,
}

/// Checks and rewrites SQL before any connector sees it.
///
/// A refusal names what to change:
///
/// ```
/// use metricchat_core::{Dialect, Error};
/// use metricchat_core::guard::{GuardConfig, SqlGuard};
///
/// let guard = SqlGuard::new(GuardConfig::default());
/// let err = guard.check("SELECT 1; DROP TABLE users", Dialect::Postgres).unwrap_err();
/// let Error::SqlRefused { reason, .. } = err else { unreachable!() };
/// assert!(reason.contains("only one statement"));
///
/// let err = guard.check("DELETE FROM users", Dialect::Sqlite).unwrap_err();
/// assert!(err.to_string().contains("read-only"));
/// ```
///
/// A query that passes comes back with the row cap applied:
///
/// ```
/// use metricchat_core::Dialect;
/// use metricchat_core::guard::{GuardConfig, SqlGuard, StatementKind};
///
/// let guard = SqlGuard::new(GuardConfig::default());
/// let ok = guard
///     .check("```sql\nSELECT region, sum(amount) FROM sales GROUP BY region;\n```", Dialect::DataFusion)
///     .unwrap();
/// assert_eq!(ok.kind, StatementKind::Query);
/// assert_eq!(ok.sql, "SELECT region, sum(amount) FROM sales GROUP BY region\nLIMIT 10000");
/// assert_eq!(ok.tables, ["sales"]);
///
/// let ok = guard.check("SELECT * FROM sales LIMIT 50000", Dialect::Postgres).unwrap();
/// assert_eq!(ok.sql, "SELECT * FROM sales LIMIT 10000");
/// assert_eq!(ok.row_cap, Some(10_000));
/// ```
#[derive(Debug, Clone, Default)]
pub struct SqlGuard {
    config: GuardConfig,
    bound: Option<std::sync::Arc<BoundPolicy>>,
}

impl SqlGuard {
    /// A guard with `config`.
    pub fn new(config: GuardConfig) -> Self {
        Self {
            config,
            bound: None,
        }
    }

    /// The guard enforcing `policy` (bound to a user and the connections' catalogs): every
    /// query is rewritten so protected tables read as filtered, column-restricted derived
    /// tables, and the guard is strict (see [`policy`]).
    pub fn with_policy(mut self, policy: std::sync::Arc<BoundPolicy>) -> Self {
        self.bound = Some(policy);
        self
    }

    /// The bound policy in force, if any.
    pub fn bound_policy(&self) -> Option<&std::sync::Arc<BoundPolicy>> {
        self.bound.as_ref()
    }

    /// The settings.
    pub fn config(&self) -> &GuardConfig {
        &self.config
    }
    /// Checks `sql` against the connection's dialect, then runs it with the guard's row cap and
    /// time limit (and `cancel`, when given), collecting the result. What `Agent::query` and the
    /// Python and Node `conn.query` use.
    pub async fn run(
        &self,
        connection: &crate::connector::ConnectorRef,
        sql: &str,
        cancel: Option<tokio_util::sync::CancellationToken>,
    ) -> Result<crate::connector::QueryData> {
        let info = connection.info();
        let g = self.check_on(sql, info.dialect, Some(&info.name))?;
        let mut opts = crate::connector::QueryOptions::default()
            .with_max_rows(g.row_cap.and_then(|c| usize::try_from(c).ok()))
            .with_timeout(g.timeout);
        if let Some(cancel) = cancel {
            opts = opts.with_cancel(cancel);
        }
        crate::connector::collect_stream(connection.query(&g.sql, opts).await?).await
    }

    /// Parses `sql` in `dialect`, refuses anything but one read-only statement, applies the row cap.
    ///
    /// `sql` may be raw model output: a markdown fence and trailing semicolons are removed first
    /// (see [`extract_sql`]).
    pub fn check(&self, sql: &str, dialect: Dialect) -> Result<GuardedSql> {
        self.check_on(sql, dialect, None)
    }

    /// [`SqlGuard::check`] for the connection named `connection`, whose bound policy (if the
    /// guard has one) is enforced. Under a row-level policy, a connection the policy was not
    /// bound to is refused; `None` picks the only bound connection.
    pub fn check_on(
        &self,
        sql: &str,
        dialect: Dialect,
        connection: Option<&str>,
    ) -> Result<GuardedSql> {
        let refuse = |reason: String| Error::SqlRefused {
            reason,
            sql: sql.to_string(),
        };
        let cleaned = extract_sql(sql);
        if cleaned.is_empty() {
            return Err(refuse(NO_STATEMENT.into()));
        }
        let lexed = lex::lex(&cleaned, dialect).map_err(refuse)?;
        let row_level = self.bound.as_ref().filter(|b| b.is_row_level());
        let conn_policy = match row_level {
            Some(b) => match b.connection(connection) {
                Some(cp) => Some(cp.clone()),
                None => {
                    return Err(refuse(format!(
                        "no data policy is bound to connection `{}`; nothing may run on it for \
                         this user",
                        connection.unwrap_or("(unnamed)")
                    )));
                }
            },
            None => None,
        };
        if let Some(table) = &lexed.pragma {
            if conn_policy.is_some() {
                return Err(refuse(
                    "PRAGMA is not allowed while a data policy is in force; use describe_tables"
                        .into(),
                ));
            }
            return self.pragma(&lexed.run, table, sql);
        }
        let mut statements = parse(&lexed.check, dialect).map_err(|e| {
            refuse(format!(
                "the SQL does not parse as {}: {e}. Fix the syntax and send a single SELECT",
                dialect.display_name()
            ))
        })?;
        let statement = match statements.len() {
            0 => return Err(refuse(NO_STATEMENT.into())),
            1 => statements.pop(),
            n => {
                return Err(refuse(format!(
                    "only one statement is allowed, but {n} were sent; send a single SELECT"
                )));
            }
        };
        let Some(mut statement) = statement else {
            return Err(refuse(NO_STATEMENT.into()));
        };

        let kind = match classify(&statement) {
            Some(kind) => kind,
            None if self.config.allow_writes => StatementKind::Write,
            None => return Err(refuse(write_reason(&statement))),
        };

        let options = WalkOptions {
            dialect,
            allow_writes: self.config.allow_writes,
            collect_tables: kind != StatementKind::Show,
        };
        let mut tables =
            walk::walk(&statement, &options).map_err(|v| refuse(violation_reason(v, dialect)))?;
        if kind == StatementKind::Show {
            tables = shown_tables(&statement);
        }
        let tables = dedupe(tables);
        if let Some(reason) = self.policy_violation(&tables) {
            return Err(refuse(reason));
        }
        let mut lexed = lexed;
        let mut applied = Vec::new();
        if let Some(cp) = &conn_policy {
            if lexed.shimmed {
                return Err(refuse(
                    "this syntax (`TABLE t`, `ROWS FROM`, `WITH ROLLUP`, `GLOB`, MySQL `MOD`) is \
                     not supported while a data policy is in force; write it in plain SQL"
                        .into(),
                ));
            }
            let done = policy::rewrite(&mut statement, cp).map_err(&refuse)?;
            if done.replaced > 0 {
                let printed = statement.to_string();
                if !round_trips(&printed, dialect, &statement) {
                    return Err(refuse(
                        "the query could not be rewritten safely for this user's data policy; \
                         simplify it"
                            .into(),
                    ));
                }
                lexed.run = printed.clone();
                lexed.check = printed;
            }
            applied = done.applied;
        }

        let row_cap = match kind {
            StatementKind::Write => None,
            _ => self.config.max_rows,
        };
        let run = &lexed.run;
        let out = match (&mut statement, row_cap) {
            (Statement::Query(query), Some(cap)) => match limit::cap_query(query, cap) {
                Capped::Unchanged => run.clone(),
                Capped::Append => verified(format!("{run}\nLIMIT {cap}"), dialect, None, run, cap),
                // A shimmed parse is not the text that runs: never print it back.
                Capped::Rewritten if lexed.shimmed => limit::wrap(run, cap),
                Capped::Rewritten => {
                    verified(statement.to_string(), dialect, Some(&statement), run, cap)
                }
                Capped::Wrap => limit::wrap(run, cap),
            },
            _ => run.clone(),
        };

        Ok(GuardedSql {
            sql: out,
            original: sql.to_string(),
            kind,
            row_cap,
            tables: tables.into_iter().map(|t| t.display).collect(),
            timeout: self.config.timeout,
            policy: applied,
        })
    }

    /// A read-only SQLite PRAGMA that describes `table` (empty: `table_list`).
    fn pragma(&self, run: &str, table: &str, sql: &str) -> Result<GuardedSql> {
        let tables: Vec<TableRef> = if table.is_empty() {
            Vec::new()
        } else {
            vec![TableRef {
                display: table.to_string(),
                parts: vec![table.to_lowercase()],
            }]
        };
        if let Some(reason) = self.policy_violation(&tables) {
            return Err(Error::SqlRefused {
                reason,
                sql: sql.to_string(),
            });
        }
        Ok(GuardedSql {
            sql: run.to_string(),
            original: sql.to_string(),
            kind: StatementKind::Describe,
            row_cap: self.config.max_rows,
            tables: tables.into_iter().map(|t| t.display).collect(),
            timeout: self.config.timeout,
            policy: Vec::new(),
        })
    }

    /// The reason the policy refuses one of `tables`, if it does.
    fn policy_violation(&self, tables: &[TableRef]) -> Option<String> {
        let policy = match &self.bound {
            Some(b) => b.policy(),
            None => &self.config.policy,
        };
        let denied: Vec<Vec<String>> = policy.denied_tables.iter().map(|t| name_parts(t)).collect();
        let allowed: Option<Vec<Vec<String>>> = policy
            .allowed_tables
            .as_ref()
            .map(|list| list.iter().map(|t| name_parts(t)).collect());
        for table in tables {
            if denied.iter().any(|d| names_match(d, &table.parts)) {
                return Some(format!(
                    "table `{}` is not available to this user. Answer with other tables, or say \
                     that this data is not accessible",
                    table.display
                ));
            }
            if let Some(allowed) = &allowed
                && !allowed.iter().any(|a| names_match(a, &table.parts))
            {
                let list = policy.allowed_tables.as_deref().unwrap_or_default();
                let shown: Vec<&str> = list.iter().take(30).map(String::as_str).collect();
                let more = if list.len() > shown.len() {
                    ", …"
                } else {
                    ""
                };
                return Some(format!(
                    "table `{}` is not among the tables this user may read ({}{more}). Use only \
                     those tables",
                    table.display,
                    shown.join(", ")
                ));
            }
        }
        None
    }
}

const NO_STATEMENT: &str = "no SQL statement was found; send a single SELECT query";

/// The sqlparser dialect that reads `dialect` best. DataFusion parses with sqlparser's
/// `GenericDialect` itself (its `datafusion.sql_parser.dialect` default), so the guard does too.
pub(crate) fn dialect_of(dialect: Dialect) -> Box<dyn sqlparser::dialect::Dialect> {
    match dialect {
        Dialect::Generic | Dialect::DataFusion => Box::new(GenericDialect {}),
        Dialect::Sqlite => Box::new(SQLiteDialect {}),
        Dialect::Postgres => Box::new(PostgreSqlDialect {}),
        Dialect::MySql => Box::new(MySqlDialect {}),
        Dialect::Redshift => Box::new(RedshiftSqlDialect {}),
        Dialect::Snowflake => Box::new(SnowflakeDialect {}),
        Dialect::BigQuery => Box::new(BigQueryDialect {}),
        Dialect::DuckDb => Box::new(DuckDbDialect {}),
    }
}

fn parse(sql: &str, dialect: Dialect) -> std::result::Result<Vec<Statement>, ParserError> {
    Parser::parse_sql(dialect_of(dialect).as_ref(), sql)
}

/// `rewritten` if it parses in `dialect` as one statement (equal to `expected` when given) that
/// still carries the cap; otherwise `original` wrapped. Guards against a print/parse mismatch in
/// sqlparser silently changing a query.
fn verified(
    rewritten: String,
    dialect: Dialect,
    expected: Option<&Statement>,
    original: &str,
    cap: u64,
) -> String {
    let check = match lex::lex(&rewritten, dialect) {
        Ok(lexed) if lexed.run == rewritten => lexed.check,
        _ => return limit::wrap(original, cap),
    };
    let ok = match parse(&check, dialect) {
        Ok(again) => match (again.as_slice(), expected) {
            ([one], Some(expected)) => one == expected,
            ([Statement::Query(q)], None) => {
                matches!(limit::cap_query(&mut q.clone(), cap), Capped::Unchanged)
            }
            _ => false,
        },
        Err(_) => false,
    };
    if ok {
        rewritten
    } else {
        limit::wrap(original, cap)
    }
}

/// Whether `printed` lexes to itself and parses in `dialect` to exactly `expected`: the
/// rewritten text the engine runs is the statement the guard checked.
fn round_trips(printed: &str, dialect: Dialect, expected: &Statement) -> bool {
    let Ok(lexed) = lex::lex(printed, dialect) else {
        return false;
    };
    if lexed.run != printed || lexed.shimmed || lexed.pragma.is_some() {
        return false;
    }
    matches!(parse(&lexed.check, dialect).as_deref(), Ok([one]) if one == expected)
}

/// The kind of a statement the guard lets through read-only, or `None` for anything that may
/// write or change state.
fn classify(statement: &Statement) -> Option<StatementKind> {
    match statement {
        Statement::Query(_) => Some(StatementKind::Query),
        Statement::Explain {
            statement: inner,
            describe_alias,
            ..
        } => match **inner {
            Statement::Query(_) => Some(match describe_alias {
                DescribeAlias::Explain => StatementKind::Explain,
                DescribeAlias::Describe | DescribeAlias::Desc => StatementKind::Describe,
            }),
            _ => None,
        },
        Statement::ExplainTable { .. } => Some(StatementKind::Describe),
        Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowCharset(_)
        | Statement::ShowObjects(_)
        | Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::ShowCollation { .. } => Some(StatementKind::Show),
        _ => None,
    }
}

/// The statement's leading keywords (`DROP TABLE`, `INSERT`, `COPY`) for messages.
fn verb(statement: &Statement) -> String {
    let text = statement.to_string();
    let mut words = text.split_whitespace().map(str::to_uppercase);
    let Some(first) = words.next() else {
        return "this statement".into();
    };
    if matches!(first.as_str(), "CREATE" | "DROP" | "ALTER") {
        const SKIP: [&str; 8] = [
            "OR",
            "REPLACE",
            "TEMP",
            "TEMPORARY",
            "UNIQUE",
            "GLOBAL",
            "LOCAL",
            "EXTERNAL",
        ];
        if let Some(object) = words.find(|w| !SKIP.contains(&w.as_str())) {
            return format!("{first} {object}");
        }
    }
    first
}

fn write_reason(statement: &Statement) -> String {
    if let Statement::Explain {
        statement: inner, ..
    } = statement
    {
        return format!(
            "EXPLAIN is only allowed for a query, not for {}: this connection is read-only. \
             EXPLAIN a SELECT instead",
            verb(inner)
        );
    }
    format!(
        "{} is not allowed: this connection is read-only, so only one SELECT (or WITH … SELECT), \
         EXPLAIN, SHOW or DESCRIBE statement may run. Send a SELECT that reads the data you need",
        verb(statement)
    )
}

fn violation_reason(violation: Violation, dialect: Dialect) -> String {
    match violation {
        Violation::NestedWrite(verb) => format!(
            "{verb} inside a query is not allowed: this connection is read-only. Remove the \
             data-modifying part and send a plain SELECT"
        ),
        Violation::SelectInto => "SELECT … INTO creates or fills a table and is not allowed. \
                                  Remove the INTO clause; results come back to you directly"
            .into(),
        Violation::Lock(lock) => format!(
            "the locking clause `{lock}` is not allowed on a read-only connection. Remove it"
        ),
        Violation::Function(name) => format!(
            "function `{name}` is not allowed on {}: functions that sleep, read or write server \
             files, open connections, run SQL given as text, signal sessions, take locks, change \
             settings or sequences are blocked. Rewrite the query without it",
            dialect.display_name()
        ),
        Violation::FileTable(name) => format!(
            "reading files, stages or URLs directly (`{name}`) is not allowed. Query the tables \
             of this connection instead"
        ),
        Violation::Relation(name) => format!(
            "`{name}` holds credentials, server files or other sessions' activity and is not \
             readable through this connection. Query the data tables instead"
        ),
        Violation::Allocation(name) => format!(
            "the size argument of `{name}` must be a number up to {} or a column: larger values \
             would allocate without bound. Use a smaller length",
            deny::MAX_ALLOCATION
        ),
    }
}

/// Tables named by `SHOW COLUMNS FROM t` and `SHOW CREATE TABLE t` (other `SHOW`s name none).
fn shown_tables(statement: &Statement) -> Vec<TableRef> {
    let name: Option<&ObjectName> = match statement {
        Statement::ShowColumns { show_options, .. } => show_options
            .show_in
            .as_ref()
            .and_then(|show_in| show_in.parent_name.as_ref()),
        Statement::ShowCreate { obj_name, .. } => Some(obj_name),
        _ => None,
    };
    name.map(TableRef::from_name).into_iter().collect()
}

fn dedupe(tables: Vec<TableRef>) -> Vec<TableRef> {
    let mut out: Vec<TableRef> = Vec::with_capacity(tables.len());
    for table in tables {
        if !out.iter().any(|t| t.parts == table.parts) {
            out.push(table);
        }
    }
    out
}

/// A policy entry (`Sales`, `public.sales`, `"public"."Sales"`) as lower-case parts.
fn name_parts(entry: &str) -> Vec<String> {
    entry
        .split('.')
        .map(|p| {
            p.trim()
                .trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']')
                .to_lowercase()
        })
        .collect()
}

/// Names match when they agree on every part both have, counted from the right: `sales` and
/// `public.sales` match; `hr.sales` and `public.sales` do not. An unqualified reference may
/// resolve to any schema on the search path, so it matches a qualified entry.
fn names_match(entry: &[String], table: &[String]) -> bool {
    let n = entry.len().min(table.len());
    n > 0 && entry[entry.len() - n..] == table[table.len() - n..]
}

#[cfg(test)]
mod tests;
