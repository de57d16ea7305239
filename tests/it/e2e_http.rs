//! The whole loop over real HTTP: the OpenAI client against the fake provider server, real
//! DataFusion queries on the bundled flights data, a SQLite store on disk. Also what happens when
//! the provider misbehaves (429, 500, a cut stream, silence).

use std::sync::Arc;
use std::time::Duration;

use metricchat::events::{EventKind, RunStatus};
use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::planner::DecisionProtocol;
use metricchat::store::{SqliteStore, Store};
use metricchat::{Agent, ErrorKind};
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::json;

use crate::common::*;

fn client(server: &FakeLlmServer, tweak: impl FnOnce(&mut OpenAiConfig)) -> OpenAiClient {
    let mut cfg = OpenAiConfig::new("gpt-4.1-mini").with_base_url(server.base_url());
    cfg.http.retry.max_retries = 2;
    cfg.http.retry.initial_backoff = Duration::from_millis(50);
    cfg.http.retry.max_backoff = Duration::from_secs(2);
    tweak(&mut cfg);
    OpenAiClient::new(cfg).unwrap()
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir.path().join("runs.db")).await.unwrap())
}

fn planner() -> Matcher {
    Matcher::body_contains("You are metricchat")
}

/// Parses "… 20.22 minutes …" style numbers out of an answer.
fn numbers_in(text: &str) -> Vec<f64> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|t| t.trim_matches('.').parse::<f64>().ok())
        .collect()
}

