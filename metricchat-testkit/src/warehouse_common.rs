//! What the fake warehouses (features `snowflake`, `bigquery`) share: the catalog model they
//! answer introspection queries from ([`FakeTable`]), the local server's life cycle, request
//! recording, query-string decoding and RS256 JWT checks.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderMap, Uri};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::RecordedRequest;

/// A table or view of a fake warehouse's catalog.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FakeTable {
    /// Schema (Snowflake) or dataset (BigQuery).
    pub schema: String,
    /// Table name.
    pub name: String,
    /// A view rather than a base table.
    pub view: bool,
    /// Table comment or description.
    pub comment: Option<String>,
    /// Row count the catalog reports (views report none).
    pub row_count: Option<u64>,
    /// Columns in order.
    pub columns: Vec<FakeColumn>,
    /// Primary key columns.
    pub primary_key: Vec<String>,
    /// Foreign keys.
    pub foreign_keys: Vec<FakeForeignKey>,
}

/// A column of a [`FakeTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct FakeColumn {
    /// Column name.
    pub name: String,
    /// Type as the catalog spells it (`NUMBER(38,0)`, `TEXT`, `INT64`, `ARRAY<STRING>`).
    pub data_type: String,
    /// Whether NULLs are allowed.
    pub nullable: bool,
    /// Column comment or description.
    pub comment: Option<String>,
}

/// A foreign key of a [`FakeTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct FakeForeignKey {
    /// Constraint name.
    pub name: String,
    /// Columns of the table, in key order.
    pub columns: Vec<String>,
    /// Referenced schema or dataset.
    pub references_schema: String,
    /// Referenced table.
    pub references_table: String,
    /// Referenced columns (the referenced table's primary key), in key order.
    pub referenced_columns: Vec<String>,
}

impl FakeTable {
    /// A base table with no columns yet.
    pub fn new(schema: &str, name: &str) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
            ..Self::default()
        }
    }

    /// Adds a column.
    pub fn column(mut self, name: &str, data_type: &str, nullable: bool) -> Self {
        self.columns.push(FakeColumn {
            name: name.into(),
            data_type: data_type.into(),
            nullable,
            comment: None,
        });
        self
    }

    /// Adds a column with a comment.
    pub fn commented_column(mut self, name: &str, data_type: &str, comment: &str) -> Self {
        self.columns.push(FakeColumn {
            name: name.into(),
            data_type: data_type.into(),
            nullable: true,
            comment: Some(comment.into()),
        });
        self
    }

    /// Sets the table comment.
    pub fn comment(mut self, comment: &str) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Sets the reported row count.
    pub fn rows(mut self, rows: u64) -> Self {
        self.row_count = Some(rows);
        self
    }

    /// Makes it a view (no row count).
    pub fn view(mut self) -> Self {
        self.view = true;
        self.row_count = None;
        self
    }

    /// Sets the primary key.
    pub fn primary_key(mut self, columns: &[&str]) -> Self {
        self.primary_key = columns.iter().map(|c| (*c).to_string()).collect();
        self
    }

    /// Adds a foreign key named `name` from `columns` to `table`'s `referenced` columns.
    pub fn foreign_key(
        mut self,
        name: &str,
        columns: &[&str],
        table: (&str, &str),
        referenced: &[&str],
    ) -> Self {
        self.foreign_keys.push(FakeForeignKey {
            name: name.into(),
            columns: columns.iter().map(|c| (*c).to_string()).collect(),
            references_schema: table.0.into(),
            references_table: table.1.into(),
            referenced_columns: referenced.iter().map(|c| (*c).to_string()).collect(),
        });
        self
    }
}

/// The string literals a SQL text compares `column` with (`c.TABLE_NAME = 'ORDERS'`), matched
/// without regard to case or a table alias; `\'` and `''` inside literals are unescaped. The
/// fakes use it to apply the WHERE clauses of the catalog queries they recognise.
pub(crate) fn sql_literals(sql: &str, column: &str) -> Vec<String> {
    let lower = sql.to_ascii_lowercase();
    let needle = column.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = lower[from..].find(&needle) {
        let start = from + found;
        from = start + needle.len();
        let before = lower[..start].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = sql[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('\'') else {
            continue;
        };
        let mut value = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend(chars.next()),
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                '\'' => break,
                other => value.push(other),
            }
        }
        out.push(value);
    }
    out
}

