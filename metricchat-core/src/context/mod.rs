//! The [`ContextHub`]: what the model is shown about the data and the team — schema, knowledge,
//! rules, memories — selected for the question and rendered within token budgets.
//!
//! For each run the hub makes a [`ContextPlan`]: it ranks every table of every connection with a
//! BM25F index over table and column names, comments and knowledge-source descriptions
//! ([`search`]), follows foreign keys from the chosen tables to their dimensions, describes the
//! chosen tables in full (with sample values), lists the rest as a compact name index, and adds
//! the approved rules and the memories in scope. Every section is counted with the model's
//! tokenizer ([`tokens`]) against its budget; [`ContextPlan::explain`] shows what was sent and
//! why. Warm sections (this run's observations, history) are kept by the agent and fitted with
//! [`truncate_observation`] and [`fit_messages`].

pub mod search;
pub mod tokens;

mod schema_index;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::connector::{ConnectorInfo, ConnectorRef, TableKind, TableRef, TableSchema};
use crate::data;
use crate::error::{Error, Result};
use crate::instructions::{Instruction, InstructionStatus, Memory, Scope};
use crate::knowledge::{FieldKind, Resource};
use crate::llm::{ChatMessage, Role};

pub use schema_index::TableFamily;
use schema_index::{CatalogInput, SchemaIndex, TableKnowledge};
use search::{FieldSpec, TextIndex, analyze};
use tokens::{CharEstimate, TokenCounterRef};

/// Budgets and limits of the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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
    /// it and [`fit_messages`] keeps the conversation inside it. The agent sets it from
    /// `model_info()` unless the embedder did.
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

/// Approximate token count (4 characters a token); see [`tokens`] for real tokenizers.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// One column as shown to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDescription {
    /// Name.
    pub name: String,
    /// Engine type.
    pub data_type: String,
    /// Nullable.
    pub nullable: bool,
    /// Comment (or the description a knowledge source gives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// A few distinct sample values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<String>,
}

/// A table as shown to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDescription {
    /// Connection name.
    pub connection: String,
    /// Qualified table name.
    pub table: String,
    /// Table or view.
    pub kind: TableKind,
    /// Estimated rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_estimate: Option<u64>,
    /// Comment (or the description a knowledge source gives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Columns.
    pub columns: Vec<ColumnDescription>,
    /// Primary key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// Foreign keys, as `col -> table(col)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<String>,
    /// Knowledge about the table: measures, metrics, tests (`measure revenue: sum(amount)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl TableDescription {
    /// A description from a catalog schema (no sample values).
    pub fn from_schema(connection: &str, schema: &TableSchema) -> Self {
        Self {
            connection: connection.to_string(),
            table: schema.table.to_string(),
            kind: schema.kind,
            row_estimate: schema.row_estimate,
            comment: schema.comment.clone(),
            columns: schema
                .columns
                .iter()
                .map(|c| ColumnDescription {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                    nullable: c.nullable,
                    comment: c.comment.clone(),
                    samples: Vec::new(),
                })
                .collect(),
            primary_key: schema.primary_key.clone(),
            foreign_keys: schema
                .foreign_keys
                .iter()
                .map(|fk| {
                    format!(
                        "{} -> {}({})",
                        fk.columns.join(", "),
                        fk.references,
                        fk.referenced_columns.join(", ")
                    )
                })
                .collect(),
            notes: Vec::new(),
        }
    }

    /// Compact text for prompts, every column.
    pub fn render(&self) -> String {
        self.render_focused(usize::MAX, &[])
    }

    /// Compact text for prompts with at most `max_columns` columns described: keys and the
    /// `focus` columns first, then table order; the others are named on one line.
    pub fn render_focused(&self, max_columns: usize, focus: &[String]) -> String {
        let mut out = format!("Table {}", self.table);
        if let Some(n) = self.row_estimate {
            let _ = write!(out, " ({n} rows)");
        }
        if self.kind == TableKind::View {
            out.push_str(" [view]");
        }
        if let Some(c) = &self.comment {
            let _ = write!(out, " -- {}", one_line(c, 300));
        }
        out.push('\n');
        let shown: Vec<&ColumnDescription> = if self.columns.len() <= max_columns {
            self.columns.iter().collect()
        } else {
            let fk_cols: HashSet<String> = self
                .foreign_keys
                .iter()
                .filter_map(|f| f.split(" -> ").next())
                .flat_map(|c| c.split(", ").map(str::to_lowercase))
                .collect();
            let key = |c: &ColumnDescription| {
                let n = c.name.to_lowercase();
                if focus.iter().any(|f| f.eq_ignore_ascii_case(&c.name)) {
                    0
                } else if self.primary_key.iter().any(|p| p.eq_ignore_ascii_case(&n))
                    || fk_cols.contains(&n)
                {
                    1
                } else {
                    2
                }
            };
            let mut ranked: Vec<(usize, usize)> = self
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (key(c), i))
                .collect();
            ranked.sort();
            let mut keep: Vec<usize> = ranked.iter().take(max_columns).map(|r| r.1).collect();
            keep.sort_unstable();
            keep.iter().map(|&i| &self.columns[i]).collect()
        };
        for c in &shown {
            let _ = write!(out, "  {} {}", c.name, c.data_type);
            if let Some(cm) = &c.comment {
                let _ = write!(out, " -- {}", one_line(cm, 200));
            }
            if !c.samples.is_empty() {
                let _ = write!(out, " (e.g. {})", c.samples.join(", "));
            }
            out.push('\n');
        }
        if shown.len() < self.columns.len() {
            let names: Vec<&str> = self
                .columns
                .iter()
                .filter(|c| !shown.iter().any(|s| s.name == c.name))
                .map(|c| c.name.as_str())
                .collect();
            let _ = writeln!(
                out,
                "  … {} more columns: {}",
                names.len(),
                names.join(", ")
            );
        }
        if !self.primary_key.is_empty() {
            let _ = writeln!(out, "  primary key: {}", self.primary_key.join(", "));
        }
        for fk in &self.foreign_keys {
            let _ = writeln!(out, "  foreign key: {fk}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "  {n}");
        }
        out
    }
}

fn one_line(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        flat
    } else {
        format!("{}…", flat.chars().take(max_chars).collect::<String>())
    }
}

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

/// What the model is shown for one question, and why: built by [`ContextHub::plan`].
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

