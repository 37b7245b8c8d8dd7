//! Route modules, one per resource, assembled into one router.

mod batches;
mod collection;
mod computed;
mod datasets;
mod entities;
mod fields;
mod health;
mod identities;
mod keys;
mod merge_policies;
mod metrics;
mod models;
mod namespaces;
mod privacy;
mod schemas;
mod segments;
pub mod table;
mod users;

use std::sync::Arc;

use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use engine::{Job, PreparedWrite};
use rapport_types::{Code, ProfileId};
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The router of every API route ([`table::table`]), each limited to `timeout`.
pub fn router(timeout: std::time::Duration) -> Router<Arc<AppState>> {
    table::router(table::table(), timeout)
}

pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Code::RouteNotFound,
        format!(
            "{method} {}: no such route; see the API reference in README.md",
            uri.path()
        ),
    )
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// A JSON response from bytes that are already encoded.
/// The ids of a `bulk-get` body (`{"ids": [{"id": ...}, ...]}`), at most `max` of them.
pub fn bulk_ids(body: &Value, max: usize) -> ApiResult<Vec<String>> {
    let Some(items) = body.get("ids").and_then(Value::as_array) else {
        return Err(ApiError::new(
            Code::MissingParameter,
            "/ids: required, an array of {\"id\": ...}",
        ));
    };
    if items.len() > max {
        return Err(ApiError::new(
            Code::TooManyItems,
            format!("/ids: {} ids, at most {max}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item.get("id") {
            Some(Value::String(id)) => Ok(id.clone()),
            _ => Err(ApiError::new(
                Code::InvalidParameter,
                format!(
                    "/ids/{i}/id: expected a string, found {}",
                    crate::http::extract::shown(item)
                ),
            )),
        })
        .collect()
}

pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn json(status: StatusCode, value: &Value) -> Response {
    json_bytes(status, serde_json::to_vec(value).unwrap_or_default())
}

/// Runs synchronous engine work off the async workers.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::new(Code::Internal, format!("worker failed: {e}")))?
}

/// Hands prepared writes to the writer and waits for the commit that holds them.
pub async fn commit_writes(
    state: &AppState,
    writes: Vec<PreparedWrite>,
) -> ApiResult<Vec<engine::Result<Option<ProfileId>>>> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    let (sender, receiver) = tokio::sync::oneshot::channel();
    state.engine.submit(Job::Ingest {
        writes,
        reply: Box::new(move |result| {
            let _ = sender.send(result);
        }),
    })?;
    let result = receiver
        .await
        .map_err(|_| ApiError::new(Code::Unavailable, "the writer stopped before answering"))?;
    Ok(result?)
}

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    engine::catalog::now_ms()
}
