//! `NativeAgent` and `NativeRun`: the agent built from a spec, and one streaming run.

use std::sync::Arc;

use metricchat::agent::SharedRun;
use metricchat::spec::AgentSpec;
use metricchat::{Agent, ErrorKind, Run};
use napi::bindgen_prelude::within_runtime_if_available;
use napi_derive::napi;

use metricchat::instructions::{
    InstructionFilter, InstructionStatus, MemoryFilter, NewInstruction, NewMemory,
};

use crate::data::NativeResult;
use crate::eval::{EvalOptions, NativeEvalRun};
use crate::tools::{Dispatch, ToolDef, approval_handler, credentials_provider, external_tool};
use crate::{coded, js, js_error};

/// An agent (cheap to share; runs are independent and may go on concurrently).
#[napi]
pub struct NativeAgent {
    agent: Agent,
}

/// Builds an agent from an `AgentSpec` object (snake_case keys) and JavaScript tools, whose
/// calls go through `dispatch`; `approval` decides approval requests and `credentials`
/// resolves what each statement runs as (see `tools.rs`). Opens the store; makes no call to
/// the model or the warehouses.
#[napi]
pub async fn create_agent(
    spec: serde_json::Value,
    tools: Vec<ToolDef>,
    #[napi(ts_arg_type = "((arg: [string, string, string]) => Promise<string>)")] dispatch: Option<
        Dispatch,
    >,
    #[napi(ts_arg_type = "((arg: [string, string, string]) => Promise<string>)")] approval: Option<
        Dispatch,
    >,
    #[napi(ts_arg_type = "((arg: [string, string, string]) => Promise<string>)")]
    credentials: Option<Dispatch>,
) -> napi::Result<NativeAgent> {
    let spec = js(AgentSpec::from_json(&spec.to_string()))?;
    let dispatch = dispatch.map(Arc::new);
    let mut dyn_tools = Vec::with_capacity(tools.len());
    for def in tools {
        let Some(dispatch) = &dispatch else {
            return Err(coded(ErrorKind::InvalidInput, "tools need a dispatcher"));
        };
        dyn_tools.push(js(external_tool(def, dispatch.clone()))?);
    }
    let mut builder = js(spec.builder(dyn_tools).await)?;
    if let Some(approval) = approval {
        builder = builder.approval_handler(approval_handler(Arc::new(approval)));
    }
    if let Some(credentials) = credentials {
        builder = builder.credential_provider(credentials_provider(Arc::new(credentials)));
    }
    let agent = js(builder.build())?;
    Ok(NativeAgent { agent })
}

#[napi]
impl NativeAgent {
    /// Starts a run of `question` with `options` (a `RunOptions` object: `user`, a
    /// `UserContext`; `exposure`; `approval`) when given.
    #[napi]
    pub fn stream(
        &self,
        question: String,
        options: Option<serde_json::Value>,
    ) -> napi::Result<NativeRun> {
        let options = run_options(options)?;
        let run = within_runtime_if_available(|| self.agent.stream_with(question, options));
        Ok(NativeRun { run: run.shared() })
    }

    /// Runs SQL through the agent's guard on `connection` (the only or first one when absent),
    /// with `options` (a `RunOptions` object) when given: its `user`'s data policy rewrites it
    /// and their credentials apply; the statement is audited.
    #[napi]
    pub async fn query(
        &self,
        connection: Option<String>,
        sql: String,
        options: Option<serde_json::Value>,
    ) -> napi::Result<NativeResult> {
        let options = run_options(options)?;
        let data = js(self
            .agent
            .query_with(connection.as_deref(), &sql, options)
            .await)?;
        Ok(NativeResult::query(&sql, data))
    }

    /// The audit log entries matching an `AuditFilter` (`user_id`, `run_id`, `connection`,
    /// `outcome`, `since`, `until`, `limit`), newest first.
    #[napi]
    pub async fn audit_log(&self, filter: serde_json::Value) -> napi::Result<serde_json::Value> {
        let filter: metricchat::store::AuditFilter = from_value(filter)?;
        to_value(js(self.agent.audit_log(&filter).await)?)
    }

    /// The connections' names, backends and dialects.
    #[napi]
    pub fn connections(&self) -> napi::Result<serde_json::Value> {
        let infos: Vec<_> = self.agent.connections().iter().map(|c| c.info()).collect();
        serde_json::to_value(infos).map_err(|e| coded(ErrorKind::Internal, e))
    }

    /// The team's rules in prompt order.
    #[napi]
    pub fn rules(&self) -> Vec<String> {
        self.agent.context_hub().rules()
    }

    /// Adds a rule for runs started from now on; returns whether it was new.
    #[napi]
    pub fn add_rule(&self, rule: String) -> bool {
        self.agent.context_hub().add_rule(&rule)
    }

