//! Schemas, tenant field groups, identity descriptors and the union schema of each class.

use std::sync::Arc;

use rapport_types::Code;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use xdm::{Class, FieldType, ObjectField};

use super::namespaces::json_type;
use super::{kind, now_ms, CatalogSettings, Editor, SandboxCatalog};
use crate::error::{Error, Result};

/// A field group a tenant defined, kept as posted so it can be shown and re-parsed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantFieldGroup {
    pub id: String,
    pub alt_id: String,
    pub title: String,
    pub body: Value,
    pub version: u32,
    pub created_ms: i64,
    pub updated_ms: i64,
    #[serde(skip)]
    pub parsed: Option<xdm::FieldGroup>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaRecord {
    pub id: String,
    pub alt_id: String,
    pub title: String,
    pub description: String,
    pub class_id: String,
    pub field_groups: Vec<String>,
    /// Whether the schema takes part in its class's union (enabled for Profile).
    pub union: bool,
    pub version: u32,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl SchemaRecord {
    pub fn class(&self) -> Class {
        Class::from_id(&self.class_id).unwrap_or(Class::Profile)
    }
}

/// An identity descriptor: a schema field that holds an identity of a namespace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Descriptor {
    pub id: String,
    pub schema_id: String,
    /// JSON pointer of the field, such as `/personalEmail/address`.
    pub source_property: String,
    pub namespace: String,
    pub primary: bool,
    pub created_ms: i64,
}

/// A data usage label descriptor (`xdm:descriptorLabel`): labels on fields of one schema, or on
/// the whole schema. Roles are granted labels; a field is shown only to roles holding all of its
/// labels (see `crate::access`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabelDescriptor {
    pub id: String,
    pub schema_id: String,
    /// JSON pointers of the labelled fields (`/person/birthDate`, `/identityMap/Email`); empty
    /// when the labels apply to the whole schema.
    pub properties: Vec<String>,
    /// Pointers left out of a whole-schema label.
    #[serde(default)]
    pub excluded: Vec<String>,
    pub labels: Vec<String>,
    pub created_ms: i64,
}

impl LabelDescriptor {
    pub fn to_json(&self) -> Value {
        json!({
            "@id": self.id,
            "@type": "xdm:descriptorLabel",
            "xdm:sourceSchema": self.schema_id,
            "xdm:sourceVersion": 1,
            "xdm:sourceProperty": self.properties,
            "xdm:excludeProperty": self.excluded,
            "xdm:labels": self.labels,
            "meta:containerId": "tenant",
            "version": "1",
        })
    }
}

/// A label's name: a standard label (C1–C12, I1, I2, S1, S2, PSPD, RHD, Third-Party) or a
/// custom one of `[A-Za-z][A-Za-z0-9_-]{0,63}`.
pub fn is_label_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && text.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Either kind of descriptor, as the descriptors API answers with it.
#[derive(Debug, Clone)]
pub enum AnyDescriptor {
    Identity(Descriptor),
    Label(LabelDescriptor),
}

impl AnyDescriptor {
    pub fn to_json(&self) -> Value {
        match self {
            AnyDescriptor::Identity(d) => d.to_json(),
            AnyDescriptor::Label(d) => d.to_json(),
        }
    }
}

/// A field that carries an identity, as a path of property names.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityField {
    pub path: Vec<String>,
    pub namespace: String,
    pub primary: bool,
}

/// A schema ready to validate records: its field tree and its identity fields.
#[derive(Debug, Clone)]
pub struct CompiledSchema {
    pub record: SchemaRecord,
    pub class: Class,
    pub tree: ObjectField,
    pub identity_fields: Vec<IdentityField>,
}

fn invalid_schema(message: impl Into<String>) -> Error {
    Error::user(Code::InvalidSchema, message)
}

