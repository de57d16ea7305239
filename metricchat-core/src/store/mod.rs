//! Persistence: the [`Store`] trait, its records, the in-memory store, and the SQL store
//! ([`SqlStore`], written once in `sql/`) on its two engines, SQLite and PostgreSQL.
//!
//! The agent writes one [`StepWrite`] after every step (run start, each decision, each tool
//! execution, the end). A store applies a step atomically, so a run interrupted at any point
//! leaves a readable, consistent record: the run row, its snapshot and its child records always
//! agree on how far the run got.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, ErrorInfo, Result};
use crate::events::{Event, RunStatus, ToolStatus};
use crate::instructions::{
    Instruction, InstructionFilter, InstructionStatus, InstructionUpdate, Memory, MemoryFilter,
};
use crate::llm::{ChatMessage, Usage};
use crate::planner::PlannerDecision;

mod audit;
pub use audit::{AuditFilter, AuditOutcome, AuditRecord, audit_schema, audit_to_arrow};

#[cfg(any(feature = "sqlite-store", feature = "postgres-store"))]
mod sql;
#[cfg(any(feature = "sqlite-store", feature = "postgres-store"))]
pub use sql::{Engine, SqlStore};

#[cfg(feature = "sqlite-store")]
mod sqlite;
#[cfg(feature = "sqlite-store")]
pub use sqlite::{SqliteEngine, SqliteStore};

#[cfg(feature = "postgres-store")]
mod postgres;
#[cfg(feature = "postgres-store")]
pub use postgres::{PostgresEngine, PostgresStore, PostgresStoreConfig};

// Dashboards and re-run queries (issue 16).
mod dashboard;
pub use dashboard::{DashboardSummary, QueryResultRecord};

/// A run: one question and everything the agent did for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunRecord {
    /// Run id.
    pub id: Uuid,
    /// The question.
    pub question: String,
    /// Generated title.
    pub title: Option<String>,
    /// Status.
    pub status: RunStatus,
    /// Model id.
    pub model: String,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// Last written.
    pub updated_at: DateTime<Utc>,
    /// Ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Planner iterations so far.
    pub iterations: u32,
    /// Tokens so far.
    pub usage: Usage,
    /// Cost so far, when prices are known.
    pub cost_usd: Option<f64>,
    /// The final answer (or the clarifying question).
    pub answer: Option<String>,
    /// The error or stop reason.
    pub error: Option<ErrorInfo>,
    /// The user the run was for, when the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<crate::guard::UserContext>,
}

/// One planner decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Run id.
    pub run_id: Uuid,
    /// Iteration, from 0.
    pub iteration: u32,
    /// The decision.
    pub decision: PlannerDecision,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Status of a stored tool execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Started, not finished.
    Running,
    /// Finished with this outcome.
    Finished(ToolStatus),
}

impl ExecutionStatus {
    /// Stored string form.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "running",
            ExecutionStatus::Finished(ToolStatus::Success) => "success",
            ExecutionStatus::Finished(ToolStatus::Error) => "error",
            ExecutionStatus::Finished(ToolStatus::Timeout) => "timeout",
            ExecutionStatus::Finished(ToolStatus::Cancelled) => "cancelled",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => ExecutionStatus::Running,
            "success" => ExecutionStatus::Finished(ToolStatus::Success),
            "error" => ExecutionStatus::Finished(ToolStatus::Error),
            "timeout" => ExecutionStatus::Finished(ToolStatus::Timeout),
            "cancelled" => ExecutionStatus::Finished(ToolStatus::Cancelled),
            _ => return None,
        })
    }
}

/// One tool execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolExecutionRecord {
    /// Execution id.
    pub id: Uuid,
    /// Run id.
    pub run_id: Uuid,
    /// Planner iteration.
    pub iteration: u32,
    /// Tool name.
    pub tool: String,
    /// Arguments as given.
    pub arguments: serde_json::Value,
    /// Status.
    pub status: ExecutionStatus,
    /// What the model was shown.
    pub observation: Option<serde_json::Value>,
    /// Error message.
    pub error: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Status of a stored query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryStatus {
    /// Sent to the database.
    Running,
    /// Returned rows.
    Success,
    /// Failed (database error, timeout, cancellation).
    Error,
    /// Refused by the guard; never sent.
    Refused,
}

