//! Turning one incoming record into a prepared write: validated against its dataset's schema,
//! identities extracted and checked, primary identity chosen. Runs off the write path.

use rapport_types::{Code, SandboxName};
use serde_json::{json, Value};
use xdm::Class;

use crate::catalog::SandboxCatalog;
use crate::error::{Error, Result};
use crate::guardrails::{longest_array, Limits};
use crate::identity::value::{Refusal, ValuePolicy};
use crate::identity::IdentityKey;
use crate::time::parse_rfc3339_ms;

/// The most identities one record may carry (the reference's guardrail).
pub const MAX_IDENTITIES_PER_RECORD: usize = 20;

/// A record ready for the writer.
#[derive(Debug, Clone)]
pub struct PreparedWrite {
    pub sandbox: SandboxName,
    pub dataset_id: String,
    /// The dataset's identities link into the graph.
    pub link_identities: bool,
    /// The dataset's data reaches the profile.
    pub to_profile: bool,
    /// Valid, linkable identities; the primary is among them.
    pub identities: Vec<IdentityKey>,
    pub primary: IdentityKey,
    pub refused: Vec<(IdentityKey, Refusal)>,
    pub json: Vec<u8>,
    pub received_ms: i64,
    pub source_updated_ms: Option<i64>,
    /// For experience events: `_id` and timestamp.
    pub event: Option<(String, i64)>,
    /// For experience events: `eventType`, which decides the segments to evaluate again.
    pub event_type: Option<String>,
    /// Where the record came from, for the graph's history: request id and index.
    pub source_record: String,
    /// The items of its longest array, when that is more than the array guardrail allows
    /// (`max-event-array-items` for events, `max-profile-array-items` for records): the write
    /// is accepted and its profile flagged.
    pub oversized_array: Option<usize>,
}

fn invalid_identity(message: String) -> Error {
    Error::user(Code::InvalidIdentity, message)
}

