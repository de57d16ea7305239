//! [`Dashboard::refresh`]: every block's query at once, each block keeping its own outcome.
//!
//! Runs on an [`Env`] (connections, guard settings, store) that the agent or a tool's context
//! gives, so neither the dashboard model nor this module imports the agent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::connector::{ConnectorRef, QueryData, QueryOptions, collect_stream, find_connection};
use crate::dashboard::{
    Block, BlockContent, BlockQuery, BlockResult, Dashboard, Kpi, MAX_BLOCK_ROWS, Parameter,
    RefreshSummary, invalid,
};
use crate::data::array_to_json;
use crate::error::{Error, ErrorKind, Result};
use crate::guard::{GuardConfig, SqlGuard};
use crate::run::ToolContext;
use crate::store::Store;
use crate::viz;

/// Points drawn at most per chart (as the `create_visualization` tool).
pub(crate) const MAX_POINTS: usize = 2_000;

/// What a refresh runs on: connections, guard settings and the store (for queries named by
/// id). Made from an [`Agent`](crate::Agent) or from a tool's [`ToolContext`].
pub(crate) struct Env<'a> {
    pub connections: &'a [ConnectorRef],
    pub guard: &'a GuardConfig,
    pub store: &'a Arc<dyn Store>,
}

impl<'a> Env<'a> {
    pub(crate) fn of_tool(ctx: &'a ToolContext) -> Self {
        Self {
            connections: ctx.connections(),
            guard: ctx.guard().config(),
            store: ctx.store(),
        }
    }
}

/// A query that ran through the guard: the SQL as run, its data, how long it took and
/// whether the row cap cut it.
pub(crate) struct Guarded {
    pub sql: String,
    pub data: QueryData,
    pub duration: Duration,
    pub truncated: bool,
    pub connection: String,
}

/// Runs `sql` on `connection` (after binding `params` for `block`) through the agent's guard:
/// read-only, one statement, its row cap and time limit.
pub(crate) async fn run_guarded(
    env: &Env<'_>,
    block: Option<&str>,
    connection: Option<&str>,
    sql: &str,
    params: &[Parameter],
) -> Result<Guarded> {
    // A named connection must exist (no fallback to the only one, as the model's tools have):
    // a dashboard saved against `warehouse` must not quietly read another database.
    let named = connection.map(str::trim).filter(|n| !n.is_empty());
    let found = match named {
        Some(n) => env
            .connections
            .iter()
            .find(|c| c.info().name.eq_ignore_ascii_case(n)),
        None => find_connection(env.connections, None).ok(),
    };
    let conn = found.ok_or_else(|| match block {
        Some(b) => Error::Dashboard {
            block: Some(b.to_string()),
            message: format!("connection `{}` does not exist", named.unwrap_or("(any)")),
            kind: ErrorKind::NotFound,
        },
        None => Error::NotFound {
            what: "connection",
            name: named.unwrap_or("(any)").to_string(),
        },
    })?;
    let info = conn.info();
    let bound = match block {
        Some(b) => crate::dashboard::bind_parameters(b, sql, info.dialect, params)?,
        None => sql.to_string(),
    };
    let guarded = SqlGuard::new(env.guard.clone()).check(&bound, info.dialect)?;
    let cap = guarded.row_cap.and_then(|c| usize::try_from(c).ok());
    let opts = QueryOptions::default()
        .with_max_rows(cap)
        .with_timeout(guarded.timeout);
    let started = Instant::now();
    let data = collect_stream(conn.query(&guarded.sql, opts).await?).await?;
    let rows = data.num_rows();
    Ok(Guarded {
        sql: guarded.sql,
        data,
        duration: started.elapsed(),
        truncated: cap.is_some_and(|c| rows >= c),
        connection: info.name,
    })
}

/// The SQL and connection of a block's query, looking a stored query up by id.
async fn resolve(env: &Env<'_>, block: &str, q: &BlockQuery) -> Result<(Option<String>, String)> {
    if let Some(sql) = q.sql.as_deref().filter(|s| !s.trim().is_empty()) {
        return Ok((q.connection.clone(), sql.to_string()));
    }
    let Some(id) = q.query_id else {
        if let Some(title) = &q.result {
            return Err(invalid(
                Some(block),
                format!(
                    "its query names the result {title:?} of a run, which only the \
                     create_dashboard tool resolves; give `sql` or `query_id`"
                ),
            ));
        }
        return Err(invalid(
            Some(block),
            "its query has neither `sql` nor `query_id`",
        ));
    };
    let stored = env
        .store
        .get_query(id)
        .await?
        .ok_or_else(|| Error::Dashboard {
            block: Some(block.to_string()),
            message: format!("query {id} does not exist in the store"),
            kind: ErrorKind::NotFound,
        })?;
    Ok((q.connection.clone().or(Some(stored.connection)), stored.sql))
}

/// Rows of `data` as JSON arrays, at most `max`.
pub(crate) fn json_rows(data: &QueryData, max: usize) -> Vec<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for batch in &data.batches {
        if out.len() >= max {
            break;
        }
        let take = (max - out.len()).min(batch.num_rows());
        let cols: Vec<Vec<serde_json::Value>> = batch
            .columns()
            .iter()
            .map(|c| array_to_json(c.slice(0, take).as_ref()).unwrap_or_default())
            .collect();
        for r in 0..take {
            out.push(
                cols.iter()
                    .map(|c| c.get(r).cloned().unwrap_or(serde_json::Value::Null))
                    .collect(),
            );
        }
    }
    out
}

