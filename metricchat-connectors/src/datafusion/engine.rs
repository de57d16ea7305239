//! The engine behind a [`DataFusionConnector`](super::DataFusionConnector): the session, table
//! registration, error mapping, and the task and runtime a query runs on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
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
    CsvReadOptions, JsonReadOptions, ParquetReadOptions, SQLOptions, SessionContext,
};
use metricchat_core::connector::{CostEstimate, QueryData};
use metricchat_core::error::{Error, Result};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{OnceCell, mpsc};
use tokio::task::JoinHandle;

use super::files::{FileFormat, LoadError, exact_regex, load_csv, sql_friendly_schema};
use super::limits::{self, MEMORY_LIMIT_CODE, VALUE_LIMIT_CODE};
use super::{DataFusionLimits, FileSource, cancel};

/// What a running query needs, shared with the task that drives it.
#[derive(Clone)]
pub(super) struct Engine {
    pub(super) name: String,
    pub(super) ctx: SessionContext,
    pub(super) files: Vec<FileSource>,
    pub(super) registered: OnceCell<()>,
    pub(super) limits: DataFusionLimits,
    /// Why the session could not be given its limits; queries fail with it rather than run
    /// unbounded.
    pub(super) setup_error: Option<String>,
}

impl Engine {
    /// Registers every file table once; a failure is returned and retried on the next call.
    pub(super) async fn ensure_registered(&self) -> Result<()> {
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

    pub(super) async fn register(&self, f: &FileSource) -> Result<()> {
        let table = TableReference::bare(f.table.as_str());
        if self.ctx.table_exist(table.clone()).unwrap_or(false) {
            return Ok(());
        }
        let ext = f.extension.as_str();
        let res = match f.format {
            FileFormat::Parquet => {
                // Keep the file's Arrow metadata: its `description`/`comment` entries are the
                // table's and the columns' documentation (one file per table, so no two
                // files' metadata can conflict).
                let opts = ParquetReadOptions::default()
                    .file_extension(ext)
                    .skip_metadata(false);
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

    pub(super) fn load_error(&self, f: &FileSource, e: LoadError) -> Error {
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

    pub(super) fn registration_error(&self, f: &FileSource, e: DataFusionError) -> Error {
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
    pub(super) fn query_error(&self, e: DataFusionError) -> Error {
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
    pub(super) async fn start(&self, sql: &str, max_rows: Option<usize>) -> Result<DfStream> {
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

    pub(super) fn check_setup(&self) -> Result<()> {
        match &self.setup_error {
            Some(e) => Err(Error::Internal(format!(
                "the DataFusion session of `{}` has no memory limit: {e}",
                self.name
            ))),
            None => Ok(()),
        }
    }

    /// Where a query runs: a runtime of its own, or the one given to the connector.
    pub(super) fn lane(&self, given: Option<&Handle>) -> Result<Lane> {
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

    pub(super) fn timeout_error(&self, after: Duration) -> Error {
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
    pub(super) async fn sample(&self, table: &str, rows: usize) -> Result<QueryData> {
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

impl Engine {
    /// The rows and bytes the physical plan's statistics expect (exact from Parquet footers and
    /// in-memory tables, inexact through filters and joins); `None` when the plan has neither
    /// (CSV and JSON files carry no statistics). Plans; executes nothing.
    pub(super) async fn estimate(&self, sql: &str) -> Result<Option<CostEstimate>> {
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
            .map_err(|e| self.query_error(e))?;
        let plan = df
            .create_physical_plan()
            .await
            .map_err(|e| self.query_error(e))?;
        let Ok(stats) = StatisticsContext::new().compute(plan.as_ref(), &StatisticsArgs::new())
        else {
            return Ok(None);
        };
        let figure = |p: &Precision<usize>| match p {
            Precision::Exact(n) | Precision::Inexact(n) => u64::try_from(*n).ok(),
            Precision::Absent => None,
        };
        let (rows, bytes) = (figure(&stats.num_rows), figure(&stats.total_byte_size));
        if rows.is_none() && bytes.is_none() {
            return Ok(None);
        }
        let exact = matches!(stats.num_rows, Precision::Exact(_));
        let source = if exact {
            "datafusion plan statistics (exact rows)"
        } else {
            "datafusion plan statistics"
        };
        Ok(Some(
            CostEstimate::new(source).with_rows(rows).with_bytes(bytes),
        ))
    }
}

/// The plan's row count when it is known exactly (Parquet footers, in-memory batches).
pub(super) fn exact_rows(plan: &dyn ExecutionPlan) -> Option<u64> {
    let stats = StatisticsContext::new()
        .compute(plan, &StatisticsArgs::new())
        .ok()?;
    match stats.num_rows {
        Precision::Exact(n) => u64::try_from(n).ok(),
        _ => None,
    }
}

/// The runtime a query's tasks run on, kept alive while its stream is.
pub(super) struct Lane {
    pub(super) handle: Handle,
    /// The query's own runtime, if it has one (none with [`DataFusionConnector::with_runtime`]).
    pub(super) _own: Option<OwnRuntime>,
}

/// A query's own runtime. When the query ends or is abandoned it raises the query's stop flag
/// (which work inside non-yielding loops checks, see [`cancel`]) and shuts the runtime down:
/// every task still on it is dropped at its next yield point, and no thread waits for that.
pub(super) struct OwnRuntime {
    pub(super) runtime: Option<Runtime>,
    pub(super) stop: Arc<AtomicBool>,
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
pub(super) struct AbortOnDrop(pub(super) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The batches of a running query's task; the [`LimitStream`] around it enforces the limits.
pub(super) struct TaskStream {
    pub(super) batches: mpsc::Receiver<Result<RecordBatch>>,
    /// Declared before `_lane`: the task is aborted, then its runtime shut down.
    pub(super) task: AbortOnDrop,
    pub(super) _lane: Lane,
    pub(super) connector: String,
}

impl TaskStream {
    /// The task's next batch. Returning `None` as the next state drops the receiver and aborts
    /// the task, which drops the DataFusion stream.
    pub(super) async fn next(state: Option<Self>) -> Option<(Result<RecordBatch>, Option<Self>)> {
        let mut st = state?;
        match st.batches.recv().await {
            Some(Err(e)) => Some((Err(e), None)),
            Some(Ok(batch)) => Some((Ok(batch), Some(st))),
            // The task dropped its sender: it finished, or it panicked (arrow kernels panic on
            // some overflows), which must not look like a complete, empty result.
            None => st.task_panic().await.map(|e| (Err(e), None)),
        }
    }

    /// The error to report when the query task ended by panicking.
    pub(super) async fn task_panic(&mut self) -> Option<Error> {
        let err = (&mut self.task.0).await.err()?;
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
            self.connector
        )))
    }
}

/// Fills in the refused SQL of an [`Error::SqlRefused`].
pub(super) fn with_sql(e: Error, sql: &str) -> Error {
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
pub(super) fn clean_message(e: &DataFusionError) -> String {
    let root = e.find_root();
    let msg = match root {
        DataFusionError::SQL(parser, _) => parser.to_string(),
        other => other.strip_backtrace(),
    };
    msg.trim().to_string()
}

pub(super) fn is_not_found(e: &DataFusionError) -> bool {
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
