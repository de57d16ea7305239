//! HTTP plumbing shared by the provider clients: transport errors and content types.

use eventsource_stream::EventStreamError;
use reqwest::header::{self, HeaderMap};

use super::transport_error;
use crate::error::{BoxError, Error};

/// A failure to send a request (connect, timeout, builder) as a typed error.
pub(crate) fn send_error(provider: &str, e: reqwest::Error) -> Error {
    if e.is_builder() {
        return Error::config(provider, format!("cannot build the request: {e}"));
    }
    let what = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "connection timed out"
    } else {
        "request failed"
    };
    transport_error(provider, format!("{what}: {e}"), Some(e.into()))
}

/// A response stream that ended before the provider said it was done.
pub(crate) fn stream_cut(provider: &str, detail: &str, source: Option<BoxError>) -> Error {
    transport_error(
        provider,
        format!("the response stream was cut: {detail}"),
        source,
    )
}

/// A server-sent-events decoding failure as a typed error.
pub(crate) fn sse_error(provider: &str, e: EventStreamError<reqwest::Error>) -> Error {
    match e {
        EventStreamError::Transport(e) => stream_cut(
            provider,
            "connection closed before the response ended",
            Some(e.into()),
        ),
        EventStreamError::Utf8(e) => {
            stream_cut(provider, "invalid UTF-8 in the stream", Some(e.into()))
        }
        EventStreamError::Parser(e) => {
            transport_error(provider, format!("malformed event stream: {e}"), None)
        }
    }
}

/// Whether a response is `application/json` (rather than a stream).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

/// How a provider client sends its requests: straight to the network, or through a
/// [`Cassette`](super::cassette::Cassette) that records or replays them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transport {
    cassette: Option<super::cassette::Cassette>,
}

impl Transport {
    /// Sends through `cassette` from now on.
    pub(crate) fn set_cassette(&mut self, cassette: super::cassette::Cassette) {
        self.cassette = Some(cassette);
    }

    /// Sends `request` with `client`, or answers it from the cassette.
    pub(crate) async fn send(
        &self,
        provider: &str,
        client: &reqwest::Client,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        match &self.cassette {
            None => request.send().await.map_err(|e| send_error(provider, e)),
            Some(cassette) => {
                let request = request.build().map_err(|e| send_error(provider, e))?;
                cassette.send(provider, client, request).await
            }
        }
    }
}
