//! Records of dashboards and re-run queries, and their part of the in-memory store.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{QueryRecord, QueryStatus};
use crate::dashboard::Dashboard;
use crate::error::{Error, Result};
use crate::viz::Chart;

/// One re-run of a stored query ([`crate::Agent::rerun_query`]): a new version of its result.
/// Version 1 is the first re-run (the original run is the query's own record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResultRecord {
    /// The query.
    pub query_id: Uuid,
    /// Version, from 1, set by the store.
    pub version: u32,
    /// Success or error.
    pub status: QueryStatus,
    /// SQL as run (after the guard).
    pub executed_sql: Option<String>,
    /// Rows returned.
    pub row_count: Option<u64>,
    /// Duration.
    pub duration_ms: Option<u64>,
    /// Error message.
    pub error: Option<String>,
    /// The query's charts re-rendered over the new data.
    pub charts: Vec<Chart>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A stored dashboard's latest version, for listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardSummary {
    /// Id.
    pub id: Uuid,
    /// Latest version.
    pub version: u32,
    /// Title of the latest version.
    pub title: String,
    /// When the latest version was saved.
    pub updated_at: DateTime<Utc>,
}

/// [`Error::NotFound`] for a query id.
pub(crate) fn query_not_found(id: Uuid) -> Error {
    Error::NotFound {
        what: "query",
        name: id.to_string(),
    }
}

/// The dashboards and query results of a [`super::MemoryStore`].
#[derive(Debug, Default)]
pub(crate) struct MemoryDashboards {
    /// Every version of every dashboard, with when it was saved.
    dashboards: HashMap<Uuid, Vec<(Dashboard, DateTime<Utc>)>>,
    results: HashMap<Uuid, Vec<QueryResultRecord>>,
}

impl MemoryDashboards {
    pub(crate) fn put_query_result(
        &mut self,
        queries: &[QueryRecord],
        r: &QueryResultRecord,
    ) -> Result<u32> {
        if !queries.iter().any(|q| q.id == r.query_id) {
            return Err(query_not_found(r.query_id));
        }
        let versions = self.results.entry(r.query_id).or_default();
        let version = u32::try_from(versions.len() + 1).unwrap_or(u32::MAX);
        let mut r = r.clone();
        r.version = version;
        versions.push(r);
        Ok(version)
    }

    pub(crate) fn query_results(&self, query_id: Uuid) -> Vec<QueryResultRecord> {
        self.results.get(&query_id).cloned().unwrap_or_default()
    }

    pub(crate) fn put_dashboard(&mut self, d: &Dashboard) -> Result<u32> {
        d.validate()?;
        let versions = self.dashboards.entry(d.id).or_default();
        let version = u32::try_from(versions.len() + 1).unwrap_or(u32::MAX);
        let mut d = d.clone();
        d.version = version;
        versions.push((d, Utc::now()));
        Ok(version)
    }

    pub(crate) fn get_dashboard(&self, id: Uuid, version: Option<u32>) -> Option<Dashboard> {
        let versions = self.dashboards.get(&id)?;
        match version {
            None => versions.last(),
            Some(v) => versions.iter().find(|(d, _)| d.version == v),
        }
        .map(|(d, _)| d.clone())
    }

    pub(crate) fn list_dashboards(&self, limit: u32) -> Vec<DashboardSummary> {
        let mut out: Vec<DashboardSummary> = self
            .dashboards
            .values()
            .filter_map(|v| v.last())
            .map(|(d, at)| DashboardSummary {
                id: d.id,
                version: d.version,
                title: d.title.clone(),
                updated_at: *at,
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse((s.updated_at, s.id)));
        out.truncate(limit as usize);
        out
    }
}
