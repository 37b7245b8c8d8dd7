//! Validating a JSON record against a field tree, with one precise violation per problem.

use std::fmt;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;

use crate::field::{compile_pattern, Field, FieldType, ObjectField, StringFormat, StringRules};

/// Validation stops after this many violations.
pub const MAX_VIOLATIONS: usize = 10;

/// One way a record breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer to the offending value (for `required`, to the missing field); "" is the root.
    pub pointer: String,
    /// The JSON Schema keyword that failed: `type`, `required`, `format`, `enum`, `maxLength`,
    /// `minLength`, `pattern`, `minimum`, `maximum` or `additionalProperties`.
    pub keyword: &'static str,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "#"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)
    }
}

/// Every violation of `value` against `root`, at most `MAX_VIOLATIONS`; empty means valid.
///
/// Unknown properties are rejected, types are strict (integers must be written without a
/// fraction or exponent), `null` counts as absent for optional properties, and string formats
/// and patterns are checked (a pattern matches anywhere in the string unless anchored).
pub fn validate(root: &ObjectField, value: &Value) -> Vec<Violation> {
    let mut validator = Validator {
        pointer: String::new(),
        violations: Vec::new(),
    };
    validator.object(root, value);
    validator.violations
}

struct Validator {
    pointer: String,
    violations: Vec<Violation>,
}

impl Validator {
    fn is_full(&self) -> bool {
        self.violations.len() >= MAX_VIOLATIONS
    }

    fn report(&mut self, keyword: &'static str, message: String) {
        if !self.is_full() {
            self.violations.push(Violation {
                pointer: self.pointer.clone(),
                keyword,
                message,
            });
        }
    }

    /// Runs `check` with `segment` appended to the current pointer.
    fn at(&mut self, segment: &str, check: impl FnOnce(&mut Validator)) {
        let length = self.pointer.len();
        self.pointer.push('/');
        for c in segment.chars() {
            match c {
                '~' => self.pointer.push_str("~0"),
                '/' => self.pointer.push_str("~1"),
                c => self.pointer.push(c),
            }
        }
        check(self);
        self.pointer.truncate(length);
    }

    fn type_mismatch(&mut self, expected: &str, found: &Value) {
        let message = format!("expected type {expected}, found {}", json_type(found));
        self.report("type", message);
    }

    fn field(&mut self, field: &Field, value: &Value) {
        if self.is_full() {
            return;
        }
        match &field.ty {
            FieldType::String(rules) => match value {
                Value::String(text) => self.string(rules, text),
                _ => self.type_mismatch("string", value),
            },
            FieldType::Integer { minimum, maximum } => self.integer(*minimum, *maximum, value),
            FieldType::Number { minimum, maximum } => match value.as_f64() {
                Some(number) => {
                    let minimum = minimum.map(|m| (m, m.to_string()));
                    let maximum = maximum.map(|m| (m, m.to_string()));
                    self.bounds(minimum, maximum, number, value);
                }
                None => self.type_mismatch("number", value),
            },
            FieldType::Boolean => {
                if !value.is_boolean() {
                    self.type_mismatch("boolean", value);
                }
            }
            FieldType::Object(object) => self.object(object, value),
            FieldType::Array(item) => match value {
                Value::Array(items) => {
                    for (index, item_value) in items.iter().enumerate() {
                        if self.is_full() {
                            return;
                        }
                        self.at(&index.to_string(), |v| v.field(item, item_value));
                    }
                }
                _ => self.type_mismatch("array", value),
            },
            FieldType::Map(value_field) => match value {
                Value::Object(entries) => {
                    for (key, entry) in entries {
                        if self.is_full() {
                            return;
                        }
                        self.at(key, |v| v.field(value_field, entry));
                    }
                }
                _ => self.type_mismatch("object", value),
            },
        }
    }

    fn object(&mut self, object: &ObjectField, value: &Value) {
        let Value::Object(entries) = value else {
            self.type_mismatch("object", value);
            return;
        };
        for (name, entry) in entries {
            if self.is_full() {
                return;
            }
            match object.properties.get(name) {
                Some(field) if entry.is_null() => {
                    if object.required.contains(name) {
                        let expected = field.ty.json_type();
                        self.at(name, |v| {
                            let message = format!(
                                "expected type {expected}, found null (the field is required)"
                            );
                            v.report("type", message);
                        });
                    }
                }
                Some(field) => self.at(name, |v| v.field(field, entry)),
                None => {
                    let message = unknown_field_message(object, name);
                    self.at(name, |v| v.report("additionalProperties", message));
                }
            }
        }
        self.missing_required(object, entries);
    }

    fn missing_required(&mut self, object: &ObjectField, entries: &Map<String, Value>) {
        for name in &object.required {
            if !entries.contains_key(name) {
                self.at(name, |v| {
                    v.report(
                        "required",
                        format!("missing required field {}", quoted(name)),
                    );
                });
            }
        }
    }

