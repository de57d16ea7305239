//! What the REST connector tests (Snowflake, BigQuery) share: the test key pair, a catalog model
//! both fakes serve, and backend-independent checks a user would make of any connector.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use metricchat_core::connector::{
    Connector, QueryOptions, TableKind, TableRef, TableSchema, collect_stream,
};
use metricchat_core::error::{Error, ErrorKind};
use metricchat_testkit::warehouse_common::FakeTable;
use tokio_util::sync::CancellationToken;

/// A file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// The test RSA public key (PEM), which the fakes check signatures with.
pub fn public_key_pem() -> String {
    std::fs::read_to_string(fixture("test_rsa_key.pub")).unwrap()
}

/// The matching private key (PKCS#8 PEM).
pub fn private_key_pem() -> String {
    std::fs::read_to_string(fixture("test_rsa_key.p8")).unwrap()
}

/// Column `i` of `batch` as its concrete array type.
pub fn col<A: std::any::Any>(batch: &RecordBatch, i: usize) -> &A {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<A>()
        .unwrap_or_else(|| panic!("column {i} is {}", batch.column(i).data_type()))
}

/// The error of `result`, which must be of `kind`.
pub fn error_of<T>(result: Result<T, Error>, kind: ErrorKind) -> Error {
    let Err(err) = result else {
        panic!("expected a {kind:?} error, got a success")
    };
    assert_eq!(err.kind(), kind, "{err:?}");
    err
}

/// How a warehouse spells the shop catalog: identifier case and type names.
pub struct Spelling {
    pub upper: bool,
    pub integer: &'static str,
    pub money: &'static str,
    pub text: &'static str,
}

/// A shop: customers, orders (foreign key to customers), order lines (composite primary key),
/// line notes (composite foreign key to order lines) and a view, in `schema`.
pub fn shop(schema: &str, d: &Spelling) -> Vec<FakeTable> {
    let n = |s: &str| {
        if d.upper {
            s.to_ascii_uppercase()
        } else {
            s.to_string()
        }
    };
    let (int, money, text) = (d.integer, d.money, d.text);
    vec![
        FakeTable::new(schema, &n("customers"))
            .comment("People who \"order\"")
            .rows(120)
            .column(&n("id"), int, false)
            .commented_column(&n("name"), text, "full name")
            .primary_key(&[&n("id")]),
        FakeTable::new(schema, &n("orders"))
            .comment("All orders")
            .rows(1200)
            .column(&n("id"), int, false)
            .column(&n("customer_id"), int, false)
            .commented_column(&n("total"), money, "incl. \"VAT\"")
            .primary_key(&[&n("id")])
            .foreign_key(
                &n("fk_orders_customer"),
                &[&n("customer_id")],
                (schema, &n("customers")),
                &[&n("id")],
            ),
        FakeTable::new(schema, &n("order_lines"))
            .rows(5000)
            .column(&n("order_id"), int, false)
            .column(&n("line"), int, false)
            .column(&n("amount"), money, true)
            .primary_key(&[&n("order_id"), &n("line")])
            .foreign_key(
                &n("fk_lines_order"),
                &[&n("order_id")],
                (schema, &n("orders")),
                &[&n("id")],
            ),
        FakeTable::new(schema, &n("line_notes"))
            .rows(7)
            .column(&n("note_id"), int, false)
            .column(&n("order_id"), int, false)
            .column(&n("line"), int, false)
            .column(&n("note"), text, true)
            .primary_key(&[&n("note_id")])
            .foreign_key(
                &n("fk_notes_line"),
                &[&n("order_id"), &n("line")],
                (schema, &n("order_lines")),
                &[&n("order_id"), &n("line")],
            ),
        FakeTable::new(schema, &n("v_big_orders"))
            .view()
            .comment("Orders over 100")
            .column(&n("id"), int, true)
            .column(&n("total"), money, true),
    ]
}

/// What a user checks of introspection: `list_tables` names every table; `catalog()` describes
/// each one exactly as `table_schema` does; and both say what the warehouse's catalog says.
pub async fn check_catalog(conn: &dyn Connector, model: &[FakeTable]) -> Vec<TableSchema> {
    let listed = conn.list_tables().await.unwrap();
    let mut expected: Vec<TableRef> = model
        .iter()
        .map(|t| TableRef::qualified(&t.schema, &t.name))
        .collect();
    expected.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "list_tables");

    let catalog = conn.catalog().await.unwrap();
    assert_eq!(catalog.len(), model.len(), "catalog describes every table");
    for described in &catalog {
        let one = conn.table_schema(&described.table).await.unwrap();
        assert_eq!(
            &one, described,
            "catalog() == table_schema({})",
            described.table
        );
        let m = model
            .iter()
            .find(|t| {
                t.schema == described.table.schema.clone().unwrap()
                    && t.name == described.table.name
            })
            .unwrap();
        assert_eq!(
            described.kind,
            if m.view {
                TableKind::View
            } else {
                TableKind::Table
            },
            "{}",
            m.name
        );
        assert_eq!(described.comment, m.comment, "{} comment", m.name);
        assert_eq!(described.row_estimate, m.row_count, "{} rows", m.name);
        assert_eq!(
            described.primary_key, m.primary_key,
            "{} primary key",
            m.name
        );
        let columns: Vec<(String, String, bool, Option<String>)> = described
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.data_type.clone(),
                    c.nullable,
                    c.comment.clone(),
                )
            })
            .collect();
        let want: Vec<(String, String, bool, Option<String>)> = m
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.data_type.clone(),
                    c.nullable,
                    c.comment.clone(),
                )
            })
            .collect();
        assert_eq!(columns, want, "{} columns", m.name);
        assert_eq!(
            described.foreign_keys.len(),
            m.foreign_keys.len(),
            "{} fks",
            m.name
        );
        for (got, fk) in described.foreign_keys.iter().zip(&m.foreign_keys) {
            assert_eq!(got.columns, fk.columns, "{}", fk.name);
            assert_eq!(
                got.references,
                TableRef::qualified(&fk.references_schema, &fk.references_table),
                "{}",
                fk.name
            );
            assert_eq!(got.referenced_columns, fk.referenced_columns, "{}", fk.name);
        }
    }
    catalog
}

/// A table the catalog lacks is `NotFound`.
pub async fn check_missing_table(conn: &dyn Connector, table: TableRef) {
    let err = conn.table_schema(&table).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

/// The row cap truncates (never fails) a result of `total` rows from `sql`.
pub async fn check_row_cap(conn: &dyn Connector, sql: &str, total: usize) {
    for cap in [1, total / 2, total, total + 5] {
        let data = collect_stream(
            conn.query(sql, QueryOptions::default().with_max_rows(Some(cap)))
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(data.num_rows(), cap.min(total), "cap {cap}");
    }
}

/// A query that never ends is stopped by the time limit (`Timeout`) and by the cancel token
/// (`Cancelled`), promptly; `alive` still answers afterwards.
pub async fn check_timeout_and_cancel(conn: &dyn Connector, forever: &str, alive: &str) {
    let started = Instant::now();
    let err = conn
        .query(
            forever,
            QueryOptions::default().with_timeout(Some(Duration::from_millis(300))),
        )
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(started.elapsed() < crate::time_limit(Duration::from_secs(3)));

    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        trigger.cancel();
    });
    let err = conn
        .query(forever, QueryOptions::default().with_cancel(token))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err:?}");
    let data = collect_stream(conn.query(alive, QueryOptions::default()).await.unwrap())
        .await
        .unwrap();
    assert!(data.num_rows() > 0, "the connection is usable afterwards");
}
