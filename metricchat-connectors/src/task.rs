//! The hand-over from an engine task (a tokio task or a blocking thread that drives the
//! database) to the caller's [`LimitStream`]: the schema first, then the batches.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use metricchat_core::connector::{LimitStream, QueryLimits, SendableRecordBatchStream};
use metricchat_core::error::{Error, Result};
use tokio::sync::{mpsc, oneshot};

/// What the query task sends first: the result schema, or why the query never started.
pub(crate) type SchemaReply = oneshot::Sender<Result<SchemaRef>>;

/// Waits for the engine task's schema, then returns a [`LimitStream`] over its batches, so that
/// cancel, deadline and row cap hold on the caller's side too (the task enforces them at the
/// engine).
pub(crate) async fn finish_stream(
    schema: oneshot::Receiver<Result<SchemaRef>>,
    batches: mpsc::Receiver<Result<RecordBatch>>,
    limits: QueryLimits,
) -> Result<SendableRecordBatchStream> {
    let schema = async {
        schema
            .await
            .map_err(|_| Error::Internal("query task ended without a schema".into()))?
    };
    let batches = futures::stream::unfold(batches, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(LimitStream::start(schema, batches, limits).await?.boxed())
}