/// A field group id: a standard one, or a tenant one of this sandbox (by `$id` or `meta:altId`).
fn resolve_field_group(catalog: &SandboxCatalog, reference: &str) -> Option<xdm::FieldGroup> {
    if let Some(group) = xdm::standard_field_group(reference) {
        return Some(group.clone());
    }
    let short = reference.rsplit('/').next().unwrap_or(reference);
    if let Some(group) =
        xdm::standard_field_group(&format!("https://ns.adobe.com/xdm/context/{short}"))
    {
        return Some(group.clone());
    }
    catalog
        .field_groups
        .values()
        .find(|g| g.id == reference || g.alt_id == reference)
        .and_then(|g| g.parsed.clone())
}

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub(crate) fn create_field_group(editor: &mut Editor<'_>, body: Value) -> Result<TenantFieldGroup> {
    let tenant = editor.settings.tenant_id.clone();
    let hex = short_id();
    let id = format!("https://ns.adobe.com/{tenant}/mixins/{hex}");
    let parsed = xdm::parse_field_group(&body, &tenant, id.clone())
        .map_err(|e| Error::user(Code::InvalidFieldGroup, e.to_string()))?;
    let now = now_ms();
    let group = TenantFieldGroup {
        id: id.clone(),
        alt_id: format!("_{tenant}.mixins.{hex}"),
        title: parsed.title.clone(),
        body,
        version: 1,
        created_ms: now,
        updated_ms: now,
        parsed: Some(parsed),
    };
    editor.record(kind::FIELD_GROUP, &id, &group)?;
    editor.catalog.field_groups.insert(id, group.clone());
    Ok(group)
}

/// A value as a message shows it: strings and numbers as JSON, anything else by its type.
fn shown(value: &Value) -> String {
    match value {
        Value::String(_) | Value::Number(_) => value.to_string(),
        other => json_type(other).to_owned(),
    }
}

/// The string at `key` of a body: absent and `null` are `None`, any other type is refused.
fn optional_text<'a>(
    body: &'a Value,
    key: &str,
    error: impl Fn(String) -> Error,
) -> Result<Option<&'a str>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(error(format!(
            "/{key}: expected a string, found {}",
            json_type(other)
        ))),
    }
}

pub(crate) fn create_schema(editor: &mut Editor<'_>, body: &Value) -> Result<SchemaRecord> {
    if !body.is_object() {
        return Err(invalid_schema(
            "#: expected a JSON object with title, allOf and meta:immutableTags",
        ));
    }
    let title = optional_text(body, "title", invalid_schema)?
        .unwrap_or("")
        .trim()
        .to_owned();
    if title.is_empty() {
        return Err(invalid_schema("/title: a schema needs a non-empty title"));
    }
    let description = optional_text(body, "description", invalid_schema)?
        .unwrap_or("")
        .to_owned();
    let refs: Vec<String> =
        match body.get("allOf") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.get("$ref")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            invalid_schema(format!(
                                "/allOf/{i}: each entry must be an object with a \"$ref\" string"
                            ))
                        })
                })
                .collect::<Result<_>>()?,
            _ => return Err(invalid_schema(
                "/allOf: a schema lists its class and field groups as an array of {\"$ref\": ...}",
            )),
        };
    let mut class = body
        .get("meta:class")
        .and_then(Value::as_str)
        .and_then(Class::from_id);
    let mut field_groups = Vec::new();
    for (i, reference) in refs.iter().enumerate() {
        if let Some(found) = Class::from_id(reference) {
            if class.is_some_and(|c| c != found) {
                return Err(invalid_schema(format!(
                    "/allOf/{i}: a schema extends exactly one class"
                )));
            }
            class = Some(found);
            continue;
        }
        let Some(group) = resolve_field_group(editor.catalog, reference) else {
            return Err(Error::user(
                Code::FieldGroupNotFound,
                format!(
                    "/allOf/{i}: no class or field group \"{reference}\" exists in this sandbox"
                ),
            ));
        };
        field_groups.push(group.id.clone());
    }
    let Some(class) = class else {
        return Err(invalid_schema(
            "/allOf: reference a class, such as https://ns.adobe.com/xdm/context/profile",
        ));
    };
    for (i, id) in field_groups.iter().enumerate() {
        let group = resolve_field_group(editor.catalog, id)
            .ok_or_else(|| Error::internal("field group vanished"))?;
        if !group.intended_classes.is_empty() && !group.intended_classes.contains(&class) {
            return Err(invalid_schema(format!(
                "/allOf/{}: field group \"{id}\" does not extend the class {}",
                i + 1,
                class.id()
            )));
        }
    }
    let union = tags_include_union(body.get("meta:immutableTags"))?;
    let hex = short_id();
    let tenant = editor.settings.tenant_id.clone();
    let now = now_ms();
    let record = SchemaRecord {
        id: format!("https://ns.adobe.com/{tenant}/schemas/{hex}"),
        alt_id: format!("_{tenant}.schemas.{hex}"),
        title,
        description,
        class_id: class.id().to_owned(),
        field_groups,
        union,
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    compile(editor.catalog, &record, editor.settings)?;
    editor.record(kind::SCHEMA, &record.id, &record)?;
    editor
        .catalog
        .schemas
        .insert(record.id.clone(), record.clone());
    Ok(record)
}

