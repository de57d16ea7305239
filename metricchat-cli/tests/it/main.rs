//! The `metricchat` binary run as a process: every subcommand, every output format read back,
//! the exit codes, Ctrl-C. The model is the testkit's fake OpenAI server over real HTTP; the data
//! is the bundled nycflights13 sample in DataFusion.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod approve;
mod ask;
mod common;
mod config;
mod dashboard;
mod eval;
mod inspect;
mod interrupt;
mod query;
