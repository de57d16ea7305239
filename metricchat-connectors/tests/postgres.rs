//! PostgreSQL connector against the real server at `MC_TEST_POSTGRES_URL`.
#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

use arrow::array::{
    Array, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, IntervalMonthDayNanoArray, ListArray,
    StringArray, Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, IntervalUnit, TimeUnit};
use metricchat_connectors::postgres::PostgresConnector;
use metricchat_core::connector::{Connector, QueryOptions, TableRef, collect_stream};
use metricchat_core::error::{Error, ErrorKind};
use tokio_util::sync::CancellationToken;

/// A connector plus a fresh schema, dropped at the end.
struct Fixture {
    conn: PostgresConnector,
    schema: String,
}

impl Fixture {
    async fn new() -> Option<Self> {
        let Ok(url) = std::env::var("MC_TEST_POSTGRES_URL") else {
            eprintln!(
                "\n*** SKIPPED: MC_TEST_POSTGRES_URL is not set; PostgreSQL tests did not run ***\n"
            );
            return None;
        };
        let conn = PostgresConnector::from_url(&url).unwrap();
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000;
        let schema = format!("mc_test_{}_{nanos}_{seq}", std::process::id());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(conn.pool())
            .await
            .unwrap();
        Some(Self { conn, schema })
    }

    async fn exec(&self, sql: &str) {
        let sql = sql.replace("$S", &self.schema);
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(self.conn.pool())
            .await
            .unwrap();
    }

    async fn drop_schema(self) {
        self.exec("DROP SCHEMA $S CASCADE").await;
    }
}

async fn run(
    conn: &PostgresConnector,
    sql: &str,
    opts: QueryOptions,
) -> Result<Vec<arrow::array::RecordBatch>, Error> {
    Ok(collect_stream(conn.query(sql, opts).await?).await?.batches)
}

