//! Identity namespaces (`/data/core/idnamespace/identities`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use rapport_types::Code;
use serde_json::Value;

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, Sandbox};
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/data/core/idnamespace/identities", get(list).post(create))
        .route(
            "/data/core/idnamespace/identities/{id}",
            get(get_one).put(update),
        )
}

async fn list(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
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
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let namespace = state.engine.create_namespace(&sandbox, &body)?;
    Ok(json(StatusCode::OK, &namespace.to_json()))
}

async fn get_one(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
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
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let namespace = state.engine.update_namespace(&sandbox, &id, &body)?;
    Ok(json(StatusCode::OK, &namespace.to_json()))
}
