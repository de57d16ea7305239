//! Unit tests of the guard: refusals, allowed statements, the row cap, the policy, cleaning.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const ALL: [Dialect; 9] = [
    Dialect::Generic,
    Dialect::DataFusion,
    Dialect::Sqlite,
    Dialect::Postgres,
    Dialect::MySql,
    Dialect::Redshift,
    Dialect::Snowflake,
    Dialect::BigQuery,
    Dialect::DuckDb,
];

fn guard() -> SqlGuard {
    SqlGuard::default()
}

fn with_cap(cap: u64) -> SqlGuard {
    SqlGuard::new(GuardConfig {
        max_rows: Some(cap),
        ..GuardConfig::default()
    })
}

fn with_policy(allowed: Option<&[&str]>, denied: &[&str]) -> SqlGuard {
    SqlGuard::new(GuardConfig {
        policy: Policy {
            allowed_tables: allowed.map(|a| a.iter().map(|s| s.to_string()).collect()),
            denied_tables: denied.iter().map(|s| s.to_string()).collect(),
            ..Policy::default()
        },
        ..GuardConfig::default()
    })
}

/// The refusal reason; fails the test if the SQL passed.
#[track_caller]
fn refused(guard: &SqlGuard, sql: &str, dialect: Dialect) -> String {
    match guard.check(sql, dialect) {
        Err(Error::SqlRefused { reason, sql: given }) => {
            assert_eq!(given, sql, "the error carries the SQL as given");
            reason
        }
        Err(other) => panic!("{dialect:?}: `{sql}` failed with {other} instead of a refusal"),
        Ok(ok) => panic!("{dialect:?}: `{sql}` passed the guard as `{}`", ok.sql),
    }
}

#[track_caller]
fn passes(guard: &SqlGuard, sql: &str, dialect: Dialect) -> GuardedSql {
    match guard.check(sql, dialect) {
        Ok(ok) => ok,
        Err(e) => panic!("{dialect:?}: `{sql}` was refused: {e}"),
    }
}

#[track_caller]
fn refused_everywhere(sql: &str, dialects: &[Dialect], needle: &str) {
    for &d in dialects {
        let reason = refused(&guard(), sql, d);
        assert!(
            reason.contains(needle),
            "{d:?}: `{sql}` refused with `{reason}`, expected it to mention `{needle}`"
        );
    }
}

// ---------------------------------------------------------------- refusals: statements

#[test]
fn refuses_ddl_and_dml_in_every_dialect() {
    refused_everywhere("DROP TABLE users", &ALL, "DROP TABLE is not allowed");
    refused_everywhere(
        "INSERT INTO users (id) VALUES (1)",
        &ALL,
        "INSERT is not allowed",
    );
    refused_everywhere(
        "UPDATE users SET name = 'x' WHERE id = 1",
        &ALL,
        "UPDATE is not allowed",
    );
    refused_everywhere(
        "DELETE FROM users WHERE id = 1",
        &ALL,
        "DELETE is not allowed",
    );
    refused_everywhere(
        "CREATE TABLE t (id INT)",
        &ALL,
        "CREATE TABLE is not allowed",
    );
    refused_everywhere(
        "ALTER TABLE t ADD COLUMN c INT",
        &ALL,
        "ALTER TABLE is not allowed",
    );
    refused_everywhere(
        "CREATE OR REPLACE VIEW v AS SELECT 1",
        &[Dialect::Postgres, Dialect::DuckDb, Dialect::Snowflake],
        "CREATE VIEW is not allowed",
    );
    refused_everywhere(
        "TRUNCATE TABLE users",
        &[
            Dialect::Postgres,
            Dialect::MySql,
            Dialect::Snowflake,
            Dialect::DataFusion,
        ],
        "TRUNCATE is not allowed",
    );
    refused_everywhere(
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
        &[Dialect::Postgres, Dialect::Snowflake, Dialect::BigQuery],
        "MERGE is not allowed",
    );
}

#[test]
fn write_refusal_tells_the_model_what_to_do() {
    let reason = refused(&guard(), "DELETE FROM users", Dialect::Postgres);
    assert!(reason.contains("read-only"), "{reason}");
    assert!(reason.contains("Send a SELECT"), "{reason}");
}

#[test]
fn refuses_copy_in_both_directions() {
    for d in [
        Dialect::Postgres,
        Dialect::Redshift,
        Dialect::DuckDb,
        Dialect::Generic,
    ] {
        refused(&guard(), "COPY users TO '/tmp/users.csv'", d);
        refused(&guard(), "COPY users FROM '/tmp/users.csv'", d);
    }
    refused(
        &guard(),
        "COPY (SELECT 1) TO PROGRAM 'ls'",
        Dialect::Postgres,
    );
    refused(&guard(), "COPY INTO t FROM @stage", Dialect::Snowflake);
    refused(
        &guard(),
        "UNLOAD ('SELECT * FROM t') TO 's3://b/x'",
        Dialect::Redshift,
    );
}

