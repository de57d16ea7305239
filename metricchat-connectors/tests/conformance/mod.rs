//! The connector conformance suite: the checks every SQL backend must pass, whatever the engine.
//!
//! A backend's test file (`tests/postgres.rs`, `mysql.rs`, `sqlite.rs`, `datafusion.rs`,
//! `redshift.rs`) creates its objects with its own writable handle, describes them in a
//! [`Backend`] and calls [`Backend::run_all`] (or single checks). What is specific to one engine
//! (its catalog details, its way of proving a statement stopped, its extra types) stays in that
//! file.
//!
//! The checks: tables and views are listed; `table_schema` of a known table has its columns in
//! order; `catalog()` equals `table_schema` table by table; every row of the backend's
//! type-mapping table comes back with the documented Arrow type and value, and NULL in every
//! column; the row cap truncates exactly; an engine timeout and a cancellation end the query
//! with the right error kind and leave the connection usable; INSERT, CREATE and DROP are
//! refused even though the core's SQL guard is bypassed; a bad column, an unknown table in SQL
//! and an unknown table in `table_schema` give their error kinds.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use metricchat_core::connector::{
    Connector, QueryData, QueryOptions, TableKind, TableRef, collect_stream,
};
use metricchat_core::error::{Error, ErrorKind};
use tokio_util::sync::CancellationToken;

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod fixture;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use fixture::pool_exec_and_close;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub use fixture::{Fixture, SchemaBackend};

/// The URL of a test service from `var` with `allow_privileged_login=true` added, or `None`
/// after a loud SKIPPED banner (a failure with `CI=true`, see [`service_url_as_is`]). The test servers log in as their superuser (PostgreSQL's
/// `postgres`, MariaDB's `root`), on which the connectors refuse `query()` unless opted in; the
/// privileged-login tests use [`service_url_as_is`].
pub fn service_url(var: &str, what: &str) -> Option<String> {
    service_url_as_is(var, what).map(|url| with_param(&url, PRIVILEGED_OK))
}

/// The opt-in for privileged logins, as a URL parameter.
pub const PRIVILEGED_OK: &str = "allow_privileged_login=true";

/// `url` with `param` (`key=value`) added to its query string.
pub fn with_param(url: &str, param: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = match base.find('?') {
        None => "?",
        Some(i) if i + 1 == base.len() || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = format!("{base}{sep}{param}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The URL of a test service from `var` exactly as set, or `None` after a loud SKIPPED banner;
/// with `CI=true` a missing URL fails the test instead
/// ([`metricchat_testkit::service_url_or_skip`]).
pub fn service_url_as_is(var: &str, what: &str) -> Option<String> {
    metricchat_testkit::service_url_or_skip(
        var,
        &format!("the {what} tests (and their conformance suite)"),
    )
}

/// A unique name for this test's objects (`mc_test_<pid>_<nanos>_<seq>`).
pub fn unique_name(prefix: &str) -> String {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000;
    format!("{prefix}_{}_{nanos}_{seq}", std::process::id())
}

/// One row of a backend's type-mapping table.
#[derive(Debug, Clone)]
pub struct TypeCase {
    /// The column type in the backend's DDL (`numeric(12,3)`, `BIGINT UNSIGNED`).
    pub ddl: &'static str,
    /// The SQL literal stored in the value row.
    pub literal: &'static str,
    /// The Arrow type the connector must report.
    pub arrow: DataType,
    /// The value as Arrow's display formatter prints it.
    pub shown: &'static str,
}

/// Shorthand for a [`TypeCase`].
pub fn case(
    ddl: &'static str,
    literal: &'static str,
    arrow: DataType,
    shown: &'static str,
) -> TypeCase {
    TypeCase {
        ddl,
        literal,
        arrow,
        shown,
    }
}

/// The statements that create `table` for `cases`: a key column `k` (1: the values, 2: all
/// NULL) and one column `c0`, `c1`, … per case.
pub fn type_table_sql(table: &str, key_type: &str, cases: &[TypeCase]) -> Vec<String> {
    let cols: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| format!("c{i} {}", c.ddl))
        .collect();
    let values: Vec<&str> = cases.iter().map(|c| c.literal).collect();
    vec![
        format!("CREATE TABLE {table} (k {key_type}, {})", cols.join(", ")),
        format!("INSERT INTO {table} VALUES (1, {})", values.join(", ")),
        format!("INSERT INTO {table} (k) VALUES (2)"),
    ]
}

/// What the suite needs to know about one backend's test setup.
pub struct Backend<'a> {
    /// The connection under test.
    pub conn: &'a dyn Connector,
    /// Only tables of this schema take part in the catalog comparison (a shared test database
    /// holds other tests' tables); `None`: all of them.
    pub schema: Option<String>,
    /// A table the setup created, and its column names in order.
    pub table: TableRef,
    /// The column names of `table`, in order.
    pub columns: Vec<&'static str>,
    /// A view the setup created, if the backend has views.
    pub view: Option<TableRef>,
    /// A FROM-clause source (a table name, or `(SELECT …) t`) with the columns of
    /// [`type_table_sql`].
    pub types_source: String,
    /// The backend's type-mapping table.
    pub types: Vec<TypeCase>,
    /// A query returning at least 20,000 rows.
    pub many_rows: String,
    /// A query that runs for several seconds at the engine.
    pub slow: String,
    /// Writes the engine must refuse: at least an INSERT, a CREATE and a DROP.
    pub writes: Vec<String>,
    /// A query naming a column that does not exist.
    pub bad_column: String,
    /// A query naming a table that does not exist, and the error kind it must give.
    pub unknown_table: (String, ErrorKind),
    /// How long a stopped statement may take to end (DataFusion stops between batches).
    pub stop_within: Duration,
}

/// The airline fixture of the suite, in portable SQL: `carriers (code, name)` with one row,
/// `legs` referencing it and the view `v_legs`, in `schema` (or unqualified).
pub fn airline_sql(schema: Option<&str>) -> Vec<String> {
    let t = |name: &str| qualify(schema, name);
    vec![
        format!(
            "CREATE TABLE {} (code VARCHAR(3) PRIMARY KEY, name VARCHAR(100) NOT NULL)",
            t("carriers")
        ),
        format!(
            "CREATE TABLE {} (id INT PRIMARY KEY, carrier VARCHAR(3) REFERENCES {}(code))",
            t("legs"),
            t("carriers")
        ),
        format!(
            "CREATE VIEW {} AS SELECT id FROM {}",
            t("v_legs"),
            t("legs")
        ),
        format!("INSERT INTO {} VALUES ('AA', 'American')", t("carriers")),
    ]
}

fn qualify(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(s) => format!("{s}.{name}"),
        None => name.to_string(),
    }
}

