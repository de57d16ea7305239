//! The OpenAI client against the fake OpenAI-format server, over real HTTP.

use std::time::{Duration, Instant};

use metricchat_core::ErrorKind;
use metricchat_core::error::Error;
use metricchat_core::llm::{
    ChatEvent, ChatMessage, ChatRequest, FinishReason, HttpConfig, ImageContent, LlmClient,
    OpenAiClient, OpenAiConfig, ResponseFormat, RetryPolicy, ToolCall, ToolChoice,
};
use metricchat_testkit::{Exchange, FakeLlmServer, FakeToolCall, Matcher, Reply};
use serde_json::json;

use crate::providers::*;

const OPENAI: Provider<OpenAiConfig, OpenAiClient> = Provider {
    name: "openai",
    api_key: "sk-test-secret",
    unauthorized_says: "Incorrect API key",
    make_config: |server| {
        OpenAiConfig::new("gpt-4.1-mini")
            .with_base_url(server.base_url())
            .with_api_key("sk-test-secret")
            .with_http_options(http())
    },
    for_suite: |c, http| c.with_http_options(http),
    build: OpenAiClient::new,
};

provider_suite!(OPENAI);

/// Streams until the first error and returns it, with the events before it.

#[tokio::test]
async fn streamed_text_arrives_in_chunks_with_usage() {
    let server = FakeLlmServer::start(vec![
        Reply::text("Delays peak in July.")
            .with_usage(120, 6, 100)
            .into(),
    ])
    .await;
    let events = collect(&OPENAI.client(&server), ask("when are delays worst?")).await;
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
        usage: metricchat_core::llm::Usage {
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
    let body = &server.requests()[0];
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["model"], "gpt-4.1-mini");
    assert_eq!(
        server.recorded()[0]
            .headers
            .get("authorization")
            .map(String::as_str),
        Some("Bearer sk-test-secret")
    );
    server.verify().unwrap();
}

#[tokio::test]
async fn non_streamed_json_answer_is_accepted() {
    // A server that ignores `stream: true` and answers one `application/json` completion.
    let server = FakeLlmServer::start(vec![Reply::Status {
        status: 200,
        body: Some(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Forty-two."}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3}
        })),
        headers: Default::default(),
    }
    .into()])
    .await;
    let reply = OPENAI
        .client(&server)
        .complete(ask("answer?"))
        .await
        .unwrap();
    assert_eq!(reply.text, "Forty-two.");
    assert_eq!(reply.usage.input_tokens, 9);
    assert_eq!(reply.usage.output_tokens, 3);
    assert_eq!(reply.finish_reason, Some(FinishReason::Stop));
    server.verify().unwrap();
}

#[tokio::test]
async fn one_tool_call_with_arguments_in_three_char_pieces() {
    let args =
        json!({"sql": "SELECT carrier, avg(delay) FROM flights GROUP BY 1", "title": "Delays"});
    let server = FakeLlmServer::start(vec![
        Reply::tool_calls(vec![FakeToolCall::new(
            "call_abc",
            "create_data",
            args.clone(),
        )])
        .chunked(3)
        .into(),
    ])
    .await;
    let mut req = ask("average delay per carrier");
    req.tools = tools();
    let events = collect(&OPENAI.client(&server), req).await;
    let fragments = events
        .iter()
        .filter(|e| matches!(e, ChatEvent::ToolCallDelta { .. }))
        .count();
    assert!(
        fragments > 10,
        "arguments should arrive in many fragments, got {fragments}"
    );
    let calls: Vec<&ToolCall> = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::ToolCall { call } => Some(call),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, "call_abc");
    assert_eq!(calls[0].name, "create_data");
    let parsed: serde_json::Value = serde_json::from_str(&calls[0].arguments).unwrap();
    assert_eq!(parsed, args);
    // The complete call comes before Finish, which is last.
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
            FakeToolCall::new("call_1", "describe_tables", json!({"tables": ["flights"]})),
            FakeToolCall::new("call_2", "create_data", json!({"sql": "SELECT 1"})),
        ])
        .with_text("Let me look.")
        .chunked(5)
        .into(),
    ])
    .await;
    let mut req = ask("look at flights");
    req.tools = tools();
    let reply = OPENAI.client(&server).complete(req).await.unwrap();
    assert_eq!(reply.text, "Let me look.");
    let names: Vec<(&str, &str)> = reply
        .tool_calls
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![("call_1", "describe_tables"), ("call_2", "create_data")]
    );
    assert_eq!(reply.tool_calls[1].arguments, r#"{"sql":"SELECT 1"}"#);
    assert_eq!(reply.finish_reason, Some(FinishReason::ToolCalls));
    assert!(
        reply.usage.input_tokens > 0,
        "usage is reported: {:?}",
        reply.usage
    );
    server.verify().unwrap();
}

