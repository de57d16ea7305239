//! Redshift connector against Redshift's documented catalog views, reproduced inside the real
//! PostgreSQL at `MC_TEST_POSTGRES_URL`.
//!
//! There is no Redshift server on this machine. Redshift speaks PostgreSQL's wire protocol, and
//! the connector's own SQL is what differs: it introspects through Redshift's `svv_tables`,
//! `svv_columns` and `svv_table_info`. So the test creates, in schema `mc_redshift_catalog`,
//! views of those names with exactly the columns (names and types) AWS documents, defined over
//! PostgreSQL's catalog (`svv_table_info`, like Redshift's, lists no empty table), and connects
//! with `search_path=mc_redshift_catalog,public` so the connector's unqualified catalog queries
//! read them. This proves our SQL against Redshift's documented view shapes and the shared
//! PostgreSQL query path (read-only transactions, `statement_timeout`, `pg_cancel_backend`, row
//! cap); it does not prove Redshift itself (its result formats, leader-node rules, or
//! permissions on `svv_table_info`).
#![cfg(feature = "redshift")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::conformance;

use arrow::datatypes::{DataType, TimeUnit};
use conformance::{
    Backend, airline_sql, case, service_url, service_url_as_is, type_table_sql, unique_name,
};
use metricchat_connectors::redshift::RedshiftConnector;
use metricchat_core::connector::{Connector, Dialect, TableKind, TableRef};
use metricchat_core::connector::{QueryOptions, collect_stream};
use metricchat_core::error::{Error, ErrorKind};

/// Redshift's catalog views as AWS documents them, over PostgreSQL's catalog. Built under an
/// advisory lock so concurrent tests do not race on `CREATE OR REPLACE VIEW`.
const EMULATED_CATALOG: &str = r#"
SELECT pg_advisory_xact_lock(7272);
CREATE SCHEMA IF NOT EXISTS mc_redshift_catalog;
CREATE OR REPLACE VIEW mc_redshift_catalog.svv_tables AS
SELECT current_database()::text AS table_catalog,
       n.nspname::text AS table_schema,
       c.relname::text AS table_name,
       (CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'VIEW' WHEN 'f' THEN 'EXTERNAL TABLE'
                       ELSE 'BASE TABLE' END)::text AS table_type,
       d.description::text AS remarks
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_description d
  ON d.objoid = c.oid AND d.objsubid = 0 AND d.classoid = 'pg_catalog.pg_class'::regclass
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition;
CREATE OR REPLACE VIEW mc_redshift_catalog.svv_columns AS
SELECT c.table_catalog::text AS table_catalog,
       c.table_schema::text AS table_schema,
       c.table_name::text AS table_name,
       c.column_name::text AS column_name,
       c.ordinal_position::int AS ordinal_position,
       c.column_default::varchar(4000) AS column_default,
       c.is_nullable::varchar(3) AS is_nullable,
       c.data_type::text AS data_type,
       c.character_maximum_length::int AS character_maximum_length,
       c.numeric_precision::int AS numeric_precision,
       c.numeric_precision_radix::int AS numeric_precision_radix,
       c.numeric_scale::int AS numeric_scale,
       d.description::text AS remarks
FROM information_schema.columns c
JOIN pg_catalog.pg_namespace n ON n.nspname = c.table_schema
JOIN pg_catalog.pg_class cl ON cl.relnamespace = n.oid AND cl.relname = c.table_name
LEFT JOIN pg_catalog.pg_description d
  ON d.objoid = cl.oid AND d.objsubid = c.ordinal_position
 AND d.classoid = 'pg_catalog.pg_class'::regclass;
