//! Resource limits of the DataFusion connector: the memory pool its operators draw from, and the
//! functions whose output size follows from an argument, wrapped so that a call which would
//! allocate more than a cap is refused before the kernel runs.
//!
//! # Why wrap functions
//!
//! DataFusion tracks the memory of operators (sorts, hash aggregations, join tables) in its
//! memory pool, but not the arrays scalar functions return. `repeat('x', 2000000000)` allocates
//! and fills 2 GB in one kernel call that never yields: a timeout cannot stop it, and it runs at
//! plan time already (constant folding). The functions below size their output from their
//! arguments; each is re-registered under its own name (and aliases) as a wrapper that computes
//! the output size of every row first and refuses a value over
//! [`DataFusionLimits::max_value_size`] with an error carrying [`VALUE_LIMIT_CODE`]; the whole
//! batch's output is also reserved in the memory pool while the kernel runs, so a batch of many
//! values under the cap still fails with [`MEMORY_LIMIT_CODE`] if it does not fit.
//!
//! | function | output size per row |
//! | --- | --- |
//! | `repeat(s, n)` | `len(s) × n` |
//! | `lpad(s, n [, fill])`, `rpad` | `n` characters (× 4 bytes unless `s` and `fill` are ASCII) |
//! | `replace(s, from, to)` | `len(s) + occurrences × (len(to) − len(from))`, counted exactly |
//! | `regexp_replace(s, re, r [, flags])` | at most `len(s) × (1 + backrefs(r)) + matches × len(r)`, `matches` ≤ `len(s) + 1` with `g`, else 1 |
//! | `array_repeat(v, n)` (`list_repeat`) | `n × size(v)` |
//! | `array_resize(a, n [, v])` (`list_resize`) | `n × size(element)` |
//! | `range(…)`, `generate_series(…)` as list functions | elements `(stop − start) / step` × element width |
//!
//! Functions whose output is at most a constant factor of their inputs (`concat`, `||`,
//! `upper`, `translate`, `overlay`, `substr`, `to_hex`, `array_concat`, …) are not wrapped: one
//! call cannot turn a small input into a large value. A chain of them still can: each level of
//! `WITH b AS (SELECT s || s AS s FROM a), c AS (SELECT s || s AS s FROM b), …` doubles a value,
//! inside one operator call that neither the memory pool nor a timeout reaches. Arrow's 2 GiB
//! offset limit ends such chains over `Utf8` values with an error, after that much allocation;
//! these caps do not bound them. The table function `generate_series(…)` in `FROM` streams
//! batches and stops at cancellation like a scan.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, FieldRef, Int64Type, IntervalMonthDayNano, IntervalMonthDayNanoType,
    IntervalUnit, TimeUnit, TimestampNanosecondType,
};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DataFusionError, ExprSchema, ScalarValue};
use datafusion::error::Result as DfResult;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{
    GreedyMemoryPool, MemoryConsumer, MemoryPool, TrackConsumersPool,
};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::preimage::PreimageResult;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::udf_eq::UdfEq;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ExpressionPlacement, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, StructFieldMapping,
};
use datafusion::prelude::SessionContext;
use metricchat_core::error::{Error, Result};
use serde::{Deserialize, Deserializer};

/// The [`Error::Query`] code of a query that needed more memory than
/// [`DataFusionLimits::memory_limit`] (SQLSTATE `53200`, out of memory).
pub const MEMORY_LIMIT_CODE: &str = "53200";

/// The [`Error::Query`] code of a function call refused because its result would exceed
/// [`DataFusionLimits::max_value_size`] (SQLSTATE `54000`, program limit exceeded).
pub const VALUE_LIMIT_CODE: &str = "54000";

/// The functions wrapped with an output-size check (their aliases are covered too).
pub const CAPPED_FUNCTIONS: &[&str] = &[
    "repeat",
    "lpad",
    "rpad",
    "replace",
    "regexp_replace",
    "array_repeat",
    "array_resize",
    "range",
    "generate_series",
];

const GIB: usize = 1 << 30;
const MIB: usize = 1 << 20;

