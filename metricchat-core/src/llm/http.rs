//! HTTP plumbing shared by the provider clients: the [`HttpOptions`] every provider config
//! carries (timeouts, retries, extra headers), the one reqwest client builder, transport errors,
//! `Retry-After` and content types.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Deserializer, Serialize};

use super::transport_error;
use crate::error::{BoxError, Error, Result};
use crate::retry::RetryPolicy;
use crate::serde_util::{duration_ms, duration_ms_opt};
use crate::text::truncate;

/// Connection settings shared by every provider config ([`OpenAiConfig`](super::OpenAiConfig),
/// [`AnthropicConfig`](super::AnthropicConfig), [`GeminiConfig`](super::GeminiConfig),
/// [`OllamaConfig`](super::OllamaConfig)).
///
/// Each config embeds it through [`ProviderConfig`](super::ProviderConfig), flattened, so its
/// keys sit at the top level of the config object, durations in milliseconds:
/// `{"model": "gpt-4.1", "connect_timeout": 5000, "first_byte_timeout": 20000,
/// "idle_timeout": 30000, "retry": {"max_retries": 2}, "headers": {"OpenAI-Project": "proj_1"}}`.
/// A key left out keeps the provider's default (Ollama waits longer for a model to load).
/// Builders for it are on [`HttpConfig`].
#[derive(Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Time allowed for the TCP/TLS connection.
    #[serde(with = "duration_ms")]
    pub connect_timeout: Duration,
    /// Time allowed until the response headers and the first streamed event arrived (the whole
    /// body when the response is not streamed).
    #[serde(with = "duration_ms")]
    pub first_byte_timeout: Duration,
    /// Time a streamed response may stay silent between two events.
    #[serde(with = "duration_ms")]
    pub idle_timeout: Duration,
    /// Retries of 429/5xx/overloaded/transport failures before the first event.
    pub retry: RetryPolicy,
    /// Extra headers sent with every request (a gateway's routing or project header). Their
    /// values are treated as secrets: never logged, never shown by `Debug`, never written to a
    /// cassette, and not serialised.
    #[serde(skip_serializing)]
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            headers: BTreeMap::new(),
        }
    }
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("retry", &self.retry)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl HttpOptions {
    /// The defaults with these timeouts.
    pub fn with_timeouts(connect: Duration, first_byte: Duration, idle: Duration) -> Self {
        Self {
            connect_timeout: connect,
            first_byte_timeout: first_byte,
            idle_timeout: idle,
            ..Self::default()
        }
    }

    /// The reqwest client every provider uses: connect timeout, user agent and the extra
    /// headers (marked sensitive). A malformed header is a config error naming it.
    pub(crate) fn client(&self, provider: &str) -> Result<reqwest::Client> {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                Error::config(
                    provider,
                    format!("`{name}` is not a valid HTTP header name"),
                )
            })?;
            let value = sensitive_value(provider, value).map_err(|_| {
                Error::config(
                    provider,
                    format!("header `{name}` has a value not allowed in HTTP"),
                )
            })?;
            headers.insert(name, value);
        }
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("metricchat/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .build()
            .map_err(|e| Error::config(provider, format!("cannot build HTTP client: {e}")))
    }
}

impl<'de> Deserialize<'de> for HttpOptions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(HttpPatch::deserialize(d)?.over(Self::default()))
    }
}

/// The keys of [`HttpOptions`], each optional, so a config can fill in its own defaults.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct HttpPatch {
    #[serde(with = "duration_ms_opt")]
    connect_timeout: Option<Duration>,
    #[serde(with = "duration_ms_opt")]
    first_byte_timeout: Option<Duration>,
    #[serde(with = "duration_ms_opt")]
    idle_timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    headers: Option<BTreeMap<String, String>>,
}

impl HttpPatch {
    /// These keys over `base`.
    pub(crate) fn over(self, base: HttpOptions) -> HttpOptions {
        HttpOptions {
            connect_timeout: self.connect_timeout.unwrap_or(base.connect_timeout),
            first_byte_timeout: self.first_byte_timeout.unwrap_or(base.first_byte_timeout),
            idle_timeout: self.idle_timeout.unwrap_or(base.idle_timeout),
            retry: self.retry.unwrap_or(base.retry),
            headers: self.headers.unwrap_or(base.headers),
        }
    }
}

/// The builders every provider config shares, over its [`HttpOptions`].
///
/// ```
/// use std::time::Duration;
/// use metricchat_core::llm::{AnthropicConfig, HttpConfig, RetryPolicy};
///
/// let config = AnthropicConfig::new("claude-haiku-4-5")
///     .with_retry(RetryPolicy::none())
///     .with_timeouts(Duration::from_secs(5), Duration::from_secs(30), Duration::from_secs(15))
///     .with_header("anthropic-beta", "prompt-caching-2024-07-31");
/// assert_eq!(config.http_options().first_byte_timeout, Duration::from_secs(30));
/// ```
pub trait HttpConfig: Sized {
    /// The connection settings.
    fn http_options(&self) -> &HttpOptions;

    /// The connection settings, to change in place.
    fn http_options_mut(&mut self) -> &mut HttpOptions;

    /// Replaces all connection settings.
    fn with_http_options(mut self, options: HttpOptions) -> Self {
        *self.http_options_mut() = options;
        self
    }

