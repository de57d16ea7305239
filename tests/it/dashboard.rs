//! Dashboards end to end on real engines: re-running stored queries, building a dashboard from
//! a run and with the `create_dashboard` tool, parameters bound through the guard, a table
//! dropped between refreshes (SQLite), the page, and a 12-block refresh timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use metricchat::dashboard::{BlockContent, Dashboard};
use metricchat::llm::{ScriptedLlm, ScriptedTurn};
use metricchat::store::{QueryStatus, SqliteStore, Store};
use metricchat::{Agent, ConnectorRef, Error, ErrorKind};
use serde_json::json;

use crate::common::*;

const BY_CARRIER: &str =
    "SELECT carrier, COUNT(*) AS flights FROM flights GROUP BY carrier ORDER BY flights DESC";
const TOTAL: &str = "SELECT COUNT(*) AS flights FROM flights";

fn agent(llm: ScriptedLlm, store: Arc<dyn Store>, conns: Vec<ConnectorRef>) -> Agent {
    Agent::builder()
        .llm(llm)
        .connections(conns)
        .store(store)
        .generate_title(false)
        .answer_checks(false)
        .tool(metricchat::tools::CreateDashboard)
        .build()
        .unwrap()
}

/// One integer from a direct query (no agent, no guard).
async fn count(conn: &ConnectorRef, sql: &str) -> f64 {
    let b = direct(conn, sql).await;
    let col = arrow::compute::cast(b[0].column(0), &arrow::datatypes::DataType::Float64).unwrap();
    col.as_any()
        .downcast_ref::<arrow::array::Float64Array>()
        .unwrap()
        .value(0)
}

/// A run that makes two results (a chart and a one-row total) and answers.
fn two_results() -> Vec<ScriptedTurn> {
    vec![
        ScriptedTurn::tool_call(
            "create_data",
            json!({"title": "Flights by carrier", "sql": BY_CARRIER,
                   "chart": {"chart_type": "bar", "x": "carrier", "y": ["flights"]}}),
        ),
        ScriptedTurn::tool_call(
            "create_data",
            json!({"title": "Total flights", "sql": TOTAL}),
        ),
        ScriptedTurn::text("United (UA) flew the most flights."),
    ]
}

