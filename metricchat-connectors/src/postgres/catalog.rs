//! Catalog SQL: the tables, columns and keys the connector lists and describes.

pub(super) const LIST_TABLES: &str = "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
       AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%' \
       AND NOT c.relispartition \
       AND has_schema_privilege(n.oid, 'USAGE') \
     ORDER BY 1, 2";

pub(super) const TABLE_INFO: &str = "SELECT c.oid::int8, c.relkind::text, obj_description(c.oid, 'pg_class'), \
       c.reltuples::float8 FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')";

pub(super) const COLUMNS: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), \
       NOT a.attnotnull, col_description(a.attrelid, a.attnum) \
     FROM pg_catalog.pg_attribute a \
     WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

pub(super) const CONSTRAINTS: &str = "SELECT con.contype::text, \
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i) \
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i), \
       rn.nspname::text, rc.relname::text, \
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i) \
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) \
     FROM pg_catalog.pg_constraint con \
     LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid \
     LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
     WHERE con.conrelid = $1::int8::oid AND con.contype IN ('p', 'f') ORDER BY con.conname";

/// The relations `LIST_TABLES` shows, for the bulk catalog queries.
pub(super) const CATALOG_RELATIONS: &str = "SELECT c.oid FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
       AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%' \
       AND NOT c.relispartition \
       AND has_schema_privilege(n.oid, 'USAGE')";

pub(super) fn catalog_tables_sql() -> String {
    format!(
        "SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text, \
           d.description, c.reltuples::float8 \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.objsubid = 0 \
           AND d.classoid = 'pg_catalog.pg_class'::regclass \
         WHERE c.oid IN ({CATALOG_RELATIONS}) ORDER BY 2, 3"
    )
}

pub(super) fn catalog_columns_sql() -> String {
    format!(
        "SELECT a.attrelid::int8, a.attname::text, format_type(a.atttypid, a.atttypmod), \
           NOT a.attnotnull, d.description \
         FROM pg_catalog.pg_attribute a \
         LEFT JOIN pg_catalog.pg_description d ON d.objoid = a.attrelid \
           AND d.objsubid = a.attnum AND d.classoid = 'pg_catalog.pg_class'::regclass \
         WHERE a.attrelid IN ({CATALOG_RELATIONS}) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attrelid, a.attnum"
    )
}

pub(super) fn catalog_constraints_sql() -> String {
    format!(
        "SELECT con.conrelid::int8, con.contype::text, \
           ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i) \
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i), \
           rn.nspname::text, rc.relname::text, \
           ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i) \
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) \
         FROM pg_catalog.pg_constraint con \
         LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid \
         LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
         WHERE con.conrelid IN ({CATALOG_RELATIONS}) AND con.contype IN ('p', 'f') \
         ORDER BY con.conrelid, con.conname"
    )
}

/// reltuples is -1 for a table never analysed; views have no row estimate.
pub(super) fn row_estimate(is_view: bool, reltuples: f64) -> Option<u64> {
    (!is_view && reltuples >= 0.0).then(|| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = reltuples.round() as u64;
        n
    })
}