fn tags_include_union(tags: Option<&Value>) -> Result<bool> {
    match tags {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Array(items)) => Ok(items.iter().any(|t| t.as_str() == Some("union"))),
        Some(_) => Err(invalid_schema(
            "/meta:immutableTags: expected an array of strings such as [\"union\"]",
        )),
    }
}

/// Finds a schema by `$id`, `meta:altId`, or their URL-encoded forms.
pub fn find_schema<'a>(catalog: &'a SandboxCatalog, reference: &str) -> Option<&'a SchemaRecord> {
    catalog
        .schemas
        .get(reference)
        .or_else(|| catalog.schemas.values().find(|s| s.alt_id == reference))
}

/// Applies the JSON Patch operations the reference allows on a schema: adding field groups to
/// `allOf`, the `union` tag to `meta:immutableTags`, and replacing title or description.
pub(crate) fn patch_schema(
    editor: &mut Editor<'_>,
    reference: &str,
    operations: &Value,
) -> Result<SchemaRecord> {
    let Some(mut record) = find_schema(editor.catalog, reference).cloned() else {
        return Err(Error::user(
            Code::SchemaNotFound,
            format!("no schema \"{reference}\" exists in this sandbox"),
        ));
    };
    let Some(operations) = operations.as_array() else {
        return Err(invalid_schema(
            "the body must be a JSON Patch array of operations",
        ));
    };
    for (i, operation) in operations.iter().enumerate() {
        let op = operation.get("op").and_then(Value::as_str).unwrap_or("");
        let path = operation.get("path").and_then(Value::as_str).unwrap_or("");
        let value = operation.get("value").cloned().unwrap_or(Value::Null);
        match (op, path) {
            ("add", p) if p.starts_with("/allOf") => {
                let reference = value.get("$ref").and_then(Value::as_str).unwrap_or("");
                let group = resolve_field_group(editor.catalog, reference).ok_or_else(|| {
                    Error::user(Code::FieldGroupNotFound, format!("/{i}/value/$ref: no field group \"{reference}\""))
                })?;
                if !record.field_groups.contains(&group.id) {
                    record.field_groups.push(group.id);
                }
            }
            ("add" | "replace", p) if p.starts_with("/meta:immutableTags") => {
                let tags = if value.is_string() { json!([value]) } else { value };
                if tags_include_union(Some(&tags))? {
                    record.union = true;
                }
            }
            ("replace" | "add", "/title") => {
                let title = value.as_str().map(str::trim).unwrap_or("");
                if title.is_empty() {
                    return Err(invalid_schema(format!(
                        "/{i}/value: a schema's title must be a non-empty string, found {}",
                        json_type(&value)
                    )));
                }
                record.title = title.to_owned();
            }
            ("replace" | "add", "/description") => {
                let Some(description) = value.as_str() else {
                    return Err(invalid_schema(format!(
                        "/{i}/value: a schema's description must be a string, found {}",
                        json_type(&value)
                    )));
                };
                record.description = description.to_owned();
            }
            _ => {
                return Err(invalid_schema(format!(
                    "/{i}: operation \"{op}\" on \"{path}\" is not supported; add to /allOf or /meta:immutableTags, or replace /title or /description"
                )))
            }
        }
    }
    record.version += 1;
    record.updated_ms = now_ms();
    compile(editor.catalog, &record, editor.settings)?;
    editor.record(kind::SCHEMA, &record.id, &record)?;
    editor
        .catalog
        .schemas
        .insert(record.id.clone(), record.clone());
    Ok(record)
}

