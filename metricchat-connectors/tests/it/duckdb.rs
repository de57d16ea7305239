//! DuckDB connector against real DuckDB database files and in-memory databases.
#![cfg(feature = "duckdb")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::path::Path;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Field, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit,
    Time64MicrosecondType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use futures::StreamExt;
use metricchat_connectors::duckdb::{DuckDbConfig, DuckDbConnector};
use metricchat_core::connector::{
    Connector, Dialect, QueryOptions, TableKind, TableRef, collect_stream,
};
use metricchat_core::error::{Error, ErrorKind};
use tokio_util::sync::CancellationToken;

/// A query DuckDB needs many seconds for (a 10-billion-row cross join it cannot simplify).
const SLOW: &str = "SELECT sum(a.range * b.range) FROM range(100000000) a, range(100) b";

/// Writes the fixture with the duckdb crate directly (the connector itself is read-only).
fn write_fixture(path: &Path) {
    let w = duckdb::Connection::open(path).unwrap();
    w.execute_batch(
        "CREATE TABLE carriers (code VARCHAR PRIMARY KEY, name VARCHAR NOT NULL);
         COMMENT ON TABLE carriers IS 'Airlines by IATA code';
         COMMENT ON COLUMN carriers.name IS 'Full name';
         CREATE TABLE legs (id INTEGER, seq INTEGER, carrier VARCHAR REFERENCES carriers(code),
                            fare DECIMAL(10, 2), PRIMARY KEY (id, seq));
         CREATE VIEW v_legs AS SELECT id, fare FROM legs;
         CREATE SCHEMA sales;
         CREATE TABLE sales.orders (id BIGINT, amount DOUBLE);
         INSERT INTO carriers VALUES ('AA', 'American'), ('UA', 'United');
         INSERT INTO legs SELECT i, 1, CASE WHEN i % 2 = 0 THEN 'AA' ELSE 'UA' END, i * 1.25
             FROM range(1, 1001) t(i);
         INSERT INTO sales.orders VALUES (1, 9.5);
         CHECKPOINT;",
    )
    .unwrap();
}

