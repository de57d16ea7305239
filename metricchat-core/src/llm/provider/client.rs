//! [`HttpChatClient`]: the one HTTP chat client under every provider.

use std::collections::VecDeque;

use futures::StreamExt;
use serde_json::Value;
use tracing::Instrument;

use super::stream::{Frames, estimate_missing_usage, event_stream, frames};
use super::wire::{Decode, Wire};
use crate::error::{Error, Result};
use crate::llm::cassette::Cassette;
use crate::llm::http::{retry_after, stream_cut};
use crate::llm::transport::Transport;
use crate::llm::{ChatEvent, ChatRequest, ChatStream, check_images, content_filter_as_error};

/// A chat client speaking wire format `W` over HTTP.
///
/// Written once for every provider: it checks images, builds the request (body, key, headers),
/// sends it through the [`Transport`] (the network or a cassette), retries failures before the
/// first event with the config's [`RetryPolicy`](crate::llm::RetryPolicy) (honouring
/// `Retry-After`), bounds the wait for the first event and the silence between events, reads the
/// body as SSE, NDJSON or one JSON document, maps error responses through the wire, estimates
/// usage a provider did not report, and traces each request in a `llm.chat` span. Nothing is
/// retried once an event has been handed to the caller.
#[derive(Debug)]
pub(crate) struct HttpChatClient<W> {
    wire: W,
    http: reqwest::Client,
    transport: Transport,
}

/// The response of a successful attempt, read up to its first event.
enum Opened<D> {
    /// A whole JSON body, decoded.
    Json(VecDeque<ChatEvent>),
    /// A stream: `first` still to decode (unless the decoder took it into `pending`).
    Stream {
        frames: Frames,
        first: Option<String>,
        decoder: D,
        pending: VecDeque<ChatEvent>,
    },
}

impl<W: Wire> HttpChatClient<W> {
    /// A client for `wire`, with the reqwest client its connection settings describe.
    pub(crate) fn new(wire: W) -> Result<Self> {
        let http = wire.provider().http.client(W::PROVIDER)?;
        Ok(Self {
            wire,
            http,
            transport: Transport::default(),
        })
    }

    /// The wire format (and the provider config it holds).
    pub(crate) fn wire(&self) -> &W {
        &self.wire
    }

    /// The same client, sending through `cassette`.
    pub(crate) fn with_cassette(mut self, cassette: &Cassette) -> Self {
        self.transport.send_via(cassette.clone());
        self
    }

