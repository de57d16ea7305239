//! dbt artifacts: `manifest.json` (schema v10–v12, dbt 1.6 and later) and `catalog.json`.
//!
//! - `nodes` of type `model`, `seed` and `snapshot` become [`ResourceKind::Model`] /
//!   [`ResourceKind::Seed`] resources with their columns; generic data tests (`unique`,
//!   `not_null`, `accepted_values`, `relationships`, package tests) are attached to the column they
//!   test, and `relationships` targets are linked in [`Resource::related`].
//! - `sources` become [`ResourceKind::Source`] resources.
//! - `semantic_models` become [`ResourceKind::SemanticModel`] resources with entities,
//!   dimensions and measures, on the table of their `node_relation`.
//! - `metrics` become [`ResourceKind::Metric`] resources linked to the semantic models whose
//!   measures they use, and to those models' tables.
//!
//! `catalog.json` adds column types, table comments, owners and stats (`row_count`, `bytes`…).
//! Table names are `database.schema.alias` (the unquoted `relation_name`); [`Knowledge`]
//! matches them as `schema.alias` or `alias` too. Keys this parser does not know are ignored.
//!
//! [`Knowledge`]: super::Knowledge

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{
    FieldKind, Resource, ResourceField, ResourceKind, ResourceSource, non_empty, push_unique,
    read_text, unquote_relation,
};
use crate::error::{Error, Result};

/// Parses a dbt `manifest.json` and, optionally, the `catalog.json` of the same project.
///
/// Malformed JSON, or JSON that is not a dbt manifest, is [`Error::InvalidInput`] naming the
/// file and the line and column.
pub fn parse_manifest(manifest_json: &str, catalog_json: Option<&str>) -> Result<Vec<Resource>> {
    parse_manifest_at(
        manifest_json,
        catalog_json,
        Path::new("manifest.json"),
        Path::new("catalog.json"),
    )
}

/// Reads `manifest.json` and, if present, `catalog.json` from a dbt `target/` directory.
pub fn load_dir(target_dir: &Path) -> Result<Vec<Resource>> {
    let manifest_path = target_dir.join("manifest.json");
    let catalog_path = target_dir.join("catalog.json");
    let manifest = read_text(&manifest_path)?;
    let catalog = if catalog_path.is_file() {
        Some(read_text(&catalog_path)?)
    } else {
        None
    };
    parse_manifest_at(&manifest, catalog.as_deref(), &manifest_path, &catalog_path)
}

pub(crate) fn parse_manifest_at(
    manifest_json: &str,
    catalog_json: Option<&str>,
    manifest_path: &Path,
    catalog_path: &Path,
) -> Result<Vec<Resource>> {
    let manifest: Manifest = from_json(manifest_json, manifest_path)?;
    if manifest.nodes.is_none() && manifest.metadata.is_none() {
        return Err(Error::invalid_input(format!(
            "{}: not a dbt manifest (no `metadata` or `nodes`)",
            manifest_path.display()
        )));
    }
    let catalog: Option<Catalog> = catalog_json
        .map(|c| from_json(c, catalog_path))
        .transpose()?;
    Ok(build(manifest, catalog))
}

fn from_json<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| Error::invalid_input(format!("{}: malformed JSON: {e}", path.display())))
}

// ---------------------------------------------------------------------------------------------
// Wire types: only the keys we read; everything else is ignored.

