//! Row- and column-level data policy: who is asking ([`UserContext`]), what they may see
//! ([`Policy`], [`TablePolicy`], [`PolicyProvider`]), and the policy bound to one user and the
//! connections' catalogs ([`BoundPolicy`]) that the guard enforces by rewriting SQL.
//!
//! A row filter is a predicate template over the table's own columns with named placeholders
//! bound to the user's attributes (`tenant_id = :tenant_id`, `region IN (:regions)`). The
//! template is parsed once with sqlparser in the connection's dialect and every placeholder is
//! replaced by a typed literal node (number, string, boolean, or a list for `IN (…)`); values
//! never pass through SQL text. A mask is an expression over the table's columns
//! (`'***'`, `left(email, 2) || '…'`) that replaces the column's value under its own name.
//!
//! Enforcement (`rewrite.rs`): every reference to a table with a rule — in `FROM`, joins,
//! subqueries at any depth, CTE bodies, set operations, `LATERAL`, `EXISTS` / `IN`, scalar
//! subqueries — becomes a derived table under the reference's own alias:
//!
//! ```text
//! FROM orders o   →   FROM (SELECT "id", "tenant_id", "amount", ('***') AS "email"
//!                           FROM orders WHERE tenant_id = 7 LIMIT 9223372036854775807) AS o
//! ```
//!
//! The inner `LIMIT` is an optimisation fence: engines do not push the outer query's predicates
//! below it, so a predicate that raises an error (a failing cast whose message quotes the
//! value) is never evaluated on another tenant's rows — the `security_barrier` of PostgreSQL
//! views, in portable SQL.
//!
//! While a row-level policy is active the guard is strict: only queries (no `EXPLAIN`, `SHOW`,
//! `DESCRIBE`, `PRAGMA`), no system catalogs (`information_schema`, `pg_catalog`, `pg_*`,
//! `sqlite_*`, `mysql.*`, …), no table functions, no views the policy does not name, no CTE
//! named like a protected table, no `TABLE t`, and statistics and catalog functions refused.

mod rewrite;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlparser::ast::{
    Expr, Ident, ObjectName, Query, SelectItem, SetExpr, Statement, TableFactor, UnaryOperator,
    Value, Visit, VisitMut, Visitor, VisitorMut,
};
use sqlparser::parser::Parser;

use crate::connector::{ConnectorInfo, Dialect, TableKind, TableSchema};
use crate::error::{Error, Result};

pub(crate) use rewrite::rewrite;

use super::{Policy, dialect_of, name_parts, names_match};

pub use crate::identity::UserContext;

/// Rules for one table: a row filter, denied columns and masked columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TablePolicy {
    /// A predicate over the table's columns with `:name` placeholders bound to the user's
    /// attributes (`tenant_id = :tenant_id`). Rows that do not satisfy it are invisible.
    pub row_filter: Option<String>,
    /// Columns that are invisible (they vanish from `SELECT *`, the schema and samples).
    pub denied_columns: Vec<String>,
    /// Columns whose value is replaced by an expression over the table's columns
    /// (`email: "'***'"`), under the column's own name.
    pub masked_columns: BTreeMap<String, String>,
}

impl TablePolicy {
    /// A rule with this row filter.
    pub fn row_filter(template: impl Into<String>) -> Self {
        Self {
            row_filter: Some(template.into()),
            ..Self::default()
        }
    }

    /// No row filter (column rules only).
    pub fn all_rows() -> Self {
        Self::default()
    }

    /// Denies a column.
    pub fn deny_column(mut self, column: impl Into<String>) -> Self {
        self.denied_columns.push(column.into());
        self
    }

    /// Masks a column with an SQL expression over the table's columns.
    pub fn mask_column(mut self, column: impl Into<String>, expression: impl Into<String>) -> Self {
        self.masked_columns.insert(column.into(), expression.into());
        self
    }
}

/// Resolves the [`Policy`] for a request's user. The host implements it (roles, tenants, a
/// permission service); a static [`Policy`] is one too, the same for every user.
#[async_trait]
pub trait PolicyProvider: Send + Sync + std::fmt::Debug {
    /// The policy for `user` (`None`: the request named no user). An error fails the run at its
    /// start, before anything is executed.
    async fn policy_for(&self, user: Option<&UserContext>) -> Result<Policy>;
}

