//! Python callables as agent tools. A call runs on a blocking thread so the runtime never waits
//! on the GIL; a call whose future is dropped (run cancelled) is stopped on the Python side.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use metricchat::tools::{
    DynTool, ExternalCall, ExternalHandler, ExternalTool, ToolError as CoreToolError,
};

use crate::error::{InvalidInputError, err};

/// What a failed Python call reports: the message the model sees and the traceback.
pub(crate) type PyFailure = (String, String);

/// Ids of Python calls (tools, approval handler, credentials), shared with the Python side's
/// `cancel(call_id)`.
static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

/// The tools given to `Agent(...)`: `(name, description, parameters_json, invoke, cancel)`
/// tuples (see [`python_tool`]).
pub(crate) fn tools_from_tuples(tools: Vec<Bound<'_, PyTuple>>) -> PyResult<Vec<Arc<dyn DynTool>>> {
    let mut out: Vec<Arc<dyn DynTool>> = Vec::with_capacity(tools.len());
    for t in tools {
        #[allow(clippy::type_complexity)]
        let (name, description, parameters, invoke, cancel): (
            String,
            String,
            String,
            Py<PyAny>,
            Py<PyAny>,
        ) = t.extract()?;
        out.push(Arc::new(python_tool(
            name,
            description,
            &parameters,
            invoke,
            cancel,
        )?));
    }
    Ok(out)
}

/// A Python callable as an agent tool. The Python side passes `invoke(args_json, call_id) ->
/// str`, which applies the arguments, awaits coroutines and encodes the result, and
/// `cancel(call_id)`, which stops a running call (cancels an async tool's task, raises
/// `ToolCancelled` in a sync tool's thread).
fn python_tool(
    name: String,
    description: String,
    parameters_json: &str,
    invoke: Py<PyAny>,
    cancel: Py<PyAny>,
) -> PyResult<ExternalTool> {
    let parameters: serde_json::Value = serde_json::from_str(parameters_json)
        .map_err(|e| InvalidInputError::new_err(format!("tool `{name}`: parameters: {e}")))?;
    let invoke = Arc::new(invoke);
    let cancel = Arc::new(cancel);
    let tool_name = name.clone();
    let handler: ExternalHandler = Arc::new(move |call: ExternalCall| {
        let (invoke, cancel) = (Arc::clone(&invoke), Arc::clone(&cancel));
        Box::pin(run_call(call, invoke, cancel, tool_name.clone()))
    });
    ExternalTool::new(name, description, parameters, handler).map_err(err)
}

/// One call of a Python tool: `invoke` on a blocking thread, stopped when the run gives up.
async fn run_call(
    call: ExternalCall,
    invoke: Arc<Py<PyAny>>,
    cancel: Arc<Py<PyAny>>,
    tool_name: String,
) -> Result<serde_json::Value, CoreToolError> {
    let out = tokio::select! {
        out = call_python(invoke, cancel, call.arguments.to_string()) => out,
        // Dropping `call_python`'s future stops the Python call.
        () = call.cancel.cancelled() => return Err(CoreToolError::failed("cancelled")),
    };
    match out {
        Ok(text) => Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))),
        Err((message, traceback)) => Err(CoreToolError::failed(message)
            .with_source(format!("Python tool `{tool_name}` raised:\n{traceback}"))),
    }
}

/// Calls the Python side's `invoke(args, call_id) -> str` on a blocking thread, so the runtime
/// never waits on the GIL. When this future is dropped before the call returned (the run was
/// cancelled, gave up on a tool, or a host decided an approval first), `cancel(call_id)` stops
/// the Python call: an async function's task is cancelled, a sync one gets `ToolCancelled`
/// raised in its thread (see `metricchat/tools.py`). Tools, the approval handler and the
/// credentials callback all go through here.
pub(crate) async fn call_python(
    invoke: Arc<Py<PyAny>>,
    cancel: Arc<Py<PyAny>>,
    args: String,
) -> Result<String, PyFailure> {
    let id = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
    let returned = Arc::new(AtomicBool::new(false));
    let worker_returned = Arc::clone(&returned);
    let worker =
        tokio::task::spawn_blocking(move || invoke_python(&invoke, args, id, &worker_returned));
    // Armed until the worker is done: dropping it stops the Python call (see `CancelOnDrop`).
    let mut guard = CancelOnDrop {
        cancel,
        id,
        returned,
        armed: true,
    };
    let out = worker.await;
    guard.armed = false;
    out.map_err(|e| ("the Python callback crashed".to_string(), e.to_string()))?
}

/// Calls `invoke(args, id)` with the GIL held; `returned` is set before the GIL is released.
fn invoke_python(
    invoke: &Py<PyAny>,
    args: String,
    id: u64,
    returned: &AtomicBool,
) -> Result<String, PyFailure> {
    Python::attach(|py| {
        let out = invoke.call1(py, (args, id));
        // Still holding the GIL: a cancel checks this before calling into Python.
        returned.store(true, Ordering::SeqCst);
        match out {
            Ok(v) => v.extract::<String>(py).map_err(|e| {
                (
                    format!("the tool returned a non-string: {e}"),
                    String::new(),
                )
            }),
            Err(e) => Err(describe(py, &e)),
        }
    })
}

/// `Class: message` and the formatted traceback of a Python exception.
fn describe(py: Python<'_>, e: &PyErr) -> PyFailure {
    let traceback = e
        .traceback(py)
        .and_then(|tb| tb.format().ok())
        .unwrap_or_default();
    let class = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    (format!("{class}: {}", e.value(py)), traceback)
}

/// Tells the Python side to stop call `id` when the call's future is dropped before it
/// finished (the run was cancelled or gave up on the tool): the worker thread would otherwise
/// run the Python function to its end.
struct CancelOnDrop {
    cancel: Arc<Py<PyAny>>,
    id: u64,
    /// Set by the worker thread as soon as `invoke` returned.
    returned: Arc<AtomicBool>,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let cancel = Arc::clone(&self.cancel);
        let returned = Arc::clone(&self.returned);
        let id = self.id;
        let stop = move || stop_call(&cancel, &returned, id);
        // Never waits on the GIL on a runtime thread.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(stop)),
            Err(_) => drop(std::thread::spawn(stop)),
        }
    }
}

/// Calls `cancel(id)` until the call is found or has returned (for up to 30 s): `cancel(id)` is
/// False while the call has not registered itself on the Python side yet (the worker thread is
/// about to enter it).
fn stop_call(cancel: &Py<PyAny>, returned: &AtomicBool, id: u64) {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let settled = Python::attach(|py| {
            if returned.load(Ordering::SeqCst) {
                return true;
            }
            match cancel.call1(py, (id,)) {
                Ok(found) => found.is_truthy(py).unwrap_or(true),
                Err(e) => {
                    e.print(py);
                    true
                }
            }
        });
        if settled || Instant::now() >= give_up {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
