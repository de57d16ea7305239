//! The `metricchat` command line: arguments (clap) and the subcommands, each a few calls into
//! the agent.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use futures::StreamExt;
use metricchat::approval::Approvals;
use metricchat::events::{Event, EventKind};
use metricchat::guard::SqlGuard;
use metricchat::{AskResult, Error, RunStatus};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::approve::{self as approving, Answers, ApproveMode, Unattended};
use crate::config::Overrides;
use crate::exit::{self, CliError, EXIT_CODES_HELP, Redactor};
use crate::output::{self, Format};
use crate::session::{self, Needs, Session, Sources};
use crate::steps;

/// How long a cancelled run or query may take to stop before the process exits anyway.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

const ABOUT: &str = "Ask your data questions in plain language: an AI analytics agent that \
writes read-only SQL, runs it, and answers. Also an MCP server for AI assistants.";

const AFTER_HELP: &str = "\
Examples:
  metricchat ask \"Which carrier had the worst average departure delay?\"
  metricchat ask --json \"How many flights left JFK in July?\" | jq .type
  metricchat query \"SELECT carrier, COUNT(*) AS n FROM flights GROUP BY carrier\" --format csv
  metricchat tables
  metricchat --connection postgres://analyst@db/warehouse describe orders
  metricchat mcp                      # an MCP server on stdio (Claude Desktop, Cursor)
  metricchat eval evals/flights.yaml --compare last   # exit 6 on a regression
  metricchat dashboard from-run 0193c2f0-… --save && metricchat dashboard list

Configuration: ./metricchat.toml (or --config / MC_CONFIG) holds the same spec the Python and
Node packages take (llm, connections, store, rules, guard, …). Without one, the bundled NYC
flights sample (2013) is the data. The model comes from `llm`, --model, MC_LLM, or
OPENAI_API_KEY / MC_LLM_BASE_URL + MC_LLM_MODEL. Secrets only from the environment (${VAR})
or api_key_file; they are never printed.

";

/// The `metricchat` command line.
#[derive(Debug, Parser)]
#[command(
    name = "metricchat",
    version,
    about = ABOUT,
    after_help = format!("{AFTER_HELP}{EXIT_CODES_HELP}"),
)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The configuration file [default: ./metricchat.toml when it exists].
    #[arg(long, global = true, env = "MC_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// A connection URL for this command, instead of the configured ones (repeatable):
    /// postgres://…, mysql://…, sqlite:///file.db, file:///data/*.parquet, a path, or
    /// sample:flights.
    #[arg(long = "connection", short = 'c', global = true, value_name = "URL")]
    pub connections: Vec<String>,
    /// The model for this command: a spec such as openai:gpt-4.1-mini,
    /// anthropic:claude-sonnet-4-5, ollama:qwen2.5-coder:1.5b,
    /// openai_compatible:qwen@http://127.0.0.1:8089/v1, or just a model name for the
    /// configured provider.
    #[arg(long, global = true, value_name = "SPEC")]
    pub model: Option<String>,
    /// Where runs are kept: sqlite:///path.db, a path ending in .db, postgres://…, or memory
    /// [default: ~/.local/share/metricchat/runs.db].
    #[arg(long, global = true, env = "MC_STORE", value_name = "SPEC")]
    pub store: Option<String>,
    /// Print no progress, only results and errors.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask a question; the agent's steps stream live, then the SQL, the result and the answer.
    #[command(after_help = "\
Examples:
  metricchat ask \"Which carrier had the worst average departure delay in 2013?\"
  metricchat ask --json \"Top 5 destinations from JFK\" > events.jsonl
  metricchat ask --follow-up 0193c2f0-… \"And from LGA?\"

Steps go to stderr (a spinner on a terminal, plain lines otherwise); the SQL, the table and the
answer go to stdout. Ctrl-C cancels the run and its running query (exit 130).

With an `approval` setting, a statement whose estimate exceeds it waits for a decision: on a
terminal you are asked (y/N); otherwise it is denied unless --approve all (or --approve prompt
with the answers piped on stdin). A denial is not an error: the agent is told and answers.
  metricchat ask --approve all \"Rows per carrier\"
  printf 'n\\nToo expensive\\n' | metricchat ask --approve prompt \"Every flight\"")]
    Ask(AskArgs),
    /// Run read-only SQL through the guard and write the rows (table, CSV, JSON lines, Parquet,
    /// Arrow IPC).
    #[command(after_help = "\
