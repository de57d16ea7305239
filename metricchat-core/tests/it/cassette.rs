//! Record/replay cassettes: record real HTTP exchanges with the fake OpenAI and Anthropic
//! servers, stop the servers, and replay the same conversations from the file.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use metricchat_core::ErrorKind;
use metricchat_core::llm::cassette::{Cassette, CassetteEntry, CassetteMode, RECORD_ENV};
use metricchat_core::llm::{
    AnthropicClient, AnthropicConfig, ChatEvent, ChatMessage, ChatRequest, HttpConfig, LlmClient,
    OpenAiClient, OpenAiConfig, RetryPolicy, ToolSpec,
};
use metricchat_testkit::{FakeLlmServer, FakeToolCall, Reply};
use serde_json::json;

const OPENAI_KEY: &str = "sk-live-very-secret-123";
const ANTHROPIC_KEY: &str = "sk-ant-very-secret-456";

fn retry() -> RetryPolicy {
    RetryPolicy::new(2, Duration::from_millis(10), Duration::from_secs(2))
}

fn openai(base_url: &str) -> OpenAiClient {
    OpenAiClient::new(
        OpenAiConfig::new("gpt-4.1-mini")
            .with_base_url(base_url)
            .with_api_key(OPENAI_KEY)
            .with_retry(retry()),
    )
    .unwrap()
}

fn anthropic(base_url: &str) -> AnthropicClient {
    AnthropicClient::new(
        AnthropicConfig::new("claude-sonnet-4-5")
            .with_base_url(base_url)
            .with_api_key(ANTHROPIC_KEY)
            .with_retry(retry()),
    )
    .unwrap()
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("You are a data analyst."),
        ChatMessage::user(text),
    ])
}

fn ask_with_tools(text: &str) -> ChatRequest {
    let mut req = ask(text);
    req.tools.push(ToolSpec {
        name: "create_data".into(),
        description: "Run a read-only SQL query.".into(),
        parameters: json!({"type": "object", "properties": {"sql": {"type": "string"}},
                           "required": ["sql"]}),
    });
    req
}

async fn events(client: &impl LlmClient, req: ChatRequest) -> Vec<ChatEvent> {
    let mut stream = client.stream(req).await.unwrap();
    let mut out = Vec::new();
    while let Some(ev) = stream.next().await {
        out.push(ev.unwrap());
    }
    out
}

fn entries(path: &Path) -> Vec<CassetteEntry> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn script() -> Vec<metricchat_testkit::Exchange> {
    vec![
        Reply::text("Churn rose 4% in May, mostly in the SMB segment.")
            .chunked(5)
            .with_usage(120, 14, 0)
            .into(),
        Reply::tool_calls(vec![FakeToolCall::new(
            "call_1",
            "create_data",
            json!({"sql": "SELECT month, churn FROM churn ORDER BY month"}),
        )])
        .chunked(7)
        .with_text("Let me look.")
        .into(),
    ]
}

#[tokio::test]
async fn openai_recording_replays_the_same_events_with_the_server_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cassettes/churn.jsonl");

    let server = FakeLlmServer::start(script()).await;
    let recorder = Cassette::record(&path, openai(&server.base_url())).unwrap();
    let live_text = events(&recorder, ask("Why did churn rise in May?")).await;
    let live_tools = events(&recorder, ask_with_tools("Show churn by month")).await;
    server.verify().unwrap();
    let base_url = server.base_url();
    server.shutdown().await;

    // The file: two exchanges, streamed bodies kept as SSE chunks, no secret anywhere.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(OPENAI_KEY),
        "the API key leaked into the cassette"
    );
    assert!(!text.to_ascii_lowercase().contains("authorization"));
    let recorded = entries(&path);
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].request.method, "POST");
    assert_eq!(recorded[0].request.path, "/v1/chat/completions");
    assert_eq!(
        recorded[0].request.body["messages"][1]["content"],
        "Why did churn rise in May?"
    );
    assert_eq!(recorded[0].response.status, 200);
    assert!(
        recorded[0].response.headers["content-type"].starts_with("text/event-stream"),
        "{:?}",
        recorded[0].response.headers
    );
    let chunks = recorded[0].response.chunks.as_ref().unwrap();
    assert!(chunks.concat().ends_with("data: [DONE]\n\n"), "{chunks:?}");

    // Replay against the stopped server's URL: same events, nothing on the network.
    let player = Cassette::replay(&path, openai(&base_url)).unwrap();
    assert_eq!(
        events(&player, ask("Why did churn rise in May?")).await,
        live_text
    );
    assert_eq!(
        events(&player, ask_with_tools("Show churn by month")).await,
        live_tools
    );
    let reply = player
        .complete(ask("Why did churn rise in May?"))
        .await
        .unwrap();
    assert_eq!(
        reply.text,
        "Churn rose 4% in May, mostly in the SMB segment."
    );
    assert_eq!(reply.usage.input_tokens, 120);
    assert!(
        live_tools
            .iter()
            .any(|e| matches!(e, ChatEvent::ToolCall { call }
        if call.name == "create_data" && call.arguments.contains("ORDER BY month")))
    );
}

