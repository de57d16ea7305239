//! The skeleton every HTTP provider shares: one [`ProviderConfig`], one [`HttpChatClient`], and
//! the [`Wire`] trait a provider implements to plug its format into them.
//!
//! ```text
//! config.rs  ProviderConfig: key, base URL, model, HttpOptions, pricing, supports_tools
//! wire.rs    Wire (request body, auth, error bodies, model facts) and Decode (response events)
//! client.rs  HttpChatClient<W: Wire>: retries, first-byte timeout, SSE/NDJSON/JSON, cassette,
//!            tracing, usage accounting
//! stream.rs  frames of a streamed body, the idle timeout, the usage estimate
//! ```
//!
//! A provider folder (`openai/`, `anthropic/`, `gemini/`, `ollama/`) then holds only its config,
//! its wire format and its decoder.

mod client;
mod config;
mod stream;
mod wire;

pub(crate) use client::{HttpChatClient, delegate_client};
pub use config::ProviderConfig;
pub(crate) use config::provider_config;
pub(crate) use wire::{Decode, Framing, HttpFailure, Step, Wire};
