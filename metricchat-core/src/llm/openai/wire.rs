//! The OpenAI Chat Completions wire format: endpoint, request body, key header, error bodies and
//! model facts.

use reqwest::header;
use serde_json::{Value, json};

use super::models::{UNKNOWN_CONTEXT_WINDOW, known_model};
use super::stream::Decoder;
use super::{KeyHeader, OpenAiConfig, PROVIDER};
use crate::error::{Error, ErrorKind, Result};
use crate::llm::http::body_message;
use crate::llm::provider::{HttpFailure, ProviderConfig, Wire};
use crate::llm::{ChatMessage, ChatRequest, ModelInfo, ResponseFormat, Role, ToolChoice};

/// [`Wire`] of OpenAI Chat Completions and the servers that speak it.
#[derive(Debug)]
pub(super) struct OpenAiWire {
    pub(super) config: OpenAiConfig,
    pub(super) endpoint: url::Url,
}

impl OpenAiWire {
    /// Checks the config: a malformed base URL or API key fails here, not on the first request.
    pub(super) fn new(config: OpenAiConfig) -> Result<Self> {
        let base = config.base_url.trim_end_matches('/');
        let mut endpoint = config.endpoint(PROVIDER, &format!("{base}/chat/completions"))?;
        if let Some(version) = config.api_version.as_deref().filter(|v| !v.is_empty()) {
            endpoint
                .query_pairs_mut()
                .append_pair("api-version", version);
        }
        config.key_header(PROVIDER, config.key_header == KeyHeader::Bearer)?;
        Ok(Self { config, endpoint })
    }
}

impl Wire for OpenAiWire {
    const PROVIDER: &'static str = PROVIDER;
    const CONTENT_FILTER: Option<&'static str> = Some("finish_reason content_filter");
    type Decoder = Decoder;

    fn provider(&self) -> &ProviderConfig {
        &self.config.provider
    }

    fn endpoint(&self) -> &url::Url {
        &self.endpoint
    }

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

    fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        request_body(&self.config.model, request)
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder> {
        let c = &self.config;
        Ok(
            match c
                .provider
                .key_header(PROVIDER, c.key_header == KeyHeader::Bearer)?
            {
                None => request,
                Some(auth) => match c.key_header {
                    KeyHeader::Bearer => request.header(header::AUTHORIZATION, auth),
                    KeyHeader::ApiKey => request.header("api-key", auth),
                },
            },
        )
    }

    fn decoder(&self) -> Decoder {
        Decoder::default()
    }

    fn http_error(&self, status: u16, body: &str) -> HttpFailure {
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        let err = parsed.as_ref().and_then(|v| v.get("error"));
        let code = err.and_then(|e| e.get("code")).and_then(Value::as_str);
        let message = err
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| err.and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| body_message(status, body));
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
        HttpFailure::new(message, kind).with_code(code)
    }
}

// ---------------------------------------------------------------------------------------------
// Request body

pub(super) fn request_body(model: &str, request: &ChatRequest) -> Result<Value> {
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
