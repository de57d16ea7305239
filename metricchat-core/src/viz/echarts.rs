//! Rendering a [`ChartSpec`] over the data as an ECharts option, one function per chart family.

use std::collections::HashMap;

use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value, json};

use super::columns::{Data, concat_column, floats, is_temporal, labels, numbers, row_order};
use super::format::{group_digits, group_number, short_number};
use super::{ChartSpec, ChartType};
use crate::data::{array_to_json, json_to_label};

/// Bins of a histogram.
const HISTOGRAM_BINS: usize = 20;
/// [`HISTOGRAM_BINS`] as a float.
const HISTOGRAM_BINS_F64: f64 = 20.0;
/// Series drawn at most in one chart; further series values are dropped.
const MAX_SERIES: usize = 50;

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
/// - **treemap / funnel**: one series of `{name, value}` items (`x` names, first `y` values;
///   a funnel sorted widest first).
/// - **radar**: one spoke per `x` value (at most `max_points`, up to 30), each with a `max` a
///   tenth above the largest value on it; one series item per `y` column.
/// - **candlestick**: a category x axis and `[open, close, low, high]` per row from the four
///   `y` columns in that order.
/// - **map** (no base map): value axes of longitude (`x`) and latitude (`y[0]`), points
///   `{name, value: [lon, lat, size]}` sized by `y[1]` (square root scale, 6 to 40 px),
///   named by `series`.
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
        T::Treemap | T::Funnel => shares(spec, &data, max_points),
        T::Radar => radar(spec, &data, max_points),
        T::Candlestick => candlestick(spec, &data, max_points),
        T::Map => map(spec, &data, max_points),
        T::Table => None,
    };
    rendered.unwrap_or_else(|| table(spec, &data, max_points))
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

/// Treemap and funnel: named values.
fn shares(spec: &ChartSpec, data: &Data<'_>, max_points: usize) -> Option<Value> {
    let (_, x) = data.column(spec.x.as_deref())?;
    let (y_name, y) = data
        .column(spec.y.first().map(String::as_str))
        .filter(|(_, a)| a.data_type().is_numeric())?;
    let names = labels(&x);
    let values = floats(&y);
    let mut items: Vec<(String, f64)> = names
        .into_iter()
        .zip(values)
        .filter_map(|(n, v)| v.filter(|v| v.is_finite() && *v >= 0.0).map(|v| (n, v)))
        .collect();
    let funnel = spec.chart_type == ChartType::Funnel;
    if funnel {
        items.sort_by(|a, b| b.1.total_cmp(&a.1));
    }
    let truncated = items.len() > max_points;
    items.truncate(max_points);
    let data_items: Vec<Value> = items
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    let mut option = base(spec, spec.chart_type, "item");
    let series = if funnel {
        option.insert("legend".into(), json!({ "type": "scroll", "bottom": 0 }));
        json!({ "name": y_name, "type": "funnel", "left": "10%", "width": "80%", "top": 10,
                "bottom": 40, "sort": "descending", "label": { "position": "inside" },
                "data": data_items })
    } else {
        json!({ "name": y_name, "type": "treemap", "roam": false, "nodeClick": false,
                "breadcrumb": { "show": false }, "top": 10, "bottom": 10, "left": 10,
                "right": 10, "data": data_items })
    };
    option.insert("series".into(), json!([series]));
    set_truncated(&mut option, truncated);
    Some(Value::Object(option))
}

/// Radar: one spoke per category, one polygon per measure.
fn radar(spec: &ChartSpec, data: &Data<'_>, max_points: usize) -> Option<Value> {
    let (_, x) = data.column(spec.x.as_deref())?;
    let spokes = labels(&x);
    let take = spokes.len().min(max_points).min(30);
    let ys: Vec<(String, Vec<Option<f64>>)> = spec
        .y
        .iter()
        .filter_map(|n| data.column(Some(n)))
        .filter(|(_, a)| a.data_type().is_numeric())
        .map(|(n, a)| (n, floats(&a)))
        .collect();
    if ys.is_empty() || take < 3 {
        return None;
    }
    let indicator: Vec<Value> = (0..take)
        .map(|i| {
            let max = ys
                .iter()
                .filter_map(|(_, v)| v.get(i).copied().flatten())
                .fold(0.0_f64, f64::max);
            json!({ "name": spokes[i], "max": if max > 0.0 { max * 1.1 } else { 1.0 } })
        })
        .collect();
    let items: Vec<Value> = ys
        .iter()
        .map(|(name, v)| {
            json!({ "name": name, "value": v.iter().take(take).map(|x| x.unwrap_or(0.0)).collect::<Vec<_>>() })
        })
        .collect();
    let names: Vec<String> = ys.iter().map(|(n, _)| n.clone()).collect();
    let mut option = base(spec, ChartType::Radar, "item");
    legend(&mut option, &names);
    option.insert(
        "radar".into(),
        json!({ "indicator": indicator, "radius": "65%" }),
    );
    option.insert(
        "series".into(),
        json!([{ "type": "radar", "data": items, "areaStyle": { "opacity": 0.15 } }]),
    );
    set_truncated(&mut option, spokes.len() > take);
    Some(Value::Object(option))
}

