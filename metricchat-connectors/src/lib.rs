//! Warehouse connectors for metricchat, one per cargo feature, and [`connect`], which opens a
//! connection from a URL.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `datafusion` | yes | [`datafusion::DataFusionConnector`]: Parquet, CSV, newline-delimited JSON and Arrow IPC files and in-memory Arrow tables, queried in process with Apache DataFusion; `file://` URLs and plain paths in [`connect`]; the bundled [`flights_sample`] |
//! | `sqlite` | no | `sqlite::SqliteConnector`: SQLite files and in-memory databases (sqlx); `sqlite://` URLs |
//! | `postgres` | no | `postgres::PostgresConnector`: PostgreSQL (sqlx); `postgres://` and `postgresql://` URLs |
//! | `mysql` | no | `mysql::MySqlConnector`: MySQL and MariaDB (sqlx); `mysql://` and `mariadb://` URLs |
//! | `redshift` | no | `redshift::RedshiftConnector`: Amazon Redshift over the PostgreSQL protocol (sqlx; implies `postgres`), introspected through `svv_*` views; `redshift://` and `redshift+postgres://` URLs |
//! | `snowflake` | no | `snowflake::SnowflakeConnector`: Snowflake over the SQL API v2 (key-pair JWT or OAuth); `snowflake://` URLs |
//! | `bigquery` | no | `bigquery::BigQueryConnector`: Google BigQuery over REST v2 (service account or bearer token); `bigquery://` URLs |
//! | `duckdb` | no | `duckdb::DuckDbConnector`: DuckDB files (read-only) and in-memory databases, DuckDB compiled in (a slow build, so not in the facade's `full`); `duckdb://` URLs |
//!
//! [`connect`] recognises the URL schemes of every backend and, when this build lacks its
//! feature, says which feature to enable.
//!
//! # Privileged logins
//!
//! The PostgreSQL, Redshift and MySQL/MariaDB connectors refuse `query()` (the path
//! model-written SQL takes) with [`Error::PrivilegedLogin`] when their login is privileged in a
//! way a read-only transaction does not contain — a PostgreSQL or Redshift superuser, a MySQL
//! user with `FILE` or `SUPER`, … (each module lists what it checks). Catalog queries still run.
//! The error gives the SQL for a login that may only read; `?allow_privileged_login=true` in the
//! URL (or `allow_privileged_login: true` in the config) opts in.
//!
//! # Connection URLs
//!
//! | URL | connection |
//! | --- | --- |
//! | `file:///data/flights.parquet`, `/data/flights.parquet`, `data/flights.csv` | one table, named after the file stem (`flights`) |
//! | `file:///data/nycflights13/` or a plain directory path | one table per supported file in the directory (not recursive) |
//! | `file:///data/*.parquet` | one table per matching file |
//! | `file:///logs/2024-*.parquet?table=logs` | one table `logs` over all matching files |
//!
//! Supported files: `.parquet`/`.parq`, `.csv`, `.tsv`, `.json`/`.ndjson`/`.jsonl` (newline
//! delimited), `.arrow`/`.feather`/`.ipc` (Arrow IPC file format). Table names are the file stem,
//! lowercased, with every other character than `a-z`, `0-9` and `_` replaced by `_` (a leading
//! digit gets a `t_` prefix); a clash gets the extension appended (`flights_csv`).
//!
//! Query parameters of `file://` URLs: `name` (the connection's name; default: the file stem or
//! the directory's name), `table` (globs only: one table of that name over all matches), and the
//! engine limits `memory_limit` (default `2GiB`) and `max_value_size` (default `10MiB`), sizes in
//! bytes or with a unit (see [`datafusion::DataFusionLimits`]). Plain paths take no parameters.
//!
//! ```no_run
//! # fn demo() -> metricchat_core::error::Result<()> {
//! let flights = metricchat_connectors::connect("file:///data/nycflights13/?name=flights")?;
//! let sample = metricchat_connectors::flights_sample("flights")?;
//! # Ok(()) }
//! ```

#[cfg(feature = "bigquery")]
pub mod bigquery;
#[cfg(feature = "datafusion")]
pub mod datafusion;
#[cfg(feature = "duckdb")]
pub mod duckdb;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redshift")]
pub mod redshift;
#[cfg(any(feature = "snowflake", feature = "bigquery"))]
mod rest_common;
#[cfg(feature = "snowflake")]
pub mod snowflake;
#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "duckdb"
))]
mod sql_common;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::path::{Path, PathBuf};

