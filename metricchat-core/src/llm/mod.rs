//! The [`LlmClient`] trait, the provider-neutral chat types, and the provider clients.
// With no provider feature on, the shared HTTP and cassette plumbing has no user.
#![cfg_attr(
    not(any(
        feature = "openai",
        feature = "anthropic",
        feature = "gemini",
        feature = "ollama"
    )),
    allow(dead_code, unused_imports, unused_macros)
)]

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[cfg(feature = "anthropic")]
pub mod anthropic;
pub mod cassette;
#[cfg(feature = "gemini")]
pub mod gemini;
mod http;
#[cfg(feature = "ollama")]
pub mod ollama;
#[cfg(feature = "openai")]
pub mod openai;
mod provider;
pub mod scripted;
pub mod spec;
mod transport;

pub use crate::retry::RetryPolicy;
#[cfg(feature = "anthropic")]
pub use anthropic::{AnthropicClient, AnthropicConfig};
pub use cassette::{Cassette, CassetteMode, Recordable};
#[cfg(feature = "gemini")]
pub use gemini::{GeminiClient, GeminiConfig};
pub use http::{HttpConfig, HttpOptions};
#[cfg(feature = "ollama")]
pub use ollama::{OllamaClient, OllamaConfig};
#[cfg(feature = "openai")]
pub use openai::{OpenAiClient, OpenAiConfig};
pub use provider::ProviderConfig;
pub use scripted::{ScriptedLlm, ScriptedTurn};
pub use spec::{LlmSource, LlmSpec, Provider};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The user (or the agent speaking for the user).
    User,
    /// The model.
    Assistant,
    /// A tool result answering an assistant tool call.
    Tool,
}

/// One tool call requested by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Provider-assigned id, echoed back in the tool result message.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments as a JSON string exactly as the model wrote them.
    pub arguments: String,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Author.
    pub role: Role,
    /// Text content.
    pub content: String,
    /// Tool calls the assistant made in this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For [`Role::Tool`] messages: the call being answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Images shown to the model with this message (user messages only; the model must
    /// support vision, see [`ModelInfo::supports_vision`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageContent>,
}

/// An image attached to a user message.
///
/// ```
/// use metricchat_core::llm::{ChatMessage, ImageContent};
///
/// let msg = ChatMessage::user("What does this chart show?")
///     .with_image(ImageContent::from_bytes("image/png", b"\x89PNG\r\n"))
///     .with_image(ImageContent::url("https://example.com/q3.png"));
/// assert_eq!(msg.images.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageContent {
    /// An image the provider fetches itself (OpenAI, Anthropic; Gemini `fileData`). Ollama
    /// cannot fetch images and refuses these.
    Url {
        /// `https://…` (or a `data:` URL for OpenAI).
        url: String,
        /// The MIME type, when known (Gemini wants it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
    },
    /// Image bytes sent inline.
    Base64 {
        /// The MIME type: `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
        media_type: String,
        /// The bytes, standard base64 (no `data:` prefix).
        data: String,
    },
}

impl ImageContent {
    /// An image at `url`.
    pub fn url(url: impl Into<String>) -> Self {
        ImageContent::Url {
            url: url.into(),
            media_type: None,
        }
    }

    /// An image already base64-encoded.
    pub fn base64(media_type: impl Into<String>, data: impl Into<String>) -> Self {
        ImageContent::Base64 {
            media_type: media_type.into(),
            data: data.into(),
        }
    }

    /// Raw image bytes, encoded here.
    pub fn from_bytes(media_type: impl Into<String>, bytes: &[u8]) -> Self {
        Self::base64(media_type, base64_encode(bytes))
    }

    /// The MIME type, when known.
    pub fn media_type(&self) -> Option<&str> {
        match self {
            ImageContent::Url { media_type, .. } => media_type.as_deref(),
            ImageContent::Base64 { media_type, .. } => Some(media_type),
        }
    }

