//! `metricchat ask --approve prompt|all|never` with an `approval` setting: a statement whose
//! estimate exceeds it (DataFusion's plan statistics on the flights sample; `require_estimate`
//! asks too when a plan has no row figure) waits for a decision, which the CLI takes from the
//! terminal (stdin), approves, or denies; a denial reaches the model as the tool's error and the
//! run still answers (exit 0).

use std::io::Write;
use std::process::Stdio;

use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::{Value, json};

use crate::common::{ORIGIN_SQL, Run, Workdir, model_config, planner};

const QUESTION: &str = "Which airport had the most departures?";
const APPROVED_ANSWER: &str = "EWR had the most departures.";
const DENIED_ANSWER: &str = "I could not look: running the query was not approved.";

/// Every statement needs a decision: its estimate is above one row, or it has none.
const APPROVAL: &str = "\n[approval]\nmax_rows = 1\nrequire_estimate = true\ntimeout = \"60s\"\n";

/// The planner runs [`ORIGIN_SQL`]; its next request then holds `seen` (the result, or the
/// denial), and it answers `answer`.
fn script(seen: &str, answer: &str) -> Vec<Exchange> {
    vec![
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "Departures by origin", "sql": ORIGIN_SQL}),
            ),
        ),
        Exchange::when(
            Matcher::All {
                matchers: vec![planner(), Matcher::body_contains(seen)],
            },
            Reply::text(answer),
        ),
    ]
}

/// A workdir whose model is `server` and whose config has [`APPROVAL`].
fn workdir(server: &FakeLlmServer) -> Workdir {
    let w = Workdir::new();
    w.write_config(&format!("{}{APPROVAL}", model_config(server)));
    w
}

