//! Snowflake connector against the fake SQL API v2 server of metricchat-testkit.
#![cfg(feature = "snowflake")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::rest;

use std::time::Duration;

use arrow::array::{
    Array, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    StringArray, Time64NanosecondArray, TimestampMicrosecondArray, TimestampNanosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use metricchat_connectors::snowflake::{SnowflakeConfig, SnowflakeConnector};
use metricchat_core::connector::{Connector, Dialect, QueryOptions, TableRef, collect_stream};
use metricchat_core::error::{Error, ErrorKind};
use metricchat_testkit::snowflake::{FakeSnowflake, FakeSnowflakeConfig, FakeStatement};
use rest::fixture;
use serde_json::{Value, json};

async fn fake_for(user: &str) -> FakeSnowflake {
    FakeSnowflake::start(FakeSnowflakeConfig {
        account: "XY12345".into(),
        user: user.into(),
        public_key_pem: rest::public_key_pem(),
        oauth_token: Some("oauth-secret".into()),
    })
    .await
}

async fn fake() -> FakeSnowflake {
    fake_for("ANALYST").await
}

/// Snowflake's spelling of the shared shop catalog.
const SNOWFLAKE: rest::Spelling = rest::Spelling {
    upper: true,
    integer: "NUMBER(38,0)",
    money: "NUMBER(12,2)",
    text: "TEXT",
};

/// A key-pair config pointing at the fake (the region part of the account is not in the JWT).
fn config(fake: &FakeSnowflake) -> SnowflakeConfig {
    let url = format!(
        "snowflake://xy12345.eu-west-1/SALES/PUBLIC?warehouse=WH&role=READER&user=analyst\
         &private_key_path={}&base_url={}",
        fixture("test_rsa_key.p8").display(),
        fake.base_url()
    );
    let mut c = SnowflakeConfig::from_url(&url).unwrap();
    c.poll_interval = Duration::from_millis(20);
    c.retry_base_delay = Duration::from_millis(5);
    c
}

fn connector(fake: &FakeSnowflake) -> SnowflakeConnector {
    SnowflakeConnector::new(config(fake)).unwrap()
}

fn col(name: &str, kind: &str, precision: u32, scale: i64) -> Value {
    json!({"name": name, "type": kind, "precision": precision, "scale": scale, "nullable": true,
           "length": null, "byteLength": null, "database": "SALES", "schema": "PUBLIC", "table": "T"})
}

/// `n` integers in partitions of three rows.
fn numbers(n: usize) -> FakeStatement {
    FakeStatement {
        row_type: vec![col("N", "fixed", 18, 0)],
        rows: (0..n).map(|i| vec![Some(i.to_string())]).collect(),
        ..FakeStatement::default()
    }
    .partitioned(3)
}

fn statements(fake: &FakeSnowflake) -> Vec<metricchat_testkit::RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v2/statements")
        .collect()
}

