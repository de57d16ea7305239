//! Files as tables: `file://` URLs and plain paths (files, directories, globs), table naming,
//! file formats, CSV loading and column renaming.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use metricchat_core::connector::ConnectorRef;
use metricchat_core::error::{Error, Result};

use super::{CsvOptions, DataFusionConnector, DataFusionLimits, FileSource};
use crate::sanitize_table_name;

/// Opens a `file://` URL (see the crate docs for its forms and parameters).
pub(crate) fn open_url(url: &str) -> Result<ConnectorRef> {
    let (path, params) = parse_file_url(url)?;
    connect_file(&path, params)
}

/// Opens a plain path: a file, a directory or a glob.
pub(crate) fn open_path(path: &Path) -> Result<ConnectorRef> {
    connect_file(path, FileParams::default())
}

/// Query parameters of a `file://` URL.
#[derive(Debug, Default)]
struct FileParams {
    name: Option<String>,
    table: Option<String>,
    limits: DataFusionLimits,
}

fn parse_file_url(url: &str) -> Result<(PathBuf, FileParams)> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::invalid_input(format!("bad file URL `{url}`: {e}")))?;
    let path = parsed.to_file_path().map_err(|()| {
        Error::invalid_input(format!(
            "bad file URL `{url}`: it needs an absolute path, as in file:///data/flights.parquet"
        ))
    })?;
    let mut params = FileParams::default();
    for (k, v) in parsed.query_pairs() {
        match k.as_ref() {
            "name" => params.name = Some(v.into_owned()),
            "table" => params.table = Some(sanitize_table_name(&v)),
            other => {
                if params
                    .limits
                    .set_url_param(other, &v)
                    .map_err(|e| Error::invalid_input(format!("bad file URL `{url}`: {e}")))?
                {
                    continue;
                }
                return Err(Error::invalid_input(format!(
                    "unknown parameter `{other}` in file URL `{url}`; known: name, table, \
                     memory_limit, max_value_size"
                )));
            }
        }
    }
    Ok((path, params))
}

fn connect_file(path: &Path, params: FileParams) -> Result<ConnectorRef> {
    let abs = std::path::absolute(path)
        .map_err(|e| Error::invalid_input(format!("bad path `{}`: {e}", path.display())))?;
    let text = abs.to_string_lossy().into_owned();
    let stem_of = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };

    let (default_name, files) = if is_glob(&text) {
        // Named after the last directory before the first glob segment.
        let base: PathBuf = abs
            .components()
            .take_while(|c| !is_glob(&c.as_os_str().to_string_lossy()))
            .collect();
        let files: Vec<PathBuf> = glob_files(&text)?
            .into_iter()
            .filter(|p| FileFormat::from_path(p).is_some())
            .collect();
        (stem_of(&base), files)
    } else if abs.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&abs)
            .map_err(|e| Error::Connection {
                connector: stem_of(&abs),
                message: format!("cannot list `{text}`: {e}"),
                source: Some(Box::new(e)),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && FileFormat::from_path(p).is_some()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        (stem_of(&abs), files)
    } else if abs.is_file() {
        if FileFormat::from_path(&abs).is_none() {
            return Err(Error::invalid_input(format!(
                "unsupported file `{text}`: supported extensions are .parquet, .csv, .tsv, \
                 .json, .ndjson, .jsonl, .arrow, .feather"
            )));
        }
        (stem_of(&abs), vec![abs.clone()])
    } else {
        return Err(Error::NotFound {
            what: "file",
            name: text,
        });
    };

    if files.is_empty() {
        return Err(Error::NotFound {
            what: "data file",
            name: format!("{text} (no .parquet, .csv, .json, .ndjson or .arrow files)"),
        });
    }
    let name = params.name.unwrap_or(default_name);
    let mut conn = DataFusionConnector::new(name).with_limits(params.limits)?;

    if let Some(table) = params.table {
        if !is_glob(&text) {
            return Err(Error::invalid_input(
                "the `table` parameter applies to glob URLs only (file:///dir/*.parquet?table=t)",
            ));
        }
        let format = FileFormat::from_path(&files[0]);
        if files.iter().any(|f| FileFormat::from_path(f) != format) {
            return Err(Error::invalid_input(format!(
                "`{text}` matches files of different formats; one table needs one format"
            )));
        }
        conn = match format {
            Some(FileFormat::Csv) => conn.with_csv(table, &abs, CsvOptions::default())?,
            Some(FileFormat::Json) => conn.with_json(table, &abs)?,
            Some(FileFormat::ArrowIpc) => conn.with_arrow_ipc(table, &abs)?,
            _ => conn.with_parquet(table, &abs)?,
        };
        return Ok(std::sync::Arc::new(conn));
    }

    let mut taken: Vec<String> = Vec::new();
    for file in &files {
        let base = sanitize_table_name(&stem_of(file));
        let mut table = base.clone();
        if taken.contains(&table) {
            let ext = file
                .extension()
                .map(|e| sanitize_table_name(&e.to_string_lossy()))
                .unwrap_or_default();
            table = format!("{base}_{ext}");
        }
        let mut n = 2;
        while taken.contains(&table) {
            table = format!("{base}_{n}");
            n += 1;
        }
        conn = conn.with_file(table.clone(), file)?;
        taken.push(table);
    }
    Ok(std::sync::Arc::new(conn))
}

