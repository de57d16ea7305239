//! The audit log's side of running a statement: what one audited statement was, appending its
//! record, and running it as the user's own identity ([`CredentialProvider`]). Shared by the
//! run's tools ([`ToolContext`](super::ToolContext)) and [`Agent::query_with`](
//! crate::Agent::query_with).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

use crate::connector::{ConnectorRef, CredentialProvider, QueryData};
use crate::error::{Error, Result};
use crate::guard::{GuardedSql, UserContext};
use crate::store::{AuditOutcome, AuditRecord, Store};

/// What one audited statement was.
pub(crate) struct Audited<'a> {
    pub user: Option<&'a UserContext>,
    pub run_id: Option<Uuid>,
    pub query_id: Option<Uuid>,
    pub source: String,
    pub connection: String,
    /// The role (or `token`) the statement ran as, when not the connection's login.
    pub run_as: Option<String>,
    /// Who approved the statement, when its cost estimate needed a decision.
    pub approved_by: Option<&'static str>,
}

impl Audited<'_> {
    /// The record for a statement that ran (`result`) or was refused (`guarded` is `Err`).
    pub(crate) fn record(
        &self,
        sql: &str,
        guarded: Option<&GuardedSql>,
        result: std::result::Result<&QueryData, &Error>,
        duration: Duration,
    ) -> AuditRecord {
        let (outcome, rows, bytes, error) = match result {
            Ok(d) => (
                AuditOutcome::Success,
                Some(d.num_rows() as u64),
                Some(
                    d.batches
                        .iter()
                        .map(|b| b.get_array_memory_size() as u64)
                        .sum(),
                ),
                None,
            ),
            Err(e @ Error::SqlRefused { .. }) => {
                (AuditOutcome::Refused, None, None, Some(e.to_string()))
            }
            Err(e @ Error::NotApproved { by, .. }) => (
                AuditOutcome::Denied,
                None,
                None,
                Some(format!("{e} (by {by})")),
            ),
            Err(e) => (AuditOutcome::Error, None, None, Some(e.to_string())),
        };
        AuditRecord {
            id: Uuid::now_v7(),
            at: Utc::now(),
            user_id: self.user.map(|u| u.id.clone()),
            run_id: self.run_id,
            query_id: self.query_id,
            source: self.source.clone(),
            connection: self.connection.clone(),
            sql: guarded.map_or_else(|| sql.to_string(), |g| g.sql.clone()),
            policy: {
                let mut p: Vec<String> = guarded.map(|g| g.policy.clone()).unwrap_or_default();
                p.extend(self.run_as.as_ref().map(|r| format!("run as {r}")));
                p.extend(self.approved_by.map(|by| format!("approved by {by}")));
                p
            },
            rows,
            bytes,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            outcome,
            error,
        }
    }
}

/// Appends `record`; a store without an audit log is not an error when no policy is in force
/// (the agent worked without one before), but is when one is.
pub(crate) async fn append(
    store: &Arc<dyn Store>,
    record: &AuditRecord,
    required: bool,
) -> Result<()> {
    match store.append_audit(record).await {
        Ok(()) => Ok(()),
        Err(Error::Unsupported(_)) if !required => Ok(()),
        Err(e) => Err(e),
    }
}

/// Resolves what `user` runs as on `conn` (the provider's credentials, checked against the
/// connector's capabilities) and runs `sql` as that identity. Returns how the audit log names
/// the identity with the result; a provider error or a credential the connector cannot honour
/// fails the statement before anything is executed.
pub(crate) async fn run_as(
    provider: Option<&dyn CredentialProvider>,
    user: Option<&UserContext>,
    conn: &ConnectorRef,
    opts: crate::connector::QueryOptions,
    sql: &str,
) -> (Option<String>, Result<QueryData>) {
    let creds = match crate::connector::resolve_credentials(provider, user, &conn.info()).await {
        Ok(c) => c,
        Err(e) => return (None, Err(e)),
    };
    let named = creds
        .as_ref()
        .and_then(crate::connector::Credentials::describe);
    let result = async {
        crate::connector::collect_stream(conn.query(sql, opts.with_run_as(creds)).await?).await
    }
    .await;
    (named, result)
}
