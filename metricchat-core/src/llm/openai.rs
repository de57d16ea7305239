//! OpenAI Chat Completions client, also for any OpenAI-compatible server (Azure OpenAI's
//! `/openai/v1`, vLLM, llama.cpp's `llama-server`, LM Studio, Ollama's `/v1`) and for Azure
//! OpenAI deployments (`{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`
//! with an `api-key` header, see [`OpenAiConfig::azure`]).
//!
//! Requests are always streamed (`stream: true` with `stream_options.include_usage`); a server
//! that ignores that and answers one `application/json` completion is accepted too. Failures
//! before the first event (429, 5xx, connection errors, first-byte timeout) are retried with
//! [`RetryPolicy`](super::RetryPolicy); nothing is retried once an event has been handed to the caller.

use std::collections::{BTreeMap, VecDeque};

use super::http::is_json;
use async_trait::async_trait;
use eventsource_stream::{Event as SseEvent, EventStreamError, Eventsource};
use futures::StreamExt;
use reqwest::header::{self, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::HttpOptions;
use super::http::{
    SseDecode, SseSource, Step, body_message, malformed, retry_after, sensitive_value, sse_stream,
};
use super::{
    ChatEvent, ChatMessage, ChatRequest, ChatStream, FinishReason, LlmClient, ModelInfo, Pricing,
    ResponseFormat, Role, ToolCall, ToolChoice, Usage,
};
use crate::error::{Error, ErrorKind, Result};
use crate::text::truncate;

const PROVIDER: &str = "openai";
/// The `api-version` an Azure deployment is called with when none is configured (the latest
/// generally available data-plane inference version).
pub const AZURE_DEFAULT_API_VERSION: &str = "2024-10-21";

/// How an [`OpenAiClient`] sends its API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>` (OpenAI and most compatible servers).
    #[default]
    Bearer,
    /// `api-key: <key>` (Azure OpenAI deployments).
    ApiKey,
}

/// Configuration of an [`OpenAiClient`].
///
/// Deserialises from a map with every field optional (durations in milliseconds), e.g.
/// `{"model": "gpt-4.1", "api_key": "sk-…", "first_byte_timeout": 20000}`.
#[derive(Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OpenAiConfig {
    /// API key (`Authorization: Bearer`); optional for local servers.
    pub api_key: Option<SecretString>,
    /// Base URL up to and including `/v1`.
    pub base_url: String,
    /// Model id.
    pub model: String,
    /// Timeouts, retries and extra headers, flattened: `connect_timeout`,
    /// `first_byte_timeout`, `idle_timeout` (milliseconds), `retry` and `headers` are keys of
    /// this object.
    #[serde(flatten)]
    pub http: HttpOptions,
    /// Override of the model's context window.
    pub context_window: Option<u32>,
    /// Override of whether the model supports native tool calling.
    pub supports_tools: Option<bool>,
    /// Override of whether the server supports `response_format: {"type": "json_object"}`.
    pub supports_json_mode: Option<bool>,
    /// Override of whether the model accepts images (known vision models: yes; others: no).
    pub supports_vision: Option<bool>,
    /// Override of the model's prices (e.g. zero for a local server, or a negotiated rate).
    pub pricing: Option<Pricing>,
    /// Sent as the `api-version` query parameter (Azure OpenAI deployments).
    pub api_version: Option<String>,
    /// How the API key is sent.
    pub key_header: KeyHeader,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4.1-mini".into(),
            http: HttpOptions::default(),
            context_window: None,
            supports_tools: None,
            supports_json_mode: None,
            supports_vision: None,
            pricing: None,
            api_version: None,
            key_header: KeyHeader::Bearer,
        }
    }
}

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("http", &self.http)
            .field("api_version", &self.api_version)
            .field("key_header", &self.key_header)
            .finish_non_exhaustive()
    }
}

