//! What the model may see (issue 15, item 3), end to end: the OpenAI client against the fake
//! provider over HTTP, a DataFusion table with values that are easy to find. Under `schema_only`
//! no value of the data appears in any model request, while the host's answer, events and
//! datasets carry them; under `aggregates` an aggregate's values are shown and raw rows are not;
//! `full` (a per-request override here) shows everything.
#![cfg(feature = "datafusion")]

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use metricchat::agent::{DataExposure, RunOptions};
use metricchat::connectors::datafusion::DataFusionConnector;
use metricchat::events::{Event, EventKind};
use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::planner::DecisionProtocol;
use metricchat::spec::AgentSpec;
use metricchat::{Agent, ConnectorRef};
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::json;

const QUESTION: &str = "Which carrier has the most trips, and how many seats did it sell?";
const TOP_SQL: &str = "SELECT carrier, COUNT(*) AS trips, SUM(seats) AS seats FROM trips \
                       GROUP BY carrier ORDER BY trips DESC LIMIT 1";
/// Every value of the table that is not a small number: none may reach the model.
const VALUES: &[&str] = &[
    "Zephyrair",
    "Quokkajet",
    "Borealwings",
    "4711",
    "5813",
    "6917",
    "7019",
    "8123",
    "9227",
    "17441",
];

fn trips() -> ConnectorRef {
    let batch = RecordBatch::try_from_iter(vec![
        (
            "carrier",
            Arc::new(StringArray::from(vec![
                "Zephyrair",
                "Quokkajet",
                "Zephyrair",
                "Borealwings",
                "Quokkajet",
                "Zephyrair",
            ])) as _,
        ),
        (
            "seats",
            Arc::new(Int64Array::from(vec![4711, 7019, 5813, 8123, 9227, 6917])) as _,
        ),
    ])
    .unwrap();
    Arc::new(
        DataFusionConnector::new("air")
            .with_batches("trips", vec![batch])
            .unwrap(),
    )
}

fn planner() -> Matcher {
    Matcher::body_contains("You are metricchat")
}

fn writer() -> Matcher {
    Matcher::body_contains("You are a data analyst")
}

fn agent(server: &FakeLlmServer, exposure: DataExposure) -> Agent {
    let llm = OpenAiClient::new(OpenAiConfig::new("gpt-4.1-mini").with_base_url(server.base_url()))
        .unwrap();
    Agent::builder()
        .llm(llm)
        .connection(trips())
        .protocol(DecisionProtocol::NativeTools)
        .generate_title(false)
        .exposure(exposure)
        .build()
        .unwrap()
}

