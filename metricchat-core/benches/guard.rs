//! The data policy's cost per query (issue 15): the guard's `check_on` of a five-join query
//! over four row-filtered tables (one with a denied and a masked column), with and without the
//! policy bound to a user. The difference is the rewrite: every protected reference becomes a
//! filtered, column-restricted derived table.
//!
//! `cargo bench -p metricchat-core --bench guard`. Target from issue 15: the rewrite adds under
//! 1 ms at p99. Besides criterion's estimate it prints p50/p99 of 20,000 single checks of each
//! kind measured in the same run. Timings are reported, never asserted.

// A bench whose fixed query or policy stopped passing should stop loudly.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use metricchat_core::connector::{
    Capabilities, ColumnInfo, ConnectorInfo, Dialect, TableRef, TableSchema,
};
use metricchat_core::guard::{
    BoundPolicy, GuardConfig, Policy, SqlGuard, TablePolicy, UserContext,
};

const SQL: &str = "SELECT a.id, b.name, c.label, d.kind, e.code FROM orders a \
                   JOIN customers b ON b.id = a.customer_id JOIN regions c ON c.code = b.region \
                   JOIN events d ON d.id = a.id JOIN tenants e ON e.id = a.tenant_id ORDER BY a.id";

fn table(name: &str, columns: &[&str]) -> TableSchema {
    TableSchema {
        table: TableRef::qualified("public", name),
        kind: Default::default(),
        columns: columns
            .iter()
            .map(|c| ColumnInfo {
                name: (*c).into(),
                data_type: if c.ends_with("id") { "integer" } else { "text" }.into(),
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

fn info() -> ConnectorInfo {
    ConnectorInfo {
        name: "warehouse".into(),
        backend: "bench".into(),
        dialect: Dialect::Postgres,
        capabilities: Capabilities::none(),
    }
}

fn guards() -> (SqlGuard, SqlGuard) {
    let catalog = vec![
        table("tenants", &["id", "code", "name"]),
        table("orders", &["id", "tenant_id", "customer_id", "amount"]),
        table(
            "customers",
            &["id", "tenant_id", "name", "region", "ssn", "email"],
        ),
        table("regions", &["code", "label"]),
        table("events", &["id", "tenant_code", "kind"]),
        table("payroll", &["id", "salary"]),
    ];
    let policy = Policy::default()
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
        );
    let user = UserContext::new("alice@acme")
        .attribute("tenant_id", 1)
        .attribute("tenant_code", "acme");
    let bound = BoundPolicy::bind(&policy, Some(&user), &[(info(), catalog)])
        .expect("the bench policy binds");
    let plain = SqlGuard::new(GuardConfig::default());
    let with_policy = SqlGuard::new(GuardConfig::default()).with_policy(Arc::new(bound));
    (plain, with_policy)
}

/// p50 and p99 of `n` checks.
fn percentiles(guard: &SqlGuard, n: usize) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            black_box(
                guard
                    .check_on(black_box(SQL), Dialect::Postgres, Some("warehouse"))
                    .expect("the bench query passes"),
            );
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[n / 2], times[n * 99 / 100])
}

fn bench(c: &mut Criterion) {
    let (plain, with_policy) = guards();
    let rewritten = with_policy
        .check_on(SQL, Dialect::Postgres, Some("warehouse"))
        .expect("the bench query passes");
    eprintln!("rewritten: {rewritten:?}");
    // Warm both, then measure them interleaved in this run.
    percentiles(&plain, 2_000);
    percentiles(&with_policy, 2_000);
    let (p50_plain, p99_plain) = percentiles(&plain, 20_000);
    let (p50, p99) = percentiles(&with_policy, 20_000);
    eprintln!(
        "five-join query, guard check_on, 20,000 each: without policy p50 {p50_plain:?} p99 \
         {p99_plain:?}; with the bound policy (4 protected references rewritten) p50 {p50:?} \
         p99 {p99:?}; the rewrite adds p50 {:?}, p99 {:?} (target: p99 under 1 ms)",
        p50.saturating_sub(p50_plain),
        p99.saturating_sub(p99_plain)
    );
    let mut g = c.benchmark_group("guard_five_join_query");
    g.bench_function("without_policy", |b| {
        b.iter(|| plain.check_on(black_box(SQL), Dialect::Postgres, Some("warehouse")))
    });
    g.bench_function("with_policy", |b| {
        b.iter(|| with_policy.check_on(black_box(SQL), Dialect::Postgres, Some("warehouse")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
