//! The agent loop on the bundled flights data with a scripted in-process model: recovery from
//! bad model output, failing and writing SQL, misbehaving tools, budgets, cancellation, and a
//! consistent stored record every time.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use metricchat::events::{EventKind, RunStatus, ToolStatus};
use metricchat::llm::{ScriptedLlm, ScriptedTurn};
use metricchat::planner::DecisionProtocol;
use metricchat::store::{MemoryStore, QueryStatus, Store};
use metricchat::tools::{Tool, ToolContext, ToolError, ToolPolicy};
use metricchat::{Agent, ErrorKind};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::common::*;

fn agent_with(llm: ScriptedLlm, store: Arc<dyn Store>) -> Agent {
    Agent::builder()
        .llm(llm)
        .connection(flights())
        .store(store)
        .generate_title(false)
        .build()
        .unwrap()
}

fn json_decision(tool: &str, args: serde_json::Value) -> ScriptedTurn {
    ScriptedTurn::text(
        json!({"reasoning": format!("use {tool}"), "action": {"tool": tool, "arguments": args}})
            .to_string(),
    )
}

fn json_answer(text: &str) -> ScriptedTurn {
    ScriptedTurn::text(
        json!({"reasoning": "done", "analysis_complete": true, "final_answer": text}).to_string(),
    )
}

#[tokio::test]
async fn json_protocol_answers_with_streamed_reasoning_and_fenced_output() {
    let conn = flights();
    let (carrier, avg) = worst_carrier(&conn).await;
    let answer = format!("{carrier} had the worst average departure delay: {avg:.2} minutes.");
    let fenced = format!(
        "Sure, here is my decision:\n```json\n{}\n```",
        json!({"reasoning": "Average dep_delay per carrier, highest first.",
               "action": {"tool": "create_data", "arguments": {"title": "Delay by carrier", "sql": WORST_CARRIER_SQL}}})
    );
    let llm = ScriptedLlm::new([ScriptedTurn::text(fenced), json_answer(&answer)], false);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent_with(llm.clone(), store.clone());
    let mut run = agent.stream("Which carrier had the worst average departure delay in 2013?");
    let events = run.collect_events().await;
    let result = run.finish().await.unwrap();
    assert_seq(&events);
    // Reasoning reached the user while the model was writing it.
    let partials: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::DecisionPartial {
                reasoning_message: Some(r),
                ..
            } => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert!(
        partials.len() > 3,
        "reasoning was not streamed: {partials:?}"
    );
    assert!(partials.iter().any(|p| p.len() < 20));
    let t = types(&events);
    for needed in [
        "run.started",
        "decision.final",
        "tool.started",
        "query.created",
        "query.result",
        "visualization.created",
        "tool.finished",
        "block.upsert",
        "run.finished",
    ] {
        assert!(t.contains(&needed), "missing {needed} in {t:?}");
    }
    assert_eq!(result.status, RunStatus::Completed);
    assert_eq!(result.answer.as_deref(), Some(answer.as_str()));
    assert_eq!(
        result.sql().map(|s| s.contains("AVG(f.dep_delay)")),
        Some(true)
    );
    assert_eq!(result.dataset().unwrap().data.num_rows(), 16);
    assert!(result.chart().is_some());
    assert!(result.usage.total() > 0);
    // The JSON protocol put tool descriptions in the prompt, not in the native tools field.
    let req = &llm.requests()[0];
    assert!(req.tools.is_empty());
    assert!(req.messages[0].content.contains("create_data"));
    assert!(req.messages[0].content.contains("Table flights"));
    assert_eq!(
        assert_consistent(&store, result.run_id).await,
        RunStatus::Completed
    );
}

#[tokio::test]
async fn malformed_output_is_re_asked_then_recovers() {
    let llm = ScriptedLlm::new(
        [
            ScriptedTurn::text("I think we should look at the flights table."),
            json_decision(
                "inspect_data",
                json!({"sql": "SELECT COUNT(*) AS n FROM flights"}),
            ),
            json_answer("There were 336776 flights."),
        ],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent_with(llm.clone(), store.clone());
    let mut run = agent.stream("How many flights?");
    let events = run.collect_events().await;
    let result = run.finish().await.unwrap();
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::PlannerRetry { attempt: 1, error, .. } if error.contains("no JSON")
    )));
    assert_eq!(result.answer.as_deref(), Some("There were 336776 flights."));
    // The repair request told the model what was wrong.
    let repair = &llm.requests()[1];
    let last = repair.messages.last().unwrap();
    assert!(
        last.content.contains("could not be used"),
        "{}",
        last.content
    );
    assert_consistent(&store, result.run_id).await;
}

