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
#[cfg(any(
    feature = "postgres",
    feature = "mysql",
    feature = "snowflake",
    feature = "bigquery"
))]
mod decimal;
#[cfg(feature = "duckdb")]
pub mod duckdb;
#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "snowflake",
    feature = "bigquery"
))]
mod errors;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redshift")]
pub mod redshift;
#[cfg(any(feature = "snowflake", feature = "bigquery"))]
mod rest;
#[cfg(feature = "snowflake")]
pub mod snowflake;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod sqlx;
#[cfg(any(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "duckdb"
))]
mod task;

use std::path::{Path, PathBuf};

use metricchat_core::connector::ConnectorRef;
use metricchat_core::error::{Error, Result};

/// Opens a connection from a URL of the backend's schemes.
type Open = fn(&str) -> Result<ConnectorRef>;

/// One backend [`connect`] knows: its URL schemes, the cargo feature that compiles it, and how
/// to open it (`None` when this build lacks the feature).
struct Backend {
    schemes: &'static [&'static str],
    feature: &'static str,
    open: Option<Open>,
}

/// A [`Backend`] row, its opener present only when `$feature` is compiled in.
macro_rules! backend {
    ($feature:literal, [$($scheme:literal),+], $open:expr) => {
        Backend {
            schemes: &[$($scheme),+],
            feature: $feature,
            #[cfg(feature = $feature)]
            open: Some($open),
            #[cfg(not(feature = $feature))]
            open: None,
        }
    };
}

/// Every backend, with or without its feature (so [`connect`] can name the missing feature).
const BACKENDS: &[Backend] = &[
    backend!("datafusion", ["file"], datafusion::files::open_url),
    backend!("postgres", ["postgres", "postgresql"], |url| {
        Ok(std::sync::Arc::new(postgres::PostgresConnector::from_url(
            url,
        )?))
    }),
    backend!("mysql", ["mysql", "mariadb"], |url| {
        Ok(std::sync::Arc::new(mysql::MySqlConnector::from_url(url)?))
    }),
    backend!("redshift", ["redshift", "redshift+postgres"], |url| {
        Ok(std::sync::Arc::new(redshift::RedshiftConnector::from_url(
            url,
        )?))
    }),
    backend!("sqlite", ["sqlite"], |url| {
        Ok(std::sync::Arc::new(sqlite::SqliteConnector::from_url(url)?))
    }),
    backend!("snowflake", ["snowflake"], |url| {
        Ok(std::sync::Arc::new(
            snowflake::SnowflakeConnector::from_url(url)?,
        ))
    }),
    backend!("bigquery", ["bigquery"], |url| {
        Ok(std::sync::Arc::new(bigquery::BigQueryConnector::from_url(
            url,
        )?))
    }),
    backend!("duckdb", ["duckdb"], |url| {
        Ok(std::sync::Arc::new(duckdb::DuckDbConnector::from_url(url)?))
    }),
];

/// URL schemes [`connect`] handles in this build (plain paths always count as `file`).
pub fn supported_schemes() -> impl Iterator<Item = &'static str> {
    BACKENDS
        .iter()
        .filter(|b| b.open.is_some())
        .flat_map(|b| b.schemes.iter().copied())
}

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
        return open_path(url);
    };
    let Some(backend) = BACKENDS
        .iter()
        .find(|b| b.schemes.contains(&scheme.as_str()))
    else {
        return Err(Error::invalid_input(format!(
            "unknown connection URL scheme `{scheme}://`; this build supports {}",
            supported_list()
        )));
    };
    match backend.open {
        Some(open) => open(url),
        None => Err(Error::Unsupported(format!(
            "`{scheme}://` connections need the `{}` feature of metricchat-connectors; this \
             build supports {}",
            backend.feature,
            supported_list()
        ))),
    }
}

/// Opens a plain file path (no scheme) with the DataFusion connector.
#[cfg(feature = "datafusion")]
fn open_path(path: &str) -> Result<ConnectorRef> {
    datafusion::files::open_path(Path::new(path))
}

#[cfg(not(feature = "datafusion"))]
fn open_path(_path: &str) -> Result<ConnectorRef> {
    Err(Error::Unsupported(
        "file paths and `file://` URLs need the `datafusion` feature of metricchat-connectors"
            .to_string(),
    ))
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
    let schemes: Vec<&str> = supported_schemes().collect();
    if schemes.is_empty() {
        return "no URL schemes (enable a connector feature such as `datafusion`)".to_string();
    }
    let mut parts: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
    if schemes.contains(&"file") {
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
