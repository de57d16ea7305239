//! Arrow record-batch streams and the one limit adapter every source goes through.
//!
//! A connector's engine produces batches; [`LimitStream`] enforces a query's
//! [`QueryLimits`] (row cap, deadline, cancellation) on the caller's side, whatever the engine
//! does itself, the way DataFusion's `LimitStream` serves every source.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::QueryOptions;
use crate::error::{Error, Result};

/// A stream of Arrow record batches that knows its schema (DataFusion's shape).
pub trait RecordBatchStream: Stream<Item = Result<RecordBatch>> {
    /// The schema every batch of this stream has.
    fn schema(&self) -> SchemaRef;
}

/// A boxed, sendable [`RecordBatchStream`].
pub type SendableRecordBatchStream = Pin<Box<dyn RecordBatchStream + Send>>;

/// Wraps any stream of batches with a known schema into a [`RecordBatchStream`].
pub struct RecordBatchStreamAdapter<S> {
    schema: SchemaRef,
    inner: S,
}

impl<S> RecordBatchStreamAdapter<S> {
    /// Wraps `inner`, whose batches all have `schema`.
    pub fn new(schema: SchemaRef, inner: S) -> Self {
        Self { schema, inner }
    }
}

impl<S> Stream for RecordBatchStreamAdapter<S>
where
    S: Stream<Item = Result<RecordBatch>> + Unpin,
{
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl<S> RecordBatchStream for RecordBatchStreamAdapter<S>
where
    S: Stream<Item = Result<RecordBatch>> + Unpin,
{
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// Sleeps until `deadline`, forever when there is none.
pub async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The limits of one running query — row cap, deadline and cancel token — fixed when the query
/// starts, shared by the engine's task and the caller's [`LimitStream`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueryLimits {
    /// The connection's name, for error messages.
    pub connector: String,
    /// When the query must have finished (`None`: never).
    pub deadline: Option<Instant>,
    /// The time limit the deadline came from (reported in [`Error::Timeout`]).
    pub timeout: Duration,
    /// Cancels the query.
    pub cancel: CancellationToken,
    /// Stop after this many rows.
    pub max_rows: Option<usize>,
    /// The identity the query runs as ([`QueryOptions::run_as`]).
    pub run_as: Option<super::Credentials>,
}

impl QueryLimits {
    /// The limits of a query on `connector` starting now, from the caller's options.
    pub fn new(connector: &str, opts: QueryOptions) -> Self {
        Self {
            connector: connector.to_string(),
            deadline: opts.timeout.map(|t| Instant::now() + t),
            timeout: opts.timeout.unwrap_or_default(),
            cancel: opts.cancel,
            max_rows: opts.max_rows,
            run_as: opts.run_as,
        }
    }

    /// Limits for catalog queries on `connector`: no row cap, a fixed time limit.
    pub fn catalog(connector: &str, timeout: Duration) -> Self {
        Self::new(
            connector,
            QueryOptions::default()
                .with_max_rows(None)
                .with_timeout(Some(timeout)),
        )
    }

    /// The [`Error::Timeout`] of this query.
    pub fn timeout_error(&self) -> Error {
        Error::Timeout {
            operation: format!("query on `{}`", self.connector),
            after: self.timeout,
        }
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The time left before the deadline (`None`: no deadline; zero once it has passed).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Resolves when the caller cancels or the deadline passes, with the matching error
    /// (cancellation wins when both hold).
    pub async fn interrupted(&self) -> Error {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Error::Cancelled,
            () = sleep_until(self.deadline) => self.timeout_error(),
        }
    }

    /// Runs `fut` unless interrupted first; `Err` carries the interruption (cancel or timeout).
    pub async fn race<T>(&self, fut: impl Future<Output = T>) -> std::result::Result<T, Error> {
        tokio::select! {
            biased;
            e = self.interrupted() => Err(e),
            v = fut => Ok(v),
        }
    }

    /// Runs the fallible `fut` unless interrupted first.
    pub async fn guard<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.race(fut).await?
    }
}

/// The one adapter that enforces a query's [`QueryLimits`] on a stream of batches.
///
/// Cancellation and the deadline end the stream with [`Error::Cancelled`] and
/// [`Error::Timeout`]; the row cap truncates it (the last batch is sliced) and sets the
/// [truncation flag](LimitStream::truncated). An error from `inner` ends the stream after it is
/// returned. Dropping the stream drops `inner`, which is how engines learn to stop.
pub struct LimitStream {
    schema: SchemaRef,
    inner: BoxStream<'static, Result<RecordBatch>>,
    truncated: Arc<AtomicBool>,
}

struct LimitState<S> {
    inner: Pin<Box<S>>,
    remaining: Option<usize>,
    limits: QueryLimits,
    truncated: Arc<AtomicBool>,
}