    /// A `data:{media_type};base64,{data}` URL for inline images, the URL itself otherwise.
    pub fn as_url(&self) -> String {
        match self {
            ImageContent::Url { url, .. } => url.clone(),
            ImageContent::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        }
    }
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]);
        let sextet = |shift: u32| char::from(ALPHABET[(n >> shift) & 0x3f]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// Checks a request's images before it is sent: only user messages carry them, the model must
/// support vision, inline images need an image MIME type and data, and (for providers that
/// cannot fetch URLs) every image must be inline.
pub(crate) fn check_images(
    provider: &str,
    info: &ModelInfo,
    request: &ChatRequest,
    urls_allowed: bool,
) -> Result<()> {
    let mut any = false;
    for m in &request.messages {
        if m.images.is_empty() {
            continue;
        }
        any = true;
        if m.role != Role::User {
            return Err(Error::invalid_input(format!(
                "images can only be attached to user messages, not {:?} messages",
                m.role
            )));
        }
        for image in &m.images {
            match image {
                ImageContent::Url { url, .. } => {
                    if url.trim().is_empty() {
                        return Err(Error::invalid_input("an image URL is empty"));
                    }
                    if !urls_allowed {
                        return Err(Error::Unsupported(format!(
                            "{provider} cannot fetch images from URLs; send the bytes \
                             (ImageContent::from_bytes) instead"
                        )));
                    }
                }
                ImageContent::Base64 { media_type, data } => {
                    if !media_type.starts_with("image/") {
                        return Err(Error::invalid_input(format!(
                            "an inline image needs an image/* media type, got `{media_type}`"
                        )));
                    }
                    if data.trim().is_empty() {
                        return Err(Error::invalid_input("an inline image has no data"));
                    }
                }
            }
        }
    }
    if any && !info.supports_vision {
        return Err(Error::Unsupported(format!(
            "{provider} model `{}` does not accept images (model_info().supports_vision is \
             false; set `supports_vision` in the config if the model does)",
            info.model
        )));
    }
    Ok(())
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// A tool result for `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }

    /// Attaches an image (user messages only).
    pub fn with_image(mut self, image: ImageContent) -> Self {
        self.images.push(image);
        self
    }

    fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            images: Vec::new(),
        }
    }
}

/// A tool the model may call, as JSON Schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Tool name.
    pub name: String,
    /// What the tool does and when to use it.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// This tool.
    Tool(String),
}

/// The output format requested.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    #[default]
    Text,
    /// One JSON object (provider JSON mode).
    JsonObject,
}

/// A provider-neutral chat request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation, system messages first.
    pub messages: Vec<ChatMessage>,
    /// Tools offered to the model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Tool choice (only sent when tools are offered).
    #[serde(default)]
    pub tool_choice: ToolChoice,
    /// Output format.
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Completion token cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// A label for logs and fake-server matching (`planner`, `title`, `sql_repair`); not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

impl ChatRequest {
    /// A request with these messages and defaults elsewhere.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            ..Default::default()
        }
    }

    /// Sets [`ChatRequest::purpose`].
    pub fn with_purpose(mut self, purpose: &str) -> Self {
        self.purpose = Some(purpose.to_string());
        self
    }
}

/// Token usage of one or more calls.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Prompt tokens served from the provider's cache, when reported.
    #[serde(default)]
    pub cached_input_tokens: u64,
}

impl Usage {
    /// Input plus output tokens.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// Natural end.
    Stop,
    /// Hit the token cap.
    Length,
    /// Stopped to call tools.
    ToolCalls,
    /// Blocked by the provider's content filter. The clients in this crate report this as an
    /// [`ErrorKind::ContentFiltered`](crate::error::ErrorKind::ContentFiltered) error instead of a
    /// finish event; custom clients may still send it.
    ContentFilter,
    /// Anything else.
    Other,
}

