//! A fake BigQuery REST v2 server with its OAuth token endpoint (feature `bigquery`).
//!
//! Routes, in Google's wire format:
//! - `POST /token`: the service-account JWT-bearer grant. The assertion must be RS256-signed by
//!   the configured key, with `iss` the account's e-mail, `aud` this token URI, the BigQuery
//!   scope and at most an hour of life; the answer is `{"access_token", "expires_in",
//!   "token_type"}` with the configured lifetime.
//! - `POST /bigquery/v2/projects/{p}/queries` (`jobs.query`), `GET …/queries/{jobId}`
//!   (`jobs.getQueryResults`, paged by `pageToken`), `POST …/jobs/{jobId}/cancel`.
//!
//! API calls need `Authorization: Bearer` with an unexpired issued token (or the static token);
//! otherwise 401 `UNAUTHENTICATED`. Queries are answered from rules registered with
//! [`FakeBigQuery::on`]; unknown SQL gets a 400 `invalidQuery` and is recorded as unexpected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::RecordedRequest;
use crate::warehouse_common::{
    FakeTable, JwtRules, LocalServer, form_decode, passes, query_param, recorded_request,
    sql_literals, verify_rs256,
};

/// The scope a service account must request.
pub const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";

/// Who the fake accepts.
#[derive(Debug, Clone)]
pub struct FakeBigQueryConfig {
    /// The project of the API paths.
    pub project: String,
    /// The service account's e-mail (the assertion's `iss`).
    pub client_email: String,
    /// The service account's RSA public key (`-----BEGIN PUBLIC KEY-----` PEM).
    pub public_key_pem: String,
    /// Lifetime of issued access tokens (`expires_in`).
    pub token_lifetime: Duration,
    /// A bearer token accepted as is.
    pub static_token: Option<String>,
}

/// How the fake answers a query.
#[derive(Debug, Clone, Default)]
pub struct FakeQuery {
    /// `schema.fields` (`{"name", "type", "mode", "fields", "precision", "scale"}`).
    pub fields: Vec<Value>,
    /// Rows in the wire form `{"f": [{"v": …}]}`.
    pub rows: Vec<Value>,
    /// `totalBytesProcessed` (also what a dry run reports and `maximumBytesBilled` is held to).
    pub bytes: u64,
    /// How many calls answer `jobComplete: false` before the result.
    pub polls: usize,
    /// Answer this failure instead: HTTP code, `status`, `reason`, `message`.
    pub error: Option<(u16, String, String, String)>,
}

impl FakeQuery {
    /// A query returning `rows` (`{"f": [...]}`) with `fields`.
    pub fn rows(fields: Vec<Value>, rows: Vec<Value>) -> Self {
        Self {
            fields,
            rows,
            bytes: 1024,
            ..Self::default()
        }
    }

    /// Sets the bytes it processes.
    pub fn bytes(mut self, bytes: u64) -> Self {
        self.bytes = bytes;
        self
    }

    /// Answers `jobComplete: false` `polls` times first.
    pub fn pending(mut self, polls: usize) -> Self {
        self.polls = polls;
        self
    }

    /// A job that keeps running until cancelled.
    pub fn never_finishes() -> Self {
        Self {
            polls: usize::MAX,
            ..Self::default()
        }
    }

    /// A query failing with a Google error body.
    pub fn failing(code: u16, status: &str, reason: &str, message: &str) -> Self {
        Self {
            error: Some((code, status.into(), reason.into(), message.into())),
            ..Self::default()
        }
    }
}

struct Job {
    query: FakeQuery,
    polls_left: usize,
    cancelled: bool,
    location: String,
}

#[derive(Default)]
struct Inner {
    rules: Vec<(String, FakeQuery)>,
    jobs: HashMap<String, Job>,
    request_ids: HashMap<String, String>,
    tokens: HashMap<String, Instant>,
    issued: usize,
    recorded: Vec<RecordedRequest>,
    unexpected: Vec<RecordedRequest>,
    cancelled: Vec<String>,
    auth_failures: Vec<String>,
    fail_next: Vec<u16>,
    catalog: Vec<FakeTable>,
}

struct Shared {
    config: FakeBigQueryConfig,
    decoding: jsonwebtoken::DecodingKey,
    token_uri: Mutex<String>,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fake BigQuery on `127.0.0.1`, stopped when dropped.
pub struct FakeBigQuery {
    server: LocalServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeBigQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeBigQuery")
            .field("addr", &self.server.addr)
            .finish_non_exhaustive()
    }
}

