//! [`OllamaConfig`].

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::DEFAULT_PORT;
use crate::llm::HttpOptions;
use crate::llm::provider::{ProviderConfig, provider_config};

/// Configuration of an [`OllamaClient`](super::OllamaClient).
///
/// The server address (`base_url`, also read from the key `host`: e.g. `http://127.0.0.1:11434`;
/// a bare `host[:port]` is accepted), the model (`llama3.1:8b`), the bearer token (for a server
/// behind an authenticating proxy or Ollama's hosted API), the connection settings, prices
/// (default: none, a local model costs nothing per token) and whether the model supports native
/// tool calling (default: no) are the shared [`ProviderConfig`] in `provider` (also reachable as
/// `config.model`, …). Deserialises from a map with every field optional (durations in
/// milliseconds), e.g. `{"model": "qwen2.5:7b", "host": "http://gpu-box:11434",
/// "supports_tools": true}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OllamaConfig {
    /// Server address, model, bearer token, connection settings (waiting longer than other
    /// providers: a model may have to load first), prices and `supports_tools`, flattened.
    #[serde(flatten, deserialize_with = "provider_over_defaults")]
    pub provider: ProviderConfig,
    /// Context window in tokens, also sent as `options.num_ctx` (Ollama's own default is
    /// smaller than most models support).
    pub context_window: u32,
    /// Whether the model accepts images (`llava`, `llama3.2-vision`, `qwen2.5vl`, …).
    pub supports_vision: bool,
    /// How long Ollama keeps the model loaded after the request (e.g. `"5m"`); server default
    /// when unset.
    pub keep_alive: Option<String>,
}

impl Default for OllamaConfig {
    fn default() -> Self {
        let mut provider =
            ProviderConfig::new(format!("http://127.0.0.1:{DEFAULT_PORT}"), "llama3.1:8b");
        provider.http = ollama_http_defaults();
        Self {
            provider,
            context_window: 8192,
            supports_vision: false,
            keep_alive: None,
        }
    }
}

provider_config!(OllamaConfig, provider_over_defaults);

/// Ollama's connection defaults: loading a model into memory can take a while before the
/// first line, and a local model on a CPU can pause between lines.
fn ollama_http_defaults() -> HttpOptions {
    HttpOptions::with_timeouts(
        Duration::from_secs(10),
        Duration::from_secs(120),
        Duration::from_secs(60),
    )
}

impl OllamaConfig {
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
    /// | `OLLAMA_HOST` | `base_url` | `http://127.0.0.1:11434` |
    /// | `OLLAMA_API_KEY` | `api_key` | none |
    /// | `MC_LLM_MODEL` | `model` | `llama3.1:8b` |
    /// | `MC_LLM_SUPPORTS_TOOLS` (`true`/`false`) | `supports_tools` | `false` |
    /// | `MC_LLM_CONTEXT_WINDOW` | `context_window` | `8192` |
    ///
    /// Empty variables count as unset. Everything else keeps its default.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    pub(super) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(host) = var("OLLAMA_HOST") {
            config.base_url = host;
        }
        if let Some(key) = var("OLLAMA_API_KEY") {
            config.api_key = Some(SecretString::from(key));
        }
        if let Some(model) = var("MC_LLM_MODEL") {
            config.model = model;
        }
        if let Some(tools) = var("MC_LLM_SUPPORTS_TOOLS") {
            match tools.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => config.supports_tools = Some(true),
                "0" | "false" | "no" => config.supports_tools = Some(false),
                _ => {}
            }
        }
        if let Some(n) = var("MC_LLM_CONTEXT_WINDOW").and_then(|v| v.trim().parse().ok()) {
            config.context_window = n;
        }
        config
    }

    /// Sets the server address.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.base_url = host.into();
        self
    }

    /// Sets the bearer token.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// Declares whether the model supports native tool calling.
    pub fn with_tools(mut self, supports_tools: bool) -> Self {
        self.supports_tools = Some(supports_tools);
        self
    }

    /// Declares whether the model accepts images.
    pub fn with_vision(mut self, supports_vision: bool) -> Self {
        self.supports_vision = supports_vision;
        self
    }

    /// Sets the context window (sent as `options.num_ctx`).
    pub fn with_context_window(mut self, tokens: u32) -> Self {
        self.context_window = tokens;
        self
    }
}
