//! Reading: records built from rows once, here. Each engine says how it reads one typed value
//! from a row ([`Columns`]: SQLite keeps ids, timestamps and JSON as text, PostgreSQL has native
//! types), so both engines read exactly the same fields with the same checks.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{Error, ErrorInfo, ErrorKind, Result};
use crate::events::{Event, RunStatus};
use crate::instructions::{Instruction, InstructionStatus, Memory, Origin};
use crate::llm::Usage;
use crate::store::{
    DecisionRecord, EvalRunRecord, ExecutionStatus, QueryRecord, QueryStatus, RunRecord, Snapshot,
    ToolExecutionRecord, VisualizationRecord,
};

/// The columns of `runs` that make a [`RunRecord`].
pub(crate) const RUN_COLUMNS: &str = "id, question, title, status, model, created_at, updated_at, \
    finished_at, iterations, input_tokens, output_tokens, cached_input_tokens, cost_usd, answer, \
    error_kind, error_message, user_json";
/// The columns of `decisions` that make a [`DecisionRecord`].
pub(crate) const DECISION_COLUMNS: &str = "run_id, iteration, decision, created_at";
/// The columns of `tool_executions` that make a [`ToolExecutionRecord`].
pub(crate) const EXECUTION_COLUMNS: &str = "id, run_id, iteration, tool, arguments, status, \
    observation, error, attempts, started_at, finished_at";
/// The columns of `queries` that make a [`QueryRecord`].
pub(crate) const QUERY_COLUMNS: &str = "id, run_id, execution_id, connection, sql, executed_sql, \
    attempt, status, error, row_count, duration_ms, created_at";
/// The columns of `visualizations` that make a [`VisualizationRecord`].
pub(crate) const VISUALIZATION_COLUMNS: &str = "id, run_id, query_id, spec, echarts, created_at";
/// The columns of `snapshots` that make a [`Snapshot`].
pub(crate) const SNAPSHOT_COLUMNS: &str = "run_id, step, status, state, created_at";
/// The columns of `instructions` that make an [`Instruction`].
pub(crate) const INSTRUCTION_COLUMNS: &str =
    "id, text, status, scope, labels, source, run_id, usage_count, created_at, updated_at";
/// The columns of `memories` that make a [`Memory`].
pub(crate) const MEMORY_COLUMNS: &str = "id, text, scope, labels, source, run_id, created_at";
/// The columns of `eval_runs` that make an [`EvalRunRecord`].
pub(crate) const EVAL_RUN_COLUMNS: &str =
    "id, suite, mode, label, passed, total, created_at, report";

/// One row of one table, read column by column; `None` is SQL NULL.
pub trait Columns {
    /// The table, for error messages.
    fn table(&self) -> &'static str;
    /// A text column.
    fn text(&self, column: &str) -> Result<Option<String>>;
    /// An integer column.
    fn int(&self, column: &str) -> Result<Option<i64>>;
    /// A floating-point column.
    fn float(&self, column: &str) -> Result<Option<f64>>;
    /// An id column.
    fn uuid(&self, column: &str) -> Result<Option<Uuid>>;
    /// A timestamp column.
    fn ts(&self, column: &str) -> Result<Option<DateTime<Utc>>>;
    /// A JSON column, deserialised.
    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>>;
}

/// Reads of NOT NULL columns and the conversions every mapping needs.
trait Required: Columns {
    fn null(&self, column: &str) -> Error {
        Error::Store {
            message: format!("unexpected NULL in {}.{column}", self.table()),
            source: None,
        }
    }
    fn req_text(&self, column: &str) -> Result<String> {
        self.text(column)?.ok_or_else(|| self.null(column))
    }
    fn req_uuid(&self, column: &str) -> Result<Uuid> {
        self.uuid(column)?.ok_or_else(|| self.null(column))
    }
    fn req_ts(&self, column: &str) -> Result<DateTime<Utc>> {
        self.ts(column)?.ok_or_else(|| self.null(column))
    }
    fn req_json<T: DeserializeOwned>(&self, column: &str) -> Result<T> {
        self.json(column)?.ok_or_else(|| self.null(column))
    }
    fn u32(&self, column: &str) -> Result<u32> {
        let n = self.int(column)?.ok_or_else(|| self.null(column))?;
        u32::try_from(n).map_err(|e| {
            Error::store(
                format!("{}.{column} value {n} is not a u32", self.table()),
                e,
            )
        })
    }
    fn u64(&self, column: &str) -> Result<u64> {
        let n = self.int(column)?.ok_or_else(|| self.null(column))?;
        self.non_negative(column, n)
    }
    fn opt_u64(&self, column: &str) -> Result<Option<u64>> {
        self.int(column)?
            .map(|n| self.non_negative(column, n))
            .transpose()
    }
    fn non_negative(&self, column: &str, n: i64) -> Result<u64> {
        u64::try_from(n)
            .map_err(|e| Error::store(format!("negative {}.{column} value {n}", self.table()), e))
    }
    /// A text column holding one of a fixed set of words.
    fn word<T>(&self, column: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
        let s = self.req_text(column)?;
        parse(&s).ok_or_else(|| bad_value(&format!("{}.{column}", self.table()), &s))
    }
}

impl<C: Columns + ?Sized> Required for C {}

/// An unknown enum word in a column.
pub(crate) fn bad_value(column: &str, value: &str) -> Error {
    Error::Store {
        message: format!("unknown value {value:?} in {column}"),
        source: None,
    }
}

