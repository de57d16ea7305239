//! Table selection: which tables a question gets in full, ranked by BM25F over the schema
//! index (with the embedder's similarity blended in when one is set), foreign-key neighbours
//! after the tables that reference them, families of sharded tables counted once, all within a
//! token budget.

use std::collections::{HashMap, HashSet};

use super::ContextHub;
use super::plan::{FamilySummary, TableSelection};
use super::render::render_selected;
use super::schema_index::{self, SchemaIndex};
use super::search::analyze;
use crate::error::Result;
use crate::text::words;

impl ContextHub {
    /// Ranks tables for `question` within `token_budget` tokens of rendered descriptions: BM25F
    /// over names, columns, comments and knowledge; foreign-key neighbours follow the tables
    /// that reference them; a family of date-sharded tables counts once. Tables whose score is
    /// under a twentieth of the best are left out, except in catalogs small enough to show whole.
    pub fn select_tables(&self, question: &str, token_budget: usize) -> Vec<TableSelection> {
        self.select_with(question, token_budget, None)
    }

    /// [`ContextHub::select_tables`] with the embedder's similarity blended in, when one is
    /// set (tables are embedded on first use). Without an embedder it equals `select_tables`.
    pub async fn select_tables_semantic(
        &self,
        question: &str,
        token_budget: usize,
    ) -> Result<Vec<TableSelection>> {
        let qv = self.question_vector(question).await?;
        Ok(self.select_with(question, token_budget, qv.as_deref()))
    }

    /// [`ContextHub::select_tables`] blended with the embedder's similarity when a question
    /// vector is given: each table scores its BM25F score over the best one's, plus its cosine
    /// similarity to the question; tables the words miss can still be chosen by meaning.
    pub(super) fn select_with(
        &self,
        question: &str,
        token_budget: usize,
        question_vector: Option<&[f32]>,
    ) -> Vec<TableSelection> {
        let Ok(idx) = self.index() else {
            return Vec::new();
        };
        let counter = self.token_counter();
        let cfg = self.config.effective();
        let q_terms: HashSet<String> = analyze(question).into_iter().collect();
        let q_words: HashSet<String> = words(question).into_iter().collect();
        let mut ranked = idx.rank(question);
        if let Some(qv) = question_vector {
            ranked = self.blend_embeddings(&idx, ranked, qv);
        }
        diversify(&idx, &mut ranked);
        let top = ranked.first().map_or(0.0, |r| r.1);
        let small = idx.entries.len() <= cfg.max_full_tables;

        // Candidates in order: ranked tables, each followed by the tables it references.
        // Candidates too big for what is left of the budget are passed over, but only so many:
        // the rest rank lower still.
        let examine = (cfg.max_full_tables * 4).max(40);
        let mut order: Vec<(usize, f64, String)> = Vec::new();
        let mut seen: HashSet<usize> = HashSet::new();
        for &(i, score) in &ranked {
            if (!small && score < top * 0.05) || order.len() >= examine {
                break;
            }
            if seen.insert(i) {
                let cols = idx.matching_columns(i, &q_terms);
                let reason = if cols.is_empty() {
                    "matches the question's words in its name or description".to_string()
                } else {
                    format!("columns {} match the question", cols.join(", "))
                };
                order.push((i, f64::from(score), reason));
            }
            for &j in &idx.entries[i].references {
                if seen.insert(j) {
                    order.push((
                        j,
                        f64::from(score) / 2.0,
                        format!("referenced by {} (foreign key)", idx.entries[i].table),
                    ));
                }
            }
        }
        if small {
            for i in 0..idx.entries.len() {
                if seen.insert(i) {
                    order.push((i, 0.0, "small catalog: every table is shown".into()));
                }
            }
        }

        let mut out = Vec::new();
        let mut used = 0;
        for (i, score, reason) in order.into_iter().take(examine) {
            if out.len() >= cfg.max_full_tables {
                break;
            }
            let e = &idx.entries[i];
            // A family is shown through the member the question names (`… in 2019`), else
            // its latest one.
            let table = e
                .family
                .as_ref()
                .and_then(|f| {
                    f.members.iter().find(|m| {
                        let suffix = schema_index::family_suffix(&m.name);
                        !suffix.is_empty()
                            && (q_words.contains(&suffix)
                                || (suffix.len() > 4 && q_words.contains(&suffix[..4])))
                    })
                })
                .unwrap_or(&e.table)
                .clone();
            let columns = idx.matching_columns(i, &q_terms);
            let text = self
                .table_description(&e.connection, &table)
                .map(|d| {
                    render_selected(&d, e.family.as_ref(), cfg.max_columns_per_table, &columns)
                })
                .unwrap_or_else(|| format!("Table {}\n", e.table));
            let cost = counter.count(&text);
            if used + cost > token_budget {
                continue;
            }
            used += cost;
            out.push(TableSelection {
                connection: e.connection.clone(),
                table,
                score,
                reason,
                columns,
                tokens: cost,
                family: e.family.as_ref().map(|f| FamilySummary {
                    pattern: f.pattern.clone(),
                    tables: f.members.clone(),
                }),
            });
        }
        out
    }
}

/// Halves the score of a table for each better-ranked table of the same stem (its name without
/// digits: `carrier_contract_12`, `carrier_contract_30`…), so a run of near-identical tables
/// does not crowd out the others; then sorts again.
fn diversify(idx: &SchemaIndex, ranked: &mut [(usize, f32)]) {
    let mut seen: HashMap<String, i32> = HashMap::new();
    for r in ranked.iter_mut() {
        let e = &idx.entries[r.0];
        let stem: String = e
            .table
            .name
            .to_lowercase()
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '_')
            .to_string();
        let key = format!("{}.{}", e.table.schema.as_deref().unwrap_or_default(), stem);
        let n = seen.entry(key).or_insert(0);
        r.1 *= 0.5f32.powi(*n);
        *n += 1;
    }
    ranked.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| idx.entries[a.0].table.cmp(&idx.entries[b.0].table))
    });
}