impl QueryStatus {
    /// Stored string form.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryStatus::Running => "running",
            QueryStatus::Success => "success",
            QueryStatus::Error => "error",
            QueryStatus::Refused => "refused",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => QueryStatus::Running,
            "success" => QueryStatus::Success,
            "error" => QueryStatus::Error,
            "refused" => QueryStatus::Refused,
            _ => return None,
        })
    }
}

/// One SQL attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// Query id.
    pub id: Uuid,
    /// Run id.
    pub run_id: Uuid,
    /// The tool execution that ran it.
    pub execution_id: Option<Uuid>,
    /// Connection name.
    pub connection: String,
    /// SQL as the model wrote it.
    pub sql: String,
    /// SQL as run (after the guard's rewrite), if it passed the guard.
    pub executed_sql: Option<String>,
    /// Attempt number within its tool call, from 1.
    pub attempt: u32,
    /// Status.
    pub status: QueryStatus,
    /// Error message.
    pub error: Option<String>,
    /// Rows returned.
    pub row_count: Option<u64>,
    /// Duration.
    pub duration_ms: Option<u64>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A chart proposed for a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisualizationRecord {
    /// Visualization id.
    pub id: Uuid,
    /// Run id.
    pub run_id: Uuid,
    /// The charted query.
    pub query_id: Uuid,
    /// The chart spec.
    pub spec: serde_json::Value,
    /// The ECharts option.
    pub echarts: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// The latest state of a run, one per run, updated in place: what the step rows and the run
/// row do not hold, for following up, resuming and inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Run id.
    pub run_id: Uuid,
    /// The step that last wrote it (from 0, increasing).
    pub step: u32,
    /// Run status at that step.
    pub status: RunStatus,
    /// The run's conversation.
    pub state: RunState,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// The conversation of a run, stored as JSON in its [`Snapshot`]. The question, status,
/// counts, usage, answer and error live in the [`RunRecord`]; decisions, tool executions and
/// queries in their own records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RunState {
    /// The earlier conversation this run follows up (empty for a first question): what
    /// [`crate::Agent::follow_up`] continues from, with this run's question and answer.
    pub history: Vec<ChatMessage>,
    /// The messages the run has sent the model so far, `history` first.
    pub messages: Vec<ChatMessage>,
}

impl RunState {
    /// A state with this history and these messages.
    pub fn new(history: Vec<ChatMessage>, messages: Vec<ChatMessage>) -> Self {
        Self { history, messages }
    }
}

/// Everything one agent step writes, applied atomically.
#[derive(Debug, Clone)]
pub struct StepWrite {
    /// The run row (inserted or replaced).
    pub run: RunRecord,
    /// New decisions.
    pub decisions: Vec<DecisionRecord>,
    /// Tool executions, inserted or replaced by id.
    pub tool_executions: Vec<ToolExecutionRecord>,
    /// Queries, inserted or replaced by id.
    pub queries: Vec<QueryRecord>,
    /// New visualizations.
    pub visualizations: Vec<VisualizationRecord>,
    /// The run's snapshot after this step, or `None` when neither its state nor its status
    /// changed since the last one written (the stored one stays).
    pub snapshot: Option<Snapshot>,
    /// Events emitted since the previous step (token-level partials excluded).
    pub events: Vec<Event>,
}

