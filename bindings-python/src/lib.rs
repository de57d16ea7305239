//! `metricchat._native`: the Python package's native module, a thin shell over the Rust core.
//!
//! The Python layer (`python/metricchat/`) shapes the API; this module only converts: agent specs
//! arrive as JSON text and are parsed by [`metricchat::spec::AgentSpec`], events and results
//! leave as the core's own JSON, data leaves as Arrow through the C stream interface (no copy),
//! and errors become one exception class per [`ErrorKind`]. Every wait releases the GIL and
//! polls for signals, so `KeyboardInterrupt` cancels the run and its query.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3_arrow::PyTable;
use tokio_util::sync::CancellationToken;

use metricchat::arrow::array::{Array, RecordBatch};
use metricchat::arrow::datatypes::SchemaRef;
use metricchat::connector::QueryData;
use metricchat::guard::{GuardConfig, SqlGuard};
use metricchat::spec::{AgentSpec, connect_spec};
use metricchat::tools::{
    DynTool, ExternalCall, ExternalHandler, ExternalTool, ToolError as CoreToolError,
};
use metricchat::{AskResult, ConnectorRef, Error, ErrorKind};

mod eval;

create_exception!(
    _native,
    MetricChatError,
    PyException,
    "Base class of metricchat errors; `kind` names the error kind."
);
create_exception!(
    _native,
    InvalidInputError,
    MetricChatError,
    "Bad input: arguments, config, SQL the guard refused."
);
create_exception!(
    _native,
    NotFoundError,
    MetricChatError,
    "A table, connection, run or model was not found."
);
create_exception!(
    _native,
    UnauthorizedError,
    MetricChatError,
    "Authentication or permission failure."
);
create_exception!(
    _native,
    RateLimitedError,
    MetricChatError,
    "Rate limited by a provider or warehouse."
);
create_exception!(
    _native,
    TimeoutError,
    MetricChatError,
    "A model call, query or tool timed out."
);
create_exception!(
    _native,
    CancelledError,
    MetricChatError,
    "The run or query was cancelled."
);
create_exception!(
    _native,
    QueryFailedError,
    MetricChatError,
    "The warehouse rejected or failed the query."
);
create_exception!(
    _native,
    LlmError,
    MetricChatError,
    "The model provider failed or answered unusably."
);
create_exception!(
    _native,
    ToolError,
    MetricChatError,
    "A tool failed outside the model's reach."
);
create_exception!(
    _native,
    BudgetExceededError,
    MetricChatError,
    "A run budget (iterations, tokens, time, cost) ran out."
);
create_exception!(
    _native,
    ContextLengthExceededError,
    MetricChatError,
    "The prompt does not fit the model's context window."
);
create_exception!(
    _native,
    ContentFilteredError,
    MetricChatError,
    "The provider's safety system blocked the prompt or the answer."
);
create_exception!(
    _native,
    UnsupportedError,
    MetricChatError,
    "Not supported by this build or backend."
);
create_exception!(
    _native,
    InternalError,
    MetricChatError,
    "A bug in metricchat."
);

/// The shared runtime every call runs on.
fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("metricchat")
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| PyRuntimeError::new_err(format!("cannot start the async runtime: {e}")))
}

