//! Unit tests of the data policy: binding errors, the rewrite's shape, the strict refusals.
//! The live proof on four engines is the facade's `tests/it/policy_escape.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use super::*;
use crate::connector::{Capabilities, ColumnInfo, TableRef};
use crate::guard::{GuardConfig, GuardedSql, SqlGuard};

fn info(dialect: Dialect) -> ConnectorInfo {
    ConnectorInfo {
        name: "wh".into(),
        backend: "test".into(),
        dialect,
        capabilities: Capabilities::none(),
    }
}

fn table(name: &str, kind: TableKind, cols: &[&str]) -> TableSchema {
    TableSchema {
        table: TableRef::qualified("public", name),
        kind,
        columns: cols
            .iter()
            .map(|c| ColumnInfo {
                name: (*c).into(),
                data_type: "text".into(),
                nullable: true,
                comment: None,
            })
            .collect(),
        comment: None,
        primary_key: Vec::new(),
        foreign_keys: Vec::new(),
        row_estimate: None,
    }
}

fn catalog() -> Vec<TableSchema> {
    vec![
        table(
            "orders",
            TableKind::Table,
            &["id", "tenant_id", "customer_id", "amount"],
        ),
        table(
            "customers",
            TableKind::Table,
            &["id", "tenant_id", "name", "email", "ssn"],
        ),
        table("regions", TableKind::Table, &["code", "label"]),
        table("payroll", TableKind::Table, &["id", "salary"]),
        table("all_orders", TableKind::View, &["id", "amount"]),
    ]
}

fn policy() -> Policy {
    Policy::default()
        .allow_tables(["orders", "customers", "regions"])
        .table("orders", TablePolicy::row_filter("tenant_id = :tenant_id"))
        .table(
            "customers",
            TablePolicy::row_filter("tenant_id = :tenant_id")
                .deny_column("ssn")
                .mask_column("email", "'***'"),
        )
}

fn user() -> UserContext {
    UserContext::new("alice").attribute("tenant_id", 1)
}

fn guard_for(dialect: Dialect) -> SqlGuard {
    let bound = BoundPolicy::bind(&policy(), Some(&user()), &[(info(dialect), catalog())]).unwrap();
    SqlGuard::new(GuardConfig::default()).with_policy(Arc::new(bound))
}

#[track_caller]
fn ok(sql: &str, dialect: Dialect) -> GuardedSql {
    match guard_for(dialect).check_on(sql, dialect, Some("wh")) {
        Ok(g) => g,
        Err(e) => panic!("{dialect:?}: `{sql}` refused: {e}"),
    }
}

#[track_caller]
fn refused(sql: &str, dialect: Dialect) -> String {
    match guard_for(dialect).check_on(sql, dialect, Some("wh")) {
        Ok(g) => panic!("{dialect:?}: `{sql}` passed as `{}`", g.sql),
        Err(Error::SqlRefused { reason, .. }) => reason,
        Err(e) => panic!("{dialect:?}: `{sql}` failed with {e}"),
    }
}

const LIVE: [Dialect; 4] = [
    Dialect::Postgres,
    Dialect::MySql,
    Dialect::Sqlite,
    Dialect::DataFusion,
];

#[test]
fn a_filtered_table_becomes_a_filtered_column_restricted_derived_table_under_its_alias() {
    let g = ok("SELECT o.amount FROM orders o", Dialect::Postgres);
    assert_eq!(
        g.sql,
        "SELECT o.amount FROM (SELECT \"id\", \"tenant_id\", \"customer_id\", \"amount\" FROM \
         orders WHERE (tenant_id = (1)) LIMIT 9223372036854775807) o\nLIMIT 10000"
    );
    assert_eq!(g.policy, ["public.orders: rows filtered"]);
    let g = ok("SELECT * FROM customers", Dialect::MySql);
    assert!(g.sql.contains("('***') AS `email`"), "{}", g.sql);
    assert!(!g.sql.contains("ssn"), "{}", g.sql);
    assert!(g.sql.contains(") AS customers"), "{}", g.sql);
    assert_eq!(g.policy, ["public.customers: rows filtered -ssn ~email"]);
}