Examples:
  metricchat query \"SELECT origin, COUNT(*) AS n FROM flights GROUP BY origin\"
  metricchat query \"SELECT * FROM airlines\" --format csv > airlines.csv
  metricchat query \"SELECT * FROM flights\" --max-rows 100000 --output flights.parquet
  echo \"SELECT 1\" | metricchat query -

The guard refuses anything but one read-only statement (exit 4) and caps the rows.")]
    Query(QueryArgs),
    /// List the tables of every connection.
    #[command(after_help = "\
Examples:
  metricchat tables
  metricchat --connection sqlite:///chinook.db tables --json")]
    Tables(TablesArgs),
    /// Describe a table: columns, types, comments, keys.
    #[command(after_help = "\
Examples:
  metricchat describe flights
  metricchat describe public.orders --use warehouse --json")]
    Describe(DescribeArgs),
    /// Show the context the model would get for a question: chosen tables and why, rules,
    /// each prompt section's tokens. Calls no model.
    #[command(after_help = "\
Examples:
  metricchat explain \"average delay by carrier\"
  metricchat explain --prompt \"average delay by carrier\"   # with the whole system prompt")]
    Explain(ExplainArgs),
    /// List and inspect stored runs.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Serve the agent over the Model Context Protocol (stdio by default, or Streamable HTTP).
    #[command(after_help = "\
Examples:
  metricchat mcp                                   # stdio, for Claude Desktop / Cursor
  metricchat mcp http --bind 127.0.0.1:8765        # http://127.0.0.1:8765/mcp
  MC_MCP_TOKEN=… metricchat mcp http --bind 0.0.0.0:8765

Tools: ask, run_sql, list_tables, describe_table, search_knowledge. Resources: the table
schemas and the team's rules. A non-loopback address needs a bearer token.
With an `approval` setting, `ask` puts each statement that waits for approval to the client's
user (MCP elicitation); a client without elicitation gets it denied, or approved with
--approve all.")]
    Mcp(McpArgs),
    /// Run eval suites (questions with expected results) through the agent and report what
    /// passed; exit 6 when cases fail, for CI.
    #[command(after_help = "\
Examples:
  metricchat eval evals/flights.yaml
  metricchat eval evals/flights.yaml --only jfk-flights-2013,worst-carrier-name --timeout 2m
  metricchat eval evals/flights.yaml --out flights.json --md flights.md --html flights.html
  metricchat eval evals/flights.yaml --compare baseline.json      # exit 6 only on a regression
  metricchat eval evals/flights.yaml --compare last --min-pass-rate 80%
  metricchat -c \"sqlite://data/chinook/chinook.sqlite?name=chinook\" eval evals/chinook.yaml --json

One line per finished case on stderr (pass / FAIL and its class, seconds, iterations); the
Markdown report (or, with --json, one JSON object per suite) on stdout. Reports are kept in the
store (--no-store to skip), so --compare last compares with the previous run of the suite.
With several suites, report paths take {suite}: --out results/{suite}.json.
Exit codes: 0 every case passed (with --compare: no regression; with --min-pass-rate: enough
passed), 6 otherwise, 2 a bad suite or flag, 3 a connection failed, 130 interrupted.")]
    Eval(crate::eval::EvalArgs),
    /// Build, list, refresh and render dashboards (saved, re-runnable analyses).
    #[command(
        subcommand,
        after_help = "\
Examples:
  metricchat dashboard from-run 0193c2f0-… --save
  metricchat dashboard list
  metricchat dashboard show 0193c2f0-…
  metricchat dashboard refresh 0193c2f0-… --param carrier=UA --save
  metricchat dashboard html 0193c2f0-… --output flights.html"
    )]
    Dashboard(crate::dashboard::DashboardCommand),
}

/// `metricchat ask`.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question.
    pub question: String,
    /// Write every event as one JSON line on stdout instead of the readable view.
    #[arg(long)]
    pub json: bool,
    /// Continue the conversation of this earlier run.
    #[arg(long, value_name = "RUN_ID")]
    pub follow_up: Option<Uuid>,
    /// Rows of the result shown.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub rows: usize,
    /// Who decides a statement that waits for approval (the `approval` setting): prompt
    /// (show it on stderr, read y/N from stdin), all (approve each one), never (deny each one;
    /// the agent answers without it) [default: prompt when stdin is a terminal, else never].
    #[arg(long, value_enum, value_name = "WHO")]
    pub approve: Option<ApproveMode>,
}

