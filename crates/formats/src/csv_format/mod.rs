//! CSV: a header row of XDM dotted paths (or columns mapped to paths), then one record per row,
//! each cell converted to its column's type and placed in nested objects and arrays.

mod build;
mod cells;
mod layout;

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, Read, Write};
use std::rc::Rc;

use csv::{ByteRecord, Reader, ReaderBuilder, Writer, WriterBuilder};
use serde_json::Value;

use crate::error::{is_too_long, lowercase_first, FileError, RecordTooLong, RowError};
use crate::{raw_text, ColumnTypes, CsvOptions, Row, Sink, MAX_RECORD_BYTES};
use layout::Layout;

/// Reads the header and every row of `input`, handing each row to `sink`.
pub(crate) fn read(
    input: Box<dyn BufRead>,
    options: &CsvOptions,
    types: &dyn ColumnTypes,
    sink: &mut Sink,
) -> Result<(), FileError> {
    if matches!(options.delimiter, b'"' | b'\r' | b'\n') {
        let shown = char::from(options.delimiter).escape_default();
        return Err(FileError::CsvOptions(format!(
            "the delimiter cannot be '{shown}'"
        )));
    }
    let record_start = Rc::new(Cell::new(0));
    let guarded = Guarded {
        inner: input,
        passed: 0,
        record_start: record_start.clone(),
    };
    let mut reader = ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(guarded);
    let mut record = ByteRecord::new();
    if !next_record(&mut reader, &mut record, 1)? {
        return Err(FileError::Empty);
    }
    let header = header_names(&record)?;
    let layout = layout::layout(&header, options, types)?;
    let mut raw = RawWriter::new(options.delimiter);
    for number in 2.. {
        record_start.set(reader.position().byte());
        if !next_record(&mut reader, &mut record, number)? {
            break;
        }
        let value = if record.len() == header.len() {
            convert_row(&record, &layout)
        } else {
            Err(RowError::corrupt(format!(
                "the row has {} cells but the header has {} columns",
                record.len(),
                header.len()
            )))
        };
        if sink
            .emit(Row {
                number,
                raw: raw.text(&record),
                value,
            })
            .is_break()
        {
            break;
        }
    }
    Ok(())
}

/// Reads the next record; `false` at the end of the file.
fn next_record<R: Read>(
    reader: &mut Reader<R>,
    record: &mut ByteRecord,
    number: u64,
) -> Result<bool, FileError> {
    reader.read_byte_record(record).map_err(|e| {
        let message = lowercase_first(&e.to_string());
        match e.into_kind() {
            csv::ErrorKind::Io(io) if is_too_long(&io) => {
                FileError::CsvRecordTooLong { row: number }
            }
            csv::ErrorKind::Io(io) => FileError::from_io(io),
            _ => FileError::Read(message),
        }
    })
}

/// The header's column names, trimmed.
fn header_names(record: &ByteRecord) -> Result<Vec<String>, FileError> {
    let mut names = Vec::with_capacity(record.len());
    for (index, cell) in record.iter().enumerate() {
        let name = std::str::from_utf8(cell).map_err(|_| {
            FileError::CsvHeader(format!("column {} is not valid utf-8", index + 1))
        })?;
        names.push(name.trim().to_string());
    }
    Ok(names)
}

/// Converts a row whose cell count matches the header.
fn convert_row(record: &ByteRecord, layout: &Layout) -> Result<Value, RowError> {
    let mut cells = Vec::with_capacity(record.len());
    for (cell, column) in record.iter().zip(&layout.columns) {
        let text = std::str::from_utf8(cell).map_err(|_| {
            RowError::corrupt(format!("{}: the cell is not valid utf-8", column.label()))
        })?;
        if column.path.is_none() {
            if !text.is_empty() {
                return Err(RowError::unknown_column(format!(
                    "{}: the column is not in the mapping, but has a value",
                    column.label()
                )));
            }
            cells.push(None);
            continue;
        }
        let value = cells::convert(text, column.kind)
            .map_err(|why| RowError::invalid(format!("{}: {why}", column.label())))?;
        cells.push(value);
    }
    build::record(&layout.root, &mut cells, &layout.columns)
}

/// Re-serializes records with the file's delimiter, for `Row::raw`.
struct RawWriter {
    writer: Writer<SharedBuffer>,
    buffer: SharedBuffer,
}

impl RawWriter {
    fn new(delimiter: u8) -> Self {
        let buffer = SharedBuffer::default();
        let writer = WriterBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_writer(buffer.clone());
        RawWriter { writer, buffer }
    }

    fn text(&mut self, record: &ByteRecord) -> String {
        // Writing to memory cannot fail.
        let _ = self
            .writer
            .write_byte_record(record)
            .and_then(|()| Ok(self.writer.flush()?));
        let mut bytes = self.buffer.0.borrow_mut();
        let text = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let text = raw_text(text.strip_suffix(b"\r").unwrap_or(text));
        bytes.clear();
        text
    }
}

#[derive(Clone, Default)]
struct SharedBuffer(Rc<RefCell<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fails the read when one record grows past [`MAX_RECORD_BYTES`], so a quote left open
/// cannot pull the rest of a huge file into memory.
struct Guarded<R> {
    inner: R,
    /// Bytes handed to the CSV reader so far.
    passed: u64,
    /// Where the record being read starts.
    record_start: Rc<Cell<u64>>,
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The CSV reader buffers ahead of the record it parses; allow for that.
        const SLACK: u64 = 1 << 20;
        if self.passed - self.record_start.get() > MAX_RECORD_BYTES as u64 + SLACK {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RecordTooLong));
        }
        let n = self.inner.read(buf)?;
        self.passed += n as u64;
        Ok(n)
    }
}
