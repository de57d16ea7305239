//! Ollama `/api/chat` wire format: newline-delimited JSON chunks
//! `{"model", "created_at", "message": {"role", "content", "tool_calls"?}, "done": false}`, a
//! final `done: true` chunk with `done_reason`, `prompt_eval_count` and `eval_count`, and
//! `{"error": "..."}` error bodies.
//!
//! The same [`Reply`] script as for OpenAI is rendered here. Ollama sends each tool call whole,
//! with its arguments as a JSON object, so `chunk_chars` only splits text.

use serde_json::{Value, json};

use crate::script::{FakeToolCall, FakeUsage, Reply};
use crate::wire::{self, Frame, Req};

const NDJSON: &str = "application/x-ndjson";
const CREATED_AT: &str = "2025-01-01T00:00:00.000000Z";

/// The `{"error": "..."}` message Ollama-style servers answer `status` with.
pub fn default_error(status: u16) -> &'static str {
    match status {
        400 => "invalid request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "model not found, try pulling it first",
        429 => "too many requests",
        503 => "server busy, please try again. maximum pending requests exceeded",
        _ => "internal server error",
    }
}

/// Ollama's 400 for a prompt longer than `num_ctx` when the request says `truncate: false`.
pub fn context_exceeded() -> Reply {
    Reply::Status {
        status: 400,
        body: Some(json!({"error": "the input length exceeds the context length"})),
        headers: Default::default(),
    }
}

fn line(v: &Value) -> Frame {
    Frame::Raw(format!("{v}\n"))
}

fn chunk(req: &Req, message: Value) -> Value {
    json!({"model": req.model, "created_at": CREATED_AT, "message": message, "done": false})
}

fn text_chunk(req: &Req, text: &str) -> Frame {
    line(&chunk(req, json!({"role": "assistant", "content": text})))
}

fn done(req: &Req, reason: &str, usage: Option<FakeUsage>, completion_chars: usize) -> Value {
    let u = usage.unwrap_or(FakeUsage {
        prompt_tokens: wire::estimate_tokens(req.prompt_chars),
        completion_tokens: wire::estimate_tokens(completion_chars),
        cached_tokens: 0,
    });
    json!({
        "model": req.model, "created_at": CREATED_AT,
        "message": {"role": "assistant", "content": ""},
        "done": true, "done_reason": reason,
        "total_duration": 1_000_000, "load_duration": 100_000,
        "prompt_eval_count": u.prompt_tokens, "prompt_eval_duration": 200_000,
        "eval_count": u.completion_tokens, "eval_duration": 700_000,
    })
}

fn done_reason(openai: &str) -> &str {
    match openai {
        "tool_calls" => "stop",
        other => other,
    }
}

fn call_json(call: &FakeToolCall) -> Value {
    // Ollama sends arguments as an object; a scripted string that is not JSON is sent as a
    // string so malformed arguments can still be scripted.
    let arguments = match &call.arguments {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| json!(s)),
        other => other.clone(),
    };
    let mut v = json!({"function": {"name": call.name, "arguments": arguments}});
    if !call.id.is_empty() {
        v["id"] = json!(call.id);
    }
    v
}

/// Answers one request with `reply`.
pub(crate) async fn respond(req: Req, reply: Reply) -> wire::Response {
    wire::play(&req, reply, stopped, render).await
}

fn stopped() -> wire::Response {
    wire::json_status(503, json!({"error": "fake server stopped"}))
}

/// The 500 answer to a request no exchange matched.
pub(crate) fn unexpected(summary: &str) -> wire::Response {
    wire::json_status(
        500,
        json!({"error": format!("unexpected request: {summary}")}),
    )
}

fn render(req: &Req, reply: Reply) -> wire::Response {
    match reply {
        Reply::Text {
            text,
            chunk_chars,
            chunk_delay_ms,
            usage,
            finish_reason,
        } => {
            let reason = done_reason(finish_reason.as_deref().unwrap_or("stop")).to_string();
            let n = text.chars().count();
            if !req.stream {
                let mut v = done(req, &reason, usage, n);
                v["message"]["content"] = json!(text);
                return wire::json_status(200, v);
            }
            let mut frames: Vec<Frame> = wire::pieces(&text, chunk_chars)
                .iter()
                .map(|p| text_chunk(req, p))
                .collect();
            frames.push(line(&done(req, &reason, usage, n)));
            wire::streamed(req, NDJSON, wire::with_delays(frames, chunk_delay_ms))
        }
        Reply::ToolCalls {
            calls,
            text,
            chunk_chars,
            chunk_delay_ms,
            usage,
        } => {
            let text = text.unwrap_or_default();
            let n = text.chars().count()
                + calls
                    .iter()
                    .map(|c| c.arguments_text().chars().count())
                    .sum::<usize>();
            if !req.stream {
                let mut v = done(req, "stop", usage, n);
                v["message"]["content"] = json!(text);
                v["message"]["tool_calls"] = calls.iter().map(call_json).collect();
                return wire::json_status(200, v);
            }
            let mut frames: Vec<Frame> = wire::pieces(&text, chunk_chars)
                .iter()
                .map(|p| text_chunk(req, p))
                .collect();
            for call in &calls {
                frames.push(line(&chunk(
                    req,
                    json!({"role": "assistant", "content": "", "tool_calls": [call_json(call)]}),
                )));
            }
            frames.push(line(&done(req, "stop", usage, n)));
            wire::streamed(req, NDJSON, wire::with_delays(frames, chunk_delay_ms))
        }
        Reply::Status {
            status,
            body,
            headers,
        } => {
            let body = if wire::is_default_body(status, body.as_ref()) {
                json!({"error": default_error(status)})
            } else {
                body.unwrap_or(Value::Null)
            };
            let mut resp = wire::json_status(status, body);
            wire::add_headers(&mut resp, headers);
            resp
        }
        Reply::StreamError { text_before, error } => {
            let mut frames = partial_text(req, &text_before);
            let message = error
                .as_str()
                .or_else(|| error.get("message").and_then(Value::as_str))
                .map_or_else(|| error.to_string(), str::to_string);
            frames.push(line(&json!({"error": message})));
            wire::streamed(req, NDJSON, frames)
        }
        Reply::CutStream { text_before } => {
            let mut frames = partial_text(req, &text_before);
            // Let the lines reach the client first: an aborted body discards unflushed bytes.
            frames.push(Frame::Sleep(50));
            frames.push(Frame::Cut);
            wire::streamed(req, NDJSON, frames)
        }
        Reply::StallMidStream { text_before } => {
            let mut frames = partial_text(req, &text_before);
            frames.push(Frame::Hold);
            wire::streamed(req, NDJSON, frames)
        }
        // Played (or removed, `WithoutUsage`) before rendering.
        Reply::Stall | Reply::Delay { .. } | Reply::WithoutUsage { .. } => stopped(),
    }
}

fn partial_text(req: &Req, text: &str) -> Vec<Frame> {
    wire::pieces(text, 4)
        .iter()
        .map(|p| text_chunk(req, p))
        .collect()
}
