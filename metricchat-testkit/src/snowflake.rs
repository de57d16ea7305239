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
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::RecordedRequest;

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
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FakeSnowflake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSnowflake")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeSnowflake {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
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
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind a local port for the fake Snowflake");
        let addr = listener.local_addr().expect("a local address");
        let app = Router::new()
            .route("/api/v2/statements", post(submit))
            .route("/api/v2/statements/{handle}", get(status))
            .route("/api/v2/statements/{handle}/cancel", post(cancel))
            .fallback(fallback)
            .with_state(shared.clone());
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        });
        Self {
            addr,
            shared,
            stop,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`, the client's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
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
    let text = String::from_utf8_lossy(raw);
    let request = RecordedRequest {
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
    };
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

#[derive(serde::Deserialize)]
struct Claims {
    iat: u64,
    exp: u64,
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
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            validation.leeway = 0;
            validation.validate_aud = false;
            validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
            validation.set_issuer(&[format!("{account}.{user}.SHA256:{}", shared.fingerprint)]);
            validation.sub = Some(format!("{account}.{user}"));
            match jsonwebtoken::decode::<Claims>(token, &shared.decoding, &validation) {
                Ok(data) if data.claims.exp.saturating_sub(data.claims.iat) > 3600 => {
                    Err("JWT lifetime exceeds one hour".to_string())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(format!("JWT token is invalid: {e}")),
            }
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

fn query_param<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
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
    let request_id = query_param(&uri, "requestId").unwrap_or("").to_string();
    let retry = query_param(&uri, "retry") == Some("true");
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
