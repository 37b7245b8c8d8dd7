//! Parsing one field schema of a tenant field group (the JSON Schema keywords Rapport supports).

use serde_json::{Map, Value};

use crate::field::{Field, FieldType, ObjectField, StringFormat, StringRules};
use crate::tenant::{escape, invalid, optional_string, MAX_NESTING_DEPTH};
use crate::SchemaError;

/// The `properties` and `required` of `schema`, which sits `depth` levels below the group root.
pub(super) fn parse_object(
    schema: &Map<String, Value>,
    pointer: &str,
    depth: usize,
) -> Result<ObjectField, SchemaError> {
    let mut object = ObjectField::default();
    match schema.get("properties") {
        None => {}
        Some(Value::Object(properties)) => {
            for (name, property) in properties {
                let path = format!("{pointer}/properties/{}", escape(name));
                if name.is_empty() || name.contains('.') {
                    return Err(invalid(
                        &path,
                        "field names must be non-empty and contain no \".\"",
                    ));
                }
                let field = parse_field(property, &path, depth + 1)?;
                object.properties.insert(name.clone(), field);
            }
        }
        Some(_) => {
            let path = format!("{pointer}/properties");
            return Err(invalid(
                &path,
                "expected an object mapping field names to schemas",
            ));
        }
    }
    match schema.get("required") {
        None => {}
        Some(Value::Array(names)) => {
            for (index, name) in names.iter().enumerate() {
                let path = format!("{pointer}/required/{index}");
                let Some(name) = name.as_str() else {
                    return Err(invalid(&path, "expected a field name string"));
                };
                if !object.properties.contains_key(name) {
                    let reason = format!(
                        "required field {} is not among the properties",
                        Value::from(name)
                    );
                    return Err(invalid(&path, &reason));
                }
                object.required.insert(name.to_string());
            }
        }
        Some(_) => {
            let path = format!("{pointer}/required");
            return Err(invalid(&path, "expected an array of field names"));
        }
    }
    Ok(object)
}

fn parse_field(schema: &Value, pointer: &str, depth: usize) -> Result<Field, SchemaError> {
    if depth > MAX_NESTING_DEPTH {
        return Err(SchemaError::TooDeep {
            path: pointer.to_string(),
            limit: MAX_NESTING_DEPTH,
        });
    }
    let Some(object) = schema.as_object() else {
        return Err(invalid(
            pointer,
            "expected a JSON object describing the field",
        ));
    };
    if object.contains_key("$ref") {
        let path = format!("{pointer}/$ref");
        return Err(invalid(
            &path,
            "references are not supported in field schemas; describe the field inline",
        ));
    }
    let title = optional_string(object, "title", pointer)?.map(str::to_string);
    let description = optional_string(object, "description", pointer)?.map(str::to_string);
    let xdm_type = optional_string(object, "meta:xdmType", pointer)?;
    let ty_name = match object.get("type") {
        Some(Value::String(ty)) => ty.as_str(),
        Some(_) => {
            let path = format!("{pointer}/type");
            return Err(invalid(
                &path,
                "expected a type name such as \"string\" or \"object\"",
            ));
        }
        None if object.contains_key("properties")
            || object.contains_key("additionalProperties") =>
        {
            "object"
        }
        None if object.contains_key("items") => "array",
        None => return Err(invalid(pointer, "missing \"type\"")),
    };
    check_xdm_type(ty_name, xdm_type, pointer)?;
    if ty_name != "string" && object.contains_key("enum") {
        let path = format!("{pointer}/enum");
        return Err(invalid(&path, "enum is supported on string fields only"));
    }

    let ty = match ty_name {
        "string" => FieldType::String(string_rules(object, pointer, xdm_type)?),
        "integer" => {
            let (implied_min, implied_max) = match xdm_type {
                Some("int") => (Some(i32::MIN.into()), Some(i32::MAX.into())),
                Some("short") => (Some(i16::MIN.into()), Some(i16::MAX.into())),
                Some("byte") => (Some(i8::MIN.into()), Some(i8::MAX.into())),
                _ => (None, None),
            };
            let minimum = integer_bound(object, "minimum", pointer)?.or(implied_min);
            let maximum = integer_bound(object, "maximum", pointer)?.or(implied_max);
            check_order(minimum, maximum, "minimum", "maximum", pointer)?;
            FieldType::Integer { minimum, maximum }
        }
        "number" => {
            let minimum = number_bound(object, "minimum", pointer)?;
            let maximum = number_bound(object, "maximum", pointer)?;
            check_order(minimum, maximum, "minimum", "maximum", pointer)?;
            FieldType::Number { minimum, maximum }
        }
        "boolean" => FieldType::Boolean,
        "object" => parse_object_type(object, pointer, depth, xdm_type)?,
        "array" => match object.get("items") {
            Some(items) => {
                let path = format!("{pointer}/items");
                FieldType::Array(Box::new(parse_field(items, &path, depth + 1)?))
            }
            None => {
                return Err(invalid(
                    pointer,
                    "an array needs \"items\" describing its items",
                ))
            }
        },
        other => {
            return Err(SchemaError::UnknownType {
                path: format!("{pointer}/type"),
                ty: other.to_string(),
            })
        }
    };
    Ok(Field {
        title,
        description,
        ty,
    })
}

