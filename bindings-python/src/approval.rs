//! A Python callable as the agent's approval handler. The Python side passes
//! `decide(request_json) -> decision_json` (it calls the user's sync or async function and
//! encodes `{"approved": bool, "reason": str | None}`); the call runs on a blocking thread so
//! the runtime never waits on the GIL. A raise denies the statement.

use std::sync::Arc;

use pyo3::prelude::*;

use metricchat::approval::{ApprovalDecision, ApprovalHandler, ApprovalRequest, FnApprovalHandler};

/// The handler calling `decide`.
pub(crate) fn handler(decide: Py<PyAny>) -> Arc<dyn ApprovalHandler> {
    let decide = Arc::new(decide);
    Arc::new(FnApprovalHandler(move |request: ApprovalRequest| {
        let decide = Arc::clone(&decide);
        async move {
            let failed = |message: String| metricchat::Error::Tool {
                tool: "approval_handler".into(),
                message,
                source: None,
            };
            let json = serde_json::to_string(&request).map_err(|e| failed(e.to_string()))?;
            let reply = tokio::task::spawn_blocking(move || {
                Python::attach(|py| {
                    decide
                        .call1(py, (json,))
                        .and_then(|v| v.extract::<String>(py))
                        .map_err(|e| e.to_string())
                })
            })
            .await
            .map_err(|e| failed(e.to_string()))?
            .map_err(failed)?;
            let reply: serde_json::Value =
                serde_json::from_str(&reply).map_err(|e| failed(e.to_string()))?;
            Ok(match reply["approved"].as_bool() {
                Some(true) => ApprovalDecision::Approve,
                _ => ApprovalDecision::deny(reply["reason"].as_str().unwrap_or("denied")),
            })
        }
    }))
}
