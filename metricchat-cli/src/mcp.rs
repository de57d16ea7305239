//! metricchat as a Model Context Protocol server, on the official Rust SDK (`rmcp`), over stdio
//! or Streamable HTTP.
//!
//! Tools: `ask` (a question in plain language: the answer, the SQL, a compact table and the run
//! id; the agent's steps are sent as progress notifications when the client gave a progress
//! token), `run_sql` (read-only SQL through the agent's guard), `list_tables`, `describe_table`
//! and `search_knowledge`. Resources: `metricchat://rules` (the team's rules and approved
//! instructions) and `metricchat://schema/{connection}/{table}` (one per table).
//!
//! A client cancelling a request (`notifications/cancelled`, or closing the HTTP request)
//! cancels the run and its running query. Bad requests get JSON-RPC errors and the server goes
//! on serving.
//!
//! When the agent has an `approval` setting, a statement of `ask` whose estimate exceeds it is
//! put to the client's user with MCP elicitation (`elicitation/create`: the connection, the SQL,
//! the estimate and the reason; a form with `approve` and an optional `reason`). Accepting
//! with `approve: true` runs it; anything else (approve false, decline, cancel, an error) denies
//! it and the agent answers without it. A client that did not declare elicitation gets the
//! statement denied ("the MCP client cannot approve (no elicitation support)") unless the server
//! was told to approve for such clients ([`McpServer::approve_unattended`],
//! `metricchat mcp --approve all`). The policy's timeout denies a statement no one decides.
//!
//! A Rust service serves its own agent with [`serve_stdio`] or [`serve_http`]:
//!
//! ```no_run
//! # async fn demo(agent: metricchat::Agent) -> Result<(), Box<dyn std::error::Error>> {
//! use metricchat_cli::mcp::{HttpOptions, serve_http};
//!
//! let addr = "127.0.0.1:8765".parse()?;
//! serve_http(agent, addr, HttpOptions::default()).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use metricchat::approval::{ApprovalDecision, Approvals};
use metricchat::connector::{TableRef, find_connection};
use metricchat::events::{Event, EventKind};
use metricchat::guard::SqlGuard;
use metricchat::instructions::{InstructionFilter, InstructionStatus};
use metricchat::{Agent, AskResult, Error, RunStatus};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, Implementation, ListResourcesResult,
    PaginatedRequestParams, ProgressNotificationParam, ReadResourceRequestParams,
    ReadResourceResult, Resource, ResourceContents, ServerCapabilities, ServerInfo,
};
use rmcp::model::{ClientRequest, ErrorCode, JsonRpcMessage, ServerJsonRpcMessage};
use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema};
use rmcp::service::{ElicitationMode, Peer, RequestContext, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::approve::{Unattended, request_text};
use crate::output::{json_rows, markdown_table};
use crate::steps::step_line;

/// Rows of a result shown in a tool's answer.
const TABLE_ROWS: usize = 20;

/// How long a cancelled run may take to close its records before the call returns.
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The denial when the client cannot ask its user (it declared no elicitation support).
pub const NO_ELICITATION: &str = "the MCP client cannot approve (no elicitation support)";

/// The MCP server over one [`Agent`]: cheap to clone, one clone per session.
#[derive(Clone)]
pub struct McpServer {
    agent: Agent,
    unattended: Unattended,
    tool_router: ToolRouter<Self>,
}

impl From<Agent> for McpServer {
    fn from(agent: Agent) -> Self {
        Self::new(agent)
    }
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

/// Arguments of the `ask` tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AskArgs {
    /// The question, in plain language ("Which carrier had the worst average delay?").
    pub question: String,
    /// Continue the conversation of this earlier run (its `run_id`), e.g. to answer the
    /// agent's clarifying question.
    #[serde(default)]
    pub follow_up_run_id: Option<String>,
}

/// Arguments of the `run_sql` tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSqlArgs {
    /// One read-only SQL statement (SELECT / WITH / EXPLAIN / SHOW / DESCRIBE).
    pub sql: String,
    /// The connection to run it on (by name); the first one when absent.
    #[serde(default)]
    pub connection: Option<String>,
}

/// Arguments of the `list_tables` tool.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTablesArgs {
    /// Only this connection (by name); all when absent.
    #[serde(default)]
    pub connection: Option<String>,
}