impl OpenAiConfig {
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
    /// | `OPENAI_API_KEY` | `api_key` | none |
    /// | `MC_LLM_BASE_URL`, else `OPENAI_BASE_URL` | `base_url` | `https://api.openai.com/v1` |
    /// | `MC_LLM_MODEL` | `model` | `gpt-4.1-mini` |
    /// | `MC_LLM_SUPPORTS_TOOLS` (`true`/`false`) | `supports_tools` | known models and api.openai.com: yes; other servers: no |
    ///
    /// Empty variables count as unset. Everything else keeps its default.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(key) = var("OPENAI_API_KEY") {
            config.api_key = Some(SecretString::from(key));
        }
        if let Some(url) = var("MC_LLM_BASE_URL").or_else(|| var("OPENAI_BASE_URL")) {
            config.base_url = url;
        }
        if let Some(model) = var("MC_LLM_MODEL") {
            config.model = model;
        }
        if let Some(tools) = var("MC_LLM_SUPPORTS_TOOLS") {
            config.supports_tools = match tools.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => Some(true),
                "0" | "false" | "no" => Some(false),
                _ => None,
            };
        }
        config
    }

    /// An Azure OpenAI deployment: requests go to
    /// `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={api_version}`
    /// with the key in an `api-key` header. `endpoint` is the resource URL
    /// (`https://{resource}.openai.azure.com`); the deployment name also serves as the model id
    /// (for the price table), and native tool calling is on.
    pub fn azure(
        endpoint: impl AsRef<str>,
        deployment: impl Into<String>,
        api_version: impl Into<String>,
    ) -> Self {
        let deployment = deployment.into();
        let endpoint = endpoint.as_ref().trim().trim_end_matches('/');
        Self {
            base_url: format!("{endpoint}/openai/deployments/{deployment}"),
            model: deployment,
            api_version: Some(api_version.into()),
            key_header: KeyHeader::ApiKey,
            supports_tools: Some(true),
            ..Self::default()
        }
    }

    /// An Azure OpenAI deployment configured from the environment:
    ///
    /// | variable | meaning | default |
    /// | --- | --- | --- |
    /// | `AZURE_OPENAI_ENDPOINT` | resource URL, `https://{resource}.openai.azure.com` | required |
    /// | `AZURE_OPENAI_API_KEY` | key, sent as `api-key` | none |
    /// | `AZURE_OPENAI_DEPLOYMENT`, else `MC_LLM_MODEL` | deployment name | required |
    /// | `OPENAI_API_VERSION` | `api-version` | [`AZURE_DEFAULT_API_VERSION`] |
    ///
    /// Empty variables count as unset; a missing endpoint or deployment is a config error.
    pub fn azure_from_env() -> Result<Self> {
        Self::azure_from_vars(|name| std::env::var(name).ok())
    }

    fn azure_from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let endpoint = var("AZURE_OPENAI_ENDPOINT")
            .ok_or_else(|| Error::config(PROVIDER, "AZURE_OPENAI_ENDPOINT is not set"))?;
        let deployment = var("AZURE_OPENAI_DEPLOYMENT")
            .or_else(|| var("MC_LLM_MODEL"))
            .ok_or_else(|| {
                Error::config(
                    PROVIDER,
                    "AZURE_OPENAI_DEPLOYMENT (or MC_LLM_MODEL) names no deployment",
                )
            })?;
        let version =
            var("OPENAI_API_VERSION").unwrap_or_else(|| AZURE_DEFAULT_API_VERSION.to_string());
        let mut config = Self::azure(endpoint, deployment.trim(), version.trim());
        if let Some(key) = var("AZURE_OPENAI_API_KEY") {
            config.api_key = Some(SecretString::from(key));
        }
        Ok(config)
    }

    /// Sets the `api-version` query parameter.
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// Sets the base URL.
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }
}

super::http::impl_http_config!(OpenAiConfig);

/// An OpenAI Chat Completions client.
///
/// ```no_run
/// # async fn run() -> metricchat_core::Result<()> {
/// use metricchat_core::llm::{ChatMessage, ChatRequest, LlmClient, OpenAiClient, OpenAiConfig};
///
/// let client = OpenAiClient::new(OpenAiConfig::from_env())?;
/// let reply = client
///     .complete(ChatRequest::new(vec![ChatMessage::user("Say hi")]))
///     .await?;
/// println!("{}", reply.text);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OpenAiClient {
    config: OpenAiConfig,
    endpoint: url::Url,
    http: reqwest::Client,
    transport: super::transport::Transport,
}

