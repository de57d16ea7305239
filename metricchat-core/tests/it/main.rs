//! The core's integration tests, in one binary: on a small machine linking dominates a test
//! build, and each test binary links the whole core. One module per former test file;
//! `providers` holds the suite every LLM provider client passes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod providers;

mod anthropic_http;
mod cassette;
mod context_hub;
mod fuzz;
mod gemini_http;
mod instructions_agent;
mod knowledge;
mod ollama_http;
mod openai_http;
#[cfg(feature = "sqlite-store")]
mod store;
