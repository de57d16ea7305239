//! [`PostgresStore`]: the persistence store on PostgreSQL via sqlx, in its own schema so it can
//! live inside the user's database.
//!
//! The schema lives in `metricchat-core/migrations-postgres` and is embedded in the binary; it is
//! created (`CREATE SCHEMA IF NOT EXISTS`) and brought up to date every time a store connects.
//! Every connection of the store's pool has `search_path` set to the store's schema, so the
//! migrations' bookkeeping table (`_sqlx_migrations`) lives there too and two stores in two
//! schemas of one database are independent.
//!
//! Types: ids are `UUID`, timestamps `TIMESTAMPTZ` (PostgreSQL keeps microseconds, so
//! sub-microsecond digits are dropped on write), JSON values `JSONB`, statuses the `as_str`
//! forms, counts and token usage `BIGINT`.
//!
//! Every [`StepWrite`] is applied in one transaction, like the SQLite store:
//! a run interrupted at any point leaves the run row, its snapshot and its child records in
//! agreement.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, Row, Transaction};

use serde::de::DeserializeOwned;

use super::rows::{self, to_i64};
use super::*;
use crate::instructions::{Origin, Scope};

/// The columns of `runs` that make a [`RunRecord`].
macro_rules! run_columns {
    () => {
        "id, question, title, status, model, created_at, updated_at, finished_at, iterations, \
         input_tokens, output_tokens, cached_input_tokens, cost_usd, answer, error_kind, \
         error_message"
    };
}

/// The columns of `instructions` that make an [`Instruction`].
macro_rules! instruction_columns {
    () => {
        "id, text, status, scope, labels, source, run_id, usage_count, created_at, updated_at"
    };
}

/// The embedded schema migrations (`metricchat-core/migrations-postgres`).
static MIGRATOR: Migrator = sqlx::migrate!("./migrations-postgres");

/// Configuration of a [`PostgresStore`].
#[derive(Clone, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PostgresStoreConfig {
    /// `postgres://user:password@host:port/database` (libpq URL syntax; `sslmode` and other
    /// parameters are honoured).
    pub url: SecretString,
    /// The schema holding the store's tables (created if missing). Default `metricchat`.
    /// Letters, digits and `_`, not starting with a digit, at most 63 characters.
    pub schema: String,
    /// Connections in the pool. Default 5.
    pub max_connections: u32,
    /// How long to wait for a connection (the first one too) before failing. Default 10 s.
    #[serde(with = "crate::serde_util::duration_ms", rename = "connect_timeout_ms")]
    pub connect_timeout: Duration,
}

impl Default for PostgresStoreConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from(String::new()),
            schema: PostgresStore::DEFAULT_SCHEMA.to_string(),
            max_connections: 5,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for PostgresStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStoreConfig")
            .field("url", &"[redacted]")
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl PostgresStoreConfig {
    /// A configuration for the database at `url`, in the default schema.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            ..Self::default()
        }
    }

    /// Sets the schema.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Sets how long to wait for a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the pool size.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }
}

/// A [`Store`] in a PostgreSQL schema (via sqlx), with embedded migrations.
///
/// ```no_run
/// # async fn demo() -> metricchat_core::Result<()> {
/// use metricchat_core::store::{PostgresStore, PostgresStoreConfig};
///
/// let store = PostgresStore::connect("postgres://app@db.internal/analytics").await?;
/// let other = PostgresStore::connect_with(
///     PostgresStoreConfig::new("postgres://app@db.internal/analytics").schema("mc_staging"),
/// )
/// .await?;
/// # Ok(()) }
/// ```
///
/// Cheap to share behind an `Arc`; all methods take `&self` and use an internal pool.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    schema: String,
}

impl PostgresStore {
    /// The schema used when none is configured.
    pub const DEFAULT_SCHEMA: &'static str = "metricchat";

