//! Runs an eval suite (`evals/*.yaml`) against a model and writes the report.
//!
//! ```text
//! # the local model (../shared/tools/local-llm start), the bundled flights sample
//! MC_LLM_BASE_URL=http://127.0.0.1:8089/v1 MC_LLM_MODEL=qwen \
//!   cargo run --example eval -- evals/flights.yaml --out /tmp/flights.json --html /tmp/flights.html
//! # the single-prompt baseline, same model and schema
//! cargo run --example eval -- evals/flights.yaml --baseline
//! # chinook on SQLite; record the model's traffic so CI can replay it
//! cargo run --example eval -- evals/chinook.yaml --connection "sqlite://data/chinook/chinook.sqlite?name=chinook" \
//!   --cassette evals/cassettes/chinook-sqlite.jsonl --record
//! # replay (no model), and fail (exit 1) on any regression against a committed report
//! cargo run --example eval -- evals/flights.yaml --cassette evals/cassettes/flights.jsonl \
//!   --compare evals/results/flights.json
//! ```
//!
//! Options: `--connection URL` (default: the bundled flights sample; `?name=` names it),
//! `--baseline`, `--concurrency N`, `--timeout SECS`, `--only ID,ID`, `--label TEXT`,
//! `--cassette PATH` with `--record` (else replay), `--out JSON`, `--md PATH`, `--html PATH`,
//! `--compare BEFORE.json`, `--store sqlite://PATH` (keep the run; default: not kept),
//! `--judge-model NAME` (score rubrics with that model at the same base URL),
//! `--llm-timeout SECS` (first byte from the model; default 600: a small model on a busy CPU
//! reads a long prompt for minutes), `--no-answer-checks` (the plain loop, for before/after),
//! `--protocol auto|native_tools|json_text|sql_first` (the planner's decision protocol),
//! `--candidates N` (SQL candidates per need, voted on by their results).
//! On a terminal a progress line updates in place; piped, each case is one line.
//! Exit codes: 0 done, 1 a regression against `--compare`, 2 bad arguments or setup.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use metricchat::Agent;
use metricchat::eval::{EvalMode, EvalReport, Evaluator, Suite};
use metricchat::llm::cassette::{Cassette, CassetteMode};
use metricchat::llm::{LlmClient, OpenAiClient, OpenAiConfig};
use metricchat::store::{SqliteStore, Store};

#[derive(Default)]
struct Args {
    suite: String,
    connections: Vec<String>,
    baseline: bool,
    concurrency: usize,
    timeout: Option<f64>,
    only: Option<Vec<String>>,
    label: Option<String>,
    cassette: Option<String>,
    record: bool,
    out: Option<String>,
    md: Option<String>,
    html: Option<String>,
    compare: Option<String>,
    store: Option<String>,
    judge_model: Option<String>,
    llm_timeout: f64,
    no_answer_checks: bool,
    protocol: Option<String>,
    candidates: Option<u32>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        concurrency: 1,
        llm_timeout: 600.0,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--connection" => a.connections.push(val("--connection")?),
            "--baseline" => a.baseline = true,
            "--concurrency" => {
                a.concurrency = val("--concurrency")?
                    .parse()
                    .map_err(|_| "--concurrency takes a number")?;
            }
            "--timeout" => {
                a.timeout = Some(
                    val("--timeout")?
                        .parse()
                        .map_err(|_| "--timeout takes seconds")?,
                );
            }
            "--only" => {
                a.only = Some(
                    val("--only")?
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .collect(),
                );
            }
            "--label" => a.label = Some(val("--label")?),
            "--cassette" => a.cassette = Some(val("--cassette")?),
            "--record" => a.record = true,
            "--out" => a.out = Some(val("--out")?),
            "--md" => a.md = Some(val("--md")?),
            "--html" => a.html = Some(val("--html")?),
            "--compare" => a.compare = Some(val("--compare")?),
            "--store" => a.store = Some(val("--store")?),
            "--judge-model" => a.judge_model = Some(val("--judge-model")?),
            "--llm-timeout" => {
                a.llm_timeout = val("--llm-timeout")?
                    .parse()
                    .map_err(|_| "--llm-timeout takes seconds")?;
            }
            "--no-answer-checks" => a.no_answer_checks = true,
            "--protocol" => a.protocol = Some(val("--protocol")?),
            "--candidates" => {
                a.candidates = Some(
                    val("--candidates")?
                        .parse()
                        .map_err(|_| "--candidates takes a number")?,
                );
            }
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s => {
                if !a.suite.is_empty() {
                    return Err(format!("one suite at a time (got {} and {s})", a.suite));
                }
                a.suite = s.to_string();
            }
        }
    }
    if a.suite.is_empty() {
        return Err("give a suite file".to_string());
    }
    Ok(a)
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("error: {msg}\n");
    }
    eprintln!(
        "usage: cargo run --example eval -- SUITE.yaml [--connection URL]... [--baseline] \
         [--concurrency N] [--timeout SECS] [--only ID,ID] [--label TEXT] [--cassette PATH \
         [--record]] [--out JSON] [--md PATH] [--html PATH] [--compare BEFORE.json] \
         [--store sqlite://PATH] [--judge-model NAME] [--llm-timeout SECS] [--no-answer-checks] \
         [--protocol auto|native_tools|json_text|sql_first] [--candidates N]\n\
         model: MC_LLM_BASE_URL and MC_LLM_MODEL (an OpenAI-compatible server) or OPENAI_API_KEY"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let args = parse().unwrap_or_else(|e| usage(&e));
    match run(args).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2)
        }
    }
}