fn error_class(py: Python<'_>, kind: ErrorKind) -> Bound<'_, pyo3::types::PyType> {
    match kind {
        ErrorKind::InvalidInput => py.get_type::<InvalidInputError>(),
        ErrorKind::NotFound => py.get_type::<NotFoundError>(),
        ErrorKind::Unauthorized => py.get_type::<UnauthorizedError>(),
        ErrorKind::RateLimited => py.get_type::<RateLimitedError>(),
        ErrorKind::Timeout => py.get_type::<TimeoutError>(),
        ErrorKind::Cancelled => py.get_type::<CancelledError>(),
        ErrorKind::QueryFailed => py.get_type::<QueryFailedError>(),
        ErrorKind::Llm => py.get_type::<LlmError>(),
        ErrorKind::Tool => py.get_type::<ToolError>(),
        ErrorKind::BudgetExceeded => py.get_type::<BudgetExceededError>(),
        ErrorKind::ContextLengthExceeded => py.get_type::<ContextLengthExceededError>(),
        ErrorKind::ContentFiltered => py.get_type::<ContentFilteredError>(),
        ErrorKind::Unsupported => py.get_type::<UnsupportedError>(),
        _ => py.get_type::<InternalError>(),
    }
}

/// The Python exception for `err`: its kind's class, `kind` and `retryable` attributes, and the
/// error's sources chained as `__cause__`.
fn to_py_err(err: &Error) -> PyErr {
    Python::attach(|py| {
        let kind = err.kind();
        let make = |message: String| -> PyErr {
            let class = error_class(py, kind);
            match class.call1((message.clone(),)) {
                Ok(value) => {
                    let _ = value.setattr("kind", kind.as_str());
                    let _ = value.setattr("retryable", err.is_retryable());
                    PyErr::from_value(value)
                }
                Err(e) => e,
            }
        };
        let top = make(err.to_string());
        // Chain the sources (driver/provider messages) as __cause__, innermost last.
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            causes.push(s.to_string());
            source = s.source();
        }
        let mut outer = top.clone_ref(py);
        for message in causes {
            let cause = MetricChatError::new_err(message);
            // Best effort: the class is our own, so setting an attribute cannot fail in practice.
            let _ = cause.value(py).setattr("kind", kind.as_str());
            outer.set_cause(py, Some(cause.clone_ref(py)));
            outer = cause;
        }
        top
    })
}

fn err(e: Error) -> PyErr {
    to_py_err(&e)
}

/// Waits on `rx` for up to `timeout` with the GIL released (the receiver moves into the
/// detached closure and back, as `Receiver` is not `Sync`).
fn recv_detached<T: Send>(
    py: Python<'_>,
    rx: std_mpsc::Receiver<T>,
    timeout: Duration,
) -> (Result<T, std_mpsc::RecvTimeoutError>, std_mpsc::Receiver<T>) {
    py.detach(move || {
        let out = rx.recv_timeout(timeout);
        (out, rx)
    })
}

/// Runs `fut` on the runtime and waits with the GIL released, polling for signals every 50 ms.
/// On `KeyboardInterrupt` (or any signal handler's exception) `cancel` is triggered, the task is
/// given up to 5 s to wind down, and the exception propagates.
fn wait<T: Send + 'static>(
    py: Python<'_>,
    fut: impl std::future::Future<Output = T> + Send + 'static,
    cancel: Option<CancellationToken>,
) -> PyResult<T> {
    let rt = runtime()?;
    let (tx, rx) = std_mpsc::channel();
    let handle = rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    let mut rx = rx;
    loop {
        let (out, back) = recv_detached(py, rx, Duration::from_millis(50));
        rx = back;
        match out {
            Ok(v) => return Ok(v),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err("the task ended without a result"));
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    match &cancel {
                        Some(c) => {
                            c.cancel();
                            let _ = recv_detached(py, rx, Duration::from_secs(5));
                        }
                        None => handle.abort(),
                    }
                    return Err(e);
                }
            }
        }
    }
}

fn json_err(e: serde_json::Error) -> PyErr {
    InternalError::new_err(format!("JSON encoding failed: {e}"))
}

fn to_table(py: Python<'_>, schema: SchemaRef, batches: Vec<RecordBatch>) -> PyResult<Py<PyAny>> {
    let table = PyTable::try_new(batches, schema)?;
    Ok(table.into_pyarrow(py)?.unbind())
}

/// Address of the first data buffer of `column` in the first batch (for zero-copy checks).
fn first_buffer_address(batches: &[RecordBatch], column: usize) -> Option<usize> {
    let batch = batches.first()?;
    let array = batch.columns().get(column)?;
    let data = array.to_data();
    data.buffers().first().map(|b| b.as_ptr() as usize)
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
        // `cancel(id)` is False while the call has not registered itself on the Python side
        // yet (the worker thread is about to enter it): ask again shortly, until it is found or
        // has returned. Never waits on the GIL on a runtime thread.
        let stop = move || {
            let give_up = std::time::Instant::now() + Duration::from_secs(30);
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
                if settled || std::time::Instant::now() >= give_up {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(stop)),
            Err(_) => drop(std::thread::spawn(stop)),
        }
    }
}