#[test]
fn refuses_session_admin_and_transaction_statements() {
    refused_everywhere("SET search_path = evil", &[Dialect::Postgres], "SET");
    refused_everywhere(
        "SET datafusion.execution.batch_size = 1",
        &[Dialect::DataFusion],
        "SET",
    );
    refused_everywhere(
        "GRANT SELECT ON users TO bob",
        &[Dialect::Postgres, Dialect::MySql, Dialect::Snowflake],
        "GRANT",
    );
    refused_everywhere(
        "REVOKE SELECT ON users FROM bob",
        &[Dialect::Postgres],
        "REVOKE",
    );
    refused_everywhere(
        "BEGIN",
        &[Dialect::Postgres, Dialect::Sqlite],
        "not allowed",
    );
    refused_everywhere("COMMIT", &[Dialect::Postgres, Dialect::MySql], "COMMIT");
    refused_everywhere(
        "CALL do_things()",
        &[Dialect::Postgres, Dialect::MySql],
        "CALL",
    );
    refused_everywhere("VACUUM", &[Dialect::Sqlite], "VACUUM");
    refused_everywhere("PRAGMA writable_schema = 1", &[Dialect::Sqlite], "PRAGMA");
    refused_everywhere("PRAGMA table_info('t')", &[Dialect::DuckDb], "PRAGMA");
    refused_everywhere(
        "ATTACH DATABASE 'other.db' AS o",
        &[Dialect::Sqlite],
        "ATTACH",
    );
    refused_everywhere("ATTACH 'other.duckdb' AS o", &[Dialect::DuckDb], "ATTACH");
    refused_everywhere("INSTALL httpfs", &[Dialect::DuckDb], "INSTALL");
    refused_everywhere("LOAD httpfs", &[Dialect::DuckDb], "LOAD");
    refused_everywhere("USE other_db", &[Dialect::MySql, Dialect::Snowflake], "USE");
    refused_everywhere(
        "EXPORT DATA OPTIONS(uri = 'gs://b/x') AS SELECT 1",
        &[Dialect::BigQuery],
        "EXPORT",
    );
}

#[test]
fn refuses_several_statements() {
    for d in ALL {
        let reason = refused(&guard(), "SELECT 1; DROP TABLE t", d);
        assert!(reason.contains("only one statement is allowed"), "{reason}");
        assert!(reason.contains("send a single SELECT"), "{reason}");
        refused(&guard(), "SELECT 1; SELECT 2", d);
    }
}

#[test]
fn refuses_empty_input_and_garbage() {
    for d in ALL {
        for empty in ["", "   ", ";", " ;; ", "```sql\n```", "-- just a comment"] {
            let reason = refused(&guard(), empty, d);
            assert!(
                reason.contains("no SQL statement"),
                "{d:?} `{empty}`: {reason}"
            );
        }
        let reason = refused(&guard(), "list the top customers please", d);
        assert!(reason.contains("does not parse"), "{reason}");
        assert!(reason.contains(d.display_name()), "{reason}");
        refused(&guard(), "SELEC * FROM t", d);
        refused(&guard(), "SELECT (1", d);
    }
}

#[test]
fn explain_of_a_write_is_refused() {
    let reason = refused(
        &guard(),
        "EXPLAIN ANALYZE DELETE FROM users",
        Dialect::Postgres,
    );
    assert!(
        reason.contains("EXPLAIN is only allowed for a query"),
        "{reason}"
    );
    refused(
        &guard(),
        "EXPLAIN (ANALYZE) DELETE FROM users",
        Dialect::Postgres,
    );
    refused(
        &guard(),
        "EXPLAIN INSERT INTO t VALUES (1)",
        Dialect::DataFusion,
    );
    refused(
        &guard(),
        "EXPLAIN ANALYZE SELECT pg_sleep(10)",
        Dialect::Postgres,
    );
}

// ---------------------------------------------------------------- refusals: hidden writes

#[test]
fn refuses_data_modifying_ctes() {
    for sql in [
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "WITH u AS (UPDATE t SET x = 1 RETURNING *) SELECT count(*) FROM u",
        "WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM i",
        "SELECT * FROM (WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d) s",
    ] {
        let reason = refused(&guard(), sql, Dialect::Postgres);
        assert!(
            reason.contains("inside a query is not allowed"),
            "{sql}: {reason}"
        );
    }
}

#[test]
fn refuses_select_into() {
    for d in [
        Dialect::Postgres,
        Dialect::Generic,
        Dialect::DuckDb,
        Dialect::Redshift,
    ] {
        let reason = refused(&guard(), "SELECT * INTO new_users FROM users", d);
        assert!(reason.contains("Remove the INTO clause"), "{reason}");
    }
    refused(&guard(), "SELECT id INTO @v FROM users", Dialect::MySql);
    refused(
        &guard(),
        "SELECT * FROM users INTO OUTFILE '/tmp/x'",
        Dialect::MySql,
    );
    refused(
        &guard(),
        "SELECT * FROM (SELECT * INTO x FROM users) s",
        Dialect::Postgres,
    );
}

#[test]
fn refuses_locking_clauses() {
    let reason = refused(
        &guard(),
        "SELECT * FROM users FOR UPDATE",
        Dialect::Postgres,
    );
    assert!(reason.contains("FOR UPDATE"), "{reason}");
    refused(&guard(), "SELECT * FROM users FOR SHARE", Dialect::MySql);
    refused(
        &guard(),
        "SELECT * FROM users FOR NO KEY UPDATE SKIP LOCKED",
        Dialect::Postgres,
    );
    refused(
        &guard(),
        "SELECT * FROM t WHERE id IN (SELECT id FROM u FOR UPDATE)",
        Dialect::Postgres,
    );
}

// ---------------------------------------------------------------- refusals: functions