    fn string(&mut self, rules: &StringRules, text: &str) {
        if let Some(format) = rules.format {
            if let Some(expected) = format_problem(format, text) {
                self.report(
                    "format",
                    format!("expected {expected}, found {}", quoted(text)),
                );
            }
        }
        if let Some(values) = &rules.enum_values {
            if !values.iter().any(|allowed| allowed == text) {
                let allowed: Vec<String> = values.iter().map(|value| quoted(value)).collect();
                let message = format!(
                    "expected one of {}, found {}",
                    allowed.join(", "),
                    quoted(text)
                );
                self.report("enum", message);
            }
        }
        let length = text.chars().count();
        if let Some(min_length) = rules.min_length {
            if length < min_length {
                let message = format!(
                    "expected at least {}, found {length}",
                    characters(min_length)
                );
                self.report("minLength", message);
            }
        }
        if let Some(max_length) = rules.max_length {
            if length > max_length {
                let message = format!(
                    "expected at most {}, found {length}",
                    characters(max_length)
                );
                self.report("maxLength", message);
            }
        }
        if let Some(pattern) = &rules.pattern {
            let matches = match &rules.compiled_pattern {
                Some(regex) => Ok(regex.is_match(text)),
                None => compile_pattern(pattern).map(|regex| regex.is_match(text)),
            };
            match matches {
                Ok(true) => {}
                Ok(false) => {
                    let message = format!(
                        "expected a string matching the pattern {}, found {}",
                        quoted(pattern),
                        quoted(text)
                    );
                    self.report("pattern", message);
                }
                Err(reason) => {
                    let message = format!(
                        "the schema's pattern {} cannot be checked: {reason}",
                        quoted(pattern)
                    );
                    self.report("pattern", message);
                }
            }
        }
    }

    fn integer(&mut self, minimum: Option<i64>, maximum: Option<i64>, value: &Value) {
        let Value::Number(number) = value else {
            self.type_mismatch("integer", value);
            return;
        };
        if let Some(integer) = number.as_i64() {
            let minimum = minimum.map(|m| (m, m.to_string()));
            let maximum = maximum.map(|m| (m, m.to_string()));
            self.bounds(minimum, maximum, integer, value);
        } else if number.is_u64() {
            let message = format!("expected a value <= {}, found {number}", i64::MAX);
            self.report("maximum", message);
        } else if number.as_f64().is_some_and(|f| f.fract() == 0.0) {
            let message = format!(
                "expected type integer, found number {number} (write integers without a fraction or exponent)"
            );
            self.report("type", message);
        } else {
            self.report(
                "type",
                format!("expected type integer, found number {number}"),
            );
        }
    }

    /// Checks `number` against inclusive bounds, each paired with its text for messages.
    fn bounds<T: PartialOrd>(
        &mut self,
        minimum: Option<(T, String)>,
        maximum: Option<(T, String)>,
        number: T,
        value: &Value,
    ) {
        if let Some((minimum, text)) = minimum {
            if number < minimum {
                self.report(
                    "minimum",
                    format!("expected a value >= {text}, found {value}"),
                );
            }
        }
        if let Some((maximum, text)) = maximum {
            if number > maximum {
                self.report(
                    "maximum",
                    format!("expected a value <= {text}, found {value}"),
                );
            }
        }
    }
}

/// What `text` should have looked like, if it does not match `format`.
fn format_problem(format: StringFormat, text: &str) -> Option<&'static str> {
    let valid = match format {
        StringFormat::DateTime => time::OffsetDateTime::parse(text, &Rfc3339).is_ok(),
        StringFormat::Date => is_date(text),
        StringFormat::Email => is_email(text),
        StringFormat::Uri => is_uri(text),
    };
    if valid {
        return None;
    }
    Some(match format {
        StringFormat::DateTime => {
            "a string in date-time format (RFC 3339, e.g. 2024-01-31T12:00:00Z)"
        }
        StringFormat::Date => "a string in date format YYYY-MM-DD",
        StringFormat::Email => "an email address (one @ with text on both sides and no spaces)",
        StringFormat::Uri => "a uri starting with a scheme and a colon (e.g. https:)",
    })
}

/// `YYYY-MM-DD` naming a day that exists.
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(index, b)| index == 4 || index == 7 || b.is_ascii_digit());
    if !shape_ok {
        return false;
    }
    let (Ok(year), Ok(month), Ok(day)) = (
        text[0..4].parse::<i32>(),
        text[5..7].parse::<u8>(),
        text[8..10].parse::<u8>(),
    ) else {
        return false;
    };
    let Ok(month) = time::Month::try_from(month) else {
        return false;
    };
    time::Date::from_calendar_date(year, month, day).is_ok()
}

fn is_email(text: &str) -> bool {
    let mut parts = text.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty() && !domain.is_empty() && !text.chars().any(char::is_whitespace)
}

/// A scheme (a letter, then letters, digits, `+`, `-` or `.`) followed by `:`.
fn is_uri(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn unknown_field_message(object: &ObjectField, name: &str) -> String {
    let suggestion = object
        .properties
        .keys()
        .find(|known| known.eq_ignore_ascii_case(name));
    match suggestion {
        Some(known) => format!(
            "unknown field {}: the schema has no such field (did you mean {}?)",
            quoted(name),
            quoted(known)
        ),
        None => format!(
            "unknown field {}: the schema has no such field",
            quoted(name)
        ),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// "1 character", "2 characters".
fn characters(count: usize) -> String {
    if count == 1 {
        "1 character".to_string()
    } else {
        format!("{count} characters")
    }
}

/// `text` as a JSON string, cut after 80 characters.
fn quoted(text: &str) -> String {
    const LIMIT: usize = 80;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}...", Value::from(&text[..cut])),
        None => Value::from(text).to_string(),
    }
}
