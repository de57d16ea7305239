//! Ctrl-C (SIGINT) cancels the run and its running query, and the process exits 130.

use std::time::{Duration, Instant};

use metricchat_testkit::{Exchange, FakeLlmServer, Reply};
use serde_json::{Value, json};

use crate::common::{SLOW_SQL, Spawned, Workdir, planner};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_ask_cancels_the_run_and_its_query() {
    let server = FakeLlmServer::start(vec![Exchange::when(
        planner(),
        Reply::tool_call("create_data", json!({"title": "Slow", "sql": SLOW_SQL})),
    )])
    .await;
    let w = Workdir::with_model(&server);
    let mut p = Spawned::start(w.command(&["ask", "--json", "something slow"]));
    let (started, _) = Spawned::wait_for(&p.stdout, "run.started", Duration::from_secs(60));
    let run_id = serde_json::from_str::<Value>(&started.expect("run.started")).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (created, seen) = Spawned::wait_for(&p.stdout, "query.created", Duration::from_secs(60));
    assert!(created.is_some(), "no query.created; saw {seen:?}");
    // The query is running (hours of work); interrupt it.
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    p.interrupt();
    let code = tokio::task::block_in_place(|| p.wait(Duration::from_secs(30)));
    let took = sent.elapsed();
    assert_eq!(code, Some(130), "stderr: {:?}", Spawned::rest(&p.stderr));
    assert!(
        took < Duration::from_secs(15),
        "exited {took:?} after SIGINT"
    );
    let events: Vec<Value> = Spawned::rest(&p.stdout)
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let last = events.last().expect("events after the interrupt");
    assert_eq!(last["type"], "run.finished", "{last}");
    assert_eq!(last["summary"]["status"], "cancelled", "{last}");
    let result = events.iter().find(|e| e["type"] == "query.result");
    if let Some(r) = result {
        assert!(r["error"].is_string(), "the query ended in error: {r}");
    }

    // The store agrees: the run is cancelled and its query did not complete.
    let shown = w.run(&["runs", "show", &run_id, "--json"]).await;
    shown.expect_code(0);
    let shown: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["run"]["status"], "cancelled", "{shown}");
    let q = &shown["queries"][0];
    assert_eq!(q["status"], "error", "{q}");
    assert!(
        q["error"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains("cancel"),
        "{q}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_query_cancels_it() {
    let w = Workdir::new();
    let mut cmd = w.command(&["query", SLOW_SQL]);
    cmd.env("MC_LOG", "metricchat_cli=debug");
    let mut p = Spawned::start(cmd);
    let (running, seen) =
        Spawned::wait_for(&p.stderr, "running the query", Duration::from_secs(60));
    assert!(running.is_some(), "{seen:?}");
    std::thread::sleep(Duration::from_millis(700));
    let sent = Instant::now();
    p.interrupt();
    let code = tokio::task::block_in_place(|| p.wait(Duration::from_secs(30)));
    assert_eq!(code, Some(130), "{:?}", Spawned::rest(&p.stderr));
    assert!(
        sent.elapsed() < Duration::from_secs(15),
        "{:?}",
        sent.elapsed()
    );
    let err = Spawned::rest(&p.stderr).join("\n");
    assert!(err.contains("cancelling the query"), "{err}");
    assert!(Spawned::rest(&p.stdout).is_empty(), "no rows were printed");
}
