//! Property-based fuzzing of the SQL guard against live engines (issue 18, item 9):
//!
//! - mutated and recombined attacks from the hostile corpus: whatever the guard lets through
//!   runs on a raw, writable SQLite connection (no read-only layer, several statements allowed)
//!   and must change nothing — rows, schema, attached databases, change counter;
//! - random benign queries keep their results through the guard on SQLite and DataFusion: the
//!   same rows when the result fits the row cap, exactly the cap (a subset) when it does not.
//!
//! `MC_FUZZ_CASES` cases per property (default 64, bounded for CI); `scripts/fuzz.sh` runs more.
//! Run: `cargo test --workspace --features metricchat/all-but-duckdb --test it -- fuzz::`.
#![cfg(all(feature = "sqlite", feature = "datafusion"))]

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use metricchat::connector::{ConnectorRef, QueryOptions, collect_stream};
use metricchat::guard::{GuardConfig, SqlGuard, StatementKind};
use metricchat::{Dialect, connectors};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use sqlx::{Connection, SqliteConnection};

fn config(default: u32) -> Config {
    let cases = std::env::var("MC_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The statements of `tests/security/{kind}/{file}.sql`.
fn corpus(kind: &str, file: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/security")
        .join(kind)
        .join(format!("{file}.sql"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut cases: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("-- case:") {
            cases.push(String::new());
        } else if let Some(c) = cases.last_mut()
            && !line.starts_with("-- engine:")
        {
            c.push_str(line);
            c.push('\n');
        }
    }
    cases.retain(|c| !c.trim().is_empty());
    cases
}

fn boundary(s: &str, i: usize) -> usize {
    let mut i = i % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One edit of an attack: insert a token, delete a range, join another attack, wrap it.
fn mutate(sql: &str, op: u8, at: usize, n: usize, others: &[String]) -> String {
    const TOKENS: [&str; 14] = [
        " ", "\n", "/**/", "-- c\n", "(", ")", ";", "'", "\"", "`", "[", "]", "\\", "x",
    ];
    const WRAPS: [&str; 7] = [
        "SELECT * FROM ({}) AS t",
        "WITH x AS ({}) SELECT * FROM x",
        "SELECT 1; {}",
        "{}; SELECT 1",
        "EXPLAIN {}",
        "SELECT ({})",
        "EXPLAIN QUERY PLAN {}",
    ];
    match op % 4 {
        0 => {
            let i = boundary(sql, at);
            format!("{}{}{}", &sql[..i], TOKENS[n % TOKENS.len()], &sql[i..])
        }
        1 => {
            let a = boundary(sql, at);
            let b = boundary(sql, a + n % 8);
            format!("{}{}", &sql[..a], &sql[b.max(a)..])
        }
        2 => format!(
            "{}{}{}",
            sql.trim_end(),
            [";", " UNION ALL ", "\n"][n % 3],
            others[at % others.len()].trim_end()
        ),
        _ => WRAPS[n % WRAPS.len()].replace("{}", sql.trim_end().trim_end_matches(';')),
    }
}

/// A fresh in-memory SQLite with data and a canary, on a raw connection that may write.
async fn canary_db() -> SqliteConnection {
    let mut db = SqliteConnection::connect("sqlite::memory:").await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE t (a INTEGER, b TEXT, c REAL);
         WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 40)
         INSERT INTO t SELECT n, 'b' || (n % 7), n * 1.5 FROM g;
         CREATE TABLE mc_canary (id INTEGER PRIMARY KEY, secret TEXT);
         INSERT INTO mc_canary VALUES (1, 'MC-CANARY-SECRET');
         CREATE VIEW v AS SELECT a FROM t;",
    )
    .execute(&mut db)
    .await
    .unwrap();
    db
}

/// Everything an attack could change on the connection.
async fn fingerprint(db: &mut SqliteConnection) -> String {
    let q = "SELECT (SELECT group_concat(type || ':' || name || ':' || coalesce(sql, ''), '|') \
                FROM sqlite_master) \
             || '#' || (SELECT COUNT(*) || ':' || SUM(a) || ':' || group_concat(b, ',') FROM t) \
             || '#' || (SELECT group_concat(id || secret) FROM mc_canary) \
             || '#' || (SELECT group_concat(name) FROM pragma_database_list) \
             || '#' || total_changes()";
    sqlx::query_scalar(q).fetch_one(db).await.unwrap()
}

#[test]
fn mutated_attacks_the_guard_allows_change_nothing_on_a_raw_sqlite() {
    let rt = runtime();
    let mut attacks = corpus("attacks", "sqlite");
    attacks.extend(corpus("attacks", "generic"));
    let guard = SqlGuard::new(GuardConfig::default());
    let allowed = std::cell::Cell::new(0usize);
    let slow = std::cell::Cell::new(0usize);
    let mut runner = TestRunner::new(config(64));
    let strategy = (
        any::<usize>(),
        prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..4),
    );
    runner
        .run(&strategy, |(pick, ops)| {
            let mut sql = attacks[pick % attacks.len()].clone();
            for (op, at, n) in &ops {
                sql = mutate(&sql, *op, *at, *n, &attacks);
            }
            let Ok(g) = guard.check(&sql, Dialect::Sqlite) else {
                return Ok(());
            };
            prop_assert!(
                g.kind != StatementKind::Write,
                "allowed as a write: {sql:?}"
            );
            allowed.set(allowed.get() + 1);
            rt.block_on(async {
                let mut db = canary_db().await;
                let before = fingerprint(&mut db).await;
                // Run what the guard allowed exactly as a connector would receive it, on a
                // connection with no read-only layer; errors are fine, changes are not.
                // A read-only resource-exhaustion attack (an endless recursive CTE under an
                // aggregate) would run forever: SQLite aborts it after 2 s, as the connector's
                // own time limit does.
                let deadline = std::time::Instant::now() + Duration::from_secs(2);
                let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
                {
                    let timed_out = timed_out.clone();
                    let mut handle = db.lock_handle().await.unwrap();
                    handle.set_progress_handler(1000, move || {
                        let go_on = std::time::Instant::now() < deadline;
                        if !go_on {
                            timed_out.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                        go_on
                    });
                }
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(g.sql.clone()))
                    .execute(&mut db)
                    .await;
                db.lock_handle().await.unwrap().remove_progress_handler();
                if timed_out.load(std::sync::atomic::Ordering::Relaxed) {
                    slow.set(slow.get() + 1);
                }
                let after = fingerprint(&mut db).await;
                prop_assert_eq!(
                    before,
                    after,
                    "{:?} (from {:?}) changed the database",
                    g.sql,
                    sql
                );
                Ok(())
            })
        })
        .unwrap();
    eprintln!(
        "fuzz: {} mutated attacks passed the guard ({} ran over 2 s); none changed the database",
        allowed.get(),
        slow.get()
    );
}

// ------------------------------------------------------------------ benign results kept

/// The same 40 rows in SQLite and DataFusion: `t (a BIGINT, b TEXT, c DOUBLE)`.
async fn engines(dir: &std::path::Path) -> (ConnectorRef, ConnectorRef) {
    let path = dir.join("t.db");
    let mut db = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE t (a INTEGER, b TEXT, c REAL);
         WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 40)
         INSERT INTO t SELECT n, 'b' || (n % 7), n * 1.5 FROM g;",
    )
    .execute(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    let sqlite = connectors::connect(&format!("sqlite://{}", path.display())).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Utf8, true),
        Field::new("c", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(1..=40)),
            Arc::new(StringArray::from_iter_values(
                (1..=40).map(|n| format!("b{}", n % 7)),
            )),
            Arc::new(Float64Array::from_iter_values(
                (1..=40).map(|n| f64::from(n) * 1.5),
            )),
        ],
    )
    .unwrap();
    let df = connectors::datafusion::DataFusionConnector::new("df")
        .with_batches("t", vec![batch])
        .unwrap();
    (sqlite, Arc::new(df))
}

