//! A host's scheduler for dashboards: load the latest version from the store, refresh it on a
//! tokio interval, save each refresh as a new version and rewrite its page.
//!
//! ```text
//! cargo run --example dashboard_refresh                       # 3 refreshes, 2 s apart
//! cargo run --example dashboard_refresh -- --every 60 --times 0   # every minute, until Ctrl-C
//! ```
//!
//! No model is called: refreshing re-runs the blocks' SQL through the agent's guard.

use std::sync::Arc;
use std::time::Duration;

use metricchat::Agent;
use metricchat::dashboard::Dashboard;
use metricchat::llm::{OpenAiClient, OpenAiConfig};
use metricchat::store::{SqliteStore, Store};
use serde_json::json;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let every = Duration::from_secs(arg("--every", 2).max(1));
    let times = arg("--times", 3);
    let dir = std::env::temp_dir().join("metricchat-dashboard-refresh");
    std::fs::create_dir_all(&dir)?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.join("metricchat.db")).await?);
    // Refreshing calls no model; the agent still needs one configured.
    let agent = Agent::builder()
        .llm(OpenAiClient::new(OpenAiConfig::new("unused"))?)
        .connection(metricchat::connectors::flights_sample("flights")?)
        .store(store.clone())
        .build()?;

    // The host keeps the dashboard's id; here: the first one stored, or a new one.
    let id = match store.list_dashboards(1).await?.first() {
        Some(s) => s.id,
        None => {
            let mut d = Dashboard::from_value(json!({
                "title": "Flights today",
                "blocks": [
                    {"id": "flights", "width": 4, "content": {"type": "kpi", "query": {"sql":
                        "SELECT month, COUNT(*) AS flights FROM flights GROUP BY month ORDER BY month"}}},
                    {"id": "carriers", "width": 8, "content": {"type": "chart", "query": {"sql":
                        "SELECT carrier, COUNT(*) AS flights FROM flights GROUP BY carrier ORDER BY flights DESC"}}}
                ]
            }))?;
            agent.save_dashboard(&mut d).await?;
            d.id
        }
    };

    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n = 0;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        let Some(mut d) = store.get_dashboard(id, None).await? else {
            return Err("the dashboard was deleted".into());
        };
        let summary = d.refresh(&agent).await;
        let version = agent.save_dashboard(&mut d).await?;
        std::fs::write(dir.join("dashboard.html"), d.to_html())?;
        println!(
            "refresh {}: {} blocks in {} ms, {} failed; saved version {version}",
            n + 1,
            summary.refreshed,
            summary.duration_ms,
            summary.failed
        );
        n += 1;
        if times > 0 && n >= times {
            break;
        }
    }
    println!("page: {}", dir.join("dashboard.html").display());
    Ok(())
}
