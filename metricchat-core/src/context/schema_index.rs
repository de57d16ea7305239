//! The schema index: one BM25F document per table (or per family of date-sharded tables), over
//! its name, schema, columns, comments and the knowledge that describes it.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::connector::{TableRef, TableSchema};

use super::search::{FieldSpec, TextIndex, analyze};

/// Extra text about a table from knowledge sources (dbt, LookML, Tableau).
#[derive(Debug, Clone, Default)]
pub(crate) struct TableKnowledge {
    /// Descriptions of the resources that describe the table.
    pub description: String,
    /// Field names, labels and descriptions.
    pub fields: String,
    /// Column descriptions by lowercase column name.
    pub columns: HashMap<String, String>,
}

/// One catalog to index.
pub(crate) struct CatalogInput<'a> {
    pub connection: &'a str,
    pub tables: &'a [TableRef],
    pub schemas: &'a HashMap<TableRef, TableSchema>,
}

/// A group of tables in one schema that differ only by a numeric (usually date) suffix,
/// such as `events_20240101`, `events_20240102`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFamily {
    /// The shared name with the suffix replaced by `*`, e.g. `events_*`.
    pub pattern: String,
    /// Every member, in name order.
    pub members: Vec<TableRef>,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub connection: String,
    pub table: TableRef,
    pub family: Option<TableFamily>,
    /// Columns with their analysed terms (name + comment).
    pub columns: Vec<(String, Vec<String>)>,
    /// Tables this one references by foreign key (indices into the entries).
    pub references: Vec<usize>,
    /// Tables that reference this one.
    pub referenced_by: Vec<usize>,
}

/// A ranked index over every table of every connection.
#[derive(Debug, Clone)]
pub(crate) struct SchemaIndex {
    pub entries: Vec<Entry>,
    text: TextIndex,
}

/// The name with a trailing run of digits (and separators) of at least 4 digits replaced by `*`,
/// or `None` when the name has no such suffix.
fn family_pattern(name: &str) -> Option<String> {
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_' || c == '-');
    let suffix = &name[trimmed.len()..];
    let digits = suffix.chars().filter(char::is_ascii_digit).count();
    if digits >= 4 {
        let sep = suffix
            .chars()
            .next()
            .filter(|c| !c.is_ascii_digit())
            .map(String::from)
            .unwrap_or_default();
        Some(format!("{trimmed}{sep}*"))
    } else {
        None
    }
}