/// Resource limits of a [`DataFusionConnector`](super::DataFusionConnector).
///
/// Sizes are bytes; when deserialized (and in `file://` URL parameters) they may also be
/// strings with a unit: `512MB`, `2GiB`, `10 MiB` (`KB`/`MB`/`GB`/`TB` are powers of 1000,
/// `KiB`/`MiB`/`GiB`/`TiB` powers of 1024).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DataFusionLimits {
    /// Memory the operators of one connection's running queries (sorts, aggregations, join
    /// tables, and the output of the [capped functions](CAPPED_FUNCTIONS)) may hold together.
    /// A query that needs more fails with [`Error::Query`] whose code is
    /// [`MEMORY_LIMIT_CODE`]; nothing spills to disk. Default 2 GiB.
    #[serde(deserialize_with = "size")]
    pub memory_limit: usize,
    /// The largest value (string, binary or list) a [capped function](CAPPED_FUNCTIONS) may
    /// return for one row; a larger one fails with [`Error::Query`] whose code is
    /// [`VALUE_LIMIT_CODE`] before anything is allocated. Default 10 MiB.
    #[serde(deserialize_with = "size")]
    pub max_value_size: usize,
}

impl Default for DataFusionLimits {
    fn default() -> Self {
        Self {
            memory_limit: 2 * GIB,
            max_value_size: 10 * MIB,
        }
    }
}

impl fmt::Debug for DataFusionLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataFusionLimits")
            .field("memory_limit", &human_size(self.memory_limit))
            .field("max_value_size", &human_size(self.max_value_size))
            .finish()
    }
}

impl DataFusionLimits {
    /// Sets [`DataFusionLimits::memory_limit`] (bytes).
    pub fn with_memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Sets [`DataFusionLimits::max_value_size`] (bytes).
    pub fn with_max_value_size(mut self, bytes: usize) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// The URL query parameters these limits take (`memory_limit`, `max_value_size`).
    pub const URL_PARAMS: &'static [&'static str] = &["memory_limit", "max_value_size"];

    /// Applies one URL query parameter; `Ok(false)` when `key` is not one of
    /// [`DataFusionLimits::URL_PARAMS`].
    pub fn set_url_param(&mut self, key: &str, value: &str) -> Result<bool> {
        let slot = match key {
            "memory_limit" => &mut self.memory_limit,
            "max_value_size" => &mut self.max_value_size,
            _ => return Ok(false),
        };
        *slot = parse_size(value).map_err(|e| Error::invalid_input(format!("`{key}`: {e}")))?;
        Ok(true)
    }

    /// Fails with [`Error::InvalidInput`] when a limit is zero.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.memory_limit == 0 || self.max_value_size == 0 {
            return Err(Error::invalid_input(
                "DataFusion limits must be positive (memory_limit, max_value_size)",
            ));
        }
        Ok(())
    }

    /// A runtime environment like `base` (object stores, caches) with a memory pool of
    /// [`DataFusionLimits::memory_limit`] and spilling disabled, so that exceeding the pool
    /// fails instead of writing temporary files.
    pub(crate) fn runtime_env(&self, base: Option<&RuntimeEnv>) -> DfResult<Arc<RuntimeEnv>> {
        let pool = TrackConsumersPool::new(
            GreedyMemoryPool::new(self.memory_limit),
            std::num::NonZeroUsize::MIN.saturating_add(4),
        );
        let builder = match base {
            Some(env) => RuntimeEnvBuilder::from_runtime_env(env),
            None => RuntimeEnvBuilder::new(),
        };
        builder
            .with_memory_pool(Arc::new(pool))
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()
    }

    /// Registers the capped versions of [`CAPPED_FUNCTIONS`] in `ctx`, drawing on `ctx`'s
    /// memory pool. Calling it again replaces the caps (wrappers are never nested).
    pub(crate) fn install(&self, ctx: &SessionContext) {
        let pool = Arc::clone(&ctx.runtime_env().memory_pool);
        let state = ctx.state();
        let registry = state.scalar_functions();
        for name in CAPPED_FUNCTIONS {
            let Some(kind) = Kind::of(name) else { continue };
            let Some(udf) = registry.get(*name) else {
                continue;
            };
            let any: &dyn std::any::Any = udf.inner().as_ref();
            // Re-installing wraps the original function again, not the previous wrapper.
            let inner = any
                .downcast_ref::<Capped>()
                .map_or_else(|| Arc::clone(udf.inner()), |c| Arc::clone(&c.inner));
            let capped = Capped {
                inner: UdfEq::from(inner),
                kind,
                max_value: self.max_value_size,
                pool: Arc::clone(&pool),
            };
            ctx.register_udf(ScalarUDF::new_from_shared_impl(Arc::new(capped)));
        }
    }
}