/// A count written to a signed column.
pub(crate) fn to_i64(n: u64, column: &str) -> Result<i64> {
    i64::try_from(n).map_err(|e| Error::store(format!("{column} value {n} exceeds i64"), e))
}

pub(crate) fn run(r: &impl Columns) -> Result<RunRecord> {
    let error = match r.text("error_kind")? {
        Some(kind) => Some(ErrorInfo {
            kind: serde_json::from_value::<ErrorKind>(serde_json::Value::String(kind.clone()))
                .map_err(|e| {
                    Error::store(format!("unknown value {kind:?} in runs.error_kind"), e)
                })?,
            message: r.text("error_message")?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(RunRecord {
        id: r.req_uuid("id")?,
        question: r.req_text("question")?,
        title: r.text("title")?,
        status: r.word("status", RunStatus::parse)?,
        model: r.req_text("model")?,
        created_at: r.req_ts("created_at")?,
        updated_at: r.req_ts("updated_at")?,
        finished_at: r.ts("finished_at")?,
        iterations: r.u32("iterations")?,
        usage: Usage {
            input_tokens: r.u64("input_tokens")?,
            output_tokens: r.u64("output_tokens")?,
            cached_input_tokens: r.u64("cached_input_tokens")?,
        },
        cost_usd: r.float("cost_usd")?,
        answer: r.text("answer")?,
        error,
        user: r.json("user_json")?,
    })
}

pub(crate) fn decision(r: &impl Columns) -> Result<DecisionRecord> {
    Ok(DecisionRecord {
        run_id: r.req_uuid("run_id")?,
        iteration: r.u32("iteration")?,
        decision: r.req_json("decision")?,
        created_at: r.req_ts("created_at")?,
    })
}

pub(crate) fn execution(r: &impl Columns) -> Result<ToolExecutionRecord> {
    Ok(ToolExecutionRecord {
        id: r.req_uuid("id")?,
        run_id: r.req_uuid("run_id")?,
        iteration: r.u32("iteration")?,
        tool: r.req_text("tool")?,
        arguments: r.req_json("arguments")?,
        status: r.word("status", ExecutionStatus::parse)?,
        observation: r.json("observation")?,
        error: r.text("error")?,
        attempts: r.u32("attempts")?,
        started_at: r.req_ts("started_at")?,
        finished_at: r.ts("finished_at")?,
    })
}

pub(crate) fn query(r: &impl Columns) -> Result<QueryRecord> {
    Ok(QueryRecord {
        id: r.req_uuid("id")?,
        run_id: r.req_uuid("run_id")?,
        execution_id: r.uuid("execution_id")?,
        connection: r.req_text("connection")?,
        sql: r.req_text("sql")?,
        executed_sql: r.text("executed_sql")?,
        attempt: r.u32("attempt")?,
        status: r.word("status", QueryStatus::parse)?,
        error: r.text("error")?,
        row_count: r.opt_u64("row_count")?,
        duration_ms: r.opt_u64("duration_ms")?,
        created_at: r.req_ts("created_at")?,
    })
}

pub(crate) fn visualization(r: &impl Columns) -> Result<VisualizationRecord> {
    Ok(VisualizationRecord {
        id: r.req_uuid("id")?,
        run_id: r.req_uuid("run_id")?,
        query_id: r.req_uuid("query_id")?,
        spec: r.req_json("spec")?,
        echarts: r.req_json("echarts")?,
        created_at: r.req_ts("created_at")?,
    })
}

pub(crate) fn snapshot(r: &impl Columns) -> Result<Snapshot> {
    Ok(Snapshot {
        run_id: r.req_uuid("run_id")?,
        step: r.u32("step")?,
        status: r.word("status", RunStatus::parse)?,
        state: r.req_json("state")?,
        created_at: r.req_ts("created_at")?,
    })
}

pub(crate) fn event(r: &impl Columns) -> Result<Event> {
    r.req_json("payload")
}

pub(crate) fn instruction(r: &impl Columns) -> Result<Instruction> {
    Ok(Instruction {
        id: r.req_uuid("id")?,
        text: r.req_text("text")?,
        status: r.word("status", InstructionStatus::parse)?,
        scope: r.req_json("scope")?,
        labels: r.req_json("labels")?,
        source: r.word("source", Origin::parse)?,
        run_id: r.uuid("run_id")?,
        usage_count: r.u64("usage_count")?,
        created_at: r.req_ts("created_at")?,
        updated_at: r.req_ts("updated_at")?,
    })
}

pub(crate) fn memory(r: &impl Columns) -> Result<Memory> {
    Ok(Memory {
        id: r.req_uuid("id")?,
        text: r.req_text("text")?,
        scope: r.req_json("scope")?,
        labels: r.req_json("labels")?,
        source: r.word("source", Origin::parse)?,
        run_id: r.uuid("run_id")?,
        created_at: r.req_ts("created_at")?,
    })
}

pub(crate) fn eval_run(r: &impl Columns) -> Result<EvalRunRecord> {
    let count = |column: &str| -> Result<usize> {
        usize::try_from(r.u64(column)?).map_err(|_| bad_value(column, "too large"))
    };
    Ok(EvalRunRecord {
        id: r.req_uuid("id")?,
        suite: r.req_text("suite")?,
        mode: r.req_text("mode")?,
        label: r.text("label")?,
        passed: count("passed")?,
        total: count("total")?,
        created_at: r.req_ts("created_at")?,
        report: r.req_json("report")?,
    })
}
