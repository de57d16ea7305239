//! Comparing results: a run's dataset with a reference (evals), SQL candidates' results with
//! each other (`create_data`'s vote), and an answer's text with expected values.

use std::cmp::Ordering;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::{Deserialize, Serialize};

/// Default relative tolerance for numbers.
pub const DEFAULT_TOLERANCE: f64 = 1e-6;

/// One value of a result, normalised for comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Num(f64),
    Text(String),
}

impl Cell {
    fn display(&self) -> String {
        match self {
            Cell::Null => "NULL".to_string(),
            Cell::Int(i) => i.to_string(),
            Cell::Num(f) => format_num(*f),
            Cell::Text(s) => s.clone(),
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            #[allow(clippy::cast_precision_loss)]
            Cell::Int(i) => Some(*i as f64),
            Cell::Num(f) => Some(*f),
            _ => None,
        }
    }

    /// Order for sorting rows: NULL, numbers, text.
    fn sort_cmp(&self, other: &Cell) -> Ordering {
        fn rank(c: &Cell) -> u8 {
            match c {
                Cell::Null => 0,
                Cell::Int(_) | Cell::Num(_) => 1,
                Cell::Text(_) => 2,
            }
        }
        match (self.as_f64(), other.as_f64()) {
            (Some(a), Some(b)) => a.total_cmp(&b),
            _ => match (self, other) {
                (Cell::Text(a), Cell::Text(b)) => a.cmp(b),
                _ => rank(self).cmp(&rank(other)),
            },
        }
    }
}

fn format_num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        let s = format!("{f:.6}");
        s.trim_end_matches('0').to_string()
    }
}

/// A result as columns of normalised cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub columns: Vec<String>,
    /// `cells[column][row]`.
    pub cells: Vec<Vec<Cell>>,
}

impl Table {
    /// Normalises Arrow batches.
    pub fn from_batches(schema_names: Vec<String>, batches: &[RecordBatch]) -> Table {
        let mut cells: Vec<Vec<Cell>> = vec![Vec::new(); schema_names.len()];
        for batch in batches {
            for (i, col) in batch.columns().iter().enumerate() {
                if let Some(out) = cells.get_mut(i) {
                    out.extend(column_cells(col));
                }
            }
        }
        Table {
            columns: schema_names,
            cells,
        }
    }

    pub fn rows(&self) -> usize {
        self.cells.first().map_or(0, Vec::len)
    }

    /// Whether the result says nothing: no rows, or one row of only zeros and NULLs (a COUNT
    /// or a SUM over a filter that matched nothing).
    pub fn is_nothing(&self) -> bool {
        match self.rows() {
            0 => true,
            1 => self.cells.iter().all(|c| {
                matches!(c[0], Cell::Null | Cell::Int(0))
                    || matches!(c[0], Cell::Num(f) if f == 0.0)
            }),
            _ => false,
        }
    }

    /// The table as display strings, at most `limit` rows.
    pub fn preview(&self, limit: usize) -> TablePreview {
        let n = self.rows();
        TablePreview {
            columns: self.columns.clone(),
            rows: (0..n.min(limit))
                .map(|r| self.cells.iter().map(|c| c[r].display()).collect())
                .collect(),
            total_rows: n,
        }
    }
}

fn column_cells(col: &ArrayRef) -> Vec<Cell> {
    let n = col.len();
    let dt = col.data_type();
    if dt.is_integer()
        && let Ok(a) = arrow::compute::cast(col, &DataType::Int64)
    {
        let a = a.as_primitive::<Int64Type>();
        return (0..n)
            .map(|i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Int(a.value(i))
                }
            })
            .collect();
    }
    if (dt.is_floating() || matches!(dt, DataType::Decimal128(..) | DataType::Decimal256(..)))
        && let Ok(a) = arrow::compute::cast(col, &DataType::Float64)
    {
        let a = a.as_primitive::<Float64Type>();
        return (0..n)
            .map(|i| {
                if a.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Num(a.value(i))
                }
            })
            .collect();
    }
    let options = FormatOptions::default();
    match ArrayFormatter::try_new(col.as_ref(), &options) {
        Ok(f) => (0..n)
            .map(|i| {
                if col.is_null(i) {
                    Cell::Null
                } else {
                    text_cell(f.value(i).to_string())
                }
            })
            .collect(),
        Err(_) => vec![Cell::Null; n],
    }
}

