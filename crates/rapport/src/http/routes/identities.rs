//! The Identity Service (`/data/core/identity/...`): XIDs, cluster members, mappings, and
//! Rapport's graph explanation (every link with its time and source, and what the rules removed).

use super::table::Route;
use crate::http::auth::{Authorized, IdentitiesRead};
use axum::http::Method;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use engine::identity::graph::{Graph, RemovalReason};
use engine::identity::xid;
use engine::{EntityRef, IdentityKey, Redaction, SandboxCatalog};
use rapport_types::{Code, SandboxName};
use serde_json::{json, Value};

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{shown, JsonBody, QueryPairs};
use crate::state::AppState;

/// The most identities one batch call may carry, as the reference.
const MAX_BATCH: usize = 1000;

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, "/data/core/identity/identity", get_xid)
            .audited("identity.lookup"),
        Route::keyed(
            Method::GET,
            "/data/core/identity/cluster/members",
            cluster_members,
        )
        .audited("identity.lookup"),
        Route::keyed(
            Method::POST,
            "/data/core/identity/clusters/members",
            clusters_members,
        )
        .audited("identity.lookup"),
        Route::keyed(Method::GET, "/data/core/identity/mapping", mapping)
            .audited("identity.lookup"),
        Route::keyed(Method::POST, "/data/core/identity/mappings", mappings)
            .audited("identity.lookup"),
        Route::keyed(Method::GET, "/data/core/identity/graph", explain_graph)
            .audited("identity.lookup"),
    ]
}

/// Resolves `ns`/`namespace`/`nsId` + `id`, or `xid`, from a query.
fn query_identity(catalog: &SandboxCatalog, query: &QueryPairs) -> ApiResult<IdentityKey> {
    if let Some(text) = query.get("xid").filter(|x| !x.is_empty()) {
        return decode_xid(catalog, text, "xid");
    }
    let id = query.require("id")?;
    let namespace = if let Some(ns_id) = query.parse::<u32>("nsId", "a numeric namespace id")? {
        catalog.namespace_by_id(ns_id).ok_or_else(|| {
            ApiError::new(
                Code::NamespaceNotFound,
                format!("nsId: no namespace with id {ns_id}"),
            )
        })?
    } else {
        let code = query
            .get("ns")
            .or(query.get("namespace"))
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    Code::MissingParameter,
                    "ns: give the namespace as ns (code), nsId (number), or pass xid instead of id",
                )
            })?;
        catalog.namespace(code).ok_or_else(|| {
            ApiError::new(
                Code::NamespaceNotFound,
                format!("ns: no namespace \"{code}\" exists in this sandbox"),
            )
        })?
    };
    Ok(IdentityKey::new(namespace.code.clone(), id))
}

fn decode_xid(catalog: &SandboxCatalog, text: &str, pointer: &str) -> ApiResult<IdentityKey> {
    let identity = xid::decode(text).ok_or_else(|| {
        ApiError::new(
            Code::InvalidParameter,
            format!("{pointer}: \"{text}\" is not an XID this server issued"),
        )
    })?;
    let namespace = catalog.namespace(&identity.namespace).ok_or_else(|| {
        ApiError::new(
            Code::NamespaceNotFound,
            format!("{pointer}: the XID's namespace no longer exists"),
        )
    })?;
    Ok(IdentityKey::new(namespace.code.clone(), identity.value))
}

fn composite(catalog: &SandboxCatalog, identity: &IdentityKey, redaction: &Redaction) -> Value {
    let nsid = catalog
        .namespace(&identity.namespace)
        .map(|n| n.id)
        .unwrap_or(0);
    match masked(redaction, &identity.namespace) {
        true => json!({"nsid": nsid, "id": null, "masked": true}),
        false => json!({"nsid": nsid, "id": identity.value}),
    }
}

