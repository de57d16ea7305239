//! Dashboards and re-run query results in a [`SqlStore`] (tables of migration 0005).
//!
//! A dashboard is kept whole as JSON, one row per version; a new version is numbered in the
//! same statement that writes it (`MAX(version) + 1`), so two saves never share a number (the
//! second of a race fails on the primary key rather than overwriting).

use sqlx::QueryBuilder;
use uuid::Uuid;

use super::engine::{Engine, Value};
use super::read::{Columns, QUERY_COLUMNS, to_i64};
use super::write::json;
use super::{SqlStore, read};
use crate::dashboard::Dashboard;
use crate::error::{Error, Result};
use crate::store::{DashboardSummary, QueryRecord, QueryResultRecord, QueryStatus};

const RESULT_COLUMNS: &str =
    "query_id, version, status, executed_sql, row_count, duration_ms, error, charts, created_at";

fn null(table: &str, column: &str) -> Error {
    Error::Store {
        message: format!("unexpected NULL in {table}.{column}"),
        source: None,
    }
}

fn req<T>(v: Option<T>, table: &str, column: &str) -> Result<T> {
    v.ok_or_else(|| null(table, column))
}

fn version(r: &impl Columns, table: &str) -> Result<u32> {
    let n = req(r.int("version")?, table, "version")?;
    u32::try_from(n).map_err(|e| Error::store(format!("{table}.version {n} is not a u32"), e))
}

fn opt_u64(r: &impl Columns, column: &str) -> Result<Option<u64>> {
    r.int(column)?
        .map(|n| {
            u64::try_from(n).map_err(|e| Error::store(format!("negative {column} value {n}"), e))
        })
        .transpose()
}

fn result_record(r: &impl Columns) -> Result<QueryResultRecord> {
    let t = "query_results";
    let status = req(r.text("status")?, t, "status")?;
    Ok(QueryResultRecord {
        query_id: req(r.uuid("query_id")?, t, "query_id")?,
        version: version(r, t)?,
        status: QueryStatus::parse(&status).ok_or_else(|| Error::Store {
            message: format!("unknown value {status:?} in {t}.status"),
            source: None,
        })?,
        executed_sql: r.text("executed_sql")?,
        row_count: opt_u64(r, "row_count")?,
        duration_ms: opt_u64(r, "duration_ms")?,
        error: r.text("error")?,
        charts: req(r.json("charts")?, t, "charts")?,
        created_at: req(r.ts("created_at")?, t, "created_at")?,
    })
}

fn dashboard(r: &impl Columns) -> Result<Dashboard> {
    let t = "dashboards";
    let mut d: Dashboard = req(r.json("body")?, t, "body")?;
    d.version = version(r, t)?;
    Ok(d)
}

impl<E: Engine> SqlStore<E> {
    pub(super) async fn sql_get_query(&self, id: Uuid) -> Result<Option<QueryRecord>> {
        let rows = self.by_id("query", "queries", QUERY_COLUMNS, id).await?;
        rows.first()
            .map(|r| read::query(&E::columns(r, "queries")))
            .transpose()
    }

