//! OpenAI Chat Completions client, also for any OpenAI-compatible server (Azure OpenAI's
//! `/openai/v1`, vLLM, llama.cpp's `llama-server`, LM Studio, Ollama's `/v1`) and for Azure
//! OpenAI deployments (`{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`
//! with an `api-key` header, see [`OpenAiConfig::azure`]).
//!
//! Requests are always streamed (`stream: true` with `stream_options.include_usage`); a server
//! that ignores that and answers one `application/json` completion is accepted too. Failures
//! before the first event (429, 5xx, connection errors, first-byte timeout) are retried with
//! [`RetryPolicy`](super::RetryPolicy); nothing is retried once an event has been handed to the caller.
//! A stream that ends without a usage chunk (llama.cpp's server sends none) reports a usage
//! estimated from the text.

mod config;
mod models;
mod stream;
mod wire;

use serde_json::Value;

pub use config::{AZURE_DEFAULT_API_VERSION, KeyHeader, OpenAiConfig};

use crate::error::Result;
use crate::llm::ChatRequest;
use crate::llm::provider::{HttpChatClient, delegate_client};
use wire::OpenAiWire;

const PROVIDER: &str = "openai";

/// An OpenAI Chat Completions client.
///
/// ```no_run
/// # async fn run() -> metricchat_core::Result<()> {
/// use metricchat_core::llm::{ChatMessage, ChatRequest, LlmClient, OpenAiClient, OpenAiConfig};
///
/// let client = OpenAiClient::new(OpenAiConfig::from_env())?;
/// let reply = client
///     .complete(ChatRequest::new(vec![ChatMessage::user("Say hi")]))
///     .await?;
/// println!("{}", reply.text);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OpenAiClient(HttpChatClient<OpenAiWire>);

impl OpenAiClient {
    /// Builds a client; fails on a malformed base URL or API key.
    pub fn new(config: OpenAiConfig) -> Result<Self> {
        HttpChatClient::new(OpenAiWire::new(config)?).map(Self)
    }

    /// The configuration.
    pub fn config(&self) -> &OpenAiConfig {
        &self.0.wire().config
    }

    /// The request body sent for `request` (exposed for inspection and tests).
    pub fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        wire::request_body(&self.config().model, request)
    }
}

