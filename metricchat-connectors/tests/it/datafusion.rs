//! The DataFusion connector against the bundled nycflights13 Parquet files and small files
//! written to a temporary directory.
#![cfg(feature = "datafusion")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::conformance;

use conformance::{Backend, TypeCase, case};

use arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use futures::StreamExt;
use metricchat_connectors::datafusion::{
    CsvOptions, DataFusionConnector, DataFusionLimits, MEMORY_LIMIT_CODE, VALUE_LIMIT_CODE,
};
use metricchat_connectors::{connect, flights_sample, sample_data_dir};
use metricchat_core::connector::{
    Connector, ConnectorRef, Dialect, QueryData, QueryOptions, TableRef, collect_stream,
};
use metricchat_core::error::{Error, ErrorKind};
use tokio_util::sync::CancellationToken;

const FLIGHTS_ROWS: u64 = 336_776;
/// A query that takes many seconds: 5,000 × 336,776 rows, summed so statistics cannot answer it.
/// The build side is kept small because DataFusion checks for cancellation between input
/// batches, and a cross join does `build rows × 8,192` rows of work per probe batch.
const HEAVY_SQL: &str = "SELECT sum(a.dep_delay * b.arr_delay) \
     FROM (SELECT dep_delay FROM flights LIMIT 5000) a CROSS JOIN flights b";

fn sample() -> ConnectorRef {
    flights_sample("flights").unwrap()
}

async fn run(conn: &ConnectorRef, sql: &str, opts: QueryOptions) -> Result<QueryData, Error> {
    let stream = conn.query(sql, opts).await?;
    collect_stream(stream).await
}

async fn run_default(conn: &ConnectorRef, sql: &str) -> QueryData {
    run(conn, sql, QueryOptions::default().with_max_rows(None))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn strings(data: &QueryData, col: usize) -> Vec<String> {
    data.batches
        .iter()
        .flat_map(|b| {
            let a = arrow::compute::cast(b.column(col), &DataType::Utf8).unwrap();
            let a = a.as_string::<i32>().clone();
            (0..a.len()).map(move |i| a.value(i).to_string())
        })
        .collect()
}

#[tokio::test]
async fn info_and_tables() {
    let conn = sample();
    let info = conn.info();
    assert_eq!(info.name, "flights");
    assert_eq!(info.backend, "datafusion");
    assert_eq!(info.dialect, Dialect::DataFusion);
    assert!(info.capabilities.cancel && info.capabilities.explain);
    assert!(info.capabilities.limit_pushdown);
    let tables = conn.list_tables().await.unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["airlines", "airports", "flights", "planes", "weather"]
    );
    conn.test_connection().await.unwrap();
}

