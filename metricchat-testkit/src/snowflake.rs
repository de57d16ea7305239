//! A fake Snowflake SQL API v2 server (feature `snowflake`).
//!
//! It speaks the documented wire format: `POST /api/v2/statements` (with `requestId` and
//! `retry`), `GET /api/v2/statements/{handle}` (202 while running, the `ResultSet` when done,
//! `?partition=N` for further partitions, gzipped like Snowflake's), and
//! `POST /api/v2/statements/{handle}/cancel`. Every request must carry a valid key-pair JWT
//! (RS256, checked against the configured public key, with Snowflake's issuer and subject
//! rules and expiry) or the configured OAuth token; otherwise it answers 401 with code
//! `390144`. Statements are answered from rules registered with [`FakeSnowflake::on`]; unknown
//! SQL gets a 422 SQL compilation error and is recorded as unexpected.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::RecordedRequest;
use crate::warehouse_common::{
    FakeTable, JwtRules, LocalServer, passes, query_param, recorded_request, sql_literals,
    verify_rs256,
};

/// Who the fake accepts.
#[derive(Debug, Clone)]
pub struct FakeSnowflakeConfig {
    /// Account identifier as the client's JWT names it (`XY12345`).
    pub account: String,
    /// User name as the client's JWT names it.
    pub user: String,
    /// The user's RSA public key (`-----BEGIN PUBLIC KEY-----` PEM).
    pub public_key_pem: String,
    /// An OAuth token accepted with `X-Snowflake-Authorization-Token-Type: OAUTH`.
    pub oauth_token: Option<String>,
}

/// How the fake answers a statement.
#[derive(Debug, Clone, Default)]
pub struct FakeStatement {
    /// `resultSetMetaData.rowType` entries (`{"name", "type", "precision", "scale", "nullable"}`).
    pub row_type: Vec<Value>,
    /// Rows, every value text or null (the `jsonv2` format).
    pub rows: Vec<Vec<Option<String>>>,
    /// Rows per partition (0: one partition).
    pub partition_rows: usize,
    /// How many times the statement answers 202 (still running) before its result.
    pub polls: usize,
    /// Answer this failure instead: HTTP status, `code`, `message`, `sqlState`.
    pub error: Option<(u16, String, String, String)>,
}

impl FakeStatement {
    /// A statement returning `rows` with columns `row_type`.
    pub fn rows(row_type: Vec<Value>, rows: Vec<Vec<Option<&str>>>) -> Self {
        Self {
            row_type,
            rows: rows
                .into_iter()
                .map(|r| r.into_iter().map(|v| v.map(str::to_string)).collect())
                .collect(),
            ..Self::default()
        }
    }

    /// Splits the result into partitions of `rows` rows.
    pub fn partitioned(mut self, rows: usize) -> Self {
        self.partition_rows = rows;
        self
    }

    /// Answers 202 `polls` times before the result.
    pub fn pending(mut self, polls: usize) -> Self {
        self.polls = polls;
        self
    }

    /// A statement that keeps running until cancelled.
    pub fn never_finishes() -> Self {
        Self {
            polls: usize::MAX,
            ..Self::default()
        }
    }

    /// A statement that fails with Snowflake's error body.
    pub fn failing(status: u16, code: &str, message: &str, sql_state: &str) -> Self {
        Self {
            error: Some((status, code.into(), message.into(), sql_state.into())),
            ..Self::default()
        }
    }
}

struct Running {
    statement: FakeStatement,
    polls_left: usize,
    cancelled: bool,
    request_id: String,
}

#[derive(Default)]
struct Inner {
    rules: Vec<(String, FakeStatement)>,
    statements: HashMap<String, Running>,
    request_ids: HashMap<String, String>,
    recorded: Vec<RecordedRequest>,
    unexpected: Vec<RecordedRequest>,
    cancelled: Vec<String>,
    tokens: Vec<String>,
    auth_failures: Vec<String>,
    fail_next: Vec<u16>,
    executions: usize,
    catalog: Option<(String, Vec<FakeTable>)>,
}

