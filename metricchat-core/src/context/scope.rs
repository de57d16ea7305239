//! The team's live guidance: plain rules, stored instructions and memories, and which of them
//! are in scope for a prompt. The only part of the hub that changes while runs go on (the agent
//! reloads instructions and memories from the store before each run), so it sits behind one lock.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::ContextHub;
use crate::instructions::{Instruction, InstructionStatus, Memory, Scope};

/// Rules, instructions and memories, replaced or edited together under one lock.
#[derive(Debug, Default)]
pub(super) struct Guidance {
    /// Plain global rules, in prompt order.
    pub rules: Vec<String>,
    /// Stored instructions of every status; only approved ones in scope reach a prompt.
    pub instructions: Vec<Instruction>,
    /// Memories the hub chooses from.
    pub memories: Vec<Memory>,
}

/// [`Guidance`] behind its lock. A poisoned lock reads as empty and refuses edits, as each
/// accessor documents.
#[derive(Debug, Default)]
pub(super) struct LiveGuidance(RwLock<Guidance>);

impl LiveGuidance {
    /// Guidance holding `rules` and nothing else.
    pub fn with_rules(rules: Vec<String>) -> Self {
        Self(RwLock::new(Guidance {
            rules,
            ..Guidance::default()
        }))
    }

    /// A read guard; `None` when the lock is poisoned.
    pub fn read(&self) -> Option<RwLockReadGuard<'_, Guidance>> {
        self.0.read().ok()
    }

    /// A write guard; `None` when the lock is poisoned.
    fn write(&self) -> Option<RwLockWriteGuard<'_, Guidance>> {
        self.0.write().ok()
    }

    /// The approved instructions (every scope).
    pub fn approved_instructions(&self) -> Vec<Instruction> {
        self.read()
            .map(|g| {
                g.instructions
                    .iter()
                    .filter(|i| i.status == InstructionStatus::Approved)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every memory.
    pub fn memories(&self) -> Vec<Memory> {
        self.read().map(|g| g.memories.clone()).unwrap_or_default()
    }

    /// The memories whose scope matches `connections` and `tables`.
    pub fn memories_in_scope(&self, connections: &[String], tables: &[String]) -> Vec<Memory> {
        self.read()
            .map(|g| {
                g.memories
                    .iter()
                    .filter(|m| m.scope.matches(connections, tables))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl ContextHub {
    /// The team's plain rules, in prompt order.
    pub fn rules(&self) -> Vec<String> {
        self.guidance
            .read()
            .map(|g| g.rules.clone())
            .unwrap_or_default()
    }

    /// Adds a plain global rule; runs started from now on carry it. An identical rule is not
    /// added twice. Returns whether it was added.
    pub fn add_rule(&self, rule: impl Into<String>) -> bool {
        let rule = rule.into();
        let rule = rule.trim();
        if rule.is_empty() {
            return false;
        }
        match self.guidance.write() {
            Some(mut g) if !g.rules.iter().any(|r| r == rule) => {
                g.rules.push(rule.to_string());
                true
            }
            _ => false,
        }
    }

    /// Removes a plain rule by its text; returns whether it was there.
    pub fn remove_rule(&self, rule: &str) -> bool {
        match self.guidance.write() {
            Some(mut g) => {
                let before = g.rules.len();
                g.rules.retain(|r| r != rule.trim());
                g.rules.len() != before
            }
            None => false,
        }
    }

    /// Replaces the stored instructions the hub chooses from (every status; only approved
    /// ones in scope reach a prompt).
    pub fn set_instructions(&self, instructions: Vec<Instruction>) {
        if let Some(mut g) = self.guidance.write() {
            g.instructions = instructions;
        }
    }

    /// Replaces the memories the hub chooses from.
    pub fn set_memories(&self, memories: Vec<Memory>) {
        if let Some(mut g) = self.guidance.write() {
            g.memories = memories;
        }
    }

    /// The approved instructions whose scope matches `connections` and `tables`: what a prompt
    /// over them carries (before the rules budget).
    pub fn instructions_in_scope(
        &self,
        connections: &[String],
        tables: &[String],
    ) -> Vec<Instruction> {
        let mut v: Vec<Instruction> = self
            .guidance
            .approved_instructions()
            .into_iter()
            .filter(|i| i.scope.matches(connections, tables))
            .collect();
        // Specific before general: they are likelier to matter for these tables.
        v.sort_by_key(|i| match i.scope {
            Scope::Tables { .. } => 0,
            Scope::Connection { .. } => 1,
            Scope::Global => 2,
        });
        v
    }
}

/// A scope as a short label (`global`, `connection wh`, `tables a, b on wh`).
pub(super) fn scope_label(scope: &Scope) -> String {
    match scope {
        Scope::Global => "global".into(),
        Scope::Connection { connection } => format!("connection {connection}"),
        Scope::Tables { connection, tables } => format!(
            "tables {}{}",
            tables.join(", "),
            connection
                .as_ref()
                .map(|c| format!(" on {c}"))
                .unwrap_or_default()
        ),
    }
}
