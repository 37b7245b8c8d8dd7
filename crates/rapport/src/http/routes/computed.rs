//! Computed attributes (`/data/core/ca/attributes`): create, list with paging, sorting and
//! filters, get, patch (publish a draft), delete; each with how far its backfill went.

use super::table::Route;
use crate::http::auth::{AttributesRead, AttributesWrite, Authorized};
use axum::http::Method;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use engine::computed::{definitions, ComputedAttribute, Publication};
use rapport_types::Code;
use serde_json::{json, Value};

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, QueryPairs};
use crate::state::AppState;

const ATTRIBUTES: &str = "/data/core/ca/attributes";
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 40;

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, ATTRIBUTES, list),
        Route::keyed(Method::POST, ATTRIBUTES, create),
        Route::keyed(Method::GET, format!("{ATTRIBUTES}/{{id}}"), get_one),
        Route::keyed(Method::PATCH, format!("{ATTRIBUTES}/{{id}}"), patch),
        Route::keyed(Method::DELETE, format!("{ATTRIBUTES}/{{id}}"), delete),
    ]
}

async fn list(
    Authorized { sandbox, .. }: Authorized<AttributesRead>,
    State(state): State<Arc<AppState>>,
    query: QueryPairs,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let limit: usize = query
        .parse("limit", "an integer from 1 to 40")?
        .unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            Code::InvalidParameter,
            format!("limit: {limit} is outside 1..={MAX_LIMIT}"),
        ));
    }
    let offset: usize = query.parse("offset", "a whole number")?.unwrap_or(0);
    let sort_by = query.get("sortBy").unwrap_or("-updateEpoch");
    let (descending, field) = match sort_by.strip_prefix('-') {
        Some(field) => (true, field),
        None => (false, sort_by),
    };
    if !["name", "status", "updateEpoch", "createEpoch"].contains(&field) {
        return Err(ApiError::new(
            Code::InvalidParameter,
            format!("sortBy: \"{field}\" is not name, status, updateEpoch or createEpoch (prefix - for descending)"),
        ));
    }
    let publication = match query.get("state") {
        None => None,
        Some("published") => Some(Publication::Published),
        Some("draft") => Some(Publication::Draft),
        Some(other) => {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("state: \"{other}\" is not published or draft"),
            ))
        }
    };
    let mut items: Vec<(ComputedAttribute, Value)> = Vec::new();
    for attribute in catalog.computed.values() {
        if publication.is_some_and(|p| p != attribute.publication) {
            continue;
        }
        let value = state.engine.computed_json(&sandbox, attribute)?;
        if let Some(wanted) = query.get("status") {
            let job = value["status"]["job"].as_str().unwrap_or_default();
            if !job.eq_ignore_ascii_case(wanted) {
                continue;
            }
        }
        items.push((attribute.clone(), value));
    }
    items.sort_by(|(a, a_json), (b, b_json)| {
        let order = match field {
            "name" => a.name.cmp(&b.name),
            "status" => a_json["status"]["job"]
                .as_str()
                .cmp(&b_json["status"]["job"].as_str()),
            "createEpoch" => a.creation_ms.cmp(&b.creation_ms),
            _ => a.update_ms.cmp(&b.update_ms),
        }
        .then_with(|| a.id.cmp(&b.id));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, v)| v)
        .collect();
    let href =
        |offset: usize| json!({"href": format!("/attributes?offset={offset}&limit={limit}")});
    let mut links = json!({"self": href(offset)});
    if offset + limit < total {
        links["next"] = href(offset + limit);
    }
    if offset > 0 {
        links["prev"] = href(offset.saturating_sub(limit));
    }
    if total > 0 {
        links["last"] = href((total - 1) / limit * limit);
    }
    Ok(json(
        StatusCode::OK,
        &json!({
            "_links": links,
            "computedAttributes": page,
            "_page": {"offset": offset, "limit": limit, "count": page.len(), "totalCount": total},
        }),
    ))
}

async fn create(
    Authorized {
        sandbox, caller, ..
    }: Authorized<AttributesWrite>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let attribute = caller
        .with_clearance(|clearance| state.engine.create_computed(&sandbox, &body, clearance))?;
    Ok(json(
        StatusCode::OK,
        &state.engine.computed_json(&sandbox, &attribute)?,
    ))
}

async fn get_one(
    Authorized { sandbox, .. }: Authorized<AttributesRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let attribute = definitions::existing(&catalog, &id)?;
    Ok(json(
        StatusCode::OK,
        &state.engine.computed_json(&sandbox, &attribute)?,
    ))
}

async fn patch(
    Authorized {
        sandbox, caller, ..
    }: Authorized<AttributesWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let attribute = caller
        .with_clearance(|clearance| state.engine.patch_computed(&sandbox, &id, &body, clearance))?;
    Ok(json(
        StatusCode::OK,
        &state.engine.computed_json(&sandbox, &attribute)?,
    ))
}

async fn delete(
    Authorized { sandbox, .. }: Authorized<AttributesWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let attribute = definitions::existing(&catalog, &id)?;
    let body = state.engine.computed_json(&sandbox, &attribute)?;
    state.engine.delete_computed(&sandbox, &id)?;
    Ok(json(StatusCode::OK, &body))
}
