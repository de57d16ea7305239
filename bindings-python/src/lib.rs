//! `metricchat._native`: the Python package's native module, a thin shell over the Rust core.
//!
//! The Python layer (`python/metricchat/`) shapes the API; this module only converts. It is
//! async: every I/O method returns an awaitable (`runtime::future_into_py`), and the sync API
//! runs those on a background event loop in Python (`metricchat/_loop.py`). Specs, filters,
//! events and results cross as Python objects through `pythonize`; data leaves as Arrow through
//! the C stream interface (no copy); errors become one exception class per
//! [`metricchat::ErrorKind`].
//!
//! One file per concept, as in `bindings-node/src/`: `agent`, `run`, `connection`, `tools`,
//! `eval`, with `error` (exceptions), `runtime` (the fork-safe tokio runtime and the bridge to
//! awaitables) and `arrow`.

use pyo3::prelude::*;

mod agent;
mod approval;
mod arrow;
mod connection;
// Dashboards (issue 16).
mod dashboard;
mod error;
mod eval;
mod run;
mod runtime;
mod tools;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<agent::Agent>()?;
    m.add_class::<run::RunHandle>()?;
    m.add_class::<run::RunResult>()?;
    m.add_class::<connection::QueryResult>()?;
    m.add_class::<connection::Connection>()?;
    m.add_class::<eval::EvalRun>()?;
    m.add_class::<eval::EvalReport>()?;
    error::register(m)?;
    // Dashboards (issue 16).
    m.add_function(wrap_pyfunction!(dashboard::dashboard_html, m)?)?;
    m.add_function(wrap_pyfunction!(dashboard::dashboard_check, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
