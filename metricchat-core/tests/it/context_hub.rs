//! The context hub at scale: table selection, budgets, families, scope of instructions and
//! memories, knowledge and explain (fitting a conversation into the window is a unit test of
//! `agent/window.rs`, since `fit_messages` is internal).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use chrono::Utc;
use metricchat_core::connector::{
    Capabilities, ColumnInfo, ConnectorInfo, Dialect, ForeignKey, TableRef, TableSchema,
};
use metricchat_core::context::tokens::BpeCounter;
use metricchat_core::context::{ContextConfig, ContextHub, ContextHubBuilder};
use metricchat_core::instructions::{Instruction, InstructionStatus, Memory, Origin, Scope};
use metricchat_core::knowledge::{
    FieldKind, Resource, ResourceField, ResourceKind, ResourceSource,
};
use uuid::Uuid;

fn info(name: &str) -> ConnectorInfo {
    ConnectorInfo {
        name: name.into(),
        backend: "test".into(),
        dialect: Dialect::Postgres,
        capabilities: Capabilities::none(),
    }
}

fn col(name: &str, ty: &str) -> ColumnInfo {
    ColumnInfo {
        name: name.into(),
        data_type: ty.into(),
        nullable: true,
        comment: None,
    }
}

fn table(schema: &str, name: &str, cols: &[(&str, &str)]) -> TableSchema {
    TableSchema {
        table: TableRef::qualified(schema, name),
        kind: Default::default(),
        columns: cols.iter().map(|(n, t)| col(n, t)).collect(),
        comment: None,
        primary_key: Vec::new(),
        foreign_keys: Vec::new(),
        row_estimate: None,
    }
}

/// A warehouse: a sales star schema among `decoys` unrelated tables of 20 columns each.
fn warehouse(decoys: usize) -> Vec<TableSchema> {
    let mut orders = table(
        "sales",
        "fct_orders",
        &[
            ("order_id", "bigint"),
            ("customer_id", "bigint"),
            ("order_date", "date"),
            ("net_revenue", "numeric(12,2)"),
            ("status", "text"),
        ],
    );
    orders.primary_key = vec!["order_id".into()];
    orders.foreign_keys = vec![ForeignKey {
        columns: vec!["customer_id".into()],
        references: TableRef::qualified("sales", "dim_customers"),
        referenced_columns: vec!["customer_id".into()],
    }];
    orders.comment = Some("One row per order.".into());
    let mut customers = table(
        "sales",
        "dim_customers",
        &[
            ("customer_id", "bigint"),
            ("region", "text"),
            ("segment", "text"),
        ],
    );
    customers.primary_key = vec!["customer_id".into()];
    let mut out = vec![orders, customers];
    let topics = [
        "inventory",
        "shipment",
        "payroll",
        "ticket",
        "campaign",
        "sensor",
        "ledger",
        "survey",
    ];
    for i in 0..decoys {
        let topic = topics[i % topics.len()];
        let cols: Vec<(String, &str)> = (0..20)
            .map(|c| (format!("{topic}_attr_{c}"), "text"))
            .collect();
        let cols: Vec<(&str, &str)> = cols.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        out.push(table(
            &format!("ops{}", i % 50),
            &format!("{topic}_t{i}"),
            &cols,
        ));
    }
    out
}

fn hub_with(config: ContextConfig, schemas: Vec<TableSchema>) -> ContextHub {
    hub_from(ContextHub::builder().config(config), schemas)
}

fn hub_from(builder: ContextHubBuilder, schemas: Vec<TableSchema>) -> ContextHub {
    let hub = builder.build();
    hub.add_catalog(info("wh"), schemas).unwrap();
    hub
}

