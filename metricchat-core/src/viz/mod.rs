//! Chart specs: the chart type and encoding for a result, and its rendering to an ECharts option.
//!
//! [`infer_chart`] picks a [`ChartSpec`] from the shape of a result, taking what the model asked
//! for in a [`ChartHint`] where it fits the columns; [`to_echarts`] renders a spec and the data to
//! an [ECharts](https://echarts.apache.org) option object.
//!
//! ```
//! use std::sync::Arc;
//! use metricchat_core::arrow::array::{Float64Array, RecordBatch, StringArray};
//! use metricchat_core::viz::{ChartType, infer_chart, to_echarts};
//!
//! let batch = RecordBatch::try_from_iter([
//!     ("region", Arc::new(StringArray::from(vec!["EU", "US", "APAC"])) as _),
//!     ("revenue", Arc::new(Float64Array::from(vec![12.5, 30.0, 7.25])) as _),
//! ])?;
//! let spec = infer_chart(&batch.schema(), &[batch.clone()], None);
//! assert_eq!(spec.chart_type, ChartType::Bar);
//! assert!(spec.inferred);
//!
//! let option = to_echarts(&spec, &batch.schema(), &[batch], 2_000);
//! assert_eq!(option["xAxis"]["data"], serde_json::json!(["EU", "US", "APAC"]));
//! assert_eq!(option["series"][0]["data"], serde_json::json!([12.5, 30.0, 7.25]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod columns;
mod echarts;
mod format;
mod infer;
// Treemap, funnel, radar, candlestick and map (issue 16).
mod kinds;
mod shape;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

pub use echarts::to_echarts;
pub use infer::infer_chart;

/// Kinds of chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChartType {
    /// Vertical bars, one series.
    #[serde(alias = "column")]
    Bar,
    /// Bars side by side per category, one per series.
    GroupedBar,
    /// Bars stacked per category.
    StackedBar,
    /// Lines over an ordered x.
    Line,
    /// Filled lines.
    Area,
    /// Filled lines stacked.
    StackedArea,
    /// Shares of a whole.
    #[serde(alias = "donut")]
    Pie,
    /// Two numeric columns against each other.
    Scatter,
    /// A plain table.
    Table,
    /// One big number.
    #[serde(alias = "kpi", alias = "number")]
    Metric,
    /// Value by two categories.
    Heatmap,
    /// Distribution of one numeric column.
    Histogram,
    /// Shares of a whole as nested rectangles (`x` names, `y` sizes).
    Treemap,
    /// Stages narrowing down (`x` stage, `y` count), widest first.
    Funnel,
    /// Several measures (`y`) per category (`x`, the spokes) on a radar.
    Radar,
    /// Open, close, low, high (`y`, in that order) per period (`x`).
    Candlestick,
    /// Points by longitude (`x`) and latitude (`y[0]`), sized by `y[1]`, labelled by `series`:
    /// a map without a base map, for tables with coordinates.
    #[serde(alias = "geo", alias = "scatter_map")]
    Map,
}

/// What to draw and which columns go where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChartSpec {
    /// The chart type.
    pub chart_type: ChartType,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Category / x-axis column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Value columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub y: Vec<String>,
    /// Column whose values split the data into series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Whether the spec was inferred from the data shape rather than chosen by the model.
    #[serde(default)]
    pub inferred: bool,
}

impl ChartSpec {
    /// A spec of `chart_type` with no encoding, marked as inferred.
    fn inferred(chart_type: ChartType) -> Self {
        Self {
            chart_type,
            title: None,
            x: None,
            y: Vec::new(),
            series: None,
            inferred: true,
        }
    }
}

/// What the model asked for in a chart. Every field is optional; column names match the result's
/// columns case-insensitively, and names that match no column are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChartHint {
    /// Chart type; omit to infer it from the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_type: Option<ChartType>,
    /// Column for the x axis, the bar categories or the pie slices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Value column(s).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub y: Vec<String>,
    /// Column whose values split the data into series (stacks, lines, heatmap rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Chart title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// Accepts `"a"`, `["a", "b"]` or `null` for a list of column names.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(OneOrMany::One(name)) => vec![name],
        Some(OneOrMany::Many(names)) => names,
    })
}

/// A chart proposed by a run for one of its datasets: its spec and the ECharts option drawn
/// from it. Its event and store row are views of it ([`Chart::event`], [`Chart::record`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Chart {
    /// Visualization id.
    pub id: uuid::Uuid,
    /// The charted query.
    pub query_id: uuid::Uuid,
    /// Spec.
    pub spec: ChartSpec,
    /// ECharts option.
    pub echarts: serde_json::Value,
}

#[cfg(test)]
mod tests;
