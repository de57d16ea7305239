//! Gemini's error objects (google.rpc statuses) and blocked prompts as typed errors.

use std::time::Duration;

use serde_json::Value;

use super::PROVIDER;
use crate::error::{Error, ErrorKind};
use crate::text::truncate;

/// The [`ErrorKind`] of a google.rpc status name.
pub(super) fn status_kind(status: &str) -> Option<ErrorKind> {
    Some(match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => ErrorKind::InvalidInput,
        "UNAUTHENTICATED" | "PERMISSION_DENIED" => ErrorKind::Unauthorized,
        "NOT_FOUND" => ErrorKind::NotFound,
        "RESOURCE_EXHAUSTED" => ErrorKind::RateLimited,
        "DEADLINE_EXCEEDED" => ErrorKind::Timeout,
        "INTERNAL" | "UNAVAILABLE" | "UNKNOWN" | "ABORTED" => ErrorKind::Llm,
        _ => return None,
    })
}

/// The pieces of a google error object `{"code", "message", "status", "details"}`.
pub(super) struct GoogleError<'a> {
    pub(super) message: Option<&'a str>,
    pub(super) status: Option<&'a str>,
    /// `details[].reason` of a `google.rpc.ErrorInfo` (`API_KEY_INVALID`, …).
    pub(super) reason: Option<&'a str>,
    /// `details[].retryDelay` of a `google.rpc.RetryInfo`.
    pub(super) retry_delay: Option<Duration>,
}

pub(super) fn google_error(err: &Value) -> GoogleError<'_> {
    let details = err.get("details").and_then(Value::as_array);
    let detail = |key: &str| {
        details
            .into_iter()
            .flatten()
            .find_map(|d| d.get(key).and_then(Value::as_str))
    };
    GoogleError {
        message: err.get("message").and_then(Value::as_str),
        status: err.get("status").and_then(Value::as_str),
        reason: detail("reason"),
        retry_delay: detail("retryDelay").and_then(parse_retry_delay),
    }
}

/// A protobuf `Duration` in JSON form: `"17s"`, `"0.5s"`.
fn parse_retry_delay(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().strip_suffix('s')?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// Whether Gemini's message says the prompt is longer than the model's context window
/// (`The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).`).
pub(super) fn is_too_long(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("exceeds the maximum number of tokens")
        || lower.contains("input token count")
        || lower.contains("context length")
}

/// Prefixes Gemini's message when it says the prompt is longer than the model's context window.
pub(super) fn describe(message: &str) -> String {
    if is_too_long(message) {
        format!("context length exceeded: {message}")
    } else {
        message.to_string()
    }
}

/// An `{"error": {...}}` object inside a 200 response (a streamed chunk or a JSON body).
pub(super) fn error_in(v: &Value, raw: &str) -> Option<Error> {
    let err = v.get("error").filter(|e| !e.is_null())?;
    let g = google_error(err);
    let message = g
        .message
        .map(describe)
        .unwrap_or_else(|| truncate(raw, 500));
    Some(Error::Provider {
        provider: PROVIDER.into(),
        status: None,
        message,
        kind: if g.message.is_some_and(is_too_long) {
            ErrorKind::ContextLengthExceeded
        } else {
            g.status.and_then(status_kind).unwrap_or(ErrorKind::Llm)
        },
        retry_after: g.retry_delay,
        source: None,
    })
}

/// A prompt Gemini refused to answer (`promptFeedback.blockReason`).
pub(super) fn blocked_prompt(reason: &str, message: Option<&str>) -> Error {
    Error::Provider {
        provider: PROVIDER.into(),
        status: None,
        message: match message {
            Some(m) if !m.is_empty() => format!("the prompt was blocked ({reason}): {m}"),
            _ => format!("the prompt was blocked by Gemini's content filter ({reason})"),
        },
        kind: ErrorKind::ContentFiltered,
        retry_after: None,
        source: None,
    }
}