#[tokio::test]
async fn request_body_has_openai_shape_for_tools_and_tool_results() {
    let server = FakeLlmServer::start(vec![Reply::text("ok").into()]).await;
    let mut req = ChatRequest::new(vec![
        ChatMessage::system("sys"),
        ChatMessage::user("top carriers"),
        ChatMessage {
            tool_calls: vec![ToolCall {
                id: "call_9".into(),
                name: "create_data".into(),
                arguments: r#"{"sql":"SELECT 1"}"#.into(),
            }],
            ..ChatMessage::assistant("")
        },
        ChatMessage::tool("call_9", r#"{"rows":1}"#),
    ])
    .with_purpose("planner");
    req.tools = tools();
    req.tool_choice = ToolChoice::Tool("create_data".into());
    req.temperature = Some(0.0);
    req.max_tokens = Some(256);
    OPENAI.client(&server).complete(req).await.unwrap();

    let body = &server.requests()[0];
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "top carriers"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_9", "type": "function",
                 "function": {"name": "create_data", "arguments": "{\"sql\":\"SELECT 1\"}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": "{\"rows\":1}"}
        ])
    );
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "create_data");
    assert_eq!(
        body["tools"][0]["function"]["parameters"]["required"],
        json!(["sql"])
    );
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "create_data"}})
    );
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["max_tokens"], 256);
    assert!(body.get("purpose").is_none());
    assert!(body.get("response_format").is_none());
    server.verify().unwrap();
}

#[tokio::test]
async fn json_mode_sends_response_format_and_matcher_selects_exchange() {
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            Matcher::pointer("/response_format/type", json!("json_object")),
            Reply::text(r#"{"answer": 1}"#),
        ),
        Exchange::when(Matcher::body_contains("plain please"), Reply::text("plain")),
    ])
    .await;
    let c = OPENAI.client(&server);
    // Out of script order: the matcher picks the second exchange.
    assert_eq!(c.complete(ask("plain please")).await.unwrap().text, "plain");
    let mut req = ask("json please");
    req.response_format = ResponseFormat::JsonObject;
    assert_eq!(c.complete(req).await.unwrap().text, r#"{"answer": 1}"#);
    assert_eq!(
        server.requests()[1]["response_format"],
        json!({"type": "json_object"})
    );
    server.verify().unwrap();
}

#[tokio::test]
async fn context_length_exceeded_has_its_own_kind() {
    let server = FakeLlmServer::start(vec![Reply::context_length_exceeded().into()]).await;
    let err = OPENAI
        .client(&server)
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded);
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("maximum context length"), "{err}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn unknown_model_is_not_found() {
    let server = FakeLlmServer::start(vec![Reply::status(404).into()]).await;
    let err = OPENAI
        .client(&server)
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn error_event_mid_stream_is_typed() {
    let server = FakeLlmServer::start(vec![
        Reply::StreamError {
            text_before: "Hello".into(),
            error: json!({"message": "The server had an error", "type": "server_error",
                      "param": null, "code": null}),
        }
        .into(),
    ])
    .await;
    let (seen, err) = first_error(&OPENAI.client(&server), ask("hi")).await;
    assert!(!seen.is_empty());
    assert_eq!(err.kind(), ErrorKind::Llm);
    assert!(err.to_string().contains("The server had an error"), "{err}");
}

