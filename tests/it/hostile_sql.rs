//! The hostile-SQL corpus (`tests/security/`) against the guard and the live engines.
//!
//! Every attack is checked twice on each engine that runs here (PostgreSQL, MariaDB, SQLite,
//! DataFusion), with canaries watching what an attack would touch — a table's rows, the
//! catalog, roles and privileges, sequences, files in a scratch directory, a victim session,
//! locks, server settings, statistics:
//!
//! - **guard alone**: what the guard lets through runs on a raw, privileged connection with no
//!   read-only layer (autocommit, superuser/root, every statement allowed). Nothing may change
//!   and no output may hold the secret file's marker or `/etc/passwd`.
//! - **engine alone**: every attack, unguarded, runs through the connector as a least-privilege
//!   login (the engine's read-only layer is all that stands in the way). Same rule.
//!
//! Dialects without a local engine (DuckDB without its feature, Redshift, Snowflake, BigQuery,
//! generic) are checked on the guard alone, where every attack must be refused. The benign
//! corpus must pass the guard in every dialect and run on every live engine.
//!
//! The tables of figures go to stderr and to `hostile_sql_report.md` in the test's temp dir
//! (`cargo test --workspace --features metricchat/all-but-duckdb --test it hostile_sql --
//! --nocapture` shows them).
#![cfg(all(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "datafusion"
))]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use metricchat::connector::{ConnectorRef, QueryOptions, collect_stream};
use metricchat::guard::{GuardConfig, SqlGuard};
use metricchat::{Dialect, Error};
use sqlx::{AssertSqlSafe, Connection, Row};

/// The scratch directory the corpus writes into and reads its secret from.
const CANARY_DIR: &str = "/tmp/mc_canary";
const SECRET: &str = "MC-CANARY-SECRET";
/// Output holding one of these read outside the data.
const MARKERS: [&str; 2] = [SECRET, "root:x:0:0"];
/// The live tests share the scratch directory: one at a time.
static CANARY_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ------------------------------------------------------------------------------ the corpus

/// One corpus entry.
#[derive(Debug, Clone)]
struct Case {
    class: String,
    label: String,
    sql: String,
    /// `-- engine: skip …`: not run without the guard.
    engine_skip: bool,
}

impl Case {
    fn name(&self) -> String {
        format!("[{}] {}", self.class, self.label)
    }
}

const DIALECTS: [(&str, Dialect); 9] = [
    ("postgres", Dialect::Postgres),
    ("redshift", Dialect::Redshift),
    ("mysql", Dialect::MySql),
    ("sqlite", Dialect::Sqlite),
    ("datafusion", Dialect::DataFusion),
    ("duckdb", Dialect::DuckDb),
    ("snowflake", Dialect::Snowflake),
    ("bigquery", Dialect::BigQuery),
    ("generic", Dialect::Generic),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/security")
}

/// Reads `tests/security/{attacks|benign}/{file}.sql`.
fn load(kind: &str, file: &str) -> Vec<Case> {
    let path = corpus_dir().join(kind).join(format!("{file}.sql"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("-- case:") {
            let header = header.trim();
            let (class, label) = match (kind, header.split_once(':')) {
                ("attacks", Some((class, label))) => (class.trim(), label.trim()),
                _ => ("benign", header),
            };
            cases.push(Case {
                class: class.to_string(),
                label: label.to_string(),
                sql: String::new(),
                engine_skip: false,
            });
            continue;
        }
        let Some(case) = cases.last_mut() else {
            continue;
        };
        if case.sql.trim().is_empty() && line.starts_with("-- engine: skip") {
            case.engine_skip = true;
            continue;
        }
        case.sql.push_str(line);
        case.sql.push('\n');
    }
    for c in &mut cases {
        c.sql = c.sql.trim().to_string();
        assert!(
            !c.sql.is_empty(),
            "{}: case `{}` has no SQL",
            path.display(),
            c.label
        );
    }
    cases
}

fn guard() -> SqlGuard {
    SqlGuard::new(GuardConfig::default())
}

// ------------------------------------------------------------------------------ figures

#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    refused: usize,
    /// Passed the guard, ran raw, changed nothing.
    passed_harmless: Vec<String>,
    guard_bypasses: Vec<String>,
    engine_blocked: usize,
    engine_harmless: usize,
    engine_skipped: usize,
    engine_bypasses: Vec<String>,
    benign: usize,
    false_refusals: Vec<String>,
    benign_engine_failures: Vec<String>,
}

