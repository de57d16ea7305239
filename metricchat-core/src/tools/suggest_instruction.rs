//! `suggest_instruction`: propose a rule learned from the conversation, stored as a draft.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Tool, ToolCategory, ToolContext, ToolError, ToolPolicy};
use crate::error::ErrorKind;
use crate::events::EventKind;
use crate::instructions::{InstructionStatus, NewInstruction, Origin, Scope};

/// Proposes an instruction (a team rule) learned from the conversation. It is stored as a
/// draft with the run's id and announced with an `instructions.suggested` event; it never
/// enters a prompt until the host approves it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SuggestInstruction;

/// Arguments of [`SuggestInstruction`].
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SuggestInstructionArgs {
    /// The rule, written as an instruction to a future analyst, e.g. "Revenue excludes
    /// refunded orders (status = 'refunded')".
    pub text: String,
    /// Where it applies; global when omitted.
    #[serde(default)]
    pub scope: Option<Scope>,
    /// Labels for filtering, e.g. "finance".
    #[serde(default)]
    pub labels: Vec<String>,
    /// Why: what in the conversation taught it.
    pub reason: String,
}

/// Output of [`SuggestInstruction`].
#[derive(Debug, Serialize)]
pub struct SuggestInstructionOutput {
    /// The draft's id.
    pub instruction_id: Uuid,
    /// Always `draft`.
    pub status: InstructionStatus,
    /// What happens next.
    pub message: String,
}

/// A tool error for a store failure: bad input is the model's to fix, the rest is not.
pub(super) fn store_error(e: crate::error::Error) -> ToolError {
    if e.kind() == ErrorKind::InvalidInput {
        ToolError::invalid_arguments(e.to_string())
    } else {
        ToolError::from(e)
    }
}

impl Tool for SuggestInstruction {
    const NAME: &'static str = "suggest_instruction";
    type Args = SuggestInstructionArgs;
    type Output = SuggestInstructionOutput;

    fn description(&self) -> String {
        "Propose a lasting rule of this team that you learned in this conversation (a \
         definition, a filter that always applies, a preferred table). It is saved as a draft \
         for a person to approve; it does not change this answer. Use it only for rules the \
         user stated or confirmed, not for guesses."
            .into()
    }

    fn category(&self) -> ToolCategory {
        ToolCategory::Action
    }

    fn policy(&self) -> ToolPolicy {
        // A retry after a lost reply would store the draft twice.
        ToolPolicy::default().with_attempts(1)
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        args: SuggestInstructionArgs,
    ) -> Result<SuggestInstructionOutput, ToolError> {
        let reason = args.reason.trim().to_string();
        let instruction = NewInstruction::new(args.text)
            .scope(args.scope.unwrap_or_default())
            .labels(args.labels)
            .source(Origin::Agent)
            .status(InstructionStatus::Draft)
            .run_id(ctx.run_id())
            .build()
            .map_err(store_error)?;
        ctx.store()
            .put_instruction(&instruction)
            .await
            .map_err(store_error)?;
        let id = instruction.id;
        ctx.emit(EventKind::InstructionsSuggested {
            instruction,
            reason,
        });
        Ok(SuggestInstructionOutput {
            instruction_id: id,
            status: InstructionStatus::Draft,
            message: "saved as a draft; a person will review it. Continue with the question."
                .into(),
        })
    }
}