#[tokio::test]
async fn first_byte_timeout_is_retried() {
    let server = FakeLlmServer::start(vec![
        Reply::text("late").delayed(2_000).into(),
        Reply::text("fast").into(),
    ])
    .await;
    let c = OPENAI.client_with(&server, |c| {
        c.with_timeouts(
            Duration::from_secs(2),
            Duration::from_millis(300),
            Duration::from_secs(5),
        )
    });
    assert_eq!(c.complete(ask("hi")).await.unwrap().text, "fast");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn silence_mid_stream_hits_the_idle_timeout() {
    let server = FakeLlmServer::start(vec![
        Reply::text("slow text that pauses")
            .with_chunk_delay_ms(3_000)
            .into(),
        Reply::StallMidStream {
            text_before: "I was saying".into(),
        }
        .into(),
    ])
    .await;
    let c = OPENAI.client_with(&server, |c| {
        c.with_timeouts(
            Duration::from_secs(2),
            Duration::from_secs(2),
            Duration::from_millis(300),
        )
    });
    for with_text in [false, true] {
        let started = Instant::now();
        let (seen, err) = first_error(&c, ask("hi")).await;
        // The slow reply's first chunk is only the assistant role, so no text arrives before
        // the pause; the stalled one sends its text first.
        assert_eq!(
            seen.iter()
                .any(|e| matches!(e, ChatEvent::TextDelta { .. })),
            with_text
        );
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(
            matches!(&err, Error::Timeout { operation, after } if operation == "openai stream idle" && *after == Duration::from_millis(300)),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    assert_eq!(server.requests().len(), 2);
    server.verify().unwrap();
}

#[tokio::test]
async fn unexpected_request_is_reported_by_verify() {
    let server = FakeLlmServer::start(vec![Exchange::when(
        Matcher::body_contains("expected question"),
        Reply::text("fine"),
    )])
    .await;
    let c = OPENAI.client_with(&server, |c| c.with_retry(RetryPolicy::none()));
    let err = c.complete(ask("something else")).await.unwrap_err();
    assert!(err.to_string().contains("unexpected request"), "{err}");
    assert_eq!(server.unexpected().len(), 1);
    let problems = server.verify().unwrap_err();
    assert!(problems.contains("something else"), "{problems}");
    assert!(problems.contains("never used"), "{problems}");
    assert_eq!(server.remaining(), 1);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // Bind and drop a server to get a port nobody listens on.
    let server = FakeLlmServer::start(vec![]).await;
    let url = server.base_url();
    server.shutdown().await;
    let config = OpenAiConfig::new("m")
        .with_base_url(url)
        .with_retry(RetryPolicy::new(
            1,
            Duration::from_millis(10),
            Duration::from_millis(50),
        ));
    let err = OpenAiClient::new(config)
        .unwrap()
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Llm);
    assert!(err.to_string().contains("connection failed"), "{err}");
}

#[test]
fn debug_output_hides_the_api_key() {
    let config = OpenAiConfig::new("gpt-4o").with_api_key("sk-live-abcdef123456");
    let client = OpenAiClient::new(config.clone()).unwrap();
    let shown = format!("{config:?} {client:?} {config:#?}");
    assert!(!shown.contains("sk-live-abcdef123456"), "{shown}");
    assert!(shown.contains("gpt-4o"));
}

#[tokio::test]
async fn azure_deployment_streams_with_api_key_header_and_api_version() {
    let server = FakeLlmServer::start(vec![
        Reply::text("Azure says hi.").into(),
        Reply::tool_call("create_data", json!({"sql": "SELECT 1"})).into(),
    ])
    .await;
    let config = OpenAiConfig::azure(format!("{}/", server.origin()), "gpt-4o-prod", "2024-10-21")
        .with_api_key("az-test-secret")
        .with_retry(RetryPolicy::none());
    let client = OpenAiClient::new(config).unwrap();
    let events = collect(&client, ask("hello")).await;
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Azure says hi.");
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, ChatEvent::TextDelta { .. }))
            .count()
            > 1
    );
    let mut req = ask("query");
    req.tools = tools();
    let reply = client.complete(req).await.unwrap();
    assert_eq!(reply.tool_calls[0].name, "create_data");
    // The fake refuses deployment requests without api-version (404) or api-key (401), so
    // verify() passing means both arrived; check them on the recorded requests too.
    server.verify().unwrap();
    for rec in server.recorded() {
        assert_eq!(rec.path, "/openai/deployments/gpt-4o-prod/chat/completions");
        assert_eq!(rec.query.as_deref(), Some("api-version=2024-10-21"));
        assert_eq!(
            rec.headers.get("api-key").map(String::as_str),
            Some("az-test-secret")
        );
        assert!(!rec.headers.contains_key("authorization"));
        assert_eq!(rec.body["stream"], true);
    }
}

