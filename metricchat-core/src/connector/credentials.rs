//! Per-user credentials: the database role or token a query runs as ([`Credentials`]), and the
//! [`CredentialProvider`] a host implements to resolve them for a request's user.
//!
//! A connection logs in once, as the pool's login; with credentials a query runs as the user's
//! own identity on that login: PostgreSQL `SET LOCAL ROLE` inside the query's read-only
//! transaction, MySQL/MariaDB `SET ROLE` reset before the connection goes back to the pool,
//! Snowflake's statement `role`; a user's OAuth token in place of the connection's login on
//! Snowflake and BigQuery. A backend
//! that cannot honour a credential refuses the query with [`Error::RunAs`]; it never runs as
//! the pool's login instead. Connectors declare what they honour in
//! [`Capabilities::run_as_role`](super::Capabilities::run_as_role) and
//! [`Capabilities::run_as_token`](super::Capabilities::run_as_token), and the agent refuses
//! before calling one that does not.

use async_trait::async_trait;
use secrecy::SecretString;

use super::ConnectorInfo;
use crate::error::{Error, ErrorKind, Result};
use crate::identity::UserContext;

/// What one query runs as. Both empty means the pool's own login.
///
/// ```
/// use metricchat_core::connector::Credentials;
///
/// let c = Credentials::role("analyst_eu");
/// assert_eq!(c.role.as_deref(), Some("analyst_eu"));
/// // A token never shows in Debug output.
/// let c = c.with_token("secret-oauth-token");
/// assert!(!format!("{c:?}").contains("secret"));
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Credentials {
    /// The database role the query runs as (PostgreSQL `SET LOCAL ROLE`, MySQL/MariaDB
    /// `SET ROLE`, Snowflake's statement role). The pool's login must be allowed to take it.
    pub role: Option<String>,
    /// A token that replaces the connection's own for this query: the user's OAuth access
    /// token (Snowflake, BigQuery).
    pub token: Option<SecretString>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("role", &self.role)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl Credentials {
    /// Run as this database role.
    pub fn role(role: impl Into<String>) -> Self {
        Self {
            role: Some(role.into()),
            token: None,
        }
    }

    /// Run with this token in place of the connection's own.
    pub fn token(token: impl Into<String>) -> Self {
        Self {
            role: None,
            token: Some(SecretString::from(token.into())),
        }
    }

    /// Adds a token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(SecretString::from(token.into()));
        self
    }

    /// A host callback's answer as the bindings pass it: `null` (the pool's login), a role
    /// name, or `{"role": …, "token": …}` (either may be null or absent).
    ///
    /// ```
    /// use metricchat_core::connector::Credentials;
    /// use serde_json::json;
    ///
    /// assert_eq!(Credentials::from_answer(&json!("analyst")).unwrap().unwrap().role.as_deref(), Some("analyst"));
    /// assert!(Credentials::from_answer(&json!(null)).unwrap().is_none());
    /// let both = Credentials::from_answer(&json!({"role": "r", "token": "t"})).unwrap().unwrap();
    /// assert!(both.token.is_some());
    /// assert!(Credentials::from_answer(&json!(42)).is_err());
    /// assert!(Credentials::from_answer(&json!({"rol": "r"})).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for any other shape (naming what came, never a token).
    pub fn from_answer(answer: &serde_json::Value) -> Result<Option<Self>> {
        use serde_json::Value;
        let text = |v: Option<&Value>| -> Result<Option<String>> {
            match v {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::invalid_input(
                    "credentials: `role` and `token` must be strings or null",
                )),
            }
        };
        match answer {
            Value::Null => Ok(None),
            Value::String(role) => Ok(Some(Self::role(role.clone()))),
            Value::Object(m) if m.keys().all(|k| k == "role" || k == "token") => {
                let out = Self {
                    role: text(m.get("role"))?,
                    token: text(m.get("token"))?.map(SecretString::from),
                };
                Ok((!out.is_empty()).then_some(out))
            }
            Value::Object(m) => Err(Error::invalid_input(format!(
                "credentials must return null, a role name or {{role, token}}, not an object \
                 with keys {:?}",
                m.keys().collect::<Vec<_>>()
            ))),
            other => Err(Error::invalid_input(format!(
                "credentials must return null, a role name or {{role, token}}, not {}",
                match other {
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    _ => "a list",
                }
            ))),
        }
    }

    /// Whether this asks for nothing (the pool's login).
    pub fn is_empty(&self) -> bool {
        self.role.is_none() && self.token.is_none()
    }

    /// How the audit log names this identity: the role, `token` for a token alone (never the
    /// token itself), `None` when empty.
    pub fn describe(&self) -> Option<String> {
        match (&self.role, &self.token) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(_)) => Some("token".into()),
            (None, None) => None,
        }
    }

    /// Checks that `info`'s connector honours what this asks for: [`Error::RunAs`] (kind
    /// `Unsupported`) naming the connection otherwise, and for an empty role name.
    pub fn check_supported(&self, info: &ConnectorInfo) -> Result<()> {
        if let Some(role) = &self.role {
            if role.trim().is_empty() {
                return Err(Error::run_as(
                    &info.name,
                    role,
                    "the role name is empty",
                    ErrorKind::InvalidInput,
                ));
            }
            if !info.capabilities.run_as_role {
                return Err(Error::run_as(
                    &info.name,
                    role,
                    format!(
                        "the {} connector cannot run a query as a database role",
                        info.backend
                    ),
                    ErrorKind::Unsupported,
                ));
            }
        }
        if self.token.is_some() && !info.capabilities.run_as_token {
            return Err(Error::run_as(
                &info.name,
                "token",
                format!(
                    "the {} connector cannot run a query with a per-user token",
                    info.backend
                ),
                ErrorKind::Unsupported,
            ));
        }
        Ok(())
    }
}