fn size<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => usize::try_from(n).map_err(serde::de::Error::custom),
        Size::Text(s) => parse_size(&s).map_err(serde::de::Error::custom),
    }
}

/// Parses `1048576`, `512MB`, `2 GiB`, `1.5GB` (units case-insensitive).
pub(crate) fn parse_size(text: &str) -> std::result::Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "`{text}` is not a size (e.g. 536870912, 512MB, 2GiB)"
            ));
        }
    };
    let bad = || format!("`{text}` is not a size (e.g. 536870912, 512MB, 2GiB)");
    let bytes = if num.contains('.') {
        let x: f64 = num.parse().map_err(|_| bad())?;
        let b = (x * factor as f64).round();
        if !(0.0..1.8e19).contains(&b) {
            return Err(bad());
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let b = b as u64;
        b
    } else {
        num.parse::<u64>()
            .map_err(|_| bad())?
            .checked_mul(factor)
            .ok_or_else(bad)?
    };
    usize::try_from(bytes).map_err(|_| bad())
}

/// `1.5 GiB`-style sizes for messages.
pub(crate) fn human_size(bytes: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[allow(clippy::cast_precision_loss)]
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A capped function refused a call: the error a wrapper returns (inside
/// [`DataFusionError::External`]), found again by the connector's error mapping.
#[derive(Debug)]
pub(crate) struct ValueTooLarge {
    pub(crate) function: String,
    /// The size the call would have produced for one row (saturating).
    pub(crate) bytes: u128,
    pub(crate) cap: usize,
}

impl fmt::Display for ValueTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = usize::try_from(self.bytes).map_or_else(|_| "> 16 EiB".into(), human_size);
        write!(
            f,
            "`{}` would return a value of {size}, over the limit of {} per value \
             (`max_value_size`); use a smaller count or length",
            self.function,
            human_size(self.cap)
        )
    }
}

impl std::error::Error for ValueTooLarge {}

/// Which size rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Repeat,
    Pad,
    Replace,
    RegexpReplace,
    ArrayRepeat,
    ArrayResize,
    Range { inclusive: bool },
}

impl Kind {
    fn of(name: &str) -> Option<Self> {
        Some(match name {
            "repeat" => Self::Repeat,
            "lpad" | "rpad" => Self::Pad,
            "replace" => Self::Replace,
            "regexp_replace" => Self::RegexpReplace,
            "array_repeat" => Self::ArrayRepeat,
            "array_resize" => Self::ArrayResize,
            "range" => Self::Range { inclusive: false },
            "generate_series" => Self::Range { inclusive: true },
            _ => return None,
        })
    }
}

/// A function that checks the size of its output before delegating to DataFusion's own.
struct Capped {
    inner: UdfEq<Arc<dyn ScalarUDFImpl>>,
    kind: Kind,
    max_value: usize,
    pool: Arc<dyn MemoryPool>,
}

impl fmt::Debug for Capped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capped")
            .field("inner", &self.inner.name())
            .field("max_value", &self.max_value)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Capped {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner && self.kind == other.kind && self.max_value == other.max_value
    }
}

impl Eq for Capped {}

impl Hash for Capped {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
        self.kind.hash(state);
        self.max_value.hash(state);
    }
}

