//! The Anthropic client against the fake server's Anthropic Messages wire format, over real HTTP.

use metricchat_core::ErrorKind;
use metricchat_core::llm::{
    AnthropicClient, AnthropicConfig, ChatEvent, ChatMessage, ChatRequest, FinishReason,
    HttpConfig, ImageContent, LlmClient, ResponseFormat, ToolCall, ToolChoice, Usage,
};
use metricchat_testkit::{FakeLlmServer, FakeToolCall, Reply, anthropic};
use serde_json::json;

use crate::providers::*;

const ANTHROPIC: Provider<AnthropicConfig, AnthropicClient> = Provider {
    name: "anthropic",
    api_key: "sk-ant-test-secret",
    unauthorized_says: "invalid x-api-key",
    make_config: |server| {
        AnthropicConfig::new("claude-sonnet-4-5")
            .with_base_url(server.origin())
            .with_api_key("sk-ant-test-secret")
            .with_http_options(http())
    },
    for_suite: |c, http| c.with_http_options(http),
    build: AnthropicClient::new,
};

provider_suite!(ANTHROPIC);

#[tokio::test]
async fn streamed_text_arrives_in_chunks_with_usage_and_cache_reads() {
    let server = FakeLlmServer::start(vec![
        Reply::text("Delays peak in July.")
            .with_usage(120, 6, 100)
            .into(),
    ])
    .await;
    let events = collect(&ANTHROPIC.client(&server), ask("when are delays worst?")).await;
    let deltas: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(deltas.len() > 1, "{deltas:?}");
    assert_eq!(deltas.concat(), "Delays peak in July.");
    // On the wire: input_tokens 20 + cache_read_input_tokens 100.
    assert!(events.contains(&ChatEvent::Usage {
        usage: Usage {
            input_tokens: 120,
            output_tokens: 6,
            cached_input_tokens: 100,
        }
    }));
    assert_eq!(
        events.last(),
        Some(&ChatEvent::Finish {
            reason: FinishReason::Stop
        })
    );
    let rec = &server.recorded()[0];
    assert_eq!(rec.path, "/v1/messages");
    assert_eq!(
        rec.headers.get("x-api-key").map(String::as_str),
        Some("sk-ant-test-secret")
    );
    assert_eq!(
        rec.headers.get("anthropic-version").map(String::as_str),
        Some("2023-06-01")
    );
    assert!(!rec.headers.contains_key("authorization"));
    assert_eq!(rec.body["stream"], true);
    assert_eq!(rec.body["model"], "claude-sonnet-4-5");
    server.verify().unwrap();
}

#[tokio::test]
async fn max_tokens_stop_reason_is_length() {
    let server = FakeLlmServer::start(vec![
        Reply::Text {
            text: "cut sh".into(),
            chunk_chars: 4,
            chunk_delay_ms: 0,
            usage: None,
            finish_reason: Some("length".into()),
        }
        .into(),
    ])
    .await;
    let reply = ANTHROPIC
        .client(&server)
        .complete(ask("long"))
        .await
        .unwrap();
    assert_eq!(reply.finish_reason, Some(FinishReason::Length));
    assert_eq!(reply.text, "cut sh");
}

#[tokio::test]
async fn one_tool_call_with_arguments_in_three_char_pieces() {
    let args =
        json!({"sql": "SELECT carrier, avg(delay) FROM flights GROUP BY 1", "title": "Delays"});
    let server = FakeLlmServer::start(vec![
        Reply::tool_calls(vec![FakeToolCall::new(
            "toolu_abc",
            "create_data",
            args.clone(),
        )])
        .chunked(3)
        .into(),
    ])
    .await;
    let mut req = ask("average delay per carrier");
    req.tools = tools();
    let events = collect(&ANTHROPIC.client(&server), req).await;
    let fragments = events
        .iter()
        .filter(|e| matches!(e, ChatEvent::ToolCallDelta { .. }))
        .count();
    assert!(fragments > 10, "got {fragments} fragments");
    let calls = calls(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, "toolu_abc");
    assert_eq!(calls[0].name, "create_data");
    let parsed: serde_json::Value = serde_json::from_str(&calls[0].arguments).unwrap();
    assert_eq!(parsed, args);
    let call_pos = events
        .iter()
        .position(|e| matches!(e, ChatEvent::ToolCall { .. }));
    assert!(call_pos < Some(events.len() - 1));
    assert_eq!(
        events.last(),
        Some(&ChatEvent::Finish {
            reason: FinishReason::ToolCalls
        })
    );
    server.verify().unwrap();
}