/// Arguments of the `describe_table` tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeTableArgs {
    /// The table (`name` or `schema.name`).
    pub table: String,
    /// The connection (by name); the first one when absent.
    #[serde(default)]
    pub connection: Option<String>,
}

/// Arguments of the `search_knowledge` tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchKnowledgeArgs {
    /// A business term, metric or table to look up.
    pub query: String,
    /// Results at most (default 5, at most 20).
    #[serde(default)]
    pub limit: Option<u32>,
}

fn text(s: impl Into<String>) -> ContentBlock {
    ContentBlock::text(s.into())
}

/// A tool failure the caller should read (not a protocol error).
fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![text(message)])
}

fn with_structured(mut result: CallToolResult, value: Value) -> CallToolResult {
    result.structured_content = Some(value);
    result
}

#[tool_router]
impl McpServer {
    /// A server over `agent`.
    pub fn new(agent: Agent) -> Self {
        Self {
            agent,
            unattended: Unattended::Never,
            tool_router: Self::tool_router(),
        }
    }

    /// What becomes of a statement waiting for approval when the client cannot ask its user
    /// (no elicitation support): denied ([`Unattended::Never`], the default) or approved
    /// ([`Unattended::All`]). Clients that can ask always do.
    pub fn approve_unattended(mut self, unattended: Unattended) -> Self {
        self.unattended = unattended;
        self
    }

