//! Response bodies as chat-event streams: SSE or NDJSON frames, the idle timeout, a provider's
//! [`Decode`]r, and the usage estimate for a stream that reported none.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures::{Stream, StreamExt};

use super::wire::{Decode, Framing, Step};
use crate::error::{Error, Result};
use crate::llm::http::stream_cut;
use crate::llm::{
    ChatAccumulator, ChatEvent, ChatRequest, ChatStream, estimate_usage, transport_error,
};

/// One event of a streamed body: an SSE event (its name and `data`) or an NDJSON line (no name).
pub(crate) struct Frame {
    /// The SSE `event:` name (empty for unnamed events and NDJSON lines).
    pub(crate) event: String,
    /// The payload.
    pub(crate) data: String,
}

/// A streamed response body as frames, transport failures already typed.
pub(crate) type Frames = Pin<Box<dyn Stream<Item = Result<Frame>> + Send>>;

/// The frames of `resp`'s body.
pub(crate) fn frames(provider: &'static str, framing: Framing, resp: reqwest::Response) -> Frames {
    match framing {
        Framing::Sse => Box::pin(resp.bytes_stream().eventsource().map(move |item| {
            item.map(|ev| Frame {
                event: ev.event,
                data: ev.data,
            })
            .map_err(|e| sse_error(provider, e))
        })),
        Framing::Ndjson => {
            let lines = Lines {
                source: Box::pin(resp.bytes_stream().map(|r| r.map(|b| b.to_vec()))),
                buf: Vec::new(),
                eof: false,
            };
            Box::pin(futures::stream::unfold(
                lines,
                move |mut lines| async move {
                    match lines.next(provider).await {
                        Ok(Some(data)) => Some((
                            Ok(Frame {
                                event: String::new(),
                                data,
                            }),
                            lines,
                        )),
                        Ok(None) => None,
                        Err(e) => {
                            lines.eof = true;
                            lines.buf.clear();
                            Some((Err(e), lines))
                        }
                    }
                },
            ))
        }
    }
}

/// A server-sent-events decoding failure as a typed error.
fn sse_error(provider: &str, e: EventStreamError<reqwest::Error>) -> Error {
    match e {
        EventStreamError::Transport(e) => stream_cut(
            provider,
            "connection closed before the response ended",
            Some(e.into()),
        ),
        EventStreamError::Utf8(e) => {
            stream_cut(provider, "invalid UTF-8 in the stream", Some(e.into()))
        }
        EventStreamError::Parser(e) => {
            transport_error(provider, format!("malformed event stream: {e}"), None)
        }
    }
}

/// A response body as chunks.
type ByteStream = Pin<Box<dyn Stream<Item = std::result::Result<Vec<u8>, reqwest::Error>> + Send>>;

/// Splits a byte stream into lines.
struct Lines {
    source: ByteStream,
    buf: Vec<u8>,
    eof: bool,
}

impl Lines {
    /// The next complete line, trimmed; `None` at a clean end of the body. A last line without
    /// `\n` is returned too (some proxies drop the final newline).
    async fn next(&mut self, provider: &str) -> Result<Option<String>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Ok(Some(String::from_utf8_lossy(&line).trim().to_string()));
            }
            if self.eof {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let line = std::mem::take(&mut self.buf);
                return Ok(Some(String::from_utf8_lossy(&line).trim().to_string()));
            }
            match self.source.next().await {
                Some(Ok(chunk)) => self.buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    return Err(stream_cut(
                        provider,
                        "connection closed before the response ended",
                        Some(e.into()),
                    ));
                }
                None => self.eof = true,
            }
        }
    }
}

struct State<D> {
    provider: &'static str,
    frames: Frames,
    first: Option<String>,
    decoder: D,
    pending: VecDeque<ChatEvent>,
    ended: bool,
    idle_timeout: Duration,
}

/// The caller-facing stream of a streamed response: `pending` events first, then `first` and
/// the rest of `frames` through `decoder`, each frame within `idle_timeout` of the last. It owns
/// the response, so dropping it closes the connection.
pub(crate) fn event_stream<D: Decode>(
    provider: &'static str,
    frames: Frames,
    first: Option<String>,
    pending: VecDeque<ChatEvent>,
    decoder: D,
    idle_timeout: Duration,
) -> ChatStream {
    let state = State {
        provider,
        frames,
        first,
        decoder,
        pending,
        ended: false,
        idle_timeout,
    };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            if st.ended {
                return None;
            }
            let next = match st.first.take() {
                Some(data) => Some(Ok(data)),
                None => match tokio::time::timeout(st.idle_timeout, st.frames.next()).await {
                    Ok(next) => next.map(|frame| frame.map(|f| f.data)),
                    Err(_) => {
                        st.ended = true;
                        let err = Error::Timeout {
                            operation: format!("{} stream idle", st.provider),
                            after: st.idle_timeout,
                        };
                        return Some((Err(err), st));
                    }
                },
            };
            match next {
                None if st.decoder.may_end_on_close() => {
                    st.ended = true;
                    st.decoder.close(&mut st.pending);
                }
                None => {
                    st.ended = true;
                    let detail =
                        format!("the connection closed before {}", st.decoder.end_marker());
                    return Some((Err(stream_cut(st.provider, &detail, None)), st));
                }
                Some(Err(e)) => {
                    st.ended = true;
                    return Some((Err(e), st));
                }
                Some(Ok(data)) if data.trim().is_empty() => {}
                Some(Ok(data)) => match st.decoder.decode(&data, &mut st.pending) {
                    Ok(Step::More) => {}
                    Ok(Step::Done) => {
                        st.ended = true;
                        st.decoder.close(&mut st.pending);
                    }
                    Err(e) => {
                        st.ended = true;
                        st.pending.clear();
                        return Some((Err(e), st));
                    }
                },
            }
        }
    }))
}

struct Estimate {
    provider: &'static str,
    inner: ChatStream,
    answer: ChatAccumulator,
    reported: bool,
    input_tokens: u64,
    held: Option<Result<ChatEvent>>,
}

/// `stream` with a [`ChatEvent::Usage`] estimated from the text (prompt from `request`, completion
/// from the answer, see [`estimate_usage`]) put before its finish when the provider reported
/// none: llama.cpp's server, for one, ignores `stream_options.include_usage`, and budgets and
/// cost must still count.
pub(crate) fn estimate_missing_usage(
    provider: &'static str,
    request: &ChatRequest,
    stream: ChatStream,
) -> ChatStream {
    let state = Estimate {
        provider,
        inner: stream,
        answer: ChatAccumulator::default(),
        reported: false,
        input_tokens: estimate_usage(request, "", &[]).input_tokens,
        held: None,
    };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        if let Some(item) = st.held.take() {
            return Some((item, st));
        }
        let item = st.inner.next().await?;
        match &item {
            Ok(ChatEvent::Usage { .. }) => st.reported = true,
            Ok(ChatEvent::Finish { .. }) if !st.reported => {
                st.reported = true;
                let answer = std::mem::take(&mut st.answer).finish();
                let mut usage =
                    estimate_usage(&ChatRequest::default(), &answer.text, &answer.tool_calls);
                usage.input_tokens = st.input_tokens;
                tracing::debug!(
                    provider = st.provider,
                    input_tokens = usage.input_tokens,
                    output_tokens = usage.output_tokens,
                    "the provider reported no usage; estimated from the text"
                );
                st.held = Some(item);
                return Some((Ok(ChatEvent::Usage { usage }), st));
            }
            Ok(ev) => st.answer.push(ev),
            Err(_) => {}
        }
        Some((item, st))
    }))
}
