//! State shared by a run's loop and its tools: the event sink and the run's artifacts.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::artifact::Dataset;
use crate::connector::ConnectorRef;
use crate::context::ContextHub;
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::guard::SqlGuard;
use crate::llm::{LlmClient, Usage};
use crate::store::{QueryRecord, Store, VisualizationRecord};
use crate::viz::Chart;

/// Assigns `seq`/`ts`, sends events to the subscriber and buffers them for the store.
#[derive(Debug)]
pub(crate) struct EventSink {
    run_id: Uuid,
    inner: Mutex<SinkInner>,
}

#[derive(Debug)]
struct SinkInner {
    seq: u64,
    tx: Option<mpsc::UnboundedSender<Event>>,
    pending: Vec<Event>,
}

impl EventSink {
    pub(crate) fn new(run_id: Uuid, tx: mpsc::UnboundedSender<Event>) -> Self {
        Self {
            run_id,
            inner: Mutex::new(SinkInner {
                seq: 0,
                tx: Some(tx),
                pending: Vec::new(),
            }),
        }
    }

    /// Emits one event. A subscriber that went away is not an error: the run still completes
    /// and is stored.
    pub(crate) fn emit(&self, kind: EventKind) {
        let Ok(mut g) = self.inner.lock() else {
            return;
        };
        let ev = Event {
            run_id: self.run_id,
            seq: g.seq,
            ts: Utc::now(),
            kind,
        };
        g.seq += 1;
        if !ev.is_partial() {
            g.pending.push(ev.clone());
        }
        if let Some(tx) = &g.tx
            && tx.send(ev).is_err()
        {
            g.tx = None;
        }
    }

    /// Takes the events buffered since the last call.
    pub(crate) fn take_pending(&self) -> Vec<Event> {
        self.inner
            .lock()
            .map(|mut g| std::mem::take(&mut g.pending))
            .unwrap_or_default()
    }

    /// Closes the subscriber channel (the stream ends after the last event).
    pub(crate) fn close(&self) {
        if let Ok(mut g) = self.inner.lock() {
            g.tx = None;
        }
    }
}

/// How a tool ended the run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Terminal {
    /// The answer; `streamed` when the tool already emitted its `block.upsert` events.
    Answer {
        text: String,
        streamed: bool,
    },
    Clarify(String),
}

/// Mutable per-run state written by tools.
#[derive(Debug, Default)]
pub(crate) struct RunScratch {
    pub queries: Vec<Dataset>,
    pub query_records: Vec<QueryRecord>,
    pub dirty_queries: Vec<Uuid>,
    pub visualizations: Vec<Chart>,
    pub new_visualizations: Vec<VisualizationRecord>,
    pub usage: Usage,
    pub llm_ms: u64,
    pub first_token_ms: Option<u64>,
    pub terminal: Option<Terminal>,
    /// Queries whose values the model may not see (see [`crate::exposure::DataExposure`]).
    pub withheld: std::collections::HashSet<Uuid>,
}

impl RunScratch {
    pub(crate) fn upsert_query(&mut self, record: QueryRecord) {
        let id = record.id;
        match self.query_records.iter_mut().find(|q| q.id == id) {
            Some(slot) => *slot = record,
            None => self.query_records.push(record),
        }
        if !self.dirty_queries.contains(&id) {
            self.dirty_queries.push(id);
        }
    }

    pub(crate) fn take_dirty_queries(&mut self) -> Vec<QueryRecord> {
        let ids = std::mem::take(&mut self.dirty_queries);
        self.query_records
            .iter()
            .filter(|q| ids.contains(&q.id))
            .cloned()
            .collect()
    }
}

/// Everything a run's tools share.
#[derive(Debug)]
pub(crate) struct RunShared {
    pub run_id: Uuid,
    pub question: String,
    pub connections: Vec<ConnectorRef>,
    pub llm: Arc<dyn LlmClient>,
    pub guard: SqlGuard,
    pub hub: Arc<ContextHub>,
    pub store: Arc<dyn Store>,
    pub sink: EventSink,
    pub scratch: Mutex<RunScratch>,
    pub cancel: CancellationToken,
    /// The context chosen for this run's question (set once the hub has planned it).
    pub plan: std::sync::OnceLock<Arc<crate::context::ContextPlan>>,
    /// Who the run is for.
    pub user: Option<crate::guard::UserContext>,
    /// The guard with the user's data policy bound (set at run start, before any tool runs;
    /// `guard` without a policy until then).
    pub policy_guard: std::sync::OnceLock<SqlGuard>,
    /// What the model may see of the data in this run.
    pub exposure: crate::exposure::DataExposure,
    /// Resolves the database identity the user's statements run as.
    pub credentials: Option<Arc<dyn crate::connector::CredentialProvider>>,
    /// When statements need a decision before they run (`None`: never).
    pub approval: Option<crate::approval::ApprovalPolicy>,
    /// The statements waiting for a decision (shared with the run handle).
    pub approvals: crate::approval::Approvals,
    /// Decides approval requests besides the host.
    pub approval_handler: Option<Arc<dyn crate::approval::ApprovalHandler>>,
    /// SQL candidates `create_data` writes per need ([`crate::agent::AgentConfig::sql_candidates`]).
    pub sql_candidates: u32,
}

impl RunShared {
    /// The guard tools run SQL through: the one with the user's policy once bound.
    pub(crate) fn guard(&self) -> &SqlGuard {
        self.policy_guard.get().unwrap_or(&self.guard)
    }

    /// The bound data policy of the run, if any.
    pub(crate) fn policy(&self) -> Option<&Arc<crate::guard::BoundPolicy>> {
        self.guard().bound_policy()
    }

    /// Whether the model may see the values of query `id`.
    pub(crate) fn shows(&self, id: Uuid) -> bool {
        self.exposure.is_full() || self.scratch().is_ok_and(|s| !s.withheld.contains(&id))
    }

    /// The run's results as the model may see them: each through `shown` when its values may be
    /// seen, else its withheld digest (columns, row count, how to write placeholders).
    pub(crate) fn digest(&self, shown: impl Fn(&Dataset) -> String) -> Vec<String> {
        let Ok(s) = self.scratch() else {
            return Vec::new();
        };
        s.queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                if self.exposure.is_full() || !s.withheld.contains(&q.query_id) {
                    shown(q)
                } else {
                    super::exposure::withheld_digest(self.exposure, i, q)
                }
            })
            .collect()
    }

    /// The answer the host gets from the model's `text` (a template unless the exposure is
    /// full): placeholders filled from the results, see [`crate::exposure::DataExposure`].
    pub(crate) fn render_answer(&self, text: &str) -> String {
        if self.exposure.is_full() {
            return text.to_string();
        }
        let Ok(s) = self.scratch() else {
            return text.to_string();
        };
        super::exposure::render_answer(text, &s.queries, &|d| s.withheld.contains(&d.query_id))
    }

    pub(crate) fn scratch(&self) -> Result<MutexGuard<'_, RunScratch>> {
        self.scratch
            .lock()
            .map_err(|_| Error::Internal("run state lock poisoned".into()))
    }
}
