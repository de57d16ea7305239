//! The Gemini client against the fake server's Gemini wire format, over real HTTP.

use std::time::{Duration, Instant};

use futures::StreamExt;
use metricchat_core::ErrorKind;
use metricchat_core::llm::{
    ChatAccumulator, ChatEvent, ChatMessage, ChatRequest, FinishReason, GeminiClient, GeminiConfig,
    HttpConfig, ImageContent, LlmClient, ResponseFormat, ToolChoice, ToolSpec, Usage,
};
use metricchat_testkit::{FakeLlmServer, FakeToolCall, Reply, gemini};
use serde_json::json;

use crate::providers::*;

const KEY: &str = "AIza-test-secret";

const GEMINI: Provider<GeminiConfig, GeminiClient> = Provider {
    name: "gemini",
    api_key: KEY,
    unauthorized_says: "authentication",
    make_config: |server| {
        GeminiConfig::new("gemini-2.5-flash")
            .with_base_url(server.origin())
            .with_api_key(KEY)
            .with_http_options(http())
    },
    for_suite: |c, http| c.with_http_options(http),
    build: GeminiClient::new,
};

provider_suite!(GEMINI);

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "create_data".into(),
            description: "Run a read-only SQL query.".into(),
            parameters: json!({"$schema": "https://json-schema.org/draft/2020-12/schema",
                               "type": "object", "additionalProperties": false,
                               "properties": {"sql": {"type": "string"}}, "required": ["sql"]}),
        },
        ToolSpec {
            name: "describe_tables".into(),
            description: "Describe tables.".into(),
            parameters: json!({"type": "object",
                               "properties": {"tables": {"type": "array",
                                                         "items": {"type": "string"}}}}),
        },
    ]
}