/// One event of a streamed chat response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    /// More text.
    TextDelta {
        /// The new text.
        text: String,
    },
    /// A fragment of a tool call being streamed.
    ToolCallDelta {
        /// Position of the call in this turn.
        index: usize,
        /// Call id, usually only on the first fragment.
        id: Option<String>,
        /// Tool name, usually only on the first fragment.
        name: Option<String>,
        /// More of the JSON arguments.
        arguments: String,
    },
    /// A complete tool call (emitted once all its fragments arrived).
    ToolCall {
        /// The call.
        call: ToolCall,
    },
    /// Token usage.
    Usage {
        /// The usage.
        usage: Usage,
    },
    /// The response ended.
    Finish {
        /// Why.
        reason: FinishReason,
    },
}

/// A streamed chat response.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent>> + Send>>;

/// A complete (folded) chat response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// All text.
    pub text: String,
    /// All tool calls.
    pub tool_calls: Vec<ToolCall>,
    /// Usage, if reported.
    pub usage: Usage,
    /// Why it stopped.
    pub finish_reason: Option<FinishReason>,
}

impl ChatResponse {
    /// The reported usage, or an estimate (4 characters a token) when the provider reported
    /// none — some OpenAI-compatible servers ignore `stream_options.include_usage`, and budgets
    /// must still count.
    pub fn usage_or_estimate(&self, request: &ChatRequest) -> Usage {
        if self.usage.total() > 0 {
            return self.usage;
        }
        estimate_usage(request, &self.text, &self.tool_calls)
    }
}

/// Estimates usage at 4 characters a token.
pub fn estimate_usage(request: &ChatRequest, text: &str, calls: &[ToolCall]) -> Usage {
    let chars = |s: &str| s.chars().count() as u64;
    let input: u64 = request
        .messages
        .iter()
        .map(|m| {
            chars(&m.content)
                + m.tool_calls
                    .iter()
                    .map(|c| chars(&c.arguments))
                    .sum::<u64>()
        })
        .sum::<u64>()
        + request
            .tools
            .iter()
            .map(|t| chars(&t.description) + chars(&t.parameters.to_string()))
            .sum::<u64>();
    let output = chars(text)
        + calls
            .iter()
            .map(|c| chars(&c.arguments) + chars(&c.name))
            .sum::<u64>();
    Usage {
        input_tokens: input.div_ceil(4),
        output_tokens: output.div_ceil(4),
        cached_input_tokens: 0,
    }
}

/// Prices in US dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    /// Per million input tokens.
    pub input_per_mtok: f64,
    /// Per million output tokens.
    pub output_per_mtok: f64,
}

impl Pricing {
    /// Cost of `usage` at these prices.
    #[allow(clippy::cast_precision_loss)]
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.input_tokens as f64 * self.input_per_mtok
            + usage.output_tokens as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}

/// Static facts about a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Provider name (`openai`, …).
    pub provider: String,
    /// Model id.
    pub model: String,
    /// Context window in tokens.
    pub context_window: u32,
    /// Native tool calling works.
    pub supports_tools: bool,
    /// A JSON output mode exists.
    pub supports_json_mode: bool,
    /// Images can be sent.
    pub supports_vision: bool,
    /// Prices, when known.
    pub pricing: Option<Pricing>,
}

/// A chat model behind some provider's API.
///
/// `stream` is the one required call; [`LlmClient::complete`] folds it.
#[async_trait]
pub trait LlmClient: Send + Sync + fmt::Debug {
    /// Facts about the model.
    fn model_info(&self) -> ModelInfo;

    /// Starts a streamed response. Dropping the stream aborts the request.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream>;

    /// Runs a request to completion.
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
        let mut stream = self.stream(request).await?;
        let mut acc = ChatAccumulator::default();
        while let Some(ev) = stream.next().await {
            acc.push(&ev?);
        }
        Ok(acc.finish())
    }
}

/// A shared model is a model (as rig does for `CompletionModel`): `Agent::builder().llm(arc)`
/// takes an `Arc<dyn LlmClient>` as well as an owned client.
#[async_trait]
impl<T: LlmClient + ?Sized> LlmClient for std::sync::Arc<T> {
    fn model_info(&self) -> ModelInfo {
        (**self).model_info()
    }
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        (**self).stream(request).await
    }
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
        (**self).complete(request).await
    }
}

