//! Ollama responses: `/api/chat` NDJSON lines and `{"error": …}` lines.

use std::collections::VecDeque;

use serde_json::Value;

use super::PROVIDER;
use crate::error::{Error, ErrorKind, Result};
use crate::llm::http::malformed;
use crate::llm::provider::{Decode, Step};
use crate::llm::{ChatEvent, FinishReason, ToolCall, Usage};
use crate::text::truncate;

/// Ollama's `the input length exceeds the context length` (and the runner's
/// `input exceeds context length`).
pub(super) fn is_context_error(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("exceeds the context length") || lower.contains("exceeds context length")
}

/// An `{"error": "..."}` line inside a 200 stream, if `line` is one.
fn error_line(line: &str) -> Option<Error> {
    let v: Value = serde_json::from_str(line).ok()?;
    let e = v.get("error")?;
    let message = e
        .as_str()
        .or_else(|| e.get("message").and_then(Value::as_str))
        .map_or_else(|| truncate(line, 500), str::to_string);
    Some(Error::Provider {
        provider: PROVIDER.into(),
        status: None,
        kind: if is_context_error(&message) {
            ErrorKind::ContextLengthExceeded
        } else {
            ErrorKind::Llm
        },
        message,
        retry_after: None,
        source: None,
    })
}

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        _ => FinishReason::Other,
    }
}

/// Turns `/api/chat` lines into [`ChatEvent`]s.
#[derive(Debug, Default)]
pub(super) struct Decoder {
    calls: Vec<ToolCall>,
}

impl Decoder {
    fn line(&mut self, line: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        if let Some(err) = error_line(line) {
            return Err(err);
        }
        let v: Value =
            serde_json::from_str(line).map_err(|e| malformed(PROVIDER, "stream line", line, e))?;
        if let Some(text) = v.pointer("/message/content").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push_back(ChatEvent::TextDelta {
                text: text.to_string(),
            });
        }
        let calls = v.pointer("/message/tool_calls").and_then(Value::as_array);
        for c in calls.into_iter().flatten() {
            let index = self.calls.len();
            let id = c
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(|| format!("call_{index}"), str::to_string);
            let name = c
                .pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let arguments = match c.pointer("/function/arguments") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => "{}".into(),
                Some(other) => other.to_string(),
            };
            out.push_back(ChatEvent::ToolCallDelta {
                index,
                id: Some(id.clone()),
                name: Some(name.clone()),
                arguments: arguments.clone(),
            });
            self.calls.push(ToolCall {
                id,
                name,
                arguments,
            });
        }
        if !v.get("done").and_then(Value::as_bool).unwrap_or(false) {
            return Ok(Step::More);
        }
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        out.push_back(ChatEvent::Usage {
            usage: Usage {
                input_tokens: n("prompt_eval_count"),
                output_tokens: n("eval_count"),
                cached_input_tokens: 0,
            },
        });
        let had_calls = !self.calls.is_empty();
        for call in std::mem::take(&mut self.calls) {
            out.push_back(ChatEvent::ToolCall { call });
        }
        // Ollama reports `stop` after tool calls too.
        let reason = match v.get("done_reason").and_then(Value::as_str) {
            Some("length") => FinishReason::Length,
            _ if had_calls => FinishReason::ToolCalls,
            Some(other) => finish_reason(other),
            None => FinishReason::Stop,
        };
        out.push_back(ChatEvent::Finish { reason });
        Ok(Step::Done)
    }
}

impl Decode for Decoder {
    const UNIT: &'static str = "line";

    fn decode(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        self.line(data, out)
    }

    fn first(&mut self, data: &str, _out: &mut VecDeque<ChatEvent>) -> Result<bool> {
        error_line(data).map_or(Ok(false), Err)
    }

    fn close(&mut self, _out: &mut VecDeque<ChatEvent>) {
        // The `done` line carried the closing events already.
    }

    fn may_end_on_close(&self) -> bool {
        false
    }

    fn end_marker(&self) -> &'static str {
        "the `done` line"
    }

    fn decode_body(&mut self, body: &[u8], out: &mut VecDeque<ChatEvent>) -> Result<()> {
        // Ollama answers a stream even as `application/json`; read it line by line.
        let text = String::from_utf8_lossy(body);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            self.line(line.trim(), out)?;
        }
        Ok(())
    }
}