/// `metricchat query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL (`-` reads it from stdin).
    pub sql: String,
    /// Output format [default: from --output's extension, else table].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<Format>,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The connection to run on, by name (the first when absent).
    #[arg(long = "use", value_name = "NAME")]
    pub use_connection: Option<String>,
    /// Row cap for this query (the configured guard.max_rows when absent).
    #[arg(long, value_name = "N")]
    pub max_rows: Option<u64>,
}

/// `metricchat tables`.
#[derive(Debug, Args)]
pub struct TablesArgs {
    /// JSON instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// `metricchat describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The table (`name` or `schema.name`).
    pub table: String,
    /// The connection, by name (the first when absent).
    #[arg(long = "use", value_name = "NAME")]
    pub use_connection: Option<String>,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `metricchat explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The question.
    pub question: String,
    /// The plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also print the whole system prompt.
    #[arg(long)]
    pub prompt: bool,
}

/// `metricchat runs`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// The latest runs, newest first.
    #[command(
        after_help = "Examples:\n  metricchat runs list\n  metricchat runs list --limit 5 --json"
    )]
    List {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One run: question, status, steps, queries, answer.
    #[command(
        after_help = "Examples:\n  metricchat runs show 0193c2f0-…\n  metricchat runs show 0193c2f0-… --json"
    )]
    Show {
        /// The run id.
        id: Uuid,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `metricchat mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// A statement that waits for approval is put to the client's user (MCP elicitation); for
    /// a client that cannot ask (no elicitation support) it is denied (never) or approved
    /// (all).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = Unattended::Never,
        value_name = "WHO"
    )]
    pub approve: Unattended,
    /// The transport.
    #[command(subcommand)]
    pub transport: Option<McpTransport>,
}

/// How the MCP server is reached.
#[derive(Debug, Subcommand)]
pub enum McpTransport {
    /// JSON-RPC over stdin/stdout (what desktop assistants launch).
    Stdio,
    /// Streamable HTTP at http://BIND/mcp.
    Http {
        /// Address to listen on. Any non-loopback address needs --token.
        #[arg(long, default_value = "127.0.0.1:8765", value_name = "ADDR")]
        bind: SocketAddr,
        /// Bearer token required on every request (prefer the environment variable: flags
        /// show in process lists).
        #[arg(
            long,
            env = "MC_MCP_TOKEN",
            hide_env_values = true,
            value_name = "TOKEN"
        )]
        token: Option<String>,
    },
}

/// Parses the arguments, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let code = runtime.block_on(run(cli));
    // Do not wait for blocking tasks (a stdin read in the MCP server, a query being torn down).
    runtime.shutdown_timeout(Duration::from_millis(200));
    ExitCode::from(code)
}

fn init_tracing() {
    let filter = std::env::var("MC_LOG")
        .ok()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> u8 {
    let sources = Sources {
        config: cli.global.config.clone(),
        overrides: Overrides {
            connections: cli.global.connections.clone(),
            model: cli.global.model.clone(),
            store: cli.global.store.clone(),
        },
    };
    let mut config = match session::load(&sources) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    // Suites are read before anything is opened: a bad one costs no connection or model call.
    let prepared = match &cli.command {
        Command::Eval(args) => match crate::eval::prepare(args, &mut config) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!(
                    "error: {}",
                    Redactor::new(config.secrets.clone()).apply(&e.message)
                );
                return e.code;
            }
        },
        _ => None,
    };
    let needs = match &cli.command {
        Command::Ask(_) | Command::Mcp(_) | Command::Eval(_) => Needs::Model,
        _ => Needs::DataOnly,
    };
    // `eval` runs many cases with no one at the terminal: its --approve decides for all.
    let approval_handler = match &cli.command {
        Command::Eval(args) => Some(args.approve.handler(approving::NO_ONE_IN_EVAL)),
        _ => None,
    };
    let session = match session::open_with(&config, needs, approval_handler).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: {}",
                Redactor::new(config.secrets.clone()).apply(&e.message)
            );
            return e.code;
        }
    };
    let quiet = cli.global.quiet;
    let result = match cli.command {
        Command::Ask(args) => ask(&session, args, quiet).await,
        Command::Query(args) => query(&session, args, quiet).await,
        Command::Tables(args) => tables(&session, args).await,
        Command::Describe(args) => describe(&session, args).await,
        Command::Explain(args) => explain(&session, args).await,
        Command::Runs(cmd) => runs(&session, cmd).await,
        Command::Mcp(args) => mcp(&session, args).await,
        Command::Eval(args) => match prepared {
            Some(p) => crate::eval::run(&session, args, p, quiet).await,
            None => Err(CliError::new(
                exit::FAILED,
                "eval: the suites were not read",
            )),
        },
        Command::Dashboard(cmd) => crate::dashboard::run(&session, cmd, quiet).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", session.redactor.apply(&e.message));
            e.code
        }
    }
}

