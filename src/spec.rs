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
//!     "max_iterations": 8,
//!     "max_wall_time": "5m",
//!     "guard": {"max_rows": 5000, "timeout": "30s"},
//!     "context": {"max_full_tables": 10}
//! }))?;
//! let agent = spec.build(Vec::new()).await?;
//! let result = agent.ask("Revenue by region last quarter?").await?;
//! # Ok(()) }
//! ```
//!
//! Every field but `llm` is optional; unknown fields are refused so a typo fails loudly. The
//! [`AgentConfig`] fields sit at the top level under their Rust
//! names; durations are milliseconds or strings with a unit (`"30s"`).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use metricchat_core::error::{Error, Result};
use metricchat_core::llm::LlmSource;
use metricchat_core::store::{MemoryStore, Store};
use metricchat_core::tools::DynTool;
use metricchat_core::{Agent, AgentConfig, ConnectorRef};

/// Everything needed to build an [`Agent`], as serde data: the parts only a spec has (model,
/// connections, store, knowledge) plus every [`AgentConfig`] field, flattened, under the same
/// names and in the same units as in Rust.
///
/// Durations take the one serde form of [`metricchat_core::serde_util`]: milliseconds or a
/// string with a unit (`"max_wall_time": "5m"`, `"guard": {"timeout": "30s"}`). The context
/// budgets are under `"context"` ([`ContextConfig`](metricchat_core::context::ContextConfig)).
///
/// The keys of earlier versions are still read: `max_rows`, `allow_writes` (now
/// `guard.max_rows` / `guard.allow_writes`), `query_timeout_secs` and `max_wall_time_secs`
/// (seconds; now `guard.timeout` / `max_wall_time` in the duration form). When one is given it
/// wins over the new key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
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
    /// with the `postgres-store` feature a `postgres://` URL (schema `metricchat` in that
    /// database).
    #[serde(default)]
    pub store: Option<String>,
    /// Knowledge to load: dbt `manifest.json` files or project folders, LookML files or
    /// folders, Tableau `.tds` / `.twb` files.
    #[serde(default)]
    pub knowledge: Vec<String>,
    /// Budgets, guard, context, protocol, rules… — every [`AgentConfig`] field at the top level
    /// of the spec (`"max_iterations"`, `"guard": {...}`, `"context": {...}`, `"rules": [...]`).
    #[serde(flatten)]
    pub config: AgentConfig,
    /// The keys of earlier versions (see the type's docs).
    #[serde(flatten)]
    legacy: LegacyKeys,
}

/// Spec keys of 0.1 that re-declared [`AgentConfig`] fields under other names and units. Read
/// for compatibility; never written unless set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LegacyKeys {
    /// `max_wall_time`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_wall_time_secs: Option<f64>,
    /// `guard.max_rows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_rows: Option<u64>,
    /// `guard.timeout`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    query_timeout_secs: Option<f64>,
    /// `guard.allow_writes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allow_writes: Option<bool>,
}

impl LegacyKeys {
    /// Writes the keys that were given into `config`.
    fn apply(&self, config: &mut AgentConfig) -> Result<()> {
        if let Some(t) = secs("max_wall_time_secs", self.max_wall_time_secs)? {
            config.max_wall_time = Some(t);
        }
        if let Some(rows) = self.max_rows {
            config.guard.max_rows = Some(rows);
        }
        if let Some(t) = secs("query_timeout_secs", self.query_timeout_secs)? {
            config.guard.timeout = Some(t);
        }
        if let Some(w) = self.allow_writes {
            config.guard.allow_writes = w;
        }
        Ok(())
    }
}

fn secs(field: &str, v: Option<f64>) -> Result<Option<Duration>> {
    match v {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Duration::try_from_secs_f64(s)
            .map(Some)
            .map_err(|e| Error::config("agent spec", format!("`{field}`: {e}"))),
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
    let Some(s) = spec.filter(|s| !matches!(*s, "memory" | ":memory:")) else {
        return Ok(Arc::new(MemoryStore::new()));
    };
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        return open_postgres_store(s).await;
    }
    let path = s
        .strip_prefix("sqlite://")
        .or_else(|| {
            (s.ends_with(".db") || s.ends_with(".sqlite") || s.ends_with(".sqlite3")).then_some(s)
        })
        .ok_or_else(|| {
            Error::config(
                "agent spec",
                format!(
                    "store `{s}`: expected \"memory\", \"sqlite:///path.db\", a path ending in .db/.sqlite, or (with the `postgres-store` feature) a postgres:// URL"
                ),
            )
        })?;
    open_sqlite_store(path).await
}

#[cfg(feature = "postgres-store")]
async fn open_postgres_store(url: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(
        metricchat_core::store::PostgresStore::connect(url).await?,
    ))
}

#[cfg(not(feature = "postgres-store"))]
async fn open_postgres_store(_url: &str) -> Result<Arc<dyn Store>> {
    Err(Error::config(
        "agent spec",
        "a postgres:// store needs the `postgres-store` feature of metricchat",
    ))
}

#[cfg(feature = "sqlite-store")]
async fn open_sqlite_store(path: &str) -> Result<Arc<dyn Store>> {
    use metricchat_core::store::SqliteStore;
    Ok(if path == ":memory:" || path.is_empty() {
        Arc::new(SqliteStore::in_memory().await?)
    } else {
        Arc::new(SqliteStore::open(path).await?)
    })
}

#[cfg(not(feature = "sqlite-store"))]
async fn open_sqlite_store(_path: &str) -> Result<Arc<dyn Store>> {
    Err(Error::config(
        "agent spec",
        "a SQLite store needs the `sqlite-store` feature of metricchat (in its default)",
    ))
}

