//! Deciding statements that wait for approval (the agent's `approval` setting, ADR 0016) from
//! a terminal or for a process no one watches: `metricchat ask --approve prompt|all|never`,
//! `metricchat eval --approve all|never` and `metricchat mcp --approve all|never`.
//!
//! The core holds the mechanism (estimate, thresholds, the wait, the timeout, the audit); this
//! module only says what a person sees and turns their answer into an [`ApprovalDecision`].

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use metricchat::approval::{ApprovalDecision, ApprovalHandler, FnApprovalHandler};
use metricchat::connector::CostEstimate;
use tokio::sync::{Mutex, mpsc};

/// The denial when no one can be asked (`--approve never`, the default without a terminal).
pub const NO_ONE: &str = "no one to approve: run with --approve prompt|all";

/// The denial of `metricchat eval --approve never` (the default).
pub const NO_ONE_IN_EVAL: &str = "no one to approve: run the eval with --approve all";

/// `--approve` of `metricchat ask`: who decides a statement that waits for approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApproveMode {
    /// Show the statement on stderr and read y/N (and, for no, an optional reason line) from
    /// stdin. The default when stdin is a terminal.
    Prompt,
    /// Approve every statement (each one is named on stderr).
    All,
    /// Deny every statement at once; the agent reads why and answers without it. The default
    /// when stdin is not a terminal.
    Never,
}

impl ApproveMode {
    /// `explicit`, else [`ApproveMode::Prompt`] when stdin is a terminal and
    /// [`ApproveMode::Never`] otherwise.
    pub fn resolve(explicit: Option<Self>) -> Self {
        explicit.unwrap_or_else(|| {
            if std::io::stdin().is_terminal() {
                Self::Prompt
            } else {
                Self::Never
            }
        })
    }
}

/// `--approve` where no one can be prompted on a terminal (`eval`, and `mcp` for clients that
/// cannot be asked): approve or deny every statement that waits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Unattended {
    /// Approve each statement no one can be asked about.
    All,
    /// Deny each statement no one can be asked about (the default).
    #[default]
    Never,
}

impl Unattended {
    /// An approval handler deciding every request this way (`deny_reason` for denials).
    pub fn handler(self, deny_reason: &'static str) -> Arc<dyn ApprovalHandler> {
        Arc::new(FnApprovalHandler(move |_request| async move {
            Ok::<_, metricchat::Error>(match self {
                Self::All => ApprovalDecision::Approve,
                Self::Never => ApprovalDecision::deny(deny_reason),
            })
        }))
    }
}

/// An estimate in words: `336776 rows · 12.3 MB (datafusion plan statistics)`, or `none` when
/// the engine gave none.
pub fn estimate_text(estimate: Option<&CostEstimate>) -> String {
    let Some(e) = estimate else {
        return "none (the engine gives no estimate)".to_string();
    };
    let mut figures = Vec::new();
    if let Some(rows) = e.rows {
        figures.push(format!("{rows} rows"));
    }
    if let Some(bytes) = e.bytes {
        figures.push(bytes_text(bytes));
    }
    if let Some(cost) = e.cost {
        figures.push(format!("cost {cost:.2}"));
    }
    let figures = if figures.is_empty() {
        "no figures".to_string()
    } else {
        figures.join(" · ")
    };
    if e.source.is_empty() {
        figures
    } else {
        format!("{figures} ({})", e.source)
    }
}

fn bytes_text(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// What a person reads before deciding: the reason, the connection, the estimate and the SQL.
pub fn request_text(
    connection: &str,
    sql: &str,
    estimate: Option<&CostEstimate>,
    reason: &str,
) -> String {
    let sql: String = sql
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect::<Vec<_>>()
        .concat();
    format!(
        "Approval needed: {reason}\n  connection: {connection}\n  estimate:   {}\n  SQL:\n{sql}",
        estimate_text(estimate)
    )
}

/// Lines of stdin, read on a thread of their own (a blocking read cannot be cancelled, so it
/// stays off the runtime's threads). Cheap to clone; prompts share it one at a time.
#[derive(Debug, Clone)]
pub struct Answers {
    rx: Arc<Mutex<mpsc::UnboundedReceiver<String>>>,
}

impl Answers {
    /// Starts reading stdin.
    pub fn stdin() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            rx: Arc::new(Mutex::new(rx)),
        }
    }

    /// Shows `text` on stderr and reads the decision: `y`/`yes` approves; anything else denies,
    /// with the next line as the reason (an empty one gives a default). Stdin closed: denied.
    /// Prompts sharing these answers take turns.
    pub async fn prompt(&self, text: &str, timeout_ms: u64) -> ApprovalDecision {
        let mut rx = self.rx.lock().await;
        let echo = !std::io::stdin().is_terminal();
        eprint!(
            "{text}Run this statement? [y/N] (no answer within {} denies it) ",
            duration_text(timeout_ms)
        );
        let Some(answer) = rx.recv().await else {
            eprintln!();
            return ApprovalDecision::deny("no answer: stdin was closed");
        };
        if echo {
            eprintln!("{answer}");
        }
        if is_yes(&answer) {
            return ApprovalDecision::Approve;
        }
        eprint!("Why not? (optional, the agent reads it) ");
        let reason = rx.recv().await;
        if echo {
            eprintln!("{}", reason.as_deref().unwrap_or(""));
        }
        match reason.map(|r| r.trim().to_string()) {
            Some(r) if !r.is_empty() => ApprovalDecision::Deny(r),
            _ => ApprovalDecision::deny("denied at the terminal"),
        }
    }
}

/// Whether an answer means yes.
pub fn is_yes(answer: &str) -> bool {
    matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "approve" | "ok"
    )
}

fn duration_text(ms: u64) -> String {
    match ms {
        ms if ms % 60_000 == 0 && ms > 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{:.1}s", std::time::Duration::from_millis(ms).as_secs_f32()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn describes_estimates_and_requests() {
        let e = CostEstimate::new("postgres EXPLAIN")
            .with_rows(Some(120_000))
            .with_bytes(Some(4_500_000))
            .with_cost(Some(1234.5));
        assert_eq!(
            estimate_text(Some(&e)),
            "120000 rows · 4.5 MB · cost 1234.50 (postgres EXPLAIN)"
        );
        assert!(estimate_text(None).starts_with("none"));
        let text = request_text(
            "wh",
            "SELECT *\nFROM t",
            Some(&e),
            "estimated 120000 rows exceeds max_rows 1000",
        );
        assert!(text.starts_with("Approval needed: estimated 120000 rows"));
        assert!(text.contains("connection: wh") && text.contains("    SELECT *\n    FROM t\n"));
    }

    #[test]
    fn reads_answers_and_durations() {
        assert!(is_yes(" Y ") && is_yes("yes") && !is_yes("n") && !is_yes(""));
        assert_eq!(duration_text(120_000), "2m");
        assert_eq!(duration_text(30_000), "30s");
        assert_eq!(duration_text(1_500), "1.5s");
        assert_eq!(bytes_text(999), "999 B");
    }
}