    /// The agent it serves.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    #[tool(
        description = "Answer a question about the data in plain language. The agent reads the \
                       schema and the team's rules, writes and runs read-only SQL, and answers. \
                       Returns the answer, the SQL it ran, a compact result table and the run id \
                       (pass it as follow_up_run_id to continue the conversation). Steps are sent \
                       as progress notifications."
    )]
    async fn ask(
        &self,
        Parameters(args): Parameters<AskArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        if args.question.trim().is_empty() {
            return Err(McpError::invalid_params(
                "`question` must not be empty",
                None,
            ));
        }
        let run = match &args.follow_up_run_id {
            Some(id) => {
                let id = Uuid::parse_str(id.trim()).map_err(|e| {
                    McpError::invalid_params(format!("`follow_up_run_id`: {e}"), None)
                })?;
                match self.agent.follow_up(id, args.question.clone()).await {
                    Ok(run) => run,
                    Err(e) => return Ok(tool_error(e.to_string())),
                }
            }
            None => self.agent.stream(args.question.clone()),
        };
        let progress = ctx.meta.get_progress_token();
        let cancel = run.cancellation_token();
        let mut asking = ClientApprovals {
            peer: ctx.peer.clone(),
            approvals: run.approvals(),
            unattended: self.unattended,
            pending: HashMap::new(),
        };
        let mut run = run;
        let mut step = 0u32;
        let mut cancelled = false;
        loop {
            tokio::select! {
                ev = run.next() => {
                    let Some(ev) = ev else { break };
                    asking.on_event(&ev);
                    if let (Some(token), Some(line)) = (&progress, step_line(&ev)) {
                        step += 1;
                        let _ = ctx
                            .peer
                            .notify_progress(
                                ProgressNotificationParam::new(token.clone(), f64::from(step))
                                    .with_message(line),
                            )
                            .await;
                    }
                }
                _ = ctx.ct.cancelled(), if !cancelled => {
                    cancelled = true;
                    cancel.cancel();
                }
            }
        }
        drop(asking);
        let outcome = if cancelled {
            tokio::time::timeout(CANCEL_GRACE, run.finish())
                .await
                .unwrap_or(Err(Error::Cancelled))
        } else {
            run.finish().await
        };
        match outcome {
            Ok(result) => Ok(ask_result(&result)),
            Err(Error::Cancelled) => Err(McpError::internal_error("cancelled by the client", None)),
            Err(e) => Ok(tool_error(format!("the run failed: {e}"))),
        }
    }

    #[tool(
        description = "Run one read-only SQL statement through the agent's guard (one statement, \
                       read-only, row cap, time limit) and return the rows as a table. Writes and \
                       anything but SELECT/WITH/EXPLAIN/SHOW/DESCRIBE are refused."
    )]
    async fn run_sql(
        &self,
        Parameters(args): Parameters<RunSqlArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let conn = match find_connection(self.agent.connections(), args.connection.as_deref()) {
            Ok(c) => c,
            Err(e) => return Ok(tool_error(e.to_string())),
        };
        let guard = SqlGuard::new(self.agent.config().guard.clone());
        let token = CancellationToken::new();
        let run = guard.run(conn, &args.sql, Some(token.clone()));
        tokio::pin!(run);
        let data = tokio::select! {
            data = &mut run => data,
            _ = ctx.ct.cancelled() => {
                token.cancel();
                let _ = tokio::time::timeout(CANCEL_GRACE, &mut run).await;
                return Err(McpError::internal_error("cancelled by the client", None));
            }
        };
        match data {
            Ok(data) => {
                let rows = data.num_rows();
                let table = markdown_table(&data.schema, &data.batches, TABLE_ROWS);
                let columns: Vec<&str> = data
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                Ok(with_structured(
                    CallToolResult::success(vec![text(format!("{rows} row(s)\n\n{table}"))]),
                    json!({
                        "connection": conn.info().name,
                        "columns": columns,
                        "row_count": rows,
                        "rows": json_rows(&data.batches, 200),
                    }),
                ))
            }
            Err(e @ Error::SqlRefused { .. }) => Ok(tool_error(format!(
                "{e}. Only one read-only statement (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE) runs."
            ))),
            Err(e) => Ok(tool_error(e.to_string())),
        }
    }

    #[tool(description = "List the tables of every connection (or of one).")]
    async fn list_tables(
        &self,
        Parameters(args): Parameters<ListTablesArgs>,
    ) -> Result<CallToolResult, McpError> {
        let mut lines = Vec::new();
        let mut items = Vec::new();
        for conn in self.agent.connections() {
            let name = conn.info().name;
            if let Some(only) = &args.connection
                && !only.eq_ignore_ascii_case(&name)
            {
                continue;
            }
            match conn.list_tables().await {
                Ok(tables) => {
                    for t in tables {
                        lines.push(format!("{name}: {t}"));
                        items.push(json!({"connection": name, "table": t.to_string()}));
                    }
                }
                Err(e) => return Ok(tool_error(e.to_string())),
            }
        }
        if items.is_empty() && args.connection.is_some() {
            return Ok(tool_error(format!(
                "no connection named `{}`",
                args.connection.unwrap_or_default()
            )));
        }
        Ok(with_structured(
            CallToolResult::success(vec![text(lines.join("\n"))]),
            json!({"tables": items}),
        ))
    }

    #[tool(
        description = "Describe a table: its columns with types, comments, keys and row estimate."
    )]
    async fn describe_table(
        &self,
        Parameters(args): Parameters<DescribeTableArgs>,
    ) -> Result<CallToolResult, McpError> {
        match describe(&self.agent, args.connection.as_deref(), &args.table).await {
            Ok((text_form, json_form)) => Ok(with_structured(
                CallToolResult::success(vec![text(text_form)]),
                json_form,
            )),
            Err(e) => Ok(tool_error(e.to_string())),
        }
    }

    #[tool(
        description = "Search the team's rules, approved instructions, memories and semantic \
                       definitions (dbt, LookML, Tableau) for a business term."
    )]
    async fn search_knowledge(
        &self,
        Parameters(args): Parameters<SearchKnowledgeArgs>,
    ) -> Result<CallToolResult, McpError> {
        if args.query.trim().is_empty() {
            return Err(McpError::invalid_params("`query` must not be empty", None));
        }
        // Approvals made elsewhere (another process on the same store) count.
        let _ = self.agent.instructions().sync().await;
        let k = usize::try_from(args.limit.unwrap_or(5).clamp(1, 20)).unwrap_or(5);
        let hits = self.agent.context_hub().search_knowledge(&args.query, k);
        let lines: Vec<String> = hits
            .iter()
            .map(|h| format!("- [{}] {}: {}", h.kind, h.title, h.text))
            .collect();
        let body = if lines.is_empty() {
            "nothing found".to_string()
        } else {
            lines.join("\n")
        };
        Ok(with_structured(
            CallToolResult::success(vec![text(body)]),
            json!({"results": hits}),
        ))
    }
}

/// Puts a run's approval requests to the client's user, one task per request.
struct ClientApprovals {
    peer: Peer<RoleServer>,
    approvals: Approvals,
    unattended: Unattended,
    /// Elicitations waiting for the user, by request.
    pending: HashMap<Uuid, tokio::task::JoinHandle<()>>,
}

