//! Cost preflight and approval: before model-written SQL runs, the engine's estimate
//! ([`Connector::estimate`](crate::connector::Connector::estimate)) is held against the
//! [`ApprovalPolicy`]'s thresholds; a statement above one waits for a decision from the host
//! ([`Run::approve`](crate::Run::approve) / [`Run::deny`](crate::Run::deny)) or from an
//! [`ApprovalHandler`], and a timeout denies it.
//!
//! ```
//! use metricchat_core::approval::ApprovalPolicy;
//!
//! let policy: ApprovalPolicy =
//!     serde_json::from_str(r#"{"max_rows": 1000000, "max_bytes": 10000000000, "timeout": "2m"}"#)?;
//! assert_eq!(policy.timeout, std::time::Duration::from_secs(120));
//! assert!(policy.is_active());
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::connector::CostEstimate;
use crate::error::{Error, Result};

/// When a statement needs a decision before it runs (`approval` in [`AgentConfig`](
/// crate::AgentConfig)). Thresholds compare with the engine's estimate; a statement whose
/// estimate exceeds any one of them waits for a decision. With no threshold set (and
/// `require_estimate` off) nothing is estimated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ApprovalPolicy {
    /// Most rows the engine may expect to read or return without a decision.
    pub max_rows: Option<u64>,
    /// Most bytes the engine may expect to scan (or return) without a decision.
    pub max_bytes: Option<u64>,
    /// Highest engine cost figure ([`CostEstimate::cost`], in the engine's own units) allowed
    /// without a decision.
    pub max_cost: Option<f64>,
    /// How long to wait for a decision; no decision by then denies the statement (default
    /// 2 minutes). Time spent waiting does not count against the tool's time limits, but does
    /// against the run's wall-time budget.
    #[serde(with = "crate::serde_util::duration_ms")]
    pub timeout: Duration,
    /// Ask for a decision when a threshold is set but the engine gives no estimate (or the
    /// estimate lacks the figure the threshold needs). Off by default: such statements run.
    pub require_estimate: bool,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        Self {
            max_rows: None,
            max_bytes: None,
            max_cost: None,
            timeout: Duration::from_secs(120),
            require_estimate: false,
        }
    }
}

impl ApprovalPolicy {
    /// No thresholds; set them with the builder methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`ApprovalPolicy::max_rows`].
    pub fn max_rows(mut self, rows: u64) -> Self {
        self.max_rows = Some(rows);
        self
    }

    /// Sets [`ApprovalPolicy::max_bytes`].
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Sets [`ApprovalPolicy::max_cost`].
    pub fn max_cost(mut self, cost: f64) -> Self {
        self.max_cost = Some(cost);
        self
    }

    /// Sets [`ApprovalPolicy::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`ApprovalPolicy::require_estimate`].
    pub fn require_estimate(mut self, on: bool) -> Self {
        self.require_estimate = on;
        self
    }

    /// Whether any threshold is set (only then is anything estimated).
    pub fn is_active(&self) -> bool {
        self.max_rows.is_some() || self.max_bytes.is_some() || self.max_cost.is_some()
    }

    /// Why a statement with `estimate` needs a decision, naming the threshold it exceeds;
    /// `None` when it may run.
    pub fn check(&self, estimate: Option<&CostEstimate>) -> Option<String> {
        if !self.is_active() {
            return None;
        }
        let mut missing = Vec::new();
        if let Some(max) = self.max_rows {
            match estimate.and_then(|e| e.rows) {
                Some(rows) if rows > max => {
                    return Some(format!("estimated {rows} rows exceeds max_rows {max}"));
                }
                Some(_) => {}
                None => missing.push("rows"),
            }
        }
        if let Some(max) = self.max_bytes {
            match estimate.and_then(|e| e.bytes) {
                Some(bytes) if bytes > max => {
                    return Some(format!("estimated {bytes} bytes exceeds max_bytes {max}"));
                }
                Some(_) => {}
                None => missing.push("bytes"),
            }
        }
        if let Some(max) = self.max_cost {
            match estimate.and_then(|e| e.cost) {
                Some(cost) if cost > max => {
                    return Some(format!("estimated cost {cost:.2} exceeds max_cost {max}"));
                }
                Some(_) => {}
                None => missing.push("cost"),
            }
        }
        let covered = missing.len()
            < [
                self.max_rows.is_some(),
                self.max_bytes.is_some(),
                self.max_cost.is_some(),
            ]
            .iter()
            .filter(|set| **set)
            .count();
        if self.require_estimate && !covered {
            return Some(match estimate {
                None => "the engine gives no cost estimate (require_estimate)".to_string(),
                Some(_) => format!(
                    "the engine's estimate has no {} (require_estimate)",
                    missing.join(" or ")
                ),
            });
        }
        None
    }
}

