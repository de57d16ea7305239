//! Which DuckDB database to open: [`DuckDbConfig`] and its URL form.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Which DuckDB database to open, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DuckDbConfig {
    /// The connection's name (default: the file stem, or `memory`).
    pub name: Option<String>,
    /// The database file, opened read-only; `None` opens a private in-memory database.
    pub path: Option<PathBuf>,
    /// DuckDB worker threads (default: DuckDB's, the number of cores).
    pub threads: Option<u32>,
    /// DuckDB's memory limit, as DuckDB writes it (`"2GB"`, `"512MiB"`; default: 80% of RAM).
    pub memory_limit: Option<String>,
    /// SQL run once when the database opens, before settings are locked: how an in-memory
    /// database gets data (`CREATE TABLE t AS SELECT * FROM 'data.parquet'`), or how a file
    /// database attaches others. Create persistent objects, not `TEMP` ones: those belong to
    /// one DuckDB connection and queries run on others.
    pub init_sql: Option<String>,
    /// Let SQL read files and URLs (`read_parquet`, `ATTACH`, …; default `false`).
    pub external_access: bool,
}

impl DuckDbConfig {
    /// An in-memory database filled by `init_sql` (see [`DuckDbConfig::init_sql`]).
    pub fn in_memory(init_sql: impl Into<String>) -> Self {
        Self {
            init_sql: Some(init_sql.into()),
            ..Self::default()
        }
    }

    /// A database file, opened read-only.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            path: Some(path.into()),
            ..Self::default()
        }
    }

    /// Parses `duckdb:///abs/path.duckdb`, `duckdb://rel/path.duckdb`, `duckdb://:memory:`
    /// (also `duckdb::memory:`), with optional `name`, `threads`, `memory_limit` and
    /// `external_access` (`true`/`false`) query parameters.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("duckdb:"))
            .map(|_| &url[7..])
            .ok_or_else(|| Error::invalid_input(format!("`{url}` is not a duckdb: URL")))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut cfg = Self::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "name" => cfg.name = Some(v.into_owned()),
                "threads" => {
                    cfg.threads = Some(v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        Error::invalid_input(format!(
                            "`threads` in `{url}` must be a positive integer, not `{v}`"
                        ))
                    })?);
                }
                "memory_limit" => cfg.memory_limit = Some(v.into_owned()),
                "external_access" => {
                    cfg.external_access = v.parse().map_err(|_| {
                        Error::invalid_input(format!(
                            "`external_access` in `{url}` must be true or false, not `{v}`"
                        ))
                    })?;
                }
                other => {
                    return Err(Error::invalid_input(format!(
                        "unknown parameter `{other}` in `{url}`; known: name, threads, \
                         memory_limit, external_access"
                    )));
                }
            }
        }
        let location = location.strip_prefix("//").unwrap_or(location);
        if location.is_empty() || location == ":memory:" {
            return Ok(cfg);
        }
        let decoded: String = url::form_urlencoded::parse(location.replace('+', "%2B").as_bytes())
            .map(|(k, v)| format!("{k}{v}"))
            .collect();
        cfg.path = Some(PathBuf::from(decoded));
        Ok(cfg)
    }
}
