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

use std::collections::{HashMap, HashSet};

use arrow::array::{Array, ArrayRef, AsArray, new_empty_array};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use arrow::record_batch::RecordBatch;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use crate::data::{array_to_json, json_to_label};

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
}

/// What to draw and which columns go where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// Bars drawn at most before a bar chart becomes a table.
const MAX_BARS: usize = 50;
/// Series values shown as a legend at most before two categories become a heatmap.
const MAX_LEGEND: usize = 10;
/// Rows a single numeric column needs before it is drawn as a histogram.
const HISTOGRAM_MIN_ROWS: usize = 20;
/// Bins of a histogram.
const HISTOGRAM_BINS: usize = 20;
/// [`HISTOGRAM_BINS`] as a float.
const HISTOGRAM_BINS_F64: f64 = 20.0;
/// Series drawn at most in one chart; further series values are dropped.
const MAX_SERIES: usize = 50;

/// Picks a chart for a result.
///
/// Without a chart type in `hint`, the type comes from the data shape (and the spec is marked
/// `inferred`):
///
/// | Shape | Chart |
/// |---|---|
/// | no rows | table |
/// | 1 row × 1 numeric column | metric |
/// | a date/time or time-like column (`month`, `year`, `"2024-01"` …) + numbers | line (series from one more category) |
/// | 1 category + 1 number, ≤ 50 rows | bar |
/// | 1 category + several numbers, ≤ 50 rows | grouped bar |
/// | 2 categories, one unique per row (code + name) + numbers | bar (grouped bar) over the unique one |
/// | 2 categories + number | stacked bar, the category with fewer values as series; heatmap when both have more than 10 values |
/// | 2 numeric columns only | scatter |
/// | 1 numeric column, ≥ 20 rows | histogram |
/// | anything else | table |
///
/// Integer columns named like ids (`id`, `store_id`) count as categories, integer columns named
/// like periods (`year`, `month`) as time. Pie and area charts are only drawn when asked for.
///
/// With a chart type in `hint`, that type is kept and missing columns are filled from the data;
/// if the columns cannot make that chart (say, a scatter without two numeric columns), the
/// inferred spec is returned instead. Hinted columns without a type steer the inferred chart.
pub fn infer_chart(
    schema: &Schema,
    batches: &[RecordBatch],
    hint: Option<&ChartHint>,
) -> ChartSpec {
    let shape = Shape::new(schema, batches);
    let Some(hint) = hint else {
        return infer(&shape);
    };
    let mut spec = from_hint(&shape, hint);
    if let Some(title) = hint
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        spec.title = Some(title.to_owned());
    }
    spec
}

/// What a column can play in a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A number to plot.
    Measure,
    /// A date, time, or period-like label: an ordered x.
    Time,
    /// A label: bars, slices, series.
    Category,
    /// Nested, binary and other values charts do not use.
    Other,
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    numeric: bool,
    role: Role,
    distinct: usize,
}

#[derive(Debug, Clone)]
struct Shape {
    columns: Vec<Column>,
    rows: usize,
}

impl Shape {
    fn new(schema: &Schema, batches: &[RecordBatch]) -> Self {
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        let columns = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let labels = match classify_type(field) {
                    Role::Measure | Role::Other => None,
                    _ => concat_column(field, i, batches).map(|array| labels(&array)),
                };
                let role = classify(field, labels.as_deref());
                let distinct = labels
                    .map(|l| l.into_iter().collect::<HashSet<_>>().len())
                    .unwrap_or(rows);
                Column {
                    name: field.name().clone(),
                    numeric: field.data_type().is_numeric(),
                    role,
                    distinct,
                }
            })
            .collect();
        Self { columns, rows }
    }

    /// Index of the column named `name`: an exact match first, then case-insensitively.
    fn find(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        self.columns
            .iter()
            .position(|c| c.name == name)
            .or_else(|| {
                self.columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))
            })
    }

    fn with_role(&self, role: Role) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&i| self.columns[i].role == role)
            .collect()
    }

    /// The first column with one of `roles` (in that order of preference) not in `except`.
    fn first(&self, roles: &[Role], except: &[usize]) -> Option<usize> {
        roles.iter().find_map(|role| {
            (0..self.columns.len()).find(|i| self.columns[*i].role == *role && !except.contains(i))
        })
    }

    /// Measures not in `except`, or failing that any numeric columns not in `except`.
    fn measures_except(&self, except: &[usize]) -> Vec<usize> {
        let measures: Vec<usize> = self
            .with_role(Role::Measure)
            .into_iter()
            .filter(|i| !except.contains(i))
            .collect();
        if !measures.is_empty() {
            return measures;
        }
        (0..self.columns.len())
            .filter(|i| self.columns[*i].numeric && !except.contains(i))
            .collect()
    }

    /// The shape of only the columns `keep`.
    fn project(&self, keep: &[usize]) -> Self {
        Self {
            columns: keep.iter().map(|&i| self.columns[i].clone()).collect(),
            rows: self.rows,
        }
    }

    fn name(&self, i: usize) -> String {
        self.columns[i].name.clone()
    }

    fn spec(
        &self,
        chart_type: ChartType,
        x: Option<usize>,
        y: &[usize],
        series: Option<usize>,
    ) -> ChartSpec {
        ChartSpec {
            x: x.map(|i| self.name(i)),
            y: y.iter().map(|&i| self.name(i)).collect(),
            series: series.map(|i| self.name(i)),
            ..ChartSpec::inferred(chart_type)
        }
    }
}

/// The role a column's type alone gives it.
fn classify_type(field: &Field) -> Role {
    match field.data_type() {
        t if t.is_integer() => {
            let name = field.name();
            if id_like(name) {
                Role::Category
            } else if period_like(name) {
                Role::Time
            } else {
                Role::Measure
            }
        }
        t if t.is_numeric() => Role::Measure,
        t if is_temporal(t) => Role::Time,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => {
            Role::Category
        }
        DataType::Dictionary(_, value) if is_string(value) => Role::Category,
        _ => Role::Other,
    }
}

/// The role of a column, looking at its values' labels for string columns.
fn classify(field: &Field, labels: Option<&[String]>) -> Role {
    let role = classify_type(field);
    if role != Role::Category || field.data_type().is_integer() {
        return role;
    }
    let iso_values = labels.is_some_and(|labels| {
        let mut values = labels.iter().filter(|l| *l != "(null)").take(50).peekable();
        values.peek().is_some() && values.all(|l| iso_like(l))
    });
    if iso_values || time_like(field.name()) {
        Role::Time
    } else {
        role
    }
}

fn is_temporal(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(..)
            | DataType::Time32(_)
            | DataType::Time64(_)
    )
}

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Lowercase words of a column name, split at `_`, spaces, digits boundaries and camelCase.
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

const AGGREGATE_WORDS: &[&str] = &[
    "avg", "average", "sum", "total", "count", "cnt", "num", "mean", "min", "max", "pct", "n",
];

/// Integer names that read as a period: `year`, `order_month`, `yyyymm`.
fn period_like(name: &str) -> bool {
    const PERIOD_WORDS: &[&str] = &[
        "year", "yr", "month", "quarter", "qtr", "week", "wk", "day", "date", "hour", "period",
        "yyyymm", "yyyymmdd", "ym",
    ];
    let words = name_words(name);
    !words.iter().any(|w| AGGREGATE_WORDS.contains(&w.as_str()))
        && words.iter().any(|w| PERIOD_WORDS.contains(&w.as_str()))
}

