//! SQL candidates and voting (`sql_candidates`), end to end: the SQL-first protocol over the
//! fake OpenAI server (real HTTP) on the bundled flights sample. The scripted SQL writer makes
//! a one-off mistake in its greedy candidate and gets it right in the sampled ones; the result
//! most candidates agree on becomes the dataset, and the answer sees only it.

use metricchat::Agent;
use metricchat::events::EventKind;
use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::planner::DecisionProtocol;
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::json;

use crate::common::*;

fn agent(server: &FakeLlmServer, candidates: u32) -> Agent {
    Agent::builder()
        .llm(
            OpenAiClient::new(OpenAiConfig::new("scripted").with_base_url(server.base_url()))
                .unwrap(),
        )
        .connection(flights())
        .protocol(DecisionProtocol::SqlFirst)
        .sql_candidates(candidates)
        .generate_title(false)
        .build()
        .unwrap()
}

/// A request of the SQL writer: the greedy candidate (temperature 0) or a sampled one.
fn sql_writer(greedy: bool) -> Matcher {
    let zero = Matcher::pointer("/temperature", json!(0.0));
    Matcher::All {
        matchers: vec![
            Matcher::body_contains("You write one read-only SQL query"),
            if greedy {
                zero
            } else {
                Matcher::Not {
                    matcher: Box::new(zero),
                }
            },
        ],
    }
}

/// The answer writer's reply.
fn answer() -> Exchange {
    Exchange::when(
        Matcher::body_contains("You are a data analyst"),
        Reply::text("111,279 flights left JFK in 2013."),
    )
}

fn sql(text: &str) -> Reply {
    Reply::text(format!("```sql\n{text}\n```"))
}

