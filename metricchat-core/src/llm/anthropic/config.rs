//! [`AnthropicConfig`].

use secrecy::SecretString;
use serde::Deserialize;

use crate::llm::provider::{ProviderConfig, provider_config};

/// Configuration of an [`AnthropicClient`](super::AnthropicClient).
///
/// The key (`x-api-key` header), the base URL without `/v1` (the client appends
/// `/v1/messages`), the model, the connection settings, prices and the tool-calling override
/// (on for every current model) are the shared [`ProviderConfig`] in `provider` (also reachable
/// as `config.model`, …). Deserialises from a map with every field optional (durations in
/// milliseconds), e.g. `{"model": "claude-sonnet-4-5", "api_key": "sk-ant-…", "max_tokens": 4096}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AnthropicConfig {
    /// Key, base URL (`https://api.anthropic.com`), model (`claude-sonnet-4-5`), connection
    /// settings, prices and `supports_tools`, flattened.
    #[serde(flatten, deserialize_with = "provider_over_defaults")]
    pub provider: ProviderConfig,
    /// `max_tokens` sent when a request sets none (the API requires one).
    pub max_tokens: u32,
    /// Override of the model's context window.
    pub context_window: Option<u32>,
}

impl Default for AnthropicConfig {
    fn default() -> Self {
        Self {
            provider: ProviderConfig::new("https://api.anthropic.com", "claude-sonnet-4-5"),
            max_tokens: 8192,
            context_window: None,
        }
    }
}

provider_config!(AnthropicConfig, provider_over_defaults);

impl AnthropicConfig {
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
    /// | `ANTHROPIC_API_KEY` | `api_key` | none |
    /// | `ANTHROPIC_BASE_URL` | `base_url` | `https://api.anthropic.com` |
    /// | `MC_LLM_MODEL` | `model` | `claude-sonnet-4-5` |
    ///
    /// Empty variables count as unset. Everything else keeps its default.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    pub(super) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(key) = var("ANTHROPIC_API_KEY") {
            config.api_key = Some(SecretString::from(key));
        }
        if let Some(url) = var("ANTHROPIC_BASE_URL") {
            config.base_url = url;
        }
        if let Some(model) = var("MC_LLM_MODEL") {
            config.model = model;
        }
        config
    }

    /// Sets the base URL (without `/v1`).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }
}
