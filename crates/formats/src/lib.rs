//! Reading batch input files into JSON records, one at a time, with precise per-row errors.
//!
//! [`read_file`] streams a JSON Lines, multi-line JSON, CSV or Parquet file (the first three
//! optionally gzip- or zstd-compressed, detected from the first bytes) and hands every record to
//! a visitor as a [`Row`]: its 1-based number, its raw text and either the JSON object or a
//! [`RowError`] (`1401` unparsable row, `1555` wrong type or invalid value, `1560` unknown
//! column). A row error never stops the file (except a syntax error in multi-line JSON, after
//! which the stream cannot be trusted); a [`FileError`] means the whole file is unusable.
//!
//! Memory stays bounded whatever the file size: one record at a time (at most
//! [`MAX_RECORD_BYTES`] of text), one row group at a time for Parquet. Nothing here knows about
//! storage, HTTP or schemas beyond [`ColumnTypes`], which tells the CSV reader which type a
//! column's text must become.

mod csv_format;
mod error;
mod jsonl;
mod multiline;
mod parquet_format;
mod raw;
mod source;
mod zstd;

use std::ops::ControlFlow;
use std::path::Path;

pub use error::{FileError, RowError};
pub use raw::{raw_text, MAX_RAW_BYTES};

/// The longest record read: a JSON Lines line, a multi-line JSON record or a CSV record.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// How a file's records are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputFormat {
    /// One JSON object per line.
    JsonLines,
    /// One JSON array of objects, or objects one after another (possibly pretty-printed).
    MultiLineJson,
    /// A header row of XDM dotted paths (or columns mapped to paths), then one record per row
    /// (RFC 4180 quoting). Paths build nested objects; integer segments are array indexes
    /// (`identityMap.Email.0.id`), and a row's array elements must not leave gaps. An empty
    /// cell is an absent field (and an object or array left empty is absent too). Cells are
    /// converted by the path's [`ScalarKind`]: strings and unknown paths kept as they are, other
    /// kinds read from the cell with surrounding spaces ignored.
    Csv(CsvOptions),
    /// Apache Parquet; every row becomes one object.
    Parquet,
}

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// The cell separator (default `b','`); not a quote, `\r` or `\n`.
    pub delimiter: u8,
    /// `(CSV column, XDM dotted path)` pairs. Without a mapping every header name is a path;
    /// with one, only mapped columns are read and a value in an unmapped column is a `1560`
    /// row error.
    pub mapping: Option<Vec<(String, String)>>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            mapping: None,
        }
    }
}

/// The XDM type a CSV column's text must be turned into (CSV cells are text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    /// Kept as it is.
    String,
    /// A whole number that fits an `i64`.
    Integer,
    /// A finite number.
    Number,
    /// `true`/`false`/`1`/`0`/`yes`/`no`, case-insensitive.
    Boolean,
    /// A path unknown to the schema: kept as a string (schema validation names it later).
    Unknown,
}

/// What the schema says about the type of a field, for CSV conversion.
pub trait ColumnTypes {
    /// The kind of the field at `dotted_path`: the column's XDM path with its array-index
    /// segments removed, e.g. `identityMap.Email.0.id` is asked as `identityMap.Email.id` and
    /// `productListItems.1.SKU` as `productListItems.SKU`.
    fn kind_of(&self, dotted_path: &str) -> ScalarKind;
}

/// Column types for files that need none (JSON, Parquet): every path is [`ScalarKind::Unknown`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoColumnTypes;

impl ColumnTypes for NoColumnTypes {
    fn kind_of(&self, _dotted_path: &str) -> ScalarKind {
        ScalarKind::Unknown
    }
}

/// One record of a file, good or bad.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based: the line for JSON Lines, the first line of the record for multi-line JSON, the
    /// data row for CSV (the header is row 1, so the first data row is 2), the row index + 1 for
    /// Parquet.
    pub number: u64,
    /// The row as it appeared (a JSON Lines line, a multi-line JSON record's text, the CSV
    /// record re-serialized with the same delimiter, a Parquet row's JSON), at most
    /// [`MAX_RAW_BYTES`] (longer text is cut and ends with `…`).
    pub raw: String,
    /// The record (always a JSON object) or why it could not be read.
    pub value: Result<serde_json::Value, RowError>,
}

/// What reading a file did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// Rows handed to the visitor, good and bad (blank JSON Lines lines are not rows).
    pub rows: u64,
    /// Rows among them whose value is an error.
    pub bad_rows: u64,
    /// Bytes read from the file on disk (compressed bytes when the file is compressed).
    pub bytes_read: u64,
}

/// Reads the file at `path` record by record, calling `visit` with each [`Row`] until the file
/// ends or `visit` returns [`ControlFlow::Break`] (then reading stops and the summary counts the
/// rows visited so far).
///
/// `types` is consulted for CSV only.
pub fn read_file(
    path: &Path,
    format: &InputFormat,
    types: &dyn ColumnTypes,
    visit: &mut dyn FnMut(Row) -> ControlFlow<()>,
) -> Result<FileSummary, FileError> {
    let mut sink = Sink {
        visit,
        summary: FileSummary::default(),
    };
    if *format == InputFormat::Parquet {
        let bytes_read = parquet_format::read(path, &mut sink)?;
        return Ok(FileSummary {
            bytes_read,
            ..sink.summary
        });
    }
    let (mut input, counter) = source::open(path)?;
    match format {
        InputFormat::JsonLines => jsonl::read(&mut input, &mut sink)?,
        InputFormat::MultiLineJson => multiline::read(&mut input, &mut sink)?,
        InputFormat::Csv(options) => csv_format::read(input, options, types, &mut sink)?,
        InputFormat::Parquet => unreachable!("handled above"),
    }
    Ok(FileSummary {
        bytes_read: counter.get(),
        ..sink.summary
    })
}

/// Hands rows to the visitor and counts them.
pub(crate) struct Sink<'a> {
    visit: &'a mut dyn FnMut(Row) -> ControlFlow<()>,
    summary: FileSummary,
}

impl Sink<'_> {
    /// Visits one row; `Break` means the caller must stop reading.
    pub(crate) fn emit(&mut self, row: Row) -> ControlFlow<()> {
        self.summary.rows += 1;
        if row.value.is_err() {
            self.summary.bad_rows += 1;
        }
        (self.visit)(row)
    }
}
