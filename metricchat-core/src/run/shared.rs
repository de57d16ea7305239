//! One run read by several consumers: [`SharedRun`].
//!
//! A host that hands one run to several readers (threads of a Python program, a sync and an
//! async loop, JavaScript iterators) needs the same three things: each event goes to exactly one
//! reader, in order; every reader sees the end; and the outcome is there for all of them, as many
//! times as they ask. The bindings share this type instead of solving it each in their own way.

use std::future::Future;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use tokio::sync::{Mutex, Notify, OnceCell};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::Result;
use crate::events::Event;

/// A stream of a run's events that ends in an outcome (implemented by [`crate::Run`]).
pub trait FinishingStream: Stream<Item = Event> + Unpin + Send + 'static {
    /// What the run ends in.
    type Outcome: Send + Sync + 'static;

    /// The run's id.
    fn run_id(&self) -> Uuid;

    /// A token that cancels the run.
    fn cancellation_token(&self) -> CancellationToken;

    /// Drains the remaining events and returns the outcome.
    fn finish(self) -> impl Future<Output = Result<Self::Outcome>> + Send;
}

/// One run shared by several consumers. Cheap to clone (clones share the run).
///
/// [`next`](Self::next) hands each event to exactly one caller, in order, and `None` to every
/// caller once the run is over; [`outcome`](Self::outcome) waits for the end without taking
/// events from the readers; [`finish`](Self::finish) reads (and drops) what is left itself.
/// Dropping every clone drops the run, which cancels it.
pub struct SharedRun<R: FinishingStream> {
    inner: Arc<Inner<R>>,
}

struct Inner<R: FinishingStream> {
    run_id: Uuid,
    cancel: CancellationToken,
    /// The run while it has events; `None` once its outcome is in `outcome`.
    run: Mutex<Option<R>>,
    outcome: OnceCell<Result<R::Outcome>>,
    /// Woken when `outcome` is set.
    done: Notify,
}

impl<R: FinishingStream> Clone for SharedRun<R> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<R: FinishingStream> std::fmt::Debug for SharedRun<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRun")
            .field("run_id", &self.inner.run_id)
            .field("finished", &self.inner.outcome.initialized())
            .finish()
    }
}

impl<R: FinishingStream> SharedRun<R> {
    /// Shares `run`.
    pub fn new(run: R) -> Self {
        Self {
            inner: Arc::new(Inner {
                run_id: run.run_id(),
                cancel: run.cancellation_token(),
                run: Mutex::new(Some(run)),
                outcome: OnceCell::new(),
                done: Notify::new(),
            }),
        }
    }

    /// The run's id.
    pub fn run_id(&self) -> Uuid {
        self.inner.run_id
    }

    /// Cancels the run; the events up to its end still arrive.
    pub fn cancel(&self) {
        self.inner.cancel.cancel();
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// A token that cancels the run.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.inner.cancel.clone()
    }

    /// The next event, or `None` once the run is over (for every caller from then on).
    /// Cancel-safe: a call dropped while waiting loses no event.
    pub async fn next(&self) -> Option<Event> {
        let mut slot = self.inner.run.lock().await;
        let run = slot.as_mut()?;
        if let Some(event) = run.next().await {
            return Some(event);
        }
        let run = slot.take()?;
        let outcome = run.finish().await;
        // Only the holder of the lock that took the run sets it, so this cannot fail.
        let _ = self.inner.outcome.set(outcome);
        self.inner.done.notify_waiters();
        None
    }

    /// Reads the remaining events (dropping them) and returns the outcome.
    pub async fn finish(&self) -> &Result<R::Outcome> {
        while self.next().await.is_some() {}
        self.outcome().await
    }

    /// Waits for the readers to reach the end and returns the outcome; takes no event.
    pub async fn outcome(&self) -> &Result<R::Outcome> {
        loop {
            let done = self.inner.done.notified();
            if let Some(outcome) = self.inner.outcome.get() {
                return outcome;
            }
            done.await;
        }
    }

    /// The outcome when the run is over, without waiting.
    pub fn try_outcome(&self) -> Option<&Result<R::Outcome>> {
        self.inner.outcome.get()
    }
}
