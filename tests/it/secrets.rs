//! Secrets never leak (issue 18, item 10): a whole agent run per LLM provider (OpenAI, Azure
//! OpenAI, Anthropic, Gemini, Ollama) with a key set, over real HTTP against the fake provider
//! server, plus a PostgreSQL store and connector whose URLs carry a password. Everything a host
//! or an operator could see is captured — every tracing line at TRACE, every event (JSON and
//! `Debug`), every stored row (the SQLite file's bytes and its tables as text), the `Debug` of
//! the client, config, agent, connector and result, and the error of a run the provider
//! refuses with a body that echoes the key — and the key occurs nowhere. The fake server's
//! recording shows the key was really sent, so the test is not vacuous.
//!
//! Run: `cargo test --workspace --features metricchat/all-but-duckdb --test it -- secrets::`.
#![cfg(all(
    feature = "openai",
    feature = "anthropic",
    feature = "gemini",
    feature = "ollama",
    feature = "datafusion",
    feature = "sqlite-store"
))]

use std::io::Write;
use std::sync::{Arc, Mutex};

use metricchat::llm::{
    AnthropicClient, AnthropicConfig, GeminiClient, GeminiConfig, LlmClient, OllamaClient,
    OllamaConfig, OpenAiClient, OpenAiConfig,
};
use metricchat::planner::DecisionProtocol;
use metricchat::store::{SqliteStore, Store};
use metricchat::{Agent, Event};
use metricchat_testkit::{Exchange, FakeLlmServer, Matcher, Reply};
use serde_json::json;
use sqlx::{Column, Connection, Row};

use crate::common::*;

/// A tracing writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Every place a secret could surface, as text, labelled.
#[derive(Default)]
struct Surfaces(Vec<(String, String)>);

impl Surfaces {
    fn add(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.0.push((what.into(), text.into()));
    }

    fn add_events(&mut self, label: &str, events: &[Event]) {
        for e in events {
            self.add(
                format!("{label} event {} (JSON)", e.type_name()),
                e.to_json().to_string(),
            );
            self.add(
                format!("{label} event {} (Debug)", e.type_name()),
                format!("{e:?}"),
            );
        }
    }

    fn assert_clean(&self, secret: &str) {
        assert!(!self.0.is_empty());
        for (what, text) in &self.0 {
            assert!(
                !text.contains(secret),
                "the secret leaked into {what}:\n{}",
                excerpt(text, secret)
            );
        }
    }
}

fn excerpt(text: &str, secret: &str) -> String {
    let at = text.find(secret).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(200)
        .map_or(0, |(i, _)| i);
    let end = (at + secret.len() + 200).min(text.len());
    let end = (end..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..end].to_string()
}

/// Every table of the SQLite store file as text, and the raw bytes of the file and its WAL.
async fn store_dump(path: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for suffix in ["", "-wal", "-journal"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(bytes) = std::fs::read(&file) {
            out.push((
                format!("store file {}", file.display()),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut db)
            .await
            .unwrap();
    for t in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM \"{t}\"")))
            .fetch_all(&mut db)
            .await
            .unwrap();
        let mut text = String::new();
        for r in &rows {
            for (i, c) in r.columns().iter().enumerate() {
                let v: Option<String> =
                    r.try_get::<Option<String>, _>(i)
                        .ok()
                        .flatten()
                        .or_else(|| {
                            r.try_get::<Option<Vec<u8>>, _>(i)
                                .ok()
                                .flatten()
                                .map(|b| String::from_utf8_lossy(&b).into_owned())
                        });
                text.push_str(&format!("{}={:?};", c.name(), v));
            }
            text.push('\n');
        }
        out.push((format!("store table {t}"), text));
    }
    db.close().await.unwrap();
    out
}

/// One provider under test: its client with `key`, the key's place in a request.
struct Provider {
    client: Arc<dyn LlmClient>,
    protocol: DecisionProtocol,
}

fn provider(name: &'static str, server: &FakeLlmServer, key: &str) -> Provider {
    let client: Arc<dyn LlmClient> = match name {
        "openai" => Arc::new(
            OpenAiClient::new(
                OpenAiConfig::new("gpt-4.1-mini")
                    .with_base_url(server.base_url())
                    .with_api_key(key),
            )
            .unwrap(),
        ),
        "azure" => Arc::new(
            OpenAiClient::new(
                OpenAiConfig::azure(server.origin(), "gpt-4o-mini", "2024-10-21").with_api_key(key),
            )
            .unwrap(),
        ),
        "anthropic" => Arc::new(
            AnthropicClient::new(
                AnthropicConfig::new("claude-3-5-haiku-latest")
                    .with_base_url(server.origin())
                    .with_api_key(key),
            )
            .unwrap(),
        ),
        "gemini" => Arc::new(
            GeminiClient::new(
                GeminiConfig::new("gemini-2.0-flash")
                    .with_base_url(server.origin())
                    .with_api_key(key),
            )
            .unwrap(),
        ),
        "ollama" => Arc::new(
            OllamaClient::new(
                OllamaConfig::new("qwen2.5-coder:1.5b")
                    .with_host(server.origin())
                    .with_api_key(key)
                    .with_tools(true),
            )
            .unwrap(),
        ),
        other => panic!("unknown provider {other}"),
    };
    Provider {
        client,
        protocol: DecisionProtocol::NativeTools,
    }
}