async fn run(c: &dyn Connector, sql: &str, opts: QueryOptions) -> Result<Vec<RecordBatch>, Error> {
    Ok(collect_stream(c.query(sql, opts).await?).await?.batches)
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

fn code_of(e: &Error) -> Option<&str> {
    match e {
        Error::Query { code, .. } => code.as_deref(),
        _ => None,
    }
}

#[tokio::test]
async fn duckdb_file_introspection_and_queries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.duckdb");
    write_fixture(&path);

    let url = format!("duckdb://{}?name=shop&threads=2", path.display());
    let generic = metricchat_connectors::connect(&url).unwrap();
    let info = generic.info();
    assert_eq!(
        (info.name.as_str(), info.backend.as_str(), info.dialect),
        ("shop", "duckdb", Dialect::DuckDb)
    );
    assert!(info.capabilities.cancel && info.capabilities.read_only_transactions);
    generic.test_connection().await.unwrap();
    drop(generic);
    let c = DuckDbConnector::from_url(&url).unwrap();
    assert_eq!(c.path(), Some(path.as_path()));

    // Introspection: one catalog query set.
    let tables = c.list_tables().await.unwrap();
    assert_eq!(
        tables,
        vec![
            TableRef::qualified("main", "carriers"),
            TableRef::qualified("main", "legs"),
            TableRef::qualified("main", "v_legs"),
            TableRef::qualified("sales", "orders"),
        ]
    );
    let catalog = c.catalog().await.unwrap();
    assert_eq!(catalog.len(), 4);
    let carriers = &catalog[0];
    assert_eq!(carriers.table, TableRef::qualified("main", "carriers"));
    assert_eq!(carriers.comment.as_deref(), Some("Airlines by IATA code"));
    assert_eq!(carriers.primary_key, vec!["code"]);
    assert_eq!(carriers.row_estimate, Some(2));
    assert_eq!(carriers.columns[1].name, "name");
    assert_eq!(carriers.columns[1].comment.as_deref(), Some("Full name"));
    assert!(!carriers.columns[1].nullable);
    assert!(
        !carriers.columns[0].nullable,
        "primary key columns are NOT NULL"
    );
    let legs = &catalog[1];
    assert_eq!(legs.primary_key, vec!["id", "seq"]);
    assert_eq!(legs.row_estimate, Some(1000));
    assert_eq!(legs.foreign_keys.len(), 1);
    assert_eq!(legs.foreign_keys[0].columns, vec!["carrier"]);
    assert_eq!(
        legs.foreign_keys[0].references,
        TableRef::qualified("main", "carriers")
    );
    assert_eq!(legs.foreign_keys[0].referenced_columns, vec!["code"]);
    let fare = legs.columns.iter().find(|c| c.name == "fare").unwrap();
    assert_eq!(fare.data_type, "DECIMAL(10,2)");
    assert!(fare.nullable);
    let view = &catalog[2];
    assert_eq!(view.kind, TableKind::View);
    assert_eq!(
        view.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["id", "fare"]
    );
    assert_eq!(view.row_estimate, None);

    // One table, with or without schema, any case; other schemas; missing ones.
    let t = c.table_schema(&TableRef::bare("LEGS")).await.unwrap();
    assert_eq!(t.table, TableRef::qualified("main", "legs"));
    assert_eq!(t.columns.len(), 4);
    let t = c
        .table_schema(&TableRef::qualified("sales", "orders"))
        .await
        .unwrap();
    assert_eq!(t.columns[1].data_type, "DOUBLE");
    let err = c
        .table_schema(&TableRef::bare("nope"))
        .await
        .expect_err("missing table");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let sample = c.sample(&TableRef::bare("legs"), 3).await.unwrap();
    assert_eq!(sample.num_rows(), 3);

    // Queries, the row cap, errors with DuckDB's error type as code.
    let b = run(
        &c,
        "SELECT carrier, count(*) AS n, sum(fare) AS total FROM legs GROUP BY 1 ORDER BY 1",
        QueryOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(rows(&b), 2);
    assert_eq!(
        b[0].schema().field(2).data_type(),
        &DataType::Decimal128(38, 2)
    );
    assert_eq!(b[0].column(1).as_primitive::<Int64Type>().value(0), 500);
    let capped = run(
        &c,
        "SELECT * FROM range(1000000)",
        QueryOptions::default().with_max_rows(Some(4500)),
    )
    .await
    .unwrap();
    assert_eq!(rows(&capped), 4500);
    let uncapped = run(
        &c,
        "SELECT * FROM range(100000)",
        QueryOptions::default().with_max_rows(None),
    )
    .await
    .unwrap();
    assert_eq!(rows(&uncapped), 100_000);
    let empty = run(
        &c,
        "SELECT * FROM legs WHERE id < 0",
        QueryOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(rows(&empty), 0);
    let stream = c
        .query("SELECT id FROM legs WHERE false", QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(stream.schema().field(0).data_type(), &DataType::Int32);

    let err = run(&c, "SELECT * FROM nope", QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryFailed);
    assert_eq!(code_of(&err), Some("Catalog"), "{err}");
    let err = run(&c, "SELEC 1", QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), Some("Parser"), "{err}");

    // Read-only at the engine, whatever the SQL.
    for sql in [
        "INSERT INTO carriers VALUES ('DL', 'Delta')",
        "CREATE TABLE x (i INTEGER)",
        "DROP TABLE legs",
        "UPDATE legs SET fare = 0",
    ] {
        let err = run(&c, sql, QueryOptions::default()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QueryFailed, "{sql}: {err}");
    }
    let err = run(&c, "SELECT 1; DELETE FROM legs", QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    // No file access from SQL, and the settings are locked.
    let err = run(
        &c,
        "SELECT * FROM read_csv('/etc/hostname')",
        QueryOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(code_of(&err), Some("Permission"), "{err}");
    let err = run(
        &c,
        "SET enable_external_access = true",
        QueryOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryFailed, "{err}");
    let n = run(&c, "SELECT count(*) FROM legs", QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(n[0].column(0).as_primitive::<Int64Type>().value(0), 1000);

    // Concurrent queries get their own connections.
    let (a, b) = tokio::join!(
        run(
            &c,
            "SELECT count(*) FROM range(3000000)",
            QueryOptions::default()
        ),
        run(&c, "SELECT count(*) FROM legs", QueryOptions::default()),
    );
    assert_eq!(rows(&a.unwrap()) + rows(&b.unwrap()), 2);
}

#[tokio::test]
async fn duckdb_bad_input_gets_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.duckdb");
    let err = DuckDbConnector::from_url(&format!("duckdb://{}", missing.display())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let junk = dir.path().join("junk.duckdb");
    std::fs::write(&junk, b"this is not a DuckDB database file, just text").unwrap();
    let err = DuckDbConnector::new(DuckDbConfig::file(&junk)).unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    let err = metricchat_connectors::connect("duckdb://:memory:?threads=lots").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = metricchat_connectors::connect("duckdb://:memory:?colour=red").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = DuckDbConnector::new(DuckDbConfig::in_memory("CREATE TABLE broken (")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryFailed, "{err}");
    let c = metricchat_connectors::connect("duckdb://:memory:").unwrap();
    assert_eq!(c.info().name, "memory");
    assert!(c.list_tables().await.unwrap().is_empty());
}

#[tokio::test]
async fn duckdb_in_memory_is_read_only_after_init() {
    let c = DuckDbConnector::new(DuckDbConfig::in_memory(
        "CREATE TABLE t AS SELECT range AS i FROM range(10);
         CREATE VIEW v AS SELECT i * 2 AS j FROM t;",
    ))
    .unwrap();
    assert_eq!(c.path(), None);
    assert_eq!(c.list_tables().await.unwrap().len(), 2);
    let opts = QueryOptions::default;
    for sql in [
        "INSERT INTO t VALUES (99)",
        "DELETE FROM t",
        "DROP TABLE t",
        "CREATE TABLE u (i INTEGER)",
        "SET lock_configuration = false",
        "ATTACH '/tmp/metricchat-duckdb-attach.duckdb' AS other",
    ] {
        let err = run(&c, sql, opts()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QueryFailed, "{sql}: {err}");
    }
    // `COMMIT` ends the read-only transaction, but the next query starts a new one.
    run(&c, "COMMIT", opts()).await.unwrap();
    let err = run(&c, "INSERT INTO t VALUES (99)", opts())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryFailed, "{err}");
    // A read-only transaction may still create TEMP objects: private, and rolled back.
    run(&c, "CREATE TEMP TABLE scratch AS SELECT 1 AS one", opts())
        .await
        .unwrap();
    let err = run(&c, "SELECT * FROM scratch", opts()).await.unwrap_err();
    assert_eq!(code_of(&err), Some("Catalog"), "{err}");
    let b = run(
        &c,
        "SELECT count(*), sum(j) FROM t, v WHERE t.i = 0",
        opts(),
    )
    .await
    .unwrap();
    assert_eq!(b[0].column(0).as_primitive::<Int64Type>().value(0), 10);
}

#[tokio::test]
async fn duckdb_timeout_cancel_and_drop_interrupt_the_engine() {
    let c =
        DuckDbConnector::new(DuckDbConfig::in_memory("CREATE TABLE t AS SELECT 1 AS one")).unwrap();
    let ok = || async { run(&c, "SELECT one FROM t", QueryOptions::default()).await };

    // Timeout.
    let started = Instant::now();
    let err = run(
        &c,
        SLOW,
        QueryOptions::default().with_timeout(Some(Duration::from_millis(300))),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < crate::time_limit(Duration::from_secs(5)));
    assert_eq!(rows(&ok().await.unwrap()), 1, "usable after a timeout");

    // Cancellation.
    let token = CancellationToken::new();
    let t2 = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        t2.cancel();
    });
    let started = Instant::now();
    let err = run(&c, SLOW, QueryOptions::default().with_cancel(token))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(started.elapsed() < crate::time_limit(Duration::from_secs(5)));
    assert_eq!(rows(&ok().await.unwrap()), 1, "usable after a cancel");

    // The engine really stops: a second slow query starts and ends quickly on the same
    // database, which it could not if the first still ran on all threads.
    let err = run(
        &c,
        SLOW,
        QueryOptions::default().with_timeout(Some(Duration::from_millis(200))),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);

    // Dropping a stream half-read interrupts the statement and frees its connection.
    let mut stream = c
        .query(
            "SELECT range AS i FROM range(1000000000)",
            QueryOptions::default().with_max_rows(None),
        )
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().unwrap().num_rows() > 0);
    drop(stream);
    assert_eq!(
        rows(&ok().await.unwrap()),
        1,
        "usable after a dropped stream"
    );

    // A timeout while batches are already flowing.
    let mut stream = c
        .query(
            "SELECT range AS i FROM range(10000000000)",
            QueryOptions::default()
                .with_max_rows(None)
                .with_timeout(Some(Duration::from_millis(300))),
        )
        .await
        .unwrap();
    let mut last = None;
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            last = Some(e);
            break;
        }
    }
    assert_eq!(last.map(|e| e.kind()), Some(ErrorKind::Timeout));
    assert_eq!(rows(&ok().await.unwrap()), 1);
}

