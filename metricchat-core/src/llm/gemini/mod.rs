//! Google Gemini API client (`POST /v1beta/models/{model}:streamGenerateContent?alt=sse`, or
//! `:generateContent` when streaming is off; the key travels in the `x-goog-api-key` header).
//!
//! System messages become `systemInstruction`; the conversation becomes `contents` with roles
//! `user` and `model`; assistant tool calls become `functionCall` parts and tool results
//! `functionResponse` parts in a `user` turn (consecutive turns of one role are merged). Tools go
//! out as `tools[{functionDeclarations}]` with their JSON Schema reduced to the OpenAPI subset
//! Gemini accepts (see [`gemini_schema`]). The model's `thoughtSignature`s on function calls are
//! remembered by the client and sent back with the same calls, as Gemini 3 requires.
//!
//! A streamed response is a series of whole `GenerateContentResponse` objects with no end marker:
//! a `functionCall` arrives complete in one chunk, so each becomes one
//! [`ChatEvent::ToolCallDelta`] and, at the end, one [`ChatEvent::ToolCall`]. A stream that closes
//! before any chunk carried a `finishReason` was cut. Failures before the first chunk (429
//! `RESOURCE_EXHAUSTED`, 5xx, connection errors, first-byte timeout) are retried with
//! [`RetryPolicy`](super::RetryPolicy), honouring `Retry-After` or the body's
//! `RetryInfo.retryDelay`; nothing is retried once an event has been handed to the caller.
//!
//! A candidate stopped by a safety filter (`SAFETY`, `RECITATION`, `BLOCKLIST`,
//! `PROHIBITED_CONTENT`, `SPII`, …) and a prompt refused outright (`promptFeedback.blockReason`)
//! both fail with an [`ErrorKind::ContentFiltered`] provider error (the latter naming the block
//! reason); a prompt over the context window fails with [`ErrorKind::ContextLengthExceeded`].
//!
//! [`ChatEvent::ToolCallDelta`]: crate::llm::ChatEvent::ToolCallDelta
//! [`ChatEvent::ToolCall`]: crate::llm::ChatEvent::ToolCall
//! [`ErrorKind::ContentFiltered`]: crate::ErrorKind::ContentFiltered
//! [`ErrorKind::ContextLengthExceeded`]: crate::ErrorKind::ContextLengthExceeded

mod config;
mod errors;
mod models;
mod schema;
mod stream;
mod wire;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde_json::Value;

pub use config::GeminiConfig;
pub use schema::gemini_schema;

use crate::error::Result;
use crate::llm::ChatRequest;
use crate::llm::provider::{HttpChatClient, delegate_client};
use wire::GeminiWire;

const PROVIDER: &str = "gemini";
const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
const DEFAULT_CONTEXT_WINDOW: u32 = 1_048_576;
/// Prefix of call ids made up by this client for calls Gemini sent without an `id`; such ids are
/// never sent back to Gemini.
const LOCAL_ID_PREFIX: &str = "gemini_call_";
/// Remembered thought signatures, at most (the oldest are forgotten all at once beyond this).
const MAX_SIGNATURES: usize = 4096;

/// Thought signatures Gemini attached to function calls, by call id, to send back with them.
#[derive(Default)]
struct Signatures(Mutex<HashMap<String, String>>);

impl Signatures {
    fn remember(&self, call_id: &str, signature: &str) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_SIGNATURES {
            map.clear();
        }
        map.insert(call_id.to_string(), signature.to_string());
    }

    fn get(&self, call_id: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(call_id)
            .cloned()
    }
}

impl std::fmt::Debug for Signatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signatures")
    }
}

/// A Google Gemini API client.
///
/// ```no_run
/// # async fn run() -> metricchat_core::Result<()> {
/// use metricchat_core::llm::{ChatMessage, ChatRequest, GeminiClient, GeminiConfig, LlmClient};
///
/// let client = GeminiClient::new(GeminiConfig::from_env())?;
/// let reply = client
///     .complete(ChatRequest::new(vec![ChatMessage::user("Say hi")]))
///     .await?;
/// println!("{}", reply.text);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct GeminiClient(HttpChatClient<GeminiWire>);

impl GeminiClient {
    /// Builds a client; fails on a malformed base URL, model id or API key.
    pub fn new(config: GeminiConfig) -> Result<Self> {
        HttpChatClient::new(GeminiWire::new(config)?).map(Self)
    }

    /// The configuration.
    pub fn config(&self) -> &GeminiConfig {
        &self.0.wire().config
    }

