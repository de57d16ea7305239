//! Dashboards and re-run query results in every store: versions numbered by the store, read
//! back exactly, unknown ids, invalid dashboards refused.

use std::sync::Arc;

use metricchat_core::dashboard::Dashboard;
use metricchat_core::error::{Error, ErrorKind};
use metricchat_core::store::{QueryRecord, QueryResultRecord, QueryStatus, Store};
use serde_json::json;
use uuid::Uuid;

use super::{at, bare_step, running_run};

async fn round_trip(store: Arc<dyn Store>) {
    // A stored query to re-run.
    let run = running_run(Uuid::new_v4(), at(0));
    let mut step = bare_step(&run, 0);
    let query = QueryRecord {
        id: Uuid::new_v4(),
        run_id: run.id,
        execution_id: None,
        connection: "flights".into(),
        sql: "SELECT carrier, COUNT(*) FROM flights GROUP BY carrier".into(),
        executed_sql: Some(
            "SELECT carrier, COUNT(*) FROM flights GROUP BY carrier\nLIMIT 10000".into(),
        ),
        attempt: 1,
        status: QueryStatus::Success,
        error: None,
        row_count: Some(16),
        duration_ms: Some(12),
        created_at: at(5),
    };
    step.queries.push(query.clone());
    store.write_step(&step).await.unwrap();
    assert_eq!(
        store.get_query(query.id).await.unwrap(),
        Some(query.clone())
    );
    assert_eq!(store.get_query(Uuid::new_v4()).await.unwrap(), None);

    let mut result = QueryResultRecord {
        query_id: query.id,
        version: 0,
        status: QueryStatus::Success,
        executed_sql: query.executed_sql.clone(),
        row_count: Some(16),
        duration_ms: Some(9),
        error: None,
        charts: vec![],
        created_at: at(100),
    };
    assert_eq!(store.put_query_result(&result).await.unwrap(), 1);
    result.status = QueryStatus::Error;
    result.error = Some("no such table: flights".into());
    result.row_count = None;
    result.created_at = at(200);
    assert_eq!(store.put_query_result(&result).await.unwrap(), 2);
    let versions = store.query_results(query.id).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].version, 1);
    assert_eq!(versions[0].row_count, Some(16));
    assert_eq!(
        versions[1],
        QueryResultRecord {
            version: 2,
            ..result.clone()
        }
    );
    let missing = QueryResultRecord {
        query_id: Uuid::new_v4(),
        ..result
    };
    let err = store.put_query_result(&missing).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

    // Dashboards: each save is a new version.
    let mut d = Dashboard::from_value(json!({
        "title": "Flights",
        "parameters": [{"name": "carrier", "type": "text", "value": "UA"}],
        "blocks": [
            {"id": "n", "width": 3, "content": {"type": "kpi",
              "query": {"sql": "SELECT COUNT(*) AS n FROM flights WHERE carrier = :carrier"}}},
            {"id": "t", "content": {"type": "table", "query": {"query_id": query.id.to_string()}}}
        ]
    }))
    .unwrap();
    assert_eq!(store.put_dashboard(&d).await.unwrap(), 1);
    d.title = "Flights, second take".into();
    assert_eq!(store.put_dashboard(&d).await.unwrap(), 2);
    let latest = store.get_dashboard(d.id, None).await.unwrap().unwrap();
    assert_eq!(latest.version, 2);
    assert_eq!(
        latest,
        Dashboard {
            version: 2,
            ..d.clone()
        }
    );
    let first = store.get_dashboard(d.id, Some(1)).await.unwrap().unwrap();
    assert_eq!((first.version, first.title.as_str()), (1, "Flights"));
    assert_eq!(store.get_dashboard(d.id, Some(9)).await.unwrap(), None);
    assert_eq!(
        store.get_dashboard(Uuid::new_v4(), None).await.unwrap(),
        None
    );
    let other = Dashboard::from_value(json!({"title": "Other", "blocks": []})).unwrap();
    store.put_dashboard(&other).await.unwrap();
    let list = store.list_dashboards(10).await.unwrap();
    assert_eq!(list.len(), 2);
    let mine = list.iter().find(|s| s.id == d.id).unwrap();
    assert_eq!(
        (mine.version, mine.title.as_str()),
        (2, "Flights, second take")
    );
    assert_eq!(store.list_dashboards(1).await.unwrap().len(), 1);

    // An invalid dashboard is refused before it is written.
    let mut bad = d.clone();
    bad.title = " ".into();
    assert!(matches!(
        store.put_dashboard(&bad).await.unwrap_err(),
        Error::Dashboard { .. }
    ));
    assert_eq!(
        store
            .get_dashboard(d.id, None)
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
}

#[tokio::test]
async fn memory_store_keeps_dashboards_and_query_results() {
    round_trip(Arc::new(metricchat_core::store::MemoryStore::new())).await;
}

#[tokio::test]
async fn sqlite_store_keeps_dashboards_and_query_results() {
    let dir = tempfile::tempdir().unwrap();
    let store = super::SqliteStore::open(dir.path().join("mc.db"))
        .await
        .unwrap();
    round_trip(Arc::new(store)).await;
}

#[cfg(feature = "postgres-store")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MC_TEST_POSTGRES_URL; run with --ignored store::postgres"]
async fn postgres_store_keeps_dashboards_and_query_results() {
    super::postgres::with_store("dashboards", round_trip).await;
}
