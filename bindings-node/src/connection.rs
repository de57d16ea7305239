//! `connect(url)`: one connection with the SQL guard in front of it.

use std::sync::Arc;
use std::time::Duration;

use metricchat::ConnectorRef;
use metricchat::connector::{QueryData, TableRef};
use metricchat::guard::{GuardConfig, SqlGuard};
use metricchat::spec::connect_spec;
use metricchat::{ErrorKind, Result};
use napi::bindgen_prelude::within_runtime_if_available;
use napi_derive::napi;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::data::NativeResult;
use crate::{coded, js, js_error};

/// Limits of a connection's queries (the guard's defaults: 10,000 rows, 60 s).
#[napi(object)]
pub struct ConnectOptions {
    /// Row cap of every query.
    pub max_rows: Option<u32>,
    /// Time limit of every query, in seconds.
    pub query_timeout_secs: Option<f64>,
    /// If set, only these tables may be read.
    pub allowed_tables: Option<Vec<String>>,
    /// These tables may never be read.
    pub denied_tables: Option<Vec<String>>,
}

/// One connection.
#[napi]
pub struct NativeConnection {
    conn: ConnectorRef,
    guard: Arc<SqlGuard>,
}

/// Opens a connection from a URL (`file://`, `sqlite://`, `postgres://`, `mysql://`,
/// `sample:flights`).
#[napi]
pub fn connect(url: String, options: Option<ConnectOptions>) -> napi::Result<NativeConnection> {
    let mut config = GuardConfig::default();
    if let Some(o) = options {
        if let Some(rows) = o.max_rows {
            config.max_rows = Some(u64::from(rows));
        }
        if let Some(secs) = o.query_timeout_secs {
            config.timeout = Some(Duration::try_from_secs_f64(secs).map_err(|e| {
                coded(
                    ErrorKind::InvalidInput,
                    format!("queryTimeoutSecs {secs}: {e}"),
                )
            })?);
        }
        config.policy.allowed_tables = o.allowed_tables;
        config.policy.denied_tables = o.denied_tables.unwrap_or_default();
    }
    let conn = js(within_runtime_if_available(|| connect_spec(&url)))?;
    Ok(NativeConnection {
        conn,
        guard: Arc::new(SqlGuard::new(config)),
    })
}

#[napi]
impl NativeConnection {
    /// Name, backend, dialect and capabilities.
    #[napi(getter)]
    pub fn info(&self) -> napi::Result<serde_json::Value> {
        serde_json::to_value(self.conn.info()).map_err(|e| coded(ErrorKind::Internal, e))
    }

    /// Tables and views, as `{ schema?, name }`.
    #[napi]
    pub async fn tables(&self) -> napi::Result<serde_json::Value> {
        let tables = js(self.conn.list_tables().await)?;
        serde_json::to_value(tables).map_err(|e| coded(ErrorKind::Internal, e))
    }

    /// One table's columns, keys and comments (`name` or `schema.name`).
    #[napi]
    pub async fn describe(&self, table: String) -> napi::Result<serde_json::Value> {
        let schema = js(self.conn.table_schema(&TableRef::parse(&table)).await)?;
        serde_json::to_value(schema).map_err(|e| coded(ErrorKind::Internal, e))
    }

    /// Starts `sql` through the guard; `result()` awaits it, `cancel()` stops it.
    #[napi]
    pub fn query(&self, sql: String) -> NativeQuery {
        let cancel = CancellationToken::new();
        let (conn, guard, token) = (self.conn.clone(), self.guard.clone(), cancel.clone());
        let task = within_runtime_if_available(|| {
            tokio::spawn(async move { guard.run(&conn, &sql, Some(token)).await.map(|d| (sql, d)) })
        });
        NativeQuery {
            cancel,
            task: Mutex::new(Some(task)),
        }
    }
}

/// The task running a query: the connection's name and the data.
type QueryTask = JoinHandle<Result<(String, QueryData)>>;

/// A query under way.
#[napi]
pub struct NativeQuery {
    cancel: CancellationToken,
    task: Mutex<Option<QueryTask>>,
}

#[napi]
impl NativeQuery {
    /// Stops the query (its result becomes a `Cancelled` error, also when it had just finished).
    #[napi]
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The query's result.
    #[napi]
    pub async fn result(&self) -> napi::Result<NativeResult> {
        let task = self.task.lock().await.take();
        let Some(task) = task else {
            return Err(coded(
                ErrorKind::InvalidInput,
                "the query's result was already taken",
            ));
        };
        // A cancelled query is `Cancelled` even if it finished first: a fast query may complete
        // before a cancel issued right after `query()` (an already aborted signal) reaches it.
        let mut task = task;
        let joined = tokio::select! {
            biased;
            () = self.cancel.cancelled() => {
                task.abort();
                return Err(js_error(&metricchat::Error::Cancelled));
            }
            joined = &mut task => joined.map_err(|e| coded(ErrorKind::Internal, e))?,
        };
        let (sql, data) = js(joined)?;
        Ok(NativeResult::query(&sql, data))
    }
}
