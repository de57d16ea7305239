//! The public eval suites (`evals/*.yaml`) through the eval harness, with no model:
//!
//! - **Tool-calling path.** A scripted tool-calling model (the fake OpenAI server over real
//!   HTTP) calls `create_data` with each case's reference SQL — or `clarify` where the case
//!   expects a question back — and answers with the expected values. Every case must pass:
//!   this proves the harness, the suites' reference SQL through the guard on each engine
//!   (DataFusion, SQLite, PostgreSQL), and the native tool-calling loop, on every question.
//! - **Recorded local model.** Where `evals/cassettes/<run>.jsonl` and
//!   `evals/results/<run>.json` exist (recorded with `cargo run --example eval -- … --record`
//!   against the local Qwen model), the suite replays from the cassette and must not regress
//!   against the committed report; a case whose prompt changed no longer matches its recording
//!   and fails, which is the point: behaviour changed, record again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use metricchat::eval::{EvalReport, Evaluator, ReferenceSql, Suite};
use metricchat::llm::cassette::{Cassette, CassetteMode};
use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::planner::DecisionProtocol;
use metricchat::{Agent, ConnectorRef};
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply, service_url_or_skip};
use serde_json::json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn suite(name: &str) -> Suite {
    Suite::from_path(root().join("evals").join(format!("{name}.yaml"))).unwrap()
}

/// The question as it appears inside a JSON request body.
fn in_json(text: &str) -> String {
    let s = serde_json::to_string(text).unwrap();
    s[1..s.len() - 1].to_string()
}

/// A tool-calling model that knows every reference answer.
fn script(suite: &Suite, conn: &ConnectorRef) -> Vec<Exchange> {
    let info = conn.info();
    let has_tool_result = || Matcher::body_contains("\"role\":\"tool\"");
    let mut out = Vec::new();
    for case in &suite.cases {
        let asks = || Matcher::body_contains(in_json(&case.question));
        let first = if case.expect.clarify {
            Reply::tool_call(
                "clarify",
                json!({"question": "Which measure do you mean: the most flights, the least delay, or something else?"}),
            )
        } else {
            let sql = case
                .expect
                .sql
                .as_ref()
                .and_then(|s: &ReferenceSql| s.for_target(&info.name, info.dialect))
                .unwrap_or("SELECT 1")
                .to_string();
            Reply::tool_call("create_data", json!({"title": case.id, "sql": sql}))
        };
        out.push(Exchange::when(
            Matcher::All {
                matchers: vec![
                    asks(),
                    Matcher::Not {
                        matcher: Box::new(has_tool_result()),
                    },
                ],
            },
            first,
        ));
        let answer = if case.expect.answer_contains.is_empty() {
            "Here is the result.".to_string()
        } else {
            format!("The answer: {}.", case.expect.answer_contains.join("; "))
        };
        out.push(Exchange::when(
            Matcher::All {
                matchers: vec![asks(), has_tool_result()],
            },
            Reply::text(answer),
        ));
    }
    out
}

