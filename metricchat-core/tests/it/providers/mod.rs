//! The cases every provider client must pass over real HTTP against the fake provider server,
//! written once and driven by a per-provider [`Provider`] descriptor, plus the helpers the
//! `*_http.rs` files share. Each of those files instantiates the cases with
//! [`provider_suite!`] and keeps only the cases specific to its provider's wire format.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use metricchat_core::ErrorKind;
use metricchat_core::error::Error;
use metricchat_core::llm::{
    ChatEvent, ChatMessage, ChatRequest, HttpOptions, LlmClient, RetryPolicy, ToolCall, ToolSpec,
};
use metricchat_testkit::{Exchange, FakeLlmServer, Reply};
use serde_json::json;

/// How to point one provider's client at the fake server, and what its wire says: `C` is its
/// configuration, `K` its client.
pub struct Provider<C: 'static, K: 'static> {
    /// The provider name, as in timeout operations (`openai first byte`).
    pub name: &'static str,
    /// The API key the client sends (it must never appear in an error).
    pub api_key: &'static str,
    /// A part of the message the fake server sends with a 401 in this provider's format.
    pub unauthorized_says: &'static str,
    /// The configuration of a file's tests for `server` (the suite's retries and timeouts).
    pub make_config: fn(&FakeLlmServer) -> C,
    /// What the shared cases change in that configuration: these connection settings, and
    /// the API key where the configuration has none.
    pub for_suite: fn(C, HttpOptions) -> C,
    /// Builds the client.
    pub build: fn(C) -> metricchat_core::Result<K>,
}

impl<C, K: LlmClient> Provider<C, K> {
    /// The configuration of a file's tests for `server`.
    pub fn config(&self, server: &FakeLlmServer) -> C {
        (self.make_config)(server)
    }

    /// The client of a file's tests for `server`.
    pub fn client(&self, server: &FakeLlmServer) -> K {
        self.client_with(server, |c| c)
    }

    /// The client of a file's tests for `server`, its configuration changed by `f`.
    pub fn client_with(&self, server: &FakeLlmServer, f: impl FnOnce(C) -> C) -> K {
        (self.build)(f(self.config(server))).unwrap()
    }

    /// The client of the shared cases, with connection settings `http`.
    pub fn suite_client(&self, server: &FakeLlmServer, http: HttpOptions) -> Arc<dyn LlmClient> {
        Arc::new(self.client_with(server, |c| (self.for_suite)(c, http)))
    }
}

/// The connection settings of the suite: 2 retries from 20 ms, timeouts 2 s / 5 s / 5 s.
pub fn http() -> HttpOptions {
    let mut h = HttpOptions::with_timeouts(
        Duration::from_secs(2),
        Duration::from_secs(5),
        Duration::from_secs(5),
    );
    h.retry = RetryPolicy::new(2, Duration::from_millis(20), Duration::from_secs(3));
    h
}

pub fn ask(text: &str) -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("You are a data analyst."),
        ChatMessage::user(text),
    ])
}

pub async fn collect(client: &(impl LlmClient + ?Sized), req: ChatRequest) -> Vec<ChatEvent> {
    let mut stream = client.stream(req).await.unwrap();
    let mut out = Vec::new();
    while let Some(ev) = stream.next().await {
        out.push(ev.unwrap());
    }
    out
}

pub async fn first_error(
    client: &(impl LlmClient + ?Sized),
    req: ChatRequest,
) -> (Vec<ChatEvent>, Error) {
    let mut stream = match client.stream(req).await {
        Ok(s) => s,
        Err(e) => return (Vec::new(), e),
    };
    let mut seen = Vec::new();
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(ev) => seen.push(ev),
            Err(e) => return (seen, e),
        }
    }
    panic!("the stream ended without an error: {seen:?}");
}

/// The text deltas of `events`, joined.
pub fn text_of(events: &[ChatEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The complete tool calls of `events`.
pub fn calls(events: &[ChatEvent]) -> Vec<&ToolCall> {
    events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::ToolCall { call } => Some(call),
            _ => None,
        })
        .collect()
}

/// Two tools: `create_data` (required `sql`) and `describe_tables`.
pub fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "create_data".into(),
            description: "Run a read-only SQL query.".into(),
            parameters: json!({"type": "object", "properties": {"sql": {"type": "string"}},
                               "required": ["sql"]}),
        },
        ToolSpec {
            name: "describe_tables".into(),
            description: "Describe tables.".into(),
            parameters: json!({"type": "object", "properties": {"tables": {"type": "array"}}}),
        },
    ]
}

/// Defines one `#[tokio::test]` per shared case for a [`Provider`] constant.
#[macro_export]
macro_rules! provider_suite {
    ($provider:expr) => {
        $crate::provider_suite!(@cases $provider;
            rate_limit_waits_for_retry_after_then_succeeds,
            server_errors_are_retried,
            retries_give_up_with_the_last_error,
            unauthorized_is_not_retried_and_keeps_the_message,
            cut_stream_is_an_llm_error_after_the_text_before_it,
            stalls_time_out,
            dropping_the_stream_closes_the_connection,
        );
    };
    (@cases $provider:expr; $($case:ident,)*) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::providers::$case(&$provider).await;
            }
        )*
    };
}

