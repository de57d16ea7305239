//! The engine task of a client/server query: spawning it, pumping rows into Arrow batches under
//! the query's limits, and concluding.

use std::future::Future;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use futures::StreamExt;
use futures::stream::BoxStream;
use metricchat_core::connector::{QueryLimits, SendableRecordBatchStream, sleep_until};
use metricchat_core::error::{Error, Result};
use sqlx::pool::PoolConnection;
use tokio::sync::{mpsc, oneshot};

use super::BATCH_ROWS;
use crate::task::{SchemaReply, finish_stream};

/// The time left for the engine's own statement time limit: at least 1 ms, since a zero limit
/// means "none" to the engines.
pub(crate) fn engine_time_left(limits: &QueryLimits) -> Option<std::time::Duration> {
    limits
        .remaining()
        .map(|d| d.max(std::time::Duration::from_millis(1)))
}

/// The query's result once the engine task has cleaned up after `outcome`.
pub(crate) fn conclude(limits: &QueryLimits, outcome: Result<Option<Stop>>) -> Result<()> {
    match outcome {
        Ok(None | Some(Stop::Closed)) => Ok(()),
        Ok(Some(Stop::Cancelled)) => Err(Error::Cancelled),
        Ok(Some(Stop::Deadline)) => Err(limits.timeout_error()),
        Err(e) => Err(e),
    }
}

/// What one client/server engine (PostgreSQL, MySQL/MariaDB) adds to the shared query task
/// [`run_query`]: its session setup and id, how it streams a statement's rows into Arrow, how
/// it interrupts a statement from another connection, and how it cleans a connection up.
pub(crate) trait SqlxEngine: Send + Sync + 'static {
    /// The sqlx driver.
    type Db: sqlx::Database;
    /// What identifies the session to [`SqlxEngine::interrupt`] (a backend pid, a connection id).
    type Session: Send;

    /// The error for a connection the pool could not give.
    fn acquire_error(&self, limits: &QueryLimits, e: sqlx::Error) -> Error;

    /// Puts a fresh connection in read-only mode with the engine's own time limit and returns
    /// the session's id.
    fn setup(
        &self,
        conn: &mut PoolConnection<Self::Db>,
        limits: &QueryLimits,
    ) -> impl Future<Output = Result<Self::Session>> + Send;

    /// Prepares `sql`, sends the schema on `schema_tx` and streams the rows as batches (see
    /// [`pump_rows`]). `finished` tells whether the statement is known to have ended.
    #[allow(clippy::too_many_arguments)]
    fn stream(
        &self,
        conn: &mut PoolConnection<Self::Db>,
        sql: &str,
        limits: &QueryLimits,
        finished: &mut bool,
        schema_tx: &mut Option<SchemaReply>,
        batch_tx: &mpsc::Sender<Result<RecordBatch>>,
    ) -> impl Future<Output = Result<Option<Stop>>> + Send;

    /// Interrupts the statement still running in `session`, from another connection.
    fn interrupt(&self, session: Self::Session) -> impl Future<Output = ()> + Send;

    /// Ends the read-only transaction or session settings; `true` when the connection is clean
    /// enough to go back to the pool.
    fn cleanup(&self, conn: &mut PoolConnection<Self::Db>) -> impl Future<Output = bool> + Send;
}

/// Runs `sql` on a connection of `pool` in a task of its own and returns the caller's stream
/// over its batches.
pub(crate) async fn run_query<E: SqlxEngine>(
    engine: Arc<E>,
    pool: sqlx::Pool<E::Db>,
    sql: &str,
    limits: QueryLimits,
) -> Result<SendableRecordBatchStream> {
    let (schema_tx, schema_rx) = oneshot::channel();
    let (batch_tx, batch_rx) = mpsc::channel(2);
    let task_limits = limits.clone();
    let sql = sql.to_string();
    tokio::spawn(async move {
        let mut schema_tx = Some(schema_tx);
        let result = query_task(
            &*engine,
            &pool,
            &sql,
            &task_limits,
            &mut schema_tx,
            &batch_tx,
        )
        .await;
        report_failure(&mut schema_tx, &batch_tx, result).await;
    });
    finish_stream(schema_rx, batch_rx, limits).await
}

