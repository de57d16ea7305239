//! The agent's side of dashboards: re-running stored queries and building a dashboard from a
//! run (see [`crate::dashboard`]).

use chrono::Utc;
use uuid::Uuid;

use super::Agent;
use crate::dashboard::build::{Source, from_sources};
use crate::dashboard::{Dashboard, RefreshSummary};
use crate::error::{Error, Result};
use crate::run::dashboard::refresh::{Env, MAX_POINTS, run_guarded};
use crate::run::{Chart, Dataset};
use crate::store::{QueryResultRecord, QueryStatus};
use crate::viz;

/// Tools whose queries are the user's results (the others explore).
const RESULT_TOOLS: &[&str] = &["create_data"];

impl Agent {
    /// Re-runs a stored query ([`crate::store::QueryRecord`], by id) on its connection
    /// through the same guard as the agent's own queries (read-only, one statement, row cap,
    /// time limit, table policy), stores the outcome as a new result version
    /// ([`Store::query_results`](crate::store::Store::query_results)), with the query's charts
    /// re-rendered over the new data, and returns the data.
    ///
    /// [`Error::NotFound`] when no such query is stored; a failure of the query itself is
    /// stored as an `error` version and returned.
    pub async fn rerun_query(&self, query_id: Uuid) -> Result<Dataset> {
        let store = self.store();
        let stored = store.get_query(query_id).await?.ok_or(Error::NotFound {
            what: "query",
            name: query_id.to_string(),
        })?;
        let mut record = QueryResultRecord {
            query_id,
            version: 0,
            status: QueryStatus::Error,
            executed_sql: None,
            row_count: None,
            duration_ms: None,
            error: None,
            charts: Vec::new(),
            created_at: Utc::now(),
        };
        let started = std::time::Instant::now();
        match run_guarded(
            &Env::of_agent(self),
            None,
            Some(&stored.connection),
            &stored.sql,
            &[],
        )
        .await
        {
            Err(e) => {
                record.status = match e {
                    Error::SqlRefused { .. } => QueryStatus::Refused,
                    _ => QueryStatus::Error,
                };
                record.error = Some(e.to_string());
                record.duration_ms =
                    Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
                store.put_query_result(&record).await?;
                Err(e)
            }
            Ok(g) => {
                // A chart follows its query: each stored chart of it, drawn over the new data.
                let charts: Vec<Chart> = store
                    .visualizations(stored.run_id)
                    .await?
                    .iter()
                    .filter(|v| v.query_id == query_id)
                    .filter_map(|v| Chart::try_from(v).ok())
                    .map(|c| Chart {
                        echarts: viz::to_echarts(
                            &c.spec,
                            &g.data.schema,
                            &g.data.batches,
                            MAX_POINTS,
                        ),
                        ..c
                    })
                    .collect();
                record.status = QueryStatus::Success;
                record.executed_sql = Some(g.sql.clone());
                record.row_count = Some(g.data.num_rows() as u64);
                record.duration_ms =
                    Some(u64::try_from(g.duration.as_millis()).unwrap_or(u64::MAX));
                record.charts = charts;
                store.put_query_result(&record).await?;
                Ok(Dataset {
                    query_id,
                    title: None,
                    connection: g.connection,
                    sql: g.sql,
                    data: g.data,
                    truncated: g.truncated,
                    duration: g.duration,
                })
            }
        }
    }

    /// A sensible dashboard of a stored run, without a model: its answer as text, a KPI card
    /// for each one-row result, its charts (two per row), and the last result as a table.
    /// Titled after the run; not refreshed and not saved (call
    /// [`Dashboard::refresh`] and [`Store::put_dashboard`](crate::store::Store::put_dashboard)).
    ///
    /// [`Error::NotFound`] for an unknown run; [`Error::InvalidInput`] when the run made no
    /// result to show.
    pub async fn dashboard_from_run(&self, run_id: Uuid) -> Result<Dashboard> {
        let store = self.store();
        let run = store.get_run(run_id).await?.ok_or(Error::NotFound {
            what: "run",
            name: run_id.to_string(),
        })?;
        let executions = store.tool_executions(run_id).await?;
        let charts: Vec<Chart> = store
            .visualizations(run_id)
            .await?
            .iter()
            .filter_map(|v| Chart::try_from(v).ok())
            .collect();
        let mut sources = Vec::new();
        for q in store.queries(run_id).await? {
            if q.status != QueryStatus::Success {
                continue;
            }
            let exec = executions.iter().find(|e| Some(e.id) == q.execution_id);
            let charted = charts.iter().any(|c| c.query_id == q.id);
            let is_result = exec.is_some_and(|e| RESULT_TOOLS.contains(&e.tool.as_str()));
            if !(is_result || charted) {
                continue;
            }
            let title = exec
                .and_then(|e| e.arguments.get("title"))
                .and_then(|t| t.as_str())
                .map(str::to_string);
            // A query re-asked under the same title replaces the earlier one.
            sources.retain(|s: &Source| title.is_none() || s.title != title);
            sources.push(Source {
                query_id: q.id,
                title,
                connection: q.connection.clone(),
                sql: q.sql.clone(),
                row_count: q.row_count,
                chart: charts
                    .iter()
                    .rev()
                    .find(|c| c.query_id == q.id)
                    .map(|c| c.spec.clone()),
            });
        }
        if sources.is_empty() {
            return Err(Error::invalid_input(format!(
                "run {run_id} made no result to put on a dashboard"
            )));
        }
        // A run without a generated title carries the question's first characters as its
        // title; a section heading cut mid-sentence reads as a bug, so take the whole question.
        let title = match &run.title {
            Some(t) if !t.trim().is_empty() && !run.question.starts_with(t.as_str()) => t.clone(),
            _ => run.question.clone(),
        };
        let mut d = from_sources(&title, run.answer.as_deref(), &sources, Some(run_id));
        d.description = Some(format!("From the question: _{}_", run.question));
        Ok(d)
    }

    /// Saves `dashboard` as a new version in the agent's store and sets its `version`.
    pub async fn save_dashboard(&self, dashboard: &mut Dashboard) -> Result<u32> {
        let version = self.store().put_dashboard(dashboard).await?;
        dashboard.version = version;
        Ok(version)
    }
}

impl<'a> Env<'a> {
    /// The agent's connections, guard settings and store.
    pub(crate) fn of_agent(agent: &'a Agent) -> Self {
        Self {
            connections: agent.connections(),
            guard: &agent.config().guard,
            store: agent.store(),
        }
    }
}

impl Dashboard {
    /// Re-runs every block's query concurrently through `agent`'s guard, on the block's
    /// connection, with the dashboard's parameters bound. A block that fails keeps its error
    /// (in [`BlockResult::error`](crate::dashboard::BlockResult::error)) and the others still refresh; each block records when it
    /// was refreshed. Blocks without a query (text, headings) are left as they are.
    pub async fn refresh(&mut self, agent: &Agent) -> RefreshSummary {
        self.refresh_in(&Env::of_agent(agent)).await
    }
}
