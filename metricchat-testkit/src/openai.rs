//! OpenAI Chat Completions wire format: `chat.completion` bodies and `chat.completion.chunk`
//! server-sent events, in the exact shapes OpenAI sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::script::{FakeToolCall, FakeUsage, Reply, openai_error};

/// What the request asked for and how to label the answer.
pub(crate) struct Ctx {
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) created: u64,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
    pub(crate) prompt_chars: usize,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Count of streamed bodies still being sent (decremented when hyper drops the body,
    /// e.g. because the client went away).
    pub(crate) open_streams: Arc<AtomicUsize>,
}

impl Ctx {
    pub(crate) fn new(
        n: u64,
        body: &Value,
        raw_len: usize,
        shutdown: watch::Receiver<bool>,
        open_streams: Arc<AtomicUsize>,
    ) -> Self {
        Self {
            id: format!("chatcmpl-fake{n:06}"),
            model: body
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("fake-model")
                .to_string(),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
            include_usage: body
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            prompt_chars: raw_len,
            shutdown,
            open_streams,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Frame {
        let mut v = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if self.include_usage {
            v["usage"] = Value::Null;
        }
        Frame::Data(v.to_string())
    }

    fn usage_json(&self, usage: Option<FakeUsage>, completion_chars: usize) -> Value {
        let u = usage.unwrap_or(FakeUsage {
            prompt_tokens: estimate_tokens(self.prompt_chars),
            completion_tokens: estimate_tokens(completion_chars),
            cached_tokens: 0,
        });
        json!({
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "total_tokens": u.prompt_tokens + u.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": u.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        })
    }

    fn usage_chunk(&self, usage: Option<FakeUsage>, completion_chars: usize) -> Option<Frame> {
        self.include_usage.then(|| {
            Frame::Data(
                json!({
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": self.usage_json(usage, completion_chars),
                })
                .to_string(),
            )
        })
    }

    fn completion(
        &self,
        text: Option<&str>,
        calls: &[(String, &FakeToolCall)],
        finish: &str,
        usage: Option<FakeUsage>,
        completion_chars: usize,
    ) -> Value {
        let mut message = json!({"role": "assistant", "content": text, "refusal": null});
        if !calls.is_empty() {
            message["tool_calls"] = calls
                .iter()
                .map(|(id, c)| {
                    json!({"id": id, "type": "function",
                           "function": {"name": c.name, "arguments": c.arguments_text()}})
                })
                .collect();
        }
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
            "usage": self.usage_json(usage, completion_chars),
        })
    }
}

fn estimate_tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(4)).unwrap_or(u64::MAX).max(1)
}

fn pieces(s: &str, chars: usize) -> Vec<String> {
    let chars = chars.max(1);
    let all: Vec<char> = s.chars().collect();
    all.chunks(chars).map(|c| c.iter().collect()).collect()
}

/// One step of a streamed body.
enum Frame {
    /// An SSE `data:` payload.
    Data(String),
    /// A pause, in milliseconds.
    Sleep(u64),
    /// Drop the connection mid-body.
    Cut,
    /// Keep the connection open without sending anything until shutdown.
    Hold,
}

/// Answers one chat request with `reply`.
pub(crate) async fn respond(ctx: Ctx, reply: Reply) -> Response {
    let mut reply = reply;
    let mut shutdown = ctx.shutdown.clone();
    loop {
        match reply {
            Reply::Delay { ms, then } => {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return stopped(),
                }
                reply = *then;
            }
            Reply::Stall => {
                let _ = shutdown.wait_for(|stop| *stop).await;
                return stopped();
            }
            other => return render(&ctx, other),
        }
    }
}

fn stopped() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(openai_error(
            "fake server stopped",
            "server_error",
            Value::Null,
        )),
    )
        .into_response()
}