use metricchat_core::connector::ConnectorRef;
use metricchat_core::error::{Error, Result};

/// URL schemes [`connect`] handles in this build (plain paths always count as `file`).
pub const SUPPORTED_SCHEMES: &[&str] = &[
    #[cfg(feature = "datafusion")]
    "file",
    #[cfg(feature = "postgres")]
    "postgres",
    #[cfg(feature = "postgres")]
    "postgresql",
    #[cfg(feature = "mysql")]
    "mysql",
    #[cfg(feature = "mysql")]
    "mariadb",
    #[cfg(feature = "redshift")]
    "redshift",
    #[cfg(feature = "redshift")]
    "redshift+postgres",
    #[cfg(feature = "sqlite")]
    "sqlite",
    #[cfg(feature = "snowflake")]
    "snowflake",
    #[cfg(feature = "bigquery")]
    "bigquery",
    #[cfg(feature = "duckdb")]
    "duckdb",
];

/// Schemes of backends that exist behind a cargo feature, and that feature.
const FEATURE_SCHEMES: &[(&str, &str)] = &[
    ("file", "datafusion"),
    ("postgres", "postgres"),
    ("postgresql", "postgres"),
    ("mysql", "mysql"),
    ("mariadb", "mysql"),
    ("sqlite", "sqlite"),
    ("redshift", "redshift"),
    ("redshift+postgres", "redshift"),
    ("snowflake", "snowflake"),
    ("bigquery", "bigquery"),
    ("duckdb", "duckdb"),
];

/// Opens a connection from a URL or a plain file path (see the crate docs for the forms).
///
/// Fails with [`Error::NotFound`] when no file matches, [`Error::Unsupported`] when the scheme
/// needs a cargo feature this build lacks, and [`Error::InvalidInput`] for anything malformed or
/// an unknown scheme.
pub fn connect(url: &str) -> Result<ConnectorRef> {
    let url = url.trim();
    if url.is_empty() {
        return Err(Error::invalid_input("empty connection URL"));
    }
    let Some(scheme) = scheme_of(url) else {
        return connect_file(Path::new(url), FileParams::default());
    };
    match scheme.as_str() {
        "file" => {
            let (path, params) = parse_file_url(url)?;
            connect_file(&path, params)
        }
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(std::sync::Arc::new(
            postgres::PostgresConnector::from_url(url)?,
        )),
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => Ok(std::sync::Arc::new(mysql::MySqlConnector::from_url(url)?)),
        #[cfg(feature = "redshift")]
        "redshift" | "redshift+postgres" => Ok(std::sync::Arc::new(
            redshift::RedshiftConnector::from_url(url)?,
        )),
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(std::sync::Arc::new(sqlite::SqliteConnector::from_url(url)?)),
        #[cfg(feature = "snowflake")]
        "snowflake" => Ok(std::sync::Arc::new(
            snowflake::SnowflakeConnector::from_url(url)?,
        )),
        #[cfg(feature = "bigquery")]
        "bigquery" => Ok(std::sync::Arc::new(bigquery::BigQueryConnector::from_url(
            url,
        )?)),
        #[cfg(feature = "duckdb")]
        "duckdb" => Ok(std::sync::Arc::new(duckdb::DuckDbConnector::from_url(url)?)),
        other => match FEATURE_SCHEMES.iter().find(|(s, _)| *s == other) {
            Some((_, feature)) => Err(Error::Unsupported(format!(
                "`{other}://` connections need the `{feature}` feature of metricchat-connectors; \
                 this build supports {}",
                supported_list()
            ))),
            None => Err(Error::invalid_input(format!(
                "unknown connection URL scheme `{other}://`; this build supports {}",
                supported_list()
            ))),
        },
    }
}

/// The folder of the bundled nycflights13 sample (five Parquet files; see its README.md).
///
/// It lives in the source tree (`data/nycflights13` next to this crate), so it exists in a
/// checkout of the repository, not in a crate downloaded from a registry.
pub fn sample_data_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .unwrap_or(manifest)
        .join("data")
        .join("nycflights13")
}