pub(crate) fn delete_schema(editor: &mut Editor<'_>, reference: &str) -> Result<()> {
    let Some(record) = find_schema(editor.catalog, reference).cloned() else {
        return Err(Error::user(
            Code::SchemaNotFound,
            format!("no schema \"{reference}\" exists in this sandbox"),
        ));
    };
    if let Some(dataset) = editor
        .catalog
        .datasets
        .values()
        .find(|d| d.schema_id == record.id)
    {
        return Err(Error::user(
            Code::SchemaInUse,
            format!(
                "schema \"{}\" is used by dataset {} (\"{}\"); delete the dataset first",
                record.id, dataset.id, dataset.name
            ),
        ));
    }
    let descriptors: Vec<String> = editor
        .catalog
        .descriptors
        .values()
        .filter(|d| d.schema_id == record.id)
        .map(|d| d.id.clone())
        .collect();
    for id in descriptors {
        editor.catalog.descriptors.remove(&id);
        editor.forget(kind::DESCRIPTOR, &id);
    }
    let label_descriptors: Vec<String> = editor
        .catalog
        .label_descriptors
        .values()
        .filter(|d| d.schema_id == record.id)
        .map(|d| d.id.clone())
        .collect();
    for id in label_descriptors {
        editor.catalog.label_descriptors.remove(&id);
        editor.forget(kind::LABEL_DESCRIPTOR, &id);
    }
    editor.catalog.schemas.remove(&record.id);
    editor.forget(kind::SCHEMA, &record.id);
    Ok(())
}

/// The `@type` of a descriptor body (`""` when absent).
pub fn descriptor_type(body: &Value) -> &str {
    body.get("@type").and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn create_descriptor(editor: &mut Editor<'_>, body: &Value) -> Result<AnyDescriptor> {
    let invalid = |message: String| Error::user(Code::InvalidDescriptor, message);
    if !body.is_object() {
        return Err(invalid(
            "#: expected a JSON object describing an xdm:descriptorIdentity or an xdm:descriptorLabel".into(),
        ));
    }
    let descriptor_type = optional_text(body, "@type", invalid)?.unwrap_or("");
    match descriptor_type {
        "xdm:descriptorIdentity" => create_identity_descriptor(editor, body).map(AnyDescriptor::Identity),
        "xdm:descriptorLabel" => create_label_descriptor(editor, body).map(AnyDescriptor::Label),
        other => Err(invalid(format!(
            "/@type: \"xdm:descriptorIdentity\" and \"xdm:descriptorLabel\" descriptors are supported, found \"{other}\""
        ))),
    }
}

/// The pointers of `key` in a label descriptor body: a string or an array of strings, each a
/// field of `tree` (or `/identityMap/<namespace>`).
fn label_pointers(
    body: &Value,
    key: &str,
    tree: &ObjectField,
    schema_title: &str,
) -> Result<Vec<String>> {
    let invalid = |message: String| Error::user(Code::InvalidDescriptor, message);
    let pointers: Vec<&str> = match body.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().ok_or_else(|| {
                    invalid(format!(
                        "/{key}/{i}: expected a JSON pointer string, found {}",
                        json_type(v)
                    ))
                })
            })
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(invalid(format!(
                "/{key}: expected a JSON pointer or an array of them, found {}",
                json_type(other)
            )))
        }
    };
    let mut out = Vec::with_capacity(pointers.len());
    for (i, pointer) in pointers.into_iter().enumerate() {
        let at = if body.get(key).is_some_and(Value::is_array) {
            format!("/{key}/{i}")
        } else {
            format!("/{key}")
        };
        if !pointer.starts_with('/') || pointer.len() < 2 {
            return Err(invalid(format!(
                "{at}: expected a JSON pointer such as \"/person/birthDate\", found \"{pointer}\""
            )));
        }
        let is_identity_map = pointer == "/identityMap" || pointer.starts_with("/identityMap/");
        if !is_identity_map && xdm::lookup(tree, pointer).is_none() {
            return Err(invalid(format!(
                "{at}: schema \"{schema_title}\" has no field \"{pointer}\""
            )));
        }
        out.push(pointer.to_owned());
    }
    Ok(out)
}