/// String names that read as a date or time: the period words plus `time`, `ts`, `datetime`.
fn time_like(name: &str) -> bool {
    const TIME_WORDS: &[&str] = &["time", "ts", "timestamp", "datetime", "dt", "minute"];
    period_like(name)
        || name_words(name)
            .iter()
            .any(|w| TIME_WORDS.contains(&w.as_str()))
}

/// Integer names that read as an identifier: `id`, `store_id`, `customerId`.
fn id_like(name: &str) -> bool {
    name_words(name)
        .last()
        .is_some_and(|w| matches!(w.as_str(), "id" | "key" | "code"))
}

/// Values like `2024`, `2024-01`, `2024-01-31…`, `2024-Q1`, `2024-W05`, `2024/01`.
fn iso_like(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() < 4 || !bytes[..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    match bytes.get(4..6) {
        None => bytes.len() == 4,
        Some([sep, next]) => {
            matches!(sep, b'-' | b'/')
                && (next.is_ascii_digit() || matches!(next, b'Q' | b'q' | b'W' | b'w'))
        }
        Some(_) => false,
    }
}

/// The spec the data shape suggests (see [`infer_chart`]).
fn infer(shape: &Shape) -> ChartSpec {
    let table = ChartSpec::inferred(ChartType::Table);
    if shape.rows == 0 || shape.columns.is_empty() {
        return table;
    }
    let measures = shape.with_role(Role::Measure);
    let times = shape.with_role(Role::Time);
    let categories = shape.with_role(Role::Category);
    if shape.rows == 1 && shape.columns.len() == 1 && measures.len() == 1 {
        return shape.spec(ChartType::Metric, None, &measures, None);
    }
    if measures.is_empty() {
        return table;
    }
    if !times.is_empty() {
        // The time column with the most values is the x; one more label column splits series.
        let mut x = times[0];
        for &t in &times {
            if shape.columns[t].distinct > shape.columns[x].distinct {
                x = t;
            }
        }
        let rest: Vec<usize> = times
            .iter()
            .chain(&categories)
            .copied()
            .filter(|&i| i != x)
            .collect();
        return match rest.as_slice() {
            [] => shape.spec(ChartType::Line, Some(x), &measures, None),
            [series] => shape.spec(ChartType::Line, Some(x), &measures[..1], Some(*series)),
            _ => table,
        };
    }
    let others = shape.columns.len() - measures.len() - categories.len();
    match (categories.as_slice(), measures.len()) {
        ([x], 1) if shape.rows <= MAX_BARS => shape.spec(ChartType::Bar, Some(*x), &measures, None),
        ([x], _) if shape.rows <= MAX_BARS => {
            shape.spec(ChartType::GroupedBar, Some(*x), &measures, None)
        }
        // Two labels where one already names each row (code + name): bars over the name.
        ([a, b], _)
            if shape.rows <= MAX_BARS
                && (shape.columns[*a].distinct == shape.rows
                    || shape.columns[*b].distinct == shape.rows) =>
        {
            let x = if shape.columns[*b].distinct == shape.rows {
                *b
            } else {
                *a
            };
            if measures.len() == 1 {
                shape.spec(ChartType::Bar, Some(x), &measures, None)
            } else {
                shape.spec(ChartType::GroupedBar, Some(x), &measures, None)
            }
        }
        ([a, b], _) => {
            let (x, series) = if shape.columns[*b].distinct > shape.columns[*a].distinct {
                (*b, *a)
            } else {
                (*a, *b)
            };
            let y = &measures[..1];
            if shape.columns[series].distinct > MAX_LEGEND {
                shape.spec(ChartType::Heatmap, Some(x), y, Some(series))
            } else if shape.columns[x].distinct <= MAX_BARS {
                shape.spec(ChartType::StackedBar, Some(x), y, Some(series))
            } else {
                table
            }
        }
        ([], 2) if others == 0 && shape.rows >= 2 => {
            shape.spec(ChartType::Scatter, Some(measures[0]), &measures[1..], None)
        }
        ([], 1) if shape.columns.len() == 1 && shape.rows >= HISTOGRAM_MIN_ROWS => {
            shape.spec(ChartType::Histogram, None, &measures, None)
        }
        _ => table,
    }
}

/// The spec for a hint: its type filled from the data, or the inferred spec steered by its
/// columns.
fn from_hint(shape: &Shape, hint: &ChartHint) -> ChartSpec {
    let x = hint.x.as_deref().and_then(|n| shape.find(n));
    let series = hint.series.as_deref().and_then(|n| shape.find(n));
    let mut y = Vec::new();
    for i in hint.y.iter().filter_map(|n| shape.find(n)) {
        if !y.contains(&i) {
            y.push(i);
        }
    }
    if let Some(chart_type) = hint.chart_type
        && let Some(spec) = fill(shape, chart_type, x, &y, series)
    {
        return ChartSpec {
            inferred: false,
            ..spec
        };
    }
    let base = infer(shape);
    let mut mentioned: Vec<usize> = x
        .into_iter()
        .chain(y.iter().copied())
        .chain(series)
        .collect();
    mentioned.sort_unstable();
    mentioned.dedup();
    if hint.chart_type.is_some() || mentioned.is_empty() {
        return base;
    }
    if base.chart_type != ChartType::Table
        && let Some(spec) = fill(shape, base.chart_type, x, &y, series)
    {
        return spec;
    }
    // The whole result makes no chart: try only the columns the model named.
    let sub = shape.project(&mentioned);
    let sub_base = infer(&sub);
    if sub_base.chart_type == ChartType::Table {
        return base;
    }
    let at = |i: Option<usize>| i.and_then(|i| sub.find(&shape.columns[i].name));
    let sub_y: Vec<usize> = y.iter().filter_map(|&i| at(Some(i))).collect();
    fill(&sub, sub_base.chart_type, at(x), &sub_y, at(series)).unwrap_or(base)
}

/// A spec of `chart_type` using the given columns where they fit, the data's otherwise; `None`
/// when the columns cannot make that chart.
fn fill(
    shape: &Shape,
    chart_type: ChartType,
    x: Option<usize>,
    y: &[usize],
    series: Option<usize>,
) -> Option<ChartSpec> {
    use ChartType as T;
    let numeric = |i: &usize| shape.columns[*i].numeric;
    let y_numbers: Vec<usize> = y.iter().copied().filter(numeric).collect();
    let y_label = y.iter().copied().find(|i| !numeric(i));
    let labels = [Role::Category, Role::Time];
    let spec = match chart_type {
        T::Table => shape.spec(T::Table, x, &y_numbers, series),
        T::Metric | T::Histogram => {
            let value = y_numbers
                .first()
                .copied()
                .or(x.filter(numeric))
                .or_else(|| shape.measures_except(&[]).first().copied())?;
            shape.spec(chart_type, None, &[value], None)
        }
        T::Scatter => {
            let x = x
                .filter(|i| numeric(i) || shape.columns[*i].role == Role::Time)
                .or_else(|| shape.measures_except(&y_numbers).first().copied())?;
            let mut ys: Vec<usize> = y_numbers.iter().copied().filter(|&i| i != x).collect();
            if ys.is_empty() {
                ys = shape.measures_except(&[x]).into_iter().take(1).collect();
            }
            if ys.is_empty() {
                return None;
            }
            shape.spec(
                T::Scatter,
                Some(x),
                &ys,
                series.filter(|&s| s != x && !numeric(&s)),
            )
        }
        T::Pie => {
            let x = x
                .or(series)
                .or(y_label)
                .or_else(|| shape.first(&[Role::Category, Role::Time, Role::Other], &y_numbers))?;
            let value = y_numbers
                .iter()
                .copied()
                .find(|&i| i != x)
                .or_else(|| shape.measures_except(&[x]).first().copied())?;
            shape.spec(T::Pie, Some(x), &[value], None)
        }
        T::Heatmap => {
            let x = x.or_else(|| shape.first(&labels, &y_numbers))?;
            let rows = series
                .or(y_label)
                .filter(|&s| s != x)
                .or_else(|| shape.first(&labels, &[x]))?;
            let value = y_numbers
                .iter()
                .copied()
                .find(|&i| i != x && i != rows)
                .or_else(|| shape.measures_except(&[x, rows]).first().copied())?;
            shape.spec(T::Heatmap, Some(x), &[value], Some(rows))
        }
        T::Bar | T::GroupedBar | T::StackedBar | T::Line | T::Area | T::StackedArea => {
            let prefer = if matches!(chart_type, T::Line | T::Area | T::StackedArea) {
                [Role::Time, Role::Category]
            } else {
                [Role::Category, Role::Time]
            };
            let x = x
                .or_else(|| shape.first(&prefer, &y_numbers))
                .or_else(|| shape.first(&[Role::Other], &y_numbers))?;
            // A series column is only guessed when x repeats (long data) and the chart is not a
            // plain bar; a label that merely names each x (carrier -> airline) is not a series.
            let x_repeats = shape.columns[x].distinct < shape.rows;
            let guess_series = x_repeats && chart_type != T::Bar;
            let series = series.or(y_label).filter(|&s| s != x).or_else(|| {
                if !guess_series {
                    return None;
                }
                let rest: Vec<usize> = (0..shape.columns.len())
                    .filter(|&i| {
                        i != x && !y.contains(&i) && labels.contains(&shape.columns[i].role)
                    })
                    .collect();
                match rest.as_slice() {
                    [only] => Some(*only),
                    _ => None,
                }
            });
            let except: Vec<usize> = std::iter::once(x).chain(series).collect();
            let mut ys: Vec<usize> = y_numbers
                .iter()
                .copied()
                .filter(|i| !except.contains(i))
                .collect();
            if ys.is_empty() {
                ys = shape.measures_except(&except);
            }
            if series.is_some() {
                ys.truncate(1);
            }
            if ys.is_empty() {
                return None;
            }
            shape.spec(chart_type, Some(x), &ys, series)
        }
    };
    Some(spec)
}

/// Renders `spec` over the data as a complete ECharts option object.
///
/// Every option carries a `metricchat` object (ignored by ECharts) with `kind` (the chart type
/// drawn, in its serde form) and `truncated` (whether `max_points` cut the data). Per type:
///
/// - **bar / grouped_bar / stacked_bar / line / area / stacked_area**: a category x axis (a
///   `time` axis for lines and areas over dates and timestamps, points as `[iso, value]` pairs,
///   sorted by time), a value y axis, one series per y column, or — with a series column — one
///   per distinct series value (pivoted, missing cells `null`). Stacked types share
///   `stack: "total"`; areas have `areaStyle`. At most `max_points` categories / points per series.
/// - **pie**: one `pie` series with `{name, value}` items (null values skipped).
/// - **scatter**: value axes, one series per y column (or series value) of `[x, y]` pairs.
/// - **heatmap**: category axes for `x` and `series`, `[x_index, y_index, value]` cells and a
///   `visualMap` from the smallest to the largest value.
/// - **histogram**: the first y column binned into up to 20 equal-width bins, drawn as bars
///   labelled `from–to`; bins also in `metricchat.bins` as `{from, to, count}`. Uses all rows.
/// - **metric**: a `graphic` with the value as large text and the label under it; the raw value
///   and label in `metricchat.value` / `metricchat.label`.
/// - **table** (ECharts has no table): `dataset` with `dimensions` (the column names) and `source`
///   (rows as arrays, JSON as in [`crate::data`]); `metricchat.columns` lists the columns.
///
/// A spec whose columns are missing from the data is rendered as a table. `max_points` below 1
/// counts as 1. Integers stay exact; other numbers are drawn as `f64`.
pub fn to_echarts(
    spec: &ChartSpec,
    schema: &Schema,
    batches: &[RecordBatch],
    max_points: usize,
) -> serde_json::Value {
    let data = Data { schema, batches };
    let max_points = max_points.max(1);
    use ChartType as T;
    let rendered = match spec.chart_type {
        T::Bar | T::GroupedBar | T::StackedBar | T::Line | T::Area | T::StackedArea => {
            axis_chart(spec, &data, max_points)
        }
        T::Pie => pie(spec, &data, max_points),
        T::Scatter => scatter(spec, &data, max_points),
        T::Heatmap => heatmap(spec, &data, max_points),
        T::Histogram => histogram(spec, &data),
        T::Metric => metric(spec, &data),
        T::Table => None,
    };
    rendered.unwrap_or_else(|| table(spec, &data, max_points))
}

/// The result being drawn.
struct Data<'a> {
    schema: &'a Schema,
    batches: &'a [RecordBatch],
}

