//! Writing: each statement once, built with sqlx's [`QueryBuilder`] so the driver writes its own
//! placeholders (`?` for SQLite, `$n` for PostgreSQL) and the engine binds each value as its
//! column type.

use serde::Serialize;
use sqlx::QueryBuilder;

use super::engine::{Engine, Value};
use super::read::to_i64;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::instructions::{Instruction, Memory, Scope};
use crate::store::{
    DecisionRecord, EvalRunRecord, QueryRecord, RunRecord, Snapshot, ToolExecutionRecord,
    VisualizationRecord,
};

/// A column and the value written to it.
type Column<'a> = (&'static str, Value<'a>);

/// What an insert does when a row with its key exists.
#[derive(Clone, Copy)]
enum OnConflict {
    /// Replace every column but the key.
    Update,
    /// Keep the existing row.
    Nothing,
}

/// `INSERT INTO table (…) VALUES (…) ON CONFLICT (key) DO …`.
fn insert<E: Engine>(
    table: &str,
    key: &[&str],
    columns: Vec<Column<'_>>,
    on_conflict: OnConflict,
) -> QueryBuilder<E::Db> {
    let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    let mut q = QueryBuilder::new(format!(
        "INSERT INTO {table} ({}) VALUES (",
        names.join(", ")
    ));
    for (i, (_, value)) in columns.into_iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        E::push_value(&mut q, value);
    }
    q.push(format!(") ON CONFLICT ({}) DO ", key.join(", ")));
    match on_conflict {
        OnConflict::Update => {
            let sets: Vec<String> = names
                .iter()
                .filter(|c| !key.contains(c))
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            q.push(format!("UPDATE SET {}", sets.join(", ")));
        }
        OnConflict::Nothing => {
            q.push("NOTHING");
        }
    }
    q
}

/// `value` serialised for a JSON column.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T, column: &str) -> Result<Value<'static>> {
    serde_json::to_string(value)
        .map(|s| Value::Json(Some(s)))
        .map_err(|e| Error::store(format!("serialising {column} as JSON"), e))
}

fn text(s: &str) -> Value<'_> {
    Value::Text(Some(s))
}

fn int(n: u32) -> Value<'static> {
    Value::Int(Some(i64::from(n)))
}

fn count(n: u64, column: &str) -> Result<Value<'static>> {
    Ok(Value::Int(Some(to_i64(n, column)?)))
}

fn opt_count(n: Option<u64>, column: &str) -> Result<Value<'static>> {
    Ok(Value::Int(n.map(|n| to_i64(n, column)).transpose()?))
}

/// The scope's connection, lowercased, for the indexed `scope_connection` column.
pub(crate) fn scope_connection(scope: &Scope) -> Option<String> {
    scope.connection().map(|c| c.trim().to_lowercase())
}

pub(crate) fn run<E: Engine>(run: &RunRecord) -> Result<QueryBuilder<E::Db>> {
    let (error_kind, error_message) = match &run.error {
        Some(info) => (Some(info.kind.as_str()), Some(info.message.as_str())),
        None => (None, None),
    };
    let columns = vec![
        ("id", Value::Uuid(Some(run.id))),
        ("question", text(&run.question)),
        ("title", Value::Text(run.title.as_deref())),
        ("status", text(run.status.as_str())),
        ("model", text(&run.model)),
        ("created_at", Value::Ts(Some(run.created_at))),
        ("updated_at", Value::Ts(Some(run.updated_at))),
        ("finished_at", Value::Ts(run.finished_at)),
        ("iterations", int(run.iterations)),
        (
            "input_tokens",
            count(run.usage.input_tokens, "runs.input_tokens")?,
        ),
        (
            "output_tokens",
            count(run.usage.output_tokens, "runs.output_tokens")?,
        ),
        (
            "cached_input_tokens",
            count(run.usage.cached_input_tokens, "runs.cached_input_tokens")?,
        ),
        ("cost_usd", Value::Float(run.cost_usd)),
        ("answer", Value::Text(run.answer.as_deref())),
        ("error_kind", Value::Text(error_kind)),
        ("error_message", Value::Text(error_message)),
        (
            "user_json",
            match &run.user {
                Some(u) => json(u, "runs.user_json")?,
                None => Value::Json(None),
            },
        ),
    ];
    Ok(insert::<E>("runs", &["id"], columns, OnConflict::Update))
}

