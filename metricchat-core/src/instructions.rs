//! The team's knowledge that is not in the warehouse: **instructions** (rules the agent follows)
//! and **memories** (facts recorded by the agent or a user, such as "revenue means net_revenue").
//!
//! Both carry a [`Scope`]: global, one connection, or specific tables. Only
//! [`InstructionStatus::Approved`] instructions whose scope matches the run enter the prompt;
//! the agent's `suggest_instruction` tool creates drafts that the host approves through the API.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// Where an instruction or memory applies.
///
/// Serialized with a `kind` tag (`{"kind": "connection", "connection": "wh"}`). Reading also
/// accepts the short forms people type in configs and the bindings: `null` or `"global"`,
/// `{"connection": "wh"}`, `{"tables": ["orders"], "connection": "wh"}` and a bare list of
/// table names.
///
/// ```
/// use metricchat_core::instructions::Scope;
/// let s: Scope = serde_json::from_str(r#"["orders", "sales.customers"]"#)?;
/// assert_eq!(s, Scope::Tables { connection: None, tables: vec!["orders".into(), "sales.customers".into()] });
/// let s: Scope = serde_json::from_str(r#"{"connection": "wh"}"#)?;
/// assert_eq!(s.connection(), Some("wh"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// Every run.
    #[default]
    Global,
    /// Runs that use this connection (by name, case-insensitive).
    Connection {
        /// The connection name.
        connection: String,
    },
    /// Runs whose selected tables include one of these (`schema.table` or bare names,
    /// matched case-insensitively; a bare name matches any schema), optionally on one connection.
    Tables {
        /// The connection, or every connection when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connection: Option<String>,
        /// The tables.
        tables: Vec<String>,
    },
}

/// The tagged form of [`Scope`], as it is written.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum TaggedScope {
    Global,
    Connection {
        connection: String,
    },
    Tables {
        #[serde(default)]
        connection: Option<String>,
        tables: Vec<String>,
    },
}

/// Every form [`Scope`] reads.
#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeRepr {
    Tagged(TaggedScope),
    Null(()),
    Word(String),
    Tables(Vec<String>),
    Loose(LooseScope),
}

/// `{"connection": …, "tables": […]}` without a `kind`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LooseScope {
    #[serde(default)]
    connection: Option<String>,
    #[serde(default)]
    tables: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        Ok(
            match ScopeRepr::deserialize(deserializer).map_err(|_| {
                D::Error::custom(
                    "a scope is null, \"global\", {\"connection\": NAME}, \
                 {\"tables\": [NAMES], \"connection\"?: NAME}, a list of table names, or the \
                 tagged form {\"kind\": \"global\"|\"connection\"|\"tables\", ...}",
                )
            })? {
                ScopeRepr::Tagged(TaggedScope::Global) | ScopeRepr::Null(()) => Scope::Global,
                ScopeRepr::Tagged(TaggedScope::Connection { connection }) => {
                    Scope::Connection { connection }
                }
                ScopeRepr::Tagged(TaggedScope::Tables { connection, tables })
                | ScopeRepr::Loose(LooseScope {
                    connection,
                    tables: Some(tables),
                }) => Scope::Tables { connection, tables },
                ScopeRepr::Loose(LooseScope {
                    connection: Some(connection),
                    tables: None,
                }) => Scope::Connection { connection },
                ScopeRepr::Loose(LooseScope {
                    connection: None,
                    tables: None,
                }) => Scope::Global,
                ScopeRepr::Word(w) if w.eq_ignore_ascii_case("global") => Scope::Global,
                ScopeRepr::Word(w) => {
                    return Err(D::Error::custom(format!(
                        "unknown scope `{w}`: write \"global\", {{\"connection\": NAME}} or a list of tables"
                    )));
                }
                ScopeRepr::Tables(tables) => Scope::Tables {
                    connection: None,
                    tables,
                },
            },
        )
    }
}

/// Lifecycle of an instruction.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum InstructionStatus {
    /// Proposed (by the agent or a user), not yet in prompts.
    #[default]
    Draft,
    /// In prompts whose scope matches.
    Approved,
    /// Kept for history, never in prompts.
    Archived,
}

