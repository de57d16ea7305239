//! One pass over a parsed statement: every nested query, expression and table reference.
//!
//! The walk finds writes hidden inside queries (data-modifying CTEs, `SELECT … INTO`, locking
//! clauses), denied function calls, tables read straight from files or URLs, and collects the
//! tables the statement reads, leaving out names that refer to a CTE in scope.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName,
    ObjectNamePart, Query, Select, SetExpr, Statement, TableFactor, UnaryOperator, Value, Visit,
    Visitor,
};

use super::deny::{ALLOCATING, MAX_ALLOCATION, denied_by, denied_functions, denied_relation};
use crate::connector::Dialect;

/// Why the walk stopped.
#[derive(Debug)]
pub(super) enum Violation {
    /// A data-modifying statement inside a query (`WITH d AS (DELETE …)`).
    NestedWrite(String),
    /// `SELECT … INTO`.
    SelectInto,
    /// `FOR UPDATE` / `FOR SHARE` and friends.
    Lock(String),
    /// A denied function.
    Function(String),
    /// A table read straight from a file, glob, stage or URL.
    FileTable(String),
    /// A relation holding secrets, other sessions' SQL or server files.
    Relation(String),
    /// An allocating function whose size argument is unbounded or too large.
    Allocation(String),
}

/// A table the statement reads.
#[derive(Debug, Clone)]
pub(super) struct TableRef {
    /// As written (`public."Orders"`).
    pub display: String,
    /// Identifier values, lower-cased, for policy matching.
    pub parts: Vec<String>,
}

impl TableRef {
    pub(super) fn from_name(name: &ObjectName) -> Self {
        let parts = name
            .0
            .iter()
            .map(|p| match p.as_ident() {
                Some(ident) => ident.value.to_lowercase(),
                None => p.to_string().to_lowercase(),
            })
            .collect();
        Self {
            display: name.to_string(),
            parts,
        }
    }
}

/// Walk options.
pub(super) struct WalkOptions {
    /// The connection's dialect (denied functions and relations, file-like names).
    pub dialect: Dialect,
    /// Skip the hidden-write checks (the embedder opted out of read-only).
    pub allow_writes: bool,
    /// Collect relation names as tables (off for `SHOW …`, whose names are schemas and filters).
    pub collect_tables: bool,
}

/// Walks `statement`, returning the tables it reads or the first violation.
pub(super) fn walk(
    statement: &Statement,
    options: &WalkOptions,
) -> Result<Vec<TableRef>, Violation> {
    let mut walker = Walker {
        options,
        denied: denied_functions(options.dialect),
        scopes: Vec::new(),
        frames: Vec::new(),
        cte_queries: Vec::new(),
        last_ctes: Vec::new(),
        function_names: Vec::new(),
        tables: Vec::new(),
    };
    match statement.visit(&mut walker) {
        ControlFlow::Break(violation) => Err(violation),
        ControlFlow::Continue(()) => Ok(walker.tables),
    }
}

fn addr<T>(value: &T) -> usize {
    std::ptr::from_ref(value) as usize
}

struct Walker<'a> {
    options: &'a WalkOptions,
    /// Denied function patterns of the dialect.
    denied: Vec<&'static str>,
    /// CTE names visible at the current point, innermost last (lower-cased).
    scopes: Vec<Vec<String>>,
    /// Per query being visited: how many scopes it pushed.
    frames: Vec<usize>,
    /// CTE bodies not yet entered: query address -> names visible inside that CTE.
    cte_queries: Vec<(usize, Vec<String>)>,
    /// Last CTE body of a WITH -> all names of that WITH, pushed once the CTE list is done
    /// (the main body and ORDER BY are visited after it).
    last_ctes: Vec<(usize, Vec<String>)>,
    /// Addresses of names in `FROM` that are table-function calls, not tables.
    function_names: Vec<usize>,
    tables: Vec<TableRef>,
}

