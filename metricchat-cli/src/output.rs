//! Writing Arrow results: a text table, CSV, JSON lines, Parquet or Arrow IPC.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use metricchat::arrow::array::RecordBatch;
use metricchat::arrow::datatypes::SchemaRef;
use metricchat::arrow::error::ArrowError;

/// An output format of `metricchat query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A text table (the default on a terminal).
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per row.
    Jsonl,
    /// Apache Parquet (zstd-compressed).
    Parquet,
    /// Arrow IPC file format (Feather v2), readable with `pyarrow.ipc.open_file`.
    Arrow,
}

impl Format {
    /// The format a file name suggests (`.csv`, `.jsonl`/`.ndjson`, `.parquet`,
    /// `.arrow`/`.ipc`/`.feather`).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" => Self::Csv,
            "jsonl" | "ndjson" | "json" => Self::Jsonl,
            "parquet" | "parq" => Self::Parquet,
            "arrow" | "ipc" | "feather" => Self::Arrow,
            "txt" => Self::Table,
            _ => return None,
        })
    }

    /// Whether the format is binary (not for a terminal).
    pub fn is_binary(self) -> bool {
        matches!(self, Self::Parquet | Self::Arrow)
    }
}

/// Writes `batches` (of `schema`) to `out` in `format`.
pub fn write_batches(
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
) -> Result<(), ArrowError> {
    match format {
        Format::Table => {
            let text = if batches.is_empty() {
                let empty = RecordBatch::new_empty(Arc::clone(schema));
                metricchat::arrow::util::pretty::pretty_format_batches(&[empty])?
            } else {
                metricchat::arrow::util::pretty::pretty_format_batches(batches)?
            };
            writeln!(out, "{text}")?;
        }
        Format::Csv => {
            let mut w = metricchat::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if batches.is_empty() {
                w.write(&RecordBatch::new_empty(Arc::clone(schema)))?;
            }
            for b in batches {
                w.write(b)?;
            }
        }
        Format::Jsonl => {
            let mut w = metricchat::arrow::json::LineDelimitedWriter::new(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        Format::Parquet => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .build();
            // The writer wants a `Send` sink; results are row-capped, so buffer them.
            let mut buf = Vec::new();
            let mut w =
                parquet::arrow::ArrowWriter::try_new(&mut buf, Arc::clone(schema), Some(props))
                    .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
            for b in batches {
                w.write(b)
                    .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
            }
            w.close()
                .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
            out.write_all(&buf)?;
        }
        Format::Arrow => {
            let mut w = metricchat::arrow::ipc::writer::FileWriter::try_new(&mut *out, schema)?;
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The first `max` rows of `batches`, and how many rows there were in all.
pub fn head(batches: &[RecordBatch], max: usize) -> (Vec<RecordBatch>, usize) {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut out = Vec::new();
    let mut left = max;
    for b in batches {
        if left == 0 {
            break;
        }
        let take = b.num_rows().min(left);
        out.push(b.slice(0, take));
        left -= take;
    }
    (out, total)
}

/// `batches` as a Markdown table (at most `max` rows), for MCP clients.
pub fn markdown_table(schema: &SchemaRef, batches: &[RecordBatch], max: usize) -> String {
    use metricchat::arrow::util::display::{ArrayFormatter, FormatOptions};
    let (rows, total) = head(batches, max);
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut out = format!(
        "| {} |\n|{}\n",
        names.join(" | "),
        "---|".repeat(names.len())
    );
    let options = FormatOptions::default().with_null("NULL");
    for b in &rows {
        let formatters: Vec<Option<ArrayFormatter<'_>>> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).ok())
            .collect();
        for r in 0..b.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| {
                    f.as_ref()
                        .map(|f| f.value(r).to_string().replace('|', "\\|"))
                        .unwrap_or_default()
                })
                .collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
    if total > max {
        out.push_str(&format!("… {} more row(s)\n", total - max));
    }
    out
}

/// `batches` as JSON objects, one per row (at most `max`).
pub fn json_rows(batches: &[RecordBatch], max: usize) -> Vec<serde_json::Value> {
    let (rows, _) = head(batches, max);
    let mut buf = Vec::new();
    {
        let mut w = metricchat::arrow::json::ArrayWriter::new(&mut buf);
        for b in &rows {
            if w.write(b).is_err() {
                return Vec::new();
            }
        }
        if w.finish().is_err() {
            return Vec::new();
        }
    }
    if buf.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice(&buf).unwrap_or_default()
}
