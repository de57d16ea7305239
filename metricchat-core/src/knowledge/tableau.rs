//! Tableau data sources (`.tds`) and workbooks (`.twb`).
//!
//! Each `<datasource>` (a workbook's `Parameters` one excepted) becomes a
//! [`ResourceKind::DataSource`] resource:
//! - tables from its `<relation type='table' table='[schema].[table]'>` elements, joins and the
//!   newer object model included, qualified with the connection's `dbname` / `schema` where the
//!   table name lacks them; custom SQL relations (`type='text'`) give [`Resource::sql`] and the
//!   tables that SQL reads;
//! - fields from `<metadata-record class='column'>` (physical columns: remote name and type),
//!   overlaid by `<column>` elements (`caption`, `datatype`, `role` → dimension / measure) and
//!   `<calculation formula=…>` → [`FieldKind::Calculated`];
//! - the connection (`class`, `server`, `dbname`, `schema`), the join clauses and, in a workbook,
//!   the worksheets that use the data source, in [`Resource::meta`].
//!
//! Packaged files (`.tdsx`, `.twbx`) are zip archives: extract the `.tds` / `.twb` first.

use std::collections::HashMap;
use std::path::Path;

use roxmltree::{Document, Node};

use super::{
    FieldKind, Resource, ResourceField, ResourceKind, ResourceSource, non_empty, push_unique,
    read_text, split_dotted, tables_in_sql,
};
use crate::error::{Error, Result};

/// Parses the XML of a `.tds` or `.twb` file; `path` names it in resources and errors.
///
/// Malformed XML is [`Error::InvalidInput`] with the line and column; XML whose root is neither
/// `<datasource>` nor `<workbook>` is [`Error::InvalidInput`] too.
pub fn parse(xml: &str, path: &str) -> Result<Vec<Resource>> {
    let xml = xml.trim_start_matches('\u{feff}');
    let doc = Document::parse(xml)
        .map_err(|e| Error::invalid_input(format!("{path}: malformed XML: {e}")))?;
    let root = doc.root_element();
    let stem = Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_owned());
    match root.tag_name().name() {
        "datasource" => Ok(vec![datasource(root, path, &stem, &HashMap::new())]),
        "workbook" => {
            let usage = worksheet_usage(root);
            Ok(children(root, "datasources")
                .flat_map(|d| children(d, "datasource"))
                .filter(|d| d.attribute("name") != Some("Parameters"))
                .map(|d| datasource(d, path, &stem, &usage))
                .collect())
        }
        other => Err(Error::invalid_input(format!(
            "{path}: not a Tableau data source or workbook (root element is <{other}>)"
        ))),
    }
}

/// Reads and parses a `.tds` or `.twb` file.
pub fn load_file(path: &Path) -> Result<Vec<Resource>> {
    if super::has_ext(path, &["tdsx", "twbx"]) {
        return Err(Error::Unsupported(format!(
            "{}: packaged Tableau files are zip archives; extract the .tds/.twb inside first",
            path.display()
        )));
    }
    parse(&read_text(path)?, &path.to_string_lossy())
}

fn children<'a, 'i>(node: Node<'a, 'i>, tag: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |n| n.is_element() && n.tag_name().name() == tag)
}

fn child<'a, 'i>(node: Node<'a, 'i>, tag: &'static str) -> Option<Node<'a, 'i>> {
    children(node, tag).next()
}

/// The tag without the `_.fcp.…` feature-flag prefixes newer Tableau versions add.
fn base_tag<'a>(node: &Node<'a, '_>) -> &'a str {
    let name = node.tag_name().name();
    name.rsplit("...").next().unwrap_or(name)
}

fn strip_brackets(s: &str) -> String {
    split_dotted(s).join(".")
}

/// Data source name → worksheets that use it.
fn worksheet_usage(workbook: Node<'_, '_>) -> HashMap<String, Vec<String>> {
    let mut usage: HashMap<String, Vec<String>> = HashMap::new();
    for ws in children(workbook, "worksheets").flat_map(|w| children(w, "worksheet")) {
        let Some(ws_name) = ws.attribute("name") else {
            continue;
        };
        for d in ws
            .descendants()
            .filter(|n| n.has_tag_name("datasource"))
            .filter_map(|n| n.attribute("name"))
        {
            let list = usage.entry(d.to_owned()).or_default();
            push_unique(list, ws_name.to_owned());
        }
    }
    usage
}

#[derive(Default, Clone)]
struct Conn {
    class: Option<String>,
    server: Option<String>,
    dbname: Option<String>,
    schema: Option<String>,
}