#[tokio::test]
async fn flights_schema_has_sql_types_and_exact_rows() {
    let conn = sample();
    let s = conn.table_schema(&TableRef::bare("flights")).await.unwrap();
    assert_eq!(s.columns.len(), 19);
    let ty = |n: &str| {
        s.columns
            .iter()
            .find(|c| c.name == n)
            .map(|c| c.data_type.as_str())
            .unwrap()
    };
    assert_eq!(ty("year"), "INT");
    assert_eq!(ty("dep_delay"), "DOUBLE");
    assert_eq!(ty("carrier"), "VARCHAR");
    assert_eq!(ty("distance"), "INT");
    assert_eq!(ty("time_hour"), "TIMESTAMP");
    assert!(s.columns.iter().all(|c| c.nullable));
    assert_eq!(s.row_estimate, Some(FLIGHTS_ROWS));
    // Qualified and differently cased names find the same table; unknown ones are NotFound.
    let s2 = conn
        .table_schema(&TableRef::qualified("public", "FLIGHTS"))
        .await
        .unwrap();
    assert_eq!(s2.table.name, "flights");
    let err = conn
        .table_schema(&TableRef::bare("nope"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// A Parquet file's own documentation (Arrow `description` metadata, as pyarrow writes it) is
/// the table's and the columns' comment, as a warehouse's catalog comments are.
#[tokio::test]
async fn the_files_documentation_is_the_tables_and_columns_comment() {
    let conn = sample();
    let s = conn.table_schema(&TableRef::bare("planes")).await.unwrap();
    assert_eq!(
        s.comment.as_deref(),
        Some("Planes by tail number, from the FAA aircraft registry")
    );
    let year = s.columns.iter().find(|c| c.name == "year").unwrap();
    assert_eq!(
        year.comment.as_deref(),
        Some("year the plane was manufactured")
    );
    // The documentation does not change what queries return.
    let d = run_default(&conn, "SELECT COUNT(*) AS n FROM planes WHERE year IS NULL").await;
    assert_eq!(d.num_rows(), 1);
}

#[tokio::test]
async fn sample_rows_and_local_time_hour() {
    let conn = sample();
    let data = conn.sample(&TableRef::bare("airlines"), 5).await.unwrap();
    assert_eq!(data.num_rows(), 5);
    assert_eq!(data.schema.fields().len(), 2);
    // The first flight left EWR at 05:17 local time; time_hour is New York wall-clock time.
    let data = run_default(
        &conn,
        "SELECT CAST(time_hour AS VARCHAR) FROM flights \
         WHERE year = 2013 AND month = 1 AND day = 1 AND dep_time = 517",
    )
    .await;
    assert_eq!(strings(&data, 0), ["2013-01-01T05:00:00"]);
}

#[tokio::test]
async fn group_by_matches_the_readme_reference() {
    let conn = sample();
    let data = run_default(
        &conn,
        "SELECT f.carrier, a.name, AVG(f.dep_delay) AS avg_dep_delay, COUNT(f.dep_delay) AS n \
         FROM flights f JOIN airlines a ON a.carrier = f.carrier \
         GROUP BY f.carrier, a.name ORDER BY avg_dep_delay DESC",
    )
    .await;
    assert_eq!(data.num_rows(), 16);
    let b = &data.batches.iter().find(|b| b.num_rows() > 0).unwrap();
    assert_eq!(strings(&data, 0)[0], "F9");
    assert_eq!(strings(&data, 1)[0], "Frontier Airlines Inc.");
    let avg = b.column(2).as_primitive::<Float64Type>().value(0);
    assert!((avg - 20.215_542_521_994_134).abs() < 1e-9, "{avg}");
    assert_eq!(b.column(3).as_primitive::<Int64Type>().value(0), 682);

    let data = run_default(
        &conn,
        "SELECT origin, count(*) FROM flights GROUP BY origin ORDER BY origin",
    )
    .await;
    assert_eq!(strings(&data, 0), ["EWR", "JFK", "LGA"]);
    assert_eq!(strings(&data, 1), ["120835", "111279", "104662"]);
}

#[tokio::test]
async fn row_cap_truncates_quickly() {
    let conn = sample();
    let started = Instant::now();
    let data = run(
        &conn,
        "SELECT * FROM flights",
        QueryOptions::default().with_max_rows(Some(10)),
    )
    .await
    .unwrap();
    assert_eq!(data.num_rows(), 10);
    assert!(
        started.elapsed() < crate::time_limit(Duration::from_secs(5)),
        "{:?}",
        started.elapsed()
    );
    // A cap larger than a batch still gives exactly the cap.
    let data = run(
        &conn,
        "SELECT * FROM flights ORDER BY dep_delay DESC NULLS LAST",
        QueryOptions::default().with_max_rows(Some(20_000)),
    )
    .await
    .unwrap();
    assert_eq!(data.num_rows(), 20_000);
    // The largest delay comes first: the cap keeps the query's order.
    let first = data.batches[0]
        .column_by_name("dep_delay")
        .unwrap()
        .as_primitive::<Float64Type>()
        .value(0);
    assert_eq!(first, 1301.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_stops_a_heavy_query_and_the_connector_still_works() {
    let conn = sample();
    let started = Instant::now();
    let err = run(
        &conn,
        HEAVY_SQL,
        QueryOptions::default().with_timeout(Some(Duration::from_millis(50))),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(matches!(err, Error::Timeout { after, .. } if after == Duration::from_millis(50)));
    assert!(
        started.elapsed() < crate::time_limit(Duration::from_secs(5)),
        "{:?}",
        started.elapsed()
    );
    // The engine stopped: the next query does not queue behind the abandoned one for long.
    let started = Instant::now();
    let data = run_default(&conn, "SELECT count(*) FROM airlines").await;
    assert_eq!(strings(&data, 0), ["16"]);
    eprintln!("follow-up query after timeout took {:?}", started.elapsed());
    assert!(
        started.elapsed() < crate::time_limit(Duration::from_secs(20)),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_heavy_query() {
    let conn = sample();
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        t.cancel();
    });
    let started = Instant::now();
    let err = run(
        &conn,
        HEAVY_SQL,
        QueryOptions::default()
            .with_cancel(token)
            .with_timeout(None),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(
        started.elapsed() < crate::time_limit(Duration::from_secs(5)),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let data = run_default(&conn, "SELECT count(*) FROM planes").await;
    assert_eq!(strings(&data, 0), ["3322"]);
    eprintln!("follow-up query after cancel took {:?}", started.elapsed());
    assert!(
        started.elapsed() < crate::time_limit(Duration::from_secs(20)),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn cancel_mid_stream_ends_it() {
    let conn = sample();
    let token = CancellationToken::new();
    let mut stream = conn
        .query(
            "SELECT * FROM flights",
            QueryOptions::default()
                .with_max_rows(None)
                .with_cancel(token.clone()),
        )
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    token.cancel();
    let err = stream.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn writes_are_refused_by_the_engine() {
    let conn = sample();
    for sql in [
        "CREATE TABLE t AS SELECT 1 AS x",
        "CREATE VIEW v AS SELECT * FROM airlines",
        "DROP TABLE airlines",
        "INSERT INTO airlines VALUES ('ZZ', 'Nope Air')",
        "COPY airlines TO '/tmp/metricchat-should-not-exist.csv'",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let err = run(&conn, sql, QueryOptions::default()).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput | ErrorKind::QueryFailed),
            "{sql}: {err}"
        );
        if let Error::SqlRefused {
            reason,
            sql: refused,
        } = &err
        {
            assert!(reason.contains("read-only"), "{reason}");
            assert_eq!(refused, sql);
        }
    }
    let err = run(
        &conn,
        "CREATE TABLE t AS SELECT 1 AS x",
        QueryOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::SqlRefused { .. }), "{err:?}");
    assert!(!std::path::Path::new("/tmp/metricchat-should-not-exist.csv").exists());
    // Nothing changed.
    let tables = conn.list_tables().await.unwrap();
    assert_eq!(tables.len(), 5);
    let data = run_default(&conn, "SELECT count(*) FROM airlines").await;
    assert_eq!(strings(&data, 0), ["16"]);
}

#[tokio::test]
async fn a_bad_column_is_a_readable_query_error() {
    let conn = sample();
    let err = run(
        &conn,
        "SELECT carrier, avg(dep_delayy) FROM flights GROUP BY carrier",
        QueryOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryFailed);
    let Error::Query {
        connector, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(connector, "flights");
    assert!(message.contains("dep_delayy"), "{message}");
    // DataFusion lists the valid names, which lets a model repair the query.
    assert!(message.contains("dep_delay"), "{message}");
    assert!(!message.contains("backtrace"), "{message}");

    let err = run(&conn, "SELEC 1", QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryFailed);
    let err = run(&conn, "SELECT * FROM nope", QueryOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn explain_works() {
    let conn = sample();
    let data = run_default(&conn, "EXPLAIN SELECT count(*) FROM flights").await;
    assert!(data.num_rows() >= 1);
    // With a row cap too (the cap must not wrap the EXPLAIN in a LIMIT).
    for sql in [
        "EXPLAIN SELECT count(*) FROM flights",
        "EXPLAIN ANALYZE SELECT count(*) FROM airlines",
        "DESCRIBE airlines",
    ] {
        let data = run(&conn, sql, QueryOptions::default().with_max_rows(Some(1)))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(data.num_rows(), 1, "{sql}");
    }
}

#[tokio::test]
async fn in_memory_batches() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("city", DataType::Utf8, false),
        Field::new("sales", DataType::Float64, true),
        Field::new("units", DataType::Int64, true),
    ]));
    let b1 = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["Oslo", "Lima"])),
            Arc::new(Float64Array::from(vec![Some(10.5), None])),
            Arc::new(Int64Array::from(vec![1, 2])),
        ],
    )
    .unwrap();
    let b2 = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec!["Oslo"])),
            Arc::new(Float64Array::from(vec![Some(4.5)])),
            Arc::new(Int64Array::from(vec![3])),
        ],
    )
    .unwrap();
    let conn: ConnectorRef = Arc::new(
        DataFusionConnector::new("mem")
            .with_batches("sales", vec![b1, b2])
            .unwrap(),
    );
    let s = conn.table_schema(&TableRef::bare("sales")).await.unwrap();
    let cols: Vec<(&str, &str, bool)> = s
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type.as_str(), c.nullable))
        .collect();
    assert_eq!(
        cols,
        [
            ("city", "VARCHAR", false),
            ("sales", "DOUBLE", true),
            ("units", "BIGINT", true)
        ]
    );
    assert_eq!(s.row_estimate, Some(3));
    let data = run_default(
        &conn,
        "SELECT city, sum(sales), sum(units) FROM sales GROUP BY city ORDER BY city",
    )
    .await;
    assert_eq!(strings(&data, 0), ["Lima", "Oslo"]);
    assert_eq!(strings(&data, 2), ["2", "4"]);
    let b = &data.batches[0];
    assert!(b.column(1).is_null(0));
    assert_eq!(b.column(1).as_primitive::<Float64Type>().value(1), 15.0);

    let err = DataFusionConnector::new("mem")
        .with_batches("empty", Vec::new())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn csv_and_ndjson_files() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(&csv, "id;name;score\n1;Ana;3.5\n2;Bo;NA\n3;Cy;1.5\n").unwrap();
    let json = dir.path().join("events.ndjson");
    std::fs::write(
        &json,
        "{\"id\":1,\"kind\":\"click\"}\n{\"id\":2,\"kind\":\"view\"}\n{\"id\":1,\"kind\":\"view\"}\n",
    )
    .unwrap();
    let conn: ConnectorRef = Arc::new(
        DataFusionConnector::new("files")
            .with_csv(
                "people",
                &csv,
                CsvOptions::default()
                    .with_delimiter(b';')
                    .with_null_value("NA"),
            )
            .unwrap()
            .with_json("events", &json)
            .unwrap(),
    );
    let data = run_default(
        &conn,
        "SELECT p.name, count(*) AS n, max(p.score) AS score FROM events e \
         JOIN people p ON p.id = e.id GROUP BY p.name ORDER BY p.name",
    )
    .await;
    assert_eq!(strings(&data, 0), ["Ana", "Bo"]);
    assert_eq!(strings(&data, 1), ["2", "1"]);
    assert!(data.batches[0].column(2).is_null(1), "NA is NULL");
    let s = conn.table_schema(&TableRef::bare("people")).await.unwrap();
    assert_eq!(s.columns[2].data_type, "DOUBLE");
    // Never a wrong estimate: exact or absent.
    assert!(
        matches!(s.row_estimate, None | Some(3)),
        "{:?}",
        s.row_estimate
    );

    // A file removed after construction fails on first use, with a typed error.
    let gone = dir.path().join("gone.csv");
    std::fs::write(&gone, "a\n1\n").unwrap();
    let conn = DataFusionConnector::new("x")
        .with_csv("gone", &gone, CsvOptions::default())
        .unwrap();
    std::fs::remove_file(&gone).unwrap();
    let err = conn.list_tables().await.map(|_| ());
    assert!(err.is_ok(), "listing needs no file access");
    let err = conn.test_connection().await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::NotFound | ErrorKind::QueryFailed),
        "{err:?}"
    );
}