fn create_label_descriptor(editor: &mut Editor<'_>, body: &Value) -> Result<LabelDescriptor> {
    let invalid = |message: String| Error::user(Code::InvalidDescriptor, message);
    let schema_ref = optional_text(body, "xdm:sourceSchema", invalid)?.unwrap_or("");
    let Some(schema) = find_schema(editor.catalog, schema_ref).cloned() else {
        return Err(Error::user(
            Code::SchemaNotFound,
            format!("/xdm:sourceSchema: no schema \"{schema_ref}\" exists"),
        ));
    };
    let compiled = compile(editor.catalog, &schema, editor.settings)?;
    let properties = label_pointers(body, "xdm:sourceProperty", &compiled.tree, &schema.title)?;
    let excluded = label_pointers(body, "xdm:excludeProperty", &compiled.tree, &schema.title)?;
    if !excluded.is_empty() && !properties.is_empty() {
        return Err(invalid(
            "/xdm:excludeProperty: only a label on the whole schema (no xdm:sourceProperty) leaves fields out".into(),
        ));
    }
    let labels: Vec<String> = match body.get("xdm:labels") {
        Some(Value::Array(labels)) if !labels.is_empty() => labels
            .iter()
            .enumerate()
            .map(|(i, label)| match label.as_str() {
                Some(name) if is_label_name(name) => Ok(name.to_owned()),
                _ => Err(invalid(format!(
                    "/xdm:labels/{i}: expected a label such as \"I1\" or a custom name of letters, digits, _ and - (starting with a letter, at most 64), found {}",
                    shown(label)
                ))),
            })
            .collect::<Result<_>>()?,
        Some(other) if !other.is_array() => {
            return Err(invalid(format!(
                "/xdm:labels: expected an array of labels, found {}",
                json_type(other)
            )))
        }
        _ => {
            return Err(invalid(
                "/xdm:labels: required, at least one label such as \"I1\"".into(),
            ))
        }
    };
    let descriptor = LabelDescriptor {
        id: short_id(),
        schema_id: schema.id.clone(),
        properties,
        excluded,
        labels,
        created_ms: now_ms(),
    };
    editor.record(kind::LABEL_DESCRIPTOR, &descriptor.id, &descriptor)?;
    editor
        .catalog
        .label_descriptors
        .insert(descriptor.id.clone(), descriptor.clone());
    Ok(descriptor)
}

