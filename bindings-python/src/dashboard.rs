//! Dashboards from Python: a dashboard is a dict (the core's JSON form, `Dashboard::to_json`);
//! these functions check it and render its page. Refreshing and saving are `Agent` methods.

use pyo3::prelude::*;

use metricchat::dashboard::Dashboard;

use crate::agent::from_py;
use crate::error::err;

/// A dict read as a [`Dashboard`], validated (the core's typed error naming the block).
pub(crate) fn from_dict(value: &Bound<'_, PyAny>) -> PyResult<Dashboard> {
    let json: serde_json::Value = from_py("dashboard", value)?;
    Dashboard::from_value(json).map_err(err)
}

/// The dashboard's self-contained HTML page.
#[pyfunction]
pub(crate) fn dashboard_html(dashboard: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(from_dict(dashboard)?.to_html())
}

/// The dashboard checked and normalised (defaults filled in), as a dict; `parameters` (a dict
/// of name to value) are set first, each checked against its type.
#[pyfunction]
#[pyo3(signature = (dashboard, parameters = None))]
pub(crate) fn dashboard_check<'py>(
    py: Python<'py>,
    dashboard: &Bound<'py, PyAny>,
    parameters: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut d = from_dict(dashboard)?;
    if let Some(p) = parameters {
        let values: serde_json::Map<String, serde_json::Value> = from_py("parameters", p)?;
        for (name, value) in values {
            d.set_parameter(&name, value).map_err(err)?;
        }
    }
    Ok(pythonize::pythonize(py, &d.to_json())?)
}
