//! `metricchat._native`: the Python package's native module, a thin shell over the Rust core.
//!
//! The Python layer (`python/metricchat/`) shapes the API; this module only converts: agent specs
//! arrive as JSON text and are parsed by [`metricchat::spec::AgentSpec`], events and results
//! leave as the core's own JSON, data leaves as Arrow through the C stream interface (no copy),
//! and errors become one exception class per [`metricchat::ErrorKind`]. Every wait releases the
//! GIL and polls for signals, so `KeyboardInterrupt` cancels the run and its query.
//!
//! One file per concept, as in `bindings-node/src/`: `agent`, `run`, `connection`, `tools`,
//! `eval`, with `error` (exceptions), `runtime` (the tokio runtime and waits) and `arrow`.

use pyo3::prelude::*;

mod agent;
mod arrow;
mod connection;
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
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