#[derive(Deserialize, Default)]
#[serde(default)]
struct Manifest {
    metadata: Option<Value>,
    #[serde(deserialize_with = "null_default")]
    nodes: Option<BTreeMap<String, Node>>,
    #[serde(deserialize_with = "null_default")]
    sources: BTreeMap<String, Node>,
    #[serde(deserialize_with = "null_default")]
    semantic_models: BTreeMap<String, SemanticModel>,
    #[serde(deserialize_with = "null_default")]
    metrics: BTreeMap<String, Metric>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Node {
    resource_type: String,
    name: String,
    database: Option<String>,
    schema: Option<String>,
    alias: Option<String>,
    identifier: Option<String>,
    relation_name: Option<String>,
    description: Option<String>,
    source_name: Option<String>,
    source_description: Option<String>,
    loader: Option<String>,
    #[serde(deserialize_with = "ordered")]
    columns: Vec<(String, Column)>,
    #[serde(deserialize_with = "null_default")]
    tags: Vec<String>,
    original_file_path: Option<String>,
    package_name: Option<String>,
    compiled_code: Option<String>,
    compiled_sql: Option<String>,
    raw_code: Option<String>,
    raw_sql: Option<String>,
    #[serde(deserialize_with = "null_default")]
    config: Config,
    #[serde(deserialize_with = "null_default")]
    depends_on: DependsOn,
    test_metadata: Option<TestMetadata>,
    column_name: Option<String>,
    attached_node: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    materialized: Option<String>,
    enabled: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DependsOn {
    #[serde(deserialize_with = "null_default")]
    nodes: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Column {
    name: Option<String>,
    description: Option<String>,
    data_type: Option<String>,
    #[serde(deserialize_with = "null_default")]
    constraints: Vec<Constraint>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Constraint {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TestMetadata {
    name: String,
    namespace: Option<String>,
    #[serde(deserialize_with = "ordered")]
    kwargs: Vec<(String, Value)>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SemanticModel {
    name: String,
    label: Option<String>,
    description: Option<String>,
    node_relation: Option<NodeRelation>,
    #[serde(deserialize_with = "null_default")]
    entities: Vec<SemanticElement>,
    #[serde(deserialize_with = "null_default")]
    dimensions: Vec<SemanticElement>,
    #[serde(deserialize_with = "null_default")]
    measures: Vec<SemanticElement>,
    defaults: Option<Value>,
    primary_entity: Option<String>,
    #[serde(deserialize_with = "null_default")]
    depends_on: DependsOn,
    original_file_path: Option<String>,
    #[serde(deserialize_with = "null_default")]
    tags: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NodeRelation {
    alias: Option<String>,
    schema_name: Option<String>,
    database: Option<String>,
    relation_name: Option<String>,
}

/// An entity, dimension or measure of a semantic model.
#[derive(Deserialize, Default)]
#[serde(default)]
struct SemanticElement {
    name: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    agg: Option<String>,
    label: Option<String>,
    description: Option<String>,
    #[serde(deserialize_with = "string_ish")]
    expr: Option<String>,
    agg_params: Option<Value>,
    type_params: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Metric {
    name: String,
    label: Option<String>,
    description: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(deserialize_with = "null_default")]
    type_params: TypeParams,
    filter: Option<Value>,
    #[serde(deserialize_with = "null_default")]
    depends_on: DependsOn,
    original_file_path: Option<String>,
    #[serde(deserialize_with = "null_default")]
    tags: Vec<String>,
    time_granularity: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TypeParams {
    measure: Option<NameRef>,
    #[serde(deserialize_with = "null_default")]
    input_measures: Vec<NameRef>,
    numerator: Option<NameRef>,
    denominator: Option<NameRef>,
    #[serde(deserialize_with = "string_ish")]
    expr: Option<String>,
    window: Option<Value>,
    grain_to_date: Option<String>,
    #[serde(deserialize_with = "null_default")]
    metrics: Vec<NameRef>,
    conversion_type_params: Option<Value>,
}

/// A measure or metric reference: `"name"` in older manifests, `{"name": …, "filter": …}` now.
#[derive(Deserialize)]
#[serde(untagged)]
enum NameRef {
    Name(String),
    Object {
        name: String,
        #[serde(default)]
        filter: Option<Value>,
    },
}

impl NameRef {
    fn name(&self) -> &str {
        match self {
            NameRef::Name(n) | NameRef::Object { name: n, .. } => n,
        }
    }
    fn filter(&self) -> Option<String> {
        match self {
            NameRef::Name(_) => None,
            NameRef::Object { filter, .. } => filter.as_ref().and_then(render_filter),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Catalog {
    #[serde(deserialize_with = "null_default")]
    nodes: BTreeMap<String, CatalogTable>,
    #[serde(deserialize_with = "null_default")]
    sources: BTreeMap<String, CatalogTable>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CatalogTable {
    #[serde(deserialize_with = "null_default")]
    metadata: CatalogMetadata,
    #[serde(deserialize_with = "ordered")]
    columns: Vec<(String, CatalogColumn)>,
    #[serde(deserialize_with = "ordered")]
    stats: Vec<(String, CatalogStat)>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CatalogMetadata {
    #[serde(rename = "type")]
    kind: Option<String>,
    database: Option<String>,
    schema: Option<String>,
    name: Option<String>,
    comment: Option<String>,
    owner: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CatalogColumn {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    index: Option<f64>,
    comment: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CatalogStat {
    id: Option<String>,
    value: Option<Value>,
    include: Option<bool>,
}

/// `null` as the type's default.
fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A string, or a number / boolean written where dbt expects a string (`expr: true`).
fn string_ish<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    })
}

/// A JSON object as its entries in file order (serde_json's map sorts keys).
fn ordered<'de, D, T>(d: D) -> std::result::Result<Vec<(String, T)>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Entries<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<T> {
        type Value = Vec<(String, T)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    d.deserialize_any(Entries(PhantomData))
}

// ---------------------------------------------------------------------------------------------
// Building resources.

fn build(manifest: Manifest, catalog: Option<Catalog>) -> Vec<Resource> {
    let catalog = catalog.unwrap_or_default();
    let nodes = manifest.nodes.unwrap_or_default();
    let mut out: Vec<Resource> = Vec::new();

    for (id, node) in &nodes {
        let kind = match node.resource_type.as_str() {
            "model" => ResourceKind::Model,
            "seed" | "snapshot" => ResourceKind::Seed,
            _ => continue,
        };
        if node.config.enabled == Some(false) {
            continue;
        }
        out.push(node_resource(id, node, kind, catalog.nodes.get(id)));
    }
    for (id, node) in &manifest.sources {
        if node.config.enabled == Some(false) {
            continue;
        }
        out.push(node_resource(
            id,
            node,
            ResourceKind::Source,
            catalog.sources.get(id),
        ));
    }
    attach_tests(&nodes, &manifest.sources, &mut out);

    // Measure name → (semantic model id, agg, expr) for metric expressions and links.
    let mut measures: HashMap<&str, (String, &SemanticElement)> = HashMap::new();
    let first_semantic = out.len();
    for (id, sm) in &manifest.semantic_models {
        let resource = semantic_model_resource(id, sm, &out);
        for m in &sm.measures {
            measures.insert(m.name.as_str(), (resource.id.clone(), m));
        }
        out.push(resource);
    }
    let mut metric_resources = Vec::new();
    for (id, metric) in &manifest.metrics {
        metric_resources.push(metric_resource(id, metric, &measures, &out));
    }
    // Back-links: a semantic model lists the metrics built on it.
    for metric in &metric_resources {
        for sm in out[first_semantic..]
            .iter_mut()
            .filter(|r| metric.related.contains(&r.id))
        {
            push_unique(&mut sm.related, metric.id.clone());
        }
    }
    out.extend(metric_resources);
    out
}

fn node_resource(
    id: &str,
    node: &Node,
    kind: ResourceKind,
    catalog: Option<&CatalogTable>,
) -> Resource {
    let mut r = Resource::new(format!("dbt:{id}"), ResourceSource::Dbt, kind, &node.name);
    r.description = non_empty(node.description.as_deref());
    if kind == ResourceKind::Source {
        if r.description.is_none() {
            r.description = non_empty(node.source_description.as_deref());
        }
        if let Some(source_name) = &node.source_name {
            r.meta.insert("source_name".into(), source_name.clone());
            r.label = Some(format!("{source_name}.{}", node.name));
        }
        if let Some(loader) = non_empty(node.loader.as_deref()) {
            r.meta.insert("loader".into(), loader);
        }
    }
    let ephemeral = node.config.materialized.as_deref() == Some("ephemeral");
    if let Some(relation) = non_empty(node.relation_name.as_deref()) {
        r.tables.push(unquote_relation(&relation));
    } else if !ephemeral {
        let table = node
            .identifier
            .as_deref()
            .or(node.alias.as_deref())
            .unwrap_or(&node.name);
        if let Some(schema) = non_empty(node.schema.as_deref()) {
            r.tables.push(match non_empty(node.database.as_deref()) {
                Some(db) => format!("{db}.{schema}.{table}"),
                None => format!("{schema}.{table}"),
            });
        }
    }
    r.sql = [
        &node.compiled_code,
        &node.compiled_sql,
        &node.raw_code,
        &node.raw_sql,
    ]
    .into_iter()
    .find_map(|s| non_empty(s.as_deref()));
    r.tags = node.tags.clone();
    r.path = node.original_file_path.clone();
    if let Some(m) = &node.config.materialized {
        r.meta.insert("materialized".into(), m.clone());
    }
    if node.resource_type == "snapshot" {
        r.meta.insert("resource_type".into(), "snapshot".into());
    }
    if let Some(p) = &node.package_name {
        r.meta.insert("package".into(), p.clone());
    }
    for dep in &node.depends_on.nodes {
        if is_table_node(dep) {
            push_unique(&mut r.related, format!("dbt:{dep}"));
        }
    }

    for (key, col) in &node.columns {
        let name = col.name.clone().unwrap_or_else(|| key.clone());
        let mut f = ResourceField::new(&name, FieldKind::Column);
        f.description = non_empty(col.description.as_deref());
        f.data_type = non_empty(col.data_type.as_deref());
        f.column = Some(name);
        for c in &col.constraints {
            if let Some(k) = &c.kind {
                push_unique(&mut f.tests, k.clone());
            }
        }
        r.fields.push(f);
    }
    if let Some(cat) = catalog {
        merge_catalog(&mut r, cat);
    }
    r
}

fn is_table_node(id: &str) -> bool {
    ["model.", "seed.", "snapshot.", "source."]
        .iter()
        .any(|p| id.starts_with(p))
}

fn merge_catalog(r: &mut Resource, cat: &CatalogTable) {
    let md = &cat.metadata;
    if r.description.is_none() {
        r.description = non_empty(md.comment.as_deref());
    }
    if r.tables.is_empty()
        && let (Some(schema), Some(name)) = (&md.schema, &md.name)
    {
        r.tables.push(match &md.database {
            Some(db) => format!("{db}.{schema}.{name}"),
            None => format!("{schema}.{name}"),
        });
    }
    if let Some(t) = non_empty(md.kind.as_deref()) {
        r.meta.insert("table_type".into(), t);
    }
    if let Some(o) = non_empty(md.owner.as_deref()) {
        r.meta.insert("owner".into(), o);
    }
    for (key, stat) in &cat.stats {
        if stat.include == Some(false) || key == "has_stats" {
            continue;
        }
        if let Some(v) = &stat.value {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            r.meta
                .insert(stat.id.clone().unwrap_or_else(|| key.clone()), v);
        }
    }

    // Catalog order (by `index`), documented-only columns after.
    let mut cols: Vec<&(String, CatalogColumn)> = cat.columns.iter().collect();
    cols.sort_by(|a, b| {
        let ia = a.1.index.unwrap_or(f64::MAX);
        let ib = b.1.index.unwrap_or(f64::MAX);
        ia.total_cmp(&ib)
    });
    let mut documented = std::mem::take(&mut r.fields);
    for (key, col) in cols {
        let name = col.name.clone().unwrap_or_else(|| key.clone());
        let mut f = match documented
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(&name))
        {
            Some(i) => documented.remove(i),
            None => {
                let mut f = ResourceField::new(&name, FieldKind::Column);
                f.column = Some(name.clone());
                f
            }
        };
        if let Some(t) = non_empty(col.kind.as_deref()) {
            f.data_type = Some(t);
        }
        if f.description.is_none() {
            f.description = non_empty(col.comment.as_deref());
        }
        r.fields.push(f);
    }
    r.fields.extend(documented);
}

/// Attaches generic data tests to the columns they test, and `relationships` targets to
/// [`Resource::related`].
fn attach_tests(
    nodes: &BTreeMap<String, Node>,
    sources: &BTreeMap<String, Node>,
    out: &mut [Resource],
) {
    for test in nodes.values().filter(|n| n.resource_type == "test") {
        let Some(meta) = &test.test_metadata else {
            continue; // singular (SQL file) tests test no one column
        };
        let kwarg = |k: &str| meta.kwargs.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let Some(target) = test_target(test, kwarg("model")) else {
            continue;
        };
        let column = non_empty(test.column_name.as_deref()).or_else(|| {
            kwarg("column_name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let text = test_text(meta, nodes, sources);
        let Some(resource) = out.iter_mut().find(|r| r.id == format!("dbt:{target}")) else {
            continue;
        };
        if meta.name == "relationships" {
            for dep in test.depends_on.nodes.iter().filter(|d| **d != target) {
                push_unique(&mut resource.related, format!("dbt:{dep}"));
            }
        }
        match column {
            Some(column) => {
                let column = column.trim_matches(|c| c == '"' || c == '`');
                let field = match resource
                    .fields
                    .iter()
                    .position(|f| f.name.eq_ignore_ascii_case(column))
                {
                    Some(i) => &mut resource.fields[i],
                    None => {
                        let mut f = ResourceField::new(column, FieldKind::Column);
                        f.column = Some(column.to_owned());
                        resource.fields.push(f);
                        let last = resource.fields.len() - 1;
                        &mut resource.fields[last]
                    }
                };
                push_unique(&mut field.tests, text);
            }
            None => {
                let entry = resource.meta.entry("tests".into()).or_default();
                if !entry.split("; ").any(|t| t == text) {
                    if !entry.is_empty() {
                        entry.push_str("; ");
                    }
                    entry.push_str(&text);
                }
            }
        }
    }
}

/// The node a test tests: `attached_node` (dbt 1.5+), else the one node it depends on, else
/// the node named by `ref('…')` / `source('…', '…')` in its `model` argument.
fn test_target(test: &Node, model_kwarg: Option<&Value>) -> Option<String> {
    if let Some(n) = non_empty(test.attached_node.as_deref()) {
        return Some(n);
    }
    let deps: Vec<&String> = test
        .depends_on
        .nodes
        .iter()
        .filter(|d| is_table_node(d))
        .collect();
    if deps.len() == 1 {
        return Some(deps[0].clone());
    }
    let target = parse_ref(model_kwarg?.as_str()?)?;
    deps.into_iter().find(|d| ref_matches(d, &target)).cloned()
}

/// `ref('orders')` → `["orders"]`; `source('raw', 'orders')` → `["raw", "orders"]`, found
/// anywhere in a Jinja string.
fn parse_ref(s: &str) -> Option<Vec<String>> {
    let start = s.find("ref(").or_else(|| s.find("source("))?;
    let rest = &s[start..];
    let open = rest.find('(')?;
    let close = rest.find(')')?;
    let args: Vec<String> = rest[open + 1..close]
        .split(',')
        .map(|a| a.trim().trim_matches(|c| c == '\'' || c == '"').to_owned())
        .filter(|a| !a.is_empty() && !a.contains('='))
        .collect();
    (!args.is_empty()).then_some(args)
}

fn ref_matches(id: &str, target: &[String]) -> bool {
    let parts: Vec<&str> = id.split('.').collect();
    match target {
        [name] => {
            !id.starts_with("source.") && parts.get(2).is_some_and(|n| n.eq_ignore_ascii_case(name))
        }
        [source, table] => {
            id.starts_with("source.")
                && parts.get(2).is_some_and(|s| s.eq_ignore_ascii_case(source))
                && parts.get(3).is_some_and(|t| t.eq_ignore_ascii_case(table))
        }
        _ => false,
    }
}

/// How a test reads in a field's `tests`: `unique`, `accepted_values: ['a', 'b']`,
/// `relationships: customers.customer_id`, `dbt_utils.accepted_range(min_value=0)`.
fn test_text(
    meta: &TestMetadata,
    nodes: &BTreeMap<String, Node>,
    sources: &BTreeMap<String, Node>,
) -> String {
    let kwarg = |k: &str| meta.kwargs.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    match meta.name.as_str() {
        "unique" | "not_null" if meta.namespace.is_none() => meta.name.clone(),
        "accepted_values" if meta.namespace.is_none() => {
            let values: Vec<String> = kwarg("values")
                .and_then(Value::as_array)
                .map(|vs| vs.iter().map(sql_literal).collect())
                .unwrap_or_default();
            format!("accepted_values: [{}]", values.join(", "))
        }
        "relationships" if meta.namespace.is_none() => {
            let to = kwarg("to").and_then(Value::as_str).unwrap_or_default();
            let field = kwarg("field").and_then(Value::as_str).unwrap_or_default();
            let to = match parse_ref(to) {
                Some(t) => ref_display(&t, nodes, sources),
                None => to.to_owned(),
            };
            format!("relationships: {to}.{field}")
        }
        name => {
            let full = match &meta.namespace {
                Some(ns) => format!("{ns}.{name}"),
                None => name.to_owned(),
            };
            let args: Vec<String> = meta
                .kwargs
                .iter()
                .filter(|(k, _)| k != "model" && k != "column_name")
                .map(|(k, v)| format!("{k}={}", sql_literal(v)))
                .collect();
            if args.is_empty() {
                full
            } else {
                format!("{full}({})", args.join(", "))
            }
        }
    }
}

/// The table a `ref`/`source` points at, as its alias (`customers`) or `source.table`.
fn ref_display(
    target: &[String],
    nodes: &BTreeMap<String, Node>,
    sources: &BTreeMap<String, Node>,
) -> String {
    let hit = nodes
        .iter()
        .chain(sources.iter())
        .find(|(id, n)| n.resource_type != "test" && ref_matches(id, target))
        .map(|(_, n)| n);
    match (target, hit) {
        ([name], Some(n)) => n.alias.clone().unwrap_or_else(|| name.clone()),
        ([_, _], Some(n)) => format!(
            "{}.{}",
            n.source_name.clone().unwrap_or_default(),
            n.identifier.clone().unwrap_or_else(|| n.name.clone())
        ),
        _ => target.join("."),
    }
}

fn sql_literal(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => other.to_string(),
    }
}

fn semantic_model_resource(id: &str, sm: &SemanticModel, tables_so_far: &[Resource]) -> Resource {
    let mut r = Resource::new(
        format!("dbt:{id}"),
        ResourceSource::Dbt,
        ResourceKind::SemanticModel,
        &sm.name,
    );
    r.label = non_empty(sm.label.as_deref());
    r.description = non_empty(sm.description.as_deref());
    r.path = sm.original_file_path.clone();
    r.tags = sm.tags.clone();
    if let Some(rel) = &sm.node_relation {
        if let Some(name) = non_empty(rel.relation_name.as_deref()) {
            r.tables.push(unquote_relation(&name));
        } else if let (Some(schema), Some(alias)) = (&rel.schema_name, &rel.alias) {
            r.tables.push(match non_empty(rel.database.as_deref()) {
                Some(db) => format!("{db}.{schema}.{alias}"),
                None => format!("{schema}.{alias}"),
            });
        }
    }
    for dep in &sm.depends_on.nodes {
        let dep_id = format!("dbt:{dep}");
        if r.tables.is_empty()
            && let Some(model) = tables_so_far.iter().find(|m| m.id == dep_id)
        {
            r.tables.extend(model.tables.iter().cloned());
        }
        push_unique(&mut r.related, dep_id);
    }
    if let Some(agg_time) = sm
        .defaults
        .as_ref()
        .and_then(|d| d.get("agg_time_dimension"))
        .and_then(Value::as_str)
    {
        r.meta
            .insert("agg_time_dimension".into(), agg_time.to_owned());
    }
    if let Some(p) = &sm.primary_entity {
        r.meta.insert("primary_entity".into(), p.clone());
    }

    let groups = [
        (&sm.entities, FieldKind::Entity),
        (&sm.dimensions, FieldKind::Dimension),
        (&sm.measures, FieldKind::Measure),
    ];
    for (elements, kind) in groups {
        for e in elements.iter() {
            let mut f = ResourceField::new(&e.name, kind);
            f.label = non_empty(e.label.as_deref());
            f.description = non_empty(e.description.as_deref());
            f.data_type = match kind {
                FieldKind::Measure => non_empty(e.agg.as_deref()),
                _ => {
                    let grain = e
                        .type_params
                        .as_ref()
                        .and_then(|t| t.get("time_granularity"))
                        .and_then(Value::as_str);
                    match (non_empty(e.kind.as_deref()), grain) {
                        (Some(t), Some(g)) => Some(format!("{t} ({g})")),
                        (t, _) => t,
                    }
                }
            };
            f.expression = non_empty(e.expr.as_deref());
            // Without `expr` the element reads the column of its own name.
            f.column = match &f.expression {
                None => Some(e.name.clone()),
                Some(x) if super::is_identifier(x) => Some(x.clone()),
                Some(_) => None,
            };
            r.fields.push(f);
        }
    }
    r
}

fn metric_resource(
    id: &str,
    metric: &Metric,
    measures: &HashMap<&str, (String, &SemanticElement)>,
    resources: &[Resource],
) -> Resource {
    let mut r = Resource::new(
        format!("dbt:{id}"),
        ResourceSource::Dbt,
        ResourceKind::Metric,
        &metric.name,
    );
    r.label = non_empty(metric.label.as_deref());
    r.description = non_empty(metric.description.as_deref());
    r.path = metric.original_file_path.clone();
    r.tags = metric.tags.clone();
    let kind = metric.kind.clone().unwrap_or_else(|| "simple".into());
    r.meta.insert("type".into(), kind.clone());
    let tp = &metric.type_params;

    // Every measure the metric reads, for links to semantic models and their tables.
    let mut measure_names: Vec<&str> = tp.input_measures.iter().map(NameRef::name).collect();
    if let Some(m) = &tp.measure
        && !measure_names.contains(&m.name())
    {
        measure_names.push(m.name());
    }
    for name in &measure_names {
        if let Some((sm_id, _)) = measures.get(name) {
            push_unique(&mut r.related, sm_id.clone());
            if let Some(sm) = resources.iter().find(|x| &x.id == sm_id) {
                for t in &sm.tables {
                    push_unique(&mut r.tables, t.clone());
                }
            }
        }
    }
    for dep in &metric.depends_on.nodes {
        if dep.starts_with("semantic_model.") || dep.starts_with("metric.") {
            push_unique(&mut r.related, format!("dbt:{dep}"));
        }
    }
    if !measure_names.is_empty() {
        r.meta.insert("measures".into(), measure_names.join(", "));
    }

    let measure_sql = |name: &str| {
        measures
            .get(name)
            .map(|(_, m)| aggregate_sql(m))
            .unwrap_or_else(|| name.to_owned())
    };
    r.sql = match kind.as_str() {
        "simple" | "cumulative" => tp.measure.as_ref().map(|m| measure_sql(m.name())),
        "ratio" => match (&tp.numerator, &tp.denominator) {
            (Some(n), Some(d)) => Some(format!("{} / NULLIF({}, 0)", n.name(), d.name())),
            _ => None,
        },
        "derived" => non_empty(tp.expr.as_deref()),
        _ => None,
    };
    if let Some(w) = &tp.window {
        r.meta.insert("window".into(), render_window(w));
    }
    if let Some(g) = &tp.grain_to_date {
        r.meta.insert("grain_to_date".into(), g.clone());
    }
    if let Some(g) = &metric.time_granularity {
        r.meta.insert("time_granularity".into(), g.clone());
    }
    if !tp.metrics.is_empty() {
        let names: Vec<&str> = tp.metrics.iter().map(NameRef::name).collect();
        r.meta.insert("metrics".into(), names.join(", "));
    }
    if let Some(c) = &tp.conversion_type_params {
        for key in ["base_measure", "conversion_measure"] {
            if let Some(name) = c
                .get(key)
                .and_then(|m| m.get("name").or(Some(m)))
                .and_then(Value::as_str)
            {
                r.meta.insert(key.into(), name.to_owned());
            }
        }
        if let Some(e) = c.get("entity").and_then(Value::as_str) {
            r.meta.insert("entity".into(), e.to_owned());
        }
    }
    let mut filters: Vec<String> = metric.filter.iter().filter_map(render_filter).collect();
    filters.extend(tp.measure.iter().filter_map(NameRef::filter));
    if !filters.is_empty() {
        r.meta.insert("filter".into(), filters.join(" AND "));
    }
    r
}

/// `SUM(order_total)`, `COUNT(DISTINCT customer_id)`… for a semantic-model measure.
fn aggregate_sql(m: &SemanticElement) -> String {
    let expr = m.expr.clone().unwrap_or_else(|| m.name.clone());
    match m.agg.as_deref().unwrap_or("sum") {
        "count_distinct" => format!("COUNT(DISTINCT {expr})"),
        "average" => format!("AVG({expr})"),
        "sum_boolean" => format!("SUM(CASE WHEN {expr} THEN 1 ELSE 0 END)"),
        "percentile" => {
            let p = m
                .agg_params
                .as_ref()
                .and_then(|p| p.get("percentile"))
                .map(Value::to_string)
                .unwrap_or_else(|| "0.5".into());
            format!("PERCENTILE_CONT({p}) WITHIN GROUP (ORDER BY {expr})")
        }
        other => format!("{}({expr})", other.to_uppercase()),
    }
}

/// A metric filter: `{"where_filters": [{"where_sql_template": "…"}]}` or a plain string.
fn render_filter(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => non_empty(Some(s)),
        Value::Object(o) => {
            let parts: Vec<&str> = o
                .get("where_filters")?
                .as_array()?
                .iter()
                .filter_map(|w| w.get("where_sql_template").and_then(Value::as_str))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" AND "))
        }
        _ => None,
    }
}

/// `{"count": 7, "granularity": "day"}` → `7 day`.
fn render_window(v: &Value) -> String {
    match (v.get("count"), v.get("granularity").and_then(Value::as_str)) {
        (Some(c), Some(g)) => format!("{c} {g}"),
        _ => match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn refs_parse_from_jinja() {
        assert_eq!(
            parse_ref("{{ get_where_subquery(ref('orders')) }}"),
            Some(vec!["orders".to_owned()])
        );
        assert_eq!(
            parse_ref("source(\"raw\", 'orders')"),
            Some(vec!["raw".to_owned(), "orders".to_owned()])
        );
        assert_eq!(parse_ref("orders"), None);
        assert!(ref_matches("model.shop.orders", &["orders".into()]));
        assert!(!ref_matches("source.shop.raw.orders", &["orders".into()]));
        assert!(ref_matches(
            "source.shop.raw.orders",
            &["raw".into(), "orders".into()]
        ));
    }

    #[test]
    fn minimal_manifest_and_bad_json() {
        let r = parse_manifest(r#"{"metadata": {}, "nodes": null}"#, None).unwrap();
        assert!(r.is_empty());
        let e = parse_manifest(r#"{"nodes": {"#, None).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("manifest.json"), "{e}");
        let e = parse_manifest("[]", None).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        let e = parse_manifest(r#"{"hello": 1}"#, None).unwrap_err();
        assert!(e.to_string().contains("not a dbt manifest"), "{e}");
    }
}
