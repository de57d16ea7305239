//! Pieces shared by the sqlx and DuckDB connectors: the guarded result stream and small parsers.

use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use metricchat_core::connector::{RecordBatchStreamAdapter, SendableRecordBatchStream};
use metricchat_core::error::{Error, Result};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
/// Rows per Arrow batch.
pub(crate) const BATCH_ROWS: usize = 8192;

/// What the query task sends first: the result schema, or why the query never started.
pub(crate) type SchemaReply = oneshot::Sender<Result<SchemaRef>>;

/// Limits of one running query, shared by the engine task and the caller's stream.
#[derive(Clone)]
pub(crate) struct Limits {
    pub(crate) connector: String,
    pub(crate) deadline: Option<Instant>,
    pub(crate) timeout: Duration,
    pub(crate) cancel: CancellationToken,
    pub(crate) max_rows: Option<usize>,
}

impl Limits {
    pub(crate) fn timeout_error(&self) -> Error {
        Error::Timeout {
            operation: format!("query on `{}`", self.connector),
            after: self.timeout,
        }
    }

    /// Whether the deadline has passed.
    pub(crate) fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Sleeps until `deadline`, forever when there is none.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Waits for the engine task's schema, then returns a stream over its batches that enforces
/// cancel, deadline and row cap on the caller's side too (the task enforces them at the engine).
pub(crate) async fn finish_stream(
    schema: oneshot::Receiver<Result<SchemaRef>>,
    batches: mpsc::Receiver<Result<RecordBatch>>,
    limits: Limits,
) -> Result<SendableRecordBatchStream> {
    let schema = tokio::select! {
        biased;
        () = limits.cancel.cancelled() => return Err(Error::Cancelled),
        () = sleep_until(limits.deadline) => return Err(limits.timeout_error()),
        s = schema => s.map_err(|_| Error::Internal("query task ended without a schema".into()))??,
    };
    let state = StreamState {
        batches,
        remaining: limits.max_rows,
        limits,
    };
    let stream = futures::stream::unfold(Some(state), next_batch);
    Ok(Box::pin(RecordBatchStreamAdapter::new(
        schema,
        Box::pin(stream),
    )))
}

struct StreamState {
    batches: mpsc::Receiver<Result<RecordBatch>>,
    remaining: Option<usize>,
    limits: Limits,
}

async fn next_batch(
    state: Option<StreamState>,
) -> Option<(Result<RecordBatch>, Option<StreamState>)> {
    let mut st = state?;
    if st.remaining == Some(0) {
        return None;
    }
    let item = tokio::select! {
        biased;
        () = st.limits.cancel.cancelled() => Some(Err(Error::Cancelled)),
        () = sleep_until(st.limits.deadline) => Some(Err(st.limits.timeout_error())),
        item = st.batches.recv() => item,
    };
    match item? {
        Err(e) => Some((Err(e), None)),
        Ok(batch) => match st.remaining {
            Some(left) if batch.num_rows() >= left => Some((Ok(batch.slice(0, left)), None)),
            Some(left) => {
                st.remaining = Some(left - batch.num_rows());
                Some((Ok(batch), Some(st)))
            }
            None => Some((Ok(batch), Some(st))),
        },
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
/// A connection error with the driver cause.
pub(crate) fn connection_error(connector: &str, e: sqlx::Error) -> Error {
    let message = match &e {
        sqlx::Error::Io(io) => format!("cannot reach the database: {io}"),
        sqlx::Error::PoolTimedOut => "timed out waiting for a pooled connection".to_string(),
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    };
    Error::Connection {
        connector: connector.to_string(),
        message,
        source: Some(Box::new(e)),
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
/// A query error; database errors keep their code (SQLSTATE on PostgreSQL).
pub(crate) fn query_error(connector: &str, e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Database(db) => Error::Query {
            connector: connector.to_string(),
            message: db.message().to_string(),
            code: db.code().map(|c| c.into_owned()),
            source: Some(Box::new(sqlx::Error::Database(db))),
        },
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed) => connection_error(connector, e),
        other => Error::Query {
            connector: connector.to_string(),
            message: other.to_string(),
            code: None,
            source: Some(Box::new(other)),
        },
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
/// A value the Arrow conversion could not represent.
pub(crate) fn conversion_error(connector: &str, column: &str, message: String) -> Error {
    Error::Query {
        connector: connector.to_string(),
        message: format!("column `{column}`: {message}"),
        code: None,
        source: None,
    }
}

/// Pieces shared by the client/server connectors (PostgreSQL, Redshift, MySQL/MariaDB): URL
/// parsing, connection-error classification, decimal text, and the engine task's row pump.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) mod server {
    use std::future::Future;
    use std::str::FromStr;
    use std::time::Duration;

    use arrow::array::{ArrayRef, RecordBatch};
    use arrow::datatypes::SchemaRef;
    use futures::StreamExt;
    use futures::stream::BoxStream;
    use metricchat_core::connector::{
        ForeignKey, QueryOptions, SendableRecordBatchStream, TableRef, TableSchema,
    };
    use metricchat_core::error::{Error, Result};
    use sqlx::pool::PoolConnection;
    use tokio::sync::{mpsc, oneshot};
    use tokio::time::Instant;

    use super::{BATCH_ROWS, Limits, SchemaReply, finish_stream, sleep_until};

    /// The parts of a `scheme://user:password@host:port/database?key=value` URL, percent-decoded.
    #[derive(Debug, Default)]
    pub(crate) struct DbUrl {
        pub(crate) host: Option<String>,
        pub(crate) port: Option<u16>,
        pub(crate) user: Option<String>,
        pub(crate) password: Option<String>,
        pub(crate) database: Option<String>,
        pub(crate) params: Vec<(String, String)>,
    }

    impl DbUrl {
        /// Parses `url`, whose scheme must be one of `schemes`; `engine` names the backend in
        /// errors ("bad PostgreSQL URL: …").
        pub(crate) fn parse(url: &str, engine: &str, schemes: &[&str]) -> Result<Self> {
            let parsed = url::Url::parse(url).map_err(|e| bad_url(engine, e.to_string()))?;
            if !schemes.contains(&parsed.scheme()) {
                let expected: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
                return Err(bad_url(
                    engine,
                    format!(
                        "scheme `{}` is not {}",
                        parsed.scheme(),
                        expected.join(" or ")
                    ),
                ));
            }
            let decode = |s: &str| {
                url::form_urlencoded::parse(s.as_bytes())
                    .map(|(k, v)| format!("{k}{v}"))
                    .collect::<String>()
            };
            let db = parsed.path().trim_start_matches('/');
            Ok(Self {
                host: parsed
                    .host_str()
                    .filter(|h| !h.is_empty())
                    .map(|h| h.trim_matches(['[', ']']).to_string()),
                port: parsed.port(),
                user: Some(parsed.username())
                    .filter(|u| !u.is_empty())
                    .map(decode),
                password: parsed.password().map(decode),
                database: Some(db).filter(|d| !d.is_empty()).map(decode),
                params: parsed
                    .query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            })
        }
    }

    /// An [`Error::InvalidInput`] for a malformed connection URL.
    pub(crate) fn bad_url(engine: &str, message: impl std::fmt::Display) -> Error {
        Error::invalid_input(format!("bad {engine} URL: {message}"))
    }

    /// A numeric URL parameter.
    pub(crate) fn number_param<T: FromStr>(engine: &str, key: &str, value: &str) -> Result<T> {
        value
            .parse()
            .map_err(|_| bad_url(engine, format!("{key} `{value}` is not a valid number")))
    }

    /// What a failed connection attempt says about its cause, read from the engine's error code.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum ConnectCause {
        /// Wrong user name or password.
        Auth,
        /// The database in the URL does not exist.
        UnknownDatabase,
        /// The user may not use that database.
        DatabaseDenied,
        /// Anything else (network errors are recognised from the driver error itself).
        Other,
    }

    /// Where a connection goes, for error messages.
    pub(crate) struct Endpoint<'a> {
        /// "PostgreSQL", "Redshift", "MySQL/MariaDB".
        pub(crate) engine: &'a str,
        pub(crate) host: &'a str,
        pub(crate) port: u16,
        pub(crate) user: &'a str,
        pub(crate) database: Option<&'a str>,
        pub(crate) timeout: Duration,
    }

    /// A connection failure named by its cause: unreachable server ([`Error::Connection`]),
    /// failed authentication ([`Error::Connection`]) or unknown database ([`Error::NotFound`]).
    pub(crate) fn connect_error(
        name: &str,
        ep: &Endpoint<'_>,
        cause: ConnectCause,
        e: sqlx::Error,
    ) -> Error {
        let addr = format!("{}:{}", ep.host, ep.port);
        let db = ep.database.unwrap_or_default();
        let engine = ep.engine;
        let connection = |message: String, e: sqlx::Error| Error::Connection {
            connector: name.to_string(),
            message,
            source: Some(Box::new(e)),
        };
        let detail = match &e {
            sqlx::Error::Database(d) => d.message().to_string(),
            other => other.to_string(),
        };
        match cause {
            ConnectCause::Auth => {
                return connection(
                    format!(
                        "authentication failed for user `{}` at {addr}: {detail}; check the user \
                         name and password",
                        ep.user
                    ),
                    e,
                );
            }
            ConnectCause::UnknownDatabase => {
                return Error::NotFound {
                    what: "database",
                    name: format!(
                        "`{db}` on {addr} (the server knows no such database; check the URL's path)"
                    ),
                };
            }
            ConnectCause::DatabaseDenied => {
                return connection(
                    format!(
                        "user `{}` may not use database `{db}` at {addr}: {detail}",
                        ep.user
                    ),
                    e,
                );
            }
            ConnectCause::Other => {}
        }
        match e {
            sqlx::Error::Io(io) => connection(
                format!(
                    "cannot reach {engine} at {addr}: {io}; check the host and port and that the \
                     server is running"
                ),
                sqlx::Error::Io(io),
            ),
            sqlx::Error::PoolTimedOut => connection(
                format!(
                    "no connection to {engine} at {addr} within {}s; the server may be down or \
                     unreachable (test_connection names the cause)",
                    ep.timeout.as_secs()
                ),
                sqlx::Error::PoolTimedOut,
            ),
            other => connection(detail, other),
        }
    }

    /// The error for a connection attempt that got no answer within `ep.timeout`.
    pub(crate) fn connect_timeout_error(name: &str, ep: &Endpoint<'_>) -> Error {
        Error::Connection {
            connector: name.to_string(),
            message: format!(
                "cannot reach {} at {}:{}: no answer within {}s; check the host, port and firewall",
                ep.engine,
                ep.host,
                ep.port,
                ep.timeout.as_secs()
            ),
            source: None,
        }
    }

    /// What makes a login privileged, found once per connector by [`LoginCheck`].
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct LoginPrivileges {
        /// The user the server says we are (`current_user`, `CURRENT_USER()`).
        pub(crate) user: String,
        /// The privileges that work inside a read-only transaction; empty for a safe login.
        pub(crate) privileges: Vec<String>,
    }

    /// Refuses model-written SQL on a privileged login unless the embedder opted in.
    ///
    /// A read-only transaction stops writes to tables, not what a superuser (PostgreSQL) or a
    /// holder of FILE or SUPER (MySQL/MariaDB) can do without writing a table: read and write
    /// server files, run programs, signal or kill other sessions, change global settings. The
    /// login's privileges are read on the first `query()` and cached for the connector's life;
    /// a failed read is an error and is tried again on the next query.
    #[derive(Debug)]
    pub(crate) struct LoginCheck {
        allow: bool,
        found: tokio::sync::OnceCell<LoginPrivileges>,
    }

    impl LoginCheck {
        /// A check that never runs when `allow_privileged_login` is set.
        pub(crate) fn new(allow_privileged_login: bool) -> Self {
            Self {
                allow: allow_privileged_login,
                found: tokio::sync::OnceCell::new(),
            }
        }

        /// Reads the login's privileges with `detect` (once; cached) and fails with
        /// [`Error::PrivilegedLogin`] when there are any. Honours the query's cancellation
        /// and deadline while detecting.
        pub(crate) async fn ensure<F, Fut>(
            &self,
            limits: &Limits,
            detect: F,
            hint: impl FnOnce() -> String,
        ) -> Result<()>
        where
            F: FnOnce() -> Fut,
            Fut: Future<Output = Result<LoginPrivileges>>,
        {
            if self.allow {
                return Ok(());
            }
            let found = tokio::select! {
                biased;
                () = limits.cancel.cancelled() => return Err(Error::Cancelled),
                () = sleep_until(limits.deadline) => return Err(limits.timeout_error()),
                found = self.found.get_or_try_init(detect) => found?,
            };
            if found.privileges.is_empty() {
                return Ok(());
            }
            Err(Error::PrivilegedLogin {
                connector: limits.connector.clone(),
                user: found.user.clone(),
                privileges: found.privileges.clone(),
                hint: hint(),
            })
        }
    }

    /// The end of every refusal: how to opt in.
    pub(crate) const OPT_IN: &str = "To run model-written SQL on this login anyway, set \
        `allow_privileged_login: true` in the connection's config or add \
        `allow_privileged_login=true` to its URL.";

    /// A boolean URL parameter (`true`/`false`, `1`/`0`, `yes`/`no`).
    pub(crate) fn bool_param(engine: &str, key: &str, value: &str) -> Result<bool> {
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(bad_url(
                engine,
                format!("{key} `{value}` is not true or false"),
            )),
        }
    }

    /// One row of a key-column catalog query, already matched to its table.
    pub(crate) struct KeyColumn {
        /// Whether the row belongs to the primary key (else to a foreign key).
        pub(crate) primary: bool,
        pub(crate) constraint: String,
        pub(crate) column: String,
        pub(crate) ref_schema: Option<String>,
        pub(crate) ref_table: Option<String>,
        pub(crate) ref_column: Option<String>,
    }

    /// Adds one key column to `table`. Rows must come ordered by table, constraint and position;
    /// `last_fk` remembers the foreign key the previous row extended (table index, constraint).
    pub(crate) fn add_key_column(
        table: &mut TableSchema,
        index: usize,
        last_fk: &mut Option<(usize, String)>,
        key: KeyColumn,
    ) {
        if key.primary {
            table.primary_key.push(key.column);
            return;
        }
        let same = last_fk
            .as_ref()
            .is_some_and(|(i, c)| *i == index && *c == key.constraint);
        match table.foreign_keys.last_mut() {
            Some(fk) if same => {
                fk.columns.push(key.column);
                fk.referenced_columns.extend(key.ref_column);
            }
            _ => {
                table.foreign_keys.push(ForeignKey {
                    columns: vec![key.column],
                    references: TableRef {
                        schema: key.ref_schema,
                        name: key.ref_table.unwrap_or_default(),
                    },
                    referenced_columns: key.ref_column.into_iter().collect(),
                });
                *last_fk = Some((index, key.constraint));
            }
        }
    }

    /// The digits of decimal text scaled by `scale` (`"-12.5"`, 2 → `"-1250"`).
    pub(crate) fn scaled_digits(text: &str, scale: i8) -> std::result::Result<String, String> {
        let (neg, body) = match text.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, text),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let scale = usize::try_from(scale).unwrap_or(0);
        if frac.len() > scale && frac[scale..].bytes().any(|b| b != b'0') {
            return Err(format!("{text} has more than {scale} decimals"));
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(format!("`{text}` is not a decimal number"));
        }
        let mut digits = String::with_capacity(int.len() + scale + 1);
        if neg {
            digits.push('-');
        }
        digits.push_str(if int.is_empty() { "0" } else { int });
        let kept = &frac[..frac.len().min(scale)];
        digits.push_str(kept);
        digits.extend(std::iter::repeat_n('0', scale - kept.len()));
        Ok(digits)
    }

