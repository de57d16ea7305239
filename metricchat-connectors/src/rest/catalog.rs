//! Whole-catalog assembly from the text result sets of `INFORMATION_SCHEMA` queries.

use std::collections::HashMap;

use metricchat_core::connector::{ColumnInfo, ForeignKey, TableKind, TableRef, TableSchema};

use super::parse_scaled;

/// A result set whose values are all text, with its column names (catalog queries).
#[derive(Debug, Default)]
pub(crate) struct NamedRows {
    index: HashMap<String, usize>,
    pub(crate) rows: Vec<Vec<Option<String>>>,
}

impl NamedRows {
    /// Rows under `names` (matched without regard to case, as both services fold names).
    pub(crate) fn new(names: Vec<String>, rows: Vec<Vec<Option<String>>>) -> Self {
        let index = names
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n.to_ascii_lowercase(), i))
            .collect();
        Self { index, rows }
    }

    /// The rows, each readable by column name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = NamedRow<'_>> {
        self.rows.iter().map(|values| NamedRow {
            index: &self.index,
            values,
        })
    }
}

/// One row of [`NamedRows`].
#[derive(Clone, Copy)]
pub(crate) struct NamedRow<'a> {
    index: &'a HashMap<String, usize>,
    values: &'a [Option<String>],
}

impl<'a> NamedRow<'a> {
    /// The value of column `name`; `None` for NULL or a column the result lacks.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        let i = *self.index.get(&name.to_ascii_lowercase())?;
        self.values.get(i)?.as_deref()
    }

    /// The value as an owned string, empty strings counted as missing.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.get(name).filter(|s| !s.is_empty()).map(str::to_string)
    }

    /// The value as a whole number (`"12"`, `"12.0"`, `"1.2E1"`).
    pub(crate) fn number(&self, name: &str) -> Option<u64> {
        let v = parse_scaled(self.get(name)?, 0, true)?;
        u64::try_from(v).ok()
    }
}

/// One column of a key, as the catalogs list them (one row per column).
#[derive(Debug, Clone)]
pub(crate) struct KeyColumn {
    pub(crate) table: TableRef,
    pub(crate) constraint: String,
    pub(crate) column: String,
    /// 1-based position within the key.
    pub(crate) position: u64,
    /// Foreign keys: the referenced table.
    pub(crate) references: Option<TableRef>,
    /// Foreign keys: the referenced column when the catalog names it.
    pub(crate) referenced_column: Option<String>,
    /// Foreign keys: the 1-based position in the referenced primary key when the catalog gives
    /// that instead (BigQuery's `position_in_unique_constraint`).
    pub(crate) referenced_position: Option<u64>,
}