#[tokio::test]
async fn connect_urls() {
    let dir = sample_data_dir();
    // A directory: one table per file, named after the directory.
    let conn = connect(&format!("file://{}", dir.display())).unwrap();
    assert_eq!(conn.info().name, "nycflights13");
    assert_eq!(conn.list_tables().await.unwrap().len(), 5);
    // A single file, as a plain path, with the name taken from the stem.
    let conn = connect(dir.join("airlines.parquet").to_str().unwrap()).unwrap();
    assert_eq!(conn.info().name, "airlines");
    let data = run_default(&conn, "SELECT count(*) FROM airlines").await;
    assert_eq!(strings(&data, 0), ["16"]);
    // A glob with ?name=.
    let conn = connect(&format!("file://{}/[ap]*.parquet?name=ref", dir.display())).unwrap();
    assert_eq!(conn.info().name, "ref");
    let names: Vec<String> = conn
        .list_tables()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["airlines", "airports", "planes"]);
    // A glob folded into one table.
    let tmp = tempfile::tempdir().unwrap();
    for (i, rows) in ["x\n1\n2\n", "x\n3\n"].iter().enumerate() {
        std::fs::write(tmp.path().join(format!("Part {i}.csv")), rows).unwrap();
    }
    std::fs::write(tmp.path().join("notes.txt"), "ignored").unwrap();
    let conn = connect(&format!(
        "file://{}/*.csv?table=parts",
        tmp.path().display()
    ))
    .unwrap();
    let data = run_default(&conn, "SELECT sum(x) FROM parts").await;
    assert_eq!(strings(&data, 0), ["6"]);
    // A directory of CSVs: sanitized names, unsupported files skipped.
    let conn = connect(tmp.path().to_str().unwrap()).unwrap();
    let names: Vec<String> = conn
        .list_tables()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["part_0", "part_1"]);

    // Failures.
    let err = connect("file:///definitely/not/here.parquet").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = connect(&format!("file://{}/*.xlsx", dir.display())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = connect("ftp://example.com/flights.parquet").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("file://"), "{err}");
    let redshift = connect("redshift://acme/analytics");
    if cfg!(feature = "redshift") {
        assert_eq!(redshift.unwrap().info().backend, "redshift");
    } else {
        let err = redshift.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.to_string().contains("`redshift` feature"), "{err}");
    }
}

