//! The embedded connector: Parquet, CSV, newline-delimited JSON and Arrow IPC files and in-memory
//! Arrow batches, queried with Apache DataFusion in this process.
//!
//! ```no_run
//! # async fn demo() -> metricchat_core::error::Result<()> {
//! use metricchat_connectors::datafusion::{CsvOptions, DataFusionConnector};
//! use metricchat_core::connector::{Connector, QueryOptions, collect_stream};
//!
//! let conn = DataFusionConnector::new("shop")
//!     .with_parquet("orders", "/data/orders/*.parquet")?
//!     .with_csv("customers", "/data/customers.csv", CsvOptions::default())?;
//! let stream = conn
//!     .query("SELECT count(*) FROM orders", QueryOptions::default())
//!     .await?;
//! let data = collect_stream(stream).await?;
//! # Ok(()) }
//! ```
//!
//! # Read-only
//!
//! Statements are planned with DataFusion's `SQLOptions` refusing DDL (`CREATE`, `DROP`), DML
//! (`INSERT`, `COPY`) and other statements (`SET`, transactions): such SQL fails with
//! [`Error::SqlRefused`] before anything runs, whatever guard sits in front of the connector.
//!
//! # Limits
//!
//! `max_rows` is pushed into the plan as a `LIMIT` (so scans stop early) and the stream is also
//! truncated. `timeout` counts from the call to [`Connector::query`], covering table
//! registration, planning and streaming. `cancel` works at every stage. Both are enforced on the
//! caller's side of a channel, so they take effect at once even while DataFusion is busy; the
//! query's task is then aborted, its DataFusion stream dropped and the runtime it ran on shut
//! down, which stops execution at DataFusion's next yield point without making any other query
//! wait (see [`DataFusionConnector`] on where queries run).
//!
//! [`DataFusionLimits`] bound the memory of a connection's operators (a typed
//! [`MEMORY_LIMIT_CODE`] error, never an exhausted process) and the output of the functions that
//! allocate in proportion to an argument, such as `repeat('x', 2000000000)` (refused with
//! [`VALUE_LIMIT_CODE`] before anything runs); see [`limits`].
//!
//! # Type names
//!
//! [`TableSchema`] columns show Arrow types with SQL names (see [`sql_type_name`]):
//!
//! | Arrow | shown as |
//! | --- | --- |
//! | Boolean | `BOOLEAN` |
//! | Int8 / Int16 / Int32 / Int64 | `TINYINT` / `SMALLINT` / `INT` / `BIGINT` |
//! | UInt8 … UInt64 | `TINYINT UNSIGNED` … `BIGINT UNSIGNED` |
//! | Float16 / Float32 / Float64 | `REAL` / `FLOAT` / `DOUBLE` |
//! | Decimal*(p, s) | `DECIMAL(p, s)` |
//! | Utf8 / LargeUtf8 / Utf8View | `VARCHAR` |
//! | Binary (all widths) | `BYTEA` |
//! | Date32 / Date64 | `DATE` |
//! | Time32 / Time64 | `TIME` |
//! | Timestamp(_, None) | `TIMESTAMP` |
//! | Timestamp(_, Some(tz)) | `TIMESTAMP WITH TIME ZONE (tz)` |
//! | Duration / Interval | `DURATION` / `INTERVAL` |
//! | List of T (any kind) | `T[]` |
//! | Struct | `STRUCT<a T, …>` |
//! | Map | `MAP<K, V>` |
//! | Dictionary / RunEndEncoded of T | as T |
//!
//! Anything else is shown with Arrow's own name.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use metricchat_core::connector::{
    Capabilities, ColumnInfo, Connector, ConnectorInfo, CostEstimate, Dialect, QueryData,
    SendableRecordBatchStream, TableKind, TableRef, TableSchema,
};
use metricchat_core::connector::{LimitStream, QueryLimits, QueryOptions};
use metricchat_core::error::{Error, Result};
use tokio::runtime::Handle;
use tokio::sync::{OnceCell, mpsc, oneshot};

mod cancel;
mod engine;
pub(crate) mod files;
pub mod limits;

use engine::{AbortOnDrop, Engine, TaskStream, clean_message, exact_rows};
#[cfg(test)]
use files::exact_regex;
use files::resolve_location;
pub use files::{FileFormat, SOURCE_NAME_KEY, sql_friendly_schema};

/// Metadata keys a file's writer documents a table or a column with (Arrow schema and field
/// metadata, as pyarrow, Spark and pandas write it), in the order they are read.
pub const DOCUMENTATION_KEYS: [&str; 2] = ["description", "comment"];

