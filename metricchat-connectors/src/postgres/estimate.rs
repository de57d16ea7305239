//! The cost estimate of a statement from `EXPLAIN (FORMAT JSON)` (planning only; nothing runs).

use metricchat_core::connector::{CostEstimate, whole_estimate};

/// The estimate in PostgreSQL's `EXPLAIN (FORMAT JSON)` output: the top plan node's rows, its
/// total cost (planner units) and rows × average width as the bytes it returns. `None` when the
/// output has no plan.
pub(crate) fn parse_explain(v: &serde_json::Value) -> Option<CostEstimate> {
    let plan = v.get(0).unwrap_or(v).get("Plan")?;
    let num = |k: &str| plan.get(k).and_then(serde_json::Value::as_f64);
    let rows = num("Plan Rows").and_then(whole_estimate);
    let width = num("Plan Width").and_then(whole_estimate);
    let bytes = rows.zip(width).map(|(r, w)| r.saturating_mul(w));
    Some(
        CostEstimate::new("postgres EXPLAIN")
            .with_rows(rows)
            .with_bytes(bytes)
            .with_cost(num("Total Cost")),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_top_plan_node() {
        let v = serde_json::json!([{"Plan": {
            "Node Type": "Seq Scan", "Relation Name": "flights", "Startup Cost": 0.0,
            "Total Cost": 1834.5, "Plan Rows": 100000, "Plan Width": 24,
            "Plans": [{"Plan Rows": 5}]
        }}]);
        let e = parse_explain(&v).unwrap();
        assert_eq!(e.rows, Some(100_000));
        assert_eq!(e.bytes, Some(2_400_000));
        assert_eq!(e.cost, Some(1834.5));
        assert_eq!(e.source, "postgres EXPLAIN");
        assert!(parse_explain(&serde_json::json!([{"Nope": 1}])).is_none());
        // A fractional estimate still reads a row.
        let e = parse_explain(&serde_json::json!([{"Plan": {"Plan Rows": 0.4}}])).unwrap();
        assert_eq!((e.rows, e.bytes, e.cost), (Some(1), None, None));
    }
}
