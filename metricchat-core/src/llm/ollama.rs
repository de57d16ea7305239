//! Ollama native chat client (`POST /api/chat`, newline-delimited JSON streaming).
//!
//! Ollama streams one JSON object per line and sends each tool call whole, with its arguments
//! as a JSON object; the last line has `done: true`, the stop reason and the token counts.
//! `format: "json"` is its JSON mode. Failures before the first line (429, 5xx, connection
//! errors, first-byte timeout, e.g. while the model loads) are retried with [`RetryPolicy`](super::RetryPolicy).
//!
//! Many local models have no reliable tool calling, so `supports_tools` defaults to `false`
//! (the agent then asks for JSON in text); set it for models that do.

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use reqwest::header::{self, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::HttpOptions;
use super::http::{body_message, malformed, retry_after, sensitive_value};
use super::{
    ChatEvent, ChatMessage, ChatRequest, ChatStream, FinishReason, ImageContent, LlmClient,
    ModelInfo, Pricing, ResponseFormat, Role, ToolCall, ToolChoice, Usage, transport_error,
};
use crate::error::{Error, ErrorKind, Result};
use crate::text::truncate;

const PROVIDER: &str = "ollama";
const DEFAULT_PORT: u16 = 11434;

/// Configuration of an [`OllamaClient`].
///
/// Deserialises from a map with every field optional (durations in milliseconds), e.g.
/// `{"model": "qwen2.5:7b", "host": "http://gpu-box:11434", "supports_tools": true}`.
#[derive(Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OllamaConfig {
    /// Server address, e.g. `http://127.0.0.1:11434` (a bare `host[:port]` is accepted).
    pub host: String,
    /// Model name, e.g. `llama3.1:8b`.
    pub model: String,
    /// Bearer token, for a server behind an authenticating proxy or Ollama's hosted API.
    pub api_key: Option<SecretString>,
    /// Context window in tokens, also sent as `options.num_ctx` (Ollama's own default is
    /// smaller than most models support).
    pub context_window: u32,
    /// Whether the model supports native tool calling.
    pub supports_tools: bool,
    /// Whether the model accepts images (`llava`, `llama3.2-vision`, `qwen2.5vl`, …).
    pub supports_vision: bool,
    /// How long Ollama keeps the model loaded after the request (e.g. `"5m"`); server default
    /// when unset.
    pub keep_alive: Option<String>,
    /// Timeouts, retries and extra headers, flattened: `connect_timeout`,
    /// `first_byte_timeout`, `idle_timeout` (milliseconds), `retry` and `headers` are keys of
    /// this object.
    #[serde(flatten, deserialize_with = "ollama_http")]
    pub http: HttpOptions,
    /// Prices (default: none, a local model costs nothing per token).
    pub pricing: Option<Pricing>,
}

impl Default for OllamaConfig {
    fn default() -> Self {
        Self {
            host: format!("http://127.0.0.1:{DEFAULT_PORT}"),
            model: "llama3.1:8b".into(),
            api_key: None,
            context_window: 8192,
            supports_tools: false,
            supports_vision: false,
            keep_alive: None,
            http: ollama_http_defaults(),
            pricing: None,
        }
    }
}

impl std::fmt::Debug for OllamaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OllamaConfig")
            .field("host", &self.host)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("context_window", &self.context_window)
            .field("supports_tools", &self.supports_tools)
            .field("supports_vision", &self.supports_vision)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl OllamaConfig {
    /// Defaults for `model`.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            ..Self::default()
        }
    }

    /// Configuration from the environment:
    ///
    /// | variable | field | default |
    /// | --- | --- | --- |
    /// | `OLLAMA_HOST` | `host` | `http://127.0.0.1:11434` |
    /// | `OLLAMA_API_KEY` | `api_key` | none |
    /// | `MC_LLM_MODEL` | `model` | `llama3.1:8b` |
    /// | `MC_LLM_SUPPORTS_TOOLS` (`true`/`false`) | `supports_tools` | `false` |
    /// | `MC_LLM_CONTEXT_WINDOW` | `context_window` | `8192` |
    ///
    /// Empty variables count as unset. Everything else keeps its default.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(host) = var("OLLAMA_HOST") {
            config.host = host;
        }
        if let Some(key) = var("OLLAMA_API_KEY") {
            config.api_key = Some(SecretString::from(key));
        }
        if let Some(model) = var("MC_LLM_MODEL") {
            config.model = model;
        }
        if let Some(tools) = var("MC_LLM_SUPPORTS_TOOLS") {
            match tools.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => config.supports_tools = true,
                "0" | "false" | "no" => config.supports_tools = false,
                _ => {}
            }
        }
        if let Some(n) = var("MC_LLM_CONTEXT_WINDOW").and_then(|v| v.trim().parse().ok()) {
            config.context_window = n;
        }
        config
    }

    /// Sets the server address.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Sets the bearer token.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// Declares whether the model supports native tool calling.
    pub fn with_tools(mut self, supports_tools: bool) -> Self {
        self.supports_tools = supports_tools;
        self
    }

    /// Declares whether the model accepts images.
    pub fn with_vision(mut self, supports_vision: bool) -> Self {
        self.supports_vision = supports_vision;
        self
    }

    /// Sets the context window (sent as `options.num_ctx`).
    pub fn with_context_window(mut self, tokens: u32) -> Self {
        self.context_window = tokens;
        self
    }
}