/// The documentation in a schema's or a field's metadata, if any.
fn documentation(meta: &std::collections::HashMap<String, String>) -> Option<String> {
    DOCUMENTATION_KEYS
        .iter()
        .find_map(|k| meta.get(*k))
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
}

/// A column's comment: its documentation, and the header it had in the source file when that
/// had to be renamed to work in SQL.
fn column_comment(meta: &std::collections::HashMap<String, String>) -> Option<String> {
    let source = meta
        .get(SOURCE_NAME_KEY)
        .map(|h| format!("`{h}` in the source file"));
    match (documentation(meta), source) {
        (Some(d), Some(s)) => Some(format!("{d} ({s})")),
        (d, s) => d.or(s),
    }
}

pub use limits::{CAPPED_FUNCTIONS, DataFusionLimits, MEMORY_LIMIT_CODE, VALUE_LIMIT_CODE};

/// The backend name in [`ConnectorInfo::backend`].
pub const BACKEND: &str = "datafusion";

/// The schema DataFusion registers tables in; `TableRef`s qualified with it are accepted.
const DEFAULT_SCHEMA: &str = "public";

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CsvOptions {
    /// Whether the first line holds column names (default `true`).
    pub has_header: bool,
    /// Field delimiter (default `,`).
    pub delimiter: u8,
    /// A value that means NULL, matched exactly (e.g. `NA`); empty fields are NULL regardless.
    pub null_value: Option<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            has_header: true,
            delimiter: b',',
            null_value: None,
        }
    }
}

impl CsvOptions {
    /// Sets [`CsvOptions::has_header`].
    pub fn with_has_header(mut self, v: bool) -> Self {
        self.has_header = v;
        self
    }

    /// Sets [`CsvOptions::delimiter`].
    pub fn with_delimiter(mut self, v: u8) -> Self {
        self.delimiter = v;
        self
    }

    /// Sets [`CsvOptions::null_value`].
    pub fn with_null_value(mut self, v: impl Into<String>) -> Self {
        self.null_value = Some(v.into());
        self
    }
}

/// A file table waiting to be registered on first use.
#[derive(Debug, Clone)]
struct FileSource {
    pub(super) table: String,
    /// Absolute path, directory or glob, as DataFusion should list it.
    pub(super) location: String,
    /// The extension DataFusion filters listed files by (`""` for globs: the glob filters).
    pub(super) extension: String,
    pub(super) format: FileFormat,
    pub(super) csv: CsvOptions,
}

/// An embedded DataFusion connection over files and in-memory Arrow tables.
///
/// Build it with [`DataFusionConnector::new`] and the `with_*` methods; each checks
/// synchronously that its file exists (or its glob matches) and fails with
/// [`Error::NotFound`] otherwise. Files are registered with DataFusion on first use, so
/// constructors stay synchronous; a file that cannot be read surfaces then, as a typed error.
///
/// Table names are used exactly as given. DataFusion lowercases unquoted identifiers in SQL, so
/// lowercase names are the easiest to query.
///
/// # Where queries run
///
/// DataFusion's execution is CPU-bound and does not always yield: a kernel or a join probe can
/// run for seconds without reaching a point where a dropped stream takes effect. Each query
/// (and each [`Connector::sample`]) therefore runs on a tokio runtime of its own, with the
/// session's `target_partitions` worker threads named `metricchat-datafusion`; batches cross
/// to the caller over a channel. A timeout or cancel answers the caller at once, drops the
/// plan's stream and shuts that runtime down, which drops every task of the query at its next
/// yield point. Work that was inside a kernel finishes that kernel on its own threads and
/// delays nobody else: other queries have their own runtimes, and the caller's runtime never
/// runs DataFusion code. [`DataFusionLimits`] bound what one kernel may do.
///
/// [`DataFusionConnector::with_runtime`] runs queries on a runtime of the caller's choosing
/// instead; that runtime is then shared by all its queries, so one stuck kernel holds one of
/// its workers until it finishes.
///
/// # Limits
///
/// [`DataFusionLimits`] (set with [`DataFusionConnector::with_limits`], or `memory_limit` and
/// `max_value_size` in `file://` URLs) bound the memory of one connection's operators (default
/// 2 GiB; sorts, aggregations and joins that need more fail with [`Error::Query`] and code
/// [`MEMORY_LIMIT_CODE`]; nothing spills to disk) and the size of one value produced by the
/// functions whose output follows from an argument (`repeat`, `lpad`, `rpad`, `replace`,
/// `regexp_replace`, `array_repeat`, `array_resize`, `range`, `generate_series`; default
/// 10 MiB, refused before allocation with code [`VALUE_LIMIT_CODE`]). See [`limits`] for the
/// size rules and why these functions.
pub struct DataFusionConnector {
    engine: Arc<Engine>,
    /// All table names (files and batches) in registration order.
    tables: Vec<String>,
    runtime: Option<Handle>,
}

