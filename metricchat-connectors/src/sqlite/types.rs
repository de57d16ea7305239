//! SQLite values to Arrow: storage classes, column kinds, builders and date/time parsing.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The storage class of one SQLite value, borrowed from the row (no copy, no allocation).
#[derive(Clone, Copy)]
pub(super) enum Cell<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl Val {
    pub(super) fn cell(&self) -> Cell<'_> {
        match self {
            Val::Null => Cell::Null,
            Val::Int(i) => Cell::Int(*i),
            Val::Real(f) => Cell::Real(*f),
            Val::Text(t) => Cell::Text(t),
            Val::Blob(b) => Cell::Blob(b),
        }
    }
}

impl Cell<'_> {
    pub(super) fn to_owned_val(self) -> Val {
        match self {
            Cell::Null => Val::Null,
            Cell::Int(i) => Val::Int(i),
            Cell::Real(f) => Val::Real(f),
            Cell::Text(t) => Val::Text(t.to_string()),
            Cell::Blob(b) => Val::Blob(b.to_vec()),
        }
    }
}

/// Reads one value by its storage class, borrowing text and blobs from the row.
pub(super) fn read_cell<'r>(v: SqliteValueRef<'r>) -> std::result::Result<Cell<'r>, String> {
    #[derive(Clone, Copy)]
    enum Storage {
        Int,
        Real,
        Text,
        Blob,
    }
    if v.is_null() {
        return Ok(Cell::Null);
    }
    // The storage class's name is a fixed string: no allocation.
    let storage = match v.type_info().name() {
        "INTEGER" => Storage::Int,
        "REAL" => Storage::Real,
        "BLOB" => Storage::Blob,
        _ => Storage::Text,
    };
    let e = |e: sqlx::error::BoxDynError| e.to_string();
    Ok(match storage {
        Storage::Int => Cell::Int(<i64 as Decode<Sqlite>>::decode(v).map_err(e)?),
        Storage::Real => Cell::Real(<f64 as Decode<Sqlite>>::decode(v).map_err(e)?),
        Storage::Blob => Cell::Blob(<&[u8] as Decode<Sqlite>>::decode(v).map_err(e)?),
        Storage::Text => Cell::Text(<&str as Decode<Sqlite>>::decode(v).map_err(e)?),
    })
}

/// The rows of the batch being built: column builders once every column's type is known,
/// owned values before that.
pub(super) struct BatchBuilder {
    pub(super) names: Vec<String>,
    pub(super) kinds: Vec<Option<Kind>>,
    pub(super) schema: Option<SchemaRef>,
    pub(super) builders: Option<Vec<ColumnBuilder>>,
    pub(super) pending: Vec<Vec<Val>>,
    pub(super) rows: usize,
}

