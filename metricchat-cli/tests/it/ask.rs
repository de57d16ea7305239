//! `metricchat ask`: readable output, `--json` events, `--follow-up`, and `runs list|show` over
//! what it stored.

use metricchat_testkit::{Exchange, FakeLlmServer, Reply};
use serde_json::Value;

use crate::common::{ORIGIN_ANSWER, ORIGIN_SQL, Workdir, ask_script, planner};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_streams_steps_then_prints_sql_table_and_answer() {
    let server = FakeLlmServer::start(ask_script()).await;
    let w = Workdir::with_model(&server);
    let out = w
        .run(&["ask", "Which airport had the most departures?"])
        .await;
    out.expect_code(0);
    // Piped: plain step lines on stderr, in order.
    let started = out.stderr.find("run ").expect("run line");
    let step = out.stderr.find("step 1 → create_data").expect("step line");
    let sql = out.stderr.find("SQL (attempt 1)").expect("sql line");
    let rows = out.stderr.find("✓ 3 row(s)").expect("rows line");
    let end = out.stderr.find("■ completed").expect("summary line");
    assert!(
        started < step && step < sql && sql < rows && rows < end,
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains('\u{1b}'),
        "no terminal codes when piped"
    );
    // Results on stdout: the SQL, the table, the answer, the run id.
    assert!(
        out.stdout.contains("SQL:\n  SELECT origin"),
        "{}",
        out.stdout
    );
    for cell in [
        "| origin | flights |",
        "| EWR    | 120835  |",
        "| LGA    | 104662  |",
    ] {
        assert!(out.stdout.contains(cell), "{cell} in\n{}", out.stdout);
    }
    assert!(out.stdout.contains(&format!("Answer:\n{ORIGIN_ANSWER}")));
    let run_id = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Run: "))
        .expect("run id")
        .to_string();
    server.verify().unwrap();

    // The run is in the store: `runs list` and `runs show`.
    let list = w.run(&["runs", "list"]).await;
    list.expect_code(0);
    assert!(
        list.stdout.contains(&run_id) && list.stdout.contains("completed"),
        "{}",
        list.stdout
    );
    let listed: Value =
        serde_json::from_str(&w.run(&["runs", "list", "--json"]).await.stdout).unwrap();
    assert_eq!(listed[0]["id"], run_id.as_str());
    assert_eq!(listed[0]["status"], "completed");
    let show = w.run(&["runs", "show", &run_id]).await;
    show.expect_code(0);
    assert!(
        show.stdout
            .contains("Question: Which airport had the most departures?")
    );
    assert!(
        show.stdout.contains("step 1 → create_data"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("query [success]") && show.stdout.contains("→ 3 row(s)"));
    assert!(show.stdout.contains(ORIGIN_ANSWER));
    let shown: Value =
        serde_json::from_str(&w.run(&["runs", "show", &run_id, "--json"]).await.stdout).unwrap();
    assert_eq!(shown["run"]["status"], "completed");
    assert_eq!(shown["queries"][0]["row_count"], 3);
    // An unknown run: exit 5.
    let missing = w
        .run(&["runs", "show", "00000000-0000-0000-0000-000000000000"])
        .await;
    missing.expect_code(5);
    assert!(missing.stderr.contains("run not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_json_writes_every_event_as_a_json_line() {
    let server = FakeLlmServer::start(ask_script()).await;
    let w = Workdir::with_model(&server);
    let out = w
        .run(&["ask", "--json", "Which airport had the most departures?"])
        .await;
    out.expect_code(0);
    let events: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"run.started"));
    assert_eq!(types.last(), Some(&"run.finished"));
    for t in [
        "decision.final",
        "tool.started",
        "query.created",
        "query.result",
        "block.upsert",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    let created = events
        .iter()
        .find(|e| e["type"] == "query.created")
        .unwrap();
    assert!(
        created["sql"].as_str().unwrap().starts_with(ORIGIN_SQL),
        "{created}"
    );
    let result = events.iter().find(|e| e["type"] == "query.result").unwrap();
    assert_eq!(result["row_count"], 3);
    assert_eq!(result["preview"][0]["origin"], "EWR");
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq increases: {seqs:?}"
    );
    // Nothing but JSON on stdout; no step lines on stderr.
    assert!(!out.stderr.contains("step 1"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_up_continues_the_conversation() {
    let mut script = ask_script();
    // The follow-up's planner request carries the first answer as history.
    script.push(Exchange::when(
        metricchat_testkit::Matcher::All {
            matchers: vec![
                planner(),
                metricchat_testkit::Matcher::body_contains("And the fewest?"),
            ],
        },
        Reply::text("LGA had the fewest departures of the three."),
    ));
    let server = FakeLlmServer::start(script).await;
    let w = Workdir::with_model(&server);
    let first = w
        .run(&["ask", "Which airport had the most departures?"])
        .await;
    first.expect_code(0);
    let run_id = first
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Run: "))
        .unwrap()
        .to_string();
    let second = w
        .run(&["ask", "--follow-up", &run_id, "And the fewest?"])
        .await;
    second.expect_code(0);
    assert!(
        second.stdout.contains("LGA had the fewest departures"),
        "{}",
        second.stdout
    );
    let last = server.requests().last().cloned().unwrap().to_string();
    assert!(
        last.contains(ORIGIN_ANSWER),
        "the history reached the model"
    );
    // A follow-up of a run that does not exist: exit 5.
    let bad = w
        .run(&[
            "ask",
            "--follow-up",
            "00000000-0000-0000-0000-000000000000",
            "x",
        ])
        .await;
    bad.expect_code(5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_model_is_a_failed_run() {
    let server = FakeLlmServer::start(vec![Exchange::any(Reply::status(401))]).await;
    let w = Workdir::with_model(&server);
    let out = w
        .run(&["ask", "Which airport had the most departures?"])
        .await;
    out.expect_code(1);
    assert!(
        out.stderr.contains("401") || out.stderr.contains("API key"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_without_a_model_is_a_usage_error() {
    let w = Workdir::new();
    let out = w.run(&["ask", "anything"]).await;
    out.expect_code(2);
    assert!(
        out.stderr.contains("no model is configured"),
        "{}",
        out.stderr
    );
    // The environment the quickstart reads is enough (the file only sets behaviour).
    w.write_config("protocol = \"native_tools\"\ngenerate_title = false\nanswer_checks = false\n");
    let server = FakeLlmServer::start(ask_script()).await;
    let mut cmd = w.command(&["ask", "Which airport had the most departures?"]);
    cmd.env("MC_LLM_BASE_URL", server.base_url())
        .env("MC_LLM_MODEL", "scripted-gpt")
        .env("MC_LLM_SUPPORTS_TOOLS", "true");
    let out = crate::common::Run::from(
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap(),
    );
    out.expect_code(0);
    assert!(
        out.stdout.contains(ORIGIN_ANSWER),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}