impl fmt::Debug for DataFusionConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataFusionConnector")
            .field("name", &self.engine.name)
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

/// How long reading a table's sample rows may take.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(30);

impl DataFusionConnector {
    /// An empty connection called `name` (the name the agent and the model see).
    pub fn new(name: impl Into<String>) -> Self {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("datafusion", DEFAULT_SCHEMA);
        let limits = DataFusionLimits::default();
        let (env, setup_error) = match limits.runtime_env(None) {
            Ok(env) => (Some(env), None),
            Err(e) => (None, Some(clean_message(&e))),
        };
        let mut state = datafusion::execution::SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(cancel::StopCheckRule));
        if let Some(env) = env {
            state = state.with_runtime_env(env);
        }
        let ctx = SessionContext::new_with_state(state.build());
        limits.install(&ctx);
        Self {
            engine: Arc::new(Engine {
                name: name.into(),
                ctx,
                files: Vec::new(),
                registered: OnceCell::new(),
                limits,
                setup_error,
            }),
            tables: Vec::new(),
            runtime: None,
        }
    }

    /// Replaces the connection's [`DataFusionLimits`] (memory pool size, largest value of the
    /// capped functions). Tables, UDFs and object stores registered so far are kept. Fails
    /// with [`Error::InvalidInput`] when a limit is zero.
    pub fn with_limits(mut self, limits: DataFusionLimits) -> Result<Self> {
        limits.validate()?;
        let engine = Arc::make_mut(&mut self.engine);
        let env = limits
            .runtime_env(Some(&engine.ctx.runtime_env()))
            .map_err(|e| Error::Internal(format!("could not set DataFusion limits: {e}")))?;
        let mut config = engine.ctx.copied_config();
        // Keep the registered catalog: building a state would otherwise make a new, empty one.
        config
            .options_mut()
            .catalog
            .create_default_catalog_and_schema = false;
        let state =
            datafusion::execution::SessionStateBuilder::new_from_existing(engine.ctx.state())
                .with_config(config)
                .with_runtime_env(env)
                .build();
        engine.ctx = SessionContext::new_with_state(state);
        limits.install(&engine.ctx);
        engine.limits = limits;
        engine.setup_error = None;
        Ok(self)
    }

    /// The connection's [`DataFusionLimits`].
    pub fn limits(&self) -> &DataFusionLimits {
        &self.engine.limits
    }

    /// Runs queries on `runtime` instead of a runtime of their own (see "Where queries run"
    /// above). It should be a multi-threaded runtime other than the one awaiting the results,
    /// or timeouts and cancellation may only take effect when DataFusion yields.
    pub fn with_runtime(mut self, runtime: Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The connection's name.
    pub fn name(&self) -> &str {
        &self.engine.name
    }

    /// The DataFusion session, for registering anything the builder does not cover
    /// (UDFs, object stores, custom table providers).
    pub fn session(&self) -> &SessionContext {
        &self.engine.ctx
    }

    /// Adds a Parquet table from a file, a directory of `.parquet` files or a glob
    /// (`/data/2024-*.parquet`); all matched files form one table.
    pub fn with_parquet(self, table: impl Into<String>, path: impl AsRef<Path>) -> Result<Self> {
        self.with_format(
            table.into(),
            path.as_ref(),
            FileFormat::Parquet,
            CsvOptions::default(),
        )
    }

    /// Adds a CSV table from a file, directory or glob.
    pub fn with_csv(
        self,
        table: impl Into<String>,
        path: impl AsRef<Path>,
        options: CsvOptions,
    ) -> Result<Self> {
        self.with_format(table.into(), path.as_ref(), FileFormat::Csv, options)
    }

    /// Adds a newline-delimited JSON table from a file, directory or glob.
    pub fn with_json(self, table: impl Into<String>, path: impl AsRef<Path>) -> Result<Self> {
        self.with_format(
            table.into(),
            path.as_ref(),
            FileFormat::Json,
            CsvOptions::default(),
        )
    }

    /// Adds an Arrow IPC (file format, a.k.a. Feather v2) table from a file, directory or glob.
    pub fn with_arrow_ipc(self, table: impl Into<String>, path: impl AsRef<Path>) -> Result<Self> {
        self.with_format(
            table.into(),
            path.as_ref(),
            FileFormat::ArrowIpc,
            CsvOptions::default(),
        )
    }

    /// Adds a table from a file whose format follows from its extension (see [`FileFormat`]);
    /// `.tsv` files are read as tab-separated CSV with a header.
    pub fn with_file(self, table: impl Into<String>, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let format = FileFormat::from_path(path).ok_or_else(|| {
            Error::invalid_input(format!(
                "cannot tell the format of `{}`: supported extensions are .parquet, .csv, .tsv, \
                 .json, .ndjson, .jsonl, .arrow, .feather",
                path.display()
            ))
        })?;
        let csv = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
        {
            CsvOptions::default().with_delimiter(b'\t')
        } else {
            CsvOptions::default()
        };
        self.with_format(table.into(), path, format, csv)
    }

    /// Adds an in-memory table made of `batches`, which must share one schema.
    pub fn with_batches(
        mut self,
        table: impl Into<String>,
        batches: Vec<RecordBatch>,
    ) -> Result<Self> {
        let table = table.into();
        self.check_new_table(&table)?;
        let schema = batches.first().map(RecordBatch::schema).ok_or_else(|| {
            Error::invalid_input(format!("table `{table}` needs at least one record batch"))
        })?;
        let mem = MemTable::try_new(schema, vec![batches])
            .map_err(|e| Error::invalid_input(format!("table `{table}`: {}", clean_message(&e))))?;
        self.engine
            .ctx
            .register_table(TableReference::bare(table.as_str()), Arc::new(mem))
            .map_err(|e| self.engine.query_error(e))?;
        self.tables.push(table);
        Ok(self)
    }

    fn check_new_table(&self, table: &str) -> Result<()> {
        if table.trim().is_empty() {
            return Err(Error::invalid_input("table names must not be empty"));
        }
        if self.tables.iter().any(|t| t == table) {
            return Err(Error::invalid_input(format!(
                "connection `{}` already has a table named `{table}`",
                self.engine.name
            )));
        }
        Ok(())
    }

    fn with_format(
        mut self,
        table: String,
        path: &Path,
        format: FileFormat,
        csv: CsvOptions,
    ) -> Result<Self> {
        self.check_new_table(&table)?;
        let (location, extension) = resolve_location(path, format)?;
        // Unique while building, so this never copies. A table added after first use needs a
        // new registration pass (tables already registered are skipped).
        let engine = Arc::make_mut(&mut self.engine);
        engine.registered = OnceCell::new();
        engine.files.push(FileSource {
            table: table.clone(),
            location,
            extension,
            format,
            csv,
        });
        self.tables.push(table);
        Ok(self)
    }

    fn find_table(&self, table: &TableRef) -> Result<&str> {
        let schema_ok = table
            .schema
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(DEFAULT_SCHEMA));
        let found = schema_ok
            .then(|| {
                self.tables.iter().find(|t| **t == table.name).or_else(|| {
                    self.tables
                        .iter()
                        .find(|t| t.eq_ignore_ascii_case(&table.name))
                })
            })
            .flatten();
        found.map(String::as_str).ok_or_else(|| Error::NotFound {
            what: "table",
            name: table.to_string(),
        })
    }
}
#[async_trait]
impl Connector for DataFusionConnector {
    async fn sample(&self, table: &TableRef, rows: usize) -> Result<QueryData> {
        // On a runtime of its own, as queries are: never on the caller's (a binding's runtime
        // may be small, and a scan there can starve the runs awaiting it).
        let name = self.find_table(table)?.to_string();
        let lane = self.engine.lane(self.runtime.as_ref())?;
        let engine = Arc::clone(&self.engine);
        let mut task = lane
            .handle
            .spawn(async move { engine.sample(&name, rows).await });
        match tokio::time::timeout(SAMPLE_TIMEOUT, &mut task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(Error::Internal(format!(
                "the DataFusion sample task failed: {e}"
            ))),
            Err(_) => {
                task.abort();
                Err(self.engine.timeout_error(SAMPLE_TIMEOUT))
            }
        }
    }

