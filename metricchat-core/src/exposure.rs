//! What the model may see of the data (issue 15): [`DataExposure`], which results count as
//! aggregates, and the notes the model gets instead of withheld values. A leaf module (the
//! prompts, the run and the agent build on it); the answer template the host fills from a run's
//! datasets is `run::exposure`.
//!
//! The host is trusted: events, the stored run and [`AskResult`](crate::agent::AskResult) always carry
//! the full data. Only what goes into model requests changes.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, ObjectNamePart, SelectItem,
    SetExpr, Statement,
};

use crate::connector::Dialect;
use crate::data::ColumnMeta;

/// Rows an aggregate result may have and still be shown under [`DataExposure::Aggregates`]
/// when the setting names no `max_rows`.
pub const DEFAULT_AGGREGATE_ROWS: usize = 50;

/// What the model may see of query results: per agent ([`AgentConfig::exposure`](
/// crate::agent::AgentConfig::exposure), spec key `exposure`) and per request
/// ([`RunOptions::exposure`](crate::agent::RunOptions::exposure), which overrides the agent's).
///
/// In the spec: `"exposure": "full"`, `"exposure": "schema_only"`, `"exposure": "aggregates"`
/// (at most [`DEFAULT_AGGREGATE_ROWS`] rows) or `"exposure": {"aggregates": {"max_rows": 20}}`.
///
/// ```
/// use metricchat_core::agent::DataExposure;
///
/// let e: DataExposure = serde_json::from_str(r#"{"aggregates": {"max_rows": 20}}"#)?;
/// assert_eq!(e, DataExposure::Aggregates { max_rows: 20 });
/// assert_eq!("schema_only".parse::<DataExposure>()?, DataExposure::SchemaOnly);
/// assert!("everything".parse::<DataExposure>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DataExposure {
    /// The model sees result rows, sample values and everything else (the default).
    #[default]
    Full,
    /// The model sees the values of a result only when it is an aggregate with at most
    /// `max_rows` rows: the outermost `SELECT` (each branch of a set operation) has at least one
    /// aggregate function (`COUNT`, `SUM`, `AVG`, `MIN`, `MAX`, statistics; not a window
    /// function, not `ARRAY_AGG` / `STRING_AGG`-like functions that return rows' values) and
    /// every other output column is a `GROUP BY` key or a constant. Other results are withheld
    /// as under [`DataExposure::SchemaOnly`]. Sample values are off.
    Aggregates {
        /// Rows an aggregate result may have and still be shown.
        max_rows: usize,
    },
    /// The model sees column names, types and row counts of results, never values; sample
    /// values are off. It writes the answer with placeholders (`{{q1.total}}`) that the host
    /// fills from the results.
    SchemaOnly,
}

impl DataExposure {
    /// Whether this is [`DataExposure::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full)
    }

    /// Whether the model may see the values of a result of `rows` rows made by `sql`
    /// (as executed, in `dialect`).
    pub fn shows(&self, sql: &str, dialect: Dialect, rows: usize) -> bool {
        match self {
            Self::Full => true,
            Self::SchemaOnly => false,
            Self::Aggregates { max_rows } => rows <= *max_rows && is_aggregate(sql, dialect),
        }
    }

    /// Whether sample values of columns may go into the prompt.
    pub fn shows_samples(&self) -> bool {
        self.is_full()
    }

    /// The setting's name: `full`, `aggregates` or `schema_only`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Aggregates { .. } => "aggregates",
            Self::SchemaOnly => "schema_only",
        }
    }
}

impl fmt::Display for DataExposure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn unknown(name: &str) -> String {
    format!("unknown data exposure `{name}`; expected `full`, `aggregates` or `schema_only`")
}

impl std::str::FromStr for DataExposure {
    type Err = crate::error::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "aggregates" => Ok(Self::Aggregates {
                max_rows: DEFAULT_AGGREGATE_ROWS,
            }),
            "schema_only" => Ok(Self::SchemaOnly),
            _ => Err(crate::error::Error::config("exposure", unknown(s))),
        }
    }
}

impl Serialize for DataExposure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Self::Aggregates { max_rows } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(
                    "aggregates",
                    &AggregateOptions {
                        max_rows: *max_rows,
                    },
                )?;
                m.end()
            }
            other => s.serialize_str(other.name()),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AggregateOptions {
    #[serde(default = "default_rows")]
    max_rows: usize,
}