struct Shared {
    config: FakeSnowflakeConfig,
    fingerprint: String,
    decoding: jsonwebtoken::DecodingKey,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fake Snowflake on `127.0.0.1`, stopped when dropped.
pub struct FakeSnowflake {
    server: LocalServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeSnowflake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSnowflake")
            .field("addr", &self.server.addr)
            .finish_non_exhaustive()
    }
}

/// The base64 SHA-256 of a PEM public key's DER (Snowflake's `RSA_PUBLIC_KEY_FP`).
pub fn public_key_fingerprint(public_key_pem: &str) -> Option<String> {
    let b64: String = public_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&der);
    Some(base64::engine::general_purpose::STANDARD.encode(digest))
}

impl FakeSnowflake {
    /// Starts the fake on a free local port.
    ///
    /// # Panics
    /// If the public key is not an RSA PEM key or no port can be bound (test infrastructure).
    #[allow(clippy::expect_used)]
    pub async fn start(config: FakeSnowflakeConfig) -> Self {
        let decoding = jsonwebtoken::DecodingKey::from_rsa_pem(config.public_key_pem.as_bytes())
            .expect("an RSA public key PEM");
        let fingerprint =
            public_key_fingerprint(&config.public_key_pem).expect("a base64 PEM public key");
        let shared = Arc::new(Shared {
            config,
            fingerprint,
            decoding,
            inner: Mutex::new(Inner::default()),
        });
        let app = Router::new()
            .route("/api/v2/statements", post(submit))
            .route("/api/v2/statements/{handle}", get(status))
            .route("/api/v2/statements/{handle}/cancel", post(cancel))
            .fallback(fallback)
            .with_state(shared.clone());
        let server = LocalServer::start(app, "the fake Snowflake").await;
        Self { server, shared }
    }

    /// `http://127.0.0.1:PORT`, the client's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Answers the catalog statements of database `database` from `tables`, in Snowflake's
    /// result shapes: queries on `INFORMATION_SCHEMA.COLUMNS` (joined with `TABLES`) and on
    /// `INFORMATION_SCHEMA.TABLES` (their `TABLE_SCHEMA = '…'` and `TABLE_NAME = '…'`
    /// comparisons filter the rows), and `SHOW PRIMARY KEYS` / `SHOW IMPORTED KEYS` `IN
    /// DATABASE|SCHEMA|TABLE …` with the documented output columns. Rules registered with
    /// [`FakeSnowflake::on`] are tried first.
    pub fn set_catalog(&self, database: &str, tables: Vec<FakeTable>) {
        self.shared.lock().catalog = Some((database.to_string(), tables));
    }

    /// Answers statements whose text contains `sql_contains` (first matching rule wins).
    pub fn on(&self, sql_contains: &str, statement: FakeStatement) {
        self.shared
            .lock()
            .rules
            .push((sql_contains.to_string(), statement));
    }

    /// Answers the next `n` submissions with `status` (429 or 503), `Retry-After: 0`.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.shared
            .lock()
            .fail_next
            .extend(std::iter::repeat_n(status, n));
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().recorded.clone()
    }

    /// Requests no rule or route matched.
    pub fn unexpected(&self) -> Vec<RecordedRequest> {
        self.shared.lock().unexpected.clone()
    }

    /// Handles of statements a client cancelled.
    pub fn cancelled(&self) -> Vec<String> {
        self.shared.lock().cancelled.clone()
    }

    /// Distinct bearer tokens accepted, in the order first seen.
    pub fn tokens(&self) -> Vec<String> {
        self.shared.lock().tokens.clone()
    }

    /// Why requests were refused as unauthorised.
    pub fn auth_failures(&self) -> Vec<String> {
        self.shared.lock().auth_failures.clone()
    }

    /// How many statements were started (resubmissions with `retry=true` are not counted).
    pub fn executions(&self) -> usize {
        self.shared.lock().executions
    }
}