/// The digits of a family member's suffix (`events_20240101` → `20240101`).
pub(crate) fn family_suffix(name: &str) -> String {
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_' || c == '-');
    name[trimmed.len()..]
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

const FIELDS: [FieldSpec; 5] = [
    // table name
    FieldSpec {
        weight: 3.0,
        b: 0.3,
    },
    // schema name
    FieldSpec {
        weight: 1.0,
        b: 0.0,
    },
    // column names
    FieldSpec {
        weight: 1.0,
        b: 0.75,
    },
    // table descriptions (comment, knowledge)
    FieldSpec {
        weight: 1.0,
        b: 0.75,
    },
    // column descriptions, knowledge fields
    FieldSpec {
        weight: 0.4,
        b: 0.75,
    },
];

impl SchemaIndex {
    /// Builds the index. `knowledge` is keyed by lowercase `schema.table` and `table`.
    pub fn build(
        catalogs: &[CatalogInput<'_>],
        knowledge: &HashMap<String, TableKnowledge>,
    ) -> Self {
        let mut text = TextIndex::new(FIELDS.to_vec());
        let mut entries: Vec<Entry> = Vec::new();
        for cat in catalogs {
            // Group date-sharded tables of one schema into one family.
            let mut groups: BTreeMap<(Option<String>, String), Vec<&TableRef>> = BTreeMap::new();
            let mut singles: Vec<&TableRef> = Vec::new();
            for t in cat.tables {
                match family_pattern(&t.name) {
                    Some(p) => groups.entry((t.schema.clone(), p)).or_default().push(t),
                    None => singles.push(t),
                }
            }
            let mut docs: Vec<(&TableRef, Option<TableFamily>)> =
                singles.into_iter().map(|t| (t, None)).collect();
            for ((_, pattern), mut members) in groups {
                members.sort();
                if members.len() == 1 {
                    docs.push((members[0], None));
                } else {
                    let rep = members[members.len() - 1];
                    docs.push((
                        rep,
                        Some(TableFamily {
                            pattern,
                            members: members.into_iter().cloned().collect(),
                        }),
                    ));
                }
            }
            docs.sort_by(|a, b| a.0.cmp(b.0));
            for (t, family) in docs {
                let schema = cat.schemas.get(t);
                let know = lookup(knowledge, t);
                let name = match &family {
                    Some(f) => f.pattern.trim_end_matches('*').to_string(),
                    None => t.name.clone(),
                };
                let mut columns = Vec::new();
                let mut col_names: Vec<String> = Vec::new();
                let mut col_desc: Vec<String> = Vec::new();
                let mut table_desc: Vec<String> = Vec::new();
                if let Some(s) = schema {
                    if let Some(c) = &s.comment {
                        table_desc.push(analyze(c).join(" "));
                    }
                    for c in &s.columns {
                        let mut terms = analyze(&c.name);
                        col_names.extend(terms.iter().cloned());
                        let desc = c.comment.clone().or_else(|| {
                            know.and_then(|k| k.columns.get(&c.name.to_lowercase()).cloned())
                        });
                        if let Some(d) = desc {
                            let dt = analyze(&d);
                            col_desc.extend(dt.iter().cloned());
                            terms.extend(dt);
                        }
                        columns.push((c.name.clone(), terms));
                    }
                }
                if let Some(k) = know {
                    table_desc.push(analyze(&k.description).join(" "));
                    col_desc.extend(analyze(&k.fields));
                }
                let fields = vec![
                    analyze(&name),
                    t.schema.as_deref().map(analyze).unwrap_or_default(),
                    col_names,
                    table_desc
                        .iter()
                        .flat_map(|s| s.split(' ').filter(|w| !w.is_empty()))
                        .map(str::to_string)
                        .collect(),
                    col_desc,
                ];
                text.add_terms(&fields);
                entries.push(Entry {
                    connection: cat.connection.to_string(),
                    table: t.clone(),
                    family,
                    columns,
                    references: Vec::new(),
                    referenced_by: Vec::new(),
                });
            }
        }
        // Foreign-key graph, resolved by connection and (schema-optional) name.
        let mut by_name: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            by_name
                .entry((e.connection.to_lowercase(), e.table.name.to_lowercase()))
                .or_default()
                .push(i);
        }
        let mut edges = Vec::new();
        for cat in catalogs {
            for (i, e) in entries.iter().enumerate() {
                if e.connection != cat.connection {
                    continue;
                }
                let Some(s) = cat.schemas.get(&e.table) else {
                    continue;
                };
                for fk in &s.foreign_keys {
                    let key = (
                        e.connection.to_lowercase(),
                        fk.references.name.to_lowercase(),
                    );
                    let target = by_name.get(&key).and_then(|c| {
                        c.iter()
                            .find(|&&j| {
                                fk.references.schema.is_none()
                                    || entries[j].table.schema.as_deref().map(str::to_lowercase)
                                        == fk.references.schema.as_deref().map(str::to_lowercase)
                            })
                            .copied()
                    });
                    if let Some(j) = target
                        && j != i
                    {
                        edges.push((i, j));
                    }
                }
            }
        }
        for (i, j) in edges {
            if !entries[i].references.contains(&j) {
                entries[i].references.push(j);
            }
            if !entries[j].referenced_by.contains(&i) {
                entries[j].referenced_by.push(i);
            }
        }
        Self { entries, text }
    }

    /// Every table that matches the question, best first.
    pub fn rank(&self, question: &str) -> Vec<(usize, f32)> {
        let mut all = self.text.score_all(question);
        all.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| self.entries[a.0].table.cmp(&self.entries[b.0].table))
        });
        all
    }

    /// The columns of entry `i` whose name or description matches a question term (exactly or
    /// by prefix, as the index does), in table order.
    pub fn matching_columns(&self, i: usize, question_terms: &HashSet<String>) -> Vec<String> {
        self.entries[i]
            .columns
            .iter()
            .filter(|(_, terms)| terms.iter().any(|t| term_matches(t, question_terms)))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// Whether an indexed term matches the question's terms: equal, or a prefix of one of at least
/// 3 characters and half its length (`cust` ~ `customer`).
fn term_matches(term: &str, question_terms: &HashSet<String>) -> bool {
    if question_terms.contains(term) {
        return true;
    }
    let n = term.chars().count();
    n >= 3
        && !term.chars().all(|c| c.is_ascii_digit())
        && question_terms
            .iter()
            .any(|q| q.starts_with(term) && n * 2 >= q.chars().count())
}

fn lookup<'a>(
    knowledge: &'a HashMap<String, TableKnowledge>,
    t: &TableRef,
) -> Option<&'a TableKnowledge> {
    knowledge
        .get(&t.to_string().to_lowercase())
        .or_else(|| knowledge.get(&t.name.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_patterns() {
        assert_eq!(
            family_pattern("ga_sessions_20170801").as_deref(),
            Some("ga_sessions_*")
        );
        assert_eq!(family_pattern("EVENTS20240101").as_deref(), Some("EVENTS*"));
        assert_eq!(family_pattern("orders_2"), None);
        assert_eq!(family_pattern("flights"), None);
        assert_eq!(family_pattern("_201706").as_deref(), Some("_*"));
        assert_eq!(family_suffix("STORMS_1995"), "1995");
    }
}
