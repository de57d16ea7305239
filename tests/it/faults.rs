//! Faults with the real components (issue 18, items 5–8): what a run does when a part of the
//! system dies under it, and what the store holds afterwards.
//!
//! - **warehouse** (item 5): the PostgreSQL backend running the agent's query is terminated
//!   (`pg_terminate_backend`) — the tool fails typed, the model's next query works on the same
//!   connector, the stored run is consistent. (The connector-level kills, PostgreSQL and
//!   MariaDB, are in `metricchat-connectors/tests/it/faults.rs`.)
//! - **LLM server** (item 6): the fake provider server runs as its own process (this test
//!   binary, re-executed) and is SIGKILLed, then restarted on the same port — before it answers
//!   (the client's retry policy rides it out) and mid-stream (the run fails typed, the store
//!   holds a consistent failed run, and the next run works).
//! - **agent process** (item 7): a child process runs agent runs back to back on a SQLite store
//!   and is SIGKILLed at random points, 50 times (`MC_FAULT_KILLS`); afterwards
//!   `mark_interrupted()` leaves every run completed or interrupted, no step row is orphaned or
//!   left running, and the database passes `PRAGMA integrity_check`.
//! - **store** (item 8): the PostgreSQL store's connections go through a TCP proxy that the
//!   test kills mid-run — the run fails typed, and the host still has every event streamed
//!   before, then `run.failed`.
//!
//! Run: `cargo test --workspace --features metricchat/all-but-duckdb --test it -- faults::`, or
//! `scripts/faults.sh` (more kills). The random kill points come from `MC_FAULT_SEED` (printed).
#![cfg(all(
    feature = "datafusion",
    feature = "postgres",
    feature = "postgres-store"
))]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use metricchat::events::{Event, EventKind, RunStatus};
use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::planner::DecisionProtocol;
use metricchat::store::{ExecutionStatus, QueryStatus, SqliteStore, Store};
use metricchat::{Agent, ConnectorRef, ErrorKind};
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::json;

use crate::common::*;

fn planner() -> Matcher {
    Matcher::body_contains("You are metricchat")
}

fn client(base_url: &str, retries: u32) -> OpenAiClient {
    let mut cfg = OpenAiConfig::new("gpt-4.1-mini").with_base_url(base_url);
    cfg.http.retry.max_retries = retries;
    cfg.http.retry.initial_backoff = Duration::from_millis(100);
    cfg.http.retry.max_backoff = Duration::from_millis(800);
    OpenAiClient::new(cfg).unwrap()
}

