//! Reading result columns for a chart: concatenated across batches, as labels or as plot values.

use arrow::array::{Array, ArrayRef, AsArray, new_empty_array};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use arrow::record_batch::RecordBatch;
use serde_json::Value;

use crate::data::{array_to_json, json_to_label};

/// The result being drawn.
pub(super) struct Data<'a> {
    pub(super) schema: &'a Schema,
    pub(super) batches: &'a [RecordBatch],
}

impl Data<'_> {
    /// The column named `name` (case-insensitively), concatenated across batches.
    pub(super) fn column(&self, name: Option<&str>) -> Option<(String, ArrayRef)> {
        let name = name?.trim();
        let fields = self.schema.fields();
        let index = fields.iter().position(|f| f.name() == name).or_else(|| {
            fields
                .iter()
                .position(|f| f.name().eq_ignore_ascii_case(name))
        })?;
        let field = &fields[index];
        let array = concat_column(field, index, self.batches)?;
        Some((field.name().clone(), array))
    }

    pub(super) fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Column `index` of every batch, concatenated.
pub(super) fn concat_column(
    field: &Field,
    index: usize,
    batches: &[RecordBatch],
) -> Option<ArrayRef> {
    let parts: Vec<&dyn Array> = batches
        .iter()
        .filter_map(|b| b.columns().get(index))
        .map(|a| a.as_ref())
        .collect();
    match parts.as_slice() {
        [] => Some(new_empty_array(field.data_type())),
        [one] => Some(arrow::array::make_array(one.to_data())),
        _ => arrow::compute::concat(&parts).ok(),
    }
}

/// Chart labels of every slot.
pub(super) fn labels(array: &ArrayRef) -> Vec<String> {
    match array_to_json(array.as_ref()) {
        Ok(values) => values.iter().map(json_to_label).collect(),
        Err(_) => vec![String::new(); array.len()],
    }
}

/// Values to plot: integers exact, other numbers as `f64`, the rest null.
pub(super) fn numbers(array: &ArrayRef) -> Vec<Value> {
    if array.data_type().is_integer() {
        return array_to_json(array.as_ref()).unwrap_or_else(|_| vec![Value::Null; array.len()]);
    }
    floats(array)
        .into_iter()
        .map(|v| {
            v.and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number)
        })
        .collect()
}

/// Values as finite `f64`s, `None` for nulls, NaN, infinities and non-numbers.
pub(super) fn floats(array: &ArrayRef) -> Vec<Option<f64>> {
    match arrow::compute::cast(array, &DataType::Float64) {
        Ok(cast) => cast
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.filter(|f| f.is_finite()))
            .collect(),
        Err(_) => vec![None; array.len()],
    }
}

/// Row order: by time for temporal columns (nulls last), as given otherwise.
pub(super) fn row_order(array: &ArrayRef) -> Vec<usize> {
    let mut order: Vec<usize> = (0..array.len()).collect();
    if is_temporal(array.data_type())
        && let Ok(keys) = arrow::compute::cast(array, &DataType::Int64)
    {
        let keys = keys.as_primitive::<Int64Type>();
        order.sort_by_key(|&i| {
            if keys.is_null(i) {
                (1, 0)
            } else {
                (0, keys.value(i))
            }
        });
    }
    order
}

pub(super) fn is_temporal(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(..)
            | DataType::Time32(_)
            | DataType::Time64(_)
    )
}