fn number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The KPI of a result: the last row's value, the previous period, the sparkline.
fn kpi(
    data: &QueryData,
    rows: &[Vec<serde_json::Value>],
    value: Option<&str>,
    previous: Option<&str>,
    unit: Option<&str>,
) -> std::result::Result<Kpi, String> {
    let names: Vec<&str> = data
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let find = |n: &str| names.iter().position(|c| c.eq_ignore_ascii_case(n));
    let vi = match value {
        Some(n) => find(n).ok_or_else(|| format!("the result has no column `{n}`"))?,
        None => data
            .schema
            .fields()
            .iter()
            .rposition(|f| f.data_type().is_numeric())
            .ok_or("the result has no numeric column for the KPI")?,
    };
    let pi = previous
        .map(|n| find(n).ok_or_else(|| format!("the result has no column `{n}`")))
        .transpose()?;
    let sparkline: Vec<Option<f64>> = rows.iter().map(|r| r.get(vi).and_then(number)).collect();
    let last = rows.last();
    let current = last.and_then(|r| r.get(vi)).and_then(number);
    let prev = match pi {
        Some(pi) => last.and_then(|r| r.get(pi)).and_then(number),
        None if rows.len() >= 2 => rows
            .get(rows.len() - 2)
            .and_then(|r| r.get(vi))
            .and_then(number),
        None => None,
    };
    let delta = current.zip(prev).map(|(c, p)| c - p);
    let delta_ratio = delta
        .zip(prev)
        .and_then(|(d, p)| (p != 0.0).then(|| d / p.abs()));
    Ok(Kpi {
        label: names.get(vi).map(|s| (*s).to_string()).unwrap_or_default(),
        value: current,
        previous: prev,
        delta,
        delta_ratio,
        sparkline,
        unit: unit.map(str::to_string),
    })
}

/// Runs one block; `None` for blocks without a query.
async fn refresh_block(env: &Env<'_>, block: &Block, params: &[Parameter]) -> Option<BlockResult> {
    let query = block.content.query()?;
    let started = Instant::now();
    let outcome: Result<BlockResult> = async {
        let (connection, sql) = resolve(env, &block.id, query).await?;
        let g = run_guarded(env, Some(&block.id), connection.as_deref(), &sql, params).await?;
        let rows = json_rows(&g.data, MAX_BLOCK_ROWS);
        let row_count = g.data.num_rows();
        let mut result = BlockResult {
            refreshed_at: Utc::now(),
            duration_ms: u64::try_from(g.duration.as_millis()).unwrap_or(u64::MAX),
            error: None,
            sql: Some(g.sql.clone()),
            columns: g
                .data
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
            truncated: g.truncated || row_count > rows.len(),
            row_count,
            rows,
            echarts: None,
            kpi: None,
        };
        match &block.content {
            BlockContent::Chart { chart, .. } => {
                let mut spec = viz::infer_chart(&g.data.schema, &g.data.batches, Some(chart));
                if spec.title.is_none() {
                    spec.title.clone_from(&block.title);
                }
                let mut option =
                    viz::to_echarts(&spec, &g.data.schema, &g.data.batches, MAX_POINTS);
                // The page shows the block's title above the chart.
                if let Some(o) = option.as_object_mut() {
                    o.remove("title");
                }
                result.echarts = Some(option);
            }
            BlockContent::Kpi {
                value,
                previous,
                unit,
                ..
            } => {
                let k = kpi(
                    &g.data,
                    &result.rows,
                    value.as_deref(),
                    previous.as_deref(),
                    unit.as_deref(),
                )
                .map_err(|m| invalid(Some(&block.id), m))?;
                result.kpi = Some(k);
            }
            _ => {}
        }
        Ok(result)
    }
    .await;
    Some(outcome.unwrap_or_else(|e| BlockResult {
        refreshed_at: Utc::now(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        error: Some(e.to_string()),
        sql: query.sql.clone(),
        columns: Vec::new(),
        rows: Vec::new(),
        row_count: 0,
        truncated: false,
        echarts: None,
        kpi: None,
    }))
}

impl Dashboard {
    /// [`refresh`](Self::refresh) on `env`: the agent's connections, guard and store, or a
    /// tool's.
    pub(crate) async fn refresh_in(&mut self, env: &Env<'_>) -> RefreshSummary {
        let started = Instant::now();
        let params = &self.parameters;
        let results =
            futures::future::join_all(self.blocks.iter().map(|b| refresh_block(env, b, params)))
                .await;
        let mut summary = RefreshSummary {
            refreshed: 0,
            failed: 0,
            duration_ms: 0,
        };
        for (block, result) in self.blocks.iter_mut().zip(results) {
            if let Some(r) = result {
                summary.refreshed += 1;
                if r.error.is_some() {
                    summary.failed += 1;
                }
                block.result = Some(r);
            }
        }
        self.refreshed_at = Some(Utc::now());
        summary.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        summary
    }
}
