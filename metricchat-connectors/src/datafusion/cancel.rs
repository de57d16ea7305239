//! Stopping a query's work inside loops that never yield.
//!
//! Dropping a query's stream and shutting its runtime down stops DataFusion at its next yield
//! point, but some operators do a great deal of work between two: a nested-loop join probes one
//! batch of its right side against every buffered left row in a single poll (a
//! `generate_series(1, 200000)` cross join with a selective filter does 1.6 billion
//! comparisons per poll, many seconds). Each query runs on a runtime of its own (see
//! [`DataFusionConnector`](super::DataFusionConnector)), whose threads carry that query's stop
//! flag; the flag is raised when the query ends or is abandoned. Two places look at it:
//!
//! - [`StopCheckRule`], a physical optimizer rule, wraps the filter of every
//!   `NestedLoopJoinExec` in [`StopCheck`], which fails once the flag is up. The join evaluates
//!   its filter once per left row (or small group of rows), so it stops within microseconds;
//! - the [capped functions](super::limits) check it before running their kernel.
//!
//! Threads of a runtime given with
//! [`with_runtime`](super::DataFusionConnector::with_runtime) carry no flag: those queries stop
//! at yield points only.

use std::cell::OnceCell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, FieldRef, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::ColumnarValue;
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::sort_properties::ExprProperties;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::utils::JoinFilter;
use datafusion::physical_plan::joins::{NestedLoopJoinExec, NestedLoopJoinExecBuilder};

thread_local! {
    /// The stop flag of the query whose runtime owns this thread.
    static STOP: OnceCell<Arc<AtomicBool>> = const { OnceCell::new() };
}

/// Gives the calling thread `flag` as its query's stop flag (for `on_thread_start`).
pub(crate) fn adopt(flag: &Arc<AtomicBool>) {
    STOP.with(|s| {
        // A thread belongs to one runtime for its whole life, so this sets it once.
        let _ = s.set(Arc::clone(flag));
    });
}

/// Whether the query running on this thread has ended or been abandoned.
pub(crate) fn stop_requested() -> bool {
    STOP.with(|s| s.get().is_some_and(|f| f.load(Ordering::Relaxed)))
}

/// Fails when [`stop_requested`]; nobody reads the error, the caller is gone.
pub(crate) fn check() -> DfResult<()> {
    if stop_requested() {
        return Err(DataFusionError::Execution(
            "the query was stopped (timeout, cancel or dropped stream)".into(),
        ));
    }
    Ok(())
}

/// Wraps the filters of nested-loop joins in [`StopCheck`].
#[derive(Debug, Default)]
pub(crate) struct StopCheckRule;

impl PhysicalOptimizerRule for StopCheckRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(nlj) = node.downcast_ref::<NestedLoopJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            let Some(filter) = nlj.filter() else {
                return Ok(Transformed::no(node));
            };
            if filter.expression().downcast_ref::<StopCheck>().is_some() {
                return Ok(Transformed::no(node));
            }
            let checked = JoinFilter::new(
                Arc::new(StopCheck {
                    inner: Arc::clone(filter.expression()),
                }),
                filter.column_indices().to_vec(),
                Arc::clone(filter.schema()),
            );
            let rebuilt = NestedLoopJoinExecBuilder::from(nlj)
                .with_filter(Some(checked))
                .build()?;
            Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }

    fn name(&self) -> &str {
        "metricchat_stop_check"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// An expression that evaluates its child unless the query has been stopped. It shows as its
/// child in plans.
#[derive(Debug)]
pub(crate) struct StopCheck {
    inner: Arc<dyn PhysicalExpr>,
}

impl PartialEq for StopCheck {
    fn eq(&self, other: &Self) -> bool {
        self.inner.as_ref() == other.inner.as_ref()
    }
}

impl Eq for StopCheck {}

impl Hash for StopCheck {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.as_ref().hash(state);
    }
}

impl fmt::Display for StopCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl PhysicalExpr for StopCheck {
    fn data_type(&self, input_schema: &Schema) -> DfResult<DataType> {
        self.inner.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> DfResult<bool> {
        self.inner.nullable(input_schema)
    }

    fn return_field(&self, input_schema: &Schema) -> DfResult<FieldRef> {
        self.inner.return_field(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> DfResult<ColumnarValue> {
        check()?;
        self.inner.evaluate(batch)
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.inner]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> DfResult<Arc<dyn PhysicalExpr>> {
        match (children.pop(), children.is_empty()) {
            (Some(inner), true) => Ok(Arc::new(StopCheck { inner })),
            _ => Err(DataFusionError::Internal(
                "a stop check wraps exactly one expression".into(),
            )),
        }
    }

    fn evaluate_bounds(&self, children: &[&Interval]) -> DfResult<Interval> {
        match children {
            [only] => Ok((*only).clone()),
            _ => Interval::make_unbounded(&DataType::Boolean),
        }
    }

    fn get_properties(&self, children: &[ExprProperties]) -> DfResult<ExprProperties> {
        Ok(children
            .first()
            .cloned()
            .unwrap_or_else(ExprProperties::new_unknown))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt_sql(f)
    }
}
