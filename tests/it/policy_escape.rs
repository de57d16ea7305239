//! The data policy of issue 15 against four live engines (PostgreSQL, MariaDB, SQLite,
//! DataFusion): a multi-tenant dataset, a policy-escape corpus, benign queries compared with a
//! pre-filtered copy, and the rewrite overhead.
//!
//! The dataset: three tenants (`acme` = 1, `globex` = 2, `initech` = 3). `orders`,
//! `customers`, `tenants` carry `tenant_id` (an integer attribute), `events` carries
//! `tenant_code` (a string attribute), `regions` is shared, `payroll` is denied, `customers.ssn`
//! is denied and `customers.email` masked; `all_orders` is a view over `orders` (not on
//! DataFusion), which the policy does not name. Every value of tenants 2 and 3 is marked: text
//! holds `-T2-` / `-T3-` (and `t2.example`, `tenant-T2`), numbers (ids, amounts, values) are at
//! least 10,000. The user is tenant 1.
//!
//! Each attempt runs through the guard with the bound policy, then on the engine. It must be
//! refused with a reason, or run and show no other tenant's value, no `SSN-`, no raw e-mail, no
//! `PAYROLL`, no number of 10,000 or more, no `tenant_id` but 1; engine errors may not quote a
//! marked value either. Where the same SQL also runs on the **pre-filtered copy** (a second
//! database holding tenant 1's rows only, `ssn` dropped, `email` already masked, no payroll),
//! both results must be equal as multisets. Error-channel attempts (a division by zero or a
//! failing cast that only another tenant's row would trigger) must behave exactly as on the copy.
//! Benign queries must run on both and be equal.
//!
//! `cargo test --workspace --features metricchat/all-but-duckdb --test it policy_escape --
//! --nocapture` prints the tallies.
#![cfg(all(
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "datafusion"
))]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use metricchat::connector::ConnectorRef;
use metricchat::guard::{BoundPolicy, GuardConfig, Policy, SqlGuard, TablePolicy, UserContext};
use metricchat::{Dialect, Error};
use sqlx::{AssertSqlSafe, Connection};

// ------------------------------------------------------------------------------ the dataset

/// One table: name, columns (`i` integer, `t` text), rows per tenant (`None`: shared).
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, char)],
    rows: Vec<(Option<i64>, Vec<Cell>)>,
}

#[derive(Clone, Debug)]
enum Cell {
    I(i64),
    T(String),
}

fn ix(n: i64) -> usize {
    usize::try_from(n).unwrap()
}

fn base(t: i64) -> i64 {
    if t == 1 { 0 } else { t * 10_000 }
}

fn dataset() -> Vec<Table> {
    let regions = ["north", "south", "east"];
    let statuses = ["open", "paid", "void"];
    let codes = ["", "acme", "globex", "initech"];
    let counts = [(1, 8, 20, 10), (2, 6, 12, 7), (3, 7, 15, 9)];
    let mut tenants = Vec::new();
    let mut customers = Vec::new();
    let mut orders = Vec::new();
    let mut events = Vec::new();
    let mut payroll = Vec::new();
    for (t, nc, no, ne) in counts {
        let b = base(t);
        tenants.push((
            Some(t),
            vec![
                Cell::I(t),
                Cell::T(codes[ix(t)].into()),
                Cell::T(format!("tenant-T{t}")),
            ],
        ));
        for i in 1..=nc {
            customers.push((
                Some(t),
                vec![
                    Cell::I(b + i),
                    Cell::I(t),
                    Cell::T(format!("cust-T{t}-{i}")),
                    Cell::T(format!("c{i}@t{t}.example")),
                    Cell::T(format!("SSN-T{t}-{i:03}")),
                    Cell::T(regions[ix(i % 3)].into()),
                ],
            ));
        }
        for i in 1..=no {
            let amount = if t == 1 { i * 2 } else { b + i * 7 };
            orders.push((
                Some(t),
                vec![
                    Cell::I(b + i),
                    Cell::I(t),
                    Cell::I(b + 1 + (i % nc)),
                    Cell::I(amount),
                    Cell::T(statuses[ix(i % 3)].into()),
                    Cell::T(format!("note-T{t}-{i}")),
                ],
            ));
        }
        for i in 1..=ne {
            events.push((
                Some(t),
                vec![
                    Cell::I(b + i),
                    Cell::T(codes[ix(t)].into()),
                    Cell::T(format!("ev-T{t}-{}", i % 4)),
                    Cell::I(if t == 1 { i } else { b + i }),
                ],
            ));
        }
        for i in 1..=3 {
            payroll.push((
                Some(t),
                vec![
                    Cell::I(t * 100 + i),
                    Cell::I(t),
                    Cell::T(format!("PAYROLL-T{t}-{i}")),
                    Cell::I(70_000 + t * 1_000 + i),
                ],
            ));
        }
    }
    vec![
        Table {
            name: "tenants",
            columns: &[("id", 'i'), ("code", 't'), ("name", 't')],
            rows: tenants,
        },
        Table {
            name: "customers",
            columns: &[
                ("id", 'i'),
                ("tenant_id", 'i'),
                ("name", 't'),
                ("email", 't'),
                ("ssn", 't'),
                ("region", 't'),
            ],
            rows: customers,
        },
        Table {
            name: "orders",
            columns: &[
                ("id", 'i'),
                ("tenant_id", 'i'),
                ("customer_id", 'i'),
                ("amount", 'i'),
                ("status", 't'),
                ("note", 't'),
            ],
            rows: orders,
        },
        Table {
            name: "events",
            columns: &[
                ("id", 'i'),
                ("tenant_code", 't'),
                ("kind", 't'),
                ("value", 'i'),
            ],
            rows: events,
        },
        Table {
            name: "regions",
            columns: &[("code", 't'), ("label", 't')],
            rows: regions
                .iter()
                .map(|r| (None, vec![Cell::T((*r).into()), Cell::T(r.to_uppercase())]))
                .collect(),
        },
        Table {
            name: "payroll",
            columns: &[
                ("id", 'i'),
                ("tenant_id", 'i'),
                ("employee", 't'),
                ("salary", 'i'),
            ],
            rows: payroll,
        },
    ]
}

/// The pre-filtered copy: tenant 1's rows, `ssn` dropped, `email` masked, no payroll.
fn prefiltered() -> Vec<Table> {
    dataset()
        .into_iter()
        .filter(|t| t.name != "payroll")
        .map(|mut t| {
            t.rows.retain(|(tenant, _)| tenant.is_none_or(|x| x == 1));
            if t.name == "customers" {
                t.columns = &[
                    ("id", 'i'),
                    ("tenant_id", 'i'),
                    ("name", 't'),
                    ("email", 't'),
                    ("region", 't'),
                ];
                for (_, row) in &mut t.rows {
                    row.remove(4);
                    row[3] = Cell::T("***".into());
                }
            }
            t
        })
        .collect()
}

