//! Meaning checks before an answer: a scripted model (the fake OpenAI server over HTTP) makes
//! the mistakes small models make, and the agent sends back what to fix — with the values the
//! data really holds when a text filter matched nothing.

use metricchat::Agent;
use metricchat::events::EventKind;
use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::planner::DecisionProtocol;
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::json;

use crate::common::*;

fn agent(server: &FakeLlmServer) -> Agent {
    Agent::builder()
        .llm(
            OpenAiClient::new(OpenAiConfig::new("scripted").with_base_url(server.base_url()))
                .unwrap(),
        )
        .connection(flights())
        .protocol(DecisionProtocol::NativeTools)
        .generate_title(false)
        .build()
        .unwrap()
}

fn check_sent(text: &str) -> Matcher {
    Matcher::body_contains(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_that_matches_nothing_gets_the_values_the_data_holds() {
    let wrong = "SELECT COUNT(*) AS flights FROM flights f JOIN airlines a ON a.carrier = f.carrier \
                 WHERE a.name = 'United Airlines'";
    let right = "SELECT COUNT(*) AS flights FROM flights f JOIN airlines a ON a.carrier = f.carrier \
                 WHERE a.name = 'United Air Lines Inc.'";
    let server = FakeLlmServer::start(vec![
        // After the check, the values are in the conversation: the model fixes its filter.
        Exchange::when(
            Matcher::All {
                matchers: vec![
                    check_sent("matched no rows"),
                    check_sent("United Air Lines Inc."),
                    Matcher::Not {
                        matcher: Box::new(check_sent("58665")),
                    },
                ],
            },
            Reply::tool_call(
                "create_data",
                json!({"title": "United flights", "sql": right}),
            ),
        ),
        Exchange::when(
            check_sent("58665"),
            Reply::text("United Air Lines flew 58,665 flights from New York in 2013."),
        ),
        Exchange::when(
            Matcher::Not {
                matcher: Box::new(check_sent("\"role\":\"tool\"")),
            },
            Reply::tool_call(
                "create_data",
                json!({"title": "United flights", "sql": wrong}),
            ),
        ),
        Exchange::any(Reply::text(
            "United Airlines flew no flights from New York in 2013.",
        )),
    ])
    .await;
    let mut run = agent(&server).stream("How many flights did United Airlines fly in 2013?");
    let events = run.collect_events().await;
    let result = run.finish().await.unwrap();
    // The check rides on the create_data observation: no extra model call is spent on it.
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::PlannerRetry { .. }))
    );
    let sent: Vec<String> = server.requests().iter().map(|r| r.to_string()).collect();
    assert_eq!(sent.len(), 3, "one request per step: {sent:#?}");
    assert!(sent[1].contains("matched no rows") && sent[1].contains("United Air Lines Inc."));
    assert!(result.sql().unwrap().starts_with(right));
    assert!(result.answer.unwrap().contains("58,665"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_superlative_sorted_the_wrong_way_is_sent_back_once() {
    let asc =
        "SELECT carrier, AVG(dep_delay) AS d FROM flights GROUP BY carrier ORDER BY d ASC LIMIT 1";
    let desc =
        "SELECT carrier, AVG(dep_delay) AS d FROM flights GROUP BY carrier ORDER BY d DESC LIMIT 1";
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            Matcher::All {
                matchers: vec![
                    check_sent("sorts ascending"),
                    Matcher::Not {
                        matcher: Box::new(check_sent("F9")),
                    },
                ],
            },
            Reply::tool_call(
                "create_data",
                json!({"title": "Worst carrier", "sql": desc}),
            ),
        ),
        Exchange::when(
            check_sent("F9"),
            Reply::text("F9 had the worst average delay, 20.22 minutes."),
        ),
        Exchange::when(
            Matcher::Not {
                matcher: Box::new(check_sent("\"role\":\"tool\"")),
            },
            Reply::tool_call("create_data", json!({"title": "Worst carrier", "sql": asc})),
        ),
        Exchange::any(Reply::text("US had the worst average delay, 3.78 minutes.")),
    ])
    .await;
    let result = agent(&server)
        .ask("Which carrier had the highest average departure delay?")
        .await
        .unwrap();
    assert_eq!(result.sql(), Some(desc));
    assert!(result.answer.as_deref().unwrap().contains("F9"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_answer_is_not_questioned() {
    let sql = "SELECT COUNT(*) AS n FROM flights WHERE origin = 'JFK'";
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            Matcher::Not {
                matcher: Box::new(check_sent("\"role\":\"tool\"")),
            },
            Reply::tool_call("create_data", json!({"title": "JFK", "sql": sql})),
        ),
        Exchange::any(Reply::text("111,279 flights left JFK.")),
    ])
    .await;
    let mut run = agent(&server).stream("How many flights left JFK?");
    let events = run.collect_events().await;
    run.finish().await.unwrap();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::PlannerRetry { .. })),
        "a right answer was sent back"
    );
    assert_eq!(server.requests().len(), 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_call_is_not_run_again_and_an_exploratory_result_backs_the_answer() {
    let sql = "SELECT COUNT(*) AS n FROM flights WHERE origin = 'LGA'";
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            check_sent("you just ran exactly this call"),
            Reply::text("104,662 flights left LGA."),
        ),
        Exchange::when(
            Matcher::Not {
                matcher: Box::new(check_sent("\"role\":\"tool\"")),
            },
            Reply::tool_call("inspect_data", json!({"sql": sql})),
        ),
        // The weak-model loop: the same successful call again.
        Exchange::when(
            check_sent("104662"),
            Reply::tool_call("inspect_data", json!({"sql": sql})),
        ),
    ])
    .await;
    let result = agent(&server)
        .ask("How many flights left LGA?")
        .await
        .unwrap();
    server.verify().unwrap();
    // No create_data ran; the exploratory query the answer came from is the dataset.
    let ds = result.dataset().expect("the data behind the answer");
    assert!(ds.sql.starts_with(sql) && ds.title.is_none());
    assert_eq!(ds.data.num_rows(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_filtered_on_a_code_column_is_found_in_the_table_that_holds_it() {
    // The model filters the destination code column on an airport's name; nothing like it is
    // in that column, and the check says which row of which table holds it (with its code).
    let wrong =
        "SELECT COUNT(*) AS flights FROM flights WHERE dest = 'Hartsfield Jackson Atlanta Intl'";
    let right = "SELECT COUNT(*) AS flights FROM flights WHERE dest = 'ATL'";
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            Matcher::All {
                matchers: vec![
                    check_sent("matched no rows"),
                    check_sent("rows of another table hold"),
                    check_sent("faa = 'ATL'"),
                    Matcher::Not {
                        matcher: Box::new(check_sent("17215")),
                    },
                ],
            },
            Reply::tool_call(
                "create_data",
                json!({"title": "Flights to ATL", "sql": right}),
            ),
        ),
        Exchange::when(
            check_sent("17215"),
            Reply::text("17,215 flights went to Atlanta in 2013."),
        ),
        Exchange::when(
            Matcher::Not {
                matcher: Box::new(check_sent("\"role\":\"tool\"")),
            },
            Reply::tool_call(
                "create_data",
                json!({"title": "Flights to ATL", "sql": wrong}),
            ),
        ),
        Exchange::any(Reply::text("No flights went there.")),
    ])
    .await;
    let result = agent(&server)
        .ask("How many flights to Hartsfield Jackson Atlanta Intl were there in 2013?")
        .await
        .unwrap();
    let sent: Vec<String> = server.requests().iter().map(|r| r.to_string()).collect();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert!(
        sent[1].contains("is not a value of flights.dest"),
        "{}",
        sent[1]
    );
    assert!(result.sql().unwrap().starts_with(right));
    assert!(result.answer.unwrap().contains("17,215"));
    server.shutdown().await;
}