    fn info(&self) -> ConnectorInfo {
        ConnectorInfo {
            name: self.engine.name.clone(),
            backend: BACKEND.to_string(),
            dialect: Dialect::DataFusion,
            capabilities: Capabilities::none()
                .with_cancel(true)
                .with_explain(true)
                .with_limit_pushdown(true)
                .with_estimate(true),
        }
    }

    /// The rows and bytes the physical plan's statistics expect (exact from Parquet footers and
    /// in-memory tables; CSV and JSON files carry none, so `None`). Planned, not executed, on
    /// the connection's own runtime as queries are.
    async fn estimate(&self, sql: &str) -> Result<Option<CostEstimate>> {
        let lane = self.engine.lane(self.runtime.as_ref())?;
        let engine = Arc::clone(&self.engine);
        let sql = sql.to_string();
        let mut task = lane
            .handle
            .spawn(async move { engine.estimate(&sql).await });
        match tokio::time::timeout(SAMPLE_TIMEOUT, &mut task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(Error::Internal(format!(
                "the DataFusion estimate task failed: {e}"
            ))),
            Err(_) => {
                task.abort();
                Err(self.engine.timeout_error(SAMPLE_TIMEOUT))
            }
        }
    }

    async fn test_connection(&self) -> Result<()> {
        self.engine.ensure_registered().await
    }

