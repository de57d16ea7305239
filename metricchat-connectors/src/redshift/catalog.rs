//! Catalog SQL over Redshift's `svv_*` views.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Which tables an introspection covers.
pub(super) enum Scope<'a> {
    /// One table (bound as `$1` schema, `$2` name).
    Table(&'a str, &'a str),
    /// Every table but the system schemas'.
    All,
}

impl Scope<'_> {
    /// The condition on the given schema and table columns.
    pub(super) fn filter(&self, schema_col: &str, table_col: &str) -> String {
        match self {
            Scope::Table(..) => format!("{schema_col} = $1 AND {table_col} = $2"),
            Scope::All => format!(
                "{schema_col} NOT IN ({SYSTEM_SCHEMAS}) AND {schema_col} NOT LIKE 'pg\\_temp\\_%'"
            ),
        }
    }
}

pub(super) fn tables_sql(scope: &Scope<'_>) -> String {
    format!(
        "SELECT table_schema::text, table_name::text, table_type::text, remarks::text \
         FROM svv_tables WHERE {} ORDER BY 1, 2",
        scope.filter("table_schema", "table_name")
    )
}

pub(super) fn columns_sql(scope: &Scope<'_>) -> String {
    format!(
        "SELECT table_schema::text, table_name::text, column_name::text, data_type::text, \
           character_maximum_length::int4, numeric_precision::int4, numeric_scale::int4, \
           is_nullable::text, remarks::text \
         FROM svv_columns WHERE {} ORDER BY table_schema, table_name, ordinal_position",
        scope.filter("table_schema", "table_name")
    )
}

pub(super) fn estimates_sql(scope: &Scope<'_>) -> String {
    format!(
        "SELECT \"schema\"::text, \"table\"::text, \
           COALESCE(estimated_visible_rows, tbl_rows)::float8 \
         FROM svv_table_info WHERE {}",
        scope.filter("\"schema\"", "\"table\"")
    )
}

pub(super) fn keys_sql(scope: &Scope<'_>) -> String {
    format!(
        "SELECT tc.table_schema::text, tc.table_name::text, tc.constraint_type::text, \
           tc.constraint_name::text, kcu.column_name::text, \
           ref.table_schema::text, ref.table_name::text, ref.column_name::text \
         FROM information_schema.table_constraints tc \
         JOIN information_schema.key_column_usage kcu \
           ON kcu.constraint_schema = tc.constraint_schema \
          AND kcu.constraint_name = tc.constraint_name \
          AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name \
         LEFT JOIN information_schema.referential_constraints rc \
           ON rc.constraint_schema = tc.constraint_schema \
          AND rc.constraint_name = tc.constraint_name \
         LEFT JOIN information_schema.key_column_usage ref \
           ON ref.constraint_schema = rc.unique_constraint_schema \
          AND ref.constraint_name = rc.unique_constraint_name \
          AND ref.ordinal_position = kcu.ordinal_position \
         WHERE tc.constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') AND {} \
         ORDER BY 1, 2, 3 DESC, 4, kcu.ordinal_position",
        scope.filter("tc.table_schema", "tc.table_name")
    )
}

/// A column type as Redshift's DDL spells it: `character varying(256)`, `numeric(12,2)`.
pub(super) fn type_name(
    data_type: &str,
    char_len: Option<i32>,
    precision: Option<i32>,
    scale: Option<i32>,
) -> String {
    match (char_len, precision) {
        (Some(n), _) if n > 0 => format!("{data_type}({n})"),
        (_, Some(p)) if matches!(data_type, "numeric" | "decimal") => {
            format!("{data_type}({p},{})", scale.unwrap_or(0))
        }
        _ => data_type.to_string(),
    }
}

pub(super) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

pub(super) fn rows_from_f64(n: f64) -> Option<u64> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (n >= 0.0 && n.is_finite()).then(|| n.round() as u64)
}
