//! BigQuery result pages (JSON rows) to Arrow.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The Arrow field of a BigQuery field (see the module docs).
pub(super) fn arrow_field(f: &BqField, top: bool) -> Field {
    let base = base_type(f);
    let repeated = f
        .mode
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("REPEATED"));
    let required = f
        .mode
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("REQUIRED"));
    if repeated {
        let item = Field::new("item", base, true);
        Field::new(&f.name, DataType::List(Arc::new(item)), true)
    } else {
        Field::new(&f.name, base, !(top && required))
    }
}

pub(super) fn base_type(f: &BqField) -> DataType {
    let num = |s: &Option<String>| s.as_deref().and_then(|v| v.parse::<u8>().ok());
    match f.kind.to_ascii_uppercase().as_str() {
        "INT64" | "INTEGER" => DataType::Int64,
        "FLOAT64" | "FLOAT" => DataType::Float64,
        // A parameterized `NUMERIC(P)` comes with a precision and no scale: its scale is 0
        // (BigQuery's TableFieldSchema); only the unparameterized type has scale 9 (38).
        "NUMERIC" => {
            let p = num(&f.precision).unwrap_or(38).clamp(1, 38);
            let default = if f.precision.is_some() { 0 } else { 9 };
            let s = num(&f.scale).map_or(default, |s| i8::try_from(s).unwrap_or(9));
            DataType::Decimal128(p, s)
        }
        "BIGNUMERIC" => {
            let p = num(&f.precision).unwrap_or(76).clamp(1, 76);
            let default = if f.precision.is_some() { 0 } else { 38 };
            let s = num(&f.scale).map_or(default, |s| i8::try_from(s).unwrap_or(38));
            DataType::Decimal256(p, s)
        }
        "BOOL" | "BOOLEAN" => DataType::Boolean,
        "BYTES" => DataType::Binary,
        "DATE" => DataType::Date32,
        "TIME" => DataType::Time64(TimeUnit::Microsecond),
        "DATETIME" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "TIMESTAMP" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "RECORD" | "STRUCT" => DataType::Struct(Fields::from(
            f.fields
                .iter()
                .map(|c| arrow_field(c, false))
                .collect::<Vec<_>>(),
        )),
        _ => DataType::Utf8,
    }
}

pub(super) fn schema_of(fields: &[BqField]) -> SchemaRef {
    Arc::new(Schema::new(
        fields
            .iter()
            .map(|f| arrow_field(f, true))
            .collect::<Vec<_>>(),
    ))
}

/// Converts `rows` (`{"f": [{"v": …}]}`) to a batch of `schema`.
pub(super) fn to_batch(
    connector: &str,
    schema: &SchemaRef,
    fields: &[BqField],
    rows: &[Value],
) -> Result<RecordBatch> {
    let columns = fields
        .iter()
        .zip(schema.fields())
        .enumerate()
        .map(|(i, (f, af))| {
            let values: Vec<&Value> = rows
                .iter()
                .map(|r| {
                    cells(r)
                        .get(i)
                        .and_then(|c| c.get("v"))
                        .unwrap_or(&Value::Null)
                })
                .collect();
            build(connector, f, af.data_type(), &values)
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &options,
    )?)
}