    async fn list_tables(&self) -> Result<Vec<TableRef>> {
        let mut tables: Vec<TableRef> = self.tables.iter().map(TableRef::bare).collect();
        tables.sort();
        Ok(tables)
    }

    async fn table_schema(&self, table: &TableRef) -> Result<TableSchema> {
        let name = self.find_table(table)?;
        let engine = &self.engine;
        engine.ensure_registered().await?;
        let provider = engine
            .ctx
            .table_provider(TableReference::bare(name))
            .await
            .map_err(|e| engine.query_error(e))?;
        let schema = provider.schema();
        let columns = schema
            .fields()
            .iter()
            .map(|f| ColumnInfo {
                name: f.name().clone(),
                data_type: sql_type_name(f.data_type()),
                nullable: f.is_nullable(),
                comment: column_comment(f.metadata()),
            })
            .collect();
        // Exact row counts come for free from Parquet footers and in-memory batches.
        let state = engine.ctx.state();
        let row_estimate = match provider.scan(&state, None, &[], None).await {
            Ok(plan) => exact_rows(plan.as_ref()),
            Err(_) => None,
        };
        Ok(TableSchema {
            table: TableRef::bare(name),
            kind: TableKind::Table,
            columns,
            comment: documentation(schema.metadata()),
            primary_key: Vec::new(),
            foreign_keys: Vec::new(),
            row_estimate,
        })
    }

    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        // No roles or per-user tokens here: refused, never run as the connection's login.
        if let Some(c) = &opts.run_as {
            c.check_supported(&self.info())?;
        }
        let limits = QueryLimits::new(&self.engine.name, opts);
        let lane = self.engine.lane(self.runtime.as_ref())?;
        // The task plans, executes and forwards batches; it ends when the receiver is dropped.
        let (schema_tx, schema_rx) = oneshot::channel::<Result<SchemaRef>>();
        let (batch_tx, batch_rx) = mpsc::channel::<Result<RecordBatch>>(2);
        let engine = Arc::clone(&self.engine);
        let sql = sql.to_string();
        let max_rows = limits.max_rows;
        let task = AbortOnDrop(lane.handle.spawn(async move {
            let mut stream = match engine.start(&sql, max_rows).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = schema_tx.send(Err(e));
                    return;
                }
            };
            if schema_tx.send(Ok(stream.schema())).is_err() {
                return;
            }
            while let Some(item) = stream.next().await {
                let item = item.map_err(|e| engine.query_error(e));
                let failed = item.is_err();
                if batch_tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        }));
        let started = async {
            match schema_rx.await {
                Ok(r) => r,
                Err(_) => Err(Error::Internal(
                    "the DataFusion query task ended without a result".into(),
                )),
            }
        };
        let state = TaskStream {
            batches: batch_rx,
            task,
            _lane: lane,
            connector: self.engine.name.clone(),
        };
        let batches = futures::stream::unfold(Some(state), TaskStream::next);
        Ok(LimitStream::start(started, batches, limits).await?.boxed())
    }
}