fn report(title: &str, tallies: &[(&str, &Tally)]) -> String {
    let mut out = format!(
        "\n## {title}\n\n| dialect | attacks | refused by the guard | passed the guard, harmless | \
         bypasses (guard alone) | engine-blocked | engine ran, harmless | engine skipped | \
         bypasses (engine alone) | benign | false refusals | benign failing on the engine |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for (name, t) in tallies {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            t.cases,
            t.refused,
            t.passed_harmless.len(),
            t.guard_bypasses.len(),
            t.engine_blocked,
            t.engine_harmless,
            t.engine_skipped,
            t.engine_bypasses.len(),
            t.benign,
            t.false_refusals.len(),
            t.benign_engine_failures.len(),
        );
    }
    for (name, t) in tallies {
        for (what, list) in [
            (
                "passed the guard (harmless when run raw)",
                &t.passed_harmless,
            ),
            ("BYPASS through the guard alone", &t.guard_bypasses),
            ("BYPASS through the engine alone", &t.engine_bypasses),
            ("FALSE REFUSAL", &t.false_refusals),
            (
                "benign query failing on the engine",
                &t.benign_engine_failures,
            ),
        ] {
            for item in list {
                let _ = writeln!(out, "- {name}: {what}: {item}");
            }
        }
    }
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile_sql_report.md");
    let mut all = std::fs::read_to_string(&path).unwrap_or_default();
    all.push_str(&out);
    let _ = std::fs::write(&path, all);
    eprintln!("{out}");
    out
}

fn assert_clean(name: &str, t: &Tally) {
    assert!(
        t.guard_bypasses.is_empty() && t.engine_bypasses.is_empty(),
        "{name}: bypasses: {:#?} {:#?}",
        t.guard_bypasses,
        t.engine_bypasses
    );
    assert!(
        t.false_refusals.is_empty(),
        "{name}: false refusals: {:#?}",
        t.false_refusals
    );
    assert!(
        t.benign_engine_failures.is_empty(),
        "{name}: benign queries failing on the engine: {:#?}",
        t.benign_engine_failures
    );
}

/// The changes between two canary snapshots, in words.
fn diff(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in after {
        match before.get(k) {
            Some(b) if b == v => {}
            Some(b) => out.push(format!("{k}: `{b}` -> `{v}`")),
            None => out.push(format!("{k}: new `{v}`")),
        }
    }
    for k in before.keys() {
        if !after.contains_key(k) {
            out.push(format!("{k}: gone"));
        }
    }
    out
}

fn leaked(output: &str) -> Option<&'static str> {
    MARKERS.into_iter().find(|m| output.contains(m))
}

/// Fresh scratch directory with the secret file, readable and writable by the servers.
fn reset_canary_dir() {
    let dir = Path::new(CANARY_DIR);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("secret.txt"), SECRET).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::set_permissions(
            dir.join("secret.txt"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
}

fn canary_files(into: &mut BTreeMap<String, String>) {
    let mut names: Vec<String> = std::fs::read_dir(CANARY_DIR)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    into.insert("files".into(), names.join(","));
    into.insert(
        "secret".into(),
        std::fs::read_to_string(Path::new(CANARY_DIR).join("secret.txt")).unwrap_or_default(),
    );
}

/// Everything a result holds, as text.
fn batches_text(batches: &[RecordBatch]) -> String {
    arrow::util::pretty::pretty_format_batches(batches)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

async fn engine_run(conn: &ConnectorRef, sql: &str) -> Result<String, Error> {
    let opts = QueryOptions::default()
        .with_max_rows(Some(200))
        .with_timeout(Some(Duration::from_secs(3)));
    let run = async {
        let stream = conn.query(sql, opts).await?;
        Ok::<_, Error>(batches_text(&collect_stream(stream).await?.batches))
    };
    match tokio::time::timeout(crate::common::scaled(Duration::from_secs(20)), run).await {
        Ok(r) => r,
        Err(_) => Err(Error::Internal(
            "the connector did not return within 20 s".into(),
        )),
    }
}

/// Runs each `(name, sql)` check (one text value each) on a fresh `$conn` to `$url`, into `$into`;
/// a failing check or connection is recorded as its error, which a change then shows.
macro_rules! canary_checks {
    ($conn:ty, $url:expr, $checks:expr, $into:ident) => {{
        match <$conn>::connect($url.as_str()).await {
            Ok(mut c) => {
                for (name, sql) in $checks {
                    let v = match sqlx::query_scalar::<_, Option<String>>(AssertSqlSafe(*sql))
                        .fetch_one(&mut c)
                        .await
                    {
                        Ok(v) => v.unwrap_or_default(),
                        Err(e) => format!("error: {e}"),
                    };
                    $into.insert((*name).to_string(), v);
                }
                let _ = c.close().await;
            }
            Err(e) => {
                $into.insert("connect".into(), format!("error: {e}"));
            }
        }
    }};
}

/// Runs `sql` on a raw sqlx connection (simple protocol: several statements allowed) with a
/// 10 s limit; every row as `|`-joined text.
macro_rules! raw_text {
    ($conn:ident, $sql:expr) => {{
        let fut = sqlx::raw_sql(AssertSqlSafe($sql.to_string())).fetch_all(&mut $conn);
        match tokio::time::timeout(crate::common::scaled(Duration::from_secs(10)), fut).await {
            Ok(Ok(rows)) => rows
                .iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get_unchecked::<Option<String>, _>(i)
                                .ok()
                                .flatten()
                                .unwrap_or_default()
                        })
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Ok(Err(e)) => format!("error: {e}"),
            Err(_) => "timeout".into(),
        }
    }};
}

