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
    /// The chosen tables as SQL DDL, for SQL-writing prompts ([`ContextPlan::sql_schema_for`]);
    /// rendered with the schema section, not stored.
    #[serde(skip)]
    pub ddl: Vec<TableDdl>,
}

/// A chosen table as `CREATE TABLE` text ([`super::TableDescription::render_ddl`]), with the
/// same columns, comments and sample values the schema section shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDdl {
    /// The connection.
    pub connection: String,
    /// The table as named in SQL.
    pub table: String,
    /// The DDL.
    pub ddl: String,
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

    /// [`ContextPlan::schema_for`] with the tables in name order rather than by relevance to
    /// the question: the same tables render the same text whatever the question, so a model
    /// server's prefix cache keeps a prompt that starts with them across questions (on a CPU,
    /// reading the schema is most of a small model's time).
    pub fn schema_for_stable(&self, connection: &str) -> String {
        let text = self.schema_for(Some(connection));
        let mut blocks: Vec<String> = Vec::new();
        let mut tail = String::new();
        for line in text.lines() {
            if line.starts_with("Table ") {
                blocks.push(String::new());
            } else if !line.starts_with("  ") {
                // The index of other tables (and anything else not a table's block) stays last.
                tail.push_str(line);
                tail.push('\n');
                continue;
            }
            match blocks.last_mut() {
                Some(b) => {
                    b.push_str(line);
                    b.push('\n');
                }
                None => {
                    tail.push_str(line);
                    tail.push('\n');
                }
            }
        }
        blocks.sort_by_key(|b| b.lines().next().map(table_name).unwrap_or_default());
        blocks.concat() + &tail
    }

    /// The schema for a prompt that writes SQL against `connection`: the chosen tables as
    /// `CREATE TABLE` statements in name order (stable across questions, like
    /// [`ContextPlan::schema_for_stable`]), then the names of the other tables as a comment.
    /// Plans without DDL (read back from a store) give [`ContextPlan::schema_for_stable`].
    pub fn sql_schema_for(&self, connection: &str) -> String {
        let mut blocks: Vec<&TableDdl> = self
            .ddl
            .iter()
            .filter(|d| d.connection.eq_ignore_ascii_case(connection))
            .collect();
        if blocks.is_empty() {
            return self.schema_for_stable(connection);
        }
        blocks.sort_by_key(|d| d.table.to_lowercase());
        let mut out: String = blocks.iter().map(|d| d.ddl.as_str()).collect();
        let multi = self.section("table_index").contains("Other tables of `");
        for line in self.section("table_index").lines() {
            let ours = !multi || line.contains(&format!("`{connection}`"));
            if ours && let Some((_, names)) = line.split_once("): ") {
                out.push_str(&format!("-- Other tables: {names}\n"));
            }
        }
        out
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

/// The table a schema block's first line (`Table name (N rows) -- comment`) names.
fn table_name(line: &str) -> String {
    line.trim_start_matches("Table ")
        .split([' ', '\t'])
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(schema: &str, index: &str) -> ContextPlan {
        let section = |name: &str, text: &str| PromptSection {
            name: name.into(),
            text: text.into(),
            tokens: 0,
            budget: 0,
            items: 0,
            omitted: 0,
        };
        ContextPlan {
            question: String::new(),
            tables: Vec::new(),
            instructions: Vec::new(),
            memories: Vec::new(),
            resources: Vec::new(),
            sections: vec![section("schema", schema), section("table_index", index)],
            tokenizer: "test".into(),
            context_window: None,
            system_prompt: None,
            ddl: Vec::new(),
        }
    }

    #[test]
    fn the_stable_schema_is_the_same_whatever_the_relevance_order() {
        let index = "Other tables (use describe_tables to see columns): logs\n";
        let by_question_a = plan(
            "Table flights (10 rows)\n  carrier VARCHAR\nTable airlines (2 rows) -- carriers\n  carrier VARCHAR\n  name VARCHAR\n",
            index,
        );
        let by_question_b = plan(
            "Table airlines (2 rows) -- carriers\n  carrier VARCHAR\n  name VARCHAR\nTable flights (10 rows)\n  carrier VARCHAR\n",
            index,
        );
        let a = by_question_a.schema_for_stable("db");
        assert_eq!(a, by_question_b.schema_for_stable("db"));
        assert_eq!(
            a,
            "Table airlines (2 rows) -- carriers\n  carrier VARCHAR\n  name VARCHAR\n\
             Table flights (10 rows)\n  carrier VARCHAR\n{index}"
                .replace("{index}", index)
        );
    }

    #[test]
    fn the_sql_schema_is_ddl_in_name_order_then_the_other_tables() {
        let mut p = plan(
            "Table b\n  x INT\nTable a\n  y INT\n",
            "Other tables (use describe_tables to see columns): logs, events\n",
        );
        assert_eq!(
            p.sql_schema_for("db"),
            p.schema_for_stable("db"),
            "without DDL, the stable compact form"
        );
        for (t, ddl) in [
            ("b", "CREATE TABLE b (\n  x INT\n);\n"),
            ("a", "CREATE TABLE a (\n  y INT\n);\n"),
        ] {
            p.ddl.push(TableDdl {
                connection: "db".into(),
                table: t.into(),
                ddl: ddl.into(),
            });
        }
        assert_eq!(
            p.sql_schema_for("DB"),
            "CREATE TABLE a (\n  y INT\n);\nCREATE TABLE b (\n  x INT\n);\n\
             -- Other tables: logs, events\n"
        );
    }
}
