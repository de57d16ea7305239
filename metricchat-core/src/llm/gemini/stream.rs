//! Gemini responses: `GenerateContentResponse` chunks (streamed, or whole in one JSON body).

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;

use super::errors::{blocked_prompt, error_in};
use super::{LOCAL_ID_PREFIX, PROVIDER, Signatures};
use crate::error::Result;
use crate::llm::http::malformed;
use crate::llm::provider::{Decode, Step};
use crate::llm::{ChatEvent, FinishReason, ToolCall, Usage};

pub(super) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// `usageMetadata` as [`Usage`]. `promptTokenCount` already includes cached content; thinking
/// tokens (`thoughtsTokenCount`) are billed as output, so they count as output here.
fn read_usage(u: &Value) -> Usage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: n("promptTokenCount") + n("toolUsePromptTokenCount"),
        output_tokens: n("candidatesTokenCount") + n("thoughtsTokenCount"),
        cached_input_tokens: n("cachedContentTokenCount"),
    }
}

/// A non-streamed body: one `GenerateContentResponse`, or an array of them (what
/// `:streamGenerateContent` answers without `alt=sse`).
fn json_events(bytes: &[u8], decoder: &mut Decoder, out: &mut VecDeque<ChatEvent>) -> Result<()> {
    let text = String::from_utf8_lossy(bytes);
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(PROVIDER, "response", &text, e))?;
    let items = match v {
        Value::Array(items) => items,
        other => vec![other],
    };
    for item in &items {
        decoder.value(item, &text, out)?;
    }
    decoder.finalize(out);
    Ok(())
}

/// Turns `GenerateContentResponse` chunks into [`ChatEvent`]s.
pub(super) struct Decoder {
    calls: Vec<ToolCall>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    signatures: Arc<Signatures>,
}

impl Decode for Decoder {
    const UNIT: &'static str = "chunk";

    fn decode(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step> {
        self.data(data, out).map(|()| Step::More)
    }

    fn first(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<bool> {
        // An error or a blocked prompt in the first chunk is still retryable where its kind is
        // (nothing was yielded yet).
        self.data(data, out).map(|()| true)
    }

    fn decode_body(&mut self, body: &[u8], out: &mut VecDeque<ChatEvent>) -> Result<()> {
        json_events(body, self, out)
    }

    fn close(&mut self, out: &mut VecDeque<ChatEvent>) {
        self.finalize(out);
    }

    fn may_end_on_close(&self) -> bool {
        // Gemini sends no end marker: a clean close after a finishReason is the end.
        self.finish.is_some()
    }

    fn end_marker(&self) -> &'static str {
        "a finishReason"
    }
}

impl Decoder {
    pub(super) fn new(signatures: Arc<Signatures>) -> Self {
        Self {
            calls: Vec::new(),
            usage: None,
            finish: None,
            signatures,
        }
    }

    pub(super) fn data(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<()> {
        let data = data.trim();
        let v: Value =
            serde_json::from_str(data).map_err(|e| malformed(PROVIDER, "stream chunk", data, e))?;
        self.value(&v, data, out)
    }

    fn value(&mut self, v: &Value, raw: &str, out: &mut VecDeque<ChatEvent>) -> Result<()> {
        if let Some(err) = error_in(v, raw) {
            return Err(err);
        }
        if let Some(reason) = v
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
        {
            let message = v
                .pointer("/promptFeedback/blockReasonMessage")
                .and_then(Value::as_str);
            return Err(blocked_prompt(reason, message));
        }
        if let Some(u) = v.get("usageMetadata").filter(|u| u.is_object()) {
            self.usage = Some(read_usage(u));
        }
        let Some(candidate) = v.pointer("/candidates/0") else {
            return Ok(());
        };
        let parts = candidate
            .pointer("/content/parts")
            .and_then(Value::as_array);
        for part in parts.into_iter().flatten() {
            // Thought summaries are not part of the answer.
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(text) = part.get("text").and_then(Value::as_str)
                && !text.is_empty()
            {
                out.push_back(ChatEvent::TextDelta {
                    text: text.to_string(),
                });
            }
            if let Some(fc) = part.get("functionCall") {
                let index = self.calls.len();
                let id = fc
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map_or_else(
                        || format!("{LOCAL_ID_PREFIX}{}", uuid::Uuid::new_v4().simple()),
                        str::to_string,
                    );
                let call = ToolCall {
                    id,
                    name: fc
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    arguments: match fc.get("args") {
                        Some(args @ Value::Object(_)) => args.to_string(),
                        _ => "{}".into(),
                    },
                };
                if let Some(sig) = part.get("thoughtSignature").and_then(Value::as_str) {
                    self.signatures.remember(&call.id, sig);
                }
                out.push_back(ChatEvent::ToolCallDelta {
                    index,
                    id: Some(call.id.clone()),
                    name: Some(call.name.clone()),
                    arguments: call.arguments.clone(),
                });
                self.calls.push(call);
            }
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str)
            && reason != "FINISH_REASON_UNSPECIFIED"
        {
            self.finish = Some(finish_reason(reason));
        }
        Ok(())
    }

    /// Emits usage, the tool calls and the finish event. Gemini reports `STOP` after function
    /// calls; that is [`FinishReason::ToolCalls`] here.
    pub(super) fn finalize(&mut self, out: &mut VecDeque<ChatEvent>) {
        if let Some(usage) = self.usage {
            out.push_back(ChatEvent::Usage { usage });
        }
        let calls = std::mem::take(&mut self.calls);
        let had_calls = !calls.is_empty();
        out.extend(calls.into_iter().map(|call| ChatEvent::ToolCall { call }));
        let reason = match self.finish {
            Some(FinishReason::Stop) | None if had_calls => FinishReason::ToolCalls,
            Some(reason) => reason,
            None => FinishReason::Stop,
        };
        out.push_back(ChatEvent::Finish { reason });
    }
}
