//! The catalog cache: each connection's table list and bulk-loaded schemas, the tables
//! described in full with sample values ([`ContextHub::describe`]), and the ranking index built
//! over them. One lock guards the catalogs and their index together, so an index never outlives
//! the catalogs it was built from.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};

use super::ContextHub;
use super::schema_index::{CatalogInput, SchemaIndex};
use crate::connector::{ConnectorInfo, ConnectorRef, TableKind, TableRef, TableSchema};
use crate::data;
use crate::error::{Error, Result};
use crate::text::one_line;

/// One column as shown to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDescription {
    /// Name.
    pub name: String,
    /// Engine type.
    pub data_type: String,
    /// Nullable.
    pub nullable: bool,
    /// Comment (or the description a knowledge source gives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// A few distinct sample values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<String>,
}

/// A table as shown to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDescription {
    /// Connection name.
    pub connection: String,
    /// Qualified table name.
    pub table: String,
    /// Table or view.
    pub kind: TableKind,
    /// Estimated rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_estimate: Option<u64>,
    /// Comment (or the description a knowledge source gives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Columns.
    pub columns: Vec<ColumnDescription>,
    /// Primary key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// Foreign keys, as `col -> table(col)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<String>,
    /// Knowledge about the table: measures, metrics, tests (`measure revenue: sum(amount)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl TableDescription {
    /// A description from a catalog schema (no sample values).
    pub fn from_schema(connection: &str, schema: &TableSchema) -> Self {
        Self {
            connection: connection.to_string(),
            table: schema.table.to_string(),
            kind: schema.kind,
            row_estimate: schema.row_estimate,
            comment: schema.comment.clone(),
            columns: schema
                .columns
                .iter()
                .map(|c| ColumnDescription {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                    nullable: c.nullable,
                    comment: c.comment.clone(),
                    samples: Vec::new(),
                })
                .collect(),
            primary_key: schema.primary_key.clone(),
            foreign_keys: schema
                .foreign_keys
                .iter()
                .map(|fk| {
                    format!(
                        "{} -> {}({})",
                        fk.columns.join(", "),
                        fk.references,
                        fk.referenced_columns.join(", ")
                    )
                })
                .collect(),
            notes: Vec::new(),
        }
    }

    /// Compact text for prompts, every column.
    pub fn render(&self) -> String {
        self.render_focused(usize::MAX, &[])
    }

    /// The columns a prompt describes, at most `max_columns`: keys and the `focus` columns
    /// first, then table order; shown in table order.
    fn shown_columns(&self, max_columns: usize, focus: &[String]) -> Vec<&ColumnDescription> {
        if self.columns.len() <= max_columns {
            self.columns.iter().collect()
        } else {
            let fk_cols: HashSet<String> = self
                .foreign_keys
                .iter()
                .filter_map(|f| f.split(" -> ").next())
                .flat_map(|c| c.split(", ").map(str::to_lowercase))
                .collect();
            let key = |c: &ColumnDescription| {
                let n = c.name.to_lowercase();
                if focus.iter().any(|f| f.eq_ignore_ascii_case(&c.name)) {
                    0
                } else if self.primary_key.iter().any(|p| p.eq_ignore_ascii_case(&n))
                    || fk_cols.contains(&n)
                {
                    1
                } else {
                    2
                }
            };
            let mut ranked: Vec<(usize, usize)> = self
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (key(c), i))
                .collect();
            ranked.sort();
            let mut keep: Vec<usize> = ranked.iter().take(max_columns).map(|r| r.1).collect();
            keep.sort_unstable();
            keep.iter().map(|&i| &self.columns[i]).collect()
        }
    }

    /// `… N more columns: a, b` for the columns `shown` leaves out, if any.
    fn not_shown(&self, shown: &[&ColumnDescription]) -> Option<String> {
        let names: Vec<&str> = self
            .columns
            .iter()
            .filter(|c| !shown.iter().any(|s| s.name == c.name))
            .map(|c| c.name.as_str())
            .collect();
        (!names.is_empty()).then(|| format!("… {} more columns: {}", names.len(), names.join(", ")))
    }

    /// Compact text for prompts with at most `max_columns` columns described: keys and the
    /// `focus` columns first, then table order; the others are named on one line.
    pub fn render_focused(&self, max_columns: usize, focus: &[String]) -> String {
        let mut out = format!("Table {}", self.table);
        if let Some(n) = self.row_estimate {
            let _ = write!(out, " ({n} rows)");
        }
        if self.kind == TableKind::View {
            out.push_str(" [view]");
        }
        if let Some(c) = &self.comment {
            let _ = write!(out, " -- {}", one_line(c, 300));
        }
        out.push('\n');
        let shown = self.shown_columns(max_columns, focus);
        for c in &shown {
            let _ = write!(out, "  {} {}", c.name, c.data_type);
            if let Some(cm) = &c.comment {
                let _ = write!(out, " -- {}", one_line(cm, 200));
            }
            if !c.samples.is_empty() {
                let _ = write!(out, " (e.g. {})", c.samples.join(", "));
            }
            out.push('\n');
        }
        if let Some(rest) = self.not_shown(&shown) {
            let _ = writeln!(out, "  {rest}");
        }
        if !self.primary_key.is_empty() {
            let _ = writeln!(out, "  primary key: {}", self.primary_key.join(", "));
        }
        for fk in &self.foreign_keys {
            let _ = writeln!(out, "  foreign key: {fk}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "  {n}");
        }
        out
    }
}

