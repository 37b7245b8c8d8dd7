//! The Catalog's datasets (`/data/foundation/catalog/dataSets`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use rapport_types::Code;
use serde_json::{json, Map, Value};

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, Sandbox};
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/data/foundation/catalog/dataSets", get(list).post(create))
        .route(
            "/data/foundation/catalog/dataSets/{id}",
            get(get_one).patch(patch).delete(delete),
        )
}

async fn list(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let keyed: Map<String, Value> = catalog
        .datasets
        .values()
        .map(|d| (d.id.clone(), d.to_json()))
        .collect();
    Ok(json(StatusCode::OK, &Value::Object(keyed)))
}

async fn create(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let dataset = state.engine.create_dataset(&sandbox, &body)?;
    Ok(json(
        StatusCode::CREATED,
        &json!([format!("@/dataSets/{}", dataset.id)]),
    ))
}

async fn get_one(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let catalog = state.engine.sandbox(&sandbox)?;
    let dataset = catalog.datasets.get(&id).ok_or_else(|| {
        ApiError::new(
            Code::DatasetNotFound,
            format!("no dataset \"{id}\" exists in this sandbox"),
        )
    })?;
    Ok(json(
        StatusCode::OK,
        &json!({ dataset.id.clone(): dataset.to_json() }),
    ))
}

async fn patch(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let dataset = state.engine.patch_dataset(&sandbox, &id, &body)?;
    Ok(json(
        StatusCode::OK,
        &json!([format!("@/dataSets/{}", dataset.id)]),
    ))
}

async fn delete(
    State(state): State<Arc<AppState>>,
    Sandbox(sandbox): Sandbox,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.engine.delete_dataset(&sandbox, &id)?;
    Ok(json(StatusCode::OK, &json!([format!("@/dataSets/{id}")])))
}
