//! Tools written in the host language (Python, JavaScript, or a Rust closure): a name, a
//! description, a JSON Schema for the arguments, and an async handler. The arguments are checked
//! against the schema before the handler runs, so a model's malformed call becomes a clear,
//! model-visible error and never reaches the host's code.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{DynTool, ToolCategory, ToolContext, ToolError, ToolErrorKind, ToolPolicy};
use crate::error::{Error, Result};
use crate::llm::ToolSpec;

/// What an external tool's handler receives for one call.
#[derive(Debug, Clone)]
pub struct ExternalCall {
    /// The arguments, already validated against the tool's schema.
    pub arguments: Value,
    /// The run that called the tool.
    pub run_id: Uuid,
    /// This execution's id.
    pub execution_id: Uuid,
    /// The user's question.
    pub question: String,
    /// Cancelled when the run is (or the runner gives up on the call).
    pub cancel: CancellationToken,
}

/// The async function behind an [`ExternalTool`].
pub type ExternalHandler = Arc<
    dyn Fn(ExternalCall) -> BoxFuture<'static, std::result::Result<Value, ToolError>> + Send + Sync,
>;

/// A tool whose work is done by a host-language function.
///
/// ```
/// use std::sync::Arc;
/// use metricchat_core::tools::{ExternalTool, ToolError};
///
/// let tool = ExternalTool::new(
///     "fx_rate",
///     "Exchange rate between two currencies.",
///     serde_json::json!({
///         "type": "object",
///         "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
///         "required": ["from", "to"]
///     }),
///     Arc::new(|call| Box::pin(async move {
///         Ok::<_, ToolError>(serde_json::json!({"rate": 1.08, "args": call.arguments}))
///     })),
/// )?;
/// # Ok::<(), metricchat_core::Error>(())
/// ```
pub struct ExternalTool {
    spec: ToolSpec,
    category: ToolCategory,
    policy: ToolPolicy,
    validator: Arc<jsonschema::Validator>,
    handler: ExternalHandler,
}

impl fmt::Debug for ExternalTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalTool")
            .field("name", &self.spec.name)
            .field("category", &self.category)
            .finish_non_exhaustive()
    }
}

/// Whether `name` is usable as a tool name by every provider (`^[A-Za-z0-9_-]{1,64}$`).
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl ExternalTool {
    /// A research tool (its output goes back to the model) with the default policy.
    ///
    /// Fails with a `Config` error on a name providers would refuse or a schema that is not a
    /// valid JSON Schema object.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
        handler: ExternalHandler,
    ) -> Result<Self> {
        let name = name.into();
        if !valid_tool_name(&name) {
            return Err(Error::config(
                "tool",
                format!("tool name `{name}` must be 1-64 characters of A-Z, a-z, 0-9, _ or -"),
            ));
        }
        let mut parameters = parameters;
        if parameters.is_null() {
            parameters = serde_json::json!({"type": "object", "properties": {}});
        }
        if parameters.get("type").and_then(Value::as_str) != Some("object") {
            return Err(Error::config(
                "tool",
                format!("tool `{name}`: the parameters schema must have \"type\": \"object\""),
            ));
        }
        let validator = jsonschema::validator_for(&parameters).map_err(|e| {
            Error::config(
                "tool",
                format!("tool `{name}`: invalid parameters schema: {e}"),
            )
        })?;
        Ok(Self {
            spec: ToolSpec {
                name,
                description: description.into(),
                parameters,
            },
            category: ToolCategory::Research,
            policy: ToolPolicy::default(),
            validator: Arc::new(validator),
            handler,
        })
    }

    /// Sets the category.
    pub fn with_category(mut self, category: ToolCategory) -> Self {
        self.category = category;
        self
    }

    /// Sets attempts and time limits.
    pub fn with_policy(mut self, policy: ToolPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The argument errors for `arguments`, as `path: message` lines (empty when valid).
    pub fn argument_errors(&self, arguments: &Value) -> Vec<String> {
        self.validator
            .iter_errors(arguments)
            .map(|e| {
                let path = e.instance_path().to_string();
                if path.is_empty() {
                    e.to_string()
                } else {
                    format!("{path}: {e}")
                }
            })
            .collect()
    }
}

#[async_trait]
impl DynTool for ExternalTool {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    fn category(&self) -> ToolCategory {
        self.category
    }

    fn policy(&self) -> ToolPolicy {
        self.policy
    }

    async fn call_json(
        &self,
        ctx: &ToolContext,
        arguments: Value,
    ) -> std::result::Result<Value, ToolError> {
        let arguments = if arguments.is_null() {
            serde_json::json!({})
        } else {
            arguments
        };
        let errors = self.argument_errors(&arguments);
        if !errors.is_empty() {
            return Err(ToolError::invalid_arguments(format!(
                "arguments do not match the schema of `{}`: {}",
                self.spec.name,
                errors.join("; ")
            )));
        }
        let cancel = ctx.cancellation().child_token();
        let call = ExternalCall {
            arguments,
            run_id: ctx.run_id(),
            execution_id: ctx.execution_id(),
            question: ctx.question().to_string(),
            cancel: cancel.clone(),
        };
        let fut = (self.handler)(call);
        // Dropping the call (timeout, cancellation) cancels the handler's token too.
        let _guard = cancel.clone().drop_guard();
        tokio::select! {
            out = fut => out,
            () = cancel.cancelled() => Err(ToolError {
                kind: ToolErrorKind::Cancelled,
                message: "the run was cancelled".into(),
                source: None,
                retryable: false,
            }),
        }
    }
}
