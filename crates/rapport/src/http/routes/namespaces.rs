//! Identity namespaces (`/data/core/idnamespace/identities`).

use super::table::Route;
use crate::http::auth::{Authorized, SchemasRead, SchemasWrite};
use axum::http::Method;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use rapport_types::Code;
use serde_json::Value;

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::state::AppState;

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, "/data/core/idnamespace/identities", list),
        Route::keyed(Method::POST, "/data/core/idnamespace/identities", create),
        Route::keyed(
            Method::GET,
            "/data/core/idnamespace/identities/{id}",
            get_one,
        ),
        Route::keyed(
            Method::PUT,
            "/data/core/idnamespace/identities/{id}",
            update,
        ),
    ]
}

async fn list(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let mut namespaces: Vec<_> = catalog.namespaces.values().collect();
    namespaces.sort_by_key(|n| n.id);
    Ok(json(
        StatusCode::OK,
        &Value::Array(namespaces.into_iter().map(|n| n.to_json()).collect()),
    ))
}

async fn create(
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let namespace = state.engine.create_namespace(&sandbox, &body)?;
    Ok(json(StatusCode::OK, &namespace.to_json()))
}

async fn get_one(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let namespace = id
        .parse::<u32>()
        .ok()
        .and_then(|n| catalog.namespace_by_id(n))
        .or_else(|| catalog.namespace(&id))
        .ok_or_else(|| {
            ApiError::new(
                Code::NamespaceNotFound,
                format!("no namespace \"{id}\" exists in this sandbox"),
            )
        })?;
    Ok(json(StatusCode::OK, &namespace.to_json()))
}

async fn update(
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let namespace = state.engine.update_namespace(&sandbox, &id, &body)?;
    Ok(json(StatusCode::OK, &namespace.to_json()))
}
