//! [`SqliteStore`]: the embedded persistence store, on SQLite via sqlx.
//!
//! The schema lives in `metricchat-core/migrations` and is embedded in the binary; it is brought
//! up to date every time a store is opened. Conventions (see the first migration):
//! ids are hyphenated UUID text, timestamps are RFC 3339 UTC text with nanoseconds (fixed width,
//! so text order is time order and values round-trip exactly), JSON values are TEXT, statuses
//! are the `as_str` forms, and token usage is kept in integer columns so it can be summed in SQL.
//!
//! Every [`StepWrite`] is applied in one `BEGIN IMMEDIATE` transaction: the write lock is taken
//! up front, so concurrent writers wait for each other (up to the busy timeout) instead of
//! failing with `database is locked` when a read transaction tries to upgrade.

use std::str::FromStr;
use std::time::Duration;

use chrono::SecondsFormat;
use serde::de::DeserializeOwned;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::rows::{self, to_i64};
use super::*;
use crate::instructions::{Origin, Scope};

/// The embedded schema migrations (`metricchat-core/migrations`).
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a connection waits for another writer's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in a file-backed store's pool (one writer at a time; the rest read).
const FILE_POOL_SIZE: u32 = 4;

/// A [`Store`] in a SQLite database (via sqlx), with embedded migrations.
///
/// Cheap to share behind an `Arc`; all methods take `&self` and use an internal pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating the file if needed) the database at `path` and runs migrations.
    ///
    /// The database uses WAL journaling, `synchronous = NORMAL`, foreign keys and a 5 s busy
    /// timeout. The parent directory must exist.
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_POOL_SIZE)
            .connect_with(options)
            .await
            .map_err(|e| Error::store(format!("opening SQLite database {}", path.display()), e))?;
        Self::migrate(pool).await
    }

    /// A private in-memory SQLite database, gone when the store is dropped.
    ///
    /// It lives in a pool of one connection that is never recycled, so every call sees the
    /// same database; concurrent calls queue for that connection.
    pub async fn in_memory() -> Result<Self> {
        // `sqlite::memory:` names a fresh database per call, so two stores never share one.
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| Error::store("configuring in-memory SQLite database", e))?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| Error::store("opening in-memory SQLite database", e))?;
        Self::migrate(pool).await
    }

    /// Closes the pool, waiting for open connections to finish. Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(pool: SqlitePool) -> Result<Self> {
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| Error::store("running SQLite store migrations", e))?;
        Ok(Self { pool })
    }

    /// Begins a transaction holding the write lock from the start.
    async fn begin_write(&self, what: &str) -> Result<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| Error::store(format!("{what}: beginning transaction"), e))
    }

    async fn fetch_all(
        &self,
        what: &str,
        query: sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> Result<Vec<SqliteRow>> {
        query
            .fetch_all(&self.pool)
            .await
            .map_err(|e| Error::store(format!("reading {what}"), e))
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn write_step(&self, step: &StepWrite) -> Result<()> {
        let mut tx = self.begin_write("write_step").await?;
        match write_step_in(&mut tx, step).await {
            Ok(()) => tx
                .commit()
                .await
                .map_err(|e| Error::store("write_step: committing", e)),
            Err(err) => {
                // The step's error matters more than a failed rollback; SQLite also rolls back
                // by itself when the connection is dropped.
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "write_step: rollback failed");
                }
                Err(err)
            }
        }
    }

    async fn get_run(&self, id: Uuid) -> Result<Option<RunRecord>> {
        let rows = self
            .fetch_all(
                "run",
                sqlx::query(SELECT_RUN_BY_ID).bind(id.hyphenated().to_string()),
            )
            .await?;
        rows.first().map(read_run).transpose()
    }

    async fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>> {
        let rows = self
            .fetch_all("runs", sqlx::query(LIST_RUNS).bind(i64::from(limit)))
            .await?;
        rows.iter().map(read_run).collect()
    }

    async fn decisions(&self, run_id: Uuid) -> Result<Vec<DecisionRecord>> {
        let rows = self
            .fetch_all(
                "decisions",
                sqlx::query(
                    "SELECT run_id, iteration, decision, created_at FROM decisions \
                     WHERE run_id = ?1 ORDER BY iteration, rowid",
                )
                .bind(run_id.hyphenated().to_string()),
            )
            .await?;
        rows.iter().map(read_decision).collect()
    }

    async fn tool_executions(&self, run_id: Uuid) -> Result<Vec<ToolExecutionRecord>> {
        let rows = self
            .fetch_all(
                "tool executions",
                sqlx::query(
                    "SELECT id, run_id, iteration, tool, arguments, status, observation, error, \
                     attempts, started_at, finished_at FROM tool_executions \
                     WHERE run_id = ?1 ORDER BY started_at, rowid",
                )
                .bind(run_id.hyphenated().to_string()),
            )
            .await?;
        rows.iter().map(read_execution).collect()
    }

    async fn queries(&self, run_id: Uuid) -> Result<Vec<QueryRecord>> {
        let rows = self
            .fetch_all(
                "queries",
                sqlx::query(
                    "SELECT id, run_id, execution_id, connection, sql, executed_sql, attempt, \
                     status, error, row_count, duration_ms, created_at FROM queries \
                     WHERE run_id = ?1 ORDER BY created_at, rowid",
                )
                .bind(run_id.hyphenated().to_string()),
            )
            .await?;
        rows.iter().map(read_query).collect()
    }

    async fn visualizations(&self, run_id: Uuid) -> Result<Vec<VisualizationRecord>> {
        let rows = self
            .fetch_all(
                "visualizations",
                sqlx::query(
                    "SELECT id, run_id, query_id, spec, echarts, created_at FROM visualizations \
                     WHERE run_id = ?1 ORDER BY created_at, rowid",
                )
                .bind(run_id.hyphenated().to_string()),
            )
            .await?;
        rows.iter().map(read_visualization).collect()
    }

    async fn latest_snapshot(&self, run_id: Uuid) -> Result<Option<Snapshot>> {
        let rows = self
            .fetch_all(
                "snapshot",
                sqlx::query(
                    "SELECT run_id, step, status, state, created_at FROM snapshots \
                     WHERE run_id = ?1 ORDER BY step DESC LIMIT 1",
                )
                .bind(run_id.hyphenated().to_string()),
            )
            .await?;
        rows.first().map(read_snapshot).transpose()
    }

    async fn events(&self, run_id: Uuid) -> Result<Vec<Event>> {
        let rows = self
            .fetch_all(
                "events",
                sqlx::query("SELECT payload FROM events WHERE run_id = ?1 ORDER BY seq")
                    .bind(run_id.hyphenated().to_string()),
            )
            .await?;
        rows.iter()
            .map(|row| {
                parse_json::<Event>(&get::<String>(row, "events", "payload")?, "events.payload")
            })
            .collect()
    }

    async fn mark_interrupted(&self) -> Result<u64> {
        let mut tx = self.begin_write("mark_interrupted").await?;
        match mark_interrupted_in(&mut tx).await {
            Ok(n) => {
                tx.commit()
                    .await
                    .map_err(|e| Error::store("mark_interrupted: committing", e))?;
                Ok(n)
            }
            Err(err) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "mark_interrupted: rollback failed");
                }
                Err(err)
            }
        }
    }

    async fn put_instruction(&self, instruction: &Instruction) -> Result<()> {
        instruction.validate()?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| Error::store("put_instruction: acquiring a connection", e))?;
        write_instruction(&mut conn, instruction).await
    }

    async fn get_instruction(&self, id: Uuid) -> Result<Option<Instruction>> {
        let rows = self
            .fetch_all(
                "instruction",
                sqlx::query(SELECT_INSTRUCTION_BY_ID).bind(uuid_text(id)),
            )
            .await?;
        rows.first().map(read_instruction).transpose()
    }

    async fn list_instructions(&self, filter: &InstructionFilter) -> Result<Vec<Instruction>> {
        // The indexed fields narrow the rows in SQL; `matches` then applies the whole filter,
        // so every store lists exactly the same instructions.
        let rows = self
            .fetch_all(
                "instructions",
                sqlx::query(LIST_INSTRUCTIONS)
                    .bind(filter.status.map(InstructionStatus::as_str))
                    .bind(filter.source.map(Origin::as_str))
                    .bind(filter.run_id.map(uuid_text))
                    .bind(
                        filter
                            .connection
                            .as_deref()
                            .map(|c| c.trim().to_lowercase()),
                    ),
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let i = read_instruction(row)?;
            if filter.matches(&i) {
                out.push(i);
            }
        }
        Ok(out)
    }

    async fn set_instruction_status(
        &self,
        id: Uuid,
        status: InstructionStatus,
    ) -> Result<Instruction> {
        let done =
            sqlx::query("UPDATE instructions SET status = ?2, updated_at = ?3 WHERE id = ?1")
                .bind(uuid_text(id))
                .bind(status.as_str())
                .bind(ts_text(&crate::instructions::now()))
                .execute(&self.pool)
                .await
                .map_err(|e| Error::store(format!("setting the status of instruction {id}"), e))?;
        if done.rows_affected() == 0 {
            return Err(instruction_not_found(id));
        }
        self.get_instruction(id)
            .await?
            .ok_or_else(|| instruction_not_found(id))
    }

    async fn update_instruction(
        &self,
        id: Uuid,
        update: &InstructionUpdate,
    ) -> Result<Instruction> {
        // Read, change and write in one write transaction, so concurrent updates of different
        // fields do not undo each other.
        let mut tx = self.begin_write("update_instruction").await?;
        let result = async {
            let row = sqlx::query(SELECT_INSTRUCTION_BY_ID)
                .bind(uuid_text(id))
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| Error::store(format!("reading instruction {id}"), e))?;
            let mut i = row
                .as_ref()
                .map(read_instruction)
                .transpose()?
                .ok_or_else(|| instruction_not_found(id))?;
            update.apply(&mut i)?;
            write_instruction(&mut tx, &i).await?;
            Ok(i)
        }
        .await;
        match result {
            Ok(i) => {
                tx.commit()
                    .await
                    .map_err(|e| Error::store("update_instruction: committing", e))?;
                Ok(i)
            }
            Err(err) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "update_instruction: rollback failed");
                }
                Err(err)
            }
        }
    }

    async fn delete_instruction(&self, id: Uuid) -> Result<()> {
        let done = sqlx::query("DELETE FROM instructions WHERE id = ?1")
            .bind(uuid_text(id))
            .execute(&self.pool)
            .await
            .map_err(|e| Error::store(format!("deleting instruction {id}"), e))?;
        if done.rows_affected() == 0 {
            return Err(instruction_not_found(id));
        }
        Ok(())
    }

    async fn record_instruction_usage(&self, ids: &[Uuid]) -> Result<()> {
        let ids = dedup(ids);
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write("record_instruction_usage").await?;
        for id in &ids {
            if let Err(e) =
                sqlx::query("UPDATE instructions SET usage_count = usage_count + 1 WHERE id = ?1")
                    .bind(uuid_text(*id))
                    .execute(&mut *tx)
                    .await
            {
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(error = %rollback, "record_instruction_usage: rollback failed");
                }
                return Err(Error::store(
                    format!("counting a use of instruction {id}"),
                    e,
                ));
            }
        }
        tx.commit()
            .await
            .map_err(|e| Error::store("record_instruction_usage: committing", e))
    }

    async fn put_memory(&self, memory: &Memory) -> Result<()> {
        memory.validate()?;
        sqlx::query(
            "INSERT INTO memories (id, text, scope, scope_connection, labels, source, run_id, \
             created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (id) DO UPDATE SET text = excluded.text, scope = excluded.scope, \
             scope_connection = excluded.scope_connection, labels = excluded.labels, \
             source = excluded.source, run_id = excluded.run_id, \
             created_at = excluded.created_at",
        )
        .bind(uuid_text(memory.id))
        .bind(memory.text.as_str())
        .bind(json_text(&memory.scope, "memories.scope")?)
        .bind(scope_connection(&memory.scope))
        .bind(json_text(&memory.labels, "memories.labels")?)
        .bind(memory.source.as_str())
        .bind(memory.run_id.map(uuid_text))
        .bind(ts_text(&memory.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| Error::store(format!("writing memory {}", memory.id), e))?;
        Ok(())
    }

    async fn list_memories(&self, filter: &MemoryFilter) -> Result<Vec<Memory>> {
        let rows = self
            .fetch_all(
                "memories",
                sqlx::query(
                    "SELECT id, text, scope, labels, source, run_id, created_at FROM memories \
                     WHERE (?1 IS NULL OR source = ?1) AND (?2 IS NULL OR run_id = ?2) \
                     AND (?3 IS NULL OR scope_connection = ?3) \
                     ORDER BY created_at, id",
                )
                .bind(filter.source.map(Origin::as_str))
                .bind(filter.run_id.map(uuid_text))
                .bind(
                    filter
                        .connection
                        .as_deref()
                        .map(|c| c.trim().to_lowercase()),
                ),
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let m = read_memory(row)?;
            if filter.matches(&m) {
                out.push(m);
            }
        }
        Ok(out)
    }

    async fn delete_memory(&self, id: Uuid) -> Result<()> {
        let done = sqlx::query("DELETE FROM memories WHERE id = ?1")
            .bind(uuid_text(id))
            .execute(&self.pool)
            .await
            .map_err(|e| Error::store(format!("deleting memory {id}"), e))?;
        if done.rows_affected() == 0 {
            return Err(memory_not_found(id));
        }
        Ok(())
    }

    async fn put_eval_run(&self, run: &EvalRunRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO eval_runs (id, suite, mode, label, passed, total, created_at, report) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE SET \
             suite = excluded.suite, mode = excluded.mode, label = excluded.label, \
             passed = excluded.passed, total = excluded.total, \
             created_at = excluded.created_at, report = excluded.report",
        )
        .bind(uuid_text(run.id))
        .bind(run.suite.as_str())
        .bind(run.mode.as_str())
        .bind(run.label.as_deref())
        .bind(to_i64(run.passed as u64, "eval_runs.passed")?)
        .bind(to_i64(run.total as u64, "eval_runs.total")?)
        .bind(ts_text(&run.created_at))
        .bind(json_text(&run.report, "eval_runs.report")?)
        .execute(&self.pool)
        .await
        .map_err(|e| Error::store(format!("writing eval run {}", run.id), e))?;
        Ok(())
    }

    async fn get_eval_run(&self, id: Uuid) -> Result<Option<EvalRunRecord>> {
        let rows = self
            .fetch_all(
                "eval_runs",
                sqlx::query(
                    "SELECT id, suite, mode, label, passed, total, created_at, report \
                     FROM eval_runs WHERE id = ?1",
                )
                .bind(uuid_text(id)),
            )
            .await?;
        rows.first().map(read_eval_run).transpose()
    }

    async fn list_eval_runs(&self, suite: Option<&str>, limit: u32) -> Result<Vec<EvalRunRecord>> {
        let rows = self
            .fetch_all(
                "eval_runs",
                sqlx::query(
                    "SELECT id, suite, mode, label, passed, total, created_at, report \
                     FROM eval_runs WHERE (?1 IS NULL OR suite = ?1) \
                     ORDER BY created_at DESC, id DESC LIMIT ?2",
                )
                .bind(suite.map(str::to_string))
                .bind(i64::from(limit)),
            )
            .await?;
        rows.iter().map(read_eval_run).collect()
    }
}