fn leaks(server: &FakeLlmServer) -> Vec<String> {
    let mut found = Vec::new();
    for req in server.requests() {
        let body = req.to_string();
        assert!(body.contains("carrier"), "the schema is shown");
        for v in VALUES {
            if body.contains(v) {
                found.push((*v).to_string());
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn final_block(events: &[Event]) -> String {
    events
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::BlockUpsert {
                text, done: true, ..
            } => Some(text.clone()),
            _ => None,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_only_keeps_every_value_from_the_model_and_the_host_gets_them() {
    let server = FakeLlmServer::start(vec![
        // 1. Through `answer_question`: the writer uses placeholders.
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "Busiest carrier", "sql": TOP_SQL}),
            ),
        ),
        Exchange::when(planner(), Reply::tool_call("answer_question", json!({}))),
        Exchange::when(
            writer(),
            Reply::text(
                "The busiest carrier is {{q1.carrier}} with {{q1.trips}} trips and \
                 {{q1.seats}} seats sold ({{q1.fare}}).",
            ),
        ),
        // 2. The planner answers itself, without placeholders: the table is appended.
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "Busiest carrier", "sql": TOP_SQL}),
            ),
        ),
        Exchange::when(
            planner(),
            Reply::text("The busiest carrier is shown below."),
        ),
    ])
    .await;
    let agent = agent(&server, DataExposure::SchemaOnly);

    let mut run = agent.stream(QUESTION);
    let events = run.collect_events().await;
    let a = run.finish().await.unwrap();
    let answer = a.answer.clone().unwrap();
    assert_eq!(
        answer,
        "The busiest carrier is Zephyrair with 3 trips and 17441 seats sold ([no value for \
         q1.fare])."
    );
    assert_eq!(
        final_block(&events),
        answer,
        "the host's stream is filled too"
    );
    // The host gets the data and the query events in full.
    assert_eq!(a.dataset().unwrap().num_rows(), 1);
    let preview = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::QueryResult { preview, .. } => Some(json!(preview).to_string()),
            _ => None,
        })
        .unwrap();
    assert!(preview.contains("Zephyrair"), "{preview}");
    // The model saw the columns and the row count, not the rows.
    let observation = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ToolFinished {
                tool, observation, ..
            } if tool == "create_data" => Some(observation.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(observation["rows"], json!([]));
    assert_eq!(observation["row_count"], 1);
    assert!(
        observation["values_withheld"]
            .as_str()
            .unwrap()
            .contains("{{q1.carrier}}"),
        "{observation}"
    );

    let b = agent.ask(QUESTION).await.unwrap();
    let answer = b.answer.unwrap();
    assert!(answer.starts_with("The busiest carrier is shown below."));
    assert!(answer.contains("| Zephyrair | 3 | 17441 |"), "{answer}");
    server.verify().unwrap();

    // No request of either run held a value: not the rows, not sample values, not the
    // answers filled in.
    assert_eq!(leaks(&server), Vec::<String>::new());
    let bodies: Vec<String> = server.requests().iter().map(|r| r.to_string()).collect();
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("Data exposure (schema_only)")),
        "the model is told how to write placeholders"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_may_override_the_agents_exposure() {
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "Busiest carrier", "sql": TOP_SQL}),
            ),
        ),
        Exchange::when(
            planner(),
            Reply::text("Zephyrair, with 3 trips and 17441 seats."),
        ),
    ])
    .await;
    let agent = agent(&server, DataExposure::SchemaOnly);
    let a = agent
        .ask_with(QUESTION, RunOptions::new().exposure(DataExposure::Full))
        .await
        .unwrap();
    server.verify().unwrap();
    assert_eq!(
        a.answer.as_deref(),
        Some("Zephyrair, with 3 trips and 17441 seats.")
    );
    // Full: the rows (and the sample values) reach the model, as before.
    let seen = leaks(&server);
    assert!(seen.contains(&"17441".to_string()), "{seen:?}");
    assert!(seen.contains(&"Zephyrair".to_string()), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_show_an_aggregate_and_withhold_raw_rows() {
    let raw = "SELECT carrier, seats FROM trips WHERE carrier LIKE 'Z%'";
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "Busiest carrier", "sql": TOP_SQL}),
            ),
        ),
        Exchange::when(
            planner(),
            Reply::tool_call("inspect_data", json!({"sql": raw})),
        ),
        Exchange::when(
            planner(),
            Reply::text("Zephyrair sold 17441 seats; its largest trip had {{q2.seats}} seats."),
        ),
    ])
    .await;
    let agent = agent(&server, DataExposure::Aggregates { max_rows: 5 });
    let mut run = agent.stream(QUESTION);
    let events = run.collect_events().await;
    let a = run.finish().await.unwrap();
    server.verify().unwrap();
    assert_eq!(
        a.answer.as_deref(),
        Some("Zephyrair sold 17441 seats; its largest trip had 4711 seats.")
    );
    let observations: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolFinished { observation, .. } => Some(observation.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        observations[0]["rows"][0]["seats"], 17441,
        "an aggregate is shown"
    );
    assert_eq!(observations[1]["rows"], json!([]), "raw rows are withheld");
    assert!(observations[1]["values_withheld"].is_string());
    // The aggregate's values reached the model; no raw seat value did, nor sample values.
    let seen = leaks(&server);
    assert_eq!(seen, vec!["17441".to_string(), "Zephyrair".to_string()]);
}

#[test]
fn an_unknown_exposure_in_a_spec_is_a_clear_error() {
    let spec = AgentSpec::from_json(r#"{"llm": "openai:x", "exposure": "schema_only"}"#).unwrap();
    assert_eq!(spec.config.exposure, DataExposure::SchemaOnly);
    let spec = AgentSpec::from_json(
        r#"{"llm": "openai:x", "exposure": {"aggregates": {"max_rows": 20}}}"#,
    )
    .unwrap();
    assert_eq!(
        spec.config.exposure,
        DataExposure::Aggregates { max_rows: 20 }
    );
    let err = AgentSpec::from_json(r#"{"llm": "openai:x", "exposure": "values"}"#).unwrap_err();
    assert_eq!(err.kind(), metricchat::ErrorKind::InvalidInput, "{err}");
    assert!(
        err.to_string().contains("unknown data exposure `values`"),
        "{err}"
    );
}