#[tokio::test]
async fn anthropic_recording_replays_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("anthropic.jsonl");

    let server = FakeLlmServer::start(script()).await;
    let recorder = Cassette::record(&path, anthropic(&server.origin())).unwrap();
    let live_text = events(&recorder, ask("Why did churn rise in May?")).await;
    let live_tools = events(&recorder, ask_with_tools("Show churn by month")).await;
    server.verify().unwrap();
    let origin = server.origin();
    server.shutdown().await;

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(ANTHROPIC_KEY),
        "the API key leaked into the cassette"
    );
    assert!(!text.contains("x-api-key"));
    let recorded = entries(&path);
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].request.path, "/v1/messages");
    assert!(
        recorded[1]
            .response
            .chunks
            .as_ref()
            .unwrap()
            .concat()
            .contains("event: message_stop"),
        "named SSE events are kept byte for byte"
    );

    let player = Cassette::replay(&path, anthropic(&origin)).unwrap();
    assert_eq!(
        events(&player, ask("Why did churn rise in May?")).await,
        live_text
    );
    assert_eq!(
        events(&player, ask_with_tools("Show churn by month")).await,
        live_tools
    );
}

#[tokio::test]
async fn a_changed_prompt_fails_with_the_nearest_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("churn.jsonl");
    let server = FakeLlmServer::start(script()).await;
    let recorder = Cassette::record(&path, openai(&server.base_url())).unwrap();
    events(&recorder, ask("Why did churn rise in May?")).await;
    let base_url = server.base_url();
    server.shutdown().await;

    let player = Cassette::replay(&path, openai(&base_url)).unwrap();
    let err = player
        .complete(ask("Why did churn rise in June?"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(msg.contains("POST /v1/chat/completions"), "{msg}");
    assert!(msg.contains("/messages/1/content"), "{msg}");
    assert!(
        msg.contains(
            r#"recorded "Why did churn rise in May?", sent "Why did churn rise in June?""#
        ),
        "{msg}"
    );

    // A different model is named too.
    let other = OpenAiClient::new(
        OpenAiConfig::new("gpt-4o")
            .with_base_url(&base_url)
            .with_api_key(OPENAI_KEY),
    )
    .unwrap();
    let err = Cassette::replay(&path, other)
        .unwrap()
        .complete(ask("Why did churn rise in May?"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"/model: recorded "gpt-4.1-mini", sent "gpt-4o""#),
        "{err}"
    );
}

#[tokio::test]
async fn ignored_fields_and_key_order_do_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let server = FakeLlmServer::start(vec![Reply::text("Hi.").into()]).await;
    let recorder = Cassette::record(&path, openai(&server.base_url())).unwrap();
    let mut req = ask("hello");
    req.temperature = Some(0.2);
    let live = events(&recorder, req).await;
    let base_url = server.base_url();
    server.shutdown().await;

    // A recorded body with its keys in another order still matches.
    let mut entry = entries(&path).remove(0);
    let body = entry.request.body.as_object().unwrap();
    let reversed: serde_json::Map<String, serde_json::Value> = body
        .iter()
        .rev()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    entry.request.body = serde_json::Value::Object(reversed);
    std::fs::write(
        &path,
        format!("{}\n", serde_json::to_string(&entry).unwrap()),
    )
    .unwrap();

    let mut req = ask("hello");
    req.temperature = Some(0.9);
    let strict = Cassette::replay(&path, openai(&base_url)).unwrap();
    let err = strict.complete(req.clone()).await.unwrap_err();
    assert!(err.to_string().contains("/temperature"), "{err}");

    let lenient = Cassette::open(&path, CassetteMode::Replay)
        .unwrap()
        .ignore_fields(["stream_options", "user", "temperature"]);
    assert_eq!(lenient.mode(), CassetteMode::Replay);
    let player = lenient.wrap(openai(&base_url));
    assert_eq!(events(&player, req).await, live);
}

#[tokio::test]
async fn recorded_rate_limit_is_replayed_in_order_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("retry.jsonl");
    let server = FakeLlmServer::start(vec![
        Reply::rate_limited(0).into(),
        Reply::text("Done.").into(),
    ])
    .await;
    let recorder = Cassette::record(&path, openai(&server.base_url())).unwrap();
    assert_eq!(recorder.complete(ask("hi")).await.unwrap().text, "Done.");
    assert_eq!(server.requests().len(), 2);
    let base_url = server.base_url();
    server.shutdown().await;

    let recorded = entries(&path);
    assert_eq!(recorded[0].response.status, 429);
    assert_eq!(
        recorded[0]
            .response
            .headers
            .get("retry-after")
            .map(String::as_str),
        Some("0")
    );
    assert!(
        recorded[0]
            .response
            .text
            .as_deref()
            .unwrap()
            .contains("rate_limit_exceeded")
    );

    // Replay plays the 429 first (the client retries), then the answer; later calls reuse the
    // last matching recording.
    let player = Cassette::replay(&path, openai(&base_url)).unwrap();
    assert_eq!(player.complete(ask("hi")).await.unwrap().text, "Done.");
    assert_eq!(player.complete(ask("hi")).await.unwrap().text, "Done.");
}