impl FakeBigQuery {
    /// Starts the fake on a free local port.
    ///
    /// # Panics
    /// If the public key is not an RSA PEM key or no port can be bound (test infrastructure).
    #[allow(clippy::expect_used)]
    pub async fn start(config: FakeBigQueryConfig) -> Self {
        let decoding = jsonwebtoken::DecodingKey::from_rsa_pem(config.public_key_pem.as_bytes())
            .expect("an RSA public key PEM");
        let shared = Arc::new(Shared {
            config,
            decoding,
            token_uri: Mutex::new(String::new()),
            inner: Mutex::new(Inner::default()),
        });
        let app = Router::new()
            .route("/token", post(token))
            .route("/bigquery/v2/projects/{project}/queries", post(query))
            .route(
                "/bigquery/v2/projects/{project}/queries/{job}",
                get(results),
            )
            .route(
                "/bigquery/v2/projects/{project}/jobs/{job}/cancel",
                post(cancel),
            )
            .fallback(fallback)
            .with_state(shared.clone());
        let server = LocalServer::start(app, "the fake BigQuery").await;
        *shared
            .token_uri
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = format!("http://{}/token", server.addr);
        Self { server, shared }
    }

    /// `http://127.0.0.1:PORT`, the client's API base.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// `http://127.0.0.1:PORT/token`, the token URI to put in the key file.
    pub fn token_uri(&self) -> String {
        format!("http://{}/token", self.server.addr)
    }

    /// Answers catalog queries from `tables` (each table's `schema` is its dataset), in
    /// BigQuery's result shapes: queries on `INFORMATION_SCHEMA.COLUMNS` (joined with
    /// `TABLES`, `COLUMN_FIELD_PATHS`, `TABLE_OPTIONS` and the row counts), on
    /// `INFORMATION_SCHEMA.KEY_COLUMN_USAGE` (joined with `TABLE_CONSTRAINTS` and
    /// `CONSTRAINT_COLUMN_USAGE`) and on `INFORMATION_SCHEMA.TABLES`. The dataset qualifier
    /// (`` `project.dataset`.INFORMATION_SCHEMA ``; a `region-…` qualifier covers all) and
    /// `table_name = '…'` comparisons filter the rows. Rules registered with
    /// [`FakeBigQuery::on`] are tried first.
    pub fn set_catalog(&self, tables: Vec<FakeTable>) {
        self.shared.lock().catalog = tables;
    }

    /// Answers queries whose text contains `sql_contains` (first matching rule wins).
    pub fn on(&self, sql_contains: &str, query: FakeQuery) {
        self.shared
            .lock()
            .rules
            .push((sql_contains.to_string(), query));
    }

    /// Answers the next `n` API calls (not token requests) with `status` (429 or 503).
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

    /// Job ids a client cancelled.
    pub fn cancelled(&self) -> Vec<String> {
        self.shared.lock().cancelled.clone()
    }

    /// How many access tokens the token endpoint issued.
    pub fn tokens_issued(&self) -> usize {
        self.shared.lock().issued
    }

    /// Revokes every issued access token: the next API call with one gets 401, as after a
    /// key rotation or a token the server expired early.
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Why requests were refused as unauthenticated.
    pub fn auth_failures(&self) -> Vec<String> {
        self.shared.lock().auth_failures.clone()
    }

    /// How many jobs were started (dry runs and retried requests excluded).
    pub fn jobs_started(&self) -> usize {
        self.shared.lock().jobs.len()
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

/// A Google API error body.
fn google_error(code: u16, status: &str, reason: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(json!({
            "error": {
                "code": code,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
                "status": status,
            }
        })),
    )
        .into_response()
}

async fn token(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    record(&shared, "POST", &uri, &headers, &raw);
    let form: HashMap<String, String> = form_decode(&String::from_utf8_lossy(&raw));
    let refuse = |shared: &Shared, why: String| {
        shared.lock().auth_failures.push(why.clone());
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": why})),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})),
        )
            .into_response();
    }
    let assertion = form.get("assertion").cloned().unwrap_or_default();
    let token_uri = shared
        .token_uri
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let rules = JwtRules {
        issuer: &shared.config.client_email,
        subject: None,
        audience: Some(&token_uri),
    };
    let claims = match verify_rs256(&assertion, &shared.decoding, &rules) {
        Ok(claims) => claims,
        Err(why) => return refuse(&shared, why),
    };
    if !claims.scope.split(' ').any(|s| s == SCOPE) {
        return refuse(&shared, format!("scope `{}` lacks {SCOPE}", claims.scope));
    }
    let lifetime = shared.config.token_lifetime;
    let token = {
        let mut inner = shared.lock();
        inner.issued += 1;
        let token = format!("ya29.fake-{}", inner.issued);
        inner
            .tokens
            .insert(token.clone(), Instant::now() + lifetime);
        token
    };
    axum::Json(json!({
        "access_token": token,
        "expires_in": lifetime.as_secs().max(1),
        "token_type": "Bearer",
    }))
    .into_response()
}

