//! Merge policies: which fragments form a profile and which value wins. One default per class.

use rapport_types::Code;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{kind, now_ms, Editor};
use crate::error::{Error, Result};

/// At most this many merge policies per sandbox, as the reference's hard limit.
pub const MERGE_POLICY_LIMIT: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityGraphType {
    /// No stitching: a profile is the fragments of the looked-up identity alone.
    None,
    /// The private identity graph.
    Pdg,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeMerge {
    /// The most recently updated fragment wins (ingestion time, or
    /// `extSourceSystemAudit.lastUpdatedDate` when present).
    TimestampOrdered,
    /// Datasets in priority order, highest first; datasets not listed are left out.
    DataSetPrecedence { order: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergePolicy {
    pub id: String,
    pub name: String,
    pub schema_name: String,
    pub identity_graph: IdentityGraphType,
    pub attribute_merge: AttributeMerge,
    pub is_active_on_edge: bool,
    pub default: bool,
    pub version: u32,
    pub update_epoch_s: i64,
}

impl MergePolicy {
    /// A stamp that changes whenever the policy does; prepared views remember it.
    /// Changes only when what the policy merges changes (not on a rename or a no-op update).
    pub fn stamp(&self) -> String {
        format!(
            "{}#{:?}#{:?}",
            self.id, self.identity_graph, self.attribute_merge
        )
    }

    pub fn to_json(&self, sandbox: &str) -> Value {
        let attribute_merge = match &self.attribute_merge {
            AttributeMerge::TimestampOrdered => json!({"type": "timestampOrdered"}),
            AttributeMerge::DataSetPrecedence { order } => {
                json!({"type": "dataSetPrecedence", "order": order})
            }
        };
        json!({
            "id": self.id,
            "name": self.name,
            "imsOrgId": "rapport@AdobeOrg",
            "sandbox": {"sandboxId": sandbox, "sandboxName": sandbox, "type": if sandbox == "prod" { "production" } else { "development" }, "default": sandbox == "prod"},
            "schema": {"name": self.schema_name},
            "version": self.version,
            "identityGraph": {"type": match self.identity_graph { IdentityGraphType::None => "none", IdentityGraphType::Pdg => "pdg" }},
            "attributeMerge": attribute_merge,
            "isActiveOnEdge": self.is_active_on_edge,
            "default": self.default,
            "updateEpoch": self.update_epoch_s,
        })
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::user(Code::InvalidMergePolicy, message)
}

fn parse_bool(value: &Value, pointer: &str) -> Result<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        _ => Err(invalid(format!("{pointer}: expected true or false"))),
    }
}

fn parse_identity_graph(value: &Value) -> Result<IdentityGraphType> {
    match value.as_str() {
        Some("none") => Ok(IdentityGraphType::None),
        Some("pdg") => Ok(IdentityGraphType::Pdg),
        _ => Err(invalid("/identityGraph/type: expected \"none\" or \"pdg\"")),
    }
}

fn parse_attribute_merge(editor: &Editor<'_>, value: &Value) -> Result<AttributeMerge> {
    match value.get("type").and_then(Value::as_str) {
        Some("timestampOrdered") => Ok(AttributeMerge::TimestampOrdered),
        Some("dataSetPrecedence") => {
            let Some(items) = value.get("order").and_then(Value::as_array) else {
                return Err(invalid("/attributeMerge/order: dataSetPrecedence needs an array of dataset ids, highest priority first"));
            };
            let mut order = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Some(id) = item.as_str() else {
                    return Err(invalid(format!(
                        "/attributeMerge/order/{i}: expected a dataset id string"
                    )));
                };
                if !editor.catalog.datasets.contains_key(id) {
                    return Err(invalid(format!(
                        "/attributeMerge/order/{i}: no dataset \"{id}\" exists in this sandbox"
                    )));
                }
                order.push(id.to_owned());
            }
            if order.is_empty() {
                return Err(invalid("/attributeMerge/order: list at least one dataset"));
            }
            Ok(AttributeMerge::DataSetPrecedence { order })
        }
        _ => Err(invalid(
            "/attributeMerge/type: expected \"timestampOrdered\" or \"dataSetPrecedence\"",
        )),
    }
}

fn parse_schema_name(value: &Value) -> Result<String> {
    match value.as_str() {
        Some(name) if xdm::Class::from_id(name).is_some() => Ok(xdm::Class::from_id(name)
            .map(|c| c.ups_name().to_owned())
            .unwrap_or_default()),
        _ => Err(invalid(
            "/schema/name: expected a class name such as \"_xdm.context.profile\"",
        )),
    }
}

/// The id of a sandbox's first default policy: derived from the sandbox name, so a sandbox that
/// is only read (and never stored) shows the same id it will have once it is stored.
pub(crate) fn default_policy_id(sandbox: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("rapport default merge policy\0{sandbox}").as_bytes());
    let mut bytes: [u8; 16] = digest[..16].try_into().unwrap_or([0; 16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // a custom (version 8) UUID
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// The default policy of a sandbox that has none yet.
pub(crate) fn default_policy(sandbox: &str) -> MergePolicy {
    MergePolicy {
        id: default_policy_id(sandbox),
        name: "Default Timebased".to_owned(),
        schema_name: xdm::Class::Profile.ups_name().to_owned(),
        identity_graph: IdentityGraphType::Pdg,
        attribute_merge: AttributeMerge::TimestampOrdered,
        is_active_on_edge: true,
        default: true,
        version: 1,
        update_epoch_s: 0,
    }
}

pub(crate) fn create_default(editor: &mut Editor<'_>) -> Result<()> {
    let sandbox = editor
        .catalog
        .name
        .as_ref()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    let mut policy = default_policy(&sandbox);
    policy.update_epoch_s = now_ms() / 1000;
    editor.record(kind::MERGE_POLICY, &policy.id, &policy)?;
    editor
        .catalog
        .merge_policies
        .insert(policy.id.clone(), policy);
    Ok(())
}

/// Applies one field of a create or replace body to `policy`.
fn apply_field(
    editor: &Editor<'_>,
    policy: &mut MergePolicy,
    field: &str,
    value: &Value,
) -> Result<()> {
    match field {
        "name" => {
            let name = value.as_str().unwrap_or("").trim();
            if name.is_empty() {
                return Err(invalid("/name: a merge policy needs a non-empty name"));
            }
            policy.name = name.to_owned();
        }
        "identityGraph" => {
            policy.identity_graph = parse_identity_graph(value.get("type").unwrap_or(&Value::Null))?
        }
        "identityGraph.type" => policy.identity_graph = parse_identity_graph(value)?,
        "attributeMerge" => policy.attribute_merge = parse_attribute_merge(editor, value)?,
        "attributeMerge.type" => {
            policy.attribute_merge = parse_attribute_merge(
                editor,
                &json!({"type": value, "order": match &policy.attribute_merge { AttributeMerge::DataSetPrecedence { order } => json!(order), AttributeMerge::TimestampOrdered => Value::Null }}),
            )?
        }
        "schema" => {
            policy.schema_name = parse_schema_name(value.get("name").unwrap_or(&Value::Null))?
        }
        "schema.name" => policy.schema_name = parse_schema_name(value)?,
        "default" => policy.default = parse_bool(value, "/default")?,
        "isActiveOnEdge" => policy.is_active_on_edge = parse_bool(value, "/isActiveOnEdge")?,
        "version" | "id" | "imsOrgId" | "sandbox" | "updateEpoch" => {}
        other => return Err(invalid(format!("/{other}: unknown merge policy field"))),
    }
    Ok(())
}

/// After a policy became default or active on edge, the others of its class lose that.
fn settle_exclusive_flags(editor: &mut Editor<'_>, policy: &MergePolicy) -> Result<()> {
    let others: Vec<MergePolicy> = editor
        .catalog
        .merge_policies
        .values()
        .filter(|p| p.id != policy.id && p.schema_name == policy.schema_name)
        .filter(|p| {
            (policy.default && p.default) || (policy.is_active_on_edge && p.is_active_on_edge)
        })
        .cloned()
        .collect();
    for mut other in others {
        if policy.default {
            other.default = false;
        }
        if policy.is_active_on_edge {
            other.is_active_on_edge = false;
        }
        other.version += 1;
        editor.record(kind::MERGE_POLICY, &other.id, &other)?;
        editor
            .catalog
            .merge_policies
            .insert(other.id.clone(), other);
    }
    Ok(())
}

pub(crate) fn create(editor: &mut Editor<'_>, body: &Value) -> Result<MergePolicy> {
    let Some(object) = body.as_object() else {
        return Err(invalid("the body must be a merge policy object"));
    };
    if editor.catalog.merge_policies.len() >= MERGE_POLICY_LIMIT {
        return Err(Error::user(
            Code::MergePolicyLimit,
            format!(
                "a sandbox holds at most {MERGE_POLICY_LIMIT} merge policies; delete one first"
            ),
        ));
    }
    for required in ["name", "identityGraph", "attributeMerge", "schema"] {
        if !object.contains_key(required) {
            return Err(invalid(format!(
                "/{required}: required when creating a merge policy"
            )));
        }
    }
    let mut policy = MergePolicy {
        id: uuid::Uuid::new_v4().to_string(),
        name: String::new(),
        schema_name: String::new(),
        identity_graph: IdentityGraphType::Pdg,
        attribute_merge: AttributeMerge::TimestampOrdered,
        is_active_on_edge: false,
        default: false,
        version: 1,
        update_epoch_s: now_ms() / 1000,
    };
    for (field, value) in object {
        apply_field(editor, &mut policy, field, value)?;
    }
    settle_exclusive_flags(editor, &policy)?;
    editor.record(kind::MERGE_POLICY, &policy.id, &policy)?;
    editor
        .catalog
        .merge_policies
        .insert(policy.id.clone(), policy.clone());
    Ok(policy)
}

fn existing(editor: &Editor<'_>, id: &str) -> Result<MergePolicy> {
    editor
        .catalog
        .merge_policies
        .get(id)
        .cloned()
        .ok_or_else(|| {
            Error::user(
                Code::MergePolicyNotFound,
                format!("no merge policy \"{id}\" exists in this sandbox"),
            )
        })
}

fn save_update(
    editor: &mut Editor<'_>,
    before: &MergePolicy,
    mut policy: MergePolicy,
) -> Result<MergePolicy> {
    if policy.schema_name != before.schema_name {
        return Err(invalid(format!(
            "/schema/name: a merge policy's class cannot change (it is {}); create a policy for the other class instead",
            before.schema_name
        )));
    }
    if policy == *before {
        return Ok(policy);
    }
    if before.default && !policy.default {
        return Err(invalid("/default: a class always has one default merge policy; make another policy default instead"));
    }
    policy.version = before.version + 1;
    policy.update_epoch_s = now_ms() / 1000;
    settle_exclusive_flags(editor, &policy)?;
    editor.record(kind::MERGE_POLICY, &policy.id, &policy)?;
    editor
        .catalog
        .merge_policies
        .insert(policy.id.clone(), policy.clone());
    Ok(policy)
}

/// PUT: replaces every field.
pub(crate) fn replace(editor: &mut Editor<'_>, id: &str, body: &Value) -> Result<MergePolicy> {
    let before = existing(editor, id)?;
    let Some(object) = body.as_object() else {
        return Err(invalid("the body must be a merge policy object"));
    };
    let mut policy = before.clone();
    policy.default = false;
    policy.is_active_on_edge = false;
    for (field, value) in object {
        apply_field(editor, &mut policy, field, value)?;
    }
    save_update(editor, &before, policy)
}

/// PATCH: JSON Patch operations on the allowed paths.
pub(crate) fn patch(editor: &mut Editor<'_>, id: &str, body: &Value) -> Result<MergePolicy> {
    let before = existing(editor, id)?;
    let operations: Vec<&Value> = match body {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![body],
        _ => {
            return Err(invalid(
                "the body must be a JSON Patch operation or an array of them",
            ))
        }
    };
    let mut policy = before.clone();
    for (i, operation) in operations.into_iter().enumerate() {
        let op = operation.get("op").and_then(Value::as_str).unwrap_or("");
        if !matches!(op, "add" | "replace") {
            return Err(invalid(format!(
                "/{i}/op: expected \"add\" or \"replace\", found \"{op}\""
            )));
        }
        let path = operation.get("path").and_then(Value::as_str).unwrap_or("");
        let field = path.trim_start_matches('/').replace('/', ".");
        let allowed = [
            "name",
            "identityGraph.type",
            "attributeMerge.type",
            "attributeMerge",
            "identityGraph",
            "schema.name",
            "version",
            "default",
            "isActiveOnEdge",
        ];
        if !allowed.contains(&field.as_str()) {
            return Err(invalid(format!("/{i}/path: \"{path}\" cannot be patched; allowed: /name, /identityGraph.type, /attributeMerge, /schema.name, /default, /isActiveOnEdge")));
        }
        apply_field(
            editor,
            &mut policy,
            &field,
            operation.get("value").unwrap_or(&Value::Null),
        )?;
    }
    save_update(editor, &before, policy)
}

pub(crate) fn delete(editor: &mut Editor<'_>, id: &str) -> Result<()> {
    let policy = existing(editor, id)?;
    if policy.default {
        return Err(invalid(
            "the default merge policy cannot be deleted; make another policy default first",
        ));
    }
    if policy.is_active_on_edge {
        return Err(invalid(
            "a merge policy active on edge cannot be deleted; activate another one first",
        ));
    }
    editor.catalog.merge_policies.remove(id);
    editor.forget(kind::MERGE_POLICY, id);
    Ok(())
}
