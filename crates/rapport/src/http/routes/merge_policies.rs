//! Merge policies (`/data/core/ups/config/mergePolicies`).

use super::table::Route;
use crate::http::auth::{Authorized, SchemasRead, SchemasWrite};
use axum::http::Method;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use engine::catalog::{AttributeMerge, IdentityGraphType};
use rapport_types::Code;
use serde_json::{json, Map, Value};

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, QueryPairs};
use crate::state::AppState;

const ROOT: &str = "/data/core/ups/config/mergePolicies";
/// Policies per list page when `limit` is not given, and the most a page may hold.
const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 1000;
/// The list filters, kept in `_links.next.href`.
const FILTERS: [&str; 5] = [
    "default",
    "isActiveOnEdge",
    "schema.name",
    "identityGraph.type",
    "attributeMerge.type",
];

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, ROOT, list),
        Route::keyed(Method::POST, ROOT, create),
        Route::keyed(Method::POST, format!("{ROOT}/bulk-get"), bulk_get),
        Route::keyed(Method::GET, format!("{ROOT}/{{id}}"), get_one),
        Route::keyed(Method::PUT, format!("{ROOT}/{{id}}"), replace),
        Route::keyed(Method::PATCH, format!("{ROOT}/{{id}}"), patch),
        Route::keyed(Method::DELETE, format!("{ROOT}/{{id}}"), delete),
    ]
}

async fn list(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let limit: u64 = query
        .parse("limit", "an integer from 1 to 1000")?
        .unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            Code::InvalidParameter,
            format!("limit: {limit} is outside 1..={MAX_LIMIT}"),
        ));
    }
    let start: u64 = query
        .parse("start", "a cursor from _links.next")?
        .unwrap_or(0);
    let flag = |name: &str| -> ApiResult<Option<bool>> { query.parse(name, "true or false") };
    let (default, on_edge) = (flag("default")?, flag("isActiveOnEdge")?);
    let mut policies: Vec<_> = catalog
        .merge_policies
        .values()
        .filter(|p| default.is_none_or(|d| p.default == d))
        .filter(|p| on_edge.is_none_or(|e| p.is_active_on_edge == e))
        .filter(|p| query.get("schema.name").is_none_or(|s| p.schema_name == s))
        .filter(|p| {
            query.get("identityGraph.type").is_none_or(|t| {
                matches!(
                    (t, p.identity_graph),
                    ("none", IdentityGraphType::None) | ("pdg", IdentityGraphType::Pdg)
                )
            })
        })
        .filter(|p| {
            query.get("attributeMerge.type").is_none_or(|t| {
                matches!(
                    (t, &p.attribute_merge),
                    ("timestampOrdered", AttributeMerge::TimestampOrdered)
                        | (
                            "dataSetPrecedence",
                            AttributeMerge::DataSetPrecedence { .. }
                        )
                )
            })
        })
        .collect();
    match query.get("orderBy").unwrap_or("name") {
        "-name" => policies.sort_by(|a, b| b.name.cmp(&a.name)),
        "name" | "+name" | "" => policies.sort_by(|a, b| a.name.cmp(&b.name)),
        other => {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("orderBy: \"{other}\" is not name, +name or -name"),
            ))
        }
    }
    let total = policies.len();
    let page: Vec<Value> = policies
        .iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|p| p.to_json(sandbox.as_str()))
        .collect();
    let next_start = start.saturating_add(limit);
    let next = if next_start < total as u64 {
        // The next page is the same list further on: every filter stays in the link.
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        serializer
            .append_pair("start", &next_start.to_string())
            .append_pair("orderBy", query.get("orderBy").unwrap_or(""))
            .append_pair("limit", &limit.to_string());
        for name in FILTERS {
            if let Some(value) = query.get(name) {
                serializer.append_pair(name, value);
            }
        }
        format!("@/mergePolicies?{}", serializer.finish())
    } else {
        String::new()
    };
    Ok(json(
        StatusCode::OK,
        &json!({"_page": {"totalCount": total, "pageSize": page.len()}, "children": page, "_links": {"next": {"href": next}}}),
    ))
}

async fn create(
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let policy = state.engine.create_merge_policy(&sandbox, &body)?;
    Ok(json(StatusCode::OK, &policy.to_json(sandbox.as_str())))
}

async fn bulk_get(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let ids = super::bulk_ids(&body, MAX_LIMIT as usize)?;
    let catalog = state.engine.sandbox(&sandbox)?;
    let mut results = Map::new();
    for id in ids {
        let value = match catalog.merge_policy(&id) {
            Some(policy) => policy.to_json(sandbox.as_str()),
            None => ApiError::new(
                Code::MergePolicyNotFound,
                format!("no merge policy \"{id}\" exists in this sandbox"),
            )
            .body(),
        };
        results.insert(id, value);
    }
    Ok(json(StatusCode::MULTI_STATUS, &json!({"results": results})))
}

async fn get_one(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let policy = catalog.merge_policy(&id).ok_or_else(|| {
        ApiError::new(
            Code::MergePolicyNotFound,
            format!("no merge policy \"{id}\" exists in this sandbox"),
        )
    })?;
    Ok(json(StatusCode::OK, &policy.to_json(sandbox.as_str())))
}

async fn replace(
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let policy = state.engine.replace_merge_policy(&sandbox, &id, &body)?;
    Ok(json(StatusCode::OK, &policy.to_json(sandbox.as_str())))
}

async fn patch(
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let policy = state.engine.patch_merge_policy(&sandbox, &id, &body)?;
    Ok(json(StatusCode::OK, &policy.to_json(sandbox.as_str())))
}

async fn delete(
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.engine.delete_merge_policy(&sandbox, &id)?;
    // An empty body, so no content type.
    Ok(StatusCode::OK.into_response())
}