impl Conn {
    fn from(node: Node<'_, '_>) -> Self {
        let attr = |k: &str| non_empty(node.attribute(k));
        Conn {
            class: attr("class"),
            server: attr("server"),
            dbname: attr("dbname"),
            schema: attr("schema"),
        }
    }

    /// Whether `dbname` names a database (not a file, as for Excel, text and extracts).
    fn dbname_is_database(&self) -> bool {
        !matches!(
            self.class.as_deref(),
            Some("excel-direct" | "textscan" | "hyper" | "dataengine" | "ogrdirect")
        )
    }

    fn qualify(&self, table: &str) -> String {
        let parts = split_dotted(table);
        let mut out: Vec<String> = Vec::new();
        if parts.len() < 3
            && self.dbname_is_database()
            && let Some(db) = &self.dbname
            && (parts.len() == 2 || self.schema.is_some())
        {
            out.push(db.clone());
        }
        if parts.len() == 1
            && let Some(schema) = &self.schema
        {
            out.push(schema.clone());
        }
        out.extend(parts);
        out.join(".")
    }
}

fn datasource(
    ds: Node<'_, '_>,
    path: &str,
    stem: &str,
    usage: &HashMap<String, Vec<String>>,
) -> Resource {
    let caption = non_empty(ds.attribute("caption"));
    let ds_name = non_empty(ds.attribute("name"));
    let id_name = ds_name.clone().unwrap_or_else(|| stem.to_owned());
    let name = caption
        .clone()
        .or_else(|| ds_name.clone())
        .unwrap_or_else(|| stem.to_owned());
    let id = if ds_name.is_some() {
        format!("tableau:datasource.{stem}.{id_name}")
    } else {
        format!("tableau:datasource.{stem}")
    };
    let mut r = Resource::new(id, ResourceSource::Tableau, ResourceKind::DataSource, name);
    r.label = caption;
    r.path = Some(path.to_owned());

    // Connections: the data source's own, and the named ones of a federated connection.
    let top = child(ds, "connection");
    let mut named: HashMap<String, Conn> = HashMap::new();
    let mut main = top.map(Conn::from).unwrap_or_default();
    if let Some(top) = top {
        for nc in top
            .descendants()
            .filter(|n| n.is_element() && base_tag(n) == "named-connection")
        {
            if let (Some(n), Some(c)) = (nc.attribute("name"), child(nc, "connection")) {
                named.insert(n.to_owned(), Conn::from(c));
            }
        }
        if main.class.as_deref() == Some("federated")
            && let Some(first) = top
                .descendants()
                .find(|n| n.is_element() && base_tag(n) == "named-connection")
                .and_then(|nc| nc.attribute("name"))
                .and_then(|n| named.get(n))
        {
            main = first.clone();
        }
    }
    for (key, value) in [
        ("connection", &main.class),
        ("server", &main.server),
        ("dbname", &main.dbname),
        ("schema", &main.schema),
    ] {
        if let Some(v) = value {
            r.meta.insert(key.into(), v.clone());
        }
    }

    // Relations, in the connection and in the newer object graph.
    let scopes: Vec<Node<'_, '_>> = ds
        .children()
        .filter(|n| n.is_element() && matches!(base_tag(n), "connection" | "object-graph"))
        .collect();
    let mut custom_sql: Vec<String> = Vec::new();
    let mut joins = 0;
    for rel in scopes
        .iter()
        .flat_map(|s| s.descendants())
        .filter(|n| n.is_element() && base_tag(n) == "relation")
    {
        let conn = rel
            .attribute("connection")
            .and_then(|c| named.get(c))
            .unwrap_or(&main);
        match rel.attribute("type") {
            Some("table") => {
                if let Some(t) = rel.attribute("table") {
                    push_unique(&mut r.tables, conn.qualify(t));
                }
            }
            Some("text") => {
                if let Some(sql) = non_empty(rel.text()) {
                    for t in tables_in_sql(&sql) {
                        push_unique(&mut r.tables, conn.qualify(&t));
                    }
                    if !custom_sql.contains(&sql) {
                        custom_sql.push(sql);
                    }
                }
            }
            Some("join") => {
                let on: Vec<String> = children(rel, "clause")
                    .filter_map(|c| child(c, "expression"))
                    .map(expression)
                    .collect();
                let sides: Vec<String> = rel
                    .children()
                    .filter(|n| n.is_element() && base_tag(n) == "relation")
                    .filter_map(|n| n.attribute("name").map(str::to_owned))
                    .collect();
                joins += 1;
                let kind = rel.attribute("join").unwrap_or("inner");
                let mut text = format!("{kind} join");
                if !sides.is_empty() {
                    text.push_str(&format!(" of {}", sides.join(", ")));
                }
                if !on.is_empty() {
                    text.push_str(&format!(" on {}", on.join(" AND ")));
                }
                r.meta.insert(format!("join.{joins}"), text);
            }
            _ => {}
        }
    }
    // Object-model relationships between logical tables.
    for rel in scopes
        .iter()
        .flat_map(|s| s.descendants())
        .filter(|n| n.is_element() && base_tag(n) == "relationship")
    {
        if let Some(e) = child(rel, "expression") {
            joins += 1;
            r.meta.insert(
                format!("join.{joins}"),
                format!("relationship on {}", expression(e)),
            );
        }
    }
    if !custom_sql.is_empty() {
        r.sql = Some(custom_sql.join(";\n"));
    }

    // Physical columns from the metadata records, in order.
    let records = scopes
        .iter()
        .flat_map(|s| s.descendants())
        .filter(|n| n.has_tag_name("metadata-record") && n.attribute("class") == Some("column"));
    let mut by_local: HashMap<String, usize> = HashMap::new();
    for rec in records {
        let text = |tag: &'static str| child(rec, tag).and_then(|n| non_empty(n.text()));
        let Some(local) = text("local-name") else {
            continue;
        };
        let key = strip_brackets(&local);
        if by_local.contains_key(&key) {
            continue;
        }
        let mut f = ResourceField::new(&key, FieldKind::Column);
        f.column = text("remote-name");
        f.data_type = text("local-type");
        by_local.insert(key, r.fields.len());
        r.fields.push(f);
    }

    // Declared columns: captions, roles, calculations.
    for col in children(ds, "column") {
        let Some(raw_name) = col.attribute("name") else {
            continue;
        };
        let key = strip_brackets(raw_name);
        if key.starts_with(':') || key.is_empty() {
            continue;
        }
        let formula = child(col, "calculation").and_then(|c| non_empty(c.attribute("formula")));
        let kind = if formula.is_some() {
            FieldKind::Calculated
        } else if col.attribute("role") == Some("measure") {
            FieldKind::Measure
        } else {
            FieldKind::Dimension
        };
        let description = child(col, "desc").and_then(|d| {
            let runs: Vec<&str> = d
                .descendants()
                .filter(|n| n.has_tag_name("run"))
                .filter_map(|n| n.text())
                .collect();
            non_empty(Some(&runs.concat()))
        });
        let f = match by_local.get(&key) {
            Some(&i) => &mut r.fields[i],
            None => {
                by_local.insert(key.clone(), r.fields.len());
                r.fields.push(ResourceField::new(&key, kind));
                let last = r.fields.len() - 1;
                &mut r.fields[last]
            }
        };
        f.kind = kind;
        if let Some(c) = non_empty(col.attribute("caption")) {
            f.label = Some(c);
        }
        if let Some(t) = non_empty(col.attribute("datatype")) {
            f.data_type = Some(t);
        }
        if description.is_some() {
            f.description = description;
        }
        if formula.is_some() {
            f.expression = formula;
            f.column = None;
        }
    }

    if let Some(sheets) = ds_name.as_ref().and_then(|n| usage.get(n)) {
        r.meta.insert("worksheets".into(), sheets.join(", "));
    }
    r
}

/// A join clause expression: `<expression op='='><expression op='[a].[x]'/>…` → `[a].[x] = …`.
fn expression(node: Node<'_, '_>) -> String {
    let op = node.attribute("op").unwrap_or_default();
    let args: Vec<String> = children(node, "expression").map(expression).collect();
    match args.len() {
        0 => op.to_owned(),
        1 => format!("{op} {}", args[0]),
        _ => args.join(&format!(" {} ", op.to_uppercase())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn qualify_adds_known_parts() {
        let c = Conn {
            class: Some("postgres".into()),
            dbname: Some("shop".into()),
            schema: Some("public".into()),
            ..Conn::default()
        };
        assert_eq!(c.qualify("[public].[orders]"), "shop.public.orders");
        assert_eq!(c.qualify("[orders]"), "shop.public.orders");
        let file = Conn {
            class: Some("excel-direct".into()),
            dbname: Some("C:/x.xlsx".into()),
            ..Conn::default()
        };
        assert_eq!(file.qualify("['Sheet1$']"), "'Sheet1$'");
    }

    #[test]
    fn not_tableau() {
        let e = parse("<html/>", "x.tds").unwrap_err();
        assert!(e.to_string().contains("root element is <html>"), "{e}");
    }
}