    pub(super) async fn sql_put_query_result(&self, r: &QueryResultRecord) -> Result<u32> {
        if self.sql_get_query(r.query_id).await?.is_none() {
            return Err(crate::store::dashboard::query_not_found(r.query_id));
        }
        let mut q = QueryBuilder::new(format!(
            "INSERT INTO query_results ({RESULT_COLUMNS}) SELECT "
        ));
        E::push_value(&mut q, Value::Uuid(Some(r.query_id)));
        q.push(", COALESCE(MAX(version), 0) + 1, ");
        E::push_value(&mut q, Value::Text(Some(r.status.as_str())));
        q.push(", ");
        E::push_value(&mut q, Value::Text(r.executed_sql.as_deref()));
        q.push(", ");
        E::push_value(
            &mut q,
            Value::Int(r.row_count.map(|n| to_i64(n, "row_count")).transpose()?),
        );
        q.push(", ");
        E::push_value(
            &mut q,
            Value::Int(
                r.duration_ms
                    .map(|n| to_i64(n, "duration_ms"))
                    .transpose()?,
            ),
        );
        q.push(", ");
        E::push_value(&mut q, Value::Text(r.error.as_deref()));
        q.push(", ");
        E::push_value(&mut q, json(&r.charts, "query_results.charts")?);
        q.push(", ");
        E::push_value(&mut q, Value::Ts(Some(r.created_at)));
        q.push(" FROM query_results WHERE query_id = ");
        E::push_value(&mut q, Value::Uuid(Some(r.query_id)));
        q.push(" RETURNING version");
        let rows = self
            .fetch(&format!("writing a result of query {}", r.query_id), q)
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| Error::Internal("INSERT … RETURNING gave no row".into()))?;
        version(&E::columns(row, "query_results"), "query_results")
    }

    pub(super) async fn sql_query_results(&self, query_id: Uuid) -> Result<Vec<QueryResultRecord>> {
        let mut q = QueryBuilder::new(format!(
            "SELECT {RESULT_COLUMNS} FROM query_results WHERE query_id = "
        ));
        E::push_value(&mut q, Value::Uuid(Some(query_id)));
        q.push(" ORDER BY version");
        let rows = self.fetch("query results", q).await?;
        rows.iter()
            .map(|r| result_record(&E::columns(r, "query_results")))
            .collect()
    }

    pub(super) async fn sql_put_dashboard(&self, d: &Dashboard) -> Result<u32> {
        d.validate()?;
        let mut q = QueryBuilder::new(
            "INSERT INTO dashboards (id, version, title, body, created_at) SELECT ",
        );
        E::push_value(&mut q, Value::Uuid(Some(d.id)));
        q.push(", COALESCE(MAX(version), 0) + 1, ");
        E::push_value(&mut q, Value::Text(Some(&d.title)));
        q.push(", ");
        E::push_value(&mut q, json(d, "dashboards.body")?);
        q.push(", ");
        E::push_value(&mut q, Value::Ts(Some(chrono::Utc::now())));
        q.push(" FROM dashboards WHERE id = ");
        E::push_value(&mut q, Value::Uuid(Some(d.id)));
        q.push(" RETURNING version");
        let rows = self
            .fetch(&format!("writing dashboard {}", d.id), q)
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| Error::Internal("INSERT … RETURNING gave no row".into()))?;
        version(&E::columns(row, "dashboards"), "dashboards")
    }

    pub(super) async fn sql_get_dashboard(
        &self,
        id: Uuid,
        v: Option<u32>,
    ) -> Result<Option<Dashboard>> {
        let mut q = QueryBuilder::new("SELECT version, body FROM dashboards WHERE id = ");
        E::push_value(&mut q, Value::Uuid(Some(id)));
        if let Some(v) = v {
            q.push(" AND version = ");
            E::push_value(&mut q, Value::Int(Some(i64::from(v))));
        }
        q.push(" ORDER BY version DESC LIMIT 1");
        let rows = self.fetch("dashboards", q).await?;
        rows.first()
            .map(|r| dashboard(&E::columns(r, "dashboards")))
            .transpose()
    }

    pub(super) async fn sql_list_dashboards(&self, limit: u32) -> Result<Vec<DashboardSummary>> {
        let mut q = QueryBuilder::new(
            "SELECT d.id, d.version, d.title, d.created_at FROM dashboards d \
             WHERE d.version = (SELECT MAX(m.version) FROM dashboards m WHERE m.id = d.id) \
             ORDER BY d.created_at DESC, d.id DESC LIMIT ",
        );
        E::push_value(&mut q, Value::Int(Some(i64::from(limit))));
        let rows = self.fetch("dashboards", q).await?;
        rows.iter()
            .map(|r| {
                let c = E::columns(r, "dashboards");
                Ok(DashboardSummary {
                    id: req(c.uuid("id")?, "dashboards", "id")?,
                    version: version(&c, "dashboards")?,
                    title: req(c.text("title")?, "dashboards", "title")?,
                    updated_at: req(c.ts("created_at")?, "dashboards", "created_at")?,
                })
            })
            .collect()
    }
}
