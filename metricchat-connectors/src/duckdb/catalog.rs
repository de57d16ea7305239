//! The catalog of a DuckDB database: tables, columns and keys from `duckdb_*` functions.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Builds the [`TableSchema`]s from `duckdb_tables()`/`duckdb_views()`, `duckdb_columns()` and
/// `duckdb_constraints()`.
pub(super) fn read_catalog(
    conn: &duckdb::Connection,
    connector: &str,
    only: Option<&TableRef>,
) -> Result<Vec<TableSchema>> {
    let err = |e| query_error(connector, e);
    // `$1` schema (NULL: any), `$2` table (NULL: all); DuckDB names are case-insensitive.
    let filter = "database_name = current_database() \
                  AND ($1 IS NULL OR lower(schema_name) = lower($1)) \
                  AND ($2 IS NULL OR lower(table_name) = lower($2))";
    let params = [
        only.and_then(|t| t.schema.clone()),
        only.map(|t| t.name.clone()),
    ];
    let sql = format!(
        "SELECT schema_name, table_name, kind, comment, estimated_size FROM ( \
           SELECT database_name, schema_name, table_name, 'table' AS kind, comment, \
                  estimated_size FROM duckdb_tables() WHERE NOT internal \
           UNION ALL \
           SELECT database_name, schema_name, view_name AS table_name, 'view', comment, NULL \
           FROM duckdb_views() WHERE NOT internal) \
         WHERE {filter} ORDER BY schema_name <> 'main', schema_name, table_name"
    );
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let mut tables: Vec<TableSchema> = stmt
        .query_map(params.clone(), |r| {
            let kind: String = r.get(2)?;
            let estimate: Option<i64> = r.get(4)?;
            Ok(TableSchema {
                table: TableRef::qualified(r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                kind: if kind == "view" {
                    TableKind::View
                } else {
                    TableKind::Table
                },
                columns: Vec::new(),
                comment: r.get::<_, Option<String>>(3)?.filter(|c| !c.is_empty()),
                primary_key: Vec::new(),
                foreign_keys: Vec::new(),
                row_estimate: estimate.and_then(|n| u64::try_from(n).ok()),
            })
        })
        .map_err(err)?
        .collect::<duckdb::Result<_>>()
        .map_err(err)?;
    if let Some(t) = only {
        // Several schemas may hold the name; `main` sorts first.
        tables.truncate(1);
        if tables.is_empty() {
            return Err(Error::NotFound {
                what: "table",
                name: t.to_string(),
            });
        }
    }
    let index = |tables: &[TableSchema], schema: &str, table: &str| {
        tables
            .iter()
            .position(|t| t.table.schema.as_deref() == Some(schema) && t.table.name == table)
    };

    let sql = format!(
        "SELECT schema_name, table_name, column_name, data_type, is_nullable, comment \
         FROM duckdb_columns() WHERE NOT internal AND {filter} \
         ORDER BY schema_name, table_name, column_index"
    );
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let mut rows = stmt.query(params.clone()).map_err(err)?;
    let mut columns: Vec<(String, String, ColumnInfo)> = Vec::new();
    while let Some(r) = rows.next().map_err(err)? {
        columns.push((
            r.get(0).map_err(err)?,
            r.get(1).map_err(err)?,
            ColumnInfo {
                name: r.get(2).map_err(err)?,
                data_type: r.get(3).map_err(err)?,
                nullable: r.get(4).map_err(err)?,
                comment: r
                    .get::<_, Option<String>>(5)
                    .map_err(err)?
                    .filter(|c| !c.is_empty()),
            },
        ));
    }
    for (schema, table, col) in columns {
        if let Some(i) = index(&tables, &schema, &table) {
            tables[i].columns.push(col);
        }
    }

    let sql = format!(
        "SELECT schema_name, table_name, constraint_type, constraint_column_names, \
                referenced_table, referenced_column_names \
         FROM duckdb_constraints() \
         WHERE constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') AND {filter} \
         ORDER BY schema_name, table_name, constraint_index"
    );
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let mut rows = stmt.query(params.clone()).map_err(err)?;
    while let Some(r) = rows.next().map_err(err)? {
        let schema: String = r.get(0).map_err(err)?;
        let table: String = r.get(1).map_err(err)?;
        let kind: String = r.get(2).map_err(err)?;
        let cols = text_list(r.get(3).map_err(err)?);
        let Some(i) = index(&tables, &schema, &table) else {
            continue;
        };
        if kind == "PRIMARY KEY" {
            tables[i].primary_key = cols;
        } else if let Some(target) = r.get::<_, Option<String>>(4).map_err(err)? {
            // DuckDB foreign keys reference a table of the same schema.
            tables[i].foreign_keys.push(ForeignKey {
                columns: cols,
                references: TableRef::qualified(schema, target),
                referenced_columns: text_list(r.get(5).map_err(err)?),
            });
        }
    }
    Ok(tables)
}

/// The strings of a DuckDB `VARCHAR[]` value.
pub(super) fn text_list(v: Value) -> Vec<String> {
    match v {
        Value::List(items) | Value::Array(items) => items
            .into_iter()
            .filter_map(|i| match i {
                Value::Text(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}