CREATE OR REPLACE VIEW mc_redshift_catalog.svv_table_info AS
SELECT current_database()::text AS database,
       n.nspname::text AS schema,
       c.oid AS table_id,
       c.relname::text AS "table",
       'N'::text AS encoded,
       'AUTO(EVEN)'::text AS diststyle,
       NULL::text AS sortkey1,
       0::int AS max_varchar,
       NULL::char(32) AS sortkey1_enc,
       0::int AS sortkey_num,
       (pg_relation_size(c.oid) / 1048576)::bigint AS size,
       0::numeric(10,4) AS pct_used,
       0::bigint AS empty,
       0::numeric(5,2) AS unsorted,
       0::numeric(5,2) AS stats_off,
       c.reltuples::numeric(38,0) AS tbl_rows,
       NULL::numeric(19,2) AS skew_sortkey1,
       NULL::numeric(19,2) AS skew_rows,
       c.reltuples::numeric(38,0) AS estimated_visible_rows,
       NULL::text AS risk_event,
       NULL::text AS vacuum_sort_benefit,
       NULL::timestamp AS create_time
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.reltuples > 0;
CREATE SCHEMA IF NOT EXISTS mc_redshift_nostats;
CREATE OR REPLACE VIEW mc_redshift_nostats.svv_tables AS SELECT * FROM mc_redshift_catalog.svv_tables;
CREATE OR REPLACE VIEW mc_redshift_nostats.svv_columns AS SELECT * FROM mc_redshift_catalog.svv_columns;
"#;

/// `url` (a `postgres://` URL) as a `redshift://` URL with `search_path`.
fn redshift_url(url: &str, search_path: Option<&str>) -> String {
    let (_, rest) = url.split_once("://").unwrap();
    let mut out = format!("redshift://{rest}");
    if let Some(path) = search_path {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(&format!("search_path={path}"));
    }
    out
}

/// A Redshift connector over the emulated catalog, plus a fresh schema dropped at the end.
type Fixture = conformance::Fixture<RedshiftConnector>;

impl conformance::SchemaBackend for RedshiftConnector {
    async fn setup(schema: &str) -> Option<(Self, String)> {
        let base_url = service_url("MC_TEST_POSTGRES_URL", "Redshift (emulated catalog)")?;
        let conn = RedshiftConnector::from_url(&redshift_url(
            &base_url,
            Some("mc_redshift_catalog,public"),
        ))
        .unwrap();
        conn.exec(EMULATED_CATALOG.to_string()).await;
        conn.exec(format!("CREATE SCHEMA {schema}")).await;
        Some((conn, base_url))
    }

    fn open(url: &str) -> Self {
        RedshiftConnector::from_url(&redshift_url(url, None)).unwrap()
    }

    conformance::pool_exec_and_close!();

    fn drop_sql(schema: &str) -> String {
        format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {schema} CASCADE")
    }
}

impl Fixture {
    /// Airline tables with comments, a composite primary key and a foreign key.
    async fn airline_tables(&self) {
        self.exec(
            "CREATE TABLE $S.carriers (code varchar(2) PRIMARY KEY, name varchar(40) NOT NULL);
             COMMENT ON TABLE $S.carriers IS 'Airlines';
             COMMENT ON COLUMN $S.carriers.name IS 'Full name';
             CREATE TABLE $S.legs (id int, seq int, carrier varchar(2) REFERENCES $S.carriers(code),
                                   fare numeric(10,2), PRIMARY KEY (id, seq));
             CREATE VIEW $S.v_legs AS SELECT id, fare FROM $S.legs;
             INSERT INTO $S.carriers VALUES ('AA', 'American'), ('UA', 'United');
             ANALYZE $S.carriers;",
        )
        .await;
    }
}

