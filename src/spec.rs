//! An [`Agent`] described as data — the form the Python and Node packages and config files use.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use metricchat::spec::AgentSpec;
//!
//! let spec: AgentSpec = serde_json::from_value(serde_json::json!({
//!     "llm": "anthropic:claude-sonnet-4-5",
//!     "connections": ["postgres://analyst@db.internal/warehouse"],
//!     "store": "sqlite:///var/lib/metricchat/runs.db",
//!     "rules": ["Revenue means net_revenue, never gross."],
//!     "max_rows": 5000,
//!     "query_timeout_secs": 30
//! }))?;
//! let agent = spec.build(Vec::new()).await?;
//! let result = agent.ask("Revenue by region last quarter?").await?;
//! # Ok(()) }
//! ```
//!
//! Every field but `llm` is optional; unknown fields are refused so a typo fails loudly.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use metricchat_core::error::{Error, Result};
use metricchat_core::llm::LlmSource;
use metricchat_core::planner::DecisionProtocol;
use metricchat_core::store::{MemoryStore, SqliteStore, Store};
use metricchat_core::tools::DynTool;
use metricchat_core::{Agent, ConnectorRef};

/// Everything needed to build an [`Agent`], as serde data.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// The model: `"openai:gpt-4.1-mini"` or an [`LlmSpec`](metricchat_core::llm::LlmSpec)
    /// object.
    pub llm: Option<LlmSource>,
    /// A smaller model for run titles (the main model when absent).
    #[serde(default)]
    pub title_llm: Option<LlmSource>,
    /// Connection URLs (see [`connect`](crate::connect)); `"sample:flights"` is the bundled
    /// nycflights13 sample when this crate is built from a checkout.
    #[serde(default)]
    pub connections: Vec<String>,
    /// Where runs, instructions and memories are kept: absent or `"memory"` in memory,
    /// `"sqlite:///path.db"` (or a plain path ending in `.db`/`.sqlite`) in a SQLite file, or
    /// with the `postgres` feature a `postgres://` URL (schema `metricchat` in that database).
    #[serde(default)]
    pub store: Option<String>,
    /// Team rules every prompt carries.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Extra instructions appended to the system prompt.
    #[serde(default)]
    pub instructions: Option<String>,
    /// Planner iterations per run.
    #[serde(default)]
    pub max_iterations: Option<u32>,
    /// Token budget per run (input + output).
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Wall-time budget per run, in seconds.
    #[serde(default)]
    pub max_wall_time_secs: Option<f64>,
    /// Cost budget per run, in US dollars.
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
    /// Row cap of every query the agent runs.
    #[serde(default)]
    pub max_rows: Option<u64>,
    /// Time limit of every query, in seconds.
    #[serde(default)]
    pub query_timeout_secs: Option<f64>,
    /// Lets the agent's SQL write (off by default; the engines' read-only layers stay on where
    /// the connection enforces them).
    #[serde(default)]
    pub allow_writes: Option<bool>,
    /// `"auto"`, `"native_tools"` or `"json_text"`.
    #[serde(default)]
    pub protocol: Option<DecisionProtocol>,
    /// Whether runs get a generated title.
    #[serde(default)]
    pub generate_title: Option<bool>,
    /// Knowledge to load: dbt `manifest.json` files or project folders, LookML files or
    /// folders, Tableau `.tds` / `.twb` files.
    #[serde(default)]
    pub knowledge: Vec<String>,
}

fn secs(field: &str, v: Option<f64>) -> Result<Option<Duration>> {
    match v {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(Error::config(
            "agent spec",
            format!("`{field}` must be a positive number of seconds, not {s}"),
        )),
    }
}

/// Opens a connection from a URL, with the `sample:` forms for the bundled data.
pub fn connect_spec(url: &str) -> Result<ConnectorRef> {
    #[cfg(feature = "datafusion")]
    if let Some(name) = url.trim().strip_prefix("sample:") {
        let name = name.trim_start_matches('/');
        return crate::connectors::flights_sample(if name.is_empty() { "flights" } else { name });
    }
    crate::connect(url)
}

