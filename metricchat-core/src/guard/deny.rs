//! Functions the guard refuses, per dialect.
//!
//! A pattern is a lower-case function name; a trailing `*` makes it a prefix (`dblink*` matches
//! `dblink_exec`). Matching is case-insensitive and looks at the last part of a qualified name, so
//! `PG_CATALOG.PG_SLEEP(1)` is caught by `pg_sleep`. The lists apply to scalar calls and to table
//! functions in `FROM` alike.

use crate::connector::Dialect;

/// Denied everywhere: stalling the server.
const GENERAL: &[&str] = &["sleep"];

/// PostgreSQL (and Redshift): sleeping, server files, large objects, remote connections, backend
/// and configuration control, advisory locks, sequence writes, notifications, replication and
/// backup control, and the `*_to_xml` family, which runs SQL given as a string or reads tables by
/// name where the guard cannot see them.
const POSTGRES: &[&str] = &[
    "pg_sleep*",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_*",
    "pg_stat_file",
    "pg_file_*",
    "pg_logdir_ls",
    "lo_*",
    "dblink*",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_log_backend_memory_contexts",
    "set_config",
    "pg_advisory_*",
    "pg_try_advisory_*",
    "nextval",
    "setval",
    "pg_notify",
    "pg_promote",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_backup_*",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_create_*_replication_slot",
    "pg_drop_replication_slot",
    "pg_replication_origin_*",
    "pg_logical_emit_message",
    "pg_stat_reset*",
    "pg_import_system_collations",
    "query_to_xml*",
    "query_to_xmlschema",
    "cursor_to_xml*",
    "table_to_xml*",
    "schema_to_xml*",
    "database_to_xml*",
];

/// MySQL / MariaDB: sleeping and CPU burning, server files, named locks, replication waits.
const MYSQL: &[&str] = &[
    "benchmark",
    "load_file",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "master_pos_wait",
    "source_pos_wait",
    "wait_for_executed_gtid_set",
    "wait_until_sql_thread_after_gtids",
    "sys_exec",
    "sys_eval",
];

/// SQLite: extension loading, file access (CLI and `fileio` extension), tokenizer pointer tricks.
const SQLITE: &[&str] = &[
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fsdir",
    "zipfile",
    "fts3_tokenizer",
];

/// DuckDB and DataFusion: reading files, globs and URLs, attaching other databases, scanning other
/// engines, running SQL given as a string, reading tables by name, environment access, sequence
/// writes.
const FILE_READERS: &[&str] = &[
    "read_*",
    "csv_scan",
    "parquet_scan",
    "parquet_metadata",
    "parquet_schema",
    "parquet_file_metadata",
    "parquet_kv_metadata",
    "json_scan",
    "sniff_csv",
    "glob",
    "iceberg_*",
    "delta_scan",
    "st_read",
    "sqlite_scan",
    "sqlite_attach",
    "postgres_scan*",
    "postgres_query",
    "postgres_attach",
    "mysql_query",
    "query",
    "query_table",
    "getenv",
    "nextval",
    "setval",
];

/// Snowflake: `SYSTEM$…` administrative functions, stage files and URLs, earlier results, and
/// `IDENTIFIER(…)`, which names a table in a string the guard cannot check.
const SNOWFLAKE: &[&str] = &[
    "system$*",
    "infer_schema",
    "get_presigned_url",
    "build_scoped_file_url",
    "build_stage_file_url",
    "get_stage_location",
    "get_relative_path",
    "get_absolute_path",
    "result_scan",
    "identifier",
];

/// BigQuery: federated queries to other databases.
const BIGQUERY: &[&str] = &["external_query"];

