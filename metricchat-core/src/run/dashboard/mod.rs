//! What a run's results make into a dashboard ([`Dashboard::from_datasets`]) and a dashboard's
//! refresh on the connections, guard and store of an agent or a tool ([`refresh`]). The
//! dashboard model (`crate::dashboard`) stays below the store; these build on the run's
//! datasets and the store, so they live here.

pub(crate) mod refresh;

use crate::dashboard::Dashboard;
use crate::dashboard::build::{Source, from_sources};
use crate::run::Dataset;
use crate::viz::Chart;

impl Source {
    /// A run's dataset (with the run's charts) as a dashboard source.
    pub(crate) fn of(d: &Dataset, charts: &[Chart]) -> Self {
        Self {
            query_id: d.query_id,
            title: d.title.clone(),
            connection: d.connection.clone(),
            sql: d.sql.clone(),
            row_count: Some(d.num_rows() as u64),
            chart: charts
                .iter()
                .rev()
                .find(|c| c.query_id == d.query_id)
                .map(|c| c.spec.clone()),
        }
    }
}

impl Dashboard {
    /// A dashboard of `datasets` (with their `charts`) titled `title`: what
    /// [`crate::Agent::dashboard_from_run`] builds from a stored run, built from an
    /// [`AskResult`](crate::AskResult)'s datasets and charts instead.
    pub fn from_datasets(title: &str, datasets: &[Dataset], charts: &[Chart]) -> Dashboard {
        let sources: Vec<Source> = datasets
            .iter()
            .filter(|d| d.title.is_some())
            .map(|d| Source::of(d, charts))
            .collect();
        from_sources(title, None, &sources, None)
    }
}
