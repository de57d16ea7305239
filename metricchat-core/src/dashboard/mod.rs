//! Dashboards: saved, re-runnable analyses that people open as pages.
//!
//! A [`Dashboard`] is data: a title, a description, [`Parameter`]s the host or viewer sets, and
//! [`Block`]s in grid order (each `width` columns of 12). Blocks are charts, tables and KPI cards
//! over a SQL query, Markdown text and section headings. It reads and writes as JSON (unknown
//! fields are refused, naming the block), is stored versioned in every [`Store`]
//! ([`Store::put_dashboard`]) and is refreshed with [`Dashboard::refresh`]: every block's query
//! runs concurrently through the agent's [`SqlGuard`](crate::guard::SqlGuard) on its
//! connection, parameters bound as typed literals, and each block keeps its own result or error
//! with the time it was refreshed. [`Dashboard::to_html`] renders one self-contained page
//! (ECharts inlined, no network), [`Dashboard::to_json`] the same for host UIs.
//!
//! ```no_run
//! # async fn demo(agent: metricchat_core::Agent, run_id: uuid::Uuid) -> Result<(), Box<dyn std::error::Error>> {
//! let mut dashboard = agent.dashboard_from_run(run_id).await?;
//! dashboard.set_parameter("carrier", serde_json::json!("UA"))?;
//! dashboard.refresh(&agent).await;
//! agent.store().put_dashboard(&dashboard).await?;
//! std::fs::write("flights.html", dashboard.to_html())?;
//! # Ok(()) }
//! ```
//!
//! [`Store`]: crate::store::Store
//! [`Store::put_dashboard`]: crate::store::Store::put_dashboard

pub(crate) mod build;
mod html;
mod params;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, ErrorKind, Result};
use crate::viz::ChartHint;

pub use params::bind_parameters;

/// Grid columns of a dashboard row: a block's `width` is out of this many.
pub const GRID_COLUMNS: u8 = 12;

/// Rows of a block's result kept in the dashboard (for its table, the page and CSV download).
pub const MAX_BLOCK_ROWS: usize = 500;

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefreshSummary {
    /// Blocks with a query that ran.
    pub refreshed: usize,
    /// Blocks whose query failed (each carries its error).
    pub failed: usize,
    /// Wall time of the whole refresh.
    pub duration_ms: u64,
}

/// A dashboard: title, description, parameters and blocks in grid order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// Id (stable across versions).
    #[serde(default = "Uuid::now_v7")]
    pub id: Uuid,
    /// Version, set by the store when saved (0 before the first save).
    #[serde(default)]
    pub version: u32,
    /// Title.
    pub title: String,
    /// What it shows, for whom (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Values the host or viewer sets, bound into the blocks' SQL as `:name` placeholders.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// Blocks, in reading order: the grid fills left to right, top to bottom.
    pub blocks: Vec<Block>,
    /// The run it was built from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    /// When the last refresh finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// One block of a dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// Id, unique in the dashboard; errors name it.
    pub id: String,
    /// Title shown above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Grid columns it spans, 1 to 12 (default 6: two blocks per row; phones show one).
    #[serde(default = "default_width")]
    pub width: u8,
    /// What it shows.
    pub content: BlockContent,
    /// The last refresh's outcome (none before the first refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub result: Option<BlockResult>,
}

fn default_width() -> u8 {
    6
}

/// What a block shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BlockContent {
    /// A chart over a query's result.
    Chart {
        /// The query.
        query: BlockQuery,
        /// Chart type and columns; what is omitted is inferred from the data.
        #[serde(default)]
        chart: ChartHint,
    },
    /// A sortable table of a query's result.
    Table {
        /// The query.
        query: BlockQuery,
    },
    /// One number with its change against the previous period and a sparkline.
    ///
    /// The query returns rows in time order: the last row's `value` is the number, the row
    /// before it the previous period (or the `previous` column of the last row), and all rows
    /// draw the sparkline.
    Kpi {
        /// The query.
        query: BlockQuery,
        /// The value column (default: the last numeric column).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
        /// A column holding the previous period's value (default: the row before the last).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<String>,
        /// Unit shown after the number (`min`, `%`, `$`…).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    /// Markdown text.
    Text {
        /// The Markdown.
        markdown: String,
    },
    /// A section heading that starts a new grid row.
    Heading {
        /// The heading.
        text: String,
    },
}

