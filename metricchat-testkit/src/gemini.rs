//! Google Gemini API wire format (`POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent`): `GenerateContentResponse` bodies, server-sent `data:` chunks of
//! them when the request asked for `alt=sse` (a JSON array of them otherwise), and
//! `{"error": {"code", "message", "status"}}` error bodies.
//!
//! The same [`Reply`] script as for OpenAI is rendered here: text arrives as `text` parts, tool
//! calls as whole `functionCall` parts (all in one chunk, each with a `thoughtSignature`, an `id`
//! only when the script gives one), usage as `usageMetadata`, and OpenAI finish reasons are
//! translated (`stop` and `tool_calls` -> `STOP`, `length` -> `MAX_TOKENS`, `content_filter` ->
//! `SAFETY`; anything else is sent upper-cased, so `"RECITATION"` can be scripted directly). A
//! status reply without a custom body gets Google's error body for that status.

use serde_json::{Value, json};

use crate::script::{FakeToolCall, FakeUsage, Reply};
use crate::wire::{self, Frame, Req};

/// Google's error body `{"error": {"code", "message", "status"}}`.
pub fn error_body(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

/// The google.rpc status and message Gemini answers HTTP `status` with.
pub fn default_error(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => (
            "UNAUTHENTICATED",
            "Request is missing required authentication credential.",
        ),
        403 => (
            "PERMISSION_DENIED",
            "The caller does not have permission to execute the specified operation.",
        ),
        404 => (
            "NOT_FOUND",
            "models/fake-model is not found for API version v1beta, or is not supported for generateContent.",
        ),
        429 => (
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        503 => (
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        504 => (
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        ),
        _ => ("INTERNAL", "An internal error has occurred."),
    }
}

/// Gemini's answer to a bad key: 400 `INVALID_ARGUMENT` with reason `API_KEY_INVALID`.
pub fn api_key_invalid() -> Reply {
    let mut body = error_body(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
    );
    body["error"]["details"] = json!([{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"}
    }]);
    status_reply(400, body)
}

/// 429 `RESOURCE_EXHAUSTED` with the wait in a `google.rpc.RetryInfo` detail (no header).
pub fn quota_exhausted(retry_delay_secs: u64) -> Reply {
    let (status, message) = default_error(429);
    let mut body = error_body(429, status, message);
    body["error"]["details"] = json!([{
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": format!("{retry_delay_secs}s")
    }]);
    status_reply(429, body)
}

/// 400 `INVALID_ARGUMENT` for a prompt longer than the model's context window.
pub fn context_too_long() -> Reply {
    status_reply(
        400,
        error_body(
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        ),
    )
}

/// A 200 answer refusing the prompt: `promptFeedback.blockReason` and no candidates.
pub fn prompt_blocked(reason: &str) -> Reply {
    status_reply(
        200,
        json!({
            "promptFeedback": {"blockReason": reason, "safetyRatings": []},
            "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
            "modelVersion": "fake-model"
        }),
    )
}

fn status_reply(status: u16, body: Value) -> Reply {
    Reply::Status {
        status,
        body: Some(body),
        headers: Default::default(),
    }
}

fn finish(openai: &str) -> String {
    match openai {
        "stop" | "tool_calls" => "STOP".into(),
        "length" => "MAX_TOKENS".into(),
        "content_filter" => "SAFETY".into(),
        other => other.to_ascii_uppercase(),
    }
}

fn usage_json(req: &Req, usage: Option<FakeUsage>, completion_chars: usize) -> Value {
    let u = usage.unwrap_or(FakeUsage {
        prompt_tokens: wire::estimate_tokens(req.prompt_chars),
        completion_tokens: wire::estimate_tokens(completion_chars),
        cached_tokens: 0,
    });
    let mut v = json!({
        "promptTokenCount": u.prompt_tokens,
        "candidatesTokenCount": u.completion_tokens,
        "totalTokenCount": u.prompt_tokens + u.completion_tokens,
    });
    if u.cached_tokens > 0 {
        v["cachedContentTokenCount"] = json!(u.cached_tokens);
    }
    v
}

fn response_id(req: &Req) -> String {
    format!("fake-gemini-{:06}", req.n)
}

/// One `GenerateContentResponse`.
fn response(req: &Req, parts: Vec<Value>, finish: Option<&str>, usage: Option<Value>) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = json!(f);
    }
    let mut v = json!({
        "candidates": [candidate],
        "modelVersion": req.model,
        "responseId": response_id(req),
    });
    if let Some(u) = usage {
        v["usageMetadata"] = u;
    }
    v
}

fn chunk(v: &Value) -> Frame {
    Frame::Raw(format!("data: {v}\r\n\r\n"))
}

/// Usage shown on chunks before the last: the prompt only.
fn prompt_usage(req: &Req) -> Value {
    let n = wire::estimate_tokens(req.prompt_chars);
    json!({"promptTokenCount": n, "totalTokenCount": n})
}

