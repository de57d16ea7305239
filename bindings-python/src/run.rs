//! A run from Python: [`RunHandle`] (its events, shared by several readers, then its result)
//! and [`RunResult`] (the finished run, data as Arrow). The sharing itself is the core's
//! [`SharedRun`].

use pyo3::prelude::*;

use metricchat::agent::SharedRun;
use metricchat::{AskResult, Run};

use crate::arrow::{first_buffer_address, to_table};
use crate::error::{err, parse_id, to_py_err};
use crate::runtime::{Plain, future_into_py, runtime};

/// Starts a run of `question`.
pub(crate) fn start(
    agent: &metricchat::Agent,
    question: String,
    options: metricchat::agent::RunOptions,
) -> PyResult<RunHandle> {
    // The run's task is spawned on the process's runtime.
    let _entered = runtime()?.enter();
    let run = agent.stream_with(question, options).shared();
    Ok(RunHandle { run })
}

/// Awaitable: starts a follow-up of run `previous` (its history is read from the store);
/// resolves to its handle.
pub(crate) fn follow_up<'py>(
    py: Python<'py>,
    agent: metricchat::Agent,
    previous: uuid::Uuid,
    question: String,
    options: metricchat::agent::RunOptions,
) -> PyResult<Bound<'py, PyAny>> {
    future_into_py(py, async move {
        let run = agent
            .follow_up_with(previous, question, options)
            .await
            .map_err(err)?;
        Ok(RunHandle { run: run.shared() })
    })
}

/// The outcome of `run` as a Python result or exception.
fn result_of(outcome: &metricchat::Result<AskResult>) -> PyResult<RunResult> {
    match outcome {
        Ok(result) => Ok(RunResult {
            inner: result.clone(),
        }),
        Err(e) => Err(to_py_err(e)),
    }
}

/// A run in progress: its events, then its result.
///
/// Several readers may await `next_event` at once (threads, asyncio tasks, a sync and an async
/// loop): each event goes to exactly one of them, in order, and every one of them sees the end.
#[pyclass(frozen, module = "metricchat._native")]
pub(crate) struct RunHandle {
    run: SharedRun<Run>,
}

#[pymethods]
impl RunHandle {
    /// The run's id.
    #[getter]
    fn run_id(&self) -> String {
        self.run.run_id().to_string()
    }

    /// Awaitable: the next event as a dict, or None when the run is over. Cancelling the
    /// awaitable loses no event (and does not cancel the run).
    fn next_event<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let run = self.run.clone();
        future_into_py(py, async move { Ok(run.next().await.map(Plain)) })
    }

    /// Awaitable: reads the remaining events (dropping them), then resolves to the result or
    /// raises the run's error.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let run = self.run.clone();
        future_into_py(py, async move { result_of(run.finish().await) })
    }

    /// Awaitable: waits for the readers to reach the end (takes no event), then resolves to the
    /// result or raises the run's error.
    fn outcome<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let run = self.run.clone();
        future_into_py(py, async move { result_of(run.outcome().await) })
    }

    /// Approves the statement of `approval.requested` `approval_id`: it runs.
    fn approve(&self, approval_id: &str) -> PyResult<()> {
        self.run.approve(parse_id(approval_id)?).map_err(err)
    }

    /// Denies the statement of `approval.requested` `approval_id` with `reason` (the model
    /// reads `not approved: <reason>`; the denial is audited).
    fn deny(&self, approval_id: &str, reason: String) -> PyResult<()> {
        self.run.deny(parse_id(approval_id)?, reason).map_err(err)
    }

    /// The approval requests waiting for a decision, as dicts.
    fn pending_approvals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pending = self.run.approvals().map_err(err)?.pending();
        Ok(pythonize::pythonize(py, &pending)?)
    }

    /// Cancels the run (and its running query).
    fn cancel(&self) {
        self.run.cancel();
    }

    /// Whether cancellation was requested.
    #[getter]
    fn cancelled(&self) -> bool {
        self.run.is_cancelled()
    }
}

/// A finished run.
#[pyclass(frozen, module = "metricchat._native")]
pub(crate) struct RunResult {
    inner: AskResult,
}

#[pymethods]
impl RunResult {
    /// Everything but the data, as a dict (`AskResult::to_json`).
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize::pythonize(py, &self.inner.to_json())?)
    }

    /// Number of datasets.
    fn dataset_count(&self) -> usize {
        self.inner.datasets.len()
    }

    /// Dataset `index` (default: the main one) as a `pyarrow.Table`, shared without copying.
    #[pyo3(signature = (index = None))]
    fn table(&self, py: Python<'_>, index: Option<usize>) -> PyResult<Option<Py<PyAny>>> {
        let dataset = match index {
            Some(i) => self.inner.datasets.get(i),
            None => self.inner.dataset(),
        };
        dataset
            .map(|d| to_table(py, d.data.schema.clone(), d.data.batches.clone()))
            .transpose()
    }

    /// Address of the main dataset's first buffer of `column` (zero-copy checks).
    fn _buffer_address(&self, column: usize) -> Option<usize> {
        first_buffer_address(self.inner.batches(), column)
    }
}