async fn run(args: Args) -> Result<i32, Box<dyn std::error::Error>> {
    let suite = Suite::from_path(&args.suite)?;
    let mut config = OpenAiConfig::from_env();
    // A small model on a busy CPU takes minutes to read a long prompt before its first token.
    config.http.first_byte_timeout = Duration::from_secs_f64(args.llm_timeout);
    config.http.idle_timeout = Duration::from_secs_f64(args.llm_timeout.min(300.0));
    let model = config.model.clone();
    let mut llm = OpenAiClient::new(config.clone())?;
    if let Some(path) = &args.cassette {
        let mode = if args.record {
            CassetteMode::Record
        } else {
            CassetteMode::Replay
        };
        llm = Cassette::open(path, mode)?.wrap(llm);
    }
    let mut builder = Agent::builder()
        .llm(llm)
        .generate_title(false)
        .answer_checks(!args.no_answer_checks)
        .max_wall_time(Some(Duration::from_secs(3_600)));
    if let Some(n) = args.candidates {
        builder = builder.sql_candidates(n);
    }
    if let Some(p) = &args.protocol {
        builder = builder.protocol(
            serde_json::from_value(serde_json::Value::String(p.clone()))
                .map_err(|e| format!("--protocol {p}: {e}"))?,
        );
    }
    if args.connections.is_empty() {
        builder = builder.connection(metricchat::connectors::flights_sample("flights")?);
    }
    for url in &args.connections {
        builder = builder.connection(metricchat::connect(url)?);
    }
    let store: Option<Arc<dyn Store>> = match &args.store {
        Some(s) => {
            let path = s.strip_prefix("sqlite://").unwrap_or(s);
            Some(Arc::new(SqliteStore::open(path).await?))
        }
        None => None,
    };
    if let Some(s) = &store {
        builder = builder.store(Arc::clone(s));
    }
    let agent = builder.build()?;

    let tty = std::io::stderr().is_terminal();
    let mut evaluator = Evaluator::new(agent)
        .mode(if args.baseline {
            EvalMode::Baseline
        } else {
            EvalMode::Agent
        })
        .concurrency(args.concurrency)
        .label(args.label.clone().unwrap_or_else(|| model.clone()))
        .on_progress(move |p| {
            let c = &p.last;
            let verdict = if c.passed {
                "pass".to_string()
            } else {
                format!("FAIL {}", c.failure.map_or("", |f| f.as_str()))
            };
            let line = format!(
                "[{}/{}] {} passed · {} {} ({:.1} s, {} it)",
                p.done, p.total, p.passed, c.id, verdict, c.seconds, c.iterations
            );
            let mut err = std::io::stderr();
            if tty {
                let _ = write!(err, "\r\x1b[2K{line}");
                if p.done == p.total {
                    let _ = writeln!(err);
                }
            } else {
                let _ = writeln!(err, "{line}");
            }
        });
    if let Some(t) = args.timeout {
        evaluator = evaluator.timeout(Duration::from_secs_f64(t));
    }
    if let Some(only) = &args.only {
        evaluator = evaluator.only(only.clone());
    }
    if let Some(judge) = &args.judge_model {
        let mut jc = config.clone();
        jc.model = judge.clone();
        let judge: Arc<dyn LlmClient> = Arc::new(OpenAiClient::new(jc)?);
        evaluator = evaluator.judge(judge);
    }
    // Ctrl-C stops the run: running cases are cancelled, the report covers what ran.
    let cancel = evaluator.cancellation_token();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ncancelling…");
            cancel.cancel();
        }
    });

    let report = evaluator.run(&suite).await?;
    println!("{}", report.to_markdown());
    if let Some(p) = &args.out {
        std::fs::write(p, report.to_json())?;
    }
    if let Some(p) = &args.md {
        std::fs::write(p, report.to_markdown())?;
    }
    if let Some(p) = &args.html {
        std::fs::write(p, report.to_html())?;
    }
    if let Some(s) = &store {
        s.put_eval_run(&report.to_record()?).await?;
    }
    if let Some(p) = &args.compare {
        let before = EvalReport::from_json(&std::fs::read_to_string(p)?)?;
        let cmp = report.compare(&before);
        println!("{}", cmp.to_markdown());
        if cmp.has_regressions() {
            return Ok(1);
        }
    }
    Ok(0)
}
