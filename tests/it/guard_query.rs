//! `SqlGuard::run`: SQL through the guard without an agent (the bindings' `conn.query`).

use metricchat::guard::{GuardConfig, SqlGuard};
use metricchat::{ErrorKind, QueryOptions, connectors};

#[tokio::test]
async fn runs_capped_refuses_writes_and_cancels() {
    let conn = connectors::flights_sample("flights").unwrap();
    let mut config = GuardConfig::default();
    config.max_rows = Some(3);
    let guard = SqlGuard::new(config);
    let sql = "SELECT carrier FROM airlines ORDER BY carrier";
    let data = guard.run(&conn, sql, None).await.unwrap();
    assert_eq!(data.num_rows(), 3);
    assert_eq!(data.schema.field(0).name(), "carrier");

    let err = guard
        .run(&conn, "DROP TABLE airlines", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");

    // A fresh token from the default options (this crate does not depend on tokio-util).
    let cancel = QueryOptions::default().cancel;
    cancel.cancel();
    let sql = "SELECT count(*) FROM flights a, flights b";
    let err = guard.run(&conn, sql, Some(cancel)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
}