const SELECT_INSTRUCTION_BY_ID: &str = "SELECT id, text, status, scope, labels, source, run_id, \
    usage_count, created_at, updated_at FROM instructions WHERE id = ?1";

const LIST_INSTRUCTIONS: &str = "SELECT id, text, status, scope, labels, source, run_id, \
    usage_count, created_at, updated_at FROM instructions \
    WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR source = ?2) \
    AND (?3 IS NULL OR run_id = ?3) AND (?4 IS NULL OR scope_connection = ?4) \
    ORDER BY created_at, id";

/// The scope's connection, lowercased, for the indexed `scope_connection` column.
fn scope_connection(scope: &Scope) -> Option<String> {
    scope.connection().map(|c| c.trim().to_lowercase())
}

async fn write_instruction(conn: &mut SqliteConnection, i: &Instruction) -> Result<()> {
    sqlx::query(
        "INSERT INTO instructions (id, text, status, scope, scope_connection, labels, source, \
         run_id, usage_count, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
         ON CONFLICT (id) DO UPDATE SET text = excluded.text, status = excluded.status, \
         scope = excluded.scope, scope_connection = excluded.scope_connection, \
         labels = excluded.labels, source = excluded.source, run_id = excluded.run_id, \
         usage_count = excluded.usage_count, created_at = excluded.created_at, \
         updated_at = excluded.updated_at",
    )
    .bind(uuid_text(i.id))
    .bind(i.text.as_str())
    .bind(i.status.as_str())
    .bind(json_text(&i.scope, "instructions.scope")?)
    .bind(scope_connection(&i.scope))
    .bind(json_text(&i.labels, "instructions.labels")?)
    .bind(i.source.as_str())
    .bind(i.run_id.map(uuid_text))
    .bind(to_i64(i.usage_count, "instructions.usage_count")?)
    .bind(ts_text(&i.created_at))
    .bind(ts_text(&i.updated_at))
    .execute(&mut *conn)
    .await
    .map_err(|e| Error::store(format!("writing instruction {}", i.id), e))?;
    Ok(())
}

