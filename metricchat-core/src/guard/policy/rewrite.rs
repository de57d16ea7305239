//! Enforcing a [`ConnectionPolicy`] on one parsed query: the strict checks, then the rewrite of
//! every protected table reference into a filtered, column-restricted derived table, then a
//! count that proves no reference was missed.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, ObjectName, Query, SetExpr, Statement, TableAlias, TableFactor, Visit, VisitMut,
    Visitor, VisitorMut,
};

use super::{ConnectionPolicy, derived_query, last_part, relation_parts};
use crate::connector::Dialect;

/// What the rewrite did.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rewritten {
    /// How many references were replaced.
    pub replaced: usize,
    /// The rules applied, once each (`orders: rows filtered -ssn ~email`).
    pub applied: Vec<String>,
}

/// Schemas whose relations describe the database rather than hold its data.
const SYSTEM_SCHEMAS: &[&str] = &[
    "information_schema",
    "pg_catalog",
    "pg_toast",
    "mysql",
    "performance_schema",
    "sys",
];

/// Relation name prefixes that are system catalogs or views over them.
const SYSTEM_PREFIXES: &[&str] = &["pg_", "sqlite_", "pragma_"];

/// Functions refused under a row-level policy (beyond the dialect's denied list): catalog,
/// statistics and privilege helpers that describe other users' data or the policy's tables.
const STRICT_FUNCTIONS: &[&str] = &[
    "pg_*",
    "has_*",
    "to_reg*",
    "*_description",
    "row_security_active",
    "current_query",
];

/// `pg_*` helpers that only look at their argument.
const STRICT_ALLOWED: &[&str] = &[
    "pg_typeof",
    "pg_size_pretty",
    "pg_size_bytes",
    "pg_column_size",
];

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, suffix)) => {
            name.len() >= prefix.len() + suffix.len()
                && name.starts_with(prefix)
                && name.ends_with(suffix)
        }
    }
}

fn strict_function_denied(dialect: Dialect, name: &str) -> bool {
    let lower = name.to_lowercase();
    if STRICT_ALLOWED.contains(&lower.as_str()) {
        return false;
    }
    match dialect {
        Dialect::Postgres | Dialect::Redshift | Dialect::Generic => {
            STRICT_FUNCTIONS.iter().any(|p| matches(p, &lower))
        }
        _ => false,
    }
}

/// Applies `cp` to `statement` (a query): refuses what a row-level policy cannot allow, or
/// rewrites every protected reference. `Err` is the refusal reason.
pub(crate) fn rewrite(
    statement: &mut Statement,
    cp: &ConnectionPolicy,
) -> Result<Rewritten, String> {
    if !matches!(statement, Statement::Query(_)) {
        return Err(
            "only SELECT queries may run while a data policy is in force (no EXPLAIN, SHOW, \
             DESCRIBE or PRAGMA); use describe_tables to see the columns you may read"
                .into(),
        );
    }
    let mut check = Check {
        cp,
        referenced: BTreeSet::new(),
        identifiers: BTreeSet::new(),
    };
    if let ControlFlow::Break(reason) = Visit::visit(&*statement, &mut check) {
        return Err(reason);
    }
    check.denied_column()?;

    let mut rewriter = Rewriter {
        cp,
        out: Rewritten::default(),
    };
    if let ControlFlow::Break(reason) = VisitMut::visit(statement, &mut rewriter) {
        return Err(reason);
    }
    // Every reference to a protected table left in the statement must be the inner reference
    // of a derived table the rewrite made: one per replacement.
    let mut count = Count { cp, n: 0 };
    let _ = Visit::visit(&*statement, &mut count);
    if count.n != rewriter.out.replaced {
        return Err(
            "a protected table is referenced in a way the data policy cannot rewrite; read it \
             with a plain SELECT … FROM table"
                .into(),
        );
    }
    Ok(rewriter.out)
}

/// The strict checks, and what the statement reads.
struct Check<'a> {
    cp: &'a ConnectionPolicy,
    /// Bare names of catalog tables the statement reads.
    referenced: BTreeSet<String>,
    /// Last parts of column references, lower-cased.
    identifiers: BTreeSet<String>,
}

impl Check<'_> {
    /// A reference to a denied column of a table the statement reads gets a reason instead of
    /// the engine's unknown-column error, unless another table it reads has such a column.
    fn denied_column(&self) -> Result<(), String> {
        for t in &self.cp.tables {
            if !self.referenced.contains(&t.bare) {
                continue;
            }
            for d in &t.denied {
                if !self.identifiers.contains(d) {
                    continue;
                }
                let elsewhere = self.referenced.iter().any(|r| {
                    match self.cp.tables.iter().find(|x| &x.bare == r) {
                        Some(bt) => bt.columns.iter().any(|c| match c {
                            super::BoundColumn::Plain(n) | super::BoundColumn::Masked(n, _) => {
                                n.to_lowercase() == *d
                            }
                        }),
                        None => self
                            .cp
                            .columns_by_table
                            .get(r)
                            .is_some_and(|cols| cols.contains(d)),
                    }
                });
                if !elsewhere {
                    return Err(format!(
                        "column `{d}` of `{}` is not available to this user. Leave it out",
                        t.display
                    ));
                }
            }
        }
        Ok(())
    }
}

