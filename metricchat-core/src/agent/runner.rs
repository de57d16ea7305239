//! The tool runner: JSON arguments in, observation out, with retries, time limits,
//! cancellation and panic isolation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::events::ToolStatus;
use crate::llm::RetryPolicy;
use crate::tools::{DynTool, ToolContext, ToolError, ToolErrorKind};

/// How one tool call ended.
#[derive(Debug)]
pub(crate) struct ToolRunOutcome {
    pub status: ToolStatus,
    pub observation: serde_json::Value,
    pub error: Option<ToolError>,
    pub attempts: u32,
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".into()),
        Err(e) => e.to_string(),
    }
}

fn timeout_error(tool: &str, what: &str, after: Duration) -> ToolError {
    ToolError {
        kind: ToolErrorKind::Timeout,
        message: format!(
            "`{tool}` timed out ({what} limit of {}s). Try a simpler or cheaper approach.",
            after.as_secs_f32()
        ),
        source: None,
        retryable: true,
    }
}

/// How long a cancelled run waits for its aborted tool to be dropped.
const UNWIND_WAIT: Duration = Duration::from_secs(1);

enum AttemptEnd {
    Done(Result<serde_json::Value, ToolError>),
    Cancelled,
}

async fn attempt(
    tool: &Arc<dyn DynTool>,
    ctx: &ToolContext,
    activity: &mut watch::Receiver<u64>,
    args: serde_json::Value,
    cancel: &CancellationToken,
) -> AttemptEnd {
    let policy = tool.policy();
    let name = tool.name().to_string();
    let t = tool.clone();
    let c = ctx.clone();
    let mut handle = tokio::spawn(async move { t.call_json(&c, args).await });
    let began = Instant::now();
    // Time the tool spent waiting for a person's approval does not count against its limits.
    let hard_deadline = || began + policy.hard_timeout + ctx.waited_for_approval();
    let mut started = false;
    activity.mark_unchanged();
    loop {
        let (limit, what) = if started {
            (policy.idle_timeout, "idle")
        } else {
            (policy.start_timeout, "start")
        };
        let wait = limit.min(hard_deadline().saturating_duration_since(Instant::now()));
        tokio::select! {
            res = &mut handle => {
                return AttemptEnd::Done(match res {
                    Ok(r) => r,
                    Err(e) if e.is_cancelled() => return AttemptEnd::Cancelled,
                    Err(e) => {
                        let msg = panic_message(e);
                        tracing::error!(tool = %name, panic = %msg, "tool panicked");
                        Err(ToolError {
                            kind: ToolErrorKind::Panicked,
                            message: format!("`{name}` crashed; try another approach"),
                            source: Some(msg.into()),
                            retryable: false,
                        })
                    }
                });
            }
            () = cancel.cancelled() => {
                handle.abort();
                // Let the aborted tool unwind (its drop guards withdraw what it started, e.g. a
                // pending approval, while the run's events are still open); briefly.
                let _ = tokio::time::timeout(UNWIND_WAIT, &mut handle).await;
                return AttemptEnd::Cancelled;
            }
            changed = tokio::time::timeout(wait, activity.changed()) => {
                match changed {
                    Ok(Ok(())) => started = true,
                    // The sender lives in the context we hold; it cannot be dropped early.
                    Ok(Err(_)) => started = true,
                    Err(_) => {
                        handle.abort();
                        let (what, after) = if Instant::now() >= hard_deadline() {
                            ("total", policy.hard_timeout)
                        } else {
                            (what, limit)
                        };
                        return AttemptEnd::Done(Err(timeout_error(&name, what, after)));
                    }
                }
            }
        }
    }
}

/// The waits between a tool's attempts: the core retry policy (exponential from the tool's
/// `backoff`, factor 2, with jitter), capped at the policy's default cap or `backoff` if larger.
fn tool_backoffs(backoff: Duration, attempts: u32) -> impl Iterator<Item = Duration> {
    let cap = backoff.max(RetryPolicy::default().max_backoff);
    RetryPolicy::new(attempts.saturating_sub(1), backoff, cap).backoffs()
}

/// Runs `tool` under its policy.
pub(crate) async fn run_tool(
    tool: Arc<dyn DynTool>,
    ctx: ToolContext,
    mut activity: watch::Receiver<u64>,
    args: serde_json::Value,
    cancel: CancellationToken,
) -> ToolRunOutcome {
    let policy = tool.policy();
    let attempts_allowed = policy.attempts.max(1);
    let mut backoffs = tool_backoffs(policy.backoff, attempts_allowed);
    let mut n = 0;
    loop {
        n += 1;
        match attempt(&tool, &ctx, &mut activity, args.clone(), &cancel).await {
            AttemptEnd::Cancelled => {
                return ToolRunOutcome {
                    status: ToolStatus::Cancelled,
                    observation: json!({"error": "cancelled"}),
                    error: Some(ToolError {
                        kind: ToolErrorKind::Cancelled,
                        message: "cancelled".into(),
                        source: None,
                        retryable: false,
                    }),
                    attempts: n,
                };
            }
            AttemptEnd::Done(Ok(observation)) => {
                return ToolRunOutcome {
                    status: ToolStatus::Success,
                    observation,
                    error: None,
                    attempts: n,
                };
            }
            AttemptEnd::Done(Err(e)) if e.retryable && n < attempts_allowed => {
                let wait = backoffs.next().unwrap_or(policy.backoff);
                tracing::debug!(tool = tool.name(), attempt = n, error = %e.message, "retrying tool");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = cancel.cancelled() => {}
                }
            }
            AttemptEnd::Done(Err(e)) => {
                let status = if e.kind == ToolErrorKind::Timeout {
                    ToolStatus::Timeout
                } else {
                    ToolStatus::Error
                };
                return ToolRunOutcome {
                    status,
                    observation: json!({"error": e.message}),
                    error: Some(e),
                    attempts: n,
                };
            }
        }
    }
}
