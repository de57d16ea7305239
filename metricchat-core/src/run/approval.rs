//! The approval preflight of one statement (see [`crate::approval`]): estimate, compare with
//! the policy, and when a threshold is exceeded wait for the host, the handler, the timeout or
//! the run's cancellation, with `approval.requested` / `approval.resolved` on the stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::state::RunShared;
use crate::approval::{ApprovalDecision, ApprovalRequest, Approver};
use crate::connector::{ConnectorRef, CostEstimate};
use crate::error::{Error, Result};
use crate::events::EventKind;

/// Longest an estimate (`EXPLAIN`, a dry run) may take before the statement is judged without
/// one.
const ESTIMATE_TIMEOUT: Duration = Duration::from_secs(30);

const CANCELLED: &str = "the run was cancelled while waiting for approval";

/// How often the wait for a decision tells the tool runner the tool is alive.
const BEAT: Duration = Duration::from_secs(2);

/// One statement to preflight.
pub(crate) struct Preflight<'a> {
    pub shared: &'a RunShared,
    pub conn: &'a ConnectorRef,
    pub query_id: Uuid,
    pub connection: &'a str,
    /// The SQL as it will run.
    pub sql: &'a str,
    /// Resets the tool's idle timer.
    pub heartbeat: &'a (dyn Fn() + Send + Sync),
    /// Milliseconds the tool spent waiting for a person, which its time limits do not count.
    pub waited_ms: &'a AtomicU64,
}

impl Preflight<'_> {
    /// `Ok(None)` when the statement may run without a decision, `Ok(Some(by))` when `by`
    /// approved it, [`Error::NotApproved`] when it was denied (or timed out), and
    /// [`Error::Cancelled`] when the run was cancelled meanwhile.
    pub(crate) async fn run(&self) -> Result<Option<Approver>> {
        let Some(policy) = self.shared.approval.as_ref().filter(|p| p.is_active()) else {
            return Ok(None);
        };
        let estimate = self.estimate().await?;
        let Some(reason) = policy.check(estimate.as_ref()) else {
            return Ok(None);
        };
        let request = ApprovalRequest {
            approval_id: Uuid::now_v7(),
            run_id: self.shared.run_id,
            query_id: self.query_id,
            user_id: self.shared.user.as_ref().map(|u| u.id.clone()),
            connection: self.connection.to_string(),
            sql: self.sql.to_string(),
            estimate,
            reason,
            timeout_ms: u64::try_from(policy.timeout.as_millis()).unwrap_or(u64::MAX),
        };
        let (decision, by) = self.wait(request.clone(), policy.timeout).await?;
        let approved = decision.is_approved();
        let denial = match decision {
            ApprovalDecision::Approve => None,
            ApprovalDecision::Deny(reason) => Some(reason),
        };
        self.shared.sink.emit(EventKind::ApprovalResolved {
            approval_id: request.approval_id,
            query_id: self.query_id,
            approved,
            by,
            reason: denial.clone(),
        });
        match denial {
            None => Ok(Some(by)),
            Some(reason) => Err(Error::NotApproved {
                reason,
                by: by.as_str().to_string(),
            }),
        }
    }

    /// The engine's estimate; one that fails or takes too long counts as none (the statement
    /// itself reports a real error when it runs).
    async fn estimate(&self) -> Result<Option<CostEstimate>> {
        let cancel = &self.shared.cancel;
        tokio::select! {
            r = tokio::time::timeout(ESTIMATE_TIMEOUT, self.conn.estimate(self.sql)) => match r {
                Ok(Ok(e)) => Ok(e),
                Ok(Err(e)) => {
                    tracing::warn!(connection = self.connection, error = %e, "cost estimate failed");
                    Ok(None)
                }
                Err(_) => {
                    tracing::warn!(connection = self.connection, "cost estimate timed out");
                    Ok(None)
                }
            },
            () = cancel.cancelled() => Err(Error::Cancelled),
        }
    }

    /// Announces `request` and waits for the first decision.
    async fn wait(
        &self,
        request: ApprovalRequest,
        timeout: Duration,
    ) -> Result<(ApprovalDecision, Approver)> {
        let approvals = &self.shared.approvals;
        let id = request.approval_id;
        let mut from_host = approvals.register(request.clone())?;
        // The tool runner aborts the tool when the run is cancelled, dropping this future
        // mid-wait: the guard still withdraws the request and resolves it as cancelled.
        let mut pending = Withdraw {
            shared: self.shared,
            approval_id: id,
            query_id: self.query_id,
            armed: true,
        };
        self.shared.sink.emit(EventKind::ApprovalRequested {
            approval_id: id,
            query_id: self.query_id,
            connection: request.connection.clone(),
            sql: request.sql.clone(),
            estimate: request.estimate.clone(),
            reason: request.reason.clone(),
            timeout_ms: request.timeout_ms,
        });
        let handler = async {
            match &self.shared.approval_handler {
                Some(h) => h.decide(&request).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(handler);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut beat = tokio::time::interval(BEAT);
        let mut last = Instant::now();
        let out = loop {
            tokio::select! {
                d = &mut from_host => break match d {
                    Ok(d) => Ok((d, Approver::Host)),
                    Err(_) => Err(Error::Internal("approval request dropped".into())),
                },
                d = &mut handler => break Ok(match d {
                    Ok(d) => (d, Approver::Handler),
                    Err(e) => (
                        ApprovalDecision::deny(format!("the approval handler failed: {e}")),
                        Approver::Handler,
                    ),
                }),
                () = &mut deadline => break Ok((
                    ApprovalDecision::deny(format!(
                        "no decision within {}s",
                        timeout.as_secs_f32()
                    )),
                    Approver::Timeout,
                )),
                () = self.shared.cancel.cancelled() => break Ok((
                    ApprovalDecision::deny(CANCELLED),
                    Approver::Cancelled,
                )),
                _ = beat.tick() => {
                    let now = Instant::now();
                    let ms = u64::try_from(now.duration_since(last).as_millis()).unwrap_or(0);
                    self.waited_ms.fetch_add(ms, Ordering::Relaxed);
                    last = now;
                    (self.heartbeat)();
                }
            }
        };
        let ms = u64::try_from(last.elapsed().as_millis()).unwrap_or(0);
        self.waited_ms.fetch_add(ms, Ordering::Relaxed);
        pending.armed = false;
        approvals.remove(id);
        (self.heartbeat)();
        out
    }
}

/// Withdraws a request whose wait ended without a decision being reached here (the future was
/// dropped): the request leaves the registry and `approval.resolved` says `cancelled`.
struct Withdraw<'a> {
    shared: &'a RunShared,
    approval_id: Uuid,
    query_id: Uuid,
    armed: bool,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.shared.approvals.remove(self.approval_id);
        self.shared.sink.emit(EventKind::ApprovalResolved {
            approval_id: self.approval_id,
            query_id: self.query_id,
            approved: false,
            by: Approver::Cancelled,
            reason: Some(CANCELLED.to_string()),
        });
    }
}