fn scope_label(scope: &Scope) -> String {
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

#[derive(Debug, Clone)]
struct Catalog {
    info: ConnectorInfo,
    tables: Vec<TableRef>,
    /// Bulk-loaded schemas (from [`Connector::catalog`](crate::Connector::catalog)).
    schemas: HashMap<TableRef, TableSchema>,
    /// Full descriptions with sample values, loaded on demand.
    described: BTreeMap<TableRef, TableDescription>,
}

/// Selects and renders what the model sees about the data and the team's rules.
#[derive(Debug)]
pub struct ContextHub {
    config: ContextConfig,
    rules: RwLock<Vec<String>>,
    instructions: RwLock<Vec<Instruction>>,
    memories: RwLock<Vec<Memory>>,
    resources: RwLock<Vec<Resource>>,
    catalogs: RwLock<BTreeMap<String, Catalog>>,
    index: RwLock<Option<Arc<SchemaIndex>>>,
    counter: RwLock<TokenCounterRef>,
    embedder: RwLock<Option<Arc<dyn Embedder>>>,
    /// Table vectors by (connection, table), filled by [`ContextHub::question_vector`].
    vectors: RwLock<HashMap<(String, TableRef), Vec<f32>>>,
}

impl Default for ContextHub {
    fn default() -> Self {
        Self::new(ContextConfig::default(), Vec::new())
    }
}

pub use crate::text::words;

/// Whether an engine type name is numeric (`INT`, `DOUBLE`, `DECIMAL(10,2)`, `Float64`, …).
pub fn is_numeric_type(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    [
        "int", "float", "double", "decimal", "numeric", "real", "number",
    ]
    .iter()
    .any(|k| t.contains(k))
        && !t.contains("interval")
        && !t.contains("point")
}

/// Cuts a long observation to `max_chars`, leaving a marker that says how much was cut.
pub fn truncate_observation(text: &str, max_chars: usize) -> String {
    let n = text.chars().count();
    if n <= max_chars {
        return text.to_string();
    }
    let kept: String = text.chars().take(max_chars).collect();
    format!("{kept}… [truncated {} of {n} characters]", n - max_chars)
}

/// Fits a conversation into `budget` tokens: the first message (the system prompt) and the
/// last `keep_last` messages are kept; older tool observations are cut to a short head with a
/// marker, and if that is not enough the oldest middle messages are replaced by one summary
/// message that lists what they were. Returns how many messages were changed or dropped.
pub fn fit_messages(
    messages: &mut Vec<ChatMessage>,
    budget: usize,
    keep_last: usize,
    counter: &dyn tokens::TokenCounter,
) -> usize {
    let cost = |m: &ChatMessage| {
        counter.count(&m.content)
            + m.tool_calls
                .iter()
                .map(|c| counter.count(&c.arguments.to_string()) + 8)
                .sum::<usize>()
            + 4
    };
    let total = |ms: &[ChatMessage]| ms.iter().map(cost).sum::<usize>();
    if total(messages) <= budget || messages.len() <= keep_last + 1 {
        return 0;
    }
    let protected_from = messages.len().saturating_sub(keep_last);
    let mut changed = 0;
    // 1. Cut old observations.
    for m in messages.iter_mut().take(protected_from).skip(1) {
        if m.role == Role::Tool && m.content.chars().count() > 300 {
            m.content = truncate_observation(&m.content, 300);
            changed += 1;
        }
    }
    if total(messages) <= budget {
        return changed;
    }
    // 2. Replace the oldest middle messages with one summary until it fits. A tool call and
    //    its results go together, so a cut ends before a user or assistant message.
    const SUMMARY: &str = "[Earlier conversation, summarised to fit the context: ";
    loop {
        if total(messages) <= budget {
            break;
        }
        let has_summary = messages
            .get(1)
            .is_some_and(|m| m.role == Role::User && m.content.starts_with(SUMMARY));
        let start = if has_summary { 2 } else { 1 };
        let protected_from = messages.len().saturating_sub(keep_last);
        if start >= protected_from {
            break;
        }
        let end = (start + 1..=protected_from)
            .find(|&i| i == protected_from || messages[i].role != Role::Tool)
            .unwrap_or(protected_from);
        let removed: Vec<ChatMessage> = messages.drain(start..end).collect();
        changed += removed.len();
        let items: Vec<String> = removed
            .iter()
            .filter(|m| m.role != Role::Tool)
            .map(|m| {
                let who = match m.role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    Role::System => "system",
                    Role::Tool => "tool",
                };
                format!("{who}: {}", one_line(&m.content, 120))
            })
            .collect();
        let previous = if has_summary {
            let prev = messages.remove(1);
            prev.content
                .trim_start_matches(SUMMARY)
                .trim_end_matches(']')
                .to_string()
        } else {
            String::new()
        };
        let mut body = previous;
        for it in items {
            if !body.is_empty() {
                body.push_str(" | ");
            }
            body.push_str(&it);
        }
        let body = truncate_observation(&body, 1_500);
        messages.insert(1, ChatMessage::user(format!("{SUMMARY}{body}]")));
    }
    changed
}

