//! Google Gemini API client (`POST /v1beta/models/{model}:streamGenerateContent?alt=sse`, or
//! `:generateContent` when streaming is off; the key travels in the `x-goog-api-key` header).
//!
//! System messages become `systemInstruction`; the conversation becomes `contents` with roles
//! `user` and `model`; assistant tool calls become `functionCall` parts and tool results
//! `functionResponse` parts in a `user` turn (consecutive turns of one role are merged). Tools go
//! out as `tools[{functionDeclarations}]` with their JSON Schema reduced to the OpenAPI subset
//! Gemini accepts (see [`gemini_schema`]). The model's `thoughtSignature`s on function calls are
//! remembered by the client and sent back with the same calls, as Gemini 3 requires.
//!
//! A streamed response is a series of whole `GenerateContentResponse` objects with no end marker:
//! a `functionCall` arrives complete in one chunk, so each becomes one [`ChatEvent::ToolCallDelta`]
//! and, at the end, one [`ChatEvent::ToolCall`]. A stream that closes before any chunk carried a
//! `finishReason` was cut. Failures before the first chunk (429 `RESOURCE_EXHAUSTED`, 5xx,
//! connection errors, first-byte timeout) are retried with [`RetryPolicy`](super::RetryPolicy), honouring
//! `Retry-After` or the body's `RetryInfo.retryDelay`; nothing is retried once an event has been
//! handed to the caller.
//!
//! A candidate stopped by a safety filter (`SAFETY`, `RECITATION`, `BLOCKLIST`,
//! `PROHIBITED_CONTENT`, `SPII`, …) and a prompt refused outright (`promptFeedback.blockReason`)
//! both fail with an [`ErrorKind::ContentFiltered`] provider error (the latter naming the block
//! reason); a prompt over the context window fails with [`ErrorKind::ContextLengthExceeded`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use eventsource_stream::{EventStreamError, Eventsource};
use futures::StreamExt;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::HttpOptions;
use super::http::is_json;
use super::http::{
    SseDecode, SseSource, Step, body_message, malformed, retry_after, sensitive_value, sse_stream,
};
use super::{
    ChatEvent, ChatRequest, ChatStream, FinishReason, ImageContent, LlmClient, ModelInfo, Pricing,
    ResponseFormat, Role, ToolCall, ToolChoice, Usage,
};
use crate::error::{Error, ErrorKind, Result};
use crate::text::truncate;

const PROVIDER: &str = "gemini";
const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
const DEFAULT_CONTEXT_WINDOW: u32 = 1_048_576;
/// Prefix of call ids made up by this client for calls Gemini sent without an `id`; such ids are
/// never sent back to Gemini.
const LOCAL_ID_PREFIX: &str = "gemini_call_";
/// Remembered thought signatures, at most (the oldest are forgotten all at once beyond this).
const MAX_SIGNATURES: usize = 4096;
const JSON_INSTRUCTION: &str =
    "Answer with one JSON object only: no prose before or after it, no code fences.";

/// Configuration of a [`GeminiClient`].
///
/// Deserialises from a map with every field optional (durations in milliseconds), e.g.
/// `{"model": "gemini-2.5-flash", "api_key": "AIza…", "idle_timeout": 20000}`.
#[derive(Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct GeminiConfig {
    /// API key (`x-goog-api-key` header).
    pub api_key: Option<SecretString>,
    /// Base URL without `/v1beta` (the client appends `/v1beta/models/{model}:…`).
    pub base_url: String,
    /// Model id (`gemini-2.5-flash`; a leading `models/` is accepted).
    pub model: String,
    /// Stream with `:streamGenerateContent?alt=sse` (default), else one `:generateContent` call.
    pub stream: bool,
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

impl Default for GeminiConfig {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: DEFAULT_BASE_URL.into(),
            model: "gemini-2.5-flash".into(),
            stream: true,
            http: HttpOptions::default(),
            context_window: None,
            pricing: None,
            supports_tools: None,
        }
    }
}

impl std::fmt::Debug for GeminiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("stream", &self.stream)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl GeminiConfig {
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
    /// | `GEMINI_API_KEY`, else `GOOGLE_API_KEY` | `api_key` | none |
    /// | `GEMINI_BASE_URL` | `base_url` | `https://generativelanguage.googleapis.com` |
    /// | `MC_LLM_MODEL` | `model` | `gemini-2.5-flash` |
    ///
    /// Empty variables count as unset. Everything else keeps its default.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(key) = var("GEMINI_API_KEY").or_else(|| var("GOOGLE_API_KEY")) {
            config.api_key = Some(SecretString::from(key));
        }
        if let Some(url) = var("GEMINI_BASE_URL") {
            config.base_url = url;
        }
        if let Some(model) = var("MC_LLM_MODEL") {
            config.model = model;
        }
        config
    }

    /// Sets the base URL (without `/v1beta`).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// Streams (`:streamGenerateContent?alt=sse`) or not (`:generateContent`).
    pub fn with_stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }
}

super::http::impl_http_config!(GeminiConfig);

/// Thought signatures Gemini attached to function calls, by call id, to send back with them.
#[derive(Default)]
struct Signatures(Mutex<HashMap<String, String>>);