impl<'a> Backend<'a> {
    /// A backend whose setup ran [`airline_sql`] in `schema` and created the type table
    /// `types_source` for `types`; writes, bad queries and limits use the fixture's names.
    pub fn airline(
        conn: &'a dyn Connector,
        schema: Option<&str>,
        types_source: String,
        types: Vec<TypeCase>,
        many_rows: &str,
        slow: &str,
    ) -> Self {
        let t = |name: &str| qualify(schema, name);
        let r = |name: &str| match schema {
            Some(s) => TableRef::qualified(s, name),
            None => TableRef::bare(name),
        };
        Self {
            conn,
            schema: schema.map(str::to_string),
            table: r("carriers"),
            columns: vec!["code", "name"],
            view: Some(r("v_legs")),
            types_source,
            types,
            many_rows: many_rows.into(),
            slow: slow.into(),
            writes: vec![
                format!("INSERT INTO {} VALUES ('DL', 'Delta')", t("carriers")),
                format!("CREATE TABLE {} (a INT)", t("sneaky")),
                format!("DROP TABLE {}", t("legs")),
            ],
            bad_column: format!("SELECT nope FROM {}", t("carriers")),
            unknown_table: (
                format!("SELECT * FROM {}", t("nope")),
                ErrorKind::QueryFailed,
            ),
            stop_within: Duration::from_secs(2),
        }
    }
}

