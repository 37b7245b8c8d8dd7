//! Data hygiene work orders (record deletes): the reference's body checked field by field, and
//! the work order record kept in the Privacy table. A work order is the fragment-level tool: in
//! one dataset or all of them, it removes the fragments and events stored against the primary
//! identities it names, and the writer rebuilds each profile's view.

use rapport_types::{Code, SandboxName};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::jobs::json_type;
use crate::catalog::SandboxCatalog;
use crate::error::{Error, Result};
use crate::identity::IdentityKey;
use crate::time::format_rfc3339_ms;

/// The most identities one work order may name (the reference's limit).
pub const MAX_IDENTITIES: usize = 100_000;
const MAX_NAME_CHARS: usize = 256;
const MAX_DESCRIPTION_CHARS: usize = 4096;
const MAX_VALUE_CHARS: usize = 1024;

fn invalid(message: impl Into<String>) -> Error {
    Error::user(Code::InvalidWorkOrder, message)
}

/// Where a work order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkOrderStatus {
    /// Accepted, not started.
    Received,
    Processing,
    Completed,
    Failed,
}

impl WorkOrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkOrderStatus::Received => "received",
            WorkOrderStatus::Processing => "processing",
            WorkOrderStatus::Completed => "completed",
            WorkOrderStatus::Failed => "failed",
        }
    }

    pub fn finished(self) -> bool {
        matches!(self, WorkOrderStatus::Completed | WorkOrderStatus::Failed)
    }
}

/// What a work order removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderTotals {
    pub fragments: u64,
    pub events: u64,
    /// Profiles that lost something and had their view rebuilt.
    pub profiles: u64,
    /// Identities that belong to no profile of the sandbox.
    pub not_found: u64,
}

/// A work order as stored (JSON) under `workorder \0 sandbox \0 id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrder {
    /// `DI-` and a UUID, as the reference's record deletes are named.
    pub id: String,
    pub sandbox: String,
    /// The dataset, or `None` for every dataset (`"ALL"`).
    pub dataset: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// The primary identities whose records go. Emptied once the work order is finished, so
    /// the record keeps no identity; `operation_count` keeps how many there were.
    pub identities: Vec<IdentityKey>,
    pub operation_count: usize,
    pub created_by: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub status: WorkOrderStatus,
    pub totals: WorkOrderTotals,
    pub error: Option<String>,
}

impl WorkOrder {
    /// The work order in the reference's shape, with what it removed under `rapport`.
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "workorderId": self.id,
            "action": "delete_identity",
            "sandboxName": self.sandbox,
            "datasetId": self.dataset.as_deref().unwrap_or("ALL"),
            "displayName": self.display_name,
            "description": self.description,
            "operationCount": self.operation_count,
            "status": self.status.as_str(),
            "createdBy": self.created_by,
            "createdAt": format_rfc3339_ms(self.created_ms, true),
            "updatedAt": format_rfc3339_ms(self.updated_ms, true),
            "rapport": {
                "fragmentsRemoved": self.totals.fragments,
                "eventsRemoved": self.totals.events,
                "profilesChanged": self.totals.profiles,
                "identitiesNotFound": self.totals.not_found,
            },
        });
        if let Some(error) = &self.error {
            value["rapport"]["error"] = json!(error);
        }
        value
    }
}

fn optional_text(object: &Map<String, Value>, key: &str, limit: usize) -> Result<Option<String>> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.chars().count() <= limit => Ok(Some(text.clone())),
        Some(Value::String(_)) => Err(invalid(format!("/{key}: at most {limit} characters"))),
        Some(other) => Err(invalid(format!(
            "/{key}: expected a string, found {}",
            json_type(other)
        ))),
    }
}

