//! `metricchat eval`: eval suites (`evals/*.yaml`) run through the configured agent by the
//! core harness ([`metricchat::eval::Evaluator`]), with live per-case lines, reports written
//! as JSON / Markdown / HTML, kept in the store, compared with a baseline, and an exit code
//! CI can gate on ([`exit::CASES_FAILED`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, ValueEnum};
use metricchat::eval::{Comparison, EvalMode, EvalProgress, EvalReport, Evaluator, Suite};
use metricchat::llm::LlmSource;
use metricchat::planner::DecisionProtocol;
use uuid::Uuid;

use crate::config::{self, LoadedConfig, Overrides};
use crate::exit::{self, CliError};
use crate::session::Session;

/// The placeholder a report path takes when several suites run.
const SUITE_PLACEHOLDER: &str = "{suite}";

/// `metricchat eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Suite files (YAML or JSON; format in evals/README.md).
    #[arg(required = true, value_name = "SUITE")]
    pub suites: Vec<PathBuf>,
    /// Run only these case ids (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "ID,…")]
    pub only: Vec<String>,
    /// Time per case, overriding the suite's `defaults.timeout`: seconds, or `90s`, `5m`.
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,
    /// Cases run at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub concurrency: usize,
    /// The planner's decision protocol for this run (overrides `protocol` in the config).
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// Ask the single-prompt baseline instead of the agent (the figure the agent must beat).
    #[arg(long)]
    pub baseline: bool,
    /// A label kept with the report (a model, a branch) [default: the model].
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    /// The model that scores `judge` rubrics: a spec as for --model, or a model name for the
    /// configured provider (rubrics are reported as not scored without one).
    #[arg(long, value_name = "SPEC")]
    pub judge: Option<String>,
    /// Write the report as JSON (`{suite}` in the path stands for the suite's name).
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
    /// Write the report as Markdown.
    #[arg(long, value_name = "FILE")]
    pub md: Option<String>,
    /// Write the report as one self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<String>,
    /// Compare with an earlier report: a JSON file written by --out, a stored eval run's id,
    /// or `last` (the latest stored run of the suite). Exit 6 only on a regression.
    #[arg(long, value_name = "FILE|ID|last")]
    pub compare: Option<String>,
    /// Pass when at least this share of cases passes (0–1, or a percentage such as 90%)
    /// instead of requiring every case.
    #[arg(long, value_parser = parse_rate, value_name = "RATE")]
    pub min_pass_rate: Option<f64>,
    /// Machine output: one JSON object per suite on stdout ({"report", "comparison", "ok"}).
    #[arg(long)]
    pub json: bool,
    /// Do not keep the report in the store.
    #[arg(long)]
    pub no_store: bool,
    /// A statement that waits for approval (the `approval` setting) is denied at once
    /// (never: the case goes on without it) or approved (all); no one is asked.
    #[arg(long, value_enum, default_value_t = crate::approve::Unattended::Never, value_name = "WHO")]
    pub approve: crate::approve::Unattended,
}

/// The planner's decision protocol, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Protocol {
    /// Native tool calling when the model supports it, JSON-in-text otherwise.
    Auto,
    /// The provider's tool-calling API.
    NativeTools,
    /// One JSON decision object in the text.
    JsonText,
    /// Fixed steps, no model call in the planner (small models).
    SqlFirst,
}

impl From<Protocol> for DecisionProtocol {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::Auto => DecisionProtocol::Auto,
            Protocol::NativeTools => DecisionProtocol::NativeTools,
            Protocol::JsonText => DecisionProtocol::JsonText,
            Protocol::SqlFirst => DecisionProtocol::SqlFirst,
        }
    }
}

/// The suites, read and checked before any connection is opened or model asked.
#[derive(Debug)]
pub struct Prepared {
    suites: Vec<(PathBuf, Suite)>,
    judge: Option<LlmSource>,
}