fn text_chunks(req: &Req, text: &str, chunk_chars: usize) -> Vec<Frame> {
    wire::pieces(text, chunk_chars)
        .into_iter()
        .map(|p| {
            chunk(&response(
                req,
                vec![json!({"text": p})],
                None,
                Some(prompt_usage(req)),
            ))
        })
        .collect()
}

fn call_part(req: &Req, i: usize, call: &FakeToolCall) -> Value {
    let args = match serde_json::from_str::<Value>(&call.arguments_text()) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    };
    let mut fc = json!({"name": call.name, "args": args});
    if !call.id.is_empty() {
        fc["id"] = json!(call.id);
    }
    json!({"functionCall": fc, "thoughtSignature": signature(req, i)})
}

/// The `thoughtSignature` the fake attaches to the `i`th call of answer `req.n`.
pub fn signature_for(n: u64, i: usize) -> String {
    format!("ZmFrZS1zaWc{n}x{i}")
}

fn signature(req: &Req, i: usize) -> String {
    signature_for(req.n, i)
}

const SSE: &str = "text/event-stream";

/// Answers one request with `reply`; `array` renders a streamed reply as one JSON array (what
/// `:streamGenerateContent` answers without `alt=sse`).
pub(crate) async fn respond(req: Req, reply: Reply, array: bool) -> wire::Response {
    wire::play(&req, reply, stopped, |req, reply| render(req, reply, array)).await
}

fn stopped() -> wire::Response {
    let (status, _) = default_error(503);
    wire::json_status(503, error_body(503, status, "fake server stopped"))
}

/// The 500 answer to a request no exchange matched.
pub(crate) fn unexpected(summary: &str) -> wire::Response {
    wire::json_status(
        500,
        error_body(500, "INTERNAL", &format!("unexpected request: {summary}")),
    )
}

fn render(req: &Req, reply: Reply, array: bool) -> wire::Response {
    match reply {
        Reply::Text {
            text,
            chunk_chars,
            chunk_delay_ms,
            usage,
            finish_reason,
        } => {
            let stop = finish(finish_reason.as_deref().unwrap_or("stop"));
            let usage = usage_json(req, usage, text.chars().count());
            if !req.stream || array {
                let whole = response(req, vec![json!({"text": text})], Some(&stop), Some(usage));
                return wire::json_status(200, if array { json!([whole]) } else { whole });
            }
            let mut pieces = wire::pieces(&text, chunk_chars);
            let last = pieces.pop().unwrap_or_default();
            let mut frames = text_chunks(req, &pieces.concat(), chunk_chars);
            frames.push(chunk(&response(
                req,
                vec![json!({"text": last})],
                Some(&stop),
                Some(usage),
            )));
            wire::streamed(req, SSE, wire::with_delays(frames, chunk_delay_ms))
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
            let usage = usage_json(req, usage, n);
            let call_parts: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| call_part(req, i, c))
                .collect();
            if !req.stream || array {
                let mut parts = Vec::new();
                if !text.is_empty() {
                    parts.push(json!({"text": text}));
                }
                parts.extend(call_parts);
                let whole = response(req, parts, Some("STOP"), Some(usage));
                return wire::json_status(200, if array { json!([whole]) } else { whole });
            }
            // Text streams in pieces; the calls arrive whole, together, in the last chunk.
            let mut frames = text_chunks(req, &text, chunk_chars);
            frames.push(chunk(&response(req, call_parts, Some("STOP"), Some(usage))));
            wire::streamed(req, SSE, wire::with_delays(frames, chunk_delay_ms))
        }
        Reply::Status {
            status,
            body,
            headers,
        } => {
            let body = if wire::is_default_body(status, body.as_ref()) {
                let (rpc, message) = default_error(status);
                error_body(status, rpc, message)
            } else {
                body.unwrap_or(Value::Null)
            };
            let mut resp = wire::json_status(status, body);
            wire::add_headers(&mut resp, headers);
            resp
        }
        Reply::StreamError { text_before, error } => {
            let mut frames = text_chunks(req, &text_before, 4);
            let error = if error.get("status").is_some() {
                error
            } else {
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| error.to_string(), str::to_string);
                json!({"code": 500, "message": message, "status": "INTERNAL"})
            };
            frames.push(chunk(&json!({"error": error})));
            wire::streamed(req, SSE, frames)
        }
        Reply::CutStream { text_before } => {
            let mut frames = text_chunks(req, &text_before, 4);
            // Let the chunks reach the client first: an aborted body discards unflushed bytes.
            frames.push(Frame::Sleep(50));
            frames.push(Frame::Cut);
            wire::streamed(req, SSE, frames)
        }
        Reply::StallMidStream { text_before } => {
            let mut frames = text_chunks(req, &text_before, 4);
            frames.push(Frame::Hold);
            wire::streamed(req, SSE, frames)
        }
        // Played (or removed, `WithoutUsage`) before rendering.
        Reply::Stall | Reply::Delay { .. } | Reply::WithoutUsage { .. } => stopped(),
    }
}

/// The model id and method of a `/v1beta/models/{model}:{method}` path.
pub(crate) fn model_and_method(path: &str) -> Option<(&str, &str)> {
    path.strip_prefix("/v1beta/models/")?.rsplit_once(':')
}
