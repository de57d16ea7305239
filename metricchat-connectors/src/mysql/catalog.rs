//! Catalog SQL: the tables, columns and keys the connector lists and describes.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) const LIST_TABLES_IN: &str = "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR) \
     FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1, 2";

/// Which tables an introspection covers.
pub(super) enum Scope<'a> {
    /// One table.
    Table(&'a str, &'a str),
    /// Every table of one database.
    Schema(&'a str),
    /// Every table of every database but the system ones.
    AllSchemas,
}

impl Scope<'_> {
    /// The `WHERE` condition on `TABLE_SCHEMA`/`TABLE_NAME` and its parameters.
    pub(super) fn filter(&self) -> (String, Vec<String>) {
        match self {
            Scope::Table(s, t) => (
                "TABLE_SCHEMA = ? AND TABLE_NAME = ?".into(),
                vec![(*s).to_string(), (*t).to_string()],
            ),
            Scope::Schema(s) => ("TABLE_SCHEMA = ?".into(), vec![(*s).to_string()]),
            Scope::AllSchemas => (
                format!("TABLE_SCHEMA NOT IN ({SYSTEM_SCHEMAS})"),
                Vec::new(),
            ),
        }
    }
}

/// The three introspection queries (tables, columns, keys) for the tables `filter` selects.
pub(super) fn introspection_sql(filter: &str) -> [String; 3] {
    [
        format!(
            "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR), \
               CAST(TABLE_TYPE AS CHAR), CAST(TABLE_COMMENT AS CHAR), CAST(TABLE_ROWS AS SIGNED) \
             FROM information_schema.TABLES WHERE {filter} ORDER BY 1, 2"
        ),
        format!(
            "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR), \
               CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), \
               CAST(COLUMN_COMMENT AS CHAR) \
             FROM information_schema.COLUMNS WHERE {filter} \
             ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
        ),
        format!(
            "SELECT CAST(TABLE_SCHEMA AS CHAR), CAST(TABLE_NAME AS CHAR), \
               CAST(CONSTRAINT_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
               CAST(REFERENCED_TABLE_SCHEMA AS CHAR), CAST(REFERENCED_TABLE_NAME AS CHAR), \
               CAST(REFERENCED_COLUMN_NAME AS CHAR) \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE {filter} AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL) \
             ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME = 'PRIMARY' DESC, CONSTRAINT_NAME, \
               ORDINAL_POSITION"
        ),
    ]
}

pub(super) async fn fetch_rows(
    conn: &mut MySqlConnection,
    sql: String,
    binds: &[String],
) -> std::result::Result<Vec<sqlx::mysql::MySqlRow>, sqlx::Error> {
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b.as_str());
    }
    q.fetch_all(conn).await
}

impl MySqlConnector {
    /// Describes the tables of `scope` with three `information_schema` queries, whatever their
    /// number.
    pub(super) async fn describe(&self, scope: Scope<'_>) -> Result<Vec<TableSchema>> {
        let err = |e| query_error(&self.name, e);
        let (filter, binds) = scope.filter();
        let [tables_sql, columns_sql, keys_sql] = introspection_sql(&filter);
        let mut conn = self.acquire().await?;
        let mut tables: Vec<TableSchema> = Vec::new();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        for r in fetch_rows(&mut conn, tables_sql, &binds)
            .await
            .map_err(err)?
        {
            let schema: String = r.try_get(0).map_err(err)?;
            let name: String = r.try_get(1).map_err(err)?;
            let table_type: String = r.try_get(2).map_err(err)?;
            let comment: Option<String> = r.try_get(3).map_err(err)?;
            let rows: Option<i64> = r.try_get(4).map_err(err)?;
            let is_view = table_type.eq_ignore_ascii_case("VIEW");
            index.insert((schema.clone(), name.clone()), tables.len());
            tables.push(TableSchema {
                table: TableRef::qualified(schema, name),
                kind: if is_view {
                    TableKind::View
                } else {
                    TableKind::Table
                },
                columns: Vec::new(),
                // A view's comment is the word `VIEW`.
                comment: comment.filter(|c| !(c.is_empty() || is_view && c == "VIEW")),
                primary_key: Vec::new(),
                foreign_keys: Vec::new(),
                row_estimate: if is_view {
                    None
                } else {
                    rows.and_then(|n| u64::try_from(n).ok())
                },
            });
        }
        let find = |r: &sqlx::mysql::MySqlRow| -> std::result::Result<Option<usize>, sqlx::Error> {
            let key: (String, String) = (r.try_get(0)?, r.try_get(1)?);
            Ok(index.get(&key).copied())
        };
        for r in fetch_rows(&mut conn, columns_sql, &binds)
            .await
            .map_err(err)?
        {
            let Some(i) = find(&r).map_err(err)? else {
                continue;
            };
            let nullable: String = r.try_get(4).map_err(err)?;
            let comment: Option<String> = r.try_get(5).map_err(err)?;
            tables[i].columns.push(ColumnInfo {
                name: r.try_get(2).map_err(err)?,
                data_type: r.try_get(3).map_err(err)?,
                nullable: nullable.eq_ignore_ascii_case("YES"),
                comment: comment.filter(|c| !c.is_empty()),
            });
        }
        // The foreign key the previous row extended: (table index, constraint name).
        let mut last_fk: Option<(usize, String)> = None;
        for r in fetch_rows(&mut conn, keys_sql, &binds).await.map_err(err)? {
            let Some(i) = find(&r).map_err(err)? else {
                continue;
            };
            let constraint: String = r.try_get(2).map_err(err)?;
            let key = KeyColumn {
                primary: constraint == "PRIMARY",
                constraint,
                column: r.try_get(3).map_err(err)?,
                ref_schema: r.try_get(4).map_err(err)?,
                ref_table: r.try_get(5).map_err(err)?,
                ref_column: r.try_get(6).map_err(err)?,
            };
            add_key_column(&mut tables[i], i, &mut last_fk, key);
        }
        Ok(tables)
    }
}
