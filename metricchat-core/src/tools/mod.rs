//! Tools: the typed [`Tool`] trait, its object-safe face [`DynTool`], the [`ToolRegistry`], and the
//! built-in tools (the analyst's hands).
//!
//! A Rust tool declares typed arguments; their JSON Schema is derived with `schemars`, never
//! written by hand. Python and JS tools implement [`DynTool`] directly.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::BoxError;
use crate::llm::ToolSpec;

mod answer_question;
mod clarify;

mod create_data;
mod create_visualization;
mod describe_tables;
mod external;
mod inspect_data;
mod remember;
mod search_knowledge;
mod suggest_instruction;
// Dashboards (issue 16).
mod create_dashboard;

pub use crate::run::{Dataset, QueryOutcome, ToolContext};
pub use answer_question::{AnswerQuestion, AnswerQuestionArgs};
pub use clarify::{Clarify, ClarifyArgs};
pub use create_data::{CreateData, CreateDataArgs};
pub use create_visualization::{CreateVisualization, CreateVisualizationArgs};
pub use describe_tables::{DescribeTables, DescribeTablesArgs};
pub use external::{ExternalCall, ExternalHandler, ExternalTool, valid_tool_name};
pub use inspect_data::{InspectData, InspectDataArgs};
pub use remember::{Remember, RememberArgs, RememberOutput};
pub use search_knowledge::{SearchKnowledge, SearchKnowledgeArgs, SearchKnowledgeOutput};
pub use suggest_instruction::{
    SuggestInstruction, SuggestInstructionArgs, SuggestInstructionOutput,
};
// Dashboards (issue 16).
pub use create_dashboard::{CreateDashboard, CreateDashboardArgs, CreateDashboardOutput};

/// Whether a tool gathers information or produces output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolCategory {
    /// Reads schemas or explores data; the model sees its output.
    #[default]
    Research,
    /// Produces data, charts or answers for the user.
    Action,
}

/// How the tool runner treats a tool: attempts and time limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolPolicy {
    /// Attempts for retryable errors (1 = no retry).
    pub attempts: u32,
    /// First backoff between attempts (doubled, with jitter).
    #[serde(with = "crate::serde_util::duration_ms")]
    pub backoff: Duration,
    /// Time allowed until the tool has started (for bridged tools: until the host language
    /// picked the call up).
    #[serde(with = "crate::serde_util::duration_ms")]
    pub start_timeout: Duration,
    /// Time allowed without progress reports.
    #[serde(with = "crate::serde_util::duration_ms")]
    pub idle_timeout: Duration,
    /// Time allowed in total.
    #[serde(with = "crate::serde_util::duration_ms")]
    pub hard_timeout: Duration,
}

impl Default for ToolPolicy {
    fn default() -> Self {
        Self {
            attempts: 2,
            backoff: Duration::from_millis(200),
            start_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            hard_timeout: Duration::from_secs(120),
        }
    }
}

impl ToolPolicy {
    /// Sets the attempts.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Sets the idle timeout.
    pub fn with_idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Sets the hard timeout.
    pub fn with_hard_timeout(mut self, d: Duration) -> Self {
        self.hard_timeout = d;
        self
    }

    /// Sets the start timeout.
    pub fn with_start_timeout(mut self, d: Duration) -> Self {
        self.start_timeout = d;
        self
    }
}

/// Classification of a tool failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ToolErrorKind {
    /// The arguments did not match the tool's schema.
    InvalidArguments,
    /// No tool has that name.
    UnknownTool,
    /// The tool ran and failed.
    Failed,
    /// The tool exceeded a time limit.
    Timeout,
    /// The run was cancelled.
    Cancelled,
    /// The tool panicked (or its host language raised outside the call).
    Panicked,
}

/// A tool failure with two faces: `message` the model may see, `source` only the operator sees.
#[derive(Debug)]
pub struct ToolError {
    /// Classification.
    pub kind: ToolErrorKind,
    /// Model-visible message: what went wrong and how to do better.
    pub message: String,
    /// Operator-only cause (driver error, traceback…).
    pub source: Option<BoxError>,
    /// Whether the runner may retry the same call.
    pub retryable: bool,
}