/// Text, or a number when the engine returned a number as text (SQLite `NUMERIC`, decimals as
/// strings).
fn text_cell(s: String) -> Cell {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Cell::Int(i);
    }
    if t.contains('.')
        && let Ok(f) = t.parse::<f64>()
    {
        return Cell::Num(f);
    }
    Cell::Text(t.to_string())
}

/// A result as display strings, for reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TablePreview {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows (at most a report's preview limit).
    pub rows: Vec<Vec<String>>,
    /// Rows in the whole result.
    pub total_rows: usize,
}

/// Decimals written in `f`'s shortest representation (at most 9).
fn decimals(f: f64) -> u32 {
    let s = format!("{f}");
    match s.split_once('.') {
        Some((_, frac)) => u32::try_from(frac.len().min(9)).unwrap_or(9),
        None => 0,
    }
}

fn round_to(f: f64, decimals: u32) -> f64 {
    let p = 10f64.powi(i32::try_from(decimals).unwrap_or(9));
    (f * p).round() / p
}

/// Whether `got` stands for `expected`: within `tol` relative, or `expected` rounded to the
/// decimals `got` shows (to a whole number only within 1%).
pub(crate) fn numbers_match(expected: f64, got: f64, tol: f64) -> bool {
    if expected == got || (expected - got).abs() <= tol * expected.abs().max(1e-12) {
        return true;
    }
    let k = decimals(got);
    let rounded = round_to(expected, k);
    if (rounded - got).abs() > 1e-9 * got.abs().max(1.0) {
        return false;
    }
    k > 0 || (expected - got).abs() <= 0.01 * expected.abs()
}

fn cells_match(expected: &Cell, got: &Cell, tol: f64) -> bool {
    match (expected, got) {
        (Cell::Null, Cell::Null) => true,
        (Cell::Int(a), Cell::Int(b)) => a == b,
        (Cell::Text(a), Cell::Text(b)) => a == b,
        (e, g) => match (e.as_f64(), g.as_f64()) {
            (Some(a), Some(b)) => numbers_match(a, b, tol),
            _ => false,
        },
    }
}

/// Why a dataset differs from the reference.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mismatch {
    /// The row counts differ.
    RowCount { expected: usize, got: usize },
    /// No column of the result holds the values of a reference column.
    MissingColumn {
        column: String,
        expected: Vec<String>,
    },
    /// Each column matches somewhere, but not as whole rows (or not in order).
    Rows { detail: String },
}

impl Mismatch {
    pub fn describe(&self) -> String {
        match self {
            Mismatch::RowCount { expected, got } => {
                format!("expected {expected} row(s), got {got}")
            }
            Mismatch::MissingColumn { column, expected } => format!(
                "no column of the result holds the values of `{column}` (expected {})",
                expected.join(", ")
            ),
            Mismatch::Rows { detail } => detail.clone(),
        }
    }
}