#[tokio::test]
async fn output_that_never_becomes_json_fails_the_run_with_a_typed_error() {
    let llm = ScriptedLlm::new(
        [
            ScriptedTurn::text("no"),
            ScriptedTurn::text("still no"),
            ScriptedTurn::text("{\"reasoning\": \"x\"}"),
        ],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent_with(llm, store.clone());
    let mut run = agent.stream("How many flights?");
    let run_id = run.run_id();
    let events = run.collect_events().await;
    let err = run.finish().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Llm);
    assert!(matches!(
        events.last().unwrap().kind,
        EventKind::RunFailed { .. }
    ));
    assert_eq!(assert_consistent(&store, run_id).await, RunStatus::Failed);
    let stored = store.get_run(run_id).await.unwrap().unwrap();
    assert_eq!(stored.error.unwrap().kind, ErrorKind::Llm);
}

#[tokio::test]
async fn unknown_tool_and_bad_arguments_are_observations_the_model_recovers_from() {
    let llm = ScriptedLlm::new(
        [
            json_decision("run_sql", json!({"query": "SELECT 1"})),
            json_decision("create_data", json!({"sql": 42})),
            json_decision(
                "create_data",
                json!({"title": "Count", "sql": "SELECT COUNT(*) AS n FROM flights"}),
            ),
            json_answer("336776 flights."),
        ],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent_with(llm.clone(), store.clone());
    let result = agent.ask("How many flights?").await.unwrap();
    assert_eq!(result.status, RunStatus::Completed);
    let execs = store.tool_executions(result.run_id).await.unwrap();
    assert_eq!(execs.len(), 3);
    assert!(
        execs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("unknown tool `run_sql`")
    );
    assert!(execs[0].error.as_deref().unwrap().contains("create_data"));
    assert!(
        execs[1]
            .error
            .as_deref()
            .unwrap()
            .contains("invalid arguments")
    );
    // The model saw both errors.
    let third = &llm.requests()[2];
    let seen: String = third.messages.iter().map(|m| m.content.clone()).collect();
    assert!(seen.contains("unknown tool"));
    assert!(seen.contains("invalid arguments"));
    assert_consistent(&store, result.run_id).await;
}

#[tokio::test]
async fn failing_sql_is_repaired_with_the_error_fed_back_and_every_attempt_recorded() {
    let llm = ScriptedLlm::new(
        [
            json_decision(
                "create_data",
                json!({"title": "Delay", "sql": "SELECT carrier, AVG(departure_delay) FROM flights GROUP BY carrier"}),
            ),
            // The tool's repair call.
            ScriptedTurn::text(
                "```sql\nSELECT carrier, AVG(dep_delay) AS avg_delay FROM flights GROUP BY carrier\n```",
            ),
            json_answer("done"),
        ],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent_with(llm.clone(), store.clone());
    let mut run = agent.stream("Average delay by carrier");
    let events = run.collect_events().await;
    let result = run.finish().await.unwrap();
    let repair = &llm.requests()[1];
    assert_eq!(repair.purpose.as_deref(), Some("sql_repair"));
    let prompt = &repair.messages.last().unwrap().content;
    assert!(prompt.contains("departure_delay"), "{prompt}");
    let queries = store.queries(result.run_id).await.unwrap();
    assert_eq!(queries.len(), 2);
    assert_eq!(queries[0].status, QueryStatus::Error);
    assert_eq!(queries[0].attempt, 1);
    assert_eq!(queries[1].status, QueryStatus::Success);
    assert_eq!(queries[1].attempt, 2);
    let created = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::QueryCreated { .. }))
        .count();
    assert_eq!(created, 2);
    assert_eq!(result.dataset().unwrap().data.num_rows(), 16);
    assert_consistent(&store, result.run_id).await;
}