#[tokio::test]
async fn azure_deployment_without_api_version_or_key_is_refused() {
    let server = FakeLlmServer::start(vec![Reply::text("never").into()]).await;
    let mut config = OpenAiConfig::azure(server.origin(), "gpt-4o-prod", "2024-10-21")
        .with_retry(RetryPolicy::none());
    let err = OpenAiClient::new(config.clone())
        .unwrap()
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    config.api_key = Some("az-key".to_string().into());
    config.api_version = None;
    let err = OpenAiClient::new(config)
        .unwrap()
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(server.unexpected().len(), 2);
    assert_eq!(server.remaining(), 1);
}

#[tokio::test]
async fn context_length_exceeded_as_a_stream_error_event_has_its_own_kind() {
    let server = FakeLlmServer::start(vec![
        Reply::StreamError {
            text_before: String::new(),
            error: json!({"message": "This model's maximum context length is 8192 tokens.",
                          "type": "invalid_request_error", "param": "messages",
                          "code": "context_length_exceeded"}),
        }
        .into(),
    ])
    .await;
    let err = OPENAI
        .client(&server)
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextLengthExceeded, "{err}");
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn content_filter_finish_reason_is_a_content_filtered_error() {
    let server = FakeLlmServer::start(vec![
        Reply::text("I can")
            .with_finish_reason("content_filter")
            .into(),
        Reply::text("").with_finish_reason("content_filter").into(),
    ])
    .await;
    let c = OPENAI.client(&server);
    let (seen, err) = first_error(&c, ask("something nasty")).await;
    assert!(
        seen.contains(&ChatEvent::TextDelta {
            text: "I ca".into()
        }),
        "{seen:?}"
    );
    assert!(!seen.iter().any(|e| matches!(e, ChatEvent::Finish { .. })));
    assert_eq!(err.kind(), ErrorKind::ContentFiltered);
    assert!(err.to_string().contains("content_filter"), "{err}");
    assert!(!err.is_retryable());

    // `complete` surfaces the same error.
    let err = c.complete(ask("again")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContentFiltered);
    assert_eq!(server.requests().len(), 2);
    server.verify().unwrap();
}

#[tokio::test]
async fn azure_content_filter_refusal_is_content_filtered_and_not_retried() {
    let server = FakeLlmServer::start(vec![Reply::content_filtered_prompt().into()]).await;
    let config = OpenAiConfig::azure(server.origin(), "gpt-4o", "2024-10-21")
        .with_api_key("az-secret")
        .with_retry(RetryPolicy::new(
            2,
            Duration::from_millis(20),
            Duration::from_secs(1),
        ));
    let err = OpenAiClient::new(config)
        .unwrap()
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContentFiltered, "{err}");
    assert!(
        err.to_string().contains("content management policy"),
        "{err}"
    );
    assert!(err.to_string().contains("HTTP 400"), "{err}");
    assert_eq!(server.requests().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Vision

const PNG_1PX: &[u8] = b"\x89PNG\r\n\x1a\n";

#[tokio::test]
async fn images_go_out_as_image_url_parts() {
    let server = FakeLlmServer::start(vec![Reply::text("A bar chart.").into()]).await;
    let req = ChatRequest::new(vec![
        ChatMessage::user("What does this chart show?")
            .with_image(ImageContent::from_bytes("image/png", PNG_1PX))
            .with_image(ImageContent::url("https://example.com/q3.png")),
    ]);
    let reply = OPENAI
        .client_with(&server, |c| c)
        .complete(req)
        .await
        .unwrap();
    assert_eq!(reply.text, "A bar chart.");
    let body = &server.requests()[0];
    assert_eq!(
        body["messages"][0]["content"],
        json!([
            {"type": "text", "text": "What does this chart show?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/q3.png"}},
        ])
    );
}

