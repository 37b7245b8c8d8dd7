//! Segment definitions: the stored object, its JSON in the reference's shape, and create /
//! patch / delete with every expression compiled against the sandbox's union schemas on save.

use std::collections::{BTreeMap, BTreeSet};

use rapport_types::Code;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::catalog::{kind, now_ms, Editor, SandboxCatalog};
use crate::error::{Error, Result};

/// The only class a segment definition may target.
pub const PROFILE_SCHEMA_NAME: &str = "_xdm.context.profile";
/// The longest expression accepted, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 64 * 1024;
/// The most definitions `max-segment-definitions` may allow per sandbox (the reference's 4000
/// audiences per sandbox); the guardrail itself defaults to 500 (`guardrails::Limits`).
pub const MAX_DEFINITIONS: usize = 4000;

/// Which evaluation methods a definition asks for. Rapport evaluates every definition in
/// real time whatever these say; they are kept and returned for compatibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationInfo {
    pub batch: bool,
    pub continuous: bool,
    pub synchronous: bool,
}

/// A stored segment definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentDefinition {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The expression as PQL text (pql/json input is stored as its canonical text).
    pub expression: String,
    pub merge_policy_id: Option<String>,
    pub evaluation: EvaluationInfo,
    /// `dataGovernancePolicy.excludeOptOut`: profiles that opted out of marketing never qualify.
    pub exclude_opt_out: bool,
    pub ttl_in_days: Option<u32>,
    pub creation_ms: i64,
    pub update_ms: i64,
}

impl SegmentDefinition {
    /// The reference's definition object.
    pub fn to_json(&self, sandbox: &str) -> Value {
        let mut object = json!({
            "id": self.id,
            "schema": {"name": PROFILE_SCHEMA_NAME},
            "profileInstanceId": "ups",
            "imsOrgId": "rapport@AdobeOrg",
            "sandbox": {"sandboxId": sandbox, "sandboxName": sandbox, "type": if sandbox == "prod" { "production" } else { "development" }, "default": sandbox == "prod"},
            "name": self.name,
            "expression": {"type": "PQL", "format": "pql/text", "value": self.expression},
            "evaluationInfo": {
                "batch": {"enabled": self.evaluation.batch},
                "continuous": {"enabled": self.evaluation.continuous},
                "synchronous": {"enabled": self.evaluation.synchronous},
            },
            "dataGovernancePolicy": {"excludeOptOut": self.exclude_opt_out},
            "creationTime": self.creation_ms,
            "updateEpoch": self.update_ms / 1000,
            "updateTime": self.update_ms,
        });
        if let Some(description) = &self.description {
            object["description"] = json!(description);
        }
        if let Some(policy) = &self.merge_policy_id {
            object["mergePolicyId"] = json!(policy);
        }
        if let Some(ttl) = self.ttl_in_days {
            object["ttlInDays"] = json!(ttl);
        }
        object
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::user(Code::InvalidSegment, message)
}

fn not_found(id: &str) -> Error {
    Error::user(
        Code::SegmentNotFound,
        format!("no segment definition \"{id}\" exists in this sandbox"),
    )
}

/// Reads `expression` (`{"type": "PQL", "format": "pql/text"|"pql/json", "value": ...}`) into
/// PQL text; the compile step checks what it says.
fn expression_text(value: &Value) -> Result<String> {
    let Some(object) = value.as_object() else {
        return Err(invalid(
            "/expression: expected an object {\"type\": \"PQL\", \"format\": \"pql/text\", \"value\": \"...\"}",
        ));
    };
    match object.get("type") {
        None => {}
        Some(Value::String(t)) if t == "PQL" => {}
        Some(other) => {
            return Err(invalid(format!(
                "/expression/type: expected \"PQL\", found {other}"
            )))
        }
    }
    let format = match object.get("format") {
        None => "pql/text",
        Some(Value::String(f)) => f.as_str(),
        Some(other) => {
            return Err(invalid(format!(
                "/expression/format: expected \"pql/text\" or \"pql/json\", found {other}"
            )))
        }
    };
    let text = match (format, object.get("value")) {
        (_, None) => return Err(invalid("/expression/value: required")),
        ("pql/text", Some(Value::String(text))) => text.clone(),
        ("pql/text", Some(other)) => {
            return Err(invalid(format!(
                "/expression/value: expected PQL text as a string, found {other}"
            )))
        }
        ("pql/json", Some(value)) => {
            // The reference sends the AST as a JSON string; an object is accepted too.
            let parsed: Value = match value {
                Value::String(text) => serde_json::from_str(text)
                    .map_err(|e| invalid(format!("/expression/value: not pql/json: {e}")))?,
                other => other.clone(),
            };
            let expr = pql::from_pql_json(&parsed)
                .map_err(|e| Error::user(Code::InvalidPql, format!("/expression/value: {e}")))?;
            expr.to_string()
        }
        (other, _) => {
            return Err(invalid(format!(
                "/expression/format: expected \"pql/text\" or \"pql/json\", found \"{other}\""
            )))
        }
    };
    if text.len() > MAX_EXPRESSION_BYTES {
        return Err(invalid(format!(
            "/expression/value: {} bytes, more than the {MAX_EXPRESSION_BYTES} allowed",
            text.len()
        )));
    }
    Ok(text)
}

fn string_field(value: &Value, pointer: &str) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(invalid(format!(
            "{pointer}: expected a string, found {other}"
        ))),
    }
}