/// Where runs are persisted.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Applies one step atomically.
    async fn write_step(&self, step: &StepWrite) -> Result<()>;
    /// A run by id.
    async fn get_run(&self, id: Uuid) -> Result<Option<RunRecord>>;
    /// Most recent runs first.
    async fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>>;
    /// A run's decisions in order.
    async fn decisions(&self, run_id: Uuid) -> Result<Vec<DecisionRecord>>;
    /// A run's tool executions in start order.
    async fn tool_executions(&self, run_id: Uuid) -> Result<Vec<ToolExecutionRecord>>;
    /// A run's queries in order.
    async fn queries(&self, run_id: Uuid) -> Result<Vec<QueryRecord>>;
    /// A run's visualizations in order.
    async fn visualizations(&self, run_id: Uuid) -> Result<Vec<VisualizationRecord>>;
    /// A run's latest snapshot.
    async fn latest_snapshot(&self, run_id: Uuid) -> Result<Option<Snapshot>>;
    /// A run's stored events in `seq` order.
    async fn events(&self, run_id: Uuid) -> Result<Vec<Event>>;
    /// Marks runs still `running` (left by a process that died) as `interrupted`, along with
    /// their running tool executions and queries. Returns how many runs changed.
    async fn mark_interrupted(&self) -> Result<u64>;

    /// Stores a new instruction (or replaces the one with its id).
    ///
    /// Fails with [`Error::InvalidInput`] on empty text or an unusable scope.
    async fn put_instruction(&self, instruction: &Instruction) -> Result<()>;
    /// An instruction by id.
    async fn get_instruction(&self, id: Uuid) -> Result<Option<Instruction>>;
    /// Instructions passing `filter` ([`InstructionFilter::matches`]), oldest first.
    async fn list_instructions(&self, filter: &InstructionFilter) -> Result<Vec<Instruction>>;
    /// Sets an instruction's status and returns it. [`Error::NotFound`] for an unknown id.
    async fn set_instruction_status(
        &self,
        id: Uuid,
        status: InstructionStatus,
    ) -> Result<Instruction>;
    /// Changes an instruction's text, scope or labels and returns it.
    /// [`Error::NotFound`] for an unknown id, [`Error::InvalidInput`] for empty text.
    async fn update_instruction(&self, id: Uuid, update: &InstructionUpdate)
    -> Result<Instruction>;
    /// Deletes an instruction. [`Error::NotFound`] for an unknown id.
    async fn delete_instruction(&self, id: Uuid) -> Result<()>;
    /// Adds one to the usage count of each instruction in `ids` (unknown ids are skipped:
    /// an instruction deleted while a run used it is not an error).
    async fn record_instruction_usage(&self, ids: &[Uuid]) -> Result<()>;
    /// Stores a new memory (or replaces the one with its id).
    ///
    /// Fails with [`Error::InvalidInput`] on empty text or an unusable scope.
    async fn put_memory(&self, memory: &Memory) -> Result<()>;
    /// Memories passing `filter` ([`MemoryFilter::matches`]), oldest first.
    async fn list_memories(&self, filter: &MemoryFilter) -> Result<Vec<Memory>>;
    /// Deletes a memory. [`Error::NotFound`] for an unknown id.
    async fn delete_memory(&self, id: Uuid) -> Result<()>;

    /// Stores an eval run (or replaces the one with its id); see [`crate::eval`].
    async fn put_eval_run(&self, run: &EvalRunRecord) -> Result<()>;
    /// An eval run by id.
    async fn get_eval_run(&self, id: Uuid) -> Result<Option<EvalRunRecord>>;
    /// Eval runs, newest first, of one suite or of all.
    async fn list_eval_runs(&self, suite: Option<&str>, limit: u32) -> Result<Vec<EvalRunRecord>>;

    // ---- Audit log (append-only: no update or delete). Stores without one refuse to run
    // ---- statements that must be audited.

    /// Appends one audited statement.
    async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        let _ = record;
        Err(Error::Unsupported("this store keeps no audit log".into()))
    }

    /// Audited statements matching `filter`, newest first.
    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let _ = filter;
        Err(Error::Unsupported("this store keeps no audit log".into()))
    }

    // --- Dashboards and re-run queries (issue 16). The defaults refuse, so stores written
    // before these methods still compile; every store in this crate implements them.

    /// A query by id.
    async fn get_query(&self, id: Uuid) -> Result<Option<QueryRecord>> {
        let _ = id;
        Err(Error::Unsupported(
            "this store keeps no queries by id".into(),
        ))
    }
    /// Stores a new result version of a query and returns its version (1, 2, …; the record's
    /// `version` is ignored). [`Error::NotFound`] when the query is not stored.
    async fn put_query_result(&self, result: &QueryResultRecord) -> Result<u32> {
        let _ = result;
        Err(Error::Unsupported(
            "this store keeps no query results".into(),
        ))
    }
    /// A query's result versions, oldest first.
    async fn query_results(&self, query_id: Uuid) -> Result<Vec<QueryResultRecord>> {
        let _ = query_id;
        Err(Error::Unsupported(
            "this store keeps no query results".into(),
        ))
    }
    /// Stores a new version of a dashboard (validated first) and returns its version
    /// (1, 2, …; the dashboard's own `version` is ignored).
    async fn put_dashboard(&self, dashboard: &crate::dashboard::Dashboard) -> Result<u32> {
        let _ = dashboard;
        Err(Error::Unsupported("this store keeps no dashboards".into()))
    }
    /// A dashboard: its latest version, or `version`.
    async fn get_dashboard(
        &self,
        id: Uuid,
        version: Option<u32>,
    ) -> Result<Option<crate::dashboard::Dashboard>> {
        let _ = (id, version);
        Err(Error::Unsupported("this store keeps no dashboards".into()))
    }
    /// Dashboards (their latest versions), most recently saved first.
    async fn list_dashboards(&self, limit: u32) -> Result<Vec<DashboardSummary>> {
        let _ = limit;
        Err(Error::Unsupported("this store keeps no dashboards".into()))
    }
}

