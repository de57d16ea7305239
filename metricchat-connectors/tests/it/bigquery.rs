//! BigQuery connector against the fake REST v2 + OAuth server of metricchat-testkit.
#![cfg(feature = "bigquery")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::rest;

use std::time::Duration;

use arrow::array::{
    Array, ArrowNativeTypeOp, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    Decimal256Array, Float64Array, Int64Array, ListArray, StringArray, StructArray,
    Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit, i256};
use metricchat_connectors::bigquery::{BigQueryConfig, BigQueryConnector};
use metricchat_core::connector::{Connector, Dialect, QueryOptions, TableRef, collect_stream};
use metricchat_core::error::{Error, ErrorKind};
use metricchat_testkit::RecordedRequest;
use metricchat_testkit::bigquery::{FakeBigQuery, FakeBigQueryConfig, FakeQuery};
use serde_json::{Value, json};

const EMAIL: &str = "reader@my-project.iam.gserviceaccount.com";

/// BigQuery's spelling of the shared shop catalog.
const BIGQUERY: rest::Spelling = rest::Spelling {
    upper: false,
    integer: "INT64",
    money: "NUMERIC",
    text: "STRING",
};

async fn fake_with(email: &str, lifetime: Duration) -> FakeBigQuery {
    FakeBigQuery::start(FakeBigQueryConfig {
        project: "my-project".into(),
        client_email: email.into(),
        public_key_pem: rest::public_key_pem(),
        token_lifetime: lifetime,
        static_token: Some("static-token".into()),
    })
    .await
}

async fn fake() -> FakeBigQuery {
    fake_with(EMAIL, Duration::from_secs(3600)).await
}

/// A service-account key file naming the fake's token URI, and a config using it.
struct Setup {
    _dir: tempfile::TempDir,
    config: BigQueryConfig,
}

fn setup(fake: &FakeBigQuery) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let key = json!({
        "type": "service_account",
        "project_id": "my-project",
        "private_key_id": "test-key-1",
        "private_key": rest::private_key_pem(),
        "client_email": EMAIL,
        "client_id": "1",
        "token_uri": fake.token_uri(),
    });
    let path = dir.path().join("sa.json");
    std::fs::write(&path, key.to_string()).unwrap();
    let url = format!(
        "bigquery://my-project/sales?location=EU&credentials_path={}&api_base={}",
        path.display(),
        fake.api_base()
    );
    let mut config = BigQueryConfig::from_url(&url).unwrap();
    config.retry_base_delay = Duration::from_millis(5);
    Setup { _dir: dir, config }
}

fn row(values: &[Value]) -> Value {
    json!({"f": values.iter().map(|v| json!({"v": v})).collect::<Vec<_>>()})
}

fn queries(fake: &FakeBigQuery) -> Vec<RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/queries"))
        .collect()
}

fn gets(fake: &FakeBigQuery) -> Vec<RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect()
}