    /// Removes a rule; returns whether it was there.
    #[napi]
    pub fn remove_rule(&self, rule: String) -> bool {
        self.agent.context_hub().remove_rule(&rule)
    }

    /// Adds an instruction from a `NewInstruction` object; returns the stored one.
    #[napi]
    pub async fn add_instruction(&self, new: serde_json::Value) -> napi::Result<serde_json::Value> {
        let new: NewInstruction = from_value(new)?;
        to_value(js(self.agent.instructions().add(new).await)?)
    }

    /// Sets an instruction's status (`draft`, `approved`, `archived`); returns it.
    #[napi]
    pub async fn set_instruction_status(
        &self,
        id: String,
        status: String,
    ) -> napi::Result<serde_json::Value> {
        let status: InstructionStatus = from_value(serde_json::Value::String(status))?;
        let id = uuid(&id)?;
        to_value(js(self.agent.instructions().set_status(id, status).await)?)
    }

    /// Deletes an instruction.
    #[napi]
    pub async fn delete_instruction(&self, id: String) -> napi::Result<()> {
        js(self.agent.instructions().delete(uuid(&id)?).await)
    }

    /// Instructions matching an `InstructionFilter` object.
    #[napi]
    pub async fn list_instructions(
        &self,
        filter: serde_json::Value,
    ) -> napi::Result<serde_json::Value> {
        let filter: InstructionFilter = from_value(filter)?;
        to_value(js(self.agent.instructions().list(&filter).await)?)
    }

    /// Adds a memory from a `NewMemory` object; returns it.
    #[napi]
    pub async fn add_memory(&self, new: serde_json::Value) -> napi::Result<serde_json::Value> {
        let new: NewMemory = from_value(new)?;
        to_value(js(self.agent.memories().add(new).await)?)
    }

    /// Memories matching a `MemoryFilter` object.
    #[napi]
    pub async fn list_memories(
        &self,
        filter: serde_json::Value,
    ) -> napi::Result<serde_json::Value> {
        let filter: MemoryFilter = from_value(filter)?;
        to_value(js(self.agent.memories().list(&filter).await)?)
    }

    /// The `k` memories most relevant to `text`.
    #[napi]
    pub async fn search_memories(&self, text: String, k: u32) -> napi::Result<serde_json::Value> {
        to_value(js(self.agent.memories().search(&text, k as usize).await)?)
    }

    /// Deletes a memory.
    #[napi]
    pub async fn delete_memory(&self, id: String) -> napi::Result<()> {
        js(self.agent.memories().delete(uuid(&id)?).await)
    }

    /// What a run of `question` would send the model: `{ plan, explanation }`.
    #[napi]
    pub async fn explain_context(&self, question: String) -> napi::Result<serde_json::Value> {
        let plan = js(self.agent.explain_context(&question).await)?;
        Ok(serde_json::json!({ "plan": to_value(&plan)?, "explanation": plan.explain() }))
    }

    /// Rules, instructions, memories and knowledge resources matching `query`.
    #[napi]
    pub fn search_knowledge(&self, query: String, k: u32) -> napi::Result<serde_json::Value> {
        to_value(
            self.agent
                .context_hub()
                .search_knowledge(&query, k as usize),
        )
    }

    /// Starts running an eval suite (`suite` is a path when `is_path`, else YAML/JSON text);
    /// the suite is read and checked before this returns.
    #[napi]
    pub fn eval_suite(
        &self,
        suite: String,
        is_path: bool,
        options: Option<EvalOptions>,
    ) -> napi::Result<NativeEvalRun> {
        crate::eval::start(
            self.agent.clone(),
            &suite,
            is_path,
            options.unwrap_or_default(),
        )
    }

    /// Eval reports kept in the store (of `suite`, or every suite), newest first.
    #[napi]
    pub async fn eval_history(
        &self,
        suite: Option<String>,
        limit: u32,
    ) -> napi::Result<serde_json::Value> {
        crate::eval::history(&self.agent, suite, limit).await
    }

    /// The latest `limit` stored runs, newest first.
    #[napi]
    pub async fn runs(&self, limit: u32) -> napi::Result<serde_json::Value> {
        let runs = js(self.agent.store().list_runs(limit).await)?;
        serde_json::to_value(runs).map_err(|e| coded(ErrorKind::Internal, e))
    }

    // --- Dashboards (issue 16): dashboards cross as plain objects (the core's JSON form).

    /// Re-runs stored query `query_id` through the guard, storing a new result version.
    #[napi]
    pub async fn rerun_query(&self, query_id: String) -> napi::Result<NativeResult> {
        let id = crate::parse_uuid(&query_id)?;
        let d = js(self.agent.rerun_query(id).await)?;
        Ok(NativeResult::query(&d.sql, d.data))
    }

