//! The entity API (`/data/core/ups/access/entities`): profiles and their experience events,
//! by GET, in batches by POST, and DELETE of a profile.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use engine::{EntityRef, EventQuery, Job, ProfileRequest, PropertyFilter, SandboxCatalog};
use rapport_types::{Code, SandboxName};
use serde_json::{json, Value};
use xdm::Class;

use super::{json, json_bytes};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, QueryPairs, Sandbox};
use crate::state::AppState;

/// Events returned per page when `limit` is not given, as the reference.
const DEFAULT_EVENT_LIMIT: usize = 1000;
/// The most identities one POST may look up.
const MAX_BATCH_IDENTITIES: usize = 1000;
/// The most `property` filters one events lookup may carry.
const MAX_PROPERTY_FILTERS: usize = 3;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route(
        "/data/core/ups/access/entities",
        get(get_entities).post(post_entities).delete(delete_entity),
    )
}

fn schema_class(name: &str, parameter: &str) -> ApiResult<Class> {
    match Class::from_id(name) {
        Some(class) => Ok(class),
        None => Err(ApiError::new(
            Code::InvalidParameter,
            format!("{parameter}: \"{name}\" is not a class; expected _xdm.context.profile or _xdm.context.experienceevent"),
        )),
    }
}

fn split_fields(text: Option<&str>) -> Vec<String> {
    text.map(|t| {
        t.split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

async fn get_entities(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    query: QueryPairs,
) -> ApiResult<Response> {
    let class = schema_class(query.require("schema.name")?, "schema.name")?;
    let catalog = state.engine.sandbox(&sandbox)?;
    match class {
        Class::Profile => get_profile(&state, &sandbox, &catalog, &query),
        Class::ExperienceEvent => get_events(&state, &sandbox, &catalog, &query),
    }
}

fn get_profile(
    state: &AppState,
    sandbox: &SandboxName,
    catalog: &SandboxCatalog,
    query: &QueryPairs,
) -> ApiResult<Response> {
    let entity_id = query.require("entityId")?;
    let entity = state
        .engine
        .entity_ref(catalog, entity_id, query.get("entityIdNS"))?;
    let request = ProfileRequest {
        fields: split_fields(query.get("fields")),
        merge_policy_id: query
            .get("mergePolicyId")
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
    };
    match state.engine.profile(sandbox, &entity, &request)? {
        Some((profile_id, item)) => {
            let id = profile_id.to_string();
            let mut body = Vec::with_capacity(item.len() + id.len() + 6);
            body.extend_from_slice(b"{\"");
            body.extend_from_slice(id.as_bytes());
            body.extend_from_slice(b"\":");
            body.extend_from_slice(&item);
            body.push(b'}');
            Ok(json_bytes(StatusCode::OK, body))
        }
        None => Err(not_found(&entity)),
    }
}

fn not_found(entity: &EntityRef) -> ApiError {
    let what = match entity {
        EntityRef::Identity(identity) => format!(
            "identity {} (namespace {})",
            identity.value, identity.namespace
        ),
        EntityRef::Profile(id) => format!("profile id {id}"),
    };
    ApiError::new(
        Code::ProfileNotFound,
        format!("no profile is linked to {what} in this sandbox"),
    )
}

fn parse_order(text: Option<&str>) -> ApiResult<bool> {
    match text.unwrap_or("+timestamp").trim() {
        "+timestamp" | "timestamp" | " timestamp" | "" => Ok(false),
        "-timestamp" => Ok(true),
        other => Err(ApiError::new(
            Code::InvalidParameter,
            format!("orderby: \"{other}\" is not +timestamp or -timestamp"),
        )),
    }
}

fn parse_limit(limit: Option<usize>) -> ApiResult<usize> {
    match limit {
        None => Ok(DEFAULT_EVENT_LIMIT),
        Some(n) if (1..=DEFAULT_EVENT_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::new(
            Code::InvalidParameter,
            format!("limit: {n} is outside 1..={DEFAULT_EVENT_LIMIT}"),
        )),
    }
}

fn parse_cursor(text: &str) -> ApiResult<[u8; 16]> {
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidCursor,
                format!("start: \"{text}\" is not a cursor this server issued"),
            )
        })
}

fn encode_cursor(tail: [u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(tail)
}

fn parse_filters<'a>(filters: impl Iterator<Item = &'a str>) -> ApiResult<Vec<PropertyFilter>> {
    let mut parsed = Vec::new();
    for text in filters {
        let filter = PropertyFilter::parse(text).ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameter,
                format!("property: \"{text}\" is not path<op>value with op one of = != < <= > >="),
            )
        })?;
        parsed.push(filter);
    }
    if parsed.len() > MAX_PROPERTY_FILTERS {
        return Err(ApiError::new(
            Code::TooManyItems,
            format!(
                "property: at most {MAX_PROPERTY_FILTERS} filters, found {}",
                parsed.len()
            ),
        ));
    }
    Ok(parsed)
}

