//! PostgreSQL connector against the real server at `MC_TEST_POSTGRES_URL`.
#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::time::Duration;

use crate::conformance;

use arrow::array::{Array, AsArray, IntervalMonthDayNanoArray, ListArray};
use arrow::datatypes::{DataType, IntervalUnit, TimeUnit};
use conformance::{
    Backend, PRIVILEGED_OK, TypeCase, airline_sql, case, service_url, service_url_as_is,
    type_table_sql, unique_name, with_param,
};
use metricchat_connectors::postgres::PostgresConnector;
use metricchat_core::connector::{Connector, QueryOptions, TableRef, collect_stream};
use metricchat_core::error::{Error, ErrorKind};
use tokio_util::sync::CancellationToken;

type Fixture = conformance::Fixture<PostgresConnector>;

impl conformance::SchemaBackend for PostgresConnector {
    async fn setup(schema: &str) -> Option<(Self, String)> {
        let url = service_url("MC_TEST_POSTGRES_URL", "PostgreSQL")?;
        let conn = PostgresConnector::from_url(&url).unwrap();
        conn.exec(format!("CREATE SCHEMA {schema}")).await;
        Some((conn, url))
    }

    fn open(url: &str) -> Self {
        PostgresConnector::from_url(url).unwrap()
    }

    conformance::pool_exec_and_close!();