pub(crate) fn policy() -> Policy {
    Policy::default()
        .deny_table("payroll")
        .table("tenants", TablePolicy::row_filter("id = :tenant_id"))
        .table("orders", TablePolicy::row_filter("tenant_id = :tenant_id"))
        .table(
            "events",
            TablePolicy::row_filter("tenant_code = :tenant_code"),
        )
        .table(
            "customers",
            TablePolicy::row_filter("tenant_id = :tenant_id")
                .deny_column("ssn")
                .mask_column("email", "'***'"),
        )
}

fn user() -> UserContext {
    UserContext::new("alice@acme")
        .role("analyst")
        .attribute("tenant_id", 1)
        .attribute("tenant_code", "acme")
}

/// `CREATE TABLE` + `INSERT`s (+ the view) for a SQL engine.
fn ddl(tables: &[Table], int: &str, view: bool) -> String {
    let mut sql = String::new();
    for t in tables {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|(c, k)| format!("{c} {}", if *k == 'i' { int } else { "TEXT" }))
            .collect();
        let _ = writeln!(sql, "CREATE TABLE {} ({});", t.name, cols.join(", "));
        for (_, row) in &t.rows {
            let vals: Vec<String> = row
                .iter()
                .map(|c| match c {
                    Cell::I(n) => n.to_string(),
                    Cell::T(s) => format!("'{s}'"),
                })
                .collect();
            let _ = writeln!(sql, "INSERT INTO {} VALUES ({});", t.name, vals.join(", "));
        }
    }
    if view {
        sql.push_str("CREATE VIEW all_orders AS SELECT * FROM orders;\n");
    }
    sql
}

fn batches(tables: &[Table]) -> Vec<(&'static str, RecordBatch)> {
    tables
        .iter()
        .map(|t| {
            let fields: Vec<Field> = t
                .columns
                .iter()
                .map(|(c, k)| {
                    Field::new(
                        *c,
                        if *k == 'i' {
                            DataType::Int64
                        } else {
                            DataType::Utf8
                        },
                        true,
                    )
                })
                .collect();
            let arrays: Vec<ArrayRef> = (0..t.columns.len())
                .map(|j| -> ArrayRef {
                    if t.columns[j].1 == 'i' {
                        Arc::new(Int64Array::from(
                            t.rows
                                .iter()
                                .map(|(_, r)| match &r[j] {
                                    Cell::I(n) => *n,
                                    Cell::T(_) => 0,
                                })
                                .collect::<Vec<_>>(),
                        ))
                    } else {
                        Arc::new(StringArray::from(
                            t.rows
                                .iter()
                                .map(|(_, r)| match &r[j] {
                                    Cell::T(s) => s.clone(),
                                    Cell::I(n) => n.to_string(),
                                })
                                .collect::<Vec<_>>(),
                        ))
                    }
                })
                .collect();
            (
                t.name,
                RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap(),
            )
        })
        .collect()
}

// ------------------------------------------------------------------------------ the corpus