#[test]
fn refuses_denied_functions_anywhere_in_the_query() {
    let cases: &[(Dialect, &str)] = &[
        (Dialect::Postgres, "SELECT pg_sleep(10)"),
        (
            Dialect::Postgres,
            "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE pg_sleep(1) IS NULL)",
        ),
        (Dialect::Postgres, "SELECT (SELECT PG_CATALOG.PG_SLEEP(5))"),
        (
            Dialect::Postgres,
            "WITH x AS (SELECT pg_read_file('/etc/passwd') AS f) SELECT f FROM x",
        ),
        (
            Dialect::Postgres,
            "SELECT 1 UNION SELECT length(pg_ls_dir('.'))",
        ),
        (
            Dialect::Postgres,
            "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)",
        ),
        (Dialect::Postgres, "SELECT lo_import('/etc/passwd')"),
        (
            Dialect::Postgres,
            "SELECT set_config('search_path', 'x', false)",
        ),
        (Dialect::Postgres, "SELECT pg_terminate_backend(123)"),
        (
            Dialect::Postgres,
            "SELECT query_to_xml('delete from t returning 1', true, true, '')",
        ),
        (Dialect::Redshift, "SELECT pg_sleep(1)"),
        (Dialect::MySql, "SELECT SLEEP(5)"),
        (Dialect::MySql, "SELECT benchmark(100000000, md5('x'))"),
        (Dialect::MySql, "SELECT load_file('/etc/passwd')"),
        (Dialect::MySql, "SELECT get_lock('x', 10)"),
        (Dialect::Sqlite, "SELECT load_extension('evil.so')"),
        (Dialect::Sqlite, "SELECT readfile('/etc/passwd')"),
        (Dialect::Sqlite, "SELECT writefile('/tmp/x', 'y')"),
        (Dialect::Sqlite, "SELECT fts3_tokenizer('simple')"),
        (Dialect::DataFusion, "SELECT * FROM read_csv('/etc/passwd')"),
        (
            Dialect::DataFusion,
            "SELECT * FROM read_parquet('s3://bucket/x.parquet')",
        ),
        (Dialect::DuckDb, "SELECT * FROM read_csv_auto('x.csv')"),
        (Dialect::DuckDb, "SELECT * FROM read_json('x.json')"),
        (
            Dialect::DuckDb,
            "SELECT content FROM read_text('/etc/passwd')",
        ),
        (Dialect::DuckDb, "SELECT * FROM glob('/home/*')"),
        (Dialect::DuckDb, "SELECT * FROM query_table('secrets')"),
        (Dialect::DuckDb, "SELECT getenv('HOME')"),
        (Dialect::Snowflake, "SELECT SYSTEM$WAIT(10)"),
        (
            Dialect::Snowflake,
            "SELECT * FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))",
        ),
        (Dialect::Snowflake, "SELECT * FROM IDENTIFIER('secrets')"),
        (
            Dialect::BigQuery,
            "SELECT * FROM EXTERNAL_QUERY('conn', 'SELECT 1')",
        ),
        (Dialect::MySql, "SHOW TABLES WHERE sleep(1) = 0"),
        (
            Dialect::DuckDb,
            "EXPLAIN ANALYZE SELECT * FROM read_parquet('x.parquet')",
        ),
        (Dialect::Generic, "SELECT sleep(1)"),
        (Dialect::Generic, "SELECT pg_sleep(1)"),
    ];
    for (d, sql) in cases {
        let reason = refused(&guard(), sql, *d);
        assert!(
            reason.contains("is not allowed on"),
            "{d:?} {sql}: {reason}"
        );
        assert!(reason.contains("Rewrite the query without it"), "{reason}");
    }
    let reason = refused(&guard(), "SELECT pg_sleep(1)", Dialect::Postgres);
    assert!(reason.contains("`pg_sleep`"), "{reason}");
}

#[test]
fn ordinary_functions_and_current_setting_pass() {
    passes(
        &guard(),
        "SELECT current_setting('TimeZone'), now(), lower(name) FROM t",
        Dialect::Postgres,
    );
    // SQLite's glob() is a string match, not a file lister.
    passes(
        &guard(),
        "SELECT name FROM t WHERE glob('a*', name)",
        Dialect::Sqlite,
    );
    passes(&guard(), "SELECT * FROM range(10)", Dialect::DuckDb);
}

#[test]
fn refuses_tables_read_from_files_and_urls() {
    for (d, sql) in [
        (Dialect::DuckDb, "SELECT * FROM 'data.csv'"),
        (Dialect::DuckDb, "SELECT * FROM 's3://bucket/*.parquet'"),
        (Dialect::DataFusion, "SELECT * FROM \"/etc/passwd.csv\""),
        (
            Dialect::DataFusion,
            "SELECT * FROM 'https://example.com/x.parquet'",
        ),
        (Dialect::Snowflake, "SELECT $1 FROM @stage/x.csv"),
    ] {
        let reason = refused(&guard(), sql, d);
        assert!(reason.contains("reading files"), "{sql}: {reason}");
    }
}

#[test]
fn deny_lists_are_data() {
    let pg = denied_functions(Dialect::Postgres);
    assert!(pg.contains(&"pg_*") && pg.contains(&"sleep"));
    assert!(!pg.contains(&"current_setting"));
    assert!(denied_functions(Dialect::Sqlite).contains(&"load_extension"));
    assert!(!denied_functions(Dialect::Sqlite).contains(&"glob"));
    let generic = denied_functions(Dialect::Generic);
    for name in [
        "pg_*",
        "benchmark",
        "load_extension",
        "read_*",
        "system$*",
        "external_query",
    ] {
        assert!(generic.contains(&name), "{name}");
    }
    assert!(is_denied_function(Dialect::MySql, "`SLEEP`"));
    assert!(is_denied_function(Dialect::Postgres, "dblink_exec"));
    assert!(!is_denied_function(Dialect::Postgres, "lower"));
}

// ---------------------------------------------------------------- allowed

const ANALYTIC: &str = "WITH monthly AS (
    SELECT date_trunc('month', o.\"Order Date\") AS month,
           region,
           sum(CAST(amount AS DOUBLE)) AS revenue,
           count(*) FILTER (WHERE status = 'returned') AS returns
    FROM orders o
    JOIN customers c ON c.id = o.customer_id
    WHERE o.\"Order Date\" >= DATE '2024-01-01' AND c.country IN (SELECT country FROM markets)
    GROUP BY 1, 2
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY region ORDER BY revenue DESC) AS rn,
           avg(revenue) OVER (ORDER BY month ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS ma3
    FROM monthly
)
SELECT month, region, revenue, ma3 FROM ranked WHERE rn <= 3
UNION ALL
SELECT month, 'all', sum(revenue), NULL FROM monthly GROUP BY month
ORDER BY 1, 2";

