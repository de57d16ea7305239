//! Anthropic Messages wire format (`POST /v1/messages`): `message` bodies, the named
//! server-sent events of a streamed message (`message_start`, `content_block_start`,
//! `content_block_delta`, `content_block_stop`, `message_delta`, `message_stop`, `ping`,
//! `error`), and `{"type": "error", "error": {...}}` error bodies.
//!
//! The same [`Reply`] script as for OpenAI is rendered here: OpenAI finish reasons are
//! translated (`stop` -> `end_turn`, `length` -> `max_tokens`, `tool_calls` -> `tool_use`), and a
//! status reply without a custom body gets Anthropic's error body for that status.

use serde_json::{Value, json};

use crate::script::{FakeToolCall, FakeUsage, Reply};
use crate::wire::{self, Frame, Req};

/// Anthropic's error body `{"type": "error", "error": {"type", "message"}}`.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// The error type and message Anthropic answers `status` with.
pub fn default_error(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("invalid_request_error", "Invalid request."),
        401 => ("authentication_error", "invalid x-api-key"),
        403 => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404 => (
            "not_found_error",
            "The requested resource could not be found.",
        ),
        413 => (
            "request_too_large",
            "Request exceeds the maximum allowed size.",
        ),
        429 => (
            "rate_limit_error",
            "Your account has hit a rate limit. Please try again later.",
        ),
        529 => ("overloaded_error", "Overloaded"),
        _ => ("api_error", "Internal server error"),
    }
}

/// Anthropic's 400 for a prompt over the model's context window.
pub fn prompt_too_long() -> Reply {
    Reply::Status {
        status: 400,
        body: Some(error_body(
            "invalid_request_error",
            "prompt is too long: 208656 tokens > 200000 maximum",
        )),
        headers: Default::default(),
    }
}

/// A 529 `overloaded_error` reply.
pub fn overloaded() -> Reply {
    Reply::Status {
        status: 529,
        body: Some(error_body("overloaded_error", "Overloaded")),
        headers: Default::default(),
    }
}

fn stop_reason(openai: &str) -> &str {
    match openai {
        "stop" => "end_turn",
        "length" => "max_tokens",
        "tool_calls" => "tool_use",
        "content_filter" => "refusal",
        other => other,
    }
}

fn usage_json(req: &Req, usage: Option<FakeUsage>, completion_chars: usize) -> (Value, u64) {
    let u = usage.unwrap_or(FakeUsage {
        prompt_tokens: wire::estimate_tokens(req.prompt_chars),
        completion_tokens: wire::estimate_tokens(completion_chars),
        cached_tokens: 0,
    });
    // Anthropic's `input_tokens` excludes tokens read from the cache.
    let input = u.prompt_tokens.saturating_sub(u.cached_tokens);
    (
        json!({
            "input_tokens": input,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": u.cached_tokens,
            "output_tokens": u.completion_tokens,
        }),
        u.completion_tokens,
    )
}

fn id(req: &Req) -> String {
    format!("msg_fake{:06}", req.n)
}

fn event(name: &str, data: &Value) -> Frame {
    Frame::Raw(format!("event: {name}\ndata: {data}\n\n"))
}

fn message_start(req: &Req, usage: &Value) -> Frame {
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(1);
    event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": id(req), "type": "message", "role": "assistant", "content": [],
            "model": req.model, "stop_reason": null, "stop_sequence": null,
            "usage": start_usage,
        }}),
    )
}

fn text_block(index: usize, text: &str, chunk_chars: usize) -> Vec<Frame> {
    let mut frames = vec![event(
        "content_block_start",
        &json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "text", "text": ""}}),
    )];
    frames.extend(wire::pieces(text, chunk_chars).into_iter().map(|p| {
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": p}}),
        )
    }));
    frames.push(event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    ));
    frames
}

fn ending(stop: &str, output_tokens: u64) -> Vec<Frame> {
    vec![
        event(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": null},
                    "usage": {"output_tokens": output_tokens}}),
        ),
        event("message_stop", &json!({"type": "message_stop"})),
    ]
}

fn ping() -> Frame {
    event("ping", &json!({"type": "ping"}))
}

fn message(req: &Req, content: Vec<Value>, stop: &str, usage: Value) -> Value {
    json!({
        "id": id(req), "type": "message", "role": "assistant", "model": req.model,
        "content": content, "stop_reason": stop, "stop_sequence": null, "usage": usage,
    })
}

/// Text streamed before an error, cut or stall: the opening events and the text deltas, with
/// the block left open.
fn partial_text(req: &Req, text: &str) -> Vec<Frame> {
    let (usage, _) = usage_json(req, None, 0);
    let mut frames = vec![message_start(req, &usage), ping()];
    let mut block = text_block(0, text, 4);
    block.pop();
    frames.extend(block);
    frames
}