/// Resolves what a request's user runs as on a connection. The host implements it (a map from
/// user to role, a token exchange); [`AgentBuilder::credential_provider`] installs it, and every
/// statement a run's tools or [`Agent::query_with`] execute asks it first, so a host may rotate
/// tokens (cache inside the provider when resolving is costly).
///
/// Returning `Ok(None)` runs as the pool's login; an error fails that statement (nothing runs).
///
/// [`AgentBuilder::credential_provider`]: crate::agent::AgentBuilder::credential_provider
/// [`Agent::query_with`]: crate::Agent::query_with
#[async_trait]
pub trait CredentialProvider: Send + Sync + std::fmt::Debug {
    /// The credentials `user` (`None`: the request named no user) runs as on `connection`.
    async fn credentials_for(
        &self,
        user: Option<&UserContext>,
        connection: &ConnectorInfo,
    ) -> Result<Option<Credentials>>;
}

/// The credentials for `user` on `info` from `provider`, checked against the connector's
/// capabilities; `None` when there is no provider or it names nothing.
pub(crate) async fn resolve(
    provider: Option<&dyn CredentialProvider>,
    user: Option<&UserContext>,
    info: &ConnectorInfo,
) -> Result<Option<Credentials>> {
    let Some(provider) = provider else {
        return Ok(None);
    };
    let creds = provider.credentials_for(user, info).await?;
    match creds {
        Some(c) if !c.is_empty() => {
            c.check_supported(info)?;
            Ok(Some(c))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::connector::{Capabilities, Dialect};

    fn info(caps: Capabilities) -> ConnectorInfo {
        ConnectorInfo {
            name: "wh".into(),
            backend: "sqlite".into(),
            dialect: Dialect::Sqlite,
            capabilities: caps,
        }
    }

    #[test]
    fn unsupported_credentials_are_refused_typed() {
        let none = info(Capabilities::none());
        let err = Credentials::role("a").check_supported(&none).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.to_string().contains("sqlite"), "{err}");
        let err = Credentials::token("t").check_supported(&none).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(!err.to_string().contains("t\""), "{err}");
        let roles = info(Capabilities::none().with_run_as_role(true));
        Credentials::role("a").check_supported(&roles).unwrap();
        let err = Credentials::role(" ").check_supported(&roles).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = Credentials::token("s3cr3t")
            .check_supported(&none)
            .unwrap_err();
        assert!(!format!("{err:?}").contains("s3cr3t"));
        assert_eq!(
            Credentials::token("s3cr3t").describe().as_deref(),
            Some("token")
        );
    }
}
