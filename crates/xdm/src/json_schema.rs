//! Exporting a field tree as XDM-flavoured JSON Schema.

use serde_json::{json, Map, Value};

use crate::field::{Field, FieldType, ObjectField};

/// The tree as a JSON Schema object: `{"type":"object","meta:xdmType":"object","properties":{..}}`,
/// with `"required"` when some properties are required. Every field carries `meta:xdmType`
/// (`string`, `date-time`, `date`, `long`, `number`, `boolean`, `object`, `array` or `map`);
/// maps are objects whose `additionalProperties` is the value schema.
pub fn to_json_schema(root: &ObjectField) -> Value {
    object_schema(root)
}

fn object_schema(object: &ObjectField) -> Value {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("meta:xdmType".into(), json!("object"));
    insert_properties(&mut schema, object);
    Value::Object(schema)
}

fn insert_properties(schema: &mut Map<String, Value>, object: &ObjectField) {
    let properties: Map<String, Value> = object
        .properties
        .iter()
        .map(|(name, field)| (name.clone(), field_schema(field)))
        .collect();
    schema.insert("properties".into(), Value::Object(properties));
    if !object.required.is_empty() {
        schema.insert("required".into(), json!(object.required));
    }
}

fn field_schema(field: &Field) -> Value {
    let mut schema = Map::new();
    if let Some(title) = &field.title {
        schema.insert("title".into(), json!(title));
    }
    if let Some(description) = &field.description {
        schema.insert("description".into(), json!(description));
    }
    schema.insert("type".into(), json!(field.ty.json_type()));
    schema.insert("meta:xdmType".into(), json!(field.ty.xdm_type()));
    match &field.ty {
        FieldType::String(rules) => {
            if let Some(format) = rules.format {
                schema.insert("format".into(), json!(format.name()));
            }
            if let Some(values) = &rules.enum_values {
                schema.insert("enum".into(), json!(values));
            }
            if let Some(max_length) = rules.max_length {
                schema.insert("maxLength".into(), json!(max_length));
            }
            if let Some(min_length) = rules.min_length {
                schema.insert("minLength".into(), json!(min_length));
            }
            if let Some(pattern) = &rules.pattern {
                schema.insert("pattern".into(), json!(pattern));
            }
        }
        FieldType::Integer { minimum, maximum } => {
            insert_bounds(
                &mut schema,
                minimum.map(Value::from),
                maximum.map(Value::from),
            );
        }
        FieldType::Number { minimum, maximum } => {
            insert_bounds(
                &mut schema,
                minimum.map(Value::from),
                maximum.map(Value::from),
            );
        }
        FieldType::Boolean => {}
        FieldType::Object(object) => insert_properties(&mut schema, object),
        FieldType::Array(item) => {
            schema.insert("items".into(), field_schema(item));
        }
        FieldType::Map(value) => {
            schema.insert("additionalProperties".into(), field_schema(value));
        }
    }
    Value::Object(schema)
}

fn insert_bounds(schema: &mut Map<String, Value>, minimum: Option<Value>, maximum: Option<Value>) {
    if let Some(minimum) = minimum {
        schema.insert("minimum".into(), minimum);
    }
    if let Some(maximum) = maximum {
        schema.insert("maximum".into(), maximum);
    }
}
