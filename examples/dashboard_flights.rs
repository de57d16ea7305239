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
//! pages are real). It also writes `gallery.html`, every chart kind over real queries of the
//! sample (KPI cards with sparklines, treemap, funnel, radar, candlestick, the lat/lon map and
//! the older kinds), times a 12-block refresh, writes `failing.html`, a dashboard over a SQLite
//! file whose table was dropped between two refreshes (that block shows its error, the others
//! render), and `expected.json`, the KPI values computed by direct queries and the chart kinds
//! drawn, for the browser test (`scripts/browser-test`).

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

/// `AVG(expr)` over the flights of each of four carriers, one column per carrier.
fn per_carrier(expr: &str) -> String {
    ["UA", "B6", "EV", "DL"]
        .iter()
        .map(|c| format!("ROUND(AVG(CASE WHEN carrier = '{c}' THEN {expr} END), 1) AS \"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every chart kind over real queries of the flights sample: the page the browser test checks
/// chart by chart (`gallery.html`).
fn gallery() -> metricchat::Result<Dashboard> {
    let monthly = |id: &str, title: &str, expr: &str, unit: &str| {
        json!({"id": id, "title": title, "width": 3, "content": {"type": "kpi", "unit": unit,
               "query": {"sql": format!("SELECT month, {expr} FROM flights GROUP BY month ORDER BY month")}}})
    };
    let chart = |id: &str, title: &str, width: u8, chart: Value, sql: &str| {
        json!({"id": id, "title": title, "width": width,
               "content": {"type": "chart", "chart": chart, "query": {"sql": sql}}})
    };
    let radar_sql = [
        (1, "Departure delay (min)", "dep_delay"),
        (2, "Arrival delay (min)", "arr_delay"),
        (
            3,
            "Cancelled (%)",
            "CASE WHEN dep_time IS NULL THEN 100.0 ELSE 0.0 END",
        ),
        (4, "Distance (mi)", "distance"),
        (5, "Air time (min)", "air_time"),
    ]
    .iter()
    .map(|(k, name, expr)| {
        format!(
            "SELECT {k} AS k, '{name}' AS metric, {} FROM flights",
            per_carrier(expr)
        )
    })
    .collect::<Vec<_>>()
    .join(" UNION ALL ");
    Dashboard::from_value(json!({
        "title": "NYC flights 2013: every chart kind",
        "description": "Each block is a real query over the bundled flights sample, drawn as one of the chart kinds a dashboard offers.",
        "blocks": [
            monthly("kpi-flights", "Flights (December)", "COUNT(*) AS flights", ""),
            monthly("kpi-cancelled", "Cancelled flights (December)",
                    "SUM(CASE WHEN dep_time IS NULL THEN 1 ELSE 0 END) AS cancelled", ""),
            monthly("kpi-on-time", "Arrived within 15 min (December)",
                    "ROUND(100.0 * AVG(CASE WHEN arr_delay <= 15 THEN 1.0 ELSE 0.0 END), 1) AS on_time_pct", "%"),
            monthly("kpi-distance", "Average distance (December)",
                    "ROUND(AVG(distance), 1) AS avg_distance_mi", "mi"),
            chart("treemap", "Airlines by flights (treemap)", 6,
                  json!({"chart_type": "treemap", "x": "airline", "y": "flights"}),
                  "SELECT a.name AS airline, COUNT(*) AS flights FROM flights f \
                   JOIN airlines a ON a.carrier = f.carrier GROUP BY a.name ORDER BY flights DESC"),
            chart("funnel", "What became of the flights (funnel)", 6,
                  json!({"chart_type": "funnel", "x": "outcome", "y": "flights"}),
                  "SELECT outcome, flights FROM ( \
                   SELECT 1 AS k, 'Scheduled' AS outcome, COUNT(*) AS flights FROM flights \
                   UNION ALL SELECT 2, 'Departed', COUNT(dep_time) FROM flights \
                   UNION ALL SELECT 3, 'Arrived (not diverted)', COUNT(arr_delay) FROM flights \
                   UNION ALL SELECT 4, 'Arrived within 15 min', SUM(CASE WHEN arr_delay <= 15 THEN 1 ELSE 0 END) FROM flights \
                   UNION ALL SELECT 5, 'Arrived early', SUM(CASE WHEN arr_delay < 0 THEN 1 ELSE 0 END) FROM flights \
                   ) t ORDER BY k"),
            chart("radar", "Four airlines compared (radar)", 6,
                  json!({"chart_type": "radar", "x": "metric", "y": ["UA", "B6", "EV", "DL"]}),
                  &format!("SELECT metric, \"UA\", \"B6\", \"EV\", \"DL\" FROM ({radar_sql}) t ORDER BY k")),
            chart("candlestick", "Daily average departure delay per month: first, last, lowest, highest day (candlestick)", 6,
                  json!({"chart_type": "candlestick", "x": "month",
                         "y": ["first_day", "last_day", "lowest_day", "highest_day"]}),
                  "WITH daily AS (SELECT month, day, AVG(dep_delay) AS delay FROM flights GROUP BY month, day) \
                   SELECT month, ROUND(FIRST_VALUE(delay ORDER BY day), 1) AS first_day, \
                   ROUND(LAST_VALUE(delay ORDER BY day), 1) AS last_day, ROUND(MIN(delay), 1) AS lowest_day, \
                   ROUND(MAX(delay), 1) AS highest_day FROM daily GROUP BY month ORDER BY month"),
            chart("map", "Destinations by latitude and longitude, sized by flights (map)", 12,
                  json!({"chart_type": "map", "x": "lon", "y": ["lat", "flights"], "series": "airport"}),
                  "SELECT p.name AS airport, p.lon, p.lat, COUNT(*) AS flights FROM flights f \
                   JOIN airports p ON p.faa = f.dest GROUP BY p.name, p.lon, p.lat ORDER BY flights DESC"),
            chart("bar", "Average departure delay by airline (bar)", 6,
                  json!({"chart_type": "bar", "x": "airline", "y": "avg_dep_delay_min"}),
                  "SELECT a.name AS airline, ROUND(AVG(f.dep_delay), 1) AS avg_dep_delay_min FROM flights f \
                   JOIN airlines a ON a.carrier = f.carrier GROUP BY a.name ORDER BY avg_dep_delay_min DESC"),
            chart("line", "Flights per day (line)", 6,
                  json!({"chart_type": "line", "x": "day", "y": "flights"}),
                  "SELECT CAST(time_hour AS DATE) AS day, COUNT(*) AS flights FROM flights GROUP BY 1 ORDER BY 1"),
            chart("area", "Average temperature at the three airports (area)", 6,
                  json!({"chart_type": "area", "x": "month", "y": "avg_temp_f"}),
                  "SELECT month, ROUND(AVG(temp), 1) AS avg_temp_f FROM weather GROUP BY month ORDER BY month"),
            chart("stacked-area", "Flights per month by airport (stacked area)", 6,
                  json!({"chart_type": "stacked_area", "x": "month", "y": "flights", "series": "origin"}),
                  "SELECT month, origin, COUNT(*) AS flights FROM flights GROUP BY month, origin ORDER BY month, origin"),
            chart("stacked-bar", "Flights per month by airport (stacked bar)", 6,
                  json!({"chart_type": "stacked_bar", "x": "month", "y": "flights", "series": "origin"}),
                  "SELECT month, origin, COUNT(*) AS flights FROM flights GROUP BY month, origin ORDER BY month, origin"),
            chart("grouped-bar", "Departure and arrival delay by airport (grouped bar)", 6,
                  json!({"chart_type": "grouped_bar", "x": "origin", "y": ["avg_dep_delay_min", "avg_arr_delay_min"]}),
                  "SELECT origin, ROUND(AVG(dep_delay), 1) AS avg_dep_delay_min, ROUND(AVG(arr_delay), 1) AS avg_arr_delay_min \
                   FROM flights GROUP BY origin ORDER BY origin"),
            chart("pie", "Flights by airport (pie)", 4,
                  json!({"chart_type": "pie", "x": "origin", "y": "flights"}),
                  "SELECT origin, COUNT(*) AS flights FROM flights GROUP BY origin ORDER BY flights DESC"),
            chart("metric", "Flights in 2013 (metric)", 4,
                  json!({"chart_type": "metric", "y": "flights"}),
                  "SELECT COUNT(*) AS flights FROM flights"),
            chart("histogram", "Days by average departure delay (histogram)", 4,
                  json!({"chart_type": "histogram", "y": "avg_dep_delay_min"}),
                  "SELECT CAST(time_hour AS DATE) AS day, AVG(dep_delay) AS avg_dep_delay_min FROM flights GROUP BY 1"),
            chart("scatter", "Distance against air time per destination (scatter)", 6,
                  json!({"chart_type": "scatter", "x": "avg_distance_mi", "y": "avg_air_time_min"}),
                  "SELECT dest, ROUND(AVG(distance), 1) AS avg_distance_mi, ROUND(AVG(air_time), 1) AS avg_air_time_min \
                   FROM flights GROUP BY dest"),
            chart("heatmap", "Average departure delay by hour and month (heatmap)", 6,
                  json!({"chart_type": "heatmap", "x": "hour", "y": "avg_dep_delay_min", "series": "month"}),
                  "SELECT hour, month, ROUND(AVG(dep_delay), 1) AS avg_dep_delay_min FROM flights \
                   WHERE dep_delay IS NOT NULL GROUP BY hour, month ORDER BY hour, month"),
            {"id": "routes", "title": "Busiest routes (table)", "width": 12,
             "content": {"type": "table", "query": {"sql":
                "SELECT origin, dest, COUNT(*) AS flights, ROUND(AVG(distance), 1) AS avg_distance_mi, \
                 ROUND(AVG(arr_delay), 2) AS avg_arr_delay_min FROM flights GROUP BY origin, dest \
                 ORDER BY flights DESC LIMIT 25"}}}
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

/// What `d`'s KPI cards must show, by direct queries (no dashboard code): block id → value.
async fn kpi_expectations(
    d: &Dashboard,
    conn: &ConnectorRef,
) -> Result<serde_json::Map<String, Value>, Box<dyn std::error::Error>> {
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
        let value = last_value(conn, &sql).await?;
        if kpi.value != Some(value) {
            return Err(
                format!("KPI {} shows {:?}, the data says {value}", b.id, kpi.value).into(),
            );
        }
        expected.insert(b.id.clone(), json!(value));
    }
    Ok(expected)
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
    let local = configured && std::env::var("OPENAI_API_KEY").is_err();
    let (llm, protocol) = if configured {
        let mut config = OpenAiConfig::from_env();
        if local {
            // A local server on a busy CPU reads a long prompt for minutes before its first
            // byte; a retry after a timeout would only queue the same prompt again behind it.
            config.provider.http.first_byte_timeout = std::time::Duration::from_secs(900);
            config.provider.http.idle_timeout = std::time::Duration::from_secs(300);
        }
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
        // A local model on a shared CPU takes minutes a step: give a run half an hour, not ten
        // minutes.
        .max_wall_time(Some(std::time::Duration::from_secs(if local {
            1800
        } else {
            600
        })))
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

    let expected = kpi_expectations(&d, &flights).await?;

    // Every chart kind, over real queries: refreshed, checked, written as gallery.html.
    let mut g = gallery()?;
    let gallery_summary = g.refresh(&agent).await;
    println!(
        "gallery: refreshed {} blocks in {} ms ({} failed)",
        gallery_summary.refreshed, gallery_summary.duration_ms, gallery_summary.failed
    );
    for b in &g.blocks {
        if let Some(e) = b.result.as_ref().and_then(|r| r.error.as_ref()) {
            return Err(format!("gallery block {}: {e}", b.id).into());
        }
    }
    let gallery_kpis = kpi_expectations(&g, &flights).await?;
    let kinds: Vec<String> = g
        .blocks
        .iter()
        .filter_map(|b| {
            let r = b.result.as_ref()?;
            match &b.content {
                metricchat::dashboard::BlockContent::Chart { .. } => r
                    .echarts
                    .as_ref()?
                    .pointer("/metricchat/kind")?
                    .as_str()
                    .map(str::to_string),
                _ => None,
            }
        })
        .collect();
    let gallery_html = g.to_html();
    std::fs::write(out.join("gallery.html"), &gallery_html)?;
    println!(
        "gallery.html: {} blocks, chart kinds {}, page {} bytes",
        g.blocks.len(),
        kinds.join(" "),
        gallery_html.len()
    );

    // The issue's performance figure: a 12-block dashboard (the gallery's first twelve).
    let mut twelve = g.clone();
    twelve.blocks.truncate(12);
    let t = twelve.refresh(&agent).await;
    println!(
        "12-block refresh: {} blocks in {} ms ({} failed), page {} bytes",
        t.refreshed,
        t.duration_ms,
        t.failed,
        twelve.to_html().len()
    );

    let failing = failing_page(&out, &agent).await?;
    std::fs::write(out.join("failing.html"), failing)?;
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&json!({
            "flights.html": {"kpis": Value::Object(expected), "failing_blocks": []},
            "gallery.html": {"kpis": Value::Object(gallery_kpis), "failing_blocks": [],
                             "chart_kinds": kinds},
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
