//! Errors every connector family words the same way.

use metricchat_core::error::Error;

/// An [`Error::InvalidInput`] about a malformed `product` connection URL.
#[cfg(any(
    feature = "postgres",
    feature = "mysql",
    feature = "snowflake",
    feature = "bigquery"
))]
pub(crate) fn bad_url(product: &str, message: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("bad {product} URL: {message}"))
}

/// A value that could not be converted to its column's Arrow type.
pub(crate) fn conversion_error(connector: &str, column: &str, message: String) -> Error {
    Error::Query {
        connector: connector.to_string(),
        message: format!("column `{column}`: {message}"),
        code: None,
        source: None,
    }
}
