//! The event stream of a run: one serde enum, tagged `type`, the JSON contract for the bindings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::approval::Approver;
use crate::connector::CostEstimate;
pub use crate::data::ColumnMeta;
use crate::error::ErrorInfo;
use crate::instructions::Instruction;
use crate::llm::Usage;
use crate::planner::PlannerDecision;
use crate::viz::ChartSpec;

/// One event of a run. Serialises flat: `{"run_id": …, "seq": …, "ts": …, "type": "…", …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    /// The run this event belongs to.
    pub run_id: Uuid,
    /// Monotonic per run, starting at 0.
    pub seq: u64,
    /// When it was emitted.
    pub ts: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// The event's `type` tag (`run.started`, …).
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }

    /// The event as JSON (the form Python's `to_dict()` and Node's objects have).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Whether this is a token-level event that stores may skip.
    pub fn is_partial(&self) -> bool {
        matches!(
            self.kind,
            EventKind::DecisionPartial { .. } | EventKind::BlockUpsert { done: false, .. }
        )
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still going.
    Running,
    /// Answered.
    Completed,
    /// Ended with a question for the user.
    AwaitingInput,
    /// Cancelled by the caller.
    Cancelled,
    /// Stopped by a budget.
    BudgetExceeded,
    /// Failed with an error.
    Failed,
    /// The process ended while the run was going; found on the next start.
    Interrupted,
}

impl RunStatus {
    /// The stored string form.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::AwaitingInput => "awaiting_input",
            RunStatus::Cancelled => "cancelled",
            RunStatus::BudgetExceeded => "budget_exceeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// Parses the stored string form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => RunStatus::Running,
            "completed" => RunStatus::Completed,
            "awaiting_input" => RunStatus::AwaitingInput,
            "cancelled" => RunStatus::Cancelled,
            "budget_exceeded" => RunStatus::BudgetExceeded,
            "failed" => RunStatus::Failed,
            "interrupted" => RunStatus::Interrupted,
            _ => return None,
        })
    }

    /// Whether the run is over.
    pub fn is_terminal(self) -> bool {
        !matches!(self, RunStatus::Running)
    }
}

/// Outcome of one tool execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    /// Returned a result.
    Success,
    /// Returned or raised an error (the model sees the message).
    Error,
    /// Exceeded its time limit.
    Timeout,
    /// Cancelled with the run.
    Cancelled,
}

/// Wall-clock timings of a run, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Timings {
    /// Until the first model token.
    pub first_token_ms: Option<u64>,
    /// Spent waiting on the model.
    pub llm_ms: u64,
    /// Spent in tools.
    pub tools_ms: u64,
    /// Whole run.
    pub total_ms: u64,
}