const SSE: &str = "text/event-stream; charset=utf-8";

/// Answers one request with `reply`.
pub(crate) async fn respond(req: Req, reply: Reply) -> wire::Response {
    wire::play(&req, reply, stopped, render).await
}

fn stopped() -> wire::Response {
    wire::json_status(529, error_body("overloaded_error", "fake server stopped"))
}

/// The 500 answer to a request no exchange matched.
pub(crate) fn unexpected(summary: &str) -> wire::Response {
    wire::json_status(
        500,
        error_body("api_error", &format!("unexpected request: {summary}")),
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
            let stop = stop_reason(finish_reason.as_deref().unwrap_or("stop")).to_string();
            let (usage, output) = usage_json(req, usage, text.chars().count());
            if !req.stream {
                let content = vec![json!({"type": "text", "text": text})];
                return wire::json_status(200, message(req, content, &stop, usage));
            }
            let mut frames = vec![message_start(req, &usage), ping()];
            frames.extend(text_block(0, &text, chunk_chars));
            frames.extend(ending(&stop, output));
            wire::streamed(req, SSE, wire::with_delays(frames, chunk_delay_ms))
        }
        Reply::ToolCalls {
            calls,
            text,
            chunk_chars,
            chunk_delay_ms,
            usage,
        } => {
            let ids: Vec<(String, &FakeToolCall)> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let id = if c.id.is_empty() {
                        format!("toolu_fake{:06}_{i}", req.n)
                    } else {
                        c.id.clone()
                    };
                    (id, c)
                })
                .collect();
            let text = text.unwrap_or_default();
            let n = text.chars().count()
                + calls
                    .iter()
                    .map(|c| c.arguments_text().chars().count())
                    .sum::<usize>();
            let (usage, output) = usage_json(req, usage, n);
            if !req.stream {
                let mut content = Vec::new();
                if !text.is_empty() {
                    content.push(json!({"type": "text", "text": text}));
                }
                content.extend(ids.iter().map(|(id, c)| {
                    let input = serde_json::from_str::<Value>(&c.arguments_text())
                        .unwrap_or_else(|_| json!({}));
                    json!({"type": "tool_use", "id": id, "name": c.name, "input": input})
                }));
                return wire::json_status(200, message(req, content, "tool_use", usage));
            }
            let mut frames = vec![message_start(req, &usage), ping()];
            let mut index = 0;
            if !text.is_empty() {
                frames.extend(text_block(0, &text, chunk_chars));
                index = 1;
            }
            for (id, call) in &ids {
                frames.push(event(
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": index,
                            "content_block": {"type": "tool_use", "id": id, "name": call.name,
                                              "input": {}}}),
                ));
                frames.push(event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": ""}}),
                ));
                for p in wire::pieces(&call.arguments_text(), chunk_chars) {
                    frames.push(event(
                        "content_block_delta",
                        &json!({"type": "content_block_delta", "index": index,
                                "delta": {"type": "input_json_delta", "partial_json": p}}),
                    ));
                }
                frames.push(event(
                    "content_block_stop",
                    &json!({"type": "content_block_stop", "index": index}),
                ));
                index += 1;
            }
            frames.extend(ending("tool_use", output));
            wire::streamed(req, SSE, wire::with_delays(frames, chunk_delay_ms))
        }
        Reply::Status {
            status,
            body,
            headers,
        } => {
            let body = if wire::is_default_body(status, body.as_ref()) {
                let (kind, message) = default_error(status);
                error_body(kind, message)
            } else {
                body.unwrap_or(Value::Null)
            };
            let mut resp = wire::json_status(status, body);
            wire::add_headers(&mut resp, headers);
            resp
        }
        Reply::StreamError { text_before, error } => {
            let mut frames = partial_text(req, &text_before);
            let error = if error.get("type").is_some() {
                error
            } else {
                json!({"type": "api_error", "message": error.get("message").cloned().unwrap_or(error)})
            };
            frames.push(event("error", &json!({"type": "error", "error": error})));
            wire::streamed(req, SSE, frames)
        }
        Reply::CutStream { text_before } => {
            let mut frames = partial_text(req, &text_before);
            // Let the events reach the client first: an aborted body discards unflushed bytes.
            frames.push(Frame::Sleep(50));
            frames.push(Frame::Cut);
            wire::streamed(req, SSE, frames)
        }
        Reply::StallMidStream { text_before } => {
            let mut frames = partial_text(req, &text_before);
            frames.push(Frame::Hold);
            wire::streamed(req, SSE, frames)
        }
        // Played (or removed, `WithoutUsage`) before rendering.
        Reply::Stall | Reply::Delay { .. } | Reply::WithoutUsage { .. } => stopped(),
    }
}