/// The namespace of an identity entry, `{"code": "email"}` (or a bare code), resolved to its
/// registered spelling in the sandbox.
fn namespace_of(catalog: &SandboxCatalog, value: Option<&Value>, pointer: &str) -> Result<String> {
    let code = match value {
        Some(Value::Object(object)) => match object.get("code") {
            Some(Value::String(code)) => code.as_str(),
            Some(other) => {
                return Err(invalid(format!(
                    "{pointer}/code: expected a namespace code, found {}",
                    json_type(other)
                )))
            }
            None => {
                return Err(invalid(format!(
                    "{pointer}/code: required: the identity namespace code, such as email"
                )))
            }
        },
        Some(Value::String(code)) => code.as_str(),
        None | Some(Value::Null) => {
            return Err(invalid(format!(
                "{pointer}: required: {{\"code\": \"<namespace code>\"}}"
            )))
        }
        Some(other) => {
            return Err(invalid(format!(
                "{pointer}: expected {{\"code\": \"<namespace code>\"}}, found {}",
                json_type(other)
            )))
        }
    };
    catalog
        .namespace(code)
        .map(|ns| ns.code.clone())
        .ok_or_else(|| {
            invalid(format!(
                "{pointer}/code: no identity namespace \"{code}\" exists in this sandbox"
            ))
        })
}

fn identity_value(value: Option<&Value>, pointer: &str) -> Result<String> {
    match value {
        Some(Value::String(text)) if text.trim().is_empty() => {
            Err(invalid(format!("{pointer}: must not be empty")))
        }
        Some(Value::String(text)) if text.chars().count() > MAX_VALUE_CHARS => Err(invalid(
            format!("{pointer}: at most {MAX_VALUE_CHARS} characters"),
        )),
        Some(Value::String(text)) => Ok(text.clone()),
        None | Some(Value::Null) => {
            Err(invalid(format!("{pointer}: required: the identity value")))
        }
        Some(other) => Err(invalid(format!(
            "{pointer}: expected a string, found {}",
            json_type(other)
        ))),
    }
}

fn too_many(pointer: &str, count: usize) -> Error {
    Error::user(
        Code::TooManyItems,
        format!("{pointer}: at most {MAX_IDENTITIES} identities per work order, found {count}"),
    )
}