impl TableDescription {
    /// The table as SQL for a SQL-writing prompt, the form code models learned SQL from:
    /// `CREATE TABLE` with each described column's type, its comment and sample values as SQL
    /// comments, and the keys as constraints. The same columns as
    /// [`TableDescription::render_focused`]; the others are named in a comment.
    pub fn render_ddl(&self, max_columns: usize, focus: &[String]) -> String {
        let mut about: Vec<String> = Vec::new();
        if let Some(c) = &self.comment {
            about.push(one_line(c, 300));
        }
        if let Some(n) = self.row_estimate {
            about.push(format!("{n} rows"));
        }
        let kind = if self.kind == TableKind::View {
            "VIEW"
        } else {
            "TABLE"
        };
        let mut out = format!("CREATE {kind} {} (", self.table);
        if !about.is_empty() {
            let _ = write!(out, " -- {}", about.join("; "));
        }
        out.push('\n');
        // Items, each with its comment: the last one takes no comma.
        let mut items: Vec<(String, String)> = Vec::new();
        let shown = self.shown_columns(max_columns, focus);
        for c in &shown {
            let mut notes: Vec<String> = Vec::new();
            if let Some(cm) = &c.comment {
                notes.push(one_line(cm, 200));
            }
            if !c.samples.is_empty() {
                notes.push(format!("e.g. {}", c.samples.join(", ")));
            }
            items.push((format!("{} {}", c.name, c.data_type), notes.join("; ")));
        }
        if !self.primary_key.is_empty() {
            items.push((
                format!("PRIMARY KEY ({})", self.primary_key.join(", ")),
                String::new(),
            ));
        }
        for fk in &self.foreign_keys {
            let item = match fk.split_once(" -> ") {
                Some((cols, target)) => format!("FOREIGN KEY ({cols}) REFERENCES {target}"),
                None => format!("-- foreign key: {fk}"),
            };
            items.push((item, String::new()));
        }
        let n = items.len();
        for (i, (item, note)) in items.into_iter().enumerate() {
            let comma = if i + 1 < n && !item.starts_with("--") {
                ","
            } else {
                ""
            };
            let _ = write!(out, "  {item}{comma}");
            if !note.is_empty() {
                let _ = write!(out, " -- {note}");
            }
            out.push('\n');
        }
        if let Some(rest) = self.not_shown(&shown) {
            let _ = writeln!(out, "  -- {rest}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "  -- {}", one_line(n, 300));
        }
        out.push_str(");\n");
        out
    }
}

/// Whether an engine type name is numeric (`INT`, `DOUBLE`, `DECIMAL(10,2)`, `Float64`, …).
pub(crate) fn is_numeric_type(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    [
        "int", "float", "double", "decimal", "numeric", "real", "number",
    ]
    .iter()
    .any(|k| t.contains(k))
        && !t.contains("interval")
        && !t.contains("point")
}

/// One connection's cached catalog.
#[derive(Debug, Clone)]
pub(super) struct Catalog {
    pub info: ConnectorInfo,
    pub tables: Vec<TableRef>,
    /// Bulk-loaded schemas (from [`Connector::catalog`](crate::Connector::catalog)).
    pub schemas: HashMap<TableRef, TableSchema>,
    /// Full descriptions with sample values, loaded on demand.
    pub described: BTreeMap<TableRef, TableDescription>,
}

impl Catalog {
    /// A catalog of `tables` with the `schemas` known so far and nothing described yet.
    fn new(
        info: ConnectorInfo,
        tables: Vec<TableRef>,
        schemas: HashMap<TableRef, TableSchema>,
    ) -> Self {
        Self {
            info,
            tables,
            schemas,
            described: BTreeMap::new(),
        }
    }