/// A statement waiting for a decision: what the `approval.requested` event says, and what an
/// [`ApprovalHandler`] receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApprovalRequest {
    /// Pass it to [`Run::approve`](crate::Run::approve) / [`Run::deny`](crate::Run::deny).
    pub approval_id: Uuid,
    /// The run.
    pub run_id: Uuid,
    /// The query record the statement belongs to (`query.created`'s id).
    pub query_id: Uuid,
    /// The user the run is for, when the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The connection name.
    pub connection: String,
    /// The SQL as it will run (after the guard's rewrite).
    pub sql: String,
    /// The engine's estimate, when it gave one.
    pub estimate: Option<CostEstimate>,
    /// Why a decision is needed, naming the threshold (`estimated 120000 rows exceeds
    /// max_rows 1000`).
    pub reason: String,
    /// How long the run waits before denying, in milliseconds.
    pub timeout_ms: u64,
}

/// A decision on an [`ApprovalRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalDecision {
    /// Run the statement.
    Approve,
    /// Do not run it; the reason goes to the model (`not approved: <reason>`) and the audit log.
    Deny(String),
}

impl ApprovalDecision {
    /// A denial with `reason`.
    pub fn deny(reason: impl Into<String>) -> Self {
        Self::Deny(reason.into())
    }

    /// Whether the statement may run.
    pub fn is_approved(&self) -> bool {
        matches!(self, Self::Approve)
    }
}

impl From<bool> for ApprovalDecision {
    fn from(approved: bool) -> Self {
        if approved {
            Self::Approve
        } else {
            Self::Deny("denied".into())
        }
    }
}

/// Who decided (`approval.resolved`'s `by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approver {
    /// The host, through the run handle ([`Run::approve`](crate::Run::approve) /
    /// [`Run::deny`](crate::Run::deny)).
    Host,
    /// The agent's [`ApprovalHandler`].
    Handler,
    /// No one in time: the policy's timeout denied it.
    Timeout,
    /// The run was cancelled while waiting.
    Cancelled,
}

impl Approver {
    /// `host`, `handler`, `timeout` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Handler => "handler",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Decides approval requests for every run of an agent
/// ([`AgentBuilder::approval_handler`](crate::AgentBuilder::approval_handler)). The host may
/// still decide through the run handle while the handler works; the first decision counts. An
/// error denies the statement.
#[async_trait]
pub trait ApprovalHandler: Send + Sync {
    /// The decision on `request`.
    async fn decide(&self, request: &ApprovalRequest) -> Result<ApprovalDecision>;
}

impl std::fmt::Debug for dyn ApprovalHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApprovalHandler")
    }
}

/// An [`ApprovalHandler`] from an async closure.
pub struct FnApprovalHandler<F>(pub F);

#[async_trait]
impl<F, Fut> ApprovalHandler for FnApprovalHandler<F>
where
    F: Fn(ApprovalRequest) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Result<ApprovalDecision>> + Send,
{
    async fn decide(&self, request: &ApprovalRequest) -> Result<ApprovalDecision> {
        (self.0)(request.clone()).await
    }
}

struct Pending {
    request: ApprovalRequest,
    tx: oneshot::Sender<ApprovalDecision>,
}

/// The approval requests of one run that wait for a decision. Cheap to clone; the run handle
/// ([`Run::approvals`](crate::Run::approvals)) and the run's tools share it.
#[derive(Clone, Default)]
pub struct Approvals {
    inner: Arc<Mutex<HashMap<Uuid, Pending>>>,
}

impl std::fmt::Debug for Approvals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approvals")
            .field("pending", &self.pending().len())
            .finish()
    }
}

impl Approvals {
    /// No pending requests.
    pub fn new() -> Self {
        Self::default()
    }

    /// Approves request `id`: the statement runs.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no request `id` is waiting (unknown, already decided, timed
    /// out).
    pub fn approve(&self, id: Uuid) -> Result<()> {
        self.decide(id, ApprovalDecision::Approve)
    }

    /// Denies request `id` with `reason` (shown to the model and audited).
    ///
    /// # Errors
    /// As [`Approvals::approve`].
    pub fn deny(&self, id: Uuid, reason: impl Into<String>) -> Result<()> {
        self.decide(id, ApprovalDecision::Deny(reason.into()))
    }