/// Engines an attempt runs on: `*`, or any of `pg`, `my`, `lite`, `df`.
type Attempt = (&'static str, &'static str, &'static str);

/// `(class, engines, sql)`. `{q}` is the engine's identifier quote, `{s}` its schema (the
/// database on MariaDB), `{c}` its catalog (PostgreSQL's database, DataFusion's catalog).
/// Class `error-channel`: an error only another tenant's row would raise.
const ATTEMPTS: &[Attempt] = &[
    // Direct reads.
    ("direct", "*", "SELECT * FROM orders"),
    ("direct", "*", "SELECT * FROM ORDERS"),
    ("direct", "*", "SELECT * FROM Orders o"),
    ("direct", "*", "SELECT o.* FROM orders AS o"),
    ("direct", "*", "SELECT * FROM {q}orders{q}"),
    ("direct", "*", "SELECT * FROM {s}.orders"),
    ("direct", "pg,df", "SELECT * FROM {c}.{s}.orders"),
    ("direct", "*", "SELECT * FROM {q}ORDERS{q}"),
    ("direct", "*", "SELECT * FROM orders WHERE tenant_id = 2"),
    ("direct", "*", "SELECT * FROM orders WHERE tenant_id <> 1"),
    (
        "direct",
        "*",
        "SELECT * FROM orders WHERE 1 = 1 OR tenant_id = 2",
    ),
    (
        "direct",
        "*",
        "SELECT * FROM orders WHERE tenant_id IN (1, 2, 3)",
    ),
    ("direct", "*", "SELECT count(*) FROM orders"),
    ("direct", "*", "SELECT sum(amount) FROM orders"),
    (
        "direct",
        "*",
        "SELECT tenant_id, count(*) FROM orders GROUP BY tenant_id",
    ),
    ("direct", "*", "SELECT max(id) FROM orders"),
    (
        "direct",
        "*",
        "SELECT * FROM orders ORDER BY amount DESC LIMIT 5",
    ),
    (
        "direct",
        "*",
        "SELECT * FROM orders ORDER BY id LIMIT 100 OFFSET 15",
    ),
    ("direct", "*", "SELECT DISTINCT tenant_id FROM orders"),
    ("direct", "*", "SELECT * FROM events"),
    (
        "direct",
        "*",
        "SELECT * FROM events WHERE tenant_code = 'globex'",
    ),
    (
        "direct",
        "*",
        "SELECT * FROM events WHERE tenant_code <> 'acme'",
    ),
    ("direct", "*", "SELECT * FROM tenants"),
    ("direct", "*", "SELECT name FROM tenants WHERE id = 2"),
    ("direct", "*", "SELECT * FROM tenants t1, tenants t2"),
    ("direct", "*", "SELECT * FROM oRdErS"),
    ("direct", "*", "SELECT *   FROM   orders   o"),
    ("direct", "*", "select * from orders -- trailing comment"),
    ("direct", "*", "SELECT/**/*/**/FROM/**/orders"),
    ("direct", "*", "SELECT * FROM orders AS {q}o{q}"),
    ("direct", "*", "SELECT * FROM {s}.{q}orders{q}"),
    ("direct", "*", "SELECT * FROM {q}{s}{q}.{q}orders{q}"),
    ("direct", "lite", "SELECT * FROM [orders]"),
    ("direct", "lite", "SELECT * FROM `orders`"),
    ("direct", "lite", "SELECT * FROM main.ORDERS"),
    ("direct", "pg", "SELECT * FROM U&\"\\006Frders\""),
    ("direct", "*", "SELECT * FROM {q}Orders{q}"),
    (
        "direct",
        "*",
        "SELECT * FROM orders WHERE tenant_id = 1 UNION SELECT * FROM orders WHERE tenant_id = 2",
    ),
    (
        "direct",
        "*",
        "SELECT * FROM orders o WHERE o.tenant_id = (SELECT id FROM tenants WHERE code = 'globex')",
    ),
    (
        "direct",
        "*",
        "SELECT * FROM orders o, orders o2 WHERE o.id = o2.id",
    ),
    (
        "direct",
        "*",
        "SELECT tenant_id FROM orders GROUP BY tenant_id HAVING tenant_id > 1",
    ),
    // Joins.
    (
        "join",
        "*",
        "SELECT * FROM orders o JOIN customers c ON o.customer_id = c.id",
    ),
    (
        "join",
        "*",
        "SELECT * FROM customers c LEFT JOIN orders o ON o.customer_id = c.id",
    ),
    (
        "join",
        "*",
        "SELECT * FROM orders o RIGHT JOIN customers c ON o.customer_id = c.id",
    ),
    (
        "join",
        "pg,df",
        "SELECT * FROM orders o FULL OUTER JOIN customers c ON o.customer_id = c.id",
    ),
    ("join", "*", "SELECT * FROM orders o CROSS JOIN tenants t"),
    (
        "join",
        "*",
        "SELECT * FROM orders o JOIN tenants t ON t.id = o.tenant_id",
    ),
    ("join", "*", "SELECT * FROM orders NATURAL JOIN customers"),
    (
        "join",
        "*",
        "SELECT * FROM orders o JOIN customers c USING (tenant_id)",
    ),
    (
        "join",
        "*",
        "SELECT * FROM regions r LEFT JOIN customers c ON c.region = r.code",
    ),
    (
        "join",
        "*",
        "SELECT * FROM orders a JOIN orders b ON a.id <> b.id WHERE b.tenant_id = 2",
    ),
    (
        "join",
        "*",
        "SELECT * FROM (orders o JOIN customers c ON o.customer_id = c.id)",
    ),
    ("join", "*", "SELECT * FROM orders customers"),
    ("join", "*", "SELECT * FROM regions orders"),
    ("join", "*", "SELECT orders.* FROM regions AS orders"),
    (
        "join",
        "*",
        "SELECT * FROM events e JOIN tenants t ON t.code = e.tenant_code",
    ),
    (
        "join",
        "*",
        "SELECT * FROM orders o LEFT JOIN tenants t ON t.id = o.tenant_id + 1",
    ),
    // Subqueries.
    ("subquery", "*", "SELECT * FROM (SELECT * FROM orders) x"),
    (
        "subquery",
        "*",
        "SELECT * FROM (SELECT * FROM (SELECT * FROM orders) a) b",
    ),
    ("subquery", "*", "SELECT (SELECT count(*) FROM orders) AS n"),
    (
        "subquery",
        "*",
        "SELECT (SELECT max(amount) FROM orders) AS m",
    ),
    (
        "subquery",
        "*",
        "SELECT * FROM regions WHERE EXISTS (SELECT 1 FROM orders WHERE tenant_id = 2)",
    ),
    (
        "subquery",
        "*",
        "SELECT * FROM regions WHERE NOT EXISTS (SELECT 1 FROM orders WHERE tenant_id = 2)",
    ),
    (
        "subquery",
        "*",
        "SELECT * FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE amount > 10000)",
    ),
    (
        "subquery",
        "*",
        "SELECT * FROM regions WHERE code IN (SELECT region FROM customers WHERE tenant_id = 3)",
    ),
    (
        "subquery",
        "*",
        "SELECT id, (SELECT name FROM customers c WHERE c.id = o.customer_id) AS who FROM orders o",
    ),
    (
        "subquery",
        "pg,my",
        "SELECT * FROM orders WHERE amount >= ALL (SELECT amount FROM orders)",
    ),
    (
        "subquery",
        "*",
        "SELECT * FROM orders WHERE amount = (SELECT max(amount) FROM orders)",
    ),
    (
        "subquery",
        "*",
        "SELECT * FROM tenants WHERE id = (SELECT max(tenant_id) FROM orders)",
    ),
    (
        "subquery",
        "*",
        "SELECT count(*) FROM regions HAVING (SELECT count(*) FROM orders) > 0",
    ),
    (
        "subquery",
        "*",
        "SELECT * FROM orders o WHERE o.amount > (SELECT avg(amount) FROM orders i WHERE i.tenant_id = 2)",
    ),
    (
        "subquery",
        "*",
        "SELECT code, (SELECT count(*) FROM customers c WHERE c.region = r.code) AS n FROM regions r",
    ),
    (
        "subquery",
        "*",
        "SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE name LIKE 'cust%')",
    ),
    (
        "subquery",
        "*",
        "SELECT * FROM (SELECT tenant_id, sum(amount) AS s FROM orders GROUP BY tenant_id) t WHERE t.tenant_id = 3",
    ),
    // CTEs.
    (
        "cte",
        "*",
        "WITH x AS (SELECT * FROM orders) SELECT * FROM x",
    ),
    (
        "cte",
        "*",
        "WITH x AS (SELECT * FROM orders WHERE tenant_id = 2) SELECT * FROM x",
    ),
    (
        "cte",
        "*",
        "WITH orders AS (SELECT * FROM orders) SELECT * FROM orders",
    ),
    (
        "cte",
        "*",
        "WITH customers AS (SELECT 1 AS id) SELECT * FROM customers",
    ),
    (
        "cte",
        "*",
        "WITH payroll AS (SELECT * FROM orders) SELECT * FROM payroll",
    ),
    (
        "cte",
        "*",
        "WITH {q}Orders{q} AS (SELECT 1 AS id) SELECT * FROM {q}Orders{q}",
    ),
    (
        "cte",
        "*",
        "WITH a AS (SELECT * FROM orders), b AS (SELECT * FROM a) SELECT * FROM b",
    ),
    (
        "cte",
        "*",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r, orders",
    ),
    (
        "cte",
        "*",
        "WITH x AS (SELECT tenant_id FROM customers) SELECT DISTINCT tenant_id FROM x",
    ),
    (
        "cte",
        "*",
        "WITH RECURSIVE chain(id, cid) AS (SELECT id, customer_id FROM orders WHERE id = 1 UNION ALL SELECT o.id, o.customer_id FROM orders o JOIN chain c ON o.id = c.id + 1) SELECT count(*) FROM chain",
    ),
    (
        "cte",
        "*",
        "WITH x AS (SELECT * FROM customers) SELECT email FROM x",
    ),
    (
        "cte",
        "*",
        "WITH x AS (SELECT * FROM customers) SELECT ssn FROM x",
    ),
    (
        "cte",
        "pg",
        "WITH x AS MATERIALIZED (SELECT * FROM orders) SELECT * FROM x",
    ),
    (
        "cte",
        "*",
        "WITH t AS (SELECT id FROM tenants) SELECT * FROM orders WHERE tenant_id IN (SELECT id FROM t)",
    ),
    // Set operations.
    (
        "setop",
        "*",
        "SELECT id FROM orders UNION SELECT id FROM customers",
    ),
    (
        "setop",
        "*",
        "SELECT id, amount FROM orders UNION ALL SELECT id, salary FROM payroll",
    ),
    (
        "setop",
        "pg,my,df,lite",
        "SELECT tenant_id FROM orders INTERSECT SELECT id FROM tenants",
    ),
    (
        "setop",
        "pg,my,df,lite",
        "SELECT id FROM tenants EXCEPT SELECT tenant_id FROM orders",
    ),
    (
        "setop",
        "*",
        "SELECT * FROM (SELECT * FROM orders UNION ALL SELECT * FROM orders) u",
    ),
    (
        "setop",
        "*",
        "SELECT name FROM customers UNION SELECT kind FROM events",
    ),
    (
        "setop",
        "*",
        "SELECT code FROM regions UNION SELECT name FROM customers",
    ),
    (
        "setop",
        "*",
        "SELECT note FROM orders UNION ALL SELECT name FROM tenants UNION ALL SELECT kind FROM events",
    ),
    // LATERAL.
    (
        "lateral",
        "pg,df",
        "SELECT * FROM regions r, LATERAL (SELECT * FROM customers c WHERE c.region = r.code) x",
    ),
    (
        "lateral",
        "pg",
        "SELECT * FROM customers c CROSS JOIN LATERAL (SELECT * FROM orders o WHERE o.customer_id = c.id) x",
    ),
    (
        "lateral",
        "pg",
        "SELECT * FROM tenants t JOIN LATERAL (SELECT count(*) AS n FROM orders o WHERE o.tenant_id = t.id) x ON true",
    ),
    (
        "lateral",
        "pg",
        "SELECT * FROM regions r LEFT JOIN LATERAL (SELECT max(amount) AS m FROM orders) x ON true",
    ),
    // Denied columns.
    ("column", "*", "SELECT ssn FROM customers"),
    ("column", "*", "SELECT SSN FROM customers"),
    ("column", "*", "SELECT c.ssn FROM customers c"),
    ("column", "*", "SELECT {q}ssn{q} FROM customers"),
    ("column", "*", "SELECT * FROM customers"),
    ("column", "*", "SELECT customers.* FROM customers"),
    ("column", "*", "SELECT c.* FROM customers c"),
    (
        "column",
        "*",
        "SELECT x.ssn FROM (SELECT * FROM customers) x",
    ),
    ("column", "*", "SELECT upper(ssn) FROM customers"),
    ("column", "*", "SELECT count(DISTINCT ssn) FROM customers"),
    ("column", "*", "SELECT * FROM customers WHERE ssn LIKE 'S%'"),
    ("column", "*", "SELECT id FROM customers ORDER BY ssn"),
    ("column", "*", "SELECT id FROM customers GROUP BY ssn, id"),
    ("column", "*", "SELECT {s}.customers.ssn FROM {s}.customers"),
    (
        "column",
        "pg,df",
        "SELECT * FROM customers AS c(a, b, d, e, f)",
    ),
    (
        "column",
        "*",
        "SELECT (SELECT ssn FROM customers LIMIT 1) AS s",
    ),
    ("column", "*", "SELECT length(ssn) FROM customers"),
    (
        "column",
        "*",
        "SELECT * FROM customers WHERE ssn IS NOT NULL",
    ),
    (
        "column",
        "*",
        "SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.ssn > ''",
    ),
    (
        "column",
        "*",
        "SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM customers WHERE ssn = 'x')",
    ),
    ("column", "pg", "SELECT row_to_json(c) FROM customers c"),
    ("column", "pg", "SELECT c FROM customers c"),
    ("column", "pg", "SELECT to_jsonb(c) FROM customers c"),
    // Masked columns.
    ("mask", "*", "SELECT email FROM customers"),
    ("mask", "*", "SELECT DISTINCT email FROM customers"),
    (
        "mask",
        "*",
        "SELECT * FROM customers WHERE email LIKE '%t2%'",
    ),
    (
        "mask",
        "*",
        "SELECT count(*) FROM customers WHERE email LIKE '%example%'",
    ),
    ("mask", "*", "SELECT substr(email, 1, 3) FROM customers"),
    (
        "mask",
        "*",
        "SELECT c.email, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id",
    ),
    ("mask", "*", "SELECT max(email) FROM customers"),
    (
        "mask",
        "*",
        "SELECT x.email FROM (SELECT email FROM customers) x",
    ),
    // The denied table.
    ("table", "*", "SELECT * FROM payroll"),
    ("table", "*", "SELECT * FROM PAYROLL"),
    ("table", "*", "SELECT * FROM {q}payroll{q}"),
    ("table", "*", "SELECT * FROM {s}.payroll"),
    ("table", "*", "SELECT count(*) FROM payroll"),
    (
        "table",
        "*",
        "SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM payroll)",
    ),
    (
        "table",
        "*",
        "SELECT (SELECT max(salary) FROM payroll) AS m",
    ),
    ("table", "*", "SELECT * FROM (SELECT * FROM payroll) p"),
    (
        "table",
        "*",
        "WITH p AS (SELECT * FROM payroll) SELECT * FROM p",
    ),
    ("table", "*", "SELECT id, employee FROM orders, payroll"),
    (
        "table",
        "*",
        "SELECT * FROM orders o JOIN payroll p ON p.tenant_id = o.tenant_id",
    ),
    ("table", "*", "SELECT * FROM {q}PAYROLL{q}"),
    // The view the policy does not name.
    ("view", "*", "SELECT * FROM all_orders"),
    ("view", "*", "SELECT count(*) FROM all_orders"),
    ("view", "*", "SELECT * FROM {s}.all_orders"),
    (
        "view",
        "*",
        "SELECT * FROM orders WHERE id IN (SELECT id FROM all_orders)",
    ),
    ("view", "*", "SELECT * FROM ALL_ORDERS"),
    // System catalogs.
    ("catalog", "*", "SELECT * FROM information_schema.tables"),
    (
        "catalog",
        "*",
        "SELECT * FROM information_schema.columns WHERE table_name = 'customers'",
    ),
    ("catalog", "*", "SELECT * FROM INFORMATION_SCHEMA.COLUMNS"),
    ("catalog", "pg", "SELECT * FROM pg_catalog.pg_tables"),
    ("catalog", "pg", "SELECT * FROM pg_stats"),
    (
        "catalog",
        "pg",
        "SELECT * FROM pg_catalog.pg_stats WHERE tablename = 'customers'",
    ),
    ("catalog", "pg", "SELECT * FROM pg_class"),
    ("catalog", "pg", "SELECT * FROM pg_stat_user_tables"),
    (
        "catalog",
        "pg",
        "SELECT reltuples FROM pg_class WHERE relname = 'orders'",
    ),
    ("catalog", "pg", "SELECT * FROM pg_views"),
    ("catalog", "pg", "SELECT pg_relation_size('orders')"),
    (
        "catalog",
        "pg",
        "SELECT has_table_privilege('payroll', 'SELECT')",
    ),
    ("catalog", "pg", "SELECT to_regclass('payroll')"),
    (
        "catalog",
        "pg",
        "SELECT obj_description('orders'::regclass)",
    ),
    (
        "catalog",
        "pg",
        "SELECT query_to_xml('select * from payroll', true, true, '')",
    ),
    (
        "catalog",
        "pg",
        "SELECT table_to_xml('payroll', true, false, '')",
    ),
    ("catalog", "pg", "SELECT * FROM PG_CATALOG.PG_STATISTIC"),
    ("catalog", "lite", "SELECT * FROM sqlite_master"),
    ("catalog", "lite", "SELECT * FROM sqlite_schema"),
    ("catalog", "lite", "SELECT * FROM main.sqlite_master"),
    (
        "catalog",
        "lite",
        "SELECT * FROM pragma_table_info('customers')",
    ),
    ("catalog", "lite", "SELECT * FROM sqlite_stat1"),
    ("catalog", "lite", "PRAGMA table_info(customers)"),
    ("catalog", "my", "SELECT * FROM mysql.user"),
    (
        "catalog",
        "my",
        "SELECT * FROM information_schema.COLUMN_STATISTICS",
    ),
    (
        "catalog",
        "my",
        "SELECT TABLE_ROWS FROM information_schema.TABLES",
    ),
    (
        "catalog",
        "my",
        "SELECT * FROM performance_schema.events_statements_history",
    ),
    ("catalog", "my", "SHOW COLUMNS FROM customers"),
    ("catalog", "my", "SHOW TABLES"),
    ("catalog", "df", "SHOW TABLES"),
    (
        "catalog",
        "df",
        "SELECT * FROM information_schema.df_settings",
    ),
    ("catalog", "*", "EXPLAIN SELECT * FROM orders"),
    ("catalog", "pg,my,df", "DESCRIBE customers"),
    // Table functions, files, other statements.
    ("function", "pg", "SELECT * FROM generate_series(1, 3)"),
    (
        "function",
        "pg",
        "SELECT * FROM dblink('', 'select * from payroll') AS t(x int)",
    ),
    (
        "function",
        "pg",
        "SELECT * FROM ROWS FROM (generate_series(1, 2))",
    ),
    ("function", "lite", "SELECT * FROM json_each('[1]')"),
    ("function", "df", "SELECT * FROM 'orders.csv'"),
    ("function", "df", "SELECT * FROM read_csv('orders.csv')"),
    ("function", "my", "SELECT load_file('/etc/passwd')"),
    ("function", "pg", "TABLE orders"),
    (
        "function",
        "*",
        "SELECT * FROM orders; SELECT * FROM payroll",
    ),
    ("function", "pg,my", "SELECT * FROM orders FOR UPDATE"),
    ("function", "pg", "SELECT * INTO stolen FROM orders"),
    ("function", "*", "DELETE FROM orders WHERE tenant_id = 2"),
    ("function", "*", "UPDATE customers SET email = ssn"),
    ("function", "pg", "SELECT xmin, id FROM orders"),
    ("function", "pg", "SELECT ctid FROM customers"),
    ("function", "lite", "SELECT rowid, id FROM orders"),
    ("function", "my", "SELECT * FROM orders PARTITION (p0)"),
    ("function", "pg", "SELECT current_query()"),
    // Windows.
    (
        "window",
        "*",
        "SELECT id, row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS rn FROM orders",
    ),
    (
        "window",
        "*",
        "SELECT id, sum(amount) OVER () AS total FROM orders",
    ),
    (
        "window",
        "*",
        "SELECT id, lag(amount) OVER (ORDER BY id) AS prev FROM orders",
    ),
    (
        "window",
        "*",
        "SELECT id, count(*) OVER () AS n FROM customers",
    ),
    // Errors only another tenant's rows would raise.
    (
        "error-channel",
        "*",
        "SELECT * FROM orders WHERE 1 / (amount - 20007) > 0",
    ),
    (
        "error-channel",
        "*",
        "SELECT 1 / (amount - 20007) AS x FROM orders",
    ),
    (
        "error-channel",
        "*",
        "SELECT * FROM customers WHERE 1 / (id - 30001) > 0",
    ),
    (
        "error-channel",
        "*",
        "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id AND 1 / (c.id - 20001) > 0",
    ),
    (
        "error-channel",
        "pg,df",
        "SELECT * FROM orders WHERE CAST(CASE WHEN tenant_id <> 1 THEN note ELSE '1' END AS INTEGER) > 0",
    ),
    (
        "error-channel",
        "pg,df",
        "SELECT * FROM customers WHERE CAST(CASE WHEN tenant_id <> 1 THEN name ELSE '1' END AS INTEGER) = 1",
    ),
    (
        "error-channel",
        "pg,df",
        "SELECT * FROM tenants WHERE CAST(CASE WHEN id <> 1 THEN name ELSE '1' END AS INTEGER) = 1",
    ),
    (
        "error-channel",
        "pg,df",
        "SELECT * FROM events WHERE CAST(CASE WHEN tenant_code <> 'acme' THEN kind ELSE '1' END AS INTEGER) = 1",
    ),
    (
        "error-channel",
        "pg,df",
        "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE CAST(CASE WHEN c.tenant_id <> 1 THEN c.name ELSE '1' END AS INTEGER) = 1",
    ),
    (
        "error-channel",
        "*",
        "SELECT * FROM (SELECT * FROM orders) x WHERE 1 / (x.amount - 30014) > 0",
    ),
];

/// Benign queries: must run under the policy and equal the pre-filtered copy.
const BENIGN: &[(&str, &str)] = &[
    (
        "*",
        "SELECT count(*) AS n, sum(amount) AS total FROM orders",
    ),
    (
        "*",
        "SELECT status, count(*) AS n, sum(amount) AS total FROM orders GROUP BY status ORDER BY status",
    ),
    (
        "*",
        "SELECT c.name, sum(o.amount) AS total FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.name ORDER BY total DESC, c.name",
    ),
    (
        "*",
        "SELECT r.label, count(c.id) AS n FROM regions r LEFT JOIN customers c ON c.region = r.code GROUP BY r.label ORDER BY r.label",
    ),
    (
        "*",
        "WITH big AS (SELECT * FROM orders WHERE amount > 10) SELECT count(*) AS n FROM big",
    ),
    (
        "*",
        "WITH t AS (SELECT customer_id, sum(amount) AS s FROM orders GROUP BY customer_id) SELECT max(s) AS m, min(s) AS lo FROM t",
    ),
    (
        "*",
        "SELECT id, amount, sum(amount) OVER (ORDER BY id) AS running FROM orders ORDER BY id",
    ),
    (
        "*",
        "SELECT id, rank() OVER (PARTITION BY status ORDER BY amount DESC) AS rk FROM orders ORDER BY id",
    ),
    (
        "*",
        "SELECT kind, sum(value) AS v FROM events GROUP BY kind ORDER BY kind",
    ),
    (
        "*",
        "SELECT t.name, count(*) AS n FROM tenants t JOIN orders o ON o.tenant_id = t.id GROUP BY t.name",
    ),
    ("*", "SELECT * FROM customers ORDER BY id"),
    (
        "*",
        "SELECT name, email FROM customers WHERE region = 'north' ORDER BY name",
    ),
    (
        "*",
        "SELECT o.id, c.region, r.label FROM orders o JOIN customers c ON c.id = o.customer_id JOIN regions r ON r.code = c.region ORDER BY o.id",
    ),
    (
        "*",
        "SELECT status FROM orders UNION SELECT region FROM customers ORDER BY 1",
    ),
    (
        "*",
        "SELECT count(*) AS n FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE region = 'south')",
    ),
    (
        "*",
        "SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id AND c.region = 'east') ORDER BY id",
    ),
    (
        "*",
        "SELECT (SELECT count(*) FROM customers) AS c, (SELECT count(*) FROM orders) AS o",
    ),
    (
        "*",
        "SELECT customer_id, avg(amount) AS a FROM orders GROUP BY customer_id HAVING count(*) > 2 ORDER BY customer_id",
    ),
    (
        "*",
        "SELECT e.kind, t.code FROM events e JOIN tenants t ON t.code = e.tenant_code ORDER BY e.id",
    ),
    (
        "*",
        "SELECT o.id, o2.id AS next_id FROM orders o JOIN orders o2 ON o2.id = o.id + 1 ORDER BY o.id",
    ),
    (
        "*",
        "SELECT a.id, b.name, c.label, d.kind, e.code FROM orders a JOIN customers b ON b.id = a.customer_id JOIN regions c ON c.code = b.region JOIN events d ON d.id = a.id JOIN tenants e ON e.id = a.tenant_id ORDER BY a.id",
    ),
];

// ------------------------------------------------------------------------------ running

/// One engine: the policy side and the pre-filtered copy.
pub(crate) struct Engine {
    key: &'static str,
    dialect: Dialect,
    pub(crate) conn: ConnectorRef,
    copy: ConnectorRef,
    quote: &'static str,
    schema: (&'static str, &'static str),
    catalog: (&'static str, &'static str),
}

impl Engine {
    fn sql(&self, template: &str, copy: bool) -> String {
        let pick = |p: (&'static str, &'static str)| if copy { p.1 } else { p.0 };
        template
            .replace("{q}", self.quote)
            .replace("{s}", pick(self.schema))
            .replace("{c}", pick(self.catalog))
    }

    fn runs(&self, engines: &str) -> bool {
        runs(self.key, engines)
    }
}

fn runs(key: &str, engines: &str) -> bool {
    engines == "*" || engines.split(',').any(|e| e == key)
}

fn benign_count(key: &str) -> usize {
    BENIGN.iter().filter(|(en, _)| runs(key, en)).count()
}

#[derive(Default)]
struct Tally {
    attempts: usize,
    refused: usize,
    ran: usize,
    engine_errors: usize,
    compared: usize,
    benign: usize,
    reasons: BTreeMap<String, usize>,
    failures: Vec<String>,
}

async fn guard_for(e: &Engine) -> SqlGuard {
    let catalog = e.conn.catalog().await.unwrap();
    let bound = BoundPolicy::bind(&policy(), Some(&user()), &[(e.conn.info(), catalog)]).unwrap();
    SqlGuard::new(GuardConfig::default()).with_policy(Arc::new(bound))
}

/// Every cell as text, rows sorted (numbers that are whole printed without a fraction).
fn rows_of(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for b in batches {
        let cols: Vec<ArrayRef> = b
            .columns()
            .iter()
            .map(|c| arrow::compute::cast(c, &DataType::Utf8).unwrap_or_else(|_| c.clone()))
            .collect();
        for i in 0..b.num_rows() {
            rows.push(
                cols.iter()
                    .map(|c| {
                        if c.is_null(i) {
                            return "NULL".to_string();
                        }
                        let s = c
                            .as_any()
                            .downcast_ref::<StringArray>()
                            .map(|a| a.value(i).to_string())
                            .unwrap_or_else(|| format!("{:?}", c.slice(i, 1)));
                        match s.parse::<f64>() {
                            Ok(x) if s.contains('.') || s.contains('e') => format!("{x:.6}"),
                            _ => s,
                        }
                    })
                    .collect(),
            );
        }
    }
    rows.sort();
    rows
}

/// What in the result (or error) shows data the user may not see.
fn leak(batches: &[RecordBatch]) -> Option<String> {
    for b in batches {
        for (j, f) in b.schema().fields().iter().enumerate() {
            let col = arrow::compute::cast(b.column(j), &DataType::Utf8)
                .unwrap_or_else(|_| b.column(j).clone());
            let Some(col) = col.as_any().downcast_ref::<StringArray>() else {
                continue;
            };
            for i in 0..col.len() {
                if col.is_null(i) {
                    continue;
                }
                let v = col.value(i);
                if let Some(why) = leak_text(v) {
                    return Some(format!("column {}: {why} ({v})", f.name()));
                }
                if let Ok(n) = v.trim().parse::<f64>()
                    && n >= 10_000.0
                {
                    return Some(format!("column {}: number {v}", f.name()));
                }
                let name = f.name().to_lowercase();
                if name == "tenant_id" && v.trim() != "1" {
                    return Some(format!("tenant_id {v}"));
                }
                if name == "tenant_code" && v != "acme" {
                    return Some(format!("tenant_code {v}"));
                }
            }
        }
    }
    None
}

fn leak_text(v: &str) -> Option<&'static str> {
    const MARKS: [(&str, &str); 9] = [
        ("-T2-", "tenant 2 value"),
        ("-T3-", "tenant 3 value"),
        ("tenant-T2", "tenant 2 value"),
        ("tenant-T3", "tenant 3 value"),
        ("globex", "tenant 2 code"),
        ("initech", "tenant 3 code"),
        ("SSN-", "denied column"),
        (".example", "unmasked e-mail"),
        ("PAYROLL", "denied table"),
    ];
    MARKS
        .iter()
        .find(|(m, _)| v.contains(m))
        .map(|(_, why)| *why)
}