    /// Starts a streamed answer to `request` (see [`LlmClient::stream`](crate::llm::LlmClient)).
    pub(crate) async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        check_images(
            W::PROVIDER,
            &self.wire.model_info(),
            &request,
            W::IMAGE_URLS,
        )?;
        let body = self.wire.request_body(&request)?;
        let config = self.wire.provider();
        let span = tracing::debug_span!(
            "llm.chat",
            provider = W::PROVIDER,
            model = %config.model,
            purpose = request.purpose.as_deref().unwrap_or(""),
        );
        tracing::debug!(
            parent: &span,
            messages = request.messages.len(),
            tools = request.tools.len(),
            "chat request"
        );
        let operation = format!("{} chat", W::PROVIDER);
        let opened = config
            .http
            .retry
            .retry(&operation, |_| self.attempt(&body))
            .instrument(span)
            .await?;
        let stream: ChatStream = match opened {
            Opened::Json(events) => Box::pin(futures::stream::iter(events.into_iter().map(Ok))),
            Opened::Stream {
                frames,
                first,
                decoder,
                pending,
            } => event_stream(
                W::PROVIDER,
                frames,
                first,
                pending,
                decoder,
                config.http.idle_timeout,
            ),
        };
        let stream = estimate_missing_usage(W::PROVIDER, &request, stream);
        let stream = match W::CONTENT_FILTER {
            Some(signal) => content_filter_as_error(W::PROVIDER, signal, stream),
            None => stream,
        };
        // An error event in the stream may echo the key too.
        Ok(match config.api_key.clone() {
            Some(key) => Box::pin(stream.map(move |item| item.map_err(|e| redact_key(&key, e)))),
            None => stream,
        })
    }

    /// One attempt within the first-byte timeout: send, check the status, and read up to the
    /// first event (the whole body when it is JSON).
    async fn attempt(&self, body: &Value) -> Result<Opened<W::Decoder>> {
        let limit = self.wire.provider().http.first_byte_timeout;
        match tokio::time::timeout(limit, self.open(body)).await {
            Ok(result) => match &self.wire.provider().api_key {
                Some(key) => result.map_err(|e| redact_key(key, e)),
                None => result,
            },
            Err(_) => Err(Error::Timeout {
                operation: format!("{} first byte", W::PROVIDER),
                after: limit,
            }),
        }
    }

    async fn open(&self, body: &Value) -> Result<Opened<W::Decoder>> {
        let request = self
            .wire
            .authorize(self.http.post(self.wire.endpoint().clone()).json(body))?;
        let resp = self
            .transport
            .send(W::PROVIDER, &self.http, request)
            .await?;
        if !resp.status().is_success() {
            return Err(self.http_error(resp).await);
        }
        let mut decoder = self.wire.decoder();
        let mut pending = VecDeque::new();
        if self.wire.is_json(resp.headers()) {
            let bytes = resp.bytes().await.map_err(|e| {
                crate::llm::transport_error(
                    W::PROVIDER,
                    format!("reading the response failed: {e}"),
                    Some(e.into()),
                )
            })?;
            decoder.decode_body(&bytes, &mut pending)?;
            return Ok(Opened::Json(pending));
        }
        let mut frames = frames(W::PROVIDER, W::FRAMING, resp);
        loop {
            match frames.next().await {
                None => {
                    let detail = format!(
                        "the stream ended before any {}",
                        <W::Decoder as Decode>::UNIT
                    );
                    return Err(stream_cut(W::PROVIDER, &detail, None));
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(f)) if f.data.trim().is_empty() || decoder.is_keepalive(&f.event) => {}
                Some(Ok(f)) => {
                    let taken = decoder.first(&f.data, &mut pending)?;
                    return Ok(Opened::Stream {
                        frames,
                        first: (!taken).then_some(f.data),
                        decoder,
                        pending,
                    });
                }
            }
        }
    }

    /// Maps an error response to a typed [`Error::Provider`], keeping the provider's message.
    async fn http_error(&self, resp: reqwest::Response) -> Error {
        let status = resp.status().as_u16();
        let header_wait = retry_after(resp.headers());
        let body = resp.text().await.unwrap_or_default();
        let failure = self.wire.http_error(status, &body);
        tracing::debug!(
            provider = W::PROVIDER,
            status,
            code = failure.code.as_deref(),
            kind = %failure.kind,
            "provider returned an HTTP error"
        );
        let wait = header_wait.or(failure.retry_after);
        Error::Provider {
            provider: W::PROVIDER.into(),
            status: Some(status),
            message: failure.message,
            kind: failure.kind,
            retry_after: wait.filter(|_| status == 429 || status >= 500),
            source: None,
        }
    }
}

/// `e` with the API key taken out of its message and cause: a provider, or a gateway in front
/// of it, may echo the key in an error ("Incorrect API key provided: sk-…"), and the error's
/// text reaches events, the store and logs. Applied before the retry policy logs a failure.
pub(crate) fn redact_key(key: &secrecy::SecretString, e: Error) -> Error {
    use secrecy::ExposeSecret;
    let key = key.expose_secret();
    if key.len() < 4 {
        return e;
    }
    match e {
        Error::Provider {
            provider,
            status,
            message,
            kind,
            retry_after,
            source,
        } => {
            let source = source.map(|s| {
                if format!("{s} {s:?}").contains(key) {
                    let text = s.to_string().replace(key, "[redacted]");
                    Box::<dyn std::error::Error + Send + Sync>::from(text)
                } else {
                    s
                }
            });
            Error::Provider {
                provider,
                status,
                message: message.replace(key, "[redacted]"),
                kind,
                retry_after,
                source,
            }
        }
        other => other,
    }
}

/// Implements [`LlmClient`](crate::llm::LlmClient) and
/// [`Recordable`](crate::llm::cassette::Recordable) for a provider client that wraps an
/// [`HttpChatClient`] in its field `0`.
macro_rules! delegate_client {
    ($client:ty) => {
        #[async_trait::async_trait]
        impl $crate::llm::LlmClient for $client {
            fn model_info(&self) -> $crate::llm::ModelInfo {
                $crate::llm::provider::Wire::model_info(self.0.wire())
            }

            async fn stream(
                &self,
                request: $crate::llm::ChatRequest,
            ) -> $crate::error::Result<$crate::llm::ChatStream> {
                self.0.stream(request).await
            }
        }

        impl $crate::llm::cassette::Recordable for $client {
            fn with_cassette(self, cassette: &$crate::llm::cassette::Cassette) -> Self {
                Self(self.0.with_cassette(cassette))
            }
        }
    };
}
pub(crate) use delegate_client;
