//! PostgreSQL binary values to Arrow: the column builders and the decoders of binary formats.

#[allow(clippy::wildcard_imports)]
use super::*;

/// PostgreSQL's epoch (2000-01-01) in days and microseconds since the Unix epoch.
pub(super) const PG_EPOCH_DAYS: i32 = 10_957;
pub(super) const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// One result column being converted to Arrow.
pub(super) enum ColBuilder {
    Bool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    Oid(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    NumericText(StringBuilder),
    Text(StringBuilder),
    Jsonb(StringBuilder),
    Uuid(StringBuilder),
    Bytes(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
    Interval(IntervalMonthDayNanoBuilder),
    Void(usize),
    List {
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        child: Box<ColBuilder>,
    },
}

impl ColBuilder {
    pub(super) fn for_type(column: &str, ty: &PgTypeInfo, typmod: Option<i32>) -> Result<Self> {
        if let PgTypeKind::Array(elem) = ty.kind() {
            let child = Self::for_type(column, elem, typmod)?;
            if matches!(child, ColBuilder::List { .. }) {
                return Err(unsupported(column, ty));
            }
            return Ok(ColBuilder::List {
                offsets: vec![0],
                nulls: NullBufferBuilder::new(0),
                child: Box::new(child),
            });
        }
        match ty.kind() {
            PgTypeKind::Enum(_) => return Ok(ColBuilder::Text(StringBuilder::new())),
            PgTypeKind::Domain(base) => return Self::for_type(column, base, typmod),
            _ => {}
        }
        let Some(oid) = ty.oid() else {
            return Err(unsupported(column, ty));
        };
        Ok(match oid.0 {
            16 => ColBuilder::Bool(BooleanBuilder::new()),
            21 => ColBuilder::I16(Int16Builder::new()),
            23 => ColBuilder::I32(Int32Builder::new()),
            20 => ColBuilder::I64(Int64Builder::new()),
            26 => ColBuilder::Oid(Int64Builder::new()),
            700 => ColBuilder::F32(Float32Builder::new()),
            701 => ColBuilder::F64(Float64Builder::new()),
            1700 => match typmod.map(numeric_precision_scale) {
                Some((p, s)) if (1..=38).contains(&p) => {
                    let (p, s) = (u8::try_from(p).unwrap_or(38), i8::try_from(s).unwrap_or(0));
                    ColBuilder::Decimal(
                        Decimal128Builder::new().with_data_type(DataType::Decimal128(p, s)),
                        p,
                        s,
                    )
                }
                _ => ColBuilder::NumericText(StringBuilder::new()),
            },
            25 | 1043 | 1042 | 19 | 18 | 142 | 114 => ColBuilder::Text(StringBuilder::new()),
            3802 => ColBuilder::Jsonb(StringBuilder::new()),
            2950 => ColBuilder::Uuid(StringBuilder::new()),
            17 => ColBuilder::Bytes(BinaryBuilder::new()),
            1082 => ColBuilder::Date(Date32Builder::new()),
            1083 => ColBuilder::Time(Time64MicrosecondBuilder::new()),
            1114 => ColBuilder::Timestamp(TimestampMicrosecondBuilder::new()),
            1184 => {
                ColBuilder::TimestampTz(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            1186 => ColBuilder::Interval(IntervalMonthDayNanoBuilder::new()),
            2278 => ColBuilder::Void(0),
            _ if ty.name().eq_ignore_ascii_case("citext") => ColBuilder::Text(StringBuilder::new()),
            _ => return Err(unsupported(column, ty)),
        })
    }

    pub(super) fn data_type(&self) -> DataType {
        match self {
            ColBuilder::Bool(_) => DataType::Boolean,
            ColBuilder::I16(_) => DataType::Int16,
            ColBuilder::I32(_) => DataType::Int32,
            ColBuilder::I64(_) | ColBuilder::Oid(_) => DataType::Int64,
            ColBuilder::F32(_) => DataType::Float32,
            ColBuilder::F64(_) => DataType::Float64,
            ColBuilder::Decimal(_, p, s) => DataType::Decimal128(*p, *s),
            ColBuilder::NumericText(_)
            | ColBuilder::Text(_)
            | ColBuilder::Jsonb(_)
            | ColBuilder::Uuid(_) => DataType::Utf8,
            ColBuilder::Bytes(_) => DataType::Binary,
            ColBuilder::Date(_) => DataType::Date32,
            ColBuilder::Time(_) => DataType::Time64(TimeUnit::Microsecond),
            ColBuilder::Timestamp(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
            ColBuilder::TimestampTz(_) => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            ColBuilder::Interval(_) => DataType::Interval(IntervalUnit::MonthDayNano),
            ColBuilder::Void(_) => DataType::Null,
            ColBuilder::List { child, .. } => {
                DataType::List(Arc::new(Field::new("item", child.data_type(), true)))
            }
        }
    }

    pub(super) fn append_null(&mut self) {
        match self {
            ColBuilder::Bool(b) => b.append_null(),
            ColBuilder::I16(b) => b.append_null(),
            ColBuilder::I32(b) => b.append_null(),
            ColBuilder::I64(b) | ColBuilder::Oid(b) => b.append_null(),
            ColBuilder::F32(b) => b.append_null(),
            ColBuilder::F64(b) => b.append_null(),
            ColBuilder::Decimal(b, _, _) => b.append_null(),
            ColBuilder::NumericText(b)
            | ColBuilder::Text(b)
            | ColBuilder::Jsonb(b)
            | ColBuilder::Uuid(b) => b.append_null(),
            ColBuilder::Bytes(b) => b.append_null(),
            ColBuilder::Date(b) => b.append_null(),
            ColBuilder::Time(b) => b.append_null(),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampTz(b) => b.append_null(),
            ColBuilder::Interval(b) => b.append_null(),
            ColBuilder::Void(n) => *n += 1,
            ColBuilder::List { offsets, nulls, .. } => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
                nulls.append_null();
            }
        }
    }

    /// Appends one binary-format value.
    pub(super) fn append(&mut self, v: &[u8]) -> std::result::Result<(), String> {
        match self {
            ColBuilder::Bool(b) => b.append_value(fixed::<1>(v)?[0] != 0),
            ColBuilder::I16(b) => b.append_value(i16::from_be_bytes(fixed(v)?)),
            ColBuilder::I32(b) => b.append_value(i32::from_be_bytes(fixed(v)?)),
            ColBuilder::I64(b) => b.append_value(i64::from_be_bytes(fixed(v)?)),
            ColBuilder::Oid(b) => b.append_value(i64::from(u32::from_be_bytes(fixed(v)?))),
            ColBuilder::F32(b) => b.append_value(f32::from_be_bytes(fixed(v)?)),
            ColBuilder::F64(b) => b.append_value(f64::from_be_bytes(fixed(v)?)),
            ColBuilder::Decimal(b, _, s) => {
                let text = numeric_text(v)?;
                b.append_value(decimal_from_text(&text, *s)?);
            }
            ColBuilder::NumericText(b) => b.append_value(numeric_text(v)?),
            ColBuilder::Text(b) => b.append_value(utf8(v)?),
            ColBuilder::Jsonb(b) => match v.split_first() {
                Some((1, rest)) => b.append_value(utf8(rest)?),
                _ => return Err("unknown jsonb binary version".into()),
            },
            ColBuilder::Uuid(b) => b.append_value(uuid_text(&fixed::<16>(v)?)),
            ColBuilder::Bytes(b) => b.append_value(v),
            ColBuilder::Void(n) => *n += 1,
            ColBuilder::Date(b) => {
                let d = i32::from_be_bytes(fixed(v)?);
                match d.checked_add(PG_EPOCH_DAYS) {
                    Some(d) if d != i32::MAX && d != i32::MIN => b.append_value(d),
                    _ => b.append_null(),
                }
            }
            ColBuilder::Time(b) => b.append_value(i64::from_be_bytes(fixed(v)?)),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampTz(b) => {
                let t = i64::from_be_bytes(fixed(v)?);
                if t == i64::MAX || t == i64::MIN {
                    b.append_null();
                } else {
                    b.append_value(t.saturating_add(PG_EPOCH_MICROS));
                }
            }
            ColBuilder::Interval(b) => {
                let raw = fixed::<16>(v)?;
                let micros = i64::from_be_bytes(take8(&raw[0..8]));
                let days = i32::from_be_bytes(take4(&raw[8..12]));
                let months = i32::from_be_bytes(take4(&raw[12..16]));
                b.append_value(IntervalMonthDayNano::new(
                    months,
                    days,
                    micros.saturating_mul(1000),
                ));
            }
            ColBuilder::List {
                offsets,
                nulls,
                child,
            } => {
                let elems = array_elements(v)?;
                let n = i32::try_from(elems.len()).map_err(|_| "array too long".to_string())?;
                for e in elems {
                    match e {
                        Some(bytes) => child.append(bytes)?,
                        None => child.append_null(),
                    }
                }
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last + n);
                nulls.append_non_null();
            }
        }
        Ok(())
    }
}

impl ArrowColumn for ColBuilder {
    fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Bool(b) => Arc::new(b.finish()),
            ColBuilder::I16(b) => Arc::new(b.finish()),
            ColBuilder::I32(b) => Arc::new(b.finish()),
            ColBuilder::I64(b) | ColBuilder::Oid(b) => Arc::new(b.finish()),
            ColBuilder::F32(b) => Arc::new(b.finish()),
            ColBuilder::F64(b) => Arc::new(b.finish()),
            ColBuilder::Decimal(b, _, _) => Arc::new(b.finish()),
            ColBuilder::NumericText(b)
            | ColBuilder::Text(b)
            | ColBuilder::Jsonb(b)
            | ColBuilder::Uuid(b) => Arc::new(b.finish()),
            ColBuilder::Bytes(b) => Arc::new(b.finish()),
            ColBuilder::Date(b) => Arc::new(b.finish()),
            ColBuilder::Time(b) => Arc::new(b.finish()),
            ColBuilder::Timestamp(b) | ColBuilder::TimestampTz(b) => Arc::new(b.finish()),
            ColBuilder::Interval(b) => Arc::new(b.finish()),
            ColBuilder::Void(n) => Arc::new(NullArray::new(std::mem::take(n))),
            ColBuilder::List {
                offsets,
                nulls,
                child,
            } => {
                let field = Arc::new(Field::new("item", child.data_type(), true));
                let values = child.finish();
                let offs = std::mem::replace(offsets, vec![0]);
                let nb = nulls.finish();
                Arc::new(ListArray::new(
                    field,
                    OffsetBuffer::new(offs.into()),
                    values,
                    nb,
                ))
            }
        }
    }
}

pub(super) fn unsupported(column: &str, ty: &PgTypeInfo) -> Error {
    Error::Unsupported(format!(
        "column `{column}` has PostgreSQL type `{}`, which has no Arrow mapping; \
         cast it to text in the query (`{column}::text`)",
        ty.name()
    ))
}

pub(super) fn fixed<const N: usize>(v: &[u8]) -> std::result::Result<[u8; N], String> {
    v.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", v.len()))
}

pub(super) fn take4(v: &[u8]) -> [u8; 4] {
    let mut a = [0u8; 4];
    a.copy_from_slice(&v[..4]);
    a
}

pub(super) fn take8(v: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(&v[..8]);
    a
}

pub(super) fn utf8(v: &[u8]) -> std::result::Result<&str, String> {
    std::str::from_utf8(v).map_err(|e| format!("invalid UTF-8: {e}"))
}

pub(super) fn uuid_text(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

/// Precision and scale from a numeric `atttypmod`.
pub(super) fn numeric_precision_scale(typmod: i32) -> (i32, i32) {
    let t = typmod - 4;
    ((t >> 16) & 0xffff, t & 0xffff)
}

/// The decimal text of a binary `numeric` (base-10000 digits, weight, sign, display scale).
pub(super) fn numeric_text(v: &[u8]) -> std::result::Result<String, String> {
    if v.len() < 8 {
        return Err("short numeric value".into());
    }
    let u16_at = |i: usize| u16::from_be_bytes([v[i], v[i + 1]]);
    let ndigits = usize::from(u16_at(0));
    let weight = i32::from(i16::from_be_bytes([v[2], v[3]]));
    let sign = u16_at(4);
    let dscale = usize::from(u16_at(6));
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    if v.len() < 8 + 2 * ndigits {
        return Err("short numeric value".into());
    }
    let digit = |i: i32| -> u16 {
        usize::try_from(i)
            .ok()
            .filter(|i| *i < ndigits)
            .map_or(0, |i| u16_at(8 + 2 * i))
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for p in 0..=weight {
            let d = digit(p);
            if p == 0 {
                out.push_str(&d.to_string());
            } else {
                out.push_str(&format!("{d:04}"));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let groups = i32::try_from(dscale.div_ceil(4)).unwrap_or(i32::MAX);
        for g in 1..=groups {
            frac.push_str(&format!("{:04}", digit(weight + g)));
        }
        frac.truncate(dscale);
        out.push('.');
        out.push_str(&frac);
    }
    Ok(out)
}

/// The elements of a one-dimensional binary array (`None` for NULL elements).
pub(super) fn array_elements(v: &[u8]) -> std::result::Result<Vec<Option<&[u8]>>, String> {
    let short = || "short array value".to_string();
    let i32_at = |i: usize| -> std::result::Result<i32, String> {
        v.get(i..i + 4)
            .map(|b| i32::from_be_bytes(take4(b)))
            .ok_or_else(short)
    };
    let ndim = i32_at(0)?;
    if ndim == 0 {
        return Ok(Vec::new());
    }
    if ndim != 1 {
        return Err(format!(
            "{ndim}-dimensional arrays are not supported; unnest them or cast to text"
        ));
    }
    let len = usize::try_from(i32_at(12)?).map_err(|_| short())?;
    let mut pos = 20;
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        let n = i32_at(pos)?;
        pos += 4;
        if n < 0 {
            out.push(None);
        } else {
            let n = usize::try_from(n).map_err(|_| short())?;
            out.push(Some(v.get(pos..pos + n).ok_or_else(short)?));
            pos += n;
        }
    }
    Ok(out)
}
