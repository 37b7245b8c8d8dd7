//! Turning one CSV cell's text into the JSON value its column's [`ScalarKind`] calls for.

use serde_json::{Number, Value};

use crate::ScalarKind;

/// The value of a cell: `None` for an empty cell (the field is absent), or why the text does
/// not fit `kind` (`"expected an integer, found \"1.5\""`).
pub(crate) fn convert(text: &str, kind: ScalarKind) -> Result<Option<Value>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let trimmed = text.trim();
    let value = match kind {
        ScalarKind::String | ScalarKind::Unknown => Value::String(text.to_string()),
        ScalarKind::Integer => integer(trimmed).map_err(|expected| mismatch(expected, text))?,
        ScalarKind::Number => number(trimmed).ok_or_else(|| mismatch("a number", text))?,
        ScalarKind::Boolean => boolean(trimmed)
            .ok_or_else(|| mismatch("a boolean (true/false, 1/0 or yes/no)", text))?,
    };
    Ok(Some(value))
}

/// An `i64`, or what was expected instead.
fn integer(text: &str) -> Result<Value, &'static str> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an integer");
    }
    text.parse::<i64>()
        .map(Value::from)
        .map_err(|_| "an integer between -9223372036854775808 and 9223372036854775807")
}

fn number(text: &str) -> Option<Value> {
    if let Ok(whole) = integer(text) {
        return Some(whole);
    }
    // Rust also reads "inf", "NaN" and "infinity"; only finite decimal numbers are wanted.
    if !text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return None;
    }
    let value = text.parse::<f64>().ok()?;
    Number::from_f64(value).map(Value::Number)
}

fn boolean(text: &str) -> Option<Value> {
    const TRUE: [&str; 3] = ["true", "1", "yes"];
    const FALSE: [&str; 3] = ["false", "0", "no"];
    if TRUE.iter().any(|t| text.eq_ignore_ascii_case(t)) {
        Some(Value::Bool(true))
    } else if FALSE.iter().any(|f| text.eq_ignore_ascii_case(f)) {
        Some(Value::Bool(false))
    } else {
        None
    }
}

fn mismatch(expected: &str, text: &str) -> String {
    format!("expected {expected}, found {}", quoted(text))
}

/// A cell's text in quotes for a message, cut after 100 characters.
pub(crate) fn quoted(text: &str) -> String {
    const LONGEST: usize = 100;
    match text.char_indices().nth(LONGEST) {
        Some((end, _)) => format!(
            "{}…",
            serde_json::to_string(&text[..end]).unwrap_or_default()
        ),
        None => serde_json::to_string(text).unwrap_or_default(),
    }
}
