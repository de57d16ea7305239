//! The agent loop's own cost (issue 18, items 1 and 4), with an instant in-process model: the
//! core's public `ScriptedLlm` (an `LlmClient` that replays turns with no I/O), a one-row
//! DataFusion table and the SQLite store on disk.
//!
//! - **overhead per iteration**: a run's wall time minus the time its query spent in the
//!   engine, divided by its planner iterations (two: `create_data`, then the answer). What is
//!   left is the loop itself: context, planning and decision parsing, events, the guard, the
//!   store writes, the chart.
//! - **time to first event**: from `agent.stream()` to the first event in the host's hands.
//!
//! `cargo bench --bench agent` (release; `MC_BENCH_RUNS`, default 2000, samples for the
//! percentiles, then criterion's own statistics). Timings are printed, never asserted. Under
//! `cargo test --benches` it runs a few samples only, as a smoke test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use criterion::Criterion;
use futures::StreamExt;
use metricchat::Agent;
use metricchat::connectors::datafusion::DataFusionConnector;
use metricchat::llm::{ScriptedLlm, ScriptedTurn};
use metricchat::store::SqliteStore;
use serde_json::json;

const QUESTION: &str = "What is the current value of the KPI?";

fn turns(runs: usize) -> Vec<ScriptedTurn> {
    let mut t = Vec::with_capacity(runs * 2);
    for _ in 0..runs {
        t.push(ScriptedTurn::tool_call(
            "create_data",
            json!({"title": "KPI", "sql": "SELECT value FROM kpi"}),
        ));
        t.push(ScriptedTurn::text("The KPI is 42."));
    }
    t
}

async fn agent(runs: usize, dir: &std::path::Path) -> (Agent, ScriptedLlm) {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "value",
        DataType::Int64,
        false,
    )]));
    let batch =
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![42i64]))]).unwrap();
    let conn = DataFusionConnector::new("warehouse")
        .with_batches("kpi", vec![batch])
        .unwrap();
    let llm = ScriptedLlm::new(turns(runs), true);
    let builder = Agent::builder()
        .llm(llm.clone())
        .connection(Arc::new(conn))
        .generate_title(false);
    // MC_BENCH_STORE=memory: the same loop without the SQLite store's writes.
    let builder = if std::env::var("MC_BENCH_STORE").is_ok_and(|s| s == "memory") {
        builder.store(metricchat::store::MemoryStore::new())
    } else {
        builder.store(SqliteStore::open(dir.join("bench.db")).await.unwrap())
    };
    let agent = builder.build().unwrap();
    (agent, llm)
}

/// One run: (loop overhead per iteration, time to first event, query time).
async fn one_run(agent: &Agent) -> (Duration, Duration, Duration) {
    let start = Instant::now();
    let mut run = agent.stream(QUESTION);
    let first = run.next().await.expect("a first event");
    let ttfe = start.elapsed();
    assert_eq!(first.type_name(), "run.started");
    while run.next().await.is_some() {}
    let result = run.finish().await.expect("the run completes");
    let wall = start.elapsed();
    let query = result.dataset().map_or(Duration::ZERO, |d| d.duration);
    let iterations = result.iterations.max(1);
    (wall.saturating_sub(query) / iterations, ttfe, query)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut v: Vec<Duration>) {
    v.sort_unstable();
    let mean = v.iter().sum::<Duration>() / u32::try_from(v.len()).unwrap_or(u32::MAX);
    println!(
        "{name:<34} n={:<5} p50={:>9.3} ms  p99={:>9.3} ms  mean={:>9.3} ms",
        v.len(),
        percentile(&v, 0.50).as_secs_f64() * 1e3,
        percentile(&v, 0.99).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
    );
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let samples: usize = if benching {
        std::env::var("MC_BENCH_RUNS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2000)
    } else {
        5
    };
    let warmup = if benching { 50 } else { 1 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (agent, _llm) = rt.block_on(agent(warmup + samples + 10_000, dir.path()));

    let mut overhead = Vec::with_capacity(samples);
    let mut ttfe = Vec::with_capacity(samples);
    let mut query = Vec::with_capacity(samples);
    rt.block_on(async {
        for _ in 0..warmup {
            one_run(&agent).await;
        }
        for _ in 0..samples {
            let (o, t, q) = one_run(&agent).await;
            overhead.push(o);
            ttfe.push(t);
            query.push(q);
        }
    });
    let store = if std::env::var("MC_BENCH_STORE").is_ok_and(|s| s == "memory") {
        "in-memory store"
    } else {
        "SQLite store on disk"
    };
    println!("agent loop, instant in-process model (ScriptedLlm), {store}:");
    report("overhead per iteration", overhead);
    report("time to first event (stream())", ttfe);
    report("one-row DataFusion query (excluded)", query);

    if benching {
        let mut c = Criterion::default()
            .configure_from_args()
            .sample_size(50)
            .measurement_time(Duration::from_secs(10));
        c.bench_function("agent/run_two_iterations_overhead", |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += one_run(&agent).await.0 * 2;
                    }
                    total
                })
            });
        });
        c.final_summary();
    }
}