super::http::impl_http_config!(OllamaConfig);

/// `http://host:port` from `OLLAMA_HOST`-style values: a missing scheme means `http`, a
/// missing port means 11434, and `0.0.0.0` (a listen address) means this machine.
fn endpoint(host: &str) -> Result<url::Url> {
    let host = host.trim().trim_end_matches('/');
    let with_scheme = if host.contains("://") {
        host.to_string()
    } else {
        format!("http://{host}")
    };
    let mut url = url::Url::parse(&with_scheme)
        .map_err(|e| Error::config(PROVIDER, format!("invalid host `{host}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(
            PROVIDER,
            format!("host must be http(s), got `{host}`"),
        ));
    }
    if url.host_str() == Some("0.0.0.0") {
        url.set_host(Some("127.0.0.1"))
            .map_err(|e| Error::config(PROVIDER, format!("invalid host `{host}`: {e}")))?;
    }
    let explicit_port = with_scheme
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .is_some_and(|authority| {
            authority
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        });
    if url.scheme() == "http" && !explicit_port {
        url.set_port(Some(DEFAULT_PORT))
            .map_err(|()| Error::config(PROVIDER, format!("invalid host `{host}`")))?;
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{path}/api/chat"));
    Ok(url)
}

/// An Ollama `/api/chat` client.
///
/// ```no_run
/// # async fn run() -> metricchat_core::Result<()> {
/// use metricchat_core::llm::{ChatMessage, ChatRequest, LlmClient, OllamaClient, OllamaConfig};
///
/// let client = OllamaClient::new(OllamaConfig::from_env())?;
/// let reply = client
///     .complete(ChatRequest::new(vec![ChatMessage::user("Say hi")]))
///     .await?;
/// println!("{}", reply.text);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OllamaClient {
    config: OllamaConfig,
    endpoint: url::Url,
    http: reqwest::Client,
    transport: super::transport::Transport,
}

