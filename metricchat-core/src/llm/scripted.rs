//! A scripted in-process [`LlmClient`] for unit tests: replays turns, records requests.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

use super::{
    ChatEvent, ChatRequest, ChatStream, FinishReason, LlmClient, ModelInfo, ToolCall, Usage,
};
use crate::error::{Error, Result};

/// One scripted model turn.
#[derive(Debug, Clone)]
pub enum ScriptedTurn {
    /// Stream `text` in chunks of `chunk_chars` characters.
    Text {
        /// The text.
        text: String,
        /// Characters per streamed delta.
        chunk_chars: usize,
    },
    /// Call tools (native tool calling), with optional text first.
    ToolCalls {
        /// Text before the calls.
        text: String,
        /// The calls.
        calls: Vec<ToolCall>,
    },
    /// Fail with this error.
    Fail(Arc<Error>),
    /// Never answer (until dropped).
    Hang,
    /// Answer `then` after waiting.
    Delay(Duration, Box<ScriptedTurn>),
}

impl ScriptedTurn {
    /// A streamed text turn (8-character chunks).
    pub fn text(text: impl Into<String>) -> Self {
        ScriptedTurn::Text {
            text: text.into(),
            chunk_chars: 8,
        }
    }

    /// A turn that calls one tool with `arguments`.
    pub fn tool_call(name: &str, arguments: serde_json::Value) -> Self {
        ScriptedTurn::ToolCalls {
            text: String::new(),
            calls: vec![ToolCall {
                id: format!("call_{name}"),
                name: name.to_string(),
                arguments: arguments.to_string(),
            }],
        }
    }

    /// A failing turn.
    pub fn fail(error: Error) -> Self {
        ScriptedTurn::Fail(Arc::new(error))
    }
}

/// A scripted model. Turns are consumed in order; a request with no turn left fails with
/// [`Error::Internal`] so a test notices an unexpected call.
#[derive(Debug, Clone)]
pub struct ScriptedLlm {
    inner: Arc<Mutex<ScriptState>>,
    info: ModelInfo,
}

#[derive(Debug, Default)]
struct ScriptState {
    turns: VecDeque<ScriptedTurn>,
    requests: Vec<ChatRequest>,
}

impl ScriptedLlm {
    /// A model replaying `turns`; `supports_tools` picks the planner's protocol.
    pub fn new(turns: impl IntoIterator<Item = ScriptedTurn>, supports_tools: bool) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ScriptState {
                turns: turns.into_iter().collect(),
                requests: Vec::new(),
            })),
            info: ModelInfo {
                provider: "scripted".into(),
                model: "scripted".into(),
                context_window: 32_768,
                supports_tools,
                supports_json_mode: true,
                supports_vision: false,
                pricing: None,
            },
        }
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.inner
            .lock()
            .map(|g| g.requests.clone())
            .unwrap_or_default()
    }

    /// Turns not yet consumed.
    pub fn remaining(&self) -> usize {
        self.inner.lock().map(|g| g.turns.len()).unwrap_or_default()
    }
}

fn usage_for(request: &ChatRequest, output: &str) -> Usage {
    let input: usize = request.messages.iter().map(|m| m.content.len()).sum();
    Usage {
        input_tokens: (input / 4) as u64,
        output_tokens: (output.len() / 4).max(1) as u64,
        cached_input_tokens: 0,
    }
}

#[async_trait]
impl LlmClient for ScriptedLlm {
    fn model_info(&self) -> ModelInfo {
        self.info.clone()
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let turn = {
            let mut g = self
                .inner
                .lock()
                .map_err(|_| Error::Internal("scripted llm lock poisoned".into()))?;
            g.requests.push(request.clone());
            g.turns.pop_front()
        };
        let Some(mut turn) = turn else {
            return Err(Error::Internal(format!(
                "scripted llm: unexpected request (purpose {:?})",
                request.purpose
            )));
        };
        while let ScriptedTurn::Delay(d, then) = turn {
            tokio::time::sleep(d).await;
            turn = *then;
        }
        let events: Vec<Result<ChatEvent>> = match turn {
            ScriptedTurn::Text { text, chunk_chars } => {
                let chars: Vec<char> = text.chars().collect();
                let mut evs: Vec<Result<ChatEvent>> = chars
                    .chunks(chunk_chars.max(1))
                    .map(|c| {
                        Ok(ChatEvent::TextDelta {
                            text: c.iter().collect(),
                        })
                    })
                    .collect();
                evs.push(Ok(ChatEvent::Usage {
                    usage: usage_for(&request, &text),
                }));
                evs.push(Ok(ChatEvent::Finish {
                    reason: FinishReason::Stop,
                }));
                evs
            }
            ScriptedTurn::ToolCalls { text, calls } => {
                let mut evs = Vec::new();
                if !text.is_empty() {
                    evs.push(Ok(ChatEvent::TextDelta { text: text.clone() }));
                }
                let mut out = text;
                for (index, call) in calls.into_iter().enumerate() {
                    evs.push(Ok(ChatEvent::ToolCallDelta {
                        index,
                        id: Some(call.id.clone()),
                        name: Some(call.name.clone()),
                        arguments: call.arguments.clone(),
                    }));
                    out.push_str(&call.arguments);
                    evs.push(Ok(ChatEvent::ToolCall { call }));
                }
                evs.push(Ok(ChatEvent::Usage {
                    usage: usage_for(&request, &out),
                }));
                evs.push(Ok(ChatEvent::Finish {
                    reason: FinishReason::ToolCalls,
                }));
                evs
            }
            ScriptedTurn::Fail(e) => {
                return Err(match Arc::try_unwrap(e) {
                    Ok(e) => e,
                    Err(shared) => Error::Internal(shared.to_string()),
                });
            }
            ScriptedTurn::Hang => {
                return Ok(futures::stream::pending().boxed());
            }
            ScriptedTurn::Delay(..) => Vec::new(),
        };
        Ok(futures::stream::iter(events).boxed())
    }
}
