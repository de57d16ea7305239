//! Anthropic Messages API client (`POST /v1/messages`, `anthropic-version: 2023-06-01`).
//!
//! Requests are always streamed. System messages go to the top-level `system` field,
//! consecutive messages of the same role are merged (the API requires alternating turns), and
//! tool results travel as `tool_result` blocks in a user message. Failures before the first
//! event (429, 529 `overloaded_error`, 5xx, connection errors, first-byte timeout) are retried
//! with [`RetryPolicy`](super::RetryPolicy); nothing is retried once an event has been handed to the caller.
//!
//! Anthropic has no JSON output mode, so [`ResponseFormat::JsonObject`] is honoured by an extra
//! system instruction and `model_info().supports_json_mode` is `false`.
//!
//! [`ResponseFormat::JsonObject`]: crate::llm::ResponseFormat::JsonObject

mod config;
mod models;
mod stream;
mod wire;

use serde_json::Value;

pub use config::AnthropicConfig;

use crate::error::Result;
use crate::llm::ChatRequest;
use crate::llm::provider::{HttpChatClient, delegate_client};
use wire::AnthropicWire;

const PROVIDER: &str = "anthropic";

/// An Anthropic Messages API client.
///
/// ```no_run
/// # async fn run() -> metricchat_core::Result<()> {
/// use metricchat_core::llm::{AnthropicClient, AnthropicConfig, ChatMessage, ChatRequest, LlmClient};
///
/// let client = AnthropicClient::new(AnthropicConfig::from_env())?;
/// let reply = client
///     .complete(ChatRequest::new(vec![ChatMessage::user("Say hi")]))
///     .await?;
/// println!("{}", reply.text);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AnthropicClient(HttpChatClient<AnthropicWire>);

impl AnthropicClient {
    /// Builds a client; fails on a malformed base URL or API key.
    pub fn new(config: AnthropicConfig) -> Result<Self> {
        HttpChatClient::new(AnthropicWire::new(config)?).map(Self)
    }

    /// The configuration.
    pub fn config(&self) -> &AnthropicConfig {
        &self.0.wire().config
    }

    /// The request body sent for `request` (exposed for inspection and tests).
    pub fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        let c = self.config();
        wire::request_body(&c.model, c.max_tokens, request)
    }
}

delegate_client!(AnthropicClient);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::{BTreeMap, VecDeque};

    use secrecy::ExposeSecret;

    use super::models::known_pricing;
    use super::stream::Decoder;
    use super::*;
    use crate::llm::provider::Step;
    use crate::llm::{ChatEvent, Usage};

    #[test]
    fn config_from_env_vars() {
        let vars = BTreeMap::from([
            ("ANTHROPIC_API_KEY", "sk-ant-x"),
            ("ANTHROPIC_BASE_URL", "http://a"),
            ("MC_LLM_MODEL", ""),
        ]);
        let c = AnthropicConfig::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(c.base_url, "http://a");
        assert_eq!(c.model, "claude-sonnet-4-5");
        assert_eq!(
            c.api_key.as_ref().map(|k| k.expose_secret().to_string()),
            Some("sk-ant-x".into())
        );
        let client = AnthropicClient::new(c).unwrap();
        assert_eq!(client.0.wire().endpoint.as_str(), "http://a/v1/messages");
    }

    #[test]
    fn prices_match_snapshots_not_other_models() {
        assert_eq!(
            known_pricing("claude-sonnet-4-5-20250929").map(|p| p.output_per_mtok),
            Some(15.0)
        );
        assert_eq!(
            known_pricing("claude-3-5-haiku-latest").map(|p| p.input_per_mtok),
            Some(0.8)
        );
        assert!(known_pricing("claude-opus-4-5").is_none());
        assert!(known_pricing("claude-sonnet-4-7").is_none());
    }

    #[test]
    fn empty_tool_input_becomes_an_object() {
        let mut d = Decoder::default();
        let mut out = VecDeque::new();
        for data in [
            r#"{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"list_tables","input":{}}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":7}}"#,
        ] {
            assert!(matches!(d.data(data, &mut out).unwrap(), Step::More));
        }
        assert!(matches!(
            d.data(r#"{"type":"message_stop"}"#, &mut out).unwrap(),
            Step::Done
        ));
        d.finalize(&mut out);
        assert!(out.contains(&ChatEvent::Usage {
            usage: Usage {
                input_tokens: 15,
                output_tokens: 7,
                cached_input_tokens: 5
            }
        }));
        assert!(out.iter().any(
            |e| matches!(e, ChatEvent::ToolCall { call } if call.arguments == "{}" && call.id == "toolu_1")
        ));
    }
}