impl Walker<'_> {
    fn in_cte_scope(&self, name: &ObjectName) -> bool {
        let [part] = name.0.as_slice() else {
            return false;
        };
        let Some(ident) = part.as_ident() else {
            return false;
        };
        let lower = ident.value.to_lowercase();
        self.scopes.iter().any(|s| s.contains(&lower))
    }

    fn check_function(&self, name: &ObjectName) -> ControlFlow<Violation> {
        let bare = name
            .0
            .last()
            .map(|p| match p.as_ident() {
                Some(ident) => ident.value.clone(),
                None => p.to_string(),
            })
            .unwrap_or_default();
        if denied_by(&self.denied, self.options.dialect, &bare) {
            return ControlFlow::Break(Violation::Function(name.to_string()));
        }
        ControlFlow::Continue(())
    }

    /// A call: its name, and on in-process engines the size argument of allocating functions.
    fn check_call(&self, function: &Function) -> ControlFlow<Violation> {
        self.check_function(&function.name)?;
        if !matches!(
            self.options.dialect,
            Dialect::DataFusion | Dialect::DuckDb | Dialect::Sqlite | Dialect::Generic
        ) {
            return ControlFlow::Continue(());
        }
        let Some(bare) = function.name.0.last().and_then(|p| p.as_ident()) else {
            return ControlFlow::Continue(());
        };
        let lower = bare.value.to_ascii_lowercase();
        let Some((_, at)) = ALLOCATING.iter().find(|(n, _)| *n == lower) else {
            return ControlFlow::Continue(());
        };
        let FunctionArguments::List(list) = &function.args else {
            return ControlFlow::Continue(());
        };
        // `printf('%1000000000c', 'x')`: a width in the format string allocates too.
        if matches!(lower.as_str(), "printf" | "format")
            && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v)))) =
                list.args.first()
            && let Value::SingleQuotedString(fmt) = &v.value
            && has_long_number(fmt)
        {
            return ControlFlow::Break(Violation::Allocation(function.name.to_string()));
        }
        let size = match list.args.get(*at) {
            Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(e))) => Some(e),
            Some(_) => None,
            None => return ControlFlow::Continue(()),
        };
        if size.is_some_and(bounded_size) {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(Violation::Allocation(function.name.to_string()))
        }
    }

    /// Records `TABLE t` bodies, which carry their name as plain strings.
    /// `own` are the CTE names of the query whose body this is.
    fn record_table_bodies(&mut self, body: &SetExpr, own: &[String]) {
        match body {
            SetExpr::Table(table) => {
                if let Some(name) = &table.table_name {
                    let mut parts: Vec<String> = Vec::new();
                    if let Some(schema) = &table.schema_name {
                        parts.push(schema.to_lowercase());
                    }
                    parts.push(name.to_lowercase());
                    let display = match &table.schema_name {
                        Some(schema) => format!("{schema}.{name}"),
                        None => name.clone(),
                    };
                    let scoped = parts.len() == 1
                        && (own.contains(&parts[0])
                            || self.scopes.iter().any(|s| s.contains(&parts[0])));
                    if self.options.collect_tables && !scoped {
                        self.tables.push(TableRef { display, parts });
                    }
                }
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.record_table_bodies(left, own);
                self.record_table_bodies(right, own);
            }
            _ => {}
        }
    }
}

/// Whether `expr` is a size the guard can bound: a literal up to [`MAX_ALLOCATION`], a column,
/// a `length(…)`-style call, or sums and differences of those.
fn bounded_size(expr: &Expr) -> bool {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse::<f64>().is_ok_and(|n| n <= MAX_ALLOCATION as f64),
            Value::Null => true,
            _ => false,
        },
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => true,
        Expr::Nested(inner) => bounded_size(inner),
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            expr,
        } => bounded_size(expr),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Plus | BinaryOperator::Minus,
            right,
        } => bounded_size(left) && bounded_size(right),
        Expr::Function(f) => f.name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| {
            ["length", "char_length", "character_length", "octet_length"]
                .contains(&i.value.to_ascii_lowercase().as_str())
        }),
        _ => false,
    }
}

/// Whether `text` holds a run of seven or more digits (a width of a million or more).
fn has_long_number(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 7 {
            return true;
        }
    }
    false
}

/// Whether file-like relation names (`'data.csv'`, `"s3://…"`, `@stage`) are read as files,
/// globs, URLs or stages in `dialect`. Elsewhere a quoted `"orders.csv"` is just a table name.
fn reads_files(dialect: Dialect) -> bool {
    matches!(
        dialect,
        Dialect::DuckDb | Dialect::DataFusion | Dialect::Generic | Dialect::Snowflake
    )
}

/// Whether a relation name reads a file, glob, URL or stage rather than a table.
fn is_file_like(name: &ObjectName) -> bool {
    name.0.iter().any(|part| {
        let Some(ident) = part.as_ident() else {
            return false;
        };
        let v = ident.value.to_ascii_lowercase();
        ident.quote_style == Some('\'')
            || v.starts_with('@')
            || v.contains('/')
            || v.contains('\\')
            || v.contains("://")
            || v.contains('*')
            || FILE_EXTENSIONS.iter().any(|ext| v.ends_with(ext))
    })
}

const FILE_EXTENSIONS: &[&str] = &[
    ".csv", ".tsv", ".txt", ".parquet", ".json", ".jsonl", ".ndjson", ".arrow", ".ipc", ".avro",
    ".orc", ".xlsx", ".gz", ".zst", ".bz2", ".db", ".sqlite", ".duckdb",
];