impl LimitStream {
    /// Wraps `inner`, whose batches all have `schema`, in `limits`.
    pub fn new<S>(schema: SchemaRef, inner: S, limits: QueryLimits) -> Self
    where
        S: Stream<Item = Result<RecordBatch>> + Send + 'static,
    {
        let truncated = Arc::new(AtomicBool::new(false));
        let state = LimitState {
            inner: Box::pin(inner),
            remaining: limits.max_rows,
            limits,
            truncated: Arc::clone(&truncated),
        };
        let inner = futures::stream::unfold(Some(state), Self::next).boxed();
        Self {
            schema,
            inner,
            truncated,
        }
    }

    /// Waits for `schema` (the engine's first answer) under `limits`, then wraps `inner`.
    pub async fn start<S>(
        schema: impl Future<Output = Result<SchemaRef>>,
        inner: S,
        limits: QueryLimits,
    ) -> Result<Self>
    where
        S: Stream<Item = Result<RecordBatch>> + Send + 'static,
    {
        let schema = limits.guard(schema).await?;
        Ok(Self::new(schema, inner, limits))
    }

    /// A shared flag that turns true once the row cap dropped rows. (When the cap falls exactly
    /// on a batch boundary, the stream ends without reading further and the flag stays false.)
    pub fn truncated(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.truncated)
    }

    /// Boxes the stream as a [`SendableRecordBatchStream`].
    pub fn boxed(self) -> SendableRecordBatchStream {
        Box::pin(self)
    }

    async fn next<S>(
        state: Option<LimitState<S>>,
    ) -> Option<(Result<RecordBatch>, Option<LimitState<S>>)>
    where
        S: Stream<Item = Result<RecordBatch>>,
    {
        let mut st = state?;
        if st.remaining == Some(0) {
            return None;
        }
        let item = match st.limits.race(st.inner.next()).await {
            Err(e) => Some(Err(e)),
            Ok(item) => item,
        };
        match item? {
            Err(e) => Some((Err(e), None)),
            Ok(batch) => match st.remaining {
                Some(left) if batch.num_rows() >= left => {
                    if batch.num_rows() > left {
                        st.truncated.store(true, Ordering::Relaxed);
                    }
                    Some((Ok(batch.slice(0, left)), None))
                }
                Some(left) => {
                    st.remaining = Some(left - batch.num_rows());
                    Some((Ok(batch), Some(st)))
                }
                None => Some((Ok(batch), Some(st))),
            },
        }
    }
}

impl Stream for LimitStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl RecordBatchStream for LimitStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use arrow::array::Int32Array;
    use arrow::datatypes::{DataType, Field, Schema};

    fn batch(rows: i32) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int32, false)]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int32Array::from_iter_values(0..rows))],
        )
        .unwrap()
    }

    fn limits(max_rows: Option<usize>, timeout: Option<Duration>) -> QueryLimits {
        QueryLimits::new(
            "wh",
            QueryOptions::default()
                .with_max_rows(max_rows)
                .with_timeout(timeout),
        )
    }

    #[tokio::test]
    async fn row_cap_slices_and_flags_truncation() {
        let b = batch(4);
        let inner = futures::stream::iter([Ok(b.clone()), Ok(b.clone()), Ok(b.clone())]);
        let stream = LimitStream::new(b.schema(), inner, limits(Some(6), None));
        let flag = stream.truncated();
        let rows: Vec<usize> = stream.map(|b| b.unwrap().num_rows()).collect().await;
        assert_eq!(rows, vec![4, 2]);
        assert!(flag.load(Ordering::Relaxed));

        let inner = futures::stream::iter([Ok(b.clone()), Ok(b.clone())]);
        let stream = LimitStream::new(b.schema(), inner, limits(Some(8), None));
        let flag = stream.truncated();
        assert_eq!(stream.count().await, 2);
        assert!(!flag.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn cancel_and_deadline_end_the_stream_with_errors() {
        let b = batch(1);
        let l = limits(None, None);
        l.cancel.cancel();
        let mut s = LimitStream::new(b.schema(), futures::stream::pending(), l);
        assert!(matches!(s.next().await, Some(Err(Error::Cancelled))));
        assert!(s.next().await.is_none());

        let l = limits(None, Some(Duration::from_millis(10)));
        let mut s = LimitStream::new(b.schema(), futures::stream::pending(), l);
        let err = s.next().await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");

        let l = limits(None, Some(Duration::from_millis(10)));
        let never = std::future::pending::<Result<SchemaRef>>();
        let err = LimitStream::start(never, futures::stream::pending(), l)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
    }

    #[tokio::test]
    async fn an_inner_error_ends_the_stream() {
        let b = batch(2);
        let inner = futures::stream::iter([Err(Error::Internal("boom".into())), Ok(b.clone())]);
        let mut s = LimitStream::new(b.schema(), inner, limits(None, None));
        assert!(s.next().await.unwrap().is_err());
        assert!(s.next().await.is_none());
    }
}