#[test]
fn picks_the_fact_table_and_follows_its_foreign_key_among_10000_tables() {
    let started = Instant::now();
    let hub = hub_with(ContextConfig::default(), warehouse(10_000));
    let sel = hub.select_tables("net revenue by region last quarter", 4_000);
    let built = started.elapsed();
    let names: Vec<String> = sel.iter().map(|s| s.table.to_string()).collect();
    assert_eq!(names[0], "sales.fct_orders", "{names:?}");
    assert!(
        names.contains(&"sales.dim_customers".to_string()),
        "{names:?}"
    );
    assert!(sel[0].columns.contains(&"net_revenue".to_string()));
    assert!(
        sel.iter().any(
            |s| s.table.name == "dim_customers" && s.reason.contains("region")
                || s.reason.contains("foreign key")
        ),
        "{sel:?}"
    );
    // The second selection reuses the index.
    let t0 = Instant::now();
    let _ = hub.select_tables("orders by segment", 4_000);
    assert!(
        t0.elapsed() < built,
        "selection should not rebuild the index"
    );
}

#[test]
fn selection_and_every_section_stay_within_budget() {
    let mut config = ContextConfig::default();
    config.schema_tokens = 300;
    config.index_tokens = 100;
    let hub = ContextHub::builder()
        .config(config)
        .token_counter(std::sync::Arc::new(BpeCounter::cl100k()))
        .build();
    hub.add_catalog(info("wh"), warehouse(500)).unwrap();
    let sel = hub.select_tables("inventory ledger shipment payroll", 300);
    let used: usize = sel.iter().map(|s| s.tokens).sum();
    assert!(!sel.is_empty() && used <= 300, "{used}");
    let plan = hub.plan_cached("inventory ledger shipment payroll");
    for s in &plan.sections {
        if s.budget > 0 {
            assert!(
                s.tokens <= s.budget + 20,
                "{} {} > {}",
                s.name,
                s.tokens,
                s.budget
            );
        }
    }
    let index = plan.section("table_index");
    assert!(
        index.contains("… and"),
        "the index says how many were left out: {index}"
    );
    assert!(plan.sections.iter().any(|s| s.omitted > 0));

    // A small window shrinks every budget so the static sections take at most half of it.
    let mut small = ContextConfig::default();
    small.context_window = Some(2_048);
    let e = small.effective();
    assert!(
        e.schema_tokens + e.index_tokens + e.rules_tokens + e.memory_tokens + e.knowledge_tokens
            <= 1_024
    );
    let hub = hub_with(small, warehouse(500));
    let plan = hub.plan_cached("inventory by sensor");
    assert!(plan.total_tokens() <= 1_024 + 50, "{}", plan.total_tokens());
}

#[test]
fn wide_tables_show_the_question_columns_and_name_the_rest() {
    let cols: Vec<(String, &str)> = (0..300)
        .map(|i| (format!("metric_{i}"), "double"))
        .collect();
    let mut cols: Vec<(&str, &str)> = cols.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    cols.push(("churn_flag", "boolean"));
    let hub = hub_with(
        ContextConfig::default(),
        vec![table("crm", "customer_features", &cols)],
    );
    let plan = hub.plan_cached("customer churn");
    let schema = plan.section("schema");
    assert!(schema.contains("churn_flag boolean"), "{schema}");
    assert!(schema.contains("more columns: "), "{schema}");
    assert!(schema.lines().count() < 60);
}

#[test]
fn date_sharded_tables_are_one_family_shown_through_the_named_member() {
    let mut schemas = Vec::new();
    for year in 1990..2024 {
        schemas.push(table(
            "noaa",
            &format!("gsod{year}"),
            &[("stn", "text"), ("temp", "double"), ("prcp", "double")],
        ));
    }
    schemas.push(table(
        "noaa",
        "stations",
        &[("usaf", "text"), ("name", "text")],
    ));
    schemas.push(table(
        "noaa",
        "tsunami_events",
        &[("id", "int"), ("wave", "double")],
    ));
    let hub = hub_with(ContextConfig::default(), schemas);
    let sel = hub.select_tables("average temperature per station in 2019 gsod", 4_000);
    let gsod = sel.iter().find(|s| s.family.is_some()).expect("a family");
    assert_eq!(gsod.table.name, "gsod2019");
    assert_eq!(gsod.family.as_ref().unwrap().tables.len(), 34);
    assert_eq!(gsod.family.as_ref().unwrap().pattern, "gsod*");
    let plan = hub.plan_cached("average temperature per station in 2019 gsod");
    assert!(plan.section("schema").contains("one of 34 tables gsod*"));
}