#[tokio::test]
async fn redshift_passes_the_conformance_suite() {
    let Some(fx) = Fixture::new().await else {
        return;
    };
    let s = fx.schema.clone();
    for sql in airline_sql(Some(&s)) {
        fx.exec(&sql).await;
    }
    // Types Redshift has (no bytea, uuid, json or arrays there).
    let types = vec![
        case("boolean", "true", DataType::Boolean, "true"),
        case("smallint", "-2", DataType::Int16, "-2"),
        case("integer", "40000", DataType::Int32, "40000"),
        case("bigint", "9000000000", DataType::Int64, "9000000000"),
        case("real", "1.5", DataType::Float32, "1.5"),
        case("double precision", "2.25", DataType::Float64, "2.25"),
        case(
            "numeric(12,3)",
            "123456789.125",
            DataType::Decimal128(12, 3),
            "123456789.125",
        ),
        case("varchar(10)", "'vc'", DataType::Utf8, "vc"),
        case("char(3)", "'ab'", DataType::Utf8, "ab "),
        case("date", "'2013-01-02'", DataType::Date32, "2013-01-02"),
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
            "time",
            "'12:34:56.789'",
            DataType::Time64(TimeUnit::Microsecond),
            "12:34:56.789",
        ),
    ];
    for sql in type_table_sql(&format!("{s}.types"), "int", &types) {
        fx.exec(&sql).await;
    }
    Backend::airline(
        &fx.conn,
        Some(&s),
        format!("{s}.types"),
        types,
        "SELECT g FROM generate_series(1, 20000) g",
        "SELECT pg_sleep(5)",
    )
    .run_all()
    .await;
    fx.drop_schema().await;
}

#[tokio::test]
async fn redshift_introspects_through_the_svv_views() {
    let Some(fx) = Fixture::new().await else {
        return;
    };
    let s = fx.schema.clone();
    let c = &fx.conn;
    assert_eq!(c.info().dialect, Dialect::Redshift);
    assert_eq!(c.info().backend, "redshift");
    assert!(c.info().capabilities.cancel && c.info().capabilities.read_only_transactions);
    c.test_connection().await.unwrap();
    fx.airline_tables().await;
    fx.exec("CREATE TABLE $S.empty_t (x int)").await;

    let tables = c.list_tables().await.unwrap();
    for t in ["carriers", "legs", "v_legs", "empty_t"] {
        assert!(
            tables.contains(&TableRef::qualified(&s, t)),
            "{t}: {tables:?}"
        );
    }
    assert!(!tables.iter().any(|t| matches!(
        t.schema.as_deref(),
        Some("pg_catalog" | "information_schema")
    )));

    let carriers = c
        .table_schema(&TableRef::qualified(&s, "carriers"))
        .await
        .unwrap();
    assert_eq!(carriers.comment.as_deref(), Some("Airlines"));
    assert_eq!(carriers.primary_key, vec!["code"]);
    assert_eq!(carriers.columns[0].data_type, "character varying(2)");
    assert_eq!(carriers.columns[1].comment.as_deref(), Some("Full name"));
    assert!(!carriers.columns[1].nullable);
    assert!(
        !carriers.columns[0].nullable,
        "a primary key column is NOT NULL"
    );
    // estimated_visible_rows of svv_table_info.
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
    assert!(legs.columns[3].nullable);
    // svv_table_info lists no empty table: the estimate is unknown, not a guess.
    let empty = c
        .table_schema(&TableRef::qualified(&s, "empty_t"))
        .await
        .unwrap();
    assert_eq!(empty.row_estimate, None);
    let view = c
        .table_schema(&TableRef::qualified(&s, "v_legs"))
        .await
        .unwrap();
    assert_eq!(view.kind, TableKind::View);
    assert_eq!(view.columns.len(), 2);
    // Unqualified names mean `public`.
    let err = c
        .table_schema(&TableRef::bare("mc_no_such_table"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("public.mc_no_such_table"), "{err}");

    // The SQL really reads the svv views: without them the catalog queries fail.
    let plain = RedshiftConnector::from_url(&redshift_url(&fx.url, None)).unwrap();
    let err = plain.list_tables().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryFailed);
    assert!(err.to_string().contains("svv_tables"), "{err}");

    // svv_table_info is superuser-only by default: without it tables are still described.
    let no_stats =
        RedshiftConnector::from_url(&redshift_url(&fx.url, Some("mc_redshift_nostats,public")))
            .unwrap();
    let t = no_stats
        .table_schema(&TableRef::qualified(&s, "carriers"))
        .await
        .unwrap();
    assert_eq!(t.row_estimate, None);
    assert_eq!(t.primary_key, vec!["code"]);
    assert_eq!(t.columns.len(), 2);

    // connect() knows the scheme.
    let via_connect =
        metricchat_connectors::connect(&redshift_url(&fx.url, Some("mc_redshift_catalog,public")))
            .unwrap();
    assert_eq!(via_connect.info().dialect, Dialect::Redshift);
    let all = via_connect.catalog().await.unwrap();
    let ours: Vec<_> = all
        .iter()
        .filter(|t| t.table.schema.as_deref() == Some(s.as_str()))
        .collect();
    assert_eq!(ours.len(), 4, "{ours:?}");
    fx.drop_schema().await;
}