/// Where the steps of a run go while it works.
enum Progress {
    /// A spinner with step lines above it (stderr is a terminal).
    Spinner(indicatif::ProgressBar),
    /// One line per step on stderr.
    Lines,
    /// Nothing (`--quiet`, `--json`).
    Silent,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        if quiet {
            Self::Silent
        } else if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar.set_message("starting…");
            Self::Spinner(bar)
        } else {
            Self::Lines
        }
    }

    fn line(&self, line: &str) {
        match self {
            Self::Spinner(bar) => bar.println(line),
            Self::Lines => eprintln!("{line}"),
            Self::Silent => {}
        }
    }

    fn event(&self, ev: &Event, redactor: &Redactor) {
        if let Some(line) = steps::step_line(ev) {
            self.line(&redactor.apply(&line));
        }
        if let (Self::Spinner(bar), Some(activity)) = (self, steps::activity(ev)) {
            bar.set_message(activity);
        }
    }

    /// A line shown even with `--json` (on stderr), but not with `--quiet`.
    fn notice(&self, line: &str, quiet: bool) {
        match self {
            Self::Silent if !quiet => eprintln!("{line}"),
            _ => self.line(line),
        }
    }

    /// Clears the spinner while a person answers a prompt on the terminal.
    fn pause(&self) {
        if let Self::Spinner(bar) = self {
            bar.disable_steady_tick();
            bar.finish_and_clear();
        }
    }

    /// Shows the spinner again after [`Progress::pause`].
    fn resume(&self) {
        if let Self::Spinner(bar) = self {
            bar.reset();
            bar.enable_steady_tick(Duration::from_millis(100));
        }
    }

    fn finish(&self) {
        if let Self::Spinner(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Decides the run's approval requests (`approval.requested`) as `--approve` says, through
/// the run handle; the core does the waiting, the timeout and the audit.
struct Decider {
    mode: ApproveMode,
    approvals: Approvals,
    quiet: bool,
    /// Stdin's lines, read once a prompt needs them.
    answers: Option<Answers>,
    /// Prompts, by request, and whether each got its answer.
    prompts: HashMap<Uuid, (tokio::task::JoinHandle<()>, Arc<AtomicBool>)>,
}

impl Decider {
    /// Before `ev` is shown: a prompt whose request was decided elsewhere (the timeout, Ctrl-C)
    /// stops asking, so the step line saying so starts on a line of its own.
    fn settle(&mut self, ev: &Event, progress: &Progress) {
        if let EventKind::ApprovalResolved { approval_id, .. } = &ev.kind
            && let Some((task, answered)) = self.prompts.remove(approval_id)
        {
            if !answered.load(Ordering::SeqCst) {
                task.abort();
                eprintln!();
            }
            progress.resume();
        }
    }

    /// After `ev` is shown: decides a new request as `--approve` says.
    fn decide(&mut self, ev: &Event, progress: &Progress, redactor: &Redactor) {
        if let EventKind::ApprovalRequested {
            approval_id,
            connection,
            sql,
            estimate,
            reason,
            timeout_ms,
            ..
        } = &ev.kind
        {
            let id = *approval_id;
            match self.mode {
                ApproveMode::All => {
                    let line = format!(
                        "  approving it (--approve all): {}",
                        steps::one_line(sql, 200)
                    );
                    progress.notice(&redactor.apply(&line), self.quiet);
                    let _ = self.approvals.approve(id);
                }
                ApproveMode::Never => {
                    let line = format!("  denying it: {}", approving::NO_ONE);
                    progress.notice(&line, self.quiet);
                    let _ = self.approvals.deny(id, approving::NO_ONE);
                }
                ApproveMode::Prompt => {
                    progress.pause();
                    let text = redactor.apply(&approving::request_text(
                        connection,
                        sql,
                        estimate.as_ref(),
                        reason,
                    ));
                    let answers = self.answers.get_or_insert_with(Answers::stdin).clone();
                    let approvals = self.approvals.clone();
                    let timeout_ms = *timeout_ms;
                    let answered = Arc::new(AtomicBool::new(false));
                    let done = Arc::clone(&answered);
                    let task = tokio::spawn(async move {
                        let decision = answers.prompt(&text, timeout_ms).await;
                        done.store(true, Ordering::SeqCst);
                        // Decided meanwhile (timed out, cancelled): the answer is moot.
                        let _ = approvals.decide(id, decision);
                    });
                    self.prompts.insert(id, (task, answered));
                }
            }
        }
    }
}

impl Drop for Decider {
    fn drop(&mut self) {
        for (task, _) in self.prompts.values() {
            task.abort();
        }
    }
}

async fn ask(session: &Session, args: AskArgs, quiet: bool) -> Result<u8, CliError> {
    let agent = &session.agent;
    let mut run = match args.follow_up {
        Some(prev) => agent.follow_up(prev, args.question.clone()).await?,
        None => agent.stream(args.question.clone()),
    };
    let progress = if args.json {
        Progress::Silent
    } else {
        Progress::new(quiet)
    };
    let mut decider = Decider {
        mode: ApproveMode::resolve(args.approve),
        approvals: run.approvals(),
        quiet,
        answers: None,
        prompts: HashMap::new(),
    };
    let cancel = run.cancellation_token();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    let mut stdout = std::io::stdout().lock();
    loop {
        tokio::select! {
            ev = run.next() => {
                let Some(ev) = ev else { break };
                decider.settle(&ev, &progress);
                if args.json {
                    let line = serde_json::to_string(&ev).unwrap_or_default();
                    let _ = writeln!(stdout, "{}", session.redactor.apply(&line));
                    let _ = stdout.flush();
                } else {
                    progress.event(&ev, &session.redactor);
                }
                decider.decide(&ev, &progress, &session.redactor);
            }
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                progress.line("interrupted: cancelling the run and its query… (Ctrl-C again to quit now)");
                cancel.cancel();
                exit_on_second_ctrl_c();
            }
        }
    }
    drop(stdout);
    drop(decider);
    let outcome = tokio::time::timeout(CANCEL_GRACE, run.finish())
        .await
        .unwrap_or(Err(Error::Cancelled));
    progress.finish();
    if interrupted {
        return Ok(exit::INTERRUPTED);
    }
    match outcome {
        Ok(result) => {
            if !args.json {
                print_result(&result, args.rows, &session.redactor)?;
            }
            Ok(match result.status {
                RunStatus::Completed | RunStatus::AwaitingInput => exit::OK,
                RunStatus::Cancelled | RunStatus::Interrupted => exit::INTERRUPTED,
                _ => exit::FAILED,
            })
        }
        Err(e) => {
            let code = match exit::code_for(&e) {
                // A run that failed for a usage-like reason is still a failed run.
                exit::USAGE | exit::NOT_FOUND => exit::FAILED,
                c => c,
            };
            Err(CliError::new(code, format!("the run failed: {e}")))
        }
    }
}

/// After the first Ctrl-C: a second one quits at once.
fn exit_on_second_ctrl_c() {
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted");
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
    });
}