fn render(ctx: &Ctx, reply: Reply) -> Response {
    match reply {
        Reply::Text {
            text,
            chunk_chars,
            chunk_delay_ms,
            usage,
            finish_reason,
        } => {
            let finish = finish_reason.as_deref().unwrap_or("stop");
            let n = text.chars().count();
            if !ctx.stream {
                return json_response(ctx.completion(Some(&text), &[], finish, usage, n));
            }
            let mut frames = vec![ctx.chunk(
                json!({"role": "assistant", "content": "", "refusal": null}),
                None,
            )];
            frames.extend(
                pieces(&text, chunk_chars)
                    .into_iter()
                    .map(|p| ctx.chunk(json!({"content": p}), None)),
            );
            frames.push(ctx.chunk(json!({}), Some(finish)));
            frames.extend(ctx.usage_chunk(usage, n));
            frames.push(Frame::Data("[DONE]".into()));
            sse(ctx, with_delays(frames, chunk_delay_ms))
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
                        format!("call_{}_{i}", ctx.id.trim_start_matches("chatcmpl-"))
                    } else {
                        c.id.clone()
                    };
                    (id, c)
                })
                .collect();
            let n = text.as_deref().map_or(0, |t| t.chars().count())
                + calls
                    .iter()
                    .map(|c| c.arguments_text().chars().count())
                    .sum::<usize>();
            if !ctx.stream {
                return json_response(ctx.completion(
                    text.as_deref(),
                    &ids,
                    "tool_calls",
                    usage,
                    n,
                ));
            }
            let text = text.unwrap_or_default();
            let content = if text.is_empty() {
                Value::Null
            } else {
                json!("")
            };
            let mut frames = vec![ctx.chunk(
                json!({"role": "assistant", "content": content, "refusal": null}),
                None,
            )];
            frames.extend(
                pieces(&text, chunk_chars)
                    .into_iter()
                    .map(|p| ctx.chunk(json!({"content": p}), None)),
            );
            for (i, (id, call)) in ids.iter().enumerate() {
                frames.push(ctx.chunk(
                    json!({"tool_calls": [{"index": i, "id": id, "type": "function",
                                           "function": {"name": call.name, "arguments": ""}}]}),
                    None,
                ));
                for p in pieces(&call.arguments_text(), chunk_chars) {
                    frames.push(ctx.chunk(
                        json!({"tool_calls": [{"index": i, "function": {"arguments": p}}]}),
                        None,
                    ));
                }
            }
            frames.push(ctx.chunk(json!({}), Some("tool_calls")));
            frames.extend(ctx.usage_chunk(usage, n));
            frames.push(Frame::Data("[DONE]".into()));
            sse(ctx, with_delays(frames, chunk_delay_ms))
        }
        Reply::Status {
            status,
            body,
            headers,
        } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = body.unwrap_or_else(|| match Reply::status(status) {
                Reply::Status { body: Some(b), .. } => b,
                _ => Value::Null,
            });
            let mut resp = (code, axum::Json(body)).into_response();
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                    resp.headers_mut().insert(k, v);
                }
            }
            resp
        }
        Reply::StreamError { text_before, error } => {
            let mut frames = text_frames(ctx, &text_before);
            frames.push(Frame::Data(json!({"error": error}).to_string()));
            sse(ctx, frames)
        }
        Reply::CutStream { text_before } => {
            let mut frames = text_frames(ctx, &text_before);
            // Let the chunks reach the client first: an aborted body discards unflushed bytes.
            frames.push(Frame::Sleep(50));
            frames.push(Frame::Cut);
            sse(ctx, frames)
        }
        Reply::StallMidStream { text_before } => {
            let mut frames = text_frames(ctx, &text_before);
            frames.push(Frame::Hold);
            sse(ctx, frames)
        }
        // Handled in `respond`.
        // Played (or removed, `WithoutUsage`) before rendering.
        Reply::Stall | Reply::Delay { .. } | Reply::WithoutUsage { .. } => stopped(),
    }
}

fn text_frames(ctx: &Ctx, text: &str) -> Vec<Frame> {
    let mut frames = vec![ctx.chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        None,
    )];
    frames.extend(
        pieces(text, 4)
            .into_iter()
            .map(|p| ctx.chunk(json!({"content": p}), None)),
    );
    frames
}

fn with_delays(frames: Vec<Frame>, delay_ms: u64) -> Vec<Frame> {
    if delay_ms == 0 {
        return frames;
    }
    let mut out = Vec::with_capacity(frames.len() * 2);
    for (i, f) in frames.into_iter().enumerate() {
        if i > 0 {
            out.push(Frame::Sleep(delay_ms));
        }
        out.push(f);
    }
    out
}

fn json_response(v: Value) -> Response {
    axum::Json(v).into_response()
}

/// The body was cut on purpose.
#[derive(Debug)]
struct CutOnPurpose;

impl std::fmt::Display for CutOnPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fake server cut the stream on purpose")
    }
}

impl std::error::Error for CutOnPurpose {}

/// Counts a body as open until dropped.
struct OpenStream(Arc<AtomicUsize>);

impl OpenStream {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn sse(ctx: &Ctx, frames: Vec<Frame>) -> Response {
    let guard = OpenStream::new(ctx.open_streams.clone());
    let stream = frame_stream(frames, ctx.shutdown.clone()).map(move |item| {
        let _alive = &guard;
        item
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn frame_stream(
    frames: Vec<Frame>,
    shutdown: watch::Receiver<bool>,
) -> impl Stream<Item = Result<Bytes, CutOnPurpose>> + Send {
    let state = (frames.into_iter(), shutdown);
    futures::stream::unfold(state, |(mut frames, mut shutdown)| async move {
        loop {
            match frames.next()? {
                Frame::Data(d) => {
                    return Some((
                        Ok(Bytes::from(format!("data: {d}\n\n"))),
                        (frames, shutdown),
                    ));
                }
                Frame::Sleep(ms) => {
                    let stopped = tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(ms)) => false,
                        _ = shutdown.wait_for(|stop| *stop) => true,
                    };
                    if stopped {
                        return Some((Err(CutOnPurpose), (Vec::new().into_iter(), shutdown)));
                    }
                }
                Frame::Cut => return Some((Err(CutOnPurpose), (Vec::new().into_iter(), shutdown))),
                Frame::Hold => {
                    let _ = shutdown.wait_for(|stop| *stop).await;
                    return Some((Err(CutOnPurpose), (Vec::new().into_iter(), shutdown)));
                }
            }
        }
    })
}

/// `GET /v1/models`.
pub(crate) fn models() -> Value {
    let created = 1_700_000_000;
    let data: Vec<Value> = ["gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini", "fake-model"]
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": created, "owned_by": "metricchat-testkit"}))
        .collect();
    json!({"object": "list", "data": data})
}

/// The 500 answer to a request no exchange matched.
pub(crate) fn unexpected(summary: &str) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(openai_error(
            &format!("unexpected request: {summary}"),
            "fake_server_error",
            json!("unexpected_request"),
        )),
    )
        .into_response()
}