/// Whether the values of `namespace` are hidden from the caller (their role lacks a label of
/// `identityMap.<namespace>`): such values are answered as `null` with `"masked": true`.
fn masked(redaction: &Redaction, namespace: &str) -> bool {
    redaction.namespace_masked(namespace)
}

/// An XID, or `null` when its namespace is masked (an XID encodes the value).
fn shown_xid(redaction: &Redaction, identity: &IdentityKey) -> Value {
    match masked(redaction, &identity.namespace) {
        true => Value::Null,
        false => Value::String(xid::encode(identity)),
    }
}

/// An identity as the caller may see it: `{"namespace", "id"}`, the id hidden when masked.
fn shown_identity(redaction: &Redaction, identity: &IdentityKey) -> Value {
    match masked(redaction, &identity.namespace) {
        true => json!({"namespace": identity.namespace, "id": null, "masked": true}),
        false => json!({"namespace": identity.namespace, "id": identity.value}),
    }
}

/// Members of the identity's graph; an identity never seen is a cluster of itself.
fn members(
    state: &AppState,
    sandbox: &SandboxName,
    identity: &IdentityKey,
) -> ApiResult<(Option<Graph>, Vec<IdentityKey>)> {
    match state
        .engine
        .graph(sandbox, &EntityRef::Identity(identity.clone()))?
    {
        Some((_, graph)) => {
            let keys = graph.nodes.iter().map(|n| n.identity.clone()).collect();
            Ok((Some(graph), keys))
        }
        None => Ok((None, vec![identity.clone()])),
    }
}

async fn get_xid(
    Authorized { sandbox, .. }: Authorized<IdentitiesRead>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let identity = query_identity(&catalog, &query)?;
    Ok(json(
        StatusCode::OK,
        &json!({"xid": xid::encode(&identity)}),
    ))
}

fn cluster(
    catalog: &SandboxCatalog,
    identity: &IdentityKey,
    keys: &[IdentityKey],
    redaction: &Redaction,
) -> Value {
    json!({
        "xid": shown_xid(redaction, identity),
        "compositeXid": composite(catalog, identity, redaction),
        "members": keys.iter().map(|k| composite(catalog, k, redaction)).collect::<Vec<_>>(),
    })
}

async fn cluster_members(
    Authorized {
        sandbox, caller, ..
    }: Authorized<IdentitiesRead>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let redaction = caller.redaction(&catalog);
    let identity = query_identity(&catalog, &query)?;
    let keys = if query.get("graph-type") == Some("None") {
        vec![identity.clone()]
    } else {
        members(&state, &sandbox, &identity)?.1
    };
    Ok(json(
        StatusCode::OK,
        &json!({"unprocessedXids": [], "unprocessedNids": [], "version": "1.0.0", "clusters": [cluster(&catalog, &identity, &keys, &redaction)]}),
    ))
}

/// A numeric namespace id at `pointer`: an integer from 0 to 4294967295 (`u32`), or, when
/// `numeric_text` allows, a string of such an integer.
fn namespace_id(value: Option<&Value>, pointer: &str, numeric_text: bool) -> ApiResult<u32> {
    let id = match value {
        Some(Value::Number(number)) => number.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(Value::String(text)) if numeric_text => text.trim().parse::<u32>().ok(),
        _ => None,
    };
    id.ok_or_else(|| {
        ApiError::new(
            Code::InvalidParameter,
            format!(
                "{pointer}: expected a namespace id, an integer from 0 to {}, found {}",
                u32::MAX,
                value.map_or_else(|| "nothing".to_owned(), shown)
            ),
        )
    })
}

