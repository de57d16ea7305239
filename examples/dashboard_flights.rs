//! Dashboards end to end on the bundled NYC flights data (2013): the agent answers three
//! questions, `dashboard_from_run` turns two of the runs into dashboard sections, the agent's
//! own `create_dashboard` tool lays out the third, the host adds a section bound to a parameter
//! (one airline), and the whole dashboard is refreshed, saved (versioned) and written as one
//! self-contained HTML page.
//!
//! ```text
//! cargo run --example dashboard_flights                        # scripted model, pages in target/dashboard-flights/
//! cargo run --example dashboard_flights -- --out /tmp/dash     # elsewhere
//! MC_LLM_BASE_URL=http://127.0.0.1:8089/v1 MC_LLM_MODEL=qwen2.5-coder-1.5b cargo run --example dashboard_flights
//! ```
//!
//! Without `OPENAI_API_KEY` or `MC_LLM_BASE_URL` it replays a SCRIPTED conversation through the
//! fake OpenAI server over real HTTP (the model's words are scripted; the SQL, data, charts and
//! pages are real). It also writes `failing.html`, a dashboard over a SQLite file whose table
//! was dropped between two refreshes (that block shows its error, the others render), and
//! `expected.json`, the KPI values computed by direct queries, for the browser test.

use std::path::PathBuf;
use std::sync::Arc;

use metricchat::dashboard::Dashboard;
use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::planner::DecisionProtocol;
use metricchat::store::{SqliteStore, Store};
use metricchat::{Agent, ConnectorRef};
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::{Value, json};

const QUESTIONS: [&str; 3] = [
    "How did the number of flights from New York change month by month in 2013?",
    "Which airlines flew the most flights from New York in 2013, and how late did they leave on average?",
    "Where do flights from New York go, and how late do they leave each month? Put it on a dashboard.",
];

const PER_MONTH: &str =
    "SELECT month, COUNT(*) AS flights FROM flights GROUP BY month ORDER BY month";
const BY_AIRLINE: &str = "SELECT a.name AS airline, COUNT(*) AS flights, ROUND(AVG(f.dep_delay), 1) AS avg_dep_delay_min \
     FROM flights f JOIN airlines a ON a.carrier = f.carrier GROUP BY a.name ORDER BY flights DESC";
const DESTINATIONS: &str = "SELECT f.dest, p.name AS airport, p.lat, p.lon, COUNT(*) AS flights \
     FROM flights f JOIN airports p ON p.faa = f.dest GROUP BY f.dest, p.name, p.lat, p.lon ORDER BY flights DESC LIMIT 40";
const DELAY_PER_MONTH: &str = "SELECT month, ROUND(AVG(dep_delay), 1) AS avg_dep_delay_min FROM flights GROUP BY month ORDER BY month";

/// What a tool-calling model does for the three questions.
fn script() -> Vec<Exchange> {
    let planner = || Matcher::body_contains("You are metricchat");
    let step = |reply: Reply| Exchange::when(planner(), reply);
    vec![
        step(Reply::tool_call(
            "create_data",
            json!({"title": "Flights per month", "sql": PER_MONTH,
                   "chart": {"chart_type": "line", "x": "month", "y": ["flights"]}}),
        )),
        step(Reply::text(
            "Flights rose from 27,004 in January to a peak of 29,425 in July, dipped in \
             September and ended the year at 28,135 in December.",
        )),
        step(Reply::tool_call(
            "create_data",
            json!({"title": "Flights and delay by airline", "sql": BY_AIRLINE,
                   "chart": {"chart_type": "bar", "x": "airline", "y": ["flights"]}}),
        )),
        step(Reply::text(
            "United Air Lines flew the most (58,665 flights, 12.1 min average departure delay), \
             then JetBlue and ExpressJet; ExpressJet left latest on average (20.0 min).",
        )),
        step(Reply::tool_call(
            "create_data",
            json!({"title": "Top destinations", "sql": DESTINATIONS,
                   "chart": {"chart_type": "scatter", "x": "lon", "y": ["lat"]}}),
        )),
        step(Reply::tool_call(
            "create_data",
            json!({"title": "Average departure delay per month", "sql": DELAY_PER_MONTH,
                   "chart": {"chart_type": "line", "x": "month", "y": ["avg_dep_delay_min"]}}),
        )),
        step(Reply::tool_call(
            "create_dashboard",
            json!({"title": "Where New York flies",
            "description": "Destinations of flights from EWR, JFK and LGA in 2013, and how late they left.",
            "blocks": [
                {"id": "delay", "title": "Average departure delay", "width": 4,
                 "content": {"type": "kpi", "unit": "min", "query": {"result": "Average departure delay per month"}}},
                {"id": "delay-by-month", "title": "Departure delay by month", "width": 8,
                 "content": {"type": "chart", "query": {"result": "Average departure delay per month"},
                             "chart": {"chart_type": "bar", "x": "month", "y": "avg_dep_delay_min"}}},
                {"id": "map", "title": "Top 40 destinations", "width": 6,
                 "content": {"type": "chart", "query": {"result": "Top destinations"},
                             "chart": {"chart_type": "scatter", "x": "lon", "y": "lat"}}},
                {"id": "destinations", "title": "Top destinations", "width": 6,
                 "content": {"type": "table", "query": {"result": "Top destinations"}}}
            ]}),
        )),
        step(Reply::text(
            "Atlanta, Chicago O'Hare and Los Angeles were the busiest destinations. I saved the \
             dashboard \"Where New York flies\".",
        )),
    ]
}

