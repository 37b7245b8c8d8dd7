//! The two kinds of failure: a bad row ([`RowError`]) and an unusable file ([`FileError`]).

use std::io;

/// Why one row could not be read; the file goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RowError {
    /// `"1401"` unparsable or corrupted row, `"1555"` wrong type or missing/invalid value,
    /// `"1560"` unknown column.
    pub code: &'static str,
    /// Precise and lowercase; names the column or field and the rule broken.
    pub message: String,
}

impl RowError {
    /// Code of an unparsable or corrupted row.
    pub const CORRUPT: &'static str = "1401";
    /// Code of a value of the wrong type, or a missing or invalid value.
    pub const INVALID_VALUE: &'static str = "1555";
    /// Code of a value in a column that maps to no field.
    pub const UNKNOWN_COLUMN: &'static str = "1560";

    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        RowError {
            code: Self::CORRUPT,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        RowError {
            code: Self::INVALID_VALUE,
            message: message.into(),
        }
    }

    pub(crate) fn unknown_column(message: impl Into<String>) -> Self {
        RowError {
            code: Self::UNKNOWN_COLUMN,
            message: message.into(),
        }
    }
}

/// Why a whole file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened.
    #[error("cannot open the file: {0}")]
    Open(String),
    /// Reading the file failed.
    #[error("cannot read the file: {0}")]
    Read(String),
    /// The gzip or zstd stream is corrupt or truncated.
    #[error("corrupt {codec} stream: {message}")]
    Compression {
        codec: &'static str,
        message: String,
    },
    /// The file holds no data (after decompression), or only whitespace.
    #[error("the file is empty")]
    Empty,
    /// The CSV options cannot be used.
    #[error("invalid csv options: {0}")]
    CsvOptions(String),
    /// The CSV header row is missing or invalid.
    #[error("invalid csv header: {0}")]
    CsvHeader(String),
    /// The CSV column mapping does not fit the header.
    #[error("invalid csv mapping: {0}")]
    CsvMapping(String),
    /// A CSV record runs past the record size limit (usually a quote left open).
    #[error(
        "csv row {row} is longer than {} MiB; is a quoted field left open?",
        crate::MAX_RECORD_BYTES >> 20
    )]
    CsvRecordTooLong { row: u64 },
    /// A Parquet file was compressed as a whole.
    #[error(
        "the parquet file is wrapped in {codec} compression; upload parquet files as they are \
         (parquet compresses its pages itself)"
    )]
    CompressedParquet { codec: &'static str },
    /// The file given as Parquet is not one.
    #[error("not a parquet file: {0}")]
    NotParquet(String),
    /// The Parquet file is damaged or uses something this reader does not support.
    #[error("invalid parquet file: {0}")]
    Parquet(String),
}

/// The marker inside an `io::Error` raised by a decompressor (see [`crate::source`]).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct CorruptStream {
    pub codec: &'static str,
    pub message: String,
}

/// The marker inside an `io::Error` raised when a record exceeds [`crate::MAX_RECORD_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("record longer than the limit")]
pub(crate) struct RecordTooLong;

impl FileError {
    /// Classifies an error met while reading the (possibly decompressed) stream.
    pub(crate) fn from_io(error: io::Error) -> Self {
        match error
            .get_ref()
            .and_then(|e| e.downcast_ref::<CorruptStream>())
        {
            Some(c) => FileError::Compression {
                codec: c.codec,
                message: c.message.clone(),
            },
            None => FileError::Read(lowercase_first(&error.to_string())),
        }
    }
}

/// Whether an `io::Error` is the [`RecordTooLong`] marker.
pub(crate) fn is_too_long(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|e| e.is::<RecordTooLong>())
}

/// `"No such file"` → `"no such file"` (messages of other libraries, made to fit ours);
/// a leading acronym (`"EOF while…"`) is left alone.
pub(crate) fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if !second.is_uppercase() => first
            .to_lowercase()
            .chain(text[first.len_utf8()..].chars())
            .collect(),
        _ => text.to_string(),
    }
}