// ------------------------------------------------------------------------------ guard only

#[test]
fn the_guard_refuses_every_attack_and_no_benign_query() {
    let g = guard();
    let mut tallies: Vec<(&str, Tally)> = Vec::new();
    let mut total = 0;
    for (file, dialect) in DIALECTS {
        let mut t = Tally::default();
        for case in load("attacks", file) {
            t.cases += 1;
            match g.check(&case.sql, dialect) {
                Err(Error::SqlRefused { .. }) => t.refused += 1,
                Err(e) => panic!("{file} {}: {e}", case.name()),
                // Live engines judge these by their canaries (the live tests below); elsewhere
                // nothing can show them harmless, so they count as bypasses.
                // Heavy but read-only queries are bounded by the statement time limit (and on
                // in-process engines by cancellation and the memory pool), not by the guard.
                Ok(ok) if case.class == "resource" => t.passed_harmless.push(format!(
                    "{} (left to the time limit) -> {}",
                    case.name(),
                    ok.sql.replace('\n', " ")
                )),
                Ok(ok) if live(dialect) => t.passed_harmless.push(format!(
                    "{} (judged live) -> {}",
                    case.name(),
                    ok.sql.replace('\n', " ")
                )),
                Ok(ok) => t.guard_bypasses.push(format!(
                    "{} -> {}",
                    case.name(),
                    ok.sql.replace('\n', " ")
                )),
            }
        }
        for case in load("benign", file) {
            t.benign += 1;
            if let Err(e) = g.check(&case.sql, dialect) {
                t.false_refusals.push(format!("{}: {e}", case.name()));
            }
        }
        total += t.cases;
        tallies.push((file, t));
    }
    let refs: Vec<(&str, &Tally)> = tallies.iter().map(|(n, t)| (*n, t)).collect();
    report("Guard alone, every dialect (no engine)", &refs);
    assert!(
        total >= 300,
        "the hostile corpus has {total} cases; it needs 300 or more"
    );
    for (name, t) in &tallies {
        assert!(t.cases >= 10, "{name}: only {} attacks", t.cases);
        assert_clean(name, t);
    }
}

/// Dialects whose engines run in this test binary.
fn live(dialect: Dialect) -> bool {
    matches!(
        dialect,
        Dialect::Postgres | Dialect::MySql | Dialect::Sqlite | Dialect::DataFusion
    )
}

// ------------------------------------------------------------------------------ PostgreSQL

const PG_DB: &str = "mc_hostile";
const PG_READER: &str = "mc_hostile_reader";

struct Pg {
    admin_url: url::Url,
    db_url: url::Url,
    victim: Option<sqlx::PgConnection>,
}

impl Pg {
    fn url_for(base: &url::Url, user: &str, db: &str) -> url::Url {
        let mut u = base.clone();
        u.set_username(user).unwrap();
        u.set_path(&format!("/{db}"));
        u.set_query(None);
        u
    }

    async fn exec(url: &url::Url, sql: &str) {
        let mut c = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = c.close().await;
    }

    /// Drops and recreates the fixture database, the reader role and the victim session.
    async fn setup(&mut self) {
        if let Some(v) = self.victim.take() {
            let _ = v.close().await;
        }
        let admin = &self.admin_url;
        Pg::exec(
            admin,
            &format!("DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"),
        )
        .await;
        Pg::exec(
            admin,
            "DO $$ DECLARE r text; BEGIN \
               FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'mc\\_evil%' OR rolname = 'mc_hostile_reader' \
               LOOP EXECUTE format('DROP ROLE %I', r); END LOOP; END $$",
        )
        .await;
        Pg::exec(admin, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'mc%'").await;
        Pg::exec(admin, &format!("CREATE DATABASE {PG_DB}")).await;
        let mut fixture = String::from(
            "CREATE TABLE mc_canary (id int PRIMARY KEY, note text);
             INSERT INTO mc_canary VALUES (1, 'a'), (2, 'b'), (3, 'c');
             CREATE TABLE \"orders.csv\" (id int PRIMARY KEY, note text);
             INSERT INTO \"orders.csv\" VALUES (1, 'x');
             CREATE SEQUENCE mc_canary_seq;",
        );
        fixture.push_str(PG_ORDERS);
        fixture.push_str(&format!(
            "CREATE ROLE {PG_READER} LOGIN;
             GRANT CONNECT ON DATABASE {PG_DB} TO {PG_READER};
             GRANT USAGE ON SCHEMA public TO {PG_READER};
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {PG_READER};"
        ));
        Pg::exec(&self.db_url, &fixture).await;
        // As on many production servers: dblink and tablefunc installed (contrib). Where the
        // server lacks them, their attacks fail at the engine, which says less: tell.
        for ext in ["dblink", "tablefunc"] {
            let mut c = sqlx::PgConnection::connect(self.db_url.as_str())
                .await
                .unwrap();
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(format!(
                "CREATE EXTENSION IF NOT EXISTS {ext}"
            )))
            .execute(&mut c)
            .await
            {
                eprintln!(
                    "*** note: extension {ext} is not available ({e}); its attacks only hit the guard"
                );
            }
            let _ = c.close().await;
        }
        let mut victim =
            sqlx::PgConnection::connect(&format!("{}?application_name=mc_victim", self.db_url))
                .await
                .unwrap();
        sqlx::raw_sql("SELECT 1")
            .execute(&mut victim)
            .await
            .unwrap();
        self.victim = Some(victim);
        reset_canary_dir();
    }

