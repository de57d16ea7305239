//! Pieces shared by the Anthropic and Ollama renderers: a streamed body built from raw frames
//! (SSE with event names, or NDJSON lines), chunking, and token estimates.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::HeaderName;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
pub(crate) use axum::response::Response;
use futures::{Stream, StreamExt};
use serde_json::Value;
use tokio::sync::watch;

use crate::script::Reply;

/// What every renderer needs to know about the request.
pub(crate) struct Req {
    /// 1-based number of the scripted request.
    pub(crate) n: u64,
    /// The `model` the request named.
    pub(crate) model: String,
    /// Whether the request asked for a stream.
    pub(crate) stream: bool,
    /// Request size, for usage estimates.
    pub(crate) prompt_chars: usize,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) open_streams: Arc<AtomicUsize>,
}

/// One step of a streamed body.
pub(crate) enum Frame {
    /// Bytes sent as they are (one SSE event or one NDJSON line, terminator included).
    Raw(String),
    /// A pause, in milliseconds.
    Sleep(u64),
    /// Drop the connection mid-body.
    Cut,
    /// Keep the connection open without sending anything until shutdown.
    Hold,
}

pub(crate) fn estimate_tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(4)).unwrap_or(u64::MAX).max(1)
}

pub(crate) fn pieces(s: &str, chars: usize) -> Vec<String> {
    let chars = chars.max(1);
    let all: Vec<char> = s.chars().collect();
    all.chunks(chars).map(|c| c.iter().collect()).collect()
}

pub(crate) fn with_delays(frames: Vec<Frame>, delay_ms: u64) -> Vec<Frame> {
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

/// The error body the OpenAI renderer uses for `status` when a script gives none; other
/// formats replace exactly this body with their own shape.
pub(crate) fn is_default_body(status: u16, body: Option<&Value>) -> bool {
    match body {
        None => true,
        Some(b) => matches!(Reply::status(status), Reply::Status { body: Some(d), .. } if &d == b),
    }
}

/// Plays `Delay` and `Stall`, then hands the reply to `render`.
pub(crate) async fn play(
    req: &Req,
    reply: Reply,
    stopped: impl Fn() -> Response,
    render: impl Fn(&Req, Reply) -> Response,
) -> Response {
    let mut reply = reply;
    let mut shutdown = req.shutdown.clone();
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
            other => return render(req, other),
        }
    }
}

/// A JSON response with `status`.
pub(crate) fn json_status(status: u16, body: Value) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(body)).into_response()
}

/// Adds scripted response headers.
pub(crate) fn add_headers(
    resp: &mut Response,
    headers: std::collections::BTreeMap<String, String>,
) {
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            resp.headers_mut().insert(k, v);
        }
    }
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

/// A streamed 200 response of `frames` with `content_type`.
pub(crate) fn streamed(req: &Req, content_type: &'static str, frames: Vec<Frame>) -> Response {
    let guard = OpenStream::new(req.open_streams.clone());
    let stream = frame_stream(frames, req.shutdown.clone()).map(move |item| {
        let _alive = &guard;
        item
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
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
                Frame::Raw(d) => return Some((Ok(Bytes::from(d)), (frames, shutdown))),
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
