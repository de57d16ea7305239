//! Snowflake connector against the fake SQL API v2 server of metricchat-testkit.
#![cfg(feature = "snowflake")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use arrow::array::{
    Array, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    StringArray, Time64NanosecondArray, TimestampMicrosecondArray, TimestampNanosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use metricchat_connectors::snowflake::{SnowflakeConfig, SnowflakeConnector};
use metricchat_core::connector::{
    Connector, Dialect, QueryOptions, TableKind, TableRef, collect_stream,
};
use metricchat_core::error::{Error, ErrorKind};
use metricchat_testkit::snowflake::{FakeSnowflake, FakeSnowflakeConfig, FakeStatement};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

async fn fake() -> FakeSnowflake {
    FakeSnowflake::start(FakeSnowflakeConfig {
        account: "XY12345".into(),
        user: "ANALYST".into(),
        public_key_pem: std::fs::read_to_string(fixture("test_rsa_key.pub")).unwrap(),
        oauth_token: Some("oauth-secret".into()),
    })
    .await
}

/// A key-pair config pointing at the fake (the region part of the account is not in the JWT).
fn config(fake: &FakeSnowflake) -> SnowflakeConfig {
    let url = format!(
        "snowflake://xy12345.eu-west-1/SALES/PUBLIC?warehouse=WH&role=READER&user=analyst\
         &private_key_path={}&base_url={}",
        fixture("test_rsa_key.p8").display(),
        fake.base_url()
    );
    let mut c = SnowflakeConfig::from_url(&url).unwrap();
    c.poll_interval_ms = 20;
    c.retry_base_delay_ms = 5;
    c
}

fn connector(fake: &FakeSnowflake) -> SnowflakeConnector {
    SnowflakeConnector::new(config(fake)).unwrap()
}

fn col(name: &str, kind: &str, precision: u32, scale: i64) -> Value {
    json!({"name": name, "type": kind, "precision": precision, "scale": scale, "nullable": true,
           "length": null, "byteLength": null, "database": "SALES", "schema": "PUBLIC", "table": "T"})
}

fn int_rows(n: usize) -> Vec<Vec<Option<String>>> {
    (0..n).map(|i| vec![Some(i.to_string())]).collect()
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
    let get = |i: usize| b.column(i).clone();
    assert_eq!(
        get(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0),
        42
    );
    let amount = get(1);
    let amount = amount.as_any().downcast_ref::<Decimal128Array>().unwrap();
    assert_eq!(amount.value(0), -123_456);
    assert_eq!(amount.value_as_string(0), "-1234.56");
    let big = get(2);
    let big = big.as_any().downcast_ref::<Decimal128Array>().unwrap();
    assert_eq!(big.value(0), 12_345_678_901_234_567_890_123);
    assert_eq!(
        get(3)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(0),
        0.25
    );
    assert_eq!(
        get(4)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0),
        "ünïcode"
    );
    assert!(
        get(5)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap()
            .value(0)
    );
    let d = get(6);
    let d = d.as_any().downcast_ref::<Date32Array>().unwrap();
    assert_eq!(d.value_as_date(0).unwrap().to_string(), "2024-01-01");
    let t = get(7);
    assert_eq!(
        t.as_any()
            .downcast_ref::<Time64NanosecondArray>()
            .unwrap()
            .value(0),
        45_296_123_456_789
    );
    let ntz = get(8);
    assert_eq!(
        ntz.as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap()
            .value(0),
        1_704_067_200_123_456_789
    );
    let ltz = get(9);
    assert_eq!(
        ltz.as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap()
            .value(0),
        1_704_067_200_123_000
    );
    let tz = get(10);
    assert_eq!(
        tz.as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap()
            .value(0),
        1_704_067_200_000_001
    );
    assert_eq!(
        get(11)
            .as_any()
            .downcast_ref::<BinaryArray>()
            .unwrap()
            .value(0),
        b"Hello"
    );
    assert_eq!(
        get(12)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0),
        "{\n  \"a\": 1\n}"
    );
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
    fake.on(
        "FROM numbers",
        FakeStatement {
            row_type: vec![col("N", "fixed", 18, 0)],
            rows: int_rows(10),
            ..FakeStatement::default()
        }
        .partitioned(3),
    );
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
    c.jwt_lifetime_secs = 2;
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
    let fake = FakeSnowflake::start(FakeSnowflakeConfig {
        account: "XY12345".into(),
        user: "SOMEONE_ELSE".into(),
        public_key_pem: std::fs::read_to_string(fixture("test_rsa_key.pub")).unwrap(),
        oauth_token: Some("oauth-secret".into()),
    })
    .await;
    fake.on(
        "SELECT",
        FakeStatement::rows(vec![col("ONE", "fixed", 1, 0)], vec![vec![Some("1")]]),
    );
    let err = connector(&fake).test_connection().await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
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
    let err = SnowflakeConnector::new(c)
        .unwrap()
        .test_connection()
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);

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

    let err = sf
        .query("SELECT * FROM glacial", QueryOptions::default())
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");

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
    let err = SnowflakeConnector::new(c)
        .unwrap()
        .test_connection()
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
}