/// A small seeded generator (SplitMix64): the kill points are reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn from_env() -> Self {
        let seed = std::env::var("MC_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| u64::try_from(d.as_nanos() % u128::from(u64::MAX)).unwrap_or(7))
                    .unwrap_or(7)
            });
        eprintln!("faults: MC_FAULT_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Starts this test binary again running only the ignored child test `name`, with `env`.
fn spawn_child(name: &str, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        name,
        "--nocapture",
        "--test-threads=1",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// [`spawn_child`] with its stdout piped to the caller.
fn spawn_child_piped(name: &str, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        name,
        "--nocapture",
        "--test-threads=1",
        "-q",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// SIGKILLs `child` (std's `kill` is SIGKILL on Unix) and reaps it.
fn sigkill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

// ------------------------------------------------------------------ the fake LLM as a process

const LLM_CHILD: &str = "faults::child_fake_llm_server";

/// Child half of the LLM-server faults (ignored: started by them): serves the script in
/// `MC_FAULT_SCRIPT` on `MC_FAULT_PORT` until killed.
#[tokio::test]
#[ignore = "a child process of the faults tests, started by them"]
async fn child_fake_llm_server() {
    let (Ok(port), Ok(script)) = (
        std::env::var("MC_FAULT_PORT"),
        std::env::var("MC_FAULT_SCRIPT"),
    ) else {
        return;
    };
    let script: Vec<Exchange> = serde_json::from_str(&script).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port.parse::<u16>().unwrap()));
    let _server = FakeLlmServer::start_on(addr, script).await.unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
}

/// A fake provider server in a process of its own, on a fixed port so it can come back there.
struct LlmProcess {
    port: u16,
    child: Option<Child>,
}

impl LlmProcess {
    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    async fn start(port: u16, script: &[Exchange]) -> Self {
        let child = spawn_child(
            LLM_CHILD,
            &[
                ("MC_FAULT_PORT", port.to_string()),
                ("MC_FAULT_SCRIPT", serde_json::to_string(script).unwrap()),
            ],
        );
        let start = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < scaled(Duration::from_secs(30)),
                "the fake LLM process never listened"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Self {
            port,
            child: Some(child),
        }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// How many chat requests the server has received.
    async fn received(&self) -> usize {
        let url = format!("http://127.0.0.1:{}/_fake/state", self.port);
        let Ok(resp) = reqwest::get(url).await else {
            return 0;
        };
        let state: serde_json::Value = resp.json().await.unwrap_or_default();
        state["requests"].as_array().map_or(0, Vec::len)
    }

    fn kill(&mut self) {
        if let Some(c) = self.child.take() {
            sigkill(c);
        }
    }
}

impl Drop for LlmProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn count_sql() -> serde_json::Value {
    json!({"title": "Flights from JFK", "sql": "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'"})
}

/// The same two turns as JSON-in-text decisions.
fn answer_turns_json_text() -> Vec<Exchange> {
    vec![
        Exchange::when(
            planner(),
            Reply::text(
                json!({"reasoning": "Count them.",
                       "action": {"tool": "create_data", "arguments": count_sql()}})
                .to_string(),
            ),
        ),
        Exchange::when(
            planner(),
            Reply::text(
                json!({"reasoning": "Done.", "analysis_complete": true,
                       "final_answer": "111279 flights left JFK in 2013."})
                .to_string(),
            ),
        ),
    ]
}

fn answer_turns() -> Vec<Exchange> {
    vec![
        Exchange::when(planner(), Reply::tool_call("create_data", count_sql())),
        Exchange::when(planner(), Reply::text("111279 flights left JFK in 2013.")),
    ]
}

async fn sqlite_store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir.join("runs.db")).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_server_killed_before_answering_is_ridden_out_by_the_retry_policy() {
    let port = LlmProcess::free_port();
    let mut first = LlmProcess::start(port, &[Exchange::when(planner(), Reply::Stall)]).await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let agent = Agent::builder()
        .llm(client(&first.base_url(), 8))
        .connection(flights())
        .store(store.clone())
        .protocol(DecisionProtocol::NativeTools)
        .generate_title(false)
        .answer_checks(false)
        .build()
        .unwrap();
    let mut run = agent.stream("How many flights left JFK in 2013?");
    let run_id = run.run_id();
    let events = tokio::spawn(async move {
        let events = run.collect_events().await;
        (events, run.finish().await)
    });
    // The request is in; the server dies before a byte of the answer, and comes back.
    let start = Instant::now();
    while first.received().await == 0 {
        assert!(start.elapsed() < scaled(Duration::from_secs(30)));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill();
    let second = LlmProcess::start(port, &answer_turns()).await;
    let (events, result) = tokio::time::timeout(scaled(Duration::from_secs(60)), events)
        .await
        .expect("the run hung after the LLM server died")
        .unwrap();
    let result = result.unwrap_or_else(|e| panic!("the retry policy did not ride it out: {e}"));
    assert_eq!(result.status, RunStatus::Completed);
    assert!(result.answer.unwrap().contains("111279"));
    assert_seq(&events);
    assert_eq!(
        assert_consistent(&store, run_id).await,
        RunStatus::Completed
    );
    assert_eq!(second.received().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_server_killed_mid_stream_fails_typed_and_the_store_stays_whole() {
    let port = LlmProcess::free_port();
    // JSON-in-text: the reasoning streams to the host (decision.partial) while the server dies.
    let slow = Reply::text(format!(
        "{{\"reasoning\": \"{}\", \"action\": {{\"tool\": \"create_data\", \"arguments\": {}}}}}",
        "Counting the flights that left JFK. ".repeat(20),
        count_sql()
    ))
    .chunked(8)
    .with_chunk_delay_ms(40);
    let mut first = LlmProcess::start(port, &[Exchange::when(planner(), slow)]).await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let agent = Agent::builder()
        .llm(client(&first.base_url(), 8))
        .connection(flights())
        .store(store.clone())
        .protocol(DecisionProtocol::JsonText)
        .generate_title(false)
        .answer_checks(false)
        .build()
        .unwrap();
    let mut run = agent.stream("How many flights left JFK in 2013?");
    let run_id = run.run_id();
    let mut seen: Vec<Event> = Vec::new();
    // Kill the server once the host has seen part of the decision.
    while let Some(ev) = run.next().await {
        let partial = matches!(ev.kind, EventKind::DecisionPartial { .. });
        seen.push(ev);
        if partial {
            break;
        }
    }
    first.kill();
    let _second = LlmProcess::start(
        port,
        &[answer_turns_json_text(), answer_turns_json_text()].concat(),
    )
    .await;
    let rest = tokio::time::timeout(scaled(Duration::from_secs(60)), run.collect_events())
        .await
        .expect("the run hung after the LLM server died");
    seen.extend(rest);
    assert_seq(&seen);
    let outcome = run.finish().await;
    let status = assert_consistent(&store, run_id).await;
    match outcome {
        // The issue allows either: a retry that rides it out, or a typed failure.
        Ok(r) => {
            eprintln!("faults: the run rode out the mid-stream kill");
            assert_eq!(r.status, RunStatus::Completed);
            assert_eq!(status, RunStatus::Completed);
        }
        Err(e) => {
            eprintln!("faults: the mid-stream kill failed the run: {e}");
            assert_eq!(e.kind(), ErrorKind::Llm, "{e:?}");
            assert_eq!(status, RunStatus::Failed);
            let last = seen.last().unwrap();
            assert!(
                matches!(last.kind, EventKind::RunFailed { .. }),
                "the host's last event is {}",
                last.type_name()
            );
            // Nothing half-written: no decision stored for the cut turn.
            assert!(store.decisions(run_id).await.unwrap().is_empty());
            assert!(store.tool_executions(run_id).await.unwrap().is_empty());
        }
    }
    // The server is back: the next run on the same agent works.
    let again = tokio::time::timeout(
        scaled(Duration::from_secs(60)),
        agent.ask("How many flights left JFK in 2013?"),
    )
    .await
    .expect("the next run hung")
    .unwrap();
    assert_eq!(again.status, RunStatus::Completed);
    assert_eq!(
        assert_consistent(&store, again.run_id).await,
        RunStatus::Completed
    );
}

// ------------------------------------------------------------------ the agent process killed

const AGENT_CHILD: &str = "faults::child_agent_runs";

/// A one-row in-memory table `kpi(value)`: the child starts in a few ms.
fn kpi() -> ConnectorRef {
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(vec![Field::new(
        "value",
        DataType::Int64,
        false,
    )]));
    let batch =
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![42i64]))]).unwrap();
    Arc::new(
        metricchat::connectors::datafusion::DataFusionConnector::new("warehouse")
            .with_batches("kpi", vec![batch])
            .unwrap(),
    )
}

