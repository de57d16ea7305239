//! The [`Agent`]: question in, streamed steps and an [`AskResult`] out.
//!
//! ```no_run
//! # async fn demo(conn: metricchat_core::ConnectorRef) -> metricchat_core::Result<()> {
//! use futures::StreamExt;
//! use metricchat_core::llm::{OpenAiClient, OpenAiConfig};
//! use metricchat_core::store::SqliteStore;
//! use metricchat_core::Agent;
//!
//! let llm = OpenAiClient::new(OpenAiConfig::from_env())?;
//! let agent = Agent::builder()
//!     .llm(llm)
//!     .connection(conn)
//!     .store(SqliteStore::open("mc.db").await?)
//!     .build()?;
//! let mut run = agent.stream("Which carrier had the worst average departure delay?");
//! while let Some(ev) = run.next().await {
//!     println!("{}", ev.to_json());
//! }
//! let result = agent.ask("How many flights left JFK in 2013?").await?;
//! println!("{:?} {:?}", result.answer, result.sql());
//! # Ok(()) }
//! ```

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arrow::array::RecordBatch;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use crate::connector::{ConnectorRef, QueryData};
use crate::context::{ContextConfig, ContextHub};
use crate::error::{Error, Result};
use crate::events::{Event, RunStatus, Timings};
use crate::guard::GuardConfig;
use crate::llm::{LlmClient, Usage};
use crate::planner::{DecisionProtocol, LlmPlanner, Planner};
use crate::store::{MemoryStore, Store};
use crate::tools::{DynTool, ToolRegistry};

mod grounding;
mod instructions;
mod meaning;
mod options;
pub(crate) mod policy;
mod run;
mod runner;
mod window;
// Dashboards (issue 16): `rerun_query`, `dashboard_from_run`, `save_dashboard`.
mod dashboard;
// What the model may see of the data (issue 15).

pub use crate::exposure::{DEFAULT_AGGREGATE_ROWS, DataExposure, is_aggregate};
pub use crate::run::{FinishingStream, SharedRun};
pub use instructions::{InstructionsHandle, MemoriesHandle};
pub use options::RunOptions;

pub use crate::run::{Chart, Dataset};

/// Behaviour of an agent: budgets, guard, context and protocol settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AgentConfig {
    /// Planner steps per run.
    pub max_iterations: u32,
    /// Prompt + completion tokens per run.
    pub max_tokens: Option<u64>,
    /// Wall time per run.
    #[serde(with = "crate::serde_util::duration_ms_opt")]
    pub max_wall_time: Option<Duration>,
    /// Cost per run in US dollars (needs the model's prices).
    pub max_cost_usd: Option<f64>,
    /// SQL guard settings (read-only, row cap, timeout, table policy).
    pub guard: GuardConfig,
    /// Context budgets.
    pub context: ContextConfig,
    /// Decision protocol; `auto` picks native tool calling when the model has it.
    pub protocol: DecisionProtocol,
    /// Generate a short title for each run.
    pub generate_title: bool,
    /// The team's rules, always in the prompt.
    pub rules: Vec<String>,
    /// Extra instructions appended to the system prompt.
    pub instructions: Option<String>,
    /// Check answers for meaning before accepting them (sort direction, NULLs ranked first,
    /// filters that matched nothing, integer division, codes for names) and give the model short
    /// SQL rules. On by default; off reproduces the plain loop.
    pub answer_checks: bool,
    /// Offer the model the `create_dashboard` tool ([`crate::tools::CreateDashboard`]). Off by
    /// default: every tool is described in every prompt.
    pub dashboard_tool: bool,
    /// What the model may see of query results: `full` (the default), `aggregates` or
    /// `schema_only` (see [`DataExposure`]). A request may override it
    /// ([`RunOptions::exposure`]).
    pub exposure: DataExposure,
    /// Cost preflight: statements whose estimate exceeds a threshold wait for a decision
    /// (see [`crate::approval`]). `None` (the default): nothing is estimated. A request may
    /// override it ([`RunOptions::approval`]).
    pub approval: Option<crate::approval::ApprovalPolicy>,
    /// SQL candidates `create_data` writes for a need it is given in words (1, the default:
    /// one). Above 1 the first is written greedily and the others sampled from the same
    /// prompt; each runs as an exploratory query and the result most of them agree on becomes
    /// the dataset (self-consistency: a small model's one-off mistakes rarely agree with each
    /// other). Stops early once two candidates agree. SQL the model hands over itself is
    /// never re-sampled.
    pub sql_candidates: u32,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            max_iterations: 12,
            max_tokens: Some(400_000),
            max_wall_time: Some(Duration::from_secs(600)),
            max_cost_usd: None,
            guard: GuardConfig::default(),
            context: ContextConfig::default(),
            protocol: DecisionProtocol::Auto,
            generate_title: true,
            rules: Vec::new(),
            instructions: None,
            answer_checks: true,
            dashboard_tool: false,
            exposure: DataExposure::Full,
            approval: None,
            sql_candidates: 1,
        }
    }
}

