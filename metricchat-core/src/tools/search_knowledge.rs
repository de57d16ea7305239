//! `search_knowledge`: searches the team's rules, instructions, memories and semantic
//! resources (dbt models and metrics, LookML views and explores, Tableau data sources).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Tool, ToolContext, ToolError};
use crate::context::KnowledgeHit;

/// Searches what the team knows beyond the schema: definitions of metrics and measures, model
/// descriptions, rules and recorded facts.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchKnowledge;

/// Arguments of [`SearchKnowledge`].
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchKnowledgeArgs {
    /// What to look for: a business term, a metric, a table.
    pub query: String,
    /// Results at most (default 5, at most 20).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Output of [`SearchKnowledge`].
#[derive(Debug, Serialize)]
pub struct SearchKnowledgeOutput {
    /// Best first.
    pub results: Vec<KnowledgeHit>,
}

impl Tool for SearchKnowledge {
    const NAME: &'static str = "search_knowledge";
    type Args = SearchKnowledgeArgs;
    type Output = SearchKnowledgeOutput;

    fn description(&self) -> String {
        "Search the team's definitions (dbt/LookML/Tableau metrics and models), rules and \
         recorded facts for a business term before guessing what it means."
            .into()
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        args: SearchKnowledgeArgs,
    ) -> Result<SearchKnowledgeOutput, ToolError> {
        if args.query.trim().is_empty() {
            return Err(ToolError::invalid_arguments("`query` must not be empty"));
        }
        let k = args.limit.unwrap_or(5).clamp(1, 20);
        Ok(SearchKnowledgeOutput {
            results: ctx.hub().search_knowledge_for(&args.query, k, ctx.policy()),
        })
    }
}
