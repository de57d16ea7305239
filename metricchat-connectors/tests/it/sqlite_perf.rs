//! SQLite at size: the row→Arrow path on a 200,000-row × 10-column table (values, batch
//! boundaries, row cap, throughput printed), and `catalog()` in one pass against the per-table
//! descriptions.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use metricchat_connectors::sqlite::SqliteConnector;
use metricchat_core::connector::{Connector, QueryOptions, TableKind, TableSchema, collect_stream};
use metricchat_core::error::ErrorKind;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

const ROWS: i64 = 200_000;

async fn writer(path: &Path) -> SqlitePool {
    SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true),
    )
    .await
    .unwrap()
}

async fn exec(pool: &SqlitePool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
        .unwrap();
}

/// The same table as `bindings-python/bench/to_pandas.py` builds.
async fn bench_db(path: &Path, rows: i64) {
    let w = writer(path).await;
    exec(
        &w,
        &format!(
            "CREATE TABLE mc_bench_rows (id INTEGER, i32 INTEGER, i64 INTEGER, f64 REAL,
               price REAL, name TEXT, flag BOOLEAN, day DATE, ts TIMESTAMP, note TEXT);
             WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows})
             INSERT INTO mc_bench_rows SELECT n, n % 100000, n * 7919, n / 3.0,
               (n % 10000) / 100.0, 'customer_' || (n % 5000), n % 2 = 0,
               date('2020-01-01', '+' || (n % 1500) || ' days'),
               datetime('2020-01-01', '+' || n || ' seconds'), hex(n * 31) FROM g;"
        ),
    )
    .await;
    w.close().await;
}

async fn run(c: &SqliteConnector, sql: &str, opts: QueryOptions) -> Vec<RecordBatch> {
    collect_stream(c.query(sql, opts).await.unwrap())
        .await
        .unwrap()
        .batches
}

#[tokio::test]
#[ignore = "scale tier: run with --include-ignored in release"]
async fn sqlite_large_result_is_exact_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    bench_db(&path, ROWS).await;
    let c = SqliteConnector::from_url(&format!("sqlite://{}", path.display())).unwrap();
    let all = QueryOptions::default()
        .with_max_rows(None)
        .with_timeout(None);

    let started = Instant::now();
    let batches = run(&c, "SELECT * FROM mc_bench_rows ORDER BY id", all.clone()).await;
    let secs = started.elapsed().as_secs_f64();
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    println!(
        "sqlite_perf: {total} rows x 10 columns in {secs:.2} s ({:.0} rows/s, this build's profile)",
        total as f64 / secs
    );
    assert_eq!(total, usize::try_from(ROWS).unwrap());
    let sizes: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
    assert!(
        sizes[..sizes.len() - 1].iter().all(|n| *n == 8192),
        "{sizes:?}"
    );

    let schema = batches[0].schema();
    let types: Vec<DataType> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        [
            DataType::Int64,
            DataType::Int64,
            DataType::Int64,
            DataType::Float64,
            DataType::Float64,
            DataType::Utf8,
            DataType::Boolean,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Utf8,
        ]
    );
    // Spot checks on both sides of batch boundaries and at the end, against the formulas.
    for n in [1i64, 8192, 8193, 16_384, 100_001, ROWS] {
        let i = usize::try_from(n - 1).unwrap();
        let (b, r) = (&batches[i / 8192], i % 8192);
        let int = |c: usize| b.column(c).as_primitive::<Int64Type>().value(r);
        assert_eq!(int(0), n);
        assert_eq!(int(1), n % 100_000);
        assert_eq!(int(2), n * 7919);
        let f64s = |c: usize| b.column(c).as_primitive::<Float64Type>().value(r);
        assert_eq!(f64s(3), n as f64 / 3.0);
        assert_eq!(f64s(4), (n % 10_000) as f64 / 100.0);
        assert_eq!(
            b.column(5).as_string::<i32>().value(r),
            format!("customer_{}", n % 5000)
        );
        assert_eq!(b.column(6).as_boolean().value(r), n % 2 == 0);
        let day = b.column(7).as_primitive::<Date32Type>().value(r);
        assert_eq!(i64::from(day), 18_262 + n % 1500, "2020-01-01 is day 18262");
        let ts = b
            .column(8)
            .as_primitive::<TimestampMicrosecondType>()
            .value(r);
        assert_eq!(ts, (1_577_836_800 + n) * 1_000_000);
        // SQLite's hex() of an integer hexes its decimal text: hex(31) = '3331'.
        let hex: String = (n * 31)
            .to_string()
            .bytes()
            .map(|c| format!("{c:02X}"))
            .collect();
        assert_eq!(b.column(9).as_string::<i32>().value(r), hex);
    }

    // The row cap is exact, mid-batch.
    let capped = run(
        &c,
        "SELECT id FROM mc_bench_rows",
        all.clone().with_max_rows(Some(10_001)),
    )
    .await;
    assert_eq!(
        capped.iter().map(RecordBatch::num_rows).sum::<usize>(),
        10_001
    );

    // An expression column whose first batch is all NULL is text; later values are kept.
    let late = run(
        &c,
        "SELECT id, CASE WHEN id > 9000 THEN id END AS late FROM mc_bench_rows \
         WHERE id <= 9100 ORDER BY id",
        all.clone(),
    )
    .await;
    assert_eq!(late[0].schema().field(1).data_type(), &DataType::Utf8);
    let last = late.last().unwrap();
    let col = last.column(1).as_string::<i32>();
    assert_eq!(col.value(col.len() - 1), "9100");
    assert_eq!(late[0].column(1).null_count(), 8192);

    // The first batch settles an expression column's type; a later value that does not fit
    // fails the query, naming the column.
    let stream = c
        .query(
            "SELECT CASE WHEN id <= 8192 THEN id ELSE 'n/a' END AS flaky FROM mc_bench_rows \
             ORDER BY id",
            all,
        )
        .await
        .unwrap();
    let err = collect_stream(stream).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryFailed);
    assert!(err.to_string().contains("flaky"), "{err}");
}

