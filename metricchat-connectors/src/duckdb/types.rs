//! DuckDB batches to our Arrow through Arrow IPC (DuckDB links its own arrow version).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Carries batches of DuckDB's `arrow` (another major version) into ours through Arrow IPC.
pub(super) struct IpcBridge {
    pub(super) writer: duckdb_arrow_ipc::writer::StreamWriter<Vec<u8>>,
    pub(super) decoder: StreamDecoder,
    pub(super) schema: SchemaRef,
}

pub(super) fn bridge_error(e: impl fmt::Display) -> Error {
    Error::Internal(format!("cannot convert DuckDB's Arrow data: {e}"))
}

impl IpcBridge {
    pub(super) fn new(schema: &duckdb::arrow::datatypes::Schema) -> Result<Self> {
        // The writer sends the schema with the first batch; results may have none, so the
        // schema crosses on its own first, as a complete empty stream.
        let mut empty = duckdb_arrow_ipc::writer::StreamWriter::try_new(Vec::new(), schema)
            .map_err(bridge_error)?;
        empty.finish().map_err(bridge_error)?;
        let mut head = StreamDecoder::new();
        let mut buf = Buffer::from_vec(empty.into_inner().map_err(bridge_error)?);
        while !buf.is_empty() {
            head.decode(&mut buf)?;
        }
        let schema_ours = head
            .schema()
            .ok_or_else(|| bridge_error("no schema in the IPC stream"))?;
        let writer = duckdb_arrow_ipc::writer::StreamWriter::try_new(Vec::new(), schema)
            .map_err(bridge_error)?;
        Ok(Self {
            writer,
            decoder: StreamDecoder::new(),
            schema: schema_ours,
        })
    }

    pub(super) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Usually one batch; dictionary messages produce none of their own.
    pub(super) fn convert(
        &mut self,
        batch: &duckdb::arrow::record_batch::RecordBatch,
    ) -> Result<Vec<RecordBatch>> {
        // Only untyped NULL columns: the IPC message has an empty body, which arrow's stream
        // decoder does not emit until more bytes arrive. Nothing to copy anyway.
        if self
            .schema
            .fields()
            .iter()
            .all(|f| f.data_type() == &arrow::datatypes::DataType::Null)
        {
            let n = batch.num_rows();
            let columns = self
                .schema
                .fields()
                .iter()
                .map(|_| Arc::new(arrow::array::NullArray::new(n)) as arrow::array::ArrayRef)
                .collect();
            let opts = arrow::array::RecordBatchOptions::new().with_row_count(Some(n));
            return Ok(vec![RecordBatch::try_new_with_options(
                self.schema.clone(),
                columns,
                &opts,
            )?]);
        }
        self.writer.write(batch).map_err(bridge_error)?;
        let mut buf = Buffer::from_vec(std::mem::take(self.writer.get_mut()));
        let mut out = Vec::with_capacity(1);
        while !buf.is_empty() {
            if let Some(b) = self.decoder.decode(&mut buf)? {
                out.push(b);
            }
        }
        Ok(out)
    }
}
