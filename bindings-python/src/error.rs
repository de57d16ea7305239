//! Errors: one Python exception class per [`ErrorKind`] under `MetricChatError`, with `kind`,
//! `retryable` and the error's sources chained as `__cause__`. `TimeoutError` and
//! `CancelledError` also derive from the built-in `TimeoutError` and `asyncio.CancelledError`, so
//! code that catches those catches ours too.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTimeoutError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use metricchat::{Error, ErrorKind};

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

/// `metricchat.TimeoutError`, built on first use.
static TIMEOUT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
/// `metricchat.CancelledError`, built on first use.
static CANCELLED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// A class `name` deriving from `MetricChatError` and `other` (`create_exception!` takes one
/// base only).
fn dual_class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    other: Bound<'py, PyAny>,
    doc: &str,
) -> PyResult<Bound<'py, PyType>> {
    let class = cell.get_or_try_init(py, || {
        let bases = PyTuple::new(py, [py.get_type::<MetricChatError>().into_any(), other])?;
        let namespace = PyDict::new(py);
        namespace.set_item("__doc__", doc)?;
        namespace.set_item("__module__", "metricchat._native")?;
        let class = py.get_type::<PyType>().call1((name, bases, namespace))?;
        Ok::<_, PyErr>(class.cast_into::<PyType>()?.unbind())
    })?;
    Ok(class.bind(py).clone())
}

/// `TimeoutError`: a `MetricChatError` and a built-in `TimeoutError`.
fn timeout_error(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    let builtin = py.get_type::<PyTimeoutError>().into_any();
    let doc = "A model call, query or tool timed out (also a built-in `TimeoutError`).";
    dual_class(py, &TIMEOUT_ERROR, "TimeoutError", builtin, doc)
}

/// `CancelledError`: a `MetricChatError` and an `asyncio.CancelledError`.
fn cancelled_error(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    let asyncio = py.import("asyncio")?.getattr("CancelledError")?;
    let doc = "The run or query was cancelled (also an `asyncio.CancelledError`).";
    dual_class(py, &CANCELLED_ERROR, "CancelledError", asyncio, doc)
}

/// The exception class of `kind`.
fn error_class(py: Python<'_>, kind: ErrorKind) -> PyResult<Bound<'_, PyType>> {
    Ok(match kind {
        ErrorKind::InvalidInput => py.get_type::<InvalidInputError>(),
        ErrorKind::NotFound => py.get_type::<NotFoundError>(),
        ErrorKind::Unauthorized => py.get_type::<UnauthorizedError>(),
        ErrorKind::RateLimited => py.get_type::<RateLimitedError>(),
        ErrorKind::Timeout => timeout_error(py)?,
        ErrorKind::Cancelled => cancelled_error(py)?,
        ErrorKind::QueryFailed => py.get_type::<QueryFailedError>(),
        ErrorKind::Llm => py.get_type::<LlmError>(),
        ErrorKind::Tool => py.get_type::<ToolError>(),
        ErrorKind::BudgetExceeded => py.get_type::<BudgetExceededError>(),
        ErrorKind::ContextLengthExceeded => py.get_type::<ContextLengthExceededError>(),
        ErrorKind::ContentFiltered => py.get_type::<ContentFilteredError>(),
        ErrorKind::Unsupported => py.get_type::<UnsupportedError>(),
        _ => py.get_type::<InternalError>(),
    })
}

/// An instance of `kind`'s class carrying `message`, `kind` and `retryable`.
fn kind_error(py: Python<'_>, kind: ErrorKind, message: String, retryable: bool) -> PyErr {
    match error_class(py, kind).and_then(|class| class.call1((message,))) {
        Ok(value) => {
            // Best effort: the classes are our own, so setting an attribute cannot fail.
            let _ = value.setattr("kind", kind.as_str());
            let _ = value.setattr("retryable", retryable);
            PyErr::from_value(value)
        }
        Err(e) => e,
    }
}

/// The Python exception for `err`: its kind's class, `kind` and `retryable` attributes, and the
/// error's sources (driver/provider messages) chained as `__cause__`, innermost last.
pub(crate) fn to_py_err(err: &Error) -> PyErr {
    Python::attach(|py| {
        let kind = err.kind();
        let top = kind_error(py, kind, err.to_string(), err.is_retryable());
        let mut outer = top.clone_ref(py);
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            let cause = MetricChatError::new_err(s.to_string());
            let _ = cause.value(py).setattr("kind", kind.as_str());
            outer.set_cause(py, Some(cause.clone_ref(py)));
            outer = cause;
            source = s.source();
        }
        top
    })
}

/// [`to_py_err`] by value (for `map_err`).
pub(crate) fn err(e: Error) -> PyErr {
    to_py_err(&e)
}

/// An id given by Python.
pub(crate) fn parse_id(s: &str) -> PyResult<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|e| InvalidInputError::new_err(format!("id `{s}`: {e}")))
}

/// Adds every exception class to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("MetricChatError", py.get_type::<MetricChatError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("UnauthorizedError", py.get_type::<UnauthorizedError>())?;
    m.add("RateLimitedError", py.get_type::<RateLimitedError>())?;
    m.add("TimeoutError", timeout_error(py)?)?;
    m.add("CancelledError", cancelled_error(py)?)?;
    m.add("QueryFailedError", py.get_type::<QueryFailedError>())?;
    m.add("LlmError", py.get_type::<LlmError>())?;
    m.add("ToolError", py.get_type::<ToolError>())?;
    m.add("BudgetExceededError", py.get_type::<BudgetExceededError>())?;
    let context = py.get_type::<ContextLengthExceededError>();
    m.add("ContextLengthExceededError", context)?;
    m.add(
        "ContentFilteredError",
        py.get_type::<ContentFilteredError>(),
    )?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}