/// DataFusion has no DDL here (its tables are files and memory), so the shared type table is a
/// query of typed literals with the same shape: `k` 1 holds the values, `k` 2 the NULLs.
fn literal_type_source(cases: &[TypeCase]) -> String {
    let values: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| format!("CAST({} AS {}) AS c{i}", c.literal, c.ddl))
        .collect();
    let nulls: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| format!("CAST(NULL AS {}) AS c{i}", c.ddl))
        .collect();
    format!(
        "(SELECT 1 AS k, {} UNION ALL SELECT 2 AS k, {}) AS t",
        values.join(", "),
        nulls.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datafusion_passes_the_conformance_suite() {
    let conn = sample();
    let types = vec![
        case("BOOLEAN", "true", DataType::Boolean, "true"),
        case("SMALLINT", "-2", DataType::Int16, "-2"),
        case("INT", "40000", DataType::Int32, "40000"),
        case("BIGINT", "9000000000", DataType::Int64, "9000000000"),
        case("FLOAT", "1.5", DataType::Float32, "1.5"),
        case("DOUBLE", "2.25", DataType::Float64, "2.25"),
        case(
            "DECIMAL(12,3)",
            "123456789.125",
            DataType::Decimal128(12, 3),
            "123456789.125",
        ),
        case("VARCHAR", "'text'", DataType::Utf8View, "text"),
        case("DATE", "'2013-01-02'", DataType::Date32, "2013-01-02"),
    ];
    let backend = Backend {
        conn: conn.as_ref(),
        schema: None,
        table: TableRef::bare("airlines"),
        columns: vec!["carrier", "name"],
        view: None,
        types_source: literal_type_source(&types),
        types,
        many_rows: "SELECT * FROM flights".into(),
        slow: HEAVY_SQL.into(),
        writes: vec![
            "INSERT INTO airlines VALUES ('ZZ', 'Nope Air')".into(),
            "CREATE TABLE t AS SELECT 1 AS x".into(),
            "DROP TABLE airlines".into(),
        ],
        bad_column: "SELECT nope FROM airlines".into(),
        unknown_table: ("SELECT * FROM nope".into(), ErrorKind::QueryFailed),
        stop_within: Duration::from_secs(5),
    };
    backend.run_all().await;
}

// ---- Resource limits: cancellation that stops work, the memory pool, capped functions ----

/// The flights sample as a concrete connector, so limits can be set on it.
fn flights_with(limits: DataFusionLimits) -> ConnectorRef {
    let dir = sample_data_dir();
    let mut conn = DataFusionConnector::new("flights")
        .with_limits(limits)
        .unwrap();
    for table in ["flights", "airlines", "planes"] {
        conn = conn
            .with_parquet(table, dir.join(format!("{table}.parquet")))
            .unwrap();
    }
    Arc::new(conn)
}

fn timeout_opts(ms: u64) -> QueryOptions {
    QueryOptions::default().with_timeout(Some(Duration::from_millis(ms)))
}

/// Runs a small query and returns how long it took; it must succeed.
async fn probe(conn: &ConnectorRef) -> Duration {
    let started = Instant::now();
    let data = run(
        conn,
        "SELECT count(*) FROM airlines",
        QueryOptions::default().with_timeout(Some(Duration::from_secs(60))),
    )
    .await
    .unwrap();
    assert_eq!(strings(&data, 0), ["16"]);
    started.elapsed()
}

fn code_of(err: &Error) -> Option<&str> {
    match err {
        Error::Query { code, .. } => code.as_deref(),
        _ => None,
    }
}

/// Process CPU time (user + system) in clock ticks, where the platform tells it.
fn cpu_ticks() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let f: Vec<&str> = s.get(s.rfind(')')? + 2..)?.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// How long after `from` the process kept using CPU (reported, not asserted: other tests run
/// in the same process).
async fn busy_after(from: Instant) -> Option<Duration> {
    let mut prev = cpu_ticks()?;
    let mut last_busy = Instant::now();
    while last_busy.elapsed() < Duration::from_millis(500)
        && from.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = cpu_ticks()?;
        if now.saturating_sub(prev) > 2 {
            last_busy = Instant::now();
        }
        prev = now;
    }
    Some(last_busy.saturating_duration_since(from))
}