/// Candlestick: open, close, low, high per period.
fn candlestick(spec: &ChartSpec, data: &Data<'_>, max_points: usize) -> Option<Value> {
    let (x_name, x) = data.column(spec.x.as_deref())?;
    let cols: Vec<Vec<Option<f64>>> = spec
        .y
        .iter()
        .take(4)
        .filter_map(|n| data.column(Some(n)))
        .filter(|(_, a)| a.data_type().is_numeric())
        .map(|(_, a)| floats(&a))
        .collect();
    if cols.len() < 4 {
        return None;
    }
    let cats = labels(&x);
    let order = row_order(&x);
    let mut categories = Vec::new();
    let mut points = Vec::new();
    for &row in order.iter().take(max_points) {
        categories.push(cats[row].clone());
        points.push(json!([
            cols[0][row],
            cols[1][row],
            cols[2][row],
            cols[3][row]
        ]));
    }
    let mut option = base(spec, ChartType::Candlestick, "axis");
    option.insert(
        "xAxis".into(),
        json!({ "type": "category", "name": x_name, "data": categories }),
    );
    option.insert("yAxis".into(), json!({ "type": "value", "scale": true }));
    option.insert(
        "series".into(),
        json!([{ "type": "candlestick", "name": spec.y.join(" / "), "data": points }]),
    );
    set_truncated(&mut option, order.len() > max_points);
    Some(Value::Object(option))
}

/// Points by longitude and latitude, sized by a measure: a map without a base map.
fn map(spec: &ChartSpec, data: &Data<'_>, max_points: usize) -> Option<Value> {
    let (lon_name, lon) = data
        .column(spec.x.as_deref())
        .filter(|(_, a)| a.data_type().is_numeric())?;
    let (lat_name, lat) = data
        .column(spec.y.first().map(String::as_str))
        .filter(|(_, a)| a.data_type().is_numeric())?;
    let lons = floats(&lon);
    let lats = floats(&lat);
    let size = data
        .column(spec.y.get(1).map(String::as_str))
        .filter(|(_, a)| a.data_type().is_numeric())
        .map(|(n, a)| (n, floats(&a)));
    let names = data.column(spec.series.as_deref()).map(|(_, a)| labels(&a));
    let max = size
        .as_ref()
        .map(|(_, v)| v.iter().flatten().copied().fold(0.0_f64, f64::max))
        .unwrap_or(0.0);
    let mut points = Vec::new();
    let mut truncated = false;
    for row in 0..lons.len() {
        let (Some(x), Some(y)) = (lons[row], lats[row]) else {
            continue;
        };
        if points.len() >= max_points {
            truncated = true;
            break;
        }
        let s = size.as_ref().and_then(|(_, v)| v[row]);
        let px = match s {
            Some(s) if max > 0.0 && s > 0.0 => 6.0 + 34.0 * (s / max).sqrt(),
            _ => 8.0,
        };
        let mut item = json!({ "value": [x, y, s], "symbolSize": (px * 10.0).round() / 10.0 });
        if let Some(n) = &names {
            item["name"] = json!(n[row]);
        }
        points.push(item);
    }
    let mut option = base(spec, ChartType::Map, "item");
    option.insert(
        "xAxis".into(),
        json!({ "type": "value", "name": lon_name, "scale": true, "splitLine": { "show": false } }),
    );
    option.insert(
        "yAxis".into(),
        json!({ "type": "value", "name": lat_name, "scale": true, "splitLine": { "show": false } }),
    );
    let series_name = size.as_ref().map_or(lat_name.clone(), |(n, _)| n.clone());
    option.insert(
        "series".into(),
        json!([{ "type": "scatter", "name": series_name, "data": points,
                 "itemStyle": { "opacity": 0.75 },
                 "label": { "show": names.is_some(), "formatter": "{b}", "position": "right",
                            "fontSize": 10 },
                 "labelLayout": { "hideOverlap": true } }]),
    );
    set_truncated(&mut option, truncated);
    Some(Value::Object(option))
}