/// Child half of `agent_process_sigkilled_at_random_points` (ignored: started by it): runs
/// agent runs back to back on the SQLite store at `MC_FAULT_DB` until killed, and prints
/// `ready` once the first one has completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of the faults tests, started by it"]
async fn child_agent_runs() {
    let Ok(db) = std::env::var("MC_FAULT_DB") else {
        return;
    };
    let mut script = Vec::new();
    for _ in 0..400 {
        script.push(Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "KPI", "sql": "SELECT value FROM kpi"}),
            )
            .chunked(8)
            .with_chunk_delay_ms(5),
        ));
        script.push(Exchange::when(
            planner(),
            Reply::text("The KPI is 42.")
                .chunked(2)
                .with_chunk_delay_ms(5),
        ));
    }
    let server = FakeLlmServer::start(script).await;
    let store = SqliteStore::open(&db).await.unwrap();
    let agent = Agent::builder()
        .llm(client(&server.base_url(), 2))
        .connection(kpi())
        .store(store)
        .protocol(DecisionProtocol::NativeTools)
        .generate_title(false)
        .answer_checks(false)
        .build()
        .unwrap();
    let first = agent.ask("What is the KPI?").await.unwrap();
    assert_eq!(first.status, RunStatus::Completed);
    println!("ready");
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
    loop {
        let _ = agent.ask("What is the KPI?").await;
    }
}

