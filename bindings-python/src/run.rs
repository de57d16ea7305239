//! A run from Python: [`RunHandle`] (its events, shared by several readers, then its result)
//! and [`RunResult`] (the finished run, data as Arrow).

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

use metricchat::{AskResult, Run};

use crate::arrow::{first_buffer_address, to_table};
use crate::error::{InternalError, err, json_err, to_py_err};
use crate::runtime::{recv_detached, recv_interruptible, runtime};

/// Where a run's task leaves its outcome before the event channel closes.
type OutcomeSlot = Arc<Mutex<Option<metricchat::Result<AskResult>>>>;

/// Starts a run of `question` (a follow-up of `previous` when given) and returns its handle
/// once it has an id.
pub(crate) fn start(
    py: Python<'_>,
    agent: metricchat::Agent,
    question: String,
    previous: Option<uuid::Uuid>,
) -> PyResult<RunHandle> {
    // Multi-consumer: several readers of one run share its events (see `next_event`).
    let (tx, rx) = flume::unbounded::<String>();
    let outcome = OutcomeSlot::default();
    let slot = Arc::clone(&outcome);
    let (id_tx, id_rx) = std_mpsc::channel();
    runtime()?.spawn(async move {
        let run = match previous {
            Some(id) => agent.follow_up(id, question).await,
            None => Ok(agent.stream(question)),
        };
        match run {
            Ok(run) => {
                let _ = id_tx.send(Ok((run.run_id(), run.cancellation_token())));
                drive(run, tx, slot).await;
            }
            Err(e) => drop(id_tx.send(Err(e))),
        }
    });
    let (run_id, cancel) = recv_detached(py, id_rx, Duration::from_secs(60))
        .0
        .map_err(|_| PyRuntimeError::new_err("the run did not start"))?
        .map_err(err)?;
    Ok(RunHandle {
        run_id: run_id.to_string(),
        rx,
        cancel,
        outcome,
    })
}

/// Forwards `run`'s events as JSON to `tx`, then leaves its outcome in `slot`.
async fn drive(mut run: Run, tx: flume::Sender<String>, slot: OutcomeSlot) {
    while let Some(ev) = run.next().await {
        let text = serde_json::to_string(&ev).unwrap_or_else(|_| "{}".into());
        if tx.send(text).is_err() {
            run.cancel();
        }
    }
    let done = run.finish().await;
    if let Ok(mut slot) = slot.lock() {
        *slot = Some(done);
    }
    // Readers see the end (a closed channel) only once the outcome is in place.
    drop(tx);
}

/// A run in progress: its events, then its result.
///
/// Several readers may call `next_event` at once (threads, asyncio tasks, a sync and an async
/// loop): each event goes to exactly one of them, in order, and every one of them sees the end.
#[pyclass(frozen, module = "metricchat._native")]
pub(crate) struct RunHandle {
    #[pyo3(get)]
    run_id: String,
    rx: flume::Receiver<String>,
    cancel: CancellationToken,
    /// Set by the run's task before the event channel closes.
    outcome: OutcomeSlot,
}

#[pymethods]
impl RunHandle {
    /// The next event as JSON text, or None when the run is over. Waits with the GIL released;
    /// `KeyboardInterrupt` cancels the run (its query too) and propagates. With `timeout`
    /// (seconds), returns `""` when no event came in time.
    #[pyo3(signature = (timeout = None))]
    fn next_event(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<String>> {
        recv_interruptible(py, &self.rx, &self.cancel, timeout)
    }

    /// Cancels the run (and its running query).
    fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Whether cancellation was requested.
    #[getter]
    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The result, once `next_event` returned None; raises the run's error. Every reader of
    /// the run may ask for it (the data is shared, not copied).
    fn result(&self) -> PyResult<RunResult> {
        let slot = self
            .outcome
            .lock()
            .map_err(|_| InternalError::new_err("run handle poisoned"))?;
        match slot.as_ref() {
            Some(Ok(result)) => Ok(RunResult {
                inner: result.clone(),
            }),
            Some(Err(e)) => Err(to_py_err(e)),
            None => Err(PyRuntimeError::new_err(
                "the run is not over yet (read its events until next_event() returns None)",
            )),
        }
    }
}

/// A finished run.
#[pyclass(frozen, module = "metricchat._native")]
pub(crate) struct RunResult {
    inner: AskResult,
}

#[pymethods]
impl RunResult {
    /// Everything but the data, as JSON text (`AskResult::to_json`).
    fn json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.to_json()).map_err(json_err)
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
