//! Ollama native chat client (`POST /api/chat`, newline-delimited JSON streaming).
//!
//! Ollama streams one JSON object per line and sends each tool call whole, with its arguments
//! as a JSON object; the last line has `done: true`, the stop reason and the token counts.
//! `format: "json"` is its JSON mode. Failures before the first line (429, 5xx, connection
//! errors, first-byte timeout, e.g. while the model loads) are retried with [`RetryPolicy`](super::RetryPolicy).
//!
//! Many local models have no reliable tool calling, so `supports_tools` defaults to `false`
//! (the agent then asks for JSON in text); set it for models that do.

mod config;
mod stream;
mod wire;

use serde_json::Value;

pub use config::OllamaConfig;

use crate::error::Result;
use crate::llm::ChatRequest;
use crate::llm::provider::{HttpChatClient, delegate_client};
use wire::OllamaWire;

const PROVIDER: &str = "ollama";
const DEFAULT_PORT: u16 = 11434;

/// An Ollama `/api/chat` client.
///
/// ```no_run
/// # async fn run() -> metricchat_core::Result<()> {
/// use metricchat_core::llm::{ChatMessage, ChatRequest, LlmClient, OllamaClient, OllamaConfig};
///
/// let client = OllamaClient::new(OllamaConfig::from_env())?;
/// let reply = client
///     .complete(ChatRequest::new(vec![ChatMessage::user("Say hi")]))
///     .await?;
/// println!("{}", reply.text);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OllamaClient(HttpChatClient<OllamaWire>);

impl OllamaClient {
    /// Builds a client; fails on a malformed host or API key.
    pub fn new(config: OllamaConfig) -> Result<Self> {
        HttpChatClient::new(OllamaWire::new(config)?).map(Self)
    }

    /// The configuration.
    pub fn config(&self) -> &OllamaConfig {
        &self.0.wire().config
    }

    /// The URL requests go to (`…/api/chat`).
    pub fn endpoint(&self) -> &str {
        self.0.wire().endpoint.as_str()
    }

    /// The request body sent for `request` (exposed for inspection and tests).
    pub fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        wire::request_body(self.config(), request)
    }
}

delegate_client!(OllamaClient);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::BTreeMap;

    use super::wire::endpoint;
    use super::*;
    use crate::llm::LlmClient;

    #[test]
    fn host_forms_are_normalised() {
        for (host, url) in [
            ("", "http://127.0.0.1:11434/api/chat"),
            ("0.0.0.0", "http://127.0.0.1:11434/api/chat"),
            ("gpu-box:8080", "http://gpu-box:8080/api/chat"),
            ("http://gpu-box", "http://gpu-box:11434/api/chat"),
            (
                "https://ollama.example.com/",
                "https://ollama.example.com/api/chat",
            ),
            ("http://127.0.0.1:11434", "http://127.0.0.1:11434/api/chat"),
        ] {
            let host = if host.is_empty() {
                OllamaConfig::default().base_url.clone()
            } else {
                host.to_string()
            };
            assert_eq!(endpoint(&host).unwrap().as_str(), url, "{host}");
        }
        assert!(endpoint("ftp://x").is_err());
    }

    #[test]
    fn config_from_env_vars() {
        let vars = BTreeMap::from([
            ("OLLAMA_HOST", "0.0.0.0:11500"),
            ("MC_LLM_MODEL", "qwen2.5:7b"),
            ("MC_LLM_SUPPORTS_TOOLS", "true"),
            ("MC_LLM_CONTEXT_WINDOW", "32768"),
        ]);
        let c = OllamaConfig::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        let client = OllamaClient::new(c).unwrap();
        assert_eq!(client.endpoint(), "http://127.0.0.1:11500/api/chat");
        let info = client.model_info();
        assert_eq!(info.model, "qwen2.5:7b");
        assert!(info.supports_tools && info.supports_json_mode);
        assert_eq!(info.context_window, 32768);
        let info = OllamaClient::new(OllamaConfig::default())
            .unwrap()
            .model_info();
        assert!(!info.supports_tools);
        assert_eq!(info.context_window, 8192);
    }
}
