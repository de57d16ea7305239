//! The layer the REST connectors (Snowflake, BigQuery) share: connection URLs, JWT signing
//! ([`auth`]), the HTTP client with retries and error mapping ([`http`]), whole-catalog assembly
//! ([`catalog`]) and exact parsers for the text values both APIs return.

pub(crate) mod auth;
pub(crate) mod catalog;
pub(crate) mod http;
mod values;

use metricchat_core::error::{Error, Result};

pub(crate) use crate::errors::{bad_url, conversion_error};
pub(crate) use values::*;

/// The parts of a `scheme://HOST/SEG/SEG?k=v` connection URL.
pub(crate) struct ConnUrl {
    /// The host part (Snowflake's account, BigQuery's project).
    pub(crate) host: String,
    /// The user part before `@`, percent-decoded.
    pub(crate) user: Option<String>,
    /// Non-empty path segments, percent-decoded.
    pub(crate) path: Vec<String>,
    /// Query parameters, decoded, in order.
    pub(crate) params: Vec<(String, String)>,
}

/// Parses a connection URL of `scheme`; `shape` (`scheme://ACCOUNT/DATABASE/SCHEMA`) is shown
/// when the host is missing, and at most `max_segments` path segments are accepted.
pub(crate) fn parse_conn_url(
    url: &str,
    scheme: &str,
    product: &str,
    shape: &str,
    max_segments: usize,
) -> Result<ConnUrl> {
    let parsed = url::Url::parse(url).map_err(|e| bad_url(product, e))?;
    if parsed.scheme() != scheme {
        return Err(bad_url(
            product,
            format!("scheme `{}` is not {scheme}://", parsed.scheme()),
        ));
    }
    let decode = |s: &str| {
        url::form_urlencoded::parse(s.as_bytes())
            .map(|(k, v)| format!("{k}{v}"))
            .collect::<String>()
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad_url(product, format!("no host ({shape})")))?
        .to_string();
    let path: Vec<String> = parsed
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    if path.len() > max_segments {
        return Err(bad_url(
            product,
            format!("the URL has the shape {shape}, nothing more"),
        ));
    }
    Ok(ConnUrl {
        host,
        user: (!parsed.username().is_empty()).then(|| decode(parsed.username())),
        path,
        params: parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    })
}

/// The error for a URL parameter the connector does not know.
pub(crate) fn unknown_param(product: &str, key: &str, known: &[&str]) -> Error {
    bad_url(
        product,
        format!("unknown parameter `{key}`; known: {}", known.join(", ")),
    )
}

/// Quotes a string literal for SQL (`'it''s'`); backslashes doubled for BigQuery and Snowflake,
/// which treat them as escapes.
pub(crate) fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use metricchat_core::error::ErrorKind;

    #[test]
    fn connection_urls_parse_into_parts() {
        let u =
            parse_conn_url("x://me@host/a%20b/c?k=v&k2=w%3D", "x", "X", "x://H/A/B", 2).unwrap();
        assert_eq!(u.host, "host");
        assert_eq!(u.user.as_deref(), Some("me"));
        assert_eq!(u.path, ["a b", "c"]);
        assert_eq!(u.params[1], ("k2".to_string(), "w=".to_string()));
        for bad in ["y://host", "x:///a", "x://h/a/b/c", "not a url"] {
            let e = parse_conn_url(bad, "x", "X", "x://H/A/B", 2).err();
            assert_eq!(e.map(|e| e.kind()), Some(ErrorKind::InvalidInput), "{bad}");
        }
    }
}
