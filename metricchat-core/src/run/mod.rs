//! A run's shared state: what the agent loop and the tools it calls both reach.
//!
//! [`ToolContext`] is the tools' view of a run (its connections, guard, model, cancellation and
//! artefacts); `state` holds what the loop and the tools share underneath (the event sink, the
//! queries and charts made so far, the terminal outcome). The agent builds both; the tools only
//! read and append through the context. Neither imports the agent or the tools, so both can
//! depend on this module without a cycle.

mod approval;
mod artifact;
pub(crate) mod audit;
mod context;
pub(crate) mod dashboard;
pub(crate) mod exposure;
mod shared;
pub(crate) mod state;

pub use crate::viz::Chart;
pub use artifact::{Dataset, QueryOutcome};
pub use context::ToolContext;
pub use shared::{FinishingStream, SharedRun};