/// The identities of a batch body: `xids` or `compositeXids`.
fn body_identities(catalog: &SandboxCatalog, body: &Value) -> ApiResult<Vec<IdentityKey>> {
    let mut identities = Vec::new();
    if let Some(xids) = body.get("xids").and_then(Value::as_array) {
        for (i, item) in xids.iter().enumerate() {
            let text = item.as_str().ok_or_else(|| {
                ApiError::new(
                    Code::InvalidParameter,
                    format!("/xids/{i}: expected a string"),
                )
            })?;
            identities.push(decode_xid(catalog, text, &format!("/xids/{i}"))?);
        }
    }
    if let Some(composites) = body.get("compositeXids").and_then(Value::as_array) {
        for (i, item) in composites.iter().enumerate() {
            let nsid = namespace_id(item.get("nsid"), &format!("/compositeXids/{i}/nsid"), false)?;
            let id = item.get("id").and_then(Value::as_str).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidParameter,
                    format!("/compositeXids/{i}/id: expected a string"),
                )
            })?;
            let namespace = catalog.namespace_by_id(nsid).ok_or_else(|| {
                ApiError::new(
                    Code::NamespaceNotFound,
                    format!("/compositeXids/{i}/nsid: no namespace with id {nsid}"),
                )
            })?;
            identities.push(IdentityKey::new(namespace.code.clone(), id));
        }
    }
    if identities.is_empty() {
        return Err(ApiError::new(
            Code::MissingParameter,
            "/xids: give \"xids\" or \"compositeXids\" with at least one identity",
        ));
    }
    if identities.len() > MAX_BATCH {
        return Err(ApiError::new(
            Code::TooManyItems,
            format!(
                "/xids: at most {MAX_BATCH} identities per request, found {}",
                identities.len()
            ),
        ));
    }
    Ok(identities)
}

async fn clusters_members(
    Authorized {
        sandbox, caller, ..
    }: Authorized<IdentitiesRead>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let redaction = caller.redaction(&catalog);
    let stitched = body.get("graph-type").and_then(Value::as_str) != Some("None");
    let mut clusters = Vec::new();
    for identity in body_identities(&catalog, &body)? {
        let keys = if stitched {
            members(&state, &sandbox, &identity)?.1
        } else {
            vec![identity.clone()]
        };
        clusters.push(cluster(&catalog, &identity, &keys, &redaction));
    }
    Ok(json(
        StatusCode::OK,
        &json!({"unprocessedXids": [], "unprocessedNids": [], "version": "1.0.0", "clusters": clusters}),
    ))
}

fn mapping_entry(
    state: &AppState,
    sandbox: &SandboxName,
    catalog: &SandboxCatalog,
    identity: &IdentityKey,
    target: Option<u32>,
    redaction: &Redaction,
) -> ApiResult<Value> {
    let (graph, _) = members(state, sandbox, identity)?;
    let mapped: Vec<Value> = graph
        .iter()
        .flat_map(|g| g.nodes.iter())
        .filter(|n| n.identity != *identity)
        .filter(|n| target.is_none_or(|t| catalog.namespace(&n.identity.namespace).map(|ns| ns.id) == Some(t)))
        .map(|n| json!({"xid": shown_xid(redaction, &n.identity), "compositeXid": composite(catalog, &n.identity, redaction), "lastAssociationTime": n.last_seen_ms.to_string()}))
        .collect();
    Ok(
        json!({"xid": shown_xid(redaction, identity), "compositeXid": composite(catalog, identity, redaction), "mapping": mapped}),
    )
}

async fn mapping(
    Authorized {
        sandbox, caller, ..
    }: Authorized<IdentitiesRead>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let identity = query_identity(&catalog, &query)?;
    let target = query.parse::<u32>("targetNs", "a numeric namespace id")?;
    let redaction = caller.redaction(&catalog);
    let entry = mapping_entry(&state, &sandbox, &catalog, &identity, target, &redaction)?;
    Ok(json(
        StatusCode::OK,
        &json!({"version": 1, "mappings": [entry], "unprocessedXids": [], "unprocessedNids": []}),
    ))
}