/// The outcome of [`Agent::ask`].
#[derive(Debug, Clone)]
pub struct AskResult {
    /// Run id (look it up in the store).
    pub run_id: Uuid,
    /// Completed, or awaiting input after a clarifying question.
    pub status: RunStatus,
    /// Short title.
    pub title: Option<String>,
    /// The answer.
    pub answer: Option<String>,
    /// The clarifying question, when the run awaits input.
    pub clarification: Option<String>,
    /// Every dataset, in order.
    pub datasets: Vec<Dataset>,
    /// Charts, in order.
    pub charts: Vec<Chart>,
    /// Tokens used.
    pub usage: Usage,
    /// Cost, when prices are known.
    pub cost_usd: Option<f64>,
    /// Timings.
    pub timings: Timings,
    /// Planner iterations used.
    pub iterations: u32,
}

impl AskResult {
    /// The main dataset: the last one produced.
    pub fn dataset(&self) -> Option<&Dataset> {
        self.datasets.last()
    }

    /// SQL of the main dataset.
    pub fn sql(&self) -> Option<&str> {
        self.dataset().map(|d| d.sql.as_str())
    }

    /// Arrow batches of the main dataset (empty when there is none).
    pub fn batches(&self) -> &[RecordBatch] {
        self.dataset().map_or(&[], |d| d.data.batches.as_slice())
    }

    /// Everything but the data, as the JSON object the Python and Node packages hand to their
    /// hosts: `run_id`, `status`, `title`, `answer`, `clarification`, `sql`, `datasets` (each
    /// with `query_id`, `title`, `connection`, `sql`, `columns`, `row_count`, `truncated`),
    /// `chart` and `charts` (ECharts options with their specs), `usage`, `cost_usd`, `timings`
    /// and `iterations`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.json_view()).unwrap_or(serde_json::Value::Null)
    }

    /// Everything but the data as a serde view: what [`to_json`](Self::to_json) serialises.
    pub fn json_view(&self) -> AskResultJson<'_> {
        AskResultJson {
            run_id: self.run_id,
            status: self.status,
            title: self.title.as_deref(),
            answer: self.answer.as_deref(),
            clarification: self.clarification.as_deref(),
            sql: self.sql(),
            datasets: self.datasets.iter().map(DatasetJson::of).collect(),
            chart: self.chart(),
            charts: &self.charts,
            usage: &self.usage,
            cost_usd: self.cost_usd,
            timings: &self.timings,
            iterations: self.iterations,
        }
    }

    /// The chart of the main dataset, or the last chart.
    pub fn chart(&self) -> Option<&Chart> {
        let main = self.dataset().map(|d| d.query_id);
        self.charts
            .iter()
            .rev()
            .find(|c| Some(c.query_id) == main)
            .or_else(|| self.charts.last())
    }
}