fn print_result(result: &AskResult, rows: usize, redactor: &Redactor) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if let Some(ds) = result.dataset() {
        writeln!(out, "SQL:\n{}\n", indent(&ds.sql))?;
        let (head, total) = output::head(&ds.data.batches, rows);
        output::write_batches(Format::Table, &ds.data.schema, &head, &mut out)
            .map_err(|e| CliError::new(exit::FAILED, e.to_string()))?;
        if total > rows {
            writeln!(out, "… {} more row(s) ({total} in all)", total - rows)?;
        }
        writeln!(out)?;
    }
    match result.status {
        RunStatus::AwaitingInput => {
            writeln!(
                out,
                "The agent asks: {}\n(reply with: metricchat ask --follow-up {} \"…\")",
                redactor.apply(result.clarification.as_deref().unwrap_or("")),
                result.run_id
            )?;
        }
        _ => {
            writeln!(
                out,
                "Answer:\n{}",
                redactor.apply(result.answer.as_deref().unwrap_or("(no answer)"))
            )?;
        }
    }
    writeln!(out, "\nRun: {}", result.run_id)?;
    out.flush()?;
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn query(session: &Session, args: QueryArgs, quiet: bool) -> Result<u8, CliError> {
    let sql = if args.sql == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
        text
    } else {
        args.sql.clone()
    };
    let format = args
        .format
        .or_else(|| args.output.as_deref().and_then(Format::from_path))
        .unwrap_or(Format::Table);
    if format.is_binary() && args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(CliError::usage(format!(
            "{format:?} is binary: write it with --output FILE or pipe stdout"
        )));
    }
    let conn = session::connection(&session.agent, args.use_connection.as_deref())?;
    let mut guard_config = session.agent.config().guard.clone();
    if let Some(n) = args.max_rows {
        guard_config.max_rows = Some(n);
    }
    let cap = guard_config.max_rows;
    let guard = SqlGuard::new(guard_config);
    let token = CancellationToken::new();
    tracing::debug!(connection = %conn.info().name, "running the query");
    let work = guard.run(conn, &sql, Some(token.clone()));
    tokio::pin!(work);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let data = tokio::select! {
        data = &mut work => data,
        _ = &mut ctrl_c => {
            if !quiet {
                eprintln!("interrupted: cancelling the query…");
            }
            token.cancel();
            exit_on_second_ctrl_c();
            let _ = tokio::time::timeout(CANCEL_GRACE, &mut work).await;
            return Ok(exit::INTERRUPTED);
        }
    };
    let data = data?;
    let rows = data.num_rows();
    match &args.output {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))?;
            output::write_batches(format, &data.schema, &data.batches, &mut file)
                .map_err(|e| CliError::new(exit::FAILED, e.to_string()))?;
            if !quiet {
                eprintln!("{rows} row(s) written to {}", path.display());
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            output::write_batches(format, &data.schema, &data.batches, &mut out)
                .map_err(|e| CliError::new(exit::FAILED, e.to_string()))?;
            if !quiet && format == Format::Table {
                eprintln!("{rows} row(s)");
            }
        }
    }
    if !quiet && cap.is_some_and(|c| u64::try_from(rows).is_ok_and(|r| r >= c)) {
        eprintln!(
            "note: the row cap ({}) was reached; raise it with --max-rows",
            cap.unwrap_or_default()
        );
    }
    Ok(exit::OK)
}