fn system_relation(parts: &[String]) -> bool {
    let Some(last) = parts.last() else {
        return false;
    };
    parts
        .iter()
        .take(parts.len().saturating_sub(1))
        .any(|p| SYSTEM_SCHEMAS.contains(&p.as_str()))
        || SYSTEM_PREFIXES.iter().any(|p| last.starts_with(p))
        || SYSTEM_SCHEMAS.contains(&last.as_str())
}

impl Visitor for Check<'_> {
    type Break = String;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<String> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                let name = cte.alias.name.value.to_lowercase();
                if self.cp.tables.iter().any(|t| t.bare == name)
                    || self.cp.columns_by_table.contains_key(&name)
                {
                    return ControlFlow::Break(format!(
                        "the CTE name `{}` is the name of a table; while a data policy is in \
                         force give CTEs names of their own",
                        cte.alias.name.value
                    ));
                }
            }
        }
        if has_table_body(&query.body) {
            return ControlFlow::Break(
                "`TABLE name` is not supported while a data policy is in force; write \
                 SELECT * FROM name"
                    .into(),
            );
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<String> {
        match factor {
            TableFactor::Table {
                args: Some(_),
                name,
                ..
            }
            | TableFactor::Function { name, .. } => ControlFlow::Break(format!(
                "table function `{name}` is not allowed while a data policy is in force; \
                     read the tables directly"
            )),
            TableFactor::TableFunction { .. } => ControlFlow::Break(
                "TABLE(…) is not allowed while a data policy is in force; read the tables \
                 directly"
                    .into(),
            ),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<String> {
        let parts = relation_parts(relation);
        if system_relation(&parts) {
            return ControlFlow::Break(format!(
                "`{relation}` is a system catalog; while a data policy is in force only the data \
                 tables may be read (use describe_tables for the schema)"
            ));
        }
        if self
            .cp
            .denied_views
            .iter()
            .any(|v| super::names_match(v, &parts))
        {
            return ControlFlow::Break(format!(
                "view `{relation}` is not available to this user. Read the tables instead"
            ));
        }
        if let Some(last) = last_part(relation) {
            self.referenced.insert(last);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<String> {
        match expr {
            Expr::Identifier(i) => {
                self.identifiers.insert(i.value.to_lowercase());
            }
            Expr::CompoundIdentifier(parts) => {
                if let Some(p) = parts.last() {
                    self.identifiers.insert(p.value.to_lowercase());
                }
            }
            Expr::Function(f) => {
                if let Some(last) = f.name.0.last().and_then(|p| p.as_ident())
                    && strict_function_denied(self.cp.dialect, &last.value)
                {
                    return ControlFlow::Break(format!(
                        "function `{}` describes the database rather than this user's data and \
                         is not allowed while a data policy is in force",
                        f.name
                    ));
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn has_table_body(body: &SetExpr) -> bool {
    match body {
        SetExpr::Table(_) => true,
        SetExpr::SetOperation { left, right, .. } => has_table_body(left) || has_table_body(right),
        _ => false,
    }
}

/// Replaces each protected reference (after its children are visited, so the new derived
/// table is not visited again).
struct Rewriter<'a> {
    cp: &'a ConnectionPolicy,
    out: Rewritten,
}

impl VisitorMut for Rewriter<'_> {
    type Break = String;

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<String> {
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let Some(table) = self.cp.table_for(name) else {
            return ControlFlow::Continue(());
        };
        let outer_alias = match alias.take() {
            Some(a) => a,
            None => TableAlias {
                explicit: true,
                name: alias_for(name),
                columns: Vec::new(),
                at: None,
            },
        };
        let inner = factor.clone();
        let query = derived_query(table, inner);
        *factor = TableFactor::Derived {
            lateral: false,
            subquery: Box::new(query),
            alias: Some(outer_alias),
            sample: None,
        };
        self.out.replaced += 1;
        if !self.out.applied.contains(&table.summary) {
            self.out.applied.push(table.summary.clone());
        }
        ControlFlow::Continue(())
    }
}

/// The alias a reference without one is known by: its last part, quoted as written.
fn alias_for(name: &ObjectName) -> Ident {
    match name.0.last().and_then(|p| p.as_ident()) {
        Some(i) => i.clone(),
        None => Ident::new(last_part(name).unwrap_or_default()),
    }
}

/// Counts references to protected tables.
struct Count<'a> {
    cp: &'a ConnectionPolicy,
    n: usize,
}

impl Visitor for Count<'_> {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        if self.cp.table_for(relation).is_some() {
            self.n += 1;
        }
        ControlFlow::Continue(())
    }
}
