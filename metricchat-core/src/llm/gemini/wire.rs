//! The Gemini wire format: endpoint, request body, key header, error bodies and model facts.

use std::sync::Arc;

use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use super::errors::{describe, google_error, is_too_long, status_kind};
use super::models::known_model;
use super::schema::parameters_schema;
use super::stream::Decoder;
use super::{DEFAULT_CONTEXT_WINDOW, GeminiConfig, LOCAL_ID_PREFIX, PROVIDER, Signatures};
use crate::error::{Error, ErrorKind, Result};
use crate::llm::http::body_message;
use crate::llm::provider::{HttpFailure, ProviderConfig, Wire};
use crate::llm::{ChatRequest, ImageContent, ModelInfo, ResponseFormat, Role, ToolChoice};

const JSON_INSTRUCTION: &str =
    "Answer with one JSON object only: no prose before or after it, no code fences.";

/// [`Wire`] of the Gemini API.
#[derive(Debug)]
pub(super) struct GeminiWire {
    pub(super) config: GeminiConfig,
    pub(super) endpoint: url::Url,
    pub(super) signatures: Arc<Signatures>,
}

impl GeminiWire {
    /// Checks the config: a malformed base URL, model id or API key fails here, not on the first
    /// request.
    pub(super) fn new(config: GeminiConfig) -> Result<Self> {
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
            config.endpoint(PROVIDER, &format!("{base}/v1beta/models/{model}:{action}"))?;
        config.key_header(PROVIDER, false)?;
        Ok(Self {
            config,
            endpoint,
            signatures: Arc::default(),
        })
    }
}

impl Wire for GeminiWire {
    const PROVIDER: &'static str = PROVIDER;
    const CONTENT_FILTER: Option<&'static str> =
        Some("finishReason SAFETY, PROHIBITED_CONTENT, RECITATION or similar");
    type Decoder = Decoder;

    fn provider(&self) -> &ProviderConfig {
        &self.config.provider
    }

    fn endpoint(&self) -> &url::Url {
        &self.endpoint
    }

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

    fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        request_body(request, &self.signatures)
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder> {
        Ok(match self.config.key_header(PROVIDER, false)? {
            Some(key) => request.header("x-goog-api-key", key),
            None => request,
        })
    }

    fn decoder(&self) -> Decoder {
        Decoder::new(self.signatures.clone())
    }

    fn is_json(&self, headers: &HeaderMap) -> bool {
        crate::llm::http::is_json(headers) || !self.config.stream
    }

    fn http_error(&self, status: u16, body: &str) -> HttpFailure {
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        // Some proxies wrap the error in a one-element array, as the streaming endpoint does.
        let err = parsed
            .as_ref()
            .and_then(|v| v.get("error").or_else(|| v.pointer("/0/error")));
        let g = err.map(google_error);
        let message = g
            .as_ref()
            .and_then(|g| g.message)
            .map(describe)
            .unwrap_or_else(|| body_message(status, body));
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
        HttpFailure {
            message,
            kind,
            retry_after: g.as_ref().and_then(|g| g.retry_delay),
            code: rpc_status.or(reason).map(str::to_string),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request body

pub(super) fn request_body(request: &ChatRequest, signatures: &Signatures) -> Result<Value> {
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
