//! [`SqlStore`]: the [`Store`] on a SQL database, written once over an [`Engine`]
//! ([`crate::store::SqliteEngine`], [`crate::store::PostgresEngine`]).
//!
//! Every [`StepWrite`] is applied in one transaction: a run interrupted at any point leaves the
//! run row, its snapshot and its child records in agreement. Statements are built in `write`,
//! rows are mapped in `read`, and the engine binds values and reads columns in its own types.

use sqlx::{Pool, QueryBuilder, Transaction};

mod audit;
mod engine;
mod read;
mod write;
// Dashboards and re-run query results (issue 16).
mod dashboard;

pub use engine::{BoxFuture, Engine, Value};
pub use read::Columns;

use engine::{Conn, Row};
use read::{
    DECISION_COLUMNS, EVAL_RUN_COLUMNS, EXECUTION_COLUMNS, INSTRUCTION_COLUMNS, MEMORY_COLUMNS,
    QUERY_COLUMNS, RUN_COLUMNS, SNAPSHOT_COLUMNS, VISUALIZATION_COLUMNS,
};

use super::*;

/// A [`Store`] in a SQL database (via sqlx), on engine `E`.
///
/// Use it through its engines' names: [`crate::store::SqliteStore`] and
/// [`crate::store::PostgresStore`]. Cheap to share behind an `Arc`; all methods take `&self`
/// and use an internal pool.
pub struct SqlStore<E: Engine> {
    pool: Pool<E::Db>,
    engine: E,
}

// By hand: derived impls would ask `E::Db: Clone + Debug`, which no sqlx database is.
impl<E: Engine> Clone for SqlStore<E> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            engine: self.engine.clone(),
        }
    }
}

impl<E: Engine> std::fmt::Debug for SqlStore<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("pool", &self.pool)
            .field("engine", &self.engine)
            .finish()
    }
}

impl<E: Engine> SqlStore<E> {
    /// A store on `pool`, whose schema is up to date.
    pub(crate) fn from_pool(pool: Pool<E::Db>, engine: E) -> Self {
        Self { pool, engine }
    }

    /// The engine's settings.
    pub(crate) fn engine(&self) -> &E {
        &self.engine
    }

    /// Closes the pool, waiting for open connections to finish. Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Begins a write transaction ([`Engine::BEGIN_WRITE`]).
    async fn begin(&self, what: &str) -> Result<Transaction<'static, E::Db>> {
        self.pool
            .begin_with(E::BEGIN_WRITE)
            .await
            .map_err(|e| Error::store(format!("{what}: beginning transaction"), e))
    }

    /// Runs `query` on a pooled connection.
    async fn execute(&self, what: &str, mut query: QueryBuilder<E::Db>) -> Result<u64> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| Error::store(format!("{what}: acquiring a connection"), e))?;
        E::execute(&mut conn, &mut query)
            .await
            .map_err(|e| Error::store(what.to_string(), e))
    }

    /// All rows of `query`, on a pooled connection.
    async fn fetch(&self, what: &str, mut query: QueryBuilder<E::Db>) -> Result<Vec<Row<E>>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| Error::store(format!("reading {what}: acquiring a connection"), e))?;
        E::fetch_all(&mut conn, &mut query)
            .await
            .map_err(|e| Error::store(format!("reading {what}"), e))
    }

    /// The rows of `table` belonging to a run, in `order`.
    async fn run_rows(
        &self,
        table: &str,
        columns: &str,
        run_id: Uuid,
        order: &str,
    ) -> Result<Vec<Row<E>>> {
        let mut q = QueryBuilder::new(format!("SELECT {columns} FROM {table} WHERE run_id = "));
        E::push_value(&mut q, Value::Uuid(Some(run_id)));
        q.push(format!(" ORDER BY {order}"));
        self.fetch(&table.replace('_', " "), q).await
    }

    /// The rows of `table` whose id is `id`.
    async fn by_id(&self, what: &str, table: &str, columns: &str, id: Uuid) -> Result<Vec<Row<E>>> {
        let mut q = QueryBuilder::new(format!("SELECT {columns} FROM {table} WHERE id = "));
        E::push_value(&mut q, Value::Uuid(Some(id)));
        self.fetch(what, q).await
    }

    /// Deletes the row of `table` with `id`; [`Error::NotFound`] (from `missing`) when none.
    async fn delete(
        &self,
        table: &str,
        what: &str,
        id: Uuid,
        missing: fn(Uuid) -> Error,
    ) -> Result<()> {
        let mut q = QueryBuilder::new(format!("DELETE FROM {table} WHERE id = "));
        E::push_value(&mut q, Value::Uuid(Some(id)));
        if self.execute(&format!("deleting {what} {id}"), q).await? == 0 {
            return Err(missing(id));
        }
        Ok(())
    }
}

