//! Anthropic responses: Messages stream events, a whole `message` body, and error events.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

use super::PROVIDER;
use crate::error::{Error, ErrorKind, Result};
use crate::llm::http::malformed;
use crate::llm::provider::{Decode, Step};
use crate::llm::{ChatEvent, FinishReason, ToolCall, Usage};
use crate::text::truncate;

/// The [`ErrorKind`] of an Anthropic error `type`.
pub(super) fn error_kind(kind: &str) -> Option<ErrorKind> {
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
pub(super) fn is_prompt_too_long(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("prompt is too long") || lower.contains("context window")
}

/// An `{"type": "error", "error": {...}}` event, if `data` is one.
pub(super) fn error_event(data: &str) -> Option<Error> {
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
pub(super) struct Decoder {
    /// Content block index -> position of the tool call in this turn.
    blocks: BTreeMap<usize, usize>,
    calls: BTreeMap<usize, ToolCall>,
    usage: Usage,
    finish: Option<FinishReason>,
}

impl Decode for Decoder {
    fn decode(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        self.data(data, out)
    }

    fn first(&mut self, data: &str, _out: &mut VecDeque<ChatEvent>) -> Result<bool> {
        error_event(data).map_or(Ok(false), Err)
    }

    fn is_keepalive(&self, event: &str) -> bool {
        event == "ping"
    }

    fn decode_body(&mut self, body: &[u8], out: &mut VecDeque<ChatEvent>) -> Result<()> {
        out.extend(message_events(body)?);
        Ok(())
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
    pub(super) fn data(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
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
    pub(super) fn finalize(&mut self, out: &mut VecDeque<ChatEvent>) {
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
