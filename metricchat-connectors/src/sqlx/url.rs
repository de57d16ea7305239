//! Client/server connection URLs: `scheme://user:password@host:port/database?key=value`.

use std::str::FromStr;

use metricchat_core::error::Result;

pub(crate) use crate::errors::bad_url;

/// The parts of a `scheme://user:password@host:port/database?key=value` URL, percent-decoded.
#[derive(Debug, Default)]
pub(crate) struct DbUrl {
    pub(crate) host: Option<String>,
    pub(crate) port: Option<u16>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) database: Option<String>,
    pub(crate) params: Vec<(String, String)>,
}

impl DbUrl {
    /// Parses `url`, whose scheme must be one of `schemes`; `engine` names the backend in
    /// errors ("bad PostgreSQL URL: …").
    pub(crate) fn parse(url: &str, engine: &str, schemes: &[&str]) -> Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| bad_url(engine, e.to_string()))?;
        if !schemes.contains(&parsed.scheme()) {
            let expected: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
            return Err(bad_url(
                engine,
                format!(
                    "scheme `{}` is not {}",
                    parsed.scheme(),
                    expected.join(" or ")
                ),
            ));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(s.as_bytes())
                .map(|(k, v)| format!("{k}{v}"))
                .collect::<String>()
        };
        let db = parsed.path().trim_start_matches('/');
        Ok(Self {
            host: parsed
                .host_str()
                .filter(|h| !h.is_empty())
                .map(|h| h.trim_matches(['[', ']']).to_string()),
            port: parsed.port(),
            user: Some(parsed.username())
                .filter(|u| !u.is_empty())
                .map(decode),
            password: parsed.password().map(decode),
            database: Some(db).filter(|d| !d.is_empty()).map(decode),
            params: parsed
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        })
    }
}

/// A numeric URL parameter.
pub(crate) fn number_param<T: FromStr>(engine: &str, key: &str, value: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| bad_url(engine, format!("{key} `{value}` is not a valid number")))
}

/// A boolean URL parameter (`true`/`false`, `1`/`0`, `yes`/`no`).
pub(crate) fn bool_param(engine: &str, key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad_url(
            engine,
            format!("{key} `{value}` is not true or false"),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_and_decode() {
        let u = DbUrl::parse(
            "postgres://bob:s%40cret@[::1]:6543/sh%20op?name=wh&x=1",
            "PostgreSQL",
            &["postgres", "postgresql"],
        )
        .unwrap();
        assert_eq!(u.host.as_deref(), Some("::1"));
        assert_eq!(u.port, Some(6543));
        assert_eq!(u.user.as_deref(), Some("bob"));
        assert_eq!(u.password.as_deref(), Some("s@cret"));
        assert_eq!(u.database.as_deref(), Some("sh op"));
        assert_eq!(u.params.len(), 2);
        let err = DbUrl::parse("mysql://h/db", "PostgreSQL", &["postgres"]).unwrap_err();
        assert!(err.to_string().contains("postgres://"), "{err}");
        assert!(number_param::<u32>("MySQL", "max_connections", "x").is_err());
        assert!(bool_param("MySQL", "allow_privileged_login", "TRUE").unwrap());
        assert!(!bool_param("MySQL", "allow_privileged_login", "0").unwrap());
        assert!(bool_param("MySQL", "allow_privileged_login", "maybe").is_err());
    }
}