/// A Python callable as an agent tool. The Python side passes `invoke(args_json, call_id) ->
/// str`, which applies the arguments, awaits coroutines and encodes the result, and
/// `cancel(call_id)`, which stops a running call (cancels an async tool's task, raises
/// `ToolCancelled` in a sync tool's thread). `invoke` runs on a blocking thread so the runtime
/// never waits on the GIL.
fn python_tool(
    name: String,
    description: String,
    parameters_json: &str,
    invoke: Py<PyAny>,
    cancel: Py<PyAny>,
) -> PyResult<ExternalTool> {
    static NEXT_CALL: AtomicU64 = AtomicU64::new(1);
    let parameters: serde_json::Value = serde_json::from_str(parameters_json)
        .map_err(|e| InvalidInputError::new_err(format!("tool `{name}`: parameters: {e}")))?;
    let invoke = Arc::new(invoke);
    let cancel = Arc::new(cancel);
    let tool_name = name.clone();
    let handler: ExternalHandler = Arc::new(move |call: ExternalCall| {
        let invoke = Arc::clone(&invoke);
        let cancel = Arc::clone(&cancel);
        let tool_name = tool_name.clone();
        Box::pin(async move {
            let args = call.arguments.to_string();
            let id = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
            let returned = Arc::new(AtomicBool::new(false));
            let worker_returned = Arc::clone(&returned);
            let worker = tokio::task::spawn_blocking(move || {
                Python::attach(|py| -> Result<String, (String, String)> {
                    let out = invoke.call1(py, (args, id));
                    // Still holding the GIL: a cancel checks this before calling into Python.
                    worker_returned.store(true, Ordering::SeqCst);
                    match out {
                        Ok(v) => v.extract::<String>(py).map_err(|e| {
                            (
                                format!("the tool returned a non-string: {e}"),
                                String::new(),
                            )
                        }),
                        Err(e) => {
                            let traceback = e
                                .traceback(py)
                                .and_then(|tb| tb.format().ok())
                                .unwrap_or_default();
                            let class = e
                                .get_type(py)
                                .name()
                                .map(|n| n.to_string())
                                .unwrap_or_else(|_| "Exception".into());
                            let message = e.value(py).to_string();
                            Err((format!("{class}: {message}"), traceback))
                        }
                    }
                })
            });
            // Armed once the call is sure to reach Python (see `CancelOnDrop`).
            let mut guard = CancelOnDrop {
                cancel,
                id,
                returned,
                armed: true,
            };
            let out = tokio::select! {
                out = worker => out,
                // The guard stops the Python call as this future ends.
                () = call.cancel.cancelled() => {
                    return Err(CoreToolError::failed("cancelled"));
                }
            };
            guard.armed = false;
            let out = out.map_err(|e| {
                CoreToolError::failed("the Python tool crashed").with_source(e.to_string())
            })?;
            match out {
                Ok(text) => {
                    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
                }
                Err((message, traceback)) => Err(CoreToolError::failed(message)
                    .with_source(format!("Python tool `{tool_name}` raised:\n{traceback}"))),
            }
        })
    });
    ExternalTool::new(name, description, parameters, handler).map_err(err)
}

/// An agent built from a JSON spec (see `metricchat::spec::AgentSpec`).
#[pyclass(frozen, module = "metricchat._native")]
struct Agent {
    inner: metricchat::Agent,
}

#[pymethods]
impl Agent {
    /// `Agent(spec_json, tools)`: `tools` is a list of `(name, description, parameters_json,
    /// invoke, cancel)` tuples (see `python_tool`).
    #[new]
    #[pyo3(signature = (spec_json, tools = Vec::new()))]
    fn new(py: Python<'_>, spec_json: &str, tools: Vec<Bound<'_, PyTuple>>) -> PyResult<Self> {
        let spec = AgentSpec::from_json(spec_json).map_err(err)?;
        let mut dyn_tools: Vec<Arc<dyn DynTool>> = Vec::new();
        for t in tools {
            #[allow(clippy::type_complexity)]
            let (name, description, parameters, invoke, cancel): (
                String,
                String,
                String,
                Py<PyAny>,
                Py<PyAny>,
            ) = t.extract()?;
            dyn_tools.push(Arc::new(python_tool(
                name,
                description,
                &parameters,
                invoke,
                cancel,
            )?));
        }
        let inner = wait(py, async move { spec.build(dyn_tools).await }, None)?.map_err(err)?;
        Ok(Self { inner })
    }