impl Signatures {
    fn remember(&self, call_id: &str, signature: &str) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_SIGNATURES {
            map.clear();
        }
        map.insert(call_id.to_string(), signature.to_string());
    }

    fn get(&self, call_id: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(call_id)
            .cloned()
    }
}

/// A Google Gemini API client.
///
/// ```no_run
/// # async fn run() -> metricchat_core::Result<()> {
/// use metricchat_core::llm::{ChatMessage, ChatRequest, GeminiClient, GeminiConfig, LlmClient};
///
/// let client = GeminiClient::new(GeminiConfig::from_env())?;
/// let reply = client
///     .complete(ChatRequest::new(vec![ChatMessage::user("Say hi")]))
///     .await?;
/// println!("{}", reply.text);
/// # Ok(()) }
/// ```
pub struct GeminiClient {
    config: GeminiConfig,
    endpoint: url::Url,
    http: reqwest::Client,
    transport: super::transport::Transport,
    signatures: Arc<Signatures>,
}

impl std::fmt::Debug for GeminiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiClient")
            .field("config", &self.config)
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl GeminiClient {
    /// Builds a client; fails on a malformed base URL, model id or API key.
    pub fn new(config: GeminiConfig) -> Result<Self> {
        let base = config.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1beta").unwrap_or(base);
        let model = config.model.trim();
        let model = model.strip_prefix("models/").unwrap_or(model);
        if model.is_empty()
            || model.contains(|c: char| matches!(c, '/' | '?' | '#' | ':') || c.is_whitespace())
        {
            return Err(Error::config(
                PROVIDER,
                format!("invalid model id `{}`", config.model),
            ));
        }
        let action = if config.stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        let endpoint =
            url::Url::parse(&format!("{base}/v1beta/models/{model}:{action}")).map_err(|e| {
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
            signatures: Arc::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GeminiConfig {
        &self.config
    }

    /// The URL requests are sent to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The request body sent for `request` (exposed for inspection and tests).
    pub fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        request_body(request, &self.signatures)
    }

    /// One attempt: send, check the status, and read up to the first chunk (the whole body when
    /// the answer is JSON).
    async fn attempt(&self, body: &Value) -> Result<Opened> {
        let first_byte = self.config.http.first_byte_timeout;
        let fut = async {
            let mut req = self.http.post(self.endpoint.clone()).json(body);
            if let Some(key) = key_header(self.config.api_key.as_ref())? {
                req = req.header("x-goog-api-key", key);
            }
            let resp = self.transport.send(PROVIDER, &self.http, req).await?;
            if !resp.status().is_success() {
                return Err(http_error(resp).await);
            }
            let mut decoder = Decoder::new(self.signatures.clone());
            let mut pending = VecDeque::new();
            if is_json(resp.headers()) || !self.config.stream {
                let bytes = super::http::read_body(PROVIDER, resp).await?;
                json_events(&bytes, &mut decoder, &mut pending)?;
                return Ok(Opened::Json(pending.into()));
            }
            let mut source: SseSource = Box::pin(resp.bytes_stream().eventsource());
            loop {
                match source.next().await {
                    None => return Err(cut("the stream ended before any chunk", None)),
                    Some(Err(e)) => return Err(sse_error(e)),
                    Some(Ok(ev)) if ev.data.trim().is_empty() => {}
                    Some(Ok(ev)) => {
                        // An error or a blocked prompt in the first chunk is still retryable
                        // where its kind is (nothing was yielded yet).
                        decoder.data(&ev.data, &mut pending)?;
                        return Ok(Opened::Sse {
                            source,
                            decoder,
                            pending,
                        });
                    }
                }
            }
        };
        super::http::first_byte(PROVIDER, first_byte, fut).await
    }
}

impl super::cassette::Recordable for GeminiClient {
    fn with_cassette(mut self, cassette: &super::cassette::Cassette) -> Self {
        self.transport.send_via(cassette.clone());
        self
    }
}

#[async_trait]
impl LlmClient for GeminiClient {
    fn model_info(&self) -> ModelInfo {
        let c = &self.config;
        let known = known_model(&c.model);
        ModelInfo {
            provider: PROVIDER.into(),
            model: c.model.clone(),
            context_window: c
                .context_window
                .unwrap_or(known.map_or(DEFAULT_CONTEXT_WINDOW, |k| k.context_window)),
            supports_tools: c.supports_tools.unwrap_or(true),
            supports_json_mode: true,
            supports_vision: true,
            pricing: c.pricing.or(known.map(|k| k.pricing)),
        }
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        super::check_images(PROVIDER, &self.model_info(), &request, true)?;
        let body = request_body(&request, &self.signatures)?;
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
            .retry("gemini chat", |_| self.attempt(&body))
            .await?;
        let stream: ChatStream = match opened {
            Opened::Json(events) => Box::pin(futures::stream::iter(events.into_iter().map(Ok))),
            Opened::Sse {
                source,
                decoder,
                pending,
            } => sse_stream(
                PROVIDER,
                source,
                None,
                pending,
                decoder,
                self.config.http.idle_timeout,
            ),
        };
        Ok(super::content_filter_as_error(
            PROVIDER,
            "finishReason SAFETY, PROHIBITED_CONTENT, RECITATION or similar",
            stream,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Request body

fn request_body(request: &ChatRequest, signatures: &Signatures) -> Result<Value> {
    let json_mode = request.response_format == ResponseFormat::JsonObject;
    let mut system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System && !m.content.is_empty())
        .map(|m| m.content.as_str())
        .collect();
    // Constrained JSON output is only asked for without tools; with tools the instruction goes
    // into the system prompt instead, so function calls stay possible.
    if json_mode && !request.tools.is_empty() {
        system.push(JSON_INSTRUCTION);
    }
    let mut body = Map::new();
    if !system.is_empty() {
        body.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system.join("\n\n")}]}),
        );
    }
    body.insert(
        "contents".into(),
        Value::Array(contents_json(request, signatures)?),
    );
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                let mut d = Map::new();
                d.insert("name".into(), json!(t.name));
                d.insert("description".into(), json!(t.description));
                if let Some(parameters) = parameters_schema(&t.parameters) {
                    d.insert("parameters".into(), parameters);
                }
                Value::Object(d)
            })
            .collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
        let config = match &request.tool_choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Tool(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": config}),
        );
    }
    let mut generation = Map::new();
    if let Some(t) = request.temperature {
        generation.insert("temperature".into(), json!(t));
    }
    if let Some(m) = request.max_tokens {
        generation.insert("maxOutputTokens".into(), json!(m));
    }
    if json_mode && request.tools.is_empty() {
        generation.insert("responseMimeType".into(), json!("application/json"));
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    Ok(Value::Object(body))
}

