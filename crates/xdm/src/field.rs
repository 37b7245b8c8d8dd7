//! The field tree every class, field group and composed schema is made of, with small builders.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use regex::{Regex, RegexBuilder};

/// One field of a schema: its type with its rules, plus optional human-readable text.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub title: Option<String>,
    pub description: Option<String>,
    pub ty: FieldType,
}

/// The type of a field, carrying the validation rules that apply to that type.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    String(StringRules),
    Integer {
        minimum: Option<i64>,
        maximum: Option<i64>,
    },
    Number {
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Boolean,
    Object(ObjectField),
    /// An array whose items all follow the boxed field.
    Array(Box<Field>),
    /// An object with arbitrary keys whose values all follow the boxed field (`meta:xdmType: map`).
    Map(Box<Field>),
}

/// The rules a string field can carry.
#[derive(Debug, Clone, Default)]
pub struct StringRules {
    pub format: Option<StringFormat>,
    pub enum_values: Option<Vec<String>>,
    pub max_length: Option<usize>,
    pub min_length: Option<usize>,
    /// A regular expression (Rust `regex` syntax) a value must contain a match of, as written.
    pub pattern: Option<String>,
    /// `pattern` compiled once ([`StringRules::with_pattern`] and the tenant parser set it).
    /// When only the text is set, validation compiles it on each use.
    pub compiled_pattern: Option<Arc<Regex>>,
}

/// The longest `pattern` accepted, in characters.
pub const MAX_PATTERN_LENGTH: usize = 1000;

/// The most memory one compiled `pattern` may take.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Rules are equal when they say the same: a pattern is compared by its text.
impl PartialEq for StringRules {
    fn eq(&self, other: &StringRules) -> bool {
        self.format == other.format
            && self.enum_values == other.enum_values
            && self.max_length == other.max_length
            && self.min_length == other.min_length
            && self.pattern == other.pattern
    }
}

impl StringRules {
    /// The rules with `pattern` set and compiled; the error says why the pattern is refused.
    pub fn with_pattern(mut self, pattern: &str) -> Result<StringRules, String> {
        self.compiled_pattern = Some(Arc::new(compile_pattern(pattern)?));
        self.pattern = Some(pattern.to_string());
        Ok(self)
    }
}

/// Compiles a `pattern`: at most [`MAX_PATTERN_LENGTH`] characters, Rust `regex` syntax, and a
/// bounded compiled size. Matching is unanchored, as JSON Schema's (use `^...$` to anchor).
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    let length = pattern.chars().count();
    if length > MAX_PATTERN_LENGTH {
        return Err(format!(
            "a pattern may have at most {MAX_PATTERN_LENGTH} characters, found {length}"
        ));
    }
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|error| match error {
            regex::Error::CompiledTooBig(_) => format!(
                "the pattern compiles to more than {} KiB; simplify it",
                PATTERN_SIZE_LIMIT / 1024
            ),
            other => {
                // Syntax errors span several lines (the pattern, a caret, the reason): keep the reason.
                let text = other.to_string();
                let reason = text
                    .lines()
                    .rev()
                    .find(|line| !line.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string();
                format!("not a valid regular expression: {reason}")
            }
        })
}

/// The string formats XDM fields use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StringFormat {
    /// RFC 3339 date and time with an offset, e.g. `2024-01-31T12:00:00Z`.
    DateTime,
    /// A calendar date written `YYYY-MM-DD`.
    Date,
    Email,
    Uri,
}

/// An object: its named properties and the names of those that must be present.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectField {
    pub properties: BTreeMap<String, Field>,
    pub required: BTreeSet<String>,
}

impl StringFormat {
    /// The JSON Schema `format` name: `date-time`, `date`, `email` or `uri`.
    pub fn name(&self) -> &'static str {
        match self {
            StringFormat::DateTime => "date-time",
            StringFormat::Date => "date",
            StringFormat::Email => "email",
            StringFormat::Uri => "uri",
        }
    }

    /// The format with the given JSON Schema `format` name.
    pub fn from_name(name: &str) -> Option<StringFormat> {
        match name {
            "date-time" => Some(StringFormat::DateTime),
            "date" => Some(StringFormat::Date),
            "email" => Some(StringFormat::Email),
            "uri" => Some(StringFormat::Uri),
            _ => None,
        }
    }
}