async fn mappings(
    Authorized {
        sandbox, caller, ..
    }: Authorized<IdentitiesRead>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    // A number, or a numeric string as some clients send it.
    let target = match body.get("targetNs") {
        None | Some(Value::Null) => None,
        given => Some(namespace_id(given, "/targetNs", true)?),
    };
    let redaction = caller.redaction(&catalog);
    let mut entries = Vec::new();
    for identity in body_identities(&catalog, &body)? {
        entries.push(mapping_entry(
            &state, &sandbox, &catalog, &identity, target, &redaction,
        )?);
    }
    if entries
        .iter()
        .all(|e| e["mapping"].as_array().is_some_and(Vec::is_empty))
    {
        // No mapping at all: 204 with an empty body, so no content type.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(json(
        StatusCode::OK,
        &json!({"version": 1, "mappings": entries, "unprocessedXids": [], "unprocessedNids": []}),
    ))
}

fn explain_reason(reason: &RemovalReason) -> String {
    match reason {
        RemovalReason::UniqueNamespace { namespace, kept, refused } => format!(
            "{namespace} is unique in a graph: the more recent link to {namespace} {kept} won, so the link to {namespace} {refused} was removed"
        ),
        RemovalReason::GraphLimit { limit } => format!("the graph reached its limit of {limit} identities, so its oldest least-specific identities were unlinked"),
    }
}

/// Rapport's extension: the whole graph of an identity with where each link came from. Values of
/// namespaces the caller may not see are masked, and so are the reasons that would name them.
async fn explain_graph(
    Authorized {
        sandbox, caller, ..
    }: Authorized<IdentitiesRead>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let redaction = caller.redaction(&catalog);
    let shown = |identity: &IdentityKey| shown_identity(&redaction, identity);
    let with = |mut base: Value, extra: Value| {
        if let (Some(object), Value::Object(extra)) = (base.as_object_mut(), extra) {
            object.extend(extra);
        }
        base
    };
    let identity = query_identity(&catalog, &query)?;
    let Some((profile_id, graph)) = state
        .engine
        .graph(&sandbox, &EntityRef::Identity(identity.clone()))?
    else {
        return Err(ApiError::new(
            Code::IdentityNotFound,
            format!(
                "identity {} (namespace {}) is in no graph of this sandbox",
                identity.value, identity.namespace
            ),
        ));
    };
    let time = |ms: i64| engine::time::format_rfc3339_ms(ms, true);
    let body = json!({
        "profileId": profile_id.to_string(),
        "identities": graph.nodes.iter().map(|n| with(shown(&n.identity), json!({"firstSeen": time(n.first_seen_ms), "lastSeen": time(n.last_seen_ms), "dataset": n.source.dataset, "record": n.source.record}))).collect::<Vec<_>>(),
        "links": graph.edges.iter().map(|e| json!({"from": shown(&e.a), "to": shown(&e.b), "firstSeen": time(e.first_seen_ms), "lastSeen": time(e.last_seen_ms), "dataset": e.source.dataset, "record": e.source.record})).collect::<Vec<_>>(),
        "removedLinks": graph.removed.iter().map(|r| {
            let hidden = masked(&redaction, &r.a.namespace) || masked(&redaction, &r.b.namespace);
            let reason = match hidden {
                true => "removed by the identity graph's rules (the identities involved are hidden from this caller)".to_owned(),
                false => explain_reason(&r.reason),
            };
            json!({"from": shown(&r.a), "to": shown(&r.b), "removedAt": time(r.removed_at_ms), "dataset": r.source.dataset, "record": r.source.record, "reason": reason})
        }).collect::<Vec<_>>(),
        "refusedIdentities": graph.refused.iter().map(|r| {
            let reason = match masked(&redaction, &r.identity.namespace) {
                true => "refused by the identity graph's rules (the identity is hidden from this caller)".to_owned(),
                false => r.reason.describe().to_string(),
            };
            with(shown(&r.identity), json!({"refusedAt": time(r.refused_at_ms), "dataset": r.source.dataset, "reason": reason}))
        }).collect::<Vec<_>>(),
    });
    Ok(json(StatusCode::OK, &body))
}