impl OpenAiClient {
    /// Builds a client; fails on a malformed base URL or API key.
    pub fn new(config: OpenAiConfig) -> Result<Self> {
        let base = config.base_url.trim_end_matches('/');
        let mut endpoint = url::Url::parse(&format!("{base}/chat/completions")).map_err(|e| {
            Error::config(
                PROVIDER,
                format!("invalid base_url `{}`: {e}", config.base_url),
            )
        })?;
        if let Some(version) = config.api_version.as_deref().filter(|v| !v.is_empty()) {
            endpoint
                .query_pairs_mut()
                .append_pair("api-version", version);
        }
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(Error::config(
                PROVIDER,
                format!("base_url must be http(s), got `{}`", config.base_url),
            ));
        }
        // Validate the key once so a bad key fails here, not on the first request.
        auth_header(config.api_key.as_ref(), config.key_header)?;
        let http = config.http.client(PROVIDER)?;
        Ok(Self {
            config,
            endpoint,
            http,
            transport: super::transport::Transport::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// The request body sent for `request` (exposed for inspection and tests).
    pub fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        request_body(&self.config.model, request)
    }

    /// One attempt: send, check the status, and read up to the first event.
    async fn attempt(&self, body: &Value) -> Result<Opened> {
        let first_byte = self.config.http.first_byte_timeout;
        let fut = async {
            let mut req = self.http.post(self.endpoint.clone()).json(body);
            if let Some(auth) = auth_header(self.config.api_key.as_ref(), self.config.key_header)? {
                req = match self.config.key_header {
                    KeyHeader::Bearer => req.header(header::AUTHORIZATION, auth),
                    KeyHeader::ApiKey => req.header("api-key", auth),
                };
            }
            let resp = self.transport.send(PROVIDER, &self.http, req).await?;
            let status = resp.status();
            if !status.is_success() {
                return Err(http_error(resp).await);
            }
            if is_json(resp.headers()) {
                let bytes = super::http::read_body(PROVIDER, resp).await?;
                return completion_events(&bytes).map(Opened::Json);
            }
            let mut source: SseSource = Box::pin(resp.bytes_stream().eventsource());
            loop {
                match source.next().await {
                    None => return Err(cut("the stream ended before any event", None)),
                    Some(Err(e)) => return Err(sse_error(e)),
                    Some(Ok(ev)) if ev.data.trim().is_empty() => {}
                    Some(Ok(ev)) => {
                        // An error as the first event is still retryable (nothing was yielded).
                        if let Some(err) = error_event(&ev.data) {
                            return Err(err);
                        }
                        return Ok(Opened::Sse { source, first: ev });
                    }
                }
            }
        };
        super::http::first_byte(PROVIDER, first_byte, fut).await
    }
}

impl super::cassette::Recordable for OpenAiClient {
    fn with_cassette(mut self, cassette: &super::cassette::Cassette) -> Self {
        self.transport.send_via(cassette.clone());
        self
    }
}

#[async_trait]
impl LlmClient for OpenAiClient {
    fn model_info(&self) -> ModelInfo {
        let known = known_model(&self.config.model);
        let c = &self.config;
        ModelInfo {
            provider: PROVIDER.into(),
            model: c.model.clone(),
            context_window: c
                .context_window
                .unwrap_or(known.map_or(UNKNOWN_CONTEXT_WINDOW, |k| k.context_window)),
            // Unknown models behind other servers (llama.cpp, vLLM, LM Studio) often lack tool
            // calling; JSON-in-text works with every model, so it is their default.
            supports_tools: c
                .supports_tools
                .unwrap_or(known.is_some() || c.base_url.contains("api.openai.com")),
            supports_json_mode: c.supports_json_mode.unwrap_or(true),
            supports_vision: c.supports_vision.unwrap_or(known.is_some_and(|k| k.vision)),
            pricing: c.pricing.or(known.and_then(|k| k.pricing)),
        }
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        super::check_images(PROVIDER, &self.model_info(), &request, true)?;
        let body = request_body(&self.config.model, &request)?;
        tracing::debug!(
            provider = PROVIDER,
            model = %self.config.model,
            purpose = request.purpose.as_deref().unwrap_or(""),
            messages = request.messages.len(),
            tools = request.tools.len(),
            "chat request"
        );
        let opened = self
            .config
            .http
            .retry
            .retry("openai chat", |_| self.attempt(&body))
            .await?;
        let stream: ChatStream = match opened {
            Opened::Json(events) => Box::pin(futures::stream::iter(events.into_iter().map(Ok))),
            Opened::Sse { source, first } => sse_stream(
                PROVIDER,
                source,
                Some(first),
                VecDeque::new(),
                SseDecoder::default(),
                self.config.http.idle_timeout,
            ),
        };
        Ok(super::content_filter_as_error(
            PROVIDER,
            "finish_reason content_filter",
            stream,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Request body

fn request_body(model: &str, request: &ChatRequest) -> Result<Value> {
    let messages = request
        .messages
        .iter()
        .map(message_json)
        .collect::<Result<Vec<_>>>()?;
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let obj = body
        .as_object_mut()
        .ok_or_else(|| Error::Internal("request body is not an object".into()))?;
    if !request.tools.is_empty() {
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
        obj.insert("tools".into(), Value::Array(tools));
        let choice = match &request.tool_choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
        };
        obj.insert("tool_choice".into(), choice);
    }
    if request.response_format == ResponseFormat::JsonObject {
        obj.insert("response_format".into(), json!({"type": "json_object"}));
    }
    if let Some(t) = request.temperature {
        obj.insert("temperature".into(), json!(t));
    }
    if let Some(m) = request.max_tokens {
        obj.insert("max_tokens".into(), json!(m));
    }
    Ok(body)
}

fn message_json(m: &ChatMessage) -> Result<Value> {
    Ok(match m.role {
        Role::System => json!({"role": "system", "content": m.content}),
        Role::User if m.images.is_empty() => json!({"role": "user", "content": m.content}),
        Role::User => {
            // Content parts: the text, then each image as an `image_url` part (a `data:` URL
            // for inline bytes).
            let mut parts: Vec<Value> = Vec::new();
            if !m.content.is_empty() {
                parts.push(json!({"type": "text", "text": m.content}));
            }
            parts.extend(
                m.images.iter().map(
                    |image| json!({"type": "image_url", "image_url": {"url": image.as_url()}}),
                ),
            );
            json!({"role": "user", "content": parts})
        }
        Role::Assistant if m.tool_calls.is_empty() => {
            json!({"role": "assistant", "content": m.content})
        }
        Role::Assistant => {
            let calls: Vec<Value> = m
                .tool_calls
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    })
                })
                .collect();
            let content = if m.content.is_empty() {
                Value::Null
            } else {
                json!(m.content)
            };
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
        Role::Tool => {
            let id = m.tool_call_id.as_deref().ok_or_else(|| {
                Error::invalid_input("a tool message needs the tool_call_id it answers")
            })?;
            json!({"role": "tool", "tool_call_id": id, "content": m.content})
        }
    })
}

fn auth_header(key: Option<&SecretString>, kind: KeyHeader) -> Result<Option<HeaderValue>> {
    let Some(key) = key else { return Ok(None) };
    let text = match kind {
        KeyHeader::Bearer => format!("Bearer {}", key.expose_secret()),
        KeyHeader::ApiKey => key.expose_secret().to_string(),
    };
    sensitive_value(PROVIDER, &text).map(Some)
}

// ---------------------------------------------------------------------------------------------
// Errors

fn cut(detail: &str, source: Option<crate::error::BoxError>) -> Error {
    super::http::stream_cut(PROVIDER, detail, source)
}

fn sse_error(e: EventStreamError<reqwest::Error>) -> Error {
    super::http::sse_error(PROVIDER, e)
}

/// Maps an HTTP error response to a typed [`Error::Provider`], keeping the provider's message.
async fn http_error(resp: reqwest::Response) -> Error {
    let status = resp.status().as_u16();
    let retry_after = retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let code = err.and_then(|e| e.get("code")).and_then(Value::as_str);
    let message = err
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| err.and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body_message(status, &body));
    let kind = match (status, code) {
        (_, Some("context_length_exceeded")) => ErrorKind::ContextLengthExceeded,
        // Azure OpenAI refuses a filtered prompt with 400 and code `content_filter`.
        (_, Some("content_filter")) => ErrorKind::ContentFiltered,
        (401 | 403, _) => ErrorKind::Unauthorized,
        (429, _) => ErrorKind::RateLimited,
        (404, _) => ErrorKind::NotFound,
        (408, _) => ErrorKind::Timeout,
        (400..=499, _) => ErrorKind::InvalidInput,
        _ => ErrorKind::Llm,
    };
    tracing::debug!(
        provider = PROVIDER,
        status,
        code,
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

/// An `{"error": {...}}` payload inside a 200 response (mid-stream or JSON body), if `data` is one.
fn error_event(data: &str) -> Option<Error> {
    let value: Value = serde_json::from_str(data).ok()?;
    let err = value.get("error")?;
    if err.is_null() {
        return None;
    }
    let field = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("");
    let message = err
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| field("message").to_string());
    let code = field("code");
    let kind = match (field("type"), code) {
        (_, "rate_limit_exceeded") | ("rate_limit_error", _) => ErrorKind::RateLimited,
        (_, "invalid_api_key") | ("authentication_error", _) => ErrorKind::Unauthorized,
        (_, "context_length_exceeded") => ErrorKind::ContextLengthExceeded,
        (_, "content_filter") => ErrorKind::ContentFiltered,
        ("invalid_request_error", _) => ErrorKind::InvalidInput,
        (_, "model_not_found") => ErrorKind::NotFound,
        _ => ErrorKind::Llm,
    };
    Some(Error::Provider {
        provider: PROVIDER.into(),
        status: None,
        message: if message.is_empty() {
            truncate(data, 500)
        } else {
            message
        },
        kind,
        retry_after: None,
        source: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Responses

enum Opened {
    Json(Vec<ChatEvent>),
    Sse { source: SseSource, first: SseEvent },
}

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" | "end_turn" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

fn usage(v: &Value) -> Option<Usage> {
    let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    if !v.is_object() {
        return None;
    }
    Some(Usage {
        input_tokens: n(v.get("prompt_tokens")),
        output_tokens: n(v.get("completion_tokens")),
        cached_input_tokens: n(v.pointer("/prompt_tokens_details/cached_tokens")),
    })
}

/// Converts a non-streamed `chat.completion` body to the events a stream would have produced.
fn completion_events(bytes: &[u8]) -> Result<Vec<ChatEvent>> {
    let text = String::from_utf8_lossy(bytes);
    if let Some(err) = error_event(&text) {
        return Err(err);
    }
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(PROVIDER, "completion", &text, e))?;
    let choice = v.pointer("/choices/0");
    let message = choice.and_then(|c| c.get("message"));
    let mut events = Vec::new();
    if let Some(content) = message
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        && !content.is_empty()
    {
        events.push(ChatEvent::TextDelta {
            text: content.to_string(),
        });
    }
    let calls = message
        .and_then(|m| m.get("tool_calls"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut complete = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        let call = ToolCall {
            id: c
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("call_{i}"), str::to_string),
            name: c
                .pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            arguments: arguments_text(c.pointer("/function/arguments")),
        };
        events.push(ChatEvent::ToolCallDelta {
            index: i,
            id: Some(call.id.clone()),
            name: Some(call.name.clone()),
            arguments: call.arguments.clone(),
        });
        complete.push(ChatEvent::ToolCall { call });
    }
    if let Some(u) = v.get("usage").and_then(usage) {
        events.push(ChatEvent::Usage { usage: u });
    }
    events.extend(complete);
    let reason = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str)
        .map(finish_reason)
        .unwrap_or(if calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        });
    events.push(ChatEvent::Finish { reason });
    Ok(events)
}

/// Arguments are a JSON string on the wire; some compatible servers send an object instead.
fn arguments_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Turns `chat.completion.chunk` payloads into [`ChatEvent`]s, assembling tool calls.
#[derive(Debug, Default)]
struct SseDecoder {
    calls: BTreeMap<usize, ToolCall>,
    finish: Option<FinishReason>,
}

impl SseDecode for SseDecoder {
    fn decode(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        self.data(data, out)
    }

