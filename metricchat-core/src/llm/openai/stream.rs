//! OpenAI responses: `chat.completion.chunk` events, a whole `chat.completion` body, and error
//! payloads inside a 200 response.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

use super::PROVIDER;
use crate::error::{Error, ErrorKind, Result};
use crate::llm::http::malformed;
use crate::llm::provider::{Decode, Step};
use crate::llm::{ChatEvent, FinishReason, ToolCall, Usage};
use crate::text::truncate;

/// An `{"error": {...}}` payload inside a 200 response (mid-stream or JSON body), if `data` is one.
pub(super) fn error_event(data: &str) -> Option<Error> {
    let value: Value = serde_json::from_str(data).ok()?;
    let err = value.get("error")?;
    if err.is_null() {
        return None;
    }
    let field = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("");
    let message = err
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| field("message").to_string());
    let code = field("code");
    let kind = match (field("type"), code) {
        (_, "rate_limit_exceeded") | ("rate_limit_error", _) => ErrorKind::RateLimited,
        (_, "invalid_api_key") | ("authentication_error", _) => ErrorKind::Unauthorized,
        (_, "context_length_exceeded") => ErrorKind::ContextLengthExceeded,
        (_, "content_filter") => ErrorKind::ContentFiltered,
        ("invalid_request_error", _) => ErrorKind::InvalidInput,
        (_, "model_not_found") => ErrorKind::NotFound,
        _ => ErrorKind::Llm,
    };
    Some(Error::Provider {
        provider: PROVIDER.into(),
        status: None,
        message: if message.is_empty() {
            truncate(data, 500)
        } else {
            message
        },
        kind,
        retry_after: None,
        source: None,
    })
}

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" | "end_turn" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

fn usage(v: &Value) -> Option<Usage> {
    let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    if !v.is_object() {
        return None;
    }
    Some(Usage {
        input_tokens: n(v.get("prompt_tokens")),
        output_tokens: n(v.get("completion_tokens")),
        cached_input_tokens: n(v.pointer("/prompt_tokens_details/cached_tokens")),
    })
}

/// Converts a non-streamed `chat.completion` body to the events a stream would have produced.
fn completion_events(bytes: &[u8]) -> Result<Vec<ChatEvent>> {
    let text = String::from_utf8_lossy(bytes);
    if let Some(err) = error_event(&text) {
        return Err(err);
    }
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(PROVIDER, "completion", &text, e))?;
    let choice = v.pointer("/choices/0");
    let message = choice.and_then(|c| c.get("message"));
    let mut events = Vec::new();
    if let Some(content) = message
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        && !content.is_empty()
    {
        events.push(ChatEvent::TextDelta {
            text: content.to_string(),
        });
    }
    let calls = message
        .and_then(|m| m.get("tool_calls"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut complete = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        let call = ToolCall {
            id: c
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("call_{i}"), str::to_string),
            name: c
                .pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            arguments: arguments_text(c.pointer("/function/arguments")),
        };
        events.push(ChatEvent::ToolCallDelta {
            index: i,
            id: Some(call.id.clone()),
            name: Some(call.name.clone()),
            arguments: call.arguments.clone(),
        });
        complete.push(ChatEvent::ToolCall { call });
    }
    if let Some(u) = v.get("usage").and_then(usage) {
        events.push(ChatEvent::Usage { usage: u });
    }
    events.extend(complete);
    let reason = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str)
        .map(finish_reason)
        .unwrap_or(if calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        });
    events.push(ChatEvent::Finish { reason });
    Ok(events)
}

/// Arguments are a JSON string on the wire; some compatible servers send an object instead.
fn arguments_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Turns `chat.completion.chunk` payloads into [`ChatEvent`]s, assembling tool calls.
#[derive(Debug, Default)]
pub(super) struct Decoder {
    calls: BTreeMap<usize, ToolCall>,
    finish: Option<FinishReason>,
}

impl Decode for Decoder {
    fn decode(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        self.data(data, out)
    }

    fn first(&mut self, data: &str, _out: &mut VecDeque<ChatEvent>) -> Result<bool> {
        error_event(data).map_or(Ok(false), Err)
    }

    fn decode_body(&mut self, body: &[u8], out: &mut VecDeque<ChatEvent>) -> Result<()> {
        out.extend(completion_events(body)?);
        Ok(())
    }

    fn close(&mut self, out: &mut VecDeque<ChatEvent>) {
        self.finalize(out);
    }

    fn may_end_on_close(&self) -> bool {
        self.finish.is_some()
    }

    fn end_marker(&self) -> &'static str {
        "a finish_reason or [DONE]"
    }
}

impl Decoder {
    pub(super) fn data(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(Step::Done);
        }
        if let Some(err) = error_event(data) {
            return Err(err);
        }
        let chunk: Value =
            serde_json::from_str(data).map_err(|e| malformed(PROVIDER, "stream chunk", data, e))?;
        // vLLM sends `choices: null` on the usage chunk.
        let choices = chunk.get("choices").and_then(Value::as_array);
        for choice in choices.into_iter().flatten() {
            if choice.get("index").and_then(Value::as_u64).unwrap_or(0) != 0 {
                continue;
            }
            if let Some(delta) = choice.get("delta") {
                self.delta(delta, out);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish = Some(finish_reason(reason));
            }
        }
        if let Some(u) = chunk.get("usage").and_then(usage) {
            out.push_back(ChatEvent::Usage { usage: u });
        }
        Ok(Step::More)
    }

    fn delta(&mut self, delta: &Value, out: &mut VecDeque<ChatEvent>) {
        if let Some(text) = delta.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push_back(ChatEvent::TextDelta {
                text: text.to_string(),
            });
        }
        let calls = delta.get("tool_calls").and_then(Value::as_array);
        for (pos, c) in calls.into_iter().flatten().enumerate() {
            let index = c
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| usize::try_from(i).ok())
                .unwrap_or(pos);
            let id = c
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let name = c
                .pointer("/function/name")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let arguments = arguments_text(c.pointer("/function/arguments"));
            let call = self.calls.entry(index).or_insert_with(|| ToolCall {
                id: String::new(),
                name: String::new(),
                arguments: String::new(),
            });
            if let Some(id) = id {
                call.id = id.to_string();
            }
            if let Some(name) = name {
                call.name.push_str(name);
            }
            call.arguments.push_str(&arguments);
            out.push_back(ChatEvent::ToolCallDelta {
                index,
                id: id.map(str::to_string),
                name: name.map(str::to_string),
                arguments,
            });
        }
    }

    /// Emits the assembled tool calls and the finish event.
    pub(super) fn finalize(&mut self, out: &mut VecDeque<ChatEvent>) {
        let calls = std::mem::take(&mut self.calls);
        let had_calls = !calls.is_empty();
        for (index, mut call) in calls {
            if call.id.is_empty() {
                call.id = format!("call_{index}");
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
