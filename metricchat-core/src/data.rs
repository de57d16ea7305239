//! Arrow result helpers: JSON rows for previews, column metadata, and compact text tables for
//! the model's prompt.
//!
//! # JSON encoding of Arrow values
//!
//! [`batches_to_json_rows`] turns each row into a JSON object keyed by column name:
//!
//! | Arrow type | JSON |
//! |---|---|
//! | null, or any null slot | `null` |
//! | boolean | `true` / `false` |
//! | signed and unsigned integers | numbers (exact, also beyond 2^53) |
//! | floats | numbers; NaN and ±infinity become `null` |
//! | decimals | numbers when the value has at most 15 significant digits (it then round-trips exactly through an `f64`); otherwise strings with the full scale, e.g. `"12345678901234567.89"` |
//! | strings (utf8, large, view) | strings |
//! | binary (all widths) | lowercase hex strings, e.g. `"cafe"` |
//! | date32 / date64 | `"2024-01-31"` |
//! | timestamp without time zone | `"2024-01-31T12:30:00"` (fraction only when non-zero) |
//! | timestamp with time zone | RFC 3339 with the zone's offset: `"2024-01-31T12:30:00+02:00"`, `"…Z"` for UTC. Named zones other than UTC need arrow's `chrono-tz` feature; without it the instant is given in UTC (`Z`) |
//! | time32 / time64 | `"12:30:00"` |
//! | list, large list, fixed-size list | arrays |
//! | struct | objects |
//! | map | objects, keys rendered as strings |
//! | dictionary | the decoded value |
//! | anything else (durations, intervals, unions, …) | arrow's display string |
//!
//! When two columns share a name, the later ones get a `_2`, `_3`, … suffix in the row objects.

use std::collections::HashSet;

use arrow::array::{Array, AsArray, timezone::Tz};
use arrow::datatypes::{
    ArrowNativeType, DataType, Date32Type, Date64Type, Float16Type, Float32Type, Float64Type,
    Int8Type, Int16Type, Int32Type, Int64Type, Schema, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::error::Result;

/// Converts up to `max_rows` rows of `batches` into JSON objects keyed by column name.
///
/// See the [module docs](self) for how each Arrow type is encoded.
///
/// ```
/// use std::sync::Arc;
/// use metricchat_core::arrow::array::{Float64Array, RecordBatch, StringArray};
/// use metricchat_core::data::batches_to_json_rows;
///
/// let batch = RecordBatch::try_from_iter([
///     ("region", Arc::new(StringArray::from(vec!["EU", "US"])) as _),
///     ("revenue", Arc::new(Float64Array::from(vec![12.5, f64::NAN])) as _),
/// ])?;
/// let rows = batches_to_json_rows(&[batch], 10)?;
/// assert_eq!(rows[0], serde_json::json!({"region": "EU", "revenue": 12.5}));
/// assert_eq!(rows[1], serde_json::json!({"region": "US", "revenue": null}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn batches_to_json_rows(
    batches: &[RecordBatch],
    max_rows: usize,
) -> Result<Vec<serde_json::Value>> {
    let mut rows = Vec::new();
    for batch in batches {
        let take = max_rows.saturating_sub(rows.len()).min(batch.num_rows());
        if take == 0 {
            if rows.len() >= max_rows {
                break;
            }
            continue;
        }
        let batch = batch.slice(0, take);
        let keys = unique_keys(batch.schema_ref());
        let mut columns = batch
            .columns()
            .iter()
            .map(|column| array_to_json(column.as_ref()).map(Vec::into_iter))
            .collect::<Result<Vec<_>>>()?;
        for _ in 0..take {
            let mut object = Map::with_capacity(keys.len());
            for (key, column) in keys.iter().zip(columns.iter_mut()) {
                object.insert(key.clone(), column.next().unwrap_or(Value::Null));
            }
            rows.push(Value::Object(object));
        }
    }
    Ok(rows)
}

