//! `metricchat dashboard`: the core's dashboards ([`metricchat::dashboard`]) from a terminal —
//! built from a stored run, listed, shown, refreshed and rendered as one self-contained page.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use metricchat::dashboard::{Dashboard, ParameterType};
use uuid::Uuid;

use crate::exit::{self, CliError};
use crate::session::Session;

/// `metricchat dashboard`.
#[derive(Debug, Subcommand)]
pub enum DashboardCommand {
    /// Build a dashboard from a stored run, without a model: its answer, a KPI card per
    /// one-row result, its charts, its last result as a table.
    #[command(after_help = "\
Examples:
  metricchat dashboard from-run 0193c2f0-… --save
  metricchat dashboard from-run 0193c2f0-… --title \"Departures\" --refresh > departures.json

Without --save the dashboard's JSON goes to stdout (or --output); with it, the dashboard is
stored and its id printed.")]
    FromRun(FromRunArgs),
    /// The stored dashboards, most recently saved first.
    #[command(after_help = "\
Examples:
  metricchat dashboard list
  metricchat dashboard list --json")]
    List {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// A stored dashboard as JSON (blocks, parameters, last results).
    #[command(after_help = "\
Examples:
  metricchat dashboard show 0193c2f0-…
  metricchat dashboard show 0193c2f0-… --version 1 > v1.json")]
    Show {
        /// The dashboard id.
        id: Uuid,
        /// A version (default: the latest).
        #[arg(long, value_name = "N")]
        version: Option<u32>,
    },
    /// Re-run every block's query (concurrently, through the guard) and report each block.
    #[command(after_help = "\
Examples:
  metricchat dashboard refresh 0193c2f0-… --save
  metricchat dashboard refresh flights.json --param carrier=UA --output flights.json
  metricchat dashboard refresh 0193c2f0-… --param period=2013-01-01..2013-03-31 --html page.html

A block that fails keeps its error and the others still refresh; the output is written either
way and the exit code is 1 when any block failed.")]
    Refresh(RefreshArgs),
    /// Render one self-contained HTML page (charts inlined, data embedded, no network).
    #[command(after_help = "\
Examples:
  metricchat dashboard html 0193c2f0-… --output flights.html
  metricchat dashboard html flights.json --refresh --param carrier=UA -o ua.html")]
    Html(HtmlArgs),
}

/// `metricchat dashboard from-run`.
#[derive(Debug, Args)]
pub struct FromRunArgs {
    /// The run (see `metricchat runs list`).
    pub run_id: Uuid,
    /// The title [default: the run's].
    #[arg(long)]
    pub title: Option<String>,
    /// Run the blocks' queries before saving or writing it.
    #[arg(long)]
    pub refresh: bool,
    /// Store it (and print its id) instead of writing its JSON.
    #[arg(long)]
    pub save: bool,
    /// Write the JSON to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `metricchat dashboard refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// A stored dashboard's id, or a dashboard JSON file.
    #[arg(value_name = "ID|FILE")]
    pub dashboard: String,
    /// A parameter value, `name=value` (a date range as `START..END`); repeatable.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Store the refreshed dashboard as a new version.
    #[arg(long)]
    pub save: bool,
    /// Write the refreshed JSON to this file [default: stdout, unless --save or --html].
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// `metricchat dashboard html`.
#[derive(Debug, Args)]
pub struct HtmlArgs {
    /// A stored dashboard's id, or a dashboard JSON file.
    #[arg(value_name = "ID|FILE")]
    pub dashboard: String,
    /// The page [default: stdout].
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Refresh the blocks first (the stored results are shown otherwise).
    #[arg(long)]
    pub refresh: bool,
    /// A parameter value for the refresh, `name=value`; repeatable (implies --refresh).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

/// Runs a `dashboard` subcommand and returns the exit code.
pub async fn run(session: &Session, cmd: DashboardCommand, quiet: bool) -> Result<u8, CliError> {
    let agent = &session.agent;
    let store = agent.store();
    match cmd {
        DashboardCommand::FromRun(args) => {
            let mut d = agent.dashboard_from_run(args.run_id).await?;
            if let Some(t) = args.title {
                d.title = t;
            }
            let mut code = exit::OK;
            if args.refresh {
                code = refresh(session, &mut d, quiet).await;
            }
            if args.save {
                save(session, &mut d, quiet).await?;
                println!("{}", d.id);
            } else {
                write_json(&d, args.output.as_deref())?;
            }
            Ok(code)
        }
        DashboardCommand::List { limit, json } => {
            let items = store.list_dashboards(limit).await?;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&items).unwrap_or_default()
                )?;
            } else if items.is_empty() {
                writeln!(out, "no dashboards yet")?;
            } else {
                for d in items {
                    writeln!(
                        out,
                        "{}  v{:<3} {}  {}",
                        d.id,
                        d.version,
                        d.updated_at.format("%Y-%m-%d %H:%M"),
                        d.title
                    )?;
                }
            }
            Ok(exit::OK)
        }
        DashboardCommand::Show { id, version } => {
            let d = store
                .get_dashboard(id, version)
                .await?
                .ok_or_else(|| not_found(id, version))?;
            write_json(&d, None)?;
            Ok(exit::OK)
        }
        DashboardCommand::Refresh(args) => {
            let mut d = load(session, &args.dashboard).await?;
            set_params(&mut d, &args.params)?;
            let code = refresh(session, &mut d, quiet).await;
            if args.save {
                save(session, &mut d, quiet).await?;
            }
            if let Some(page) = &args.html {
                write_file(page, &d.to_html())?;
            }
            if args.output.is_some() || !(args.save || args.html.is_some()) {
                write_json(&d, args.output.as_deref())?;
            }
            Ok(code)
        }
        DashboardCommand::Html(args) => {
            let mut d = load(session, &args.dashboard).await?;
            set_params(&mut d, &args.params)?;
            let mut code = exit::OK;
            if args.refresh || !args.params.is_empty() {
                code = refresh(session, &mut d, quiet).await;
            }
            let page = d.to_html();
            match &args.output {
                Some(path) => {
                    write_file(path, &page)?;
                    if !quiet {
                        eprintln!("{} written ({} bytes)", path.display(), page.len());
                    }
                }
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(page.as_bytes())?;
                    out.flush()?;
                }
            }
            Ok(code)
        }
    }
}

