//! JavaScript tools: each call goes through one threadsafe dispatcher function per agent.

use std::sync::Arc;

use async_trait::async_trait;
use metricchat::ErrorKind;
use metricchat::approval::{ApprovalDecision, ApprovalHandler, ApprovalRequest, FnApprovalHandler};
use metricchat::connector::{ConnectorInfo, CredentialProvider, Credentials};
use metricchat::guard::UserContext;
use metricchat::tools::{DynTool, ExternalCall, ExternalHandler, ExternalTool, ToolError};
use napi::Status;
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
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
            ask_js(&dispatch, args).await.map_err(ToolError::failed)
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

/// Calls `dispatch` with `args` and reads its `{"ok": value}` / `{"error": "message"}` reply.
async fn ask_js(dispatch: &Dispatch, args: (String, String, String)) -> Result<Value, String> {
    let reply = match dispatch.call_async(args).await {
        Ok(promise) => promise.await,
        Err(e) => Err(e),
    }
    .map_err(|e| format!("the JavaScript callback did not answer: {e}"))?;
    let mut reply: Value = serde_json::from_str(&reply).map_err(|e| e.to_string())?;
    match reply.get("error") {
        Some(msg) => Err(msg.as_str().unwrap_or("failed").to_string()),
        None => Ok(reply.get_mut("ok").map(Value::take).unwrap_or(Value::Null)),
    }
}

/// The agent's approval handler: `approval(["approval", requestJson, ""])` resolves to
/// `{"ok": {"approved": bool, "reason": string | null}}` or `{"error": "message"}` (an error
/// denies the statement). When the host or the timeout decides first, the core drops this
/// handler's future and `approval(["approval.cancel", approvalId, ""])` aborts the JavaScript
/// handler's `signal`.
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
            let mut abort = AbortOnDrop {
                dispatch: Arc::clone(&approval),
                approval_id: request.approval_id.to_string(),
                armed: true,
            };
            let ok = ask_js(&approval, ("approval".into(), json, String::new())).await;
            abort.armed = false;
            let ok = ok.map_err(failed)?;
            Ok(match ok["approved"].as_bool() {
                Some(true) => ApprovalDecision::Approve,
                _ => ApprovalDecision::deny(ok["reason"].as_str().unwrap_or("denied")),
            })
        }
    }))
}

/// Aborts the JavaScript approval handler's `signal` when its future is dropped before the
/// handler answered.
struct AbortOnDrop {
    dispatch: Arc<Dispatch>,
    approval_id: String,
    armed: bool,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let args = (
                "approval.cancel".to_string(),
                std::mem::take(&mut self.approval_id),
                String::new(),
            );
            // Queued behind the call it cancels; never waits.
            let _ = self
                .dispatch
                .call(args, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// The agent's credentials provider: `credentials(["credentials", '{"user", "connection"}',
/// ""])` resolves to `{"ok": null | {"role", "token"}}` or `{"error": "message"}` (an error
/// fails the statement; nothing runs).
pub fn credentials_provider(credentials: Arc<Dispatch>) -> Arc<dyn CredentialProvider> {
    Arc::new(JsCredentials(credentials))
}

struct JsCredentials(Arc<Dispatch>);

impl std::fmt::Debug for JsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsCredentials")
    }
}

#[async_trait]
impl CredentialProvider for JsCredentials {
    async fn credentials_for(
        &self,
        user: Option<&UserContext>,
        connection: &ConnectorInfo,
    ) -> metricchat::Result<Option<Credentials>> {
        let args = json!({"user": user, "connection": connection}).to_string();
        let ok = ask_js(&self.0, ("credentials".into(), args, String::new()))
            .await
            .map_err(|reason| {
                metricchat::Error::run_as(
                    &connection.name,
                    user.map_or("(no user)", |u| u.id.as_str()),
                    format!("the credentials callback failed: {reason}"),
                    ErrorKind::Unauthorized,
                )
            })?;
        Credentials::from_answer(&ok)
    }
}
