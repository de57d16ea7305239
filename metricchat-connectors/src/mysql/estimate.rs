//! The cost estimate of a statement from `EXPLAIN FORMAT=JSON` (planning only; nothing runs).

use metricchat_core::connector::{CostEstimate, whole_estimate};

/// The estimate in MySQL's or MariaDB's `EXPLAIN FORMAT=JSON` output: the rows examined over
/// every table of the plan (MySQL `rows_examined_per_scan`, MariaDB `rows`) and the optimizer's
/// cost (MySQL `cost_info.query_cost`; MariaDB 11.0+ `cost`; none before). `None` when the
/// output has no query block.
pub(crate) fn parse_explain(text: &str) -> Option<CostEstimate> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let block = v.get("query_block")?;
    let cost = block
        .get("cost_info")
        .and_then(|c| c.get("query_cost"))
        .or_else(|| block.get("cost"))
        .and_then(number);
    let mut rows = None;
    tables_rows(block, &mut rows);
    Some(
        CostEstimate::new("mysql EXPLAIN")
            .with_rows(rows)
            .with_cost(cost),
    )
}

/// A number, or a number in a string (MySQL writes costs as `"1.20"`).
fn number(v: &serde_json::Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Adds the rows examined of every `table` object under `v` to `total`.
fn tables_rows(v: &serde_json::Value, total: &mut Option<u64>) {
    match v {
        serde_json::Value::Object(m) => {
            if m.contains_key("table_name") {
                let rows = m
                    .get("rows_examined_per_scan")
                    .or_else(|| m.get("rows"))
                    .and_then(number)
                    .and_then(whole_estimate);
                if let Some(r) = rows {
                    *total = Some(total.unwrap_or(0).saturating_add(r));
                }
            }
            for child in m.values() {
                tables_rows(child, total);
            }
        }
        serde_json::Value::Array(items) => {
            for child in items {
                tables_rows(child, total);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_mysql_cost_and_rows() {
        let text = r#"{"query_block": {"select_id": 1,
            "cost_info": {"query_cost": "2041.25"},
            "nested_loop": [
              {"table": {"table_name": "f", "access_type": "ALL",
                         "rows_examined_per_scan": 20000, "rows_produced_per_join": 20000}},
              {"table": {"table_name": "c", "access_type": "eq_ref",
                         "rows_examined_per_scan": 1, "rows_produced_per_join": 20000}}
            ]}}"#;
        let e = parse_explain(text).unwrap();
        assert_eq!(e.rows, Some(20_001));
        assert_eq!(e.cost, Some(2041.25));
        assert_eq!(e.bytes, None);
    }

    #[test]
    fn reads_mariadb_rows_without_cost() {
        // MariaDB 10.11's shape: no cost, `rows` per table, joins nested in blocks.
        let text = r#"{"query_block": {"select_id": 1, "filesort": {"sort_key": "e.a",
            "temporary_table": {"nested_loop": [
              {"table": {"table_name": "e", "access_type": "ALL", "rows": 300, "filtered": 100}},
              {"block-nl-join": {"table": {"table_name": "f", "access_type": "ALL",
                                           "rows": 7, "filtered": 100}}}
            ]}}}}"#;
        let e = parse_explain(text).unwrap();
        assert_eq!(e.rows, Some(307));
        assert_eq!(e.cost, None);
        assert!(parse_explain("not json").is_none());
        assert!(parse_explain(r#"{"nope": {}}"#).is_none());
    }
}