/// A random read-only query over `t`.
fn benign_query() -> impl Strategy<Value = String> {
    let pred = prop_oneof![
        (0i64..45).prop_map(|n| format!("a > {n}")),
        (0i64..45).prop_map(|n| format!("a <= {n}")),
        (0u8..8).prop_map(|n| format!("b = 'b{n}'")),
        (0i64..70).prop_map(|n| format!("c < {n}.5")),
        Just("b LIKE 'b1%'".to_string()),
        Just("a IN (SELECT a FROM t WHERE a % 3 = 0)".to_string()),
    ];
    let preds = prop::collection::vec(pred, 0..3).prop_flat_map(|ps| {
        (Just(ps), any::<bool>()).prop_map(|(ps, and)| ps.join(if and { " AND " } else { " OR " }))
    });
    let limit = prop::option::of(0u64..60);
    prop_oneof![
        (preds.clone(), limit.clone(), any::<bool>()).prop_map(|(w, l, desc)| {
            let mut q = "SELECT a, b, c FROM t".to_string();
            if !w.is_empty() {
                q.push_str(&format!(" WHERE {w}"));
            }
            q.push_str(&format!(" ORDER BY a{}", if desc { " DESC" } else { "" }));
            if let Some(l) = l {
                q.push_str(&format!(" LIMIT {l}"));
            }
            q
        }),
        (preds.clone(), limit.clone()).prop_map(|(w, l)| {
            let mut q = "SELECT b, COUNT(*) AS n, SUM(a) AS s FROM t".to_string();
            if !w.is_empty() {
                q.push_str(&format!(" WHERE {w}"));
            }
            q.push_str(" GROUP BY b ORDER BY b");
            if let Some(l) = l {
                q.push_str(&format!(" LIMIT {l}"));
            }
            q
        }),
        (preds, limit).prop_map(|(w, l)| {
            let w = if w.is_empty() { "1 = 1".to_string() } else { w };
            let mut q = format!(
                "WITH f AS (SELECT a, b FROM t WHERE {w}) SELECT a, b FROM f \
                 UNION ALL SELECT a, b FROM t WHERE a > 35 ORDER BY a, b"
            );
            if let Some(l) = l {
                q.push_str(&format!(" LIMIT {l}"));
            }
            q
        }),
    ]
}