    /// Starts a run; `previous_run` makes it a follow-up of that run.
    #[pyo3(signature = (question, previous_run = None))]
    fn stream(
        &self,
        py: Python<'_>,
        question: String,
        previous_run: Option<String>,
    ) -> PyResult<RunHandle> {
        let agent = self.inner.clone();
        // Multi-consumer: several readers of one run share its events (see `next_event`).
        let (tx, rx) = flume::unbounded::<String>();
        let outcome: Arc<Mutex<Option<metricchat::Result<AskResult>>>> = Arc::default();
        let outcome_slot = Arc::clone(&outcome);
        let (id_tx, id_rx) = std_mpsc::channel();
        let previous = previous_run
            .map(|s| {
                uuid::Uuid::parse_str(&s)
                    .map_err(|e| InvalidInputError::new_err(format!("id `{s}`: {e}")))
            })
            .transpose()?;
        let rt = runtime()?;
        rt.spawn(async move {
            let run = match previous {
                Some(id) => agent.follow_up(id, question).await,
                None => Ok(agent.stream(question)),
            };
            let mut run = match run {
                Ok(run) => run,
                Err(e) => {
                    let _ = id_tx.send(Err(e));
                    return;
                }
            };
            let _ = id_tx.send(Ok((run.run_id(), run.cancellation_token())));
            while let Some(ev) = run.next().await {
                let text = serde_json::to_string(&ev).unwrap_or_else(|_| "{}".into());
                if tx.send(text).is_err() {
                    run.cancel();
                }
            }
            let done = run.finish().await;
            if let Ok(mut slot) = outcome_slot.lock() {
                *slot = Some(done);
            }
            // Readers see the end (a closed channel) only once the outcome is in place.
            drop(tx);
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

    /// Runs `sql` on a connection (the first when `connection` is None) through the agent's
    /// guard; returns a `QueryResult`.
    #[pyo3(signature = (sql, connection = None))]
    fn query(
        &self,
        py: Python<'_>,
        sql: String,
        connection: Option<String>,
    ) -> PyResult<QueryResult> {
        let agent = self.inner.clone();
        let cancel = CancellationToken::new();
        let data = wait(
            py,
            async move { agent.query(connection.as_deref(), &sql).await },
            Some(cancel),
        )?
        .map_err(err)?;
        Ok(QueryResult { data })
    }

    /// Names of the agent's connections.
    fn connections(&self) -> Vec<String> {
        self.inner
            .connections()
            .iter()
            .map(|c| c.info().name.clone())
            .collect()
    }

    /// The team's rules in prompt order.
    fn rules(&self) -> Vec<String> {
        self.inner.context_hub().rules()
    }

    /// Adds a rule for runs started from now on; returns whether it was new.
    fn add_rule(&self, rule: &str) -> bool {
        self.inner.context_hub().add_rule(rule)
    }

    /// Removes a rule; returns whether it was there.
    fn remove_rule(&self, rule: &str) -> bool {
        self.inner.context_hub().remove_rule(rule)
    }

    /// Adds an instruction from the JSON of a `NewInstruction`; returns the stored one as JSON.
    fn add_instruction(&self, py: Python<'_>, new_json: &str) -> PyResult<String> {
        let new: metricchat::instructions::NewInstruction =
            serde_json::from_str(new_json).map_err(json_err)?;
        let agent = self.inner.clone();
        let i = wait(py, async move { agent.instructions().add(new).await }, None)?.map_err(err)?;
        serde_json::to_string(&i).map_err(json_err)
    }

    /// Sets an instruction's status (`draft`, `approved`, `archived`); returns it as JSON.
    fn set_instruction_status(&self, py: Python<'_>, id: &str, status: &str) -> PyResult<String> {
        let id = parse_run_id(id)?;
        let status: metricchat::instructions::InstructionStatus =
            serde_json::from_value(serde_json::Value::String(status.to_string()))
                .map_err(json_err)?;
        let agent = self.inner.clone();
        let i = wait(
            py,
            async move { agent.instructions().set_status(id, status).await },
            None,
        )?
        .map_err(err)?;
        serde_json::to_string(&i).map_err(json_err)
    }

    /// Deletes an instruction.
    fn delete_instruction(&self, py: Python<'_>, id: &str) -> PyResult<()> {
        let id = parse_run_id(id)?;
        let agent = self.inner.clone();
        wait(
            py,
            async move { agent.instructions().delete(id).await },
            None,
        )?
        .map_err(err)
    }

    /// Instructions matching the JSON of an `InstructionFilter`, as a JSON array.
    fn list_instructions(&self, py: Python<'_>, filter_json: &str) -> PyResult<String> {
        let filter: metricchat::instructions::InstructionFilter =
            serde_json::from_str(filter_json).map_err(json_err)?;
        let agent = self.inner.clone();
        let v = wait(
            py,
            async move { agent.instructions().list(&filter).await },
            None,
        )?
        .map_err(err)?;
        serde_json::to_string(&v).map_err(json_err)
    }

    /// Adds a memory from the JSON of a `NewMemory`; returns it as JSON.
    fn add_memory(&self, py: Python<'_>, new_json: &str) -> PyResult<String> {
        let new: metricchat::instructions::NewMemory =
            serde_json::from_str(new_json).map_err(json_err)?;
        let agent = self.inner.clone();
        let m = wait(py, async move { agent.memories().add(new).await }, None)?.map_err(err)?;
        serde_json::to_string(&m).map_err(json_err)
    }

    /// Memories matching the JSON of a `MemoryFilter`, as a JSON array.
    fn list_memories(&self, py: Python<'_>, filter_json: &str) -> PyResult<String> {
        let filter: metricchat::instructions::MemoryFilter =
            serde_json::from_str(filter_json).map_err(json_err)?;
        let agent = self.inner.clone();
        let v = wait(
            py,
            async move { agent.memories().list(&filter).await },
            None,
        )?
        .map_err(err)?;
        serde_json::to_string(&v).map_err(json_err)
    }

    /// The `k` memories most relevant to `text`, as a JSON array.
    fn search_memories(&self, py: Python<'_>, text: String, k: usize) -> PyResult<String> {
        let agent = self.inner.clone();
        let v = wait(
            py,
            async move { agent.memories().search(&text, k).await },
            None,
        )?
        .map_err(err)?;
        serde_json::to_string(&v).map_err(json_err)
    }

    /// Deletes a memory.
    fn delete_memory(&self, py: Python<'_>, id: &str) -> PyResult<()> {
        let id = parse_run_id(id)?;
        let agent = self.inner.clone();
        wait(py, async move { agent.memories().delete(id).await }, None)?.map_err(err)
    }

    /// What a run of `question` would send the model: `(plan_json, explanation_text)`.
    fn explain_context(&self, py: Python<'_>, question: String) -> PyResult<(String, String)> {
        let agent = self.inner.clone();
        let plan = wait(
            py,
            async move { agent.explain_context(&question).await },
            None,
        )?
        .map_err(err)?;
        Ok((
            serde_json::to_string(&plan).map_err(json_err)?,
            plan.explain(),
        ))
    }

    /// Rules, instructions, memories and knowledge resources matching `query`, as JSON.
    fn search_knowledge(&self, query: &str, k: usize) -> PyResult<String> {
        serde_json::to_string(&self.inner.context_hub().search_knowledge(query, k))
            .map_err(json_err)
    }

    /// Starts running an eval suite (`suite` is a path when `is_path`, else YAML/JSON text);
    /// the suite is read and checked before this returns. See `metricchat.eval.run`.
    #[pyo3(signature = (suite, is_path, *, baseline = false, concurrency = 1, timeout_secs = None, only = None, label = None, store = true, judge_json = None))]
    #[allow(clippy::too_many_arguments)]
    fn eval(
        &self,
        suite: &str,
        is_path: bool,
        baseline: bool,
        concurrency: usize,
        timeout_secs: Option<f64>,
        only: Option<Vec<String>>,
        label: Option<String>,
        store: bool,
        judge_json: Option<String>,
    ) -> PyResult<eval::EvalRun> {
        let suite = eval::read_suite(suite, is_path)?;
        eval::start(
            self.inner.clone(),
            suite,
            eval::EvalOptions {
                baseline,
                concurrency,
                timeout_secs,
                only,
                label,
                store,
                judge_json,
            },
        )
    }

    /// Eval reports kept in the store (of `suite`, or every suite), newest first.
    #[pyo3(signature = (suite = None, limit = 20))]
    fn eval_history(
        &self,
        py: Python<'_>,
        suite: Option<String>,
        limit: u32,
    ) -> PyResult<Vec<eval::EvalReport>> {
        let agent = self.inner.clone();
        wait(py, eval::history(agent, suite, limit), None)?.map_err(err)
    }

    /// The latest runs as JSON (newest first).
    fn list_runs(&self, py: Python<'_>, limit: u32) -> PyResult<String> {
        let store = Arc::clone(self.inner.store());
        let runs = wait(py, async move { store.list_runs(limit).await }, None)?.map_err(err)?;
        serde_json::to_string(&runs).map_err(json_err)
    }

    /// One run as JSON (or None).
    fn get_run(&self, py: Python<'_>, run_id: &str) -> PyResult<Option<String>> {
        let id = parse_run_id(run_id)?;
        let store = Arc::clone(self.inner.store());
        let run = wait(py, async move { store.get_run(id).await }, None)?.map_err(err)?;
        run.map(|r| serde_json::to_string(&r).map_err(json_err))
            .transpose()
    }

    /// A stored run's events as a JSON array.
    fn run_events(&self, py: Python<'_>, run_id: &str) -> PyResult<String> {
        let id = parse_run_id(run_id)?;
        let store = Arc::clone(self.inner.store());
        let events = wait(py, async move { store.events(id).await }, None)?.map_err(err)?;
        serde_json::to_string(&events).map_err(json_err)
    }
}

fn parse_run_id(s: &str) -> PyResult<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|e| InvalidInputError::new_err(format!("id `{s}`: {e}")))
}

/// The next message of a run's channel (events of `ask`, progress of an eval), waiting with the
/// GIL released: `None` once the channel closed, `""` when `timeout` (seconds) passed first.
/// `KeyboardInterrupt` (or any pending signal error) cancels the run and propagates.
pub(crate) fn recv_interruptible(
    py: Python<'_>,
    rx: &flume::Receiver<String>,
    cancel: &CancellationToken,
    timeout: Option<f64>,
) -> PyResult<Option<String>> {
    let deadline = timeout.map(|t| std::time::Instant::now() + Duration::from_secs_f64(t.max(0.0)));
    loop {
        let rx = rx.clone();
        match py.detach(move || rx.recv_timeout(Duration::from_millis(50))) {
            Ok(text) => return Ok(Some(text)),
            Err(flume::RecvTimeoutError::Disconnected) => return Ok(None),
            Err(flume::RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    cancel.cancel();
                    return Err(e);
                }
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    return Ok(Some(String::new()));
                }
            }
        }
    }
}