/// Checks the bearer token and the injected failures; `Some` is the refusal to send.
fn gate(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let mut inner = shared.lock();
    let valid = shared.config.static_token.as_deref() == Some(token)
        || inner
            .tokens
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires);
    if !valid {
        let why = if inner.tokens.contains_key(token) {
            format!("expired token {token}")
        } else {
            format!("unknown token `{token}`")
        };
        inner.auth_failures.push(why);
        return Some(google_error(
            401,
            "UNAUTHENTICATED",
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login \
             cookie or other valid authentication credential.",
        ));
    }
    if !inner.fail_next.is_empty() {
        let status = inner.fail_next.remove(0);
        let (state, reason) = if status == 429 {
            ("RESOURCE_EXHAUSTED", "rateLimitExceeded")
        } else {
            ("UNAVAILABLE", "backendError")
        };
        let mut resp = google_error(status, state, reason, "Please try again.");
        resp.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("0"));
        return Some(resp);
    }
    None
}

fn job_reference(project: &str, job_id: &str, location: &str) -> Value {
    json!({"projectId": project, "jobId": job_id, "location": location})
}

/// One page (or the pending state) of a job, as `kind` (`queryResponse` or
/// `getQueryResultsResponse`).
fn page(shared: &Shared, job_id: &str, start: usize, max: usize, kind: &str) -> Response {
    let project = shared.config.project.clone();
    let mut inner = shared.lock();
    let Some(job) = inner.jobs.get_mut(job_id) else {
        return google_error(
            404,
            "NOT_FOUND",
            "notFound",
            &format!("Not found: Job {project}:{job_id}"),
        );
    };
    let reference = job_reference(&project, job_id, &job.location);
    if job.cancelled {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "stopped",
            "Job execution was cancelled: User requested cancellation",
        );
    }
    if job.polls_left > 0 {
        if job.polls_left != usize::MAX {
            job.polls_left -= 1;
        }
        return axum::Json(json!({
            "kind": format!("bigquery#{kind}"),
            "jobReference": reference,
            "jobComplete": false,
        }))
        .into_response();
    }
    if let Some((code, status, reason, message)) = &job.query.error {
        return google_error(*code, status, reason, message);
    }
    let q = &job.query;
    let end = (start + max.max(1)).min(q.rows.len());
    let rows: Vec<Value> = q
        .rows
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut body = json!({
        "kind": format!("bigquery#{kind}"),
        "schema": {"fields": q.fields},
        "jobReference": reference,
        "totalRows": q.rows.len().to_string(),
        "rows": rows,
        "totalBytesProcessed": q.bytes.to_string(),
        "jobComplete": true,
        "cacheHit": false,
    });
    if end < q.rows.len() {
        body["pageToken"] = json!(format!("page-{end}"));
    }
    axum::Json(body).into_response()
}

async fn query(
    State(shared): State<Arc<Shared>>,
    Path(project): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let request = record(&shared, "POST", &uri, &headers, &raw);
    if let Some(resp) = gate(&shared, &headers) {
        return resp;
    }
    if project != shared.config.project {
        return google_error(
            404,
            "NOT_FOUND",
            "notFound",
            &format!("Not found: Project {project}"),
        );
    }
    let body = &request.body;
    if body.get("useLegacySql") != Some(&Value::Bool(false)) {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "invalidQuery",
            "the fake speaks standard SQL only: send useLegacySql: false",
        );
    }
    let sql = body.get("query").and_then(Value::as_str).unwrap_or("");
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or("US")
        .to_string();
    let max = body
        .get("maxResults")
        .and_then(Value::as_u64)
        .and_then(|m| usize::try_from(m).ok())
        .unwrap_or(usize::MAX);
    let rule = {
        let inner = shared.lock();
        inner
            .rules
            .iter()
            .find(|(needle, _)| sql.contains(needle.as_str()))
            .map(|(_, q)| q.clone())
            .or_else(|| catalog_query(&inner.catalog, sql))
    };
    let Some(rule) = rule else {
        shared.lock().unexpected.push(request.clone());
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "invalidQuery",
            "Unrecognized name: the fake has no rule for this query",
        );
    };
    if body.get("dryRun") == Some(&Value::Bool(true)) {
        if let Some((code, status, reason, message)) = &rule.error {
            return google_error(*code, status, reason, message);
        }
        return axum::Json(json!({
            "kind": "bigquery#queryResponse",
            "schema": {"fields": rule.fields},
            "jobReference": {"projectId": shared.config.project, "location": location},
            "totalBytesProcessed": rule.bytes.to_string(),
            "jobComplete": true,
            "cacheHit": false,
        }))
        .into_response();
    }
    if let Some(limit) = body
        .get("maximumBytesBilled")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<u64>().ok())
        && rule.bytes > limit
    {
        let needed = rule.bytes.div_ceil(10 * 1024 * 1024) * 10 * 1024 * 1024;
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "bytesBilledLimitExceeded",
            &format!(
                "Query exceeded limit for bytes billed: {limit}. {needed} or higher required."
            ),
        );
    }
    let request_id = body
        .get("requestId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let existing = request_id
        .as_ref()
        .and_then(|r| shared.lock().request_ids.get(r).cloned());
    let job_id = match existing {
        Some(id) => id,
        None => {
            let mut inner = shared.lock();
            let id = format!("job_fake_{}", inner.jobs.len() + 1);
            inner.jobs.insert(
                id.clone(),
                Job {
                    polls_left: rule.polls,
                    query: rule,
                    cancelled: false,
                    location,
                },
            );
            if let Some(r) = request_id {
                inner.request_ids.insert(r, id.clone());
            }
            id
        }
    };
    page(&shared, &job_id, 0, max, "queryResponse")
}