#[tokio::test]
async fn postgres_connector_end_to_end() {
    let Some(fx) = Fixture::new().await else {
        return;
    };
    let c = &fx.conn;
    let s = fx.schema.clone();
    assert_eq!(
        c.info().dialect,
        metricchat_core::connector::Dialect::Postgres
    );
    assert!(c.info().capabilities.cancel && c.info().capabilities.read_only_transactions);
    c.test_connection().await.unwrap();

    // Introspection: PK, FK, comments, views.
    fx.exec(
        "CREATE TABLE $S.carriers (code text PRIMARY KEY, name text NOT NULL);
         COMMENT ON TABLE $S.carriers IS 'Airlines';
         COMMENT ON COLUMN $S.carriers.name IS 'Full name';
         CREATE TABLE $S.legs (id int, seq int, carrier text REFERENCES $S.carriers(code),
                               fare numeric(10,2), PRIMARY KEY (id, seq));
         CREATE VIEW $S.v_legs AS SELECT id FROM $S.legs;
         INSERT INTO $S.carriers VALUES ('AA', 'American'), ('UA', 'United');
         ANALYZE $S.carriers;",
    )
    .await;
    let tables = c.list_tables().await.unwrap();
    for t in ["carriers", "legs", "v_legs"] {
        assert!(
            tables.contains(&TableRef::qualified(&s, t)),
            "{t} missing from {tables:?}"
        );
    }
    assert!(
        !tables
            .iter()
            .any(|t| t.schema.as_deref() == Some("pg_catalog"))
    );
    let carriers = c
        .table_schema(&TableRef::qualified(&s, "carriers"))
        .await
        .unwrap();
    assert_eq!(carriers.comment.as_deref(), Some("Airlines"));
    assert_eq!(carriers.primary_key, vec!["code"]);
    assert_eq!(carriers.columns[1].comment.as_deref(), Some("Full name"));
    assert!(!carriers.columns[1].nullable);
    assert_eq!(carriers.row_estimate, Some(2));
    let legs = c
        .table_schema(&TableRef::qualified(&s, "legs"))
        .await
        .unwrap();
    assert_eq!(legs.primary_key, vec!["id", "seq"]);
    assert_eq!(legs.foreign_keys.len(), 1);
    assert_eq!(legs.foreign_keys[0].columns, vec!["carrier"]);
    assert_eq!(
        legs.foreign_keys[0].references,
        TableRef::qualified(&s, "carriers")
    );
    assert_eq!(legs.foreign_keys[0].referenced_columns, vec!["code"]);
    assert_eq!(legs.columns[3].data_type, "numeric(10,2)");
    let view = c
        .table_schema(&TableRef::qualified(&s, "v_legs"))
        .await
        .unwrap();
    assert_eq!(view.kind, metricchat_core::connector::TableKind::View);
    let missing = c
        .table_schema(&TableRef::qualified(&s, "nope"))
        .await
        .err()
        .unwrap();
    assert_eq!(missing.kind(), ErrorKind::NotFound);

    // Type mapping: every documented row, a value row and a NULL row.
    fx.exec(
        "CREATE TYPE $S.mood AS ENUM ('sad', 'happy');
         CREATE TABLE $S.types (b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
           dec numeric(12,3), num numeric, t text, vc varchar(10), ch char(3), nm name,
           by bytea, d date, tm time, ts timestamp, tstz timestamptz, iv interval, u uuid,
           j json, jb jsonb, arr int4[], tarr text[], m $S.mood);
         INSERT INTO $S.types VALUES (true, -2, 40000, 9000000000, 1.5, 2.25, 123456789.125,
           '12345678901234567890123456789012345678901.5', 'text', 'vc', 'ab', 'nm', '\\x0102ff',
           '2013-01-02', '12:34:56.789', '2013-01-02 03:04:05.678901',
           '2013-01-02 03:04:05+02', '1 mon 2 days 3.5 seconds',
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": 1}', '{\"b\": [1, 2]}',
           '{1, NULL, 3}', '{x}', 'happy');
         INSERT INTO $S.types DEFAULT VALUES;",
    )
    .await;
    let batches = run(
        c,
        &format!("SELECT * FROM {s}.types ORDER BY b"),
        QueryOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    assert_eq!(b.num_rows(), 2);
    let expect = [
        ("b", DataType::Boolean),
        ("i2", DataType::Int16),
        ("i4", DataType::Int32),
        ("i8", DataType::Int64),
        ("f4", DataType::Float32),
        ("f8", DataType::Float64),
        ("dec", DataType::Decimal128(12, 3)),
        ("num", DataType::Utf8),
        ("t", DataType::Utf8),
        ("vc", DataType::Utf8),
        ("ch", DataType::Utf8),
        ("nm", DataType::Utf8),
        ("by", DataType::Binary),
        ("d", DataType::Date32),
        ("tm", DataType::Time64(TimeUnit::Microsecond)),
        ("ts", DataType::Timestamp(TimeUnit::Microsecond, None)),
        (
            "tstz",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ),
        ("iv", DataType::Interval(IntervalUnit::MonthDayNano)),
        ("u", DataType::Utf8),
        ("j", DataType::Utf8),
        ("jb", DataType::Utf8),
        ("m", DataType::Utf8),
    ];
    for (name, dt) in &expect {
        let col = b.column_by_name(name).unwrap();
        assert_eq!(col.data_type(), dt, "{name}");
        assert!(col.is_valid(0), "{name} row 0");
        assert!(col.is_null(1), "{name} NULL row");
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
        col("i2")
            .as_any()
            .downcast_ref::<Int16Array>()
            .unwrap()
            .value(0),
        -2
    );
    assert_eq!(
        col("i4")
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap()
            .value(0),
        40000
    );
    assert_eq!(
        col("i8")
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0),
        9_000_000_000
    );
    assert_eq!(
        col("f4")
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap()
            .value(0),
        1.5
    );
    assert_eq!(
        col("f8")
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(0),
        2.25
    );
    assert_eq!(
        col("dec")
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap()
            .value(0),
        123_456_789_125
    );
    let str_of = |n: &str| {
        col(n)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0)
            .to_string()
    };
    assert_eq!(str_of("num"), "12345678901234567890123456789012345678901.5");
    assert_eq!(str_of("t"), "text");
    assert_eq!(str_of("vc"), "vc");
    assert_eq!(str_of("ch"), "ab ");
    assert_eq!(str_of("nm"), "nm");
    assert_eq!(
        col("by")
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
        col("tstz")
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap()
            .value(0),
        1_357_088_645_000_000
    );
    let iv = col("iv")
        .as_any()
        .downcast_ref::<IntervalMonthDayNanoArray>()
        .unwrap()
        .value(0);
    assert_eq!((iv.months, iv.days, iv.nanoseconds), (1, 2, 3_500_000_000));
    assert_eq!(str_of("u"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(str_of("j"), "{\"a\": 1}");
    assert_eq!(str_of("jb"), "{\"b\": [1, 2]}");
    assert_eq!(str_of("m"), "happy");
    let arr = col("arr");
    let arr = arr.as_any().downcast_ref::<ListArray>().unwrap();
    assert_eq!(
        arr.data_type(),
        &DataType::List(std::sync::Arc::new(arrow::datatypes::Field::new(
            "item",
            DataType::Int32,
            true
        )))
    );
    let first = arr.value(0);
    let ints = first.as_primitive::<arrow::datatypes::Int32Type>();
    assert_eq!(
        (ints.len(), ints.value(0), ints.is_null(1), ints.value(2)),
        (3, 1, true, 3)
    );
    assert!(arr.is_null(1));
    let tarr = col("tarr");
    let tarr = tarr.as_any().downcast_ref::<ListArray>().unwrap();
    assert_eq!(tarr.value(0).as_string::<i32>().value(0), "x");

    // Row cap, batching.
    let batches = run(
        c,
        "SELECT g FROM generate_series(1, 20000) g",
        QueryOptions::default().with_max_rows(Some(10_000)),
    )
    .await
    .unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 10_000);
    assert!(batches.iter().all(|b| b.num_rows() <= 8192));
    let all = run(
        c,
        "SELECT g FROM generate_series(1, 20000) g",
        QueryOptions::default().with_max_rows(None),
    )
    .await
    .unwrap();
    assert_eq!(all.iter().map(|b| b.num_rows()).sum::<usize>(), 20_000);

    // Timeout at the engine, then the pool still works.
    let started = std::time::Instant::now();
    let err = run(
        c,
        "SELECT pg_sleep(5)",
        QueryOptions::default().with_timeout(Some(Duration::from_millis(200))),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let ok = run(c, "SELECT 1 AS one", QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(ok[0].num_rows(), 1);

    // Cancel, then the pool still works and nothing is left running.
    let token = CancellationToken::new();
    let t2 = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        t2.cancel();
    });
    let started = std::time::Instant::now();
    let err = run(
        c,
        "SELECT pg_sleep(5)",
        QueryOptions::default().with_cancel(token),
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'",
    )
    .fetch_one(c.pool())
    .await
    .unwrap();
    assert_eq!(
        busy, 0,
        "the sleeping statements were not cancelled at the engine"
    );
    run(c, "SELECT 1", QueryOptions::default()).await.unwrap();

    // Writes are refused by the engine even without our SQL guard.
    let err = run(
        c,
        &format!("INSERT INTO {s}.carriers VALUES ('DL', 'Delta')"),
        QueryOptions::default(),
    )
    .await
    .err()
    .unwrap();
    match &err {
        Error::Query { code, .. } => assert_eq!(code.as_deref(), Some("25006"), "{err:?}"),
        other => panic!("expected a query error, got {other:?}"),
    }
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {s}.carriers"
    )))
    .fetch_one(c.pool())
    .await
    .unwrap();
    assert_eq!(n, 2);

    // Bad column: QueryFailed with SQLSTATE 42703.
    let err = run(
        c,
        &format!("SELECT nope FROM {s}.carriers"),
        QueryOptions::default(),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.kind(), ErrorKind::QueryFailed);
    assert!(
        matches!(&err, Error::Query { code: Some(c), .. } if c == "42703"),
        "{err:?}"
    );

    // Empty result keeps its schema.
    let empty = collect_stream(
        c.query(
            &format!("SELECT code FROM {s}.carriers WHERE false"),
            QueryOptions::default(),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(empty.num_rows(), 0);
    assert_eq!(empty.schema.field(0).name(), "code");

    fx.drop_schema().await;
}

#[cfg(feature = "datafusion")]
#[tokio::test]
async fn postgres_nycflights_matches_datafusion() {
    let Some(fx) = Fixture::new().await else {
        return;
    };
    let s = fx.schema.clone();
    fx.exec(
        "CREATE TABLE $S.airlines (carrier text PRIMARY KEY, name text);
         CREATE TABLE $S.flights (year int, month int, day int, carrier text, dep_delay float8,
                                  distance float8);",
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
            "SELECT CAST(year AS INT) AS year, CAST(month AS INT) AS month, CAST(day AS INT) AS day, carrier, \
             CAST(dep_delay AS DOUBLE) AS dep_delay, CAST(distance AS DOUBLE) AS distance \
             FROM flights ORDER BY year, month, day, carrier LIMIT 20000",
            QueryOptions::default().with_max_rows(None),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    let pool = fx.conn.pool();
    for b in &airlines.batches {
        let c = arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
        let n = arrow::compute::cast(b.column(1), &DataType::Utf8).unwrap();
        let (c, n) = (c.as_string::<i32>(), n.as_string::<i32>());
        for i in 0..b.num_rows() {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {s}.airlines VALUES ($1, $2)"
            )))
            .bind(c.value(i))
            .bind(n.value(i))
            .execute(pool)
            .await
            .unwrap();
        }
    }
    let mut tx = pool.begin().await.unwrap();
    for b in &flights.batches {
        let y = b.column(0).as_primitive::<arrow::datatypes::Int32Type>();
        let m = b.column(1).as_primitive::<arrow::datatypes::Int32Type>();
        let d = b.column(2).as_primitive::<arrow::datatypes::Int32Type>();
        let c = arrow::compute::cast(b.column(3), &DataType::Utf8).unwrap();
        let c = c.as_string::<i32>();
        let dd = b.column(4).as_primitive::<arrow::datatypes::Float64Type>();
        let dist = b.column(5).as_primitive::<arrow::datatypes::Float64Type>();
        for i in 0..b.num_rows() {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {s}.flights VALUES ($1, $2, $3, $4, $5, $6)"
            )))
            .bind(y.value(i))
            .bind(m.value(i))
            .bind(d.value(i))
            .bind(c.value(i))
            .bind(dd.is_valid(i).then(|| dd.value(i)))
            .bind(dist.value(i))
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();

    let question = "SELECT a.name, count(*) AS n, round(avg(f.dep_delay)::numeric, 3)::text AS avg_delay \
                    FROM {F} f JOIN {A} a ON a.carrier = f.carrier GROUP BY a.name ORDER BY a.name";
    let pg_sql = question
        .replace("{F}", &format!("{s}.flights"))
        .replace("{A}", &format!("{s}.airlines"));
    let pg = run(&fx.conn, &pg_sql, QueryOptions::default())
        .await
        .unwrap();
    let df_sql = "WITH f AS (SELECT * FROM flights ORDER BY year, month, day, carrier LIMIT 20000) \
                  SELECT a.name, count(*) AS n, CAST(round(avg(f.dep_delay), 3) AS VARCHAR) AS avg_delay \
                  FROM f JOIN airlines a ON a.carrier = f.carrier GROUP BY a.name ORDER BY a.name";
    let dfr = collect_stream(df.query(df_sql, QueryOptions::default()).await.unwrap())
        .await
        .unwrap();
    let rows = |batches: &[arrow::array::RecordBatch]| {
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
    let (a, b) = (rows(&pg), rows(&dfr.batches));
    assert!(!a.is_empty());
    assert_eq!(a, b);
    fx.drop_schema().await;
}

