//! `create_visualization`: a chart spec for a result, rendered to an ECharts option.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Tool, ToolCategory, ToolContext, ToolError};
use crate::viz::{self, ChartHint, ChartSpec};

/// Points drawn at most per chart.
pub(crate) const MAX_POINTS: usize = 2_000;

/// Charts a result of this run (the latest by default).
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateVisualization;

/// Arguments of [`CreateVisualization`].
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateVisualizationArgs {
    /// The `query_id` of a `create_data` result; omit for the latest.
    #[serde(default)]
    pub query_id: Option<String>,
    /// Chart type, columns and title; anything omitted is inferred from the data.
    #[serde(default, flatten)]
    pub chart: ChartHint,
}

/// Output of [`CreateVisualization`].
#[derive(Debug, Serialize)]
pub struct CreateVisualizationOutput {
    /// Visualization id.
    pub visualization_id: Uuid,
    /// The chart spec chosen.
    pub spec: ChartSpec,
}

/// Infers, renders and records a chart for `query_id`'s data.
pub(crate) fn chart_for(
    ctx: &ToolContext,
    query_id: Option<Uuid>,
    hint: Option<&ChartHint>,
) -> Result<(Uuid, Uuid, ChartSpec), ToolError> {
    let Some((qid, title, data)) = ctx.query_data(query_id) else {
        return Err(ToolError::failed(
            "no result to chart yet: run create_data first, then pass its query_id",
        ));
    };
    let mut spec = viz::infer_chart(&data.schema, &data.batches, hint);
    if spec.title.is_none() {
        spec.title = title;
    }
    let echarts = viz::to_echarts(&spec, &data.schema, &data.batches, MAX_POINTS);
    let viz_id = ctx.add_visualization(qid, spec.clone(), echarts)?;
    Ok((qid, viz_id, spec))
}

impl Tool for CreateVisualization {
    const NAME: &'static str = "create_visualization";
    type Args = CreateVisualizationArgs;
    type Output = CreateVisualizationOutput;

    fn description(&self) -> String {
        "Propose a chart for a result: bar, grouped_bar, stacked_bar, line, area, stacked_area, \
         pie, scatter, table, metric, heatmap or histogram. Omitted fields are inferred."
            .into()
    }

    fn category(&self) -> ToolCategory {
        ToolCategory::Action
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        args: CreateVisualizationArgs,
    ) -> Result<CreateVisualizationOutput, ToolError> {
        let query_id = match args.query_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(Uuid::parse_str(s).map_err(|_| {
                ToolError::invalid_arguments(format!(
                    "`query_id` {s:?} is not a query id of this run"
                ))
            })?),
        };
        let (_, visualization_id, spec) = chart_for(ctx, query_id, Some(&args.chart))?;
        Ok(CreateVisualizationOutput {
            visualization_id,
            spec,
        })
    }
}
