//! `inspect_data`: a small exploratory query whose rows the model reads.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Tool, ToolContext, ToolError};
use crate::data;

/// Rows of an exploratory query the model may read.
const INSPECT_ROWS: usize = 30;

/// Runs a small exploratory query (distinct values, ranges, counts) and shows the model its rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct InspectData;

/// Arguments of [`InspectData`].
#[derive(Debug, Deserialize, JsonSchema)]
pub struct InspectDataArgs {
    /// One read-only SELECT, e.g. `SELECT DISTINCT carrier FROM flights`.
    pub sql: String,
    /// Connection name; omit when there is one connection.
    #[serde(default)]
    pub connection: Option<String>,
}

/// Output of [`InspectData`].
#[derive(Debug, Serialize)]
pub struct InspectDataOutput {
    /// Rows returned (before the preview cut).
    pub row_count: usize,
    /// Up to 30 rows.
    pub rows: Vec<serde_json::Value>,
    /// Whether rows were cut.
    pub truncated: bool,
    /// Column names and types, when the values are withheld (else the rows show them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<data::ColumnMeta>>,
    /// Set when the data exposure withholds this result's values from the model (`rows` is
    /// then empty): how to refer to them in the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values_withheld: Option<String>,
}

impl Tool for InspectData {
    const NAME: &'static str = "inspect_data";
    type Args = InspectDataArgs;
    type Output = InspectDataOutput;

    fn description(&self) -> String {
        "Run a small exploratory SQL query (distinct values, min/max, counts) to learn about the \
         data before answering. You see up to 30 rows."
            .into()
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        args: InspectDataArgs,
    ) -> Result<InspectDataOutput, ToolError> {
        let out = ctx
            .run_sql(args.connection.as_deref(), &args.sql, 1, None)
            .await?;
        let row_count = out.data.num_rows();
        if let Some(note) = ctx.withheld_note(out.query_id) {
            return Ok(InspectDataOutput {
                row_count,
                rows: Vec::new(),
                truncated: out.truncated,
                columns: Some(data::columns_meta(&out.data.schema)),
                values_withheld: Some(note),
            });
        }
        let rows = data::batches_to_json_rows(&out.data.batches, INSPECT_ROWS)?;
        Ok(InspectDataOutput {
            row_count,
            truncated: out.truncated || row_count > INSPECT_ROWS,
            rows,
            columns: None,
            values_withheld: None,
        })
    }
}