/// The bundled nycflights13 sample as a connection called `name`, with tables `flights`,
/// `airlines`, `airports`, `planes` and `weather`.
#[cfg(feature = "datafusion")]
pub fn flights_sample(name: &str) -> Result<ConnectorRef> {
    let dir = sample_data_dir();
    let mut conn = datafusion::DataFusionConnector::new(name);
    for table in ["flights", "airlines", "airports", "planes", "weather"] {
        conn = conn.with_parquet(table, dir.join(format!("{table}.parquet")))?;
    }
    Ok(std::sync::Arc::new(conn))
}

/// Turns a file stem into a table name SQL can use unquoted.
pub fn sanitize_table_name(stem: &str) -> String {
    let mut out: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push('t');
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "t_");
    }
    out
}

fn supported_list() -> String {
    if SUPPORTED_SCHEMES.is_empty() {
        return "no URL schemes (enable a connector feature such as `datafusion`)".to_string();
    }
    let mut parts: Vec<String> = SUPPORTED_SCHEMES
        .iter()
        .map(|s| format!("{s}://"))
        .collect();
    if SUPPORTED_SCHEMES.contains(&"file") {
        parts.push("plain file paths".to_string());
    }
    parts.join(", ")
}

/// The lowercase scheme of `url`, or `None` for a plain path (including `C:\…`).
fn scheme_of(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once(':')?;
    let valid = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// Query parameters of a `file://` URL.
#[derive(Debug, Default)]
struct FileParams {
    name: Option<String>,
    table: Option<String>,
    #[cfg(feature = "datafusion")]
    limits: datafusion::DataFusionLimits,
}

fn parse_file_url(url: &str) -> Result<(PathBuf, FileParams)> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::invalid_input(format!("bad file URL `{url}`: {e}")))?;
    let path = parsed.to_file_path().map_err(|()| {
        Error::invalid_input(format!(
            "bad file URL `{url}`: it needs an absolute path, as in file:///data/flights.parquet"
        ))
    })?;
    let mut params = FileParams::default();
    for (k, v) in parsed.query_pairs() {
        match k.as_ref() {
            "name" => params.name = Some(v.into_owned()),
            "table" => params.table = Some(sanitize_table_name(&v)),
            other => {
                #[cfg(feature = "datafusion")]
                if params
                    .limits
                    .set_url_param(other, &v)
                    .map_err(|e| Error::invalid_input(format!("bad file URL `{url}`: {e}")))?
                {
                    continue;
                }
                return Err(Error::invalid_input(format!(
                    "unknown parameter `{other}` in file URL `{url}`; known: name, table, \
                     memory_limit, max_value_size"
                )));
            }
        }
    }
    Ok((path, params))
}

#[cfg(not(feature = "datafusion"))]
fn connect_file(_path: &Path, _params: FileParams) -> Result<ConnectorRef> {
    Err(Error::Unsupported(
        "file paths and `file://` URLs need the `datafusion` feature of metricchat-connectors"
            .to_string(),
    ))
}

