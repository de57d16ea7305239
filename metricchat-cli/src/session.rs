//! Building the [`Agent`] a command runs: the configuration file, the environment and flags,
//! each connection opened and checked, the store opened.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use metricchat::approval::ApprovalHandler;
use metricchat::llm::{LlmSource, LlmSpec, Provider};
use metricchat::{Agent, ConnectorRef, ErrorKind};

use crate::config::{self, ConfigError, LoadedConfig, Overrides};
use crate::exit::{CliError, Redactor};

/// The connection used when neither the file nor a flag names one: the bundled nycflights13
/// sample (tables `flights`, `airlines`, `airports`, `planes`, `weather`).
pub const SAMPLE_CONNECTION: &str = "sample:flights";

/// How long a connection may take to answer its first check.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a command needs from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// A model is required (`ask`, `mcp`, `eval`).
    Model,
    /// Only the data (`query`, `tables`, `describe`, `explain`, `runs`, `dashboard`).
    DataOnly,
}

/// An agent ready to use, with the redactor for its secrets.
#[derive(Debug, Clone)]
pub struct Session {
    /// The agent.
    pub agent: Agent,
    /// Blanks the configuration's secrets out of printed text.
    pub redactor: Redactor,
    /// Whether a model is configured (the agent holds a placeholder otherwise).
    pub has_model: bool,
}

/// Where the configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config PATH` / `MC_CONFIG`.
    pub config: Option<PathBuf>,
    /// One-off flags.
    pub overrides: Overrides,
}

/// Reads the configuration: `--config`, else `./metricchat.toml` when it exists, else nothing;
/// then the environment and the flags.
pub fn load(sources: &Sources) -> Result<LoadedConfig, ConfigError> {
    let env = |name: &str| std::env::var(name).ok();
    let mut config = match &sources.config {
        Some(path) => LoadedConfig::from_file(path)?,
        None => {
            let path = PathBuf::from(config::DEFAULT_FILE);
            if path.is_file() {
                LoadedConfig::from_file(&path)?
            } else {
                LoadedConfig::empty()
            }
        }
    };
    config::apply_overrides(&mut config, &sources.overrides, &env)?;
    Ok(config)
}

/// Builds the agent: opens every connection (the bundled sample when none is configured) and
/// checks that it answers, builds the model client and opens the store.
pub async fn open(config: &LoadedConfig, needs: Needs) -> Result<Session, CliError> {
    open_with(config, needs, None).await
}

/// [`open`], with an approval handler deciding every run's approval requests (`eval
/// --approve`).
pub async fn open_with(
    config: &LoadedConfig,
    needs: Needs,
    approval_handler: Option<Arc<dyn ApprovalHandler>>,
) -> Result<Session, CliError> {
    let spec = &config.spec;
    let mut redactor = Redactor::new(config.secrets.clone());
    let urls: Vec<String> = if spec.connections.is_empty() {
        vec![SAMPLE_CONNECTION.to_string()]
    } else {
        spec.connections.clone()
    };
    for url in &urls {
        redactor.add_url(url);
    }
    let mut connections: Vec<ConnectorRef> = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let conn = metricchat::spec::connect_spec(url).map_err(|e| {
            let message = redactor.apply(&e.to_string());
            match e.kind() {
                ErrorKind::InvalidInput | ErrorKind::Unsupported => {
                    CliError::from(config.connection_error(i, message))
                }
                _ => CliError::connection(format!(
                    "cannot open connection {}: {message}",
                    redactor.apply(url)
                )),
            }
        })?;
        let name = conn.info().name;
        match tokio::time::timeout(CONNECT_TIMEOUT, conn.test_connection()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(CliError::connection(format!(
                    "connection `{name}` ({}) does not answer: {}",
                    redactor.apply(url),
                    redactor.apply(&e.to_string())
                )));
            }
            Err(_) => {
                return Err(CliError::connection(format!(
                    "connection `{name}` ({}) did not answer within {}s",
                    redactor.apply(url),
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        }
        connections.push(conn);
    }
    let (llm_source, has_model) = match &spec.llm {
        Some(source) => (source.clone(), true),
        None if needs == Needs::Model => {
            return Err(CliError::usage(
                "no model is configured. Set `llm` in metricchat.toml, pass --model \
                 (e.g. --model openai:gpt-4.1-mini), or set OPENAI_API_KEY, or MC_LLM_BASE_URL \
                 (an OpenAI-compatible server) with MC_LLM_MODEL",
            ));
        }
        // Commands that never ask a model still need a client to build an agent.
        None => (
            LlmSource::Spec(
                LlmSpec::new(Provider::OpenAiCompatible)
                    .with_model("none")
                    .with_base_url("http://127.0.0.1:9/v1"),
            ),
            false,
        ),
    };
    let llm = llm_source
        .build()
        .map_err(|e| config.llm_error(redactor.apply(&e.to_string())))?;
    let mut builder = Agent::builder().llm(llm);
    if let Some(title) = &spec.title_llm {
        builder = builder.title_llm(title.build().map_err(|e| {
            CliError::usage(format!("`title_llm`: {}", redactor.apply(&e.to_string())))
        })?);
    }
    let store_spec = match &spec.store {
        Some(s) => s.clone(),
        None => default_store()?,
    };
    let store = metricchat::spec::open_store(Some(&store_spec))
        .await
        .map_err(|e| config.store_error(redactor.apply(&e.to_string())))?;
    builder = builder.store(store).connections(connections);
    for path in &spec.knowledge {
        builder = builder.knowledge(path);
    }
    let agent_config = spec
        .agent_config()
        .map_err(|e| CliError::usage(redactor.apply(&e.to_string())))?;
    if let Some(handler) = approval_handler {
        builder = builder.approval_handler(handler);
    }
    let agent = builder
        .config(agent_config)
        .build()
        .map_err(|e| CliError::usage(redactor.apply(&e.to_string())))?;
    Ok(Session {
        agent,
        redactor,
        has_model,
    })
}

/// The default store: a SQLite file under the user's data directory (created when missing).
fn default_store() -> Result<String, CliError> {
    let path = config::default_store_path(&|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        .ok_or_else(|| {
            CliError::usage("no HOME to keep runs in: set MC_STORE, --store or `store`")
        })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(format!("sqlite://{}", path.display()))
}

/// Finds a connection by name (`None`: the first).
pub fn connection<'a>(agent: &'a Agent, name: Option<&str>) -> Result<&'a ConnectorRef, CliError> {
    metricchat::connector::find_connection(agent.connections(), name).map_err(CliError::from)
}