pub(crate) fn decision<E: Engine>(d: &DecisionRecord) -> Result<QueryBuilder<E::Db>> {
    let columns = vec![
        ("run_id", Value::Uuid(Some(d.run_id))),
        ("iteration", int(d.iteration)),
        ("decision", json(&d.decision, "decisions.decision")?),
        ("created_at", Value::Ts(Some(d.created_at))),
    ];
    Ok(insert::<E>(
        "decisions",
        &["run_id", "iteration"],
        columns,
        OnConflict::Update,
    ))
}

pub(crate) fn execution<E: Engine>(e: &ToolExecutionRecord) -> Result<QueryBuilder<E::Db>> {
    let observation = match &e.observation {
        Some(o) => json(o, "tool_executions.observation")?,
        None => Value::Json(None),
    };
    let columns = vec![
        ("id", Value::Uuid(Some(e.id))),
        ("run_id", Value::Uuid(Some(e.run_id))),
        ("iteration", int(e.iteration)),
        ("tool", text(&e.tool)),
        (
            "arguments",
            json(&e.arguments, "tool_executions.arguments")?,
        ),
        ("status", text(e.status.as_str())),
        ("observation", observation),
        ("error", Value::Text(e.error.as_deref())),
        ("attempts", int(e.attempts)),
        ("started_at", Value::Ts(Some(e.started_at))),
        ("finished_at", Value::Ts(e.finished_at)),
    ];
    Ok(insert::<E>(
        "tool_executions",
        &["id"],
        columns,
        OnConflict::Update,
    ))
}

pub(crate) fn query<E: Engine>(q: &QueryRecord) -> Result<QueryBuilder<E::Db>> {
    let columns = vec![
        ("id", Value::Uuid(Some(q.id))),
        ("run_id", Value::Uuid(Some(q.run_id))),
        ("execution_id", Value::Uuid(q.execution_id)),
        ("connection", text(&q.connection)),
        ("sql", text(&q.sql)),
        ("executed_sql", Value::Text(q.executed_sql.as_deref())),
        ("attempt", int(q.attempt)),
        ("status", text(q.status.as_str())),
        ("error", Value::Text(q.error.as_deref())),
        ("row_count", opt_count(q.row_count, "queries.row_count")?),
        (
            "duration_ms",
            opt_count(q.duration_ms, "queries.duration_ms")?,
        ),
        ("created_at", Value::Ts(Some(q.created_at))),
    ];
    Ok(insert::<E>("queries", &["id"], columns, OnConflict::Update))
}

pub(crate) fn visualization<E: Engine>(v: &VisualizationRecord) -> Result<QueryBuilder<E::Db>> {
    let columns = vec![
        ("id", Value::Uuid(Some(v.id))),
        ("run_id", Value::Uuid(Some(v.run_id))),
        ("query_id", Value::Uuid(Some(v.query_id))),
        ("spec", json(&v.spec, "visualizations.spec")?),
        ("echarts", json(&v.echarts, "visualizations.echarts")?),
        ("created_at", Value::Ts(Some(v.created_at))),
    ];
    Ok(insert::<E>(
        "visualizations",
        &["id"],
        columns,
        OnConflict::Update,
    ))
}

/// The run's one snapshot, replaced: keeping one per step, each holding the whole
/// conversation, would grow a run's storage with the square of its iterations.
pub(crate) fn snapshot<E: Engine>(s: &Snapshot) -> Result<QueryBuilder<E::Db>> {
    let columns = vec![
        ("run_id", Value::Uuid(Some(s.run_id))),
        ("step", int(s.step)),
        ("status", text(s.status.as_str())),
        ("state", json(&s.state, "snapshots.state")?),
        ("created_at", Value::Ts(Some(s.created_at))),
    ];
    Ok(insert::<E>(
        "snapshots",
        &["run_id"],
        columns,
        OnConflict::Update,
    ))
}

pub(crate) fn event<E: Engine>(ev: &Event) -> Result<QueryBuilder<E::Db>> {
    let columns = vec![
        ("run_id", Value::Uuid(Some(ev.run_id))),
        ("seq", count(ev.seq, "events.seq")?),
        ("type", text(ev.type_name())),
        ("ts", Value::Ts(Some(ev.ts))),
        ("payload", json(ev, "events.payload")?),
    ];
    Ok(insert::<E>(
        "events",
        &["run_id", "seq"],
        columns,
        OnConflict::Nothing,
    ))
}