/// Whether `value` passes a filter of `literals` (no literals: no filter).
pub(crate) fn passes(literals: &[String], value: &str) -> bool {
    literals.is_empty() || literals.iter().any(|l| l == value)
}

/// A server task on a local port, stopped (gracefully, then aborted) when dropped.
pub(crate) struct LocalServer {
    pub(crate) addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl LocalServer {
    /// Serves `app` on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// If no local port can be bound (test infrastructure).
    #[allow(clippy::expect_used, clippy::panic)]
    pub(crate) async fn start(app: Router, what: &str) -> Self {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap_or_else(|e| panic!("bind a local port for {what}: {e}"));
        let addr = listener.local_addr().expect("a local address");
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        });
        Self { addr, stop, task }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

/// A request as recorded by the fakes (the body as JSON when it parses, else as a string).
pub(crate) fn recorded_request(
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    raw: &[u8],
) -> RecordedRequest {
    let text = String::from_utf8_lossy(raw);
    RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body: if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
        },
    }
}

/// A query-string parameter, percent-decoded.
pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .map(unescape)
}

/// An `application/x-www-form-urlencoded` body as a map.
pub(crate) fn form_decode(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (unescape(k), unescape(v)))
        .collect()
}

/// Percent- and `+`-decoding.
pub(crate) fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The claims the fakes read from a verified JWT.
#[derive(serde::Deserialize)]
pub(crate) struct JwtClaims {
    #[serde(default)]
    pub(crate) scope: String,
}

#[derive(serde::Deserialize)]
struct Lifetime {
    iat: u64,
    exp: u64,
}

/// What an RS256 JWT must say to be accepted.
pub(crate) struct JwtRules<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) subject: Option<&'a str>,
    pub(crate) audience: Option<&'a str>,
}

/// Verifies an RS256 JWT's signature, expiry (no leeway), issuer, subject and audience as
/// `rules` say, and that it lives at most one hour (both services' limit); `Err` says why not.
pub(crate) fn verify_rs256(
    token: &str,
    key: &jsonwebtoken::DecodingKey,
    rules: &JwtRules<'_>,
) -> Result<JwtClaims, String> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.leeway = 0;
    let mut required = vec!["exp", "iat", "iss"];
    validation.set_issuer(&[rules.issuer]);
    if let Some(sub) = rules.subject {
        validation.sub = Some(sub.to_string());
        required.push("sub");
    }
    match rules.audience {
        Some(aud) => {
            validation.set_audience(&[aud]);
            required.push("aud");
        }
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&required);
    let lifetime = jsonwebtoken::decode::<Lifetime>(token, key, &validation)
        .map_err(|e| format!("Invalid JWT: {e}"))?
        .claims;
    if lifetime.exp.saturating_sub(lifetime.iat) > 3600 {
        return Err("Invalid JWT: lifetime over one hour".into());
    }
    jsonwebtoken::decode::<JwtClaims>(token, key, &validation)
        .map(|d| d.claims)
        .map_err(|e| format!("Invalid JWT: {e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn literals_follow_the_where_clause() {
        let sql = "SELECT 1 FROM x c WHERE (c.TABLE_NAME = 'orders' OR c.TABLE_NAME = 'ORDERS') \
                   AND c.TABLE_SCHEMA = 'it\\'s' AND ORIGINAL_TABLE_NAME = 'no'";
        assert_eq!(sql_literals(sql, "table_name"), ["orders", "ORDERS"]);
        assert_eq!(sql_literals(sql, "TABLE_SCHEMA"), ["it's"]);
        assert!(sql_literals(sql, "column_name").is_empty());
        assert!(passes(&[], "anything"));
        assert!(!passes(&["a".to_string()], "b"));
        assert_eq!(unescape("a%20b+c"), "a b c");
    }
}
