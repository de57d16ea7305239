//! The crate's one error type and the portable [`ErrorKind`] callers branch on.

use std::time::Duration;

/// A boxed error kept as the operator-facing cause of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used across metricchat.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Portable classification of an [`Error`], identical in Rust, Python and Node.
///
/// Python raises one exception class per kind (under `MetricChatError`); Node sets `err.code`
/// to the variant's name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller passed something malformed (bad URL, bad config, SQL the guard refuses).
    InvalidInput,
    /// A table, run, file or other named thing does not exist.
    NotFound,
    /// Credentials were missing or rejected, or a login is refused as too privileged.
    Unauthorized,
    /// A provider asked us to slow down.
    RateLimited,
    /// Something took longer than its limit.
    Timeout,
    /// The run or operation was cancelled by the caller.
    Cancelled,
    /// A database rejected or failed a query.
    QueryFailed,
    /// The language model failed or produced unusable output.
    Llm,
    /// A tool failed.
    Tool,
    /// A run budget (iterations, tokens, cost, wall time) ran out.
    BudgetExceeded,
    /// The prompt does not fit the model's context window; retrying the same request cannot
    /// help, a shorter one may.
    ContextLengthExceeded,
    /// The provider's safety system blocked the prompt or cut the answer.
    ContentFiltered,
    /// The backend cannot do what was asked.
    Unsupported,
    /// A bug or an unexpected state inside metricchat.
    Internal,
}

impl ErrorKind {
    /// The kind's name, as used by the Python exception classes and Node's `err.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "InvalidInput",
            Self::NotFound => "NotFound",
            Self::Unauthorized => "Unauthorized",
            Self::RateLimited => "RateLimited",
            Self::Timeout => "Timeout",
            Self::Cancelled => "Cancelled",
            Self::QueryFailed => "QueryFailed",
            Self::Llm => "Llm",
            Self::Tool => "Tool",
            Self::BudgetExceeded => "BudgetExceeded",
            Self::ContextLengthExceeded => "ContextLengthExceeded",
            Self::ContentFiltered => "ContentFiltered",
            Self::Unsupported => "Unsupported",
            Self::Internal => "Internal",
        }
    }
}

impl ErrorKind {
    /// `false` for kinds where sending the same request again cannot succeed whatever the HTTP
    /// status said (a too-long prompt, a filtered answer).
    fn retryable_by_nature(self) -> bool {
        !matches!(self, Self::ContextLengthExceeded | Self::ContentFiltered)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which run budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// `max_iterations` planner steps.
    Iterations,
    /// `max_tokens` prompt + completion tokens.
    Tokens,
    /// `max_wall_time` since the run started.
    WallTime,
    /// `max_cost_usd` at the model's prices.
    Cost,
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Budget::Iterations => "iterations",
            Budget::Tokens => "tokens",
            Budget::WallTime => "wall time",
            Budget::Cost => "cost",
        })
    }
}

