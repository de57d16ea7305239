//! [`OpenAiConfig`]: OpenAI, Azure OpenAI deployments and OpenAI-compatible servers.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::PROVIDER;
use crate::error::{Error, Result};
use crate::llm::provider::{ProviderConfig, provider_config};

/// The `api-version` an Azure deployment is called with when none is configured (the latest
/// generally available data-plane inference version).
pub const AZURE_DEFAULT_API_VERSION: &str = "2024-10-21";

/// How an [`OpenAiClient`](super::OpenAiClient) sends its API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>` (OpenAI and most compatible servers).
    #[default]
    Bearer,
    /// `api-key: <key>` (Azure OpenAI deployments).
    ApiKey,
}

/// Configuration of an [`OpenAiClient`](super::OpenAiClient).
///
/// The key (`Authorization: Bearer`; optional for local servers), the base URL up to and
/// including `/v1`, the model, the connection settings, prices and the tool-calling override are
/// the shared [`ProviderConfig`] in `provider` (also reachable as `config.model`, …). Deserialises
/// from a map with every field optional (durations in milliseconds), e.g.
/// `{"model": "gpt-4.1", "api_key": "sk-…", "first_byte_timeout": 20000}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OpenAiConfig {
    /// Key, base URL (`https://api.openai.com/v1`), model (`gpt-4.1-mini`), connection
    /// settings, prices and `supports_tools` (default: known models and api.openai.com yes,
    /// other servers no), flattened.
    #[serde(flatten, deserialize_with = "provider_over_defaults")]
    pub provider: ProviderConfig,
    /// Override of the model's context window.
    pub context_window: Option<u32>,
    /// Override of whether the server supports `response_format: {"type": "json_object"}`.
    pub supports_json_mode: Option<bool>,
    /// Override of whether the model accepts images (known vision models: yes; others: no).
    pub supports_vision: Option<bool>,
    /// Sent as the `api-version` query parameter (Azure OpenAI deployments).
    pub api_version: Option<String>,
    /// How the API key is sent.
    pub key_header: KeyHeader,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            provider: ProviderConfig::new("https://api.openai.com/v1", "gpt-4.1-mini"),
            context_window: None,
            supports_json_mode: None,
            supports_vision: None,
            api_version: None,
            key_header: KeyHeader::Bearer,
        }
    }
}

provider_config!(OpenAiConfig, provider_over_defaults);

impl OpenAiConfig {
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
    /// | `OPENAI_API_KEY` | `api_key` | none |
    /// | `MC_LLM_BASE_URL`, else `OPENAI_BASE_URL` | `base_url` | `https://api.openai.com/v1` |
    /// | `MC_LLM_MODEL` | `model` | `gpt-4.1-mini` |
    /// | `MC_LLM_SUPPORTS_TOOLS` (`true`/`false`) | `supports_tools` | known models and api.openai.com: yes; other servers: no |
    ///
    /// Empty variables count as unset. Everything else keeps its default.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    pub(super) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(key) = var("OPENAI_API_KEY") {
            config.api_key = Some(SecretString::from(key));
        }
        if let Some(url) = var("MC_LLM_BASE_URL").or_else(|| var("OPENAI_BASE_URL")) {
            config.base_url = url;
        }
        if let Some(model) = var("MC_LLM_MODEL") {
            config.model = model;
        }
        if let Some(tools) = var("MC_LLM_SUPPORTS_TOOLS") {
            config.supports_tools = match tools.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => Some(true),
                "0" | "false" | "no" => Some(false),
                _ => None,
            };
        }
        config
    }

    /// An Azure OpenAI deployment: requests go to
    /// `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={api_version}`
    /// with the key in an `api-key` header. `endpoint` is the resource URL
    /// (`https://{resource}.openai.azure.com`); the deployment name also serves as the model id
    /// (for the price table), and native tool calling is on.
    pub fn azure(
        endpoint: impl AsRef<str>,
        deployment: impl Into<String>,
        api_version: impl Into<String>,
    ) -> Self {
        let deployment = deployment.into();
        let endpoint = endpoint.as_ref().trim().trim_end_matches('/');
        let mut config = Self {
            api_version: Some(api_version.into()),
            key_header: KeyHeader::ApiKey,
            ..Self::default()
        };
        config.base_url = format!("{endpoint}/openai/deployments/{deployment}");
        config.model = deployment;
        config.supports_tools = Some(true);
        config
    }

    /// An Azure OpenAI deployment configured from the environment:
    ///
    /// | variable | meaning | default |
    /// | --- | --- | --- |
    /// | `AZURE_OPENAI_ENDPOINT` | resource URL, `https://{resource}.openai.azure.com` | required |
    /// | `AZURE_OPENAI_API_KEY` | key, sent as `api-key` | none |
    /// | `AZURE_OPENAI_DEPLOYMENT`, else `MC_LLM_MODEL` | deployment name | required |
    /// | `OPENAI_API_VERSION` | `api-version` | [`AZURE_DEFAULT_API_VERSION`] |
    ///
    /// Empty variables count as unset; a missing endpoint or deployment is a config error.
    pub fn azure_from_env() -> Result<Self> {
        Self::azure_from_vars(|name| std::env::var(name).ok())
    }

    pub(super) fn azure_from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let endpoint = var("AZURE_OPENAI_ENDPOINT")
            .ok_or_else(|| Error::config(PROVIDER, "AZURE_OPENAI_ENDPOINT is not set"))?;
        let deployment = var("AZURE_OPENAI_DEPLOYMENT")
            .or_else(|| var("MC_LLM_MODEL"))
            .ok_or_else(|| {
                Error::config(
                    PROVIDER,
                    "AZURE_OPENAI_DEPLOYMENT (or MC_LLM_MODEL) names no deployment",
                )
            })?;
        let version =
            var("OPENAI_API_VERSION").unwrap_or_else(|| AZURE_DEFAULT_API_VERSION.to_string());
        let mut config = Self::azure(endpoint, deployment.trim(), version.trim());
        if let Some(key) = var("AZURE_OPENAI_API_KEY") {
            config.api_key = Some(SecretString::from(key));
        }
        Ok(config)
    }

    /// Sets the `api-version` query parameter.
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// Sets the base URL.
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