const SELECT_RUN_BY_ID: &str = "SELECT id, question, title, status, model, created_at, \
    updated_at, finished_at, iterations, input_tokens, output_tokens, cached_input_tokens, \
    cost_usd, answer, error_kind, error_message FROM runs WHERE id = ?1";

const LIST_RUNS: &str = "SELECT id, question, title, status, model, created_at, updated_at, \
    finished_at, iterations, input_tokens, output_tokens, cached_input_tokens, cost_usd, answer, \
    error_kind, error_message FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?1";

// ---------------------------------------------------------------------------------------------
// Writing

async fn write_step_in(conn: &mut SqliteConnection, step: &StepWrite) -> Result<()> {
    upsert_run(conn, &step.run).await?;
    for d in &step.decisions {
        upsert_decision(conn, d).await?;
    }
    for e in &step.tool_executions {
        upsert_execution(conn, e).await?;
    }
    for q in &step.queries {
        upsert_query(conn, q).await?;
    }
    for v in &step.visualizations {
        upsert_visualization(conn, v).await?;
    }
    upsert_snapshot(conn, &step.snapshot).await?;
    for ev in &step.events {
        insert_event(conn, ev).await?;
    }
    Ok(())
}

async fn upsert_run(conn: &mut SqliteConnection, run: &RunRecord) -> Result<()> {
    let (error_kind, error_message) = match &run.error {
        Some(info) => (Some(info.kind.as_str()), Some(info.message.as_str())),
        None => (None, None),
    };
    sqlx::query(
        "INSERT INTO runs (id, question, title, status, model, created_at, updated_at, \
         finished_at, iterations, input_tokens, output_tokens, cached_input_tokens, cost_usd, \
         answer, error_kind, error_message) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
         ON CONFLICT (id) DO UPDATE SET question = excluded.question, title = excluded.title, \
         status = excluded.status, model = excluded.model, created_at = excluded.created_at, \
         updated_at = excluded.updated_at, finished_at = excluded.finished_at, \
         iterations = excluded.iterations, input_tokens = excluded.input_tokens, \
         output_tokens = excluded.output_tokens, \
         cached_input_tokens = excluded.cached_input_tokens, cost_usd = excluded.cost_usd, \
         answer = excluded.answer, error_kind = excluded.error_kind, \
         error_message = excluded.error_message",
    )
    .bind(uuid_text(run.id))
    .bind(run.question.as_str())
    .bind(run.title.as_deref())
    .bind(run.status.as_str())
    .bind(run.model.as_str())
    .bind(ts_text(&run.created_at))
    .bind(ts_text(&run.updated_at))
    .bind(run.finished_at.as_ref().map(ts_text))
    .bind(i64::from(run.iterations))
    .bind(to_i64(run.usage.input_tokens, "runs.input_tokens")?)
    .bind(to_i64(run.usage.output_tokens, "runs.output_tokens")?)
    .bind(to_i64(
        run.usage.cached_input_tokens,
        "runs.cached_input_tokens",
    )?)
    .bind(run.cost_usd)
    .bind(run.answer.as_deref())
    .bind(error_kind)
    .bind(error_message)
    .execute(&mut *conn)
    .await
    .map_err(|e| Error::store(format!("write_step: writing run {}", run.id), e))?;
    Ok(())
}

