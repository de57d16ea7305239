//! # metricchat
//!
//! An embeddable AI analytics agent: a user asks a question in plain language; the agent reads
//! the warehouse's schema and the team's rules, plans, writes read-only SQL, runs it, repairs it
//! when it fails, returns the data as Arrow, proposes a chart, and answers — streaming every step
//! as [`Event`]s.
//!
//! ```no_run
//! # async fn demo() -> metricchat::Result<()> {
//! use futures::StreamExt;
//! use metricchat::llm::{OpenAiClient, OpenAiConfig};
//! use metricchat::store::SqliteStore;
//! use metricchat::{connect, Agent};
//!
//! let agent = Agent::builder()
//!     .llm(OpenAiClient::new(OpenAiConfig::from_env())?)
//!     .connection(connect("file:///data/flights/")?)
//!     .store(SqliteStore::open("mc.db").await?)
//!     .build()?;
//! let mut run = agent.stream("Which carrier had the worst average departure delay?");
//! while let Some(event) = run.next().await {
//!     println!("{}", event.type_name());
//! }
//! let result = agent.ask("How many flights left JFK in 2013?").await?;
//! println!("{:?}\n{:?}", result.answer, result.sql());
//! # Ok(()) }
//! ```
//!
//! This crate is a facade: the agent lives in [`metricchat_core`], the warehouses in
//! [`metricchat_connectors`].
//!
//! ## Cargo features
//! - `datafusion` (default): the embedded DataFusion connector for CSV, Parquet, JSON and Arrow
//!   files and in-memory tables.
//! - `sqlite`: the SQLite connector (`sqlite:///path.db`).
//! - `postgres`: the PostgreSQL connector (`postgres://user@host/db`).
//! - `mysql`: the MySQL/MariaDB connector (`mysql://user@host/db`, `mariadb://…`).
//! - `redshift`: the Amazon Redshift connector (`redshift://user@cluster:5439/dev`; implies
//!   `postgres`).
//! - `snowflake`: the Snowflake connector over the SQL API v2 (`snowflake://ACCOUNT/DB/SCHEMA?…`).
//! - `bigquery`: the BigQuery connector over the REST API (`bigquery://PROJECT/DATASET?…`).
//! - `openai`, `anthropic`, `gemini`, `ollama` (all default): the LLM provider clients
//!   ([`llm`]); `openai` also serves Azure OpenAI and OpenAI-compatible servers.
//! - `sqlite-store` (default): the SQLite run store ([`store::SqliteStore`](metricchat_core::store)),
//!   for `sqlite://` and `.db` store specs.
//! - `postgres-store`: the PostgreSQL run store
//!   ([`store::PostgresStore`](metricchat_core::store)), for `postgres://` store specs. The
//!   `postgres` connector feature no longer turns it on.
//! - `duckdb` (off, and not in `all-but-duckdb`: it compiles DuckDB's C++ sources): the DuckDB
//!   connector (`duckdb:///path.duckdb`, `duckdb://:memory:`).
//! - `all-but-duckdb`: every feature above but `duckdb` (what the tests, lints and docs build).
//! - `full`: deprecated alias of `all-but-duckdb`.

pub use metricchat_core::{
    Agent, AgentBuilder, AgentConfig, AskResult, Connector, ConnectorRef, Dialect, Error,
    ErrorKind, Event, EventKind, QueryOptions, Result, Run, RunStatus, SendableRecordBatchStream,
    agent, arrow, connector, context, data, error, eval, events, guard, instructions, knowledge,
    llm, planner, store, tools, viz,
};
// Dashboards (issue 16).
pub use metricchat_core::dashboard;
// Cost preflight and approval (issue 15).
pub use metricchat_core::approval;

pub mod spec;

/// Warehouse connectors (each behind its cargo feature).
pub use metricchat_connectors as connectors;

pub use metricchat_connectors::connect;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
