//! Dashboards from JavaScript: a dashboard is a plain object (the core's JSON form); these
//! functions check it and render its page. Refreshing and saving are `NativeAgent` methods.

use metricchat::ErrorKind;
use metricchat::dashboard::Dashboard;
use napi_derive::napi;

use crate::{coded, js};

/// An object read as a [`Dashboard`], validated (the core's error naming the block).
pub(crate) fn from_object(value: serde_json::Value) -> napi::Result<Dashboard> {
    js(Dashboard::from_value(value))
}

/// A dashboard as a plain object.
pub(crate) fn to_object(d: &Dashboard) -> serde_json::Value {
    d.to_json()
}

/// The dashboard's self-contained HTML page.
#[napi]
pub fn dashboard_html(dashboard: serde_json::Value) -> napi::Result<String> {
    Ok(from_object(dashboard)?.to_html())
}

/// The dashboard checked, with defaults filled in; `parameters` (name to value) are set first,
/// each checked against its type.
#[napi]
pub fn dashboard_check(
    dashboard: serde_json::Value,
    parameters: Option<serde_json::Value>,
) -> napi::Result<serde_json::Value> {
    let mut d = from_object(dashboard)?;
    match parameters {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(values)) => {
            for (name, value) in values {
                js(d.set_parameter(&name, value))?;
            }
        }
        Some(_) => {
            return Err(coded(
                ErrorKind::InvalidInput,
                "parameters must be an object",
            ));
        }
    }
    Ok(to_object(&d))
}