async fn upsert_decision(conn: &mut SqliteConnection, d: &DecisionRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO decisions (run_id, iteration, decision, created_at) \
         VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (run_id, iteration) DO UPDATE SET decision = excluded.decision, \
         created_at = excluded.created_at",
    )
    .bind(uuid_text(d.run_id))
    .bind(i64::from(d.iteration))
    .bind(json_text(&d.decision, "decisions.decision")?)
    .bind(ts_text(&d.created_at))
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        Error::store(
            format!(
                "write_step: writing decision {} of run {}",
                d.iteration, d.run_id
            ),
            e,
        )
    })?;
    Ok(())
}

async fn upsert_execution(conn: &mut SqliteConnection, e: &ToolExecutionRecord) -> Result<()> {
    let observation = e
        .observation
        .as_ref()
        .map(|o| json_text(o, "tool_executions.observation"))
        .transpose()?;
    sqlx::query(
        "INSERT INTO tool_executions (id, run_id, iteration, tool, arguments, status, \
         observation, error, attempts, started_at, finished_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
         ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, \
         iteration = excluded.iteration, tool = excluded.tool, arguments = excluded.arguments, \
         status = excluded.status, observation = excluded.observation, error = excluded.error, \
         attempts = excluded.attempts, started_at = excluded.started_at, \
         finished_at = excluded.finished_at",
    )
    .bind(uuid_text(e.id))
    .bind(uuid_text(e.run_id))
    .bind(i64::from(e.iteration))
    .bind(e.tool.as_str())
    .bind(json_text(&e.arguments, "tool_executions.arguments")?)
    .bind(e.status.as_str())
    .bind(observation)
    .bind(e.error.as_deref())
    .bind(i64::from(e.attempts))
    .bind(ts_text(&e.started_at))
    .bind(e.finished_at.as_ref().map(ts_text))
    .execute(&mut *conn)
    .await
    .map_err(|err| Error::store(format!("write_step: writing tool execution {}", e.id), err))?;
    Ok(())
}