impl ClientApprovals {
    fn on_event(&mut self, ev: &Event) {
        match &ev.kind {
            EventKind::ApprovalRequested {
                approval_id,
                connection,
                sql,
                estimate,
                reason,
                timeout_ms,
                ..
            } => {
                let id = *approval_id;
                let message = format!(
                    "{}\nApprove to run this statement; deny it (with a reason if you like) \
                     and the agent answers without it.",
                    request_text(connection, sql, estimate.as_ref(), reason)
                );
                let timeout = Duration::from_millis(*timeout_ms);
                let (peer, approvals, unattended) =
                    (self.peer.clone(), self.approvals.clone(), self.unattended);
                let task = tokio::spawn(async move {
                    let decision = ask_client(&peer, unattended, message, timeout).await;
                    // Decided meanwhile (timed out, cancelled): the answer is moot.
                    let _ = approvals.decide(id, decision);
                });
                self.pending.insert(id, task);
            }
            EventKind::ApprovalResolved { approval_id, .. } => {
                if let Some(task) = self.pending.remove(approval_id) {
                    task.abort();
                }
            }
            _ => {}
        }
    }
}

impl Drop for ClientApprovals {
    fn drop(&mut self) {
        for task in self.pending.values() {
            task.abort();
        }
    }
}

/// The client's user's decision on a statement (`message` describes it), or `unattended`'s
/// when the client cannot ask.
async fn ask_client(
    peer: &Peer<RoleServer>,
    unattended: Unattended,
    message: String,
    timeout: Duration,
) -> ApprovalDecision {
    if !peer
        .supported_elicitation_modes()
        .contains(&ElicitationMode::Form)
    {
        return match unattended {
            Unattended::All => ApprovalDecision::Approve,
            Unattended::Never => ApprovalDecision::deny(NO_ELICITATION),
        };
    }
    let schema = ElicitationSchema::builder()
        .title("Run this SQL statement?")
        .required_bool_with("approve", |b| {
            b.title("Approve")
                .description("true runs the statement; false denies it")
        })
        .optional_string_with("reason", |s| {
            s.title("Reason")
                .description("Why not (the agent reads it); optional")
        })
        .build();
    let requested_schema = match schema {
        Ok(s) => s,
        Err(e) => return ApprovalDecision::deny(format!("cannot ask the MCP client: {e}")),
    };
    let params = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message,
        requested_schema,
    };
    match peer
        .create_elicitation_with_timeout(params, Some(timeout))
        .await
    {
        Ok(result) => client_decision(&result),
        Err(e) => ApprovalDecision::deny(format!("the MCP client could not ask for approval: {e}")),
    }
}

/// The decision an elicitation result means: only an accepted form with `approve: true`
/// approves.
fn client_decision(result: &ElicitResult) -> ApprovalDecision {
    let field = |name: &str| result.content.as_ref().and_then(|c| c.get(name));
    match result.action {
        ElicitationAction::Accept if field("approve").and_then(Value::as_bool) == Some(true) => {
            ApprovalDecision::Approve
        }
        ElicitationAction::Accept => {
            let reason = field("reason")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|r| !r.is_empty());
            ApprovalDecision::Deny(match reason {
                Some(r) => format!("the MCP client's user did not approve: {r}"),
                None => "the MCP client's user did not approve".to_string(),
            })
        }
        ElicitationAction::Decline => ApprovalDecision::deny("the MCP client's user declined"),
        ElicitationAction::Cancel => {
            ApprovalDecision::deny("the MCP client's user cancelled the approval request")
        }
        _ => ApprovalDecision::deny("the MCP client gave no decision"),
    }
}

/// The `ask` tool's answer: the text a person reads, and the same as structured content.
fn ask_result(result: &AskResult) -> CallToolResult {
    let mut out = String::new();
    match result.status {
        RunStatus::AwaitingInput => {
            out.push_str(&format!(
                "The agent asks: {}\n(answer with ask, follow_up_run_id = {})\n",
                result.clarification.as_deref().unwrap_or(""),
                result.run_id
            ));
        }
        _ => {
            out.push_str(result.answer.as_deref().unwrap_or("(no answer)"));
            out.push('\n');
        }
    }
    let mut table = None;
    if let Some(ds) = result.dataset() {
        out.push_str(&format!("\nSQL:\n```sql\n{}\n```\n", ds.sql));
        let t = markdown_table(&ds.data.schema, &ds.data.batches, TABLE_ROWS);
        out.push_str(&format!("\n{}", t));
        table = Some(json!({
            "columns": ds.data.schema.fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>(),
            "row_count": ds.data.num_rows(),
            "truncated": ds.truncated,
            "rows": json_rows(&ds.data.batches, TABLE_ROWS),
        }));
    }
    out.push_str(&format!("\nrun_id: {}\n", result.run_id));
    with_structured(
        CallToolResult::success(vec![text(out)]),
        json!({
            "run_id": result.run_id,
            "status": result.status,
            "answer": result.answer,
            "clarification": result.clarification,
            "sql": result.sql(),
            "table": table,
        }),
    )
}

