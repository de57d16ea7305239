//! `clarify`: ask the user a question and end the run awaiting input.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Tool, ToolCategory, ToolContext, ToolError};

/// Asks the user a clarifying question; the run ends with status `awaiting_input`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clarify;

/// Arguments of [`Clarify`].
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ClarifyArgs {
    /// The question for the user, short and specific.
    pub question: String,
}

/// Output of [`Clarify`].
#[derive(Debug, Serialize)]
pub struct ClarifyOutput {
    /// The question asked.
    pub asked: String,
}

impl Tool for Clarify {
    const NAME: &'static str = "clarify";
    type Args = ClarifyArgs;
    type Output = ClarifyOutput;

    fn description(&self) -> String {
        "Only when the question uses a term that neither the tables nor common sense define: \
         ask the user one short question. Never use it when a query can answer the question. \
         Ends the run until the user replies."
            .into()
    }

    fn category(&self) -> ToolCategory {
        ToolCategory::Action
    }

    async fn call(&self, ctx: &ToolContext, args: ClarifyArgs) -> Result<ClarifyOutput, ToolError> {
        let q = args.question.trim();
        if q.is_empty() {
            return Err(ToolError::invalid_arguments("`question` must not be empty"));
        }
        ctx.finish_awaiting_input(q);
        Ok(ClarifyOutput {
            asked: q.to_string(),
        })
    }
}