/// The batches as one Arrow IPC *stream* (schema message, then each batch), the format
/// `tableFromIPC` (JavaScript) and `pyarrow.ipc.open_stream` read. `schema` is written even when
/// there are no batches, so an empty result keeps its columns.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Int64Array, RecordBatch};
/// use metricchat_core::data::to_ipc_stream;
///
/// let batch = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1, 2])) as _)])?;
/// let bytes = to_ipc_stream(batch.schema_ref(), &[batch.clone()])?;
/// let back: Vec<_> = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)?
///     .collect::<Result<_, _>>()?;
/// assert_eq!(back, vec![batch]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn to_ipc_stream(schema: &Schema, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut out, schema)?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.finish()?;
    }
    Ok(out)
}

/// A column of a result: its name and displayed Arrow type (built by [`columns_meta`]).
///
/// Also reachable as `events::ColumnMeta`, where the events that carry it live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ColumnMeta {
    /// Name.
    pub name: String,
    /// Arrow type, displayed.
    pub data_type: String,
}

/// Column names and displayed Arrow types of `schema`, for events and the model.
pub fn columns_meta(schema: &Schema) -> Vec<ColumnMeta> {
    schema
        .fields()
        .iter()
        .map(|field| ColumnMeta {
            name: field.name().clone(),
            data_type: field.data_type().to_string(),
        })
        .collect()
}

/// Renders up to `max_rows` rows as a compact markdown pipe table for the model's prompt.
///
/// Values use the same encoding as [`batches_to_json_rows`] (strings unquoted, nested values as
/// compact JSON, nulls as `NULL`). Non-numeric cells longer than `max_cell_chars` characters are cut
/// and end in `…`; numbers are never cut. `|` and line breaks inside cells are escaped. When rows
/// were left out, a last line `… N more rows` says how many.
///
/// ```
/// use std::sync::Arc;
/// use metricchat_core::arrow::array::{Int64Array, RecordBatch, StringArray};
/// use metricchat_core::data::render_text_table;
///
/// let batch = RecordBatch::try_from_iter([
///     ("region", Arc::new(StringArray::from(vec!["EU", "US", "APAC"])) as _),
///     ("orders", Arc::new(Int64Array::from(vec![3, 5, 8])) as _),
/// ])?;
/// let table = render_text_table(&[batch], 2, 40);
/// assert_eq!(table, "| region | orders |\n|---|---|\n| EU | 3 |\n| US | 5 |\n… 1 more rows");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render_text_table(
    batches: &[RecordBatch],
    max_rows: usize,
    max_cell_chars: usize,
) -> String {
    let schema = match batches.first() {
        Some(batch) => batch.schema(),
        None => return "(no rows)".to_owned(),
    };
    if schema.fields().is_empty() {
        return "(no columns)".to_owned();
    }
    let mut out = String::new();
    out.push('|');
    for field in schema.fields() {
        out.push(' ');
        out.push_str(&escape_cell(field.name(), usize::MAX));
        out.push_str(" |");
    }
    out.push('\n');
    out.push('|');
    for _ in schema.fields() {
        out.push_str("---|");
    }
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut shown = 0;
    for batch in batches {
        let take = max_rows.saturating_sub(shown).min(batch.num_rows());
        if take == 0 {
            continue;
        }
        let batch = batch.slice(0, take);
        let columns: Vec<(bool, Vec<Value>)> = batch
            .columns()
            .iter()
            .map(|column| {
                let numeric = column.data_type().is_numeric();
                let values = array_to_json(column.as_ref())
                    .unwrap_or_else(|_| vec![Value::String("?".to_owned()); take]);
                (numeric, values)
            })
            .collect();
        for row in 0..take {
            out.push_str("\n|");
            for (numeric, values) in &columns {
                let text = values.get(row).map(json_to_cell).unwrap_or_default();
                let limit = if *numeric { usize::MAX } else { max_cell_chars };
                out.push(' ');
                out.push_str(&escape_cell(&text, limit));
                out.push_str(" |");
            }
        }
        shown += take;
    }
    if total == 0 {
        out.push_str("\n(0 rows)");
    } else if total > shown {
        out.push_str(&format!("\n… {} more rows", total - shown));
    }
    out
}

