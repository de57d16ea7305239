//! Evals from Python: a suite run in progress ([`EvalRun`]) and its report ([`EvalReport`]), a
//! shell over `metricchat::eval`. The Python layer (`metricchat/eval.py`) shapes the API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use metricchat::eval::{EvalMode, EvalReport as CoreReport, Evaluator, Suite};
use metricchat::llm::LlmSource;

use crate::error::{InternalError, InvalidInputError, err, to_py_err};
use crate::runtime::{Plain, future_into_py, runtime};

/// What `Agent.eval` was asked for (see `metricchat.eval.run`).
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct EvalOptions {
    baseline: bool,
    concurrency: usize,
    timeout_secs: Option<f64>,
    only: Option<Vec<String>>,
    label: Option<String>,
    store: bool,
    /// The model scoring `judge` rubrics (an `LlmSource`: `"provider:model"` or a spec).
    judge: Option<LlmSource>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            baseline: false,
            concurrency: 1,
            timeout_secs: None,
            only: None,
            label: None,
            store: true,
            judge: None,
        }
    }
}

/// Reads a suite from a file (`is_path`) or from YAML/JSON text.
pub(crate) fn read_suite(suite: &str, is_path: bool) -> PyResult<Suite> {
    if is_path {
        Suite::from_path(suite)
    } else {
        Suite::from_yaml(suite)
    }
    .map_err(err)
}

/// An evaluator of `agent` set up as `o` asks.
fn evaluator(agent: metricchat::Agent, o: EvalOptions) -> PyResult<Evaluator> {
    let mode = if o.baseline {
        EvalMode::Baseline
    } else {
        EvalMode::Agent
    };
    let mut evaluator = Evaluator::new(agent).mode(mode).concurrency(o.concurrency);
    if let Some(t) = o.timeout_secs {
        let t = Duration::try_from_secs_f64(t).map_err(|e| {
            InvalidInputError::new_err(format!("timeout must be a positive number of seconds: {e}"))
        })?;
        evaluator = evaluator.timeout(t);
    }
    if let Some(only) = o.only {
        evaluator = evaluator.only(only);
    }
    if let Some(label) = o.label {
        evaluator = evaluator.label(label);
    }
    if let Some(source) = o.judge {
        evaluator = evaluator.judge(source.build().map_err(err)?);
    }
    Ok(evaluator)
}

/// Starts running `suite` on `agent`; the report is stored in the agent's store when asked.
pub(crate) fn start(agent: metricchat::Agent, suite: Suite, o: EvalOptions) -> PyResult<EvalRun> {
    let store = o.store;
    let (tx, rx) = mpsc::unbounded_channel();
    let evaluator = evaluator(agent.clone(), o)?.on_progress(move |p| {
        let _ = tx.send(serde_json::json!({
            "done": p.done,
            "total": p.total,
            "passed": p.passed,
            "last": p.last,
        }));
    });
    let cancel = evaluator.cancellation_token();
    let outcome: Outcome = Arc::default();
    let slot = Arc::clone(&outcome);
    // On a blocking thread of the runtime: rustc cannot prove the evaluator's future `Send`
    // (its per-case closures borrow the suite), so it is driven by `block_on`, not spawned.
    runtime()?.spawn_blocking(move || {
        let done = run_blocking(&evaluator, &suite, &agent, store);
        if let Ok(mut s) = slot.lock() {
            *s = Some(done);
        }
        // Readers see the end (the progress channel closes) only once the outcome is in place.
        drop(evaluator);
    });
    Ok(EvalRun {
        rx: Arc::new(tokio::sync::Mutex::new(rx)),
        cancel,
        outcome,
    })
}

/// Runs `suite` to its report on the current runtime thread, and stores the report when asked.
fn run_blocking(
    evaluator: &Evaluator,
    suite: &Suite,
    agent: &metricchat::Agent,
    store: bool,
) -> metricchat::Result<CoreReport> {
    let rt = tokio::runtime::Handle::current();
    let report = rt.block_on(evaluator.run(suite))?;
    if store {
        rt.block_on(agent.store().put_eval_run(&report.to_record()?))?;
    }
    Ok(report)
}

/// Where a suite run leaves its report before the progress channel closes.
type Outcome = Arc<Mutex<Option<metricchat::Result<CoreReport>>>>;

/// A suite run in progress: its progress events, then its report.
#[pyclass(frozen, module = "metricchat._native")]
pub(crate) struct EvalRun {
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<serde_json::Value>>>,
    cancel: CancellationToken,
    outcome: Outcome,
}

#[pymethods]
impl EvalRun {
    /// Awaitable: the next progress event (`{"done", "total", "passed", "last"}`, `last` the
    /// case that just finished), or None when the run is over. Cancelling the awaitable loses
    /// no event (and does not cancel the run).
    fn next_progress<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rx = Arc::clone(&self.rx);
        future_into_py(
            py,
            async move { Ok(rx.lock().await.recv().await.map(Plain)) },
        )
    }

    /// Cancels the run: running cases are cancelled, the rest are not started, and the report
    /// covers what ran.
    fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Whether cancellation was requested.
    #[getter]
    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The report, once `next_progress` returned None; raises the run's error.
    fn result(&self) -> PyResult<EvalReport> {
        let slot = self
            .outcome
            .lock()
            .map_err(|_| InternalError::new_err("eval run poisoned"))?;
        match slot.as_ref() {
            Some(Ok(report)) => Ok(EvalReport {
                inner: report.clone(),
            }),
            Some(Err(e)) => Err(to_py_err(e)),
            None => Err(PyRuntimeError::new_err(
                "the eval run is not over yet (read next_progress() until it returns None)",
            )),
        }
    }
}

/// The report of a suite run (`metricchat::eval::EvalReport`).
#[pyclass(frozen, module = "metricchat._native")]
pub(crate) struct EvalReport {
    inner: CoreReport,
}

#[pymethods]
impl EvalReport {
    /// Reads a report written by `json()`.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        Ok(Self {
            inner: CoreReport::from_json(text).map_err(err)?,
        })
    }

    /// The report as pretty JSON.
    fn json(&self) -> String {
        self.inner.to_json()
    }

    /// A Markdown summary: figures, failure classes, tags and one line per case.
    fn markdown(&self) -> String {
        self.inner.to_markdown()
    }

    /// One self-contained HTML page (no scripts, no network).
    fn html(&self) -> String {
        self.inner.to_html()
    }

    /// This run against `before`, as a dict: the core's `Comparison` with `has_regressions`
    /// and `markdown` added.
    fn compare<'py>(&self, py: Python<'py>, before: &EvalReport) -> PyResult<Bound<'py, PyAny>> {
        let cmp = self.inner.compare(&before.inner);
        let mut v = serde_json::to_value(&cmp)
            .map_err(|e| InternalError::new_err(format!("comparison: {e}")))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("has_regressions".into(), cmp.has_regressions().into());
            o.insert("markdown".into(), cmp.to_markdown().into());
        }
        Ok(pythonize::pythonize(py, &v)?)
    }
}

/// The reports kept in `agent`'s store (of `suite`, or every suite), newest first.
pub(crate) async fn history(
    agent: metricchat::Agent,
    suite: Option<String>,
    limit: u32,
) -> metricchat::Result<Vec<EvalReport>> {
    let records = agent
        .store()
        .list_eval_runs(suite.as_deref(), limit)
        .await?;
    records
        .iter()
        .map(|r| CoreReport::from_record(r).map(|inner| EvalReport { inner }))
        .collect()
}
