//! The entity API (`/data/core/ups/access/entities`): profiles and their experience events,
//! by GET, in batches by POST, and DELETE of a profile.

use super::table::Route;
use crate::http::audit::AuditSlip;
use crate::http::auth::{Authorized, EventsRead, Permit, ProfilesDelete, ProfilesRead};
use axum::http::Method;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use engine::{
    EntityRef, EventQuery, Job, ProfileRequest, PropertyFilter, Redaction, SandboxCatalog,
};
use rapport_types::{Code, SandboxName};
use serde_json::{json, Value};
use xdm::Class;

use super::json_bytes;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{shown, JsonBody, QueryPairs};
use crate::state::AppState;

/// Events returned per page when `limit` is not given, as the reference.
const DEFAULT_EVENT_LIMIT: usize = 1000;
/// The most identities one POST may look up.
const MAX_BATCH_IDENTITIES: usize = 1000;
/// The most `property` filters one events lookup may carry.
const MAX_PROPERTY_FILTERS: usize = 3;
/// The most events one POST events lookup may ask for: identities × limit.
const MAX_BATCH_EVENTS: usize = 100_000;

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, "/data/core/ups/access/entities", get_entities)
            .audited("profile.lookup"),
        Route::keyed(
            Method::POST,
            "/data/core/ups/access/entities",
            post_entities,
        )
        .audited("profile.lookup"),
        Route::keyed(
            Method::DELETE,
            "/data/core/ups/access/entities",
            delete_entity,
        )
        .audited_change("profile.delete"),
    ]
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
    Authorized {
        sandbox, caller, ..
    }: Authorized<ProfilesRead>,
    events_read: Permit<EventsRead>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    query: QueryPairs,
) -> ApiResult<Response> {
    let class = schema_class(query.require("schema.name")?, "schema.name")?;
    if class == Class::ExperienceEvent {
        slip.action(EVENTS_LOOKUP);
        events_read.require()?;
    }
    let catalog = state.engine.sandbox(&sandbox)?;
    let redaction = caller.redaction(&catalog);
    match class {
        Class::Profile => get_profile(&state, &sandbox, &catalog, &query, &slip, &redaction),
        Class::ExperienceEvent => get_events(&state, &sandbox, &catalog, &query, &slip, &redaction),
    }
}

/// The audit action of an events lookup through the entity API.
const EVENTS_LOOKUP: audit::AuditAction = audit::AuditAction::from_static("events.lookup");

/// Refuses to read, filter or order by a field the caller may not see (asking would tell what
/// it holds): `403 field_access_denied`, naming the parameter, the field and its labels.
fn check_readable(
    paths: impl IntoIterator<Item = impl AsRef<str>>,
    parameter: &str,
    denied: impl Fn(&str) -> Option<String>,
) -> ApiResult<()> {
    for path in paths {
        if let Some(why) = denied(path.as_ref()) {
            return Err(ApiError::new(
                Code::FieldAccessDenied,
                format!(
                    "{parameter}: {}: {why}, which this caller's role is not granted",
                    path.as_ref()
                ),
            ));
        }
    }
    Ok(())
}

/// Tells the audit entry which identity (or profile id) a lookup was made by.
fn note_entity(slip: &AuditSlip, entity: &EntityRef) {
    match entity {
        EntityRef::Identity(identity) => slip.identity(&identity.namespace, &identity.value),
        EntityRef::Profile(id) => slip.profile(id.0),
    }
}

