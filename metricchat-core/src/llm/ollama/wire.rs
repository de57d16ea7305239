//! The Ollama `/api/chat` wire format: endpoint, request body, bearer token, error bodies and
//! model facts.

use std::collections::BTreeMap;

use reqwest::header::{self, HeaderMap};
use serde_json::{Map, Value, json};

use super::stream::{Decoder, is_context_error};
use super::{DEFAULT_PORT, OllamaConfig, PROVIDER};
use crate::error::{Error, ErrorKind, Result};
use crate::llm::http::body_message;
use crate::llm::provider::{Framing, HttpFailure, ProviderConfig, Wire};
use crate::llm::{
    ChatMessage, ChatRequest, ImageContent, ModelInfo, ResponseFormat, Role, ToolChoice,
};

/// [`Wire`] of Ollama's native chat API.
#[derive(Debug)]
pub(super) struct OllamaWire {
    pub(super) config: OllamaConfig,
    pub(super) endpoint: url::Url,
}

impl OllamaWire {
    /// Checks the config: a malformed host or API key fails here, not on the first request.
    pub(super) fn new(config: OllamaConfig) -> Result<Self> {
        let endpoint = endpoint(&config.base_url)?;
        config.key_header(PROVIDER, true)?;
        Ok(Self { config, endpoint })
    }
}

impl Wire for OllamaWire {
    const PROVIDER: &'static str = PROVIDER;
    const FRAMING: Framing = Framing::Ndjson;
    const IMAGE_URLS: bool = false;
    const CONTENT_FILTER: Option<&'static str> = None;
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
            context_window: c.context_window,
            supports_tools: c.supports_tools.unwrap_or(false),
            supports_json_mode: true,
            supports_vision: c.supports_vision,
            pricing: c.pricing,
        }
    }

    fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        request_body(&self.config, request)
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder> {
        Ok(match self.config.key_header(PROVIDER, true)? {
            Some(auth) => request.header(header::AUTHORIZATION, auth),
            None => request,
        })
    }

    fn decoder(&self) -> Decoder {
        Decoder::default()
    }

    fn is_json(&self, _headers: &HeaderMap) -> bool {
        // `/api/chat` with `stream: true` always answers lines, whatever its content type says.
        false
    }

    fn http_error(&self, status: u16, body: &str) -> HttpFailure {
        let message = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| {
                let e = v.get("error")?;
                e.as_str()
                    .or_else(|| e.get("message").and_then(Value::as_str))
                    .map(str::to_string)
            })
            .unwrap_or_else(|| body_message(status, body));
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
        HttpFailure::new(message, kind)
    }
}

/// `http://host:port` from `OLLAMA_HOST`-style values: a missing scheme means `http`, a
/// missing port means 11434, and `0.0.0.0` (a listen address) means this machine.
pub(super) fn endpoint(host: &str) -> Result<url::Url> {
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

// ---------------------------------------------------------------------------------------------
// Request body

pub(super) fn request_body(config: &OllamaConfig, request: &ChatRequest) -> Result<Value> {
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