/// Compares `got` against `expected`: same rows (in order when `ordered`), every expected
/// column found among `got`'s (extra columns allowed, names and order ignored).
pub(crate) fn compare_tables(
    expected: &Table,
    got: &Table,
    ordered: bool,
    tol: f64,
) -> Result<(), Mismatch> {
    let (n, r) = (expected.rows(), got.rows());
    if n != r {
        return Err(Mismatch::RowCount {
            expected: n,
            got: r,
        });
    }
    // Candidate result columns for each expected column: the same values (as a multiset, or
    // as a sequence when ordered).
    let mut candidates: Vec<Vec<usize>> = Vec::with_capacity(expected.columns.len());
    for (j, ecol) in expected.cells.iter().enumerate() {
        let cands: Vec<usize> = got
            .cells
            .iter()
            .enumerate()
            .filter(|(_, gcol)| column_matches(ecol, gcol, ordered, tol))
            .map(|(i, _)| i)
            .collect();
        if cands.is_empty() {
            return Err(Mismatch::MissingColumn {
                column: expected.columns[j].clone(),
                expected: ecol.iter().take(5).map(Cell::display).collect(),
            });
        }
        candidates.push(cands);
    }
    // An injective assignment whose rows match as a whole.
    let mut chosen = Vec::with_capacity(candidates.len());
    let mut budget = 20_000u32;
    if assign(
        expected,
        got,
        &candidates,
        &mut chosen,
        ordered,
        tol,
        &mut budget,
    ) {
        Ok(())
    } else {
        Err(Mismatch::Rows {
            detail: if ordered {
                "every column's values appear, but not in the reference's row order or not \
                 together in the same rows"
                    .to_string()
            } else {
                "every column's values appear, but not together in the same rows".to_string()
            },
        })
    }
}

/// Whether two results say the same thing: as many rows, and every column of the narrower one
/// holds the same values as a column of the other, together in the same rows (names, column
/// order and row order ignored; numbers within `tol`). Extra columns (a count beside a name)
/// do not make two results disagree.
pub(crate) fn tables_agree(a: &Table, b: &Table, tol: f64) -> bool {
    let (narrow, wide) = if a.columns.len() <= b.columns.len() {
        (a, b)
    } else {
        (b, a)
    };
    compare_tables(narrow, wide, false, tol).is_ok()
}

fn column_matches(e: &[Cell], g: &[Cell], ordered: bool, tol: f64) -> bool {
    if ordered {
        return e.iter().zip(g).all(|(a, b)| cells_match(a, b, tol));
    }
    let mut es: Vec<&Cell> = e.iter().collect();
    let mut gs: Vec<&Cell> = g.iter().collect();
    es.sort_by(|a, b| a.sort_cmp(b));
    gs.sort_by(|a, b| a.sort_cmp(b));
    es.iter().zip(&gs).all(|(a, b)| cells_match(a, b, tol))
}

fn assign(
    expected: &Table,
    got: &Table,
    candidates: &[Vec<usize>],
    chosen: &mut Vec<usize>,
    ordered: bool,
    tol: f64,
    budget: &mut u32,
) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let j = chosen.len();
    if j == candidates.len() {
        return rows_match(expected, got, chosen, ordered, tol);
    }
    for &c in &candidates[j] {
        if chosen.contains(&c) {
            continue;
        }
        chosen.push(c);
        if assign(expected, got, candidates, chosen, ordered, tol, budget) {
            return true;
        }
        chosen.pop();
    }
    false
}

