//! JSON Lines: one JSON object per line; blank lines are skipped but keep their line numbers.

use std::io::BufRead;

use serde_json::Value;

use crate::error::{FileError, RowError};
use crate::{raw_text, Row, Sink, MAX_RECORD_BYTES};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads every line of `input` and hands each non-blank one to `sink`; a file of blank lines
/// only is [`FileError::Empty`].
pub(crate) fn read(input: &mut dyn BufRead, sink: &mut Sink) -> Result<(), FileError> {
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut any_record = false;
    while let Some(length) = read_line(input, &mut line, MAX_RECORD_BYTES)? {
        number += 1;
        let mut text = line.strip_suffix(b"\r").unwrap_or(&line);
        if number == 1 {
            text = text.strip_prefix(BOM).unwrap_or(text);
        }
        if text.iter().all(u8::is_ascii_whitespace) && length <= MAX_RECORD_BYTES {
            continue;
        }
        any_record = true;
        let value = if length > MAX_RECORD_BYTES {
            Err(RowError::corrupt(format!(
                "the line is {length} bytes long, more than the {} MiB limit",
                MAX_RECORD_BYTES >> 20
            )))
        } else {
            parse_object(text)
        };
        let row = Row {
            number,
            raw: raw_text(text),
            value,
        };
        if sink.emit(row).is_break() {
            return Ok(());
        }
    }
    if !any_record {
        return Err(FileError::Empty);
    }
    Ok(())
}

/// Parses one line as a JSON object.
fn parse_object(text: &[u8]) -> Result<Value, RowError> {
    match serde_json::from_slice::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(not_an_object(&other)),
        Err(e) => Err(RowError::corrupt(format!(
            "invalid json at column {}: {}",
            e.column(),
            serde_message(&e)
        ))),
    }
}

/// The `1401` error of a valid JSON value that is not an object.
pub(crate) fn not_an_object(value: &Value) -> RowError {
    let found = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    RowError::corrupt(format!("expected a JSON object, found {found}"))
}

/// serde_json's message without its position (which the caller states its own way), in our
/// wording: `"EOF while parsing a value"` → `"end of input while parsing a value"`.
pub(crate) fn serde_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let message = text.strip_suffix(&position).unwrap_or(&text);
    message.replace("EOF", "end of input")
}

/// Reads one line (without its `\n`) into `line`, keeping at most `limit + 1` bytes of it and
/// skipping the rest. Returns the line's full length, or `None` at the end of the input.
fn read_line(
    input: &mut dyn BufRead,
    line: &mut Vec<u8>,
    limit: usize,
) -> Result<Option<usize>, FileError> {
    line.clear();
    let mut length = 0usize;
    let mut any = false;
    loop {
        let buffer = input.fill_buf().map_err(FileError::from_io)?;
        if buffer.is_empty() {
            return Ok(any.then_some(length));
        }
        any = true;
        let (chunk, used, done) = match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => (&buffer[..end], end + 1, true),
            None => (buffer, buffer.len(), false),
        };
        let room = (limit + 1).saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        length += chunk.len();
        input.consume(used);
        if done {
            return Ok(Some(length));
        }
    }
}