    /// Decides request `id`.
    ///
    /// # Errors
    /// As [`Approvals::approve`].
    pub fn decide(&self, id: Uuid, decision: ApprovalDecision) -> Result<()> {
        let pending = self.lock()?.remove(&id);
        let not_found = || Error::NotFound {
            what: "approval request",
            name: id.to_string(),
        };
        let pending = pending.ok_or_else(not_found)?;
        // The waiter gone (run cancelled meanwhile) means no request is waiting any more.
        pending.tx.send(decision).map_err(|_| not_found())
    }

    /// The requests waiting for a decision, oldest first.
    pub fn pending(&self) -> Vec<ApprovalRequest> {
        let mut out: Vec<ApprovalRequest> = self
            .lock()
            .map(|m| m.values().map(|p| p.request.clone()).collect())
            .unwrap_or_default();
        out.sort_by_key(|r| r.approval_id);
        out
    }

    /// Registers `request`; the receiver gets the host's decision.
    pub(crate) fn register(
        &self,
        request: ApprovalRequest,
    ) -> Result<oneshot::Receiver<ApprovalDecision>> {
        let (tx, rx) = oneshot::channel();
        self.lock()?
            .insert(request.approval_id, Pending { request, tx });
        Ok(rx)
    }

    /// Forgets request `id` (decided elsewhere, timed out or cancelled).
    pub(crate) fn remove(&self, id: Uuid) {
        if let Ok(mut m) = self.lock() {
            m.remove(&id);
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<Uuid, Pending>>> {
        self.inner
            .lock()
            .map_err(|_| Error::Internal("approval registry lock poisoned".into()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn est(rows: Option<u64>, bytes: Option<u64>, cost: Option<f64>) -> CostEstimate {
        CostEstimate::new("test")
            .with_rows(rows)
            .with_bytes(bytes)
            .with_cost(cost)
    }

    #[test]
    fn thresholds_name_what_they_exceed() {
        let p = ApprovalPolicy::new().max_rows(1000).max_cost(50.0);
        assert_eq!(p.check(Some(&est(Some(10), None, Some(1.0)))), None);
        assert_eq!(
            p.check(Some(&est(Some(1001), None, None))).as_deref(),
            Some("estimated 1001 rows exceeds max_rows 1000")
        );
        assert_eq!(
            p.check(Some(&est(Some(5), None, Some(75.5)))).as_deref(),
            Some("estimated cost 75.50 exceeds max_cost 50")
        );
        // No estimate: runs unless the policy requires one.
        assert_eq!(p.check(None), None);
        let strict = p.clone().require_estimate(true);
        assert!(strict.check(None).unwrap().contains("no cost estimate"));
        // One figure present is enough to judge.
        assert_eq!(strict.check(Some(&est(Some(5), None, None))), None);
        assert!(
            ApprovalPolicy::new()
                .max_bytes(1)
                .require_estimate(true)
                .check(Some(&est(Some(5), None, None)))
                .unwrap()
                .contains("has no bytes")
        );
        assert!(!ApprovalPolicy::new().require_estimate(true).is_active());
        assert_eq!(ApprovalPolicy::new().check(None), None);
    }

    #[test]
    fn policy_reads_the_one_duration_form() {
        let p: ApprovalPolicy =
            serde_json::from_str(r#"{"max_bytes": 10, "timeout": "1.5s"}"#).unwrap();
        assert_eq!(p.timeout, Duration::from_millis(1500));
        assert_eq!(p.max_bytes, Some(10));
        let p: ApprovalPolicy = serde_json::from_str(r#"{"timeout": 250}"#).unwrap();
        assert_eq!(p.timeout, Duration::from_millis(250));
        assert!(serde_json::from_str::<ApprovalPolicy>(r#"{"max_row": 1}"#).is_err());
    }

    #[tokio::test]
    async fn a_request_is_decided_once() {
        let approvals = Approvals::new();
        let id = Uuid::now_v7();
        let rx = approvals
            .register(ApprovalRequest {
                approval_id: id,
                run_id: Uuid::nil(),
                query_id: Uuid::nil(),
                user_id: None,
                connection: "c".into(),
                sql: "SELECT 1".into(),
                estimate: None,
                reason: "r".into(),
                timeout_ms: 1,
            })
            .unwrap();
        assert_eq!(approvals.pending().len(), 1);
        approvals.deny(id, "too big").unwrap();
        assert_eq!(rx.await.unwrap(), ApprovalDecision::deny("too big"));
        assert!(approvals.pending().is_empty());
        let again = approvals.approve(id).unwrap_err();
        assert_eq!(again.kind(), crate::error::ErrorKind::NotFound);
    }
}