/// Every row of the module's type-mapping table: DuckDB type, the Arrow type it must arrive
/// as, a value, and that value as text.
#[tokio::test]
async fn duckdb_type_mapping_round_trips() {
    let c = DuckDbConnector::new(DuckDbConfig::in_memory(
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
    ))
    .unwrap();
    let utc: Option<std::sync::Arc<str>> = Some("UTC".into());
    let list = |t: DataType| DataType::List(Field::new("l", t, true).into());
    let cases: Vec<(&str, DataType, &str)> = vec![
        ("true::BOOLEAN", DataType::Boolean, "true"),
        ("(-8)::TINYINT", DataType::Int8, "-8"),
        ("(-16)::SMALLINT", DataType::Int16, "-16"),
        ("(-32)::INTEGER", DataType::Int32, "-32"),
        ("(-9000000000)::BIGINT", DataType::Int64, "-9000000000"),
        ("8::UTINYINT", DataType::UInt8, "8"),
        ("16::USMALLINT", DataType::UInt16, "16"),
        ("32::UINTEGER", DataType::UInt32, "32"),
        (
            "18000000000000000000::UBIGINT",
            DataType::UInt64,
            "18000000000000000000",
        ),
        (
            "(-12345678901234567890123456789012345678)::HUGEINT",
            DataType::Decimal128(38, 0),
            "-12345678901234567890123456789012345678",
        ),
        ("1.5::FLOAT", DataType::Float32, "1.5"),
        ("2.25::DOUBLE", DataType::Float64, "2.25"),
        (
            "12345.678::DECIMAL(10, 3)",
            DataType::Decimal128(10, 3),
            "12345.678",
        ),
        (
            "12345678901234567890123456789012345.678::DECIMAL(38, 3)",
            DataType::Decimal128(38, 3),
            "12345678901234567890123456789012345.678",
        ),
        ("'héllo'::VARCHAR", DataType::Utf8, "héllo"),
        ("'\\x01\\x02'::BLOB", DataType::Binary, "0102"),
        ("DATE '2013-01-02'", DataType::Date32, "2013-01-02"),
        (
            "TIME '12:34:56.789'",
            DataType::Time64(TimeUnit::Microsecond),
            "12:34:56.789",
        ),
        (
            "TIMESTAMP '2013-01-02 03:04:05.678901'",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            "2013-01-02T03:04:05.678901",
        ),
        (
            "'2013-01-02 03:04:05'::TIMESTAMP_S",
            DataType::Timestamp(TimeUnit::Second, None),
            "2013-01-02T03:04:05",
        ),
        (
            "'2013-01-02 03:04:05.678'::TIMESTAMP_MS",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            "2013-01-02T03:04:05.678",
        ),
        (
            "'2013-01-02 03:04:05.123456789'::TIMESTAMP_NS",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            "2013-01-02T03:04:05.123456789",
        ),
        (
            "'2013-01-02 03:04:05+02'::TIMESTAMPTZ",
            DataType::Timestamp(TimeUnit::Microsecond, utc.clone()),
            "2013-01-02T01:04:05Z",
        ),
        (
            "INTERVAL '1 month 2 days 3 seconds'",
            DataType::Interval(IntervalUnit::MonthDayNano),
            "1 mons 2 days 3.000000000 secs",
        ),
        (
            "'6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID",
            DataType::Utf8,
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        ),
        (
            "'ok'::mood",
            DataType::Dictionary(Box::new(DataType::UInt8), Box::new(DataType::Utf8)),
            "ok",
        ),
        ("[1, NULL, 3]::INTEGER[]", list(DataType::Int32), "[1, , 3]"),
        (
            "[1, 2, 3]::INTEGER[3]",
            DataType::FixedSizeList(Field::new("l", DataType::Int32, true).into(), 3),
            "[1, 2, 3]",
        ),
        (
            "{'x': 1, 'y': 'a'}",
            DataType::Struct(
                vec![
                    Field::new("x", DataType::Int32, true),
                    Field::new("y", DataType::Utf8, true),
                ]
                .into(),
            ),
            "{x: 1, y: a}",
        ),
        ("MAP {'k': 1}", DataType::Null, "{k: 1}"),
    ];
    let mut wrong = Vec::new();
    for (expr, want_type, want_text) in &cases {
        let sql = format!("SELECT {expr} AS v UNION ALL SELECT NULL");
        let b = run(&c, &sql, QueryOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        let b = arrow::compute::concat_batches(&b[0].schema(), &b).unwrap();
        assert_eq!(b.num_rows(), 2, "{expr}");
        let col = b.column(0);
        let got = col.data_type();
        let type_ok = match want_type {
            // The session time zone: `Etc/UTC` where DuckDB has ICU, `UTC` without.
            DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => matches!(
                got,
                DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC" || tz.as_ref() == "Etc/UTC"
            ),
            DataType::Null if expr.starts_with("MAP") => matches!(got, DataType::Map(..)),
            want => same_type(got, want),
        };
        let fmt = ArrayFormatter::try_new(col.as_ref(), &FormatOptions::default()).unwrap();
        let text = fmt.value(0).to_string();
        let null_ok = col.is_null(1) || matches!(got, DataType::Null);
        if !type_ok || text != *want_text || !null_ok {
            wrong.push(format!(
                "{expr}: got {got:?} `{text}` (NULL kept: {null_ok})"
            ));
        }
    }
    assert!(wrong.is_empty(), "mismatches:\n{}", wrong.join("\n"));
    // An untyped NULL column.
    let b = run(&c, "SELECT NULL AS v", QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(b[0].column(0).data_type(), &DataType::Null);
    assert_eq!(rows(&b), 1);

    // Values checked through the typed arrays too, not only their text.
    let b = run(
        &c,
        "SELECT (-8)::TINYINT, (-16)::SMALLINT, (-32)::INTEGER, 8::UTINYINT, 16::USMALLINT,
                32::UINTEGER, 64::UBIGINT, 1.5::FLOAT, 2.25::DOUBLE, 12345.678::DECIMAL(10, 3),
                DATE '1970-01-11', TIME '00:00:01', TIMESTAMP '1970-01-01 00:00:01',
                '1970-01-01 00:00:01'::TIMESTAMP_S, '1970-01-01 00:00:01'::TIMESTAMP_MS,
                '1970-01-01 00:00:01'::TIMESTAMP_NS, INTERVAL '1 month 2 days 3 seconds'",
        QueryOptions::default(),
    )
    .await
    .unwrap();
    let r = &b[0];
    assert_eq!(r.column(0).as_primitive::<Int8Type>().value(0), -8);
    assert_eq!(r.column(1).as_primitive::<Int16Type>().value(0), -16);
    assert_eq!(r.column(2).as_primitive::<Int32Type>().value(0), -32);
    assert_eq!(r.column(3).as_primitive::<UInt8Type>().value(0), 8);
    assert_eq!(r.column(4).as_primitive::<UInt16Type>().value(0), 16);
    assert_eq!(r.column(5).as_primitive::<UInt32Type>().value(0), 32);
    assert_eq!(r.column(6).as_primitive::<UInt64Type>().value(0), 64);
    assert_eq!(r.column(7).as_primitive::<Float32Type>().value(0), 1.5);
    assert_eq!(r.column(8).as_primitive::<Float64Type>().value(0), 2.25);
    assert_eq!(
        r.column(9).as_primitive::<Decimal128Type>().value(0),
        12_345_678
    );
    assert_eq!(r.column(10).as_primitive::<Date32Type>().value(0), 10);
    assert_eq!(
        r.column(11)
            .as_primitive::<Time64MicrosecondType>()
            .value(0),
        1_000_000
    );
    assert_eq!(
        r.column(12)
            .as_primitive::<TimestampMicrosecondType>()
            .value(0),
        1_000_000
    );
    assert_eq!(
        r.column(13).as_primitive::<TimestampSecondType>().value(0),
        1
    );
    assert_eq!(
        r.column(14)
            .as_primitive::<TimestampMillisecondType>()
            .value(0),
        1000
    );
    assert_eq!(
        r.column(15)
            .as_primitive::<TimestampNanosecondType>()
            .value(0),
        1_000_000_000
    );
    assert_eq!(
        r.column(16)
            .as_primitive::<IntervalMonthDayNanoType>()
            .value(0),
        IntervalMonthDayNano::new(1, 2, 3_000_000_000)
    );
}

/// Types equal up to nested field names and nullability (DuckDB names list items `l`).
fn same_type(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::List(x), DataType::List(y)) => same_type(x.data_type(), y.data_type()),
        (DataType::FixedSizeList(x, n), DataType::FixedSizeList(y, m)) => {
            n == m && same_type(x.data_type(), y.data_type())
        }
        (DataType::Struct(x), DataType::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(f, g)| f.name() == g.name() && same_type(f.data_type(), g.data_type()))
        }
        _ => a == b,
    }
}