impl OllamaClient {
    /// Builds a client; fails on a malformed host or API key.
    pub fn new(config: OllamaConfig) -> Result<Self> {
        let endpoint = endpoint(&config.host)?;
        auth_header(config.api_key.as_ref())?;
        let http = config.http.client(PROVIDER)?;
        Ok(Self {
            config,
            endpoint,
            http,
            transport: super::transport::Transport::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OllamaConfig {
        &self.config
    }

    /// The URL requests go to (`…/api/chat`).
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The request body sent for `request` (exposed for inspection and tests).
    pub fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        request_body(&self.config, request)
    }

    /// One attempt: send, check the status, and read up to the first line.
    async fn attempt(&self, body: &Value) -> Result<Opened> {
        let first_byte = self.config.http.first_byte_timeout;
        let fut = async {
            let mut req = self.http.post(self.endpoint.clone()).json(body);
            if let Some(auth) = auth_header(self.config.api_key.as_ref())? {
                req = req.header(header::AUTHORIZATION, auth);
            }
            let resp = self.transport.send(PROVIDER, &self.http, req).await?;
            if !resp.status().is_success() {
                return Err(http_error(resp).await);
            }
            let mut lines = Lines {
                source: Box::pin(resp.bytes_stream().map(|r| r.map(|b| b.to_vec()))),
                buf: Vec::new(),
                eof: false,
            };
            loop {
                match lines.next().await? {
                    None => return Err(cut("the stream ended before any line")),
                    Some(line) if line.trim().is_empty() => {}
                    Some(line) => {
                        if let Some(err) = error_line(&line) {
                            return Err(err);
                        }
                        return Ok(Opened { lines, first: line });
                    }
                }
            }
        };
        super::http::first_byte(PROVIDER, first_byte, fut).await
    }
}

impl super::cassette::Recordable for OllamaClient {
    fn with_cassette(mut self, cassette: &super::cassette::Cassette) -> Self {
        self.transport.send_via(cassette.clone());
        self
    }
}

#[async_trait]
impl LlmClient for OllamaClient {
    fn model_info(&self) -> ModelInfo {
        let c = &self.config;
        ModelInfo {
            provider: PROVIDER.into(),
            model: c.model.clone(),
            context_window: c.context_window,
            supports_tools: c.supports_tools,
            supports_json_mode: true,
            supports_vision: c.supports_vision,
            pricing: c.pricing,
        }
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        super::check_images(PROVIDER, &self.model_info(), &request, false)?;
        let body = request_body(&self.config, &request)?;
        tracing::debug!(
            provider = PROVIDER,
            model = %self.config.model,
            purpose = request.purpose.as_deref().unwrap_or(""),
            messages = request.messages.len(),
            tools = request.tools.len(),
            "chat request"
        );
        let Opened { lines, first } = self
            .config
            .http
            .retry
            .retry("ollama chat", |_| self.attempt(&body))
            .await?;
        Ok(line_stream(State {
            lines,
            first: Some(first),
            decoder: Decoder::default(),
            pending: VecDeque::new(),
            ended: false,
            idle_timeout: self.config.http.idle_timeout,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Request body

fn request_body(config: &OllamaConfig, request: &ChatRequest) -> Result<Value> {
    // Tool results name their tool (Ollama matches them by name, not by id).
    let names: BTreeMap<&str, &str> = request
        .messages
        .iter()
        .flat_map(|m| &m.tool_calls)
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    let messages = request
        .messages
        .iter()
        .map(|m| message_json(m, &names))
        .collect::<Result<Vec<_>>>()?;
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(true));
    // Ollama has no tool_choice: `None` is honoured by not offering tools.
    if !request.tools.is_empty() && request.tool_choice != ToolChoice::None {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    }
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if request.response_format == ResponseFormat::JsonObject {
        body.insert("format".into(), json!("json"));
    }
    let mut options = Map::new();
    options.insert("num_ctx".into(), json!(config.context_window));
    if let Some(t) = request.temperature {
        options.insert("temperature".into(), json!(t));
    }
    if let Some(m) = request.max_tokens {
        options.insert("num_predict".into(), json!(m));
    }
    body.insert("options".into(), Value::Object(options));
    if let Some(k) = &config.keep_alive {
        body.insert("keep_alive".into(), json!(k));
    }
    Ok(Value::Object(body))
}

fn message_json(m: &ChatMessage, names: &BTreeMap<&str, &str>) -> Result<Value> {
    Ok(match m.role {
        Role::System => json!({"role": "system", "content": m.content}),
        Role::User if m.images.is_empty() => json!({"role": "user", "content": m.content}),
        Role::User => {
            // Ollama takes base64 image data only (URLs are refused before this point).
            let images: Vec<&str> = m
                .images
                .iter()
                .filter_map(|i| match i {
                    ImageContent::Base64 { data, .. } => Some(data.as_str()),
                    ImageContent::Url { .. } => None,
                })
                .collect();
            json!({"role": "user", "content": m.content, "images": images})
        }
        Role::Assistant if m.tool_calls.is_empty() => {
            json!({"role": "assistant", "content": m.content})
        }
        Role::Assistant => {
            let calls: Vec<Value> = m
                .tool_calls
                .iter()
                .map(|c| {
                    // Arguments are an object on this API; malformed ones are sent as an empty
                    // object (the tool result explains the error).
                    let args = match serde_json::from_str::<Value>(&c.arguments) {
                        Ok(v @ Value::Object(_)) => v,
                        _ => json!({}),
                    };
                    json!({"function": {"name": c.name, "arguments": args}})
                })
                .collect();
            json!({"role": "assistant", "content": m.content, "tool_calls": calls})
        }
        Role::Tool => {
            let id = m.tool_call_id.as_deref().ok_or_else(|| {
                Error::invalid_input("a tool message needs the tool_call_id it answers")
            })?;
            let mut v = json!({"role": "tool", "content": m.content});
            if let Some(name) = names.get(id) {
                v["tool_name"] = json!(name);
            }
            v
        }
    })
}

fn auth_header(key: Option<&SecretString>) -> Result<Option<HeaderValue>> {
    key.map(|k| sensitive_value(PROVIDER, &format!("Bearer {}", k.expose_secret())))
        .transpose()
}

/// Ollama's connection defaults: loading a model into memory can take a while before the
/// first line, and a local model on a CPU can pause between lines.
fn ollama_http_defaults() -> HttpOptions {
    HttpOptions::with_timeouts(
        Duration::from_secs(10),
        Duration::from_secs(120),
        Duration::from_secs(60),
    )
}

fn ollama_http<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<HttpOptions, D::Error> {
    HttpOptions::deserialize_over(d, ollama_http_defaults())
}

// ---------------------------------------------------------------------------------------------
// Errors

fn cut(detail: &str) -> Error {
    super::http::stream_cut(PROVIDER, detail, None)
}

/// Ollama's `the input length exceeds the context length` (and the runner's
/// `input exceeds context length`).
fn is_context_error(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("exceeds the context length") || lower.contains("exceeds context length")
}

/// Maps an HTTP error response (`{"error": "..."}`) to a typed [`Error::Provider`].
async fn http_error(resp: reqwest::Response) -> Error {
    let status = resp.status().as_u16();
    let retry_after = retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            e.as_str()
                .or_else(|| e.get("message").and_then(Value::as_str))
                .map(str::to_string)
        })
        .unwrap_or_else(|| body_message(status, &body));
    let kind = match status {
        // Ollama answers 400 (older runners 500) when `truncate: false` and the prompt is
        // longer than `num_ctx`.
        _ if is_context_error(&message) => ErrorKind::ContextLengthExceeded,
        401 | 403 => ErrorKind::Unauthorized,
        429 => ErrorKind::RateLimited,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Timeout,
        400..=499 => ErrorKind::InvalidInput,
        _ => ErrorKind::Llm,
    };
    tracing::debug!(
        provider = PROVIDER,
        status,
        "provider returned an HTTP error"
    );
    Error::Provider {
        provider: PROVIDER.into(),
        status: Some(status),
        message,
        kind,
        retry_after: if status == 429 || status >= 500 {
            retry_after
        } else {
            None
        },
        source: None,
    }
}

/// An `{"error": "..."}` line inside a 200 stream, if `line` is one.
fn error_line(line: &str) -> Option<Error> {
    let v: Value = serde_json::from_str(line).ok()?;
    let e = v.get("error")?;
    let message = e
        .as_str()
        .or_else(|| e.get("message").and_then(Value::as_str))
        .map_or_else(|| truncate(line, 500), str::to_string);
    Some(Error::Provider {
        provider: PROVIDER.into(),
        status: None,
        kind: if is_context_error(&message) {
            ErrorKind::ContextLengthExceeded
        } else {
            ErrorKind::Llm
        },
        message,
        retry_after: None,
        source: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Responses

/// The response body as chunks.
type ByteStream =
    Pin<Box<dyn futures::Stream<Item = std::result::Result<Vec<u8>, reqwest::Error>> + Send>>;

/// Splits a byte stream into lines.
struct Lines {
    source: ByteStream,
    buf: Vec<u8>,
    eof: bool,
}

impl Lines {
    /// The next complete line; `None` at a clean end of the body. A last line without `\n` is
    /// returned too (some proxies drop the final newline).
    async fn next(&mut self) -> Result<Option<String>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Ok(Some(String::from_utf8_lossy(&line).trim().to_string()));
            }
            if self.eof {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let line = std::mem::take(&mut self.buf);
                return Ok(Some(String::from_utf8_lossy(&line).trim().to_string()));
            }
            match self.source.next().await {
                Some(Ok(chunk)) => self.buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    return Err(transport_error(
                        PROVIDER,
                        "the response stream was cut: connection closed before the response ended",
                        Some(e.into()),
                    ));
                }
                None => self.eof = true,
            }
        }
    }
}

struct Opened {
    lines: Lines,
    first: String,
}

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        _ => FinishReason::Other,
    }
}

/// Turns `/api/chat` lines into [`ChatEvent`]s.
#[derive(Debug, Default)]
struct Decoder {
    calls: Vec<ToolCall>,
}

enum Step {
    More,
    Done,
}

impl Decoder {
    fn line(&mut self, line: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        if let Some(err) = error_line(line) {
            return Err(err);
        }
        let v: Value =
            serde_json::from_str(line).map_err(|e| malformed(PROVIDER, "stream line", line, e))?;
        if let Some(text) = v.pointer("/message/content").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push_back(ChatEvent::TextDelta {
                text: text.to_string(),
            });
        }
        let calls = v.pointer("/message/tool_calls").and_then(Value::as_array);
        for c in calls.into_iter().flatten() {
            let index = self.calls.len();
            let id = c
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(|| format!("call_{index}"), str::to_string);
            let name = c
                .pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let arguments = match c.pointer("/function/arguments") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => "{}".into(),
                Some(other) => other.to_string(),
            };
            out.push_back(ChatEvent::ToolCallDelta {
                index,
                id: Some(id.clone()),
                name: Some(name.clone()),
                arguments: arguments.clone(),
            });
            self.calls.push(ToolCall {
                id,
                name,
                arguments,
            });
        }
        if !v.get("done").and_then(Value::as_bool).unwrap_or(false) {
            return Ok(Step::More);
        }
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        out.push_back(ChatEvent::Usage {
            usage: Usage {
                input_tokens: n("prompt_eval_count"),
                output_tokens: n("eval_count"),
                cached_input_tokens: 0,
            },
        });
        let had_calls = !self.calls.is_empty();
        for call in std::mem::take(&mut self.calls) {
            out.push_back(ChatEvent::ToolCall { call });
        }
        // Ollama reports `stop` after tool calls too.
        let reason = match v.get("done_reason").and_then(Value::as_str) {
            Some("length") => FinishReason::Length,
            _ if had_calls => FinishReason::ToolCalls,
            Some(other) => finish_reason(other),
            None => FinishReason::Stop,
        };
        out.push_back(ChatEvent::Finish { reason });
        Ok(Step::Done)
    }
}

