//! Concurrency (issue 18, item 2): `MC_BENCH_CONCURRENT` (default 1,000) runs at once in one
//! process — the OpenAI client over real HTTP to the fake provider server answering each
//! request after 50 ms, the bundled flights sample in DataFusion, one SQLite store on disk.
//! Reports: whether all complete, the wall time, the resident memory per in-flight run (peak
//! RSS during the burst minus RSS before it, over the runs), and the process's tasks and open
//! file descriptors (sockets included) before, right after, and after the agent is dropped.
//!
//! `cargo bench --bench concurrency`. Figures are printed, never asserted; under
//! `cargo test --benches` it runs 10 runs as a smoke test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::planner::DecisionProtocol;
use metricchat::store::SqliteStore;
use metricchat::{Agent, RunStatus};
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::json;

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

fn script(runs: usize) -> Vec<Exchange> {
    let mut s = Vec::with_capacity(runs * 2);
    // Second turns (the tool's result is in the conversation) first, so a first turn never
    // takes an answer.
    for _ in 0..runs {
        s.push(Exchange::when(
            Matcher::pointer("/messages/3/role", json!("tool")),
            Reply::text("111279 flights left JFK in 2013.").delayed(50),
        ));
    }
    for _ in 0..runs {
        s.push(Exchange::when(
            Matcher::body_contains("You are metricchat"),
            Reply::tool_call(
                "create_data",
                json!({"title": "Flights from JFK",
                       "sql": "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'"}),
            )
            .delayed(50),
        ));
    }
    s
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let runs: usize = if benching {
        std::env::var("MC_BENCH_CONCURRENT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1000)
    } else {
        10
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let server = FakeLlmServer::start(script(runs + 1)).await;
        let mut cfg = OpenAiConfig::new("gpt-4.1-mini").with_base_url(server.base_url());
        cfg.http.retry.max_retries = 2;
        let store = SqliteStore::open(dir.path().join("runs.db")).await.unwrap();
        let agent = Agent::builder()
            .llm(OpenAiClient::new(cfg).unwrap())
            .connection(metricchat::connectors::flights_sample("flights").unwrap())
            .store(store)
            .protocol(DecisionProtocol::NativeTools)
            .generate_title(false)
            .answer_checks(false)
            .build()
            .unwrap();
        // Warm up: the context hub, the pools, the first HTTP connection.
        let warm = agent.ask("How many flights left JFK in 2013?").await.unwrap();
        assert_eq!(warm.status, RunStatus::Completed);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let metrics = tokio::runtime::Handle::current().metrics();
        let (tasks0, fds0, rss0) = (metrics.num_alive_tasks(), open_fds(), status_kb("VmRSS:"));

        let peak = Arc::new(AtomicU64::new(rss0));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, done) = (peak.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(status_kb("VmRSS:"), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let start = Instant::now();
        let results = futures::future::join_all(
            (0..runs).map(|_| agent.ask("How many flights left JFK in 2013?")),
        )
        .await;
        let wall = start.elapsed();
        done.store(true, Ordering::Relaxed);
        sampler.await.unwrap();
        let completed = results
            .iter()
            .filter(|r| matches!(r, Ok(r) if r.status == RunStatus::Completed))
            .count();
        let failed: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().err().map(ToString::to_string))
            .take(3)
            .collect();
        drop(results);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (tasks1, fds1, rss1) = (metrics.num_alive_tasks(), open_fds(), status_kb("VmRSS:"));
        drop(agent);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (tasks2, fds2) = (metrics.num_alive_tasks(), open_fds());
        let peak = peak.load(Ordering::Relaxed);
        println!("{runs} concurrent runs (fake model over HTTP, 50 ms per answer; DataFusion flights; SQLite store):");
        println!("  completed               {completed}/{runs}  {failed:?}");
        println!("  wall time               {:.2} s", wall.as_secs_f64());
        println!(
            "  memory per in-flight run {:.1} KiB  (RSS {} -> peak {} KiB, after {} KiB)",
            peak.saturating_sub(rss0) as f64 / runs as f64,
            rss0,
            peak,
            rss1
        );
        println!("  tokio tasks             before {tasks0}, after {tasks1}, agent dropped {tasks2}");
        println!("  open fds (incl. sockets) before {fds0}, after {fds1}, agent dropped {fds2}");
        println!("  peak RSS of the process {} KiB (VmHWM)", status_kb("VmHWM:"));
        server.shutdown().await;
    });
}