#[tokio::test]
async fn timeout_and_cancel_stop_the_statement_at_the_engine() {
    let fake = fake().await;
    fake.on("FROM forever", FakeStatement::never_finishes());
    let sf = connector(&fake);
    let started = std::time::Instant::now();
    let err = sf
        .query(
            "SELECT * FROM forever",
            QueryOptions::default().with_timeout(Some(Duration::from_millis(300))),
        )
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        fake.cancelled().len(),
        1,
        "the cancel request reached the server"
    );
    let body = &statements(&fake)[0].body;
    assert_eq!(
        body["timeout"], 1,
        "the engine's own limit is the query's, rounded up"
    );

    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        trigger.cancel();
    });
    let err = sf
        .query(
            "SELECT * FROM forever",
            QueryOptions::default().with_cancel(token),
        )
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert_eq!(fake.cancelled().len(), 2);
}

#[tokio::test]
async fn introspection_is_one_query_each() {
    let fake = fake().await;
    fake.on(
        "'NOPE'",
        FakeStatement::rows(vec![col("C", "text", 0, 0)], vec![]),
    );
    fake.on(
        "INFORMATION_SCHEMA.COLUMNS",
        FakeStatement::rows(
            [
                "TABLE_SCHEMA",
                "TABLE_NAME",
                "COLUMN_NAME",
                "DATA_TYPE",
                "NUMERIC_PRECISION",
                "NUMERIC_SCALE",
                "IS_NULLABLE",
                "COMMENT",
                "TABLE_TYPE",
                "COMMENT",
                "ROW_COUNT",
            ]
            .iter()
            .map(|n| col(n, "text", 0, 0))
            .collect(),
            vec![
                vec![
                    Some("PUBLIC"),
                    Some("ORDERS"),
                    Some("ID"),
                    Some("NUMBER"),
                    Some("38"),
                    Some("0"),
                    Some("NO"),
                    None,
                    Some("BASE TABLE"),
                    Some("All orders"),
                    Some("1200"),
                ],
                vec![
                    Some("PUBLIC"),
                    Some("ORDERS"),
                    Some("NOTE"),
                    Some("TEXT"),
                    None,
                    None,
                    Some("YES"),
                    Some("free text"),
                    Some("BASE TABLE"),
                    Some("All orders"),
                    Some("1200"),
                ],
            ],
        ),
    );
    fake.on(
        "INFORMATION_SCHEMA.TABLES",
        FakeStatement::rows(
            vec![
                col("TABLE_SCHEMA", "text", 0, 0),
                col("TABLE_NAME", "text", 0, 0),
                col("TABLE_TYPE", "text", 0, 0),
            ],
            vec![
                vec![Some("PUBLIC"), Some("CUSTOMERS"), Some("BASE TABLE")],
                vec![Some("PUBLIC"), Some("ORDERS"), Some("BASE TABLE")],
            ],
        ),
    );
    let sf = connector(&fake);
    let tables = sf.list_tables().await.unwrap();
    assert_eq!(
        tables,
        vec![
            TableRef::qualified("PUBLIC", "CUSTOMERS"),
            TableRef::qualified("PUBLIC", "ORDERS")
        ]
    );
    let sql = statements(&fake)[0].body["statement"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        sql.contains("SALES.INFORMATION_SCHEMA.TABLES") && sql.contains("TABLE_SCHEMA = 'PUBLIC'"),
        "{sql}"
    );

    let schema = sf.table_schema(&TableRef::bare("orders")).await.unwrap();
    assert_eq!(schema.table, TableRef::qualified("PUBLIC", "ORDERS"));
    assert_eq!(schema.kind, TableKind::Table);
    assert_eq!(schema.comment.as_deref(), Some("All orders"));
    assert_eq!(schema.row_estimate, Some(1200));
    assert_eq!(schema.columns.len(), 2);
    assert_eq!(schema.columns[0].data_type, "NUMBER(38,0)");
    assert!(!schema.columns[0].nullable);
    assert_eq!(schema.columns[1].comment.as_deref(), Some("free text"));
    assert_eq!(statements(&fake).len(), 2, "one query per call");

    let err = sf
        .table_schema(&TableRef::bare("nope"))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
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