#[tokio::test]
async fn replaying_a_missing_cassette_says_how_to_record_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.jsonl");
    let err = Cassette::replay(&path, openai("http://127.0.0.1:9/v1")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains(RECORD_ENV), "{err}");

    std::fs::write(&path, "not json\n").unwrap();
    let err = Cassette::open(&path, CassetteMode::Replay).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[tokio::test]
async fn auto_replays_unless_mc_record_is_set() {
    if std::env::var_os(RECORD_ENV).is_some() {
        return; // this test describes the default; a recording run sets the variable
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auto.jsonl");
    let server = FakeLlmServer::start(vec![Reply::text("Recorded.").into()]).await;
    let recorder = Cassette::record(&path, openai(&server.base_url())).unwrap();
    events(&recorder, ask("hi")).await;
    let base_url = server.base_url();
    server.shutdown().await;

    assert_eq!(CassetteMode::Auto.resolve(), CassetteMode::Replay);
    let llm = Cassette::auto(&path, openai(&base_url)).unwrap();
    assert_eq!(llm.complete(ask("hi")).await.unwrap().text, "Recorded.");
}

/// `LlmSpec { cassette, cassette_mode }` for every provider: record against the fake server,
/// stop it, and replay the same answer from the file through a spec built the same way.
#[tokio::test]
async fn llm_spec_cassette_records_then_replays_for_every_provider() {
    use metricchat_core::llm::LlmSpec;

    let dir = tempfile::tempdir().unwrap();
    for provider in ["openai", "anthropic", "gemini", "ollama"] {
        let path = dir.path().join(format!("{provider}.jsonl"));
        let server = FakeLlmServer::start(vec![
            Reply::text("Churn rose 4% in May.")
                .chunked(4)
                .with_usage(30, 7, 0)
                .into(),
        ])
        .await;
        let base_url = match provider {
            "openai" => server.base_url(),
            _ => server.origin(),
        };
        let spec = |mode: &str| -> LlmSpec {
            serde_json::from_value(json!({
                "provider": provider,
                "model": "m1",
                "base_url": base_url,
                "api_key": "sk-spec-secret-789",
                "max_retries": 0,
                "cassette": path,
                "cassette_mode": mode,
            }))
            .unwrap()
        };
        let live = spec("record")
            .build()
            .unwrap()
            .complete(ask("Why did churn rise?"))
            .await
            .unwrap();
        assert_eq!(live.text, "Churn rose 4% in May.", "{provider}");
        server.verify().unwrap();
        server.shutdown().await;

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("sk-spec-secret-789"),
            "{provider}: key leaked"
        );
        assert_eq!(entries(&path).len(), 1, "{provider}");

        // The server is gone: only the cassette can answer.
        let replayed = spec("replay")
            .build()
            .unwrap()
            .complete(ask("Why did churn rise?"))
            .await
            .unwrap();
        assert_eq!(replayed, live, "{provider}");
        // `auto` (the default) replays when MC_RECORD is not set.
        if std::env::var_os(RECORD_ENV).is_none() {
            let mut auto = spec("auto");
            auto.cassette_mode = None;
            let again = auto
                .build()
                .unwrap()
                .complete(ask("Why did churn rise?"))
                .await;
            assert_eq!(again.unwrap().text, live.text, "{provider}");
        }
        // A prompt that was never recorded is a typed NotFound, not a network call.
        let err = spec("replay")
            .build()
            .unwrap()
            .complete(ask("Something else"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{provider}: {err}");
    }
}

#[test]
fn llm_spec_replay_of_a_missing_cassette_fails_at_build() {
    let spec: metricchat_core::llm::LlmSpec = serde_json::from_value(json!({
        "provider": "anthropic",
        "cassette": "/nonexistent/dir/none.jsonl",
        "cassette_mode": "replay",
    }))
    .unwrap();
    let err = spec.build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains(RECORD_ENV), "{err}");
}