    fn close(&mut self, out: &mut VecDeque<ChatEvent>) {
        self.finalize(out);
    }

    fn may_end_on_close(&self) -> bool {
        self.finish.is_some()
    }

    fn end_marker(&self) -> &'static str {
        "a finish_reason or [DONE]"
    }
}

impl SseDecoder {
    fn data(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(Step::Done);
        }
        if let Some(err) = error_event(data) {
            return Err(err);
        }
        let chunk: Value =
            serde_json::from_str(data).map_err(|e| malformed(PROVIDER, "stream chunk", data, e))?;
        // vLLM sends `choices: null` on the usage chunk.
        let choices = chunk.get("choices").and_then(Value::as_array);
        for choice in choices.into_iter().flatten() {
            if choice.get("index").and_then(Value::as_u64).unwrap_or(0) != 0 {
                continue;
            }
            if let Some(delta) = choice.get("delta") {
                self.delta(delta, out);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish = Some(finish_reason(reason));
            }
        }
        if let Some(u) = chunk.get("usage").and_then(usage) {
            out.push_back(ChatEvent::Usage { usage: u });
        }
        Ok(Step::More)
    }

    fn delta(&mut self, delta: &Value, out: &mut VecDeque<ChatEvent>) {
        if let Some(text) = delta.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push_back(ChatEvent::TextDelta {
                text: text.to_string(),
            });
        }
        let calls = delta.get("tool_calls").and_then(Value::as_array);
        for (pos, c) in calls.into_iter().flatten().enumerate() {
            let index = c
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| usize::try_from(i).ok())
                .unwrap_or(pos);
            let id = c
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let name = c
                .pointer("/function/name")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let arguments = arguments_text(c.pointer("/function/arguments"));
            let call = self.calls.entry(index).or_insert_with(|| ToolCall {
                id: String::new(),
                name: String::new(),
                arguments: String::new(),
            });
            if let Some(id) = id {
                call.id = id.to_string();
            }
            if let Some(name) = name {
                call.name.push_str(name);
            }
            call.arguments.push_str(&arguments);
            out.push_back(ChatEvent::ToolCallDelta {
                index,
                id: id.map(str::to_string),
                name: name.map(str::to_string),
                arguments,
            });
        }
    }

    /// Emits the assembled tool calls and the finish event.
    fn finalize(&mut self, out: &mut VecDeque<ChatEvent>) {
        let calls = std::mem::take(&mut self.calls);
        let had_calls = !calls.is_empty();
        for (index, mut call) in calls {
            if call.id.is_empty() {
                call.id = format!("call_{index}");
            }
            out.push_back(ChatEvent::ToolCall { call });
        }
        let reason = self.finish.unwrap_or(if had_calls {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        });
        out.push_back(ChatEvent::Finish { reason });
    }
}

