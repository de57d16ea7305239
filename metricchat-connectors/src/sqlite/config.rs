//! Which SQLite database to open: [`SqliteConfig`] and its URL form.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Which SQLite database to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SqliteConfig {
    /// The connection's name (default: the file stem, or `memory`).
    pub name: Option<String>,
    /// The database file; `None` opens a private in-memory database.
    pub path: Option<PathBuf>,
    /// Pool size for files (default 4; in-memory databases always use one connection).
    pub max_connections: u32,
    /// How long to wait on a locked database (default 5 s; milliseconds or `"5s"` in a config).
    #[serde(with = "metricchat_core::serde_util::duration_ms")]
    pub busy_timeout: Duration,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            name: None,
            path: None,
            max_connections: 4,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl SqliteConfig {
    /// Parses `sqlite:///abs/path.db`, `sqlite://rel/path.db`, `sqlite:path.db` or
    /// `sqlite::memory:`, with an optional `?name=…`.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("sqlite:"))
            .map(|_| &url[7..])
            .ok_or_else(|| Error::invalid_input(format!("`{url}` is not a sqlite: URL")))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut cfg = Self::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "name" => cfg.name = Some(v.into_owned()),
                "mode" if v == "ro" => {}
                other => {
                    return Err(Error::invalid_input(format!(
                        "unknown parameter `{other}` in `{url}`; known: name"
                    )));
                }
            }
        }
        if location == ":memory:" || location.is_empty() {
            return Ok(cfg);
        }
        let path = location.strip_prefix("//").unwrap_or(location);
        let decoded: String = url::form_urlencoded::parse(path.replace('+', "%2B").as_bytes())
            .map(|(k, v)| format!("{k}{v}"))
            .collect();
        cfg.path = Some(PathBuf::from(decoded));
        Ok(cfg)
    }
}
