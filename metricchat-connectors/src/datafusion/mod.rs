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
//! Statements are planned with DataFusion's [`SQLOptions`] refusing DDL (`CREATE`, `DROP`), DML
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
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::common::TableReference;
use datafusion::common::stats::Precision;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::options::ArrowReadOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{
    ExecutionPlan, SendableRecordBatchStream as DfStream, StatisticsArgs, StatisticsContext,
};
use datafusion::prelude::{
    CsvReadOptions, JsonReadOptions, ParquetReadOptions, SQLOptions, SessionConfig, SessionContext,
};
use futures::StreamExt;
use metricchat_core::connector::QueryOptions;
use metricchat_core::connector::{
    Capabilities, ColumnInfo, Connector, ConnectorInfo, Dialect, QueryData,
    RecordBatchStreamAdapter, SendableRecordBatchStream, TableKind, TableRef, TableSchema,
};
use metricchat_core::error::{Error, Result};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{OnceCell, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

mod cancel;
pub mod limits;

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

/// The file formats this connector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileFormat {
    /// Apache Parquet (`.parquet`, `.parq`).
    Parquet,
    /// CSV (`.csv`) or tab-separated (`.tsv`).
    Csv,
    /// Newline-delimited JSON (`.json`, `.ndjson`, `.jsonl`).
    Json,
    /// Arrow IPC file format (`.arrow`, `.feather`, `.ipc`).
    ArrowIpc,
}

impl FileFormat {
    /// The format a file extension (without dot, any case) implies, if it is supported.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "parquet" | "parq" => Some(Self::Parquet),
            "csv" | "tsv" => Some(Self::Csv),
            "json" | "ndjson" | "jsonl" => Some(Self::Json),
            "arrow" | "feather" | "ipc" => Some(Self::ArrowIpc),
            _ => None,
        }
    }

    /// The format of `path`, from its extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Self::from_extension)
    }

    /// The extension DataFusion looks for when given a directory.
    fn default_extension(self) -> &'static str {
        match self {
            Self::Parquet => ".parquet",
            Self::Csv => ".csv",
            Self::Json => ".json",
            Self::ArrowIpc => ".arrow",
        }
    }
}

/// A file table waiting to be registered on first use.
#[derive(Debug, Clone)]
struct FileSource {
    table: String,
    /// Absolute path, directory or glob, as DataFusion should list it.
    location: String,
    /// The extension DataFusion filters listed files by (`""` for globs: the glob filters).
    extension: String,
    format: FileFormat,
    csv: CsvOptions,
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

/// What a running query needs, shared with the task that drives it.
#[derive(Clone)]
struct Engine {
    name: String,
    ctx: SessionContext,
    files: Vec<FileSource>,
    registered: OnceCell<()>,
    limits: DataFusionLimits,
    /// Why the session could not be given its limits; queries fail with it rather than run
    /// unbounded.
    setup_error: Option<String>,
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

impl Engine {
    /// Registers every file table once; a failure is returned and retried on the next call.
    async fn ensure_registered(&self) -> Result<()> {
        self.registered
            .get_or_try_init(|| async {
                for f in &self.files {
                    self.register(f).await?;
                }
                Ok::<(), Error>(())
            })
            .await
            .map(|_| ())
    }

