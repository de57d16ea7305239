//! The Ollama client against the fake server's `/api/chat` NDJSON wire format, over real HTTP.

use metricchat_core::ErrorKind;
use metricchat_core::llm::{
    ChatEvent, ChatMessage, ChatRequest, FinishReason, HttpConfig, ImageContent, LlmClient,
    OllamaClient, OllamaConfig, ResponseFormat, ToolCall, ToolChoice, Usage,
};
use metricchat_testkit::{FakeLlmServer, FakeToolCall, Reply, ollama};
use serde_json::json;

use crate::providers::*;

const OLLAMA: Provider<OllamaConfig, OllamaClient> = Provider {
    name: "ollama",
    api_key: "ollama-secret-key",
    unauthorized_says: "unauthorized",
    make_config: |server| {
        OllamaConfig::new("qwen2.5:7b")
            .with_host(server.origin())
            .with_tools(true)
            .with_http_options(http())
    },
    for_suite: |c, http| c.with_api_key("ollama-secret-key").with_http_options(http),
    build: OllamaClient::new,
};

provider_suite!(OLLAMA);

#[tokio::test]
async fn streamed_text_arrives_in_lines_with_usage() {
    let server = FakeLlmServer::start(vec![
        Reply::text("Delays peak in July.")
            .with_usage(120, 6, 0)
            .into(),
    ])
    .await;
    let events = collect(&OLLAMA.client(&server), ask("when are delays worst?")).await;
    let deltas: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(deltas.len() > 1, "{deltas:?}");
    assert_eq!(deltas.concat(), "Delays peak in July.");
    assert!(events.contains(&ChatEvent::Usage {
        usage: Usage {
            input_tokens: 120,
            output_tokens: 6,
            cached_input_tokens: 0,
        }
    }));
    assert_eq!(
        events.last(),
        Some(&ChatEvent::Finish {
            reason: FinishReason::Stop
        })
    );
    let rec = &server.recorded()[0];
    assert_eq!(rec.path, "/api/chat");
    assert_eq!(rec.body["stream"], true);
    assert_eq!(rec.body["model"], "qwen2.5:7b");
    assert!(!rec.headers.contains_key("authorization"));
    server.verify().unwrap();
}

#[tokio::test]
async fn one_tool_call_arrives_whole_with_object_arguments() {
    let args =
        json!({"sql": "SELECT carrier, avg(delay) FROM flights GROUP BY 1", "title": "Delays"});
    let server = FakeLlmServer::start(vec![
        Reply::tool_call("create_data", args.clone())
            .chunked(3)
            .into(),
    ])
    .await;
    let mut req = ask("average delay per carrier");
    req.tools = tools();
    let events = collect(&OLLAMA.client(&server), req).await;
    let calls: Vec<&ToolCall> = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::ToolCall { call } => Some(call),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name, "create_data");
    assert_eq!(calls[0].id, "call_0", "Ollama sends no id; one is assigned");
    let parsed: serde_json::Value = serde_json::from_str(&calls[0].arguments).unwrap();
    assert_eq!(parsed, args);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ChatEvent::ToolCallDelta { index: 0, .. }))
    );
    let call_pos = events
        .iter()
        .position(|e| matches!(e, ChatEvent::ToolCall { .. }));
    assert!(call_pos < Some(events.len() - 1));
    // Ollama says `done_reason: stop` after tool calls; the client reports ToolCalls.
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
            FakeToolCall::new("", "describe_tables", json!({"tables": ["flights"]})),
            FakeToolCall::new("", "create_data", json!({"sql": "SELECT 1"})),
        ])
        .with_text("Let me look.")
        .chunked(5)
        .into(),
    ])
    .await;
    let mut req = ask("look at flights");
    req.tools = tools();
    let reply = OLLAMA.client(&server).complete(req).await.unwrap();
    assert_eq!(reply.text, "Let me look.");
    let names: Vec<(&str, &str)> = reply
        .tool_calls
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![("call_0", "describe_tables"), ("call_1", "create_data")]
    );
    assert_eq!(reply.tool_calls[1].arguments, r#"{"sql":"SELECT 1"}"#);
    assert_eq!(reply.finish_reason, Some(FinishReason::ToolCalls));
    assert!(reply.usage.input_tokens > 0);
    server.verify().unwrap();
}

#[tokio::test]
async fn request_body_has_ollama_shape() {
    let server =
        FakeLlmServer::start(vec![Reply::text("{}").into(), Reply::text("ok").into()]).await;
    let c = OLLAMA.client(&server);
    let mut req = ChatRequest::new(vec![
        ChatMessage::system("sys"),
        ChatMessage::user("top carriers"),
        ChatMessage {
            tool_calls: vec![ToolCall {
                id: "call_0".into(),
                name: "create_data".into(),
                arguments: r#"{"sql":"SELECT 1"}"#.into(),
            }],
            ..ChatMessage::assistant("")
        },
        ChatMessage::tool("call_0", r#"{"rows":1}"#),
    ]);
    req.tools = tools();
    req.temperature = Some(0.0);
    req.max_tokens = Some(256);
    req.response_format = ResponseFormat::JsonObject;
    c.complete(req.clone()).await.unwrap();
    let body = &server.requests()[0];
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "top carriers"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "create_data", "arguments": {"sql": "SELECT 1"}}}]},
            {"role": "tool", "content": "{\"rows\":1}", "tool_name": "create_data"}
        ])
    );
    assert_eq!(body["format"], "json");
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "create_data");
    assert_eq!(
        body["tools"][0]["function"]["parameters"]["required"],
        json!(["sql"])
    );
    assert_eq!(
        body["options"],
        json!({"num_ctx": 8192, "temperature": 0.0, "num_predict": 256})
    );

    // `tool_choice: none` is honoured by offering no tools; text mode sends no format.
    req.tool_choice = ToolChoice::None;
    req.response_format = ResponseFormat::Text;
    c.complete(req).await.unwrap();
    let body = &server.requests()[1];
    assert!(body.get("tools").is_none());
    assert!(body.get("format").is_none());
    server.verify().unwrap();
}

