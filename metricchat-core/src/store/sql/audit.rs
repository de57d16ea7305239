//! The audit log on a SQL store: one insert per record, filtered reads, newest first. The
//! table (migration 0006) refuses `UPDATE` and `DELETE` with a trigger: append-only.

use sqlx::QueryBuilder;

use super::read::Columns;
use super::{Engine, SqlStore, Value};
use crate::error::{Error, Result};
use crate::store::{AuditFilter, AuditOutcome, AuditRecord};

const AUDIT_COLUMNS: &str = "id, at, user_id, run_id, query_id, source, connection, sql_text, \
                             policy, row_count, byte_count, duration_ms, outcome, error";

fn int(v: Option<u64>, column: &str) -> Result<Value<'static>> {
    match v {
        None => Ok(Value::Int(None)),
        Some(n) => i64::try_from(n)
            .map(|n| Value::Int(Some(n)))
            .map_err(|_| Error::Store {
                message: format!("audit_log.{column}: {n} is too large"),
                source: None,
            }),
    }
}

fn missing(column: &str) -> Error {
    Error::Store {
        message: format!("unexpected NULL in audit_log.{column}"),
        source: None,
    }
}

fn unsigned(v: Option<i64>, column: &str) -> Result<Option<u64>> {
    v.map(|n| {
        u64::try_from(n).map_err(|_| Error::Store {
            message: format!("audit_log.{column}: negative value {n}"),
            source: None,
        })
    })
    .transpose()
}

fn record(r: &impl Columns) -> Result<AuditRecord> {
    let outcome = r.text("outcome")?.ok_or_else(|| missing("outcome"))?;
    Ok(AuditRecord {
        id: r.uuid("id")?.ok_or_else(|| missing("id"))?,
        at: r.ts("at")?.ok_or_else(|| missing("at"))?,
        user_id: r.text("user_id")?,
        run_id: r.uuid("run_id")?,
        query_id: r.uuid("query_id")?,
        source: r.text("source")?.ok_or_else(|| missing("source"))?,
        connection: r.text("connection")?.ok_or_else(|| missing("connection"))?,
        sql: r.text("sql_text")?.ok_or_else(|| missing("sql_text"))?,
        policy: r.json("policy")?.unwrap_or_default(),
        rows: unsigned(r.int("row_count")?, "row_count")?,
        bytes: unsigned(r.int("byte_count")?, "byte_count")?,
        duration_ms: unsigned(r.int("duration_ms")?, "duration_ms")?.unwrap_or(0),
        outcome: AuditOutcome::parse(&outcome).ok_or_else(|| Error::Store {
            message: format!("audit_log.outcome: unknown value `{outcome}`"),
            source: None,
        })?,
        error: r.text("error")?,
    })
}

impl<E: Engine> SqlStore<E> {
    pub(super) async fn append_audit_row(&self, r: &AuditRecord) -> Result<()> {
        let policy = serde_json::to_string(&r.policy).map_err(|e| Error::Store {
            message: format!("audit_log.policy: {e}"),
            source: None,
        })?;
        let values = vec![
            Value::Uuid(Some(r.id)),
            Value::Ts(Some(r.at)),
            Value::Text(r.user_id.as_deref()),
            Value::Uuid(r.run_id),
            Value::Uuid(r.query_id),
            Value::Text(Some(&r.source)),
            Value::Text(Some(&r.connection)),
            Value::Text(Some(&r.sql)),
            Value::Json(Some(policy)),
            int(r.rows, "row_count")?,
            int(r.bytes, "byte_count")?,
            int(Some(r.duration_ms), "duration_ms")?,
            Value::Text(Some(r.outcome.as_str())),
            Value::Text(r.error.as_deref()),
        ];
        let mut q = QueryBuilder::new(format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ("));
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            E::push_value(&mut q, v);
        }
        q.push(")");
        self.execute(&format!("appending audit record {}", r.id), q)
            .await?;
        Ok(())
    }

    pub(super) async fn audit_rows(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut q = QueryBuilder::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE 1 = 1"));
        if let Some(u) = &f.user_id {
            q.push(" AND user_id = ");
            E::push_value(&mut q, Value::Text(Some(u)));
        }
        if let Some(id) = f.run_id {
            q.push(" AND run_id = ");
            E::push_value(&mut q, Value::Uuid(Some(id)));
        }
        if let Some(c) = &f.connection {
            q.push(" AND connection = ");
            E::push_value(&mut q, Value::Text(Some(c)));
        }
        if let Some(o) = f.outcome {
            q.push(" AND outcome = ");
            E::push_value(&mut q, Value::Text(Some(o.as_str())));
        }
        if let Some(t) = f.since {
            q.push(" AND at >= ");
            E::push_value(&mut q, Value::Ts(Some(t)));
        }
        if let Some(t) = f.until {
            q.push(" AND at < ");
            E::push_value(&mut q, Value::Ts(Some(t)));
        }
        q.push(" ORDER BY at DESC, id DESC LIMIT ");
        E::push_value(&mut q, Value::Int(Some(i64::from(f.effective_limit()))));
        self.fetch("audit log", q)
            .await?
            .iter()
            .map(|row| record(&E::columns(row, "audit_log")))
            .collect()
    }
}
