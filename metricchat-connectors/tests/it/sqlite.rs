//! SQLite connector against real database files in a temporary directory.
#![cfg(feature = "sqlite")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::path::Path;
use std::time::Duration;

use crate::conformance;

use conformance::{Backend, airline_sql, case, type_table_sql};

use arrow::array::{
    Array, AsArray, BinaryArray, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch,
    StringArray, Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use metricchat_connectors::sqlite::SqliteConnector;
use metricchat_core::connector::{
    Connector, Dialect, QueryOptions, TableKind, TableRef, collect_stream,
};
use metricchat_core::error::{Error, ErrorKind};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use tokio_util::sync::CancellationToken;

/// A writable pool for setting up the fixture (the connector itself is read-only).
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

async fn run(
    c: &SqliteConnector,
    sql: &str,
    opts: QueryOptions,
) -> Result<Vec<RecordBatch>, Error> {
    Ok(collect_stream(c.query(sql, opts).await?).await?.batches)
}

#[tokio::test]
async fn sqlite_connector_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let w = writer(&path).await;
    exec(
        &w,
        "CREATE TABLE carriers (code TEXT PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE legs (id INTEGER, seq INTEGER, carrier TEXT REFERENCES carriers(code),
                            fare NUMERIC, PRIMARY KEY (id, seq));
         CREATE VIEW v_legs AS SELECT id FROM legs;
         INSERT INTO carriers VALUES ('AA', 'American'), ('UA', 'United');
         CREATE TABLE types (b BOOLEAN, i INTEGER, r REAL, t TEXT, bl BLOB, d DATE, tm TIME,
                             ts DATETIME, n NUMERIC, loose);
         INSERT INTO types VALUES (1, 9000000000, 2.5, 'text', x'0102ff', '2013-01-02',
                                   '12:34:56.789', '2013-01-02 03:04:05.678901', 12.5, 'any');
         INSERT INTO types VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
    )
    .await;

    let url = format!("sqlite://{}?name=shop", path.display());
    let c = SqliteConnector::from_url(&url).unwrap();
    let generic = metricchat_connectors::connect(&url).unwrap();
    assert_eq!(generic.info().dialect, Dialect::Sqlite);
    assert_eq!(c.info().name, "shop");
    assert!(c.info().capabilities.cancel && c.info().capabilities.read_only_transactions);
    c.test_connection().await.unwrap();

    // Introspection.
    let tables = c.list_tables().await.unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["carriers", "legs", "types", "v_legs"]);
    let carriers = c.table_schema(&TableRef::bare("carriers")).await.unwrap();
    assert_eq!(carriers.primary_key, vec!["code"]);
    assert_eq!(carriers.row_estimate, Some(2));
    assert!(!carriers.columns[1].nullable);
    let legs = c.table_schema(&TableRef::bare("LEGS")).await.unwrap();
    assert_eq!(legs.table.name, "legs");
    assert_eq!(legs.primary_key, vec!["id", "seq"]);
    assert_eq!(legs.foreign_keys.len(), 1);
    assert_eq!(legs.foreign_keys[0].columns, vec!["carrier"]);
    assert_eq!(legs.foreign_keys[0].references, TableRef::bare("carriers"));
    assert_eq!(legs.foreign_keys[0].referenced_columns, vec!["code"]);
    assert_eq!(legs.columns[3].data_type, "NUMERIC");
    let view = c.table_schema(&TableRef::bare("v_legs")).await.unwrap();
    assert_eq!(view.kind, TableKind::View);
    let missing = c.table_schema(&TableRef::bare("nope")).await.err().unwrap();
    assert_eq!(missing.kind(), ErrorKind::NotFound);

    // Type mapping: every documented row, plus a NULL row.
    let batches = run(
        &c,
        "SELECT *, 1 + 1 AS expr_int, 'x' AS expr_text FROM types ORDER BY b DESC",
        QueryOptions::default(),
    )
    .await
    .unwrap();
    let b = &batches[0];
    assert_eq!(b.num_rows(), 2);
    let expect = [
        ("b", DataType::Boolean),
        ("i", DataType::Int64),
        ("r", DataType::Float64),
        ("t", DataType::Utf8),
        ("bl", DataType::Binary),
        ("d", DataType::Date32),
        ("tm", DataType::Time64(TimeUnit::Microsecond)),
        ("ts", DataType::Timestamp(TimeUnit::Microsecond, None)),
        ("n", DataType::Float64),
        ("loose", DataType::Utf8),
        ("expr_int", DataType::Int64),
        ("expr_text", DataType::Utf8),
    ];
    for (name, dt) in &expect {
        let col = b.column_by_name(name).unwrap();
        assert_eq!(col.data_type(), dt, "{name}");
        assert!(col.is_valid(0), "{name} row 0");
        if !name.starts_with("expr") {
            assert!(col.is_null(1), "{name} NULL row");
        }
    }
    let col = |n: &str| b.column_by_name(n).unwrap().clone();
    assert!(
        col("b")
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap()
            .value(0)
    );
    assert_eq!(
        col("i")
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0),
        9_000_000_000
    );
    assert_eq!(
        col("r")
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(0),
        2.5
    );
    assert_eq!(
        col("t")
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0),
        "text"
    );
    assert_eq!(
        col("bl")
            .as_any()
            .downcast_ref::<BinaryArray>()
            .unwrap()
            .value(0),
        [1, 2, 255]
    );
    assert_eq!(
        col("d")
            .as_any()
            .downcast_ref::<Date32Array>()
            .unwrap()
            .value(0),
        15707
    );
    assert_eq!(
        col("tm")
            .as_any()
            .downcast_ref::<Time64MicrosecondArray>()
            .unwrap()
            .value(0),
        45_296_789_000
    );
    assert_eq!(
        col("ts")
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap()
            .value(0),
        1_357_095_845_678_901
    );
    assert_eq!(
        col("n")
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(0),
        12.5
    );
    assert_eq!(
        col("loose")
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0),
        "any"
    );
    assert_eq!(
        col("expr_int")
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0),
        2
    );

    // A value that does not fit its declared type fails loudly.
    exec(
        &w,
        "CREATE TABLE bad (i INTEGER); INSERT INTO bad VALUES ('abc');",
    )
    .await;
    let err = run(&c, "SELECT i FROM bad", QueryOptions::default())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::Query { message, .. } if message.contains("`i`")),
        "{err:?}"
    );

    // Row cap and batching.
    let series = "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 20000) SELECT x FROM s";
    let batches = run(
        &c,
        series,
        QueryOptions::default().with_max_rows(Some(10_000)),
    )
    .await
    .unwrap();
    assert_eq!(
        batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
        10_000
    );
    assert!(batches.iter().all(|b| b.num_rows() <= 8192));
    let all = run(&c, series, QueryOptions::default().with_max_rows(None))
        .await
        .unwrap();
    assert_eq!(all.iter().map(RecordBatch::num_rows).sum::<usize>(), 20_000);

    // Timeout: the engine stops stepping a long aggregate; the connection still works.
    let slow = "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 1000000000) SELECT count(*) FROM s";
    let started = std::time::Instant::now();
    let err = run(
        &c,
        slow,
        QueryOptions::default().with_timeout(Some(Duration::from_millis(200))),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(started.elapsed() < crate::time_limit(Duration::from_secs(2)));
    // The pool's connections are all usable (the interrupted one included).
    for _ in 0..6 {
        let ok = run(&c, "SELECT count(*) FROM carriers", QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(
            ok[0]
                .column(0)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .value(0),
            2
        );
    }

    // Cancel.
    let token = CancellationToken::new();
    let t2 = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        t2.cancel();
    });
    let started = std::time::Instant::now();
    let err = run(&c, slow, QueryOptions::default().with_cancel(token))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert!(started.elapsed() < crate::time_limit(Duration::from_secs(2)));
    run(&c, "SELECT 1", QueryOptions::default()).await.unwrap();

    // Writes are refused by the engine.
    for sql in [
        "INSERT INTO carriers VALUES ('DL', 'Delta')",
        "CREATE TABLE t2 (x)",
        "PRAGMA query_only = OFF",
    ] {
        let res = run(&c, sql, QueryOptions::default()).await;
        if sql.starts_with("PRAGMA") {
            // Allowed by SQLite, but the file is opened read-only anyway.
            continue;
        }
        let err = res.err().unwrap();
        assert_eq!(err.kind(), ErrorKind::QueryFailed, "{sql}: {err:?}");
        assert!(
            matches!(&err, Error::Query { code: Some(_), .. }),
            "{err:?}"
        );
    }
    let err = run(
        &c,
        "INSERT INTO carriers VALUES ('DL', 'Delta')",
        QueryOptions::default(),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.kind(), ErrorKind::QueryFailed);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM carriers")
        .fetch_one(&w)
        .await
        .unwrap();
    assert_eq!(n, 2);

    // Bad column: QueryFailed with SQLite's result code.
    let err = run(&c, "SELECT nope FROM carriers", QueryOptions::default())
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::QueryFailed);
    assert!(
        matches!(&err, Error::Query { code: Some(code), message, .. } if code == "1" && message.contains("nope")),
        "{err:?}"
    );

    // Empty results keep their schema.
    let empty = collect_stream(
        c.query("SELECT code FROM carriers WHERE 0", QueryOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(empty.num_rows(), 0);
    assert_eq!(empty.schema.field(0).name(), "code");

    // Missing files and in-memory databases.
    let err = SqliteConnector::from_url("sqlite:///definitely/not/here.db")
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let mem = metricchat_connectors::connect("sqlite::memory:").unwrap();
    let one = collect_stream(
        mem.query("SELECT 40 + 2 AS x", QueryOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        one.batches[0]
            .column(0)
            .as_primitive::<arrow::datatypes::Int64Type>()
            .value(0),
        42
    );
    assert!(
        mem.query("CREATE TABLE t (x)", QueryOptions::default())
            .await
            .is_err()
    );
    let _ = mem
        .query("PRAGMA query_only = OFF", QueryOptions::default())
        .await
        .map(|_| ());
    let _ = mem
        .query(
            "PRAGMA query_only = OFF; CREATE TABLE t (x)",
            QueryOptions::default(),
        )
        .await
        .map(|_| ());
    assert!(
        mem.query("CREATE TABLE t (x)", QueryOptions::default())
            .await
            .is_err()
    );
    assert!(mem.list_tables().await.unwrap().is_empty());
}

#[cfg(feature = "datafusion")]
#[tokio::test]
async fn sqlite_nycflights_matches_datafusion() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flights.db");
    let w = writer(&path).await;
    exec(
        &w,
        "CREATE TABLE airlines (carrier TEXT PRIMARY KEY, name TEXT);
         CREATE TABLE flights (year INTEGER, month INTEGER, day INTEGER, carrier TEXT
                               REFERENCES airlines(carrier), dep_delay REAL, distance REAL);",
    )
    .await;
    let df = metricchat_connectors::flights_sample("df").unwrap();
    let airlines = collect_stream(
        df.query(
            "SELECT carrier, name FROM airlines",
            QueryOptions::default(),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    let flights = collect_stream(
        df.query(
            "SELECT CAST(year AS BIGINT) AS year, CAST(month AS BIGINT) AS month, CAST(day AS BIGINT) AS day, carrier, \
             CAST(dep_delay AS DOUBLE) AS dep_delay, CAST(distance AS DOUBLE) AS distance \
             FROM flights ORDER BY year, month, day, carrier LIMIT 20000",
            QueryOptions::default().with_max_rows(None),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    let mut tx = w.begin().await.unwrap();
    for b in &airlines.batches {
        let c = arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
        let n = arrow::compute::cast(b.column(1), &DataType::Utf8).unwrap();
        for i in 0..b.num_rows() {
            sqlx::query("INSERT INTO airlines VALUES (?, ?)")
                .bind(c.as_string::<i32>().value(i).to_string())
                .bind(n.as_string::<i32>().value(i).to_string())
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    for b in &flights.batches {
        let int = |i: usize| {
            b.column(i)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .clone()
        };
        let (y, m, d) = (int(0), int(1), int(2));
        let c = arrow::compute::cast(b.column(3), &DataType::Utf8).unwrap();
        let dd = b.column(4).as_primitive::<arrow::datatypes::Float64Type>();
        let dist = b.column(5).as_primitive::<arrow::datatypes::Float64Type>();
        for i in 0..b.num_rows() {
            sqlx::query("INSERT INTO flights VALUES (?, ?, ?, ?, ?, ?)")
                .bind(y.value(i))
                .bind(m.value(i))
                .bind(d.value(i))
                .bind(c.as_string::<i32>().value(i).to_string())
                .bind(dd.is_valid(i).then(|| dd.value(i)))
                .bind(dist.value(i))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
    w.close().await;

    let c = SqliteConnector::from_url(&format!("sqlite://{}", path.display())).unwrap();
    let sql = "SELECT a.name, count(*) AS n, round(avg(f.dep_delay), 3) AS avg_delay \
               FROM flights f JOIN airlines a ON a.carrier = f.carrier GROUP BY a.name ORDER BY a.name";
    let lite = run(&c, sql, QueryOptions::default()).await.unwrap();
    let df_sql = "WITH f AS (SELECT * FROM flights ORDER BY year, month, day, carrier LIMIT 20000) \
                  SELECT a.name, count(*) AS n, round(avg(f.dep_delay), 3) AS avg_delay \
                  FROM f JOIN airlines a ON a.carrier = f.carrier GROUP BY a.name ORDER BY a.name";
    let dfr = collect_stream(df.query(df_sql, QueryOptions::default()).await.unwrap())
        .await
        .unwrap();
    let rows = |batches: &[RecordBatch]| {
        let mut out = Vec::new();
        for b in batches {
            let names = arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
            let counts = arrow::compute::cast(b.column(1), &DataType::Int64).unwrap();
            let avgs = arrow::compute::cast(b.column(2), &DataType::Float64).unwrap();
            for i in 0..b.num_rows() {
                out.push((
                    names.as_string::<i32>().value(i).to_string(),
                    counts
                        .as_primitive::<arrow::datatypes::Int64Type>()
                        .value(i),
                    (avgs
                        .as_primitive::<arrow::datatypes::Float64Type>()
                        .value(i)
                        * 1000.0)
                        .round() as i64,
                ));
            }
        }
        out
    };
    let (a, b) = (rows(&lite), rows(&dfr.batches));
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conformance.db");
    let w = writer(&path).await;
    for sql in airline_sql(None) {
        exec(&w, &sql).await;
    }
    let types = vec![
        case("BOOLEAN", "1", DataType::Boolean, "true"),
        case("INTEGER", "9000000000", DataType::Int64, "9000000000"),
        case("REAL", "2.5", DataType::Float64, "2.5"),
        case("NUMERIC", "12.5", DataType::Float64, "12.5"),
        case("TEXT", "'text'", DataType::Utf8, "text"),
        case("BLOB", "x'0102ff'", DataType::Binary, "0102ff"),
        case("DATE", "'2013-01-02'", DataType::Date32, "2013-01-02"),
        case(
            "TIME",
            "'12:34:56.789'",
            DataType::Time64(TimeUnit::Microsecond),
            "12:34:56.789",
        ),
        case(
            "DATETIME",
            "'2013-01-02 03:04:05.678901'",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            "2013-01-02T03:04:05.678901",
        ),
    ];
    for sql in type_table_sql("types", "INTEGER", &types) {
        exec(&w, &sql).await;
    }
    w.close().await;
    let c = SqliteConnector::from_url(&format!("sqlite://{}", path.display())).unwrap();
    Backend::airline(
        &c,
        None,
        "types".into(),
        types,
        "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 20000) \
         SELECT x FROM s",
        "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s \
         WHERE x < 1000000000) SELECT count(*) FROM s",
    )
    .run_all()
    .await;
}