#[tokio::test]
async fn busy_server_is_retried() {
    let server = FakeLlmServer::start(vec![
        Reply::status(503).into(),
        Reply::text("loaded").into(),
    ])
    .await;
    assert_eq!(
        OLLAMA
            .client(&server)
            .complete(ask("hi"))
            .await
            .unwrap()
            .text,
        "loaded"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn errors_map_to_kinds_and_keep_the_message() {
    let server = FakeLlmServer::start(vec![Reply::status(404).into()]).await;
    let err = OLLAMA
        .client(&server)
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("try pulling it first"), "{err}");
    assert_eq!(server.requests().len(), 1);

    let server = FakeLlmServer::start(vec![Reply::status(401).into()]).await;
    let c = OLLAMA.client_with(&server, |c| c.with_api_key("ollama-secret-key"));
    let err = c.complete(ask("hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(!err.to_string().contains("ollama-secret-key"));
    assert_eq!(server.requests().len(), 1, "not retried");
    assert_eq!(
        server.recorded()[0]
            .headers
            .get("authorization")
            .map(String::as_str),
        Some("Bearer ollama-secret-key")
    );

    let server = FakeLlmServer::start(vec![Reply::status(400).into()]).await;
    let err = OLLAMA
        .client(&server)
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn error_line_mid_stream_is_an_llm_error() {
    let server = FakeLlmServer::start(vec![
        Reply::StreamError {
            text_before: "Hello".into(),
            error: json!("an error was encountered while running the model"),
        }
        .into(),
    ])
    .await;
    let (seen, err) = first_error(&OLLAMA.client(&server), ask("hi")).await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, ChatEvent::TextDelta { .. }))
    );
    assert_eq!(err.kind(), ErrorKind::Llm);
    assert!(err.to_string().contains("while running the model"), "{err}");
}

#[test]
fn debug_output_hides_the_api_key_and_model_info_follows_config() {
    let config = OllamaConfig::new("llama3.1:8b").with_api_key("ollama-live-abc123");
    let client = OllamaClient::new(config.clone()).unwrap();
    let shown = format!("{config:?} {client:?} {config:#?}");
    assert!(!shown.contains("ollama-live-abc123"), "{shown}");
    assert!(shown.contains("llama3.1:8b"));
    let info = client.model_info();
    assert_eq!(info.provider, "ollama");
    assert!(!info.supports_tools, "JSON-in-text by default");
    assert!(info.supports_json_mode);
    assert_eq!(info.context_window, 8192);
    assert!(info.pricing.is_none());
    let info = OllamaClient::new(config.with_tools(true).with_context_window(32_768))
        .unwrap()
        .model_info();
    assert!(info.supports_tools);
    assert_eq!(info.context_window, 32_768);
}

#[tokio::test]
async fn input_over_the_context_length_is_context_length_exceeded() {
    let server = FakeLlmServer::start(vec![ollama::context_exceeded().into()]).await;
    let err = OLLAMA
        .client(&server)
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded, "{err}");
    assert!(
        err.to_string().contains("exceeds the context length"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1, "not retried");
    // Older runners answer 500 with the same message: still not retried.
    let server = FakeLlmServer::start(vec![
        Reply::Status {
            status: 500,
            body: Some(json!({"error": "input exceeds context length"})),
            headers: Default::default(),
        }
        .into(),
    ])
    .await;
    let err = OLLAMA
        .client(&server)
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded, "{err}");
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn images_go_out_as_base64_in_the_message_when_the_model_has_vision() {
    let server = FakeLlmServer::start(vec![Reply::text("A scatter plot.").into()]).await;
    let req = ChatRequest::new(vec![
        ChatMessage::user("What does this show?")
            .with_image(ImageContent::from_bytes("image/png", b"\x89PNG\r\n\x1a\n")),
    ]);
    let refused = OLLAMA
        .client(&server)
        .complete(req.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unsupported, "{refused}");
    assert!(server.requests().is_empty());

    let c = OLLAMA.client_with(&server, |c| c.with_vision(true));
    assert!(c.model_info().supports_vision);
    let reply = c.complete(req).await.unwrap();
    assert_eq!(reply.text, "A scatter plot.");
    assert_eq!(
        server.requests()[0]["messages"][0],
        json!({"role": "user", "content": "What does this show?", "images": ["iVBORw0KGgo="]})
    );

    // Ollama cannot fetch URLs.
    let err = c
        .complete(ChatRequest::new(vec![
            ChatMessage::user("x").with_image(ImageContent::url("https://e/a.png")),
        ]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert_eq!(server.requests().len(), 1);
}