#[tokio::test]
async fn two_tool_calls_in_one_turn_after_text() {
    let server = FakeLlmServer::start(vec![
        Reply::tool_calls(vec![
            FakeToolCall::new("toolu_1", "describe_tables", json!({"tables": ["flights"]})),
            FakeToolCall::new("toolu_2", "create_data", json!({"sql": "SELECT 1"})),
        ])
        .with_text("Let me look.")
        .chunked(5)
        .into(),
    ])
    .await;
    let mut req = ask("look at flights");
    req.tools = tools();
    let events = collect(&ANTHROPIC.client(&server), req).await;
    // Fragments are numbered by call (0, 1), not by content block (text is block 0).
    let indexes: std::collections::BTreeSet<usize> = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::ToolCallDelta { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(indexes.into_iter().collect::<Vec<_>>(), vec![0, 1]);
    let mut acc = metricchat_core::llm::ChatAccumulator::default();
    for e in &events {
        acc.push(e);
    }
    let reply = acc.finish();
    assert_eq!(reply.text, "Let me look.");
    let names: Vec<(&str, &str)> = reply
        .tool_calls
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![("toolu_1", "describe_tables"), ("toolu_2", "create_data")]
    );
    assert_eq!(reply.tool_calls[1].arguments, r#"{"sql":"SELECT 1"}"#);
    assert_eq!(reply.finish_reason, Some(FinishReason::ToolCalls));
    assert!(reply.usage.input_tokens > 0, "{:?}", reply.usage);
    server.verify().unwrap();
}

#[tokio::test]
async fn request_body_has_anthropic_shape() {
    let server = FakeLlmServer::start(vec![Reply::text("ok").into()]).await;
    let mut req = ChatRequest::new(vec![
        ChatMessage::system("sys"),
        ChatMessage::system("more rules"),
        ChatMessage::user("top carriers"),
        ChatMessage::user("by delay"),
        ChatMessage {
            tool_calls: vec![
                ToolCall {
                    id: "toolu_9".into(),
                    name: "create_data".into(),
                    arguments: r#"{"sql":"SELECT 1"}"#.into(),
                },
                ToolCall {
                    id: "toolu_10".into(),
                    name: "describe_tables".into(),
                    arguments: r#"{"tables":[]}"#.into(),
                },
            ],
            ..ChatMessage::assistant("Checking.")
        },
        ChatMessage::tool("toolu_9", r#"{"rows":1}"#),
        ChatMessage::tool("toolu_10", "[]"),
        ChatMessage::user("and now?"),
    ])
    .with_purpose("planner");
    req.tools = tools();
    req.tool_choice = ToolChoice::Required;
    req.temperature = Some(0.0);
    ANTHROPIC.client(&server).complete(req).await.unwrap();

    let body = &server.requests()[0];
    assert_eq!(body["system"], "sys\n\nmore rules");
    assert_eq!(body["max_tokens"], 8192, "max_tokens is required");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "top carriers"},
                {"type": "text", "text": "by delay"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_9", "name": "create_data",
                 "input": {"sql": "SELECT 1"}},
                {"type": "tool_use", "id": "toolu_10", "name": "describe_tables",
                 "input": {"tables": []}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_9", "content": "{\"rows\":1}"},
                {"type": "tool_result", "tool_use_id": "toolu_10", "content": "[]"},
                {"type": "text", "text": "and now?"}]}
        ])
    );
    assert_eq!(
        body["tools"][0],
        json!({"name": "create_data", "description": "Run a read-only SQL query.",
               "input_schema": {"type": "object", "properties": {"sql": {"type": "string"}},
                                "required": ["sql"]}})
    );
    assert_eq!(body["tool_choice"], json!({"type": "any"}));
    assert_eq!(body["temperature"], 0.0);
    assert!(body.get("purpose").is_none());

    // Explicit cap, named tool, and JSON requested through the system prompt.
    let server = FakeLlmServer::start(vec![Reply::text("{}").into()]).await;
    let mut req = ask("json please");
    req.tools = tools();
    req.tool_choice = ToolChoice::Tool("create_data".into());
    req.max_tokens = Some(256);
    req.response_format = ResponseFormat::JsonObject;
    ANTHROPIC.client(&server).complete(req).await.unwrap();
    let body = &server.requests()[0];
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "create_data"})
    );
    assert!(body["system"].as_str().unwrap().contains("JSON object"));
    assert!(body.get("response_format").is_none());
}

#[tokio::test]
async fn overloaded_529_is_rate_limited_and_retried() {
    let server = FakeLlmServer::start(vec![
        anthropic::overloaded().into(),
        Reply::text("recovered").into(),
    ])
    .await;
    let reply = ANTHROPIC.client(&server).complete(ask("hi")).await.unwrap();
    assert_eq!(reply.text, "recovered");
    assert_eq!(server.requests().len(), 2);

    let server = FakeLlmServer::start(vec![
        Reply::status(529).into(),
        Reply::status(529).into(),
        Reply::status(529).into(),
    ])
    .await;
    let err = ANTHROPIC
        .client(&server)
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_retryable());
    assert!(err.to_string().contains("Overloaded"), "{err}");
    assert_eq!(server.requests().len(), 3, "1 attempt + 2 retries");
}