/// Who wrote an instruction or memory.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A person, through the API.
    #[default]
    User,
    /// The agent (for instructions: suggested, and a draft until approved).
    Agent,
}

/// A rule of the team the agent follows, e.g. "Exclude test accounts (is_test = true)".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Instruction {
    /// Id.
    pub id: Uuid,
    /// The rule's text, as it appears in the prompt.
    pub text: String,
    /// Lifecycle status.
    pub status: InstructionStatus,
    /// Where it applies.
    pub scope: Scope,
    /// Free labels for filtering ("finance", "definitions").
    #[serde(default)]
    pub labels: Vec<String>,
    /// Who wrote it.
    pub source: Origin,
    /// The run that suggested it, for agent suggestions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    /// Runs whose prompt carried it.
    pub usage_count: u64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A fact the agent or a user recorded, e.g. "revenue means net_revenue".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Memory {
    /// Id.
    pub id: Uuid,
    /// The fact.
    pub text: String,
    /// Where it applies.
    pub scope: Scope,
    /// Free labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Who recorded it.
    pub source: Origin,
    /// The run that created it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl Scope {
    /// Whether this scope applies to a run on `connections` whose selected tables are `tables`.
    ///
    /// Names compare case-insensitively. A table given without a schema matches that table in
    /// any schema (`flights` matches `public.flights`); a table given with a schema matches
    /// only that schema, or a selected table given without one.
    pub fn matches(&self, connections: &[String], tables: &[String]) -> bool {
        match self {
            Scope::Global => true,
            Scope::Connection { connection } => connections
                .iter()
                .any(|c| c.eq_ignore_ascii_case(connection)),
            Scope::Tables {
                connection,
                tables: wanted,
            } => {
                let on_connection = connection
                    .as_ref()
                    .is_none_or(|c| connections.iter().any(|x| x.eq_ignore_ascii_case(c)));
                on_connection
                    && wanted
                        .iter()
                        .any(|w| tables.iter().any(|t| table_names_match(w, t)))
            }
        }
    }

    /// The connection this scope names, if any.
    pub fn connection(&self) -> Option<&str> {
        match self {
            Scope::Global => None,
            Scope::Connection { connection } => Some(connection),
            Scope::Tables { connection, .. } => connection.as_deref(),
        }
    }

    /// Checks the scope is usable: names are not blank and a table scope lists a table.
    pub fn validate(&self) -> Result<()> {
        match self {
            Scope::Global => Ok(()),
            Scope::Connection { connection } if connection.trim().is_empty() => Err(
                Error::invalid_input("a connection scope needs a connection name"),
            ),
            Scope::Connection { .. } => Ok(()),
            Scope::Tables { connection, tables } => {
                if connection.as_ref().is_some_and(|c| c.trim().is_empty()) {
                    return Err(Error::invalid_input(
                        "a table scope's connection name must not be blank",
                    ));
                }
                if tables.is_empty() || tables.iter().any(|t| t.trim().is_empty()) {
                    return Err(Error::invalid_input(
                        "a table scope needs at least one table, and no blank names",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// `schema.table` or `table`, compared case-insensitively; a missing schema matches any.
fn table_names_match(a: &str, b: &str) -> bool {
    fn split(s: &str) -> (Option<&str>, &str) {
        let s = s.trim();
        match s.rsplit_once('.') {
            Some((schema, name)) if !schema.is_empty() => (Some(schema), name),
            _ => (None, s),
        }
    }
    let (sa, na) = split(a);
    let (sb, nb) = split(b);
    na.eq_ignore_ascii_case(nb)
        && match (sa, sb) {
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
            _ => true,
        }
}

impl InstructionStatus {
    /// The stored string form (`draft`, `approved`, `archived`).
    pub fn as_str(self) -> &'static str {
        match self {
            InstructionStatus::Draft => "draft",
            InstructionStatus::Approved => "approved",
            InstructionStatus::Archived => "archived",
        }
    }

    /// Parses the stored string form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => InstructionStatus::Draft,
            "approved" => InstructionStatus::Approved,
            "archived" => InstructionStatus::Archived,
            _ => return None,
        })
    }
}

impl Origin {
    /// The stored string form (`user`, `agent`).
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::User => "user",
            Origin::Agent => "agent",
        }
    }

    /// Parses the stored string form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => Origin::User,
            "agent" => Origin::Agent,
            _ => return None,
        })
    }
}

