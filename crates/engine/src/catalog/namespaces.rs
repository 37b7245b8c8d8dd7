//! Custom identity namespaces and the linking settings (unique, priority) of any namespace.

use rapport_types::Code;
use serde_json::{json, Map, Value};

use super::{kind, now_ms, Editor};
use crate::error::{Error, Result};
use crate::identity::namespace::{valid_code, IdType, Namespace, FIRST_CUSTOM_ID};

fn invalid(message: impl Into<String>) -> Error {
    Error::user(Code::InvalidNamespace, message)
}

fn linking_settings(namespace: &mut Namespace, body: &Map<String, Value>) -> Result<()> {
    match body.get("unique") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(unique)) => namespace.unique = *unique,
        Some(_) => return Err(invalid("/unique: expected true or false")),
    }
    match body.get("priority") {
        None => {}
        Some(Value::Null) => namespace.priority = None,
        Some(value) => match value.as_u64() {
            Some(priority) if priority <= 1000 => namespace.priority = Some(priority as u32),
            _ => {
                return Err(invalid(
                    "/priority: expected an integer from 0 to 1000 (higher wins)",
                ))
            }
        },
    }
    Ok(())
}

/// The body as an object; a namespace is described by named fields.
fn object_body(body: &Value) -> Result<&Map<String, Value>> {
    body.as_object().ok_or_else(|| {
        invalid(
            "#: expected a JSON object with code, name, description, idType, unique and priority",
        )
    })
}

/// The string at `key`: absent and `null` are `None`, any other type is refused.
fn optional_text<'a>(body: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(invalid(format!(
            "/{key}: expected a string, found {}",
            json_type(other)
        ))),
    }
}

/// The JSON type of a value, with its article, for messages ("found a number").
pub(super) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn create(editor: &mut Editor<'_>, body: &Value) -> Result<Namespace> {
    let body = object_body(body)?;
    let code = optional_text(body, "code")?.unwrap_or("");
    if !valid_code(code) {
        return Err(invalid(format!(
            "/code: \"{code}\" is not a valid namespace code: 1 to 64 letters, digits, '_' or '-', starting with a letter"
        )));
    }
    if let Some(existing) = editor.catalog.namespace(code) {
        return Err(Error::user(
            Code::NamespaceExists,
            format!(
                "/code: namespace \"{}\" already exists (codes are matched case-insensitively)",
                existing.code
            ),
        ));
    }
    let name = optional_text(body, "name")?.unwrap_or(code).to_owned();
    let description = optional_text(body, "description")?.unwrap_or("").to_owned();
    let id_type_text = optional_text(body, "idType")?.unwrap_or("CROSS_DEVICE");
    let Some(id_type) = IdType::parse(id_type_text) else {
        return Err(invalid(format!(
            "/idType: \"{id_type_text}\" is not one of COOKIE, CROSS_DEVICE, DEVICE, EMAIL, PHONE, NON_PEOPLE, PARTNER"
        )));
    };
    let next_id = editor
        .catalog
        .namespaces
        .values()
        .map(|n| n.id + 1)
        .max()
        .unwrap_or(0)
        .max(FIRST_CUSTOM_ID);
    let now = now_ms();
    let mut namespace = Namespace {
        id: next_id,
        code: code.to_owned(),
        name,
        description,
        id_type,
        custom: true,
        unique: false,
        priority: None,
        create_time_ms: now,
        update_time_ms: now,
    };
    linking_settings(&mut namespace, body)?;
    editor.record(kind::NAMESPACE, &namespace.code, &namespace)?;
    editor
        .catalog
        .namespaces
        .insert(namespace.code.clone(), namespace.clone());
    Ok(namespace)
}

/// Updates name, description and linking settings; code and type are immutable.
/// A body that changes nothing leaves the namespace (and its `updateTime`) as it was.
pub(crate) fn update(editor: &mut Editor<'_>, id_or_code: &str, body: &Value) -> Result<Namespace> {
    let found = id_or_code
        .parse::<u32>()
        .ok()
        .and_then(|id| editor.catalog.namespace_by_id(id))
        .or_else(|| editor.catalog.namespace(id_or_code))
        .cloned();
    let Some(mut namespace) = found else {
        return Err(Error::user(
            Code::NamespaceNotFound,
            format!("no namespace \"{id_or_code}\" exists"),
        ));
    };
    let before = namespace.clone();
    let body = object_body(body)?;
    if let Some(code) = optional_text(body, "code")? {
        if code != namespace.code {
            return Err(invalid(
                "/code: a namespace's code cannot change after creation",
            ));
        }
    }
    if let Some(id_type) = optional_text(body, "idType")? {
        if IdType::parse(id_type) != Some(namespace.id_type) {
            return Err(invalid(
                "/idType: a namespace's type cannot change after creation",
            ));
        }
    }
    if let Some(name) = optional_text(body, "name")? {
        namespace.name = name.to_owned();
    }
    if let Some(description) = optional_text(body, "description")? {
        namespace.description = description.to_owned();
    }
    linking_settings(&mut namespace, body)?;
    if namespace == before {
        return Ok(namespace);
    }
    namespace.update_time_ms = now_ms();
    editor.record(kind::NAMESPACE, &namespace.code, &namespace)?;
    editor
        .catalog
        .namespaces
        .insert(namespace.code.clone(), namespace.clone());
    Ok(namespace)
}

impl Namespace {
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "updateTime": self.update_time_ms,
            "code": self.code,
            "status": "ACTIVE",
            "description": self.description,
            "id": self.id,
            "createTime": self.create_time_ms,
            "idType": self.id_type.as_str(),
            "name": self.name,
            "custom": self.custom,
            "unique": self.unique,
            "priority": self.effective_priority(),
        });
        if self.custom {
            value["namespaceType"] = json!("Custom");
        }
        value
    }
}
