//! The [`ContextHub`]: what the model is shown about the data and the team — schema, knowledge,
//! rules, memories — selected for the question and rendered within token budgets.
//!
//! For each run the hub makes a [`ContextPlan`]: it ranks every table of every connection with a
//! BM25F index over table and column names, comments and knowledge-source descriptions
//! ([`search`]), follows foreign keys from the chosen tables to their dimensions, describes the
//! chosen tables in full (with sample values), lists the rest as a compact name index, and adds
//! the approved rules and the memories in scope. Every section is counted with the model's
//! tokenizer ([`tokens`]) against its budget; [`ContextPlan::explain`] shows what was sent and
//! why. Warm sections (this run's observations, history) are kept by the agent, which cuts long
//! observations and summarises older steps to fit the window (`agent/window.rs`).
//!
//! A hub is built once ([`ContextHub::builder`]): its configuration, tokenizer, embedder and
//! knowledge resources never change afterwards. Two kinds of state change while runs go on, each
//! behind one lock: the caches (catalogs with their ranking index, and table vectors), and the
//! team's live rules, instructions and memories.
//!
//! | file | concern |
//! | --- | --- |
//! | `config.rs` | [`ContextConfig`], the budgets |
//! | `catalog.rs` | the catalog cache, [`ContextHub::describe`], [`TableDescription`] |
//! | `select.rs` | [`ContextHub::select_tables`] and its ranking |
//! | `embed.rs` | [`Embedder`] and the table-vector cache |
//! | `scope.rs` | rules, instructions and memories in scope |
//! | `knowledge.rs` | knowledge resources, [`ContextHub::search_knowledge`] |
//! | `plan.rs` | [`ContextPlan`], [`ContextPlan::explain`] |
//! | `render.rs` | the prompt's sections within their budgets |
//! | `schema_index.rs`, [`search`], [`tokens`] | the ranking index, BM25F, tokenizers |

mod catalog;
mod config;
mod embed;
mod knowledge;
mod plan;
mod render;
mod schema_index;
mod scope;
pub mod search;
mod select;
pub mod tokens;
mod visibility;

use std::sync::Arc;

use crate::connector::ConnectorRef;
use crate::error::Result;
use crate::knowledge::Resource;

pub use self::catalog::{ColumnDescription, TableDescription};
pub use self::config::ContextConfig;
pub use self::embed::Embedder;
pub use self::knowledge::KnowledgeHit;
pub use self::plan::{ContextPlan, FamilySummary, PromptSection, TableDdl, TableSelection};
pub use self::schema_index::TableFamily;

use self::catalog::CatalogCache;
use self::embed::Embeddings;
use self::knowledge::Knowledge;
use self::scope::LiveGuidance;
use self::tokens::{CharEstimate, TokenCounterRef};

/// Selects and renders what the model sees about the data and the team's rules.
///
/// Built with [`ContextHub::builder`] (or [`ContextHub::new`] for a hub with defaults):
///
/// ```
/// use std::sync::Arc;
/// use metricchat_core::context::{ContextConfig, ContextHub, tokens::BpeCounter};
///
/// let hub = ContextHub::builder()
///     .config(ContextConfig::default())
///     .rules(vec!["Amounts are in EUR.".into()])
///     .token_counter(Arc::new(BpeCounter::cl100k()))
///     .build();
/// assert_eq!(hub.rules(), vec!["Amounts are in EUR.".to_string()]);
/// assert_eq!(hub.token_counter().name(), "cl100k_base");
/// ```
#[derive(Debug)]
pub struct ContextHub {
    config: ContextConfig,
    counter: TokenCounterRef,
    knowledge: Knowledge,
    embeddings: Embeddings,
    guidance: LiveGuidance,
    catalogs: CatalogCache,
}

impl Default for ContextHub {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl ContextHub {
    /// A builder: configuration, rules, tokenizer, embedder and knowledge resources, fixed
    /// once the hub is built.
    pub fn builder() -> ContextHubBuilder {
        ContextHubBuilder::default()
    }

    /// A hub with `config` and the team's rules (always-on global rules), counting tokens with
    /// the character estimate, without embedder or knowledge resources.
    pub fn new(config: ContextConfig, rules: Vec<String>) -> Self {
        Self::builder().config(config).rules(rules).build()
    }

    /// The configuration.
    pub fn config(&self) -> &ContextConfig {
        &self.config
    }

    /// The tokenizer the budgets are counted with.
    pub fn token_counter(&self) -> TokenCounterRef {
        self.counter.clone()
    }

    /// Forgets cached catalogs (after the warehouse changed), their index and the table
    /// vectors.
    pub fn invalidate(&self) {
        if let Ok(mut g) = self.catalogs.write() {
            g.clear();
        }
        self.embeddings.clear();
    }

    /// Lists each connection's tables and columns (cached) and describes the ones most relevant
    /// to `question` with sample values.
    pub async fn prime(&self, connections: &[ConnectorRef], question: &str) -> Result<()> {
        self.plan(connections, question).await.map(|_| ())
    }

