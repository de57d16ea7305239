//! What a provider adds to the shared client: its [`Wire`] format (request body, auth, error
//! bodies, model facts) and a [`Decode`]r of its response events.

use std::collections::VecDeque;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::ProviderConfig;
use crate::error::{ErrorKind, Result};
use crate::llm::{ChatEvent, ChatRequest, ModelInfo};

/// How a streamed response body is cut into events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Server-sent events (`data:` lines, optionally named with `event:`).
    Sse,
    /// One JSON object per line.
    Ndjson,
}

/// What an error response said, read by [`Wire::http_error`]; the shared client adds the status
/// and the `Retry-After` wait.
pub(crate) struct HttpFailure {
    /// The provider's message (or the body, trimmed: [`body_message`](crate::llm::http::body_message)).
    pub(crate) message: String,
    /// What kind of failure it is.
    pub(crate) kind: ErrorKind,
    /// A wait the body asks for (Gemini's `RetryInfo`), used when no header gives one.
    pub(crate) retry_after: Option<Duration>,
    /// The provider's error code or type, for the logs.
    pub(crate) code: Option<String>,
}

impl HttpFailure {
    /// A failure with no body-given wait or code.
    pub(crate) fn new(message: String, kind: ErrorKind) -> Self {
        Self {
            message,
            kind,
            retry_after: None,
            code: None,
        }
    }

    /// Sets the provider's error code (logged, never shown to the model).
    pub(crate) fn with_code(mut self, code: Option<&str>) -> Self {
        self.code = code.map(str::to_string);
        self
    }
}

/// Whether a decoded event ended the answer.
pub(crate) enum Step {
    /// More events follow.
    More,
    /// The provider's end marker: emit the closing events.
    Done,
}

/// One provider's decoder of response events (an SSE event's `data` or an NDJSON line), driven
/// by the shared stream.
pub(crate) trait Decode: Send + 'static {
    /// What one event is called in errors (`event`, `chunk`, `line`).
    const UNIT: &'static str = "event";

    /// Decodes one event into chat events pushed onto `out`.
    fn decode(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<Step>;

    /// Looks at the first event while the attempt is still open (nothing has reached the caller,
    /// so an error here is retried when it is retryable, e.g. an error payload). Returns whether
    /// it decoded the event already (else [`Decode::decode`] gets it first).
    fn first(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<bool>;

    /// Whether an SSE event with this name before the first real one is a keep-alive to skip.
    fn is_keepalive(&self, _event: &str) -> bool {
        false
    }

    /// Pushes the closing events (usage, assembled tool calls, finish).
    fn close(&mut self, out: &mut VecDeque<ChatEvent>);

    /// Whether a clean close of the connection now is the end of the answer (a provider that
    /// sends no end marker after its finish reason).
    fn may_end_on_close(&self) -> bool;

    /// What a premature close is missing, for its error (`message_stop`).
    fn end_marker(&self) -> &'static str;

    /// Decodes a whole non-streamed JSON body into the events a stream would have produced.
    fn decode_body(&mut self, body: &[u8], out: &mut VecDeque<ChatEvent>) -> Result<()>;
}

/// A provider's wire format: everything the shared [`HttpChatClient`](super::HttpChatClient)
/// cannot know. The sending, retries, timeouts, body framing, cassette, tracing and usage
/// accounting are the client's.
pub(crate) trait Wire: Send + Sync + std::fmt::Debug + 'static {
    /// The provider's name in errors and logs.
    const PROVIDER: &'static str;
    /// How a streamed body is framed.
    const FRAMING: Framing = Framing::Sse;
    /// Whether the provider fetches images from URLs itself.
    const IMAGE_URLS: bool = true;
    /// The provider's content-filter signal when it has one (`finish_reason content_filter`): a
    /// [`FinishReason::ContentFilter`](crate::llm::FinishReason::ContentFilter) finish becomes an
    /// [`ErrorKind::ContentFiltered`] error naming it.
    const CONTENT_FILTER: Option<&'static str>;

    /// The decoder of one response.
    type Decoder: Decode;

    /// The shared settings (key, model, connection settings).
    fn provider(&self) -> &ProviderConfig;

    /// Where requests go.
    fn endpoint(&self) -> &url::Url;

    /// Facts about the model.
    fn model_info(&self) -> ModelInfo;

    /// The JSON body sent for `request`.
    fn request_body(&self, request: &ChatRequest) -> Result<Value>;

    /// Adds the key and the provider's fixed headers to a request.
    fn authorize(&self, request: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder>;

    /// A fresh decoder for one response.
    fn decoder(&self) -> Self::Decoder;

    /// Whether a successful response is one JSON body (rather than a stream).
    fn is_json(&self, headers: &HeaderMap) -> bool {
        crate::llm::http::is_json(headers)
    }

    /// What an error response with `status` and `body` means.
    fn http_error(&self, status: u16, body: &str) -> HttpFailure;
}