impl BatchBuilder {
    pub(super) fn new(names: Vec<String>, kinds: Vec<Option<Kind>>) -> Self {
        let builders = kinds
            .iter()
            .map(|k| k.map(|k| ColumnBuilder::new(k, FIRST_ROWS, FIRST_ROWS * 16)))
            .collect::<Option<Vec<_>>>();
        Self {
            names,
            kinds,
            schema: None,
            builders,
            pending: Vec::new(),
            rows: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.rows
    }

    pub(super) fn push_row(
        &mut self,
        row: &sqlx::sqlite::SqliteRow,
        connector: &str,
    ) -> Result<()> {
        match &mut self.builders {
            Some(builders) => {
                for (i, b) in builders.iter_mut().enumerate() {
                    let v = row.try_get_raw(i).map_err(|e| query_error(connector, e))?;
                    read_cell(v)
                        .and_then(|c| b.append(c))
                        .map_err(|m| conversion_error(connector, &self.names[i], m))?;
                }
            }
            None => {
                let mut vals = Vec::with_capacity(self.names.len());
                for (i, col) in self.names.iter().enumerate() {
                    let v = row.try_get_raw(i).map_err(|e| query_error(connector, e))?;
                    let cell = read_cell(v).map_err(|m| conversion_error(connector, col, m))?;
                    vals.push(cell.to_owned_val());
                }
                self.pending.push(vals);
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Ends the batch; the first call also settles open column types and sends the schema.
    pub(super) fn finish(
        &mut self,
        schema_tx: &mut Option<SchemaReply>,
        connector: &str,
    ) -> Result<RecordBatch> {
        if self.builders.is_none() {
            let pending = std::mem::take(&mut self.pending);
            for (i, k) in self.kinds.iter_mut().enumerate() {
                if k.is_none() {
                    let first = pending.iter().find_map(|r| Kind::from_value(&r[i]));
                    // Integers and reals mixed in one column (an expression over NUMERIC
                    // values, `CASE … THEN 1 ELSE 0.5 END`) read as Float64.
                    let any_real = pending.iter().any(|r| matches!(r[i], Val::Real(_)));
                    *k = Some(match first {
                        Some(Kind::Int) if any_real => Kind::Real,
                        Some(kind) => kind,
                        None => Kind::Text,
                    });
                }
            }
            let mut builders: Vec<ColumnBuilder> = self
                .kinds
                .iter()
                .map(|k| ColumnBuilder::new(k.unwrap_or(Kind::Text), FIRST_ROWS, FIRST_ROWS * 16))
                .collect();
            for row in &pending {
                for (i, (b, v)) in builders.iter_mut().zip(row).enumerate() {
                    b.append(v.cell())
                        .map_err(|m| conversion_error(connector, &self.names[i], m))?;
                }
            }
            self.builders = Some(builders);
        }
        let schema = match &self.schema {
            Some(s) => s.clone(),
            None => {
                let s: SchemaRef = Arc::new(Schema::new(
                    self.names
                        .iter()
                        .zip(&self.kinds)
                        .map(|(n, k)| Field::new(n, k.unwrap_or(Kind::Text).data_type(), true))
                        .collect::<Vec<_>>(),
                ));
                if let Some(tx) = schema_tx.take() {
                    let _ = tx.send(Ok(s.clone()));
                }
                self.schema = Some(s.clone());
                s
            }
        };
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .flatten()
            .map(ColumnBuilder::finish)
            .collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(schema, arrays)?)
    }
}

/// An Arrow builder for one column, chosen once from the column's [`Kind`].
pub(super) enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Real(Float64Builder),
    Text(StringBuilder),
    Blob(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Datetime(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    pub(super) fn new(kind: Kind, rows: usize, bytes: usize) -> Self {
        match kind {
            Kind::Bool => Self::Bool(BooleanBuilder::with_capacity(rows)),
            Kind::Int => Self::Int(Int64Builder::with_capacity(rows)),
            Kind::Real => Self::Real(Float64Builder::with_capacity(rows)),
            Kind::Text => Self::Text(StringBuilder::with_capacity(rows, bytes)),
            Kind::Blob => Self::Blob(BinaryBuilder::with_capacity(rows, bytes)),
            Kind::Date => Self::Date(Date32Builder::with_capacity(rows)),
            Kind::Time => Self::Time(Time64MicrosecondBuilder::with_capacity(rows)),
            Kind::Datetime => Self::Datetime(TimestampMicrosecondBuilder::with_capacity(rows)),
        }
    }

    pub(super) fn kind(&self) -> Kind {
        match self {
            Self::Bool(_) => Kind::Bool,
            Self::Int(_) => Kind::Int,
            Self::Real(_) => Kind::Real,
            Self::Text(_) => Kind::Text,
            Self::Blob(_) => Kind::Blob,
            Self::Date(_) => Kind::Date,
            Self::Time(_) => Kind::Time,
            Self::Datetime(_) => Kind::Datetime,
        }
    }

    /// Appends one value, converted to the column's type, or says why it does not fit.
    pub(super) fn append(&mut self, v: Cell<'_>) -> std::result::Result<(), String> {
        let kind = self.kind();
        macro_rules! put {
            ($b:expr, $conv:expr) => {{
                match v {
                    Cell::Null => $b.append_null(),
                    v => match $conv(v) {
                        Some(x) => $b.append_value(x),
                        None => return Err(mismatch(kind, v)),
                    },
                }
            }};
        }
        match self {
            Self::Bool(b) => put!(b, |v| match v {
                Cell::Int(i) => Some(i != 0),
                Cell::Real(f) => Some(f != 0.0),
                Cell::Text(t) if t.eq_ignore_ascii_case("true") => Some(true),
                Cell::Text(t) if t.eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            }),
            Self::Int(b) => put!(b, |v| match v {
                Cell::Int(i) => Some(i),
                #[allow(clippy::cast_possible_truncation)]
                Cell::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
                Cell::Text(t) => t.trim().parse().ok(),
                _ => None,
            }),
            Self::Real(b) => put!(b, |v| match v {
                #[allow(clippy::cast_precision_loss)]
                Cell::Int(i) => Some(i as f64),
                Cell::Real(f) => Some(f),
                Cell::Text(t) => t.trim().parse().ok(),
                _ => None,
            }),
            Self::Text(b) => match v {
                Cell::Null => b.append_null(),
                Cell::Text(t) => b.append_value(t),
                Cell::Int(i) => b.append_value(i.to_string()),
                Cell::Real(f) => b.append_value(f.to_string()),
                Cell::Blob(bytes) => match std::str::from_utf8(bytes) {
                    Ok(t) => b.append_value(t),
                    Err(_) => return Err(mismatch(kind, v)),
                },
            },
            Self::Blob(b) => put!(b, |v| match v {
                Cell::Blob(bytes) => Some(bytes),
                Cell::Text(t) => Some(t.as_bytes()),
                _ => None,
            }),
            Self::Date(b) => put!(b, |v| match v {
                Cell::Text(t) => parse_date(t),
                _ => None,
            }),
            Self::Time(b) => put!(b, |v| match v {
                Cell::Text(t) => parse_time(t),
                _ => None,
            }),
            Self::Datetime(b) => put!(b, |v| match v {
                Cell::Text(t) => parse_datetime(t),
                Cell::Int(secs) => secs.checked_mul(1_000_000),
                _ => None,
            }),
        }
        Ok(())
    }

    /// The column so far; the builder starts over, sized like the batch it just made.
    pub(super) fn finish(&mut self) -> ArrayRef {
        macro_rules! done {
            ($b:expr, $t:ident) => {{
                let a = $b.finish();
                *$b = $t::with_capacity(a.len());
                Arc::new(a) as ArrayRef
            }};
            ($b:expr, $t:ident, bytes) => {{
                let a = $b.finish();
                *$b = $t::with_capacity(a.len(), a.value_data().len());
                Arc::new(a) as ArrayRef
            }};
        }
        match self {
            Self::Bool(b) => done!(b, BooleanBuilder),
            Self::Int(b) => done!(b, Int64Builder),
            Self::Real(b) => done!(b, Float64Builder),
            Self::Text(b) => done!(b, StringBuilder, bytes),
            Self::Blob(b) => done!(b, BinaryBuilder, bytes),
            Self::Date(b) => done!(b, Date32Builder),
            Self::Time(b) => done!(b, Time64MicrosecondBuilder),
            Self::Datetime(b) => done!(b, TimestampMicrosecondBuilder),
        }
    }
}

pub(super) fn mismatch(kind: Kind, v: Cell<'_>) -> String {
    let shown = match v {
        Cell::Null => "NULL".to_string(),
        Cell::Int(i) => i.to_string(),
        Cell::Real(f) => f.to_string(),
        Cell::Text(t) => format!("'{}'", t.chars().take(40).collect::<String>()),
        Cell::Blob(b) => format!("a {}-byte blob", b.len()),
    };
    format!("{shown} does not fit the column's type {kind:?}")
}

/// The Arrow type of a result column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Bool,
    Int,
    Real,
    Text,
    Blob,
    Date,
    Time,
    Datetime,
}

impl Kind {
    /// From sqlx's reading of the declared type; `None` when there is none. `NUMERIC` (and
    /// `DECIMAL(p, s)`, which sqlx reads as `NUMERIC`) stores integral values as integers and
    /// the rest as reals, so it reads as Float64.
    pub(super) fn from_declared(name: &str) -> Option<Self> {
        Some(match name {
            "BOOLEAN" => Kind::Bool,
            "INTEGER" => Kind::Int,
            "REAL" | "NUMERIC" => Kind::Real,
            "TEXT" => Kind::Text,
            "BLOB" => Kind::Blob,
            "DATE" => Kind::Date,
            "TIME" => Kind::Time,
            "DATETIME" => Kind::Datetime,
            _ => return None,
        })
    }

    pub(super) fn from_value(v: &Val) -> Option<Self> {
        match v {
            Val::Null => None,
            Val::Int(_) => Some(Kind::Int),
            Val::Real(_) => Some(Kind::Real),
            Val::Text(_) => Some(Kind::Text),
            Val::Blob(_) => Some(Kind::Blob),
        }
    }

    pub(super) fn data_type(self) -> DataType {
        match self {
            Kind::Bool => DataType::Boolean,
            Kind::Int => DataType::Int64,
            Kind::Real => DataType::Float64,
            Kind::Text => DataType::Utf8,
            Kind::Blob => DataType::Binary,
            Kind::Date => DataType::Date32,
            Kind::Time => DataType::Time64(TimeUnit::Microsecond),
            Kind::Datetime => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }
}

pub(super) fn parse_date(t: &str) -> Option<i32> {
    let d = match fast_ymd(t.as_bytes()) {
        Some(d) => d,
        None => NaiveDate::parse_from_str(t.get(..10)?, "%Y-%m-%d").ok()?,
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((d - epoch).num_days()).ok()
}

pub(super) fn parse_time(t: &str) -> Option<i64> {
    let t = t.trim();
    let time = match fast_hms(t.as_bytes()) {
        Some(time) => time,
        None => NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
            .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
            .ok()?,
    };
    Some(
        i64::from(time.num_seconds_from_midnight()) * 1_000_000
            + i64::from(time.nanosecond() / 1000),
    )
}

pub(super) fn parse_datetime(t: &str) -> Option<i64> {
    let t = t.trim();
    let b = t.as_bytes();
    // The common `YYYY-MM-DD HH:MM:SS[.f]` without chrono's format interpreter; anything else
    // (offsets, short forms, leap seconds) takes the general path below.
    if b.len() >= 19
        && matches!(b[10], b' ' | b'T')
        && let (Some(date), Some(time)) = (fast_ymd(b), fast_hms(&b[11..]))
    {
        return Some(NaiveDateTime::new(date, time).and_utc().timestamp_micros());
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt.and_utc().timestamp_micros());
        }
    }
    parse_date(t)
        .filter(|_| t.len() == 10)
        .map(|d| i64::from(d) * 86_400_000_000)
}

/// The value of a run of ASCII digits.
pub(super) fn ascii_digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// A valid date from `YYYY-MM-DD` at the start of `b` (what follows is not looked at).
pub(super) fn fast_ymd(b: &[u8]) -> Option<NaiveDate> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(ascii_digits(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, ascii_digits(&b[5..7])?, ascii_digits(&b[8..10])?)
}

/// A valid time from exactly `HH:MM:SS` or `HH:MM:SS.f` (1 to 9 fraction digits).
pub(super) fn fast_hms(b: &[u8]) -> Option<NaiveTime> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (
        ascii_digits(&b[..2])?,
        ascii_digits(&b[3..5])?,
        ascii_digits(&b[6..8])?,
    );
    let nanos = match &b[8..] {
        [] => 0,
        [b'.', frac @ ..] if (1..=9).contains(&frac.len()) => {
            ascii_digits(frac)? * 10u32.pow(9 - u32::try_from(frac.len()).ok()?)
        }
        _ => return None,
    };
    if s > 59 {
        return None;
    }
    NaiveTime::from_hms_nano_opt(h, m, s, nanos)
}
