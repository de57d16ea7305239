//! The integration tests of metricchat-connectors, in one binary (one link instead of one per
//! backend). Each backend's tests are a module compiled with its feature; the shared suites
//! stay beside this folder: `conformance/` (the SQL backends' behaviour suite and fixtures),
//! `rest/` (what the Snowflake and BigQuery tests share) and `fixtures/` (test keys).
//!
//! A test whose service URL (`MC_TEST_POSTGRES_URL`, `MC_TEST_MYSQL_URL`, …) is unset says
//! SKIPPED and returns; with `CI=true` it fails instead. Wall-clock thresholds are scaled by
//! `MC_TEST_TIME_FACTOR` (default 1; raise it on a loaded machine). The scale tier (200k rows,
//! thousands of tables) is `#[ignore]`d here and run by `scripts/test-scale.sh` in release.

#[cfg(any(
    feature = "datafusion",
    feature = "sqlite",
    feature = "postgres",
    feature = "mysql",
    feature = "redshift"
))]
#[path = "../conformance/mod.rs"]
mod conformance;
#[cfg(any(feature = "snowflake", feature = "bigquery"))]
#[path = "../rest/mod.rs"]
mod rest;

mod bigquery;
mod datafusion;
mod duckdb;
mod faults;
mod mysql;
mod postgres;
mod redshift;
mod snowflake;
mod sqlite;
mod sqlite_perf;

/// `limit` scaled by `MC_TEST_TIME_FACTOR` (default 1), for assertions on elapsed wall-clock
/// time, which a loaded machine stretches.
pub fn time_limit(limit: std::time::Duration) -> std::time::Duration {
    let factor = std::env::var("MC_TEST_TIME_FACTOR")
        .ok()
        .and_then(|f| f.trim().parse::<f64>().ok())
        .filter(|f| f.is_finite() && *f > 0.0)
        .unwrap_or(1.0);
    limit.mul_f64(factor)
}
