//! [`CostEstimate`]: what an engine says a statement will cost before it runs.

use serde::{Deserialize, Serialize};

/// What the engine expects a statement to cost, from its planner (`EXPLAIN`) or a dry run.
/// Every figure is optional: engines tell different things (PostgreSQL rows, width and planner
/// cost; MySQL rows and query cost; BigQuery bytes processed; Snowflake bytes and partitions).
///
/// Planner figures are estimates from table statistics, not measurements: stale statistics make
/// them wrong in either direction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct CostEstimate {
    /// Rows the engine expects to read or return (the plan's top-level estimate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Bytes the engine expects to scan (BigQuery, Snowflake) or return (PostgreSQL: rows ×
    /// average row width).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The engine's own cost figure, in its own units (PostgreSQL planner cost units, MySQL
    /// `query_cost`); comparable only within one engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// Where the figures come from (`postgres EXPLAIN`, `bigquery dry run`, …) and anything
    /// else the engine said (partitions to scan).
    pub source: String,
}

impl CostEstimate {
    /// An estimate from `source`, with no figures yet.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            ..Self::default()
        }
    }

    /// Sets [`CostEstimate::rows`].
    pub fn with_rows(mut self, rows: Option<u64>) -> Self {
        self.rows = rows;
        self
    }

    /// Sets [`CostEstimate::bytes`].
    pub fn with_bytes(mut self, bytes: Option<u64>) -> Self {
        self.bytes = bytes;
        self
    }

    /// Sets [`CostEstimate::cost`].
    pub fn with_cost(mut self, cost: Option<f64>) -> Self {
        self.cost = cost.filter(|c| c.is_finite());
        self
    }

    /// Whether the engine gave no figure at all.
    pub fn is_empty(&self) -> bool {
        self.rows.is_none() && self.bytes.is_none() && self.cost.is_none()
    }
}

impl std::fmt::Display for CostEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(r) = self.rows {
            parts.push(format!("{r} rows"));
        }
        if let Some(b) = self.bytes {
            parts.push(format!("{b} bytes"));
        }
        if let Some(c) = self.cost {
            parts.push(format!("cost {c:.2}"));
        }
        if parts.is_empty() {
            parts.push("no figures".into());
        }
        write!(f, "{} ({})", parts.join(", "), self.source)
    }
}

/// A float figure from an engine's plan as a whole number (negative and non-finite values are
/// dropped; fractions are rounded up, since an estimate of 0.4 rows still reads a row).
pub fn whole(v: f64) -> Option<u64> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let up = v.ceil();
    // A plan's estimates are far below 2^53; anything beyond saturates.
    if up >= u64::MAX as f64 {
        Some(u64::MAX)
    } else {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(up as u64)
    }
}