    /// Connects to the database at `url`, creates the `metricchat` schema if needed and runs
    /// migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(PostgresStoreConfig::new(url)).await
    }

    /// Connects with a full configuration (schema, pool size).
    ///
    /// Fails with [`Error::InvalidInput`] for a malformed URL or schema name and with
    /// [`Error::Store`] when the database cannot be reached or migrated.
    pub async fn connect_with(config: PostgresStoreConfig) -> Result<Self> {
        let schema = checked_schema(&config.schema)?;
        let options: PgConnectOptions = config
            .url
            .expose_secret()
            .parse()
            .map_err(|e| Error::invalid_input(format!("invalid PostgreSQL store URL: {e}")))?;
        let options = options.options([("search_path", schema.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.connect_timeout)
            .connect_with(options)
            .await
            .map_err(|e| Error::store("connecting to the PostgreSQL store", e))?;
        let store = Self { pool, schema };
        store.migrate().await?;
        Ok(store)
    }

    /// The schema holding the store's tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Closes the pool, waiting for open connections to finish. Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(&self) -> Result<()> {
        migrate(self.pool.clone(), self.schema.clone()).await
    }

    async fn begin(&self, what: &str) -> Result<Transaction<'static, Postgres>> {
        self.pool
            .begin()
            .await
            .map_err(|e| Error::store(format!("{what}: beginning transaction"), e))
    }

    async fn fetch_all(
        &self,
        what: &str,
        query: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Vec<PgRow>> {
        query
            .fetch_all(&self.pool)
            .await
            .map_err(|e| Error::store(format!("reading {what}"), e))
    }
}

/// A schema name safe to splice into SQL: an unquoted-style identifier.
fn checked_schema(schema: &str) -> Result<String> {
    let s = schema.trim();
    let mut chars = s.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63;
    if !ok {
        return Err(Error::invalid_input(format!(
            "invalid PostgreSQL store schema name {schema:?}: use letters, digits and _, not \
             starting with a digit, at most 63 characters"
        )));
    }
    Ok(s.to_string())
}