/// Folds [`ChatEvent`]s into a [`ChatResponse`], assembling tool calls from their fragments.
#[derive(Debug, Default)]
pub struct ChatAccumulator {
    text: String,
    partial_calls: BTreeMap<usize, ToolCall>,
    complete_calls: Vec<ToolCall>,
    usage: Usage,
    finish: Option<FinishReason>,
}

impl ChatAccumulator {
    /// Adds one event.
    pub fn push(&mut self, ev: &ChatEvent) {
        match ev {
            ChatEvent::TextDelta { text } => self.text.push_str(text),
            ChatEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => {
                let call = self
                    .partial_calls
                    .entry(*index)
                    .or_insert_with(|| ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                if let Some(id) = id {
                    call.id.clone_from(id);
                }
                if let Some(name) = name {
                    call.name.push_str(name);
                }
                call.arguments.push_str(arguments);
            }
            ChatEvent::ToolCall { call } => self.complete_calls.push(call.clone()),
            ChatEvent::Usage { usage } => self.usage = *usage,
            ChatEvent::Finish { reason } => self.finish = Some(*reason),
        }
    }

    /// Text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The folded response. Complete [`ChatEvent::ToolCall`]s win; fragments are used only
    /// when a provider sent no complete calls.
    pub fn finish(self) -> ChatResponse {
        let calls = if self.complete_calls.is_empty() {
            self.partial_calls.into_values().collect()
        } else {
            self.complete_calls
        };
        ChatResponse {
            text: self.text,
            tool_calls: calls,
            usage: self.usage,
            finish_reason: self.finish,
        }
    }
}

/// Turns a provider's content-filter stop into a typed [`ErrorKind::ContentFiltered`] error.
///
/// The events before it (text, usage) still reach the caller; the
/// [`ChatEvent::Finish`] with [`FinishReason::ContentFilter`] is replaced by the error, so a
/// filtered answer is never mistaken for a complete one. `what` names the provider's signal
/// (`finish_reason content_filter`, `stop_reason refusal`, …).
pub(crate) fn content_filter_as_error(
    provider: &'static str,
    what: &'static str,
    stream: ChatStream,
) -> ChatStream {
    Box::pin(stream.map(move |item| match item {
        Ok(ChatEvent::Finish {
            reason: FinishReason::ContentFilter,
        }) => Err(Error::Provider {
            provider: provider.to_string(),
            status: None,
            message: format!("the provider's content filter stopped the answer ({what})"),
            kind: crate::error::ErrorKind::ContentFiltered,
            retry_after: None,
            source: None,
        }),
        other => other,
    }))
}

/// Makes an [`Error::Provider`] with no HTTP status.
pub(crate) fn transport_error(
    provider: &str,
    message: impl Into<String>,
    source: Option<crate::error::BoxError>,
) -> Error {
    Error::Provider {
        provider: provider.to_string(),
        status: None,
        message: message.into(),
        kind: crate::error::ErrorKind::Llm,
        retry_after: None,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(raw.as_bytes()), enc);
        }
        assert_eq!(base64_encode(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn accumulator_joins_fragments() {
        let mut acc = ChatAccumulator::default();
        for ev in [
            ChatEvent::TextDelta { text: "Hel".into() },
            ChatEvent::TextDelta { text: "lo".into() },
            ChatEvent::ToolCallDelta {
                index: 0,
                id: Some("c1".into()),
                name: Some("create_data".into()),
                arguments: "{\"sq".into(),
            },
            ChatEvent::ToolCallDelta {
                index: 0,
                id: None,
                name: None,
                arguments: "l\":1}".into(),
            },
            ChatEvent::Finish {
                reason: FinishReason::ToolCalls,
            },
        ] {
            acc.push(&ev);
        }
        let r = acc.finish();
        assert_eq!(r.text, "Hello");
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!(r.tool_calls[0].arguments, "{\"sql\":1}");
        assert_eq!(r.finish_reason, Some(FinishReason::ToolCalls));
    }
}
