//! The data policy and the audit log of requests: resolving the user's policy and binding it to
//! the connections' catalogs at the start of a run (or query), and appending audit records.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

use super::AgentInner;
use crate::connector::{ConnectorRef, QueryData, TableSchema};
use crate::error::{Error, Result};
use crate::guard::{BoundPolicy, GuardedSql, SqlGuard, UserContext};
use crate::store::{AuditOutcome, AuditRecord, Store};

/// The policy for `user`, bound to the catalogs of `connections`, or `None` when no provider is
/// set and the static policy is a plain allow/deny list (which the guard's config enforces as
/// before). Errors are [`Error::Policy`] (or the provider's own), before anything runs.
pub(crate) async fn bind(
    inner: &AgentInner,
    user: Option<&UserContext>,
) -> Result<Option<Arc<BoundPolicy>>> {
    let policy = match &inner.policy_provider {
        Some(p) => p.policy_for(user).await?,
        None => inner.config.guard.policy.clone(),
    };
    if inner.policy_provider.is_none() && !policy.is_row_level() {
        return Ok(None);
    }
    let mut catalogs = Vec::new();
    for conn in &inner.connections {
        catalogs.push((conn.info(), schemas(inner, conn).await?));
    }
    Ok(Some(Arc::new(BoundPolicy::bind(&policy, user, &catalogs)?)))
}

/// A connection's tables with their columns and kinds: from the context hub's cache when it
/// holds them, else from the connection.
async fn schemas(inner: &AgentInner, conn: &ConnectorRef) -> Result<Vec<TableSchema>> {
    inner.hub.load_catalogs(std::slice::from_ref(conn)).await?;
    if let Some(s) = inner.hub.cached_schemas(&conn.info().name)
        && !s.is_empty()
    {
        return Ok(s);
    }
    conn.catalog().await
}

/// The guard for a request: the agent's settings with the bound policy, if any.
pub(crate) fn guard(inner: &AgentInner, bound: Option<Arc<BoundPolicy>>) -> SqlGuard {
    let g = SqlGuard::new(inner.config.guard.clone());
    match bound {
        Some(b) => g.with_policy(b),
        None => g,
    }
}

/// What one audited statement was.
pub(crate) struct Audited<'a> {
    pub user: Option<&'a UserContext>,
    pub run_id: Option<Uuid>,
    pub query_id: Option<Uuid>,
    pub source: String,
    pub connection: String,
    /// The role (or `token`) the statement ran as, when not the connection's login.
    pub run_as: Option<String>,
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

/// Runs `sql` for [`Agent::query_with`](super::Agent::query_with): the user's policy bound,
/// checked and rewritten by the guard, executed, audited.
pub(crate) async fn query(
    inner: &AgentInner,
    connection: Option<&str>,
    sql: &str,
    user: Option<&UserContext>,
) -> Result<QueryData> {
    let conn = crate::connector::find_connection(&inner.connections, connection)?;
    let bound = bind(inner, user).await?;
    let required = bound.is_some();
    let guard = guard(inner, bound);
    let info = conn.info();
    let audited = Audited {
        user,
        run_id: None,
        query_id: None,
        source: "query".into(),
        connection: info.name.clone(),
        run_as: None,
    };
    let started = std::time::Instant::now();
    let guarded = match guard.check_on(sql, info.dialect, Some(&info.name)) {
        Ok(g) => g,
        Err(e) => {
            let rec = audited.record(sql, None, Err(&e), started.elapsed());
            append(&inner.store, &rec, required).await?;
            return Err(e);
        }
    };
    let opts = crate::connector::QueryOptions::default()
        .with_max_rows(guarded.row_cap.and_then(|c| usize::try_from(c).ok()))
        .with_timeout(guarded.timeout);
    let (run_as, result) = run_as(
        inner.credential_provider.as_deref(),
        user,
        conn,
        opts,
        &guarded.sql,
    )
    .await;
    let audited = Audited { run_as, ..audited };
    let rec = audited.record(sql, Some(&guarded), result.as_ref(), started.elapsed());
    append(&inner.store, &rec, required).await?;
    result
}

/// Resolves what `user` runs as on `conn` (the provider's credentials, checked against the
/// connector's capabilities) and runs `sql` as that identity. Returns how the audit log names
/// the identity with the result; a provider error or a credential the connector cannot honour
/// fails the statement before anything is executed.
pub(crate) async fn run_as(
    provider: Option<&dyn crate::connector::CredentialProvider>,
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