#[test]
fn complex_analytic_query_passes_in_every_dialect_that_parses_it() {
    for d in [
        Dialect::Generic,
        Dialect::DataFusion,
        Dialect::Postgres,
        Dialect::DuckDb,
    ] {
        let ok = passes(&guard(), ANALYTIC, d);
        assert_eq!(ok.kind, StatementKind::Query);
        assert_eq!(ok.tables, ["orders", "customers", "markets"], "{d:?}");
        assert_eq!(ok.sql, format!("{ANALYTIC}\nLIMIT 10000"));
        assert_eq!(ok.row_cap, Some(10_000));
        assert_eq!(ok.timeout, Some(std::time::Duration::from_secs(60)));
    }
}

#[test]
fn explain_show_and_describe_pass() {
    let g = guard();
    for d in [Dialect::DataFusion, Dialect::Postgres, Dialect::DuckDb] {
        let ok = passes(&g, "EXPLAIN SELECT * FROM orders", d);
        assert_eq!(ok.kind, StatementKind::Explain);
        assert_eq!(
            ok.sql, "EXPLAIN SELECT * FROM orders",
            "EXPLAIN is not rewritten"
        );
        assert_eq!(ok.tables, ["orders"]);
        assert_eq!(
            passes(&g, "EXPLAIN ANALYZE SELECT 1", d).kind,
            StatementKind::Explain
        );
    }
    for d in [
        Dialect::DataFusion,
        Dialect::MySql,
        Dialect::DuckDb,
        Dialect::Snowflake,
    ] {
        let ok = passes(&g, "SHOW TABLES", d);
        assert_eq!(ok.kind, StatementKind::Show);
        assert!(ok.tables.is_empty());
    }
    assert_eq!(
        passes(&g, "SHOW search_path", Dialect::Postgres).kind,
        StatementKind::Show
    );
    let ok = passes(&g, "SHOW COLUMNS FROM orders", Dialect::MySql);
    assert_eq!(
        (ok.kind, ok.tables),
        (StatementKind::Show, vec!["orders".to_string()])
    );
    for (d, sql) in [
        (Dialect::MySql, "DESCRIBE orders"),
        (Dialect::MySql, "DESC orders"),
        (Dialect::DuckDb, "DESCRIBE orders"),
        (Dialect::DataFusion, "DESCRIBE orders"),
        (Dialect::Snowflake, "DESC TABLE orders"),
    ] {
        let ok = passes(&g, sql, d);
        assert_eq!(ok.kind, StatementKind::Describe, "{sql}");
        assert_eq!(ok.tables, ["orders"]);
    }
    assert_eq!(
        passes(&g, "DESCRIBE SELECT * FROM orders", Dialect::DuckDb).kind,
        StatementKind::Describe
    );
}

#[test]
fn writes_pass_only_when_the_embedder_opts_out() {
    let g = SqlGuard::new(GuardConfig {
        allow_writes: true,
        ..GuardConfig::default()
    });
    let ok = passes(
        &g,
        "INSERT INTO audit (x) SELECT x FROM t",
        Dialect::Postgres,
    );
    assert_eq!(ok.kind, StatementKind::Write);
    assert_eq!(ok.row_cap, None);
    assert_eq!(ok.sql, "INSERT INTO audit (x) SELECT x FROM t");
    assert_eq!(ok.tables, ["audit", "t"]);
    passes(
        &g,
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        Dialect::Postgres,
    );
    // Still one statement, still no denied functions.
    refused(&g, "DELETE FROM t; DELETE FROM u", Dialect::Postgres);
    refused(&g, "UPDATE t SET x = pg_sleep(1)", Dialect::Postgres);
}

// ---------------------------------------------------------------- row cap

#[test]
fn limit_is_added_when_missing() {
    for d in ALL {
        let ok = passes(&with_cap(100), "SELECT id FROM t ORDER BY id", d);
        assert_eq!(ok.sql, "SELECT id FROM t ORDER BY id\nLIMIT 100", "{d:?}");
        assert_eq!(ok.row_cap, Some(100));
    }
    // A trailing line comment cannot swallow the limit.
    let ok = passes(&with_cap(5), "SELECT 1 -- the answer", Dialect::Sqlite);
    assert_eq!(ok.sql, "SELECT 1 -- the answer\nLIMIT 5");
    // A bare VALUES list takes no LIMIT on SQLite: it is wrapped everywhere.
    assert_eq!(
        passes(&with_cap(5), "VALUES (1), (2)", Dialect::Postgres).sql,
        "SELECT * FROM (\nVALUES (1), (2)\n) AS mc_capped LIMIT 5"
    );
}

#[test]
fn large_limit_is_tightened_small_kept() {
    let g = with_cap(100);
    for d in ALL {
        assert_eq!(
            passes(&g, "SELECT id FROM t LIMIT 5000", d).sql,
            "SELECT id FROM t LIMIT 100"
        );
        let kept = "SELECT id FROM t ORDER BY  id LIMIT 7";
        assert_eq!(
            passes(&g, kept, d).sql,
            kept,
            "a small limit leaves the text untouched"
        );
        assert_eq!(
            passes(&g, "SELECT id FROM t LIMIT 100", d).sql,
            "SELECT id FROM t LIMIT 100"
        );
    }
}