/// The non-system messages as Gemini `contents`: assistant turns are `model` turns with
/// `functionCall` parts, tool results are `functionResponse` parts in a `user` turn, and
/// consecutive turns of the same role are merged into one.
fn contents_json(request: &ChatRequest, signatures: &Signatures) -> Result<Vec<Value>> {
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in request.messages.iter().enumerate() {
        let (role, parts) = match m.role {
            Role::System => continue,
            Role::User => {
                let mut parts: Vec<Value> = m.images.iter().map(image_part).collect();
                parts.extend(text_part(&m.content));
                ("user", parts)
            }
            Role::Assistant => {
                let mut parts: Vec<Value> = text_part(&m.content).into_iter().collect();
                parts.extend(m.tool_calls.iter().map(|c| {
                    let mut call = Map::new();
                    if !c.id.starts_with(LOCAL_ID_PREFIX) && !c.id.is_empty() {
                        call.insert("id".into(), json!(c.id));
                    }
                    call.insert("name".into(), json!(c.name));
                    call.insert("args".into(), call_args(&c.arguments));
                    let mut part = Map::new();
                    part.insert("functionCall".into(), Value::Object(call));
                    if let Some(sig) = signatures.get(&c.id) {
                        part.insert("thoughtSignature".into(), json!(sig));
                    }
                    Value::Object(part)
                }));
                ("model", parts)
            }
            Role::Tool => {
                let id = m.tool_call_id.as_deref().ok_or_else(|| {
                    Error::invalid_input("a tool message needs the tool_call_id it answers")
                })?;
                // Gemini matches a response to its call by function name (and id, when the call
                // had one): find the call this message answers.
                let name = request.messages[..i]
                    .iter()
                    .rev()
                    .flat_map(|m| m.tool_calls.iter())
                    .find(|c| c.id == id)
                    .map(|c| c.name.clone())
                    .ok_or_else(|| {
                        Error::invalid_input(format!(
                            "tool result `{id}` answers no earlier assistant tool call"
                        ))
                    })?;
                let mut response = Map::new();
                if !id.starts_with(LOCAL_ID_PREFIX) {
                    response.insert("id".into(), json!(id));
                }
                response.insert("name".into(), json!(name));
                response.insert("response".into(), tool_output(&m.content));
                ("user", vec![json!({"functionResponse": response})])
            }
        };
        if parts.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => turns.push((role, parts)),
        }
    }
    Ok(turns
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect())
}

/// A text part, or none for empty text.
/// An image part: `inlineData` (base64 bytes) or `fileData` (a URI Gemini fetches).
fn image_part(image: &ImageContent) -> Value {
    match image {
        ImageContent::Url { url, media_type } => {
            let mut file = Map::new();
            if let Some(mt) = media_type {
                file.insert("mimeType".into(), json!(mt));
            }
            file.insert("fileUri".into(), json!(url));
            json!({ "fileData": file })
        }
        ImageContent::Base64 { media_type, data } => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
    }
}

fn text_part(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({"text": text}))
}