#[tokio::test]
async fn types_round_trip_and_request_shape() {
    let fake = fake().await;
    let row_type = vec![
        col("ID", "fixed", 18, 0),
        col("AMOUNT", "fixed", 12, 2),
        col("BIG", "fixed", 38, 0),
        col("RATIO", "real", 0, 0),
        col("NAME", "text", 0, 0),
        col("FLAG", "boolean", 0, 0),
        col("D", "date", 0, 0),
        col("T", "time", 0, 9),
        col("TS_NTZ", "timestamp_ntz", 0, 9),
        col("TS_LTZ", "timestamp_ltz", 0, 3),
        col("TS_TZ", "timestamp_tz", 0, 6),
        col("BIN", "binary", 0, 0),
        col("V", "variant", 0, 0),
    ];
    fake.on(
        "FROM typed",
        FakeStatement::rows(
            row_type,
            vec![
                vec![
                    Some("42"),
                    Some("-1234.56"),
                    Some("12345678901234567890123"),
                    Some("0.25"),
                    Some("ünïcode"),
                    Some("true"),
                    Some("19723"),
                    Some("45296.123456789"),
                    Some("1704067200.123456789"),
                    Some("1704067200.123"),
                    Some("1704067200.000001 1500"),
                    Some("48656c6c6f"),
                    Some("{\n  \"a\": 1\n}"),
                ],
                vec![None; 13],
            ],
        ),
    );
    let sf = connector(&fake);
    assert_eq!(sf.info().dialect, Dialect::Snowflake);
    assert!(sf.info().capabilities.cancel);
    let data = collect_stream(
        sf.query("SELECT * FROM typed", QueryOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(data.num_rows(), 2);
    let s = data.schema.clone();
    let types: Vec<DataType> = s.fields().iter().map(|f| f.data_type().clone()).collect();
    assert_eq!(
        types,
        vec![
            DataType::Int64,
            DataType::Decimal128(12, 2),
            DataType::Decimal128(38, 0),
            DataType::Float64,
            DataType::Utf8,
            DataType::Boolean,
            DataType::Date32,
            DataType::Time64(TimeUnit::Nanosecond),
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::Binary,
            DataType::Utf8,
        ]
    );
    let b = &data.batches[0];
    assert_eq!(rest::col::<Int64Array>(b, 0).value(0), 42);
    let amount = rest::col::<Decimal128Array>(b, 1);
    assert_eq!(amount.value(0), -123_456);
    assert_eq!(amount.value_as_string(0), "-1234.56");
    assert_eq!(
        rest::col::<Decimal128Array>(b, 2).value(0),
        12_345_678_901_234_567_890_123
    );
    assert_eq!(rest::col::<Float64Array>(b, 3).value(0), 0.25);
    assert_eq!(rest::col::<StringArray>(b, 4).value(0), "ünïcode");
    assert!(rest::col::<BooleanArray>(b, 5).value(0));
    assert_eq!(
        rest::col::<Date32Array>(b, 6)
            .value_as_date(0)
            .unwrap()
            .to_string(),
        "2024-01-01"
    );
    assert_eq!(
        rest::col::<Time64NanosecondArray>(b, 7).value(0),
        45_296_123_456_789
    );
    assert_eq!(
        rest::col::<TimestampNanosecondArray>(b, 8).value(0),
        1_704_067_200_123_456_789
    );
    assert_eq!(
        rest::col::<TimestampMicrosecondArray>(b, 9).value(0),
        1_704_067_200_123_000
    );
    assert_eq!(
        rest::col::<TimestampMicrosecondArray>(b, 10).value(0),
        1_704_067_200_000_001,
        "timestamp_tz: the instant, whatever the row's offset"
    );
    assert_eq!(rest::col::<BinaryArray>(b, 11).value(0), b"Hello");
    assert_eq!(rest::col::<StringArray>(b, 12).value(0), "{\n  \"a\": 1\n}");
    for i in 0..13 {
        assert!(b.column(i).is_null(1), "column {i} keeps NULL");
    }

    let posts = statements(&fake);
    assert_eq!(posts.len(), 1);
    let req = &posts[0];
    assert_eq!(
        req.headers["x-snowflake-authorization-token-type"],
        "KEYPAIR_JWT"
    );
    assert!(req.headers["authorization"].starts_with("Bearer ey"));
    let query = req.query.clone().unwrap();
    let request_id = query.strip_prefix("requestId=").unwrap();
    assert_eq!(request_id.len(), 36, "a UUID: {query}");
    let body = &req.body;
    assert_eq!(body["statement"], "SELECT * FROM typed");
    assert_eq!(body["database"], "SALES");
    assert_eq!(body["schema"], "PUBLIC");
    assert_eq!(body["warehouse"], "WH");
    assert_eq!(body["role"], "READER");
    assert_eq!(body["parameters"]["MULTI_STATEMENT_COUNT"], "1");
    assert_eq!(body["parameters"]["QUERY_TAG"], "metricchat");
    let timeout = body["timeout"].as_u64().unwrap();
    assert!((59..=60).contains(&timeout), "{timeout}");
    assert!(fake.unexpected().is_empty());
    assert!(
        fake.auth_failures().is_empty(),
        "{:?}",
        fake.auth_failures()
    );
}

#[tokio::test]
async fn partitions_are_fetched_gzipped_and_only_as_far_as_the_row_cap() {
    let fake = fake().await;
    fake.on("FROM numbers", numbers(10));
    let sf = connector(&fake);
    let data = collect_stream(
        sf.query("SELECT n FROM numbers", QueryOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let values: Vec<i64> = data
        .batches
        .iter()
        .flat_map(|b| {
            let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            a.values().to_vec()
        })
        .collect();
    assert_eq!(
        values,
        (0..10).collect::<Vec<i64>>(),
        "all partitions, in order"
    );
    let partitions = |fake: &FakeSnowflake| -> Vec<String> {
        fake.requests()
            .into_iter()
            .filter_map(|r| r.query.filter(|q| q.starts_with("partition=")))
            .collect()
    };
    let mut seen = partitions(&fake);
    seen.sort();
    assert_eq!(seen, ["partition=1", "partition=2", "partition=3"]);

    // Row cap 4: partitions 0 (3 rows) and 1 (3 rows) suffice.
    let before = partitions(&fake).len();
    let data = collect_stream(
        sf.query(
            "SELECT n FROM numbers",
            QueryOptions::default().with_max_rows(Some(4)),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(data.num_rows(), 4);
    assert_eq!(partitions(&fake)[before..], ["partition=1"]);
}

#[tokio::test]
async fn running_statements_are_polled_until_done() {
    let fake = fake().await;
    fake.on(
        "FROM slow",
        FakeStatement::rows(vec![col("X", "text", 0, 0)], vec![vec![Some("done")]]).pending(3),
    );
    let sf = connector(&fake);
    let data = collect_stream(
        sf.query("SELECT x FROM slow", QueryOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(data.num_rows(), 1);
    let polls: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/v2/statements/"))
        .collect();
    // Two 202 polls, then the result (the POST itself answered the first 202).
    assert_eq!(polls.len(), 3, "{polls:?}");
    // Polled at the statementStatusUrl the 202 named.
    let request_id = statements(&fake)[0].query.clone().unwrap();
    assert!(
        polls.iter().all(|r| r.query.as_ref() == Some(&request_id)),
        "{polls:?}"
    );
}

#[tokio::test]
async fn jwt_is_signed_anew_before_it_expires() {
    let fake = fake().await;
    fake.on(
        "SELECT 1",
        FakeStatement::rows(vec![col("ONE", "fixed", 1, 0)], vec![vec![Some("1")]]),
    );
    let mut c = config(&fake);
    c.jwt_lifetime = Duration::from_secs(2);
    let sf = SnowflakeConnector::new(c).unwrap();
    sf.test_connection().await.unwrap();
    sf.test_connection().await.unwrap();
    assert_eq!(fake.tokens().len(), 1, "the JWT is reused while fresh");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    sf.test_connection().await.unwrap();
    assert_eq!(
        fake.tokens().len(),
        2,
        "a new JWT after the old one expired"
    );
    assert!(
        fake.auth_failures().is_empty(),
        "{:?}",
        fake.auth_failures()
    );
}

#[tokio::test]
async fn rejected_credentials_are_unauthorized() {
    let fake = fake_for("SOMEONE_ELSE").await;
    fake.on(
        "SELECT",
        FakeStatement::rows(vec![col("ONE", "fixed", 1, 0)], vec![vec![Some("1")]]),
    );
    let err = rest::error_of(
        connector(&fake).test_connection().await,
        ErrorKind::Unauthorized,
    );
    assert!(err.to_string().contains("390144"), "{err}");
    // A 401 makes the client sign a fresh JWT and try once more, not loop.
    assert_eq!(statements(&fake).len(), 2);

    // OAuth: the token as given, with its token type.
    let mut c = config(&fake);
    c.token = Some("oauth-secret".to_string().into());
    let sf = SnowflakeConnector::new(c).unwrap();
    sf.test_connection().await.unwrap();
    let last = statements(&fake).pop().unwrap();
    assert_eq!(
        last.headers["x-snowflake-authorization-token-type"],
        "OAUTH"
    );
    assert_eq!(last.headers["authorization"], "Bearer oauth-secret");
    let mut c = config(&fake);
    c.token = Some("wrong".to_string().into());
    rest::error_of(
        SnowflakeConnector::new(c).unwrap().test_connection().await,
        ErrorKind::Unauthorized,
    );

    // Config errors are typed too.
    let mut c = config(&fake);
    c.private_key_path = Some(fixture("missing.p8"));
    assert!(matches!(
        SnowflakeConnector::new(c),
        Err(Error::Config { .. })
    ));
    let mut c = config(&fake);
    c.private_key_path = Some(fixture("test_rsa_key.pub"));
    assert!(matches!(
        SnowflakeConnector::new(c),
        Err(Error::Config { .. })
    ));
}

#[tokio::test]
async fn error_bodies_become_typed_errors() {
    let fake = fake().await;
    fake.on(
        "FROM missing",
        FakeStatement::failing(
            422,
            "002003",
            "SQL compilation error:\nObject 'MISSING' does not exist or not authorized.",
            "42S02",
        ),
    );
    fake.on(
        "FROM glacial",
        FakeStatement::failing(
            422,
            "000630",
            "Statement reached its statement or warehouse timeout of 1 second(s) and was canceled.",
            "57014",
        ),
    );
    fake.on(
        "SELECT 1",
        FakeStatement::rows(vec![col("ONE", "fixed", 1, 0)], vec![vec![Some("1")]]),
    );
    let sf = connector(&fake);

    let err = sf
        .query("SELECT * FROM missing", QueryOptions::default())
        .await
        .err()
        .unwrap();
    match &err {
        Error::Query { code, message, .. } => {
            assert_eq!(code.as_deref(), Some("42S02"));
            assert!(
                message.contains("does not exist") && message.contains("002003"),
                "{message}"
            );
        }
        other => panic!("expected a query error, got {other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::QueryFailed);

    rest::error_of(
        sf.query("SELECT * FROM glacial", QueryOptions::default())
            .await,
        ErrorKind::Timeout,
    );

    // Snowflake itself refuses a second statement (MULTI_STATEMENT_COUNT=1).
    let err = sf
        .query("SELECT 1; SELECT 1", QueryOptions::default())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::Query { code: Some(c), .. } if c == "0A000"),
        "{err:?}"
    );

    // 429 and 503 are retried with the same requestId and retry=true; the statement runs once.
    let runs = fake.executions();
    fake.fail_next(1, 429);
    fake.fail_next(1, 503);
    let before = statements(&fake).len();
    sf.test_connection().await.unwrap();
    let posts = statements(&fake)[before..].to_vec();
    assert_eq!(posts.len(), 3);
    let id = posts[0].query.clone().unwrap();
    assert!(!id.contains("retry"));
    for p in &posts[1..] {
        assert_eq!(p.query.clone().unwrap(), format!("{id}&retry=true"));
    }
    assert_eq!(fake.executions(), runs + 1);

    // Still throttled after the retries: RateLimited.
    let mut c = config(&fake);
    c.max_retries = 1;
    fake.fail_next(2, 429);
    rest::error_of(
        SnowflakeConnector::new(c).unwrap().test_connection().await,
        ErrorKind::RateLimited,
    );
}

#[tokio::test]
async fn timeout_and_cancel_stop_the_statement_at_the_engine() {
    let fake = fake().await;
    fake.on("FROM forever", FakeStatement::never_finishes());
    fake.on(
        "SELECT 1",
        FakeStatement::rows(vec![col("ONE", "fixed", 1, 0)], vec![vec![Some("1")]]),
    );
    let sf = connector(&fake);
    rest::check_timeout_and_cancel(&sf, "SELECT * FROM forever", "SELECT 1").await;
    assert_eq!(
        fake.cancelled().len(),
        2,
        "both cancel requests reached the server"
    );
    let body = &statements(&fake)[0].body;
    assert_eq!(
        body["timeout"], 1,
        "the engine's own limit is the query's, rounded up"
    );
}

#[tokio::test]
async fn row_cap_truncates_across_partitions() {
    let fake = fake().await;
    fake.on("FROM numbers", numbers(10));
    rest::check_row_cap(&connector(&fake), "SELECT n FROM numbers", 10).await;
}

#[tokio::test]
async fn timestamp_tz_keeps_the_instant_of_every_row() {
    let fake = fake().await;
    // The same instant written at UTC+01:00, UTC-05:30 and UTC: one value in Arrow.
    fake.on(
        "FROM zoned",
        FakeStatement::rows(
            vec![col("TS", "timestamp_tz", 0, 9)],
            vec![
                vec![Some("1704067200.123456789 1500")],
                vec![Some("1704067200.123456789 1110")],
                vec![Some("1704067200.123456789 1440")],
                vec![Some("-1.500000000 1440")],
            ],
        ),
    );
    fake.on(
        "FROM broken",
        FakeStatement::rows(
            vec![col("TS", "timestamp_tz", 0, 9)],
            vec![vec![Some("1704067200.0 9999")]],
        ),
    );
    let sf = connector(&fake);
    let data = collect_stream(
        sf.query("SELECT ts FROM zoned", QueryOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        data.schema.field(0).data_type(),
        &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
    );
    let ts = rest::col::<TimestampNanosecondArray>(&data.batches[0], 0)
        .values()
        .to_vec();
    assert_eq!(
        ts,
        [
            1_704_067_200_123_456_789,
            1_704_067_200_123_456_789,
            1_704_067_200_123_456_789,
            -1_500_000_000
        ]
    );
    use metricchat_connectors::snowflake::timestamp_tz_offset_minutes;
    assert_eq!(timestamp_tz_offset_minutes("1704067200.1 1500"), Some(60));
    assert_eq!(timestamp_tz_offset_minutes("1704067200.1 1110"), Some(-330));
    assert_eq!(timestamp_tz_offset_minutes("1704067200.1"), None);

    let err = rest::error_of(
        sf.query("SELECT ts FROM broken", QueryOptions::default())
            .await,
        ErrorKind::QueryFailed,
    );
    assert!(err.to_string().contains("9999"), "{err}");
}

#[tokio::test]
async fn catalog_is_three_statements_and_matches_table_schema() {
    let fake = fake().await;
    let model = rest::shop("PUBLIC", &SNOWFLAKE);
    let mut other = rest::shop("STAGING", &SNOWFLAKE);
    other.truncate(1);
    let mut everything = model.clone();
    everything.extend(other.clone());
    fake.set_catalog("SALES", everything.clone());

    // The URL names schema PUBLIC: introspection stays inside it.
    let sf = connector(&fake);
    let before = statements(&fake).len();
    let catalog = sf.catalog().await.unwrap();
    let sent: Vec<String> = statements(&fake)[before..]
        .iter()
        .map(|r| r.body["statement"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert!(
        sent.iter()
            .any(|s| s.contains("SALES.INFORMATION_SCHEMA.COLUMNS")
                && s.contains("c.TABLE_SCHEMA = 'PUBLIC'")),
        "{sent:#?}"
    );
    assert!(sent.contains(&"SHOW PRIMARY KEYS IN SCHEMA SALES.PUBLIC".to_string()));
    assert!(sent.contains(&"SHOW IMPORTED KEYS IN SCHEMA SALES.PUBLIC".to_string()));
    assert_eq!(catalog.len(), model.len());
    rest::check_catalog(&sf, &model).await;
    let orders = sf.table_schema(&TableRef::bare("orders")).await.unwrap();
    assert_eq!(orders.table, TableRef::qualified("PUBLIC", "ORDERS"));
    assert_eq!(orders.columns[0].data_type, "NUMBER(38,0)");
    let last = statements(&fake)
        .iter()
        .rev()
        .take(2)
        .map(|r| r.body["statement"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert!(
        last.iter()
            .all(|s| s.ends_with("IN TABLE SALES.PUBLIC.ORDERS")),
        "{last:?}"
    );
    rest::check_missing_table(&sf, TableRef::bare("nope")).await;

    // Without a schema: the whole database, keys from SHOW … IN DATABASE.
    let mut c = config(&fake);
    c.schema = None;
    let whole = SnowflakeConnector::new(c).unwrap();
    rest::check_catalog(&whole, &everything).await;
    assert!(
        statements(&fake)
            .iter()
            .any(|r| r.body["statement"] == "SHOW IMPORTED KEYS IN DATABASE SALES")
    );
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}

#[tokio::test]
async fn keys_are_left_out_when_show_is_refused() {
    let fake = fake().await;
    fake.on(
        "SHOW PRIMARY KEYS",
        FakeStatement::failing(
            422,
            "003001",
            "SQL access control error: Insufficient privileges",
            "42501",
        ),
    );
    let model = rest::shop("PUBLIC", &SNOWFLAKE);
    fake.set_catalog("SALES", model.clone());
    let catalog = connector(&fake).catalog().await.unwrap();
    assert_eq!(catalog.len(), model.len());
    assert!(catalog.iter().all(|t| t.primary_key.is_empty()));
    assert!(
        catalog.iter().any(|t| !t.foreign_keys.is_empty()),
        "imported keys still come"
    );
}

#[tokio::test]
async fn connect_dispatches_snowflake_urls() {
    let fake = fake().await;
    let url = format!(
        "snowflake://xy12345/SALES/PUBLIC?user=analyst&private_key_path={}&base_url={}&name=wh",
        fixture("test_rsa_key.p8").display(),
        fake.base_url()
    );
    let conn = metricchat_connectors::connect(&url).unwrap();
    assert_eq!(conn.info().backend, "snowflake");
    assert_eq!(conn.info().name, "wh");
    let err = metricchat_connectors::connect("snowflake://xy12345/SALES")
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "no credentials: {err}");
}

/// Per-user credentials: the user's role replaces the connection's in the statement request;
/// a user's OAuth token replaces the connection's key-pair login on every request of that
/// statement (submit, polls, partitions), and a token Snowflake refuses is a typed
/// `Unauthorized` that never shows the token.
#[tokio::test]
async fn a_query_runs_as_the_users_role_or_token() {
    use metricchat_core::connector::Credentials;
    let fake = fake().await;
    fake.on("FROM t", numbers(2));
    let conn = connector(&fake);
    assert!(conn.info().capabilities.run_as_role);
    assert!(conn.info().capabilities.run_as_token);
    let opts = QueryOptions::default().with_run_as(Some(Credentials::role("ANALYST_EU")));
    collect_stream(conn.query("SELECT * FROM t", opts).await.unwrap())
        .await
        .unwrap();
    collect_stream(
        conn.query("SELECT * FROM t", QueryOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let roles: Vec<_> = statements(&fake)
        .iter()
        .map(|r| r.body["role"].clone())
        .collect();
    assert_eq!(roles, [json!("ANALYST_EU"), json!("READER")]);

    // The user's token (the fake accepts `oauth-secret`): seven rows in three partitions and
    // two 202 polls, every request of the statement under the user's token.
    fake.on(
        "FROM many",
        FakeStatement {
            polls: 2,
            ..numbers(7)
        },
    );
    let before = fake.requests().len();
    let user = Credentials::token("oauth-secret");
    let batches = collect_stream(
        conn.query(
            "SELECT * FROM many",
            QueryOptions::default().with_run_as(Some(user)),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        batches.batches.iter().map(|b| b.num_rows()).sum::<usize>(),
        7
    );
    let of_statement = &fake.requests()[before..];
    assert!(
        of_statement.len() >= 5,
        "submit, 2 polls, 2 partitions: {of_statement:?}"
    );
    for r in of_statement {
        assert_eq!(
            r.headers["authorization"], "Bearer oauth-secret",
            "{} {}",
            r.method, r.path
        );
        assert_eq!(r.headers["x-snowflake-authorization-token-type"], "OAUTH");
    }
    // A role and a token together: both apply.
    let both = Credentials::role("ANALYST_EU").with_token("oauth-secret");
    collect_stream(
        conn.query(
            "SELECT * FROM t",
            QueryOptions::default().with_run_as(Some(both)),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    let last = statements(&fake).pop().unwrap();
    assert_eq!(last.body["role"], json!("ANALYST_EU"));
    assert_eq!(last.headers["authorization"], "Bearer oauth-secret");

    let err = conn
        .query(
            "SELECT * FROM t",
            QueryOptions::default().with_run_as(Some(Credentials::token("s3cr3t"))),
        )
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err:?}");
    assert!(!format!("{err:?}").contains("s3cr3t"));
    assert!(!err.to_string().contains("s3cr3t"));
}

/// The cost estimate is `EXPLAIN USING JSON` of the statement: bytes and partitions from
/// `GlobalStats`, no rows (Snowflake's plan has none).
#[tokio::test]
async fn estimate_reads_explain_using_json() {
    let fake = fake().await;
    let plan = r#"{"GlobalStats": {"partitionsTotal": 40, "partitionsAssigned": 3,
        "bytesAssigned": 7340032}, "Operations": [[{"id": 0, "operation": "Result"}]]}"#;
    fake.on(
        "EXPLAIN USING JSON SELECT * FROM ORDERS",
        FakeStatement::rows(vec![col("content", "text", 0, 0)], vec![vec![Some(plan)]]),
    );
    let sf = connector(&fake);
    assert!(sf.info().capabilities.estimate);
    let e = sf.estimate("SELECT * FROM ORDERS").await.unwrap().unwrap();
    assert_eq!(e.bytes, Some(7_340_032));
    assert_eq!(e.rows, None);
    assert_eq!(e.source, "snowflake EXPLAIN (3 of 40 partitions)");
    let sent = statements(&fake).pop().unwrap();
    assert_eq!(
        sent.body["statement"],
        "EXPLAIN USING JSON SELECT * FROM ORDERS"
    );
}