/// Runs one statement inside a transaction or on a connection.
async fn exec<E: Engine>(
    conn: &mut Conn<E>,
    query: Result<QueryBuilder<E::Db>>,
    what: impl FnOnce() -> String,
) -> Result<u64> {
    let mut query = query?;
    E::execute(conn, &mut query)
        .await
        .map_err(|e| Error::store(what(), e))
}

/// Commits `tx` when `result` is `Ok`, rolls back otherwise.
async fn finish<DB: sqlx::Database, T>(
    tx: Transaction<'static, DB>,
    what: &str,
    result: Result<T>,
) -> Result<T> {
    match result {
        Ok(v) => {
            tx.commit()
                .await
                .map_err(|e| Error::store(format!("{what}: committing"), e))?;
            Ok(v)
        }
        Err(err) => {
            // The operation's error matters more than a failed rollback; the database also
            // rolls back when the connection goes.
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "{what}: rollback failed");
            }
            Err(err)
        }
    }
}

async fn write_step_in<E: Engine>(conn: &mut Conn<E>, step: &StepWrite) -> Result<()> {
    let run = &step.run;
    exec::<E>(conn, write::run::<E>(run), || {
        format!("write_step: writing run {}", run.id)
    })
    .await?;
    for d in &step.decisions {
        exec::<E>(conn, write::decision::<E>(d), || {
            format!(
                "write_step: writing decision {} of run {}",
                d.iteration, d.run_id
            )
        })
        .await?;
    }
    for e in &step.tool_executions {
        exec::<E>(conn, write::execution::<E>(e), || {
            format!("write_step: writing tool execution {}", e.id)
        })
        .await?;
    }
    for q in &step.queries {
        exec::<E>(conn, write::query::<E>(q), || {
            format!("write_step: writing query {}", q.id)
        })
        .await?;
    }
    for v in &step.visualizations {
        exec::<E>(conn, write::visualization::<E>(v), || {
            format!("write_step: writing visualization {}", v.id)
        })
        .await?;
    }
    if let Some(s) = &step.snapshot {
        exec::<E>(conn, write::snapshot::<E>(s), || {
            format!(
                "write_step: writing snapshot {} of run {}",
                s.step, s.run_id
            )
        })
        .await?;
    }
    for ev in &step.events {
        exec::<E>(conn, write::event::<E>(ev), || {
            format!("write_step: writing event {} of run {}", ev.seq, ev.run_id)
        })
        .await?;
    }
    Ok(())
}

async fn mark_interrupted_in<E: Engine>(conn: &mut Conn<E>) -> Result<u64> {
    let mut runs = 0;
    for (what, query) in write::mark_interrupted::<E>(Utc::now()) {
        runs = exec::<E>(conn, Ok(query), || format!("mark_interrupted: {what}")).await?;
    }
    // The last statement updates the runs themselves.
    Ok(runs)
}

/// `… AND column = value` when the filter has a value.
fn and_eq<E: Engine>(q: &mut QueryBuilder<E::Db>, column: &str, value: Value<'_>) {
    q.push(format!(" AND {column} = "));
    E::push_value(q, value);
}