#[tokio::test]
async fn native_tools_end_to_end_answer_matches_a_direct_query() {
    let conn = flights();
    let (carrier, avg) = worst_carrier(&conn).await;
    let answer = format!(
        "{carrier} had the worst average departure delay in 2013: {avg:.2} minutes per flight."
    );
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "Average departure delay by carrier", "sql": WORST_CARRIER_SQL,
                       "chart": {"chart_type": "bar", "x": "name", "y": ["avg_dep_delay_min"]}}),
            )
            .chunked(3),
        ),
        Exchange::when(planner(), Reply::text(answer.clone())),
        Exchange::when(
            Matcher::body_contains("title of at most six words"),
            Reply::text("Worst carrier by departure delay"),
        ),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let agent = Agent::builder()
        .llm(client(&server, |_| {}))
        .connection(conn.clone())
        .store(store.clone())
        .protocol(DecisionProtocol::NativeTools)
        .build()
        .unwrap();
    let mut run = agent.stream("Which carrier had the worst average departure delay in 2013?");
    let events = run.collect_events().await;
    let result = run.finish().await.unwrap();
    server.verify().unwrap();
    assert_seq(&events);

    // The answer's number is the direct query's number.
    let said = result.answer.clone().unwrap();
    assert!(said.contains(&carrier));
    assert!(
        numbers_in(&said).iter().any(|n| (n - avg).abs() < 0.01),
        "{said} vs {avg}"
    );
    // The data the agent returned agrees with the direct query too.
    let top = result.batches()[0].slice(0, 1);
    let agent_avg =
        arrow::compute::cast(top.column(2), &arrow::datatypes::DataType::Float64).unwrap();
    let agent_avg = agent_avg
        .as_any()
        .downcast_ref::<arrow::array::Float64Array>()
        .unwrap()
        .value(0);
    assert!((agent_avg - avg).abs() < 0.006, "{agent_avg} vs {avg}");
    let chart = result.chart().unwrap();
    assert_eq!(chart.spec.x.as_deref(), Some("name"));
    assert_eq!(chart.echarts["series"][0]["type"], "bar");
    assert_eq!(
        result.title.as_deref(),
        Some("Worst carrier by departure delay")
    );
    assert!(result.usage.total() > 0);

    // The wire: tools in OpenAI's format, the tool result sent back with its call id.
    let reqs = server.requests();
    assert_eq!(reqs[0]["tools"][0]["type"], "function");
    assert!(reqs[0]["stream"].as_bool().unwrap());
    let msgs = reqs[1]["messages"].as_array().unwrap();
    let tool_msg = msgs.iter().find(|m| m["role"] == "tool").unwrap();
    let call_id =
        msgs.iter().find(|m| m["role"] == "assistant").unwrap()["tool_calls"][0]["id"].clone();
    assert_eq!(tool_msg["tool_call_id"], call_id);
    assert!(tool_msg["content"].as_str().unwrap().contains(&carrier));

    // Stored: everything, consistently, in SQLite.
    assert_eq!(
        assert_consistent(&store, result.run_id).await,
        RunStatus::Completed
    );
    let run_row = store.get_run(result.run_id).await.unwrap().unwrap();
    assert_eq!(run_row.answer.as_deref(), Some(said.as_str()));
    assert_eq!(store.visualizations(result.run_id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn json_in_text_end_to_end_over_http() {
    let conn = flights();
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            planner(),
            Reply::text(format!(
                "```json\n{}\n```",
                json!({"reasoning": "Count flights per origin airport.",
                       "action": {"tool": "create_data", "arguments": {
                           "title": "Flights per origin",
                           "sql": "SELECT origin, COUNT(*) AS flights FROM flights GROUP BY origin ORDER BY flights DESC"}}})
            )),
        ),
        Exchange::when(
            planner(),
            Reply::text(
                json!({"reasoning": "EWR is first.", "analysis_complete": true,
                       "final_answer": "EWR had the most departures: 120835 flights."})
                .to_string(),
            ),
        ),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let agent = Agent::builder()
        .llm(client(&server, |c| c.supports_tools = Some(false)))
        .connection(conn.clone())
        .store(store.clone())
        .generate_title(false)
        .build()
        .unwrap();
    let result = agent
        .ask("Which airport had the most departures?")
        .await
        .unwrap();
    server.verify().unwrap();
    let b = direct(&conn, "SELECT COUNT(*) FROM flights WHERE origin = 'EWR'").await;
    let n = arrow::compute::cast(b[0].column(0), &arrow::datatypes::DataType::Int64).unwrap();
    let n = n
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0);
    assert!(result.answer.unwrap().contains(&n.to_string()));
    let req = &server.requests()[0];
    assert!(req.get("tools").is_none(), "JSON protocol sends no tools");
    assert_eq!(req["response_format"]["type"], "json_object");
    assert_consistent(&store, result.run_id).await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_transparently() {
    let server = FakeLlmServer::start(vec![
        Exchange::any(Reply::rate_limited(1)),
        Exchange::any(Reply::status(500)),
        Exchange::any(Reply::text("There are 16 airlines.")),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let agent = Agent::builder()
        .llm(client(&server, |_| {}))
        .connection(flights())
        .store(store.clone())
        .generate_title(false)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let result = agent.ask("How many airlines?").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was not honoured"
    );
    assert_eq!(result.answer.as_deref(), Some("There are 16 airlines."));
    assert_eq!(server.requests().len(), 3);
    assert_consistent(&store, result.run_id).await;
}

#[tokio::test]
async fn persistent_server_errors_fail_the_run_with_a_typed_error() {
    let server = FakeLlmServer::start(vec![
        Exchange::any(Reply::status(500)),
        Exchange::any(Reply::status(500)),
        Exchange::any(Reply::status(500)),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let agent = Agent::builder()
        .llm(client(&server, |_| {}))
        .connection(flights())
        .store(store.clone())
        .build()
        .unwrap();
    let mut run = agent.stream("q");
    let run_id = run.run_id();
    let events = run.collect_events().await;
    let err = run.finish().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Llm);
    assert!(err.to_string().contains("500"));
    assert!(matches!(
        events.last().unwrap().kind,
        EventKind::RunFailed { .. }
    ));
    assert_eq!(assert_consistent(&store, run_id).await, RunStatus::Failed);
}

#[tokio::test]
async fn a_stream_cut_mid_way_fails_cleanly() {
    let server = FakeLlmServer::start(vec![Exchange::any(Reply::CutStream {
        text_before: "{\"reasoning\": \"Let me".into(),
    })])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let agent = Agent::builder()
        .llm(client(&server, |c| {
            c.supports_tools = Some(false);
            c.http.retry.max_retries = 0;
        }))
        .connection(flights())
        .store(store.clone())
        .build()
        .unwrap();
    let mut run = agent.stream("q");
    let run_id = run.run_id();
    let events = run.collect_events().await;
    let err = run.finish().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Llm, "{err}");
    eprintln!("{:?}", types(&events));
    // The partial reasoning reached the user before the cut.
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::DecisionPartial { .. }))
    );
    assert_eq!(assert_consistent(&store, run_id).await, RunStatus::Failed);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = FakeLlmServer::start(vec![Exchange::any(Reply::Stall)]).await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let agent = Agent::builder()
        .llm(client(&server, |c| {
            c.http.first_byte_timeout = Duration::from_millis(300);
            c.http.retry.max_retries = 0;
        }))
        .connection(flights())
        .store(store.clone())
        .build()
        .unwrap();
    let mut run = agent.stream("q");
    let run_id = run.run_id();
    let _ = run.collect_events().await;
    let err = run.finish().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(assert_consistent(&store, run_id).await, RunStatus::Failed);
}