fn create_identity_descriptor(editor: &mut Editor<'_>, body: &Value) -> Result<Descriptor> {
    let invalid = |message: String| Error::user(Code::InvalidDescriptor, message);
    let primary = match body.get("xdm:isPrimary") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(primary)) => *primary,
        Some(other) => {
            return Err(invalid(format!(
                "/xdm:isPrimary: expected a boolean (true or false), found {}",
                json_type(other)
            )))
        }
    };
    // How `xdm:namespace` names the namespace: by code (the default) or by numeric id.
    let by_id = match body.get("xdm:property") {
        None | Some(Value::Null) => false,
        Some(Value::String(property)) if property == "xdm:code" => false,
        Some(Value::String(property)) if property == "xdm:id" => true,
        Some(other) => {
            return Err(invalid(format!(
                "/xdm:property: expected \"xdm:code\" or \"xdm:id\", found {}",
                shown(other)
            )))
        }
    };
    let schema_ref = optional_text(body, "xdm:sourceSchema", invalid)?.unwrap_or("");
    let Some(schema) = find_schema(editor.catalog, schema_ref).cloned() else {
        return Err(Error::user(
            Code::SchemaNotFound,
            format!("/xdm:sourceSchema: no schema \"{schema_ref}\" exists"),
        ));
    };
    let property = optional_text(body, "xdm:sourceProperty", invalid)?.unwrap_or("");
    if !property.starts_with('/') {
        return Err(invalid(
            "/xdm:sourceProperty: expected a JSON pointer such as \"/personalEmail/address\""
                .into(),
        ));
    }
    let compiled = compile(editor.catalog, &schema, editor.settings)?;
    match xdm::lookup(&compiled.tree, property) {
        Some(field) if matches!(field.ty, FieldType::String(_)) => {}
        Some(_) => {
            return Err(invalid(format!(
                "/xdm:sourceProperty: field \"{property}\" is not a string field"
            )))
        }
        None => {
            return Err(invalid(format!(
                "/xdm:sourceProperty: schema \"{}\" has no field \"{property}\"",
                schema.title
            )))
        }
    }
    let namespace = if by_id {
        let given = body.get("xdm:namespace");
        let id = match given {
            Some(Value::Number(number)) => number.as_u64().and_then(|n| u32::try_from(n).ok()),
            Some(Value::String(text)) => text.trim().parse::<u32>().ok(),
            _ => None,
        };
        let Some(id) = id else {
            return Err(invalid(format!(
                "/xdm:namespace: with \"xdm:property\": \"xdm:id\" this is a numeric namespace id (a number or a numeric string), found {}",
                given.map_or_else(|| "nothing".to_owned(), shown)
            )));
        };
        let Some(namespace) = editor.catalog.namespace_by_id(id) else {
            return Err(Error::user(
                Code::NamespaceNotFound,
                format!("/xdm:namespace: no namespace with id {id} exists"),
            ));
        };
        namespace.code.clone()
    } else {
        let code = match body.get("xdm:namespace") {
            None | Some(Value::Null) => "",
            Some(Value::String(code)) => code.as_str(),
            Some(other) => {
                return Err(invalid(format!(
                    "/xdm:namespace: expected a namespace code string, found {} (set \"xdm:property\": \"xdm:id\" to give a numeric id)",
                    json_type(other)
                )))
            }
        };
        let Some(namespace) = editor.catalog.namespace(code) else {
            return Err(Error::user(
                Code::NamespaceNotFound,
                format!("/xdm:namespace: no namespace \"{code}\" exists"),
            ));
        };
        namespace.code.clone()
    };
    if primary
        && editor
            .catalog
            .descriptors
            .values()
            .any(|d| d.schema_id == schema.id && d.primary)
    {
        return Err(invalid(format!(
            "/xdm:isPrimary: schema \"{}\" already has a primary identity descriptor",
            schema.title
        )));
    }
    let descriptor = Descriptor {
        id: short_id(),
        schema_id: schema.id.clone(),
        source_property: property.to_owned(),
        namespace,
        primary,
        created_ms: now_ms(),
    };
    editor.record(kind::DESCRIPTOR, &descriptor.id, &descriptor)?;
    editor
        .catalog
        .descriptors
        .insert(descriptor.id.clone(), descriptor.clone());
    Ok(descriptor)
}

pub(crate) fn delete_descriptor(editor: &mut Editor<'_>, id: &str) -> Result<()> {
    if editor.catalog.label_descriptors.remove(id).is_some() {
        editor.forget(kind::LABEL_DESCRIPTOR, id);
        return Ok(());
    }
    if editor.catalog.descriptors.remove(id).is_none() {
        return Err(Error::user(
            Code::DescriptorNotFound,
            format!("no descriptor \"{id}\" exists in this sandbox"),
        ));
    }
    editor.forget(kind::DESCRIPTOR, id);
    Ok(())
}

