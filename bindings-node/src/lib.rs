//! The native half of the npm package `metricchat`: a thin napi-rs shell over the Rust crate.
//!
//! Everything here converts arguments, bridges async and hands Arrow across; the behaviour lives
//! in `metricchat-core`. The JavaScript wrapper (`index.js`) gives the public API on top of these
//! `Native*` classes; their TypeScript declarations are generated into `native.d.ts`.
//!
//! Errors cross as `[Kind] message`, where `Kind` is [`ErrorKind::as_str`]; the wrapper turns
//! that into a `MetricChatError` whose `code` is `Kind`.

// napi's registration code is not generated for the (unused) test harness target.
#![cfg_attr(test, allow(dead_code))]

mod agent;
mod connection;
// Dashboards (issue 16).
mod dashboard;
mod data;
mod eval;
mod tools;

use metricchat::ErrorKind;

/// A metricchat error as a JavaScript error whose message starts with `[Kind] `.
pub(crate) fn js_error(err: &metricchat::Error) -> napi::Error {
    coded(err.kind(), err.to_string())
}

/// A JavaScript error of `kind` with `message`.
pub(crate) fn coded(kind: ErrorKind, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(
        napi::Status::GenericFailure,
        format!("[{}] {message}", kind.as_str()),
    )
}

/// Maps a metricchat result into a napi result.
pub(crate) fn js<T>(result: metricchat::Result<T>) -> napi::Result<T> {
    result.map_err(|e| js_error(&e))
}

/// An id argument, or an `InvalidInput` error naming it.
pub(crate) fn parse_uuid(id: &str) -> napi::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(id.trim())
        .map_err(|e| coded(ErrorKind::InvalidInput, format!("`{id}` is not an id: {e}")))
}
