//! # metricchat-testkit
//!
//! Test infrastructure for metricchat: [`FakeLlmServer`], a real HTTP server speaking the OpenAI
//! Chat Completions (`POST /v1/chat/completions`, JSON and SSE), Anthropic Messages
//! (`POST /v1/messages`, SSE) and Ollama (`POST /api/chat`, NDJSON) wire formats, which plays one
//! script of [`Exchange`]s in whichever format a request arrives in, records every request and
//! reports unexpected ones. The `mc-fake-llm` binary serves the same thing
//! from a JSON script file for the Python and Node tests.
//!
//! ```no_run
//! # async fn demo() {
//! use metricchat_testkit::{Exchange, FakeLlmServer, Reply};
//! use serde_json::json;
//!
//! let server = FakeLlmServer::start(vec![
//!     Reply::rate_limited(1).into(),
//!     Reply::tool_call("create_data", json!({"sql": "SELECT 1"})).into(),
//!     Exchange::any(Reply::text("Done.")),
//! ])
//! .await;
//! let base_url = server.base_url(); // http://127.0.0.1:PORT/v1
//! // … point a client at base_url, run …
//! server.verify().unwrap();
//! # }
//! ```
//!
//! Routes: `POST /v1/chat/completions` (scripted, OpenAI format; also Azure OpenAI's
//! `/openai/deployments/{deployment}/chat/completions`, which must carry `?api-version=` and an
//! `api-key` header), `POST /v1/messages` (scripted, Anthropic Messages format), `POST /api/chat`
//! (scripted, Ollama NDJSON format), `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent` (scripted, Gemini format): the same script answers all of them, each
//! in its own wire format. `GET /v1/models` (a fixed list),
//! `GET /_fake/state` (recorded requests, unexpected requests, remaining exchanges as JSON).
//! Anything else is recorded as unexpected and answered 404.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub mod anthropic;
#[cfg(feature = "bigquery")]
pub mod bigquery;
pub mod gemini;
pub mod ollama;
mod openai;
pub mod script;
pub mod services;
#[cfg(feature = "snowflake")]
pub mod snowflake;
pub mod typegen;
#[cfg(any(feature = "snowflake", feature = "bigquery"))]
pub mod warehouse_common;
mod wire;

pub use script::{Exchange, FakeToolCall, FakeUsage, Matcher, Reply};
pub use services::{on_ci, service_url_or_skip};

/// A request the server received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Query string without the `?`, if any (e.g. `api-version=2024-10-21`, `alt=sse`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Headers (lower-case names; values that are not UTF-8 are dropped).
    pub headers: BTreeMap<String, String>,
    /// The body as JSON (a JSON string holding the raw text if it was not JSON; null if empty).
    pub body: Value,
}

struct Slot {
    exchange: Exchange,
    used: bool,
}

struct Shared {
    script: Mutex<Vec<Slot>>,
    recorded: Mutex<Vec<RecordedRequest>>,
    unexpected: Mutex<Vec<RecordedRequest>>,
    counter: AtomicU64,
    open_streams: Arc<AtomicUsize>,
    shutdown: watch::Receiver<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fake OpenAI-compatible server on `127.0.0.1`, stopped when dropped.
pub struct FakeLlmServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FakeLlmServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeLlmServer")
            .field("addr", &self.addr)
            .field("remaining", &self.remaining())
            .finish_non_exhaustive()
    }
}

