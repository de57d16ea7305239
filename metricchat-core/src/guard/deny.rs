//! Functions the guard refuses, per dialect.
//!
//! A pattern is a lower-case function name; a trailing `*` makes it a prefix (`dblink*` matches
//! `dblink_exec`). Matching is case-insensitive and looks at the last part of a qualified name, so
//! `PG_CATALOG.PG_SLEEP(1)` is caught by `pg_sleep`. The lists apply to scalar calls and to table
//! functions in `FROM` alike.

use crate::connector::Dialect;

/// Denied everywhere: stalling the server.
const GENERAL: &[&str] = &["sleep"];

/// PostgreSQL (and Redshift). The whole `pg_*` family is denied by default (sleeping, server
/// files, backend signalling, configuration, statistics resets, replication, WAL and backup
/// control, advisory locks, logical decoding, …) but for the read-only helpers in
/// [`POSTGRES_SAFE`]; a `pg_*` function a new server release adds is refused until it is
/// reviewed. Beyond that family: functions that run SQL given as text (`query_to_xml` and the
/// rest of the `*_to_xml` / `*_to_xmlschema` family, `ts_stat`, `ts_rewrite`, `crosstab`,
/// `connectby`, `xpath_table`), that open a new connection (`dblink*`, `postgres_fdw_*`), that
/// write through a read (sequences, large objects, index maintenance, `set_config`), and
/// extension functions that read relations by name (`pgstattuple`, `pgrowlocks`, page
/// inspection).
///
/// The text-executing functions are denied rather than parsed and guarded recursively: their
/// argument may be any expression (a concatenation, a column, a subquery), so its text is only
/// known when the engine runs it; a recursive check would protect only literal arguments.
const POSTGRES: &[&str] = &[
    "pg_*",
    "lo_*",
    "loread",
    "lowrite",
    "dblink*",
    "postgres_fdw_*",
    "set_config",
    "nextval",
    "setval",
    "query_to_*",
    "cursor_to_*",
    "table_to_*",
    "schema_to_*",
    "database_to_*",
    "ts_stat",
    "ts_rewrite",
    "crosstab*",
    "connectby",
    "xpath_table",
    "brin_summarize_*",
    "brin_desummarize_range",
    "gin_clean_pending_list",
    "binary_upgrade_*",
    "pgstattuple*",
    "pgrowlocks",
    "pg_visibility*",
    "get_raw_page",
    "heap_page_*",
    "page_header",
    "bt_page_*",
    "bt_metap",
    "txid_current",
    "setseed",
];

/// `pg_*` functions that only read the catalog or compute a value: allowed although the family
/// is denied.
pub(super) const POSTGRES_SAFE: &[&str] = &[
    "pg_typeof",
    "pg_size_pretty",
    "pg_size_bytes",
    "pg_column_size",
    "pg_column_compression",
    "pg_relation_size",
    "pg_total_relation_size",
    "pg_table_size",
    "pg_indexes_size",
    "pg_database_size",
    "pg_tablespace_size",
    "pg_get_viewdef",
    "pg_get_constraintdef",
    "pg_get_indexdef",
    "pg_get_expr",
    "pg_get_userbyid",
    "pg_get_serial_sequence",
    "pg_get_functiondef",
    "pg_get_function_arguments",
    "pg_get_function_identity_arguments",
    "pg_get_function_result",
    "pg_get_keywords",
    "pg_get_triggerdef",
    "pg_get_ruledef",
    "pg_get_partkeydef",
    "pg_get_statisticsobjdef",
    "pg_table_is_visible",
    "pg_type_is_visible",
    "pg_function_is_visible",
    "pg_collation_is_visible",
    "pg_encoding_to_char",
    "pg_char_to_encoding",
    "pg_client_encoding",
    "pg_backend_pid",
    "pg_postmaster_start_time",
    "pg_conf_load_time",
    "pg_is_in_recovery",
    "pg_input_is_valid",
    "pg_input_error_info",
    "pg_describe_object",
    "pg_identify_object",
    "pg_has_role",
    "pg_my_temp_schema",
    "pg_jit_available",
    "pg_options_to_table",
    "pg_current_xact_id",
    "pg_get_late_binding_view_cols",
    "pg_get_cols",
];

/// MySQL / MariaDB: sleeping and CPU burning, server files, named locks, replication waits,
/// sequence writes (MariaDB), and UDFs that run shell commands.
const MYSQL: &[&str] = &[
    "benchmark",
    "load_file",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "master_pos_wait",
    "master_gtid_wait",
    "source_pos_wait",
    "wait_for_executed_gtid_set",
    "wait_until_sql_thread_after_gtids",
    "nextval",
    "setval",
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
    "sqlite_dbpage",
    "sqlite_dbdata",
    "sqlite_dbptr",
];