/// The file formats this connector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileFormat {
    /// Apache Parquet (`.parquet`, `.parq`).
    Parquet,
    /// CSV (`.csv`) or tab-separated (`.tsv`).
    Csv,
    /// Newline-delimited JSON (`.json`, `.ndjson`, `.jsonl`).
    Json,
    /// Arrow IPC file format (`.arrow`, `.feather`, `.ipc`).
    ArrowIpc,
}

impl FileFormat {
    /// The format a file extension (without dot, any case) implies, if it is supported.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "parquet" | "parq" => Some(Self::Parquet),
            "csv" | "tsv" => Some(Self::Csv),
            "json" | "ndjson" | "jsonl" => Some(Self::Json),
            "arrow" | "feather" | "ipc" => Some(Self::ArrowIpc),
            _ => None,
        }
    }

    /// The format of `path`, from its extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Self::from_extension)
    }

    /// The extension DataFusion looks for when given a directory.
    fn default_extension(self) -> &'static str {
        match self {
            Self::Parquet => ".parquet",
            Self::Csv => ".csv",
            Self::Json => ".json",
            Self::ArrowIpc => ".arrow",
        }
    }
}

/// Why [`load_csv`] failed, with the file concerned.
pub(super) enum LoadError {
    Io(String, std::io::Error),
    Arrow(String, arrow::error::ArrowError),
    Pattern(regex::Error),
}

/// Reads every file of a CSV source into memory, NULLs marked by `null_value`.
/// Field metadata key holding a column's name in the source file when it was renamed.
pub const SOURCE_NAME_KEY: &str = "metricchat.source_name";

/// `schema` with every name that does not work unquoted renamed (`Invoice Date` →
/// `invoice_date`, `UnitPrice` → `unit_price`, `Name` → `name`), the old name kept in the
/// field's [`SOURCE_NAME_KEY`] metadata; `None` when every name already works.
pub fn sql_friendly_schema(schema: &arrow::datatypes::Schema) -> Option<arrow::datatypes::Schema> {
    let works = |n: &str| {
        let mut c = n.chars();
        c.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && c.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if schema.fields().iter().all(|f| works(f.name())) {
        return None;
    }
    let mut taken: std::collections::HashSet<String> = schema
        .fields()
        .iter()
        .filter(|f| works(f.name()))
        .map(|f| f.name().clone())
        .collect();
    let fields: Vec<arrow::datatypes::Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if works(f.name()) {
                return f.as_ref().clone();
            }
            let base = snake_name(f.name(), i);
            let mut name = base.clone();
            let mut n = 2;
            while !taken.insert(name.clone()) {
                name = format!("{base}_{n}");
                n += 1;
            }
            let mut meta = f.metadata().clone();
            meta.insert(SOURCE_NAME_KEY.to_string(), f.name().clone());
            f.as_ref().clone().with_name(name).with_metadata(meta)
        })
        .collect();
    Some(arrow::datatypes::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ))
}

/// `Invoice Date` → `invoice_date`, `UnitPrice` → `unit_price`, `HTTPCode` → `http_code`,
/// `2024 Sales` → `c_2024_sales`; `column_{i+1}` when nothing is left.
pub(super) fn snake_name(name: &str, index: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    out.push('_');
                }
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').replace("__", "_");
    if out.is_empty() {
        format!("column_{}", index + 1)
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("c_{out}")
    } else {
        out
    }
}