    async fn register(&self, f: &FileSource) -> Result<()> {
        let table = TableReference::bare(f.table.as_str());
        if self.ctx.table_exist(table.clone()).unwrap_or(false) {
            return Ok(());
        }
        let ext = f.extension.as_str();
        let res = match f.format {
            FileFormat::Parquet => {
                let opts = ParquetReadOptions::default().file_extension(ext);
                self.ctx.register_parquet(table, &f.location, opts).await
            }
            FileFormat::Csv if f.csv.null_value.is_some() => {
                // DataFusion 55 honours a null pattern when inferring the schema but not when
                // scanning, so such files are read with arrow's CSV reader into memory.
                let source = f.clone();
                let batches = tokio::task::spawn_blocking(move || load_csv(&source))
                    .await
                    .map_err(|e| Error::Internal(format!("CSV loading task failed: {e}")))?
                    .map_err(|e| self.load_error(f, e))?;
                let schema = match batches.first() {
                    Some(b) => b.schema(),
                    None => Arc::new(arrow::datatypes::Schema::empty()),
                };
                let (schema, batches) = match sql_friendly_schema(&schema) {
                    None => (schema, batches),
                    Some(renamed) => {
                        let renamed = Arc::new(renamed);
                        let batches = batches
                            .into_iter()
                            .map(|b| {
                                RecordBatch::try_new(Arc::clone(&renamed), b.columns().to_vec())
                            })
                            .collect::<std::result::Result<Vec<_>, _>>()
                            .map_err(|e| self.registration_error(f, e.into()))?;
                        (renamed, batches)
                    }
                };
                MemTable::try_new(schema, vec![batches])
                    .and_then(|mem| self.ctx.register_table(table, Arc::new(mem)).map(|_| ()))
            }
            FileFormat::Csv => {
                let opts = CsvReadOptions::new()
                    .has_header(f.csv.has_header)
                    .delimiter(f.csv.delimiter)
                    .file_extension(ext)
                    .null_regex(f.csv.null_value.as_deref().map(exact_regex));
                // Headers such as `Invoice Date` or `UnitPrice` become names that work unquoted
                // (DataFusion folds unquoted identifiers to lower case): `invoice_date`,
                // `unit_price`. The header stays in the column's metadata and the catalog.
                let inferred = self
                    .ctx
                    .read_csv(&f.location, opts.clone())
                    .await
                    .map_err(|e| self.registration_error(f, e))?;
                match sql_friendly_schema(inferred.schema().as_arrow()) {
                    Some(renamed) => {
                        self.ctx
                            .register_csv(table, &f.location, opts.schema(&renamed))
                            .await
                    }
                    None => self.ctx.register_csv(table, &f.location, opts).await,
                }
            }
            FileFormat::Json => {
                let opts = JsonReadOptions::default().file_extension(ext);
                self.ctx.register_json(table, &f.location, opts).await
            }
            FileFormat::ArrowIpc => {
                let opts = ArrowReadOptions {
                    file_extension: ext,
                    ..ArrowReadOptions::default()
                };
                self.ctx.register_arrow(table, &f.location, opts).await
            }
        };
        res.map_err(|e| self.registration_error(f, e))
    }

    fn load_error(&self, f: &FileSource, e: LoadError) -> Error {
        match e {
            LoadError::Io(path, io) if io.kind() == std::io::ErrorKind::NotFound => {
                Error::NotFound {
                    what: "file",
                    name: path,
                }
            }
            LoadError::Io(path, io) => Error::Connection {
                connector: self.name.clone(),
                message: format!("could not read `{path}` for table `{}`: {io}", f.table),
                source: Some(Box::new(io)),
            },
            LoadError::Arrow(path, e) => Error::Connection {
                connector: self.name.clone(),
                message: format!("could not parse `{path}` for table `{}`: {e}", f.table),
                source: Some(Box::new(e)),
            },
            LoadError::Pattern(e) => {
                Error::invalid_input(format!("bad CSV null value for table `{}`: {e}", f.table))
            }
        }
    }

    fn registration_error(&self, f: &FileSource, e: DataFusionError) -> Error {
        if is_not_found(&e) {
            return Error::NotFound {
                what: "file",
                name: f.location.clone(),
            };
        }
        Error::Connection {
            connector: self.name.clone(),
            message: format!(
                "could not open table `{}` from {}: {}",
                f.table,
                f.location,
                clean_message(&e)
            ),
            source: Some(Box::new(e)),
        }
    }