#[tokio::test]
async fn postgres_lists_10000_tables_fast() {
    let Some(fx) = Fixture::new().await else {
        return;
    };
    // Batches of 1000 keep within max_locks_per_transaction.
    for chunk in 0..10 {
        fx.exec(&format!(
            "DO $$ BEGIN FOR i IN {}..{} LOOP \
             EXECUTE format('CREATE TABLE $S.t%s (id int PRIMARY KEY, v text)', i); \
             END LOOP; END $$;",
            chunk * 1000 + 1,
            chunk * 1000 + 1000
        ))
        .await;
    }
    let started = std::time::Instant::now();
    let tables = fx.conn.list_tables().await.unwrap();
    let listed = started.elapsed();
    let ours = tables
        .iter()
        .filter(|t| t.schema.as_deref() == Some(fx.schema.as_str()))
        .count();
    assert_eq!(ours, 10_000);
    let started = std::time::Instant::now();
    for i in [1, 5000, 10_000] {
        let t = fx
            .conn
            .table_schema(&TableRef::qualified(&fx.schema, format!("t{i}")))
            .await
            .unwrap();
        assert_eq!(t.primary_key, vec!["id"]);
    }
    let described = started.elapsed() / 3;

    // The whole catalog in three queries, then the context hub's index and one selection.
    fx.exec(
        "CREATE TABLE $S.dim_customers (customer_id bigint PRIMARY KEY, region text);
         CREATE TABLE $S.fct_orders (order_id bigint PRIMARY KEY,
             customer_id bigint REFERENCES $S.dim_customers, net_revenue numeric(12,2));
         COMMENT ON COLUMN $S.fct_orders.net_revenue IS 'Revenue after refunds';",
    )
    .await;
    let started = std::time::Instant::now();
    let catalog = fx.conn.catalog().await.unwrap();
    let loaded = started.elapsed();
    let ours: Vec<_> = catalog
        .iter()
        .filter(|t| t.table.schema.as_deref() == Some(fx.schema.as_str()))
        .collect();
    assert_eq!(ours.len(), 10_002);
    let t77 = ours.iter().find(|t| t.table.name == "t77").unwrap();
    assert_eq!(t77.columns.len(), 2);
    assert_eq!(t77.primary_key, vec!["id"]);
    let orders = ours.iter().find(|t| t.table.name == "fct_orders").unwrap();
    assert_eq!(orders.foreign_keys[0].references.name, "dim_customers");
    assert_eq!(
        orders.columns[2].comment.as_deref(),
        Some("Revenue after refunds")
    );
    let url = std::env::var("MC_TEST_POSTGRES_URL").unwrap();
    let conn: metricchat_core::ConnectorRef =
        std::sync::Arc::new(PostgresConnector::from_url(&url).unwrap());
    let hub = metricchat_core::context::ContextHub::default();
    let started = std::time::Instant::now();
    hub.load_catalogs(std::slice::from_ref(&conn))
        .await
        .unwrap();
    let sel = hub.select_tables("revenue by customer region", 4_000);
    let hub_ms = started.elapsed();
    let started = std::time::Instant::now();
    let again = hub.select_tables("net revenue per region", 4_000);
    let select_ms = started.elapsed();
    // Other schemas of the test database may hold tables of the same names.
    let ours = |sel: &[metricchat_core::context::TableSelection]| -> Vec<String> {
        sel.iter()
            .filter(|s| s.table.schema.as_deref() == Some(fx.schema.as_str()))
            .map(|s| s.table.name.clone())
            .collect()
    };
    let names = ours(&sel);
    assert!(names.contains(&"fct_orders".to_string()), "{names:?}");
    assert!(names.contains(&"dim_customers".to_string()), "{names:?}");
    let names = ours(&again);
    assert!(names.contains(&"fct_orders".to_string()), "{names:?}");
    eprintln!(
        "10,000 tables: list_tables {} ms, table_schema {} ms each, catalog (all columns and keys) {} ms; \
         context hub load + index + first selection {} ms, next selection {} ms",
        listed.as_millis(),
        described.as_millis(),
        loaded.as_millis(),
        hub_ms.as_millis(),
        select_ms.as_millis()
    );
    assert!(listed < Duration::from_secs(5), "{listed:?}");
    assert!(described < Duration::from_secs(1), "{described:?}");
    for chunk in 0..10 {
        fx.exec(&format!(
            "DO $$ BEGIN FOR i IN {}..{} LOOP \
             EXECUTE format('DROP TABLE $S.t%s', i); END LOOP; END $$;",
            chunk * 1000 + 1,
            chunk * 1000 + 1000
        ))
        .await;
    }
    fx.drop_schema().await;
}