#[tokio::test]
async fn client_errors_map_to_kinds_without_retry() {
    for (status, kind) in [
        (400, ErrorKind::InvalidInput),
        (403, ErrorKind::Unauthorized),
        (404, ErrorKind::NotFound),
        (413, ErrorKind::InvalidInput),
    ] {
        let server = FakeLlmServer::start(vec![Reply::status(status).into()]).await;
        let err = ANTHROPIC
            .client(&server)
            .complete(ask("hi"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert_eq!(server.requests().len(), 1);
    }
    let server =
        FakeLlmServer::start(vec![Reply::status(500).into(), Reply::text("fine").into()]).await;
    assert_eq!(
        ANTHROPIC
            .client(&server)
            .complete(ask("hi"))
            .await
            .unwrap()
            .text,
        "fine"
    );
}

#[tokio::test]
async fn overloaded_error_event_mid_stream_is_typed() {
    let server = FakeLlmServer::start(vec![
        Reply::StreamError {
            text_before: "Hello".into(),
            error: json!({"type": "overloaded_error", "message": "Overloaded"}),
        }
        .into(),
    ])
    .await;
    let (seen, err) = first_error(&ANTHROPIC.client(&server), ask("hi")).await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, ChatEvent::TextDelta { .. }))
    );
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.to_string().contains("Overloaded"), "{err}");
    assert_eq!(server.requests().len(), 1, "not retried after events");
}

#[tokio::test]
async fn non_streamed_message_body_is_accepted() {
    let server =
        FakeLlmServer::start(vec![Reply::Status {
        status: 200,
        body: Some(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "Forty-two."},
                        {"type": "tool_use", "id": "toolu_1", "name": "create_data",
                         "input": {"sql": "SELECT 42"}}],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 9, "output_tokens": 3}
        })),
        headers: Default::default(),
    }
    .into()])
        .await;
    let reply = ANTHROPIC
        .client(&server)
        .complete(ask("answer?"))
        .await
        .unwrap();
    assert_eq!(reply.text, "Forty-two.");
    assert_eq!(reply.tool_calls[0].arguments, r#"{"sql":"SELECT 42"}"#);
    assert_eq!(reply.usage.input_tokens, 9);
    assert_eq!(reply.finish_reason, Some(FinishReason::ToolCalls));
}

#[test]
fn debug_output_hides_the_api_key_and_model_info() {
    let config = AnthropicConfig::new("claude-sonnet-4-5").with_api_key("sk-ant-live-abc123");
    let client = AnthropicClient::new(config.clone()).unwrap();
    let shown = format!("{config:?} {client:?} {config:#?}");
    assert!(!shown.contains("sk-ant-live-abc123"), "{shown}");
    assert!(shown.contains("claude-sonnet-4-5"));
    let info = client.model_info();
    assert_eq!(info.provider, "anthropic");
    assert_eq!(info.context_window, 200_000);
    assert!(info.supports_tools && info.supports_vision && !info.supports_json_mode);
    assert_eq!(info.pricing.map(|p| p.input_per_mtok), Some(3.0));
}

#[tokio::test]
async fn prompt_too_long_is_context_length_exceeded() {
    let server = FakeLlmServer::start(vec![anthropic::prompt_too_long().into()]).await;
    let err = ANTHROPIC
        .client(&server)
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded, "{err}");
    assert!(err.to_string().contains("prompt is too long"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(server.requests().len(), 1);
    // Any other invalid request stays InvalidInput.
    let server = FakeLlmServer::start(vec![Reply::status(400).into()]).await;
    let err = ANTHROPIC
        .client(&server)
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn refusal_stop_reason_is_content_filtered() {
    let server = FakeLlmServer::start(vec![
        Reply::text("I won't")
            .with_finish_reason("content_filter")
            .into(),
    ])
    .await;
    let (seen, err) = first_error(&ANTHROPIC.client(&server), ask("x")).await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, ChatEvent::TextDelta { .. })),
        "{seen:?}"
    );
    assert_eq!(err.kind(), ErrorKind::ContentFiltered);
    assert!(err.to_string().contains("refusal"), "{err}");
    // The fake really sent Anthropic's `refusal`.
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn images_go_out_as_image_blocks_before_the_text() {
    let server = FakeLlmServer::start(vec![Reply::text("A line chart.").into()]).await;
    let req = ChatRequest::new(vec![
        ChatMessage::user("What does this show?")
            .with_image(ImageContent::base64("image/jpeg", "/9j/4AAQ"))
            .with_image(ImageContent::url("https://example.com/q3.png")),
    ]);
    let reply = ANTHROPIC.client(&server).complete(req).await.unwrap();
    assert_eq!(reply.text, "A line chart.");
    assert_eq!(
        server.requests()[0]["messages"][0]["content"],
        json!([
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                         "data": "/9j/4AAQ"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/q3.png"}},
            {"type": "text", "text": "What does this show?"},
        ])
    );
}