impl Capped {
    /// Refuses the call when a row's output would exceed the cap, and reserves the batch's
    /// output in the memory pool for as long as the kernel runs.
    fn check(
        &self,
        args: &ScalarFunctionArgs,
    ) -> DfResult<Option<datafusion::execution::memory_pool::MemoryReservation>> {
        let rows = args.number_rows.max(1);
        let sizes = output_sizes(self.kind, &args.args, rows);
        let mut total: u128 = 0;
        let mut largest: u128 = 0;
        for s in sizes.into_iter().flatten() {
            total = total.saturating_add(s);
            largest = largest.max(s);
        }
        if largest > self.max_value as u128 {
            return Err(DataFusionError::External(Box::new(ValueTooLarge {
                function: self.inner.name().to_string(),
                bytes: largest,
                cap: self.max_value,
            })));
        }
        // Small outputs are not worth a pool round trip.
        if total < (1 << 20) {
            return Ok(None);
        }
        let reservation =
            MemoryConsumer::new(format!("{} output", self.inner.name())).register(&self.pool);
        reservation.try_grow(usize::try_from(total).unwrap_or(usize::MAX))?;
        Ok(Some(reservation))
    }

    fn wrap(&self, inner: Arc<dyn ScalarUDFImpl>) -> ScalarUDF {
        ScalarUDF::new_from_shared_impl(Arc::new(Capped {
            inner: UdfEq::from(inner),
            kind: self.kind,
            max_value: self.max_value,
            pool: Arc::clone(&self.pool),
        }))
    }
}

/// Delegates everything to the wrapped function but `invoke_with_args`, which checks first.
#[warn(clippy::missing_trait_methods)]
impl ScalarUDFImpl for Capped {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn display_name(&self, args: &[Expr]) -> DfResult<String> {
        #[allow(deprecated)]
        self.inner.display_name(args)
    }

    fn schema_name(&self, args: &[Expr]) -> DfResult<String> {
        self.inner.schema_name(args)
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn is_nullable(&self, args: &[Expr], schema: &dyn ExprSchema) -> bool {
        #[allow(deprecated)]
        self.inner.is_nullable(args, schema)
    }

    fn is_strict(&self) -> bool {
        self.inner.is_strict()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        super::cancel::check()?;
        let _reservation = self.check(&args)?;
        self.inner.invoke_with_args(args)
    }

    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        self.inner
            .with_updated_config(config)
            .map(|updated| self.wrap(Arc::clone(updated.inner())))
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> DfResult<ExprSimplifyResult> {
        self.inner.simplify(args, info)
    }

    fn preimage(
        &self,
        args: &[Expr],
        lit_expr: &Expr,
        info: &SimplifyContext,
    ) -> DfResult<PreimageResult> {
        self.inner.preimage(args, lit_expr, info)
    }

    fn conditional_arguments<'a>(
        &self,
        args: &'a [Expr],
    ) -> Option<(Vec<&'a Expr>, Vec<&'a Expr>)> {
        self.inner.conditional_arguments(args)
    }

    fn short_circuits(&self) -> bool {
        self.inner.short_circuits()
    }

    fn evaluate_bounds(&self, input: &[&Interval]) -> DfResult<Interval> {
        self.inner.evaluate_bounds(input)
    }

    fn propagate_constraints(
        &self,
        interval: &Interval,
        inputs: &[&Interval],
    ) -> DfResult<Option<Vec<Interval>>> {
        self.inner.propagate_constraints(interval, inputs)
    }