/// The host's own section: one airline's month by month, bound to a `carrier` parameter.
fn airline_section() -> metricchat::Result<Dashboard> {
    Dashboard::from_value(json!({
        "title": "One airline",
        "parameters": [
            {"name": "carrier", "label": "Airline", "type": "text", "value": "UA"},
            {"name": "period", "label": "Period", "type": "date_range",
             "value": {"start": "2013-01-01", "end": "2013-12-31"}}
        ],
        "blocks": [
            {"id": "airline-flights", "title": "Flights (selected airline)", "width": 4,
             "content": {"type": "kpi", "query": {"sql":
                "SELECT month, COUNT(*) AS flights FROM flights WHERE carrier = :carrier \
                 AND time_hour >= CAST(:period_start AS TIMESTAMP) \
                 AND time_hour < CAST(:period_end AS TIMESTAMP) + INTERVAL '1 day' \
                 GROUP BY month ORDER BY month"}}},
            {"id": "airline-delay", "title": "Arrival delay by month (selected airline)", "width": 8,
             "content": {"type": "chart", "chart": {"chart_type": "area", "x": "month", "y": "avg_arr_delay_min"},
                         "query": {"sql":
                "SELECT month, ROUND(AVG(arr_delay), 1) AS avg_arr_delay_min FROM flights WHERE carrier = :carrier \
                 AND time_hour >= CAST(:period_start AS TIMESTAMP) \
                 AND time_hour < CAST(:period_end AS TIMESTAMP) + INTERVAL '1 day' \
                 GROUP BY month ORDER BY month"}}}
        ]
    }))
}

fn out_dir() -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--out") {
        Some(i) => PathBuf::from(
            args.get(i + 1)
                .map_or("target/dashboard-flights", String::as_str),
        ),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-flights"),
    }
}

/// The last value of the first numeric column of `sql`, by a direct query (no dashboard code).
async fn last_value(conn: &ConnectorRef, sql: &str) -> Result<f64, Box<dyn std::error::Error>> {
    let stream = conn.query(sql, metricchat::QueryOptions::default()).await?;
    let data = metricchat::connector::collect_stream(stream).await?;
    let batch = data.batches.last().ok_or("no rows")?;
    let idx = batch
        .schema()
        .fields()
        .iter()
        .rposition(|f| f.data_type().is_numeric())
        .ok_or("no numeric column")?;
    let col = metricchat::arrow::compute::cast(
        batch.column(idx),
        &metricchat::arrow::datatypes::DataType::Float64,
    )?;
    let col = col
        .as_any()
        .downcast_ref::<metricchat::arrow::array::Float64Array>()
        .ok_or("not f64")?;
    Ok(col.value(col.len() - 1))
}