#[test]
fn limit_with_offset() {
    let g = with_cap(100);
    for d in [
        Dialect::Postgres,
        Dialect::DataFusion,
        Dialect::Sqlite,
        Dialect::MySql,
        Dialect::DuckDb,
    ] {
        assert_eq!(
            passes(&g, "SELECT id FROM t ORDER BY id LIMIT 1000 OFFSET 20", d).sql,
            "SELECT id FROM t ORDER BY id LIMIT 100 OFFSET 20"
        );
        let kept = "SELECT id FROM t LIMIT 10 OFFSET 20";
        assert_eq!(passes(&g, kept, d).sql, kept);
    }
    assert_eq!(
        passes(
            &g,
            "SELECT id FROM t ORDER BY id OFFSET 20",
            Dialect::Postgres
        )
        .sql,
        "SELECT id FROM t ORDER BY id LIMIT 100 OFFSET 20"
    );
}

#[test]
fn mysql_offset_comma_limit() {
    let g = with_cap(100);
    assert_eq!(
        passes(&g, "SELECT id FROM t LIMIT 5, 100000", Dialect::MySql).sql,
        "SELECT id FROM t LIMIT 5, 100"
    );
    assert_eq!(
        passes(&g, "SELECT id FROM t LIMIT 5, 10", Dialect::MySql).sql,
        "SELECT id FROM t LIMIT 5, 10"
    );
}

#[test]
fn fetch_first_counts_as_the_limit() {
    let g = with_cap(100);
    for d in [Dialect::Postgres, Dialect::Snowflake, Dialect::Generic] {
        assert_eq!(
            passes(
                &g,
                "SELECT id FROM t ORDER BY id FETCH FIRST 500 ROWS ONLY",
                d
            )
            .sql,
            "SELECT id FROM t ORDER BY id FETCH FIRST 100 ROWS ONLY"
        );
        let kept = "SELECT id FROM t FETCH FIRST 3 ROWS ONLY";
        assert_eq!(passes(&g, kept, d).sql, kept);
    }
}

#[test]
fn union_gets_one_outer_limit() {
    let g = with_cap(100);
    for d in ALL {
        let ok = passes(&g, "SELECT a FROM t UNION ALL SELECT b FROM u", d);
        assert_eq!(
            ok.sql, "SELECT a FROM t UNION ALL SELECT b FROM u\nLIMIT 100",
            "{d:?}"
        );
        assert_eq!(ok.tables, ["t", "u"]);
        let ok = passes(
            &g,
            "SELECT a FROM t UNION SELECT b FROM u ORDER BY 1 LIMIT 900",
            d,
        );
        assert_eq!(
            ok.sql,
            "SELECT a FROM t UNION SELECT b FROM u ORDER BY 1 LIMIT 100"
        );
    }
    // A limit inside one branch does not cap the union.
    let ok = passes(
        &g,
        "(SELECT a FROM t LIMIT 5) UNION ALL (SELECT b FROM u LIMIT 5)",
        Dialect::Postgres,
    );
    assert!(ok.sql.ends_with("\nLIMIT 100"), "{}", ok.sql);
    // Subquery limits are not the outer limit.
    let ok = passes(
        &g,
        "SELECT * FROM (SELECT a FROM t LIMIT 5) s",
        Dialect::Postgres,
    );
    assert!(ok.sql.ends_with("\nLIMIT 100"), "{}", ok.sql);
}

#[test]
fn uneditable_limits_are_wrapped() {
    let g = with_cap(100);
    let ok = passes(
        &g,
        "SELECT id FROM t LIMIT (SELECT count(*) FROM u)",
        Dialect::Postgres,
    );
    assert_eq!(
        ok.sql,
        "SELECT * FROM (\nSELECT id FROM t LIMIT (SELECT count(*) FROM u)\n) AS mc_capped LIMIT 100"
    );
    assert_eq!(ok.tables, ["t", "u"]);
    let ok = passes(&g, "SELECT TOP 5 id FROM t", Dialect::Snowflake);
    assert_eq!(
        ok.sql,
        "SELECT * FROM (\nSELECT TOP 5 id FROM t\n) AS mc_capped LIMIT 100"
    );
    let ok = passes(&g, "SELECT id FROM t LIMIT $1", Dialect::Postgres);
    assert!(ok.sql.starts_with("SELECT * FROM (\n"), "{}", ok.sql);
}

#[test]
fn no_cap_when_opted_out() {
    let g = SqlGuard::new(GuardConfig {
        max_rows: None,
        ..GuardConfig::default()
    });
    let ok = passes(&g, "SELECT * FROM t", Dialect::Postgres);
    assert_eq!((ok.sql.as_str(), ok.row_cap), ("SELECT * FROM t", None));
}

#[test]
fn datafusion_syntax_survives_a_rewrite() {
    let g = with_cap(100);
    let sql = "SELECT date_trunc('month', \"Order Date\") AS m, EXTRACT(YEAR FROM ts) AS y, \
               CAST(x AS DOUBLE) AS d, x::DOUBLE AS d2, y::BIGINT, ts + INTERVAL '1 day', \
               count(*) FILTER (WHERE status = 'ok') AS ok, \
               sum(amount) OVER (PARTITION BY region ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS r7, \
               struct_col['a'], arr[1], \"CamelCase\" \
               FROM \"My Orders\" AS o WHERE name ILIKE '%a%' AND ts >= DATE '2024-01-01' \
               GROUP BY 1, 2 ORDER BY 1 DESC NULLS LAST LIMIT 5000";
    let ok = passes(&g, sql, Dialect::DataFusion);
    assert_eq!(ok.sql, sql.replace("LIMIT 5000", "LIMIT 100"));
    assert_eq!(ok.tables, ["\"My Orders\""]);
}

// ---------------------------------------------------------------- policy

#[test]
fn policy_denies_tables_case_insensitively_bare_or_qualified() {
    let g = with_policy(None, &["hr.salaries", "Secrets"]);
    for sql in [
        "SELECT * FROM salaries",
        "SELECT * FROM HR.Salaries",
        "SELECT * FROM \"hr\".\"salaries\"",
        "SELECT * FROM t WHERE id IN (SELECT id FROM secrets)",
        "SELECT * FROM public.SECRETS",
        "SELECT a FROM t UNION SELECT b FROM salaries",
    ] {
        let reason = refused(&g, sql, Dialect::Postgres);
        assert!(
            reason.contains("is not available to this user"),
            "{sql}: {reason}"
        );
    }
    passes(&g, "SELECT * FROM finance.salaries", Dialect::Postgres);
    passes(&g, "SELECT * FROM orders", Dialect::Postgres);
}