/// A run in progress: its events, then its result.
///
/// Several readers may call `next_event` at once (threads, asyncio tasks, a sync and an async
/// loop): each event goes to exactly one of them, in order, and every one of them sees the end.
#[pyclass(frozen, module = "metricchat._native")]
struct RunHandle {
    #[pyo3(get)]
    run_id: String,
    rx: flume::Receiver<String>,
    cancel: CancellationToken,
    /// Set by the run's task before the event channel closes.
    outcome: Arc<Mutex<Option<metricchat::Result<AskResult>>>>,
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

    /// The result, once `next_event` returned None; raises the run's error.
    fn result(&self) -> PyResult<RunResult> {
        let mut slot = self
            .outcome
            .lock()
            .map_err(|_| InternalError::new_err("run handle poisoned"))?;
        match slot.take() {
            Some(Ok(result)) => {
                // Every reader of the run may ask for it (the data is shared, not copied).
                *slot = Some(Ok(result.clone()));
                Ok(RunResult { inner: result })
            }
            Some(Err(e)) => {
                let py_err = to_py_err(&e);
                *slot = Some(Err(e));
                Err(py_err)
            }
            None => Err(PyRuntimeError::new_err(
                "the run is not over yet (read its events until next_event() returns None)",
            )),
        }
    }
}

