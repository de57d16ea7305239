//! `describe_tables`: columns, types, comments, keys and sample values of named tables.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Tool, ToolContext, ToolError};
use crate::context::TableDescription;

/// Describes tables in full: columns, types, comments, keys, row estimate and sample values.
#[derive(Debug, Clone, Copy, Default)]
pub struct DescribeTables;

/// Arguments of [`DescribeTables`].
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DescribeTablesArgs {
    /// Table names (`name` or `schema.name`).
    pub tables: Vec<String>,
    /// Connection name; omit when there is one connection.
    #[serde(default)]
    pub connection: Option<String>,
}

/// Output of [`DescribeTables`].
#[derive(Debug, Serialize)]
pub struct DescribeTablesOutput {
    /// The tables found.
    pub tables: Vec<TableDescription>,
    /// Names that matched no table, with the available names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_found: Option<String>,
}

impl Tool for DescribeTables {
    const NAME: &'static str = "describe_tables";
    type Args = DescribeTablesArgs;
    type Output = DescribeTablesOutput;

    fn description(&self) -> String {
        "Show the columns (with types and sample values), keys and size of tables before writing \
         SQL against them."
            .into()
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        args: DescribeTablesArgs,
    ) -> Result<DescribeTablesOutput, ToolError> {
        if args.tables.is_empty() {
            return Err(ToolError::invalid_arguments(
                "`tables` must name at least one table",
            ));
        }
        let conn = ctx.connection(args.connection.as_deref())?.clone();
        let (tables, missing) = ctx
            .hub()
            .describe_view(
                &conn,
                &args.tables,
                ctx.policy(),
                ctx.exposure().shows_samples(),
            )
            .await?;
        let not_found = if missing.is_empty() {
            None
        } else {
            let available = ctx.hub().table_names_for(&conn.info().name, ctx.policy());
            Some(format!(
                "no table named {}; available tables: {}",
                missing.join(", "),
                available.join(", ")
            ))
        };
        if tables.is_empty() {
            return Err(ToolError::failed(not_found.unwrap_or_default()));
        }
        Ok(DescribeTablesOutput { tables, not_found })
    }
}