#[tokio::test]
async fn sql_that_writes_is_refused_and_never_reaches_the_engine() {
    let conn = flights();
    let writes = [
        "DROP TABLE flights",
        "INSERT INTO airlines VALUES ('ZZ', 'Evil Air')",
        "COPY flights TO '/tmp/out.csv'",
        "SELECT 1; DROP TABLE airlines",
        "WITH gone AS (DELETE FROM airlines RETURNING *) SELECT * FROM gone",
        "CREATE TABLE x AS SELECT * FROM airlines",
    ];
    let mut turns = Vec::new();
    for sql in writes {
        turns.push(json_decision("inspect_data", json!({ "sql": sql })));
    }
    turns.push(json_answer("I cannot change data."));
    let llm = ScriptedLlm::new(turns, false);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent_with(llm, store.clone());
    let result = agent.ask("Delete the airlines table").await.unwrap();
    let queries = store.queries(result.run_id).await.unwrap();
    assert_eq!(queries.len(), writes.len());
    for q in &queries {
        assert_eq!(q.status, QueryStatus::Refused, "{} was not refused", q.sql);
        assert!(q.executed_sql.is_none());
        assert!(q.error.as_deref().unwrap().contains("refused"));
    }
    for e in store.tool_executions(result.run_id).await.unwrap() {
        assert_eq!(
            e.status,
            metricchat::store::ExecutionStatus::Finished(ToolStatus::Error)
        );
    }
    // Nothing changed.
    let b = direct(&conn, "SELECT COUNT(*) FROM airlines").await;
    assert_eq!(b[0].num_rows(), 1);
    assert_consistent(&store, result.run_id).await;
}

struct Panicky;

#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

impl Tool for Panicky {
    const NAME: &'static str = "panicky";
    type Args = NoArgs;
    type Output = String;
    fn description(&self) -> String {
        "always panics".into()
    }
    async fn call(&self, _ctx: &ToolContext, _args: NoArgs) -> Result<String, ToolError> {
        panic!("boom in tool");
    }
}

struct Hangs;

impl Tool for Hangs {
    const NAME: &'static str = "hangs";
    type Args = NoArgs;
    type Output = String;
    fn description(&self) -> String {
        "never returns".into()
    }
    fn policy(&self) -> ToolPolicy {
        ToolPolicy::default()
            .with_attempts(2)
            .with_idle_timeout(Duration::from_millis(200))
    }
    async fn call(&self, _ctx: &ToolContext, _args: NoArgs) -> Result<String, ToolError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_tool_that_panics_or_hangs_becomes_an_error_observation() {
    let llm = ScriptedLlm::new(
        [
            json_decision("panicky", json!({})),
            json_decision("hangs", json!({})),
            json_answer("Both tools failed."),
        ],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = Agent::builder()
        .llm(llm)
        .connection(flights())
        .store(store.clone())
        .tool(Panicky)
        .tool(Hangs)
        .generate_title(false)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let result = agent.ask("try the tools").await.unwrap();
    let took = started.elapsed();
    assert!(
        took < scaled(Duration::from_secs(5)),
        "the panicking and hanging tools took {took:?} (MC_TEST_TIME_FACTOR scales the bound)"
    );
    let execs = store.tool_executions(result.run_id).await.unwrap();
    assert_eq!(
        execs[0].status,
        metricchat::store::ExecutionStatus::Finished(ToolStatus::Error)
    );
    assert!(execs[0].error.as_deref().unwrap().contains("crashed"));
    assert!(
        !execs[0].error.as_deref().unwrap().contains("boom"),
        "panic text leaked to model"
    );
    assert_eq!(
        execs[1].status,
        metricchat::store::ExecutionStatus::Finished(ToolStatus::Timeout)
    );
    assert_eq!(execs[1].attempts, 2, "timeouts are retried per policy");
    assert_eq!(result.answer.as_deref(), Some("Both tools failed."));
    assert_consistent(&store, result.run_id).await;
}

#[tokio::test]
async fn iteration_budget_ends_the_run_with_a_typed_reason() {
    let turns: Vec<_> = (0..3)
        .map(|_| json_decision("inspect_data", json!({"sql": "SELECT 1 AS one"})))
        .collect();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = Agent::builder()
        .llm(ScriptedLlm::new(turns, false))
        .connection(flights())
        .store(store.clone())
        .max_iterations(2)
        .generate_title(false)
        .build()
        .unwrap();
    let mut run = agent.stream("loop forever");
    let run_id = run.run_id();
    let events = run.collect_events().await;
    let err = run.finish().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BudgetExceeded);
    match &events.last().unwrap().kind {
        EventKind::RunFinished { summary } => {
            assert_eq!(summary.status, RunStatus::BudgetExceeded);
            assert!(summary.reason.as_deref().unwrap().contains("iterations"));
        }
        other => panic!("unexpected last event {other:?}"),
    }
    assert_eq!(
        assert_consistent(&store, run_id).await,
        RunStatus::BudgetExceeded
    );
}

#[tokio::test]
async fn wall_time_budget_stops_a_stalled_model() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = Agent::builder()
        .llm(ScriptedLlm::new([ScriptedTurn::Hang], false))
        .connection(flights())
        .store(store.clone())
        .max_wall_time(Some(Duration::from_millis(300)))
        .generate_title(false)
        .build()
        .unwrap();
    let mut run = agent.stream("q");
    let run_id = run.run_id();
    let _ = run.collect_events().await;
    let err = run.finish().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BudgetExceeded);
    assert_eq!(
        assert_consistent(&store, run_id).await,
        RunStatus::BudgetExceeded
    );
}