fn default_rows() -> usize {
    DEFAULT_AGGREGATE_ROWS
}

impl<'de> Deserialize<'de> for DataExposure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DataExposure;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "`full`, `aggregates`, `schema_only` or {\"aggregates\": {\"max_rows\": N}}",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<DataExposure, E> {
                v.parse().map_err(|_| E::custom(unknown(v)))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DataExposure, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(unknown("{}")));
                };
                let out = match key.as_str() {
                    "aggregates" => {
                        let o: Option<AggregateOptions> = map.next_value()?;
                        DataExposure::Aggregates {
                            max_rows: o.map_or(DEFAULT_AGGREGATE_ROWS, |o| o.max_rows),
                        }
                    }
                    "full" | "schema_only" => {
                        map.next_value::<IgnoredAny>()?;
                        key.parse().map_err(|_| de::Error::custom(unknown(&key)))?
                    }
                    other => return Err(de::Error::custom(unknown(other))),
                };
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(
                        "a data exposure map has exactly one key (`aggregates`)",
                    ));
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

// ---- Which results are aggregates.

/// Aggregate functions whose value is a number or one row's value (never a list of rows').
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "mean",
    "min",
    "max",
    "median",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "std",
    "variance",
    "var_pop",
    "var_samp",
    "var",
    "percentile_cont",
    "percentile_disc",
    "approx_percentile_cont",
    "approx_median",
    "approx_distinct",
    "approx_count_distinct",
    "count_if",
    "countif",
    "bool_and",
    "bool_or",
    "every",
    "corr",
    "covar_pop",
    "covar_samp",
    "regr_slope",
    "regr_intercept",
    "regr_r2",
    "regr_count",
];

fn function_name(f: &sqlparser::ast::Function) -> String {
    f.name
        .0
        .last()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => i.value.to_ascii_lowercase(),
            ObjectNamePart::Function(_) => String::new(),
        })
        .unwrap_or_default()
}

/// Whether `sql` (one statement in `dialect`) computes an aggregate: see
/// [`DataExposure::Aggregates`]. Anything that does not parse, or is not understood, is not.
pub fn is_aggregate(sql: &str, dialect: Dialect) -> bool {
    let parsed = sqlparser::parser::Parser::parse_sql(
        crate::guard::dialect_of(dialect).as_ref(),
        sql.trim().trim_end_matches(';'),
    );
    match parsed.as_deref() {
        Ok([Statement::Query(q)]) => set_is_aggregate(&q.body),
        _ => false,
    }
}

fn set_is_aggregate(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(s) => select_is_aggregate(s),
        SetExpr::Query(q) => set_is_aggregate(&q.body),
        SetExpr::SetOperation { left, right, .. } => {
            set_is_aggregate(left) && set_is_aggregate(right)
        }
        _ => false,
    }
}

fn select_is_aggregate(s: &sqlparser::ast::Select) -> bool {
    let items: Vec<(&Expr, Option<&str>)> = s
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) => Some((e, None)),
            SelectItem::ExprWithAlias { expr, alias } => Some((expr, Some(alias.value.as_str()))),
            _ => None,
        })
        .collect::<Option<_>>()
        .unwrap_or_default();
    if items.is_empty() || items.len() != s.projection.len() {
        return false;
    }
    let mut keys: Vec<&Expr> = Vec::new();
    match &s.group_by {
        GroupByExpr::All(_) => {
            // Every output column without an aggregate is a key.
            keys.extend(
                items
                    .iter()
                    .filter(|(e, _)| !has_aggregate(e))
                    .map(|(e, _)| *e),
            );
        }
        GroupByExpr::Expressions(exprs, _) => {
            for g in exprs {
                let resolved = match g {
                    // `GROUP BY 1`: the first output column.
                    Expr::Value(v) => v
                        .value
                        .to_string()
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| items.get(i.checked_sub(1)?))
                        .map(|(e, _)| *e),
                    // `GROUP BY alias`.
                    Expr::Identifier(id) => items
                        .iter()
                        .find(|(_, a)| a.is_some_and(|a| a.eq_ignore_ascii_case(&id.value)))
                        .map(|(e, _)| *e),
                    _ => None,
                };
                keys.push(g);
                keys.extend(resolved);
            }
        }
    }
    items.iter().any(|(e, _)| has_aggregate(e)) && items.iter().all(|(e, _)| safe(e, &keys))
}

