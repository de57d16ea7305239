//! Choosing a chart: the spec the data shape suggests, or the one the model hinted, filled in.

use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;

use super::shape::{Role, Shape};
use super::{ChartHint, ChartSpec, ChartType};

/// Bars drawn at most before a bar chart becomes a table.
const MAX_BARS: usize = 50;
/// Series values shown as a legend at most before two categories become a heatmap.
const MAX_LEGEND: usize = 10;
/// Rows a single numeric column needs before it is drawn as a histogram.
const HISTOGRAM_MIN_ROWS: usize = 20;

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
/// | numeric `lat`/`latitude` and `lon`/`lng`/`longitude` columns, > 1 row | map (points by coordinates) |
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

/// The spec the data shape suggests (see [`infer_chart`]).
fn infer(shape: &Shape) -> ChartSpec {
    let table = ChartSpec::inferred(ChartType::Table);
    if shape.rows == 0 || shape.columns.is_empty() {
        return table;
    }
    let measures = shape.with_role(Role::Measure);
    let times = shape.with_role(Role::Time);
    let categories = shape.with_role(Role::Category);
    if shape.rows > 1
        && let Some(spec) = super::kinds::fill(shape, ChartType::Map, None, &[], None)
    {
        return ChartSpec {
            inferred: true,
            ..spec
        };
    }
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
        T::Treemap | T::Funnel | T::Radar | T::Candlestick | T::Map => {
            return super::kinds::fill(shape, chart_type, x, y, series);
        }
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
