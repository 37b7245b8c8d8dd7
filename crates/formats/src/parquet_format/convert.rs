//! Turning a Parquet record ([`parquet::record::Row`]) into a JSON object: groups become objects
//! (null fields left out), lists arrays, maps objects with string keys, timestamps RFC 3339 in
//! UTC (`Z`), dates `YYYY-MM-DD`, times `HH:MM:SS.fff`, decimals numbers, byte arrays UTF-8
//! strings (base64 when not UTF-8). Floats that are NaN or infinite become `null`.

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat};
use parquet::data_type::Decimal;
use parquet::record::{Field, Row};
use serde_json::{Map, Number, Value};

/// The JSON object of a row (a top-level group).
pub(crate) fn record(row: &Row) -> Value {
    let mut object = Map::new();
    for (name, field) in row.get_column_iter() {
        if !matches!(field, Field::Null) {
            object.insert(name.clone(), value(field));
        }
    }
    Value::Object(object)
}

fn value(field: &Field) -> Value {
    match field {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(n) => Value::from(*n),
        Field::Short(n) => Value::from(*n),
        Field::Int(n) => Value::from(*n),
        Field::Long(n) => Value::from(*n),
        Field::UByte(n) => Value::from(*n),
        Field::UShort(n) => Value::from(*n),
        Field::UInt(n) => Value::from(*n),
        Field::ULong(n) => Value::from(*n),
        Field::Float16(n) => float(n.to_f32()),
        Field::Float(n) => float(*n),
        Field::Double(n) => Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Field::Decimal(d) => decimal(d),
        Field::Str(s) => Value::String(s.clone()),
        Field::Bytes(b) => match std::str::from_utf8(b.data()) {
            Ok(text) => Value::String(text.to_string()),
            Err(_) => Value::String(base64::engine::general_purpose::STANDARD.encode(b.data())),
        },
        Field::Date(days) => date(*days),
        Field::TimeMillis(ms) => time_of_day(i64::from(*ms) * 1_000, 3),
        Field::TimeMicros(us) => time_of_day(*us, 6),
        Field::TimestampMillis(ms) => timestamp(DateTime::from_timestamp_millis(*ms), *ms),
        Field::TimestampMicros(us) => timestamp(DateTime::from_timestamp_micros(*us), *us),
        Field::Group(row) => record(row),
        Field::ListInternal(list) => Value::Array(list.elements().iter().map(value).collect()),
        Field::MapInternal(map) => {
            let entries = map.entries().iter().map(|(k, v)| (key(k), value(v)));
            Value::Object(entries.collect())
        }
    }
}

/// A map key as a string (`1` → `"1"`).
fn key(field: &Field) -> String {
    match value(field) {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// An `f32` as the `f64` with the same shortest decimal form (`0.1f32` → `0.1`, not
/// `0.10000000149011612`).
fn float(n: f32) -> Value {
    let widened = n.to_string().parse::<f64>().unwrap_or(f64::from(n));
    Number::from_f64(widened).map_or(Value::Null, Value::Number)
}

/// A decimal as a number: an integer when its scale is 0 and it fits an `i64`.
fn decimal(d: &Decimal) -> Value {
    let bytes = d.data();
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    if bytes.len() > 16 {
        // Beyond 38 digits: approximate.
        let unsigned = bytes
            .iter()
            .fold(0f64, |acc, &b| acc * 256.0 + f64::from(b));
        let signed = if negative {
            unsigned - 256f64.powi(bytes.len() as i32)
        } else {
            unsigned
        };
        let scaled = signed / 10f64.powi(d.scale());
        return Number::from_f64(scaled).map_or(Value::Null, Value::Number);
    }
    let fill = if negative { u8::MAX } else { 0 };
    let mut wide = [fill; 16];
    wide[16 - bytes.len()..].copy_from_slice(bytes);
    let unscaled = i128::from_be_bytes(wide);
    if d.scale() == 0 {
        if let Ok(whole) = i64::try_from(unscaled) {
            return Value::from(whole);
        }
    }
    let text = format!("{unscaled}e{}", -d.scale());
    let parsed = text.parse::<f64>().ok().and_then(Number::from_f64);
    parsed.map_or(Value::Null, Value::Number)
}

/// Days since 1970-01-01 as `YYYY-MM-DD` (the number itself if out of range).
fn date(days: i32) -> Value {
    match DateTime::from_timestamp(i64::from(days) * 86_400, 0) {
        Some(moment) => Value::String(moment.format("%Y-%m-%d").to_string()),
        None => Value::from(days),
    }
}

/// Microseconds since midnight as `HH:MM:SS` with `digits` fraction digits.
fn time_of_day(micros: i64, digits: usize) -> Value {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let fraction = format!("{fraction:06}");
    Value::String(format!("{h:02}:{m:02}:{s:02}.{}", &fraction[..digits]))
}

fn timestamp(moment: Option<DateTime<chrono::Utc>>, raw: i64) -> Value {
    match moment {
        Some(moment) => Value::String(moment.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        None => Value::from(raw),
    }
}