fn same_column(a: &Expr, b: &Expr) -> bool {
    let last = |e: &Expr| match e {
        Expr::Identifier(i) => Some(i.value.to_ascii_lowercase()),
        Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.to_ascii_lowercase()),
        _ => None,
    };
    a == b || last(a).is_some_and(|x| Some(x) == last(b))
}

fn is_aggregate_call(f: &sqlparser::ast::Function) -> bool {
    f.over.is_none() && AGGREGATES.contains(&function_name(f).as_str())
}

fn args_of(f: &sqlparser::ast::Function) -> Option<Vec<&Expr>> {
    match &f.args {
        FunctionArguments::None => Some(Vec::new()),
        FunctionArguments::List(l) => l
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
                | FunctionArg::Named {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => Some(e),
                _ => None,
            })
            .collect(),
        FunctionArguments::Subquery(_) => None,
    }
}

fn has_aggregate(e: &Expr) -> bool {
    match e {
        Expr::Function(f) => {
            is_aggregate_call(f) || args_of(f).is_some_and(|a| a.into_iter().any(has_aggregate))
        }
        Expr::BinaryOp { left, right, .. } => has_aggregate(left) || has_aggregate(right),
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::Cast { expr, .. }
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr) => has_aggregate(expr),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand.as_deref().is_some_and(has_aggregate)
                || else_result.as_deref().is_some_and(has_aggregate)
                || conditions
                    .iter()
                    .any(|c| has_aggregate(&c.condition) || has_aggregate(&c.result))
        }
        _ => false,
    }
}

/// Whether `e` shows no row's value outside an aggregate: an aggregate call, a key, a constant,
/// or an expression of those.
fn safe(e: &Expr, keys: &[&Expr]) -> bool {
    if keys.iter().any(|k| same_column(k, e)) {
        return true;
    }
    match e {
        Expr::Value(_) | Expr::TypedString { .. } => true,
        Expr::Function(f) if is_aggregate_call(f) => true,
        Expr::Function(f) => {
            f.over.is_none() && args_of(f).is_some_and(|a| a.into_iter().all(|x| safe(x, keys)))
        }
        Expr::BinaryOp { left, right, .. } => safe(left, keys) && safe(right, keys),
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::Cast { expr, .. }
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr) => safe(expr, keys),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand.as_deref().is_none_or(|o| safe(o, keys))
                && else_result.as_deref().is_none_or(|o| safe(o, keys))
                && conditions
                    .iter()
                    .all(|c| safe(&c.condition, keys) && safe(&c.result, keys))
        }
        _ => false,
    }
}

// ---- What the model sees of a withheld result.

/// The reference of the `index`-th result of a run (0-based) in answer placeholders: `q1`, `q2`…
pub(crate) fn result_ref(index: usize) -> String {
    format!("q{}", index + 1)
}

/// The note a withheld result carries in the model's view.
pub(crate) fn withheld_note(exposure: DataExposure, r: &str, columns: &[ColumnMeta]) -> String {
    let example = columns.first().map_or("column", |c| c.name.as_str());
    format!(
        "values withheld (data exposure: {exposure}): you see the columns and the row count \
         only. In the answer write {{{{{r}.{example}}}}} for a value of row 1, \
         {{{{{r}.{example}[2]}}}} for row 2, or {{{{{r}}}}} for the whole table; the host fills \
         them in. Never guess values."
    )
}

/// What the system prompt adds when values may be withheld.
pub(crate) fn prompt_note(exposure: DataExposure) -> String {
    let what = match exposure {
        DataExposure::Aggregates { max_rows } => format!(
            "you see the values of aggregate results (COUNT, SUM, AVG, MIN, MAX by group, at \
             most {max_rows} rows) only; of other results you see the columns and row count"
        ),
        _ => "you never see values of results: you see their columns and row counts".to_string(),
    };
    format!(
        "\nData exposure ({exposure}): {what}. Results are named q1, q2… in the order they ran. \
         In the final answer write a value you cannot see as a placeholder the host fills in: \
         {{{{q1.column}}}} (row 1), {{{{q1.column[2]}}}} (row 2), {{{{q1}}}} (the whole table), \
         {{{{last.column}}}} (the latest dataset). Never guess a value.\n"
    )
}