    /// A table's description (with samples when described, else from the schema), without
    /// knowledge notes.
    pub fn description(&self, connection: &str, table: &TableRef) -> Option<TableDescription> {
        self.described.get(table).cloned().or_else(|| {
            self.schemas
                .get(table)
                .map(|s| TableDescription::from_schema(connection, s))
        })
    }
}

/// The catalogs by connection name and the ranking index built from them.
#[derive(Debug, Default)]
pub(super) struct Catalogs {
    by_name: BTreeMap<String, Catalog>,
    /// Built on first use after a change, dropped by every change.
    index: Option<Arc<SchemaIndex>>,
}

impl Catalogs {
    /// The catalog of a connection.
    pub fn get(&self, name: &str) -> Option<&Catalog> {
        self.by_name.get(name)
    }

    /// The catalogs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Catalog)> {
        self.by_name.iter()
    }

    /// How many connections are cached.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Adds or replaces a catalog; the index is rebuilt on next use.
    fn insert(&mut self, catalog: Catalog) {
        self.by_name.insert(catalog.info.name.clone(), catalog);
        self.index = None;
    }

    /// Forgets every catalog and the index.
    pub fn clear(&mut self) {
        self.by_name.clear();
        self.index = None;
    }
}

/// [`Catalogs`] behind their lock. No guard is held across an `.await`, and none is taken while
/// another guard of the same lock is held on the thread (a second read of a std `RwLock`
/// deadlocks once a writer is queued).
#[derive(Debug, Default)]
pub(super) struct CatalogCache(RwLock<Catalogs>);

impl CatalogCache {
    /// A read guard.
    pub fn read(&self) -> Result<RwLockReadGuard<'_, Catalogs>> {
        self.0.read().map_err(|_| poisoned())
    }

    /// A write guard.
    pub fn write(&self) -> Result<RwLockWriteGuard<'_, Catalogs>> {
        self.0.write().map_err(|_| poisoned())
    }
}

fn poisoned() -> Error {
    Error::Internal("context hub lock poisoned".into())
}

impl ContextHub {
    /// Adds (or replaces) a connection's catalog from schemas already known — for offline
    /// evaluation, tests and hosts that cache catalogs.
    pub fn add_catalog(&self, info: ConnectorInfo, schemas: Vec<TableSchema>) -> Result<()> {
        let tables = schemas.iter().map(|s| s.table.clone()).collect();
        let schemas = schemas.into_iter().map(|s| (s.table.clone(), s)).collect();
        self.catalogs
            .write()?
            .insert(Catalog::new(info, tables, schemas));
        Ok(())
    }

    /// Loads the catalogs of `connections` not cached yet: table names, and every table's
    /// columns when the catalog is no larger than `max_catalog_tables`.
    pub async fn load_catalogs(&self, connections: &[ConnectorRef]) -> Result<()> {
        for conn in connections {
            let info = conn.info();
            if self.catalogs.read()?.get(&info.name).is_some() {
                continue;
            }
            let tables = conn.list_tables().await?;
            let schemas: HashMap<TableRef, TableSchema> =
                if tables.len() <= self.config.max_catalog_tables {
                    conn.catalog()
                        .await?
                        .into_iter()
                        .map(|s| (s.table.clone(), s))
                        .collect()
                } else {
                    HashMap::new()
                };
            self.catalogs
                .write()?
                .insert(Catalog::new(info, tables, schemas));
        }
        Ok(())
    }