fn rows_match(expected: &Table, got: &Table, cols: &[usize], ordered: bool, tol: f64) -> bool {
    let n = expected.rows();
    let erow = |r: usize| -> Vec<&Cell> { expected.cells.iter().map(|c| &c[r]).collect() };
    let grow = |r: usize| -> Vec<&Cell> { cols.iter().map(|&c| &got.cells[c][r]).collect() };
    let row_eq = |a: &[&Cell], b: &[&Cell]| a.iter().zip(b).all(|(x, y)| cells_match(x, y, tol));
    if ordered {
        return (0..n).all(|r| row_eq(&erow(r), &grow(r)));
    }
    let cmp = |a: &Vec<&Cell>, b: &Vec<&Cell>| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.sort_cmp(y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    };
    let mut es: Vec<Vec<&Cell>> = (0..n).map(erow).collect();
    let mut gs: Vec<Vec<&Cell>> = (0..n).map(grow).collect();
    es.sort_by(cmp);
    gs.sort_by(cmp);
    if es.iter().zip(&gs).all(|(a, b)| row_eq(a, b)) {
        return true;
    }
    // Sorting can separate rows that match within tolerance; fall back to greedy matching on
    // small results.
    if n > 2_000 {
        return false;
    }
    let mut used = vec![false; n];
    es.iter().all(|e| {
        let hit = gs
            .iter()
            .enumerate()
            .find(|(i, g)| !used[*i] && row_eq(e, g))
            .map(|(i, _)| i);
        match hit {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

/// Whether the outermost query of `sql` orders its rows (an `ORDER BY` outside parentheses,
/// quotes and comments).
pub(crate) fn orders_rows(sql: &str) -> bool {
    crate::text::outermost_query(sql)
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| w[0] == "ORDER" && w[1] == "BY")
}

/// Numbers written in `text` (`111,279` → 111279; `20.2%` → 20.2).
pub(crate) fn numbers_in(text: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts = c.is_ascii_digit()
            || (c == '-'
                && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                && (i == 0 || !chars[i - 1].is_alphanumeric()));
        if !starts || (i > 0 && (chars[i - 1].is_ascii_digit() || chars[i - 1] == '.')) {
            i += 1;
            continue;
        }
        let mut s = String::new();
        if c == '-' {
            s.push('-');
            i += 1;
        }
        while i < chars.len() {
            let d = chars[i];
            if d.is_ascii_digit() {
                s.push(d);
            } else if d == ','
                && chars
                    .get(i + 1..i + 4)
                    .is_some_and(|w| w.iter().all(char::is_ascii_digit))
                && !chars.get(i + 4).is_some_and(char::is_ascii_digit)
            {
                // A thousands separator.
            } else if d == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                s.push('.');
            } else {
                break;
            }
            i += 1;
        }
        if let Ok(f) = s.parse::<f64>() {
            out.push(f);
        }
    }
    out
}

/// Whether `answer` contains `value`: numbers by [`numbers_match`] in either direction of
/// rounding, text case-insensitively with whitespace collapsed.
pub(crate) fn answer_contains(answer: &str, value: &str) -> bool {
    let v = value.trim();
    let numeric = v
        .trim_start_matches(['$', '€', '£'])
        .trim_end_matches('%')
        .replace(',', "");
    if let Ok(expected) = numeric.trim().parse::<f64>() {
        return numbers_in(answer).into_iter().any(|got| {
            numbers_match(expected, got, DEFAULT_TOLERANCE)
                || numbers_match(got, expected, DEFAULT_TOLERANCE)
        });
    }
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    norm(answer).contains(&norm(v))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn table(cols: Vec<(&str, ArrayRef)>) -> Table {
        let schema = Schema::new(
            cols.iter()
                .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        let names = cols.iter().map(|(n, _)| n.to_string()).collect();
        let batch =
            RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|(_, a)| a).collect())
                .unwrap();
        Table::from_batches(names, &[batch])
    }

    fn s(v: &[&str]) -> ArrayRef {
        Arc::new(StringArray::from(v.to_vec()))
    }
    fn f(v: &[f64]) -> ArrayRef {
        Arc::new(Float64Array::from(v.to_vec()))
    }
    fn i(v: &[i64]) -> ArrayRef {
        Arc::new(Int64Array::from(v.to_vec()))
    }

    /// Candidates agree on what they say, not on how they name or order it.
    #[test]
    fn results_agree_whatever_their_names_order_or_extra_columns() {
        let a = table(vec![
            ("name", s(&["Frontier", "ExpressJet"])),
            ("n", i(&[2, 1])),
        ]);
        let b = table(vec![
            ("airline", s(&["ExpressJet", "Frontier"])),
            ("cnt", i(&[1, 2])),
        ]);
        let narrow = table(vec![("x", s(&["Frontier", "ExpressJet"]))]);
        assert!(tables_agree(&a, &b, 1e-6));
        assert!(tables_agree(&narrow, &a, 1e-6) && tables_agree(&a, &narrow, 1e-6));
        let other = table(vec![
            ("name", s(&["Frontier", "ExpressJet"])),
            ("n", i(&[1, 2])),
        ]);
        assert!(
            !tables_agree(&a, &other, 1e-6),
            "the same names with other counts"
        );
        let shorter = table(vec![("name", s(&["Frontier"]))]);
        assert!(!tables_agree(&a, &shorter, 1e-6));
    }

    #[test]
    fn zeros_and_nulls_in_one_row_say_nothing() {
        assert!(table(vec![("n", i(&[0]))]).is_nothing());
        assert!(table(vec![("n", i(&[0])), ("avg", f(&[0.0]))]).is_nothing());
        assert!(table(vec![("n", i(&[]))]).is_nothing());
        assert!(!table(vec![("n", i(&[3]))]).is_nothing());
        assert!(!table(vec![("n", i(&[0, 0]))]).is_nothing());
        assert!(!table(vec![("name", s(&["x"])), ("n", i(&[0]))]).is_nothing());
    }

    #[test]
    fn rounding_and_tolerance() {
        assert!(numbers_match(20.2155, 20.22, 1e-6));
        assert!(numbers_match(20.2155, 20.2, 1e-6));
        assert!(!numbers_match(20.2155, 20.3, 1e-6));
        assert!(
            !numbers_match(20.2155, 20.0, 1e-6),
            "whole-number rounding beyond 1%"
        );
        assert!(numbers_match(245.6, 246.0, 1e-6));
        assert!(!numbers_match(111_279.0, 111_280.0, 1e-6));
        assert!(numbers_match(0.123_456_789, 0.123_456_79, 1e-6));
    }

    #[test]
    fn extra_columns_and_column_order_are_ignored() {
        let e = table(vec![("carrier", s(&["F9"])), ("avg", f(&[20.2155]))]);
        let g = table(vec![
            ("name", s(&["Frontier"])),
            ("avg_delay", f(&[20.22])),
            ("c", s(&["F9"])),
        ]);
        assert_eq!(compare_tables(&e, &g, true, 1e-6), Ok(()));
    }

    #[test]
    fn row_order_matters_only_when_ordered() {
        let e = table(vec![("k", s(&["a", "b"])), ("v", i(&[1, 2]))]);
        let g = table(vec![("k", s(&["b", "a"])), ("v", i(&[2, 1]))]);
        assert_eq!(compare_tables(&e, &g, false, 1e-6), Ok(()));
        assert!(compare_tables(&e, &g, true, 1e-6).is_err());
        let crossed = table(vec![("k", s(&["a", "b"])), ("v", i(&[2, 1]))]);
        assert!(matches!(
            compare_tables(&e, &crossed, false, 1e-6),
            Err(Mismatch::Rows { .. })
        ));
    }

    #[test]
    fn wrong_values_and_row_counts_are_named() {
        let e = table(vec![("n", i(&[111_279]))]);
        let g = table(vec![("n", i(&[104_662]))]);
        assert!(matches!(
            compare_tables(&e, &g, false, 1e-6),
            Err(Mismatch::MissingColumn { .. })
        ));
        let g2 = table(vec![("n", i(&[1, 2]))]);
        assert_eq!(
            compare_tables(&e, &g2, false, 1e-6),
            Err(Mismatch::RowCount {
                expected: 1,
                got: 2
            })
        );
    }

    #[test]
    fn order_by_is_found_only_outermost() {
        assert!(orders_rows("SELECT a FROM t ORDER BY a DESC LIMIT 1"));
        assert!(!orders_rows(
            "SELECT * FROM (SELECT a FROM t ORDER BY a LIMIT 5) s"
        ));
        assert!(!orders_rows("SELECT 'order by' FROM t"));
    }

    #[test]
    fn answers_match_numbers_with_formatting() {
        assert!(answer_contains("JFK had 111,279 departures.", "111,279"));
        assert!(answer_contains("JFK had 111279 departures.", "111,279"));
        assert!(answer_contains("about 20.22 minutes", "20.2"));
        assert!(answer_contains("about 20.2 minutes", "20.2155"));
        assert!(!answer_contains("about 21 minutes", "20.2"));
        assert!(answer_contains("Frontier Airlines Inc.", "frontier"));
        assert!(answer_contains("a drop of -3.5%", "-3.5"));
        assert_eq!(
            numbers_in("1,234,567 and 2.5, 3"),
            vec![1_234_567.0, 2.5, 3.0]
        );
    }
}