#[test]
fn every_reference_is_rewritten_at_any_depth() {
    for d in LIVE {
        for sql in [
            "SELECT * FROM regions r JOIN orders o ON true",
            "SELECT (SELECT count(*) FROM orders) AS n",
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM orders WHERE amount > 0)",
            "SELECT * FROM customers WHERE id IN (SELECT customer_id FROM orders)",
            "WITH x AS (SELECT * FROM orders) SELECT * FROM x",
            "SELECT id FROM orders UNION ALL SELECT id FROM customers",
            "SELECT * FROM (SELECT * FROM (SELECT * FROM ORDERS) a) b",
            "SELECT * FROM public.Orders",
            "SELECT * FROM \"orders\"",
        ] {
            let sql = if d == Dialect::MySql {
                sql.replace('"', "`")
            } else {
                sql.to_string()
            };
            let g = ok(&sql, d);
            let n = g.sql.matches("9223372036854775807").count();
            let refs = sql.to_lowercase().matches("orders").count()
                + sql.to_lowercase().matches("customers").count();
            assert_eq!(n, refs, "{d:?}: {sql} -> {}", g.sql);
            assert!(g.sql.contains("tenant_id = (1)"), "{}", g.sql);
        }
    }
}

#[test]
fn lateral_and_nested_joins_are_rewritten() {
    let g = ok(
        "SELECT * FROM regions r, LATERAL (SELECT * FROM orders o WHERE o.id > 0) x",
        Dialect::Postgres,
    );
    assert_eq!(g.sql.matches("tenant_id = (1)").count(), 1, "{}", g.sql);
    let g = ok(
        "SELECT * FROM (orders o JOIN customers c ON o.customer_id = c.id)",
        Dialect::Postgres,
    );
    assert_eq!(g.sql.matches("tenant_id = (1)").count(), 2, "{}", g.sql);
}

