//! The script a [`FakeLlmServer`](crate::FakeLlmServer) plays: [`Exchange`]s of a [`Matcher`]
//! and a [`Reply`]. Everything here is serde-(de)serialisable so the `mc-fake-llm` binary can load
//! a JSON script file, e.g.
//!
//! ```json
//! [
//!   {"matcher": {"type": "body_contains", "text": "top carriers"},
//!    "reply": {"type": "tool_calls", "calls": [{"id": "call_1", "name": "create_data",
//!              "arguments": {"sql": "SELECT 1"}}]}},
//!   {"reply": {"type": "status", "status": 429, "headers": {"retry-after": "1"}}},
//!   {"reply": {"type": "text", "text": "Done."}}
//! ]
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One scripted request/response pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// Which request this answers; `None` answers any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<Matcher>,
    /// The answer.
    pub reply: Reply,
}

impl Exchange {
    /// An exchange answering any request with `reply`.
    pub fn any(reply: Reply) -> Self {
        Self {
            matcher: None,
            reply,
        }
    }

    /// An exchange answering requests that satisfy `matcher`.
    pub fn when(matcher: Matcher, reply: Reply) -> Self {
        Self {
            matcher: Some(matcher),
            reply,
        }
    }
}

impl From<Reply> for Exchange {
    fn from(reply: Reply) -> Self {
        Exchange::any(reply)
    }
}

/// A condition on a request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Matcher {
    /// The raw request body contains `text`.
    BodyContains {
        /// The substring.
        text: String,
    },
    /// The JSON value at `pointer` (RFC 6901, e.g. `/tools/0/function/name`) equals `value`.
    JsonPointer {
        /// The JSON pointer.
        pointer: String,
        /// The expected value.
        value: Value,
    },
    /// The request path (e.g. `/v1/chat/completions`) equals `path`.
    Path {
        /// The path.
        path: String,
    },
    /// All of these hold.
    All {
        /// The conditions.
        matchers: Vec<Matcher>,
    },
    /// None of these holds.
    Not {
        /// The condition that must not hold.
        matcher: Box<Matcher>,
    },
}

impl Matcher {
    /// [`Matcher::BodyContains`].
    pub fn body_contains(text: impl Into<String>) -> Self {
        Matcher::BodyContains { text: text.into() }
    }

    /// [`Matcher::JsonPointer`].
    pub fn pointer(pointer: impl Into<String>, value: Value) -> Self {
        Matcher::JsonPointer {
            pointer: pointer.into(),
            value,
        }
    }

    /// Whether a request to `path` with `raw` body (parsed as `json`) satisfies this.
    pub fn matches(&self, path: &str, raw: &str, json: &Value) -> bool {
        match self {
            Matcher::BodyContains { text } => raw.contains(text.as_str()),
            Matcher::JsonPointer { pointer, value } => json.pointer(pointer) == Some(value),
            Matcher::Path { path: p } => p == path,
            Matcher::All { matchers } => matchers.iter().all(|m| m.matches(path, raw, json)),
            Matcher::Not { matcher } => !matcher.matches(path, raw, json),
        }
    }
}

/// A tool call the fake model makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeToolCall {
    /// Call id; empty means the server assigns `call_<n>`.
    #[serde(default)]
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments: a JSON string is sent verbatim (so malformed arguments can be scripted),
    /// anything else is serialised.
    pub arguments: Value,
}