pub async fn rate_limit_waits_for_retry_after_then_succeeds<C, K: LlmClient>(p: &Provider<C, K>) {
    let server = FakeLlmServer::start(vec![
        Reply::rate_limited(1).into(),
        Reply::text("after the wait").into(),
    ])
    .await;
    let started = Instant::now();
    let reply = p
        .suite_client(&server, http())
        .complete(ask("hi"))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(reply.text, "after the wait");
    assert_eq!(server.requests().len(), 2);
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    server.verify().unwrap();
}

pub async fn server_errors_are_retried<C, K: LlmClient>(p: &Provider<C, K>) {
    let server = FakeLlmServer::start(vec![
        Reply::status(500).into(),
        Reply::status(503).into(),
        Reply::text("third time lucky").into(),
    ])
    .await;
    let reply = p
        .suite_client(&server, http())
        .complete(ask("hi"))
        .await
        .unwrap();
    assert_eq!(reply.text, "third time lucky");
    assert_eq!(server.requests().len(), 3);
    server.verify().unwrap();
}

pub async fn retries_give_up_with_the_last_error<C, K: LlmClient>(p: &Provider<C, K>) {
    let server = FakeLlmServer::start(vec![
        Reply::status(500).into(),
        Reply::status(500).into(),
        Reply::status(502).into(),
    ])
    .await;
    let err = p
        .suite_client(&server, http())
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Llm, "{err}");
    assert!(
        matches!(
            err,
            Error::Provider {
                status: Some(502),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(server.requests().len(), 3, "1 attempt + 2 retries");
    server.verify().unwrap();
}

pub async fn unauthorized_is_not_retried_and_keeps_the_message<C, K: LlmClient>(
    p: &Provider<C, K>,
) {
    let server = FakeLlmServer::start(vec![Reply::status(401).into()]).await;
    let err = p
        .suite_client(&server, http())
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(err.to_string().contains(p.unauthorized_says), "{err}");
    assert!(!err.to_string().contains(p.api_key));
    assert_eq!(server.requests().len(), 1);
    server.verify().unwrap();
}

pub async fn cut_stream_is_an_llm_error_after_the_text_before_it<C, K: LlmClient>(
    p: &Provider<C, K>,
) {
    let server = FakeLlmServer::start(vec![
        Reply::CutStream {
            text_before: "Partial answ".into(),
        }
        .into(),
    ])
    .await;
    let (seen, err) = first_error(&*p.suite_client(&server, http()), ask("hi")).await;
    assert_eq!(text_of(&seen), "Partial answ");
    assert_eq!(err.kind(), ErrorKind::Llm);
    assert!(err.to_string().contains("cut"), "{err}");
    // Events had been yielded, so nothing was retried.
    assert_eq!(server.requests().len(), 1);
}

pub async fn stalls_time_out<C, K: LlmClient>(p: &Provider<C, K>) {
    let server = FakeLlmServer::start(vec![
        Exchange::any(Reply::Stall),
        Reply::StallMidStream {
            text_before: "I was saying".into(),
        }
        .into(),
    ])
    .await;
    let mut h = HttpOptions::with_timeouts(
        Duration::from_secs(2),
        Duration::from_millis(300),
        Duration::from_millis(300),
    );
    h.retry = RetryPolicy::none();
    let c = p.suite_client(&server, h);
    let started = Instant::now();
    let err = c.complete(ask("hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let first_byte = format!("{} first byte", p.name);
    assert!(
        matches!(&err, Error::Timeout { operation, .. } if *operation == first_byte),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1);
    let (seen, err) = first_error(&*c, ask("hi")).await;
    assert_eq!(text_of(&seen), "I was saying");
    let idle = format!("{} stream idle", p.name);
    assert!(
        matches!(&err, Error::Timeout { operation, after } if *operation == idle && *after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    server.verify().unwrap();
}

pub async fn dropping_the_stream_closes_the_connection<C, K: LlmClient>(p: &Provider<C, K>) {
    let server = FakeLlmServer::start(vec![
        // ~40 chunks 300 ms apart: 12 s if nobody hangs up.
        Reply::text("x".repeat(160)).with_chunk_delay_ms(300).into(),
        Reply::text("next").into(),
    ])
    .await;
    let c = p.suite_client(&server, http());
    let mut stream = c.stream(ask("hi")).await.unwrap();
    while !matches!(stream.next().await, Some(Ok(ChatEvent::TextDelta { .. }))) {}
    assert_eq!(server.open_streams(), 1);
    drop(stream);
    let started = Instant::now();
    while server.open_streams() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the server is still streaming after the client dropped the stream"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The client still works afterwards.
    assert_eq!(c.complete(ask("again")).await.unwrap().text, "next");
    server.verify().unwrap();
}
