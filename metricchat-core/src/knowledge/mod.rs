//! Knowledge sources: dbt, LookML and Tableau, parsed into one [`Resource`] model that is linked
//! to the warehouse tables it describes. The [`ContextHub`](crate::context::ContextHub) uses the
//! descriptions to rank and explain tables; the `search_knowledge` tool searches them.
//!
//! - [`dbt`]: `manifest.json` (models, seeds, snapshots, sources, tests, semantic models,
//!   metrics) and `catalog.json` (column types, table comments, stats).
//! - [`lookml`]: `*.lkml` views, explores and models.
//! - [`tableau`]: `.tds` data sources and `.twb` workbooks.
//!
//! [`Knowledge`] holds the parsed resources and finds the ones that describe a table;
//! [`load_path`] reads a file or a directory of any of the three.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod dbt;
pub mod lookml;
pub mod tableau;

/// Which tool a resource came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceSource {
    /// A dbt project (`manifest.json`, `catalog.json`).
    Dbt,
    /// LookML files.
    LookMl,
    /// Tableau data sources and workbooks (`.tds`, `.twb`).
    Tableau,
    /// Anything else the host adds.
    #[default]
    Other,
}

/// What a resource is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A dbt model.
    Model,
    /// A dbt source table.
    Source,
    /// A dbt seed or snapshot.
    Seed,
    /// A dbt semantic model.
    SemanticModel,
    /// A dbt metric.
    Metric,
    /// A LookML view.
    View,
    /// A LookML explore.
    Explore,
    /// A Tableau data source.
    DataSource,
    /// Anything else (a LookML model file, …).
    #[default]
    Other,
}

/// What a field of a resource is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A physical column.
    #[default]
    Column,
    /// A dimension (LookML, dbt semantic model, Tableau dimension).
    Dimension,
    /// A measure (LookML, dbt semantic model, Tableau measure).
    Measure,
    /// An entity / join key (dbt semantic model).
    Entity,
    /// A calculated field (Tableau) or derived expression.
    Calculated,
}

/// A field (column, dimension, measure…) of a [`Resource`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceField {
    /// Name as the tool knows it.
    pub name: String,
    /// What it is.
    pub kind: FieldKind,
    /// Human label or caption, if different from the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Type as declared (`number`, `string`, `bigint`…). For a measure, its aggregation
    /// (`sum`, `count_distinct`…); for a dbt entity, its entity type (`primary`, `foreign`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// SQL or formula, for dimensions, measures and calculated fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// The warehouse column it reads, when it maps to exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Data tests or constraints (dbt `unique`, `not_null`, `accepted_values: [...]`…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<String>,
}

/// One piece of semantic knowledge: a dbt model, a LookML view, a Tableau data source…
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Stable id, e.g. `dbt:model.jaffle_shop.orders`, `lookml:view.orders`.
    pub id: String,
    /// Where it came from.
    pub source: ResourceSource,
    /// What it is.
    pub kind: ResourceKind,
    /// Name.
    pub name: String,
    /// Human label, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Warehouse tables it describes or reads, as `schema.table` (or `database.schema.table`
    /// where known), lowercased only if the source is case-insensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// Fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<ResourceField>,
    /// SQL of the resource (a derived table, a dbt model's compiled SQL, a metric's expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// Related resources by id (an explore's joined views, a metric's semantic model…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// File it was read from, relative to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Other facts worth showing the model, by key: dbt `materialized`, catalog `row_count`,
    /// a metric's `type` and `filter`, an explore's `join.customers`, a Tableau `connection`…
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

impl Resource {
    /// A resource with the given identity and everything else empty.
    pub fn new(
        id: impl Into<String>,
        source: ResourceSource,
        kind: ResourceKind,
        name: impl Into<String>,
    ) -> Self {
        Resource {
            id: id.into(),
            source,
            kind,
            name: name.into(),
            ..Resource::default()
        }
    }

    /// The field called `name` (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&ResourceField> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Whether this resource describes or reads `table` (see [`Knowledge::for_table`]).
    pub fn describes_table(&self, table: &str) -> bool {
        let wanted = table_parts(table);
        !wanted.is_empty()
            && self
                .tables
                .iter()
                .any(|t| same_table(&table_parts(t), &wanted))
    }
}

