//! Context hub at warehouse scale: building the schema index of a 10,000-table,
//! 200,000-column catalog, and selecting tables for a question in it.
//!
//! `cargo bench -p metricchat-core --bench context`. Targets from issue 5: build under 2 s,
//! one selection under 20 ms on the project's 2-core machine. Timings are reported, never
//! asserted.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use metricchat_core::connector::{
    Capabilities, ColumnInfo, ConnectorInfo, Dialect, ForeignKey, TableRef, TableSchema,
};
use metricchat_core::context::{ContextConfig, ContextHub};

const DOMAINS: &[&str] = &[
    "sales",
    "orders",
    "customer",
    "inventory",
    "shipment",
    "payroll",
    "marketing",
    "campaign",
    "web",
    "session",
    "product",
    "supplier",
    "finance",
    "ledger",
    "invoice",
    "support",
    "ticket",
    "hr",
    "employee",
    "logistics",
    "warehouse",
    "returns",
    "pricing",
    "promo",
    "subscription",
    "billing",
    "fraud",
    "risk",
    "sensor",
    "device",
];
const THINGS: &[&str] = &[
    "events", "facts", "daily", "snapshot", "summary", "detail", "history", "lines", "items",
    "dim", "stage", "raw", "agg", "monthly", "weekly", "log", "map", "audit", "queue", "score",
];
const COLUMNS: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "amount",
    "qty",
    "status",
    "region",
    "country",
    "city",
    "name",
    "email",
    "price",
    "discount",
    "tax",
    "total",
    "currency",
    "channel",
    "source",
    "category",
    "segment",
    "score",
    "rank",
    "duration",
    "count",
    "flag",
    "type",
    "code",
    "description",
    "owner",
    "team",
    "start_date",
    "end_date",
    "latitude",
    "longitude",
    "sku",
    "revenue",
    "cost",
    "margin",
    "weight",
    "volume",
];

/// A deterministic catalog: `tables` tables of `cols` columns, with a few foreign keys.
fn catalog(tables: usize, cols: usize) -> Vec<TableSchema> {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % 1_000_003).unwrap_or(0)
    };
    (0..tables)
        .map(|i| {
            let name = format!(
                "{}_{}_{i}",
                DOMAINS[next() % DOMAINS.len()],
                THINGS[next() % THINGS.len()]
            );
            let columns = (0..cols)
                .map(|c| ColumnInfo {
                    name: format!(
                        "{}_{}{c}",
                        DOMAINS[next() % DOMAINS.len()],
                        COLUMNS[next() % COLUMNS.len()]
                    ),
                    data_type: "text".into(),
                    nullable: true,
                    comment: (c % 5 == 0).then(|| {
                        format!(
                            "The {} of the {}",
                            COLUMNS[next() % COLUMNS.len()],
                            THINGS[next() % THINGS.len()]
                        )
                    }),
                })
                .collect();
            TableSchema {
                table: TableRef::qualified(format!("s{}", i % 100), name),
                kind: Default::default(),
                columns,
                comment: Some(format!("{} data", DOMAINS[next() % DOMAINS.len()])),
                primary_key: Vec::new(),
                foreign_keys: (i % 10 == 0 && i > 0)
                    .then(|| ForeignKey {
                        columns: vec!["id".into()],
                        references: TableRef::qualified(
                            format!("s{}", (i - 1) % 100),
                            format!("t{}", i - 1),
                        ),
                        referenced_columns: vec!["id".into()],
                    })
                    .into_iter()
                    .collect(),
                row_estimate: Some(1_000),
            }
        })
        .collect()
}

fn info() -> ConnectorInfo {
    ConnectorInfo {
        name: "warehouse".into(),
        backend: "bench".into(),
        dialect: Dialect::Postgres,
        capabilities: Capabilities::none(),
    }
}

fn bench(c: &mut Criterion) {
    let schemas = catalog(10_000, 20);
    let mut g = c.benchmark_group("context_hub_10k_tables_200k_columns");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("build_index", |b| {
        b.iter_batched(
            || schemas.clone(),
            |schemas| {
                let hub = ContextHub::new(ContextConfig::default(), Vec::new());
                hub.add_catalog(info(), schemas).ok();
                // The index is built on first use.
                black_box(hub.select_tables("x", 1));
            },
            BatchSize::LargeInput,
        );
    });
    let hub = ContextHub::new(ContextConfig::default(), Vec::new());
    hub.add_catalog(info(), schemas.clone()).ok();
    let _ = hub.select_tables("warm", 1);
    for q in [
        "total revenue by region for subscription billing last month",
        "which support tickets took the longest duration per team",
    ] {
        g.bench_function(format!("select_tables: {q}"), |b| {
            b.iter(|| black_box(hub.select_tables(black_box(q), 4_000)));
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