/// Checks a work order body: `{"action": "delete_identity", "datasetId": id | "ALL",
/// "displayName", "description", "identities": [{"namespace": {"code"}, "id"}]}` or, in the
/// newer form, `"namespacesIdentities": [{"namespace": {"code"}, "IDs": [..]}]`.
pub fn parse(
    sandbox: &SandboxName,
    catalog: &SandboxCatalog,
    body: &Value,
    created_by: &str,
    now_ms: i64,
) -> Result<WorkOrder> {
    let Some(object) = body.as_object() else {
        return Err(invalid(format!(
            "#: expected an object with action, datasetId and identities, found {}",
            json_type(body)
        )));
    };
    match object.get("action") {
        Some(Value::String(action)) if action == "delete_identity" => {}
        Some(Value::String(action)) => {
            return Err(invalid(format!(
                "/action: \"{action}\" is not a work order action: use delete_identity"
            )))
        }
        None | Some(Value::Null) => return Err(invalid("/action: required: \"delete_identity\"")),
        Some(other) => {
            return Err(invalid(format!(
                "/action: expected \"delete_identity\", found {}",
                json_type(other)
            )))
        }
    }
    let dataset = match object.get("datasetId") {
        Some(Value::String(id)) if id == "ALL" => None,
        Some(Value::String(id)) => match catalog.datasets.get(id) {
            Some(dataset) => Some(dataset.id.clone()),
            None => {
                return Err(invalid(format!(
                    "/datasetId: no dataset \"{id}\" exists in this sandbox (use \"ALL\" for every dataset)"
                )))
            }
        },
        None | Some(Value::Null) => {
            return Err(invalid(
                "/datasetId: required: a dataset id, or \"ALL\" for every dataset",
            ))
        }
        Some(other) => {
            return Err(invalid(format!(
                "/datasetId: expected a dataset id or \"ALL\", found {}",
                json_type(other)
            )))
        }
    };
    let display_name = optional_text(object, "displayName", MAX_NAME_CHARS)?;
    let description = optional_text(object, "description", MAX_DESCRIPTION_CHARS)?;
    let mut identities: Vec<IdentityKey> = Vec::new();
    match (object.get("identities"), object.get("namespacesIdentities")) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "#: give identities or namespacesIdentities, not both",
            ))
        }
        (Some(Value::Array(items)), None) => {
            if items.len() > MAX_IDENTITIES {
                return Err(too_many("/identities", items.len()));
            }
            for (i, item) in items.iter().enumerate() {
                let pointer = format!("/identities/{i}");
                let Some(item) = item.as_object() else {
                    return Err(invalid(format!(
                        "{pointer}: expected {{\"namespace\": {{\"code\"}}, \"id\"}}, found {}",
                        json_type(item)
                    )));
                };
                let namespace =
                    namespace_of(catalog, item.get("namespace"), &format!("{pointer}/namespace"))?;
                let value = identity_value(item.get("id"), &format!("{pointer}/id"))?;
                identities.push(IdentityKey::new(namespace, value));
            }
        }
        (None, Some(Value::Array(groups))) => {
            let count: usize = groups
                .iter()
                .map(|g| g.get("IDs").and_then(Value::as_array).map_or(0, Vec::len))
                .sum();
            if count > MAX_IDENTITIES {
                return Err(too_many("/namespacesIdentities", count));
            }
            for (i, group) in groups.iter().enumerate() {
                let pointer = format!("/namespacesIdentities/{i}");
                let Some(group) = group.as_object() else {
                    return Err(invalid(format!(
                        "{pointer}: expected {{\"namespace\": {{\"code\"}}, \"IDs\": [..]}}, found {}",
                        json_type(group)
                    )));
                };
                let namespace =
                    namespace_of(catalog, group.get("namespace"), &format!("{pointer}/namespace"))?;
                let ids = match group.get("IDs") {
                    Some(Value::Array(ids)) => ids,
                    None | Some(Value::Null) => {
                        return Err(invalid(format!(
                            "{pointer}/IDs: required: the identity values of this namespace"
                        )))
                    }
                    Some(other) => {
                        return Err(invalid(format!(
                            "{pointer}/IDs: expected an array of identity values, found {}",
                            json_type(other)
                        )))
                    }
                };
                for (j, id) in ids.iter().enumerate() {
                    let value = identity_value(Some(id), &format!("{pointer}/IDs/{j}"))?;
                    identities.push(IdentityKey::new(namespace.clone(), value));
                }
            }
        }
        (Some(other), None) => {
            return Err(invalid(format!(
                "/identities: expected an array of {{\"namespace\": {{\"code\"}}, \"id\"}}, found {}",
                json_type(other)
            )))
        }
        (None, Some(other)) => {
            return Err(invalid(format!(
                "/namespacesIdentities: expected an array, found {}",
                json_type(other)
            )))
        }
        (None, None) => {
            return Err(invalid(
                "/identities: required: the primary identities whose records go, [{\"namespace\": {\"code\"}, \"id\"}]",
            ))
        }
    }
    if identities.is_empty() {
        return Err(invalid("/identities: must name at least one identity"));
    }
    identities.sort();
    identities.dedup();
    Ok(WorkOrder {
        id: format!("DI-{}", uuid::Uuid::new_v4()),
        sandbox: sandbox.as_str().to_owned(),
        dataset,
        display_name,
        description,
        operation_count: identities.len(),
        identities,
        created_by: created_by.to_owned(),
        created_ms: now_ms,
        updated_ms: now_ms,
        status: WorkOrderStatus::Received,
        totals: WorkOrderTotals::default(),
        error: None,
    })
}