impl ContextHub {
    /// A hub with `config` and the team's rules (always-on global rules).
    pub fn new(config: ContextConfig, rules: Vec<String>) -> Self {
        Self {
            config,
            rules: RwLock::new(rules),
            instructions: RwLock::new(Vec::new()),
            memories: RwLock::new(Vec::new()),
            resources: RwLock::new(Vec::new()),
            catalogs: RwLock::new(BTreeMap::new()),
            index: RwLock::new(None),
            counter: RwLock::new(Arc::new(CharEstimate)),
            embedder: RwLock::new(None),
            vectors: RwLock::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ContextConfig {
        &self.config
    }

    /// Sets the tokenizer the budgets are counted with (the agent sets the model's).
    pub fn set_token_counter(&self, counter: TokenCounterRef) {
        if let Ok(mut c) = self.counter.write() {
            *c = counter;
        }
    }

    /// The tokenizer the budgets are counted with.
    pub fn token_counter(&self) -> TokenCounterRef {
        self.counter
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|_| Arc::new(CharEstimate))
    }

    /// Sets the embedder whose similarities are blended into table ranking (see [`Embedder`]).
    pub fn set_embedder(&self, embedder: Arc<dyn Embedder>) {
        if let Ok(mut e) = self.embedder.write() {
            *e = Some(embedder);
        }
    }

    /// Embeds the tables not embedded yet (a line each: name, columns, comment) and the
    /// question; `None` without an embedder.
    async fn question_vector(&self, question: &str) -> Result<Option<Vec<f32>>> {
        let Some(embedder) = self.embedder.read().ok().and_then(|e| e.clone()) else {
            return Ok(None);
        };
        let idx = self.index()?;
        let missing: Vec<(String, TableRef, String)> = {
            let vectors = self
                .vectors
                .read()
                .map_err(|_| Error::Internal("context hub lock poisoned".into()))?;
            let g = self.read()?;
            idx.entries
                .iter()
                .filter(|e| !vectors.contains_key(&(e.connection.clone(), e.table.clone())))
                .map(|e| {
                    let schema = g.get(&e.connection).and_then(|c| c.schemas.get(&e.table));
                    let mut text = e.table.to_string();
                    if let Some(s) = schema {
                        text.push_str(": ");
                        let cols: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
                        text.push_str(&cols.join(", "));
                        if let Some(c) = &s.comment {
                            text.push_str(" -- ");
                            text.push_str(c);
                        }
                    }
                    (e.connection.clone(), e.table.clone(), text)
                })
                .collect()
        };
        for chunk in missing.chunks(256) {
            let texts: Vec<String> = chunk.iter().map(|m| m.2.clone()).collect();
            let vecs = embedder.embed(&texts).await?;
            if vecs.len() != texts.len() {
                return Err(Error::Internal(format!(
                    "the embedder returned {} vectors for {} texts",
                    vecs.len(),
                    texts.len()
                )));
            }
            if let Ok(mut v) = self.vectors.write() {
                for (m, vec) in chunk.iter().zip(vecs) {
                    v.insert((m.0.clone(), m.1.clone()), vec);
                }
            }
        }
        let q = embedder.embed(&[question.to_string()]).await?;
        Ok(q.into_iter().next())
    }

    fn blend_embeddings(
        &self,
        idx: &SchemaIndex,
        ranked: Vec<(usize, f32)>,
        qv: &[f32],
    ) -> Vec<(usize, f32)> {
        let Ok(vectors) = self.vectors.read() else {
            return ranked;
        };
        let top = ranked.first().map_or(0.0, |r| r.1).max(f32::EPSILON);
        let lexical: HashMap<usize, f32> = ranked.into_iter().collect();
        let mut out: Vec<(usize, f32)> = idx
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let lex = lexical.get(&i).map_or(0.0, |s| s / top);
                let cos = vectors
                    .get(&(e.connection.clone(), e.table.clone()))
                    .map_or(0.0, |v| cosine(v, qv));
                let score = lex + cos.max(0.0);
                (lex > 0.0 || cos > 0.3).then_some((i, score))
            })
            .collect();
        out.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| idx.entries[a.0].table.cmp(&idx.entries[b.0].table))
        });
        out
    }

    // ----- rules, instructions, memories, knowledge -----

    /// The team's plain rules, in prompt order.
    pub fn rules(&self) -> Vec<String> {
        self.rules.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Adds a plain global rule; runs started from now on carry it. An identical rule is not
    /// added twice. Returns whether it was added.
    pub fn add_rule(&self, rule: impl Into<String>) -> bool {
        let rule = rule.into();
        let rule = rule.trim();
        if rule.is_empty() {
            return false;
        }
        match self.rules.write() {
            Ok(mut rules) if !rules.iter().any(|r| r == rule) => {
                rules.push(rule.to_string());
                true
            }
            _ => false,
        }
    }

    /// Removes a plain rule by its text; returns whether it was there.
    pub fn remove_rule(&self, rule: &str) -> bool {
        match self.rules.write() {
            Ok(mut rules) => {
                let before = rules.len();
                rules.retain(|r| r != rule.trim());
                rules.len() != before
            }
            Err(_) => false,
        }
    }

    /// Replaces the stored instructions the hub chooses from (every status; only approved
    /// ones in scope reach a prompt).
    pub fn set_instructions(&self, instructions: Vec<Instruction>) {
        if let Ok(mut g) = self.instructions.write() {
            *g = instructions;
        }
    }

    /// Replaces the memories the hub chooses from.
    pub fn set_memories(&self, memories: Vec<Memory>) {
        if let Ok(mut g) = self.memories.write() {
            *g = memories;
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
            .instructions
            .read()
            .map(|g| {
                g.iter()
                    .filter(|i| i.status == InstructionStatus::Approved)
                    .filter(|i| i.scope.matches(connections, tables))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        // Specific before general: they are likelier to matter for these tables.
        v.sort_by_key(|i| match i.scope {
            Scope::Tables { .. } => 0,
            Scope::Connection { .. } => 1,
            Scope::Global => 2,
        });
        v
    }

    /// Adds knowledge resources (dbt, LookML, Tableau…); their descriptions rank and explain
    /// the tables they describe.
    pub fn add_resources(&self, resources: Vec<Resource>) {
        if let Ok(mut g) = self.resources.write() {
            for r in resources {
                g.retain(|x| x.id != r.id);
                g.push(r);
            }
        }
        self.reset_index();
    }

    /// The knowledge resources.
    pub fn resources(&self) -> Vec<Resource> {
        self.resources.read().map(|g| g.clone()).unwrap_or_default()
    }

    /// Searches rules, instructions (approved), memories and knowledge resources for `query`;
    /// best first, at most `k`.
    pub fn search_knowledge(&self, query: &str, k: usize) -> Vec<KnowledgeHit> {
        let mut items: Vec<(KnowledgeHit, Vec<String>)> = Vec::new();
        for r in self.rules() {
            items.push((
                KnowledgeHit {
                    kind: "rule".into(),
                    id: None,
                    title: "rule".into(),
                    text: r.clone(),
                    tables: Vec::new(),
                    score: 0.0,
                },
                vec![r, String::new(), String::new()],
            ));
        }
        if let Ok(g) = self.instructions.read() {
            for i in g.iter().filter(|i| i.status == InstructionStatus::Approved) {
                items.push((
                    KnowledgeHit {
                        kind: "instruction".into(),
                        id: Some(i.id.to_string()),
                        title: scope_label(&i.scope),
                        text: i.text.clone(),
                        tables: match &i.scope {
                            Scope::Tables { tables, .. } => tables.clone(),
                            _ => Vec::new(),
                        },
                        score: 0.0,
                    },
                    vec![i.text.clone(), i.labels.join(" "), String::new()],
                ));
            }
        }
        if let Ok(g) = self.memories.read() {
            for m in g.iter() {
                items.push((
                    KnowledgeHit {
                        kind: "memory".into(),
                        id: Some(m.id.to_string()),
                        title: "memory".into(),
                        text: m.text.clone(),
                        tables: Vec::new(),
                        score: 0.0,
                    },
                    vec![m.text.clone(), m.labels.join(" "), String::new()],
                ));
            }
        }
        if let Ok(g) = self.resources.read() {
            for r in g.iter() {
                let fields: Vec<String> = r
                    .fields
                    .iter()
                    .map(|f| {
                        format!(
                            "{} {} {}",
                            f.name,
                            f.label.as_deref().unwrap_or_default(),
                            f.description.as_deref().unwrap_or_default()
                        )
                    })
                    .collect();
                items.push((
                    KnowledgeHit {
                        kind: format!("{:?}", r.kind).to_lowercase(),
                        id: Some(r.id.clone()),
                        title: r.label.clone().unwrap_or_else(|| r.name.clone()),
                        text: render_resource(r, 1_200),
                        tables: r.tables.clone(),
                        score: 0.0,
                    },
                    vec![
                        format!(
                            "{} {} {}",
                            r.name,
                            r.label.as_deref().unwrap_or_default(),
                            r.description.as_deref().unwrap_or_default()
                        ),
                        r.tags.join(" "),
                        fields.join(" "),
                    ],
                ));
            }
        }
        let mut idx = TextIndex::new(vec![
            FieldSpec::new(2.0),
            FieldSpec::new(1.0),
            FieldSpec::new(0.7),
        ]);
        for (_, texts) in &items {
            idx.add(texts);
        }
        idx.search(query, k)
            .into_iter()
            .map(|(i, s)| {
                let mut h = items[i].0.clone();
                h.score = f64::from(s);
                h
            })
            .collect()
    }

    // ----- catalogs -----

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, BTreeMap<String, Catalog>>> {
        self.catalogs
            .read()
            .map_err(|_| Error::Internal("context hub lock poisoned".into()))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, BTreeMap<String, Catalog>>> {
        self.catalogs
            .write()
            .map_err(|_| Error::Internal("context hub lock poisoned".into()))
    }

    fn reset_index(&self) {
        if let Ok(mut i) = self.index.write() {
            *i = None;
        }
    }

    /// Forgets cached catalogs (after the warehouse changed).
    pub fn invalidate(&self) {
        if let Ok(mut g) = self.catalogs.write() {
            g.clear();
        }
        if let Ok(mut v) = self.vectors.write() {
            v.clear();
        }
        self.reset_index();
    }

    /// Adds (or replaces) a connection's catalog from schemas already known — for offline
    /// evaluation, tests and hosts that cache catalogs.
    pub fn add_catalog(&self, info: ConnectorInfo, schemas: Vec<TableSchema>) -> Result<()> {
        let tables = schemas.iter().map(|s| s.table.clone()).collect();
        let schemas = schemas.into_iter().map(|s| (s.table.clone(), s)).collect();
        self.write()?.insert(
            info.name.clone(),
            Catalog {
                info,
                tables,
                schemas,
                described: BTreeMap::new(),
            },
        );
        self.reset_index();
        Ok(())
    }

    /// Loads the catalogs of `connections` not cached yet: table names, and every table's
    /// columns when the catalog is no larger than `max_catalog_tables`.
    pub async fn load_catalogs(&self, connections: &[ConnectorRef]) -> Result<()> {
        for conn in connections {
            let info = conn.info();
            if self.read()?.contains_key(&info.name) {
                continue;
            }
            let tables = conn.list_tables().await?;
            let schemas: HashMap<TableRef, TableSchema> =
                if tables.len() <= self.config.max_catalog_tables {
                    conn.catalog()
                        .await?
                        .into_iter()
                        .map(|s| (s.table.clone(), s))
                        .collect()
                } else {
                    HashMap::new()
                };
            self.write()?.insert(
                info.name.clone(),
                Catalog {
                    info: info.clone(),
                    tables,
                    schemas,
                    described: BTreeMap::new(),
                },
            );
            self.reset_index();
        }
        Ok(())
    }

    fn knowledge_by_table(&self) -> HashMap<String, TableKnowledge> {
        let mut out: HashMap<String, TableKnowledge> = HashMap::new();
        let Ok(resources) = self.resources.read() else {
            return out;
        };
        for r in resources.iter() {
            for t in &r.tables {
                let parts: Vec<&str> = t.split('.').collect();
                let key = match parts.len() {
                    0 | 1 => t.to_lowercase(),
                    n => format!("{}.{}", parts[n - 2], parts[n - 1]).to_lowercase(),
                };
                for key in [
                    key,
                    parts.last().copied().unwrap_or_default().to_lowercase(),
                ] {
                    let k = out.entry(key).or_default();
                    for d in [&r.description, &r.label].into_iter().flatten() {
                        k.description.push_str(d);
                        k.description.push(' ');
                    }
                    for f in &r.fields {
                        let _ = write!(
                            k.fields,
                            "{} {} {} ",
                            f.name,
                            f.label.as_deref().unwrap_or_default(),
                            if f.column.is_some() {
                                ""
                            } else {
                                f.description.as_deref().unwrap_or_default()
                            }
                        );
                        if let (Some(col), Some(d)) = (&f.column, &f.description) {
                            k.columns
                                .entry(col.to_lowercase())
                                .or_insert_with(|| d.clone());
                        } else if f.kind == FieldKind::Column
                            && let Some(d) = &f.description
                        {
                            k.columns
                                .entry(f.name.to_lowercase())
                                .or_insert_with(|| d.clone());
                        }
                    }
                }
            }
        }
        out
    }

    fn index(&self) -> Result<Arc<SchemaIndex>> {
        if let Some(i) = self.index.read().ok().and_then(|g| g.clone()) {
            return Ok(i);
        }
        let knowledge = self.knowledge_by_table();
        let g = self.read()?;
        let inputs: Vec<CatalogInput<'_>> = g
            .iter()
            .map(|(name, c)| CatalogInput {
                connection: name,
                tables: &c.tables,
                schemas: &c.schemas,
            })
            .collect();
        let idx = Arc::new(SchemaIndex::build(&inputs, &knowledge));
        drop(g);
        if let Ok(mut slot) = self.index.write() {
            *slot = Some(idx.clone());
        }
        Ok(idx)
    }

    /// Lists each connection's tables and columns (cached) and describes the ones most relevant
    /// to `question` with sample values.
    pub async fn prime(&self, connections: &[ConnectorRef], question: &str) -> Result<()> {
        self.plan(connections, question).await.map(|_| ())
    }

    /// The description of a table as the prompt shows it: with samples when described, else
    /// from the catalog, plus knowledge notes.
    fn table_description(&self, connection: &str, table: &TableRef) -> Option<TableDescription> {
        let g = self.read().ok()?;
        let mut d = unannotated_description(g.get(connection)?, connection, table)?;
        drop(g);
        self.annotate(&mut d, table);
        Some(d)
    }

    /// Fills missing comments from knowledge and adds measure/metric notes.
    fn annotate(&self, d: &mut TableDescription, table: &TableRef) {
        let Ok(resources) = self.resources.read() else {
            return;
        };
        for r in resources.iter().filter(|r| resource_describes(r, table)) {
            if d.comment.is_none() {
                d.comment = r.description.clone();
            }
            for f in &r.fields {
                let col = f.column.as_deref().unwrap_or(&f.name);
                if let Some(c) = d
                    .columns
                    .iter_mut()
                    .find(|c| c.name.eq_ignore_ascii_case(col))
                    && c.comment.is_none()
                {
                    c.comment = f.description.clone();
                }
                if matches!(f.kind, FieldKind::Measure | FieldKind::Calculated)
                    && let Some(expr) = &f.expression
                {
                    let note = format!(
                        "{} {}: {}{}",
                        if f.kind == FieldKind::Measure {
                            "measure"
                        } else {
                            "calculated"
                        },
                        f.name,
                        one_line(expr, 160),
                        f.description
                            .as_deref()
                            .map(|x| format!(" -- {}", one_line(x, 120)))
                            .unwrap_or_default()
                    );
                    if !d.notes.contains(&note) && d.notes.len() < 12 {
                        d.notes.push(note);
                    }
                }
            }
        }
    }

    /// Ranks tables for `question` within `token_budget` tokens of rendered descriptions: BM25F
    /// over names, columns, comments and knowledge; foreign-key neighbours follow the tables
    /// that reference them; a family of date-sharded tables counts once. Tables whose score is
    /// under a twentieth of the best are left out, except in catalogs small enough to show whole.
    pub fn select_tables(&self, question: &str, token_budget: usize) -> Vec<TableSelection> {
        self.select_with(question, token_budget, None)
    }

    /// [`ContextHub::select_tables`] with the embedder's similarity blended in, when one is
    /// set (tables are embedded on first use). Without an embedder it equals `select_tables`.
    pub async fn select_tables_semantic(
        &self,
        question: &str,
        token_budget: usize,
    ) -> Result<Vec<TableSelection>> {
        let qv = self.question_vector(question).await?;
        Ok(self.select_with(question, token_budget, qv.as_deref()))
    }

    /// [`ContextHub::select_tables`] blended with the embedder's similarity when a question
    /// vector is given: each table scores its BM25F score over the best one's, plus its cosine
    /// similarity to the question; tables the words miss can still be chosen by meaning.
    fn select_with(
        &self,
        question: &str,
        token_budget: usize,
        question_vector: Option<&[f32]>,
    ) -> Vec<TableSelection> {
        let Ok(idx) = self.index() else {
            return Vec::new();
        };
        let counter = self.token_counter();
        let cfg = self.config.effective();
        let q_terms: HashSet<String> = analyze(question).into_iter().collect();
        let q_words: HashSet<String> = words(question).into_iter().collect();
        let mut ranked = idx.rank(question);
        if let Some(qv) = question_vector {
            ranked = self.blend_embeddings(&idx, ranked, qv);
        }
        diversify(&idx, &mut ranked);
        let top = ranked.first().map_or(0.0, |r| r.1);
        let small = idx.entries.len() <= cfg.max_full_tables;

        // Candidates in order: ranked tables, each followed by the tables it references.
        // Candidates too big for what is left of the budget are passed over, but only so many:
        // the rest rank lower still.
        let examine = (cfg.max_full_tables * 4).max(40);
        let mut order: Vec<(usize, f64, String)> = Vec::new();
        let mut seen: HashSet<usize> = HashSet::new();
        for &(i, score) in &ranked {
            if (!small && score < top * 0.05) || order.len() >= examine {
                break;
            }
            if seen.insert(i) {
                let cols = idx.matching_columns(i, &q_terms);
                let reason = if cols.is_empty() {
                    "matches the question's words in its name or description".to_string()
                } else {
                    format!("columns {} match the question", cols.join(", "))
                };
                order.push((i, f64::from(score), reason));
            }
            for &j in &idx.entries[i].references {
                if seen.insert(j) {
                    order.push((
                        j,
                        f64::from(score) / 2.0,
                        format!("referenced by {} (foreign key)", idx.entries[i].table),
                    ));
                }
            }
        }
        if small {
            for i in 0..idx.entries.len() {
                if seen.insert(i) {
                    order.push((i, 0.0, "small catalog: every table is shown".into()));
                }
            }
        }

        let mut out = Vec::new();
        let mut used = 0;
        for (i, score, reason) in order.into_iter().take(examine) {
            if out.len() >= cfg.max_full_tables {
                break;
            }
            let e = &idx.entries[i];
            // A family is shown through the member the question names (`… in 2019`), else
            // its latest one.
            let table = e
                .family
                .as_ref()
                .and_then(|f| {
                    f.members.iter().find(|m| {
                        let suffix = schema_index::family_suffix(&m.name);
                        !suffix.is_empty()
                            && (q_words.contains(&suffix)
                                || (suffix.len() > 4 && q_words.contains(&suffix[..4])))
                    })
                })
                .unwrap_or(&e.table)
                .clone();
            let columns = idx.matching_columns(i, &q_terms);
            let text = self
                .table_description(&e.connection, &table)
                .map(|d| {
                    render_selected(&d, e.family.as_ref(), cfg.max_columns_per_table, &columns)
                })
                .unwrap_or_else(|| format!("Table {}\n", e.table));
            let cost = counter.count(&text);
            if used + cost > token_budget {
                continue;
            }
            used += cost;
            out.push(TableSelection {
                connection: e.connection.clone(),
                table,
                score,
                reason,
                columns,
                tokens: cost,
                family: e.family.as_ref().map(|f| FamilySummary {
                    pattern: f.pattern.clone(),
                    tables: f.members.clone(),
                }),
            });
        }
        out
    }

    /// Builds the context for one question: loads catalogs, selects and describes tables,
    /// picks the instructions, memories and knowledge in scope, and renders every section
    /// within its budget.
    pub async fn plan(&self, connections: &[ConnectorRef], question: &str) -> Result<ContextPlan> {
        self.load_catalogs(connections).await?;
        let cfg = self.config.effective();
        let counter = self.token_counter();
        let qv = self.question_vector(question).await?;
        let first = self.select_with(question, cfg.schema_tokens, qv.as_deref());
        // Describe the chosen tables with sample values, then select again with the real costs.
        for conn in connections {
            let name = conn.info().name;
            let wanted: Vec<String> = first
                .iter()
                .filter(|s| s.connection == name)
                .map(|s| s.table.to_string())
                .collect();
            if !wanted.is_empty() {
                self.describe(conn, &wanted).await?;
            }
        }
        let tables = self.select_with(question, cfg.schema_tokens, qv.as_deref());
        let conn_names: Vec<String> = connections.iter().map(|c| c.info().name).collect();
        Ok(self.render_plan(question, &conn_names, tables, &cfg, &counter))
    }

    /// The plan for `question` from what is cached (no connector is called): for offline use
    /// after [`ContextHub::add_catalog`].
    pub fn plan_cached(&self, question: &str) -> ContextPlan {
        let cfg = self.config.effective();
        let counter = self.token_counter();
        let tables = self.select_tables(question, cfg.schema_tokens);
        let conns: Vec<String> = self
            .read()
            .map(|g| g.keys().cloned().collect())
            .unwrap_or_default();
        self.render_plan(question, &conns, tables, &cfg, &counter)
    }

    fn render_plan(
        &self,
        question: &str,
        connections: &[String],
        tables: Vec<TableSelection>,
        cfg: &ContextConfig,
        counter: &TokenCounterRef,
    ) -> ContextPlan {
        let mut sections = Vec::new();
        let section =
            |name: &str, text: String, budget: usize, items: usize, omitted: usize| PromptSection {
                name: name.into(),
                tokens: counter.count(&text),
                text,
                budget,
                items,
                omitted,
            };
        sections.push(section(
            "connections",
            self.connections_text_for(connections),
            0,
            connections.len(),
            0,
        ));

        // Schema: chosen tables per connection, then the name index of the rest.
        let multi = connections.len() > 1;
        let mut schema = String::new();
        let mut index_text = String::new();
        let mut index_items = 0;
        let mut index_omitted = 0;
        let mut index_used = 0;
        // Taken before the catalogs' read guard: building the index reads the catalogs, and a
        // second read of a std `RwLock` on one thread deadlocks once a writer is queued.
        let idx = self.index().ok();
        let g = self.read().ok();
        for conn in connections {
            let chosen: Vec<&TableSelection> =
                tables.iter().filter(|t| &t.connection == conn).collect();
            let Some(cat) = g.as_ref().and_then(|g| g.get(conn)) else {
                continue;
            };
            if multi {
                let _ = writeln!(
                    schema,
                    "Connection `{conn}` ({} dialect):",
                    cat.info.dialect.display_name()
                );
            }
            for t in &chosen {
                // From the catalog under the guard already held (not `table_description`,
                // which would read-lock the catalogs again).
                if let Some(mut d) = unannotated_description(cat, conn, &t.table) {
                    self.annotate(&mut d, &t.table);
                    schema.push_str(&render_selected(
                        &d,
                        t.family
                            .as_ref()
                            .map(|f| TableFamily {
                                pattern: f.pattern.clone(),
                                members: f.tables.clone(),
                            })
                            .as_ref(),
                        cfg.max_columns_per_table,
                        &t.columns,
                    ));
                }
            }
            // Name index of the rest, families collapsed.
            let chosen_set: HashSet<&TableRef> = chosen
                .iter()
                .flat_map(|t| {
                    std::iter::once(&t.table).chain(t.family.iter().flat_map(|f| f.tables.iter()))
                })
                .collect();
            let mut rest: Vec<String> = Vec::new();
            let mut fam_seen: HashSet<String> = HashSet::new();
            let family_of: HashMap<&TableRef, &TableFamily> = idx
                .as_ref()
                .map(|idx| {
                    idx.entries
                        .iter()
                        .filter(|e| &e.connection == conn)
                        .filter_map(|e| e.family.as_ref())
                        .flat_map(|f| f.members.iter().map(move |m| (m, f)))
                        .collect()
                })
                .unwrap_or_default();
            for t in &cat.tables {
                if chosen_set.contains(t) {
                    continue;
                }
                match family_of.get(t) {
                    Some(f) => {
                        if fam_seen.insert(f.pattern.clone()) {
                            let shown = match &t.schema {
                                Some(s) => format!("{s}.{}", f.pattern),
                                None => f.pattern.clone(),
                            };
                            rest.push(format!("{shown} ({} tables)", f.members.len()));
                        }
                    }
                    None => rest.push(t.to_string()),
                }
            }
            if !rest.is_empty() {
                let head = if multi {
                    format!("Other tables of `{conn}` (use describe_tables to see columns): ")
                } else {
                    "Other tables (use describe_tables to see columns): ".to_string()
                };
                index_used += counter.count(&head);
                let mut line = head;
                let mut n = 0;
                for (i, r) in rest.iter().enumerate() {
                    let piece = if n == 0 { r.clone() } else { format!(", {r}") };
                    let cost = counter.count(&piece);
                    if index_used + cost > cfg.index_tokens {
                        let _ = write!(line, ", … and {} more", rest.len() - i);
                        index_omitted += rest.len() - i;
                        break;
                    }
                    index_used += cost;
                    line.push_str(&piece);
                    n += 1;
                }
                index_items += n;
                line.push('\n');
                index_text.push_str(&line);
            }
        }
        drop(g);
        let n_tables = tables.len();
        sections.push(section("schema", schema, cfg.schema_tokens, n_tables, 0));
        sections.push(section(
            "table_index",
            index_text,
            cfg.index_tokens,
            index_items,
            index_omitted,
        ));

        // Knowledge: resources linked to the chosen tables (metrics, explores), best first.
        let table_names: Vec<String> = tables.iter().map(|t| t.table.to_string()).collect();
        let mut knowledge = String::new();
        let mut resource_ids = Vec::new();
        let mut k_omitted = 0;
        if let Ok(resources) = self.resources.read() {
            let linked: Vec<&Resource> = resources
                .iter()
                .filter(|r| {
                    !matches!(
                        r.kind,
                        crate::knowledge::ResourceKind::View
                            | crate::knowledge::ResourceKind::Model
                            | crate::knowledge::ResourceKind::Source
                            | crate::knowledge::ResourceKind::DataSource
                            | crate::knowledge::ResourceKind::Seed
                    )
                })
                .filter(|r| tables.iter().any(|t| resource_describes(r, &t.table)))
                .collect();
            let mut used = 0;
            for r in linked {
                let line = format!("- {}\n", render_resource(r, 400));
                let cost = counter.count(&line);
                if used + cost > cfg.knowledge_tokens {
                    k_omitted += 1;
                    continue;
                }
                used += cost;
                knowledge.push_str(&line);
                resource_ids.push(r.id.clone());
            }
        }
        if !knowledge.is_empty() {
            knowledge.insert_str(
                0,
                "Semantic definitions (use them when the question uses these terms):\n",
            );
        }
        let n_res = resource_ids.len();
        sections.push(section(
            "knowledge",
            knowledge,
            cfg.knowledge_tokens,
            n_res,
            k_omitted,
        ));

        // Rules: plain rules, then the instructions in scope, within the budget.
        let instructions = self.instructions_in_scope(connections, &table_names);
        let mut rules_text = String::new();
        let mut carried = Vec::new();
        let mut r_items = 0;
        let mut r_omitted = 0;
        let plain = self.rules();
        if !plain.is_empty() || !instructions.is_empty() {
            rules_text.push_str("Rules of this team (always follow):\n");
            let mut used = counter.count(&rules_text);
            for r in &plain {
                let line = format!("- {}\n", r.trim());
                let cost = counter.count(&line);
                if used + cost > cfg.rules_tokens {
                    r_omitted += 1;
                    continue;
                }
                used += cost;
                rules_text.push_str(&line);
                r_items += 1;
            }
            for i in instructions {
                let line = format!("- {}\n", i.text.trim());
                let cost = counter.count(&line);
                if used + cost > cfg.rules_tokens {
                    r_omitted += 1;
                    continue;
                }
                used += cost;
                rules_text.push_str(&line);
                r_items += 1;
                carried.push(i);
            }
            if r_items == 0 {
                rules_text.clear();
            }
        }
        sections.push(section(
            "rules",
            rules_text,
            cfg.rules_tokens,
            r_items,
            r_omitted,
        ));

        // Memories in scope, most relevant to the question first.
        let memories: Vec<Memory> = self
            .memories
            .read()
            .map(|g| {
                g.iter()
                    .filter(|m| m.scope.matches(connections, &table_names))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut mem_text = String::new();
        let mut mem_carried = Vec::new();
        let mut m_omitted = 0;
        if !memories.is_empty() {
            let mut idx = TextIndex::new(vec![FieldSpec::new(1.0)]);
            for m in &memories {
                idx.add(&[m.text.as_str()]);
            }
            let scores: HashMap<usize, f32> = idx.score_all(question).into_iter().collect();
            let mut order: Vec<usize> = (0..memories.len()).collect();
            order.sort_by(|a, b| {
                let sa = scores.get(a).copied().unwrap_or(0.0);
                let sb = scores.get(b).copied().unwrap_or(0.0);
                sb.total_cmp(&sa)
                    .then(memories[*b].created_at.cmp(&memories[*a].created_at))
            });
            mem_text.push_str("Facts recorded earlier (trust them):\n");
            let mut used = counter.count(&mem_text);
            for i in order {
                let line = format!("- {}\n", memories[i].text.trim());
                let cost = counter.count(&line);
                if used + cost > cfg.memory_tokens {
                    m_omitted += 1;
                    continue;
                }
                used += cost;
                mem_text.push_str(&line);
                mem_carried.push(memories[i].clone());
            }
            if mem_carried.is_empty() {
                mem_text.clear();
            }
        }
        let n_mem = mem_carried.len();
        sections.push(section(
            "memories",
            mem_text,
            cfg.memory_tokens,
            n_mem,
            m_omitted,
        ));

        ContextPlan {
            question: question.to_string(),
            tables,
            instructions: carried,
            memories: mem_carried,
            resources: resource_ids,
            sections,
            tokenizer: counter.name().to_string(),
            context_window: cfg.context_window,
            system_prompt: None,
        }
    }

    /// Describes `names` on `conn` (cached): columns, keys, row estimate, sample values.
    /// Returns the descriptions and the names that matched no table.
    pub async fn describe(
        &self,
        conn: &ConnectorRef,
        names: &[String],
    ) -> Result<(Vec<TableDescription>, Vec<String>)> {
        let info = conn.info();
        let cached_tables = self.read()?.get(&info.name).map(|c| c.tables.clone());
        let tables = match cached_tables {
            Some(t) => t,
            None => {
                let t = conn.list_tables().await?;
                self.write()?.insert(
                    info.name.clone(),
                    Catalog {
                        info: info.clone(),
                        tables: t.clone(),
                        schemas: HashMap::new(),
                        described: BTreeMap::new(),
                    },
                );
                self.reset_index();
                t
            }
        };
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for name in names {
            let Some(t) = tables.iter().find(|t| t.matches(name)).cloned() else {
                missing.push(name.clone());
                continue;
            };
            let cached = self
                .read()?
                .get(&info.name)
                .and_then(|c| c.described.get(&t).cloned());
            let mut d = match cached {
                Some(d) => d,
                None => {
                    let known = self
                        .read()?
                        .get(&info.name)
                        .and_then(|c| c.schemas.get(&t).cloned());
                    let d = self.load_description(conn, &info, &t, known).await?;
                    if let Some(c) = self.write()?.get_mut(&info.name) {
                        c.described.insert(t.clone(), d.clone());
                    }
                    d
                }
            };
            self.annotate(&mut d, &t);
            found.push(d);
        }
        Ok((found, missing))
    }

    async fn load_description(
        &self,
        conn: &ConnectorRef,
        info: &ConnectorInfo,
        t: &TableRef,
        known: Option<TableSchema>,
    ) -> Result<TableDescription> {
        let schema = match known {
            Some(s) => s,
            None => conn.table_schema(t).await?,
        };
        let mut d = TableDescription::from_schema(&info.name, &schema);
        d.table = t.to_string();
        if self.config.sample_values == 0 {
            return Ok(d);
        }
        let Ok(samples) = conn.sample(t, 200).await else {
            return Ok(d);
        };
        let rows = data::batches_to_json_rows(&samples.batches, 200).unwrap_or_default();
        for c in &mut d.columns {
            // Sample values earn their tokens on text and time columns (codes, spellings,
            // formats); numbers are better learned with inspect_data.
            if is_numeric_type(&c.data_type) {
                continue;
            }
            for row in &rows {
                if c.samples.len() >= self.config.sample_values {
                    break;
                }
                let v = match row.get(&c.name) {
                    Some(serde_json::Value::String(s)) => s.chars().take(40).collect(),
                    Some(serde_json::Value::Bool(b)) => b.to_string(),
                    _ => continue,
                };
                if !c.samples.contains(&v) {
                    c.samples.push(v);
                }
            }
        }
        Ok(d)
    }

    /// Table names of a connection (from the cached listing).
    pub fn table_names(&self, connection: &str) -> Vec<String> {
        self.read()
            .ok()
            .and_then(|g| {
                g.get(connection)
                    .map(|c| c.tables.iter().map(ToString::to_string).collect())
            })
            .unwrap_or_default()
    }

    /// Every described table (within the schema budget), then a name index of the rest —
    /// independent of any question. `None` renders every connection. Runs use
    /// [`ContextHub::plan`], which picks the tables for the question.
    pub fn schema_text(&self, connection: Option<&str>) -> String {
        let Ok(g) = self.read() else {
            return String::new();
        };
        let counter = self.token_counter();
        let mut out = String::new();
        let mut used = 0;
        for (name, cat) in g.iter() {
            if connection.is_some_and(|c| !c.eq_ignore_ascii_case(name)) {
                continue;
            }
            if g.len() > 1 || connection.is_none() {
                let _ = writeln!(
                    out,
                    "Connection `{name}` ({} dialect):",
                    cat.info.dialect.display_name()
                );
            }
            let mut rest = Vec::new();
            for t in &cat.tables {
                match cat.described.get(t) {
                    Some(d) => {
                        let text = d.render_focused(self.config.max_columns_per_table, &[]);
                        let cost = counter.count(&text);
                        if used + cost <= self.config.schema_tokens {
                            used += cost;
                            out.push_str(&text);
                        } else {
                            rest.push(t.to_string());
                        }
                    }
                    None => rest.push(t.to_string()),
                }
            }
            if !rest.is_empty() {
                let mut index = String::from("Other tables (use describe_tables to see columns): ");
                let mut left = self.config.index_tokens;
                for (i, r) in rest.iter().enumerate() {
                    let piece = if i == 0 { r.clone() } else { format!(", {r}") };
                    let cost = counter.count(&piece);
                    if cost > left {
                        let _ = write!(index, ", … and {} more", rest.len() - i);
                        break;
                    }
                    left -= cost;
                    index.push_str(&piece);
                }
                out.push_str(&index);
                out.push('\n');
            }
        }
        out
    }

    /// The plain rules and every approved global instruction (empty when there are none),
    /// within the rules budget. Runs use [`ContextHub::plan`], which adds scoped instructions.
    pub fn rules_text(&self) -> String {
        let mut rules = self.rules();
        rules.extend(
            self.instructions_in_scope(&[], &[])
                .into_iter()
                .map(|i| i.text),
        );
        if rules.is_empty() {
            return String::new();
        }
        let counter = self.token_counter();
        let mut out = String::from("Rules of this team (always follow):\n");
        let mut used = counter.count(&out);
        for r in &rules {
            let line = format!("- {}\n", r.trim());
            let cost = counter.count(&line);
            if used + cost > self.config.rules_tokens {
                break;
            }
            used += cost;
            out.push_str(&line);
        }
        out
    }

    /// Connection names and dialects, one per line.
    pub fn connections_text(&self) -> String {
        self.read()
            .map(|g| {
                g.values()
                    .map(|c| format!("- {} ({})\n", c.info.name, c.info.dialect.display_name()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn connections_text_for(&self, names: &[String]) -> String {
        self.read()
            .map(|g| {
                names
                    .iter()
                    .filter_map(|n| g.get(n))
                    .map(|c| format!("- {} ({})\n", c.info.name, c.info.dialect.display_name()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Halves the score of a table for each better-ranked table of the same stem (its name without
/// digits: `carrier_contract_12`, `carrier_contract_30`…), so a run of near-identical tables
/// does not crowd out the others; then sorts again.
fn diversify(idx: &SchemaIndex, ranked: &mut [(usize, f32)]) {
    let mut seen: HashMap<String, i32> = HashMap::new();
    for r in ranked.iter_mut() {
        let e = &idx.entries[r.0];
        let stem: String = e
            .table
            .name
            .to_lowercase()
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '_')
            .to_string();
        let key = format!("{}.{}", e.table.schema.as_deref().unwrap_or_default(), stem);
        let n = seen.entry(key).or_insert(0);
        r.1 *= 0.5f32.powi(*n);
        *n += 1;
    }
    ranked.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| idx.entries[a.0].table.cmp(&idx.entries[b.0].table))
    });
}

/// Turns texts into vectors for semantic table ranking — the host's embedding model (OpenAI
/// embeddings, a local sentence model…). Set with [`ContextHub::set_embedder`] or
/// `AgentBuilder::embedder`; the hub embeds each table once (name, columns, comment) and each
/// question, and blends cosine similarity with the lexical score.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// One vector per text, in order, all of the same length.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// One result of [`ContextHub::search_knowledge`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeHit {
    /// `rule`, `instruction`, `memory`, or the resource kind (`model`, `metric`, `view`…).
    pub kind: String,
    /// Id of the instruction, memory or resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Short title.
    pub title: String,
    /// The text (a resource rendered compactly).
    pub text: String,
    /// Tables it concerns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// Relevance score.
    pub score: f64,
}

/// Whether a resource describes `table` (its last one or two name parts match).
fn resource_describes(r: &Resource, table: &TableRef) -> bool {
    r.tables.iter().any(|t| {
        let parts: Vec<&str> = t.split('.').collect();
        let n = parts.len();
        let name_ok = parts
            .last()
            .is_some_and(|p| p.trim_matches('"').eq_ignore_ascii_case(&table.name));
        let schema_ok = n < 2
            || table
                .schema
                .as_deref()
                .is_none_or(|s| parts[n - 2].trim_matches('"').eq_ignore_ascii_case(s));
        name_ok && schema_ok
    })
}

/// A resource in a few lines: kind, name, description, SQL and its measures.
fn render_resource(r: &Resource, max_chars: usize) -> String {
    let mut out = format!("{:?} {}", r.kind, r.name).to_lowercase();
    out = format!(
        "{}{}",
        out,
        r.label
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default()
    );
    if let Some(d) = &r.description {
        let _ = write!(out, ": {}", one_line(d, 200));
    }
    if let Some(sql) = &r.sql {
        let _ = write!(out, " [sql: {}]", one_line(sql, 200));
    }
    let measures: Vec<String> = r
        .fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::Measure | FieldKind::Calculated))
        .filter_map(|f| {
            f.expression
                .as_ref()
                .map(|e| format!("{} = {}", f.name, one_line(e, 80)))
        })
        .collect();
    if !measures.is_empty() {
        let _ = write!(out, " [{}]", measures.join("; "));
    }
    if !r.tables.is_empty() {
        let _ = write!(out, " (tables: {})", r.tables.join(", "));
    }
    one_line(&out, max_chars)
}

fn render_selected(
    d: &TableDescription,
    family: Option<&TableFamily>,
    max_columns: usize,
    focus: &[String],
) -> String {
    let mut text = d.render_focused(max_columns, focus);
    if let Some(f) = family {
        let first = f
            .members
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        let last = f
            .members
            .last()
            .map(ToString::to_string)
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "  (one of {} tables {} with these columns, {first} … {last}; query the ones the \
             question needs, or UNION them)",
            f.members.len(),
            f.pattern
        );
    }
    text
}

/// A table's description from `cat` (with samples when described, else from the schema),
/// without knowledge notes: for callers that already hold the catalogs' lock.
fn unannotated_description(
    cat: &Catalog,
    connection: &str,
    table: &TableRef,
) -> Option<TableDescription> {
    cat.described.get(table).cloned().or_else(|| {
        cat.schemas
            .get(table)
            .map(|s| TableDescription::from_schema(connection, s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_identifiers() {
        assert_eq!(words("depDelay_minutes2"), vec!["dep", "delay", "minutes2"]);
        assert_eq!(words("Which carrier?"), vec!["which", "carrier"]);
    }

    #[test]
    fn truncation_marks_what_was_cut() {
        let t = truncate_observation(&"x".repeat(100), 10);
        assert!(t.starts_with("xxxxxxxxxx…"));
        assert!(t.contains("truncated 90 of 100"));
        assert_eq!(truncate_observation("short", 10), "short");
    }
}