/// Builds one column from its `v` values.
pub(super) fn build(
    connector: &str,
    f: &BqField,
    data_type: &DataType,
    values: &[&Value],
) -> Result<ArrayRef> {
    if let DataType::List(item) = data_type {
        let mut offsets = Vec::with_capacity(values.len());
        let mut flat: Vec<&Value> = Vec::new();
        for v in values {
            if let Some(items) = v.as_array() {
                flat.extend(items.iter().map(|i| i.get("v").unwrap_or(&Value::Null)));
            }
            offsets.push(flat.len());
        }
        let element = BqField {
            mode: Some("NULLABLE".into()),
            ..f.clone()
        };
        let child = build(connector, &element, item.data_type(), &flat)?;
        let offsets = OffsetBuffer::<i32>::from_lengths(
            std::iter::once(0)
                .chain(offsets.iter().copied())
                .collect::<Vec<_>>()
                .windows(2)
                .map(|w| w[1] - w[0]),
        );
        return Ok(Arc::new(ListArray::try_new(
            item.clone(),
            offsets,
            child,
            None,
        )?));
    }
    if let DataType::Struct(children) = data_type {
        let valid: Vec<bool> = values.iter().map(|v| !v.is_null()).collect();
        let arrays = f
            .fields
            .iter()
            .zip(children.iter())
            .enumerate()
            .map(|(i, (cf, af))| {
                let vs: Vec<&Value> = values
                    .iter()
                    .map(|v| {
                        cells(v)
                            .get(i)
                            .and_then(|c| c.get("v"))
                            .unwrap_or(&Value::Null)
                    })
                    .collect();
                build(connector, cf, af.data_type(), &vs)
            })
            .collect::<Result<Vec<_>>>()?;
        let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
        return Ok(Arc::new(StructArray::try_new(
            children.clone(),
            arrays,
            nulls,
        )?));
    }
    let bad = |v: &str| {
        conversion_error(
            connector,
            &f.name,
            format!("cannot read `{v}` as {data_type}"),
        )
    };
    let text = |v: &&Value| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    macro_rules! collect {
        ($parse:expr) => {
            values
                .iter()
                .map(|v| match text(v) {
                    None => Ok(None),
                    Some(s) => $parse(s.as_str()).map(Some).ok_or_else(|| bad(&s)),
                })
                .collect::<Result<Vec<_>>>()?
        };
    }
    Ok(match data_type {
        DataType::Int64 => Arc::new(Int64Array::from(collect!(|s: &str| s.parse::<i64>().ok()))),
        DataType::Float64 => Arc::new(Float64Array::from(collect!(|s: &str| s
            .parse::<f64>()
            .ok()))),
        DataType::Decimal128(p, s) => {
            let scale = u32::try_from(*s).unwrap_or(0);
            let v = collect!(|t: &str| parse_scaled(t, scale, false));
            Arc::new(Decimal128Array::from(v).with_precision_and_scale(*p, *s)?)
        }
        DataType::Decimal256(p, s) => {
            let scale = u32::try_from(*s).unwrap_or(0);
            let v = collect!(|t: &str| parse_scaled_256(t, scale));
            Arc::new(Decimal256Array::from(v).with_precision_and_scale(*p, *s)?)
        }
        DataType::Boolean => Arc::new(BooleanArray::from(collect!(|s: &str| match s {
            "true" | "TRUE" => Some(true),
            "false" | "FALSE" => Some(false),
            _ => None,
        }))),
        DataType::Binary => {
            let v: Vec<Option<Vec<u8>>> =
                collect!(|s: &str| base64::engine::general_purpose::STANDARD.decode(s).ok());
            Arc::new(BinaryArray::from_iter(v))
        }
        DataType::Date32 => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            Arc::new(Date32Array::from(collect!(|s: &str| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| i32::try_from((d - epoch).num_days()).ok())
            })))
        }
        DataType::Time64(_) => Arc::new(Time64MicrosecondArray::from(collect!(|s: &str| {
            NaiveTime::parse_from_str(s, "%H:%M:%S%.f").ok().map(|t| {
                i64::from(t.num_seconds_from_midnight()) * 1_000_000
                    + i64::from(t.nanosecond() / 1000)
            })
        }))),
        DataType::Timestamp(_, None) => {
            Arc::new(TimestampMicrosecondArray::from(collect!(|s: &str| {
                NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                    .ok()
                    .map(|d| d.and_utc().timestamp_micros())
            })))
        }
        DataType::Timestamp(_, tz) => {
            // Float seconds ("1.7000000001234561E9"), or int64 microseconds with
            // `formatOptions.useInt64Timestamp`; both parsed exactly.
            let v = collect!(|s: &str| {
                if s.contains(['.', 'E', 'e']) {
                    parse_scaled(s, 6, true).and_then(|x| i64::try_from(x).ok())
                } else {
                    s.parse::<i64>().ok()
                }
            });
            Arc::new(TimestampMicrosecondArray::from(v).with_timezone_opt(tz.clone()))
        }
        _ => Arc::new(StringArray::from(
            values.iter().map(text).collect::<Vec<Option<String>>>(),
        )),
    })
}
