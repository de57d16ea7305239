//! LLM clients from configuration: a short string such as `"anthropic:claude-sonnet-4-5"` or a
//! serde object, so that hosts (the Python and Node packages, config files) never construct
//! provider clients by hand.
//!
//! | string | client |
//! | --- | --- |
//! | `openai:gpt-4.1-mini` | OpenAI Chat Completions (`OPENAI_API_KEY`) |
//! | `anthropic:claude-sonnet-4-5` | Anthropic Messages (`ANTHROPIC_API_KEY`) |
//! | `ollama:qwen2.5-coder:1.5b` | Ollama `/api/chat` (`OLLAMA_HOST`) |
//! | `gemini:gemini-2.5-flash` | Google Gemini (`GEMINI_API_KEY`, else `GOOGLE_API_KEY`) |
//! | `azure:DEPLOYMENT@https://RESOURCE.openai.azure.com` | Azure OpenAI (`AZURE_OPENAI_API_KEY`; `api_version` field or `OPENAI_API_VERSION`) |
//! | `openai_compatible:qwen@http://127.0.0.1:8089/v1` | any OpenAI-compatible server at that base URL |
//!
//! The model is everything after the first `:` (Ollama tags keep their own colon); an
//! `@base_url` suffix overrides the provider's base URL. Keys come from the object's `api_key`,
//! else from the provider's usual environment variable.
//!
//! ```
//! use metricchat_core::llm::{LlmSpec, Provider};
//!
//! let spec: LlmSpec = "ollama:qwen2.5-coder:1.5b".parse()?;
//! assert_eq!(spec.provider, Provider::Ollama);
//! assert_eq!(spec.model.as_deref(), Some("qwen2.5-coder:1.5b"));
//!
//! let spec: LlmSpec = serde_json::from_value(serde_json::json!({
//!     "provider": "openai_compatible",
//!     "model": "qwen",
//!     "base_url": "http://127.0.0.1:8089/v1",
//!     "supports_tools": false,
//! }))?;
//! let client = spec.build()?;
//! assert_eq!(client.model_info().model, "qwen");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::cassette::{Cassette, CassetteMode, Recordable};
use super::{HttpOptions, LlmClient, Pricing, ProviderConfig};
use crate::error::{Error, Result};

const COMPONENT: &str = "llm spec";

/// Which provider's wire format a [`LlmSpec`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// OpenAI Chat Completions.
    #[default]
    #[serde(rename = "openai")]
    OpenAi,
    /// An OpenAI-compatible server (llama.cpp, vLLM, LM Studio…): needs `base_url`; tools off
    /// unless `supports_tools` says otherwise.
    #[serde(rename = "openai_compatible")]
    OpenAiCompatible,
    /// Anthropic Messages.
    Anthropic,
    /// Ollama's native `/api/chat`.
    Ollama,
    /// Google Gemini (`generateContent` / `streamGenerateContent`).
    Gemini,
    /// Azure OpenAI: `model` is the deployment, `base_url` the resource endpoint.
    Azure,
}

impl Provider {
    /// The name used in strings and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::OpenAiCompatible => "openai_compatible",
            Self::Anthropic => "anthropic",
            Self::Ollama => "ollama",
            Self::Gemini => "gemini",
            Self::Azure => "azure",
        }
    }

    /// Parses a provider name (a few common aliases accepted).
    pub fn parse(name: &str) -> Option<Self> {
        Some(
            match name.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "openai" => Self::OpenAi,
                "openai_compatible" | "openai_compat" | "compatible" => Self::OpenAiCompatible,
                "anthropic" | "claude" => Self::Anthropic,
                "ollama" => Self::Ollama,
                "gemini" | "google" => Self::Gemini,
                "azure" | "azure_openai" => Self::Azure,
                _ => return None,
            },
        )
    }

    /// The cargo feature of `metricchat-core` (and of the `metricchat` facade) that compiles
    /// this provider's client: Azure and OpenAI-compatible servers ride on `openai`.
    pub fn feature(self) -> &'static str {
        match self {
            Self::OpenAi | Self::OpenAiCompatible | Self::Azure => "openai",
            Self::Anthropic => "anthropic",
            Self::Ollama => "ollama",
            Self::Gemini => "gemini",
        }
    }

    /// Whether this build has the provider's [feature](Provider::feature).
    pub fn is_enabled(self) -> bool {
        match self {
            Self::OpenAi | Self::OpenAiCompatible | Self::Azure => cfg!(feature = "openai"),
            Self::Anthropic => cfg!(feature = "anthropic"),
            Self::Ollama => cfg!(feature = "ollama"),
            Self::Gemini => cfg!(feature = "gemini"),
        }
    }

    /// Every provider name (see [`Provider::is_enabled`] for the ones this build constructs).
    pub fn all() -> &'static [Provider] {
        &[
            Self::OpenAi,
            Self::OpenAiCompatible,
            Self::Anthropic,
            Self::Ollama,
            Self::Gemini,
            Self::Azure,
        ]
    }
}

