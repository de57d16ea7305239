//! The [`ContextHub`]: what the model is shown — schema, rules — selected and rendered within
//! a token budget.
//!
//! Static sections (schema index, described tables, rules) are primed once per run and cached
//! across runs; warm sections (this run's observations, the last error) are kept by the agent and
//! truncated with [`truncate_observation`].

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::connector::{ConnectorInfo, ConnectorRef, TableKind, TableRef};
use crate::data;
use crate::error::{Error, Result};

/// Budgets and limits of the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ContextConfig {
    /// Tables described in full in the prompt at most; the rest appear as a name index.
    pub max_full_tables: usize,
    /// Token budget of the schema section.
    pub schema_tokens: usize,
    /// Token budget of the rules section.
    pub rules_tokens: usize,
    /// Sample values shown per column.
    pub sample_values: usize,
    /// Characters of one observation shown to the model before it is cut with a marker.
    pub observation_chars: usize,
}

impl Default for ContextConfig {
    fn default() -> Self {
        Self {
            max_full_tables: 20,
            schema_tokens: 4_000,
            rules_tokens: 800,
            sample_values: 3,
            observation_chars: 4_000,
        }
    }
}

/// Approximate token count (4 characters a token), used for budgets until a model-specific
/// tokenizer is plugged in. It over-counts code and SQL slightly, which errs on the safe side.
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
    /// Comment.
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
    /// Comment.
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
}

impl TableDescription {
    /// Compact text for prompts.
    pub fn render(&self) -> String {
        let mut out = format!("Table {}", self.table);
        if let Some(n) = self.row_estimate {
            out.push_str(&format!(" ({n} rows)"));
        }
        if self.kind == TableKind::View {
            out.push_str(" [view]");
        }
        if let Some(c) = &self.comment {
            out.push_str(&format!(" -- {c}"));
        }
        out.push('\n');
        for c in &self.columns {
            out.push_str(&format!("  {} {}", c.name, c.data_type));
            if let Some(cm) = &c.comment {
                out.push_str(&format!(" -- {cm}"));
            }
            if !c.samples.is_empty() {
                out.push_str(&format!(" (e.g. {})", c.samples.join(", ")));
            }
            out.push('\n');
        }
        if !self.primary_key.is_empty() {
            out.push_str(&format!("  primary key: {}\n", self.primary_key.join(", ")));
        }
        for fk in &self.foreign_keys {
            out.push_str(&format!("  foreign key: {fk}\n"));
        }
        out
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
}

#[derive(Debug, Clone)]
struct Catalog {
    info: ConnectorInfo,
    tables: Vec<TableRef>,
    described: BTreeMap<TableRef, TableDescription>,
}

/// Selects and renders what the model sees about the data and the team's rules.
#[derive(Debug, Default)]
pub struct ContextHub {
    config: ContextConfig,
    rules: RwLock<Vec<String>>,
    catalogs: RwLock<BTreeMap<String, Catalog>>,
}

/// Splits identifiers and text into lowercase words (snake_case, camelCase, digits).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
            cur.extend(ch.to_lowercase());
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn stem(w: &str) -> &str {
    w.strip_suffix("ies")
        .or_else(|| w.strip_suffix('s'))
        .filter(|s| s.len() >= 3)
        .unwrap_or(w)
}

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

impl ContextHub {
    /// A hub with `config` and the team's rules (approved instructions).
    pub fn new(config: ContextConfig, rules: Vec<String>) -> Self {
        Self {
            config,
            rules: RwLock::new(rules),
            catalogs: RwLock::new(BTreeMap::new()),
        }
    }