#[test]
fn policy_allow_list() {
    let g = with_policy(Some(&["orders", "public.customers"]), &[]);
    let ok = passes(
        &g,
        "SELECT * FROM Orders o JOIN customers c ON c.id = o.cid",
        Dialect::Postgres,
    );
    assert_eq!(ok.tables, ["Orders", "customers"]);
    passes(&g, "SELECT * FROM public.orders", Dialect::Postgres);
    let reason = refused(
        &g,
        "SELECT * FROM orders JOIN payments USING (id)",
        Dialect::Postgres,
    );
    assert!(
        reason.contains("`payments` is not among the tables this user may read"),
        "{reason}"
    );
    assert!(reason.contains("orders, public.customers"), "{reason}");
    refused(&g, "SELECT * FROM other.customers", Dialect::Postgres);
    refused(&g, "DESCRIBE payments", Dialect::MySql);
    refused(&g, "SHOW COLUMNS FROM payments", Dialect::MySql);
    refused(&g, "EXPLAIN SELECT * FROM payments", Dialect::Postgres);
}

#[test]
fn cte_names_are_not_tables() {
    let g = with_policy(Some(&["orders"]), &["secret"]);
    let ok = passes(
        &g,
        "WITH secret AS (SELECT * FROM orders), b AS (SELECT * FROM secret) SELECT * FROM b JOIN secret USING (id)",
        Dialect::Postgres,
    );
    assert_eq!(ok.tables, ["orders"]);
    let ok = passes(
        &g,
        "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r, orders",
        Dialect::Postgres,
    );
    assert_eq!(ok.tables, ["orders"]);
    // A CTE does not hide the real table it reads from, nor tables outside its scope.
    refused(
        &g,
        "WITH secret AS (SELECT * FROM secret) SELECT * FROM secret",
        Dialect::Postgres,
    );
    refused(
        &g,
        "SELECT * FROM secret, (WITH secret AS (SELECT 1) SELECT * FROM secret) s",
        Dialect::Postgres,
    );
    refused(
        &g,
        "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a",
        Dialect::Postgres,
    );
    // A schema-qualified name is never a CTE.
    refused(
        &g,
        "WITH secret AS (SELECT 1) SELECT * FROM public.secret",
        Dialect::Postgres,
    );
}

// ---------------------------------------------------------------- cleaning

#[test]
fn fences_and_semicolons_are_stripped() {
    assert_eq!(extract_sql("```sql\nSELECT 1;\n```"), "SELECT 1");
    assert_eq!(extract_sql("```SQL\nSELECT 1\n```"), "SELECT 1");
    assert_eq!(extract_sql("```\nSELECT 1\n```"), "SELECT 1");
    assert_eq!(
        extract_sql("```postgresql\nSELECT 1\n"),
        "SELECT 1",
        "unclosed fence"
    );
    assert_eq!(extract_sql("```sql SELECT 1```"), "SELECT 1");
    assert_eq!(extract_sql("```SELECT\n1```"), "SELECT\n1");
    assert_eq!(
        extract_sql("Sure!\n\n```sql\nSELECT a\nFROM t;\n```\nThis lists a."),
        "SELECT a\nFROM t"
    );
    assert_eq!(extract_sql("\n  SELECT 1 ; ;\n"), "SELECT 1");
    assert_eq!(extract_sql("SELECT ';' AS s;"), "SELECT ';' AS s");
    // The guard's cleaning drops nothing but fences and trailing semicolons.
    assert_eq!(
        extract_sql("SELECT 1; DROP TABLE t"),
        "SELECT 1; DROP TABLE t"
    );
    assert_eq!(extract_sql("Fixed:\nSELECT 1"), "Fixed:\nSELECT 1");

    let ok = passes(
        &guard(),
        "```sql\nSELECT * FROM t LIMIT 3;\n```",
        Dialect::DataFusion,
    );
    assert_eq!(ok.sql, "SELECT * FROM t LIMIT 3");
    assert_eq!(ok.original, "```sql\nSELECT * FROM t LIMIT 3;\n```");
}

#[test]
fn config_round_trips_through_serde() {
    let config: GuardConfig = serde_json::from_str(
        r#"{"max_rows": 50, "timeout": 1500, "policy": {"denied_tables": ["x"]}}"#,
    )
    .unwrap();
    assert_eq!(config.max_rows, Some(50));
    assert_eq!(config.timeout, Some(std::time::Duration::from_millis(1500)));
    assert!(!config.allow_writes);
    let g = SqlGuard::new(config);
    assert_eq!(g.config().policy.denied_tables, ["x"]);
    let ok = passes(&g, "SELECT 1", Dialect::Sqlite);
    assert_eq!(ok.timeout, Some(std::time::Duration::from_millis(1500)));
}

#[test]
fn checking_is_fast() {
    let g = guard();
    let start = std::time::Instant::now();
    for _ in 0..200 {
        passes(&g, ANALYTIC, Dialect::DataFusion);
    }
    let per = start.elapsed() / 200;
    // A loaded machine sets MC_TEST_TIME_FACTOR (the same multiplier as the integration tests).
    let factor = std::env::var("MC_TEST_TIME_FACTOR")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    assert!(
        per < std::time::Duration::from_millis(5) * factor,
        "{per:?} per check (MC_TEST_TIME_FACTOR={factor})"
    );
}

// ---------------------------------------------------------------- hostile forms (issue 13)