/// Summary of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunSummary {
    /// Final status.
    pub status: RunStatus,
    /// Short title for the run.
    pub title: Option<String>,
    /// Planner iterations used.
    pub iterations: u32,
    /// Tokens used by all model calls.
    pub usage: Usage,
    /// Cost in US dollars, when the model's prices are known.
    pub cost_usd: Option<f64>,
    /// Timings.
    pub timings: Timings,
    /// Why the run stopped early (budget, cancellation), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What happened. The `type` tag values are the stable names of design section 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum EventKind {
    /// The run began.
    #[serde(rename = "run.started")]
    RunStarted {
        /// The user's question.
        question: String,
        /// Model id.
        model: String,
        /// Connection names.
        connections: Vec<String>,
        /// The user the run is for, when the request named one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<crate::guard::UserContext>,
    },
    /// The planner's decision so far, while the model is still writing.
    #[serde(rename = "decision.partial")]
    DecisionPartial {
        /// Planner iteration, from 0.
        iteration: u32,
        /// Reasoning so far.
        reasoning_message: Option<String>,
        /// Message to the user so far.
        assistant_message: Option<String>,
    },
    /// The planner's complete decision.
    #[serde(rename = "decision.final")]
    DecisionFinal {
        /// Planner iteration.
        iteration: u32,
        /// The decision.
        decision: PlannerDecision,
    },
    /// The model's output was unusable and the planner is asking again.
    #[serde(rename = "planner.retry")]
    PlannerRetry {
        /// Planner iteration.
        iteration: u32,
        /// Retry number, from 1.
        attempt: u32,
        /// What was wrong.
        error: String,
    },
    /// A tool began.
    #[serde(rename = "tool.started")]
    ToolStarted {
        /// Execution id.
        execution_id: Uuid,
        /// Planner iteration.
        iteration: u32,
        /// Tool name.
        tool: String,
        /// Arguments.
        arguments: serde_json::Value,
    },
    /// A tool reported progress.
    #[serde(rename = "tool.progress")]
    ToolProgress {
        /// Execution id.
        execution_id: Uuid,
        /// Tool name.
        tool: String,
        /// What it is doing.
        message: String,
    },
    /// A tool ended.
    #[serde(rename = "tool.finished")]
    ToolFinished {
        /// Execution id.
        execution_id: Uuid,
        /// Tool name.
        tool: String,
        /// Outcome.
        status: ToolStatus,
        /// What the model was shown.
        observation: serde_json::Value,
        /// The error, if it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Attempts made.
        attempts: u32,
        /// Duration in ms.
        duration_ms: u64,
    },
    /// SQL is about to run.
    #[serde(rename = "query.created")]
    QueryCreated {
        /// Query id.
        query_id: Uuid,
        /// Connection name.
        connection: String,
        /// The SQL as it will run (after the guard's rewrite).
        sql: String,
        /// Attempt number within its tool call, from 1.
        attempt: u32,
    },
    /// SQL finished (successfully or not).
    #[serde(rename = "query.result")]
    QueryResult {
        /// Query id.
        query_id: Uuid,
        /// Result columns.
        columns: Vec<ColumnMeta>,
        /// Rows returned.
        row_count: usize,
        /// First rows as JSON objects.
        preview: Vec<serde_json::Value>,
        /// Whether the row cap cut the result.
        truncated: bool,
        /// The database error, if it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Duration in ms.
        duration_ms: u64,
    },
    /// A statement's cost estimate exceeds the approval policy: it waits for the host
    /// (`run.approve(id)` / `run.deny(id, reason)`) or the approval handler; a timeout denies
    /// it. Follows the statement's `query.created`.
    #[serde(rename = "approval.requested")]
    ApprovalRequested {
        /// The id to approve or deny.
        approval_id: Uuid,
        /// The query waiting.
        query_id: Uuid,
        /// Connection name.
        connection: String,
        /// The SQL as it will run.
        sql: String,
        /// The engine's estimate, when it gave one.
        estimate: Option<CostEstimate>,
        /// Why a decision is needed, naming the threshold exceeded.
        reason: String,
        /// How long the run waits before denying, in ms.
        timeout_ms: u64,
    },
    /// A decision on an `approval.requested`.
    #[serde(rename = "approval.resolved")]
    ApprovalResolved {
        /// The request decided.
        approval_id: Uuid,
        /// The query it was for.
        query_id: Uuid,
        /// Whether the statement runs.
        approved: bool,
        /// Who decided: `host`, `handler`, `timeout` or `cancelled`.
        by: Approver,
        /// The denial's reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A chart was proposed.
    #[serde(rename = "visualization.created")]
    VisualizationCreated {
        /// Visualization id.
        visualization_id: Uuid,
        /// The query it charts.
        query_id: Uuid,
        /// Chart spec.
        spec: ChartSpec,
        /// Rendered ECharts option.
        echarts: serde_json::Value,
    },
    /// Answer text, growing; `done` on the last update.
    #[serde(rename = "block.upsert")]
    BlockUpsert {
        /// Block id.
        block_id: Uuid,
        /// Full text so far.
        text: String,
        /// Whether this is the final text.
        done: bool,
    },
    /// The agent proposed an instruction (stored as a draft; the host approves it).
    #[serde(rename = "instructions.suggested")]
    InstructionsSuggested {
        /// The stored draft.
        instruction: Instruction,
        /// Why the agent proposes it.
        reason: String,
    },
    /// The run ended (completed, awaiting input, cancelled or over budget).
    #[serde(rename = "run.finished")]
    RunFinished {
        /// Summary.
        summary: RunSummary,
    },
    /// The run failed.
    #[serde(rename = "run.failed")]
    RunFailed {
        /// The error.
        error: ErrorInfo,
        /// Summary up to the failure.
        summary: RunSummary,
    },
}

impl EventKind {
    /// The `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::RunStarted { .. } => "run.started",
            EventKind::DecisionPartial { .. } => "decision.partial",
            EventKind::DecisionFinal { .. } => "decision.final",
            EventKind::PlannerRetry { .. } => "planner.retry",
            EventKind::ToolStarted { .. } => "tool.started",
            EventKind::ToolProgress { .. } => "tool.progress",
            EventKind::ToolFinished { .. } => "tool.finished",
            EventKind::QueryCreated { .. } => "query.created",
            EventKind::QueryResult { .. } => "query.result",
            EventKind::ApprovalRequested { .. } => "approval.requested",
            EventKind::ApprovalResolved { .. } => "approval.resolved",
            EventKind::VisualizationCreated { .. } => "visualization.created",
            EventKind::BlockUpsert { .. } => "block.upsert",
            EventKind::InstructionsSuggested { .. } => "instructions.suggested",
            EventKind::RunFinished { .. } => "run.finished",
            EventKind::RunFailed { .. } => "run.failed",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic, clippy::unwrap_used)]
    use super::*;

    #[test]
    fn events_serialise_flat_with_type_tag() {
        let ev = Event {
            run_id: Uuid::nil(),
            seq: 3,
            ts: DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default(),
            kind: EventKind::QueryCreated {
                query_id: Uuid::nil(),
                connection: "flights".into(),
                sql: "SELECT 1".into(),
                attempt: 1,
            },
        };
        let v = ev.to_json();
        assert_eq!(v["type"], "query.created");
        assert_eq!(v["seq"], 3);
        assert_eq!(v["sql"], "SELECT 1");
        let back: Event = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, ev);
    }
}
