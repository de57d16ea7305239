//! Evals from Node: `NativeEvalRun` (a suite run in progress) and the report helpers, a shell
//! over `metricchat::eval`. Reports cross as the core's `EvalReport` JSON.

use std::sync::Arc;
use std::time::Duration;

use metricchat::eval::{EvalMode, EvalReport, Evaluator, Suite};
use metricchat::llm::LlmSource;
use metricchat::{Agent, ErrorKind};
use napi::bindgen_prelude::within_runtime_if_available;
use napi_derive::napi;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::{coded, js};

/// Options of an eval run (see `evalSuite` in index.d.ts).
#[napi(object)]
#[derive(Default)]
pub struct EvalOptions {
    /// Cases run at once (default 1).
    pub concurrency: Option<u32>,
    /// Run the single-prompt baseline instead of the agent.
    pub baseline: Option<bool>,
    /// Time per case in milliseconds, overriding the suite's `defaults.timeout_secs`.
    pub timeout_ms: Option<f64>,
    /// Run only these case ids.
    pub only: Option<Vec<String>>,
    /// A label kept with the report.
    pub label: Option<String>,
    /// Keep the report in the agent's store (default true).
    pub store: Option<bool>,
    /// The model scoring `judge` rubrics: an `LlmSpec` object or a string like `"openai:gpt-4.1"`.
    pub judge: Option<serde_json::Value>,
}

type Outcome = metricchat::Result<EvalReport>;

/// Reads `suite` (a path when `is_path`, else YAML/JSON text) and starts running it on `agent`.
pub(crate) fn start(
    agent: Agent,
    suite: &str,
    is_path: bool,
    o: EvalOptions,
) -> napi::Result<NativeEvalRun> {
    let suite = js(if is_path {
        Suite::from_path(suite)
    } else {
        Suite::from_yaml(suite)
    })?;
    let mut evaluator = Evaluator::new(agent.clone())
        .mode(if o.baseline.unwrap_or(false) {
            EvalMode::Baseline
        } else {
            EvalMode::Agent
        })
        .concurrency(o.concurrency.unwrap_or(1) as usize);
    if let Some(ms) = o.timeout_ms {
        let t = Duration::try_from_secs_f64(ms / 1000.0).map_err(|e| {
            coded(
                ErrorKind::InvalidInput,
                format!("timeoutMs must be a positive number of milliseconds: {e}"),
            )
        })?;
        evaluator = evaluator.timeout(t);
    }
    if let Some(only) = o.only {
        evaluator = evaluator.only(only);
    }
    if let Some(label) = o.label {
        evaluator = evaluator.label(label);
    }
    if let Some(judge) = o.judge {
        let source: LlmSource = serde_json::from_value(judge)
            .map_err(|e| coded(ErrorKind::InvalidInput, format!("judge: {e}")))?;
        evaluator = evaluator.judge(js(source.build())?);
    }
    let (tx, rx) = mpsc::unbounded_channel::<serde_json::Value>();
    evaluator = evaluator.on_progress(move |p| {
        let _ = tx.send(serde_json::json!({
            "done": p.done,
            "total": p.total,
            "passed": p.passed,
            "last": p.last,
        }));
    });
    let cancel = evaluator.cancellation_token();
    let store = o.store.unwrap_or(true);
    let (done_tx, done_rx) = oneshot::channel::<Outcome>();
    // On a blocking thread driven by `block_on`: rustc cannot prove the evaluator's future
    // `Send` (its per-case closures borrow the suite), so it cannot be spawned as a task.
    within_runtime_if_available(|| {
        tokio::task::spawn_blocking(move || {
            let rt = tokio::runtime::Handle::current();
            let mut done = rt.block_on(evaluator.run(&suite));
            if store && let Ok(report) = &done {
                let stored = match report.to_record() {
                    Ok(record) => rt.block_on(agent.store().put_eval_run(&record)),
                    Err(e) => Err(e),
                };
                if let Err(e) = stored {
                    done = Err(e);
                }
            }
            let _ = done_tx.send(done);
            // The progress channel closes after the outcome is on its way.
            drop(evaluator);
        })
    });
    Ok(NativeEvalRun {
        cancel,
        progress: Arc::new(Mutex::new(rx)),
        outcome: Arc::new(Mutex::new(Some(done_rx))),
    })
}

/// A suite run in progress: its progress events, then its report.
#[napi]
pub struct NativeEvalRun {
    cancel: CancellationToken,
    progress: Arc<Mutex<mpsc::UnboundedReceiver<serde_json::Value>>>,
    outcome: Arc<Mutex<Option<oneshot::Receiver<Outcome>>>>,
}

#[napi]
impl NativeEvalRun {
    /// Cancels the run: running cases are cancelled, the rest are not started, and the report
    /// covers what ran.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The next progress event (`{ done, total, passed, last }`, `last` the case that just
    /// finished), or `null` when the run is over.
    #[napi]
    pub async fn next_progress(&self) -> Option<serde_json::Value> {
        self.progress.lock().await.recv().await
    }

    /// The report as the core's `EvalReport` JSON, or the run's error.
    #[napi]
    pub async fn result(&self) -> napi::Result<serde_json::Value> {
        let Some(rx) = self.outcome.lock().await.take() else {
            return Err(coded(
                ErrorKind::InvalidInput,
                "the eval run's report was already taken",
            ));
        };
        let report = js(rx
            .await
            .map_err(|_| coded(ErrorKind::Internal, "the eval run ended without a report"))?)?;
        to_value(&report)
    }
}

/// Eval reports kept in `agent`'s store (of `suite`, or every suite), newest first.
pub(crate) async fn history(
    agent: &Agent,
    suite: Option<String>,
    limit: u32,
) -> napi::Result<serde_json::Value> {
    let records = js(agent.store().list_eval_runs(suite.as_deref(), limit).await)?;
    let reports = records
        .iter()
        .map(EvalReport::from_record)
        .collect::<metricchat::Result<Vec<_>>>();
    to_value(&js(reports)?)
}

fn report(v: serde_json::Value) -> napi::Result<EvalReport> {
    serde_json::from_value(v)
        .map_err(|e| coded(ErrorKind::InvalidInput, format!("not an eval report: {e}")))
}

fn to_value<T: serde::Serialize>(v: &T) -> napi::Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| coded(ErrorKind::Internal, e))
}

/// An eval report as Markdown: figures, failure classes, tags and one line per case.
#[napi]
pub fn eval_report_to_markdown(report_json: serde_json::Value) -> napi::Result<String> {
    Ok(report(report_json)?.to_markdown())
}

/// An eval report as one self-contained HTML page (no scripts, no network).
#[napi]
pub fn eval_report_to_html(report_json: serde_json::Value) -> napi::Result<String> {
    Ok(report(report_json)?.to_html())
}

/// `after` against `before`, case by case: the core's `Comparison` with `has_regressions` and
/// `markdown` added.
#[napi]
pub fn compare_eval_reports(
    after: serde_json::Value,
    before: serde_json::Value,
) -> napi::Result<serde_json::Value> {
    let cmp = report(after)?.compare(&report(before)?);
    let mut v = to_value(&cmp)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("has_regressions".into(), cmp.has_regressions().into());
        o.insert("markdown".into(), cmp.to_markdown().into());
    }
    Ok(v)
}