impl ResourceField {
    /// A field with the given name and kind and everything else empty.
    pub fn new(name: impl Into<String>, kind: FieldKind) -> Self {
        ResourceField {
            name: name.into(),
            kind,
            ..ResourceField::default()
        }
    }
}

/// A collection of knowledge resources from any number of dbt, LookML and Tableau sources.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    resources: Vec<Resource>,
    by_id: HashMap<String, usize>,
}

impl Knowledge {
    /// Adds resources; one with the id of an existing resource replaces it.
    pub fn add(&mut self, resources: Vec<Resource>) {
        for resource in resources {
            match self.by_id.get(&resource.id) {
                Some(&i) => self.resources[i] = resource,
                None => {
                    self.by_id.insert(resource.id.clone(), self.resources.len());
                    self.resources.push(resource);
                }
            }
        }
    }

    /// Reads a file or directory (see [`load_path`]) and adds what it holds; returns how many
    /// resources were read.
    pub fn load_path(&mut self, path: impl AsRef<Path>) -> Result<usize> {
        let resources = load_path(path.as_ref())?;
        let count = resources.len();
        self.add(resources);
        Ok(count)
    }

    /// All resources, in the order they were added.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// The resource with this id.
    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.by_id.get(id).map(|&i| &self.resources[i])
    }

    /// Number of resources.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The resources that describe or read `table`: `orders`, `main.orders` or
    /// `jaffle.main.orders`, compared case-insensitively, without quotes, on the dotted parts
    /// both names have (`orders` matches `jaffle.main.orders`; `public.orders` does not match
    /// `staging.orders`).
    pub fn for_table(&self, table: &str) -> Vec<&Resource> {
        self.resources
            .iter()
            .filter(|r| r.describes_table(table))
            .collect()
    }
}

/// Reads knowledge from a path, by what it is:
/// - a dbt `manifest.json` (with `catalog.json` next to it, if present);
/// - a `.lkml` file; a `.tds` or `.twb` file;
/// - a directory: a dbt target (`manifest.json` in it, in `target/`, or a dbt manifest in any
///   folder below), plus every `.lkml`, `.tds` and `.twb` file below it (hidden folders,
///   `target`, `dbt_packages` and `node_modules` skipped).
///
/// A missing path is [`Error::NotFound`]; packaged Tableau files (`.twbx`, `.tdsx`) and other
/// file types are [`Error::Unsupported`].
pub fn load_path(path: &Path) -> Result<Vec<Resource>> {
    if path.is_dir() {
        return load_dir(path);
    }
    if !path.exists() {
        return Err(Error::NotFound {
            what: "file",
            name: path.display().to_string(),
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" if name == "manifest.json" => {
            let manifest = read_text(path)?;
            let catalog_path = path.with_file_name("catalog.json");
            let catalog = if catalog_path.is_file() {
                Some(read_text(&catalog_path)?)
            } else {
                None
            };
            dbt::parse_manifest_at(&manifest, catalog.as_deref(), path, &catalog_path)
        }
        "lkml" => lookml::parse(&read_text(path)?, &path.to_string_lossy()),
        "tds" | "twb" => tableau::load_file(path),
        "tdsx" | "twbx" => Err(Error::Unsupported(format!(
            "{}: packaged Tableau files are zip archives; extract the .tds/.twb inside first",
            path.display()
        ))),
        _ => Err(Error::Unsupported(format!(
            "{}: not a knowledge file (expected manifest.json, .lkml, .tds or .twb)",
            path.display()
        ))),
    }
}

fn load_dir(dir: &Path) -> Result<Vec<Resource>> {
    let mut out = Vec::new();
    let files = walk(dir)?;
    // dbt targets: `manifest.json` here, in `target/` (which the walk skips), or anywhere below
    // when it is a dbt manifest (web-app manifests share the name).
    let mut targets: Vec<PathBuf> = [dir.to_path_buf(), dir.join("target")]
        .into_iter()
        .filter(|d| d.join("manifest.json").is_file())
        .take(1)
        .collect();
    for f in &files {
        let is_manifest = f.file_name().is_some_and(|n| n == "manifest.json");
        if let Some(parent) = f
            .parent()
            .filter(|p| is_manifest && !targets.iter().any(|t| t == p))
            && read_text(f)?.contains("dbt_schema_version")
        {
            targets.push(parent.to_path_buf());
        }
    }
    for target in targets {
        out.extend(dbt::load_dir(&target)?);
    }
    if files.iter().any(|f| has_ext(f, &["lkml"])) {
        out.extend(lookml::load_dir(dir)?);
    }
    for file in files.iter().filter(|f| has_ext(f, &["tds", "twb"])) {
        out.extend(tableau::load_file(file)?);
    }
    Ok(out)
}

/// Reads a file as UTF-8; a missing file is [`Error::NotFound`].
pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound {
            what: "file",
            name: path.display().to_string(),
        },
        _ => Error::invalid_input(format!("{}: cannot read: {e}", path.display())),
    })
}

