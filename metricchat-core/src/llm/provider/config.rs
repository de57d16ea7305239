//! [`ProviderConfig`]: the settings every HTTP provider has, flattened into each provider's
//! config.

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};
use crate::llm::Pricing;
use crate::llm::http::{HttpOptions, HttpPatch, sensitive_value};

/// The settings every HTTP provider config shares: key, base URL, model, connection settings,
/// prices and the tool-calling override.
///
/// Each provider config ([`OpenAiConfig`](crate::llm::OpenAiConfig),
/// [`AnthropicConfig`](crate::llm::AnthropicConfig), [`GeminiConfig`](crate::llm::GeminiConfig),
/// [`OllamaConfig`](crate::llm::OllamaConfig)) holds one in its `provider` field, flattened in
/// serde (so `model`, `api_key`, `base_url`, `pricing`, `supports_tools` and the
/// [`HttpOptions`] keys sit at the top level of the config object, and a key left out keeps the
/// provider's default) and dereferenced in Rust (so `config.model` reads
/// `config.provider.model`). `host` is accepted for `base_url` (Ollama's name for it).
///
/// `Debug` shows the key as `[redacted]`.
///
/// ```
/// use metricchat_core::llm::OpenAiConfig;
///
/// let config: OpenAiConfig = serde_json::from_value(serde_json::json!({
///     "model": "gpt-4.1", "api_key": "sk-secret", "idle_timeout": 5000
/// }))?;
/// assert_eq!(config.provider.model, "gpt-4.1");
/// assert_eq!(config.model, "gpt-4.1");
/// assert_eq!(config.base_url, "https://api.openai.com/v1"); // the provider's default
/// assert!(!format!("{config:?}").contains("sk-secret"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ProviderConfig {
    /// API key, sent the way the provider expects (`Authorization: Bearer`, `x-api-key`, …);
    /// optional for local servers.
    pub api_key: Option<SecretString>,
    /// Where the API lives (each provider documents the form it takes).
    pub base_url: String,
    /// Model id.
    pub model: String,
    /// Timeouts, retries and extra headers.
    pub http: HttpOptions,
    /// Override of the model's prices (e.g. zero for a local server, or a negotiated rate).
    pub pricing: Option<Pricing>,
    /// Override of whether the model supports native tool calling; `false` makes the agent's
    /// automatic protocol ask for JSON in text instead.
    pub supports_tools: Option<bool>,
}

// Written by hand only because secrecy's own `Debug` says `SecretBox<str>([REDACTED])` and this
// crate's configs have always said `[redacted]`; every provider config derives its `Debug`.
impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("http", &self.http)
            .field("pricing", &self.pricing)
            .field("supports_tools", &self.supports_tools)
            .finish()
    }
}

impl ProviderConfig {
    /// Settings with this base URL and model, no key, default connection settings and no
    /// overrides.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            ..Self::default()
        }
    }

    /// `url` (the base URL with the provider's path) parsed; a malformed or non-HTTP(S) URL is
    /// a config error naming the base URL.
    pub(crate) fn endpoint(&self, provider: &str, url: &str) -> Result<url::Url> {
        let endpoint = url::Url::parse(url).map_err(|e| {
            Error::config(
                provider,
                format!("invalid base_url `{}`: {e}", self.base_url),
            )
        })?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(Error::config(
                provider,
                format!("base_url must be http(s), got `{}`", self.base_url),
            ));
        }
        Ok(endpoint)
    }

    /// The key as a header value marked sensitive (`Bearer <key>` when `bearer`), none without
    /// a key; a key with characters HTTP forbids is a config error.
    pub(crate) fn key_header(&self, provider: &str, bearer: bool) -> Result<Option<HeaderValue>> {
        let Some(key) = &self.api_key else {
            return Ok(None);
        };
        let key = key.expose_secret();
        let text = if bearer {
            format!("Bearer {key}")
        } else {
            key.to_string()
        };
        sensitive_value(provider, &text).map(Some)
    }

    /// Deserialises the keys present in `d` over `base` (a provider's own defaults).
    pub(crate) fn deserialize_over<'de, D: Deserializer<'de>>(
        d: D,
        base: ProviderConfig,
    ) -> std::result::Result<Self, D::Error> {
        let patch = ProviderPatch::deserialize(d)?;
        Ok(ProviderConfig {
            api_key: patch.api_key.or(base.api_key),
            base_url: patch.base_url.unwrap_or(base.base_url),
            model: patch.model.unwrap_or(base.model),
            http: patch.http.over(base.http),
            pricing: patch.pricing.or(base.pricing),
            supports_tools: patch.supports_tools.or(base.supports_tools),
        })
    }
}

