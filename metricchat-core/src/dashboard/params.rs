//! Parameters bound into SQL as typed literals, never by pasting text: the SQL is parsed with
//! sqlparser in the connection's dialect, each `:name` placeholder in the tree is replaced by a
//! literal of the parameter's type (a quoted string is escaped by sqlparser's printer), and the
//! tree is printed back. The result then passes the guard like any other SQL.

use std::ops::ControlFlow;

use chrono::NaiveDate;
use sqlparser::ast::{Expr, Value, visit_expressions, visit_expressions_mut};
use sqlparser::parser::Parser;

use super::{Parameter, ParameterType, invalid};
use crate::connector::Dialect;
use crate::error::{Error, Result};

/// The placeholder names (without `:`) in `sql`, in order, each once.
fn placeholders(block: &str, sql: &str, dialect: Dialect) -> Result<Vec<String>> {
    if !sql.contains(':') {
        return Ok(Vec::new());
    }
    let statements = Parser::parse_sql(crate::guard::dialect_of(dialect).as_ref(), sql)
        .map_err(|e| invalid(Some(block), format!("its SQL does not parse: {e}")))?;
    let mut names = Vec::new();
    let _ = visit_expressions(&statements, |expr| {
        if let Expr::Value(v) = expr
            && let sqlparser::ast::Value::Placeholder(p) = &v.value
            && let Some(name) = p.strip_prefix(':')
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_string());
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(names)
}

/// The names a parameter binds: `name`, or `name_start` and `name_end` for a date range.
fn bound_names(p: &Parameter) -> Vec<String> {
    match p.kind {
        ParameterType::DateRange => vec![format!("{}_start", p.name), format!("{}_end", p.name)],
        _ => vec![p.name.clone()],
    }
}

/// Checks that every placeholder in a block's SQL has a parameter (the SQL is parsed in the
/// generic dialect here; the connection's dialect is used when binding).
pub(super) fn placeholders_bound(block: &str, sql: &str, params: &[Parameter]) -> Result<()> {
    let Ok(names) = placeholders(block, sql, Dialect::Generic) else {
        // Dialect-specific syntax: checked when bound in the connection's dialect.
        return Ok(());
    };
    for name in names {
        if !params.iter().any(|p| bound_names(p).contains(&name)) {
            return Err(invalid(
                Some(block),
                format!("its SQL uses `:{name}`, but the dashboard has no such parameter"),
            ));
        }
    }
    Ok(())
}

/// Checks names and values of all parameters.
pub(super) fn validate_parameters(params: &[Parameter]) -> Result<()> {
    for (i, p) in params.iter().enumerate() {
        let ok_name = !p.name.is_empty()
            && p.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !p.name.starts_with(|c: char| c.is_ascii_digit());
        if !ok_name {
            return Err(invalid(
                None,
                format!(
                    "parameter name {:?} must be letters, digits and `_`, not starting with a digit",
                    p.name
                ),
            ));
        }
        if params[..i].iter().any(|q| q.name == p.name) {
            return Err(invalid(
                None,
                format!("two parameters are named `{}`", p.name),
            ));
        }
        if !p.value.is_null() {
            check_value(p.kind, &p.name, &p.value)?;
        }
    }
    Ok(())
}

fn date(name: &str, v: Option<&serde_json::Value>) -> Result<NaiveDate> {
    v.and_then(|v| v.as_str())
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .ok_or_else(|| {
            invalid(
                None,
                format!(
                    "parameter `{name}` takes a date \"YYYY-MM-DD\", got {}",
                    v.map_or_else(|| "nothing".to_string(), |v| v.to_string())
                ),
            )
        })
}

/// Checks `value` against `kind` ([`Error::Dashboard`] naming parameter `name`).
pub(super) fn check_value(
    kind: ParameterType,
    name: &str,
    value: &serde_json::Value,
) -> Result<()> {
    let wrong = |what: &str| {
        invalid(
            None,
            format!("parameter `{name}` takes {what}, got {value}"),
        )
    };
    match kind {
        ParameterType::Text if value.is_string() => Ok(()),
        ParameterType::Text => Err(wrong("a string")),
        ParameterType::Number if value.as_f64().is_some_and(f64::is_finite) => Ok(()),
        ParameterType::Number => Err(wrong("a number")),
        ParameterType::Integer if value.is_i64() => Ok(()),
        ParameterType::Integer => Err(wrong("a whole number")),
        ParameterType::Date => date(name, Some(value)).map(drop),
        ParameterType::DateRange => {
            let start = date(name, value.get("start"))?;
            let end = date(name, value.get("end"))?;
            if value.as_object().is_some_and(|o| o.len() != 2) {
                return Err(wrong("an object with exactly `start` and `end`"));
            }
            if end < start {
                return Err(invalid(
                    None,
                    format!("parameter `{name}`: end {end} is before start {start}"),
                ));
            }
            Ok(())
        }
    }
}

/// The literal a bound name stands for.
fn literal(p: &Parameter, bound: &str) -> Option<Value> {
    let v = match p.kind {
        ParameterType::DateRange => {
            let key = if bound.ends_with("_start") {
                "start"
            } else {
                "end"
            };
            p.value.get(key)?
        }
        _ => &p.value,
    };
    match p.kind {
        ParameterType::Text | ParameterType::Date | ParameterType::DateRange => {
            Some(Value::SingleQuotedString(v.as_str()?.to_string()))
        }
        ParameterType::Number | ParameterType::Integer => {
            let n = v.as_number()?.to_string();
            Some(Value::Number(n.parse().ok()?, false))
        }
    }
}

/// `sql` with every `:name` placeholder replaced by the typed literal of its parameter, parsed
/// and printed in `dialect`. SQL without placeholders comes back unchanged. Errors name
/// `block`: a placeholder without a parameter, a parameter without a value, SQL that does not
/// parse.
pub fn bind_parameters(
    block: &str,
    sql: &str,
    dialect: Dialect,
    params: &[Parameter],
) -> Result<String> {
    let names = placeholders(block, sql, dialect)?;
    if names.is_empty() {
        return Ok(sql.to_string());
    }
    let mut statements = Parser::parse_sql(crate::guard::dialect_of(dialect).as_ref(), sql)
        .map_err(|e| invalid(Some(block), format!("its SQL does not parse: {e}")))?;
    let mut failure: Option<Error> = None;
    let _ = visit_expressions_mut(&mut statements, |expr| {
        let name = match expr {
            Expr::Value(v) => match &v.value {
                Value::Placeholder(p) => p.strip_prefix(':').map(str::to_string),
                _ => None,
            },
            _ => None,
        };
        let Some(name) = name else {
            return ControlFlow::Continue(());
        };
        let Some(p) = params.iter().find(|p| bound_names(p).contains(&name)) else {
            failure = Some(invalid(
                Some(block),
                format!("its SQL uses `:{name}`, but the dashboard has no such parameter"),
            ));
            return ControlFlow::Break(());
        };
        if p.value.is_null() {
            failure = Some(invalid(
                Some(block),
                format!("parameter `{}` has no value", p.name),
            ));
            return ControlFlow::Break(());
        }
        match literal(p, &name) {
            Some(lit) => {
                *expr = Expr::value(lit);
                ControlFlow::Continue(())
            }
            None => {
                failure = Some(invalid(
                    Some(block),
                    format!("parameter `{}` has a value of the wrong type", p.name),
                ));
                ControlFlow::Break(())
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; "))
}