async fn run(conn: &dyn Connector, sql: &str, opts: QueryOptions) -> Result<QueryData, Error> {
    collect_stream(conn.query(sql, opts).await?).await
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

impl Backend<'_> {
    /// Every check, in order; prints one line per check passed.
    pub async fn run_all(&self) {
        let name = self.conn.info().backend;
        self.check_listing().await;
        self.check_table_schema().await;
        self.check_catalog_matches_table_schema().await;
        self.check_type_mapping().await;
        self.check_row_cap().await;
        self.check_timeout_then_usable().await;
        self.check_cancel_then_usable().await;
        self.check_read_only().await;
        self.check_error_kinds().await;
        eprintln!("conformance: `{name}` passed all checks");
    }

    /// `list_tables` shows the table and the view.
    pub async fn check_listing(&self) {
        let tables = self.conn.list_tables().await.unwrap();
        assert!(
            tables.contains(&self.table),
            "{} missing from {tables:?}",
            self.table
        );
        if let Some(v) = &self.view {
            assert!(tables.contains(v), "view {v} missing from {tables:?}");
        }
    }

    /// `table_schema` gives the columns in order and the right kinds.
    pub async fn check_table_schema(&self) {
        let t = self.conn.table_schema(&self.table).await.unwrap();
        assert_eq!(t.table, self.table);
        assert_eq!(t.kind, TableKind::Table);
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, self.columns, "columns of {}", self.table);
        assert!(t.columns.iter().all(|c| !c.data_type.is_empty()), "{t:?}");
        if let Some(v) = &self.view {
            let view = self.conn.table_schema(v).await.unwrap();
            assert_eq!(view.kind, TableKind::View, "{v}");
            assert_eq!(view.row_estimate, None, "a view has no row estimate");
        }
    }

    /// `catalog()` describes each table exactly as `table_schema` does.
    pub async fn check_catalog_matches_table_schema(&self) {
        let catalog = self.conn.catalog().await.unwrap();
        let ours: Vec<_> = catalog
            .iter()
            .filter(|t| self.schema.is_none() || t.table.schema == self.schema)
            .collect();
        assert!(
            ours.iter().any(|t| t.table == self.table),
            "{} missing from catalog()",
            self.table
        );
        for t in ours {
            let one = self.conn.table_schema(&t.table).await.unwrap();
            assert_eq!(*t, one, "catalog() and table_schema differ for {}", t.table);
        }
    }

    /// Every row of the type table maps to its Arrow type and value, and NULL stays NULL.
    pub async fn check_type_mapping(&self) {
        let data = run(
            self.conn,
            &format!("SELECT * FROM {} ORDER BY k", self.types_source),
            QueryOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            data.num_rows(),
            2,
            "the type table has a value row and a NULL row"
        );
        let batch = arrow::compute::concat_batches(&data.schema, &data.batches).unwrap();
        let opts = FormatOptions::default();
        for (i, case) in self.types.iter().enumerate() {
            let name = format!("c{i}");
            let col = batch
                .column_by_name(&name)
                .unwrap_or_else(|| panic!("no column {name} for {}", case.ddl));
            assert_eq!(col.data_type(), &case.arrow, "{} ({name})", case.ddl);
            let shown = ArrayFormatter::try_new(col.as_ref(), &opts)
                .unwrap()
                .value(0)
                .to_string();
            assert_eq!(
                shown, case.shown,
                "value of {} = {}",
                case.ddl, case.literal
            );
            assert!(col.is_null(1), "NULL of {} came back as a value", case.ddl);
        }
    }

    /// A row cap truncates to exactly the cap, in batches of at most 8192 rows; none reads all.
    pub async fn check_row_cap(&self) {
        let capped = run(
            self.conn,
            &self.many_rows,
            QueryOptions::default().with_max_rows(Some(10_000)),
        )
        .await
        .unwrap();
        assert_eq!(capped.num_rows(), 10_000);
        assert!(capped.batches.iter().all(|b| b.num_rows() <= 8192));
        let all = run(
            self.conn,
            &self.many_rows,
            QueryOptions::default().with_max_rows(None),
        )
        .await
        .unwrap();
        assert!(all.num_rows() >= 20_000, "{}", all.num_rows());
    }

    /// A time limit stops the statement with `ErrorKind::Timeout`; the connection still works.
    pub async fn check_timeout_then_usable(&self) {
        let started = Instant::now();
        let err = run(
            self.conn,
            &self.slow,
            QueryOptions::default().with_timeout(Some(Duration::from_millis(200))),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
        assert!(
            started.elapsed() < crate::time_limit(self.stop_within),
            "{:?}",
            started.elapsed()
        );
        self.still_usable().await;
    }

    /// Cancelling stops the statement with `ErrorKind::Cancelled`; the connection still works.
    pub async fn check_cancel_then_usable(&self) {
        let token = CancellationToken::new();
        let t = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            t.cancel();
        });
        let started = Instant::now();
        let err = run(
            self.conn,
            &self.slow,
            QueryOptions::default().with_cancel(token),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{err:?}");
        assert!(
            started.elapsed() < crate::time_limit(self.stop_within),
            "{:?}",
            started.elapsed()
        );
        self.still_usable().await;
    }

    async fn still_usable(&self) {
        let ok = run(self.conn, "SELECT 1 AS one", QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(ok.num_rows(), 1);
    }

    /// Writes sent straight to the connector (no core guard in between) fail, and change
    /// nothing.
    pub async fn check_read_only(&self) {
        let before = self.conn.list_tables().await.unwrap();
        for sql in &self.writes {
            let err = run(self.conn, sql, QueryOptions::default())
                .await
                .expect_err(&format!("the engine ran a write: {sql}"));
            assert!(
                matches!(err.kind(), ErrorKind::QueryFailed | ErrorKind::InvalidInput),
                "{sql}: {err:?}"
            );
        }
        let after = self.conn.list_tables().await.unwrap();
        assert_eq!(before, after, "a refused write changed the catalog");
    }

    /// A bad column is `QueryFailed`, an unknown table in SQL the backend's kind, an unknown
    /// table in `table_schema` `NotFound`.
    pub async fn check_error_kinds(&self) {
        let err = run(self.conn, &self.bad_column, QueryOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QueryFailed, "{err:?}");
        let (sql, kind) = &self.unknown_table;
        let err = run(self.conn, sql, QueryOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), *kind, "{err:?}");
        let missing = TableRef {
            schema: self.table.schema.clone(),
            name: "mc_no_such_table".into(),
        };
        let err = self.conn.table_schema(&missing).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
    }
}
