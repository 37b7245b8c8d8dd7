//! The Catalog's datasets (`/data/foundation/catalog/dataSets`).

use super::table::Route;
use crate::http::auth::{Authorized, SchemasRead, SchemasWrite};
use axum::http::Method;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use rapport_types::Code;
use serde_json::{json, Map, Value};

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::JsonBody;
use crate::state::AppState;

pub fn routes() -> Vec<Route> {
    vec![
        Route::keyed(Method::GET, "/data/foundation/catalog/dataSets", list),
        Route::keyed(Method::POST, "/data/foundation/catalog/dataSets", create),
        Route::keyed(
            Method::GET,
            "/data/foundation/catalog/dataSets/{id}",
            get_one,
        ),
        Route::keyed(
            Method::PATCH,
            "/data/foundation/catalog/dataSets/{id}",
            patch,
        ),
        Route::keyed(
            Method::DELETE,
            "/data/foundation/catalog/dataSets/{id}",
            delete,
        ),
    ]
}

async fn list(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
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
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let dataset = state.engine.create_dataset(&sandbox, &body)?;
    Ok(json(
        StatusCode::CREATED,
        &json!([format!("@/dataSets/{}", dataset.id)]),
    ))
}

async fn get_one(
    Authorized { sandbox, .. }: Authorized<SchemasRead>,
    State(state): State<Arc<AppState>>,
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
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
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
    Authorized { sandbox, .. }: Authorized<SchemasWrite>,
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    state.engine.delete_dataset(&sandbox, &id)?;
    Ok(json(StatusCode::OK, &json!([format!("@/dataSets/{id}")])))
}