#[tokio::test]
async fn streamed_text_arrives_in_chunks_with_usage() {
    let server = FakeLlmServer::start(vec![
        Reply::text("Delays peak in July.")
            .with_usage(120, 6, 100)
            .into(),
    ])
    .await;
    let events = collect(&GEMINI.client(&server), ask("when are delays worst?")).await;
    let deltas = events
        .iter()
        .filter(|e| matches!(e, ChatEvent::TextDelta { .. }))
        .count();
    assert!(deltas > 1, "{events:?}");
    assert_eq!(text_of(&events), "Delays peak in July.");
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
    assert_eq!(
        rec.path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(rec.query.as_deref(), Some("alt=sse"));
    assert_eq!(
        rec.headers.get("x-goog-api-key").map(String::as_str),
        Some(KEY)
    );
    assert!(!rec.headers.contains_key("authorization"));
    assert_eq!(
        rec.body["systemInstruction"],
        json!({"parts": [{"text": "You are a data analyst."}]})
    );
    assert_eq!(
        rec.body["contents"],
        json!([{"role": "user", "parts": [{"text": "when are delays worst?"}]}])
    );
    server.verify().unwrap();
}

#[tokio::test]
async fn plain_generate_content_answer_is_one_body() {
    let server = FakeLlmServer::start(vec![Reply::text("Forty-two.").into()]).await;
    let c = GEMINI.client_with(&server, |c| c.with_stream(false));
    let reply = c.complete(ask("answer?")).await.unwrap();
    assert_eq!(reply.text, "Forty-two.");
    assert_eq!(reply.finish_reason, Some(FinishReason::Stop));
    assert!(reply.usage.input_tokens > 0);
    let rec = &server.recorded()[0];
    assert_eq!(rec.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(rec.query, None);
    server.verify().unwrap();
}

#[tokio::test]
async fn max_tokens_and_safety_finish_reasons() {
    let server = FakeLlmServer::start(vec![
        Reply::Text {
            text: "cut sh".into(),
            chunk_chars: 4,
            chunk_delay_ms: 0,
            usage: None,
            finish_reason: Some("length".into()),
        }
        .into(),
        Reply::Text {
            text: "".into(),
            chunk_chars: 4,
            chunk_delay_ms: 0,
            usage: None,
            finish_reason: Some("SAFETY".into()),
        }
        .into(),
    ])
    .await;
    let c = GEMINI.client(&server);
    let reply = c.complete(ask("long")).await.unwrap();
    assert_eq!(reply.finish_reason, Some(FinishReason::Length));
    assert_eq!(reply.text, "cut sh");
    let err = c.complete(ask("unsafe")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContentFiltered, "{err}");
    assert!(!err.is_retryable());
    assert_eq!(
        server.requests().len(),
        2,
        "a filtered answer is not retried"
    );
    server.verify().unwrap();
}

#[tokio::test]
async fn prohibited_content_mid_answer_ends_the_stream_with_content_filtered() {
    let server = FakeLlmServer::start(vec![
        Reply::text("Here is the fi")
            .with_finish_reason("PROHIBITED_CONTENT")
            .into(),
    ])
    .await;
    let (seen, err) = first_error(&GEMINI.client(&server), ask("x")).await;
    let text: String = seen
        .iter()
        .filter_map(|e| match e {
            ChatEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        text, "Here is the fi",
        "text before the filter still arrives"
    );
    assert!(
        !seen.iter().any(|e| matches!(e, ChatEvent::Finish { .. })),
        "no finish event: {seen:?}"
    );
    assert_eq!(err.kind(), ErrorKind::ContentFiltered);
    assert!(err.to_string().contains("content filter"), "{err}");
}

#[tokio::test]
async fn one_function_call_arrives_whole() {
    let args =
        json!({"sql": "SELECT carrier, avg(delay) FROM flights GROUP BY 1", "title": "Delays"});
    let server = FakeLlmServer::start(vec![
        Reply::tool_call("create_data", args.clone())
            .with_usage(50, 12, 0)
            .into(),
    ])
    .await;
    let mut req = ask("average delay per carrier");
    req.tools = tools();
    let events = collect(&GEMINI.client(&server), req).await;
    let deltas: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, ChatEvent::ToolCallDelta { .. }))
        .collect();
    assert_eq!(deltas.len(), 1, "one whole fragment per call: {events:?}");
    let calls = calls(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name, "create_data");
    assert!(!calls[0].id.is_empty());
    let parsed: serde_json::Value = serde_json::from_str(&calls[0].arguments).unwrap();
    assert_eq!(parsed, args);
    assert!(events.contains(&ChatEvent::Usage {
        usage: Usage {
            input_tokens: 50,
            output_tokens: 12,
            cached_input_tokens: 0,
        }
    }));
    assert_eq!(
        events.last(),
        Some(&ChatEvent::Finish {
            reason: FinishReason::ToolCalls
        })
    );
    // Declared in Gemini's shape, with the schema reduced to what Gemini accepts.
    let body = &server.requests()[0];
    assert_eq!(
        body["tools"][0]["functionDeclarations"][0],
        json!({"name": "create_data", "description": "Run a read-only SQL query.",
               "parameters": {"type": "object", "properties": {"sql": {"type": "string"}},
                              "required": ["sql"]}})
    );
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    server.verify().unwrap();
}

#[tokio::test]
async fn several_calls_in_one_turn_then_results_go_back_with_signatures() {
    let server = FakeLlmServer::start(vec![
        Reply::tool_calls(vec![
            FakeToolCall::new("", "describe_tables", json!({"tables": ["flights"]})),
            FakeToolCall::new("fc_2", "create_data", json!({"sql": "SELECT 1"})),
        ])
        .with_text("Let me look.")
        .into(),
        Reply::text("Done.").into(),
    ])
    .await;
    let c = GEMINI.client(&server);
    let mut req = ask("look at flights");
    req.tools = tools();
    req.tool_choice = ToolChoice::Required;
    let events = collect(&c, req.clone()).await;
    let mut acc = ChatAccumulator::default();
    for e in &events {
        acc.push(e);
    }
    let reply = acc.finish();
    assert_eq!(reply.text, "Let me look.");
    let names: Vec<&str> = reply.tool_calls.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["describe_tables", "create_data"]);
    assert_eq!(reply.tool_calls[1].id, "fc_2", "Gemini's own id is kept");
    assert_ne!(reply.tool_calls[0].id, reply.tool_calls[1].id);
    assert_eq!(reply.tool_calls[1].arguments, r#"{"sql":"SELECT 1"}"#);
    assert_eq!(reply.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(
        server.requests()[0]["toolConfig"]["functionCallingConfig"]["mode"],
        "ANY"
    );

    // The next request carries the calls (with their thought signatures) and the results.
    req.messages.push(ChatMessage {
        tool_calls: reply.tool_calls.clone(),
        ..ChatMessage::assistant(reply.text.clone())
    });
    req.messages.push(ChatMessage::tool(
        reply.tool_calls[0].id.clone(),
        r#"{"columns":["carrier"]}"#,
    ));
    req.messages
        .push(ChatMessage::tool("fc_2", "query failed: no such table"));
    assert_eq!(c.complete(req).await.unwrap().text, "Done.");
    let body = &server.requests()[1];
    assert_eq!(
        body["contents"][1],
        json!({"role": "model", "parts": [
            {"text": "Let me look."},
            {"functionCall": {"name": "describe_tables", "args": {"tables": ["flights"]}},
             "thoughtSignature": gemini::signature_for(1, 0)},
            {"functionCall": {"id": "fc_2", "name": "create_data", "args": {"sql": "SELECT 1"}},
             "thoughtSignature": gemini::signature_for(1, 1)}]})
    );
    assert_eq!(
        body["contents"][2],
        json!({"role": "user", "parts": [
            {"functionResponse": {"name": "describe_tables",
                                  "response": {"output": {"columns": ["carrier"]}}}},
            {"functionResponse": {"id": "fc_2", "name": "create_data",
                                  "response": {"output": "query failed: no such table"}}}]})
    );
    server.verify().unwrap();
}

#[tokio::test]
async fn json_mode_named_tool_and_generation_config() {
    let server =
        FakeLlmServer::start(vec![Reply::text("{}").into(), Reply::text("ok").into()]).await;
    let c = GEMINI.client(&server);
    let mut req = ask("json please");
    req.response_format = ResponseFormat::JsonObject;
    req.max_tokens = Some(256);
    req.temperature = Some(0.0);
    c.complete(req).await.unwrap();
    let body = &server.requests()[0];
    assert_eq!(
        body["generationConfig"],
        json!({"temperature": 0.0, "maxOutputTokens": 256,
               "responseMimeType": "application/json"})
    );
    assert!(body.get("tools").is_none() && body.get("toolConfig").is_none());

    let mut req = ask("use the tool");
    req.tools = tools();
    req.tool_choice = ToolChoice::Tool("create_data".into());
    c.complete(req).await.unwrap();
    assert_eq!(
        server.requests()[1]["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY",
                                         "allowedFunctionNames": ["create_data"]}})
    );
}