impl Data<'_> {
    /// The column named `name` (case-insensitively), concatenated across batches.
    fn column(&self, name: Option<&str>) -> Option<(String, ArrayRef)> {
        let name = name?.trim();
        let fields = self.schema.fields();
        let index = fields.iter().position(|f| f.name() == name).or_else(|| {
            fields
                .iter()
                .position(|f| f.name().eq_ignore_ascii_case(name))
        })?;
        let field = &fields[index];
        let array = concat_column(field, index, self.batches)?;
        Some((field.name().clone(), array))
    }

    fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Column `index` of every batch, concatenated.
fn concat_column(field: &Field, index: usize, batches: &[RecordBatch]) -> Option<ArrayRef> {
    let parts: Vec<&dyn Array> = batches
        .iter()
        .filter_map(|b| b.columns().get(index))
        .map(|a| a.as_ref())
        .collect();
    match parts.as_slice() {
        [] => Some(new_empty_array(field.data_type())),
        [one] => Some(arrow::array::make_array(one.to_data())),
        _ => arrow::compute::concat(&parts).ok(),
    }
}

/// Chart labels of every slot.
fn labels(array: &ArrayRef) -> Vec<String> {
    match array_to_json(array.as_ref()) {
        Ok(values) => values.iter().map(json_to_label).collect(),
        Err(_) => vec![String::new(); array.len()],
    }
}

/// Values to plot: integers exact, other numbers as `f64`, the rest null.
fn numbers(array: &ArrayRef) -> Vec<Value> {
    if array.data_type().is_integer() {
        return array_to_json(array.as_ref()).unwrap_or_else(|_| vec![Value::Null; array.len()]);
    }
    floats(array)
        .into_iter()
        .map(|v| {
            v.and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number)
        })
        .collect()
}

/// Values as finite `f64`s, `None` for nulls, NaN, infinities and non-numbers.
fn floats(array: &ArrayRef) -> Vec<Option<f64>> {
    match arrow::compute::cast(array, &DataType::Float64) {
        Ok(cast) => cast
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.filter(|f| f.is_finite()))
            .collect(),
        Err(_) => vec![None; array.len()],
    }
}