impl FieldType {
    /// The JSON Schema `type` of the field: a map is a JSON `object`.
    pub fn json_type(&self) -> &'static str {
        match self {
            FieldType::String(_) => "string",
            FieldType::Integer { .. } => "integer",
            FieldType::Number { .. } => "number",
            FieldType::Boolean => "boolean",
            FieldType::Object(_) | FieldType::Map(_) => "object",
            FieldType::Array(_) => "array",
        }
    }

    /// The XDM type name (`meta:xdmType`): dates and maps get their own names, integers are `long`.
    pub fn xdm_type(&self) -> &'static str {
        match self {
            FieldType::String(rules) => match rules.format {
                Some(StringFormat::DateTime) => "date-time",
                Some(StringFormat::Date) => "date",
                _ => "string",
            },
            FieldType::Integer { .. } => "long",
            FieldType::Number { .. } => "number",
            FieldType::Boolean => "boolean",
            FieldType::Object(_) => "object",
            FieldType::Array(_) => "array",
            FieldType::Map(_) => "map",
        }
    }
}

impl Field {
    pub fn new(ty: FieldType) -> Field {
        Field {
            title: None,
            description: None,
            ty,
        }
    }

    pub fn string() -> Field {
        Field::string_with(StringRules::default())
    }

    pub fn string_with(rules: StringRules) -> Field {
        Field::new(FieldType::String(rules))
    }

    pub fn formatted(format: StringFormat) -> Field {
        Field::string_with(StringRules {
            format: Some(format),
            ..StringRules::default()
        })
    }

    pub fn date_time() -> Field {
        Field::formatted(StringFormat::DateTime)
    }

    pub fn date() -> Field {
        Field::formatted(StringFormat::Date)
    }

    pub fn email() -> Field {
        Field::formatted(StringFormat::Email)
    }

    pub fn uri() -> Field {
        Field::formatted(StringFormat::Uri)
    }

    /// A string that must be one of `values`.
    pub fn enumeration(values: &[&str]) -> Field {
        Field::string_with(StringRules {
            enum_values: Some(values.iter().map(|value| value.to_string()).collect()),
            ..StringRules::default()
        })
    }

    /// A string of `min..=max` characters.
    pub fn string_length(min: Option<usize>, max: Option<usize>) -> Field {
        Field::string_with(StringRules {
            min_length: min,
            max_length: max,
            ..StringRules::default()
        })
    }

    pub fn integer() -> Field {
        Field::integer_range(None, None)
    }

    pub fn integer_range(minimum: Option<i64>, maximum: Option<i64>) -> Field {
        Field::new(FieldType::Integer { minimum, maximum })
    }

    pub fn number() -> Field {
        Field::number_range(None, None)
    }

    pub fn number_range(minimum: Option<f64>, maximum: Option<f64>) -> Field {
        Field::new(FieldType::Number { minimum, maximum })
    }

    pub fn boolean() -> Field {
        Field::new(FieldType::Boolean)
    }

    pub fn object(object: ObjectField) -> Field {
        Field::new(FieldType::Object(object))
    }

    pub fn array(item: Field) -> Field {
        Field::new(FieldType::Array(Box::new(item)))
    }

    pub fn map(value: Field) -> Field {
        Field::new(FieldType::Map(Box::new(value)))
    }

    pub fn titled(mut self, title: &str) -> Field {
        self.title = Some(title.to_string());
        self
    }

    pub fn described(mut self, description: &str) -> Field {
        self.description = Some(description.to_string());
        self
    }
}

impl ObjectField {
    pub fn new() -> ObjectField {
        ObjectField::default()
    }

    /// Adds an optional property.
    pub fn with(mut self, name: &str, field: Field) -> ObjectField {
        self.properties.insert(name.to_string(), field);
        self
    }

    /// Adds a property that records must contain.
    pub fn with_required(mut self, name: &str, field: Field) -> ObjectField {
        self.required.insert(name.to_string());
        self.with(name, field)
    }

    /// The property called `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.properties.get(name)
    }
}