impl FakeLlmServer {
    /// Starts a server on `127.0.0.1` with a free port, playing `script`.
    ///
    /// # Panics
    /// If no local port can be bound (this is test infrastructure; use
    /// [`FakeLlmServer::start_on`] to handle the error).
    #[allow(clippy::expect_used)]
    pub async fn start(script: Vec<Exchange>) -> FakeLlmServer {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), script)
            .await
            .expect("bind a local port for the fake LLM server")
    }

    /// Starts a server on `addr` (port 0 picks a free one), playing `script`.
    pub async fn start_on(addr: SocketAddr, script: Vec<Exchange>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, shutdown) = watch::channel(false);
        let shared = Arc::new(Shared {
            script: Mutex::new(
                script
                    .into_iter()
                    .map(|exchange| Slot {
                        exchange,
                        used: false,
                    })
                    .collect(),
            ),
            recorded: Mutex::new(Vec::new()),
            unexpected: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
            open_streams: Arc::new(AtomicUsize::new(0)),
            shutdown: shutdown.clone(),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/messages", post(chat))
            .route("/api/chat", post(chat))
            .route("/v1beta/models/{model_method}", post(chat))
            .route(
                "/openai/deployments/{deployment}/chat/completions",
                post(chat),
            )
            .route("/v1/models", get(models))
            .route("/_fake/state", get(state))
            .fallback(fallback)
            .with_state(shared.clone());
        let mut stopped = shutdown;
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "fake LLM server stopped with an error");
            }
        });
        Ok(Self {
            addr,
            shared,
            stop,
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL to give an OpenAI client.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT`, the host to give an Ollama client (an Anthropic client takes
    /// this or [`FakeLlmServer::base_url`]).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Appends an exchange to the script.
    pub fn push(&self, exchange: Exchange) {
        lock(&self.shared.script).push(Slot {
            exchange,
            used: false,
        });
    }

    /// The bodies of all chat requests received, in order (including unexpected ones).
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.shared.recorded)
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    /// All chat requests received, with method, path and headers.
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.recorded).clone()
    }

    /// Requests no scripted exchange matched (answered 500), and requests to unknown routes.
    pub fn unexpected(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.unexpected).clone()
    }

    /// How many streamed (SSE) responses are still being sent. Drops back when a stream ends or
    /// the client closes the connection, so tests can check that cancelling really hangs up.
    pub fn open_streams(&self) -> usize {
        self.shared.open_streams.load(Ordering::SeqCst)
    }

    /// How many scripted exchanges are still unused.
    pub fn remaining(&self) -> usize {
        lock(&self.shared.script).iter().filter(|s| !s.used).count()
    }

    /// `Ok` when every exchange was used and nothing unexpected arrived; else what went wrong.
    pub fn verify(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        for r in self.unexpected() {
            problems.push(format!(
                "unexpected request {} {}: {}",
                r.method,
                r.path,
                summarize(&r.body)
            ));
        }
        let unused: Vec<String> = lock(&self.shared.script)
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.used)
            .map(|(i, s)| format!("exchange #{i} was never used: {:?}", s.exchange))
            .collect();
        problems.extend(unused);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }

    /// Stops the server: stalled and streaming responses are cut, the listener closes.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        drop(self);
        // Graceful: open keep-alive connections get a moment to close.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
    }
}

impl Drop for FakeLlmServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

fn parse_body(raw: &str) -> Value {
    if raw.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
    }
}

/// A short description of a request for error messages: the last message's text, else the body.
fn summarize(body: &Value) -> String {
    let text = body
        .pointer("/messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
        .map(|m| {
            format!(
                "last message ({}): {}",
                m.get("role").and_then(Value::as_str).unwrap_or("?"),
                m.get("content").map_or(String::new(), |c| match c {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            )
        })
        .unwrap_or_else(|| body.to_string());
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

async fn chat(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let body = parse_body(&raw);
    let request = RecordedRequest {
        method: "POST".into(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: header_map(&headers),
        body: body.clone(),
    };
    lock(&shared.recorded).push(request.clone());
    if let Some(refused) = azure_refusal(&uri, &headers) {
        lock(&shared.unexpected).push(request);
        return refused;
    }
    let reply = {
        let mut script = lock(&shared.script);
        script
            .iter_mut()
            .find(|s| {
                !s.used
                    && s.exchange
                        .matcher
                        .as_ref()
                        .is_none_or(|m| m.matches(uri.path(), &raw, &body))
            })
            .map(|slot| {
                slot.used = true;
                slot.exchange.reply.clone()
            })
    };
    let Some(reply) = reply else {
        let summary = summarize(&body);
        tracing::warn!(%summary, "fake LLM server: unexpected request");
        lock(&shared.unexpected).push(request);
        return match uri.path() {
            "/v1/messages" => anthropic::unexpected(&summary),
            "/api/chat" => ollama::unexpected(&summary),
            p if p.starts_with("/v1beta/") => gemini::unexpected(&summary),
            _ => openai::unexpected(&summary),
        };
    };
    let n = shared.counter.fetch_add(1, Ordering::SeqCst) + 1;
    let (reply, usage_omitted) = reply.split_usage();
    if let Some((model, method)) = gemini::model_and_method(uri.path()) {
        let streaming = method == "streamGenerateContent";
        let sse = uri
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"));
        let req = wire::Req {
            n,
            model: model.to_string(),
            stream: streaming,
            prompt_chars: raw.chars().count(),
            shutdown: shared.shutdown.clone(),
            open_streams: shared.open_streams.clone(),
        };
        return gemini::respond(req, reply, streaming && !sse).await;
    }
    if let path @ ("/v1/messages" | "/api/chat") = uri.path() {
        let ollama = path == "/api/chat";
        let req = wire::Req {
            n,
            model: body
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("fake-model")
                .to_string(),
            // Ollama streams unless told not to; Anthropic only when asked.
            stream: body
                .get("stream")
                .and_then(Value::as_bool)
                .unwrap_or(ollama),
            prompt_chars: raw.chars().count(),
            shutdown: shared.shutdown.clone(),
            open_streams: shared.open_streams.clone(),
        };
        return if ollama {
            ollama::respond(req, reply).await
        } else {
            anthropic::respond(req, reply).await
        };
    }
    let mut ctx = openai::Ctx::new(
        n,
        &body,
        raw.chars().count(),
        shared.shutdown.clone(),
        shared.open_streams.clone(),
    );
    if usage_omitted {
        ctx.include_usage = false;
    }
    openai::respond(ctx, reply).await
}

/// Azure OpenAI refuses a deployment request without `?api-version=` (404) or without an
/// `api-key` header (401); so does the fake, with Azure's error bodies.
fn azure_refusal(uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    if !uri.path().starts_with("/openai/deployments/") {
        return None;
    }
    let has_version = uri.query().is_some_and(|q| {
        q.split('&').any(|kv| {
            kv.strip_prefix("api-version=")
                .is_some_and(|v| !v.is_empty())
        })
    });
    let (status, code, message) = if !has_version {
        (StatusCode::NOT_FOUND, "404", "Resource not found")
    } else if headers
        .get("api-key")
        .is_none_or(|v| v.as_bytes().is_empty())
    {
        (
            StatusCode::UNAUTHORIZED,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to \
             provide a valid key for an active subscription and use a correct regional API \
             endpoint for your resource.",
        )
    } else {
        return None;
    };
    Some(
        (
            status,
            axum::Json(json!({"error": {"code": code, "message": message}})),
        )
            .into_response(),
    )
}

async fn models() -> Response {
    axum::Json(openai::models()).into_response()
}

async fn state(State(shared): State<Arc<Shared>>) -> Response {
    let remaining = lock(&shared.script).iter().filter(|s| !s.used).count();
    axum::Json(json!({
        "requests": *lock(&shared.recorded),
        "unexpected": *lock(&shared.unexpected),
        "remaining": remaining,
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
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let request = RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: header_map(&headers),
        body: parse_body(&raw),
    };
    lock(&shared.unexpected).push(request);
    (
        StatusCode::NOT_FOUND,
        axum::Json(script::openai_error(
            &format!("unexpected request: {method} {}", uri.path()),
            "fake_server_error",
            json!("unknown_route"),
        )),
    )
        .into_response()
}