/// Commits `tx` when `result` is `Ok`, rolls back otherwise.
async fn finish<T>(tx: Transaction<'static, Postgres>, what: &str, result: Result<T>) -> Result<T> {
    match result {
        Ok(v) => {
            tx.commit()
                .await
                .map_err(|e| Error::store(format!("{what}: committing"), e))?;
            Ok(v)
        }
        Err(err) => {
            // The operation's error matters more than a failed rollback; the server also rolls
            // back when the connection goes.
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "{what}: rollback failed");
            }
            Err(err)
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn write_step(&self, step: &StepWrite) -> Result<()> {
        let mut tx = self.begin("write_step").await?;
        let result = write_step_in(&mut tx, step).await;
        finish(tx, "write_step", result).await
    }

    async fn get_run(&self, id: Uuid) -> Result<Option<RunRecord>> {
        let rows = self
            .fetch_all(
                "run",
                sqlx::query(concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs WHERE id = $1"
                ))
                .bind(id),
            )
            .await?;
        rows.first().map(read_run).transpose()
    }

    async fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>> {
        let rows = self
            .fetch_all(
                "runs",
                sqlx::query(concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs ORDER BY created_at DESC, ord DESC LIMIT $1"
                ))
                .bind(i64::from(limit)),
            )
            .await?;
        rows.iter().map(read_run).collect()
    }

    async fn decisions(&self, run_id: Uuid) -> Result<Vec<DecisionRecord>> {
        let rows = self
            .fetch_all(
                "decisions",
                sqlx::query(
                    "SELECT run_id, iteration, decision, created_at FROM decisions \
                     WHERE run_id = $1 ORDER BY iteration",
                )
                .bind(run_id),
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
                     WHERE run_id = $1 ORDER BY started_at, ord",
                )
                .bind(run_id),
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
                     WHERE run_id = $1 ORDER BY created_at, ord",
                )
                .bind(run_id),
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
                     WHERE run_id = $1 ORDER BY created_at, ord",
                )
                .bind(run_id),
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
                     WHERE run_id = $1 ORDER BY step DESC LIMIT 1",
                )
                .bind(run_id),
            )
            .await?;
        rows.first().map(read_snapshot).transpose()
    }

    async fn events(&self, run_id: Uuid) -> Result<Vec<Event>> {
        let rows = self
            .fetch_all(
                "events",
                sqlx::query("SELECT payload FROM events WHERE run_id = $1 ORDER BY seq")
                    .bind(run_id),
            )
            .await?;
        rows.iter()
            .map(|row| Ok(get::<Json<Event>>(row, "events", "payload")?.0))
            .collect()
    }

    async fn mark_interrupted(&self) -> Result<u64> {
        let mut tx = self.begin("mark_interrupted").await?;
        let result = mark_interrupted_in(&mut tx).await;
        finish(tx, "mark_interrupted", result).await
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
                sqlx::query(concat!(
                    "SELECT ",
                    instruction_columns!(),
                    " FROM instructions WHERE id = $1"
                ))
                .bind(id),
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
                sqlx::query(concat!(
                    "SELECT ",
                    instruction_columns!(),
                    " FROM instructions \
                     WHERE ($1::text IS NULL OR status = $1) \
                     AND ($2::text IS NULL OR source = $2) \
                     AND ($3::uuid IS NULL OR run_id = $3) \
                     AND ($4::text IS NULL OR scope_connection = $4) \
                     ORDER BY created_at, id"
                ))
                .bind(filter.status.map(InstructionStatus::as_str))
                .bind(filter.source.map(Origin::as_str))
                .bind(filter.run_id)
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
        let rows = self
            .fetch_all(
                "instruction",
                sqlx::query(concat!(
                    "UPDATE instructions SET status = $2, updated_at = $3 WHERE id = $1 \
                     RETURNING ",
                    instruction_columns!()
                ))
                .bind(id)
                .bind(status.as_str())
                .bind(crate::instructions::now()),
            )
            .await?;
        rows.first()
            .map(read_instruction)
            .transpose()?
            .ok_or_else(|| instruction_not_found(id))
    }

    async fn update_instruction(
        &self,
        id: Uuid,
        update: &InstructionUpdate,
    ) -> Result<Instruction> {
        // Read (locking the row), change and write in one transaction, so concurrent updates
        // of different fields do not undo each other.
        let mut tx = self.begin("update_instruction").await?;
        let result = async {
            let row = sqlx::query(concat!(
                "SELECT ",
                instruction_columns!(),
                " FROM instructions WHERE id = $1 FOR UPDATE"
            ))
            .bind(id)
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
        finish(tx, "update_instruction", result).await
    }

    async fn delete_instruction(&self, id: Uuid) -> Result<()> {
        let done = sqlx::query("DELETE FROM instructions WHERE id = $1")
            .bind(id)
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
        sqlx::query("UPDATE instructions SET usage_count = usage_count + 1 WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await
            .map_err(|e| Error::store("counting instruction uses", e))?;
        Ok(())
    }

    async fn put_memory(&self, memory: &Memory) -> Result<()> {
        memory.validate()?;
        sqlx::query(
            "INSERT INTO memories (id, text, scope, scope_connection, labels, source, run_id, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET text = excluded.text, scope = excluded.scope, \
             scope_connection = excluded.scope_connection, labels = excluded.labels, \
             source = excluded.source, run_id = excluded.run_id, \
             created_at = excluded.created_at",
        )
        .bind(memory.id)
        .bind(memory.text.as_str())
        .bind(Json(&memory.scope))
        .bind(scope_connection(&memory.scope))
        .bind(Json(&memory.labels))
        .bind(memory.source.as_str())
        .bind(memory.run_id)
        .bind(memory.created_at)
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
                     WHERE ($1::text IS NULL OR source = $1) \
                     AND ($2::uuid IS NULL OR run_id = $2) \
                     AND ($3::text IS NULL OR scope_connection = $3) \
                     ORDER BY created_at, id",
                )
                .bind(filter.source.map(Origin::as_str))
                .bind(filter.run_id)
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
        let done = sqlx::query("DELETE FROM memories WHERE id = $1")
            .bind(id)
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET \
             suite = excluded.suite, mode = excluded.mode, label = excluded.label, \
             passed = excluded.passed, total = excluded.total, \
             created_at = excluded.created_at, report = excluded.report",
        )
        .bind(run.id)
        .bind(run.suite.as_str())
        .bind(run.mode.as_str())
        .bind(run.label.as_deref())
        .bind(to_i64(run.passed as u64, "eval_runs.passed")?)
        .bind(to_i64(run.total as u64, "eval_runs.total")?)
        .bind(run.created_at)
        .bind(Json(&run.report))
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
                     FROM eval_runs WHERE id = $1",
                )
                .bind(id),
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
                     FROM eval_runs WHERE ($1::text IS NULL OR suite = $1) \
                     ORDER BY created_at DESC, id DESC LIMIT $2",
                )
                .bind(suite)
                .bind(i64::from(limit)),
            )
            .await?;
        rows.iter().map(read_eval_run).collect()
    }
}