/// The current time to the microsecond: the finest every store keeps, so an instruction or
/// memory reads back exactly as it was built.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Trims `text`, refusing an empty one.
fn checked_text(text: &str, what: &str) -> Result<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Error::invalid_input(format!(
            "{what} text must not be empty"
        )));
    }
    Ok(t.to_string())
}

/// Trims labels, drops blank and repeated ones (case-insensitively), keeps order.
fn clean_labels(labels: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in labels {
        let l = l.trim();
        if !l.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(l)) {
            out.push(l.to_string());
        }
    }
    out
}

impl Instruction {
    /// Checks the instruction can be stored: non-empty text, a usable scope.
    pub fn validate(&self) -> Result<()> {
        checked_text(&self.text, "instruction")?;
        self.scope.validate()
    }

    /// Whether the instruction carries `label` (case-insensitive).
    pub fn has_label(&self, label: &str) -> bool {
        self.labels
            .iter()
            .any(|l| l.eq_ignore_ascii_case(label.trim()))
    }
}

impl Memory {
    /// Checks the memory can be stored: non-empty text, a usable scope.
    pub fn validate(&self) -> Result<()> {
        checked_text(&self.text, "memory")?;
        self.scope.validate()
    }
}

/// A new instruction, before it is stored: build it, then pass it to
/// `agent.instructions().add(...)` or [`NewInstruction::build`] it yourself.
///
/// ```
/// use metricchat_core::instructions::{InstructionStatus, NewInstruction, Scope};
///
/// let rule = NewInstruction::new("Exclude test accounts (is_test = true)")
///     .scope(Scope::Tables { connection: None, tables: vec!["accounts".into()] })
///     .label("finance")
///     .build()?;
/// // Written by a person: approved unless said otherwise.
/// assert_eq!(rule.status, InstructionStatus::Approved);
/// # Ok::<(), metricchat_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct NewInstruction {
    /// The rule's text.
    pub text: String,
    /// Where it applies (default: global).
    pub scope: Scope,
    /// Labels.
    pub labels: Vec<String>,
    /// Who wrote it (default: a user).
    pub source: Origin,
    /// The status; default: approved for a user, draft for the agent.
    pub status: Option<InstructionStatus>,
    /// The run that suggested it.
    pub run_id: Option<Uuid>,
}

impl NewInstruction {
    /// A global instruction written by a user.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// Sets where it applies.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Adds a label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.labels.push(label.into());
        self
    }

    /// Adds labels.
    pub fn labels(mut self, labels: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.labels.extend(labels.into_iter().map(Into::into));
        self
    }

    /// Sets who wrote it.
    pub fn source(mut self, source: Origin) -> Self {
        self.source = source;
        self
    }

    /// Sets the status explicitly.
    pub fn status(mut self, status: InstructionStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the run that suggested it.
    pub fn run_id(mut self, run_id: Uuid) -> Self {
        self.run_id = Some(run_id);
        self
    }

    /// The stored form: a fresh id, trimmed text and labels, timestamps now, usage 0.
    ///
    /// Fails with [`Error::InvalidInput`] on empty text or an unusable scope.
    pub fn build(self) -> Result<Instruction> {
        let text = checked_text(&self.text, "instruction")?;
        self.scope.validate()?;
        let now = now();
        let status = self.status.unwrap_or(match self.source {
            Origin::User => InstructionStatus::Approved,
            Origin::Agent => InstructionStatus::Draft,
        });
        Ok(Instruction {
            id: Uuid::now_v7(),
            text,
            status,
            scope: self.scope,
            labels: clean_labels(&self.labels),
            source: self.source,
            run_id: self.run_id,
            usage_count: 0,
            created_at: now,
            updated_at: now,
        })
    }
}