// ---------------------------------------------------------------------------------------------
// Model table

/// Context window assumed for models not in the table (OpenAI-compatible servers vary).
const UNKNOWN_CONTEXT_WINDOW: u32 = 32_768;

#[derive(Debug, Clone, Copy)]
struct KnownModel {
    id: &'static str,
    context_window: u32,
    vision: bool,
    pricing: Option<Pricing>,
}

const fn price(input_per_mtok: f64, output_per_mtok: f64) -> Option<Pricing> {
    Some(Pricing {
        input_per_mtok,
        output_per_mtok,
    })
}

/// Public list prices in USD per million tokens (standard tier); `None` where unsure.
const KNOWN_MODELS: &[KnownModel] = &[
    KnownModel {
        id: "gpt-4.1",
        context_window: 1_047_576,
        vision: true,
        pricing: price(2.0, 8.0),
    },
    KnownModel {
        id: "gpt-4.1-mini",
        context_window: 1_047_576,
        vision: true,
        pricing: price(0.4, 1.6),
    },
    KnownModel {
        id: "gpt-4.1-nano",
        context_window: 1_047_576,
        vision: true,
        pricing: price(0.1, 0.4),
    },
    KnownModel {
        id: "gpt-4o",
        context_window: 128_000,
        vision: true,
        pricing: price(2.5, 10.0),
    },
    KnownModel {
        id: "gpt-4o-mini",
        context_window: 128_000,
        vision: true,
        pricing: price(0.15, 0.6),
    },
    KnownModel {
        id: "gpt-4-turbo",
        context_window: 128_000,
        vision: true,
        pricing: price(10.0, 30.0),
    },
    KnownModel {
        id: "gpt-3.5-turbo",
        context_window: 16_385,
        vision: false,
        pricing: price(0.5, 1.5),
    },
    KnownModel {
        id: "o1",
        context_window: 200_000,
        vision: true,
        pricing: price(15.0, 60.0),
    },
    KnownModel {
        id: "o3",
        context_window: 200_000,
        vision: true,
        pricing: None,
    },
    KnownModel {
        id: "o3-mini",
        context_window: 200_000,
        vision: false,
        pricing: price(1.1, 4.4),
    },
    KnownModel {
        id: "o4-mini",
        context_window: 200_000,
        vision: true,
        pricing: price(1.1, 4.4),
    },
    KnownModel {
        id: "gpt-5",
        context_window: 400_000,
        vision: true,
        pricing: price(1.25, 10.0),
    },
    KnownModel {
        id: "gpt-5-mini",
        context_window: 400_000,
        vision: true,
        pricing: price(0.25, 2.0),
    },
    KnownModel {
        id: "gpt-5-nano",
        context_window: 400_000,
        vision: true,
        pricing: price(0.05, 0.4),
    },
];