/// A table's description as text and JSON.
pub async fn describe(
    agent: &Agent,
    connection: Option<&str>,
    table: &str,
) -> Result<(String, Value), Error> {
    let conn = find_connection(agent.connections(), connection)?;
    let schema = conn.table_schema(&TableRef::parse(table)).await?;
    let mut out = format!("{} ({})", schema.table, conn.info().name);
    if let Some(c) = &schema.comment {
        out.push_str(&format!(" — {c}"));
    }
    out.push('\n');
    for c in &schema.columns {
        out.push_str(&format!(
            "  {} {}{}{}\n",
            c.name,
            c.data_type,
            if c.nullable { "" } else { " NOT NULL" },
            c.comment
                .as_deref()
                .map(|x| format!("  -- {x}"))
                .unwrap_or_default()
        ));
    }
    if !schema.primary_key.is_empty() {
        out.push_str(&format!(
            "  primary key: {}\n",
            schema.primary_key.join(", ")
        ));
    }
    for fk in &schema.foreign_keys {
        out.push_str(&format!(
            "  foreign key: ({}) → {} ({})\n",
            fk.columns.join(", "),
            fk.references,
            fk.referenced_columns.join(", ")
        ));
    }
    if let Some(n) = schema.row_estimate {
        out.push_str(&format!("  about {n} rows\n"));
    }
    let value = serde_json::to_value(&schema).unwrap_or(Value::Null);
    Ok((out, value))
}

const RULES_URI: &str = "metricchat://rules";
const SCHEMA_PREFIX: &str = "metricchat://schema/";

/// The team's rules: the configured ones and the approved instructions in the store.
async fn rules_text(agent: &Agent) -> String {
    let mut out = String::from("# The team's rules\n\n");
    let rules = &agent.config().rules;
    for r in rules {
        out.push_str(&format!("- {r}\n"));
    }
    let mut filter = InstructionFilter::all();
    filter.status = Some(InstructionStatus::Approved);
    let approved = agent.instructions().list(&filter).await.unwrap_or_default();
    for i in &approved {
        out.push_str(&format!("- {}\n", i.text));
    }
    if rules.is_empty() && approved.is_empty() {
        out.push_str("(none)\n");
    }
    if let Some(extra) = &agent.config().instructions {
        out.push_str(&format!("\n## Instructions\n\n{extra}\n"));
    }
    out
}