#[test]
fn escaped_identifiers_are_decoded_before_the_deny_list() {
    for sql in [
        r#"SELECT U&"\0070g_sleep"(1)"#,
        r#"SELECT u&"\0070\0067_sleep"(1)"#,
        r#"SELECT U&"!0070g_read_file" UESCAPE '!' ('/etc/passwd')"#,
        r#"SELECT U&"\+000070g_sleep"(1)"#,
        r#"SELECT * FROM U&"\0070g_ls_dir"('.')"#,
        r#"SELECT "PG_SLEEP"(1)"#,
        r#"SELECT "pg_catalog"."pg_sleep"(1)"#,
        r#"SELECT U&"\0064blink_exec"('dbname=x', 'DELETE FROM t')"#,
    ] {
        for d in [Dialect::Postgres, Dialect::Redshift, Dialect::Generic] {
            let reason = refused(&guard(), sql, d);
            assert!(reason.contains("not allowed"), "{sql}: {reason}");
        }
    }
    // What runs is the decoded text.
    let ok = passes(
        &guard(),
        r#"SELECT U&"\0061mount" FROM t"#,
        Dialect::Postgres,
    );
    assert_eq!(ok.sql, "SELECT \"amount\" FROM t\nLIMIT 10000");
    for (d, sql) in [
        (Dialect::MySql, "SELECT `LOAD_FILE`('/etc/passwd')"),
        (Dialect::MySql, "SELECT `sleep`(5)"),
        (Dialect::Snowflake, "SELECT \"SYSTEM$WAIT\"(10)"),
        (Dialect::DuckDb, "SELECT * FROM \"READ_CSV\"('/etc/passwd')"),
    ] {
        refused(&guard(), sql, d);
    }
}

#[test]
fn function_families_are_denied_by_default() {
    for sql in [
        "SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')",
        "SELECT * FROM ts_stat('SELECT to_tsvector(x) FROM secret')",
        "SELECT ts_rewrite('a'::tsquery, 'SELECT a, b FROM rules')",
        "SELECT * FROM crosstab('SELECT a, b, c FROM t') AS ct(a text, b int)",
        "SELECT dblink_exec('dbname=test', 'DROP TABLE t')",
        "SELECT * FROM dblink('dbname=test', 'SELECT 1') AS x(a int)",
        "SELECT pg_terminate_backend(pid) FROM pg_locks",
        "SELECT pg_reload_conf()",
        "SELECT pg_rotate_logfile()",
        "SELECT set_config('work_mem', '1GB', false)",
        "SELECT pg_stat_reset()",
        "SELECT pg_create_logical_replication_slot('s', 'test_decoding')",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_xact_lock(1)",
        "SELECT nextval('s')",
        "SELECT setval('s', 1)",
        "SELECT pg_read_binary_file('/etc/passwd')",
        "SELECT pg_stat_file('/etc/passwd')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT pg_some_function_of_a_future_release()",
    ] {
        refused(&guard(), sql, Dialect::Postgres);
    }
    for sql in [
        "SELECT pg_size_pretty(pg_total_relation_size('t'))",
        "SELECT pg_typeof(1), current_setting('TimeZone')",
        "SELECT pg_get_viewdef('v'::regclass)",
    ] {
        passes(&guard(), sql, Dialect::Postgres);
    }
    for sql in [
        "SELECT GET_LOCK('x', 0)",
        "SELECT NEXTVAL(s)",
        "SELECT load_file('/etc/passwd')",
        "SELECT BENCHMARK(10000000, md5('x'))",
    ] {
        refused(&guard(), sql, Dialect::MySql);
    }
    for sql in [
        "SELECT * FROM duckdb_secrets()",
        "SELECT * FROM query('DELETE FROM t')",
        "SELECT * FROM postgres_scan('host=x', 'public', 't')",
        "SELECT json_execute_serialized_sql('{}')",
    ] {
        refused(&guard(), sql, Dialect::DuckDb);
    }
}

#[test]
fn secret_relations_are_refused() {
    for (d, sql) in [
        (Dialect::Postgres, "SELECT * FROM pg_shadow"),
        (Dialect::Postgres, "SELECT * FROM pg_catalog.pg_authid"),
        (Dialect::Postgres, "SELECT * FROM pg_hba_file_rules"),
        (Dialect::Postgres, "SELECT sourcefile FROM pg_file_settings"),
        (Dialect::Postgres, "SELECT query FROM pg_stat_activity"),
        (
            Dialect::Postgres,
            "SELECT * FROM t WHERE EXISTS (SELECT 1 FROM pg_user_mappings)",
        ),
        (Dialect::MySql, "SELECT * FROM mysql.user"),
        (Dialect::MySql, "SELECT * FROM `mysql`.`global_priv`"),
        (
            Dialect::MySql,
            "SELECT info FROM information_schema.PROCESSLIST",
        ),
        (
            Dialect::MySql,
            "SELECT * FROM performance_schema.events_statements_history",
        ),
        (Dialect::Sqlite, "SELECT * FROM sqlite_dbpage"),
    ] {
        let reason = refused(&guard(), sql, d);
        assert!(reason.contains("credentials"), "{sql}: {reason}");
    }
    // A table of one's own called `user`, and a CTE named like a catalog, are fine.
    passes(&guard(), "SELECT * FROM user", Dialect::MySql);
    passes(
        &guard(),
        "WITH pg_stat_activity AS (SELECT 1 AS a) SELECT a FROM pg_stat_activity",
        Dialect::Postgres,
    );
}