#[tokio::test]
async fn cancelling_while_the_model_streams_stops_the_http_request() {
    let server = FakeLlmServer::start(vec![Exchange::any(Reply::StallMidStream {
        text_before: "{\"reasoning\": \"Thinking".into(),
    })])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let agent = Agent::builder()
        .llm(client(&server, |c| c.supports_tools = Some(false)))
        .connection(flights())
        .store(store.clone())
        .build()
        .unwrap();
    let mut run = agent.stream("q");
    let run_id = run.run_id();
    use futures::StreamExt;
    while let Some(ev) = run.next().await {
        if matches!(ev.kind, EventKind::DecisionPartial { .. }) {
            run.cancel();
        }
    }
    let err = run.finish().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(
        assert_consistent(&store, run_id).await,
        RunStatus::Cancelled
    );
}

#[tokio::test]
async fn a_server_that_reports_no_usage_still_counts_against_the_budget() {
    // Some OpenAI-compatible servers ignore `stream_options.include_usage`.
    let server = FakeLlmServer::start(vec![Exchange::any(
        Reply::text(
            json!({"reasoning": "known", "analysis_complete": true, "final_answer": "16 airlines."})
                .to_string(),
        )
        .with_usage(0, 0, 0),
    )])
    .await;
    let agent = Agent::builder()
        .llm(client(&server, |c| c.supports_tools = Some(false)))
        .connection(flights())
        .generate_title(false)
        .build()
        .unwrap();
    let result = agent.ask("How many airlines?").await.unwrap();
    assert!(result.usage.input_tokens > 500, "{:?}", result.usage);
    assert!(result.usage.output_tokens > 5, "{:?}", result.usage);
}

/// The end-to-end flow with each provider's client speaking its own wire format.
#[tokio::test]
async fn the_end_to_end_flow_works_with_every_provider_client() {
    use metricchat::llm::{
        AnthropicClient, AnthropicConfig, GeminiClient, GeminiConfig, LlmClient, OllamaClient,
        OllamaConfig,
    };
    let conn = flights();
    let (carrier, avg) = worst_carrier(&conn).await;
    let answer = format!("{carrier} had the worst average departure delay: {avg:.2} minutes.");
    for provider in ["openai", "anthropic", "ollama", "gemini"] {
        let server = FakeLlmServer::start(vec![
            Exchange::when(
                planner(),
                Reply::tool_call(
                    "create_data",
                    json!({"title": "Delay by carrier", "sql": WORST_CARRIER_SQL}),
                )
                .chunked(5),
            ),
            Exchange::when(planner(), Reply::text(answer.clone())),
        ])
        .await;
        let llm: Arc<dyn LlmClient> = match provider {
            "openai" => Arc::new(client(&server, |_| {})),
            "anthropic" => Arc::new(
                AnthropicClient::new(
                    AnthropicConfig::new("claude-sonnet-4-5")
                        .with_base_url(server.origin())
                        .with_api_key("test-key"),
                )
                .unwrap(),
            ),
            "gemini" => Arc::new(
                GeminiClient::new(
                    GeminiConfig::new("gemini-2.5-flash")
                        .with_base_url(server.origin())
                        .with_api_key("test-key"),
                )
                .unwrap(),
            ),
            _ => Arc::new(
                OllamaClient::new(
                    OllamaConfig::new("qwen2.5-coder")
                        .with_host(server.origin())
                        .with_tools(true),
                )
                .unwrap(),
            ),
        };
        let store: Arc<dyn Store> = Arc::new(metricchat::store::MemoryStore::new());
        let agent = Agent::builder()
            .llm(llm)
            .connection(conn.clone())
            .store(store.clone())
            .generate_title(false)
            .build()
            .unwrap();
        let result = agent
            .ask("Which carrier had the worst average departure delay?")
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        server
            .verify()
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(
            result.answer.as_deref(),
            Some(answer.as_str()),
            "{provider}"
        );
        assert_eq!(result.dataset().unwrap().data.num_rows(), 16, "{provider}");
        assert!(result.usage.total() > 0, "{provider}");
        assert_eq!(
            assert_consistent(&store, result.run_id).await,
            RunStatus::Completed
        );
    }
}