/// An earlier answer of the conversation as a model that may not see values gets it.
pub(crate) const EARLIER_ANSWER: &str =
    "(answered; the answer quoted values that are withheld from you)";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn agg(sql: &str) -> bool {
        is_aggregate(sql, Dialect::Postgres)
    }

    #[test]
    fn aggregates_are_told_from_rows() {
        for sql in [
            "SELECT COUNT(*) FROM flights",
            "SELECT carrier, AVG(dep_delay) AS d FROM flights GROUP BY carrier ORDER BY d DESC LIMIT 5",
            "SELECT f.carrier, ROUND(AVG(f.dep_delay), 2) FROM flights f GROUP BY f.carrier",
            "SELECT carrier AS c, SUM(x) FROM t GROUP BY c",
            "SELECT carrier, SUM(x) FROM t GROUP BY 1",
            "SELECT 'all' AS k, 100.0 * SUM(CASE WHEN late THEN 1 ELSE 0 END) / COUNT(*) FROM t",
            "SELECT a, COUNT(*) FROM t GROUP BY a UNION ALL SELECT 'x', COUNT(*) FROM u",
            "WITH x AS (SELECT * FROM t) SELECT MAX(v) FROM x",
        ] {
            assert!(agg(sql), "{sql}");
        }
        for sql in [
            "SELECT * FROM flights",
            "SELECT carrier, dep_delay FROM flights",
            "SELECT DISTINCT carrier FROM flights",
            "SELECT carrier FROM flights GROUP BY carrier",
            "SELECT carrier, dep_delay, COUNT(*) FROM flights GROUP BY carrier",
            "SELECT carrier, SUM(x) OVER (PARTITION BY carrier) FROM t",
            "SELECT STRING_AGG(email, ',') FROM users",
            "SELECT ARRAY_AGG(email) FROM users",
            "SELECT a, COUNT(*) FROM t GROUP BY a UNION SELECT email, 1 FROM u",
            "SELECT (SELECT email FROM u LIMIT 1), COUNT(*) FROM t",
            "not sql at all",
        ] {
            assert!(!agg(sql), "{sql}");
        }
        let e = DataExposure::Aggregates { max_rows: 3 };
        assert!(e.shows("SELECT COUNT(*) FROM t", Dialect::Sqlite, 1));
        assert!(!e.shows("SELECT a, COUNT(*) FROM t GROUP BY a", Dialect::Sqlite, 4));
        assert!(!DataExposure::SchemaOnly.shows("SELECT COUNT(*) FROM t", Dialect::Sqlite, 1));
        assert!(DataExposure::Full.shows("SELECT * FROM t", Dialect::Sqlite, 1000));
    }

    #[test]
    fn the_setting_reads_and_writes_its_documented_forms() {
        let read = |s: &str| serde_json::from_str::<DataExposure>(s);
        assert_eq!(read(r#""full""#).unwrap(), DataExposure::Full);
        assert_eq!(read(r#""schema_only""#).unwrap(), DataExposure::SchemaOnly);
        assert_eq!(
            read(r#""aggregates""#).unwrap(),
            DataExposure::Aggregates { max_rows: 50 }
        );
        assert_eq!(
            read(r#"{"aggregates": {"max_rows": 7}}"#).unwrap(),
            DataExposure::Aggregates { max_rows: 7 }
        );
        assert_eq!(
            read(r#"{"aggregates": {}}"#).unwrap(),
            DataExposure::Aggregates { max_rows: 50 }
        );
        let err = read(r#""values""#).unwrap_err().to_string();
        assert!(err.contains("unknown data exposure `values`"), "{err}");
        assert!(read(r#"{"aggregates": {"rows": 3}}"#).is_err());
        assert!(read(r#"{"everything": true}"#).is_err());
        for e in [
            DataExposure::Full,
            DataExposure::SchemaOnly,
            DataExposure::Aggregates { max_rows: 9 },
        ] {
            assert_eq!(read(&serde_json::to_string(&e).unwrap()).unwrap(), e);
        }
    }
}
