//! Health, and the benchmark floor: a trivial endpoint returning a body of a chosen size.

use super::table::Route;
use crate::http::auth::{Authorized, ProfilesRead};
use axum::http::Method;

use axum::http::StatusCode;
use axum::response::Response;
use rapport_types::Code;
use serde_json::json;

use super::json;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::QueryPairs;

pub fn routes() -> Vec<Route> {
    vec![
        Route::public(Method::GET, "/health", health),
        Route::keyed(Method::GET, "/health/floor", floor),
        Route::keyed(Method::POST, "/health/floor", floor),
    ]
}

async fn health() -> Response {
    json(
        StatusCode::OK,
        &json!({"status": "ok", "service": "rapport", "version": env!("CARGO_PKG_VERSION")}),
    )
}

/// Returns `bytes` bytes of JSON and does nothing else: the floor a lookup is measured against.
/// A POST's body is read whole and dropped, as a batch lookup's would be read.
async fn floor(
    _: Authorized<ProfilesRead>,
    query: QueryPairs,
    _body: axum::body::Bytes,
) -> ApiResult<Response> {
    let size: usize = query
        .parse("bytes", "a byte count from 16 to 1048576")?
        .unwrap_or(1024);
    if !(16..=1 << 20).contains(&size) {
        return Err(ApiError::new(
            Code::InvalidParameter,
            "bytes: expected a byte count from 16 to 1048576",
        ));
    }
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(b"{\"floor\":\"");
    body.resize(size - 2, b'x');
    body.extend_from_slice(b"\"}");
    Ok(super::json_bytes(StatusCode::OK, body))
}
