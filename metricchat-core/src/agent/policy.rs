//! The data policy of requests: resolving the user's policy and binding it to the connections'
//! catalogs at the start of a run (or query), and [`Agent::query_with`](super::Agent::query_with)
//! checked, run and audited under it. The audit records themselves are `run::audit`.

use std::sync::Arc;

use super::AgentInner;
use crate::connector::{ConnectorRef, QueryData, TableSchema};
use crate::error::Result;
use crate::guard::{BoundPolicy, SqlGuard, UserContext};
use crate::run::audit::{Audited, append, run_as};

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
        approved_by: None,
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