#[tokio::test]
async fn cancelling_a_run_mid_decision_stores_a_consistent_cancelled_record() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = Agent::builder()
        .llm(ScriptedLlm::new([ScriptedTurn::Hang], false))
        .connection(flights())
        .store(store.clone())
        .generate_title(false)
        .build()
        .unwrap();
    let mut run = agent.stream("q");
    let run_id = run.run_id();
    // Wait for the run to start, then cancel.
    let first = run.next().await.unwrap();
    assert_eq!(first.type_name(), "run.started");
    tokio::time::sleep(Duration::from_millis(100)).await;
    run.cancel();
    let rest = run.collect_events().await;
    let err = run.finish().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(matches!(
        &rest.last().unwrap().kind,
        EventKind::RunFinished { summary } if summary.status == RunStatus::Cancelled
    ));
    assert_eq!(
        assert_consistent(&store, run_id).await,
        RunStatus::Cancelled
    );
}

#[tokio::test]
async fn dropping_the_stream_cancels_and_still_stores_the_run() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = Agent::builder()
        .llm(ScriptedLlm::new([ScriptedTurn::Hang], false))
        .connection(flights())
        .store(store.clone())
        .generate_title(false)
        .build()
        .unwrap();
    let mut run = agent.stream("q");
    let run_id = run.run_id();
    let _ = run.next().await;
    drop(run);
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Some(r) = store.get_run(run_id).await.unwrap()
            && r.status.is_terminal()
        {
            break;
        }
    }
    assert_eq!(
        assert_consistent(&store, run_id).await,
        RunStatus::Cancelled
    );
}

