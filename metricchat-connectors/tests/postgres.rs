//! PostgreSQL connector against the real server at `MC_TEST_POSTGRES_URL`.
#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

mod conformance;

use arrow::array::{Array, AsArray, IntervalMonthDayNanoArray, ListArray};
use arrow::datatypes::{DataType, IntervalUnit, TimeUnit};
use conformance::{Backend, TypeCase, airline_sql, case, service_url, type_table_sql, unique_name};
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
        let url = service_url("MC_TEST_POSTGRES_URL", "PostgreSQL")?;
        let conn = PostgresConnector::from_url(&url).unwrap();
        let schema = unique_name("mc_test");
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

/// PostgreSQL's rows of the shared type-mapping check (the module docs' table); enums,
/// intervals and arrays are checked in `postgres_specific_types_and_catalog`.
fn type_cases() -> Vec<TypeCase> {
    vec![
        case("bool", "true", DataType::Boolean, "true"),
        case("int2", "-2", DataType::Int16, "-2"),
        case("int4", "40000", DataType::Int32, "40000"),
        case("int8", "9000000000", DataType::Int64, "9000000000"),
        case("float4", "1.5", DataType::Float32, "1.5"),
        case("float8", "2.25", DataType::Float64, "2.25"),
        case(
            "numeric(12,3)",
            "123456789.125",
            DataType::Decimal128(12, 3),
            "123456789.125",
        ),
        case(
            "numeric",
            "'12345678901234567890123456789012345678901.5'",
            DataType::Utf8,
            "12345678901234567890123456789012345678901.5",
        ),
        case("text", "'text'", DataType::Utf8, "text"),
        case("varchar(10)", "'vc'", DataType::Utf8, "vc"),
        case("char(3)", "'ab'", DataType::Utf8, "ab "),
        case("name", "'nm'", DataType::Utf8, "nm"),
        case("bytea", "'\\x0102ff'", DataType::Binary, "0102ff"),
        case("date", "'2013-01-02'", DataType::Date32, "2013-01-02"),
        case(
            "time",
            "'12:34:56.789'",
            DataType::Time64(TimeUnit::Microsecond),
            "12:34:56.789",
        ),
        case(
            "timestamp",
            "'2013-01-02 03:04:05.678901'",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            "2013-01-02T03:04:05.678901",
        ),
        case(
            "timestamptz",
            "'2013-01-02 03:04:05+02'",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            "2013-01-02T01:04:05Z",
        ),
        case(
            "uuid",
            "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
            DataType::Utf8,
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ),
        case("json", "'{\"a\": 1}'", DataType::Utf8, "{\"a\": 1}"),
        case(
            "jsonb",
            "'{\"b\": [1, 2]}'",
            DataType::Utf8,
            "{\"b\": [1, 2]}",
        ),
    ]
}

/// Airline tables with comments, a composite primary key and a foreign key.
async fn airline_tables(fx: &Fixture) {
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
}

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let Some(fx) = Fixture::new().await else {
        return;
    };
    let s = fx.schema.clone();
    let types = type_cases();
    for sql in airline_sql(Some(&s)).into_iter().chain(type_table_sql(
        &format!("{s}.types"),
        "int",
        &types,
    )) {
        fx.exec(&sql).await;
    }
    let types_source = format!("{s}.types");
    Backend::airline(
        &fx.conn,
        Some(&s),
        types_source,
        types,
        "SELECT g FROM generate_series(1, 20000) g",
        "SELECT pg_sleep(5)",
    )
    .run_all()
    .await;
    fx.drop_schema().await;
}

#[tokio::test]
async fn postgres_specific_types_and_catalog() {
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

    // Introspection: PK, FK, comments, row estimates, no system schemas.
    airline_tables(&fx).await;
    let tables = c.list_tables().await.unwrap();
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

    // Types beyond the shared table: intervals, enums, arrays (NULL elements kept).
    fx.exec(
        "CREATE TYPE $S.mood AS ENUM ('sad', 'happy');
         CREATE TABLE $S.types (k int, iv interval, arr int4[], tarr text[], m $S.mood);
         INSERT INTO $S.types VALUES (1, '1 mon 2 days 3.5 seconds', '{1, NULL, 3}', '{x}', 'happy');
         INSERT INTO $S.types (k) VALUES (2);",
    )
    .await;
    let batches = run(
        c,
        &format!("SELECT iv, arr, tarr, m FROM {s}.types ORDER BY k"),
        QueryOptions::default(),
    )
    .await
    .unwrap();
    let b = &batches[0];
    assert_eq!(b.num_rows(), 2);
    let col = |n: &str| b.column_by_name(n).unwrap().clone();
    for n in ["iv", "arr", "tarr", "m"] {
        assert!(col(n).is_null(1), "{n} NULL row");
    }
    assert_eq!(
        col("iv").data_type(),
        &DataType::Interval(IntervalUnit::MonthDayNano)
    );
    let iv = col("iv")
        .as_any()
        .downcast_ref::<IntervalMonthDayNanoArray>()
        .unwrap()
        .value(0);
    assert_eq!((iv.months, iv.days, iv.nanoseconds), (1, 2, 3_500_000_000));
    assert_eq!(col("m").as_string::<i32>().value(0), "happy");
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
    let tarr = col("tarr");
    let tarr = tarr.as_any().downcast_ref::<ListArray>().unwrap();
    assert_eq!(tarr.value(0).as_string::<i32>().value(0), "x");

    // A cancelled statement is gone from the server, not just from our stream.
    let token = CancellationToken::new();
    let t2 = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        t2.cancel();
    });
    let err = run(
        c,
        "SELECT pg_sleep(5)",
        QueryOptions::default().with_cancel(token),
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, Error::Cancelled), "{err:?}");
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

    // Writes fail with SQLSTATE 25006 (read-only transaction) and change nothing.
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

    // Bad column: SQLSTATE 42703 kept.
    let err = run(
        c,
        &format!("SELECT nope FROM {s}.carriers"),
        QueryOptions::default(),
    )
    .await
    .err()
    .unwrap();
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

#[tokio::test]
async fn postgres_connection_errors_name_the_cause() {
    let Some(url) = service_url("MC_TEST_POSTGRES_URL", "PostgreSQL") else {
        return;
    };
    let down =
        PostgresConnector::from_url("postgres://u@127.0.0.1:1/db?connect_timeout=2").unwrap();
    let err = down.test_connection().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot reach PostgreSQL at 127.0.0.1:1"),
        "{err}"
    );
    let mut u = url::Url::parse(&url).unwrap();
    u.set_path("/mc_no_such_db");
    let err = PostgresConnector::from_url(u.as_str())
        .unwrap()
        .test_connection()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
    assert!(err.to_string().contains("mc_no_such_db"), "{err}");
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