fn get_profile(
    state: &AppState,
    sandbox: &SandboxName,
    catalog: &SandboxCatalog,
    query: &QueryPairs,
    slip: &AuditSlip,
    redaction: &Redaction,
) -> ApiResult<Response> {
    let entity_id = query.require("entityId")?;
    let entity = state
        .engine
        .entity_ref(catalog, entity_id, query.get("entityIdNS"))?;
    note_entity(slip, &entity);
    let request = ProfileRequest {
        fields: split_fields(query.get("fields")),
        merge_policy_id: query
            .get("mergePolicyId")
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        with_computed: query.parse("withCA", "true or false")?.unwrap_or(false),
    };
    slip.fields(&request.fields);
    check_readable(&request.fields, "fields", |p| {
        redaction.profile_path_denied(p)
    })?;
    match state
        .engine
        .profile(sandbox, &entity, &request, redaction)?
    {
        Some((profile_id, item)) => {
            slip.profile(profile_id.0);
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

/// `orderby` (named `name` in messages): ascending unless `-timestamp`.
fn parse_order(text: Option<&str>, name: &str) -> ApiResult<bool> {
    match text.unwrap_or("+timestamp").trim() {
        // A `+` in a query string decodes to a space, which the trim removes.
        "+timestamp" | "timestamp" | "" => Ok(false),
        "-timestamp" => Ok(true),
        other => Err(ApiError::new(
            Code::InvalidParameter,
            format!("{name}: \"{other}\" is not +timestamp or -timestamp"),
        )),
    }
}

/// `limit` (named `name` in messages): 1 to 1000, 1000 when not given.
fn parse_limit(limit: Option<u64>, name: &str) -> ApiResult<usize> {
    match limit {
        None => Ok(DEFAULT_EVENT_LIMIT),
        Some(n) if (1..=DEFAULT_EVENT_LIMIT as u64).contains(&n) => Ok(n as usize),
        Some(n) => Err(ApiError::new(
            Code::InvalidParameter,
            format!("{name}: {n} is outside 1..={DEFAULT_EVENT_LIMIT}"),
        )),
    }
}

/// A time window must not end before it starts (`startTime` inclusive, `endTime` exclusive).
fn check_window(
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    start_name: &str,
    end_name: &str,
) -> ApiResult<()> {
    match (start_ms, end_ms) {
        (Some(start), Some(end)) if start > end => Err(ApiError::new(
            Code::InvalidParameter,
            format!("{start_name} {start} is after {end_name} {end}: the window starts at {start_name} (inclusive) and ends before {end_name} (exclusive)"),
        )),
        _ => Ok(()),
    }
}

/// A cursor from `_page.next` given as parameter `name`.
fn parse_cursor(text: &str, name: &str) -> ApiResult<[u8; 16]> {
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidCursor,
                format!("{name}: \"{text}\" is not a cursor this server issued"),
            )
        })
}

/// The page cursor of a GET: `start`, or `offsets` as aepp sends it; empty means the first page.
fn query_cursor(query: &QueryPairs) -> ApiResult<Option<[u8; 16]>> {
    let start = query.get("start").filter(|c| !c.is_empty());
    let offsets = query.get("offsets").filter(|c| !c.is_empty());
    match (start, offsets) {
        (Some(start), Some(offsets)) if start != offsets => Err(ApiError::new(
            Code::InvalidCursor,
            format!("start and offsets name different cursors (\"{start}\" and \"{offsets}\"); give one of them"),
        )),
        (Some(start), _) => parse_cursor(start, "start").map(Some),
        (None, Some(offsets)) => parse_cursor(offsets, "offsets").map(Some),
        (None, None) => Ok(None),
    }
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
    slip: &AuditSlip,
    redaction: &Redaction,
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
    note_entity(slip, &entity);
    let descending = parse_order(query.get("orderby").or(query.get("orderBy")), "orderby")?;
    let start_ms = query.parse("startTime", "an epoch time in milliseconds")?;
    let end_ms = query.parse("endTime", "an epoch time in milliseconds")?;
    check_window(start_ms, end_ms, "startTime", "endTime")?;
    let events_query = EventQuery {
        start_ms,
        end_ms,
        descending,
        limit: parse_limit(query.parse("limit", "an integer from 1 to 1000")?, "limit")?,
        filters: parse_filters(query.all("property"))?,
        after: query_cursor(query)?,
        fields: split_fields(query.get("fields")),
        merge_policy_id: query
            .get("mergePolicyId")
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        projection: None,
    };
    slip.fields(&events_query.fields);
    check_readable(&events_query.fields, "fields", |p| {
        redaction.event_path_denied(p)
    })?;
    check_readable(
        events_query.filters.iter().map(|f| f.path.as_str()),
        "property",
        |p| redaction.event_path_denied(p),
    )?;
    let Some(page) = state
        .engine
        .events(sandbox, &entity, &events_query, redaction)?
    else {
        return Err(not_found(&entity));
    };
    slip.profile(page.profile_id.0);
    let next = page.next.map(encode_cursor).unwrap_or_default();
    let href = if next.is_empty() {
        String::new()
    } else {
        // The reference's `start`, and `offsets` (last, so it ends the href) for aepp, which
        // reads that parameter out of the href.
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        serializer.append_pair("start", &next);
        for (key, value) in query
            .0
            .iter()
            .filter(|(k, _)| k != "start" && k != "offsets")
        {
            serializer.append_pair(key, value);
        }
        serializer.append_pair("offsets", &next);
        format!("/entities?{}", serializer.finish())
    };
    let body = EventsBody {
        links: json!({"next": {"href": href}}),
        page: json!({
            "orderby": if descending { "-timestamp" } else { "timestamp" },
            "start": page.first_event_id.unwrap_or_default(),
            "count": page.children.len(),
            "next": next,
        }),
        children: page.children,
    };
    encoded(&body)
}