#[tokio::test]
async fn clarify_ends_the_run_awaiting_input() {
    let llm = ScriptedLlm::new(
        [json_decision(
            "clarify",
            json!({"question": "Which year do you mean?"}),
        )],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent_with(llm, store.clone());
    let result = agent.ask("How were delays last year?").await.unwrap();
    assert_eq!(result.status, RunStatus::AwaitingInput);
    assert_eq!(
        result.clarification.as_deref(),
        Some("Which year do you mean?")
    );
    assert!(result.answer.is_none());
    assert_eq!(
        assert_consistent(&store, result.run_id).await,
        RunStatus::AwaitingInput
    );
}

#[tokio::test]
async fn native_protocol_uses_tool_calls_and_answer_question_streams_the_answer() {
    let llm = ScriptedLlm::new(
        [
            ScriptedTurn::tool_call(
                "create_data",
                json!({"title": "Flights per origin", "sql": "SELECT origin, COUNT(*) AS n FROM flights GROUP BY origin ORDER BY n DESC"}),
            ),
            ScriptedTurn::tool_call("answer_question", json!({})),
            ScriptedTurn::text("EWR had the most departures."),
        ],
        true,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = Agent::builder()
        .llm(llm.clone())
        .connection(flights())
        .store(store.clone())
        .protocol(DecisionProtocol::Auto)
        .generate_title(false)
        .build()
        .unwrap();
    let mut run = agent.stream("Which airport had the most departures?");
    let events = run.collect_events().await;
    let result = run.finish().await.unwrap();
    assert_eq!(
        result.answer.as_deref(),
        Some("EWR had the most departures.")
    );
    let reqs = llm.requests();
    assert!(!reqs[0].tools.is_empty(), "native protocol sends tools");
    // The second planner call carries the tool result as a tool message.
    assert!(
        reqs[1]
            .messages
            .iter()
            .any(|m| m.role == metricchat::llm::Role::Tool)
    );
    // The answer writer saw the result rows.
    assert!(reqs[2].messages[1].content.contains("EWR"));
    let blocks: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::BlockUpsert { .. }))
        .collect();
    assert!(blocks.len() >= 2, "answer was not streamed");
    assert!(matches!(
        blocks.last().unwrap().kind,
        EventKind::BlockUpsert { done: true, .. }
    ));
    assert_consistent(&store, result.run_id).await;
}

#[tokio::test]
async fn cancelling_during_a_query_stops_the_query_and_records_it() {
    let heavy = "SELECT COUNT(*) AS n FROM flights a CROSS JOIN airports b WHERE a.distance > b.alt + a.dep_time";
    let llm = ScriptedLlm::new(
        [json_decision(
            "create_data",
            json!({"title": "Heavy", "sql": heavy}),
        )],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent_with(llm, store.clone());
    let mut run = agent.stream("count everything");
    let run_id = run.run_id();
    let mut cancelled_at = None;
    while let Some(ev) = run.next().await {
        if matches!(ev.kind, EventKind::QueryCreated { .. }) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            run.cancel();
            cancelled_at = Some(std::time::Instant::now());
        }
    }
    let err = run.finish().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    let waited = cancelled_at.expect("the query started").elapsed();
    assert!(
        waited < scaled(Duration::from_secs(3)),
        "cancellation took {waited:?} (MC_TEST_TIME_FACTOR scales the bound)"
    );
    let queries = store.queries(run_id).await.unwrap();
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0].status, QueryStatus::Error);
    assert_eq!(
        assert_consistent(&store, run_id).await,
        RunStatus::Cancelled
    );
}