    /// The ranking index over every cached catalog, built on first use after a change.
    pub(super) fn index(&self) -> Result<Arc<SchemaIndex>> {
        let cached = self.catalogs.read()?.index.clone();
        if let Some(i) = cached {
            return Ok(i);
        }
        let mut g = self.catalogs.write()?;
        // Another caller may have built it while this one waited for the write lock.
        if let Some(i) = &g.index {
            return Ok(i.clone());
        }
        let inputs: Vec<CatalogInput<'_>> = g
            .by_name
            .iter()
            .map(|(name, c)| CatalogInput {
                connection: name,
                tables: &c.tables,
                schemas: &c.schemas,
            })
            .collect();
        let idx = Arc::new(SchemaIndex::build(&inputs, self.knowledge.by_table()));
        g.index = Some(idx.clone());
        Ok(idx)
    }

    /// The description of a table as the prompt shows it: with samples when described, else
    /// from the catalog, plus knowledge notes.
    pub(super) fn table_description(
        &self,
        connection: &str,
        table: &TableRef,
    ) -> Option<TableDescription> {
        let mut d = self
            .catalogs
            .read()
            .ok()?
            .get(connection)?
            .description(connection, table)?;
        self.knowledge.annotate(&mut d, table);
        Some(d)
    }

    /// Describes `names` on `conn` (cached): columns, keys, row estimate, sample values.
    /// Returns the descriptions and the names that matched no table.
    pub async fn describe(
        &self,
        conn: &ConnectorRef,
        names: &[String],
    ) -> Result<(Vec<TableDescription>, Vec<String>)> {
        let info = conn.info();
        let cached_tables = self
            .catalogs
            .read()?
            .get(&info.name)
            .map(|c| c.tables.clone());
        let tables = match cached_tables {
            Some(t) => t,
            None => {
                let t = conn.list_tables().await?;
                self.catalogs.write()?.insert(Catalog::new(
                    info.clone(),
                    t.clone(),
                    HashMap::new(),
                ));
                t
            }
        };
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for name in names {
            let Some(t) = tables.iter().find(|t| t.matches(name)).cloned() else {
                missing.push(name.clone());
                continue;
            };
            let (cached, known) = {
                let g = self.catalogs.read()?;
                let c = g.get(&info.name);
                let cached = c.and_then(|c| c.described.get(&t).cloned());
                let known = match cached {
                    Some(_) => None,
                    None => c.and_then(|c| c.schemas.get(&t).cloned()),
                };
                (cached, known)
            };
            let mut d = match cached {
                Some(d) => d,
                None => {
                    let d = self.load_description(conn, &info, &t, known).await?;
                    // Not `insert`: a description leaves the index as it is.
                    if let Some(c) = self.catalogs.write()?.by_name.get_mut(&info.name) {
                        c.described.insert(t.clone(), d.clone());
                    }
                    d
                }
            };
            self.knowledge.annotate(&mut d, &t);
            found.push(d);
        }
        Ok((found, missing))
    }

    async fn load_description(
        &self,
        conn: &ConnectorRef,
        info: &ConnectorInfo,
        t: &TableRef,
        known: Option<TableSchema>,
    ) -> Result<TableDescription> {
        let schema = match known {
            Some(s) => s,
            None => conn.table_schema(t).await?,
        };
        let mut d = TableDescription::from_schema(&info.name, &schema);
        d.table = t.to_string();
        if self.config.sample_values == 0 {
            return Ok(d);
        }
        let Ok(samples) = conn.sample(t, 200).await else {
            return Ok(d);
        };
        let rows = data::batches_to_json_rows(&samples.batches, 200).unwrap_or_default();
        for c in &mut d.columns {
            // Sample values earn their tokens on text and time columns (codes, spellings,
            // formats); numbers are better learned with inspect_data.
            if is_numeric_type(&c.data_type) {
                continue;
            }
            for row in &rows {
                if c.samples.len() >= self.config.sample_values {
                    break;
                }
                let v = match row.get(&c.name) {
                    Some(serde_json::Value::String(s)) => s.chars().take(40).collect(),
                    Some(serde_json::Value::Bool(b)) => b.to_string(),
                    _ => continue,
                };
                if !c.samples.contains(&v) {
                    c.samples.push(v);
                }
            }
        }
        Ok(d)
    }

    /// Table names of a connection (from the cached listing).
    pub fn table_names(&self, connection: &str) -> Vec<String> {
        self.catalogs
            .read()
            .ok()
            .and_then(|g| {
                g.get(connection)
                    .map(|c| c.tables.iter().map(ToString::to_string).collect())
            })
            .unwrap_or_default()
    }
}