/// An [`AskResult`] without its data: the JSON the bindings hand out
/// ([`AskResult::to_json`]).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AskResultJson<'a> {
    /// Run id.
    pub run_id: Uuid,
    /// Completed, or awaiting input after a clarifying question.
    pub status: RunStatus,
    /// Short title.
    pub title: Option<&'a str>,
    /// The answer.
    pub answer: Option<&'a str>,
    /// The clarifying question, when the run awaits input.
    pub clarification: Option<&'a str>,
    /// SQL of the main dataset.
    pub sql: Option<&'a str>,
    /// Every dataset's metadata, in order.
    pub datasets: Vec<DatasetJson<'a>>,
    /// The chart of the main dataset (or the last chart).
    pub chart: Option<&'a Chart>,
    /// Every chart, in order.
    pub charts: &'a [Chart],
    /// Tokens used.
    pub usage: &'a Usage,
    /// Cost, when prices are known.
    pub cost_usd: Option<f64>,
    /// Timings.
    pub timings: &'a Timings,
    /// Planner iterations used.
    pub iterations: u32,
}

/// A [`Dataset`] without its rows (part of [`AskResultJson`]).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DatasetJson<'a> {
    /// Query id.
    pub query_id: Uuid,
    /// Title given by the model.
    pub title: Option<&'a str>,
    /// Connection name.
    pub connection: &'a str,
    /// SQL as run.
    pub sql: &'a str,
    /// Column names and types.
    pub columns: Vec<crate::data::ColumnMeta>,
    /// Rows kept.
    pub row_count: usize,
    /// Whether the row cap cut it.
    pub truncated: bool,
}

impl<'a> DatasetJson<'a> {
    fn of(d: &'a Dataset) -> Self {
        Self {
            query_id: d.query_id,
            title: d.title.as_deref(),
            connection: &d.connection,
            sql: &d.sql,
            columns: crate::data::columns_meta(&d.data.schema),
            row_count: d.data.num_rows(),
            truncated: d.truncated,
        }
    }
}

pub(crate) struct AgentInner {
    pub llm: Arc<dyn LlmClient>,
    pub title_llm: Option<Arc<dyn LlmClient>>,
    pub planner: Arc<dyn Planner>,
    pub connections: Vec<ConnectorRef>,
    pub store: Arc<dyn Store>,
    pub tools: ToolRegistry,
    pub hub: Arc<ContextHub>,
    pub config: Arc<AgentConfig>,
    pub policy_provider: Option<Arc<dyn crate::guard::PolicyProvider>>,
    pub credential_provider: Option<Arc<dyn crate::connector::CredentialProvider>>,
    pub approval_handler: Option<Arc<dyn crate::approval::ApprovalHandler>>,
}

