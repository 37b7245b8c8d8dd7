//! Parsing tenant (custom) field groups written in XDM's JSON Schema dialect.
//!
//! Two body shapes are accepted. The one the Schema Registry documents puts the fields in a
//! definition referenced from `allOf`:
//! `{"title", "meta:intendedToExtend": [..], "definitions": {"custom": {"properties":
//! {"_acme": {..}}}}, "allOf": [{"$ref": "#/definitions/custom"}]}`. The simpler one has
//! `properties` at the top of the body. Local `$ref`s in `allOf` choose the definitions used
//! (all of them when there is none); other `$ref`s there are ignored.

mod field_schema;

use serde_json::{Map, Value};

use crate::class::Class;
use crate::compose::merge_object;
use crate::field::{FieldType, ObjectField};
use crate::tenant::field_schema::parse_object;
use crate::{FieldGroup, SchemaError};

/// The deepest a field may sit below the group root (`_tenant` is level 1; each object
/// property, array item and map value adds one level).
pub const MAX_NESTING_DEPTH: usize = 16;

/// Parses the body a client sends to create a tenant field group.
///
/// Every top-level field must be the tenant namespace `_<tenant_id>` (a `tenant_id` that
/// already starts with `_` is used as the namespace as is). Errors name the JSON pointer of the
/// offending part of `body`.
pub fn parse_field_group(
    body: &Value,
    tenant_id: &str,
    id: String,
) -> Result<FieldGroup, SchemaError> {
    let Some(body_object) = body.as_object() else {
        return Err(invalid("", "expected a JSON object"));
    };
    let title = match body_object.get("title") {
        Some(Value::String(title)) if !title.trim().is_empty() => title.clone(),
        _ => return Err(invalid("/title", "expected a non-empty string")),
    };
    let description = optional_string(body_object, "description", "")?
        .unwrap_or_default()
        .to_string();
    if let Some(ty) = body_object.get("type") {
        if ty != "object" {
            return Err(invalid("/type", "a field group must have type \"object\""));
        }
    }
    let intended_classes = intended_classes(body_object)?;
    let namespace = if tenant_id.starts_with('_') {
        tenant_id.to_string()
    } else {
        format!("_{tenant_id}")
    };

    let mut root = ObjectField::default();
    for (pointer, schema) in field_sources(body_object)? {
        check_namespace(schema, &pointer, &namespace)?;
        let object = parse_object(schema, &pointer, 0)?;
        if let Some(field) = object.properties.get(&namespace) {
            if !matches!(field.ty, FieldType::Object(_)) {
                let path = format!("{pointer}/properties/{}", escape(&namespace));
                return Err(invalid(
                    &path,
                    "the tenant namespace field must be an object",
                ));
            }
        }
        merge_object(&mut root, &object, "")?;
    }
    if root.properties.is_empty() {
        return Err(SchemaError::NoFields);
    }
    Ok(FieldGroup {
        id,
        title,
        description,
        intended_classes,
        root,
        custom: true,
    })
}

fn invalid(path: &str, reason: &str) -> SchemaError {
    SchemaError::InvalidBody {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// `segment` escaped for use in a JSON pointer.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn optional_string<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    pointer: &str,
) -> Result<Option<&'a str>, SchemaError> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(invalid(&format!("{pointer}/{key}"), "expected a string")),
    }
}

fn intended_classes(body: &Map<String, Value>) -> Result<Vec<Class>, SchemaError> {
    const KEY: &str = "meta:intendedToExtend";
    let ids: Vec<&Value> = match body.get(KEY) {
        None => return Ok(Vec::new()),
        Some(Value::Array(ids)) => ids.iter().collect(),
        Some(single @ Value::String(_)) => vec![single],
        Some(_) => {
            return Err(invalid(
                &format!("/{KEY}"),
                "expected an array of class ids",
            ))
        }
    };
    let mut classes = Vec::new();
    for (index, id) in ids.into_iter().enumerate() {
        let path = format!("/{KEY}/{index}");
        let Some(id) = id.as_str() else {
            return Err(invalid(&path, "expected a class id string"));
        };
        let Some(class) = Class::from_id(id) else {
            return Err(SchemaError::UnknownClass {
                path,
                class: id.to_string(),
            });
        };
        if !classes.contains(&class) {
            classes.push(class);
        }
    }
    Ok(classes)
}

/// A schema object whose `properties` hold fields of the group, with its JSON pointer.
type FieldSource<'a> = (String, &'a Map<String, Value>);

/// Every field source of the body, in order: top-level `properties`, then definitions.
fn field_sources(body: &Map<String, Value>) -> Result<Vec<FieldSource<'_>>, SchemaError> {
    let mut sources = Vec::new();
    if body.contains_key("properties") {
        sources.push((String::new(), body));
    }
    let Some(definitions) = body.get("definitions") else {
        return Ok(sources);
    };
    let Some(definitions) = definitions.as_object() else {
        return Err(invalid(
            "/definitions",
            "expected an object of named definitions",
        ));
    };

    let mut referenced = Vec::new();
    if let Some(all_of) = body.get("allOf") {
        let Some(all_of) = all_of.as_array() else {
            return Err(invalid(
                "/allOf",
                "expected an array of {\"$ref\": ..} objects",
            ));
        };
        for (index, entry) in all_of.iter().enumerate() {
            let reference = entry.get("$ref").and_then(Value::as_str);
            let Some(name) = reference.and_then(|r| r.strip_prefix("#/definitions/")) else {
                continue;
            };
            let name = name.replace("~1", "/").replace("~0", "~");
            if !definitions.contains_key(&name) {
                let path = format!("/allOf/{index}/$ref");
                let reason = format!("no definition named {}", Value::from(name));
                return Err(invalid(&path, &reason));
            }
            referenced.push(name);
        }
    }
    if referenced.is_empty() {
        referenced = definitions.keys().cloned().collect();
    }

    for name in referenced {
        let pointer = format!("/definitions/{}", escape(&name));
        let Some(definition) = definitions[&name].as_object() else {
            return Err(invalid(&pointer, "expected a schema object"));
        };
        if definition.contains_key("properties") {
            sources.push((pointer, definition));
        }
    }
    Ok(sources)
}

fn check_namespace(
    schema: &Map<String, Value>,
    pointer: &str,
    namespace: &str,
) -> Result<(), SchemaError> {
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return Ok(());
    };
    match properties.keys().find(|name| name.as_str() != namespace) {
        None => Ok(()),
        Some(property) => Err(SchemaError::OutsideTenantNamespace {
            path: format!("{pointer}/properties/{}", escape(property)),
            property: property.clone(),
            namespace: namespace.to_string(),
        }),
    }
}