#[test]
fn strict_refusals_name_the_reason() {
    for d in LIVE {
        assert!(refused("SELECT * FROM payroll", d).contains("payroll"));
        assert!(refused("SELECT * FROM all_orders", d).contains("not"));
        assert!(!refused("SELECT * FROM information_schema.columns", d).is_empty());
        assert!(refused("WITH orders AS (SELECT 1 AS id) SELECT * FROM orders", d).contains("CTE"));
        assert!(refused("SELECT ssn FROM customers", d).contains("ssn"));
        assert!(refused("SELECT c.SSN FROM customers c", d).contains("ssn"));
    }
    // Without an allow list, the strict checks give their own reason.
    let open = |d: Dialect| {
        let p =
            Policy::default().table("orders", TablePolicy::row_filter("tenant_id = :tenant_id"));
        let b = BoundPolicy::bind(&p, Some(&user()), &[(info(d), catalog())]).unwrap();
        SqlGuard::new(GuardConfig::default()).with_policy(Arc::new(b))
    };
    for (sql, d) in [
        ("SELECT * FROM pg_stats", Dialect::Postgres),
        ("SELECT * FROM information_schema.columns", Dialect::MySql),
        ("SELECT * FROM sqlite_master", Dialect::Sqlite),
    ] {
        let err = open(d)
            .check_on(sql, d, Some("wh"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("system catalog"), "{sql}: {err}");
    }
    let err = open(Dialect::Postgres)
        .check_on("SELECT * FROM all_orders", Dialect::Postgres, Some("wh"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("view"), "{err}");
    assert!(
        refused("SELECT * FROM generate_series(1, 3)", Dialect::Postgres)
            .contains("table function")
    );
    assert!(
        refused(
            "SELECT has_table_privilege('orders', 'select')",
            Dialect::Postgres
        )
        .contains("function")
    );
    assert!(refused("EXPLAIN SELECT * FROM orders", Dialect::Postgres).contains("only SELECT"));
    assert!(refused("SHOW TABLES", Dialect::MySql).contains("only SELECT"));
    assert!(refused("PRAGMA table_info(customers)", Dialect::Sqlite).contains("PRAGMA"));
    assert!(refused("TABLE orders", Dialect::Postgres).contains("data policy"));
}

#[test]
fn a_connection_without_a_bound_policy_is_refused() {
    let g = guard_for(Dialect::Postgres);
    let err = g
        .check_on("SELECT 1", Dialect::Postgres, Some("other"))
        .unwrap_err();
    assert!(err.to_string().contains("no data policy"), "{err}");
}

#[test]
fn bad_policies_are_typed_errors() {
    let cat = [(info(Dialect::Postgres), catalog())];
    let bind = |p: Policy, u: Option<&UserContext>| BoundPolicy::bind(&p, u, &cat);
    let reason = |r: Result<BoundPolicy>| match r {
        Err(Error::Policy { reason }) => reason,
        Err(e) => panic!("not a policy error: {e}"),
        Ok(_) => panic!("bound"),
    };
    let r = reason(bind(
        Policy::default().table("nope", TablePolicy::all_rows()),
        None,
    ));
    assert!(r.contains("nope"), "{r}");
    let r = reason(bind(
        Policy::default().table("orders", TablePolicy::all_rows().deny_column("nope")),
        None,
    ));
    assert!(r.contains("nope"), "{r}");
    let r = reason(bind(
        Policy::default().table("orders", TablePolicy::row_filter("tenant_id = = :t")),
        Some(&user()),
    ));
    assert!(r.contains("does not parse"), "{r}");
    let r = reason(bind(
        Policy::default().table("orders", TablePolicy::row_filter("tenant_id = :tenant_id")),
        None,
    ));
    assert!(r.contains("tenant_id"), "{r}");
    let r = reason(bind(
        Policy::default().table("orders", TablePolicy::row_filter("tenant_id = :org")),
        Some(&user()),
    ));
    assert!(r.contains("org"), "{r}");
    let r = reason(bind(
        Policy::default().table("orders", TablePolicy::row_filter("tenant_id IN (SELECT 1)")),
        Some(&user()),
    ));
    assert!(r.contains("subquer"), "{r}");
    let r = reason(bind(
        Policy::default().table("orders", TablePolicy::row_filter("other_col = 1")),
        Some(&user()),
    ));
    assert!(r.contains("other_col"), "{r}");
}

#[test]
fn values_are_typed_literals_never_text() {
    let evil = UserContext::new("mallory").attribute("tenant_id", "1' OR '1'='1");
    let p = Policy::default().table("orders", TablePolicy::row_filter("tenant_id = :tenant_id"));
    let bound =
        BoundPolicy::bind(&p, Some(&evil), &[(info(Dialect::Postgres), catalog())]).unwrap();
    let g = SqlGuard::new(GuardConfig::default())
        .with_policy(Arc::new(bound))
        .check_on("SELECT * FROM orders", Dialect::Postgres, Some("wh"))
        .unwrap();
    assert!(
        g.sql.contains("tenant_id = ('1'' OR ''1''=''1')"),
        "{}",
        g.sql
    );
    // On MySQL a backslash would read differently: refused at bind time, with the reason.
    let evil = UserContext::new("mallory").attribute("tenant_id", "x\\' OR 1=1 -- ");
    let err = BoundPolicy::bind(&p, Some(&evil), &[(info(Dialect::MySql), catalog())]).unwrap_err();
    assert!(matches!(err, Error::Policy { .. }), "{err}");
    // Lists bind to IN (…); numbers and booleans stay numbers and booleans.
    let p = Policy::default().table("orders", TablePolicy::row_filter("tenant_id IN (:tenants)"));
    let u = UserContext::new("bob").attribute("tenants", serde_json::json!([1, 2, -3]));
    let bound = BoundPolicy::bind(&p, Some(&u), &[(info(Dialect::Sqlite), catalog())]).unwrap();
    let g = SqlGuard::new(GuardConfig::default())
        .with_policy(Arc::new(bound))
        .check_on("SELECT * FROM orders", Dialect::Sqlite, Some("wh"))
        .unwrap();
    assert!(g.sql.contains("tenant_id IN (1, 2, -3)"), "{}", g.sql);
}

#[test]
fn a_plain_allow_list_keeps_the_guard_as_it_was() {
    let p = Policy::default().allow_tables(["orders"]);
    let bound = BoundPolicy::bind(&p, None, &[(info(Dialect::Postgres), catalog())]).unwrap();
    let g = SqlGuard::new(GuardConfig::default()).with_policy(Arc::new(bound));
    let ok = g
        .check_on("SELECT * FROM orders", Dialect::Postgres, Some("wh"))
        .unwrap();
    assert_eq!(ok.sql, "SELECT * FROM orders\nLIMIT 10000");
    assert!(
        g.check_on("SELECT * FROM regions", Dialect::Postgres, Some("wh"))
            .is_err()
    );
}

#[test]
fn visibility_answers_for_the_context_hub() {
    let bound = BoundPolicy::bind(
        &policy(),
        Some(&user()),
        &[(info(Dialect::Postgres), catalog())],
    )
    .unwrap();
    assert!(bound.table_visible("wh", "public.orders"));
    assert!(!bound.table_visible("wh", "payroll"));
    assert!(!bound.table_visible("wh", "all_orders"));
    assert_eq!(bound.denied_columns("wh", "customers"), ["ssn"]);
    assert!(bound.restricts_rows_or_values("wh", "public.customers"));
    assert!(!bound.restricts_rows_or_values("wh", "regions"));
}