/// `metricchat ARGS` with `input` on stdin (a pipe, closed after it).
async fn run_with_stdin(w: &Workdir, args: &[&str], input: &'static str) -> Run {
    let mut cmd = w.command(args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    Run::from(out)
}

/// The text of the model's last request (the one after the statement was decided).
fn last_request(server: &FakeLlmServer) -> String {
    server.requests().last().cloned().unwrap().to_string()
}

fn assert_has(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(n), "{n:?} in\n{haystack}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_all_runs_the_statement_and_says_so() {
    let server = FakeLlmServer::start(script("120835", APPROVED_ANSWER)).await;
    let w = workdir(&server);
    let out = w.run(&["ask", "--approve", "all", QUESTION]).await;
    out.expect_code(0);
    assert_has(
        &out.stderr,
        &[
            "⏸ waiting for approval on flights:",
            "approving it (--approve all): SELECT origin",
            "✓ approved (by host)",
            "✓ 3 row(s)",
        ],
    );
    let waiting = out.stderr.find("waiting for approval").unwrap();
    let approved = out.stderr.find("✓ approved").unwrap();
    let rows = out.stderr.find("✓ 3 row(s)").unwrap();
    assert!(waiting < approved && approved < rows, "{}", out.stderr);
    assert_has(
        &out.stdout,
        &[
            "| EWR    | 120835  |",
            &format!("Answer:\n{APPROVED_ANSWER}"),
        ],
    );
    server.verify().unwrap();

    // The same with --json: the approval events are on stdout with the rest.
    let server = FakeLlmServer::start(script("120835", APPROVED_ANSWER)).await;
    let w = workdir(&server);
    let out = w
        .run(&["ask", "--json", "--approve", "all", QUESTION])
        .await;
    out.expect_code(0);
    let events: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |t: &str| events.iter().find(|e| e["type"] == t).cloned().unwrap();
    let requested = of("approval.requested");
    let resolved = of("approval.resolved");
    assert_eq!(requested["connection"], "flights");
    assert!(requested["sql"].as_str().unwrap().starts_with(ORIGIN_SQL));
    assert!(
        requested["reason"].as_str().unwrap().contains("max_rows 1")
            || requested["reason"]
                .as_str()
                .unwrap()
                .contains("require_estimate"),
        "{requested}"
    );
    assert_eq!(resolved["approval_id"], requested["approval_id"]);
    assert_eq!(resolved["approved"], true);
    assert_eq!(resolved["by"], "host");
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    let at = |t: &str| types.iter().position(|x| *x == t).unwrap();
    assert!(at("query.created") < at("approval.requested"));
    assert!(at("approval.resolved") < at("query.result"));
    // The notice still goes to stderr, so an automatic approval is never silent.
    assert_has(&out.stderr, &["approving it (--approve all)"]);
    server.verify().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_never_denies_and_the_model_hears_why() {
    let server = FakeLlmServer::start(script("not approved", DENIED_ANSWER)).await;
    let w = workdir(&server);
    let out = w.run(&["ask", "--approve", "never", QUESTION]).await;
    // A denied statement is not an error of the CLI: the agent answered.
    out.expect_code(0);
    assert_has(
        &out.stderr,
        &[
            "denying it: no one to approve: run with --approve prompt|all",
            "✗ not approved (by host): no one to approve",
        ],
    );
    assert!(!out.stderr.contains("row(s) in"), "nothing ran");
    assert_has(&out.stdout, &[&format!("Answer:\n{DENIED_ANSWER}")]);
    assert_has(
        &last_request(&server),
        &["not approved: no one to approve: run with --approve prompt|all"],
    );
    server.verify().unwrap();

    // Without --approve and without a terminal on stdin, the same: denied at once, not after
    // the policy's timeout.
    let server = FakeLlmServer::start(script("not approved", DENIED_ANSWER)).await;
    let w = workdir(&server);
    let started = std::time::Instant::now();
    let out = w.run(&["ask", "--json", QUESTION]).await;
    out.expect_code(0);
    assert!(started.elapsed() < std::time::Duration::from_secs(50));
    let resolved: Value = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"] == "approval.resolved")
        .unwrap();
    assert_eq!(resolved["approved"], false);
    assert_eq!(
        resolved["reason"],
        "no one to approve: run with --approve prompt|all"
    );
    assert_has(&out.stderr, &["denying it: no one to approve"]);
    server.verify().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_prompt_reads_yes_from_stdin() {
    let server = FakeLlmServer::start(script("120835", APPROVED_ANSWER)).await;
    let w = workdir(&server);
    let out = run_with_stdin(&w, &["ask", "--approve", "prompt", QUESTION], "y\n").await;
    out.expect_code(0);
    assert_has(
        &out.stderr,
        &[
            "Approval needed: ",
            "connection: flights",
            "estimate:   ",
            "    SELECT origin, COUNT(*) AS flights FROM flights",
            "Run this statement? [y/N] (no answer within 1m denies it) y",
            "✓ approved (by host)",
            "✓ 3 row(s)",
        ],
    );
    assert_has(&out.stdout, &[&format!("Answer:\n{APPROVED_ANSWER}")]);
    server.verify().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_prompt_reads_no_and_a_reason_from_stdin() {
    let server = FakeLlmServer::start(script("not approved: Too expensive", DENIED_ANSWER)).await;
    let w = workdir(&server);
    let out = run_with_stdin(
        &w,
        &["ask", "--approve", "prompt", QUESTION],
        "n\nToo expensive\n",
    )
    .await;
    out.expect_code(0);
    assert_has(
        &out.stderr,
        &[
            "Run this statement? [y/N]",
            "Why not? (optional, the agent reads it) Too expensive",
            "✗ not approved (by host): Too expensive",
        ],
    );
    assert!(!out.stderr.contains("row(s) in"), "nothing ran");
    assert_has(&out.stdout, &[&format!("Answer:\n{DENIED_ANSWER}")]);
    assert_has(&last_request(&server), &["not approved: Too expensive"]);
    server.verify().unwrap();

    // Stdin closed before an answer: denied, saying so.
    let server = FakeLlmServer::start(script("not approved", DENIED_ANSWER)).await;
    let w = workdir(&server);
    let out = run_with_stdin(&w, &["ask", "--approve", "prompt", QUESTION], "").await;
    out.expect_code(0);
    assert_has(
        &out.stderr,
        &["✗ not approved (by host): no answer: stdin was closed"],
    );
    server.verify().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_denies_by_default_and_approves_with_approve_all() {
    const SUITE: &str = r#"
name: approvals
cases:
  - id: busiest-origin
    question: Which airport had the most departures?
    expect:
      sql: SELECT origin, COUNT(*) AS flights FROM flights GROUP BY origin ORDER BY flights DESC
      answer_contains: ["EWR"]
"#;
    let mut exchanges = script("120835", APPROVED_ANSWER);
    exchanges.extend(script(
        "not approved: no one to approve: run the eval with --approve all",
        DENIED_ANSWER,
    ));
    let server = FakeLlmServer::start(exchanges).await;
    let w = workdir(&server);
    std::fs::write(w.path().join("approvals.yaml"), SUITE).unwrap();
    // --approve all: the statement runs and the case passes.
    let out = w
        .run(&["eval", "approvals.yaml", "--no-store", "--approve", "all"])
        .await;
    out.expect_code(0);
    // Default (never): denied at once, the case fails without its data.
    let started = std::time::Instant::now();
    let out = w.run(&["eval", "approvals.yaml", "--no-store"]).await;
    out.expect_code(6);
    assert!(started.elapsed() < std::time::Duration::from_secs(50));
    server.verify().unwrap();
}