    /// Maps a DataFusion error from planning or execution to [`Error::Query`], or
    /// [`Error::SqlRefused`] when the read-only [`SQLOptions`] rejected the statement.
    fn query_error(&self, e: DataFusionError) -> Error {
        if let Some(v) = limits::value_too_large(&e) {
            return Error::Query {
                connector: self.name.clone(),
                message: v.to_string(),
                code: Some(VALUE_LIMIT_CODE.to_string()),
                source: Some(Box::new(e)),
            };
        }
        if limits::is_memory_exhausted(&e) {
            return Error::Query {
                connector: self.name.clone(),
                message: format!(
                    "the query needs more memory than the memory limit of {} (`memory_limit`) \
                     allows; aggregate or filter earlier, or select fewer columns ({})",
                    limits::human_size(self.limits.memory_limit),
                    clean_message(&e)
                ),
                code: Some(MEMORY_LIMIT_CODE.to_string()),
                source: Some(Box::new(e)),
            };
        }
        let message = clean_message(&e);
        let refused = [
            ("DDL not supported", "schema changes (CREATE, DROP, ALTER)"),
            (
                "DML not supported",
                "data changes (INSERT, UPDATE, DELETE, COPY)",
            ),
            (
                "Statement not supported",
                "session statements (SET, transactions)",
            ),
        ];
        // SQLOptions::verify_plan reports refusals as planning errors with these prefixes.
        let is_plan = matches!(e.find_root(), DataFusionError::Plan(_));
        if let Some((marker, what)) = refused
            .iter()
            .find(|(m, _)| is_plan && message.contains(*m))
        {
            let detail = message
                .split_once(marker)
                .map(|(_, rest)| rest.trim_start_matches(':').trim())
                .unwrap_or_default();
            return Error::SqlRefused {
                reason: format!(
                    "connection `{}` is read-only: {what} are not allowed (got {detail}); \
                     write a single SELECT query",
                    self.name
                ),
                sql: String::new(),
            };
        }
        Error::Query {
            connector: self.name.clone(),
            message,
            code: None,
            source: Some(Box::new(e)),
        }
    }

    /// Creates the plan and starts executing it; everything before the first batch.
    async fn start(&self, sql: &str, max_rows: Option<usize>) -> Result<DfStream> {
        self.check_setup()?;
        self.ensure_registered().await?;
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = self
            .ctx
            .sql_with_options(sql, options)
            .await
            .map_err(|e| self.query_error(e))
            .map_err(|e| with_sql(e, sql))?;
        // The cap goes into the plan too, so scans and sorts stop early (TopK). EXPLAIN and
        // DESCRIBE must stay the root of their plan; the stream is truncated for them.
        let plan_level = matches!(
            df.logical_plan(),
            LogicalPlan::Explain(_) | LogicalPlan::Analyze(_) | LogicalPlan::DescribeTable(_)
        );
        let df = match max_rows {
            Some(n) if !plan_level => df.limit(0, Some(n)).map_err(|e| self.query_error(e))?,
            _ => df,
        };
        df.execute_stream().await.map_err(|e| self.query_error(e))
    }

    fn check_setup(&self) -> Result<()> {
        match &self.setup_error {
            Some(e) => Err(Error::Internal(format!(
                "the DataFusion session of `{}` has no memory limit: {e}",
                self.name
            ))),
            None => Ok(()),
        }
    }

    /// Where a query runs: a runtime of its own, or the one given to the connector.
    fn lane(&self, given: Option<&Handle>) -> Result<Lane> {
        match given {
            Some(h) => Ok(Lane {
                handle: h.clone(),
                _own: None,
            }),
            None => {
                let threads = self.ctx.copied_config().target_partitions().max(1);
                let stop = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&stop);
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("metricchat-datafusion")
                    .on_thread_start(move || cancel::adopt(&flag))
                    .enable_all()
                    .build()
                    .map_err(|e| {
                        Error::Internal(format!("could not start a DataFusion runtime: {e}"))
                    })?;
                Ok(Lane {
                    handle: rt.handle().clone(),
                    _own: Some(OwnRuntime {
                        runtime: Some(rt),
                        stop,
                    }),
                })
            }
        }
    }

