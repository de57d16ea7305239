//! Catalog assembly shared by the client/server connectors.

use metricchat_core::connector::{ForeignKey, TableRef, TableSchema};

/// One row of a key-column catalog query, already matched to its table.
pub(crate) struct KeyColumn {
    /// Whether the row belongs to the primary key (else to a foreign key).
    pub(crate) primary: bool,
    pub(crate) constraint: String,
    pub(crate) column: String,
    pub(crate) ref_schema: Option<String>,
    pub(crate) ref_table: Option<String>,
    pub(crate) ref_column: Option<String>,
}

/// Adds one key column to `table`. Rows must come ordered by table, constraint and position;
/// `last_fk` remembers the foreign key the previous row extended (table index, constraint).
pub(crate) fn add_key_column(
    table: &mut TableSchema,
    index: usize,
    last_fk: &mut Option<(usize, String)>,
    key: KeyColumn,
) {
    if key.primary {
        table.primary_key.push(key.column);
        return;
    }
    let same = last_fk
        .as_ref()
        .is_some_and(|(i, c)| *i == index && *c == key.constraint);
    match table.foreign_keys.last_mut() {
        Some(fk) if same => {
            fk.columns.push(key.column);
            fk.referenced_columns.extend(key.ref_column);
        }
        _ => {
            table.foreign_keys.push(ForeignKey {
                columns: vec![key.column],
                references: TableRef {
                    schema: key.ref_schema,
                    name: key.ref_table.unwrap_or_default(),
                },
                referenced_columns: key.ref_column.into_iter().collect(),
            });
            *last_fk = Some((index, key.constraint));
        }
    }
}