/// The class-8 finding: `repeat('x', 2000000000)` used to fill 2 GB at plan time, past its
/// timeout, while queries behind it waited. It is now refused before allocating, and the next
/// query on the same connector runs at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeat_attack_is_refused_and_the_next_query_runs_promptly() {
    let conn = sample();
    let started = Instant::now();
    let err = run(
        &conn,
        "SELECT length(repeat('x', 2000000000))",
        timeout_opts(200),
    )
    .await
    .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, Error::Timeout { .. }) || code_of(&err) == Some(VALUE_LIMIT_CODE),
        "{err:?}"
    );
    assert!(took < crate::time_limit(Duration::from_secs(2)), "{took:?}");
    if let Error::Query { message, .. } = &err {
        assert!(
            message.contains("`repeat`") && message.contains("max_value_size"),
            "{message}"
        );
    }
    let next = probe(&conn).await;
    eprintln!("repeat attack answered in {took:?} ({err}); next query took {next:?}");
    assert!(next < crate::time_limit(Duration::from_secs(2)), "{next:?}");
    // Several in a row, and at the same time, change nothing.
    let attacks = (0..4).map(|_| {
        let conn = conn.clone();
        async move {
            run(
                &conn,
                "SELECT length(repeat('x', 2000000000))",
                timeout_opts(200),
            )
            .await
            .unwrap_err()
        }
    });
    for err in futures::future::join_all(attacks).await {
        assert!(
            matches!(err, Error::Timeout { .. }) || code_of(&err) == Some(VALUE_LIMIT_CODE),
            "{err:?}"
        );
    }
    let next = probe(&conn).await;
    assert!(next < crate::time_limit(Duration::from_secs(2)), "{next:?}");
}

