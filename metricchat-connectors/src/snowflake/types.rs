//! Snowflake result sets (JSON partitions of text values) to Arrow.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The Arrow type of a Snowflake column (see the module docs).
pub(super) fn arrow_type(rt: &RowType) -> DataType {
    let scale = rt.scale.unwrap_or(0);
    let fine = scale > 6;
    let unit = if fine {
        TimeUnit::Nanosecond
    } else {
        TimeUnit::Microsecond
    };
    match rt.kind.to_ascii_lowercase().as_str() {
        "fixed" => {
            let precision = rt.precision.unwrap_or(38).clamp(1, 38);
            if scale == 0 && precision <= 18 {
                DataType::Int64
            } else {
                let precision = u8::try_from(precision).unwrap_or(38);
                let scale = i8::try_from(scale.clamp(0, 37)).unwrap_or(0);
                DataType::Decimal128(precision, scale.min(i8::try_from(precision).unwrap_or(38)))
            }
        }
        "real" | "float" | "double" => DataType::Float64,
        "boolean" => DataType::Boolean,
        "date" => DataType::Date32,
        "time" => DataType::Time64(unit),
        "timestamp_ntz" => DataType::Timestamp(unit, None),
        "timestamp_ltz" | "timestamp_tz" => DataType::Timestamp(unit, Some("UTC".into())),
        "binary" => DataType::Binary,
        _ => DataType::Utf8,
    }
}

/// The schema of a result.
pub(super) fn schema_of(row_types: &[RowType]) -> SchemaRef {
    Arc::new(Schema::new(
        row_types
            .iter()
            .map(|rt| Field::new(&rt.name, arrow_type(rt), rt.nullable))
            .collect::<Vec<_>>(),
    ))
}

/// Converts text rows to a batch of `schema`.
pub(super) fn to_batch(
    connector: &str,
    schema: &SchemaRef,
    row_types: &[RowType],
    rows: &Rows,
) -> Result<RecordBatch> {
    let columns = row_types
        .iter()
        .zip(schema.fields())
        .enumerate()
        .map(|(i, (rt, field))| {
            let values = rows.iter().map(|r| r.get(i).and_then(|v| v.as_deref()));
            column(connector, rt, field.data_type(), values)
        })
        .collect::<Result<Vec<_>>>()?;
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows.len()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &options,
    )?)
}

pub(super) fn column<'a>(
    connector: &str,
    rt: &RowType,
    data_type: &DataType,
    values: impl Iterator<Item = Option<&'a str>>,
) -> Result<ArrayRef> {
    let bad = |v: &str| {
        conversion_error(
            connector,
            &rt.name,
            format!("cannot read `{v}` as {data_type}"),
        )
    };
    macro_rules! collect {
        ($f:expr) => {
            values
                .map(|v| match v {
                    None => Ok(None),
                    Some(s) => $f(s).map(Some).ok_or_else(|| bad(s)),
                })
                .collect::<Result<Vec<_>>>()?
        };
    }
    let digits = |unit: &TimeUnit| {
        if matches!(unit, TimeUnit::Nanosecond) {
            9
        } else {
            6
        }
    };
    Ok(match data_type {
        DataType::Int64 => Arc::new(Int64Array::from(collect!(|s: &str| s
            .trim()
            .parse::<i64>()
            .ok()))),
        DataType::Decimal128(p, s) => {
            let scale = u32::try_from(*s).unwrap_or(0);
            let v = collect!(|t: &str| parse_scaled(t, scale, false));
            Arc::new(Decimal128Array::from(v).with_precision_and_scale(*p, *s)?)
        }
        DataType::Float64 => Arc::new(Float64Array::from(collect!(|s: &str| s
            .trim()
            .parse::<f64>()
            .ok()))),
        DataType::Boolean => Arc::new(BooleanArray::from(collect!(|s: &str| match s.trim() {
            "true" | "TRUE" | "1" => Some(true),
            "false" | "FALSE" | "0" => Some(false),
            _ => None,
        }))),
        DataType::Date32 => Arc::new(Date32Array::from(collect!(|s: &str| s
            .trim()
            .parse::<i32>()
            .ok()))),
        DataType::Time64(unit) => {
            let n = digits(unit);
            let v =
                collect!(|s: &str| parse_scaled(s, n, true).and_then(|x| i64::try_from(x).ok()));
            match unit {
                TimeUnit::Nanosecond => Arc::new(PrimitiveArray::<Time64NanosecondType>::from(v)),
                _ => Arc::new(PrimitiveArray::<Time64MicrosecondType>::from(v)),
            }
        }
        DataType::Timestamp(unit, tz) => {
            let n = digits(unit);
            let v = collect!(|s: &str| epoch_instant(s, n));
            match unit {
                TimeUnit::Nanosecond => Arc::new(
                    PrimitiveArray::<TimestampNanosecondType>::from(v)
                        .with_timezone_opt(tz.clone()),
                ),
                _ => Arc::new(
                    PrimitiveArray::<TimestampMicrosecondType>::from(v)
                        .with_timezone_opt(tz.clone()),
                ),
            }
        }
        DataType::Binary => {
            let v: Vec<Option<Vec<u8>>> = collect!(decode_hex);
            Arc::new(BinaryArray::from_iter(v))
        }
        _ => Arc::new(StringArray::from_iter(values)),
    })
}

/// The instant of a `timestamp_*` value in `10^-digits` seconds since the epoch.
///
/// `timestamp_tz` values carry the row's offset after the epoch: `<epoch> <offset + 1440>`, the
/// offset in minutes shifted to be positive (`1500` is UTC+01:00). The epoch is already the UTC
/// instant (the offset only says how the row was written), so it is kept exactly; the offset
/// must be well-formed (0 to 2880) but is not part of the value (see the module docs).
pub(super) fn epoch_instant(text: &str, digits: u32) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let epoch = parts.next()?;
    if let Some(offset) = parts.next() {
        let shifted: i32 = offset.parse().ok()?;
        if !(0..=2880).contains(&shifted) || parts.next().is_some() {
            return None;
        }
    }
    i64::try_from(parse_scaled(epoch, digits, true)?).ok()
}

/// The offset of a `timestamp_tz` value in minutes east of UTC (`"1704067200.0 1500"` → 60).
pub fn timestamp_tz_offset_minutes(text: &str) -> Option<i32> {
    let shifted: i32 = text.split_whitespace().nth(1)?.parse().ok()?;
    (0..=2880).contains(&shifted).then_some(shifted - 1440)
}
