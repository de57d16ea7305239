//! [`GeminiConfig`].

use secrecy::SecretString;
use serde::Deserialize;

use super::DEFAULT_BASE_URL;
use crate::llm::provider::{ProviderConfig, provider_config};

/// Configuration of a [`GeminiClient`](super::GeminiClient).
///
/// The key (`x-goog-api-key` header), the base URL without `/v1beta` (the client appends
/// `/v1beta/models/{model}:…`), the model (`gemini-2.5-flash`; a leading `models/` is accepted),
/// the connection settings, prices and the tool-calling override (on for every current model)
/// are the shared [`ProviderConfig`] in `provider` (also reachable as `config.model`, …).
/// Deserialises from a map with every field optional (durations in milliseconds), e.g.
/// `{"model": "gemini-2.5-flash", "api_key": "AIza…", "idle_timeout": 20000}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct GeminiConfig {
    /// Key, base URL (`https://generativelanguage.googleapis.com`), model
    /// (`gemini-2.5-flash`), connection settings, prices and `supports_tools`, flattened.
    #[serde(flatten, deserialize_with = "provider_over_defaults")]
    pub provider: ProviderConfig,
    /// Stream with `:streamGenerateContent?alt=sse` (default), else one `:generateContent` call.
    pub stream: bool,
    /// Override of the model's context window.
    pub context_window: Option<u32>,
}

impl Default for GeminiConfig {
    fn default() -> Self {
        Self {
            provider: ProviderConfig::new(DEFAULT_BASE_URL, "gemini-2.5-flash"),
            stream: true,
            context_window: None,
        }
    }
}

provider_config!(GeminiConfig, provider_over_defaults);

impl GeminiConfig {
    /// Defaults for `model`.
    pub fn new(model: impl Into<String>) -> Self {
        let mut config = Self::default();
        config.provider.model = model.into();
        config
    }

    /// Configuration from the environment:
    ///
    /// | variable | field | default |
    /// | --- | --- | --- |
    /// | `GEMINI_API_KEY`, else `GOOGLE_API_KEY` | `api_key` | none |
    /// | `GEMINI_BASE_URL` | `base_url` | `https://generativelanguage.googleapis.com` |
    /// | `MC_LLM_MODEL` | `model` | `gemini-2.5-flash` |
    ///
    /// Empty variables count as unset. Everything else keeps its default.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    pub(super) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(key) = var("GEMINI_API_KEY").or_else(|| var("GOOGLE_API_KEY")) {
            config.api_key = Some(SecretString::from(key));
        }
        if let Some(url) = var("GEMINI_BASE_URL") {
            config.base_url = url;
        }
        if let Some(model) = var("MC_LLM_MODEL") {
            config.model = model;
        }
        config
    }

    /// Sets the base URL (without `/v1beta`).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// Streams (`:streamGenerateContent?alt=sse`) or not (`:generateContent`).
    pub fn with_stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }
}