pub(crate) fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .is_some_and(|e| exts.contains(&e.as_str()))
}

/// Every file below `dir`, sorted, skipping hidden folders and tool output
/// (`target`, `dbt_packages`, `node_modules`).
pub(crate) fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                what: "directory",
                name: d.display().to_string(),
            },
            _ => Error::invalid_input(format!("{}: cannot read: {e}", d.display())),
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            // Not following symlinked folders keeps a link cycle from looping.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let skip = name.starts_with('.')
                    || matches!(name.as_str(), "target" | "dbt_packages" | "node_modules");
                if !skip {
                    stack.push(path);
                }
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The dotted parts of a table name, unquoted and lowercased: `"DB"."Main".[orders]` →
/// `["db", "main", "orders"]`.
pub(crate) fn table_parts(name: &str) -> Vec<String> {
    split_dotted(name)
        .into_iter()
        .map(|p| p.to_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Splits a possibly quoted dotted name (`"a"."b.c"`, `` `a`.`b` ``, `[a].[b]`) into its
/// unquoted parts, keeping their case.
pub(crate) fn split_dotted(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut close: Option<char> = None;
    for c in name.trim().chars() {
        match close {
            Some(end) if c == end => close = None,
            Some(_) => cur.push(c),
            None => match c {
                '"' => close = Some('"'),
                '`' => close = Some('`'),
                '[' => close = Some(']'),
                '.' => parts.push(std::mem::take(&mut cur)),
                c if c.is_whitespace() => {}
                c => cur.push(c),
            },
        }
    }
    parts.push(cur);
    parts
}

/// `a.b.c` from a quoted relation name: `"jaffle"."main"."orders"` → `jaffle.main.orders`.
pub(crate) fn unquote_relation(name: &str) -> String {
    split_dotted(name).join(".")
}

fn same_table(have: &[String], wanted: &[String]) -> bool {
    let n = have.len().min(wanted.len());
    n > 0 && have[have.len() - n..] == wanted[wanted.len() - n..]
}

/// Tables a SELECT reads (CTE names excluded), parsed with sqlparser; when the SQL does not parse
/// (templating, dialect quirks), a scan for the names after `FROM` and `JOIN`.
pub(crate) fn tables_in_sql(sql: &str) -> Vec<String> {
    use sqlparser::ast::{ObjectName, Query, Visit, Visitor};
    use std::ops::ControlFlow;

    #[derive(Default)]
    struct Rels {
        ctes: Vec<String>,
        tables: Vec<String>,
    }
    impl Visitor for Rels {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if let Some(with) = &query.with {
                self.ctes.extend(
                    with.cte_tables
                        .iter()
                        .map(|c| c.alias.name.value.to_lowercase()),
                );
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
            let parts: Vec<String> = relation
                .0
                .iter()
                .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
                .collect();
            if !parts.is_empty() {
                push_unique(&mut self.tables, parts.join("."));
            }
            ControlFlow::Continue(())
        }
    }

    let dialect = sqlparser::dialect::GenericDialect {};
    let parsed = sqlparser::parser::Parser::parse_sql(&dialect, sql);
    let (tables, ctes) = match parsed {
        Ok(statements) => {
            let mut rels = Rels::default();
            let _ = statements.visit(&mut rels);
            (rels.tables, rels.ctes)
        }
        Err(_) => scan_tables(sql),
    };
    tables
        .into_iter()
        .filter(|t| !ctes.contains(&t.to_lowercase()))
        .collect()
}

/// Fallback for [`tables_in_sql`]: names after `FROM`/`JOIN` that are not subqueries, template
/// references or inside a function call such as `EXTRACT(YEAR FROM x)`.
fn scan_tables(sql: &str) -> (Vec<String>, Vec<String>) {
    let mut tokens: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                flush(&mut tokens, &mut cur);
            }
            '(' | ')' | ',' | ';' => {
                flush(&mut tokens, &mut cur);
                tokens.push(c.to_string());
            }
            c if c.is_whitespace() => flush(&mut tokens, &mut cur),
            c => cur.push(c),
        }
    }
    flush(&mut tokens, &mut cur);

    const NOT_FUNCS: &[&str] = &[
        "from", "join", "in", "exists", "as", "on", "and", "or", "where", "select", "not", "any",
        "all", "union", "with", "using", "lateral", "(", ",", "=",
    ];
    let mut tables = Vec::new();
    let mut ctes = Vec::new();
    // For each open paren: whether it opened a function call.
    let mut parens: Vec<bool> = Vec::new();
    for (i, tok) in tokens.iter().enumerate() {
        let lower = tok.to_lowercase();
        let prev = i.checked_sub(1).map(|j| tokens[j].to_lowercase());
        match lower.as_str() {
            "(" => {
                let is_func = prev.as_deref().is_some_and(|p| !NOT_FUNCS.contains(&p));
                parens.push(is_func);
            }
            ")" => {
                parens.pop();
            }
            "as" => {
                // `name AS (` in a WITH list.
                if tokens.get(i + 1).is_some_and(|t| t == "(")
                    && let Some(p) = prev
                {
                    ctes.push(p);
                }
            }
            "from" | "join" if !parens.iter().any(|f| *f) => {
                if let Some(next) = tokens.get(i + 1) {
                    let ok = next
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_alphanumeric() || "_\"`[".contains(c))
                        && !next.contains("${")
                        && !next.starts_with("{{")
                        && !next.starts_with("{%");
                    if ok {
                        push_unique(&mut tables, unquote_relation(next));
                    }
                }
            }
            _ => {}
        }
    }
    (tables, ctes)
}

