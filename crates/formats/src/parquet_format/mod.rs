//! Parquet: every row of every row group, read one row group at a time with the parquet
//! crate's record API, becomes one JSON object (see [`convert`]).

mod convert;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use parquet::errors::ParquetError;
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::error::{lowercase_first, FileError};
use crate::source::Compression;
use crate::{raw_text, Row, Sink};

const MAGIC: &[u8; 4] = b"PAR1";

/// Reads every row of the Parquet file at `path`; returns the bytes read from disk (the footer
/// and the column chunks of the row groups read).
pub(crate) fn read(path: &Path, sink: &mut Sink) -> Result<u64, FileError> {
    let mut file =
        File::open(path).map_err(|e| FileError::Open(lowercase_first(&e.to_string())))?;
    let footer_length = check_magic(&mut file)?;
    let mut bytes_read = (MAGIC.len() + 8) as u64 + u64::from(footer_length);
    let reader = SerializedFileReader::new(file)
        .map_err(|e| FileError::Parquet(format!("the footer cannot be read: {}", message(&e))))?;
    let mut number = 0u64;
    for index in 0..reader.num_row_groups() {
        let invalid = |e: ParquetError| {
            FileError::Parquet(format!(
                "row group {} cannot be read: {}",
                index + 1,
                message(&e)
            ))
        };
        let group = reader.get_row_group(index).map_err(invalid)?;
        bytes_read += group
            .metadata()
            .columns()
            .iter()
            .map(|c| c.byte_range().1)
            .sum::<u64>();
        for row in group.get_row_iter(None).map_err(invalid)? {
            number += 1;
            let row = row.map_err(|e| {
                FileError::Parquet(format!("row {number} cannot be read: {}", message(&e)))
            })?;
            let value = convert::record(&row);
            let raw = raw_text(value.to_string().as_bytes());
            let row = Row {
                number,
                raw,
                value: Ok(value),
            };
            if sink.emit(row).is_break() {
                return Ok(bytes_read);
            }
        }
    }
    Ok(bytes_read)
}

/// Checks the file starts and ends with `PAR1`; returns the footer's length.
fn check_magic(file: &mut File) -> Result<u32, FileError> {
    let length = file.metadata().map_err(FileError::from_io)?.len();
    if length == 0 {
        return Err(FileError::Empty);
    }
    let mut head = [0u8; 4];
    let head_length = length.min(4) as usize;
    file.read_exact(&mut head[..head_length])
        .map_err(FileError::from_io)?;
    match Compression::detect(&head[..head_length]) {
        Compression::None => {}
        compressed => {
            return Err(FileError::CompressedParquet {
                codec: compressed.name(),
            })
        }
    }
    if length < 12 || head != *MAGIC {
        return Err(FileError::NotParquet(
            "the file does not start with \"PAR1\"".into(),
        ));
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::End(-8)).map_err(FileError::from_io)?;
    file.read_exact(&mut tail).map_err(FileError::from_io)?;
    if tail[4..] != *MAGIC {
        return Err(FileError::NotParquet(
            "the file does not end with \"PAR1\"; is it truncated?".into(),
        ));
    }
    file.seek(SeekFrom::Start(0)).map_err(FileError::from_io)?;
    Ok(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]))
}

fn message(error: &ParquetError) -> String {
    let text = error.to_string();
    lowercase_first(text.strip_prefix("Parquet error: ").unwrap_or(&text))
}