#[tokio::test]
async fn redshift_connection_errors_name_the_cause() {
    let Some(base) = service_url("MC_TEST_POSTGRES_URL", "Redshift (emulated catalog)") else {
        return;
    };
    // Nothing listens on port 1.
    let down =
        RedshiftConnector::from_url("redshift://u@127.0.0.1:1/dev?connect_timeout=2").unwrap();
    let err = down.test_connection().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot reach Redshift at 127.0.0.1:1"),
        "{err}"
    );
    // A database that does not exist.
    let mut u = url::Url::parse(&redshift_url(&base, None)).unwrap();
    u.set_path("/mc_no_such_db");
    let err = RedshiftConnector::from_url(u.as_str())
        .unwrap()
        .test_connection()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
}

#[tokio::test]
async fn redshift_refuses_a_superuser_unless_allowed() {
    let Some(fx) = Fixture::new().await else {
        return;
    };
    let sup: bool =
        sqlx::query_scalar("SELECT usesuper FROM pg_catalog.pg_user WHERE usename = current_user")
            .fetch_one(fx.conn.pool())
            .await
            .unwrap();
    if !sup {
        eprintln!("\n*** SKIPPED: MC_TEST_POSTGRES_URL is no superuser; nothing to refuse ***\n");
        fx.drop_schema().await;
        return;
    }
    let raw = service_url_as_is("MC_TEST_POSTGRES_URL", "Redshift (emulated catalog)").unwrap();
    let path = Some("mc_redshift_catalog,public");
    let su = RedshiftConnector::from_url(&redshift_url(&raw, path)).unwrap();
    let Err(err) = su.query("SELECT 1 AS one", QueryOptions::default()).await else {
        panic!("a superuser ran a query");
    };
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err:?}");
    let Error::PrivilegedLogin {
        privileges, hint, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(privileges, &["superuser"]);
    assert!(
        hint.contains("CREATE USER metricchat_reader PASSWORD"),
        "{hint}"
    );
    // Introspection is the connector's own and runs on any login.
    assert!(!su.list_tables().await.unwrap().is_empty());
    // The fixture's connection is opted in.
    let one = collect_stream(
        fx.conn
            .query("SELECT 1 AS one", QueryOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(one.batches[0].num_rows(), 1);

    // A user that is no superuser runs queries without opting in.
    let user = unique_name("mc_rs_reader");
    fx.exec(&format!("CREATE ROLE {user} LOGIN")).await;
    let mut u = url::Url::parse(&redshift_url(&raw, path)).unwrap();
    u.set_username(&user).unwrap();
    u.set_password(None).unwrap();
    let reader = RedshiftConnector::from_url(u.as_str()).unwrap();
    let one = collect_stream(
        reader
            .query("SELECT 1 AS one", QueryOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(one.batches[0].num_rows(), 1);
    reader.pool().close().await;
    fx.exec(&format!("DROP ROLE {user}")).await;
    fx.drop_schema().await;
}
