//! Multi-line JSON: one top-level array of objects, or objects one after another (possibly
//! pretty-printed), streamed one record at a time. A syntax error is reported as a `1401` row
//! and ends the file, since nothing after it can be trusted.

use std::cell::RefCell;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use serde::de::{SeqAccess, Visitor};
use serde::Deserializer as _;
use serde_json::error::Category;
use serde_json::{Deserializer, Value};

use crate::error::{is_too_long, FileError, RecordTooLong, RowError};
use crate::jsonl::{not_an_object, serde_message};
use crate::{raw_text, Row, Sink, MAX_RAW_BYTES, MAX_RECORD_BYTES};

/// Reads every record of `input` and hands it to `sink`.
pub(crate) fn read(input: &mut dyn BufRead, sink: &mut Sink) -> Result<(), FileError> {
    let tracker = Rc::new(RefCell::new(Tracker {
        line: 1,
        ..Tracker::default()
    }));
    let first = skip_blank(input, &mut tracker.borrow_mut())?.ok_or(FileError::Empty)?;
    let reader = Tracked {
        input,
        tracker: tracker.clone(),
        chunk: Vec::new(),
        pos: 0,
    };
    let mut de = Deserializer::from_reader(reader);
    if first != b'[' {
        let mut records = de.into_iter::<Value>();
        loop {
            tracker.borrow_mut().start_record();
            let row = match records.next() {
                None => return Ok(()),
                Some(Ok(value)) => tracker.borrow_mut().row(object(value)),
                Some(Err(e)) => {
                    let row = error_row(e, &mut tracker.borrow_mut())?;
                    let _ = sink.emit(row);
                    return Ok(());
                }
            };
            if sink.emit(row).is_break() {
                return Ok(());
            }
        }
    }
    let mut stopped = false;
    let elements = Elements {
        sink: &mut *sink,
        tracker: &tracker,
        stopped: &mut stopped,
    };
    let outcome = (&mut de).deserialize_seq(elements).and_then(|()| {
        tracker.borrow_mut().start_record();
        de.end()
    });
    match outcome {
        Err(e) if !stopped => {
            let row = error_row(e, &mut tracker.borrow_mut())?;
            let _ = sink.emit(row);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Emits the elements of the top-level array one by one.
struct Elements<'s, 'a> {
    sink: &'s mut Sink<'a>,
    tracker: &'s Rc<RefCell<Tracker>>,
    stopped: &'s mut bool,
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of JSON objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            self.tracker.borrow_mut().start_record();
            let Some(value) = seq.next_element::<Value>()? else {
                return Ok(());
            };
            let row = self.tracker.borrow_mut().row(object(value));
            if self.sink.emit(row).is_break() {
                *self.stopped = true;
                // serde_json now reports the rest of the array as unexpected; `read` ignores it.
                return Ok(());
            }
        }
    }
}

fn object(value: Value) -> Result<Value, RowError> {
    match value {
        Value::Object(_) => Ok(value),
        other => Err(not_an_object(&other)),
    }
}

/// The row of a parse error: a `1401` row, or a file error when reading itself failed.
fn error_row(error: serde_json::Error, tracker: &mut Tracker) -> Result<Row, FileError> {
    let message = if error.classify() == Category::Io {
        let io_error = io::Error::from(error);
        if !is_too_long(&io_error) {
            return Err(FileError::from_io(io_error));
        }
        format!(
            "the record is longer than the {} MiB limit",
            MAX_RECORD_BYTES >> 20
        )
    } else if error.classify() == Category::Eof {
        format!(
            "invalid json at the end of the file: {}",
            serde_message(&error)
        )
    } else {
        let (line, column) = (error.line(), error.column());
        format!(
            "invalid json at line {line} column {column}: {}",
            serde_message(&error)
        )
    };
    Ok(tracker.row(Err(RowError::corrupt(message))))
}

/// Skips whitespace (and a byte order mark) before the first value; returns its first byte.
fn skip_blank(input: &mut dyn BufRead, tracker: &mut Tracker) -> Result<Option<u8>, FileError> {
    let buffer = input.fill_buf().map_err(FileError::from_io)?;
    if buffer.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
    }
    loop {
        let buffer = input.fill_buf().map_err(FileError::from_io)?;
        let Some(&byte) = buffer.first() else {
            return Ok(None);
        };
        if !byte.is_ascii_whitespace() {
            return Ok(Some(byte));
        }
        tracker.line += u64::from(byte == b'\n');
        input.consume(1);
    }
}

/// Where the reader is, and the text of the record being read.
#[derive(Debug, Default)]
struct Tracker {
    /// The current line, 1-based.
    line: u64,
    /// Whether the record's first byte was seen (separators before it are not captured).
    started: bool,
    /// The line of the record's first byte.
    record_line: u64,
    /// The record's bytes so far, at most `MAX_RAW_BYTES + 1`.
    capture: Vec<u8>,
    /// How many bytes the record has so far.
    record_bytes: usize,
}

impl Tracker {
    fn start_record(&mut self) {
        self.started = false;
        self.capture.clear();
        self.record_bytes = 0;
    }

    /// Notes bytes the parser consumed.
    fn note(&mut self, bytes: &[u8]) -> io::Result<()> {
        for &byte in bytes {
            if !self.started && (byte.is_ascii_whitespace() || byte == b',') {
                self.line += u64::from(byte == b'\n');
                continue;
            }
            if !self.started {
                self.started = true;
                self.record_line = self.line;
            }
            self.line += u64::from(byte == b'\n');
            self.record_bytes += 1;
            if self.capture.len() <= MAX_RAW_BYTES {
                self.capture.push(byte);
            }
        }
        if self.record_bytes > MAX_RECORD_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RecordTooLong));
        }
        Ok(())
    }

    /// The row of the record read so far.
    fn row(&self, value: Result<Value, RowError>) -> Row {
        let text = self.capture.trim_ascii_end();
        let text = text.strip_suffix(b",").unwrap_or(text).trim_ascii_end();
        let number = if self.started {
            self.record_line
        } else {
            self.line
        };
        Row {
            number,
            raw: raw_text(text),
            value,
        }
    }
}

/// Reads `input` for the parser, telling the tracker what was consumed.
struct Tracked<'a> {
    input: &'a mut dyn BufRead,
    tracker: Rc<RefCell<Tracker>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.chunk.len() {
            self.chunk.resize(64 * 1024, 0);
            let n = self.input.read(&mut self.chunk)?;
            self.chunk.truncate(n);
            self.pos = 0;
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        self.tracker.borrow_mut().note(&buf[..n])?;
        Ok(n)
    }
}