/// Reads every suite (a missing file or an unknown key is a usage error naming it), checks
/// `--only` and the report paths, applies `--protocol` to the configuration and resolves the
/// judge model.
pub fn prepare(args: &EvalArgs, config: &mut LoadedConfig) -> Result<Prepared, CliError> {
    let mut suites = Vec::with_capacity(args.suites.len());
    for path in &args.suites {
        let suite = Suite::from_path(path).map_err(|e| CliError::usage(e.to_string()))?;
        if suites
            .iter()
            .any(|(_, s): &(PathBuf, Suite)| s.name == suite.name)
        {
            return Err(CliError::usage(format!(
                "two suites are named `{}`; names key the reports",
                suite.name
            )));
        }
        suites.push((path.clone(), suite));
    }
    if let Some(missing) = args.only.iter().find(|id| {
        !suites
            .iter()
            .any(|(_, s)| s.cases.iter().any(|c| &c.id == *id))
    }) {
        return Err(CliError::usage(format!(
            "--only: no suite has a case `{missing}`"
        )));
    }
    if suites.len() > 1 {
        for (flag, path) in [
            ("--out", &args.out),
            ("--md", &args.md),
            ("--html", &args.html),
            ("--compare", &args.compare),
        ] {
            if let Some(p) = path
                && !p.contains(SUITE_PLACEHOLDER)
                && !(flag == "--compare" && p == "last")
            {
                return Err(CliError::usage(format!(
                    "{flag} {p}: with several suites, put {SUITE_PLACEHOLDER} in the path"
                )));
            }
        }
    }
    if let Some(p) = args.protocol {
        config.spec.config.protocol = p.into();
    }
    let judge = match &args.judge {
        Some(spec) => {
            let mut judged = config.clone();
            let overrides = Overrides {
                model: Some(spec.clone()),
                ..Overrides::default()
            };
            config::apply_overrides(&mut judged, &overrides, &|n| std::env::var(n).ok())?;
            judged.spec.llm
        }
        None => None,
    };
    Ok(Prepared { suites, judge })
}

/// Runs the suites one after the other and returns the exit code: 0 when every gate holds,
/// [`exit::CASES_FAILED`] when a case failed (or, with `--compare`, regressed, or the pass rate
/// is under `--min-pass-rate`), 130 when interrupted.
pub async fn run(
    session: &Session,
    args: EvalArgs,
    prepared: Prepared,
    quiet: bool,
) -> Result<u8, CliError> {
    let judge = match &prepared.judge {
        Some(source) => Some(
            source
                .build()
                .map_err(|e| CliError::usage(format!("--judge: {e}")))?,
        ),
        None => None,
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let mut code = exit::OK;
    for (path, suite) in &prepared.suites {
        let before = baseline(session, &args, suite).await?;
        let mut evaluator = Evaluator::new(session.agent.clone())
            .mode(if args.baseline {
                EvalMode::Baseline
            } else {
                EvalMode::Agent
            })
            .concurrency(args.concurrency);
        if let Some(label) = &args.label {
            evaluator = evaluator.label(label.clone());
        }
        if let Some(t) = args.timeout {
            evaluator = evaluator.timeout(t);
        }
        if let Some(j) = &judge {
            evaluator = evaluator.judge(Arc::clone(j));
        }
        if !args.only.is_empty() {
            let ids: Vec<String> = args
                .only
                .iter()
                .filter(|id| suite.cases.iter().any(|c| &c.id == *id))
                .cloned()
                .collect();
            if ids.is_empty() {
                continue;
            }
            evaluator = evaluator.only(ids);
        }
        if !quiet {
            let name = suite.name.clone();
            evaluator = evaluator.on_progress(move |p| eprintln!("{}", progress_line(&name, p)));
            eprintln!("eval `{}` ({})", suite.name, path.display());
        }
        let cancel = evaluator.cancellation_token();
        let flag = Arc::clone(&interrupted);
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
                eprintln!("interrupted: cancelling the running cases…");
                cancel.cancel();
            }
        });
        let report = evaluator.run(suite).await;
        watcher.abort();
        let report = report?;
        let comparison = before.as_ref().map(|b| report.compare(b));
        let ok = gate(&report, comparison.as_ref(), args.min_pass_rate);
        write_reports(&args, &report)?;
        if !args.no_store {
            session
                .agent
                .store()
                .put_eval_run(&report.to_record()?)
                .await?;
        }
        print_report(&args, &report, comparison.as_ref(), ok, &session.redactor)?;
        if !quiet {
            let s = &report.summary;
            eprintln!(
                "{}: {}/{} passed ({:.1}%){} · report {}",
                report.suite,
                s.passed,
                s.total,
                s.pass_rate * 100.0,
                comparison
                    .as_ref()
                    .map(|c| format!(
                        " · {} regression(s), {} fix(es)",
                        c.regressions.len(),
                        c.fixes.len()
                    ))
                    .unwrap_or_default(),
                report.id
            );
        }
        if !ok {
            code = exit::CASES_FAILED;
        }
        if interrupted.load(Ordering::SeqCst) {
            return Ok(exit::INTERRUPTED);
        }
    }
    Ok(code)
}