/// The SQL-like name shown for an Arrow type (see the module docs for the table).
pub fn sql_type_name(dt: &DataType) -> String {
    match dt {
        DataType::Null => "NULL".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::UInt32 => "INT UNSIGNED".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float16 => "REAL".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "BYTEA".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(tz)) => format!("TIMESTAMP WITH TIME ZONE ({tz})"),
        DataType::Duration(_) => "DURATION".into(),
        DataType::Interval(_) => "INTERVAL".into(),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _) => format!("{}[]", sql_type_name(f.data_type())),
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| format!("{} {}", f.name(), sql_type_name(f.data_type())))
                .collect();
            format!("STRUCT<{}>", inner.join(", "))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "MAP<{}, {}>",
                sql_type_name(kv[0].data_type()),
                sql_type_name(kv[1].data_type())
            ),
            _ => "MAP".into(),
        },
        DataType::Dictionary(_, v) => sql_type_name(v),
        DataType::RunEndEncoded(_, v) => sql_type_name(v.data_type()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(clippy::expect_used)]
    fn csv_headers_become_names_that_work_unquoted() {
        use arrow::datatypes::{Field, Schema};
        let schema = Schema::new(vec![
            Field::new("Invoice Date", DataType::Utf8, true),
            Field::new("UnitPrice", DataType::Float64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("Name", DataType::Utf8, true),
            Field::new("HTTPCode", DataType::Int32, true),
            Field::new("2024 Sales", DataType::Int32, true),
            Field::new("   ", DataType::Int32, true),
        ]);
        let renamed = sql_friendly_schema(&schema).expect("a schema to rename");
        let names: Vec<&str> = renamed.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "invoice_date",
                "unit_price",
                "name",
                "name_2",
                "http_code",
                "c_2024_sales",
                "column_7"
            ]
        );
        assert_eq!(
            renamed
                .field(0)
                .metadata()
                .get(SOURCE_NAME_KEY)
                .map(String::as_str),
            Some("Invoice Date")
        );
        assert!(renamed.field(2).metadata().is_empty());
        let plain = Schema::new(vec![Field::new("a_1", DataType::Utf8, true)]);
        assert!(sql_friendly_schema(&plain).is_none());
    }

    use super::*;
    use arrow::datatypes::{Field, TimeUnit};

    #[test]
    fn sql_type_names() {
        assert_eq!(sql_type_name(&DataType::Int32), "INT");
        assert_eq!(sql_type_name(&DataType::Int64), "BIGINT");
        assert_eq!(sql_type_name(&DataType::Float64), "DOUBLE");
        assert_eq!(sql_type_name(&DataType::Utf8View), "VARCHAR");
        assert_eq!(
            sql_type_name(&DataType::Timestamp(TimeUnit::Microsecond, None)),
            "TIMESTAMP"
        );
        assert_eq!(
            sql_type_name(&DataType::Timestamp(TimeUnit::Second, Some("UTC".into()))),
            "TIMESTAMP WITH TIME ZONE (UTC)"
        );
        assert_eq!(
            sql_type_name(&DataType::Decimal128(10, 2)),
            "DECIMAL(10, 2)"
        );
        assert_eq!(
            sql_type_name(&DataType::List(Arc::new(Field::new(
                "item",
                DataType::Int64,
                true
            )))),
            "BIGINT[]"
        );
        assert_eq!(
            sql_type_name(&DataType::Dictionary(
                Box::new(DataType::Int32),
                Box::new(DataType::Utf8)
            )),
            "VARCHAR"
        );
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(
            FileFormat::from_extension("PARQUET"),
            Some(FileFormat::Parquet)
        );
        assert_eq!(FileFormat::from_extension("ndjson"), Some(FileFormat::Json));
        assert_eq!(
            FileFormat::from_extension("feather"),
            Some(FileFormat::ArrowIpc)
        );
        assert_eq!(FileFormat::from_extension("xlsx"), None);
    }

    #[test]
    fn null_markers_are_exact_regexes() {
        assert_eq!(exact_regex("NA"), "^NA$");
        assert_eq!(exact_regex("n/a."), "^n/a\\.$");
    }

    #[test]
    fn missing_files_fail_at_construction() {
        let err = DataFusionConnector::new("x")
            .with_parquet("t", "/definitely/not/here.parquet")
            .map(|_| ())
            .err();
        assert!(
            matches!(err, Some(Error::NotFound { what: "file", .. })),
            "{err:?}"
        );
        let err = DataFusionConnector::new("x")
            .with_csv("t", "/definitely/not/*.csv", CsvOptions::default())
            .map(|_| ())
            .err();
        assert!(matches!(err, Some(Error::NotFound { .. })), "{err:?}");
    }
}
