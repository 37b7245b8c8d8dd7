//! Helpers shared by the tests: fixture files (plain, gzip, zstd), reading a whole file, and
//! column types given as a list.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use formats::{
    read_file, ColumnTypes, FileError, FileSummary, InputFormat, NoColumnTypes, Row, RowError,
    ScalarKind,
};
use tempfile::TempDir;

/// A temporary directory holding fixture files.
pub struct Fixtures {
    dir: TempDir,
}

impl Fixtures {
    pub fn new() -> Self {
        Fixtures {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `bytes` as they are.
    pub fn plain(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("write fixture");
        path
    }

    /// Writes `bytes` gzip-compressed.
    pub fn gzip(&self, name: &str, bytes: &[u8]) -> PathBuf {
        self.plain(name, &gzip(bytes))
    }

    /// Writes `bytes` zstd-compressed.
    pub fn zstd(&self, name: &str, bytes: &[u8]) -> PathBuf {
        self.plain(name, &zstd(bytes))
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

/// Every row of a file, and the summary.
pub fn read_all(
    path: &Path,
    format: &InputFormat,
    types: &dyn ColumnTypes,
) -> (Vec<Row>, FileSummary) {
    let mut rows = Vec::new();
    let summary = read_file(path, format, types, &mut |row| {
        rows.push(row);
        ControlFlow::Continue(())
    })
    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    (rows, summary)
}

/// Every row of a JSON or Parquet file.
pub fn rows(path: &Path, format: &InputFormat) -> Vec<Row> {
    read_all(path, format, &NoColumnTypes).0
}

/// The values of the rows, all of which must be good.
pub fn values(rows: &[Row]) -> Vec<serde_json::Value> {
    rows.iter()
        .map(|row| {
            row.value
                .clone()
                .unwrap_or_else(|e| panic!("row {}: {e}", row.number))
        })
        .collect()
}

/// The file error of reading `path`.
pub fn file_error(path: &Path, format: &InputFormat, types: &dyn ColumnTypes) -> FileError {
    match read_file(path, format, types, &mut |_| ControlFlow::Continue(())) {
        Ok(summary) => panic!("expected a file error, read {summary:?}"),
        Err(e) => e,
    }
}

/// The error of a row that must be bad.
pub fn row_error(row: &Row) -> &RowError {
    row.value
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("row {} should be bad", row.number))
}

/// Column types from `(dotted path, kind)` pairs; other paths are unknown.
pub struct Types(pub Vec<(&'static str, ScalarKind)>);

impl ColumnTypes for Types {
    fn kind_of(&self, dotted_path: &str) -> ScalarKind {
        self.0
            .iter()
            .find(|(path, _)| *path == dotted_path)
            .map_or(ScalarKind::Unknown, |(_, k)| *k)
    }
}