/// `functionCall.args` must be an object; arguments that are not a JSON object (a model's
/// malformed output being sent back with its error) become an empty object.
fn call_args(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

/// `functionResponse.response` must be an object: the tool's output goes under `output` (the key
/// the API documents for a function's output), parsed when it is JSON.
fn tool_output(content: &str) -> Value {
    let output = serde_json::from_str::<Value>(content)
        .unwrap_or_else(|_| Value::String(content.to_string()));
    json!({ "output": output })
}

/// The declaration's `parameters`, or none for a tool without parameters (an object schema with
/// no properties).
fn parameters_schema(schema: &Value) -> Option<Value> {
    let reduced = gemini_schema(schema);
    let no_properties = reduced
        .get("properties")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    let is_object = reduced.get("type").and_then(Value::as_str) == Some("object");
    if (is_object && no_properties) || reduced.as_object().is_none_or(Map::is_empty) {
        None
    } else {
        Some(reduced)
    }
}

/// Reduces a JSON Schema to the subset of OpenAPI 3.0 that Gemini's `Schema` accepts: local
/// `$ref`s are inlined (from `$defs` / `definitions`), `type: [T, "null"]` and
/// `anyOf: [S, {"type": "null"}]` become `nullable`, `oneOf` becomes `anyOf`, a single-entry
/// `allOf` is merged, `const` becomes a one-value `enum`, and keys the `Schema` message does not
/// have (`$schema`, `additionalProperties`, `$defs`, `examples`, …) or formats it does not take
/// are dropped.
pub fn gemini_schema(schema: &Value) -> Value {
    let defs = schema
        .get("$defs")
        .or_else(|| schema.get("definitions"))
        .cloned()
        .unwrap_or(Value::Null);
    reduce(schema, &defs, 0)
}

/// The fields of Gemini's `Schema` message (v1beta).
const SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// How deep `$ref`s are followed (recursive schemas stop here).
const MAX_SCHEMA_DEPTH: usize = 24;

fn reduce(schema: &Value, defs: &Value, depth: usize) -> Value {
    let Some(obj) = schema.as_object() else {
        return json!({});
    };
    if depth > MAX_SCHEMA_DEPTH {
        return json!({"type": "object"});
    }
    // Inline a local reference, keeping sibling keywords (a description next to the `$ref`).
    if let Some(target) = obj.get("$ref").and_then(Value::as_str) {
        let name = target
            .strip_prefix("#/$defs/")
            .or_else(|| target.strip_prefix("#/definitions/"));
        let mut merged = name
            .and_then(|n| defs.get(n))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in obj {
            if k != "$ref" {
                merged.insert(k.clone(), v.clone());
            }
        }
        return reduce(&Value::Object(merged), defs, depth + 1);
    }
    // A single-entry allOf is the entry plus the siblings.
    if let Some([only]) = obj
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        let mut merged = only.as_object().cloned().unwrap_or_default();
        for (k, v) in obj {
            if k != "allOf" {
                merged.insert(k.clone(), v.clone());
            }
        }
        return reduce(&Value::Object(merged), defs, depth + 1);
    }
    let mut out = Map::new();
    let mut nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);
    // `type: ["string", "null"]`.
    match obj.get("type") {
        Some(Value::String(t)) if t == "null" => nullable = true,
        Some(Value::String(t)) => {
            out.insert("type".into(), json!(t));
        }
        Some(Value::Array(types)) => {
            let mut non_null = types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null");
            if types.iter().any(|t| t == "null") {
                nullable = true;
            }
            if let Some(t) = non_null.next() {
                out.insert("type".into(), json!(t));
            }
        }
        _ => {}
    }
    // `anyOf`/`oneOf` with a null branch: the other branch(es), nullable.
    if let Some(branches) = obj
        .get("anyOf")
        .or_else(|| obj.get("oneOf"))
        .and_then(Value::as_array)
    {
        let is_null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
        if branches.iter().any(is_null) {
            nullable = true;
        }
        let rest: Vec<Value> = branches
            .iter()
            .filter(|b| !is_null(b))
            .map(|b| reduce(b, defs, depth + 1))
            .collect();
        match rest.as_slice() {
            [] => {}
            [only] => {
                if let Some(o) = only.as_object() {
                    for (k, v) in o {
                        out.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            _ => {
                out.insert("anyOf".into(), Value::Array(rest));
            }
        }
    }
    for (k, v) in obj {
        if !SCHEMA_KEYS.contains(&k.as_str()) || matches!(k.as_str(), "type" | "anyOf") {
            continue;
        }
        match k.as_str() {
            "properties" => {
                let props: Map<String, Value> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, s)| (name.clone(), reduce(s, defs, depth + 1)))
                    .collect();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" => {
                // Tuple-style `items: [...]` is not expressible: the first entry stands for all.
                let item = match v {
                    Value::Array(a) => a.first().cloned().unwrap_or_else(|| json!({})),
                    other => other.clone(),
                };
                out.insert(k.clone(), reduce(&item, defs, depth + 1));
            }
            "enum" => {
                let values = v.as_array().cloned().unwrap_or_default();
                if values.iter().any(Value::is_null) {
                    nullable = true;
                }
                let strings: Vec<Value> = values.into_iter().filter(|x| !x.is_null()).collect();
                // Gemini's enum is a list of strings.
                if !strings.is_empty() && strings.iter().all(Value::is_string) {
                    out.insert(k.clone(), Value::Array(strings));
                }
            }
            "format" => {
                let ty = out.get("type").and_then(Value::as_str).unwrap_or("");
                let ok = matches!(
                    (ty, v.as_str().unwrap_or("")),
                    ("string", "date-time" | "enum")
                        | ("integer", "int32" | "int64")
                        | ("number", "float" | "double")
                );
                if ok {
                    out.insert(k.clone(), v.clone());
                }
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(c) = obj.get("const").filter(|c| c.is_string()) {
        out.insert("enum".into(), json!([c]));
        out.entry("type").or_insert_with(|| json!("string"));
    }
    // `required` may only name properties that exist.
    if let Some(required) = out.get("required").and_then(Value::as_array) {
        let props = out.get("properties").and_then(Value::as_object);
        let kept: Vec<Value> = required
            .iter()
            .filter(|r| {
                r.as_str()
                    .is_some_and(|r| props.is_some_and(|p| p.contains_key(r)))
            })
            .cloned()
            .collect();
        if kept.is_empty() {
            out.remove("required");
        } else {
            out.insert("required".into(), Value::Array(kept));
        }
    }
    if nullable {
        out.insert("nullable".into(), json!(true));
    }
    Value::Object(out)
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

/// The [`ErrorKind`] of a google.rpc status name.
fn status_kind(status: &str) -> Option<ErrorKind> {
    Some(match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => ErrorKind::InvalidInput,
        "UNAUTHENTICATED" | "PERMISSION_DENIED" => ErrorKind::Unauthorized,
        "NOT_FOUND" => ErrorKind::NotFound,
        "RESOURCE_EXHAUSTED" => ErrorKind::RateLimited,
        "DEADLINE_EXCEEDED" => ErrorKind::Timeout,
        "INTERNAL" | "UNAVAILABLE" | "UNKNOWN" | "ABORTED" => ErrorKind::Llm,
        _ => return None,
    })
}

/// The pieces of a google error object `{"code", "message", "status", "details"}`.
struct GoogleError<'a> {
    message: Option<&'a str>,
    status: Option<&'a str>,
    /// `details[].reason` of a `google.rpc.ErrorInfo` (`API_KEY_INVALID`, …).
    reason: Option<&'a str>,
    /// `details[].retryDelay` of a `google.rpc.RetryInfo`.
    retry_delay: Option<Duration>,
}

fn google_error(err: &Value) -> GoogleError<'_> {
    let details = err.get("details").and_then(Value::as_array);
    let detail = |key: &str| {
        details
            .into_iter()
            .flatten()
            .find_map(|d| d.get(key).and_then(Value::as_str))
    };
    GoogleError {
        message: err.get("message").and_then(Value::as_str),
        status: err.get("status").and_then(Value::as_str),
        reason: detail("reason"),
        retry_delay: detail("retryDelay").and_then(parse_retry_delay),
    }
}

/// A protobuf `Duration` in JSON form: `"17s"`, `"0.5s"`.
fn parse_retry_delay(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().strip_suffix('s')?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// Whether Gemini's message says the prompt is longer than the model's context window
/// (`The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).`).
fn is_too_long(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("exceeds the maximum number of tokens")
        || lower.contains("input token count")
        || lower.contains("context length")
}

/// Prefixes Gemini's message when it says the prompt is longer than the model's context window.
fn describe(message: &str) -> String {
    if is_too_long(message) {
        format!("context length exceeded: {message}")
    } else {
        message.to_string()
    }
}

/// Maps an HTTP error response to a typed [`Error::Provider`], keeping the provider's message.
async fn http_error(resp: reqwest::Response) -> Error {
    let status = resp.status().as_u16();
    let header_wait = retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&body).ok();
    // Some proxies wrap the error in a one-element array, as the streaming endpoint does.
    let err = parsed
        .as_ref()
        .and_then(|v| v.get("error").or_else(|| v.pointer("/0/error")));
    let g = err.map(google_error);
    let message = g
        .as_ref()
        .and_then(|g| g.message)
        .map(describe)
        .unwrap_or_else(|| body_message(status, &body));
    let rpc_status = g.as_ref().and_then(|g| g.status);
    let reason = g.as_ref().and_then(|g| g.reason);
    let too_long = g.as_ref().and_then(|g| g.message).is_some_and(is_too_long);
    let kind = match status {
        400 if too_long => ErrorKind::ContextLengthExceeded,
        401 | 403 => ErrorKind::Unauthorized,
        // Gemini answers a bad key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
        400 if reason.is_some_and(|r| r.starts_with("API_KEY")) => ErrorKind::Unauthorized,
        429 => ErrorKind::RateLimited,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Timeout,
        400..=499 => ErrorKind::InvalidInput,
        _ => rpc_status
            .and_then(status_kind)
            .filter(|k| matches!(k, ErrorKind::RateLimited | ErrorKind::Timeout))
            .unwrap_or(ErrorKind::Llm),
    };
    tracing::debug!(
        provider = PROVIDER,
        status,
        rpc_status,
        reason,
        "provider returned an HTTP error"
    );
    let retry_after = header_wait.or_else(|| g.as_ref().and_then(|g| g.retry_delay));
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

/// An `{"error": {...}}` object inside a 200 response (a streamed chunk or a JSON body).
fn error_in(v: &Value, raw: &str) -> Option<Error> {
    let err = v.get("error").filter(|e| !e.is_null())?;
    let g = google_error(err);
    let message = g
        .message
        .map(describe)
        .unwrap_or_else(|| truncate(raw, 500));
    Some(Error::Provider {
        provider: PROVIDER.into(),
        status: None,
        message,
        kind: if g.message.is_some_and(is_too_long) {
            ErrorKind::ContextLengthExceeded
        } else {
            g.status.and_then(status_kind).unwrap_or(ErrorKind::Llm)
        },
        retry_after: g.retry_delay,
        source: None,
    })
}

/// A prompt Gemini refused to answer (`promptFeedback.blockReason`).
fn blocked_prompt(reason: &str, message: Option<&str>) -> Error {
    Error::Provider {
        provider: PROVIDER.into(),
        status: None,
        message: match message {
            Some(m) if !m.is_empty() => format!("the prompt was blocked ({reason}): {m}"),
            _ => format!("the prompt was blocked by Gemini's content filter ({reason})"),
        },
        kind: ErrorKind::ContentFiltered,
        retry_after: None,
        source: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Responses

enum Opened {
    Json(Vec<ChatEvent>),
    Sse {
        source: SseSource,
        decoder: Decoder,
        pending: VecDeque<ChatEvent>,
    },
}

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// `usageMetadata` as [`Usage`]. `promptTokenCount` already includes cached content; thinking
/// tokens (`thoughtsTokenCount`) are billed as output, so they count as output here.
fn read_usage(u: &Value) -> Usage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("promptTokenCount") + n("toolUsePromptTokenCount"),
        output_tokens: n("candidatesTokenCount") + n("thoughtsTokenCount"),
        cached_input_tokens: n("cachedContentTokenCount"),
    }
}

/// A non-streamed body: one `GenerateContentResponse`, or an array of them (what
/// `:streamGenerateContent` answers without `alt=sse`).
fn json_events(bytes: &[u8], decoder: &mut Decoder, out: &mut VecDeque<ChatEvent>) -> Result<()> {
    let text = String::from_utf8_lossy(bytes);
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(PROVIDER, "response", &text, e))?;
    let items = match v {
        Value::Array(items) => items,
        other => vec![other],
    };
    for item in &items {
        decoder.value(item, &text, out)?;
    }
    decoder.finalize(out);
    Ok(())
}

/// Turns `GenerateContentResponse` chunks into [`ChatEvent`]s.
struct Decoder {
    calls: Vec<ToolCall>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    signatures: Arc<Signatures>,
}

impl SseDecode for Decoder {
    fn decode(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        self.data(data, out).map(|()| Step::More)
    }

    fn close(&mut self, out: &mut VecDeque<ChatEvent>) {
        self.finalize(out);
    }

    fn may_end_on_close(&self) -> bool {
        // Gemini sends no end marker: a clean close after a finishReason is the end.
        self.finish.is_some()
    }

    fn end_marker(&self) -> &'static str {
        "a finishReason"
    }
}