async fn tables(session: &Session, args: TablesArgs) -> Result<u8, CliError> {
    let mut items = Vec::new();
    let several = session.agent.connections().len() > 1;
    let mut out = std::io::stdout().lock();
    for conn in session.agent.connections() {
        let name = conn.info().name;
        for t in conn.list_tables().await? {
            if args.json {
                items.push(serde_json::json!({"connection": name, "table": t.to_string()}));
            } else if several {
                writeln!(out, "{name}: {t}")?;
            } else {
                writeln!(out, "{t}")?;
            }
        }
    }
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&items).unwrap_or_default()
        )?;
    }
    Ok(exit::OK)
}

async fn describe(session: &Session, args: DescribeArgs) -> Result<u8, CliError> {
    let (text, json) =
        crate::mcp::describe(&session.agent, args.use_connection.as_deref(), &args.table).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        )?;
    } else {
        write!(out, "{text}")?;
    }
    Ok(exit::OK)
}

async fn explain(session: &Session, args: ExplainArgs) -> Result<u8, CliError> {
    let plan = session.agent.explain_context(&args.question).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&plan).unwrap_or_default()
        )?;
    } else {
        writeln!(out, "{}", plan.explain())?;
        if args.prompt
            && let Some(p) = &plan.system_prompt
        {
            writeln!(out, "\nSystem prompt:\n{p}")?;
        }
    }
    Ok(exit::OK)
}

