//! `create_dashboard`: the model lays out a dashboard over this run's results.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Tool, ToolCategory, ToolContext, ToolError};
use crate::dashboard::{Block, BlockContent, Dashboard};
use crate::run::dashboard::refresh::Env;

/// Builds a dashboard from this run's results (the model proposes blocks and their layout),
/// checks that every block runs, and saves it in the store. Mistakes (unknown fields, a block
/// naming a query that is not a result of this run, a block whose SQL fails) come back to the
/// model as the tool's error, naming the block, so it can fix them.
///
/// Not in [`ToolRegistry::builtin`](super::ToolRegistry::builtin): every tool is described in
/// every prompt (and recorded conversations match on the prompt), so hosts that want the agent
/// to build dashboards add it: `Agent::builder().tool(CreateDashboard)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateDashboard;

/// Arguments of [`CreateDashboard`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDashboardArgs {
    /// Dashboard title.
    pub title: String,
    /// One or two sentences on what it shows.
    #[serde(default)]
    pub description: Option<String>,
    /// Blocks in reading order; the grid is 12 columns wide (`width` 3 = four per row, 6 = two,
    /// 12 = full). Data blocks (`chart`, `table`, `kpi`) name a result of this run in
    /// `content.query`: `{"result": "<its title>"}` or `{"query_id": "…"}`. Omit to lay out
    /// every result of the run automatically.
    #[serde(default)]
    #[schemars(with = "Vec<Block>")]
    pub blocks: Vec<serde_json::Value>,
}

/// Output of [`CreateDashboard`].
#[derive(Debug, Serialize)]
pub struct CreateDashboardOutput {
    /// Dashboard id.
    pub dashboard_id: Uuid,
    /// Stored version.
    pub version: u32,
    /// Blocks, by id, with their row counts.
    pub blocks: Vec<String>,
}

/// Fills each data block's query from the run's dataset it names.
fn resolve_queries(ctx: &ToolContext, d: &mut Dashboard) -> Result<(), ToolError> {
    let datasets = ctx.datasets();
    let ids: Vec<String> = datasets
        .iter()
        .filter(|d| d.title.is_some())
        .map(|d| format!("{} ({})", d.query_id, d.title.as_deref().unwrap_or("")))
        .collect();
    for b in &mut d.blocks {
        let query = match &mut b.content {
            BlockContent::Chart { query, .. }
            | BlockContent::Table { query }
            | BlockContent::Kpi { query, .. } => query,
            _ => continue,
        };
        if query.sql.is_some() {
            continue;
        }
        let found = match (query.query_id, query.result.as_deref()) {
            (Some(id), _) => datasets.iter().find(|d| d.query_id == id),
            (None, Some(title)) => datasets.iter().rev().find(|d| {
                d.title
                    .as_deref()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(title.trim()))
            }),
            (None, None) => continue,
        };
        let Some(ds) = found else {
            let named = query.query_id.map_or_else(
                || format!("result {:?}", query.result),
                |id| format!("query_id {id}"),
            );
            return Err(ToolError::invalid_arguments(format!(
                "block `{}`: {named} is not a result of this run; name one by `result` \
                 (its title) or `query_id`: {}",
                b.id,
                if ids.is_empty() {
                    "(none yet: run create_data first)".to_string()
                } else {
                    ids.join(", ")
                }
            )));
        };
        query.sql = Some(ds.sql.clone());
        query.connection = Some(ds.connection.clone());
        query.query_id = Some(ds.query_id);
        query.result = None;
    }
    Ok(())
}

impl Tool for CreateDashboard {
    const NAME: &'static str = "create_dashboard";
    type Args = CreateDashboardArgs;
    type Output = CreateDashboardOutput;

    fn description(&self) -> String {
        "Save this run's results as a dashboard people can reopen and refresh: blocks of type \
         chart, table, kpi (one number with its change), text (Markdown) or heading, each \
         naming a result by query_id, laid out on a 12-column grid. Omit blocks for an \
         automatic layout."
            .into()
    }

    fn category(&self) -> ToolCategory {
        ToolCategory::Action
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        args: CreateDashboardArgs,
    ) -> Result<CreateDashboardOutput, ToolError> {
        let mut dashboard = if args.blocks.is_empty() {
            let datasets = ctx.datasets();
            if !datasets.iter().any(|d| d.title.is_some()) {
                return Err(ToolError::invalid_arguments(
                    "this run has no result yet: run create_data first",
                ));
            }
            let mut d = Dashboard::from_datasets(&args.title, &datasets, &ctx.charts());
            d.description = args.description;
            d
        } else {
            let value = serde_json::json!({
                "title": args.title,
                "description": args.description,
                "blocks": args.blocks,
            });
            Dashboard::from_value(value).map_err(|e| ToolError::invalid_arguments(e.to_string()))?
        };
        dashboard.run_id = Some(ctx.run_id());
        resolve_queries(ctx, &mut dashboard)?;
        ctx.progress("refreshing the dashboard's blocks");
        dashboard.refresh_in(&Env::of_tool(ctx)).await;
        let failed: Vec<String> = dashboard
            .blocks
            .iter()
            .filter_map(|b| {
                let e = b.result.as_ref()?.error.as_ref()?;
                Some(format!("block `{}`: {e}", b.id))
            })
            .collect();
        if !failed.is_empty() {
            return Err(ToolError::invalid_arguments(format!(
                "some blocks fail; fix them and call create_dashboard again: {}",
                failed.join("; ")
            )));
        }
        let version = ctx.store().put_dashboard(&dashboard).await?;
        Ok(CreateDashboardOutput {
            dashboard_id: dashboard.id,
            version,
            blocks: dashboard
                .blocks
                .iter()
                .map(|b| match &b.result {
                    Some(r) => format!("{} ({}, {} rows)", b.id, b.content.kind(), r.row_count),
                    None => format!("{} ({})", b.id, b.content.kind()),
                })
                .collect(),
        })
    }
}