/// Arguments that do not fit a tool's schema are a JSON-RPC "invalid params" error, as the
/// issue asks (rmcp 2.2 would return them as a failed tool result).
fn check_arguments(
    name: &str,
    arguments: Option<&rmcp::model::JsonObject>,
) -> Result<(), McpError> {
    let value = Value::Object(arguments.cloned().unwrap_or_default());
    let checked = match name {
        "ask" => serde_json::from_value::<AskArgs>(value).map(drop),
        "run_sql" => serde_json::from_value::<RunSqlArgs>(value).map(drop),
        "list_tables" => serde_json::from_value::<ListTablesArgs>(value).map(drop),
        "describe_table" => serde_json::from_value::<DescribeTableArgs>(value).map(drop),
        "search_knowledge" => serde_json::from_value::<SearchKnowledgeArgs>(value).map(drop),
        // The router answers unknown tools.
        _ => Ok(()),
    };
    checked.map_err(|e| McpError::invalid_params(format!("arguments of `{name}`: {e}"), None))
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for McpServer {
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        check_arguments(&request.name, request.arguments.as_ref())?;
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }

    fn get_info(&self) -> ServerInfo {
        ServerInfo::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("metricchat", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "metricchat answers questions about the connected data. Use `ask` for questions in \
             plain language; `list_tables`, `describe_table` and `run_sql` (read-only) to look \
             at the data yourself; `search_knowledge` for the team's definitions. The resources \
             hold each table's schema and the team's rules.",
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let mut resources = vec![
            Resource::new(RULES_URI, "rules")
                .with_title("The team's rules")
                .with_description("Rules and approved instructions the agent follows")
                .with_mime_type("text/markdown"),
        ];
        for conn in self.agent.connections() {
            let name = conn.info().name;
            let tables = conn
                .list_tables()
                .await
                .map_err(|e| McpError::internal_error(e.to_string(), None))?;
            for t in tables {
                resources.push(
                    Resource::new(format!("{SCHEMA_PREFIX}{name}/{t}"), format!("{name}.{t}"))
                        .with_description(format!("Schema of table {t} on connection {name}"))
                        .with_mime_type("application/json"),
                );
            }
        }
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResult, McpError> {
        let uri = request.uri;
        if uri == RULES_URI {
            let body = rules_text(&self.agent).await;
            return Ok(ReadResourceResult::new(vec![ResourceContents::text(
                body, uri,
            )]));
        }
        let Some((conn, table)) = uri
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split_once('/'))
        else {
            return Err(McpError::resource_not_found(
                format!("no resource {uri}"),
                None,
            ));
        };
        match describe(&self.agent, Some(conn), table).await {
            Ok((_, value)) => Ok(ReadResourceResult::new(vec![
                ResourceContents::TextResourceContents {
                    uri,
                    mime_type: Some("application/json".into()),
                    text: serde_json::to_string_pretty(&value).unwrap_or_default(),
                    meta: None,
                },
            ])),
            Err(e) => Err(McpError::resource_not_found(e.to_string(), None)),
        }
    }
}

/// Serves `server` (an [`McpServer`], or just an [`Agent`]) over the process's stdin and stdout
/// until the client closes them. Logs go to stderr; nothing else may write to stdout meanwhile.
pub async fn serve_stdio(server: impl Into<McpServer>) -> std::io::Result<()> {
    // Standard input and output as tokio files (duplicated descriptors), which keeps tokio's
    // feature set (no `io-std`) the same as the rest of the workspace.
    let stdin = tokio::fs::File::from_std(std::fs::File::from(
        std::os::fd::AsFd::as_fd(&std::io::stdin()).try_clone_to_owned()?,
    ));
    let stdout = tokio::fs::File::from_std(std::fs::File::from(
        std::os::fd::AsFd::as_fd(&std::io::stdout()).try_clone_to_owned()?,
    ));
    let transport = DiscoverShim {
        inner: AsyncRwTransport::<RoleServer, _, _>::new_server(stdin, stdout),
        initialized: false,
    };
    let service = server
        .into()
        .serve(transport)
        .await
        .map_err(std::io::Error::other)?;
    service.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}

/// Answers a `server/discover` probe that comes before `initialize` with "method not found".
///
/// Clients of the 2026-07-28 protocol revision (the MCP Python SDK 2.x in its default `auto`
/// mode) probe `server/discover` first and fall back to the `initialize` handshake on an error;
/// rmcp 2.2 would otherwise end the session on any first request but `initialize`.
struct DiscoverShim<T> {
    inner: T,
    initialized: bool,
}

impl<T: Transport<RoleServer>> Transport<RoleServer> for DiscoverShim<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            let message = self.inner.receive().await?;
            if !self.initialized
                && let JsonRpcMessage::Request(request) = &message
            {
                match &request.request {
                    ClientRequest::InitializeRequest(_) => self.initialized = true,
                    ClientRequest::CustomRequest(custom) if custom.method == "server/discover" => {
                        let error = McpError::new(
                            ErrorCode::METHOD_NOT_FOUND,
                            "server/discover is not supported: use initialize",
                            None,
                        );
                        let reply = ServerJsonRpcMessage::error(error, Some(request.id.clone()));
                        if self.inner.send(reply).await.is_err() {
                            return None;
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            return Some(message);
        }
    }

    fn close(&mut self) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// Options of [`serve_http`].
#[derive(Clone, Default)]
pub struct HttpOptions {
    /// A bearer token every request must carry (`Authorization: Bearer TOKEN`). Required for any
    /// address that is not loopback.
    pub token: Option<String>,
    /// Stops the server (gracefully) when cancelled.
    pub shutdown: CancellationToken,
    /// Called with the bound address once the server listens (e.g. to print it).
    pub on_listening: Option<Arc<dyn Fn(SocketAddr) + Send + Sync>>,
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// Why [`serve_http`] could not serve.
#[derive(Debug)]
pub enum HttpServeError {
    /// A non-loopback address without a token.
    TokenRequired(SocketAddr),
    /// The address could not be bound.
    Bind(SocketAddr, std::io::Error),
    /// The server failed.
    Serve(std::io::Error),
}

impl std::error::Error for HttpServeError {}

impl std::fmt::Display for HttpServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TokenRequired(addr) => write!(
                f,
                "{addr} is not a loopback address: serving it needs a bearer token (--token or MC_MCP_TOKEN)"
            ),
            Self::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            Self::Serve(e) => write!(f, "the MCP server failed: {e}"),
        }
    }
}

/// Serves `server` (an [`McpServer`], or just an [`Agent`]) over Streamable HTTP at
/// `http://addr/mcp` until `opts.shutdown` is cancelled. Loopback addresses serve without a
/// token unless one is given; any other address needs one, checked on every request.
pub async fn serve_http(
    server: impl Into<McpServer>,
    addr: SocketAddr,
    opts: HttpOptions,
) -> Result<(), HttpServeError> {
    let server: McpServer = server.into();
    let token = opts.token.clone().filter(|t| !t.is_empty());
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(HttpServeError::TokenRequired(addr));
    }
    let mut config =
        StreamableHttpServerConfig::default().with_cancellation_token(opts.shutdown.child_token());
    if !addr.ip().is_loopback() {
        // The bearer token, not the Host header, is what keeps others out on a public address.
        config = config.disable_allowed_hosts();
    }
    let service: StreamableHttpService<McpServer, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let mut router = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn(jsonrpc_errors));
    if let Some(token) = token {
        router = router.layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            require_bearer,
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| HttpServeError::Bind(addr, e))?;
    let local = listener.local_addr().map_err(HttpServeError::Serve)?;
    if let Some(f) = &opts.on_listening {
        f(local);
    }
    let shutdown = opts.shutdown.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(HttpServeError::Serve)
}