    /// Builds the context for one question: loads catalogs, selects and describes tables,
    /// picks the instructions, memories and knowledge in scope, and renders every section
    /// within its budget.
    pub async fn plan(&self, connections: &[ConnectorRef], question: &str) -> Result<ContextPlan> {
        self.plan_for(connections, question, None).await
    }

    /// [`ContextHub::plan`] as the user of `view` may see it (see
    /// [`BoundPolicy`](crate::guard::BoundPolicy)): tables they may not read vanish from the
    /// schema, the name index and knowledge; denied columns and unfiltered sample values from
    /// the descriptions.
    pub async fn plan_for(
        &self,
        connections: &[ConnectorRef],
        question: &str,
        view: Option<&crate::guard::BoundPolicy>,
    ) -> Result<ContextPlan> {
        self.plan_view(connections, question, view, true).await
    }

    /// [`ContextHub::plan_for`], with sample values only when `samples` (a data exposure
    /// other than `full` turns them off).
    pub(crate) async fn plan_view(
        &self,
        connections: &[ConnectorRef],
        question: &str,
        view: Option<&crate::guard::BoundPolicy>,
        samples: bool,
    ) -> Result<ContextPlan> {
        self.load_catalogs(connections).await?;
        let cfg = self.config.effective();
        let counter = self.token_counter();
        let qv = self.question_vector(question).await?;
        let mut first = self.select_with(question, cfg.schema_tokens, qv.as_deref());
        first.retain(|t| visibility::table_visible(view, &t.connection, &t.table));
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
        let mut tables = self.select_with(question, cfg.schema_tokens, qv.as_deref());
        tables.retain(|t| visibility::table_visible(view, &t.connection, &t.table));
        let conn_names: Vec<String> = connections.iter().map(|c| c.info().name).collect();
        Ok(self.render_plan(question, &conn_names, tables, &cfg, &counter, view, samples))
    }

    /// The plan for `question` from what is cached (no connector is called): for offline use
    /// after [`ContextHub::add_catalog`].
    pub fn plan_cached(&self, question: &str) -> ContextPlan {
        let cfg = self.config.effective();
        let counter = self.token_counter();
        let tables = self.select_tables(question, cfg.schema_tokens);
        let conns: Vec<String> = self
            .catalogs
            .read()
            .map(|g| g.iter().map(|(name, _)| name.clone()).collect())
            .unwrap_or_default();
        self.render_plan(question, &conns, tables, &cfg, &counter, None, true)
    }
}

/// Builds a [`ContextHub`]; everything set here is fixed for the hub's life.
#[derive(Debug, Default)]
#[must_use]
pub struct ContextHubBuilder {
    config: ContextConfig,
    rules: Vec<String>,
    counter: Option<TokenCounterRef>,
    embedder: Option<Arc<dyn Embedder>>,
    resources: Vec<Resource>,
}

impl ContextHubBuilder {
    /// The budgets and limits (default: [`ContextConfig::default`]).
    pub fn config(mut self, config: ContextConfig) -> Self {
        self.config = config;
        self
    }

    /// The team's plain global rules to start with (more can be added to the built hub with
    /// [`ContextHub::add_rule`]).
    pub fn rules(mut self, rules: Vec<String>) -> Self {
        self.rules = rules;
        self
    }

    /// The tokenizer the budgets are counted with (default: the character estimate; the agent
    /// sets the model's).
    pub fn token_counter(mut self, counter: TokenCounterRef) -> Self {
        self.counter = Some(counter);
        self
    }

    /// The embedder whose similarities are blended into table ranking (see [`Embedder`]).
    pub fn embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// Adds knowledge resources (dbt, LookML, Tableau…); their descriptions rank and explain
    /// the tables they describe. A resource replaces an earlier one with the same id.
    pub fn resources(mut self, resources: Vec<Resource>) -> Self {
        for r in resources {
            self.resources.retain(|x| x.id != r.id);
            self.resources.push(r);
        }
        self
    }

