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

use crate::approval::Approvals;
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

    /// The run's approval requests, when it has any (default: none).
    fn approvals(&self) -> Option<Approvals> {
        None
    }

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
    approvals: Option<Approvals>,
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
                approvals: run.approvals(),
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

    /// Approves approval request `id` (see [`crate::Run::approve`]).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when no such request waits.
    pub fn approve(&self, id: Uuid) -> Result<()> {
        self.approvals()?.approve(id)
    }

    /// Denies approval request `id` with `reason` (see [`crate::Run::deny`]).
    ///
    /// # Errors
    /// As [`SharedRun::approve`].
    pub fn deny(&self, id: Uuid, reason: impl Into<String>) -> Result<()> {
        self.approvals()?.deny(id, reason)
    }

    /// The run's approval requests.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) for a run without approvals.
    pub fn approvals(&self) -> Result<Approvals> {
        self.inner
            .approvals
            .clone()
            .ok_or_else(|| crate::Error::Unsupported("this run has no approval requests".into()))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::events::EventKind;
    use futures::stream::{self, BoxStream};

    struct Fake {
        events: BoxStream<'static, Event>,
        cancel: CancellationToken,
    }

    impl Stream for Fake {
        type Item = Event;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Event>> {
            self.events.as_mut().poll_next(cx)
        }
    }

    impl FinishingStream for Fake {
        type Outcome = usize;
        fn run_id(&self) -> Uuid {
            Uuid::nil()
        }
        fn cancellation_token(&self) -> CancellationToken {
            self.cancel.clone()
        }
        async fn finish(self) -> Result<usize> {
            Ok(42)
        }
    }

    fn event(seq: u64) -> Event {
        Event {
            run_id: Uuid::nil(),
            seq,
            ts: chrono::Utc::now(),
            kind: EventKind::BlockUpsert {
                block_id: Uuid::nil(),
                text: String::new(),
                done: true,
            },
        }
    }

    #[tokio::test]
    async fn readers_share_events_in_order_and_all_see_the_end_and_the_outcome() {
        let run = SharedRun::new(Fake {
            events: Box::pin(stream::iter((0..100).map(event))),
            cancel: CancellationToken::new(),
        });
        let read = |run: SharedRun<Fake>| async move {
            let mut seqs = Vec::new();
            while let Some(ev) = run.next().await {
                seqs.push(ev.seq);
                tokio::task::yield_now().await;
            }
            seqs
        };
        let waiter = run.clone();
        let outcome = tokio::spawn(async move { *waiter.outcome().await.as_ref().unwrap() });
        let (a, b) = tokio::join!(read(run.clone()), read(run.clone()));
        for part in [&a, &b] {
            assert!(part.windows(2).all(|w| w[0] < w[1]), "{part:?}");
        }
        let mut all: Vec<u64> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(outcome.await.unwrap(), 42);
        assert_eq!(*run.finish().await.as_ref().unwrap(), 42);
        assert!(run.next().await.is_none());
    }
}
