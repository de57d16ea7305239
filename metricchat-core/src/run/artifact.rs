//! The two things a run makes: a [`Dataset`] (a query that succeeded, with its data) and a
//! [`Chart`] (a chart proposed for one). They are the one type of each; the events and store
//! records that describe them are views built from them here ([`Dataset::result_event`],
//! [`Chart::event`], [`Chart::record`]), so the three can't drift apart.
//!
//! A [`QueryRecord`](crate::store::QueryRecord) is a different thing: one SQL *attempt*, kept for
//! refused and failed attempts too. A dataset is what a successful attempt produced.

use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

use crate::connector::QueryData;
use crate::data;
use crate::events::EventKind;
use crate::store::VisualizationRecord;
use crate::viz::Chart;

/// A query that succeeded in a run, with its data: what [`AskResult::datasets`] lists and what
/// [`ToolContext::run_sql`](crate::tools::ToolContext::run_sql) returns.
///
/// [`AskResult::datasets`]: crate::AskResult::datasets
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Query id.
    pub query_id: Uuid,
    /// Title given by the model (`None` for an exploratory query).
    pub title: Option<String>,
    /// Connection name.
    pub connection: String,
    /// SQL as run (after the guard's rewrite).
    pub sql: String,
    /// The data.
    pub data: QueryData,
    /// Whether the row cap cut it.
    pub truncated: bool,
    /// How long the query took.
    pub duration: Duration,
}

/// The result of [`ToolContext::run_sql`](crate::tools::ToolContext::run_sql): the dataset the
/// query made (this was a type of its own before the two were unified).
pub type QueryOutcome = Dataset;

impl Dataset {
    /// Rows in the data.
    pub fn num_rows(&self) -> usize {
        self.data.num_rows()
    }

    /// The `query.result` event of this dataset: columns, row count and the first 20 rows.
    pub fn result_event(&self) -> EventKind {
        EventKind::QueryResult {
            query_id: self.query_id,
            columns: data::columns_meta(&self.data.schema),
            row_count: self.data.num_rows(),
            preview: data::batches_to_json_rows(&self.data.batches, 20).unwrap_or_default(),
            truncated: self.truncated,
            error: None,
            duration_ms: u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl Chart {
    /// The `visualization.created` event of this chart.
    pub fn event(&self) -> EventKind {
        EventKind::VisualizationCreated {
            visualization_id: self.id,
            query_id: self.query_id,
            spec: self.spec.clone(),
            echarts: self.echarts.clone(),
        }
    }

    /// The store row of this chart in run `run_id`, stamped now.
    pub fn record(&self, run_id: Uuid) -> VisualizationRecord {
        VisualizationRecord {
            id: self.id,
            run_id,
            query_id: self.query_id,
            spec: serde_json::to_value(&self.spec).unwrap_or_default(),
            echarts: self.echarts.clone(),
            created_at: Utc::now(),
        }
    }
}

impl TryFrom<&VisualizationRecord> for Chart {
    type Error = serde_json::Error;

    /// The chart a stored row describes (its spec is kept as JSON in the store).
    fn try_from(record: &VisualizationRecord) -> Result<Self, Self::Error> {
        Ok(Chart {
            id: record.id,
            query_id: record.query_id,
            spec: serde_json::from_value(record.spec.clone())?,
            echarts: record.echarts.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::sync::Arc;

    use crate::viz::ChartSpec;
    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::viz::ChartType;

    fn dataset() -> Dataset {
        let schema = Arc::new(Schema::new(vec![
            Field::new("carrier", DataType::Utf8, false),
            Field::new("flights", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["UA", "DL"])),
                Arc::new(Int64Array::from(vec![58665, 48110])),
            ],
        )
        .unwrap();
        Dataset {
            query_id: Uuid::now_v7(),
            title: Some("Flights per carrier".into()),
            connection: "flights".into(),
            sql: "SELECT carrier, COUNT(*) AS flights FROM flights GROUP BY carrier".into(),
            data: QueryData {
                schema,
                batches: vec![batch],
            },
            truncated: false,
            duration: Duration::from_millis(42),
        }
    }

    #[test]
    fn the_result_event_is_a_view_of_the_dataset() {
        let d = dataset();
        let EventKind::QueryResult {
            query_id,
            columns,
            row_count,
            preview,
            truncated,
            error,
            duration_ms,
        } = d.result_event()
        else {
            panic!("not a query.result event");
        };
        assert_eq!(query_id, d.query_id);
        assert_eq!(row_count, 2);
        assert_eq!(columns.len(), 2);
        assert_eq!(preview[0]["carrier"], "UA");
        assert!(!truncated);
        assert_eq!(error, None);
        assert_eq!(duration_ms, 42);
    }

    #[test]
    fn a_chart_survives_its_store_row_and_names_itself_in_its_event() {
        let chart = Chart {
            id: Uuid::now_v7(),
            query_id: Uuid::now_v7(),
            spec: ChartSpec {
                chart_type: ChartType::Bar,
                title: Some("Flights".into()),
                x: Some("carrier".into()),
                y: vec!["flights".into()],
                series: None,
                inferred: false,
            },
            echarts: serde_json::json!({"series": [{"type": "bar"}]}),
        };
        let run_id = Uuid::now_v7();
        let record = chart.record(run_id);
        assert_eq!(record.run_id, run_id);
        assert_eq!(Chart::try_from(&record).unwrap(), chart);
        let EventKind::VisualizationCreated {
            visualization_id,
            query_id,
            spec,
            ..
        } = chart.event()
        else {
            panic!("not a visualization.created event");
        };
        assert_eq!((visualization_id, query_id), (chart.id, chart.query_id));
        assert_eq!(spec, chart.spec);
    }
}