/// The table entry for `model`: exact id, or a dated snapshot of it (`gpt-4o-2024-08-06`),
/// optionally behind a router prefix (`openai/gpt-4o`).
fn known_model(model: &str) -> Option<&'static KnownModel> {
    let model = model.rsplit('/').next().unwrap_or(model);
    KNOWN_MODELS.iter().find(|k| {
        model == k.id
            || model
                .strip_prefix(k.id)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::llm::ToolSpec;
    use reqwest::header::HeaderMap;
    use std::time::Duration;

    #[test]
    fn debug_never_shows_the_key() {
        let config = OpenAiConfig::new("gpt-4o").with_api_key("sk-very-secret-123");
        let client = OpenAiClient::new(config.clone()).unwrap();
        for text in [format!("{config:?}"), format!("{client:?}")] {
            assert!(!text.contains("sk-very-secret-123"), "{text}");
            assert!(text.contains("redacted"), "{text}");
        }
    }

    #[test]
    fn config_from_env_vars_and_serde() {
        let vars = BTreeMap::from([
            ("OPENAI_API_KEY", "sk-x"),
            ("OPENAI_BASE_URL", "http://a/v1"),
            ("MC_LLM_BASE_URL", "http://b/v1"),
            ("MC_LLM_MODEL", ""),
        ]);
        let c = OpenAiConfig::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(c.base_url, "http://b/v1");
        assert_eq!(c.model, "gpt-4.1-mini");
        assert_eq!(
            c.api_key.as_ref().map(|k| k.expose_secret().to_string()),
            Some("sk-x".into())
        );

        let c: OpenAiConfig = serde_json::from_value(json!({
            "model": "qwen", "base_url": "http://127.0.0.1:8080/v1", "idle_timeout": 1500,
            "retry": {"max_retries": 1}, "context_window": 4096
        }))
        .unwrap();
        assert_eq!(c.http.idle_timeout, Duration::from_millis(1500));
        assert_eq!(c.http.retry.max_retries, 1);
        let info = OpenAiClient::new(c).unwrap().model_info();
        assert_eq!(info.context_window, 4096);
        assert!(info.pricing.is_none());
    }

    #[test]
    fn azure_config_from_env_vars() {
        let vars = BTreeMap::from([
            ("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com/"),
            ("AZURE_OPENAI_API_KEY", "az-key"),
            ("AZURE_OPENAI_DEPLOYMENT", "gpt-4o"),
            ("OPENAI_API_VERSION", ""),
        ]);
        let c = OpenAiConfig::azure_from_vars(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.key_header, KeyHeader::ApiKey);
        assert_eq!(c.api_version.as_deref(), Some(AZURE_DEFAULT_API_VERSION));
        let client = OpenAiClient::new(c).unwrap();
        assert_eq!(
            client.endpoint.as_str(),
            "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
        );
        let info = client.model_info();
        assert!(info.supports_tools);
        assert_eq!(info.pricing.map(|p| p.input_per_mtok), Some(2.5));
        assert!(!format!("{client:?}").contains("az-key"));
        let err = OpenAiConfig::azure_from_vars(|_| None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn bad_base_url_is_a_config_error() {
        let err = OpenAiClient::new(OpenAiConfig::new("m").with_base_url("not a url")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn model_table_matches_snapshots_not_prefixes() {
        assert_eq!(
            known_model("gpt-4o-2024-08-06").map(|k| k.id),
            Some("gpt-4o")
        );
        assert_eq!(
            known_model("gpt-4o-mini").map(|k| k.id),
            Some("gpt-4o-mini")
        );
        assert_eq!(
            known_model("openai/gpt-4.1-mini").map(|k| k.id),
            Some("gpt-4.1-mini")
        );
        assert!(known_model("gpt-4o-audio-preview").is_none());
        let info = OpenAiClient::new(OpenAiConfig::new("qwen2.5-coder:1.5b"))
            .unwrap()
            .model_info();
        assert_eq!(info.context_window, UNKNOWN_CONTEXT_WINDOW);
        assert!(info.supports_tools);
        let info = OpenAiClient::new(OpenAiConfig::new("gpt-4.1"))
            .unwrap()
            .model_info();
        assert_eq!(info.context_window, 1_047_576);
        assert_eq!(info.pricing.map(|p| p.output_per_mtok), Some(8.0));
    }

    #[test]
    fn body_omits_tools_and_purpose_when_absent() {
        let mut req = ChatRequest::new(vec![ChatMessage::user("hi")]).with_purpose("title");
        req.tool_choice = ToolChoice::Required;
        let body = request_body("m", &req).unwrap();
        assert!(body.get("tools").is_none());
        assert!(body.get("tool_choice").is_none());
        assert!(!body.to_string().contains("title"));
        req.tools.push(ToolSpec {
            name: "t".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
        });
        req.tool_choice = ToolChoice::Tool("t".into());
        let body = request_body("m", &req).unwrap();
        assert_eq!(
            body["tool_choice"],
            json!({"type": "function", "function": {"name": "t"}})
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        let date = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn decoder_assembles_interleaved_tool_calls() {
        let mut d = SseDecoder::default();
        let mut out = VecDeque::new();
        for data in [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","type":"function","function":{"name":"g","arguments":"{\"y\""}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":1}"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":":2}"}}]},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":null,"usage":{"prompt_tokens":5,"completion_tokens":7}}"#,
        ] {
            assert!(matches!(d.data(data, &mut out).unwrap(), Step::More));
        }
        assert!(matches!(d.data("[DONE]", &mut out).unwrap(), Step::Done));
        d.finalize(&mut out);
        let calls: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                ChatEvent::ToolCall { call } => Some((call.id.as_str(), call.arguments.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(calls, vec![("a", r#"{"x":1}"#), ("b", r#"{"y":2}"#)]);
        assert_eq!(
            out.back(),
            Some(&ChatEvent::Finish {
                reason: FinishReason::ToolCalls
            })
        );
    }
}
