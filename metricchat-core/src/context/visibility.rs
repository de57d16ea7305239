//! What one user may see of the context: under a [`BoundPolicy`] the tables the user may not
//! read vanish from the schema, the name index, descriptions and knowledge; denied columns vanish
//! from descriptions and knowledge fields; sample values of row-filtered or masked tables are
//! dropped (they were read without the user's filter). The hub's caches stay shared by all
//! users; the view is applied on the way out.

use super::ContextHub;
use super::catalog::TableDescription;
use super::knowledge::KnowledgeHit;
use crate::connector::{ConnectorRef, TableRef, TableSchema};
use crate::error::Result;
use crate::guard::BoundPolicy;

/// Whether `table` of `connection` is visible under `view` (always without one).
pub(crate) fn visible(view: Option<&BoundPolicy>, connection: &str, table: &str) -> bool {
    view.is_none_or(|v| v.table_visible(connection, table))
}

/// Removes what `view` hides from a description: denied columns (and keys naming them), and
/// sample values of tables whose rows are filtered or values masked.
pub(crate) fn redact(view: Option<&BoundPolicy>, d: &mut TableDescription) {
    let Some(v) = view else {
        return;
    };
    let denied = v.denied_columns(&d.connection, &d.table);
    if !denied.is_empty() {
        d.columns
            .retain(|c| !denied.contains(&c.name.to_lowercase()));
        d.primary_key
            .retain(|c| !denied.contains(&c.to_lowercase()));
        d.foreign_keys.retain(|fk| {
            let lower = fk.to_lowercase();
            !denied.iter().any(|c| lower.contains(c.as_str()))
        });
        d.notes.retain(|n| {
            let lower = n.to_lowercase();
            !denied.iter().any(|c| lower.contains(c.as_str()))
        });
    }
    if v.restricts_rows_or_values(&d.connection, &d.table) {
        for c in &mut d.columns {
            c.samples.clear();
        }
    }
}

/// Removes every sample value of a description (a data exposure other than `full`).
pub(crate) fn drop_samples(d: &mut TableDescription) {
    for c in &mut d.columns {
        c.samples.clear();
    }
}

impl ContextHub {
    /// The cached schemas of a connection's tables (columns and kinds), when the catalog was
    /// small enough to load whole.
    pub fn cached_schemas(&self, connection: &str) -> Option<Vec<TableSchema>> {
        let g = self.catalogs.read().ok()?;
        let c = g.get(connection)?;
        Some(c.schemas.values().cloned().collect())
    }

    /// [`ContextHub::describe`] as the user of `view` may see it: tables they may not read are
    /// reported missing, denied columns and unfiltered samples removed.
    pub async fn describe_for(
        &self,
        conn: &ConnectorRef,
        names: &[String],
        view: Option<&BoundPolicy>,
    ) -> Result<(Vec<TableDescription>, Vec<String>)> {
        self.describe_view(conn, names, view, true).await
    }

    /// [`ContextHub::describe_for`], with sample values only when `samples`.
    pub(crate) async fn describe_view(
        &self,
        conn: &ConnectorRef,
        names: &[String],
        view: Option<&BoundPolicy>,
        samples: bool,
    ) -> Result<(Vec<TableDescription>, Vec<String>)> {
        let name = conn.info().name;
        let (allowed, mut missing): (Vec<String>, Vec<String>) =
            names.iter().cloned().partition(|n| visible(view, &name, n));
        let (mut found, not_found) = self.describe(conn, &allowed).await?;
        found.retain(|d| visible(view, &name, &d.table));
        for d in &mut found {
            redact(view, d);
            if !samples {
                drop_samples(d);
            }
        }
        missing.extend(not_found);
        Ok((found, missing))
    }

    /// Table names of a connection the user of `view` may read.
    pub fn table_names_for(&self, connection: &str, view: Option<&BoundPolicy>) -> Vec<String> {
        let mut names = self.table_names(connection);
        names.retain(|t| visible(view, connection, t));
        names
    }

    /// [`ContextHub::search_knowledge`] without hits about tables the user of `view` may not
    /// read, or naming their denied columns.
    pub fn search_knowledge_for(
        &self,
        query: &str,
        k: usize,
        view: Option<&BoundPolicy>,
    ) -> Vec<KnowledgeHit> {
        let Some(v) = view else {
            return self.search_knowledge(query, k);
        };
        let mut hits = self.search_knowledge(query, k.saturating_mul(3).max(k));
        hits.retain(|h| !hidden_in(v, &h.tables, &h.text));
        hits.truncate(k);
        hits
    }
}

/// Whether text about `tables` shows something `v` hides: a table the user may not read on any
/// connection, or a denied column of one of them.
pub(crate) fn hidden_in(v: &BoundPolicy, tables: &[String], text: &str) -> bool {
    let lower = text.to_lowercase();
    v.connections.keys().any(|conn| {
        tables.iter().any(|t| {
            !v.table_visible(conn, t)
                || v.denied_columns(conn, t)
                    .iter()
                    .any(|c| lower.contains(c.as_str()))
        })
    })
}

/// Whether `table` (a catalog reference) may be shown to the user of `view` on `connection`.
pub(crate) fn table_visible(
    view: Option<&BoundPolicy>,
    connection: &str,
    table: &TableRef,
) -> bool {
    visible(view, connection, &table.to_string())
}