/// A new memory, before it is stored.
///
/// ```
/// use metricchat_core::instructions::NewMemory;
///
/// let m = NewMemory::new("revenue means net_revenue").label("definitions").build()?;
/// assert_eq!(m.text, "revenue means net_revenue");
/// # Ok::<(), metricchat_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct NewMemory {
    /// The fact.
    pub text: String,
    /// Where it applies (default: global).
    pub scope: Scope,
    /// Labels.
    pub labels: Vec<String>,
    /// Who recorded it (default: a user).
    pub source: Origin,
    /// The run that recorded it.
    pub run_id: Option<Uuid>,
}

impl NewMemory {
    /// A global memory recorded by a user.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// Sets where it applies.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Adds a label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.labels.push(label.into());
        self
    }

    /// Sets who recorded it.
    pub fn source(mut self, source: Origin) -> Self {
        self.source = source;
        self
    }

    /// Sets the run that recorded it.
    pub fn run_id(mut self, run_id: Uuid) -> Self {
        self.run_id = Some(run_id);
        self
    }

    /// The stored form: a fresh id, trimmed text and labels, created now.
    ///
    /// Fails with [`Error::InvalidInput`] on empty text or an unusable scope.
    pub fn build(self) -> Result<Memory> {
        let text = checked_text(&self.text, "memory")?;
        self.scope.validate()?;
        Ok(Memory {
            id: Uuid::now_v7(),
            text,
            scope: self.scope,
            labels: clean_labels(&self.labels),
            source: self.source,
            run_id: self.run_id,
            created_at: now(),
        })
    }
}

/// A change to an instruction's text, scope or labels; `None` fields stay as they are.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct InstructionUpdate {
    /// New text.
    pub text: Option<String>,
    /// New scope.
    pub scope: Option<Scope>,
    /// New labels (replacing the old ones).
    pub labels: Option<Vec<String>>,
}

impl InstructionUpdate {
    /// No change yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets new text.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets a new scope.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Replaces the labels.
    pub fn labels(mut self, labels: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.labels = Some(labels.into_iter().map(Into::into).collect());
        self
    }

    /// Applies the change to `instruction` (and stamps `updated_at`), validating the result.
    ///
    /// Fails with [`Error::InvalidInput`] on empty text or an unusable scope, leaving
    /// `instruction` unchanged.
    pub fn apply(&self, instruction: &mut Instruction) -> Result<()> {
        let text = match &self.text {
            Some(t) => Some(checked_text(t, "instruction")?),
            None => None,
        };
        if let Some(s) = &self.scope {
            s.validate()?;
        }
        if let Some(t) = text {
            instruction.text = t;
        }
        if let Some(s) = &self.scope {
            instruction.scope = s.clone();
        }
        if let Some(l) = &self.labels {
            instruction.labels = clean_labels(l);
        }
        instruction.updated_at = now();
        Ok(())
    }
}

/// Which instructions to list; empty fields match everything.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct InstructionFilter {
    /// Only this status.
    pub status: Option<InstructionStatus>,
    /// Only from this source.
    pub source: Option<Origin>,
    /// Only those carrying this label (case-insensitive).
    pub label: Option<String>,
    /// Only those whose scope names this connection (case-insensitive); global instructions
    /// and table scopes without a connection are not included.
    pub connection: Option<String>,
    /// Only those whose text contains this (case-insensitive).
    pub text: Option<String>,
    /// Only those suggested by this run.
    pub run_id: Option<Uuid>,
}

impl InstructionFilter {
    /// Matches everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only approved instructions.
    pub fn approved() -> Self {
        Self::all().status(InstructionStatus::Approved)
    }

