//! Arrow data handed to Python without copying (`pyarrow.Table` through the C stream interface).

use pyo3::prelude::*;
use pyo3_arrow::PyTable;

use metricchat::arrow::array::{Array, RecordBatch};
use metricchat::arrow::datatypes::SchemaRef;

/// `batches` as a `pyarrow.Table` sharing their buffers.
pub(crate) fn to_table(
    py: Python<'_>,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> PyResult<Py<PyAny>> {
    let table = PyTable::try_new(batches, schema)?;
    Ok(table.into_pyarrow(py)?.unbind())
}

/// Address of the first data buffer of `column` in the first batch (for zero-copy checks).
pub(crate) fn first_buffer_address(batches: &[RecordBatch], column: usize) -> Option<usize> {
    let batch = batches.first()?;
    let array = batch.columns().get(column)?;
    let data = array.to_data();
    data.buffers().first().map(|b| b.as_ptr() as usize)
}