async fn run_on(
    guard: Option<&SqlGuard>,
    conn: &ConnectorRef,
    sql: &str,
) -> Result<Vec<RecordBatch>, Error> {
    let plain = SqlGuard::new(GuardConfig::default());
    let g = guard.unwrap_or(&plain);
    let run = g.run(conn, sql, None);
    match tokio::time::timeout(crate::common::scaled(Duration::from_secs(30)), run).await {
        Ok(r) => r.map(|d| d.batches),
        Err(_) => Err(Error::Internal("timed out".into())),
    }
}

fn first_words(reason: &str) -> String {
    reason
        .split_whitespace()
        .take(6)
        .collect::<Vec<_>>()
        .join(" ")
}

async fn corpus(e: &Engine) -> Tally {
    // A control: without the policy the leak check fires on every kind of hidden data.
    for sql in [
        "SELECT * FROM orders",
        "SELECT ssn FROM customers",
        "SELECT email FROM customers",
        "SELECT * FROM payroll",
        "SELECT count(*) FROM orders WHERE tenant_id = 2",
        "SELECT tenant_code FROM events",
    ] {
        let raw = run_on(None, &e.conn, sql).await.unwrap();
        assert!(
            leak(&raw).is_some() || sql.contains("count"),
            "{}: the leak check misses `{sql}`",
            e.key
        );
    }
    let guard = guard_for(e).await;
    let mut t = Tally::default();
    for (class, engines, template) in ATTEMPTS {
        if !e.runs(engines) {
            continue;
        }
        t.attempts += 1;
        let sql = e.sql(template, false);
        let name = format!("{}: [{class}] {sql}", e.key);
        let mine = run_on(Some(&guard), &e.conn, &sql).await;
        let copy = run_on(None, &e.copy, &e.sql(template, true)).await;
        match &mine {
            Err(Error::SqlRefused { reason, .. }) => {
                t.refused += 1;
                *t.reasons.entry(first_words(reason)).or_default() += 1;
                if reason.trim().is_empty() {
                    t.failures.push(format!("{name}: refused without a reason"));
                }
                if *class == "error-channel" && copy.is_ok() {
                    t.failures
                        .push(format!("{name}: refused, but it runs on the copy"));
                }
            }
            Err(err) => {
                t.engine_errors += 1;
                let text = err.to_string();
                if let Some(why) = leak_text(&text) {
                    t.failures
                        .push(format!("{name}: the engine error shows a {why}: {text}"));
                }
                if *class == "error-channel" && copy.is_ok() {
                    t.failures.push(format!(
                        "{name}: fails under the policy ({text}) but not on the copy: an \
                         other tenant's row was evaluated"
                    ));
                }
            }
            Ok(batches) => {
                t.ran += 1;
                if let Some(why) = leak(batches) {
                    t.failures.push(format!("{name}: LEAK {why}"));
                }
                if let Ok(expected) = &copy {
                    t.compared += 1;
                    if rows_of(batches) != rows_of(expected) {
                        t.failures.push(format!(
                            "{name}: differs from the pre-filtered copy:\n  policy {:?}\n  copy   {:?}",
                            rows_of(batches).into_iter().take(5).collect::<Vec<_>>(),
                            rows_of(expected).into_iter().take(5).collect::<Vec<_>>()
                        ));
                    }
                }
            }
        }
    }
    for (engines, template) in BENIGN {
        if !e.runs(engines) {
            continue;
        }
        let sql = e.sql(template, false);
        let mine = run_on(Some(&guard), &e.conn, &sql).await;
        let copy = run_on(None, &e.copy, &e.sql(template, true)).await;
        match (mine, copy) {
            (Ok(a), Ok(b)) => {
                if rows_of(&a) != rows_of(&b) {
                    t.failures.push(format!(
                        "{}: benign `{sql}` differs from the copy:\n  policy {:?}\n  copy   {:?}",
                        e.key,
                        rows_of(&a).into_iter().take(5).collect::<Vec<_>>(),
                        rows_of(&b).into_iter().take(5).collect::<Vec<_>>()
                    ));
                } else if a.iter().map(RecordBatch::num_rows).sum::<usize>() == 0 {
                    t.failures
                        .push(format!("{}: benign `{sql}` returned no rows", e.key));
                } else {
                    t.benign += 1;
                }
            }
            (a, b) => t.failures.push(format!(
                "{}: benign `{sql}` failed: policy {:?}, copy {:?}",
                e.key,
                a.err().map(|e| e.to_string()),
                b.err().map(|e| e.to_string())
            )),
        }
    }
    t
}