async fn tool_calling_path(suite: Suite, conn: ConnectorRef) {
    let server = FakeLlmServer::start(script(&suite, &conn)).await;
    let llm = OpenAiClient::new(
        OpenAiConfig::new("scripted-tool-caller").with_base_url(server.base_url()),
    )
    .unwrap();
    let agent = Agent::builder()
        .llm(llm)
        .connection(conn)
        .protocol(DecisionProtocol::NativeTools)
        .generate_title(false)
        .build()
        .unwrap();
    let report = Evaluator::new(agent.clone())
        .concurrency(4)
        .timeout(Duration::from_secs(120))
        .label("scripted tool-calling model")
        .run(&suite)
        .await
        .unwrap();
    // The report is kept in the agent's store and reads back whole.
    agent
        .store()
        .put_eval_run(&report.to_record().unwrap())
        .await
        .unwrap();
    let stored = agent
        .store()
        .list_eval_runs(Some(&suite.name), 5)
        .await
        .unwrap();
    assert_eq!(
        EvalReport::from_record(&stored[0]).unwrap(),
        report,
        "stored report differs"
    );
    let failed: Vec<String> = report
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            format!(
                "{} ({:?}): {}",
                c.id,
                c.failure,
                c.checks
                    .iter()
                    .filter(|k| !k.passed)
                    .map(|k| k.detail.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} cases failed on the tool-calling path:\n{}",
        failed.len(),
        report.cases.len(),
        failed.join("\n")
    );
    assert!(report.cases.len() >= suite.cases.len());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flights_suite_passes_on_the_tool_calling_path() {
    let s = suite("flights");
    assert!(s.cases.len() >= 60, "flights has {} cases", s.cases.len());
    tool_calling_path(
        s,
        metricchat::connectors::flights_sample("flights").unwrap(),
    )
    .await;
}

fn chinook_sqlite() -> ConnectorRef {
    let path = root().join("data/chinook/chinook.sqlite");
    metricchat::connect(&format!("sqlite://{}?name=chinook", path.display())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinook_suite_passes_on_sqlite_on_the_tool_calling_path() {
    let s = suite("chinook");
    assert!(s.cases.len() >= 40, "chinook has {} cases", s.cases.len());
    tool_calling_path(s, chinook_sqlite()).await;
}

/// The `chinook` database on the test PostgreSQL server, loaded from `data/chinook` if missing.
fn chinook_postgres_url() -> Option<String> {
    let base = service_url_or_skip("MC_TEST_POSTGRES_URL", "the chinook suite on PostgreSQL")?;
    let parsed = url::Url::parse(&base).unwrap();
    let status = std::process::Command::new("bash")
        .arg(root().join("scripts/evals/load_chinook_pg.sh"))
        .env("PGHOST", parsed.host_str().unwrap_or("127.0.0.1"))
        .env("PGPORT", parsed.port().unwrap_or(5432).to_string())
        .env(
            "PGUSER",
            if parsed.username().is_empty() {
                "postgres"
            } else {
                parsed.username()
            },
        )
        .env(
            "CHINOOK_PG_SQL",
            root().join("data/chinook/chinook_postgres.sql.gz"),
        )
        .status()
        .expect("run scripts/evals/load_chinook_pg.sh");
    assert!(status.success(), "loading chinook into PostgreSQL failed");
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path("/chinook");
    url.query_pairs_mut()
        .append_pair("name", "chinook")
        .append_pair("allow_privileged_login", "true");
    Some(url.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinook_suite_passes_on_postgres_on_the_tool_calling_path() {
    let Some(url) = chinook_postgres_url() else {
        return;
    };
    tool_calling_path(suite("chinook"), metricchat::connect(&url).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_headers_suite_passes_on_the_tool_calling_path() {
    let s = suite("csv_headers");
    let csv = std::fs::read_dir(root().join("evals/data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "csv"))
        .expect("a CSV file in evals/data");
    let conn = metricchat::connect(&format!("file://{}?name=sales", csv.display())).unwrap();
    tool_calling_path(s, conn).await;
}

/// Replays a recorded local-model run and fails on any regression against its committed
/// report. A run named `….sql_first` was recorded with the SQL-first protocol; the others with
/// the default one.
async fn replay(run: &str, suite_name: &str, conn: ConnectorRef) {
    let cassette = root().join(format!("evals/cassettes/{run}.jsonl"));
    let committed = root().join(format!("evals/results/{run}.json"));
    if !cassette.exists() || !committed.exists() {
        eprintln!(
            "\n*** SKIPPED replay of `{run}`: no recorded cassette/report in evals/ ({}) ***\n",
            cassette.display()
        );
        return;
    }
    let before = EvalReport::from_json(&std::fs::read_to_string(&committed).unwrap()).unwrap();
    let llm = Cassette::open(&cassette, CassetteMode::Replay)
        .unwrap()
        .wrap(
            OpenAiClient::new(
                OpenAiConfig::new(before.model.clone().unwrap_or_default())
                    .with_base_url("http://127.0.0.1:9/v1"),
            )
            .unwrap(),
        );
    let mut builder = Agent::builder()
        .llm(llm)
        .connection(conn)
        .generate_title(false);
    if run.ends_with(".sql_first") {
        builder = builder.protocol(DecisionProtocol::SqlFirst);
    }
    let agent = builder.build().unwrap();
    let ids: Vec<String> = before.cases.iter().map(|c| c.id.clone()).collect();
    let mut evaluator = Evaluator::new(agent).concurrency(4).only(ids);
    if before.mode == metricchat::eval::EvalMode::Baseline {
        evaluator = evaluator.mode(metricchat::eval::EvalMode::Baseline);
    }
    let report = evaluator.run(&suite(suite_name)).await.unwrap();
    let cmp = report.compare(&before);
    eprintln!("{}", cmp.to_markdown());
    // What went wrong in each failing case, for the assertion message (a replay that errors
    // under load should say why, not only that it did).
    let why: Vec<String> = report
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            format!(
                "- `{}`: {:?}, {} it, {:.1} s, error: {}",
                c.id,
                c.failure,
                c.iterations,
                c.seconds,
                c.error.as_deref().unwrap_or("none")
            )
        })
        .collect();
    assert!(
        !cmp.has_regressions(),
        "the replayed `{run}` run regressed:\n{}\nfailing cases:\n{}",
        cmp.to_markdown(),
        why.join("\n")
    );
    // A replay is deterministic: every case ends as it did when it was recorded (a request the
    // cassette does not hold fails its case, so a changed prompt shows here too).
    for (a, b) in report.cases.iter().zip(&before.cases) {
        assert_eq!(
            (&a.id, a.passed, a.failure, &a.sql),
            (&b.id, b.passed, b.failure, &b.sql),
            "`{run}` case `{}` no longer replays as recorded (error: {:?}); record it again \
             with `cargo run --example eval -- … --record`",
            a.id,
            a.error
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_local_model_runs_do_not_regress() {
    for run in ["flights.qwen.sql_first", "flights.qwen.baseline"] {
        replay(
            run,
            "flights",
            metricchat::connectors::flights_sample("flights").unwrap(),
        )
        .await;
    }
    for run in ["chinook-sqlite.qwen", "chinook-sqlite.qwen.baseline"] {
        replay(run, "chinook", chinook_sqlite()).await;
    }
}
