//! Pieces shared by the sqlx and DuckDB connectors: the guarded result stream and small parsers.

use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use metricchat_core::connector::{RecordBatchStreamAdapter, SendableRecordBatchStream};
use metricchat_core::error::{Error, Result};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
/// Rows per Arrow batch.
pub(crate) const BATCH_ROWS: usize = 8192;

/// What the query task sends first: the result schema, or why the query never started.
pub(crate) type SchemaReply = oneshot::Sender<Result<SchemaRef>>;

/// Limits of one running query, shared by the engine task and the caller's stream.
#[derive(Clone)]
pub(crate) struct Limits {
    pub(crate) connector: String,
    pub(crate) deadline: Option<Instant>,
    pub(crate) timeout: Duration,
    pub(crate) cancel: CancellationToken,
    pub(crate) max_rows: Option<usize>,
}

impl Limits {
    pub(crate) fn timeout_error(&self) -> Error {
        Error::Timeout {
            operation: format!("query on `{}`", self.connector),
            after: self.timeout,
        }
    }

    /// Whether the deadline has passed.
    pub(crate) fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Sleeps until `deadline`, forever when there is none.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Waits for the engine task's schema, then returns a stream over its batches that enforces
/// cancel, deadline and row cap on the caller's side too (the task enforces them at the engine).
pub(crate) async fn finish_stream(
    schema: oneshot::Receiver<Result<SchemaRef>>,
    batches: mpsc::Receiver<Result<RecordBatch>>,
    limits: Limits,
) -> Result<SendableRecordBatchStream> {
    let schema = tokio::select! {
        biased;
        () = limits.cancel.cancelled() => return Err(Error::Cancelled),
        () = sleep_until(limits.deadline) => return Err(limits.timeout_error()),
        s = schema => s.map_err(|_| Error::Internal("query task ended without a schema".into()))??,
    };
    let state = StreamState {
        batches,
        remaining: limits.max_rows,
        limits,
    };
    let stream = futures::stream::unfold(Some(state), next_batch);
    Ok(Box::pin(RecordBatchStreamAdapter::new(
        schema,
        Box::pin(stream),
    )))
}

struct StreamState {
    batches: mpsc::Receiver<Result<RecordBatch>>,
    remaining: Option<usize>,
    limits: Limits,
}

async fn next_batch(
    state: Option<StreamState>,
) -> Option<(Result<RecordBatch>, Option<StreamState>)> {
    let mut st = state?;
    if st.remaining == Some(0) {
        return None;
    }
    let item = tokio::select! {
        biased;
        () = st.limits.cancel.cancelled() => Some(Err(Error::Cancelled)),
        () = sleep_until(st.limits.deadline) => Some(Err(st.limits.timeout_error())),
        item = st.batches.recv() => item,
    };
    match item? {
        Err(e) => Some((Err(e), None)),
        Ok(batch) => match st.remaining {
            Some(left) if batch.num_rows() >= left => Some((Ok(batch.slice(0, left)), None)),
            Some(left) => {
                st.remaining = Some(left - batch.num_rows());
                Some((Ok(batch), Some(st)))
            }
            None => Some((Ok(batch), Some(st))),
        },
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
/// A connection error with the driver cause.
pub(crate) fn connection_error(connector: &str, e: sqlx::Error) -> Error {
    let message = match &e {
        sqlx::Error::Io(io) => format!("cannot reach the database: {io}"),
        sqlx::Error::PoolTimedOut => "timed out waiting for a pooled connection".to_string(),
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    };
    Error::Connection {
        connector: connector.to_string(),
        message,
        source: Some(Box::new(e)),
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
/// A query error; database errors keep their code (SQLSTATE on PostgreSQL).
pub(crate) fn query_error(connector: &str, e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Database(db) => Error::Query {
            connector: connector.to_string(),
            message: db.message().to_string(),
            code: db.code().map(|c| c.into_owned()),
            source: Some(Box::new(sqlx::Error::Database(db))),
        },
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed) => connection_error(connector, e),
        other => Error::Query {
            connector: connector.to_string(),
            message: other.to_string(),
            code: None,
            source: Some(Box::new(other)),
        },
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
/// A value the Arrow conversion could not represent.
pub(crate) fn conversion_error(connector: &str, column: &str, message: String) -> Error {
    Error::Query {
        connector: connector.to_string(),
        message: format!("column `{column}`: {message}"),
        code: None,
        source: None,
    }
}