/// A stored dashboard by id (its latest version), or a JSON file.
async fn load(session: &Session, source: &str) -> Result<Dashboard, CliError> {
    if let Ok(id) = source.parse::<Uuid>() {
        return session
            .agent
            .store()
            .get_dashboard(id, None)
            .await?
            .ok_or_else(|| not_found(id, None));
    }
    let path = Path::new(source);
    let text = std::fs::read_to_string(path).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            exit::NOT_FOUND
        } else {
            exit::USAGE
        };
        CliError::new(
            code,
            format!("{source} is neither a dashboard id nor a readable file: {e}"),
        )
    })?;
    Dashboard::from_json(&text)
        .map_err(|e| CliError::new(exit::code_for(&e), format!("{}: {e}", path.display())))
}

/// Sets `name=value` parameters: text and dates as written, numbers parsed, a date range as
/// `START..END` (or its JSON object).
fn set_params(d: &mut Dashboard, params: &[String]) -> Result<(), CliError> {
    for p in params {
        let (name, raw) = p
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--param {p}: expected NAME=VALUE")))?;
        let name = name.trim();
        let kind = d.parameters.iter().find(|x| x.name == name).map(|x| x.kind);
        let value = match kind {
            Some(ParameterType::Number | ParameterType::Integer) => raw
                .trim()
                .parse::<serde_json::Number>()
                .map(serde_json::Value::Number)
                .unwrap_or_else(|_| serde_json::Value::String(raw.to_string())),
            Some(ParameterType::DateRange) => match raw.split_once("..") {
                Some((start, end)) => serde_json::json!({"start": start.trim(), "end": end.trim()}),
                None => serde_json::from_str(raw)
                    .unwrap_or_else(|_| serde_json::Value::String(raw.to_string())),
            },
            _ => serde_json::Value::String(raw.to_string()),
        };
        d.set_parameter(name, value)
            .map_err(|e| CliError::new(exit::code_for(&e), format!("--param {p}: {e}")))?;
    }
    Ok(())
}

/// Refreshes `d` and prints one line per block with a query; 1 when a block failed.
async fn refresh(session: &Session, d: &mut Dashboard, quiet: bool) -> u8 {
    let summary = d.refresh(&session.agent).await;
    if !quiet {
        for b in &d.blocks {
            let Some(r) = &b.result else { continue };
            let name = b.title.as_deref().unwrap_or(b.content.kind());
            let line = match &r.error {
                Some(e) => format!("✗ {}  {name}: {e}", b.id),
                None => format!(
                    "✓ {}  {name}: {} row(s){} in {} ms",
                    b.id,
                    r.row_count,
                    if r.truncated { " (cut)" } else { "" },
                    r.duration_ms
                ),
            };
            eprintln!("{}", session.redactor.apply(&line));
        }
        eprintln!(
            "refreshed {} block(s), {} failed, in {} ms",
            summary.refreshed, summary.failed, summary.duration_ms
        );
    }
    if summary.failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}

async fn save(session: &Session, d: &mut Dashboard, quiet: bool) -> Result<(), CliError> {
    let version = session.agent.save_dashboard(d).await?;
    if !quiet {
        eprintln!("saved dashboard {} version {version}", d.id);
    }
    Ok(())
}

fn write_json(d: &Dashboard, path: Option<&Path>) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(&d.to_json()).unwrap_or_default();
    match path {
        Some(p) if p != Path::new("-") => write_file(p, &format!("{text}\n")),
        _ => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}")?;
            out.flush()?;
            Ok(())
        }
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|e| {
        CliError::new(
            exit::FAILED,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}

fn not_found(id: Uuid, version: Option<u32>) -> CliError {
    CliError::new(
        exit::NOT_FOUND,
        match version {
            Some(v) => format!("dashboard not found: {id} version {v}"),
            None => format!("dashboard not found: {id}"),
        },
    )
}
