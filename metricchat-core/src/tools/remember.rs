//! `remember`: record a fact about the data or the team for later runs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::suggest_instruction::store_error;
use super::{Tool, ToolCategory, ToolContext, ToolError, ToolPolicy};
use crate::instructions::{MemoryFilter, NewMemory, Origin, Scope};

/// Records a memory: a fact later runs should know ("revenue means net_revenue"), stored with
/// the run's id.
#[derive(Debug, Clone, Copy, Default)]
pub struct Remember;

/// Arguments of [`Remember`].
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RememberArgs {
    /// The fact, short and self-contained.
    pub text: String,
    /// Where it applies; global when omitted.
    #[serde(default)]
    pub scope: Option<Scope>,
}

/// Output of [`Remember`].
#[derive(Debug, Serialize)]
pub struct RememberOutput {
    /// The memory's id.
    pub memory_id: Uuid,
}

impl Tool for Remember {
    const NAME: &'static str = "remember";
    type Args = RememberArgs;
    type Output = RememberOutput;

    fn description(&self) -> String {
        "Record a fact that later questions will need (what a term means, which column holds \
         what, a quirk of the data). Only facts the user stated or the data showed."
            .into()
    }

    fn category(&self) -> ToolCategory {
        ToolCategory::Action
    }

    fn policy(&self) -> ToolPolicy {
        // A retry after a lost reply would store the memory twice.
        ToolPolicy::default().with_attempts(1)
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        args: RememberArgs,
    ) -> Result<RememberOutput, ToolError> {
        let memory = NewMemory::new(args.text)
            .scope(args.scope.unwrap_or_default())
            .source(Origin::Agent)
            .run_id(ctx.run_id())
            .build()
            .map_err(store_error)?;
        let store = ctx.store();
        store.put_memory(&memory).await.map_err(store_error)?;
        // Later runs of this agent see it without a reload.
        match store.list_memories(&MemoryFilter::all()).await {
            Ok(all) => ctx.hub().set_memories(all),
            Err(e) => tracing::warn!(error = %e, "remember: could not refresh the hub's memories"),
        }
        Ok(RememberOutput {
            memory_id: memory.id,
        })
    }
}