fn record(
    shared: &Shared,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    raw: &[u8],
) -> RecordedRequest {
    let request = recorded_request(method, uri, headers, raw);
    shared.lock().recorded.push(request.clone());
    request
}

fn error(
    status: u16,
    code: &str,
    message: &str,
    sql_state: &str,
    handle: Option<&str>,
) -> Response {
    let mut body = json!({"code": code, "message": message, "sqlState": sql_state});
    if let Some(h) = handle {
        body["statementHandle"] = json!(h);
        body["statementStatusUrl"] = json!(format!("/api/v2/statements/{h}"));
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

/// Checks the bearer token: a key-pair JWT or the OAuth token; `Some` is the 401 to send.
fn authorize(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let token = header("authorization")
        .strip_prefix("Bearer ")
        .unwrap_or("");
    let kind = header("x-snowflake-authorization-token-type");
    let verdict = match kind {
        "KEYPAIR_JWT" => {
            let account = shared.config.account.to_ascii_uppercase();
            let user = shared.config.user.to_ascii_uppercase();
            let subject = format!("{account}.{user}");
            let issuer = format!("{subject}.SHA256:{}", shared.fingerprint);
            let rules = JwtRules {
                issuer: &issuer,
                subject: Some(&subject),
                audience: None,
            };
            verify_rs256(token, &shared.decoding, &rules).map(|_| ())
        }
        "OAUTH" => match &shared.config.oauth_token {
            Some(t) if t == token => Ok(()),
            _ => Err("Invalid OAuth access token.".to_string()),
        },
        other => Err(format!("unsupported token type `{other}`")),
    };
    match verdict {
        Ok(()) => {
            let mut inner = shared.lock();
            if !inner.tokens.iter().any(|t| t == token) {
                inner.tokens.push(token.to_string());
            }
            None
        }
        Err(reason) => {
            shared.lock().auth_failures.push(reason.clone());
            Some(error(401, "390144", &reason, "08001", None))
        }
    }
}

async fn submit(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let request = record(&shared, "POST", &uri, &headers, &raw);
    if let Some(refused) = authorize(&shared, &headers) {
        return refused;
    }
    if let Some(status) = {
        let mut inner = shared.lock();
        (!inner.fail_next.is_empty()).then(|| inner.fail_next.remove(0))
    } {
        let mut resp = error(status, "000000", "Service is overloaded; retry", "", None);
        resp.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("0"));
        return resp;
    }
    let request_id = query_param(&uri, "requestId").unwrap_or_default();
    let retry = query_param(&uri, "retry").as_deref() == Some("true");
    if retry && let Some(handle) = shared.lock().request_ids.get(&request_id).cloned() {
        return answer(&shared, &handle, None);
    }
    let body = &request.body;
    let Some(sql) = body.get("statement").and_then(Value::as_str) else {
        return error(400, "391903", "statement is required", "", None);
    };
    let count = body
        .pointer("/parameters/MULTI_STATEMENT_COUNT")
        .and_then(Value::as_str)
        .unwrap_or("1");
    let statements = sql.split(';').filter(|s| !s.trim().is_empty()).count();
    if count != "0" && count != statements.to_string() {
        return error(
            422,
            "000008",
            &format!(
                "Actual statement count {statements} did not match the desired statement count {count}."
            ),
            "0A000",
            None,
        );
    }
    let statement = {
        let inner = shared.lock();
        inner
            .rules
            .iter()
            .find(|(needle, _)| sql.contains(needle.as_str()))
            .map(|(_, s)| s.clone())
            .or_else(|| {
                let (database, tables) = inner.catalog.as_ref()?;
                catalog_statement(database, tables, sql)
            })
    };
    let Some(statement) = statement else {
        shared.lock().unexpected.push(request.clone());
        return error(
            422,
            "002003",
            "SQL compilation error:\nObject does not exist or not authorized.",
            "02000",
            None,
        );
    };
    let handle = {
        let mut inner = shared.lock();
        inner.executions += 1;
        let handle = format!("01b8fake-0000-4000-8000-{:012}", inner.executions);
        inner.request_ids.insert(request_id.clone(), handle.clone());
        inner.statements.insert(
            handle.clone(),
            Running {
                polls_left: statement.polls,
                statement,
                cancelled: false,
                request_id,
            },
        );
        handle
    };
    answer(&shared, &handle, None)
}

/// The current answer for a statement: 202 while running, its failure, or its result.
fn answer(shared: &Shared, handle: &str, partition: Option<usize>) -> Response {
    let mut inner = shared.lock();
    let Some(run) = inner.statements.get_mut(handle) else {
        return error(
            404,
            "000709",
            &format!("Statement {handle} not found"),
            "02000",
            None,
        );
    };
    if run.cancelled {
        return error(
            422,
            "000604",
            "SQL execution canceled",
            "57014",
            Some(handle),
        );
    }
    if run.polls_left > 0 {
        if run.polls_left != usize::MAX {
            run.polls_left -= 1;
        }
        return (
            StatusCode::ACCEPTED,
            axum::Json(json!({
                "code": "333334",
                "message": "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
                "statementHandle": handle,
                "statementStatusUrl": format!("/api/v2/statements/{handle}?requestId={}", run.request_id),
            })),
        )
            .into_response();
    }
    if let Some((status, code, message, state)) = &run.statement.error {
        return error(*status, code, message, state, Some(handle));
    }
    let st = &run.statement;
    let size = if st.partition_rows == 0 {
        st.rows.len().max(1)
    } else {
        st.partition_rows
    };
    let parts: Vec<&[Vec<Option<String>>]> = if st.rows.is_empty() {
        vec![&[]]
    } else {
        st.rows.chunks(size).collect()
    };
    match partition {
        Some(n) if n > 0 => {
            let Some(rows) = parts.get(n) else {
                return error(
                    422,
                    "391904",
                    &format!("partition {n} does not exist"),
                    "",
                    None,
                );
            };
            let body = json!({ "data": rows }).to_string();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = gz.write_all(body.as_bytes());
            let bytes = gz.finish().unwrap_or_default();
            (
                StatusCode::OK,
                [
                    ("content-type", "application/json"),
                    ("content-encoding", "gzip"),
                ],
                bytes,
            )
                .into_response()
        }
        _ => {
            let infos: Vec<Value> = parts
                .iter()
                .map(|p| json!({"rowCount": p.len(), "uncompressedSize": json!(p).to_string().len()}))
                .collect();
            axum::Json(json!({
                "resultSetMetaData": {
                    "numRows": st.rows.len(),
                    "format": "jsonv2",
                    "partitionInfo": infos,
                    "rowType": st.row_type,
                },
                "data": parts[0],
                "code": "090001",
                "statementStatusUrl": format!("/api/v2/statements/{handle}?requestId={}", run.request_id),
                "requestId": run.request_id,
                "sqlState": "00000",
                "statementHandle": handle,
                "message": "Statement executed successfully.",
                "createdOn": 1_700_000_000_000u64,
            }))
            .into_response()
        }
    }
}

async fn status(
    State(shared): State<Arc<Shared>>,
    Path(handle): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    record(&shared, "GET", &uri, &headers, &[]);
    if let Some(refused) = authorize(&shared, &headers) {
        return refused;
    }
    let partition = query_param(&uri, "partition").and_then(|p| p.parse().ok());
    answer(&shared, &handle, partition)
}

async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path(handle): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    record(&shared, "POST", &uri, &headers, &[]);
    if let Some(refused) = authorize(&shared, &headers) {
        return refused;
    }
    let mut inner = shared.lock();
    let Some(run) = inner.statements.get_mut(&handle) else {
        return error(
            404,
            "000709",
            &format!("Statement {handle} not found"),
            "02000",
            None,
        );
    };
    run.cancelled = true;
    inner.cancelled.push(handle.clone());
    axum::Json(json!({
        "code": "000000",
        "sqlState": "00000",
        "message": "successfully canceled",
        "statementHandle": handle,
        "statementStatusUrl": format!("/api/v2/statements/{handle}"),
    }))
    .into_response()
}

