//! MySQL binary values to Arrow: the column builders and the decoders of binary formats.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Microseconds in a day.
pub(super) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// One result column being converted to Arrow.
pub(super) enum ColBuilder {
    Bool(BooleanBuilder),
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    U8(UInt8Builder),
    U16(UInt16Builder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    Bit(UInt64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Decimal128(Decimal128Builder, u8, i8),
    Decimal256(Decimal256Builder, u8, i8),
    Text(StringBuilder),
    Bytes(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampUtc(TimestampMicrosecondBuilder),
    Null(usize),
}

impl ColBuilder {
    pub(super) fn for_type(
        column: &str,
        ty: &MySqlTypeInfo,
        decimal: Option<(u8, i8)>,
    ) -> Result<Self> {
        let is_text = <str as sqlx::Type<MySql>>::compatible(ty);
        Ok(match ty.name() {
            "BOOLEAN" => ColBuilder::Bool(BooleanBuilder::new()),
            "TINYINT" => ColBuilder::I8(Int8Builder::new()),
            "SMALLINT" => ColBuilder::I16(Int16Builder::new()),
            "MEDIUMINT" | "INT" => ColBuilder::I32(Int32Builder::new()),
            "BIGINT" => ColBuilder::I64(Int64Builder::new()),
            "TINYINT UNSIGNED" => ColBuilder::U8(UInt8Builder::new()),
            "SMALLINT UNSIGNED" | "YEAR" => ColBuilder::U16(UInt16Builder::new()),
            "MEDIUMINT UNSIGNED" | "INT UNSIGNED" => ColBuilder::U32(UInt32Builder::new()),
            "BIGINT UNSIGNED" => ColBuilder::U64(UInt64Builder::new()),
            "BIT" => ColBuilder::Bit(UInt64Builder::new()),
            "FLOAT" => ColBuilder::F32(Float32Builder::new()),
            "DOUBLE" => ColBuilder::F64(Float64Builder::new()),
            "DECIMAL" => match decimal {
                Some((p, s)) if (1..=38).contains(&p) => ColBuilder::Decimal128(
                    Decimal128Builder::new().with_data_type(DataType::Decimal128(p, s)),
                    p,
                    s,
                ),
                Some((p, s)) if (39..=76).contains(&p) => ColBuilder::Decimal256(
                    Decimal256Builder::new().with_data_type(DataType::Decimal256(p, s)),
                    p,
                    s,
                ),
                _ => ColBuilder::Text(StringBuilder::new()),
            },
            "DATE" => ColBuilder::Date(Date32Builder::new()),
            "TIME" => ColBuilder::Time(Time64MicrosecondBuilder::new()),
            "DATETIME" => ColBuilder::Timestamp(TimestampMicrosecondBuilder::new()),
            "TIMESTAMP" => {
                ColBuilder::TimestampUtc(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            "NULL" => ColBuilder::Null(0),
            "JSON" | "ENUM" | "SET" => ColBuilder::Text(StringBuilder::new()),
            "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "BINARY"
            | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
                if is_text {
                    ColBuilder::Text(StringBuilder::new())
                } else {
                    ColBuilder::Bytes(BinaryBuilder::new())
                }
            }
            other => {
                return Err(Error::Unsupported(format!(
                    "column `{column}` has MySQL type `{other}`, which has no Arrow mapping; \
                     convert it in the query (`CAST({column} AS CHAR)`, `ST_AsText({column})`)"
                )));
            }
        })
    }

    pub(super) fn data_type(&self) -> DataType {
        match self {
            ColBuilder::Bool(_) => DataType::Boolean,
            ColBuilder::I8(_) => DataType::Int8,
            ColBuilder::I16(_) => DataType::Int16,
            ColBuilder::I32(_) => DataType::Int32,
            ColBuilder::I64(_) => DataType::Int64,
            ColBuilder::U8(_) => DataType::UInt8,
            ColBuilder::U16(_) => DataType::UInt16,
            ColBuilder::U32(_) => DataType::UInt32,
            ColBuilder::U64(_) | ColBuilder::Bit(_) => DataType::UInt64,
            ColBuilder::F32(_) => DataType::Float32,
            ColBuilder::F64(_) => DataType::Float64,
            ColBuilder::Decimal128(_, p, s) => DataType::Decimal128(*p, *s),
            ColBuilder::Decimal256(_, p, s) => DataType::Decimal256(*p, *s),
            ColBuilder::Text(_) => DataType::Utf8,
            ColBuilder::Bytes(_) => DataType::Binary,
            ColBuilder::Date(_) => DataType::Date32,
            ColBuilder::Time(_) => DataType::Time64(TimeUnit::Microsecond),
            ColBuilder::Timestamp(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColBuilder::TimestampUtc(_) => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            ColBuilder::Null(_) => DataType::Null,
        }
    }

    pub(super) fn append_null(&mut self) {
        match self {
            ColBuilder::Bool(b) => b.append_null(),
            ColBuilder::I8(b) => b.append_null(),
            ColBuilder::I16(b) => b.append_null(),
            ColBuilder::I32(b) => b.append_null(),
            ColBuilder::I64(b) => b.append_null(),
            ColBuilder::U8(b) => b.append_null(),
            ColBuilder::U16(b) => b.append_null(),
            ColBuilder::U32(b) => b.append_null(),
            ColBuilder::U64(b) | ColBuilder::Bit(b) => b.append_null(),
            ColBuilder::F32(b) => b.append_null(),
            ColBuilder::F64(b) => b.append_null(),
            ColBuilder::Decimal128(b, _, _) => b.append_null(),
            ColBuilder::Decimal256(b, _, _) => b.append_null(),
            ColBuilder::Text(b) => b.append_null(),
            ColBuilder::Bytes(b) => b.append_null(),
            ColBuilder::Date(b) => b.append_null(),
            ColBuilder::Time(b) => b.append_null(),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampUtc(b) => b.append_null(),
            ColBuilder::Null(n) => *n += 1,
        }
    }

    /// Appends one binary-protocol value.
    pub(super) fn append(&mut self, v: &[u8]) -> std::result::Result<(), String> {
        match self {
            ColBuilder::Bool(b) => b.append_value(fixed::<1>(v)?[0] != 0),
            ColBuilder::I8(b) => b.append_value(i8::from_le_bytes(fixed(v)?)),
            ColBuilder::I16(b) => b.append_value(i16::from_le_bytes(fixed(v)?)),
            ColBuilder::I32(b) => b.append_value(i32::from_le_bytes(fixed(v)?)),
            ColBuilder::I64(b) => b.append_value(i64::from_le_bytes(fixed(v)?)),
            ColBuilder::U8(b) => b.append_value(u8::from_le_bytes(fixed(v)?)),
            ColBuilder::U16(b) => b.append_value(u16::from_le_bytes(fixed(v)?)),
            ColBuilder::U32(b) => b.append_value(u32::from_le_bytes(fixed(v)?)),
            ColBuilder::U64(b) => b.append_value(u64::from_le_bytes(fixed(v)?)),
            ColBuilder::Bit(b) => {
                if v.len() > 8 {
                    return Err(format!("BIT value of {} bytes", v.len()));
                }
                b.append_value(v.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)));
            }
            ColBuilder::F32(b) => b.append_value(f32::from_le_bytes(fixed(v)?)),
            ColBuilder::F64(b) => b.append_value(f64::from_le_bytes(fixed(v)?)),
            ColBuilder::Decimal128(b, _, s) => {
                b.append_value(decimal_from_text(utf8(v)?, *s)?);
            }
            ColBuilder::Decimal256(b, _, s) => {
                b.append_value(decimal256_from_text(utf8(v)?, *s)?);
            }
            ColBuilder::Text(b) => b.append_value(utf8(v)?),
            ColBuilder::Bytes(b) => b.append_value(v),
            ColBuilder::Date(b) => match date_days(v)? {
                Some(d) => b.append_value(d),
                None => b.append_null(),
            },
            ColBuilder::Time(b) => b.append_value(time_micros(v)?),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampUtc(b) => match datetime_micros(v)? {
                Some(t) => b.append_value(t),
                None => b.append_null(),
            },
            ColBuilder::Null(n) => *n += 1,
        }
        Ok(())
    }
}

impl ArrowColumn for ColBuilder {
    fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Bool(b) => Arc::new(b.finish()),
            ColBuilder::I8(b) => Arc::new(b.finish()),
            ColBuilder::I16(b) => Arc::new(b.finish()),
            ColBuilder::I32(b) => Arc::new(b.finish()),
            ColBuilder::I64(b) => Arc::new(b.finish()),
            ColBuilder::U8(b) => Arc::new(b.finish()),
            ColBuilder::U16(b) => Arc::new(b.finish()),
            ColBuilder::U32(b) => Arc::new(b.finish()),
            ColBuilder::U64(b) | ColBuilder::Bit(b) => Arc::new(b.finish()),
            ColBuilder::F32(b) => Arc::new(b.finish()),
            ColBuilder::F64(b) => Arc::new(b.finish()),
            ColBuilder::Decimal128(b, _, _) => Arc::new(b.finish()),
            ColBuilder::Decimal256(b, _, _) => Arc::new(b.finish()),
            ColBuilder::Text(b) => Arc::new(b.finish()),
            ColBuilder::Bytes(b) => Arc::new(b.finish()),
            ColBuilder::Date(b) => Arc::new(b.finish()),
            ColBuilder::Time(b) => Arc::new(b.finish()),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampUtc(b) => Arc::new(b.finish()),
            ColBuilder::Null(n) => Arc::new(NullArray::new(std::mem::take(n))),
        }
    }
}

pub(super) fn fixed<const N: usize>(v: &[u8]) -> std::result::Result<[u8; N], String> {
    v.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", v.len()))
}

pub(super) fn utf8(v: &[u8]) -> std::result::Result<&str, String> {
    std::str::from_utf8(v).map_err(|e| format!("invalid UTF-8: {e}"))
}

/// Days since the Unix epoch of a civil date, `None` for MySQL's zero dates.
pub(super) fn civil_days(year: u16, month: u8, day: u8) -> Option<i64> {
    if year == 0 || month == 0 || day == 0 || month > 12 || day > 31 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let (y, m, d) = (i64::from(year), i64::from(month), i64::from(day));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// A binary `DATE`: length byte, then year (u16 LE), month, day.
pub(super) fn date_days(v: &[u8]) -> std::result::Result<Option<i32>, String> {
    let (len, rest) = v.split_first().ok_or("empty DATE value")?;
    if *len == 0 {
        return Ok(None);
    }
    if rest.len() < 4 {
        return Err("short DATE value".into());
    }
    let days = civil_days(u16::from_le_bytes([rest[0], rest[1]]), rest[2], rest[3]);
    days.map(|d| i32::try_from(d).map_err(|_| "DATE out of range".to_string()))
        .transpose()
}

/// A binary `DATETIME`/`TIMESTAMP`: length byte (0, 4, 7 or 11), then year, month, day, hour,
/// minute, second, microsecond.
pub(super) fn datetime_micros(v: &[u8]) -> std::result::Result<Option<i64>, String> {
    let (len, rest) = v.split_first().ok_or("empty DATETIME value")?;
    let len = usize::from(*len);
    if len == 0 {
        return Ok(None);
    }
    if rest.len() < len || len < 4 {
        return Err("short DATETIME value".into());
    }
    let Some(days) = civil_days(u16::from_le_bytes([rest[0], rest[1]]), rest[2], rest[3]) else {
        return Ok(None);
    };
    let (h, m, s) = if len >= 7 {
        (i64::from(rest[4]), i64::from(rest[5]), i64::from(rest[6]))
    } else {
        (0, 0, 0)
    };
    let micros = if len >= 11 {
        i64::from(u32::from_le_bytes([rest[7], rest[8], rest[9], rest[10]]))
    } else {
        0
    };
    Ok(Some(
        days * MICROS_PER_DAY + ((h * 60 + m) * 60 + s) * 1_000_000 + micros,
    ))
}

/// A binary `TIME`: length byte (0, 8 or 12), sign, days (u32 LE), hour, minute, second,
/// microsecond; only times of day fit Time64.
pub(super) fn time_micros(v: &[u8]) -> std::result::Result<i64, String> {
    let (len, rest) = v.split_first().ok_or("empty TIME value")?;
    let len = usize::from(*len);
    if len == 0 {
        return Ok(0);
    }
    if rest.len() < len || len < 8 {
        return Err("short TIME value".into());
    }
    let negative = rest[0] != 0;
    let days = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]);
    let (h, m, s) = (i64::from(rest[5]), i64::from(rest[6]), i64::from(rest[7]));
    let micros = if len >= 12 {
        i64::from(u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]))
    } else {
        0
    };
    let total = ((h * 60 + m) * 60 + s) * 1_000_000 + micros;
    if days != 0 || (negative && total != 0) {
        let sign = if negative { "-" } else { "" };
        return Err(format!(
            "TIME {sign}{}:{m:02}:{s:02} is not a time of day and does not fit Time64; \
             cast it in the query (CAST(… AS CHAR) or TIME_TO_SEC(…))",
            i64::from(days) * 24 + h
        ));
    }
    Ok(total)
}