    fn struct_field_mapping(
        &self,
        literal_args: &[Option<ScalarValue>],
    ) -> Option<StructFieldMapping> {
        self.inner.struct_field_mapping(literal_args)
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> DfResult<SortProperties> {
        self.inner.output_ordering(inputs)
    }

    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> DfResult<bool> {
        self.inner.preserves_lex_ordering(inputs)
    }

    fn strictly_order_preserving(&self, inputs: &[ExprProperties]) -> DfResult<bool> {
        self.inner.strictly_order_preserving(inputs)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn placement(&self, args: &[ExpressionPlacement]) -> ExpressionPlacement {
        self.inner.placement(args)
    }
}

/// The output size in bytes of each row (`None` for rows that yield NULL or that the rule
/// cannot size, which the kernel then handles as it would).
fn output_sizes(kind: Kind, args: &[ColumnarValue], rows: usize) -> Vec<Option<u128>> {
    let arg = |i: usize| args.get(i);
    match kind {
        Kind::Repeat => {
            let s = bytes_of(arg(0), rows);
            let n = ints_of(arg(1), rows);
            zip2(&s, &n, |s, n| Some(s.len() as u128 * nonneg(n)))
        }
        Kind::Pad => {
            let s = bytes_of(arg(0), rows);
            let n = ints_of(arg(1), rows);
            let fill = arg(2).map(|a| bytes_of(Some(a), rows));
            (0..rows)
                .map(|i| {
                    let (s, n) = (get(&s, i)?, get(&n, i)?);
                    let fill_ascii = fill
                        .as_ref()
                        .is_none_or(|f| get(f, i).is_none_or(|f| f.is_ascii()));
                    let width = if s.is_ascii() && fill_ascii { 1 } else { 4 };
                    Some(nonneg(n) * width)
                })
                .collect()
        }
        Kind::Replace => {
            let (s, from, to) = (
                bytes_of(arg(0), rows),
                bytes_of(arg(1), rows),
                bytes_of(arg(2), rows),
            );
            (0..rows)
                .map(|i| {
                    let (s, from, to) = (get(&s, i)?, get(&from, i)?, get(&to, i)?);
                    Some(replace_size(s, from, to))
                })
                .collect()
        }
        Kind::RegexpReplace => {
            let (s, repl) = (bytes_of(arg(0), rows), bytes_of(arg(2), rows));
            let flags = arg(3).map(|a| bytes_of(Some(a), rows));
            (0..rows)
                .map(|i| {
                    let (s, repl) = (get(&s, i)?, get(&repl, i)?);
                    let global = flags
                        .as_ref()
                        .and_then(|f| get(f, i))
                        .is_some_and(|f| f.contains(&b'g'));
                    Some(regexp_replace_size(s.len(), repl, global))
                })
                .collect()
        }
        Kind::ArrayRepeat => {
            let elem = element_sizes(arg(0), rows);
            let n = ints_of(arg(1), rows);
            (0..rows)
                .map(|i| {
                    let n = get(&n, i)?;
                    Some(nonneg(n) * elem.get(i).copied().unwrap_or(1).max(1))
                })
                .collect()
        }
        Kind::ArrayResize => {
            let n = ints_of(arg(1), rows);
            let elem = list_element_width(arg(0));
            let value = arg(2).map(|a| element_sizes(Some(a), rows));
            (0..rows)
                .map(|i| {
                    let n = get(&n, i)?;
                    let v = value.as_ref().and_then(|v| v.get(i).copied()).unwrap_or(1);
                    Some(nonneg(n) * elem.max(v).max(1))
                })
                .collect()
        }
        Kind::Range { inclusive } => range_sizes(args, rows, inclusive),
    }
}

fn nonneg(n: i64) -> u128 {
    u128::try_from(n).unwrap_or(0)
}

fn get<T: Copy>(v: &Option<Vec<Option<T>>>, i: usize) -> Option<T> {
    v.as_ref()?.get(i).copied().flatten()
}

fn zip2<'a>(
    a: &Option<Vec<Option<&'a [u8]>>>,
    b: &Option<Vec<Option<i64>>>,
    f: impl Fn(&'a [u8], i64) -> Option<u128>,
) -> Vec<Option<u128>> {
    let rows = a.as_ref().map_or(0, Vec::len);
    (0..rows).map(|i| f(get(a, i)?, get(b, i)?)).collect()
}

/// The exact length of `replace(s, from, to)` (strings are replaced as text, so the count of
/// non-overlapping occurrences is that of `str::matches`).
fn replace_size(s: &[u8], from: &[u8], to: &[u8]) -> u128 {
    let len = s.len() as u128;
    if to.len() <= from.len() && !from.is_empty() {
        return len;
    }
    let occurrences = match (std::str::from_utf8(s), std::str::from_utf8(from)) {
        (Ok(s), Ok("")) => s.chars().count() as u128 + 1,
        (Ok(s), Ok(from)) => s.matches(from).count() as u128,
        // Binary input: at most one occurrence per byte.
        _ => len / (from.len().max(1) as u128) + 1,
    };
    let grow = to.len().saturating_sub(from.len()) as u128;
    len + occurrences * grow
}

/// An upper bound of `regexp_replace`'s output: every match is replaced by the literal part of
/// the replacement plus, per back-reference, at most the match itself (matches are disjoint,
/// so back-references add at most `len(s)` each in total).
fn regexp_replace_size(len: usize, repl: &[u8], global: bool) -> u128 {
    let backrefs = repl
        .windows(2)
        .filter(|w| w[0] == b'\\' && w[1].is_ascii_digit())
        .count()
        + repl.iter().filter(|b| **b == b'$').count();
    let len = len as u128;
    let matches = if global { len + 1 } else { 1 };
    len * (1 + backrefs as u128) + matches * repl.len() as u128
}

/// The bytes of string or binary values, per row.
fn bytes_of(arg: Option<&ColumnarValue>, rows: usize) -> Option<Vec<Option<&[u8]>>> {
    match arg? {
        ColumnarValue::Scalar(s) => {
            let v: Option<&[u8]> = match s {
                ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
                    v.as_deref().map(str::as_bytes)
                }
                ScalarValue::Binary(v)
                | ScalarValue::LargeBinary(v)
                | ScalarValue::BinaryView(v) => v.as_deref(),
                _ => return None,
            };
            Some(vec![v; rows])
        }
        ColumnarValue::Array(a) => {
            let a: &dyn Array = a.as_ref();
            let at = |i: usize| -> Option<&[u8]> {
                if a.is_null(i) {
                    return None;
                }
                Some(match a.data_type() {
                    DataType::Utf8 => a.as_string::<i32>().value(i).as_bytes(),
                    DataType::LargeUtf8 => a.as_string::<i64>().value(i).as_bytes(),
                    DataType::Utf8View => a.as_string_view().value(i).as_bytes(),
                    DataType::Binary => a.as_binary::<i32>().value(i),
                    DataType::LargeBinary => a.as_binary::<i64>().value(i),
                    DataType::BinaryView => a.as_binary_view().value(i),
                    _ => return None,
                })
            };
            Some((0..a.len()).map(at).collect())
        }
    }
}

/// Integer values as `i64`, per row.
fn ints_of(arg: Option<&ColumnarValue>, rows: usize) -> Option<Vec<Option<i64>>> {
    match arg? {
        ColumnarValue::Scalar(s) => {
            let v = match s.cast_to(&DataType::Int64).ok()? {
                ScalarValue::Int64(v) => v,
                _ => return None,
            };
            Some(vec![v; rows])
        }
        ColumnarValue::Array(a) => {
            let a = arrow::compute::cast(a, &DataType::Int64).ok()?;
            let a = a.as_primitive::<Int64Type>();
            Some(a.iter().collect())
        }
    }
}

/// The size of each row's value as one list element: its bytes for strings, its slice of the
/// buffers for nested values.
fn element_sizes(arg: Option<&ColumnarValue>, rows: usize) -> Vec<u128> {
    match arg {
        None => vec![1; rows],
        Some(ColumnarValue::Scalar(s)) => vec![s.size() as u128; rows],
        Some(ColumnarValue::Array(a)) => {
            let whole = ColumnarValue::Array(Arc::clone(a));
            if let Some(bytes) = bytes_of(Some(&whole), rows) {
                return bytes
                    .iter()
                    .map(|b| b.map_or(1, |b| b.len() as u128))
                    .collect();
            }
            if let Some(w) = a.data_type().primitive_width() {
                return vec![w as u128; a.len()];
            }
            (0..a.len())
                .map(|i| {
                    a.slice(i, 1)
                        .to_data()
                        .get_slice_memory_size()
                        .map_or(1, |n| n as u128)
                })
                .collect()
        }
    }
}

/// The width of one element of a list argument (at least 1; 16 for variable-size elements,
/// whose new slots are NULL or the given value).
fn list_element_width(arg: Option<&ColumnarValue>) -> u128 {
    let dt = match arg {
        Some(v) => v.data_type(),
        None => return 1,
    };
    match dt {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            f.data_type().primitive_width().map_or(16, |w| w as u128)
        }
        _ => 1,
    }
}