/// Counts rows of `table` whose run is not in `runs`.
async fn orphans(db: &mut sqlx::SqliteConnection, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table} WHERE run_id NOT IN (SELECT id FROM runs)"
    )))
    .fetch_one(db)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_process_sigkilled_at_random_points_leaves_a_whole_store() {
    let kills: usize = std::env::var("MC_FAULT_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let mut rng = Rng::from_env();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("killed.db");
    // The schema exists before the first child, so a kill during start-up kills no migration.
    SqliteStore::open(&db).await.unwrap().close().await;
    for _ in 0..kills {
        let mut child =
            spawn_child_piped(AGENT_CHILD, &[("MC_FAULT_DB", db.display().to_string())]);
        // Wait for the child's first completed run, then kill it at a random point of the
        // next few (a run takes some tens of ms).
        let stdout = child.stdout.take().unwrap();
        let ready = tokio::task::spawn_blocking(move || {
            // The test harness prints its own lines first.
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match std::io::BufRead::read_line(&mut reader, &mut line) {
                    Ok(0) | Err(_) => return line,
                    Ok(_) if line.contains("ready") => return line,
                    Ok(_) => {}
                }
            }
        });
        let line = tokio::time::timeout(scaled(Duration::from_secs(60)), ready)
            .await
            .expect("the agent child never became ready")
            .unwrap();
        assert!(line.contains("ready"), "the agent child said {line:?}");
        let wait = rng.below(300);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        sigkill(child);
    }

    // The next process opens the store cleanly and repairs what the kills left.
    let store = SqliteStore::open(&db).await.unwrap();
    let repaired = store.mark_interrupted().await.unwrap();
    let runs = store.list_runs(100_000).await.unwrap();
    let mut completed = 0;
    let mut interrupted = 0;
    for run in &runs {
        match run.status {
            RunStatus::Completed => completed += 1,
            RunStatus::Interrupted => interrupted += 1,
            other => panic!("run {} left {other:?} after mark_interrupted", run.id),
        }
        assert!(run.finished_at.is_some());
        let snap = store
            .latest_snapshot(run.id)
            .await
            .unwrap()
            .expect("snapshot");
        assert_eq!(snap.status, run.status, "snapshot and run disagree");
        for e in store.tool_executions(run.id).await.unwrap() {
            assert_ne!(e.status, ExecutionStatus::Running, "execution left running");
        }
        for q in store.queries(run.id).await.unwrap() {
            assert_ne!(q.status, QueryStatus::Running, "query left running");
        }
        let events = store.events(run.id).await.unwrap();
        assert!(matches!(events[0].kind, EventKind::RunStarted { .. }));
        for w in events.windows(2) {
            assert!(w[0].seq < w[1].seq, "stored events out of order");
        }
        if run.status == RunStatus::Completed {
            assert!(matches!(
                events.last().unwrap().kind,
                EventKind::RunFinished { .. }
            ));
            assert_eq!(
                store.decisions(run.id).await.unwrap().len(),
                run.iterations as usize
            );
        }
    }
    store.close().await;
    eprintln!(
        "faults: {kills} SIGKILLs -> {} runs: {completed} completed, {interrupted} interrupted \
         ({repaired} repaired by mark_interrupted)",
        runs.len()
    );
    assert_eq!(u64::try_from(interrupted).unwrap(), repaired);
    assert!(
        completed >= kills,
        "each child completes a run before its kill"
    );
    assert!(interrupted > 0, "no kill landed mid-run");

    let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        db.display()
    ))
    .await
    .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let fk: Vec<(String,)> = sqlx::query_as("PRAGMA foreign_key_check")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert!(fk.is_empty(), "foreign keys broken: {fk:?}");
    for table in [
        "decisions",
        "tool_executions",
        "queries",
        "visualizations",
        "snapshots",
        "events",
    ] {
        assert_eq!(orphans(&mut db, table).await, 0, "orphaned rows in {table}");
    }
}

// ------------------------------------------------------------------ the warehouse killed

/// The test server's URL as given (for sqlx admin connections) and with the privileged-login
/// opt-in the connector needs for the superuser test login.
fn postgres_urls() -> Option<(String, String)> {
    let url = metricchat_testkit::service_url_or_skip(
        "MC_TEST_POSTGRES_URL",
        "the PostgreSQL fault tests",
    )?;
    let sep = if url.contains('?') { '&' } else { '?' };
    let opted = format!("{url}{sep}allow_privileged_login=true");
    Some((url, opted))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend_terminated_under_the_agent_leaves_a_consistent_run() {
    let Some((raw_url, url)) = postgres_urls() else {
        return;
    };
    let conn: ConnectorRef = metricchat::connect(&url).unwrap();
    let marker = format!("mc_fault_{}", std::process::id());
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                // Slow without pg_sleep (the guard refuses sleep functions): minutes of counting.
                json!({"title": "Slow",
                       "sql": format!("SELECT COUNT(*) AS {marker} FROM generate_series(1, 4000000000) g")}),
            ),
        ),
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "The answer", "sql": "SELECT 42 AS answer"}),
            ),
        ),
        Exchange::when(planner(), Reply::text("The answer is 42.")),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let agent = Agent::builder()
        .llm(client(&server.base_url(), 2))
        .connection(conn.clone())
        .store(store.clone())
        .protocol(DecisionProtocol::NativeTools)
        .generate_title(false)
        .answer_checks(false)
        .build()
        .unwrap();

    // A killer terminates every backend that runs the marked statement (the tool may retry it).
    let admin = sqlx::PgPool::connect(&raw_url).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (done, kills, admin, marker) =
            (done.clone(), kills.clone(), admin.clone(), marker.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE state = 'active' AND pid <> pg_backend_pid() \
                     AND query LIKE '%' || $1 || '%' AND query NOT LIKE '%pg_stat_activity%'",
                )
                .bind(&marker)
                .fetch_one(&admin)
                .await
                .unwrap();
                kills.fetch_add(usize::try_from(n).unwrap(), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let result = tokio::time::timeout(
        scaled(Duration::from_secs(90)),
        agent.ask("What is the answer?"),
    )
    .await
    .expect("the run hung after its backend was terminated");
    done.store(true, Ordering::SeqCst);
    killer.await.unwrap();
    admin.close().await;
    let result = result.unwrap();
    assert!(
        kills.load(Ordering::SeqCst) >= 1,
        "no backend was terminated"
    );
    // A killed backend is not a SQL mistake: no request to repair the SQL, only the model's
    // two planner turns and its answer.
    server.verify().unwrap();
    assert_eq!(result.status, RunStatus::Completed);
    assert_eq!(result.answer.as_deref(), Some("The answer is 42."));
    assert_eq!(
        assert_consistent(&store, result.run_id).await,
        RunStatus::Completed
    );
    let queries = store.queries(result.run_id).await.unwrap();
    assert!(queries.first().unwrap().status == QueryStatus::Error);
    assert!(queries.last().unwrap().status != QueryStatus::Error);
}