/// A kernel the caps let through (here they are raised to let `repeat` fill 300 MB per call)
/// cannot be interrupted, but it runs on its query's own runtime: the timeout answers at once
/// and other queries do not wait for it, even with two such kernels running on a 2-core box.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_kernel_does_not_hold_up_other_queries() {
    let conn = flights_with(
        DataFusionLimits::default()
            .with_max_value_size(1 << 40)
            .with_memory_limit(1 << 40),
    );
    let started = Instant::now();
    for _ in 0..2 {
        let err = run(
            &conn,
            "SELECT length(repeat('x', 300000000))",
            timeout_opts(200),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    }
    let answered = started.elapsed();
    assert!(
        answered < crate::time_limit(Duration::from_secs(2)),
        "{answered:?}"
    );
    let returned = Instant::now();
    let next = probe(&conn).await;
    eprintln!("two runaway kernels timed out in {answered:?}; next query took {next:?}");
    assert!(next < crate::time_limit(Duration::from_secs(2)), "{next:?}");
    let busy = busy_after(returned).await;
    eprintln!("CPU busy for {busy:?} after the timeouts (the kernels finishing)");
}

/// A cancelled nested-loop join over `generate_series` stops: the cancel answers at once and
/// the next query is not queued behind the join's remaining probe work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_cross_join_over_generate_series() {
    let conn = sample();
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        t.cancel();
    });
    let started = Instant::now();
    let err = run(
        &conn,
        "SELECT count(*) FROM generate_series(1, 200000) a \
         CROSS JOIN generate_series(1, 200000) b WHERE a.value + b.value = 7",
        QueryOptions::default()
            .with_cancel(token)
            .with_timeout(None),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    let answered = started.elapsed();
    assert!(
        answered < crate::time_limit(Duration::from_secs(2)),
        "{answered:?}"
    );
    let returned = Instant::now();
    let next = probe(&conn).await;
    eprintln!("cross join cancelled in {answered:?}; next query took {next:?}");
    assert!(next < crate::time_limit(Duration::from_secs(2)), "{next:?}");
    let busy = busy_after(returned).await;
    eprintln!("CPU busy for {busy:?} after the cancel");
}