/// `range` / `generate_series` as list functions: the element count from start, stop and step,
/// times the element width. Date and timestamp steps are counted with their shortest length
/// (a month as 28 days, a day as 23 hours), so the bound never falls short.
fn range_sizes(args: &[ColumnarValue], rows: usize, inclusive: bool) -> Vec<Option<u128>> {
    let first = args.first().map(ColumnarValue::data_type);
    match first {
        Some(DataType::Int64)
        | Some(DataType::Int32)
        | Some(DataType::Int16)
        | Some(DataType::Int8)
        | Some(DataType::UInt8)
        | Some(DataType::UInt16)
        | Some(DataType::UInt32)
        | Some(DataType::UInt64) => {
            let cols: Vec<Option<Vec<Option<i64>>>> =
                args.iter().map(|a| ints_of(Some(a), rows)).collect();
            (0..rows)
                .map(|i| {
                    let (start, stop, step) = match cols.as_slice() {
                        [stop] => (0, get(stop, i)?, 1),
                        [start, stop] => (get(start, i)?, get(stop, i)?, 1),
                        [start, stop, step] => (get(start, i)?, get(stop, i)?, get(step, i)?),
                        _ => return None,
                    };
                    let n = count_steps(
                        i128::from(start),
                        i128::from(stop),
                        i128::from(step),
                        inclusive,
                    );
                    Some(n * 8)
                })
                .collect()
        }
        Some(DataType::Date32) | Some(DataType::Date64) | Some(DataType::Timestamp(..)) => {
            let width: u128 = if matches!(first, Some(DataType::Date32 | DataType::Date64)) {
                4
            } else {
                8
            };
            let (Some(start), Some(stop), Some(step)) = (
                args.first().and_then(|a| nanos_of(a, rows)),
                args.get(1).and_then(|a| nanos_of(a, rows)),
                args.get(2).and_then(|s| intervals_of(s, rows)),
            ) else {
                return vec![None; rows];
            };
            (0..rows)
                .map(|i| {
                    let (start, stop, step) = (
                        start.get(i).copied()??,
                        stop.get(i).copied()??,
                        step.get(i).copied()??,
                    );
                    let n = count_steps(i128::from(start), i128::from(stop), step, inclusive);
                    Some(n * width)
                })
                .collect()
        }
        _ => vec![None; rows],
    }
}