/// DuckDB and DataFusion: reading files, globs and URLs, attaching other databases, scanning other
/// engines, running SQL given as a string (or as a serialized plan), reading tables by name,
/// secrets, environment and HTTP access, checkpoints, sequence writes.
const FILE_READERS: &[&str] = &[
    "read_*",
    "csv_scan",
    "parquet_*",
    "json_scan",
    "sniff_csv",
    "glob",
    "iceberg_*",
    "delta_*",
    "ducklake_*",
    "st_read*",
    "sqlite_*",
    "postgres_*",
    "mysql_*",
    "query",
    "query_table",
    "json_execute_serialized_sql",
    "getenv",
    "duckdb_secrets",
    "which_secret",
    "load_aws_credentials",
    "http_*",
    "checkpoint",
    "force_checkpoint",
    "nextval",
    "setval",
    "setseed",
    "current_setting",
    "duckdb_settings",
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
    "directory",
    "to_file",
    "fl_*",
    "query_history*",
    "login_history*",
    "copy_history",
];

/// BigQuery: federated queries to other databases and calls out to external objects.
const BIGQUERY: &[&str] = &["external_query", "external_object_transform"];

/// Relations that hold secrets, other sessions' SQL or server files, per dialect (matched on
/// the last part of the name, case-insensitive; a trailing `*` makes a prefix).
const POSTGRES_RELATIONS: &[&str] = &[
    "pg_authid",
    "pg_shadow",
    "pg_user_mapping",
    "pg_user_mappings",
    "pg_hba_file_rules",
    "pg_ident_file_mappings",
    "pg_file_settings",
    "pg_stat_activity",
    "pg_stat_statements",
    "pg_stat_replication",
    "pg_largeobject",
    "pg_largeobject_metadata",
    "pg_statistic",
    "pg_subscription",
    "pg_replication_slots",
];

/// Redshift: PostgreSQL's list and the system tables and views with every user's SQL text.
const REDSHIFT_RELATIONS: &[&str] = &[
    "stl_query*",
    "stl_ddltext",
    "stl_utilitytext",
    "stl_connection_log",
    "stl_userlog",
    "stl_scan",
    "svl_statementtext",
    "svl_qlog",
    "sys_query_*",
    "stv_recents",
    "stv_inflight",
    "pg_user_info",
];

/// BigQuery: `INFORMATION_SCHEMA.JOBS*` (every user's query text) and sessions.
const BIGQUERY_RELATIONS: &[&str] = &["jobs", "jobs_by_*", "sessions_by_*"];

/// Snowflake: query, login and access history.
const SNOWFLAKE_RELATIONS: &[&str] = &[
    "query_history*",
    "login_history*",
    "access_history",
    "sessions",
];

/// MySQL / MariaDB: other sessions' SQL in `information_schema.PROCESSLIST` (matched when
/// qualified: an unqualified name is a table of the connection's own database). The `mysql`,
/// `performance_schema` and `sys` schemas, with password hashes and statement history, are
/// refused whole (see [`denied_schemas`]).
const MYSQL_RELATIONS: &[&str] = &["processlist"];

/// SQLite virtual tables over raw database pages.
const SQLITE_RELATIONS: &[&str] = &["sqlite_dbpage", "sqlite_dbdata", "sqlite_dbptr"];

/// Relations whose reading is refused in `dialect`.
pub(super) fn denied_relations(dialect: Dialect) -> Vec<&'static str> {
    let lists: &[&[&'static str]] = match dialect {
        Dialect::Postgres => &[POSTGRES_RELATIONS],
        Dialect::Redshift => &[POSTGRES_RELATIONS, REDSHIFT_RELATIONS],
        Dialect::MySql => &[MYSQL_RELATIONS],
        Dialect::Sqlite => &[SQLITE_RELATIONS],
        Dialect::BigQuery => &[BIGQUERY_RELATIONS],
        Dialect::Snowflake => &[SNOWFLAKE_RELATIONS],
        Dialect::Generic => &[POSTGRES_RELATIONS, REDSHIFT_RELATIONS, SQLITE_RELATIONS],
        Dialect::DuckDb | Dialect::DataFusion => &[],
    };
    lists.iter().flat_map(|l| l.iter().copied()).collect()
}

