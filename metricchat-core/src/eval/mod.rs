//! Evals: measure whether the agent gets the right numbers.
//!
//! A [`Suite`] is a file of questions with expectations (reference SQL whose result the run's
//! final dataset must equal, values the answer must mention, tables to read, tools to call or
//! not, iteration and token ceilings, a clarifying question where the question is ambiguous,
//! and a rubric for an LLM judge). An [`Evaluator`] runs every case through an [`Agent`] — or
//! through the single-prompt baseline ([`EvalMode::Baseline`]) the agent must beat — and
//! returns an [`EvalReport`]: per case the checks, the SQL, expected and returned rows, tokens,
//! seconds, iterations and a [`FailureClass`]; per run the figures. Reports render as JSON,
//! Markdown and one self-contained HTML page, are kept in the [`Store`](crate::store::Store)
//! ([`EvalReport::to_record`]) and compare with [`EvalReport::compare`], whose regressions make
//! CI fail.
//!
//! Runs replay from cassettes ([`crate::llm::cassette`]): record a suite once against a model,
//! then replay it in CI without one.
//!
//! The file format is documented in `evals/README.md`:
//!
//! ```
//! use metricchat_core::eval::Suite;
//!
//! let suite = Suite::from_yaml(r#"
//! name: flights
//! cases:
//!   - id: jfk-2013
//!     question: How many flights departed from JFK in 2013?
//!     expect:
//!       sql: SELECT COUNT(*) FROM flights WHERE origin = 'JFK'
//!       answer_contains: ["111,279"]
//! "#)?;
//! assert_eq!(suite.cases[0].id, "jfk-2013");
//! # Ok::<(), metricchat_core::Error>(())
//! ```
//!
//! [`Agent`]: crate::Agent

mod report;
mod runner;
mod suite;

pub use crate::compare::{DEFAULT_TOLERANCE, TablePreview};
pub use report::{
    CaseResult, Change, Check, Comparison, EvalMode, EvalReport, FailureClass, JudgeScore, Summary,
};
pub use runner::{EvalProgress, Evaluator, schema_ddl};
pub use suite::{Case, CaseDefaults, Expect, ReferenceSql, Suite};