/// An analytics agent: a model, connections, tools, a store. Cheap to clone; runs are
/// independent and may go on concurrently.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<AgentInner>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("model", &self.inner.llm.model_info().model)
            .field(
                "connections",
                &self
                    .inner
                    .connections
                    .iter()
                    .map(|c| c.info().name)
                    .collect::<Vec<_>>(),
            )
            .field("tools", &self.inner.tools)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Starts building an agent.
    pub fn builder() -> AgentBuilder {
        AgentBuilder::default()
    }

    /// Starts a run and streams its events. Dropping the [`Run`] cancels it (the stored record
    /// still ends consistently as `cancelled`).
    pub fn stream(&self, question: impl Into<String>) -> Run {
        self.stream_with(question, RunOptions::new())
    }

    /// Continues the conversation of `previous_run` (for example, the user's reply to a
    /// clarifying question): the earlier questions and answers go to the model as history.
    pub async fn follow_up(&self, previous_run: Uuid, question: impl Into<String>) -> Result<Run> {
        self.follow_up_with(previous_run, question, RunOptions::new())
            .await
    }

    /// [`Agent::follow_up`] with per-request options (the user).
    pub async fn follow_up_with(
        &self,
        previous_run: Uuid,
        question: impl Into<String>,
        options: RunOptions,
    ) -> Result<Run> {
        let prev = self
            .inner
            .store
            .get_run(previous_run)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "run",
                name: previous_run.to_string(),
            })?;
        // A conversation belongs to its user: another user may not continue it (its history
        // holds the first user's answers).
        if let Some(owner) = &prev.user
            && options.user.as_ref().map(|u| &u.id) != Some(&owner.id)
        {
            return Err(Error::invalid_input(format!(
                "run {previous_run} belongs to another user; start a new run instead"
            )));
        }
        let mut history: Vec<crate::llm::ChatMessage> = self
            .inner
            .store
            .latest_snapshot(previous_run)
            .await?
            .map(|s| s.state.history)
            .unwrap_or_default();
        history.push(crate::llm::ChatMessage::user(prev.question));
        if let Some(answer) = prev.answer {
            history.push(crate::llm::ChatMessage::assistant(answer));
        }
        // Earlier answers carry the values the host filled in: a model that may not see values
        // gets them without.
        if !options
            .exposure
            .unwrap_or(self.inner.config.exposure)
            .is_full()
        {
            for m in &mut history {
                if m.role == crate::llm::Role::Assistant {
                    *m = crate::llm::ChatMessage::assistant(crate::exposure::EARLIER_ANSWER);
                }
            }
        }
        Ok(run::start(
            self.inner.clone(),
            question.into(),
            history,
            options,
        ))
    }

    /// [`Agent::follow_up`] run to the end.
    pub async fn ask_follow_up(
        &self,
        previous_run: Uuid,
        question: impl Into<String>,
    ) -> Result<AskResult> {
        self.follow_up(previous_run, question).await?.finish().await
    }

    /// Runs a question to the end.
    ///
    /// Returns the answer with its data and chart, or the run's typed error (a failure,
    /// [`Error::Cancelled`], [`Error::BudgetExceeded`]).
    pub async fn ask(&self, question: impl Into<String>) -> Result<AskResult> {
        self.stream(question).finish().await
    }

    /// The team's instructions (rules): add, approve, archive, update, delete, list. Changes
    /// reach the next run's prompt; every run also reloads them from the store.
    pub fn instructions(&self) -> InstructionsHandle {
        InstructionsHandle::new(self.inner.clone())
    }

    /// The memories (facts recorded by users and by the `remember` tool): add, list, search,
    /// delete.
    pub fn memories(&self) -> MemoriesHandle {
        MemoriesHandle::new(self.inner.clone())
    }

    /// Where runs are persisted.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The model the planner asks.
    pub fn llm(&self) -> &Arc<dyn LlmClient> {
        &self.inner.llm
    }

    /// The connections.
    pub fn connections(&self) -> &[ConnectorRef] {
        &self.inner.connections
    }

    /// The context hub (schema selection and rendering).
    pub fn context_hub(&self) -> &Arc<ContextHub> {
        &self.inner.hub
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.inner.config
    }

    /// What a run of `question` would put in front of the model, and why: the chosen tables
    /// with scores and reasons, the rules and memories in scope, each prompt section's tokens
    /// against its budget, and the whole system prompt. Loads catalogs and samples as a run
    /// would; calls no model. Print [`ContextPlan::explain`](crate::context::ContextPlan::explain)
    /// for a readable view.
    pub async fn explain_context(&self, question: &str) -> Result<crate::context::ContextPlan> {
        // The same view of the store as a run: approvals made by another process count.
        instructions::refresh_hub(&self.inner.store, &self.inner.hub).await;
        let exposure = self.inner.config.exposure;
        let mut plan = self
            .inner
            .hub
            .plan_view(
                &self.inner.connections,
                question,
                None,
                exposure.shows_samples(),
            )
            .await?;
        plan.system_prompt = Some(crate::prompts::system_prompt(
            &plan,
            self.inner.config.instructions.as_deref(),
            self.inner.config.answer_checks,
            exposure,
        ));
        Ok(plan)
    }

    /// Runs SQL directly through the same guard the agent uses (read-only, one statement,
    /// row cap, timeout) and collects the result.
    pub async fn query(&self, connection: Option<&str>, sql: &str) -> Result<QueryData> {
        self.query_with(connection, sql, RunOptions::new()).await
    }

    // ---- Many users (issue 15): per-request user, data policy, audit log.

    /// [`Agent::stream`] for a user: their data policy applies, and the run carries them.
    pub fn stream_with(&self, question: impl Into<String>, options: RunOptions) -> Run {
        run::start(self.inner.clone(), question.into(), Vec::new(), options)
    }

    /// [`Agent::ask`] with per-request options (the user).
    pub async fn ask_with(
        &self,
        question: impl Into<String>,
        options: RunOptions,
    ) -> Result<AskResult> {
        self.stream_with(question, options).finish().await
    }

    /// [`Agent::query`] for a user: their data policy rewrites the SQL, and the statement is
    /// audited.
    pub async fn query_with(
        &self,
        connection: Option<&str>,
        sql: &str,
        options: RunOptions,
    ) -> Result<QueryData> {
        policy::query(&self.inner, connection, sql, options.user.as_ref()).await
    }

    /// The audit log: every statement the agent's runs and queries executed or had refused,
    /// newest first (export with [`crate::store::audit_to_arrow`]).
    pub async fn audit_log(
        &self,
        filter: &crate::store::AuditFilter,
    ) -> Result<Vec<crate::store::AuditRecord>> {
        self.inner.store.audit_log(filter).await
    }
}

