#![allow(clippy::unwrap_used, clippy::panic)]

use serde_json::json;

use super::*;
use crate::connector::Dialect;

fn sample() -> serde_json::Value {
    json!({
        "title": "Flights",
        "parameters": [
            {"name": "carrier", "type": "text", "value": "UA"},
            {"name": "period", "type": "date_range", "value": {"start": "2013-01-01", "end": "2013-06-30"}},
            {"name": "min_flights", "type": "integer", "value": 100}
        ],
        "blocks": [
            {"id": "intro", "width": 12, "content": {"type": "text", "markdown": "**Hello**"}},
            {"id": "by-carrier", "title": "Flights by carrier", "content": {"type": "chart",
              "query": {"sql": "SELECT carrier, COUNT(*) AS n FROM flights WHERE carrier = :carrier AND time_hour BETWEEN :period_start AND :period_end GROUP BY carrier HAVING COUNT(*) > :min_flights"},
              "chart": {"chart_type": "bar", "x": "carrier", "y": "n"}}},
            {"id": "total", "width": 3, "content": {"type": "kpi", "query": {"sql": "SELECT 1 AS n"}}}
        ]
    })
}

fn block_of(err: Error) -> (Option<String>, String, ErrorKind) {
    match err {
        Error::Dashboard {
            block,
            message,
            kind,
        } => (block, message, kind),
        other => panic!("not a dashboard error: {other}"),
    }
}

#[test]
fn a_dashboard_reads_validates_and_round_trips_as_json() {
    let d = Dashboard::from_value(sample()).unwrap();
    assert_eq!(d.blocks.len(), 3);
    assert_eq!(d.blocks[1].width, 6, "default width is half the grid");
    let again = Dashboard::from_json(&d.to_json().to_string()).unwrap();
    assert_eq!(again, d);
}

#[test]
fn unknown_fields_are_refused_naming_the_block() {
    let mut v = sample();
    v["blocks"][1]["content"]["colour"] = json!("red");
    let (block, message, kind) = block_of(Dashboard::from_value(v).unwrap_err());
    assert_eq!(block.as_deref(), Some("by-carrier"));
    assert!(message.contains("colour"), "{message}");
    assert_eq!(kind, ErrorKind::InvalidInput);

    let mut v = sample();
    v["theme"] = json!("dark");
    let (block, message, _) = block_of(Dashboard::from_value(v).unwrap_err());
    assert_eq!(block, None);
    assert!(message.contains("theme"), "{message}");
}

#[test]
fn blocks_without_a_query_or_with_bad_widths_or_ids_are_refused() {
    let mut v = sample();
    v["blocks"][2]["content"]["query"] = json!({});
    let (block, message, _) = block_of(Dashboard::from_value(v).unwrap_err());
    assert_eq!(block.as_deref(), Some("total"));
    assert!(
        message.contains("neither `sql` nor `query_id`"),
        "{message}"
    );

    let mut v = sample();
    v["blocks"][2]["width"] = json!(13);
    let (block, _, _) = block_of(Dashboard::from_value(v).unwrap_err());
    assert_eq!(block.as_deref(), Some("total"));

    let mut v = sample();
    v["blocks"][2]["id"] = json!("intro");
    let (block, message, _) = block_of(Dashboard::from_value(v).unwrap_err());
    assert_eq!(block.as_deref(), Some("intro"));
    assert!(message.contains("unique"), "{message}");
}

#[test]
fn a_placeholder_without_a_parameter_names_its_block() {
    let mut v = sample();
    v["blocks"][2]["content"]["query"]["sql"] =
        json!("SELECT COUNT(*) FROM flights WHERE origin = :airport");
    let (block, message, _) = block_of(Dashboard::from_value(v).unwrap_err());
    assert_eq!(block.as_deref(), Some("total"));
    assert!(message.contains(":airport"), "{message}");
}

#[test]
fn parameters_of_the_wrong_type_are_refused_naming_the_parameter() {
    let mut d = Dashboard::from_value(sample()).unwrap();
    let (_, message, kind) = block_of(d.set_parameter("min_flights", json!("ten")).unwrap_err());
    assert!(
        message.contains("min_flights") && message.contains("whole number"),
        "{message}"
    );
    assert_eq!(kind, ErrorKind::InvalidInput);
    let (_, message, _) = block_of(
        d.set_parameter(
            "period",
            json!({"start": "2013-13-01", "end": "2013-01-01"}),
        )
        .unwrap_err(),
    );
    assert!(message.contains("period"), "{message}");
    let (_, _, kind) = block_of(d.set_parameter("nope", json!(1)).unwrap_err());
    assert_eq!(kind, ErrorKind::NotFound);
    d.set_parameter("carrier", json!("DL")).unwrap();

    let mut v = sample();
    v["parameters"][2]["value"] = json!(1.5);
    let (_, message, _) = block_of(Dashboard::from_value(v).unwrap_err());
    assert!(message.contains("min_flights"), "{message}");
}