/// `catalog()` the way the trait's default builds it: list, then describe each table.
async fn per_table(c: &SqliteConnector) -> Vec<TableSchema> {
    let mut out = Vec::new();
    for t in c.list_tables().await.unwrap() {
        if let Ok(s) = c.table_schema(&t).await {
            out.push(s);
        }
    }
    out
}

#[tokio::test]
async fn sqlite_catalog_in_one_pass_equals_per_table_descriptions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    let w = writer(&path).await;
    exec(
        &w,
        r#"CREATE TABLE carriers (code TEXT PRIMARY KEY, name TEXT NOT NULL);
           CREATE TABLE airports (faa TEXT, region TEXT, name TEXT, PRIMARY KEY (region, faa));
           CREATE TABLE legs (id INTEGER, seq INTEGER, carrier TEXT REFERENCES carriers,
                              origin TEXT, origin_region TEXT, fare NUMERIC, loose,
                              PRIMARY KEY (seq, id),
                              FOREIGN KEY (origin_region, origin) REFERENCES airports (region, faa),
                              FOREIGN KEY (carrier) REFERENCES carriers (code));
           CREATE TABLE "odd ""name" ("a b" INTEGER NOT NULL, c);
           CREATE TABLE Zeta (x INTEGER PRIMARY KEY AUTOINCREMENT);
           CREATE VIEW v_legs AS SELECT id, fare * 2 AS double_fare FROM legs;
           CREATE INDEX legs_origin ON legs (origin);
           INSERT INTO carriers VALUES ('AA', 'American'), ('UA', 'United');
           INSERT INTO Zeta DEFAULT VALUES;"#,
    )
    .await;
    let c = SqliteConnector::from_url(&format!("sqlite://{}", path.display())).unwrap();

    let one_pass = c.catalog().await.unwrap();
    let expected = per_table(&c).await;
    assert_eq!(one_pass, expected);
    let names: Vec<&str> = one_pass.iter().map(|t| t.table.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Zeta",
            "airports",
            "carriers",
            "legs",
            "odd \"name",
            "v_legs"
        ]
    );
    let legs = &one_pass[3];
    assert_eq!(legs.primary_key, ["seq", "id"]);
    assert_eq!(legs.foreign_keys.len(), 3);
    assert!(
        legs.foreign_keys
            .iter()
            .any(|fk| fk.columns == ["origin_region", "origin"]
                && fk.referenced_columns == ["region", "faa"])
    );
    assert_eq!(one_pass[2].row_estimate, Some(2));
    assert_eq!(one_pass[5].kind, TableKind::View);

    // A view whose table was dropped cannot be described: the catalog leaves it out, as the
    // per-table path does, instead of failing.
    exec(
        &w,
        "CREATE TABLE doomed (x INTEGER); CREATE VIEW v_doomed AS SELECT x FROM doomed; \
         DROP TABLE doomed;",
    )
    .await;
    let c = SqliteConnector::from_url(&format!("sqlite://{}", path.display())).unwrap();
    let with_broken = c.catalog().await.unwrap();
    assert_eq!(with_broken, per_table(&c).await);
    assert!(!with_broken.iter().any(|t| t.table.name == "v_doomed"));
    assert_eq!(with_broken.len(), 6);
}