#[tokio::test]
async fn quota_retry_delay_in_the_body_is_honoured() {
    let server = FakeLlmServer::start(vec![
        gemini::quota_exhausted(1).into(),
        Reply::text("ok").into(),
    ])
    .await;
    let started = Instant::now();
    assert_eq!(
        GEMINI
            .client(&server)
            .complete(ask("hi"))
            .await
            .unwrap()
            .text,
        "ok"
    );
    assert!(started.elapsed() >= Duration::from_millis(950));

    let server = FakeLlmServer::start(vec![
        Reply::status(429).into(),
        Reply::status(429).into(),
        Reply::status(429).into(),
    ])
    .await;
    let err = GEMINI
        .client(&server)
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(
        err.to_string().contains("exceeded your current quota"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 3, "1 attempt + 2 retries");
}

#[tokio::test]
async fn unavailable_503_and_internal_500_are_retried() {
    let server = FakeLlmServer::start(vec![
        Reply::status(503).with_header("retry-after", "1").into(),
        Reply::status(500).into(),
        Reply::text("recovered").into(),
    ])
    .await;
    let started = Instant::now();
    let reply = GEMINI.client(&server).complete(ask("hi")).await.unwrap();
    assert_eq!(reply.text, "recovered");
    assert_eq!(server.requests().len(), 3);
    assert!(started.elapsed() >= Duration::from_millis(950));
    server.verify().unwrap();
}

#[tokio::test]
async fn client_errors_map_to_kinds_without_retry() {
    for (reply, kind, needle) in [
        (
            gemini::api_key_invalid(),
            ErrorKind::Unauthorized,
            "API key not valid",
        ),
        (
            Reply::status(401),
            ErrorKind::Unauthorized,
            "authentication",
        ),
        (Reply::status(403), ErrorKind::Unauthorized, "permission"),
        (
            Reply::status(400),
            ErrorKind::InvalidInput,
            "invalid argument",
        ),
        (
            gemini::context_too_long(),
            ErrorKind::ContextLengthExceeded,
            "context length exceeded",
        ),
        (Reply::status(404), ErrorKind::NotFound, "not found"),
    ] {
        let server = FakeLlmServer::start(vec![reply.into()]).await;
        let err = GEMINI
            .client(&server)
            .complete(ask("hi"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(needle), "{err}");
        assert!(!err.to_string().contains(KEY));
        assert_eq!(server.requests().len(), 1, "{err}");
        server.verify().unwrap();
    }
}

#[tokio::test]
async fn a_blocked_prompt_is_a_typed_error_not_retried() {
    let server = FakeLlmServer::start(vec![gemini::prompt_blocked("SAFETY").into()]).await;
    let err = GEMINI
        .client(&server)
        .complete(ask("bad"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContentFiltered);
    assert!(err.to_string().contains("blocked"), "{err}");
    assert!(err.to_string().contains("SAFETY"), "{err}");
    assert_eq!(server.requests().len(), 1);
    server.verify().unwrap();
}

#[tokio::test]
async fn error_chunk_mid_stream_is_typed() {
    let server = FakeLlmServer::start(vec![
        Reply::StreamError {
            text_before: "Hello".into(),
            error: json!({"code": 503, "message": "The model is overloaded.",
                          "status": "UNAVAILABLE"}),
        }
        .into(),
    ])
    .await;
    let (seen, err) = first_error(&GEMINI.client(&server), ask("hi")).await;
    assert_eq!(text_of(&seen), "Hello");
    assert_eq!(err.kind(), ErrorKind::Llm);
    assert!(err.to_string().contains("overloaded"), "{err}");
    assert_eq!(server.requests().len(), 1, "not retried after events");
}

#[tokio::test]
async fn dropping_a_stalled_stream_closes_the_connection() {
    let server = FakeLlmServer::start(vec![
        Reply::StallMidStream {
            text_before: "Thinking".into(),
        }
        .into(),
    ])
    .await;
    let mut stream = GEMINI.client(&server).stream(ask("hi")).await.unwrap();
    assert!(matches!(
        stream.next().await,
        Some(Ok(ChatEvent::TextDelta { .. }))
    ));
    assert_eq!(server.open_streams(), 1);
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.open_streams() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.open_streams(), 0);
}

#[test]
fn debug_output_hides_the_api_key_and_model_info() {
    let config = GeminiConfig::new("gemini-2.5-flash").with_api_key("AIza-live-abc123");
    let client = GeminiClient::new(config.clone()).unwrap();
    let shown = format!("{config:?} {client:?} {config:#?}");
    assert!(!shown.contains("AIza-live-abc123"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
    assert!(shown.contains("gemini-2.5-flash"));
    let info = client.model_info();
    assert_eq!(info.provider, "gemini");
    assert_eq!(info.context_window, 1_048_576);
    assert!(info.supports_tools && info.supports_json_mode && info.supports_vision);
    assert_eq!(info.pricing.map(|p| p.output_per_mtok), Some(2.5));
}

#[tokio::test]
async fn images_go_out_as_inline_data_and_file_data_parts() {
    let server = FakeLlmServer::start(vec![Reply::text("A pie chart.").into()]).await;
    let req = ChatRequest::new(vec![
        ChatMessage::user("What does this show?")
            .with_image(ImageContent::from_bytes("image/png", b"\x89PNG\r\n\x1a\n"))
            .with_image(ImageContent::Url {
                url: "https://generativelanguage.googleapis.com/v1beta/files/abc".into(),
                media_type: Some("image/png".into()),
            }),
    ]);
    let reply = GEMINI.client(&server).complete(req).await.unwrap();
    assert_eq!(reply.text, "A pie chart.");
    assert_eq!(
        server.requests()[0]["contents"][0],
        json!({"role": "user", "parts": [
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"fileData": {"mimeType": "image/png",
                          "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}},
            {"text": "What does this show?"},
        ]})
    );
}