#[tokio::test]
async fn rerun_query_runs_a_stored_query_again_and_keeps_each_version() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
    let agent = agent(
        ScriptedLlm::new(two_results(), true),
        store.clone(),
        vec![flights()],
    );
    let result = agent.ask("Who flies the most?").await.unwrap();
    let first = &result.datasets[0];
    assert_eq!(result.charts.len(), 2, "{:?}", result.charts);

    let again = agent.rerun_query(first.query_id).await.unwrap();
    assert_eq!(again.query_id, first.query_id);
    assert_eq!(again.num_rows(), first.num_rows());
    assert_eq!(
        arrow::util::pretty::pretty_format_batches(&again.data.batches)
            .unwrap()
            .to_string(),
        arrow::util::pretty::pretty_format_batches(&first.data.batches)
            .unwrap()
            .to_string()
    );
    assert!(
        again.sql.ends_with("LIMIT 10000"),
        "the guard's cap: {}",
        again.sql
    );
    agent.rerun_query(first.query_id).await.unwrap();
    let versions = store.query_results(first.query_id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(versions[1].status, QueryStatus::Success);
    assert_eq!(versions[1].row_count, Some(16));
    // The chart follows its query: re-rendered over the new data.
    assert_eq!(versions[1].charts.len(), 1);
    assert_eq!(versions[1].charts[0].query_id, first.query_id);
    assert_eq!(
        versions[1].charts[0].echarts["series"][0]["data"]
            .as_array()
            .unwrap()
            .len(),
        16
    );

    let err = agent.rerun_query(uuid::Uuid::new_v4()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn a_dashboard_from_a_run_refreshes_saves_versions_and_renders() {
    let conn = flights();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
    let agent = agent(
        ScriptedLlm::new(two_results(), true),
        store.clone(),
        vec![conn.clone()],
    );
    let result = agent.ask("Who flies the most?").await.unwrap();

    let mut d = agent.dashboard_from_run(result.run_id).await.unwrap();
    let kinds: Vec<&str> = d.blocks.iter().map(|b| b.content.kind()).collect();
    assert_eq!(kinds, ["text", "kpi", "chart", "table"], "{d:#?}");
    assert_eq!(d.run_id, Some(result.run_id));
    let summary = d.refresh(&agent).await;
    assert_eq!((summary.refreshed, summary.failed), (3, 0));
    for b in &d.blocks {
        if b.content.query().is_some() {
            let r = b.result.as_ref().unwrap();
            assert_eq!(r.error, None, "block {}", b.id);
            assert!(r.refreshed_at.timestamp() > 0);
        }
    }
    let kpi = d.blocks[1].result.as_ref().unwrap().kpi.as_ref().unwrap();
    assert_eq!(kpi.value, Some(count(&conn, TOTAL).await));
    assert_eq!(agent.save_dashboard(&mut d).await.unwrap(), 1);
    assert_eq!(agent.save_dashboard(&mut d).await.unwrap(), 2);
    let back = store.get_dashboard(d.id, None).await.unwrap().unwrap();
    assert_eq!(back, d);

    let html = d.to_html();
    assert!(
        html.contains("data-kpi-value=\"336776\""),
        "KPI in the page"
    );
    assert!(html.contains("Flights by carrier"));
    assert!(html.len() < 1_500_000, "{} bytes", html.len());
    let json = d.to_json();
    assert_eq!(Dashboard::from_value(json).unwrap(), d);

    let err = agent
        .dashboard_from_run(uuid::Uuid::new_v4())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn create_dashboard_sends_mistakes_back_to_the_model_then_saves() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
    let mut turns = two_results();
    turns.pop();
    turns.push(ScriptedTurn::tool_call(
        "create_dashboard",
        json!({"title": "Carriers", "blocks": [
            {"id": "bars", "content": {"type": "chart", "query": {"result": "Flights by carrier"}, "colour": "red"}}
        ]}),
    ));
    turns.push(ScriptedTurn::tool_call(
        "create_dashboard",
        json!({"title": "Carriers", "blocks": [
            {"id": "bars", "content": {"type": "chart", "query": {"result": "Flights by plane"}}}
        ]}),
    ));
    turns.push(ScriptedTurn::tool_call(
        "create_dashboard",
        json!({"title": "Carriers", "description": "Who flies from New York", "blocks": [
            {"id": "total", "width": 4, "content": {"type": "kpi", "query": {"result": "total flights"}}},
            {"id": "head", "content": {"type": "heading", "text": "By carrier"}},
            {"id": "bars", "width": 8, "content": {"type": "chart", "query": {"result": "Flights by carrier"},
                                                   "chart": {"chart_type": "pie"}}}
        ]}),
    ));
    turns.push(ScriptedTurn::text("Saved the dashboard."));
    let llm = ScriptedLlm::new(turns, true);
    let agent = agent(llm.clone(), store.clone(), vec![flights()]);
    let result = agent.ask("Make me a carriers dashboard").await.unwrap();
    assert_eq!(llm.remaining(), 0);

    let execs: Vec<_> = store
        .tool_executions(result.run_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.tool == "create_dashboard")
        .collect();
    assert_eq!(execs.len(), 3);
    let first = execs[0].error.as_deref().unwrap_or_default();
    assert!(
        first.contains("block `bars`") && first.contains("colour"),
        "{first}"
    );
    let second = execs[1].error.as_deref().unwrap_or_default();
    assert!(
        second.contains("Flights by plane") && second.contains("Flights by carrier"),
        "{second}"
    );
    assert_eq!(execs[2].error, None);

    let list = store.list_dashboards(10).await.unwrap();
    assert_eq!(list.len(), 1);
    let d = store
        .get_dashboard(list[0].id, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.run_id, Some(result.run_id));
    assert_eq!(d.blocks.len(), 3);
    let BlockContent::Chart { query, .. } = &d.blocks[2].content else {
        panic!()
    };
    assert!(
        query.sql.as_deref().unwrap().starts_with(BY_CARRIER),
        "resolved to the result's SQL: {query:?}"
    );
    assert_eq!(query.result, None);
    let option = d.blocks[2]
        .result
        .as_ref()
        .unwrap()
        .echarts
        .as_ref()
        .unwrap();
    assert_eq!(option["series"][0]["type"], "pie");
}

#[tokio::test]
async fn parameters_bind_as_typed_values_and_bad_blocks_name_themselves() {
    let conn = flights();
    let agent = agent(
        ScriptedLlm::new([], true),
        Arc::new(SqliteStore::in_memory().await.unwrap()),
        vec![conn.clone()],
    );
    let mut d = Dashboard::from_value(json!({
        "title": "One carrier",
        "parameters": [
            {"name": "carrier", "type": "text", "value": "UA"},
            {"name": "period", "type": "date_range", "value": {"start": "2013-03-01", "end": "2013-03-31"}},
            {"name": "min_delay", "type": "number", "value": 15}
        ],
        "blocks": [
            {"id": "late", "content": {"type": "kpi", "query": {"sql":
              "SELECT COUNT(*) AS late FROM flights WHERE carrier = :carrier AND dep_delay > :min_delay \
               AND time_hour >= CAST(:period_start AS TIMESTAMP) AND time_hour < CAST(:period_end AS TIMESTAMP) + INTERVAL '1 day'"}}},
            {"id": "nowhere", "content": {"type": "table", "query": {"connection": "warehouse", "sql": "SELECT 1"}}},
            {"id": "forgotten", "content": {"type": "table", "query": {"query_id": uuid::Uuid::new_v4().to_string()}}},
            {"id": "writes", "content": {"type": "table", "query": {"sql": "DELETE FROM flights"}}}
        ]
    }))
    .unwrap();
    d.refresh(&agent).await;
    let expected = count(&conn, "SELECT COUNT(*) FROM flights WHERE carrier = 'UA' AND dep_delay > 15 \
        AND time_hour >= CAST('2013-03-01' AS TIMESTAMP) AND time_hour < CAST('2013-03-31' AS TIMESTAMP) + INTERVAL '1 day'").await;
    let late = d.block("late").unwrap().result.as_ref().unwrap();
    assert_eq!(late.error, None);
    assert_eq!(late.kpi.as_ref().unwrap().value, Some(expected));
    assert!(late.sql.as_deref().unwrap().contains("carrier = 'UA'"));
    // A hostile value is one string, not SQL.
    d.set_parameter("carrier", json!("UA' OR '1'='1")).unwrap();
    d.refresh(&agent).await;
    let late = d.block("late").unwrap().result.as_ref().unwrap();
    assert_eq!(late.kpi.as_ref().unwrap().value, Some(0.0), "{late:?}");

    let err = |id: &str| {
        d.block(id)
            .unwrap()
            .result
            .as_ref()
            .unwrap()
            .error
            .clone()
            .unwrap()
    };
    assert!(
        err("nowhere").contains("block `nowhere`") && err("nowhere").contains("warehouse"),
        "{}",
        err("nowhere")
    );
    assert!(
        err("forgotten").contains("block `forgotten`")
            && err("forgotten").contains("does not exist")
    );
    assert!(err("writes").contains("read-only"), "{}", err("writes"));

    let e = d.set_parameter("min_delay", json!("fifteen")).unwrap_err();
    assert!(
        matches!(&e, Error::Dashboard { message, .. } if message.contains("min_delay")),
        "{e}"
    );
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn a_table_dropped_between_refreshes_fails_only_its_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    for sql in [
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount REAL, day TEXT)",
        "INSERT INTO orders (amount, day) VALUES (10.5, '2024-01-01'), (20, '2024-01-02'), (7, '2024-01-03')",
        "CREATE TABLE returns (id INTEGER PRIMARY KEY, order_id INTEGER)",
        "INSERT INTO returns (order_id) VALUES (1)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let shop = metricchat::connect(&format!("sqlite://{}", path.display())).unwrap();
    let agent = agent(
        ScriptedLlm::new([], true),
        Arc::new(SqliteStore::in_memory().await.unwrap()),
        vec![shop],
    );
    let mut d = Dashboard::from_value(json!({
        "title": "Shop",
        "blocks": [
            {"id": "revenue", "content": {"type": "kpi", "query": {"sql": "SELECT day, SUM(amount) AS revenue FROM orders GROUP BY day ORDER BY day"}}},
            {"id": "returns", "content": {"type": "table", "query": {"sql": "SELECT * FROM returns"}}},
            {"id": "daily", "content": {"type": "chart", "query": {"sql": "SELECT day, SUM(amount) AS revenue FROM orders GROUP BY day ORDER BY day"}}}
        ]
    }))
    .unwrap();
    let s = d.refresh(&agent).await;
    assert_eq!(s.failed, 0);
    let kpi = d
        .block("revenue")
        .unwrap()
        .result
        .as_ref()
        .unwrap()
        .kpi
        .clone()
        .unwrap();
    assert_eq!(
        (kpi.value, kpi.previous, kpi.delta),
        (Some(7.0), Some(20.0), Some(-13.0))
    );
    assert_eq!(kpi.sparkline, [Some(10.5), Some(20.0), Some(7.0)]);

    sqlx::query("DROP TABLE returns")
        .execute(&pool)
        .await
        .unwrap();
    let s = d.refresh(&agent).await;
    assert_eq!((s.refreshed, s.failed), (3, 1));
    let returns = d.block("returns").unwrap().result.as_ref().unwrap();
    assert!(
        returns.error.as_deref().unwrap().contains("no such table"),
        "{returns:?}"
    );
    for id in ["revenue", "daily"] {
        assert_eq!(d.block(id).unwrap().result.as_ref().unwrap().error, None);
    }
    let html = d.to_html();
    assert!(html.contains("This block failed to refresh") && html.contains("no such table"));
    assert!(html.contains("data-chart=\"daily\""));
}

/// Twelve blocks over the bundled flights sample, refreshed at once; prints the time.
pub fn twelve_blocks() -> Dashboard {
    let q = |sql: &str| json!({"sql": sql});
    Dashboard::from_value(json!({
        "title": "NYC flights 2013",
        "blocks": [
            {"id": "flights", "width": 3, "content": {"type": "kpi", "query": q("SELECT month, COUNT(*) AS flights FROM flights GROUP BY month ORDER BY month")}},
            {"id": "delay", "width": 3, "content": {"type": "kpi", "unit": "min", "query": q("SELECT month, ROUND(AVG(dep_delay), 1) AS avg_dep_delay FROM flights GROUP BY month ORDER BY month")}},
            {"id": "carriers", "width": 3, "content": {"type": "kpi", "query": q("SELECT COUNT(DISTINCT carrier) AS carriers FROM flights")}},
            {"id": "dests", "width": 3, "content": {"type": "kpi", "query": q("SELECT COUNT(DISTINCT dest) AS destinations FROM flights")}},
            {"id": "by-month", "content": {"type": "chart", "chart": {"chart_type": "line", "x": "month", "y": "flights"}, "query": q("SELECT month, COUNT(*) AS flights FROM flights GROUP BY month ORDER BY month")}},
            {"id": "by-carrier", "content": {"type": "chart", "chart": {"chart_type": "bar"}, "query": q("SELECT a.name AS airline, COUNT(*) AS flights FROM flights f JOIN airlines a ON a.carrier = f.carrier GROUP BY a.name ORDER BY flights DESC")}},
            {"id": "origin", "content": {"type": "chart", "chart": {"chart_type": "pie"}, "query": q("SELECT origin, COUNT(*) AS flights FROM flights GROUP BY origin")}},
            {"id": "delay-hour", "content": {"type": "chart", "chart": {"chart_type": "line"}, "query": q("SELECT hour, ROUND(AVG(dep_delay), 1) AS avg_dep_delay FROM flights GROUP BY hour ORDER BY hour")}},
            {"id": "dist", "content": {"type": "chart", "chart": {"chart_type": "histogram", "y": "distance"}, "query": q("SELECT distance FROM flights LIMIT 5000")}},
            {"id": "heat", "content": {"type": "chart", "chart": {"chart_type": "heatmap", "x": "month", "series": "origin", "y": "flights"}, "query": q("SELECT month, origin, COUNT(*) AS flights FROM flights GROUP BY month, origin ORDER BY month")}},
            {"id": "top-dest", "width": 12, "content": {"type": "table", "query": q("SELECT f.dest, p.name, COUNT(*) AS flights, ROUND(AVG(f.arr_delay), 1) AS avg_arr_delay FROM flights f LEFT JOIN airports p ON p.faa = f.dest GROUP BY f.dest, p.name ORDER BY flights DESC LIMIT 25")}},
            {"id": "planes", "width": 12, "content": {"type": "table", "query": q("SELECT manufacturer, COUNT(*) AS planes, ROUND(AVG(seats), 0) AS avg_seats FROM planes GROUP BY manufacturer ORDER BY planes DESC LIMIT 15")}}
        ]
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_blocks_refresh_concurrently_into_a_small_page() {
    let agent = agent(
        ScriptedLlm::new([], true),
        Arc::new(SqliteStore::in_memory().await.unwrap()),
        vec![flights()],
    );
    let mut d = twelve_blocks();
    // Warm the files' metadata once, as a long-lived host would have.
    d.refresh(&agent).await;
    let started = Instant::now();
    let summary = d.refresh(&agent).await;
    let took = started.elapsed();
    assert_eq!(
        (summary.refreshed, summary.failed),
        (12, 0),
        "{:#?}",
        d.blocks
            .iter()
            .map(|b| (&b.id, b.result.as_ref().and_then(|r| r.error.clone())))
            .collect::<Vec<_>>()
    );
    let html = d.to_html();
    println!(
        "12-block flights dashboard: refresh {} ms ({} build), page {} bytes",
        took.as_millis(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        html.len()
    );
    assert!(html.len() < 1_500_000, "{} bytes", html.len());
    assert!(
        took < scaled(Duration::from_secs(if cfg!(debug_assertions) {
            30
        } else {
            1
        })),
        "{took:?}"
    );
}
