//! [`ContextConfig`]: the hub's budgets and limits.

use serde::{Deserialize, Serialize};

/// Budgets and limits of the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ContextConfig {
    /// Tables described in full in the prompt at most; the rest appear as a name index.
    pub max_full_tables: usize,
    /// Token budget of the described tables.
    pub schema_tokens: usize,
    /// Token budget of the name index of the other tables.
    pub index_tokens: usize,
    /// Token budget of the rules section.
    pub rules_tokens: usize,
    /// Token budget of the memories section.
    pub memory_tokens: usize,
    /// Token budget of the knowledge section (metrics, explores… linked to chosen tables).
    pub knowledge_tokens: usize,
    /// Columns shown per table at most; the question's columns and keys come first, the rest
    /// are named in one line.
    pub max_columns_per_table: usize,
    /// Sample values shown per column.
    pub sample_values: usize,
    /// Characters of one observation shown to the model before it is cut with a marker.
    pub observation_chars: usize,
    /// The model's context window in tokens; when set, section budgets shrink to fit half of
    /// it and the agent keeps the conversation inside it (older steps summarised).
    /// The agent sets it from `model_info()` unless the embedder did.
    pub context_window: Option<usize>,
    /// Tables at most whose columns are loaded for ranking; beyond this, only names are ranked.
    pub max_catalog_tables: usize,
}

impl Default for ContextConfig {
    fn default() -> Self {
        Self {
            max_full_tables: 20,
            schema_tokens: 4_000,
            index_tokens: 600,
            rules_tokens: 800,
            memory_tokens: 400,
            knowledge_tokens: 600,
            max_columns_per_table: 40,
            sample_values: 3,
            observation_chars: 4_000,
            context_window: None,
            max_catalog_tables: 50_000,
        }
    }
}

impl ContextConfig {
    /// The budgets actually used: the configured ones, scaled down so the static sections take
    /// at most half of the context window when one is known.
    pub fn effective(&self) -> Self {
        let mut c = self.clone();
        if let Some(window) = self.context_window {
            let total = c.schema_tokens
                + c.index_tokens
                + c.rules_tokens
                + c.memory_tokens
                + c.knowledge_tokens;
            let cap = window / 2;
            if total > cap && total > 0 {
                let scale = |v: usize| v * cap / total;
                c.schema_tokens = scale(c.schema_tokens);
                c.index_tokens = scale(c.index_tokens);
                c.rules_tokens = scale(c.rules_tokens);
                c.memory_tokens = scale(c.memory_tokens);
                c.knowledge_tokens = scale(c.knowledge_tokens);
            }
        }
        c
    }
}
