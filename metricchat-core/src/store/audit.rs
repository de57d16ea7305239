//! The audit log: one [`AuditRecord`] per statement the agent, a tool or a binding ran (or the
//! guard refused), with the user, the run, the connection, the SQL as executed (after the data
//! policy's rewrite), the rules applied, rows, bytes, duration and outcome.
//!
//! Append-only: stores have [`Store::append_audit`](super::Store::append_audit) and
//! [`Store::audit_log`](super::Store::audit_log), no update or delete; the SQL stores also
//! refuse `UPDATE` and `DELETE` on the table with a trigger. [`audit_to_arrow`] exports
//! records as an Arrow batch.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Result;

/// How an audited statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// It ran and returned its rows.
    Success,
    /// The database (or the connection) failed it.
    Error,
    /// The guard refused it; nothing was executed.
    Refused,
    /// Its cost estimate needed approval and it was denied (by the host, the approval handler
    /// or the timeout); nothing was executed.
    Denied,
}

impl AuditOutcome {
    /// `success`, `error`, `refused` or `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Refused => "refused",
            Self::Denied => "denied",
        }
    }

    /// Parses [`AuditOutcome::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "error" => Some(Self::Error),
            "refused" => Some(Self::Refused),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// One audited statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Record id (time-ordered).
    pub id: Uuid,
    /// When the statement finished (or was refused).
    pub at: DateTime<Utc>,
    /// The user the request named.
    pub user_id: Option<String>,
    /// The run, when a run issued it (`None` for a direct `query`).
    pub run_id: Option<Uuid>,
    /// The query record of the run, when there is one.
    pub query_id: Option<Uuid>,
    /// Who issued it: `agent` (a built-in tool), `tool:<name>` (a custom tool) or `query`
    /// (`Agent::query` and the bindings' `agent.query`).
    pub source: String,
    /// The connection name.
    pub connection: String,
    /// The SQL as executed: after the policy's rewrite and the row cap (as given when refused).
    pub sql: String,
    /// The data-policy rules applied (`public.orders: rows filtered -ssn ~email`).
    pub policy: Vec<String>,
    /// Rows returned.
    pub rows: Option<u64>,
    /// Bytes of the result in memory (Arrow), where known.
    pub bytes: Option<u64>,
    /// Execution time.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The error or refusal reason.
    pub error: Option<String>,
}

/// Which audit records to list. Every set field must match; newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditFilter {
    /// Only this user's statements.
    pub user_id: Option<String>,
    /// Only this run's statements.
    pub run_id: Option<Uuid>,
    /// Only statements on this connection.
    pub connection: Option<String>,
    /// Only statements with this outcome.
    pub outcome: Option<AuditOutcome>,
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
    /// At most this many (default 1,000).
    pub limit: Option<u32>,
}

impl AuditFilter {
    /// Every record (up to the default limit).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only `user`'s statements.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user_id = Some(user.into());
        self
    }

    /// Only `run`'s statements.
    pub fn run(mut self, run: Uuid) -> Self {
        self.run_id = Some(run);
        self
    }

    /// Only statements on `connection`.
    pub fn connection(mut self, connection: impl Into<String>) -> Self {
        self.connection = Some(connection.into());
        self
    }

    /// Only statements with `outcome`.
    pub fn outcome(mut self, outcome: AuditOutcome) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// At most `n` records.
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }

    /// The limit in force.
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(1_000)
    }

    /// Whether `r` passes the filter (the memory store's test; the SQL stores do it in SQL).
    pub fn matches(&self, r: &AuditRecord) -> bool {
        self.user_id
            .as_ref()
            .is_none_or(|u| r.user_id.as_ref() == Some(u))
            && self.run_id.is_none_or(|id| r.run_id == Some(id))
            && self.connection.as_ref().is_none_or(|c| &r.connection == c)
            && self.outcome.is_none_or(|o| r.outcome == o)
            && self.since.is_none_or(|t| r.at >= t)
            && self.until.is_none_or(|t| r.at < t)
    }
}

/// The Arrow schema of [`audit_to_arrow`].
pub fn audit_schema() -> Arc<Schema> {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("at", ts, false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("run_id", DataType::Utf8, true),
        Field::new("query_id", DataType::Utf8, true),
        Field::new("source", DataType::Utf8, false),
        Field::new("connection", DataType::Utf8, false),
        Field::new("sql", DataType::Utf8, false),
        Field::new("policy", DataType::Utf8, true),
        Field::new("rows", DataType::UInt64, true),
        Field::new("bytes", DataType::UInt64, true),
        Field::new("duration_ms", DataType::UInt64, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
    ]))
}

/// Audit records as one Arrow batch ([`audit_schema`]); `policy` is the rules joined by `; `.
pub fn audit_to_arrow(records: &[AuditRecord]) -> Result<RecordBatch> {
    let text = |f: &dyn Fn(&AuditRecord) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(
            records.iter().map(f).collect::<Vec<Option<String>>>(),
        ))
    };
    let columns: Vec<ArrayRef> = vec![
        text(&|r| Some(r.id.to_string())),
        Arc::new(
            TimestampMillisecondArray::from(
                records
                    .iter()
                    .map(|r| r.at.timestamp_millis())
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ),
        text(&|r| r.user_id.clone()),
        text(&|r| r.run_id.map(|u| u.to_string())),
        text(&|r| r.query_id.map(|u| u.to_string())),
        text(&|r| Some(r.source.clone())),
        text(&|r| Some(r.connection.clone())),
        text(&|r| Some(r.sql.clone())),
        text(&|r| (!r.policy.is_empty()).then(|| r.policy.join("; "))),
        Arc::new(UInt64Array::from(
            records.iter().map(|r| r.rows).collect::<Vec<_>>(),
        )),
        Arc::new(UInt64Array::from(
            records.iter().map(|r| r.bytes).collect::<Vec<_>>(),
        )),
        Arc::new(UInt64Array::from(
            records.iter().map(|r| r.duration_ms).collect::<Vec<_>>(),
        )),
        text(&|r| Some(r.outcome.as_str().to_string())),
        text(&|r| r.error.clone()),
    ];
    Ok(RecordBatch::try_new(audit_schema(), columns)?)
}

/// Newest first, ties by id, at most the filter's limit: the order every store lists in.
pub(crate) fn newest_first(records: &mut Vec<AuditRecord>, filter: &AuditFilter) {
    records.sort_by_key(|r| std::cmp::Reverse((r.at, r.id)));
    records.truncate(filter.effective_limit() as usize);
}
