//! The foundation's end-to-end flow on the flights data loaded into SQLite and PostgreSQL:
//! the same scripted agent, a real engine, the answer checked against a direct query.
#![cfg(all(feature = "sqlite", feature = "postgres"))]

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type};
use metricchat::events::RunStatus;
use metricchat::llm::{ScriptedLlm, ScriptedTurn};
use metricchat::store::{MemoryStore, Store};
use metricchat::{Agent, ConnectorRef, QueryOptions, connector::collect_stream};
use serde_json::json;

use crate::common::*;

const SLICE: usize = 20_000;

/// `url` with `allow_privileged_login=true`: the test servers log in as their superuser
/// (`postgres`, `root`), on which the connectors refuse model-written SQL unless opted in.
fn privileged_ok(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}allow_privileged_login=true")
}

/// (carrier, name) rows and (carrier, dep_delay) rows of the first flights, from DataFusion.
async fn slice() -> (Vec<(String, String)>, Vec<(String, Option<f64>)>) {
    let df = flights();
    let a = collect_stream(
        df.query(
            "SELECT carrier, name FROM airlines",
            QueryOptions::default(),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    let f = collect_stream(
        df.query(
            &format!(
                "SELECT carrier, CAST(dep_delay AS DOUBLE) AS dep_delay FROM flights \
                 ORDER BY year, month, day, sched_dep_time, carrier, flight LIMIT {SLICE}"
            ),
            QueryOptions::default().with_max_rows(None),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    let mut airlines = Vec::new();
    for b in &a.batches {
        let c = arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
        let n = arrow::compute::cast(b.column(1), &DataType::Utf8).unwrap();
        for i in 0..b.num_rows() {
            airlines.push((
                c.as_string::<i32>().value(i).to_string(),
                n.as_string::<i32>().value(i).to_string(),
            ));
        }
    }
    let mut rows = Vec::new();
    for b in &f.batches {
        let c = arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
        let d = b.column(1).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            rows.push((
                c.as_string::<i32>().value(i).to_string(),
                d.is_valid(i).then(|| d.value(i)),
            ));
        }
    }
    (airlines, rows)
}

const SQL: &str = "SELECT f.carrier, a.name, AVG(f.dep_delay) AS avg_dep_delay FROM flights f \
                   JOIN airlines a ON a.carrier = f.carrier GROUP BY f.carrier, a.name \
                   ORDER BY avg_dep_delay DESC";

/// Runs the scripted agent on `conn` and checks its top row against a direct query.
async fn agent_on(conn: ConnectorRef) {
    let b = direct(&conn, &format!("{SQL} LIMIT 1")).await;
    let carrier = arrow::compute::cast(b[0].column(0), &DataType::Utf8).unwrap();
    let carrier = carrier.as_string::<i32>().value(0).to_string();
    let avg = arrow::compute::cast(b[0].column(2), &DataType::Float64).unwrap();
    let avg = avg.as_primitive::<Float64Type>().value(0);
    let answer = format!("{carrier} had the worst average departure delay: {avg:.2} minutes.");
    let llm = ScriptedLlm::new(
        [
            ScriptedTurn::tool_call(
                "create_data",
                json!({"title": "Delay by carrier", "sql": SQL}),
            ),
            ScriptedTurn::text(answer.clone()),
        ],
        true,
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let agent = Agent::builder()
        .llm(llm)
        .connection(conn.clone())
        .store(store.clone())
        .generate_title(false)
        .build()
        .unwrap();
    let result = agent
        .ask("Which carrier had the worst average departure delay?")
        .await
        .unwrap();
    assert_eq!(result.answer.as_deref(), Some(answer.as_str()));
    let top = &result.batches()[0];
    let got = arrow::compute::cast(top.column(2), &DataType::Float64).unwrap();
    assert!((got.as_primitive::<Float64Type>().value(0) - avg).abs() < 1e-9);
    // The guard's row cap reached the engine's dialect intact.
    assert!(result.sql().unwrap().contains("LIMIT 10000"));
    assert_eq!(
        assert_consistent(&store, result.run_id).await,
        RunStatus::Completed
    );
    // The agent could not write: the guard refuses, and so would the engine.
    let refused = agent.query(None, "DELETE FROM flights").await.unwrap_err();
    assert_eq!(refused.kind(), metricchat::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn the_agent_flow_runs_on_sqlite() {
    let (airlines, flights_rows) = slice().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flights.db");
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE airlines (carrier TEXT PRIMARY KEY, name TEXT);
         CREATE TABLE flights (carrier TEXT REFERENCES airlines(carrier), dep_delay REAL);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut tx = pool.begin().await.unwrap();
    for (c, n) in &airlines {
        sqlx::query("INSERT INTO airlines VALUES (?, ?)")
            .bind(c)
            .bind(n)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    for (c, d) in &flights_rows {
        sqlx::query("INSERT INTO flights VALUES (?, ?)")
            .bind(c)
            .bind(d)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    pool.close().await;
    let conn = metricchat::connect(&format!("sqlite://{}", path.display())).unwrap();
    agent_on(conn).await;
}

#[tokio::test]
async fn the_agent_flow_runs_on_postgres() {
    let Some(url) = metricchat_testkit::service_url_or_skip(
        "MC_TEST_POSTGRES_URL",
        "the_agent_flow_runs_on_postgres",
    ) else {
        return;
    };
    let db = format!("mc_e2e_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    for stmt in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(stmt))
            .execute(&admin)
            .await
            .unwrap();
    }
    let db_url = match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => panic!("MC_TEST_POSTGRES_URL has no database: {url}"),
    };
    let (airlines, flights_rows) = slice().await;
    let pool = sqlx::PgPool::connect(&db_url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE airlines (carrier text PRIMARY KEY, name text);
         CREATE TABLE flights (carrier text REFERENCES airlines(carrier), dep_delay float8);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (cs, ns): (Vec<String>, Vec<String>) = airlines.into_iter().unzip();
    sqlx::query("INSERT INTO airlines SELECT * FROM UNNEST($1::text[], $2::text[])")
        .bind(&cs)
        .bind(&ns)
        .execute(&pool)
        .await
        .unwrap();
    let (fc, fd): (Vec<String>, Vec<Option<f64>>) = flights_rows.into_iter().unzip();
    sqlx::query("INSERT INTO flights SELECT * FROM UNNEST($1::text[], $2::float8[])")
        .bind(&fc)
        .bind(&fd)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let conn = metricchat::connect(&privileged_ok(&db_url)).unwrap();
    agent_on(conn).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn the_agent_flow_runs_on_mariadb() {
    use metricchat::connectors::mysql::MySqlConnector;

    let Some(url) = metricchat_testkit::service_url_or_skip(
        "MC_TEST_MYSQL_URL",
        "the_agent_flow_runs_on_mariadb",
    ) else {
        return;
    };
    let db = format!("mc_e2e_{}", std::process::id());
    let admin = MySqlConnector::from_url(&url).unwrap();
    for stmt in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(stmt))
            .execute(admin.pool())
            .await
            .unwrap();
    }
    let db_url = match url.split_once('?') {
        Some((base, query)) => format!("{}/{db}?{query}", base.rsplit_once('/').unwrap().0),
        None => format!("{}/{db}", url.rsplit_once('/').unwrap().0),
    };
    let (airlines, flights_rows) = slice().await;
    let loader = MySqlConnector::from_url(&db_url).unwrap();
    let pool = loader.pool();
    sqlx::raw_sql(
        "CREATE TABLE airlines (carrier VARCHAR(2) PRIMARY KEY, name VARCHAR(100));
         CREATE TABLE flights (carrier VARCHAR(2), dep_delay DOUBLE,
                               FOREIGN KEY (carrier) REFERENCES airlines (carrier));",
    )
    .execute(pool)
    .await
    .unwrap();
    for chunk in airlines.chunks(1000) {
        let sql = format!(
            "INSERT INTO airlines VALUES {}",
            vec!["(?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (c, n) in chunk {
            q = q.bind(c).bind(n);
        }
        q.execute(pool).await.unwrap();
    }
    for chunk in flights_rows.chunks(1000) {
        let sql = format!(
            "INSERT INTO flights VALUES {}",
            vec!["(?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (c, d) in chunk {
            q = q.bind(c).bind(d);
        }
        q.execute(pool).await.unwrap();
    }
    pool.close().await;
    let conn = metricchat::connect(&privileged_ok(&db_url.replacen(
        "mysql://",
        "mariadb://",
        1,
    )))
    .unwrap();
    assert_eq!(conn.info().dialect, metricchat::Dialect::MySql);
    agent_on(conn).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}")))
        .execute(admin.pool())
        .await
        .unwrap();
}