impl ToolError {
    /// A non-retryable failure.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            kind: ToolErrorKind::Failed,
            message: message.into(),
            source: None,
            retryable: false,
        }
    }

    /// A failure that may succeed if retried.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            retryable: true,
            ..Self::failed(message)
        }
    }

    /// Bad arguments.
    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        Self {
            kind: ToolErrorKind::InvalidArguments,
            ..Self::failed(message)
        }
    }

    /// Attaches the operator-only cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ToolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<crate::error::Error> for ToolError {
    fn from(e: crate::error::Error) -> Self {
        let retryable = e.is_retryable();
        let kind = match e.kind() {
            crate::error::ErrorKind::Cancelled => ToolErrorKind::Cancelled,
            crate::error::ErrorKind::Timeout => ToolErrorKind::Timeout,
            _ => ToolErrorKind::Failed,
        };
        Self {
            kind,
            message: e.to_string(),
            retryable,
            source: Some(Box::new(e)),
        }
    }
}

/// A typed tool. Implement this for Rust tools; the registry takes any `Tool` through the blanket
/// [`DynTool`] impl.
///
/// ```
/// use metricchat_core::tools::{Tool, ToolContext, ToolError};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// /// Converts an amount between currencies.
/// struct FxRate;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct FxArgs {
///     /// ISO currency code, e.g. EUR.
///     currency: String,
/// }
///
/// impl Tool for FxRate {
///     const NAME: &'static str = "fx_rate";
///     type Args = FxArgs;
///     type Output = f64;
///     fn description(&self) -> String {
///         "US dollars per unit of a currency".into()
///     }
///     async fn call(&self, _ctx: &ToolContext, args: FxArgs) -> Result<f64, ToolError> {
///         match args.currency.as_str() {
///             "EUR" => Ok(1.08),
///             other => Err(ToolError::failed(format!("unknown currency {other}"))),
///         }
///     }
/// }
/// ```
pub trait Tool: Send + Sync + 'static {
    /// Unique name the model calls.
    const NAME: &'static str;
    /// Arguments; their JSON Schema is what the model sees.
    type Args: DeserializeOwned + JsonSchema + Send;
    /// Result; serialised to JSON as the observation.
    type Output: Serialize + Send;

    /// What the tool does and when to use it, for the model.
    fn description(&self) -> String;

    /// Research or action.
    fn category(&self) -> ToolCategory {
        ToolCategory::Research
    }

    /// Attempts and time limits.
    fn policy(&self) -> ToolPolicy {
        ToolPolicy::default()
    }

    /// Runs the tool.
    fn call(
        &self,
        ctx: &ToolContext,
        args: Self::Args,
    ) -> impl Future<Output = Result<Self::Output, ToolError>> + Send;
}

/// The object-safe face of a tool, used by the registry and by Python/JS tools.
#[async_trait]
pub trait DynTool: Send + Sync {
    /// Tool name.
    fn name(&self) -> &str;
    /// Name, description and JSON Schema of the arguments.
    fn spec(&self) -> ToolSpec;
    /// Research or action.
    fn category(&self) -> ToolCategory {
        ToolCategory::Research
    }
    /// Attempts and time limits.
    fn policy(&self) -> ToolPolicy {
        ToolPolicy::default()
    }
    /// Runs the tool on JSON arguments, returning the JSON observation.
    async fn call_json(
        &self,
        ctx: &ToolContext,
        arguments: serde_json::Value,
    ) -> Result<serde_json::Value, ToolError>;
}

