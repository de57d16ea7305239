//! Driver errors as metricchat errors: connection, query and conversion failures.

use metricchat_core::error::Error;

/// A connection error with the driver cause.
pub(crate) fn connection_error(connector: &str, e: sqlx::Error) -> Error {
    let message = match &e {
        sqlx::Error::Io(io) => format!("cannot reach the database: {io}"),
        sqlx::Error::PoolTimedOut => "timed out waiting for a pooled connection".to_string(),
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    };
    Error::Connection {
        connector: connector.to_string(),
        message,
        source: Some(Box::new(e)),
    }
}

/// A query error; database errors keep their code (SQLSTATE on PostgreSQL).
pub(crate) fn query_error(connector: &str, e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Database(db) => Error::Query {
            connector: connector.to_string(),
            message: db.message().to_string(),
            code: db.code().map(|c| c.into_owned()),
            source: Some(Box::new(sqlx::Error::Database(db))),
        },
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed) => connection_error(connector, e),
        other => Error::Query {
            connector: connector.to_string(),
            message: other.to_string(),
            code: None,
            source: Some(Box::new(other)),
        },
    }
}