/// Opens a store from its spec string (see [`AgentSpec::store`]).
pub async fn open_store(spec: Option<&str>) -> Result<Arc<dyn Store>> {
    let spec = spec.map(str::trim).filter(|s| !s.is_empty());
    Ok(match spec {
        None | Some("memory") | Some(":memory:") => Arc::new(MemoryStore::new()),
        #[cfg(feature = "postgres")]
        Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
            Arc::new(metricchat_core::store::PostgresStore::connect(s).await?)
        }
        Some(s) => {
            let path = s
                .strip_prefix("sqlite://")
                .or_else(|| {
                    (s.ends_with(".db") || s.ends_with(".sqlite") || s.ends_with(".sqlite3"))
                        .then_some(s)
                })
                .ok_or_else(|| {
                    Error::config(
                        "agent spec",
                        format!(
                            "store `{s}`: expected \"memory\", \"sqlite:///path.db\", a path ending in .db/.sqlite, or (with the `postgres` feature) a postgres:// URL"
                        ),
                    )
                })?;
            if path == ":memory:" || path.is_empty() {
                Arc::new(SqliteStore::in_memory().await?)
            } else {
                Arc::new(SqliteStore::open(path).await?)
            }
        }
    })
}

impl AgentSpec {
    /// Parses a spec from JSON text.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::config("agent spec", format!("invalid agent spec: {e}")))
    }

    /// Builds the agent with `tools` added to the built-in ones. Opens the store (creating or
    /// migrating a SQLite file) but makes no call to the model or the warehouses.
    pub async fn build(&self, tools: Vec<Arc<dyn DynTool>>) -> Result<Agent> {
        let llm = self.llm.as_ref().ok_or_else(|| {
            Error::config(
                "agent spec",
                "`llm` is required, e.g. \"openai:gpt-4.1-mini\" or {\"provider\": \"ollama\", \"model\": \"qwen2.5-coder\"}",
            )
        })?;
        let mut builder = Agent::builder().llm_arc(llm.build()?);
        if let Some(title) = &self.title_llm {
            builder = builder.title_llm_arc(title.build()?);
        }
        for url in &self.connections {
            builder = builder.connection(connect_spec(url)?);
        }
        builder = builder.store_arc(open_store(self.store.as_deref()).await?);
        for tool in tools {
            builder = builder.tool_arc(tool);
        }
        for path in &self.knowledge {
            builder = builder.knowledge(path);
        }
        let mut config = metricchat_core::AgentConfig::default();
        config.rules.extend(self.rules.iter().cloned());
        config.instructions.clone_from(&self.instructions);
        if let Some(n) = self.max_iterations {
            config.max_iterations = n;
        }
        config.max_tokens = self.max_tokens.or(config.max_tokens);
        config.max_wall_time =
            secs("max_wall_time_secs", self.max_wall_time_secs)?.or(config.max_wall_time);
        config.max_cost_usd = self.max_cost_usd.or(config.max_cost_usd);
        if let Some(rows) = self.max_rows {
            config.guard.max_rows = Some(rows);
        }
        if let Some(t) = secs("query_timeout_secs", self.query_timeout_secs)? {
            config.guard.timeout = Some(t);
        }
        if let Some(w) = self.allow_writes {
            config.guard.allow_writes = w;
        }
        if let Some(p) = self.protocol {
            config.protocol = p;
        }
        if let Some(t) = self.generate_title {
            config.generate_title = t;
        }
        builder.config(config).build()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unknown_fields_and_bad_numbers() {
        let err = AgentSpec::from_json(r#"{"llm": "openai:x", "max_row": 5}"#).unwrap_err();
        assert!(err.to_string().contains("max_row"), "{err}");
        let spec =
            AgentSpec::from_json(r#"{"llm": "openai:x", "query_timeout_secs": -1}"#).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let err = rt.block_on(spec.build(Vec::new())).unwrap_err();
        assert!(err.to_string().contains("query_timeout_secs"), "{err}");
    }

    #[tokio::test]
    async fn builds_with_limits() {
        let spec = AgentSpec::from_json(
            r#"{"llm": {"provider": "openai_compatible", "model": "q", "base_url": "http://127.0.0.1:1/v1"},
                "connections": ["sample:flights"], "max_rows": 10, "query_timeout_secs": 2.5,
                "rules": ["r1"], "protocol": "json_text"}"#,
        )
        .unwrap();
        let agent = spec.build(Vec::new()).await.unwrap();
        assert_eq!(agent.config().guard.max_rows, Some(10));
        assert_eq!(
            agent.config().guard.timeout,
            Some(Duration::from_millis(2500))
        );
        assert_eq!(agent.config().rules.last().map(String::as_str), Some("r1"));
        assert_eq!(agent.connections().len(), 1);
        let err = open_store(Some("mysql://x")).await.err().unwrap();
        assert!(err.to_string().contains("store"), "{err}");
    }
}