#[async_trait]
impl PolicyProvider for Policy {
    async fn policy_for(&self, _user: Option<&UserContext>) -> Result<Policy> {
        Ok(self.clone())
    }
}

fn policy_error(reason: impl Into<String>) -> Error {
    Error::Policy {
        reason: reason.into(),
    }
}

/// A column of a protected table as the derived table exposes it.
#[derive(Debug, Clone)]
pub(crate) enum BoundColumn {
    Plain(String),
    Masked(String, Box<Expr>),
}

/// A table rule bound to one connection's catalog and one user.
#[derive(Debug, Clone)]
pub(crate) struct BoundTable {
    /// As the catalog names it (for messages).
    pub display: String,
    /// The bare name, lower-cased: every reference whose last part is this is rewritten.
    pub bare: String,
    /// Visible columns in table order.
    pub columns: Vec<BoundColumn>,
    /// Denied column names, lower-cased.
    pub denied: Vec<String>,
    /// The bound row filter.
    pub filter: Option<Expr>,
    /// What is applied, for the audit log (`orders: rows, -ssn, ~email`).
    pub summary: String,
    /// The derived table's query, parsed once; its `FROM` is replaced per reference.
    pub skeleton: Box<Query>,
}

/// The policy for one connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionPolicy {
    pub dialect: Dialect,
    pub tables: Vec<BoundTable>,
    /// Views of the catalog the policy does not name (lower-cased parts): refused.
    pub denied_views: Vec<Vec<String>>,
    /// Every catalog table's columns, by bare lower-cased name (to tell a denied column from a
    /// same-named column of another table in denial messages).
    pub columns_by_table: BTreeMap<String, Vec<String>>,
}

impl ConnectionPolicy {
    pub(crate) fn table_for(&self, name: &ObjectName) -> Option<&BoundTable> {
        let last = last_part(name)?;
        self.tables.iter().find(|t| t.bare == last)
    }
}

/// The last part of a name, lower-cased.
pub(crate) fn last_part(name: &ObjectName) -> Option<String> {
    name.0.last().map(|p| match p.as_ident() {
        Some(i) => i.value.to_lowercase(),
        None => p.to_string().to_lowercase(),
    })
}

/// A [`Policy`] bound to a user and to the catalogs of the connections it applies to: what the
/// guard enforces during one run (or one `query`).
#[derive(Debug, Clone, Default)]
pub struct BoundPolicy {
    pub(crate) connections: BTreeMap<String, Arc<ConnectionPolicy>>,
    pub(crate) user: Option<String>,
    pub(crate) policy: Policy,
}

impl BoundPolicy {
    /// Binds `policy` to `user` and the catalogs (`(connection, its tables)`). Fails with
    /// [`Error::Policy`] on a rule naming an unknown table or column, a template that does not
    /// parse or refers to something but the table's own columns, or a placeholder the user's
    /// attributes do not supply.
    pub fn bind(
        policy: &Policy,
        user: Option<&UserContext>,
        catalogs: &[(ConnectorInfo, Vec<TableSchema>)],
    ) -> Result<Self> {
        let mut connections = BTreeMap::new();
        let mut found: Vec<bool> = vec![false; policy.tables.len()];
        for (info, schemas) in catalogs {
            let cp = bind_connection(policy, user, info, schemas, &mut found)?;
            connections.insert(info.name.clone(), Arc::new(cp));
        }
        for ((name, _), seen) in policy.tables.iter().zip(&found) {
            if !seen {
                let known: Vec<String> = catalogs
                    .iter()
                    .flat_map(|(_, s)| s.iter().map(|t| t.table.to_string()))
                    .take(30)
                    .collect();
                return Err(policy_error(format!(
                    "the policy names table `{name}`, which no connection has (tables: {})",
                    known.join(", ")
                )));
            }
        }
        if policy.is_row_level() {
            for name in policy
                .denied_tables
                .iter()
                .chain(policy.allowed_tables.iter().flatten())
            {
                let parts = name_parts(name);
                let exists = catalogs.iter().any(|(_, s)| {
                    s.iter()
                        .any(|t| names_match(&parts, &schema_parts(&t.table)))
                });
                if !exists {
                    return Err(policy_error(format!(
                        "the policy lists table `{name}`, which no connection has"
                    )));
                }
            }
        }
        Ok(Self {
            connections,
            user: user.map(|u| u.id.clone()),
            policy: policy.clone(),
        })
    }