    /// An i128 with `scale` implied decimals from decimal text.
    pub(crate) fn decimal_from_text(text: &str, scale: i8) -> std::result::Result<i128, String> {
        scaled_digits(text, scale)?
            .parse()
            .map_err(|_| format!("{text} does not fit Decimal128"))
    }

    impl Limits {
        /// The limits of a query on `connector` from the caller's options.
        pub(crate) fn from_options(connector: &str, opts: QueryOptions) -> Self {
            Self {
                connector: connector.to_string(),
                deadline: opts.timeout.map(|t| Instant::now() + t),
                timeout: opts.timeout.unwrap_or_default(),
                cancel: opts.cancel,
                max_rows: opts.max_rows,
            }
        }

        /// The time left before the deadline (at least 1 ms), for the engine's own time limit.
        pub(crate) fn remaining(&self) -> Option<Duration> {
            self.deadline.map(|d| {
                d.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1))
            })
        }

        /// The query's result once the engine task has cleaned up after `outcome`.
        pub(crate) fn conclude(&self, outcome: Result<Option<Stop>>) -> Result<()> {
            match outcome {
                Ok(None | Some(Stop::Closed)) => Ok(()),
                Ok(Some(Stop::Cancelled)) => Err(Error::Cancelled),
                Ok(Some(Stop::Deadline)) => Err(self.timeout_error()),
                Err(e) => Err(e),
            }
        }
    }

    /// Spawns the engine task `task` and returns the caller's stream over what it sends.
    pub(crate) async fn spawn_query<F, Fut>(
        limits: Limits,
        task: F,
    ) -> Result<SendableRecordBatchStream>
    where
        F: FnOnce(SchemaReply, mpsc::Sender<Result<RecordBatch>>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (schema_tx, schema_rx) = oneshot::channel();
        let (batch_tx, batch_rx) = mpsc::channel(2);
        tokio::spawn(task(schema_tx, batch_tx));
        finish_stream(schema_rx, batch_rx, limits).await
    }

    /// Sends an engine task's failure where the caller waits: the schema reply if it is still
    /// pending, else the batch channel.
    pub(crate) async fn report_failure(
        schema_tx: &mut Option<SchemaReply>,
        batch_tx: &mpsc::Sender<Result<RecordBatch>>,
        result: Result<()>,
    ) {
        if let Err(e) = result {
            match schema_tx.take() {
                Some(tx) => {
                    let _ = tx.send(Err(e));
                }
                None => {
                    let _ = batch_tx.send(Err(e)).await;
                }
            }
        }
    }

    /// A pooled connection inside our transaction or session settings; closed instead of reused
    /// unless the task marks it clean.
    pub(crate) struct TxConn<DB: sqlx::Database> {
        pub(crate) conn: PoolConnection<DB>,
        pub(crate) clean: bool,
    }

    impl<DB: sqlx::Database> Drop for TxConn<DB> {
        fn drop(&mut self) {
            if !self.clean {
                self.conn.close_on_drop();
            }
        }
    }

    /// Why the row loop stopped early.
    pub(crate) enum Stop {
        Cancelled,
        Deadline,
        Closed,
    }

    /// One result column being converted to Arrow.
    pub(crate) trait ArrowColumn {
        /// The column's values so far, leaving the builder empty.
        fn finish(&mut self) -> ArrayRef;
    }

    fn finish_batch<B: ArrowColumn>(schema: &SchemaRef, cols: &mut [B]) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = cols.iter_mut().map(ArrowColumn::finish).collect();
        Ok(RecordBatch::try_new(schema.clone(), arrays)?)
    }

    /// Reads `rows` into batches of [`BATCH_ROWS`] rows, converting each with `append_row`, and
    /// sends them on `batch_tx` while honouring the row cap, cancellation, the deadline and a
    /// dropped stream. `Ok(None)` means the result ended; `Ok(Some(_))` that reading stopped
    /// early. `finished` tells whether the statement is known to have ended (otherwise the
    /// caller interrupts it at the engine).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn pump_rows<R, B: ArrowColumn>(
        mut rows: BoxStream<'_, std::result::Result<R, sqlx::Error>>,
        schema: &SchemaRef,
        cols: &mut [B],
        limits: &Limits,
        batch_tx: &mpsc::Sender<Result<RecordBatch>>,
        finished: &mut bool,
        map_err: impl Fn(sqlx::Error) -> Error,
        mut append_row: impl FnMut(&R, &mut [B]) -> Result<()>,
    ) -> Result<Option<Stop>> {
        let mut in_batch = 0usize;
        let mut total = 0usize;
        loop {
            if limits.max_rows.is_some_and(|c| total >= c) {
                if in_batch > 0 {
                    let b = finish_batch(schema, cols)?;
                    let _ = batch_tx.send(Ok(b)).await;
                }
                return Ok(Some(Stop::Closed));
            }
            let next = tokio::select! {
                biased;
                () = limits.cancel.cancelled() => return Ok(Some(Stop::Cancelled)),
                () = sleep_until(limits.deadline) => return Ok(Some(Stop::Deadline)),
                () = batch_tx.closed() => return Ok(Some(Stop::Closed)),
                r = rows.next() => r,
            };
            let Some(row) = next else {
                *finished = true;
                break;
            };
            let row = row.map_err(|e| {
                *finished = true;
                map_err(e)
            })?;
            append_row(&row, cols)?;
            in_batch += 1;
            total += 1;
            if in_batch == BATCH_ROWS {
                let b = finish_batch(schema, cols)?;
                in_batch = 0;
                if batch_tx.send(Ok(b)).await.is_err() {
                    return Ok(Some(Stop::Closed));
                }
            }
        }
        drop(rows);
        if in_batch > 0 || total == 0 {
            let b = finish_batch(schema, cols)?;
            let _ = batch_tx.send(Ok(b)).await;
        }
        Ok(None)
    }

    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    mod tests {
        use super::*;

        #[test]
        fn urls_split_and_decode() {
            let u = DbUrl::parse(
                "postgres://bob:s%40cret@[::1]:6543/sh%20op?name=wh&x=1",
                "PostgreSQL",
                &["postgres", "postgresql"],
            )
            .unwrap();
            assert_eq!(u.host.as_deref(), Some("::1"));
            assert_eq!(u.port, Some(6543));
            assert_eq!(u.user.as_deref(), Some("bob"));
            assert_eq!(u.password.as_deref(), Some("s@cret"));
            assert_eq!(u.database.as_deref(), Some("sh op"));
            assert_eq!(u.params.len(), 2);
            let err = DbUrl::parse("mysql://h/db", "PostgreSQL", &["postgres"]).unwrap_err();
            assert!(err.to_string().contains("postgres://"), "{err}");
            assert!(number_param::<u32>("MySQL", "max_connections", "x").is_err());
            assert!(bool_param("MySQL", "allow_privileged_login", "TRUE").unwrap());
            assert!(!bool_param("MySQL", "allow_privileged_login", "0").unwrap());
            assert!(bool_param("MySQL", "allow_privileged_login", "maybe").is_err());
        }

        #[tokio::test]
        async fn login_check_caches_refuses_and_retries_failures() {
            use metricchat_core::connector::QueryOptions;
            use metricchat_core::error::ErrorKind;
            use std::sync::atomic::{AtomicUsize, Ordering};

            let limits = Limits::from_options("wh", QueryOptions::default());
            let calls = AtomicUsize::new(0);
            async fn detect(calls: &AtomicUsize, privileges: &[&str]) -> Result<LoginPrivileges> {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(LoginPrivileges {
                    user: "admin".into(),
                    privileges: privileges.iter().map(|p| p.to_string()).collect(),
                })
            }
            let hint = || "use a reader".to_string();

            // A failed detection is an error and is tried again.
            let check = LoginCheck::new(false);
            let failed = check
                .ensure(
                    &limits,
                    || async { Err(Error::Internal("catalog unreadable".into())) },
                    hint,
                )
                .await;
            assert_eq!(failed.unwrap_err().kind(), ErrorKind::Internal);
            let err = check
                .ensure(&limits, || detect(&calls, &["superuser"]), hint)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unauthorized);
            let Error::PrivilegedLogin {
                connector,
                user,
                privileges,
                hint: text,
            } = err
            else {
                unreachable!()
            };
            assert_eq!((connector.as_str(), user.as_str()), ("wh", "admin"));
            assert_eq!(
                (privileges, text.as_str()),
                (vec!["superuser".into()], "use a reader")
            );
            // Cached: the second refusal does not detect again.
            assert!(
                check
                    .ensure(&limits, || detect(&calls, &[]), hint)
                    .await
                    .is_err()
            );
            assert_eq!(calls.load(Ordering::SeqCst), 1);

            let safe = LoginCheck::new(false);
            assert!(
                safe.ensure(&limits, || detect(&calls, &[]), hint)
                    .await
                    .is_ok()
            );
            // Opted in: nothing is detected.
            let allowed = LoginCheck::new(true);
            assert!(
                allowed
                    .ensure(&limits, || detect(&calls, &["FILE"]), hint)
                    .await
                    .is_ok()
            );
            assert_eq!(calls.load(Ordering::SeqCst), 2);
        }

        #[test]
        fn decimals_scale_exactly() {
            assert_eq!(decimal_from_text("-12.5", 2).unwrap(), -1250);
            assert_eq!(decimal_from_text("0.001", 3).unwrap(), 1);
            assert_eq!(decimal_from_text("12345.678", 4).unwrap(), 123_456_780);
            assert!(decimal_from_text("1.234", 2).is_err());
            assert!(decimal_from_text("1e5", 0).is_err());
            assert_eq!(scaled_digits("123.4", 3).unwrap(), "123400");
        }
    }
}
