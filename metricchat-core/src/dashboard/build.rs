//! Building a sensible dashboard from what a run made, without a model.

use uuid::Uuid;

use super::{Block, BlockContent, BlockQuery, Dashboard};
use crate::viz::{ChartHint, ChartSpec, ChartType};

/// One result of a run, as a dashboard sees it.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub query_id: Uuid,
    pub title: Option<String>,
    pub connection: String,
    pub sql: String,
    pub row_count: Option<u64>,
    pub chart: Option<ChartSpec>,
}

pub(crate) fn hint_of(spec: &ChartSpec) -> ChartHint {
    ChartHint {
        chart_type: Some(spec.chart_type),
        x: spec.x.clone(),
        y: spec.y.clone(),
        series: spec.series.clone(),
        title: None,
    }
}

/// A block id from a title: lowercase words joined by `-`, unique among `taken`.
pub(crate) fn block_id(title: &str, taken: &[Block]) -> String {
    let mut base: String = title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|w| !w.is_empty())
        .take(6)
        .collect::<Vec<_>>()
        .join("-");
    if base.is_empty() {
        base = "block".into();
    }
    let mut id = base.clone();
    let mut n = 2;
    while taken.iter().any(|b| b.id == id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

/// The dashboard [`crate::Agent::dashboard_from_run`] builds: the answer as text, then per
/// result a KPI card (one-row results and metric charts), a chart (its run's chart, or one
/// inferred at refresh) — the last result also as a table when it has more than one row.
pub(crate) fn from_sources(
    title: &str,
    answer: Option<&str>,
    sources: &[Source],
    run_id: Option<Uuid>,
) -> Dashboard {
    let mut d = Dashboard::new(title);
    d.run_id = run_id;
    if let Some(answer) = answer.filter(|a| !a.trim().is_empty()) {
        d.blocks.push(Block {
            id: "summary".into(),
            title: None,
            width: 12,
            content: BlockContent::Text {
                markdown: answer.to_string(),
            },
            result: None,
        });
    }
    // KPIs first (a row of cards), then charts, then the table.
    let mut kpis = Vec::new();
    let mut charts = Vec::new();
    for s in sources {
        let title = s.title.clone().unwrap_or_else(|| "Result".into());
        let query = BlockQuery {
            connection: Some(s.connection.clone()),
            sql: Some(s.sql.clone()),
            query_id: Some(s.query_id),
            result: None,
        };
        let is_kpi = s.row_count == Some(1)
            || s.chart
                .as_ref()
                .is_some_and(|c| c.chart_type == ChartType::Metric);
        if is_kpi {
            kpis.push((title, query, s.chart.clone()));
        } else {
            charts.push((title, query, s.chart.clone()));
        }
    }
    let kpi_width = match kpis.len() {
        0 | 1 => 4,
        2 => 6,
        3 => 4,
        _ => 3,
    };
    for (title, query, spec) in kpis {
        let id = block_id(&title, &d.blocks);
        d.blocks.push(Block {
            id,
            title: Some(title),
            width: kpi_width,
            content: BlockContent::Kpi {
                query,
                value: spec.and_then(|s| s.y.first().cloned()),
                previous: None,
                unit: None,
            },
            result: None,
        });
    }
    let n = charts.len();
    for (i, (title, query, spec)) in charts.iter().enumerate() {
        let table = spec
            .as_ref()
            .is_some_and(|s| s.chart_type == ChartType::Table);
        let id = block_id(title, &d.blocks);
        let content = if table {
            BlockContent::Table {
                query: query.clone(),
            }
        } else {
            BlockContent::Chart {
                query: query.clone(),
                chart: spec.as_ref().map(hint_of).unwrap_or_default(),
            }
        };
        // Two per row; an odd last one takes the whole row.
        let width = if n % 2 == 1 && i == n - 1 { 12 } else { 6 };
        d.blocks.push(Block {
            id,
            title: Some(title.clone()),
            width,
            content,
            result: None,
        });
    }
    if let Some((title, query, spec)) = charts.last()
        && !spec
            .as_ref()
            .is_some_and(|s| s.chart_type == ChartType::Table)
    {
        let title = format!("{title} (table)");
        let id = block_id(&title, &d.blocks);
        d.blocks.push(Block {
            id,
            title: Some(title),
            width: 12,
            content: BlockContent::Table {
                query: query.clone(),
            },
            result: None,
        });
    }
    d
}
