//! Query results: Arrow IPC stream bytes and plain rows.

use metricchat::connector::QueryData;
use metricchat::data::{batches_to_json_rows, columns_meta, to_ipc_stream};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::js;

/// A result: its JSON metadata and, when there is one, its data.
#[napi]
pub struct NativeResult {
    meta: serde_json::Value,
    data: Option<QueryData>,
}

impl NativeResult {
    /// A result with `meta` and `data`.
    pub(crate) fn new(meta: serde_json::Value, data: Option<QueryData>) -> Self {
        Self { meta, data }
    }

    /// A bare query result: `columns`, `row_count` and `sql` as metadata.
    pub(crate) fn query(sql: &str, data: QueryData) -> Self {
        let meta = serde_json::json!({
            "sql": sql,
            "columns": columns_meta(&data.schema),
            "row_count": data.num_rows(),
        });
        Self::new(meta, Some(data))
    }
}

#[napi]
impl NativeResult {
    /// Everything but the data, as JSON (the Rust `AskResult::to_json` shape for runs).
    #[napi(getter)]
    pub fn meta(&self) -> serde_json::Value {
        self.meta.clone()
    }

    /// Whether there is a dataset.
    #[napi(getter)]
    pub fn has_data(&self) -> bool {
        self.data.is_some()
    }

    /// The data as one Arrow IPC stream (`tableFromIPC` reads it); `null` without a dataset.
    #[napi]
    pub fn ipc(&self) -> napi::Result<Option<Buffer>> {
        let Some(d) = &self.data else { return Ok(None) };
        Ok(Some(js(to_ipc_stream(&d.schema, &d.batches))?.into()))
    }

    /// The rows as plain objects (see `metricchat_core::data` for the encoding; integers beyond
    /// ±(2^53 − 1) become `BigInt`).
    #[napi]
    pub fn rows(&self) -> napi::Result<serde_json::Value> {
        let Some(d) = &self.data else {
            return Ok(serde_json::Value::Array(Vec::new()));
        };
        js(batches_to_json_rows(&d.batches, usize::MAX)).map(serde_json::Value::Array)
    }
}
