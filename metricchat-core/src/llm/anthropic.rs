//! Anthropic Messages API client (`POST /v1/messages`, `anthropic-version: 2023-06-01`).
//!
//! Requests are always streamed. System messages go to the top-level `system` field,
//! consecutive messages of the same role are merged (the API requires alternating turns), and
//! tool results travel as `tool_result` blocks in a user message. Failures before the first
//! event (429, 529 `overloaded_error`, 5xx, connection errors, first-byte timeout) are retried
//! with [`RetryPolicy`](super::RetryPolicy); nothing is retried once an event has been handed to the caller.
//!
//! Anthropic has no JSON output mode, so [`ResponseFormat::JsonObject`] is honoured by an extra
//! system instruction and `model_info().supports_json_mode` is `false`.

use std::collections::{BTreeMap, VecDeque};

use super::http::is_json;
use async_trait::async_trait;
use eventsource_stream::{Event as SseEvent, EventStreamError, Eventsource};
use futures::StreamExt;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::HttpOptions;
use super::http::{
    SseDecode, SseSource, Step, body_message, malformed, retry_after, sensitive_value, sse_stream,
};
use super::{
    ChatEvent, ChatRequest, ChatStream, FinishReason, ImageContent, LlmClient, ModelInfo, Pricing,
    ResponseFormat, Role, ToolCall, ToolChoice, Usage,
};
use crate::error::{Error, ErrorKind, Result};
use crate::text::truncate;

const PROVIDER: &str = "anthropic";
const API_VERSION: &str = "2023-06-01";
const JSON_INSTRUCTION: &str =
    "Answer with one JSON object only: no prose before or after it, no code fences.";

/// Configuration of an [`AnthropicClient`].
///
/// Deserialises from a map with every field optional (durations in milliseconds), e.g.
/// `{"model": "claude-sonnet-4-5", "api_key": "sk-ant-…", "max_tokens": 4096}`.
#[derive(Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AnthropicConfig {
    /// API key (`x-api-key` header).
    pub api_key: Option<SecretString>,
    /// Base URL without `/v1` (the client appends `/v1/messages`).
    pub base_url: String,
    /// Model id.
    pub model: String,
    /// `max_tokens` sent when a request sets none (the API requires one).
    pub max_tokens: u32,
    /// Timeouts, retries and extra headers, flattened: `connect_timeout`,
    /// `first_byte_timeout`, `idle_timeout` (milliseconds), `retry` and `headers` are keys of
    /// this object.
    #[serde(flatten)]
    pub http: HttpOptions,
    /// Override of the model's context window.
    pub context_window: Option<u32>,
    /// Override of the model's prices.
    pub pricing: Option<Pricing>,
    /// Override of native tool calling (on for every current model); `false` makes the agent's
    /// automatic protocol ask for JSON in text instead.
    pub supports_tools: Option<bool>,
}

impl Default for AnthropicConfig {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: "https://api.anthropic.com".into(),
            model: "claude-sonnet-4-5".into(),
            max_tokens: 8192,
            http: HttpOptions::default(),
            context_window: None,
            pricing: None,
            supports_tools: None,
        }
    }
}

impl std::fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("max_tokens", &self.max_tokens)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl AnthropicConfig {
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
    /// | `ANTHROPIC_API_KEY` | `api_key` | none |
    /// | `ANTHROPIC_BASE_URL` | `base_url` | `https://api.anthropic.com` |
    /// | `MC_LLM_MODEL` | `model` | `claude-sonnet-4-5` |
    ///
    /// Empty variables count as unset. Everything else keeps its default.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(key) = var("ANTHROPIC_API_KEY") {
            config.api_key = Some(SecretString::from(key));
        }
        if let Some(url) = var("ANTHROPIC_BASE_URL") {
            config.base_url = url;
        }
        if let Some(model) = var("MC_LLM_MODEL") {
            config.model = model;
        }
        config
    }

    /// Sets the base URL (without `/v1`).
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