    fn drop_sql(schema: &str) -> String {
        format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {schema} CASCADE")
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
    // A marker of its own: the conformance suites of other tests in this binary run their own
    // `SELECT pg_sleep(5)` concurrently on the same server.
    let err = run(
        c,
        "SELECT pg_sleep(5) AS cancel_probe_specific",
        QueryOptions::default().with_cancel(token),
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE query = 'SELECT pg_sleep(5) AS cancel_probe_specific' AND state = 'active'",
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
#[ignore = "scale tier: run with --include-ignored in release"]
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
    let url = service_url("MC_TEST_POSTGRES_URL", "PostgreSQL").unwrap();
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
    assert!(
        listed < crate::time_limit(Duration::from_secs(5)),
        "{listed:?}"
    );
    assert!(
        described < crate::time_limit(Duration::from_secs(1)),
        "{described:?}"
    );
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

/// The test server's URL as `user`, without a password and without the privileged-login opt-in.
fn as_user(raw_url: &str, user: &str) -> String {
    let mut u = url::Url::parse(raw_url).unwrap();
    u.set_username(user).unwrap();
    u.set_password(None).unwrap();
    u.to_string()
}

/// Whether the test URL logs in as a superuser (the privileged-login checks need one).
async fn is_superuser(fx: &Fixture) -> bool {
    let sup: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user")
            .fetch_one(fx.conn.pool())
            .await
            .unwrap();
    if !sup {
        eprintln!(
            "\n*** SKIPPED: MC_TEST_POSTGRES_URL does not log in as a superuser; the \
             privileged-login checks did not run ***\n"
        );
    }
    sup
}

#[test]
fn test_urls_get_the_opt_in_appended() {
    assert_eq!(
        with_param("postgres://u@h/db", PRIVILEGED_OK),
        "postgres://u@h/db?allow_privileged_login=true"
    );
    assert_eq!(
        with_param("postgres://u@h/db?sslmode=disable", PRIVILEGED_OK),
        "postgres://u@h/db?sslmode=disable&allow_privileged_login=true"
    );
    assert_eq!(
        with_param("postgres://u@h/db?", PRIVILEGED_OK),
        "postgres://u@h/db?allow_privileged_login=true"
    );
}

#[tokio::test]
async fn postgres_refuses_a_privileged_login_unless_allowed() {
    let Some(fx) = Fixture::new().await else {
        return;
    };
    if !is_superuser(&fx).await {
        fx.drop_schema().await;
        return;
    }
    let raw = service_url_as_is("MC_TEST_POSTGRES_URL", "PostgreSQL").unwrap();

    // The superuser: refused, with the privilege, the role to create and the opt-in.
    let su = PostgresConnector::from_url(&raw).unwrap();
    for _ in 0..2 {
        let err = run(&su, "SELECT 1 AS one", QueryOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err:?}");
        let Error::PrivilegedLogin {
            privileges, hint, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(privileges, &["superuser"]);
        assert!(
            hint.contains("CREATE ROLE metricchat_reader LOGIN"),
            "{hint}"
        );
        assert!(
            hint.contains("GRANT SELECT ON ALL TABLES IN SCHEMA public"),
            "{hint}"
        );
        let msg = err.to_string();
        assert!(msg.contains("is privileged (superuser)"), "{msg}");
        assert!(msg.contains("allow_privileged_login=true"), "{msg}");
    }
    // Catalog queries are the connector's own and still run.
    su.list_tables().await.unwrap();
    // Opted in: runs.
    let allowed = PostgresConnector::from_url(&with_param(&raw, PRIVILEGED_OK)).unwrap();
    let out = run(&allowed, "SELECT 1 AS one", QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(out[0].num_rows(), 1);

    // A login that is no superuser but has REPLICATION and (through SET ROLE-able membership)
    // the predefined roles that reach outside the database, and a superuser role.
    let user = unique_name("mc_priv");
    let admin_role = format!("{user}_admin");
    fx.exec(&format!(
        "CREATE ROLE {user} LOGIN REPLICATION; CREATE ROLE {admin_role} SUPERUSER NOLOGIN;
         GRANT pg_execute_server_program, pg_signal_backend, {admin_role} TO {user};"
    ))
    .await;
    let conn = PostgresConnector::from_url(&as_user(&raw, &user)).unwrap();
    let err = run(&conn, "SELECT 1 AS one", QueryOptions::default())
        .await
        .unwrap_err();
    let Error::PrivilegedLogin {
        user: login,
        privileges,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(login, &user);
    assert_eq!(
        privileges,
        &[
            "REPLICATION".to_string(),
            "member of pg_execute_server_program".into(),
            "member of pg_signal_backend".into(),
            format!("member of superuser role {admin_role}"),
        ]
    );
    conn.pool().close().await;
    fx.exec(&format!(
        "DROP OWNED BY {user}; DROP ROLE {user}; DROP ROLE {admin_role};"
    ))
    .await;
    fx.drop_schema().await;
}

#[tokio::test]
async fn postgres_least_privilege_login_runs_and_the_engine_stops_the_rest() {
    let Some(fx) = Fixture::new().await else {
        return;
    };
    if !is_superuser(&fx).await {
        fx.drop_schema().await;
        return;
    }
    let raw = service_url_as_is("MC_TEST_POSTGRES_URL", "PostgreSQL").unwrap();
    let user = unique_name("mc_reader");
    let db: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(fx.conn.pool())
        .await
        .unwrap();
    fx.exec(&format!(
        "CREATE TABLE $S.t (x int); INSERT INTO $S.t VALUES (1), (2), (3);
         CREATE ROLE {user} LOGIN;
         GRANT CONNECT ON DATABASE \"{db}\" TO {user};
         GRANT USAGE ON SCHEMA $S TO {user};
         GRANT SELECT ON ALL TABLES IN SCHEMA $S TO {user};
         ALTER ROLE {user} SET standard_conforming_strings = off;"
    ))
    .await;
    // One connection, so the session state a query could leave is what the next one sees.
    let conn = PostgresConnector::from_url(&with_param(&as_user(&raw, &user), "max_connections=1"))
        .unwrap();
    let q = |sql: String| {
        let conn = &conn;
        async move { run(conn, &sql, QueryOptions::default()).await }
    };
    let one_value = |batches: &[arrow::array::RecordBatch]| -> String {
        let col = batches[0].column(0);
        arrow::util::display::ArrayFormatter::try_new(col.as_ref(), &Default::default())
            .unwrap()
            .value(0)
            .to_string()
    };

    let n = q(format!("SELECT count(*) AS n FROM {}.t", fx.schema))
        .await
        .unwrap();
    assert_eq!(one_value(&n), "3");
    // The role's default says backslashes escape; each query still reads '\' literally.
    let b = q("SELECT '\\' AS b".into()).await.unwrap();
    assert_eq!(one_value(&b), "\\");

    // What a superuser could do inside a read-only transaction fails at the engine.
    let marker = format!("/tmp/{user}");
    let refused = [
        "SELECT pg_read_file('/etc/hostname')".to_string(),
        format!("COPY (SELECT 1) TO PROGRAM 'touch {marker}'"),
        format!("COPY (SELECT 1) TO '{marker}.csv'"),
        format!("SELECT slot_name::text FROM pg_create_physical_replication_slot('{user}')"),
    ];
    for sql in &refused {
        let err = q(sql.clone()).await.unwrap_err();
        let Error::Query { code, message, .. } = &err else {
            panic!("{sql}: {err:?}");
        };
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {message}");
    }
    assert!(!std::path::Path::new(&marker).exists());
    assert!(!std::path::Path::new(&format!("{marker}.csv")).exists());
    // Ending another user's session.
    let mut admin = fx.conn.pool().acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *admin)
        .await
        .unwrap();
    let err = q(format!("SELECT pg_terminate_backend({pid})"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Query { code: Some(c), .. } if c == "42501"),
        "{err:?}"
    );
    let alive: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut *admin)
        .await
        .unwrap();
    assert_eq!(alive, 1);

    // A session-level advisory lock taken by a query is not held once it ends.
    let key = 770_000_000 + i64::from(std::process::id() % 1_000_000);
    q(format!("SELECT pg_advisory_lock({key})")).await.unwrap();
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' \
         AND objid::int8 = $1 AND granted",
    )
    .bind(key)
    .fetch_one(&mut *admin)
    .await
    .unwrap();
    assert_eq!(held, 0, "the advisory lock outlived its query");
    let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut *admin)
        .await
        .unwrap();
    assert!(free);
    sqlx::query("SELECT pg_advisory_unlock_all()")
        .execute(&mut *admin)
        .await
        .unwrap();
    drop(admin);
    // The connection is still the pool's one and still works.
    let n = q(format!("SELECT count(*) AS n FROM {}.t", fx.schema))
        .await
        .unwrap();
    assert_eq!(one_value(&n), "3");

    conn.pool().close().await;
    fx.exec(&format!("DROP OWNED BY {user}; DROP ROLE {user};"))
        .await;
    fx.drop_schema().await;
}

/// The first column of the first row as text.
fn first_text(batches: &[arrow::array::RecordBatch]) -> String {
    let col = batches[0].column(0);
    arrow::util::display::ArrayFormatter::try_new(col.as_ref(), &Default::default())
        .unwrap()
        .value(0)
        .to_string()
}

/// Per-user credentials: a query runs as the user's role (`SET LOCAL ROLE`), sees exactly that
/// role's rows (row-level security keyed on `current_user`) and grants, and the pooled
/// connection is back to the login afterwards — interleaved, concurrently over a pool of two.
#[tokio::test]
async fn postgres_runs_as_the_users_role_and_never_leaks_it() {
    use metricchat_core::connector::Credentials;
    let Some(fx) = Fixture::new().await else {
        return;
    };
    if !is_superuser(&fx).await {
        fx.drop_schema().await;
        return;
    }
    let raw = service_url_as_is("MC_TEST_POSTGRES_URL", "PostgreSQL").unwrap();
    let login = unique_name("mc_login");
    let (a, b, stranger) = (
        format!("{login}_a"),
        format!("{login}_b"),
        format!("{login}_c"),
    );
    let db: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(fx.conn.pool())
        .await
        .unwrap();
    // The login holds no grant of its own (NOINHERIT: membership lets it SET ROLE, nothing
    // more); A and B read `secrets` through row-level security on current_user; only A reads
    // `only_a`; C exists but is not granted to the login.
    fx.exec(&format!(
        "CREATE ROLE {login} LOGIN NOINHERIT; CREATE ROLE {a}; CREATE ROLE {b}; CREATE ROLE {stranger};
         GRANT {a}, {b} TO {login};
         GRANT CONNECT ON DATABASE \"{db}\" TO {login};
         GRANT USAGE ON SCHEMA $S TO {a}, {b}, {stranger};
         CREATE TABLE $S.secrets (owner text, v int);
         INSERT INTO $S.secrets VALUES ('{a}', 1), ('{a}', 2), ('{b}', 10), ('{b}', 20), ('{b}', 30), ('x', 100);
         ALTER TABLE $S.secrets ENABLE ROW LEVEL SECURITY;
         CREATE POLICY own_rows ON $S.secrets USING (owner = current_user);
         GRANT SELECT ON $S.secrets TO {a}, {b};
         CREATE TABLE $S.only_a (x int); INSERT INTO $S.only_a VALUES (7);
         GRANT SELECT ON $S.only_a TO {a};"
    ))
    .await;
    let conn = std::sync::Arc::new(
        PostgresConnector::from_url(&with_param(&as_user(&raw, &login), "max_connections=2"))
            .unwrap(),
    );
    assert!(conn.info().capabilities.run_as_role);
    let s = fx.schema.clone();
    let as_role = |r: Option<&str>| QueryOptions::default().with_run_as(r.map(Credentials::role));
    let sum_sql = format!(
        "SELECT current_user::text AS who, count(*) AS n, coalesce(sum(v), 0) AS total FROM {s}.secrets"
    );
    let who_and_sum = |batches: &[arrow::array::RecordBatch]| -> (String, String, String) {
        let f = |i: usize| {
            arrow::util::display::ArrayFormatter::try_new(
                batches[0].column(i).as_ref(),
                &Default::default(),
            )
            .unwrap()
            .value(0)
            .to_string()
        };
        (f(0), f(1), f(2))
    };

    // A, then B, then no role (the login, which may not read the table), interleaved.
    for _ in 0..2 {
        let out = run(&conn, &sum_sql, as_role(Some(&a))).await.unwrap();
        assert_eq!(who_and_sum(&out), (a.clone(), "2".into(), "3".into()));
        let out = run(&conn, &sum_sql, as_role(Some(&b))).await.unwrap();
        assert_eq!(who_and_sum(&out), (b.clone(), "3".into(), "60".into()));
        let err = run(&conn, &sum_sql, as_role(None)).await.unwrap_err();
        assert!(
            matches!(&err, Error::Query { code: Some(c), .. } if c == "42501"),
            "{err:?}"
        );
        let who = run(
            &conn,
            "SELECT current_user::text, session_user::text",
            as_role(None),
        )
        .await
        .unwrap();
        assert_eq!(first_text(&who), login);
    }
    // Grants follow the role: only A reads `only_a`.
    let only_a = format!("SELECT x FROM {s}.only_a");
    assert_eq!(
        first_text(&run(&conn, &only_a, as_role(Some(&a))).await.unwrap()),
        "7"
    );
    for r in [Some(b.as_str()), None] {
        let err = run(&conn, &only_a, as_role(r)).await.unwrap_err();
        assert!(
            matches!(&err, Error::Query { code: Some(c), .. } if c == "42501"),
            "{r:?}: {err:?}"
        );
    }
    // Still read-only under a role.
    let err = run(
        &conn,
        &format!("INSERT INTO {s}.secrets VALUES ('{a}', 5)"),
        as_role(Some(&a)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::Query { code: Some(c), .. } if c == "25006" || c == "42501"),
        "{err:?}"
    );

    // 50 queries at once over the pool of two: each sees exactly its own identity and rows.
    let jobs: Vec<Option<String>> = (0..50)
        .map(|i| match i % 3 {
            0 => Some(a.clone()),
            1 => Some(b.clone()),
            _ => None,
        })
        .collect();
    let results = futures::future::join_all(jobs.iter().map(|r| {
        let conn = conn.clone();
        let sql = format!("SELECT current_user::text AS who, (SELECT count(*) FROM {s}.secrets) AS n FROM pg_sleep(0.01)");
        let opts = as_role(r.as_deref());
        async move { run(&conn, &sql, opts).await }
    }))
    .await;
    for (r, out) in jobs.iter().zip(results) {
        match r {
            Some(role) => {
                let out = out.unwrap();
                let who = first_text(&out);
                assert_eq!(&who, role);
                let n = arrow::util::display::ArrayFormatter::try_new(
                    out[0].column(1).as_ref(),
                    &Default::default(),
                )
                .unwrap()
                .value(0)
                .to_string();
                assert_eq!(n, if role == &a { "2" } else { "3" });
            }
            None => {
                let err = out.unwrap_err();
                assert!(
                    matches!(&err, Error::Query { code: Some(c), .. } if c == "42501"),
                    "{err:?}"
                );
            }
        }
    }

    // A session-level SET ROLE left on the pooled connections by other code does not apply to
    // a query: each sets its own role (none: the login) for its transaction.
    {
        let mut c1 = conn.pool().acquire().await.unwrap();
        let mut c2 = conn.pool().acquire().await.unwrap();
        for c in [&mut c1, &mut c2] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SET ROLE {a}")))
                .execute(&mut **c)
                .await
                .unwrap();
        }
    }
    for _ in 0..4 {
        let who = run(&conn, "SELECT current_user::text", as_role(None))
            .await
            .unwrap();
        assert_eq!(first_text(&who), login);
        let who = run(&conn, "SELECT current_user::text", as_role(Some(&b)))
            .await
            .unwrap();
        assert_eq!(first_text(&who), b);
    }

    // Bad input: an unknown role, a role not granted to the login, a name that tries to break
    // out of its quotes, a token — each a typed error, nothing run; the pool still works.
    for bad in [
        format!("{login}_nope"),
        stranger.clone(),
        format!("{a}\"; SELECT 1; --"),
    ] {
        let err = run(&conn, "SELECT current_user::text", as_role(Some(&bad)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized, "{bad}: {err:?}");
        assert!(
            matches!(&err, Error::RunAs { identity, .. } if identity == &bad),
            "{err:?}"
        );
    }
    let err = run(
        &conn,
        "SELECT 1",
        QueryOptions::default().with_run_as(Some(Credentials::token("s3cr3t-token"))),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err:?}");
    assert!(!format!("{err:?}{err}").contains("s3cr3t"));
    let who = run(&conn, "SELECT current_user::text", as_role(None))
        .await
        .unwrap();
    assert_eq!(first_text(&who), login);

    conn.pool().close().await;
    fx.exec(&format!(
        "DROP OWNED BY {a}, {b}, {stranger}, {login}; DROP ROLE {a}; DROP ROLE {b}; \
         DROP ROLE {stranger}; DROP ROLE {login};"
    ))
    .await;
    fx.drop_schema().await;
}

/// The cost estimate is `EXPLAIN (FORMAT JSON)`: plan rows, total cost, rows × width as bytes;
/// nothing executes (a statement that would sleep returns at once) and a statement that does
/// not plan fails as a query error.
#[tokio::test]
async fn postgres_estimates_from_explain_without_running() {
    let Some(fx) = Fixture::new().await else {
        return;
    };
    fx.exec(
        "CREATE TABLE $S.big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 50000) g;
         ANALYZE $S.big;",
    )
    .await;
    let s = fx.schema.clone();
    assert!(fx.conn.info().capabilities.estimate);
    let e = fx
        .conn
        .estimate(&format!("SELECT id, h FROM {s}.big"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.source, "postgres EXPLAIN");
    assert!((45_000..=55_000).contains(&e.rows.unwrap()), "{e:?}");
    assert!(e.bytes.unwrap() > e.rows.unwrap() * 30, "{e:?}");
    assert!(e.cost.unwrap() > 100.0, "{e:?}");
    let small = fx
        .conn
        .estimate(&format!("SELECT count(*) FROM {s}.big"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(small.rows, Some(1));
    let started = std::time::Instant::now();
    fx.conn
        .estimate("SELECT pg_sleep(5)")
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "EXPLAIN ran it");
    let err = fx
        .conn
        .estimate(&format!("SELECT nope FROM {s}.big"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryFailed, "{err}");
    // The pooled connection is back to normal: a query still runs read-only.
    run(
        &fx.conn,
        &format!("SELECT count(*) FROM {s}.big"),
        QueryOptions::default(),
    )
    .await
    .unwrap();
    fx.drop_schema().await;
}