/// Dates and timestamps as nanoseconds since the epoch, per row.
fn nanos_of(arg: &ColumnarValue, rows: usize) -> Option<Vec<Option<i64>>> {
    const DAY_NS: i64 = 86_400_000_000_000;
    let target = DataType::Timestamp(TimeUnit::Nanosecond, None);
    match arg {
        ColumnarValue::Scalar(ScalarValue::Date32(v)) => {
            Some(vec![v.map(|d| i64::from(d).saturating_mul(DAY_NS)); rows])
        }
        ColumnarValue::Scalar(s) => match s.cast_to(&target).ok()? {
            ScalarValue::TimestampNanosecond(v, _) => Some(vec![v; rows]),
            _ => None,
        },
        ColumnarValue::Array(a) if a.data_type() == &DataType::Date32 => Some(
            a.as_primitive::<Date32Type>()
                .iter()
                .map(|v| v.map(|d| i64::from(d).saturating_mul(DAY_NS)))
                .collect(),
        ),
        ColumnarValue::Array(a) => {
            let a = arrow::compute::cast(a, &target).ok()?;
            Some(a.as_primitive::<TimestampNanosecondType>().iter().collect())
        }
    }
}

/// Month-day-nano steps as their shortest length in nanoseconds (`None` when the step mixes
/// signs, which DataFusion refuses or treats as empty).
fn intervals_of(arg: &ColumnarValue, rows: usize) -> Option<Vec<Option<i128>>> {
    let shortest = |v: IntervalMonthDayNano| -> Option<i128> {
        const DAY: i128 = 23 * 3_600 * 1_000_000_000;
        let parts = [
            i128::from(v.months) * 28 * DAY,
            i128::from(v.days) * DAY,
            i128::from(v.nanoseconds),
        ];
        let pos = parts.iter().all(|p| *p >= 0);
        let neg = parts.iter().all(|p| *p <= 0);
        (pos || neg).then(|| parts.iter().sum())
    };
    match arg {
        ColumnarValue::Scalar(ScalarValue::IntervalMonthDayNano(v)) => {
            Some(vec![v.and_then(shortest); rows])
        }
        ColumnarValue::Array(a) if matches!(a.data_type(), DataType::Interval(_)) => {
            let a =
                arrow::compute::cast(a, &DataType::Interval(IntervalUnit::MonthDayNano)).ok()?;
            let a = a.as_primitive::<IntervalMonthDayNanoType>();
            Some(a.iter().map(|v| v.and_then(shortest)).collect())
        }
        _ => None,
    }
}