fn instruction(text: &str, status: InstructionStatus, scope: Scope) -> Instruction {
    Instruction {
        id: Uuid::now_v7(),
        text: text.into(),
        status,
        scope,
        labels: Vec::new(),
        source: Origin::User,
        run_id: None,
        usage_count: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[test]
fn only_approved_instructions_in_scope_reach_the_prompt() {
    let hub = hub_with(ContextConfig::default(), warehouse(50));
    hub.add_rule("Amounts are in EUR.");
    hub.set_instructions(vec![
        instruction(
            "Revenue means net_revenue.",
            InstructionStatus::Approved,
            Scope::Global,
        ),
        instruction(
            "Draft: ignore cancelled orders.",
            InstructionStatus::Draft,
            Scope::Global,
        ),
        instruction(
            "Archived: use gross revenue.",
            InstructionStatus::Archived,
            Scope::Global,
        ),
        instruction(
            "Exclude status = 'test' orders.",
            InstructionStatus::Approved,
            Scope::Tables {
                connection: None,
                tables: vec!["fct_orders".into()],
            },
        ),
        instruction(
            "Payroll is confidential.",
            InstructionStatus::Approved,
            Scope::Tables {
                connection: None,
                tables: vec!["payroll_t2".into()],
            },
        ),
        instruction(
            "Only for the other warehouse.",
            InstructionStatus::Approved,
            Scope::Connection {
                connection: "lake".into(),
            },
        ),
    ]);
    let plan = hub.plan_cached("net revenue by region");
    let rules = plan.section("rules");
    assert!(rules.contains("Amounts are in EUR."));
    assert!(rules.contains("Revenue means net_revenue."));
    assert!(rules.contains("Exclude status = 'test' orders."), "{rules}");
    for absent in [
        "Draft:",
        "Archived:",
        "Payroll is confidential",
        "other warehouse",
    ] {
        assert!(!rules.contains(absent), "{absent} leaked: {rules}");
    }
    // Table-scoped first: they are the most specific.
    assert_eq!(plan.instructions[0].text, "Exclude status = 'test' orders.");
    let explain = plan.explain();
    assert!(
        explain.contains("[tables fct_orders] Exclude status"),
        "{explain}"
    );
}

#[test]
fn memories_in_scope_most_relevant_first_within_budget() {
    let mut config = ContextConfig::default();
    config.memory_tokens = 40;
    let hub = hub_with(config, warehouse(10));
    let memory = |text: &str, scope: Scope| Memory {
        id: Uuid::now_v7(),
        text: text.into(),
        scope,
        labels: Vec::new(),
        source: Origin::Agent,
        run_id: Some(Uuid::now_v7()),
        created_at: Utc::now(),
    };
    hub.set_memories(vec![
        memory("The fiscal year starts in April.", Scope::Global),
        memory("Region EMEA includes Turkey.", Scope::Global),
        memory(
            "Lake timestamps are UTC.",
            Scope::Connection {
                connection: "lake".into(),
            },
        ),
        memory(&"Filler fact about nothing. ".repeat(10), Scope::Global),
    ]);
    let plan = hub.plan_cached("revenue by region EMEA");
    let mem = plan.section("memories");
    assert!(mem.starts_with("Facts recorded earlier"));
    assert!(mem.contains("Region EMEA includes Turkey."), "{mem}");
    assert!(!mem.contains("Lake timestamps"));
    assert!(
        plan.sections
            .iter()
            .any(|s| s.name == "memories" && s.omitted >= 1)
    );
}

#[test]
fn knowledge_describes_tables_ranks_them_and_is_searchable() {
    let tables = vec![
        table(
            "analytics",
            "t_ord",
            &[("amt", "numeric"), ("cid", "bigint")],
        ),
        table("analytics", "t_evt", &[("kind", "text")]),
    ];
    let knowledge = ContextHub::builder().resources(vec![
        Resource {
            id: "dbt:model.shop.t_ord".into(),
            source: ResourceSource::Dbt,
            kind: ResourceKind::Model,
            name: "t_ord".into(),
            label: None,
            description: Some("Customer purchases, one row per order".into()),
            tables: vec!["prod.analytics.t_ord".into()],
            fields: vec![ResourceField {
                name: "amt".into(),
                kind: FieldKind::Column,
                label: None,
                description: Some("Order amount in EUR after discounts".into()),
                data_type: None,
                expression: None,
                column: Some("amt".into()),
                tests: vec!["not_null".into()],
            }],
            sql: None,
            related: Vec::new(),
            tags: Vec::new(),
            path: None,
            meta: Default::default(),
        },
        Resource {
            id: "lookml:view.t_ord".into(),
            source: ResourceSource::LookMl,
            kind: ResourceKind::Explore,
            name: "purchases".into(),
            label: Some("Purchases".into()),
            description: None,
            tables: vec!["analytics.t_ord".into()],
            fields: vec![ResourceField {
                name: "total_sales".into(),
                kind: FieldKind::Measure,
                label: None,
                description: Some("Sum of order amounts".into()),
                data_type: Some("number".into()),
                expression: Some("SUM(${TABLE}.amt)".into()),
                column: None,
                tests: Vec::new(),
            }],
            sql: None,
            related: Vec::new(),
            tags: Vec::new(),
            path: None,
            meta: Default::default(),
        },
    ]);
    let hub = hub_from(knowledge, tables);
    // Only the knowledge says t_ord holds purchases.
    let sel = hub.select_tables("total purchases per customer", 4_000);
    assert_eq!(sel[0].table.name, "t_ord");
    let plan = hub.plan_cached("total purchases per customer");
    let schema = plan.section("schema");
    assert!(
        schema.contains("-- Customer purchases, one row per order"),
        "{schema}"
    );
    assert!(
        schema.contains("amt numeric -- Order amount in EUR"),
        "{schema}"
    );
    assert!(
        schema.contains("measure total_sales: SUM(${TABLE}.amt)"),
        "{schema}"
    );
    assert!(plan.section("knowledge").contains("purchases"), "{plan:?}");
    let hits = hub.search_knowledge("sales measure", 3);
    assert_eq!(hits[0].id.as_deref(), Some("lookml:view.t_ord"));
}

/// A toy embedding model: one dimension per concept, set when a text mentions it.
#[derive(Debug)]
struct ConceptEmbedder;

#[async_trait::async_trait]
impl metricchat_core::context::Embedder for ConceptEmbedder {
    async fn embed(&self, texts: &[String]) -> metricchat_core::Result<Vec<Vec<f32>>> {
        let concepts: [&[&str]; 3] = [
            &["aircraft", "tailnum", "plane", "fleet"],
            &["money", "amount", "revenue"],
            &["weather", "wind", "temp"],
        ];
        Ok(texts
            .iter()
            .map(|t| {
                let t = t.to_lowercase();
                concepts
                    .iter()
                    .map(|ws| f32::from(u8::from(ws.iter().any(|w| t.contains(w)))))
                    .collect()
            })
            .collect())
    }
}

#[tokio::test]
async fn an_embedder_finds_tables_the_words_miss() {
    // Two tables in full at most, so three are not a "small catalog" shown whole.
    let mut config = ContextConfig::default();
    config.max_full_tables = 2;
    let tables = || {
        vec![
            table("ops", "t_x1", &[("tailnum", "text"), ("seats", "int")]),
            table("fin", "t_y2", &[("amount", "numeric")]),
            table("env", "t_z3", &[("wind", "double")]),
        ]
    };
    let hub = hub_with(config.clone(), tables());
    // No word of the question is in any table.
    assert!(
        hub.select_tables("How many aircraft do we have?", 4_000)
            .is_empty()
    );
    // The same tables, with an embedder.
    let hub = hub_from(
        ContextHub::builder()
            .config(config)
            .embedder(std::sync::Arc::new(ConceptEmbedder)),
        tables(),
    );
    let sel = hub
        .select_tables_semantic("How many aircraft do we have?", 4_000)
        .await
        .unwrap();
    assert_eq!(sel[0].table.name, "t_x1", "{sel:?}");
    assert_eq!(sel.len(), 1);
}