fn report(key: &str, t: &Tally) {
    let mut out = format!(
        "\n=== policy escape corpus on {} ===\nattempts {} · refused by the guard {} · ran (rewritten) {} · \
         engine errors {} · compared with the copy {} · benign equal {}/{}\n",
        key,
        t.attempts,
        t.refused,
        t.ran,
        t.engine_errors,
        t.compared,
        t.benign,
        benign_count(key)
    );
    for (reason, n) in &t.reasons {
        let _ = writeln!(out, "  {n:>3} × refused: {reason} …");
    }
    for f in &t.failures {
        let _ = writeln!(out, "  FAIL {f}");
    }
    eprintln!("{out}");
}

fn assert_clean(key: &str, t: &Tally) {
    report(key, t);
    assert!(
        t.failures.is_empty(),
        "{key}: {} failures (see above)",
        t.failures.len()
    );
    assert_eq!(
        t.benign,
        benign_count(key),
        "{key}: not every benign query passed"
    );
}

/// The corpus has the size the issue asks for, on every engine.
#[test]
fn the_corpus_has_at_least_150_attempts_per_engine() {
    for key in ["pg", "my", "lite", "df"] {
        let n = ATTEMPTS
            .iter()
            .filter(|(_, en, _)| *en == "*" || en.split(',').any(|x| x == key))
            .count();
        assert!(n >= 150, "{key}: only {n} attempts");
    }
}