    /// Sets the status.
    pub fn status(mut self, status: InstructionStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the source.
    pub fn source(mut self, source: Origin) -> Self {
        self.source = Some(source);
        self
    }

    /// Sets the label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the connection.
    pub fn connection(mut self, connection: impl Into<String>) -> Self {
        self.connection = Some(connection.into());
        self
    }

    /// Sets the text to look for.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets the run.
    pub fn run_id(mut self, run_id: Uuid) -> Self {
        self.run_id = Some(run_id);
        self
    }

    /// Whether `i` passes the filter. Every store lists exactly what this accepts.
    pub fn matches(&self, i: &Instruction) -> bool {
        self.status.is_none_or(|s| s == i.status)
            && self.source.is_none_or(|s| s == i.source)
            && self.run_id.is_none_or(|r| Some(r) == i.run_id)
            && self.label.as_deref().is_none_or(|l| i.has_label(l))
            && self.connection.as_deref().is_none_or(|c| {
                i.scope
                    .connection()
                    .is_some_and(|x| x.eq_ignore_ascii_case(c.trim()))
            })
            && self
                .text
                .as_deref()
                .is_none_or(|t| contains_ignore_case(&i.text, t))
    }
}

/// Which memories to list; empty fields match everything.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MemoryFilter {
    /// Only from this source.
    pub source: Option<Origin>,
    /// Only those recorded by this run.
    pub run_id: Option<Uuid>,
    /// Only those carrying this label (case-insensitive).
    pub label: Option<String>,
    /// Only those whose scope names this connection (case-insensitive).
    pub connection: Option<String>,
    /// Only those whose text contains this (case-insensitive).
    pub text: Option<String>,
}

impl MemoryFilter {
    /// Matches everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Sets the source.
    pub fn source(mut self, source: Origin) -> Self {
        self.source = Some(source);
        self
    }

    /// Sets the run.
    pub fn run_id(mut self, run_id: Uuid) -> Self {
        self.run_id = Some(run_id);
        self
    }

    /// Sets the label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the connection.
    pub fn connection(mut self, connection: impl Into<String>) -> Self {
        self.connection = Some(connection.into());
        self
    }

    /// Sets the text to look for.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Whether `m` passes the filter. Every store lists exactly what this accepts.
    pub fn matches(&self, m: &Memory) -> bool {
        self.source.is_none_or(|s| s == m.source)
            && self.run_id.is_none_or(|r| Some(r) == m.run_id)
            && self
                .label
                .as_deref()
                .is_none_or(|l| m.labels.iter().any(|x| x.eq_ignore_ascii_case(l.trim())))
            && self.connection.as_deref().is_none_or(|c| {
                m.scope
                    .connection()
                    .is_some_and(|x| x.eq_ignore_ascii_case(c.trim()))
            })
            && self
                .text
                .as_deref()
                .is_none_or(|t| contains_ignore_case(&m.text, t))
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .to_lowercase()
        .contains(needle.trim().to_lowercase().as_str())
}

/// The `k` memories that share the most words with `query`, best first (ties: newest first).
/// Memories sharing no word are left out. Words are split like table names
/// (camelCase and snake_case split, lower-cased) and compared without a plural `s`.
pub fn search_memories<'a>(memories: &'a [Memory], query: &str, k: usize) -> Vec<&'a Memory> {
    let q: std::collections::HashSet<String> = crate::text::words(query)
        .iter()
        .map(|w| normalise_word(w))
        .collect();
    let mut scored: Vec<(usize, &Memory)> = memories
        .iter()
        .filter_map(|m| {
            let mine: std::collections::HashSet<String> = crate::text::words(&m.text)
                .iter()
                .chain(m.labels.iter())
                .map(|w| normalise_word(w))
                .collect();
            let hits = mine.intersection(&q).count();
            (hits > 0).then_some((hits, m))
        })
        .collect();
    scored.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.created_at.cmp(&a.1.created_at))
            .then(a.1.id.cmp(&b.1.id))
    });
    scored.into_iter().take(k).map(|(_, m)| m).collect()
}