impl AgentSpec {
    /// Parses a spec from JSON text.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::config("agent spec", format!("invalid agent spec: {e}")))
    }

    /// The agent's configuration: the [`AgentConfig`] fields with the 0.1 keys applied, as
    /// [`AgentSpec::build`] configures the agent. For hosts that assemble the agent themselves
    /// (the `metricchat` CLI opens and checks each connection before building).
    pub fn agent_config(&self) -> Result<AgentConfig> {
        let mut config = self.config.clone();
        self.legacy.apply(&mut config)?;
        Ok(config)
    }

    /// Builds the agent with `tools` added to the built-in ones. Opens the store (creating or
    /// migrating a SQLite file) but makes no call to the model or the warehouses.
    pub async fn build(&self, tools: Vec<Arc<dyn DynTool>>) -> Result<Agent> {
        self.builder(tools).await?.build()
    }

    /// The [`AgentBuilder`](metricchat_core::AgentBuilder) with everything the spec says (the
    /// store opened), to add what a spec cannot hold — an
    /// [`approval_handler`](metricchat_core::AgentBuilder::approval_handler), providers — before
    /// [`build`](metricchat_core::AgentBuilder::build).
    pub async fn builder(
        &self,
        tools: Vec<Arc<dyn DynTool>>,
    ) -> Result<metricchat_core::AgentBuilder> {
        let llm = self.llm.as_ref().ok_or_else(|| {
            Error::config(
                "agent spec",
                "`llm` is required, e.g. \"openai:gpt-4.1-mini\" or {\"provider\": \"ollama\", \"model\": \"qwen2.5-coder\"}",
            )
        })?;
        let mut config = self.config.clone();
        self.legacy.apply(&mut config)?;
        let mut builder = Agent::builder().llm(llm.build()?);
        if let Some(title) = &self.title_llm {
            builder = builder.title_llm(title.build()?);
        }
        for url in &self.connections {
            builder = builder.connection(connect_spec(url)?);
        }
        builder = builder.store(open_store(self.store.as_deref()).await?);
        for tool in tools {
            builder = builder.tool(tool);
        }
        for path in &self.knowledge {
            builder = builder.knowledge(path);
        }
        Ok(builder.config(config))
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

    /// Every `AgentConfig` field, `context` included, is reachable under its Rust name, with
    /// durations in the one duration form.
    #[tokio::test]
    async fn config_fields_under_their_own_names() {
        let spec = AgentSpec::from_json(
            r#"{"llm": {"provider": "openai_compatible", "model": "q", "base_url": "http://127.0.0.1:1/v1"},
                "connections": ["sample:flights"], "max_wall_time": "90s", "max_tokens": 1000,
                "answer_checks": false, "guard": {"max_rows": 7, "timeout": 1500},
                "context": {"max_full_tables": 3, "observation_chars": 99},
                "approval": {"max_rows": 5, "max_cost": 1.5, "timeout": "2s"}}"#,
        )
        .unwrap();
        assert_eq!(spec.config.max_wall_time, Some(Duration::from_secs(90)));
        assert!(!spec.config.answer_checks);
        let agent = spec.build(Vec::new()).await.unwrap();
        let config = agent.config();
        assert_eq!(config.max_tokens, Some(1000));
        assert_eq!(config.guard.max_rows, Some(7));
        assert_eq!(config.guard.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(config.context.max_full_tables, 3);
        assert_eq!(config.context.observation_chars, 99);
        let approval = config.approval.clone().unwrap();
        assert_eq!(approval.max_rows, Some(5));
        assert_eq!(approval.max_cost, Some(1.5));
        assert_eq!(approval.timeout, Duration::from_secs(2));
        // What the spec leaves out keeps its default.
        assert_eq!(config.max_iterations, AgentConfig::default().max_iterations);
        assert!(config.generate_title);
        let err = AgentSpec::from_json(r#"{"llm": "openai:x", "guard": {"max_row": 5}}"#);
        assert!(err.is_err());
    }

    /// The 0.1 keys map onto the config fields, seconds turned into durations.
    #[test]
    fn old_keys_still_read() {
        let spec = AgentSpec::from_json(
            r#"{"llm": "openai:x", "max_wall_time_secs": 1.5, "query_timeout_secs": 2,
                "max_rows": 10, "allow_writes": true, "max_iterations": 4,
                "rules": ["r"], "instructions": "i", "protocol": "json_text",
                "generate_title": false, "max_cost_usd": 0.5}"#,
        )
        .unwrap();
        let mut config = spec.config.clone();
        spec.legacy.apply(&mut config).unwrap();
        assert_eq!(config.max_wall_time, Some(Duration::from_millis(1500)));
        assert_eq!(config.guard.timeout, Some(Duration::from_secs(2)));
        assert_eq!(config.guard.max_rows, Some(10));
        assert!(config.guard.allow_writes);
        assert_eq!(config.max_iterations, 4);
        assert_eq!(config.rules, vec!["r".to_string()]);
        assert_eq!(config.instructions.as_deref(), Some("i"));
        assert_eq!(
            config.protocol,
            metricchat_core::planner::DecisionProtocol::JsonText
        );
        assert!(!config.generate_title);
        assert_eq!(config.max_cost_usd, Some(0.5));
        // Written back, the spec keeps the old keys it was given and the new ones.
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["max_rows"], 10);
        assert_eq!(json["guard"]["max_rows"], 10_000);
        let again: AgentSpec = serde_json::from_value(json).unwrap();
        assert_eq!(again.legacy.max_rows, Some(10));
    }
}
