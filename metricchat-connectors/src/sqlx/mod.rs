//! The layer the sqlx connectors (SQLite, PostgreSQL, MySQL/MariaDB, and Redshift through
//! PostgreSQL) share: connection URLs, driver errors, the privileged-login check, catalog keys,
//! decimal text and the engine task that turns rows into Arrow batches.

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod catalog;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod connect;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod decimal;
mod errors;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod login;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod query;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod url;

pub(crate) use crate::errors::conversion_error;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use catalog::{KeyColumn, add_key_column};
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use connect::{ConnectCause, Endpoint, connect_error, connect_timeout_error};
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use decimal::decimal_from_text;
#[cfg(feature = "mysql")]
pub(crate) use decimal::decimal256_from_text;
pub(crate) use errors::{connection_error, query_error};
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use login::{LoginCheck, LoginPrivileges, OPT_IN};
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use query::{ArrowColumn, SqlxEngine, Stop, engine_time_left, pump_rows, run_query};
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use url::{DbUrl, bad_url, bool_param, number_param};

/// Rows per Arrow batch.
pub(crate) const BATCH_ROWS: usize = 8192;