fn normalise_word(w: &str) -> String {
    let w = w.to_lowercase();
    match w.strip_suffix('s') {
        Some(s) if s.len() >= 3 && !s.ends_with('s') => s.to_string(),
        _ => w,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scope_reads_short_forms_and_writes_the_tagged_one()
    -> std::result::Result<(), serde_json::Error> {
        let read = |t: &str| serde_json::from_str::<Scope>(t);
        assert_eq!(read("null")?, Scope::Global);
        assert_eq!(read(r#""global""#)?, Scope::Global);
        assert_eq!(read(r#"{"kind": "global"}"#)?, Scope::Global);
        let wh = Scope::Connection {
            connection: "wh".into(),
        };
        assert_eq!(read(r#"{"connection": "wh"}"#)?, wh);
        assert_eq!(read(r#"{"kind": "connection", "connection": "wh"}"#)?, wh);
        let tables = Scope::Tables {
            connection: Some("wh".into()),
            tables: vec!["orders".into()],
        };
        assert_eq!(
            read(r#"{"tables": ["orders"], "connection": "wh"}"#)?,
            tables
        );
        assert_eq!(read(&serde_json::to_string(&tables)?)?, tables);
        assert_eq!(
            read(r#"["orders"]"#)?,
            Scope::Tables {
                connection: None,
                tables: vec!["orders".into()]
            }
        );
        assert_eq!(
            serde_json::to_value(&wh)?,
            serde_json::json!({"kind": "connection", "connection": "wh"})
        );
        for bad in [
            r#""everywhere""#,
            r#"{"kind": "bogus"}"#,
            r#"{"conection": "wh"}"#,
            "3",
        ] {
            let err = read(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("scope"), "{bad}: {err}");
        }
        Ok(())
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scopes_match_connections_and_tables_case_insensitively() {
        let conns = strings(&["Warehouse", "flights"]);
        let tables = strings(&["public.Accounts", "orders"]);
        assert!(Scope::Global.matches(&[], &[]));
        let c = |n: &str| Scope::Connection {
            connection: n.into(),
        };
        assert!(c("warehouse").matches(&conns, &[]));
        assert!(!c("crm").matches(&conns, &tables));
        let t = |conn: Option<&str>, ts: &[&str]| Scope::Tables {
            connection: conn.map(str::to_string),
            tables: strings(ts),
        };
        // Bare scope names match any schema; qualified ones only their schema.
        assert!(t(None, &["accounts"]).matches(&conns, &tables));
        assert!(t(None, &["PUBLIC.accounts"]).matches(&conns, &tables));
        assert!(!t(None, &["sales.accounts"]).matches(&conns, &tables));
        assert!(t(None, &["sales.orders"]).matches(&conns, &tables));
        assert!(t(None, &["nothing", "ORDERS"]).matches(&conns, &tables));
        assert!(!t(None, &["customers"]).matches(&conns, &tables));
        assert!(!t(None, &["accounts"]).matches(&conns, &[]));
        // With a connection, both must match.
        assert!(t(Some("WAREHOUSE"), &["accounts"]).matches(&conns, &tables));
        assert!(!t(Some("crm"), &["accounts"]).matches(&conns, &tables));
    }

    #[test]
    fn builders_trim_default_status_by_source_and_refuse_empty_text() {
        let i = NewInstruction::new("  Exclude test accounts  ")
            .labels(["finance", " Finance ", "", "defs"])
            .build()
            .unwrap();
        assert_eq!(i.text, "Exclude test accounts");
        assert_eq!(i.status, InstructionStatus::Approved);
        assert_eq!(i.labels, strings(&["finance", "defs"]));
        assert_eq!(i.usage_count, 0);
        let run = Uuid::new_v4();
        let d = NewInstruction::new("x")
            .source(Origin::Agent)
            .run_id(run)
            .build()
            .unwrap();
        assert_eq!((d.status, d.run_id), (InstructionStatus::Draft, Some(run)));
        let archived = NewInstruction::new("x")
            .status(InstructionStatus::Archived)
            .build()
            .unwrap();
        assert_eq!(archived.status, InstructionStatus::Archived);

        for bad in [
            NewInstruction::new("   ").build().unwrap_err(),
            NewInstruction::new("x")
                .scope(Scope::Tables {
                    connection: None,
                    tables: vec![],
                })
                .build()
                .unwrap_err(),
            NewInstruction::new("x")
                .scope(Scope::Connection {
                    connection: " ".into(),
                })
                .build()
                .unwrap_err(),
            NewMemory::new("").build().unwrap_err(),
        ] {
            assert_eq!(bad.kind(), crate::error::ErrorKind::InvalidInput, "{bad}");
        }
        let m = NewMemory::new(" revenue means net_revenue ")
            .run_id(run)
            .build()
            .unwrap();
        assert_eq!(m.text, "revenue means net_revenue");
        assert_eq!(m.run_id, Some(run));
    }

    #[test]
    fn updates_validate_before_changing_anything() {
        let mut i = NewInstruction::new("old").build().unwrap();
        let before = i.clone();
        let err = InstructionUpdate::new()
            .text("")
            .labels(["x"])
            .apply(&mut i)
            .unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::InvalidInput);
        assert_eq!(i, before);
        InstructionUpdate::new()
            .text(" new ")
            .scope(Scope::Connection {
                connection: "crm".into(),
            })
            .labels(["a", "A", "b"])
            .apply(&mut i)
            .unwrap();
        assert_eq!(i.text, "new");
        assert_eq!(i.scope.connection(), Some("crm"));
        assert_eq!(i.labels, strings(&["a", "b"]));
        assert!(i.updated_at >= before.updated_at);
        assert_eq!(i.created_at, before.created_at);
    }

    #[test]
    fn filters_select_by_every_field() {
        let run = Uuid::new_v4();
        let a = NewInstruction::new("Exclude TEST accounts")
            .label("Finance")
            .scope(Scope::Connection {
                connection: "Warehouse".into(),
            })
            .build()
            .unwrap();
        let b = NewInstruction::new("Fiscal year starts in April")
            .source(Origin::Agent)
            .run_id(run)
            .build()
            .unwrap();
        let all = [a.clone(), b.clone()];
        let pick = |f: InstructionFilter| -> Vec<Uuid> {
            all.iter().filter(|i| f.matches(i)).map(|i| i.id).collect()
        };
        assert_eq!(pick(InstructionFilter::all()), vec![a.id, b.id]);
        assert_eq!(pick(InstructionFilter::approved()), vec![a.id]);
        assert_eq!(
            pick(InstructionFilter::all().status(InstructionStatus::Draft)),
            vec![b.id]
        );
        assert_eq!(
            pick(InstructionFilter::all().source(Origin::Agent)),
            vec![b.id]
        );
        assert_eq!(pick(InstructionFilter::all().label("finance")), vec![a.id]);
        assert_eq!(
            pick(InstructionFilter::all().connection("warehouse")),
            vec![a.id]
        );
        assert_eq!(pick(InstructionFilter::all().text("test acc")), vec![a.id]);
        assert_eq!(pick(InstructionFilter::all().run_id(run)), vec![b.id]);
        assert!(pick(InstructionFilter::all().text("nothing")).is_empty());

        let m = NewMemory::new("revenue means net_revenue")
            .label("defs")
            .run_id(run)
            .build()
            .unwrap();
        assert!(MemoryFilter::all().matches(&m));
        assert!(
            MemoryFilter::all()
                .run_id(run)
                .label("DEFS")
                .text("NET_")
                .matches(&m)
        );
        assert!(!MemoryFilter::all().source(Origin::Agent).matches(&m));
        assert!(!MemoryFilter::all().connection("x").matches(&m));
    }

    #[test]
    fn memory_search_ranks_by_shared_words() {
        let mk = |t: &str| NewMemory::new(t).build().unwrap();
        let mems = vec![
            mk("revenue means net_revenue, not gross"),
            mk("test accounts have is_test = true"),
            mk("the fiscal year starts in April"),
            mk("Net revenue is reported in EUR"),
        ];
        let found: Vec<&str> = search_memories(&mems, "What was net revenue last year?", 3)
            .iter()
            .map(|m| m.text.as_str())
            .collect();
        assert_eq!(found.len(), 3);
        assert!(found[..2].contains(&"revenue means net_revenue, not gross"));
        assert!(found[..2].contains(&"Net revenue is reported in EUR"));
        assert_eq!(found[2], "the fiscal year starts in April");
        assert_eq!(search_memories(&mems, "accounts", 5)[0].text, mems[1].text);
        assert!(search_memories(&mems, "weather", 5).is_empty());
        assert!(search_memories(&mems, "revenue", 0).is_empty());
    }

    #[test]
    fn statuses_and_origins_round_trip_as_text() {
        for s in [
            InstructionStatus::Draft,
            InstructionStatus::Approved,
            InstructionStatus::Archived,
        ] {
            assert_eq!(InstructionStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for o in [Origin::User, Origin::Agent] {
            assert_eq!(Origin::parse(o.as_str()), Some(o));
        }
        assert_eq!(InstructionStatus::parse("nope"), None);
    }
}
