//! The tokio runtime every call runs on, and the bridge from its futures to Python awaitables
//! (`pyo3-async-runtimes`' generic API over this runtime).
//!
//! Fork-safe: the runtime belongs to the process that built it. A forked child (its runtime's
//! threads do not exist there) gets a new one on its first call; the parent's is leaked in the
//! child, as dropping it would wait for threads that are not there.

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{self, ContextExt};
use serde::Serialize;
use tokio::runtime::Runtime;

/// The runtime of the current process, by process id.
static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// The runtime of this process, built on first use (and again after a fork).
pub(crate) fn runtime() -> PyResult<&'static Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((owner, rt)) = *slot
        && owner == pid
    {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("metricchat")
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the async runtime: {e}")))?;
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// The process's runtime as a `pyo3-async-runtimes` runtime.
pub(crate) struct PyRuntime;

tokio::task_local! {
    static TASK_LOCALS: OnceCell<TaskLocals>;
}

/// The handle of a task spawned by `pyo3-async-runtimes` (a failed runtime start has no task).
type Spawned = Pin<Box<dyn Future<Output = Result<(), tokio::task::JoinError>> + Send>>;

impl generic::Runtime for PyRuntime {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = Spawned;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match runtime() {
            Ok(rt) => Box::pin(rt.spawn(fut)),
            Err(_) => Box::pin(std::future::ready(Ok(()))),
        }
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        match runtime() {
            Ok(rt) => Box::pin(rt.spawn_blocking(f)),
            Err(_) => Box::pin(std::future::ready(Ok(()))),
        }
    }
}

impl ContextExt for PyRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|c| c.get().cloned())
            .unwrap_or_default()
    }
}

/// `fut` as a Python awaitable of the running event loop; cancelling the awaitable drops `fut`.
pub(crate) fn future_into_py<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    runtime()?;
    generic::future_into_py::<PyRuntime, F, T>(py, fut)
}

/// A value that crosses to Python as plain objects (dicts, lists, str, int, float, None) through
/// `pythonize`, converted where Python holds the GIL anyway.
pub(crate) struct Plain<T>(pub T);

impl<'py, T: Serialize> IntoPyObject<'py> for Plain<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        Ok(pythonize::pythonize(py, &self.0)?)
    }
}