/// A provider client described as data. Unknown fields are refused, so a typo fails loudly.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSpec {
    /// The provider.
    pub provider: Provider,
    /// Model name; the provider client's default when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// Base URL (OpenAI-style `…/v1`, Anthropic's API root, or the Ollama host).
    #[serde(default)]
    pub base_url: Option<String>,
    /// API key; the provider's environment variable when absent.
    #[serde(default, skip_serializing)]
    pub api_key: Option<SecretString>,
    /// Whether the model does native tool calling (overrides the model table).
    #[serde(default)]
    pub supports_tools: Option<bool>,
    /// Whether the model accepts images (overrides the model table; OpenAI-compatible and
    /// Ollama models only — Anthropic and Gemini models all do).
    #[serde(default)]
    pub supports_vision: Option<bool>,
    /// Context window in tokens (overrides the model table).
    #[serde(default)]
    pub context_window: Option<u32>,
    /// Prices per million tokens (overrides the model table).
    #[serde(default)]
    pub pricing: Option<Pricing>,
    /// Retries after 429/5xx/overloaded (default 3).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// How long to wait for the TCP/TLS connection (milliseconds or `"10s"`, as every duration
    /// of a spec).
    #[serde(default, with = "crate::serde_util::duration_ms_opt")]
    pub connect_timeout: Option<Duration>,
    /// How long to wait for the first byte of a response.
    #[serde(default, with = "crate::serde_util::duration_ms_opt")]
    pub first_byte_timeout: Option<Duration>,
    /// How long a stream may stay silent.
    #[serde(default, with = "crate::serde_util::duration_ms_opt")]
    pub idle_timeout: Option<Duration>,
    /// Deprecated: `connect_timeout` in seconds (`connect_timeout` wins when both are set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_secs: Option<f64>,
    /// Deprecated: `first_byte_timeout` in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_timeout_secs: Option<f64>,
    /// Deprecated: `idle_timeout` in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_secs: Option<f64>,
    /// Anthropic only: the `max_tokens` of each reply.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// Azure only: the `api-version` query parameter.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Extra headers sent with every request (values are kept out of logs, `Debug` and
    /// cassettes).
    #[serde(default, skip_serializing)]
    pub headers: Option<BTreeMap<String, String>>,
    /// A cassette file: the client's HTTP traffic is recorded to it when `MC_RECORD=1` and
    /// replayed from it otherwise (see [`Cassette`]), so tests run without a network or a key.
    #[serde(default)]
    pub cassette: Option<PathBuf>,
    /// Overrides how [`LlmSpec::cassette`] is used: `record`, `replay` or `auto` (the default:
    /// `MC_RECORD`).
    #[serde(default)]
    pub cassette_mode: Option<CassetteMode>,
}

impl std::fmt::Debug for LlmSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmSpec")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("supports_tools", &self.supports_tools)
            .field("cassette", &self.cassette)
            .finish_non_exhaustive()
    }
}