fn compile(
    catalog: &SandboxCatalog,
    record: &SchemaRecord,
    _settings: &CatalogSettings,
) -> Result<CompiledSchema> {
    let class = record.class();
    let groups: Vec<xdm::FieldGroup> = record
        .field_groups
        .iter()
        .map(|id| {
            resolve_field_group(catalog, id)
                .ok_or_else(|| invalid_schema(format!("field group \"{id}\" no longer exists")))
        })
        .collect::<Result<_>>()?;
    let group_refs: Vec<&xdm::FieldGroup> = groups.iter().collect();
    let tree = xdm::compose(class, &group_refs).map_err(|e| invalid_schema(e.to_string()))?;
    let identity_fields = catalog
        .descriptors
        .values()
        .filter(|d| d.schema_id == record.id)
        .map(|d| IdentityField {
            path: d
                .source_property
                .trim_start_matches('/')
                .split('/')
                .map(str::to_owned)
                .collect(),
            namespace: d.namespace.clone(),
            primary: d.primary,
        })
        .collect();
    Ok(CompiledSchema {
        record: record.clone(),
        class,
        tree,
        identity_fields,
    })
}

pub(crate) fn restore_parsed_field_groups(
    catalog: &mut SandboxCatalog,
    settings: &CatalogSettings,
) -> Result<()> {
    for group in catalog.field_groups.values_mut() {
        group.parsed = Some(parse_stored_field_group(
            &group.body,
            &settings.tenant_id,
            &group.id,
        )?);
    }
    Ok(())
}

/// Parses a stored field group. Patterns were once accepted unchecked: a stored pattern that is
/// now refused (invalid, too long, too big) is dropped from the parsed group with a warning,
/// instead of keeping the server from starting. The stored body stays as it was posted.
fn parse_stored_field_group(body: &Value, tenant_id: &str, id: &str) -> Result<xdm::FieldGroup> {
    let mut body = std::borrow::Cow::Borrowed(body);
    loop {
        match xdm::parse_field_group(&body, tenant_id, id.to_owned()) {
            Ok(parsed) => return Ok(parsed),
            Err(xdm::SchemaError::InvalidBody { path, reason }) if path.ends_with("/pattern") => {
                let parent = &path[..path.len() - "/pattern".len()];
                let removed = body
                    .to_mut()
                    .pointer_mut(parent)
                    .and_then(Value::as_object_mut)
                    .and_then(|field| field.remove("pattern"));
                if removed.is_none() {
                    return Err(Error::internal(format!(
                        "stored field group {id}: {path}: {reason}"
                    )));
                }
                tracing::warn!(
                    field_group = id,
                    path = path.as_str(),
                    reason = reason.as_str(),
                    "stored field group has a pattern that is now refused; it is not enforced"
                );
            }
            Err(error) => return Err(Error::internal(format!("stored field group {id}: {error}"))),
        }
    }
}

/// Rebuilds every compiled schema of the sandbox (after any catalog change).
pub(crate) fn recompile(catalog: &mut SandboxCatalog, settings: &CatalogSettings) -> Result<()> {
    let mut compiled = std::collections::HashMap::new();
    for record in catalog.schemas.values() {
        compiled.insert(
            record.id.clone(),
            Arc::new(compile(catalog, record, settings)?),
        );
    }
    catalog.compiled = compiled;
    Ok(())
}

/// The union of every union-enabled schema of a class.
pub fn union_tree(catalog: &SandboxCatalog, class: Class) -> Result<ObjectField> {
    let mut tree = stored_union(catalog, class)?;
    if class == Class::Profile && (!catalog.computed.is_empty() || catalog.models.is_some()) {
        // Computed attributes are profile fields: `_{tenant}.SystemComputedAttributes.<name>`.
        let event = stored_union(catalog, Class::ExperienceEvent)?;
        let group = crate::computed::ComputedIndex::schema_fields(catalog, &event);
        let tenant = tree
            .properties
            .entry(catalog.tenant_key.clone())
            .or_insert_with(|| xdm::Field::new(xdm::FieldType::Object(ObjectField::new())));
        if let xdm::FieldType::Object(object) = &mut tenant.ty {
            let mut field = xdm::Field::new(xdm::FieldType::Object(group));
            field.title = Some("Computed attributes".into());
            object
                .properties
                .insert(crate::computed::FIELD_GROUP.to_owned(), field);
        }
    }
    Ok(tree)
}

