//! Per-request options of [`Agent::stream_with`](super::Agent::stream_with) and friends: who is
//! asking (the data policy and the audit log follow the user) and what the model may see.

use super::DataExposure;
use crate::guard::UserContext;

/// Options for one request (`ask_with`, `stream_with`, `follow_up_with`, `query_with`).
///
/// The bindings pass it as an object with the same keys (`user`, `exposure`, `approval`, each
/// optional; an unknown key is an error), e.g.
/// `{"user": {"id": "u-17"}, "exposure": "schema_only", "approval": {"max_rows": 1000}}`.
///
/// ```
/// use metricchat_core::agent::RunOptions;
/// use metricchat_core::guard::UserContext;
///
/// let opts = RunOptions::new().user(UserContext::new("u-17").attribute("tenant_id", 7));
/// assert_eq!(opts.user.as_ref().map(|u| u.id.as_str()), Some("u-17"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RunOptions {
    /// The user the request is made for: their data policy applies, and the run, its events,
    /// the tool context and the audit log carry them.
    pub user: Option<UserContext>,
    /// What the model may see of this request's results; `None` keeps the agent's
    /// [`AgentConfig::exposure`](super::AgentConfig::exposure).
    pub exposure: Option<DataExposure>,
    /// The cost preflight for this request; `None` keeps the agent's
    /// [`AgentConfig::approval`](super::AgentConfig::approval).
    pub approval: Option<crate::approval::ApprovalPolicy>,
}

impl RunOptions {
    /// No user (the agent's static policy applies as it is).
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the bindings' object form, naming the key at fault in the error (`user: unknown
    /// field `tenant`…`); `null` is no options.
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a value that is not an object,
    /// an unknown key, or a key whose value does not fit.
    pub fn from_value(value: serde_json::Value) -> crate::Result<Self> {
        let map = match value {
            serde_json::Value::Null => return Ok(Self::new()),
            serde_json::Value::Object(map) => map,
            other => {
                return Err(crate::Error::invalid_input(format!(
                    "request options must be an object with `user`, `exposure`, `approval`, \
                     not {other}"
                )));
            }
        };
        let mut out = Self::new();
        for (key, v) in map {
            let bad = |e: serde_json::Error| crate::Error::invalid_input(format!("{key}: {e}"));
            if v.is_null() {
                continue;
            }
            match key.as_str() {
                "user" => out.user = Some(serde_json::from_value(v).map_err(bad)?),
                "exposure" => out.exposure = Some(serde_json::from_value(v).map_err(bad)?),
                "approval" => out.approval = Some(serde_json::from_value(v).map_err(bad)?),
                _ => {
                    return Err(crate::Error::invalid_input(format!(
                        "unknown request option `{key}`; expected `user`, `exposure` or \
                         `approval`"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// The request is made for `user`.
    pub fn user(mut self, user: UserContext) -> Self {
        self.user = Some(user);
        self
    }

    /// What the model may see of this request's results (overrides the agent's setting).
    pub fn exposure(mut self, exposure: DataExposure) -> Self {
        self.exposure = Some(exposure);
        self
    }

    /// The cost preflight for this request (overrides the agent's setting).
    pub fn approval(mut self, policy: crate::approval::ApprovalPolicy) -> Self {
        self.approval = Some(policy);
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_bindings_object_and_refuses_unknown_keys() {
        let opts: RunOptions = serde_json::from_str(
            r#"{"user": {"id": "u-17"}, "exposure": "schema_only", "approval": {"max_rows": 1000}}"#,
        )
        .unwrap();
        assert_eq!(opts.user.map(|u| u.id), Some("u-17".to_string()));
        assert_eq!(opts.exposure, Some(DataExposure::SchemaOnly));
        assert_eq!(opts.approval.and_then(|a| a.max_rows), Some(1000));
        assert_eq!(
            serde_json::from_str::<RunOptions>("{}").unwrap(),
            RunOptions::new()
        );
        assert!(serde_json::from_str::<RunOptions>(r#"{"exposur": "full"}"#).is_err());
        assert!(serde_json::from_str::<RunOptions>(r#"{"exposure": "everything"}"#).is_err());
    }

    #[test]
    fn from_value_names_the_key_at_fault() {
        let err = |v: serde_json::Value| RunOptions::from_value(v).unwrap_err().to_string();
        assert!(
            err(serde_json::json!({"user": {"id": "x", "tenant": 1}}))
                .contains("user: unknown field `tenant`")
        );
        assert!(err(serde_json::json!({"exposure": "everything"})).contains("exposure: "));
        assert!(
            err(serde_json::json!({"approval": {"max_row": 1}}))
                .contains("approval: unknown field `max_row`")
        );
        assert!(
            err(serde_json::json!({"exposur": "full"}))
                .contains("unknown request option `exposur`")
        );
        assert!(err(serde_json::json!([1])).contains("must be an object"));
        assert_eq!(
            RunOptions::from_value(serde_json::Value::Null).unwrap(),
            RunOptions::new()
        );
        let opts =
            RunOptions::from_value(serde_json::json!({"user": {"id": "u"}, "exposure": null}))
                .unwrap();
        assert_eq!(opts.user.map(|u| u.id).as_deref(), Some("u"));
        assert_eq!(opts.exposure, None);
    }
}