async fn upsert_query(conn: &mut SqliteConnection, q: &QueryRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO queries (id, run_id, execution_id, connection, sql, executed_sql, attempt, \
         status, error, row_count, duration_ms, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
         ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, \
         execution_id = excluded.execution_id, connection = excluded.connection, \
         sql = excluded.sql, executed_sql = excluded.executed_sql, attempt = excluded.attempt, \
         status = excluded.status, error = excluded.error, row_count = excluded.row_count, \
         duration_ms = excluded.duration_ms, created_at = excluded.created_at",
    )
    .bind(uuid_text(q.id))
    .bind(uuid_text(q.run_id))
    .bind(q.execution_id.map(uuid_text))
    .bind(q.connection.as_str())
    .bind(q.sql.as_str())
    .bind(q.executed_sql.as_deref())
    .bind(i64::from(q.attempt))
    .bind(q.status.as_str())
    .bind(q.error.as_deref())
    .bind(
        q.row_count
            .map(|n| to_i64(n, "queries.row_count"))
            .transpose()?,
    )
    .bind(
        q.duration_ms
            .map(|n| to_i64(n, "queries.duration_ms"))
            .transpose()?,
    )
    .bind(ts_text(&q.created_at))
    .execute(&mut *conn)
    .await
    .map_err(|e| Error::store(format!("write_step: writing query {}", q.id), e))?;
    Ok(())
}

