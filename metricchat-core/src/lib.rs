//! # metricchat-core
//!
//! The heart of metricchat, an embeddable AI analytics agent: the [`Agent`] loop, the
//! [`Planner`](planner::Planner), [`Tool`](tools::Tool), [`Connector`] and
//! [`LlmClient`](llm::LlmClient) traits, the [`ContextHub`](context::ContextHub), the
//! [`SqlGuard`](guard::SqlGuard), built-in tools, LLM provider clients, the event stream and the
//! persistence [`Store`](store::Store).
//!
//! ## Cargo features
//! `default` is empty: the agent, its traits and the in-memory store, no LLM client and no
//! sqlx. The `metricchat` facade's default turns on `sqlite-store` and the four providers.
//! - `sqlite-store`: `store::SqliteStore`, the embedded persistence store.
//! - `postgres-store`: `store::PostgresStore`, the persistence store in a schema of a
//!   PostgreSQL database.
//! - `openai`, `anthropic`, `gemini`, `ollama`: the LLM provider clients in
//!   [`llm`]; `openai` also covers Azure OpenAI and OpenAI-compatible servers. An
//!   [`LlmSpec`](llm::LlmSpec) naming a provider whose feature is off fails with a config error
//!   naming the feature.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod agent;
pub mod approval;
pub(crate) mod compare;
pub mod connector;
pub mod context;
pub mod dashboard;
pub mod data;
pub mod error;
pub mod eval;
pub mod events;
pub(crate) mod exposure;
pub mod guard;
pub(crate) mod identity;
pub mod instructions;
pub mod knowledge;
pub mod llm;
pub mod planner;
pub(crate) mod prompts;
pub mod retry;
pub(crate) mod run;
pub mod serde_util;
pub mod store;
pub(crate) mod text;
pub mod tools;
pub mod viz;

pub use agent::{Agent, AgentBuilder, AgentConfig, AskResult, Run};
pub use connector::{Connector, ConnectorRef, Dialect, QueryOptions, SendableRecordBatchStream};
pub use error::{Error, ErrorKind, Result};
pub use events::{Event, EventKind, RunStatus};
pub use run::{FinishingStream, SharedRun};

/// The Arrow crates, re-exported so embedders use the same version.
pub use arrow;
