//! The [`ContextPlan`]: what the model is shown for one question, section by section, and
//! why each table was chosen ([`ContextPlan::explain`]).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::scope::scope_label;
use crate::connector::TableRef;
use crate::instructions::{Instruction, Memory};

/// A table chosen for a question, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSelection {
    /// Connection name.
    pub connection: String,
    /// The table.
    pub table: TableRef,
    /// Relevance score (higher is better).
    pub score: f64,
    /// Why it was chosen.
    pub reason: String,
    /// The columns that matched the question.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Tokens its description takes in the prompt.
    pub tokens: usize,
    /// When the table stands for a family of date-sharded tables with the same columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<FamilySummary>,
}

/// A family of tables represented by one of them in the prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilySummary {
    /// The pattern (`events_*`).
    pub pattern: String,
    /// Members.
    pub tables: Vec<TableRef>,
}

/// One section of the prompt, with its cost and budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptSection {
    /// `connections`, `schema`, `table_index`, `knowledge`, `rules`, `memories`.
    pub name: String,
    /// The rendered text (may be empty).
    pub text: String,
    /// Its tokens, counted with the plan's tokenizer.
    pub tokens: usize,
    /// Its budget (0 = unbudgeted).
    pub budget: usize,
    /// Items rendered.
    pub items: usize,
    /// Items left out for the budget.
    pub omitted: usize,
}

/// What the model is shown for one question, and why: built by
/// [`ContextHub::plan`](super::ContextHub::plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextPlan {
    /// The question.
    pub question: String,
    /// The tables described in full, best first.
    pub tables: Vec<TableSelection>,
    /// The approved instructions in scope that the prompt carries.
    pub instructions: Vec<Instruction>,
    /// The memories the prompt carries.
    pub memories: Vec<Memory>,
    /// The knowledge resources the prompt mentions (ids).
    pub resources: Vec<String>,
    /// The sections, in prompt order.
    pub sections: Vec<PromptSection>,
    /// The tokenizer used.
    pub tokenizer: String,
    /// The model's context window, if known.
    pub context_window: Option<usize>,
    /// The whole system prompt, when the agent built one from this plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
}

impl ContextPlan {
    /// A section's text (empty when absent).
    pub fn section(&self, name: &str) -> &str {
        self.sections
            .iter()
            .find(|s| s.name == name)
            .map_or("", |s| s.text.as_str())
    }

    /// Tokens of every section.
    pub fn total_tokens(&self) -> usize {
        self.sections.iter().map(|s| s.tokens).sum()
    }

    /// The schema of one connection's chosen tables (or all, with `None`), for tools that
    /// write SQL.
    pub fn schema_for(&self, connection: Option<&str>) -> String {
        match connection {
            None => format!("{}{}", self.section("schema"), self.section("table_index")),
            Some(c) => {
                let mut out = String::new();
                let mut on = false;
                for line in
                    format!("{}{}", self.section("schema"), self.section("table_index")).lines()
                {
                    if let Some(rest) = line.strip_prefix("Connection `") {
                        on = rest
                            .split('`')
                            .next()
                            .is_some_and(|n| n.eq_ignore_ascii_case(c));
                        continue;
                    }
                    if on || !self.section("schema").contains("Connection `") {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
                out
            }
        }
    }

    /// A developer's view of the plan: each section's tokens against its budget, each table
    /// with its score and reason, the rules and memories carried.
    pub fn explain(&self) -> String {
        let mut out = format!(
            "Context for: {}\nTokenizer: {}{}\n\nSections (tokens / budget):\n",
            self.question,
            self.tokenizer,
            self.context_window
                .map(|w| format!(", context window {w}"))
                .unwrap_or_default()
        );
        for s in &self.sections {
            let _ = writeln!(
                out,
                "  {:<12} {:>6} / {:<6} {} item(s){}",
                s.name,
                s.tokens,
                if s.budget == 0 {
                    "-".to_string()
                } else {
                    s.budget.to_string()
                },
                s.items,
                if s.omitted > 0 {
                    format!(", {} left out for the budget", s.omitted)
                } else {
                    String::new()
                }
            );
        }
        let _ = writeln!(out, "  {:<12} {:>6}", "total", self.total_tokens());
        out.push_str("\nTables described:\n");
        for t in &self.tables {
            let _ = writeln!(
                out,
                "  {}.{} score {:.2}, {} tokens: {}{}",
                t.connection,
                t.table,
                t.score,
                t.tokens,
                t.reason,
                t.family
                    .as_ref()
                    .map(|f| format!(" (stands for {} tables {})", f.tables.len(), f.pattern))
                    .unwrap_or_default()
            );
        }
        if !self.instructions.is_empty() {
            out.push_str("\nInstructions in scope:\n");
            for i in &self.instructions {
                let _ = writeln!(out, "  [{}] {}", scope_label(&i.scope), i.text);
            }
        }
        if !self.memories.is_empty() {
            out.push_str("\nMemories:\n");
            for m in &self.memories {
                let _ = writeln!(out, "  {}", m.text);
            }
        }
        out
    }
}