/// An object field is a map when `meta:xdmType` says so, or when it has no `properties` and
/// its `additionalProperties` is a schema.
fn parse_object_type(
    object: &Map<String, Value>,
    pointer: &str,
    depth: usize,
    xdm_type: Option<&str>,
) -> Result<FieldType, SchemaError> {
    let value_schema = object.get("additionalProperties").filter(|v| v.is_object());
    let is_map =
        xdm_type == Some("map") || (value_schema.is_some() && !object.contains_key("properties"));
    if !is_map {
        return Ok(FieldType::Object(parse_object(object, pointer, depth)?));
    }
    let Some(value_schema) = value_schema else {
        let reason = "a map needs \"additionalProperties\" describing its values";
        return Err(invalid(pointer, reason));
    };
    let path = format!("{pointer}/additionalProperties");
    Ok(FieldType::Map(Box::new(parse_field(
        value_schema,
        &path,
        depth + 1,
    )?)))
}

/// `meta:xdmType` must be one that fits the JSON `type`.
fn check_xdm_type(ty: &str, xdm_type: Option<&str>, pointer: &str) -> Result<(), SchemaError> {
    let Some(xdm_type) = xdm_type else {
        return Ok(());
    };
    let fits = match ty {
        "string" => matches!(xdm_type, "string" | "date-time" | "date"),
        "integer" => matches!(xdm_type, "long" | "int" | "short" | "byte"),
        "number" => matches!(xdm_type, "number" | "double"),
        "boolean" => xdm_type == "boolean",
        "object" => matches!(xdm_type, "object" | "map"),
        "array" => xdm_type == "array",
        _ => true,
    };
    if fits {
        return Ok(());
    }
    let path = format!("{pointer}/meta:xdmType");
    let reason = format!(
        "meta:xdmType {} does not fit type {}",
        Value::from(xdm_type),
        Value::from(ty)
    );
    Err(invalid(&path, &reason))
}

fn string_rules(
    object: &Map<String, Value>,
    pointer: &str,
    xdm_type: Option<&str>,
) -> Result<StringRules, SchemaError> {
    let mut format = match optional_string(object, "format", pointer)? {
        None => None,
        Some(name) => match StringFormat::from_name(name) {
            Some(format) => Some(format),
            None => {
                return Err(SchemaError::UnknownFormat {
                    path: format!("{pointer}/format"),
                    format: name.to_string(),
                })
            }
        },
    };
    let implied = xdm_type.and_then(StringFormat::from_name);
    match (format, implied) {
        (None, Some(implied)) => format = Some(implied),
        (Some(given), Some(implied)) if given != implied => {
            let path = format!("{pointer}/format");
            let reason = format!(
                "format {:?} contradicts meta:xdmType {:?}",
                given.name(),
                implied.name()
            );
            return Err(invalid(&path, &reason));
        }
        _ => {}
    }

    let enum_values = match object.get("enum") {
        None => None,
        Some(Value::Array(values)) if !values.is_empty() => {
            let mut texts = Vec::new();
            for (index, value) in values.iter().enumerate() {
                let Some(text) = value.as_str() else {
                    let path = format!("{pointer}/enum/{index}");
                    return Err(invalid(&path, "expected a string: the field is a string"));
                };
                texts.push(text.to_string());
            }
            Some(texts)
        }
        Some(_) => {
            let path = format!("{pointer}/enum");
            return Err(invalid(&path, "expected a non-empty array of strings"));
        }
    };
    let max_length = length(object, "maxLength", pointer)?;
    let min_length = length(object, "minLength", pointer)?;
    check_order(min_length, max_length, "minLength", "maxLength", pointer)?;
    let rules = StringRules {
        format,
        enum_values,
        max_length,
        min_length,
        ..StringRules::default()
    };
    match optional_string(object, "pattern", pointer)? {
        None => Ok(rules),
        Some(pattern) => rules
            .with_pattern(pattern)
            .map_err(|reason| invalid(&format!("{pointer}/pattern"), &reason)),
    }
}

fn length(
    object: &Map<String, Value>,
    key: &str,
    pointer: &str,
) -> Result<Option<usize>, SchemaError> {
    match object.get(key) {
        None => Ok(None),
        Some(value) => match value.as_u64().and_then(|n| usize::try_from(n).ok()) {
            Some(length) => Ok(Some(length)),
            None => Err(invalid(
                &format!("{pointer}/{key}"),
                "expected a non-negative integer",
            )),
        },
    }
}

fn integer_bound(
    object: &Map<String, Value>,
    key: &str,
    pointer: &str,
) -> Result<Option<i64>, SchemaError> {
    let Some(value) = object.get(key) else {
        return Ok(None);
    };
    let integral_float = value
        .as_f64()
        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
        .map(|f| f as i64);
    match value.as_i64().or(integral_float) {
        Some(bound) => Ok(Some(bound)),
        None => Err(invalid(&format!("{pointer}/{key}"), "expected an integer")),
    }
}

fn number_bound(
    object: &Map<String, Value>,
    key: &str,
    pointer: &str,
) -> Result<Option<f64>, SchemaError> {
    match object.get(key) {
        None => Ok(None),
        Some(value) => match value.as_f64() {
            Some(bound) => Ok(Some(bound)),
            None => Err(invalid(&format!("{pointer}/{key}"), "expected a number")),
        },
    }
}

fn check_order<T: PartialOrd + std::fmt::Display>(
    low: Option<T>,
    high: Option<T>,
    low_name: &str,
    high_name: &str,
    pointer: &str,
) -> Result<(), SchemaError> {
    match (low, high) {
        (Some(low), Some(high)) if low > high => {
            let reason = format!("{low_name} {low} is greater than {high_name} {high}");
            Err(invalid(pointer, &reason))
        }
        _ => Ok(()),
    }
}