impl FakeToolCall {
    /// A call with an explicit id.
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: Value) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            arguments,
        }
    }

    /// The arguments as the JSON text sent on the wire.
    pub fn arguments_text(&self) -> String {
        match &self.arguments {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// Token counts to report instead of the server's estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FakeUsage {
    /// `prompt_tokens`.
    pub prompt_tokens: u64,
    /// `completion_tokens`.
    pub completion_tokens: u64,
    /// `prompt_tokens_details.cached_tokens`.
    #[serde(default)]
    pub cached_tokens: u64,
}

fn default_text_chunk() -> usize {
    4
}

fn default_args_chunk() -> usize {
    8
}

/// What the server answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// A text answer: streamed as SSE chunks of `chunk_chars` characters when the request asked
    /// for `stream: true`, else one `chat.completion` JSON body.
    Text {
        /// The text.
        text: String,
        /// Characters per streamed chunk.
        #[serde(default = "default_text_chunk")]
        chunk_chars: usize,
        /// Pause between streamed chunks (after the first), in milliseconds.
        #[serde(default)]
        chunk_delay_ms: u64,
        /// Usage to report (default: an estimate of ~4 characters per token).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<FakeUsage>,
        /// `finish_reason` to send (default `stop`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        finish_reason: Option<String>,
    },
    /// Tool calls, optionally after some text; arguments streamed in `chunk_chars` pieces.
    ToolCalls {
        /// The calls, in order (their streamed `index`).
        calls: Vec<FakeToolCall>,
        /// Text before the calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// Characters per streamed chunk (text and arguments).
        #[serde(default = "default_args_chunk")]
        chunk_chars: usize,
        /// Pause between streamed chunks (after the first), in milliseconds.
        #[serde(default)]
        chunk_delay_ms: u64,
        /// Usage to report (default: an estimate).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<FakeUsage>,
    },
    /// A plain HTTP response, e.g. 429 with `Retry-After`, 500, or 401 with OpenAI's error body.
    Status {
        /// HTTP status.
        status: u16,
        /// JSON body (default: OpenAI's `{"error": {...}}` shape for the status).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
        /// Extra response headers.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
    },
    /// A 200 SSE stream that carries an `{"error": {...}}` event after `text_before`.
    StreamError {
        /// Text streamed before the error.
        #[serde(default)]
        text_before: String,
        /// The `error` object.
        error: Value,
    },
    /// Streams `text_before`, then drops the connection without a finish reason or `[DONE]`.
    CutStream {
        /// Text streamed before the cut.
        text_before: String,
    },
    /// Streams `text_before`, then keeps the connection open in silence until the server stops.
    StallMidStream {
        /// Text streamed before the silence.
        text_before: String,
    },
    /// Accepts the request and never answers until the server stops.
    Stall,
    /// `then` without any usage report, as llama.cpp's OpenAI-compatible server streams (it
    /// sends no usage chunk even when `stream_options.include_usage` asks for one, and no
    /// `usage` keys in its chunks). OpenAI wire format only: the other formats ignore it.
    WithoutUsage {
        /// The reply.
        then: Box<Reply>,
    },
    /// Waits `ms` milliseconds before sending any byte of `then`.
    Delay {
        /// Milliseconds.
        ms: u64,
        /// The reply after the wait.
        then: Box<Reply>,
    },
}

impl Reply {
    /// A text answer in 4-character chunks.
    pub fn text(text: impl Into<String>) -> Self {
        Reply::Text {
            text: text.into(),
            chunk_chars: default_text_chunk(),
            chunk_delay_ms: 0,
            usage: None,
            finish_reason: None,
        }
    }

    /// One call of tool `name` with `arguments` (id assigned by the server).
    pub fn tool_call(name: impl Into<String>, arguments: Value) -> Self {
        Self::tool_calls(vec![FakeToolCall::new("", name, arguments)])
    }

    /// Several tool calls in one turn.
    pub fn tool_calls(calls: Vec<FakeToolCall>) -> Self {
        Reply::ToolCalls {
            calls,
            text: None,
            chunk_chars: default_args_chunk(),
            chunk_delay_ms: 0,
            usage: None,
        }
    }

    /// A status-only answer with OpenAI's error body for `status`.
    pub fn status(status: u16) -> Self {
        let (kind, code, message) = match status {
            400 => ("invalid_request_error", Value::Null, "Bad request."),
            401 => (
                "invalid_request_error",
                json!("invalid_api_key"),
                "Incorrect API key provided.",
            ),
            403 => ("invalid_request_error", Value::Null, "Permission denied."),
            404 => (
                "invalid_request_error",
                json!("model_not_found"),
                "The model does not exist or you do not have access to it.",
            ),
            429 => (
                "requests",
                json!("rate_limit_exceeded"),
                "Rate limit reached. Please try again later.",
            ),
            _ => (
                "server_error",
                Value::Null,
                "The server had an error while processing your request.",
            ),
        };
        Self::error(status, kind, code, message)
    }

    /// A status answer with OpenAI's error shape `{"error":{"message","type","param","code"}}`.
    pub fn error(status: u16, kind: &str, code: Value, message: &str) -> Self {
        Reply::Status {
            status,
            body: Some(openai_error(message, kind, code)),
            headers: BTreeMap::new(),
        }
    }