    /// The policy as resolved for the user.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The user it is bound to.
    pub fn user_id(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether row filters or column rules are in force (the guard is then strict).
    pub fn is_row_level(&self) -> bool {
        self.policy.is_row_level()
    }

    /// Columns of `table` (any case, bare or qualified) the user may not see on `connection`.
    pub fn denied_columns(&self, connection: &str, table: &str) -> Vec<String> {
        self.table(connection, table)
            .map(|t| t.denied.clone())
            .unwrap_or_default()
    }

    /// Whether `table` has a row filter or masks on `connection` (its sample values would show
    /// other users' rows or masked values).
    pub fn restricts_rows_or_values(&self, connection: &str, table: &str) -> bool {
        self.table(connection, table).is_some_and(|t| {
            t.filter.is_some()
                || t.columns
                    .iter()
                    .any(|c| matches!(c, BoundColumn::Masked(..)))
        })
    }

    /// Whether `table` may be read at all on `connection` (allow/deny lists and views).
    pub fn table_visible(&self, connection: &str, table: &str) -> bool {
        let parts = name_parts(table);
        if self
            .policy
            .denied_tables
            .iter()
            .any(|d| names_match(&name_parts(d), &parts))
        {
            return false;
        }
        if let Some(allowed) = &self.policy.allowed_tables
            && !allowed.iter().any(|a| names_match(&name_parts(a), &parts))
        {
            return false;
        }
        match self.connections.get(connection) {
            Some(cp) => !cp.denied_views.iter().any(|v| names_match(v, &parts)),
            None => true,
        }
    }

    fn table(&self, connection: &str, table: &str) -> Option<&BoundTable> {
        let cp = self.connections.get(connection)?;
        let bare = name_parts(table).pop()?;
        cp.tables.iter().find(|t| t.bare == bare)
    }

    pub(crate) fn connection(&self, name: Option<&str>) -> Option<&Arc<ConnectionPolicy>> {
        match name {
            Some(n) => self.connections.get(n),
            None if self.connections.len() == 1 => self.connections.values().next(),
            None => None,
        }
    }
}

fn schema_parts(t: &crate::connector::TableRef) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(s) = &t.schema {
        parts.extend(s.split('.').map(str::to_lowercase));
    }
    parts.push(t.name.to_lowercase());
    parts
}

fn quote_for(dialect: Dialect) -> char {
    match dialect {
        Dialect::MySql | Dialect::BigQuery => '`',
        _ => '"',
    }
}