impl FromStr for LlmSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let (provider, rest) = s.split_once(':').unwrap_or((s, ""));
        let provider = Provider::parse(provider).ok_or_else(|| {
            Error::config(
                COMPONENT,
                format!(
                    "unknown provider `{provider}` in `{s}`; expected one of: {}",
                    Provider::all()
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        let (model, base_url) = match rest.split_once('@') {
            Some((model, url)) => (model, Some(url.to_string())),
            None => (rest, None),
        };
        let model = Some(model.trim().to_string()).filter(|m| !m.is_empty());
        if matches!(provider, Provider::OpenAiCompatible | Provider::Azure) && base_url.is_none() {
            return Err(Error::config(
                COMPONENT,
                format!(
                    "`{s}`: needs a base URL, as in `openai_compatible:MODEL@http://127.0.0.1:8080/v1` or `azure:DEPLOYMENT@https://RESOURCE.openai.azure.com`"
                ),
            ));
        }
        Ok(Self {
            provider,
            model,
            base_url,
            ..Self::default()
        })
    }
}

impl LlmSpec {
    /// A spec for `provider` with its defaults.
    pub fn new(provider: Provider) -> Self {
        Self {
            provider,
            ..Self::default()
        }
    }

    /// Sets the model.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sets the base URL.
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// Sets the cassette file (see [`LlmSpec::cassette`]).
    pub fn with_cassette(mut self, path: impl Into<PathBuf>) -> Self {
        self.cassette = Some(path.into());
        self
    }

    /// The spec's model and base URL, then its [overrides](Self::apply_overrides), applied over
    /// a provider's settings.
    #[cfg_attr(
        not(any(feature = "anthropic", feature = "gemini", feature = "ollama")),
        allow(dead_code)
    )]
    fn apply_provider(&self, c: &mut ProviderConfig) {
        if let Some(m) = &self.model {
            c.model = m.clone();
        }
        if let Some(u) = &self.base_url {
            c.base_url = u.clone();
        }
        self.apply_overrides(c);
    }

    /// The spec's key, prices, tool-calling override, retry, timeouts and headers applied over
    /// a provider's settings.
    fn apply_overrides(&self, c: &mut ProviderConfig) {
        c.api_key = self.api_key.clone().or_else(|| c.api_key.take());
        c.pricing = self.pricing.or(c.pricing);
        c.supports_tools = self.supports_tools.or(c.supports_tools);
        self.apply_http(&mut c.http);
    }

    /// The spec's retry, timeout and header keys applied over a provider's `http` defaults.
    fn apply_http(&self, http: &mut HttpOptions) {
        if let Some(n) = self.max_retries {
            http.retry.max_retries = n;
        }
        let secs = |v: Option<f64>, d: &mut Duration| {
            if let Some(v) = v.filter(|v| v.is_finite() && *v > 0.0) {
                *d = Duration::from_secs_f64(v);
            }
        };
        secs(self.connect_timeout_secs, &mut http.connect_timeout);
        secs(self.first_byte_timeout_secs, &mut http.first_byte_timeout);
        secs(self.idle_timeout_secs, &mut http.idle_timeout);
        let set = |v: Option<Duration>, d: &mut Duration| {
            if let Some(v) = v.filter(|v| !v.is_zero()) {
                *d = v;
            }
        };
        set(self.connect_timeout, &mut http.connect_timeout);
        set(self.first_byte_timeout, &mut http.first_byte_timeout);
        set(self.idle_timeout, &mut http.idle_timeout);
        if let Some(headers) = &self.headers {
            http.headers.extend(headers.clone());
        }
    }

    /// `client`, sending through the spec's cassette when it names one.
    fn finish<C: Recordable + 'static>(&self, client: C) -> Result<Arc<dyn LlmClient>> {
        Ok(match &self.cassette {
            Some(path) => {
                let mode = self.cassette_mode.unwrap_or(CassetteMode::Auto);
                Arc::new(Cassette::open(path, mode)?.wrap(client))
            }
            None => Arc::new(client),
        })
    }

    /// Builds the client (no network I/O; a replayed cassette is read now). A provider whose
    /// cargo feature is off is a config error naming the feature.
    pub fn build(&self) -> Result<Arc<dyn LlmClient>> {
        if !self.provider.is_enabled() {
            return Err(Error::config(
                COMPONENT,
                format!(
                    "provider `{}` is not compiled in: enable the cargo feature `{}` of \
                     metricchat (or metricchat-core)",
                    self.provider.as_str(),
                    self.provider.feature()
                ),
            ));
        }
        match self.provider {
            #[cfg(feature = "openai")]
            Provider::OpenAi | Provider::OpenAiCompatible | Provider::Azure => self.build_openai(),
            #[cfg(feature = "anthropic")]
            Provider::Anthropic => {
                let mut c = super::AnthropicConfig::from_env();
                self.apply_provider(&mut c.provider);
                if let Some(n) = self.max_output_tokens {
                    c.max_tokens = n;
                }
                c.context_window = self.context_window.or(c.context_window);
                self.finish(super::AnthropicClient::new(c)?)
            }
            #[cfg(feature = "gemini")]
            Provider::Gemini => {
                let mut c = super::GeminiConfig::from_env();
                self.apply_provider(&mut c.provider);
                c.context_window = self.context_window.or(c.context_window);
                self.finish(super::GeminiClient::new(c)?)
            }
            #[cfg(feature = "ollama")]
            Provider::Ollama => {
                let mut c = super::OllamaConfig::from_env();
                self.apply_provider(&mut c.provider);
                c.supports_vision = self.supports_vision.unwrap_or(c.supports_vision);
                c.context_window = self.context_window.unwrap_or(c.context_window);
                self.finish(super::OllamaClient::new(c)?)
            }
            #[allow(unreachable_patterns)]
            _ => Err(Error::config(COMPONENT, "provider not compiled in")),
        }
    }

    /// OpenAI, an OpenAI-compatible server, or an Azure deployment.
    #[cfg(feature = "openai")]
    fn build_openai(&self) -> Result<Arc<dyn LlmClient>> {
        use super::{OpenAiClient, OpenAiConfig};
        let mut c = match self.provider {
            Provider::Azure => {
                let (Some(endpoint), Some(deployment)) = (&self.base_url, &self.model) else {
                    return Err(Error::config(
                        COMPONENT,
                        "an azure model needs `model` (the deployment) and `base_url` (the resource endpoint)",
                    ));
                };
                let version = self
                    .api_version
                    .clone()
                    .or_else(|| env_var("OPENAI_API_VERSION"))
                    .unwrap_or_else(|| super::openai::AZURE_DEFAULT_API_VERSION.to_string());
                let mut c = OpenAiConfig::azure(endpoint, deployment.clone(), version);
                c.api_key = env_var("AZURE_OPENAI_API_KEY").map(SecretString::from);
                c
            }
            Provider::OpenAiCompatible => {
                let Some(url) = &self.base_url else {
                    return Err(Error::config(
                        COMPONENT,
                        "an openai_compatible model needs `base_url`",
                    ));
                };
                let mut c = OpenAiConfig::default().with_base_url(url.clone());
                c.supports_tools = Some(self.supports_tools.unwrap_or(false));
                c.pricing = Some(self.pricing.unwrap_or_default());
                if let Some(m) = &self.model {
                    c.model = m.clone();
                }
                c
            }
            _ => {
                let mut c = OpenAiConfig::from_env();
                if let Some(m) = &self.model {
                    c.model = m.clone();
                }
                if let Some(u) = &self.base_url {
                    c.base_url = u.clone();
                }
                c
            }
        };
        self.apply_overrides(&mut c.provider);
        c.supports_vision = self.supports_vision.or(c.supports_vision);
        c.context_window = self.context_window.or(c.context_window);
        self.finish(OpenAiClient::new(c)?)
    }
}