/// Sorts and aggregations over the memory limit fail with the typed memory error instead of
/// growing the process; a small query on the same connection still works.
#[tokio::test]
async fn memory_limit_gives_a_typed_error() {
    let conn = flights_with(DataFusionLimits::default().with_memory_limit(8 << 20));
    for sql in [
        "SELECT * FROM flights ORDER BY tailnum, time_hour",
        "SELECT year, month, day, dep_time, tailnum, count(*) FROM flights \
         GROUP BY year, month, day, dep_time, tailnum",
        "SELECT count(*) FROM flights a JOIN flights b \
         ON a.time_hour = b.time_hour AND a.tailnum = b.tailnum AND a.flight = b.flight",
    ] {
        let err = run(&conn, sql, QueryOptions::default().with_max_rows(None))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QueryFailed, "{sql}: {err}");
        assert_eq!(code_of(&err), Some(MEMORY_LIMIT_CODE), "{sql}: {err:?}");
        assert!(err.to_string().contains("memory limit of 8 MiB"), "{err}");
    }
    assert!(probe(&conn).await < crate::time_limit(Duration::from_secs(5)));
    // The default limit lets the same queries through.
    let conn = flights_with(DataFusionLimits::default());
    let data = run(
        &conn,
        "SELECT count(*) FROM (SELECT year, month, day, dep_time, tailnum, count(*) FROM flights \
         GROUP BY year, month, day, dep_time, tailnum)",
        QueryOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(data.num_rows(), 1);
}

