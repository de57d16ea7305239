//! Faults with the real servers (issue 18, item 5): a PostgreSQL backend terminated from another
//! session (`pg_terminate_backend`) and a MariaDB connection killed (`KILL CONNECTION`), while a
//! statement sleeps, while rows stream, and while the connection idles in the pool. Each time
//! the caller gets a typed error (never a silently truncated result, never a hang), the pool
//! drops the dead connection, and the next queries work.
//!
//! Run: `cargo test --workspace --features metricchat/all-but-duckdb --test it -- faults::`
//! (needs `MC_TEST_POSTGRES_URL` / `MC_TEST_MYSQL_URL`; SKIPPED without them, failing on CI).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod common {
    use std::future::Future;
    use std::time::Duration;

    use metricchat_core::connector::{Connector, QueryData, QueryOptions, collect_stream};
    use metricchat_core::error::{Error, ErrorKind};

    /// How long a killed query may take to report its error (scaled by `MC_TEST_TIME_FACTOR`):
    /// generous, the point is "not hung".
    pub const REPORT_WITHIN: Duration = Duration::from_secs(20);

    /// Runs `sql` and collects every batch.
    pub async fn collect<C: Connector>(conn: &C, sql: &str) -> Result<QueryData, Error> {
        collect_stream(conn.query(sql, QueryOptions::default()).await?).await
    }

    /// Polls `find` (the engine's session id of the statement) until it answers.
    pub async fn wait_for<F, Fut>(what: &str, mut find: F) -> u64
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<u64>>,
    {
        let start = std::time::Instant::now();
        loop {
            if let Some(id) = find().await {
                return id;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{what} never showed up at the server"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The error a killed statement must end with: typed as a failed query (a connection or
    /// query error, retryable or not), never a success, a cancel or a panic.
    pub fn assert_killed(result: Result<QueryData, Error>, what: &str) {
        match result {
            Ok(data) => panic!(
                "{what}: a killed statement came back as a success with {} rows",
                data.batches.iter().map(|b| b.num_rows()).sum::<usize>()
            ),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::QueryFailed, "{what}: {e:?}");
                // The session ended: a connection error (retryable on another connection),
                // never a SQL error the agent would ask the model to rewrite.
                assert!(matches!(e, Error::Connection { .. }), "{what}: {e:?}");
                assert!(e.is_retryable(), "{what}: {e:?}");
                let text = e.to_string();
                assert!(!text.is_empty(), "{what}: empty message");
            }
        }
    }

    /// After a kill the connector keeps working: sequential and concurrent queries all succeed.
    pub async fn assert_recovers<C: Connector>(conn: &C, what: &str) {
        for i in 0..5 {
            let data = collect(conn, &format!("SELECT {i} AS n"))
                .await
                .unwrap_or_else(|e| panic!("{what}: query {i} after the kill failed: {e}"));
            assert_eq!(data.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        }
        let all = futures::future::join_all((0..4).map(|_| collect(conn, "SELECT 1 AS one"))).await;
        for (i, r) in all.into_iter().enumerate() {
            r.unwrap_or_else(|e| panic!("{what}: concurrent query {i} after the kill failed: {e}"));
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::time::Duration;

    use metricchat_connectors::postgres::PostgresConnector;
    use sqlx::Row;

    use super::common::*;
    use crate::conformance::{service_url, unique_name};

    fn connector() -> Option<PostgresConnector> {
        let url = service_url("MC_TEST_POSTGRES_URL", "PostgreSQL")?;
        Some(PostgresConnector::from_url(&url).unwrap())
    }

    /// The backend pid running a statement that contains `marker`.
    async fn backend_of(admin: &sqlx::PgPool, marker: &str) -> Option<u64> {
        let row = sqlx::query(
            "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() \
             AND query LIKE '%' || $1 || '%' AND query NOT LIKE '%pg_stat_activity%'",
        )
        .bind(marker)
        .fetch_optional(admin)
        .await
        .unwrap()?;
        u64::try_from(row.get::<i32, _>(0)).ok()
    }

    async fn terminate(admin: &sqlx::PgPool, pid: u64) {
        let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1::int)")
            .bind(i64::try_from(pid).unwrap())
            .fetch_one(admin)
            .await
            .unwrap();
        assert!(killed, "pg_terminate_backend({pid}) found no backend");
    }

    /// Terminates the backend of the statement marked `marker` once it runs, and returns what
    /// the query gave.
    async fn kill_while_running(
        conn: &PostgresConnector,
        admin: &sqlx::PgPool,
        sql: String,
        marker: &str,
    ) -> Result<metricchat_core::connector::QueryData, metricchat_core::error::Error> {
        let query = collect(conn, &sql);
        let kill = async {
            let pid = wait_for(marker, || backend_of(admin, marker)).await;
            terminate(admin, pid).await;
        };
        let (result, ()) = tokio::time::timeout(crate::time_limit(REPORT_WITHIN), async {
            tokio::join!(query, kill)
        })
        .await
        .expect("the killed query never reported (hung)");
        result
    }

    #[tokio::test]
    async fn postgres_backend_terminated_mid_sleep_is_a_typed_error_and_the_pool_recovers() {
        let Some(conn) = connector() else { return };
        let admin = conn.pool().clone();
        let marker = unique_name("mc_fault");
        let result = kill_while_running(
            &conn,
            &admin,
            format!("SELECT pg_sleep(30) AS {marker}"),
            &marker,
        )
        .await;
        assert_killed(result, "pg_terminate_backend during pg_sleep");
        assert_recovers(&conn, "postgres after a terminated sleep").await;
    }

    #[tokio::test]
    async fn postgres_backend_terminated_while_rows_stream_is_never_a_truncated_success() {
        let Some(conn) = connector() else { return };
        let admin = conn.pool().clone();
        let marker = unique_name("mc_fault");
        // Rows trickle out (a sleep per 1,000 rows), so the kill lands mid-stream.
        let sql = format!(
            "SELECT g AS {marker}, CASE WHEN g % 1000 = 0 THEN pg_sleep(0.05)::text END AS s \
             FROM generate_series(1, 400000) g"
        );
        let result = kill_while_running(&conn, &admin, sql, &marker).await;
        assert_killed(result, "pg_terminate_backend while streaming");
        assert_recovers(&conn, "postgres after a terminated stream").await;
    }

    #[tokio::test]
    async fn postgres_idle_pooled_connections_terminated_are_replaced() {
        let Some(conn) = connector() else { return };
        // Three connections at once (each query holds one for a moment), then idle in the pool.
        let pids = futures::future::join_all((0..3).map(|_| {
            collect(
                &conn,
                "SELECT pg_backend_pid() AS pid, pg_sleep(0.3)::text AS s",
            )
        }))
        .await;
        let pids: Vec<i32> = pids
            .into_iter()
            .map(|r| {
                let data = r.unwrap();
                let col = data.batches[0].column(0).clone();
                let col = arrow::compute::cast(&col, &arrow::datatypes::DataType::Int32).unwrap();
                col.as_any()
                    .downcast_ref::<arrow::array::Int32Array>()
                    .unwrap()
                    .value(0)
            })
            .collect();
        assert!(
            conn.pool().num_idle() > 0,
            "the pool kept no idle connection"
        );
        let admin = connector().unwrap();
        for pid in &pids {
            let _ = sqlx::query("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .execute(admin.pool())
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_recovers(&conn, "postgres after its idle connections were terminated").await;
        admin.pool().close().await;
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use metricchat_connectors::mysql::MySqlConnector;
    use sqlx::Row;

    use super::common::*;
    use crate::conformance::{service_url, unique_name};

    fn connector() -> Option<MySqlConnector> {
        let url = service_url("MC_TEST_MYSQL_URL", "MySQL/MariaDB")?;
        Some(MySqlConnector::from_url(&url).unwrap())
    }

    /// The connection id running a statement that contains `marker`.
    async fn connection_of(admin: &sqlx::MySqlPool, marker: &str) -> Option<u64> {
        let row = sqlx::query(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE CONCAT('%', ?, '%') \
             AND INFO NOT LIKE '%PROCESSLIST%' AND ID <> CONNECTION_ID()",
        )
        .bind(marker)
        .fetch_optional(admin)
        .await
        .unwrap()?;
        u64::try_from(row.get::<i64, _>(0)).ok()
    }

    async fn kill_while_running(
        conn: &MySqlConnector,
        admin: &sqlx::MySqlPool,
        sql: String,
        marker: &str,
    ) -> Result<metricchat_core::connector::QueryData, metricchat_core::error::Error> {
        let query = collect(conn, &sql);
        let kill = async {
            let id = wait_for(marker, || connection_of(admin, marker)).await;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL CONNECTION {id}")))
                .execute(admin)
                .await
                .unwrap();
        };
        let (result, ()) = tokio::time::timeout(crate::time_limit(REPORT_WITHIN), async {
            tokio::join!(query, kill)
        })
        .await
        .expect("the killed query never reported (hung)");
        result
    }

    #[tokio::test]
    async fn mariadb_kill_connection_mid_sleep_is_a_typed_error_and_the_pool_recovers() {
        let Some(conn) = connector() else { return };
        let admin = conn.pool().clone();
        let marker = unique_name("mc_fault");
        let result = kill_while_running(
            &conn,
            &admin,
            format!("SELECT SLEEP(30) AS {marker}"),
            &marker,
        )
        .await;
        assert_killed(result, "KILL CONNECTION during SLEEP");
        assert_recovers(&conn, "mariadb after a killed sleep").await;
    }

    #[tokio::test]
    async fn mariadb_kill_connection_while_rows_stream_is_never_a_truncated_success() {
        let Some(conn) = connector() else { return };
        let admin = conn.pool().clone();
        let marker = unique_name("mc_fault");
        // A recursive CTE of 300,000 rows with a short sleep every 1,000: the kill lands
        // while rows stream.
        let sql = format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 300000) \
             SELECT n AS {marker}, IF(n % 1000 = 0, SLEEP(0.05), 0) AS s FROM g"
        );
        let result = kill_while_running(&conn, &admin, sql, &marker).await;
        assert_killed(result, "KILL CONNECTION while streaming");
        assert_recovers(&conn, "mariadb after a killed stream").await;
    }
}