fn get_events(
    state: &AppState,
    sandbox: &SandboxName,
    catalog: &SandboxCatalog,
    query: &QueryPairs,
) -> ApiResult<Response> {
    if let Some(related) = query.get("relatedSchema.name") {
        if schema_class(related, "relatedSchema.name")? != Class::Profile {
            return Err(ApiError::new(
                Code::InvalidParameter,
                "relatedSchema.name: events belong to _xdm.context.profile",
            ));
        }
    }
    let entity_id = query.require("relatedEntityId")?;
    let entity = state
        .engine
        .entity_ref(catalog, entity_id, query.get("relatedEntityIdNS"))?;
    let cursor = query
        .get("start")
        .or(query.get("offsets"))
        .filter(|c| !c.is_empty());
    let descending = parse_order(query.get("orderby").or(query.get("orderBy")))?;
    let events_query = EventQuery {
        start_ms: query.parse("startTime", "an epoch time in milliseconds")?,
        end_ms: query.parse("endTime", "an epoch time in milliseconds")?,
        descending,
        limit: parse_limit(query.parse("limit", "a positive integer")?)?,
        filters: parse_filters(query.all("property"))?,
        after: cursor.map(parse_cursor).transpose()?,
        fields: split_fields(query.get("fields")),
        merge_policy_id: query
            .get("mergePolicyId")
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
    };
    let Some(page) = state.engine.events(sandbox, &entity, &events_query)? else {
        return Err(not_found(&entity));
    };
    let next = page.next.map(encode_cursor).unwrap_or_default();
    let href = if next.is_empty() {
        String::new()
    } else {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        serializer.append_pair("start", &next);
        for (key, value) in query
            .0
            .iter()
            .filter(|(k, _)| k != "start" && k != "offsets")
        {
            serializer.append_pair(key, value);
        }
        format!("/entities?{}", serializer.finish())
    };
    let body = json!({
        "_page": {
            "orderby": if descending { "-timestamp" } else { "timestamp" },
            "start": page.children.first().and_then(|c| c.get("entityId")).cloned().unwrap_or(json!("")),
            "count": page.children.len(),
            "next": next,
        },
        "children": page.children,
        "_links": {"next": {"href": href}},
    });
    Ok(json(StatusCode::OK, &body))
}

/// An identity in a POST body: `{entityId, entityIdNS: {code}}` or an XID / profile id alone.
fn body_entity(
    state: &AppState,
    catalog: &SandboxCatalog,
    item: &Value,
    index: usize,
    id_key: &str,
    ns_key: &str,
) -> ApiResult<EntityRef> {
    let Some(entity_id) = item.get(id_key).and_then(Value::as_str) else {
        return Err(ApiError::new(
            Code::InvalidParameter,
            format!("/identities/{index}/{id_key}: expected a string"),
        ));
    };
    let namespace = match item.get(ns_key) {
        Some(Value::Object(object)) => object.get("code").and_then(Value::as_str),
        Some(Value::String(code)) => Some(code.as_str()),
        _ => None,
    };
    state
        .engine
        .entity_ref(catalog, entity_id, namespace)
        .map_err(|e| {
            let mut error = ApiError::from(e);
            error.message = format!("/identities/{index}: {}", error.message);
            error
        })
}

