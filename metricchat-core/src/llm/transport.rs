//! The seam under the provider clients: a [`Transport`] sends each request straight to the
//! network, or through an [`HttpSend`] (the cassette) that records or replays it. Both the HTTP
//! plumbing and the cassette depend on this module, never on each other.

use std::sync::Arc;

use async_trait::async_trait;

use super::transport_error;
use crate::error::{Error, Result};

/// Sends one built request in place of the network (a cassette records or replays it).
#[async_trait]
pub(crate) trait HttpSend: std::fmt::Debug + Send + Sync {
    /// Sends `request` (with `client` when it goes to the network) and returns the response.
    async fn send(
        &self,
        provider: &str,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<reqwest::Response>;
}

/// How a provider client sends its requests: straight to the network, or through an
/// [`HttpSend`] such as a [`Cassette`](super::cassette::Cassette).
#[derive(Debug, Clone, Default)]
pub(crate) struct Transport {
    via: Option<Arc<dyn HttpSend>>,
}

impl Transport {
    /// Sends through `via` from now on.
    pub(crate) fn send_via(&mut self, via: impl HttpSend + 'static) {
        self.via = Some(Arc::new(via));
    }

    /// Sends `request` with `client`, or hands it to the [`HttpSend`] set with [`Self::send_via`].
    pub(crate) async fn send(
        &self,
        provider: &str,
        client: &reqwest::Client,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        match &self.via {
            None => request.send().await.map_err(|e| send_error(provider, e)),
            Some(via) => {
                let request = request.build().map_err(|e| send_error(provider, e))?;
                via.send(provider, client, request).await
            }
        }
    }
}

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