async fn upsert_visualization(conn: &mut SqliteConnection, v: &VisualizationRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO visualizations (id, run_id, query_id, spec, echarts, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, query_id = excluded.query_id, \
         spec = excluded.spec, echarts = excluded.echarts, created_at = excluded.created_at",
    )
    .bind(uuid_text(v.id))
    .bind(uuid_text(v.run_id))
    .bind(uuid_text(v.query_id))
    .bind(json_text(&v.spec, "visualizations.spec")?)
    .bind(json_text(&v.echarts, "visualizations.echarts")?)
    .bind(ts_text(&v.created_at))
    .execute(&mut *conn)
    .await
    .map_err(|e| Error::store(format!("write_step: writing visualization {}", v.id), e))?;
    Ok(())
}

async fn upsert_snapshot(conn: &mut SqliteConnection, s: &Snapshot) -> Result<()> {
    sqlx::query(
        "INSERT INTO snapshots (run_id, step, status, state, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (run_id, step) DO UPDATE SET status = excluded.status, \
         state = excluded.state, created_at = excluded.created_at",
    )
    .bind(uuid_text(s.run_id))
    .bind(i64::from(s.step))
    .bind(s.status.as_str())
    .bind(json_text(&s.state, "snapshots.state")?)
    .bind(ts_text(&s.created_at))
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        Error::store(
            format!(
                "write_step: writing snapshot {} of run {}",
                s.step, s.run_id
            ),
            e,
        )
    })?;
    // One snapshot per run, the latest: each holds the whole conversation, so keeping one per
    // step would grow a run's storage with the square of its iterations.
    sqlx::query("DELETE FROM snapshots WHERE run_id = ?1 AND step < ?2")
        .bind(uuid_text(s.run_id))
        .bind(i64::from(s.step))
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            Error::store(
                format!("write_step: pruning snapshots of run {}", s.run_id),
                e,
            )
        })?;
    Ok(())
}