impl Decoder {
    fn new(signatures: Arc<Signatures>) -> Self {
        Self {
            calls: Vec::new(),
            usage: None,
            finish: None,
            signatures,
        }
    }

    fn data(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<()> {
        let data = data.trim();
        let v: Value =
            serde_json::from_str(data).map_err(|e| malformed(PROVIDER, "stream chunk", data, e))?;
        self.value(&v, data, out)
    }

    fn value(&mut self, v: &Value, raw: &str, out: &mut VecDeque<ChatEvent>) -> Result<()> {
        if let Some(err) = error_in(v, raw) {
            return Err(err);
        }
        if let Some(reason) = v
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
        {
            let message = v
                .pointer("/promptFeedback/blockReasonMessage")
                .and_then(Value::as_str);
            return Err(blocked_prompt(reason, message));
        }
        if let Some(u) = v.get("usageMetadata").filter(|u| u.is_object()) {
            self.usage = Some(read_usage(u));
        }
        let Some(candidate) = v.pointer("/candidates/0") else {
            return Ok(());
        };
        let parts = candidate
            .pointer("/content/parts")
            .and_then(Value::as_array);
        for part in parts.into_iter().flatten() {
            // Thought summaries are not part of the answer.
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(text) = part.get("text").and_then(Value::as_str)
                && !text.is_empty()
            {
                out.push_back(ChatEvent::TextDelta {
                    text: text.to_string(),
                });
            }
            if let Some(fc) = part.get("functionCall") {
                let index = self.calls.len();
                let id = fc
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map_or_else(
                        || format!("{LOCAL_ID_PREFIX}{}", uuid::Uuid::new_v4().simple()),
                        str::to_string,
                    );
                let call = ToolCall {
                    id,
                    name: fc
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    arguments: match fc.get("args") {
                        Some(args @ Value::Object(_)) => args.to_string(),
                        _ => "{}".into(),
                    },
                };
                if let Some(sig) = part.get("thoughtSignature").and_then(Value::as_str) {
                    self.signatures.remember(&call.id, sig);
                }
                out.push_back(ChatEvent::ToolCallDelta {
                    index,
                    id: Some(call.id.clone()),
                    name: Some(call.name.clone()),
                    arguments: call.arguments.clone(),
                });
                self.calls.push(call);
            }
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str)
            && reason != "FINISH_REASON_UNSPECIFIED"
        {
            self.finish = Some(finish_reason(reason));
        }
        Ok(())
    }

    /// Emits usage, the tool calls and the finish event. Gemini reports `STOP` after function
    /// calls; that is [`FinishReason::ToolCalls`] here.
    fn finalize(&mut self, out: &mut VecDeque<ChatEvent>) {
        if let Some(usage) = self.usage {
            out.push_back(ChatEvent::Usage { usage });
        }
        let calls = std::mem::take(&mut self.calls);
        let had_calls = !calls.is_empty();
        out.extend(calls.into_iter().map(|call| ChatEvent::ToolCall { call }));
        let reason = match self.finish {
            Some(FinishReason::Stop) | None if had_calls => FinishReason::ToolCalls,
            Some(reason) => reason,
            None => FinishReason::Stop,
        };
        out.push_back(ChatEvent::Finish { reason });
    }
}

// ---------------------------------------------------------------------------------------------
// Model table

struct KnownModel {
    id: &'static str,
    context_window: u32,
    pricing: Pricing,
}

const fn model(id: &'static str, input_per_mtok: f64, output_per_mtok: f64) -> KnownModel {
    KnownModel {
        id,
        context_window: DEFAULT_CONTEXT_WINDOW,
        pricing: Pricing {
            input_per_mtok,
            output_per_mtok,
        },
    }
}

/// Public list prices in USD per million tokens (standard tier, prompts up to 200k tokens).
const KNOWN_MODELS: &[KnownModel] = &[
    model("gemini-3-pro-preview", 2.0, 12.0),
    model("gemini-2.5-pro", 1.25, 10.0),
    model("gemini-2.5-flash-lite", 0.10, 0.40),
    model("gemini-2.5-flash", 0.30, 2.50),
    model("gemini-2.0-flash", 0.10, 0.40),
];

/// The table entry for `model`: the exact id, or a version of it (`gemini-2.5-flash-001`,
/// `-latest`, `-preview-09-2025`), optionally behind `models/` or a router prefix.
fn known_model(model: &str) -> Option<&'static KnownModel> {
    let model = model.rsplit('/').next().unwrap_or(model);
    KNOWN_MODELS.iter().find(|k| {
        model == k.id
            || model
                .strip_prefix(k.id)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|r| {
                    r == "latest"
                        || r.starts_with("preview")
                        || r.starts_with(|c: char| c.is_ascii_digit())
                })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::llm::{ChatMessage, ToolSpec};

    #[test]
    fn config_from_env_vars_prefers_gemini_key() {
        let vars = BTreeMap::from([
            ("GEMINI_API_KEY", "g-key"),
            ("GOOGLE_API_KEY", "google-key"),
            ("GEMINI_BASE_URL", "http://g/v1beta/"),
            ("MC_LLM_MODEL", ""),
        ]);
        let c = GeminiConfig::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(c.model, "gemini-2.5-flash");
        assert_eq!(
            c.api_key.as_ref().map(|k| k.expose_secret().to_string()),
            Some("g-key".into())
        );
        let client = GeminiClient::new(c).unwrap();
        assert_eq!(
            client.endpoint(),
            "http://g/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        let vars = BTreeMap::from([("GOOGLE_API_KEY", "google-key")]);
        let c = GeminiConfig::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(
            c.api_key.as_ref().map(|k| k.expose_secret().to_string()),
            Some("google-key".into())
        );
        let c = GeminiConfig::new("models/gemini-2.5-pro").with_stream(false);
        assert_eq!(
            GeminiClient::new(c).unwrap().endpoint(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent"
        );
        assert!(GeminiClient::new(GeminiConfig::new("a/b")).is_err());
    }

    #[test]
    fn schema_is_reduced_to_the_openapi_subset() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Args",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "sql": {"type": "string", "description": "SQL", "examples": ["SELECT 1"]},
                "limit": {"type": ["integer", "null"], "format": "uint32", "minimum": 0},
                "chart": {"anyOf": [{"$ref": "#/$defs/Chart"}, {"type": "null"}]},
                "kind": {"const": "bar"},
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}
            },
            "required": ["sql", "missing"],
            "$defs": {
                "Chart": {"type": "object", "properties": {
                    "x": {"type": "string"},
                    "order": {"enum": ["asc", "desc", null]}
                }}
            }
        });
        let reduced = gemini_schema(&schema);
        assert_eq!(
            reduced,
            json!({
                "title": "Args",
                "type": "object",
                "properties": {
                    "sql": {"type": "string", "description": "SQL"},
                    "limit": {"type": "integer", "minimum": 0, "nullable": true},
                    "chart": {"type": "object", "nullable": true, "properties": {
                        "x": {"type": "string"},
                        "order": {"enum": ["asc", "desc"], "nullable": true}
                    }},
                    "kind": {"enum": ["bar"], "type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["sql"]
            })
        );
        assert!(parameters_schema(&json!({"type": "object", "properties": {}})).is_none());
    }

    #[test]
    fn tool_choice_json_mode_and_tool_results() {
        let signatures = Signatures::default();
        signatures.remember("c1", "sig-1");
        let mut req = ChatRequest::new(vec![
            ChatMessage::system("rules"),
            ChatMessage::user("q"),
            ChatMessage {
                tool_calls: vec![
                    ToolCall {
                        id: "c1".into(),
                        name: "create_data".into(),
                        arguments: r#"{"sql":"SELECT 1"}"#.into(),
                    },
                    ToolCall {
                        id: format!("{LOCAL_ID_PREFIX}x"),
                        name: "list_tables".into(),
                        arguments: "not json".into(),
                    },
                ],
                ..ChatMessage::assistant("")
            },
            ChatMessage::tool("c1", r#"{"rows":1}"#),
            ChatMessage::tool(format!("{LOCAL_ID_PREFIX}x"), "plain text"),
        ]);
        req.tools = vec![ToolSpec {
            name: "create_data".into(),
            description: "d".into(),
            parameters: json!({"type": "object", "properties": {"sql": {"type": "string"}}}),
        }];
        req.tool_choice = ToolChoice::Tool("create_data".into());
        let body = request_body(&req, &signatures).unwrap();
        assert_eq!(
            body["systemInstruction"],
            json!({"parts": [{"text": "rules"}]})
        );
        assert_eq!(
            body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "q"}]},
                {"role": "model", "parts": [
                    {"functionCall": {"id": "c1", "name": "create_data",
                                      "args": {"sql": "SELECT 1"}},
                     "thoughtSignature": "sig-1"},
                    {"functionCall": {"name": "list_tables", "args": {}}}]},
                {"role": "user", "parts": [
                    {"functionResponse": {"id": "c1", "name": "create_data",
                                          "response": {"output": {"rows": 1}}}},
                    {"functionResponse": {"name": "list_tables",
                                          "response": {"output": "plain text"}}}]}
            ])
        );
        assert_eq!(
            body["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY",
                                             "allowedFunctionNames": ["create_data"]}})
        );
        assert!(body.get("generationConfig").is_none());

        let mut req = ChatRequest::new(vec![ChatMessage::user("json")]);
        req.response_format = ResponseFormat::JsonObject;
        req.max_tokens = Some(100);
        let body = request_body(&req, &signatures).unwrap();
        assert_eq!(
            body["generationConfig"],
            json!({"maxOutputTokens": 100, "responseMimeType": "application/json"})
        );
        let orphan = ChatRequest::new(vec![ChatMessage::tool("nope", "x")]);
        assert!(request_body(&orphan, &signatures).is_err());
    }

    #[test]
    fn decoder_handles_calls_across_chunks_and_stop_means_tool_calls() {
        let sigs = Arc::new(Signatures::default());
        let mut d = Decoder::new(sigs.clone());
        let mut out = VecDeque::new();
        for data in [
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Let me ","thought":false},{"text":"plan","thought":true}]}}],"usageMetadata":{"promptTokenCount":10}}"#,
            r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"a","args":{"x":1}},"thoughtSignature":"s1"}]}}]}"#,
            r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"b-1","name":"b"}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":2,"cachedContentTokenCount":4}}"#,
        ] {
            d.data(data, &mut out).unwrap();
        }
        d.finalize(&mut out);
        let calls: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                ChatEvent::ToolCall { call } => Some(call.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(calls.len(), 2);
        assert!(calls[0].id.starts_with(LOCAL_ID_PREFIX));
        assert_eq!(calls[0].arguments, r#"{"x":1}"#);
        assert_eq!(sigs.get(&calls[0].id).as_deref(), Some("s1"));
        assert_eq!(
            (calls[1].id.as_str(), calls[1].arguments.as_str()),
            ("b-1", "{}")
        );
        assert_eq!(
            out[0],
            ChatEvent::TextDelta {
                text: "Let me ".into()
            }
        );
        assert!(out.contains(&ChatEvent::Usage {
            usage: Usage {
                input_tokens: 10,
                output_tokens: 7,
                cached_input_tokens: 4
            }
        }));
        assert_eq!(
            out.back(),
            Some(&ChatEvent::Finish {
                reason: FinishReason::ToolCalls
            })
        );
    }

    #[test]
    fn errors_and_blocks_in_chunks_are_typed() {
        let mut d = Decoder::new(Arc::default());
        let mut out = VecDeque::new();
        let err = d
            .data(
                r#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]}}"#,
                &mut out,
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert!(
            matches!(err, Error::Provider { retry_after: Some(d), .. } if d == Duration::from_secs(2))
        );
        let err = d
            .data(r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#, &mut out)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ContentFiltered);
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("SAFETY"), "{err}");
        assert_eq!(finish_reason("RECITATION"), FinishReason::ContentFilter);
        assert_eq!(
            finish_reason("MALFORMED_FUNCTION_CALL"),
            FinishReason::Other
        );
    }

    #[test]
    fn model_table_matches_versions_not_other_models() {
        assert_eq!(
            known_model("gemini-2.5-flash").map(|k| k.id),
            Some("gemini-2.5-flash")
        );
        assert_eq!(
            known_model("models/gemini-2.5-flash-lite").map(|k| k.id),
            Some("gemini-2.5-flash-lite")
        );
        assert_eq!(
            known_model("gemini-2.0-flash-001").map(|k| k.id),
            Some("gemini-2.0-flash")
        );
        assert!(known_model("gemini-2.0-flash-lite").is_none());
        assert!(known_model("gemini-2.5-flash-image").is_none());
    }
}