/// A stored eval run: the figures to list runs by, and the whole report as JSON
/// ([`crate::eval::EvalReport::to_record`] / [`crate::eval::EvalReport::from_record`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRunRecord {
    /// The report's id.
    pub id: Uuid,
    /// The suite's name.
    pub suite: String,
    /// `agent` or `baseline`.
    pub mode: String,
    /// The host's label.
    pub label: Option<String>,
    /// Cases passed.
    pub passed: usize,
    /// Cases run.
    pub total: usize,
    /// When the run started.
    pub created_at: DateTime<Utc>,
    /// The [`crate::eval::EvalReport`] as JSON.
    pub report: serde_json::Value,
}

/// [`Error::NotFound`] for an instruction id.
pub(crate) fn instruction_not_found(id: Uuid) -> Error {
    Error::NotFound {
        what: "instruction",
        name: id.to_string(),
    }
}

/// [`Error::NotFound`] for a memory id.
pub(crate) fn memory_not_found(id: Uuid) -> Error {
    Error::NotFound {
        what: "memory",
        name: id.to_string(),
    }
}

/// `ids` without repeats, in first-seen order: a run counts once per instruction.
pub(crate) fn dedup(ids: &[Uuid]) -> Vec<Uuid> {
    let mut out: Vec<Uuid> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(id) {
            out.push(*id);
        }
    }
    out
}

/// Oldest first, ties by id: the order every store lists instructions and memories in.
fn by_creation<T>(items: &mut [T], key: impl Fn(&T) -> (DateTime<Utc>, Uuid)) {
    items.sort_by_key(|x| key(x));
}

/// A [`Store`] in memory: for tests and for embedders who keep no history.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
    /// Dashboards and query results (issue 16).
    dashboards: Mutex<dashboard::MemoryDashboards>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    runs: HashMap<Uuid, RunRecord>,
    decisions: Vec<DecisionRecord>,
    executions: Vec<ToolExecutionRecord>,
    queries: Vec<QueryRecord>,
    visualizations: Vec<VisualizationRecord>,
    snapshots: HashMap<Uuid, Snapshot>,
    events: Vec<Event>,
    instructions: HashMap<Uuid, Instruction>,
    memories: HashMap<Uuid, Memory>,
    eval_runs: HashMap<Uuid, EvalRunRecord>,
    audit: Vec<AuditRecord>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryInner>> {
        self.inner
            .lock()
            .map_err(|_| Error::Internal("memory store lock poisoned".into()))
    }
}