/// The union of the stored schemas of a class that take part in the profile.
fn stored_union(catalog: &SandboxCatalog, class: Class) -> Result<ObjectField> {
    let trees: Vec<&ObjectField> = catalog
        .compiled
        .values()
        .filter(|c| c.class == class && c.record.union)
        .map(|c| &c.tree)
        .collect();
    if trees.is_empty() {
        return Ok(xdm::class_fields(class));
    }
    xdm::union(&trees).map_err(|e| invalid_schema(e.to_string()))
}

/// The union schema's id for a class.
pub fn union_id(class: Class) -> String {
    format!("{}__union", class.id())
}

fn registry_metadata(created_ms: i64, updated_ms: i64) -> Value {
    json!({"repo:createdDate": created_ms, "repo:lastModifiedDate": updated_ms, "xdm:createdClientId": "rapport", "xdm:repositoryCreatedBy": "rapport"})
}

impl SchemaRecord {
    /// The Schema Registry representation; `full` resolves every field (`xed-full`).
    pub fn to_json(&self, compiled: Option<&CompiledSchema>, full: bool) -> Value {
        let mut all_of = vec![json!({"$ref": self.class_id})];
        all_of.extend(self.field_groups.iter().map(|id| json!({"$ref": id})));
        let mut value = json!({
            "$id": self.id,
            "meta:altId": self.alt_id,
            "meta:resourceType": "schemas",
            "version": format!("1.{}", self.version - 1),
            "title": self.title,
            "description": self.description,
            "type": "object",
            "meta:class": self.class_id,
            "meta:extends": self.field_groups.iter().cloned().chain([self.class_id.clone()]).collect::<Vec<_>>(),
            "meta:containerId": "tenant",
            "meta:xdmType": "object",
            "meta:immutableTags": if self.union { json!(["union"]) } else { json!([]) },
            "allOf": all_of,
            "meta:registryMetadata": registry_metadata(self.created_ms, self.updated_ms),
        });
        if let (true, Some(compiled)) = (full, compiled) {
            let schema = xdm::to_json_schema(&compiled.tree);
            if let (Some(object), Some(properties)) =
                (value.as_object_mut(), schema.get("properties"))
            {
                object.insert("properties".into(), properties.clone());
                object.remove("allOf");
            }
        }
        value
    }
}

impl TenantFieldGroup {
    pub fn to_json(&self) -> Value {
        let mut value = self.body.clone();
        if let Some(object) = value.as_object_mut() {
            object.insert("$id".into(), json!(self.id));
            object.insert("meta:altId".into(), json!(self.alt_id));
            object.insert("meta:resourceType".into(), json!("mixins"));
            object.insert("meta:containerId".into(), json!("tenant"));
            object.insert("version".into(), json!(format!("1.{}", self.version - 1)));
            object.insert(
                "meta:registryMetadata".into(),
                registry_metadata(self.created_ms, self.updated_ms),
            );
        }
        value
    }
}

/// The representation of a standard field group.
pub fn standard_field_group_json(group: &xdm::FieldGroup) -> Value {
    json!({
        "$id": group.id,
        "meta:altId": group.id.trim_start_matches("https://ns.adobe.com/").replace('/', "."),
        "meta:resourceType": "mixins",
        "meta:containerId": "global",
        "title": group.title,
        "description": group.description,
        "type": "object",
        "meta:intendedToExtend": group.intended_classes.iter().map(|c| c.id()).collect::<Vec<_>>(),
        "properties": xdm::to_json_schema(&group.root).get("properties").cloned().unwrap_or(json!({})),
    })
}

impl Descriptor {
    pub fn to_json(&self) -> Value {
        json!({
            "@id": self.id,
            "@type": "xdm:descriptorIdentity",
            "xdm:sourceSchema": self.schema_id,
            "xdm:sourceVersion": 1,
            "xdm:sourceProperty": self.source_property,
            "xdm:namespace": self.namespace,
            "xdm:property": "xdm:code",
            "xdm:isPrimary": self.primary,
            "meta:containerId": "tenant",
            "version": "1",
        })
    }
}