    fn timeout_error(&self, after: Duration) -> Error {
        Error::Timeout {
            operation: format!("query on `{}`", self.name),
            after,
        }
    }
}

impl Engine {
    /// The first `rows` rows of `table` in file order, read by one partition: the same rows on
    /// every call. (A parallel scan returns whichever partition answers first; sampled values
    /// end up in prompts, which must not change from run to run, or recorded cassettes stop
    /// matching and provider prompt caches miss.)
    async fn sample(&self, table: &str, rows: usize) -> Result<QueryData> {
        self.check_setup()?;
        self.ensure_registered().await?;
        let mut config = self.ctx.copied_config().with_target_partitions(1);
        // Keep the registered catalog: building a state would otherwise make a new, empty one.
        config
            .options_mut()
            .catalog
            .create_default_catalog_and_schema = false;
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(self.ctx.state())
            .with_config(config)
            .build();
        let ctx = SessionContext::new_with_state(state);
        let df = ctx
            .table(TableReference::bare(table))
            .await
            .and_then(|df| df.limit(0, Some(rows)))
            .map_err(|e| self.query_error(e))?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(|e| self.query_error(e))?;
        Ok(QueryData { schema, batches })
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
                .with_limit_pushdown(true),
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
                comment: f
                    .metadata()
                    .get(SOURCE_NAME_KEY)
                    .map(|h| format!("`{h}` in the source file")),
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
            comment: None,
            primary_key: Vec::new(),
            foreign_keys: Vec::new(),
            row_estimate,
        })
    }

    async fn query(&self, sql: &str, opts: QueryOptions) -> Result<SendableRecordBatchStream> {
        let deadline = opts.timeout.map(|t| Instant::now() + t);
        let timeout = opts.timeout.unwrap_or_default();
        let lane = self.engine.lane(self.runtime.as_ref())?;
        // The task plans, executes and forwards batches; it ends when the receiver is dropped.
        let (schema_tx, schema_rx) = oneshot::channel::<Result<SchemaRef>>();
        let (batch_tx, batch_rx) = mpsc::channel::<Result<RecordBatch>>(2);
        let engine = Arc::clone(&self.engine);
        let sql = sql.to_string();
        let max_rows = opts.max_rows;
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
        let schema = guarded(started, deadline, &opts.cancel, || {
            self.engine.timeout_error(timeout)
        })
        .await?;
        let state = Guard {
            batches: batch_rx,
            task,
            _lane: lane,
            remaining: opts.max_rows,
            deadline,
            timeout,
            cancel: opts.cancel,
            connector: self.engine.name.clone(),
        };
        let stream = futures::stream::unfold(Some(state), next_batch);
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            Box::pin(stream),
        )))
    }
}

/// The plan's row count when it is known exactly (Parquet footers, in-memory batches).
fn exact_rows(plan: &dyn ExecutionPlan) -> Option<u64> {
    let stats = StatisticsContext::new()
        .compute(plan, &StatisticsArgs::new())
        .ok()?;
    match stats.num_rows {
        Precision::Exact(n) => u64::try_from(n).ok(),
        _ => None,
    }
}

/// The runtime a query's tasks run on, kept alive while its stream is.
struct Lane {
    handle: Handle,
    /// The query's own runtime, if it has one (none with [`DataFusionConnector::with_runtime`]).
    _own: Option<OwnRuntime>,
}