#[tokio::test]
async fn types_round_trip_and_request_shape() {
    let fake = fake().await;
    let fields = vec![
        json!({"name": "id", "type": "INTEGER", "mode": "REQUIRED"}),
        json!({"name": "ratio", "type": "FLOAT"}),
        json!({"name": "amount", "type": "NUMERIC"}),
        json!({"name": "price", "type": "NUMERIC", "precision": "10", "scale": "2"}),
        json!({"name": "huge", "type": "BIGNUMERIC"}),
        json!({"name": "flag", "type": "BOOLEAN"}),
        json!({"name": "name", "type": "STRING"}),
        json!({"name": "blob", "type": "BYTES"}),
        json!({"name": "day", "type": "DATE"}),
        json!({"name": "at", "type": "TIME"}),
        json!({"name": "local", "type": "DATETIME"}),
        json!({"name": "ts", "type": "TIMESTAMP"}),
        json!({"name": "doc", "type": "JSON"}),
        json!({"name": "geo", "type": "GEOGRAPHY"}),
        json!({"name": "tags", "type": "INTEGER", "mode": "REPEATED"}),
        json!({"name": "who", "type": "RECORD", "fields": [
            {"name": "a", "type": "INTEGER"}, {"name": "b", "type": "STRING"}]}),
    ];
    let full = row(&[
        json!("42"),
        json!("NaN"),
        json!("123.456789012"),
        json!("-12.50"),
        json!("-1.5"),
        json!("true"),
        json!("ünïcode"),
        json!("SGVsbG8="),
        json!("2024-01-31"),
        json!("12:34:56.123456"),
        json!("2024-01-31T12:34:56.5"),
        json!("1.7000000001234561E9"),
        json!("{\"a\":1}"),
        json!("POINT(1 2)"),
        json!([{"v": "1"}, {"v": "2"}]),
        json!({"f": [{"v": "7"}, {"v": "x"}]}),
    ]);
    let mut nulls = vec![json!("43")];
    nulls.extend(std::iter::repeat_n(Value::Null, 13));
    nulls.push(json!([]));
    nulls.push(Value::Null);
    fake.on(
        "FROM typed",
        FakeQuery::rows(fields, vec![full, row(&nulls)]),
    );
    let s = setup(&fake);
    let bq = BigQueryConnector::new(s.config.clone()).unwrap();
    assert_eq!(bq.info().dialect, Dialect::BigQuery);
    assert!(bq.info().capabilities.dry_run_cost);
    let data = collect_stream(
        bq.query("SELECT * FROM typed", QueryOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(data.num_rows(), 2);
    let types: Vec<DataType> = data
        .schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(types[0], DataType::Int64);
    assert!(!data.schema.field(0).is_nullable(), "REQUIRED");
    assert_eq!(types[2], DataType::Decimal128(38, 9));
    assert_eq!(types[3], DataType::Decimal128(10, 2));
    assert_eq!(types[4], DataType::Decimal256(76, 38));
    assert_eq!(types[10], DataType::Timestamp(TimeUnit::Microsecond, None));
    assert_eq!(
        types[11],
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert!(matches!(&types[14], DataType::List(f) if f.data_type() == &DataType::Int64));
    assert!(matches!(&types[15], DataType::Struct(f) if f.len() == 2));

    let b = &data.batches[0];
    assert_eq!(rest::col::<Int64Array>(b, 0).value(0), 42);
    assert!(rest::col::<Float64Array>(b, 1).value(0).is_nan());
    assert_eq!(rest::col::<Decimal128Array>(b, 2).value(0), 123_456_789_012);
    assert_eq!(
        rest::col::<Decimal128Array>(b, 3).value_as_string(0),
        "-12.50"
    );
    assert_eq!(
        rest::col::<Decimal256Array>(b, 4).value(0),
        i256::from_i128(-15)
            .checked_mul(i256::from_i128(10).pow_wrapping(37))
            .unwrap()
    );
    assert!(rest::col::<BooleanArray>(b, 5).value(0));
    assert_eq!(rest::col::<StringArray>(b, 6).value(0), "ünïcode");
    assert_eq!(rest::col::<BinaryArray>(b, 7).value(0), b"Hello");
    assert_eq!(
        rest::col::<Date32Array>(b, 8)
            .value_as_date(0)
            .unwrap()
            .to_string(),
        "2024-01-31"
    );
    assert_eq!(
        rest::col::<Time64MicrosecondArray>(b, 9).value(0),
        45_296_123_456
    );
    assert_eq!(
        rest::col::<TimestampMicrosecondArray>(b, 10).value(0),
        1_706_704_496_500_000
    );
    assert_eq!(
        rest::col::<TimestampMicrosecondArray>(b, 11).value(0),
        1_700_000_000_123_456,
        "float seconds parsed exactly"
    );
    assert_eq!(rest::col::<StringArray>(b, 12).value(0), "{\"a\":1}");
    assert_eq!(rest::col::<StringArray>(b, 13).value(0), "POINT(1 2)");
    let tags = rest::col::<ListArray>(b, 14);
    assert_eq!(
        tags.value(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .values(),
        &[1, 2]
    );
    assert_eq!(tags.value(1).len(), 0, "an empty array");
    let who = rest::col::<StructArray>(b, 15);
    assert_eq!(
        who.column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0),
        7
    );
    assert_eq!(
        who.column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0),
        "x"
    );
    assert!(who.is_null(1), "a NULL record");
    for i in 1..14 {
        assert!(b.column(i).is_null(1), "column {i} keeps NULL");
    }

    // The token exchange and the query, as Google documents them.
    let token_req = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/token")
        .unwrap();
    let form = token_req.body.as_str().unwrap().to_string();
    assert!(
        form.starts_with(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=ey"
        ),
        "{form}"
    );
    let q = &queries(&fake)[0];
    assert_eq!(q.path, "/bigquery/v2/projects/my-project/queries");
    assert_eq!(q.headers["authorization"], "Bearer ya29.fake-1");
    let body = &q.body;
    assert_eq!(body["useLegacySql"], false);
    assert_eq!(body["location"], "EU");
    assert_eq!(body["dryRun"], false);
    assert_eq!(body["labels"]["client"], "metricchat");
    assert_eq!(
        body["defaultDataset"],
        json!({"projectId": "my-project", "datasetId": "sales"})
    );
    assert_eq!(body["maxResults"], 10_000);
    assert!(body["timeoutMs"].as_u64().unwrap() <= 10_000);
    assert_eq!(body["requestId"].as_str().unwrap().len(), 36);
    assert!(body.get("maximumBytesBilled").is_none());
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}

fn numbers(n: usize) -> FakeQuery {
    FakeQuery::rows(
        vec![json!({"name": "n", "type": "INT64"})],
        (0..n).map(|i| row(&[json!(i.to_string())])).collect(),
    )
}

#[tokio::test]
async fn pages_follow_page_tokens_up_to_the_row_cap() {
    let fake = fake().await;
    fake.on("FROM numbers", numbers(25));
    let mut s = setup(&fake);
    s.config.page_size = 10;
    let bq = BigQueryConnector::new(s.config.clone()).unwrap();
    let data = collect_stream(
        bq.query(
            "SELECT n FROM numbers",
            QueryOptions::default().with_max_rows(None),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    let values: Vec<i64> = data
        .batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(values, (0..25).collect::<Vec<i64>>());
    let pages: Vec<String> = gets(&fake)
        .iter()
        .map(|r| r.query.clone().unwrap())
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(
        pages[0].contains("location=EU") && pages[0].contains("pageToken=page-10"),
        "{pages:?}"
    );
    assert!(pages[1].contains("pageToken=page-20"));

    // Cap 15: the first page and one more; the third is never asked for.
    let before = gets(&fake).len();
    let data = collect_stream(
        bq.query(
            "SELECT n FROM numbers",
            QueryOptions::default().with_max_rows(Some(15)),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(data.num_rows(), 15);
    assert_eq!(gets(&fake).len() - before, 1);
    // A cap below the page size shrinks the page.
    collect_stream(
        bq.query(
            "SELECT n FROM numbers",
            QueryOptions::default().with_max_rows(Some(3)),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(queries(&fake).last().unwrap().body["maxResults"], 3);
}

#[tokio::test]
async fn incomplete_jobs_are_polled() {
    let fake = fake().await;
    fake.on("FROM slow", numbers(3).pending(3));
    let bq = BigQueryConnector::new(setup(&fake).config).unwrap();
    let data = collect_stream(
        bq.query("SELECT n FROM slow", QueryOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(data.num_rows(), 3);
    let polls = gets(&fake);
    assert_eq!(polls.len(), 3, "{polls:?}");
    assert!(
        polls
            .iter()
            .all(|r| r.path == "/bigquery/v2/projects/my-project/queries/job_fake_1")
    );
    assert!(polls[0].query.as_deref().unwrap().contains("timeoutMs="));
}

#[tokio::test]
async fn access_tokens_are_cached_and_refreshed() {
    let fake = fake_with(EMAIL, Duration::from_secs(1)).await;
    fake.on("SELECT 1", numbers(1));
    let bq = BigQueryConnector::new(setup(&fake).config).unwrap();
    bq.test_connection().await.unwrap();
    collect_stream(bq.query("SELECT 1", QueryOptions::default()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(fake.tokens_issued(), 1, "cached while fresh");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    collect_stream(bq.query("SELECT 1", QueryOptions::default()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(fake.tokens_issued(), 2, "fetched again before expiry");
    assert!(
        fake.auth_failures().is_empty(),
        "{:?}",
        fake.auth_failures()
    );

    // A token the server no longer accepts (401) is replaced at once and the call repeated.
    fake.revoke_tokens();
    collect_stream(bq.query("SELECT 1", QueryOptions::default()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(fake.tokens_issued(), 3);
    assert_eq!(fake.auth_failures().len(), 1, "{:?}", fake.auth_failures());

    // The token endpoint refuses a key it does not know: Unauthorized.
    let other = fake_with(
        "someone@else.iam.gserviceaccount.com",
        Duration::from_secs(60),
    )
    .await;
    other.on("SELECT 1", numbers(1));
    let err = rest::error_of(
        BigQueryConnector::new(setup(&other).config)
            .unwrap()
            .test_connection()
            .await,
        ErrorKind::Unauthorized,
    );
    assert!(err.to_string().contains("Invalid JWT"), "{err}");

    // A plain bearer token: used as is; a wrong one is Unauthorized.
    let mut c = setup(&fake).config;
    c.token = Some("static-token".to_string().into());
    BigQueryConnector::new(c)
        .unwrap()
        .test_connection()
        .await
        .unwrap();
    let mut c = setup(&fake).config;
    c.token = Some("stale".to_string().into());
    let err = rest::error_of(
        BigQueryConnector::new(c).unwrap().test_connection().await,
        ErrorKind::Unauthorized,
    );
    assert!(
        err.to_string()
            .contains("invalid authentication credentials"),
        "{err}"
    );
}

/// Per-user credentials: a user's OAuth access token runs the job as that user — the job, its
/// result pages — and the connection's own service-account token is never fetched for it; a
/// token Google refuses is `Unauthorized` without the token in the error; a role is refused
/// (BigQuery has none per query) and nothing is sent.
#[tokio::test]
async fn a_query_runs_with_the_users_token() {
    use metricchat_core::connector::Credentials;
    let fake = fake().await;
    fake.on("FROM numbers", numbers(25));
    let mut s = setup(&fake);
    s.config.page_size = 10;
    let bq = BigQueryConnector::new(s.config.clone()).unwrap();
    assert!(bq.info().capabilities.run_as_token);
    assert!(!bq.info().capabilities.run_as_role);
    let as_user = |token: &str| {
        QueryOptions::default()
            .with_max_rows(None)
            .with_run_as(Some(Credentials::token(token)))
    };
    let data = collect_stream(
        bq.query("SELECT n FROM numbers", as_user("static-token"))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(data.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 25);
    let sent = fake.requests();
    assert!(sent.len() >= 3, "the job and two pages: {sent:?}");
    for r in &sent {
        assert_eq!(
            r.headers["authorization"], "Bearer static-token",
            "{} {}",
            r.method, r.path
        );
    }
    assert_eq!(
        fake.tokens_issued(),
        0,
        "the login's token was never needed"
    );

    let err = rest::error_of(
        bq.query("SELECT n FROM numbers", as_user("s3cr3t-user-token"))
            .await
            .map(|_| ()),
        ErrorKind::Unauthorized,
    );
    assert!(!format!("{err:?}").contains("s3cr3t"), "{err:?}");
    assert_eq!(
        fake.tokens_issued(),
        0,
        "a refused user token is not replaced by the login's"
    );

    let before = fake.requests().len();
    let err = bq
        .query(
            "SELECT n FROM numbers",
            QueryOptions::default().with_run_as(Some(Credentials::role("analyst"))),
        )
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err:?}");
    assert_eq!(fake.requests().len(), before, "nothing sent");
}

#[tokio::test]
async fn error_bodies_and_the_bytes_cap_are_typed() {
    let fake = fake().await;
    fake.on(
        "FROM nowhere",
        FakeQuery::failing(
            400,
            "INVALID_ARGUMENT",
            "invalidQuery",
            "Unrecognized name: nowhere at [1:15]",
        ),
    );
    fake.on(
        "FROM secret",
        FakeQuery::failing(
            403,
            "PERMISSION_DENIED",
            "accessDenied",
            "Access Denied: Table my-project:sales.secret",
        ),
    );
    fake.on("FROM big", numbers(1).bytes(5_000_000_000));
    fake.on("SELECT 1", numbers(1));
    let mut s = setup(&fake);
    s.config.maximum_bytes_billed = Some(1_000_000);
    let bq = BigQueryConnector::new(s.config.clone()).unwrap();

    let err = bq
        .query("SELECT x FROM nowhere", QueryOptions::default())
        .await
        .err()
        .unwrap();
    match &err {
        Error::Query { code, message, .. } => {
            assert_eq!(code.as_deref(), Some("invalidQuery"));
            assert!(message.contains("Unrecognized name"), "{message}");
        }
        other => panic!("expected a query error, got {other:?}"),
    }
    rest::error_of(
        bq.query("SELECT x FROM secret", QueryOptions::default())
            .await,
        ErrorKind::Unauthorized,
    );

    // The dry run reports the bytes; the real run is refused by the cap BigQuery enforces.
    assert_eq!(
        bq.estimate_bytes("SELECT * FROM big").await.unwrap(),
        5_000_000_000
    );
    let dry = queries(&fake).pop().unwrap();
    assert_eq!(dry.body["dryRun"], true);
    // The same dry run is the connector's cost estimate.
    let estimate = bq.estimate("SELECT * FROM big").await.unwrap().unwrap();
    assert_eq!(estimate.bytes, Some(5_000_000_000));
    assert_eq!(estimate.source, "bigquery dry run");
    assert!(bq.info().capabilities.estimate);
    assert_eq!(queries(&fake).pop().unwrap().body["dryRun"], true);
    let err = bq
        .query("SELECT * FROM big", QueryOptions::default())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::Query { code: Some(c), .. } if c == "bytesBilledLimitExceeded"),
        "{err:?}"
    );
    assert_eq!(
        queries(&fake).pop().unwrap().body["maximumBytesBilled"],
        "1000000"
    );

    // 503 and 429 are retried; the retried request keeps its requestId, so one job runs.
    let jobs = fake.jobs_started();
    fake.fail_next(1, 503);
    fake.fail_next(1, 429);
    let before = queries(&fake).len();
    collect_stream(bq.query("SELECT 1", QueryOptions::default()).await.unwrap())
        .await
        .unwrap();
    let sent = queries(&fake)[before..].to_vec();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].body["requestId"], sent[2].body["requestId"]);
    assert_eq!(fake.jobs_started(), jobs + 1);

    let mut c = s.config.clone();
    c.max_retries = 1;
    fake.fail_next(2, 429);
    rest::error_of(
        BigQueryConnector::new(c).unwrap().test_connection().await,
        ErrorKind::RateLimited,
    );
}

#[tokio::test]
async fn timeout_and_cancel_cancel_the_job() {
    let fake = fake().await;
    fake.on("FROM forever", FakeQuery::never_finishes());
    fake.on("SELECT 1", numbers(1));
    let mut s = setup(&fake);
    s.config.wait = Duration::from_millis(50);
    let bq = BigQueryConnector::new(s.config.clone()).unwrap();
    rest::check_timeout_and_cancel(&bq, "SELECT * FROM forever", "SELECT 1").await;
    assert_eq!(fake.cancelled(), ["job_fake_1", "job_fake_2"]);
    let cancel = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/cancel"))
        .unwrap();
    assert_eq!(
        cancel.path,
        "/bigquery/v2/projects/my-project/jobs/job_fake_1/cancel"
    );
    assert_eq!(cancel.query.as_deref(), Some("location=EU"));
}

#[tokio::test]
async fn row_cap_truncates_across_pages() {
    let fake = fake().await;
    fake.on("FROM numbers", numbers(25));
    let mut s = setup(&fake);
    s.config.page_size = 10;
    let bq = BigQueryConnector::new(s.config.clone()).unwrap();
    rest::check_row_cap(&bq, "SELECT n FROM numbers", 25).await;
}

#[tokio::test]
async fn catalog_is_two_queries_and_matches_table_schema() {
    let fake = fake().await;
    let model = rest::shop("sales", &BIGQUERY);
    let mut other = rest::shop("staging", &BIGQUERY);
    other.truncate(2);
    let mut everything = model.clone();
    everything.extend(other);
    fake.set_catalog(everything.clone());

    let bq = BigQueryConnector::new(setup(&fake).config).unwrap();
    let before = queries(&fake).len();
    let catalog = bq.catalog().await.unwrap();
    let sent: Vec<String> = queries(&fake)[before..]
        .iter()
        .map(|r| r.body["query"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    for view in [
        "COLUMNS",
        "TABLES",
        "COLUMN_FIELD_PATHS",
        "TABLE_OPTIONS",
        "KEY_COLUMN_USAGE",
        "TABLE_CONSTRAINTS",
        "CONSTRAINT_COLUMN_USAGE",
    ] {
        let qualified = format!("`my-project.sales`.INFORMATION_SCHEMA.{view} ");
        assert!(
            sent.iter().any(|s| s.contains(&qualified)),
            "{view}: {sent:#?}"
        );
    }
    assert!(
        sent.iter()
            .any(|s| s.contains("`my-project.sales.__TABLES__`"))
    );
    assert_eq!(catalog.len(), model.len(), "the dataset only");
    let described = rest::check_catalog(&bq, &model).await;
    let customers = described
        .iter()
        .find(|t| t.table.name == "customers")
        .unwrap();
    assert_eq!(
        customers.comment.as_deref(),
        Some("People who \"order\""),
        "TABLE_OPTIONS literals are unquoted"
    );
    rest::check_missing_table(&bq, TableRef::bare("nope")).await;

    // Without a dataset: the region's views, every dataset, row counts from TABLE_STORAGE and
    // no keys (the key views need a dataset qualifier).
    let mut s = setup(&fake);
    s.config.dataset = None;
    let region = BigQueryConnector::new(s.config.clone()).unwrap();
    let before = queries(&fake).len();
    let all = region.catalog().await.unwrap();
    let sent = queries(&fake)[before..].to_vec();
    assert_eq!(sent.len(), 1);
    let sql = sent[0].body["query"].as_str().unwrap();
    assert!(
        sql.contains("`my-project`.`region-eu`.INFORMATION_SCHEMA.COLUMNS")
            && sql.contains("TABLE_STORAGE"),
        "{sql}"
    );
    assert_eq!(all.len(), everything.len());
    assert!(
        all.iter()
            .all(|t| t.primary_key.is_empty() && t.foreign_keys.is_empty())
    );
    let listed = region.list_tables().await.unwrap();
    assert_eq!(listed.len(), everything.len());
    let sql = queries(&fake).pop().unwrap().body["query"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        sql.contains("`my-project`.`region-eu`.INFORMATION_SCHEMA.TABLES"),
        "{sql}"
    );
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}

#[tokio::test]
async fn keys_are_left_out_when_the_key_views_are_denied() {
    let fake = fake().await;
    fake.on(
        "KEY_COLUMN_USAGE",
        FakeQuery::failing(
            403,
            "PERMISSION_DENIED",
            "accessDenied",
            "Access Denied: Table my-project:sales.INFORMATION_SCHEMA.KEY_COLUMN_USAGE",
        ),
    );
    let model = rest::shop("sales", &BIGQUERY);
    fake.set_catalog(model.clone());
    let catalog = BigQueryConnector::new(setup(&fake).config)
        .unwrap()
        .catalog()
        .await
        .unwrap();
    assert_eq!(catalog.len(), model.len());
    assert!(catalog.iter().all(|t| t.primary_key.is_empty()));
    assert_eq!(catalog[0].columns.len(), model[0].columns.len());
}

#[tokio::test]
async fn connect_dispatches_bigquery_urls() {
    let fake = fake().await;
    let url = format!(
        "bigquery://my-project/sales?token=static-token&api_base={}",
        fake.api_base()
    );
    let conn = metricchat_connectors::connect(&url).unwrap();
    assert_eq!(conn.info().backend, "bigquery");
    assert_eq!(conn.info().name, "sales");
    let err = metricchat_connectors::connect("bigquery://my-project")
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "no credentials: {err}");
}