async fn fallback(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let request = record(&shared, method.as_str(), &uri, &headers, &raw);
    shared.lock().unexpected.push(request);
    error(
        404,
        "390404",
        &format!("unknown route {method} {}", uri.path()),
        "",
        None,
    )
}

fn text_col(name: &str) -> Value {
    json!({"name": name, "type": "text", "nullable": true, "length": 16_777_216, "precision": null, "scale": null})
}

fn fixed_col(name: &str) -> Value {
    json!({"name": name, "type": "fixed", "nullable": true, "length": null, "precision": 38, "scale": 0})
}

/// `NUMBER(38,0)` → (`NUMBER`, `38`, `0`), as `INFORMATION_SCHEMA.COLUMNS` splits it.
fn split_number_type(data_type: &str) -> (String, Option<String>, Option<String>) {
    if let Some((name, args)) = data_type.split_once('(')
        && let Some((p, s)) = args.trim_end_matches(')').split_once(',')
        && name.eq_ignore_ascii_case("NUMBER")
    {
        return (
            name.to_string(),
            Some(p.trim().to_string()),
            Some(s.trim().to_string()),
        );
    }
    (data_type.to_string(), None, None)
}

/// Which tables a `SHOW … KEYS IN DATABASE|SCHEMA|TABLE name` covers.
fn show_scope<'t>(sql: &str, tables: &'t [FakeTable]) -> Vec<&'t FakeTable> {
    let upper = sql.to_ascii_uppercase();
    let rest = upper
        .find(" IN ")
        .map_or("", |i| sql[i + 4..].trim())
        .trim_end_matches(';');
    let (kind, name) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let parts: Vec<String> = name
        .trim()
        .split('.')
        .map(|p| p.trim().trim_matches('"').to_string())
        .collect();
    let last = |n: usize| parts.len().checked_sub(n).and_then(|i| parts.get(i));
    tables
        .iter()
        .filter(|t| match kind.to_ascii_uppercase().as_str() {
            "SCHEMA" => last(1) == Some(&t.schema),
            "TABLE" => last(2) == Some(&t.schema) && last(1) == Some(&t.name),
            _ => true,
        })
        .collect()
}

