//! The host-side half of data exposure ([`DataExposure`]): the digest of a withheld result in
//! the model's view, and the answer template (`{{q1.total}}`) filled from the run's datasets.

use arrow::array::RecordBatch;
use serde_json::Value;

use super::artifact::Dataset;
use crate::data::{array_to_json, columns_meta, render_text_table};
use crate::exposure::{DataExposure, result_ref, withheld_note};

/// A withheld result as the model may see it: its reference, title, row count, SQL and columns.
pub(crate) fn withheld_digest(exposure: DataExposure, index: usize, q: &Dataset) -> String {
    let r = result_ref(index);
    let columns = columns_meta(&q.data.schema);
    let cols: Vec<String> = columns
        .iter()
        .map(|c| format!("{} ({})", c.name, c.data_type))
        .collect();
    format!(
        "Result {r} {} ({} rows{}):\nSQL: {}\nColumns: {}\n{}\n",
        q.title.as_deref().unwrap_or("query"),
        q.data.num_rows(),
        if q.truncated { ", truncated" } else { "" },
        q.sql,
        cols.join(", "),
        withheld_note(exposure, &r, &columns)
    )
}

// ---- The answer template.

fn cell(batches: &[RecordBatch], column: &str, row: usize) -> Option<Value> {
    let mut skip = row;
    for b in batches {
        if skip >= b.num_rows() {
            skip -= b.num_rows();
            continue;
        }
        let schema = b.schema();
        let i = schema
            .fields()
            .iter()
            .position(|f| f.name() == column)
            .or_else(|| {
                schema
                    .fields()
                    .iter()
                    .position(|f| f.name().eq_ignore_ascii_case(column))
            })?;
        let col = b.column(i).slice(skip, 1);
        return array_to_json(col.as_ref()).ok()?.into_iter().next();
    }
    None
}

/// A value as the answer shows it: text bare, integers whole, other numbers to 2 decimals (4
/// significant digits below 1).
fn format_value(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or_default();
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{f:.0}")
            } else if f.abs() >= 1.0 {
                let s = format!("{f:.2}");
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                let (mut digits, mut x) = (4usize, f.abs());
                while x < 0.1 && digits < 12 {
                    x *= 10.0;
                    digits += 1;
                }
                let s = format!("{f:.digits$}");
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            }
        }
        other => other.to_string(),
    }
}

/// One placeholder's text: `q1.total`, `q2.carrier[3]`, `q1`, `last.total`.
fn fill_one(inner: &str, datasets: &[Dataset]) -> Option<String> {
    let inner = inner.trim();
    let (r, rest) = inner.split_once('.').unwrap_or((inner, ""));
    let r = r.trim().to_ascii_lowercase();
    let q = if r == "last" {
        datasets
            .iter()
            .rev()
            .find(|d| d.title.is_some())
            .or_else(|| datasets.last())?
    } else {
        let n: usize = r.strip_prefix('q')?.parse().ok()?;
        datasets.get(n.checked_sub(1)?)?
    };
    if rest.trim().is_empty() {
        return Some(format!(
            "\n\n{}\n",
            render_text_table(&q.data.batches, 50, 80)
        ));
    }
    let (column, row) = match rest.trim().split_once('[') {
        Some((c, r)) => (c, r.trim_end_matches(']').trim().parse::<usize>().ok()?),
        None => (rest, 1),
    };
    let column = column
        .trim()
        .trim_matches(|c| c == '"' || c == '`' || c == '\'');
    cell(&q.data.batches, column, row.checked_sub(1)?).map(|v| format_value(&v))
}

/// Fills an answer template from the run's `datasets` (in the order they ran): every complete
/// `{{…}}` placeholder becomes its value, one that names nothing becomes
/// `[no value for …]` (never a guess). Returns the text and whether it had any placeholder.
pub(crate) fn fill(text: &str, datasets: &[Dataset]) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut any = false;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        any = true;
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + 2 + len];
        match fill_one(inner, datasets) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&format!("[no value for {}]", inner.trim())),
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    (out, any)
}

/// The answer the host gets: the template filled; when the model wrote no placeholder and the
/// main result (the latest dataset) was withheld from it, that result's table is appended so the
/// answer still carries the values.
pub(crate) fn render_answer(
    text: &str,
    datasets: &[Dataset],
    withheld: &dyn Fn(&Dataset) -> bool,
) -> String {
    let (mut out, any) = fill(text, datasets);
    if !any
        && let Some(main) = datasets
            .iter()
            .rev()
            .find(|d| d.title.is_some())
            .or_else(|| datasets.last())
        && withheld(main)
        && main.data.num_rows() > 0
    {
        out = format!(
            "{}\n\n{}",
            out.trim_end(),
            render_text_table(&main.data.batches, 50, 80)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, StringArray};

    use super::*;
    use crate::connector::QueryData;

    fn dataset(title: Option<&str>) -> Dataset {
        let batch = RecordBatch::try_from_iter(vec![
            (
                "carrier",
                Arc::new(StringArray::from(vec!["Zephyr Air", "Boreal"])) as _,
            ),
            (
                "flights",
                Arc::new(Int64Array::from(vec![91357, 4242])) as _,
            ),
            (
                "delay",
                Arc::new(Float64Array::from(vec![12.3456, 0.0123456])) as _,
            ),
        ])
        .unwrap();
        Dataset {
            query_id: uuid::Uuid::now_v7(),
            title: title.map(str::to_string),
            connection: "c".into(),
            sql: "SELECT 1".into(),
            data: QueryData {
                schema: batch.schema(),
                batches: vec![batch],
            },
            truncated: false,
            duration: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn placeholders_are_filled_from_the_results() {
        let ds = vec![dataset(None), dataset(Some("Flights by carrier"))];
        let (text, any) = fill(
            "{{q2.carrier}} flew {{ q2.flights }} flights, {{last.Carrier[2]}} {{q1.flights[2]}} \
             (delay {{q2.delay}} / {{q2.delay[2]}}); {{q2.nope}} {{q9.flights}} {{q1.flights[3]}}",
            &ds,
        );
        assert!(any);
        assert_eq!(
            text,
            "Zephyr Air flew 91357 flights, Boreal 4242 (delay 12.35 / 0.01235); \
             [no value for q2.nope] [no value for q9.flights] [no value for q1.flights[3]]"
        );
        let (table, _) = fill("Here: {{q2}}", &ds);
        assert!(table.contains("| Zephyr Air | 91357 |"), "{table}");
        // Without placeholders, a withheld main result is appended.
        let out = render_answer("The busiest carrier is shown below.", &ds, &|_| true);
        assert!(out.contains("| Boreal | 4242 |"), "{out}");
        let out = render_answer("Nothing to add.", &ds, &|_| false);
        assert_eq!(out, "Nothing to add.");
        assert_eq!(fill("an {{unfinished", &ds).0, "an {{unfinished");
    }
}