// ------------------------------------------------------------------------------ engines

const DB: &str = "mc_policy";
const DB_COPY: &str = "mc_policy_pf";
const READER: &str = "mc_policy_reader";

fn with_user_db(base: &url::Url, user: &str, db: &str) -> url::Url {
    let mut u = base.clone();
    u.set_username(user).unwrap();
    u.set_password(None).unwrap();
    u.set_path(&format!("/{db}"));
    u.set_query(None);
    u
}

async fn pg_exec(url: &url::Url, sql: &str) {
    let mut c = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = c.close().await;
}

async fn my_exec(url: &url::Url, sql: &str) {
    let mut c = sqlx::MySqlConnection::connect(url.as_str()).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = c.close().await;
}

static PG_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Creates both PostgreSQL databases and the reader role; returns the admin URL.
async fn pg_setup(base: &str) -> url::Url {
    let base = url::Url::parse(base).unwrap();
    let admin_user = if base.username().is_empty() {
        "postgres".to_string()
    } else {
        base.username().to_string()
    };
    let admin = with_user_db(&base, &admin_user, base.path().trim_start_matches('/'));
    for db in [DB, DB_COPY] {
        pg_exec(
            &admin,
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        )
        .await;
    }
    pg_exec(&admin, &format!("DROP ROLE IF EXISTS {READER}")).await;
    pg_exec(&admin, &format!("CREATE ROLE {READER} LOGIN")).await;
    for (db, tables, view) in [(DB, dataset(), true), (DB_COPY, prefiltered(), false)] {
        pg_exec(&admin, &format!("CREATE DATABASE {db}")).await;
        let url = with_user_db(&base, &admin_user, db);
        pg_exec(&url, &ddl(&tables, "BIGINT", view)).await;
        pg_exec(
            &url,
            &format!(
                "ANALYZE; GRANT CONNECT ON DATABASE {db} TO {READER}; \
                 GRANT USAGE ON SCHEMA public TO {READER}; \
                 GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER};"
            ),
        )
        .await;
    }
    admin
}

