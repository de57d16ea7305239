//! What each column of a result can play in a chart: its [`Role`], from its type, name and values.

use std::collections::HashSet;

use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use super::columns::{concat_column, is_temporal, labels};
use super::{ChartSpec, ChartType};

/// What a column can play in a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
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
pub(super) struct Column {
    pub(super) name: String,
    pub(super) numeric: bool,
    pub(super) role: Role,
    pub(super) distinct: usize,
}

#[derive(Debug, Clone)]
pub(super) struct Shape {
    pub(super) columns: Vec<Column>,
    pub(super) rows: usize,
}

impl Shape {
    pub(super) fn new(schema: &Schema, batches: &[RecordBatch]) -> Self {
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
    pub(super) fn find(&self, name: &str) -> Option<usize> {
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

    pub(super) fn with_role(&self, role: Role) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&i| self.columns[i].role == role)
            .collect()
    }

    /// The first column with one of `roles` (in that order of preference) not in `except`.
    pub(super) fn first(&self, roles: &[Role], except: &[usize]) -> Option<usize> {
        roles.iter().find_map(|role| {
            (0..self.columns.len()).find(|i| self.columns[*i].role == *role && !except.contains(i))
        })
    }

    /// Measures not in `except`, or failing that any numeric columns not in `except`.
    pub(super) fn measures_except(&self, except: &[usize]) -> Vec<usize> {
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
    pub(super) fn project(&self, keep: &[usize]) -> Self {
        Self {
            columns: keep.iter().map(|&i| self.columns[i].clone()).collect(),
            rows: self.rows,
        }
    }

    fn name(&self, i: usize) -> String {
        self.columns[i].name.clone()
    }

    pub(super) fn spec(
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

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Lowercase words of a column name, split at `_`, spaces, digits boundaries and camelCase.
pub(super) fn name_words(name: &str) -> Vec<String> {
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
pub(super) fn iso_like(value: &str) -> bool {
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
