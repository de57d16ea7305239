//! JavaScript tools: each call goes through one threadsafe dispatcher function per agent.

use std::sync::Arc;

use metricchat::approval::{ApprovalDecision, ApprovalHandler, ApprovalRequest, FnApprovalHandler};
use metricchat::tools::{DynTool, ExternalCall, ExternalHandler, ExternalTool, ToolError};
use napi::Status;
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use serde_json::{Value, json};

/// `([toolName, argumentsJson, contextJson]) => Promise<replyJson>`, where the reply is
/// `{"ok": value}` or `{"error": "message"}` (the wrapper never lets the promise reject).
/// Weak: it does not keep the Node process alive.
pub type Dispatch = ThreadsafeFunction<
    (String, String, String),
    Promise<String>,
    (String, String, String),
    Status,
    false,
    true,
>;

/// A tool's description; its handler stays on the JavaScript side.
#[napi(object)]
pub struct ToolDef {
    /// Name (1-64 characters of A-Z, a-z, 0-9, _ or -).
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON Schema of the arguments (`"type": "object"`).
    pub parameters: Option<Value>,
}

/// An [`ExternalTool`] whose handler calls `dispatch`.
pub fn external_tool(
    def: ToolDef,
    dispatch: Arc<Dispatch>,
) -> metricchat::Result<Arc<dyn DynTool>> {
    let name = def.name.clone();
    let handler: ExternalHandler = Arc::new(move |call: ExternalCall| {
        let (dispatch, name) = (dispatch.clone(), name.clone());
        Box::pin(async move {
            let ctx = json!({"run_id": call.run_id, "execution_id": call.execution_id,
                             "question": call.question});
            let args = (name, call.arguments.to_string(), ctx.to_string());
            let reply = match dispatch.call_async(args).await {
                Ok(promise) => promise.await,
                Err(e) => Err(e),
            }
            .map_err(|e| ToolError::failed(format!("the JavaScript tool did not answer: {e}")))?;
            let mut reply: Value = serde_json::from_str(&reply)
                .map_err(|e| ToolError::failed(format!("the JavaScript tool's reply: {e}")))?;
            match reply.get("error") {
                Some(msg) => Err(ToolError::failed(msg.as_str().unwrap_or("tool failed"))),
                None => Ok(reply.get_mut("ok").map(Value::take).unwrap_or(Value::Null)),
            }
        })
    });
    let parameters = def.parameters.unwrap_or(Value::Null);
    Ok(Arc::new(ExternalTool::new(
        def.name,
        def.description,
        parameters,
        handler,
    )?))
}

/// The agent's approval handler: `approval(["approval", requestJson, ""])` resolves to
/// `{"ok": {"approved": bool, "reason": string | null}}` or `{"error": "message"}` (an error
/// denies the statement).
pub fn approval_handler(approval: Arc<Dispatch>) -> Arc<dyn ApprovalHandler> {
    Arc::new(FnApprovalHandler(move |request: ApprovalRequest| {
        let approval = approval.clone();
        async move {
            let failed = |e: String| metricchat::Error::Tool {
                tool: "approvalHandler".into(),
                message: e,
                source: None,
            };
            let json = serde_json::to_string(&request).map_err(|e| failed(e.to_string()))?;
            let reply = match approval
                .call_async(("approval".into(), json, String::new()))
                .await
            {
                Ok(promise) => promise.await,
                Err(e) => Err(e),
            }
            .map_err(|e| failed(format!("the JavaScript handler did not answer: {e}")))?;
            let reply: Value = serde_json::from_str(&reply).map_err(|e| failed(e.to_string()))?;
            if let Some(msg) = reply.get("error") {
                return Err(failed(msg.as_str().unwrap_or("failed").to_string()));
            }
            let ok = &reply["ok"];
            Ok(match ok["approved"].as_bool() {
                Some(true) => ApprovalDecision::Approve,
                _ => ApprovalDecision::deny(ok["reason"].as_str().unwrap_or("denied")),
            })
        }
    }))
}