// ------------------------------------------------------------------ the store killed

/// A TCP proxy to PostgreSQL that the test can cut: every open connection dropped, new ones
/// refused — what a stopped server looks like to the client, without stopping the shared one.
struct Proxy {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut token = stopped.clone();
            loop {
                let (mut inbound, _) = tokio::select! {
                    _ = token.wait_for(|s| *s) => return,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => return },
                };
                let mut token = stopped.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = token.wait_for(|s| *s) => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        Self { addr, stop }
    }

    fn kill(&self) {
        let _ = self.stop.send(true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_lost_mid_run_fails_typed_and_the_host_keeps_its_events() {
    let Some((raw_url, _)) = postgres_urls() else {
        return;
    };
    let parsed = url::Url::parse(&raw_url).unwrap();
    let target = SocketAddr::from(([127, 0, 0, 1], parsed.port().unwrap_or(5432)));
    let proxy = Proxy::start(target).await;
    let mut through = parsed.clone();
    through.set_port(Some(proxy.addr.port())).unwrap();
    through.set_query(None);
    let schema = format!("mc_fault_store_{}", std::process::id());
    let store = metricchat::store::PostgresStore::connect_with(
        metricchat::store::PostgresStoreConfig::new(through.to_string())
            .schema(&schema)
            .connect_timeout(Duration::from_secs(2)),
    )
    .await
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let server = FakeLlmServer::start(vec![
        Exchange::when(
            planner(),
            Reply::tool_call("create_data", count_sql())
                .chunked(4)
                .with_chunk_delay_ms(20),
        ),
        Exchange::when(planner(), Reply::text("111279 flights left JFK in 2013.")),
    ])
    .await;
    let agent = Agent::builder()
        .llm(client(&server.base_url(), 2))
        .connection(flights())
        .store(store.clone())
        .protocol(DecisionProtocol::NativeTools)
        .generate_title(false)
        .answer_checks(false)
        .build()
        .unwrap();
    let mut run = agent.stream("How many flights left JFK in 2013?");
    let mut seen: Vec<Event> = Vec::new();
    // The store is lost while the model streams its first decision (run.started is stored).
    while let Some(ev) = run.next().await {
        let started = matches!(ev.kind, EventKind::RunStarted { .. });
        seen.push(ev);
        if started {
            break;
        }
    }
    proxy.kill();
    let rest = tokio::time::timeout(scaled(Duration::from_secs(60)), run.collect_events())
        .await
        .expect("the run hung after the store was lost");
    seen.extend(rest);
    let err = run
        .finish()
        .await
        .expect_err("a run without its store cannot complete");
    assert_eq!(err.kind(), ErrorKind::Internal, "{err:?}");
    assert!(matches!(err, metricchat::Error::Store { .. }), "{err:?}");
    // The host saw everything up to the failure, in order, ending in run.failed.
    assert_seq(&seen);
    assert!(matches!(seen[0].kind, EventKind::RunStarted { .. }));
    let last = seen.last().unwrap();
    assert!(
        matches!(last.kind, EventKind::RunFailed { .. }),
        "the host's last event is {}",
        last.type_name()
    );
    // Clean up the schema over a direct connection.
    let admin = sqlx::PgPool::connect(&raw_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&admin)
    .await
    .unwrap();
    admin.close().await;
}
