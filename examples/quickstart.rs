//! Quickstart: ask the bundled NYC flights data (2013) a question and watch the agent work.
//!
//! ```text
//! cargo run --example quickstart                      # scripted model if none is configured
//! OPENAI_API_KEY=sk-… cargo run --example quickstart -- "How many flights left JFK in July?"
//! MC_LLM_BASE_URL=http://127.0.0.1:8089/v1 MC_LLM_MODEL=qwen cargo run --example quickstart
//! ```
//!
//! With `OPENAI_API_KEY`, or an OpenAI-compatible `MC_LLM_BASE_URL` (+ `MC_LLM_MODEL`), the agent
//! uses that model. With neither, it says so and replays a scripted conversation through the very
//! same code path: an OpenAI client talking real HTTP to the fake provider server.

use std::io::Write;

use futures::StreamExt;
use metricchat::Agent;
use metricchat::events::EventKind;
use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::planner::DecisionProtocol;
use metricchat::store::{SqliteStore, Store};
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::json;

const DEFAULT_QUESTION: &str =
    "Which carrier had the worst average departure delay in 2013, and how bad was it?";

/// The scripted conversation: what a tool-calling model does for the default question.
fn script() -> Vec<Exchange> {
    let sql = "SELECT f.carrier, a.name AS airline, ROUND(AVG(f.dep_delay), 2) AS avg_dep_delay_min, \
               COUNT(*) AS flights FROM flights f JOIN airlines a ON a.carrier = f.carrier \
               GROUP BY f.carrier, a.name ORDER BY avg_dep_delay_min DESC";
    let planner = || Matcher::body_contains("You are metricchat");
    vec![
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({
                    "title": "Average departure delay by carrier, 2013",
                    "sql": sql,
                    "chart": {"chart_type": "bar", "x": "airline", "y": ["avg_dep_delay_min"]}
                }),
            )
            .with_text("I'll average dep_delay per carrier, joined to airline names, worst first."),
        ),
        Exchange::when(
            planner(),
            Reply::text(
                "Frontier Airlines (F9) had the worst average departure delay in 2013: 20.22 \
                 minutes per flight, just ahead of ExpressJet (EV) at 19.96 minutes. US Airways \
                 (US) was the most punctual at 3.78 minutes.",
            )
            .with_chunk_delay_ms(15),
        ),
        Exchange::when(
            Matcher::body_contains("title of at most six words"),
            Reply::text("Worst average departure delay by carrier"),
        ),
    ]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let question = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_QUESTION.to_string());

    let configured =
        std::env::var("OPENAI_API_KEY").is_ok() || std::env::var("MC_LLM_BASE_URL").is_ok();
    let mut fake = None;
    let (llm, protocol) = if configured {
        let config = OpenAiConfig::from_env();
        println!("model: {} at {}", config.model, config.base_url);
        (OpenAiClient::new(config)?, DecisionProtocol::Auto)
    } else {
        println!(
            "No model is configured (set OPENAI_API_KEY, or MC_LLM_BASE_URL and MC_LLM_MODEL).\n\
             Replaying a SCRIPTED conversation through the fake OpenAI server over HTTP; the SQL,\n\
             the data and the chart below are real, the model's words are scripted."
        );
        if question != DEFAULT_QUESTION {
            println!("(the scripted model only knows the default question; yours is ignored)");
        }
        let server = FakeLlmServer::start(script()).await;
        let config = OpenAiConfig::new("scripted-gpt").with_base_url(server.base_url());
        fake = Some(server);
        (OpenAiClient::new(config)?, DecisionProtocol::NativeTools)
    };
    let question = if configured {
        question
    } else {
        DEFAULT_QUESTION.to_string()
    };

    let db = std::env::temp_dir().join("metricchat-quickstart.db");
    let store = SqliteStore::open(&db).await?;
    // Runs a killed earlier process left `running` are closed as `interrupted`.
    let interrupted = store.mark_interrupted().await?;
    if interrupted > 0 {
        println!(
            "({interrupted} interrupted earlier run(s) marked in {})",
            db.display()
        );
    }
    let agent = Agent::builder()
        .llm(llm)
        .connection(metricchat::connectors::flights_sample("flights")?)
        .store(store)
        .protocol(protocol)
        .build()?;

    println!("\nQ: {question}\n");
    let mut run = agent.stream(question.as_str());
    let mut streaming_answer = false;
    let mut answer_len = 0;
    while let Some(ev) = run.next().await {
        match &ev.kind {
            EventKind::RunStarted {
                model, connections, ..
            } => {
                println!(
                    "▶ run {} · model {model} · data {}",
                    ev.run_id,
                    connections.join(", ")
                );
            }
            EventKind::DecisionFinal {
                iteration,
                decision,
            } => {
                if let Some(r) = &decision.reasoning_message {
                    println!("\n[step {}] thinking: {r}", iteration + 1);
                }
                if let Some(a) = &decision.action {
                    println!("[step {}] → {}", iteration + 1, a.tool);
                }
            }
            EventKind::PlannerRetry { error, .. } => {
                println!("  ↻ model output unusable ({error}); asking again")
            }
            EventKind::QueryCreated { sql, attempt, .. } => {
                println!("  SQL (attempt {attempt}):\n    {sql}");
            }
            EventKind::QueryResult {
                row_count,
                error,
                duration_ms,
                ..
            } => match error {
                Some(e) => println!("  ✗ {e}"),
                None => println!("  ✓ {row_count} rows in {duration_ms} ms"),
            },
            EventKind::VisualizationCreated { spec, echarts, .. } => {
                let series = echarts
                    .get("series")
                    .and_then(|s| s.as_array())
                    .map_or(0, Vec::len);
                println!(
                    "  chart: {:?} of {} by {} ({series} ECharts series)",
                    spec.chart_type,
                    spec.y.join(", "),
                    spec.x.as_deref().unwrap_or("-")
                );
            }
            EventKind::ToolFinished {
                tool,
                status,
                error,
                duration_ms,
                ..
            } => {
                println!(
                    "  {tool}: {status:?} in {duration_ms} ms{}",
                    error
                        .as_ref()
                        .map(|e| format!(" — {e}"))
                        .unwrap_or_default()
                );
            }
            EventKind::BlockUpsert { text, done, .. } => {
                if !streaming_answer {
                    print!("\nAnswer: ");
                    streaming_answer = true;
                }
                if text.len() > answer_len && text.is_char_boundary(answer_len) {
                    print!("{}", &text[answer_len..]);
                    answer_len = text.len();
                }
                if *done {
                    println!();
                    streaming_answer = false;
                    answer_len = 0;
                }
                std::io::stdout().flush()?;
            }
            EventKind::RunFinished { summary } => {
                println!(
                    "\n■ {:?} · \"{}\" · {} steps · {} tokens · {} ms",
                    summary.status,
                    summary.title.as_deref().unwrap_or(""),
                    summary.iterations,
                    summary.usage.total(),
                    summary.timings.total_ms
                );
            }
            EventKind::RunFailed { error, .. } => {
                println!("\n✗ run failed: {} ({})", error.message, error.kind)
            }
            _ => {}
        }
    }
    let result = run.finish().await?;
    if let Some(ds) = result.dataset() {
        println!(
            "\nResult table ({}):",
            ds.title.as_deref().unwrap_or("data")
        );
        println!(
            "{}",
            metricchat::arrow::util::pretty::pretty_format_batches(&ds.data.batches)?
        );
    }
    if let Some(chart) = result.chart() {
        let option = serde_json::to_string(&chart.echarts)?;
        let short: String = option.chars().take(300).collect();
        println!("\nECharts option ({} bytes): {short}…", option.len());
    }
    println!("\nStored in {} (run {}).", db.display(), result.run_id);
    if let Some(server) = fake
        && let Err(e) = server.verify()
    {
        eprintln!("scripted conversation did not go as planned: {e}");
        std::process::exit(1);
    }
    Ok(())
}