fn bind_connection(
    policy: &Policy,
    user: Option<&UserContext>,
    info: &ConnectorInfo,
    schemas: &[TableSchema],
    found: &mut [bool],
) -> Result<ConnectionPolicy> {
    let dialect = info.dialect;
    let quote = quote_for(dialect);
    let mut tables = Vec::new();
    for (i, (name, rule)) in policy.tables.iter().enumerate() {
        let parts = name_parts(name);
        let matches: Vec<&TableSchema> = schemas
            .iter()
            .filter(|s| names_match(&parts, &schema_parts(&s.table)))
            .collect();
        let schema = match matches.as_slice() {
            [] => continue,
            [one] => *one,
            many => {
                return Err(policy_error(format!(
                    "the policy's table `{name}` matches {} tables on `{}` ({}); qualify it",
                    many.len(),
                    info.name,
                    many.iter()
                        .map(|s| s.table.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        found[i] = true;
        tables.push(bind_table(name, rule, schema, user, dialect, quote)?);
    }
    let named: Vec<Vec<String>> = policy
        .tables
        .keys()
        .chain(policy.allowed_tables.iter().flatten())
        .map(|n| name_parts(n))
        .collect();
    let denied_views = if policy.is_row_level() {
        schemas
            .iter()
            .filter(|s| s.kind == TableKind::View)
            .map(|s| schema_parts(&s.table))
            .filter(|p| !named.iter().any(|n| names_match(n, p)))
            .collect()
    } else {
        Vec::new()
    };
    let columns_by_table = schemas
        .iter()
        .map(|s| {
            (
                s.table.name.to_lowercase(),
                s.columns.iter().map(|c| c.name.to_lowercase()).collect(),
            )
        })
        .collect();
    Ok(ConnectionPolicy {
        dialect,
        tables,
        denied_views,
        columns_by_table,
    })
}

fn bind_table(
    name: &str,
    rule: &TablePolicy,
    schema: &TableSchema,
    user: Option<&UserContext>,
    dialect: Dialect,
    quote: char,
) -> Result<BoundTable> {
    let columns: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
    let lower: Vec<String> = columns.iter().map(|c| c.to_lowercase()).collect();
    let known = |c: &str| lower.contains(&c.to_lowercase());
    let listed = || columns.join(", ");
    for c in rule.denied_columns.iter().chain(rule.masked_columns.keys()) {
        if !known(c) {
            return Err(policy_error(format!(
                "the policy names column `{c}` of `{name}`, which has no such column (columns: {})",
                listed()
            )));
        }
    }
    if let Some(c) = columns
        .iter()
        .find(|c| c.contains(quote) || c.contains('\0'))
    {
        return Err(policy_error(format!(
            "column `{c}` of `{name}` contains `{quote}`; the policy cannot name it safely"
        )));
    }
    let denied: Vec<String> = rule
        .denied_columns
        .iter()
        .map(|c| c.to_lowercase())
        .collect();
    let mut bound_columns = Vec::new();
    let mut masked_names = Vec::new();
    for c in &columns {
        let lc = c.to_lowercase();
        if denied.contains(&lc) {
            continue;
        }
        match rule
            .masked_columns
            .iter()
            .find(|(k, _)| k.to_lowercase() == lc)
        {
            Some((_, template)) => {
                let expr = bind_template(template, &lower, user, dialect)
                    .map_err(|e| policy_error(format!("the mask of `{name}.{c}`: {e}")))?;
                masked_names.push(c.to_string());
                bound_columns.push(BoundColumn::Masked((*c).to_string(), Box::new(expr)));
            }
            None => bound_columns.push(BoundColumn::Plain((*c).to_string())),
        }
    }
    if bound_columns.is_empty() {
        return Err(policy_error(format!(
            "the policy denies every column of `{name}`; deny the table instead"
        )));
    }
    let filter = match &rule.row_filter {
        Some(t) => Some(
            bind_template(t, &lower, user, dialect)
                .map_err(|e| policy_error(format!("the row filter of `{name}`: {e}")))?,
        ),
        None => None,
    };
    let mut summary = vec![format!(
        "{}{}",
        schema.table,
        if filter.is_some() {
            ": rows filtered"
        } else {
            ""
        }
    )];
    summary.extend(rule.denied_columns.iter().map(|c| format!("-{c}")));
    summary.extend(masked_names.iter().map(|c| format!("~{c}")));
    let skeleton =
        skeleton(&bound_columns, filter.as_ref(), dialect, quote).map_err(policy_error)?;
    Ok(BoundTable {
        display: schema.table.to_string(),
        bare: schema.table.name.to_lowercase(),
        columns: bound_columns,
        denied,
        filter,
        summary: summary.join(" "),
        skeleton: Box::new(skeleton),
    })
}

/// Parses `template` as one expression in `dialect`, checks it refers only to `columns`
/// (lower-cased) and holds no subquery, and binds its `:name` placeholders to `user`'s
/// attributes as typed literals.
fn bind_template(
    template: &str,
    columns: &[String],
    user: Option<&UserContext>,
    dialect: Dialect,
) -> std::result::Result<Expr, String> {
    let d = dialect_of(dialect);
    let mut parser = Parser::new(d.as_ref())
        .try_with_sql(template)
        .map_err(|e| format!("`{template}` does not parse: {e}"))?;
    let mut expr = parser
        .parse_expr()
        .map_err(|e| format!("`{template}` does not parse as an expression: {e}"))?;
    if parser.peek_token().token != sqlparser::tokenizer::Token::EOF {
        return Err(format!(
            "`{template}` has text after the expression; write one predicate"
        ));
    }
    struct Check<'a> {
        columns: &'a [String],
    }
    impl Visitor for Check<'_> {
        type Break = String;
        fn pre_visit_query(&mut self, _q: &Query) -> ControlFlow<String> {
            ControlFlow::Break("subqueries are not allowed in a policy template".into())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<String> {
            match e {
                Expr::Identifier(i) if !self.columns.contains(&i.value.to_lowercase()) => {
                    ControlFlow::Break(format!(
                        "`{}` is not a column of the table (columns: {})",
                        i.value,
                        self.columns.join(", ")
                    ))
                }
                Expr::CompoundIdentifier(parts) => ControlFlow::Break(format!(
                    "`{}`: name the table's columns unqualified",
                    parts
                        .iter()
                        .map(|p| p.value.as_str())
                        .collect::<Vec<_>>()
                        .join(".")
                )),
                Expr::Value(v) => match &v.value {
                    Value::Placeholder(p) if !p.starts_with(':') || p.len() < 2 => {
                        ControlFlow::Break(format!(
                            "placeholder `{p}`: use named placeholders like `:tenant_id`"
                        ))
                    }
                    _ => ControlFlow::Continue(()),
                },
                _ => ControlFlow::Continue(()),
            }
        }
    }
    if let ControlFlow::Break(e) = Visit::visit(&expr, &mut Check { columns }) {
        return Err(e);
    }
    let deny = super::deny::denied_functions(dialect);
    let mut bad_fn = None;
    let _ = sqlparser::ast::visit_expressions(&expr, |e| {
        if let Expr::Function(f) = e
            && let Some(last) = f.name.0.last().and_then(|p| p.as_ident())
            && super::deny::denied_by(&deny, dialect, &last.value)
        {
            bad_fn = Some(f.name.to_string());
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    if let Some(f) = bad_fn {
        return Err(format!("function `{f}` is not allowed"));
    }
    let mut binder = Binder { user, error: None };
    let _ = VisitMut::visit(&mut expr, &mut binder);
    if let Some(e) = binder.error {
        return Err(e);
    }
    // What the rewrite prints must read back the same in the dialect (a string with a
    // backslash on MySQL would not): refuse it here, with the reason.
    let printed = expr.to_string();
    let again = Parser::new(d.as_ref())
        .try_with_sql(&printed)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| format!("the bound filter `{printed}` does not parse back: {e}"))?;
    if again != expr {
        return Err(format!(
            "the bound filter `{printed}` reads differently in {}; check the attribute values",
            dialect.display_name()
        ));
    }
    Ok(expr)
}

/// Replaces `:name` placeholders by typed literals from the user's attributes.
struct Binder<'a> {
    user: Option<&'a UserContext>,
    error: Option<String>,
}

impl Binder<'_> {
    fn attribute(&mut self, placeholder: &str) -> Option<&serde_json::Value> {
        let key = placeholder.trim_start_matches(':');
        let found = self.user.and_then(|u| u.attributes.get(key));
        if found.is_none() && self.error.is_none() {
            self.error = Some(match self.user {
                Some(u) => format!(
                    "user `{}` has no attribute `{key}` (attributes: {})",
                    u.id,
                    u.attributes.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                None => {
                    format!("it needs the user's attribute `{key}`, but the request names no user")
                }
            });
        }
        found
    }
}

/// A JSON scalar as a literal expression.
fn literal(value: &serde_json::Value) -> std::result::Result<Expr, String> {
    let v = match value {
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => {
            let text = n.to_string();
            if let Some(abs) = text.strip_prefix('-') {
                return Ok(Expr::UnaryOp {
                    op: UnaryOperator::Minus,
                    expr: Box::new(Expr::Value(
                        Value::Number(abs.to_string(), false).with_empty_span(),
                    )),
                });
            }
            Value::Number(text, false)
        }
        serde_json::Value::String(s) => {
            if s.contains('\0') {
                return Err("an attribute value contains a NUL character".into());
            }
            Value::SingleQuotedString(s.clone())
        }
        serde_json::Value::Null => {
            return Err("an attribute is null; give it a value".into());
        }
        other => {
            return Err(format!(
                "attribute value {other} is not a number, string or boolean"
            ));
        }
    };
    Ok(Expr::Value(v.with_empty_span()))
}

fn placeholder_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => Some(p.as_str()),
            _ => None,
        },
        _ => None,
    }
}

impl VisitorMut for Binder<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.error.is_some() {
            return ControlFlow::Break(());
        }
        // `col IN (:list)` with a list attribute: one literal per element.
        if let Expr::InList { list, .. } = expr
            && let [only] = list.as_slice()
            && let Some(p) = placeholder_name(only).map(str::to_string)
        {
            let Some(value) = self.attribute(&p).cloned() else {
                return ControlFlow::Break(());
            };
            let items = match &value {
                serde_json::Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            if items.is_empty() {
                self.error = Some(format!(
                    "attribute `{}` is an empty list; the filter would match nothing",
                    p.trim_start_matches(':')
                ));
                return ControlFlow::Break(());
            }
            let mut out = Vec::new();
            for item in &items {
                match literal(item) {
                    Ok(e) => out.push(e),
                    Err(e) => {
                        self.error = Some(e);
                        return ControlFlow::Break(());
                    }
                }
            }
            *list = out;
            return ControlFlow::Continue(());
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.error.is_some() {
            return ControlFlow::Break(());
        }
        if let Some(p) = placeholder_name(expr).map(str::to_string) {
            let Some(value) = self.attribute(&p).cloned() else {
                return ControlFlow::Break(());
            };
            if value.is_array() {
                self.error = Some(format!(
                    "attribute `{}` is a list; use it as `column IN ({p})`",
                    p.trim_start_matches(':')
                ));
                return ControlFlow::Break(());
            }
            match literal(&value) {
                Ok(e) => *expr = Expr::Nested(Box::new(e)),
                Err(e) => {
                    self.error = Some(e);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The query of the derived tables that replace references to `table`, with a placeholder
/// `FROM` (see [`derived_query`]).
fn skeleton(
    columns: &[BoundColumn],
    filter: Option<&Expr>,
    dialect: Dialect,
    quote: char,
) -> std::result::Result<Query, String> {
    let text = "SELECT 1 FROM mc_policy_base LIMIT 9223372036854775807";
    let mut statements = Parser::parse_sql(dialect_of(dialect).as_ref(), text)
        .map_err(|e| format!("internal: the policy skeleton does not parse: {e}"))?;
    let Some(Statement::Query(mut query)) = statements.pop() else {
        return Err("internal: the policy skeleton is not a query".into());
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err("internal: the policy skeleton is not a SELECT".into());
    };
    select.projection = columns
        .iter()
        .map(|c| match c {
            BoundColumn::Plain(name) => {
                SelectItem::UnnamedExpr(Expr::Identifier(Ident::with_quote(quote, name)))
            }
            BoundColumn::Masked(name, expr) => SelectItem::ExprWithAlias {
                expr: Expr::Nested(expr.clone()),
                alias: Ident::with_quote(quote, name),
            },
        })
        .collect();
    select.selection = filter.map(|f| Expr::Nested(Box::new(f.clone())));
    if select.from.len() != 1 {
        return Err("internal: the policy skeleton has no FROM".into());
    }
    Ok(*query)
}

/// The derived table that replaces a reference to `table`: `inner` (the reference without its
/// alias) filtered and column-restricted.
pub(crate) fn derived_query(table: &BoundTable, inner: TableFactor) -> Query {
    let mut query = (*table.skeleton).clone();
    if let SetExpr::Select(select) = query.body.as_mut()
        && let Some(from) = select.from.first_mut()
    {
        from.relation = inner;
    }
    query
}

impl Policy {
    /// Whether the policy has row filters or column rules (the guard is strict under it).
    pub fn is_row_level(&self) -> bool {
        !self.tables.is_empty()
    }

    /// Adds a rule for `table`.
    pub fn table(mut self, table: impl Into<String>, rule: TablePolicy) -> Self {
        self.tables.insert(table.into(), rule);
        self
    }

    /// Allows only these tables.
    pub fn allow_tables<I, S>(mut self, tables: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_tables = Some(tables.into_iter().map(Into::into).collect());
        self
    }

    /// Denies a table.
    pub fn deny_table(mut self, table: impl Into<String>) -> Self {
        self.denied_tables.push(table.into());
        self
    }
}

/// A name as lower-cased parts, split on dots inside quoted parts too.
pub(crate) fn relation_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .flat_map(|p| {
            let v = match p.as_ident() {
                Some(i) => i.value.to_lowercase(),
                None => p.to_string().to_lowercase(),
            };
            v.split('.').map(str::to_string).collect::<Vec<_>>()
        })
        .collect()
}
