//! Knowledge resources (dbt, LookML, Tableau…) as the hub uses them: the words they lend to
//! table ranking, the comments and measures they add to table descriptions, and
//! [`ContextHub::search_knowledge`] over them and the team's guidance.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::ContextHub;
use super::catalog::TableDescription;
use super::schema_index::TableKnowledge;
use super::scope::scope_label;
use super::search::{FieldSpec, TextIndex};
use crate::connector::TableRef;
use crate::instructions::Scope;
use crate::knowledge::{FieldKind, Resource, ResourceKind};
use crate::text::one_line;

/// One result of [`ContextHub::search_knowledge`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeHit {
    /// `rule`, `instruction`, `memory`, or the resource kind (`model`, `metric`, `view`…).
    pub kind: String,
    /// Id of the instruction, memory or resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Short title.
    pub title: String,
    /// The text (a resource rendered compactly).
    pub text: String,
    /// Tables it concerns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// Relevance score.
    pub score: f64,
}

/// The resources, fixed when the hub is built, and what they say about each table.
#[derive(Debug, Default)]
pub(super) struct Knowledge {
    resources: Vec<Resource>,
    /// Ranking text by lowercase `schema.table` and `table`.
    by_table: HashMap<String, TableKnowledge>,
}

impl Knowledge {
    /// Knowledge from `resources` (ids already unique).
    pub fn new(resources: Vec<Resource>) -> Self {
        let by_table = knowledge_by_table(&resources);
        Self {
            resources,
            by_table,
        }
    }

    /// The resources.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// Ranking text per table, for the schema index.
    pub fn by_table(&self) -> &HashMap<String, TableKnowledge> {
        &self.by_table
    }

    /// The resources linked to any of `tables` that define terms (metrics, explores,
    /// measures…), not the ones that only describe a table.
    pub fn definitions_for<'a>(
        &'a self,
        tables: &'a [TableRef],
    ) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources
            .iter()
            .filter(|r| {
                !matches!(
                    r.kind,
                    ResourceKind::View
                        | ResourceKind::Model
                        | ResourceKind::Source
                        | ResourceKind::DataSource
                        | ResourceKind::Seed
                )
            })
            .filter(|r| tables.iter().any(|t| resource_describes(r, t)))
    }

    /// Fills missing comments of `d` (the description of `table`) from knowledge and adds
    /// measure/metric notes.
    pub fn annotate(&self, d: &mut TableDescription, table: &TableRef) {
        for r in self
            .resources
            .iter()
            .filter(|r| resource_describes(r, table))
        {
            if d.comment.is_none() {
                d.comment = r.description.clone();
            }
            for f in &r.fields {
                let col = f.column.as_deref().unwrap_or(&f.name);
                if let Some(c) = d
                    .columns
                    .iter_mut()
                    .find(|c| c.name.eq_ignore_ascii_case(col))
                    && c.comment.is_none()
                {
                    c.comment = f.description.clone();
                }
                if matches!(f.kind, FieldKind::Measure | FieldKind::Calculated)
                    && let Some(expr) = &f.expression
                {
                    let note = format!(
                        "{} {}: {}{}",
                        if f.kind == FieldKind::Measure {
                            "measure"
                        } else {
                            "calculated"
                        },
                        f.name,
                        one_line(expr, 160),
                        f.description
                            .as_deref()
                            .map(|x| format!(" -- {}", one_line(x, 120)))
                            .unwrap_or_default()
                    );
                    if !d.notes.contains(&note) && d.notes.len() < 12 {
                        d.notes.push(note);
                    }
                }
            }
        }
    }
}

impl ContextHub {
    /// The knowledge resources.
    pub fn resources(&self) -> Vec<Resource> {
        self.knowledge.resources().to_vec()
    }