/// Where a block's data comes from: SQL on a connection, or a stored query by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockQuery {
    /// Connection name (default: the agent's first connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Read-only SQL; `:name` placeholders take the dashboard's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// A stored query (see [`crate::store::Store::get_query`]) whose SQL and connection are
    /// used when `sql` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub query_id: Option<Uuid>,
    /// A result of the run building the dashboard, by its title: the `create_dashboard` tool
    /// replaces it with that result's SQL and connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// A value the host or viewer sets, bound into blocks' SQL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// Name: `:name` in SQL (a date range binds `:name_start` and `:name_end`).
    pub name: String,
    /// Label shown to the viewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Type; values are checked against it.
    #[serde(rename = "type")]
    pub kind: ParameterType,
    /// The current value (`null` until set): a string for `text`, a number for `number` and
    /// `integer`, `"YYYY-MM-DD"` for `date`, `{"start": …, "end": …}` for `date_range`.
    #[serde(default)]
    pub value: serde_json::Value,
}

/// The type of a [`Parameter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterType {
    /// A dimension value, such as a carrier code.
    Text,
    /// A number.
    Number,
    /// A whole number.
    Integer,
    /// A calendar date.
    Date,
    /// Two dates, `start` and `end` (inclusive as the SQL uses them).
    DateRange,
}

/// The outcome of a block's last refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockResult {
    /// When the refresh of this block finished.
    pub refreshed_at: DateTime<Utc>,
    /// How long its query took.
    pub duration_ms: u64,
    /// The error, when the block failed (its data is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The SQL that ran (after binding and the guard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// Column names.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Rows (at most [`MAX_BLOCK_ROWS`]), values as JSON.
    #[serde(default)]
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Rows the query returned.
    #[serde(default)]
    pub row_count: usize,
    /// Whether rows were cut (by the guard's row cap or [`MAX_BLOCK_ROWS`]).
    #[serde(default)]
    pub truncated: bool,
    /// The chart's ECharts option (chart blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echarts: Option<serde_json::Value>,
    /// The KPI (KPI blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpi: Option<Kpi>,
}

/// A KPI card's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kpi {
    /// The value column.
    pub label: String,
    /// The value (last row).
    pub value: Option<f64>,
    /// The previous period's value.
    #[serde(default)]
    pub previous: Option<f64>,
    /// `value - previous`.
    #[serde(default)]
    pub delta: Option<f64>,
    /// `delta / |previous|`, when `previous` is not zero.
    #[serde(default)]
    pub delta_ratio: Option<f64>,
    /// Every row's value in order, for the sparkline.
    #[serde(default)]
    pub sparkline: Vec<Option<f64>>,
    /// Unit shown after the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl BlockContent {
    /// The block's query, for the kinds that have one.
    pub fn query(&self) -> Option<&BlockQuery> {
        match self {
            BlockContent::Chart { query, .. }
            | BlockContent::Table { query }
            | BlockContent::Kpi { query, .. } => Some(query),
            BlockContent::Text { .. } | BlockContent::Heading { .. } => None,
        }
    }

    /// The kind's name as in JSON (`chart`, `table`, `kpi`, `text`, `heading`).
    pub fn kind(&self) -> &'static str {
        match self {
            BlockContent::Chart { .. } => "chart",
            BlockContent::Table { .. } => "table",
            BlockContent::Kpi { .. } => "kpi",
            BlockContent::Text { .. } => "text",
            BlockContent::Heading { .. } => "heading",
        }
    }
}

/// [`Error::Dashboard`] about `block` (or the whole dashboard).
pub(crate) fn invalid(block: Option<&str>, message: impl Into<String>) -> Error {
    Error::Dashboard {
        block: block.map(str::to_string),
        message: message.into(),
        kind: ErrorKind::InvalidInput,
    }
}

