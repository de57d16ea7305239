//! [`ToolContext`]: what a tool can reach during a run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::artifact::{Dataset, QueryOutcome};
use super::state::{RunShared, Terminal};
use crate::approval::Approver;
use crate::connector::{ConnectorRef, QueryData, QueryOptions, find_connection};
use crate::context::ContextHub;
use crate::data;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::guard::SqlGuard;
use crate::llm::{ChatRequest, ChatResponse, LlmClient, Usage};
use crate::store::{QueryRecord, QueryStatus};
use crate::viz::Chart;
use crate::viz::ChartSpec;

/// The `query.result` event of a query that was refused or failed.
fn failed_result(query_id: Uuid, error: &crate::error::Error, duration_ms: u64) -> EventKind {
    EventKind::QueryResult {
        query_id,
        columns: Vec::new(),
        row_count: 0,
        preview: Vec::new(),
        truncated: false,
        error: Some(error.to_string()),
        duration_ms,
    }
}

/// How often a tool waiting on the model resets its idle timer.
const HEARTBEAT_WHILE_WAITING: Duration = Duration::from_secs(5);

/// What a tool can reach: the run's connections, model, guard and context hub, its event stream
/// and artifacts, and the cancellation token.
#[derive(Clone)]
pub struct ToolContext {
    shared: Arc<RunShared>,
    execution_id: Uuid,
    tool: String,
    /// How the audit log names the caller: `agent` for a built-in tool, `tool:<name>` for the
    /// host's own.
    audit_source: String,
    iteration: u32,
    activity: Arc<watch::Sender<u64>>,
    /// Milliseconds spent waiting for a person's approval: the tool's time limits leave it out.
    waited_ms: Arc<AtomicU64>,
}

impl std::fmt::Debug for ToolContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolContext")
            .field("run_id", &self.shared.run_id)
            .field("execution_id", &self.execution_id)
            .field("tool", &self.tool)
            .finish_non_exhaustive()
    }
}