async fn runs(session: &Session, cmd: RunsCommand) -> Result<u8, CliError> {
    let store = session.agent.store();
    let mut out = std::io::stdout().lock();
    match cmd {
        RunsCommand::List { limit, json } => {
            let runs = store.list_runs(limit).await?;
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&runs).unwrap_or_default()
                )?;
            } else if runs.is_empty() {
                writeln!(out, "no runs yet")?;
            } else {
                for r in runs {
                    writeln!(
                        out,
                        "{}  {:<15} {}  {}",
                        r.id,
                        r.status.as_str(),
                        r.created_at.format("%Y-%m-%d %H:%M"),
                        steps::one_line(r.title.as_deref().unwrap_or(&r.question), 80)
                    )?;
                }
            }
        }
        RunsCommand::Show { id, json } => {
            let run = store
                .get_run(id)
                .await?
                .ok_or_else(|| CliError::new(exit::NOT_FOUND, format!("run not found: {id}")))?;
            let decisions = store.decisions(id).await?;
            let executions = store.tool_executions(id).await?;
            let queries = store.queries(id).await?;
            if json {
                let value = serde_json::json!({
                    "run": run,
                    "decisions": decisions,
                    "tool_executions": executions,
                    "queries": queries,
                });
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                )?;
            } else {
                writeln!(out, "Run {}", run.id)?;
                writeln!(out, "Question: {}", run.question)?;
                if let Some(t) = &run.title {
                    writeln!(out, "Title:    {t}")?;
                }
                writeln!(
                    out,
                    "Status:   {} · model {} · {} step(s) · {} tokens · started {}",
                    run.status.as_str(),
                    run.model,
                    run.iterations,
                    run.usage.total(),
                    run.created_at.format("%Y-%m-%d %H:%M:%S")
                )?;
                for d in &decisions {
                    let what = d
                        .decision
                        .action
                        .as_ref()
                        .map(|a| format!("→ {}", a.tool))
                        .unwrap_or_else(|| "answer".into());
                    let why = d
                        .decision
                        .reasoning_message
                        .as_deref()
                        .map(|r| format!(": {}", steps::one_line(r, 160)))
                        .unwrap_or_default();
                    writeln!(out, "  step {} {what}{why}", d.iteration + 1)?;
                }
                for q in &queries {
                    writeln!(
                        out,
                        "  query [{}] {}{}{}",
                        q.status.as_str(),
                        steps::one_line(q.executed_sql.as_deref().unwrap_or(&q.sql), 200),
                        q.row_count
                            .map(|n| format!(" → {n} row(s)"))
                            .unwrap_or_default(),
                        q.error
                            .as_deref()
                            .map(|e| format!(" ✗ {e}"))
                            .unwrap_or_default()
                    )?;
                }
                if let Some(a) = &run.answer {
                    writeln!(out, "Answer:\n{a}")?;
                }
                if let Some(e) = &run.error {
                    writeln!(out, "Error: {} ({})", e.message, e.kind)?;
                }
            }
        }
    }
    Ok(exit::OK)
}

async fn mcp(session: &Session, args: McpArgs) -> Result<u8, CliError> {
    let server = crate::mcp::McpServer::new(session.agent.clone()).approve_unattended(args.approve);
    match args.transport.unwrap_or(McpTransport::Stdio) {
        McpTransport::Stdio => {
            crate::mcp::serve_stdio(server).await?;
            Ok(exit::OK)
        }
        McpTransport::Http { bind, token } => {
            let shutdown = CancellationToken::new();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    stop.cancel();
                }
            });
            let opts = crate::mcp::HttpOptions {
                token,
                shutdown: shutdown.clone(),
                on_listening: Some(Arc::new(|addr| {
                    eprintln!("metricchat MCP server listening on http://{addr}/mcp");
                })),
            };
            match crate::mcp::serve_http(server, bind, opts).await {
                Ok(()) if shutdown.is_cancelled() => Ok(exit::INTERRUPTED),
                Ok(()) => Ok(exit::OK),
                Err(e @ crate::mcp::HttpServeError::TokenRequired(_)) => {
                    Err(CliError::usage(e.to_string()))
                }
                Err(e) => Err(CliError::new(exit::FAILED, e.to_string())),
            }
        }
    }
}
