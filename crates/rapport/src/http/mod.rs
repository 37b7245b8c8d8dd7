//! The HTTP layer: one router for the whole API, built by `app` for `main` and the tests alike.

pub mod audit;
pub mod auth;
pub mod console;
pub mod error;
pub mod extract;
pub mod limits;
pub mod routes;
pub mod session;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;

use crate::state::AppState;

/// The whole HTTP API.
pub fn app(state: Arc<AppState>) -> Router {
    let max_payload = state.settings.max_payload_bytes;
    routes::router(state.settings.request_timeout)
        .merge(console::router())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_payload))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .with_state(state)
}
