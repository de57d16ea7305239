//! Helpers shared by the end-to-end tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use arrow::array::{Array, Float64Array, StringArray};
use metricchat::events::{Event, EventKind, RunStatus};
use metricchat::store::{ExecutionStatus, QueryStatus, Store};
use metricchat::{ConnectorRef, connector::collect_stream};
use uuid::Uuid;

/// How much slower than a quiet two-core machine this one may be: `MC_TEST_TIME_FACTOR`
/// (default 1). Wall-clock upper bounds are multiplied by it, so a loaded CI box sets 3 instead
/// of failing; what the test checks besides the bound stays as it is.
pub fn time_factor() -> f64 {
    match std::env::var("MC_TEST_TIME_FACTOR") {
        Err(_) => 1.0,
        Ok(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f > 0.0)
            .unwrap_or_else(|| panic!("MC_TEST_TIME_FACTOR={v:?}: expected a positive number")),
    }
}

/// A wall-clock upper bound `d`, scaled by [`time_factor`].
pub fn scaled(d: std::time::Duration) -> std::time::Duration {
    d.mul_f64(time_factor())
}

/// The bundled NYC flights sample as a DataFusion connection named `flights`.
pub fn flights() -> ConnectorRef {
    metricchat::connectors::flights_sample("flights").expect("bundled flights sample")
}

/// Runs SQL directly on a connection (no agent), returning the batches.
pub async fn direct(conn: &ConnectorRef, sql: &str) -> Vec<arrow::array::RecordBatch> {
    let stream = conn
        .query(sql, metricchat::QueryOptions::default())
        .await
        .expect("direct query");
    collect_stream(stream).await.expect("collect").batches
}

/// The carrier with the worst average departure delay and that average, by direct query.
pub async fn worst_carrier(conn: &ConnectorRef) -> (String, f64) {
    let b = direct(
        conn,
        "SELECT carrier, AVG(dep_delay) AS avg_delay FROM flights GROUP BY carrier ORDER BY avg_delay DESC LIMIT 1",
    )
    .await;
    let carrier = b[0]
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .map(|a| a.value(0).to_string())
        .or_else(|| {
            arrow::compute::cast(b[0].column(0), &arrow::datatypes::DataType::Utf8)
                .ok()
                .and_then(|a| {
                    a.as_any()
                        .downcast_ref::<StringArray>()
                        .map(|s| s.value(0).to_string())
                })
        })
        .expect("carrier string");
    let avg = arrow::compute::cast(b[0].column(1), &arrow::datatypes::DataType::Float64).unwrap();
    let avg = avg.as_any().downcast_ref::<Float64Array>().unwrap();
    assert!(!avg.is_null(0));
    (carrier, avg.value(0))
}

/// The SQL the scripted model writes for the worst-carrier question.
pub const WORST_CARRIER_SQL: &str = "SELECT f.carrier, a.name, ROUND(AVG(f.dep_delay), 2) AS avg_dep_delay_min, COUNT(*) AS flights FROM flights f JOIN airlines a ON a.carrier = f.carrier GROUP BY f.carrier, a.name ORDER BY avg_dep_delay_min DESC";

/// Checks that a stored run is complete and self-consistent, and returns its record status.
pub async fn assert_consistent(store: &Arc<dyn Store>, run_id: Uuid) -> RunStatus {
    let run = store.get_run(run_id).await.unwrap().expect("run stored");
    assert!(run.status.is_terminal(), "run left {:?}", run.status);
    assert!(run.finished_at.is_some());
    let snap = store
        .latest_snapshot(run_id)
        .await
        .unwrap()
        .expect("snapshot");
    assert_eq!(snap.status, run.status, "snapshot and run disagree");
    for e in store.tool_executions(run_id).await.unwrap() {
        assert_ne!(
            e.status,
            ExecutionStatus::Running,
            "execution {} left running",
            e.tool
        );
        assert!(e.finished_at.is_some());
    }
    for q in store.queries(run_id).await.unwrap() {
        assert_ne!(
            q.status,
            QueryStatus::Running,
            "query left running: {}",
            q.sql
        );
    }
    let events = store.events(run_id).await.unwrap();
    assert!(!events.is_empty());
    assert!(matches!(events[0].kind, EventKind::RunStarted { .. }));
    let last = events.last().unwrap();
    assert!(
        matches!(
            last.kind,
            EventKind::RunFinished { .. } | EventKind::RunFailed { .. }
        ),
        "last stored event is {}",
        last.type_name()
    );
    for w in events.windows(2) {
        assert!(w[0].seq < w[1].seq, "stored events out of order");
    }
    let decisions = store.decisions(run_id).await.unwrap();
    assert_eq!(decisions.len(), run.iterations as usize);
    run.status
}

/// Event type names in order, partials dropped.
pub fn types(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .filter(|e| !e.is_partial())
        .map(Event::type_name)
        .collect()
}

/// Checks `seq` is 0..n with no gaps.
pub fn assert_seq(events: &[Event]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64, "seq gap at {i}");
    }
}

/// The bundled flights tables in one DataFusion connection named `warehouse`, among `decoys`
/// unrelated tables (marketing, HR, finance… and some with aviation-sounding names), each with
/// eight columns and one row: the "right tables among many" setting of issue 5.
pub fn flights_among_decoys(decoys: usize) -> ConnectorRef {
    use arrow::datatypes::{DataType, Field, Schema};
    let dir = metricchat::connectors::sample_data_dir();
    let mut conn = metricchat::connectors::datafusion::DataFusionConnector::new("warehouse");
    for table in ["flights", "airlines", "airports", "planes", "weather"] {
        conn = conn
            .with_parquet(table, dir.join(format!("{table}.parquet")))
            .unwrap();
    }
    let domains = [
        "marketing_campaign",
        "hr_employee",
        "finance_ledger",
        "crm_account",
        "web_session",
        "support_ticket",
        "inventory_stock",
        "payroll_run",
        "product_catalog",
        "sales_quota",
        "airport_parking",
        "flight_attendant_roster",
        "carrier_contract",
        "travel_expense",
        "lounge_access",
        "baggage_claim_survey",
        "fuel_invoice",
        "loyalty_member",
    ];
    let columns = [
        "id",
        "name",
        "created_at",
        "amount",
        "status",
        "region",
        "owner",
        "score",
        "category",
        "updated_by",
        "notes",
        "code",
    ];
    for i in 0..decoys {
        let domain = domains[i % domains.len()];
        let fields: Vec<Field> = (0..8)
            .map(|c| {
                let name = columns[(i + c * 5) % columns.len()];
                Field::new(format!("{name}_{c}"), DataType::Utf8, true)
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let arrays: Vec<arrow::array::ArrayRef> = (0..8)
            .map(|c| {
                Arc::new(StringArray::from(vec![format!("v{i}_{c}")])) as arrow::array::ArrayRef
            })
            .collect();
        let batch = arrow::array::RecordBatch::try_new(schema, arrays).unwrap();
        conn = conn
            .with_batches(format!("{domain}_{i}"), vec![batch])
            .unwrap();
    }
    Arc::new(conn)
}
