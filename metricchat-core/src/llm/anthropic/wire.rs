//! The Anthropic Messages wire format: endpoint, request body, headers, error bodies and model
//! facts.

use serde_json::{Map, Value, json};

use super::models::known_pricing;
use super::stream::{Decoder, error_kind, is_prompt_too_long};
use super::{AnthropicConfig, PROVIDER};
use crate::error::{Error, ErrorKind, Result};
use crate::llm::http::body_message;
use crate::llm::provider::{HttpFailure, ProviderConfig, Wire};
use crate::llm::{ChatRequest, ImageContent, ModelInfo, ResponseFormat, Role, ToolChoice};

const API_VERSION: &str = "2023-06-01";
const JSON_INSTRUCTION: &str =
    "Answer with one JSON object only: no prose before or after it, no code fences.";

/// [`Wire`] of the Anthropic Messages API.
#[derive(Debug)]
pub(super) struct AnthropicWire {
    pub(super) config: AnthropicConfig,
    pub(super) endpoint: url::Url,
}

impl AnthropicWire {
    /// Checks the config: a malformed base URL or API key fails here, not on the first request.
    pub(super) fn new(config: AnthropicConfig) -> Result<Self> {
        let base = config.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let endpoint = config.endpoint(PROVIDER, &format!("{base}/v1/messages"))?;
        config.key_header(PROVIDER, false)?;
        Ok(Self { config, endpoint })
    }
}

impl Wire for AnthropicWire {
    const PROVIDER: &'static str = PROVIDER;
    const CONTENT_FILTER: Option<&'static str> = Some("stop_reason refusal");
    type Decoder = Decoder;

    fn provider(&self) -> &ProviderConfig {
        &self.config.provider
    }

    fn endpoint(&self) -> &url::Url {
        &self.endpoint
    }

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

    fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        request_body(&self.config.model, self.config.max_tokens, request)
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder> {
        let request = request.header("anthropic-version", API_VERSION);
        Ok(match self.config.key_header(PROVIDER, false)? {
            Some(key) => request.header("x-api-key", key),
            None => request,
        })
    }

    fn decoder(&self) -> Decoder {
        Decoder::default()
    }

    fn http_error(&self, status: u16, body: &str) -> HttpFailure {
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        let err = parsed.as_ref().and_then(|v| v.get("error"));
        let kind_name = err.and_then(|e| e.get("type")).and_then(Value::as_str);
        let message = err
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| body_message(status, body));
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
        HttpFailure::new(message, kind).with_code(kind_name)
    }
}

// ---------------------------------------------------------------------------------------------
// Request body

pub(super) fn request_body(
    model: &str,
    default_max_tokens: u32,
    request: &ChatRequest,
) -> Result<Value> {
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