impl<'de> Deserialize<'de> for ProviderConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Self::deserialize_over(d, Self::default())
    }
}

/// The keys of [`ProviderConfig`], each optional, so a provider can fill in its own defaults.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ProviderPatch {
    api_key: Option<SecretString>,
    #[serde(alias = "host")]
    base_url: Option<String>,
    model: Option<String>,
    pricing: Option<Pricing>,
    supports_tools: Option<bool>,
    #[serde(flatten)]
    http: HttpPatch,
}

/// Implements `Deref`/`DerefMut` to [`ProviderConfig`] (its `provider` field), the
/// `#[serde(deserialize_with)]` function that reads it over the config's own defaults, and
/// [`HttpConfig`](crate::llm::HttpConfig).
macro_rules! provider_config {
    ($config:ty, $deserialize:ident) => {
        impl std::ops::Deref for $config {
            type Target = $crate::llm::ProviderConfig;

            fn deref(&self) -> &Self::Target {
                &self.provider
            }
        }

        impl std::ops::DerefMut for $config {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.provider
            }
        }

        impl $crate::llm::HttpConfig for $config {
            fn http_options(&self) -> &$crate::llm::HttpOptions {
                &self.provider.http
            }

            fn http_options_mut(&mut self) -> &mut $crate::llm::HttpOptions {
                &mut self.provider.http
            }
        }

        /// Reads the shared keys over this provider's defaults.
        fn $deserialize<'de, D: serde::Deserializer<'de>>(
            d: D,
        ) -> std::result::Result<$crate::llm::ProviderConfig, D::Error> {
            $crate::llm::ProviderConfig::deserialize_over(
                d,
                <$config as Default>::default().provider,
            )
        }
    };
}
pub(crate) use provider_config;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::Duration;

    use secrecy::ExposeSecret;
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_left_out_keep_the_base_and_host_is_base_url() {
        let mut base = ProviderConfig::new("http://base", "m0");
        base.http.idle_timeout = Duration::from_secs(60);
        base.supports_tools = Some(true);
        let c = ProviderConfig::deserialize_over(
            json!({"host": "http://h:1", "api_key": "k-1", "connect_timeout": 1500,
                   "supports_tools": false, "unrelated": 1}),
            base,
        )
        .unwrap();
        assert_eq!(c.base_url, "http://h:1");
        assert_eq!(c.model, "m0");
        assert_eq!(c.supports_tools, Some(false));
        assert_eq!(c.http.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.http.connect_timeout, Duration::from_millis(1500));
        assert_eq!(c.api_key.as_ref().map(|k| k.expose_secret()), Some("k-1"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("k-1") && shown.contains("[redacted]"),
            "{shown}"
        );
    }

    #[cfg(feature = "ollama")]
    #[test]
    fn ollama_keeps_its_old_keys() {
        let c: crate::llm::OllamaConfig = serde_json::from_value(json!({
            "host": "http://gpu-box:11434", "supports_tools": true, "context_window": 4096
        }))
        .unwrap();
        assert_eq!(c.base_url, "http://gpu-box:11434");
        assert_eq!(c.supports_tools, Some(true));
        assert_eq!(c.context_window, 4096);
        assert_eq!(c.http.first_byte_timeout, Duration::from_secs(120));
    }
}