/// The denied function patterns for `dialect`: the general list plus the dialect's own.
///
/// | dialect | denied |
/// | --- | --- |
/// | all | `sleep` |
/// | Postgres, Redshift | `pg_sleep*`, `pg_read_file`, `pg_read_binary_file`, `pg_ls_*`, `pg_stat_file`, `pg_file_*`, `lo_*`, `dblink*`, `pg_terminate_backend`, `pg_cancel_backend`, `pg_reload_conf`, `set_config`, `pg_advisory_*`, `nextval`, `setval`, `pg_notify`, `query_to_xml*`, `table_to_xml*`, backup / replication / WAL control … |
/// | MySQL | `benchmark`, `load_file`, `get_lock`, `release_lock`, `release_all_locks`, replication waits, `sys_exec`, `sys_eval` |
/// | SQLite | `load_extension`, `readfile`, `writefile`, `edit`, `fsdir`, `zipfile`, `fts3_tokenizer` |
/// | DuckDB, DataFusion | `read_*` (csv, parquet, json, text, blob, …), `csv_scan`, `parquet_scan`, `parquet_metadata`, `glob`, `iceberg_*`, `delta_scan`, `sqlite_scan`, `postgres_scan*`, `mysql_query`, `query`, `query_table`, `getenv`, `nextval`, `setval` |
/// | Snowflake | `system$*`, `infer_schema`, `get_presigned_url`, stage URL functions, `result_scan`, `identifier` |
/// | BigQuery | `external_query` |
/// | Generic | all of the above except SQLite's `edit` (unknown engine: be strict) |
///
/// `current_setting` stays allowed on PostgreSQL: it only reads. SQLite's `glob()` is a string
/// match there, so the file-reading list is not applied to SQLite.
pub fn denied_functions(dialect: Dialect) -> Vec<&'static str> {
    let lists: &[&[&str]] = match dialect {
        Dialect::Postgres | Dialect::Redshift => &[GENERAL, POSTGRES],
        Dialect::MySql => &[GENERAL, MYSQL],
        Dialect::Sqlite => &[GENERAL, SQLITE],
        Dialect::DuckDb | Dialect::DataFusion => &[GENERAL, FILE_READERS],
        Dialect::Snowflake => &[GENERAL, SNOWFLAKE],
        Dialect::BigQuery => &[GENERAL, BIGQUERY],
        Dialect::Generic => &[
            GENERAL,
            POSTGRES,
            MYSQL,
            SQLITE,
            FILE_READERS,
            SNOWFLAKE,
            BIGQUERY,
        ],
    };
    let mut out: Vec<&'static str> = Vec::new();
    for pattern in lists.iter().flat_map(|l| l.iter().copied()) {
        // `edit` is a common word for a user-defined function; only SQLite's CLI has the built-in.
        if dialect == Dialect::Generic && pattern == "edit" {
            continue;
        }
        if !out.contains(&pattern) {
            out.push(pattern);
        }
    }
    out
}

/// Whether calling `name` (a bare or schema-qualified function name, any case) is denied in
/// `dialect`.
///
/// ```
/// use metricchat_core::Dialect;
/// use metricchat_core::guard::is_denied_function;
///
/// assert!(is_denied_function(Dialect::Postgres, "PG_CATALOG.PG_SLEEP"));
/// assert!(is_denied_function(Dialect::DuckDb, "read_csv_auto"));
/// assert!(!is_denied_function(Dialect::Postgres, "date_trunc"));
/// ```
pub fn is_denied_function(dialect: Dialect, name: &str) -> bool {
    let bare = name.rsplit('.').next().unwrap_or(name);
    let bare = bare.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']');
    denied_by(&denied_functions(dialect), bare)
}

/// Whether the bare function name `bare` matches one of `patterns`.
pub(super) fn denied_by(patterns: &[&str], bare: &str) -> bool {
    let lower = bare.to_ascii_lowercase();
    patterns.iter().any(|p| matches_pattern(p, &lower))
}

fn matches_pattern(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, suffix)) => {
            name.len() >= prefix.len() + suffix.len()
                && name.starts_with(prefix)
                && name.ends_with(suffix)
        }
    }
}
