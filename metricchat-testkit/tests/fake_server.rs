//! The fake server's wire format, scripting and binary, checked with a plain HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use metricchat_testkit::{Exchange, FakeLlmServer, FakeToolCall, Matcher, Reply};
use serde_json::{Value, json};

async fn post(url: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The `data:` payloads of an SSE response.
async fn sse_data(resp: reqwest::Response) -> Vec<String> {
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    resp.bytes_stream()
        .eventsource()
        .map(|e| e.unwrap().data)
        .collect()
        .await
}

fn chat(stream: bool, include_usage: bool) -> Value {
    let mut body = json!({"model": "gpt-4.1-mini", "stream": stream,
                          "messages": [{"role": "user", "content": "hello there"}]});
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

#[tokio::test]
async fn text_reply_as_openai_json_completion() {
    let server = FakeLlmServer::start(vec![Reply::text("Hi!").into()]).await;
    let resp = post(&server.base_url(), chat(false, false)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-4.1-mini");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "Hi!");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    server.verify().unwrap();
}

#[tokio::test]
async fn text_reply_as_openai_chunks_with_usage_chunk() {
    let server = FakeLlmServer::start(vec![
        Reply::text("Hello world")
            .chunked(4)
            .with_usage(10, 3, 2)
            .into(),
    ])
    .await;
    let data = sse_data(post(&server.base_url(), chat(true, true)).await).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert!(c["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert!(
            c.get("usage").is_some(),
            "usage key present (null) with include_usage"
        );
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello world");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 10);
    assert_eq!(usage["usage"]["completion_tokens"], 3);
    assert_eq!(usage["usage"]["total_tokens"], 13);
    assert_eq!(usage["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
}

#[tokio::test]
async fn no_usage_chunk_without_include_usage() {
    let server = FakeLlmServer::start(vec![Reply::text("Hi").into()]).await;
    let data = sse_data(post(&server.base_url(), chat(true, false)).await).await;
    for d in &data[..data.len() - 1] {
        let c: Value = serde_json::from_str(d).unwrap();
        assert!(c.get("usage").is_none());
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn tool_call_chunks_have_openai_shape() {
    let server = FakeLlmServer::start(vec![
        Reply::tool_calls(vec![
            FakeToolCall::new("call_a", "describe_tables", json!({"tables": ["t"]})),
            FakeToolCall::new("", "create_data", json!("{\"sql\": \"SELECT")),
        ])
        .chunked(3)
        .into(),
    ])
    .await;
    let data = sse_data(post(&server.base_url(), chat(true, true)).await).await;
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], Value::Null);
    let fragments: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    // Each call opens with index, id, type and name, then arguments in 3-char pieces.
    assert_eq!(
        fragments[0],
        &json!({"index": 0, "id": "call_a", "type": "function",
                "function": {"name": "describe_tables", "arguments": ""}})
    );
    let mut args = ["".to_string(), "".to_string()];
    let mut ids = [None, None];
    for f in &fragments {
        let i = usize::try_from(f["index"].as_u64().unwrap()).unwrap();
        args[i].push_str(f["function"]["arguments"].as_str().unwrap());
        if let Some(id) = f.get("id") {
            ids[i] = id.as_str().map(str::to_string);
        }
        assert!(f["function"]["arguments"].as_str().unwrap().chars().count() <= 3);
    }
    assert_eq!(args[0], r#"{"tables":["t"]}"#);
    assert_eq!(
        args[1], r#"{"sql": "SELECT"#,
        "a JSON string is sent verbatim"
    );
    assert!(ids[1].as_deref().unwrap().starts_with("call_"));
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn status_reply_carries_error_body_and_headers() {
    let server = FakeLlmServer::start(vec![Reply::rate_limited(7).into()]).await;
    let resp = post(&server.base_url(), chat(true, true)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert!(v["error"]["message"].is_string());
    assert!(v["error"].get("param").is_some());
}

#[tokio::test]
async fn exchanges_are_matched_in_order_and_surprises_recorded() {
    let server = FakeLlmServer::start(vec![
        Exchange::when(Matcher::body_contains("second"), Reply::text("2")),
        Exchange::when(
            Matcher::pointer("/messages/0/content", json!("first")),
            Reply::text("1"),
        ),
    ])
    .await;
    let ask = |text: &str| json!({"model": "m", "messages": [{"role": "user", "content": text}]});
    let url = server.base_url();
    let first: Value = post(&url, ask("first")).await.json().await.unwrap();
    assert_eq!(first["choices"][0]["message"]["content"], "1");
    assert_eq!(server.remaining(), 1);
    let surprise = post(&url, ask("third")).await;
    assert_eq!(surprise.status(), 500);
    let v: Value = surprise.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("unexpected request: last message (user): third")
    );
    let err = server.verify().unwrap_err();
    assert!(
        err.contains("third") && err.contains("exchange #0 was never used"),
        "{err}"
    );
    let second: Value = post(&url, ask("second")).await.json().await.unwrap();
    assert_eq!(second["choices"][0]["message"]["content"], "2");
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.unexpected().len(), 1);
    assert_eq!(server.remaining(), 0);
}

#[tokio::test]
async fn models_state_and_unknown_routes() {
    let server = FakeLlmServer::start(vec![Reply::text("x").into()]).await;
    let http = reqwest::Client::new();
    let models: Value = http
        .get(format!("{}/models", server.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert!(!models["data"].as_array().unwrap().is_empty());
    let resp = http
        .post(format!("{}/embeddings", server.base_url()))
        .json(&json!({"input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(server.unexpected()[0].path, "/v1/embeddings");
    let state: Value = http
        .get(format!("http://{}/_fake/state", server.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["remaining"], 1);
    assert_eq!(state["unexpected"][0]["path"], "/v1/embeddings");
}

#[tokio::test]
async fn stalled_request_ends_when_the_server_stops() {
    let server = FakeLlmServer::start(vec![Exchange::any(Reply::Stall)]).await;
    let url = server.base_url();
    let pending = tokio::spawn(async move { post(&url, chat(true, true)).await.status() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!pending.is_finished());
    assert_eq!(server.requests().len(), 1);
    drop(server);
    let status = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 503);
}

#[test]
fn script_file_format_round_trips() {
    let text = r#"[
      {"matcher": {"type": "body_contains", "text": "carriers"},
       "reply": {"type": "tool_calls", "calls": [{"id": "call_1", "name": "create_data",
                 "arguments": {"sql": "SELECT 1"}}]}},
      {"reply": {"type": "status", "status": 429, "headers": {"retry-after": "1"}}},
      {"reply": {"type": "delay", "ms": 10, "then": {"type": "text", "text": "Done."}}},
      {"reply": {"type": "cut_stream", "text_before": "Par"}},
      {"reply": {"type": "stall"}}
    ]"#;
    let script: Vec<Exchange> = serde_json::from_str(text).unwrap();
    assert_eq!(script.len(), 5);
    assert_eq!(
        script[2].reply,
        Reply::text("Done.").delayed(10),
        "defaults fill chunk sizes"
    );
    let again: Vec<Exchange> =
        serde_json::from_value(serde_json::to_value(&script).unwrap()).unwrap();
    assert_eq!(again, script);
}

#[tokio::test]
async fn binary_serves_a_script_file() {
    let dir = std::env::temp_dir().join(format!("mc-fake-llm-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("script.json");
    std::fs::write(
        &script,
        r#"{"exchanges": [{"reply": {"type": "text", "text": "from the binary"}}]}"#,
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mc-fake-llm"))
        .arg("--script")
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"),
        "{url}"
    );
    let v: Value = post(&url, chat(false, false)).await.json().await.unwrap();
    let state: Value = reqwest::get(url.replace("/v1", "/_fake/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(v["choices"][0]["message"]["content"], "from the binary");
    assert_eq!(state["remaining"], 0);
    assert_eq!(state["requests"].as_array().unwrap().len(), 1);
}