    /// The URL requests are sent to.
    pub fn endpoint(&self) -> &str {
        self.0.wire().endpoint.as_str()
    }

    /// The request body sent for `request` (exposed for inspection and tests).
    pub fn request_body(&self, request: &ChatRequest) -> Result<Value> {
        wire::request_body(request, &self.0.wire().signatures)
    }
}

delegate_client!(GeminiClient);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::BTreeMap;

    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::time::Duration;

    use secrecy::ExposeSecret;
    use serde_json::json;

    use super::models::known_model;
    use super::schema::parameters_schema;
    use super::stream::{Decoder, finish_reason};
    use super::wire::request_body;
    use super::*;
    use crate::error::{Error, ErrorKind};
    use crate::llm::{
        ChatEvent, ChatMessage, FinishReason, ResponseFormat, ToolCall, ToolChoice, ToolSpec, Usage,
    };

    #[test]
    fn config_from_env_vars_prefers_gemini_key() {
        let vars = BTreeMap::from([
            ("GEMINI_API_KEY", "g-key"),
            ("GOOGLE_API_KEY", "google-key"),
            ("GEMINI_BASE_URL", "http://g/v1beta/"),
            ("MC_LLM_MODEL", ""),
        ]);
        let c = GeminiConfig::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(c.model, "gemini-2.5-flash");
        assert_eq!(
            c.api_key.as_ref().map(|k| k.expose_secret().to_string()),
            Some("g-key".into())
        );
        let client = GeminiClient::new(c).unwrap();
        assert_eq!(
            client.endpoint(),
            "http://g/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        let vars = BTreeMap::from([("GOOGLE_API_KEY", "google-key")]);
        let c = GeminiConfig::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(
            c.api_key.as_ref().map(|k| k.expose_secret().to_string()),
            Some("google-key".into())
        );
        let c = GeminiConfig::new("models/gemini-2.5-pro").with_stream(false);
        assert_eq!(
            GeminiClient::new(c).unwrap().endpoint(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent"
        );
        assert!(GeminiClient::new(GeminiConfig::new("a/b")).is_err());
    }

    #[test]
    fn schema_is_reduced_to_the_openapi_subset() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Args",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "sql": {"type": "string", "description": "SQL", "examples": ["SELECT 1"]},
                "limit": {"type": ["integer", "null"], "format": "uint32", "minimum": 0},
                "chart": {"anyOf": [{"$ref": "#/$defs/Chart"}, {"type": "null"}]},
                "kind": {"const": "bar"},
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}
            },
            "required": ["sql", "missing"],
            "$defs": {
                "Chart": {"type": "object", "properties": {
                    "x": {"type": "string"},
                    "order": {"enum": ["asc", "desc", null]}
                }}
            }
        });
        let reduced = gemini_schema(&schema);
        assert_eq!(
            reduced,
            json!({
                "title": "Args",
                "type": "object",
                "properties": {
                    "sql": {"type": "string", "description": "SQL"},
                    "limit": {"type": "integer", "minimum": 0, "nullable": true},
                    "chart": {"type": "object", "nullable": true, "properties": {
                        "x": {"type": "string"},
                        "order": {"enum": ["asc", "desc"], "nullable": true}
                    }},
                    "kind": {"enum": ["bar"], "type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["sql"]
            })
        );
        assert!(parameters_schema(&json!({"type": "object", "properties": {}})).is_none());
    }

    #[test]
    fn tool_choice_json_mode_and_tool_results() {
        let signatures = Signatures::default();
        signatures.remember("c1", "sig-1");
        let mut req = ChatRequest::new(vec![
            ChatMessage::system("rules"),
            ChatMessage::user("q"),
            ChatMessage {
                tool_calls: vec![
                    ToolCall {
                        id: "c1".into(),
                        name: "create_data".into(),
                        arguments: r#"{"sql":"SELECT 1"}"#.into(),
                    },
                    ToolCall {
                        id: format!("{LOCAL_ID_PREFIX}x"),
                        name: "list_tables".into(),
                        arguments: "not json".into(),
                    },
                ],
                ..ChatMessage::assistant("")
            },
            ChatMessage::tool("c1", r#"{"rows":1}"#),
            ChatMessage::tool(format!("{LOCAL_ID_PREFIX}x"), "plain text"),
        ]);
        req.tools = vec![ToolSpec {
            name: "create_data".into(),
            description: "d".into(),
            parameters: json!({"type": "object", "properties": {"sql": {"type": "string"}}}),
        }];
        req.tool_choice = ToolChoice::Tool("create_data".into());
        let body = request_body(&req, &signatures).unwrap();
        assert_eq!(
            body["systemInstruction"],
            json!({"parts": [{"text": "rules"}]})
        );
        assert_eq!(
            body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "q"}]},
                {"role": "model", "parts": [
                    {"functionCall": {"id": "c1", "name": "create_data",
                                      "args": {"sql": "SELECT 1"}},
                     "thoughtSignature": "sig-1"},
                    {"functionCall": {"name": "list_tables", "args": {}}}]},
                {"role": "user", "parts": [
                    {"functionResponse": {"id": "c1", "name": "create_data",
                                          "response": {"output": {"rows": 1}}}},
                    {"functionResponse": {"name": "list_tables",
                                          "response": {"output": "plain text"}}}]}
            ])
        );
        assert_eq!(
            body["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY",
                                             "allowedFunctionNames": ["create_data"]}})
        );
        assert!(body.get("generationConfig").is_none());

        let mut req = ChatRequest::new(vec![ChatMessage::user("json")]);
        req.response_format = ResponseFormat::JsonObject;
        req.max_tokens = Some(100);
        let body = request_body(&req, &signatures).unwrap();
        assert_eq!(
            body["generationConfig"],
            json!({"maxOutputTokens": 100, "responseMimeType": "application/json"})
        );
        let orphan = ChatRequest::new(vec![ChatMessage::tool("nope", "x")]);
        assert!(request_body(&orphan, &signatures).is_err());
    }

    #[test]
    fn decoder_handles_calls_across_chunks_and_stop_means_tool_calls() {
        let sigs = Arc::new(Signatures::default());
        let mut d = Decoder::new(sigs.clone());
        let mut out = VecDeque::new();
        for data in [
            r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Let me ","thought":false},{"text":"plan","thought":true}]}}],"usageMetadata":{"promptTokenCount":10}}"#,
            r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"a","args":{"x":1}},"thoughtSignature":"s1"}]}}]}"#,
            r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"b-1","name":"b"}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":2,"cachedContentTokenCount":4}}"#,
        ] {
            d.data(data, &mut out).unwrap();
        }
        d.finalize(&mut out);
        let calls: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                ChatEvent::ToolCall { call } => Some(call.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(calls.len(), 2);
        assert!(calls[0].id.starts_with(LOCAL_ID_PREFIX));
        assert_eq!(calls[0].arguments, r#"{"x":1}"#);
        assert_eq!(sigs.get(&calls[0].id).as_deref(), Some("s1"));
        assert_eq!(
            (calls[1].id.as_str(), calls[1].arguments.as_str()),
            ("b-1", "{}")
        );
        assert_eq!(
            out[0],
            ChatEvent::TextDelta {
                text: "Let me ".into()
            }
        );
        assert!(out.contains(&ChatEvent::Usage {
            usage: Usage {
                input_tokens: 10,
                output_tokens: 7,
                cached_input_tokens: 4
            }
        }));
        assert_eq!(
            out.back(),
            Some(&ChatEvent::Finish {
                reason: FinishReason::ToolCalls
            })
        );
    }

    #[test]
    fn errors_and_blocks_in_chunks_are_typed() {
        let mut d = Decoder::new(Arc::default());
        let mut out = VecDeque::new();
        let err = d
            .data(
                r#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]}}"#,
                &mut out,
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert!(
            matches!(err, Error::Provider { retry_after: Some(d), .. } if d == Duration::from_secs(2))
        );
        let err = d
            .data(r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#, &mut out)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ContentFiltered);
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("SAFETY"), "{err}");
        assert_eq!(finish_reason("RECITATION"), FinishReason::ContentFilter);
        assert_eq!(
            finish_reason("MALFORMED_FUNCTION_CALL"),
            FinishReason::Other
        );
    }

    #[test]
    fn model_table_matches_versions_not_other_models() {
        assert_eq!(
            known_model("gemini-2.5-flash").map(|k| k.id),
            Some("gemini-2.5-flash")
        );
        assert_eq!(
            known_model("models/gemini-2.5-flash-lite").map(|k| k.id),
            Some("gemini-2.5-flash-lite")
        );
        assert_eq!(
            known_model("gemini-2.0-flash-001").map(|k| k.id),
            Some("gemini-2.0-flash")
        );
        assert!(known_model("gemini-2.0-flash-lite").is_none());
        assert!(known_model("gemini-2.5-flash-image").is_none());
    }
}