/// A finished run.
#[pyclass(frozen, module = "metricchat._native")]
struct RunResult {
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

/// A query's result.
#[pyclass(frozen, module = "metricchat._native")]
struct QueryResult {
    data: QueryData,
}

#[pymethods]
impl QueryResult {
    /// The rows as a `pyarrow.Table`, shared without copying.
    fn table(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_table(py, self.data.schema.clone(), self.data.batches.clone())
    }

    /// Row count.
    fn num_rows(&self) -> usize {
        self.data.num_rows()
    }

    /// Address of the first buffer of `column` in the first batch (zero-copy checks).
    fn _buffer_address(&self, column: usize) -> Option<usize> {
        first_buffer_address(&self.data.batches, column)
    }
}

/// A warehouse connection with its own guard.
#[pyclass(frozen, module = "metricchat._native")]
struct Connection {
    conn: ConnectorRef,
    guard: Arc<SqlGuard>,
}

#[pymethods]
impl Connection {
    /// `Connection(url, max_rows=10000, timeout_secs=60.0, allow_writes=False)`; `max_rows=None`
    /// lifts the row cap, `timeout_secs=None` the time limit.
    #[new]
    #[pyo3(signature = (url, max_rows = Some(10_000), timeout_secs = Some(60.0), allow_writes = false))]
    fn new(
        url: &str,
        max_rows: Option<u64>,
        timeout_secs: Option<f64>,
        allow_writes: bool,
    ) -> PyResult<Self> {
        // Pools are created inside the runtime (sqlx needs its context even when lazy).
        let _entered = runtime()?.enter();
        let conn = connect_spec(url).map_err(err)?;
        let mut config = GuardConfig::default();
        config.max_rows = max_rows;
        config.timeout = timeout_secs
            .filter(|t| t.is_finite() && *t > 0.0)
            .map(Duration::from_secs_f64);
        config.allow_writes = allow_writes;
        Ok(Self {
            conn,
            guard: Arc::new(SqlGuard::new(config)),
        })
    }

