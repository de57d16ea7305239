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

/// Whether a database error reports the session itself ending — an administrator terminating
/// the backend (`pg_terminate_backend`, MySQL `KILL CONNECTION`), the server shutting down, a
/// broken link — rather than a problem with the statement: another connection may work, while
/// rewriting the SQL cannot help (so it must not read as a SQL error the model should fix).
fn session_lost(db: &dyn sqlx::error::DatabaseError) -> bool {
    let code = db.code();
    let code = code.as_deref().unwrap_or("");
    // SQLSTATE class 08 (connection exception); PostgreSQL's admin shutdown, crash shutdown
    // and "cannot connect now".
    if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") {
        return true;
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // ER_CONNECTION_KILLED, CR_SERVER_GONE_ERROR, CR_SERVER_LOST.
        return matches!(my.number(), 1927 | 2006 | 2013);
    }
    false
}

/// A query error; database errors keep their code (SQLSTATE on PostgreSQL). A session that
/// ended under the query is a connection error (see [`session_lost`]).
pub(crate) fn query_error(connector: &str, e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Database(db) if session_lost(&*db) => {
            connection_error(connector, sqlx::Error::Database(db))
        }
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