delegate_client!(OpenAiClient);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::{BTreeMap, VecDeque};
    use std::time::Duration;

    use reqwest::header::{HeaderMap, HeaderValue};
    use secrecy::ExposeSecret;
    use serde_json::json;

    use super::models::{UNKNOWN_CONTEXT_WINDOW, known_model};
    use super::stream::Decoder as SseDecoder;
    use super::wire::request_body;
    use super::*;
    use crate::error::ErrorKind;
    use crate::llm::http::retry_after;
    use crate::llm::provider::Step;
    use crate::llm::{ChatEvent, ChatMessage, FinishReason, LlmClient, ToolChoice, ToolSpec};

    #[test]
    fn debug_never_shows_the_key() {
        let config = OpenAiConfig::new("gpt-4o").with_api_key("sk-very-secret-123");
        let client = OpenAiClient::new(config.clone()).unwrap();
        for text in [format!("{config:?}"), format!("{client:?}")] {
            assert!(!text.contains("sk-very-secret-123"), "{text}");
            assert!(text.contains("redacted"), "{text}");
        }
    }

    #[test]
    fn config_from_env_vars_and_serde() {
        let vars = BTreeMap::from([
            ("OPENAI_API_KEY", "sk-x"),
            ("OPENAI_BASE_URL", "http://a/v1"),
            ("MC_LLM_BASE_URL", "http://b/v1"),
            ("MC_LLM_MODEL", ""),
        ]);
        let c = OpenAiConfig::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(c.base_url, "http://b/v1");
        assert_eq!(c.model, "gpt-4.1-mini");
        assert_eq!(
            c.api_key.as_ref().map(|k| k.expose_secret().to_string()),
            Some("sk-x".into())
        );

        let c: OpenAiConfig = serde_json::from_value(json!({
            "model": "qwen", "base_url": "http://127.0.0.1:8080/v1", "idle_timeout": 1500,
            "retry": {"max_retries": 1}, "context_window": 4096
        }))
        .unwrap();
        assert_eq!(c.http.idle_timeout, Duration::from_millis(1500));
        assert_eq!(c.http.retry.max_retries, 1);
        let info = OpenAiClient::new(c).unwrap().model_info();
        assert_eq!(info.context_window, 4096);
        assert!(info.pricing.is_none());
    }

    #[test]
    fn azure_config_from_env_vars() {
        let vars = BTreeMap::from([
            ("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com/"),
            ("AZURE_OPENAI_API_KEY", "az-key"),
            ("AZURE_OPENAI_DEPLOYMENT", "gpt-4o"),
            ("OPENAI_API_VERSION", ""),
        ]);
        let c = OpenAiConfig::azure_from_vars(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.key_header, KeyHeader::ApiKey);
        assert_eq!(c.api_version.as_deref(), Some(AZURE_DEFAULT_API_VERSION));
        let client = OpenAiClient::new(c).unwrap();
        assert_eq!(
            client.0.wire().endpoint.as_str(),
            "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
        );
        let info = client.model_info();
        assert!(info.supports_tools);
        assert_eq!(info.pricing.map(|p| p.input_per_mtok), Some(2.5));
        assert!(!format!("{client:?}").contains("az-key"));
        let err = OpenAiConfig::azure_from_vars(|_| None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn bad_base_url_is_a_config_error() {
        let err = OpenAiClient::new(OpenAiConfig::new("m").with_base_url("not a url")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn model_table_matches_snapshots_not_prefixes() {
        assert_eq!(
            known_model("gpt-4o-2024-08-06").map(|k| k.id),
            Some("gpt-4o")
        );
        assert_eq!(
            known_model("gpt-4o-mini").map(|k| k.id),
            Some("gpt-4o-mini")
        );
        assert_eq!(
            known_model("openai/gpt-4.1-mini").map(|k| k.id),
            Some("gpt-4.1-mini")
        );
        assert!(known_model("gpt-4o-audio-preview").is_none());
        let info = OpenAiClient::new(OpenAiConfig::new("qwen2.5-coder:1.5b"))
            .unwrap()
            .model_info();
        assert_eq!(info.context_window, UNKNOWN_CONTEXT_WINDOW);
        assert!(info.supports_tools);
        let info = OpenAiClient::new(OpenAiConfig::new("gpt-4.1"))
            .unwrap()
            .model_info();
        assert_eq!(info.context_window, 1_047_576);
        assert_eq!(info.pricing.map(|p| p.output_per_mtok), Some(8.0));
    }

    #[test]
    fn body_omits_tools_and_purpose_when_absent() {
        let mut req = ChatRequest::new(vec![ChatMessage::user("hi")]).with_purpose("title");
        req.tool_choice = ToolChoice::Required;
        let body = request_body("m", &req).unwrap();
        assert!(body.get("tools").is_none());
        assert!(body.get("tool_choice").is_none());
        assert!(!body.to_string().contains("title"));
        req.tools.push(ToolSpec {
            name: "t".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
        });
        req.tool_choice = ToolChoice::Tool("t".into());
        let body = request_body("m", &req).unwrap();
        assert_eq!(
            body["tool_choice"],
            json!({"type": "function", "function": {"name": "t"}})
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        let date = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn decoder_assembles_interleaved_tool_calls() {
        let mut d = SseDecoder::default();
        let mut out = VecDeque::new();
        for data in [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","type":"function","function":{"name":"g","arguments":"{\"y\""}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":1}"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":":2}"}}]},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":null,"usage":{"prompt_tokens":5,"completion_tokens":7}}"#,
        ] {
            assert!(matches!(d.data(data, &mut out).unwrap(), Step::More));
        }
        assert!(matches!(d.data("[DONE]", &mut out).unwrap(), Step::Done));
        d.finalize(&mut out);
        let calls: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                ChatEvent::ToolCall { call } => Some((call.id.as_str(), call.arguments.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(calls, vec![("a", r#"{"x":1}"#), ("b", r#"{"y":2}"#)]);
        assert_eq!(
            out.back(),
            Some(&ChatEvent::Finish {
                reason: FinishReason::ToolCalls
            })
        );
    }
}