/// Builds table schemas from a whole-catalog column listing (one row per column, ordered by
/// table then column position) with these columns: `TABLE_SCHEMA`, `TABLE_NAME`,
/// `COLUMN_NAME`, `DATA_TYPE`, `IS_NULLABLE` (`YES`/`NO`), `COLUMN_COMMENT`, `TABLE_TYPE`
/// (`VIEW`, `MATERIALIZED VIEW` or a table), `TABLE_COMMENT`, `ROW_COUNT`, and optionally
/// `NUMERIC_PRECISION`/`NUMERIC_SCALE` (shown as `NUMBER(p,s)`). Keys are attached from
/// `primary` and `foreign` key columns; referenced columns given by position are resolved
/// against the referenced table's primary key.
pub(crate) fn assemble_catalog(
    columns: &NamedRows,
    primary: &[KeyColumn],
    foreign: &[KeyColumn],
) -> Vec<TableSchema> {
    let mut tables: Vec<TableSchema> = Vec::new();
    let mut by_name: HashMap<TableRef, usize> = HashMap::new();
    for row in columns.iter() {
        let (Some(schema), Some(name), Some(column)) = (
            row.text("TABLE_SCHEMA"),
            row.text("TABLE_NAME"),
            row.text("COLUMN_NAME"),
        ) else {
            continue;
        };
        let table = TableRef::qualified(schema, name);
        let i = *by_name.entry(table.clone()).or_insert_with(|| {
            let view = row
                .get("TABLE_TYPE")
                .is_some_and(|t| t.to_ascii_uppercase().contains("VIEW"));
            tables.push(TableSchema {
                table,
                kind: if view {
                    TableKind::View
                } else {
                    TableKind::Table
                },
                columns: Vec::new(),
                comment: row.text("TABLE_COMMENT"),
                primary_key: Vec::new(),
                foreign_keys: Vec::new(),
                row_estimate: if view { None } else { row.number("ROW_COUNT") },
            });
            tables.len() - 1
        });
        let mut data_type = row.text("DATA_TYPE").unwrap_or_default();
        if let (Some(p), Some(s)) = (row.get("NUMERIC_PRECISION"), row.get("NUMERIC_SCALE"))
            && data_type.eq_ignore_ascii_case("NUMBER")
        {
            data_type = format!("{data_type}({p},{s})");
        }
        tables[i].columns.push(ColumnInfo {
            name: column,
            data_type,
            nullable: row
                .get("IS_NULLABLE")
                .is_none_or(|n| n.eq_ignore_ascii_case("YES")),
            comment: row.text("COLUMN_COMMENT"),
        });
    }
    let ordered = |keys: &[KeyColumn]| {
        let mut keys = keys.to_vec();
        keys.sort_by(|a, b| {
            (&a.table, &a.constraint, a.position).cmp(&(&b.table, &b.constraint, b.position))
        });
        keys
    };
    let mut primary_keys: HashMap<TableRef, Vec<String>> = HashMap::new();
    for k in ordered(primary) {
        primary_keys
            .entry(k.table.clone())
            .or_default()
            .push(k.column);
    }
    for (table, cols) in &primary_keys {
        if let Some(&i) = by_name.get(table) {
            tables[i].primary_key = cols.clone();
        }
    }
    let mut constraint: Option<(TableRef, String)> = None;
    for k in ordered(foreign) {
        let Some(&i) = by_name.get(&k.table) else {
            continue;
        };
        let Some(references) = k.references.clone() else {
            continue;
        };
        let same = constraint
            .as_ref()
            .is_some_and(|(t, c)| *t == k.table && *c == k.constraint);
        if !same {
            tables[i].foreign_keys.push(ForeignKey {
                columns: Vec::new(),
                references: references.clone(),
                referenced_columns: Vec::new(),
            });
            constraint = Some((k.table.clone(), k.constraint.clone()));
        }
        let referenced = k.referenced_column.clone().or_else(|| {
            let pos = usize::try_from(k.referenced_position?).ok()?;
            primary_keys
                .get(&references)?
                .get(pos.checked_sub(1)?)
                .cloned()
        });
        if let Some(fk) = tables[i].foreign_keys.last_mut() {
            fk.columns.push(k.column.clone());
            if let Some(r) = referenced {
                fk.referenced_columns.push(r);
            }
        }
    }
    tables
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn catalog_rows_assemble_into_tables_with_keys() {
        let names = [
            "table_schema",
            "TABLE_NAME",
            "COLUMN_NAME",
            "DATA_TYPE",
            "NUMERIC_PRECISION",
            "NUMERIC_SCALE",
            "IS_NULLABLE",
            "TABLE_TYPE",
            "ROW_COUNT",
        ];
        let row = |t: &str, c: &str, ty: &str, p: Option<&str>, kind: &str| {
            [
                Some("S"),
                Some(t),
                Some(c),
                Some(ty),
                p,
                p.map(|_| "0"),
                Some("NO"),
                Some(kind),
            ]
            .into_iter()
            .map(|v| v.map(str::to_string))
            .chain([Some("1.2E1".to_string())])
            .collect::<Vec<_>>()
        };
        let columns = NamedRows::new(
            names.iter().map(|n| (*n).to_string()).collect(),
            vec![
                row("A", "X", "NUMBER", Some("38"), "BASE TABLE"),
                row("A", "Y", "NUMBER", Some("38"), "BASE TABLE"),
                row("B", "AX", "NUMBER", Some("38"), "BASE TABLE"),
                row("B", "AY", "TEXT", None, "BASE TABLE"),
                row("V", "Z", "TEXT", None, "VIEW"),
            ],
        );
        let key = |t: &str, c: &str, pos: u64, refs: Option<&str>, rpos: Option<u64>| KeyColumn {
            table: TableRef::qualified("S", t),
            constraint: format!("{t}_key"),
            column: c.to_string(),
            position: pos,
            references: refs.map(|r| TableRef::qualified("S", r)),
            referenced_column: None,
            referenced_position: rpos,
        };
        let tables = assemble_catalog(
            &columns,
            &[key("A", "Y", 2, None, None), key("A", "X", 1, None, None)],
            &[
                key("B", "AY", 2, Some("A"), Some(2)),
                key("B", "AX", 1, Some("A"), Some(1)),
                key("GONE", "Q", 1, Some("A"), Some(1)),
            ],
        );
        assert_eq!(tables.len(), 3);
        assert_eq!(tables[0].primary_key, ["X", "Y"]);
        assert_eq!(tables[0].columns[0].data_type, "NUMBER(38,0)");
        assert!(!tables[0].columns[0].nullable);
        assert_eq!(tables[0].row_estimate, Some(12));
        let fk = &tables[1].foreign_keys;
        assert_eq!(fk.len(), 1);
        assert_eq!(fk[0].columns, ["AX", "AY"]);
        assert_eq!(fk[0].referenced_columns, ["X", "Y"]);
        assert_eq!(fk[0].references, TableRef::qualified("S", "A"));
        assert_eq!(tables[2].kind, TableKind::View);
        assert_eq!(tables[2].row_estimate, None, "views have no row count");
    }
}