struct State {
    lines: Lines,
    first: Option<String>,
    decoder: Decoder,
    pending: VecDeque<ChatEvent>,
    ended: bool,
    idle_timeout: Duration,
}

/// The caller-facing stream; it owns the response, so dropping it closes the connection.
fn line_stream(state: State) -> ChatStream {
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            if st.ended {
                return None;
            }
            let next = match st.first.take() {
                Some(line) => Ok(Some(line)),
                None => match tokio::time::timeout(st.idle_timeout, st.lines.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        st.ended = true;
                        let err = Error::Timeout {
                            operation: "ollama stream idle".into(),
                            after: st.idle_timeout,
                        };
                        return Some((Err(err), st));
                    }
                },
            };
            match next {
                Ok(None) => {
                    st.ended = true;
                    let err = cut("the connection closed before the `done` line");
                    return Some((Err(err), st));
                }
                Err(e) => {
                    st.ended = true;
                    return Some((Err(e), st));
                }
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => match st.decoder.line(&line, &mut st.pending) {
                    Ok(Step::More) => {}
                    Ok(Step::Done) => st.ended = true,
                    Err(e) => {
                        st.ended = true;
                        st.pending.clear();
                        return Some((Err(e), st));
                    }
                },
            }
        }
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn host_forms_are_normalised() {
        for (host, url) in [
            ("", "http://127.0.0.1:11434/api/chat"),
            ("0.0.0.0", "http://127.0.0.1:11434/api/chat"),
            ("gpu-box:8080", "http://gpu-box:8080/api/chat"),
            ("http://gpu-box", "http://gpu-box:11434/api/chat"),
            (
                "https://ollama.example.com/",
                "https://ollama.example.com/api/chat",
            ),
            ("http://127.0.0.1:11434", "http://127.0.0.1:11434/api/chat"),
        ] {
            let host = if host.is_empty() {
                OllamaConfig::default().host
            } else {
                host.to_string()
            };
            assert_eq!(endpoint(&host).unwrap().as_str(), url, "{host}");
        }
        assert!(endpoint("ftp://x").is_err());
    }

    #[test]
    fn config_from_env_vars() {
        let vars = BTreeMap::from([
            ("OLLAMA_HOST", "0.0.0.0:11500"),
            ("MC_LLM_MODEL", "qwen2.5:7b"),
            ("MC_LLM_SUPPORTS_TOOLS", "true"),
            ("MC_LLM_CONTEXT_WINDOW", "32768"),
        ]);
        let c = OllamaConfig::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        let client = OllamaClient::new(c).unwrap();
        assert_eq!(client.endpoint(), "http://127.0.0.1:11500/api/chat");
        let info = client.model_info();
        assert_eq!(info.model, "qwen2.5:7b");
        assert!(info.supports_tools && info.supports_json_mode);
        assert_eq!(info.context_window, 32768);
        let info = OllamaClient::new(OllamaConfig::default())
            .unwrap()
            .model_info();
        assert!(!info.supports_tools);
        assert_eq!(info.context_window, 8192);
    }
}