    /// Sets the retry policy.
    fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.http_options_mut().retry = retry;
        self
    }

    /// Sets the connect, first-byte and idle timeouts.
    fn with_timeouts(mut self, connect: Duration, first_byte: Duration, idle: Duration) -> Self {
        let h = self.http_options_mut();
        h.connect_timeout = connect;
        h.first_byte_timeout = first_byte;
        h.idle_timeout = idle;
        self
    }

    /// Adds a header sent with every request.
    fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.http_options_mut()
            .headers
            .insert(name.into(), value.into());
        self
    }
}

/// A header value marked sensitive (kept out of `Debug` and logs by reqwest/hyper).
pub(crate) fn sensitive_value(provider: &str, text: &str) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(text).map_err(|_| {
        Error::config(
            provider,
            "the API key contains characters not allowed in an HTTP header",
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// `retry-after-ms` (OpenAI), else `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let value = get(header::RETRY_AFTER.as_str())?;
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// The body of an error response as a message: trimmed and truncated, or the status's
/// canonical reason when the body is empty.
pub(crate) fn body_message(status: u16, body: &str) -> String {
    let text = body.trim();
    if text.is_empty() {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error")
            .to_string()
    } else {
        truncate(text, 500)
    }
}

/// A response part that is not what the provider documents.
pub(crate) fn malformed(
    provider: &str,
    what: &str,
    data: &str,
    e: impl std::fmt::Display,
) -> Error {
    transport_error(
        provider,
        format!("malformed {what}: {e}: {}", truncate(data, 200)),
        None,
    )
}

/// A response stream that ended before the provider said it was done.
pub(crate) fn stream_cut(provider: &str, detail: &str, source: Option<BoxError>) -> Error {
    transport_error(
        provider,
        format!("the response stream was cut: {detail}"),
        source,
    )
}

/// Whether a response is `application/json` (rather than a stream).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn old_keys() -> serde_json::Value {
        json!({
            "model": "m1",
            "connect_timeout": 1500,
            "first_byte_timeout": 2500,
            "idle_timeout": 3500,
            "retry": {"max_retries": 1, "initial_backoff": 10, "max_backoff": 20},
        })
    }

    fn check_old_keys(h: &HttpOptions) {
        assert_eq!(h.connect_timeout, Duration::from_millis(1500));
        assert_eq!(h.first_byte_timeout, Duration::from_millis(2500));
        assert_eq!(h.idle_timeout, Duration::from_millis(3500));
        assert_eq!(
            h.retry,
            RetryPolicy::new(1, Duration::from_millis(10), Duration::from_millis(20))
        );
    }

    #[test]
    fn the_config_keys_from_before_http_options_still_parse() {
        #[cfg(feature = "openai")]
        {
            let c: super::super::OpenAiConfig = serde_json::from_value(old_keys()).unwrap();
            check_old_keys(c.http_options());
            assert_eq!(c.model, "m1");
        }
        #[cfg(feature = "anthropic")]
        {
            let c: super::super::AnthropicConfig = serde_json::from_value(old_keys()).unwrap();
            check_old_keys(c.http_options());
        }
        #[cfg(feature = "gemini")]
        {
            let c: super::super::GeminiConfig = serde_json::from_value(old_keys()).unwrap();
            check_old_keys(c.http_options());
        }
        #[cfg(feature = "ollama")]
        {
            let c: super::super::OllamaConfig = serde_json::from_value(old_keys()).unwrap();
            check_old_keys(c.http_options());
        }
    }

    #[cfg(feature = "ollama")]
    #[test]
    fn a_key_left_out_keeps_the_provider_default() {
        let c: super::super::OllamaConfig =
            serde_json::from_value(json!({"idle_timeout": 5000})).unwrap();
        assert_eq!(c.http.idle_timeout, Duration::from_secs(5));
        // Ollama's own first-byte default (model loading), not the shared 60 s.
        assert_eq!(c.http.first_byte_timeout, Duration::from_secs(120));
        let mut expected = super::super::OllamaConfig::default().provider.http;
        expected.idle_timeout = Duration::from_secs(5);
        assert_eq!(c.http, expected);
        let h: HttpOptions = serde_json::from_value(json!({})).unwrap();
        assert_eq!(h, HttpOptions::default());
    }

    #[test]
    fn header_values_stay_out_of_debug_and_serde_and_bad_ones_are_config_errors() {
        let h: HttpOptions = serde_json::from_value(json!({
            "headers": {"X-Gateway-Token": "gw-secret-1"}
        }))
        .unwrap();
        assert!(!format!("{h:?}").contains("gw-secret-1"));
        assert!(format!("{h:?}").contains("X-Gateway-Token"));
        assert!(!serde_json::to_string(&h).unwrap().contains("gw-secret-1"));
        assert!(h.client("test").is_ok());

        let mut bad = HttpOptions::default();
        bad.headers.insert("bad header".into(), "v".into());
        let err = bad.client("test").unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("bad header"), "{err}");
        let mut bad = HttpOptions::default();
        bad.headers.insert("x-ok".into(), "line\nbreak".into());
        assert!(bad.client("test").is_err());
    }

    #[test]
    fn retry_after_parses_ms_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        assert_eq!(body_message(503, "  "), "Service Unavailable");
    }
}