impl ToolContext {
    /// The context of one call of `tool`; `builtin` says whether it is one of the built-in
    /// tools (the audit log names those `agent`, the host's own `tool:<name>`).
    pub(crate) fn new(
        shared: Arc<RunShared>,
        execution_id: Uuid,
        tool: String,
        builtin: bool,
        iteration: u32,
    ) -> (Self, watch::Receiver<u64>) {
        let (tx, rx) = watch::channel(0);
        let audit_source = if builtin {
            "agent".to_string()
        } else {
            format!("tool:{tool}")
        };
        (
            Self {
                shared,
                execution_id,
                tool,
                audit_source,
                iteration,
                activity: Arc::new(tx),
                waited_ms: Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
    }

    /// The run's id.
    pub fn run_id(&self) -> Uuid {
        self.shared.run_id
    }

    /// This execution's id.
    pub fn execution_id(&self) -> Uuid {
        self.execution_id
    }

    /// The planner iteration that called the tool.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The user's question.
    pub fn question(&self) -> &str {
        &self.shared.question
    }

    /// The run's connections.
    pub fn connections(&self) -> &[ConnectorRef] {
        &self.shared.connections
    }

    /// A connection by name; `None` picks the first.
    pub fn connection(&self, name: Option<&str>) -> Result<&ConnectorRef> {
        find_connection(&self.shared.connections, name)
    }

    /// The run's model.
    pub fn llm(&self) -> &Arc<dyn LlmClient> {
        &self.shared.llm
    }

    /// The SQL guard (with the user's data policy bound, when there is one).
    pub fn guard(&self) -> &SqlGuard {
        self.shared.guard()
    }

    /// The user the run is for, if the request named one.
    pub fn user(&self) -> Option<&crate::guard::UserContext> {
        self.shared.user.as_ref()
    }

    /// The user's data policy as bound for this run, if one is in force.
    pub fn policy(&self) -> Option<&crate::guard::BoundPolicy> {
        self.shared.policy().map(|p| p.as_ref())
    }

    /// What the model may see of the data in this run (the request's setting, else the
    /// agent's). A host tool that hands data to the model should respect it.
    pub fn exposure(&self) -> crate::exposure::DataExposure {
        self.shared.exposure
    }

    /// Whether the model may see the values of query `query_id` of this run (always under
    /// [`DataExposure::Full`](crate::exposure::DataExposure::Full)).
    pub fn shows_values(&self, query_id: Uuid) -> bool {
        self.shared.shows(query_id)
    }

    /// What a tool tells the model instead of a withheld result's rows (how to refer to its
    /// values in the answer); `None` when the model may see them.
    pub fn withheld_note(&self, query_id: Uuid) -> Option<String> {
        if self.shows_values(query_id) {
            return None;
        }
        let s = self.shared.scratch().ok()?;
        let i = s.queries.iter().position(|q| q.query_id == query_id)?;
        let columns = data::columns_meta(&s.queries[i].data.schema);
        Some(crate::exposure::withheld_note(
            self.shared.exposure,
            &crate::exposure::result_ref(i),
            &columns,
        ))
    }

    /// The answer the host gets from the model's text: under a data exposure other than
    /// `full`, its `{{q1.column}}` placeholders filled from this run's results.
    pub fn render_answer(&self, text: &str) -> String {
        self.shared.render_answer(text)
    }

    /// The context hub (schemas, rules).
    pub fn hub(&self) -> &ContextHub {
        &self.shared.hub
    }

    /// The context chosen for this run's question (tables, rules, memories in scope), once
    /// planned — it is before any tool runs.
    pub fn plan(&self) -> Option<&crate::context::ContextPlan> {
        self.shared.plan.get().map(|p| p.as_ref())
    }

    /// The agent's store (instructions, memories, run history).
    pub fn store(&self) -> &Arc<dyn crate::store::Store> {
        &self.shared.store
    }

    /// Cancelled when the run is.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.shared.cancel
    }

    /// Tells the runner the tool has started (bridged tools call this when the host language
    /// picks the call up; typed Rust tools do it automatically).
    pub fn mark_started(&self) {
        self.activity.send_modify(|n| *n += 1);
    }

    /// Time this call spent waiting for a person to approve a statement (see
    /// [`crate::approval`]); the tool runner extends the tool's time limits by it.
    pub fn waited_for_approval(&self) -> Duration {
        Duration::from_millis(self.waited_ms.load(Ordering::Relaxed))
    }

    /// Resets the idle timer without an event.
    pub fn heartbeat(&self) {
        self.activity.send_modify(|n| *n += 1);
    }

    /// Reports progress: a `tool.progress` event, and resets the idle timer.
    pub fn progress(&self, message: impl Into<String>) {
        self.heartbeat();
        self.shared.sink.emit(EventKind::ToolProgress {
            execution_id: self.execution_id,
            tool: self.tool.clone(),
            message: message.into(),
        });
    }

    /// Emits an event on the run's stream.
    pub fn emit(&self, kind: EventKind) {
        self.shared.sink.emit(kind);
    }

    /// Calls the run's model, counting time and tokens against the run's budgets.
    ///
    /// A model call in flight is the tool working: the tool's idle timer is reset every few
    /// seconds while it waits (a slow model on a CPU can take minutes to read a long prompt;
    /// the model client's own first-byte and idle timeouts bound the call itself).
    pub async fn complete(&self, request: ChatRequest) -> Result<ChatResponse> {
        let started = Instant::now();
        let call = self.shared.llm.complete(request.clone());
        tokio::pin!(call);
        let mut beat = tokio::time::interval(HEARTBEAT_WHILE_WAITING);
        let resp = loop {
            tokio::select! {
                r = &mut call => break r,
                () = self.shared.cancel.cancelled() => break Err(Error::Cancelled),
                _ = beat.tick() => self.heartbeat(),
            }
        };
        let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut s = self.shared.scratch()?;
        s.llm_ms += elapsed;
        if let Ok(r) = &resp {
            s.usage.add(&r.usage_or_estimate(&request));
        }
        drop(s);
        self.heartbeat();
        resp
    }

    /// Adds token usage from a model call the tool made itself.
    pub fn record_usage(&self, usage: &Usage) {
        if let Ok(mut s) = self.shared.scratch() {
            s.usage.add(usage);
        }
    }

    /// Runs model-written SQL: through the guard, recorded (`query.created`, `query.result`,
    /// a stored query row), with the run's row cap, time limit and cancellation.
    ///
    /// A `title` marks the result as a dataset for the user (charted, returned by `ask`);
    /// exploratory queries pass `None`. Refusals and database errors come back as errors whose
    /// message the model can act on.
    pub async fn run_sql(
        &self,
        connection: Option<&str>,
        sql: &str,
        attempt: u32,
        title: Option<&str>,
    ) -> Result<QueryOutcome> {
        let conn = self.connection(connection)?.clone();
        let info = conn.info();
        let query_id = Uuid::now_v7();
        let mut record = QueryRecord {
            id: query_id,
            run_id: self.shared.run_id,
            execution_id: Some(self.execution_id),
            connection: info.name.clone(),
            sql: sql.to_string(),
            executed_sql: None,
            attempt,
            status: QueryStatus::Running,
            error: None,
            row_count: None,
            duration_ms: None,
            created_at: Utc::now(),
        };
        let audited = super::audit::Audited {
            user: self.shared.user.as_ref(),
            run_id: Some(self.shared.run_id),
            query_id: Some(query_id),
            source: self.audit_source.clone(),
            connection: info.name.clone(),
            run_as: None,
            approved_by: None,
        };
        // A decision on a statement must reach the audit log, as a policy's rewrite must.
        let audit_required = self.shared.policy().is_some()
            || self.shared.approval.as_ref().is_some_and(|p| p.is_active());
        let guarded = match self
            .shared
            .guard()
            .check_on(sql, info.dialect, Some(&info.name))
        {
            Ok(g) => g,
            Err(e) => {
                let rec = audited.record(sql, None, Err(&e), Duration::ZERO);
                super::audit::append(&self.shared.store, &rec, audit_required).await?;
                record.status = QueryStatus::Refused;
                record.error = Some(e.to_string());
                self.emit(EventKind::QueryCreated {
                    query_id,
                    connection: info.name.clone(),
                    sql: sql.to_string(),
                    attempt,
                });
                self.emit(failed_result(query_id, &e, 0));
                self.shared.scratch()?.upsert_query(record);
                return Err(e);
            }
        };
        record.executed_sql = Some(guarded.sql.clone());
        self.shared.scratch()?.upsert_query(record.clone());
        self.emit(EventKind::QueryCreated {
            query_id,
            connection: info.name.clone(),
            sql: guarded.sql.clone(),
            attempt,
        });
        let heartbeat = || self.heartbeat();
        let preflight = super::approval::Preflight {
            shared: &self.shared,
            conn: &conn,
            query_id,
            connection: &info.name,
            sql: &guarded.sql,
            heartbeat: &heartbeat,
            waited_ms: &self.waited_ms,
        };
        let approved_by = match preflight.run().await {
            Ok(by) => by,
            Err(e) => {
                let rec = audited.record(sql, Some(&guarded), Err(&e), Duration::ZERO);
                super::audit::append(&self.shared.store, &rec, audit_required).await?;
                record.status = QueryStatus::Refused;
                record.error = Some(e.to_string());
                self.shared.scratch()?.upsert_query(record);
                self.emit(failed_result(query_id, &e, 0));
                return Err(match e {
                    Error::NotApproved { by, .. } if by == Approver::Cancelled.as_str() => {
                        Error::Cancelled
                    }
                    e => e,
                });
            }
        };
        let audited = super::audit::Audited {
            approved_by: approved_by.map(Approver::as_str),
            ..audited
        };
        self.progress(format!("running query on {}", info.name));
        let cap = guarded.row_cap.and_then(|c| usize::try_from(c).ok());
        let opts = QueryOptions::default()
            .with_max_rows(cap)
            .with_timeout(guarded.timeout)
            .with_cancel(self.shared.cancel.child_token());
        let started = Instant::now();
        let (run_as, result) = super::audit::run_as(
            self.shared.credentials.as_deref(),
            self.shared.user.as_ref(),
            &conn,
            opts,
            &guarded.sql,
        )
        .await;
        let audited = super::audit::Audited { run_as, ..audited };
        let duration = started.elapsed();
        let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        record.duration_ms = Some(duration_ms);
        self.heartbeat();
        let rec = audited.record(sql, Some(&guarded), result.as_ref(), duration);
        super::audit::append(&self.shared.store, &rec, audit_required).await?;
        match result {
            Err(e) => {
                record.status = QueryStatus::Error;
                record.error = Some(e.to_string());
                self.shared.scratch()?.upsert_query(record);
                self.emit(failed_result(query_id, &e, duration_ms));
                Err(e)
            }
            Ok(qd) => {
                let rows = qd.num_rows();
                let shown = self.shared.exposure.shows(&guarded.sql, info.dialect, rows);
                record.status = QueryStatus::Success;
                record.row_count = Some(rows as u64);
                let dataset = Dataset {
                    query_id,
                    title: title.map(str::to_string),
                    connection: info.name,
                    sql: guarded.sql,
                    truncated: cap.is_some_and(|c| rows >= c),
                    data: qd,
                    duration,
                };
                self.emit(dataset.result_event());
                let mut s = self.shared.scratch()?;
                s.upsert_query(record);
                if !shown {
                    s.withheld.insert(query_id);
                }
                s.queries.push(dataset.clone());
                Ok(dataset)
            }
        }
    }

    /// The data of a query run earlier in this run; `None` picks the latest.
    pub fn query_data(&self, query_id: Option<Uuid>) -> Option<(Uuid, Option<String>, QueryData)> {
        let s = self.shared.scratch().ok()?;
        let q = match query_id {
            Some(id) => s.queries.iter().find(|q| q.query_id == id),
            // The latest dataset; exploratory queries (no title) are not charted by default.
            None => s.queries.iter().rev().find(|q| q.title.is_some()),
        }?;
        Some((q.query_id, q.title.clone(), q.data.clone()))
    }

    /// Records a chart for a query: `visualization.created` and a stored row.
    pub fn add_visualization(
        &self,
        query_id: Uuid,
        spec: ChartSpec,
        echarts: serde_json::Value,
    ) -> Result<Uuid> {
        let chart = Chart {
            id: Uuid::now_v7(),
            query_id,
            spec,
            echarts,
        };
        self.emit(chart.event());
        let mut s = self.shared.scratch()?;
        s.new_visualizations.push(chart.record(self.shared.run_id));
        s.visualizations.retain(|v| v.query_id != query_id);
        s.visualizations.push(chart.clone());
        Ok(chart.id)
    }

    /// Ends the run with this answer after the tool returns.
    pub fn finish_with_answer(&self, answer: impl Into<String>) {
        if let Ok(mut s) = self.shared.scratch() {
            s.terminal = Some(Terminal::Answer {
                text: answer.into(),
                streamed: false,
            });
        }
    }

    /// Ends the run with an answer the tool already streamed as `block.upsert` events.
    pub(crate) fn finish_with_answer_streamed(&self, answer: &str) {
        if let Ok(mut s) = self.shared.scratch() {
            s.terminal = Some(Terminal::Answer {
                text: answer.to_string(),
                streamed: true,
            });
        }
    }

    /// Adds time spent waiting on a model the tool called itself.
    pub fn record_llm_time(&self, elapsed: Duration) {
        if let Ok(mut s) = self.shared.scratch() {
            s.llm_ms += u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        }
    }

    /// Ends the run awaiting the user's reply to `question`.
    pub fn finish_awaiting_input(&self, question: impl Into<String>) {
        if let Ok(mut s) = self.shared.scratch() {
            s.terminal = Some(Terminal::Clarify(question.into()));
        }
    }

    /// Compact text previews of the results so far, for grounding prose.
    pub fn results_digest(&self, max_rows: usize) -> String {
        self.shared
            .digest(|q| {
                format!(
                    "Result {} ({} rows{}):\nSQL: {}\n{}\n",
                    q.title.as_deref().unwrap_or("query"),
                    q.data.num_rows(),
                    if q.truncated { ", truncated" } else { "" },
                    q.sql,
                    data::render_text_table(&q.data.batches, max_rows, 60)
                )
            })
            .concat()
    }

    /// SQL candidates to write per need ([`crate::agent::AgentConfig::sql_candidates`]).
    pub fn sql_candidates(&self) -> u32 {
        self.shared.sql_candidates
    }

    /// Makes exploratory query `winner` this run's dataset titled `title` and forgets the
    /// exploratory `losers` (their records and events stay; the answer no longer sees them).
    pub(crate) fn adopt_candidate(&self, winner: Uuid, title: &str, losers: &[Uuid]) -> Result<()> {
        let mut s = self.shared.scratch()?;
        s.queries.retain(|q| !losers.contains(&q.query_id));
        // The winner moves to the end: the latest titled query is the run's final dataset.
        if let Some(at) = s.queries.iter().position(|q| q.query_id == winner) {
            let mut q = s.queries.remove(at);
            q.title = Some(title.to_string());
            s.queries.push(q);
        }
        Ok(())
    }

    /// The datasets this run has made so far, in order (for the `create_dashboard` tool).
    pub fn datasets(&self) -> Vec<Dataset> {
        self.shared
            .scratch()
            .map(|s| s.queries.clone())
            .unwrap_or_default()
    }

    /// The charts this run has made so far, in order (the latest per query).
    pub fn charts(&self) -> Vec<Chart> {
        self.shared
            .scratch()
            .map(|s| s.visualizations.clone())
            .unwrap_or_default()
    }
}