/// The rows of a result as text, in order.
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .map(|c| arrow::util::display::array_value_to_string(c, r).unwrap())
                .collect();
            out.push(cells.join("|"));
        }
    }
    out
}

async fn run(conn: &ConnectorRef, sql: &str) -> Vec<String> {
    let stream = conn
        .query(sql, QueryOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows(&collect_stream(stream).await.unwrap().batches)
}

#[test]
fn random_benign_queries_keep_their_results_through_the_guard() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let (sqlite, df) = rt.block_on(engines(dir.path()));
    const CAP: u64 = 25;
    let mut guard_config = GuardConfig::default();
    guard_config.max_rows = Some(CAP);
    let guard = SqlGuard::new(guard_config);
    let mut runner = TestRunner::new(config(64));
    runner
        .run(&benign_query(), |sql| {
            for (conn, dialect) in [(&sqlite, Dialect::Sqlite), (&df, Dialect::DataFusion)] {
                let g = guard.check(&sql, dialect);
                prop_assert!(
                    g.is_ok(),
                    "benign refused in {dialect:?}: {sql}: {:?}",
                    g.err()
                );
                let g = g.unwrap();
                let (raw, guarded) =
                    rt.block_on(async { (run(conn, &sql).await, run(conn, &g.sql).await) });
                if raw.len() as u64 <= CAP {
                    prop_assert_eq!(&guarded, &raw, "{:?}: {} -> {}", dialect, sql, g.sql);
                } else {
                    // Ordered queries: the cap keeps the first rows.
                    prop_assert_eq!(guarded.len() as u64, CAP, "{:?}: {}", dialect, g.sql);
                    prop_assert_eq!(
                        &guarded[..],
                        &raw[..guarded.len()],
                        "{:?}: {}",
                        dialect,
                        g.sql
                    );
                }
            }
            Ok(())
        })
        .unwrap();
}