fn enabled(value: &Value, pointer: &str) -> Result<bool> {
    match value.get("enabled") {
        Some(Value::Bool(b)) => Ok(*b),
        None => Ok(false),
        Some(other) => Err(invalid(format!(
            "{pointer}/enabled: expected true or false, found {other}"
        ))),
    }
}

/// Applies one top-level field of a create or patch body.
fn apply_field(
    editor: &Editor<'_>,
    definition: &mut SegmentDefinition,
    field: &str,
    value: &Value,
) -> Result<()> {
    match field {
        "name" => {
            let name = string_field(value, "/name")?;
            if name.trim().is_empty() {
                return Err(invalid("/name: must not be empty"));
            }
            if name.len() > 256 {
                return Err(invalid("/name: at most 256 characters"));
            }
            definition.name = name;
        }
        "description" => {
            definition.description = match value {
                Value::Null => None,
                other => Some(string_field(other, "/description")?),
            }
        }
        "schema" => {
            let name = value
                .get("name")
                .and_then(Value::as_str)
                .or_else(|| value.get("id").and_then(Value::as_str));
            match name {
                Some(PROFILE_SCHEMA_NAME) | Some("https://ns.adobe.com/xdm/context/profile") => {}
                Some(other) => {
                    return Err(invalid(format!(
                        "/schema/name: segments are defined on \"{PROFILE_SCHEMA_NAME}\"; \"{other}\" is not supported"
                    )))
                }
                None => return Err(invalid("/schema: expected {\"name\": \"_xdm.context.profile\"}")),
            }
        }
        "expression" => definition.expression = expression_text(value)?,
        "mergePolicyId" => {
            definition.merge_policy_id = match value {
                Value::Null => None,
                other => {
                    let id = string_field(other, "/mergePolicyId")?;
                    if editor.catalog.merge_policy(&id).is_none() {
                        return Err(Error::user(
                            Code::MergePolicyNotFound,
                            format!(
                                "/mergePolicyId: no merge policy \"{id}\" exists in this sandbox"
                            ),
                        ));
                    }
                    Some(id)
                }
            }
        }
        "evaluationInfo" => {
            let Some(object) = value.as_object() else {
                return Err(invalid("/evaluationInfo: expected an object"));
            };
            for (method, setting) in object {
                let pointer = format!("/evaluationInfo/{method}");
                match method.as_str() {
                    "batch" => definition.evaluation.batch = enabled(setting, &pointer)?,
                    "continuous" => definition.evaluation.continuous = enabled(setting, &pointer)?,
                    "synchronous" => {
                        definition.evaluation.synchronous = enabled(setting, &pointer)?
                    }
                    other => {
                        return Err(invalid(format!(
                            "/evaluationInfo/{other}: unknown method; expected batch, continuous or synchronous"
                        )))
                    }
                }
            }
        }
        "dataGovernancePolicy" => match value.get("excludeOptOut") {
            Some(Value::Bool(b)) => definition.exclude_opt_out = *b,
            None => {}
            Some(other) => {
                return Err(invalid(format!(
                    "/dataGovernancePolicy/excludeOptOut: expected true or false, found {other}"
                )))
            }
        },
        "ttlInDays" => {
            definition.ttl_in_days = match value {
                Value::Null => None,
                Value::Number(n) => match n.as_u64() {
                    Some(days @ 1..=3650) => Some(days as u32),
                    _ => {
                        return Err(invalid(
                            "/ttlInDays: expected a whole number of days from 1 to 3650",
                        ))
                    }
                },
                other => {
                    return Err(invalid(format!(
                        "/ttlInDays: expected a number, found {other}"
                    )))
                }
            }
        }
        // Read-only or informational fields the reference returns; accepted and ignored so a
        // definition read from one sandbox can be posted to another.
        "id" | "profileInstanceId" | "imsOrgId" | "sandbox" | "creationTime" | "updateTime"
        | "updateEpoch" | "baselineTime" | "payloadSchema" | "type" | "lifecycleState" => {}
        other => {
            return Err(invalid(format!(
                "/{other}: unknown field of a segment definition"
            )))
        }
    }
    Ok(())
}