    /// The connection's name.
    #[getter]
    fn name(&self) -> String {
        self.conn.info().name.clone()
    }

    /// The SQL dialect.
    #[getter]
    fn dialect(&self) -> String {
        self.conn.info().dialect.display_name().to_string()
    }

    /// Runs `sql` through the guard; returns a `QueryResult`. `KeyboardInterrupt` cancels it.
    fn query(&self, py: Python<'_>, sql: String) -> PyResult<QueryResult> {
        let conn = Arc::clone(&self.conn);
        let guard = Arc::clone(&self.guard);
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let data = wait(
            py,
            async move { guard.run(&conn, &sql, Some(token)).await },
            Some(cancel),
        )?
        .map_err(err)?;
        Ok(QueryResult { data })
    }

    /// Tables and views as JSON: `[{"schema", "name", "kind", ...}]`.
    fn tables(&self, py: Python<'_>) -> PyResult<String> {
        let conn = Arc::clone(&self.conn);
        let tables = wait(py, async move { conn.list_tables().await }, None)?.map_err(err)?;
        serde_json::to_string(&tables).map_err(json_err)
    }

    /// One table's columns, keys and comments as JSON.
    fn describe(&self, py: Python<'_>, table: String) -> PyResult<String> {
        let conn = Arc::clone(&self.conn);
        let schema = wait(
            py,
            async move {
                let tables = conn.list_tables().await?;
                let wanted = tables
                    .into_iter()
                    .find(|t| t.name == table || t.to_string() == table)
                    .ok_or_else(|| Error::NotFound {
                        what: "table",
                        name: table.clone(),
                    })?;
                conn.table_schema(&wanted).await
            },
            None,
        )?
        .map_err(err)?;
        serde_json::to_string(&schema).map_err(json_err)
    }
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Agent>()?;
    m.add_class::<RunHandle>()?;
    m.add_class::<RunResult>()?;
    m.add_class::<QueryResult>()?;
    m.add_class::<Connection>()?;
    m.add_class::<eval::EvalRun>()?;
    m.add_class::<eval::EvalReport>()?;
    m.add("MetricChatError", py.get_type::<MetricChatError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("UnauthorizedError", py.get_type::<UnauthorizedError>())?;
    m.add("RateLimitedError", py.get_type::<RateLimitedError>())?;
    m.add("TimeoutError", py.get_type::<TimeoutError>())?;
    m.add("CancelledError", py.get_type::<CancelledError>())?;
    m.add("QueryFailedError", py.get_type::<QueryFailedError>())?;
    m.add("LlmError", py.get_type::<LlmError>())?;
    m.add("ToolError", py.get_type::<ToolError>())?;
    m.add("BudgetExceededError", py.get_type::<BudgetExceededError>())?;
    m.add(
        "ContextLengthExceededError",
        py.get_type::<ContextLengthExceededError>(),
    )?;
    m.add(
        "ContentFilteredError",
        py.get_type::<ContentFilteredError>(),
    )?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
