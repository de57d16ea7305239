//! Failed connections of the client/server connectors, named by their cause.

use std::time::Duration;

use metricchat_core::error::Error;

/// What a failed connection attempt says about its cause, read from the engine's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectCause {
    /// Wrong user name or password.
    Auth,
    /// The database in the URL does not exist.
    UnknownDatabase,
    /// The user may not use that database.
    DatabaseDenied,
    /// Anything else (network errors are recognised from the driver error itself).
    Other,
}

/// Where a connection goes, for error messages.
pub(crate) struct Endpoint<'a> {
    /// "PostgreSQL", "Redshift", "MySQL/MariaDB".
    pub(crate) engine: &'a str,
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) user: &'a str,
    pub(crate) database: Option<&'a str>,
    pub(crate) timeout: Duration,
}

/// A connection failure named by its cause: unreachable server ([`Error::Connection`]),
/// failed authentication ([`Error::Connection`]) or unknown database ([`Error::NotFound`]).
pub(crate) fn connect_error(
    name: &str,
    ep: &Endpoint<'_>,
    cause: ConnectCause,
    e: sqlx::Error,
) -> Error {
    let addr = format!("{}:{}", ep.host, ep.port);
    let db = ep.database.unwrap_or_default();
    let engine = ep.engine;
    let connection = |message: String, e: sqlx::Error| Error::Connection {
        connector: name.to_string(),
        message,
        source: Some(Box::new(e)),
    };
    let detail = match &e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    };
    match cause {
        ConnectCause::Auth => {
            return connection(
                format!(
                    "authentication failed for user `{}` at {addr}: {detail}; check the user \
                     name and password",
                    ep.user
                ),
                e,
            );
        }
        ConnectCause::UnknownDatabase => {
            return Error::NotFound {
                what: "database",
                name: format!(
                    "`{db}` on {addr} (the server knows no such database; check the URL's path)"
                ),
            };
        }
        ConnectCause::DatabaseDenied => {
            return connection(
                format!(
                    "user `{}` may not use database `{db}` at {addr}: {detail}",
                    ep.user
                ),
                e,
            );
        }
        ConnectCause::Other => {}
    }
    match e {
        sqlx::Error::Io(io) => connection(
            format!(
                "cannot reach {engine} at {addr}: {io}; check the host and port and that the \
                 server is running"
            ),
            sqlx::Error::Io(io),
        ),
        sqlx::Error::PoolTimedOut => connection(
            format!(
                "no connection to {engine} at {addr} within {}s; the server may be down or \
                 unreachable (test_connection names the cause)",
                ep.timeout.as_secs()
            ),
            sqlx::Error::PoolTimedOut,
        ),
        other => connection(detail, other),
    }
}

/// The error for a connection attempt that got no answer within `ep.timeout`.
pub(crate) fn connect_timeout_error(name: &str, ep: &Endpoint<'_>) -> Error {
    Error::Connection {
        connector: name.to_string(),
        message: format!(
            "cannot reach {} at {}:{}: no answer within {}s; check the host, port and firewall",
            ep.engine,
            ep.host,
            ep.port,
            ep.timeout.as_secs()
        ),
        source: None,
    }
}