async fn insert_event(conn: &mut SqliteConnection, ev: &Event) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (run_id, seq, type, ts, payload) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (run_id, seq) DO NOTHING",
    )
    .bind(uuid_text(ev.run_id))
    .bind(to_i64(ev.seq, "events.seq")?)
    .bind(ev.type_name())
    .bind(ts_text(&ev.ts))
    .bind(json_text(ev, "events.payload")?)
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        Error::store(
            format!("write_step: writing event {} of run {}", ev.seq, ev.run_id),
            e,
        )
    })?;
    Ok(())
}

async fn mark_interrupted_in(conn: &mut SqliteConnection) -> Result<u64> {
    let now = ts_text(&Utc::now());
    let steps: [(&str, &str); 4] = [
        (
            "cancelling running tool executions",
            "UPDATE tool_executions SET status = 'cancelled', finished_at = ?1 \
             WHERE status = 'running' \
             AND run_id IN (SELECT id FROM runs WHERE status = 'running')",
        ),
        (
            "failing running queries",
            "UPDATE queries SET status = 'error', error = 'interrupted' \
             WHERE status = 'running' \
             AND run_id IN (SELECT id FROM runs WHERE status = 'running')",
        ),
        (
            "updating latest snapshots",
            "UPDATE snapshots SET status = 'interrupted' \
             WHERE run_id IN (SELECT id FROM runs WHERE status = 'running') \
             AND step = (SELECT MAX(s.step) FROM snapshots AS s \
                         WHERE s.run_id = snapshots.run_id)",
        ),
        (
            "marking runs interrupted",
            "UPDATE runs SET status = 'interrupted', finished_at = ?1, updated_at = ?1 \
             WHERE status = 'running'",
        ),
    ];
    let mut runs = 0;
    for (what, sql) in steps {
        // `?1` is unused by some statements; SQLite accepts an unreferenced bind.
        let done = sqlx::query(sql)
            .bind(now.as_str())
            .execute(&mut *conn)
            .await
            .map_err(|e| Error::store(format!("mark_interrupted: {what}"), e))?;
        runs = done.rows_affected();
    }
    // The last statement updates the runs themselves.
    Ok(runs)
}