async fn results(
    State(shared): State<Arc<Shared>>,
    Path((_project, job)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    record(&shared, "GET", &uri, &headers, &[]);
    if let Some(resp) = gate(&shared, &headers) {
        return resp;
    }
    let start = query_param(&uri, "pageToken")
        .and_then(|t| t.strip_prefix("page-").and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    let max = query_param(&uri, "maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(usize::MAX);
    // A real server holds the call up to `timeoutMs` while the job runs; the fake waits a bit.
    let pending = shared
        .lock()
        .jobs
        .get(&job)
        .is_some_and(|j| j.polls_left > 0 && !j.cancelled);
    if pending {
        let wait = query_param(&uri, "timeoutMs")
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(10_000)
            .min(20);
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    page(&shared, &job, start, max, "getQueryResultsResponse")
}

async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path((project, job)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    record(&shared, "POST", &uri, &headers, &[]);
    if let Some(resp) = gate(&shared, &headers) {
        return resp;
    }
    let mut inner = shared.lock();
    let Some(j) = inner.jobs.get_mut(&job) else {
        return google_error(
            404,
            "NOT_FOUND",
            "notFound",
            &format!("Not found: Job {project}:{job}"),
        );
    };
    j.cancelled = true;
    let reference = job_reference(&project, &job, &j.location);
    inner.cancelled.push(job);
    axum::Json(json!({
        "kind": "bigquery#jobCancelResponse",
        "job": {"jobReference": reference, "status": {"state": "RUNNING"}},
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
    google_error(
        404,
        "NOT_FOUND",
        "notFound",
        &format!("unknown route {method} {}", uri.path()),
    )
}

fn field(name: &str, kind: &str) -> Value {
    json!({"name": name, "type": kind, "mode": "NULLABLE"})
}

fn string_cell(v: Option<String>) -> Value {
    json!({"v": v})
}

/// A description as `TABLE_OPTIONS.option_value` shows it: a GoogleSQL string literal.
fn option_literal(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The catalog tables a query's `INFORMATION_SCHEMA` qualifier covers.
fn in_scope<'t>(tables: &'t [FakeTable], sql: &str) -> Vec<&'t FakeTable> {
    let dataset = sql
        .find("`.INFORMATION_SCHEMA")
        .and_then(|end| {
            let start = sql[..end].rfind('`')?;
            let qualified = &sql[start + 1..end];
            let (_, dataset) = qualified.split_once('.')?;
            Some(dataset.to_string())
        })
        .filter(|d| !d.starts_with("region-"));
    tables
        .iter()
        .filter(|t| dataset.as_ref().is_none_or(|d| *d == t.schema))
        .collect()
}

/// A catalog query answered from the catalog model, or `None` if `sql` is none.
fn catalog_query(tables: &[FakeTable], sql: &str) -> Option<FakeQuery> {
    let names = sql_literals(sql, "table_name");
    let scoped = in_scope(tables, sql);
    let table_type = |t: &FakeTable| if t.view { "VIEW" } else { "BASE TABLE" }.to_string();
    let row = |cells: Vec<Value>| json!({ "f": cells });
    let mut q = FakeQuery::rows(Vec::new(), Vec::new()).bytes(10 * 1024 * 1024);
    if sql.contains("INFORMATION_SCHEMA.COLUMNS") {
        q.fields = vec![
            field("TABLE_SCHEMA", "STRING"),
            field("TABLE_NAME", "STRING"),
            field("COLUMN_NAME", "STRING"),
            field("ORDINAL_POSITION", "INTEGER"),
            field("DATA_TYPE", "STRING"),
            field("IS_NULLABLE", "STRING"),
            field("COLUMN_COMMENT", "STRING"),
            field("TABLE_TYPE", "STRING"),
            field("TABLE_COMMENT", "STRING"),
            field("ROW_COUNT", "INTEGER"),
        ];
        for t in scoped.iter().filter(|t| passes(&names, &t.name)) {
            for (i, c) in t.columns.iter().enumerate() {
                q.rows.push(row(vec![
                    string_cell(Some(t.schema.clone())),
                    string_cell(Some(t.name.clone())),
                    string_cell(Some(c.name.clone())),
                    string_cell(Some((i + 1).to_string())),
                    string_cell(Some(c.data_type.clone())),
                    string_cell(Some(if c.nullable { "YES" } else { "NO" }.to_string())),
                    string_cell(c.comment.clone()),
                    string_cell(Some(table_type(t))),
                    string_cell(t.comment.as_deref().map(option_literal)),
                    string_cell(t.row_count.map(|n| n.to_string())),
                ]));
            }
        }
    } else if sql.contains("INFORMATION_SCHEMA.KEY_COLUMN_USAGE") {
        q.fields = [
            ("TABLE_SCHEMA", "STRING"),
            ("TABLE_NAME", "STRING"),
            ("CONSTRAINT_NAME", "STRING"),
            ("CONSTRAINT_TYPE", "STRING"),
            ("COLUMN_NAME", "STRING"),
            ("ORDINAL_POSITION", "INTEGER"),
            ("POSITION_IN_UNIQUE_CONSTRAINT", "INTEGER"),
            ("REFERENCED_SCHEMA", "STRING"),
            ("REFERENCED_TABLE", "STRING"),
            ("REFERENCED_COLUMN", "STRING"),
        ]
        .iter()
        .map(|(n, k)| field(n, k))
        .collect();
        let every_primary_key = sql.contains("'PRIMARY KEY'") && !names.is_empty();
        for t in &scoped {
            if passes(&names, &t.name) || every_primary_key {
                for (i, c) in t.primary_key.iter().enumerate() {
                    q.rows.push(row(vec![
                        string_cell(Some(t.schema.clone())),
                        string_cell(Some(t.name.clone())),
                        string_cell(Some(format!("{}.pk$", t.name))),
                        string_cell(Some("PRIMARY KEY".into())),
                        string_cell(Some(c.clone())),
                        string_cell(Some((i + 1).to_string())),
                        string_cell(None),
                        string_cell(None),
                        string_cell(None),
                        string_cell(None),
                    ]));
                }
            }
            if !passes(&names, &t.name) {
                continue;
            }
            for fk in &t.foreign_keys {
                let target = tables
                    .iter()
                    .find(|r| r.schema == fk.references_schema && r.name == fk.references_table);
                let single =
                    (fk.referenced_columns.len() == 1).then(|| fk.referenced_columns[0].clone());
                for (i, (c, r)) in fk.columns.iter().zip(&fk.referenced_columns).enumerate() {
                    let position = target
                        .and_then(|t| t.primary_key.iter().position(|p| p == r))
                        .map(|p| (p + 1).to_string());
                    q.rows.push(row(vec![
                        string_cell(Some(t.schema.clone())),
                        string_cell(Some(t.name.clone())),
                        string_cell(Some(fk.name.clone())),
                        string_cell(Some("FOREIGN KEY".into())),
                        string_cell(Some(c.clone())),
                        string_cell(Some((i + 1).to_string())),
                        string_cell(position),
                        string_cell(Some(fk.references_schema.clone())),
                        string_cell(Some(fk.references_table.clone())),
                        string_cell(single.clone()),
                    ]));
                }
            }
        }
    } else if sql.contains("INFORMATION_SCHEMA.TABLES") {
        q.fields = vec![
            field("table_schema", "STRING"),
            field("table_name", "STRING"),
            field("table_type", "STRING"),
        ];
        for t in scoped.iter().filter(|t| passes(&names, &t.name)) {
            q.rows.push(row(vec![
                string_cell(Some(t.schema.clone())),
                string_cell(Some(t.name.clone())),
                string_cell(Some(table_type(t))),
            ]));
        }
    } else {
        return None;
    }
    Some(q)
}