/// An events page as the reference writes it (alone, or one per identity of a POST); the events
/// go out as the engine wrote them. Fields in the order a JSON object of them is written in, as
/// everywhere else.
#[derive(serde::Serialize)]
struct EventsBody {
    #[serde(rename = "_links")]
    links: Value,
    #[serde(rename = "_page")]
    page: Value,
    children: Vec<Box<serde_json::value::RawValue>>,
}

/// A 200 answer of `body` written as JSON.
fn encoded(body: &impl serde::Serialize) -> ApiResult<Response> {
    let bytes =
        serde_json::to_vec(body).map_err(|error| ApiError::from(engine::Error::internal(error)))?;
    Ok(json_bytes(StatusCode::OK, bytes))
}

fn wrong_type(pointer: &str, expected: &str, found: &Value) -> ApiError {
    ApiError::new(
        Code::InvalidParameter,
        format!("{pointer}: expected {expected}, found {}", shown(found)),
    )
}

/// The string at `pointer` of a POST body; absent and `null` are `None`.
fn body_string<'a>(body: &'a Value, pointer: &str) -> ApiResult<Option<&'a str>> {
    match body.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(wrong_type(pointer, "a string", other)),
    }
}

/// An epoch-milliseconds integer at `pointer` of a POST body; absent and `null` are `None`.
fn body_epoch_ms(body: &Value, pointer: &str) -> ApiResult<Option<i64>> {
    match body.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong_type(pointer, "an integer (epoch milliseconds)", value)),
    }
}

/// The options of a POST lookup body, checked for type and range.
struct BodyOptions {
    fields: Vec<String>,
    merge_policy_id: Option<String>,
    with_computed: bool,
    descending: bool,
    limit: usize,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
}