/// A shared tool is a tool: `Agent::builder().tool(arc)` takes an `Arc<dyn DynTool>` (a Python
/// or JavaScript tool) as well as an owned one.
#[async_trait]
impl<T: DynTool + ?Sized> DynTool for Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn spec(&self) -> ToolSpec {
        (**self).spec()
    }
    fn category(&self) -> ToolCategory {
        (**self).category()
    }
    fn policy(&self) -> ToolPolicy {
        (**self).policy()
    }
    async fn call_json(
        &self,
        ctx: &ToolContext,
        arguments: serde_json::Value,
    ) -> Result<serde_json::Value, ToolError> {
        (**self).call_json(ctx, arguments).await
    }
}

/// The JSON Schema of `T` as tools send it to models (no `$schema`, no `title`).
pub fn schema_of<T: JsonSchema>() -> serde_json::Value {
    let schema = schemars::schema_for!(T);
    let mut v = serde_json::to_value(&schema).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(obj) = v.as_object_mut() {
        obj.remove("$schema");
        obj.remove("title");
        if !obj.contains_key("properties") && obj.get("type") == Some(&"object".into()) {
            obj.insert("properties".into(), serde_json::json!({}));
        }
    }
    v
}

#[async_trait]
impl<T: Tool> DynTool for T {
    fn name(&self) -> &str {
        T::NAME
    }

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: T::NAME.to_string(),
            description: self.description(),
            parameters: schema_of::<T::Args>(),
        }
    }

    fn category(&self) -> ToolCategory {
        Tool::category(self)
    }

    fn policy(&self) -> ToolPolicy {
        Tool::policy(self)
    }

    async fn call_json(
        &self,
        ctx: &ToolContext,
        arguments: serde_json::Value,
    ) -> Result<serde_json::Value, ToolError> {
        ctx.mark_started();
        let arguments = if arguments.is_null() {
            serde_json::json!({})
        } else {
            arguments
        };
        let args: T::Args = serde_json::from_value(arguments).map_err(|e| {
            ToolError::invalid_arguments(format!(
                "invalid arguments for `{}`: {e}. Its arguments are:\n{}",
                T::NAME,
                crate::planner::render_tools(&[self.spec()])
                    .lines()
                    .skip(1)
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join("\n")
            ))
        })?;
        let out = self.call(ctx, args).await?;
        serde_json::to_value(out).map_err(|e| {
            ToolError::failed(format!("`{}` returned unserialisable output", T::NAME))
                .with_source(e)
        })
    }
}

/// The tools an agent offers, by name.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: BTreeMap<String, Arc<dyn DynTool>>,
    order: Vec<String>,
}

impl fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.order.iter()).finish()
    }
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in tools of design section 5 that this version ships.
    pub fn builtin() -> Self {
        let mut r = Self::new();
        r.register(DescribeTables);
        r.register(InspectData);
        r.register(CreateData);
        r.register(CreateVisualization);
        r.register(AnswerQuestion);
        r.register(Clarify);
        r.register(SearchKnowledge);
        r.register(SuggestInstruction);
        r.register(Remember);
        r
    }

    /// Adds (or replaces) a typed tool.
    pub fn register<T: DynTool + 'static>(&mut self, tool: T) -> &mut Self {
        self.register_dyn(Arc::new(tool))
    }

    /// Adds (or replaces) a tool object.
    pub fn register_dyn(&mut self, tool: Arc<dyn DynTool>) -> &mut Self {
        let name = tool.name().to_string();
        if !self.order.contains(&name) {
            self.order.push(name.clone());
        }
        self.tools.insert(name, tool);
        self
    }

    /// Removes a tool.
    pub fn remove(&mut self, name: &str) -> Option<Arc<dyn DynTool>> {
        self.order.retain(|n| n != name);
        self.tools.remove(name)
    }

    /// A tool by name (case-insensitive fallback, since weak models change case).
    pub fn get(&self, name: &str) -> Option<&Arc<dyn DynTool>> {
        let name = name.trim();
        self.tools.get(name).or_else(|| {
            self.tools
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    }

    /// Names in registration order.
    pub fn names(&self) -> Vec<String> {
        self.order.clone()
    }

    /// Specs in registration order.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.order
            .iter()
            .filter_map(|n| self.tools.get(n))
            .map(|t| t.spec())
            .collect()
    }
}