/// A catalog statement answered from the catalog model, or `None` if `sql` is none.
fn catalog_statement(database: &str, tables: &[FakeTable], sql: &str) -> Option<FakeStatement> {
    let upper = sql.to_ascii_uppercase();
    let created = Some("1700000000.000000000".to_string());
    let schemas = sql_literals(sql, "TABLE_SCHEMA");
    let names = sql_literals(sql, "TABLE_NAME");
    let filtered = || {
        tables
            .iter()
            .filter(|t| passes(&schemas, &t.schema) && passes(&names, &t.name))
    };
    let table_type = |t: &FakeTable| if t.view { "VIEW" } else { "BASE TABLE" }.to_string();
    let mut st = FakeStatement::default();
    if upper.contains("INFORMATION_SCHEMA.COLUMNS") {
        st.row_type = [
            "TABLE_SCHEMA",
            "TABLE_NAME",
            "COLUMN_NAME",
            "ORDINAL_POSITION",
            "DATA_TYPE",
            "NUMERIC_PRECISION",
            "NUMERIC_SCALE",
            "IS_NULLABLE",
            "COLUMN_COMMENT",
            "TABLE_TYPE",
            "TABLE_COMMENT",
            "ROW_COUNT",
        ]
        .iter()
        .map(|n| match *n {
            "ORDINAL_POSITION" | "NUMERIC_PRECISION" | "NUMERIC_SCALE" | "ROW_COUNT" => {
                fixed_col(n)
            }
            _ => text_col(n),
        })
        .collect();
        for t in filtered() {
            for (i, c) in t.columns.iter().enumerate() {
                let (data_type, precision, scale) = split_number_type(&c.data_type);
                st.rows.push(vec![
                    Some(t.schema.clone()),
                    Some(t.name.clone()),
                    Some(c.name.clone()),
                    Some((i + 1).to_string()),
                    Some(data_type),
                    precision,
                    scale,
                    Some(if c.nullable { "YES" } else { "NO" }.to_string()),
                    c.comment.clone(),
                    Some(table_type(t)),
                    t.comment.clone(),
                    t.row_count.map(|n| n.to_string()),
                ]);
            }
        }
    } else if upper.contains("INFORMATION_SCHEMA.TABLES") {
        st.row_type = ["TABLE_SCHEMA", "TABLE_NAME", "TABLE_TYPE"]
            .iter()
            .map(|n| text_col(n))
            .collect();
        for t in filtered() {
            st.rows.push(vec![
                Some(t.schema.clone()),
                Some(t.name.clone()),
                Some(table_type(t)),
            ]);
        }
    } else if upper.starts_with("SHOW PRIMARY KEYS") {
        st.row_type = vec![
            json!({"name": "created_on", "type": "timestamp_ltz", "nullable": true, "scale": 9}),
            text_col("database_name"),
            text_col("schema_name"),
            text_col("table_name"),
            text_col("column_name"),
            fixed_col("key_sequence"),
            text_col("constraint_name"),
            text_col("rely"),
            text_col("comment"),
        ];
        for t in show_scope(sql, tables) {
            for (i, c) in t.primary_key.iter().enumerate() {
                st.rows.push(vec![
                    created.clone(),
                    Some(database.to_string()),
                    Some(t.schema.clone()),
                    Some(t.name.clone()),
                    Some(c.clone()),
                    Some((i + 1).to_string()),
                    Some(format!("SYS_CONSTRAINT_{}_PK", t.name)),
                    Some("false".into()),
                    None,
                ]);
            }
        }
    } else if upper.starts_with("SHOW IMPORTED KEYS") {
        st.row_type = [
            "created_on",
            "pk_database_name",
            "pk_schema_name",
            "pk_table_name",
            "pk_column_name",
            "fk_database_name",
            "fk_schema_name",
            "fk_table_name",
            "fk_column_name",
            "key_sequence",
            "update_rule",
            "delete_rule",
            "fk_name",
            "pk_name",
            "deferrability",
            "rely",
            "comment",
        ]
        .iter()
        .map(|n| match *n {
            "created_on" => {
                json!({"name": n, "type": "timestamp_ltz", "nullable": true, "scale": 9})
            }
            "key_sequence" => fixed_col(n),
            _ => text_col(n),
        })
        .collect();
        for t in show_scope(sql, tables) {
            for fk in &t.foreign_keys {
                for (i, (c, r)) in fk.columns.iter().zip(&fk.referenced_columns).enumerate() {
                    st.rows.push(vec![
                        created.clone(),
                        Some(database.to_string()),
                        Some(fk.references_schema.clone()),
                        Some(fk.references_table.clone()),
                        Some(r.clone()),
                        Some(database.to_string()),
                        Some(t.schema.clone()),
                        Some(t.name.clone()),
                        Some(c.clone()),
                        Some((i + 1).to_string()),
                        Some("NO ACTION".into()),
                        Some("NO ACTION".into()),
                        Some(fk.name.clone()),
                        Some(format!("SYS_CONSTRAINT_{}_PK", fk.references_table)),
                        Some("NOT DEFERRABLE".into()),
                        Some("false".into()),
                        None,
                    ]);
                }
            }
        }
    } else {
        return None;
    }
    Some(st)
}