/// Compiles `definition` against the sandbox's union schemas and the other definitions, and
/// refuses an `inSegment` cycle.
fn check(editor: &Editor<'_>, definition: &SegmentDefinition) -> Result<()> {
    let catalog: &SandboxCatalog = editor.catalog;
    let profile = crate::catalog::schemas::union_tree(catalog, xdm::Class::Profile)?;
    let event = crate::catalog::schemas::union_tree(catalog, xdm::Class::ExperienceEvent)?;
    let exists = |id: &str| id == definition.id || catalog.segments.contains_key(id);
    let context = segments::SchemaContext {
        profile: &profile,
        event: &event,
        segment_exists: &exists,
    };
    let compiled = segments::compile(&definition.expression, &context)
        .map_err(|e| Error::user(Code::InvalidPql, format!("/expression/value: {e}")))?;
    // Cycles: follow inSegment from this definition through the stored ones.
    let mut uses: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for other in catalog.segments.values() {
        uses.insert(
            other.id.as_str(),
            super::index::segments_used(&other.expression),
        );
    }
    uses.insert(
        definition.id.as_str(),
        compiled.dependencies().segments.clone(),
    );
    let mut stack: Vec<(String, Vec<String>)> =
        vec![(definition.id.clone(), vec![definition.id.clone()])];
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while let Some((id, path)) = stack.pop() {
        for next in uses.get(id.as_str()).into_iter().flatten() {
            if *next == definition.id {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Err(Error::user(
                    Code::InvalidPql,
                    format!(
                        "/expression/value: inSegment makes a cycle: {}",
                        cycle.join(" → ")
                    ),
                ));
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    Ok(())
}

/// Creates a definition; a sandbox already holding `max_definitions` (the guardrail
/// `max-segment-definitions`) refuses it.
pub(crate) fn create(
    editor: &mut Editor<'_>,
    body: &Value,
    max_definitions: usize,
) -> Result<SegmentDefinition> {
    let Some(object) = body.as_object() else {
        return Err(invalid("the body must be a segment definition object"));
    };
    if editor.catalog.segments.len() >= max_definitions {
        return Err(Error::user(
            Code::SegmentDefinitionLimit,
            format!(
                "a sandbox may hold at most {max_definitions} segment definitions (max-segment-definitions: every definition is evaluated in streaming, and the reference allows 500 streaming audiences per sandbox) and this one holds {}; delete one before creating another",
                editor.catalog.segments.len()
            ),
        ));
    }
    for required in ["name", "expression"] {
        if !object.contains_key(required) {
            return Err(invalid(format!(
                "/{required}: required when creating a segment definition"
            )));
        }
    }
    let now = now_ms();
    let mut definition = SegmentDefinition {
        id: uuid::Uuid::new_v4().to_string(),
        name: String::new(),
        description: None,
        expression: String::new(),
        merge_policy_id: None,
        evaluation: EvaluationInfo {
            batch: true,
            continuous: false,
            synchronous: false,
        },
        exclude_opt_out: true,
        ttl_in_days: None,
        creation_ms: now,
        update_ms: now,
    };
    for (field, value) in object {
        apply_field(editor, &mut definition, field, value)?;
    }
    save(editor, definition)
}

fn save(editor: &mut Editor<'_>, definition: SegmentDefinition) -> Result<SegmentDefinition> {
    if let Some(other) = editor
        .catalog
        .segments
        .values()
        .find(|d| d.id != definition.id && d.name == definition.name)
    {
        return Err(Error::user(
            Code::SegmentNameTaken,
            format!(
                "/name: a segment definition named \"{}\" already exists ({})",
                definition.name, other.id
            ),
        ));
    }
    check(editor, &definition)?;
    editor.record(kind::SEGMENT, &definition.id, &definition)?;
    editor
        .catalog
        .segments
        .insert(definition.id.clone(), definition.clone());
    Ok(definition)
}

/// The definition with this id.
pub fn existing(catalog: &SandboxCatalog, id: &str) -> Result<SegmentDefinition> {
    catalog
        .segments
        .get(id)
        .cloned()
        .ok_or_else(|| not_found(id))
}

/// PATCH: the fields given replace the stored ones (the reference's partial update).
pub(crate) fn patch(editor: &mut Editor<'_>, id: &str, body: &Value) -> Result<SegmentDefinition> {
    let before = existing(editor.catalog, id)?;
    let Some(object) = body.as_object() else {
        return Err(invalid(
            "the body must be a (partial) segment definition object",
        ));
    };
    let mut definition = before.clone();
    for (field, value) in object {
        apply_field(editor, &mut definition, field, value)?;
    }
    if definition == before {
        return Ok(definition);
    }
    definition.update_ms = now_ms().max(before.update_ms + 1);
    save(editor, definition)
}

pub(crate) fn delete(editor: &mut Editor<'_>, id: &str) -> Result<()> {
    existing(editor.catalog, id)?;
    let users: Vec<&str> = editor
        .catalog
        .segments
        .values()
        .filter(|d| d.id != id && super::index::segments_used(&d.expression).contains(id))
        .map(|d| d.name.as_str())
        .collect();
    if !users.is_empty() {
        return Err(Error::user(
            Code::SegmentInUse,
            format!(
                "segment definition \"{id}\" is used by inSegment in: {}; change those first",
                users.join(", ")
            ),
        ));
    }
    editor.catalog.segments.remove(id);
    editor.forget(kind::SEGMENT, id);
    Ok(())
}

/// The sort orders the list accepts: `field:asc|desc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    CreationTime,
    UpdateTime,
    Name,
}

/// One page of the definitions list.
pub struct DefinitionPage {
    pub items: Vec<SegmentDefinition>,
    pub total: usize,
}

/// The definitions sorted and paged; `filter` keeps those it accepts.
pub fn list(
    catalog: &SandboxCatalog,
    sort: SortField,
    descending: bool,
    start: usize,
    limit: usize,
    filter: &dyn Fn(&SegmentDefinition) -> bool,
) -> DefinitionPage {
    let mut items: Vec<&SegmentDefinition> =
        catalog.segments.values().filter(|d| filter(d)).collect();
    items.sort_by(|a, b| {
        let order = match sort {
            SortField::CreationTime => a.creation_ms.cmp(&b.creation_ms),
            SortField::UpdateTime => a.update_ms.cmp(&b.update_ms),
            SortField::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        }
        .then_with(|| a.id.cmp(&b.id));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    let total = items.len();
    DefinitionPage {
        items: items.into_iter().skip(start).take(limit).cloned().collect(),
        total,
    }
}

/// Reads a `pql/text` or `pql/json` body of `POST /segment/conversion` and answers in the other
/// (or the requested) format, in the reference's shape.
pub fn convert(body: &Value) -> Result<Value> {
    let Some(object) = body.as_object() else {
        return Err(invalid(
            "the body must be an object with \"text\" or \"pql/json\"",
        ));
    };
    let source_format = object
        .get("sourceType")
        .or_else(|| object.get("format"))
        .and_then(Value::as_str)
        .unwrap_or("pql/text");
    let target_format = object.get("targetType").and_then(Value::as_str).unwrap_or(
        if source_format == "pql/json" {
            "pql/text"
        } else {
            "pql/json"
        },
    );
    let value = object
        .get("value")
        .or_else(|| object.get("expression").and_then(|e| e.get("value")))
        .ok_or_else(|| invalid("/value: required: the expression to convert"))?;
    let expr = match source_format {
        "pql/text" => {
            let text = value
                .as_str()
                .ok_or_else(|| invalid("/value: expected PQL text as a string"))?;
            pql::parse(text).map_err(|e| Error::user(Code::InvalidPql, format!("/value: {e}")))?
        }
        "pql/json" => {
            let parsed: Value = match value {
                Value::String(text) => serde_json::from_str(text)
                    .map_err(|e| invalid(format!("/value: not pql/json: {e}")))?,
                other => other.clone(),
            };
            pql::from_pql_json(&parsed)
                .map_err(|e| Error::user(Code::InvalidPql, format!("/value: {e}")))?
        }
        other => {
            return Err(invalid(format!(
                "/sourceType: expected \"pql/text\" or \"pql/json\", found \"{other}\""
            )))
        }
    };
    let converted = match target_format {
        "pql/text" => Value::String(expr.to_string()),
        "pql/json" => Value::String(pql::to_pql_json(&expr).to_string()),
        other => {
            return Err(invalid(format!(
                "/targetType: expected \"pql/text\" or \"pql/json\", found \"{other}\""
            )))
        }
    };
    let mut answer = Map::new();
    answer.insert("type".into(), json!("PQL"));
    answer.insert("format".into(), json!(target_format));
    answer.insert("value".into(), converted);
    Ok(Value::Object(answer))
}