fn flush(tokens: &mut Vec<String>, cur: &mut String) {
    if !cur.is_empty() {
        tokens.push(std::mem::take(cur));
    }
}

pub(crate) fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// `Some(s)` unless blank.
pub(crate) fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Whether `s` is a plain (possibly dotted) identifier, i.e. names one column.
pub(crate) fn is_identifier(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn table_names_match_on_common_suffix() {
        let mut r = Resource::new("x", ResourceSource::Dbt, ResourceKind::Model, "orders");
        r.tables.push("\"Jaffle\".\"main\".\"orders\"".into());
        assert!(r.describes_table("orders"));
        assert!(r.describes_table("MAIN.ORDERS"));
        assert!(r.describes_table("jaffle.main.orders"));
        assert!(!r.describes_table("staging.orders"));
        assert!(!r.describes_table("customers"));
        assert!(!r.describes_table(""));
    }

    #[test]
    fn sql_tables_skip_ctes_and_functions() {
        let t = tables_in_sql(
            "with o as (select * from raw.orders) select extract(year from o.d) from o \
             join analytics.customers c on c.id = o.cid",
        );
        assert_eq!(t, vec!["raw.orders", "analytics.customers"]);
        // Templated SQL falls back to the scan.
        let t = tables_in_sql(
            "SELECT EXTRACT(YEAR FROM created_at) FROM ${orders.SQL_TABLE_NAME} o \
             JOIN {{ ref }} x JOIN public.users u ON 1=1 {% if x %}",
        );
        assert_eq!(t, vec!["public.users"]);
    }
}