#[test]
fn executable_comments_are_refused_in_every_dialect() {
    for d in ALL {
        for sql in [
            "SELECT 'x' /*M!100000 INTO DUMPFILE '/tmp/x' */",
            "SELECT 'x' /*! INTO OUTFILE '/tmp/x' */",
            "SELECT 1 /*!50000 , LOAD_FILE('/etc/passwd') */ FROM t",
        ] {
            let reason = refused(&guard(), sql, d);
            assert!(
                reason.contains("executable comments"),
                "{d:?} {sql}: {reason}"
            );
        }
    }
    // Strings included: where a string ends is exactly what a server and a parser may disagree on.
    refused(&guard(), "SELECT '/*! not code? */' AS s", Dialect::MySql);
    passes(
        &guard(),
        "SELECT '/* a plain comment in a string */' AS s",
        Dialect::MySql,
    );
}

#[test]
fn allocating_functions_are_bounded_on_in_process_engines() {
    for d in [Dialect::DataFusion, Dialect::DuckDb, Dialect::Generic] {
        for sql in [
            "SELECT length(repeat('x', 2000000000))",
            "SELECT lpad('x', 1000000000, 'y')",
            "SELECT repeat('x', (SELECT 2000000000))",
            "SELECT repeat('x', 100000 * 100000)",
        ] {
            let reason = refused(&guard(), sql, d);
            assert!(reason.contains("size argument"), "{d:?} {sql}: {reason}");
        }
        for sql in [
            "SELECT lpad(CAST(id AS VARCHAR), 5, '0') FROM t",
            "SELECT repeat('*', n) FROM t",
            "SELECT rpad(name, length(name) + 2) FROM t",
        ] {
            passes(&guard(), sql, d);
        }
    }
    // Servers bound these themselves (and time out): no rule there.
    passes(
        &guard(),
        "SELECT repeat('x', 2000000000)",
        Dialect::Postgres,
    );
}

#[test]
fn known_false_refusals_pass() {
    let ok = passes(&guard(), "TABLE orders", Dialect::Postgres);
    assert_eq!(ok.sql, "TABLE orders\nLIMIT 10000");
    assert_eq!(ok.tables, ["orders"]);
    passes(
        &guard(),
        "TABLE orders ORDER BY id LIMIT 5",
        Dialect::Postgres,
    );
    let ok = passes(
        &guard(),
        "SELECT * FROM ROWS FROM (generate_series(1, 3), generate_series(1, 2)) AS x(a, b)",
        Dialect::Postgres,
    );
    assert!(ok.sql.contains("ROWS FROM"), "{}", ok.sql);
    refused(
        &guard(),
        "SELECT * FROM ROWS FROM (generate_series(1, 3), pg_sleep(5)) AS x(a, b)",
        Dialect::Postgres,
    );
    passes(&guard(), "SELECT * FROM \"orders.csv\"", Dialect::Postgres);
    passes(&guard(), "SELECT * FROM `orders.csv`", Dialect::MySql);
    let ok = passes(
        &guard(),
        "SELECT region, sum(amount) FROM orders GROUP BY region WITH ROLLUP",
        Dialect::MySql,
    );
    assert!(ok.sql.contains("WITH ROLLUP"), "{}", ok.sql);
    let ok = passes(
        &guard(),
        "SELECT region, sum(amount) FROM orders GROUP BY region WITH ROLLUP LIMIT 50000",
        Dialect::MySql,
    );
    assert!(
        ok.sql.contains("WITH ROLLUP") && ok.sql.contains("LIMIT 10000"),
        "{}",
        ok.sql
    );
    passes(&guard(), "SELECT amount DIV 2 FROM orders", Dialect::MySql);
    passes(
        &guard(),
        "SELECT id DIV 2 AS half FROM orders LIMIT 5",
        Dialect::MySql,
    );
    let ok = passes(&guard(), "PRAGMA table_info(orders)", Dialect::Sqlite);
    assert_eq!(
        (ok.kind, ok.tables.as_slice()),
        (StatementKind::Describe, ["orders".to_string()].as_slice())
    );
    refused(
        &with_policy(None, &["orders"]),
        "PRAGMA table_info(orders)",
        Dialect::Sqlite,
    );
    passes(
        &guard(),
        "SELECT * FROM orders WHERE customer GLOB 'a*'",
        Dialect::Sqlite,
    );
    refused(&guard(), "PRAGMA journal_mode = DELETE", Dialect::Sqlite);
}

#[test]
fn model_replies_lose_their_prose_but_no_statement() {
    use super::clean::sql_from_reply;
    assert_eq!(
        sql_from_reply(
            "Error: query failed: no field t2.dest\n\nFixed Query:\nSELECT COUNT(DISTINCT dest)\n\
             FROM flights\n\nExplanation: the alias was wrong."
        ),
        "SELECT COUNT(DISTINCT dest)\nFROM flights"
    );
    assert_eq!(
        sql_from_reply("WITH a AS (SELECT 1 AS x)\n\nSELECT x\nFROM a\n\nORDER BY x"),
        "WITH a AS (SELECT 1 AS x)\n\nSELECT x\nFROM a\n\nORDER BY x"
    );
    assert_eq!(
        sql_from_reply("SELECT a FROM t; This query lists a."),
        "SELECT a FROM t"
    );
    assert_eq!(
        sql_from_reply("SELECT 'a;b' FROM t; -- done"),
        "SELECT 'a;b' FROM t; -- done"
    );
    assert_eq!(
        sql_from_reply("Sure:\n```sql\nSELECT 1\n```\nDone."),
        "SELECT 1"
    );
    assert_eq!(
        sql_from_reply("I cannot answer that."),
        "I cannot answer that."
    );
    // Statements stay, for the guard to refuse by name.
    for reply in [
        "SELECT 1; DROP TABLE t",
        "SELECT 1;\n\nDROP TABLE t",
        "SELECT 1;\n\nDELETE FROM t",
        "SELECT 1; SELECT 2",
    ] {
        let sql = sql_from_reply(reply);
        assert!(
            refused(&guard(), &sql, Dialect::Generic).contains("statement"),
            "{reply} -> {sql}"
        );
    }
}
