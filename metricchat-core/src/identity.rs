//! Who is asking ([`UserContext`]): a leaf module, so the guard's policies, the connectors'
//! credential providers, the run and the store all name one type without importing each other.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Who is asking: given per request (`ask`, `stream`, `follow_up`, `query`), carried on the run
/// record, the events, the tool context and the audit log.
///
/// ```
/// use metricchat_core::guard::UserContext;
///
/// let user = UserContext::new("u-17").role("analyst").attribute("tenant_id", 7);
/// assert_eq!(user.attributes["tenant_id"], 7);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct UserContext {
    /// The user's id in the host application.
    pub id: String,
    /// Roles, for the host's [`PolicyProvider`](crate::guard::PolicyProvider).
    pub roles: Vec<String>,
    /// Free-form attributes (`tenant_id`, `region`, …) that row-filter placeholders bind to.
    /// Numbers, strings, booleans, and lists of those for `IN (:name)`.
    pub attributes: BTreeMap<String, serde_json::Value>,
}

impl UserContext {
    /// A user with this id, no roles and no attributes.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    /// Adds a role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// Sets an attribute.
    pub fn attribute(
        mut self,
        name: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }

    /// Whether the user has `role` (case-sensitive).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}