/// Everything that can go wrong in metricchat, with structured fields and the original cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Malformed input from the caller.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What was wrong.
        message: String,
    },
    /// A configuration value was missing or malformed.
    #[error("invalid configuration for {component}: {message}")]
    Config {
        /// The component being configured (`openai`, `datafusion`, …).
        component: String,
        /// What was wrong.
        message: String,
    },
    /// A named thing does not exist.
    #[error("{what} not found: {name}")]
    NotFound {
        /// The sort of thing (`table`, `run`, `file`, `tool`).
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The SQL guard refused a statement.
    #[error("SQL refused: {reason}")]
    SqlRefused {
        /// Why, in words the model can act on.
        reason: String,
        /// The refused SQL.
        sql: String,
    },
    /// A statement above the approval policy's cost thresholds was not approved: the host or
    /// the approval handler denied it, no decision came in time, or the run was cancelled
    /// while it waited (see [`crate::approval`]). Nothing was executed.
    #[error("not approved: {reason}")]
    NotApproved {
        /// Why, as the deciding side put it (the model reads it).
        reason: String,
        /// Who decided: `host`, `handler`, `timeout` or `cancelled`.
        by: String,
    },
    /// A data policy cannot be applied: it names an unknown table or column, a row-filter or
    /// mask template does not parse, or the user lacks an attribute a template needs. Raised
    /// at the start of a run (or query), before anything is executed.
    #[error("invalid data policy: {reason}")]
    Policy {
        /// What is wrong, naming the table, column, template or attribute.
        reason: String,
    },
    /// The database failed a query.
    #[error("query failed on {connector}: {message}")]
    Query {
        /// The connection name.
        connector: String,
        /// The database's message.
        message: String,
        /// SQLSTATE or engine error code, where the engine gives one.
        code: Option<String>,
        /// The driver error.
        #[source]
        source: Option<BoxError>,
    },
    /// A connector could not reach or use its backend.
    #[error("connection error on {connector}: {message}")]
    Connection {
        /// The connection name.
        connector: String,
        /// What happened.
        message: String,
        /// The driver error.
        #[source]
        source: Option<BoxError>,
    },
    /// An LLM provider returned an HTTP error or failed on the wire.
    #[error("{provider} request failed{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Provider {
        /// The provider (`openai`, …).
        provider: String,
        /// HTTP status, when there was a response.
        status: Option<u16>,
        /// The provider's message.
        message: String,
        /// Kind derived from the status and body.
        kind: ErrorKind,
        /// Server-requested wait before retrying.
        retry_after: Option<Duration>,
        /// The transport error.
        #[source]
        source: Option<BoxError>,
    },
    /// The model's output could not be used (not JSON, unknown tool, …) after repair attempts.
    #[error("unusable model output: {message}")]
    ModelOutput {
        /// What was wrong with it.
        message: String,
        /// The raw output, truncated.
        raw: String,
    },
    /// A tool failed.
    #[error("tool `{tool}` failed: {message}")]
    Tool {
        /// The tool's name.
        tool: String,
        /// The model-visible message.
        message: String,
        /// The operator-only cause.
        #[source]
        source: Option<BoxError>,
    },
    /// An operation exceeded its time limit.
    #[error("{operation} timed out after {}ms", after.as_millis())]
    Timeout {
        /// What timed out.
        operation: String,
        /// The limit.
        after: Duration,
    },
    /// The run or operation was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A run budget ran out.
    #[error("run budget exceeded: {budget} (limit {limit})")]
    BudgetExceeded {
        /// Which budget.
        budget: Budget,
        /// The limit, as text (`12`, `60s`, …).
        limit: String,
    },
    /// A connector refused to run model-written SQL because its login holds privileges that
    /// work inside a read-only transaction (server files, programs, other sessions, global
    /// settings) and the embedder did not opt in with `allow_privileged_login`.
    #[error(
        "{connector}: login `{user}` is privileged ({}); model-written SQL does not run on such a login. {hint}",
        privileges.join(", ")
    )]
    PrivilegedLogin {
        /// The connection name.
        connector: String,
        /// The database user the connection logs in as.
        user: String,
        /// What makes the login privileged, as the engine names it (`superuser`,
        /// `member of pg_execute_server_program`, `FILE`, `SUPER`, …).
        privileges: Vec<String>,
        /// Why this matters, the SQL that creates a least-privilege login on this engine, and
        /// how to opt in.
        hint: String,
    },
    /// A query could not run as the user's own database identity ([`Credentials`]): the
    /// backend cannot take one (`Unsupported`), the role does not exist or the login may not
    /// take it (`Unauthorized`), or the name is empty (`InvalidInput`). Nothing was executed.
    ///
    /// [`Credentials`]: crate::connector::Credentials
    #[error("{connector}: cannot run as `{identity}`: {reason}")]
    RunAs {
        /// The connection name.
        connector: String,
        /// The role asked for (`token` for a token, which is never shown).
        identity: String,
        /// Why, with the engine's message where it gave one.
        reason: String,
        /// `Unsupported`, `Unauthorized` or `InvalidInput`.
        kind: ErrorKind,
    },
    /// The backend cannot do this.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Persistence failed.
    #[error("store error: {message}")]
    Store {
        /// What failed.
        message: String,
        /// The driver error.
        #[source]
        source: Option<BoxError>,
    },
    /// Arrow failed to build or convert data.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A bug or unexpected state.
    #[error("internal error: {0}")]
    Internal(String),
    /// A dashboard, or one of its blocks, is unusable: unknown fields, a block naming a missing
    /// query or connection, a parameter of the wrong type (see [`crate::dashboard`]).
    #[error("dashboard{}: {message}", block.as_ref().map(|b| format!(" block `{b}`")).unwrap_or_default())]
    Dashboard {
        /// The block at fault (`None` for the dashboard as a whole or a parameter).
        block: Option<String>,
        /// What is wrong.
        message: String,
        /// `InvalidInput` or `NotFound`.
        kind: ErrorKind,
    },
}