#[tokio::test]
async fn a_repair_that_repeats_the_failing_sql_is_not_run_again() {
    let bad = "SELECT carrier, AVG(departure_delay) FROM flights GROUP BY carrier";
    let llm = ScriptedLlm::new(
        [
            json_decision("create_data", json!({"title": "Delay", "sql": bad})),
            ScriptedTurn::text(bad),
            ScriptedTurn::text(format!("```sql\n{}\n```", bad.to_lowercase())),
            // The model then repeats its failing call verbatim; it is not executed again.
            json_decision("create_data", json!({"title": "Delay", "sql": bad})),
            json_answer("I could not compute it."),
        ],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent_with(llm.clone(), store.clone());
    let result = agent.ask("Average delay by carrier").await.unwrap();
    let reqs = llm.requests();
    assert_eq!(
        reqs[2].temperature,
        Some(0.7),
        "the second repair is asked warmer"
    );
    assert!(
        reqs[2]
            .messages
            .last()
            .unwrap()
            .content
            .contains("identical")
    );
    let queries = store.queries(result.run_id).await.unwrap();
    assert_eq!(queries.len(), 1, "the identical SQL ran only once");
    let execs = store.tool_executions(result.run_id).await.unwrap();
    assert_eq!(execs.len(), 2);
    assert!(
        execs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("could not be repaired")
    );
    assert!(
        execs[1]
            .error
            .as_deref()
            .unwrap()
            .contains("already failed")
    );
    assert_eq!(execs[1].attempts, 0);
    assert_consistent(&store, result.run_id).await;
}

#[tokio::test]
async fn a_follow_up_after_clarify_carries_the_conversation() {
    let llm = ScriptedLlm::new(
        [
            json_decision("clarify", json!({"question": "Which airport do you mean?"})),
            json_decision(
                "create_data",
                json!({"title": "JFK flights", "sql": "SELECT COUNT(*) AS n FROM flights WHERE origin = 'JFK'"}),
            ),
            json_answer("111279 flights left JFK."),
        ],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent_with(llm.clone(), store.clone());
    let first = agent
        .ask("How many flights left the airport?")
        .await
        .unwrap();
    assert_eq!(first.status, RunStatus::AwaitingInput);
    let second = agent.ask_follow_up(first.run_id, "JFK").await.unwrap();
    assert_eq!(second.answer.as_deref(), Some("111279 flights left JFK."));
    let msgs = &llm.requests()[1].messages;
    let text: Vec<&str> = msgs.iter().map(|m| m.content.as_str()).collect();
    let q = text
        .iter()
        .position(|t| *t == "How many flights left the airport?")
        .unwrap();
    assert_eq!(text[q + 1], "Which airport do you mean?");
    assert_eq!(text[q + 2], "JFK");
    assert_consistent(&store, second.run_id).await;
    let missing = agent.follow_up(uuid::Uuid::nil(), "x").await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn an_answer_that_misquotes_the_results_is_sent_back_once() {
    let llm = ScriptedLlm::new(
        [
            json_decision(
                "create_data",
                json!({"title": "UA flights", "sql": "SELECT COUNT(*) AS n FROM flights WHERE carrier = 'UA'"}),
            ),
            json_answer("UA operated 586,655 flights in 2013."),
            json_answer("UA operated 58,665 flights in 2013."),
        ],
        false,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = agent_with(llm.clone(), store.clone());
    let mut run = agent.stream("How many flights did UA operate in 2013?");
    let events = run.collect_events().await;
    let result = run.finish().await.unwrap();
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::PlannerRetry { error, .. } if error.contains("586,655")
    )));
    let check = llm.requests()[2].messages.last().unwrap().content.clone();
    assert!(
        check.contains("58665"),
        "the results went back with the check: {check}"
    );
    assert_eq!(
        result.answer.as_deref(),
        Some("UA operated 58,665 flights in 2013.")
    );
    assert_consistent(&store, result.run_id).await;
}

/// Storage per run stays linear in its iterations: the store keeps one snapshot (the latest
/// state) per run, not one full copy of the conversation per step.
#[tokio::test]
async fn a_twelve_iteration_run_keeps_one_snapshot_in_the_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store: Arc<dyn Store> =
        Arc::new(metricchat::store::SqliteStore::open(&path).await.unwrap());
    let mut turns: Vec<_> = (0..11)
        .map(|i| {
            json_decision(
                "inspect_data",
                json!({"sql": format!("SELECT carrier, count(*) AS n FROM flights GROUP BY carrier ORDER BY n DESC LIMIT {}", i + 1)}),
            )
        })
        .collect();
    turns.push(json_answer("UA flew the most flights."));
    let agent = Agent::builder()
        .llm(ScriptedLlm::new(turns, false))
        .connection(flights())
        .store(store.clone())
        .max_iterations(12)
        .generate_title(false)
        .build()
        .unwrap();
    let mut run = agent.stream("Which carrier flew the most?");
    let run_id = run.run_id();
    let _ = run.collect_events().await;
    run.finish().await.unwrap();
    assert_eq!(
        assert_consistent(&store, run_id).await,
        RunStatus::Completed
    );
    drop(agent);
    drop(store);

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let (rows, state_bytes): (i64, i64) =
        sqlx::query_as("SELECT count(*), coalesce(sum(length(state)), 0) FROM snapshots")
            .fetch_one(&pool)
            .await
            .unwrap();
    let last: i64 =
        sqlx::query_scalar("SELECT length(state) FROM snapshots ORDER BY step DESC LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .unwrap();
    let (pages, page_size): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT page_count FROM pragma_page_count), (SELECT page_size FROM pragma_page_size)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    eprintln!(
        "12-iteration run: {rows} snapshot rows, {state_bytes} snapshot bytes (latest {last}), \
         database {} bytes",
        pages * page_size
    );
    assert_eq!(rows, 1, "one snapshot per run");
    assert_eq!(state_bytes, last);
}