impl Dashboard {
    /// An empty dashboard titled `title`.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            id: Uuid::now_v7(),
            version: 0,
            title: title.into(),
            description: None,
            parameters: Vec::new(),
            blocks: Vec::new(),
            run_id: None,
            refreshed_at: None,
        }
    }

    /// Reads a dashboard from JSON and [validates](Self::validate) it.
    ///
    /// An unknown field, a missing one or a wrong type is [`Error::Dashboard`] naming the
    /// block it is in (blocks are read one by one for that).
    pub fn from_json(json: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| invalid(None, format!("not JSON: {e}")))?;
        Self::from_value(value)
    }

    /// [`from_json`](Self::from_json) from a parsed JSON value.
    pub fn from_value(mut value: serde_json::Value) -> Result<Self> {
        // Blocks first, one by one, so an error names its block.
        let blocks = match value.as_object_mut().and_then(|o| o.remove("blocks")) {
            Some(serde_json::Value::Array(items)) => items,
            Some(_) => return Err(invalid(None, "`blocks` must be a list")),
            None => return Err(invalid(None, "missing field `blocks`")),
        };
        let mut parsed = Vec::with_capacity(blocks.len());
        for (i, item) in blocks.into_iter().enumerate() {
            let name = item
                .get("id")
                .and_then(|v| v.as_str())
                .map_or_else(|| format!("#{}", i + 1), str::to_string);
            let block: Block =
                serde_json::from_value(item).map_err(|e| invalid(Some(&name), e.to_string()))?;
            parsed.push(block);
        }
        if let Some(o) = value.as_object_mut() {
            o.insert("blocks".into(), serde_json::Value::Array(Vec::new()));
        }
        let mut dashboard: Dashboard =
            serde_json::from_value(value).map_err(|e| invalid(None, e.to_string()))?;
        dashboard.blocks = parsed;
        dashboard.validate()?;
        Ok(dashboard)
    }

    /// Checks what can be checked without a database: a title, unique non-empty block ids,
    /// widths of 1 to 12, a query with `sql` or `query_id` on every data block, unique
    /// parameter names with values of their type, and every `:placeholder` in a block's SQL
    /// bound by a parameter.
    pub fn validate(&self) -> Result<()> {
        if self.title.trim().is_empty() {
            return Err(invalid(None, "the title is empty"));
        }
        params::validate_parameters(&self.parameters)?;
        let mut seen: Vec<&str> = Vec::new();
        for b in &self.blocks {
            let id = b.id.as_str();
            if id.trim().is_empty() {
                return Err(invalid(None, "a block has an empty id"));
            }
            if seen.contains(&id) {
                return Err(invalid(
                    Some(id),
                    "two blocks have this id; ids must be unique",
                ));
            }
            seen.push(id);
            if b.width == 0 || b.width > GRID_COLUMNS {
                return Err(invalid(
                    Some(id),
                    format!("width {} is not 1 to {GRID_COLUMNS}", b.width),
                ));
            }
            if let Some(q) = b.content.query() {
                match (&q.sql, q.query_id, &q.result) {
                    (Some(sql), _, _) if !sql.trim().is_empty() => {
                        params::placeholders_bound(id, sql, &self.parameters)?;
                    }
                    (_, Some(_), _) | (_, _, Some(_)) => {}
                    _ => {
                        return Err(invalid(
                            Some(id),
                            "its query has neither `sql` nor `query_id`",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Sets parameter `name` to `value`, checked against its type ([`Error::Dashboard`] naming
    /// the parameter otherwise, [`ErrorKind::NotFound`] for an unknown name).
    pub fn set_parameter(&mut self, name: &str, value: serde_json::Value) -> Result<()> {
        let Some(p) = self.parameters.iter_mut().find(|p| p.name == name) else {
            return Err(Error::Dashboard {
                block: None,
                message: format!("no parameter named `{name}`"),
                kind: ErrorKind::NotFound,
            });
        };
        params::check_value(p.kind, &p.name, &value)?;
        p.value = value;
        Ok(())
    }

    /// Appends `other`'s blocks after a section heading of its title (block ids made unique by
    /// a suffix), and its parameters whose names are not taken here.
    pub fn append(&mut self, other: Dashboard) {
        let heading = build::block_id(&format!("section {}", other.title), &self.blocks);
        self.blocks.push(Block {
            id: heading,
            title: None,
            width: GRID_COLUMNS,
            content: BlockContent::Heading { text: other.title },
            result: None,
        });
        for mut b in other.blocks {
            if self.blocks.iter().any(|x| x.id == b.id) {
                b.id = build::block_id(&b.id, &self.blocks);
            }
            self.blocks.push(b);
        }
        for p in other.parameters {
            if !self.parameters.iter().any(|q| q.name == p.name) {
                self.parameters.push(p);
            }
        }
    }

    /// The block with `id`.
    pub fn block(&self, id: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.id == id)
    }

    /// The whole dashboard as JSON, results included: what host UIs render and what
    /// [`from_json`](Self::from_json) reads back.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// One self-contained HTML page: ECharts inlined, the data embedded, no network access
    /// when viewed; a responsive grid, light and dark, sortable tables, a CSV download per
    /// block, errors shown in their blocks.
    pub fn to_html(&self) -> String {
        html::render(self)
    }
}

#[cfg(test)]
mod tests;