#[cfg(feature = "datafusion")]
fn connect_file(path: &Path, params: FileParams) -> Result<ConnectorRef> {
    use crate::datafusion::{DataFusionConnector, FileFormat, glob_files, is_glob};

    let abs = std::path::absolute(path)
        .map_err(|e| Error::invalid_input(format!("bad path `{}`: {e}", path.display())))?;
    let text = abs.to_string_lossy().into_owned();
    let stem_of = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };

    let (default_name, files) = if is_glob(&text) {
        // Named after the last directory before the first glob segment.
        let base: PathBuf = abs
            .components()
            .take_while(|c| !is_glob(&c.as_os_str().to_string_lossy()))
            .collect();
        let files: Vec<PathBuf> = glob_files(&text)?
            .into_iter()
            .filter(|p| FileFormat::from_path(p).is_some())
            .collect();
        (stem_of(&base), files)
    } else if abs.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&abs)
            .map_err(|e| Error::Connection {
                connector: stem_of(&abs),
                message: format!("cannot list `{text}`: {e}"),
                source: Some(Box::new(e)),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && FileFormat::from_path(p).is_some()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        (stem_of(&abs), files)
    } else if abs.is_file() {
        if FileFormat::from_path(&abs).is_none() {
            return Err(Error::invalid_input(format!(
                "unsupported file `{text}`: supported extensions are .parquet, .csv, .tsv, \
                 .json, .ndjson, .jsonl, .arrow, .feather"
            )));
        }
        (stem_of(&abs), vec![abs.clone()])
    } else {
        return Err(Error::NotFound {
            what: "file",
            name: text,
        });
    };

    if files.is_empty() {
        return Err(Error::NotFound {
            what: "data file",
            name: format!("{text} (no .parquet, .csv, .json, .ndjson or .arrow files)"),
        });
    }
    let name = params.name.unwrap_or(default_name);
    let mut conn = DataFusionConnector::new(name).with_limits(params.limits)?;

    if let Some(table) = params.table {
        if !is_glob(&text) {
            return Err(Error::invalid_input(
                "the `table` parameter applies to glob URLs only (file:///dir/*.parquet?table=t)",
            ));
        }
        let format = FileFormat::from_path(&files[0]);
        if files.iter().any(|f| FileFormat::from_path(f) != format) {
            return Err(Error::invalid_input(format!(
                "`{text}` matches files of different formats; one table needs one format"
            )));
        }
        conn = match format {
            Some(FileFormat::Csv) => {
                conn.with_csv(table, &abs, crate::datafusion::CsvOptions::default())?
            }
            Some(FileFormat::Json) => conn.with_json(table, &abs)?,
            Some(FileFormat::ArrowIpc) => conn.with_arrow_ipc(table, &abs)?,
            _ => conn.with_parquet(table, &abs)?,
        };
        return Ok(std::sync::Arc::new(conn));
    }

    let mut taken: Vec<String> = Vec::new();
    for file in &files {
        let base = sanitize_table_name(&stem_of(file));
        let mut table = base.clone();
        if taken.contains(&table) {
            let ext = file
                .extension()
                .map(|e| sanitize_table_name(&e.to_string_lossy()))
                .unwrap_or_default();
            table = format!("{base}_{ext}");
        }
        let mut n = 2;
        while taken.contains(&table) {
            table = format!("{base}_{n}");
            n += 1;
        }
        conn = conn.with_file(table.clone(), file)?;
        taken.push(table);
    }
    Ok(std::sync::Arc::new(conn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_sanitized() {
        assert_eq!(sanitize_table_name("Flights 2013"), "flights_2013");
        assert_eq!(sanitize_table_name("2013-flights"), "t_2013_flights");
        assert_eq!(sanitize_table_name("naïve"), "na_ve");
        assert_eq!(sanitize_table_name(""), "t");
    }

    #[test]
    fn schemes_are_recognised() {
        assert_eq!(scheme_of("file:///x"), Some("file".into()));
        assert_eq!(scheme_of("Postgres://u@h/db"), Some("postgres".into()));
        assert_eq!(scheme_of("/data/x.parquet"), None);
        assert_eq!(scheme_of("data/x.parquet"), None);
        assert_eq!(scheme_of("C:\\data\\x.parquet"), None);
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn feature_schemes_say_which_feature() {
        // Lazy pools (postgres, mysql) need a runtime context even though they connect later.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _entered = rt.enter();
        #[cfg(not(feature = "redshift"))]
        {
            let err = connect("redshift://user@cluster:5439/db").err();
            let msg = err.as_ref().map(ToString::to_string).unwrap_or_default();
            assert!(matches!(err, Some(Error::Unsupported(_))), "{err:?}");
            assert!(msg.contains("`redshift` feature"), "{msg}");
        }
        #[cfg(feature = "redshift")]
        for url in [
            "redshift://user@cluster:5439/db",
            "redshift+postgres://user@cluster/db",
        ] {
            let conn = connect(url);
            assert!(
                matches!(&conn, Ok(c) if c.info().backend == "redshift"),
                "{url}: {:?}",
                conn.err()
            );
        }
        #[cfg(not(feature = "mysql"))]
        assert!(matches!(
            connect("mariadb://user@localhost/db").err(),
            Some(Error::Unsupported(m)) if m.contains("`mysql` feature")
        ));
        #[cfg(feature = "mysql")]
        for url in ["mysql://user@localhost/db", "mariadb://user@localhost/db"] {
            let conn = connect(url);
            assert!(
                matches!(&conn, Ok(c) if c.info().backend == "mysql"),
                "{url}: {:?}",
                conn.err()
            );
        }
        let err = connect("gopher://x").err();
        assert!(matches!(err, Some(Error::InvalidInput { .. })), "{err:?}");
    }

    #[test]
    fn sample_dir_points_at_the_bundled_data() {
        assert!(sample_data_dir().join("flights.parquet").is_file());
    }
}