    async fn snapshot(&mut self) -> BTreeMap<String, String> {
        let mut s = BTreeMap::new();
        let checks: &[(&str, &str)] = &[
            (
                "mc_canary",
                "SELECT coalesce(string_agg(id || ':' || note, ',' ORDER BY id), '') FROM mc_canary",
            ),
            (
                "relations",
                "SELECT coalesce(string_agg(relname || ':' || relkind, ',' ORDER BY relname), '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
            ),
            (
                "roles",
                "SELECT string_agg(rolname || ':' || rolsuper || rolcreaterole || rolcreatedb || rolcanlogin, ',' ORDER BY rolname) FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'",
            ),
            ("memberships", "SELECT count(*)::text FROM pg_auth_members"),
            (
                "grants",
                "SELECT coalesce(string_agg(grantee || ':' || privilege_type || ':' || table_name, ',' ORDER BY 1), '') FROM information_schema.role_table_grants WHERE table_schema = 'public'",
            ),
            (
                "sequence",
                "SELECT last_value || ':' || is_called FROM mc_canary_seq",
            ),
            (
                "advisory_locks",
                "SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory'",
            ),
            ("conf_load_time", "SELECT pg_conf_load_time()::text"),
            (
                "auto_conf",
                "SELECT count(*)::text FROM pg_file_settings WHERE sourcefile LIKE '%auto.conf'",
            ),
            (
                "role_settings",
                "SELECT count(*)::text FROM pg_db_role_setting",
            ),
            (
                "stats_reset",
                "SELECT coalesce((SELECT stats_reset::text FROM pg_stat_database WHERE datname = current_database()), '') || '/' || coalesce((SELECT stats_reset::text FROM pg_stat_bgwriter), '')",
            ),
            (
                "replication_slots",
                "SELECT count(*)::text FROM pg_replication_slots",
            ),
            (
                "extensions",
                "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension",
            ),
            (
                "databases",
                "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'mc%'",
            ),
            (
                "large_objects",
                "SELECT count(*)::text FROM pg_largeobject_metadata",
            ),
            (
                "prepared_xacts",
                "SELECT count(*)::text FROM pg_prepared_xacts",
            ),
            (
                "functions",
                "SELECT count(*)::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
            ),
        ];
        canary_checks!(sqlx::PgConnection, self.db_url, checks, s);
        let alive = match self.victim.as_mut() {
            Some(v) => sqlx::raw_sql("SELECT 1").execute(v).await.is_ok(),
            None => false,
        };
        s.insert("victim_session".into(), alive.to_string());
        canary_files(&mut s);
        s
    }

    /// Runs `sql` as the superuser with no read-only layer, simple protocol (several statements
    /// allowed), 5 s statement timeout; returns the output as text.
    async fn raw(&self, sql: &str) -> String {
        let url = format!("{}?options=-c%20statement_timeout%3D5000", self.db_url);
        let Ok(mut c) = sqlx::PgConnection::connect(&url).await else {
            return "connect failed".into();
        };
        let out = raw_text!(c, sql);
        let _ = c.close().await;
        out
    }
}

const PG_ORDERS: &str = "
CREATE TABLE mc_orders (id int, customer text, region text, amount numeric(10,2), created date, meta jsonb);
INSERT INTO mc_orders VALUES
 (1, 'alice', 'north', 120.50, '2026-01-05', '{\"channel\": \"web\", \"items\": 2}'),
 (2, 'bob', 'south', 80.00, '2026-01-17', '{\"channel\": \"store\", \"items\": 1}'),
 (3, 'carol', 'north', 42.25, '2026-02-02', '{\"channel\": \"web\", \"items\": 3}'),
 (4, 'alice', 'south', 310.00, '2026-02-14', '{\"channel\": \"app\", \"items\": 5}'),
 (5, 'bob', 'north', 15.75, '2026-03-01', '{\"channel\": \"web\", \"items\": 1}'),
 (6, 'carol', 'south', 99.99, '2026-03-09', '{\"channel\": \"store\", \"items\": 2}'),
 (7, 'alice', 'north', 64.10, '2026-03-21', '{\"channel\": \"app\", \"items\": 1}'),
 (8, 'bob', 'south', 230.00, '2026-04-03', '{\"channel\": \"web\", \"items\": 4}'),
 (9, 'carol', 'north', 12.00, '2026-04-18', '{\"channel\": \"web\", \"items\": 1}'),
 (10, 'alice', 'south', 175.40, '2026-05-06', '{\"channel\": \"store\", \"items\": 3}');