fn upsert_by<T: Clone>(items: &mut Vec<T>, item: &T, same: impl Fn(&T) -> bool) {
    match items.iter_mut().find(|x| same(x)) {
        Some(slot) => *slot = item.clone(),
        None => items.push(item.clone()),
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn write_step(&self, step: &StepWrite) -> Result<()> {
        let mut g = self.lock()?;
        g.runs.insert(step.run.id, step.run.clone());
        g.decisions.extend(step.decisions.iter().cloned());
        for e in &step.tool_executions {
            upsert_by(&mut g.executions, e, |x| x.id == e.id);
        }
        for q in &step.queries {
            upsert_by(&mut g.queries, q, |x| x.id == q.id);
        }
        g.visualizations.extend(step.visualizations.iter().cloned());
        if let Some(snapshot) = &step.snapshot {
            g.snapshots.insert(step.run.id, snapshot.clone());
        }
        g.events.extend(step.events.iter().cloned());
        Ok(())
    }

    async fn get_run(&self, id: Uuid) -> Result<Option<RunRecord>> {
        Ok(self.lock()?.runs.get(&id).cloned())
    }

    async fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>> {
        let g = self.lock()?;
        let mut runs: Vec<_> = g.runs.values().cloned().collect();
        runs.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        runs.truncate(limit as usize);
        Ok(runs)
    }

    async fn decisions(&self, run_id: Uuid) -> Result<Vec<DecisionRecord>> {
        let g = self.lock()?;
        Ok(g.decisions
            .iter()
            .filter(|d| d.run_id == run_id)
            .cloned()
            .collect())
    }

    async fn tool_executions(&self, run_id: Uuid) -> Result<Vec<ToolExecutionRecord>> {
        let g = self.lock()?;
        Ok(g.executions
            .iter()
            .filter(|d| d.run_id == run_id)
            .cloned()
            .collect())
    }

    async fn queries(&self, run_id: Uuid) -> Result<Vec<QueryRecord>> {
        let g = self.lock()?;
        Ok(g.queries
            .iter()
            .filter(|d| d.run_id == run_id)
            .cloned()
            .collect())
    }

    async fn visualizations(&self, run_id: Uuid) -> Result<Vec<VisualizationRecord>> {
        let g = self.lock()?;
        Ok(g.visualizations
            .iter()
            .filter(|d| d.run_id == run_id)
            .cloned()
            .collect())
    }

    async fn latest_snapshot(&self, run_id: Uuid) -> Result<Option<Snapshot>> {
        Ok(self.lock()?.snapshots.get(&run_id).cloned())
    }

    async fn events(&self, run_id: Uuid) -> Result<Vec<Event>> {
        let g = self.lock()?;
        Ok(g.events
            .iter()
            .filter(|d| d.run_id == run_id)
            .cloned()
            .collect())
    }

    async fn mark_interrupted(&self) -> Result<u64> {
        let mut g = self.lock()?;
        let now = Utc::now();
        let mut ids = Vec::new();
        for run in g.runs.values_mut() {
            if run.status == RunStatus::Running {
                run.status = RunStatus::Interrupted;
                run.finished_at = Some(now);
                run.updated_at = now;
                ids.push(run.id);
            }
        }
        for e in g.executions.iter_mut() {
            if ids.contains(&e.run_id) && e.status == ExecutionStatus::Running {
                e.status = ExecutionStatus::Finished(ToolStatus::Cancelled);
                e.finished_at = Some(now);
            }
        }
        for q in g.queries.iter_mut() {
            if ids.contains(&q.run_id) && q.status == QueryStatus::Running {
                q.status = QueryStatus::Error;
                q.error = Some("interrupted".into());
            }
        }
        for id in &ids {
            if let Some(s) = g.snapshots.get_mut(id) {
                s.status = RunStatus::Interrupted;
            }
        }
        Ok(ids.len() as u64)
    }

    async fn put_instruction(&self, instruction: &Instruction) -> Result<()> {
        instruction.validate()?;
        self.lock()?
            .instructions
            .insert(instruction.id, instruction.clone());
        Ok(())
    }

    async fn get_instruction(&self, id: Uuid) -> Result<Option<Instruction>> {
        Ok(self.lock()?.instructions.get(&id).cloned())
    }

    async fn list_instructions(&self, filter: &InstructionFilter) -> Result<Vec<Instruction>> {
        let g = self.lock()?;
        let mut out: Vec<Instruction> = g
            .instructions
            .values()
            .filter(|i| filter.matches(i))
            .cloned()
            .collect();
        by_creation(&mut out, |i| (i.created_at, i.id));
        Ok(out)
    }

    async fn set_instruction_status(
        &self,
        id: Uuid,
        status: InstructionStatus,
    ) -> Result<Instruction> {
        let mut g = self.lock()?;
        let i = g
            .instructions
            .get_mut(&id)
            .ok_or_else(|| instruction_not_found(id))?;
        i.status = status;
        i.updated_at = crate::instructions::now();
        Ok(i.clone())
    }

    async fn update_instruction(
        &self,
        id: Uuid,
        update: &InstructionUpdate,
    ) -> Result<Instruction> {
        let mut g = self.lock()?;
        let i = g
            .instructions
            .get_mut(&id)
            .ok_or_else(|| instruction_not_found(id))?;
        update.apply(i)?;
        Ok(i.clone())
    }

    async fn delete_instruction(&self, id: Uuid) -> Result<()> {
        self.lock()?
            .instructions
            .remove(&id)
            .map(drop)
            .ok_or_else(|| instruction_not_found(id))
    }

    async fn record_instruction_usage(&self, ids: &[Uuid]) -> Result<()> {
        let mut g = self.lock()?;
        for id in dedup(ids) {
            if let Some(i) = g.instructions.get_mut(&id) {
                i.usage_count += 1;
            }
        }
        Ok(())
    }

    async fn put_memory(&self, memory: &Memory) -> Result<()> {
        memory.validate()?;
        self.lock()?.memories.insert(memory.id, memory.clone());
        Ok(())
    }

    async fn list_memories(&self, filter: &MemoryFilter) -> Result<Vec<Memory>> {
        let g = self.lock()?;
        let mut out: Vec<Memory> = g
            .memories
            .values()
            .filter(|m| filter.matches(m))
            .cloned()
            .collect();
        by_creation(&mut out, |m| (m.created_at, m.id));
        Ok(out)
    }

    async fn delete_memory(&self, id: Uuid) -> Result<()> {
        self.lock()?
            .memories
            .remove(&id)
            .map(drop)
            .ok_or_else(|| memory_not_found(id))
    }

    async fn put_eval_run(&self, run: &EvalRunRecord) -> Result<()> {
        self.lock()?.eval_runs.insert(run.id, run.clone());
        Ok(())
    }

    async fn get_eval_run(&self, id: Uuid) -> Result<Option<EvalRunRecord>> {
        Ok(self.lock()?.eval_runs.get(&id).cloned())
    }

    async fn list_eval_runs(&self, suite: Option<&str>, limit: u32) -> Result<Vec<EvalRunRecord>> {
        let mut out: Vec<EvalRunRecord> = self
            .lock()?
            .eval_runs
            .values()
            .filter(|r| suite.is_none_or(|s| r.suite == s))
            .cloned()
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        out.truncate(limit as usize);
        Ok(out)
    }

    async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        self.lock()?.audit.push(record.clone());
        Ok(())
    }

    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut out: Vec<AuditRecord> = self
            .lock()?
            .audit
            .iter()
            .filter(|r| filter.matches(r))
            .cloned()
            .collect();
        audit::newest_first(&mut out, filter);
        Ok(out)
    }

    // --- Dashboards and re-run queries (issue 16).

    async fn get_query(&self, id: Uuid) -> Result<Option<QueryRecord>> {
        Ok(self.lock()?.queries.iter().find(|q| q.id == id).cloned())
    }
    async fn put_query_result(&self, result: &QueryResultRecord) -> Result<u32> {
        let queries = self.lock()?.queries.clone();
        self.dashboards_lock()?.put_query_result(&queries, result)
    }
    async fn query_results(&self, query_id: Uuid) -> Result<Vec<QueryResultRecord>> {
        Ok(self.dashboards_lock()?.query_results(query_id))
    }
    async fn put_dashboard(&self, dashboard: &crate::dashboard::Dashboard) -> Result<u32> {
        self.dashboards_lock()?.put_dashboard(dashboard)
    }
    async fn get_dashboard(
        &self,
        id: Uuid,
        version: Option<u32>,
    ) -> Result<Option<crate::dashboard::Dashboard>> {
        Ok(self.dashboards_lock()?.get_dashboard(id, version))
    }
    async fn list_dashboards(&self, limit: u32) -> Result<Vec<DashboardSummary>> {
        Ok(self.dashboards_lock()?.list_dashboards(limit))
    }
}

