//! # metricchat-cli
//!
//! metricchat from a terminal and from AI assistants, as thin shells over the agent:
//!
//! - the `metricchat` binary ([`cli`]): `ask`, `query`, `tables`, `describe`, `explain`,
//!   `runs list|show`, `mcp`, `eval` ([`eval`]: suites through the core's harness, an exit
//!   code for CI) and `dashboard` ([`dashboard`]: from a run, list, show, refresh, html),
//!   configured by `metricchat.toml` ([`config`]: the same
//!   [`AgentSpec`](metricchat::spec::AgentSpec) the Python and Node packages take), the
//!   environment and one-off flags, with [documented exit codes](exit); statements that wait
//!   for approval (the `approval` setting) are decided at the terminal or by `--approve`
//!   ([`approve`]);
//! - an MCP server on the official Rust SDK ([`mcp`]), over stdio or Streamable HTTP, that a Rust
//!   service can also run for its own agent: [`mcp::serve_stdio`], [`mcp::serve_http`]. It asks
//!   the client's user to approve statements through MCP elicitation.
//!
//! Install with `cargo install --path metricchat-cli`.
//!
//! ## Cargo features
//! - `all-but-duckdb` (default): every connector but DuckDB, both run stores, every provider.
//! - `duckdb`: DuckDB files (compiles DuckDB's C++ sources).

pub mod approve;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod eval;
pub mod exit;
pub mod mcp;
pub mod output;
pub mod session;
pub mod steps;