pub(crate) fn instruction<E: Engine>(i: &Instruction) -> Result<QueryBuilder<E::Db>> {
    let connection = scope_connection(&i.scope);
    let columns = vec![
        ("id", Value::Uuid(Some(i.id))),
        ("text", text(&i.text)),
        ("status", text(i.status.as_str())),
        ("scope", json(&i.scope, "instructions.scope")?),
        ("scope_connection", Value::Text(connection.as_deref())),
        ("labels", json(&i.labels, "instructions.labels")?),
        ("source", text(i.source.as_str())),
        ("run_id", Value::Uuid(i.run_id)),
        (
            "usage_count",
            count(i.usage_count, "instructions.usage_count")?,
        ),
        ("created_at", Value::Ts(Some(i.created_at))),
        ("updated_at", Value::Ts(Some(i.updated_at))),
    ];
    Ok(insert::<E>(
        "instructions",
        &["id"],
        columns,
        OnConflict::Update,
    ))
}

pub(crate) fn memory<E: Engine>(m: &Memory) -> Result<QueryBuilder<E::Db>> {
    let connection = scope_connection(&m.scope);
    let columns = vec![
        ("id", Value::Uuid(Some(m.id))),
        ("text", text(&m.text)),
        ("scope", json(&m.scope, "memories.scope")?),
        ("scope_connection", Value::Text(connection.as_deref())),
        ("labels", json(&m.labels, "memories.labels")?),
        ("source", text(m.source.as_str())),
        ("run_id", Value::Uuid(m.run_id)),
        ("created_at", Value::Ts(Some(m.created_at))),
    ];
    Ok(insert::<E>(
        "memories",
        &["id"],
        columns,
        OnConflict::Update,
    ))
}

pub(crate) fn eval_run<E: Engine>(r: &EvalRunRecord) -> Result<QueryBuilder<E::Db>> {
    let columns = vec![
        ("id", Value::Uuid(Some(r.id))),
        ("suite", text(&r.suite)),
        ("mode", text(&r.mode)),
        ("label", Value::Text(r.label.as_deref())),
        ("passed", count(r.passed as u64, "eval_runs.passed")?),
        ("total", count(r.total as u64, "eval_runs.total")?),
        ("created_at", Value::Ts(Some(r.created_at))),
        ("report", json(&r.report, "eval_runs.report")?),
    ];
    Ok(insert::<E>(
        "eval_runs",
        &["id"],
        columns,
        OnConflict::Update,
    ))
}

/// The statements that mark runs left `running` by a dead process as `interrupted`, with their
/// running tool executions, queries and latest snapshot; the runs last, so the last statement's
/// count is the number of runs.
pub(crate) fn mark_interrupted<E: Engine>(
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<(&'static str, QueryBuilder<E::Db>)> {
    const RUNNING: &str = "run_id IN (SELECT id FROM runs WHERE status = 'running')";
    let mut executions =
        QueryBuilder::new("UPDATE tool_executions SET status = 'cancelled', finished_at = ");
    E::push_value(&mut executions, Value::Ts(Some(now)));
    executions.push(format!(" WHERE status = 'running' AND {RUNNING}"));
    let queries = QueryBuilder::new(format!(
        "UPDATE queries SET status = 'error', error = 'interrupted' \
         WHERE status = 'running' AND {RUNNING}"
    ));
    let snapshots = QueryBuilder::new(format!(
        "UPDATE snapshots SET status = 'interrupted' WHERE {RUNNING}"
    ));
    let mut runs = QueryBuilder::new("UPDATE runs SET status = 'interrupted', finished_at = ");
    E::push_value(&mut runs, Value::Ts(Some(now)));
    runs.push(", updated_at = ");
    E::push_value(&mut runs, Value::Ts(Some(now)));
    runs.push(" WHERE status = 'running'");
    vec![
        ("cancelling running tool executions", executions),
        ("failing running queries", queries),
        ("updating latest snapshots", snapshots),
        ("marking runs interrupted", runs),
    ]
}
