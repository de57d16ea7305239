//! Unit tests of chart inference and ECharts rendering.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, StringArray, TimestampSecondArray,
};
use arrow::record_batch::RecordBatch;
use serde_json::{Value, json};

use super::format::{group_digits, group_number, short_number};
use super::shape::{iso_like, name_words};
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
        series
            .iter()
            .all(|s| s["stack"] == "total" && s["areaStyle"] == json!({}) && s["type"] == "line")
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