    /// Searches rules, instructions (approved), memories and knowledge resources for `query`;
    /// best first, at most `k`.
    pub fn search_knowledge(&self, query: &str, k: usize) -> Vec<KnowledgeHit> {
        let mut items: Vec<(KnowledgeHit, Vec<String>)> = Vec::new();
        for r in self.rules() {
            items.push((
                KnowledgeHit {
                    kind: "rule".into(),
                    id: None,
                    title: "rule".into(),
                    text: r.clone(),
                    tables: Vec::new(),
                    score: 0.0,
                },
                vec![r, String::new(), String::new()],
            ));
        }
        for i in self.guidance.approved_instructions() {
            items.push((
                KnowledgeHit {
                    kind: "instruction".into(),
                    id: Some(i.id.to_string()),
                    title: scope_label(&i.scope),
                    text: i.text.clone(),
                    tables: match &i.scope {
                        Scope::Tables { tables, .. } => tables.clone(),
                        _ => Vec::new(),
                    },
                    score: 0.0,
                },
                vec![i.text.clone(), i.labels.join(" "), String::new()],
            ));
        }
        for m in self.guidance.memories() {
            items.push((
                KnowledgeHit {
                    kind: "memory".into(),
                    id: Some(m.id.to_string()),
                    title: "memory".into(),
                    text: m.text.clone(),
                    tables: Vec::new(),
                    score: 0.0,
                },
                vec![m.text.clone(), m.labels.join(" "), String::new()],
            ));
        }
        for r in self.knowledge.resources() {
            let fields: Vec<String> = r
                .fields
                .iter()
                .map(|f| {
                    format!(
                        "{} {} {}",
                        f.name,
                        f.label.as_deref().unwrap_or_default(),
                        f.description.as_deref().unwrap_or_default()
                    )
                })
                .collect();
            items.push((
                KnowledgeHit {
                    kind: format!("{:?}", r.kind).to_lowercase(),
                    id: Some(r.id.clone()),
                    title: r.label.clone().unwrap_or_else(|| r.name.clone()),
                    text: render_resource(r, 1_200),
                    tables: r.tables.clone(),
                    score: 0.0,
                },
                vec![
                    format!(
                        "{} {} {}",
                        r.name,
                        r.label.as_deref().unwrap_or_default(),
                        r.description.as_deref().unwrap_or_default()
                    ),
                    r.tags.join(" "),
                    fields.join(" "),
                ],
            ));
        }
        let mut idx = TextIndex::new(vec![
            FieldSpec::new(2.0),
            FieldSpec::new(1.0),
            FieldSpec::new(0.7),
        ]);
        for (_, texts) in &items {
            idx.add(texts);
        }
        idx.search(query, k)
            .into_iter()
            .map(|(i, s)| {
                let mut h = items[i].0.clone();
                h.score = f64::from(s);
                h
            })
            .collect()
    }
}

/// What the resources say about each table, keyed by lowercase `schema.table` and `table`:
/// descriptions, field names and column descriptions, for ranking.
fn knowledge_by_table(resources: &[Resource]) -> HashMap<String, TableKnowledge> {
    let mut out: HashMap<String, TableKnowledge> = HashMap::new();
    for r in resources {
        for t in &r.tables {
            let parts: Vec<&str> = t.split('.').collect();
            let key = match parts.len() {
                0 | 1 => t.to_lowercase(),
                n => format!("{}.{}", parts[n - 2], parts[n - 1]).to_lowercase(),
            };
            for key in [
                key,
                parts.last().copied().unwrap_or_default().to_lowercase(),
            ] {
                let k = out.entry(key).or_default();
                for d in [&r.description, &r.label].into_iter().flatten() {
                    k.description.push_str(d);
                    k.description.push(' ');
                }
                for f in &r.fields {
                    let _ = write!(
                        k.fields,
                        "{} {} {} ",
                        f.name,
                        f.label.as_deref().unwrap_or_default(),
                        if f.column.is_some() {
                            ""
                        } else {
                            f.description.as_deref().unwrap_or_default()
                        }
                    );
                    if let (Some(col), Some(d)) = (&f.column, &f.description) {
                        k.columns
                            .entry(col.to_lowercase())
                            .or_insert_with(|| d.clone());
                    } else if f.kind == FieldKind::Column
                        && let Some(d) = &f.description
                    {
                        k.columns
                            .entry(f.name.to_lowercase())
                            .or_insert_with(|| d.clone());
                    }
                }
            }
        }
    }
    out
}

/// Whether a resource describes `table` (its last one or two name parts match).
fn resource_describes(r: &Resource, table: &TableRef) -> bool {
    r.tables.iter().any(|t| {
        let parts: Vec<&str> = t.split('.').collect();
        let n = parts.len();
        let name_ok = parts
            .last()
            .is_some_and(|p| p.trim_matches('"').eq_ignore_ascii_case(&table.name));
        let schema_ok = n < 2
            || table
                .schema
                .as_deref()
                .is_none_or(|s| parts[n - 2].trim_matches('"').eq_ignore_ascii_case(s));
        name_ok && schema_ok
    })
}

/// A resource in a few lines: kind, name, description, SQL and its measures.
pub(super) fn render_resource(r: &Resource, max_chars: usize) -> String {
    let mut out = format!("{:?} {}", r.kind, r.name).to_lowercase();
    out = format!(
        "{}{}",
        out,
        r.label
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default()
    );
    if let Some(d) = &r.description {
        let _ = write!(out, ": {}", one_line(d, 200));
    }
    if let Some(sql) = &r.sql {
        let _ = write!(out, " [sql: {}]", one_line(sql, 200));
    }
    let measures: Vec<String> = r
        .fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::Measure | FieldKind::Calculated))
        .filter_map(|f| {
            f.expression
                .as_ref()
                .map(|e| format!("{} = {}", f.name, one_line(e, 80)))
        })
        .collect();
    if !measures.is_empty() {
        let _ = write!(out, " [{}]", measures.join("; "));
    }
    if !r.tables.is_empty() {
        let _ = write!(out, " (tables: {})", r.tables.join(", "));
    }
    one_line(&out, max_chars)
}