#[tokio::test]
async fn images_to_a_model_without_vision_are_refused_before_sending() {
    let server = FakeLlmServer::start(vec![]).await;
    let req = ChatRequest::new(vec![
        ChatMessage::user("Describe").with_image(ImageContent::url("https://example.com/a.png")),
    ]);
    // gpt-3.5-turbo has no vision; an unknown local model has none unless configured.
    for model in ["gpt-3.5-turbo", "qwen2.5-coder:1.5b"] {
        let c = OPENAI.client_with(&server, |mut c| {
            c.model = model.into();
            c
        });
        assert!(!c.model_info().supports_vision);
        let err = c.complete(req.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains("does not accept images"), "{err}");
    }
    assert!(server.requests().is_empty());
    // The override turns it on.
    server.push(Reply::text("ok").into());
    let c = OPENAI.client_with(&server, |mut c| {
        c.model = "llava-compatible".into();
        c.supports_vision = Some(true);
        c
    });
    assert_eq!(c.complete(req).await.unwrap().text, "ok");
}

#[tokio::test]
async fn malformed_images_are_invalid_input() {
    let server = FakeLlmServer::start(vec![]).await;
    let c = OPENAI.client(&server);
    for msg in [
        ChatMessage::user("x").with_image(ImageContent::base64("text/plain", "aGk=")),
        ChatMessage::user("x").with_image(ImageContent::base64("image/png", "")),
        ChatMessage::assistant("x").with_image(ImageContent::url("https://e/a.png")),
    ] {
        let err = c.complete(ChatRequest::new(vec![msg])).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    assert!(server.requests().is_empty());
}

/// llama.cpp's OpenAI-compatible server sends no usage chunk, even when
/// `stream_options.include_usage` asks for one: the client then reports a usage estimated from
/// the text (about 4 characters a token), before the finish, so budgets and costs still count.
#[tokio::test]
async fn a_stream_without_a_usage_chunk_reports_an_estimate() {
    let answer = "American Airlines\nJetBlue\nDelta Air Lines";
    let server = FakeLlmServer::start(vec![
        Reply::text(answer).without_usage().into(),
        Reply::tool_call("create_data", json!({"sql": "SELECT 1"}))
            .without_usage()
            .into(),
    ])
    .await;
    let request = ask("Name three airlines based in New York, one per line.");
    let events = collect(&OPENAI.client(&server), request.clone()).await;
    assert_eq!(text_of(&events), answer);
    let usages: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::Usage { usage } => Some(*usage),
            _ => None,
        })
        .collect();
    let expected = metricchat_core::llm::estimate_usage(&request, answer, &[]);
    assert_eq!(usages, vec![expected]);
    assert!(expected.input_tokens > 0 && expected.output_tokens > 0);
    assert!(matches!(
        &events[events.len() - 2..],
        [
            ChatEvent::Usage { .. },
            ChatEvent::Finish {
                reason: FinishReason::Stop
            }
        ]
    ));

    let mut request = ask("how many flights?");
    request.tools = vec![metricchat_core::llm::ToolSpec {
        name: "create_data".into(),
        description: "runs SQL".into(),
        parameters: json!({"type": "object"}),
    }];
    let reply = OPENAI
        .client(&server)
        .complete(request.clone())
        .await
        .unwrap();
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(
        reply.usage,
        metricchat_core::llm::estimate_usage(&request, "", &reply.tool_calls)
    );
    assert!(reply.usage.output_tokens > 0);
    // The fake server really sent no usage (and was asked for it).
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r["stream_options"] == json!({"include_usage": true}))
    );
    server.verify().unwrap();
}