fn body_options(body: &Value) -> ApiResult<BodyOptions> {
    let fields = match body.get("fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(path) => Ok(path.clone()),
                other => Err(wrong_type(
                    &format!("/fields/{i}"),
                    "a string (an XDM path such as \"person.name\")",
                    other,
                )),
            })
            .collect::<ApiResult<_>>()?,
        Some(other) => return Err(wrong_type("/fields", "an array of XDM paths", other)),
    };
    let merge_policy_id = body_string(body, "/mergePolicyId")?.map(str::to_owned);
    let descending = parse_order(body_string(body, "/orderby")?, "/orderby")?;
    let limit = match body.get("limit") {
        None | Some(Value::Null) => DEFAULT_EVENT_LIMIT,
        Some(value) => match value.as_u64() {
            Some(n) => parse_limit(Some(n), "/limit")?,
            None => {
                return Err(wrong_type(
                    "/limit",
                    &format!("an integer from 1 to {DEFAULT_EVENT_LIMIT}"),
                    value,
                ))
            }
        },
    };
    match body.get("timeFilter") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(other) => {
            return Err(wrong_type(
                "/timeFilter",
                "an object with startTime and endTime (epoch milliseconds)",
                other,
            ))
        }
    }
    let start_ms = body_epoch_ms(body, "/timeFilter/startTime")?;
    let end_ms = body_epoch_ms(body, "/timeFilter/endTime")?;
    check_window(
        start_ms,
        end_ms,
        "/timeFilter/startTime",
        "/timeFilter/endTime",
    )?;
    let with_computed = match body.get("withCA") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(with)) => *with,
        Some(other) => return Err(wrong_type("/withCA", "true or false", other)),
    };
    Ok(BodyOptions {
        fields,
        merge_policy_id,
        with_computed,
        descending,
        limit,
        start_ms,
        end_ms,
    })
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
    if !item.is_object() {
        return Err(wrong_type(
            &format!("/identities/{index}"),
            &format!("an object with {id_key} and {ns_key}"),
            item,
        ));
    }
    let Some(entity_id) = item.get(id_key).and_then(Value::as_str) else {
        return Err(ApiError::new(
            Code::InvalidParameter,
            format!("/identities/{index}/{id_key}: expected a string"),
        ));
    };
    let namespace = match item.get(ns_key) {
        None | Some(Value::Null) => None,
        Some(Value::String(code)) => Some(code.as_str()),
        Some(Value::Object(object)) => match object.get("code") {
            Some(Value::String(code)) => Some(code.as_str()),
            other => {
                return Err(wrong_type(
                    &format!("/identities/{index}/{ns_key}/code"),
                    "a namespace code string",
                    other.unwrap_or(&Value::Null),
                ))
            }
        },
        Some(other) => {
            return Err(wrong_type(
                &format!("/identities/{index}/{ns_key}"),
                "{\"code\": <namespace code>} or a namespace code string",
                other,
            ))
        }
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
    Authorized {
        sandbox, caller, ..
    }: Authorized<ProfilesRead>,
    events_read: Permit<EventsRead>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let schema_name = body_string(&body, "/schema/name")?.ok_or_else(|| {
        ApiError::new(
            Code::MissingParameter,
            "/schema/name: required, such as \"_xdm.context.profile\"",
        )
    })?;
    let class = schema_class(schema_name, "/schema/name")?;
    if class == Class::ExperienceEvent {
        slip.action(EVENTS_LOOKUP);
        events_read.require()?;
    }
    let identities = match body.get("identities") {
        Some(Value::Array(identities)) => identities,
        None | Some(Value::Null) => {
            return Err(ApiError::new(
                Code::MissingParameter,
                "/identities: required, an array of identities to look up",
            ))
        }
        Some(other) => {
            return Err(wrong_type(
                "/identities",
                "an array of identities to look up",
                other,
            ))
        }
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
    let options = body_options(&body)?;
    let catalog = state.engine.sandbox(&sandbox)?;
    let redaction = caller.redaction(&catalog);
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
                fields: options.fields,
                merge_policy_id: options.merge_policy_id,
                with_computed: options.with_computed,
            };
            slip.fields(&request.fields);
            check_readable(&request.fields, "/fields", |p| {
                redaction.profile_path_denied(p)
            })?;
            let engine = state.engine.clone();
            let found = super::blocking(move || {
                let entities: Vec<EntityRef> = requested.iter().map(|(_, e)| e.clone()).collect();
                let results = engine.profiles(&sandbox, &entities, &request, &redaction)?;
                Ok(requested.into_iter().zip(results).collect::<Vec<_>>())
            })
            .await?;
            // Keyed as a JSON object of them is written (in key order); each profile's item
            // goes out as the engine prepared it, as a single lookup's does.
            let mut out: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
            for ((label, _), result) in found {
                match result {
                    Some((profile_id, item)) => {
                        slip.profile(profile_id.0);
                        out.insert(profile_id.to_string(), item);
                    }
                    None => {
                        if let std::collections::btree_map::Entry::Vacant(slot) = out.entry(label) {
                            let missing = json!({"entityId": slot.key(), "sources": [""], "entity": {}, "lastModifiedAt": "1970-01-01T00:00:00Z"});
                            slot.insert(missing.to_string().into_bytes());
                        }
                    }
                }
            }
            let mut body = Vec::with_capacity(out.values().map(|item| item.len() + 24).sum());
            body.push(b'{');
            for (i, (key, item)) in out.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(Value::from(key.as_str()).to_string().as_bytes());
                body.push(b':');
                body.extend_from_slice(item);
            }
            body.push(b'}');
            Ok(json_bytes(StatusCode::OK, body))
        }
        Class::ExperienceEvent => {
            if let Some(related) = body_string(&body, "/relatedSchema/name")? {
                if schema_class(related, "/relatedSchema/name")? != Class::Profile {
                    return Err(ApiError::new(
                        Code::InvalidParameter,
                        "/relatedSchema/name: events belong to _xdm.context.profile",
                    ));
                }
            }
            check_readable(&options.fields, "/fields", |p| {
                redaction.event_path_denied(p)
            })?;
            let limit = options.limit;
            let total = identities.len().saturating_mul(limit);
            if total > MAX_BATCH_EVENTS {
                let most_identities = MAX_BATCH_EVENTS / limit;
                let most_limit = MAX_BATCH_EVENTS / identities.len();
                return Err(ApiError::new(
                    Code::TooManyItems,
                    format!(
                        "/identities: {} identities × limit {limit} is {total} events, more than the {MAX_BATCH_EVENTS} one request may ask for; send at most {most_identities} identities per request with this limit, or set /limit to at most {most_limit} for {} identities",
                        identities.len(),
                        identities.len()
                    ),
                ));
            }
            let mut lookups = Vec::with_capacity(identities.len());
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
                let pointer = format!("/identities/{index}/start");
                let after = match body_string(&body, &pointer)?.filter(|c| !c.is_empty()) {
                    Some(cursor) => Some(parse_cursor(cursor, &pointer)?),
                    None => None,
                };
                lookups.push((label, entity, item.clone(), after));
            }
            // A next page is fetched by posting the same body for that one identity; the other
            // identities are left out of the template so each payload stays small.
            let mut template = body.clone();
            template["identities"] = json!([]);
            let query = EventQuery {
                start_ms: options.start_ms,
                end_ms: options.end_ms,
                descending: options.descending,
                limit,
                filters: Vec::new(),
                after: None,
                fields: options.fields,
                merge_policy_id: options.merge_policy_id,
                projection: None,
            };
            let engine = state.engine.clone();
            let events_slip = slip.clone();
            let out = super::blocking(move || {
                let mut out = std::collections::BTreeMap::new();
                for (label, entity, mut identity, after) in lookups {
                    let query = EventQuery {
                        after,
                        ..query.clone()
                    };
                    let (children, next) = match engine.events(&sandbox, &entity, &query, &redaction)? {
                        Some(page) => {
                            events_slip.profile(page.profile_id.0);
                            (page.children, page.next.map(encode_cursor))
                        }
                        None => (Vec::new(), None),
                    };
                    let links = match &next {
                        Some(cursor) => {
                            let mut payload = template.clone();
                            identity["start"] = json!(cursor);
                            payload["identities"] = json!([identity]);
                            json!({"next": {"href": "/entities", "payload": payload}})
                        }
                        None => json!({"next": {"href": ""}}),
                    };
                    out.insert(label, EventsBody {
                        links,
                        page: json!({"orderby": if query.descending { "-timestamp" } else { "timestamp" }, "count": children.len(), "next": next.clone().unwrap_or_default()}),
                        children,
                    });
                }
                Ok(out)
            })
            .await?;
            encoded(&out)
        }
    }
}

async fn delete_entity(
    Authorized { sandbox, .. }: Authorized<ProfilesDelete>,
    State(state): State<Arc<AppState>>,
    slip: AuditSlip,
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
    note_entity(&slip, &entity);
    let Some((profile_id, _)) = state.engine.graph(&sandbox, &entity)? else {
        return Err(not_found(&entity));
    };
    slip.profile(profile_id.0);
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
    // An empty body, so no content type.
    Ok(StatusCode::ACCEPTED.into_response())
}
