//! A fresh schema (a database on MySQL) on a test server for one test, dropped when the fixture
//! goes: at the end of a passing test and while a failing one unwinds, so a failure leaves no
//! tables behind.

use std::future::Future;

use super::unique_name;

/// What a client/server backend needs to give its tests a schema of their own.
pub trait SchemaBackend: Sized + Send + Sync + 'static {
    /// Creates `schema` on the test server and opens the connector the test uses on it, with
    /// the URL an admin connection opens to drop it again; `None` (after the SKIPPED banner)
    /// when the server's URL is unset.
    fn setup(schema: &str) -> impl Future<Output = Option<(Self, String)>> + Send;
    /// Opens a connection from `url` for statements the connector refuses (DDL, writes).
    fn open(url: &str) -> Self;
    /// Runs `sql` (several statements allowed) outside the connector's read-only checks.
    fn exec(&self, sql: String) -> impl Future<Output = ()> + Send;
    /// Closes the connection's pool.
    fn close(&self) -> impl Future<Output = ()> + Send;
    /// The statements that drop `schema`, under a short lock timeout.
    fn drop_sql(schema: &str) -> String;
}

/// A connector plus a fresh schema, dropped with the fixture.
pub struct Fixture<C: SchemaBackend> {
    /// The connector under test.
    pub conn: C,
    /// The schema's (or database's) name; `$S` in [`Fixture::exec`] statements.
    pub schema: String,
    /// The URL the admin connection that drops the schema opens.
    pub url: String,
}

impl<C: SchemaBackend> Fixture<C> {
    /// A fixture on a new schema, or `None` when the server's URL is unset.
    pub async fn new() -> Option<Self> {
        let schema = unique_name("mc_test");
        let (conn, url) = C::setup(&schema).await?;
        Some(Self { conn, schema, url })
    }

    /// Runs `sql` with `$S` replaced by the schema name.
    pub async fn exec(&self, sql: &str) {
        self.conn.exec(sql.replace("$S", &self.schema)).await;
    }

    /// Drops the schema now (dropping the fixture does the same).
    pub async fn drop_schema(self) {
        self.conn.close().await;
        drop(self);
    }
}

impl<C: SchemaBackend> Drop for Fixture<C> {
    fn drop(&mut self) {
        // Drop may run on the test's runtime (or while it unwinds): clean up on a thread with a
        // runtime and a connection of its own.
        let url = self.url.clone();
        let sql = C::drop_sql(&self.schema);
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let admin = C::open(&url);
                admin.exec(sql).await;
                admin.close().await;
            });
        });
        if cleanup.join().is_err() && !std::thread::panicking() {
            panic!("could not drop test schema `{}`", self.schema);
        }
    }
}

/// The `exec` and `close` of a [`SchemaBackend`] whose connector has a sqlx `pool()`.
macro_rules! pool_exec_and_close {
    () => {
        async fn exec(&self, sql: String) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(self.pool())
                .await
                .unwrap();
        }

        async fn close(&self) {
            self.pool().close().await;
        }
    };
}
pub(crate) use pool_exec_and_close;
