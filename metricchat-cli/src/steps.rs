//! One readable line per step of a run: what the terminal shows while `ask` works and what the
//! MCP server sends as progress notifications.

use metricchat::events::{Event, EventKind, ToolStatus};

/// A line describing `event`, or `None` for events that are not steps (token-level partials,
/// the growing answer).
pub fn step_line(event: &Event) -> Option<String> {
    Some(match &event.kind {
        EventKind::RunStarted {
            model, connections, ..
        } => format!(
            "run {} started · model {model} · data {}",
            event.run_id,
            connections.join(", ")
        ),
        EventKind::DecisionFinal {
            iteration,
            decision,
        } => {
            let step = iteration + 1;
            let thought = decision
                .reasoning_message
                .as_deref()
                .or(decision.assistant_message.as_deref())
                .map(|r| one_line(r, 200));
            match (&decision.action, thought) {
                (Some(a), Some(t)) => format!("step {step} → {}: {t}", a.tool),
                (Some(a), None) => format!("step {step} → {}", a.tool),
                (None, Some(t)) => format!("step {step}: {t}"),
                (None, None) if decision.analysis_complete => {
                    format!("step {step}: answering")
                }
                (None, None) => return None,
            }
        }
        EventKind::PlannerRetry { error, .. } => {
            format!(
                "↻ model output unusable ({}); asking again",
                one_line(error, 160)
            )
        }
        EventKind::QueryCreated { sql, attempt, .. } => {
            format!("  SQL (attempt {attempt}): {}", one_line(sql, 400))
        }
        EventKind::QueryResult {
            row_count,
            error,
            duration_ms,
            truncated,
            ..
        } => match error {
            Some(e) => format!("  ✗ {}", one_line(e, 300)),
            None => format!(
                "  ✓ {row_count} row(s) in {duration_ms} ms{}",
                if *truncated { " (row cap reached)" } else { "" }
            ),
        },
        EventKind::ApprovalRequested {
            connection,
            estimate,
            reason,
            ..
        } => format!(
            "  ⏸ waiting for approval on {connection}: {} · estimate {}",
            one_line(reason, 200),
            crate::approve::estimate_text(estimate.as_ref())
        ),
        EventKind::ApprovalResolved {
            approved: true, by, ..
        } => format!("  ✓ approved (by {})", by.as_str()),
        EventKind::ApprovalResolved {
            approved: false,
            by,
            reason,
            ..
        } => format!(
            "  ✗ not approved (by {}): {}",
            by.as_str(),
            one_line(reason.as_deref().unwrap_or("denied"), 300)
        ),
        EventKind::VisualizationCreated { spec, .. } => format!(
            "  chart: {:?} of {} by {}",
            spec.chart_type,
            spec.y.join(", "),
            spec.x.as_deref().unwrap_or("-")
        ),
        EventKind::ToolFinished {
            tool,
            status,
            error,
            duration_ms,
            ..
        } => match (status, error) {
            (ToolStatus::Success, _) => format!("  {tool}: done in {duration_ms} ms"),
            (s, Some(e)) => format!("  {tool}: {s:?} — {}", one_line(e, 300)),
            (s, None) => format!("  {tool}: {s:?} after {duration_ms} ms"),
        },
        EventKind::RunFinished { summary } => format!(
            "■ {} · {} step(s) · {} tokens · {:.1} s{}",
            summary.status.as_str(),
            summary.iterations,
            summary.usage.total(),
            summary.timings.total_ms as f64 / 1000.0,
            summary
                .reason
                .as_deref()
                .map(|r| format!(" · {r}"))
                .unwrap_or_default()
        ),
        EventKind::RunFailed { error, .. } => {
            format!(
                "✗ run failed: {} ({})",
                one_line(&error.message, 300),
                error.kind
            )
        }
        _ => return None,
    })
}

/// What the agent is doing after `event`, for a spinner.
pub fn activity(event: &Event) -> Option<&'static str> {
    Some(match &event.kind {
        EventKind::RunStarted { .. } | EventKind::ToolFinished { .. } => "thinking…",
        EventKind::DecisionPartial { .. } => "thinking…",
        EventKind::QueryCreated { .. } | EventKind::ApprovalResolved { approved: true, .. } => {
            "running SQL…"
        }
        EventKind::ApprovalResolved { .. } => "thinking…",
        EventKind::ApprovalRequested { .. } => "waiting for approval…",
        EventKind::ToolStarted { .. } => "working…",
        EventKind::BlockUpsert { .. } => "writing the answer…",
        _ => return None,
    })
}

/// `text` on one line, at most `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}