/// Row order: by time for temporal columns (nulls last), as given otherwise.
fn row_order(array: &ArrayRef) -> Vec<usize> {
    let mut order: Vec<usize> = (0..array.len()).collect();
    if is_temporal(array.data_type())
        && let Ok(keys) = arrow::compute::cast(array, &DataType::Int64)
    {
        let keys = keys.as_primitive::<Int64Type>();
        order.sort_by_key(|&i| {
            if keys.is_null(i) {
                (1, 0)
            } else {
                (0, keys.value(i))
            }
        });
    }
    order
}

/// The common head of an option: title, tooltip and the `metricchat` marker.
fn base(spec: &ChartSpec, kind: ChartType, trigger: &str) -> Map<String, Value> {
    let mut option = Map::new();
    if let Some(title) = &spec.title {
        option.insert("title".into(), json!({ "text": title }));
    }
    option.insert("tooltip".into(), json!({ "trigger": trigger }));
    option.insert(
        "metricchat".into(),
        json!({ "kind": kind, "truncated": false }),
    );
    option
}

fn set_truncated(option: &mut Map<String, Value>, truncated: bool) {
    if let Some(Value::Object(marker)) = option.get_mut("metricchat") {
        marker.insert("truncated".into(), Value::Bool(truncated));
    }
}

fn legend(option: &mut Map<String, Value>, names: &[String]) {
    if names.len() > 1 {
        option.insert(
            "legend".into(),
            json!({ "type": "scroll", "bottom": 0, "data": names }),
        );
    }
}

/// A series value and y column as a series name.
fn series_name(split: Option<&str>, y_name: &str, y_count: usize) -> String {
    match split {
        Some(value) if y_count > 1 => format!("{value} · {y_name}"),
        Some(value) => value.to_owned(),
        None => y_name.to_owned(),
    }
}

/// Named series of data points, in order of first appearance, capped at [`MAX_SERIES`].
#[derive(Default)]
struct SeriesSet {
    names: Vec<String>,
    data: Vec<Vec<Value>>,
    index: HashMap<String, usize>,
    dropped: bool,
}

impl SeriesSet {
    /// The points of series `name`, created (with `fill` nulls) on first use.
    fn get(&mut self, name: String, fill: usize) -> Option<&mut Vec<Value>> {
        let i = match self.index.get(&name) {
            Some(&i) => i,
            None if self.names.len() >= MAX_SERIES => {
                self.dropped = true;
                return None;
            }
            None => {
                self.index.insert(name.clone(), self.names.len());
                self.names.push(name);
                self.data.push(vec![Value::Null; fill]);
                self.names.len() - 1
            }
        };
        self.data.get_mut(i)
    }
}

fn axis_chart(spec: &ChartSpec, data: &Data<'_>, max_points: usize) -> Option<Value> {
    use ChartType as T;
    let (x_name, x) = data.column(spec.x.as_deref())?;
    let ys: Vec<(String, Vec<Value>)> = spec
        .y
        .iter()
        .filter_map(|name| data.column(Some(name)))
        .filter(|(name, array)| *name != x_name && array.data_type().is_numeric())
        .map(|(name, array)| (name, numbers(&array)))
        .collect();
    if ys.is_empty() {
        return None;
    }
    let split = data
        .column(spec.series.as_deref())
        .filter(|(name, _)| *name != x_name)
        .map(|(_, array)| labels(&array));
    let time_axis = matches!(
        x.data_type(),
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
    ) && matches!(spec.chart_type, T::Line | T::Area | T::StackedArea);
    let order = row_order(&x);
    let x_labels = labels(&x);
    let mut set = SeriesSet::default();
    let mut truncated = false;
    let mut categories: Vec<String> = Vec::new();
    if time_axis {
        let x_values = array_to_json(x.as_ref()).ok()?;
        for &row in &order {
            let value_name = split.as_ref().map(|s| s[row].as_str());
            for (y_name, values) in &ys {
                let Some(points) = set.get(series_name(value_name, y_name, ys.len()), 0) else {
                    continue;
                };
                if points.len() >= max_points {
                    truncated = true;
                    continue;
                }
                points.push(json!([x_values[row], values[row]]));
            }
        }
    } else {
        let mut category_index: HashMap<String, usize> = HashMap::new();
        for &row in &order {
            let label = &x_labels[row];
            let position = match (&split, category_index.get(label)) {
                (Some(_), Some(&i)) => i,
                _ if categories.len() >= max_points => {
                    truncated = true;
                    continue;
                }
                _ => {
                    category_index.insert(label.clone(), categories.len());
                    categories.push(label.clone());
                    categories.len() - 1
                }
            };
            let value_name = split.as_ref().map(|s| s[row].as_str());
            for (y_name, values) in &ys {
                let name = series_name(value_name, y_name, ys.len());
                if let Some(points) = set.get(name, categories.len()) {
                    points.resize(categories.len(), Value::Null);
                    points[position] = values[row].clone();
                }
            }
        }
        for points in &mut set.data {
            points.resize(categories.len(), Value::Null);
        }
    }
    let (kind, stack, area) = match spec.chart_type {
        T::StackedBar => ("bar", true, false),
        T::Line => ("line", false, false),
        T::Area => ("line", false, true),
        T::StackedArea => ("line", true, true),
        _ => ("bar", false, false),
    };
    let series: Vec<Value> = set
        .names
        .iter()
        .zip(set.data)
        .map(|(name, points)| {
            let mut s = json!({ "name": name, "type": kind, "data": points });
            if stack {
                s["stack"] = json!("total");
            }
            if area {
                s["areaStyle"] = json!({});
            }
            s
        })
        .collect();
    let mut option = base(spec, spec.chart_type, "axis");
    legend(&mut option, &set.names);
    let x_axis = if time_axis {
        json!({ "type": "time", "name": x_name })
    } else {
        json!({ "type": "category", "name": x_name, "data": categories })
    };
    option.insert("xAxis".into(), x_axis);
    let mut y_axis = json!({ "type": "value" });
    if let [(y_name, _)] = ys.as_slice() {
        y_axis["name"] = json!(y_name);
    }
    option.insert("yAxis".into(), y_axis);
    option.insert("series".into(), Value::Array(series));
    set_truncated(&mut option, truncated || set.dropped);
    Some(Value::Object(option))
}

fn pie(spec: &ChartSpec, data: &Data<'_>, max_points: usize) -> Option<Value> {
    let (_, x) = data.column(spec.x.as_deref())?;
    let (y_name, y) = data
        .column(spec.y.first().map(String::as_str))
        .filter(|(_, a)| a.data_type().is_numeric())?;
    let names = labels(&x);
    let values = numbers(&y);
    let items: Vec<Value> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| !v.is_null())
        .take(max_points)
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    let truncated = values.iter().filter(|v| !v.is_null()).count() > items.len();
    let mut option = base(spec, ChartType::Pie, "item");
    if items.len() > 1 {
        option.insert("legend".into(), json!({ "type": "scroll", "bottom": 0 }));
    }
    option.insert(
        "series".into(),
        json!([{ "name": y_name, "type": "pie", "radius": "60%", "data": items }]),
    );
    set_truncated(&mut option, truncated);
    Some(Value::Object(option))
}

