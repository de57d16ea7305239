//! A warehouse connection with its own guard ([`Connection`]) and a query's rows
//! ([`QueryResult`]).

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

use metricchat::connector::{QueryData, TableSchema};
use metricchat::guard::{GuardConfig, SqlGuard};
use metricchat::spec::connect_spec;
use metricchat::{ConnectorRef, Error};

use crate::arrow::{first_buffer_address, to_table};
use crate::error::err;
use crate::runtime::{Plain, future_into_py, runtime};

/// A query's result.
#[pyclass(frozen, module = "metricchat._native")]
pub(crate) struct QueryResult {
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

/// Runs `query` (given a cancellation token) as a task of its own and resolves to its rows.
/// Cancelling the awaitable cancels the token: the task stops the query at the engine and
/// cleans up on its own, as a dropped query future could not.
pub(crate) fn query_into_py<'py, F, Fut>(py: Python<'py>, query: F) -> PyResult<Bound<'py, PyAny>>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = metricchat::Result<QueryData>> + Send + 'static,
{
    let cancel = CancellationToken::new();
    let task = runtime()?.spawn(query(cancel.clone()));
    future_into_py(py, async move {
        let _cancel_on_drop = cancel.drop_guard();
        let data = task.await.map_err(|e| {
            pyo3::exceptions::PyRuntimeError::new_err(format!("the query task failed: {e}"))
        })?;
        Ok(QueryResult {
            data: data.map_err(err)?,
        })
    })
}

/// A warehouse connection with its own guard.
#[pyclass(frozen, module = "metricchat._native")]
pub(crate) struct Connection {
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

    /// Awaitable: runs `sql` through the guard and resolves to a `QueryResult`. Cancelling it
    /// cancels the query at the engine.
    fn query<'py>(&self, py: Python<'py>, sql: String) -> PyResult<Bound<'py, PyAny>> {
        let (conn, guard) = (Arc::clone(&self.conn), Arc::clone(&self.guard));
        query_into_py(py, move |cancel| async move {
            guard.run(&conn, &sql, Some(cancel)).await
        })
    }

    /// Awaitable: tables and views, `[{"schema", "name", "kind", ...}]`.
    fn tables<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let conn = Arc::clone(&self.conn);
        future_into_py(py, async move {
            Ok(Plain(conn.list_tables().await.map_err(err)?))
        })
    }

    /// Awaitable: one table's columns, keys and comments.
    fn describe<'py>(&self, py: Python<'py>, table: String) -> PyResult<Bound<'py, PyAny>> {
        let conn = Arc::clone(&self.conn);
        future_into_py(py, async move {
            Ok(Plain(describe_table(conn, table).await.map_err(err)?))
        })
    }
}

/// The schema of `table` (by name or qualified name) on `conn`.
async fn describe_table(conn: ConnectorRef, table: String) -> metricchat::Result<TableSchema> {
    let tables = conn.list_tables().await?;
    let wanted = tables
        .into_iter()
        .find(|t| t.name == table || t.to_string() == table)
        .ok_or_else(|| Error::NotFound {
            what: "table",
            name: table.clone(),
        })?;
    conn.table_schema(&wanted).await
}