/// Builds an [`Agent`].
#[derive(Default)]
pub struct AgentBuilder {
    llm: Option<Arc<dyn LlmClient>>,
    title_llm: Option<Arc<dyn LlmClient>>,
    planner: Option<Arc<dyn Planner>>,
    connections: Vec<ConnectorRef>,
    store: Option<Arc<dyn Store>>,
    tools: Option<ToolRegistry>,
    extra_tools: Vec<Arc<dyn DynTool>>,
    config: AgentConfig,
    resources: Vec<crate::knowledge::Resource>,
    knowledge_paths: Vec<std::path::PathBuf>,
    embedder: Option<Arc<dyn crate::context::Embedder>>,
    policy_provider: Option<Arc<dyn crate::guard::PolicyProvider>>,
    credential_provider: Option<Arc<dyn crate::connector::CredentialProvider>>,
    approval_handler: Option<Arc<dyn crate::approval::ApprovalHandler>>,
}

impl AgentBuilder {
    /// Cost preflight thresholds ([`AgentConfig::approval`]): a statement whose estimate exceeds
    /// one waits for a decision, from the host ([`Run::approve`] / [`Run::deny`]) or the
    /// [`approval_handler`](Self::approval_handler); the timeout denies it.
    pub fn approval(mut self, policy: crate::approval::ApprovalPolicy) -> Self {
        self.config.approval = Some(policy);
        self
    }

    /// Decides approval requests of every run (the host may still decide through the run
    /// handle; the first decision counts). Without one, requests wait for the host.
    pub fn approval_handler(mut self, handler: Arc<dyn crate::approval::ApprovalHandler>) -> Self {
        self.approval_handler = Some(handler);
        self
    }

    /// Resolves, per statement, the database role or token the request's user runs as on each
    /// connection (default: every statement runs as the connection's login). A connection that
    /// cannot honour the credentials refuses the statement with
    /// [`Error::RunAs`]; nothing runs as the login instead.
    pub fn credential_provider(
        mut self,
        provider: Arc<dyn crate::connector::CredentialProvider>,
    ) -> Self {
        self.credential_provider = Some(provider);
        self
    }

    /// Resolves each request's data policy from its user (default: the static
    /// [`GuardConfig::policy`](crate::guard::GuardConfig::policy), the same for everyone).
    pub fn policy_provider(mut self, provider: Arc<dyn crate::guard::PolicyProvider>) -> Self {
        self.policy_provider = Some(provider);
        self
    }

    /// Sets the static data policy (tables allowed and denied, row filters, column rules).
    pub fn policy(mut self, policy: crate::guard::Policy) -> Self {
        self.config.guard.policy = policy;
        self
    }

    /// Knowledge resources (dbt, LookML, Tableau… parsed by [`crate::knowledge`] or built by
    /// the host): their descriptions rank and explain tables, their metrics and measures reach
    /// the prompt, and the `search_knowledge` tool searches them.
    pub fn resources(mut self, resources: Vec<crate::knowledge::Resource>) -> Self {
        self.resources.extend(resources);
        self
    }