/// The one query task of the client/server engines: acquire a connection under the query's
/// cancellation and deadline, set the session up read-only, stream the rows, interrupt the
/// statement if it has not finished (row cap, cancel, deadline, dropped stream), clean up.
async fn query_task<E: SqlxEngine>(
    engine: &E,
    pool: &sqlx::Pool<E::Db>,
    sql: &str,
    limits: &QueryLimits,
    schema_tx: &mut Option<SchemaReply>,
    batch_tx: &mpsc::Sender<Result<RecordBatch>>,
) -> Result<()> {
    let conn = limits
        .guard(async {
            pool.acquire()
                .await
                .map_err(|e| engine.acquire_error(limits, e))
        })
        .await?;
    let mut tx = TxConn { conn, clean: false };
    let session = engine.setup(&mut tx.conn, limits).await?;
    let mut finished = false;
    let outcome = engine
        .stream(
            &mut tx.conn,
            sql,
            limits,
            &mut finished,
            schema_tx,
            batch_tx,
        )
        .await;
    if !finished {
        engine.interrupt(session).await;
    }
    if engine.cleanup(&mut tx.conn).await {
        tx.clean = true;
    }
    conclude(limits, outcome)
}

/// Sends an engine task's failure where the caller waits: the schema reply if it is still
/// pending, else the batch channel.
pub(crate) async fn report_failure(
    schema_tx: &mut Option<SchemaReply>,
    batch_tx: &mpsc::Sender<Result<RecordBatch>>,
    result: Result<()>,
) {
    if let Err(e) = result {
        match schema_tx.take() {
            Some(tx) => {
                let _ = tx.send(Err(e));
            }
            None => {
                let _ = batch_tx.send(Err(e)).await;
            }
        }
    }
}

/// A pooled connection inside our transaction or session settings; closed instead of reused
/// unless the task marks it clean.
pub(crate) struct TxConn<DB: sqlx::Database> {
    pub(crate) conn: PoolConnection<DB>,
    pub(crate) clean: bool,
}

impl<DB: sqlx::Database> Drop for TxConn<DB> {
    fn drop(&mut self) {
        if !self.clean {
            self.conn.close_on_drop();
        }
    }
}

/// Why the row loop stopped early.
pub(crate) enum Stop {
    Cancelled,
    Deadline,
    Closed,
}

/// One result column being converted to Arrow.
pub(crate) trait ArrowColumn {
    /// The column's values so far, leaving the builder empty.
    fn finish(&mut self) -> ArrayRef;
}

fn finish_batch<B: ArrowColumn>(schema: &SchemaRef, cols: &mut [B]) -> Result<RecordBatch> {
    let arrays: Vec<ArrayRef> = cols.iter_mut().map(ArrowColumn::finish).collect();
    Ok(RecordBatch::try_new(schema.clone(), arrays)?)
}

/// Reads `rows` into batches of [`BATCH_ROWS`] rows, converting each with `append_row`, and
/// sends them on `batch_tx` while honouring the row cap, cancellation, the deadline and a
/// dropped stream. `Ok(None)` means the result ended; `Ok(Some(_))` that reading stopped
/// early. `finished` tells whether the statement is known to have ended (otherwise the
/// caller interrupts it at the engine).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn pump_rows<R, B: ArrowColumn>(
    mut rows: BoxStream<'_, std::result::Result<R, sqlx::Error>>,
    schema: &SchemaRef,
    cols: &mut [B],
    limits: &QueryLimits,
    batch_tx: &mpsc::Sender<Result<RecordBatch>>,
    finished: &mut bool,
    map_err: impl Fn(sqlx::Error) -> Error,
    mut append_row: impl FnMut(&R, &mut [B]) -> Result<()>,
) -> Result<Option<Stop>> {
    let mut in_batch = 0usize;
    let mut total = 0usize;
    loop {
        if limits.max_rows.is_some_and(|c| total >= c) {
            if in_batch > 0 {
                let b = finish_batch(schema, cols)?;
                let _ = batch_tx.send(Ok(b)).await;
            }
            return Ok(Some(Stop::Closed));
        }
        let next = tokio::select! {
            biased;
            () = limits.cancel.cancelled() => return Ok(Some(Stop::Cancelled)),
            () = sleep_until(limits.deadline) => return Ok(Some(Stop::Deadline)),
            () = batch_tx.closed() => return Ok(Some(Stop::Closed)),
            r = rows.next() => r,
        };
        let Some(row) = next else {
            *finished = true;
            break;
        };
        let row = row.map_err(|e| {
            *finished = true;
            map_err(e)
        })?;
        append_row(&row, cols)?;
        in_batch += 1;
        total += 1;
        if in_batch == BATCH_ROWS {
            let b = finish_batch(schema, cols)?;
            in_batch = 0;
            if batch_tx.send(Ok(b)).await.is_err() {
                return Ok(Some(Stop::Closed));
            }
        }
    }
    drop(rows);
    if in_batch > 0 || total == 0 {
        let b = finish_batch(schema, cols)?;
        let _ = batch_tx.send(Ok(b)).await;
    }
    Ok(None)
}