/// Row-object keys for `schema`: the column names, with `_2`, `_3`, … added to repeats.
fn unique_keys(schema: &Schema) -> Vec<String> {
    let mut seen = HashSet::new();
    schema
        .fields()
        .iter()
        .map(|field| {
            let name = field.name();
            if seen.insert(name.clone()) {
                return name.clone();
            }
            let mut n = 2;
            loop {
                let candidate = format!("{name}_{n}");
                if seen.insert(candidate.clone()) {
                    return candidate;
                }
                n += 1;
            }
        })
        .collect()
}

/// A JSON value as a table cell: strings bare, `null` as `NULL`, the rest as compact JSON.
fn json_to_cell(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON value as a chart label: strings bare, `null` as `(null)`, the rest as compact JSON.
pub(crate) fn json_to_label(value: &Value) -> String {
    match value {
        Value::Null => "(null)".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Cuts `text` to `limit` characters (adding `…`) and escapes pipes and line breaks.
fn escape_cell(text: &str, limit: usize) -> String {
    let mut out = String::with_capacity(text.len().min(limit.saturating_mul(4)));
    for (count, c) in text.chars().enumerate() {
        if count >= limit {
            out.push('…');
            break;
        }
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Converts every slot of `array` to JSON (see the module docs for the encoding).
pub(crate) fn array_to_json(array: &dyn Array) -> Result<Vec<Value>> {
    let len = array.len();
    let values = match array.data_type() {
        DataType::Null => vec![Value::Null; len],
        DataType::Boolean => array.as_boolean().iter().map(opt(Value::Bool)).collect(),
        DataType::Int8 => ints(array.as_primitive::<Int8Type>().iter()),
        DataType::Int16 => ints(array.as_primitive::<Int16Type>().iter()),
        DataType::Int32 => ints(array.as_primitive::<Int32Type>().iter()),
        DataType::Int64 => ints(array.as_primitive::<Int64Type>().iter()),
        DataType::UInt8 => ints(array.as_primitive::<UInt8Type>().iter()),
        DataType::UInt16 => ints(array.as_primitive::<UInt16Type>().iter()),
        DataType::UInt32 => ints(array.as_primitive::<UInt32Type>().iter()),
        DataType::UInt64 => ints(array.as_primitive::<UInt64Type>().iter()),
        DataType::Float16 => floats(
            array
                .as_primitive::<Float16Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::Float32 => floats(
            array
                .as_primitive::<Float32Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::Float64 => floats(array.as_primitive::<Float64Type>().iter()),
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => displayed(array)?
            .into_iter()
            .map(|value| match value {
                Value::String(text) => decimal_json(text),
                other => other,
            })
            .collect(),
        DataType::Utf8 => strings(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => strings(array.as_string::<i64>().iter()),
        DataType::Utf8View => strings(array.as_string_view().iter()),
        DataType::Binary => hexes(array.as_binary::<i32>().iter()),
        DataType::LargeBinary => hexes(array.as_binary::<i64>().iter()),
        DataType::BinaryView => hexes(array.as_binary_view().iter()),
        DataType::FixedSizeBinary(_) => hexes(array.as_fixed_size_binary().iter()),
        DataType::Date32 => {
            let dates = array.as_primitive::<Date32Type>();
            per_slot(array, |i| {
                dates
                    .value_as_date(i)
                    .map(|d| d.format("%Y-%m-%d").to_string())
            })
        }
        DataType::Date64 => {
            let dates = array.as_primitive::<Date64Type>();
            per_slot(array, |i| {
                dates
                    .value_as_date(i)
                    .map(|d| d.format("%Y-%m-%d").to_string())
            })
        }
        DataType::Timestamp(unit, tz) => timestamps(array, *unit, tz.as_deref())?,
        DataType::Time32(TimeUnit::Second) => {
            let times = array.as_primitive::<Time32SecondType>();
            per_slot(array, |i| times.value_as_time(i).map(format_time))
        }
        DataType::Time32(TimeUnit::Millisecond) => {
            let times = array.as_primitive::<Time32MillisecondType>();
            per_slot(array, |i| times.value_as_time(i).map(format_time))
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let times = array.as_primitive::<Time64MicrosecondType>();
            per_slot(array, |i| times.value_as_time(i).map(format_time))
        }
        DataType::Time64(TimeUnit::Nanosecond) => {
            let times = array.as_primitive::<Time64NanosecondType>();
            per_slot(array, |i| times.value_as_time(i).map(format_time))
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            nested(array, |i| array_to_json(list.value(i).as_ref()))?
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            nested(array, |i| array_to_json(list.value(i).as_ref()))?
        }
        DataType::FixedSizeList(..) => {
            let list = array.as_fixed_size_list();
            nested(array, |i| array_to_json(list.value(i).as_ref()))?
        }
        DataType::Struct(fields) => {
            let strukt = array.as_struct();
            let children = strukt
                .columns()
                .iter()
                .map(|child| array_to_json(child.as_ref()))
                .collect::<Result<Vec<_>>>()?;
            (0..len)
                .map(|i| {
                    if array.is_null(i) {
                        return Value::Null;
                    }
                    let object = fields
                        .iter()
                        .zip(&children)
                        .map(|(field, child)| {
                            (
                                field.name().clone(),
                                child.get(i).cloned().unwrap_or(Value::Null),
                            )
                        })
                        .collect();
                    Value::Object(object)
                })
                .collect()
        }
        DataType::Map(..) => {
            let map = array.as_map();
            let keys = array_to_json(map.keys().as_ref())?;
            let values = array_to_json(map.values().as_ref())?;
            let offsets = map.value_offsets();
            (0..len)
                .map(|i| {
                    if array.is_null(i) {
                        return Value::Null;
                    }
                    let (start, end) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
                    let object = (start..end)
                        .map(|j| {
                            let key = keys.get(j).map(json_to_label).unwrap_or_default();
                            (key, values.get(j).cloned().unwrap_or(Value::Null))
                        })
                        .collect();
                    Value::Object(object)
                })
                .collect()
        }
        DataType::Dictionary(_, value_type) => {
            let decoded = arrow::compute::cast(array, value_type)?;
            array_to_json(decoded.as_ref())?
        }
        _ => displayed(array)?,
    };
    Ok(values)
}

/// `Some(v)` through `f`, `None` as JSON null.
fn opt<T>(f: impl Fn(T) -> Value) -> impl Fn(Option<T>) -> Value {
    move |v| v.map(&f).unwrap_or(Value::Null)
}

fn ints<T: Into<Number>>(iter: impl Iterator<Item = Option<T>>) -> Vec<Value> {
    iter.map(opt(|v: T| Value::Number(v.into()))).collect()
}

fn floats(iter: impl Iterator<Item = Option<f64>>) -> Vec<Value> {
    iter.map(|v| {
        v.and_then(Number::from_f64)
            .map_or(Value::Null, Value::Number)
    })
    .collect()
}

fn strings<'a>(iter: impl Iterator<Item = Option<&'a str>>) -> Vec<Value> {
    iter.map(opt(|s: &str| Value::String(s.to_owned())))
        .collect()
}

fn hexes<'a>(iter: impl Iterator<Item = Option<&'a [u8]>>) -> Vec<Value> {
    iter.map(opt(|bytes: &[u8]| Value::String(hex(bytes))))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// One string per non-null slot from `f` (a failed conversion becomes null).
fn per_slot(array: &dyn Array, f: impl Fn(usize) -> Option<String>) -> Vec<Value> {
    (0..array.len())
        .map(|i| {
            if array.is_null(i) {
                Value::Null
            } else {
                f(i).map_or(Value::Null, Value::String)
            }
        })
        .collect()
}

/// One JSON array per non-null slot, from the converted child values.
fn nested(array: &dyn Array, f: impl Fn(usize) -> Result<Vec<Value>>) -> Result<Vec<Value>> {
    (0..array.len())
        .map(|i| {
            if array.is_null(i) {
                Ok(Value::Null)
            } else {
                f(i).map(Value::Array)
            }
        })
        .collect()
}

/// Arrow's display string for every non-null slot.
fn displayed(array: &dyn Array) -> Result<Vec<Value>> {
    let formatter = ArrayFormatter::try_new(array, &FormatOptions::default())?;
    Ok((0..array.len())
        .map(|i| {
            if array.is_null(i) {
                Value::Null
            } else {
                Value::String(formatter.value(i).to_string())
            }
        })
        .collect())
}

/// A displayed decimal as a JSON number when it has at most 15 significant digits.
fn decimal_json(text: String) -> Value {
    let significant = text
        .chars()
        .filter(char::is_ascii_digit)
        .skip_while(|c| *c == '0')
        .count();
    if significant <= 15
        && let Ok(value) = text.parse::<f64>()
        && let Some(number) = Number::from_f64(value)
    {
        return Value::Number(number);
    }
    Value::String(text)
}

fn format_time(time: chrono::NaiveTime) -> String {
    time.format("%H:%M:%S%.f").to_string()
}

fn format_naive(datetime: NaiveDateTime) -> String {
    datetime.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

fn format_zoned<Z: TimeZone>(datetime: DateTime<Z>) -> String
where
    Z::Offset: std::fmt::Display,
{
    datetime.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// How a timestamp column's zone is rendered.
enum Zone {
    /// No zone: naive local date-time.
    Naive,
    /// A zone arrow can resolve (fixed offsets; named zones with `chrono-tz`).
    Known(Tz),
    /// UTC, or a named zone arrow cannot resolve here: the UTC instant with `Z`.
    Utc,
}

fn timestamps(array: &dyn Array, unit: TimeUnit, tz: Option<&str>) -> Result<Vec<Value>> {
    let zone = match tz {
        None => Zone::Naive,
        Some(name) if is_utc(name) => Zone::Utc,
        Some(name) => name.parse::<Tz>().map_or(Zone::Utc, Zone::Known),
    };
    macro_rules! render {
        ($ty:ty) => {{
            let values = array.as_primitive::<$ty>();
            per_slot(array, |i| match zone {
                Zone::Naive => values.value_as_datetime(i).map(format_naive),
                Zone::Known(tz) => values.value_as_datetime_with_tz(i, tz).map(format_zoned),
                Zone::Utc => values
                    .value_as_datetime(i)
                    .map(|naive| format_zoned(naive.and_utc())),
            })
        }};
    }
    Ok(match unit {
        TimeUnit::Second => render!(TimestampSecondType),
        TimeUnit::Millisecond => render!(TimestampMillisecondType),
        TimeUnit::Microsecond => render!(TimestampMicrosecondType),
        TimeUnit::Nanosecond => render!(TimestampNanosecondType),
    })
}

fn is_utc(name: &str) -> bool {
    [
        "utc", "z", "etc/utc", "gmt", "etc/gmt", "+00:00", "+0000", "+00", "-00:00",
    ]
    .contains(&name.to_ascii_lowercase().as_str())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeBinaryArray,
        Float32Array, Float64Array, Int8Array, Int32Array, Int64Array, LargeStringArray, ListArray,
        NullArray, StringArray, StringDictionaryBuilder, StructArray, Time64MicrosecondArray,
        TimestampMicrosecondArray, TimestampMillisecondArray, TimestampSecondArray, UInt64Array,
    };
    use arrow::datatypes::{Field, Int32Type};
    use serde_json::json;

    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn column_json(array: ArrayRef) -> Vec<Value> {
        let rows = batches_to_json_rows(&[batch(vec![("c", array)])], 100).unwrap();
        rows.into_iter().map(|row| row["c"].clone()).collect()
    }

    #[test]
    fn integers_are_exact_json_numbers() {
        assert_eq!(
            column_json(Arc::new(Int64Array::from(vec![
                Some(i64::MAX),
                Some(-3),
                None
            ]))),
            vec![json!(9_223_372_036_854_775_807_i64), json!(-3), Value::Null]
        );
        assert_eq!(
            column_json(Arc::new(UInt64Array::from(vec![u64::MAX]))),
            vec![json!(u64::MAX)]
        );
        assert_eq!(
            column_json(Arc::new(Int8Array::from(vec![-8]))),
            vec![json!(-8)]
        );
    }

    #[test]
    fn floats_are_numbers_and_non_finite_is_null() {
        assert_eq!(
            column_json(Arc::new(Float64Array::from(vec![
                Some(1.5),
                Some(f64::NAN),
                Some(f64::INFINITY),
                None
            ]))),
            vec![json!(1.5), Value::Null, Value::Null, Value::Null]
        );
        assert_eq!(
            column_json(Arc::new(Float32Array::from(vec![
                0.25_f32,
                f32::NEG_INFINITY
            ]))),
            vec![json!(0.25), Value::Null]
        );
    }

    #[test]
    fn decimals_are_numbers_when_exact_else_strings() {
        let decimals = Decimal128Array::from(vec![
            Some(12_345),
            Some(-5),
            None,
            Some(1_234_567_890_123_456_789),
        ])
        .with_precision_and_scale(38, 2)
        .unwrap();
        assert_eq!(
            column_json(Arc::new(decimals)),
            vec![
                json!(123.45),
                json!(-0.05),
                Value::Null,
                json!("12345678901234567.89")
            ]
        );
    }

    #[test]
    fn strings_bools_binary_and_nulls() {
        assert_eq!(
            column_json(Arc::new(StringArray::from(vec![Some("a\"b"), None]))),
            vec![json!("a\"b"), Value::Null]
        );
        assert_eq!(
            column_json(Arc::new(LargeStringArray::from(vec!["big"]))),
            vec![json!("big")]
        );
        assert_eq!(
            column_json(Arc::new(BooleanArray::from(vec![
                Some(true),
                None,
                Some(false)
            ]))),
            vec![json!(true), Value::Null, json!(false)]
        );
        assert_eq!(
            column_json(Arc::new(BinaryArray::from_opt_vec(vec![
                Some(&[0xca, 0xfe][..]),
                None
            ]))),
            vec![json!("cafe"), Value::Null]
        );
        assert_eq!(
            column_json(Arc::new(
                FixedSizeBinaryArray::try_from_iter(vec![vec![0_u8, 255]].into_iter()).unwrap()
            )),
            vec![json!("00ff")]
        );
        assert_eq!(
            column_json(Arc::new(NullArray::new(2))),
            vec![Value::Null, Value::Null]
        );
    }

    #[test]
    fn dates_times_and_timestamps_are_iso_strings() {
        // 19_753 days after 1970-01-01 is 2024-01-31.
        assert_eq!(
            column_json(Arc::new(Date32Array::from(vec![Some(19_753), None]))),
            vec![json!("2024-01-31"), Value::Null]
        );
        let noon = 1_706_702_400_i64; // 2024-01-31T12:00:00Z
        assert_eq!(
            column_json(Arc::new(TimestampSecondArray::from(vec![noon]))),
            vec![json!("2024-01-31T12:00:00")]
        );
        assert_eq!(
            column_json(Arc::new(TimestampMillisecondArray::from(vec![
                noon * 1000 + 250
            ]))),
            vec![json!("2024-01-31T12:00:00.250")]
        );
        assert_eq!(
            column_json(Arc::new(
                TimestampMicrosecondArray::from(vec![noon * 1_000_000]).with_timezone("UTC")
            )),
            vec![json!("2024-01-31T12:00:00Z")]
        );
        assert_eq!(
            column_json(Arc::new(
                TimestampSecondArray::from(vec![Some(noon), None]).with_timezone("+02:00")
            )),
            vec![json!("2024-01-31T14:00:00+02:00"), Value::Null]
        );
        assert_eq!(
            column_json(Arc::new(Time64MicrosecondArray::from(vec![
                (12 * 3600 + 30 * 60) * 1_000_000
            ]))),
            vec![json!("12:30:00")]
        );
    }

    #[test]
    fn lists_structs_and_dictionaries_nest() {
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            None,
            Some(vec![]),
        ]);
        assert_eq!(
            column_json(Arc::new(list)),
            vec![json!([1, null, 3]), Value::Null, json!([])]
        );
        let strukt = StructArray::from(vec![
            (
                Arc::new(Field::new("name", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("n", DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![Some(1), None])) as ArrayRef,
            ),
        ]);
        assert_eq!(
            column_json(Arc::new(strukt)),
            vec![
                json!({"name": "a", "n": 1}),
                json!({"name": "b", "n": null})
            ]
        );
        let mut dict = StringDictionaryBuilder::<Int32Type>::new();
        dict.append_value("x");
        dict.append_null();
        dict.append_value("x");
        assert_eq!(
            column_json(Arc::new(dict.finish())),
            vec![json!("x"), Value::Null, json!("x")]
        );
    }

    #[test]
    fn json_rows_stop_at_max_rows_across_batches_and_dedupe_names() {
        let first = batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            ("id", Arc::new(Int64Array::from(vec![10, 20])) as ArrayRef),
        ]);
        let second = batch(vec![
            ("id", Arc::new(Int64Array::from(vec![3])) as ArrayRef),
            ("id", Arc::new(Int64Array::from(vec![30])) as ArrayRef),
        ]);
        let rows = batches_to_json_rows(&[first.clone(), second.clone()], 3).unwrap();
        assert_eq!(
            rows,
            vec![
                json!({"id": 1, "id_2": 10}),
                json!({"id": 2, "id_2": 20}),
                json!({"id": 3, "id_2": 30})
            ]
        );
        assert_eq!(batches_to_json_rows(&[first, second], 1).unwrap().len(), 1);
    }

    #[test]
    fn columns_meta_lists_names_and_types() {
        let b = batch(vec![
            (
                "region",
                Arc::new(StringArray::from(vec!["EU"])) as ArrayRef,
            ),
            ("n", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ]);
        let meta = columns_meta(b.schema_ref());
        assert_eq!(meta.len(), 2);
        assert_eq!(
            (meta[0].name.as_str(), meta[0].data_type.as_str()),
            ("region", "Utf8")
        );
        assert_eq!(
            (meta[1].name.as_str(), meta[1].data_type.as_str()),
            ("n", "Int64")
        );
    }

    #[test]
    fn text_table_truncates_rows_and_cells() {
        let first = batch(vec![
            (
                "note",
                Arc::new(StringArray::from(vec![
                    Some("short"),
                    Some("a very long note|with pipe"),
                    None,
                ])) as ArrayRef,
            ),
            (
                "amount",
                Arc::new(Float64Array::from(vec![1.25, 123456.789, 3.0])) as ArrayRef,
            ),
        ]);
        let second = first.slice(0, 2);
        let table = render_text_table(&[first, second], 4, 8);
        assert_eq!(
            table,
            "| note | amount |\n|---|---|\n| short | 1.25 |\n| a very l… | 123456.789 |\n\
             | NULL | 3.0 |\n| short | 1.25 |\n… 1 more rows"
        );
        let escaped = render_text_table(
            &[batch(vec![(
                "s",
                Arc::new(StringArray::from(vec!["a|b\nc"])) as ArrayRef,
            )])],
            10,
            100,
        );
        assert_eq!(escaped, "| s |\n|---|\n| a\\|b c |");
    }

    #[test]
    fn text_table_of_empty_results() {
        assert_eq!(render_text_table(&[], 10, 10), "(no rows)");
        let empty = batch(vec![(
            "n",
            Arc::new(Int64Array::from(Vec::<i64>::new())) as ArrayRef,
        )]);
        assert_eq!(
            render_text_table(&[empty], 10, 10),
            "| n |\n|---|\n(0 rows)"
        );
    }
}