fn script(key: &str) -> Vec<Exchange> {
    let planner = || Matcher::body_contains("You are metricchat");
    vec![
        Exchange::when(
            planner(),
            Reply::tool_call(
                "create_data",
                json!({"title": "Flights from JFK",
                       "sql": "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'"}),
            ),
        ),
        Exchange::when(planner(), Reply::text("111279 flights left JFK in 2013.")),
        Exchange::when(
            Matcher::body_contains("title of at most six words"),
            Reply::text("Flights from JFK"),
        ),
        // The second run: the provider refuses the key and echoes it in its error body, as
        // some gateways do.
        Exchange::when(
            planner(),
            Reply::error(
                401,
                "invalid_request_error",
                json!("invalid_api_key"),
                &format!("Incorrect API key provided: {key}. Check your key."),
            ),
        ),
    ]
}

fn secret(name: &str) -> String {
    format!("mc-SECRET-{name}-7f3a9c1e5b2d4086")
}

async fn one_provider(name: &'static str, surfaces: &mut Surfaces, key: &str) {
    let server = FakeLlmServer::start(script(key)).await;
    let p = provider(name, &server, key);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let store = Arc::new(SqliteStore::open(&db).await.unwrap());
    let agent = Agent::builder()
        .llm(p.client.clone())
        .title_llm(p.client.clone())
        .connection(flights())
        .store(store.clone() as Arc<dyn Store>)
        .protocol(p.protocol)
        .answer_checks(false)
        .build()
        .unwrap();
    surfaces.add(format!("{name} client Debug"), format!("{:?}", p.client));
    surfaces.add(format!("{name} agent Debug"), format!("{agent:?}"));
    surfaces.add(
        format!("{name} agent config Debug"),
        format!("{:?}", agent.config()),
    );

    let mut run = agent.stream("How many flights left JFK in 2013?");
    let events = run.collect_events().await;
    let result = run.finish().await.unwrap();
    assert_eq!(result.status, metricchat::RunStatus::Completed, "{name}");
    surfaces.add_events(name, &events);
    surfaces.add(format!("{name} result Debug"), format!("{result:?}"));
    surfaces.add(format!("{name} result JSON"), result.to_json().to_string());

    let mut run = agent.stream("And from LGA?");
    let events = run.collect_events().await;
    let err = run
        .finish()
        .await
        .expect_err("the provider refused the key");
    surfaces.add_events(&format!("{name} refused"), &events);
    surfaces.add(format!("{name} error Display"), err.to_string());
    surfaces.add(format!("{name} error Debug"), format!("{err:?}"));
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        surfaces.add(format!("{name} error source"), format!("{s} / {s:?}"));
        source = s.source();
    }

    // The key really went out (else the test proves nothing).
    let sent = server.recorded().iter().any(|r| {
        r.headers.values().any(|v| v.contains(key))
            || r.query.as_deref().is_some_and(|q| q.contains(key))
    });
    assert!(sent, "{name}: the key was never sent to the provider");

    drop(agent);
    store.close().await;
    for (what, text) in store_dump(&db).await {
        surfaces.add(format!("{name} {what}"), text);
    }
}

#[test]
fn no_key_appears_in_logs_events_store_or_debug_output() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // This thread's default: the runtime below is current-thread, so every task of the runs
    // logs here.
    let _guard = tracing_subscriber::util::SubscriberInitExt::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let providers = ["openai", "azure", "anthropic", "gemini", "ollama"];
    let mut surfaces = Surfaces::default();
    rt.block_on(async {
        for name in providers {
            let key = secret(name);
            let mut mine = Surfaces::default();
            one_provider(name, &mut mine, &key).await;
            mine.assert_clean(&key);
            surfaces.0.extend(mine.0);
        }
    });
    let log = logs.text();
    assert!(
        log.lines().count() > 50,
        "too few log lines captured ({}): is TRACE on?",
        log.lines().count()
    );
    for name in providers {
        let key = secret(name);
        assert!(
            !log.contains(&key),
            "the {name} key leaked into the logs:\n{}",
            excerpt(&log, &key)
        );
        surfaces.assert_clean(&key);
    }
}
