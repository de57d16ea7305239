//! Python callables as the agent's approval handler and credentials provider. The Python side
//! passes `(invoke, cancel)`: `invoke(request_json, call_id) -> reply_json` calls the user's
//! sync or async function and encodes its answer; `cancel(call_id)` stops it (see
//! [`call_python`]). A raise denies the statement (approval) or fails it (credentials).

use std::sync::Arc;

use async_trait::async_trait;
use pyo3::prelude::*;

use metricchat::ErrorKind;
use metricchat::approval::{ApprovalDecision, ApprovalHandler, ApprovalRequest, FnApprovalHandler};
use metricchat::connector::{ConnectorInfo, CredentialProvider, Credentials};
use metricchat::guard::UserContext;

use crate::tools::call_python;

/// A Python `(invoke, cancel)` pair (see the module docs).
pub(crate) type Callback = (Py<PyAny>, Py<PyAny>);

/// The approval handler calling `decide`. When the host (or the timeout) decides first, the
/// core drops this handler's future and the Python call is stopped.
pub(crate) fn handler((invoke, cancel): Callback) -> Arc<dyn ApprovalHandler> {
    let (invoke, cancel) = (Arc::new(invoke), Arc::new(cancel));
    Arc::new(FnApprovalHandler(move |request: ApprovalRequest| {
        let (invoke, cancel) = (Arc::clone(&invoke), Arc::clone(&cancel));
        async move {
            let failed = |message: String| metricchat::Error::Tool {
                tool: "approval_handler".into(),
                message,
                source: None,
            };
            let json = serde_json::to_string(&request).map_err(|e| failed(e.to_string()))?;
            let reply = call_python(invoke, cancel, json)
                .await
                .map_err(|(message, _)| failed(message))?;
            let reply: serde_json::Value =
                serde_json::from_str(&reply).map_err(|e| failed(e.to_string()))?;
            Ok(match reply["approved"].as_bool() {
                Some(true) => ApprovalDecision::Approve,
                _ => ApprovalDecision::deny(reply["reason"].as_str().unwrap_or("denied")),
            })
        }
    }))
}

/// The credentials provider calling a Python function `(user, connection) -> None | role |
/// {"role", "token"}`; the Python side encodes the answer as `{"role": …, "token": …}` or
/// `null`.
pub(crate) fn credentials((invoke, cancel): Callback) -> Arc<dyn CredentialProvider> {
    Arc::new(PyCredentials {
        invoke: Arc::new(invoke),
        cancel: Arc::new(cancel),
    })
}

#[derive(Debug)]
struct PyCredentials {
    invoke: Arc<Py<PyAny>>,
    cancel: Arc<Py<PyAny>>,
}

#[async_trait]
impl CredentialProvider for PyCredentials {
    async fn credentials_for(
        &self,
        user: Option<&UserContext>,
        connection: &ConnectorInfo,
    ) -> metricchat::Result<Option<Credentials>> {
        let who = user.map_or("(no user)", |u| u.id.as_str()).to_string();
        let failed = |reason: String| {
            metricchat::Error::run_as(
                &connection.name,
                &who,
                format!("the credentials callback failed: {reason}"),
                ErrorKind::Unauthorized,
            )
        };
        let args = serde_json::json!({"user": user, "connection": connection}).to_string();
        let reply = call_python(Arc::clone(&self.invoke), Arc::clone(&self.cancel), args)
            .await
            .map_err(|(message, _)| failed(message))?;
        let reply: serde_json::Value =
            serde_json::from_str(&reply).map_err(|e| failed(e.to_string()))?;
        Credentials::from_answer(&reply)
    }
}
