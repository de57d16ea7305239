//! The cost estimate of a statement from `EXPLAIN USING JSON` (compilation only; nothing runs,
//! no warehouse is needed).

use metricchat_core::connector::CostEstimate;

/// The estimate in Snowflake's `EXPLAIN USING JSON` output: `GlobalStats.bytesAssigned` as the
/// bytes to scan, and the partitions to scan out of the total in the source. Snowflake's plan
/// has no row estimate. `None` when the output has no `GlobalStats`.
pub(crate) fn parse_explain(text: &str) -> Option<CostEstimate> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let stats = v.get("GlobalStats")?;
    let num = |k: &str| {
        let f = stats.get(k)?;
        f.as_u64()
            .or_else(|| f.as_str().and_then(|s| s.parse().ok()))
    };
    let source = match (num("partitionsAssigned"), num("partitionsTotal")) {
        (Some(a), Some(t)) => format!("snowflake EXPLAIN ({a} of {t} partitions)"),
        _ => "snowflake EXPLAIN".to_string(),
    };
    Some(CostEstimate::new(source).with_bytes(num("bytesAssigned")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_global_stats() {
        let text = r#"{"GlobalStats": {"partitionsTotal": 120, "partitionsAssigned": 7,
            "bytesAssigned": 52428800},
            "Operations": [[{"id": 0, "operation": "Result"},
                            {"id": 1, "operation": "TableScan", "objects": ["DB.PUBLIC.T"],
                             "partitionsAssigned": 7, "partitionsTotal": 120,
                             "bytesAssigned": 52428800}]]}"#;
        let e = parse_explain(text).unwrap();
        assert_eq!(e.bytes, Some(52_428_800));
        assert_eq!(e.rows, None);
        assert_eq!(e.source, "snowflake EXPLAIN (7 of 120 partitions)");
        assert!(parse_explain(r#"{"Operations": []}"#).is_none());
        assert!(parse_explain("nope").is_none());
    }
}