    /// The team's rules, in prompt order.
    pub fn rules(&self) -> Vec<String> {
        self.rules.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Adds a rule; runs started from now on carry it. An identical rule is not added twice.
    /// Returns whether it was added.
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

    /// Removes a rule by its text; returns whether it was there.
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

    /// The configuration.
    pub fn config(&self) -> &ContextConfig {
        &self.config
    }

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

    /// Forgets cached catalogs (after the warehouse changed).
    pub fn invalidate(&self) {
        if let Ok(mut g) = self.catalogs.write() {
            g.clear();
        }
    }

    /// Lists each connection's tables (cached) and describes the ones most relevant to
    /// `question`, so [`ContextHub::schema_text`] can render them.
    pub async fn prime(&self, connections: &[ConnectorRef], question: &str) -> Result<()> {
        for conn in connections {
            let info = conn.info();
            let cached = self.read()?.contains_key(&info.name);
            if !cached {
                let tables = conn.list_tables().await?;
                self.write()?.insert(
                    info.name.clone(),
                    Catalog {
                        info: info.clone(),
                        tables,
                        described: BTreeMap::new(),
                    },
                );
            }
        }
        let selected = self.select_tables(question, self.config.schema_tokens);
        for conn in connections {
            let name = conn.info().name;
            let wanted: Vec<String> = selected
                .iter()
                .filter(|s| s.connection == name)
                .take(self.config.max_full_tables)
                .map(|s| s.table.to_string())
                .collect();
            self.describe(conn, &wanted).await?;
        }
        Ok(())
    }

    /// Ranks tables for `question` (lexical match over table and column names, comments and
    /// sample values; foreign-key neighbours of chosen tables follow them), within
    /// `token_budget` tokens of rendered schema where descriptions are known.
    pub fn select_tables(&self, question: &str, token_budget: usize) -> Vec<TableSelection> {
        let Ok(g) = self.read() else {
            return Vec::new();
        };
        let q: HashSet<String> = words(question)
            .iter()
            .map(|w| stem(w).to_string())
            .collect();
        let mut scored: Vec<TableSelection> = Vec::new();
        for (conn, cat) in g.iter() {
            let small = cat.tables.len() <= self.config.max_full_tables;
            for t in &cat.tables {
                let mut score = 0.0;
                let mut hits = BTreeSet::new();
                for w in words(&t.name) {
                    if q.contains(stem(&w)) {
                        score += 3.0;
                        hits.insert(w);
                    }
                }
                if let Some(d) = cat.described.get(t) {
                    for c in &d.columns {
                        for w in words(&c.name) {
                            if q.contains(stem(&w)) {
                                score += 1.0;
                                hits.insert(w);
                            }
                        }
                        for s in &c.samples {
                            if q.contains(&s.to_lowercase()) {
                                score += 0.5;
                            }
                        }
                    }
                    if let Some(cm) = &d.comment {
                        for w in words(cm) {
                            if q.contains(stem(&w)) {
                                score += 0.5;
                            }
                        }
                    }
                }
                if score > 0.0 || small {
                    let reason = if hits.is_empty() {
                        "small catalog: every table is shown".to_string()
                    } else {
                        format!(
                            "matches {}",
                            hits.into_iter().collect::<Vec<_>>().join(", ")
                        )
                    };
                    scored.push(TableSelection {
                        connection: conn.clone(),
                        table: t.clone(),
                        score,
                        reason,
                    });
                }
            }
        }
        scored.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.table.cmp(&b.table)));
        // Foreign-key neighbours follow their table.
        let mut out: Vec<TableSelection> = Vec::new();
        for s in scored {
            if out
                .iter()
                .any(|o| o.table == s.table && o.connection == s.connection)
            {
                continue;
            }
            let fks: Vec<TableRef> = g
                .get(&s.connection)
                .and_then(|c| c.described.get(&s.table))
                .map(|d| {
                    d.foreign_keys
                        .iter()
                        .filter_map(|fk| fk.split("-> ").nth(1))
                        .map(|t| TableRef::parse(t.split('(').next().unwrap_or(t).trim()))
                        .collect()
                })
                .unwrap_or_default();
            let conn = s.connection.clone();
            let score = s.score;
            out.push(s);
            for t in fks {
                if !out.iter().any(|o| o.table == t && o.connection == conn) {
                    out.push(TableSelection {
                        connection: conn.clone(),
                        table: t,
                        score: score / 2.0,
                        reason: "joined by a foreign key".into(),
                    });
                }
            }
        }
        // Budget: keep tables while their rendered descriptions fit.
        let mut used = 0;
        out.retain(|s| {
            let cost = g
                .get(&s.connection)
                .and_then(|c| c.described.get(&s.table))
                .map_or(50, |d| estimate_tokens(&d.render()));
            used += cost;
            used <= token_budget || cost == 0
        });
        out
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
                        described: BTreeMap::new(),
                    },
                );
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
            let d = match cached {
                Some(d) => d,
                None => {
                    let d = self.load_description(conn, &info, &t).await?;
                    if let Some(c) = self.write()?.get_mut(&info.name) {
                        c.described.insert(t.clone(), d.clone());
                    }
                    d
                }
            };
            found.push(d);
        }
        Ok((found, missing))
    }

    async fn load_description(
        &self,
        conn: &ConnectorRef,
        info: &ConnectorInfo,
        t: &TableRef,
    ) -> Result<TableDescription> {
        let schema = conn.table_schema(t).await?;
        let samples = if self.config.sample_values > 0 {
            conn.sample(t, 200).await.ok()
        } else {
            None
        };
        let sample_rows = samples
            .as_ref()
            .and_then(|s| data::batches_to_json_rows(&s.batches, 200).ok())
            .unwrap_or_default();
        let columns = schema
            .columns
            .iter()
            .map(|c| {
                let mut vals: Vec<String> = Vec::new();
                // Sample values earn their tokens on text and time columns (codes, spellings,
                // formats); numbers are better learned with inspect_data.
                if is_numeric_type(&c.data_type) {
                    return ColumnDescription {
                        name: c.name.clone(),
                        data_type: c.data_type.clone(),
                        nullable: c.nullable,
                        comment: c.comment.clone(),
                        samples: Vec::new(),
                    };
                }
                for row in &sample_rows {
                    if vals.len() >= self.config.sample_values {
                        break;
                    }
                    let v = match row.get(&c.name) {
                        Some(serde_json::Value::String(s)) => s.chars().take(40).collect(),
                        Some(serde_json::Value::Bool(b)) => b.to_string(),
                        _ => continue,
                    };
                    if !vals.contains(&v) {
                        vals.push(v);
                    }
                }
                ColumnDescription {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                    nullable: c.nullable,
                    comment: c.comment.clone(),
                    samples: vals,
                }
            })
            .collect();
        Ok(TableDescription {
            connection: info.name.clone(),
            table: t.to_string(),
            kind: schema.kind,
            row_estimate: schema.row_estimate,
            comment: schema.comment,
            columns,
            primary_key: schema.primary_key,
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
        })
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

    /// The schema section: described tables in full (within the budget), then a compact name
    /// index of the rest. `None` renders every connection.
    pub fn schema_text(&self, connection: Option<&str>) -> String {
        let Ok(g) = self.read() else {
            return String::new();
        };
        let mut out = String::new();
        let mut used = 0;
        for (name, cat) in g.iter() {
            if connection.is_some_and(|c| !c.eq_ignore_ascii_case(name)) {
                continue;
            }
            if g.len() > 1 || connection.is_none() {
                out.push_str(&format!(
                    "Connection `{name}` ({} dialect):\n",
                    cat.info.dialect.display_name()
                ));
            }
            let mut rest = Vec::new();
            for t in &cat.tables {
                match cat.described.get(t) {
                    Some(d) => {
                        let text = d.render();
                        let cost = estimate_tokens(&text);
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
                for (i, r) in rest.iter().enumerate() {
                    let piece = if i == 0 { r.clone() } else { format!(", {r}") };
                    if used + estimate_tokens(&index) + estimate_tokens(&piece)
                        > self.config.schema_tokens + 500
                    {
                        index.push_str(&format!(", … and {} more", rest.len() - i));
                        break;
                    }
                    index.push_str(&piece);
                }
                used += estimate_tokens(&index);
                out.push_str(&index);
                out.push('\n');
            }
        }
        out
    }

    /// The rules section (empty when there are none), within its budget.
    pub fn rules_text(&self) -> String {
        let rules = self.rules();
        if rules.is_empty() {
            return String::new();
        }
        let mut out = String::from("Rules of this team (always follow):\n");
        for r in &rules {
            let line = format!("- {}\n", r.trim());
            if estimate_tokens(&out) + estimate_tokens(&line) > self.config.rules_tokens {
                break;
            }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_identifiers() {
        assert_eq!(words("depDelay_minutes2"), vec!["dep", "delay", "minutes2"]);
        assert_eq!(words("Which carrier?"), vec!["which", "carrier"]);
        assert_eq!(stem("carriers"), "carrier");
        assert_eq!(stem("airlines"), "airline");
    }

    #[test]
    fn truncation_marks_what_was_cut() {
        let t = truncate_observation(&"x".repeat(100), 10);
        assert!(t.starts_with("xxxxxxxxxx…"));
        assert!(t.contains("truncated 90 of 100"));
        assert_eq!(truncate_observation("short", 10), "short");
    }
}