/// Schemas no relation may be read from in `dialect`.
pub(super) fn denied_schemas(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::MySql => &["mysql", "performance_schema", "sys"],
        Dialect::Snowflake => &[
            "account_usage",
            "reader_account_usage",
            "organization_usage",
        ],
        Dialect::Generic => &["mysql", "performance_schema", "account_usage"],
        _ => &[],
    }
}

/// Functions that allocate an output sized by an argument, with that argument's position.
/// On in-process engines (DataFusion, DuckDB, SQLite) one call can hold the host's CPU and memory,
/// so the guard bounds the argument (see [`MAX_ALLOCATION`]).
pub(super) const ALLOCATING: &[(&str, usize)] = &[
    ("randomblob", 0),
    ("zeroblob", 0),
    ("printf", 1),
    ("format", 1),
    ("repeat", 1),
    ("lpad", 1),
    ("rpad", 1),
    ("array_repeat", 1),
    ("list_repeat", 1),
    ("space", 0),
];

/// The largest literal the guard lets an [`ALLOCATING`] function's size argument have.
pub(super) const MAX_ALLOCATION: u64 = 1_000_000;

/// The denied function patterns for `dialect`: the general list plus the dialect's own.
///
/// | dialect | denied |
/// | --- | --- |
/// | all | `sleep` |
/// | Postgres, Redshift | every `pg_*` function but a reviewed read-only list (`pg_typeof`, `pg_size_pretty`, `pg_relation_size`, `pg_get_viewdef`, …), `lo_*`, `dblink*`, `postgres_fdw_*`, `set_config`, `nextval`, `setval`, the `query_to_*` / `table_to_*` / `cursor_to_*` / `schema_to_*` / `database_to_*` family, `ts_stat`, `ts_rewrite`, `crosstab*`, `connectby`, `xpath_table`, index maintenance, page inspection |
/// | MySQL | `benchmark`, `load_file`, `get_lock`, `release_lock`, `release_all_locks`, replication waits, `nextval`, `setval`, `sys_exec`, `sys_eval` |
/// | SQLite | `load_extension`, `readfile`, `writefile`, `edit`, `fsdir`, `zipfile`, `fts3_tokenizer`, `sqlite_dbpage` |
/// | DuckDB, DataFusion | `read_*` (csv, parquet, json, text, blob, …), `csv_scan`, `parquet_*`, `glob`, `iceberg_*`, `delta_*`, `sqlite_*`, `postgres_*`, `mysql_*`, `query`, `query_table`, `json_execute_serialized_sql`, `getenv`, `duckdb_secrets`, `http_*`, `checkpoint`, `nextval`, `setval` |
/// | Snowflake | `system$*`, `infer_schema`, `get_presigned_url`, stage URL functions, `result_scan`, `identifier` |
/// | BigQuery | `external_query`, `external_object_transform` |
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
/// assert!(is_denied_function(Dialect::Postgres, "pg_terminate_backend"));
/// assert!(!is_denied_function(Dialect::Postgres, "pg_size_pretty"));
/// assert!(!is_denied_function(Dialect::Postgres, "date_trunc"));
/// ```
pub fn is_denied_function(dialect: Dialect, name: &str) -> bool {
    let bare = name.rsplit('.').next().unwrap_or(name);
    let bare = bare.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']');
    denied_by(&denied_functions(dialect), dialect, bare)
}

/// Whether the bare function name `bare` matches one of `patterns` and is not one of the
/// dialect's reviewed exceptions.
pub(super) fn denied_by(patterns: &[&str], dialect: Dialect, bare: &str) -> bool {
    let lower = bare.to_ascii_lowercase();
    if matches!(dialect, Dialect::Postgres | Dialect::Redshift)
        && POSTGRES_SAFE.contains(&lower.as_str())
    {
        return false;
    }
    patterns.iter().any(|p| matches_pattern(p, &lower))
}

/// Whether a relation named by `parts` (lower-cased, qualified or not) is refused in `dialect`.
pub(super) fn denied_relation(dialect: Dialect, parts: &[String]) -> bool {
    // A quoted part may hold dots (BigQuery's `region-us.INFORMATION_SCHEMA.JOBS`).
    let parts: Vec<&str> = parts.iter().flat_map(|p| p.split('.')).collect();
    let Some(last) = parts.last() else {
        return false;
    };
    let schemas = denied_schemas(dialect);
    let in_denied_schema = parts.len() > 1
        && parts
            .get(parts.len() - 2)
            .is_some_and(|s| schemas.contains(s));
    let listed = denied_relations(dialect)
        .iter()
        .any(|p| matches_pattern(p, last));
    let qualified_only = dialect == Dialect::MySql;
    in_denied_schema || (listed && (!qualified_only || parts.len() > 1))
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