";

/// One dialect's live run: guard alone on `raw`, engine alone on `engine`, canaries between.
macro_rules! live_run {
    ($t:ident, $dialect:expr, $file:expr, $fixture:ident, $engine:expr) => {{
        let g = guard();
        $fixture.setup().await;
        let mut before = $fixture.snapshot().await;
        for case in load("attacks", $file) {
            $t.cases += 1;
            // Guard alone.
            match g.check(&case.sql, $dialect) {
                Err(_) => $t.refused += 1,
                // Heavy but read-only: bounded by the time limit, which the raw connection
                // lacks (SQLite and DataFusion would run it to the end).
                Ok(_) if case.class == "resource" => $t
                    .passed_harmless
                    .push(format!("{} (left to the time limit)", case.name())),
                Ok(ok) => {
                    let out = $fixture.raw(&ok.sql).await;
                    let after = $fixture.snapshot().await;
                    let changes = diff(&before, &after);
                    if !changes.is_empty() || leaked(&out).is_some() {
                        $t.guard_bypasses.push(format!(
                            "{}: {:?} {}",
                            case.name(),
                            changes,
                            leaked(&out).unwrap_or("")
                        ));
                        $fixture.setup().await;
                        before = $fixture.snapshot().await;
                    } else {
                        $t.passed_harmless.push(case.name());
                    }
                }
            }
            // Engine alone.
            if case.engine_skip {
                $t.engine_skipped += 1;
                continue;
            }
            let engine: &ConnectorRef = &$engine;
            let out = engine_run(engine, &case.sql).await;
            let after = $fixture.snapshot().await;
            let changes = diff(&before, &after);
            let text = out.as_ref().map(String::as_str).unwrap_or("");
            if !changes.is_empty() || leaked(text).is_some() {
                $t.engine_bypasses.push(format!(
                    "{}: {:?} {} ({})",
                    case.name(),
                    changes,
                    leaked(text).unwrap_or(""),
                    match &out {
                        Ok(_) => "ran".to_string(),
                        Err(e) => e.to_string(),
                    }
                ));
                $fixture.setup().await;
                before = $fixture.snapshot().await;
            } else if out.is_ok() {
                $t.engine_harmless += 1;
            } else {
                $t.engine_blocked += 1;
            }
        }
        for case in load("benign", $file) {
            $t.benign += 1;
            match g.check(&case.sql, $dialect) {
                Err(e) => $t.false_refusals.push(format!("{}: {e}", case.name())),
                Ok(ok) => {
                    let engine: &ConnectorRef = &$engine;
                    if let Err(e) = engine_run(engine, &ok.sql).await {
                        $t.benign_engine_failures
                            .push(format!("{}: {e}", case.name()));
                    }
                }
            }
        }
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_corpus_on_postgres() {
    let Some(base) = metricchat_testkit::service_url_or_skip(
        "MC_TEST_POSTGRES_URL",
        "hostile_corpus_on_postgres",
    ) else {
        return;
    };
    let _lock = CANARY_LOCK.lock().await;
    let base = url::Url::parse(&base).unwrap();
    let admin_user = if base.username().is_empty() {
        "postgres".to_string()
    } else {
        base.username().to_string()
    };
    let mut pg = Pg {
        admin_url: Pg::url_for(&base, &admin_user, base.path().trim_start_matches('/')),
        db_url: Pg::url_for(&base, &admin_user, PG_DB),
        victim: None,
    };
    pg.setup().await;
    let reader = metricchat::connect(Pg::url_for(&base, PG_READER, PG_DB).as_str()).unwrap();
    // The superuser login itself is refused for model-written SQL.
    let superuser = metricchat::connect(pg.db_url.as_str()).unwrap();
    let refused = engine_run(&superuser, "SELECT 1").await;
    assert!(
        matches!(refused, Err(Error::PrivilegedLogin { .. })),
        "a superuser login must be refused: {refused:?}"
    );
    let mut t = Tally::default();
    live_run!(t, Dialect::Postgres, "postgres", pg, reader);
    report("PostgreSQL 15, live", &[("postgres", &t)]);
    if let Some(v) = pg.victim.take() {
        let _ = v.close().await;
    }
    drop(reader);
    Pg::exec(
        &pg.admin_url,
        &format!("DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"),
    )
    .await;
    Pg::exec(&pg.admin_url, &format!("DROP ROLE IF EXISTS {PG_READER}")).await;
    assert_clean("postgres", &t);
}

// ------------------------------------------------------------------------------ MariaDB

const MY_DB: &str = "mc_hostile";
const MY_READER: &str = "mc_hostile_reader";
const MY_VICTIM: &str = "mc_victim";

struct My {
    root_url: url::Url,
    db_url: url::Url,
    victim: Option<sqlx::MySqlConnection>,
}

impl My {
    fn url_for(base: &url::Url, user: &str, db: &str) -> url::Url {
        let mut u = base.clone();
        u.set_username(user).unwrap();
        u.set_password(None).unwrap();
        u.set_path(&format!("/{db}"));
        u.set_query(None);
        u
    }

    async fn exec(url: &url::Url, sql: &str) {
        let mut c = sqlx::MySqlConnection::connect(url.as_str()).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = c.close().await;
    }

    async fn setup(&mut self) {
        if let Some(v) = self.victim.take() {
            let _ = v.close().await;
        }
        let mut sql =
            format!("DROP DATABASE IF EXISTS {MY_DB}; CREATE DATABASE {MY_DB}; USE {MY_DB};");
        for user in [MY_READER, MY_VICTIM, "mc_evil"] {
            for host in ["%", "localhost", "127.0.0.1"] {
                let _ = write!(sql, "DROP USER IF EXISTS '{user}'@'{host}';");
            }
        }
        for user in [MY_READER, MY_VICTIM] {
            for host in ["%", "localhost", "127.0.0.1"] {
                let _ = write!(
                    sql,
                    "CREATE USER '{user}'@'{host}'; GRANT SELECT ON {MY_DB}.* TO '{user}'@'{host}';"
                );
            }
        }
        sql.push_str(
            "SET GLOBAL general_log = OFF;
             CREATE TABLE mc_canary (id INT PRIMARY KEY, note TEXT);
             INSERT INTO mc_canary VALUES (1, 'a'), (2, 'b'), (3, 'c');
             CREATE TABLE `orders.csv` (id INT PRIMARY KEY, note TEXT);
             INSERT INTO `orders.csv` VALUES (1, 'x');
             CREATE SEQUENCE mc_canary_seq;
             CREATE TABLE mc_orders (id INT, customer TEXT, region TEXT, amount DECIMAL(10,2), created DATE, meta JSON);",
        );
        sql.push_str(&PG_ORDERS[PG_ORDERS.find("INSERT").unwrap()..]);
        My::exec(&self.root_url, &sql).await;
        let mut victim =
            sqlx::MySqlConnection::connect(My::url_for(&self.root_url, MY_VICTIM, MY_DB).as_str())
                .await
                .unwrap();
        sqlx::raw_sql("SELECT 1")
            .execute(&mut victim)
            .await
            .unwrap();
        self.victim = Some(victim);
        reset_canary_dir();
    }

    async fn snapshot(&mut self) -> BTreeMap<String, String> {
        let mut s = BTreeMap::new();
        let checks: &[(&str, &str)] = &[
            (
                "mc_canary",
                "SELECT COALESCE(GROUP_CONCAT(CONCAT(id, ':', note) ORDER BY id), '') FROM mc_hostile.mc_canary",
            ),
            (
                "tables",
                "SELECT COALESCE(GROUP_CONCAT(CONCAT(table_schema, '.', table_name) ORDER BY table_schema, table_name), '') FROM information_schema.tables WHERE table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')",
            ),
            (
                "users",
                "SELECT GROUP_CONCAT(CONCAT(user, '@', host) ORDER BY user, host) FROM mysql.user",
            ),
            (
                "global_privileges",
                "SELECT COALESCE(GROUP_CONCAT(CONCAT(grantee, privilege_type) ORDER BY grantee, privilege_type), '') FROM information_schema.USER_PRIVILEGES WHERE grantee LIKE '%mc\\_%'",
            ),
            (
                "schema_privileges",
                "SELECT COALESCE(GROUP_CONCAT(CONCAT(grantee, privilege_type, table_schema) ORDER BY 1), '') FROM information_schema.SCHEMA_PRIVILEGES",
            ),
            (
                "sequence",
                "SELECT CAST(next_not_cached_value AS CHAR) FROM mc_hostile.mc_canary_seq",
            ),
            (
                "globals",
                "SELECT CONCAT_WS('|', @@GLOBAL.general_log, @@GLOBAL.general_log_file, @@GLOBAL.max_connections, @@GLOBAL.read_only, @@GLOBAL.sql_mode, @@GLOBAL.event_scheduler, @@GLOBAL.slow_query_log, @@GLOBAL.local_infile, @@GLOBAL.max_statement_time)",
            ),
            (
                "named_lock",
                "SELECT CAST(COALESCE(IS_USED_LOCK('mc_canary_lock'), 0) > 0 AS CHAR)",
            ),
            (
                "databases",
                "SELECT GROUP_CONCAT(schema_name ORDER BY schema_name) FROM information_schema.schemata",
            ),
            (
                "routines",
                "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.routines WHERE routine_schema = 'mc_hostile'",
            ),
            (
                "triggers_events",
                "SELECT CAST((SELECT COUNT(*) FROM information_schema.triggers) + (SELECT COUNT(*) FROM information_schema.events) AS CHAR)",
            ),
        ];
        canary_checks!(sqlx::MySqlConnection, self.db_url, checks, s);
        let alive = match self.victim.as_mut() {
            Some(v) => sqlx::raw_sql("SELECT 1").execute(v).await.is_ok(),
            None => false,
        };
        s.insert("victim_session".into(), alive.to_string());
        canary_files(&mut s);
        s
    }

    async fn raw(&self, sql: &str) -> String {
        let Ok(mut c) = sqlx::MySqlConnection::connect(self.db_url.as_str()).await else {
            return "connect failed".into();
        };
        let _ = sqlx::raw_sql("SET SESSION max_statement_time = 5")
            .execute(&mut c)
            .await;
        let out = raw_text!(c, sql);
        let _ = c.close().await;
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_corpus_on_mariadb() {
    let Some(base) =
        metricchat_testkit::service_url_or_skip("MC_TEST_MYSQL_URL", "hostile_corpus_on_mariadb")
    else {
        return;
    };
    let _lock = CANARY_LOCK.lock().await;
    let base = url::Url::parse(&base).unwrap();
    let root = if base.username().is_empty() {
        "root".to_string()
    } else {
        base.username().to_string()
    };
    let mut my = My {
        root_url: My::url_for(&base, &root, base.path().trim_start_matches('/')),
        db_url: My::url_for(&base, &root, MY_DB),
        victim: None,
    };
    my.setup().await;
    let reader = metricchat::connect(My::url_for(&base, MY_READER, MY_DB).as_str()).unwrap();
    let privileged = metricchat::connect(my.db_url.as_str()).unwrap();
    let refused = engine_run(&privileged, "SELECT 1").await;
    assert!(
        matches!(refused, Err(Error::PrivilegedLogin { .. })),
        "a root login must be refused: {refused:?}"
    );
    let mut t = Tally::default();
    live_run!(t, Dialect::MySql, "mysql", my, reader);
    report("MariaDB 10.11, live", &[("mysql", &t)]);
    if let Some(v) = my.victim.take() {
        let _ = v.close().await;
    }
    drop(reader);
    let mut cleanup = format!("DROP DATABASE IF EXISTS {MY_DB};");
    for user in [MY_READER, MY_VICTIM, "mc_evil"] {
        for host in ["%", "localhost", "127.0.0.1"] {
            let _ = write!(cleanup, "DROP USER IF EXISTS '{user}'@'{host}';");
        }
    }
    My::exec(&my.root_url, &cleanup).await;
    assert_clean("mysql", &t);
}

// ------------------------------------------------------------------------------ SQLite

struct Lite {
    dir: tempfile::TempDir,
}

impl Lite {
    fn path(&self) -> PathBuf {
        self.dir.path().join("mc_hostile.db")
    }

    async fn setup(&mut self) {
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        let url = format!("sqlite://{}?mode=rwc", self.path().display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let mut sql = String::from(
            "CREATE TABLE mc_canary (id INTEGER PRIMARY KEY, note TEXT);
             INSERT INTO mc_canary VALUES (1, 'a'), (2, 'b'), (3, 'c');
             CREATE TABLE mc_orders (id INTEGER, customer TEXT, region TEXT, amount NUMERIC, created TEXT, meta TEXT);",
        );
        sql.push_str(&PG_ORDERS[PG_ORDERS.find("INSERT").unwrap()..]);
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
        let _ = c.close().await;
        reset_canary_dir();
    }

    async fn snapshot(&mut self) -> BTreeMap<String, String> {
        let mut s = BTreeMap::new();
        let url = format!("sqlite://{}?mode=ro", self.path().display());
        match sqlx::SqliteConnection::connect(&url).await {
            Ok(mut c) => {
                for (name, sql) in [
                    (
                        "mc_canary",
                        "SELECT coalesce(group_concat(id || ':' || note, ','), '') FROM (SELECT * FROM mc_canary ORDER BY id)",
                    ),
                    (
                        "schema",
                        "SELECT coalesce(group_concat(type || ':' || name || ':' || coalesce(sql, ''), ','), '') FROM (SELECT * FROM sqlite_master ORDER BY name)",
                    ),
                    (
                        "pragmas",
                        "SELECT (SELECT user_version FROM pragma_user_version) || '|' || (SELECT application_id FROM pragma_application_id) || '|' || (SELECT journal_mode FROM pragma_journal_mode)",
                    ),
                ] {
                    let v = match sqlx::query_scalar::<_, Option<String>>(sql)
                        .fetch_one(&mut c)
                        .await
                    {
                        Ok(v) => v.unwrap_or_default(),
                        Err(e) => format!("error: {e}"),
                    };
                    s.insert(name.to_string(), v);
                }
                let _ = c.close().await;
            }
            Err(e) => {
                s.insert("open".into(), format!("error: {e}"));
            }
        }
        let mut files: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
            .collect();
        files.sort();
        s.insert("db_dir".into(), files.join(","));
        canary_files(&mut s);
        s
    }

    async fn raw(&self, sql: &str) -> String {
        let url = format!("sqlite://{}", self.path().display());
        let Ok(mut c) = sqlx::SqliteConnection::connect(&url).await else {
            return "open failed".into();
        };
        let out = raw_text!(c, sql);
        let _ = c.close().await;
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_corpus_on_sqlite() {
    let _lock = CANARY_LOCK.lock().await;
    let mut lite = Lite {
        dir: tempfile::tempdir().unwrap(),
    };
    lite.setup().await;
    let engine = metricchat::connect(&format!("sqlite://{}", lite.path().display())).unwrap();
    let mut t = Tally::default();
    live_run!(t, Dialect::Sqlite, "sqlite", lite, engine);
    report("SQLite, live", &[("sqlite", &t)]);
    assert_clean("sqlite", &t);
}

// ------------------------------------------------------------------------------ DataFusion

struct Df {
    /// The connector the raw runs use the session of (no read-only options there).
    raw: Arc<metricchat::connectors::datafusion::DataFusionConnector>,
}

fn df_tables() -> Vec<(&'static str, RecordBatch)> {
    let canary = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("note", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(StringArray::from(vec!["a", "b", "c"])),
        ],
    )
    .unwrap();
    let n = 10;
    let customers = ["alice", "bob", "carol"];
    let orders = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("customer", DataType::Utf8, true),
            Field::new("region", DataType::Utf8, true),
            Field::new("amount", DataType::Float64, true),
            Field::new("created", DataType::Date32, true),
            Field::new("meta", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(Int64Array::from((1..=n).collect::<Vec<i64>>())),
            Arc::new(StringArray::from(
                (0..n)
                    .map(|i| customers[usize::try_from(i).unwrap() % 3])
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                (0..n)
                    .map(|i| if i % 2 == 0 { "north" } else { "south" })
                    .collect::<Vec<_>>(),
            )),
            Arc::new(arrow::array::Float64Array::from(
                (0..n).map(|i| 10.0 + 17.5 * i as f64).collect::<Vec<_>>(),
            )),
            Arc::new(arrow::array::Date32Array::from(
                (0..n)
                    .map(|i| 20_454 + 9 * i32::try_from(i).unwrap())
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                (0..n)
                    .map(|i| format!("{{\"channel\": \"web\", \"items\": {}}}", i % 4 + 1))
                    .collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    vec![("mc_canary", canary), ("mc_orders", orders)]
}

fn df_connector() -> metricchat::connectors::datafusion::DataFusionConnector {
    let mut c = metricchat::connectors::datafusion::DataFusionConnector::new("mc_hostile");
    for (name, batch) in df_tables() {
        c = c.with_batches(name, vec![batch]).unwrap();
    }
    c
}

impl Df {
    async fn setup(&mut self) {
        self.raw = Arc::new(df_connector());
        // Registration happens on first use.
        let conn: ConnectorRef = self.raw.clone();
        engine_run(&conn, "SELECT 1").await.unwrap();
        reset_canary_dir();
    }

    async fn snapshot(&mut self) -> BTreeMap<String, String> {
        let mut s = BTreeMap::new();
        let ctx = self.raw.session();
        let rows = match ctx.sql("SELECT * FROM mc_canary ORDER BY id").await {
            Ok(df) => match df.collect().await {
                Ok(b) => batches_text(&b),
                Err(e) => format!("error: {e}"),
            },
            Err(e) => format!("error: {e}"),
        };
        s.insert("mc_canary".into(), rows);
        let mut tables: Vec<String> = Vec::new();
        for catalog in ctx.catalog_names() {
            if let Some(cat) = ctx.catalog(&catalog) {
                for schema in cat.schema_names() {
                    if let Some(sch) = cat.schema(&schema) {
                        for t in sch.table_names() {
                            tables.push(format!("{catalog}.{schema}.{t}"));
                        }
                    }
                }
            }
        }
        tables.sort();
        s.insert("tables".into(), tables.join(","));
        s.insert(
            "config".into(),
            format!("{:?}", ctx.copied_config().options()),
        );
        canary_files(&mut s);
        s
    }

    async fn raw(&self, sql: &str) -> String {
        let ctx = self.raw.session().clone();
        let sql = sql.to_string();
        // On its own task: a runaway plan must not hold the test's runtime.
        let task = tokio::spawn(async move {
            match ctx.sql(&sql).await {
                Ok(df) => match df.collect().await {
                    Ok(b) => batches_text(&b),
                    Err(e) => format!("error: {e}"),
                },
                Err(e) => format!("error: {e}"),
            }
        });
        match tokio::time::timeout(crate::common::scaled(Duration::from_secs(10)), task).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => format!("panicked: {e}"),
            Err(_) => "timeout".into(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_corpus_on_datafusion() {
    let _lock = CANARY_LOCK.lock().await;
    let mut df = Df {
        raw: Arc::new(df_connector()),
    };
    df.setup().await;
    let engine: ConnectorRef = Arc::new(df_connector());
    let mut t = Tally::default();
    live_run!(t, Dialect::DataFusion, "datafusion", df, engine);
    report("DataFusion, live", &[("datafusion", &t)]);
    assert_clean("datafusion", &t);
}