/// The largest request body read (a JSON-RPC message or batch).
const MAX_BODY: usize = 4 << 20;

/// A JSON-RPC error response with `status`.
fn jsonrpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Answers bodies that are not JSON with a JSON-RPC parse error (-32700), and turns the
/// transport's plain-text 4xx answers into JSON-RPC "invalid request" errors (-32600), so an
/// HTTP client always gets a JSON-RPC error for a bad message.
async fn jsonrpc_errors(request: Request<axum::body::Body>, next: Next) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return jsonrpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            -32600,
            "Invalid Request: body too large",
        );
    };
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return jsonrpc_error(
            StatusCode::BAD_REQUEST,
            -32700,
            &format!("Parse error: {e}"),
        );
    }
    let response = next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !response.status().is_client_error() || is_json {
        return response;
    }
    let status = response.status();
    let text = axum::body::to_bytes(response.into_body(), 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    jsonrpc_error(status, -32600, &format!("Invalid Request: {text}"))
}

/// Refuses requests without `Authorization: Bearer <token>` (compared in constant time).
async fn require_bearer(
    State(token): State<Arc<String>>,
    request: Request<axum::body::Body>,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "missing or wrong bearer token\n",
        )
            .into_response()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_tokens() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn only_an_accepted_approve_true_approves() {
        let answer = |action, content: Option<Value>| {
            let mut r = ElicitResult::new(action);
            r.content = content;
            client_decision(&r)
        };
        let approve = json!({"approve": true});
        assert_eq!(
            answer(ElicitationAction::Accept, Some(approve.clone())),
            ApprovalDecision::Approve
        );
        assert_eq!(
            answer(
                ElicitationAction::Accept,
                Some(json!({"approve": false, "reason": " too big "}))
            ),
            ApprovalDecision::deny("the MCP client's user did not approve: too big")
        );
        assert_eq!(
            answer(ElicitationAction::Accept, None),
            ApprovalDecision::deny("the MCP client's user did not approve")
        );
        assert_eq!(
            answer(ElicitationAction::Decline, Some(approve)),
            ApprovalDecision::deny("the MCP client's user declined")
        );
        assert!(matches!(
            answer(ElicitationAction::Cancel, None),
            ApprovalDecision::Deny(r) if r.contains("cancelled")
        ));
    }
}