fn scatter(spec: &ChartSpec, data: &Data<'_>, max_points: usize) -> Option<Value> {
    let (x_name, x) = data.column(spec.x.as_deref())?;
    let temporal = is_temporal(x.data_type());
    if !temporal && !x.data_type().is_numeric() {
        return None;
    }
    let x_values = if temporal {
        array_to_json(x.as_ref()).ok()?
    } else {
        numbers(&x)
    };
    let ys: Vec<(String, Vec<Value>)> = spec
        .y
        .iter()
        .filter_map(|name| data.column(Some(name)))
        .filter(|(name, a)| *name != x_name && a.data_type().is_numeric())
        .map(|(name, a)| (name, numbers(&a)))
        .collect();
    if ys.is_empty() {
        return None;
    }
    let split = data
        .column(spec.series.as_deref())
        .filter(|(name, _)| *name != x_name)
        .map(|(_, a)| labels(&a));
    let mut set = SeriesSet::default();
    let mut truncated = false;
    for row in 0..x_values.len() {
        if x_values[row].is_null() {
            continue;
        }
        let value_name = split.as_ref().map(|s| s[row].as_str());
        for (y_name, values) in &ys {
            if values[row].is_null() {
                continue;
            }
            let Some(points) = set.get(series_name(value_name, y_name, ys.len()), 0) else {
                continue;
            };
            if points.len() >= max_points {
                truncated = true;
                continue;
            }
            points.push(json!([x_values[row], values[row]]));
        }
    }
    let series: Vec<Value> = set
        .names
        .iter()
        .zip(set.data)
        .map(|(name, points)| json!({ "name": name, "type": "scatter", "data": points }))
        .collect();
    let mut option = base(spec, ChartType::Scatter, "item");
    legend(&mut option, &set.names);
    let x_type = if temporal { "time" } else { "value" };
    option.insert(
        "xAxis".into(),
        json!({ "type": x_type, "name": x_name, "scale": true }),
    );
    let mut y_axis = json!({ "type": "value", "scale": true });
    if let [(y_name, _)] = ys.as_slice() {
        y_axis["name"] = json!(y_name);
    }
    option.insert("yAxis".into(), y_axis);
    option.insert("series".into(), Value::Array(series));
    set_truncated(&mut option, truncated || set.dropped);
    Some(Value::Object(option))
}

fn heatmap(spec: &ChartSpec, data: &Data<'_>, max_points: usize) -> Option<Value> {
    let (x_name, x) = data.column(spec.x.as_deref())?;
    let (rows_name, rows) = data
        .column(spec.series.as_deref())
        .filter(|(name, _)| *name != x_name)?;
    let (value_name, value) = data
        .column(spec.y.first().map(String::as_str))
        .filter(|(_, a)| a.data_type().is_numeric())?;
    let x_labels = labels(&x);
    let row_labels = labels(&rows);
    let values = floats(&value);
    let exact = numbers(&value);
    let mut x_cats: Vec<String> = Vec::new();
    let mut y_cats: Vec<String> = Vec::new();
    let mut x_index: HashMap<&str, usize> = HashMap::new();
    let mut y_index: HashMap<&str, usize> = HashMap::new();
    let mut cells = Vec::new();
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut truncated = false;
    for &row in &row_order(&x) {
        let Some(v) = values[row] else { continue };
        if cells.len() >= max_points {
            truncated = true;
            break;
        }
        let xi = *x_index.entry(x_labels[row].as_str()).or_insert_with(|| {
            x_cats.push(x_labels[row].clone());
            x_cats.len() - 1
        });
        let yi = *y_index.entry(row_labels[row].as_str()).or_insert_with(|| {
            y_cats.push(row_labels[row].clone());
            y_cats.len() - 1
        });
        min = min.min(v);
        max = max.max(v);
        cells.push(json!([xi, yi, exact[row]]));
    }
    if cells.is_empty() {
        (min, max) = (0.0, 0.0);
    }
    let mut option = base(spec, ChartType::Heatmap, "item");
    option.insert("xAxis".into(), json!({ "type": "category", "name": x_name, "data": x_cats, "splitArea": { "show": true } }));
    option.insert("yAxis".into(), json!({ "type": "category", "name": rows_name, "data": y_cats, "splitArea": { "show": true } }));
    option.insert(
        "visualMap".into(),
        json!({ "min": min, "max": max, "calculable": true, "orient": "horizontal", "left": "center", "bottom": 0 }),
    );
    option.insert(
        "series".into(),
        json!([{ "name": value_name, "type": "heatmap", "data": cells }]),
    );
    set_truncated(&mut option, truncated);
    Some(Value::Object(option))
}

fn histogram(spec: &ChartSpec, data: &Data<'_>) -> Option<Value> {
    let name = spec.y.first().or(spec.x.as_ref()).map(String::as_str);
    let (column_name, column) = data
        .column(name)
        .filter(|(_, a)| a.data_type().is_numeric())?;
    let values: Vec<f64> = floats(&column).into_iter().flatten().collect();
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let bins = if values.is_empty() {
        0
    } else if max > min {
        HISTOGRAM_BINS
    } else {
        1
    };
    let mut edges = vec![min];
    let mut edge = min;
    let width = if bins > 1 {
        (max - min) / HISTOGRAM_BINS_F64
    } else {
        0.0
    };
    for _ in 1..bins {
        edge += width;
        edges.push(edge);
    }
    edges.push(max);
    let mut counts = vec![0_u64; bins];
    for v in &values {
        // Bin i holds [edges[i], edges[i + 1]); the last bin also holds the maximum.
        let i = edges[..bins]
            .partition_point(|e| e <= v)
            .saturating_sub(1)
            .min(bins.saturating_sub(1));
        if let Some(count) = counts.get_mut(i) {
            *count += 1;
        }
    }
    let labels: Vec<String> = (0..bins)
        .map(|i| format!("{}–{}", short_number(edges[i]), short_number(edges[i + 1])))
        .collect();
    let bin_objects: Vec<Value> = (0..bins)
        .map(|i| json!({ "from": edges[i], "to": edges[i + 1], "count": counts[i] }))
        .collect();
    let mut option = base(spec, ChartType::Histogram, "axis");
    option.insert(
        "xAxis".into(),
        json!({ "type": "category", "name": column_name, "data": labels }),
    );
    option.insert("yAxis".into(), json!({ "type": "value", "name": "count" }));
    option.insert(
        "series".into(),
        json!([{ "name": "count", "type": "bar", "barCategoryGap": "0%", "data": counts }]),
    );
    if let Some(Value::Object(marker)) = option.get_mut("metricchat") {
        marker.insert("bins".into(), Value::Array(bin_objects));
    }
    Some(Value::Object(option))
}

fn metric(spec: &ChartSpec, data: &Data<'_>) -> Option<Value> {
    let (name, column) = data.column(spec.y.first().or(spec.x.as_ref()).map(String::as_str))?;
    let value = array_to_json(column.as_ref())
        .ok()?
        .into_iter()
        .find(|v| !v.is_null())
        .unwrap_or(Value::Null);
    let text = match &value {
        Value::Null => "—".to_owned(),
        Value::Number(n) if n.is_f64() => n.as_f64().map(group_number).unwrap_or_default(),
        Value::Number(n) => group_digits(&n.to_string()),
        Value::String(s) if column.data_type().is_numeric() => group_digits(s),
        other => json_to_label(other),
    };
    let mut option = base(spec, ChartType::Metric, "item");
    option.remove("tooltip");
    option.insert(
        "graphic".into(),
        json!([
            { "type": "text", "left": "center", "top": "middle",
              "style": { "text": text, "fontSize": 48, "fontWeight": "bold" } },
            { "type": "text", "left": "center", "top": "65%",
              "style": { "text": name, "fontSize": 16 } }
        ]),
    );
    if let Some(Value::Object(marker)) = option.get_mut("metricchat") {
        marker.insert("value".into(), value);
        marker.insert("label".into(), Value::String(name));
    }
    Some(Value::Object(option))
}