/// How many values `start, start + step, …` lie before `stop` (or up to it when inclusive).
fn count_steps(start: i128, stop: i128, step: i128, inclusive: bool) -> u128 {
    if step == 0 {
        return 0;
    }
    let span = stop - start;
    if span != 0 && (span > 0) != (step > 0) {
        return 0;
    }
    let (span, step) = (span.unsigned_abs(), step.unsigned_abs());
    let full = span / step;
    if inclusive || span % step != 0 {
        full + 1
    } else {
        full
    }
}

/// Whether `e` (anywhere in its chain) is a refusal by a capped function.
pub(crate) fn value_too_large(e: &DataFusionError) -> Option<&ValueTooLarge> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(v) = err.downcast_ref::<ValueTooLarge>() {
            return Some(v);
        }
        if let Some(DataFusionError::External(inner)) = err.downcast_ref::<DataFusionError>()
            && let Some(v) = inner.downcast_ref::<ValueTooLarge>()
        {
            return Some(v);
        }
        cur = err.source();
    }
    None
}

/// Whether `e` reports that the memory pool (or spilling, which is disabled) ran out.
pub(crate) fn is_memory_exhausted(e: &DataFusionError) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(DataFusionError::ResourcesExhausted(_)) = err.downcast_ref::<DataFusionError>()
        {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512MB"), Ok(512_000_000));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1.5gib"), Ok(3 << 29));
        assert_eq!(parse_size("10mib"), Ok(10 << 20));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("").is_err());
        assert_eq!(human_size(2 << 30), "2 GiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(10), "10 B");
    }

    #[test]
    fn limits_deserialize_from_numbers_and_strings() {
        let l: DataFusionLimits =
            serde_json::from_str(r#"{"memory_limit": "1GiB", "max_value_size": 4096}"#).unwrap();
        assert_eq!(l.memory_limit, 1 << 30);
        assert_eq!(l.max_value_size, 4096);
        let l: DataFusionLimits = serde_json::from_str("{}").unwrap();
        assert_eq!(l, DataFusionLimits::default());
        assert!(serde_json::from_str::<DataFusionLimits>(r#"{"memory": 1}"#).is_err());
        let mut l = DataFusionLimits::default();
        assert!(l.set_url_param("memory_limit", "256MiB").unwrap());
        assert_eq!(l.memory_limit, 256 << 20);
        assert!(!l.set_url_param("name", "x").unwrap());
        assert!(l.set_url_param("max_value_size", "big").is_err());
    }

    #[test]
    fn output_size_rules() {
        assert_eq!(replace_size(b"aaa", b"a", b"bb"), 6);
        assert_eq!(replace_size(b"abc", b"abc", b""), 3);
        assert_eq!(replace_size(b"ab", b"", b"xyz"), 2 + 3 * 3);
        assert_eq!(regexp_replace_size(10, b"x", false), 11);
        assert_eq!(regexp_replace_size(10, b"\\1\\1", true), 10 * 3 + 11 * 4);
        assert_eq!(count_steps(0, 10, 1, false), 10);
        assert_eq!(count_steps(0, 10, 1, true), 11);
        assert_eq!(count_steps(0, 10, 3, false), 4);
        assert_eq!(count_steps(10, 0, 1, true), 0);
        assert_eq!(count_steps(10, 0, -5, true), 3);
        assert_eq!(count_steps(1, 1, 1, false), 0);
        assert_eq!(count_steps(1, 1, 1, true), 1);
    }
}