/// A query's own runtime. When the query ends or is abandoned it raises the query's stop flag
/// (which work inside non-yielding loops checks, see [`cancel`]) and shuts the runtime down:
/// every task still on it is dropped at its next yield point, and no thread waits for that.
struct OwnRuntime {
    runtime: Option<Runtime>,
    stop: Arc<AtomicBool>,
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Aborts the query task when the stream is dropped; DataFusion stops at its next yield point.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The state of a running query's stream.
struct Guard {
    batches: mpsc::Receiver<Result<RecordBatch>>,
    /// Declared before `_lane`: the task is aborted, then its runtime shut down.
    task: AbortOnDrop,
    _lane: Lane,
    remaining: Option<usize>,
    deadline: Option<Instant>,
    timeout: Duration,
    cancel: CancellationToken,
    connector: String,
}

/// Pulls the next batch, enforcing cancel, deadline and row cap. Returning `None` as the next
/// state drops the receiver and aborts the task, which drops the DataFusion stream.
async fn next_batch(state: Option<Guard>) -> Option<(Result<RecordBatch>, Option<Guard>)> {
    let mut st = state?;
    if st.remaining == Some(0) {
        return None;
    }
    let item = tokio::select! {
        biased;
        () = st.cancel.cancelled() => Some(Err(Error::Cancelled)),
        () = sleep_until(st.deadline) => Some(Err(Error::Timeout {
            operation: format!("query on `{}`", st.connector),
            after: st.timeout,
        })),
        item = st.batches.recv() => item,
    };
    let item = match item {
        Some(item) => item,
        // The task dropped its sender: it finished, or it panicked (arrow kernels panic on
        // some overflows), which must not look like a complete, empty result.
        None => return task_panic(&mut st).await.map(|e| (Err(e), None)),
    };
    match item {
        Err(e) => Some((Err(e), None)),
        Ok(batch) => match st.remaining {
            Some(left) if batch.num_rows() >= left => Some((Ok(batch.slice(0, left)), None)),
            Some(left) => {
                st.remaining = Some(left - batch.num_rows());
                Some((Ok(batch), Some(st)))
            }
            None => Some((Ok(batch), Some(st))),
        },
    }
}

/// The error to report when the query task ended by panicking.
async fn task_panic(st: &mut Guard) -> Option<Error> {
    let err = (&mut st.task.0).await.err()?;
    if !err.is_panic() {
        return None;
    }
    let payload = err.into_panic();
    let detail = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("no message");
    Some(Error::Internal(format!(
        "DataFusion failed while running a query on `{}`: {detail}",
        st.connector
    )))
}

/// Runs `fut` unless `cancel` fires or `deadline` passes first.
async fn guarded<T>(
    fut: impl Future<Output = Result<T>>,
    deadline: Option<Instant>,
    cancel: &CancellationToken,
    on_timeout: impl FnOnce() -> Error,
) -> Result<T> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(Error::Cancelled),
        () = sleep_until(deadline) => Err(on_timeout()),
        r = fut => r,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Fills in the refused SQL of an [`Error::SqlRefused`].
fn with_sql(e: Error, sql: &str) -> Error {
    match e {
        Error::SqlRefused { reason, .. } => Error::SqlRefused {
            reason,
            sql: sql.to_string(),
        },
        other => other,
    }
}

/// DataFusion's innermost message without the backtrace, e.g. `Schema error: No field named
/// dep_delayy. Valid fields are flights.year, …` (the valid names help a model repair the SQL).
fn clean_message(e: &DataFusionError) -> String {
    let root = e.find_root();
    let msg = match root {
        DataFusionError::SQL(parser, _) => parser.to_string(),
        other => other.strip_backtrace(),
    };
    msg.trim().to_string()
}

fn is_not_found(e: &DataFusionError) -> bool {
    match e.find_root() {
        DataFusionError::IoError(io) => io.kind() == std::io::ErrorKind::NotFound,
        DataFusionError::ObjectStore(os) => {
            matches!(
                os.as_ref(),
                datafusion::object_store::Error::NotFound { .. }
            )
        }
        _ => false,
    }
}

/// Why [`load_csv`] failed, with the file concerned.
enum LoadError {
    Io(String, std::io::Error),
    Arrow(String, arrow::error::ArrowError),
    Pattern(regex::Error),
}

/// Reads every file of a CSV source into memory, NULLs marked by `null_value`.
/// Field metadata key holding a column's name in the source file when it was renamed.
pub const SOURCE_NAME_KEY: &str = "metricchat.source_name";

/// `schema` with every name that does not work unquoted renamed (`Invoice Date` →
/// `invoice_date`, `UnitPrice` → `unit_price`, `Name` → `name`), the old name kept in the
/// field's [`SOURCE_NAME_KEY`] metadata; `None` when every name already works.
pub fn sql_friendly_schema(schema: &arrow::datatypes::Schema) -> Option<arrow::datatypes::Schema> {
    let works = |n: &str| {
        let mut c = n.chars();
        c.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && c.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if schema.fields().iter().all(|f| works(f.name())) {
        return None;
    }
    let mut taken: std::collections::HashSet<String> = schema
        .fields()
        .iter()
        .filter(|f| works(f.name()))
        .map(|f| f.name().clone())
        .collect();
    let fields: Vec<arrow::datatypes::Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if works(f.name()) {
                return f.as_ref().clone();
            }
            let base = snake_name(f.name(), i);
            let mut name = base.clone();
            let mut n = 2;
            while !taken.insert(name.clone()) {
                name = format!("{base}_{n}");
                n += 1;
            }
            let mut meta = f.metadata().clone();
            meta.insert(SOURCE_NAME_KEY.to_string(), f.name().clone());
            f.as_ref().clone().with_name(name).with_metadata(meta)
        })
        .collect();
    Some(arrow::datatypes::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ))
}

/// `Invoice Date` → `invoice_date`, `UnitPrice` → `unit_price`, `HTTPCode` → `http_code`,
/// `2024 Sales` → `c_2024_sales`; `column_{i+1}` when nothing is left.
fn snake_name(name: &str, index: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    out.push('_');
                }
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').replace("__", "_");
    if out.is_empty() {
        format!("column_{}", index + 1)
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("c_{out}")
    } else {
        out
    }
}