    /// An embedding model whose similarities are blended into table ranking
    /// (see [`crate::context::Embedder`]).
    pub fn embedder(mut self, embedder: Arc<dyn crate::context::Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// Loads knowledge from a path at [`AgentBuilder::build`]: a dbt `manifest.json` (with its
    /// `catalog.json`), a dbt project or target folder, a `.lkml` file or LookML folder, a
    /// Tableau `.tds` / `.twb` (see [`crate::knowledge::load_path`]).
    pub fn knowledge(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.knowledge_paths.push(path.into());
        self
    }

    /// The model (required): a client, or a shared `Arc<dyn LlmClient>`.
    pub fn llm(mut self, llm: impl LlmClient + 'static) -> Self {
        self.llm = Some(Arc::new(llm));
        self
    }

    /// A smaller, cheaper model for run titles (default: the main model).
    pub fn title_llm(mut self, llm: impl LlmClient + 'static) -> Self {
        self.title_llm = Some(Arc::new(llm));
        self
    }

    /// Adds a connection (at least one is required; names must be unique).
    pub fn connection(mut self, connection: ConnectorRef) -> Self {
        self.connections.push(connection);
        self
    }

    /// Adds connections.
    pub fn connections(mut self, connections: impl IntoIterator<Item = ConnectorRef>) -> Self {
        self.connections.extend(connections);
        self
    }

    /// Where runs are persisted (default: in memory): a store, or a shared `Arc<dyn Store>`.
    pub fn store(mut self, store: impl Store + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// A custom planner (default: [`LlmPlanner`] over the model).
    pub fn planner(mut self, planner: Arc<dyn Planner>) -> Self {
        self.planner = Some(planner);
        self
    }

    /// Replaces the tool set (default: [`ToolRegistry::builtin`]).
    pub fn tools(mut self, tools: ToolRegistry) -> Self {
        self.tools = Some(tools);
        self
    }

    /// Adds a tool to the set: a tool, or a shared `Arc<dyn DynTool>` (Python and JS tools).
    pub fn tool(mut self, tool: impl DynTool + 'static) -> Self {
        self.extra_tools.push(Arc::new(tool));
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: AgentConfig) -> Self {
        self.config = config;
        self
    }

    /// Adds a rule the agent always follows.
    pub fn rule(mut self, rule: impl Into<String>) -> Self {
        self.config.rules.push(rule.into());
        self
    }

    /// Sets the iteration budget.
    pub fn max_iterations(mut self, n: u32) -> Self {
        self.config.max_iterations = n;
        self
    }

    /// Sets the token budget.
    pub fn max_tokens(mut self, n: Option<u64>) -> Self {
        self.config.max_tokens = n;
        self
    }

    /// Sets the wall-time budget.
    pub fn max_wall_time(mut self, d: Option<Duration>) -> Self {
        self.config.max_wall_time = d;
        self
    }

    /// Sets the SQL guard.
    pub fn guard(mut self, guard: GuardConfig) -> Self {
        self.config.guard = guard;
        self
    }

    /// Sets the decision protocol.
    pub fn protocol(mut self, protocol: DecisionProtocol) -> Self {
        self.config.protocol = protocol;
        self
    }

    /// Turns title generation on or off.
    pub fn generate_title(mut self, on: bool) -> Self {
        self.config.generate_title = on;
        self
    }

    /// SQL candidates per need, voted on by their results ([`AgentConfig::sql_candidates`]).
    pub fn sql_candidates(mut self, n: u32) -> Self {
        self.config.sql_candidates = n.max(1);
        self
    }

    /// Meaning checks before answers and the prompt's SQL rules ([`AgentConfig::answer_checks`]).
    pub fn answer_checks(mut self, on: bool) -> Self {
        self.config.answer_checks = on;
        self
    }

    /// What the model may see of query results ([`AgentConfig::exposure`]).
    pub fn exposure(mut self, exposure: DataExposure) -> Self {
        self.config.exposure = exposure;
        self
    }

    /// Builds the agent.
    pub fn build(self) -> Result<Agent> {
        let llm = self
            .llm
            .ok_or_else(|| Error::config("agent", "no model: call .llm(...)"))?;
        if self.connections.is_empty() {
            return Err(Error::config(
                "agent",
                "no connection: call .connection(connect(\"file://…\")?)",
            ));
        }
        let mut names: Vec<String> = self.connections.iter().map(|c| c.info().name).collect();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0].eq_ignore_ascii_case(&w[1])) {
            return Err(Error::config(
                "agent",
                format!("two connections are named `{}`; names must be unique", w[0]),
            ));
        }
        let mut tools = self.tools.unwrap_or_else(ToolRegistry::builtin);
        for t in self.extra_tools {
            tools.register_dyn(t);
        }
        if self.config.dashboard_tool && tools.get("create_dashboard").is_none() {
            tools.register(crate::tools::CreateDashboard);
        }
        let planner = self.planner.unwrap_or_else(|| {
            Arc::new(LlmPlanner::new(llm.clone()).with_protocol(self.config.protocol))
        });
        let info = llm.model_info();
        let mut context = self.config.context.clone();
        if context.context_window.is_none() && info.context_window > 0 {
            context.context_window = Some(info.context_window as usize);
        }
        let mut resources = self.resources;
        for path in &self.knowledge_paths {
            resources.extend(crate::knowledge::load_path(path)?);
        }
        let mut hub = ContextHub::builder()
            .config(context)
            .rules(self.config.rules.clone())
            .token_counter(crate::context::tokens::counter_for(
                &info.provider,
                &info.model,
            ))
            .resources(resources);
        if let Some(e) = self.embedder {
            hub = hub.embedder(e);
        }
        let hub = Arc::new(hub.build());
        Ok(Agent {
            inner: Arc::new(AgentInner {
                llm,
                title_llm: self.title_llm,
                planner,
                connections: self.connections,
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
                tools,
                hub,
                config: Arc::new(self.config),
                policy_provider: self.policy_provider,
                credential_provider: self.credential_provider,
                approval_handler: self.approval_handler,
            }),
        })
    }
}