async fn pg_engine(base: &str) -> Engine {
    let base = url::Url::parse(base).unwrap();
    Engine {
        key: "pg",
        dialect: Dialect::Postgres,
        conn: metricchat::connect(with_user_db(&base, READER, DB).as_str()).unwrap(),
        copy: metricchat::connect(with_user_db(&base, READER, DB_COPY).as_str()).unwrap(),
        quote: "\"",
        schema: ("public", "public"),
        catalog: (DB, DB_COPY),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_escape_corpus_on_postgres() {
    let Some(base) = metricchat_testkit::service_url_or_skip(
        "MC_TEST_POSTGRES_URL",
        "policy_escape_corpus_on_postgres",
    ) else {
        return;
    };
    let _lock = PG_LOCK.lock().await;
    let admin = pg_setup(&base).await;
    let e = pg_engine(&base).await;
    assert_eq!(e.dialect, e.conn.info().dialect);
    let t = corpus(&e).await;
    drop(e);
    for db in [DB, DB_COPY] {
        pg_exec(
            &admin,
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        )
        .await;
    }
    pg_exec(&admin, &format!("DROP ROLE IF EXISTS {READER}")).await;
    assert_clean("pg", &t);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_escape_corpus_on_mariadb() {
    let Some(base) = metricchat_testkit::service_url_or_skip(
        "MC_TEST_MYSQL_URL",
        "policy_escape_corpus_on_mariadb",
    ) else {
        return;
    };
    let base = url::Url::parse(&base).unwrap();
    let root = with_user_db(
        &base,
        if base.username().is_empty() {
            "root"
        } else {
            base.username()
        },
        "",
    );
    let mut sql = String::new();
    for host in ["%", "localhost", "127.0.0.1"] {
        let _ = write!(sql, "DROP USER IF EXISTS '{READER}'@'{host}';");
    }
    for db in [DB, DB_COPY] {
        let _ = write!(sql, "DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};");
    }
    for host in ["%", "localhost", "127.0.0.1"] {
        let _ = write!(
            sql,
            "CREATE USER '{READER}'@'{host}'; GRANT SELECT ON {DB}.* TO '{READER}'@'{host}'; \
             GRANT SELECT ON {DB_COPY}.* TO '{READER}'@'{host}';"
        );
    }
    my_exec(&root, &sql).await;
    for (db, tables, view) in [(DB, dataset(), true), (DB_COPY, prefiltered(), false)] {
        my_exec(
            &with_user_db(&base, root.username(), db),
            &ddl(&tables, "BIGINT", view),
        )
        .await;
    }
    let e = Engine {
        key: "my",
        dialect: Dialect::MySql,
        conn: metricchat::connect(with_user_db(&base, READER, DB).as_str()).unwrap(),
        copy: metricchat::connect(with_user_db(&base, READER, DB_COPY).as_str()).unwrap(),
        quote: "`",
        schema: (DB, DB_COPY),
        catalog: ("", ""),
    };
    assert_eq!(e.dialect, e.conn.info().dialect);
    let t = corpus(&e).await;
    let mut sql = String::new();
    for db in [DB, DB_COPY] {
        let _ = write!(sql, "DROP DATABASE IF EXISTS {db};");
    }
    for host in ["%", "localhost", "127.0.0.1"] {
        let _ = write!(sql, "DROP USER IF EXISTS '{READER}'@'{host}';");
    }
    my_exec(&root, &sql).await;
    assert_clean(e.key, &t);
}

async fn sqlite_file(dir: &std::path::Path, name: &str, tables: &[Table], view: bool) -> String {
    let path = dir.join(name);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "{} ANALYZE;",
        ddl(tables, "INTEGER", view)
    )))
    .execute(&mut c)
    .await
    .unwrap();
    let _ = c.close().await;
    format!("sqlite://{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_escape_corpus_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let main = sqlite_file(dir.path(), "tenants.db", &dataset(), true).await;
    let copy = sqlite_file(dir.path(), "tenant1.db", &prefiltered(), false).await;
    let e = Engine {
        key: "lite",
        dialect: Dialect::Sqlite,
        conn: metricchat::connect(&main).unwrap(),
        copy: metricchat::connect(&copy).unwrap(),
        quote: "\"",
        schema: ("main", "main"),
        catalog: ("", ""),
    };
    assert_eq!(e.dialect, e.conn.info().dialect);
    let t = corpus(&e).await;
    assert_clean(e.key, &t);
}

pub(crate) fn df_engine() -> Engine {
    let make = |name: &str, tables: &[Table]| -> ConnectorRef {
        let mut c = metricchat::connectors::datafusion::DataFusionConnector::new(name);
        for (table, batch) in batches(tables) {
            c = c.with_batches(table, vec![batch]).unwrap();
        }
        Arc::new(c)
    };
    Engine {
        key: "df",
        dialect: Dialect::DataFusion,
        conn: make("tenants", &dataset()),
        copy: make("tenant1", &prefiltered()),
        quote: "\"",
        schema: ("public", "public"),
        catalog: ("datafusion", "datafusion"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_escape_corpus_on_datafusion() {
    let e = df_engine();
    assert_eq!(e.dialect, e.conn.info().dialect);
    let t = corpus(&e).await;
    assert_clean(e.key, &t);
}

/// Rewrite overhead: `check_on` of a five-join query with and without the bound policy
/// (criterion-free; run with `-- --ignored --nocapture policy_rewrite_overhead`, in a release
/// build for the real figure).
#[tokio::test]
#[ignore = "a measurement: run it by name"]
async fn policy_rewrite_overhead() {
    let e = df_engine();
    let guard = guard_for(&e).await;
    let plain = SqlGuard::new(GuardConfig::default());
    let sql = BENIGN
        .iter()
        .find(|(_, s)| s.contains("JOIN tenants e"))
        .unwrap()
        .1;
    let measure = |g: &SqlGuard| {
        let mut times = Vec::new();
        for _ in 0..2_000 {
            let t = Instant::now();
            let out = g
                .check_on(sql, Dialect::DataFusion, Some("tenants"))
                .unwrap();
            std::hint::black_box(out);
            times.push(t.elapsed());
        }
        times.sort();
        (times[times.len() / 2], times[times.len() * 99 / 100])
    };
    let (p50_plain, p99_plain) = measure(&plain);
    let (p50, p99) = measure(&guard);
    eprintln!(
        "5-join query, guard check: without policy p50 {p50_plain:?} p99 {p99_plain:?}; \
         with the policy (rewrite of 4 protected references) p50 {p50:?} p99 {p99:?}; \
         overhead p50 {:?} p99 {:?}",
        p50.saturating_sub(p50_plain),
        p99.saturating_sub(p99_plain)
    );
}