impl Visitor for Walker<'_> {
    type Break = Violation;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<Violation> {
        if !self.options.allow_writes && super::classify(statement).is_none() {
            return ControlFlow::Break(Violation::NestedWrite(super::verb(statement)));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Violation> {
        let here = addr(query);
        let mut pushed = 0;
        let mut own: Vec<String> = Vec::new();
        if let Some(i) = self.cte_queries.iter().position(|(a, _)| *a == here) {
            let (_, names) = self.cte_queries.swap_remove(i);
            self.scopes.push(names);
            pushed += 1;
        }
        if let Some(with) = &query.with {
            let names: Vec<String> = with
                .cte_tables
                .iter()
                .map(|c| c.alias.name.value.to_lowercase())
                .collect();
            for (i, cte) in with.cte_tables.iter().enumerate() {
                // A plain WITH sees only earlier CTEs: `WITH t AS (SELECT * FROM t)` reads table t.
                let visible = if with.recursive {
                    names.clone()
                } else {
                    names[..i].to_vec()
                };
                self.cte_queries.push((addr(&*cte.query), visible));
            }
            if let Some(last) = with.cte_tables.last() {
                self.last_ctes.push((addr(&*last.query), names.clone()));
            }
            own = names;
        }
        self.frames.push(pushed);
        self.record_table_bodies(&query.body, &own);
        if !self.options.allow_writes {
            if let Some(lock) = query.locks.first() {
                return ControlFlow::Break(Violation::Lock(lock.to_string()));
            }
            if let SetExpr::Insert(s)
            | SetExpr::Update(s)
            | SetExpr::Delete(s)
            | SetExpr::Merge(s) = &*query.body
            {
                return ControlFlow::Break(Violation::NestedWrite(super::verb(s)));
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &Query) -> ControlFlow<Violation> {
        let pushed = self.frames.pop().unwrap_or(0);
        let keep = self.scopes.len().saturating_sub(pushed);
        self.scopes.truncate(keep);
        let here = addr(query);
        if let Some(i) = self.last_ctes.iter().position(|(a, _)| *a == here) {
            let (_, names) = self.last_ctes.swap_remove(i);
            self.scopes.push(names);
            if let Some(outer) = self.frames.last_mut() {
                *outer += 1;
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<Violation> {
        if !self.options.allow_writes && select.into.is_some() {
            return ControlFlow::Break(Violation::SelectInto);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<Violation> {
        match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => {
                self.function_names.push(addr(name));
                // `@stage/file.csv (FILE_FORMAT => …)` (Snowflake) reads as a call on a file.
                if reads_files(self.options.dialect) && is_file_like(name) {
                    return ControlFlow::Break(Violation::FileTable(name.to_string()));
                }
                self.check_function(name)
            }
            TableFactor::Function { name, .. } => self.check_function(name),
            // `TABLE('name')` (Snowflake) names a table in a string the policy cannot see.
            TableFactor::TableFunction {
                expr: Expr::Value(v),
                ..
            } if !matches!(v.value, Value::Number(..)) => {
                ControlFlow::Break(Violation::Function(format!("TABLE({v})")))
            }
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<Violation> {
        if self.function_names.contains(&addr(relation)) {
            return ControlFlow::Continue(());
        }
        // `IDENTIFIER('t')` (Snowflake) names a table at run time; the policy cannot see which.
        if let Some(ObjectNamePart::Function(f)) = relation
            .0
            .iter()
            .find(|p| matches!(p, ObjectNamePart::Function(_)))
        {
            return ControlFlow::Break(Violation::Function(f.name.value.clone()));
        }
        if reads_files(self.options.dialect) && is_file_like(relation) {
            return ControlFlow::Break(Violation::FileTable(relation.to_string()));
        }
        if self.in_cte_scope(relation) {
            return ControlFlow::Continue(());
        }
        let table = TableRef::from_name(relation);
        if denied_relation(self.options.dialect, &table.parts) {
            return ControlFlow::Break(Violation::Relation(relation.to_string()));
        }
        if self.options.collect_tables {
            self.tables.push(table);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Violation> {
        // Method calls (`x.f()`) are parsed as field access over `Expr::Function` nodes, which
        // the visitor reaches here too.
        match expr {
            Expr::Function(function) => self.check_call(function),
            // `seq.NEXTVAL` (Snowflake, Oracle style) advances a sequence.
            Expr::CompoundIdentifier(parts)
                if parts.len() > 1
                    && parts
                        .last()
                        .is_some_and(|p| p.value.eq_ignore_ascii_case("nextval")) =>
            {
                ControlFlow::Break(Violation::Function(
                    parts
                        .iter()
                        .map(|p| p.value.as_str())
                        .collect::<Vec<_>>()
                        .join("."),
                ))
            }
            _ => ControlFlow::Continue(()),
        }
    }
}
