//! The [`Planner`]: decides the agent's next step. [`LlmPlanner`] is the default.

use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::llm::{ChatMessage, ToolSpec, Usage};

pub mod json_stream;
mod llm_planner;
pub mod sql_first;

pub use llm_planner::{DecisionProtocol, LlmPlanner, render_tools};

/// Whether a step gathers information or produces output for the user.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PlanType {
    /// Looking things up (schemas, distinct values).
    #[default]
    Research,
    /// Producing data, charts or answers.
    Action,
}

/// The tool call a decision asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannedAction {
    /// Tool name.
    pub tool: String,
    /// Arguments object.
    #[serde(default)]
    pub arguments: serde_json::Value,
    /// Provider tool-call id (native tool calling only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

/// Timing and token use of one decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DecisionMetrics {
    /// Time to the model's first token.
    pub first_token_ms: Option<u64>,
    /// Time for the whole decision.
    pub total_ms: u64,
    /// Tokens, across repair attempts.
    pub usage: Usage,
}

/// One decision of the planner (the proven shape of design section 2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannerDecision {
    /// The analysis is done: `final_answer` holds the answer.
    #[serde(default)]
    pub analysis_complete: bool,
    /// Research or action.
    #[serde(default)]
    pub plan_type: PlanType,
    /// The model's reasoning, shown to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_message: Option<String>,
    /// A message to the user alongside the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_message: Option<String>,
    /// The tool to run next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<PlannedAction>,
    /// The answer, when `analysis_complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_answer: Option<String>,
    /// Timing and usage.
    #[serde(default)]
    pub metrics: DecisionMetrics,
    /// A problem the planner recovered from (e.g. repaired output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The model's raw output, for the native protocol's history.
    #[serde(skip)]
    pub raw_assistant: Option<ChatMessage>,
}

/// What the planner sees for one decision.
#[derive(Debug, Clone)]
pub struct PlannerInput {
    /// Planner iteration, from 0.
    pub iteration: u32,
    /// System prompt rendered by the context hub.
    pub system_prompt: String,
    /// Conversation and this run's steps so far.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
}

/// A step of a streamed decision.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DecisionDelta {
    /// The decision so far (reasoning and message grow as the model writes).
    Partial {
        /// Reasoning so far.
        reasoning_message: Option<String>,
        /// Message so far.
        assistant_message: Option<String>,
        /// Final answer so far.
        final_answer: Option<String>,
    },
    /// The output was unusable; the planner is asking again.
    Retry {
        /// Retry number, from 1.
        attempt: u32,
        /// What was wrong.
        error: String,
    },
    /// The complete decision.
    Final(Box<PlannerDecision>),
}

/// A stream of [`DecisionDelta`]s ending in one `Final`.
pub type DecisionStream = Pin<Box<dyn Stream<Item = Result<DecisionDelta>> + Send>>;

/// Decides the agent's next step.
#[async_trait]
pub trait Planner: Send + Sync + std::fmt::Debug {
    /// Streams one decision for `input`.
    async fn decide(&self, input: PlannerInput) -> Result<DecisionStream>;

    /// The messages that record a decision and the tool's observation in the conversation, in
    /// the form this planner's protocol expects on the next call.
    fn step_messages(&self, decision: &PlannerDecision, observation: &str) -> Vec<ChatMessage> {
        json_text_step_messages(decision, observation)
    }
}

/// A shared planner is a planner (every method forwarded, overrides kept).
#[async_trait]
impl<T: Planner + ?Sized> Planner for std::sync::Arc<T> {
    async fn decide(&self, input: PlannerInput) -> Result<DecisionStream> {
        (**self).decide(input).await
    }
    fn step_messages(&self, decision: &PlannerDecision, observation: &str) -> Vec<ChatMessage> {
        (**self).step_messages(decision, observation)
    }
}

/// [`Planner::step_messages`] for the JSON-in-text protocol: the decision as the assistant's
/// JSON, the observation as a user message.
pub(crate) fn json_text_step_messages(
    decision: &PlannerDecision,
    observation: &str,
) -> Vec<ChatMessage> {
    let tool = decision
        .action
        .as_ref()
        .map_or("(none)", |a| a.tool.as_str());
    let assistant = decision.raw_assistant.clone().unwrap_or_else(|| {
        ChatMessage::assistant(
            serde_json::json!({
                "reasoning": decision.reasoning_message,
                "action": decision.action.as_ref().map(|a| serde_json::json!({
                    "tool": a.tool, "arguments": a.arguments
                })),
            })
            .to_string(),
        )
    });
    vec![
        ChatMessage {
            tool_calls: Vec::new(),
            ..assistant
        },
        ChatMessage::user(format!("Observation from {tool}:\n{observation}")),
    ]
}
