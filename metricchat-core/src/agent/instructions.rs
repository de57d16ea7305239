//! The agent's handles on the team's knowledge: [`InstructionsHandle`] and [`MemoriesHandle`].
//!
//! Both write through to the agent's [`Store`] and then reload the
//! [`ContextHub`], so the next run's prompt carries the change. Every run also reloads from the
//! store before it builds its prompt, so changes made by another process (or another agent on
//! the same store) are seen too.

use std::sync::Arc;

use uuid::Uuid;

use super::AgentInner;
use crate::context::ContextHub;
use crate::error::Result;
use crate::instructions::{
    Instruction, InstructionFilter, InstructionStatus, InstructionUpdate, Memory, MemoryFilter,
    NewInstruction, NewMemory, search_memories,
};
use crate::store::{Store, instruction_not_found};

/// Loads every instruction and memory from `store` into `hub`, failing on a store error.
async fn load_hub(store: &Arc<dyn Store>, hub: &ContextHub) -> Result<()> {
    let instructions = store.list_instructions(&InstructionFilter::all()).await?;
    let memories = store.list_memories(&MemoryFilter::all()).await?;
    hub.set_instructions(instructions);
    hub.set_memories(memories);
    Ok(())
}

/// Loads the store's instructions and memories into the hub before a run plans its prompt.
/// A store failure is logged and the run goes on with what the hub already holds.
pub(crate) async fn refresh_hub(store: &Arc<dyn Store>, hub: &ContextHub) {
    if let Err(e) = load_hub(store, hub).await {
        tracing::warn!(error = %e, "could not load instructions and memories from the store");
    }
}

/// Counts one use of each instruction a run's prompt carries. A store failure is logged: the
/// count is bookkeeping, not a reason to fail the run.
pub(crate) async fn record_usage(store: &Arc<dyn Store>, carried: &[Instruction]) {
    if carried.is_empty() {
        return;
    }
    let ids: Vec<Uuid> = carried.iter().map(|i| i.id).collect();
    if let Err(e) = store.record_instruction_usage(&ids).await {
        tracing::warn!(error = %e, "could not record instruction usage");
    }
}

/// The team's instructions (rules) of an agent: add, approve, archive, change, delete, list.
/// Get one with [`Agent::instructions`](super::Agent::instructions).
///
/// ```no_run
/// # async fn demo(agent: metricchat_core::Agent) -> metricchat_core::Result<()> {
/// use metricchat_core::instructions::{InstructionFilter, InstructionStatus, NewInstruction, Scope};
///
/// // Written by a person: approved, in the next run's prompt.
/// agent
///     .instructions()
///     .add(NewInstruction::new("Exclude test accounts (is_test = true)").scope(Scope::Tables {
///         connection: None,
///         tables: vec!["accounts".into()],
///     }))
///     .await?;
/// // Drafts the agent suggested, waiting for review.
/// for draft in agent
///     .instructions()
///     .list(&InstructionFilter::all().status(InstructionStatus::Draft))
///     .await?
/// {
///     agent.instructions().approve(draft.id).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct InstructionsHandle {
    inner: Arc<AgentInner>,
}

impl std::fmt::Debug for InstructionsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstructionsHandle").finish_non_exhaustive()
    }
}

impl InstructionsHandle {
    pub(crate) fn new(inner: Arc<AgentInner>) -> Self {
        Self { inner }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Reloads the hub from the store (every change through this handle does it already).
    pub async fn sync(&self) -> Result<()> {
        load_hub(self.store(), &self.inner.hub).await
    }

    /// Stores a new instruction and returns it. A user's instruction is approved unless
    /// [`NewInstruction::status`] says otherwise; the agent's is a draft.
    ///
    /// Fails with [`Error::InvalidInput`](crate::Error::InvalidInput) on empty text or an
    /// unusable scope.
    pub async fn add(&self, new: NewInstruction) -> Result<Instruction> {
        let instruction = new.build()?;
        self.store().put_instruction(&instruction).await?;
        self.sync().await?;
        Ok(instruction)
    }

    /// An instruction by id; [`Error::NotFound`](crate::Error::NotFound) if there is none.
    pub async fn get(&self, id: Uuid) -> Result<Instruction> {
        self.store()
            .get_instruction(id)
            .await?
            .ok_or_else(|| instruction_not_found(id))
    }

    /// Approves an instruction: from the next run on, prompts whose scope matches carry it.
    pub async fn approve(&self, id: Uuid) -> Result<Instruction> {
        self.set_status(id, InstructionStatus::Approved).await
    }

    /// Archives an instruction: kept for history, never in prompts.
    pub async fn archive(&self, id: Uuid) -> Result<Instruction> {
        self.set_status(id, InstructionStatus::Archived).await
    }

    /// Sets an instruction's status.
    pub async fn set_status(&self, id: Uuid, status: InstructionStatus) -> Result<Instruction> {
        let i = self.store().set_instruction_status(id, status).await?;
        self.sync().await?;
        Ok(i)
    }

    /// Changes an instruction's text, scope or labels.
    pub async fn update(&self, id: Uuid, update: InstructionUpdate) -> Result<Instruction> {
        let i = self.store().update_instruction(id, &update).await?;
        self.sync().await?;
        Ok(i)
    }

    /// Deletes an instruction.
    pub async fn delete(&self, id: Uuid) -> Result<()> {
        self.store().delete_instruction(id).await?;
        self.sync().await
    }

    /// Instructions passing `filter`, oldest first.
    pub async fn list(&self, filter: &InstructionFilter) -> Result<Vec<Instruction>> {
        self.store().list_instructions(filter).await
    }
}

/// The memories of an agent: facts recorded by a user or by the agent's `remember` tool.
/// Get one with [`Agent::memories`](super::Agent::memories).
#[derive(Clone)]
pub struct MemoriesHandle {
    inner: Arc<AgentInner>,
}

impl std::fmt::Debug for MemoriesHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoriesHandle").finish_non_exhaustive()
    }
}

impl MemoriesHandle {
    pub(crate) fn new(inner: Arc<AgentInner>) -> Self {
        Self { inner }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Reloads the hub from the store (every change through this handle does it already).
    pub async fn sync(&self) -> Result<()> {
        load_hub(self.store(), &self.inner.hub).await
    }

    /// Stores a new memory and returns it.
    ///
    /// Fails with [`Error::InvalidInput`](crate::Error::InvalidInput) on empty text or an
    /// unusable scope.
    pub async fn add(&self, new: NewMemory) -> Result<Memory> {
        let memory = new.build()?;
        self.store().put_memory(&memory).await?;
        self.sync().await?;
        Ok(memory)
    }

    /// Memories passing `filter`, oldest first.
    pub async fn list(&self, filter: &MemoryFilter) -> Result<Vec<Memory>> {
        self.store().list_memories(filter).await
    }

    /// The `k` memories sharing the most words with `text`, best first
    /// (see [`search_memories`]).
    pub async fn search(&self, text: &str, k: usize) -> Result<Vec<Memory>> {
        let all = self.store().list_memories(&MemoryFilter::all()).await?;
        Ok(search_memories(&all, text, k)
            .into_iter()
            .cloned()
            .collect())
    }

    /// Deletes a memory; [`Error::NotFound`](crate::Error::NotFound) if there is none.
    pub async fn delete(&self, id: Uuid) -> Result<()> {
        self.store().delete_memory(id).await?;
        self.sync().await
    }
}