#[async_trait]
impl<E: Engine> Store for SqlStore<E> {
    async fn write_step(&self, step: &StepWrite) -> Result<()> {
        let mut tx = self.begin("write_step").await?;
        let result = write_step_in::<E>(&mut tx, step).await;
        finish(tx, "write_step", result).await
    }

    async fn get_run(&self, id: Uuid) -> Result<Option<RunRecord>> {
        let rows = self.by_id("run", "runs", RUN_COLUMNS, id).await?;
        rows.first()
            .map(|r| read::run(&E::columns(r, "runs")))
            .transpose()
    }

    async fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>> {
        let mut q = QueryBuilder::new(format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at DESC, {} DESC LIMIT ",
            E::INSERTION_ORDER
        ));
        E::push_value(&mut q, Value::Int(Some(i64::from(limit))));
        let rows = self.fetch("runs", q).await?;
        rows.iter()
            .map(|r| read::run(&E::columns(r, "runs")))
            .collect()
    }

    async fn decisions(&self, run_id: Uuid) -> Result<Vec<DecisionRecord>> {
        let rows = self
            .run_rows("decisions", DECISION_COLUMNS, run_id, "iteration")
            .await?;
        rows.iter()
            .map(|r| read::decision(&E::columns(r, "decisions")))
            .collect()
    }

    async fn tool_executions(&self, run_id: Uuid) -> Result<Vec<ToolExecutionRecord>> {
        let order = format!("started_at, {}", E::INSERTION_ORDER);
        let rows = self
            .run_rows("tool_executions", EXECUTION_COLUMNS, run_id, &order)
            .await?;
        rows.iter()
            .map(|r| read::execution(&E::columns(r, "tool_executions")))
            .collect()
    }

    async fn queries(&self, run_id: Uuid) -> Result<Vec<QueryRecord>> {
        let order = format!("created_at, {}", E::INSERTION_ORDER);
        let rows = self
            .run_rows("queries", QUERY_COLUMNS, run_id, &order)
            .await?;
        rows.iter()
            .map(|r| read::query(&E::columns(r, "queries")))
            .collect()
    }

    async fn visualizations(&self, run_id: Uuid) -> Result<Vec<VisualizationRecord>> {
        let order = format!("created_at, {}", E::INSERTION_ORDER);
        let rows = self
            .run_rows("visualizations", VISUALIZATION_COLUMNS, run_id, &order)
            .await?;
        rows.iter()
            .map(|r| read::visualization(&E::columns(r, "visualizations")))
            .collect()
    }

    async fn latest_snapshot(&self, run_id: Uuid) -> Result<Option<Snapshot>> {
        let rows = self
            .run_rows("snapshots", SNAPSHOT_COLUMNS, run_id, "step DESC LIMIT 1")
            .await?;
        rows.first()
            .map(|r| read::snapshot(&E::columns(r, "snapshots")))
            .transpose()
    }

    async fn events(&self, run_id: Uuid) -> Result<Vec<Event>> {
        let rows = self.run_rows("events", "payload", run_id, "seq").await?;
        rows.iter()
            .map(|r| read::event(&E::columns(r, "events")))
            .collect()
    }

    async fn mark_interrupted(&self) -> Result<u64> {
        let mut tx = self.begin("mark_interrupted").await?;
        let result = mark_interrupted_in::<E>(&mut tx).await;
        finish(tx, "mark_interrupted", result).await
    }

    async fn put_instruction(&self, instruction: &Instruction) -> Result<()> {
        instruction.validate()?;
        let what = format!("writing instruction {}", instruction.id);
        self.execute(&what, write::instruction::<E>(instruction)?)
            .await?;
        Ok(())
    }

    async fn get_instruction(&self, id: Uuid) -> Result<Option<Instruction>> {
        let rows = self
            .by_id("instruction", "instructions", INSTRUCTION_COLUMNS, id)
            .await?;
        rows.first()
            .map(|r| read::instruction(&E::columns(r, "instructions")))
            .transpose()
    }

    async fn list_instructions(&self, filter: &InstructionFilter) -> Result<Vec<Instruction>> {
        // The indexed fields narrow the rows in SQL; `matches` then applies the whole filter,
        // so every store lists exactly the same instructions.
        let mut q = QueryBuilder::new(format!(
            "SELECT {INSTRUCTION_COLUMNS} FROM instructions WHERE 1 = 1"
        ));
        if let Some(status) = filter.status {
            and_eq::<E>(&mut q, "status", Value::Text(Some(status.as_str())));
        }
        if let Some(source) = filter.source {
            and_eq::<E>(&mut q, "source", Value::Text(Some(source.as_str())));
        }
        if let Some(run_id) = filter.run_id {
            and_eq::<E>(&mut q, "run_id", Value::Uuid(Some(run_id)));
        }
        let connection = filter
            .connection
            .as_deref()
            .map(|c| c.trim().to_lowercase());
        if let Some(c) = &connection {
            and_eq::<E>(&mut q, "scope_connection", Value::Text(Some(c)));
        }
        q.push(" ORDER BY created_at, id");
        let mut out = Vec::new();
        for row in &self.fetch("instructions", q).await? {
            let i = read::instruction(&E::columns(row, "instructions"))?;
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
        let mut q = QueryBuilder::new("UPDATE instructions SET status = ");
        E::push_value(&mut q, Value::Text(Some(status.as_str())));
        q.push(", updated_at = ");
        E::push_value(&mut q, Value::Ts(Some(crate::instructions::now())));
        q.push(" WHERE id = ");
        E::push_value(&mut q, Value::Uuid(Some(id)));
        q.push(format!(" RETURNING {INSTRUCTION_COLUMNS}"));
        let rows = self
            .fetch(&format!("instruction {id} after setting its status"), q)
            .await?;
        rows.first()
            .map(|r| read::instruction(&E::columns(r, "instructions")))
            .transpose()?
            .ok_or_else(|| instruction_not_found(id))
    }

    async fn update_instruction(
        &self,
        id: Uuid,
        update: &InstructionUpdate,
    ) -> Result<Instruction> {
        // Read (locking the row), change and write in one write transaction, so concurrent
        // updates of different fields do not undo each other.
        let mut tx = self.begin("update_instruction").await?;
        let result = async {
            let mut q = QueryBuilder::new(format!(
                "SELECT {INSTRUCTION_COLUMNS} FROM instructions WHERE id = "
            ));
            E::push_value(&mut q, Value::Uuid(Some(id)));
            q.push(E::LOCK_ROW);
            let rows = E::fetch_all(&mut tx, &mut q)
                .await
                .map_err(|e| Error::store(format!("reading instruction {id}"), e))?;
            let mut i = rows
                .first()
                .map(|r| read::instruction(&E::columns(r, "instructions")))
                .transpose()?
                .ok_or_else(|| instruction_not_found(id))?;
            update.apply(&mut i)?;
            exec::<E>(&mut tx, write::instruction::<E>(&i), || {
                format!("writing instruction {}", i.id)
            })
            .await?;
            Ok(i)
        }
        .await;
        finish(tx, "update_instruction", result).await
    }

    async fn delete_instruction(&self, id: Uuid) -> Result<()> {
        self.delete("instructions", "instruction", id, instruction_not_found)
            .await
    }

    async fn record_instruction_usage(&self, ids: &[Uuid]) -> Result<()> {
        let ids = dedup(ids);
        if ids.is_empty() {
            return Ok(());
        }
        let mut q = QueryBuilder::new(
            "UPDATE instructions SET usage_count = usage_count + 1 WHERE id IN (",
        );
        for (n, id) in ids.iter().enumerate() {
            if n > 0 {
                q.push(", ");
            }
            E::push_value(&mut q, Value::Uuid(Some(*id)));
        }
        q.push(")");
        self.execute("counting instruction uses", q).await?;
        Ok(())
    }

    async fn put_memory(&self, memory: &Memory) -> Result<()> {
        memory.validate()?;
        let what = format!("writing memory {}", memory.id);
        self.execute(&what, write::memory::<E>(memory)?).await?;
        Ok(())
    }

    async fn list_memories(&self, filter: &MemoryFilter) -> Result<Vec<Memory>> {
        let mut q = QueryBuilder::new(format!("SELECT {MEMORY_COLUMNS} FROM memories WHERE 1 = 1"));
        if let Some(source) = filter.source {
            and_eq::<E>(&mut q, "source", Value::Text(Some(source.as_str())));
        }
        if let Some(run_id) = filter.run_id {
            and_eq::<E>(&mut q, "run_id", Value::Uuid(Some(run_id)));
        }
        let connection = filter
            .connection
            .as_deref()
            .map(|c| c.trim().to_lowercase());
        if let Some(c) = &connection {
            and_eq::<E>(&mut q, "scope_connection", Value::Text(Some(c)));
        }
        q.push(" ORDER BY created_at, id");
        let mut out = Vec::new();
        for row in &self.fetch("memories", q).await? {
            let m = read::memory(&E::columns(row, "memories"))?;
            if filter.matches(&m) {
                out.push(m);
            }
        }
        Ok(out)
    }

    async fn delete_memory(&self, id: Uuid) -> Result<()> {
        self.delete("memories", "memory", id, memory_not_found)
            .await
    }

    async fn put_eval_run(&self, run: &EvalRunRecord) -> Result<()> {
        let what = format!("writing eval run {}", run.id);
        self.execute(&what, write::eval_run::<E>(run)?).await?;
        Ok(())
    }

    async fn get_eval_run(&self, id: Uuid) -> Result<Option<EvalRunRecord>> {
        let rows = self
            .by_id("eval_runs", "eval_runs", EVAL_RUN_COLUMNS, id)
            .await?;
        rows.first()
            .map(|r| read::eval_run(&E::columns(r, "eval_runs")))
            .transpose()
    }

    async fn list_eval_runs(&self, suite: Option<&str>, limit: u32) -> Result<Vec<EvalRunRecord>> {
        let mut q = QueryBuilder::new(format!(
            "SELECT {EVAL_RUN_COLUMNS} FROM eval_runs WHERE 1 = 1"
        ));
        if let Some(suite) = suite {
            and_eq::<E>(&mut q, "suite", Value::Text(Some(suite)));
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ");
        E::push_value(&mut q, Value::Int(Some(i64::from(limit))));
        let rows = self.fetch("eval_runs", q).await?;
        rows.iter()
            .map(|r| read::eval_run(&E::columns(r, "eval_runs")))
            .collect()
    }

    // ---- Audit log (`audit.rs`).
    async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        self.append_audit_row(record).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        self.audit_rows(filter).await
    }

    // --- Dashboards and re-run queries (issue 16), in `dashboard.rs`.

    async fn get_query(&self, id: Uuid) -> Result<Option<QueryRecord>> {
        self.sql_get_query(id).await
    }
    async fn put_query_result(&self, result: &QueryResultRecord) -> Result<u32> {
        self.sql_put_query_result(result).await
    }
    async fn query_results(&self, query_id: Uuid) -> Result<Vec<QueryResultRecord>> {
        self.sql_query_results(query_id).await
    }
    async fn put_dashboard(&self, dashboard: &crate::dashboard::Dashboard) -> Result<u32> {
        self.sql_put_dashboard(dashboard).await
    }
    async fn get_dashboard(
        &self,
        id: Uuid,
        version: Option<u32>,
    ) -> Result<Option<crate::dashboard::Dashboard>> {
        self.sql_get_dashboard(id, version).await
    }
    async fn list_dashboards(&self, limit: u32) -> Result<Vec<DashboardSummary>> {
        self.sql_list_dashboards(limit).await
    }
}