super::http::impl_http_config!(AnthropicConfig);

/// An Anthropic Messages API client.
///
/// ```no_run
/// # async fn run() -> metricchat_core::Result<()> {
/// use metricchat_core::llm::{AnthropicClient, AnthropicConfig, ChatMessage, ChatRequest, LlmClient};
///
/// let client = AnthropicClient::new(AnthropicConfig::from_env())?;
/// let reply = client
///     .complete(ChatRequest::new(vec![ChatMessage::user("Say hi")]))
///     .await?;
/// println!("{}", reply.text);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AnthropicClient {
    config: AnthropicConfig,
    endpoint: url::Url,
    http: reqwest::Client,
    transport: super::transport::Transport,
}

impl AnthropicClient {
    /// Builds a client; fails on a malformed base URL or API key.
    pub fn new(config: AnthropicConfig) -> Result<Self> {
        let base = config.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let endpoint = url::Url::parse(&format!("{base}/v1/messages")).map_err(|e| {
            Error::config(
                PROVIDER,
                format!("invalid base_url `{}`: {e}", config.base_url),
            )
        })?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(Error::config(
                PROVIDER,
                format!("base_url must be http(s), got `{}`", config.base_url),
            ));
        }
        key_header(config.api_key.as_ref())?;
        let http = config.http.client(PROVIDER)?;
        Ok(Self {
            config,
            endpoint,
            http,
            transport: super::transport::Transport::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AnthropicConfig {
        &self.config
    }

    /// The request body sent for `request` (exposed for inspection and tests).
    pub fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        request_body(&self.config.model, self.config.max_tokens, request)
    }

    /// One attempt: send, check the status, and read up to the first event.
    async fn attempt(&self, body: &Value) -> Result<Opened> {
        let first_byte = self.config.http.first_byte_timeout;
        let fut = async {
            let mut req = self
                .http
                .post(self.endpoint.clone())
                .header("anthropic-version", API_VERSION)
                .json(body);
            if let Some(key) = key_header(self.config.api_key.as_ref())? {
                req = req.header("x-api-key", key);
            }
            let resp = self.transport.send(PROVIDER, &self.http, req).await?;
            if !resp.status().is_success() {
                return Err(http_error(resp).await);
            }
            if is_json(resp.headers()) {
                let bytes = super::http::read_body(PROVIDER, resp).await?;
                return message_events(&bytes).map(Opened::Json);
            }
            let mut source: SseSource = Box::pin(resp.bytes_stream().eventsource());
            loop {
                match source.next().await {
                    None => return Err(cut("the stream ended before any event", None)),
                    Some(Err(e)) => return Err(sse_error(e)),
                    Some(Ok(ev)) if ev.data.trim().is_empty() || ev.event == "ping" => {}
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

impl super::cassette::Recordable for AnthropicClient {
    fn with_cassette(mut self, cassette: &super::cassette::Cassette) -> Self {
        self.transport.send_via(cassette.clone());
        self
    }
}

#[async_trait]
impl LlmClient for AnthropicClient {
    fn model_info(&self) -> ModelInfo {
        let c = &self.config;
        ModelInfo {
            provider: PROVIDER.into(),
            model: c.model.clone(),
            context_window: c.context_window.unwrap_or(200_000),
            supports_tools: c.supports_tools.unwrap_or(true),
            supports_json_mode: false,
            supports_vision: true,
            pricing: c.pricing.or_else(|| known_pricing(&c.model)),
        }
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        super::check_images(PROVIDER, &self.model_info(), &request, true)?;
        let body = request_body(&self.config.model, self.config.max_tokens, &request)?;
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
            .retry("anthropic chat", |_| self.attempt(&body))
            .await?;
        let stream: ChatStream = match opened {
            Opened::Json(events) => Box::pin(futures::stream::iter(events.into_iter().map(Ok))),
            Opened::Sse { source, first } => sse_stream(
                PROVIDER,
                source,
                Some(first),
                VecDeque::new(),
                Decoder::default(),
                self.config.http.idle_timeout,
            ),
        };
        Ok(super::content_filter_as_error(
            PROVIDER,
            "stop_reason refusal",
            stream,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Request body

fn request_body(model: &str, default_max_tokens: u32, request: &ChatRequest) -> Result<Value> {
    let mut system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System && !m.content.is_empty())
        .map(|m| m.content.as_str())
        .collect();
    if request.response_format == ResponseFormat::JsonObject {
        system.push(JSON_INSTRUCTION);
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert(
        "max_tokens".into(),
        json!(request.max_tokens.unwrap_or(default_max_tokens)),
    );
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    body.insert("messages".into(), Value::Array(messages_json(request)?));
    body.insert("stream".into(), json!(true));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "description": t.description,
                    "input_schema": t.parameters,
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        let choice = match &request.tool_choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
        };
        body.insert("tool_choice".into(), choice);
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    Ok(Value::Object(body))
}

/// The non-system messages as Anthropic turns: tool results become `tool_result` blocks in a
/// user turn, and consecutive turns of the same role are merged into one.
fn messages_json(request: &ChatRequest) -> Result<Vec<Value>> {
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in &request.messages {
        let (role, blocks) = match m.role {
            Role::System => continue,
            Role::User => {
                // Images first, then the text, as Anthropic's vision guide recommends.
                let mut blocks: Vec<Value> = m.images.iter().map(image_block).collect();
                blocks.extend(text_block(&m.content));
                ("user", blocks)
            }
            Role::Assistant => {
                let mut blocks: Vec<Value> = text_block(&m.content).into_iter().collect();
                blocks.extend(m.tool_calls.iter().map(|c| {
                    json!({
                        "type": "tool_use",
                        "id": c.id,
                        "name": c.name,
                        "input": tool_input(&c.arguments),
                    })
                }));
                ("assistant", blocks)
            }
            Role::Tool => {
                let id = m.tool_call_id.as_deref().ok_or_else(|| {
                    Error::invalid_input("a tool message needs the tool_call_id it answers")
                })?;
                (
                    "user",
                    vec![json!({"type": "tool_result", "tool_use_id": id, "content": m.content})],
                )
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    Ok(turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect())
}

/// A text block, or none for empty text (the API rejects empty text blocks).
/// An `image` block: `source` of type `base64` (with `media_type`) or `url`.
fn image_block(image: &ImageContent) -> Value {
    match image {
        ImageContent::Url { url, .. } => {
            json!({"type": "image", "source": {"type": "url", "url": url}})
        }
        ImageContent::Base64 { media_type, data } => json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }),
    }
}

fn text_block(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({"type": "text", "text": text}))
}

/// `tool_use.input` must be an object; arguments that are not a JSON object (a model's
/// malformed output being sent back with its error) become an empty object.
fn tool_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

fn key_header(key: Option<&SecretString>) -> Result<Option<HeaderValue>> {
    key.map(|k| sensitive_value(PROVIDER, k.expose_secret()))
        .transpose()
}

// ---------------------------------------------------------------------------------------------
// Errors

fn cut(detail: &str, source: Option<crate::error::BoxError>) -> Error {
    super::http::stream_cut(PROVIDER, detail, source)
}

fn sse_error(e: EventStreamError<reqwest::Error>) -> Error {
    super::http::sse_error(PROVIDER, e)
}

/// The [`ErrorKind`] of an Anthropic error `type`.
fn error_kind(kind: &str) -> Option<ErrorKind> {
    Some(match kind {
        "invalid_request_error" | "request_too_large" => ErrorKind::InvalidInput,
        "authentication_error" | "permission_error" => ErrorKind::Unauthorized,
        "not_found_error" => ErrorKind::NotFound,
        "rate_limit_error" | "overloaded_error" => ErrorKind::RateLimited,
        "api_error" => ErrorKind::Llm,
        _ => return None,
    })
}

/// Anthropic's `invalid_request_error` for a prompt over the context window:
/// `prompt is too long: 208656 tokens > 200000 maximum`.
fn is_prompt_too_long(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("prompt is too long") || lower.contains("context window")
}

/// Maps an HTTP error response to a typed [`Error::Provider`], keeping the provider's message.
async fn http_error(resp: reqwest::Response) -> Error {
    let status = resp.status().as_u16();
    let retry_after = retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let kind_name = err.and_then(|e| e.get("type")).and_then(Value::as_str);
    let message = err
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| body_message(status, &body));
    let kind = match status {
        400 | 413 if is_prompt_too_long(&message) => ErrorKind::ContextLengthExceeded,
        401 | 403 => ErrorKind::Unauthorized,
        // 529: Anthropic is overloaded; like a rate limit, waiting helps.
        429 | 529 => ErrorKind::RateLimited,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Timeout,
        400..=499 => ErrorKind::InvalidInput,
        _ => kind_name
            .and_then(error_kind)
            .filter(|k| *k == ErrorKind::RateLimited)
            .unwrap_or(ErrorKind::Llm),
    };
    tracing::debug!(
        provider = PROVIDER,
        status,
        error_type = kind_name,
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

/// An `{"type": "error", "error": {...}}` event, if `data` is one.
fn error_event(data: &str) -> Option<Error> {
    let value: Value = serde_json::from_str(data).ok()?;
    if value.get("type").and_then(Value::as_str) != Some("error") {
        return None;
    }
    let err = value.get("error");
    let field = |k: &str| {
        err.and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let message = field("message");
    Some(Error::Provider {
        provider: PROVIDER.into(),
        status: None,
        message: if message.is_empty() {
            truncate(data, 500)
        } else {
            message.to_string()
        },
        kind: if is_prompt_too_long(message) {
            ErrorKind::ContextLengthExceeded
        } else {
            error_kind(field("type")).unwrap_or(ErrorKind::Llm)
        },
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
        "end_turn" | "stop_sequence" | "pause_turn" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// Reads the usage fields present in `v` into `usage`. Anthropic's `input_tokens` excludes
/// cache reads and writes; [`Usage::input_tokens`] counts the whole prompt.
fn read_usage(v: &Value, usage: &mut Usage) {
    let n = |k: &str| v.get(k).and_then(Value::as_u64);
    let (input, read, write) = (
        n("input_tokens"),
        n("cache_read_input_tokens"),
        n("cache_creation_input_tokens"),
    );
    if input.is_some() || read.is_some() || write.is_some() {
        usage.input_tokens = input.unwrap_or(0) + read.unwrap_or(0) + write.unwrap_or(0);
        usage.cached_input_tokens = read.unwrap_or(0);
    }
    if let Some(out) = n("output_tokens") {
        usage.output_tokens = out;
    }
}

/// Converts a non-streamed `message` body to the events a stream would have produced.
fn message_events(bytes: &[u8]) -> Result<Vec<ChatEvent>> {
    let text = String::from_utf8_lossy(bytes);
    if let Some(err) = error_event(&text) {
        return Err(err);
    }
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(PROVIDER, "message", &text, e))?;
    let mut events = Vec::new();
    let mut calls = Vec::new();
    for block in v
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                if let Some(t) = block.get("text").and_then(Value::as_str)
                    && !t.is_empty()
                {
                    events.push(ChatEvent::TextDelta {
                        text: t.to_string(),
                    });
                }
            }
            Some("tool_use") => {
                let index = calls.len();
                let call = ToolCall {
                    id: block
                        .get("id")
                        .and_then(Value::as_str)
                        .map_or_else(|| format!("toolu_{index}"), str::to_string),
                    name: block
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    arguments: block
                        .get("input")
                        .map_or_else(|| "{}".into(), Value::to_string),
                };
                events.push(ChatEvent::ToolCallDelta {
                    index,
                    id: Some(call.id.clone()),
                    name: Some(call.name.clone()),
                    arguments: call.arguments.clone(),
                });
                calls.push(call);
            }
            _ => {}
        }
    }
    let mut usage = Usage::default();
    if let Some(u) = v.get("usage") {
        read_usage(u, &mut usage);
        events.push(ChatEvent::Usage { usage });
    }
    let reason = v
        .get("stop_reason")
        .and_then(Value::as_str)
        .map(finish_reason)
        .unwrap_or(if calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        });
    events.extend(calls.into_iter().map(|call| ChatEvent::ToolCall { call }));
    events.push(ChatEvent::Finish { reason });
    Ok(events)
}

/// Turns Messages stream events into [`ChatEvent`]s, assembling tool calls from
/// `input_json_delta` fragments.
#[derive(Debug, Default)]
struct Decoder {
    /// Content block index -> position of the tool call in this turn.
    blocks: BTreeMap<usize, usize>,
    calls: BTreeMap<usize, ToolCall>,
    usage: Usage,
    finish: Option<FinishReason>,
}

impl SseDecode for Decoder {
    fn decode(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        self.data(data, out)
    }

    fn close(&mut self, out: &mut VecDeque<ChatEvent>) {
        self.finalize(out);
    }

    fn may_end_on_close(&self) -> bool {
        false
    }

    fn end_marker(&self) -> &'static str {
        "message_stop"
    }
}

impl Decoder {
    fn data(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        let data = data.trim();
        if let Some(err) = error_event(data) {
            return Err(err);
        }
        let ev: Value =
            serde_json::from_str(data).map_err(|e| malformed(PROVIDER, "stream event", data, e))?;
        let index = ev
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0);
        match ev.get("type").and_then(Value::as_str).unwrap_or("") {
            "message_start" => {
                if let Some(u) = ev.pointer("/message/usage") {
                    read_usage(u, &mut self.usage);
                }
            }
            "content_block_start" => {
                let block = ev.get("content_block");
                match block.and_then(|b| b.get("type")).and_then(Value::as_str) {
                    Some("tool_use") => {
                        let position = self.calls.len();
                        self.blocks.insert(index, position);
                        let field = |k: &str| {
                            block
                                .and_then(|b| b.get(k))
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string()
                        };
                        let call = ToolCall {
                            id: field("id"),
                            name: field("name"),
                            arguments: String::new(),
                        };
                        out.push_back(ChatEvent::ToolCallDelta {
                            index: position,
                            id: Some(call.id.clone()).filter(|s| !s.is_empty()),
                            name: Some(call.name.clone()).filter(|s| !s.is_empty()),
                            arguments: String::new(),
                        });
                        self.calls.insert(position, call);
                    }
                    Some("text") => {
                        if let Some(t) = block
                            .and_then(|b| b.get("text"))
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            out.push_back(ChatEvent::TextDelta {
                                text: t.to_string(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = ev.get("delta");
                match delta.and_then(|d| d.get("type")).and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(t) = delta
                            .and_then(|d| d.get("text"))
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            out.push_back(ChatEvent::TextDelta {
                                text: t.to_string(),
                            });
                        }
                    }
                    Some("input_json_delta") => {
                        let part = delta
                            .and_then(|d| d.get("partial_json"))
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        if let Some(&position) = self.blocks.get(&index)
                            && let Some(call) = self.calls.get_mut(&position)
                            && !part.is_empty()
                        {
                            call.arguments.push_str(part);
                            out.push_back(ChatEvent::ToolCallDelta {
                                index: position,
                                id: None,
                                name: None,
                                arguments: part.to_string(),
                            });
                        }
                    }
                    // Thinking and signature deltas are not part of the answer.
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = ev.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.finish = Some(finish_reason(reason));
                }
                if let Some(u) = ev.get("usage") {
                    read_usage(u, &mut self.usage);
                }
            }
            "message_stop" => return Ok(Step::Done),
            // ping, content_block_stop and future event types.
            _ => {}
        }
        Ok(Step::More)
    }

    /// Emits usage, the assembled tool calls and the finish event.
    fn finalize(&mut self, out: &mut VecDeque<ChatEvent>) {
        out.push_back(ChatEvent::Usage { usage: self.usage });
        let calls = std::mem::take(&mut self.calls);
        let had_calls = !calls.is_empty();
        for (index, mut call) in calls {
            if call.id.is_empty() {
                call.id = format!("toolu_{index}");
            }
            // A tool without parameters streams no input at all.
            if call.arguments.trim().is_empty() {
                call.arguments = "{}".into();
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
// Prices

/// Public list prices in USD per million tokens (base input, output) by model family; `None`
/// for models not listed. Matches exact ids, dated snapshots and `-latest` aliases.
fn known_pricing(model: &str) -> Option<Pricing> {
    const TABLE: &[(&str, f64, f64)] = &[
        ("claude-sonnet-4-5", 3.0, 15.0),
        ("claude-sonnet-4", 3.0, 15.0),
        ("claude-3-7-sonnet", 3.0, 15.0),
        ("claude-3-5-sonnet", 3.0, 15.0),
        ("claude-haiku-4-5", 1.0, 5.0),
        ("claude-3-5-haiku", 0.8, 4.0),
        ("claude-3-haiku", 0.25, 1.25),
        ("claude-opus-4-1", 15.0, 75.0),
        ("claude-opus-4", 15.0, 75.0),
    ];
    let model = model.rsplit('/').next().unwrap_or(model);
    TABLE
        .iter()
        .find(|(id, _, _)| {
            model == *id
                || model
                    .strip_prefix(id)
                    .and_then(|r| r.strip_prefix('-'))
                    .is_some_and(|r| {
                        r == "latest" || (r.len() == 8 && r.chars().all(|c| c.is_ascii_digit()))
                    })
        })
        .map(|&(_, input_per_mtok, output_per_mtok)| Pricing {
            input_per_mtok,
            output_per_mtok,
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn config_from_env_vars() {
        let vars = BTreeMap::from([
            ("ANTHROPIC_API_KEY", "sk-ant-x"),
            ("ANTHROPIC_BASE_URL", "http://a"),
            ("MC_LLM_MODEL", ""),
        ]);
        let c = AnthropicConfig::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(c.base_url, "http://a");
        assert_eq!(c.model, "claude-sonnet-4-5");
        assert_eq!(
            c.api_key.as_ref().map(|k| k.expose_secret().to_string()),
            Some("sk-ant-x".into())
        );
        let client = AnthropicClient::new(c).unwrap();
        assert_eq!(client.endpoint.as_str(), "http://a/v1/messages");
    }

    #[test]
    fn prices_match_snapshots_not_other_models() {
        assert_eq!(
            known_pricing("claude-sonnet-4-5-20250929").map(|p| p.output_per_mtok),
            Some(15.0)
        );
        assert_eq!(
            known_pricing("claude-3-5-haiku-latest").map(|p| p.input_per_mtok),
            Some(0.8)
        );
        assert!(known_pricing("claude-opus-4-5").is_none());
        assert!(known_pricing("claude-sonnet-4-7").is_none());
    }

    #[test]
    fn empty_tool_input_becomes_an_object() {
        let mut d = Decoder::default();
        let mut out = VecDeque::new();
        for data in [
            r#"{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"list_tables","input":{}}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":7}}"#,
        ] {
            assert!(matches!(d.data(data, &mut out).unwrap(), Step::More));
        }
        assert!(matches!(
            d.data(r#"{"type":"message_stop"}"#, &mut out).unwrap(),
            Step::Done
        ));
        d.finalize(&mut out);
        assert!(out.contains(&ChatEvent::Usage {
            usage: Usage {
                input_tokens: 15,
                output_tokens: 7,
                cached_input_tokens: 5
            }
        }));
        assert!(out.iter().any(
            |e| matches!(e, ChatEvent::ToolCall { call } if call.arguments == "{}" && call.id == "toolu_1")
        ));
    }
}