/// A small dashboard over a SQLite file whose `returns` table is dropped after a first refresh.
async fn failing_page(
    out: &std::path::Path,
    agent: &Agent,
) -> Result<String, Box<dyn std::error::Error>> {
    let path = out.join("shop.db");
    let _ = std::fs::remove_file(&path);
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await?;
    for sql in [
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount REAL, day TEXT)",
        "INSERT INTO orders (amount, day) VALUES (120.5, '2024-01-01'), (98, '2024-01-02'), (143.25, '2024-01-03')",
        "CREATE TABLE returns (id INTEGER PRIMARY KEY, order_id INTEGER)",
        "INSERT INTO returns (order_id) VALUES (1)",
    ] {
        sqlx::query(sql).execute(&pool).await?;
    }
    let shop = metricchat::connect(&format!("sqlite://{}", path.display()))?;
    let shop_agent = Agent::builder()
        .llm(agent.llm().clone())
        .connection(shop)
        .build()?;
    let mut d = Dashboard::from_value(json!({
        "title": "Shop (one table dropped)",
        "blocks": [
            {"id": "revenue", "title": "Revenue", "width": 4, "content": {"type": "kpi", "unit": "$",
             "query": {"sql": "SELECT day, SUM(amount) AS revenue FROM orders GROUP BY day ORDER BY day"}}},
            {"id": "returns", "title": "Returns", "width": 8, "content": {"type": "table",
             "query": {"sql": "SELECT * FROM returns"}}},
            {"id": "daily", "title": "Daily revenue", "width": 12, "content": {"type": "chart",
             "chart": {"chart_type": "bar", "x": "day", "y": "revenue"},
             "query": {"sql": "SELECT day, SUM(amount) AS revenue FROM orders GROUP BY day ORDER BY day"}}}
        ]
    }))?;
    d.refresh(&shop_agent).await;
    sqlx::query("DROP TABLE returns").execute(&pool).await?;
    let summary = d.refresh(&shop_agent).await;
    println!(
        "failing.html: {} blocks refreshed, {} failed (the dropped table)",
        summary.refreshed, summary.failed
    );
    Ok(d.to_html())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let out = out_dir();
    std::fs::create_dir_all(&out)?;

    let configured =
        std::env::var("OPENAI_API_KEY").is_ok() || std::env::var("MC_LLM_BASE_URL").is_ok();
    let mut fake = None;
    let (llm, protocol) = if configured {
        let config = OpenAiConfig::from_env();
        println!("model: {} at {}", config.model, config.base_url);
        (OpenAiClient::new(config)?, DecisionProtocol::Auto)
    } else {
        println!(
            "No model is configured: replaying a SCRIPTED conversation through the fake OpenAI \
             server (the SQL, data, charts and pages are real; the model's words are scripted)."
        );
        let server = FakeLlmServer::start(script()).await;
        let config = OpenAiConfig::new("scripted-gpt").with_base_url(server.base_url());
        fake = Some(server);
        (OpenAiClient::new(config)?, DecisionProtocol::NativeTools)
    };

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(out.join("metricchat.db")).await?);
    let flights = metricchat::connectors::flights_sample("flights")?;
    let agent = Agent::builder()
        .llm(llm)
        .connection(flights.clone())
        .store(store.clone())
        .protocol(protocol)
        .generate_title(false)
        // The agent may save dashboards (not a built-in tool: see `CreateDashboard`).
        .tool(metricchat::tools::CreateDashboard)
        .build()?;

    let mut runs = Vec::new();
    for q in QUESTIONS {
        println!("\nQ: {q}");
        match agent.ask(q).await {
            Ok(r) => {
                println!("A: {}", r.answer.as_deref().unwrap_or("(no answer)"));
                for d in &r.datasets {
                    println!(
                        "   result {:?}: {} rows",
                        d.title.as_deref().unwrap_or("-"),
                        d.num_rows()
                    );
                }
                runs.push(r.run_id);
            }
            Err(e) => println!("   the run failed: {e}"),
        }
    }

    // The agent's own dashboard (create_dashboard in the third run), if it made one.
    let mut dashboard = None;
    for s in store.list_dashboards(20).await? {
        if let Some(d) = store.get_dashboard(s.id, None).await?
            && d.run_id.is_some_and(|r| runs.contains(&r))
        {
            println!(
                "\nThe agent's create_dashboard saved {:?} ({} blocks)",
                d.title,
                d.blocks.len()
            );
            dashboard = Some(d);
            break;
        }
    }
    let mut d = dashboard.unwrap_or_else(|| {
        println!("\nThe agent made no dashboard of its own; starting an empty one.");
        Dashboard::new("NYC flights 2013")
    });
    d.title = "NYC flights 2013".into();
    // One section per other run, built without a model.
    for run_id in &runs {
        if d.run_id == Some(*run_id) {
            continue;
        }
        match agent.dashboard_from_run(*run_id).await {
            Ok(section) => d.append(section),
            Err(e) => println!("   no section from run {run_id}: {e}"),
        }
    }
    d.append(airline_section()?);
    d.validate()?;

    let summary = d.refresh(&agent).await;
    println!(
        "\nRefreshed {} blocks in {} ms ({} failed)",
        summary.refreshed, summary.duration_ms, summary.failed
    );
    for b in &d.blocks {
        if let Some(e) = b.result.as_ref().and_then(|r| r.error.as_ref()) {
            println!("   block {}: {e}", b.id);
        }
    }
    let version = agent.save_dashboard(&mut d).await?;
    let html = d.to_html();
    std::fs::write(out.join("flights.html"), &html)?;
    std::fs::write(
        out.join("flights.json"),
        serde_json::to_string_pretty(&d.to_json())?,
    )?;

    // What the page's KPI cards must show, by direct queries.
    let mut expected = serde_json::Map::new();
    for b in &d.blocks {
        let Some(kpi) = b.result.as_ref().and_then(|r| r.kpi.as_ref()) else {
            continue;
        };
        let sql = b
            .result
            .as_ref()
            .and_then(|r| r.sql.clone())
            .unwrap_or_default();
        let value = last_value(&flights, &sql).await?;
        if kpi.value != Some(value) {
            return Err(
                format!("KPI {} shows {:?}, the data says {value}", b.id, kpi.value).into(),
            );
        }
        expected.insert(b.id.clone(), json!(value));
    }
    let failing = failing_page(&out, &agent).await?;
    std::fs::write(out.join("failing.html"), failing)?;
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&json!({
            "flights.html": {"kpis": Value::Object(expected), "failing_blocks": []},
            "failing.html": {"kpis": {"revenue": 143.25}, "failing_blocks": ["returns"]}
        }))?,
    )?;
    println!(
        "Saved dashboard {} version {version}: {} blocks, page {} bytes\n  {}",
        d.id,
        d.blocks.len(),
        html.len(),
        out.join("flights.html").display()
    );
    if let Some(server) = fake
        && let Err(e) = server.verify()
    {
        eprintln!("scripted conversation did not go as planned: {e}");
        std::process::exit(1);
    }
    Ok(())
}
