//! The row cap: the outermost query returns at most `cap` rows.

use sqlparser::ast::{Expr, LimitClause, Query, SetExpr, Value};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// What the cap needs done to a query.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Capped {
    /// Its own limit is already within the cap.
    Unchanged,
    /// It has no limit at the end: append `LIMIT cap` to the text.
    Append,
    /// Its AST was changed in place (limit lowered or added); print it again.
    Rewritten,
    /// Its limit cannot be judged or edited (an expression, `TOP`, `FETCH … PERCENT`, pipe
    /// syntax): wrap it as `SELECT * FROM (…) AS mc_capped LIMIT cap`.
    Wrap,
}

/// Applies `cap` to the outermost `query` (a set operation's limit already covers the whole
/// operation, so `UNION` needs nothing special).
pub(super) fn cap_query(query: &mut Query, cap: u64) -> Capped {
    if !query.pipe_operators.is_empty() {
        return Capped::Wrap;
    }
    if let SetExpr::Select(select) = &*query.body
        && select.top.is_some()
    {
        return Capped::Wrap;
    }
    // A bare `VALUES` list takes no `LIMIT` on SQLite (and older MySQL): wrap it.
    if matches!(&*query.body, SetExpr::Values(_)) && query.limit_clause.is_none() {
        return Capped::Wrap;
    }
    let Some(cap_expr) = number(cap) else {
        return Capped::Wrap;
    };
    let mut changed = false;
    if let Some(fetch) = &mut query.fetch {
        if fetch.percent || fetch.with_ties {
            return Capped::Wrap;
        }
        if let Some(quantity) = &mut fetch.quantity {
            match literal(quantity) {
                Some(n) if n <= cap => {}
                Some(_) => {
                    *quantity = cap_expr.clone();
                    changed = true;
                }
                None => return Capped::Wrap,
            }
        }
    }
    match &mut query.limit_clause {
        None if query.fetch.is_some() => {}
        None => return Capped::Append,
        Some(LimitClause::LimitOffset {
            limit, limit_by, ..
        }) => {
            // ClickHouse `LIMIT n BY x` limits rows per group, not in total.
            if !limit_by.is_empty() {
                return Capped::Wrap;
            }
            match limit {
                None if query.fetch.is_some() => {}
                None => {
                    *limit = Some(cap_expr);
                    changed = true;
                }
                Some(expr) => match literal(expr) {
                    Some(n) if n <= cap => {}
                    Some(_) => {
                        *expr = cap_expr;
                        changed = true;
                    }
                    None => return Capped::Wrap,
                },
            }
        }
        Some(LimitClause::OffsetCommaLimit { limit, .. }) => match literal(limit) {
            Some(n) if n <= cap => {}
            Some(_) => {
                *limit = cap_expr;
                changed = true;
            }
            None => return Capped::Wrap,
        },
    }
    if changed {
        Capped::Rewritten
    } else {
        Capped::Unchanged
    }
}

/// `sql` wrapped so that at most `cap` rows come out. Newlines keep a trailing `--` comment in
/// `sql` from swallowing the wrapper.
pub(super) fn wrap(sql: &str, cap: u64) -> String {
    format!("SELECT * FROM (\n{sql}\n) AS mc_capped LIMIT {cap}")
}

/// The value of an unsigned integer literal.
fn literal(expr: &Expr) -> Option<u64> {
    match expr {
        Expr::Value(v) if matches!(v.value, Value::Number(..)) => v.value.to_string().parse().ok(),
        Expr::Nested(inner) => literal(inner),
        _ => None,
    }
}

/// `n` as a number literal (parsed, so it works with and without sqlparser's `bigdecimal`).
fn number(n: u64) -> Option<Expr> {
    Parser::new(&GenericDialect {})
        .try_with_sql(&n.to_string())
        .ok()?
        .parse_expr()
        .ok()
}