/// The scope's connection, lowercased, for the indexed `scope_connection` column.
fn scope_connection(scope: &Scope) -> Option<String> {
    scope.connection().map(|c| c.trim().to_lowercase())
}

// ---------------------------------------------------------------------------------------------
// Writing

async fn write_step_in(conn: &mut PgConnection, step: &StepWrite) -> Result<()> {
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

async fn upsert_run(conn: &mut PgConnection, run: &RunRecord) -> Result<()> {
    let (error_kind, error_message) = match &run.error {
        Some(info) => (Some(info.kind.as_str()), Some(info.message.as_str())),
        None => (None, None),
    };
    sqlx::query(
        "INSERT INTO runs (id, question, title, status, model, created_at, updated_at, \
         finished_at, iterations, input_tokens, output_tokens, cached_input_tokens, cost_usd, \
         answer, error_kind, error_message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (id) DO UPDATE SET question = excluded.question, title = excluded.title, \
         status = excluded.status, model = excluded.model, created_at = excluded.created_at, \
         updated_at = excluded.updated_at, finished_at = excluded.finished_at, \
         iterations = excluded.iterations, input_tokens = excluded.input_tokens, \
         output_tokens = excluded.output_tokens, \
         cached_input_tokens = excluded.cached_input_tokens, cost_usd = excluded.cost_usd, \
         answer = excluded.answer, error_kind = excluded.error_kind, \
         error_message = excluded.error_message",
    )
    .bind(run.id)
    .bind(run.question.as_str())
    .bind(run.title.as_deref())
    .bind(run.status.as_str())
    .bind(run.model.as_str())
    .bind(run.created_at)
    .bind(run.updated_at)
    .bind(run.finished_at)
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

async fn upsert_decision(conn: &mut PgConnection, d: &DecisionRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO decisions (run_id, iteration, decision, created_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (run_id, iteration) DO UPDATE SET decision = excluded.decision, \
         created_at = excluded.created_at",
    )
    .bind(d.run_id)
    .bind(i64::from(d.iteration))
    .bind(Json(&d.decision))
    .bind(d.created_at)
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

async fn upsert_execution(conn: &mut PgConnection, e: &ToolExecutionRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO tool_executions (id, run_id, iteration, tool, arguments, status, \
         observation, error, attempts, started_at, finished_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, \
         iteration = excluded.iteration, tool = excluded.tool, arguments = excluded.arguments, \
         status = excluded.status, observation = excluded.observation, error = excluded.error, \
         attempts = excluded.attempts, started_at = excluded.started_at, \
         finished_at = excluded.finished_at",
    )
    .bind(e.id)
    .bind(e.run_id)
    .bind(i64::from(e.iteration))
    .bind(e.tool.as_str())
    .bind(Json(&e.arguments))
    .bind(e.status.as_str())
    .bind(e.observation.as_ref().map(Json))
    .bind(e.error.as_deref())
    .bind(i64::from(e.attempts))
    .bind(e.started_at)
    .bind(e.finished_at)
    .execute(&mut *conn)
    .await
    .map_err(|err| Error::store(format!("write_step: writing tool execution {}", e.id), err))?;
    Ok(())
}

async fn upsert_query(conn: &mut PgConnection, q: &QueryRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO queries (id, run_id, execution_id, connection, sql, executed_sql, attempt, \
         status, error, row_count, duration_ms, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, \
         execution_id = excluded.execution_id, connection = excluded.connection, \
         sql = excluded.sql, executed_sql = excluded.executed_sql, attempt = excluded.attempt, \
         status = excluded.status, error = excluded.error, row_count = excluded.row_count, \
         duration_ms = excluded.duration_ms, created_at = excluded.created_at",
    )
    .bind(q.id)
    .bind(q.run_id)
    .bind(q.execution_id)
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
    .bind(q.created_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| Error::store(format!("write_step: writing query {}", q.id), e))?;
    Ok(())
}

async fn upsert_visualization(conn: &mut PgConnection, v: &VisualizationRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO visualizations (id, run_id, query_id, spec, echarts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, query_id = excluded.query_id, \
         spec = excluded.spec, echarts = excluded.echarts, created_at = excluded.created_at",
    )
    .bind(v.id)
    .bind(v.run_id)
    .bind(v.query_id)
    .bind(Json(&v.spec))
    .bind(Json(&v.echarts))
    .bind(v.created_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| Error::store(format!("write_step: writing visualization {}", v.id), e))?;
    Ok(())
}

async fn upsert_snapshot(conn: &mut PgConnection, s: &Snapshot) -> Result<()> {
    sqlx::query(
        "INSERT INTO snapshots (run_id, step, status, state, created_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (run_id, step) DO UPDATE SET status = excluded.status, \
         state = excluded.state, created_at = excluded.created_at",
    )
    .bind(s.run_id)
    .bind(i64::from(s.step))
    .bind(s.status.as_str())
    .bind(Json(&s.state))
    .bind(s.created_at)
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
    sqlx::query("DELETE FROM snapshots WHERE run_id = $1 AND step < $2")
        .bind(s.run_id)
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

async fn insert_event(conn: &mut PgConnection, ev: &Event) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (run_id, seq, type, ts, payload) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (run_id, seq) DO NOTHING",
    )
    .bind(ev.run_id)
    .bind(to_i64(ev.seq, "events.seq")?)
    .bind(ev.type_name())
    .bind(ev.ts)
    .bind(Json(ev))
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

async fn mark_interrupted_in(conn: &mut PgConnection) -> Result<u64> {
    let now = Utc::now();
    let steps: [(&str, &str); 4] = [
        (
            "cancelling running tool executions",
            "UPDATE tool_executions SET status = 'cancelled', finished_at = $1 \
             WHERE status = 'running' \
             AND run_id IN (SELECT id FROM runs WHERE status = 'running')",
        ),
        (
            "failing running queries",
            "UPDATE queries SET status = 'error', error = 'interrupted' \
             WHERE status = 'running' \
             AND run_id IN (SELECT id FROM runs WHERE status = 'running') \
             AND $1::timestamptz IS NOT NULL",
        ),
        (
            "updating latest snapshots",
            "UPDATE snapshots SET status = 'interrupted' \
             WHERE run_id IN (SELECT id FROM runs WHERE status = 'running') \
             AND step = (SELECT MAX(s.step) FROM snapshots AS s \
                         WHERE s.run_id = snapshots.run_id) \
             AND $1::timestamptz IS NOT NULL",
        ),
        (
            "marking runs interrupted",
            "UPDATE runs SET status = 'interrupted', finished_at = $1, updated_at = $1 \
             WHERE status = 'running'",
        ),
    ];
    let mut runs = 0;
    for (what, sql) in steps {
        // PostgreSQL refuses a bind no statement uses, hence the `$1 IS NOT NULL` no-ops.
        let done = sqlx::query(sql)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(|e| Error::store(format!("mark_interrupted: {what}"), e))?;
        runs = done.rows_affected();
    }
    // The last statement updates the runs themselves.
    Ok(runs)
}

async fn write_instruction(conn: &mut PgConnection, i: &Instruction) -> Result<()> {
    sqlx::query(
        "INSERT INTO instructions (id, text, status, scope, scope_connection, labels, source, \
         run_id, usage_count, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (id) DO UPDATE SET text = excluded.text, status = excluded.status, \
         scope = excluded.scope, scope_connection = excluded.scope_connection, \
         labels = excluded.labels, source = excluded.source, run_id = excluded.run_id, \
         usage_count = excluded.usage_count, created_at = excluded.created_at, \
         updated_at = excluded.updated_at",
    )
    .bind(i.id)
    .bind(i.text.as_str())
    .bind(i.status.as_str())
    .bind(Json(&i.scope))
    .bind(scope_connection(&i.scope))
    .bind(Json(&i.labels))
    .bind(i.source.as_str())
    .bind(i.run_id)
    .bind(to_i64(i.usage_count, "instructions.usage_count")?)
    .bind(i.created_at)
    .bind(i.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| Error::store(format!("writing instruction {}", i.id), e))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading

// ---------------------------------------------------------------------------------------------
// Conversions

fn get<T>(row: &PgRow, table: &str, column: &str) -> Result<T>
where
    T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get::<T, _>(column)
        .map_err(|e| Error::store(format!("reading {table}.{column}"), e))
}

/// A PostgreSQL row of `table`: native uuid, timestamptz and jsonb columns.
struct PgColumns<'r> {
    row: &'r PgRow,
    table: &'static str,
}

impl PgColumns<'_> {
    fn get<T>(&self, column: &str) -> Result<Option<T>>
    where
        T: for<'a> sqlx::Decode<'a, Postgres> + sqlx::Type<Postgres>,
    {
        get::<Option<T>>(self.row, self.table, column)
    }
}

impl rows::Columns for PgColumns<'_> {
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
        self.get(column)
    }
    fn ts(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        self.get(column)
    }
    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>> {
        // Through `Value`: decoding `Json<T>` directly would need `T: 'static`.
        self.get::<Json<serde_json::Value>>(column)?
            .map(|j| {
                serde_json::from_value(j.0).map_err(|e| {
                    Error::store(format!("invalid JSON in {}.{column}", self.table), e)
                })
            })
            .transpose()
    }
}