impl Error {
    /// The portable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. }
            | Error::Config { .. }
            | Error::SqlRefused { .. }
            | Error::NotApproved { .. }
            | Error::Policy { .. } => ErrorKind::InvalidInput,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::PrivilegedLogin { .. } => ErrorKind::Unauthorized,
            Error::Query { .. } => ErrorKind::QueryFailed,
            Error::Connection { .. } => ErrorKind::QueryFailed,
            Error::Provider { kind, .. } => *kind,
            Error::ModelOutput { .. } => ErrorKind::Llm,
            Error::Tool { .. } => ErrorKind::Tool,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::BudgetExceeded { .. } => ErrorKind::BudgetExceeded,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Store { .. } | Error::Arrow(_) | Error::Internal(_) => ErrorKind::Internal,
            Error::Dashboard { kind, .. } | Error::RunAs { kind, .. } => *kind,
        }
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Provider { kind, status, .. } => {
                if !kind.retryable_by_nature() {
                    return false;
                }
                matches!(kind, ErrorKind::RateLimited | ErrorKind::Timeout)
                    || status.is_some_and(|s| s >= 500)
                    || (status.is_none() && *kind == ErrorKind::Llm)
            }
            Error::Connection { .. } | Error::Timeout { .. } => true,
            _ => false,
        }
    }

    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::RunAs`].
    pub fn run_as(
        connector: impl Into<String>,
        identity: impl Into<String>,
        reason: impl Into<String>,
        kind: ErrorKind,
    ) -> Self {
        Error::RunAs {
            connector: connector.into(),
            identity: identity.into(),
            reason: reason.into(),
            kind,
        }
    }

    /// Shorthand for [`Error::Config`].
    pub fn config(component: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            component: component.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Store`] with a driver cause.
    pub fn store(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Store {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A serialisable summary for events and stored records.
    pub fn info(&self) -> ErrorInfo {
        ErrorInfo {
            kind: self.kind(),
            message: self.to_string(),
        }
    }
}

/// The serialisable face of an [`Error`]: its kind and message (never the operator-only cause).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ErrorInfo {
    /// The portable kind.
    pub kind: ErrorKind,
    /// The message.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_retryability() {
        let e = Error::Provider {
            provider: "openai".into(),
            status: Some(429),
            message: "slow down".into(),
            kind: ErrorKind::RateLimited,
            retry_after: Some(Duration::from_secs(1)),
            source: None,
        };
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert!(e.is_retryable());
        assert_eq!(e.to_string(), "openai request failed (HTTP 429): slow down");
        let e = Error::SqlRefused {
            reason: "writes".into(),
            sql: "DROP TABLE x".into(),
        };
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(!e.is_retryable());
        assert_eq!(ErrorKind::QueryFailed.to_string(), "QueryFailed");
        for kind in [ErrorKind::ContextLengthExceeded, ErrorKind::ContentFiltered] {
            // Even a 5xx or a status-less stream error of these kinds is not retried.
            for status in [None, Some(500)] {
                let e = Error::Provider {
                    provider: "openai".into(),
                    status,
                    message: "no".into(),
                    kind,
                    retry_after: None,
                    source: None,
                };
                assert_eq!(e.kind(), kind);
                assert!(!e.is_retryable(), "{kind} {status:?}");
            }
        }
        assert_eq!(
            ErrorKind::ContextLengthExceeded.as_str(),
            "ContextLengthExceeded"
        );
        assert_eq!(ErrorKind::ContentFiltered.as_str(), "ContentFiltered");
        let e = Error::PrivilegedLogin {
            connector: "shop".into(),
            user: "postgres".into(),
            privileges: vec!["superuser".into(), "REPLICATION".into()],
            hint: "Use a read-only role.".into(),
        };
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "shop: login `postgres` is privileged (superuser, REPLICATION); model-written SQL \
             does not run on such a login. Use a read-only role."
        );
    }
}