    /// The hub.
    pub fn build(self) -> ContextHub {
        ContextHub {
            config: self.config,
            counter: self.counter.unwrap_or_else(|| Arc::new(CharEstimate)),
            knowledge: Knowledge::new(self.resources),
            embeddings: Embeddings::new(self.embedder),
            guidance: LiveGuidance::with_rules(self.rules),
            catalogs: CatalogCache::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::{
        Capabilities, ColumnInfo, ConnectorInfo, Dialect, TableRef, TableSchema,
    };
    use crate::knowledge::{ResourceKind, ResourceSource};
    use crate::text::words;

    fn info(name: &str) -> ConnectorInfo {
        ConnectorInfo {
            name: name.into(),
            backend: "test".into(),
            dialect: Dialect::Postgres,
            capabilities: Capabilities::none(),
        }
    }

    fn schemas(n: usize) -> Vec<TableSchema> {
        (0..n)
            .map(|i| TableSchema {
                table: TableRef::qualified("s", format!("orders_{i}")),
                kind: Default::default(),
                columns: vec![ColumnInfo {
                    name: "amount".into(),
                    data_type: "text".into(),
                    nullable: true,
                    comment: None,
                }],
                comment: None,
                primary_key: Vec::new(),
                foreign_keys: Vec::new(),
                row_estimate: None,
            })
            .collect()
    }

    fn resource(id: &str, name: &str) -> Resource {
        Resource {
            id: id.into(),
            source: ResourceSource::Dbt,
            kind: ResourceKind::Model,
            name: name.into(),
            label: None,
            description: None,
            tables: Vec::new(),
            fields: Vec::new(),
            sql: None,
            related: Vec::new(),
            tags: Vec::new(),
            path: None,
            meta: Default::default(),
        }
    }

    #[test]
    fn a_table_renders_as_ddl_with_comments_samples_and_keys() {
        let d = TableDescription {
            connection: "db".into(),
            table: "planes".into(),
            kind: Default::default(),
            row_estimate: Some(3322),
            comment: Some("Planes by tail number".into()),
            columns: vec![
                ColumnDescription {
                    name: "tailnum".into(),
                    data_type: "VARCHAR".into(),
                    nullable: false,
                    comment: None,
                    samples: vec!["N10156".into(), "N102UW".into()],
                },
                ColumnDescription {
                    name: "year".into(),
                    data_type: "INT".into(),
                    nullable: true,
                    comment: Some("year the plane was manufactured".into()),
                    samples: Vec::new(),
                },
                ColumnDescription {
                    name: "maker_id".into(),
                    data_type: "INT".into(),
                    nullable: true,
                    comment: None,
                    samples: Vec::new(),
                },
            ],
            primary_key: vec!["tailnum".into()],
            foreign_keys: vec!["maker_id -> makers(id)".into()],
            notes: Vec::new(),
        };
        assert_eq!(
            d.render_ddl(10, &[]),
            "CREATE TABLE planes ( -- Planes by tail number; 3322 rows\n\
             \x20 tailnum VARCHAR, -- e.g. N10156, N102UW\n\
             \x20 year INT, -- year the plane was manufactured\n\
             \x20 maker_id INT,\n\
             \x20 PRIMARY KEY (tailnum),\n\
             \x20 FOREIGN KEY (maker_id) REFERENCES makers(id)\n\
             );\n"
        );
        // The columns left out are named, as in the compact form (keys are kept first).
        let narrow = d.render_ddl(2, &[]);
        assert!(narrow.contains("  -- … 1 more columns: year\n"), "{narrow}");
    }

    #[test]
    fn words_split_identifiers() {
        assert_eq!(words("depDelay_minutes2"), vec!["dep", "delay", "minutes2"]);
        assert_eq!(words("Which carrier?"), vec!["which", "carrier"]);
    }

    #[test]
    fn a_later_resource_replaces_one_with_the_same_id() {
        let hub = ContextHub::builder()
            .resources(vec![resource("a", "first"), resource("b", "other")])
            .resources(vec![resource("a", "second")])
            .build();
        let names: Vec<String> = hub.resources().into_iter().map(|r| r.name).collect();
        assert_eq!(names, vec!["other", "second"]);
        assert_eq!(ContextHub::default().token_counter().name(), "chars/4");
    }

    #[test]
    fn a_catalog_change_drops_the_index_and_invalidate_forgets_everything() {
        let hub = ContextHub::default();
        hub.add_catalog(info("wh"), schemas(3)).unwrap_or_default();
        assert_eq!(hub.index().map(|i| i.entries.len()).unwrap_or(0), 3);
        hub.add_catalog(info("wh2"), schemas(2)).unwrap_or_default();
        assert_eq!(hub.index().map(|i| i.entries.len()).unwrap_or(0), 5);
        hub.invalidate();
        assert!(hub.table_names("wh").is_empty());
        assert_eq!(hub.index().map(|i| i.entries.len()).unwrap_or(9), 0);
    }

    /// Readers that rank and render while writers replace catalogs and rules: with a lock taken
    /// twice on one thread, or two locks taken in opposite orders, this stops (the
    /// `render_plan` deadlock of an earlier release).
    #[test]
    fn readers_and_writers_never_deadlock() {
        let hub = Arc::new(ContextHub::default());
        hub.add_catalog(info("wh"), schemas(50)).unwrap_or_default();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let mut workers = Vec::new();
        for w in 0..4 {
            let hub = hub.clone();
            let done = done_tx.clone();
            workers.push(std::thread::spawn(move || {
                for i in 0..40 {
                    if w % 2 == 0 {
                        let plan = hub.plan_cached("amount of orders");
                        assert!(!plan.sections.is_empty());
                        let _ = hub.schema_text(None);
                        let _ = hub.search_knowledge("orders", 3);
                    } else {
                        hub.add_catalog(info(&format!("c{}", i % 3)), schemas(20))
                            .unwrap_or_default();
                        hub.add_rule(format!("rule {i}"));
                        if i % 10 == 0 {
                            hub.invalidate();
                        }
                    }
                }
                let _ = done.send(());
            }));
        }
        drop(done_tx);
        for _ in 0..4 {
            assert!(
                done_rx
                    .recv_timeout(std::time::Duration::from_secs(120))
                    .is_ok(),
                "a worker is stuck: lock-order problem in the hub"
            );
        }
        for w in workers {
            assert!(w.join().is_ok());
        }
    }
}