const QUESTION: &str = "How many flights left JFK in 2013?";
/// The greedy candidate's slip: the wrong airport.
const WRONG: &str = "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'EWR'";
const RIGHT: &str = "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'";
/// Another way to the same number (other column name, other filter form).
const RIGHT_TOO: &str = "SELECT COUNT(1) AS n FROM flights WHERE origin IN ('JFK') AND year = 2013";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_most_candidates_agree_on_is_the_dataset() {
    let server = FakeLlmServer::start(vec![
        Exchange::when(sql_writer(true), sql(WRONG)),
        Exchange::when(sql_writer(false), sql(RIGHT)),
        Exchange::when(sql_writer(false), sql(RIGHT_TOO)),
        answer(),
    ])
    .await;
    let mut run = agent(&server, 3).stream(QUESTION);
    let events = run.collect_events().await;
    let result = run.finish().await.unwrap();
    server.verify().unwrap();
    // Three candidates ran; the two that agree win over the greedy one.
    let ran: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::QueryCreated { sql, .. } => Some(sql.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ran.len(), 3, "{ran:#?}");
    assert_eq!(result.datasets.len(), 1, "only the winner is a dataset");
    assert!(
        result.sql().unwrap().starts_with(RIGHT),
        "{:?}",
        result.sql()
    );
    assert_eq!(result.datasets[0].data.num_rows(), 1);
    // The answer writer saw the winner's result, not the losing candidate's.
    let answer_request = server
        .requests()
        .into_iter()
        .map(|r| r.to_string())
        .find(|r| r.contains("You are a data analyst"))
        .unwrap();
    assert!(answer_request.contains("111279"), "{answer_request}");
    assert!(!answer_request.contains("120835"), "{answer_request}");
    assert!(result.answer.unwrap().contains("111,279"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_of_nothing_gets_no_vote() {
    // Two candidates whose filters match nothing agree on 0; a count of nothing says nothing,
    // so the one candidate with a real result wins.
    let nothing = "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'John F Kennedy'";
    let nothing_too = "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'Kennedy'";
    let server = FakeLlmServer::start(vec![
        Exchange::when(sql_writer(true), sql(nothing)),
        Exchange::when(sql_writer(false), sql(nothing_too)),
        Exchange::when(sql_writer(false), sql(RIGHT)),
        answer(),
    ])
    .await;
    let result = agent(&server, 3).ask(QUESTION).await.unwrap();
    server.verify().unwrap();
    assert!(
        result.sql().unwrap().starts_with(RIGHT),
        "{:?}",
        result.sql()
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agreeing_candidates_of_three_end_the_vote() {
    // The greedy candidate and the first sampled one agree: a majority of three, so the
    // third is never asked for (the script has no reply for it; a request would be unexpected).
    let server = FakeLlmServer::start(vec![
        Exchange::when(sql_writer(true), sql(RIGHT)),
        Exchange::when(sql_writer(false), sql(RIGHT_TOO)),
        answer(),
    ])
    .await;
    let result = agent(&server, 3).ask(QUESTION).await.unwrap();
    server.verify().unwrap();
    // A tie of equals goes to the greedy candidate.
    assert!(
        result.sql().unwrap().starts_with(RIGHT),
        "{:?}",
        result.sql()
    );
    assert_eq!(result.datasets.len(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_candidate_nothing_is_sampled() {
    let server =
        FakeLlmServer::start(vec![Exchange::when(sql_writer(true), sql(RIGHT)), answer()]).await;
    let result = agent(&server, 1).ask(QUESTION).await.unwrap();
    server.verify().unwrap();
    assert!(result.sql().unwrap().starts_with(RIGHT));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_the_model_fails_to_write_is_no_vote() {
    // The first sampled candidate's request fails (a 400: not retried); the vote goes on with
    // the next one, which agrees with the greedy candidate.
    let server = FakeLlmServer::start(vec![
        Exchange::when(sql_writer(true), sql(RIGHT)),
        Exchange::when(sql_writer(false), Reply::status(400)),
        Exchange::when(sql_writer(false), sql(RIGHT_TOO)),
        answer(),
    ])
    .await;
    let result = agent(&server, 3).ask(QUESTION).await.unwrap();
    server.verify().unwrap();
    assert!(
        result.sql().unwrap().starts_with(RIGHT),
        "{:?}",
        result.sql()
    );
    assert_eq!(result.datasets.len(), 1);
    assert!(result.answer.unwrap().contains("111,279"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_candidate_fails_the_greedy_ones_error_is_repaired() {
    // No candidate runs: the greedy one names a table that does not exist (twice: the same SQL
    // is one candidate of weight two), the other a column. The repair gets the greedy SQL and
    // its error, and its correction is the dataset.
    let missing_table = "SELECT COUNT(*) AS flights FROM flight WHERE origin = 'JFK'";
    let missing_column = "SELECT COUNT(*) AS flights FROM flights WHERE airport = 'JFK'";
    let repair = Matcher::All {
        matchers: vec![sql_writer(true), Matcher::body_contains("This SQL failed")],
    };
    let server = FakeLlmServer::start(vec![
        Exchange::when(repair, sql(RIGHT)),
        Exchange::when(sql_writer(true), sql(missing_table)),
        Exchange::when(sql_writer(false), sql(missing_table)),
        Exchange::when(sql_writer(false), sql(missing_column)),
        answer(),
    ])
    .await;
    let mut run = agent(&server, 3).stream(QUESTION);
    let events = run.collect_events().await;
    let result = run.finish().await.unwrap();
    server.verify().unwrap();
    let ran: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::QueryCreated { sql, .. } => Some(sql.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        ran.len(),
        3,
        "two distinct failed candidates and the repair: {ran:#?}"
    );
    let repair_request = server
        .requests()
        .into_iter()
        .map(|r| r.to_string())
        .find(|r| r.contains("This SQL failed"))
        .unwrap();
    assert!(
        repair_request.contains("FROM flight WHERE"),
        "{repair_request}"
    );
    assert!(
        result.sql().unwrap().starts_with(RIGHT),
        "{:?}",
        result.sql()
    );
    assert_eq!(result.datasets.len(), 1);
    assert!(result.answer.unwrap().contains("111,279"));
    server.shutdown().await;
}
