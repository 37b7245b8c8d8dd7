//! Datasets: bound to a schema; their `unifiedProfile` and `unifiedIdentity` tags decide whether
//! their data reaches the profile and the identity graph, and `rapport:eventTtlDays` how long the
//! profile keeps their experience events (the reference's per-dataset event expiration).

use std::collections::BTreeMap;

use rapport_types::Code;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::schemas::find_schema;
use super::{kind, now_ms, Editor};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dataset {
    pub id: String,
    pub name: String,
    pub description: String,
    pub schema_id: String,
    pub tags: BTreeMap<String, Vec<String>>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// The tag that sets a dataset's experience-event expiration, in whole days.
pub const EVENT_TTL_TAG: &str = "rapport:eventTtlDays";
/// The longest expiration a dataset may set (a hundred years).
const MAX_EVENT_TTL_DAYS: u32 = 36_500;
const DAY_MS: i64 = 86_400_000;

fn tag_enabled(tags: &BTreeMap<String, Vec<String>>, name: &str) -> bool {
    tags.get(name).is_some_and(|values| {
        values
            .iter()
            .any(|v| v.eq_ignore_ascii_case("enabled:true"))
    })
}

impl Dataset {
    /// Its records and events reach the profile store.
    pub fn profile_enabled(&self) -> bool {
        tag_enabled(&self.tags, "unifiedProfile")
    }

    /// Its identities link into the identity graph.
    pub fn identity_enabled(&self) -> bool {
        tag_enabled(&self.tags, "unifiedIdentity")
    }

    /// How many days the profile keeps this dataset's experience events (none: for ever).
    /// Validated when the tag is set, so a stored value always parses.
    pub fn event_ttl_days(&self) -> Option<u32> {
        let values = self.tags.get(EVENT_TTL_TAG)?;
        values.first()?.trim().parse().ok()
    }

    /// Events of this dataset dated before this instant have expired at `now_ms`.
    pub fn event_expiry_cutoff_ms(&self, now_ms: i64) -> Option<i64> {
        self.event_ttl_days()
            .map(|days| now_ms.saturating_sub(i64::from(days) * DAY_MS))
    }

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "schemaRef": {"id": self.schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"},
            "tags": self.tags,
            "created": self.created_ms,
            "updated": self.updated_ms,
            "createdClient": "rapport",
            "createdUser": "rapport",
            "version": "1.0.0",
            "files": format!("@/dataSetFiles?dataSetId={}", self.id),
        })
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::user(Code::InvalidDataset, message)
}

fn parse_tags(value: Option<&Value>) -> Result<BTreeMap<String, Vec<String>>> {
    let Some(value) = value else {
        return Ok(BTreeMap::new());
    };
    let Some(object) = value.as_object() else {
        return Err(invalid(
            "/tags: expected an object such as {\"unifiedProfile\": [\"enabled:true\"]}",
        ));
    };
    let mut tags = BTreeMap::new();
    for (name, values) in object {
        let Some(items) = values.as_array() else {
            return Err(invalid(format!(
                "/tags/{name}: expected an array of strings"
            )));
        };
        let mut strings = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let Some(text) = item.as_str() else {
                return Err(invalid(format!("/tags/{name}/{i}: expected a string")));
            };
            strings.push(text.to_owned());
        }
        tags.insert(name.clone(), strings);
    }
    Ok(tags)
}

pub(crate) fn create(editor: &mut Editor<'_>, body: &Value) -> Result<Dataset> {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned();
    if name.is_empty() {
        return Err(invalid("/name: a dataset needs a non-empty name"));
    }
    if editor.catalog.datasets.values().any(|d| d.name == name) {
        return Err(invalid(format!(
            "/name: a dataset named \"{name}\" already exists in this sandbox"
        )));
    }
    let schema_ref = body
        .pointer("/schemaRef/id")
        .and_then(Value::as_str)
        .unwrap_or("");
    if schema_ref.is_empty() {
        return Err(invalid(
            "/schemaRef/id: a dataset must reference a schema by its $id",
        ));
    }
    let Some(schema) = find_schema(editor.catalog, schema_ref) else {
        return Err(Error::user(
            Code::SchemaNotFound,
            format!("/schemaRef/id: no schema \"{schema_ref}\" exists in this sandbox"),
        ));
    };
    let tags = parse_tags(body.get("tags"))?;
    let now = now_ms();
    let dataset = Dataset {
        id: uuid::Uuid::new_v4().simple().to_string()[..24].to_owned(),
        name,
        description: body
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        schema_id: schema.id.clone(),
        tags,
        created_ms: now,
        updated_ms: now,
    };
    check_profile_ready(editor, &dataset)?;
    check_event_ttl(editor, &dataset)?;
    editor.record(kind::DATASET, &dataset.id, &dataset)?;
    editor
        .catalog
        .datasets
        .insert(dataset.id.clone(), dataset.clone());
    Ok(dataset)
}

