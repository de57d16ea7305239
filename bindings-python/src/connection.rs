//! A warehouse connection with its own guard ([`Connection`]) and a query's rows
//! ([`QueryResult`]).

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

use metricchat::connector::QueryData;
use metricchat::guard::{GuardConfig, SqlGuard};
use metricchat::spec::connect_spec;
use metricchat::{ConnectorRef, Error};

use crate::arrow::{first_buffer_address, to_table};
use crate::error::{err, json_err};
use crate::runtime::{runtime, wait};

/// A query's result.
#[pyclass(frozen, module = "metricchat._native")]
pub(crate) struct QueryResult {
    data: QueryData,
}

impl QueryResult {
    /// Wraps a query's rows.
    pub(crate) fn new(data: QueryData) -> Self {
        Self { data }
    }
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

    /// Runs `sql` through the guard; returns a `QueryResult`. `KeyboardInterrupt` cancels it.
    fn query(&self, py: Python<'_>, sql: String) -> PyResult<QueryResult> {
        let (conn, guard) = (Arc::clone(&self.conn), Arc::clone(&self.guard));
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let fut = async move { guard.run(&conn, &sql, Some(token)).await };
        let data = wait(py, fut, Some(cancel))?.map_err(err)?;
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
        let schema = wait(py, describe_table(conn, table), None)?.map_err(err)?;
        serde_json::to_string(&schema).map_err(json_err)
    }
}

/// The schema of `table` (by name or qualified name) on `conn`.
async fn describe_table(
    conn: ConnectorRef,
    table: String,
) -> metricchat::Result<metricchat::connector::TableSchema> {
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
