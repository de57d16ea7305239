//! Rendering: the prompt's sections for a [`ContextPlan`] within their budgets, and the
//! question-independent texts tools fall back on (`schema_text`, `rules_text`,
//! `connections_text`).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::ContextHub;
use super::catalog::TableDescription;
use super::config::ContextConfig;
use super::knowledge::render_resource;
use super::plan::{ContextPlan, PromptSection, TableSelection};
use super::schema_index::TableFamily;
use super::search::{FieldSpec, TextIndex};
use super::tokens::TokenCounterRef;
use crate::connector::TableRef;
use crate::instructions::Memory;

impl ContextHub {
    /// Renders every section of the plan for `question` over `connections` with the chosen
    /// `tables`. Takes the catalogs' read lock once, after the index (building the index takes
    /// the same lock), and no other lock while holding it.
    // One internal caller per public entry point; a parameter struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn render_plan(
        &self,
        question: &str,
        connections: &[String],
        tables: Vec<TableSelection>,
        cfg: &ContextConfig,
        counter: &TokenCounterRef,
        view: Option<&crate::guard::BoundPolicy>,
        samples: bool,
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
        let mut ddl: Vec<super::plan::TableDdl> = Vec::new();
        let mut index_text = String::new();
        let mut index_items = 0;
        let mut index_omitted = 0;
        let mut index_used = 0;
        // Taken before the catalogs' read guard: building the index reads the catalogs, and a
        // second read of a std `RwLock` on one thread deadlocks once a writer is queued.
        let idx = self.index().ok();
        let g = self.catalogs.read().ok();
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
                if let Some(mut d) = cat.description(conn, &t.table) {
                    self.knowledge.annotate(&mut d, &t.table);
                    super::visibility::redact(view, &mut d);
                    if !samples {
                        super::visibility::drop_samples(&mut d);
                    }
                    let family = t.family.as_ref().map(|f| TableFamily {
                        pattern: f.pattern.clone(),
                        members: f.tables.clone(),
                    });
                    schema.push_str(&render_selected(
                        &d,
                        family.as_ref(),
                        cfg.max_columns_per_table,
                        &t.columns,
                    ));
                    let mut text = d.render_ddl(cfg.max_columns_per_table, &t.columns);
                    if let Some(f) = &family {
                        text.push_str(&format!("-- {}\n", family_note(f)));
                    }
                    ddl.push(super::plan::TableDdl {
                        connection: conn.clone(),
                        table: d.table.clone(),
                        ddl: text,
                    });
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
                if chosen_set.contains(t) || !super::visibility::table_visible(view, conn, t) {
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
        let chosen: Vec<TableRef> = tables.iter().map(|t| t.table.clone()).collect();
        let mut used = 0;
        for r in self.knowledge.definitions_for(&chosen) {
            if let Some(v) = view {
                let fields: Vec<String> = r.fields.iter().map(|f| f.name.clone()).collect();
                let text = format!("{} {}", fields.join(" "), r.sql.as_deref().unwrap_or(""));
                if super::visibility::hidden_in(v, &r.tables, &text) {
                    k_omitted += 1;
                    continue;
                }
            }
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
        let memories: Vec<Memory> = self.guidance.memories_in_scope(connections, &table_names);
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
            ddl,
        }
    }

    /// Every described table (within the schema budget), then a name index of the rest —
    /// independent of any question. `None` renders every connection. Runs use
    /// [`ContextHub::plan`], which picks the tables for the question.
    pub fn schema_text(&self, connection: Option<&str>) -> String {
        let Ok(g) = self.catalogs.read() else {
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
        self.catalogs
            .read()
            .map(|g| {
                g.iter()
                    .map(|(_, c)| {
                        format!("- {} ({})\n", c.info.name, c.info.dialect.display_name())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// [`ContextHub::connections_text`] for the connections named, in that order.
    pub(super) fn connections_text_for(&self, names: &[String]) -> String {
        self.catalogs
            .read()
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

/// A chosen table as the prompt shows it: its focused description, and for a family the
/// line that says which tables it stands for.
pub(super) fn render_selected(
    d: &TableDescription,
    family: Option<&TableFamily>,
    max_columns: usize,
    focus: &[String],
) -> String {
    let mut text = d.render_focused(max_columns, focus);
    if let Some(f) = family {
        let _ = writeln!(text, "  ({})", family_note(f));
    }
    text
}

/// What a family's one shown table stands for.
fn family_note(f: &TableFamily) -> String {
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
    format!(
        "one of {} tables {} with these columns, {first} … {last}; query the ones the \
         question needs, or UNION them",
        f.members.len(),
        f.pattern
    )
}