#[test]
fn parameters_are_bound_as_typed_literals_not_pasted_text() {
    let d = Dashboard::from_value(sample()).unwrap();
    let Some(BlockContent::Chart { query, .. }) = d.block("by-carrier").map(|b| &b.content) else {
        panic!()
    };
    let sql = bind_parameters(
        "by-carrier",
        query.sql.as_deref().unwrap(),
        Dialect::Postgres,
        &d.parameters,
    )
    .unwrap();
    assert!(sql.contains("carrier = 'UA'"), "{sql}");
    assert!(
        sql.contains("BETWEEN '2013-01-01' AND '2013-06-30'"),
        "{sql}"
    );
    assert!(sql.contains("> 100"), "{sql}");

    // A hostile value stays one string literal: the quote is doubled by the printer.
    let mut params = d.parameters.clone();
    params[0].value = json!("UA' OR '1'='1");
    for dialect in [
        Dialect::Postgres,
        Dialect::Sqlite,
        Dialect::DataFusion,
        Dialect::MySql,
    ] {
        let sql = bind_parameters(
            "b",
            "SELECT * FROM f WHERE carrier = :carrier",
            dialect,
            &params,
        )
        .unwrap();
        assert!(
            sql.ends_with("carrier = 'UA'' OR ''1''=''1'"),
            "{dialect:?}: {sql}"
        );
        let parsed =
            sqlparser::parser::Parser::parse_sql(crate::guard::dialect_of(dialect).as_ref(), &sql)
                .unwrap();
        assert_eq!(parsed.len(), 1);
    }
    // SQL without placeholders is left exactly as written.
    let raw = "SELECT carrier FROM flights  -- note";
    assert_eq!(
        bind_parameters("b", raw, Dialect::Sqlite, &params).unwrap(),
        raw
    );
    // A parameter without a value names the block.
    params[0].value = serde_json::Value::Null;
    let (block, message, _) = block_of(
        bind_parameters(
            "b",
            "SELECT 1 WHERE 'x' = :carrier",
            Dialect::Sqlite,
            &params,
        )
        .unwrap_err(),
    );
    assert_eq!(block.as_deref(), Some("b"));
    assert!(message.contains("no value"), "{message}");
}

#[test]
fn the_page_is_self_contained_and_escapes_what_it_shows() {
    let mut d = Dashboard::from_value(sample()).unwrap();
    d.title = "<script>alert(1)</script>".into();
    d.blocks[0].content = BlockContent::Text {
        markdown: "Hi <img src=x onerror=alert(1)> [x](javascript:alert(1))".into(),
    };
    d.blocks[2].result = Some(BlockResult {
        refreshed_at: chrono::Utc::now(),
        duration_ms: 3,
        error: Some("no such table: flights </script>".into()),
        sql: Some("SELECT 1".into()),
        columns: vec![],
        rows: vec![],
        row_count: 0,
        truncated: false,
        echarts: None,
        kpi: None,
    });
    let html = d.to_html();
    assert!(!html.contains("<script>alert(1)"));
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "raw HTML shown as text"
    );
    assert!(!html.contains("javascript:alert"));
    assert!(html.contains("no such table: flights &lt;/script&gt;"));
    assert!(html.contains("default-src 'none'"));
    assert!(!html.contains("http://") || !html.contains("src=\"http"));
    // Exactly the three scripts of the page: data, ECharts, the page's own.
    assert_eq!(html.matches("<script").count(), 3);
}

#[test]
fn numbers_read_as_people_write_them() {
    assert_eq!(html::format_number(336_776.0), "336,776");
    assert_eq!(html::format_number(-1234.5), "-1,234.5");
    assert_eq!(html::format_number(12.644), "12.64");
    assert_eq!(html::format_number(0.0), "0");
    assert_eq!(html::format_number(5700.0), "5,700");
    assert_eq!(html::format_number(999.0), "999");
    assert_eq!(html::format_number(0.00421), "0.0042");
    assert_eq!(html::format_number(-0.001), "-0.001");
}

#[test]
fn table_columns_group_thousands_and_share_their_decimals() {
    let mut d = Dashboard::new("t");
    d.blocks.push(Block {
        id: "routes".into(),
        title: Some("Routes".into()),
        width: 12,
        content: BlockContent::Table {
            query: BlockQuery {
                sql: Some("SELECT 1".into()),
                ..BlockQuery::default()
            },
        },
        result: Some(BlockResult {
            refreshed_at: chrono::Utc::now(),
            duration_ms: 1,
            error: None,
            sql: None,
            columns: vec!["dest".into(), "flights".into(), "lat".into(), "year".into()],
            rows: vec![
                vec![json!("IAD"), json!(5700), json!(38.94), json!(2013)],
                vec![json!("SFO"), json!(13331), json!(40.0), json!(2013)],
                vec![json!("XNA"), json!(999), json!(36.2819), json!(2014)],
            ],
            row_count: 3,
            truncated: false,
            echarts: None,
            kpi: None,
        }),
    });
    let html = d.to_html();
    let cells = |v: &str| html.contains(&format!(">{v}</td>"));
    // Integers of four digits are grouped as five-digit ones are.
    assert!(cells("5,700") && cells("13,331") && cells("999"), "{html}");
    // A column's decimals are the most any of its values needs (two at most).
    assert!(cells("38.94") && cells("40.00") && cells("36.28"));
    // Years are codes, not amounts.
    assert!(cells("2013") && !cells("2,013"));
    // Numeric headers sit over their numbers.
    assert!(html.contains("aria-sort=\"none\" class=\"num\">flights</th>"));
}
