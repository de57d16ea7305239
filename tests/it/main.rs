//! The `metricchat` facade's integration tests, in one binary: every file under `tests/` used to
//! be a binary of its own, each linking the whole agent and DataFusion, and on two cores linking
//! took longer than the tests. Run one part with a name filter:
//! `cargo test --workspace --features metricchat/all-but-duckdb --test it -- evals::`.
//!
//! Tiers:
//! - wall-clock bounds scale with `MC_TEST_TIME_FACTOR` (default 1; a loaded machine sets more);
//! - the `scale` tier (large catalogs) is `#[ignore]`d: run it with `-- --include-ignored scale`
//!   or `scripts/test.sh --scale`;
//! - tests that need a service (a local model at `MC_TEST_LLM_URL`) are `#[ignore]`d and say
//!   which variable they need.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod agent_loop;
// Cost preflight and approval (issue 15).
mod approval;
mod context_scale;
// Dashboards (issue 16).
mod dashboard;
mod e2e_http;
mod e2e_sql_engines;
mod evals;
// What the model may see (issue 15).
mod exposure;
mod faults;
mod fuzz;
mod guard_query;
mod hostile_sql;
mod many_users;
mod meaning_checks;
mod policy_escape;
mod real_llm;
mod secrets;
mod sql_candidates;
mod typegen;