    /// OpenAI's 400 `context_length_exceeded` answer.
    pub fn context_length_exceeded() -> Self {
        Self::error(
            400,
            "invalid_request_error",
            json!("context_length_exceeded"),
            "This model's maximum context length is 8192 tokens. However, your messages resulted \
             in 9000 tokens. Please reduce the length of the messages.",
        )
    }

    /// Azure OpenAI's 400 for a prompt its content filter blocked: code `content_filter`,
    /// inner error `ResponsibleAIPolicyViolation`.
    pub fn content_filtered_prompt() -> Self {
        Reply::Status {
            status: 400,
            body: Some(json!({"error": {
                "message": "The response was filtered due to the prompt triggering Azure \
                            OpenAI's content management policy. Please modify your prompt and \
                            retry.",
                "type": null,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": {
                        "hate": {"filtered": false, "severity": "safe"},
                        "self_harm": {"filtered": false, "severity": "safe"},
                        "sexual": {"filtered": false, "severity": "safe"},
                        "violence": {"filtered": true, "severity": "medium"}
                    }
                }
            }})),
            headers: BTreeMap::new(),
        }
    }

    /// Sets the finish reason of a text reply, in OpenAI's vocabulary (`content_filter`,
    /// `length`, …); the other formats translate it (Anthropic `refusal`, Gemini `SAFETY`).
    pub fn with_finish_reason(mut self, reason: impl Into<String>) -> Self {
        if let Reply::Text { finish_reason, .. } = &mut self {
            *finish_reason = Some(reason.into());
        }
        self
    }

    /// 429 with `Retry-After: secs`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::status(429).with_header("retry-after", retry_after_secs.to_string())
    }

    /// Adds a response header (for [`Reply::Status`]; passed through [`Reply::Delay`]).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        match &mut self {
            Reply::Status { headers, .. } => {
                headers.insert(name.into(), value.into());
            }
            Reply::Delay { then, .. } => {
                let inner = std::mem::replace(then.as_mut(), Reply::Stall);
                **then = inner.with_header(name, value);
            }
            _ => {}
        }
        self
    }

    /// Sets the streamed chunk size (text and tool-call replies).
    pub fn chunked(mut self, chars: usize) -> Self {
        if let Reply::Text { chunk_chars, .. } | Reply::ToolCalls { chunk_chars, .. } = &mut self {
            *chunk_chars = chars.max(1);
        }
        self
    }

    /// Sets the pause between streamed chunks (text and tool-call replies).
    pub fn with_chunk_delay_ms(mut self, ms: u64) -> Self {
        if let Reply::Text { chunk_delay_ms, .. } | Reply::ToolCalls { chunk_delay_ms, .. } =
            &mut self
        {
            *chunk_delay_ms = ms;
        }
        self
    }

    /// Sets the reported usage (text and tool-call replies).
    pub fn with_usage(mut self, prompt_tokens: u64, completion_tokens: u64, cached: u64) -> Self {
        if let Reply::Text { usage, .. } | Reply::ToolCalls { usage, .. } = &mut self {
            *usage = Some(FakeUsage {
                prompt_tokens,
                completion_tokens,
                cached_tokens: cached,
            });
        }
        self
    }

    /// Sets the text before tool calls.
    pub fn with_text(mut self, before: impl Into<String>) -> Self {
        if let Reply::ToolCalls { text, .. } = &mut self {
            *text = Some(before.into());
        }
        self
    }

    /// `self` without any usage report (see [`Reply::WithoutUsage`]).
    pub fn without_usage(self) -> Self {
        Reply::WithoutUsage {
            then: Box::new(self),
        }
    }

    /// The reply with any [`Reply::WithoutUsage`] removed (also under [`Reply::Delay`]), and
    /// whether one was.
    pub(crate) fn split_usage(self) -> (Reply, bool) {
        match self {
            Reply::WithoutUsage { then } => (then.split_usage().0, true),
            Reply::Delay { ms, then } => {
                let (then, omitted) = then.split_usage();
                (
                    Reply::Delay {
                        ms,
                        then: Box::new(then),
                    },
                    omitted,
                )
            }
            other => (other, false),
        }
    }

    /// Waits `ms` before answering with `self`.
    pub fn delayed(self, ms: u64) -> Self {
        Reply::Delay {
            ms,
            then: Box::new(self),
        }
    }
}

/// OpenAI's error body.
pub fn openai_error(message: &str, kind: &str, code: Value) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}