/// A running question: a stream of [`Event`]s. Dropping it cancels the run.
pub struct Run {
    run_id: Uuid,
    rx: mpsc::UnboundedReceiver<Event>,
    cancel: CancellationToken,
    approvals: crate::approval::Approvals,
    handle: Option<tokio::task::JoinHandle<Result<AskResult>>>,
    guard: Option<DropGuard>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run").field("run_id", &self.run_id).finish()
    }
}

impl Run {
    /// The run's id.
    pub fn run_id(&self) -> Uuid {
        self.run_id
    }

    /// Cancels the run: the model stream and any running query stop, and the run is stored
    /// as `cancelled`. Events up to `run.finished` still arrive.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// A token that cancels this run when triggered (for wiring to signals).
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Approves the statement of `approval.requested` `approval_id`: it runs.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no such request waits (unknown, decided, timed out).
    pub fn approve(&self, approval_id: Uuid) -> Result<()> {
        self.approvals.approve(approval_id)
    }

    /// Denies the statement of `approval.requested` `approval_id`; the model reads
    /// `not approved: <reason>` and may try a cheaper query. The denial is audited.
    ///
    /// # Errors
    /// As [`Run::approve`].
    pub fn deny(&self, approval_id: Uuid, reason: impl Into<String>) -> Result<()> {
        self.approvals.deny(approval_id, reason)
    }

    /// The run's approval requests (pending ones, and approve/deny), to hand to another task
    /// while this one reads the events.
    pub fn approvals(&self) -> crate::approval::Approvals {
        self.approvals.clone()
    }

    /// Drains the remaining events and returns the run's result.
    pub async fn finish(mut self) -> Result<AskResult> {
        while self.rx.recv().await.is_some() {}
        let handle = self.handle.take();
        let out = match handle {
            Some(h) => h
                .await
                .map_err(|e| Error::Internal(format!("run task failed: {e}")))?,
            None => Err(Error::Internal("run already finished".into())),
        };
        if let Some(g) = self.guard.take() {
            g.disarm();
        }
        out
    }
}

impl Stream for Run {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

impl crate::run::FinishingStream for Run {
    type Outcome = AskResult;

    fn run_id(&self) -> Uuid {
        self.run_id
    }

    fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    fn approvals(&self) -> Option<crate::approval::Approvals> {
        Some(self.approvals.clone())
    }

    fn finish(self) -> impl std::future::Future<Output = Result<AskResult>> + Send {
        Run::finish(self)
    }
}

impl Run {
    /// Shares the run among several consumers (see [`crate::SharedRun`]).
    pub fn shared(self) -> crate::SharedRun<Run> {
        crate::SharedRun::new(self)
    }

    /// Collects all remaining events (for tests and simple hosts).
    pub async fn collect_events(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(ev) = self.next().await {
            out.push(ev);
        }
        out
    }
}