fn load_csv(f: &FileSource) -> std::result::Result<Vec<RecordBatch>, LoadError> {
    use arrow::csv::ReaderBuilder;
    use arrow::csv::reader::Format;

    let files: Vec<PathBuf> = if is_glob(&f.location) {
        glob_files(&f.location)
            .map_err(|e| LoadError::Io(f.location.clone(), std::io::Error::other(e.to_string())))?
    } else if f.location.ends_with('/') {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&f.location)
            .map_err(|e| LoadError::Io(f.location.clone(), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.to_string_lossy().ends_with(&f.extension))
            .collect();
        files.sort();
        files
    } else {
        vec![PathBuf::from(&f.location)]
    };
    let mut format = Format::default()
        .with_header(f.csv.has_header)
        .with_delimiter(f.csv.delimiter);
    if let Some(null) = &f.csv.null_value {
        let re = regex::Regex::new(&exact_regex(null)).map_err(LoadError::Pattern)?;
        format = format.with_null_regex(re);
    }
    let open =
        |p: &Path| std::fs::File::open(p).map_err(|e| LoadError::Io(p.display().to_string(), e));
    let mut schemas = Vec::with_capacity(files.len());
    for p in &files {
        let (schema, _) = format
            .infer_schema(open(p)?, Some(10_000))
            .map_err(|e| LoadError::Arrow(p.display().to_string(), e))?;
        schemas.push(schema);
    }
    let schema = arrow::datatypes::Schema::try_merge(schemas)
        .map_err(|e| LoadError::Arrow(f.location.clone(), e))?;
    let schema = Arc::new(schema);
    let mut batches = Vec::new();
    for p in &files {
        let reader = ReaderBuilder::new(Arc::clone(&schema))
            .with_format(format.clone())
            .build(open(p)?)
            .map_err(|e| LoadError::Arrow(p.display().to_string(), e))?;
        for batch in reader {
            batches.push(batch.map_err(|e| LoadError::Arrow(p.display().to_string(), e))?);
        }
    }
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
}

/// A regex matching exactly `s` (DataFusion takes CSV null markers as regexes).
fn exact_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('^');
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

/// Checks that `path` (file, directory or glob) exists and returns the absolute location to
/// give DataFusion and the extension it should filter by.
fn resolve_location(path: &Path, format: FileFormat) -> Result<(String, String)> {
    let abs = std::path::absolute(path)
        .map_err(|e| Error::invalid_input(format!("bad path `{}`: {e}", path.display())))?;
    let location = abs
        .to_str()
        .ok_or_else(|| {
            Error::invalid_input(format!("path `{}` is not valid UTF-8", abs.display()))
        })?
        .to_string();
    if is_glob(&location) {
        let matches = glob_files(&location)?;
        if matches.is_empty() {
            return Err(Error::NotFound {
                what: "file",
                name: location,
            });
        }
        return Ok((location, String::new()));
    }
    if abs.is_dir() {
        let ext = format.default_extension();
        let has_files = std::fs::read_dir(&abs)
            .map_err(|_| Error::NotFound {
                what: "directory",
                name: location.clone(),
            })?
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().ends_with(ext));
        if !has_files {
            return Err(Error::NotFound {
                what: "file",
                name: format!("{location}/*{ext}"),
            });
        }
        // A trailing slash tells DataFusion this is a directory to list.
        let dir = if location.ends_with('/') {
            location
        } else {
            format!("{location}/")
        };
        return Ok((dir, ext.to_string()));
    }
    if !abs.is_file() {
        return Err(Error::NotFound {
            what: "file",
            name: location,
        });
    }
    // DataFusion checks a single file's extension; give it the file's own.
    let ext = abs
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    Ok((location, ext))
}

/// Whether `s` contains glob metacharacters (the set DataFusion's listing understands).
pub(crate) fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The regular files matching a glob pattern, sorted.
pub(crate) fn glob_files(pattern: &str) -> Result<Vec<PathBuf>> {
    let paths = glob::glob(pattern)
        .map_err(|e| Error::invalid_input(format!("bad glob `{pattern}`: {e}")))?;
    let mut files: Vec<PathBuf> = paths
        .filter_map(|p| p.ok())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
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