async fn post_entities(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let schema_name = body
        .pointer("/schema/name")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::new(
                Code::MissingParameter,
                "/schema/name: required, such as \"_xdm.context.profile\"",
            )
        })?;
    let class = schema_class(schema_name, "/schema/name")?;
    let Some(identities) = body.get("identities").and_then(Value::as_array) else {
        return Err(ApiError::new(
            Code::MissingParameter,
            "/identities: required, an array of identities to look up",
        ));
    };
    if identities.len() > MAX_BATCH_IDENTITIES {
        return Err(ApiError::new(
            Code::TooManyItems,
            format!(
                "/identities: at most {MAX_BATCH_IDENTITIES} identities per request, found {}",
                identities.len()
            ),
        ));
    }
    let fields: Vec<String> = match body.get("fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(_) => {
            return Err(ApiError::new(
                Code::InvalidParameter,
                "/fields: expected an array of XDM paths",
            ))
        }
    };
    let merge_policy_id = body
        .get("mergePolicyId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let catalog = state.engine.sandbox(&sandbox)?;
    match class {
        Class::Profile => {
            let mut requested = Vec::with_capacity(identities.len());
            for (index, item) in identities.iter().enumerate() {
                let label = item
                    .get("entityId")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                requested.push((
                    label,
                    body_entity(&state, &catalog, item, index, "entityId", "entityIdNS")?,
                ));
            }
            let request = ProfileRequest {
                fields,
                merge_policy_id,
            };
            let engine = state.engine.clone();
            let found = super::blocking(move || {
                let entities: Vec<EntityRef> = requested.iter().map(|(_, e)| e.clone()).collect();
                let results = engine.profiles(&sandbox, &entities, &request)?;
                Ok(requested.into_iter().zip(results).collect::<Vec<_>>())
            })
            .await?;
            let mut out = serde_json::Map::new();
            for ((label, _), result) in found {
                match result {
                    Some((profile_id, item)) => {
                        let value: Value = serde_json::from_slice(&item)
                            .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
                        out.insert(profile_id.to_string(), value);
                    }
                    None => {
                        out.entry(label.clone()).or_insert_with(|| {
                            json!({"entityId": label, "sources": [""], "entity": {}, "lastModifiedAt": "1970-01-01T00:00:00Z"})
                        });
                    }
                }
            }
            Ok(json(StatusCode::OK, &Value::Object(out)))
        }
        Class::ExperienceEvent => {
            let descending = parse_order(body.get("orderby").and_then(Value::as_str))?;
            let limit = parse_limit(
                body.get("limit")
                    .and_then(Value::as_u64)
                    .map(|n| n as usize),
            )?;
            let start_ms = body
                .pointer("/timeFilter/startTime")
                .and_then(Value::as_i64);
            let end_ms = body.pointer("/timeFilter/endTime").and_then(Value::as_i64);
            let mut out = serde_json::Map::new();
            for (index, item) in identities.iter().enumerate() {
                let label = item
                    .get("relatedEntityId")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let entity = body_entity(
                    &state,
                    &catalog,
                    item,
                    index,
                    "relatedEntityId",
                    "relatedEntityIdNS",
                )?;
                let after = item
                    .get("start")
                    .and_then(Value::as_str)
                    .map(parse_cursor)
                    .transpose()?;
                let query = EventQuery {
                    start_ms,
                    end_ms,
                    descending,
                    limit,
                    filters: Vec::new(),
                    after,
                    fields: fields.clone(),
                    merge_policy_id: merge_policy_id.clone(),
                };
                let page = state.engine.events(&sandbox, &entity, &query)?;
                let (children, next) = match page {
                    Some(page) => (page.children, page.next.map(encode_cursor)),
                    None => (Vec::new(), None),
                };
                let links = match &next {
                    Some(cursor) => {
                        let mut payload = body.clone();
                        let mut identity = item.clone();
                        identity["start"] = json!(cursor);
                        payload["identities"] = json!([identity]);
                        json!({"next": {"href": "/entities", "payload": payload}})
                    }
                    None => json!({"next": {"href": ""}}),
                };
                out.insert(label, json!({
                    "_page": {"orderby": if descending { "-timestamp" } else { "timestamp" }, "count": children.len(), "next": next.clone().unwrap_or_default()},
                    "children": children,
                    "_links": links,
                }));
            }
            Ok(json(StatusCode::OK, &Value::Object(out)))
        }
    }
}

async fn delete_entity(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    query: QueryPairs,
) -> ApiResult<Response> {
    if schema_class(query.require("schema.name")?, "schema.name")? != Class::Profile {
        return Err(ApiError::new(
            Code::InvalidParameter,
            "schema.name: only _xdm.context.profile entities can be deleted",
        ));
    }
    let catalog = state.engine.sandbox(&sandbox)?;
    let entity = state.engine.entity_ref(
        &catalog,
        query.require("entityId")?,
        query.get("entityIdNS"),
    )?;
    let Some((profile_id, _)) = state.engine.graph(&sandbox, &entity)? else {
        return Err(not_found(&entity));
    };
    let (sender, receiver) = tokio::sync::oneshot::channel();
    state.engine.submit(Job::DeleteProfile {
        sandbox,
        profile_id,
        reply: Box::new(move |result| {
            let _ = sender.send(result);
        }),
    })?;
    let deleted = receiver
        .await
        .map_err(|_| ApiError::new(Code::Unavailable, "the writer stopped before answering"))??;
    if !deleted {
        return Err(not_found(&entity));
    }
    Ok(json_bytes(StatusCode::ACCEPTED, Vec::new()))
}