/// A set, non-blank environment variable.
#[cfg(feature = "openai")]
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// An LLM given either as a string (`"openai:gpt-4.1-mini"`) or as a [`LlmSpec`] object.
// Configuration read once per agent: the size of the object form does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LlmSource {
    /// The short string form.
    Url(String),
    /// The object form.
    Spec(LlmSpec),
}

impl LlmSource {
    /// The spec this source describes.
    pub fn spec(&self) -> Result<LlmSpec> {
        match self {
            Self::Url(s) => s.parse(),
            Self::Spec(s) => Ok(s.clone()),
        }
    }

    /// Builds the client.
    pub fn build(&self) -> Result<Arc<dyn LlmClient>> {
        self.spec()?.build()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_take_the_one_duration_form_and_the_old_seconds_keys() {
        let s: LlmSpec = serde_json::from_value(serde_json::json!({
            "provider": "openai", "connect_timeout": "2s", "first_byte_timeout": 1500,
            "idle_timeout_secs": 3, "first_byte_timeout_secs": 9
        }))
        .unwrap();
        let mut http = HttpOptions::default();
        s.apply_http(&mut http);
        assert_eq!(http.connect_timeout, Duration::from_secs(2));
        // The new key wins over its deprecated seconds twin.
        assert_eq!(http.first_byte_timeout, Duration::from_millis(1500));
        assert_eq!(http.idle_timeout, Duration::from_secs(3));
        let err = serde_json::from_value::<LlmSpec>(serde_json::json!({
            "provider": "openai", "connect_timeout": "soon"
        }))
        .unwrap_err();
        assert!(err.to_string().contains("soon"), "{err}");
    }

    #[test]
    fn parses_strings() {
        let s: LlmSpec = "anthropic:claude-sonnet-4-5".parse().unwrap();
        assert_eq!(s.provider, Provider::Anthropic);
        assert_eq!(s.model.as_deref(), Some("claude-sonnet-4-5"));
        let s: LlmSpec = "openai_compatible:qwen@http://127.0.0.1:8089/v1"
            .parse()
            .unwrap();
        assert_eq!(s.base_url.as_deref(), Some("http://127.0.0.1:8089/v1"));
        assert_eq!(s.model.as_deref(), Some("qwen"));
        let s: LlmSpec = "openai".parse().unwrap();
        assert_eq!(s.model, None);
        let err = "nope:x".parse::<LlmSpec>().unwrap_err();
        assert!(err.to_string().contains("unknown provider"), "{err}");
        assert!("openai_compatible:qwen".parse::<LlmSpec>().is_err());
    }

    #[cfg(feature = "anthropic")]
    #[test]
    fn objects_refuse_unknown_fields_and_hide_keys() {
        let err = serde_json::from_value::<LlmSpec>(serde_json::json!({
            "provider": "openai", "modle": "x"
        }))
        .unwrap_err();
        assert!(err.to_string().contains("modle"), "{err}");
        let s: LlmSpec = serde_json::from_value(serde_json::json!({
            "provider": "anthropic", "api_key": "sk-secret-123"
        }))
        .unwrap();
        assert!(!format!("{s:?}").contains("sk-secret-123"));
        assert!(!serde_json::to_string(&s).unwrap().contains("sk-secret-123"));
        let client = s.build().unwrap();
        assert!(!format!("{client:?}").contains("sk-secret-123"));
    }

    #[test]
    fn builds_each_enabled_provider_and_names_the_feature_of_the_others() {
        for p in Provider::all() {
            let mut spec = LlmSpec::new(*p).with_model("m1");
            if matches!(p, Provider::OpenAiCompatible | Provider::Azure) {
                spec = spec.with_base_url("http://127.0.0.1:1/v1");
            }
            match spec.build() {
                Ok(c) => {
                    assert!(p.is_enabled(), "{p:?}");
                    assert_eq!(c.model_info().model, "m1");
                }
                Err(e) => {
                    assert!(!p.is_enabled(), "{p:?}: {e}");
                    assert_eq!(e.kind(), crate::error::ErrorKind::InvalidInput);
                    let needle = format!("cargo feature `{}`", p.feature());
                    assert!(e.to_string().contains(&needle), "{e}");
                }
            }
        }
        // The string and object forms parse whatever is compiled in.
        let s: LlmSpec = "gemini:gemini-2.5-flash".parse().unwrap();
        assert_eq!(s.provider.feature(), "gemini");
        assert_eq!(Provider::Azure.feature(), "openai");
        assert_eq!(Provider::OpenAiCompatible.feature(), "openai");
    }

    #[cfg(all(feature = "openai", feature = "ollama"))]
    #[test]
    fn supports_vision_overrides_the_model_table() {
        for spec in [
            serde_json::json!({"provider": "ollama", "model": "llava:7b", "supports_vision": true}),
            serde_json::json!({"provider": "openai_compatible", "model": "qwen2.5-vl",
                               "base_url": "http://127.0.0.1:1/v1", "supports_vision": true}),
        ] {
            let spec: LlmSpec = serde_json::from_value(spec).unwrap();
            assert!(spec.build().unwrap().model_info().supports_vision);
        }
        let spec: LlmSpec = "ollama:llava:7b".parse().unwrap();
        assert!(!spec.build().unwrap().model_info().supports_vision);
    }
}