/// Whether the run passes: no regression against the baseline and the pass rate at least
/// `min_rate` when either is asked for, else every case passed.
pub fn gate(report: &EvalReport, comparison: Option<&Comparison>, min_rate: Option<f64>) -> bool {
    let s = &report.summary;
    match (comparison, min_rate) {
        (None, None) => s.passed == s.total,
        (c, rate) => {
            c.is_none_or(|c| !c.has_regressions()) && rate.is_none_or(|r| s.pass_rate >= r)
        }
    }
}

/// One line per finished case: `[flights 3/60] FAIL wrong_values  jfk-2013  (4.2 s, 3 it)`.
pub fn progress_line(suite: &str, p: &EvalProgress) -> String {
    let c = &p.last;
    let verdict = if c.passed {
        "pass".to_string()
    } else {
        format!("FAIL {}", c.failure.map_or("", |f| f.as_str()))
    };
    format!(
        "[{suite} {}/{}] {verdict}  {}  ({:.1} s, {} it, {} passed so far)",
        p.done, p.total, c.id, c.seconds, c.iterations, p.passed
    )
}

/// The report to compare with, read before the run (so `last` is not this run).
async fn baseline(
    session: &Session,
    args: &EvalArgs,
    suite: &Suite,
) -> Result<Option<EvalReport>, CliError> {
    let Some(spec) = &args.compare else {
        return Ok(None);
    };
    let store = session.agent.store();
    if spec == "last" {
        let runs = store.list_eval_runs(Some(&suite.name), 1).await?;
        let Some(record) = runs.first() else {
            return Err(CliError::new(
                exit::NOT_FOUND,
                format!("--compare last: no stored eval run of `{}`", suite.name),
            ));
        };
        return Ok(Some(EvalReport::from_record(record)?));
    }
    if let Ok(id) = spec.parse::<Uuid>() {
        let record = store.get_eval_run(id).await?.ok_or_else(|| {
            CliError::new(
                exit::NOT_FOUND,
                format!("--compare: no stored eval run {id}"),
            )
        })?;
        return Ok(Some(EvalReport::from_record(&record)?));
    }
    let path = for_suite(spec, &suite.name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::usage(format!("--compare {}: {e}", path.display())))?;
    EvalReport::from_json(&text)
        .map(Some)
        .map_err(|e| CliError::usage(format!("--compare {}: {e}", path.display())))
}

fn for_suite(path: &str, suite: &str) -> PathBuf {
    PathBuf::from(path.replace(SUITE_PLACEHOLDER, suite))
}

fn write_reports(args: &EvalArgs, report: &EvalReport) -> Result<(), CliError> {
    if let Some(p) = &args.out {
        write_file(&for_suite(p, &report.suite), &report.to_json())?;
    }
    if let Some(p) = &args.md {
        write_file(&for_suite(p, &report.suite), &report.to_markdown())?;
    }
    if let Some(p) = &args.html {
        write_file(&for_suite(p, &report.suite), &report.to_html())?;
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|e| {
        CliError::new(
            exit::FAILED,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}

fn print_report(
    args: &EvalArgs,
    report: &EvalReport,
    comparison: Option<&Comparison>,
    ok: bool,
    redactor: &crate::exit::Redactor,
) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = serde_json::json!({
            "report": report,
            "comparison": comparison,
            "ok": ok,
        });
        let line = serde_json::to_string(&value).unwrap_or_default();
        writeln!(out, "{}", redactor.apply(&line))?;
    } else {
        writeln!(out, "{}", redactor.apply(&report.to_markdown()))?;
        if let Some(c) = comparison {
            writeln!(out, "{}", c.to_markdown())?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `--timeout`: seconds (`90`, `1.5`) or a number with a unit (`500ms`, `90s`, `5m`, `1h`).
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 90, 90s, 5m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{text}`: the unit is ms, s, m or h")),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("`{text}` must be more than zero"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// `--min-pass-rate`: `0.9` or `90%`.
fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let rate = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("`{text}` is not a rate (e.g. 0.9 or 90%)"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("`{text}` is not between 0 and 1 (0% and 100%)"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_and_rates_parse() {
        assert_eq!(parse_timeout("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_timeout("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_timeout("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("0").is_err());
        assert_eq!(parse_rate("90%").unwrap(), 0.9);
        assert_eq!(parse_rate("0.5").unwrap(), 0.5);
        assert!(parse_rate("120%").is_err());
    }
}