fn table(spec: &ChartSpec, data: &Data<'_>, max_points: usize) -> Value {
    let names: Vec<String> = data
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let total = data.rows();
    let shown = total.min(max_points);
    let columns: Vec<Vec<Value>> = data
        .schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            concat_column(field, i, data.batches)
                .and_then(|a| array_to_json(a.slice(0, shown.min(a.len())).as_ref()).ok())
                .unwrap_or_default()
        })
        .collect();
    let source: Vec<Value> = (0..shown)
        .map(|row| {
            Value::Array(
                columns
                    .iter()
                    .map(|c| c.get(row).cloned().unwrap_or(Value::Null))
                    .collect(),
            )
        })
        .collect();
    let mut option = base(spec, ChartType::Table, "item");
    option.remove("tooltip");
    option.insert(
        "dataset".into(),
        json!({ "dimensions": names, "source": source }),
    );
    if let Some(Value::Object(marker)) = option.get_mut("metricchat") {
        marker.insert("columns".into(), json!(names));
        marker.insert("truncated".into(), Value::Bool(total > shown));
    }
    Value::Object(option)
}

/// A number with up to 2 decimals (more for small magnitudes), trailing zeros dropped.
fn short_number(value: f64) -> String {
    let mut precision = 2_usize;
    let mut magnitude = value.abs();
    while magnitude > 0.0 && magnitude < 1.0 && precision < 10 {
        magnitude *= 10.0;
        precision += 1;
    }
    let text = format!("{value:.precision$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// [`short_number`] with thousands separators.
fn group_number(value: f64) -> String {
    group_digits(&short_number(value))
}

/// Adds `,` between thousands of the integer part of a decimal string.
fn group_digits(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (rest, None),
    };
    if !int.chars().all(|c| c.is_ascii_digit()) {
        return text.to_owned();
    }
    let mut grouped = String::with_capacity(text.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(frac) => format!("{sign}{grouped}.{frac}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, Date32Array, Float64Array, Int64Array, StringArray, TimestampSecondArray,
    };
    use serde_json::json;

    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn strings(values: &[&str]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    fn floats(values: &[f64]) -> ArrayRef {
        Arc::new(Float64Array::from(values.to_vec()))
    }

    fn ints(values: &[i64]) -> ArrayRef {
        Arc::new(Int64Array::from(values.to_vec()))
    }

    fn infer_of(b: &RecordBatch, hint: Option<&ChartHint>) -> ChartSpec {
        infer_chart(b.schema_ref(), std::slice::from_ref(b), hint)
    }

    fn render(spec: &ChartSpec, b: &RecordBatch, max_points: usize) -> Value {
        to_echarts(spec, b.schema_ref(), std::slice::from_ref(b), max_points)
    }

    fn spec(chart_type: ChartType, x: Option<&str>, y: &[&str], series: Option<&str>) -> ChartSpec {
        ChartSpec {
            chart_type,
            title: None,
            x: x.map(str::to_owned),
            y: y.iter().map(|s| (*s).to_owned()).collect(),
            series: series.map(str::to_owned),
            inferred: false,
        }
    }

    fn region_revenue() -> RecordBatch {
        batch(vec![
            ("region", strings(&["EU", "US", "APAC"])),
            ("revenue", floats(&[12.5, 30.0, 7.25])),
        ])
    }

    /// 3 regions × 2 products of sales, long form.
    fn region_product_sales() -> RecordBatch {
        batch(vec![
            ("region", strings(&["EU", "EU", "US", "US", "APAC", "APAC"])),
            ("product", strings(&["A", "B", "A", "B", "A", "B"])),
            ("sales", ints(&[1, 2, 3, 4, 5, 6])),
        ])
    }

    fn dates_revenue() -> RecordBatch {
        // Days 19_725.. are 2024-01-03 onwards; given out of order.
        batch(vec![
            (
                "day",
                Arc::new(Date32Array::from(vec![19_727, 19_725, 19_726])) as ArrayRef,
            ),
            ("revenue", floats(&[3.0, 1.0, 2.0])),
        ])
    }

    fn shape_of(spec: &ChartSpec) -> (ChartType, Option<&str>, Vec<&str>, Option<&str>) {
        (
            spec.chart_type,
            spec.x.as_deref(),
            spec.y.iter().map(String::as_str).collect(),
            spec.series.as_deref(),
        )
    }

    #[test]
    fn one_number_is_a_metric() {
        let b = batch(vec![("total_orders", ints(&[1_234_567]))]);
        let s = infer_of(&b, None);
        assert_eq!(
            shape_of(&s),
            (ChartType::Metric, None, vec!["total_orders"], None)
        );
        assert!(s.inferred);
        let option = render(&s, &b, 100);
        assert_eq!(option["metricchat"]["kind"], "metric");
        assert_eq!(option["metricchat"]["value"], json!(1_234_567));
        assert_eq!(option["metricchat"]["label"], "total_orders");
        assert_eq!(option["graphic"][0]["style"]["text"], "1,234,567");
    }

    #[test]
    fn dates_and_numbers_are_a_line() {
        let s = infer_of(&dates_revenue(), None);
        assert_eq!(
            shape_of(&s),
            (ChartType::Line, Some("day"), vec!["revenue"], None)
        );
    }

    #[test]
    fn period_names_and_iso_strings_are_time() {
        let by_year = batch(vec![
            ("year", ints(&[2022, 2023, 2024])),
            ("orders", ints(&[5, 7, 9])),
        ]);
        assert_eq!(
            shape_of(&infer_of(&by_year, None)),
            (ChartType::Line, Some("year"), vec!["orders"], None)
        );
        let by_month = batch(vec![
            ("m", strings(&["2024-01", "2024-02", "2024-03"])),
            ("orders", ints(&[5, 7, 9])),
        ]);
        assert_eq!(infer_of(&by_month, None).chart_type, ChartType::Line);
        let by_week = batch(vec![
            ("order_week", strings(&["wk one", "wk two"])),
            ("orders", ints(&[5, 7])),
        ]);
        assert_eq!(infer_of(&by_week, None).chart_type, ChartType::Line);
    }

    #[test]
    fn time_category_and_number_are_lines_per_category() {
        let b = batch(vec![
            ("month", strings(&["2024-01", "2024-01", "2024-02"])),
            ("region", strings(&["EU", "US", "EU"])),
            ("revenue", floats(&[1.0, 2.0, 3.0])),
        ]);
        let s = infer_of(&b, None);
        assert_eq!(
            shape_of(&s),
            (
                ChartType::Line,
                Some("month"),
                vec!["revenue"],
                Some("region")
            )
        );
        let option = render(&s, &b, 100);
        assert_eq!(
            option["xAxis"],
            json!({"type": "category", "name": "month", "data": ["2024-01", "2024-02"]})
        );
        assert_eq!(option["legend"]["data"], json!(["EU", "US"]));
        assert_eq!(option["series"][0]["data"], json!([1.0, 3.0]));
        assert_eq!(option["series"][1]["data"], json!([2.0, null]));
    }

    #[test]
    fn category_and_number_are_a_bar_and_ids_are_categories() {
        let s = infer_of(&region_revenue(), None);
        assert_eq!(
            shape_of(&s),
            (ChartType::Bar, Some("region"), vec!["revenue"], None)
        );
        let by_store = batch(vec![
            ("store_id", ints(&[7, 8, 9])),
            ("revenue", floats(&[1.0, 2.0, 3.0])),
        ]);
        assert_eq!(
            shape_of(&infer_of(&by_store, None)),
            (ChartType::Bar, Some("store_id"), vec!["revenue"], None)
        );
        let many: Vec<String> = (0..60).map(|i| format!("c{i}")).collect();
        let many = batch(vec![
            ("name", Arc::new(StringArray::from(many)) as ArrayRef),
            ("v", floats(&[1.0; 60])),
        ]);
        assert_eq!(infer_of(&many, None).chart_type, ChartType::Table);
    }

    #[test]
    fn category_and_several_numbers_are_grouped_bars() {
        let b = batch(vec![
            ("region", strings(&["EU", "US"])),
            ("revenue", floats(&[1.0, 2.0])),
            ("cost", floats(&[0.5, 1.5])),
        ]);
        let s = infer_of(&b, None);
        assert_eq!(
            shape_of(&s),
            (
                ChartType::GroupedBar,
                Some("region"),
                vec!["revenue", "cost"],
                None
            )
        );
        let option = render(&s, &b, 100);
        let series = option["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        assert!(
            series
                .iter()
                .all(|s| s["type"] == "bar" && s.get("stack").is_none())
        );
        assert_eq!(series[1]["name"], "cost");
        assert_eq!(series[1]["data"], json!([0.5, 1.5]));
        assert_eq!(option["legend"]["data"], json!(["revenue", "cost"]));
    }

    #[test]
    fn two_categories_are_stacked_bars_or_a_heatmap() {
        let b = region_product_sales();
        let s = infer_of(&b, None);
        assert_eq!(
            shape_of(&s),
            (
                ChartType::StackedBar,
                Some("region"),
                vec!["sales"],
                Some("product")
            )
        );
        let option = render(&s, &b, 100);
        assert_eq!(option["xAxis"]["data"], json!(["EU", "US", "APAC"]));
        let series = option["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(
            series[0],
            json!({"name": "A", "type": "bar", "stack": "total", "data": [1, 3, 5]})
        );
        assert_eq!(series[1]["data"], json!([2, 4, 6]));

        let mut xs = Vec::new();
        let mut ys = Vec::new();
        let mut vs = Vec::new();
        for i in 0..12 {
            for j in 0..12 {
                xs.push(format!("x{i}"));
                ys.push(format!("y{j}"));
                vs.push(f64::from(i * j));
            }
        }
        let grid = batch(vec![
            ("a", Arc::new(StringArray::from(xs)) as ArrayRef),
            ("b", Arc::new(StringArray::from(ys)) as ArrayRef),
            ("v", Arc::new(Float64Array::from(vs)) as ArrayRef),
        ]);
        let s = infer_of(&grid, None);
        assert_eq!(
            shape_of(&s),
            (ChartType::Heatmap, Some("a"), vec!["v"], Some("b"))
        );
        let option = render(&s, &grid, 10_000);
        assert_eq!(option["series"][0]["type"], "heatmap");
        assert_eq!(option["series"][0]["data"].as_array().unwrap().len(), 144);
        assert_eq!(option["series"][0]["data"][13], json!([1, 1, 1.0]));
        assert_eq!(option["xAxis"]["data"].as_array().unwrap().len(), 12);
        assert_eq!(option["yAxis"]["data"].as_array().unwrap().len(), 12);
        assert_eq!(
            (
                option["visualMap"]["min"].as_f64(),
                option["visualMap"]["max"].as_f64()
            ),
            (Some(0.0), Some(121.0))
        );
    }

    #[test]
    fn two_numbers_are_a_scatter() {
        let b = batch(vec![
            ("height", floats(&[1.6, 1.7, 1.8, 1.9])),
            ("weight", floats(&[60.0, 65.0, 80.0, 85.0])),
        ]);
        let s = infer_of(&b, None);
        assert_eq!(
            shape_of(&s),
            (ChartType::Scatter, Some("height"), vec!["weight"], None)
        );
        let option = render(&s, &b, 100);
        assert_eq!(option["series"].as_array().unwrap().len(), 1);
        assert_eq!(option["series"][0]["type"], "scatter");
        assert_eq!(option["series"][0]["data"][2], json!([1.8, 80.0]));
        assert_eq!(option["series"][0]["data"].as_array().unwrap().len(), 4);
        assert_eq!(option["xAxis"]["type"], "value");
    }

    #[test]
    fn one_number_column_is_a_histogram_when_long() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        let b = batch(vec![("latency", floats(&values))]);
        let s = infer_of(&b, None);
        assert_eq!(
            shape_of(&s),
            (ChartType::Histogram, None, vec!["latency"], None)
        );
        let option = render(&s, &b, 10);
        let counts = option["series"][0]["data"].as_array().unwrap();
        assert_eq!(counts.len(), 20);
        assert!(counts.iter().all(|c| c == &json!(5)));
        assert_eq!(option["xAxis"]["data"][0], "0–4.95");
        assert_eq!(option["metricchat"]["bins"][19]["to"], json!(99.0));

        let short = batch(vec![("latency", floats(&[1.0, 2.0, 3.0]))]);
        assert_eq!(infer_of(&short, None).chart_type, ChartType::Table);
    }

    #[test]
    fn other_shapes_are_tables() {
        let labels = batch(vec![
            ("a", strings(&["x", "y"])),
            ("b", strings(&["z", "w"])),
        ]);
        assert_eq!(infer_of(&labels, None).chart_type, ChartType::Table);
        let empty = region_revenue().slice(0, 0);
        assert_eq!(infer_of(&empty, None).chart_type, ChartType::Table);
    }

    #[test]
    fn hinted_type_is_kept_and_columns_match_case_insensitively() {
        let hint = ChartHint {
            chart_type: Some(ChartType::Pie),
            x: Some("REGION".into()),
            y: vec!["Revenue".into()],
            title: Some("Revenue share".into()),
            ..ChartHint::default()
        };
        let s = infer_of(&region_revenue(), Some(&hint));
        assert_eq!(
            shape_of(&s),
            (ChartType::Pie, Some("region"), vec!["revenue"], None)
        );
        assert!(!s.inferred);
        assert_eq!(s.title.as_deref(), Some("Revenue share"));
        let option = render(&s, &region_revenue(), 100);
        assert_eq!(
            option["series"][0]["data"],
            json!([{"name": "EU", "value": 12.5}, {"name": "US", "value": 30.0}, {"name": "APAC", "value": 7.25}])
        );
        assert_eq!(option["title"]["text"], "Revenue share");
    }

    #[test]
    fn a_label_that_names_each_bar_is_not_a_series() {
        // carrier -> airline name is one-to-one: one bar per airline, one series.
        let b = batch(vec![
            ("carrier", strings(&["F9", "EV", "US"])),
            (
                "airline",
                strings(&["Frontier", "ExpressJet", "US Airways"]),
            ),
            ("avg_delay", floats(&[20.2, 19.9, 3.8])),
        ]);
        let hint = ChartHint {
            chart_type: Some(ChartType::Bar),
            x: Some("airline".into()),
            y: vec!["avg_delay".into()],
            ..ChartHint::default()
        };
        let s = infer_of(&b, Some(&hint));
        assert_eq!(s.series, None);
        let option = to_echarts(&s, b.schema_ref(), std::slice::from_ref(&b), 100);
        assert_eq!(option["series"].as_array().unwrap().len(), 1);
        assert_eq!(option["series"][0]["data"], json!([20.2, 19.9, 3.8]));
        let s = infer_of(&b, None);
        assert_eq!(s.series, None);
    }

    #[test]
    fn hint_with_unknown_columns_falls_back_to_the_data() {
        let hint = ChartHint {
            chart_type: Some(ChartType::Bar),
            x: Some("country".into()),
            y: vec!["profit".into()],
            ..ChartHint::default()
        };
        let s = infer_of(&region_revenue(), Some(&hint));
        assert_eq!(
            shape_of(&s),
            (ChartType::Bar, Some("region"), vec!["revenue"], None)
        );
        assert!(!s.inferred);

        // A scatter needs two numeric columns: the inferred chart is used instead.
        let impossible = ChartHint {
            chart_type: Some(ChartType::Scatter),
            ..ChartHint::default()
        };
        let s = infer_of(&region_revenue(), Some(&impossible));
        assert_eq!(
            shape_of(&s),
            (ChartType::Bar, Some("region"), vec!["revenue"], None)
        );
        assert!(s.inferred);

        let only_bad = ChartHint {
            y: vec!["nope".into()],
            ..ChartHint::default()
        };
        assert_eq!(
            infer_of(&region_revenue(), Some(&only_bad)),
            infer_of(&region_revenue(), None)
        );
    }

    #[test]
    fn hinted_columns_without_a_type_steer_the_inferred_chart() {
        let hint = ChartHint {
            x: Some("product".into()),
            ..ChartHint::default()
        };
        let s = infer_of(&region_product_sales(), Some(&hint));
        assert_eq!(
            shape_of(&s),
            (
                ChartType::StackedBar,
                Some("product"),
                vec!["sales"],
                Some("region")
            )
        );
        assert!(s.inferred);
    }

    #[test]
    fn hint_deserializes_loosely_and_has_a_schema() {
        let hint: ChartHint =
            serde_json::from_value(json!({"chart_type": "kpi", "y": "revenue"})).unwrap();
        assert_eq!(hint.chart_type, Some(ChartType::Metric));
        assert_eq!(hint.y, vec!["revenue".to_owned()]);
        let hint: ChartHint = serde_json::from_value(json!({"y": ["a", "b"], "x": null})).unwrap();
        assert_eq!(hint.y.len(), 2);
        assert_eq!(
            serde_json::to_value(ChartType::StackedArea).unwrap(),
            json!("stacked_area")
        );
        let schema = serde_json::to_value(schemars::schema_for!(ChartHint)).unwrap();
        assert!(schema["properties"]["chart_type"].is_object());
    }

    #[test]
    fn bar_option_has_categories_and_values() {
        let b = region_revenue();
        let option = render(
            &spec(ChartType::Bar, Some("region"), &["revenue"], None),
            &b,
            100,
        );
        assert_eq!(
            option,
            json!({
                "tooltip": {"trigger": "axis"},
                "metricchat": {"kind": "bar", "truncated": false},
                "xAxis": {"type": "category", "name": "region", "data": ["EU", "US", "APAC"]},
                "yAxis": {"type": "value", "name": "revenue"},
                "series": [{"name": "revenue", "type": "bar", "data": [12.5, 30.0, 7.25]}]
            })
        );
    }

    #[test]
    fn bar_points_are_capped() {
        let names: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
        let values: Vec<i64> = (0..30).collect();
        let b = batch(vec![
            ("name", Arc::new(StringArray::from(names)) as ArrayRef),
            ("v", ints(&values)),
        ]);
        let option = render(&spec(ChartType::Bar, Some("name"), &["v"], None), &b, 10);
        assert_eq!(option["xAxis"]["data"].as_array().unwrap().len(), 10);
        assert_eq!(
            option["series"][0]["data"],
            json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        );
        assert_eq!(option["metricchat"]["truncated"], true);
    }

    #[test]
    fn line_over_dates_uses_a_sorted_time_axis() {
        let b = dates_revenue();
        let option = render(
            &spec(ChartType::Line, Some("day"), &["revenue"], None),
            &b,
            100,
        );
        assert_eq!(option["xAxis"], json!({"type": "time", "name": "day"}));
        assert_eq!(
            option["series"],
            json!([{"name": "revenue", "type": "line", "data": [
                ["2024-01-03", 1.0], ["2024-01-04", 2.0], ["2024-01-05", 3.0]
            ]}])
        );
        assert!(option.get("legend").is_none());
    }

    #[test]
    fn areas_and_stacked_areas_fill() {
        let b = batch(vec![
            (
                "ts",
                Arc::new(TimestampSecondArray::from(vec![0, 0, 3600, 3600]).with_timezone("UTC"))
                    as ArrayRef,
            ),
            ("kind", strings(&["a", "b", "a", "b"])),
            ("n", ints(&[1, 2, 3, 4])),
        ]);
        let area = render(&spec(ChartType::Area, Some("ts"), &["n"], None), &b, 100);
        assert_eq!(area["series"][0]["areaStyle"], json!({}));
        assert_eq!(
            area["series"][0]["data"][0],
            json!(["1970-01-01T00:00:00Z", 1])
        );
        assert_eq!(area["series"][0]["data"].as_array().unwrap().len(), 4);
        let stacked = render(
            &spec(ChartType::StackedArea, Some("ts"), &["n"], Some("kind")),
            &b,
            100,
        );
        let series = stacked["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        assert!(
            series.iter().all(|s| s["stack"] == "total"
                && s["areaStyle"] == json!({})
                && s["type"] == "line")
        );
        assert_eq!(
            series[1]["data"],
            json!([["1970-01-01T00:00:00Z", 2], ["1970-01-01T01:00:00Z", 4]])
        );
    }

    #[test]
    fn table_option_is_a_dataset() {
        let b = region_revenue();
        let option = render(&spec(ChartType::Table, None, &[], None), &b, 2);
        assert_eq!(
            option["dataset"],
            json!({"dimensions": ["region", "revenue"], "source": [["EU", 12.5], ["US", 30.0]]})
        );
        assert_eq!(option["metricchat"]["kind"], "table");
        assert_eq!(option["metricchat"]["truncated"], true);
    }

    #[test]
    fn missing_columns_render_as_a_table() {
        let b = region_revenue();
        let option = render(
            &spec(ChartType::Line, Some("nope"), &["revenue"], None),
            &b,
            100,
        );
        assert_eq!(option["metricchat"]["kind"], "table");
        assert_eq!(option["dataset"]["source"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn helpers_format_numbers() {
        assert_eq!(group_digits("-1234567.5"), "-1,234,567.5");
        assert_eq!(group_number(1234.5678), "1,234.57");
        assert_eq!(short_number(0.001234), "0.00123");
        assert!(iso_like("2024-Q1") && iso_like("2024") && !iso_like("20245") && !iso_like("EU"));
        assert_eq!(name_words("orderMonth_2"), vec!["order", "month", "2"]);
    }
}
