//! The [`LlmClient`] trait, the provider-neutral chat types, and the provider clients.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod anthropic;
pub mod gemini;
mod http;
pub mod ollama;
pub mod openai;
pub(crate) mod retry;
pub(crate) use retry::{duration_ms, duration_ms_opt};
pub mod scripted;
pub mod spec;

pub use anthropic::{AnthropicClient, AnthropicConfig};
pub use gemini::{GeminiClient, GeminiConfig};
pub use ollama::{OllamaClient, OllamaConfig};
pub use openai::{OpenAiClient, OpenAiConfig};
pub use retry::RetryPolicy;
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

    fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Blocked by the provider's content filter.
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