macro_rules! readers {
    ($($fn_name:ident => $table:literal, $mapping:ident -> $ty:ty;)*) => {$(
        fn $fn_name(row: &PgRow) -> Result<$ty> {
            rows::$mapping(&PgColumns { row, table: $table })
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

/// Creates the schema and runs the embedded migrations. Takes the pool by value (as the SQLite
/// store does): `Migrator::run` on a borrowed connection makes the caller's future fail rustc's
/// `Send` check (the "implementation of `Acquire` is not general enough" error).
async fn migrate(pool: PgPool, schema: String) -> Result<()> {
    // The name was checked by `checked_schema`: letters, digits and `_` only.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
    )))
    .execute(&pool)
    .await
    .map_err(|e| Error::store(format!("creating schema {schema}"), e))?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|e| Error::store("running PostgreSQL store migrations", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn schema_names_are_checked_before_reaching_sql() {
        for ok in ["metricchat", "_mc", "mc_test_01"] {
            assert_eq!(checked_schema(ok).ok().as_deref(), Some(ok));
        }
        for bad in ["", "1mc", "mc-test", "mc\"; DROP", "a.b", &"x".repeat(64)] {
            let err = checked_schema(bad).err().map(|e| e.kind());
            assert_eq!(err, Some(ErrorKind::InvalidInput), "{bad:?}");
        }
    }

    #[test]
    fn config_debug_hides_the_url() {
        let c = PostgresStoreConfig::new("postgres://u:hunter2@h/db").schema("s");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("\"s\""), "{shown}");
    }
}
