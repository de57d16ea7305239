//! Semantic table ranking: the host's [`Embedder`], a cache of table vectors, and the blend of
//! cosine similarity with the lexical score.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::ContextHub;
use super::schema_index::SchemaIndex;
use crate::connector::TableRef;
use crate::error::{Error, Result};

/// Turns texts into vectors for semantic table ranking — the host's embedding model (OpenAI
/// embeddings, a local sentence model…). Set with [`ContextHubBuilder::embedder`] or
/// `AgentBuilder::embedder`; the hub embeds each table once (name, columns, comment) and each
/// question, and blends cosine similarity with the lexical score.
///
/// [`ContextHubBuilder::embedder`]: super::ContextHubBuilder::embedder
#[async_trait::async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// One vector per text, in order, all of the same length.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}

/// Table vectors by (connection, table).
type Vectors = HashMap<(String, TableRef), Vec<f32>>;

/// The embedder, fixed when the hub is built, and the table vectors it made (a cache, cleared
/// with the catalogs).
#[derive(Debug, Default)]
pub(super) struct Embeddings {
    embedder: Option<Arc<dyn Embedder>>,
    vectors: RwLock<Vectors>,
}

impl Embeddings {
    /// Embeddings with `embedder` (none: lexical ranking only).
    pub fn new(embedder: Option<Arc<dyn Embedder>>) -> Self {
        Self {
            embedder,
            vectors: RwLock::new(HashMap::new()),
        }
    }

    /// Forgets every table vector.
    pub fn clear(&self) {
        if let Ok(mut v) = self.vectors.write() {
            v.clear();
        }
    }
}

impl ContextHub {
    /// Embeds the tables not embedded yet (a line each: name, columns, comment) and the
    /// question; `None` without an embedder. No lock is held while the embedder runs.
    pub(super) async fn question_vector(&self, question: &str) -> Result<Option<Vec<f32>>> {
        let Some(embedder) = self.embeddings.embedder.clone() else {
            return Ok(None);
        };
        let idx = self.index()?;
        let missing: Vec<(String, TableRef)> = {
            let vectors = self
                .embeddings
                .vectors
                .read()
                .map_err(|_| Error::Internal("context hub lock poisoned".into()))?;
            idx.entries
                .iter()
                .filter(|e| !vectors.contains_key(&(e.connection.clone(), e.table.clone())))
                .map(|e| (e.connection.clone(), e.table.clone()))
                .collect()
        };
        let missing: Vec<(String, TableRef, String)> = {
            let g = self.catalogs.read()?;
            missing
                .into_iter()
                .map(|(connection, table)| {
                    let schema = g.get(&connection).and_then(|c| c.schemas.get(&table));
                    let mut text = table.to_string();
                    if let Some(s) = schema {
                        text.push_str(": ");
                        let cols: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
                        text.push_str(&cols.join(", "));
                        if let Some(c) = &s.comment {
                            text.push_str(" -- ");
                            text.push_str(c);
                        }
                    }
                    (connection, table, text)
                })
                .collect()
        };
        for chunk in missing.chunks(256) {
            let texts: Vec<String> = chunk.iter().map(|m| m.2.clone()).collect();
            let vecs = embedder.embed(&texts).await?;
            if vecs.len() != texts.len() {
                return Err(Error::Internal(format!(
                    "the embedder returned {} vectors for {} texts",
                    vecs.len(),
                    texts.len()
                )));
            }
            if let Ok(mut v) = self.embeddings.vectors.write() {
                for (m, vec) in chunk.iter().zip(vecs) {
                    v.insert((m.0.clone(), m.1.clone()), vec);
                }
            }
        }
        let q = embedder.embed(&[question.to_string()]).await?;
        Ok(q.into_iter().next())
    }

    /// `ranked` (lexical scores) blended with the cosine similarity of each table's vector to
    /// the question's `qv`: the lexical score over the best one's, plus the similarity; tables
    /// the words miss enter when the similarity is over 0.3.
    pub(super) fn blend_embeddings(
        &self,
        idx: &SchemaIndex,
        ranked: Vec<(usize, f32)>,
        qv: &[f32],
    ) -> Vec<(usize, f32)> {
        let Ok(vectors) = self.embeddings.vectors.read() else {
            return ranked;
        };
        let top = ranked.first().map_or(0.0, |r| r.1).max(f32::EPSILON);
        let lexical: HashMap<usize, f32> = ranked.into_iter().collect();
        let mut out: Vec<(usize, f32)> = idx
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let lex = lexical.get(&i).map_or(0.0, |s| s / top);
                let cos = vectors
                    .get(&(e.connection.clone(), e.table.clone()))
                    .map_or(0.0, |v| cosine(v, qv));
                let score = lex + cos.max(0.0);
                (lex > 0.0 || cos > 0.3).then_some((i, score))
            })
            .collect();
        out.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| idx.entries[a.0].table.cmp(&idx.entries[b.0].table))
        });
        out
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}