/// `model_info().supports_tools` picks the decision protocol, for every provider, over HTTP:
/// a tool-calling model gets the provider's tools field on the wire, a model without tool
/// calling gets none (and answers with one JSON decision in text); the builder's override
/// forces either way.
#[tokio::test]
async fn model_info_picks_native_tools_or_json_in_text_for_every_provider() {
    use metricchat::llm::LlmSpec;

    /// Whether `body` offers tools in `provider`'s own format.
    fn offers_tools(provider: &str, body: &serde_json::Value) -> bool {
        let Some(tools) = body.get("tools") else {
            return false;
        };
        match provider {
            "anthropic" => {
                tools[0]["name"] == "create_data" || tools[0]["input_schema"].is_object()
            }
            "gemini" => tools[0]["functionDeclarations"][0]["name"].is_string(),
            _ => tools[0]["type"] == "function" && tools[0]["function"]["name"].is_string(),
        }
    }

    let conn = flights();
    let native_answer = "Sixteen carriers flew from New York.";
    let json_answer = "There were 16 carriers.";
    // (provider, model whose table entry has tool calling, override that turns it off/on)
    for provider in ["openai", "anthropic", "gemini", "ollama"] {
        // Ollama models have no tool calling unless the config says so; the others do.
        let table_tools = provider != "ollama";
        for (tools, protocol) in [
            (true, DecisionProtocol::Auto),
            (false, DecisionProtocol::Auto),
            (false, DecisionProtocol::NativeTools),
            (true, DecisionProtocol::JsonText),
        ] {
            let native = match protocol {
                DecisionProtocol::Auto => tools,
                DecisionProtocol::NativeTools => true,
                _ => false,
            };
            let reply = if native {
                Reply::text(native_answer)
            } else {
                Reply::text(
                    json!({"reasoning": "Known.", "analysis_complete": true,
                           "final_answer": json_answer})
                    .to_string(),
                )
            };
            let server = FakeLlmServer::start(vec![Exchange::when(planner(), reply)]).await;
            let base_url = if provider == "openai" {
                server.base_url()
            } else {
                server.origin()
            };
            let mut spec = json!({"provider": provider, "base_url": base_url,
                                  "api_key": "test-key", "max_retries": 0});
            if tools != table_tools {
                spec["supports_tools"] = json!(tools);
            }
            let spec: LlmSpec = serde_json::from_value(spec).unwrap();
            let llm = spec.build().unwrap();
            let case = format!("{provider}, tools {tools}, {protocol:?}");
            assert_eq!(llm.model_info().supports_tools, tools, "{case}");
            let agent = Agent::builder()
                .llm(llm)
                .connection(conn.clone())
                .protocol(protocol)
                .generate_title(false)
                .build()
                .unwrap();
            let result = agent
                .ask("How many carriers flew?")
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            server.verify().unwrap_or_else(|e| panic!("{case}: {e}"));
            let body = &server.requests()[0];
            assert_eq!(offers_tools(provider, body), native, "{case}: {body}");
            let expected = if native { native_answer } else { json_answer };
            assert_eq!(result.answer.as_deref(), Some(expected), "{case}");
        }
    }
}