    /// A dashboard built from stored run `run_id`, not refreshed.
    #[napi]
    pub async fn dashboard_from_run(&self, run_id: String) -> napi::Result<serde_json::Value> {
        let id = crate::parse_uuid(&run_id)?;
        let d = js(self.agent.dashboard_from_run(id).await)?;
        Ok(crate::dashboard::to_object(&d))
    }

    /// `dashboard` refreshed through this agent.
    #[napi]
    pub async fn refresh_dashboard(
        &self,
        dashboard: serde_json::Value,
    ) -> napi::Result<serde_json::Value> {
        let mut d = crate::dashboard::from_object(dashboard)?;
        d.refresh(&self.agent).await;
        Ok(crate::dashboard::to_object(&d))
    }

    /// Saves `dashboard` as a new version; resolves to it with its version.
    #[napi]
    pub async fn save_dashboard(
        &self,
        dashboard: serde_json::Value,
    ) -> napi::Result<serde_json::Value> {
        let mut d = crate::dashboard::from_object(dashboard)?;
        js(self.agent.save_dashboard(&mut d).await)?;
        Ok(crate::dashboard::to_object(&d))
    }

    /// A stored dashboard (its latest version, or `version`), or null.
    #[napi]
    pub async fn get_dashboard(
        &self,
        id: String,
        version: Option<u32>,
    ) -> napi::Result<serde_json::Value> {
        let id = crate::parse_uuid(&id)?;
        let d = js(self.agent.store().get_dashboard(id, version).await)?;
        Ok(d.map_or(serde_json::Value::Null, |d| crate::dashboard::to_object(&d)))
    }

    /// Stored dashboards (latest versions), most recently saved first.
    #[napi]
    pub async fn list_dashboards(&self, limit: u32) -> napi::Result<serde_json::Value> {
        let list = js(self.agent.store().list_dashboards(limit).await)?;
        serde_json::to_value(list).map_err(|e| coded(ErrorKind::Internal, e))
    }
}

/// One run: its events one by one, then its result.
///
/// The core's [`SharedRun`]: several JavaScript readers may await `next` at once (each event goes
/// to one of them, in order, and all of them see the end), and `finish` may be awaited again.
#[napi]
pub struct NativeRun {
    run: SharedRun<Run>,
}

#[napi]
impl NativeRun {
    /// The run's id.
    #[napi(getter)]
    pub fn run_id(&self) -> String {
        self.run.run_id().to_string()
    }

    /// Cancels the run: the model stream and any running query stop; events up to
    /// `run.finished` still arrive.
    #[napi]
    pub fn cancel(&self) {
        self.run.cancel();
    }

    /// Approves the statement of `approval.requested` `approvalId`: it runs.
    #[napi]
    pub fn approve(&self, approval_id: String) -> napi::Result<()> {
        js(self.run.approve(uuid(&approval_id)?))
    }

    /// Denies the statement of `approval.requested` `approvalId`; the model reads
    /// `not approved: <reason>`.
    #[napi]
    pub fn deny(&self, approval_id: String, reason: String) -> napi::Result<()> {
        js(self.run.deny(uuid(&approval_id)?, reason))
    }

    /// The approval requests waiting for a decision (`ApprovalRequest` objects).
    #[napi]
    pub fn pending_approvals(&self) -> napi::Result<serde_json::Value> {
        to_value(js(self.run.approvals())?.pending())
    }

    /// The next event as its JSON object, or `null` after the last one.
    #[napi]
    pub async fn next(&self) -> napi::Result<Option<serde_json::Value>> {
        Ok(self.run.next().await.map(|event| event.to_json()))
    }

    /// Drains the remaining events and returns the result, or the run's error
    /// (`[Cancelled]`, `[BudgetExceeded]`, …).
    #[napi]
    pub async fn finish(&self) -> napi::Result<NativeResult> {
        let result = self.run.finish().await.as_ref().map_err(js_error)?;
        let data = result.dataset().map(|d| d.data.clone());
        Ok(NativeResult::new(result.to_json(), data))
    }
}

/// Per-request options from the optional `RunOptions` object (`user`, `exposure`, `approval`).
fn run_options(options: Option<serde_json::Value>) -> napi::Result<metricchat::agent::RunOptions> {
    options.map_or_else(
        || Ok(metricchat::agent::RunOptions::new()),
        |o| js(metricchat::agent::RunOptions::from_value(o)),
    )
}

/// A JavaScript object read as `T` (an `InvalidInput` error naming what did not fit).
fn from_value<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> napi::Result<T> {
    serde_json::from_value(v).map_err(|e| coded(ErrorKind::InvalidInput, e))
}

/// A value as a JavaScript object.
fn to_value<T: serde::Serialize>(v: T) -> napi::Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| coded(ErrorKind::Internal, e))
}

/// An id given by JavaScript.
fn uuid(id: &str) -> napi::Result<uuid::Uuid> {
    id.parse()
        .map_err(|e| coded(ErrorKind::InvalidInput, format!("`{id}` is not an id: {e}")))
}