impl MemoryStore {
    fn dashboards_lock(&self) -> Result<std::sync::MutexGuard<'_, dashboard::MemoryDashboards>> {
        self.dashboards
            .lock()
            .map_err(|_| Error::Internal("memory store lock poisoned".into()))
    }
}

/// A shared store is a store: `Agent::builder().store(arc)` takes an `Arc<dyn Store>` as well
/// as an owned one.
#[async_trait]
impl<T: Store + ?Sized> Store for std::sync::Arc<T> {
    async fn write_step(&self, step: &StepWrite) -> Result<()> {
        (**self).write_step(step).await
    }
    async fn get_run(&self, id: Uuid) -> Result<Option<RunRecord>> {
        (**self).get_run(id).await
    }
    async fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>> {
        (**self).list_runs(limit).await
    }
    async fn decisions(&self, run_id: Uuid) -> Result<Vec<DecisionRecord>> {
        (**self).decisions(run_id).await
    }
    async fn tool_executions(&self, run_id: Uuid) -> Result<Vec<ToolExecutionRecord>> {
        (**self).tool_executions(run_id).await
    }
    async fn queries(&self, run_id: Uuid) -> Result<Vec<QueryRecord>> {
        (**self).queries(run_id).await
    }
    async fn visualizations(&self, run_id: Uuid) -> Result<Vec<VisualizationRecord>> {
        (**self).visualizations(run_id).await
    }
    async fn latest_snapshot(&self, run_id: Uuid) -> Result<Option<Snapshot>> {
        (**self).latest_snapshot(run_id).await
    }
    async fn events(&self, run_id: Uuid) -> Result<Vec<Event>> {
        (**self).events(run_id).await
    }
    async fn mark_interrupted(&self) -> Result<u64> {
        (**self).mark_interrupted().await
    }
    async fn put_instruction(&self, instruction: &Instruction) -> Result<()> {
        (**self).put_instruction(instruction).await
    }
    async fn get_instruction(&self, id: Uuid) -> Result<Option<Instruction>> {
        (**self).get_instruction(id).await
    }
    async fn list_instructions(&self, filter: &InstructionFilter) -> Result<Vec<Instruction>> {
        (**self).list_instructions(filter).await
    }
    async fn set_instruction_status(
        &self,
        id: Uuid,
        status: InstructionStatus,
    ) -> Result<Instruction> {
        (**self).set_instruction_status(id, status).await
    }
    async fn update_instruction(
        &self,
        id: Uuid,
        update: &InstructionUpdate,
    ) -> Result<Instruction> {
        (**self).update_instruction(id, update).await
    }
    async fn delete_instruction(&self, id: Uuid) -> Result<()> {
        (**self).delete_instruction(id).await
    }
    async fn record_instruction_usage(&self, ids: &[Uuid]) -> Result<()> {
        (**self).record_instruction_usage(ids).await
    }
    async fn put_memory(&self, memory: &Memory) -> Result<()> {
        (**self).put_memory(memory).await
    }
    async fn list_memories(&self, filter: &MemoryFilter) -> Result<Vec<Memory>> {
        (**self).list_memories(filter).await
    }
    async fn delete_memory(&self, id: Uuid) -> Result<()> {
        (**self).delete_memory(id).await
    }
    async fn put_eval_run(&self, run: &EvalRunRecord) -> Result<()> {
        (**self).put_eval_run(run).await
    }
    async fn get_eval_run(&self, id: Uuid) -> Result<Option<EvalRunRecord>> {
        (**self).get_eval_run(id).await
    }
    async fn list_eval_runs(&self, suite: Option<&str>, limit: u32) -> Result<Vec<EvalRunRecord>> {
        (**self).list_eval_runs(suite, limit).await
    }

    // ---- Audit log.
    async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        (**self).append_audit(record).await
    }
    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        (**self).audit_log(filter).await
    }

    // --- Dashboards and re-run queries (issue 16).
    async fn get_query(&self, id: Uuid) -> Result<Option<QueryRecord>> {
        (**self).get_query(id).await
    }
    async fn put_query_result(&self, result: &QueryResultRecord) -> Result<u32> {
        (**self).put_query_result(result).await
    }
    async fn query_results(&self, query_id: Uuid) -> Result<Vec<QueryResultRecord>> {
        (**self).query_results(query_id).await
    }
    async fn put_dashboard(&self, dashboard: &crate::dashboard::Dashboard) -> Result<u32> {
        (**self).put_dashboard(dashboard).await
    }
    async fn get_dashboard(
        &self,
        id: Uuid,
        version: Option<u32>,
    ) -> Result<Option<crate::dashboard::Dashboard>> {
        (**self).get_dashboard(id, version).await
    }
    async fn list_dashboards(&self, limit: u32) -> Result<Vec<DashboardSummary>> {
        (**self).list_dashboards(limit).await
    }
}