/// `rapport:eventTtlDays` holds one whole number of days, 1 to 36500, and only on a dataset of
/// experience events.
fn check_event_ttl(editor: &Editor<'_>, dataset: &Dataset) -> Result<()> {
    let Some(values) = dataset.tags.get(EVENT_TTL_TAG) else {
        return Ok(());
    };
    let [value] = values.as_slice() else {
        return Err(invalid(format!(
            "/tags/{EVENT_TTL_TAG}: expected exactly one value, a whole number of days such as [\"30\"]"
        )));
    };
    match value.trim().parse::<u32>() {
        Ok(days) if (1..=MAX_EVENT_TTL_DAYS).contains(&days) => {}
        _ => {
            return Err(invalid(format!(
                "/tags/{EVENT_TTL_TAG}/0: expected a whole number of days from 1 to {MAX_EVENT_TTL_DAYS}, got \"{value}\""
            )))
        }
    }
    let is_event_dataset = editor
        .catalog
        .schemas
        .get(&dataset.schema_id)
        .is_some_and(|s| s.class() == xdm::Class::ExperienceEvent);
    if !is_event_dataset {
        return Err(invalid(format!(
            "/tags/{EVENT_TTL_TAG}: only a dataset of experience events can expire its events; schema \"{}\" is not of the XDM ExperienceEvent class",
            dataset.schema_id
        )));
    }
    Ok(())
}

/// A profile-enabled dataset needs a union-enabled schema.
fn check_profile_ready(editor: &Editor<'_>, dataset: &Dataset) -> Result<()> {
    if dataset.profile_enabled() {
        let schema = editor.catalog.schemas.get(&dataset.schema_id);
        if !schema.is_some_and(|s| s.union) {
            return Err(invalid(format!(
                "/tags/unifiedProfile: schema \"{}\" is not enabled for Profile; add \"union\" to its meta:immutableTags first",
                dataset.schema_id
            )));
        }
    }
    Ok(())
}

/// Changes name, description or tags (the reference enables Profile by patching tags).
pub(crate) fn patch(editor: &mut Editor<'_>, id: &str, body: &Value) -> Result<Dataset> {
    let Some(mut dataset) = editor.catalog.datasets.get(id).cloned() else {
        return Err(Error::user(
            Code::DatasetNotFound,
            format!("no dataset \"{id}\" exists in this sandbox"),
        ));
    };
    if !body.is_object() {
        return Err(invalid(
            "the body must be an object with any of name, description, tags",
        ));
    }
    if let Some(name) = body.get("name") {
        let name = name.as_str().map(str::trim).unwrap_or("");
        if name.is_empty() {
            return Err(invalid("/name: expected a non-empty string"));
        }
        if editor
            .catalog
            .datasets
            .values()
            .any(|d| d.name == name && d.id != dataset.id)
        {
            return Err(invalid(format!(
                "/name: a dataset named \"{name}\" already exists in this sandbox"
            )));
        }
        dataset.name = name.to_owned();
    }
    if let Some(description) = body.get("description") {
        let Some(description) = description.as_str() else {
            return Err(invalid("/description: expected a string"));
        };
        dataset.description = description.to_owned();
    }
    if body.get("tags").is_some() {
        for (name, values) in parse_tags(body.get("tags"))? {
            dataset.tags.insert(name, values);
        }
    }
    dataset.updated_ms = now_ms();
    check_profile_ready(editor, &dataset)?;
    check_event_ttl(editor, &dataset)?;
    editor.record(kind::DATASET, &dataset.id, &dataset)?;
    editor
        .catalog
        .datasets
        .insert(dataset.id.clone(), dataset.clone());
    Ok(dataset)
}

pub(crate) fn delete(editor: &mut Editor<'_>, id: &str) -> Result<()> {
    let referencing = editor
        .catalog
        .merge_policies
        .values()
        .find(|p| match &p.attribute_merge {
            super::AttributeMerge::DataSetPrecedence { order } => order.iter().any(|d| d == id),
            super::AttributeMerge::TimestampOrdered => false,
        });
    if let Some(policy) = referencing {
        return Err(Error::user(
            Code::DatasetInUse,
            format!("dataset \"{id}\" is listed by merge policy {} (\"{}\"); remove it from that policy's order first", policy.id, policy.name),
        ));
    }
    if editor.catalog.datasets.remove(id).is_none() {
        return Err(Error::user(
            Code::DatasetNotFound,
            format!("no dataset \"{id}\" exists in this sandbox"),
        ));
    }
    editor.forget(kind::DATASET, id);
    Ok(())
}