pub(super) fn load_csv(f: &FileSource) -> std::result::Result<Vec<RecordBatch>, LoadError> {
    use arrow::csv::ReaderBuilder;
    use arrow::csv::reader::Format;

    let files: Vec<PathBuf> = if is_glob(&f.location) {
        glob_files(&f.location)
            .map_err(|e| LoadError::Io(f.location.clone(), std::io::Error::other(e.to_string())))?
    } else if f.location.ends_with('/') {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&f.location)
            .map_err(|e| LoadError::Io(f.location.clone(), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.to_string_lossy().ends_with(&f.extension))
            .collect();
        files.sort();
        files
    } else {
        vec![PathBuf::from(&f.location)]
    };
    let mut format = Format::default()
        .with_header(f.csv.has_header)
        .with_delimiter(f.csv.delimiter);
    if let Some(null) = &f.csv.null_value {
        let re = regex::Regex::new(&exact_regex(null)).map_err(LoadError::Pattern)?;
        format = format.with_null_regex(re);
    }
    let open =
        |p: &Path| std::fs::File::open(p).map_err(|e| LoadError::Io(p.display().to_string(), e));
    let mut schemas = Vec::with_capacity(files.len());
    for p in &files {
        let (schema, _) = format
            .infer_schema(open(p)?, Some(10_000))
            .map_err(|e| LoadError::Arrow(p.display().to_string(), e))?;
        schemas.push(schema);
    }
    let schema = arrow::datatypes::Schema::try_merge(schemas)
        .map_err(|e| LoadError::Arrow(f.location.clone(), e))?;
    let schema = Arc::new(schema);
    let mut batches = Vec::new();
    for p in &files {
        let reader = ReaderBuilder::new(Arc::clone(&schema))
            .with_format(format.clone())
            .build(open(p)?)
            .map_err(|e| LoadError::Arrow(p.display().to_string(), e))?;
        for batch in reader {
            batches.push(batch.map_err(|e| LoadError::Arrow(p.display().to_string(), e))?);
        }
    }
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
}

/// A regex matching exactly `s` (DataFusion takes CSV null markers as regexes).
pub(super) fn exact_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('^');
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

/// Checks that `path` (file, directory or glob) exists and returns the absolute location to
/// give DataFusion and the extension it should filter by.
pub(super) fn resolve_location(path: &Path, format: FileFormat) -> Result<(String, String)> {
    let abs = std::path::absolute(path)
        .map_err(|e| Error::invalid_input(format!("bad path `{}`: {e}", path.display())))?;
    let location = abs
        .to_str()
        .ok_or_else(|| {
            Error::invalid_input(format!("path `{}` is not valid UTF-8", abs.display()))
        })?
        .to_string();
    if is_glob(&location) {
        let matches = glob_files(&location)?;
        if matches.is_empty() {
            return Err(Error::NotFound {
                what: "file",
                name: location,
            });
        }
        return Ok((location, String::new()));
    }
    if abs.is_dir() {
        let ext = format.default_extension();
        let has_files = std::fs::read_dir(&abs)
            .map_err(|_| Error::NotFound {
                what: "directory",
                name: location.clone(),
            })?
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().ends_with(ext));
        if !has_files {
            return Err(Error::NotFound {
                what: "file",
                name: format!("{location}/*{ext}"),
            });
        }
        // A trailing slash tells DataFusion this is a directory to list.
        let dir = if location.ends_with('/') {
            location
        } else {
            format!("{location}/")
        };
        return Ok((dir, ext.to_string()));
    }
    if !abs.is_file() {
        return Err(Error::NotFound {
            what: "file",
            name: location,
        });
    }
    // DataFusion checks a single file's extension; give it the file's own.
    let ext = abs
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    Ok((location, ext))
}

/// Whether `s` contains glob metacharacters (the set DataFusion's listing understands).
pub(super) fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The regular files matching a glob pattern, sorted.
pub(super) fn glob_files(pattern: &str) -> Result<Vec<PathBuf>> {
    let paths = glob::glob(pattern)
        .map_err(|e| Error::invalid_input(format!("bad glob `{pattern}`: {e}")))?;
    let mut files: Vec<PathBuf> = paths
        .filter_map(|p| p.ok())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}
