//! `NativeAgent` and `NativeRun`: the agent built from a spec, and one streaming run.

use std::sync::Arc;

use futures::StreamExt;
use metricchat::spec::AgentSpec;
use metricchat::{Agent, ErrorKind, Run};
use napi::bindgen_prelude::within_runtime_if_available;
use napi_derive::napi;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::data::NativeResult;
use crate::tools::{Dispatch, ToolDef, external_tool};
use crate::{coded, js};

/// An agent (cheap to share; runs are independent and may go on concurrently).
#[napi]
pub struct NativeAgent {
    agent: Agent,
}

/// Builds an agent from an `AgentSpec` object (snake_case keys) and JavaScript tools, whose
/// calls go through `dispatch`. Opens the store; makes no call to the model or the warehouses.
#[napi]
pub async fn create_agent(
    spec: serde_json::Value,
    tools: Vec<ToolDef>,
    #[napi(ts_arg_type = "((arg: [string, string, string]) => Promise<string>)")] dispatch: Option<
        Dispatch,
    >,
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
    let agent = js(spec.build(dyn_tools).await)?;
    Ok(NativeAgent { agent })
}

#[napi]
impl NativeAgent {
    /// Starts a run of `question`.
    #[napi]
    pub fn stream(&self, question: String) -> NativeRun {
        let run = within_runtime_if_available(|| self.agent.stream(question));
        NativeRun {
            run_id: run.run_id().to_string(),
            cancel: run.cancellation_token(),
            run: Arc::new(Mutex::new(Some(run))),
        }
    }

    /// Runs SQL through the agent's guard on `connection` (the only or first one when absent).
    #[napi]
    pub async fn query(
        &self,
        connection: Option<String>,
        sql: String,
    ) -> napi::Result<NativeResult> {
        let data = js(self.agent.query(connection.as_deref(), &sql).await)?;
        Ok(NativeResult::query(&sql, data))
    }

    /// The connections' names, backends and dialects.
    #[napi]
    pub fn connections(&self) -> napi::Result<serde_json::Value> {
        let infos: Vec<_> = self.agent.connections().iter().map(|c| c.info()).collect();
        serde_json::to_value(infos).map_err(|e| coded(ErrorKind::Internal, e))
    }

    /// The latest `limit` stored runs, newest first.
    #[napi]
    pub async fn runs(&self, limit: u32) -> napi::Result<serde_json::Value> {
        let runs = js(self.agent.store().list_runs(limit).await)?;
        serde_json::to_value(runs).map_err(|e| coded(ErrorKind::Internal, e))
    }
}

/// One run: its events one by one, then its result.
#[napi]
pub struct NativeRun {
    run_id: String,
    cancel: CancellationToken,
    run: Arc<Mutex<Option<Run>>>,
}

#[napi]
impl NativeRun {
    /// The run's id.
    #[napi(getter)]
    pub fn run_id(&self) -> String {
        self.run_id.clone()
    }

    /// Cancels the run: the model stream and any running query stop; events up to
    /// `run.finished` still arrive.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The next event as its JSON object, or `null` after the last one.
    #[napi]
    pub async fn next(&self) -> napi::Result<Option<serde_json::Value>> {
        let mut guard = self.run.lock().await;
        let Some(run) = guard.as_mut() else {
            return Ok(None);
        };
        Ok(run.next().await.map(|event| event.to_json()))
    }

    /// Drains the remaining events and returns the result, or the run's error
    /// (`[Cancelled]`, `[BudgetExceeded]`, …).
    #[napi]
    pub async fn finish(&self) -> napi::Result<NativeResult> {
        let run = self.run.lock().await.take();
        let Some(run) = run else {
            return Err(coded(
                ErrorKind::InvalidInput,
                "the run's result was already taken",
            ));
        };
        let result = js(run.finish().await)?;
        let data = result.dataset().map(|d| d.data.clone());
        Ok(NativeResult::new(result.to_json(), data))
    }
}