/// Every capped function: small calls give DataFusion's results, oversized ones are refused
/// with the value-limit code before allocating.
#[tokio::test]
async fn capped_functions_refuse_oversized_values() {
    let conn = flights_with(DataFusionLimits::default().with_max_value_size(1 << 20));
    let ok = [
        ("SELECT repeat('ab', 3)", "ababab"),
        ("SELECT lpad('7', 3, '0')", "007"),
        ("SELECT rpad('7', 3, '0')", "700"),
        ("SELECT replace('aaa', 'a', 'bb')", "bbbbbb"),
        ("SELECT regexp_replace('a-b-c', '-', '+', 'g')", "a+b+c"),
        ("SELECT CAST(array_repeat(1, 3) AS VARCHAR)", "[1, 1, 1]"),
        ("SELECT CAST(list_repeat('x', 2) AS VARCHAR)", "[x, x]"),
        (
            "SELECT CAST(array_resize([1, 2], 3, 0) AS VARCHAR)",
            "[1, 2, 0]",
        ),
        ("SELECT CAST(range(3) AS VARCHAR)", "[0, 1, 2]"),
        ("SELECT CAST(generate_series(1, 3) AS VARCHAR)", "[1, 2, 3]"),
        (
            "SELECT CAST(cardinality(range(DATE '2024-01-01', DATE '2024-02-01', INTERVAL '1 day')) AS VARCHAR)",
            "31",
        ),
        (
            "SELECT CAST(length(repeat(carrier, 1000)) AS VARCHAR) FROM airlines LIMIT 1",
            "2000",
        ),
    ];
    for (sql, want) in ok {
        let data = run(&conn, sql, QueryOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(strings(&data, 0), [want], "{sql}");
    }
    let refused = [
        "SELECT length(repeat('x', 2000000000))",
        "SELECT length(repeat(carrier, 1000000)) FROM airlines",
        "SELECT length(lpad('x', 2000000000))",
        "SELECT length(rpad('x', 2000000, 'é'))",
        "SELECT length(replace(repeat('x', 1000), 'x', repeat('y', 2000)))",
        "SELECT length(regexp_replace(repeat('x', 1000), 'x', repeat('y', 2000), 'g'))",
        "SELECT cardinality(array_repeat(1, 2000000000))",
        "SELECT cardinality(array_repeat(repeat('x', 1000), 2000))",
        "SELECT cardinality(array_resize([1], 2000000000))",
        "SELECT cardinality(range(2000000000))",
        "SELECT cardinality(generate_series(1, 2000000000))",
        "SELECT cardinality(range(TIMESTAMP '1970-01-01', TIMESTAMP '2200-01-01', INTERVAL '1 second'))",
    ];
    for sql in refused {
        let started = Instant::now();
        let err = run(&conn, sql, timeout_opts(30_000)).await.unwrap_err();
        assert_eq!(code_of(&err), Some(VALUE_LIMIT_CODE), "{sql}: {err:?}");
        assert_eq!(err.kind(), ErrorKind::QueryFailed);
        assert!(err.to_string().contains("1 MiB per value"), "{sql}: {err}");
        assert!(
            started.elapsed() < crate::time_limit(Duration::from_secs(5)),
            "{sql}: {:?}",
            started.elapsed()
        );
    }
}

/// Values under the per-value cap still cannot add up to more than the memory pool in one
/// batch: 8,192 rows of 800 KB each are refused with the memory error.
#[tokio::test]
async fn a_batch_of_large_values_counts_against_the_memory_pool() {
    let conn = flights_with(DataFusionLimits::default().with_memory_limit(256 << 20));
    let started = Instant::now();
    let err = run(
        &conn,
        "SELECT max(length(repeat(tailnum, 200000))) FROM flights",
        timeout_opts(30_000),
    )
    .await
    .unwrap_err();
    assert_eq!(code_of(&err), Some(MEMORY_LIMIT_CODE), "{err:?}");
    assert!(
        started.elapsed() < crate::time_limit(Duration::from_secs(5)),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn limits_come_from_file_urls() {
    let file = sample_data_dir().join("airlines.parquet");
    let conn = connect(&format!(
        "file://{}?memory_limit=64MiB&max_value_size=1KiB",
        file.display()
    ))
    .unwrap();
    let data = run_default(&conn, "SELECT repeat('x', 1000)").await;
    assert_eq!(data.num_rows(), 1);
    let err = run(&conn, "SELECT repeat('x', 2000)", QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), Some(VALUE_LIMIT_CODE), "{err:?}");
    assert!(err.to_string().contains("1 KiB per value"), "{err}");
    for bad in ["memory_limit=lots", "max_value_size=0"] {
        let err = connect(&format!("file://{}?{bad}", file.display()))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
    }
    let err = connect(&format!("file://{}?memory=1", file.display()))
        .map(|_| ())
        .unwrap_err();
    assert!(
        err.to_string().contains("memory_limit, max_value_size"),
        "{err}"
    );
}

/// The cost estimate is the physical plan's statistics: exact rows from Parquet footers, capped
/// by a LIMIT; nothing runs.
#[tokio::test]
async fn estimate_reads_plan_statistics() {
    let conn = sample();
    assert!(conn.info().capabilities.estimate);
    let e = conn
        .estimate("SELECT * FROM flights")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.rows, Some(FLIGHTS_ROWS));
    assert_eq!(e.source, "datafusion plan statistics (exact rows)");
    let capped = conn
        .estimate("SELECT * FROM flights LIMIT 10000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(capped.rows, Some(10_000));
    let err = conn.estimate("SELECT nope FROM flights").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryFailed, "{err}");
}