// ---------------------------------------------------------------------------------------------
// Reading

// ---------------------------------------------------------------------------------------------
// Conversions

fn get<T>(row: &SqliteRow, table: &str, column: &str) -> Result<T>
where
    T: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get::<T, _>(column)
        .map_err(|e| Error::store(format!("reading {table}.{column}"), e))
}

fn uuid_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// Fixed-width RFC 3339 UTC with nanoseconds: sorts as text, round-trips exactly.
fn ts_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_ts(s: &str, column: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::store(format!("invalid timestamp {s:?} in {column}"), e))
}

fn parse_uuid(s: &str, column: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| Error::store(format!("invalid uuid {s:?} in {column}"), e))
}

fn json_text<T: Serialize + ?Sized>(value: &T, column: &str) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::store(format!("serialising {column} as JSON"), e))
}

fn parse_json<T: DeserializeOwned>(s: &str, column: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::store(format!("invalid JSON in {column}"), e))
}

/// A SQLite row of `table`: ids, timestamps and JSON are stored as text.
struct SqliteColumns<'r> {
    row: &'r SqliteRow,
    table: &'static str,
}

impl SqliteColumns<'_> {
    fn get<T>(&self, column: &str) -> Result<Option<T>>
    where
        T: for<'a> sqlx::Decode<'a, Sqlite> + sqlx::Type<Sqlite>,
    {
        get::<Option<T>>(self.row, self.table, column)
    }
}

impl rows::Columns for SqliteColumns<'_> {
    fn table(&self) -> &'static str {
        self.table
    }
    fn text(&self, column: &str) -> Result<Option<String>> {
        self.get(column)
    }
    fn int(&self, column: &str) -> Result<Option<i64>> {
        self.get(column)
    }
    fn float(&self, column: &str) -> Result<Option<f64>> {
        self.get(column)
    }
    fn uuid(&self, column: &str) -> Result<Option<Uuid>> {
        self.get::<String>(column)?
            .map(|s| parse_uuid(&s, &format!("{}.{column}", self.table)))
            .transpose()
    }
    fn ts(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        self.get::<String>(column)?
            .map(|s| parse_ts(&s, &format!("{}.{column}", self.table)))
            .transpose()
    }
    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>> {
        self.get::<String>(column)?
            .map(|s| parse_json(&s, &format!("{}.{column}", self.table)))
            .transpose()
    }
}

macro_rules! readers {
    ($($fn_name:ident => $table:literal, $mapping:ident -> $ty:ty;)*) => {$(
        fn $fn_name(row: &SqliteRow) -> Result<$ty> {
            rows::$mapping(&SqliteColumns { row, table: $table })
        }
    )*};
}

readers! {
    read_run => "runs", run -> RunRecord;
    read_decision => "decisions", decision -> DecisionRecord;
    read_execution => "tool_executions", execution -> ToolExecutionRecord;
    read_query => "queries", query -> QueryRecord;
    read_visualization => "visualizations", visualization -> VisualizationRecord;
    read_snapshot => "snapshots", snapshot -> Snapshot;
    read_instruction => "instructions", instruction -> Instruction;
    read_memory => "memories", memory -> Memory;
    read_eval_run => "eval_runs", eval_run -> EvalRunRecord;
}
