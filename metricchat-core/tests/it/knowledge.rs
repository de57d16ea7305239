//! Knowledge parsers against realistic dbt, LookML and Tableau files
//! (`tests/fixtures/knowledge`).

use std::path::{Path, PathBuf};

use metricchat_core::ErrorKind;
use metricchat_core::knowledge::{
    FieldKind, Knowledge, Resource, ResourceKind, ResourceSource, dbt, load_path, lookml, tableau,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/knowledge")
}

fn find<'a>(resources: &'a [Resource], id: &str) -> &'a Resource {
    resources.iter().find(|r| r.id == id).unwrap_or_else(|| {
        let ids: Vec<&str> = resources.iter().map(|r| r.id.as_str()).collect();
        panic!("no resource {id}; have {ids:?}")
    })
}

fn field<'a>(r: &'a Resource, name: &str) -> &'a metricchat_core::knowledge::ResourceField {
    r.field(name)
        .unwrap_or_else(|| panic!("{} has no field {name}", r.id))
}

fn field_names(r: &Resource) -> Vec<&str> {
    r.fields.iter().map(|f| f.name.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// dbt

fn dbt_resources() -> Vec<Resource> {
    dbt::load_dir(&fixtures().join("dbt")).unwrap()
}

#[test]
fn dbt_model_has_documented_columns_tests_and_catalog_types() {
    let all = dbt_resources();
    let orders = find(&all, "dbt:model.jaffle_shop.orders");
    assert_eq!(orders.source, ResourceSource::Dbt);
    assert_eq!(orders.kind, ResourceKind::Model);
    assert_eq!(orders.tables, vec!["jaffle_shop.main.orders"]);
    assert_eq!(
        orders.description.as_deref(),
        Some("Order facts: one row per order, with its payment amounts by method.")
    );
    assert_eq!(orders.path.as_deref(), Some("models/orders.sql"));
    assert_eq!(orders.tags, vec!["marts", "finance"]);
    assert!(orders.sql.as_deref().unwrap().contains("left join"));

    // Columns in warehouse order (catalog `index`), undocumented ones included.
    assert_eq!(
        field_names(orders),
        vec![
            "order_id",
            "customer_id",
            "order_date",
            "status",
            "CREDIT_CARD_AMOUNT",
            "amount"
        ]
    );
    let status = field(orders, "status");
    assert_eq!(status.kind, FieldKind::Column);
    assert!(
        status
            .description
            .as_deref()
            .unwrap()
            .contains("Most orders are completed")
    );
    assert_eq!(status.data_type.as_deref(), Some("VARCHAR"));
    assert_eq!(
        status.tests,
        vec!["accepted_values: ['placed', 'shipped', 'completed', 'return_pending', 'returned']"]
    );
    assert_eq!(field(orders, "order_id").tests, vec!["not_null", "unique"]);
    assert_eq!(
        field(orders, "customer_id").tests,
        vec!["relationships: customers.customer_id"]
    );
    let cc = field(orders, "credit_card_amount");
    assert_eq!(
        cc.description.as_deref(),
        Some("Amount paid by credit card.")
    );
    assert_eq!(cc.data_type.as_deref(), Some("DOUBLE"));

    // The relationships test links the two models; model-level tests and stats are kept.
    assert!(
        orders
            .related
            .contains(&"dbt:model.jaffle_shop.customers".to_owned())
    );
    assert!(
        orders
            .related
            .contains(&"dbt:model.jaffle_shop.stg_orders".to_owned())
    );
    assert_eq!(
        orders.meta.get("tests").map(String::as_str),
        Some("dbt_utils.expression_is_true(expression='amount >= 0')")
    );
    assert_eq!(orders.meta.get("row_count").map(String::as_str), Some("99"));
    assert_eq!(
        orders.meta.get("owner").map(String::as_str),
        Some("analytics")
    );
    assert_eq!(
        orders.meta.get("materialized").map(String::as_str),
        Some("table")
    );

    // A constraint and tests on the same column, without duplicates.
    let customers = find(&all, "dbt:model.jaffle_shop.customers");
    assert_eq!(
        field(customers, "customer_id").tests,
        vec!["not_null", "unique"]
    );
    assert_eq!(
        field(customers, "number_of_orders").data_type.as_deref(),
        Some("BIGINT")
    );
    assert!(!customers.meta.contains_key("row_count"));

    // A test written by an older dbt (no `attached_node`) still finds its model.
    let stg = find(&all, "dbt:model.jaffle_shop.stg_orders");
    assert_eq!(
        field(stg, "customer_id").tests,
        vec!["relationships: raw_customers.id"]
    );
    assert!(
        stg.related
            .contains(&"dbt:source.jaffle_shop.ecom.raw_orders".to_owned())
    );

    // Seeds are resources; tests, analyses and singular tests are not.
    assert_eq!(
        find(&all, "dbt:seed.jaffle_shop.raw_customers").kind,
        ResourceKind::Seed
    );
    assert!(
        all.iter()
            .all(|r| !r.id.starts_with("dbt:test.") && !r.id.starts_with("dbt:analysis."))
    );
}

#[test]
fn dbt_source_reads_relation_and_catalog() {
    let all = dbt_resources();
    let src = find(&all, "dbt:source.jaffle_shop.ecom.raw_orders");
    assert_eq!(src.kind, ResourceKind::Source);
    assert_eq!(src.tables, vec!["raw.ecom.raw_orders"]);
    assert_eq!(src.label.as_deref(), Some("ecom.raw_orders"));
    assert_eq!(
        src.description.as_deref(),
        Some("One record per order. Includes cancelled and deleted orders.")
    );
    assert_eq!(src.meta.get("loader").map(String::as_str), Some("fivetran"));
    assert_eq!(
        field_names(src),
        vec!["id", "user_id", "order_date", "status"]
    );
    assert_eq!(
        field(src, "id").description.as_deref(),
        Some("Order id in the shop system.")
    );
}

#[test]
fn dbt_semantic_model_and_metrics_link_to_the_table() {
    let all = dbt_resources();
    let sm = find(&all, "dbt:semantic_model.jaffle_shop.orders");
    assert_eq!(sm.kind, ResourceKind::SemanticModel);
    assert_eq!(sm.label.as_deref(), Some("Orders"));
    assert_eq!(sm.tables, vec!["jaffle_shop.main.orders"]);
    assert!(
        sm.related
            .contains(&"dbt:model.jaffle_shop.orders".to_owned())
    );
    assert!(
        sm.related
            .contains(&"dbt:metric.jaffle_shop.revenue".to_owned())
    );
    assert_eq!(
        sm.meta.get("agg_time_dimension").map(String::as_str),
        Some("order_date")
    );

    let customer = field(sm, "customer");
    assert_eq!(customer.kind, FieldKind::Entity);
    assert_eq!(customer.data_type.as_deref(), Some("foreign"));
    assert_eq!(customer.column.as_deref(), Some("customer_id"));
    let total = field(sm, "order_total");
    assert_eq!(total.kind, FieldKind::Measure);
    assert_eq!(total.data_type.as_deref(), Some("sum"));
    assert_eq!(total.expression.as_deref(), Some("amount"));
    assert_eq!(total.label.as_deref(), Some("Order Total"));
    let date = field(sm, "order_date");
    assert_eq!(date.kind, FieldKind::Dimension);
    assert_eq!(date.data_type.as_deref(), Some("time (day)"));
    assert_eq!(date.column.as_deref(), Some("order_date"));
    let large = field(sm, "is_large_order");
    assert_eq!(large.expression.as_deref(), Some("amount > 100"));
    assert_eq!(large.column, None);

    let revenue = find(&all, "dbt:metric.jaffle_shop.revenue");
    assert_eq!(revenue.kind, ResourceKind::Metric);
    assert_eq!(revenue.label.as_deref(), Some("Revenue"));
    assert_eq!(revenue.sql.as_deref(), Some("SUM(amount)"));
    assert_eq!(revenue.tables, vec!["jaffle_shop.main.orders"]);
    assert_eq!(
        revenue.related,
        vec!["dbt:semantic_model.jaffle_shop.orders"]
    );
    assert_eq!(revenue.meta.get("type").map(String::as_str), Some("simple"));

    let completed = find(&all, "dbt:metric.jaffle_shop.completed_revenue");
    assert_eq!(
        completed.meta.get("filter").map(String::as_str),
        Some("{{ Dimension('order_id__status') }} = 'completed'")
    );
    let aov = find(&all, "dbt:metric.jaffle_shop.average_order_value");
    assert_eq!(aov.sql.as_deref(), Some("revenue / NULLIF(order_count, 0)"));
    assert!(
        aov.related
            .contains(&"dbt:metric.jaffle_shop.revenue".to_owned())
    );
    assert_eq!(aov.tables, vec!["jaffle_shop.main.orders"]);
    let derived = find(&all, "dbt:metric.jaffle_shop.revenue_per_customer");
    assert_eq!(derived.sql.as_deref(), Some("revenue / customers"));
    assert_eq!(
        derived.meta.get("metrics").map(String::as_str),
        Some("revenue, customers_with_orders")
    );
}

#[test]
fn dbt_manifest_without_catalog_still_has_columns() {
    let manifest = std::fs::read_to_string(fixtures().join("dbt/manifest.json")).unwrap();
    let all = dbt::parse_manifest(&manifest, None).unwrap();
    let orders = find(&all, "dbt:model.jaffle_shop.orders");
    assert_eq!(
        field_names(orders),
        vec!["order_id", "customer_id", "order_date", "status", "amount"]
    );
    assert_eq!(
        field(orders, "order_id").data_type.as_deref(),
        Some("integer")
    );
    assert_eq!(field(orders, "status").data_type, None);
    assert!(!orders.meta.contains_key("row_count"));
}

#[test]
fn dbt_malformed_json_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("manifest.json"),
        "{\n  \"metadata\": {},\n  \"nodes\": {\n    \"model.x.y\": {\"name\": \"y\",}\n  }\n}",
    )
    .unwrap();
    let err = dbt::load_dir(dir.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(
        msg.contains("manifest.json") && msg.contains("line 4"),
        "{msg}"
    );

    // A good manifest with a broken catalog names the catalog.
    std::fs::write(
        dir.path().join("manifest.json"),
        r#"{"metadata": {"dbt_schema_version": "v12"}, "nodes": {}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("catalog.json"), "{\"nodes\": [").unwrap();
    let msg = dbt::load_dir(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("catalog.json"), "{msg}");

    // Valid JSON that is not a manifest; a missing target.
    let err = dbt::parse_manifest(r#"{"name": "package.json"}"#, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = dbt::load_dir(&dir.path().join("nope")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

// ---------------------------------------------------------------------------------------------
// LookML

fn lookml_resources() -> Vec<Resource> {
    lookml::load_dir(&fixtures().join("lookml")).unwrap()
}

#[test]
fn lookml_view_fields_measures_and_dimension_groups() {
    let all = lookml_resources();
    let orders = find(&all, "lookml:view.orders");
    assert_eq!(orders.source, ResourceSource::LookMl);
    assert_eq!(orders.kind, ResourceKind::View);
    assert_eq!(orders.tables, vec!["jaffle_shop.main.orders"]);
    assert_eq!(orders.path.as_deref(), Some("views/orders.view.lkml"));

    let id = field(orders, "id");
    assert_eq!(id.kind, FieldKind::Dimension);
    assert_eq!(id.column.as_deref(), Some("order_id"));
    assert_eq!(id.data_type.as_deref(), Some("number"));
    assert_eq!(id.tests, vec!["primary_key"]);
    let status = field(orders, "status");
    assert_eq!(status.label.as_deref(), Some("Order Status"));
    assert_eq!(status.expression.as_deref(), Some("${TABLE}.status"));

    let revenue = field(orders, "total_revenue");
    assert_eq!(revenue.kind, FieldKind::Measure);
    assert_eq!(revenue.data_type.as_deref(), Some("sum"));
    assert_eq!(revenue.expression.as_deref(), Some("${amount}"));
    assert_eq!(
        revenue.description.as_deref(),
        Some("Sum of order amounts in USD, returns included.")
    );
    assert_eq!(
        field(orders, "completed_revenue").tests,
        vec!["filters: [status: completed]"]
    );
    // A SQL body spanning lines.
    assert_eq!(
        field(orders, "average_order_value").expression.as_deref(),
        Some("1.0 * ${total_revenue}\n         / NULLIF(${count}, 0)")
    );
    assert_eq!(field(orders, "count").expression, None);

    // dimension_group: one field per timeframe, Looker's names.
    let created: Vec<&str> = field_names(orders)
        .into_iter()
        .filter(|n| n.starts_with("created_"))
        .collect();
    assert_eq!(
        created,
        vec![
            "created_raw",
            "created_date",
            "created_week",
            "created_month",
            "created_quarter",
            "created_year"
        ]
    );
    let month = field(orders, "created_month");
    assert_eq!(month.kind, FieldKind::Dimension);
    assert_eq!(month.column.as_deref(), Some("order_date"));
    assert_eq!(month.label.as_deref(), Some("Ordered Month"));
    assert_eq!(month.data_type.as_deref(), Some("time (month)"));
    let days = field(orders, "days_fulfillment");
    assert_eq!(
        days.expression.as_deref(),
        Some("(${TABLE}.shipped_at) - (${TABLE}.order_date)")
    );
    assert!(orders.field("hours_fulfillment").is_some());

    // The refinement in the model file added a field.
    assert_eq!(
        field(orders, "is_large").description.as_deref(),
        Some("Orders above 100 USD.")
    );
}

#[test]
fn lookml_extends_and_derived_tables() {
    let all = lookml_resources();
    let customers = find(&all, "lookml:view.customers");
    assert_eq!(customers.tables, vec!["jaffle_shop.main.customers"]);
    assert!(
        customers
            .related
            .contains(&"lookml:view.person_base".to_owned())
    );
    // Inherited from person_base, and overridden.
    assert_eq!(
        field(customers, "name").description.as_deref(),
        Some("First name and last initial.")
    );
    assert_eq!(
        field(customers, "email").expression.as_deref(),
        Some("LOWER(${TABLE}.email)")
    );
    assert_eq!(
        field_names(customers),
        vec![
            "name",
            "email",
            "id",
            "first_order_date",
            "first_order_month",
            "count"
        ]
    );
    assert!(!customers.meta.contains_key("extension"));
    assert_eq!(
        find(&all, "lookml:view.person_base")
            .meta
            .get("extension")
            .map(String::as_str),
        Some("required")
    );

    let facts = find(&all, "lookml:view.order_facts");
    let sql = facts.sql.as_deref().unwrap();
    assert!(sql.starts_with("WITH ranked AS ("), "{sql}");
    assert!(sql.ends_with("SELECT * FROM ranked"), "{sql}");
    // The table read, not the CTE, the EXTRACT(… FROM …) column or the templated view.
    assert_eq!(facts.tables, vec!["jaffle_shop.main.orders"]);
    assert!(facts.related.contains(&"lookml:view.customers".to_owned()));
    assert_eq!(
        facts.meta.get("datagroup_trigger").map(String::as_str),
        Some("nightly_etl")
    );
}

#[test]
fn lookml_explore_joins_and_model() {
    let all = lookml_resources();
    let explore = find(&all, "lookml:explore.ecommerce.orders");
    assert_eq!(explore.kind, ResourceKind::Explore);
    assert_eq!(explore.label.as_deref(), Some("Orders and customers"));
    assert_eq!(
        explore.related,
        vec![
            "lookml:view.orders",
            "lookml:view.customers",
            "lookml:view.order_facts"
        ]
    );
    assert_eq!(
        explore.tables,
        vec!["jaffle_shop.main.orders", "jaffle_shop.main.customers"]
    );
    assert_eq!(
        explore.meta.get("join.customers").map(String::as_str),
        Some(
            "left_outer join of view customers, many_to_one, on ${orders.customer_id} = ${customers.id}"
        )
    );
    assert!(
        explore.meta["join.buyer"].contains("view customers"),
        "{:?}",
        explore.meta
    );
    let sql = explore.sql.as_deref().unwrap();
    assert!(
        sql.starts_with("FROM jaffle_shop.main.orders AS orders\n"),
        "{sql}"
    );
    assert!(
        sql.contains(
            "LEFT JOIN jaffle_shop.main.customers AS customers ON ${orders.customer_id} = ${customers.id} -- many_to_one"
        ),
        "{sql}"
    );
    assert!(sql.contains("INNER JOIN (WITH ranked"), "{sql}");
    assert_eq!(
        explore.meta.get("sql_always_where").map(String::as_str),
        Some("${orders.status} <> 'test'")
    );

    let model = find(&all, "lookml:model.ecommerce");
    assert_eq!(
        model.meta.get("connection").map(String::as_str),
        Some("jaffle_warehouse")
    );
    assert_eq!(
        model.meta.get("include").map(String::as_str),
        Some("/views/*.view.lkml")
    );
    assert_eq!(
        model.related,
        vec![
            "lookml:explore.ecommerce.orders",
            "lookml:explore.ecommerce.customers"
        ]
    );
}

#[test]
fn lookml_single_file_parse() {
    let text = std::fs::read_to_string(fixtures().join("lookml/views/orders.view.lkml")).unwrap();
    let all = lookml::parse(&text, "orders.view.lkml").unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, "lookml:view.orders");
    // No refinement without the model file.
    assert!(all[0].field("is_large").is_none());
}

#[test]
fn lookml_syntax_errors_carry_the_line() {
    let cases = [
        // Missing `;;`: reported where the SQL starts.
        (
            "view: orders {\n  dimension: id {\n    sql: ${TABLE}.id\n  }\n}\n",
            "bad.view.lkml:3:",
            "not terminated by `;;`",
        ),
        (
            "view: orders {\n  dimension: id {\n    type: number\n  \n}\n",
            "bad.view.lkml:6:",
            "opened on line 1 is never closed",
        ),
        (
            "view: orders {\n  label \"Orders\"\n}\n",
            "bad.view.lkml:2:",
            "expected `:` after `label`",
        ),
        (
            "view: orders {\n  label: \"Orders\n}\n",
            "bad.view.lkml:2:",
            "string is not closed",
        ),
        (
            "view: orders {\n  dimension: { sql: 1 ;; }\n}\n",
            "bad.view.lkml:2:",
            "`dimension` needs a name",
        ),
    ];
    for (text, location, what) in cases {
        let err = lookml::parse(text, "bad.view.lkml").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let msg = err.to_string();
        assert!(
            msg.contains(location) && msg.contains(what),
            "{text:?} → {msg}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tableau

#[test]
fn tableau_tds_tables_joins_and_calculated_fields() {
    let all = tableau::load_file(&fixtures().join("tableau/jaffle_orders.tds")).unwrap();
    assert_eq!(all.len(), 1);
    let ds = &all[0];
    assert_eq!(ds.id, "tableau:datasource.jaffle_orders");
    assert_eq!(ds.source, ResourceSource::Tableau);
    assert_eq!(ds.kind, ResourceKind::DataSource);
    assert_eq!(
        ds.tables,
        vec!["jaffle_shop.main.orders", "jaffle_shop.main.customers"]
    );
    assert_eq!(
        ds.meta.get("connection").map(String::as_str),
        Some("postgres")
    );
    assert_eq!(
        ds.meta.get("server").map(String::as_str),
        Some("warehouse.example.com")
    );
    assert_eq!(
        ds.meta.get("join.1").map(String::as_str),
        Some(
            "inner join of orders, customers on [orders].[customer_id] = [customers].[customer_id]"
        )
    );

    let rpc = field(ds, "Calculation_5108379146270213");
    assert_eq!(rpc.kind, FieldKind::Calculated);
    assert_eq!(rpc.label.as_deref(), Some("Revenue per Customer"));
    assert_eq!(
        rpc.expression.as_deref(),
        Some("SUM([amount]) / COUNTD([customer_id])")
    );
    assert_eq!(rpc.data_type.as_deref(), Some("real"));
    assert_eq!(
        field(ds, "Calculation_5108379146153985")
            .expression
            .as_deref(),
        Some("[amount] > 100")
    );

    let amount = field(ds, "amount");
    assert_eq!(amount.kind, FieldKind::Measure);
    assert_eq!(amount.label.as_deref(), Some("Order Amount"));
    assert_eq!(amount.column.as_deref(), Some("amount"));
    assert_eq!(
        amount.description.as_deref(),
        Some("Total amount of the order, in USD.")
    );
    assert_eq!(field(ds, "status").kind, FieldKind::Dimension);
    let joined_key = field(ds, "customer_id (customers)");
    assert_eq!(joined_key.kind, FieldKind::Column);
    assert_eq!(joined_key.column.as_deref(), Some("customer_id"));
    assert_eq!(joined_key.data_type.as_deref(), Some("integer"));
}

#[test]
fn tableau_twb_datasources_custom_sql_and_object_model() {
    let all = tableau::load_file(&fixtures().join("tableau/sales_dashboard.twb")).unwrap();
    let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["Monthly revenue (custom SQL)", "Customers (object model)"]
    );

    let monthly = find(&all, "tableau:datasource.sales_dashboard.federated.0abc123");
    assert_eq!(
        monthly.meta.get("connection").map(String::as_str),
        Some("snowflake")
    );
    assert!(
        monthly
            .sql
            .as_deref()
            .unwrap()
            .starts_with("SELECT DATE_TRUNC('month', o.order_date)")
    );
    assert_eq!(
        monthly.tables,
        vec!["ANALYTICS.MARTS.ORDERS", "ANALYTICS.MARTS.CUSTOMERS"]
    );
    assert_eq!(
        monthly.meta.get("worksheets").map(String::as_str),
        Some("Revenue by Month")
    );
    let target = field(monthly, "Calculation_1");
    assert_eq!(target.kind, FieldKind::Calculated);
    assert_eq!(target.label.as_deref(), Some("Revenue vs Target"));
    assert_eq!(field(monthly, "REVENUE").kind, FieldKind::Measure);
    assert_eq!(field(monthly, "MONTH").kind, FieldKind::Column);

    let customers = find(&all, "tableau:datasource.sales_dashboard.federated.9xyz");
    assert_eq!(
        customers.tables,
        vec!["jaffle_shop.main.customers", "jaffle_shop.main.orders"]
    );
    assert_eq!(
        customers.meta.get("join.1").map(String::as_str),
        Some("relationship on [customer_id] = [customer_id (orders)]")
    );
    assert_eq!(
        field_names(customers),
        vec!["customer_lifetime_value"],
        "internal object-id columns are skipped"
    );
}

#[test]
fn tableau_bad_input_is_typed() {
    let err = tableau::parse(
        "<datasource>\n  <connection class='postgres'>\n</datasource>",
        "broken.tds",
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(msg.contains("broken.tds") && msg.contains("3:"), "{msg}");

    let err = tableau::parse("<workbooks/>", "x.twb").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    let dir = tempfile::tempdir().unwrap();
    let packaged = dir.path().join("book.twbx");
    std::fs::write(&packaged, b"PK\x03\x04").unwrap();
    assert_eq!(
        tableau::load_file(&packaged).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        tableau::load_file(&dir.path().join("missing.tds"))
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

// ---------------------------------------------------------------------------------------------
// Knowledge

#[test]
fn knowledge_loads_a_folder_and_finds_resources_by_table() {
    let mut k = Knowledge::default();
    let n = k.load_path(fixtures()).unwrap();
    assert_eq!(n, k.len());
    assert!(
        k.resources()
            .iter()
            .any(|r| r.source == ResourceSource::Dbt)
    );
    assert!(
        k.resources()
            .iter()
            .any(|r| r.source == ResourceSource::LookMl)
    );
    assert!(
        k.resources()
            .iter()
            .any(|r| r.source == ResourceSource::Tableau)
    );

    let ids = |table: &str| -> Vec<String> {
        let mut ids: Vec<String> = k.for_table(table).iter().map(|r| r.id.clone()).collect();
        ids.sort();
        ids
    };
    let orders = ids("orders");
    for expected in [
        "dbt:model.jaffle_shop.orders",
        "dbt:semantic_model.jaffle_shop.orders",
        "dbt:metric.jaffle_shop.revenue",
        "lookml:view.orders",
        "lookml:view.order_facts",
        "lookml:explore.ecommerce.orders",
        "tableau:datasource.jaffle_orders",
        "tableau:datasource.sales_dashboard.federated.0abc123",
    ] {
        assert!(
            orders.contains(&expected.to_owned()),
            "{expected} not in {orders:?}"
        );
    }
    assert!(!orders.contains(&"dbt:model.jaffle_shop.customers".to_owned()));
    // Two and three parts, any case, quoted or not.
    assert_eq!(ids("MAIN.ORDERS"), ids("jaffle_shop.main.orders"));
    assert_eq!(
        ids("\"jaffle_shop\".\"main\".\"orders\""),
        ids("main.orders")
    );
    assert!(ids("main.orders").contains(&"dbt:model.jaffle_shop.orders".to_owned()));
    assert!(!ids("main.orders").contains(&"dbt:source.jaffle_shop.ecom.raw_orders".to_owned()));
    assert!(ids("staging.orders").is_empty());
    assert_eq!(
        ids("ecom.raw_orders"),
        vec!["dbt:source.jaffle_shop.ecom.raw_orders"]
    );

    // Loading again replaces rather than duplicates.
    let before = k.len();
    k.load_path(fixtures().join("dbt/manifest.json")).unwrap();
    assert_eq!(k.len(), before);
    assert!(k.get("dbt:model.jaffle_shop.orders").is_some());
}

#[test]
fn load_path_dispatches_on_file_type() {
    let tds = load_path(&fixtures().join("tableau/jaffle_orders.tds")).unwrap();
    assert_eq!(tds[0].kind, ResourceKind::DataSource);
    let view = load_path(&fixtures().join("lookml/views/customers.view.lkml")).unwrap();
    assert_eq!(view.len(), 2);
    let dbt = load_path(&fixtures().join("dbt")).unwrap();
    assert!(dbt.iter().all(|r| r.source == ResourceSource::Dbt));

    let dir = tempfile::tempdir().unwrap();
    // A dbt project root: the manifest is in target/.
    std::fs::create_dir(dir.path().join("target")).unwrap();
    std::fs::copy(
        fixtures().join("dbt/manifest.json"),
        dir.path().join("target/manifest.json"),
    )
    .unwrap();
    // A web-app manifest is not mistaken for a dbt one.
    std::fs::create_dir(dir.path().join("site")).unwrap();
    std::fs::write(dir.path().join("site/manifest.json"), r#"{"name": "app"}"#).unwrap();
    let from_project = load_path(dir.path()).unwrap();
    assert_eq!(from_project.len(), dbt.len());

    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "hello").unwrap();
    assert_eq!(
        load_path(&other).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        load_path(&dir.path().join("missing.lkml"))
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}