pub fn prepare(
    catalog: &SandboxCatalog,
    values: &ValuePolicy,
    limits: &Limits,
    dataset_ref: &str,
    entity: Value,
    source_record: String,
    received_ms: i64,
) -> Result<PreparedWrite> {
    let Some(dataset) = catalog.dataset(dataset_ref) else {
        return Err(Error::user(
            Code::DatasetNotFound,
            format!("no dataset \"{dataset_ref}\" exists in this sandbox"),
        ));
    };
    let Some(schema) = catalog.compiled.get(&dataset.schema_id) else {
        return Err(Error::internal(format!(
            "dataset {} references a missing schema",
            dataset.id
        )));
    };
    if !entity.is_object() {
        return Err(Error::user(
            Code::InvalidRecord,
            "#: a record must be a JSON object",
        ));
    }
    let is_event = schema.class == Class::ExperienceEvent;
    // The size guardrails measure the record as it is stored: compact JSON.
    let json = serde_json::to_vec(&entity).map_err(Error::internal)?;
    let (code, what, option, limit) = match is_event {
        true => (
            Code::EventTooLarge,
            "an experience event",
            "max-event-bytes",
            limits.max_event_bytes,
        ),
        false => (
            Code::RecordTooLarge,
            "a profile record",
            "max-record-bytes",
            limits.max_record_bytes,
        ),
    };
    if json.len() > limit {
        return Err(Error::user(
            code,
            format!(
                "#: {what} may be at most {limit} bytes as compact JSON ({option}), this one is {} bytes; it was not stored",
                json.len()
            ),
        ));
    }
    let violations = xdm::validate(&schema.tree, &entity);
    if !violations.is_empty() {
        let listed: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        let report: Vec<Value> = violations
            .iter()
            .map(|v| json!({"pointerToViolation": format!("#{}", v.pointer), "keyword": v.keyword, "message": v.message}))
            .collect();
        return Err(Error::with_report(
            Code::InvalidRecord,
            format!(
                "{} schema violation(s) against \"{}\": {}",
                violations.len(),
                schema.record.title,
                listed.join("; ")
            ),
            json!({"causingExceptions": report}),
        ));
    }

    let mut identities: Vec<IdentityKey> = Vec::new();
    let mut flagged_primary: Option<IdentityKey> = None;
    let mut refused: Vec<(IdentityKey, Refusal)> = Vec::new();
    let mut consider = |namespace_code: &str,
                        value: &str,
                        primary: bool,
                        pointer: String|
     -> Result<()> {
        let Some(namespace) = catalog.namespace(namespace_code) else {
            return Err(invalid_identity(format!(
                "{pointer}: no identity namespace \"{namespace_code}\" exists in this sandbox; create it first"
            )));
        };
        let key = IdentityKey::new(namespace.code.clone(), value);
        if let Err(refusal) = values.check(&namespace.code, value) {
            refused.push((key, refusal));
            return Ok(());
        }
        if !namespace.id_type.links() {
            return Ok(());
        }
        if primary && flagged_primary.is_none() {
            flagged_primary = Some(key.clone());
        }
        if !identities.contains(&key) {
            identities.push(key);
        }
        Ok(())
    };
    if let Some(map) = entity.get("identityMap").and_then(Value::as_object) {
        for (namespace, items) in map {
            for (i, item) in items.as_array().into_iter().flatten().enumerate() {
                let value = item.get("id").and_then(Value::as_str).unwrap_or("");
                let primary = item
                    .get("primary")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                consider(
                    namespace,
                    value,
                    primary,
                    format!("/identityMap/{namespace}/{i}/id"),
                )?;
            }
        }
    }
    for field in &schema.identity_fields {
        let pointer = format!("/{}", field.path.join("/"));
        if let Some(value) = entity.pointer(&pointer).and_then(Value::as_str) {
            consider(&field.namespace, value, field.primary, pointer)?;
        }
    }
    if identities.len() > MAX_IDENTITIES_PER_RECORD {
        return Err(invalid_identity(format!(
            "/identityMap: a record may carry at most {MAX_IDENTITIES_PER_RECORD} identities, found {}",
            identities.len()
        )));
    }
    let by_priority = || {
        identities
            .iter()
            .max_by_key(|k| {
                catalog
                    .namespace(&k.namespace)
                    .map(|n| n.effective_priority())
                    .unwrap_or(0)
            })
            .cloned()
    };
    // Events are stored against the highest-priority identity; records against their primary.
    let primary = if is_event {
        by_priority()
    } else {
        flagged_primary.clone().or_else(by_priority)
    };
    let Some(primary) = primary else {
        let reasons: Vec<String> = refused
            .iter()
            .map(|(k, r)| format!("{} was refused: {}", k, r.describe()))
            .collect();
        let detail = if reasons.is_empty() {
            "it carries no identity".to_owned()
        } else {
            reasons.join("; ")
        };
        return Err(Error::user(
            Code::MissingPrimaryIdentity,
            format!("#: the record has no usable identity to store it against: {detail}"),
        ));
    };
    let source_updated_ms = entity
        .pointer("/extSourceSystemAudit/lastUpdatedDate")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_ms);
    let event = if is_event {
        let id = entity
            .get("_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let timestamp = entity
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339_ms)
            .unwrap_or(received_ms);
        Some((id, timestamp))
    } else {
        None
    };
    let event_type = match is_event {
        true => entity
            .get("eventType")
            .and_then(Value::as_str)
            .map(str::to_owned),
        false => None,
    };
    let array_limit = match is_event {
        true => limits.max_event_array_items,
        false => limits.max_profile_array_items,
    };
    let longest = longest_array(&entity);
    Ok(PreparedWrite {
        sandbox: catalog
            .name
            .clone()
            .unwrap_or_else(SandboxName::default_sandbox),
        dataset_id: dataset.id.clone(),
        link_identities: dataset.identity_enabled(),
        to_profile: dataset.profile_enabled(),
        identities,
        primary,
        refused,
        json,
        received_ms,
        source_updated_ms,
        event,
        event_type,
        source_record,
        oversized_array: (longest > array_limit).then_some(longest),
    })
}
